//! A cache of verified tokens, so a token seen again skips signature verification.
//!
//! Modelled on Envoy's `jwt_cache_config`, with these rules:
//!
//! - **Key.** SHA-256 over a scope digest and the token bytes. The scope is a fingerprint
//!   of the verifier's issuer configuration given at construction, so a token verified
//!   under one configuration (issuers, audiences, leeway...) is never a hit for another.
//!   The cache holds digests, never tokens.
//! - **Dependencies.** Each entry records what its verdict depended on besides the token:
//!   the issuer, the key that checked the signature (with the issuer's key-set version
//!   at which that key was current), and the revocation-list version it was checked
//!   against. A hit re-checks only what changed since:
//!   - the issuer's key set must still be *servable* (loaded and not past its maximum
//!     staleness): once the IdP has been unreachable for longer than that, a cached
//!     token is refused exactly like a fresh one, so an entry lives at most until
//!     `min(exp, serve_until)`;
//!   - if the key-set version moved, the entry's key must still be in the set, unchanged
//!     (same `kid`, algorithm and material); a key published ahead of a rotation or
//!     another key removed leaves the entry serving, its own key gone or replaced drops it;
//!   - if the revocation version moved, the Principal is checked against the current list
//!     (a look-up by `jti`, `sid`, subject and ids; no signature work) and the entry
//!     records the new version, or the hit answers the revocation error.
//!
//!   So a hit is never more trusting than a fresh verification: with the same keys and
//!   the same revocation list it would reach the same verdict.
//! - **Expiry.** An entry serves only while `now < exp` of its Principal, with `now` from
//!   the [`Clock`]. No leeway: at `exp` the entry is gone, even though a fresh
//!   verification with clock leeway might still accept the token for a few seconds.
//! - **Bound.** At most [`TokenCacheConfig::max_entries`] entries and about
//!   [`TokenCacheConfig::max_bytes`] bytes (an entry's size is estimated as a fixed part
//!   plus the token's length: the Principal's strings all come from the token's claims,
//!   whose base64 form is longer than they are), split over up to 16 shards. Eviction is
//!   first in, first out: each shard keeps its keys in insertion order and drops from the
//!   front, so making room costs O(1) per entry dropped and never scans a shard under its
//!   write lock. An attacker cannot grow the cache: only verified tokens get in.
//! - **Concurrency.** Each shard is a `std::sync::RwLock`; a hit takes one read lock,
//!   never a write lock (recording a newer version on an entry is an atomic store).
//!   Writes (insert, purge of an expired or invalidated entry) lock one shard briefly.
//!
//! The cache is filled and read by [`JwtVerifier`](crate::jwt::JwtVerifier); its public
//! surface is the configuration and what a verifier's
//! [`token_cache`](crate::jwt::JwtVerifier::token_cache) shows (size, bounds, `clear`).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use aws_lc_rs::digest;
use principal::{Clock, Principal, Timestamp};

use crate::error::AuthError;
use crate::jwks::VerificationKey;
use crate::verified::VerifiedPrincipal;

/// Default bound on the number of cached tokens.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

/// Upper bound on [`TokenCacheConfig::max_entries`].
pub const MAX_MAX_ENTRIES: usize = 10_000_000;

/// Default bound on the cache's estimated size: 32 MiB.
pub const DEFAULT_MAX_BYTES: usize = 32 << 20;

const MAX_SHARDS: usize = 16;

/// Domain separation for the scope digest (the cache key format's version).
const SCOPE_DOMAIN: &[u8] = b"baton.tower-auth.token-cache.v1\0";

/// The fixed part of an entry's estimated size: the entry, its map slot and queue slot,
/// the Principal and its `Arc`, and a margin for the Principal's containers. The token's
/// length is added per entry.
const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>()
    + std::mem::size_of::<CacheKey>()
    + std::mem::size_of::<(CacheKey, u64)>()
    + std::mem::size_of::<Principal>()
    + 256;

