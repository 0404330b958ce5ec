//! The encoded passport is compact: at most 40% of the byte size of the
//! equivalent signed JWT (the issue's size target; the lead measures it
//! again in benches).
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use principal::Timestamp;
use principal_proto::{KeyId, PassportKeyRing, PassportSigningKey, fixtures};

/// The equivalent JWT of the reference Principal, as the benchmarks build it
/// (`benches::equivalent_jwt_hs256`): its claims (`Principal::to_claims`)
/// under a `{"typ":"JWT","alg":"HS256"}` header, with a 32-byte signature.
fn equivalent_jwt(now: Timestamp) -> String {
    let principal = fixtures::reference_principal(now).unwrap();
    let header = br#"{"typ":"JWT","alg":"HS256"}"#;
    let signature = [0u8; 32];
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(principal.to_claims().to_json()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

#[test]
fn reference_passport_sizes() {
    let now = Timestamp::from_unix_seconds(1_700_000_000);
    let passport = fixtures::reference_passport(now).unwrap();
    let ring = PassportKeyRing::new(
        PassportSigningKey::hmac_sha256(KeyId::new("k1").unwrap(), &[7; 32]).unwrap(),
    );
    let encoded = passport.encode();
    let signed = ring.sign(&passport).unwrap();
    let header = ring.sign_header(&passport).unwrap();
    let jwt = equivalent_jwt(now);
    println!(
        "passport {} B, signed {} B, signed header {} B, JWT {} B",
        encoded.len(),
        signed.len(),
        header.len(),
        jwt.len()
    );
    assert!(
        encoded.len() * 100 <= jwt.len() * 40,
        "passport {} B is more than 40% of the JWT's {} B",
        encoded.len(),
        jwt.len()
    );
}
