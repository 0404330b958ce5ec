//! One verification key, and the rules that turn a JWK into one or drop it.

use std::fmt;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ED25519, ParsedPublicKey,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512,
    RSA_PSS_2048_8192_SHA256, RSA_PSS_2048_8192_SHA384, RSA_PSS_2048_8192_SHA512,
    VerificationAlgorithm,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::policy::{KeySetPolicy, MAX_RSA_BITS};

/// Longest signature any loadable key makes, in bytes: RSA with the largest modulus a key
/// set accepts. ECDSA P-384 signatures are 96 bytes, Ed25519 64, HMAC-SHA512 64.
pub(crate) const MAX_SIGNATURE_BYTES: usize = MAX_RSA_BITS as usize / 8;

/// Longest key id accepted, in bytes.
pub(crate) const MAX_KID_BYTES: usize = 256;
/// Longest string from a fetched document that an error or log line repeats.
const ECHO_LIMIT: usize = 256;

/// A public (or configured symmetric) key ready to verify signatures.
///
/// Its algorithm is fixed by the JWK (`alg`, or what `kty`/`crv` imply), never by a token
/// header: a verifier must reject a token whose header names another algorithm. The key
/// is parsed once, when the key set loads: the verifier checks signatures with an aws-lc
/// [`ParsedPublicKey`] (or HMAC key) kept here, never rebuilt per request. The
/// [`DecodingKey`] of the same key is kept for callers of `jsonwebtoken` directly.
///
/// `Debug` shows the key id and algorithm, never the key material.
pub struct VerificationKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
    check: SignatureCheck,
    /// The bytes the check was built from, which also identify the key material for the
    /// key set's fingerprint.
    material: Vec<u8>,
}

/// How a key checks a signature, built once from its material.
enum SignatureCheck {
    /// An RSA, EC or Ed25519 public key, bound to the key's one algorithm.
    Public(ParsedPublicKey),
    /// A configured HMAC secret, bound to the key's one HMAC algorithm. Boxed: the key
    /// holds its precomputed inner and outer hash states (over a kilobyte).
    Hmac(Box<hmac::Key>),
    /// Material that is no key of the algorithm: it verifies nothing. Key sets never
    /// hold one ([`parse_jwk`] drops such a JWK); this keeps [`VerificationKey::new`]
    /// total and fail-closed.
    Unusable,
}

/// A key that cannot check signatures of its own algorithm (a key-set bug).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnusableKey;

impl SignatureCheck {
    /// The check for `algorithm` from `material`: an HMAC secret for HS256/384/512, the
    /// DER `RSAPublicKey` for RSA, the uncompressed point for EC, the 32 bytes for
    /// Ed25519. Signature encodings are JWS's (RFC 7518 §3): ECDSA signatures are the
    /// fixed-size `r || s`, never DER.
    fn build(algorithm: Algorithm, material: &[u8]) -> Result<SignatureCheck, UnusableKey> {
        use jsonwebtoken::Algorithm as A;
        let public: &'static dyn VerificationAlgorithm = match algorithm {
            A::HS256 => return Ok(Self::hmac(hmac::HMAC_SHA256, material)),
            A::HS384 => return Ok(Self::hmac(hmac::HMAC_SHA384, material)),
            A::HS512 => return Ok(Self::hmac(hmac::HMAC_SHA512, material)),
            A::RS256 => &RSA_PKCS1_2048_8192_SHA256,
            A::RS384 => &RSA_PKCS1_2048_8192_SHA384,
            A::RS512 => &RSA_PKCS1_2048_8192_SHA512,
            A::PS256 => &RSA_PSS_2048_8192_SHA256,
            A::PS384 => &RSA_PSS_2048_8192_SHA384,
            A::PS512 => &RSA_PSS_2048_8192_SHA512,
            A::ES256 => &ECDSA_P256_SHA256_FIXED,
            A::ES384 => &ECDSA_P384_SHA384_FIXED,
            A::EdDSA => &ED25519,
            // No other algorithm is ever accepted (see `algorithm_from_name`).
            #[allow(unreachable_patterns)]
            _ => return Err(UnusableKey),
        };
        ParsedPublicKey::new(public, material)
            .map(SignatureCheck::Public)
            .map_err(|_| UnusableKey)
    }

    fn hmac(algorithm: hmac::Algorithm, secret: &[u8]) -> SignatureCheck {
        SignatureCheck::Hmac(Box::new(hmac::Key::new(algorithm, secret)))
    }
}

