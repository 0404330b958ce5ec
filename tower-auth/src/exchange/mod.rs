//! OAuth 2.0 Token Exchange (RFC 8693), the client side: trade the token a request came
//! with (the *subject token*, and optionally an *actor token*) at a security token
//! service for one made for the next destination (its audience, resource and scopes).
//!
//! | piece | what it is |
//! | --- | --- |
//! | [`TokenExchangeClient`] | the client of one token endpoint: client authentication, the hardened HTTP call, answer checks, and a cache with a single flight per key and refresh ahead of expiry |
//! | [`ExchangeTarget`] | what to ask for: `audience`s and/or `resource`s, `scope`, `requested_token_type` |
//! | [`ExchangeRequest`] | a target plus the subject token (and actor token) with their types |
//! | [`ExchangedToken`] | the answer: the token, its `issued_token_type`, `token_type`, expiry and scopes |
//! | [`ClientAuth`] | `client_secret_basic` or `client_secret_post` |
//! | [`ExchangeError`] | why no token came back; RFC 6749 §5.2 error answers as [`OAuthErrorCode`]s |
//! | [`AgentSession`] | a long-running agent: its API key exchanged afresh for each sub-request |
//!
//! The propagate layer uses it as one more way to attach identity:
//! [`Route::exchanged`](crate::propagate::Route::exchanged) exchanges the request's kept
//! bearer token for the destination's audience before the call.
//!
//! # The request (RFC 8693 §2.1)
//!
//! `POST` to the token endpoint, `application/x-www-form-urlencoded`:
//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`, `subject_token`,
//! `subject_token_type`, `actor_token` and `actor_token_type` (when there is an actor),
//! one `audience` and one `resource` parameter per target entry, `scope` (space
//! separated, when not empty) and `requested_token_type` (always sent; default
//! [`TokenType::ACCESS_TOKEN`]). The client authenticates with HTTP Basic or with
//! `client_id`/`client_secret` in the body ([`ClientAuth`]).
//!
//! The call goes through a client built for this one purpose: `https` only (`http` on a
//! loopback host), redirects never followed (a 3xx is refused: following one would hand
//! the subject token and the client's credentials to a host the operator never named), a
//! timeout on connecting and on the whole exchange, and an answer read up to
//! [`max_answer_bytes`](TokenExchangeClientBuilder::max_answer_bytes) and no further.
//!
//! # The answer (RFC 8693 §2.2)
//!
//! A `200` with a JSON object, whose members each appear once, is accepted only with:
//!
//! - `access_token`: a non-empty string of visible ASCII (it goes into a header), at most
//!   [`MAX_TOKEN_BYTES`];
//! - `issued_token_type`: **required**, and exactly the `requested_token_type` sent. An
//!   answer without it, or with another type (an ID token when an access token was asked
//!   for), is refused: a token of a kind the caller did not ask for is never used as if it
//!   were the one it did;
//! - `token_type`: `Bearer` (any case) or `N_A`; anything else (`DPoP`, `MAC`) is refused,
//!   as this client cannot present it;
//! - `expires_in`, when present, a positive integer; `scope`, when present, an RFC 6749
//!   scope string.
//!
//! Any other status with a JSON `error` member is an RFC 6749 §5.2 error answer:
//! [`ExchangeError::Rejected`] with its [`OAuthErrorCode`] (`invalid_grant`,
//! `invalid_target`, ...). `error_description` and `error_uri` are never read into the
//! error: an authorization server may echo the request, token included, and the error is
//! logged.
//!
//! # The cache
//!
//! Results are cached per (subject token, actor token, their types, audiences, resources,
//! scopes, requested type), keyed by a SHA-256 digest of those (the tokens are never
//! kept as keys):
//!
//! - **Until shortly before expiry.** A token is served until
//!   [`renew_before`](TokenExchangeClientBuilder::renew_before) (default 30 s) before its
//!   `expires_in`; an answer without `expires_in`, or one already that close to expiry, is
//!   returned but not cached.
//! - **Single flight.** Callers of one key that find no fresh token share one call to the
//!   endpoint and its outcome, success or error: a burst makes one call.
//! - **Refresh ahead.** A call that finds a fresh token within
//!   [`refresh_ahead`](TokenExchangeClientBuilder::refresh_ahead) (default 60 s) of the
//!   renewal point starts one background exchange (on the current tokio runtime) and is
//!   served the still-valid token at once; every call meanwhile is too. A failed refresh
//!   is retried no sooner than [`REFRESH_RETRY_SECS`] later.
//! - **A refusal drops the entry.** When the endpoint refuses the exchange with an RFC
//!   6749 error (the subject token revoked: `invalid_grant`), the cached token of that key
//!   is dropped at once instead of being served to its end. A timeout or a 5xx does not
//!   drop it: the endpoint said nothing about the token.
//! - **Bounded.** At most [`max_entries`](TokenExchangeClientBuilder::max_entries) keys;
//!   when full, entries with nothing fresh go first, then the one closest to renewal. A
//!   key whose call is under way is never dropped, so a burst of new keys may pass the
//!   bound by the calls in flight until they end.
//!
//! Time comes from the [`Clock`](principal::Clock) given to the builder.
//!
//! # Example
//!
//! A token endpoint on loopback, and an exchange for the `orders` audience:
//!
//! ```
//! use axum::{Json, Router, body::Bytes, routing::post};
//! use principal::{Audience, ScopeSet};
//! use tower_auth::exchange::{
//!     ClientAuth, ExchangeRequest, ExchangeTarget, TokenExchangeClient, TokenType,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A security token service that grants `orders` and refuses every other audience.
//! let sts = Router::new().route("/token", post(|form: Bytes| async move {
//!     let for_orders = form_urlencoded::parse(&form).any(|(k, v)| k == "audience" && v == "orders");
//!     if for_orders {
//!         (http::StatusCode::OK, Json(serde_json::json!({
//!             "access_token": "exchanged-for-orders",
//!             "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
//!             "token_type": "Bearer",
//!             "expires_in": 300,
//!         })))
//!     } else {
//!         (http::StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": "invalid_target"})))
//!     }
//! }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let endpoint = format!("http://{}/token", listener.local_addr()?);
//! tokio::spawn(async move { axum::serve(listener, sts).await });
//!
//! let client = TokenExchangeClient::builder(&endpoint, ClientAuth::client_secret_basic("edge", "s3cret")?)
//!     .build()?;
//! let orders = ExchangeTarget::audience(Audience::new("orders")?)
//!     .scopes(ScopeSet::parse("orders:read")?);
//! let request = ExchangeRequest::new("the-callers-token", TokenType::ACCESS_TOKEN, orders)?;
//! let token = client.exchange(&request).await?;
//! assert_eq!(token.as_str(), "exchanged-for-orders");
//! assert!(token.is_bearer());
//!
//! // Refused: an audience the service will not issue for, as a typed error.
//! let billing = ExchangeTarget::audience(Audience::new("billing")?);
//! let refused = client
//!     .exchange(&ExchangeRequest::new("the-callers-token", TokenType::ACCESS_TOKEN, billing)?)
//!     .await
//!     .unwrap_err();
//! assert_eq!(refused.reason(), "invalid_target");
//!
//! // Refused at build time: a plain-http endpoint off loopback.
//! assert!(TokenExchangeClient::builder(
//!     "http://sts.example.com/token",
//!     ClientAuth::client_secret_post("edge", "s3cret")?,
//! )
//! .build()
//! .is_err());
//! # Ok(())
//! # }
//! ```

