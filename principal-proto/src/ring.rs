//! Key rings: verify with any accepted key, sign with the current one.
//!
//! Rotation without downtime, in three steps:
//!
//! 1. every verifier adds the new key ([`PassportVerifier::add`] or
//!    [`PassportKeyRing::add_verifying_key`]) while the old one still signs;
//! 2. the signer [`rotates`](PassportKeyRing::rotate): it signs with the new key
//!    and keeps verifying with the old one, so passports already in flight pass;
//! 3. once those have expired (a passport lives minutes at most), every side
//!    [`retires`](PassportKeyRing::retire) the old key.
//!
//! # HMAC shared by all hops: what a compromised hop can do
//!
//! A ring may hold HMAC-SHA256 keys. An HMAC secret both signs and verifies, so
//! when one secret is shared by every hop, **a single compromised hop can mint a
//! passport for any Principal and any audience, and nobody can detect it**: the
//! forgery is bit-for-bit what an honest signer would produce, under the same key
//! id. Rotation does not help while the attacker holds the current secret.
//!
//! With Ed25519 each hop signs with its own private key and verifiers hold only
//! public keys, so a compromised hop can sign only as itself, and a verifier that
//! does not list that hop's key id refuses what it signs. Re-signing per hop
//! ([`Passport::reissue_for`]) is built for this. **Prefer Ed25519 across hops**;
//! HMAC only where signer and verifier are one trust boundary.

use principal::Timestamp;
use prost::Message as _;

use crate::error::{ConfigError, PassportError};
use crate::header::{HeaderLimit, decode_header_value};
use crate::keys::{KeyId, PassportSigningKey, PassportVerifyingKey, SignatureAlgorithm};
use crate::passport::{DecodeOptions, Passport};
use crate::proto;
use crate::wire::{self, SignedPassportView};

/// Room a `SignedPassport` needs besides the passport bytes: a key id of at
/// most 64 bytes, a signature of at most 64 bytes, tags and lengths.
pub const SIGNED_ENVELOPE_OVERHEAD: usize = 160;

/// A set of passport verifying keys, looked up by key id.
///
/// Verification takes the algorithm from the key; an envelope that names
/// another algorithm, an unknown key id or a bad signature is refused before
/// the passport inside is decoded.
///
/// ```
/// use principal_proto::{ConfigError, KeyId, PassportVerifier, PassportVerifyingKey};
///
/// let key = PassportVerifyingKey::hmac_sha256(KeyId::new("k1")?, &[9; 32])?;
/// let mut verifier = PassportVerifier::new([key.clone()])?;
/// assert!(verifier.key(&KeyId::new("k1")?).is_some());
///
/// // A key id may be in the set only once, and an empty set accepts nothing.
/// assert!(matches!(verifier.add(key), Err(ConfigError::DuplicateKeyId { .. })));
/// assert!(matches!(PassportVerifier::new([]), Err(ConfigError::NoKeys)));
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct PassportVerifier {
    // A handful of keys at most (current, next, previous): a linear scan beats hashing.
    keys: Vec<PassportVerifyingKey>,
}

impl PassportVerifier {
    /// A verifier accepting passports signed by any of `keys`.
    ///
    /// # Errors
    /// [`ConfigError::NoKeys`] when `keys` is empty; [`ConfigError::DuplicateKeyId`]
    /// when two keys share a key id.
    pub fn new(keys: impl IntoIterator<Item = PassportVerifyingKey>) -> Result<Self, ConfigError> {
        let mut verifier = PassportVerifier { keys: Vec::new() };
        for key in keys {
            verifier.add(key)?;
        }
        if verifier.keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        Ok(verifier)
    }

    /// Accept passports signed by `key` too.
    ///
    /// # Errors
    /// [`ConfigError::DuplicateKeyId`] when a key with the same key id is already present.
    pub fn add(&mut self, key: PassportVerifyingKey) -> Result<(), ConfigError> {
        if self.key(key.key_id()).is_some() {
            return Err(ConfigError::DuplicateKeyId {
                key_id: key.key_id().clone(),
            });
        }
        self.keys.push(key);
        Ok(())
    }

