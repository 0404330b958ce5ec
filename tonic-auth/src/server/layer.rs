use std::sync::Arc;

use tower_auth::Verifier;
use tower_auth::authenticate::AuthenticateLayer;
use tower_layer::Layer;

use super::body::ScopeResponseBody;
use super::service::GrpcAuthenticateService;

/// Authenticates every gRPC call with tower-auth's verifiers before the service sees it,
/// and answers refusals as gRPC clients expect.
///
/// It is tower-auth's [`AuthenticateLayer`], with the same two roles, wrapped for gRPC;
/// see the [module docs](super) for the steps and the status codes.
///
/// - **edge** ([`new`](Self::new)): every `x-principal-bin` and `x-baton-internal-token`
///   is stripped before anything reads the call, so only the `authorization` bearer
///   token (and an mTLS peer) reaches the verifiers;
/// - **internal** ([`internal`](Self::internal)), on a service behind an edge: those two
///   metadata entries reach the verifiers and are removed before the service runs.
///
/// Any other setting of the authenticate layer (optional authentication, a larger token
/// bound, more headers to strip) is made on an [`AuthenticateLayer`] and brought in with
/// `From`.
#[derive(Clone, Debug)]
#[must_use]
pub struct GrpcAuthenticateLayer {
    authenticate: AuthenticateLayer,
}

impl GrpcAuthenticateLayer {
    /// An edge layer: strips the internal metadata from every call, then requires
    /// credentials that `verifier` accepts.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tower_auth::{AuthError, Credentials, Pattern, Verifier, VerifyFuture};
    /// # struct BadSignatures;
    /// # impl Verifier for BadSignatures {
    /// #     fn verify(&self, _: &Credentials<'_>) -> VerifyFuture {
    /// #         VerifyFuture::ready(Err(AuthError::BadSignature))
    /// #     }
    /// #     fn pattern(&self) -> Pattern { Pattern::JwtPassthrough }
    /// # }
    /// # let verifier: Arc<dyn Verifier> = Arc::new(BadSignatures);
    /// use tonic_auth::server::GrpcAuthenticateLayer;
    ///
    /// // `verifier`: a tower-auth JwtVerifier, or a VerifierChain of several patterns.
    /// let server = tonic::transport::Server::builder().layer(GrpcAuthenticateLayer::new(verifier));
    /// # let _ = server;
    /// ```
    pub fn new(verifier: Arc<dyn Verifier>) -> Self {
        GrpcAuthenticateLayer {
            authenticate: AuthenticateLayer::new(verifier),
        }
    }

    /// A layer for a service behind an edge: `verifier` (a passport verifier, a JWT
    /// verifier for an internal issuer, in a chain) reads `x-principal-bin` and
    /// `x-baton-internal-token`, which are then removed before the service runs. Never
    /// use it on a service that outside callers can reach directly (see
    /// [`AuthenticateLayer::internal`]).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tower_auth::{AuthError, Credentials, Pattern, Verifier, VerifyFuture};
    /// # struct Passports;
    /// # impl Verifier for Passports {
    /// #     fn verify(&self, _: &Credentials<'_>) -> VerifyFuture {
    /// #         VerifyFuture::ready(Err(AuthError::UnsupportedTokenFormat))
    /// #     }
    /// #     fn pattern(&self) -> Pattern { Pattern::Passport }
    /// # }
    /// # let passports: Arc<dyn Verifier> = Arc::new(Passports);
    /// use tonic_auth::server::GrpcAuthenticateLayer;
    ///
    /// // `passports`: a tower-auth PassportHeaderVerifier.
    /// let server = tonic::transport::Server::builder()
    ///     .layer(GrpcAuthenticateLayer::internal(passports));
    /// # let _ = server;
    /// ```
    pub fn internal(verifier: Arc<dyn Verifier>) -> Self {
        GrpcAuthenticateLayer {
            authenticate: AuthenticateLayer::internal(verifier),
        }
    }
}

impl From<AuthenticateLayer> for GrpcAuthenticateLayer {
    /// The gRPC form of `authenticate`, with all its settings (its realm is unused: gRPC
    /// has no challenge header).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tower_auth::{AuthError, Credentials, Pattern, Verifier, VerifyFuture};
    /// # struct Jwts;
    /// # impl Verifier for Jwts {
    /// #     fn verify(&self, _: &Credentials<'_>) -> VerifyFuture {
    /// #         VerifyFuture::ready(Err(AuthError::BadSignature))
    /// #     }
    /// #     fn pattern(&self) -> Pattern { Pattern::JwtPassthrough }
    /// # }
    /// # let verifier: Arc<dyn Verifier> = Arc::new(Jwts);
    /// use tonic_auth::server::GrpcAuthenticateLayer;
    /// use tower_auth::authenticate::AuthenticateLayer;
    ///
    /// // Calls without credentials pass, anonymous; a bad credential is still refused.
    /// let layer = GrpcAuthenticateLayer::from(AuthenticateLayer::new(verifier).optional());
    /// # let _ = layer;
    /// ```
    fn from(authenticate: AuthenticateLayer) -> Self {
        GrpcAuthenticateLayer { authenticate }
    }
}

impl<S> Layer<S> for GrpcAuthenticateLayer {
    type Service = GrpcAuthenticateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcAuthenticateService::new(self.authenticate.layer(ScopeResponseBody::new(inner)))
    }
}
