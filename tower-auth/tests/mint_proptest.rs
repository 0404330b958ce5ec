//! Properties of minting: for any scope subset and any chain within the limit, the hop's
//! verifier rebuilds the same party with exactly the requested scopes; any set with a
//! scope outside the Principal's is refused; any chain past the limit is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, LazyLock};

use jsonwebtoken::Algorithm;
use principal::{
    Actor, Audience, ClaimMapping, HumanId, Issuer, Principal, Scope, ScopeSet, TestClock,
    Timestamp,
};
use proptest::prelude::*;
use tower_auth::jwks::{KeySet, KeySetPolicy};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
use tower_auth::token_cache::TokenCacheConfig;

const START: i64 = 1_700_000_000;
const SCOPES: [&str; 6] = ["a:read", "a:write", "b:read", "b:write", "c", "d"];

struct Setup {
    issuers: Vec<InternalIssuer>,
    verifiers: Vec<JwtVerifier>,
}

/// One ES256 and one EdDSA issuer; a verifier for each with its JWKS as a static set
/// (the same documents the JwksService serves), every signature checked.
static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let clock = TestClock::new(Timestamp::from_unix_seconds(START));
    let mut issuers = Vec::new();
    let mut verifiers = Vec::new();
    for (i, algorithm) in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa]
        .into_iter()
        .enumerate()
    {
        let issuer = InternalIssuer::builder(
            Issuer::new(format!("https://edge{i}.internal")).unwrap(),
            SigningKey::generate(algorithm).unwrap(),
        )
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
        let jwks = serde_json::to_vec(&issuer.jwks()).unwrap();
        let keys = KeySet::from_jwks_json(&jwks, &KeySetPolicy::default())
            .unwrap()
            .set;
        let verifier = JwtVerifier::builder()
            .issuer(
                IssuerConfig::builder(issuer.issuer().clone())
                    .audience(Audience::new("orders-api").unwrap())
                    .static_keys(keys)
                    .algorithms([Algorithm::ES256, Algorithm::EdDSA])
                    .require_typ("at+jwt")
                    .claim_mapping(ClaimMapping::baton())
                    .build()
                    .unwrap(),
            )
            .clock(Arc::new(clock.clone()))
            .token_cache(TokenCacheConfig::disabled())
            .build()
            .unwrap();
        issuers.push(issuer);
        verifiers.push(verifier);
    }
    Setup { issuers, verifiers }
});

fn set(mask: u8) -> ScopeSet {
    let mut set = ScopeSet::new();
    for (i, scope) in SCOPES.iter().enumerate() {
        if mask & (1 << i) != 0 {
            set.insert(Scope::new(*scope).unwrap());
        }
    }
    set
}

fn principal(scopes: u8, depth: usize) -> Principal {
    let idp = Issuer::new("https://idp.example.com").unwrap();
    let actors = (0..depth)
        .map(|i| {
            Actor::new(
                format!("am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a{i:02x}")
                    .parse()
                    .unwrap(),
            )
        })
        .collect();
    Principal::builder(HumanId::derive(&idp, "alice").into(), idp, "alice")
        .scopes(set(scopes))
        .expires_at(Timestamp::from_unix_seconds(START + 3600))
        .max_delegation_depth(principal::limits::HARD_MAX_DELEGATION_DEPTH)
        .delegation(actors)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_narrowing_round_trips_exactly(
        which in 0usize..2, held in 0u8..64, requested in 0u8..64, depth in 0usize..=4,
    ) {
        let setup = &*SETUP;
        let principal = principal(held, depth);
        let orders = Audience::new("orders-api").unwrap();
        let requested = set(requested & held);
        let token = setup.issuers[which].mint_narrowed(&principal, &orders, &requested).unwrap();
        let received = setup.verifiers[which].verify_sync(token.as_str()).unwrap();
        prop_assert_eq!(received.id(), principal.id());
        prop_assert_eq!(received.subject(), principal.subject());
        prop_assert_eq!(received.kind(), principal.kind());
        prop_assert_eq!(received.scopes(), &requested);
        prop_assert_eq!(received.delegation().len(), depth);
        for (got, sent) in received.delegation().iter().zip(principal.delegation()) {
            prop_assert_eq!(got.id(), sent.id());
            prop_assert_eq!(got.grant(), Some(&requested));
        }
        // The other issuer's verifier never accepts it.
        prop_assert!(setup.verifiers[1 - which].verify_sync(token.as_str()).is_err());
    }

    #[test]
    fn any_widening_or_too_deep_chain_is_refused(
        which in 0usize..2, held in 0u8..63, extra in 0usize..6, depth in 5usize..=8,
    ) {
        let setup = &*SETUP;
        let orders = Audience::new("orders-api").unwrap();
        // A scope the Principal does not hold, with anything it does.
        let missing = (0..6).map(|i| (extra + i) % 6).find(|i| held & (1 << i) == 0).unwrap();
        let wider = set(held | (1 << missing));
        let err = setup.issuers[which].mint_narrowed(&principal(held, 1), &orders, &wider).unwrap_err();
        prop_assert_eq!(err.reason(), "scope_widening");
        let err = setup.issuers[which].mint(&principal(held, depth), &orders).unwrap_err();
        prop_assert_eq!(err.reason(), "delegation_too_deep");
    }
}
