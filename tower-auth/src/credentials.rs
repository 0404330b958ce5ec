//! What one request presents to the verifiers: the bearer token, the passport header, the
//! internal-token header and the transport peer.
//!
//! [`Credentials`] borrows from the request (nothing is copied on the way in); a verifier
//! that has to wait copies only what its pending future needs. Each verifier reads the
//! part that is its business and *declines* when that part is absent (see the chain rule
//! in [`crate::verifier`]).
//!
//! At an edge the [`AuthenticateLayer`](crate::authenticate::AuthenticateLayer) strips
//! `x-principal-bin` and `x-baton-internal-token` before it reads anything, so there
//! the credentials hold only the bearer token (and a peer, behind mutual TLS); only an
//! internal service ([`AuthenticateLayer::internal`](crate::authenticate::AuthenticateLayer::internal))
//! reads those headers, and only through its verifiers.

use std::fmt;

use http::{Extensions, HeaderMap, HeaderName};

use crate::authenticate::bearer_token;
use crate::error::AuthError;
use crate::peer::PeerIdentity;

/// The request-id header, compared with a passport's request id.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The largest `x-principal-bin` or `x-baton-internal-token` value read, in bytes; larger
/// values are refused before any verifier parses them. Verifiers apply their own, usually
/// smaller, limits.
pub const MAX_CREDENTIAL_HEADER_BYTES: usize = 64 * 1024;

// The names of `authenticate::{PRINCIPAL_HEADER, INTERNAL_TOKEN_HEADER}`, as `'static`
// text for error values (checked equal in the tests).
const PRINCIPAL_HEADER_NAME: &str = "x-principal-bin";
const INTERNAL_TOKEN_HEADER_NAME: &str = "x-baton-internal-token";

/// Why the request has no bearer token (for the challenge when nothing else was sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NoBearer {
    Missing,
    OtherScheme,
}

/// The credentials of one request, borrowed from it.
///
/// ```
/// use tower_auth::credentials::Credentials;
/// use tower_auth::AuthError;
///
/// let mut request = http::Request::new(());
/// request.headers_mut().insert("authorization", "Bearer abc".parse().unwrap());
/// request.headers_mut().insert("x-request-id", "req-1".parse().unwrap());
/// let credentials = Credentials::from_request(request.headers(), request.extensions(), 8192)?;
/// assert_eq!(credentials.bearer_token(), Some("abc"));
/// assert_eq!(credentials.request_id(), Some("req-1"));
/// assert_eq!(credentials.passport(), None);
///
/// // Refused: two passport headers (which one would be trusted is ambiguous).
/// request.headers_mut().append("x-principal-bin", "AAAA".parse().unwrap());
/// request.headers_mut().append("x-principal-bin", "BBBB".parse().unwrap());
/// assert!(matches!(
///     Credentials::from_request(request.headers(), request.extensions(), 8192),
///     Err(AuthError::MalformedCredentialHeader { header: "x-principal-bin", .. })
/// ));
/// # Ok::<(), AuthError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    bearer: Result<&'a str, NoBearer>,
    passport: Option<&'a str>,
    internal_token: Option<&'a str>,
    peer: Option<&'a PeerIdentity>,
    request_id: Option<&'a str>,
}

impl<'a> Credentials<'a> {
    /// Nothing presented.
    pub fn none() -> Self {
        Credentials {
            bearer: Err(NoBearer::Missing),
            passport: None,
            internal_token: None,
            peer: None,
            request_id: None,
        }
    }

    /// Only a bearer token (without the `Bearer ` prefix).
    pub fn bearer(token: &'a str) -> Self {
        Credentials {
            bearer: Ok(token),
            ..Credentials::none()
        }
    }

