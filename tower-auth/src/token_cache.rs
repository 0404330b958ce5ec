//! A cache of verified tokens, so a token seen again skips signature verification.
//!
//! Modelled on Envoy's `jwt_cache_config`, with these rules:
//!
//! - **Key.** SHA-256 over a scope digest and the token bytes. The scope is a fingerprint
//!   of the verifier's issuer configuration given at construction, so a token verified
//!   under one configuration (issuers, audiences, leeway...) is never a hit for another.
//!   The cache holds digests, never tokens.
//! - **Expiry.** An entry serves only while `now < exp` of its Principal, with `now` from
//!   the [`Clock`]. No leeway: at `exp` the entry is gone, even though a fresh
//!   verification with clock leeway might still accept the token for a few seconds.
//! - **Epoch.** Each entry records the [`CacheEpoch`] (revocation-list version and key-set
//!   version) current when its verification began. A lookup presents the current epoch; an
//!   entry of another epoch is a miss, and entries of an older epoch are purged. When a
//!   newer epoch is first seen, the whole cache is dropped. So a cached token is never
//!   more trusted than a fresh verification would trust it: under the same revocation
//!   list and the same keys, the verdict would be the same.
//! - **Revocation on a hit.** Not re-checked: the entry passed the revocation check of
//!   the list of its recorded version, lists are immutable per version, and a hit
//!   requires that version to still be current.
//! - **Bound.** At most [`TokenCacheConfig::max_entries`] entries, split over up to 16
//!   shards. Eviction, when a shard is full: first drop its expired and older-epoch
//!   entries; if none, drop one arbitrary entry (the first in the shard's randomly
//!   seeded hash order, so an effectively random one). Simple, bounded, and an attacker
//!   cannot grow it: only verified tokens get in.
//! - **Concurrency.** Each shard is a `std::sync::RwLock<HashMap>`; a hit takes one read
//!   lock, never a write lock. Writes (insert, purge) lock one shard.
//!
//! # Using it from a verifier
//!
//! Read the epoch once, before the lookup; use it for the lookup and, after a successful
//! verification, for the insert:
//!
//! ```text
//! let epoch = CacheEpoch::new(revocation.version(), keys.version());
//! let key = cache.key(token);
//! if let Some(hit) = cache.get_by_key(&key, epoch) { return Ok(hit) }
//! let verified = verify_fully(token)?;  // keys and revocation read after the epoch
//! cache.insert(key, verified.clone(), epoch);
//! ```
//!
//! Reading the epoch first matters: if the list or keys change during verification, the
//! entry is recorded under the older epoch and is never served.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use aws_lc_rs::digest;
use principal::{Clock, Timestamp};

use crate::verified::VerifiedPrincipal;

/// Default bound on the number of cached tokens.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

/// Upper bound on [`TokenCacheConfig::max_entries`].
pub const MAX_MAX_ENTRIES: usize = 10_000_000;

const MAX_SHARDS: usize = 16;

/// Domain separation for the scope digest (the cache key format's version).
const SCOPE_DOMAIN: &[u8] = b"baton.tower-auth.token-cache.v1\0";

/// Configuration of a [`TokenCache`]. Deserializable (`max_entries`; absent fields take
/// their defaults).
///
/// ```
/// use tower_auth::token_cache::TokenCacheConfig;
///
/// let config: TokenCacheConfig = serde_json::from_str(r#"{ "max_entries": 500 }"#).unwrap();
/// assert_eq!(config.max_entries, 500);
/// assert_eq!(TokenCacheConfig::default().max_entries, 10_000);
/// assert!(TokenCacheConfig::disabled().max_entries == 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TokenCacheConfig {
    /// The most tokens the cache holds; `0` disables caching. Capped at
    /// [`MAX_MAX_ENTRIES`].
    pub max_entries: usize,
}

