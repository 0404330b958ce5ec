//! Opaque-token introspection (DESIGN §4 pattern 3, RFC 7662): a bearer token that is not
//! a JWT is sent to the authorization server's introspection endpoint, and its answer
//! becomes a Principal.
//!
//! An [`IntrospectionVerifier`] is a [`Verifier`](crate::Verifier) like the others, and
//! sits in the same [`VerifierChain`](crate::VerifierChain) after the JWT verifier: the
//! JWT verifier declines a token that is not a JWT
//! ([`AuthError::UnsupportedTokenFormat`](crate::AuthError::UnsupportedTokenFormat)), and
//! the chain asks introspection.
//!
//! # The steps
//!
//! 1. **Decline** (the chain asks the next verifier) when the request has no bearer token.
//! 2. **Size**: a token longer than `max_token_bytes` is refused before anything else
//!    reads it.
//! 3. **Decline** a JWT-shaped token (a JWS or JWE compact token whose first segment is a
//!    JSON object). In a chain, such a token is the JWT verifier's business; if it
//!    declined it, the token is another issuer's, and sending it to this authorization
//!    server would hand a stranger's credential to a party that did not issue it. An
//!    authorization server that issues JWT access tokens and introspects them too is
//!    allowed with [`introspect_jwts`](IntrospectionVerifierBuilder::introspect_jwts).
//! 4. **Cache** ([`IntrospectionCache`]): SHA-256 over the endpoint, the verifier's
//!    configuration and the token (never the token itself). An `active` answer serves
//!    until the token's `exp` and at most [`max_ttl`](IntrospectionCacheConfig::max_ttl);
//!    an `active: false` answer for the short
//!    [`negative_ttl`](IntrospectionCacheConfig::negative_ttl). A hit re-checks the
//!    revocation list when its version moved. A hit allocates nothing but the returned
//!    Principal's reference count: one digest, one read lock.
//! 5. **Single flight**: on a miss, one call per key at a time; every verification of the
//!    same token that starts while it runs waits for its answer (a burst of a thousand
//!    requests with one new token makes one call).
//! 6. **Call**: `POST` of `token=…&token_type_hint=access_token` as
//!    `application/x-www-form-urlencoded`, with the [`ClientAuth`]
//!    (`client_secret_basic`, `client_secret_post` or a bearer credential), through the
//!    crate's one hardened HTTP client (the JWKS fetcher's): a timeout on connecting and
//!    on the whole exchange, redirects never followed, the answer read up to
//!    [`MAX_ANSWER_BYTES`], `https` only (or `http` on loopback), no proxy for loopback.
//! 7. **Answer**: status `200`, a JSON content type, a JSON object whose `active` is a
//!    boolean and whose members each appear once. `active: true` is then checked like a JWT's claims: `iss` (optional in RFC
//!    7662) must be the configured issuer when present; `exp` is **required** (an answer
//!    without it has no bound for the cache, and RFC 9068 requires it of access tokens)
//!    and with `nbf` and `iat` checked against the [`Clock`](principal::Clock) with the
//!    leeway; `aud` must name an accepted audience (unless explicitly turned off); a
//!    `token_type` of `refresh_token` is refused. The members map to a Principal through
//!    the same [`ClaimMapping`](principal::ClaimMapping) a JWT of that issuer uses, then
//!    the [revocation check](crate::revocation) runs (the JWT verifier's denylist can be
//!    given to both).
//!
//! # Failing closed, told apart
//!
//! Every way to not get a clear "yes" refuses the request, each with its own
//! [`AuthError::reason`](crate::AuthError::reason) in the audit event:
//!
//! | what happened | error | reason | HTTP |
//! | --- | --- | --- | --- |
//! | `active: false` | [`IntrospectionError::Inactive`] | `introspection_inactive` | 401 |
//! | no answer within the timeout | [`IntrospectionError::Timeout`] | `introspection_timeout` | 503 |
//! | a 3xx (never followed) | [`IntrospectionError::Redirect`] | `introspection_redirect` | 503 |
//! | a 5xx, or a 4xx other than 401/403 | [`IntrospectionError::HttpStatus`] | `introspection_http_status` | 503 |
//! | 401 or 403: this service's credentials refused | [`IntrospectionError::ClientRejected`] | `introspection_client_rejected` | 500 |
//! | connection refused, TLS failure | [`IntrospectionError::Unreachable`] | `introspection_unreachable` | 503 |
//! | not JSON, no `active`, `active` not a boolean, a member sent twice, wrong content type | [`IntrospectionError::Malformed`] | `introspection_malformed` | 503 |
//! | more than [`MAX_ANSWER_BYTES`] | [`IntrospectionError::TooLarge`] | `introspection_too_large` | 503 |
//! | `active: true` with `exp` passed | [`Expired`](crate::AuthError::Expired) | `expired` | 401 |
//! | `active: true` without `exp` | [`MissingClaim`](crate::AuthError::MissingClaim) | `missing_claim` | 401 |
//! | `active: true` for another audience or issuer | `WrongAudience`, `WrongIssuer` | `wrong_audience`, `wrong_issuer` | 401 |
//!
//! Only `active: false` is cached negatively: the others are not about the token, so the
//! next request asks again (single flight keeps a burst to one call).
//!
//! See [`IntrospectionVerifier`] for an example with a loopback endpoint. Configure it in
//! code with the builder, or from a file with [`IntrospectionSettings`] (the client's
//! secret always in code).

mod cache;
mod config;
mod settings;
mod verifier;

pub use self::cache::{
    DEFAULT_MAX_ENTRIES, DEFAULT_MAX_TTL, DEFAULT_NEGATIVE_TTL, IntrospectionCache,
    IntrospectionCacheConfig, MAX_MAX_ENTRIES, MAX_MAX_TTL, MAX_NEGATIVE_TTL,
};
pub use self::config::{DEFAULT_TIMEOUT, IntrospectionConfigError, MAX_ANSWER_BYTES, MAX_TIMEOUT};
pub use self::settings::{CacheSettings, IntrospectionSettings};
pub use self::verifier::{IntrospectionVerifier, IntrospectionVerifierBuilder};
pub use crate::client_auth::{ClientAuth, MAX_CLIENT_ID_BYTES, MAX_CLIENT_SECRET_BYTES};
pub use crate::error::IntrospectionError;
