//! [`SigningKey`]: one private key of an internal issuer, parsed once, with its key id and
//! its public JWK.

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::MintConfigError;

/// Longest key id [`SigningKey::with_kid`] accepts, in bytes.
pub const MAX_KID_BYTES: usize = 128;

/// The algorithms internal JWTs are signed with (DESIGN §3): ES256 or EdDSA (Ed25519).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// ECDSA on P-256 with SHA-256, the fixed-size `r || s` signature of RFC 7518 §3.4.
    Es256,
    /// Ed25519 (RFC 8037).
    EdDsa,
}

impl SigningAlgorithm {
    /// The JOSE name (`alg`): `ES256` or `EdDSA`.
    ///
    /// ```
    /// use tower_auth::mint::SigningAlgorithm;
    /// assert_eq!(SigningAlgorithm::Es256.as_str(), "ES256");
    /// assert_eq!(SigningAlgorithm::EdDsa.as_str(), "EdDSA");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::Es256 => "ES256",
            SigningAlgorithm::EdDsa => "EdDSA",
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<SigningAlgorithm> for jsonwebtoken::Algorithm {
    fn from(algorithm: SigningAlgorithm) -> Self {
        match algorithm {
            SigningAlgorithm::Es256 => jsonwebtoken::Algorithm::ES256,
            SigningAlgorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

enum Pair {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

/// A private signing key of an [`InternalIssuer`](super::InternalIssuer): ES256 or EdDSA,
/// parsed by aws-lc-rs once, with its key id (`kid`) and its public JWK.
///
/// The key id is the RFC 7638 JWK thumbprint (SHA-256, base64url) unless set with
/// [`with_kid`](Self::with_kid): stable for a key, different for every other key. The
/// private key never leaves it: `Debug` shows the algorithm and the key id only, and
/// there is no export.
///
/// ```
/// use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
/// use tower_auth::mint::{SigningAlgorithm, SigningKey};
///
/// let generated = SigningKey::generate(SigningAlgorithm::EdDsa)?;
/// assert_eq!(generated.kid().len(), 43); // a SHA-256 thumbprint
/// assert!(format!("{generated:?}").contains("[redacted]"));
///
/// // Loaded from PKCS#8 (for instance from a secret store); the same key, the same kid.
/// let pkcs8 = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?.to_pkcs8v1()?;
/// let a = SigningKey::from_pkcs8(SigningAlgorithm::Es256, pkcs8.as_ref())?;
/// let b = SigningKey::from_pkcs8(SigningAlgorithm::Es256, pkcs8.as_ref())?;
/// assert_eq!(a.kid(), b.kid());
///
/// // Rejected: an ES256 key read as Ed25519, and bytes that are no key.
/// assert_eq!(
///     SigningKey::from_pkcs8(SigningAlgorithm::EdDsa, pkcs8.as_ref()).unwrap_err().reason(),
///     "invalid_key"
/// );
/// assert!(SigningKey::from_pkcs8(SigningAlgorithm::Es256, b"not a key").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SigningKey {
    algorithm: SigningAlgorithm,
    kid: String,
    pair: Pair,
    /// The public JWK as published (with `kid`, `alg`, `use`).
    jwk: Value,
    /// The base64url JOSE header of every token this key signs (`alg`, `typ`, `kid`):
    /// fixed per key, so encoded once.
    header_b64: String,
}

impl SigningKey {
    /// A new random key for `algorithm`.
    pub fn generate(algorithm: SigningAlgorithm) -> Result<SigningKey, MintConfigError> {
        let failed = || MintConfigError::KeyGeneration { algorithm };
        let pair = match algorithm {
            SigningAlgorithm::Es256 => Pair::Es256(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| failed())?,
            ),
            SigningAlgorithm::EdDsa => {
                Pair::EdDsa(Ed25519KeyPair::generate().map_err(|_| failed())?)
            }
        };
        SigningKey::from_pair(algorithm, pair)
    }

    /// The key in `pkcs8` (DER, PKCS#8 v1 or v2): a P-256 key for ES256, an Ed25519 key
    /// for EdDSA. Anything else is [`MintConfigError::InvalidKey`].
    pub fn from_pkcs8(
        algorithm: SigningAlgorithm,
        pkcs8: &[u8],
    ) -> Result<SigningKey, MintConfigError> {
        let invalid = |_| MintConfigError::InvalidKey { algorithm };
        let pair = match algorithm {
            SigningAlgorithm::Es256 => Pair::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(invalid)?,
            ),
            SigningAlgorithm::EdDsa => {
                Pair::EdDsa(Ed25519KeyPair::from_pkcs8(pkcs8).map_err(invalid)?)
            }
        };
        SigningKey::from_pair(algorithm, pair)
    }

    /// This key under another key id: 1 to [`MAX_KID_BYTES`] bytes of `A-Z a-z 0-9 - _ .`
    /// (so it needs no escaping anywhere it goes).
    ///
    /// ```
    /// use tower_auth::mint::{SigningAlgorithm, SigningKey};
    ///
    /// let key = SigningKey::generate(SigningAlgorithm::Es256)?.with_kid("edge-2026-11")?;
    /// assert_eq!(key.kid(), "edge-2026-11");
    ///
    /// // Rejected: empty, or characters a header would have to escape.
    /// let key = SigningKey::generate(SigningAlgorithm::Es256)?;
    /// assert_eq!(key.with_kid("a\"b").unwrap_err().reason(), "invalid_kid");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_kid(self, kid: &str) -> Result<SigningKey, MintConfigError> {
        if kid.is_empty()
            || kid.len() > MAX_KID_BYTES
            || !kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(MintConfigError::InvalidKeyId);
        }
        let SigningKey {
            algorithm, pair, ..
        } = self;
        SigningKey::with_pair(algorithm, pair, kid.to_owned())
    }

