//! The transport peer: the workload identity a mutual-TLS acceptor authenticated, and the
//! allowlist that decides which peers may send unsigned passports.
//!
//! A TLS acceptor (rustls, for HTTP behind axum or for tonic; the `mtls` module, feature
//! `mtls`) validates the client certificate, reads its SPIFFE ID and inserts a
//! [`PeerIdentity`] into the request extensions. Verifiers then see it through
//! [`Credentials::peer`](crate::credentials::Credentials::peer). Request extensions are
//! never filled from the wire, so a caller cannot send one; but any code that runs
//! before the authenticate layer can insert one, so only the transport should.
//!
//! [`SpiffeId`] follows the SPIFFE ID specification: scheme `spiffe`, a trust domain of
//! lowercase letters, digits, `.`, `-` and `_`, then path segments of letters, digits,
//! `.`, `-` and `_` (no empty, `.` or `..` segment, no trailing `/`), no query, fragment,
//! port or user info, at most 2048 bytes.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// The longest SPIFFE ID accepted, in bytes (the SPIFFE ID specification's limit for URIs).
pub const MAX_SPIFFE_ID_LEN: usize = 2048;

/// The trust domain's own longest length (a DNS-like name).
pub const MAX_TRUST_DOMAIN_LEN: usize = 255;

const SCHEME: &str = "spiffe://";

/// Why a string is not a SPIFFE ID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpiffeIdError {
    /// Longer than [`MAX_SPIFFE_ID_LEN`] bytes.
    #[error("a SPIFFE ID is at most {max} bytes, this one has {len}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// It does not start with `spiffe://` (the scheme is lowercase).
    #[error("a SPIFFE ID starts with spiffe://")]
    WrongScheme,
    /// The trust domain is empty, too long, or holds a character outside `[a-z0-9._-]`
    /// (upper case, a port, user info...).
    #[error("invalid SPIFFE trust domain")]
    InvalidTrustDomain,
    /// A path segment is empty (`//` or a trailing `/`), `.` or `..`, or holds a character
    /// outside `[A-Za-z0-9._-]` (a query, a fragment, percent-encoding...).
    #[error("invalid SPIFFE ID path")]
    InvalidPath,
}

impl SpiffeIdError {
    /// A stable snake_case label for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            SpiffeIdError::TooLong { .. } => "spiffe_id_too_long",
            SpiffeIdError::WrongScheme => "spiffe_id_wrong_scheme",
            SpiffeIdError::InvalidTrustDomain => "spiffe_id_invalid_trust_domain",
            SpiffeIdError::InvalidPath => "spiffe_id_invalid_path",
        }
    }
}

/// A validated SPIFFE ID, `spiffe://<trust domain>[/<path>]`.
///
/// ```
/// use tower_auth::peer::SpiffeId;
///
/// let id: SpiffeId = "spiffe://prod.example/ns/payments/sa/api".parse()?;
/// assert_eq!(id.trust_domain(), "prod.example");
/// assert_eq!(id.path(), "/ns/payments/sa/api");
///
/// // Rejected: another scheme, an upper-case trust domain, a `..` segment, a query.
/// for bad in ["https://prod.example/api", "spiffe://Prod.example/api",
///             "spiffe://prod.example/../api", "spiffe://prod.example/api?x=1"] {
///     assert!(bad.parse::<SpiffeId>().is_err(), "{bad}");
/// }
/// # Ok::<(), tower_auth::peer::SpiffeIdError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpiffeId {
    id: Box<str>,
    /// Where the path starts (the length of `spiffe://<trust domain>`).
    path_start: usize,
}

impl SpiffeId {
    /// Parse and validate `value`.
    pub fn new(value: &str) -> Result<Self, SpiffeIdError> {
        if value.len() > MAX_SPIFFE_ID_LEN {
            return Err(SpiffeIdError::TooLong {
                len: value.len(),
                max: MAX_SPIFFE_ID_LEN,
            });
        }
        let rest = value
            .strip_prefix(SCHEME)
            .ok_or(SpiffeIdError::WrongScheme)?;
        let domain_len = rest.find('/').unwrap_or(rest.len());
        let (domain, path) = rest.split_at(domain_len);
        if !is_valid_trust_domain(domain) {
            return Err(SpiffeIdError::InvalidTrustDomain);
        }
        if !path.is_empty() {
            // `path` starts with '/': every segment after it must be valid.
            for segment in path[1..].split('/') {
                let valid = !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
                if !valid {
                    return Err(SpiffeIdError::InvalidPath);
                }
            }
        }
        Ok(SpiffeId {
            id: value.into(),
            path_start: SCHEME.len() + domain_len,
        })
    }

    /// The whole ID.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The trust domain (`prod.example`).
    pub fn trust_domain(&self) -> &str {
        &self.id[SCHEME.len()..self.path_start]
    }

