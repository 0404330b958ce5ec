//! Internal JWT minting (DESIGN §4 pattern 2): the edge verifies once, then mints a
//! short-lived, audience-scoped token per downstream call; each hop verifies it with the
//! ordinary [`JwtVerifier`](crate::jwt::JwtVerifier).
//!
//! | piece | what it does |
//! | --- | --- |
//! | [`SigningKey`] | an ES256 or EdDSA private key (generated with aws-lc-rs, or from PKCS#8), its `kid` (RFC 7638 thumbprint by default) and public JWK; never in `Debug` |
//! | [`InternalIssuer`] | signs the tokens; key ring with [`rotate`](InternalIssuer::rotate) and [`retire`](InternalIssuer::retire); the JWKS and discovery documents |
//! | [`JwksService`] | a tower service serving `/.well-known/jwks.json` and `/.well-known/openid-configuration`, mountable in axum |
//! | [`MintCache`] | tokens per (Principal, audience) until shortly before expiry; a burst for one pair mints once |
//!
//! # The token (DESIGN §3, RFC 9068 and RFC 8693)
//!
//! Header `{"alg": "ES256"|"EdDSA", "typ": "at+jwt", "kid": …}`. Claims are
//! [`Principal::to_claims`](principal::Principal::to_claims), the exact inverse of
//! [`ClaimMapping::baton`](principal::ClaimMapping::baton), with `iss` the issuer, exactly
//! one `aud` (a string), `iat`, `exp` (the lifetime, default 5 min, at most 15 min, never
//! after the Principal's expiry), a random `jti`, `scope` as a space-separated string and
//! the `act` chain (newest actor outermost).
//!
//! Signing uses aws-lc-rs directly with the key parsed once: jsonwebtoken's
//! `EncodingKey` would parse the PKCS#8 document again for every token. The header is
//! encoded once per key.
//!
//! # Invariants held at minting ([`MintError`])
//!
//! | refused | why |
//! | --- | --- |
//! | an expired or not-yet-valid Principal | a token is never made for a Principal that is not valid now |
//! | a delegation chain longer than the issuer's maximum (default 4) | the chain is bounded at every hop |
//! | a scope set wider than the Principal's | minting only narrows |
//!
//! and `exp` never exceeds the Principal's `expires_at`. Each refusal emits one
//! `tracing` warning on target [`MINT_TARGET`] with the issuer, principal id, kind, chain
//! depth, audience, outcome and reason; tokens are never logged.
//!
//! # The receiving hop
//!
//! ```text
//! IssuerConfig::builder(internal_issuer)
//!     .audience(this_service)          // a token for another service is refused
//!     .oidc_discovery()                // fetches the JwksService's documents
//!     .algorithms([ES256])             // or EdDSA: what the issuer signs with
//!     .require_typ("at+jwt")           // an ID token or an external token is refused
//!     .claim_mapping(ClaimMapping::baton())
//! JwtVerifier::builder().pattern(Pattern::InternalJwt)
//! ```
//!
//! The baton mapping refuses a chain deeper than its maximum (default 4) too, so a token
//! signed by a compromised or misconfigured minter with a longer chain is refused at the
//! hop as well.
//!
//! # Defaults
//!
//! | setting | default | bound | why |
//! | --- | --- | --- | --- |
//! | token lifetime | 5 min | 1 s to 15 min | a leaked internal token is useful for minutes only |
//! | leeway after a rotated key's last token | 30 s | 300 s | the verifiers' clock leeway: their last accepted moment |
//! | maximum delegation depth | 4 | 8 | DESIGN §2 |
//! | JWKS `max-age` | 60 s | 1 h | verifiers stop trusting a retired key within it (their key cache's own floor applies) |
//! | cache renewal margin | 60 s | below the lifetime | a cached token always has a minute left |
//! | cache entries | 10 000 | at least 1 | bounded memory |

mod cache;
mod issuer;
mod key;
mod service;

use std::fmt;
use std::sync::Arc;

use principal::{Audience, Timestamp};

