//! The test vectors under `proto/testdata/` are current: the JSON Principal
//! encodes to exactly the checked-in passport bytes, the checked-in signed
//! headers verify with the test keys and give that Principal, and every file
//! is what the reference passport and the test keys produce today.
//!
//! `proto/testdata/check.py` checks the same files with another protobuf
//! implementation (CI runs it). After changing the encoding, regenerate with
//! `BATON_REGENERATE=1 cargo test -p principal-proto --test vectors`.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use principal::{Audience, Principal, Timestamp};
use principal_proto::header::encode_header_value;
use principal_proto::{
    DecodeOptions, KeyId, Passport, PassportError, PassportKeyRing, PassportSigningKey,
    PassportVerifier, PassportVerifyingKey, RequestId, TrustedPeer, fixtures,
};
use serde_json::{Value, json};

/// The time the vectors are made and checked at.
const NOW: Timestamp = Timestamp::from_unix_seconds(1_700_000_000);

/// TEST ONLY: the HMAC-SHA256 secret of the vectors (the bytes 0x00 to 0x1f).
const TEST_HMAC_SECRET: [u8; 32] = {
    let mut secret = [0; 32];
    let mut i = 0;
    while i < 32 {
        secret[i] = i as u8;
        i += 1;
    }
    secret
};
const TEST_HMAC_KEY_ID: &str = "test-hmac-1";

/// TEST ONLY: the Ed25519 seed of RFC 8032 section 7.1, test 1 (public, so
/// never a real key).
const TEST_ED25519_SEED_HEX: &str =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const TEST_ED25519_PUBLIC_HEX: &str =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const TEST_ED25519_KEY_ID: &str = "test-ed25519-1";
/// The DER prefix of an unencrypted PKCS#8 v1 Ed25519 key (RFC 8410), before the seed.
const PKCS8_ED25519_PREFIX_HEX: &str = "302e020100300506032b657004220420";

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/testdata")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn pkcs8() -> Vec<u8> {
    unhex(&format!(
        "{PKCS8_ED25519_PREFIX_HEX}{TEST_ED25519_SEED_HEX}"
    ))
}

fn hmac_signer() -> PassportKeyRing {
    PassportKeyRing::new(
        PassportSigningKey::hmac_sha256(KeyId::new(TEST_HMAC_KEY_ID).unwrap(), &TEST_HMAC_SECRET)
            .unwrap(),
    )
}

fn ed25519_signer() -> PassportKeyRing {
    PassportKeyRing::new(
        PassportSigningKey::ed25519_from_pkcs8(KeyId::new(TEST_ED25519_KEY_ID).unwrap(), &pkcs8())
            .unwrap(),
    )
}

/// `value` with every object's keys in sorted order, whichever map serde_json was built
/// with: a workspace build unifies its features, and a dependency (cedar-policy) turns on
/// `preserve_order`, which would write `json!` objects in the order they are written here.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sorted(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Every file of `proto/testdata/` this test owns, as it must be, from the
/// reference passport and the test keys.
fn expected_files() -> Vec<(&'static str, Vec<u8>)> {
    let passport = fixtures::reference_passport(NOW).unwrap();
    let principal_json = serde_json::to_string_pretty(passport.principal()).unwrap() + "\n";
    let passport_json = serde_json::to_string_pretty(&sorted(json!({
        "principal": "principal.json",
        "request_id": passport.request_id().as_str(),
        "audience": passport.audience().as_str(),
        "issued_at": passport.issued_at().as_unix_seconds(),
        "expires_at": passport.expires_at().as_unix_seconds(),
        "verify_at": NOW.as_unix_seconds(),
    })))
    .unwrap()
        + "\n";
    let keys_json = serde_json::to_string_pretty(&sorted(json!({
        "warning": "TEST ONLY. These keys are published with Baton's test vectors; \
                    never use them, or anything derived from them, outside tests.",
        "hmac_sha256": {
            "key_id": TEST_HMAC_KEY_ID,
            "secret_hex": hex(&TEST_HMAC_SECRET),
        },
        "ed25519": {
            "key_id": TEST_ED25519_KEY_ID,
            "seed_hex": TEST_ED25519_SEED_HEX,
            "pkcs8_der_hex": hex(&pkcs8()),
            "public_key_hex": TEST_ED25519_PUBLIC_HEX,
        },
    })))
    .unwrap()
        + "\n";
    let bytes = passport.encode();
    let line = |text: String| (text + "\n").into_bytes();
    vec![
        ("principal.json", principal_json.into_bytes()),
        ("passport.json", passport_json.into_bytes()),
        ("test_keys.json", keys_json.into_bytes()),
        ("passport.binpb", bytes.clone()),
        ("passport.hex", line(hex(&bytes))),
        ("passport.b64", line(encode_header_value(&bytes))),
        (
            "signed_hmac_sha256.b64",
            line(hmac_signer().sign_header(&passport).unwrap()),
        ),
        (
            "signed_ed25519.b64",
            line(ed25519_signer().sign_header(&passport).unwrap()),
        ),
    ]
}

