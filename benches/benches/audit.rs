//! The audit event (issue 11 item 4): what auditing one request costs with the examples'
//! JSON lines through their non-blocking writer (here into `io::sink`, so the disk is
//! not measured; the writer thread does the writing off the request path).
//!
//! - `audit/event`: one authentication audit event of the reference Principal (a Human
//!   with an Agent acting, a request id, a trace id, every field of
//!   `tower_auth::authenticate::audit`), formatted as JSON and queued. Target: median at
//!   most 2 us.
//! - `audit/event_fmt_json`: the same event through `tracing-subscriber`'s own
//!   `fmt().json()` format (the examples' format before `JsonLines`) and the same writer:
//!   the reference for the formatter's share.
//! - `audit/layer_event_off` vs `audit/layer_event_on`: one request through
//!   `AuthenticateLayer` (a verified-token cache hit) with the audit target filtered out,
//!   and with it written; the difference is the audit event as the layer emits it.
//!
//! The subscriber and writer are the examples' own, as `examples::init_tracing` installs
//! them: `examples::json_lines` (the hand-written JSON lines format
//! `examples::json_lines::JsonLines`, an `EnvFilter`) through `examples::log_writer`
//! (the non-blocking, batching writer), here into `io::sink`; set per benchmark with
//! `with_default`.
//! Run with `cargo bench -p benches --bench audit -- --warm-up-time 1 --measurement-time 3`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;

use benches::patterns::{edge_context, edge_token, external_verifier};
use benches::ready;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use tower::{Layer, ServiceExt, service_fn};
use tower_auth::authenticate::{AuthenticateLayer, audit};
use tower_auth::dev_idp::DevIdp;
use tower_auth::token_cache::TokenCacheConfig;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// The examples' subscriber and writer, as `examples::init_tracing` installs them
/// (`examples::json_lines` through `examples::log_writer`), at `filter`, writing to a sink.
fn json_lines(filter: &str) -> (impl tracing::Subscriber + Send + Sync, WorkerGuard) {
    let (writer, guard) = examples::log_writer(std::io::sink());
    (examples::json_lines(EnvFilter::new(filter), writer), guard)
}

/// The reference: `tracing-subscriber`'s own JSON format (`fmt().json()`, fields
/// flattened, no span data), the examples' format before `JsonLines`, through the same
/// writer.
fn fmt_json(filter: &str) -> (impl tracing::Subscriber + Send + Sync, WorkerGuard) {
    let (writer, guard) = examples::log_writer(std::io::sink());
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(writer)
        .finish();
    (subscriber, guard)
}

async fn handler(_: Request<String>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(String::new()))
}

fn audit_bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let idp = runtime
        .block_on(DevIdp::start("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let token = edge_token(&idp);
    let context = edge_context(&idp, &token);
    let verified = context.principal().unwrap().clone();
    assert!(
        verified.is_delegated(),
        "the reference Principal has an actor"
    );

    let layered = AuthenticateLayer::new(Arc::new(external_verifier(
        &idp,
        TokenCacheConfig::default(),
    )))
    .layer(service_fn(handler));
    let request = |token: &str| {
        Request::builder()
            .header("authorization", format!("Bearer {token}"))
            .header("x-request-id", "bench-request-1")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(String::new())
            .unwrap()
    };
    // Fill the verified-token cache: every measured request is a hit.
    assert_eq!(
        ready(layered.clone().oneshot(request(&token)))
            .unwrap()
            .status(),
        200
    );

    let mut group = c.benchmark_group("audit");
    {
        let (subscriber, _guard) = json_lines("baton::audit=info");
        tracing::subscriber::with_default(subscriber, || {
            group.bench_function("event", |b| {
                b.iter(|| audit::expired_during_call(black_box(&verified), Some(&context)))
            });
        });
    }
    {
        let (subscriber, _guard) = fmt_json("baton::audit=info");
        tracing::subscriber::with_default(subscriber, || {
            group.bench_function("event_fmt_json", |b| {
                b.iter(|| audit::expired_during_call(black_box(&verified), Some(&context)))
            });
        });
    }
    {
        let (subscriber, _guard) = json_lines("baton::audit=off");
        tracing::subscriber::with_default(subscriber, || {
            group.bench_function("layer_event_off", |b| {
                b.iter(|| ready(layered.clone().oneshot(request(black_box(&token)))).unwrap())
            });
        });
    }
    {
        let (subscriber, _guard) = json_lines("baton::audit=info");
        tracing::subscriber::with_default(subscriber, || {
            group.bench_function("layer_event_on", |b| {
                b.iter(|| ready(layered.clone().oneshot(request(black_box(&token)))).unwrap())
            });
        });
    }
    group.finish();
    drop(idp);
}

criterion_group!(benches, audit_bench);
criterion_main!(benches);
