//! Minted internal JWTs verified by the existing JwtVerifier through discovery against the
//! issuer's JwksService on a loopback server: the Principal arrives exact; tokens for
//! another audience, of another `typ`, or with a chain deeper than the limit are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mint_fixture;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mint_fixture::*;
use principal::{Audience, ClaimError, PrincipalError, ScopeSet, Timestamp};
use serde_json::Value;
use tower_auth::AuthError;
use tower_auth::mint::SigningAlgorithm;

fn part(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

#[tokio::test]
async fn round_trip_keeps_the_principal_exact_for_both_algorithms() {
    for algorithm in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa] {
        let edge = start_edge(algorithm).await;
        let verifier = edge.verifier().await;
        let alice = alice();
        let token = edge
            .issuer
            .mint(&alice, &Audience::new(ORDERS).unwrap())
            .unwrap();

        let header = part(token.as_str(), 0);
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["alg"], algorithm.as_str());
        assert_eq!(header["kid"], edge.issuer.current_kid());
        let claims = part(token.as_str(), 1);
        assert_eq!(claims["iss"], edge.issuer.issuer().as_str());
        assert_eq!(claims["aud"], ORDERS, "exactly one audience, as a string");
        assert_eq!(claims["iat"], START);
        assert_eq!(claims["exp"], START + 300);
        assert_eq!(claims["scope"], "orders:read orders:write");
        assert_eq!(claims["act"]["sub"], AGENT);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22);

        let received = verifier.verify_token(token.as_str()).await.unwrap();
        assert_same_party(&alice, &received);
        assert!(received.is_delegated());
        assert_eq!(received.issuer(), edge.issuer.issuer());
        assert_eq!(received.audiences(), [Audience::new(ORDERS).unwrap()]);
        assert_eq!(received.expires_at(), token.expires_at());
        assert_eq!(received.token_id(), Some(token.jti()));
    }
}

#[tokio::test]
async fn narrowed_scopes_arrive_narrowed_and_each_token_has_its_own_jti() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let verifier = edge.verifier().await;
    let alice = alice();
    let orders = Audience::new(ORDERS).unwrap();
    let read = ScopeSet::parse("orders:read").unwrap();
    let token = edge.issuer.mint_narrowed(&alice, &orders, &read).unwrap();
    let received = verifier.verify_token(token.as_str()).await.unwrap();
    assert_eq!(received.scopes(), &read);
    assert!(!received.has_scope("orders:write"));
    assert_eq!(received.delegation()[0].grant(), Some(&read));
    let again = edge.issuer.mint(&alice, &orders).unwrap();
    assert_ne!(again.jti(), token.jti());
}

#[tokio::test]
async fn the_token_never_outlives_the_principal() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let verifier = edge.verifier().await;
    let soon = alice_with(|b| b.expires_at(Timestamp::from_unix_seconds(START + 42)));
    let token = edge
        .issuer
        .mint(&soon, &Audience::new(ORDERS).unwrap())
        .unwrap();
    assert_eq!(token.expires_at(), Timestamp::from_unix_seconds(START + 42));
    assert!(verifier.verify_token(token.as_str()).await.is_ok());
    // Past the Principal's expiry and the verifier's 30 s leeway: refused.
    edge.clock.advance(42 + 30);
    assert!(matches!(
        refusal(&verifier, token.as_str()).await,
        AuthError::Expired { .. }
    ));
}

#[tokio::test]
async fn a_token_replayed_to_another_audience_is_refused() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let verifier = edge.verifier().await;
    let for_billing = edge
        .issuer
        .mint(&alice(), &Audience::new("billing-api").unwrap())
        .unwrap();
    assert!(matches!(
        refusal(&verifier, for_billing.as_str()).await,
        AuthError::WrongAudience
    ));
}

#[tokio::test]
async fn a_typ_other_than_at_jwt_is_refused() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let verifier = edge.verifier().await;
    let kid = edge.issuer.current_kid();
    let claims = edge.claims_for(&alice(), ORDERS);
    // Control: the same hand-signed claims with `at+jwt` pass, so only `typ` decides.
    let good = edge
        .key
        .sign(&edge.key.header(&kid, Some("at+jwt")), &claims);
    assert!(verifier.verify_token(&good).await.is_ok());
    for typ in [Some("JWT"), Some("id_token+jwt"), None] {
        let token = edge.key.sign(&edge.key.header(&kid, typ), &claims);
        assert!(
            matches!(
                refusal(&verifier, &token).await,
                AuthError::WrongType { .. }
            ),
            "{typ:?}"
        );
    }
}

#[tokio::test]
async fn a_chain_deeper_than_the_limit_is_refused_at_verification() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let verifier = edge.verifier().await;
    let kid = edge.issuer.current_kid();
    // Signed with the issuer's own key, as a minter without the check would.
    let deep = edge.claims_for(&deep_principal(5), ORDERS);
    let token = edge.key.sign(&edge.key.header(&kid, Some("at+jwt")), &deep);
    assert!(matches!(
        refusal(&verifier, &token).await,
        AuthError::ClaimMapping(ClaimError::Principal(PrincipalError::DelegationTooDeep {
            depth: 5,
            max: 4
        }))
    ));
    // Control: at the limit it passes.
    let at_limit = edge.claims_for(&deep_principal(4), ORDERS);
    let token = edge
        .key
        .sign(&edge.key.header(&kid, Some("at+jwt")), &at_limit);
    assert!(verifier.verify_token(&token).await.is_ok());
}

#[tokio::test]
async fn a_token_signed_by_another_key_with_the_issuers_kid_is_refused() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let verifier = edge.verifier().await;
    let forger = Pkcs8Key::generate(SigningAlgorithm::Es256);
    let token = forger.sign(
        &forger.header(&edge.issuer.current_kid(), Some("at+jwt")),
        &edge.claims_for(&alice(), ORDERS),
    );
    assert!(matches!(
        refusal(&verifier, &token).await,
        AuthError::BadSignature
    ));
}
