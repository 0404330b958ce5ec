//! Passport keys: key ids, algorithms, signing and verifying keys.
//!
//! The algorithm of a key is fixed when the key is made; a verifier uses the
//! algorithm of its key, never the one an envelope names.
//!
//! # HMAC-SHA256 or Ed25519
//!
//! HMAC is symmetric: the secret that verifies a passport is the secret that
//! signs one. If every hop shares one HMAC secret, **any one compromised hop can
//! mint a valid passport for any Principal (any human, agent or service, any
//! scopes) and any audience, and no other hop can tell it from a genuine one**:
//! the key id names the shared key, not the hop, so the forgery leaves no trace
//! of who made it. Such a secret is only as safe as the least safe service that
//! holds it.
//!
//! Ed25519 is asymmetric: a verifier holds only the signer's public key, which
//! signs nothing. A compromised hop can sign with its own key only, under its own
//! key id, so what it forges is attributable to it and every hop that does not
//! trust its key refuses it. **Use Ed25519 across hops** (each service its own
//! key, verifiers knowing the public keys by key id); keep HMAC for a signer and
//! verifier that are the same trust boundary anyway (one service talking to
//! itself, or two processes of one deployment).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, ParsedPublicKey};
use aws_lc_rs::{constant_time, hmac};

use crate::error::{ConfigError, PassportError};
use crate::proto;

/// The id of a passport key, carried in every `SignedPassport` so the
/// verifier can pick the key (and with it the algorithm).
///
/// 1 to 64 characters of `A-Z a-z 0-9 . _ - :`, so it is safe in logs and
/// fits the one-byte length prefix of the signature input.
///
/// ```
/// use principal_proto::KeyId;
///
/// let kid = KeyId::new("passport-2025-01").unwrap();
/// assert_eq!(kid.as_str(), "passport-2025-01");
///
/// assert!(KeyId::new("").is_err());
/// assert!(KeyId::new("has space").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(Box<str>);

impl KeyId {
    /// The longest key id accepted, in bytes.
    pub const MAX_LEN: usize = 64;

    /// A key id, checked: 1 to [`KeyId::MAX_LEN`] characters of `A-Z a-z 0-9 . _ - :`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKeyId`] when the value is empty, too long or has
    /// another character.
    pub fn new(value: impl Into<String>) -> Result<Self, ConfigError> {
        let value = value.into();
        check_key_id(value.as_bytes()).map_err(|reason| ConfigError::InvalidKeyId { reason })?;
        Ok(KeyId(value.into_boxed_str()))
    }

    /// The key id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The one rule for key ids, shared by configuration and the wire.
pub(crate) fn check_key_id(value: &[u8]) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("is empty");
    }
    if value.len() > KeyId::MAX_LEN {
        return Err("is longer than 64 bytes");
    }
    if !value
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
    {
        return Err("has a character outside A-Z a-z 0-9 . _ - :");
    }
    Ok(())
}

impl FromStr for KeyId {
    type Err = ConfigError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        KeyId::new(value)
    }
}

impl AsRef<str> for KeyId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyId").field(&&*self.0).finish()
    }
}

/// How a passport is signed.
///
/// ```
/// use principal_proto::SignatureAlgorithm;
///
/// assert_eq!(SignatureAlgorithm::Ed25519.as_str(), "ed25519");
/// assert_eq!(SignatureAlgorithm::HmacSha256.signature_len(), 32);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// HMAC-SHA256 with a shared secret of at least 32 bytes.
    HmacSha256,
    /// Ed25519 (RFC 8032).
    Ed25519,
}

