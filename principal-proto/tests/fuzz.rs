//! Hostile input to every decoder: arbitrary bytes and strings, mutations of
//! valid encodings, and arbitrary wire messages. No decoder panics; nothing
//! verifies that was not signed; whatever decodes re-encodes consistently.
#![allow(clippy::unwrap_used)]

mod common;

use common::{NOW, options, peer, reference};
use principal::Principal;
use principal_proto::header::decode_header_value;
use principal_proto::{Passport, PassportForm, PassportKeyRing, proto};
use proptest::prelude::*;
use prost::Message as _;

fn rings() -> [PassportKeyRing; 2] {
    [common::hmac_ring("k1", 1), common::ed25519_ring("e1")]
}

/// Whatever decodes must re-encode to something that decodes to the same, and
/// whatever decodes unsigned is classified unsigned (so a verifier that routes by
/// form sends it to the path that needs a peer).
fn decodes_consistently(bytes: &[u8]) {
    if let Ok(passport) = Passport::decode_unsigned(bytes, &options(), NOW, peer()) {
        assert_eq!(PassportForm::of(bytes), PassportForm::Unsigned);
        let again = Passport::decode_unsigned(&passport.encode(), &options(), NOW, peer()).unwrap();
        assert_eq!(again, passport);
    }
}

/// A mutation of a byte string.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { index: usize, mask: u8 },
    Set { index: usize, value: u8 },
    Insert { index: usize, value: u8 },
    Remove { index: usize },
    Truncate { len: usize },
    Append { bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(index, mask)| Mutation::Flip { index, mask }),
        (any::<usize>(), any::<u8>()).prop_map(|(index, value)| Mutation::Set { index, value }),
        (any::<usize>(), any::<u8>()).prop_map(|(index, value)| Mutation::Insert { index, value }),
        any::<usize>().prop_map(|index| Mutation::Remove { index }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        prop::collection::vec(any::<u8>(), 1..8).prop_map(|bytes| Mutation::Append { bytes }),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    match *mutation {
        Mutation::Flip { index, mask } => bytes[index % len] ^= mask,
        Mutation::Set { index, value } => bytes[index % len] = value,
        Mutation::Insert { index, value } => bytes.insert(index % (len + 1), value),
        Mutation::Remove { index } => {
            bytes.remove(index % len);
        }
        Mutation::Truncate { len: keep } => bytes.truncate(keep % len),
        Mutation::Append { bytes: ref extra } => bytes.extend_from_slice(extra),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_bytes_never_panic_and_never_verify(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        decodes_consistently(&bytes);
        for ring in rings() {
            prop_assert!(ring.verify(&bytes, &options(), NOW).is_err());
            prop_assert!(ring.verifier().verify_header(&bytes, &options(), NOW).is_err());
        }
        let _ = Passport::decode_unsigned_header(&bytes, &options(), NOW, peer());
        if let Ok(decoded) = decode_header_value(&bytes, 1024) {
            decodes_consistently(&decoded);
        }
        if let Ok(wire) = proto::Principal::decode(bytes.as_slice()) {
            let _ = Principal::try_from(wire);
        }
    }

    #[test]
    fn arbitrary_header_text_never_panics_and_never_verifies(text in "[A-Za-z0-9+/=_ -]{0,400}") {
        for ring in rings() {
            prop_assert!(ring.verifier().verify_header(&text, &options(), NOW).is_err());
        }
        if let Ok(bytes) = decode_header_value(&text, 1024) {
            decodes_consistently(&bytes);
        }
    }

    #[test]
    fn mutated_signed_passports_never_verify(mutations in prop::collection::vec(mutation(), 1..4)) {
        let passport = reference();
        for ring in rings() {
            let signed = ring.sign(&passport).unwrap();
            let mut tampered = signed.clone();
            for mutation in &mutations {
                if tampered.is_empty() {
                    break;
                }
                apply(&mut tampered, mutation);
            }
            let result = ring.verify(&tampered, &options(), NOW);
            if tampered == signed {
                prop_assert!(result.is_ok());
            } else if let Ok(verified) = result {
                // Only a change outside every signed field could still verify
                // (an appended unknown field of the envelope): the content must
                // then be exactly what was signed.
                let original = proto::SignedPassport::decode(signed.as_slice()).unwrap();
                let received = proto::SignedPassport::decode(tampered.as_slice()).unwrap();
                prop_assert_eq!(received, original);
                prop_assert_eq!(verified, passport.clone());
            }
        }
    }

    #[test]
    fn mutated_passports_never_panic(mutations in prop::collection::vec(mutation(), 1..4)) {
        let mut bytes = reference().encode();
        for mutation in &mutations {
            if bytes.is_empty() {
                break;
            }
            apply(&mut bytes, mutation);
        }
        decodes_consistently(&bytes);
    }

    /// Arbitrary wire messages, built field by field, reach the checks behind
    /// the protobuf layer.
    #[test]
    fn arbitrary_wire_passports_never_panic(
        kind in 0usize..4,
        uuid in prop::collection::vec(any::<u8>(), 0..20),
        slug in "[a-z0-9 -]{0,8}",
        strings in prop::collection::vec("[ -~\u{0}\u{7f}é]{0,6}", 0..8),
        times in prop::collection::vec(prop_oneof![any::<i64>(), NOW.as_unix_seconds() - 100..NOW.as_unix_seconds() + 100], 5),
        actors in 0usize..6,
        may_act in prop::option::of("[{}\\[\\]:,\"a-z0-9 ]{0,12}"),
    ) {
        use proto::principal_id::Kind;
        let id = proto::PrincipalId {
            kind: match kind {
                0 => Some(Kind::Human(uuid)),
                1 => Some(Kind::Agent(uuid)),
                2 => Some(Kind::Service(slug)),
                _ => None,
            },
        };
        let pick = |i: usize| strings.get(i).cloned().unwrap_or_default();
        let principal = proto::Principal {
            id: Some(id.clone()),
            issuer: pick(0),
            subject: pick(1),
            tenant: strings.get(2).cloned(),
            roles: strings.clone(),
            scopes: strings.clone(),
            audiences: strings.iter().take(2).cloned().collect(),
            auth: Some(proto::AuthContext {
                amr: strings.clone(),
                acr: strings.get(3).cloned(),
                auth_time_offset: Some(times[0]),
                client_id: strings.get(4).cloned(),
            }),
            issued_at_offset: Some(times[1]),
            expires_at: times[2],
            not_before_offset: None,
            token_id_form: strings.get(5).cloned().map(proto::principal::TokenIdForm::TokenId),
            attributes: strings
                .iter()
                .map(|s| proto::Attribute { key: s.clone(), value: s.clone() })
                .collect(),
            delegation: (0..actors)
                .map(|n| proto::Actor {
                    id: Some(id.clone()),
                    issuer: strings.get(n).cloned(),
                    subject: None,
                    client_id: None,
                    grant: Some(proto::ScopeGrant { extra_scopes: strings.clone() }),
                })
                .collect(),
            session_id_form: None,
            may_act_json: may_act,
        };
        let wire = proto::Passport {
            principal: Some(principal.clone()),
            request_id: pick(6),
            issued_at: times[3],
            lifetime: times[4].wrapping_sub(NOW.as_unix_seconds()),
            audience: "orders".into(),
            request_id_uuid: Vec::new(),
        };
        decodes_consistently(&wire.encode_to_vec());
        let _ = Principal::try_from(principal);
    }
}