mod answer;
mod cache;
mod client;
mod session;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::Uri;
use principal::{Audience, ScopeSet, Timestamp};

pub use self::client::{
    DEFAULT_MAX_ANSWER_BYTES, DEFAULT_MAX_ENTRIES, DEFAULT_REFRESH_AHEAD, DEFAULT_RENEW_BEFORE,
    DEFAULT_TIMEOUT, MAX_MAX_ANSWER_BYTES, MAX_TIMEOUT, REFRESH_RETRY_SECS, TokenExchangeClient,
    TokenExchangeClientBuilder,
};
pub use self::session::AgentSession;
pub use crate::client_auth::{ClientAuth, MAX_CLIENT_ID_BYTES, MAX_CLIENT_SECRET_BYTES};

/// The `grant_type` of a token exchange (RFC 8693 §2.1).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Longest subject, actor or issued token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Longest token type URI accepted, in bytes.
pub const MAX_TOKEN_TYPE_BYTES: usize = 256;

/// The `tracing` target of the exchange client's events.
pub const EXCHANGE_TARGET: &str = "baton::exchange";

/// A token type identifier (RFC 8693 §3): an absolute URI such as
/// `urn:ietf:params:oauth:token-type:access_token`. Compared as exact strings.
///
/// ```
/// use tower_auth::exchange::TokenType;
///
/// assert_eq!(TokenType::JWT.as_str(), "urn:ietf:params:oauth:token-type:jwt");
/// assert!(TokenType::new("urn:example:token-type:custom").is_ok());
/// // Rejected: not an absolute URI, and a control character.
/// assert!(TokenType::new("access_token").is_err());
/// assert!(TokenType::new("urn:x:\n").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenType(Cow<'static, str>);