impl SignatureAlgorithm {
    /// A stable lower-case name, for logs and configuration.
    pub const fn as_str(self) -> &'static str {
        match self {
            SignatureAlgorithm::HmacSha256 => "hmac-sha256",
            SignatureAlgorithm::Ed25519 => "ed25519",
        }
    }

    /// The length of a tag or signature of this algorithm, in bytes.
    pub const fn signature_len(self) -> usize {
        match self {
            SignatureAlgorithm::HmacSha256 => 32,
            SignatureAlgorithm::Ed25519 => 64,
        }
    }

    /// The algorithm's number on the wire (`baton.principal.v1.SignatureAlgorithm`).
    pub(crate) const fn to_proto(self) -> proto::SignatureAlgorithm {
        match self {
            SignatureAlgorithm::HmacSha256 => proto::SignatureAlgorithm::HmacSha256,
            SignatureAlgorithm::Ed25519 => proto::SignatureAlgorithm::Ed25519,
        }
    }

    /// The algorithm a wire number names, if it names one this crate knows.
    pub(crate) fn from_wire(value: i32) -> Option<Self> {
        match proto::SignatureAlgorithm::try_from(value).ok()? {
            proto::SignatureAlgorithm::HmacSha256 => Some(SignatureAlgorithm::HmacSha256),
            proto::SignatureAlgorithm::Ed25519 => Some(SignatureAlgorithm::Ed25519),
            proto::SignatureAlgorithm::Unspecified => None,
        }
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shortest HMAC-SHA256 secret accepted, in bytes (the output size of SHA-256).
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// The fixed context string that starts every signature input, so a passport
/// signature can never be mistaken for a signature over anything else.
const SIGNATURE_CONTEXT: &[u8] = b"baton.principal.v1.SignedPassport\0";

/// The bytes between the context and the passport: algorithm and length-prefixed key id.
fn signature_input_header(algorithm: SignatureAlgorithm, key_id: &KeyId) -> [u8; 2] {
    // Key ids are at most 64 bytes (checked by `KeyId::new`), so the length fits one byte.
    let key_id_len = u8::try_from(key_id.as_str().len()).unwrap_or(u8::MAX);
    // The enum numbers are 1 and 2, so the cast is exact.
    [algorithm.to_proto() as u8, key_id_len]
}

/// The whole signature input in one buffer (Ed25519 signs one message).
fn signature_input(algorithm: SignatureAlgorithm, key_id: &KeyId, passport: &[u8]) -> Vec<u8> {
    let kid = key_id.as_str().as_bytes();
    let mut input = Vec::with_capacity(SIGNATURE_CONTEXT.len() + 2 + kid.len() + passport.len());
    input.extend_from_slice(SIGNATURE_CONTEXT);
    input.extend_from_slice(&signature_input_header(algorithm, key_id));
    input.extend_from_slice(kid);
    input.extend_from_slice(passport);
    input
}

/// The HMAC tag of the signature input, computed in parts so the passport bytes
/// are not copied.
fn hmac_tag(key: &hmac::Key, key_id: &KeyId, passport: &[u8]) -> hmac::Tag {
    let mut context = hmac::Context::with_key(key);
    context.update(SIGNATURE_CONTEXT);
    context.update(&signature_input_header(
        SignatureAlgorithm::HmacSha256,
        key_id,
    ));
    context.update(key_id.as_str().as_bytes());
    context.update(passport);
    context.sign()
}

#[derive(Clone)]
enum SigningSecret {
    // `hmac::Key` holds precomputed state (over 1 KiB): shared, not copied.
    Hmac(Arc<hmac::Key>),
    Ed25519 {
        // `Ed25519KeyPair` is not `Clone`; the `Arc` lets a key ring be cloned
        // and swapped whole on rotation.
        pair: Arc<Ed25519KeyPair>,
        public: Ed25519PublicKey,
    },
}

/// A key that signs passports: HMAC-SHA256 or Ed25519, with its key id.
///
/// `Debug` never shows the secret.
///
/// ```
/// use principal_proto::{ConfigError, PassportSigningKey};
///
/// let key = PassportSigningKey::hmac_sha256("k1".parse()?, &[7u8; 32])?;
/// assert_eq!(key.key_id().as_str(), "k1");
/// assert!(!format!("{key:?}").contains("7, 7"));
///
/// // Secrets shorter than 32 bytes are refused.
/// let short = PassportSigningKey::hmac_sha256("k1".parse()?, b"too short");
/// assert!(matches!(short, Err(ConfigError::HmacSecretTooShort { .. })));
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Clone)]
pub struct PassportSigningKey {
    key_id: KeyId,
    secret: SigningSecret,
}

