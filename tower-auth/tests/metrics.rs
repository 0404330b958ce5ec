//! The metrics of `tower_auth::metrics` (feature `metrics`), read as an operator reads
//! them: rendered in Prometheus text by `metrics-exporter-prometheus`, from a recorder
//! local to the test's thread (each test is a current-thread runtime, so everything it
//! runs records there). A development IdP on loopback, a test clock; nothing sleeps.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use http::{Request, StatusCode};
use jsonwebtoken::Algorithm;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use principal::{Audience, Issuer, TestClock};
use serde_json::json;
use support::{START, start_idp_with_clock, test_clock};
use tower::{ServiceExt, service_fn};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::dev_idp::{DevIdp, Override};
use tower_auth::jwks::{RefreshPolicy, StartupPolicy};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::metrics::{
    AUTH_DECISIONS_TOTAL, CACHE_HITS_TOTAL, CACHE_MISSES_TOTAL, JWKS_REFRESH_FAILURES_TOTAL,
    JWKS_REFRESHES_TOTAL, JWKS_STALENESS_SECONDS, REVOCATION_LIST_AGE_SECONDS,
    REVOCATION_LIST_VERSION, REVOCATION_STALE, REVOCATION_SYNC_TOTAL,
    VERIFICATION_DURATION_SECONDS,
};
use tower_auth::revocation::{DenylistEntries, RevocationMirror, StalePolicy};
use tower_layer::Layer;

const AUD: &str = "api";

fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new().build_recorder()
}

/// The value of the series `name` whose labels include every one of `labels`, from the
/// Prometheus text; `None` when there is no such series.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|line| {
            labels
                .iter()
                .all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
        })
        .and_then(|line| line.rsplit(' ').next())
        .map(|value| value.parse().unwrap())
}

async fn verifier(idp: &DevIdp, clock: &TestClock) -> JwtVerifier {
    let verifier = JwtVerifier::builder()
        .clock(Arc::new(clock.clone()))
        .issuer(
            IssuerConfig::builder(Issuer::new(idp.issuer()).unwrap())
                .audience(Audience::new(AUD).unwrap())
                .oidc_discovery()
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    verifier
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .unwrap();
    verifier
}

fn token(idp: &DevIdp, sub: &str) -> String {
    idp.issue(
        json!({"iss": idp.issuer(), "sub": sub, "aud": AUD, "exp": START + 300, "iat": START}),
        Algorithm::ES256,
    )
    .unwrap()
}

async fn get(layer: &AuthenticateLayer, authorization: Option<&str>) -> StatusCode {
    let service = layer.layer(service_fn(|_: Request<String>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    }));
    let mut request = Request::new(String::new());
    if let Some(value) = authorization {
        request
            .headers_mut()
            .insert("authorization", value.parse().unwrap());
    }
    service.oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn a_verification_counts_its_decision_with_labels_and_times_it_per_pattern() {
    let recorder = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let clock = test_clock();
    let idp = start_idp_with_clock(&clock).await;
    let layer = AuthenticateLayer::new(Arc::new(verifier(&idp, &clock).await));
    let alice = token(&idp, "alice");

    assert_eq!(
        get(&layer, Some(&format!("Bearer {alice}"))).await,
        StatusCode::OK
    );
    let text = recorder.handle().render();
    let accepted = [
        ("pattern", "jwt_passthrough"),
        ("outcome", "accepted"),
        ("reason", "verified"),
    ];
    assert_eq!(
        value(&text, AUTH_DECISIONS_TOTAL, &accepted),
        Some(1.0),
        "{text}"
    );
    let count = format!("{VERIFICATION_DURATION_SECONDS}_count");
    let pattern = [("pattern", "jwt_passthrough")];
    assert_eq!(value(&text, &count, &pattern), Some(1.0), "{text}");
    // The first verification of a token misses the verified-token cache...
    let cache = [("cache", "verified_token")];
    assert_eq!(
        value(&text, CACHE_MISSES_TOTAL, &cache),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&text, CACHE_HITS_TOTAL, &cache), None, "{text}");

    // ...the second hits it, and is a decision and a timing like any other.
    assert_eq!(
        get(&layer, Some(&format!("Bearer {alice}"))).await,
        StatusCode::OK
    );
    let text = recorder.handle().render();
    assert_eq!(
        value(&text, AUTH_DECISIONS_TOTAL, &accepted),
        Some(2.0),
        "{text}"
    );
    assert_eq!(value(&text, &count, &pattern), Some(2.0), "{text}");
    assert_eq!(value(&text, CACHE_HITS_TOTAL, &cache), Some(1.0), "{text}");
    assert_eq!(
        value(&text, CACHE_MISSES_TOTAL, &cache),
        Some(1.0),
        "{text}"
    );
    // The latency is a real duration, not a constant: a positive sum.
    let sum = format!("{VERIFICATION_DURATION_SECONDS}_sum");
    assert!(value(&text, &sum, &pattern).unwrap() > 0.0, "{text}");
}