impl TokenType {
    /// An OAuth 2.0 access token.
    pub const ACCESS_TOKEN: TokenType = TokenType(Cow::Borrowed(crate::sts::ACCESS_TOKEN_TYPE));
    /// An OAuth 2.0 refresh token.
    pub const REFRESH_TOKEN: TokenType = TokenType(Cow::Borrowed(
        "urn:ietf:params:oauth:token-type:refresh_token",
    ));
    /// An OpenID Connect ID token.
    pub const ID_TOKEN: TokenType =
        TokenType(Cow::Borrowed("urn:ietf:params:oauth:token-type:id_token"));
    /// A JWT (RFC 7519).
    pub const JWT: TokenType = TokenType(Cow::Borrowed(crate::sts::JWT_TOKEN_TYPE));
    /// A base64url-encoded SAML 1.1 assertion.
    pub const SAML1: TokenType = TokenType(Cow::Borrowed("urn:ietf:params:oauth:token-type:saml1"));
    /// A base64url-encoded SAML 2.0 assertion.
    pub const SAML2: TokenType = TokenType(Cow::Borrowed("urn:ietf:params:oauth:token-type:saml2"));
    /// A Baton agent API key ([`crate::agent_keys`]), exchanged by an [`AgentSession`].
    pub const AGENT_KEY: TokenType = TokenType(Cow::Borrowed(crate::sts::AGENT_KEY_TOKEN_TYPE));

    /// Another token type: an absolute URI (`scheme:rest`) of visible ASCII, at most
    /// [`MAX_TOKEN_TYPE_BYTES`].
    pub fn new(uri: &str) -> Result<Self, ExchangeConfigError> {
        if !is_token_type(uri) {
            return Err(ExchangeConfigError::InvalidTokenType);
        }
        Ok(TokenType(Cow::Owned(uri.to_owned())))
    }

    /// The URI.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute URI of visible ASCII: a scheme (a letter, then letters, digits, `+ - .`),
/// a colon, something after it.
fn is_token_type(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    uri.len() <= MAX_TOKEN_TYPE_BYTES
        && !rest.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && uri.bytes().all(|b| b.is_ascii_graphic())
}

impl fmt::Debug for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an exchange asks for: the audiences and resources the new token is for, its
/// scopes, and its type. Cheap to clone (shared).
///
/// ```
/// use principal::{Audience, ScopeSet};
/// use tower_auth::exchange::{ExchangeTarget, TokenType};
///
/// let target = ExchangeTarget::audience(Audience::new("orders")?)
///     .and_resource("https://orders.internal/api".parse()?)?
///     .scopes(ScopeSet::parse("orders:read")?)
///     .requested_token_type(TokenType::JWT);
/// assert_eq!(target.audiences()[0].as_str(), "orders");
/// assert_eq!(target.requested().as_str(), "urn:ietf:params:oauth:token-type:jwt");
/// // Rejected: a resource that is not an absolute URI.
/// assert!(ExchangeTarget::resource("/relative".parse()?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct ExchangeTarget(Arc<Target>);

#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) audiences: Vec<Audience>,
    pub(crate) resources: Vec<Uri>,
    pub(crate) scopes: ScopeSet,
    pub(crate) requested: TokenType,
}