impl VerificationKey {
    /// A key whose signature check is built from `material` (see
    /// `SignatureCheck::build` for its form per algorithm). Material that is not a key
    /// of `algorithm` gives a key that verifies nothing; [`parse_jwk`] uses
    /// [`VerificationKey::parse`] to refuse it instead.
    pub(crate) fn new(
        kid: Option<String>,
        algorithm: Algorithm,
        key: DecodingKey,
        material: Vec<u8>,
    ) -> Self {
        let check = SignatureCheck::build(algorithm, &material).unwrap_or(SignatureCheck::Unusable);
        VerificationKey {
            kid,
            algorithm,
            key,
            check,
            material,
        }
    }

    /// Like [`new`](Self::new), but material that is not a key of `algorithm` is an error.
    fn parse(
        kid: Option<String>,
        algorithm: Algorithm,
        key: DecodingKey,
        material: Vec<u8>,
    ) -> Result<Self, UnusableKey> {
        let check = SignatureCheck::build(algorithm, &material)?;
        Ok(VerificationKey {
            kid,
            algorithm,
            key,
            check,
            material,
        })
    }

    /// The key id (`kid`), if the JWK had one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The same key for `jsonwebtoken::decode`, built when the set loaded. Baton's own
    /// verifier does not use it: it checks signatures with the key parsed by aws-lc.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }

    /// Whether `signature` (decoded from base64url) is this key's signature, under its own
    /// algorithm, over exactly `message`. HMAC tags are compared in constant time.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> Result<bool, UnusableKey> {
        match &self.check {
            SignatureCheck::Public(key) => Ok(key.verify_sig(message, signature).is_ok()),
            SignatureCheck::Hmac(key) => Ok(hmac::verify(key, message, signature).is_ok()),
            SignatureCheck::Unusable => Err(UnusableKey),
        }
    }

    pub(crate) fn material(&self) -> &[u8] {
        &self.material
    }
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// A JWK left out of a key set, and why. Each is also logged with `tracing::warn!`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedKey {
    /// Position of the JWK in the document's `keys` array.
    pub index: usize,
    /// Its `kid`, if it had a usable one.
    pub kid: Option<String>,
    /// Why it was dropped.
    pub reason: DropReason,
}

