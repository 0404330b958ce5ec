use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use tower_layer::Layer;

use super::bearer::DEFAULT_MAX_TOKEN_BYTES;
use super::service::AuthenticateService;
use super::strip::{INTERNAL_TOKEN_HEADER, PRINCIPAL_HEADER, SPOOFABLE_HEADERS, StripHeadersLayer};
use super::{AuthenticateRan, ConfigError, MAX_MAX_TOKEN_BYTES};
use crate::error::HttpChallenge;
use crate::verified::Pattern;
use crate::verifier::Verifier;

/// Configuration shared by every service a layer makes.
#[derive(Clone)]
pub(crate) struct Shared {
    verifier: Arc<dyn Verifier>,
    optional: bool,
    keep_bearer_token: bool,
    max_token_bytes: usize,
    strip: Vec<HeaderName>,
    /// Read by the verifiers, then removed before the inner service runs (internal role).
    read_then_removed: &'static [HeaderName],
    challenge: Arc<HttpChallenge>,
}

/// The headers an internal service reads through its verifiers.
static INTERNAL_CREDENTIAL_HEADERS: [HeaderName; 2] = [PRINCIPAL_HEADER, INTERNAL_TOKEN_HEADER];

impl Shared {
    pub(super) fn verifier(&self) -> &Arc<dyn Verifier> {
        &self.verifier
    }

    pub(super) fn optional(&self) -> bool {
        self.optional
    }

    pub(super) fn keep_bearer_token(&self) -> bool {
        self.keep_bearer_token
    }

    pub(super) fn max_token_bytes(&self) -> usize {
        self.max_token_bytes
    }

    pub(super) fn strip(&self) -> &[HeaderName] {
        &self.strip
    }

    pub(super) fn read_then_removed(&self) -> &[HeaderName] {
        self.read_then_removed
    }

    pub(super) fn challenge(&self) -> &HttpChallenge {
        &self.challenge
    }

    pub(super) fn pattern(&self) -> Pattern {
        self.verifier.pattern()
    }

    pub(super) fn ran_marker(&self) -> AuthenticateRan {
        AuthenticateRan {
            challenge: Arc::clone(&self.challenge),
        }
    }
}

/// Authenticates every request with a [`Verifier`] before the inner service sees it.
///
/// See the [module docs](super) for the steps, the responses and an example.
///
/// Two roles:
/// - **edge** ([`new`](Self::new)): every `x-principal-bin` and `x-baton-internal-token`
///   is stripped before anything reads the request, so only the bearer token (and an mTLS
///   peer) reaches the verifiers;
/// - **internal** ([`internal`](Self::internal)), on a service behind an edge: those
///   headers reach the verifiers (a passport verifier, a JWT verifier reading the
///   internal-token header) and nothing else: they are removed from the request before
///   the inner service runs, whatever the verdict.
///
/// Defaults: authentication required; tokens up to [`DEFAULT_MAX_TOKEN_BYTES`] bytes;
/// no realm.
#[derive(Clone)]
#[must_use]
pub struct AuthenticateLayer {
    shared: Arc<Shared>,
}

impl AuthenticateLayer {
    /// An edge layer: strips the internal headers from every request, then requires
    /// credentials that `verifier` accepts.
    pub fn new(verifier: Arc<dyn Verifier>) -> Self {
        AuthenticateLayer {
            shared: Arc::new(Shared {
                verifier,
                optional: false,
                keep_bearer_token: false,
                max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
                strip: SPOOFABLE_HEADERS.to_vec(),
                read_then_removed: &[],
                challenge: Arc::new(HttpChallenge::new()),
            }),
        }
    }

    /// A layer for a service behind an edge: `verifier` (typically a passport verifier or
    /// a JWT verifier for an internal issuer, in a chain) reads `x-principal-bin` and
    /// `x-baton-internal-token`, which are then removed before the inner service runs.
    /// Never use it on a service that outside callers can reach directly: a caller who
    /// can reach it can present those headers (signatures still protect signed passports
    /// and internal JWTs; unsigned passports need an allowlisted mTLS peer).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_auth::authenticate::{AuthenticateLayer, PRINCIPAL_HEADER};
    /// # use tower_auth::{AuthError, Credentials, Pattern, Verifier, VerifyFuture};
    /// # struct Passports;
    /// # impl Verifier for Passports {
    /// #     fn verify(&self, _: &Credentials<'_>) -> VerifyFuture {
    /// #         VerifyFuture::ready(Err(AuthError::UnsupportedTokenFormat))
    /// #     }
    /// #     fn pattern(&self) -> Pattern { Pattern::Passport }
    /// # }
    ///
    /// let internal = AuthenticateLayer::internal(Arc::new(Passports));
    /// assert!(!internal.stripped_headers().contains(&PRINCIPAL_HEADER));
    /// let edge = AuthenticateLayer::new(Arc::new(Passports));
    /// assert!(edge.stripped_headers().contains(&PRINCIPAL_HEADER));
    /// ```
    pub fn internal(verifier: Arc<dyn Verifier>) -> Self {
        let mut layer = AuthenticateLayer::new(verifier);
        let shared = layer.shared_mut();
        shared
            .strip
            .retain(|name| !INTERNAL_CREDENTIAL_HEADERS.contains(name));
        shared.read_then_removed = &INTERNAL_CREDENTIAL_HEADERS;
        layer
    }

