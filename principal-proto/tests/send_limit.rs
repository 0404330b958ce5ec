//! The sending side's size limit: a Principal too large for the `x-principal-bin` value a
//! sender writes (4 KiB by default, under the 8 KiB of metadata a gRPC peer accepts) is
//! refused where its passport is made, in every form (unsigned, HMAC, Ed25519, reissued
//! for the next hop), and one just under the limit goes through and is accepted by a
//! receiver with default options.
#![allow(clippy::unwrap_used)]

mod common;

use common::{NOW, ed25519_ring, hmac_ring, options, peer};
use principal::{Actor, AgentId, Audience, Principal, Role, Scope, ScopeSet, Uuid};
use principal_proto::header::{
    DEFAULT_MAX_HEADER_LEN, HeaderLimit, MAX_HEADER_LEN, max_encoded_len,
};
use principal_proto::{
    DEFAULT_MAX_PASSPORT_BYTES, Passport, PassportError, PassportForm, RequestId, fixtures,
};

/// The reference Principal with `roles` extra roles, `scopes` extra scopes and a chain
/// of `actors` agents, in a passport for "orders".
fn passport(roles: usize, scopes: usize, actors: usize) -> Passport {
    let reference = fixtures::reference_principal(NOW).unwrap();
    let scope_set: ScopeSet = reference
        .scopes()
        .iter()
        .cloned()
        .chain((0..scopes).map(|i| Scope::new(format!("documents:folder-{i:04}:read")).unwrap()))
        .collect();
    // Agents of a platform that names its OAuth clients at length (the model allows 256 bytes).
    let delegation = (0..actors)
        .map(|i| {
            Actor::new(AgentId::new(Uuid::from_u128(0xa11ce + i as u128)).into())
                .with_client_id(format!("assistant-{i}-{}", "x".repeat(200)))
                .with_grant(scope_set.clone())
        })
        .collect();
    let principal: Principal = reference
        .to_builder()
        .roles((0..roles).map(|i| Role::new(format!("project-{i:04}-contributor")).unwrap()))
        .scopes(scope_set)
        .delegation(delegation)
        .build()
        .unwrap();
    Passport::new(
        principal,
        RequestId::new("0d9c7e3a-5b1f-4c2e-9a8d-7f6e5d4c3b2a").unwrap(),
        Audience::new("orders").unwrap(),
        NOW,
        NOW.add_seconds(60),
    )
    .unwrap()
}

/// Every sending form of `passport` under the default limit.
fn send_all(passport: &Passport) -> Vec<Result<String, PassportError>> {
    vec![
        passport.encode_header(),
        hmac_ring("h1", 1).sign_header(passport),
        ed25519_ring("e1").sign_header(passport),
    ]
}

fn assert_too_large(result: Result<String, PassportError>, what: &str) {
    match result {
        Err(PassportError::PrincipalTooLarge { len, max }) => {
            assert_eq!(max, DEFAULT_MAX_HEADER_LEN, "{what}");
            assert!(len > max, "{what}: {len}");
            let error = PassportError::PrincipalTooLarge { len, max };
            assert_eq!(error.reason(), "principal_too_large");
            let text = error.to_string();
            assert!(text.contains(&format!("{len} bytes")), "{text}");
            assert!(text.contains(&format!("limit of {max}")), "{text}");
        }
        other => panic!("{what}: expected PrincipalTooLarge, got {other:?}"),
    }
}

#[test]
fn the_default_sending_limit_is_under_half_the_grpc_metadata_default_and_receivers_accept_it() {
    // Half of gRPC's 8 KiB default: the rest is for the other headers of the call.
    const { assert!(DEFAULT_MAX_HEADER_LEN * 2 <= 8 * 1024) };
    const { assert!(MAX_HEADER_LEN <= 8 * 1024) };
    // A default receiver reads a longer value than a default sender writes, in either form.
    let receiver = max_encoded_len(PassportForm::max_len(&options()));
    assert!(receiver >= DEFAULT_MAX_HEADER_LEN, "{receiver}");
    // And an unsigned passport that fits the header fits the receiver's passport limit.
    const { assert!(DEFAULT_MAX_HEADER_LEN / 4 * 3 <= DEFAULT_MAX_PASSPORT_BYTES) };
}

