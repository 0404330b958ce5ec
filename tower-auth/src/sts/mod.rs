//! An embeddable security token service: RFC 8693 token exchange, with RFC 7662
//! introspection and RFC 7009 revocation of the tokens it issued, a versioned revocation
//! feed, and RFC 8414 metadata. One tower service, [`TokenExchangeService`], mounted in
//! axum at the URL of its [`InternalIssuer`](crate::mint::InternalIssuer).
//!
//! | path (relative to the issuer) | method | what |
//! | --- | --- | --- |
//! | [`TOKEN_PATH`] | `POST` | RFC 8693 token exchange |
//! | [`INTROSPECTION_PATH`] | `POST` | RFC 7662 introspection of the tokens this service issued |
//! | [`REVOCATION_PATH`] | `POST` | RFC 7009 revocation of the tokens this service issued |
//! | [`REVOCATION_FEED_PATH`] | `GET` | the revoked `jti`s since a version (`?since=N`), with an `ETag` |
//! | [`METADATA_PATH`] | `GET` | RFC 8414 authorization server metadata |
//! | `/.well-known/jwks.json`, `/.well-known/openid-configuration` | `GET` | the issuer's keys, when [`serve_jwks`](TokenExchangeServiceBuilder::serve_jwks) is on |
//!
//! # A token exchange, step by step
//!
//! 1. The calling client authenticates with `client_secret_basic` or `client_secret_post`
//!    (never both) against the [`RegisteredClient`]s; secrets are held only as SHA-256
//!    digests and compared in constant time. Failure: `invalid_client`, 401, with
//!    `WWW-Authenticate: Basic`.
//! 2. `grant_type` must be [`TOKEN_EXCHANGE_GRANT`] (absent: `invalid_request`; another:
//!    `unsupported_grant_type`); a client allowed no audience is `unauthorized_client`.
//! 3. Exactly one target (`audience` or `resource`), one the client may reach, else
//!    `invalid_target`. `scope`, if given, parses, else `invalid_scope`.
//! 4. The subject token (`subject_token_type` [`ACCESS_TOKEN_TYPE`] or [`JWT_TOKEN_TYPE`])
//!    is verified by the configured [`Verifier`](crate::Verifier) (a JWT verifier, the
//!    introspection verifier, a passport verifier, or a chain; further token types each
//!    with their own verifier, see
//!    [`token_type`](TokenExchangeServiceBuilder::token_type)); a token this service
//!    issued and has revoked is refused whatever the verifier says. The actor token, when
//!    present, is verified the same way (by the actor verifier, the subject's by default).
//! 5. Policy ([`ExchangePolicy`]): every actor of the chain minted (those the subject
//!    token names and the new one) is of a kind that may act for the subject's kind
//!    ([`ActingPolicy`]); the new actor is not itself delegated; the subject's `may_act`, when present, names
//!    it; the chain stays within the maximum depth; the scopes are the requested ones (the
//!    subject's when none are asked) and must be within the subject's and the actor's:
//!    only narrowed, never widened (`invalid_scope`).
//! 6. The result is minted by the internal issuer: one `aud`, its short lifetime (never
//!    past the subject's or the actor's expiry), the `act` chain extended by the actor
//!    (with the calling client as `act.client_id`), recorded by the digest of the token
//!    (never the token) for introspection and revocation. The subject's `may_act` is
//!    kept, so a later exchange must still name its actor. To re-target a delegated
//!    token, exchange it without an actor token (the model never repeats an actor).
//!
//! # Agent keys
//!
//! With [`agent_keys`](TokenExchangeServiceBuilder::agent_keys), an agent API key
//! ([`crate::agent_keys`]) is a subject token of type [`AGENT_KEY_TOKEN_TYPE`]. Steps 1
//! to 3 are as above; then, in place of a verifier:
//!
//! 1. the key is authenticated by the [`AgentKeyStore`](crate::agent_keys::AgentKeyStore)
//!    at the service's clock: a malformed, unknown, wrong, revoked or expired key is
//!    [`StsError::AgentKeyRefused`], `invalid_grant`;
//! 2. the human the key is bound to is looked up in the
//!    [`HumanDirectory`](crate::agent_keys::HumanDirectory) *now*: a human who no longer
//!    exists is [`StsError::HumanUnknown`], `invalid_grant` (a key never outlives its
//!    human). A store or directory that cannot answer is `temporarily_unavailable` (503):
//!    nothing is minted on a guess;
//! 3. the subject is the human (`kind = Human`, this service as issuer, the directory's
//!    roles and tenant) with the agent as its one actor (`act`, with the calling client as
//!    `act.client_id`), holding [`AgentGrant::effective_scopes`](crate::agent_keys::AgentGrant::effective_scopes):
//!    the key's grant intersected with the human's current scopes, and expiring with the
//!    key. Step 5 then applies to it unchanged: the acting policy must let an agent act
//!    for a human, the chain must fit the maximum depth, and a requested `scope` only
//!    narrows (`invalid_scope` otherwise). An actor token may extend the chain as usual.
//!
//! An agent key is never an actor token (`actor_token_type` [`AGENT_KEY_TOKEN_TYPE`] is
//! `invalid_request`): the key already names both parties.
//!
//! Why a dedicated builder method and not a [`Verifier`](crate::Verifier) registered with
//! [`token_type`](TokenExchangeServiceBuilder::token_type): a verifier's refusal is an
//! [`AuthError`](crate::AuthError), which this service answers as a refused token
//! (`invalid_request`, RFC 8693 §2.2.2) and which cannot say "the store is down" apart from
//! "the key is bad"; an agent key is the agent's long-lived grant, and its refusal is
//! `invalid_grant` (RFC 6749 §5.2: the grant is invalid, expired or revoked), what
//! [`AgentKeyError::is_rejection`](crate::agent_keys::AgentKeyError::is_rejection)
//! promises; a failing store must be a 5xx. And a verifier is also what the authenticate
//! layer takes: an agent-key verifier could be mounted at every service, accepting a
//! long-lived key on each request, which is exactly what the exchange exists to prevent.
//! Here the key is good for one thing: a short-lived token from this service.
//!
//! RFC 8693 §2.2.2 says a subject or actor token that is invalid "for any reason, or
//! unacceptable based on policy" is `invalid_request`: so are an expired, revoked or
//! forged token, a wrong token type, an actor `may_act` does not name, a kind that may not
//! act, and a chain at its maximum depth. The precise reason ([`StsError::reason`]) goes to
//! the audit event (target [`STS_TARGET`]), never to the client, and no error echoes a
//! token. Every answer carries `Cache-Control: no-store`.
//!
//! # Deployment caveats
//!
//! - Client secrets are hashed with plain SHA-256: right for the high-entropy secrets an
//!   operator generates (at least [`MIN_CLIENT_SECRET_BYTES`] bytes are required), not
//!   for passwords a person chooses.
//! - The record of issued tokens is in memory and per instance, bounded
//!   ([`DEFAULT_MAX_ISSUED_TOKENS`]); when it is full of unexpired tokens, exchanges
//!   answer `temporarily_unavailable` (503) rather than issue a token that could not be
//!   revoked. The revocation feed is public (it lists `jti`s and expiries, no token).
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use axum::Router;
//! use http::{Request, StatusCode};
//! use principal::{Audience, Issuer};
//! use tower::ServiceExt;
//! use tower_auth::jwt::{IssuerConfig, JwtVerifier};
//! use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
//! use tower_auth::sts::{ClientSecret, RegisteredClient, TokenExchangeService};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = InternalIssuer::builder(
//!     Issuer::new("https://sts.internal")?,
//!     SigningKey::generate(SigningAlgorithm::Es256)?,
//! )
//! .build()?;
//! // Subject tokens: the company IdP's access tokens, for the audience `sts`.
//! let idp = IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
//!     .audience(Audience::new("sts")?)
//!     .oidc_discovery()
//!     .build()?;
//! let subjects = JwtVerifier::builder().issuer(idp).build()?;
//! let gateway = RegisteredClient::new("gateway", ClientSecret::new("a-long-random-secret-0123456789")?)?
//!     .may_exchange_for(Audience::new("orders-api")?);
//! let sts = TokenExchangeService::builder(issuer, Arc::new(subjects))
//!     .client(gateway)
//!     .serve_jwks()
//!     .build()?;
//! let app: Router = Router::new().fallback_service(sts);
//!
//! let metadata = Request::get("/.well-known/oauth-authorization-server").body(axum::body::Body::empty())?;
//! assert_eq!(app.clone().oneshot(metadata).await?.status(), StatusCode::OK);
//! // Refused: an exchange without client authentication.
//! let anonymous = Request::post("/token")
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .body(axum::body::Body::from("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"))?;
//! let response = app.oneshot(anonymous).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert!(response.headers().contains_key("www-authenticate"));
//! # Ok(())
//! # }
//! ```

