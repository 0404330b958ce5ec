//! The key's text form, its id, its hash, and its generation.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use super::{AgentKeyError, MalformedKey};

/// The start of every agent key and key id: says what the string is (to a secret
/// scanner, to an operator reading a leaked log) before anything is looked up.
pub const KEY_PREFIX: &str = "baton_ak_";
/// Random bytes in a key id: 64 bits, hex-encoded to 16 characters. The id is public
/// (it is only a lookup handle), so it needs uniqueness, not secrecy.
const ID_BYTES: usize = 8;
/// Random bytes in a key's secret: 256 bits, hex-encoded to 64 characters.
const SECRET_BYTES: usize = 32;
/// The length of a key id's text form: `baton_ak_` and 16 lowercase hex digits.
const ID_LEN: usize = KEY_PREFIX.len() + 2 * ID_BYTES;
/// The length of an agent key: the id, `_`, and 64 lowercase hex digits. Every key has
/// exactly this length; anything else is refused before any other work.
pub const KEY_LEN: usize = ID_LEN + 1 + 2 * SECRET_BYTES;
/// Domain separation for the stored hash: a digest made for anything else never matches.
const HASH_DOMAIN: &[u8] = b"baton agent key v1\0";

/// The public id of an agent key: `baton_ak_` followed by 16 lowercase hex digits, which
/// is also how the key itself begins.
///
/// The id is what a store looks a key up by, what revocation names and what logs show; it
/// grants nothing on its own.
///
/// ```
/// use tower_auth::agent_keys::AgentKeyId;
///
/// let id: AgentKeyId = "baton_ak_0123456789abcdef".parse()?;
/// assert_eq!(id.to_string(), "baton_ak_0123456789abcdef");
/// assert!("baton_ak_0123456789ABCDEF".parse::<AgentKeyId>().is_err()); // uppercase
/// assert!("ak_0123456789abcdef".parse::<AgentKeyId>().is_err());
/// # Ok::<(), tower_auth::agent_keys::AgentKeyError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgentKeyId([u8; ID_BYTES]);

impl AgentKeyId {
    /// Parses the text form. Refuses anything but `baton_ak_` and 16 lowercase hex digits
    /// with [`AgentKeyError::Malformed`].
    pub fn parse(text: &str) -> Result<Self, AgentKeyError> {
        let bytes = text.as_bytes();
        if bytes.len() != ID_LEN {
            return Err(malformed(MalformedKey::Length));
        }
        parse_id(bytes)
    }
}

/// The id at the start of `bytes` (at least [`ID_LEN`] long).
fn parse_id(bytes: &[u8]) -> Result<AgentKeyId, AgentKeyError> {
    if !bytes.starts_with(KEY_PREFIX.as_bytes()) {
        return Err(malformed(MalformedKey::Prefix));
    }
    let mut id = [0u8; ID_BYTES];
    decode_hex(&bytes[KEY_PREFIX.len()..ID_LEN], &mut id).ok_or(malformed(MalformedKey::Id))?;
    Ok(AgentKeyId(id))
}

impl fmt::Display for AgentKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(KEY_PREFIX)?;
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for AgentKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgentKeyId({self})")
    }
}

impl FromStr for AgentKeyId {
    type Err = AgentKeyError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// A newly created agent key, in full: the only time the secret exists outside the
/// caller that presents it. Hand it to the agent's operator once; the store keeps only a
/// hash.
///
/// It is neither `Clone`, `Display` nor serializable, its `Debug` shows the id only, and
/// its bytes are overwritten when it is dropped (best effort: copies the caller made
/// with [`expose_secret`](Self::expose_secret) are the caller's).
pub struct AgentKeySecret {
    id: AgentKeyId,
    key: String,
}

impl AgentKeySecret {
    /// The key's public id (the start of the key).
    pub fn id(&self) -> AgentKeyId {
        self.id
    }

    /// The whole key, `baton_ak_<id>_<secret>`, to show once.
    pub fn expose_secret(&self) -> &str {
        &self.key
    }
}

impl fmt::Debug for AgentKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentKeySecret")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Drop for AgentKeySecret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.key).into_bytes();
        bytes.fill(0);
        // Keep the zeroing from being optimized away as a dead store.
        std::hint::black_box(&bytes);
    }
}