    /// Stop accepting passports signed by the key `key_id`, and return it.
    ///
    /// ```
    /// use principal_proto::{ConfigError, KeyId, PassportVerifier, PassportVerifyingKey};
    ///
    /// let old = PassportVerifyingKey::hmac_sha256(KeyId::new("old")?, &[1; 32])?;
    /// let new = PassportVerifyingKey::hmac_sha256(KeyId::new("new")?, &[2; 32])?;
    /// let mut verifier = PassportVerifier::new([old, new])?;
    /// verifier.retire(&KeyId::new("old")?)?;
    ///
    /// assert!(matches!(
    ///     verifier.retire(&KeyId::new("old")?),
    ///     Err(ConfigError::UnknownKeyId { .. })
    /// ));
    /// // The last key cannot go: a verifier with no key accepts nothing.
    /// assert!(matches!(verifier.retire(&KeyId::new("new")?), Err(ConfigError::NoKeys)));
    /// # Ok::<(), ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::UnknownKeyId`] when no key has that id;
    /// [`ConfigError::NoKeys`] when it is the last key.
    pub fn retire(&mut self, key_id: &KeyId) -> Result<PassportVerifyingKey, ConfigError> {
        let index = self
            .keys
            .iter()
            .position(|key| key.key_id() == key_id)
            .ok_or_else(|| ConfigError::UnknownKeyId {
                key_id: key_id.clone(),
            })?;
        if self.keys.len() == 1 {
            return Err(ConfigError::NoKeys);
        }
        Ok(self.keys.remove(index))
    }

    /// The key with id `key_id`, if present.
    pub fn key(&self, key_id: &KeyId) -> Option<&PassportVerifyingKey> {
        self.find(key_id.as_str())
    }

