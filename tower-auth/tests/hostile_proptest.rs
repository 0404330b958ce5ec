//! Arbitrary bytes, arbitrary headers and arbitrary mutations of valid tokens: the JWT
//! verifier never panics and never authenticates any of them.

mod support;

use std::sync::LazyLock;

use jsonwebtoken::Algorithm;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use support::jwt::{Fixture, ISSUER_A, ISSUER_HMAC, KEYS, b64, claims, compact, fixture};
use tower_auth::AuthError;

static FIXTURE: LazyLock<Fixture> = LazyLock::new(fixture);
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
});

/// Both paths refuse `token`; returns the (agreeing) reason.
fn refused(token: &str) -> Result<&'static str, TestCaseError> {
    let f = &*FIXTURE;
    let synchronous = f.verifier.verify_sync(token);
    let asynchronous = RUNTIME.block_on(f.verifier.verify_token(token));
    match (synchronous, asynchronous) {
        (Err(a), Err(b)) => {
            prop_assert_eq!(a.reason(), b.reason());
            Ok(a.reason())
        }
        (s, a) => Err(TestCaseError::fail(format!(
            "authenticated a hostile token: sync {:?}, async {:?}",
            s.map(|v| v.id().to_string()),
            a.map(|v| v.id().to_string())
        ))),
    }
}

fn json_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,24}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Header members from the dangerous and the ordinary, in any combination.
fn header() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        Just(json!("none")),
        Just(json!("None")),
        Just(json!("NONE")),
        Just(json!("nOnE")),
        Just(json!("ES256")),
        Just(json!("RS256")),
        Just(json!("EdDSA")),
        Just(json!("HS256")),
        Just(json!("PS256")),
        json_value(),
    ];
    let kid = prop_oneof![
        Just(json!("ec-1")),
        Just(json!("rsa-1")),
        Just(json!("ed-1")),
        Just(json!("hs-1")),
        Just(json!("b-ec-1")),
        json_value(),
    ];
    let extra = prop::collection::btree_map(
        prop_oneof![
            Just("typ".to_owned()),
            Just("crit".to_owned()),
            Just("jku".to_owned()),
            Just("x5u".to_owned()),
            Just("jwk".to_owned()),
            Just("x5c".to_owned()),
            Just("cty".to_owned()),
            Just("b64".to_owned()),
            ".{0,6}",
        ],
        json_value(),
        0..4,
    );
    (prop::option::of(alg), prop::option::of(kid), extra).prop_map(|(alg, kid, extra)| {
        let mut header: Map<String, Value> = extra.into_iter().collect();
        if let Some(alg) = alg {
            header.insert("alg".into(), alg);
        }
        if let Some(kid) = kid {
            header.insert("kid".into(), kid);
        }
        Value::Object(header)
    })
}

/// Valid-looking claims with some members replaced by arbitrary values, or anything.
fn payload() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::collection::btree_map(
            prop_oneof![
                Just("iss".to_owned()),
                Just("aud".to_owned()),
                Just("exp".to_owned()),
                Just("nbf".to_owned()),
                Just("sub".to_owned()),
                Just("act".to_owned()),
                Just("scope".to_owned()),
                ".{0,6}",
            ],
            json_value(),
            0..4,
        )
        .prop_map(|changes| {
            let mut claims = claims(ISSUER_A);
            let object = claims.as_object_mut().expect("object");
            for (name, value) in changes {
                object.insert(name, value);
            }
            claims
        }),
        json_value(),
    ]
}

/// Signatures nobody trusted made: random bytes, none, or the attacker's key.
#[derive(Clone, Debug)]
enum Signer {
    Random(Vec<u8>),
    Empty,
    Attacker,
    /// HS256 with the EC public key as the secret.
    PublicKeyAsSecret,
}

fn signer() -> impl Strategy<Value = Signer> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Signer::Random),
        Just(Signer::Empty),
        Just(Signer::Attacker),
        Just(Signer::PublicKeyAsSecret),
    ]
}

fn sign(header: &Value, payload: &Value, signer: &Signer) -> String {
    let (header, payload) = (header.to_string(), payload.to_string());
    match signer {
        Signer::Random(bytes) => format!("{}.{}.{}", b64(&header), b64(&payload), b64(bytes)),
        Signer::Empty => format!("{}.{}.", b64(&header), b64(&payload)),
        Signer::Attacker => compact(&header, &payload, &KEYS.attacker.encoding, Algorithm::ES256),
        Signer::PublicKeyAsSecret => compact(
            &header,
            &payload,
            &jsonwebtoken::EncodingKey::from_secret(&KEYS.ec.public),
            Algorithm::HS256,
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings_never_authenticate(token in ".{0,600}") {
        refused(&token)?;
    }

    #[test]
    fn arbitrary_bytes_never_authenticate(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        refused(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn arbitrary_segments_never_authenticate(
        parts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..6)
    ) {
        let token = parts.iter().map(b64).collect::<Vec<_>>().join(".");
        refused(&token)?;
    }

    #[test]
    fn arbitrary_headers_and_claims_never_authenticate(
        header in header(),
        payload in payload(),
        signer in signer(),
    ) {
        refused(&sign(&header, &payload, &signer))?;
    }

    #[test]
    fn arbitrary_claims_to_the_hmac_issuer_with_public_keys_never_authenticate(
        kid in prop_oneof![Just("hs-1"), Just("ec-1"), Just("rsa-1")],
        payload in payload(),
    ) {
        let mut payload = payload;
        if let Some(object) = payload.as_object_mut() {
            object.insert("iss".into(), json!(ISSUER_HMAC));
        }
        let header = json!({"alg": "HS256", "kid": kid});
        refused(&sign(&header, &payload, &Signer::PublicKeyAsSecret))?;
    }

    #[test]
    fn one_changed_character_never_authenticates(
        index in any::<prop::sample::Index>(),
        replacement in prop::char::range('!', '~'),
        which in 0..3usize,
    ) {
        let key = [&KEYS.ec, &KEYS.rsa, &KEYS.ed][which];
        let token = key.token(&claims(ISSUER_A));
        let position = index.index(token.len());
        let original = token.as_bytes()[position] as char;
        prop_assume!(original != replacement);
        let mut mutated = token.clone();
        mutated.replace_range(position..=position, &replacement.to_string());
        refused(&mutated)?;
    }
}

#[test]
fn the_mutated_tokens_are_valid_before_mutation() {
    // Guards the last property: without it, a broken fixture would make it vacuous.
    for key in [&KEYS.ec, &KEYS.rsa, &KEYS.ed] {
        let token = key.token(&claims(ISSUER_A));
        assert!(FIXTURE.verifier.verify_sync(&token).is_ok());
        assert!(!matches!(
            FIXTURE.verifier.verify_sync(&format!("{token}x")),
            Ok(_) | Err(AuthError::Internal { .. })
        ));
    }
}
