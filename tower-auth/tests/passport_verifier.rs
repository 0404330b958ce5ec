//! The passport verifier through `Verifier::verify`: every refusal with hostile input,
//! rotation, the unsigned path's peer rule, and who the caller is.
#![allow(clippy::unwrap_used)]

mod passport_support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use passport_support::*;
use principal_proto::{PassportKeyRing, PassportSigningKey};
use tower_auth::error::{AuthError, Challenge, HttpChallenge};
use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
use tower_auth::peer::{PeerAllowlist, PeerIdentity, SpiffeId};
use tower_auth::{CallerIdentity, Credentials, Pattern, Verdict, Verifier};

const GATEWAY: &str = "spiffe://shop.internal/gateway";

/// The edge's ring, and an `orders` verifier that knows its public key as `svc-edge`.
fn edge_and_orders(clock: &principal::TestClock) -> (PassportKeyRing, PassportHeaderVerifier) {
    let edge = ed25519_ring("edge-1");
    let keys = PassportKeys::new(public_key(&edge), service("edge")).unwrap();
    (edge, verifier("orders", keys, clock))
}

fn verify(verifier: &PassportHeaderVerifier, header: &str, request_id: Option<&str>) -> Verdict {
    let mut credentials = Credentials::none().with_passport(header);
    if let Some(id) = request_id {
        credentials = credentials.with_request_id(id);
    }
    verifier.verify(&credentials).into_ready().unwrap()
}

fn signed(ring: &PassportKeyRing, audience: &str) -> String {
    ring.sign_header(&passport_for(audience, REQUEST_ID, NOW))
        .unwrap()
}

/// The reason of a refusal, which must be an `invalid_token` 401 and not a decline.
fn refusal(verdict: Verdict) -> &'static str {
    let error = verdict.unwrap_err();
    assert!(!error.is_decline(), "{error:?}");
    assert_eq!(error.challenge(), Challenge::InvalidToken, "{error:?}");
    let response: http::Response<String> = HttpChallenge::new().response(&error);
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    error.reason()
}

#[test]
fn a_signed_passport_is_accepted_and_names_its_signer() {
    let clock = clock();
    let (edge, orders) = edge_and_orders(&clock);
    let verified = verify(&orders, &signed(&edge, "orders"), Some(REQUEST_ID)).unwrap();
    assert_eq!(verified.pattern(), Pattern::Passport);
    assert_eq!(
        verified.id(),
        passport_for("orders", REQUEST_ID, NOW).principal().id()
    );
    let caller = verified.caller().unwrap();
    assert_eq!(caller.pattern(), Pattern::Passport);
    assert_eq!(caller.identity(), &CallerIdentity::Service(service("edge")));
    assert_eq!(orders.pattern(), Pattern::Passport);
}

#[test]
fn without_a_passport_it_declines() {
    let clock = clock();
    let (_, orders) = edge_and_orders(&clock);
    for credentials in [
        Credentials::none(),
        Credentials::bearer("a.b.c").with_request_id(REQUEST_ID),
    ] {
        let error = orders
            .verify(&credentials)
            .into_ready()
            .unwrap()
            .unwrap_err();
        assert!(matches!(error, AuthError::UnsupportedTokenFormat));
        assert!(error.is_decline());
    }
}

#[test]
fn tampered_passports_are_refused() {
    let clock = clock();
    let (edge, orders) = edge_and_orders(&clock);
    let bytes = edge.sign(&passport_for("orders", REQUEST_ID, NOW)).unwrap();
    // One flipped bit in the passport bytes (start), in the signature (end).
    for position in [8, bytes.len() / 2, bytes.len() - 1] {
        let mut tampered = bytes.clone();
        tampered[position] ^= 0x01;
        let header = STANDARD_NO_PAD.encode(&tampered);
        let reason = refusal(verify(&orders, &header, Some(REQUEST_ID)));
        assert!(
            [
                "passport_bad_signature",
                "malformed_passport",
                "unsigned_passport_without_peer"
            ]
            .contains(&reason),
            "bit at {position}: {reason}"
        );
    }
    // In the signature: always a bad signature.
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x80;
    let header = STANDARD_NO_PAD.encode(&tampered);
    assert_eq!(
        refusal(verify(&orders, &header, Some(REQUEST_ID))),
        "passport_bad_signature"
    );
    // Garbage and bad base64.
    assert_eq!(
        refusal(verify(&orders, "%%%not base64", Some(REQUEST_ID))),
        "malformed_passport"
    );
}

