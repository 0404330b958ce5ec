//! Stale-while-revalidate: with no background refresher running, a lookup that finds the
//! set expired (but still servable) starts one refresh, so a key the IdP removed stops
//! verifying within the refresh period (issue 7, item 10).

mod support;

use std::time::Duration;

use jsonwebtoken::Algorithm;
use principal::Clock;
use support::warm_jwks_cache;
use tokio::sync::watch;
use tower_auth::dev_idp::Override;
use tower_auth::jwks::{KeyError, RefreshPolicy};

/// Waits for the cache to install a new version (bounded only so a broken build fails
/// instead of hanging).
async fn next_version(versions: &mut watch::Receiver<u64>) -> u64 {
    tokio::time::timeout(Duration::from_secs(30), versions.changed())
        .await
        .expect("a refresh installed a new key set")
        .expect("cache alive");
    *versions.borrow_and_update()
}

#[tokio::test]
async fn a_removed_key_stops_verifying_after_expiry_without_a_refresher() {
    let (idp, clock, cache) = warm_jwks_cache(RefreshPolicy::default()).await;
    let removed = idp.current_kid(Algorithm::ES256).expect("kid");
    idp.rotate(Algorithm::ES256).expect("rotate");
    assert!(idp.remove_key(&removed));
    let mut versions = cache.subscribe();

    // Fresh (max-age=300): served, nothing fetched.
    clock.advance(299);
    assert!(cache.key_for(Some(&removed)).await.is_ok());
    assert_eq!(idp.jwks_requests(), 1);

    // Expired but servable: still served this once, and a refresh starts.
    clock.advance(1);
    assert!(cache.key_for(Some(&removed)).await.is_ok());
    assert_eq!(next_version(&mut versions).await, 2);
    assert_eq!(idp.jwks_requests(), 2);

    // The removed key is gone from the set.
    assert_eq!(
        cache
            .snapshot()
            .lookup(Some(&removed), clock.now())
            .map(|_| ()),
        Err(KeyError::UnknownKeyId {
            kid: removed.clone()
        })
    );
    assert!(matches!(
        cache.key_for(Some(&removed)).await,
        Err(KeyError::UnknownKeyId { .. })
    ));
}

#[tokio::test]
async fn the_synchronous_lookup_revalidates_too() {
    let (idp, clock, cache) = warm_jwks_cache(RefreshPolicy::default()).await;
    let removed = idp.current_kid(Algorithm::RS256).expect("kid");
    idp.rotate(Algorithm::RS256).expect("rotate");
    assert!(idp.remove_key(&removed));
    let mut versions = cache.subscribe();
    clock.advance(300);
    assert!(cache.key_now(Some(&removed)).is_ok());
    assert_eq!(next_version(&mut versions).await, 2);
    assert!(matches!(
        cache.key_now(Some(&removed)),
        Err(KeyError::UnknownKeyId { .. })
    ));
    assert_eq!(idp.jwks_requests(), 2, "key_now never fetches on a miss");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_lookups_on_an_expired_set_start_one_refresh() {
    let (idp, clock, cache) = warm_jwks_cache(RefreshPolicy::default()).await;
    let kid = idp.current_kid(Algorithm::EdDSA).expect("kid");
    idp.rotate(Algorithm::ES256)
        .expect("a change, so the refresh shows as a version");
    let mut versions = cache.subscribe();
    clock.advance(300);
    let lookups: Vec<_> = (0..200)
        .map(|_| {
            let cache = cache.clone();
            let kid = kid.clone();
            tokio::spawn(async move { cache.key_for(Some(&kid)).await.map(|_| ()) })
        })
        .collect();
    for lookup in lookups {
        assert_eq!(lookup.await.expect("task ran"), Ok(()));
    }
    assert_eq!(next_version(&mut versions).await, 2);
    // Whatever is still in flight has finished once the fetch lock is free, and the
    // schedule now says "not due": one refresh in all.
    assert_eq!(cache.refresh_if_due().await, Ok(None));
    assert_eq!(idp.jwks_requests(), 2);
}

#[tokio::test]
async fn a_failed_background_refresh_waits_for_the_retry_time() {
    let (idp, clock, cache) = warm_jwks_cache(RefreshPolicy::default()).await;
    let kid = idp.current_kid(Algorithm::ES256).expect("kid");
    idp.set_response(Override::Status500);
    clock.advance(300);
    // Served from the expired set; one refresh starts and fails.
    assert!(cache.key_for(Some(&kid)).await.is_ok());
    // Taking the fetch lock waits for that refresh; if it had not started yet, this call
    // runs it instead. Either way: exactly one failed request.
    let _ = cache.refresh_if_due().await;
    assert_eq!(idp.jwks_requests(), 2);
    assert_eq!(
        cache.snapshot().last_error().map(|e| e.reason()),
        Some("http_status")
    );
    // Until the retry time, lookups start nothing.
    clock.advance(29);
    for _ in 0..10 {
        assert!(cache.key_for(Some(&kid)).await.is_ok());
    }
    assert_eq!(cache.refresh_if_due().await, Ok(None));
    assert_eq!(idp.jwks_requests(), 2);
    // At the retry time, a lookup starts the next one, which succeeds.
    idp.set_response(Override::Normal);
    clock.advance(1);
    assert!(cache.key_for(Some(&kid)).await.is_ok());
    let _ = cache.refresh_if_due().await;
    assert_eq!(idp.jwks_requests(), 3);
    assert_eq!(cache.snapshot().last_error(), None);
}
