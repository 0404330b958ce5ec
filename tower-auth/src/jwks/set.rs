//! An immutable set of verification keys, loaded from a JWKS or built from configured
//! symmetric secrets.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;

use super::error::{JwksConfigError, JwksError};
use super::key::{DropReason, DroppedKey, MAX_KID_BYTES, VerificationKey, echo, kid_of, parse_jwk};
use super::policy::KeySetPolicy;

/// An immutable key set: keys with a `kid` sorted for a binary search, and at most one key
/// without a `kid` (only in a single-key set).
///
/// [`get`](KeySet::get) takes no lock and allocates nothing.
///
/// ```
/// use tower_auth::jwks::{JwksError, KeySet, KeySetPolicy};
///
/// let jwks = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed-1","use":"sig",
///     "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
/// let load = KeySet::from_jwks_json(jwks, &KeySetPolicy::default())?;
/// assert!(load.set.get("ed-1").is_some()); // accepted
/// assert!(load.set.get("other").is_none()); // unknown kid
///
/// // Rejected: a set with nothing in it.
/// let err = KeySet::from_jwks_json(br#"{"keys":[]}"#, &KeySetPolicy::default()).unwrap_err();
/// assert_eq!(err, JwksError::EmptyKeySet);
/// # Ok::<(), JwksError>(())
/// ```
pub struct KeySet {
    by_kid: Vec<(Box<str>, Arc<VerificationKey>)>,
    without_kid: Option<Arc<VerificationKey>>,
    fingerprint: u64,
    version: u64,
}

/// A key set and the keys left out of it.
#[derive(Debug)]
pub struct KeySetLoad {
    /// The usable keys.
    pub set: KeySet,
    /// The JWKs left out, each with its reason (each also logged with `tracing::warn!`).
    pub dropped: Vec<DroppedKey>,
}

/// The `keys` of a JWKS document, read in one pass that stops building at `max_keys`:
/// past the limit, members are only counted ([`IgnoredAny`] builds nothing), so an
/// oversized set costs a scan of its bytes, never a value per element.
enum RawKeys {
    Within(Vec<serde_json::Value>),
    TooMany(usize),
}

impl RawKeys {
    fn parse(bytes: &[u8], max_keys: usize) -> Result<RawKeys, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let keys = deserializer.deserialize_map(DocumentVisitor { max_keys })?;
        deserializer.end()?;
        Ok(keys)
    }
}