    /// The key ids accepted, in the order they were added.
    pub fn key_ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.iter().map(PassportVerifyingKey::key_id)
    }

    fn find(&self, key_id: &str) -> Option<&PassportVerifyingKey> {
        self.keys.iter().find(|key| key.key_id().as_str() == key_id)
    }

    /// Verify an encoded `SignedPassport` and decode the passport inside.
    ///
    /// Checks, in order: size, envelope shape, key id, algorithm (from the
    /// key), signature over the exact passport bytes received, then everything
    /// [`Passport::decode_unsigned`] checks (lifetime, expiry, audience, the Principal).
    ///
    /// ```
    /// use principal_proto::{KeyId, PassportKeyRing, PassportSigningKey, PassportVerifier};
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now)?;
    /// # let options = principal_proto::fixtures::reference_decode_options()?;
    ///
    /// let signer = PassportSigningKey::hmac_sha256(KeyId::new("k1")?, &[9; 32])?;
    /// let verifier = PassportVerifier::new([signer.verifying_key()])?;
    /// let signed = PassportKeyRing::new(signer).sign(&passport)?;
    /// assert_eq!(verifier.verify(&signed, &options, now)?, passport);
    ///
    /// // One flipped bit anywhere and the envelope is refused.
    /// let mut tampered = signed.clone();
    /// let last = tampered.len() - 1;
    /// tampered[last] ^= 1;
    /// assert_eq!(verifier.verify(&tampered, &options, now).unwrap_err().reason(), "bad_signature");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PassportError::Oversized`], [`PassportError::Malformed`],
    /// [`PassportError::InvalidField`] (key id), [`PassportError::UnknownKeyId`],
    /// [`PassportError::UnsupportedAlgorithm`], [`PassportError::AlgorithmMismatch`],
    /// [`PassportError::BadSignature`], then any error of [`Passport::decode_unsigned`].
    pub fn verify(
        &self,
        signed: &[u8],
        options: &DecodeOptions,
        now: Timestamp,
    ) -> Result<Passport, PassportError> {
        self.verify_with_key(signed, options, now)
            .map(|(passport, _)| passport)
    }

    /// [`verify`](Self::verify), and the key that verified the signature: its key id
    /// tells who signed (the edge, or the hop that re-signed it), for the audit.
    ///
    /// ```
    /// use principal_proto::{KeyId, PassportKeyRing, PassportSigningKey, PassportVerifier};
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now)?;
    /// # let options = principal_proto::fixtures::reference_decode_options()?;
    ///
    /// let gateway = PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new("gateway-1")?)?);
    /// let orders = PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new("orders-1")?)?);
    /// let verifier = PassportVerifier::new(
    ///     [&gateway, &orders].map(|ring| ring.verifier().key(ring.current_key_id()).unwrap().clone()),
    /// )?;
    /// let (received, key) = verifier.verify_with_key(&orders.sign(&passport)?, &options, now)?;
    /// assert_eq!(received, passport);
    /// assert_eq!(key.key_id().as_str(), "orders-1");
    ///
    /// let unknown = PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new("billing-1")?)?);
    /// let error = verifier.verify_with_key(&unknown.sign(&passport)?, &options, now).unwrap_err();
    /// assert_eq!(error.reason(), "unknown_key_id");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub fn verify_with_key(
        &self,
        signed: &[u8],
        options: &DecodeOptions,
        now: Timestamp,
    ) -> Result<(Passport, &PassportVerifyingKey), PassportError> {
        let max = max_signed_len(options);
        if signed.len() > max {
            return Err(PassportError::Oversized {
                what: "signed passport",
                len: signed.len(),
                max,
            });
        }
        let envelope = wire::signed_passport(signed).map_err(|error| PassportError::Malformed {
            message: "SignedPassport",
            detail: error.0,
        })?;
        let key = self.key_for(&envelope)?;
        if !key.verify_bytes(envelope.passport, envelope.signature) {
            return Err(PassportError::BadSignature {
                key_id: key.key_id().clone(),
            });
        }
        let passport = Passport::decode_authenticated(envelope.passport, options, now)?;
        Ok((passport, key))
    }

    /// [`verify`](Self::verify) the header form: base64 of a `SignedPassport`,
    /// padded or not.
    ///
    /// ```
    /// use principal_proto::{KeyId, PassportKeyRing, PassportSigningKey};
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now)?;
    /// # let options = principal_proto::fixtures::reference_decode_options()?;
    ///
    /// let ring = PassportKeyRing::new(PassportSigningKey::hmac_sha256(KeyId::new("k1")?, &[9; 32])?);
    /// let header = ring.sign_header(&passport)?;
    /// assert_eq!(ring.verifier().verify_header(&header, &options, now)?, passport);
    ///
    /// assert_eq!(
    ///     ring.verifier().verify_header("not base64!", &options, now).unwrap_err().reason(),
    ///     "bad_base64"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`decode_header_value`], then as [`verify`](Self::verify).
    pub fn verify_header(
        &self,
        value: impl AsRef<[u8]>,
        options: &DecodeOptions,
        now: Timestamp,
    ) -> Result<Passport, PassportError> {
        let signed = decode_header_value(value, max_signed_len(options))?;
        self.verify(&signed, options, now)
    }

    /// The key the envelope names, if it exists and has the algorithm the envelope names.
    fn key_for(
        &self,
        envelope: &SignedPassportView<'_>,
    ) -> Result<&PassportVerifyingKey, PassportError> {
        crate::keys::check_key_id(envelope.key_id.as_bytes()).map_err(|reason| {
            PassportError::InvalidField {
                field: "SignedPassport.key_id",
                reason,
            }
        })?;
        let key = self
            .find(envelope.key_id)
            .ok_or_else(|| PassportError::UnknownKeyId {
                key_id: envelope.key_id.to_owned(),
            })?;
        let found = SignatureAlgorithm::from_wire(envelope.algorithm).ok_or(
            PassportError::UnsupportedAlgorithm {
                value: envelope.algorithm,
            },
        )?;
        if found != key.algorithm() {
            return Err(PassportError::AlgorithmMismatch {
                key_id: key.key_id().clone(),
                expected: key.algorithm(),
                found,
            });
        }
        Ok(key)
    }
}

