//! An introspection cache hit is answered at once and allocates nothing: one digest, one
//! read lock, one reference count. Its own test binary, since it counts every allocation
//! of the process through a counting global allocator; one test, so nothing runs beside
//! it, and the hit is measured outside the runtime, so no server or pool task runs during
//! it.
#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use axum::routing::post;
use axum::{Json, Router};
use principal::{Audience, Issuer, TestClock, Timestamp};
use serde_json::json;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower_auth::introspect::{ClientAuth, IntrospectionVerifier};
use tower_auth::{Credentials, Verifier};

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
fn an_introspection_cache_hit_allocates_nothing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let verifier = runtime.block_on(async {
        let app = Router::new().route(
            "/introspect",
            post(|| async {
                Json(
                    json!({"active": true, "iss": "https://as.example", "sub": "alice",
                            "aud": "api", "exp": NOW + 300, "scope": "orders:read"}),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/introspect", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let verifier = IntrospectionVerifier::builder(
            &endpoint,
            Issuer::new("https://as.example").unwrap(),
            ClientAuth::client_secret_basic("api", "s3cret").unwrap(),
        )
        .audience(Audience::new("api").unwrap())
        .clock(Arc::new(TestClock::new(Timestamp::from_unix_seconds(NOW))))
        .build()
        .unwrap();
        // The miss fills the cache.
        verifier
            .verify_token("2YotnFZFEjr1zCsicMWpAA")
            .await
            .unwrap();
        verifier
    });
    assert_eq!(verifier.cache().len(), 1);

    let region = Region::new(GLOBAL);
    let verified = ready(verifier.verify(&Credentials::bearer("2YotnFZFEjr1zCsicMWpAA"))).unwrap();
    let allocations = region.change().allocations;
    assert_eq!(verified.subject(), "alice");
    assert_eq!(allocations, 0, "a cached answer needs no allocation");
}