mod client;
mod form;
mod policy;
mod record;
mod service;

pub use client::{ClientSecret, MAX_CLIENT_ID_BYTES, MIN_CLIENT_SECRET_BYTES, RegisteredClient};
pub use policy::{ActingPolicy, ExchangePolicy};
pub use record::{DEFAULT_MAX_ISSUED_TOKENS, RevocationList, RevokedToken};
pub use service::{ResponseFuture, TokenExchangeService, TokenExchangeServiceBuilder};

use http::StatusCode;
use principal::Kind;

/// The `tracing` target of the service's audit events.
pub const STS_TARGET: &str = "tower_auth::sts";
/// RFC 8693 §2.1: the `grant_type` of a token exchange (the client's
/// [`GRANT_TYPE`](crate::exchange::GRANT_TYPE), spelled once).
pub const TOKEN_EXCHANGE_GRANT: &str = crate::exchange::GRANT_TYPE;
/// RFC 8693 §3: an OAuth 2.0 access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 8693 §3: a JWT.
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// An agent API key ([`crate::agent_keys`]) as a subject token (Baton's own token type,
/// taken when [`agent_keys`](TokenExchangeServiceBuilder::agent_keys) is configured).
pub const AGENT_KEY_TOKEN_TYPE: &str = "urn:baton:params:oauth:token-type:agent-key";
/// The token endpoint, relative to the issuer.
pub const TOKEN_PATH: &str = "/token";
/// The RFC 7662 introspection endpoint, relative to the issuer.
pub const INTROSPECTION_PATH: &str = "/introspect";
/// The RFC 7009 revocation endpoint, relative to the issuer.
pub const REVOCATION_PATH: &str = "/revoke";
/// The revocation feed (`GET`, `?since=<version>`), relative to the issuer.
pub const REVOCATION_FEED_PATH: &str = "/revocations";
/// The RFC 8414 metadata document, relative to the issuer.
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// The largest form body read (tokens included).
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// A request to the token service was refused. [`error_code`](Self::error_code) is what
/// the client sees (RFC 6749 §5.2); [`reason`](Self::reason) is for the audit event. The
/// refusal also rides in the response's extensions (for layers in the same process).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StsError {
    /// The body is not a form of at most [`MAX_FORM_BYTES`], or not UTF-8.
    #[error("malformed request: {why}")]
    MalformedRequest {
        /// What is wrong.
        why: &'static str,
    },
    /// A required parameter is missing (or empty).
    #[error("missing parameter {name}")]
    MissingParameter {
        /// The parameter.
        name: &'static str,
    },
    /// A parameter appears more than once (RFC 6749 §3.2).
    #[error("parameter {name} given more than once")]
    DuplicateParameter {
        /// The parameter.
        name: &'static str,
    },
    /// `grant_type` is not token exchange.
    #[error("unsupported grant type")]
    UnsupportedGrantType,
    /// A token type this service does not take or issue.
    #[error("unsupported {parameter}")]
    UnsupportedTokenType {
        /// `subject_token_type`, `actor_token_type` or `requested_token_type`.
        parameter: &'static str,
    },
    /// `actor_token` without `actor_token_type`, or the reverse.
    #[error("actor_token and actor_token_type go together")]
    ActorTokenTypeMismatch,
    /// No client authentication was presented.
    #[error("no client authentication")]
    NoClientAuthentication,
    /// Both `client_secret_basic` and `client_secret_post` were used (RFC 6749 §2.3).
    #[error("more than one client authentication method")]
    MultipleClientAuthentications,
    /// The `Authorization` header is not well-formed HTTP Basic.
    #[error("malformed client authentication")]
    MalformedClientAuthentication,
    /// No registered client has this id.
    #[error("unknown client")]
    UnknownClient,
    /// The client's secret does not match.
    #[error("wrong client secret")]
    WrongClientSecret,
    /// The client may exchange for no audience, or may not introspect.
    #[error("the client is not authorized for this")]
    UnauthorizedClient,
    /// The client revoked a token issued to another client.
    #[error("the token was issued to another client")]
    NotTheTokensClient,
    /// No `audience` or `resource` was given.
    #[error("no target audience")]
    NoTarget,
    /// More than one target: a minted token has exactly one `aud`.
    #[error("more than one target audience")]
    MultipleTargets,
    /// The target is not a valid audience.
    #[error("the target is not a valid audience")]
    InvalidTarget,
    /// The client may not exchange for this audience.
    #[error("the client may not exchange for audience {audience}")]
    TargetNotAllowed {
        /// The audience asked for.
        audience: String,
    },
    /// `scope` is not a valid scope string.
    #[error("scope is not a valid scope string")]
    InvalidScope,
    /// A requested scope is not the subject's (or the actor's): exchange only narrows.
    #[error("scope {scope:?} is not held by the subject and actor; exchange only narrows")]
    ScopeWidening {
        /// The first such scope.
        scope: String,
    },
    /// The subject token was refused by the verifier.
    #[error("subject token refused: {reason}")]
    SubjectTokenRefused {
        /// The verifier's [`AuthError::reason`](crate::AuthError::reason).
        reason: &'static str,
    },
    /// The subject token was issued by this service and revoked.
    #[error("subject token revoked")]
    SubjectTokenRevoked,
    /// The actor token was refused by the verifier.
    #[error("actor token refused: {reason}")]
    ActorTokenRefused {
        /// The verifier's [`AuthError::reason`](crate::AuthError::reason).
        reason: &'static str,
    },
    /// The actor token was issued by this service and revoked.
    #[error("actor token revoked")]
    ActorTokenRevoked,
    /// The actor token is itself delegated: an actor acts as itself.
    #[error("the actor token is itself delegated")]
    ActorDelegated,
    /// The subject's `may_act` does not name the actor (or is not an object with `sub`).
    #[error("the subject's may_act does not name the actor")]
    NotPermittedByMayAct,
    /// The policy requires `may_act` and the subject has none.
    #[error("the subject has no may_act and the policy requires one")]
    MayActRequired,
    /// This kind of actor may not act for this kind of subject.
    #[error("a {actor} may not act for a {subject}")]
    KindMayNotAct {
        /// The actor's kind.
        actor: Kind,
        /// The subject's kind.
        subject: Kind,
    },
    /// The chain would exceed the maximum delegation depth.
    #[error("delegation chain of {depth} actors would exceed the maximum of {max}")]
    DelegationTooDeep {
        /// The chain's length with the new actor.
        depth: usize,
        /// The maximum.
        max: usize,
    },
    /// The model refused the extended chain (an actor repeated, the actor is the subject).
    #[error("delegation refused: {reason}")]
    DelegationRefused {
        /// The model's reason.
        reason: &'static str,
    },
    /// The agent key presented as the subject token was refused by the store (malformed,
    /// unknown, wrong secret, revoked, expired).
    #[error("agent key refused: {reason}")]
    AgentKeyRefused {
        /// The store's [`AgentKeyError::reason`](crate::agent_keys::AgentKeyError::reason).
        reason: &'static str,
    },
    /// The human an agent key acts for is not in the directory (any more).
    #[error("the human the agent key acts for does not exist")]
    HumanUnknown,
    /// The agent key store could not answer; nothing was accepted.
    #[error("agent key store unavailable: {reason}")]
    AgentKeyStoreUnavailable {
        /// The store's [`AgentKeyError::reason`](crate::agent_keys::AgentKeyError::reason).
        reason: &'static str,
    },
    /// The human directory could not answer; nothing was accepted.
    #[error("human directory unavailable")]
    HumanDirectoryUnavailable,
    /// The record of issued tokens is full of unexpired tokens.
    #[error("the record of issued tokens is full")]
    RecordFull,
    /// A fault of this crate or the crypto backend, not of the request.
    #[error("internal error: {why}")]
    Internal {
        /// What failed.
        why: &'static str,
    },
}

