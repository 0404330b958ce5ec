//! Helpers for the JWT verifier's tests (`jwt_*.rs`, `hostile_*.rs`): keys whose private
//! halves the tests hold, so every header byte of a token can be chosen and signed, and
//! a verifier over several issuers built from them.

use std::sync::{Arc, LazyLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{CommonParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey};
use principal::{Audience, Issuer, Scope, TestClock};
use serde_json::{Value, json};
use tower_auth::AuthError;
use tower_auth::dev_idp::rsa_encoding_key;
use tower_auth::jwks::{KeySet, KeySetPolicy, SymmetricKey};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::revocation::Denylist;

use super::{START, test_clock};

/// The audience every test issuer accepts.
pub const AUD: &str = "api";
/// Issuer with an RS256, an ES256 and an EdDSA key (`rsa-1`, `ec-1`, `ed-1`).
pub const ISSUER_A: &str = "https://a.example";
/// Issuer with its own ES256 keys, one of them also named `ec-1`.
pub const ISSUER_B: &str = "https://b.example";
/// Issuer with an HMAC secret (`hs-1`).
pub const ISSUER_HMAC: &str = "https://hmac.example";
/// Issuer that requires `typ: at+jwt` (key `ec-1`, A's key material).
pub const ISSUER_TYPED: &str = "https://typed.example";
/// Issuer that requires the `jti` claim and the `orders:write` scope (key `ec-1`).
pub const ISSUER_STRICT: &str = "https://strict.example";
/// The HMAC secret of [`ISSUER_HMAC`].
pub const HMAC_SECRET: [u8; 32] = [0x42; 32];

/// A key pair the tests sign with.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    /// The public JWK, as an IdP would publish it.
    pub jwk: Value,
    /// The public key's bytes (SubjectPublicKeyInfo DER for RSA, the point for EC, the
    /// 32 bytes for Ed25519): what an algorithm-confusion attacker uses as an HMAC secret.
    pub public: Vec<u8>,
}

impl TestKey {
    pub fn generate(kid: &str, alg: Algorithm) -> TestKey {
        let (encoding, public) = match alg {
            Algorithm::RS256 => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa key");
                let pkcs8 = pair.as_der().expect("pkcs8");
                let encoding = rsa_encoding_key(pkcs8.as_ref()).expect("rsa signing key");
                let public = pair.public_key().as_der().expect("spki").as_ref().to_vec();
                (encoding, public)
            }
            Algorithm::ES256 => {
                let pair =
                    EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("ec key");
                let pkcs8 = pair.to_pkcs8v1().expect("pkcs8");
                let public = pair.public_key().as_ref().to_vec();
                (EncodingKey::from_ec_der(pkcs8.as_ref()), public)
            }
            Algorithm::EdDSA => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).expect("ed key");
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("ed pair");
                let public = pair.public_key().as_ref().to_vec();
                (EncodingKey::from_ed_der(pkcs8.as_ref()), public)
            }
            other => panic!("no test keys for {other:?}"),
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).expect("jwk");
        jwk.common = CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_id: Some(kid.to_owned()),
            ..jwk.common
        };
        TestKey {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk: serde_json::to_value(&jwk).expect("jwk json"),
            public,
        }
    }

    /// A token with this exact header and claims, signed with this key's algorithm.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        compact(
            &header.to_string(),
            &claims.to_string(),
            &self.encoding,
            self.alg,
        )
    }

    /// A token with the usual header (`alg`, `kid`, `typ: JWT`).
    pub fn token(&self, claims: &Value) -> String {
        self.sign(&header(self.alg, &self.kid), claims)
    }
}

/// Every key the tests use, generated once per test binary.
pub struct Keys {
    pub rsa: TestKey,
    pub ec: TestKey,
    pub ed: TestKey,
    pub b_ec: TestKey,
    /// B's key with A's kid `ec-1`, other material.
    pub b_overlap: TestKey,
    /// A key nobody trusts.
    pub attacker: TestKey,
}