#[test]
fn truncated_passports_are_refused_with_or_without_an_allowlisted_peer() {
    let clock = clock();
    let (edge, orders) = edge_and_orders(&clock);
    let orders = orders.unsigned_from(PeerAllowlist::new([GATEWAY.parse().unwrap()]));
    let gateway = PeerIdentity::new(GATEWAY.parse().unwrap());
    let bytes = edge.sign(&passport_for("orders", REQUEST_ID, NOW)).unwrap();
    // Nothing at all: no passport to speak of.
    assert_eq!(
        refusal(verify(&orders, "", Some(REQUEST_ID))),
        "malformed_passport"
    );
    for len in [1, 2, bytes.len() / 2, bytes.len() - 1] {
        let header = STANDARD_NO_PAD.encode(&bytes[..len]);
        // No longer an envelope: it is taken as unsigned, which needs a peer.
        assert_eq!(
            refusal(verify(&orders, &header, Some(REQUEST_ID))),
            "unsigned_passport_without_peer",
            "{len}"
        );
        // From the allowlisted peer it is decoded, and does not decode.
        let credentials = Credentials::none()
            .with_passport(&header)
            .with_request_id(REQUEST_ID)
            .with_peer(&gateway);
        let verdict = orders.verify(&credentials).into_ready().unwrap();
        assert_eq!(refusal(verdict), "malformed_passport", "{len}");
    }
    // An unsigned passport cut short, from the allowlisted peer.
    let unsigned = passport_for("orders", REQUEST_ID, NOW).encode();
    let header = STANDARD_NO_PAD.encode(&unsigned[..unsigned.len() - 1]);
    let credentials = Credentials::none()
        .with_passport(&header)
        .with_request_id(REQUEST_ID)
        .with_peer(&gateway);
    assert_eq!(
        refusal(orders.verify(&credentials).into_ready().unwrap()),
        "malformed_passport"
    );
}

#[test]
fn expired_and_not_yet_valid_passports_are_refused_by_the_verifiers_clock() {
    let clock = clock();
    let (edge, orders) = edge_and_orders(&clock);
    let header = signed(&edge, "orders");
    // Within the lifetime plus the default leeway of 30 s: accepted.
    clock.set(NOW.add_seconds(LIFETIME + 29));
    assert!(verify(&orders, &header, Some(REQUEST_ID)).is_ok());
    clock.set(NOW.add_seconds(LIFETIME + 30));
    assert_eq!(
        refusal(verify(&orders, &header, Some(REQUEST_ID))),
        "passport_expired"
    );
    clock.set(NOW.add_seconds(-31));
    assert_eq!(
        refusal(verify(&orders, &header, Some(REQUEST_ID))),
        "passport_not_yet_valid"
    );
}

#[test]
fn a_passport_for_another_audience_is_refused() {
    let clock = clock();
    let (edge, orders) = edge_and_orders(&clock);
    assert_eq!(
        refusal(verify(&orders, &signed(&edge, "billing"), Some(REQUEST_ID))),
        "passport_wrong_audience"
    );
}

#[test]
fn the_request_id_must_be_the_requests_x_request_id() {
    let clock = clock();
    let (edge, orders) = edge_and_orders(&clock);
    let header = signed(&edge, "orders");
    let error = verify(&orders, &header, Some("another-request")).unwrap_err();
    assert!(matches!(error, AuthError::PassportRequestIdMismatch));
    assert_eq!(refusal(Err(error)), "passport_request_id_mismatch");
    // The same uuid in upper case is another request id.
    assert!(verify(&orders, &header, Some(&REQUEST_ID.to_uppercase())).is_err());
    // No x-request-id at all.
    let error = verify(&orders, &header, None).unwrap_err();
    assert!(matches!(error, AuthError::MissingRequestId));
    assert_eq!(refusal(Err(error)), "missing_request_id");
}

#[test]
fn a_passport_signed_by_an_unknown_key_or_another_key_under_a_known_id_is_refused() {
    let clock = clock();
    let (_, orders) = edge_and_orders(&clock);
    // Another key id altogether.
    let stranger = ed25519_ring("stranger-1");
    assert_eq!(
        refusal(verify(
            &orders,
            &signed(&stranger, "orders"),
            Some(REQUEST_ID)
        )),
        "passport_unknown_key_id"
    );
    // The edge's key id, another key.
    let impostor = ed25519_ring("edge-1");
    assert_eq!(
        refusal(verify(
            &orders,
            &signed(&impostor, "orders"),
            Some(REQUEST_ID)
        )),
        "passport_bad_signature"
    );
    // The edge's key id, but HMAC: the algorithm comes from the key, not the envelope.
    let hmac =
        PassportKeyRing::new(PassportSigningKey::hmac_sha256(kid("edge-1"), &[7; 32]).unwrap());
    assert_eq!(
        refusal(verify(&orders, &signed(&hmac, "orders"), Some(REQUEST_ID))),
        "passport_algorithm"
    );
}