/// The JWKS object: its `keys` member read with [`KeysSeed`], the others skipped.
struct DocumentVisitor {
    max_keys: usize,
}

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = RawKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWKS object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawKeys, A::Error> {
        let mut keys = None;
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            if name == "keys" {
                if keys.is_some() {
                    return Err(de::Error::duplicate_field("keys"));
                }
                keys = Some(map.next_value_seed(KeysSeed {
                    max_keys: self.max_keys,
                })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        keys.ok_or_else(|| de::Error::missing_field("keys"))
    }
}

/// The `keys` array: at most `max_keys` values built, the rest counted.
struct KeysSeed {
    max_keys: usize,
}

impl<'de> DeserializeSeed<'de> for KeysSeed {
    type Value = RawKeys;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawKeys, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for KeysSeed {
    type Value = RawKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of JWKs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawKeys, A::Error> {
        let mut keys = Vec::new();
        while keys.len() < self.max_keys {
            match seq.next_element::<serde_json::Value>()? {
                Some(key) => keys.push(key),
                None => return Ok(RawKeys::Within(keys)),
            }
        }
        let mut beyond = 0usize;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            beyond += 1;
        }
        Ok(if beyond == 0 {
            RawKeys::Within(keys)
        } else {
            RawKeys::TooMany(keys.len() + beyond)
        })
    }
}

impl KeySet {
    /// An empty set: every lookup misses.
    pub fn empty() -> Self {
        KeySet::from_keys(Vec::new())
    }

    /// Loads a JWKS document (RFC 7517 §5) under `policy`.
    ///
    /// Keys that break a rule (see [`DropReason`]) are dropped with a warning; the set is
    /// refused as a whole when the document is not a JWKS, is empty, lists more than
    /// `max_keys` keys (counted while the document is read: members past the limit are
    /// skipped over, no key is built), or leaves no usable key. Every key is parsed and
    /// checked here, once per set loaded, never at lookup. Symmetric (`oct`) keys are always dropped:
    /// HMAC keys come only from [`KeySet::from_symmetric_keys`].
    ///
    /// A key without `kid` is kept only when it is the one usable key of the set: in a
    /// larger set a token could not name it.
    pub fn from_jwks_json(bytes: &[u8], policy: &KeySetPolicy) -> Result<KeySetLoad, JwksError> {
        let raw = RawKeys::parse(bytes, policy.max_keys()).map_err(|e| JwksError::InvalidJson {
            // serde_json repeats the offending value: the IdP chooses it, so it is cut.
            detail: echo(&e.to_string()),
        })?;
        let raw = match raw {
            RawKeys::Within(keys) => keys,
            RawKeys::TooMany(count) => {
                return Err(JwksError::TooManyKeys {
                    count,
                    limit: policy.max_keys(),
                });
            }
        };
        if raw.is_empty() {
            return Err(JwksError::EmptyKeySet);
        }
        let mut kept: Vec<(usize, VerificationKey)> = Vec::with_capacity(raw.len());
        let mut dropped = Vec::new();
        for (index, value) in raw.iter().enumerate() {
            match parse_jwk(value, policy) {
                Ok(key) => {
                    let duplicate =
                        key.kid().is_some() && kept.iter().any(|(_, k)| k.kid() == key.kid());
                    if duplicate {
                        dropped.push(DroppedKey {
                            index,
                            kid: key.kid().map(echo),
                            reason: DropReason::DuplicateKeyId,
                        });
                    } else {
                        kept.push((index, key));
                    }
                }
                Err(reason) => dropped.push(DroppedKey {
                    index,
                    kid: kid_of(value),
                    reason,
                }),
            }
        }
        if kept.len() > 1 {
            kept.retain(|(index, key)| {
                if key.kid().is_some() {
                    return true;
                }
                dropped.push(DroppedKey {
                    index: *index,
                    kid: None,
                    reason: DropReason::MissingKeyIdInMultiKeySet,
                });
                false
            });
        }
        dropped.sort_by_key(|d| d.index);
        for d in &dropped {
            tracing::warn!(
                index = d.index,
                kid = d.kid.as_deref().unwrap_or(""),
                reason = d.reason.reason(),
                detail = %d.reason,
                "JWK dropped from key set"
            );
        }
        if kept.is_empty() {
            return Err(JwksError::NoUsableKeys {
                dropped: dropped.len(),
            });
        }
        let set = KeySet::from_keys(kept.into_iter().map(|(_, k)| k).collect());
        Ok(KeySetLoad { set, dropped })
    }

    /// A set of configured HMAC keys (HS256/384/512). Never built from a fetched JWKS.
    ///
    /// Every key needs a `kid` when there are several; kids are unique.
    ///
    /// ```
    /// use jsonwebtoken::Algorithm;
    /// use tower_auth::jwks::{JwksConfigError, KeySet, SymmetricKey};
    ///
    /// let key = SymmetricKey::new(Some("hs-1"), Algorithm::HS256, vec![7u8; 32])?;
    /// let set = KeySet::from_symmetric_keys([key])?;
    /// assert_eq!(set.get("hs-1").map(|k| k.algorithm()), Some(Algorithm::HS256));
    ///
    /// // Rejected: two keys with the same kid.
    /// let a = SymmetricKey::new(Some("dup"), Algorithm::HS256, vec![1u8; 32])?;
    /// let b = SymmetricKey::new(Some("dup"), Algorithm::HS256, vec![2u8; 32])?;
    /// assert_eq!(KeySet::from_symmetric_keys([a, b]).unwrap_err().reason(), "duplicate_kid");
    /// # Ok::<(), JwksConfigError>(())
    /// ```
    pub fn from_symmetric_keys(
        keys: impl IntoIterator<Item = SymmetricKey>,
    ) -> Result<KeySet, JwksConfigError> {
        let keys: Vec<SymmetricKey> = keys.into_iter().collect();
        if keys.is_empty() {
            return Err(JwksConfigError::EmptyKeySet);
        }
        if keys.len() > 1 && keys.iter().any(|k| k.kid.is_none()) {
            return Err(JwksConfigError::MissingKeyId);
        }
        let mut built: Vec<VerificationKey> = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(kid) = key.kid.as_deref()
                && built.iter().any(|b| b.kid() == Some(kid))
            {
                return Err(JwksConfigError::DuplicateKeyId { kid: echo(kid) });
            }
            built.push(VerificationKey::new(
                key.kid.clone(),
                key.algorithm,
                DecodingKey::from_secret(&key.secret),
                key.secret.clone(),
            ));
        }
        Ok(KeySet::from_keys(built))
    }

    fn from_keys(keys: Vec<VerificationKey>) -> KeySet {
        let mut by_kid = Vec::with_capacity(keys.len());
        let mut without_kid = None;
        for key in keys {
            match key.kid() {
                Some(kid) => by_kid.push((Box::<str>::from(kid), Arc::new(key))),
                None => without_kid = Some(Arc::new(key)),
            }
        }
        by_kid.sort_by(|a, b| a.0.cmp(&b.0));
        let fingerprint = fingerprint(&by_kid, without_kid.as_ref());
        KeySet {
            by_kid,
            without_kid,
            fingerprint,
            version: 0,
        }
    }

    /// The key with this `kid`. No lock, no allocation: a binary search over `&str`.
    pub fn get(&self, kid: &str) -> Option<&Arc<VerificationKey>> {
        self.by_kid
            .binary_search_by(|(k, _)| (**k).cmp(kid))
            .ok()
            .map(|i| &self.by_kid[i].1)
    }

    /// The key for a token without `kid`: the set's only key, if it has exactly one.
    pub fn sole_key(&self) -> Option<&Arc<VerificationKey>> {
        match (self.by_kid.as_slice(), &self.without_kid) {
            ([], Some(key)) => Some(key),
            ([(_, key)], None) => Some(key),
            _ => None,
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.by_kid.len() + usize::from(self.without_kid.is_some())
    }

    /// Whether the set has no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys, those with a `kid` first in `kid` order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<VerificationKey>> {
        self.by_kid
            .iter()
            .map(|(_, key)| key)
            .chain(self.without_kid.iter())
    }

    /// The set's version in its [`KeyCache`](super::KeyCache): raised by one each time the
    /// cache installs a set whose keys differ from the one before. 0 for a set outside a cache.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// A hash of the keys (kid, algorithm, key material): equal sets have equal fingerprints.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    pub(crate) fn with_version(mut self, version: u64) -> KeySet {
        self.version = version;
        self
    }
}