#[tokio::test]
async fn each_rejection_counts_under_its_own_reason() {
    let recorder = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let clock = test_clock();
    let idp = start_idp_with_clock(&clock).await;
    let layer = AuthenticateLayer::new(Arc::new(verifier(&idp, &clock).await));

    // A forged signature: one character inside the signature changed (still base64url).
    let mut forged = token(&idp, "mallory").into_bytes();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(
        get(&layer, Some(&format!("Bearer {forged}"))).await,
        StatusCode::UNAUTHORIZED
    );
    // Expired.
    let expired = idp
        .issue(
            json!({"iss": idp.issuer(), "sub": "bob", "aud": AUD, "exp": START - 3600, "iat": START - 7200}),
            Algorithm::ES256,
        )
        .unwrap();
    assert_eq!(
        get(&layer, Some(&format!("Bearer {expired}"))).await,
        StatusCode::UNAUTHORIZED
    );
    // No credentials at all, and a malformed header: refused before any verifier.
    assert_eq!(get(&layer, None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&layer, Some("Bearer a b")).await,
        StatusCode::BAD_REQUEST
    );

    let text = recorder.handle().render();
    let rejected = |reason| {
        value(
            &text,
            AUTH_DECISIONS_TOTAL,
            &[
                ("pattern", "jwt_passthrough"),
                ("outcome", "rejected"),
                ("reason", reason),
            ],
        )
    };
    assert_eq!(rejected("bad_signature"), Some(1.0), "{text}");
    assert_eq!(rejected("expired"), Some(1.0), "{text}");
    assert_eq!(rejected("missing_token"), Some(1.0), "{text}");
    assert_eq!(
        rejected("malformed_authorization_header"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, AUTH_DECISIONS_TOTAL, &[("outcome", "accepted")]),
        None,
        "{text}"
    );
    // Timed: the two a verifier answered; not the two refused before it was asked.
    let count = format!("{VERIFICATION_DURATION_SECONDS}_count");
    assert_eq!(
        value(&text, &count, &[("pattern", "jwt_passthrough")]),
        Some(2.0),
        "{text}"
    );
}

#[tokio::test]
async fn key_refreshes_failures_and_staleness_are_recorded() {
    let recorder = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (idp, clock, cache) = support::warm_jwks_cache(RefreshPolicy::default()).await;
    let text = recorder.handle().render();
    assert_eq!(
        value(&text, JWKS_REFRESHES_TOTAL, &[("outcome", "updated")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, JWKS_STALENESS_SECONDS, &[]),
        Some(0.0),
        "{text}"
    );

    // The same keys again: unchanged, still current.
    clock.advance(300);
    cache.refresh_if_due().await.unwrap();
    let text = recorder.handle().render();
    assert_eq!(
        value(&text, JWKS_REFRESHES_TOTAL, &[("outcome", "unchanged")]),
        Some(1.0),
        "{text}"
    );

    // The IdP fails: a failure under its reason, and the set is as old as the clock says.
    idp.set_response(Override::Status500);
    clock.advance(300);
    assert!(cache.refresh_if_due().await.is_err());
    let text = recorder.handle().render();
    assert_eq!(
        value(&text, JWKS_REFRESH_FAILURES_TOTAL, &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, JWKS_STALENESS_SECONDS, &[]),
        Some(300.0),
        "{text}"
    );
    clock.advance(30);
    assert!(cache.refresh_if_due().await.is_err());
    let text = recorder.handle().render();
    assert_eq!(
        value(&text, JWKS_REFRESH_FAILURES_TOTAL, &[]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(&text, JWKS_STALENESS_SECONDS, &[]),
        Some(330.0),
        "{text}"
    );

    // Back: current again.
    idp.set_response(Override::Normal);
    clock.advance(30);
    cache.refresh_if_due().await.unwrap();
    let text = recorder.handle().render();
    assert_eq!(
        value(&text, JWKS_STALENESS_SECONDS, &[]),
        Some(0.0),
        "{text}"
    );
}

#[tokio::test]
async fn a_cache_that_never_loaded_is_infinitely_stale() {
    let recorder = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (idp, _clock, cache) = support::cold_jwks_cache(RefreshPolicy::default()).await;
    idp.set_response(Override::Status500);
    assert!(cache.refresh().await.is_err());
    let text = recorder.handle().render();
    assert_eq!(
        value(&text, JWKS_STALENESS_SECONDS, &[]),
        Some(f64::INFINITY),
        "{text}"
    );
}

#[test]
fn the_revocation_mirror_reports_syncs_failures_age_and_staleness() {
    let recorder = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let clock = test_clock();
    let mirror = RevocationMirror::builder()
        .clock(Arc::new(clock.clone()))
        .max_age(std::time::Duration::from_secs(60))
        .stale_policy(StalePolicy::FailClosed)
        .source_name("sts_feed")
        .build();
    let ok = [("source", "sts_feed"), ("outcome", "ok")];
    let failure = [("source", "sts_feed"), ("outcome", "failure")];

    assert!(mirror.apply_snapshot(1, DenylistEntries::new().deny_token_id("t-1")));
    let text = recorder.handle().render();
    assert_eq!(
        value(&text, REVOCATION_SYNC_TOTAL, &ok),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&text, REVOCATION_STALE, &[]), Some(0.0), "{text}");
    assert_eq!(
        value(&text, REVOCATION_LIST_AGE_SECONDS, &[]),
        Some(0.0),
        "{text}"
    );
    let version = value(&text, REVOCATION_LIST_VERSION, &[]).unwrap();
    assert!(version >= 1.0, "{text}");

    // The source fails for longer than the allowed age: counted, aged, and stale.
    clock.advance(61);
    mirror.record_failure("connection refused");
    let text = recorder.handle().render();
    assert_eq!(
        value(&text, REVOCATION_SYNC_TOTAL, &failure),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, REVOCATION_LIST_AGE_SECONDS, &[]),
        Some(61.0),
        "{text}"
    );
    assert_eq!(value(&text, REVOCATION_STALE, &[]), Some(1.0), "{text}");

    // It comes back: fresh again.
    mirror.confirm_unchanged();
    let text = recorder.handle().render();
    assert_eq!(
        value(&text, REVOCATION_SYNC_TOTAL, &ok),
        Some(2.0),
        "{text}"
    );
    assert_eq!(value(&text, REVOCATION_STALE, &[]), Some(0.0), "{text}");
}
