//! The require layer: authorization, after authentication.
//!
//! [`RequireLayer`] checks the [`VerifiedPrincipal`](crate::VerifiedPrincipal) that the
//! [`AuthenticateLayer`](crate::authenticate::AuthenticateLayer) put into the request
//! against a [`Requirement`] before the inner service runs: scopes, roles (delegation
//! aware), tenant, kinds, delegation depth and the calling workload's SPIFFE ID, composed
//! with `and`, `or` and `!`. One requirement for every request ([`RequireLayer::new`], in
//! axum per route with `route_layer`) or one per path ([`RouteRequirements`], in front of
//! a whole router or gRPC server), where a path with no requirement is refused: deny by
//! default.
//!
//! The decision is [`Requirement::check`], a plain function: everything is parsed and
//! the challenges are built when the layer is, so a check compares and allocates nothing.
//!
//! # Responses
//!
//! | situation | status | `WWW-Authenticate` |
//! | --- | --- | --- |
//! | no verified Principal (an anonymous pass of an optional authenticate layer, or no authenticate layer) | 401 | `Bearer` |
//! | the requirement is not met, or the path has none | 403 | `Bearer error="insufficient_scope", scope="<the scopes it names>"` |
//!
//! The 403 challenge names the scopes of the requirement (outside any `!`), sorted; a
//! requirement that names no scope answers without `scope`. With
//! [`RequireLayer::challenge`] the realm and RFC 9728 `resource_metadata` of the
//! authenticate layer's [`HttpChallenge`](crate::error::HttpChallenge) appear too. The
//! body is empty; the response extensions hold an
//! [`AuthRejection`](crate::error::AuthRejection) (class `InsufficientScope`, the
//! denial's reason) and the [`Denial`]. tonic-auth maps both refusals to gRPC
//! (`UNAUTHENTICATED`, `PERMISSION_DENIED`).
//!
//! Each decision emits one `tracing` event on [`AUDIT_TARGET`](crate::authenticate::AUDIT_TARGET)
//! (`decision = "authorization"`), with the same fields as the authentication event plus
//! `trace_id` and `workload`; `outcome` is `allowed` or `denied`, `reason` `satisfied` or
//! the [`Denial::reason`].
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use http::{Request, Response, StatusCode};
//! use principal::Kind;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_auth::authenticate::AuthenticateLayer;
//! use tower_auth::require::{RequireLayer, Requirement};
//! # use tower_auth::{AuthError, Credentials, Pattern, Verifier, VerifyFuture};
//! # /// Stands in for a JWT verifier: refuses every token.
//! # struct Refuse;
//! # impl Verifier for Refuse {
//! #     fn verify(&self, _: &Credentials<'_>) -> VerifyFuture { VerifyFuture::ready(Err(AuthError::BadSignature)) }
//! #     fn pattern(&self) -> Pattern { Pattern::JwtPassthrough }
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! # let verifier: Arc<dyn Verifier> = Arc::new(Refuse);
//! let requirement = Requirement::scopes(["orders:write"])?
//!     .and(Requirement::agents_on_behalf_of([Kind::Human]))
//!     .and(Requirement::max_delegation_depth(1));
//! let service = ServiceBuilder::new()
//!     .layer(AuthenticateLayer::new(verifier).optional())
//!     .layer(RequireLayer::new(requirement))
//!     .service(service_fn(|_: Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(String::from("done")))
//!     }));
//!
//! // No credentials: the optional authenticate layer lets it pass, the require layer
//! // does not (401). A Principal without `orders:write` gets 403 with
//! // `Bearer error="insufficient_scope", scope="orders:write"`.
//! let response = service.oneshot(Request::new(String::new())).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["www-authenticate"], "Bearer");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Deployment caveats
//!
//! - **Order**: the authenticate layer outside, this layer inside it. In axum attach both
//!   with `route_layer` so unknown paths answer 404.
//! - **Per-path tables** match the path as received: register every path a router
//!   serves (or a prefix for it); anything else is refused, so a path the table forgot
//!   fails closed.
//! - **Roles are the subject's**: when an agent acts for a human, [`Requirement::role`]
//!   refuses; use [`Requirement::delegated_role`] only where the agent may use its
//!   human's role.

pub(crate) mod audit;
mod future;
mod layer;
mod requirement;
mod routes;
mod service;

pub use self::future::ResponseFuture;
pub use self::layer::RequireLayer;
pub use self::requirement::{Denial, Requirement};
pub use self::routes::{MAX_ROUTE_PATH_LEN, RouteRequirements};
pub use self::service::RequireService;

/// A requirement or route table could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequireError {
    /// A scope the requirement names is not an RFC 6749 `scope-token`.
    #[error("scope {scope:?}: {source}")]
    Scope {
        /// The scope as given (at most 64 characters of it).
        scope: String,
        /// Why it is not a scope.
        source: principal::IdError,
    },
    /// A path or prefix of a [`RouteRequirements`] cannot be a request path.
    #[error("path {path:?}: {why}")]
    Path {
        /// The path as given (at most 64 characters of it).
        path: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The same path or prefix is given two requirements.
    #[error("path {path:?}: given a requirement twice")]
    DuplicatePath {
        /// The path.
        path: String,
    },
}

impl RequireError {
    /// A stable snake_case label for logs.
    ///
    /// ```
    /// use tower_auth::require::Requirement;
    ///
    /// let error = Requirement::scopes(["orders\"read"]).unwrap_err();
    /// assert_eq!(error.reason(), "malformed_scope");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            RequireError::Scope { .. } => "malformed_scope",
            RequireError::Path { .. } => "malformed_path",
            RequireError::DuplicatePath { .. } => "duplicate_path",
        }
    }
}
