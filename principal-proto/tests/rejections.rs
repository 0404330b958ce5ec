//! Every rejection path, each asserting its specific error variant.
#![allow(clippy::unwrap_used)]

mod common;

use aws_lc_rs::hmac;
use common::{NOW, hmac_ring, kid, options, peer, reference};
use principal::{Audience, PrincipalError, Timestamp};
use principal_proto::header::{decode_header_value, encode_header_value, max_encoded_len};
use principal_proto::{
    DEFAULT_MAX_PASSPORT_BYTES, Passport, PassportError, PassportKeyRing, PassportSigningKey,
    PassportVerifier, PassportVerifyingKey, SIGNED_ENVELOPE_OVERHEAD, SignatureAlgorithm, proto,
};
use prost::Message as _;

/// A change made to a wire message.
type Tamper<T> = fn(&mut T);

/// The reference passport's wire form, to tamper with.
fn wire() -> proto::Passport {
    proto::Passport::from(&reference())
}

fn decode_wire(wire: &proto::Passport) -> Result<Passport, PassportError> {
    Passport::decode_unsigned(&wire.encode_to_vec(), &options(), NOW, peer())
}

fn principal_mut(wire: &mut proto::Passport) -> &mut proto::Principal {
    wire.principal.as_mut().unwrap()
}

fn envelope(signed: &[u8]) -> proto::SignedPassport {
    proto::SignedPassport::decode(signed).unwrap()
}

// ---------------------------------------------------------------------------------------
// Size

#[test]
fn oversized_passport_is_refused_before_decoding() {
    let bytes = vec![0u8; DEFAULT_MAX_PASSPORT_BYTES + 1];
    let error = Passport::decode_unsigned(&bytes, &options(), NOW, peer()).unwrap_err();
    assert!(matches!(
        error,
        PassportError::Oversized { what: "passport", len, max: DEFAULT_MAX_PASSPORT_BYTES }
            if len == DEFAULT_MAX_PASSPORT_BYTES + 1
    ));
    assert_eq!(error.reason(), "oversized");

    // A real passport over a tighter limit.
    let tight = options().with_max_bytes(64).unwrap();
    assert!(matches!(
        Passport::decode_unsigned(&reference().encode(), &tight, NOW, peer()),
        Err(PassportError::Oversized {
            what: "passport",
            ..
        })
    ));
}

#[test]
fn oversized_signed_passport_is_refused_before_decoding() {
    let max = DEFAULT_MAX_PASSPORT_BYTES + SIGNED_ENVELOPE_OVERHEAD;
    let ring = hmac_ring("k1", 1);
    let error = ring
        .verify(&vec![0u8; max + 1], &options(), NOW)
        .unwrap_err();
    assert!(matches!(
        error,
        PassportError::Oversized {
            what: "signed passport",
            ..
        }
    ));

    // A signed passport whose inner passport is over the limit, though the
    // envelope fits: refused by the inner check, after the signature.
    let tight = options().with_max_bytes(64).unwrap();
    let signed = ring.sign(&reference()).unwrap();
    assert!(signed.len() > 64 + SIGNED_ENVELOPE_OVERHEAD);
    assert!(matches!(
        ring.verify(&signed, &tight, NOW),
        Err(PassportError::Oversized {
            what: "signed passport",
            ..
        })
    ));
}

