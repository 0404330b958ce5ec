//! The IdP answering garbage: every kind keeps the last good set serving and reports a
//! typed error.

mod support;

use jsonwebtoken::Algorithm;
use serde_json::json;
use support::{
    cold_jwks_cache, json_body, jwks_cache_with, start_idp, test_clock, warm_jwks_cache,
};
use tower_auth::dev_idp::Override;
use tower_auth::jwks::{JwksError, KeySetPolicy, RefreshPolicy, StartupPolicy};

#[tokio::test]
async fn each_kind_of_garbage_keeps_the_last_good_set_and_reports_a_typed_error() {
    let idp = start_idp().await;
    let clock = test_clock();
    let policy = RefreshPolicy::builder()
        .max_body_bytes(4 * 1024)
        .build()
        .expect("policy");
    let key_set_policy = KeySetPolicy::builder().max_keys(5).build().expect("policy");
    let cache = jwks_cache_with(&idp, &clock, policy, key_set_policy);
    cache
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect("warm");
    let kid = idp.current_kid(Algorithm::RS256).expect("kid");
    let url = idp.jwks_url();
    let big = vec![b' '; 5 * 1024];
    let many_keys: Vec<_> = (0..6).map(|_| idp.jwks()["keys"][0].clone()).collect();

    let cases: Vec<(&str, Override, JwksError)> = vec![
        (
            "500",
            Override::Status500,
            JwksError::HttpStatus {
                url: url.clone(),
                status: 500,
            },
        ),
        (
            "html",
            Override::Html,
            JwksError::UnexpectedContentType {
                url: url.clone(),
                content_type: "text/html; charset=utf-8".into(),
            },
        ),
        (
            "redirect",
            Override::Redirect("http://127.0.0.1:9/elsewhere.json".into()),
            JwksError::RedirectRefused {
                url: url.clone(),
                status: 302,
            },
        ),
        (
            "oversized with Content-Length",
            Override::Body {
                content_type: "application/json".into(),
                body: big.clone(),
            },
            JwksError::BodyTooLarge {
                url: url.clone(),
                limit: 4 * 1024,
            },
        ),
        (
            "oversized, chunked",
            Override::Unsized {
                content_type: "application/json".into(),
                body: big,
            },
            JwksError::BodyTooLarge {
                url: url.clone(),
                limit: 4 * 1024,
            },
        ),
        ("empty key set", Override::EmptyKeys, JwksError::EmptyKeySet),
        (
            "too many keys",
            json_body(&json!({ "keys": many_keys })),
            JwksError::TooManyKeys { count: 6, limit: 5 },
        ),
        (
            "no usable key",
            json_body(&json!({ "keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}] })),
            JwksError::NoUsableKeys { dropped: 1 },
        ),
    ];
    for (name, response, expected) in cases {
        idp.set_response(response);
        let err = cache.refresh().await.expect_err(name);
        assert_eq!(err, expected, "{name}");
        let snapshot = cache.snapshot();
        assert_eq!(snapshot.last_error(), Some(&expected), "{name}");
        assert_eq!(snapshot.version(), 1, "{name}: the last good set stays");
        assert!(
            cache.key_for(Some(&kid)).await.is_ok(),
            "{name}: still serving"
        );
    }

    // JSON errors carry the parser's message; check their variant only.
    for (name, response) in [
        ("truncated", Override::TruncatedJson),
        ("not a key set", json_body(&json!({"issuer": "x"}))),
        ("keys not an array", json_body(&json!({"keys": "x"}))),
        (
            "no content type, not JSON",
            Override::Body {
                content_type: String::new(),
                body: b"<html>".to_vec(),
            },
        ),
    ] {
        idp.set_response(response);
        let err = cache.refresh().await.expect_err(name);
        assert!(
            matches!(err, JwksError::InvalidJson { .. }),
            "{name}: {err:?}"
        );
        assert_eq!(err.reason(), "invalid_json");
        assert!(
            cache.key_for(Some(&kid)).await.is_ok(),
            "{name}: still serving"
        );
    }

    // Good answers clear the error.
    idp.set_response(Override::Normal);
    cache.refresh().await.expect("recovers");
    assert_eq!(cache.snapshot().last_error(), None);
    assert_eq!(cache.version(), 1, "same keys, same version");
}

#[tokio::test]
async fn a_failed_refresh_is_retried_after_the_failure_delay() {
    let (idp, clock, cache) = warm_jwks_cache(RefreshPolicy::default()).await;
    idp.set_response(Override::Status500);
    clock.advance(300);
    assert!(cache.refresh_if_due().await.is_err());
    assert_eq!(idp.jwks_requests(), 2);
    // Not due again until failure_retry (30 s) has passed.
    clock.advance(29);
    assert_eq!(cache.refresh_if_due().await, Ok(None));
    assert_eq!(idp.jwks_requests(), 2);
    clock.advance(1);
    idp.set_response(Override::Normal);
    assert!(cache.refresh_if_due().await.expect("retry").is_some());
    assert_eq!(idp.jwks_requests(), 3);
}

#[tokio::test]
async fn an_oct_key_in_a_fetched_set_is_dropped_and_the_rest_serves() {
    let (idp, _clock, cache) = cold_jwks_cache(RefreshPolicy::default()).await;
    let mut jwks = idp.jwks();
    jwks["keys"]
        .as_array_mut()
        .expect("keys")
        .push(json!({"kty": "oct", "kid": "shared", "alg": "HS256", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}));
    idp.set_response(json_body(&jwks));
    cache
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect("warm");
    assert_eq!(cache.snapshot().key_set().len(), 3);
    let err = cache
        .key_for(Some("shared"))
        .await
        .expect_err("oct key not served");
    assert_eq!(err.reason(), "unknown_kid");
    assert!(
        cache
            .snapshot()
            .key_set()
            .iter()
            .all(|k| k.algorithm() != Algorithm::HS256)
    );
}

#[tokio::test]
async fn text_from_the_idp_is_bounded_in_errors() {
    let (idp, _clock, cache) = warm_jwks_cache(RefreshPolicy::default()).await;
    // serde_json repeats a string it did not expect: here, 100 000 bytes of it.
    let flood = "A".repeat(100_000);
    idp.set_response(json_body(&json!({ "keys": flood })));
    let err = cache.refresh().await.expect_err("not a key set");
    assert_eq!(err.reason(), "invalid_json");
    let JwksError::InvalidJson { detail } = &err else {
        panic!("wrong variant: {err:?}");
    };
    assert!(detail.len() <= 256, "detail of {} bytes", detail.len());
    assert!(err.to_string().len() <= 512);
    assert_eq!(cache.snapshot().last_error(), Some(&err));
}

#[tokio::test]
async fn a_long_discovered_jwks_uri_is_bounded_in_errors() {
    let idp = start_idp().await;
    let clock = test_clock();
    let cache = support::discovery_cache(&idp, &clock, RefreshPolicy::default());
    // Port 1 on loopback: nothing listens, the fetch fails at once.
    let uri = format!("http://127.0.0.1:1/{}", "a".repeat(50_000));
    idp.advertise_jwks_uri(Some(&uri));
    let err = cache.refresh().await.expect_err("unreachable");
    let JwksError::Unreachable { url, detail } = &err else {
        panic!("wrong variant: {err:?}");
    };
    assert!(url.len() <= 256 && uri.starts_with(url.as_str()));
    assert!(detail.len() <= 256, "detail of {} bytes", detail.len());
    assert!(err.to_string().len() <= 1024);
}

#[tokio::test]
async fn max_keys_is_enforced_while_reading_before_any_key_is_built() {
    let idp = start_idp().await;
    let clock = test_clock();
    let policy = RefreshPolicy::builder()
        .max_body_bytes(16 * 1024 * 1024)
        .build()
        .expect("policy");
    let cache = jwks_cache_with(&idp, &clock, policy, KeySetPolicy::default());
    let key = idp.jwks()["keys"][0].clone();

    // 10 000 keys: counted, refused.
    let many: Vec<_> = (0..10_000).map(|_| key.clone()).collect();
    idp.set_response(json_body(&json!({ "keys": many })));
    assert_eq!(
        cache.refresh().await,
        Err(JwksError::TooManyKeys {
            count: 10_000,
            limit: 64
        })
    );

    // Members past the limit are only counted, never built: values serde_json would
    // refuse to build (nested deeper than its recursion limit) do not change the answer.
    let nested = format!("{}{}", "[".repeat(500), "]".repeat(500));
    let mut body = String::from("{\"keys\":[");
    for _ in 0..64 {
        body.push_str(&key.to_string());
        body.push(',');
    }
    body.push_str(&vec![nested.as_str(); 100].join(","));
    body.push_str("]}");
    idp.set_response(Override::Body {
        content_type: "application/json".into(),
        body: body.into_bytes(),
    });
    assert_eq!(
        cache.refresh().await,
        Err(JwksError::TooManyKeys {
            count: 164,
            limit: 64
        })
    );

    // Exactly at the limit: loaded (duplicates of one kid are dropped, one key serves).
    let at_limit: Vec<_> = (0..64).map(|_| key.clone()).collect();
    idp.set_response(json_body(&json!({ "keys": at_limit })));
    let outcome = cache.refresh().await.expect("64 keys are allowed");
    assert!(matches!(
        outcome,
        tower_auth::jwks::RefreshOutcome::Updated { keys: 1, .. }
    ));
}