impl ExchangeTarget {
    /// A token for `audience` (RFC 8693 `audience`), of type
    /// [`TokenType::ACCESS_TOKEN`], with the scopes the server chooses.
    pub fn audience(audience: Audience) -> Self {
        ExchangeTarget(Arc::new(Target {
            audiences: vec![audience],
            resources: Vec::new(),
            scopes: ScopeSet::new(),
            requested: TokenType::ACCESS_TOKEN,
        }))
    }

    /// A token for the resource at `uri` (RFC 8693 / RFC 8707 `resource`: an absolute URI).
    pub fn resource(uri: Uri) -> Result<Self, ExchangeConfigError> {
        ExchangeTarget(Arc::new(Target {
            audiences: Vec::new(),
            resources: Vec::new(),
            scopes: ScopeSet::new(),
            requested: TokenType::ACCESS_TOKEN,
        }))
        .and_resource(uri)
    }

    /// One more audience.
    pub fn and_audience(mut self, audience: Audience) -> Self {
        Arc::make_mut(&mut self.0).audiences.push(audience);
        self
    }

    /// One more resource (an absolute URI: a scheme and an authority).
    pub fn and_resource(mut self, uri: Uri) -> Result<Self, ExchangeConfigError> {
        if uri.scheme().is_none() || uri.authority().is_none() {
            return Err(ExchangeConfigError::InvalidResource);
        }
        Arc::make_mut(&mut self.0).resources.push(uri);
        Ok(self)
    }

    /// The scopes to ask for (`scope`; none sent when empty, the default).
    pub fn scopes(mut self, scopes: ScopeSet) -> Self {
        Arc::make_mut(&mut self.0).scopes = scopes;
        self
    }

    /// The token type to ask for (`requested_token_type`, default
    /// [`TokenType::ACCESS_TOKEN`]); the answer's `issued_token_type` must be the same.
    pub fn requested_token_type(mut self, token_type: TokenType) -> Self {
        Arc::make_mut(&mut self.0).requested = token_type;
        self
    }

    /// The audiences asked for.
    pub fn audiences(&self) -> &[Audience] {
        &self.0.audiences
    }

    /// The resources asked for.
    pub fn resources(&self) -> &[Uri] {
        &self.0.resources
    }

    /// The scopes asked for (empty: none sent).
    pub fn requested_scopes(&self) -> &ScopeSet {
        &self.0.scopes
    }

    /// The token type asked for.
    pub fn requested(&self) -> &TokenType {
        &self.0.requested
    }
}

impl fmt::Debug for ExchangeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeTarget")
            .field("audiences", &self.0.audiences)
            .field("resources", &self.0.resources)
            .field("scopes", &self.0.scopes)
            .field("requested_token_type", &self.0.requested)
            .finish()
    }
}

/// A token given to an exchange (subject or actor): never in `Debug` output.
#[derive(Clone)]
pub(crate) struct SecretToken(Arc<str>);

impl SecretToken {
    fn checked(token: Arc<str>, which: &'static str) -> Result<Self, ExchangeError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES || !is_visible_ascii(&token) {
            return Err(ExchangeError::InvalidToken { which });
        }
        Ok(SecretToken(token))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

fn is_visible_ascii(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_graphic())
}

