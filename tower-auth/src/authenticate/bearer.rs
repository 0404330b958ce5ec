//! The bearer token of a request (RFC 6750 §2.1).

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::error::{AuthError, HeaderProblem};

/// Default limit on the size of a bearer token, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The bearer token of a request: exactly one `Authorization` header of the form
/// `Bearer <b64token>` (scheme case-insensitive, one or more spaces, RFC 6750 §2.1),
/// at most `max_token_bytes` long.
///
/// Errors: no header is [`AuthError::MissingToken`]; another scheme is
/// [`AuthError::UnsupportedScheme`] (both mean "no bearer credentials", RFC 6750 §3.1);
/// two or more headers are [`AuthError::DuplicateAuthorizationHeaders`]; anything else
/// malformed is [`AuthError::MalformedAuthorizationHeader`] and an overlong token is
/// [`AuthError::TokenTooLarge`].
///
/// ```
/// use http::HeaderMap;
/// use tower_auth::AuthError;
/// use tower_auth::authenticate::bearer_token;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("authorization", "bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln".parse().unwrap());
/// assert_eq!(bearer_token(&headers, 8192).unwrap(), "eyJhbGciOiJFUzI1NiJ9.e30.c2ln");
///
/// headers.insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
/// assert!(matches!(bearer_token(&headers, 8192), Err(AuthError::UnsupportedScheme)));
///
/// headers.insert("authorization", "Bearer a b".parse().unwrap());
/// assert!(matches!(
///     bearer_token(&headers, 8192),
///     Err(AuthError::MalformedAuthorizationHeader { .. })
/// ));
/// ```
pub fn bearer_token(headers: &HeaderMap, max_token_bytes: usize) -> Result<&str, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthError::MissingToken);
    };
    let extra = values.count();
    if extra > 0 {
        return Err(AuthError::DuplicateAuthorizationHeaders { count: extra + 1 });
    }
    parse_authorization(value.as_bytes(), max_token_bytes)
}

/// Parse one `Authorization` header value (see [`bearer_token`]).
///
/// ```
/// use tower_auth::AuthError;
/// use tower_auth::authenticate::parse_authorization;
///
/// assert_eq!(parse_authorization(b"Bearer  abc-._~+/==", 64).unwrap(), "abc-._~+/==");
/// assert!(matches!(
///     parse_authorization(b"Bearer abc", 2),
///     Err(AuthError::TokenTooLarge { len: 3, max: 2 })
/// ));
/// ```
pub fn parse_authorization(value: &[u8], max_token_bytes: usize) -> Result<&str, AuthError> {
    let malformed = |problem| AuthError::MalformedAuthorizationHeader { problem };
    if value.is_empty() {
        return Err(malformed(HeaderProblem::Empty));
    }
    let scheme_end = value.iter().position(|&b| b == b' ').unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_end);
    if scheme.is_empty() || !scheme.iter().copied().all(is_tchar) {
        return Err(malformed(HeaderProblem::InvalidScheme));
    }
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        // RFC 6750 §3.1: a request using another method carries no bearer credentials.
        return Err(AuthError::UnsupportedScheme);
    }
    // 1*SP between the scheme and the token: the scheme ended at a space, or at the end of
    // the value (then nothing is left and the check below refuses it).
    let token = trim_leading_spaces(rest);
    if token.is_empty() {
        return Err(malformed(HeaderProblem::MissingCredentials));
    }
    if token.len() > max_token_bytes {
        return Err(AuthError::TokenTooLarge {
            len: token.len(),
            max: max_token_bytes,
        });
    }
    if !is_b64token(token) {
        return Err(malformed(HeaderProblem::NotB64Token));
    }
    // b64token is ASCII, so this never fails; the error keeps it typed if it ever did.
    std::str::from_utf8(token).map_err(|_| malformed(HeaderProblem::NotB64Token))
}

fn trim_leading_spaces(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
    &bytes[start..]
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &[u8]) -> bool {
    // One table load per byte: this runs on every request, over the whole token.
    let body_len = token
        .iter()
        .take_while(|&&b| B64TOKEN_BODY[usize::from(b)])
        .count();
    body_len > 0
        && token
            .get(body_len..)
            .is_some_and(|padding| padding.iter().all(|&b| b == b'='))
}

