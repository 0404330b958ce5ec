//! RFC 9728 protected resource metadata over a real axum server on loopback: the document
//! at its well-known path, and `resource_metadata` in the 401 challenges of the
//! authenticate layer and in the 403 challenges of the require layer; bad documents
//! refused when built.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{Audience, Issuer, ScopeSet, TestClock, Timestamp};
use serde_json::{Value, json};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::jwks::SymmetricKey;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::require::{RequireLayer, Requirement};
use tower_auth::resource_metadata::{ResourceMetadata, ResourceMetadataError};

const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "https://api.example.com/orders";
const SECRET: [u8; 32] = [0x17; 32];
const METADATA_URL: &str = "https://api.example.com/.well-known/oauth-protected-resource/orders";

fn metadata() -> ResourceMetadata {
    ResourceMetadata::builder("https://api.example.com/orders")
        .unwrap()
        .authorization_server(Issuer::new(ISSUER).unwrap())
        .authorization_server(Issuer::new("https://login.example.org").unwrap())
        .scopes_supported(ScopeSet::parse("orders:read orders:write").unwrap())
        .jwks_uri("https://api.example.com/.well-known/jwks.json")
        .resource_name("Orders API")
        .resource_documentation("https://docs.example.com/orders")
        .resource_policy_uri("https://example.com/privacy")
        .resource_tos_uri("https://example.com/terms")
        .build()
        .unwrap()
}

fn verifier() -> Arc<JwtVerifier> {
    let config = IssuerConfig::builder(Issuer::new(ISSUER).unwrap())
        .audience(Audience::new(AUDIENCE).unwrap())
        .hmac_secrets([SymmetricKey::new(Some("k1"), Algorithm::HS256, SECRET.to_vec()).unwrap()])
        .build()
        .unwrap();
    Arc::new(
        JwtVerifier::builder()
            .issuer(config)
            .clock(Arc::new(TestClock::new(Timestamp::from_unix_seconds(NOW))))
            .build()
            .unwrap(),
    )
}

fn token(scope: &str) -> String {
    let claims =
        json!({"iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "exp": NOW + 300, "scope": scope});
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&SECRET)).unwrap()
}

