//! The header form of a passport: `x-principal-bin`.
//!
//! One codec for HTTP and gRPC alike, following the gRPC rule for `-bin`
//! metadata: written as standard base64 *without* padding, read with or
//! without padding (but not half-padded). The length is checked before
//! anything is decoded.
//!
//! ```
//! use principal_proto::header::{decode_header_value, encode_header_value};
//!
//! let value = encode_header_value(b"\x0a\x02hi");
//! assert_eq!(value, "CgJoaQ");
//! assert_eq!(decode_header_value("CgJoaQ", 64)?, b"\x0a\x02hi");
//! assert_eq!(decode_header_value("CgJoaQ==", 64)?, b"\x0a\x02hi");
//!
//! // URL-safe base64, stray characters and oversized values are refused.
//! assert_eq!(decode_header_value("Cg-_", 64).unwrap_err().reason(), "bad_base64");
//! assert_eq!(decode_header_value("CgJoaQ", 3).unwrap_err().reason(), "oversized");
//! # Ok::<(), principal_proto::PassportError>(())
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

use crate::error::PassportError;

/// The header that carries a passport between hops.
pub const HEADER_NAME: &str = "x-principal-bin";

/// The longest base64 text (padded) that can decode to at most `max_decoded` bytes.
pub const fn max_encoded_len(max_decoded: usize) -> usize {
    max_decoded.div_ceil(3).saturating_mul(4)
}

/// `bytes` as a header value: standard base64 without padding.
///
/// ```
/// use principal_proto::header::encode_header_value;
///
/// assert_eq!(encode_header_value(&[0xff, 0xee]), "/+4");
/// assert_eq!(encode_header_value(&[]), "");
/// ```
pub fn encode_header_value(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes)
}

/// The bytes of a header value: standard base64, padded or not, decoding to
/// at most `max_decoded` bytes. The length is checked before decoding, so an
/// oversized value costs nothing.
///
/// Takes `&str` or `&[u8]` (as `http::HeaderValue::as_bytes` gives).
///
/// ```
/// use principal_proto::header::decode_header_value;
///
/// assert_eq!(decode_header_value(b"/+4".as_slice(), 2)?, [0xff, 0xee]);
/// assert_eq!(decode_header_value("/+4=", 2)?, [0xff, 0xee]);
///
/// assert_eq!(decode_header_value(" /+4", 2).unwrap_err().reason(), "bad_base64");
/// assert_eq!(decode_header_value("/+4", 1).unwrap_err().reason(), "oversized");
/// # Ok::<(), principal_proto::PassportError>(())
/// ```
///
/// # Errors
/// [`PassportError::Oversized`] when the value could decode to more than
/// `max_decoded` bytes; [`PassportError::Base64`] when it is not standard base64.
pub fn decode_header_value(
    value: impl AsRef<[u8]>,
    max_decoded: usize,
) -> Result<Vec<u8>, PassportError> {
    let value = value.as_ref();
    let max_encoded = max_encoded_len(max_decoded);
    if value.len() > max_encoded {
        return Err(PassportError::Oversized {
            what: "header value",
            len: value.len(),
            max: max_encoded,
        });
    }
    // Fully padded or not padded at all: a value ending in `=` must be
    // canonically padded (`STANDARD`), any other must carry no padding
    // (`STANDARD_NO_PAD`). Both refuse non-canonical trailing bits.
    let engine = if value.last() == Some(&b'=') {
        &STANDARD
    } else {
        &STANDARD_NO_PAD
    };
    let decoded = engine.decode(value).map_err(PassportError::Base64)?;
    // A padded value within `max_encoded` may still decode to a byte or two
    // more than `max_decoded` (the last group): check the result too.
    if decoded.len() > max_decoded {
        return Err(PassportError::Oversized {
            what: "header value",
            len: decoded.len(),
            max: max_decoded,
        });
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_encoded_len_covers_padding() {
        assert_eq!(max_encoded_len(0), 0);
        assert_eq!(max_encoded_len(1), 4);
        assert_eq!(max_encoded_len(3), 4);
        assert_eq!(max_encoded_len(4), 8);
        assert_eq!(max_encoded_len(usize::MAX), usize::MAX);
    }

    #[test]
    fn decoded_length_checked_after_decoding() {
        // 4 bytes encode to 6 characters unpadded; with max 3 the limit is 4 characters.
        let error = decode_header_value("AAAAAA", 3).unwrap_err();
        assert!(matches!(
            error,
            PassportError::Oversized { len: 6, max: 4, .. }
        ));
        // "AAAA" decodes to 3 bytes; "AAA=" to 2. Both fit max 3.
        assert_eq!(decode_header_value("AAAA", 3).unwrap().len(), 3);
        // 4 characters that decode to 3 bytes do not fit max 2 even though max_encoded_len(2) = 4.
        let error = decode_header_value("AAAA", 2).unwrap_err();
        assert!(matches!(
            error,
            PassportError::Oversized { len: 3, max: 2, .. }
        ));
    }

    #[test]
    fn non_canonical_trailing_bits_are_refused() {
        // "/+4" is canonical for ff ee; "/+5" sets bits that a 2-byte value cannot carry.
        assert!(matches!(
            decode_header_value("/+5", 8),
            Err(PassportError::Base64(_))
        ));
    }
}