/// Why a JWK was left out of a key set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DropReason {
    /// Not a JSON object of JWK members with the right types, or `kty`/`crv` missing.
    #[error("malformed JWK: {detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
    },
    /// A symmetric (`oct`) key in a fetched set: HMAC keys come only from configuration.
    #[error("symmetric (oct) key in a fetched key set")]
    SymmetricKeyInFetchedSet,
    /// The JWK carries private key members (`d`, `p`, ...): the IdP is leaking its key.
    #[error("the JWK carries private key material")]
    PrivateKeyMaterial,
    /// `use` is present and is not `sig`.
    #[error("use is {key_use:?}, not \"sig\"")]
    UseNotSig {
        /// The `use` value.
        key_use: String,
    },
    /// `key_ops` is present and does not contain `verify`.
    #[error("key_ops does not contain \"verify\"")]
    KeyOpsWithoutVerify,
    /// `kid` is empty or longer than 256 bytes.
    #[error("kid is empty or longer than 256 bytes")]
    InvalidKeyId,
    /// `kty` is not RSA, EC or OKP.
    #[error("unsupported key type {kty:?}")]
    UnsupportedKeyType {
        /// The `kty` value.
        kty: String,
    },
    /// `alg` names no supported signature algorithm (e.g. `RSA-OAEP`, `ES512`, `none`).
    #[error("unsupported algorithm {alg:?}")]
    UnsupportedAlgorithm {
        /// The `alg` value.
        alg: String,
    },
    /// `alg` does not fit `kty` (e.g. `HS256` on an RSA key, `ES256` on an RSA key).
    #[error("algorithm {alg:?} does not fit key type {kty:?}")]
    AlgorithmKeyTypeMismatch {
        /// The `kty` value.
        kty: String,
        /// The `alg` value.
        alg: String,
    },
    /// The key's algorithm is not in the issuer's allow-list.
    #[error("algorithm {algorithm:?} is not allowed for this issuer")]
    AlgorithmNotAllowed {
        /// The key's algorithm (given or implied).
        algorithm: Algorithm,
    },
    /// `crv` names no supported curve (P-256, P-384, Ed25519).
    #[error("unsupported curve {crv:?}")]
    UnsupportedCurve {
        /// The `crv` value.
        crv: String,
    },
    /// `crv` does not fit `alg` (e.g. P-384 with ES256).
    #[error("curve {crv:?} does not fit algorithm {algorithm:?}")]
    CurveMismatch {
        /// The `crv` value.
        crv: String,
        /// The `alg` value.
        algorithm: Algorithm,
    },
    /// The RSA modulus is shorter than the policy's minimum.
    #[error("RSA modulus of {bits} bits is below the minimum {minimum}")]
    RsaKeyTooSmall {
        /// The modulus length.
        bits: u32,
        /// The minimum.
        minimum: u32,
    },
    /// The key members are missing, not base64url, of the wrong length, or not a valid key.
    #[error("invalid key material: {detail}")]
    InvalidKeyMaterial {
        /// What is wrong.
        detail: &'static str,
    },
    /// Another usable key earlier in the set has the same `kid`; the first is kept.
    #[error("duplicate kid; the first key with it is kept")]
    DuplicateKeyId,
    /// The key has no `kid` and the set has more than one usable key, so tokens could not
    /// choose it unambiguously.
    #[error("no kid in a set with several keys")]
    MissingKeyIdInMultiKeySet,
}

impl DropReason {
    /// A stable snake_case reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            DropReason::Malformed { .. } => "malformed_jwk",
            DropReason::SymmetricKeyInFetchedSet => "symmetric_key_in_fetched_set",
            DropReason::PrivateKeyMaterial => "private_key_material",
            DropReason::UseNotSig { .. } => "use_not_sig",
            DropReason::KeyOpsWithoutVerify => "key_ops_without_verify",
            DropReason::InvalidKeyId => "invalid_kid",
            DropReason::UnsupportedKeyType { .. } => "unsupported_kty",
            DropReason::UnsupportedAlgorithm { .. } => "unsupported_alg",
            DropReason::AlgorithmKeyTypeMismatch { .. } => "alg_kty_mismatch",
            DropReason::AlgorithmNotAllowed { .. } => "alg_not_allowed",
            DropReason::UnsupportedCurve { .. } => "unsupported_crv",
            DropReason::CurveMismatch { .. } => "crv_alg_mismatch",
            DropReason::RsaKeyTooSmall { .. } => "rsa_key_too_small",
            DropReason::InvalidKeyMaterial { .. } => "invalid_key_material",
            DropReason::DuplicateKeyId => "duplicate_kid",
            DropReason::MissingKeyIdInMultiKeySet => "missing_kid_in_multi_key_set",
        }
    }
}

/// `s` cut to a bounded length on a character boundary, for errors and logs.
pub(crate) fn echo(s: &str) -> String {
    let mut end = s.len().min(ECHO_LIMIT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The members of a JWK that Baton reads (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2).
/// Unknown members (`x5c`, `x5t`, ...) are ignored.
#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    kid: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    k: Option<IgnoredAny>,
    d: Option<IgnoredAny>,
    p: Option<IgnoredAny>,
    q: Option<IgnoredAny>,
    dp: Option<IgnoredAny>,
    dq: Option<IgnoredAny>,
    qi: Option<IgnoredAny>,
}

/// The `kid` of a JWK as JSON, when it is a string of acceptable length: for
/// [`DroppedKey::kid`] even when the rest of the JWK is unusable.
pub(crate) fn kid_of(value: &serde_json::Value) -> Option<String> {
    value
        .get("kid")
        .and_then(serde_json::Value::as_str)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KID_BYTES)
        .map(echo)
}

