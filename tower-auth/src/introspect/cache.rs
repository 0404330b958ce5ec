//! The introspection cache: answers of the authorization server, keyed by a digest of the
//! endpoint, the verifier's configuration and the token together.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use aws_lc_rs::digest;
use principal::{Principal, Timestamp};

use super::config::{IntrospectionConfigError, in_range};
use crate::error::{AuthError, IntrospectionError};
use crate::verified::VerifiedPrincipal;
use crate::verifier::Verdict;

/// Default bound on the number of cached answers.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
/// Upper bound on [`IntrospectionCacheConfig::max_entries`].
pub const MAX_MAX_ENTRIES: usize = 10_000_000;
/// Default longest life of an `active` answer (and never past the token's `exp`): how
/// long a token revoked at the authorization server may still be accepted here.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(60);
/// Upper bound on [`IntrospectionCacheConfig::max_ttl`].
pub const MAX_MAX_TTL: Duration = Duration::from_secs(3600);
/// Default life of an `active: false` answer.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// Upper bound on [`IntrospectionCacheConfig::negative_ttl`]: a negative entry only
/// spares the authorization server a flood, it must not outlive a token's activation.
pub const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(60);

const MAX_SHARDS: usize = 16;
/// Domain separation for the key digests (the key format's version).
const SCOPE_DOMAIN: &[u8] = b"baton.tower-auth.introspection-cache.v1\0";

/// Bounds of an [`IntrospectionCache`]; times are whole seconds (the clock's unit).
///
/// ```
/// use std::time::Duration;
/// use tower_auth::introspect::{IntrospectionCache, IntrospectionCacheConfig};
///
/// let config = IntrospectionCacheConfig::default().with_max_ttl(Duration::from_secs(30));
/// assert_eq!(config.negative_ttl, Duration::from_secs(5));
/// assert!(IntrospectionCache::new(config).is_ok());
///
/// // Rejected: a negative entry may live a minute at most.
/// let config = IntrospectionCacheConfig::default().with_negative_ttl(Duration::from_secs(600));
/// assert_eq!(IntrospectionCache::new(config).unwrap_err().reason(), "out_of_range");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IntrospectionCacheConfig {
    /// The most answers held; `0` disables caching (every verification calls the
    /// endpoint). Capped at [`MAX_MAX_ENTRIES`].
    pub max_entries: usize,
    /// The longest an `active` answer serves (1 s to [`MAX_MAX_TTL`]); never past the
    /// token's `exp` either.
    pub max_ttl: Duration,
    /// How long an `active: false` answer serves (`0` to [`MAX_NEGATIVE_TTL`]; `0`: no
    /// negative cache). Only that answer is cached negatively: a timeout, an error
    /// status or a malformed answer is not about the token and is asked again.
    pub negative_ttl: Duration,
}

impl Default for IntrospectionCacheConfig {
    fn default() -> Self {
        IntrospectionCacheConfig {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_ttl: DEFAULT_MAX_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
        }
    }
}

impl IntrospectionCacheConfig {
    /// No caching: every verification calls the endpoint (single flight still applies).
    pub fn disabled() -> Self {
        IntrospectionCacheConfig {
            max_entries: 0,
            ..Self::default()
        }
    }

    /// At most `max_entries` answers.
    pub fn with_max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// `active` answers serve at most `max_ttl`.
    pub fn with_max_ttl(mut self, max_ttl: Duration) -> Self {
        self.max_ttl = max_ttl;
        self
    }

    /// `active: false` answers serve `negative_ttl`.
    pub fn with_negative_ttl(mut self, negative_ttl: Duration) -> Self {
        self.negative_ttl = negative_ttl;
        self
    }
}

/// Where an answer goes in the cache: SHA-256 over the verifier's scope (a digest of the
/// endpoint and the configuration) and the token. Never the token itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey([u8; 32]);

impl CacheKey {
    fn shard(&self, shards: usize) -> usize {
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&self.0[..8]);
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

/// The scope digest of a verifier: its endpoint and its configuration fingerprint, each
/// length-prefixed so no two (endpoint, fingerprint) pairs write the same bytes.
pub(crate) fn scope(endpoint: &str, fingerprint: &str) -> [u8; 32] {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(SCOPE_DOMAIN);
    for part in [endpoint, fingerprint] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part.as_bytes());
    }
    let mut scope = [0u8; 32];
    scope.copy_from_slice(context.finish().as_ref());
    scope
}

