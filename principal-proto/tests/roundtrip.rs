//! Round trips: model -> proto -> bytes -> proto -> model is exact, and the
//! encoding is canonical (decode then encode gives the same bytes).
#![allow(clippy::unwrap_used)]

mod common;

use common::{NOW, any_times, peer, principal, request_id, valid_times};
use principal::{Audience, Principal};
use principal_proto::{Passport, PassportError, PassportForm, PassportVerifier, header, proto};
use proptest::prelude::*;
use prost::Message as _;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn principal_round_trips_exactly(principal in principal(any_times())) {
        let wire = proto::Principal::from(&principal);
        let bytes = wire.encode_to_vec();
        let decoded_wire = proto::Principal::decode(bytes.as_slice()).unwrap();
        prop_assert_eq!(&decoded_wire, &wire);
        let back = Principal::try_from(decoded_wire).unwrap();
        prop_assert_eq!(&back, &principal);
        // Canonical: the model gives the same bytes again.
        prop_assert_eq!(proto::Principal::from(&back).encode_to_vec(), bytes);
    }

    #[test]
    fn passport_round_trips_exactly(
        principal in principal(valid_times()),
        request_id in request_id(),
        lifetime in 1i64..=300,
        age in 0i64..=300,
    ) {
        let issued_at = NOW.add_seconds(-age.min(lifetime - 1));
        let passport = Passport::new(
            principal,
            request_id,
            Audience::new("orders").unwrap(),
            issued_at,
            issued_at.add_seconds(lifetime),
        )
        .unwrap();
        let options = common::options();

        let bytes = passport.encode();
        let decoded = Passport::decode_unsigned(&bytes, &options, NOW, peer()).unwrap();
        prop_assert_eq!(&decoded, &passport);
        prop_assert_eq!(decoded.encode(), bytes.clone());

        // Header form, unpadded as written and padded as some clients send it.
        let unpadded = passport.encode_header().unwrap();
        prop_assert_eq!(header::decode_header_value(&unpadded, 1 << 16).unwrap(), bytes.clone());
        let padding = (4 - unpadded.len() % 4) % 4;
        let padded = format!("{unpadded}{}", "=".repeat(padding));
        prop_assert_eq!(Passport::decode_unsigned_header(&padded, &options, NOW, peer()).unwrap(), passport.clone());

        // Every valid passport reads as unsigned, every envelope as signed.
        prop_assert_eq!(PassportForm::of(&bytes), PassportForm::Unsigned);

        // Signed, both algorithms.
        for ring in [common::hmac_ring("h1", 1), common::ed25519_ring("e1")] {
            let signed = ring.sign(&passport).unwrap();
            prop_assert_eq!(PassportForm::of(&signed), PassportForm::Signed);
            prop_assert!(signed.len() <= PassportForm::max_len(&options));
            prop_assert_eq!(&ring.verify(&signed, &options, NOW).unwrap(), &passport);
            let (_, key) = ring.verifier().verify_with_key(&signed, &options, NOW).unwrap();
            prop_assert_eq!(key.key_id(), ring.current_key_id());
            let signed_header = ring.sign_header(&passport).unwrap();
            prop_assert_eq!(ring.verifier().verify_header(&signed_header, &options, NOW).unwrap(), passport.clone());
        }
    }

    /// Within the delegation depth the options allow, chains round-trip;
    /// beyond it, they are refused.
    #[test]
    fn delegation_depth_follows_options(principal in principal(valid_times())) {
        let passport = Passport::new(
            principal.clone(),
            "req".parse().unwrap(),
            Audience::new("orders").unwrap(),
            NOW,
            NOW.add_seconds(60),
        )
        .unwrap();
        let depth = principal.delegation().len();
        let bytes = passport.encode();
        for max in 0..=4 {
            let options = common::options().with_max_delegation_depth(max).unwrap();
            let result = Passport::decode_unsigned(&bytes, &options, NOW, peer());
            if depth <= max {
                prop_assert!(result.is_ok());
            } else {
                prop_assert!(matches!(result, Err(PassportError::InvalidPrincipal(_))), "{result:?}");
            }
        }
    }
}

#[test]
fn verifier_only_side_round_trips() {
    // A service that only verifies holds the signer's public key.
    let ring = common::ed25519_ring("edge-1");
    let public = ring
        .verifier()
        .key(&common::kid("edge-1"))
        .unwrap()
        .ed25519_public_key()
        .unwrap()
        .to_vec();
    let verifier = PassportVerifier::new([principal_proto::PassportVerifyingKey::ed25519(
        common::kid("edge-1"),
        &public,
    )
    .unwrap()])
    .unwrap();
    let passport = common::reference();
    let signed = ring.sign(&passport).unwrap();
    assert_eq!(
        verifier.verify(&signed, &common::options(), NOW).unwrap(),
        passport
    );
}
