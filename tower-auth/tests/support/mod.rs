//! Shared helpers for tower-auth's integration tests: a loopback development IdP, a test
//! clock, caches wired to both, and token helpers. [`jwt`] holds the JWT verifier's keys
//! and multi-issuer fixture. Each test binary uses only some of these.
#![allow(dead_code)]

pub mod gated;
pub mod jwt;
pub mod sts;

use std::sync::Arc;

use jsonwebtoken::{Algorithm, Validation};
use principal::{TestClock, Timestamp};
use serde_json::{Value, json};
use tower_auth::dev_idp::{DevIdp, Override};
use tower_auth::jwks::{
    JwksSource, KeyCache, KeySetPolicy, RefreshPolicy, StartupPolicy, VerificationKey,
};

/// Where every test clock starts: 2023-11-14T22:13:20Z.
pub const START: i64 = 1_700_000_000;

/// A development IdP on `127.0.0.1:0`.
pub async fn start_idp() -> DevIdp {
    DevIdp::start("127.0.0.1:0".parse().expect("socket address"))
        .await
        .expect("the development IdP starts")
}

/// A development IdP on `127.0.0.1:0` that stamps `iat`/`exp` from `clock`.
pub async fn start_idp_with_clock(clock: &TestClock) -> DevIdp {
    DevIdp::start_with_clock(
        "127.0.0.1:0".parse().expect("socket address"),
        Arc::new(clock.clone()),
    )
    .await
    .expect("the development IdP starts")
}

/// A test clock at [`START`].
pub fn test_clock() -> TestClock {
    TestClock::new(Timestamp::from_unix_seconds(START))
}

/// A cache reading `idp` through OpenID Connect Discovery.
pub fn discovery_cache(idp: &DevIdp, clock: &TestClock, policy: RefreshPolicy) -> KeyCache {
    KeyCache::builder(JwksSource::oidc_discovery(idp.issuer()).expect("issuer"))
        .refresh_policy(policy)
        .clock(Arc::new(clock.clone()))
        .build()
        .expect("cache builds")
}

/// A cache reading `idp`'s JWKS URL directly.
pub fn jwks_cache(idp: &DevIdp, clock: &TestClock, policy: RefreshPolicy) -> KeyCache {
    jwks_cache_with(idp, clock, policy, KeySetPolicy::default())
}

/// A cache reading `idp`'s JWKS URL directly, with a key set policy.
pub fn jwks_cache_with(
    idp: &DevIdp,
    clock: &TestClock,
    policy: RefreshPolicy,
    key_set_policy: KeySetPolicy,
) -> KeyCache {
    KeyCache::builder(JwksSource::jwks_url(&idp.jwks_url()).expect("jwks url"))
        .refresh_policy(policy)
        .key_set_policy(key_set_policy)
        .clock(Arc::new(clock.clone()))
        .build()
        .expect("cache builds")
}

/// A development IdP, a test clock at [`START`], and a cache on the IdP's JWKS URL with
/// `policy`, not loaded yet: nothing has been fetched.
pub async fn cold_jwks_cache(policy: RefreshPolicy) -> (DevIdp, TestClock, KeyCache) {
    let idp = start_idp().await;
    let clock = test_clock();
    let cache = jwks_cache(&idp, &clock, policy);
    (idp, clock, cache)
}

/// [`cold_jwks_cache`], warmed: the IdP has answered one JWKS request.
pub async fn warm_jwks_cache(policy: RefreshPolicy) -> (DevIdp, TestClock, KeyCache) {
    let (idp, clock, cache) = cold_jwks_cache(policy).await;
    cache
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect("warm");
    (idp, clock, cache)
}

/// An IdP answer: HTTP 200, `application/json`, this document.
pub fn json_body(value: &Value) -> Override {
    Override::Body {
        content_type: "application/json".into(),
        body: value.to_string().into_bytes(),
    }
}

/// Claims for a test token (only the signature matters to key tests).
pub fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "aud": "api", "exp": START + 3600 })
}

/// The `kid` of a token's header.
pub fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}

/// Checks `token`'s signature with `key` through jsonwebtoken, with the algorithm the key
/// fixes; claims checks are the JWT verifier's business, so they are off here.
pub fn verify_signature(
    key: &VerificationKey,
    token: &str,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let mut validation = Validation::new(key.algorithm());
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, key.decoding_key(), &validation).map(|data| data.claims)
}

/// The three algorithms the development IdP signs with.
pub const DEV_ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
