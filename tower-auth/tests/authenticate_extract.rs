//! The axum extractor without a Principal: a route that forgot the layer answers 500
//! (never an anonymous pass), and optional routes behind an optional layer see `None`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::extract::{Authenticated, AuthenticatedRejection};
use tower_auth::{AuthError, Pattern, Verifier, VerifyFuture};

struct RefuseAll;

impl Verifier for RefuseAll {
    fn verify<'a>(&'a self, _token: &'a str) -> VerifyFuture<'a> {
        Box::pin(async {
            Err(AuthError::Expired {
                expired_at: principal::Timestamp::from_unix_seconds(1),
                now: principal::Timestamp::from_unix_seconds(2),
            })
        })
    }

    fn pattern(&self) -> Pattern {
        Pattern::JwtPassthrough
    }
}

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

async fn send(
    app: Router,
    path: &str,
    authorization: Option<&str>,
) -> (StatusCode, http::HeaderMap, String) {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
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
async fn without_the_layer_a_required_principal_is_a_500_with_an_empty_body() {
    for authorization in [None, Some("Bearer abc")] {
        let (status, headers, body) = send(routes(), "/required", authorization).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(headers.get("www-authenticate").is_none());
        assert!(body.is_empty());
    }
}

#[tokio::test]
async fn without_the_layer_an_optional_principal_is_a_500_too() {
    // "Optional" is about credentials, not about the layer: no anonymous pass.
    let (status, _, body) = send(routes(), "/optional", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.is_empty());
}

#[tokio::test]
async fn with_an_optional_layer_anonymous_requests_are_none() {
    let app = routes().route_layer(AuthenticateLayer::new(Arc::new(RefuseAll)).optional());
    let (status, _, body) = send(app.clone(), "/optional", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "anonymous");

    // The route that requires a Principal challenges the anonymous caller.
    let (status, headers, body) = send(app.clone(), "/required", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert!(body.is_empty());

    // A bad token is refused by the layer before any handler runs.
    let (status, headers, body) = send(app, "/optional", Some("Bearer abc")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    assert!(body.is_empty());
}

#[tokio::test]
async fn with_a_required_layer_unknown_paths_stay_404() {
    let app = routes().route_layer(AuthenticateLayer::new(Arc::new(RefuseAll)));
    let (status, _, _) = send(app.clone(), "/nowhere", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, headers, _) = send(app, "/required", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer");
}

#[test]
fn the_rejection_reports_its_status() {
    let rejection = AuthenticatedRejection::MissingAuthenticateLayer;
    assert_eq!(rejection.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(rejection.reason(), "missing_authenticate_layer");
    assert_eq!(
        rejection.to_string(),
        "no AuthenticateLayer ran for this route"
    );
}