#[test]
fn oversized_header_is_refused_before_decoding() {
    let long = "A".repeat(max_encoded_len(DEFAULT_MAX_PASSPORT_BYTES) + 4);
    assert!(matches!(
        Passport::decode_unsigned_header(&long, &options(), NOW, peer()),
        Err(PassportError::Oversized {
            what: "header value",
            ..
        })
    ));
    let long_signed =
        "A".repeat(max_encoded_len(DEFAULT_MAX_PASSPORT_BYTES + SIGNED_ENVELOPE_OVERHEAD) + 4);
    assert!(matches!(
        hmac_ring("k1", 1)
            .verifier()
            .verify_header(&long_signed, &options(), NOW),
        Err(PassportError::Oversized {
            what: "header value",
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------
// Base64

#[test]
fn padded_and_unpadded_headers_are_both_accepted() {
    for bytes in [&b""[..], b"a", b"ab", b"abc", b"abcd", b"abcde"] {
        let unpadded = encode_header_value(bytes);
        assert!(!unpadded.contains('='));
        let padded = format!("{unpadded}{}", "=".repeat((4 - unpadded.len() % 4) % 4));
        assert_eq!(decode_header_value(&unpadded, 16).unwrap(), bytes);
        assert_eq!(decode_header_value(&padded, 16).unwrap(), bytes);
        assert_eq!(decode_header_value(padded.as_bytes(), 16).unwrap(), bytes);
    }
}

#[test]
fn bad_base64_is_refused() {
    for bad in [
        "Zm9v!",      // not in the alphabet
        "Zm9v_-8",    // URL-safe alphabet
        " Zm9v",      // leading whitespace
        "Zm9v\n",     // trailing newline
        "Zm9v=",      // padding where none can be
        "Zg=",        // incomplete padding
        "Zm9vY",      // a single leftover character
        "Zh",         // non-canonical trailing bits
        "Zm=9v",      // padding in the middle
        "Zm9v\u{e9}", // non-ASCII
    ] {
        let error = decode_header_value(bad, 64).unwrap_err();
        assert!(
            matches!(error, PassportError::Base64(_)),
            "{bad:?}: {error:?}"
        );
        assert_eq!(error.reason(), "bad_base64");
    }
    assert!(matches!(
        Passport::decode_unsigned_header("not base64!", &options(), NOW, peer()),
        Err(PassportError::Base64(_))
    ));
    assert!(matches!(
        hmac_ring("k1", 1)
            .verifier()
            .verify_header("%%%%", &options(), NOW),
        Err(PassportError::Base64(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Malformed protobuf

#[test]
fn truncated_passport_is_malformed() {
    let bytes = reference().encode();
    // Every strict prefix that cuts a field short is refused; prefixes that
    // end between fields decode to a passport missing required parts.
    for len in 0..bytes.len() {
        let result = Passport::decode_unsigned(&bytes[..len], &options(), NOW, peer());
        assert!(result.is_err(), "prefix of {len} bytes accepted");
    }
    assert!(matches!(
        Passport::decode_unsigned(&bytes[..bytes.len() - 1], &options(), NOW, peer()),
        Err(PassportError::Malformed {
            message: "Passport",
            ..
        })
    ));
}

#[test]
fn truncated_signed_passport_is_refused() {
    let ring = hmac_ring("k1", 1);
    let signed = ring.sign(&reference()).unwrap();
    for len in 0..signed.len() {
        assert!(
            ring.verify(&signed[..len], &options(), NOW).is_err(),
            "prefix of {len} bytes accepted"
        );
    }
    assert!(matches!(
        ring.verify(&signed[..signed.len() - 1], &options(), NOW),
        Err(PassportError::Malformed {
            message: "SignedPassport",
            ..
        })
    ));
}

#[test]
fn wrong_wire_type_and_invalid_utf8_are_malformed() {
    // Field 2 (request_id, a string) sent as a varint.
    assert!(matches!(
        Passport::decode_unsigned(&[0x10, 0x01], &options(), NOW, peer()),
        Err(PassportError::Malformed { .. })
    ));
    // Field 2 as a string of invalid UTF-8.
    assert!(matches!(
        Passport::decode_unsigned(&[0x12, 0x02, 0xff, 0xfe], &options(), NOW, peer()),
        Err(PassportError::Malformed { .. })
    ));
    // A length prefix beyond the end.
    assert!(matches!(
        Passport::decode_unsigned(&[0x0a, 0x7f, 0x00], &options(), NOW, peer()),
        Err(PassportError::Malformed { .. })
    ));
    let error = Passport::decode_unsigned(&[0xff; 12], &options(), NOW, peer()).unwrap_err();
    assert!(matches!(error, PassportError::Malformed { .. }));
    assert_eq!(error.reason(), "malformed");
}

#[test]
fn singular_field_twice_is_malformed() {
    // Protobuf would let the second `audience` win; a passport carrying two
    // audiences is refused instead, so no reader can be fooled by the other.
    let mut bytes = reference().encode();
    bytes.extend_from_slice(&[0x2a, 0x07]);
    bytes.extend_from_slice(b"billing");
    let error = Passport::decode_unsigned(&bytes, &options(), NOW, peer()).unwrap_err();
    assert!(
        matches!(
            error,
            PassportError::Malformed {
                message: "Passport",
                ..
            }
        ),
        "{error:?}"
    );

    // The same in the envelope: a second key id.
    let ring = hmac_ring("k1", 1);
    let mut signed = ring.sign(&reference()).unwrap();
    signed.extend_from_slice(&[0x12, 0x02, b'k', b'2']);
    assert!(matches!(
        ring.verify(&signed, &options(), NOW),
        Err(PassportError::Malformed {
            message: "SignedPassport",
            ..
        })
    ));
}

#[test]
fn invalid_utf8_inside_a_list_is_malformed() {
    let mut wire = wire();
    principal_mut(&mut wire).roles = vec!["placeholder".into()];
    let mut bytes = wire.encode_to_vec();
    let at = bytes.windows(11).position(|w| w == b"placeholder").unwrap();
    bytes[at] = 0xff;
    assert!(matches!(
        Passport::decode_unsigned(&bytes, &options(), NOW, peer()),
        Err(PassportError::Malformed { .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Passport fields

#[test]
fn missing_principal_is_refused() {
    let mut wire = wire();
    wire.principal = None;
    let error = decode_wire(&wire).unwrap_err();
    assert!(matches!(
        error,
        PassportError::MissingField {
            field: "Passport.principal"
        }
    ));
    assert_eq!(error.reason(), "missing_field");
}

#[test]
fn missing_ids_are_refused() {
    let mut wire = wire();
    principal_mut(&mut wire).id = None;
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::MissingField {
            field: "Principal.id"
        })
    ));

    let mut wire = self::wire();
    principal_mut(&mut wire).delegation[0].id = None;
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::MissingField { field: "Actor.id" })
    ));
}

/// The uuid bytes of a human or agent id.
fn uuid_mut(id: &mut proto::PrincipalId) -> &mut Vec<u8> {
    use proto::principal_id::Kind;
    match id.kind.as_mut().unwrap() {
        Kind::Human(uuid) | Kind::Agent(uuid) => uuid,
        Kind::Service(_) => panic!("not a uuid id"),
    }
}

/// `key` (a one-byte key), the length and `payload`: one length-delimited field.
fn field(key: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![key];
    prost::encoding::encode_varint(payload.len() as u64, &mut bytes);
    bytes.extend_from_slice(payload);
    bytes
}

/// The reference passport with `extra` appended to its Principal's id
/// (a second member of the id's oneof, which the prost struct cannot hold).
fn with_extra_in_id(extra: &[u8]) -> Vec<u8> {
    let mut wire = wire();
    let mut principal = wire.principal.take().unwrap();
    let mut id = principal.id.take().unwrap().encode_to_vec();
    id.extend_from_slice(extra);
    let mut principal = principal.encode_to_vec();
    principal.extend(field(0x0a, &id));
    let mut passport = wire.encode_to_vec();
    passport.extend(field(0x0a, &principal));
    passport
}

/// The reference passport with `extra` appended to its Principal.
fn with_extra(extra: &[u8]) -> Vec<u8> {
    let mut wire = wire();
    let mut principal = wire.principal.take().unwrap().encode_to_vec();
    principal.extend_from_slice(extra);
    let mut passport = wire.encode_to_vec();
    passport.extend(field(0x0a, &principal));
    passport
}

fn assert_oneof_conflict(bytes: &[u8]) {
    // prost keeps the last member; Baton refuses.
    assert!(proto::Passport::decode(bytes).is_ok());
    let error = Passport::decode_unsigned(bytes, &options(), NOW, peer()).unwrap_err();
    assert!(
        matches!(
            error,
            PassportError::Malformed {
                message: "Passport",
                detail: "a oneof has more than one member set"
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.reason(), "malformed");
}

#[test]
fn id_with_two_kinds_is_refused() {
    // The reference subject is a human: add an agent, a service, a second human.
    assert_oneof_conflict(&with_extra_in_id(&field(0x12, &[7; 16])));
    assert_oneof_conflict(&with_extra_in_id(&field(0x1a, b"billing")));
    assert_oneof_conflict(&with_extra_in_id(&field(0x0a, &[7; 16])));
    // The untouched helper output decodes: the conflict is what is refused.
    assert!(Passport::decode_unsigned(&with_extra_in_id(&[]), &options(), NOW, peer()).is_ok());
}

#[test]
fn malformed_ids_are_refused() {
    use proto::principal_id::Kind;
    const NO_KIND: &str = "has no kind: none of human, agent, service is set";
    let cases: [(&str, Tamper<proto::PrincipalId>); 5] = [
        (NO_KIND, |id| *id = proto::PrincipalId::default()),
        ("uuid is not 16 bytes", |id| uuid_mut(id).truncate(15)),
        ("uuid is not 16 bytes", |id| uuid_mut(id).push(0)),
        ("uuid is not 16 bytes", |id| {
            id.kind = Some(Kind::Human(Vec::new()))
        }),
        ("uuid is not 16 bytes", |id| {
            let mut uuid = std::mem::take(uuid_mut(id));
            uuid.pop();
            id.kind = Some(Kind::Agent(uuid));
        }),
    ];
    for (expected, tamper) in cases {
        let mut wire = wire();
        tamper(principal_mut(&mut wire).id.as_mut().unwrap());
        let error = decode_wire(&wire).unwrap_err();
        assert!(
            matches!(error, PassportError::InvalidField { field: "Principal.id", reason } if reason == expected),
            "{expected}: {error:?}"
        );
        assert_eq!(error.reason(), "invalid_field");
    }
    // A service id with an invalid slug is refused by the model's parser.
    let mut wire = wire();
    principal_mut(&mut wire).id = Some(proto::PrincipalId {
        kind: Some(Kind::Service("Not A Slug".into())),
    });
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::InvalidPrincipal(_))
    ));
}

#[test]
fn unsorted_or_duplicate_sets_are_refused() {
    let cases: [(&str, Tamper<proto::Principal>); 5] = [
        ("Principal.roles", |p| p.roles.reverse()),
        ("Principal.scopes", |p| {
            let first = p.scopes[0].clone();
            p.scopes.insert(0, first);
        }),
        ("Principal.attributes", |p| p.attributes.swap(0, 1)),
        ("Principal.audiences", |p| {
            let first = p.audiences[0].clone();
            p.audiences.push(first);
        }),
        ("ScopeGrant.extra_scopes", |p| {
            p.delegation[0].grant.as_mut().unwrap().extra_scopes = vec!["zz".into(), "aa".into()];
        }),
    ];
    for (field, tamper) in cases {
        let mut wire = wire();
        tamper(principal_mut(&mut wire));
        let error = decode_wire(&wire).unwrap_err();
        assert!(
            matches!(error, PassportError::InvalidField { field: f, .. } if f == field),
            "{field}: {error:?}"
        );
    }
}

#[test]
fn grant_repeating_an_effective_scope_is_refused() {
    let mut wire = wire();
    let principal = principal_mut(&mut wire);
    let effective = principal.scopes[0].clone();
    principal.delegation[0].grant.as_mut().unwrap().extra_scopes = vec![effective];
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::InvalidField {
            field: "ScopeGrant.extra_scopes",
            ..
        })
    ));
}

#[test]
fn id_both_as_text_and_uuid_is_refused() {
    use proto::principal::{SessionIdForm, TokenIdForm};
    let wire = wire();
    let principal = wire.principal.as_ref().unwrap();
    // The reference token id and request id travel as uuids; add the text member.
    assert!(matches!(
        principal.token_id_form,
        Some(TokenIdForm::TokenIdUuid(_))
    ));
    assert_eq!(wire.request_id_uuid.len(), 16);
    assert_oneof_conflict(&with_extra(&field(0x62, b"jti-1")));
    // The reference has no session id: text and uuid together, in either order.
    // Fields 16 and 17 have two-byte keys: 0x82 0x01 and 0x8a 0x01.
    let both = [&[0x82, 0x01, 5][..], b"sid-1", &[0x8a, 0x01, 16], &[1; 16]].concat();
    assert_oneof_conflict(&with_extra(&both));
    // A session id uuid alone decodes; one of 15 bytes does not.
    assert!(Passport::decode_unsigned(&with_extra(&both[8..]), &options(), NOW, peer()).is_ok());
    let mut wire = self::wire();
    principal_mut(&mut wire).session_id_form = Some(SessionIdForm::SessionIdUuid(vec![1; 15]));
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::InvalidField {
            field: "Principal.session_id",
            reason: "uuid is not 16 bytes"
        })
    ));

    // The request id is two plain fields (see passport.proto): both set is refused.
    let mut wire = self::wire();
    wire.request_id = "req-1".into();
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::InvalidField {
            field: "Passport.request_id",
            reason: "is set both as text and as a uuid"
        })
    ));
}