#[test]
fn a_principal_too_large_is_refused_in_every_sending_form() {
    // Without its chain, the last one fits: the chain tips it over.
    assert!(ed25519_ring("e1").sign_header(&passport(80, 0, 0)).is_ok());
    for (what, large) in [
        ("many roles", passport(120, 0, 0)),
        ("many scopes", passport(0, 120, 0)),
        ("a deep chain", passport(80, 0, 4)),
    ] {
        for result in send_all(&large) {
            assert_too_large(result, what);
        }
        // The next hop's passport, re-signed, is refused just the same.
        let next = large
            .reissue_for(Audience::new("billing").unwrap(), NOW, 30)
            .unwrap();
        assert_too_large(ed25519_ring("orders-1").sign_header(&next), what);
    }
}

#[test]
fn one_just_under_the_limit_is_sent_and_accepted_and_one_more_role_is_not() {
    let ring = ed25519_ring("e1");
    // The most roles whose signed header fits the default limit.
    let fits = (0..200)
        .take_while(|roles| ring.sign_header(&passport(*roles, 0, 0)).is_ok())
        .last()
        .unwrap();
    let header = ring.sign_header(&passport(fits, 0, 0)).unwrap();
    assert!(header.len() <= DEFAULT_MAX_HEADER_LEN);
    // Just under: within one role's worth of the limit.
    assert!(
        header.len() > DEFAULT_MAX_HEADER_LEN - 40,
        "{}",
        header.len()
    );
    let received = ring
        .verifier()
        .verify_header(&header, &options(), NOW)
        .unwrap();
    assert_eq!(received, passport(fits, 0, 0));
    assert_too_large(ring.sign_header(&passport(fits + 1, 0, 0)), "one more role");

    // Unsigned, the same at its own boundary.
    let fits = (0..200)
        .take_while(|roles| passport(*roles, 0, 0).encode_header().is_ok())
        .last()
        .unwrap();
    let header = passport(fits, 0, 0).encode_header().unwrap();
    assert!(
        header.len() > DEFAULT_MAX_HEADER_LEN - 40,
        "{}",
        header.len()
    );
    let received = Passport::decode_unsigned_header(&header, &options(), NOW, peer()).unwrap();
    assert_eq!(received, passport(fits, 0, 0));
    assert_too_large(passport(fits + 1, 0, 0).encode_header(), "one more role");
}

#[test]
fn the_limit_is_configurable_at_exactly_the_header_length() {
    let large = passport(120, 0, 0);
    let ring = hmac_ring("h1", 1);
    let wider = HeaderLimit::new(MAX_HEADER_LEN).unwrap();
    let header = ring.sign_header_within(&large, wider).unwrap();
    // At exactly its length it is sent; one byte under, refused with both numbers.
    let exact = HeaderLimit::new(header.len()).unwrap();
    assert_eq!(ring.sign_header_within(&large, exact).unwrap(), header);
    let error = ring
        .sign_header_within(&large, HeaderLimit::new(header.len() - 1).unwrap())
        .unwrap_err();
    assert!(matches!(
        error,
        PassportError::PrincipalTooLarge { len, max } if len == header.len() && max == header.len() - 1
    ));
    let unsigned = large.encode_header_within(wider).unwrap();
    let exact = HeaderLimit::new(unsigned.len()).unwrap();
    assert_eq!(large.encode_header_within(exact).unwrap(), unsigned);
    assert!(
        large
            .encode_header_within(HeaderLimit::new(unsigned.len() - 1).unwrap())
            .is_err()
    );
}
