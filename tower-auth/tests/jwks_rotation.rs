//! Key rotation against a real loopback IdP: a new key is found by the one refetch its
//! unknown `kid` causes; a removed key is rejected once a refresh has dropped it.

mod support;

use jsonwebtoken::Algorithm;
use support::{
    claims, cold_jwks_cache, discovery_cache, kid_of, start_idp, test_clock, verify_signature,
    warm_jwks_cache,
};
use tower_auth::jwks::{KeyError, RefreshOutcome, RefreshPolicy, StartupPolicy, WarmOutcome};

#[tokio::test]
async fn a_new_key_is_accepted_at_once_through_one_refetch() {
    let idp = start_idp().await;
    let clock = test_clock();
    let cache = discovery_cache(&idp, &clock, RefreshPolicy::default());
    let warmed = cache
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect("warm");
    assert_eq!(
        warmed,
        WarmOutcome::Loaded(RefreshOutcome::Updated {
            version: 1,
            keys: 3
        })
    );
    assert_eq!((idp.discovery_requests(), idp.jwks_requests()), (1, 1));

    let new_kid = idp.rotate(Algorithm::ES256).expect("rotate");
    let token = idp.issue(claims("alice"), Algorithm::ES256).expect("signs");
    assert_eq!(kid_of(&token), new_kid);

    // The clock has not moved: the set is fresh, yet the unknown kid refetches once.
    let key = cache.key_for(Some(&new_kid)).await.expect("new key found");
    assert_eq!(key.kid(), Some(new_kid.as_str()));
    verify_signature(&key, &token).expect("token with the new kid verifies");
    assert_eq!(idp.jwks_requests(), 2);
    // Discovery is not repeated while its jwks_uri works.
    assert_eq!(idp.discovery_requests(), 1);
    assert_eq!(cache.version(), 2);

    // The old keys still serve, from the snapshot, with no fetch.
    let old_kid = idp.kids()[0].clone();
    assert!(cache.key_for(Some(&old_kid)).await.is_ok());
    assert_eq!(idp.jwks_requests(), 2);
}

#[tokio::test]
async fn a_removed_key_is_rejected_after_the_refresh() {
    let (idp, clock, cache) = warm_jwks_cache(RefreshPolicy::default()).await;
    let old_kid = idp.current_kid(Algorithm::RS256).expect("kid");
    let old_token = idp.issue(claims("bob"), Algorithm::RS256).expect("signs");
    let new_kid = idp.rotate(Algorithm::RS256).expect("rotate");
    assert!(idp.remove_key(&old_kid));

    // Until the set expires the cached old key keeps verifying (no network call).
    let key = cache.key_for(Some(&old_kid)).await.expect("still cached");
    verify_signature(&key, &old_token).expect("verifies");
    assert_eq!(idp.jwks_requests(), 1);
    assert_eq!(cache.refresh_if_due().await, Ok(None));

    // The dev IdP says max-age=300: at expiry the background refresh drops the old key.
    clock.advance(300);
    let outcome = cache.refresh_if_due().await.expect("refresh");
    assert_eq!(
        outcome,
        Some(RefreshOutcome::Updated {
            version: 2,
            keys: 3
        })
    );
    assert!(cache.snapshot().get(&old_kid).is_none());
    assert!(cache.snapshot().get(&new_kid).is_some());

    // A lookup of the removed kid refetches once (cooldown permitting) and is rejected.
    let err = cache
        .key_for(Some(&old_kid))
        .await
        .expect_err("removed key rejected");
    assert_eq!(
        err,
        KeyError::UnknownKeyId {
            kid: old_kid.clone()
        }
    );
    assert_eq!(err.reason(), "unknown_kid");
    assert_eq!(idp.jwks_requests(), 3);
    // Within the cooldown, no further fetch for it.
    let err = cache
        .key_for(Some(&old_kid))
        .await
        .expect_err("still rejected");
    assert_eq!(err.reason(), "unknown_kid");
    assert_eq!(idp.jwks_requests(), 3);
}

#[tokio::test]
async fn an_unchanged_set_keeps_its_version_and_renews_its_lifetime() {
    let (idp, clock, cache) = cold_jwks_cache(RefreshPolicy::default()).await;
    let mut versions = cache.subscribe();
    cache
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect("warm");
    assert!(versions.has_changed().expect("sender alive"));
    assert_eq!(*versions.borrow_and_update(), 1);
    let first_expiry = cache.snapshot().expires_at().expect("loaded");

    clock.advance(300);
    let outcome = cache.refresh_if_due().await.expect("refresh");
    assert_eq!(outcome, Some(RefreshOutcome::Unchanged { version: 1 }));
    assert!(!versions.has_changed().expect("sender alive"));
    assert_eq!(
        cache.snapshot().expires_at(),
        Some(first_expiry.add_seconds(300))
    );

    idp.rotate(Algorithm::EdDSA).expect("rotate");
    let outcome = cache.refresh().await.expect("forced refresh");
    assert_eq!(
        outcome,
        RefreshOutcome::Updated {
            version: 2,
            keys: 4
        }
    );
    assert!(versions.has_changed().expect("sender alive"));
    assert_eq!(*versions.borrow_and_update(), 2);
}

#[tokio::test]
async fn a_token_without_kid_uses_the_only_key_or_is_rejected() {
    let (idp, _clock, cache) = warm_jwks_cache(RefreshPolicy::default()).await;
    // Three keys: a token without kid cannot choose, and no refetch is tried.
    let err = cache.key_for(None).await.expect_err("ambiguous");
    assert_eq!(err, KeyError::MissingKeyId { keys: 3 });
    assert_eq!(idp.jwks_requests(), 1);

    for kid in idp.kids() {
        if Some(kid.clone()) != idp.current_kid(Algorithm::ES256) {
            idp.remove_key(&kid);
        }
    }
    cache.refresh().await.expect("refresh");
    let key = cache.key_for(None).await.expect("the only key");
    assert_eq!(key.algorithm(), Algorithm::ES256);
}