#[test]
fn may_act_that_is_not_a_json_object_is_refused() {
    let mut wire = wire();
    principal_mut(&mut wire).may_act_json = Some("{not json".into());
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::InvalidField {
            field: "Principal.may_act_json",
            ..
        })
    ));
    let mut wire = self::wire();
    principal_mut(&mut wire).may_act_json = Some("[1, 2]".into());
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::InvalidPrincipal(
            PrincipalError::InvalidMayAct { .. }
        ))
    ));
}

#[test]
fn invalid_request_id_is_refused() {
    for bad in ["", "has space", "tab\t", &"x".repeat(129)] {
        let mut wire = wire();
        wire.request_id_uuid.clear();
        wire.request_id = bad.to_owned();
        let error = decode_wire(&wire).unwrap_err();
        assert!(
            matches!(error, PassportError::InvalidRequestId(_)),
            "{bad:?}: {error:?}"
        );
        assert_eq!(error.reason(), "invalid_request_id");
    }
}

#[test]
fn principal_breaking_a_model_invariant_is_refused() {
    // An issuer with whitespace.
    let mut wire = wire();
    principal_mut(&mut wire).issuer = "https://idp.example.com evil".into();
    let error = decode_wire(&wire).unwrap_err();
    assert!(matches!(
        error,
        PassportError::InvalidPrincipal(PrincipalError::Invalid(_))
    ));
    assert_eq!(error.reason(), "invalid_principal");

    // The subject acting for itself.
    let mut wire = self::wire();
    let principal = principal_mut(&mut wire);
    principal.delegation[0].id = principal.id.clone();
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::InvalidPrincipal(
            PrincipalError::ActorIsSubject { .. }
        ))
    ));

    // The same actor twice.
    let mut wire = self::wire();
    let principal = principal_mut(&mut wire);
    principal.delegation.push(principal.delegation[0].clone());
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::InvalidPrincipal(
            PrincipalError::RepeatedActor { .. }
        ))
    ));

    // A chain deeper than the default maximum of 4.
    let mut wire = self::wire();
    let principal = principal_mut(&mut wire);
    let actor = principal.delegation[0].clone();
    principal.delegation = (1..=5u8)
        .map(|n| {
            let mut actor = actor.clone();
            uuid_mut(actor.id.as_mut().unwrap())[15] = n;
            actor
        })
        .collect();
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::InvalidPrincipal(
            PrincipalError::DelegationTooDeep { depth: 5, max: 4 }
        ))
    ));

    // Principal expiry not after its issue time.
    let mut wire = self::wire();
    let principal = principal_mut(&mut wire);
    principal.issued_at_offset = Some(0);
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::InvalidPrincipal(
            PrincipalError::ExpiresBeforeIssued { .. }
        ))
    ));
}