    /// The path, with its leading `/`, or empty for a trust domain's own ID.
    pub fn path(&self) -> &str {
        &self.id[self.path_start..]
    }
}

impl FromStr for SpiffeId {
    type Err = SpiffeIdError;

    fn from_str(value: &str) -> Result<Self, SpiffeIdError> {
        SpiffeId::new(value)
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl fmt::Debug for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpiffeId({})", self.id)
    }
}

/// Whether `domain` is a trust domain name: 1 to [`MAX_TRUST_DOMAIN_LEN`] bytes of
/// `[a-z0-9._-]`.
fn is_valid_trust_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= MAX_TRUST_DOMAIN_LEN
        && domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// A SPIFFE trust domain (`prod.example`): the set of workloads whose identities one
/// authority issues. A transport accepts peers of its own trust domain only.
///
/// ```
/// use tower_auth::peer::{SpiffeId, TrustDomain};
///
/// let domain: TrustDomain = "prod.example".parse()?;
/// assert!(domain.contains(&"spiffe://prod.example/ns/payments".parse::<SpiffeId>()?));
///
/// // Another trust domain, even one that merely ends the same, is not this one.
/// assert!(!domain.contains(&"spiffe://staging.prod.example/api".parse::<SpiffeId>()?));
/// // Rejected: upper case, a scheme, a path, empty.
/// for bad in ["Prod.example", "spiffe://prod.example", "prod.example/api", ""] {
///     assert!(bad.parse::<TrustDomain>().is_err(), "{bad}");
/// }
/// # Ok::<(), tower_auth::peer::SpiffeIdError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrustDomain {
    name: Box<str>,
}

impl TrustDomain {
    /// Parse and validate a trust domain name (no scheme, no path).
    pub fn new(name: &str) -> Result<Self, SpiffeIdError> {
        if !is_valid_trust_domain(name) {
            return Err(SpiffeIdError::InvalidTrustDomain);
        }
        Ok(TrustDomain { name: name.into() })
    }

    /// The name (`prod.example`).
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// Whether `id` belongs to this trust domain (its trust domain is exactly this one).
    pub fn contains(&self, id: &SpiffeId) -> bool {
        id.trust_domain() == &*self.name
    }
}

impl FromStr for TrustDomain {
    type Err = SpiffeIdError;

    fn from_str(name: &str) -> Result<Self, SpiffeIdError> {
        TrustDomain::new(name)
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Debug for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustDomain({})", self.name)
    }
}

/// The workload identity of the transport peer, as a mutual-TLS acceptor authenticated
/// it. The acceptor inserts it into the request extensions; verifiers read it through
/// [`Credentials::peer`](crate::credentials::Credentials::peer).
///
/// ```
/// use tower_auth::peer::{PeerIdentity, SpiffeId};
///
/// let peer = PeerIdentity::new("spiffe://prod.example/edge".parse::<SpiffeId>()?);
/// let mut request = http::Request::new(());
/// // What a TLS acceptor does once it has validated the client certificate.
/// request.extensions_mut().insert(peer.clone());
/// assert_eq!(request.extensions().get::<PeerIdentity>(), Some(&peer));
/// # Ok::<(), tower_auth::peer::SpiffeIdError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PeerIdentity {
    spiffe_id: SpiffeId,
}

impl PeerIdentity {
    /// The peer whose certificate carried `spiffe_id`. Only the transport, after it has
    /// validated the certificate chain, should make one.
    pub fn new(spiffe_id: SpiffeId) -> Self {
        PeerIdentity { spiffe_id }
    }

    /// The peer's SPIFFE ID.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.spiffe_id
    }
}

/// The transport peers trusted to send unsigned passports: exact SPIFFE IDs, nothing
/// matched by prefix or pattern. Shared by the HTTP and gRPC transports.
///
/// ```
/// use tower_auth::peer::{PeerAllowlist, PeerIdentity, SpiffeId};
///
/// let allow = PeerAllowlist::new(["spiffe://prod.example/edge".parse::<SpiffeId>()?]);
/// let edge = PeerIdentity::new("spiffe://prod.example/edge".parse()?);
/// assert!(allow.allows(&edge));
///
/// // Refused: another workload of the same trust domain, and a longer path.
/// assert!(!allow.allows(&PeerIdentity::new("spiffe://prod.example/batch".parse()?)));
/// assert!(!allow.allows(&PeerIdentity::new("spiffe://prod.example/edge/x".parse()?)));
/// # Ok::<(), tower_auth::peer::SpiffeIdError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerAllowlist {
    ids: HashSet<SpiffeId>,
}

impl PeerAllowlist {
    /// An allowlist of exactly these peers (empty: nobody).
    pub fn new(ids: impl IntoIterator<Item = SpiffeId>) -> Self {
        PeerAllowlist {
            ids: ids.into_iter().collect(),
        }
    }