#[test]
fn rotation_accepts_the_previous_key_until_it_is_retired() {
    let clock = clock();
    let mut edge = ed25519_ring("edge-1");
    let orders = verifier(
        "orders",
        PassportKeys::new(public_key(&edge), service("edge")).unwrap(),
        &clock,
    );
    let before = signed(&edge, "orders");

    // 1. orders learns the next key, live; 2. the edge switches to it.
    let next = PassportSigningKey::ed25519_generate(kid("edge-2")).unwrap();
    let next_public = principal_proto::PassportVerifyingKey::ed25519(
        kid("edge-2"),
        next.verifying_key().ed25519_public_key().unwrap(),
    )
    .unwrap();
    orders.set_keys(
        orders
            .keys()
            .unwrap()
            .as_ref()
            .clone()
            .with_key(next_public, service("edge"))
            .unwrap(),
    );
    edge.rotate(next).unwrap();
    let after = signed(&edge, "orders");

    // In flight from before the rotation, and new: both accepted.
    assert!(verify(&orders, &before, Some(REQUEST_ID)).is_ok());
    assert!(verify(&orders, &after, Some(REQUEST_ID)).is_ok());

    // 3. The old key is retired: what it signed is refused, the new key still works.
    orders.set_keys(
        orders
            .keys()
            .unwrap()
            .as_ref()
            .clone()
            .without_key(&kid("edge-1"))
            .unwrap(),
    );
    assert_eq!(
        refusal(verify(&orders, &before, Some(REQUEST_ID))),
        "passport_unknown_key_id"
    );
    assert!(verify(&orders, &after, Some(REQUEST_ID)).is_ok());
}

#[test]
fn hmac_keys_verify_too_and_are_never_printed() {
    let clock = clock();
    let secret = [0x5a; 32];
    let ring =
        PassportKeyRing::new(PassportSigningKey::hmac_sha256(kid("hmac-1"), &secret).unwrap());
    let key = principal_proto::PassportVerifyingKey::hmac_sha256(kid("hmac-1"), &secret).unwrap();
    let orders = verifier(
        "orders",
        PassportKeys::new(key, service("edge")).unwrap(),
        &clock,
    );
    assert!(verify(&orders, &signed(&ring, "orders"), Some(REQUEST_ID)).is_ok());
    let debug = format!("{orders:?}");
    assert!(debug.contains("hmac-1"), "{debug}");
    assert!(
        !debug.contains("90, 90") && !debug.contains("5a5a"),
        "{debug}"
    );
    // Another secret under the same key id.
    let wrong =
        PassportKeyRing::new(PassportSigningKey::hmac_sha256(kid("hmac-1"), &[1; 32]).unwrap());
    let error = verify(&orders, &signed(&wrong, "orders"), Some(REQUEST_ID)).unwrap_err();
    assert_eq!(error.reason(), "passport_bad_signature");
    assert!(!error.to_string().contains("5a"), "{error}");
}

#[test]
fn the_caller_is_the_signer_of_the_key_that_verified() {
    let clock = clock();
    let edge = ed25519_ring("edge-1");
    let orders_ring = ed25519_ring("orders-1");
    let billing = verifier(
        "billing",
        PassportKeys::new(public_key(&edge), service("edge"))
            .unwrap()
            .with_key(public_key(&orders_ring), service("orders"))
            .unwrap(),
        &clock,
    );
    for (ring, signer) in [(&edge, "edge"), (&orders_ring, "orders")] {
        let verified = verify(&billing, &signed(ring, "billing"), Some(REQUEST_ID)).unwrap();
        assert_eq!(
            verified.caller().unwrap().identity(),
            &CallerIdentity::Service(service(signer))
        );
    }
}