// ---------------------------------------------------------------------------------------
// Time and audience

#[test]
fn passport_lifetime_must_be_positive() {
    let mut wire = wire();
    wire.lifetime = 0;
    let error = decode_wire(&wire).unwrap_err();
    assert!(matches!(error, PassportError::InvalidLifetime { .. }));
    assert_eq!(error.reason(), "invalid_lifetime");
}

#[test]
fn passport_lifetime_is_capped() {
    let long = common::passport_with("req-1", "orders", NOW.as_unix_seconds(), 301);
    let error = Passport::decode_unsigned(&long.encode(), &options(), NOW, peer()).unwrap_err();
    assert!(matches!(
        error,
        PassportError::LifetimeTooLong {
            lifetime_seconds: 301,
            max_seconds: 300
        }
    ));
    assert_eq!(error.reason(), "lifetime_too_long");
    // Exactly at the cap: accepted; a tighter cap refuses it.
    let at_cap = common::passport_with("req-1", "orders", NOW.as_unix_seconds(), 300);
    assert!(Passport::decode_unsigned(&at_cap.encode(), &options(), NOW, peer()).is_ok());
    let tight = options().with_max_lifetime(60).unwrap();
    assert!(matches!(
        Passport::decode_unsigned(&at_cap.encode(), &tight, NOW, peer()),
        Err(PassportError::LifetimeTooLong { .. })
    ));
    // Extreme times do not overflow.
    let mut wire = wire();
    wire.issued_at = i64::MIN;
    wire.lifetime = -1; // wraps to i64::MAX
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::LifetimeTooLong { .. })
    ));
}

#[test]
fn expired_passport_is_refused_after_the_leeway() {
    // Valid for 60 s from NOW; leeway 30 s.
    let bytes = reference().encode();
    let last_accepted = NOW.add_seconds(60 + 30 - 1);
    assert!(Passport::decode_unsigned(&bytes, &options(), last_accepted, peer()).is_ok());
    let error =
        Passport::decode_unsigned(&bytes, &options(), NOW.add_seconds(90), peer()).unwrap_err();
    assert!(matches!(error, PassportError::Expired { .. }));
    assert_eq!(error.reason(), "expired");
    // Without leeway, expired at expires_at exactly.
    let strict = options().with_leeway(0).unwrap();
    assert!(Passport::decode_unsigned(&bytes, &strict, NOW.add_seconds(59), peer()).is_ok());
    assert!(matches!(
        Passport::decode_unsigned(&bytes, &strict, NOW.add_seconds(60), peer()),
        Err(PassportError::Expired { .. })
    ));
}