/// The signature algorithms Baton knows by their JWA names (RFC 7518 §3.1, RFC 8037 §3.1),
/// exactly as spelled there (case-sensitive). `none`, in any spelling, is not among them.
/// The one place a name becomes an [`Algorithm`]: JWK `alg`, token header `alg` and
/// configured algorithm lists all go through it.
pub(crate) fn algorithm_from_name(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Rsa,
    Ec,
    Okp,
}

impl KeyType {
    fn fits(self, algorithm: Algorithm) -> bool {
        use jsonwebtoken::Algorithm as A;
        match self {
            KeyType::Rsa => matches!(
                algorithm,
                A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512
            ),
            KeyType::Ec => matches!(algorithm, A::ES256 | A::ES384),
            KeyType::Okp => matches!(algorithm, A::EdDSA),
        }
    }
}

/// Turns one JWK of a fetched (or configured public) key set into a key, or says why not.
///
/// Rules, in order: `oct` keys and private members are refused; `use` must be `sig` when
/// present; `key_ops` must contain `verify` when present; `kid` must be 1 to 256 bytes when
/// present; `kty` must be RSA, EC or OKP; `alg` must name a signature algorithm that fits
/// `kty` (without `alg`: RS256 for RSA, ES256/ES384 from `crv` for EC, EdDSA for Ed25519);
/// that algorithm must be allowed; the key material must be valid (RSA modulus of at least
/// `min_rsa_bits`, EC point on the curve `alg` names, Ed25519 point of 32 bytes).
pub(crate) fn parse_jwk(
    value: &serde_json::Value,
    policy: &KeySetPolicy,
) -> Result<VerificationKey, DropReason> {
    let raw: RawJwk = serde_json::from_value(value.clone()).map_err(|e| DropReason::Malformed {
        detail: echo(&e.to_string()),
    })?;
    let kty = raw.kty.as_deref().ok_or_else(|| DropReason::Malformed {
        detail: "no kty".to_owned(),
    })?;
    if kty == "oct" || raw.k.is_some() {
        return Err(DropReason::SymmetricKeyInFetchedSet);
    }
    if raw.d.is_some()
        || raw.p.is_some()
        || raw.q.is_some()
        || raw.dp.is_some()
        || raw.dq.is_some()
        || raw.qi.is_some()
    {
        return Err(DropReason::PrivateKeyMaterial);
    }
    if let Some(key_use) = raw.key_use.as_deref()
        && key_use != "sig"
    {
        return Err(DropReason::UseNotSig {
            key_use: echo(key_use),
        });
    }
    if let Some(ops) = &raw.key_ops
        && !ops.iter().any(|op| op == "verify")
    {
        return Err(DropReason::KeyOpsWithoutVerify);
    }
    if let Some(kid) = raw.kid.as_deref()
        && (kid.is_empty() || kid.len() > MAX_KID_BYTES)
    {
        return Err(DropReason::InvalidKeyId);
    }
    let key_type = match kty {
        "RSA" => KeyType::Rsa,
        "EC" => KeyType::Ec,
        "OKP" => KeyType::Okp,
        other => {
            return Err(DropReason::UnsupportedKeyType { kty: echo(other) });
        }
    };
    let algorithm = match raw.alg.as_deref() {
        Some(name) => {
            let algorithm = algorithm_from_name(name)
                .ok_or_else(|| DropReason::UnsupportedAlgorithm { alg: echo(name) })?;
            if !key_type.fits(algorithm) {
                return Err(DropReason::AlgorithmKeyTypeMismatch {
                    kty: echo(kty),
                    alg: echo(name),
                });
            }
            algorithm
        }
        None => implied_algorithm(key_type, raw.crv.as_deref())?,
    };
    if !policy.allows(algorithm) {
        return Err(DropReason::AlgorithmNotAllowed { algorithm });
    }
    let (key, material, invalid) = match key_type {
        KeyType::Rsa => rsa_key(&raw, policy)?,
        KeyType::Ec => ec_key(&raw, algorithm)?,
        KeyType::Okp => ed_key(&raw)?,
    };
    // aws-lc parses the key here, once, and checks what the shape checks above left
    // (odd modulus, exponent range, point on the curve).
    VerificationKey::parse(raw.kid, algorithm, key, material)
        .map_err(|_| DropReason::InvalidKeyMaterial { detail: invalid })
}

