//! A token exchange cache hit is answered at once and allocates nothing: one SHA-256
//! digest of the request, one mutex, one map lookup, two reference counts. Its own test
//! binary, since it counts every allocation of the process through a counting global
//! allocator; one test, so nothing runs beside it, and the hit is measured outside the
//! runtime, so no server or pool task runs during it.
//!
//! This is the path to bench (issue 10 target: at most 2 µs): `client.exchange(&request)`
//! polled once with a token cached for `request`.
#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use axum::routing::post;
use axum::{Json, Router};
use principal::{Audience, TestClock, Timestamp};
use serde_json::json;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower_auth::exchange::{
    ClientAuth, ExchangeRequest, ExchangeTarget, TokenExchangeClient, TokenType,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const NOW: i64 = 1_700_000_000;

/// Polls a future that must not wait, once.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a cache hit waited"),
    }
}

#[test]
fn an_exchange_cache_hit_allocates_nothing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A JWT-sized subject token.
    let subject = format!("eyJhbGciOiJFUzI1NiJ9.{}.sig", "a".repeat(900));
    let request = ExchangeRequest::new(
        subject.as_str(),
        TokenType::ACCESS_TOKEN,
        ExchangeTarget::audience(Audience::new("orders").unwrap()),
    )
    .unwrap();
    let client = runtime.block_on(async {
        let app = Router::new().route(
            "/token",
            post(|| async {
                Json(json!({"access_token": "exchanged", "token_type": "Bearer",
                            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                            "expires_in": 300}))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/token", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = TokenExchangeClient::builder(
            &endpoint,
            ClientAuth::client_secret_basic("edge", "s3cret").unwrap(),
        )
        .clock(Arc::new(TestClock::new(Timestamp::from_unix_seconds(NOW))))
        .build()
        .unwrap();
        // The miss fills the cache.
        client.exchange(&request).await.unwrap();
        client
    });
    assert_eq!(client.cached_len(), 1);

    let region = Region::new(GLOBAL);
    let token = ready(client.exchange(&request)).unwrap();
    let allocations = region.change().allocations;
    assert_eq!(token.as_str(), "exchanged");
    assert_eq!(allocations, 0, "a cached token needs no allocation");
}