impl StsError {
    /// The RFC 6749 §5.2 (and RFC 8693 §2.2.2) `error` code the client sees.
    ///
    /// ```
    /// use tower_auth::sts::StsError;
    /// assert_eq!(StsError::WrongClientSecret.error_code(), "invalid_client");
    /// assert_eq!(StsError::SubjectTokenRevoked.error_code(), "invalid_request");
    /// assert_eq!(StsError::NoTarget.error_code(), "invalid_target");
    /// assert_eq!(StsError::HumanUnknown.error_code(), "invalid_grant");
    /// ```
    pub fn error_code(&self) -> &'static str {
        match self {
            StsError::NoClientAuthentication
            | StsError::MalformedClientAuthentication
            | StsError::UnknownClient
            | StsError::WrongClientSecret => "invalid_client",
            StsError::UnsupportedGrantType => "unsupported_grant_type",
            StsError::UnauthorizedClient | StsError::NotTheTokensClient => "unauthorized_client",
            StsError::NoTarget
            | StsError::MultipleTargets
            | StsError::InvalidTarget
            | StsError::TargetNotAllowed { .. } => "invalid_target",
            StsError::InvalidScope | StsError::ScopeWidening { .. } => "invalid_scope",
            StsError::AgentKeyRefused { .. } | StsError::HumanUnknown => "invalid_grant",
            StsError::RecordFull
            | StsError::AgentKeyStoreUnavailable { .. }
            | StsError::HumanDirectoryUnavailable => "temporarily_unavailable",
            StsError::Internal { .. } => "server_error",
            StsError::MalformedRequest { .. }
            | StsError::MissingParameter { .. }
            | StsError::DuplicateParameter { .. }
            | StsError::UnsupportedTokenType { .. }
            | StsError::ActorTokenTypeMismatch
            | StsError::MultipleClientAuthentications
            | StsError::SubjectTokenRefused { .. }
            | StsError::SubjectTokenRevoked
            | StsError::ActorTokenRefused { .. }
            | StsError::ActorTokenRevoked
            | StsError::ActorDelegated
            | StsError::NotPermittedByMayAct
            | StsError::MayActRequired
            | StsError::KindMayNotAct { .. }
            | StsError::DelegationTooDeep { .. }
            | StsError::DelegationRefused { .. } => "invalid_request",
        }
    }

    /// The HTTP status: 401 for `invalid_client`, 503 for `temporarily_unavailable`, 500
    /// for `server_error`, 400 otherwise.
    pub fn status(&self) -> StatusCode {
        match self.error_code() {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A stable snake_case reason for logs and metrics.
    ///
    /// ```
    /// use tower_auth::sts::StsError;
    /// assert_eq!(StsError::NotPermittedByMayAct.reason(), "not_permitted_by_may_act");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            StsError::MalformedRequest { .. } => "malformed_request",
            StsError::MissingParameter { .. } => "missing_parameter",
            StsError::DuplicateParameter { .. } => "duplicate_parameter",
            StsError::UnsupportedGrantType => "unsupported_grant_type",
            StsError::UnsupportedTokenType { .. } => "unsupported_token_type",
            StsError::ActorTokenTypeMismatch => "actor_token_type_mismatch",
            StsError::NoClientAuthentication => "no_client_authentication",
            StsError::MultipleClientAuthentications => "multiple_client_authentications",
            StsError::MalformedClientAuthentication => "malformed_client_authentication",
            StsError::UnknownClient => "unknown_client",
            StsError::WrongClientSecret => "wrong_client_secret",
            StsError::UnauthorizedClient => "unauthorized_client",
            StsError::NotTheTokensClient => "not_the_tokens_client",
            StsError::NoTarget => "no_target",
            StsError::MultipleTargets => "multiple_targets",
            StsError::InvalidTarget => "invalid_target",
            StsError::TargetNotAllowed { .. } => "target_not_allowed",
            StsError::InvalidScope => "invalid_scope",
            StsError::ScopeWidening { .. } => "scope_widening",
            StsError::SubjectTokenRefused { .. } => "subject_token_refused",
            StsError::SubjectTokenRevoked => "subject_token_revoked",
            StsError::ActorTokenRefused { .. } => "actor_token_refused",
            StsError::ActorTokenRevoked => "actor_token_revoked",
            StsError::ActorDelegated => "actor_delegated",
            StsError::NotPermittedByMayAct => "not_permitted_by_may_act",
            StsError::MayActRequired => "may_act_required",
            StsError::KindMayNotAct { .. } => "kind_may_not_act",
            StsError::DelegationTooDeep { .. } => "delegation_too_deep",
            StsError::DelegationRefused { .. } => "delegation_refused",
            StsError::AgentKeyRefused { .. } => "agent_key_refused",
            StsError::HumanUnknown => "human_unknown",
            StsError::AgentKeyStoreUnavailable { .. } => "agent_key_store_unavailable",
            StsError::HumanDirectoryUnavailable => "human_directory_unavailable",
            StsError::RecordFull => "record_full",
            StsError::Internal { .. } => "internal",
        }
    }
}

