//! The JWT verifier against real identity providers: development IdPs on loopback,
//! fetched through discovery, JWKS URLs and RFC 8414 metadata, with request counters.

mod support;

use std::convert::Infallible;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use jsonwebtoken::Algorithm;
use principal::{ClaimMapping, Issuer, Kind, Scope, TestClock, Timestamp};
use serde_json::{Value, json};
use support::jwt::{AUD, audience};
use support::{DEV_ALGORITHMS, START, start_idp_with_clock, test_clock};
use tower::{ServiceExt, service_fn};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::dev_idp::{DevIdp, Override};
use tower_auth::error::Challenge;
use tower_auth::jwks::StartupPolicy;
use tower_auth::jwt::{IssuerConfig, IssuerConfigBuilder, JwtVerifier, JwtVerifierBuilder};
use tower_auth::token_cache::TokenCacheConfig;
use tower_auth::{AuthError, Credentials, Pattern, VerifiedPrincipal, Verifier, VerifierChain};
use tower_layer::Layer;

fn config(idp: &DevIdp) -> IssuerConfigBuilder {
    IssuerConfig::builder(Issuer::new(idp.issuer()).expect("issuer")).audience(audience())
}

/// `idp` as an issuer found through OpenID Connect Discovery.
fn discovered(idp: &DevIdp) -> IssuerConfig {
    config(idp).oidc_discovery().build().expect("config")
}

fn claims(idp: &DevIdp) -> Value {
    json!({
        "iss": idp.issuer(),
        "sub": "alice",
        "aud": AUD,
        "exp": START + 300,
        "iat": START,
        "jti": "jti-1",
        "scope": "orders:read profile",
    })
}

/// A verifier of `configs` on `clock`, with its keys loaded.
async fn verifier(configs: Vec<IssuerConfig>, clock: &TestClock) -> JwtVerifier {
    verifier_with(configs, clock, |builder| builder).await
}

/// [`verifier`], its builder given more settings by `customize` first.
async fn verifier_with(
    configs: Vec<IssuerConfig>,
    clock: &TestClock,
    customize: impl FnOnce(JwtVerifierBuilder) -> JwtVerifierBuilder,
) -> JwtVerifier {
    let mut builder = JwtVerifier::builder().clock(Arc::new(clock.clone()));
    for config in configs {
        builder = builder.issuer(config);
    }
    let verifier = customize(builder).build().expect("verifier");
    verifier
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect("keys load");
    verifier
}

/// A test clock, an IdP on it, and a verifier of that IdP through discovery, its issuer
/// given more settings by `customize`.
async fn one_idp(
    customize: impl FnOnce(IssuerConfigBuilder) -> IssuerConfigBuilder,
) -> (TestClock, DevIdp, JwtVerifier) {
    let clock = test_clock();
    let idp = start_idp_with_clock(&clock).await;
    let config = customize(config(&idp).oidc_discovery())
        .build()
        .expect("config");
    let verifier = verifier(vec![config], &clock).await;
    (clock, idp, verifier)
}

#[tokio::test]
async fn accepts_every_algorithm_of_a_real_idp_through_discovery() {
    let (_clock, idp, verifier) = one_idp(|config| config).await;
    for algorithm in DEV_ALGORITHMS {
        let token = idp.issue(claims(&idp), algorithm).expect("signed");
        let verified = verifier.verify_token(&token).await.expect("accepted");
        assert_eq!(verified.pattern(), Pattern::JwtPassthrough);
        assert_eq!(verified.issuer().as_str(), idp.issuer());
        assert_eq!(verified.subject(), "alice");
        assert_eq!(verified.kind(), Kind::Human);
        assert_eq!(verified.token_id(), Some("jti-1"));
        assert!(verified.has_scope("orders:read") && verified.has_scope("profile"));
        assert_eq!(verified.audiences()[0].as_str(), AUD);
        assert_eq!(
            verified.expires_at(),
            Timestamp::from_unix_seconds(START + 300)
        );
    }
    // One discovery and one JWKS fetch at warm-up; none per request.
    assert_eq!((idp.discovery_requests(), idp.jwks_requests()), (1, 1));
}

