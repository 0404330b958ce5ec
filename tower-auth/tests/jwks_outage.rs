//! The IdP going away: the last good set serves until its maximum staleness, then lookups
//! fail closed; start-up either fails or goes on, as told.

mod support;

use std::time::Duration;

use jsonwebtoken::Algorithm;
use principal::{Clock, Timestamp};
use support::{START, cold_jwks_cache, warm_jwks_cache};
use tower_auth::dev_idp::Override;
use tower_auth::jwks::{JwksError, KeyError, RefreshPolicy, StartupPolicy, WarmOutcome};

#[tokio::test]
async fn cached_keys_serve_until_the_maximum_staleness_then_fail_closed() {
    let (idp, clock, cache) = warm_jwks_cache(RefreshPolicy::default()).await;
    let kid = idp.current_kid(Algorithm::ES256).expect("kid");
    // max-age=300 from the IdP, max_staleness 1 h by default.
    let serve_until = Timestamp::from_unix_seconds(START + 300 + 3600);
    assert_eq!(cache.snapshot().serve_until(), Some(serve_until));

    idp.set_response(Override::Down);
    clock.advance(300);
    let err = cache.refresh_if_due().await.expect_err("IdP is down");
    assert!(matches!(err, JwksError::Unreachable { .. }), "{err:?}");
    assert_eq!(err.reason(), "unreachable");
    let snapshot = cache.snapshot();
    assert_eq!(snapshot.last_error(), Some(&err));
    assert!(!snapshot.is_fresh(clock.now()));
    assert_eq!(
        snapshot.next_refresh_at(),
        Some(Timestamp::from_unix_seconds(START + 300 + 30))
    );
    // Expired but within the maximum staleness: still served, from the snapshot.
    assert!(cache.key_for(Some(&kid)).await.is_ok());

    clock.set(serve_until);
    assert!(cache.snapshot().is_servable(clock.now()));
    assert!(cache.key_for(Some(&kid)).await.is_ok());

    // One second past it: fail closed (after the one refetch the cooldown allows).
    clock.advance(1);
    let err = cache.key_for(Some(&kid)).await.expect_err("stale");
    match &err {
        KeyError::Stale {
            serve_until: until,
            last_error: Some(JwksError::Unreachable { .. }),
        } => assert_eq!(*until, serve_until),
        other => panic!("expected Stale, got {other:?}"),
    }
    assert_eq!(err.reason(), "keys_stale");
    // The synchronous path agrees and never fetches.
    assert!(matches!(
        cache.snapshot().lookup(Some(&kid), clock.now()),
        Err(KeyError::Stale { .. })
    ));

    // The IdP comes back: after the cooldown a lookup refetches and serves again.
    idp.set_response(Override::Normal);
    let requests = idp.jwks_requests();
    assert!(matches!(
        cache.key_for(Some(&kid)).await,
        Err(KeyError::Stale { .. })
    ));
    assert_eq!(
        idp.jwks_requests(),
        requests,
        "cooldown holds the refetch back"
    );
    clock.advance(30);
    let key = cache.key_for(Some(&kid)).await.expect("recovered");
    assert_eq!(key.kid(), Some(kid.as_str()));
    assert_eq!(idp.jwks_requests(), requests + 1);
    assert_eq!(cache.snapshot().last_error(), None);
}

#[tokio::test]
async fn zero_staleness_fails_closed_right_after_expiry() {
    let policy = RefreshPolicy::builder()
        .max_staleness(Duration::ZERO)
        .build()
        .expect("policy");
    let (idp, clock, cache) = warm_jwks_cache(policy).await;
    let kid = idp.current_kid(Algorithm::EdDSA).expect("kid");
    idp.set_response(Override::Down);
    clock.advance(300);
    assert!(cache.key_for(Some(&kid)).await.is_ok());
    clock.advance(1);
    assert!(matches!(
        cache.key_for(Some(&kid)).await,
        Err(KeyError::Stale { .. })
    ));
}

#[tokio::test]
async fn startup_fails_when_told_to_and_the_idp_is_down() {
    let (idp, _clock, cache) = cold_jwks_cache(RefreshPolicy::default()).await;
    idp.set_response(Override::Down);
    let err = cache
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect_err("start-up fails");
    assert!(matches!(err, JwksError::Unreachable { .. }), "{err:?}");
    assert!(!cache.snapshot().is_loaded());
}

#[tokio::test]
async fn startup_goes_on_without_keys_when_told_to_then_recovers() {
    let (idp, clock, cache) = cold_jwks_cache(RefreshPolicy::default()).await;
    idp.set_response(Override::Status500);
    let outcome = cache
        .warm(StartupPolicy::ContinueIfUnavailable)
        .await
        .expect("start-up goes on");
    let WarmOutcome::Unavailable(JwksError::HttpStatus { status: 500, .. }) = outcome else {
        panic!("expected Unavailable(HttpStatus 500), got {outcome:?}");
    };
    assert_eq!(idp.jwks_requests(), 1);
    let kid = idp.current_kid(Algorithm::RS256).expect("kid");

    // No keys: rejected, after one refetch (the cooldown had not started).
    let err = cache.key_for(Some(&kid)).await.expect_err("no keys");
    assert!(
        matches!(
            err,
            KeyError::NotLoaded {
                last_error: Some(JwksError::HttpStatus { status: 500, .. })
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.reason(), "keys_not_loaded");
    assert_eq!(idp.jwks_requests(), 2);

    idp.set_response(Override::Normal);
    // Within the cooldown: still rejected, no fetch.
    assert!(matches!(
        cache.key_for(Some(&kid)).await,
        Err(KeyError::NotLoaded { .. })
    ));
    assert_eq!(idp.jwks_requests(), 2);
    clock.advance(30);
    assert!(cache.key_for(Some(&kid)).await.is_ok());
    assert_eq!(idp.jwks_requests(), 3);
}

#[tokio::test]
async fn a_hanging_idp_times_out_with_a_typed_error() {
    let policy = RefreshPolicy::builder()
        .fetch_timeout(Duration::from_millis(200))
        .build()
        .expect("policy");
    let (idp, _clock, cache) = warm_jwks_cache(policy).await;
    idp.set_response(Override::Hang);
    let err = cache.refresh().await.expect_err("times out");
    assert_eq!(
        err,
        JwksError::Timeout {
            url: idp.jwks_url()
        }
    );
    assert_eq!(err.reason(), "timeout");
    assert_eq!(cache.version(), 1, "the last good set stays");
}