/// A token service setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StsConfigError {
    /// A client secret is shorter than [`MIN_CLIENT_SECRET_BYTES`] or longer than 4096 bytes.
    #[error("a client secret must be {min} to 4096 bytes")]
    ClientSecretLength {
        /// The minimum.
        min: usize,
    },
    /// A client id is empty, longer than [`MAX_CLIENT_ID_BYTES`], or not visible ASCII.
    #[error("a client id must be 1 to 256 visible ASCII characters")]
    InvalidClientId,
    /// Two clients share an id.
    #[error("client {client_id} is registered twice")]
    DuplicateClient {
        /// The id.
        client_id: String,
    },
    /// The maximum delegation depth is above the issuer's (it would refuse to mint).
    #[error("maximum delegation depth {requested} is above the issuer's {issuer_max}")]
    DepthAboveIssuer {
        /// Asked for.
        requested: usize,
        /// The issuer's maximum.
        issuer_max: usize,
    },
    /// The record of issued tokens may hold no entry.
    #[error("max_issued_tokens must be at least 1")]
    NoRecordEntries,
    /// A further token type is not an absolute URI of at most 256 visible characters.
    #[error("a token type must be an absolute URI of at most 256 visible ASCII characters")]
    InvalidTokenType,
    /// A token type is registered twice, or is one taken by default.
    #[error("token type {token_type} is already taken")]
    DuplicateTokenType {
        /// The token type.
        token_type: String,
    },
}

impl StsConfigError {
    /// A stable snake_case reason for logs and metrics.
    ///
    /// ```
    /// use tower_auth::sts::StsConfigError;
    /// assert_eq!(StsConfigError::NoRecordEntries.reason(), "no_record_entries");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            StsConfigError::ClientSecretLength { .. } => "client_secret_length",
            StsConfigError::InvalidClientId => "invalid_client_id",
            StsConfigError::DuplicateClient { .. } => "duplicate_client",
            StsConfigError::DepthAboveIssuer { .. } => "depth_above_issuer",
            StsConfigError::NoRecordEntries => "no_record_entries",
            StsConfigError::InvalidTokenType => "invalid_token_type",
            StsConfigError::DuplicateTokenType { .. } => "duplicate_token_type",
        }
    }
}

#[cfg(test)]
mod tests;
