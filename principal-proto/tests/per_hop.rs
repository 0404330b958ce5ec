//! Between hops: unsigned passports need the caller's statement about its peer,
//! and a hop re-issues what it verified for the next audience, never for longer.
#![allow(clippy::unwrap_used)]

mod common;

use common::{NOW, PEER_ID, options, peer, reference};
use principal::{Audience, IdError};
use principal_proto::{
    DecodeOptions, KeyId, MAX_PEER_ID_LEN, Passport, PassportError, PassportKeyRing,
    PassportSigningKey, PassportVerifier, PassportVerifyingKey, TrustedPeer,
};

#[test]
fn a_trusted_peer_names_a_peer() {
    assert_eq!(peer().peer_id(), PEER_ID);
    assert_eq!(
        TrustedPeer::allowlisted(""),
        Err(IdError::Empty { field: "peer_id" })
    );
    let long = format!("spiffe://baton.test/{}", "a".repeat(MAX_PEER_ID_LEN));
    assert!(matches!(
        TrustedPeer::allowlisted(&long),
        Err(IdError::TooLong {
            field: "peer_id",
            max: MAX_PEER_ID_LEN,
            ..
        })
    ));
    assert!(TrustedPeer::allowlisted(&long[..MAX_PEER_ID_LEN]).is_ok());
    for (bad, position) in [
        ("spiffe://baton.test/a b", 21),
        ("spiffe://baton.test/a\nb", 21),
        ("spiffe://baton.test/\u{e9}", 20),
        (" spiffe://baton.test/a", 0),
    ] {
        assert!(
            matches!(
                TrustedPeer::allowlisted(bad),
                Err(IdError::InvalidChar { field: "peer_id", position: p, .. }) if p == position
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn an_unsigned_passport_decodes_only_with_a_stated_peer() {
    let passport = reference();
    let bytes = passport.encode();
    let decoded = Passport::decode_unsigned(&bytes, &options(), NOW, peer()).unwrap();
    assert_eq!(decoded, passport);
    let header = Passport::decode_unsigned_header(
        passport.encode_header().unwrap(),
        &options(),
        NOW,
        peer(),
    );
    assert_eq!(header.unwrap(), passport);
    // Stating a peer does not weaken a single check.
    assert_eq!(
        Passport::decode_unsigned(&bytes[..bytes.len() - 1], &options(), NOW, peer())
            .unwrap_err()
            .reason(),
        "malformed"
    );
}

fn ed25519_ring(key_id: &str) -> PassportKeyRing {
    PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new(key_id).unwrap()).unwrap())
}

/// What a verifier is given: the public key of `ring`'s current key, by key id.
fn public_key(ring: &PassportKeyRing) -> PassportVerifyingKey {
    let public = ring
        .verifier()
        .key(ring.current_key_id())
        .unwrap()
        .ed25519_public_key()
        .unwrap()
        .to_vec();
    PassportVerifyingKey::ed25519(ring.current_key_id().clone(), &public).unwrap()
}

#[test]
fn a_reissued_passport_keeps_principal_and_request_id_and_never_outlives_the_received_one() {
    let received = reference(); // audience "orders", issued NOW, 60 s
    let billing = Audience::new("billing").unwrap();

    // Asked for longer than what is left: capped at the received expiry.
    let later = NOW.add_seconds(20);
    let next = received.reissue_for(billing.clone(), later, 300).unwrap();
    assert_eq!(next.principal(), received.principal());
    assert_eq!(next.request_id(), received.request_id());
    assert_eq!(next.audience(), &billing);
    assert_eq!(next.issued_at(), later);
    assert_eq!(next.expires_at(), received.expires_at());

    // Asked for less: exactly that.
    let short = received.reissue_for(billing.clone(), later, 5).unwrap();
    assert_eq!(short.expires_at(), later.add_seconds(5));

    // Nothing left, or nothing asked: refused.
    let expired = received
        .reissue_for(billing.clone(), received.expires_at(), 300)
        .unwrap_err();
    assert!(matches!(expired, PassportError::Expired { .. }));
    let zero = received.reissue_for(billing, later, 0).unwrap_err();
    assert!(matches!(zero, PassportError::InvalidLifetime { .. }));
}

#[test]
fn re_signed_per_hop_each_hop_verifies_the_previous_hops_public_key() {
    let edge = ed25519_ring("edge-1");
    let orders = ed25519_ring("orders-1");
    let billing = Audience::new("billing").unwrap();
    let billing_options = DecodeOptions::new(billing.clone());

    // Edge -> orders.
    let orders_verifier = PassportVerifier::new([public_key(&edge)]).unwrap();
    let at_orders = orders_verifier
        .verify(&edge.sign(&reference()).unwrap(), &options(), NOW)
        .unwrap();

    // Orders -> billing: re-issued and signed with orders' own key.
    let next = at_orders
        .reissue_for(billing.clone(), NOW.add_seconds(1), 30)
        .unwrap();
    let signed = orders.sign(&next).unwrap();
    let billing_verifier = PassportVerifier::new([public_key(&orders)]).unwrap();
    let at_billing = billing_verifier
        .verify(&signed, &billing_options, NOW.add_seconds(2))
        .unwrap();
    assert_eq!(at_billing, next);
    assert_eq!(at_billing.principal(), reference().principal());

    // What the edge signed for orders is refused at billing: wrong key and wrong audience.
    let forwarded = edge.sign(&reference()).unwrap();
    assert_eq!(
        billing_verifier
            .verify(&forwarded, &billing_options, NOW)
            .unwrap_err()
            .reason(),
        "unknown_key_id"
    );
    // A hop with another key under orders' key id is refused.
    let impostor = ed25519_ring("orders-1");
    assert_eq!(
        billing_verifier
            .verify(&impostor.sign(&next).unwrap(), &billing_options, NOW)
            .unwrap_err()
            .reason(),
        "bad_signature"
    );
}