/// Configuration of a token cache. Deserializable (`max_entries`, `max_bytes`; absent
/// fields take their defaults).
///
/// ```
/// use tower_auth::token_cache::TokenCacheConfig;
///
/// let config: TokenCacheConfig = serde_json::from_str(r#"{ "max_entries": 500 }"#).unwrap();
/// assert_eq!(config.max_entries, 500);
/// assert_eq!(config.max_bytes, 32 << 20);
/// assert_eq!(TokenCacheConfig::default().max_entries, 10_000);
/// assert_eq!(TokenCacheConfig::with_max_entries(10).with_max_bytes(4096).max_bytes, 4096);
/// assert!(TokenCacheConfig::disabled().max_entries == 0);
///
/// // Rejected: an unknown field.
/// assert!(serde_json::from_str::<TokenCacheConfig>(r#"{ "size": 500 }"#).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TokenCacheConfig {
    /// The most tokens the cache holds; `0` disables caching. Capped at
    /// [`MAX_MAX_ENTRIES`].
    pub max_entries: usize,
    /// The most bytes the cache holds, by its estimate of each entry's size; `0`
    /// disables caching.
    pub max_bytes: usize,
}

impl Default for TokenCacheConfig {
    fn default() -> Self {
        TokenCacheConfig {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl TokenCacheConfig {
    /// A configuration holding at most `max_entries` tokens (capped at
    /// [`MAX_MAX_ENTRIES`]; `0` disables caching) and the default byte bound.
    pub fn with_max_entries(max_entries: usize) -> Self {
        TokenCacheConfig {
            max_entries,
            ..Self::default()
        }
    }

    /// This configuration, bounded to about `max_bytes` bytes.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// No caching: every token is verified in full.
    pub fn disabled() -> Self {
        TokenCacheConfig {
            max_entries: 0,
            max_bytes: 0,
        }
    }
}

/// The cache key of a token: SHA-256 of the cache's scope digest and the token.
///
/// `Debug` shows a short prefix only: the digest is not the token, but there is no reason
/// to print tokens' fingerprints in full either.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey([u8; 32]);

impl CacheKey {
    fn shard(&self, shards: usize) -> usize {
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&self.0[..8]);
        // `shards` is at most MAX_SHARDS, so the remainder fits in usize.
        (u64::from_le_bytes(prefix) % shards as u64) as usize
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CacheKey({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// What a verdict depended on besides the token, recorded with it.
pub(crate) struct Dependencies {
    /// The verifier's index of the token's issuer.
    pub(crate) issuer: usize,
    /// The key that verified the signature.
    pub(crate) key: Arc<VerificationKey>,
    /// The issuer's key-set version read before the key was looked up (so the key is of
    /// this version or a newer one).
    pub(crate) key_version: u64,
    /// The revocation-list version read before the verification began (so the check ran
    /// against this version or a newer one).
    pub(crate) revocation_version: u64,
}

struct Entry {
    verified: VerifiedPrincipal,
    expires_at: Timestamp,
    issuer: usize,
    key: Arc<VerificationKey>,
    /// Raised (never lowered) by hits that found the key unchanged in a newer set.
    key_version: AtomicU64,
    /// Raised (never lowered) by hits that re-checked against a newer list.
    revocation_version: AtomicU64,
    /// Which insert of this key made the entry: matches its place in the queue.
    generation: u64,
    bytes: usize,
}

/// A found entry, as the verifier's re-check sees it (under the shard's read lock).
pub(crate) struct CachedEntry<'a> {
    entry: &'a Entry,
}

impl CachedEntry<'_> {
    /// The cached Principal.
    pub(crate) fn principal(&self) -> &Principal {
        self.entry.verified.principal()
    }

    /// The verifier's index of the entry's issuer.
    pub(crate) fn issuer(&self) -> usize {
        self.entry.issuer
    }

    /// The key that verified the entry's signature.
    pub(crate) fn key(&self) -> &VerificationKey {
        &self.entry.key
    }

    /// The key-set version at which the entry's key is known current.
    pub(crate) fn key_version(&self) -> u64 {
        self.entry.key_version.load(Ordering::Acquire)
    }

    /// The key was found unchanged in the set of `version`.
    pub(crate) fn confirm_key_version(&self, version: u64) {
        self.entry.key_version.fetch_max(version, Ordering::AcqRel);
    }

    /// The revocation-list version the entry was last checked against.
    pub(crate) fn revocation_version(&self) -> u64 {
        self.entry.revocation_version.load(Ordering::Acquire)
    }

    /// The entry passed the revocation check of `version`.
    pub(crate) fn confirm_revocation_version(&self, version: u64) {
        self.entry
            .revocation_version
            .fetch_max(version, Ordering::AcqRel);
    }
}

/// The verifier's decision about a found, unexpired entry.
pub(crate) enum Recheck {
    /// Everything it depends on still holds: serve it.
    Serve,
    /// It cannot serve now but may again (the key set is not servable right now):
    /// verify in full, keep the entry.
    Miss,
    /// It can never serve again (its key is gone or changed): verify in full, drop it.
    Drop,
    /// It is refused (revoked since): answer this error, keep the entry so a replayed
    /// revoked token stays cheap to refuse.
    Refuse(AuthError),
}

struct ShardState {
    map: HashMap<CacheKey, Entry>,
    /// Keys in insertion order, with the generation of the insert. A pair whose entry
    /// was removed or replaced since is skipped when it reaches the front.
    order: VecDeque<(CacheKey, u64)>,
    bytes: usize,
    next_generation: u64,
}

struct Shard {
    state: RwLock<ShardState>,
    max_entries: usize,
    max_bytes: usize,
}

/// A bounded cache of verified tokens (see the [module docs](self) for the rules); a
/// [`JwtVerifier`](crate::jwt::JwtVerifier) holds one.
///
/// ```
/// use principal::{Audience, Issuer};
/// use tower_auth::jwt::{IssuerConfig, JwtVerifier};
/// use tower_auth::token_cache::TokenCacheConfig;
///
/// let issuer = IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
///     .audience(Audience::new("api")?)
///     .oidc_discovery()
///     .build()?;
/// let verifier = JwtVerifier::builder()
///     .issuer(issuer.clone())
///     .token_cache(TokenCacheConfig::with_max_entries(500).with_max_bytes(1 << 20))
///     .build()?;
/// let cache = verifier.token_cache();
/// assert_eq!((cache.capacity(), cache.max_bytes()), (500, 1 << 20));
/// assert!(cache.is_empty());
///
/// // Disabled: nothing is ever stored.
/// let verifier = JwtVerifier::builder()
///     .issuer(issuer)
///     .token_cache(TokenCacheConfig::disabled())
///     .build()?;
/// assert_eq!(verifier.token_cache().capacity(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TokenCache {
    shards: Box<[Shard]>,
    scope: [u8; 32],
    clock: Arc<dyn Clock>,
}

impl TokenCache {
    /// An empty cache. `issuer_fingerprint` identifies the verifier configuration the
    /// cached verdicts belong to (issuers, audiences, algorithms, leeway...).
    pub(crate) fn new(
        config: TokenCacheConfig,
        issuer_fingerprint: &[u8],
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::with_shard_limit(config, issuer_fingerprint, clock, MAX_SHARDS)
    }

    fn with_shard_limit(
        config: TokenCacheConfig,
        issuer_fingerprint: &[u8],
        clock: Arc<dyn Clock>,
        max_shards: usize,
    ) -> Self {
        let max_entries = if config.max_bytes == 0 {
            0
        } else {
            config.max_entries.min(MAX_MAX_ENTRIES)
        };
        // Never more shards than entries; the remainder goes one each to the first
        // shards, so the shards' bounds add up to exactly `max_entries`.
        let shard_count = max_entries.clamp(1, max_shards.max(1));
        let (per_shard, extra) = (max_entries / shard_count, max_entries % shard_count);
        let bytes_per_shard = config.max_bytes / shard_count;
        let shards = (0..shard_count)
            .map(|index| Shard {
                state: RwLock::new(ShardState {
                    map: HashMap::new(),
                    order: VecDeque::new(),
                    bytes: 0,
                    next_generation: 0,
                }),
                max_entries: per_shard + usize::from(index < extra),
                max_bytes: if max_entries == 0 { 0 } else { bytes_per_shard },
            })
            .collect::<Vec<_>>()
            .into_boxed_slice();

        let mut scope_context = digest::Context::new(&digest::SHA256);
        scope_context.update(SCOPE_DOMAIN);
        scope_context.update(issuer_fingerprint);
        let mut scope = [0u8; 32];
        scope.copy_from_slice(scope_context.finish().as_ref());

        TokenCache {
            shards,
            scope,
            clock,
        }
    }

    /// The most entries this cache holds (`0`: caching is off).
    pub fn capacity(&self) -> usize {
        self.shards.iter().map(|shard| shard.max_entries).sum()
    }

    /// The most bytes this cache holds, by its estimate of entries' sizes.
    pub fn max_bytes(&self) -> usize {
        self.shards.iter().map(|shard| shard.max_bytes).sum()
    }

    /// Whether caching is on.
    pub(crate) fn is_enabled(&self) -> bool {
        self.capacity() > 0
    }

    /// The cache key of `token` (one SHA-256 over about the token's length).
    pub(crate) fn key(&self, token: &str) -> CacheKey {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(&self.scope);
        context.update(token.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(context.finish().as_ref());
        CacheKey(key)
    }

    /// The hit path: the entry for `key`, if present and unexpired, re-checked by
    /// `recheck` under the shard's read lock. `Some` is a verdict (served or refused),
    /// `None` a miss.
    pub(crate) fn get(
        &self,
        key: &CacheKey,
        recheck: impl FnOnce(&CachedEntry<'_>) -> Recheck,
    ) -> Option<Result<VerifiedPrincipal, AuthError>> {
        if !self.is_enabled() {
            return None;
        }
        let now = self.clock.now();
        let shard = &self.shards[key.shard(self.shards.len())];
        let stale_generation = {
            let state = read(shard);
            let entry = state.map.get(key)?;
            if now < entry.expires_at {
                match recheck(&CachedEntry { entry }) {
                    Recheck::Serve => return Some(Ok(entry.verified.clone())),
                    Recheck::Refuse(error) => return Some(Err(error)),
                    Recheck::Miss => return None,
                    Recheck::Drop => {}
                }
            }
            entry.generation
        };
        // Expired or invalidated: it can never serve again. Remove that very entry (not a
        // newer one another thread inserted meanwhile).
        let mut state = write(shard);
        if state
            .map
            .get(key)
            .is_some_and(|entry| entry.generation == stale_generation)
            && let Some(entry) = state.map.remove(key)
        {
            state.bytes = state.bytes.saturating_sub(entry.bytes);
        }
        None
    }

    /// Remember a verification of a token of `token_len` bytes: `verified`, depending on
    /// `dependencies`. Not stored if caching is off, if its `exp` has passed or if it alone
    /// exceeds a shard's byte bound.
    pub(crate) fn insert(
        &self,
        key: CacheKey,
        verified: VerifiedPrincipal,
        dependencies: Dependencies,
        token_len: usize,
    ) {
        if !self.is_enabled() {
            return;
        }
        let now = self.clock.now();
        let expires_at = verified.principal().expires_at();
        if now >= expires_at {
            return;
        }
        let bytes = ENTRY_OVERHEAD.saturating_add(token_len);
        let shard = &self.shards[key.shard(self.shards.len())];
        if bytes > shard.max_bytes {
            return;
        }
        let mut guard = write(shard);
        let state = &mut *guard;
        let generation = state.next_generation;
        state.next_generation = generation.wrapping_add(1);
        let entry = Entry {
            verified,
            expires_at,
            issuer: dependencies.issuer,
            key: dependencies.key,
            key_version: AtomicU64::new(dependencies.key_version),
            revocation_version: AtomicU64::new(dependencies.revocation_version),
            generation,
            bytes,
        };
        if let Some(replaced) = state.map.insert(key, entry) {
            state.bytes = state.bytes.saturating_sub(replaced.bytes);
        }
        state.bytes = state.bytes.saturating_add(bytes);
        state.order.push_back((key, generation));
        // First in, first out. Each pop removes one queued pair, so the work is bounded
        // by the inserts that queued them; the queue itself is bounded too, at twice the
        // entries, so pairs of removed or replaced entries cannot pile up.
        let max_queue = shard.max_entries.saturating_mul(2);
        while state.map.len() > shard.max_entries
            || state.bytes > shard.max_bytes
            || state.order.len() > max_queue
        {
            let Some((oldest, oldest_generation)) = state.order.pop_front() else {
                break;
            };
            if state
                .map
                .get(&oldest)
                .is_some_and(|entry| entry.generation == oldest_generation)
                && let Some(evicted) = state.map.remove(&oldest)
            {
                state.bytes = state.bytes.saturating_sub(evicted.bytes);
            }
        }
    }

    /// Number of entries (including ones that can no longer serve but were not purged
    /// yet).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| read(shard).map.len()).sum()
    }

    /// The estimated size of the entries, in bytes.
    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|shard| read(shard).bytes).sum()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop every entry.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let mut state = write(shard);
            state.map.clear();
            state.order.clear();
            state.bytes = 0;
        }
    }
}

/// A poisoned shard only means a thread panicked while holding it; every write leaves
/// the map, the queue and the byte count consistent enough to go on (a pair left in the
/// queue is skipped, the byte count saturates), so keep using it.
fn read(shard: &Shard) -> std::sync::RwLockReadGuard<'_, ShardState> {
    shard
        .state
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write(shard: &Shard) -> std::sync::RwLockWriteGuard<'_, ShardState> {
    shard
        .state
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity())
            .field("max_bytes", &self.max_bytes())
            .field("shards", &self.shards.len())
            .field("len", &self.len())
            .field("bytes", &self.bytes())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::verified::testing::{self, HUMAN};
    use jsonwebtoken::{Algorithm, DecodingKey};
    use principal::TestClock;

    const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

    fn clock_at(seconds: i64) -> TestClock {
        TestClock::new(Timestamp::from_unix_seconds(seconds))
    }

    fn cache(max_entries: usize, clock: &TestClock) -> TokenCache {
        TokenCache::new(
            TokenCacheConfig::with_max_entries(max_entries),
            b"issuers: https://idp.test",
            Arc::new(clock.clone()),
        )
    }

    fn one_shard(config: TokenCacheConfig, clock: &TestClock) -> TokenCache {
        TokenCache::with_shard_limit(config, b"one shard", Arc::new(clock.clone()), 1)
    }

    fn dependencies() -> Dependencies {
        let key = VerificationKey::new(
            Some("k1".to_owned()),
            Algorithm::HS256,
            DecodingKey::from_secret(b"secret"),
            b"secret".to_vec(),
        );
        Dependencies {
            issuer: 0,
            key: Arc::new(key),
            key_version: 1,
            revocation_version: 0,
        }
    }

    fn insert(cache: &TokenCache, token: &str, expires_at: i64) {
        cache.insert(
            cache.key(token),
            testing::verified(expires_at),
            dependencies(),
            token.len(),
        );
    }

    /// A lookup whose re-check always says "serve".
    fn get(cache: &TokenCache, token: &str) -> Option<VerifiedPrincipal> {
        cache
            .get(&cache.key(token), |_| Recheck::Serve)
            .map(|verdict| verdict.unwrap())
    }

    #[test]
    fn a_verified_token_is_a_hit_until_exp() {
        let clock = clock_at(1_000);
        let cache = cache(100, &clock);
        assert!(get(&cache, TOKEN).is_none());

        insert(&cache, TOKEN, 2_000);
        let hit = get(&cache, TOKEN).expect("hit");
        assert_eq!(hit.id().to_string(), HUMAN);
        assert_eq!(hit.pattern(), crate::Pattern::JwtPassthrough);
        assert!(get(&cache, "another.token.here").is_none());

        clock.set(Timestamp::from_unix_seconds(1_999));
        assert!(get(&cache, TOKEN).is_some());
        // At exp the entry is gone: a miss, and purged (without asking the re-check).
        clock.set(Timestamp::from_unix_seconds(2_000));
        let asked = cache.get(&cache.key(TOKEN), |_| {
            panic!("an expired entry is re-checked")
        });
        assert!(asked.is_none());
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
        // Even if time went back, it is not there any more.
        clock.set(Timestamp::from_unix_seconds(1_500));
        assert!(get(&cache, TOKEN).is_none());
    }

    #[test]
    fn a_principal_already_expired_is_not_stored() {
        let clock = clock_at(5_000);
        let cache = cache(100, &clock);
        insert(&cache, TOKEN, 5_000);
        assert!(cache.is_empty());
        assert!(get(&cache, TOKEN).is_none());
    }

    #[test]
    fn the_recheck_decides_what_a_found_entry_does() {
        let clock = clock_at(1_000);
        let cache = cache(100, &clock);
        insert(&cache, TOKEN, 2_000);
        insert(&cache, "other", 2_000);
        let key = cache.key(TOKEN);

        // The re-check sees what the entry recorded.
        let seen = cache.get(&key, |entry| {
            assert_eq!(entry.issuer(), 0);
            assert_eq!(entry.key().kid(), Some("k1"));
            assert_eq!((entry.key_version(), entry.revocation_version()), (1, 0));
            assert_eq!(entry.principal().subject(), "alice");
            // A hit that found things unchanged in newer versions records them.
            entry.confirm_key_version(3);
            entry.confirm_revocation_version(5);
            // Never lowered.
            entry.confirm_key_version(2);
            Recheck::Serve
        });
        assert!(matches!(seen, Some(Ok(_))));
        cache.get(&key, |entry| {
            assert_eq!((entry.key_version(), entry.revocation_version()), (3, 5));
            Recheck::Serve
        });

        // Miss: not served, kept.
        assert!(cache.get(&key, |_| Recheck::Miss).is_none());
        assert_eq!(cache.len(), 2);
        // Refuse: the error is the verdict, the entry stays.
        let refused = cache.get(&key, |_| Recheck::Refuse(AuthError::BadSignature));
        assert!(matches!(refused, Some(Err(AuthError::BadSignature))));
        assert_eq!(cache.len(), 2);
        // Drop: not served, and only that entry goes.
        assert!(cache.get(&key, |_| Recheck::Drop).is_none());
        assert_eq!(cache.len(), 1);
        assert!(get(&cache, TOKEN).is_none());
        assert!(get(&cache, "other").is_some());
    }

    #[test]
    fn the_issuer_configuration_is_part_of_the_key() {
        let clock = clock_at(1_000);
        let a = TokenCache::new(
            TokenCacheConfig::default(),
            b"config a",
            Arc::new(clock.clone()),
        );
        let b = TokenCache::new(
            TokenCacheConfig::default(),
            b"config b",
            Arc::new(clock.clone()),
        );
        let a2 = TokenCache::new(TokenCacheConfig::default(), b"config a", Arc::new(clock));
        assert_ne!(a.key(TOKEN), b.key(TOKEN));
        assert_eq!(a.key(TOKEN), a2.key(TOKEN));
        assert_ne!(
            a.key(TOKEN),
            a.key("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJm")
        );
        assert!(format!("{:?}", a.key(TOKEN)).len() < 24);

        insert(&a, TOKEN, 2_000);
        // b's lookup of the same token uses another key: a miss.
        assert!(get(&b, TOKEN).is_none());
        assert!(get(&a, TOKEN).is_some());
    }

    #[test]
    fn the_entry_bound_is_exact_and_respected() {
        for max in [1, 2, 3, 15, 16, 17, 100, 1_000] {
            let clock = clock_at(1_000);
            let cache = cache(max, &clock);
            // Exactly the configured bound: a cache of capacity 0 (or any less) fails here.
            assert_eq!(cache.capacity(), max);
            for i in 0..(max * 5) {
                insert(&cache, &format!("token-{i}"), 2_000);
                assert!(cache.len() <= max, "max {max}: {} entries", cache.len());
            }
            // The newest insert is always present, and the cache is not starved.
            assert!(get(&cache, &format!("token-{}", max * 5 - 1)).is_some());
            assert!(cache.len() >= max.div_ceil(2), "max {max}: {}", cache.len());
        }
    }

    #[test]
    fn the_byte_bound_is_respected() {
        let clock = clock_at(1_000);
        let token = "t".repeat(1_000);
        let per_entry = ENTRY_OVERHEAD + token.len() + 6;
        let cache = one_shard(
            TokenCacheConfig::with_max_entries(1_000).with_max_bytes(per_entry * 3),
            &clock,
        );
        for i in 0..20 {
            insert(&cache, &format!("{token}{i:06}"), 2_000);
            assert!(cache.bytes() <= per_entry * 3, "{} bytes", cache.bytes());
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.bytes(), per_entry * 3);

        // An entry bigger than the whole bound is not stored, and evicts nothing.
        insert(&cache, &"x".repeat(per_entry * 3), 2_000);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn eviction_is_first_in_first_out() {
        let clock = clock_at(1_000);
        let cache = one_shard(TokenCacheConfig::with_max_entries(3), &clock);
        for token in ["first", "second", "third", "fourth"] {
            insert(&cache, token, 9_000);
        }
        assert_eq!(cache.len(), 3);
        assert!(get(&cache, "first").is_none());
        for token in ["second", "third", "fourth"] {
            assert!(get(&cache, token).is_some(), "{token}");
        }
    }

    #[test]
    fn reinserting_a_key_replaces_without_evicting_and_the_queue_stays_bounded() {
        let clock = clock_at(1_000);
        let cache = one_shard(TokenCacheConfig::with_max_entries(2), &clock);
        insert(&cache, "a", 2_000);
        insert(&cache, "b", 2_000);
        insert(&cache, "a", 3_000);
        assert_eq!(cache.len(), 2);
        assert!(get(&cache, "b").is_some());
        clock.set(Timestamp::from_unix_seconds(2_500));
        assert!(get(&cache, "a").is_some());

        // Replacing one key over and over leaves stale queue pairs; they are bounded.
        for _ in 0..1_000 {
            insert(&cache, "a", 3_000);
        }
        let state = read(&cache.shards[0]);
        assert!(state.order.len() <= 4, "{} queued", state.order.len());
        assert_eq!(state.map.len(), 1);
        assert_eq!(
            state.bytes,
            state.map.values().map(|e| e.bytes).sum::<usize>()
        );
    }

    #[test]
    fn disabled_caches_nothing() {
        let clock = clock_at(1_000);
        for config in [
            TokenCacheConfig::disabled(),
            TokenCacheConfig::with_max_entries(10).with_max_bytes(0),
        ] {
            let cache = TokenCache::new(config, b"x", Arc::new(clock.clone()));
            assert_eq!(cache.capacity(), 0);
            insert(&cache, TOKEN, 2_000);
            assert!(get(&cache, TOKEN).is_none());
            assert!(cache.is_empty());
        }
    }

    #[test]
    fn clear_empties_the_cache() {
        let clock = clock_at(1_000);
        let cache = cache(10, &clock);
        insert(&cache, TOKEN, 2_000);
        cache.clear();
        assert!(get(&cache, TOKEN).is_none());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn concurrent_hits_and_inserts_stay_consistent() {
        let clock = clock_at(1_000);
        let cache = Arc::new(cache(64, &clock));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    for i in 0..500 {
                        let token = format!("token-{}", (i * 7 + t) % 100);
                        if get(&cache, &token).is_none() {
                            insert(&cache, &token, 2_000);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(cache.len() <= 64);
        assert!(!cache.is_empty());
    }

    #[test]
    fn debug_shows_no_token_material() {
        let clock = clock_at(1_000);
        let cache = cache(10, &clock);
        insert(&cache, TOKEN, 2_000);
        let debug = format!("{cache:?} {:?}", cache.key(TOKEN));
        assert!(!debug.contains(TOKEN));
        assert!(debug.contains("len: 1"));
    }

    #[test]
    fn config_defaults_and_deserialization() {
        assert_eq!(TokenCacheConfig::default().max_entries, DEFAULT_MAX_ENTRIES);
        assert_eq!(TokenCacheConfig::default().max_bytes, DEFAULT_MAX_BYTES);
        let config: TokenCacheConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, TokenCacheConfig::default());
        let config: TokenCacheConfig = serde_json::from_str(r#"{"max_bytes": 4096}"#).unwrap();
        assert_eq!(config.max_bytes, 4096);
        assert!(serde_json::from_str::<TokenCacheConfig>(r#"{"size": 3}"#).is_err());
        let huge = TokenCache::new(
            TokenCacheConfig::with_max_entries(usize::MAX),
            b"x",
            Arc::new(clock_at(0)),
        );
        assert_eq!(huge.capacity(), MAX_MAX_ENTRIES);
    }
}
