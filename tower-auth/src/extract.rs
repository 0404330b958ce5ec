//! The axum extractor for the verified Principal (feature `axum`).
//!
//! [`Authenticated`] reads the [`VerifiedPrincipal`] that the
//! [`AuthenticateLayer`](crate::authenticate::AuthenticateLayer) put into the request
//! extensions, and dereferences to the [`Principal`]. It is a newtype because the orphan
//! rule forbids implementing axum's traits for `principal::Principal` here, and the
//! `principal` crate stays free of web frameworks.
//!
//! - `Authenticated`: the route requires authentication. Without the layer: **500** and an
//!   error log naming the missing layer (a configuration bug, never an anonymous pass).
//!   With the layer in optional mode and an anonymous request: **401** with the layer's
//!   `WWW-Authenticate: Bearer` challenge.
//! - `Option<Authenticated>`: the route allows anonymous requests (layer in optional
//!   mode): `None` when the request had no bearer credentials. Without the layer it is
//!   still a 500: "optional" means optional credentials, not an optional layer.
//!
//! ```
//! use axum::{Router, routing::get};
//! use tower_auth::extract::Authenticated;
//!
//! async fn me(principal: Authenticated) -> String {
//!     // Derefs to principal::Principal.
//!     principal.id().to_string()
//! }
//!
//! async fn greeting(principal: Option<Authenticated>) -> String {
//!     match principal {
//!         Some(principal) => format!("hello {}", principal.id()),
//!         None => "hello stranger".to_owned(),
//!     }
//! }
//!
//! # fn layer() -> tower_auth::authenticate::AuthenticateLayer { unimplemented!() }
//! # fn build() -> Router {
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .route_layer(layer());
//! # app }
//! # let _ = build;
//! # let _ = greeting;
//! ```
//!
//! A route that forgot the layer answers 500, never an anonymous 200:
//!
//! ```
//! use axum::{Router, routing::get, body::Body};
//! use http::{Request, StatusCode};
//! use tower::ServiceExt;
//! use tower_auth::extract::Authenticated;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app: Router = Router::new().route("/me", get(|_: Authenticated| async { "hi" }));
//! let response = app
//!     .oneshot(Request::get("/me").body(Body::empty()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
//! # });
//! ```

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use principal::Principal;

use crate::context::RequestContext;
use crate::error::{AuthError, HttpChallenge};
use crate::verified::VerifiedPrincipal;

/// The verified Principal of the request, as an axum extractor. Dereferences to
/// [`Principal`]; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Authenticated(pub VerifiedPrincipal);

impl Authenticated {
    /// The wrapper the layer inserted (with the pattern that verified it).
    pub fn verified(&self) -> &VerifiedPrincipal {
        &self.0
    }

    /// The Principal, shared.
    pub fn into_principal(self) -> Arc<Principal> {
        self.0.into_principal()
    }
}

impl Deref for Authenticated {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        self.0.principal()
    }
}

/// Why [`Authenticated`] could not be extracted.
#[non_exhaustive]
pub enum AuthenticatedRejection {
    /// No [`AuthenticateLayer`](crate::authenticate::AuthenticateLayer) ran for this
    /// route: a configuration bug. Answers 500.
    MissingAuthenticateLayer,
    /// The layer ran in optional mode and the request had no bearer credentials, but the
    /// handler requires a Principal. Answers 401 with the layer's challenge.
    Unauthenticated {
        /// The layer's challenges (keeps its realm).
        challenge: Arc<HttpChallenge>,
    },
}

impl AuthenticatedRejection {
    /// The status the rejection answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthenticatedRejection::MissingAuthenticateLayer => StatusCode::INTERNAL_SERVER_ERROR,
            AuthenticatedRejection::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
        }
    }

    /// A stable snake_case label for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthenticatedRejection::MissingAuthenticateLayer => "missing_authenticate_layer",
            AuthenticatedRejection::Unauthenticated { .. } => "missing_token",
        }
    }
}

impl fmt::Debug for AuthenticatedRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthenticatedRejection::MissingAuthenticateLayer => "MissingAuthenticateLayer",
            AuthenticatedRejection::Unauthenticated { .. } => "Unauthenticated",
        })
    }
}

impl fmt::Display for AuthenticatedRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthenticatedRejection::MissingAuthenticateLayer => {
                "no AuthenticateLayer ran for this route"
            }
            AuthenticatedRejection::Unauthenticated { .. } => {
                "the route requires a Principal and the request had no bearer credentials"
            }
        })
    }
}

impl std::error::Error for AuthenticatedRejection {}

