//! The JwksService over real loopback connections: what it serves, with which headers,
//! what it refuses, and that the JWKS loads in full into the verifier's key set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mint_fixture;

use std::sync::Arc;

use axum::Router;
use jsonwebtoken::Algorithm;
use mint_fixture::*;
use principal::{Audience, ClaimMapping, Issuer, TestClock, Timestamp};
use serde_json::Value;
use tower_auth::jwks::{KeySet, KeySetPolicy, StartupPolicy};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};

#[tokio::test]
async fn serves_the_jwks_and_discovery_with_cache_control() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    edge.issuer
        .rotate(SigningKey::generate(SigningAlgorithm::EdDsa).unwrap())
        .unwrap();
    // The first key signed nothing: only the EdDSA key is published. Mint with it, rotate
    // again, and both are.
    edge.issuer
        .mint(&alice(), &Audience::new(ORDERS).unwrap())
        .unwrap();
    edge.issuer
        .rotate(SigningKey::generate(SigningAlgorithm::Es256).unwrap())
        .unwrap();
    let base = format!("http://{}", edge.addr);

    let response = reqwest::get(format!("{base}/.well-known/jwks.json"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    let body = response.bytes().await.unwrap();
    let load = KeySet::from_jwks_json(&body, &KeySetPolicy::default()).unwrap();
    assert!(load.dropped.is_empty(), "{:?}", load.dropped);
    assert_eq!(load.set.len(), 2);
    let jwks: Value = serde_json::from_slice(&body).unwrap();
    for key in jwks["keys"].as_array().unwrap() {
        assert!(key.get("d").is_none(), "no private member");
        assert_eq!(key["use"], "sig");
    }

    let response = reqwest::get(format!("{base}/.well-known/openid-configuration"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    let discovery: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(discovery["issuer"], base);
    assert_eq!(
        discovery["jwks_uri"],
        format!("{base}/.well-known/jwks.json")
    );
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256", "EdDSA"])
    );
}

#[tokio::test]
async fn refuses_other_paths_and_methods() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let base = format!("http://{}", edge.addr);
    let client = reqwest::Client::new();
    let head = client
        .head(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);

    // Behind `route_service`, axum answers paths it has no route for itself (404).
    let response = client
        .get(format!("{base}/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let response = client
            .request(method.clone(), format!("{base}/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method}");
        assert_eq!(response.headers()["allow"], "GET, HEAD");
    }
}

/// An issuer with a path, its service nested there: the verifier's discovery finds it.
#[tokio::test]
async fn nested_under_the_issuers_path_discovery_works_end_to_end() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let clock = TestClock::new(Timestamp::from_unix_seconds(START));
    let issuer = InternalIssuer::builder(
        Issuer::new(format!("http://{addr}/internal/mint")).unwrap(),
        SigningKey::generate(SigningAlgorithm::EdDsa).unwrap(),
    )
    .clock(Arc::new(clock.clone()))
    .build()
    .unwrap();
    let app = Router::new().nest_service("/internal/mint", issuer.jwks_service());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    assert_eq!(
        issuer.jwks_uri(),
        format!("http://{addr}/internal/mint/.well-known/jwks.json")
    );

    let verifier = JwtVerifier::builder()
        .issuer(
            IssuerConfig::builder(issuer.issuer().clone())
                .audience(Audience::new(ORDERS).unwrap())
                .oidc_discovery()
                .algorithms([Algorithm::EdDSA])
                .require_typ("at+jwt")
                .claim_mapping(ClaimMapping::baton())
                .build()
                .unwrap(),
        )
        .clock(Arc::new(clock))
        .build()
        .unwrap();
    verifier
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .unwrap();
    let alice = alice();
    let token = issuer
        .mint(&alice, &Audience::new(ORDERS).unwrap())
        .unwrap();
    let received = verifier.verify_token(token.as_str()).await.unwrap();
    assert_eq!(received.id(), alice.id());

    // Outside the nest: not served.
    let response = reqwest::get(format!("http://{addr}/.well-known/jwks.json"))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    server.abort();
}