/// The algorithm of a JWK without `alg`. RSA keys get RS256, the one RSA algorithm every
/// IdP means when it leaves `alg` out; the allow-list check that follows drops the key if
/// the issuer does not allow RS256.
fn implied_algorithm(key_type: KeyType, crv: Option<&str>) -> Result<Algorithm, DropReason> {
    match key_type {
        KeyType::Rsa => Ok(Algorithm::RS256),
        KeyType::Ec => match crv {
            Some("P-256") => Ok(Algorithm::ES256),
            Some("P-384") => Ok(Algorithm::ES384),
            Some(other) => Err(DropReason::UnsupportedCurve { crv: echo(other) }),
            None => Err(DropReason::Malformed {
                detail: "EC key without crv".to_owned(),
            }),
        },
        KeyType::Okp => match crv {
            Some("Ed25519") => Ok(Algorithm::EdDSA),
            Some(other) => Err(DropReason::UnsupportedCurve { crv: echo(other) }),
            None => Err(DropReason::Malformed {
                detail: "OKP key without crv".to_owned(),
            }),
        },
    }
}

fn decode_member(value: Option<&String>, missing: &'static str) -> Result<Vec<u8>, DropReason> {
    let value = value.ok_or(DropReason::InvalidKeyMaterial { detail: missing })?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| DropReason::InvalidKeyMaterial {
            detail: "a key member is not unpadded base64url",
        })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// A key for `jsonwebtoken`, the material its signature check is built from, and what to
/// say if that material is not a valid key.
type KeyParts = (DecodingKey, Vec<u8>, &'static str);

fn rsa_key(raw: &RawJwk, policy: &KeySetPolicy) -> Result<KeyParts, DropReason> {
    let n = decode_member(raw.n.as_ref(), "RSA key without n")?;
    let e = decode_member(raw.e.as_ref(), "RSA key without e")?;
    let n = strip_leading_zeros(&n);
    let e = strip_leading_zeros(&e);
    let Some(&top) = n.first() else {
        return Err(DropReason::InvalidKeyMaterial {
            detail: "RSA modulus is zero",
        });
    };
    let bits = u32::try_from(n.len())
        .unwrap_or(u32::MAX)
        .saturating_sub(1)
        .saturating_mul(8)
        .saturating_add(8 - top.leading_zeros());
    if bits < policy.min_rsa_bits() {
        return Err(DropReason::RsaKeyTooSmall {
            bits,
            minimum: policy.min_rsa_bits(),
        });
    }
    if bits > MAX_RSA_BITS {
        return Err(DropReason::InvalidKeyMaterial {
            detail: "RSA modulus longer than 8192 bits",
        });
    }
    Ok((
        DecodingKey::from_rsa_raw_components(n, e),
        rsa_public_key_der(n, e),
        "not a valid RSA public key",
    ))
}

/// DER of an RFC 8017 `RSAPublicKey` (SEQUENCE of two INTEGERs), for aws-lc to parse.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn push_length(out: &mut Vec<u8>, length: usize) {
        if length < 0x80 {
            out.push(length as u8);
        } else {
            let bytes = length.to_be_bytes();
            let significant = strip_leading_zeros(&bytes);
            out.push(0x80 | significant.len() as u8);
            out.extend_from_slice(significant);
        }
    }
    fn push_integer(out: &mut Vec<u8>, magnitude: &[u8]) {
        let pad = magnitude.first().is_none_or(|&b| b & 0x80 != 0);
        out.push(0x02);
        push_length(out, magnitude.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(magnitude);
    }
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    push_integer(&mut body, n);
    push_integer(&mut body, e);
    let mut der = Vec::with_capacity(body.len() + 8);
    der.push(0x30);
    push_length(&mut der, body.len());
    der.extend_from_slice(&body);
    der
}