/// The cache key of `token` under `scope`.
pub(crate) fn key(scope: &[u8; 32], token: &str) -> CacheKey {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(scope);
    context.update(token.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(context.finish().as_ref());
    CacheKey(key)
}

enum Answer {
    Active {
        verified: VerifiedPrincipal,
        /// Raised (never lowered) by hits that re-checked against a newer list.
        revocation_version: AtomicU64,
    },
    Inactive,
}

struct Entry {
    answer: Answer,
    /// Serves while `now < until`.
    until: Timestamp,
    generation: u64,
}

struct ShardState {
    map: HashMap<CacheKey, Entry>,
    order: VecDeque<(CacheKey, u64)>,
    next_generation: u64,
}

struct Shard {
    state: RwLock<ShardState>,
    max_entries: usize,
}

/// What a hit's re-check decided about a cached `active` answer.
pub(crate) enum Recheck {
    /// Serve it.
    Serve,
    /// Refuse with this error (revoked since); the entry stays.
    Refuse(AuthError),
}

/// A bounded cache of introspection answers, shareable by several
/// [`IntrospectionVerifier`](super::IntrospectionVerifier)s (one memory bound for every
/// authorization server a service accepts).
///
/// - **Key**: SHA-256 over the verifier's endpoint, its configuration (issuer, audiences,
///   client id, leeway, claim mapping) and the token. A token one endpoint accepted is
///   never a hit for another endpoint (or another configuration), even in a shared cache;
///   tokens are never stored.
/// - **`active` answers** serve while `now` is before both the token's `exp` and the
///   insert time plus [`max_ttl`](IntrospectionCacheConfig::max_ttl), with `now` from
///   the verifier's [`Clock`](principal::Clock). A hit re-checks the revocation list if
///   its version moved since (by the Principal's ids, no call).
/// - **`active: false` answers** serve for
///   [`negative_ttl`](IntrospectionCacheConfig::negative_ttl); nothing else is cached
///   negatively.
/// - **Bound**: at most `max_entries`, split over up to 16 shards, first in first out.
///   Each shard is a `std::sync::RwLock`; a hit takes one read lock.
///
/// ```
/// use std::sync::Arc;
/// use tower_auth::introspect::{IntrospectionCache, IntrospectionCacheConfig};
///
/// let shared = Arc::new(IntrospectionCache::new(IntrospectionCacheConfig::default())?);
/// assert!(shared.is_empty());
/// assert_eq!(shared.capacity(), 10_000);
/// // Disabled: nothing is ever stored.
/// assert_eq!(IntrospectionCache::new(IntrospectionCacheConfig::disabled())?.capacity(), 0);
/// # Ok::<(), tower_auth::introspect::IntrospectionConfigError>(())
/// ```
pub struct IntrospectionCache {
    shards: Box<[Shard]>,
    max_ttl_seconds: i64,
    negative_ttl_seconds: i64,
}

impl IntrospectionCache {
    /// An empty cache with these bounds, checked.
    pub fn new(config: IntrospectionCacheConfig) -> Result<Self, IntrospectionConfigError> {
        let max_entries = in_range(
            "max_entries",
            config.max_entries as u64,
            0,
            MAX_MAX_ENTRIES as u64,
        )? as usize;
        let max_ttl = in_range(
            "max_ttl",
            config.max_ttl.as_secs(),
            1,
            MAX_MAX_TTL.as_secs(),
        )?;
        let negative_ttl = in_range(
            "negative_ttl",
            config.negative_ttl.as_secs(),
            0,
            MAX_NEGATIVE_TTL.as_secs(),
        )?;
        let shard_count = max_entries.clamp(1, MAX_SHARDS);
        let (per_shard, extra) = (max_entries / shard_count, max_entries % shard_count);
        let shards = (0..shard_count)
            .map(|index| Shard {
                state: RwLock::new(ShardState {
                    map: HashMap::new(),
                    order: VecDeque::new(),
                    next_generation: 0,
                }),
                max_entries: per_shard + usize::from(index < extra),
            })
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Ok(IntrospectionCache {
            shards,
            // Both are at most an hour: they fit.
            max_ttl_seconds: max_ttl as i64,
            negative_ttl_seconds: negative_ttl as i64,
        })
    }

    /// The most answers this cache holds (`0`: caching is off).
    pub fn capacity(&self) -> usize {
        self.shards.iter().map(|shard| shard.max_entries).sum()
    }

    /// Number of answers held (including expired ones not purged yet).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| read(shard).map.len()).sum()
    }

    /// Whether the cache holds no answer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop every answer.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let mut state = write(shard);
            state.map.clear();
            state.order.clear();
        }
    }

    fn is_enabled(&self) -> bool {
        self.capacity() > 0
    }

    /// The hit path: the answer for `key` if it still serves at `now`. An `active` one is
    /// re-checked by `recheck` (given the Principal and the revocation version it was
    /// last checked against) under the shard's read lock.
    pub(crate) fn get(
        &self,
        key: &CacheKey,
        now: Timestamp,
        recheck: impl FnOnce(&Principal, &AtomicU64) -> Recheck,
    ) -> Option<Verdict> {
        if !self.is_enabled() {
            return None;
        }
        let shard = &self.shards[key.shard(self.shards.len())];
        let stale_generation = {
            let state = read(shard);
            let entry = state.map.get(key)?;
            if now < entry.until {
                return Some(match &entry.answer {
                    Answer::Active {
                        verified,
                        revocation_version,
                    } => match recheck(verified.principal(), revocation_version) {
                        Recheck::Serve => Ok(verified.clone()),
                        Recheck::Refuse(error) => Err(error),
                    },
                    Answer::Inactive => Err(IntrospectionError::Inactive.into()),
                });
            }
            entry.generation
        };
        // Expired: remove that very entry (not a newer one inserted meanwhile).
        let mut state = write(shard);
        if state
            .map
            .get(key)
            .is_some_and(|entry| entry.generation == stale_generation)
        {
            state.map.remove(key);
        }
        None
    }

    /// Remember an `active` answer: until the Principal's `exp`, at most `max_ttl`.
    pub(crate) fn insert_active(
        &self,
        key: CacheKey,
        verified: VerifiedPrincipal,
        now: Timestamp,
        revocation_version: u64,
    ) {
        let until = verified
            .principal()
            .expires_at()
            .min(now.add_seconds(self.max_ttl_seconds));
        let answer = Answer::Active {
            verified,
            revocation_version: AtomicU64::new(revocation_version),
        };
        self.insert(key, answer, now, until);
    }

    /// Remember an `active: false` answer for `negative_ttl`.
    pub(crate) fn insert_inactive(&self, key: CacheKey, now: Timestamp) {
        let until = now.add_seconds(self.negative_ttl_seconds);
        self.insert(key, Answer::Inactive, now, until);
    }

    fn insert(&self, key: CacheKey, answer: Answer, now: Timestamp, until: Timestamp) {
        if !self.is_enabled() || until <= now {
            return;
        }
        let shard = &self.shards[key.shard(self.shards.len())];
        let mut guard = write(shard);
        let state = &mut *guard;
        let generation = state.next_generation;
        state.next_generation = generation.wrapping_add(1);
        state.map.insert(
            key,
            Entry {
                answer,
                until,
                generation,
            },
        );
        state.order.push_back((key, generation));
        // First in, first out; the queue is bounded at twice the entries so pairs of
        // replaced or purged entries cannot pile up.
        let max_queue = shard.max_entries.saturating_mul(2);
        while state.map.len() > shard.max_entries || state.order.len() > max_queue {
            let Some((oldest, oldest_generation)) = state.order.pop_front() else {
                break;
            };
            if state
                .map
                .get(&oldest)
                .is_some_and(|entry| entry.generation == oldest_generation)
            {
                state.map.remove(&oldest);
            }
        }
    }
}

