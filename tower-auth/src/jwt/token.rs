//! The JWS compact form taken apart, bounded before anything is parsed and trusted
//! nowhere: this module only says what the token *claims*; the verifier decides.

use std::borrow::Cow;

use base64::DecodeSliceError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use principal::{ClaimError, JwtClaims};
use serde::Deserialize;

use crate::error::{AuthError, TokenPart};
pub(crate) use crate::jwks::MAX_SIGNATURE_BYTES;
use crate::jwks::algorithm_from_name;

/// Largest decoded JOSE header accepted, in bytes. Real headers are under 200 bytes; an
/// embedded `jwk` (ignored, but it must still fit) is under 1 KiB.
pub const MAX_HEADER_BYTES: usize = 4096;

/// Longest header or claim value an error repeats (an `alg`, `kid`, `iss`, `typ` or
/// `crit` name chosen by whoever made the token).
const ECHO_LIMIT: usize = 64;

/// The four segments of a compact JWS as they appear in the token.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segments<'a> {
    pub(crate) header: &'a str,
    pub(crate) payload: &'a str,
    /// `header.payload`: the bytes the signature covers, exactly as received.
    pub(crate) signing_input: &'a str,
    pub(crate) signature: &'a str,
}

/// Splits a compact JWS (RFC 7515 §7.1) into its three segments.
///
/// A token with no `.` at all is not a JWS (an opaque token): that is a decline, so a
/// verifier chain can ask an introspection verifier next. Any other shape is malformed.
/// An empty signature is left for [`signature_present`], after the header is read, so an
/// unsecured `alg: none` token is reported as what it is.
pub(crate) fn split(token: &str) -> Result<Segments<'_>, AuthError> {
    let Some(first) = token.find('.') else {
        return Err(AuthError::UnsupportedTokenFormat);
    };
    let header = &token[..first];
    let rest = &token[first + 1..];
    let Some(second) = rest.find('.') else {
        return Err(malformed(
            TokenPart::Structure,
            "two segments; a JWS has exactly three",
        ));
    };
    let payload = &rest[..second];
    let signature = &rest[second + 1..];
    if signature.contains('.') {
        return Err(malformed(
            TokenPart::Structure,
            "more than three segments (a JWE, or extra data)",
        ));
    }
    if header.is_empty() {
        return Err(malformed(TokenPart::Header, "empty header segment"));
    }
    if payload.is_empty() {
        return Err(malformed(
            TokenPart::Claims,
            "empty payload segment (a detached payload)",
        ));
    }
    Ok(Segments {
        header,
        payload,
        signing_input: &token[..first + 1 + second],
        signature,
    })
}

/// Refuses an empty signature segment (an unsecured JWS, or a stripped signature).
pub(crate) fn signature_present(segments: &Segments<'_>) -> Result<(), AuthError> {
    if segments.signature.is_empty() {
        return Err(malformed(
            TokenPart::Signature,
            "empty signature segment (unsecured or stripped)",
        ));
    }
    Ok(())
}

/// Decodes the signature segment into `buffer`: `Some(bytes)`, or `None` when it is valid
/// base64url but longer than any key's signature (so no key can verify it). The segment
/// must be unpadded base64url with no stray bits in its last character, as RFC 7515 §2
/// requires; anything else is malformed.
pub(crate) fn signature<'b>(
    segment: &str,
    buffer: &'b mut [u8; MAX_SIGNATURE_BYTES],
) -> Result<Option<&'b [u8]>, AuthError> {
    let not_base64 = || malformed(TokenPart::Signature, "not unpadded base64url");
    match URL_SAFE_NO_PAD.decode_slice(segment, buffer) {
        Ok(len) => Ok(buffer.get(..len)),
        Err(DecodeSliceError::OutputSliceTooSmall) => {
            // Only an oversized (hostile) signature gets here: it is refused either way,
            // and decoding it in full keeps the reason the same as for any other length.
            match URL_SAFE_NO_PAD.decode(segment) {
                Ok(_) => Ok(None),
                Err(_) => Err(not_base64()),
            }
        }
        Err(DecodeSliceError::DecodeError(_)) => Err(not_base64()),
    }
}

/// The header members Baton reads. Everything else (`jku`, `x5u`, `jwk`, `x5c`, `x5t`,
/// `cty`, ...) is ignored: keys are found by `kid` in the issuer's configured key set
/// only, never from a URL or key the token brings along.
#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow, default)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    crit: Option<Vec<Cow<'a, str>>>,
}

/// What a token's header says, after the checks that need no key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// The algorithm the header names; it only has to agree with the key's.
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
}

