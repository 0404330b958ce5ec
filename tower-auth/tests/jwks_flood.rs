//! A flood of lookups with unknown `kid`s costs the IdP at most one fetch per cooldown,
//! and concurrent waiters share it (single flight).

mod support;

use std::sync::Arc;

use jsonwebtoken::Algorithm;
use support::warm_jwks_cache;
use tokio::sync::Barrier;
use tower_auth::jwks::{KeyCache, KeyError, RefreshPolicy};

const FLOOD: usize = 1_000;

async fn flood(cache: &KeyCache, kid_of: impl Fn(usize) -> String) -> Vec<Result<(), KeyError>> {
    let barrier = Arc::new(Barrier::new(FLOOD));
    let tasks: Vec<_> = (0..FLOOD)
        .map(|i| {
            let cache = cache.clone();
            let barrier = Arc::clone(&barrier);
            let kid = kid_of(i);
            tokio::spawn(async move {
                barrier.wait().await;
                cache.key_for(Some(&kid)).await.map(|_| ())
            })
        })
        .collect();
    let mut results = Vec::with_capacity(FLOOD);
    for task in tasks {
        results.push(task.await.expect("task ran"));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_unknown_kids_cause_one_fetch_per_cooldown() {
    let (idp, clock, cache) = warm_jwks_cache(RefreshPolicy::default()).await;
    assert_eq!(idp.jwks_requests(), 1);

    let results = flood(&cache, |i| format!("made-up-{i}")).await;
    for (i, result) in results.iter().enumerate() {
        assert_eq!(
            result,
            &Err(KeyError::UnknownKeyId {
                kid: format!("made-up-{i}")
            })
        );
    }
    assert_eq!(idp.jwks_requests(), 2, "one refetch for the whole flood");

    // Another flood within the cooldown: no fetch at all.
    clock.advance(29);
    let results = flood(&cache, |i| format!("again-{i}")).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(KeyError::UnknownKeyId { .. })))
    );
    assert_eq!(idp.jwks_requests(), 2);

    // Once the cooldown has passed: exactly one more.
    clock.advance(1);
    let results = flood(&cache, |i| format!("later-{i}")).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(KeyError::UnknownKeyId { .. })))
    );
    assert_eq!(idp.jwks_requests(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_waiters_on_a_new_key_share_one_fetch() {
    let (idp, _clock, cache) = warm_jwks_cache(RefreshPolicy::default()).await;
    let new_kid = idp.rotate(Algorithm::ES256).expect("rotate");

    let results = flood(&cache, |_| new_kid.clone()).await;
    assert!(
        results.iter().all(Result::is_ok),
        "every waiter gets the new key"
    );
    assert_eq!(idp.jwks_requests(), 2, "one fetch shared by all");
}

#[tokio::test]
async fn a_kid_no_jwk_may_carry_never_causes_a_fetch() {
    let (idp, _clock, cache) = warm_jwks_cache(RefreshPolicy::default()).await;
    for kid in [String::new(), "k".repeat(257)] {
        let err = cache.key_for(Some(&kid)).await.expect_err("unknown");
        assert_eq!(err.reason(), "unknown_kid");
        // The error repeats at most 64 bytes of an attacker's kid.
        let KeyError::UnknownKeyId { kid: echoed } = err else {
            panic!("wrong variant");
        };
        assert!(echoed.len() <= 64);
    }
    assert_eq!(idp.jwks_requests(), 1);
}