/// A poisoned shard only means a thread panicked holding it; every write leaves the map
/// and queue consistent enough to go on.
fn read(shard: &Shard) -> RwLockReadGuard<'_, ShardState> {
    shard
        .state
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write(shard: &Shard) -> RwLockWriteGuard<'_, ShardState> {
    shard
        .state
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl fmt::Debug for IntrospectionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionCache")
            .field("capacity", &self.capacity())
            .field("max_ttl_seconds", &self.max_ttl_seconds)
            .field("negative_ttl_seconds", &self.negative_ttl_seconds)
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::verified::testing;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds)
    }

    fn serve(_: &Principal, _: &AtomicU64) -> Recheck {
        Recheck::Serve
    }

    #[test]
    fn keys_depend_on_endpoint_configuration_and_token() {
        let a = scope("https://a.example/introspect", "cfg");
        let b = scope("https://b.example/introspect", "cfg");
        assert_ne!(key(&a, "t"), key(&b, "t"));
        assert_ne!(key(&a, "t"), key(&a, "u"));
        assert_ne!(
            key(&a, "t"),
            key(&scope("https://a.example/introspect", "cfg2"), "t")
        );
        // Length prefixes: moving bytes between endpoint and fingerprint changes the key.
        assert_ne!(scope("ab", "c"), scope("a", "bc"));
        assert_eq!(key(&a, "t"), key(&a, "t"));
    }

    #[test]
    fn active_entries_end_at_exp_or_max_ttl_whichever_first() {
        let cache = IntrospectionCache::new(
            IntrospectionCacheConfig::default().with_max_ttl(Duration::from_secs(60)),
        )
        .unwrap();
        let scope = scope("e", "f");
        // exp (1030) before insert + max_ttl (1060).
        cache.insert_active(key(&scope, "near"), testing::verified(1030), at(1000), 0);
        // exp far away: max_ttl bounds it.
        cache.insert_active(key(&scope, "far"), testing::verified(i64::MAX), at(1000), 0);
        assert!(cache.get(&key(&scope, "near"), at(1029), serve).is_some());
        assert!(cache.get(&key(&scope, "near"), at(1030), serve).is_none());
        assert!(cache.get(&key(&scope, "far"), at(1059), serve).is_some());
        assert!(cache.get(&key(&scope, "far"), at(1060), serve).is_none());
        // Expired entries are purged on lookup.
        assert!(cache.is_empty());
        // Already expired: never stored.
        cache.insert_active(key(&scope, "old"), testing::verified(999), at(1000), 0);
        assert!(cache.is_empty());
    }

    #[test]
    fn inactive_entries_serve_the_negative_ttl_only_and_zero_disables_them() {
        let cache = IntrospectionCache::new(IntrospectionCacheConfig::default()).unwrap();
        let k = key(&scope("e", "f"), "t");
        cache.insert_inactive(k, at(1000));
        assert!(matches!(
            cache.get(&k, at(1004), serve),
            Some(Err(AuthError::Introspection(IntrospectionError::Inactive)))
        ));
        assert!(cache.get(&k, at(1005), serve).is_none());
        let cache = IntrospectionCache::new(
            IntrospectionCacheConfig::default().with_negative_ttl(Duration::ZERO),
        )
        .unwrap();
        cache.insert_inactive(k, at(1000));
        assert!(cache.is_empty());
    }

    #[test]
    fn the_bound_evicts_the_oldest_first() {
        let cache =
            IntrospectionCache::new(IntrospectionCacheConfig::default().with_max_entries(1))
                .unwrap();
        let scope = scope("e", "f");
        cache.insert_active(key(&scope, "1"), testing::verified(5000), at(1000), 0);
        cache.insert_active(key(&scope, "2"), testing::verified(5000), at(1000), 0);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&key(&scope, "1"), at(1001), serve).is_none());
        assert!(cache.get(&key(&scope, "2"), at(1001), serve).is_some());
        let disabled = IntrospectionCache::new(IntrospectionCacheConfig::disabled()).unwrap();
        disabled.insert_active(key(&scope, "1"), testing::verified(5000), at(1000), 0);
        assert!(disabled.is_empty());
    }

    #[test]
    fn bounds_are_checked() {
        for config in [
            IntrospectionCacheConfig::default().with_max_ttl(Duration::ZERO),
            IntrospectionCacheConfig::default().with_max_ttl(MAX_MAX_TTL + Duration::from_secs(1)),
            IntrospectionCacheConfig::default()
                .with_negative_ttl(MAX_NEGATIVE_TTL + Duration::from_secs(1)),
            IntrospectionCacheConfig::default().with_max_entries(MAX_MAX_ENTRIES + 1),
        ] {
            assert_eq!(
                IntrospectionCache::new(config).unwrap_err().reason(),
                "out_of_range"
            );
        }
    }
}
