//! Which JWKs become keys, and which are dropped (each with its typed reason), or make the
//! whole set fail.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use support::start_idp;
use tower_auth::jwks::{DropReason, JwksError, KeySet, KeySetLoad, KeySetPolicy};

/// The dev IdP's RSA, EC and OKP JWKs (all valid, with kids).
async fn templates() -> (Value, Value, Value) {
    let idp = start_idp().await;
    let jwks = idp.jwks();
    let keys = jwks["keys"].as_array().expect("keys").clone();
    let pick = |kty: &str| {
        keys.iter()
            .find(|k| k["kty"] == kty)
            .cloned()
            .expect("template key")
    };
    (pick("RSA"), pick("EC"), pick("OKP"))
}

fn load(keys: Vec<Value>) -> Result<KeySetLoad, JwksError> {
    load_with(keys, &KeySetPolicy::default())
}

fn load_with(keys: Vec<Value>, policy: &KeySetPolicy) -> Result<KeySetLoad, JwksError> {
    KeySet::from_jwks_json(json!({ "keys": keys }).to_string().as_bytes(), policy)
}

/// Loads `good` and `bad` together; `bad` must be dropped for `reason`.
fn assert_dropped(good: &Value, bad: Value, reason: DropReason) {
    let load = load(vec![good.clone(), bad.clone()]).expect("the good key loads");
    assert_eq!(load.set.len(), 1, "only the good key: {bad}");
    assert_eq!(load.dropped.len(), 1, "{bad}");
    assert_eq!(load.dropped[0].index, 1);
    assert_eq!(load.dropped[0].reason, reason, "{bad}");
}

/// The three templates' keys are in `load` with RS256, ES256 and EdDSA.
fn assert_rs256_es256_eddsa(load: &KeySetLoad, [rsa, ec, okp]: [&Value; 3]) {
    for (jwk, algorithm) in [
        (rsa, Algorithm::RS256),
        (ec, Algorithm::ES256),
        (okp, Algorithm::EdDSA),
    ] {
        let kid = jwk["kid"].as_str().expect("kid");
        assert_eq!(load.set.get(kid).map(|k| k.algorithm()), Some(algorithm));
    }
}

fn with(mut key: Value, member: &str, value: Value) -> Value {
    key[member] = value;
    key
}

fn without(mut key: Value, member: &str) -> Value {
    key.as_object_mut().expect("object").remove(member);
    key
}

#[tokio::test]
async fn valid_keys_of_every_type_load_with_their_algorithm() {
    let (rsa, ec, okp) = templates().await;
    let load = load(vec![rsa.clone(), ec.clone(), okp.clone()]).expect("loads");
    assert!(load.dropped.is_empty());
    assert_rs256_es256_eddsa(&load, [&rsa, &ec, &okp]);
}

#[tokio::test]
async fn use_other_than_sig_is_dropped() {
    let (rsa, ec, _) = templates().await;
    assert_dropped(
        &ec,
        with(rsa.clone(), "use", json!("enc")),
        DropReason::UseNotSig {
            key_use: "enc".into(),
        },
    );
    assert_dropped(
        &ec,
        with(rsa, "use", json!("SIG")),
        DropReason::UseNotSig {
            key_use: "SIG".into(),
        },
    );
}

#[tokio::test]
async fn key_ops_without_verify_is_dropped() {
    let (rsa, ec, _) = templates().await;
    assert_dropped(
        &ec,
        with(rsa.clone(), "key_ops", json!(["encrypt", "wrapKey"])),
        DropReason::KeyOpsWithoutVerify,
    );
    let load = load(vec![with(rsa, "key_ops", json!(["verify"]))]).expect("verify is fine");
    assert_eq!(load.set.len(), 1);
}

#[tokio::test]
async fn alg_that_does_not_fit_kty_is_dropped() {
    let (rsa, ec, okp) = templates().await;
    for (bad, kty, alg) in [
        (with(rsa.clone(), "alg", json!("HS256")), "RSA", "HS256"),
        (with(rsa.clone(), "alg", json!("ES256")), "RSA", "ES256"),
        (with(ec.clone(), "alg", json!("RS256")), "EC", "RS256"),
        (with(ec.clone(), "alg", json!("EdDSA")), "EC", "EdDSA"),
        (with(okp.clone(), "alg", json!("ES256")), "OKP", "ES256"),
    ] {
        assert_dropped(
            if kty == "EC" { &okp } else { &ec },
            bad,
            DropReason::AlgorithmKeyTypeMismatch {
                kty: kty.into(),
                alg: alg.into(),
            },
        );
    }
}

#[tokio::test]
async fn unknown_algorithms_are_dropped() {
    let (rsa, ec, _) = templates().await;
    for alg in ["RSA-OAEP", "none", "ES512", "rs256"] {
        assert_dropped(
            &ec,
            with(rsa.clone(), "alg", json!(alg)),
            DropReason::UnsupportedAlgorithm { alg: alg.into() },
        );
    }
}

