//! Arbitrary bytes, arbitrary headers and arbitrary mutations of valid tokens: the JWT
//! verifier never panics and never authenticates any of them.
//!
//! Algorithm confusion is aimed at the asymmetric issuers (RS256, ES256 and EdDSA keys):
//! HMAC tokens keyed with a public key in every form an attacker might guess (including
//! the exact bytes the verifier holds), `none`, alg swaps between trusted keys, PSS for
//! PKCS#1 and DER for fixed-size ECDSA signatures. Each must be refused for the one
//! reason the verifier's order of checks gives, so a verifier that let HMAC past the
//! issuer's allow-list, or took the algorithm from the header instead of the key, fails
//! here even while another check still happens to stop the token.

mod support;

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::Algorithm;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use support::jwt::{
    Fixture, ISSUER_A, ISSUER_B, ISSUER_HMAC, KEYS, TestKey, alg_name, b64, claims, compact,
    fixture,
};
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

// ---- algorithm confusion at the asymmetric issuers ----

/// The test keys, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Rsa,
    Ec,
    Ed,
    BEc,
    BOverlap,
    Attacker,
}

const TRUSTED_AT_A: [Which; 3] = [Which::Rsa, Which::Ec, Which::Ed];
const ALL_KEYS: [Which; 6] = [
    Which::Rsa,
    Which::Ec,
    Which::Ed,
    Which::BEc,
    Which::BOverlap,
    Which::Attacker,
];

impl Which {
    fn key(self) -> &'static TestKey {
        let keys = &*KEYS;
        match self {
            Which::Rsa => &keys.rsa,
            Which::Ec => &keys.ec,
            Which::Ed => &keys.ed,
            Which::BEc => &keys.b_ec,
            Which::BOverlap => &keys.b_overlap,
            Which::Attacker => &keys.attacker,
        }
    }
}

/// The key `kid` names at `iss` (A: `rsa-1`, `ec-1`, `ed-1`; B: `b-ec-1`, and its own
/// `ec-1`), or `None` when the kid is unknown there or missing (both sets hold several
/// keys, so a token without `kid` names none).
fn trusted(iss: &str, kid: Option<&str>) -> Option<Which> {
    match (iss, kid?) {
        (ISSUER_A, "rsa-1") => Some(Which::Rsa),
        (ISSUER_A, "ec-1") => Some(Which::Ec),
        (ISSUER_A, "ed-1") => Some(Which::Ed),
        (ISSUER_B, "b-ec-1") => Some(Which::BEc),
        (ISSUER_B, "ec-1") => Some(Which::BOverlap),
        _ => None,
    }
}

/// A public key as an attacker might feed it to HMAC as the secret.
#[derive(Clone, Copy, Debug)]
enum KeyForm {
    /// What is published or in certificates: SubjectPublicKeyInfo DER for RSA, the
    /// uncompressed point for EC, the 32 bytes for Ed25519.
    Published,
    /// The bytes the verifier itself holds: the PKCS#1 `RSAPublicKey` DER for RSA (the
    /// point and the 32 bytes for EC and Ed25519).
    Held,
    /// The JWK as JSON text.
    JwkText,
    /// The base64url `n` (RSA) or `x` (EC, OKP) member as text.
    Member,
    /// SubjectPublicKeyInfo in PEM armour (RSA), else the published bytes.
    Pem,
}

fn key_form() -> impl Strategy<Value = KeyForm> {
    prop_oneof![
        Just(KeyForm::Published),
        Just(KeyForm::Held),
        Just(KeyForm::JwkText),
        Just(KeyForm::Member),
        Just(KeyForm::Pem),
    ]
}

fn der_length(out: &mut Vec<u8>, length: usize) {
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes = length.to_be_bytes();
        let first = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - first) as u8);
        out.extend_from_slice(&bytes[first..]);
    }
}