impl PassportSigningKey {
    /// An HMAC-SHA256 signing key from a shared secret of at least
    /// [`MIN_HMAC_SECRET_LEN`] bytes. Verifiers need the same secret
    /// ([`PassportVerifyingKey::hmac_sha256`]).
    ///
    /// Every holder of the secret can sign: a hop that holds it to verify can,
    /// once compromised, mint a passport for any Principal and any audience, and
    /// no holder can tell the forgery from a genuine passport. Across hops,
    /// prefer [`ed25519_generate`](Self::ed25519_generate) or
    /// [`ed25519_from_pkcs8`](Self::ed25519_from_pkcs8) (see
    /// [HMAC-SHA256 or Ed25519](crate#hmac-sha256-or-ed25519)).
    ///
    /// # Errors
    /// [`ConfigError::HmacSecretTooShort`] when the secret is shorter than 32 bytes.
    pub fn hmac_sha256(key_id: KeyId, secret: &[u8]) -> Result<Self, ConfigError> {
        let key = hmac_key(&key_id, secret)?;
        Ok(PassportSigningKey {
            key_id,
            secret: SigningSecret::Hmac(key),
        })
    }

    /// An Ed25519 signing key from an unencrypted PKCS#8 (v1 or v2) document, DER-encoded.
    ///
    /// ```
    /// use principal_proto::{ConfigError, PassportSigningKey};
    ///
    /// let kid = principal_proto::KeyId::new("ed-1")?;
    /// assert!(matches!(
    ///     PassportSigningKey::ed25519_from_pkcs8(kid, b"not der"),
    ///     Err(ConfigError::InvalidEd25519Key { .. })
    /// ));
    /// # Ok::<(), ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::InvalidEd25519Key`] when the document is not an Ed25519 PKCS#8 key.
    pub fn ed25519_from_pkcs8(key_id: KeyId, pkcs8_der: &[u8]) -> Result<Self, ConfigError> {
        let pair =
            Ed25519KeyPair::from_pkcs8(pkcs8_der).map_err(|_| ConfigError::InvalidEd25519Key {
                key_id: key_id.clone(),
            })?;
        let secret = ed25519_signing_secret(&key_id, pair)?;
        Ok(PassportSigningKey { key_id, secret })
    }

    /// A fresh random Ed25519 signing key. Its public half is
    /// [`verifying_key`](Self::verifying_key); the private half lives only in memory.
    ///
    /// ```
    /// use principal_proto::{KeyId, PassportSigningKey, SignatureAlgorithm};
    ///
    /// let key = PassportSigningKey::ed25519_generate(KeyId::new("ed-1")?)?;
    /// assert_eq!(key.algorithm(), SignatureAlgorithm::Ed25519);
    /// assert_eq!(key.verifying_key().ed25519_public_key().map(<[u8]>::len), Some(32));
    /// # Ok::<(), principal_proto::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::KeyGeneration`] when the system random source fails.
    pub fn ed25519_generate(key_id: KeyId) -> Result<Self, ConfigError> {
        let pair = Ed25519KeyPair::generate().map_err(|_| ConfigError::KeyGeneration {
            key_id: key_id.clone(),
        })?;
        let secret = ed25519_signing_secret(&key_id, pair)?;
        Ok(PassportSigningKey { key_id, secret })
    }

