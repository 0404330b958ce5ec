//! What a cached verdict depends on, against a real development IdP on a test clock:
//! the trust in its key set (a hit is refused once the set is past its maximum
//! staleness), its own key (a new key published beside it changes nothing, its removal
//! drops only its entries), and the revocation list (a change re-checks the cached
//! Principal instead of flushing the cache).

mod support;

use std::sync::Arc;

use jsonwebtoken::Algorithm;
use principal::{Issuer, Timestamp};
use serde_json::{Value, json};
use support::jwt::{AUD, audience};
use support::{START, start_idp_with_clock, test_clock};
use tower_auth::dev_idp::{DevIdp, Override};
use tower_auth::jwks::StartupPolicy;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::revocation::{Denylist, RevocationCheck};
use tower_auth::{AuthError, Credentials, Verifier};

/// Valid for three hours: longer than the key set's staleness bound (300 s fresh + 1 h).
fn claims(idp: &DevIdp, jti: &str) -> Value {
    json!({
        "iss": idp.issuer(), "sub": "alice", "aud": AUD,
        "iat": START, "exp": START + 3 * 3600, "jti": jti,
    })
}

async fn verifier(
    idp: &DevIdp,
    clock: &principal::TestClock,
    denylist: Arc<Denylist>,
) -> JwtVerifier {
    let verifier = JwtVerifier::builder()
        .issuer(
            IssuerConfig::builder(Issuer::new(idp.issuer()).expect("issuer"))
                .audience(audience())
                .oidc_discovery()
                .build()
                .expect("config"),
        )
        .clock(Arc::new(clock.clone()))
        .revocation(denylist)
        .build()
        .expect("verifier");
    verifier
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect("keys load");
    verifier
}

#[tokio::test]
async fn a_cached_verdict_ends_with_the_trust_in_its_key_set() {
    let clock = test_clock();
    let idp = start_idp_with_clock(&clock).await;
    let verifier = verifier(&idp, &clock, Arc::new(Denylist::new())).await;
    let cached = idp
        .issue(claims(&idp, "cached"), Algorithm::ES256)
        .expect("signed");
    verifier.verify_token(&cached).await.expect("accepted");
    assert_eq!(verifier.token_cache().len(), 1);

    // The IdP goes away. max-age=300 and the default maximum staleness of one hour: the
    // last good set serves until START + 3900, and so does the cached verdict.
    idp.set_response(Override::Down);
    let serve_until = Timestamp::from_unix_seconds(START + 300 + 3600);
    let snapshot = verifier.key_cache(idp.issuer()).expect("issuer").snapshot();
    assert_eq!(snapshot.serve_until(), Some(serve_until));
    clock.set(serve_until);
    assert!(verifier.verify_token(&cached).await.is_ok());
    assert!(verifier.verify_sync(&cached).is_ok());

    // One second later the set may not serve: a fresh token gets "keys unavailable" (503),
    // and the cached one gets the same answer, on every path, though its exp is hours away.
    clock.advance(1);
    let fresh = idp
        .issue(claims(&idp, "fresh"), Algorithm::ES256)
        .expect("signed");
    for token in [&fresh, &cached] {
        let unavailable = |result: Result<_, AuthError>| {
            matches!(result, Err(AuthError::KeySourceUnavailable { .. }))
        };
        assert!(unavailable(verifier.verify_token(token).await), "async");
        assert!(unavailable(verifier.verify_sync(token)), "sync");
        assert!(
            unavailable(verifier.verify(&Credentials::bearer(token)).await),
            "as a Verifier"
        );
    }
    // The entry is kept (the trust may come back), but it does not serve.
    assert_eq!(verifier.token_cache().len(), 1);

    // The IdP comes back: once the refetch cooldown has passed, the set is renewed and
    // the cached verdict serves again.
    idp.set_response(Override::Normal);
    clock.advance(30);
    assert!(verifier.verify_token(&cached).await.is_ok());
    assert!(verifier.verify_sync(&cached).is_ok());
}

