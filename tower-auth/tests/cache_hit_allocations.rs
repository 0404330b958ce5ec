//! A token-cache hit allocates nothing it can avoid (issue 7, item 16): no token copy, no
//! boxed future for a verdict that is already known, no second box per request in the
//! authenticate layer. Its own test binary, since it counts every allocation of the
//! process through a counting global allocator; one test, so nothing runs beside it.
#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{Audience, Issuer, TestClock, Timestamp};
use serde_json::json;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::{Layer, Service, service_fn};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::jwks::SymmetricKey;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::{Credentials, VerifiedPrincipal, Verifier};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SECRET: [u8; 32] = [7; 32];
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

fn verifier() -> JwtVerifier {
    JwtVerifier::builder()
        .issuer(
            IssuerConfig::builder(Issuer::new("https://idp.example").unwrap())
                .audience(Audience::new("api").unwrap())
                .hmac_secrets([
                    SymmetricKey::new(Some("hs-1"), Algorithm::HS256, SECRET.to_vec()).unwrap(),
                ])
                .build()
                .unwrap(),
        )
        .clock(Arc::new(TestClock::new(Timestamp::from_unix_seconds(NOW))))
        .build()
        .unwrap()
}

fn token() -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hs-1".into());
    let claims = json!({
        "iss": "https://idp.example", "sub": "alice", "aud": "api",
        "exp": NOW + 300, "jti": "jti-1", "scope": "orders:read"
    });
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&SECRET)).unwrap()
}

/// The handler allocates nothing either (an empty body), so what is counted is the layer.
async fn handler(request: Request<()>) -> Result<Response<()>, Infallible> {
    assert!(request.extensions().get::<VerifiedPrincipal>().is_some());
    Ok(Response::new(()))
}

#[test]
fn a_cache_hit_allocates_only_the_request_extensions() {
    let verifier = Arc::new(verifier());
    let token = token();
    // The first verification fills the cache.
    ready(verifier.verify(&Credentials::bearer(&token))).unwrap();
    assert_eq!(verifier.token_cache().len(), 1);

    // The verifier alone: a hit is a known verdict, answered without any allocation.
    let region = Region::new(GLOBAL);
    let verified = ready(verifier.verify(&Credentials::bearer(&token))).unwrap();
    let verifier_allocations = region.change().allocations;
    assert_eq!(verified.subject(), "alice");

    // The whole layer: strip, parse the header, hit, insert into the extensions, call.
    let mut service = AuthenticateLayer::new(verifier.clone()).layer(service_fn(handler));
    let request = || {
        Request::builder()
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
    };
    // Warm up once (lazy statics, tracing's callsite registration).
    ready(service.call(request())).unwrap();
    let request = request();
    let region = Region::new(GLOBAL);
    let response = ready(service.call(request)).unwrap();
    let layer_allocations = region.change().allocations;
    assert_eq!(response.status(), 200);

    println!("cache hit: verifier {verifier_allocations} allocations, layer {layer_allocations}");
    assert_eq!(
        verifier_allocations, 0,
        "a cached verdict needs no allocation"
    );
    // What the layer cannot avoid: http's `Extensions` map (one box for the map, its
    // table, and one box per value: the VerifiedPrincipal and the layer-ran marker).
    assert!(
        layer_allocations <= 4,
        "a cached hit through the layer allocated {layer_allocations} times"
    );
}