#[tokio::test]
async fn jwks_url_and_rfc8414_metadata_sources_work_too() {
    let clock = test_clock();
    let by_url = start_idp_with_clock(&clock).await;
    let by_metadata = start_idp_with_clock(&clock).await;
    let verifier = verifier(
        vec![
            config(&by_url)
                .jwks_url(&by_url.jwks_url())
                .build()
                .expect("config"),
            config(&by_metadata)
                .oauth_metadata()
                .build()
                .expect("config"),
        ],
        &clock,
    )
    .await;
    for idp in [&by_url, &by_metadata] {
        let token = idp.issue(claims(idp), Algorithm::ES256).expect("signed");
        let verified = verifier.verify_token(&token).await.expect("accepted");
        assert_eq!(verified.issuer().as_str(), idp.issuer());
    }
    assert_eq!(by_url.discovery_requests(), 0);
    assert_eq!(by_metadata.discovery_requests(), 1);
}

#[tokio::test]
async fn overlapping_kids_of_two_real_idps_are_not_confused() {
    let clock = test_clock();
    let a = start_idp_with_clock(&clock).await;
    let b = start_idp_with_clock(&clock).await;
    // Two independent IdPs name their keys alike.
    assert_eq!(a.kids(), b.kids());
    let verifier = verifier(vec![discovered(&a), discovered(&b)], &clock).await;
    for algorithm in DEV_ALGORITHMS {
        for (idp, name) in [(&a, "a"), (&b, "b")] {
            let token = idp.issue(claims(idp), algorithm).expect("signed");
            let verified = verifier
                .verify_token(&token)
                .await
                .expect("own token accepted");
            assert_eq!(
                verified.issuer().as_str(),
                idp.issuer(),
                "{name} {algorithm:?}"
            );
        }
        // B signs a token claiming A's issuer with a kid A also has: A's key is used.
        let forged = b.issue(claims(&a), algorithm).expect("signed");
        assert!(
            matches!(
                verifier.verify_token(&forged).await,
                Err(AuthError::BadSignature)
            ),
            "{algorithm:?}"
        );
        let forged = a.issue(claims(&b), algorithm).expect("signed");
        assert!(matches!(
            verifier.verify_token(&forged).await,
            Err(AuthError::BadSignature)
        ));
    }
}