/// One exchange: the subject token (and actor token), their types, and the target.
/// `Debug` never shows the tokens.
///
/// ```
/// use principal::Audience;
/// use tower_auth::exchange::{ExchangeRequest, ExchangeTarget, TokenType};
///
/// let target = ExchangeTarget::audience(Audience::new("orders")?);
/// let request = ExchangeRequest::new("subject-token", TokenType::ACCESS_TOKEN, target.clone())?
///     .actor("actor-token", TokenType::JWT)?;
/// assert!(!format!("{request:?}").contains("subject-token"));
/// // Rejected: an empty token, and one that cannot be sent as visible ASCII.
/// assert!(ExchangeRequest::new("", TokenType::ACCESS_TOKEN, target.clone()).is_err());
/// assert!(ExchangeRequest::new("a b", TokenType::ACCESS_TOKEN, target).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ExchangeRequest {
    pub(crate) subject: SecretToken,
    pub(crate) subject_type: TokenType,
    pub(crate) actor: Option<(SecretToken, TokenType)>,
    pub(crate) target: ExchangeTarget,
}

impl ExchangeRequest {
    /// Exchange `subject_token` of type `subject_token_type` for a token as `target` says.
    /// The token must be 1 to [`MAX_TOKEN_BYTES`] of visible ASCII.
    pub fn new(
        subject_token: impl Into<Arc<str>>,
        subject_token_type: TokenType,
        target: ExchangeTarget,
    ) -> Result<Self, ExchangeError> {
        Ok(ExchangeRequest {
            subject: SecretToken::checked(subject_token.into(), "subject")?,
            subject_type: subject_token_type,
            actor: None,
            target,
        })
    }

    /// The party acting for the subject (RFC 8693 `actor_token`, `actor_token_type`).
    pub fn actor(
        mut self,
        actor_token: impl Into<Arc<str>>,
        actor_token_type: TokenType,
    ) -> Result<Self, ExchangeError> {
        self.actor = Some((
            SecretToken::checked(actor_token.into(), "actor")?,
            actor_token_type,
        ));
        Ok(self)
    }

    /// The target.
    pub fn target(&self) -> &ExchangeTarget {
        &self.target
    }
}

impl fmt::Debug for ExchangeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeRequest")
            .field("subject_token", &"[redacted]")
            .field("subject_token_type", &self.subject_type)
            .field("actor_token_type", &self.actor.as_ref().map(|(_, t)| t))
            .field("target", &self.target)
            .finish()
    }
}

/// A token issued by an exchange. Cheap to clone. `Debug` never shows the token.
#[derive(Clone)]
pub struct ExchangedToken {
    token: Arc<str>,
    issued_token_type: TokenType,
    bearer: bool,
    expires_at: Option<Timestamp>,
    scopes: Option<ScopeSet>,
}

impl ExchangedToken {
    /// The token (RFC 8693 `access_token`, whatever its type).
    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// Its `issued_token_type` (always the type that was requested).
    pub fn issued_token_type(&self) -> &TokenType {
        &self.issued_token_type
    }

    /// Whether `token_type` is `Bearer` (else `N_A`: not an access token).
    pub fn is_bearer(&self) -> bool {
        self.bearer
    }

    /// When it expires, from `expires_in` (none when the answer had none).
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    /// Its scopes, when the answer named them (`scope`).
    pub fn scopes(&self) -> Option<&ScopeSet> {
        self.scopes.as_ref()
    }
}

impl fmt::Debug for ExchangedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangedToken")
            .field("token", &"[redacted]")
            .field("issued_token_type", &self.issued_token_type)
            .field("bearer", &self.bearer)
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// An RFC 6749 §5.2 (and RFC 8693 §2.2.2) `error` code of a refused exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`: a parameter missing, repeated or malformed.
    InvalidRequest,
    /// `invalid_client`: this client's authentication failed.
    InvalidClient,
    /// `invalid_grant`: the subject or actor token is invalid, expired or revoked.
    InvalidGrant,
    /// `unauthorized_client`: this client may not use token exchange.
    UnauthorizedClient,
    /// `unsupported_grant_type`: the server does not do token exchange.
    UnsupportedGrantType,
    /// `invalid_scope`: a scope asked for is unknown or too wide.
    InvalidScope,
    /// `invalid_target`: the audience or resource is unknown or not allowed.
    InvalidTarget,
    /// Another code (kept out of the error: the server chooses its text).
    Other,
}