    fn shared_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.shared)
    }

    /// Optional authentication: a request without bearer credentials (no `Authorization`
    /// header, or another scheme) passes through without a Principal, and handlers see
    /// `Option<Authenticated>` as `None`. A request *with* a bearer token is still
    /// verified, and a bad token is still refused: presenting a forged or expired token
    /// never downgrades to anonymous access.
    pub fn optional(mut self) -> Self {
        self.shared_mut().optional = true;
        self
    }

    /// Keep the verified bearer token in the request's
    /// [`RequestContext`](crate::context::RequestContext), for a route whose outgoing
    /// calls forward it (JWT passthrough, pattern 1). Off by default: a token is kept only
    /// where a route needs it, costs a copy per request, and is never logged
    /// ([`BearerToken`](crate::context::BearerToken)'s `Debug` hides it).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use http::{Request, Response};
    /// use jsonwebtoken::{Algorithm, EncodingKey, Header};
    /// use principal::{Audience, Issuer};
    /// use tower::{ServiceBuilder, ServiceExt, service_fn};
    /// use tower_auth::authenticate::AuthenticateLayer;
    /// use tower_auth::context::{self, BearerToken};
    /// use tower_auth::jwks::SymmetricKey;
    /// use tower_auth::jwt::{IssuerConfig, JwtVerifier};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let verifier = JwtVerifier::builder()
    ///     .issuer(
    ///         IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
    ///             .audience(Audience::new("api")?)
    ///             .hmac_secrets([SymmetricKey::new(Some("k1"), Algorithm::HS256, vec![7; 32])?])
    ///             .build()?,
    ///     )
    ///     .build()?;
    /// let service = ServiceBuilder::new()
    ///     .layer(AuthenticateLayer::new(Arc::new(verifier)).optional().keep_bearer_token())
    ///     .service(service_fn(|_: Request<()>| async {
    ///         // What an outgoing passthrough call would forward.
    ///         let kept = context::with_current(|ctx| {
    ///             ctx.bearer_token().map(|token| token.expose().to_owned())
    ///         });
    ///         Ok::<_, std::convert::Infallible>(Response::new(kept.flatten()))
    ///     }));
    ///
    /// // A verified token is kept.
    /// let mut header = Header::new(Algorithm::HS256);
    /// header.kid = Some("k1".into());
    /// let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 300;
    /// let claims = serde_json::json!({
    ///     "iss": "https://idp.example.com", "sub": "alice", "aud": "api", "exp": exp,
    /// });
    /// let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&[7; 32]))?;
    /// let request = Request::builder().header("authorization", format!("Bearer {token}")).body(())?;
    /// let response = service.clone().oneshot(request).await?;
    /// assert_eq!(response.into_body(), Some(token));
    ///
    /// // An anonymous request keeps none.
    /// let response = service.oneshot(Request::new(())).await?;
    /// assert_eq!(response.into_body(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn keep_bearer_token(mut self) -> Self {
        self.shared_mut().keep_bearer_token = true;
        self
    }

    /// The largest bearer token accepted, in bytes (1 to [`MAX_MAX_TOKEN_BYTES`]).
    pub fn max_token_bytes(mut self, max: usize) -> Result<Self, ConfigError> {
        if max == 0 || max > MAX_MAX_TOKEN_BYTES {
            return Err(ConfigError::MaxTokenBytes {
                requested: max,
                max: MAX_MAX_TOKEN_BYTES,
            });
        }
        self.shared_mut().max_token_bytes = max;
        Ok(self)
    }

    /// Also strip these headers from every request before anything else runs, in
    /// addition to the defaults (`x-principal-bin`, `x-baton-internal-token`).
    pub fn strip_headers(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        let strip = &mut self.shared_mut().strip;
        for name in names {
            if !strip.contains(&name) {
                strip.push(name);
            }
        }
        self
    }

    /// Stop stripping `name`, and let the inner service see it. Services behind an edge
    /// read `x-principal-bin` through [`internal`](Self::internal), not this; at an edge
    /// it lets outside callers spoof headers that other components may trust. Never use
    /// it on a service reachable from outside.
    pub fn insecure_keep_header(mut self, name: &HeaderName) -> Self {
        self.shared_mut().strip.retain(|stripped| stripped != name);
        self
    }

    /// Send `realm="<realm>"` in every challenge (1 to 256 bytes of visible ASCII, space
    /// or tab; no `"` or `\`).
    pub fn realm(mut self, realm: &str) -> Result<Self, ConfigError> {
        let mut challenge = HttpChallenge::with_realm(realm)?;
        if let Some(url) = self.shared.challenge.resource_metadata() {
            challenge = challenge.with_resource_metadata_url(url);
        }
        self.shared_mut().challenge = Arc::new(challenge);
        Ok(self)
    }

    /// Puts `resource_metadata="<url>"` (RFC 9728 §5.1) into every challenge: the URL
    /// where clients (MCP clients, agent runtimes) find this service's
    /// [protected resource metadata](crate::resource_metadata), and through it the
    /// authorization servers to get a token from. Serve the document itself with
    /// [`ResourceMetadata::service`](crate::resource_metadata::ResourceMetadata::service),
    /// outside this layer.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use http::{Request, StatusCode};
    /// use tower::{ServiceBuilder, ServiceExt, service_fn};
    /// use tower_auth::authenticate::AuthenticateLayer;
    /// use tower_auth::resource_metadata::ResourceMetadata;
    /// # use tower_auth::{AuthError, Credentials, Pattern, Verifier, VerifyFuture};
    /// # struct Refuse;
    /// # impl Verifier for Refuse {
    /// #     fn verify(&self, _: &Credentials<'_>) -> VerifyFuture { VerifyFuture::ready(Err(AuthError::BadSignature)) }
    /// #     fn pattern(&self) -> Pattern { Pattern::JwtPassthrough }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let verifier: Arc<dyn Verifier> = Arc::new(Refuse);
    /// let metadata = ResourceMetadata::builder("https://api.example.com")?.build()?;
    /// let service = ServiceBuilder::new()
    ///     .layer(AuthenticateLayer::new(verifier).resource_metadata(&metadata))
    ///     .service(service_fn(|_: Request<String>| async {
    ///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    ///     }));
    /// // No credentials: 401, and where to learn how to get some.
    /// let response = service.oneshot(Request::new(String::new())).await?;
    /// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    /// assert_eq!(
    ///     response.headers()["www-authenticate"],
    ///     r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource""#
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn resource_metadata(
        mut self,
        metadata: &crate::resource_metadata::ResourceMetadata,
    ) -> Self {
        let challenge = self.shared.challenge.with_resource_metadata(metadata);
        self.shared_mut().challenge = Arc::new(challenge);
        self
    }

    /// The challenges this layer answers with: give the same to a
    /// [`RequireLayer`](crate::require::RequireLayer) so its refusals carry the same realm
    /// and resource metadata.
    pub fn http_challenge(&self) -> HttpChallenge {
        HttpChallenge::clone(&self.shared.challenge)
    }

    /// The headers stripped from every request.
    pub fn stripped_headers(&self) -> &[HeaderName] {
        &self.shared.strip
    }

    /// A [`StripHeadersLayer`] stripping exactly the headers this layer strips, for the
    /// whole router: this layer runs only on the routes it is attached to, so apply the
    /// strip layer with `Router::layer` to cover unauthenticated routes and the fallback.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use axum::{Router, routing::get};
    /// use http::HeaderName;
    /// use jsonwebtoken::Algorithm;
    /// use principal::{Audience, Issuer};
    /// use tower_auth::authenticate::AuthenticateLayer;
    /// use tower_auth::jwks::SymmetricKey;
    /// use tower_auth::jwt::{IssuerConfig, JwtVerifier};
    ///
    /// let verifier = JwtVerifier::builder()
    ///     .issuer(
    ///         IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
    ///             .audience(Audience::new("api")?)
    ///             .hmac_secrets([SymmetricKey::new(Some("k1"), Algorithm::HS256, vec![7; 32])?])
    ///             .build()?,
    ///     )
    ///     .build()?;
    /// let authenticate = AuthenticateLayer::new(Arc::new(verifier))
    ///     .strip_headers([HeaderName::from_static("x-user-id")]);
    /// let strip = authenticate.strip_layer();
    /// assert_eq!(strip.stripped_headers(), authenticate.stripped_headers());
    ///
    /// let app: Router = Router::new()
    ///     .route("/whoami", get(|| async { "authenticated" }))
    ///     .route_layer(authenticate) // only /whoami: unknown paths stay 404
    ///     .route("/health", get(|| async { "ok" }))
    ///     .layer(strip); // every request, /health and the fallback included
    /// # let _ = app;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn strip_layer(&self) -> StripHeadersLayer {
        StripHeadersLayer::from_names(&self.shared.strip)
    }
}

impl<S> Layer<S> for AuthenticateLayer {
    type Service = AuthenticateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthenticateService::new(inner, Arc::clone(&self.shared))
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticateConfig")
            .field("pattern", &self.verifier.pattern())
            .field("optional", &self.optional)
            .field("keep_bearer_token", &self.keep_bearer_token)
            .field("max_token_bytes", &self.max_token_bytes)
            .field("strip", &self.strip)
            .field("read_then_removed", &self.read_then_removed)
            .field("challenge", &self.challenge)
            .finish()
    }
}

impl fmt::Debug for AuthenticateLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticateLayer")
            .field("config", &self.shared)
            .finish()
    }
}
