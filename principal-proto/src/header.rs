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

use crate::error::{ConfigError, PassportError};

/// The header that carries a passport between hops.
pub const HEADER_NAME: &str = "x-principal-bin";

/// Default largest `x-principal-bin` value a sender writes, in bytes of base64 text
/// (4 KiB: a passport of up to 3072 bytes, signed or not).
///
/// gRPC implementations accept 8 KiB of request metadata by default (grpc-java's
/// `maxInboundMetadataSize`, gRPC core's `grpc.max_metadata_size`), counted over every
/// header of the call (name, value and 32 bytes each, as HTTP/2 counts them). Half of it
/// for the passport leaves the other half for what travels beside it: `:path`,
/// `content-type`, `te`, `user-agent`, `grpc-timeout`, `traceparent`/`tracestate`,
/// `x-request-id`, and an `authorization` token of its own when a hop carries one. A rich
/// Principal (the reference passport, signed) takes well under 1 KiB of it.
///
/// Every receiver with default [`DecodeOptions`](crate::DecodeOptions) accepts a header
/// this long in either form (it reads up to the base64 length of
/// [`DEFAULT_MAX_PASSPORT_BYTES`](crate::DEFAULT_MAX_PASSPORT_BYTES) plus
/// [`SIGNED_ENVELOPE_OVERHEAD`](crate::SIGNED_ENVELOPE_OVERHEAD)), so a sender within its
/// default limit is never refused for size by a receiver within its own.
pub const DEFAULT_MAX_HEADER_LEN: usize = 4096;

// A default sender never writes a passport a default receiver refuses for its size.
const _: () = assert!(max_encoded_len(crate::DEFAULT_MAX_PASSPORT_BYTES) >= DEFAULT_MAX_HEADER_LEN);

/// The largest sending limit [`HeaderLimit::new`] accepts: 8 KiB, the whole of the
/// metadata a default gRPC peer accepts (and the per-header line limit of common HTTP
/// proxies). A larger passport would be refused on the way whatever the sender allows.
pub const MAX_HEADER_LEN: usize = 8192;

/// The smallest sending limit [`HeaderLimit::new`] accepts: a bare Principal's unsigned
/// passport takes about as much (a signed one more).
pub const MIN_HEADER_LEN: usize = 128;

/// The length of the unpadded base64 text of `decoded` bytes.
pub const fn encoded_len(decoded: usize) -> usize {
    decoded.saturating_mul(4).div_ceil(3)
}

/// The largest `x-principal-bin` value a sender writes: a passport whose header would be
/// longer is refused where it is made ([`PassportError::PrincipalTooLarge`]), never sent.
/// [`DEFAULT_MAX_HEADER_LEN`] by default.
///
/// ```
/// use principal_proto::ConfigError;
/// use principal_proto::header::{DEFAULT_MAX_HEADER_LEN, HeaderLimit};
///
/// assert_eq!(HeaderLimit::default().max_len(), DEFAULT_MAX_HEADER_LEN);
/// assert_eq!(HeaderLimit::new(2048)?.max_len(), 2048);
///
/// // Above what a default gRPC peer accepts in total, or too small for any passport: refused.
/// assert!(matches!(HeaderLimit::new(16 * 1024), Err(ConfigError::OutOfRange { .. })));
/// assert!(matches!(HeaderLimit::new(16), Err(ConfigError::OutOfRange { .. })));
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeaderLimit {
    max_len: usize,
}

impl Default for HeaderLimit {
    fn default() -> Self {
        HeaderLimit {
            max_len: DEFAULT_MAX_HEADER_LEN,
        }
    }
}

impl HeaderLimit {
    /// A limit of `max_len` bytes of header text, [`MIN_HEADER_LEN`] to [`MAX_HEADER_LEN`].
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] (option `"max_header_len"`) outside that range.
    pub fn new(max_len: usize) -> Result<Self, ConfigError> {
        if !(MIN_HEADER_LEN..=MAX_HEADER_LEN).contains(&max_len) {
            return Err(ConfigError::OutOfRange {
                option: "max_header_len",
                value: u64::try_from(max_len).unwrap_or(u64::MAX),
                min: MIN_HEADER_LEN as u64,
                max: MAX_HEADER_LEN as u64,
            });
        }
        Ok(HeaderLimit { max_len })
    }

    /// The longest header value allowed, in bytes.
    pub fn max_len(self) -> usize {
        self.max_len
    }

    /// `bytes` (an encoded passport or envelope) as a header value, if it fits; checked
    /// before anything is encoded.
    pub(crate) fn encode(self, bytes: &[u8]) -> Result<String, PassportError> {
        let len = encoded_len(bytes.len());
        if len > self.max_len {
            return Err(PassportError::PrincipalTooLarge {
                len,
                max: self.max_len,
            });
        }
        Ok(encode_header_value(bytes))
    }
}

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
    fn encoded_len_is_the_unpadded_length() {
        for n in 0..64 {
            assert_eq!(
                encoded_len(n),
                encode_header_value(&vec![0xa5; n]).len(),
                "{n}"
            );
        }
        assert_eq!(encoded_len(usize::MAX), usize::MAX.div_ceil(3));
    }

    #[test]
    fn header_limit_refuses_one_byte_over_and_accepts_exactly_at() {
        let limit = HeaderLimit::new(MIN_HEADER_LEN).unwrap();
        // 96 bytes encode to exactly 128 characters; 97 to 130.
        assert_eq!(limit.encode(&[7; 96]).unwrap().len(), MIN_HEADER_LEN);
        let error = limit.encode(&[7; 97]).unwrap_err();
        assert!(matches!(
            error,
            PassportError::PrincipalTooLarge { len: 130, max: 128 }
        ));
        assert_eq!(error.reason(), "principal_too_large");
        assert!(HeaderLimit::new(MIN_HEADER_LEN - 1).is_err());
        assert!(HeaderLimit::new(MAX_HEADER_LEN).is_ok());
        assert!(HeaderLimit::new(MAX_HEADER_LEN + 1).is_err());
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