impl OAuthErrorCode {
    /// The code read from an answer's `error` member.
    pub fn from_code(code: &str) -> Self {
        match code {
            "invalid_request" => OAuthErrorCode::InvalidRequest,
            "invalid_client" => OAuthErrorCode::InvalidClient,
            "invalid_grant" => OAuthErrorCode::InvalidGrant,
            "unauthorized_client" => OAuthErrorCode::UnauthorizedClient,
            "unsupported_grant_type" => OAuthErrorCode::UnsupportedGrantType,
            "invalid_scope" => OAuthErrorCode::InvalidScope,
            "invalid_target" => OAuthErrorCode::InvalidTarget,
            _ => OAuthErrorCode::Other,
        }
    }

    /// The RFC's code (`other_error` for [`OAuthErrorCode::Other`]).
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::InvalidTarget => "invalid_target",
            OAuthErrorCode::Other => "other_error",
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an exchange gave no token. Never holds a token, a secret or the server's
/// description text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The endpoint refused with an RFC 6749 §5.2 error answer.
    #[error("the token endpoint refused the exchange: {code} (HTTP {status})")]
    Rejected {
        /// The `error` code.
        code: OAuthErrorCode,
        /// The HTTP status.
        status: u16,
    },
    /// No answer within the timeout.
    #[error("the token endpoint did not answer in time")]
    Timeout,
    /// The endpoint could not be reached (connection refused, TLS failure...).
    #[error("the token endpoint is unreachable: {detail}")]
    Unreachable {
        /// What the transport said (no token: the tokens travel in the body).
        detail: String,
    },
    /// The endpoint answered a redirect; it is never followed.
    #[error("the token endpoint answered a redirect (HTTP {status}), never followed")]
    Redirect {
        /// The HTTP status.
        status: u16,
    },
    /// A status other than 200 without an RFC 6749 error answer.
    #[error("the token endpoint answered HTTP {status}")]
    HttpStatus {
        /// The HTTP status.
        status: u16,
    },
    /// The answer is longer than the limit.
    #[error("the token endpoint's answer is longer than {limit} bytes")]
    TooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// The answer is not a valid token response.
    #[error("malformed token response: {why}")]
    Malformed {
        /// What is wrong with it.
        why: &'static str,
    },
    /// The answer has no `issued_token_type`.
    #[error("the token response has no issued_token_type")]
    MissingIssuedTokenType,
    /// The answer's `issued_token_type` is not the type requested.
    #[error("issued_token_type {issued:?} is not the requested {requested}")]
    IssuedTokenTypeMismatch {
        /// The type requested.
        requested: TokenType,
        /// The type issued (cut to [`MAX_TOKEN_TYPE_BYTES`], visible ASCII only).
        issued: String,
    },
    /// The answer's `token_type` is neither `Bearer` nor `N_A`, or (for a caller that
    /// sends it as a bearer token) not `Bearer`.
    #[error("token_type {token_type:?} cannot be used")]
    UnsupportedTokenType {
        /// The `token_type` (cut, visible ASCII only).
        token_type: String,
    },
    /// The subject or actor token given to the exchange is empty, too long, or not
    /// visible ASCII.
    #[error(
        "the {which} token is empty, longer than {MAX_TOKEN_BYTES} bytes, or not visible ASCII"
    )]
    InvalidToken {
        /// `subject` or `actor`.
        which: &'static str,
    },
}