/// Which form received passport bytes are in: a `SignedPassport` envelope or a
/// bare (unsigned) `Passport`. Both travel in `x-principal-bin`.
///
/// The two messages differ in field 4 (a `SignedPassport`'s signature is
/// length-delimited, a `Passport`'s lifetime a varint, and each requires it), so
/// bytes that parse as an envelope are [`Signed`](Self::Signed), and everything
/// else is [`Unsigned`](Self::Unsigned) (possibly garbage, which decoding then
/// refuses). The sender picks the form, and nothing is gained by picking the other
/// one: a signed passport still needs a key the receiver accepts, an unsigned one
/// a [`TrustedPeer`](crate::TrustedPeer).
///
/// ```
/// use principal_proto::{KeyId, PassportForm, PassportKeyRing, PassportSigningKey};
/// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
/// # let passport = principal_proto::fixtures::reference_passport(now)?;
///
/// let ring = PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new("k1")?)?);
/// assert_eq!(PassportForm::of(&ring.sign(&passport)?), PassportForm::Signed);
/// assert_eq!(PassportForm::of(&passport.encode()), PassportForm::Unsigned);
/// assert_eq!(PassportForm::of(b"\xff garbage"), PassportForm::Unsigned);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PassportForm {
    /// A `SignedPassport`: verify it with a [`PassportVerifier`].
    Signed,
    /// Not an envelope: decode it only with
    /// [`Passport::decode_unsigned`](crate::Passport::decode_unsigned).
    Unsigned,
}

impl PassportForm {
    /// The form of `bytes` (a decoded `x-principal-bin` value). Reads the
    /// envelope's field tags only: no signature check, no decoding of the passport.
    pub fn of(bytes: &[u8]) -> PassportForm {
        match wire::signed_passport(bytes) {
            Ok(_) => PassportForm::Signed,
            Err(_) => PassportForm::Unsigned,
        }
    }

    /// The largest decoded `x-principal-bin` value accepted under `options`, in
    /// either form (a signed envelope adds [`SIGNED_ENVELOPE_OVERHEAD`]): the limit
    /// to pass to [`decode_header_value`](crate::header::decode_header_value).
    pub fn max_len(options: &DecodeOptions) -> usize {
        max_signed_len(options)
    }
}

/// The largest `SignedPassport` accepted under `options`.
fn max_signed_len(options: &DecodeOptions) -> usize {
    options.max_bytes().saturating_add(SIGNED_ENVELOPE_OVERHEAD)
}

/// A signer's key ring: signs with the current key, verifies with the current
/// key and any other accepted key (the previous one during a rotation, or the
/// next one announced ahead of it).
///
/// Cheap to clone (keys are reference-counted), so a service can hold it in
/// an `ArcSwap`, clone, rotate and store.
///
/// ```
/// use principal_proto::{KeyId, PassportKeyRing, PassportSigningKey};
/// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
/// # let passport = principal_proto::fixtures::reference_passport(now)?;
/// # let options = principal_proto::fixtures::reference_decode_options()?;
///
/// let old = PassportSigningKey::hmac_sha256(KeyId::new("2025-01")?, &[1; 32])?;
/// let new = PassportSigningKey::hmac_sha256(KeyId::new("2025-02")?, &[2; 32])?;
/// let mut ring = PassportKeyRing::new(old);
/// let in_flight = ring.sign(&passport)?;
///
/// ring.rotate(new)?;
/// assert_eq!(ring.current_key_id().as_str(), "2025-02");
/// // Signed before the rotation, still accepted.
/// assert_eq!(ring.verify(&in_flight, &options, now)?, passport);
///
/// // Once the old key is retired, what it signed is refused.
/// ring.retire(&KeyId::new("2025-01")?)?;
/// assert_eq!(ring.verify(&in_flight, &options, now).unwrap_err().reason(), "unknown_key_id");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct PassportKeyRing {
    current: PassportSigningKey,
    verifier: PassportVerifier,
}