#[tokio::test]
async fn a_key_published_ahead_of_rotation_keeps_every_cached_verdict() {
    let clock = test_clock();
    let idp = start_idp_with_clock(&clock).await;
    let verifier = verifier(&idp, &clock, Arc::new(Denylist::new())).await;
    let es = idp
        .issue(claims(&idp, "es"), Algorithm::ES256)
        .expect("signed");
    let rs = idp
        .issue(claims(&idp, "rs"), Algorithm::RS256)
        .expect("signed");
    verifier.verify_sync(&es).expect("accepted");
    verifier.verify_sync(&rs).expect("accepted");
    assert_eq!(verifier.token_cache().len(), 2);

    let keys = verifier.key_cache(idp.issuer()).expect("issuer");
    let version = keys.version();
    idp.rotate(Algorithm::EdDSA).expect("new key");
    keys.refresh().await.expect("refetched");
    assert!(keys.version() > version, "the key set changed");

    // Both entries survive the change: the first hit after it keeps the other entry.
    verifier.verify_sync(&es).expect("still accepted");
    assert_eq!(
        verifier.token_cache().len(),
        2,
        "the new key flushed the cache"
    );
    verifier.verify_sync(&rs).expect("still accepted");
    assert_eq!(verifier.token_cache().len(), 2);
}

#[tokio::test]
async fn a_removed_key_drops_only_the_verdicts_it_signed() {
    let clock = test_clock();
    let idp = start_idp_with_clock(&clock).await;
    let verifier = verifier(&idp, &clock, Arc::new(Denylist::new())).await;
    let es = idp
        .issue(claims(&idp, "es"), Algorithm::ES256)
        .expect("signed");
    let rs = idp
        .issue(claims(&idp, "rs"), Algorithm::RS256)
        .expect("signed");
    verifier.verify_sync(&es).expect("accepted");
    verifier.verify_sync(&rs).expect("accepted");

    let es_kid = idp.current_kid(Algorithm::ES256).expect("kid");
    assert!(idp.remove_key(&es_kid));
    let keys = verifier.key_cache(idp.issuer()).expect("issuer");
    keys.refresh().await.expect("refetched");
    assert!(keys.snapshot().get(&es_kid).is_none());

    // Its key is gone: the cached verdict is dropped and the token refused, as fresh.
    let refused = verifier.verify_sync(&es).expect_err("key removed");
    assert!(
        matches!(refused, AuthError::UnknownKeyId { .. }),
        "{refused:?}"
    );
    assert!(verifier.verify_token(&es).await.is_err());
    // The other entry was not touched.
    assert_eq!(verifier.token_cache().len(), 1);
    verifier.verify_sync(&rs).expect("still accepted");
    assert_eq!(verifier.token_cache().len(), 1);
}

#[tokio::test]
async fn a_revocation_change_rechecks_cached_verdicts_instead_of_flushing() {
    let clock = test_clock();
    let idp = start_idp_with_clock(&clock).await;
    let denylist = Arc::new(Denylist::new());
    let verifier = verifier(&idp, &clock, Arc::clone(&denylist)).await;
    let first = idp
        .issue(claims(&idp, "jti-1"), Algorithm::ES256)
        .expect("signed");
    let second = idp
        .issue(claims(&idp, "jti-2"), Algorithm::ES256)
        .expect("signed");
    verifier.verify_sync(&first).expect("accepted");
    verifier.verify_sync(&second).expect("accepted");
    assert_eq!(verifier.token_cache().len(), 2);

    // An unrelated revocation: both verdicts still serve, nothing was flushed.
    denylist.update(|entries| entries.add_token_id("someone-else", None));
    verifier.verify_sync(&first).expect("still accepted");
    assert_eq!(
        verifier.token_cache().len(),
        2,
        "a revocation flushed the cache"
    );

    // The first token revoked (until its exp): its cached verdict is refused at once, on
    // every path; the other still serves.
    let exp = Timestamp::from_unix_seconds(START + 3 * 3600);
    let version = denylist.update(|entries| entries.add_token_id("jti-1", Some(exp)));
    assert_eq!(denylist.version(), version);
    for outcome in [
        verifier.verify_sync(&first),
        verifier.verify_token(&first).await,
        verifier.verify(&Credentials::bearer(&first)).await,
    ] {
        let error = outcome.expect_err("revoked");
        assert_eq!(error.reason(), "revoked_token_id");
    }
    verifier.verify_sync(&second).expect("still accepted");
    assert_eq!(verifier.token_cache().len(), 2);

    // Lifted again: the same cached verdict serves.
    denylist.update(|entries| {
        assert!(entries.remove_token_id("jti-1"));
    });
    verifier.verify_sync(&first).expect("accepted again");
}