#[test]
fn passport_from_the_future_is_refused_beyond_the_leeway() {
    let bytes = reference().encode();
    assert!(Passport::decode_unsigned(&bytes, &options(), NOW.add_seconds(-30), peer()).is_ok());
    let error =
        Passport::decode_unsigned(&bytes, &options(), NOW.add_seconds(-31), peer()).unwrap_err();
    assert!(matches!(error, PassportError::NotYetValid { .. }));
    assert_eq!(error.reason(), "not_yet_valid");
}

#[test]
fn expired_principal_in_a_fresh_passport_is_refused() {
    // The reference Principal expires at NOW + 840; a passport minted later is fresh.
    let late = NOW.add_seconds(900);
    let passport = common::passport_with("req-1", "orders", late.as_unix_seconds(), 60);
    let error =
        Passport::decode_unsigned(&passport.encode(), &options(), late, peer()).unwrap_err();
    assert!(matches!(error, PassportError::PrincipalExpired { .. }));
    assert_eq!(error.reason(), "principal_expired");
}

#[test]
fn principal_before_its_not_before_is_refused() {
    let mut wire = wire();
    let principal = principal_mut(&mut wire);
    principal.not_before_offset =
        Some(NOW.add_seconds(31).as_unix_seconds() - principal.expires_at);
    let error = decode_wire(&wire).unwrap_err();
    assert!(matches!(error, PassportError::PrincipalNotYetValid { .. }));
    assert_eq!(error.reason(), "principal_not_yet_valid");
    // Within the leeway: accepted.
    let mut wire = self::wire();
    let principal = principal_mut(&mut wire);
    principal.not_before_offset =
        Some(NOW.add_seconds(30).as_unix_seconds() - principal.expires_at);
    assert!(decode_wire(&wire).is_ok());
}