pub static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    rsa: TestKey::generate("rsa-1", Algorithm::RS256),
    ec: TestKey::generate("ec-1", Algorithm::ES256),
    ed: TestKey::generate("ed-1", Algorithm::EdDSA),
    b_ec: TestKey::generate("b-ec-1", Algorithm::ES256),
    b_overlap: TestKey::generate("ec-1", Algorithm::ES256),
    attacker: TestKey::generate("attacker-1", Algorithm::ES256),
});

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `b64(header).b64(claims).signature` over exactly those bytes.
pub fn compact(header: &str, claims: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let signing_input = format!("{}.{}", b64(header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, alg).expect("signs");
    format!("{signing_input}.{signature}")
}

/// A token signed HS256 with `secret`.
pub fn hmac_token(header: &Value, claims: &Value, secret: &[u8]) -> String {
    compact(
        &header.to_string(),
        &claims.to_string(),
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    )
}

pub fn alg_name(alg: Algorithm) -> String {
    serde_json::to_value(alg)
        .expect("alg json")
        .as_str()
        .expect("alg name")
        .to_owned()
}

/// `{"alg": …, "kid": …, "typ": "JWT"}`.
pub fn header(alg: Algorithm, kid: &str) -> Value {
    json!({ "alg": alg_name(alg), "kid": kid, "typ": "JWT" })
}

/// Valid claims for `iss` at [`START`]: five minutes to live, jti, sid, two scopes.
pub fn claims(iss: &str) -> Value {
    json!({
        "iss": iss,
        "sub": "alice",
        "aud": AUD,
        "exp": START + 300,
        "iat": START,
        "nbf": START,
        "jti": "jti-1",
        "sid": "sid-1",
        "scope": "orders:read orders:write",
    })
}

/// `claims(iss)` with `changes` merged in (`null` removes a claim).
pub fn claims_with(iss: &str, changes: Value) -> Value {
    let mut claims = claims(iss);
    let object = claims.as_object_mut().expect("object");
    for (name, value) in changes.as_object().expect("changes").iter() {
        if value.is_null() {
            object.remove(name);
        } else {
            object.insert(name.clone(), value.clone());
        }
    }
    claims
}

pub fn jwks(keys: &[&TestKey]) -> Vec<u8> {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
        .to_string()
        .into_bytes()
}

pub fn key_set(keys: &[&TestKey]) -> KeySet {
    let load = KeySet::from_jwks_json(&jwks(keys), &KeySetPolicy::default()).expect("key set");
    assert!(load.dropped.is_empty(), "{:?}", load.dropped);
    load.set
}

pub fn issuer(iss: &str) -> Issuer {
    Issuer::new(iss).expect("issuer")
}

pub fn audience() -> Audience {
    Audience::new(AUD).expect("audience")
}

/// A verifier over the five test issuers, with a test clock and a denylist.
pub struct Fixture {
    pub verifier: JwtVerifier,
    pub clock: TestClock,
    pub denylist: Arc<Denylist>,
}

pub fn fixture() -> Fixture {
    let keys = &*KEYS;
    let clock = test_clock();
    let denylist = Arc::new(Denylist::new());
    let config = |iss: &str, set: KeySet| {
        IssuerConfig::builder(issuer(iss))
            .audience(audience())
            .static_keys(set)
    };
    let verifier = JwtVerifier::builder()
        .issuer(
            config(ISSUER_A, key_set(&[&keys.rsa, &keys.ec, &keys.ed]))
                .build()
                .expect("issuer a"),
        )
        .issuer(
            config(ISSUER_B, key_set(&[&keys.b_ec, &keys.b_overlap]))
                .build()
                .expect("issuer b"),
        )
        .issuer(
            IssuerConfig::builder(issuer(ISSUER_HMAC))
                .audience(audience())
                .hmac_secrets([SymmetricKey::new(
                    Some("hs-1"),
                    Algorithm::HS256,
                    HMAC_SECRET.to_vec(),
                )
                .expect("secret")])
                .build()
                .expect("issuer hmac"),
        )
        .issuer(
            config(ISSUER_TYPED, key_set(&[&keys.ec]))
                .require_typ("at+jwt")
                .build()
                .expect("issuer typed"),
        )
        .issuer(
            config(ISSUER_STRICT, key_set(&[&keys.ec]))
                .required_claim("jti")
                .required_scope(Scope::new("orders:write").expect("scope"))
                .build()
                .expect("issuer strict"),
        )
        .clock(Arc::new(clock.clone()))
        .revocation(denylist.clone())
        .build()
        .expect("verifier");
    Fixture {
        verifier,
        clock,
        denylist,
    }
}

impl Fixture {
    /// Verifies through both paths (async and sync) and returns the async result, after
    /// checking that the two agree.
    pub async fn verify(&self, token: &str) -> Result<tower_auth::VerifiedPrincipal, AuthError> {
        let asynchronous = self.verifier.verify_token(token).await;
        let synchronous = self.verifier.verify_sync(token);
        assert_eq!(
            asynchronous
                .as_ref()
                .map(|v| v.id().clone())
                .map_err(AuthError::reason),
            synchronous
                .as_ref()
                .map(|v| v.id().clone())
                .map_err(AuthError::reason),
            "the async and sync paths disagree"
        );
        asynchronous
    }

    /// The rejection of `token` (panics if it is accepted).
    pub async fn reject(&self, token: &str) -> AuthError {
        match self.verify(token).await {
            Ok(verified) => panic!("accepted a hostile token as {:?}", verified.id()),
            Err(error) => error,
        }
    }
}
