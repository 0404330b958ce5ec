//! RFC 7662 introspection (pattern 3): the verified-answer cache hit that every request
//! with a known opaque token takes (issue 10: at most 2 µs), next to the JWT verifier's
//! cache hit for the same Principal shape.
//!
//! - `introspection/cache_hit`: `Verifier::verify` of an opaque token whose answer the
//!   cache holds (the development IdP's `/introspect` answered it once, during setup).
//! - `introspection/cache_miss_loopback`: the same verifier with a token it has not seen,
//!   one real introspection call over loopback HTTP per iteration (for scale only: it
//!   measures the dev IdP and the HTTP client as much as Baton).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use benches::ready;
use criterion::{Criterion, criterion_group, criterion_main};
use principal::{Audience, Clock, Issuer, SystemClock};
use serde_json::json;
use tower_auth::dev_idp::DevIdp;
use tower_auth::introspect::{ClientAuth, IntrospectionVerifier};
use tower_auth::{Credentials, Verifier};

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let idp = runtime
        .block_on(DevIdp::start("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let exp = SystemClock.now().as_unix_seconds() + 3600;
    let claims = || {
        json!({
            "iss": idp.issuer(), "sub": "alice", "aud": "api",
            "scope": "orders:read orders:write profile email offline", "exp": exp,
        })
    };
    let verifier = IntrospectionVerifier::builder(
        &idp.introspection_url(),
        Issuer::new(idp.issuer()).unwrap(),
        ClientAuth::client_secret_basic("edge", "bench-secret").unwrap(),
    )
    .audience(Audience::new("api").unwrap())
    .build()
    .unwrap();
    let token = idp.issue_opaque(claims()).unwrap();
    runtime.block_on(verifier.verify_token(&token)).unwrap();

    let mut group = c.benchmark_group("introspection");
    group.bench_function("cache_hit", |b| {
        b.iter(|| {
            let credentials = Credentials::bearer(black_box(&token));
            ready(verifier.verify(&credentials)).unwrap()
        })
    });
    group.bench_function("cache_miss_loopback", |b| {
        b.iter_batched(
            || idp.issue_opaque(claims()).unwrap(),
            |fresh| runtime.block_on(verifier.verify_token(&fresh)).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