/// Decodes and reads the header: bounded, a JSON object, a known `alg` that is not
/// `none`, and no `crit` (Baton understands no JWS extension, so RFC 7515 §4.1.11 makes
/// every listed one a rejection).
pub(crate) fn header(segment: &str) -> Result<Header, AuthError> {
    if segment.len() > MAX_HEADER_BYTES.div_ceil(3) * 4 {
        return Err(malformed(TokenPart::Header, "larger than the header limit"));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| malformed(TokenPart::Header, "not unpadded base64url"))?;
    if !starts_object(&bytes) {
        return Err(malformed(TokenPart::Header, "not a JSON object"));
    }
    let raw: RawHeader<'_> = serde_json::from_slice(&bytes).map_err(|_| {
        malformed(
            TokenPart::Header,
            "not a JSON object of JOSE header parameters",
        )
    })?;
    let Some(alg) = raw.alg else {
        return Err(malformed(TokenPart::Header, "no alg"));
    };
    let alg = algorithm_from_name(&alg)
        .ok_or_else(|| AuthError::UnsupportedAlgorithm { alg: echo(&alg) })?;
    if let Some(crit) = raw.crit {
        return Err(match crit.first() {
            Some(name) => AuthError::UnknownCritical { name: echo(name) },
            None => malformed(TokenPart::Header, "crit is an empty list"),
        });
    }
    Ok(Header {
        alg,
        kid: raw.kid.map(Cow::into_owned),
        typ: raw.typ.map(Cow::into_owned),
    })
}

/// Decodes the claims once: they are read here to find the issuer and kept for the
/// checks after the signature verifies; nothing in them is trusted before that.
pub(crate) fn claims(segment: &str) -> Result<JwtClaims, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| malformed(TokenPart::Claims, "not unpadded base64url"))?;
    // A serde struct also reads a JSON array positionally; claims are an object only.
    if !starts_object(&bytes) {
        return Err(malformed(TokenPart::Claims, "not a JSON object"));
    }
    JwtClaims::from_json(&bytes).map_err(|error| match error {
        ClaimError::ActTooDeep { .. } => malformed(TokenPart::Claims, "act nested too deep"),
        ClaimError::TooLarge { .. } => malformed(TokenPart::Claims, "larger than the claims limit"),
        _ => malformed(
            TokenPart::Claims,
            "not a JSON object of claims of the right types",
        ),
    })
}

/// The `typ` as a media type without the implied `application/` prefix (RFC 7515
/// §4.1.9: a `typ` without `/` means `application/<typ>`), so `at+jwt` and
/// `application/at+jwt` compare equal. Compared ASCII case-insensitively (media types
/// are case-insensitive).
pub(crate) fn typ_matches(found: &str, required: &str) -> bool {
    strip_application(found).eq_ignore_ascii_case(strip_application(required))
}

fn strip_application(typ: &str) -> &str {
    const PREFIX: &str = "application/";
    match (typ.get(..PREFIX.len()), typ.get(PREFIX.len()..)) {
        (Some(prefix), Some(rest))
            if prefix.eq_ignore_ascii_case(PREFIX) && !rest.contains('/') =>
        {
            rest
        }
        _ => typ,
    }
}

/// `value` cut to a bounded length on a character boundary, for errors.
pub(crate) fn echo(value: &str) -> String {
    let mut end = value.len().min(ECHO_LIMIT);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].to_owned()
}