#[test]
fn wrong_audience_is_refused() {
    let billing = principal_proto::DecodeOptions::new(Audience::new("billing").unwrap());
    let error =
        Passport::decode_unsigned(&reference().encode(), &billing, NOW, peer()).unwrap_err();
    assert!(matches!(
        &error,
        PassportError::WrongAudience { expected, found } if expected == "billing" && found == "orders"
    ));
    assert_eq!(error.reason(), "wrong_audience");
    // Signed or not.
    let ring = hmac_ring("k1", 1);
    let signed = ring.sign(&reference()).unwrap();
    assert!(matches!(
        ring.verify(&signed, &billing, NOW),
        Err(PassportError::WrongAudience { .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Signatures

#[test]
fn flipped_bit_in_the_payload_is_refused() {
    let ring = hmac_ring("k1", 1);
    let mut envelope = envelope(&ring.sign(&reference()).unwrap());
    let middle = envelope.passport.len() / 2;
    envelope.passport[middle] ^= 0x01;
    let error = ring
        .verify(&envelope.encode_to_vec(), &options(), NOW)
        .unwrap_err();
    assert!(matches!(error, PassportError::BadSignature { .. }));
    assert_eq!(error.reason(), "bad_signature");
}

#[test]
fn flipped_bit_in_the_signature_is_refused() {
    for ring in [hmac_ring("k1", 1), common::ed25519_ring("e1")] {
        let mut envelope = envelope(&ring.sign(&reference()).unwrap());
        envelope.signature[0] ^= 0x80;
        assert!(matches!(
            ring.verify(&envelope.encode_to_vec(), &options(), NOW),
            Err(PassportError::BadSignature { .. })
        ));
    }
}

#[test]
fn signature_of_the_wrong_length_is_refused() {
    for ring in [hmac_ring("k1", 1), common::ed25519_ring("e1")] {
        let signed = envelope(&ring.sign(&reference()).unwrap());
        for signature in [
            Vec::new(),
            signed.signature[..16].to_vec(),
            [&signed.signature[..], &[0]].concat(),
        ] {
            let mut envelope = signed.clone();
            envelope.signature = signature;
            assert!(matches!(
                ring.verify(&envelope.encode_to_vec(), &options(), NOW),
                Err(PassportError::BadSignature { .. })
            ));
        }
    }
}

#[test]
fn every_single_bit_flip_is_refused() {
    for ring in [hmac_ring("k1", 1), common::ed25519_ring("e1")] {
        let signed = ring.sign(&reference()).unwrap();
        for index in 0..signed.len() {
            for bit in 0..8 {
                let mut tampered = signed.clone();
                tampered[index] ^= 1 << bit;
                assert!(
                    ring.verify(&tampered, &options(), NOW).is_err(),
                    "flip of bit {bit} of byte {index} accepted"
                );
            }
        }
    }
}

#[test]
fn signature_from_another_key_with_the_same_key_id_is_refused() {
    let signer = hmac_ring("k1", 1);
    let verifier = hmac_ring("k1", 2);
    let signed = signer.sign(&reference()).unwrap();
    assert!(matches!(
        verifier.verify(&signed, &options(), NOW),
        Err(PassportError::BadSignature { .. })
    ));
    let signer = common::ed25519_ring("e1");
    let verifier = common::ed25519_ring("e1");
    assert!(matches!(
        verifier.verify(&signer.sign(&reference()).unwrap(), &options(), NOW),
        Err(PassportError::BadSignature { .. })
    ));
}

#[test]
fn unknown_key_id_is_refused() {
    let signed = hmac_ring("k1", 1).sign(&reference()).unwrap();
    let error = hmac_ring("k2", 1)
        .verify(&signed, &options(), NOW)
        .unwrap_err();
    assert!(matches!(&error, PassportError::UnknownKeyId { key_id } if key_id == "k1"));
    assert_eq!(error.reason(), "unknown_key_id");
}

#[test]
fn malformed_key_id_in_the_envelope_is_refused() {
    let ring = hmac_ring("k1", 1);
    for bad in ["", "k 1", &"k".repeat(65), "k1\n"] {
        let mut envelope = envelope(&ring.sign(&reference()).unwrap());
        envelope.key_id = bad.to_owned();
        let error = ring
            .verify(&envelope.encode_to_vec(), &options(), NOW)
            .unwrap_err();
        assert!(
            matches!(
                error,
                PassportError::InvalidField {
                    field: "SignedPassport.key_id",
                    ..
                }
            ),
            "{bad:?}: {error:?}"
        );
    }
}

#[test]
fn key_id_swapped_to_another_key_with_the_same_secret_is_refused() {
    // Two key ids, one secret: the key id is bound into the MAC input, so
    // relabelling an envelope does not verify.
    let mut ring = hmac_ring("k1", 1);
    ring.add_verifying_key(PassportVerifyingKey::hmac_sha256(kid("k2"), &[1; 32]).unwrap())
        .unwrap();
    let mut envelope = envelope(&ring.sign(&reference()).unwrap());
    envelope.key_id = "k2".into();
    assert!(matches!(
        ring.verify(&envelope.encode_to_vec(), &options(), NOW),
        Err(PassportError::BadSignature { .. })
    ));
}

#[test]
fn algorithm_swapped_is_refused() {
    let ring = hmac_ring("k1", 1);
    let mut envelope = envelope(&ring.sign(&reference()).unwrap());
    envelope.algorithm = proto::SignatureAlgorithm::Ed25519 as i32;
    let error = ring
        .verify(&envelope.encode_to_vec(), &options(), NOW)
        .unwrap_err();
    assert!(matches!(
        error,
        PassportError::AlgorithmMismatch {
            expected: SignatureAlgorithm::HmacSha256,
            found: SignatureAlgorithm::Ed25519,
            ..
        }
    ));
    assert_eq!(error.reason(), "algorithm_mismatch");
}

#[test]
fn hmac_with_an_ed25519_public_key_as_secret_is_refused() {
    // The classic confusion: the attacker knows the Ed25519 public key and
    // MACs with it. The key says Ed25519, so the HMAC envelope is refused.
    let ring = common::ed25519_ring("e1");
    let public = ring
        .verifier()
        .key(&kid("e1"))
        .unwrap()
        .ed25519_public_key()
        .unwrap()
        .to_vec();
    let passport = reference().encode();
    let mut input = b"baton.principal.v1.SignedPassport\0".to_vec();
    input.extend_from_slice(&[1, 2]);
    input.extend_from_slice(b"e1");
    input.extend_from_slice(&passport);
    let forged = proto::SignedPassport {
        passport,
        key_id: "e1".into(),
        algorithm: proto::SignatureAlgorithm::HmacSha256 as i32,
        signature: hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &public), &input)
            .as_ref()
            .to_vec(),
    };
    assert!(matches!(
        ring.verify(&forged.encode_to_vec(), &options(), NOW),
        Err(PassportError::AlgorithmMismatch { .. })
    ));
}

#[test]
fn unknown_or_unspecified_algorithm_is_refused() {
    let ring = hmac_ring("k1", 1);
    for value in [0, 3, -1, i32::MAX] {
        let mut envelope = envelope(&ring.sign(&reference()).unwrap());
        envelope.algorithm = value;
        let error = ring
            .verify(&envelope.encode_to_vec(), &options(), NOW)
            .unwrap_err();
        assert!(
            matches!(error, PassportError::UnsupportedAlgorithm { value: v } if v == value),
            "{value}: {error:?}"
        );
        assert_eq!(error.reason(), "unsupported_algorithm");
    }
}

#[test]
fn signature_is_checked_before_the_passport_is_read() {
    // An expired passport with a bad signature reports the signature: nothing
    // inside an unauthenticated passport is looked at.
    let ring = hmac_ring("k1", 1);
    let mut envelope = envelope(&ring.sign(&reference()).unwrap());
    envelope.signature[5] ^= 1;
    assert!(matches!(
        ring.verify(
            &envelope.encode_to_vec(),
            &options(),
            NOW.add_seconds(10_000)
        ),
        Err(PassportError::BadSignature { .. })
    ));
    // Garbage passport bytes, badly signed: BadSignature, not Malformed.
    envelope.passport = vec![0xff; 8];
    assert!(matches!(
        ring.verify(&envelope.encode_to_vec(), &options(), NOW),
        Err(PassportError::BadSignature { .. })
    ));
}

#[test]
fn expired_signed_passport_is_refused() {
    let ring = hmac_ring("k1", 1);
    let signed = ring.sign(&reference()).unwrap();
    assert!(matches!(
        ring.verify(&signed, &options(), NOW.add_seconds(90)),
        Err(PassportError::Expired { .. })
    ));
    assert!(matches!(
        ring.verify(&signed, &options(), NOW.add_seconds(-31)),
        Err(PassportError::NotYetValid { .. })
    ));
}

// ---------------------------------------------------------------------------------------
// The signature input is what the schema documents, over the bytes received

/// The signature input as `passport.proto` documents it.
fn documented_input(algorithm: u8, key_id: &str, passport: &[u8]) -> Vec<u8> {
    let mut input = b"baton.principal.v1.SignedPassport\0".to_vec();
    input.push(algorithm);
    input.push(u8::try_from(key_id.len()).unwrap());
    input.extend_from_slice(key_id.as_bytes());
    input.extend_from_slice(passport);
    input
}

#[test]
fn hmac_follows_the_documented_signature_input() {
    let ring = hmac_ring("k1", 7);
    let envelope = envelope(&ring.sign(&reference()).unwrap());
    let key = hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]);
    let expected = hmac::sign(&key, &documented_input(1, "k1", &envelope.passport));
    assert_eq!(envelope.signature, expected.as_ref());
    assert_eq!(
        envelope.algorithm,
        proto::SignatureAlgorithm::HmacSha256 as i32
    );
}

#[test]
fn ed25519_follows_the_documented_signature_input() {
    use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
    let ring = common::ed25519_ring("e1");
    let envelope = envelope(&ring.sign(&reference()).unwrap());
    let public = ring
        .verifier()
        .key(&kid("e1"))
        .unwrap()
        .ed25519_public_key()
        .unwrap();
    UnparsedPublicKey::new(&ED25519, public)
        .verify(
            &documented_input(2, "e1", &envelope.passport),
            &envelope.signature,
        )
        .unwrap();
}

#[test]
fn verification_is_over_the_bytes_received_not_a_re_encoding() {
    // A passport with an unknown field appended: not what this crate would
    // encode, but signed as is. It verifies, because the MAC covers the bytes
    // received; re-encoding first would drop the field and fail.
    let mut passport = reference().encode();
    passport.extend_from_slice(&[0xf8, 0x3f, 0x01]); // field 1023, varint 1
    let key = hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]);
    let signed = proto::SignedPassport {
        signature: hmac::sign(&key, &documented_input(1, "k1", &passport))
            .as_ref()
            .to_vec(),
        passport,
        key_id: "k1".into(),
        algorithm: proto::SignatureAlgorithm::HmacSha256 as i32,
    };
    let ring = hmac_ring("k1", 7);
    assert_eq!(
        ring.verify(&signed.encode_to_vec(), &options(), NOW)
            .unwrap(),
        reference()
    );
}