#[tokio::test]
async fn a_kid_only_another_issuer_has_is_unknown_after_at_most_one_refetch() {
    let clock = test_clock();
    let a = start_idp_with_clock(&clock).await;
    let b = start_idp_with_clock(&clock).await;
    let verifier = verifier(vec![discovered(&a), discovered(&b)], &clock).await;
    let b_only = b.rotate(Algorithm::ES256).expect("rotated");
    assert!(!a.kids().contains(&b_only));
    let forged = b.issue_with_kid(claims(&a), &b_only).expect("signed");
    let before = a.jwks_requests();
    for _ in 0..3 {
        assert!(matches!(
            verifier.verify_token(&forged).await,
            Err(AuthError::UnknownKeyId { kid: Some(kid) }) if kid == b_only
        ));
    }
    // A is asked again once (the cooldown holds the rest back); B is never asked.
    assert_eq!(a.jwks_requests(), before + 1);
    assert_eq!(b.jwks_requests(), 1);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_the_first_time_a_token_names_it() {
    let (_clock, idp, verifier) = one_idp(|config| config).await;
    let new_kid = idp.rotate(Algorithm::EdDSA).expect("rotated");
    let token = idp.issue(claims(&idp), Algorithm::EdDSA).expect("signed");
    assert_eq!(
        jsonwebtoken::decode_header(&token).expect("header").kid,
        Some(new_kid)
    );
    assert!(verifier.verify_token(&token).await.is_ok());
    assert_eq!(idp.jwks_requests(), 2);
}

#[tokio::test]
async fn verify_sync_never_fetches() {
    let (_clock, idp, verifier) = one_idp(|config| config).await;
    let known = idp.issue(claims(&idp), Algorithm::RS256).expect("signed");
    assert!(verifier.verify_sync(&known).is_ok());
    idp.rotate(Algorithm::RS256).expect("rotated");
    let token = idp.issue(claims(&idp), Algorithm::RS256).expect("signed");
    assert!(matches!(
        verifier.verify_sync(&token),
        Err(AuthError::UnknownKeyId { .. })
    ));
    assert_eq!(idp.jwks_requests(), 1);
}

#[tokio::test]
async fn keys_that_cannot_be_loaded_fail_closed() {
    let clock = test_clock();
    let idp = start_idp_with_clock(&clock).await;
    idp.set_response(Override::Status500);
    let verifier = JwtVerifier::builder()
        .issuer(
            config(&idp)
                .jwks_url(&idp.jwks_url())
                .build()
                .expect("config"),
        )
        .clock(Arc::new(clock.clone()))
        .build()
        .expect("verifier");
    let error = verifier
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect_err("the IdP fails");
    assert_eq!(error.issuer().as_str(), idp.issuer());
    assert_eq!(error.reason(), "http_status");
    verifier
        .warm(StartupPolicy::ContinueIfUnavailable)
        .await
        .expect("told to go on");

    let token = idp.issue(claims(&idp), Algorithm::ES256).expect("signed");
    let error = verifier.verify_token(&token).await.expect_err("no keys");
    assert!(matches!(&error, AuthError::KeySourceUnavailable { issuer } if issuer == idp.issuer()));
    assert_eq!(error.challenge(), Challenge::Unavailable);
}

#[tokio::test]
async fn a_cached_token_is_served_until_its_exp_and_not_after() {
    let (clock, idp, verifier) = one_idp(|config| config.leeway(std::time::Duration::ZERO)).await;
    let token = idp.issue(claims(&idp), Algorithm::ES256).expect("signed");
    let first = verifier.verify_token(&token).await.expect("accepted");
    assert_eq!(verifier.token_cache().len(), 1);
    clock.advance(299);
    let hit = verifier.verify_token(&token).await.expect("still valid");
    assert!(
        Arc::ptr_eq(first.principal_arc(), hit.principal_arc()),
        "served from the cache"
    );
    clock.advance(1);
    assert!(matches!(
        verifier.verify_token(&token).await,
        Err(AuthError::Expired { .. })
    ));
}

#[tokio::test]
async fn the_cache_is_dropped_when_the_key_set_changes() {
    let (_clock, idp, verifier) = one_idp(|config| config).await;
    let token = idp.issue(claims(&idp), Algorithm::ES256).expect("signed");
    let kid = idp.current_kid(Algorithm::ES256).expect("kid");
    assert!(verifier.verify_token(&token).await.is_ok());
    assert_eq!(verifier.token_cache().len(), 1);

    // The IdP withdraws the key (perhaps compromised) and the set is refreshed.
    idp.rotate(Algorithm::ES256).expect("rotated");
    assert!(idp.remove_key(&kid));
    let cache = verifier.key_cache(idp.issuer()).expect("cache");
    let before = cache.version();
    cache.refresh().await.expect("refreshed");
    assert!(cache.version() > before);

    // The cached verdict is gone with the key: the token is verified again, and refused.
    assert!(matches!(
        verifier.verify_token(&token).await,
        Err(AuthError::UnknownKeyId { .. })
    ));
}

#[tokio::test]
async fn with_the_cache_off_every_token_is_verified_in_full() {
    let clock = test_clock();
    let idp = start_idp_with_clock(&clock).await;
    let verifier = verifier_with(vec![discovered(&idp)], &clock, |builder| {
        builder.token_cache(TokenCacheConfig::disabled())
    })
    .await;
    let token = idp.issue(claims(&idp), Algorithm::RS256).expect("signed");
    let first = verifier.verify_token(&token).await.expect("accepted");
    let second = verifier.verify_token(&token).await.expect("accepted");
    assert!(!Arc::ptr_eq(first.principal_arc(), second.principal_arc()));
    assert_eq!(verifier.token_cache().len(), 0);
}

#[tokio::test]
async fn keycloak_mapping_reads_realm_and_client_roles() {
    let (_clock, idp, verifier) =
        one_idp(|config| config.claim_mapping(ClaimMapping::keycloak())).await;
    let mut claims = claims(&idp);
    claims["realm_access"] = json!({"roles": ["admin"]});
    claims["resource_access"] = json!({"orders": {"roles": ["writer"]}});
    let token = idp.issue(claims, Algorithm::ES256).expect("signed");
    let verified = verifier.verify_token(&token).await.expect("accepted");
    assert!(verified.has_role("admin") && verified.has_role("orders:writer"));
}

async fn call(
    service: &(
         impl tower::Service<
        Request<String>,
        Response = Response<String>,
        Error = Infallible,
        Future: Send,
    > + Clone
     ),
    token: &str,
) -> Response<String> {
    let request = Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(String::new())
        .expect("request");
    service.clone().oneshot(request).await.expect("infallible")
}

#[tokio::test]
async fn the_layer_hands_the_principal_to_the_handler() {
    let (clock, idp, verifier) =
        one_idp(|config| config.required_scope(Scope::new("orders:read").expect("scope"))).await;
    let verifier: Arc<dyn Verifier> = Arc::new(verifier);
    let service =
        AuthenticateLayer::new(verifier).layer(service_fn(|request: Request<String>| async move {
            let verified = request.extensions().get::<VerifiedPrincipal>().cloned();
            Ok::<_, Infallible>(Response::new(
                verified
                    .map(|v| format!("{} {}", v.subject(), v.pattern()))
                    .unwrap_or_default(),
            ))
        }));

    let token = idp.issue(claims(&idp), Algorithm::EdDSA).expect("signed");
    let response = call(&service, &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "alice jwt_passthrough");

    let mut without_scope = claims(&idp);
    without_scope["scope"] = json!("profile");
    let token = idp.issue(without_scope, Algorithm::EdDSA).expect("signed");
    let response = call(&service, &token).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer error="insufficient_scope", scope="orders:read""#
    );

    clock.advance(3600);
    let token = idp.issue(claims(&idp), Algorithm::EdDSA).expect("signed");
    let response = call(&service, &token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    assert!(response.body().is_empty());
}

#[tokio::test]
async fn a_chain_asks_the_verifier_of_the_tokens_issuer_and_stops_at_a_rejection() {
    let clock = test_clock();
    let external = start_idp_with_clock(&clock).await;
    let internal = start_idp_with_clock(&clock).await;
    let first = verifier(vec![discovered(&external)], &clock).await;
    let second = verifier_with(vec![discovered(&internal)], &clock, |builder| {
        builder.pattern(Pattern::InternalJwt)
    })
    .await;
    let chain = VerifierChain::new(Arc::new(first)).then(Arc::new(second));

    let token = internal
        .issue(claims(&internal), Algorithm::ES256)
        .expect("signed");
    let verified = chain
        .verify(&Credentials::bearer(&token))
        .await
        .expect("the second verifier accepts");
    assert_eq!(verified.pattern(), Pattern::InternalJwt);
    let token = external
        .issue(claims(&external), Algorithm::ES256)
        .expect("signed");
    assert_eq!(
        chain
            .verify(&Credentials::bearer(&token))
            .await
            .expect("accepted")
            .pattern(),
        Pattern::JwtPassthrough
    );

    // Rejected by the first verifier (its issuer, a forged signature): never asked again.
    let forged = internal
        .issue(claims(&external), Algorithm::ES256)
        .expect("signed");
    assert!(matches!(
        chain.verify(&Credentials::bearer(&forged)).await,
        Err(AuthError::BadSignature)
    ));
    // Nobody's issuer: the last decline.
    let mut stranger = claims(&external);
    stranger["iss"] = json!("https://stranger.example");
    let token = external.issue(stranger, Algorithm::ES256).expect("signed");
    assert!(matches!(
        chain.verify(&Credentials::bearer(&token)).await,
        Err(AuthError::UnknownIssuer)
    ));
}