fn fingerprint(
    by_kid: &[(Box<str>, Arc<VerificationKey>)],
    without_kid: Option<&Arc<VerificationKey>>,
) -> u64 {
    let mut context = digest::Context::new(&digest::SHA256);
    let mut absorb = |bytes: &[u8]| {
        context.update(&(bytes.len() as u64).to_be_bytes());
        context.update(bytes);
    };
    for key in by_kid.iter().map(|(_, k)| k).chain(without_kid) {
        absorb(key.kid().unwrap_or("").as_bytes());
        absorb(format!("{:?}", key.algorithm()).as_bytes());
        absorb(key.material());
    }
    let hash = context.finish();
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_ref()[..8]);
    u64::from_be_bytes(first)
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("version", &self.version)
            .field("keys", &self.iter().collect::<Vec<_>>())
            .finish()
    }
}

/// A configured HMAC secret with its algorithm. `Debug` never shows the secret.
#[derive(Clone)]
pub struct SymmetricKey {
    kid: Option<String>,
    algorithm: Algorithm,
    secret: Vec<u8>,
}

impl SymmetricKey {
    /// A secret for HS256, HS384 or HS512. It must be at least as long as the hash output
    /// (32, 48, 64 bytes; RFC 7518 §3.2); a `kid` is 1 to 256 bytes.
    ///
    /// ```
    /// use jsonwebtoken::Algorithm;
    /// use tower_auth::jwks::{JwksConfigError, SymmetricKey};
    ///
    /// assert!(SymmetricKey::new(Some("k"), Algorithm::HS384, vec![0u8; 48]).is_ok());
    /// let err = SymmetricKey::new(Some("k"), Algorithm::HS512, vec![0u8; 32]).unwrap_err();
    /// assert_eq!(err.reason(), "secret_too_short");
    /// # Ok::<(), JwksConfigError>(())
    /// ```
    pub fn new(
        kid: Option<&str>,
        algorithm: Algorithm,
        secret: impl Into<Vec<u8>>,
    ) -> Result<SymmetricKey, JwksConfigError> {
        let kid = kid.map(str::to_owned);
        if let Some(k) = kid.as_deref()
            && (k.is_empty() || k.len() > MAX_KID_BYTES)
        {
            return Err(JwksConfigError::InvalidKeyId);
        }
        let minimum = match algorithm {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            _ => return Err(JwksConfigError::NotHmacAlgorithm { kid, algorithm }),
        };
        let secret = secret.into();
        if secret.len() < minimum {
            return Err(JwksConfigError::SecretTooShort {
                kid,
                algorithm,
                length: secret.len(),
                minimum,
            });
        }
        Ok(SymmetricKey {
            kid,
            algorithm,
            secret,
        })
    }
}

impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymmetricKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("secret", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_rules() {
        assert_eq!(
            SymmetricKey::new(Some("k"), Algorithm::RS256, vec![0u8; 64])
                .unwrap_err()
                .reason(),
            "not_hmac_algorithm"
        );
        assert_eq!(
            SymmetricKey::new(Some(""), Algorithm::HS256, vec![0u8; 64]).unwrap_err(),
            JwksConfigError::InvalidKeyId
        );
        assert_eq!(
            SymmetricKey::new(Some("k"), Algorithm::HS256, vec![0u8; 31])
                .unwrap_err()
                .reason(),
            "secret_too_short"
        );
        let no_kid = SymmetricKey::new(None, Algorithm::HS256, vec![1u8; 32]).unwrap();
        let with_kid = SymmetricKey::new(Some("a"), Algorithm::HS256, vec![2u8; 32]).unwrap();
        assert_eq!(
            KeySet::from_symmetric_keys([no_kid.clone(), with_kid]).unwrap_err(),
            JwksConfigError::MissingKeyId
        );
        assert_eq!(
            KeySet::from_symmetric_keys(Vec::new()).unwrap_err(),
            JwksConfigError::EmptyKeySet
        );
        let single = KeySet::from_symmetric_keys([no_kid]).unwrap();
        assert!(single.sole_key().is_some());
        assert!(single.get("a").is_none());
    }

    #[test]
    fn keys_past_the_limit_are_counted_not_built() {
        let doc = br#"{"x": {"keys": 1}, "keys": [{}, 1, "a", [[[]]]], "y": []}"#;
        assert!(matches!(
            RawKeys::parse(doc, 2).unwrap(),
            RawKeys::TooMany(4)
        ));
        assert!(matches!(
            RawKeys::parse(doc, 3).unwrap(),
            RawKeys::TooMany(4)
        ));
        assert!(matches!(RawKeys::parse(doc, 4).unwrap(), RawKeys::Within(k) if k.len() == 4));
        assert!(
            matches!(RawKeys::parse(br#"{"keys": []}"#, 1).unwrap(), RawKeys::Within(k) if k.is_empty())
        );
        for bad in [
            &br#"{"keys": [], "keys": []}"#[..],
            br#"{"other": []}"#,
            br#"{"keys": {}}"#,
            br#"{"keys": [1, 2, 3"#,
            br#"{"keys": []} trailing"#,
            br#"[]"#,
        ] {
            assert!(
                RawKeys::parse(bad, 2).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn symmetric_debug_redacts() {
        let key = SymmetricKey::new(
            Some("k"),
            Algorithm::HS256,
            b"0123456789abcdef0123456789abcdef".to_vec(),
        )
        .unwrap();
        assert!(!format!("{key:?}").contains("0123456789"));
        let set = KeySet::from_symmetric_keys([key]).unwrap();
        assert!(!format!("{set:?}").contains("0123456789"));
    }

    #[test]
    fn fingerprint_tracks_content() {
        let a = SymmetricKey::new(Some("a"), Algorithm::HS256, vec![1u8; 32]).unwrap();
        let b = SymmetricKey::new(Some("a"), Algorithm::HS256, vec![2u8; 32]).unwrap();
        let set_a1 = KeySet::from_symmetric_keys([a.clone()]).unwrap();
        let set_a2 = KeySet::from_symmetric_keys([a]).unwrap();
        let set_b = KeySet::from_symmetric_keys([b]).unwrap();
        assert_eq!(set_a1.fingerprint(), set_a2.fingerprint());
        assert_ne!(set_a1.fingerprint(), set_b.fingerprint());
    }

    #[test]
    fn sole_key_needs_exactly_one() {
        let a = SymmetricKey::new(Some("a"), Algorithm::HS256, vec![1u8; 32]).unwrap();
        let b = SymmetricKey::new(Some("b"), Algorithm::HS256, vec![2u8; 32]).unwrap();
        let one = KeySet::from_symmetric_keys([a.clone()]).unwrap();
        assert_eq!(one.sole_key().and_then(|k| k.kid()), Some("a"));
        let two = KeySet::from_symmetric_keys([a, b]).unwrap();
        assert!(two.sole_key().is_none());
        assert_eq!(two.len(), 2);
        assert!(KeySet::empty().is_empty());
    }
}