impl IntoResponse for AuthenticatedRejection {
    fn into_response(self) -> Response {
        match self {
            AuthenticatedRejection::MissingAuthenticateLayer => {
                let mut response = Response::new(axum::body::Body::empty());
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
            AuthenticatedRejection::Unauthenticated { challenge } => {
                challenge.response(&AuthError::MissingToken)
            }
        }
    }
}

/// The authenticate layer's marker, in the request context it left in the extensions.
fn layer_ran(parts: &Parts) -> Option<&crate::authenticate::AuthenticateRan> {
    parts
        .extensions
        .get::<RequestContext>()
        .and_then(RequestContext::layer_ran)
}

/// What the layer left in the extensions: a Principal, an anonymous pass, or nothing.
fn extract(parts: &Parts) -> Result<Option<Authenticated>, AuthenticatedRejection> {
    if let Some(verified) = parts.extensions.get::<VerifiedPrincipal>() {
        return Ok(Some(Authenticated(verified.clone())));
    }
    match layer_ran(parts) {
        Some(_) => Ok(None),
        None => {
            tracing::error!(
                target: crate::authenticate::AUDIT_TARGET,
                path = parts.uri.path(),
                outcome = "rejected",
                reason = "missing_authenticate_layer",
                "a handler extracts tower_auth::extract::Authenticated but no \
                 tower_auth::authenticate::AuthenticateLayer ran for this route: \
                 add the layer (axum: Router::route_layer); refusing with 500"
            );
            Err(AuthenticatedRejection::MissingAuthenticateLayer)
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = AuthenticatedRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match extract(parts)? {
            Some(authenticated) => Ok(authenticated),
            None => {
                let challenge = layer_ran(parts)
                    .map(|ran| Arc::clone(&ran.challenge))
                    .unwrap_or_default();
                Err(AuthenticatedRejection::Unauthenticated { challenge })
            }
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = AuthenticatedRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        extract(parts)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::{Authenticated, AuthenticatedRejection};
    use crate::authenticate::AuthenticateLayer;
    use crate::verified::testing::{HUMAN, OneToken};

    const GOOD: &str = "good.token.sig";

    /// A route requiring a Principal and one taking it optionally, with no layer yet.
    fn routes() -> Router {
        Router::new()
            .route(
                "/required",
                get(|principal: Authenticated| async move { principal.id().to_string() }),
            )
            .route(
                "/optional",
                get(|principal: Option<Authenticated>| async move {
                    principal.map_or_else(|| "anonymous".to_owned(), |p| p.id().to_string())
                }),
            )
    }

    fn app(layer: AuthenticateLayer) -> Router {
        routes().route_layer(layer)
    }

    async fn get_body(
        app: Router,
        path: &str,
        token: Option<&str>,
    ) -> (StatusCode, http::HeaderMap, String) {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = app
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn handlers_get_the_verified_principal() {
        let app = app(AuthenticateLayer::new(OneToken::new(GOOD)));
        let (status, _, body) = get_body(app.clone(), "/required", Some(GOOD)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, HUMAN);
        let (status, _, body) = get_body(app, "/optional", Some(GOOD)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, HUMAN);
    }

    #[tokio::test]
    async fn without_the_layer_a_required_principal_is_a_500_with_an_empty_body() {
        for token in [None, Some("abc")] {
            let (status, headers, body) = get_body(routes(), "/required", token).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            assert!(headers.get("www-authenticate").is_none());
            assert!(body.is_empty());
        }
    }

    #[tokio::test]
    async fn without_the_layer_an_optional_principal_is_a_500_too() {
        // "Optional" is about credentials, not about the layer: no anonymous pass.
        let (status, _, body) = get_body(routes(), "/optional", None).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn with_an_optional_layer_anonymous_requests_are_none() {
        let app = app(AuthenticateLayer::new(OneToken::new(GOOD)).optional());
        let (status, _, body) = get_body(app.clone(), "/optional", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "anonymous");

        // The route that requires a Principal challenges the anonymous caller.
        let (status, headers, body) = get_body(app.clone(), "/required", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers["www-authenticate"], "Bearer");
        assert!(body.is_empty());

        // A bad token is refused by the layer before any handler runs.
        let (status, headers, body) = get_body(app, "/optional", Some("abc")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            headers["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn a_required_principal_on_an_anonymous_request_is_challenged() {
        let layer = AuthenticateLayer::new(OneToken::new(GOOD))
            .optional()
            .realm("orders")
            .unwrap();
        let (status, headers, body) = get_body(app(layer), "/required", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers["www-authenticate"], r#"Bearer realm="orders""#);
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn with_a_required_layer_unknown_paths_stay_404() {
        let app = app(AuthenticateLayer::new(OneToken::new(GOOD)));
        let (status, _, _) = get_body(app.clone(), "/nowhere", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, headers, _) = get_body(app, "/required", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers["www-authenticate"], "Bearer");
    }

    #[test]
    fn rejections_expose_status_and_reason() {
        let missing = AuthenticatedRejection::MissingAuthenticateLayer;
        assert_eq!(missing.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(missing.reason(), "missing_authenticate_layer");
        assert_eq!(format!("{missing:?}"), "MissingAuthenticateLayer");
        assert_eq!(
            missing.to_string(),
            "no AuthenticateLayer ran for this route"
        );
    }
}
