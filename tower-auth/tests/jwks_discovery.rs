//! JWKS sources: OpenID Connect Discovery, RFC 8414 metadata, and the URL rules.

mod support;

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::json;
use support::{discovery_cache, json_body, start_idp, test_clock};
use tower_auth::dev_idp::Override;
use tower_auth::jwks::{
    JwksConfigError, JwksError, JwksSource, KeyCache, MetadataFlavour, RefreshPolicy, StartupPolicy,
};

#[tokio::test]
async fn rfc8414_metadata_leads_to_the_jwks() {
    let idp = start_idp().await;
    let clock = test_clock();
    let source = JwksSource::oauth_metadata(idp.issuer()).expect("issuer");
    assert_eq!(
        source.metadata_flavour(),
        Some(MetadataFlavour::OAuthAuthorizationServer)
    );
    assert_eq!(
        source.metadata_url().map(|u| u.as_str().to_owned()),
        Some(format!(
            "{}/.well-known/oauth-authorization-server",
            idp.issuer()
        ))
    );
    let cache = KeyCache::builder(source)
        .clock(Arc::new(clock))
        .build()
        .expect("cache");
    cache
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect("warm");
    assert_eq!((idp.discovery_requests(), idp.jwks_requests()), (1, 1));
    let kid = idp.current_kid(Algorithm::EdDSA).expect("kid");
    assert!(cache.key_for(Some(&kid)).await.is_ok());
}

#[tokio::test]
async fn a_metadata_issuer_that_is_not_exactly_the_configured_one_is_refused() {
    let idp = start_idp().await;
    let clock = test_clock();
    let cache = discovery_cache(&idp, &clock, RefreshPolicy::default());
    for advertised in [
        format!("{}/", idp.issuer()),
        "http://127.0.0.1:1".to_owned(),
        idp.issuer().to_uppercase(),
    ] {
        idp.advertise_issuer(Some(&advertised));
        let err = cache
            .warm(StartupPolicy::FailIfUnavailable)
            .await
            .expect_err("issuer mismatch");
        assert_eq!(
            err,
            JwksError::IssuerMismatch {
                expected: idp.issuer().to_owned(),
                advertised: advertised.clone(),
            }
        );
        assert_eq!(err.reason(), "issuer_mismatch");
    }
    assert_eq!(
        idp.jwks_requests(),
        0,
        "no JWKS fetched from a wrong issuer"
    );
}

#[tokio::test]
async fn a_jwks_uri_over_http_to_a_remote_host_is_refused() {
    let idp = start_idp().await;
    let clock = test_clock();
    let cache = discovery_cache(&idp, &clock, RefreshPolicy::default());
    for (uri, expected) in [
        (
            "http://id.example.com/jwks.json",
            JwksError::InsecureJwksUri {
                uri: "http://id.example.com/jwks.json".into(),
            },
        ),
        (
            "https://user:secret@id.example.com/jwks.json",
            // The credentials stay out of the error (it is logged).
            JwksError::InsecureJwksUri {
                uri: "https://id.example.com/jwks.json".into(),
            },
        ),
        (
            "ftp://127.0.0.1/jwks.json",
            JwksError::InsecureJwksUri {
                uri: "ftp://127.0.0.1/jwks.json".into(),
            },
        ),
    ] {
        idp.advertise_jwks_uri(Some(uri));
        let err = cache
            .warm(StartupPolicy::FailIfUnavailable)
            .await
            .expect_err("refused");
        assert_eq!(err, expected);
    }
    idp.advertise_jwks_uri(Some("not a url"));
    let err = cache.refresh().await.expect_err("refused");
    assert_eq!(err.reason(), "invalid_jwks_uri");
    assert_eq!(idp.jwks_requests(), 0);
}