    /// The key id written into every envelope this key signs.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match self.secret {
            SigningSecret::Hmac(_) => SignatureAlgorithm::HmacSha256,
            SigningSecret::Ed25519 { .. } => SignatureAlgorithm::Ed25519,
        }
    }

    /// The key that verifies what this key signs: the same secret for HMAC,
    /// the public key for Ed25519.
    pub fn verifying_key(&self) -> PassportVerifyingKey {
        let public = match &self.secret {
            SigningSecret::Hmac(key) => VerifyingSecret::Hmac(Arc::clone(key)),
            SigningSecret::Ed25519 { public, .. } => VerifyingSecret::Ed25519(public.clone()),
        };
        PassportVerifyingKey {
            key_id: self.key_id.clone(),
            public,
        }
    }

    /// The signature over `passport` (already encoded), bound to this key's
    /// algorithm and key id.
    pub(crate) fn sign_bytes(&self, passport: &[u8]) -> Result<Vec<u8>, PassportError> {
        match &self.secret {
            SigningSecret::Hmac(key) => Ok(hmac_tag(key, &self.key_id, passport).as_ref().to_vec()),
            SigningSecret::Ed25519 { pair, .. } => {
                let input = signature_input(SignatureAlgorithm::Ed25519, &self.key_id, passport);
                pair.try_sign(&input)
                    .map(|signature| signature.as_ref().to_vec())
                    .map_err(|_| PassportError::SigningFailed {
                        key_id: self.key_id.clone(),
                    })
            }
        }
    }
}

impl fmt::Debug for PassportSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassportSigningKey")
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm())
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn hmac_key(key_id: &KeyId, secret: &[u8]) -> Result<Arc<hmac::Key>, ConfigError> {
    if secret.len() < MIN_HMAC_SECRET_LEN {
        return Err(ConfigError::HmacSecretTooShort {
            key_id: key_id.clone(),
            len: secret.len(),
            min: MIN_HMAC_SECRET_LEN,
        });
    }
    Ok(Arc::new(hmac::Key::new(hmac::HMAC_SHA256, secret)))
}

/// An Ed25519 public key, parsed once so each verification skips parsing.
#[derive(Clone)]
struct Ed25519PublicKey(ParsedPublicKey);

/// A key pair with its public half parsed at construction, so that
/// [`PassportSigningKey::verifying_key`] cannot fail.
fn ed25519_signing_secret(
    key_id: &KeyId,
    pair: Ed25519KeyPair,
) -> Result<SigningSecret, ConfigError> {
    let public = ParsedPublicKey::new(&ED25519, pair.public_key().as_ref()).map_err(|_| {
        ConfigError::InvalidEd25519Key {
            key_id: key_id.clone(),
        }
    })?;
    Ok(SigningSecret::Ed25519 {
        pair: Arc::new(pair),
        public: Ed25519PublicKey(public),
    })
}

#[derive(Clone)]
enum VerifyingSecret {
    Hmac(Arc<hmac::Key>),
    Ed25519(Ed25519PublicKey),
}

/// A key that verifies passports: an HMAC-SHA256 secret or an Ed25519 public
/// key, with its key id.
///
/// `Debug` never shows an HMAC secret.
///
/// ```
/// use principal_proto::{ConfigError, KeyId, PassportVerifyingKey};
///
/// use principal_proto::PassportSigningKey;
///
/// // A verifier gets the 32-byte public key of the signer's key pair.
/// let signer = PassportSigningKey::ed25519_generate(KeyId::new("ed-1")?)?;
/// let public = signer.verifying_key().ed25519_public_key().unwrap().to_vec();
/// let key = PassportVerifyingKey::ed25519(KeyId::new("ed-1")?, &public)?;
/// assert_eq!(key.key_id().as_str(), "ed-1");
///
/// let wrong = PassportVerifyingKey::ed25519(KeyId::new("ed-1")?, &public[..31]);
/// assert!(matches!(wrong, Err(ConfigError::InvalidEd25519Key { .. })));
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Clone)]
pub struct PassportVerifyingKey {
    key_id: KeyId,
    public: VerifyingSecret,
}