pub use cache::{DEFAULT_MAX_ENTRIES, DEFAULT_RENEW_BEFORE, MintCache, MintCacheBuilder};
pub use issuer::{
    DEFAULT_JWKS_MAX_AGE, DEFAULT_TOKEN_LIFETIME, InternalIssuer, InternalIssuerBuilder,
    MAX_JWKS_MAX_AGE, MAX_TOKEN_LIFETIME, MINT_TARGET,
};
pub use key::{MAX_KID_BYTES, SigningAlgorithm, SigningKey};
pub use service::JwksService;

/// The header `typ` of every minted token (RFC 9068 §2.1).
pub const TOKEN_TYPE: &str = "at+jwt";
/// Where [`JwksService`] serves the JWKS, relative to the issuer.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// Where [`JwksService`] serves the OpenID Connect discovery document, relative to the
/// issuer.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// A minted internal JWT. Cheap to clone. `Debug` never shows the token.
#[derive(Clone)]
pub struct MintedToken {
    token: Arc<str>,
    audience: Audience,
    expires_at: Timestamp,
    kid: Arc<str>,
    jti: Arc<str>,
}

impl MintedToken {
    /// The compact JWT, for `Authorization: Bearer …` (or `x-baton-internal-token`).
    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// The audience it was minted for (`aud`).
    pub fn audience(&self) -> &Audience {
        &self.audience
    }

    /// Its `exp`.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// The id of the key that signed it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Its `jti`.
    pub fn jti(&self) -> &str {
        &self.jti
    }
}

impl fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedToken")
            .field("token", &"[redacted]")
            .field("audience", &self.audience)
            .field("expires_at", &self.expires_at)
            .field("kid", &self.kid)
            .field("jti", &self.jti)
            .finish()
    }
}

/// A token was not minted: what the Principal or the request would break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// The Principal has expired.
    #[error("the Principal expired at {expires_at} (now {now})")]
    PrincipalExpired {
        /// Its `expires_at`.
        expires_at: Timestamp,
        /// The issuer's clock.
        now: Timestamp,
    },
    /// The Principal's `not_before` is still ahead.
    #[error("the Principal is not valid yet (now {now})")]
    PrincipalNotYetValid {
        /// The issuer's clock.
        now: Timestamp,
    },
    /// The delegation chain is longer than the issuer mints.
    #[error("delegation chain of {depth} actors is above the maximum of {max}")]
    DelegationTooDeep {
        /// The chain's length.
        depth: usize,
        /// The issuer's maximum.
        max: usize,
    },
    /// A requested scope is not among the Principal's: minting only narrows.
    #[error("scope {scope:?} is not the Principal's; a minted token can only narrow")]
    ScopeWidening {
        /// The first such scope.
        scope: String,
    },
    /// A fault of this crate or the crypto backend, not of the request.
    #[error("internal error: {why}")]
    Internal {
        /// What failed.
        why: &'static str,
    },
}

impl MintError {
    /// A stable snake_case reason for logs and metrics.
    ///
    /// ```
    /// use tower_auth::mint::MintError;
    /// assert_eq!(MintError::DelegationTooDeep { depth: 5, max: 4 }.reason(), "delegation_too_deep");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            MintError::PrincipalExpired { .. } => "principal_expired",
            MintError::PrincipalNotYetValid { .. } => "principal_not_yet_valid",
            MintError::DelegationTooDeep { .. } => "delegation_too_deep",
            MintError::ScopeWidening { .. } => "scope_widening",
            MintError::Internal { .. } => "internal",
        }
    }
}