/// A DER `SEQUENCE` of two unsigned `INTEGER`s given big-endian.
fn der_pair(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for magnitude in [a, b] {
        let first = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len() - 1);
        let magnitude = &magnitude[first..];
        let pad = magnitude[0] & 0x80 != 0;
        body.push(0x02);
        der_length(&mut body, magnitude.len() + usize::from(pad));
        if pad {
            body.push(0);
        }
        body.extend_from_slice(magnitude);
    }
    let mut der = vec![0x30];
    der_length(&mut der, body.len());
    der.extend_from_slice(&body);
    der
}

fn jwk_member(key: &TestKey, name: &str) -> Vec<u8> {
    let text = key.jwk[name].as_str().expect("JWK member");
    URL_SAFE_NO_PAD.decode(text).expect("base64url member")
}

fn secret(key: &TestKey, form: KeyForm) -> Vec<u8> {
    let rsa = key.alg == Algorithm::RS256;
    match form {
        KeyForm::Published => key.public.clone(),
        KeyForm::Held if rsa => der_pair(&jwk_member(key, "n"), &jwk_member(key, "e")),
        KeyForm::Held => key.public.clone(),
        KeyForm::JwkText => key.jwk.to_string().into_bytes(),
        KeyForm::Member => key.jwk[if rsa { "n" } else { "x" }]
            .as_str()
            .expect("member")
            .as_bytes()
            .to_vec(),
        KeyForm::Pem if rsa => {
            let body = STANDARD.encode(&key.public);
            let lines: Vec<&str> = body
                .as_bytes()
                .chunks(64)
                .map(|line| std::str::from_utf8(line).expect("ascii"))
                .collect();
            format!(
                "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                lines.join("\n")
            )
            .into_bytes()
        }
        KeyForm::Pem => key.public.clone(),
    }
}

/// How the signature segment of a forged token is made.
#[derive(Clone, Debug)]
enum Forgery {
    /// HMAC keyed with a trusted public key.
    Hmac {
        hmac: Algorithm,
        key: Which,
        form: KeyForm,
    },
    /// A valid signature of a key the verifier trusts (or the attacker's), under `alg`,
    /// which need not be the algorithm the verifier fixed for that key.
    Signed { key: Which, alg: Algorithm },
    /// A valid ES256 signature re-encoded as DER instead of JWS's fixed `r || s`.
    DerEcdsa { key: Which },
    /// A valid signature with its last byte cut off.
    Truncated { key: Which },
    /// No signature at all.
    Unsecured,
}

impl Forgery {
    /// The algorithm the forger would naturally name in the header.
    fn natural_alg(&self) -> Option<Algorithm> {
        match self {
            Forgery::Hmac { hmac, .. } => Some(*hmac),
            Forgery::Signed { alg, .. } => Some(*alg),
            Forgery::DerEcdsa { .. } => Some(Algorithm::ES256),
            Forgery::Truncated { key } => Some(key.key().alg),
            Forgery::Unsecured => None,
        }
    }

    /// The key the forger would naturally name by `kid`.
    fn natural_key(&self) -> Option<Which> {
        match self {
            Forgery::Hmac { key, .. }
            | Forgery::Signed { key, .. }
            | Forgery::DerEcdsa { key }
            | Forgery::Truncated { key } => Some(*key),
            Forgery::Unsecured => None,
        }
    }

    fn signature(&self, signing_input: &str) -> String {
        let sign = |key: &TestKey, alg| {
            jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key.encoding, alg).expect("signs")
        };
        match self {
            Forgery::Hmac { hmac, key, form } => sign_hmac(signing_input, *hmac, key, *form),
            Forgery::Signed { key, alg } => sign(key.key(), *alg),
            Forgery::DerEcdsa { key } => {
                let fixed = URL_SAFE_NO_PAD
                    .decode(sign(key.key(), Algorithm::ES256))
                    .expect("base64url");
                b64(der_pair(&fixed[..32], &fixed[32..]))
            }
            Forgery::Truncated { key } => {
                let key = key.key();
                let full = URL_SAFE_NO_PAD
                    .decode(sign(key, key.alg))
                    .expect("base64url");
                b64(&full[..full.len() - 1])
            }
            Forgery::Unsecured => String::new(),
        }
    }
}

