//! The mint cache: one token per (Principal, audience) per lifetime, a burst mints once,
//! renewal shortly before expiry, exact keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mint_fixture;

use std::sync::Arc;
use std::time::Duration;

use mint_fixture::*;
use principal::{Audience, ScopeSet, Timestamp};
use tower_auth::mint::{MintCache, SigningAlgorithm};

fn orders() -> Audience {
    Audience::new(ORDERS).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_concurrent_calls_for_one_pair_mints_once() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let cache = Arc::new(MintCache::builder(edge.issuer.clone()).build().unwrap());
    let alice = Arc::new(alice());
    let start = Arc::new(tokio::sync::Barrier::new(256));
    let tasks: Vec<_> = (0..256)
        .map(|_| {
            let (cache, alice, start) =
                (Arc::clone(&cache), Arc::clone(&alice), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                cache.token(&alice, &orders()).await.unwrap()
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap());
    }
    assert_eq!(edge.issuer.tokens_minted(), 1);
    assert!(tokens.iter().all(|t| t.as_str() == tokens[0].as_str()));
    // And the one token is what the receiving verifier accepts.
    let verifier = edge.verifier().await;
    assert_same_party(
        &alice,
        &verifier.verify_token(tokens[0].as_str()).await.unwrap(),
    );
}

#[tokio::test]
async fn a_cached_token_is_renewed_shortly_before_it_expires() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let cache = MintCache::builder(edge.issuer.clone())
        .renew_before(Duration::from_secs(60))
        .build()
        .unwrap();
    let alice = alice();
    let first = cache.token(&alice, &orders()).await.unwrap();
    assert_eq!(
        first.expires_at(),
        Timestamp::from_unix_seconds(START + 300)
    );

    // Until 60 s before its expiry, the same token.
    edge.clock.set(Timestamp::from_unix_seconds(START + 239));
    let same = cache.token(&alice, &orders()).await.unwrap();
    assert_eq!(same.as_str(), first.as_str());
    assert_eq!(edge.issuer.tokens_minted(), 1);

    // From then on, a new one, which is then cached in turn.
    edge.clock.set(Timestamp::from_unix_seconds(START + 240));
    let renewed = cache.token(&alice, &orders()).await.unwrap();
    assert_ne!(renewed.as_str(), first.as_str());
    assert_eq!(
        renewed.expires_at(),
        Timestamp::from_unix_seconds(START + 540)
    );
    assert_eq!(
        cache.token(&alice, &orders()).await.unwrap().as_str(),
        renewed.as_str()
    );
    assert_eq!(edge.issuer.tokens_minted(), 2);
    assert_eq!(cache.len(), 1);
}

#[tokio::test]
async fn the_key_is_the_whole_principal_and_the_audience() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let cache = MintCache::builder(edge.issuer.clone()).build().unwrap();
    let alice = alice();
    let token = cache.token(&alice, &orders()).await.unwrap();
    // Equal in every field except one: never the same token.
    let variants = [
        alice_with(|b| b.session_id("sid-43")),
        alice_with(|b| b.attribute("region", "us")),
        alice_with(|b| b.scopes(ScopeSet::parse("orders:read").unwrap())),
        alice_with(|b| b.delegation(Vec::new())),
        alice_with(|b| b.expires_at(Timestamp::from_unix_seconds(START + 3601))),
    ];
    for variant in &variants {
        assert_ne!(variant, &alice);
        let other = cache.token(variant, &orders()).await.unwrap();
        assert_ne!(other.as_str(), token.as_str());
    }
    let billing = cache
        .token(&alice, &Audience::new("billing-api").unwrap())
        .await
        .unwrap();
    assert_ne!(billing.as_str(), token.as_str());
    // A narrowed token is cached apart from the full one.
    let read = ScopeSet::parse("orders:read").unwrap();
    let narrowed = cache
        .token_narrowed(&alice, &orders(), &read)
        .await
        .unwrap();
    assert_ne!(narrowed.as_str(), token.as_str());
    assert_eq!(
        cache
            .token_narrowed(&alice, &orders(), &read)
            .await
            .unwrap()
            .as_str(),
        narrowed.as_str()
    );
    // An equal Principal (a separate value) gets the cached token.
    assert_eq!(
        cache
            .token(&mint_fixture::alice(), &orders())
            .await
            .unwrap()
            .as_str(),
        token.as_str()
    );
    assert_eq!(edge.issuer.tokens_minted(), 1 + variants.len() as u64 + 2);
}

#[tokio::test]
async fn the_cache_never_serves_past_the_principals_expiry_nor_widens() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let cache = MintCache::builder(edge.issuer.clone()).build().unwrap();
    let soon = alice_with(|b| b.expires_at(Timestamp::from_unix_seconds(START + 90)));
    // 90 s left, 60 s margin: served from the cache for the first 30 s.
    let token = cache.token(&soon, &orders()).await.unwrap();
    assert_eq!(token.expires_at(), Timestamp::from_unix_seconds(START + 90));
    assert_eq!(
        cache.token(&soon, &orders()).await.unwrap().as_str(),
        token.as_str()
    );
    // Inside the margin, minted anew each time (and not cached), then refused once expired.
    edge.clock.set(Timestamp::from_unix_seconds(START + 60));
    assert_ne!(
        cache.token(&soon, &orders()).await.unwrap().as_str(),
        token.as_str()
    );
    edge.clock.set(Timestamp::from_unix_seconds(START + 90));
    assert_eq!(
        cache.token(&soon, &orders()).await.unwrap_err().reason(),
        "principal_expired"
    );
    let wider = ScopeSet::parse("admin").unwrap();
    assert_eq!(
        cache
            .token_narrowed(&alice(), &orders(), &wider)
            .await
            .unwrap_err()
            .reason(),
        "scope_widening"
    );
}