/// An issuer, key or cache setting was refused, or a key ring change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MintConfigError {
    /// aws-lc-rs could not generate a key.
    #[error("could not generate a {algorithm} key")]
    KeyGeneration {
        /// The algorithm.
        algorithm: SigningAlgorithm,
    },
    /// The PKCS#8 document is not a key of the algorithm.
    #[error("not a valid PKCS#8 {algorithm} private key")]
    InvalidKey {
        /// The algorithm.
        algorithm: SigningAlgorithm,
    },
    /// A key id is empty, too long, or has characters outside `A-Z a-z 0-9 - _ .`.
    #[error("a key id must be 1 to 128 characters of A-Z a-z 0-9 - _ .")]
    InvalidKeyId,
    /// The key ring already holds a key with this id.
    #[error("key id {kid} is already in the key ring")]
    DuplicateKeyId {
        /// The key id.
        kid: String,
    },
    /// No key of the ring has this id.
    #[error("no key with id {kid} in the key ring")]
    UnknownKeyId {
        /// The key id, cut to 128 characters.
        kid: String,
    },
    /// The current key cannot be retired: rotate to a new key first.
    #[error("the current signing key cannot be retired; rotate first")]
    RetireCurrentKey,
    /// The issuer is not a URL the verifiers' OpenID Connect discovery accepts (`https`,
    /// or `http` on loopback; no credentials, query or fragment).
    #[error("issuer is not discoverable: {source}")]
    IssuerNotDiscoverable {
        /// What the discovery rules said.
        #[source]
        source: crate::jwks::JwksConfigError,
    },
    /// The token lifetime is not between 1 s and [`MAX_TOKEN_LIFETIME`].
    #[error("token lifetime of {requested_seconds}s is not between 1s and {max_seconds}s")]
    LifetimeOutOfRange {
        /// Asked for, seconds.
        requested_seconds: u64,
        /// The cap, seconds.
        max_seconds: u64,
    },
    /// The leeway is above [`MAX_LEEWAY`](crate::jwt::MAX_LEEWAY).
    #[error("leeway of {requested_seconds}s is above the cap of {max_seconds}s")]
    LeewayTooLarge {
        /// Asked for, seconds.
        requested_seconds: u64,
        /// The cap, seconds.
        max_seconds: u64,
    },
    /// The delegation depth is above the hard cap of the model.
    #[error("maximum delegation depth {requested} is above the hard cap of {cap}")]
    DepthAboveHardCap {
        /// Asked for.
        requested: usize,
        /// The cap.
        cap: usize,
    },
    /// The JWKS `max-age` is above [`MAX_JWKS_MAX_AGE`].
    #[error("JWKS max-age of {requested_seconds}s is above the cap of {max_seconds}s")]
    MaxAgeTooLarge {
        /// Asked for, seconds.
        requested_seconds: u64,
        /// The cap, seconds.
        max_seconds: u64,
    },
    /// The cache's renewal margin is not shorter than the token lifetime: nothing would
    /// ever be served from the cache.
    #[error(
        "renew_before of {renew_before_seconds}s is not shorter than the token lifetime of {lifetime_seconds}s"
    )]
    RenewMarginTooLarge {
        /// The margin, seconds.
        renew_before_seconds: u64,
        /// The issuer's token lifetime, seconds.
        lifetime_seconds: u64,
    },
    /// The cache may hold no entry.
    #[error("max_entries must be at least 1")]
    NoCacheEntries,
}

impl MintConfigError {
    /// A stable snake_case reason for logs and metrics.
    ///
    /// ```
    /// use tower_auth::mint::MintConfigError;
    /// assert_eq!(MintConfigError::RetireCurrentKey.reason(), "retire_current_key");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            MintConfigError::KeyGeneration { .. } => "key_generation_failed",
            MintConfigError::InvalidKey { .. } => "invalid_key",
            MintConfigError::InvalidKeyId => "invalid_kid",
            MintConfigError::DuplicateKeyId { .. } => "duplicate_kid",
            MintConfigError::UnknownKeyId { .. } => "unknown_kid",
            MintConfigError::RetireCurrentKey => "retire_current_key",
            MintConfigError::IssuerNotDiscoverable { .. } => "issuer_not_discoverable",
            MintConfigError::LifetimeOutOfRange { .. } => "lifetime_out_of_range",
            MintConfigError::LeewayTooLarge { .. } => "leeway_too_large",
            MintConfigError::DepthAboveHardCap { .. } => "depth_above_hard_cap",
            MintConfigError::MaxAgeTooLarge { .. } => "max_age_too_large",
            MintConfigError::RenewMarginTooLarge { .. } => "renew_margin_too_large",
            MintConfigError::NoCacheEntries => "no_cache_entries",
        }
    }
}

#[cfg(test)]
mod tests;