fn sign_hmac(signing_input: &str, hmac: Algorithm, key: &Which, form: KeyForm) -> String {
    let secret = secret(key.key(), form);
    jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(&secret),
        hmac,
    )
    .expect("signs")
}

fn forgery() -> impl Strategy<Value = Forgery> {
    let which = prop::sample::select(ALL_KEYS.to_vec());
    let trusted = prop::sample::select(TRUSTED_AT_A.to_vec());
    let hmac = prop::sample::select(vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]);
    let rsa_alg = prop::sample::select(vec![
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ]);
    let ec_key = prop::sample::select(vec![
        Which::Ec,
        Which::BEc,
        Which::BOverlap,
        Which::Attacker,
    ]);
    prop_oneof![
        4 => (hmac, trusted, key_form()).prop_map(|(hmac, key, form)| Forgery::Hmac { hmac, key, form }),
        1 => (hmac_any_key(), key_form()).prop_map(|((hmac, key), form)| Forgery::Hmac { hmac, key, form }),
        2 => rsa_alg.prop_map(|alg| Forgery::Signed { key: Which::Rsa, alg }),
        2 => which.clone().prop_map(|key| Forgery::Signed { key, alg: key.key().alg }),
        1 => ec_key.prop_map(|key| Forgery::DerEcdsa { key }),
        1 => which.prop_map(|key| Forgery::Truncated { key }),
        1 => Just(Forgery::Unsecured),
    ]
}

fn hmac_any_key() -> impl Strategy<Value = (Algorithm, Which)> {
    (
        prop::sample::select(vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]),
        prop::sample::select(ALL_KEYS.to_vec()),
    )
}

/// Every algorithm name the header may carry: all of Baton's, `none` in several
/// spellings, and names of algorithms Baton does not know.
const ALG_NAMES: [&str; 18] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "EdDSA", "none", "None", "NONE", "nOnE", "ES512", "rs256",
];

fn algorithm_named(name: &str) -> Option<Algorithm> {
    [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ]
    .into_iter()
    .find(|alg| alg_name(*alg) == name)
}

/// A forged token for an asymmetric issuer: the forgery, and the header's `alg` and `kid`,
/// mostly the ones the forgery suggests (the algorithm it used, or the one its key is
/// fixed to), so coherent attacks are common; else any.
#[derive(Clone, Debug)]
struct Confusion {
    iss: &'static str,
    alg: String,
    kid: Option<String>,
    forgery: Forgery,
}

fn confusion() -> impl Strategy<Value = Confusion> {
    let iss = prop_oneof![3 => Just(ISSUER_A), 1 => Just(ISSUER_B)];
    (iss, forgery()).prop_flat_map(|(iss, forgery)| {
        let natural_alg = forgery
            .natural_alg()
            .map_or_else(|| "none".to_owned(), alg_name);
        let natural_kid = forgery.natural_key().map(|key| key.key().kid.clone());
        // The algorithm the named key is fixed to: a forger claiming it while signing
        // with another padding, hash or encoding.
        let claimed_alg = forgery
            .natural_key()
            .map_or_else(|| "none".to_owned(), |key| alg_name(key.key().alg));
        let any_alg = prop::sample::select(ALG_NAMES.to_vec()).prop_map(str::to_owned);
        let any_kid = prop::sample::select(vec![
            Some("rsa-1"),
            Some("ec-1"),
            Some("ed-1"),
            Some("b-ec-1"),
            Some("attacker-1"),
            Some("hs-1"),
            None,
        ])
        .prop_map(|kid| kid.map(str::to_owned));
        (
            prop_oneof![3 => Just(natural_alg), 2 => Just(claimed_alg), 1 => any_alg],
            prop_oneof![3 => Just(natural_kid), 1 => any_kid],
        )
            .prop_map(move |(alg, kid)| Confusion {
                iss,
                alg,
                kid,
                forgery: forgery.clone(),
            })
    })
}