/// The document at its well-known path (public), and `/orders` behind authentication
/// and a scope requirement, both naming the document in their challenges.
async fn serve(authenticate: AuthenticateLayer) -> SocketAddr {
    let metadata = metadata();
    let require = RequireLayer::new(Requirement::scopes(["orders:write"]).unwrap())
        .challenge(authenticate.http_challenge());
    let app = Router::new()
        .route("/orders", get(|| async { "ok" }))
        .route_layer(require)
        .route_layer(authenticate)
        .route_service(metadata.well_known_path(), metadata.service());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn challenge_of(addr: SocketAddr, bearer: Option<&str>) -> (StatusCode, String) {
    let mut request = reqwest::Client::new().get(format!("http://{addr}/orders"));
    if let Some(bearer) = bearer {
        request = request.header("authorization", bearer);
    }
    let response = request.send().await.unwrap();
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    (response.status(), challenge)
}

#[tokio::test]
async fn the_document_is_served_at_its_well_known_path() {
    let addr = serve(AuthenticateLayer::new(verifier()).resource_metadata(&metadata())).await;
    let response = reqwest::get(format!(
        "http://{addr}/.well-known/oauth-protected-resource/orders"
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(
        document,
        json!({
            "resource": "https://api.example.com/orders",
            "authorization_servers": ["https://idp.example.com", "https://login.example.org"],
            "jwks_uri": "https://api.example.com/.well-known/jwks.json",
            "scopes_supported": ["orders:read", "orders:write"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Orders API",
            "resource_documentation": "https://docs.example.com/orders",
            "resource_policy_uri": "https://example.com/privacy",
            "resource_tos_uri": "https://example.com/terms",
        })
    );

    // Only GET and HEAD.
    let response = reqwest::Client::new()
        .post(format!(
            "http://{addr}/.well-known/oauth-protected-resource/orders"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn challenges_name_the_document() {
    let addr = serve(AuthenticateLayer::new(verifier()).resource_metadata(&metadata())).await;
    let (status, challenge) = challenge_of(addr, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge,
        format!(r#"Bearer resource_metadata="{METADATA_URL}""#)
    );

    let (status, challenge) = challenge_of(addr, Some("Bearer not.a.jwt")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge,
        format!(r#"Bearer error="invalid_token", resource_metadata="{METADATA_URL}""#)
    );

    // The require layer, given the same challenges: 403 with the scope and the document.
    let bearer = format!("Bearer {}", token("orders:read"));
    let (status, challenge) = challenge_of(addr, Some(&bearer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge,
        format!(
            r#"Bearer error="insufficient_scope", resource_metadata="{METADATA_URL}", scope="orders:write""#
        )
    );
}

#[tokio::test]
async fn realm_and_resource_metadata_keep_each_other_in_either_order() {
    let expected = format!(r#"Bearer realm="orders", resource_metadata="{METADATA_URL}""#);
    let first = AuthenticateLayer::new(verifier())
        .realm("orders")
        .unwrap()
        .resource_metadata(&metadata());
    let second = AuthenticateLayer::new(verifier())
        .resource_metadata(&metadata())
        .realm("orders")
        .unwrap();
    for layer in [first, second] {
        let (status, challenge) = challenge_of(serve(layer).await, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(challenge, expected);
    }
    // Without it, the challenges stay as they were.
    let (_, challenge) = challenge_of(serve(AuthenticateLayer::new(verifier())).await, None).await;
    assert_eq!(challenge, "Bearer");
}

#[test]
fn the_well_known_path_follows_rfc_9728_section_3_1() {
    for (resource, path) in [
        (
            "https://api.example.com",
            "/.well-known/oauth-protected-resource",
        ),
        (
            "https://api.example.com/",
            "/.well-known/oauth-protected-resource",
        ),
        (
            "https://api.example.com:8443/v1/orders",
            "/.well-known/oauth-protected-resource/v1/orders",
        ),
    ] {
        let metadata = ResourceMetadata::builder(resource)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(metadata.well_known_path(), path, "{resource}");
        assert_eq!(metadata.resource(), resource);
        let authority = resource
            .trim_start_matches("https://")
            .split('/')
            .next()
            .unwrap();
        assert_eq!(
            metadata.metadata_url(),
            format!("https://{authority}{path}")
        );
    }
}

#[test]
fn bad_documents_are_refused_when_built() {
    let long = format!("https://api.example.com/{}", "a".repeat(3000));
    for resource in [
        "http://api.example.com",
        "api.example.com",
        "https://",
        "https:///orders",
        "https://api.example.com/#frag",
        "https://api.example.com/orders?tenant=a",
        "https://user@api.example.com",
        "https://api.example.com/a b",
        "https://api.example.com/\"",
        "https://api.example.com/\\",
        "https://api.example.com/caf\u{e9}",
        long.as_str(),
    ] {
        let error = ResourceMetadata::builder(resource).unwrap_err();
        assert!(
            matches!(
                error,
                ResourceMetadataError::Url {
                    field: "resource",
                    ..
                }
            ),
            "{resource:?}: {error:?}"
        );
        assert_eq!(error.reason(), "invalid_metadata_url");
    }
    let builder = || ResourceMetadata::builder("https://api.example.com").unwrap();
    let error = builder()
        .jwks_uri("http://api.example.com/jwks")
        .build()
        .unwrap_err();
    assert!(matches!(
        error,
        ResourceMetadataError::Url {
            field: "jwks_uri",
            ..
        }
    ));
    let error = builder()
        .resource_tos_uri("https://x/\"")
        .build()
        .unwrap_err();
    assert!(matches!(
        error,
        ResourceMetadataError::Url {
            field: "resource_tos_uri",
            ..
        }
    ));
    let error = builder().resource_name("Orders\nAPI").build().unwrap_err();
    assert!(matches!(
        error,
        ResourceMetadataError::Text {
            field: "resource_name"
        }
    ));
    assert!(builder().resource_name("").build().is_err());
    // Minimal: the resource and the one bearer method Baton reads.
    let document: Value = serde_json::from_slice(builder().build().unwrap().document()).unwrap();
    assert_eq!(
        document,
        json!({"resource": "https://api.example.com", "bearer_methods_supported": ["header"]})
    );
}