#[tokio::test]
async fn algorithms_the_issuer_does_not_allow_are_dropped() {
    let (rsa, ec, _) = templates().await;
    let es_only = KeySetPolicy::builder()
        .allowed_algorithms([Algorithm::ES256])
        .build()
        .expect("policy");
    let load = load_with(vec![ec, rsa.clone()], &es_only).expect("EC loads");
    assert_eq!(
        load.dropped[0].reason,
        DropReason::AlgorithmNotAllowed {
            algorithm: Algorithm::RS256
        }
    );
    // An RSA key without alg means RS256, which a PS256-only issuer does not allow.
    let ps_only = KeySetPolicy::builder()
        .allowed_algorithms([Algorithm::PS256])
        .build()
        .expect("policy");
    let err = load_with(vec![without(rsa.clone(), "alg")], &ps_only).expect_err("dropped");
    assert_eq!(err, JwksError::NoUsableKeys { dropped: 1 });
    // With alg PS256 it loads as PS256.
    let load = load_with(vec![with(rsa, "alg", json!("PS256"))], &ps_only).expect("loads");
    assert_eq!(
        load.set.iter().next().map(|k| k.algorithm()),
        Some(Algorithm::PS256)
    );
}

#[tokio::test]
async fn a_jwk_without_alg_takes_the_algorithm_its_key_implies() {
    let (rsa, ec, okp) = templates().await;
    let load = load(vec![
        without(rsa.clone(), "alg"),
        without(ec.clone(), "alg"),
        without(okp.clone(), "alg"),
    ])
    .expect("loads");
    assert_rs256_es256_eddsa(&load, [&rsa, &ec, &okp]);
}

#[tokio::test]
async fn small_rsa_keys_are_dropped() {
    let (rsa, ec, _) = templates().await;
    let mut modulus = vec![0xC3u8; 128];
    modulus[127] |= 1;
    assert_dropped(
        &ec,
        with(rsa.clone(), "n", json!(URL_SAFE_NO_PAD.encode(&modulus))),
        DropReason::RsaKeyTooSmall {
            bits: 1024,
            minimum: 2048,
        },
    );
    // A stricter issuer drops the dev IdP's 2048-bit key too.
    let strict = KeySetPolicy::builder()
        .min_rsa_bits(3072)
        .build()
        .expect("policy");
    let load = load_with(vec![ec, rsa], &strict).expect("EC loads");
    assert_eq!(
        load.dropped[0].reason,
        DropReason::RsaKeyTooSmall {
            bits: 2048,
            minimum: 3072
        }
    );
}

#[tokio::test]
async fn curves_must_fit_the_algorithm_and_be_supported() {
    let (rsa, ec, okp) = templates().await;
    assert_dropped(
        &rsa,
        with(ec.clone(), "crv", json!("P-384")),
        DropReason::CurveMismatch {
            crv: "P-384".into(),
            algorithm: Algorithm::ES256,
        },
    );
    assert_dropped(
        &rsa,
        with(ec.clone(), "crv", json!("P-521")),
        DropReason::UnsupportedCurve {
            crv: "P-521".into(),
        },
    );
    assert_dropped(
        &rsa,
        with(without(ec.clone(), "alg"), "crv", json!("secp256k1")),
        DropReason::UnsupportedCurve {
            crv: "secp256k1".into(),
        },
    );
    assert_dropped(
        &rsa,
        with(okp, "crv", json!("X25519")),
        DropReason::UnsupportedCurve {
            crv: "X25519".into(),
        },
    );
    assert_dropped(
        &rsa,
        without(ec, "crv"),
        DropReason::Malformed {
            detail: "EC key without crv".into(),
        },
    );
}

#[tokio::test]
async fn symmetric_keys_are_never_taken_from_a_jwks() {
    let (_, ec, _) = templates().await;
    assert_dropped(
        &ec,
        json!({"kty": "oct", "kid": "hs", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode([7u8; 32])}),
        DropReason::SymmetricKeyInFetchedSet,
    );
    // Even disguised with another kty.
    assert_dropped(
        &ec,
        json!({"kty": "RSA", "kid": "hs", "k": URL_SAFE_NO_PAD.encode([7u8; 32])}),
        DropReason::SymmetricKeyInFetchedSet,
    );
}

#[tokio::test]
async fn private_key_members_are_dropped() {
    let (rsa, ec, _) = templates().await;
    assert_dropped(
        &rsa,
        with(ec, "d", json!(URL_SAFE_NO_PAD.encode([1u8; 32]))),
        DropReason::PrivateKeyMaterial,
    );
}

#[tokio::test]
async fn duplicate_kids_keep_the_first() {
    let (rsa, ec, _) = templates().await;
    let kid = rsa["kid"].clone();
    let load = load(vec![rsa, with(ec, "kid", kid.clone())]).expect("loads");
    assert_eq!(load.set.len(), 1);
    let kept = load.set.get(kid.as_str().expect("kid")).expect("kept");
    assert_eq!(kept.algorithm(), Algorithm::RS256, "the first is kept");
    assert_eq!(load.dropped[0].reason, DropReason::DuplicateKeyId);
    assert_eq!(load.dropped[0].index, 1);
}