impl ExchangeError {
    /// A stable snake_case reason for logs and metrics: the RFC code for
    /// [`Rejected`](ExchangeError::Rejected).
    ///
    /// ```
    /// use tower_auth::exchange::{ExchangeError, OAuthErrorCode};
    /// let refused = ExchangeError::Rejected { code: OAuthErrorCode::InvalidGrant, status: 400 };
    /// assert_eq!(refused.reason(), "invalid_grant");
    /// assert_eq!(ExchangeError::MissingIssuedTokenType.reason(), "missing_issued_token_type");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            ExchangeError::Rejected { code, .. } => code.as_str(),
            ExchangeError::Timeout => "exchange_timeout",
            ExchangeError::Unreachable { .. } => "exchange_unreachable",
            ExchangeError::Redirect { .. } => "exchange_redirect",
            ExchangeError::HttpStatus { .. } => "exchange_http_status",
            ExchangeError::TooLarge { .. } => "exchange_too_large",
            ExchangeError::Malformed { .. } => "exchange_malformed",
            ExchangeError::MissingIssuedTokenType => "missing_issued_token_type",
            ExchangeError::IssuedTokenTypeMismatch { .. } => "issued_token_type_mismatch",
            ExchangeError::UnsupportedTokenType { .. } => "unsupported_token_type",
            ExchangeError::InvalidToken { .. } => "invalid_token",
        }
    }
}

/// A [`TokenExchangeClient`] setting, [`TokenType`] or [`ExchangeTarget`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeConfigError {
    /// The endpoint is not a URL, not `https` (`http` is allowed on loopback only), or
    /// carries credentials or a fragment.
    #[error("token endpoint must be an https URL (http on loopback) without credentials: {url}")]
    InvalidEndpoint {
        /// The URL, cut, without credentials.
        url: String,
    },
    /// A client id or secret is empty, too long, or cannot be sent.
    #[error("invalid client authentication: {why}")]
    InvalidClientAuth {
        /// Which rule.
        why: &'static str,
    },
    /// A token type is not an absolute URI of visible ASCII.
    #[error(
        "a token type must be an absolute URI of at most {MAX_TOKEN_TYPE_BYTES} visible ASCII bytes"
    )]
    InvalidTokenType,
    /// A resource is not an absolute URI.
    #[error("a resource must be an absolute URI")]
    InvalidResource,
    /// The timeout is zero or above [`MAX_TIMEOUT`].
    #[error("timeout of {requested_ms} ms is not between 1 ms and {max_ms} ms")]
    Timeout {
        /// Asked for, milliseconds.
        requested_ms: u128,
        /// The cap, milliseconds.
        max_ms: u128,
    },
    /// The answer limit is zero or above [`MAX_MAX_ANSWER_BYTES`].
    #[error("max_answer_bytes of {requested} is not between 1 and {max}")]
    MaxAnswerBytes {
        /// Asked for.
        requested: usize,
        /// The cap.
        max: usize,
    },
    /// The cache may hold no entry.
    #[error("max_entries must be at least 1")]
    NoCacheEntries,
    /// The HTTP client could not be built.
    #[error("HTTP client: {detail}")]
    HttpClient {
        /// Why.
        detail: String,
    },
}

impl ExchangeConfigError {
    /// A stable snake_case reason for logs.
    ///
    /// ```
    /// use tower_auth::exchange::ExchangeConfigError;
    /// assert_eq!(ExchangeConfigError::NoCacheEntries.reason(), "no_cache_entries");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            ExchangeConfigError::InvalidEndpoint { .. } => "invalid_endpoint",
            ExchangeConfigError::InvalidClientAuth { .. } => "invalid_client_auth",
            ExchangeConfigError::InvalidTokenType => "invalid_token_type",
            ExchangeConfigError::InvalidResource => "invalid_resource",
            ExchangeConfigError::Timeout { .. } => "timeout_out_of_range",
            ExchangeConfigError::MaxAnswerBytes { .. } => "max_answer_bytes_out_of_range",
            ExchangeConfigError::NoCacheEntries => "no_cache_entries",
            ExchangeConfigError::HttpClient { .. } => "http_client",
        }
    }
}

impl From<crate::client_auth::ClientAuthError> for ExchangeConfigError {
    fn from(error: crate::client_auth::ClientAuthError) -> Self {
        ExchangeConfigError::InvalidClientAuth { why: error.why() }
    }
}