/// The bytes of a `b64token` before its padding, as a lookup table.
const B64TOKEN_BODY: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < table.len() {
        let b = byte as u8;
        table[byte] =
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        byte += 1;
    }
    table
};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn parse(value: &str) -> Result<&str, AuthError> {
        parse_authorization(value.as_bytes(), 64)
    }

    fn problem(value: &str) -> HeaderProblem {
        match parse(value) {
            Err(AuthError::MalformedAuthorizationHeader { problem }) => problem,
            other => panic!("{value:?}: {other:?}"),
        }
    }

    #[test]
    fn accepts_rfc6750_forms() {
        assert_eq!(parse("Bearer abc").unwrap(), "abc");
        assert_eq!(parse("BEARER abc").unwrap(), "abc");
        assert_eq!(parse("bEaReR abc").unwrap(), "abc");
        assert_eq!(parse("Bearer   abc").unwrap(), "abc");
        assert_eq!(parse("Bearer a.b-c_d~e+f/g==").unwrap(), "a.b-c_d~e+f/g==");
    }

    #[test]
    fn other_schemes_are_no_bearer_credentials() {
        assert!(matches!(
            parse("Basic dXNlcg=="),
            Err(AuthError::UnsupportedScheme)
        ));
        assert!(matches!(
            parse("DPoP abc"),
            Err(AuthError::UnsupportedScheme)
        ));
        assert!(matches!(
            parse("Bearerx abc"),
            Err(AuthError::UnsupportedScheme)
        ));
        assert!(matches!(
            parse("Negotiate"),
            Err(AuthError::UnsupportedScheme)
        ));
    }

    #[test]
    fn malformed_values_are_invalid_requests() {
        assert_eq!(problem(""), HeaderProblem::Empty);
        assert_eq!(problem(" Bearer abc"), HeaderProblem::InvalidScheme);
        assert_eq!(problem("Bea\"rer abc"), HeaderProblem::InvalidScheme);
        assert_eq!(problem("Bearer"), HeaderProblem::MissingCredentials);
        assert_eq!(problem("Bearer "), HeaderProblem::MissingCredentials);
        assert_eq!(problem("Bearer    "), HeaderProblem::MissingCredentials);
        assert_eq!(problem("Bearer a b"), HeaderProblem::NotB64Token);
        assert_eq!(problem("Bearer abc "), HeaderProblem::NotB64Token);
        assert_eq!(problem("Bearer a=b"), HeaderProblem::NotB64Token);
        assert_eq!(problem("Bearer ==="), HeaderProblem::NotB64Token);
        assert_eq!(problem("Bearer a,b"), HeaderProblem::NotB64Token);
        assert_eq!(problem("Bearer a\tb"), HeaderProblem::NotB64Token);
        assert_eq!(problem("Bearer\tabc"), HeaderProblem::InvalidScheme);
        assert_eq!(problem("Bearer token=\"abc\""), HeaderProblem::NotB64Token);
        assert_eq!(
            parse_authorization(b"Bearer ab\xffc", 64)
                .err()
                .map(|e| e.reason()),
            Some("malformed_authorization_header")
        );
    }

    #[test]
    fn b64token_alphabet_is_exactly_rfc6750() {
        for byte in 0..=u8::MAX {
            let expected = byte.is_ascii_alphanumeric() || b"-._~+/".contains(&byte);
            assert_eq!(is_b64token(&[byte]), expected, "{byte:#04x}");
            assert_eq!(
                is_b64token(&[b'a', byte]),
                expected || byte == b'=',
                "{byte:#04x}"
            );
            assert_eq!(is_b64token(&[byte, b'=']), expected, "{byte:#04x}");
        }
        assert!(is_b64token(b"ab=="));
        assert!(!is_b64token(b"ab=c"));
        assert!(!is_b64token(b"="));
        assert!(!is_b64token(b""));
    }

    #[test]
    fn size_is_checked_on_the_token() {
        let token = "a".repeat(64);
        assert_eq!(parse(&format!("Bearer {token}")).unwrap(), token);
        assert!(matches!(
            parse(&format!("Bearer {token}b")),
            Err(AuthError::TokenTooLarge { len: 65, max: 64 })
        ));
    }

    #[test]
    fn duplicates_are_refused_even_when_equal() {
        let mut headers = HeaderMap::new();
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert!(matches!(
            bearer_token(&headers, 64),
            Err(AuthError::DuplicateAuthorizationHeaders { count: 2 })
        ));
        assert!(matches!(
            bearer_token(&HeaderMap::new(), 64),
            Err(AuthError::MissingToken)
        ));
    }
}