// ---------------------------------------------------------------------------------------
// Rotation

#[test]
fn rotation_keeps_in_flight_passports_valid_until_retired() {
    for (old, new) in [
        (hmac_key_pair("2025-01", 1), hmac_key_pair("2025-02", 2)),
        (ed_key("ed-01"), ed_key("ed-02")),
    ] {
        let mut ring = PassportKeyRing::new(old.clone());
        let in_flight = ring.sign(&reference()).unwrap();

        ring.rotate(new.clone()).unwrap();
        assert_eq!(ring.current_key_id(), new.key_id());
        let fresh = ring.sign(&reference()).unwrap();
        assert_eq!(envelope(&fresh).key_id, new.key_id().as_str());
        assert_eq!(
            ring.verify(&in_flight, &options(), NOW).unwrap(),
            reference()
        );
        assert_eq!(ring.verify(&fresh, &options(), NOW).unwrap(), reference());

        ring.retire(old.key_id()).unwrap();
        assert!(matches!(
            ring.verify(&in_flight, &options(), NOW),
            Err(PassportError::UnknownKeyId { .. })
        ));
        assert!(ring.verify(&fresh, &options(), NOW).is_ok());
    }
}

#[test]
fn verifiers_learn_the_next_key_before_the_signer_switches() {
    let old = hmac_key_pair("a", 1);
    let new = hmac_key_pair("b", 2);
    let mut signer = PassportKeyRing::new(old.clone());
    let mut verifier = PassportVerifier::new([old.verifying_key()]).unwrap();

    // Step 1: announce. Step 2: rotate (the announced key is kept as is).
    verifier.add(new.verifying_key()).unwrap();
    signer.add_verifying_key(new.verifying_key()).unwrap();
    let before = signer.sign(&reference()).unwrap();
    signer.rotate(new.clone()).unwrap();
    let after = signer.sign(&reference()).unwrap();
    assert!(verifier.verify(&before, &options(), NOW).is_ok());
    assert!(verifier.verify(&after, &options(), NOW).is_ok());

    // Step 3: retire.
    verifier.retire(old.key_id()).unwrap();
    assert!(verifier.verify(&before, &options(), NOW).is_err());
    assert!(verifier.verify(&after, &options(), NOW).is_ok());
}

#[test]
fn key_ring_configuration_errors() {
    use principal_proto::ConfigError;
    let mut ring = PassportKeyRing::new(hmac_key_pair("a", 1));
    // Rotating to the current key id, or to an accepted id with other material.
    assert!(matches!(
        ring.rotate(hmac_key_pair("a", 9)),
        Err(ConfigError::DuplicateKeyId { .. })
    ));
    ring.add_verifying_key(hmac_key_pair("b", 2).verifying_key())
        .unwrap();
    assert!(matches!(
        ring.rotate(hmac_key_pair("b", 3)),
        Err(ConfigError::DuplicateKeyId { .. })
    ));
    assert!(matches!(
        ring.add_verifying_key(hmac_key_pair("b", 2).verifying_key()),
        Err(ConfigError::DuplicateKeyId { .. })
    ));
    // The current key cannot be retired, an unknown one neither.
    let error = ring.retire(&kid("a")).unwrap_err();
    assert!(matches!(error, ConfigError::RetireCurrentKey { .. }));
    assert_eq!(error.reason(), "retire_current_key");
    assert!(matches!(
        ring.retire(&kid("zz")),
        Err(ConfigError::UnknownKeyId { .. })
    ));
    // An announced Ed25519 key of another pair under the same id.
    let mut ring = PassportKeyRing::new(ed_key("e1"));
    ring.add_verifying_key(ed_key("e2").verifying_key())
        .unwrap();
    assert!(matches!(
        ring.rotate(ed_key("e2")),
        Err(ConfigError::DuplicateKeyId { .. })
    ));
    // And an HMAC key announced where an Ed25519 key arrives.
    ring.add_verifying_key(hmac_key_pair("x", 1).verifying_key())
        .unwrap();
    assert!(matches!(
        ring.rotate(ed_key("x")),
        Err(ConfigError::DuplicateKeyId { .. })
    ));
}

