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
        self.shared_mut().challenge = Arc::new(HttpChallenge::with_realm(realm)?);
        Ok(self)
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
