//! One internal hop over real loopback connections: the edge mints (through its cache)
//! for the downstream's audience and sends `Authorization: Bearer <internal-jwt>`; the
//! downstream's AuthenticateLayer verifies it with the JwtVerifier configured for the
//! edge's issuer (`minted_by`), and its handler sees the human, the acting agent and the
//! calling service.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mint_fixture;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use mint_fixture::*;
use principal::{Audience, ServiceId};
use serde_json::{Value, json};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::extract::Authenticated;
use tower_auth::mint::{MintCache, SigningAlgorithm};
use tower_auth::{CallerIdentity, Pattern};

async fn whoami(principal: Authenticated) -> axum::Json<Value> {
    let caller = principal.verified().caller().map(|c| {
        let id = match c.identity() {
            CallerIdentity::Service(id) => id.to_string(),
            other => other.to_string(),
        };
        json!({"service": id, "pattern": c.pattern().as_str()})
    });
    axum::Json(json!({
        "id": principal.id().to_string(),
        "kind": principal.kind().as_str(),
        "acting": principal.acting().to_string(),
        "pattern": principal.verified().pattern().as_str(),
        "caller": caller,
    }))
}

#[tokio::test]
async fn the_downstream_sees_the_human_the_agent_and_the_minting_service() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let verifier = edge
        .verifier_with(|config| config.minted_by(ServiceId::new("edge").unwrap()))
        .await;
    let app = Router::new()
        .route("/whoami", get(whoami))
        .route_layer(AuthenticateLayer::new(Arc::new(verifier)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let cache = MintCache::builder(edge.issuer.clone()).build().unwrap();
    let alice = alice();
    let call = |token: String| {
        let url = format!("http://{addr}/whoami");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };

    let token = cache
        .token(&alice, &Audience::new(ORDERS).unwrap())
        .await
        .unwrap();
    let response = call(token.as_str().to_owned()).await;
    assert_eq!(response.status(), 200);
    let seen: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(seen["id"], alice.id().to_string());
    assert_eq!(seen["kind"], "human");
    assert_eq!(seen["acting"], AGENT);
    assert_eq!(seen["pattern"], Pattern::InternalJwt.as_str());
    assert_eq!(
        seen["caller"],
        json!({"service": "svc-edge", "pattern": "internal_jwt"})
    );

    // Refused: the token the edge minted for another downstream.
    let billing = cache
        .token(&alice, &Audience::new("billing-api").unwrap())
        .await
        .unwrap();
    let response = call(billing.as_str().to_owned()).await;
    assert_eq!(response.status(), 401);
    server.abort();
}

#[tokio::test]
async fn without_minted_by_no_caller_is_claimed() {
    let edge = start_edge(SigningAlgorithm::EdDsa).await;
    let verifier = edge.verifier().await;
    let token = edge
        .issuer
        .mint(&alice(), &Audience::new(ORDERS).unwrap())
        .unwrap();
    let verified = verifier.verify_token(token.as_str()).await.unwrap();
    assert!(verified.caller().is_none());
    // With it, the caller is the configured minting service.
    let verifier = edge
        .verifier_with(|config| config.minted_by(ServiceId::new("edge").unwrap()))
        .await;
    let verified = verifier.verify_token(token.as_str()).await.unwrap();
    let caller = verified.caller().unwrap();
    assert_eq!(
        caller.identity(),
        &CallerIdentity::Service(ServiceId::new("edge").unwrap())
    );
    assert_eq!(caller.pattern(), Pattern::InternalJwt);
}