impl PassportVerifyingKey {
    /// An HMAC-SHA256 verifying key: the shared secret, at least
    /// [`MIN_HMAC_SECRET_LEN`] bytes.
    ///
    /// This "verifying" key signs just as well: a service that holds it can mint
    /// a passport for any Principal and audience that every other holder accepts,
    /// undetectably. Across hops prefer [`ed25519`](Self::ed25519) public keys.
    ///
    /// # Errors
    /// [`ConfigError::HmacSecretTooShort`] when the secret is shorter than 32 bytes.
    pub fn hmac_sha256(key_id: KeyId, secret: &[u8]) -> Result<Self, ConfigError> {
        let key = hmac_key(&key_id, secret)?;
        Ok(PassportVerifyingKey {
            key_id,
            public: VerifyingSecret::Hmac(key),
        })
    }

    /// An Ed25519 verifying key from the raw 32-byte public key (RFC 8032).
    ///
    /// # Errors
    /// [`ConfigError::InvalidEd25519Key`] when the bytes are not an Ed25519 public key.
    pub fn ed25519(key_id: KeyId, public_key: &[u8]) -> Result<Self, ConfigError> {
        let parsed = if public_key.len() == 32 {
            ParsedPublicKey::new(&ED25519, public_key).ok()
        } else {
            None
        };
        match parsed {
            Some(parsed) => Ok(PassportVerifyingKey {
                key_id,
                public: VerifyingSecret::Ed25519(Ed25519PublicKey(parsed)),
            }),
            None => Err(ConfigError::InvalidEd25519Key { key_id }),
        }
    }

    /// The key id envelopes name to pick this key.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The key's algorithm; an envelope naming another is rejected.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match self.public {
            VerifyingSecret::Hmac(_) => SignatureAlgorithm::HmacSha256,
            VerifyingSecret::Ed25519(_) => SignatureAlgorithm::Ed25519,
        }
    }

    /// The raw 32-byte public key of an Ed25519 key, to publish to verifiers;
    /// `None` for an HMAC key.
    pub fn ed25519_public_key(&self) -> Option<&[u8]> {
        match &self.public {
            VerifyingSecret::Ed25519(key) => Some(key.0.as_ref()),
            VerifyingSecret::Hmac(_) => None,
        }
    }

    /// Whether `other` is the same key material (and algorithm). HMAC secrets
    /// cannot be read back, so two HMAC keys are compared by their tags over
    /// a fixed probe message, in constant time.
    pub(crate) fn same_key(&self, other: &PassportVerifyingKey) -> bool {
        const PROBE: &[u8] = b"baton.principal.v1 key comparison";
        match (&self.public, &other.public) {
            (VerifyingSecret::Hmac(a), VerifyingSecret::Hmac(b)) => {
                constant_time::verify_slices_are_equal(
                    hmac::sign(a, PROBE).as_ref(),
                    hmac::sign(b, PROBE).as_ref(),
                )
                .is_ok()
            }
            (VerifyingSecret::Ed25519(a), VerifyingSecret::Ed25519(b)) => {
                a.0.as_ref() == b.0.as_ref()
            }
            _ => false,
        }
    }

    /// Checks `signature` over `passport` (the exact bytes received). The
    /// caller has already matched the envelope's key id and algorithm to this key.
    pub(crate) fn verify_bytes(&self, passport: &[u8], signature: &[u8]) -> bool {
        match &self.public {
            VerifyingSecret::Hmac(key) => {
                let expected = hmac_tag(key, &self.key_id, passport);
                // Constant time in the contents (the lengths are public).
                constant_time::verify_slices_are_equal(expected.as_ref(), signature).is_ok()
            }
            VerifyingSecret::Ed25519(key) => {
                let input = signature_input(SignatureAlgorithm::Ed25519, &self.key_id, passport);
                key.0.verify_sig(&input, signature).is_ok()
            }
        }
    }
}

impl fmt::Debug for PassportVerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("PassportVerifyingKey");
        debug
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm());
        if let VerifyingSecret::Hmac(_) = self.public {
            debug.field("secret", &"<redacted>");
        }
        debug.finish()
    }
}
