//! The JWT verifier (DESIGN §4 pattern 1: every hop verifies the external JWT against
//! its issuer's keys; pattern 2 uses it for internal tokens too).
//!
//! A [`JwtVerifier`] holds one [`IssuerConfig`] per accepted issuer: its audiences, its
//! key source (a JWKS URL, OIDC discovery, RFC 8414 metadata, a static key set, HMAC
//! secrets, or a caller-run [`KeyCache`](crate::jwks::KeyCache)), its algorithms, leeway,
//! `typ`, required claims and scopes, size bound and [`ClaimMapping`](principal::ClaimMapping).
//! Configure it in code with the builders, or from a file with [`JwtVerifierSettings`].
//!
//! # The steps, cheapest first
//!
//! 1. **Size**: a token longer than the largest `max_token_bytes` is refused before
//!    anything reads it.
//! 2. **Verified-token cache** (on by default): SHA-256 of the verifier's configuration
//!    and the token; a hit is a Principal whose `exp` has not passed, whose issuer's key
//!    set may still serve, whose key is still in it unchanged, and which the current
//!    revocation list does not revoke (re-checked only for what changed since it was
//!    cached; see [`TokenCache`](crate::token_cache::TokenCache)).
//! 3. **Shape**: exactly three non-empty segments (a token without any `.` is an opaque
//!    token: a *decline*, so a [`VerifierChain`](crate::verifier::VerifierChain) asks
//!    the next verifier).
//! 4. **Header**: at most [`MAX_HEADER_BYTES`], base64url, a JSON object; `alg` a known
//!    JWA name and never `none`; any `crit` refuses (no extension is understood);
//!    `jku`, `x5u`, `jwk`, `x5c` are never read.
//! 5. **Claims**, decoded once (base64url, a JSON object); nothing in them is trusted
//!    until the signature verifies, they only name the issuer.
//! 6. **Issuer** by exact `iss` (an unknown one is a decline); the issuer's own size
//!    bound; the header's `alg` must be allowed for the issuer, before any key lookup,
//!    so a disallowed algorithm cannot make the key cache refetch.
//! 7. **Key** by `kid` in that issuer's key set only (lock-free; an unknown `kid` may
//!    cause one shared refetch per cooldown); the key's algorithm must equal the
//!    header's.
//! 8. **Signature** over the exact bytes received, decoded (strict unpadded base64url)
//!    into a stack buffer and checked with the key aws-lc parsed once, when the set
//!    loaded, for the key's own algorithm (RSA PKCS#1 v1.5 or PSS, fixed-size ECDSA,
//!    Ed25519, or HMAC compared in constant time); nothing about the key is rebuilt per
//!    token.
//! 9. **Claims checks**, with time from the verifier's [`Clock`](principal::Clock): `exp`
//!    required, `nbf`, `iat`, with the leeway; `aud` (unless explicitly turned off);
//!    `typ` if required; required claims.
//! 10. **Principal** from the issuer's claim mapping (its issuer must be the token's).
//! 11. **Revocation** check, on every verification that missed the cache.
//! 12. **Required scopes** (`insufficient_scope` when missing), then the
//!     [`VerifiedPrincipal`](crate::verified::VerifiedPrincipal) goes into the cache.
//!
//! # Attacks, and how each is avoided
//!
//! | attack | defence |
//! | --- | --- |
//! | `alg: none` (any spelling) | not a known algorithm name: refused at the header |
//! | HS256 signed with an RSA/EC public key as the secret | HMAC is allowed only for issuers configured with secrets, and never together with asymmetric algorithms; the key's algorithm must equal the header's |
//! | `jku` / `x5u` / `jwk` / `x5c` pointing at the attacker's key | never read: keys come from the issuer's configured source only |
//! | `kid` of another issuer's key | keys are looked up in the token's issuer's set only |
//! | a token of issuer A claiming issuer B | the signature is checked with B's keys, so it fails |
//! | unknown `crit` extension | refused (RFC 7515 §4.1.11) |
//! | ID token or other JWT used as an access token | `require_typ("at+jwt")` (RFC 9068 §4) |
//! | token for another service | `aud` required and checked |
//! | huge tokens, headers, claims, `act` chains | bounded before and while parsing |
//! | parser confusion (arrays for objects, duplicate header members, padded base64) | refused |
//! | revoked `jti`, `sid`, subject | revocation check on every verification; the cache is dropped when the list changes |
//!
//! Tokens are never logged and errors carry no token material beyond short, bounded
//! echoes of header values (`alg`, `kid`, `typ`, `crit`) and `iss`.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use http::{Request, Response, StatusCode};
//! use principal::{Audience, Issuer};
//! use serde_json::json;
//! use tower::{ServiceExt, service_fn};
//! use tower_auth::authenticate::AuthenticateLayer;
//! use tower_auth::dev_idp::DevIdp;
//! use tower_auth::jwks::StartupPolicy;
//! use tower_auth::jwt::{IssuerConfig, JwtVerifier};
//! use tower_auth::VerifiedPrincipal;
//! use tower_layer::Layer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let idp = DevIdp::start("127.0.0.1:0".parse()?).await?;
//! let verifier = JwtVerifier::builder()
//!     .issuer(
//!         IssuerConfig::builder(Issuer::new(idp.issuer())?)
//!             .audience(Audience::new("orders-api")?)
//!             .oidc_discovery()
//!             .build()?,
//!     )
//!     .build()?;
//! verifier.warm(StartupPolicy::FailIfUnavailable).await?;
//!
//! let service = AuthenticateLayer::new(Arc::new(verifier)).layer(service_fn(
//!     |request: Request<String>| async move {
//!         let who = request.extensions().get::<VerifiedPrincipal>().map(|p| p.subject().to_owned());
//!         Ok::<_, std::convert::Infallible>(Response::new(who.unwrap_or_default()))
//!     },
//! ));
//! let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 300;
//! let bearer = |claims| -> Result<Request<String>, Box<dyn std::error::Error>> {
//!     let token = idp.issue(claims, jsonwebtoken::Algorithm::ES256)?;
//!     Ok(Request::builder().header("authorization", format!("Bearer {token}")).body(String::new())?)
//! };
//!
//! let request = bearer(json!({"iss": idp.issuer(), "sub": "alice", "aud": "orders-api", "exp": exp}))?;
//! let response = service.clone().oneshot(request).await?;
//! assert_eq!(response.body(), "alice");
//!
//! // Rejected: a token for another audience.
//! let request = bearer(json!({"iss": idp.issuer(), "sub": "alice", "aud": "billing", "exp": exp}))?;
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! # Ok(())
//! # }
//! ```

pub(crate) mod checks;
mod config;
mod settings;
mod token;
mod verifier;

pub use self::config::{
    ConfigError, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES, IssuerConfig, IssuerConfigBuilder,
    KeySource, MAX_CLAIM_NAME_BYTES, MAX_LEEWAY, MAX_MAX_TOKEN_BYTES, MAX_REQUIRED_CLAIMS,
    MAX_TYP_BYTES,
};
pub(crate) use self::settings::claim_mapping;
pub use self::settings::{
    IssuerSettings, JwtPattern, JwtVerifierSettings, KeySettings, MAX_JWKS_FILE_BYTES,
    MappingPreset, RefreshSettings,
};
pub use self::token::MAX_HEADER_BYTES;
pub use self::verifier::{JwtVerifier, JwtVerifierBuilder, WarmError};