#[tokio::test]
async fn a_key_without_kid_is_kept_only_when_it_is_the_only_key() {
    let (rsa, ec, _) = templates().await;
    assert_dropped(
        &rsa,
        without(ec.clone(), "kid"),
        DropReason::MissingKeyIdInMultiKeySet,
    );

    let single = load(vec![without(ec.clone(), "kid")]).expect("a single kid-less key loads");
    assert_eq!(single.set.len(), 1);
    assert!(single.set.sole_key().is_some());
    assert!(single.set.get("anything").is_none());

    // Only usable keys count: a kid-less signing key beside an encryption key is kept.
    let mixed = load(vec![with(rsa, "use", json!("enc")), without(ec, "kid")]).expect("loads");
    assert_eq!(mixed.set.len(), 1);
    assert!(mixed.set.sole_key().is_some());
}

#[tokio::test]
async fn invalid_key_material_is_dropped() {
    let (rsa, ec, okp) = templates().await;
    let material = |detail: &'static str| DropReason::InvalidKeyMaterial { detail };
    // A point off the curve.
    let mut x = URL_SAFE_NO_PAD
        .decode(ec["x"].as_str().expect("x"))
        .expect("b64");
    x[31] ^= 1;
    assert_dropped(
        &rsa,
        with(ec.clone(), "x", json!(URL_SAFE_NO_PAD.encode(&x))),
        material("EC point is not on the curve"),
    );
    assert_dropped(
        &rsa,
        with(ec.clone(), "y", json!(URL_SAFE_NO_PAD.encode([1u8; 31]))),
        material("EC coordinate of the wrong length for the curve"),
    );
    assert_dropped(&rsa, without(ec.clone(), "y"), material("EC key without y"));
    // Padded base64 is not base64url as JWK requires.
    let padded = format!("{}=", ec["x"].as_str().expect("x"));
    assert_dropped(
        &rsa,
        with(ec.clone(), "x", json!(padded)),
        material("a key member is not unpadded base64url"),
    );
    assert_dropped(
        &ec,
        with(okp.clone(), "x", json!(URL_SAFE_NO_PAD.encode([1u8; 31]))),
        material("Ed25519 public key is not 32 bytes"),
    );
    // An even RSA modulus is not an RSA key.
    let mut n = URL_SAFE_NO_PAD
        .decode(rsa["n"].as_str().expect("n"))
        .expect("b64");
    let last = n.len() - 1;
    n[last] &= 0xFE;
    assert_dropped(
        &ec,
        with(rsa.clone(), "n", json!(URL_SAFE_NO_PAD.encode(&n))),
        material("not a valid RSA public key"),
    );
    assert_dropped(&ec, without(rsa, "e"), material("RSA key without e"));
}

#[tokio::test]
async fn malformed_jwks_are_dropped() {
    let (rsa, ec, _) = templates().await;
    let load = load(vec![
        ec.clone(),
        json!("not an object"),
        with(rsa.clone(), "kid", json!(42)),
        without(rsa.clone(), "kty"),
        with(rsa.clone(), "kty", json!("FOO")),
        with(rsa.clone(), "kid", json!("")),
        with(rsa, "kid", json!("k".repeat(257))),
    ])
    .expect("the EC key loads");
    assert_eq!(load.set.len(), 1);
    let reasons: Vec<&str> = load.dropped.iter().map(|d| d.reason.reason()).collect();
    assert_eq!(
        reasons,
        [
            "malformed_jwk",
            "malformed_jwk",
            "malformed_jwk",
            "unsupported_kty",
            "invalid_kid",
            "invalid_kid"
        ]
    );
    assert_eq!(
        load.dropped[3].reason,
        DropReason::UnsupportedKeyType { kty: "FOO".into() }
    );
}

#[tokio::test]
async fn whole_set_failures() {
    let (rsa, _, _) = templates().await;
    let policy = KeySetPolicy::default();
    for (bytes, reason) in [
        (&b"{\"keys\": ["[..], "invalid_json"),
        (&b"[]"[..], "invalid_json"),
        (&b"{\"keys\": {}}"[..], "invalid_json"),
        (&b"<html></html>"[..], "invalid_json"),
        (&b"{\"keys\": []}"[..], "empty_key_set"),
    ] {
        let err = KeySet::from_jwks_json(bytes, &policy).expect_err("fails");
        assert_eq!(err.reason(), reason);
    }
    let too_many = vec![rsa.clone(); 65];
    assert_eq!(
        load(too_many).expect_err("too many"),
        JwksError::TooManyKeys {
            count: 65,
            limit: 64
        }
    );
    let all_bad = vec![with(rsa.clone(), "use", json!("enc")), json!(1)];
    assert_eq!(
        load(all_bad).expect_err("none usable"),
        JwksError::NoUsableKeys { dropped: 2 }
    );
}

#[tokio::test]
async fn key_debug_output_shows_no_key_material() {
    let (rsa, _, _) = templates().await;
    let n = rsa["n"].as_str().expect("n").to_owned();
    let load = load(vec![rsa]).expect("loads");
    let shown = format!("{:?}", load.set);
    assert!(shown.contains("RS256"));
    assert!(!shown.contains(&n[..16]));
}