    /// The algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The key id (`kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK as the JWKS publishes it: `kty`, `crv`, `x` (and `y` for P-256),
    /// `kid`, `alg`, `use: sig`. No private member.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    fn from_pair(algorithm: SigningAlgorithm, pair: Pair) -> Result<SigningKey, MintConfigError> {
        let kid = URL_SAFE_NO_PAD.encode(digest(&SHA256, thumbprint_input(&pair).as_bytes()));
        SigningKey::with_pair(algorithm, pair, kid)
    }

    fn with_pair(
        algorithm: SigningAlgorithm,
        pair: Pair,
        kid: String,
    ) -> Result<SigningKey, MintConfigError> {
        let mut jwk = public_members(&pair);
        if let Value::Object(members) = &mut jwk {
            members.insert("kid".into(), Value::from(kid.as_str()));
            members.insert("alg".into(), Value::from(algorithm.as_str()));
            members.insert("use".into(), Value::from("sig"));
        }
        let header = json!({"alg": algorithm.as_str(), "typ": super::TOKEN_TYPE, "kid": kid});
        let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
        Ok(SigningKey {
            algorithm,
            kid,
            pair,
            jwk,
            header_b64,
        })
    }

    /// The base64url JOSE header of this key's tokens.
    pub(super) fn header_b64(&self) -> &str {
        &self.header_b64
    }

    /// The JWS signature of `input` (RFC 7518 §3.4 fixed-size for ES256).
    pub(super) fn sign(&self, rng: &SystemRandom, input: &[u8]) -> Option<Vec<u8>> {
        match &self.pair {
            Pair::Es256(pair) => pair.sign(rng, input).ok().map(|s| s.as_ref().to_vec()),
            Pair::EdDsa(pair) => Some(pair.sign(input).as_ref().to_vec()),
        }
    }
}

/// The public members of the JWK (RFC 7518 §6.2, RFC 8037 §2), in the lexicographic
/// order RFC 7638 hashes them in.
fn public_members(pair: &Pair) -> Value {
    match pair {
        Pair::Es256(pair) => {
            // The uncompressed point: 0x04 || x || y, 32 bytes each.
            let point = pair.public_key().as_ref();
            let (x, y) = point.get(1..).unwrap_or_default().split_at(point.len() / 2);
            json!({"crv": "P-256", "kty": "EC", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)})
        }
        Pair::EdDsa(pair) => {
            json!({"crv": "Ed25519", "kty": "OKP", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())})
        }
    }
}

/// The RFC 7638 thumbprint input: the required members, sorted, no whitespace. Written
/// by hand so no JSON map ordering feature can change it; base64url needs no escaping.
fn thumbprint_input(pair: &Pair) -> String {
    let member = |name: &str, members: &Value| members[name].as_str().unwrap_or("").to_owned();
    let members = public_members(pair);
    match pair {
        Pair::Es256(_) => format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            member("x", &members),
            member("y", &members)
        ),
        Pair::EdDsa(_) => format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
            member("x", &members)
        ),
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn p256_point_splits_into_two_32_byte_coordinates() {
        let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let jwk = key.public_jwk();
        for member in ["x", "y"] {
            let bytes = URL_SAFE_NO_PAD
                .decode(jwk[member].as_str().unwrap())
                .unwrap();
            assert_eq!(bytes.len(), 32, "{member}");
        }
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["alg"], "ES256");
        assert!(jwk.get("d").is_none());
    }

    #[test]
    fn thumbprint_matches_rfc7638_canonical_order() {
        let key = SigningKey::generate(SigningAlgorithm::EdDsa).unwrap();
        let input = match &key.pair {
            pair @ Pair::EdDsa(_) => thumbprint_input(pair),
            Pair::Es256(_) => unreachable!(),
        };
        assert!(input.starts_with(r#"{"crv":"Ed25519","kty":"OKP","x":""#));
        assert_eq!(
            key.kid(),
            URL_SAFE_NO_PAD.encode(digest(&SHA256, input.as_bytes()))
        );
    }
}