fn read(name: &str) -> Vec<u8> {
    let path = testdata().join(name);
    fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn read_text(name: &str) -> String {
    String::from_utf8(read(name)).unwrap()
}

fn read_json(name: &str) -> Value {
    serde_json::from_slice(&read(name)).unwrap()
}

#[test]
fn checked_in_vectors_are_current() {
    let regenerate = std::env::var("BATON_REGENERATE").as_deref() == Ok("1");
    for (name, expected) in expected_files() {
        let path = testdata().join(name);
        if regenerate {
            fs::create_dir_all(testdata()).unwrap();
            fs::write(&path, &expected).unwrap();
            continue;
        }
        let checked_in = fs::read(&path).unwrap_or_default();
        assert!(
            checked_in == expected,
            "proto/testdata/{name} is out of date; regenerate with \
             `BATON_REGENERATE=1 cargo test -p principal-proto --test vectors`"
        );
    }
}

/// The passport the vector files describe, built from `principal.json` and
/// `passport.json` alone (not from the fixture).
fn passport_from_json() -> (Passport, DecodeOptions, Timestamp) {
    let meta = read_json("passport.json");
    let principal: Principal =
        serde_json::from_slice(&read(meta["principal"].as_str().unwrap())).unwrap();
    let time = |field: &str| Timestamp::from_unix_seconds(meta[field].as_i64().unwrap());
    let audience = Audience::new(meta["audience"].as_str().unwrap()).unwrap();
    let passport = Passport::new(
        principal,
        RequestId::new(meta["request_id"].as_str().unwrap()).unwrap(),
        audience.clone(),
        time("issued_at"),
        time("expires_at"),
    )
    .unwrap();
    (passport, DecodeOptions::new(audience), time("verify_at"))
}

fn verifiers_from_json() -> (PassportVerifier, PassportVerifier) {
    let keys = read_json("test_keys.json");
    let hmac = &keys["hmac_sha256"];
    let hmac = PassportVerifyingKey::hmac_sha256(
        KeyId::new(hmac["key_id"].as_str().unwrap()).unwrap(),
        &unhex(hmac["secret_hex"].as_str().unwrap()),
    )
    .unwrap();
    let ed = &keys["ed25519"];
    let ed = PassportVerifyingKey::ed25519(
        KeyId::new(ed["key_id"].as_str().unwrap()).unwrap(),
        &unhex(ed["public_key_hex"].as_str().unwrap()),
    )
    .unwrap();
    (
        PassportVerifier::new([hmac]).unwrap(),
        PassportVerifier::new([ed]).unwrap(),
    )
}

#[test]
fn json_principal_encodes_to_the_checked_in_bytes() {
    let (passport, options, now) = passport_from_json();
    let bytes = read("passport.binpb");
    assert_eq!(passport.encode(), bytes);
    assert_eq!(read_text("passport.hex").trim_end(), hex(&bytes));
    assert_eq!(
        read_text("passport.b64").trim_end(),
        encode_header_value(&bytes)
    );
    // And the bytes decode back to the same passport.
    let peer = TrustedPeer::allowlisted("spiffe://baton.test/gateway").unwrap();
    assert_eq!(
        Passport::decode_unsigned(&bytes, &options, now, peer).unwrap(),
        passport
    );
}

#[test]
fn signed_headers_verify_with_the_test_keys() {
    let (passport, options, now) = passport_from_json();
    let (hmac, ed25519) = verifiers_from_json();
    for (name, verifier, other) in [
        ("signed_hmac_sha256.b64", &hmac, &ed25519),
        ("signed_ed25519.b64", &ed25519, &hmac),
    ] {
        let header = read_text(name);
        let header = header.trim_end();
        let verified = verifier.verify_header(header, &options, now).unwrap();
        assert_eq!(verified, passport, "{name}");
        assert_eq!(verified.principal(), passport.principal(), "{name}");
        // The other key (another algorithm and key id) does not verify it.
        assert_eq!(
            other
                .verify_header(header, &options, now)
                .unwrap_err()
                .reason(),
            "unknown_key_id",
            "{name}"
        );
    }
}

#[test]
fn a_corrupted_signed_header_is_refused() {
    let (_, options, now) = passport_from_json();
    let (hmac, ed25519) = verifiers_from_json();
    for (name, verifier) in [
        ("signed_hmac_sha256.b64", &hmac),
        ("signed_ed25519.b64", &ed25519),
    ] {
        let header = read_text(name);
        let signed = principal_proto::header::decode_header_value(header.trim_end(), 8192).unwrap();
        // The envelope starts with the passport: field key, a two-byte length,
        // the bytes. A flipped bit in any of them breaks the signature.
        let passport = read("passport.binpb");
        let inside = 3..3 + passport.len();
        assert_eq!(signed[inside.clone()], passport[..]);
        for index in inside {
            let mut corrupted = signed.clone();
            corrupted[index] ^= 0x01;
            let error = verifier.verify(&corrupted, &options, now).unwrap_err();
            assert!(
                matches!(error, PassportError::BadSignature { .. }),
                "{name}, byte {index}: {error:?}"
            );
        }
        // The last byte is in the signature.
        let mut corrupted = signed.clone();
        *corrupted.last_mut().unwrap() ^= 0x80;
        assert_eq!(
            verifier
                .verify(&corrupted, &options, now)
                .unwrap_err()
                .reason(),
            "bad_signature"
        );
    }
}