#[test]
fn key_configuration_errors() {
    use principal_proto::{ConfigError, KeyId};
    for (bad, _why) in [
        ("", "empty"),
        ("with space", "space"),
        ("ключ", "non-ASCII"),
        (&*"k".repeat(65), "too long"),
    ] {
        assert!(
            matches!(KeyId::new(bad), Err(ConfigError::InvalidKeyId { .. })),
            "{bad:?}"
        );
    }
    assert!(KeyId::new("k".repeat(64)).is_ok());
    assert!(KeyId::new("a-Z_0.9:x").is_ok());

    let error = PassportSigningKey::hmac_sha256(kid("k"), &[1; 31]).unwrap_err();
    assert!(matches!(
        error,
        ConfigError::HmacSecretTooShort {
            len: 31,
            min: 32,
            ..
        }
    ));
    assert_eq!(error.reason(), "hmac_secret_too_short");
    assert!(matches!(
        PassportVerifyingKey::hmac_sha256(kid("k"), b""),
        Err(ConfigError::HmacSecretTooShort { .. })
    ));
    assert!(matches!(
        PassportSigningKey::ed25519_from_pkcs8(kid("k"), &[0x30, 0x03, 0x02, 0x01, 0x00]),
        Err(ConfigError::InvalidEd25519Key { .. })
    ));
    assert!(matches!(
        PassportVerifyingKey::ed25519(kid("k"), &[0; 33]),
        Err(ConfigError::InvalidEd25519Key { .. })
    ));
    assert!(matches!(
        PassportVerifier::new([]),
        Err(ConfigError::NoKeys)
    ));

    let options = common::options();
    assert!(matches!(
        options.clone().with_leeway(121),
        Err(ConfigError::OutOfRange {
            option: "leeway",
            ..
        })
    ));
    assert!(matches!(
        options.clone().with_max_lifetime(0),
        Err(ConfigError::OutOfRange { .. })
    ));
    assert!(matches!(
        options.clone().with_max_lifetime(3601),
        Err(ConfigError::OutOfRange { .. })
    ));
    assert!(matches!(
        options.clone().with_max_bytes(63),
        Err(ConfigError::OutOfRange { .. })
    ));
    assert!(matches!(
        options.clone().with_max_bytes(65 * 1024),
        Err(ConfigError::OutOfRange { .. })
    ));
    assert!(matches!(
        options.with_max_delegation_depth(9),
        Err(ConfigError::OutOfRange { .. })
    ));
}

#[test]
fn ed25519_key_from_pkcs8_signs_and_verifies() {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::Ed25519KeyPair;
    let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let key = PassportSigningKey::ed25519_from_pkcs8(kid("ed"), document.as_ref()).unwrap();
    let ring = PassportKeyRing::new(key);
    let signed = ring.sign(&reference()).unwrap();
    assert!(ring.verify(&signed, &options(), NOW).is_ok());
}

#[test]
fn debug_output_never_shows_secrets() {
    let secret = [0xabu8; 32];
    let signing = PassportSigningKey::hmac_sha256(kid("k1"), &secret).unwrap();
    let verifying = signing.verifying_key();
    let ring = PassportKeyRing::new(signing.clone());
    let ed = ed_key("e1");
    for debug in [
        format!("{signing:?}"),
        format!("{verifying:?}"),
        format!("{ring:?}"),
        format!("{ed:?}"),
        format!("{:?}", PassportKeyRing::new(ed.clone())),
    ] {
        assert!(debug.contains("k1") || debug.contains("e1"), "{debug}");
        assert!(
            !debug.contains("171") && !debug.to_lowercase().contains("abab"),
            "{debug}"
        );
    }
    assert!(format!("{signing:?}").contains("<redacted>"));
    assert!(format!("{ed:?}").contains("<redacted>"));
}

fn hmac_key_pair(id: &str, fill: u8) -> PassportSigningKey {
    common::hmac_key(id, fill)
}

fn ed_key(id: &str) -> PassportSigningKey {
    PassportSigningKey::ed25519_generate(kid(id)).unwrap()
}

#[test]
fn timestamps_at_the_extremes_do_not_overflow() {
    let mut wire = wire();
    wire.issued_at = i64::MAX - 10;
    wire.lifetime = 10;
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::NotYetValid { .. })
    ));
    let mut wire = self::wire();
    wire.issued_at = i64::MIN;
    wire.lifetime = 10;
    assert!(matches!(
        decode_wire(&wire),
        Err(PassportError::Expired { .. })
    ));
    assert!(
        Passport::decode_unsigned(
            &reference().encode(),
            &options(),
            Timestamp::from_unix_seconds(i64::MAX),
            peer()
        )
        .is_err()
    );
    assert!(
        Passport::decode_unsigned(
            &reference().encode(),
            &options(),
            Timestamp::from_unix_seconds(i64::MIN),
            peer()
        )
        .is_err()
    );
}