    /// Read the credentials of a request: the `Authorization` bearer token (see
    /// [`bearer_token`]; a token longer than `max_token_bytes` is refused), the
    /// `x-principal-bin` and `x-baton-internal-token` headers, the `x-request-id`
    /// header and the [`PeerIdentity`] a TLS acceptor put in the extensions.
    ///
    /// Another scheme than `Bearer`, or no `Authorization`, is no bearer token, not an
    /// error. A malformed or repeated `Authorization`, and a repeated, non-ASCII or
    /// oversized passport or internal-token header, are errors: which value to trust
    /// would be ambiguous. It reads whatever is in the headers: the layer decides, by its
    /// role, what has been stripped before.
    pub fn from_request(
        headers: &'a HeaderMap,
        extensions: &'a Extensions,
        max_token_bytes: usize,
    ) -> Result<Self, AuthError> {
        let bearer = match bearer_token(headers, max_token_bytes) {
            Ok(token) => Ok(token),
            Err(AuthError::MissingToken) => Err(NoBearer::Missing),
            Err(AuthError::UnsupportedScheme) => Err(NoBearer::OtherScheme),
            Err(error) => return Err(error),
        };
        Ok(Credentials {
            bearer,
            passport: single_header(headers, PRINCIPAL_HEADER_NAME)?,
            internal_token: single_header(headers, INTERNAL_TOKEN_HEADER_NAME)?,
            peer: extensions.get::<PeerIdentity>(),
            // Informational (compared, never trusted): an odd value simply matches nothing.
            request_id: headers
                .get(REQUEST_ID_HEADER)
                .and_then(|value| value.to_str().ok()),
        })
    }

    /// With this `x-principal-bin` value.
    pub fn with_passport(mut self, header_value: &'a str) -> Self {
        self.passport = Some(header_value);
        self
    }

    /// With this `x-baton-internal-token` value.
    pub fn with_internal_token(mut self, token: &'a str) -> Self {
        self.internal_token = Some(token);
        self
    }

    /// With this transport peer.
    pub fn with_peer(mut self, peer: &'a PeerIdentity) -> Self {
        self.peer = Some(peer);
        self
    }

    /// With this `x-request-id` value.
    pub fn with_request_id(mut self, request_id: &'a str) -> Self {
        self.request_id = Some(request_id);
        self
    }

    /// The bearer token, without the `Bearer ` prefix.
    pub fn bearer_token(&self) -> Option<&'a str> {
        self.bearer.ok()
    }

    /// The `x-principal-bin` value (base64 of a passport), as received.
    pub fn passport(&self) -> Option<&'a str> {
        self.passport
    }

    /// The `x-baton-internal-token` value, as received.
    pub fn internal_token(&self) -> Option<&'a str> {
        self.internal_token
    }

    /// The transport peer, when a TLS acceptor authenticated one.
    pub fn peer(&self) -> Option<&'a PeerIdentity> {
        self.peer
    }

    /// The request's `x-request-id`, as received.
    pub fn request_id(&self) -> Option<&'a str> {
        self.request_id
    }

    /// Whether nothing that could authenticate was presented (no bearer token, passport,
    /// internal token or peer). The request id does not count.
    pub fn is_empty(&self) -> bool {
        self.bearer.is_err()
            && self.passport.is_none()
            && self.internal_token.is_none()
            && self.peer.is_none()
    }

    /// An owned copy, for a verification that has to wait (the slow path only).
    pub fn to_owned_credentials(&self) -> OwnedCredentials {
        OwnedCredentials {
            bearer: self.bearer.map(Box::from),
            passport: self.passport.map(Box::from),
            internal_token: self.internal_token.map(Box::from),
            peer: self.peer.cloned(),
            request_id: self.request_id.map(Box::from),
        }
    }

    /// The error that says "no credentials" for these credentials: another scheme than
    /// `Bearer` is told apart from nothing at all.
    pub(crate) fn absence(&self) -> AuthError {
        match self.bearer {
            Err(NoBearer::OtherScheme) => AuthError::UnsupportedScheme,
            _ => AuthError::MissingToken,
        }
    }
}

/// An owned copy of [`Credentials`], for a future that must outlive the request's
/// headers (a verification waiting for keys). Its `Debug` prints no credential either.
///
/// ```
/// use tower_auth::credentials::Credentials;
///
/// let owned = Credentials::bearer("abc").with_request_id("req-1").to_owned_credentials();
/// let credentials = owned.credentials();
/// assert_eq!(credentials.bearer_token(), Some("abc"));
/// assert_eq!(credentials.request_id(), Some("req-1"));
/// ```
#[derive(Clone)]
pub struct OwnedCredentials {
    bearer: Result<Box<str>, NoBearer>,
    passport: Option<Box<str>>,
    internal_token: Option<Box<str>>,
    peer: Option<PeerIdentity>,
    request_id: Option<Box<str>>,
}

impl OwnedCredentials {
    /// Borrowed again, as verifiers take them.
    pub fn credentials(&self) -> Credentials<'_> {
        Credentials {
            bearer: self.bearer.as_deref().map_err(|absence| *absence),
            passport: self.passport.as_deref(),
            internal_token: self.internal_token.as_deref(),
            peer: self.peer.as_ref(),
            request_id: self.request_id.as_deref(),
        }
    }
}

