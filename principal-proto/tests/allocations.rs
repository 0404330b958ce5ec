//! Verifying an HMAC-signed passport allocates nothing beyond decoding it: the
//! `hmac::Key` is built once, when the key is made, and the tag is computed
//! over the received bytes in place (no signature-input buffer, no copy of the
//! passport, no boxed state). A request id that is a uuid (the usual
//! `x-request-id`) is decoded without allocating.
#![allow(clippy::unwrap_used)]

use std::alloc::System;

use principal::Timestamp;
use principal_proto::{
    KeyId, Passport, PassportKeyRing, PassportSigningKey, RequestId, TrustedPeer, fixtures,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

// The only test in this binary: no other test allocates while it counts.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let region = Region::new(GLOBAL);
    let result = f();
    let change = region.change();
    (change.allocations + change.reallocations, result)
}

#[test]
fn hmac_verification_allocates_nothing_beyond_decoding() {
    let now = Timestamp::from_unix_seconds(1_700_000_000);
    let passport = fixtures::reference_passport(now).unwrap();
    let options = fixtures::reference_decode_options().unwrap();
    let ring = PassportKeyRing::new(
        PassportSigningKey::hmac_sha256(KeyId::new("k1").unwrap(), &[9; 32]).unwrap(),
    );
    let encoded = passport.encode();
    let signed = ring.sign(&passport).unwrap();
    let verifier = ring.verifier();
    // Stating the peer borrows its id: no allocation.
    let peer = TrustedPeer::allowlisted("spiffe://baton.test/gateway").unwrap();

    // Warm up anything lazily initialised (aws-lc's CPU feature detection).
    verifier.verify(&signed, &options, now).unwrap();

    let (decoding, decoded) =
        allocations(|| Passport::decode_unsigned(&encoded, &options, now, peer).unwrap());
    let (verifying, verified) = allocations(|| verifier.verify(&signed, &options, now).unwrap());
    assert_eq!(decoded, verified);
    assert!(decoding > 0, "the counter counts");
    assert_eq!(
        verifying,
        decoding,
        "HMAC verification allocated {} times beyond decoding",
        verifying.saturating_sub(decoding)
    );

    // The reference request id is a uuid; the same passport with a text
    // request id allocates one more time (the text), the uuid not at all.
    let text_id = Passport::new(
        passport.principal().clone(),
        RequestId::new("req-1").unwrap(),
        passport.audience().clone(),
        passport.issued_at(),
        passport.expires_at(),
    )
    .unwrap()
    .encode();
    let (decoding_text_id, _) =
        allocations(|| Passport::decode_unsigned(&text_id, &options, now, peer).unwrap());
    assert_eq!(decoding_text_id, decoding + 1);

    // A bad tag is refused before decoding: the only allocation is the key id
    // the error names.
    let mut tampered = signed.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let (refusing, refused) = allocations(|| verifier.verify(&tampered, &options, now));
    assert_eq!(refused.unwrap_err().reason(), "bad_signature");
    assert!(refusing <= 1, "{refusing} allocations to refuse a bad tag");
}