impl Confusion {
    fn token(&self) -> String {
        let mut header = json!({ "alg": self.alg, "typ": "JWT" });
        if let Some(kid) = &self.kid {
            header["kid"] = json!(kid);
        }
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string()),
            b64(claims(self.iss).to_string())
        );
        let signature = self.forgery.signature(&signing_input);
        format!("{signing_input}.{signature}")
    }

    /// Whether this is no forgery at all: the named key's own signature under its own
    /// algorithm, named correctly.
    fn genuine(&self) -> bool {
        match (&self.forgery, trusted(self.iss, self.kid.as_deref())) {
            (Forgery::Signed { key, alg }, Some(named)) => {
                *key == named && *alg == key.key().alg && alg_name(*alg) == self.alg
            }
            _ => false,
        }
    }

    /// The one reason the verifier's order of checks gives: the header's `alg` must be
    /// a known algorithm (never `none`); the signature must be present; the issuer's
    /// allow-list (asymmetric algorithms only) comes before any key is looked up; the key
    /// named by `kid` must exist; its algorithm must equal the header's; and only then
    /// is the signature checked.
    fn expected_reason(&self) -> &'static str {
        let Some(alg) = algorithm_named(&self.alg) else {
            return "unsupported_algorithm";
        };
        if matches!(self.forgery, Forgery::Unsecured) {
            return "malformed_token";
        }
        if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return "unsupported_algorithm";
        }
        let Some(key) = trusted(self.iss, self.kid.as_deref()) else {
            return "unknown_key_id";
        };
        if key.key().alg != alg {
            return "algorithm_mismatch";
        }
        "bad_signature"
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn algorithm_confusion_at_asymmetric_issuers_never_authenticates(
        confusion in confusion()
    ) {
        prop_assume!(!confusion.genuine());
        let reason = refused(&confusion.token())?;
        prop_assert_eq!(reason, confusion.expected_reason(), "{:?}", confusion);
    }

    #[test]
    fn signatures_of_any_length_under_a_trusted_header_never_authenticate(
        which in prop::sample::select(TRUSTED_AT_A.to_vec()),
        bytes in prop::collection::vec(any::<u8>(), 0..1600),
    ) {
        let key = which.key();
        let genuine = key.token(&claims(ISSUER_A));
        let (signing_input, _) = genuine.rsplit_once('.').expect("three segments");
        let token = format!("{signing_input}.{}", b64(&bytes));
        let expected = if bytes.is_empty() { "malformed_token" } else { "bad_signature" };
        prop_assert_eq!(refused(&token)?, expected);
    }
}

#[test]
fn the_confusion_fixture_knows_the_genuine_tokens() {
    // Guards the confusion property: its idea of "genuine" and of the trusted keys must
    // match the verifier's, or it would skip real forgeries or expect wrong reasons.
    for which in [
        Which::Rsa,
        Which::Ec,
        Which::Ed,
        Which::BEc,
        Which::BOverlap,
    ] {
        let key = which.key();
        let iss = if TRUSTED_AT_A.contains(&which) {
            ISSUER_A
        } else {
            ISSUER_B
        };
        let confusion = Confusion {
            iss,
            alg: alg_name(key.alg),
            kid: Some(key.kid.clone()),
            forgery: Forgery::Signed {
                key: which,
                alg: key.alg,
            },
        };
        assert!(confusion.genuine());
        assert!(
            FIXTURE.verifier.verify_sync(&confusion.token()).is_ok(),
            "{which:?}"
        );
    }
    // The held RSA form is what the verifier keeps: the DER of n and e, 270 bytes for a
    // 2048-bit key, and the tail of the published SubjectPublicKeyInfo.
    let held = secret(&KEYS.rsa, KeyForm::Held);
    assert_eq!(held.len(), 270);
    assert!(KEYS.rsa.public.ends_with(&held));
}