fn ec_key(raw: &RawJwk, algorithm: Algorithm) -> Result<KeyParts, DropReason> {
    let crv = raw.crv.as_deref().ok_or_else(|| DropReason::Malformed {
        detail: "EC key without crv".to_owned(),
    })?;
    let (expected_crv, coordinate_len) = match algorithm {
        Algorithm::ES256 => ("P-256", 32),
        _ => ("P-384", 48),
    };
    if crv != expected_crv {
        return Err(if crv == "P-256" || crv == "P-384" {
            DropReason::CurveMismatch {
                crv: echo(crv),
                algorithm,
            }
        } else {
            DropReason::UnsupportedCurve { crv: echo(crv) }
        });
    }
    let x = decode_member(raw.x.as_ref(), "EC key without x")?;
    let y = decode_member(raw.y.as_ref(), "EC key without y")?;
    if x.len() != coordinate_len || y.len() != coordinate_len {
        return Err(DropReason::InvalidKeyMaterial {
            detail: "EC coordinate of the wrong length for the curve",
        });
    }
    let mut point = Vec::with_capacity(1 + 2 * coordinate_len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    // `from_ec_der` keeps the bytes as given; jsonwebtoken's aws-lc verifier reads them as
    // the uncompressed point, exactly what `from_ec_components` builds.
    Ok((
        DecodingKey::from_ec_der(&point),
        point,
        "EC point is not on the curve",
    ))
}

fn ed_key(raw: &RawJwk) -> Result<KeyParts, DropReason> {
    match raw.crv.as_deref() {
        Some("Ed25519") => {}
        Some(other) => return Err(DropReason::UnsupportedCurve { crv: echo(other) }),
        None => {
            return Err(DropReason::Malformed {
                detail: "OKP key without crv".to_owned(),
            });
        }
    }
    let x = decode_member(raw.x.as_ref(), "OKP key without x")?;
    if x.len() != 32 {
        return Err(DropReason::InvalidKeyMaterial {
            detail: "Ed25519 public key is not 32 bytes",
        });
    }
    Ok((
        DecodingKey::from_ed_der(&x),
        x,
        "not a valid Ed25519 public key",
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_use_long_form_past_127() {
        let n = vec![0xC5; 256];
        let der = rsa_public_key_der(&n, &[1, 0, 1]);
        // SEQUENCE, long form with two length bytes.
        assert_eq!(&der[..2], &[0x30, 0x82]);
        // INTEGER n gets a 0x00 pad because its top bit is set: 257 bytes.
        assert_eq!(&der[4..8], &[0x02, 0x82, 0x01, 0x01]);
    }

    #[test]
    fn debug_redacts_key_material() {
        let key = VerificationKey::new(
            Some("k1".into()),
            Algorithm::HS256,
            DecodingKey::from_secret(b"super-secret-value"),
            b"super-secret-value".to_vec(),
        );
        let shown = format!("{key:?}");
        assert!(shown.contains("k1"));
        assert!(!shown.contains("super-secret"));
    }

    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING,
        ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
        RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RSA_PSS_SHA256, RSA_PSS_SHA384,
        RSA_PSS_SHA512, RsaEncoding,
    };
    use serde_json::json;

    const MESSAGE: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn load(jwk: serde_json::Value) -> VerificationKey {
        parse_jwk(&jwk, &KeySetPolicy::default()).unwrap()
    }

    /// `signature` with one bit flipped.
    fn flipped(signature: &[u8]) -> Vec<u8> {
        let mut bad = signature.to_vec();
        bad[signature.len() / 2] ^= 0x01;
        bad
    }

    #[test]
    fn an_rsa_key_verifies_the_signatures_of_its_own_algorithm_only() {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let public = pair.public_key();
        let (n, e) = (
            b64(public.modulus().big_endian_without_leading_zero()),
            b64(public.exponent().big_endian_without_leading_zero()),
        );
        let encodings: [(Algorithm, &'static dyn RsaEncoding); 6] = [
            (Algorithm::RS256, &RSA_PKCS1_SHA256),
            (Algorithm::RS384, &RSA_PKCS1_SHA384),
            (Algorithm::RS512, &RSA_PKCS1_SHA512),
            (Algorithm::PS256, &RSA_PSS_SHA256),
            (Algorithm::PS384, &RSA_PSS_SHA384),
            (Algorithm::PS512, &RSA_PSS_SHA512),
        ];
        let signatures: Vec<Vec<u8>> = encodings
            .iter()
            .map(|(_, encoding)| {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(*encoding, &SystemRandom::new(), MESSAGE, &mut signature)
                    .unwrap();
                signature
            })
            .collect();
        for (algorithm, _) in encodings {
            let name = format!("{algorithm:?}");
            let key = load(json!({"kty": "RSA", "alg": name, "n": n, "e": e}));
            assert_eq!(key.algorithm(), algorithm);
            for ((signed_with, _), signature) in encodings.iter().zip(&signatures) {
                // PKCS#1 v1.5 and PSS, or two hashes, never stand in for each other.
                assert_eq!(
                    key.verifies(MESSAGE, signature),
                    Ok(*signed_with == algorithm),
                    "{algorithm:?} key, {signed_with:?} signature"
                );
            }
            let own = &signatures[encodings.iter().position(|(a, _)| *a == algorithm).unwrap()];
            assert_eq!(key.verifies(MESSAGE, &flipped(own)), Ok(false));
            assert_eq!(key.verifies(b"other message", own), Ok(false));
            assert_eq!(key.verifies(MESSAGE, &own[1..]), Ok(false));
            assert_eq!(key.verifies(MESSAGE, &[]), Ok(false));
        }
    }

    #[test]
    fn an_ec_key_verifies_fixed_size_signatures_of_its_curve_only() {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref();
        let key = load(json!({
            "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]),
        }));
        assert_eq!(key.algorithm(), Algorithm::ES256);
        let fixed = pair.sign(&rng, MESSAGE).unwrap();
        assert_eq!(fixed.as_ref().len(), 64);
        assert_eq!(key.verifies(MESSAGE, fixed.as_ref()), Ok(true));
        assert_eq!(key.verifies(MESSAGE, &flipped(fixed.as_ref())), Ok(false));
        assert_eq!(key.verifies(b"other message", fixed.as_ref()), Ok(false));
        // JWS carries r || s (RFC 7518 §3.4); the DER form of a valid signature is refused.
        let pkcs8 = pair.to_pkcs8v1().unwrap();
        let asn1 = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
            .unwrap()
            .sign(&rng, MESSAGE)
            .unwrap();
        assert_eq!(key.verifies(MESSAGE, asn1.as_ref()), Ok(false));

        let pair = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref();
        let key = load(json!({
            "kty": "EC", "crv": "P-384", "x": b64(&point[1..49]), "y": b64(&point[49..]),
        }));
        assert_eq!(key.algorithm(), Algorithm::ES384);
        let fixed = pair.sign(&rng, MESSAGE).unwrap();
        assert_eq!(fixed.as_ref().len(), 96);
        assert_eq!(key.verifies(MESSAGE, fixed.as_ref()), Ok(true));
        assert_eq!(key.verifies(MESSAGE, &flipped(fixed.as_ref())), Ok(false));
    }

    #[test]
    fn an_ed25519_key_verifies_its_signatures() {
        let pair = Ed25519KeyPair::generate().unwrap();
        let key = load(json!({
            "kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref()),
        }));
        assert_eq!(key.algorithm(), Algorithm::EdDSA);
        let signature = pair.sign(MESSAGE);
        assert_eq!(key.verifies(MESSAGE, signature.as_ref()), Ok(true));
        assert_eq!(
            key.verifies(MESSAGE, &flipped(signature.as_ref())),
            Ok(false)
        );
        assert_eq!(
            key.verifies(b"other message", signature.as_ref()),
            Ok(false)
        );
        assert_eq!(key.verifies(MESSAGE, &signature.as_ref()[..63]), Ok(false));
    }

    #[test]
    fn an_hmac_key_verifies_full_tags_of_its_own_hash_only() {
        let secret = b"a configured secret of 32 bytes!".to_vec();
        let algorithms = [
            (Algorithm::HS256, hmac::HMAC_SHA256),
            (Algorithm::HS384, hmac::HMAC_SHA384),
            (Algorithm::HS512, hmac::HMAC_SHA512),
        ];
        let tags: Vec<hmac::Tag> = algorithms
            .iter()
            .map(|(_, h)| hmac::sign(&hmac::Key::new(*h, &secret), MESSAGE))
            .collect();
        for (algorithm, _) in algorithms {
            let key = VerificationKey::new(
                Some("hs".into()),
                algorithm,
                DecodingKey::from_secret(&secret),
                secret.clone(),
            );
            for ((tagged_with, _), tag) in algorithms.iter().zip(&tags) {
                assert_eq!(
                    key.verifies(MESSAGE, tag.as_ref()),
                    Ok(*tagged_with == algorithm),
                    "{algorithm:?} key, {tagged_with:?} tag"
                );
            }
            let own = tags[algorithms
                .iter()
                .position(|(a, _)| *a == algorithm)
                .unwrap()]
            .as_ref();
            assert_eq!(key.verifies(MESSAGE, &own[..own.len() - 1]), Ok(false));
            assert_eq!(key.verifies(MESSAGE, &flipped(own)), Ok(false));
        }
        let other = VerificationKey::new(
            None,
            Algorithm::HS256,
            DecodingKey::from_secret(b"another secret"),
            b"another secret".to_vec(),
        );
        assert_eq!(other.verifies(MESSAGE, tags[0].as_ref()), Ok(false));
    }

    #[test]
    fn material_that_is_no_key_of_its_algorithm_verifies_nothing() {
        let pair = Ed25519KeyPair::generate().unwrap();
        let signature = pair.sign(MESSAGE);
        // The Ed25519 bytes given as an EC or RSA key: unusable, never "valid".
        for algorithm in [Algorithm::ES256, Algorithm::RS256] {
            let key = VerificationKey::new(
                None,
                algorithm,
                DecodingKey::from_ed_der(pair.public_key().as_ref()),
                pair.public_key().as_ref().to_vec(),
            );
            assert_eq!(key.verifies(MESSAGE, signature.as_ref()), Err(UnusableKey));
        }
        // And a JWK whose material aws-lc refuses is dropped at load.
        let even_modulus = b64(&[0xC4; 256]);
        assert_eq!(
            parse_jwk(
                &json!({"kty": "RSA", "n": even_modulus, "e": "AQAB"}),
                &KeySetPolicy::default()
            )
            .err(),
            Some(DropReason::InvalidKeyMaterial {
                detail: "not a valid RSA public key"
            })
        );
        let off_curve =
            json!({"kty": "EC", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[2; 32])});
        assert_eq!(
            parse_jwk(&off_curve, &KeySetPolicy::default()).err(),
            Some(DropReason::InvalidKeyMaterial {
                detail: "EC point is not on the curve"
            })
        );
    }

    #[test]
    fn echo_cuts_long_values() {
        assert_eq!(echo(&"a".repeat(300)).len(), 256);
        assert_eq!(echo("short"), "short");
    }
}
