//! Authorization for gRPC: tower-auth's [`RequireLayer`] per server, per service or per
//! method, with refusals as gRPC statuses.
//!
//! [`GrpcRequireLayer`] checks the Principal that
//! [`GrpcAuthenticateLayer`](crate::server::GrpcAuthenticateLayer) verified against a
//! [`Requirement`] (same requirements, same decision, same audit event as HTTP):
//!
//! - one requirement for everything it wraps ([`GrpcRequireLayer::new`]): on
//!   `Server::builder().layer(..)` that is every method of the server; around one
//!   generated service (`GrpcRequireLayer::new(..).layer(EchoServiceServer::new(..))`,
//!   added with `add_service`: the wrapper keeps the service's name) that is one service;
//! - one per method or service ([`GrpcRequirements`]), where a method that matches none
//!   is refused: deny by default.
//!
//! | situation | `grpc-status` |
//! | --- | --- |
//! | no verified Principal | `UNAUTHENTICATED` (16) |
//! | the requirement is not met, or the method has none | `PERMISSION_DENIED` (7) |
//!
//! The refusal is trailers-only, as [`crate::status`] maps it: the client learns the
//! class; the reason ([`Denial`](tower_auth::require::Denial)) goes to the audit event and
//! stays in the response extensions.
//!
//! ```
//! use tonic_auth::require::{GrpcRequireLayer, GrpcRequirements};
//! use tower_auth::require::Requirement;
//!
//! let layer = GrpcRequireLayer::methods(
//!     GrpcRequirements::new()
//!         .method("shop.v1.Orders", "Get", Requirement::scopes(["orders:read"])?)?
//!         .service("shop.v1.Admin", Requirement::scopes(["admin"])?.and(Requirement::no_agent()))?,
//! );
//! # let _ = layer;
//! // Refused: a method name that is not a protobuf identifier.
//! assert!(GrpcRequirements::new().method("shop.v1.Orders", "Get/..", Requirement::authenticated()).is_err());
//! # Ok::<(), tower_auth::require::RequireError>(())
//! ```

use std::task::{Context, Poll};

use http::{Request, Response};
use tower_auth::require::{
    RequireError, RequireLayer, RequireService, Requirement, RouteRequirements,
};
use tower_layer::Layer;
use tower_service::Service;

use crate::server::ResponseFuture;

/// Requirements per gRPC method (`/package.Service/Method`) and per service
/// (`/package.Service/*`); a method matching neither is refused unless
/// [`otherwise`](Self::otherwise) says what it requires. A method's own requirement beats
/// its service's.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct GrpcRequirements {
    routes: RouteRequirements,
}

/// A fully qualified protobuf service name: dot-separated identifiers.
fn check_service(service: &str) -> Result<(), RequireError> {
    let ok = !service.is_empty() && service.split('.').all(is_identifier);
    ok.then_some(())
        .ok_or_else(|| malformed(service, "not a fully qualified protobuf service name"))
}

fn is_identifier(part: &str) -> bool {
    let mut bytes = part.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn malformed(name: &str, why: &'static str) -> RequireError {
    RequireError::Path {
        path: name.chars().take(64).collect(),
        why,
    }
}

impl GrpcRequirements {
    /// No methods: every call is refused until one is added.
    pub fn new() -> Self {
        GrpcRequirements::default()
    }

    /// `requirement` for the method `method` of `service` (`"package.Service"`,
    /// `"Method"`: the path `/package.Service/Method`).
    pub fn method(
        self,
        service: &str,
        method: &str,
        requirement: Requirement,
    ) -> Result<Self, RequireError> {
        check_service(service)?;
        if !is_identifier(method) {
            return Err(malformed(method, "not a protobuf method name"));
        }
        Ok(GrpcRequirements {
            routes: self
                .routes
                .path(&format!("/{service}/{method}"), requirement)?,
        })
    }

    /// `requirement` for every method of `service` that has none of its own.
    pub fn service(self, service: &str, requirement: Requirement) -> Result<Self, RequireError> {
        check_service(service)?;
        Ok(GrpcRequirements {
            routes: self.routes.prefix(&format!("/{service}/"), requirement)?,
        })
    }

    /// `requirement` for every method nothing else matches (instead of refusing them).
    pub fn otherwise(self, requirement: Requirement) -> Self {
        GrpcRequirements {
            routes: self.routes.otherwise(requirement),
        }
    }
}

/// tower-auth's [`RequireLayer`] with a gRPC face: put it inside
/// [`GrpcAuthenticateLayer`](crate::server::GrpcAuthenticateLayer)
/// (`Server::builder().layer(authenticate).layer(require)`), or around one service.
#[derive(Clone, Debug)]
#[must_use]
pub struct GrpcRequireLayer {
    require: RequireLayer,
}

impl GrpcRequireLayer {
    /// `requirement` for every call that reaches the layer.
    pub fn new(requirement: Requirement) -> Self {
        GrpcRequireLayer {
            require: RequireLayer::new(requirement),
        }
    }

    /// A requirement per method or service; other methods are refused.
    pub fn methods(methods: GrpcRequirements) -> Self {
        GrpcRequireLayer {
            require: RequireLayer::routes(methods.routes),
        }
    }
}

impl From<RequireLayer> for GrpcRequireLayer {
    fn from(require: RequireLayer) -> Self {
        GrpcRequireLayer { require }
    }
}

impl<S> Layer<S> for GrpcRequireLayer {
    type Service = GrpcRequireService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcRequireService {
            inner: self.require.layer(inner),
        }
    }
}

/// The service of a [`GrpcRequireLayer`]; keeps the wrapped service's gRPC name, so it
/// can be given to `add_service`.
#[derive(Clone, Debug)]
#[must_use]
pub struct GrpcRequireService<S> {
    inner: RequireService<S>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcRequireService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<tower_auth::require::ResponseFuture<S::Future, ResBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        ResponseFuture::new(self.inner.call(request))
    }
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for GrpcRequireService<S> {
    const NAME: &'static str = S::NAME;
}
