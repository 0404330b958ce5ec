//! The caches drop what a revocation covers, and only that: the token exchange client's
//! cache (a token whose subject or own `jti` is revoked is exchanged again; the others
//! stay hits) and the introspection cache (a covered answer is refused with no call, an
//! uncovered one stays a hit). The verified-token cache's side is in
//! `token_cache_dependencies.rs` and `revocation_feed.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod revocation_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use principal::{Audience, Issuer, TestClock, Timestamp};
use revocation_support::{ORDERS, START, Sts};
use serde_json::json;
use tower_auth::client_auth::ClientAuth;
use tower_auth::exchange::{ExchangeRequest, ExchangeTarget, TokenExchangeClient, TokenType};
use tower_auth::introspect::IntrospectionVerifier;
use tower_auth::revocation::{Denylist, DenylistEntries, RevocationMirror};

fn request(subject: &str) -> ExchangeRequest {
    ExchangeRequest::new(
        subject,
        TokenType::ACCESS_TOKEN,
        ExchangeTarget::audience(Audience::new(ORDERS).unwrap()),
    )
    .unwrap()
}

fn claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_exchange_cache_drops_only_the_tokens_a_revocation_covers() {
    let sts = Sts::start().await;
    let denylist = Arc::new(Denylist::new());
    let (endpoint, id, secret) = sts.token_endpoint();
    let client = TokenExchangeClient::builder(
        &endpoint,
        ClientAuth::client_secret_basic(id, secret).unwrap(),
    )
    .clock(Arc::new(sts.clock.clone()))
    .revocation(denylist.clone())
    .build()
    .unwrap();
    let (alice, bob, carol) = (
        request(&sts.subject_token("alice")),
        request(&sts.subject_token("bob")),
        request(&sts.subject_token("carol")),
    );
    let alice_token = client.exchange(&alice).await.unwrap();
    let bob_token = client.exchange(&bob).await.unwrap();
    let carol_token = client.exchange(&carol).await.unwrap();
    assert_eq!(client.completed_calls(), 3);

    // An unrelated revocation: every cached token is still a hit.
    denylist.update(|entries| entries.add_token_id("someone-else", None));
    for (request, token) in [
        (&alice, &alice_token),
        (&bob, &bob_token),
        (&carol, &carol_token),
    ] {
        assert_eq!(
            client.exchange(request).await.unwrap().as_str(),
            token.as_str()
        );
    }
    assert_eq!(client.completed_calls(), 3);

    // The issued token of alice revoked (its jti): exchanged again, a new token; the
    // others stay hits.
    let alice_jti = claims(alice_token.as_str())["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    denylist.update(|entries| entries.add_token_id(alice_jti.clone(), None));
    let renewed = client.exchange(&alice).await.unwrap();
    assert_eq!(client.completed_calls(), 4);
    assert_ne!(renewed.as_str(), alice_token.as_str());
    assert_eq!(
        client.exchange(&bob).await.unwrap().as_str(),
        bob_token.as_str()
    );
    assert_eq!(
        client.exchange(&carol).await.unwrap().as_str(),
        carol_token.as_str()
    );
    assert_eq!(
        client.exchange(&alice).await.unwrap().as_str(),
        renewed.as_str()
    );
    assert_eq!(client.completed_calls(), 4);

    // Bob's subject revoked (iss + sub of the subject token): his cached token is never
    // served again, and what the endpoint answers for him is not cached either.
    let bob_subject = claims(&sts.subject_token("bob"));
    let issuer = Issuer::new(bob_subject["iss"].as_str().unwrap()).unwrap();
    denylist.update(|entries| entries.add_subject(&issuer, bob_subject["sub"].as_str().unwrap()));
    let again = client.exchange(&bob).await.unwrap();
    assert_ne!(again.as_str(), bob_token.as_str());
    client.exchange(&bob).await.unwrap();
    assert_eq!(
        client.completed_calls(),
        6,
        "a revoked subject's token was cached"
    );
    assert_eq!(
        client.exchange(&carol).await.unwrap().as_str(),
        carol_token.as_str()
    );
    assert_eq!(client.completed_calls(), 6);
}

/// An RFC 7662 endpoint on loopback whose every token is active, named by itself
/// (`jti` = `sub` = the token); counts its calls.
async fn introspection_endpoint() -> (String, Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let calls = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&calls);
    let app = Router::new().route(
        "/introspect",
        axum::routing::post(move |body: String| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let token = form_urlencoded::parse(body.as_bytes())
                    .find(|(name, _)| name == "token")
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_default();
                axum::Json(json!({
                    "active": true, "iss": "https://as.example", "sub": token,
                    "aud": "orders-api", "exp": START + 300, "iat": START - 10,
                    "scope": "orders:read", "jti": token,
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, calls, server)
}

#[tokio::test]
async fn the_introspection_cache_refuses_what_a_revocation_covers_and_keeps_the_rest() {
    let (url, calls, server) = introspection_endpoint().await;
    let clock = TestClock::new(Timestamp::from_unix_seconds(START));
    // A mirror fed by a source (here, by hand), as a service would run it.
    let mirror = Arc::new(
        RevocationMirror::builder()
            .clock(Arc::new(clock.clone()))
            .build(),
    );
    mirror.apply_snapshot(1, DenylistEntries::new());
    let verifier = IntrospectionVerifier::builder(
        &url,
        Issuer::new("https://as.example").unwrap(),
        ClientAuth::client_secret_basic("orders-api", "s3cret").unwrap(),
    )
    .audience(Audience::new("orders-api").unwrap())
    .clock(Arc::new(clock.clone()))
    .revocation(mirror.clone())
    .build()
    .unwrap();
    for token in ["tok-a", "tok-b"] {
        verifier.verify_token(token).await.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    mirror.apply_snapshot(2, DenylistEntries::new().deny_token_id("tok-a"));
    let error = verifier.verify_token("tok-a").await.unwrap_err();
    assert_eq!(error.reason(), "revoked_token_id");
    verifier.verify_token("tok-b").await.expect("not covered");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the cache was flushed");
    server.abort();
}