#[test]
fn unsigned_passports_need_an_allowlisted_peer() {
    let clock = clock();
    let (_, orders) = edge_and_orders(&clock);
    let gateway: SpiffeId = GATEWAY.parse().unwrap();
    let unsigned = passport_for("orders", REQUEST_ID, NOW)
        .encode_header()
        .unwrap();
    let credentials = Credentials::none()
        .with_passport(&unsigned)
        .with_request_id(REQUEST_ID);

    // No allowlist configured: even the gateway is refused.
    let gateway_peer = PeerIdentity::new(gateway.clone());
    let error = orders
        .verify(&credentials.with_peer(&gateway_peer))
        .into_ready()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&error, AuthError::UnsignedPassportPeerNotAllowed { peer } if *peer == gateway)
    );
    assert_eq!(refusal(Err(error)), "unsigned_passport_peer_not_allowed");

    let orders = orders.unsigned_from(PeerAllowlist::new([gateway.clone()]));
    // Without a peer.
    let error = orders
        .verify(&credentials)
        .into_ready()
        .unwrap()
        .unwrap_err();
    assert!(matches!(error, AuthError::UnsignedPassportWithoutPeer));
    assert_eq!(refusal(Err(error)), "unsigned_passport_without_peer");
    // A peer of the same trust domain that is not on the list.
    let batch = PeerIdentity::new("spiffe://shop.internal/batch".parse().unwrap());
    assert_eq!(
        refusal(
            orders
                .verify(&credentials.with_peer(&batch))
                .into_ready()
                .unwrap()
        ),
        "unsigned_passport_peer_not_allowed"
    );
    // The allowlisted peer: accepted, and the caller is that workload.
    let verified = orders
        .verify(&credentials.with_peer(&gateway_peer))
        .into_ready()
        .unwrap()
        .unwrap();
    assert_eq!(
        verified.caller().unwrap().identity(),
        &CallerIdentity::Workload(gateway)
    );
    // Every other check still applies to it: request id, audience, expiry.
    assert_eq!(
        refusal(
            orders
                .verify(
                    &Credentials::none()
                        .with_passport(&unsigned)
                        .with_request_id("another")
                        .with_peer(&gateway_peer)
                )
                .into_ready()
                .unwrap()
        ),
        "passport_request_id_mismatch"
    );
    let for_billing = passport_for("billing", REQUEST_ID, NOW)
        .encode_header()
        .unwrap();
    assert_eq!(
        refusal(
            orders
                .verify(
                    &Credentials::none()
                        .with_passport(&for_billing)
                        .with_request_id(REQUEST_ID)
                        .with_peer(&gateway_peer)
                )
                .into_ready()
                .unwrap()
        ),
        "passport_wrong_audience"
    );
    clock.set(NOW.add_seconds(LIFETIME + 30));
    assert_eq!(
        refusal(
            orders
                .verify(&credentials.with_peer(&gateway_peer))
                .into_ready()
                .unwrap()
        ),
        "passport_expired"
    );
}

#[test]
fn an_oversized_passport_is_refused_before_decoding() {
    let clock = clock();
    let (_, orders) = edge_and_orders(&clock);
    let huge = STANDARD_NO_PAD.encode(vec![0u8; 8 * 1024]);
    assert_eq!(
        refusal(verify(&orders, &huge, Some(REQUEST_ID))),
        "passport_too_large"
    );
}

#[test]
fn an_unsigned_only_verifier_refuses_signed_passports_until_it_is_given_keys() {
    let clock = clock();
    let gateway: SpiffeId = GATEWAY.parse().unwrap();
    let orders = PassportHeaderVerifier::unsigned_only(
        principal_proto::DecodeOptions::new(audience("orders")),
        PeerAllowlist::new([gateway.clone()]),
    )
    .clock(std::sync::Arc::new(clock.clone()));
    assert!(orders.keys().is_none());
    let gateway_peer = PeerIdentity::new(gateway.clone());
    let edge = ed25519_ring("edge-1");
    let signed = signed(&edge, "orders");

    // Signed, from the allowlisted peer and with the right request id: refused, reason
    // of its own, with or without a peer.
    let credentials = Credentials::none()
        .with_passport(&signed)
        .with_request_id(REQUEST_ID);
    for credentials in [credentials.with_peer(&gateway_peer), credentials] {
        let error = orders
            .verify(&credentials)
            .into_ready()
            .unwrap()
            .unwrap_err();
        assert!(matches!(error, AuthError::SignedPassportNotAccepted));
        assert_eq!(refusal(Err(error)), "signed_passport_not_accepted");
    }

    // Unsigned: the peer rule as for any passport verifier.
    let unsigned = passport_for("orders", REQUEST_ID, NOW)
        .encode_header()
        .unwrap();
    let credentials = Credentials::none()
        .with_passport(&unsigned)
        .with_request_id(REQUEST_ID);
    assert_eq!(
        refusal(orders.verify(&credentials).into_ready().unwrap()),
        "unsigned_passport_without_peer"
    );
    let batch = PeerIdentity::new("spiffe://shop.internal/batch".parse().unwrap());
    assert_eq!(
        refusal(
            orders
                .verify(&credentials.with_peer(&batch))
                .into_ready()
                .unwrap()
        ),
        "unsigned_passport_peer_not_allowed"
    );
    let verified = orders
        .verify(&credentials.with_peer(&gateway_peer))
        .into_ready()
        .unwrap()
        .unwrap();
    assert_eq!(
        verified.caller().unwrap().identity(),
        &CallerIdentity::Workload(gateway)
    );

    // Given keys: signed passports are checked with them.
    orders.set_keys(PassportKeys::new(public_key(&edge), service("edge")).unwrap());
    let verified = verify(&orders, &signed, Some(REQUEST_ID)).unwrap();
    assert_eq!(
        verified.caller().unwrap().identity(),
        &CallerIdentity::Service(service("edge"))
    );
}
