//! Shared by the passport tests: keys, passports, a verifier on a test clock.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use principal::{Audience, ServiceId, TestClock, Timestamp};
use principal_proto::{
    DecodeOptions, KeyId, Passport, PassportKeyRing, PassportSigningKey, PassportVerifyingKey,
    RequestId, fixtures,
};
use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};

/// Where every test clock starts.
pub const NOW: Timestamp = Timestamp::from_unix_seconds(1_700_000_000);
/// The request every test passport is for.
pub const REQUEST_ID: &str = "0d9c7e3a-5b1f-4c2e-9a8d-7f6e5d4c3b2a";
/// A passport's lifetime in these tests.
pub const LIFETIME: i64 = 60;

pub fn clock() -> TestClock {
    TestClock::new(NOW)
}

pub fn kid(id: &str) -> KeyId {
    KeyId::new(id).unwrap()
}

pub fn service(name: &str) -> ServiceId {
    ServiceId::new(name).unwrap()
}

pub fn audience(name: &str) -> Audience {
    Audience::new(name).unwrap()
}

pub fn ed25519_ring(key_id: &str) -> PassportKeyRing {
    PassportKeyRing::new(PassportSigningKey::ed25519_generate(kid(key_id)).unwrap())
}

/// What a verifier is given of `ring`'s current key: the 32-byte public key, by key id.
pub fn public_key(ring: &PassportKeyRing) -> PassportVerifyingKey {
    let key = ring.verifier().key(ring.current_key_id()).unwrap();
    PassportVerifyingKey::ed25519(key.key_id().clone(), key.ed25519_public_key().unwrap()).unwrap()
}

/// The reference Principal in a passport for `audience` and `request_id`, issued at `now`.
pub fn passport_for(audience_name: &str, request_id: &str, now: Timestamp) -> Passport {
    Passport::new(
        fixtures::reference_principal(now).unwrap(),
        RequestId::new(request_id).unwrap(),
        audience(audience_name),
        now,
        now.add_seconds(LIFETIME),
    )
    .unwrap()
}

/// A verifier for `audience_name` accepting `keys`, on `clock`.
pub fn verifier(
    audience_name: &str,
    keys: PassportKeys,
    clock: &TestClock,
) -> PassportHeaderVerifier {
    PassportHeaderVerifier::new(DecodeOptions::new(audience(audience_name)), keys)
        .clock(Arc::new(clock.clone()))
}