#[tokio::test]
async fn metadata_without_jwks_uri_or_not_json_is_refused() {
    let idp = start_idp().await;
    let clock = test_clock();
    let cache = discovery_cache(&idp, &clock, RefreshPolicy::default());
    idp.set_discovery_response(json_body(&json!({ "issuer": idp.issuer() })));
    assert_eq!(cache.refresh().await, Err(JwksError::MissingJwksUri));
    idp.set_discovery_response(Override::Html);
    assert_eq!(
        cache.refresh().await.map_err(|e| e.reason()),
        Err("unexpected_content_type")
    );
    idp.set_discovery_response(Override::EmptyKeys);
    assert_eq!(
        cache.refresh().await.map_err(|e| e.reason()),
        Err("invalid_json")
    );
    idp.set_discovery_response(Override::Status500);
    assert_eq!(
        cache.refresh().await.map_err(|e| e.reason()),
        Err("http_status")
    );
}

#[tokio::test]
async fn discovered_metadata_survives_a_failed_fetch_and_is_read_again_on_schedule() {
    let idp = start_idp().await;
    let clock = test_clock();
    let policy = RefreshPolicy::builder()
        .rediscovery_interval(Duration::from_secs(600))
        .build()
        .expect("policy");
    let cache = discovery_cache(&idp, &clock, policy);
    cache
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect("warm");
    cache.refresh().await.expect("refresh");
    assert_eq!((idp.discovery_requests(), idp.jwks_requests()), (1, 2));

    // A failed JWKS fetch does not throw the metadata away: the next fetch goes straight
    // to the jwks_uri found before.
    idp.set_response(Override::Status500);
    assert!(cache.refresh().await.is_err());
    assert_eq!((idp.discovery_requests(), idp.jwks_requests()), (1, 3));
    idp.set_response(Override::Normal);
    cache.refresh().await.expect("refresh");
    assert_eq!((idp.discovery_requests(), idp.jwks_requests()), (1, 4));

    // Within the interval, no metadata request; once it has passed, one.
    clock.advance(599);
    cache.refresh().await.expect("refresh");
    assert_eq!((idp.discovery_requests(), idp.jwks_requests()), (1, 5));
    clock.advance(1);
    cache.refresh().await.expect("refresh");
    assert_eq!((idp.discovery_requests(), idp.jwks_requests()), (2, 6));

    // Metadata that cannot be read when due: the jwks_uri found before still serves, and
    // discovery is tried again at the next fetch.
    clock.advance(600);
    idp.set_discovery_response(Override::Status500);
    cache
        .refresh()
        .await
        .expect("served from the known jwks_uri");
    assert_eq!((idp.discovery_requests(), idp.jwks_requests()), (3, 7));
    idp.set_discovery_response(Override::Normal);
    cache.refresh().await.expect("refresh");
    assert_eq!((idp.discovery_requests(), idp.jwks_requests()), (4, 8));
    cache.refresh().await.expect("refresh");
    assert_eq!((idp.discovery_requests(), idp.jwks_requests()), (4, 9));
}

#[tokio::test]
async fn http_issuers_and_jwks_urls_are_refused_unless_on_loopback() {
    let insecure = |r: Result<JwksSource, JwksConfigError>| r.expect_err("refused").reason();
    assert_eq!(
        insecure(JwksSource::oidc_discovery("http://id.example.com")),
        "insecure_scheme"
    );
    assert_eq!(
        insecure(JwksSource::oauth_metadata("http://id.example.com")),
        "insecure_scheme"
    );
    assert_eq!(
        insecure(JwksSource::jwks_url("http://id.example.com/jwks")),
        "insecure_scheme"
    );
    assert_eq!(
        insecure(JwksSource::jwks_url("http://192.168.1.1/jwks")),
        "insecure_scheme"
    );
    assert_eq!(
        JwksSource::jwks_url("http://id.example.com/jwks"),
        Err(JwksConfigError::InsecureScheme {
            field: "jwks_url",
            url: "http://id.example.com/jwks".into()
        })
    );
    assert!(JwksSource::oidc_discovery("https://id.example.com").is_ok());
    assert!(JwksSource::oidc_discovery("http://localhost:8080").is_ok());
    assert!(JwksSource::oidc_discovery("http://[::1]:8080").is_ok());
}