#[tokio::test]
async fn the_verifier_answers_ready_unless_it_must_fetch_a_key() {
    use http::{Request, Response, StatusCode};
    use tower::{ServiceExt, service_fn};
    use tower_auth::authenticate::AuthenticateLayer;
    use tower_layer::Layer;

    let clock = test_clock();
    let idp = start_idp_with_clock(&clock).await;
    let verifier = Arc::new(verifier(&idp, &clock, Arc::new(Denylist::new())).await);
    let known = idp
        .issue(claims(&idp, "known"), Algorithm::ES256)
        .expect("signed");
    // A key in the current set: ready on the first verification, and on the cache hit.
    assert!(verifier.verify(&Credentials::bearer(&known)).is_ready());
    assert!(verifier.verify(&Credentials::bearer(&known)).is_ready());
    assert!(verifier.verify(&Credentials::bearer(&known)).await.is_ok());

    // A key the IdP published after the set was fetched: the verifier must wait for a
    // refetch, so it answers pending, and the verdict comes after the fetch.
    idp.rotate(Algorithm::ES256).expect("new key");
    let fresh = idp
        .issue(claims(&idp, "fresh"), Algorithm::ES256)
        .expect("signed");
    let requests = idp.jwks_requests();
    let pending = verifier.verify(&Credentials::bearer(&fresh));
    assert!(!pending.is_ready());
    assert!(pending.await.is_ok());
    assert_eq!(idp.jwks_requests(), requests + 1);

    // Through the layer, the pending path (owned token, boxed future) gives the same.
    idp.rotate(Algorithm::ES256).expect("another key");
    clock.advance(60); // past the refetch cooldown
    let newest = idp
        .issue(claims(&idp, "newest"), Algorithm::ES256)
        .expect("signed");
    assert!(!verifier.verify(&Credentials::bearer(&newest)).is_ready());
    let service = AuthenticateLayer::new(verifier.clone()).layer(service_fn(
        |request: Request<()>| async move {
            let verified = request.extensions().get::<tower_auth::VerifiedPrincipal>();
            Ok::<_, std::convert::Infallible>(Response::new(verified.is_some()))
        },
    ));
    let request = Request::builder()
        .header("authorization", format!("Bearer {newest}"))
        .body(())
        .expect("request");
    let response = service.oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(*response.body());
}

/// A hit revalidates like a key lookup: with every request served from the token cache
/// and no refresher running, a key the IdP removed stops verifying once the set's fresh
/// lifetime ends (not at its maximum staleness, an hour later).
#[tokio::test]
async fn cached_hits_alone_revalidate_an_expired_key_set() {
    let clock = test_clock();
    let idp = start_idp_with_clock(&clock).await;
    let verifier = verifier(&idp, &clock, Arc::new(Denylist::new())).await;
    let token = idp
        .issue(claims(&idp, "hit"), Algorithm::ES256)
        .expect("signed");
    verifier.verify_token(&token).await.expect("accepted");
    let removed = idp.current_kid(Algorithm::ES256).expect("kid");
    idp.rotate(Algorithm::ES256).expect("rotate");
    assert!(idp.remove_key(&removed));
    let keys = verifier.key_cache(idp.issuer()).expect("issuer");
    let mut versions = keys.subscribe();

    // Fresh: a hit, and nothing fetched.
    clock.advance(299);
    assert!(verifier.verify_sync(&token).is_ok());
    assert_eq!(idp.jwks_requests(), 1);

    // Expired but servable: this hit still serves, and starts one refresh.
    clock.advance(1);
    assert!(verifier.verify_sync(&token).is_ok());
    tokio::time::timeout(std::time::Duration::from_secs(30), versions.changed())
        .await
        .expect("the hit started a refresh")
        .expect("cache alive");
    assert_eq!(idp.jwks_requests(), 2);

    // The key is gone from the set, so the cached verdict is dropped and refused.
    assert!(matches!(
        verifier.verify_sync(&token),
        Err(AuthError::UnknownKeyId { .. })
    ));
}
