//! The background refresher, and how `Cache-Control` sets a set's lifetime.

mod support;

use std::time::Duration;

use principal::Timestamp;
use support::{START, cold_jwks_cache};
use tower_auth::dev_idp::Override;
use tower_auth::jwks::{JwksConfigError, JwksSource, KeyCache, RefreshPolicy, StartupPolicy};

#[tokio::test]
async fn the_refresher_loads_a_cold_cache_at_once() {
    let (_idp, _clock, cache) = cold_jwks_cache(RefreshPolicy::default()).await;
    let mut versions = cache.subscribe();
    let handle = cache.spawn_refresher().expect("runtime");
    // Waits for the event, not for time: the bound only stops a broken build hanging.
    tokio::time::timeout(Duration::from_secs(30), versions.changed())
        .await
        .expect("the refresher installed a set")
        .expect("sender alive");
    assert_eq!(*versions.borrow(), 1);
    assert!(cache.snapshot().is_loaded());
    assert!(!handle.is_finished());
    drop(handle);
}

#[tokio::test]
async fn cache_control_sets_the_lifetime_within_floor_and_ceiling() {
    let (idp, _clock, cache) = cold_jwks_cache(RefreshPolicy::default()).await;
    for (header, ttl) in [
        (Some("public, max-age=120"), 120),
        (Some("max-age=5"), 60),        // floor
        (Some("max-age=999999"), 3600), // ceiling
        (None, 300),                    // default
        (Some("no-store"), 60),         // uncacheable: the floor
        (Some("max-age=soon"), 300),    // unreadable: the default
    ] {
        idp.set_cache_control(header);
        cache.refresh().await.expect("refresh");
        let snapshot = cache.snapshot();
        assert_eq!(
            snapshot.expires_at(),
            Some(Timestamp::from_unix_seconds(START + ttl)),
            "{header:?}"
        );
        assert_eq!(snapshot.next_refresh_at(), snapshot.expires_at());
        assert!(!snapshot.refresh_due(Timestamp::from_unix_seconds(START + ttl - 1)));
        assert!(snapshot.refresh_due(Timestamp::from_unix_seconds(START + ttl)));
    }
}

#[tokio::test]
async fn refresh_if_due_fetches_only_when_due() {
    let (idp, clock, cache) = cold_jwks_cache(RefreshPolicy::default()).await;
    // A cold cache is due at once.
    assert!(cache.refresh_if_due().await.expect("fetch").is_some());
    assert_eq!(cache.refresh_if_due().await, Ok(None));
    clock.advance(299);
    assert_eq!(cache.refresh_if_due().await, Ok(None));
    assert_eq!(idp.jwks_requests(), 1);
    clock.advance(1);
    assert!(cache.refresh_if_due().await.expect("fetch").is_some());
    assert_eq!(idp.jwks_requests(), 2);
}

#[tokio::test]
async fn warm_reports_what_it_loaded() {
    let (idp, _clock, cache) = cold_jwks_cache(RefreshPolicy::default()).await;
    idp.set_response(Override::Status500);
    let outcome = cache
        .warm(StartupPolicy::ContinueIfUnavailable)
        .await
        .expect("goes on");
    assert!(matches!(
        outcome,
        tower_auth::jwks::WarmOutcome::Unavailable(_)
    ));
}

#[test]
fn the_refresher_needs_a_runtime() {
    let cache =
        KeyCache::builder(JwksSource::jwks_url("https://id.example.com/jwks").expect("url"))
            .build()
            .expect("cache");
    assert_eq!(
        cache.spawn_refresher().expect_err("no runtime"),
        JwksConfigError::NoRuntime
    );
}
