//! Unit tests that need the cache's mint step replaced.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use principal::{Audience, HumanId, Issuer, Principal, TestClock, Timestamp};

use super::*;

fn setup() -> (InternalIssuer, Principal, Audience) {
    let clock = TestClock::new(Timestamp::from_unix_seconds(1_700_000_000));
    let issuer = InternalIssuer::builder(
        Issuer::new("https://edge.internal").unwrap(),
        SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
    )
    .clock(Arc::new(clock))
    .build()
    .unwrap();
    let idp = Issuer::new("https://idp.example.com").unwrap();
    let alice = Principal::builder(HumanId::derive(&idp, "alice").into(), idp, "alice")
        .expires_at(Timestamp::from_unix_seconds(1_700_003_600))
        .build()
        .unwrap();
    (issuer, alice, Audience::new("orders-api").unwrap())
}

/// Every caller of the burst is parked on the pair before the first mint may finish: the
/// mint step waits on a gate the test opens only after all tasks ran up to their wait.
/// Without the single flight each of them would mint.
#[tokio::test(flavor = "current_thread")]
async fn a_burst_for_one_pair_mints_once_even_when_minting_waits() {
    let (issuer, alice, orders) = setup();
    let cache = Arc::new(MintCache::builder(issuer.clone()).build().unwrap());
    let gate = Arc::new(tokio::sync::Notify::new());
    let mints = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (cache, issuer, alice, orders, gate, mints) = (
            Arc::clone(&cache),
            issuer.clone(),
            alice.clone(),
            orders.clone(),
            Arc::clone(&gate),
            Arc::clone(&mints),
        );
        tasks.push(tokio::spawn(async move {
            cache
                .token_with(&alice, &orders, None, || async {
                    mints.fetch_add(1, Ordering::SeqCst);
                    gate.notified().await;
                    issuer.mint(&alice, &orders)
                })
                .await
                .unwrap()
        }));
    }
    // Let every task run to its first wait (the gate, or the pair's flight lock).
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(mints.load(Ordering::SeqCst), 1);
    gate.notify_waiters();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap());
    }
    assert_eq!(mints.load(Ordering::SeqCst), 1);
    assert_eq!(issuer.tokens_minted(), 1);
    assert!(tokens.iter().all(|t| t.as_str() == tokens[0].as_str()));
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_mint_is_not_cached_and_the_next_caller_tries_again() {
    let (issuer, alice, orders) = setup();
    let cache = MintCache::builder(issuer.clone()).build().unwrap();
    let err = cache
        .token_with(&alice, &orders, None, || async {
            Err(MintError::Internal { why: "test" })
        })
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "internal");
    assert!(cache.token(&alice, &orders).await.is_ok());
    assert_eq!(issuer.tokens_minted(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn the_cache_stays_bounded_and_evicts_the_soonest_expiring() {
    let (issuer, alice, orders) = setup();
    let cache = MintCache::builder(issuer.clone())
        .max_entries(2)
        .build()
        .unwrap();
    for audience in ["a", "b", "c", "d"] {
        cache
            .token(&alice, &Audience::new(audience).unwrap())
            .await
            .unwrap();
        assert!(cache.len() <= 2);
    }
    assert_eq!(cache.len(), 2);
    // The pair still held is served without minting.
    let before = issuer.tokens_minted();
    cache
        .token(&alice, &Audience::new("d").unwrap())
        .await
        .unwrap();
    assert_eq!(issuer.tokens_minted(), before);
    let _ = orders;
}

#[test]
fn reasons_are_distinct() {
    let reasons = [
        MintError::PrincipalExpired {
            expires_at: Timestamp::EPOCH,
            now: Timestamp::EPOCH,
        }
        .reason(),
        MintError::PrincipalNotYetValid {
            now: Timestamp::EPOCH,
        }
        .reason(),
        MintError::DelegationTooDeep { depth: 1, max: 0 }.reason(),
        MintError::ScopeWidening {
            scope: String::new(),
        }
        .reason(),
        MintError::Internal { why: "" }.reason(),
    ];
    let mut unique = reasons.to_vec();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), reasons.len());
}