impl Default for TokenCacheConfig {
    fn default() -> Self {
        TokenCacheConfig {
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

impl TokenCacheConfig {
    /// A configuration holding at most `max_entries` tokens (capped at
    /// [`MAX_MAX_ENTRIES`]; `0` disables caching).
    pub fn with_max_entries(max_entries: usize) -> Self {
        TokenCacheConfig { max_entries }
    }

    /// No caching: every token is verified in full.
    pub fn disabled() -> Self {
        TokenCacheConfig { max_entries: 0 }
    }
}

/// The versions of everything a verification depended on besides the token: the
/// revocation list ([`RevocationCheck::version`](crate::revocation::RevocationCheck::version))
/// and the key set (the sum or combination of the issuers' key-cache versions). Both must
/// be counters that only grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheEpoch {
    revocation: u64,
    keys: u64,
}

impl CacheEpoch {
    /// The epoch of revocation version `revocation` and key-set version `keys`.
    pub fn new(revocation: u64, keys: u64) -> Self {
        CacheEpoch { revocation, keys }
    }

    /// The revocation-list version.
    pub fn revocation(self) -> u64 {
        self.revocation
    }

    /// The key-set version.
    pub fn keys(self) -> u64 {
        self.keys
    }

    /// Whether either version of `self` is behind `other`'s.
    fn is_behind(self, other: CacheEpoch) -> bool {
        self.revocation < other.revocation || self.keys < other.keys
    }
}

/// The cache key of a token: SHA-256 of the cache's scope digest and the token.
///
/// `Debug` shows a short prefix only: the digest is not the token, but there is no reason
/// to print tokens' fingerprints in full either.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

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

#[derive(Clone)]
struct Entry {
    verified: VerifiedPrincipal,
    expires_at: Timestamp,
    epoch: CacheEpoch,
}

type Shard = RwLock<HashMap<CacheKey, Entry>>;

/// A bounded cache of verified tokens (see the [module docs](self) for the rules).
///
/// ```
/// use std::sync::Arc;
/// use principal::{TestClock, Timestamp};
/// use tower_auth::token_cache::{CacheEpoch, TokenCache, TokenCacheConfig};
///
/// let clock = TestClock::new(Timestamp::from_unix_seconds(1_000));
/// let cache = TokenCache::new(TokenCacheConfig::default(), b"issuer config", Arc::new(clock));
/// let epoch = CacheEpoch::new(0, 1);
///
/// // Nothing verified yet: a miss, so the caller verifies in full.
/// assert!(cache.get("eyJhbGciOi...", epoch).is_none());
/// // After a successful verification the verifier inserts the VerifiedPrincipal
/// // (only this crate's verifiers can make one), and the next lookup is a hit.
/// assert!(cache.is_empty());
/// ```
pub struct TokenCache {
    shards: Box<[Shard]>,
    per_shard: usize,
    scope: [u8; 32],
    clock: Arc<dyn Clock>,
    /// The newest epoch seen (each component is a running maximum).
    newest_revocation: AtomicU64,
    newest_keys: AtomicU64,
    /// Serialises whole-cache drops, so two threads seeing a new epoch drop once.
    drop_all: Mutex<()>,
}

impl TokenCache {
    /// An empty cache. `issuer_fingerprint` identifies the verifier configuration the
    /// cached verdicts belong to (issuers, audiences, algorithms, leeway...): give every
    /// configuration its own fingerprint, for instance its canonical serialization.
    pub fn new(config: TokenCacheConfig, issuer_fingerprint: &[u8], clock: Arc<dyn Clock>) -> Self {
        Self::with_shard_limit(config, issuer_fingerprint, clock, MAX_SHARDS)
    }

    fn with_shard_limit(
        config: TokenCacheConfig,
        issuer_fingerprint: &[u8],
        clock: Arc<dyn Clock>,
        max_shards: usize,
    ) -> Self {
        let max_entries = config.max_entries.min(MAX_MAX_ENTRIES);
        // Never more shards than entries, so the per-shard bound keeps the total bound.
        let shard_count = max_entries.clamp(1, max_shards.max(1));
        let per_shard = max_entries / shard_count;
        let shards = (0..shard_count)
            .map(|_| RwLock::new(HashMap::new()))
            .collect::<Vec<_>>()
            .into_boxed_slice();

        let mut scope_context = digest::Context::new(&digest::SHA256);
        scope_context.update(SCOPE_DOMAIN);
        scope_context.update(issuer_fingerprint);
        let mut scope = [0u8; 32];
        scope.copy_from_slice(scope_context.finish().as_ref());

        TokenCache {
            shards,
            per_shard,
            scope,
            clock,
            newest_revocation: AtomicU64::new(0),
            newest_keys: AtomicU64::new(0),
            drop_all: Mutex::new(()),
        }
    }

    /// The most entries this cache holds (`0`: caching is off).
    pub fn capacity(&self) -> usize {
        self.per_shard * self.shards.len()
    }

    /// The cache key of `token` (one SHA-256 over about the token's length).
    pub fn key(&self, token: &str) -> CacheKey {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(&self.scope);
        context.update(token.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(context.finish().as_ref());
        CacheKey(key)
    }

    /// The hit path: hash `token` and look it up. A hit is a Principal verified under
    /// `epoch` whose `exp` has not passed.
    pub fn get(&self, token: &str, epoch: CacheEpoch) -> Option<VerifiedPrincipal> {
        if self.per_shard == 0 {
            return None;
        }
        self.get_by_key(&self.key(token), epoch)
    }

    /// Look up a key computed with [`key`](Self::key).
    pub fn get_by_key(&self, key: &CacheKey, epoch: CacheEpoch) -> Option<VerifiedPrincipal> {
        if self.per_shard == 0 {
            return None;
        }
        self.observe(epoch);
        let now = self.clock.now();
        let shard = &self.shards[key.shard(self.shards.len())];
        let purge = {
            let map = read(shard);
            let entry = map.get(key)?;
            if entry.epoch == epoch && now < entry.expires_at {
                return Some(entry.verified.clone());
            }
            // Purge only what can never serve again: expired, or from an older epoch. An
            // entry newer than this caller's epoch is left for up-to-date callers.
            now >= entry.expires_at || entry.epoch.is_behind(epoch)
        };
        if purge {
            let mut map = write(shard);
            if map
                .get(key)
                .is_some_and(|entry| now >= entry.expires_at || entry.epoch.is_behind(epoch))
            {
                map.remove(key);
            }
        }
        None
    }

    /// Remember a verification: `verified` was verified under `epoch` (read before the
    /// verification began). Not stored if caching is off, if its `exp` has passed, or if a
    /// newer epoch has been seen since.
    pub fn insert(&self, key: CacheKey, verified: VerifiedPrincipal, epoch: CacheEpoch) {
        if self.per_shard == 0 {
            return;
        }
        self.observe(epoch);
        if epoch.is_behind(self.newest()) {
            return;
        }
        let now = self.clock.now();
        let expires_at = verified.principal().expires_at();
        if now >= expires_at {
            return;
        }
        let shard = &self.shards[key.shard(self.shards.len())];
        let mut map = write(shard);
        if !map.contains_key(&key) && map.len() >= self.per_shard {
            map.retain(|_, entry| now < entry.expires_at && !entry.epoch.is_behind(epoch));
            if map.len() >= self.per_shard
                && let Some(victim) = map.keys().next().copied()
            {
                map.remove(&victim);
            }
        }
        map.insert(
            key,
            Entry {
                verified,
                expires_at,
                epoch,
            },
        );
    }

    /// Number of entries (including ones that can no longer serve but were not purged
    /// yet).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| read(shard).len()).sum()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop every entry.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            write(shard).clear();
        }
    }

    fn newest(&self) -> CacheEpoch {
        CacheEpoch {
            revocation: self.newest_revocation.load(Ordering::Acquire),
            keys: self.newest_keys.load(Ordering::Acquire),
        }
    }

    /// Drop everything the first time an epoch newer than all seen before shows up: the
    /// revocation list or the key set changed, so nothing cached before can serve again.
    fn observe(&self, epoch: CacheEpoch) {
        let newest = self.newest();
        if epoch.revocation <= newest.revocation && epoch.keys <= newest.keys {
            return;
        }
        let _serial = self
            .drop_all
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let newest = self.newest();
        if epoch.revocation <= newest.revocation && epoch.keys <= newest.keys {
            return;
        }
        self.newest_revocation
            .fetch_max(epoch.revocation, Ordering::AcqRel);
        self.newest_keys.fetch_max(epoch.keys, Ordering::AcqRel);
        self.clear();
    }
}

/// A poisoned shard only means a thread panicked while holding it; the map itself is
/// always in a consistent state (every write is a single map operation), so keep using it.
fn read(shard: &Shard) -> std::sync::RwLockReadGuard<'_, HashMap<CacheKey, Entry>> {
    shard
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write(shard: &Shard) -> std::sync::RwLockWriteGuard<'_, HashMap<CacheKey, Entry>> {
    shard
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity())
            .field("shards", &self.shards.len())
            .field("len", &self.len())
            .field("newest_epoch", &self.newest())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::verified::testing::{self, HUMAN};
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

    fn epoch(revocation: u64, keys: u64) -> CacheEpoch {
        CacheEpoch::new(revocation, keys)
    }

    #[test]
    fn a_verified_token_is_a_hit_until_exp() {
        let clock = clock_at(1_000);
        let cache = cache(100, &clock);
        let key = cache.key(TOKEN);
        assert!(cache.get(TOKEN, epoch(0, 1)).is_none());

        cache.insert(key, testing::verified(2_000), epoch(0, 1));
        let hit = cache.get(TOKEN, epoch(0, 1)).expect("hit");
        assert_eq!(hit.id().to_string(), HUMAN);
        assert_eq!(hit.pattern(), crate::Pattern::JwtPassthrough);
        assert!(cache.get("another.token.here", epoch(0, 1)).is_none());

        clock.set(Timestamp::from_unix_seconds(1_999));
        assert!(cache.get(TOKEN, epoch(0, 1)).is_some());
        // At exp the entry is gone: a miss, and purged.
        clock.set(Timestamp::from_unix_seconds(2_000));
        assert!(cache.get(TOKEN, epoch(0, 1)).is_none());
        assert_eq!(cache.len(), 0);
        // Even if time went back, it is not there any more.
        clock.set(Timestamp::from_unix_seconds(1_500));
        assert!(cache.get(TOKEN, epoch(0, 1)).is_none());
    }

    #[test]
    fn a_principal_already_expired_is_not_stored() {
        let clock = clock_at(5_000);
        let cache = cache(100, &clock);
        cache.insert(cache.key(TOKEN), testing::verified(5_000), epoch(0, 0));
        assert!(cache.is_empty());
        assert!(cache.get(TOKEN, epoch(0, 0)).is_none());
    }

    #[test]
    fn a_revocation_change_drops_everything() {
        let clock = clock_at(1_000);
        let cache = cache(100, &clock);
        cache.insert(cache.key(TOKEN), testing::verified(2_000), epoch(3, 1));
        cache.insert(cache.key("other"), testing::verified(2_000), epoch(3, 1));
        assert_eq!(cache.len(), 2);

        assert!(cache.get(TOKEN, epoch(4, 1)).is_none());
        assert_eq!(
            cache.len(),
            0,
            "the new revocation version dropped every entry"
        );
    }

    #[test]
    fn a_key_set_change_drops_everything() {
        let clock = clock_at(1_000);
        let cache = cache(100, &clock);
        cache.insert(cache.key(TOKEN), testing::verified(2_000), epoch(0, 7));
        cache.insert(cache.key("other"), testing::verified(2_000), epoch(0, 7));

        assert!(cache.get("other", epoch(0, 8)).is_none());
        assert_eq!(
            cache.len(),
            0,
            "the new key-set version dropped every entry"
        );
        assert!(cache.get(TOKEN, epoch(0, 8)).is_none());
    }

    #[test]
    fn an_entry_of_another_epoch_never_serves() {
        let clock = clock_at(1_000);
        let cache = cache(100, &clock);
        // Recorded under an older epoch than one already seen: refused at insert.
        assert!(cache.get("x", epoch(2, 2)).is_none());
        cache.insert(cache.key(TOKEN), testing::verified(2_000), epoch(1, 2));
        assert!(cache.is_empty());

        // Recorded under the newest epoch; a caller still on an older epoch misses but
        // does not purge it, and up-to-date callers still hit.
        cache.insert(cache.key(TOKEN), testing::verified(2_000), epoch(2, 2));
        assert!(cache.get(TOKEN, epoch(2, 1)).is_none());
        assert!(cache.get(TOKEN, epoch(1, 2)).is_none());
        assert_eq!(cache.len(), 1);
        assert!(cache.get(TOKEN, epoch(2, 2)).is_some());
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

        a.insert(a.key(TOKEN), testing::verified(2_000), epoch(0, 0));
        // b's lookup of the same token uses another key: a miss.
        assert!(b.get_by_key(&b.key(TOKEN), epoch(0, 0)).is_none());
        assert!(a.get(TOKEN, epoch(0, 0)).is_some());
    }

    #[test]
    fn the_bound_is_respected() {
        for max in [1, 2, 3, 15, 16, 17, 100] {
            let clock = clock_at(1_000);
            let cache = cache(max, &clock);
            assert!(cache.capacity() <= max && cache.capacity() >= 1, "{max}");
            for i in 0..(max * 5) {
                cache.insert(
                    cache.key(&format!("token-{i}")),
                    testing::verified(2_000),
                    epoch(0, 0),
                );
                assert!(cache.len() <= max, "max {max}: {} entries", cache.len());
            }
            // The newest insert is always present.
            assert!(
                cache
                    .get(&format!("token-{}", max * 5 - 1), epoch(0, 0))
                    .is_some()
            );
        }
    }

    #[test]
    fn eviction_drops_expired_entries_first() {
        let clock = clock_at(1_000);
        let cache = TokenCache::with_shard_limit(
            TokenCacheConfig::with_max_entries(3),
            b"one shard",
            Arc::new(clock.clone()),
            1,
        );
        cache.insert(cache.key("short"), testing::verified(1_010), epoch(0, 0));
        cache.insert(cache.key("long-1"), testing::verified(9_000), epoch(0, 0));
        cache.insert(cache.key("long-2"), testing::verified(9_000), epoch(0, 0));
        clock.advance(20);
        cache.insert(cache.key("long-3"), testing::verified(9_000), epoch(0, 0));
        assert_eq!(cache.len(), 3);
        for token in ["long-1", "long-2", "long-3"] {
            assert!(cache.get(token, epoch(0, 0)).is_some(), "{token}");
        }

        // Full of live entries: one arbitrary entry makes room.
        cache.insert(cache.key("long-4"), testing::verified(9_000), epoch(0, 0));
        assert_eq!(cache.len(), 3);
        assert!(cache.get("long-4", epoch(0, 0)).is_some());
    }

    #[test]
    fn reinserting_a_key_replaces_without_evicting() {
        let clock = clock_at(1_000);
        let cache = TokenCache::with_shard_limit(
            TokenCacheConfig::with_max_entries(2),
            b"one shard",
            Arc::new(clock.clone()),
            1,
        );
        cache.insert(cache.key("a"), testing::verified(2_000), epoch(0, 0));
        cache.insert(cache.key("b"), testing::verified(2_000), epoch(0, 0));
        cache.insert(cache.key("a"), testing::verified(3_000), epoch(0, 0));
        assert_eq!(cache.len(), 2);
        assert!(cache.get("b", epoch(0, 0)).is_some());
        clock.set(Timestamp::from_unix_seconds(2_500));
        assert!(cache.get("a", epoch(0, 0)).is_some());
    }

    #[test]
    fn disabled_caches_nothing() {
        let clock = clock_at(1_000);
        let cache = TokenCache::new(TokenCacheConfig::disabled(), b"x", Arc::new(clock));
        assert_eq!(cache.capacity(), 0);
        cache.insert(cache.key(TOKEN), testing::verified(2_000), epoch(0, 0));
        assert!(cache.get(TOKEN, epoch(0, 0)).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn clear_empties_the_cache() {
        let clock = clock_at(1_000);
        let cache = cache(10, &clock);
        cache.insert(cache.key(TOKEN), testing::verified(2_000), epoch(0, 0));
        cache.clear();
        assert!(cache.get(TOKEN, epoch(0, 0)).is_none());
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
                        if cache.get(&token, epoch(0, 0)).is_none() {
                            cache.insert(cache.key(&token), testing::verified(2_000), epoch(0, 0));
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(cache.len() <= 64);
    }

    #[test]
    fn debug_shows_no_token_material() {
        let clock = clock_at(1_000);
        let cache = cache(10, &clock);
        let key = cache.key(TOKEN);
        cache.insert(key, testing::verified(2_000), epoch(0, 0));
        let debug = format!("{cache:?} {key:?}");
        assert!(!debug.contains(TOKEN));
        assert!(debug.contains("len: 1"));
    }

    #[test]
    fn config_defaults_and_deserialization() {
        assert_eq!(TokenCacheConfig::default().max_entries, DEFAULT_MAX_ENTRIES);
        let config: TokenCacheConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, TokenCacheConfig::default());
        assert!(serde_json::from_str::<TokenCacheConfig>(r#"{"size": 3}"#).is_err());
        let huge = TokenCache::new(
            TokenCacheConfig::with_max_entries(usize::MAX),
            b"x",
            Arc::new(clock_at(0)),
        );
        assert!(huge.capacity() <= MAX_MAX_ENTRIES);
    }
}
