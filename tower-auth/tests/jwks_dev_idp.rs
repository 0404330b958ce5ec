//! The development IdP itself: its token endpoint, its key management and its refusals.

mod support;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use support::{START, discovery_cache, kid_of, start_idp_with_clock, test_clock, verify_signature};
use tower_auth::dev_idp::{DevIdp, DevIdpError};
use tower_auth::jwks::{RefreshPolicy, StartupPolicy};

async fn post_token(idp: &DevIdp, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(idp.token_url())
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("token endpoint answers")
}

#[tokio::test]
async fn the_token_endpoint_issues_tokens_the_cache_verifies() {
    let clock = test_clock();
    let idp = start_idp_with_clock(&clock).await;
    let cache = discovery_cache(&idp, &clock, RefreshPolicy::default());
    cache
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect("warm");

    let response = post_token(
        &idp,
        json!({"sub": "hm-1", "aud": "orders", "scope": "orders:read", "alg": "ES256", "tenant": "acme"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    let token = body["access_token"].as_str().expect("token");
    let key = cache.key_for(Some(&kid_of(token))).await.expect("key");
    assert_eq!(key.algorithm(), Algorithm::ES256);
    let claims = verify_signature(&key, token).expect("verifies");
    assert_eq!(claims["iss"], idp.issuer());
    assert_eq!(claims["sub"], "hm-1");
    assert_eq!(claims["aud"], "orders");
    assert_eq!(claims["scope"], "orders:read");
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["iat"], START);
    assert_eq!(claims["exp"], START + 300);
    assert_eq!(claims["jti"].as_str().map(str::len), Some(32));
    assert_eq!(idp.token_requests(), 1);
}

#[tokio::test]
async fn the_token_endpoint_refuses_bad_requests() {
    let idp = support::start_idp().await;
    for body in [
        json!({"sub": "a", "aud": 5}),
        json!({"sub": "a", "aud": []}),
        json!({"sub": "a", "aud": "x", "alg": "HS256"}),
    ] {
        assert_eq!(post_token(&idp, body).await.status(), 400);
    }
    // Missing members: axum's JSON extractor refuses it.
    assert!(
        post_token(&idp, json!({"aud": "x"}))
            .await
            .status()
            .is_client_error()
    );
}

#[tokio::test]
async fn key_management_and_signing_refusals() {
    let idp = support::start_idp().await;
    assert_eq!(idp.kids().len(), 3);
    let old = idp.current_kid(Algorithm::RS256).expect("kid");
    let new = idp.rotate(Algorithm::RS256).expect("rotate");
    assert_ne!(old, new);
    assert_eq!(idp.current_kid(Algorithm::RS256), Some(new.clone()));
    let by_old = idp
        .issue_with_kid(json!({"sub": "a"}), &old)
        .expect("signs");
    assert_eq!(kid_of(&by_old), old);
    assert!(idp.remove_key(&old));
    assert!(!idp.remove_key(&old));
    assert_eq!(
        idp.issue_with_kid(json!({"sub": "a"}), &old),
        Err(DevIdpError::UnknownKeyId { kid: old.clone() })
    );
    assert_eq!(
        idp.issue(json!("not an object"), Algorithm::RS256),
        Err(DevIdpError::ClaimsNotObject)
    );
    assert_eq!(
        idp.issue(json!({}), Algorithm::PS256)
            .map_err(|e| e.reason()),
        Err("unsupported_algorithm")
    );
    assert_eq!(
        idp.rotate(Algorithm::HS256).map_err(|e| e.reason()),
        Err("unsupported_algorithm")
    );
    let shown = format!("{idp:?}");
    assert!(shown.contains("[redacted]"));
}

#[tokio::test]
async fn the_dev_idp_binds_to_loopback_only() {
    for addr in ["0.0.0.0:0", "192.0.2.1:0"] {
        let err = DevIdp::start(addr.parse().expect("addr"))
            .await
            .expect_err("refused");
        assert_eq!(err.reason(), "not_loopback");
    }
    let v6 = DevIdp::start("[::1]:0".parse().expect("addr")).await;
    // Hosts without IPv6 loopback cannot bind; the rule is what this checks.
    if let Ok(idp) = v6 {
        assert!(idp.issuer().starts_with("http://[::1]:"));
    }
}