fn starts_object(json: &[u8]) -> bool {
    json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

fn malformed(part: TokenPart, why: &'static str) -> AuthError {
    AuthError::MalformedToken { part, why }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn b64(bytes: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn part_of(error: AuthError) -> TokenPart {
        match error {
            AuthError::MalformedToken { part, .. } => part,
            other => panic!("expected MalformedToken, got {other:?}"),
        }
    }

    #[test]
    fn split_finds_three_segments_and_the_signing_input() {
        let s = split("aa.bb.cc").unwrap();
        assert_eq!(
            (s.header, s.payload, s.signing_input, s.signature),
            ("aa", "bb", "aa.bb", "cc")
        );
    }

    #[test]
    fn split_refuses_other_shapes() {
        assert!(matches!(
            split("opaque-token"),
            Err(AuthError::UnsupportedTokenFormat)
        ));
        assert_eq!(part_of(split("a.b").unwrap_err()), TokenPart::Structure);
        assert_eq!(part_of(split("a.b.c.d").unwrap_err()), TokenPart::Structure);
        assert_eq!(
            part_of(split("a.b.c.d.e").unwrap_err()),
            TokenPart::Structure
        );
        assert_eq!(part_of(split(".b.c").unwrap_err()), TokenPart::Header);
        assert_eq!(part_of(split("a..c").unwrap_err()), TokenPart::Claims);
        let unsigned = split("a.b.").unwrap();
        assert_eq!(
            part_of(signature_present(&unsigned).unwrap_err()),
            TokenPart::Signature
        );
    }

    #[test]
    fn header_reads_alg_kid_typ_and_ignores_key_urls() {
        let h = header(&b64(
            r#"{"alg":"ES256","kid":"k1","typ":"at+jwt","jku":"https://evil","x5u":"https://evil","jwk":{"kty":"EC"}}"#,
        ))
        .unwrap();
        assert_eq!(h.alg, Algorithm::ES256);
        assert_eq!(h.kid.as_deref(), Some("k1"));
        assert_eq!(h.typ.as_deref(), Some("at+jwt"));
    }

    #[test]
    fn header_refuses_none_in_every_spelling_and_unknown_algorithms() {
        for alg in [
            "none", "None", "NONE", "nOnE", "rs256", "ES512", "", "HS256 ",
        ] {
            let err = header(&b64(format!(r#"{{"alg":"{alg}"}}"#))).unwrap_err();
            assert!(
                matches!(&err, AuthError::UnsupportedAlgorithm { alg: a } if a == alg),
                "{alg}: {err:?}"
            );
        }
    }

    #[test]
    fn header_refuses_crit_missing_alg_arrays_and_duplicates() {
        assert!(matches!(
            header(&b64(r#"{"alg":"ES256","crit":["exp"],"exp":1}"#)),
            Err(AuthError::UnknownCritical { name }) if name == "exp"
        ));
        assert_eq!(
            part_of(header(&b64(r#"{"alg":"ES256","crit":[]}"#)).unwrap_err()),
            TokenPart::Header
        );
        for bad in [
            r#"{"kid":"k"}"#,
            r#"["ES256","k"]"#,
            r#"{"alg":"ES256","alg":"HS256"}"#,
            r#"{"alg":"ES256","crit":"b64"}"#,
            r#"{"alg":"ES256","kid":7}"#,
            "not json",
        ] {
            assert_eq!(
                part_of(header(&b64(bad)).unwrap_err()),
                TokenPart::Header,
                "{bad}"
            );
        }
        assert_eq!(part_of(header("e30=").unwrap_err()), TokenPart::Header); // padded
        assert_eq!(part_of(header("!!!").unwrap_err()), TokenPart::Header);
        let huge = b64(format!(
            r#"{{"alg":"ES256","x":"{}"}}"#,
            "a".repeat(MAX_HEADER_BYTES)
        ));
        assert_eq!(part_of(header(&huge).unwrap_err()), TokenPart::Header);
    }

    #[test]
    fn claims_must_be_an_object() {
        assert!(claims(&b64(r#"{"iss":"https://idp","exp":1}"#)).is_ok());
        for bad in [
            r#"["https://idp"]"#,
            r#""iss""#,
            "42",
            "null",
            "{",
            r#"{"exp":"x"}"#,
        ] {
            assert_eq!(
                part_of(claims(&b64(bad)).unwrap_err()),
                TokenPart::Claims,
                "{bad}"
            );
        }
        assert_eq!(part_of(claims("e30=").unwrap_err()), TokenPart::Claims);
    }

    #[test]
    fn signature_decodes_into_the_buffer_up_to_the_longest_key() {
        let mut buffer = [0u8; MAX_SIGNATURE_BYTES];
        let longest: Vec<u8> = (0..MAX_SIGNATURE_BYTES).map(|i| i as u8).collect();
        assert_eq!(
            signature(&b64(&longest), &mut buffer).unwrap(),
            Some(&longest[..])
        );
        assert_eq!(
            signature(&b64([7u8; 64]), &mut buffer).unwrap(),
            Some(&[7u8; 64][..])
        );
        // Longer than any key's signature: nothing can verify it, and it is not malformed.
        let longer = vec![1u8; MAX_SIGNATURE_BYTES + 1];
        assert_eq!(signature(&b64(&longer), &mut buffer).unwrap(), None);
        assert_eq!(signature(&b64(vec![1u8; 4096]), &mut buffer).unwrap(), None);
    }

    #[test]
    fn signature_must_be_canonical_unpadded_base64url_at_any_length() {
        let mut buffer = [0u8; MAX_SIGNATURE_BYTES];
        // 64 and 1031 bytes: both end in a character with unused low bits.
        let short = b64([0xFFu8; 64]);
        let long = b64(vec![0xFFu8; MAX_SIGNATURE_BYTES + 7]);
        for segment in [&short, &long] {
            let last = segment.len() - 1;
            let mut impossible_length = segment.clone();
            while impossible_length.len() % 4 != 1 {
                impossible_length.push('A');
            }
            for bad in [
                format!("{segment}="),
                format!("{}+{}", &segment[..1], &segment[2..]),
                format!("{}$", &segment[..last]),
                format!("{}x", &segment[..last]),
                impossible_length,
            ] {
                assert_eq!(
                    part_of(signature(&bad, &mut buffer).unwrap_err()),
                    TokenPart::Signature,
                    "{bad}"
                );
            }
        }
    }

    #[test]
    fn typ_compares_as_a_media_type() {
        assert!(typ_matches("at+jwt", "at+jwt"));
        assert!(typ_matches("application/at+jwt", "at+jwt"));
        assert!(typ_matches("AT+JWT", "application/at+jwt"));
        assert!(!typ_matches("JWT", "at+jwt"));
        assert!(!typ_matches("text/at+jwt", "at+jwt"));
        assert!(!typ_matches("application/x/at+jwt", "at+jwt"));
        assert!(!typ_matches("é", "at+jwt"));
    }

    #[test]
    fn echo_is_bounded_on_a_char_boundary() {
        let long = "é".repeat(100);
        let cut = echo(&long);
        assert!(cut.len() <= ECHO_LIMIT && long.starts_with(&cut));
    }
}