impl fmt::Debug for OwnedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.credentials(), f)
    }
}

/// At most one value of `name`, visible ASCII, bounded.
fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a str>, AuthError> {
    let malformed = |problem| AuthError::MalformedCredentialHeader {
        header: name,
        problem,
    };
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(malformed("sent more than once"));
    }
    if value.len() > MAX_CREDENTIAL_HEADER_BYTES {
        return Err(malformed("too large"));
    }
    let text = value.to_str().map_err(|_| malformed("not visible ASCII"))?;
    Ok(Some(text))
}

impl fmt::Debug for Credentials<'_> {
    /// Says which credentials are present, never their values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("bearer", &self.bearer.is_ok())
            .field("passport", &self.passport.is_some())
            .field("internal_token", &self.internal_token.is_some())
            .field("peer", &self.peer.map(|peer| peer.spiffe_id()))
            .field("request_id", &self.request_id)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn read(headers: &[(&'static str, &[u8])]) -> Result<(bool, String), AuthError> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, HeaderValue::from_bytes(value).unwrap());
        }
        let extensions = Extensions::new();
        let credentials = Credentials::from_request(&map, &extensions, 64)?;
        Ok((credentials.is_empty(), format!("{credentials:?}")))
    }

    #[test]
    fn absent_or_other_scheme_is_no_bearer_and_says_which() {
        let map = HeaderMap::new();
        let extensions = Extensions::new();
        let none = Credentials::from_request(&map, &extensions, 64).unwrap();
        assert!(none.is_empty());
        assert!(matches!(none.absence(), AuthError::MissingToken));

        let mut map = HeaderMap::new();
        map.insert("authorization", HeaderValue::from_static("Basic dXNlcg=="));
        let basic = Credentials::from_request(&map, &extensions, 64).unwrap();
        assert!(basic.is_empty());
        assert!(matches!(basic.absence(), AuthError::UnsupportedScheme));
    }

    #[test]
    fn repeated_oversized_or_binary_credential_headers_are_refused() {
        for name in ["x-principal-bin", "x-baton-internal-token"] {
            let twice = read(&[(name, b"a"), (name, b"a")]).unwrap_err();
            assert!(
                matches!(twice, AuthError::MalformedCredentialHeader { header, problem: "sent more than once" } if header == name)
            );
            let binary = read(&[(name, b"a\xffb")]).unwrap_err();
            assert!(matches!(
                binary,
                AuthError::MalformedCredentialHeader {
                    problem: "not visible ASCII",
                    ..
                }
            ));
            let big = vec![b'a'; MAX_CREDENTIAL_HEADER_BYTES + 1];
            let big = read(&[(name, &big)]).unwrap_err();
            assert!(matches!(
                big,
                AuthError::MalformedCredentialHeader {
                    problem: "too large",
                    ..
                }
            ));
            assert_eq!(big.challenge(), crate::Challenge::InvalidRequest);
        }
        // The bearer rules are those of `bearer_token`.
        assert!(matches!(
            read(&[
                ("authorization", b"Bearer a"),
                ("authorization", b"Bearer a")
            ]),
            Err(AuthError::DuplicateAuthorizationHeaders { count: 2 })
        ));
    }

    #[test]
    fn header_names_are_those_of_the_authenticate_layer() {
        use crate::authenticate::{INTERNAL_TOKEN_HEADER, PRINCIPAL_HEADER};
        assert_eq!(PRINCIPAL_HEADER_NAME, PRINCIPAL_HEADER.as_str());
        assert_eq!(INTERNAL_TOKEN_HEADER_NAME, INTERNAL_TOKEN_HEADER.as_str());
    }

    #[test]
    fn debug_never_prints_a_credential() {
        let (empty, debug) = read(&[
            ("authorization", b"Bearer secret-token"),
            ("x-principal-bin", b"secret-passport"),
            ("x-baton-internal-token", b"secret-internal"),
        ])
        .unwrap();
        assert!(!empty);
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn the_peer_comes_from_the_extensions() {
        let map = HeaderMap::new();
        let mut extensions = Extensions::new();
        let peer = PeerIdentity::new("spiffe://a.example/edge".parse().unwrap());
        extensions.insert(peer.clone());
        let credentials = Credentials::from_request(&map, &extensions, 64).unwrap();
        assert_eq!(credentials.peer(), Some(&peer));
        assert!(!credentials.is_empty());
    }
}
