//! The token cache as a verifier's user sees it: bounds, configuration, and what filling
//! it does. Hits and purges in detail are unit tests inside the crate; what invalidates
//! an entry is in `token_cache_dependencies.rs`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{Audience, Issuer, TestClock, Timestamp};
use serde_json::json;
use tower_auth::jwks::SymmetricKey;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::token_cache::{
    DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, MAX_MAX_ENTRIES, TokenCacheConfig,
};

const NOW: i64 = 1_700_000_000;
const SECRET: [u8; 32] = [7; 32];

fn verifier(cache: TokenCacheConfig) -> JwtVerifier {
    JwtVerifier::builder()
        .issuer(
            IssuerConfig::builder(Issuer::new("https://idp.example").unwrap())
                .audience(Audience::new("api").unwrap())
                .hmac_secrets([
                    SymmetricKey::new(Some("hs-1"), Algorithm::HS256, SECRET.to_vec()).unwrap(),
                ])
                .build()
                .unwrap(),
        )
        .clock(Arc::new(TestClock::new(Timestamp::from_unix_seconds(NOW))))
        .token_cache(cache)
        .build()
        .unwrap()
}

fn token(jti: usize) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hs-1".into());
    let claims = json!({
        "iss": "https://idp.example", "sub": "alice", "aud": "api",
        "exp": NOW + 300, "jti": format!("jti-{jti}"),
    });
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&SECRET)).unwrap()
}

#[test]
fn the_default_cache_is_on_and_empty() {
    let verifier = verifier(TokenCacheConfig::default());
    let cache = verifier.token_cache();
    assert!(cache.is_empty());
    assert_eq!(cache.capacity(), DEFAULT_MAX_ENTRIES);
    assert_eq!(cache.max_bytes(), DEFAULT_MAX_BYTES);
}

/// The configured capacity is the capacity, and it really holds tokens: a cache that
/// silently held nothing (capacity 0) fails here.
#[test]
fn capacity_is_the_configured_bound_and_is_used() {
    for max in [1, 7, 16, 100] {
        let verifier = verifier(TokenCacheConfig::with_max_entries(max));
        let cache = verifier.token_cache();
        assert_eq!(cache.capacity(), max);
        for jti in 0..(max * 3) {
            let token = token(jti);
            verifier.verify_sync(&token).unwrap();
            let len = cache.len();
            assert!(len > 0, "max {max}: a verified token was not cached");
            assert!(len <= max, "max {max}: {len} entries");
            // The same token again is a hit: nothing new is stored.
            verifier.verify_sync(&token).unwrap();
            assert_eq!(cache.len(), len, "max {max}: a repeat was not a hit");
        }
        assert!(cache.bytes() > 0 && cache.bytes() <= cache.max_bytes());
    }
    let verifier = verifier(TokenCacheConfig::with_max_entries(usize::MAX));
    assert_eq!(verifier.token_cache().capacity(), MAX_MAX_ENTRIES);
}

#[test]
fn a_disabled_cache_stores_nothing() {
    for config in [
        TokenCacheConfig::disabled(),
        TokenCacheConfig::with_max_entries(100).with_max_bytes(0),
    ] {
        let verifier = verifier(config);
        verifier.verify_sync(&token(1)).unwrap();
        assert_eq!(verifier.token_cache().capacity(), 0);
        assert!(verifier.token_cache().is_empty());
    }
}

#[test]
fn the_byte_bound_holds() {
    let verifier = verifier(TokenCacheConfig::with_max_entries(10_000).with_max_bytes(64 * 1024));
    for jti in 0..200 {
        verifier.verify_sync(&token(jti)).unwrap();
    }
    let cache = verifier.token_cache();
    assert!(cache.bytes() <= 64 * 1024, "{} bytes", cache.bytes());
    assert!(
        !cache.is_empty() && cache.len() < 200,
        "{} entries",
        cache.len()
    );
}

#[test]
fn configuration_deserializes_with_defaults_and_refuses_unknown_fields() {
    let config: TokenCacheConfig = serde_json::from_str(r#"{"max_entries": 12}"#).unwrap();
    assert_eq!(config.max_entries, 12);
    assert_eq!(config.max_bytes, DEFAULT_MAX_BYTES);
    let config: TokenCacheConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(config, TokenCacheConfig::default());
    assert!(serde_json::from_str::<TokenCacheConfig>(r#"{"jwt_cache_size": 12}"#).is_err());
    assert_eq!(TokenCacheConfig::disabled().max_entries, 0);
}
