//! The token cache's public surface that needs no Principal: keys, misses, bounds and
//! configuration. Hits, expiry and purges are unit tests inside the crate (only this
//! crate's verifiers can make the `VerifiedPrincipal` a hit returns).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use principal::{TestClock, Timestamp};
use tower_auth::token_cache::{
    CacheEpoch, DEFAULT_MAX_ENTRIES, MAX_MAX_ENTRIES, TokenCache, TokenCacheConfig,
};

const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

fn clock() -> Arc<TestClock> {
    Arc::new(TestClock::new(Timestamp::from_unix_seconds(1_000)))
}

#[test]
fn an_empty_cache_misses() {
    let cache = TokenCache::new(TokenCacheConfig::default(), b"issuer config", clock());
    assert!(cache.get(TOKEN, CacheEpoch::new(0, 0)).is_none());
    assert!(cache.get("", CacheEpoch::new(1, 1)).is_none());
    assert!(cache.is_empty());
    assert_eq!(cache.capacity(), DEFAULT_MAX_ENTRIES);
}

#[test]
fn keys_depend_on_token_and_configuration() {
    let a = TokenCache::new(TokenCacheConfig::default(), b"audience=orders", clock());
    let b = TokenCache::new(TokenCacheConfig::default(), b"audience=billing", clock());
    assert_eq!(a.key(TOKEN), a.key(TOKEN));
    assert_ne!(a.key(TOKEN), b.key(TOKEN));
    assert_ne!(a.key(TOKEN), a.key(&TOKEN[..TOKEN.len() - 1]));
    // The key's Debug form shows a prefix only.
    assert!(format!("{:?}", a.key(TOKEN)).len() < 24);
}

#[test]
fn capacity_is_bounded_by_the_configuration() {
    for max in [0, 1, 7, 16, 1_000] {
        let cache = TokenCache::new(TokenCacheConfig::with_max_entries(max), b"x", clock());
        assert!(cache.capacity() <= max);
    }
    let cache = TokenCache::new(
        TokenCacheConfig::with_max_entries(usize::MAX),
        b"x",
        clock(),
    );
    assert!(cache.capacity() <= MAX_MAX_ENTRIES);
}

#[test]
fn configuration_deserializes_with_defaults_and_refuses_unknown_fields() {
    let config: TokenCacheConfig = serde_json::from_str(r#"{"max_entries": 12}"#).unwrap();
    assert_eq!(config.max_entries, 12);
    let config: TokenCacheConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(config, TokenCacheConfig::default());
    assert!(serde_json::from_str::<TokenCacheConfig>(r#"{"jwt_cache_size": 12}"#).is_err());
    assert_eq!(TokenCacheConfig::disabled().max_entries, 0);
}
