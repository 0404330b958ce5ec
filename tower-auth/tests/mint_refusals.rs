//! Minting refuses what would break the Principal's invariants: wider scopes, a chain
//! deeper than the limit, an expired or not-yet-valid Principal. And the issuer's
//! settings are bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mint_fixture;

use std::time::Duration;

use mint_fixture::*;
use principal::{Audience, Issuer, ScopeSet, Timestamp};
use tower_auth::mint::{
    InternalIssuer, InternalIssuerBuilder, MintError, SigningAlgorithm, SigningKey,
};

fn orders() -> Audience {
    Audience::new(ORDERS).unwrap()
}

#[tokio::test]
async fn widening_scopes_is_refused_and_signs_nothing() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let alice = alice();
    // `profile` is alice's own scope but not granted to her agent: not effective.
    for wider in [
        "profile",
        "orders:read admin",
        "orders:read orders:write profile",
    ] {
        let err = edge
            .issuer
            .mint_narrowed(&alice, &orders(), &ScopeSet::parse(wider).unwrap())
            .unwrap_err();
        assert_eq!(err.reason(), "scope_widening", "{wider}");
    }
    assert_eq!(edge.issuer.tokens_minted(), 0);
    // Control: the same set, or a subset, is minted.
    let same = ScopeSet::parse("orders:read orders:write").unwrap();
    assert!(edge.issuer.mint_narrowed(&alice, &orders(), &same).is_ok());
}

#[tokio::test]
async fn a_chain_deeper_than_the_limit_is_refused_at_minting() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    assert_eq!(
        edge.issuer.mint(&deep_principal(5), &orders()).unwrap_err(),
        MintError::DelegationTooDeep { depth: 5, max: 4 }
    );
    assert!(edge.issuer.mint(&deep_principal(4), &orders()).is_ok());

    let strict = start_edge_with(SigningAlgorithm::EdDsa, |b| b.max_delegation_depth(1)).await;
    assert_eq!(
        strict.issuer.mint(&alice(), &orders()).map(drop),
        Ok(()),
        "one actor is within a limit of 1"
    );
    assert_eq!(
        strict
            .issuer
            .mint(&deep_principal(2), &orders())
            .unwrap_err()
            .reason(),
        "delegation_too_deep"
    );
}

#[tokio::test]
async fn an_expired_or_not_yet_valid_principal_is_refused() {
    let edge = start_edge(SigningAlgorithm::Es256).await;
    let alice = alice();
    edge.clock.set(Timestamp::from_unix_seconds(START + 3599));
    assert!(edge.issuer.mint(&alice, &orders()).is_ok());
    edge.clock.set(Timestamp::from_unix_seconds(START + 3600));
    assert_eq!(
        edge.issuer.mint(&alice, &orders()).unwrap_err(),
        MintError::PrincipalExpired {
            expires_at: Timestamp::from_unix_seconds(START + 3600),
            now: Timestamp::from_unix_seconds(START + 3600),
        }
    );

    edge.clock.set(Timestamp::from_unix_seconds(START));
    let later = alice_with(|b| b.not_before(Timestamp::from_unix_seconds(START + 10)));
    assert_eq!(
        edge.issuer.mint(&later, &orders()).unwrap_err().reason(),
        "principal_not_yet_valid"
    );
}

#[test]
fn settings_are_bounded() {
    let issuer = Issuer::new("https://edge.internal").unwrap();
    let build = |f: fn(InternalIssuerBuilder) -> InternalIssuerBuilder| {
        f(InternalIssuer::builder(
            issuer.clone(),
            SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
        ))
        .build()
        .map(drop)
        .map_err(|e: tower_auth::mint::MintConfigError| e.reason())
    };
    assert_eq!(
        build(|b| b.lifetime(Duration::from_secs(901))),
        Err("lifetime_out_of_range")
    );
    assert_eq!(
        build(|b| b.lifetime(Duration::ZERO)),
        Err("lifetime_out_of_range")
    );
    assert_eq!(
        build(|b| b.leeway(Duration::from_secs(301))),
        Err("leeway_too_large")
    );
    assert_eq!(
        build(|b| b.max_delegation_depth(9)),
        Err("depth_above_hard_cap")
    );
    assert_eq!(
        build(|b| b.jwks_max_age(Duration::from_secs(3601))),
        Err("max_age_too_large")
    );
    assert_eq!(build(|b| b.lifetime(Duration::from_secs(900))), Ok(()));

    // Issuers the verifiers' discovery would refuse are refused here.
    for bad in [
        "http://edge.internal",
        "edge",
        "https://user:pw@edge.internal",
        "https://edge.internal?x=1",
    ] {
        let result = InternalIssuer::builder(
            Issuer::new(bad).unwrap(),
            SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
        )
        .build();
        assert_eq!(
            result.unwrap_err().reason(),
            "issuer_not_discoverable",
            "{bad}"
        );
    }
    for good in [
        "https://edge.internal/mint",
        "http://127.0.0.1:8080",
        "http://localhost",
    ] {
        assert!(
            InternalIssuer::builder(
                Issuer::new(good).unwrap(),
                SigningKey::generate(SigningAlgorithm::EdDsa).unwrap(),
            )
            .build()
            .is_ok(),
            "{good}"
        );
    }
}

#[test]
fn secrets_are_not_in_debug_output() {
    let key = Pkcs8Key::generate(SigningAlgorithm::Es256);
    let signing = key.signing_key();
    let issuer = InternalIssuer::builder(Issuer::new("https://edge.internal").unwrap(), signing)
        .build()
        .unwrap();
    let token = issuer
        .mint(
            &alice_with(|b| b.expires_at(Timestamp::from_unix_seconds(i64::MAX / 2))),
            &orders(),
        )
        .unwrap();
    let debug = format!("{issuer:?} {token:?} {:?}", key.signing_key());
    assert!(debug.contains("[redacted]"));
    assert!(!debug.contains(token.as_str()));
    assert!(!debug.contains(token.as_str().split('.').nth(2).unwrap()));
    assert!(!debug.contains("\"d\""));
}