    /// Whether `peer` is on the list.
    pub fn allows(&self, peer: &PeerIdentity) -> bool {
        self.ids.contains(&peer.spiffe_id)
    }

    /// Whether the list is empty (nobody is allowed).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The allowed IDs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &SpiffeId> {
        self.ids.iter()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids_parse_into_their_parts() {
        for (id, domain, path) in [
            ("spiffe://example.org", "example.org", ""),
            ("spiffe://example.org/a", "example.org", "/a"),
            ("spiffe://a-b_c.9/A.b-c_D/9", "a-b_c.9", "/A.b-c_D/9"),
        ] {
            let parsed: SpiffeId = id.parse().unwrap();
            assert_eq!(parsed.as_str(), id);
            assert_eq!(parsed.trust_domain(), domain);
            assert_eq!(parsed.path(), path);
        }
    }

    #[test]
    fn every_malformed_form_is_refused_with_its_reason() {
        use SpiffeIdError::*;
        let long = format!("spiffe://example.org/{}", "a".repeat(MAX_SPIFFE_ID_LEN));
        let long_domain = format!("spiffe://{}/a", "a".repeat(MAX_TRUST_DOMAIN_LEN + 1));
        let cases: &[(&str, SpiffeIdError)] = &[
            ("", WrongScheme),
            ("spiffe:/example.org/a", WrongScheme),
            ("SPIFFE://example.org/a", WrongScheme),
            ("https://example.org/a", WrongScheme),
            ("spiffe://", InvalidTrustDomain),
            ("spiffe:///a", InvalidTrustDomain),
            ("spiffe://Example.org/a", InvalidTrustDomain),
            ("spiffe://example.org:443/a", InvalidTrustDomain),
            ("spiffe://user@example.org/a", InvalidTrustDomain),
            ("spiffe://exa mple.org/a", InvalidTrustDomain),
            ("spiffe://example.org?x", InvalidTrustDomain),
            (&long_domain, InvalidTrustDomain),
            ("spiffe://example.org/", InvalidPath),
            ("spiffe://example.org/a/", InvalidPath),
            ("spiffe://example.org//a", InvalidPath),
            ("spiffe://example.org/./a", InvalidPath),
            ("spiffe://example.org/a/..", InvalidPath),
            ("spiffe://example.org/a?b=c", InvalidPath),
            ("spiffe://example.org/a#f", InvalidPath),
            ("spiffe://example.org/a%2Fb", InvalidPath),
            ("spiffe://example.org/é", InvalidPath),
        ];
        for (input, expected) in cases {
            assert_eq!(SpiffeId::new(input).as_ref(), Err(expected), "{input}");
        }
        assert!(matches!(
            SpiffeId::new(&long),
            Err(TooLong {
                max: MAX_SPIFFE_ID_LEN,
                ..
            })
        ));
        assert_eq!(
            SpiffeId::new(&long).unwrap_err().reason(),
            "spiffe_id_too_long"
        );
    }

    #[test]
    fn a_trust_domain_is_a_bare_valid_name_and_contains_its_own_ids_only() {
        let domain = TrustDomain::new("a.example").unwrap();
        assert_eq!(domain.to_string(), "a.example");
        let id = |id: &str| id.parse::<SpiffeId>().unwrap();
        assert!(domain.contains(&id("spiffe://a.example")));
        assert!(domain.contains(&id("spiffe://a.example/x/y")));
        assert!(!domain.contains(&id("spiffe://b.a.example/x")));
        assert!(!domain.contains(&id("spiffe://a.example.b/x")));
        let too_long = "a".repeat(MAX_TRUST_DOMAIN_LEN + 1);
        for bad in [
            "",
            "A.example",
            "a.example/",
            "a.example:443",
            "spiffe://a.example",
            "user@a.example",
            &too_long,
        ] {
            assert_eq!(
                TrustDomain::new(bad),
                Err(SpiffeIdError::InvalidTrustDomain),
                "{bad}"
            );
        }
        assert!(TrustDomain::new(&"a".repeat(MAX_TRUST_DOMAIN_LEN)).is_ok());
    }

    #[test]
    fn the_allowlist_matches_exact_ids_only() {
        let allow = PeerAllowlist::new(["spiffe://a.example/edge".parse().unwrap()]);
        let peer = |id: &str| PeerIdentity::new(id.parse().unwrap());
        assert!(allow.allows(&peer("spiffe://a.example/edge")));
        assert!(!allow.allows(&peer("spiffe://a.example")));
        assert!(!allow.allows(&peer("spiffe://b.example/edge")));
        assert!(!allow.allows(&peer("spiffe://a.example/edge2")));
        assert!(!PeerAllowlist::default().allows(&peer("spiffe://a.example/edge")));
        assert!(PeerAllowlist::default().is_empty());
    }
}