/// The stored form of a key's secret: SHA-256 over a domain tag and the whole key.
///
/// A plain (unkeyed, fast) hash is enough because the secret is 256 random bits: there is
/// no dictionary to try and no way to search the space, so a stolen hash cannot be turned
/// back into a key; slow password hashes (Argon2, bcrypt) exist for low-entropy
/// passwords and would only cost every authentication milliseconds. Hashing the whole
/// key binds the hash to its id: a hash copied onto another row does not verify.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct SecretHash(pub(crate) [u8; 32]);

impl SecretHash {
    fn of_key(key: &[u8]) -> Self {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(HASH_DOMAIN);
        context.update(key);
        let digest = context.finish();
        let mut hash = [0u8; 32];
        hash.copy_from_slice(digest.as_ref());
        SecretHash(hash)
    }

    /// Whether both hashes are equal, compared in constant time.
    pub(crate) fn matches(&self, other: &SecretHash) -> bool {
        verify_slices_are_equal(&self.0, &other.0).is_ok()
    }

    /// The hash as read back from storage; `None` unless it is 32 bytes.
    #[cfg(feature = "agent-keys-sqlite")]
    pub(crate) fn from_stored(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(SecretHash)
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// A presented key, checked for form and reduced to what a look-up needs: the id and
/// the hash. The secret itself goes no further than this parser.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PresentedKey {
    pub(crate) id: AgentKeyId,
    pub(crate) hash: SecretHash,
}

impl PresentedKey {
    /// Checks the form of a presented key: exactly [`KEY_LEN`] bytes, `baton_ak_`, 16
    /// lowercase hex digits, `_`, 64 lowercase hex digits. Works on bytes, so any input
    /// (empty, huge, not ASCII) is refused without panicking; the length is checked first,
    /// so a huge input costs nothing.
    pub(crate) fn parse(presented: &str) -> Result<Self, AgentKeyError> {
        let bytes = presented.as_bytes();
        if bytes.len() != KEY_LEN {
            return Err(malformed(MalformedKey::Length));
        }
        let id = parse_id(bytes)?;
        if bytes[ID_LEN] != b'_' {
            return Err(malformed(MalformedKey::Separator));
        }
        let mut secret = [0u8; SECRET_BYTES];
        decode_hex(&bytes[ID_LEN + 1..], &mut secret).ok_or(malformed(MalformedKey::Secret))?;
        Ok(PresentedKey {
            id,
            hash: SecretHash::of_key(bytes),
        })
    }
}

/// A new key from `rng`: the secret to show once and what the store keeps of it.
pub(crate) fn generate(
    rng: &SystemRandom,
) -> Result<(AgentKeySecret, PresentedKey), AgentKeyError> {
    let mut random = [0u8; ID_BYTES + SECRET_BYTES];
    rng.fill(&mut random)
        .map_err(|_| AgentKeyError::RandomUnavailable)?;
    let (id_bytes, secret_bytes) = random.split_at(ID_BYTES);
    let mut id = [0u8; ID_BYTES];
    id.copy_from_slice(id_bytes);
    let id = AgentKeyId(id);

    let mut key = String::with_capacity(KEY_LEN);
    key.push_str(KEY_PREFIX);
    push_hex(&mut key, id_bytes);
    key.push('_');
    push_hex(&mut key, secret_bytes);
    random.fill(0);
    std::hint::black_box(&random);

    let hash = SecretHash::of_key(key.as_bytes());
    Ok((AgentKeySecret { id, key }, PresentedKey { id, hash }))
}

fn malformed(problem: MalformedKey) -> AgentKeyError {
    AgentKeyError::Malformed { problem }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut String, bytes: &[u8]) {
    for &byte in bytes {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let mut text = String::with_capacity(2 * bytes.len());
    push_hex(&mut text, bytes);
    f.write_str(&text)
}

/// Decodes lowercase hex into `out`; `None` unless `hex` is exactly twice `out`'s length
/// of lowercase hex digits.
fn decode_hex(hex: &[u8], out: &mut [u8]) -> Option<()> {
    if hex.len() != 2 * out.len() {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(())
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}