impl PassportKeyRing {
    /// A ring that signs and verifies with `current`.
    pub fn new(current: PassportSigningKey) -> Self {
        let verifier = PassportVerifier {
            keys: vec![current.verifying_key()],
        };
        PassportKeyRing { current, verifier }
    }

    /// The key id new passports are signed with.
    pub fn current_key_id(&self) -> &KeyId {
        self.current.key_id()
    }

    /// The verifying side of the ring (current key and every other accepted key).
    pub fn verifier(&self) -> &PassportVerifier {
        &self.verifier
    }

    /// Sign `passport`: the encoded `SignedPassport`. Its size is not limited here: send
    /// the header form, [`sign_header`](Self::sign_header), which refuses a Principal
    /// too large to send.
    ///
    /// ```
    /// use principal_proto::{KeyId, PassportKeyRing, PassportSigningKey};
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now)?;
    /// # let options = principal_proto::fixtures::reference_decode_options()?;
    ///
    /// let ring = PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new("ed-1")?)?);
    /// let signed = ring.sign(&passport)?;
    /// assert_eq!(ring.verify(&signed, &options, now)?, passport);
    ///
    /// // Another ring's key, even with the same key id, does not verify it.
    /// let other = PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new("ed-1")?)?);
    /// assert_eq!(other.verify(&signed, &options, now).unwrap_err().reason(), "bad_signature");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PassportError::SigningFailed`] if aws-lc-rs fails to sign (not caused by input).
    pub fn sign(&self, passport: &Passport) -> Result<Vec<u8>, PassportError> {
        let passport = passport.encode();
        let signature = self.current.sign_bytes(&passport)?;
        let envelope = proto::SignedPassport {
            passport,
            key_id: self.current.key_id().as_str().to_owned(),
            algorithm: self.current.algorithm().to_proto() as i32,
            signature,
        };
        Ok(envelope.encode_to_vec())
    }

    /// [`sign`](Self::sign), in header form (standard base64, no padding): the signed
    /// passport as it is sent, within the default sending limit
    /// ([`DEFAULT_MAX_HEADER_LEN`](crate::header::DEFAULT_MAX_HEADER_LEN)).
    ///
    /// ```
    /// use principal_proto::{KeyId, PassportKeyRing, PassportSigningKey};
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now)?;
    /// # let options = principal_proto::fixtures::reference_decode_options()?;
    ///
    /// let ring = PassportKeyRing::new(PassportSigningKey::hmac_sha256(KeyId::new("k1")?, &[9; 32])?);
    /// let header = ring.sign_header(&passport)?;
    /// assert!(!header.ends_with('='));
    /// assert!(ring.verifier().verify_header(&header, &options, now).is_ok());
    /// assert!(ring.verifier().verify_header(&header[1..], &options, now).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PassportError::PrincipalTooLarge`] when the header would be longer than the
    /// limit; otherwise as [`sign`](Self::sign).
    pub fn sign_header(&self, passport: &Passport) -> Result<String, PassportError> {
        self.sign_header_within(passport, HeaderLimit::default())
    }

    /// [`sign_header`](Self::sign_header) within the sending limit `limit`: a Principal
    /// too large for it is refused here, so it is never sent.
    ///
    /// ```
    /// use principal_proto::header::HeaderLimit;
    /// use principal_proto::{KeyId, PassportError, PassportKeyRing, PassportSigningKey};
    /// # let now = principal::Timestamp::from_unix_seconds(1_700_000_000);
    /// # let passport = principal_proto::fixtures::reference_passport(now)?;
    /// # let options = principal_proto::fixtures::reference_decode_options()?;
    ///
    /// let ring = PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new("k1")?)?);
    /// let header = ring.sign_header_within(&passport, HeaderLimit::new(1024)?)?;
    /// assert!(ring.verifier().verify_header(&header, &options, now).is_ok());
    ///
    /// let small = HeaderLimit::new(header.len() - 1)?;
    /// let error = ring.sign_header_within(&passport, small).unwrap_err();
    /// assert!(matches!(error, PassportError::PrincipalTooLarge { len, .. } if len == header.len()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PassportError::PrincipalTooLarge`] when the header would be longer than
    /// `limit`; otherwise as [`sign`](Self::sign).
    pub fn sign_header_within(
        &self,
        passport: &Passport,
        limit: HeaderLimit,
    ) -> Result<String, PassportError> {
        limit.encode(&self.sign(passport)?)
    }

    /// Verify with any accepted key; see [`PassportVerifier::verify`].
    ///
    /// # Errors
    /// As [`PassportVerifier::verify`].
    pub fn verify(
        &self,
        signed: &[u8],
        options: &DecodeOptions,
        now: Timestamp,
    ) -> Result<Passport, PassportError> {
        self.verifier.verify(signed, options, now)
    }

    /// Accept passports signed by `key` as well (a previous key, or the next
    /// one before the signer switches to it).
    ///
    /// # Errors
    /// [`ConfigError::DuplicateKeyId`] when the ring already has that key id.
    pub fn add_verifying_key(&mut self, key: PassportVerifyingKey) -> Result<(), ConfigError> {
        self.verifier.add(key)
    }

    /// Sign with `new_current` from now on; the old current key stays
    /// accepted for verification until [`retire`](Self::retire)d. If the new
    /// key's verifying key was added ahead with
    /// [`add_verifying_key`](Self::add_verifying_key), it is kept as is.
    ///
    /// ```
    /// use principal_proto::{ConfigError, KeyId, PassportKeyRing, PassportSigningKey};
    ///
    /// let mut ring = PassportKeyRing::new(PassportSigningKey::hmac_sha256(KeyId::new("a")?, &[1; 32])?);
    /// ring.rotate(PassportSigningKey::hmac_sha256(KeyId::new("b")?, &[2; 32])?)?;
    /// assert_eq!(ring.verifier().key_ids().count(), 2);
    ///
    /// // Reusing a key id with another secret is refused.
    /// let reused = PassportSigningKey::hmac_sha256(KeyId::new("a")?, &[3; 32])?;
    /// assert!(matches!(ring.rotate(reused), Err(ConfigError::DuplicateKeyId { .. })));
    /// # Ok::<(), ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::DuplicateKeyId`] when the new key's id is the current
    /// key's, or belongs to an accepted key other than its own announced verifying key.
    pub fn rotate(&mut self, new_current: PassportSigningKey) -> Result<(), ConfigError> {
        let key_id = new_current.key_id();
        let duplicate = || ConfigError::DuplicateKeyId {
            key_id: key_id.clone(),
        };
        if key_id == self.current.key_id() {
            return Err(duplicate());
        }
        match self.verifier.key(key_id) {
            // Announced ahead: it must be this very key, not another under the same id.
            Some(announced) if !announced.same_key(&new_current.verifying_key()) => {
                return Err(duplicate());
            }
            Some(_) => {}
            None => self.verifier.keys.push(new_current.verifying_key()),
        }
        self.current = new_current;
        Ok(())
    }

    /// Stop accepting passports signed by `key_id`.
    ///
    /// # Errors
    /// [`ConfigError::RetireCurrentKey`] when `key_id` is the current signing key;
    /// [`ConfigError::UnknownKeyId`] when the ring does not hold it.
    pub fn retire(&mut self, key_id: &KeyId) -> Result<PassportVerifyingKey, ConfigError> {
        if key_id == self.current.key_id() {
            return Err(ConfigError::RetireCurrentKey {
                key_id: key_id.clone(),
            });
        }
        self.verifier.retire(key_id)
    }
}
