//! [`MintCache`]: minted tokens per (Principal, audience), single flight per pair.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use principal::{Audience, Principal, ScopeSet, Timestamp};

use super::{InternalIssuer, MintConfigError, MintError, MintedToken};

/// How long before its `exp` a cached token is replaced, when not configured.
pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(60);
/// Most (Principal, audience) pairs a cache holds, when not configured.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

/// One cached pair. The key is the whole Principal, compared with `==`: two Principals
/// share a token only when they are equal in every field.
struct Entry {
    principal: Principal,
    audience: Audience,
    scopes: Option<ScopeSet>,
    token: Option<MintedToken>,
    /// Held while this pair mints: a burst of callers waits here and mints once.
    flight: Arc<tokio::sync::Mutex<()>>,
}

impl Entry {
    fn is(&self, principal: &Principal, audience: &Audience, scopes: Option<&ScopeSet>) -> bool {
        self.audience == *audience && self.scopes.as_ref() == scopes && self.principal == *principal
    }
}

#[derive(Default)]
struct Entries {
    /// Buckets by a hash of the fields that tell Principals apart; exact match inside.
    buckets: HashMap<u64, Vec<Entry>>,
    len: usize,
}

/// Caches the tokens an [`InternalIssuer`] mints, per (Principal, audience) and, for
/// [`token_narrowed`](Self::token_narrowed), the scope set, so a service calling the same
/// downstream for the same Principal signs once per token lifetime.
///
/// - **Exact key.** A cached token is served only for a Principal equal in every field
///   (`==`: subject, kind, actors, scopes, expiry, session, attributes...) to the one it
///   was minted for, and the same audience.
/// - **Renewal.** A token is served until `renew_before` (default 60 s) before its
///   `exp`; after that the next call mints a new one, so a receiver with a clock a little
///   ahead never sees it expire in flight. A token that is already that close to expiry
///   when minted (its Principal expires soon) is returned but not cached.
/// - **Single flight.** Concurrent calls for one pair that find no fresh token queue on
///   that pair's `tokio::sync::Mutex`: the first mints, the others take its token. Other
///   pairs are not held up.
/// - **Bounded.** At most `max_entries` pairs (default 10 000): when full, entries whose
///   token has expired go first, then the entry closest to expiry.
/// - Refusals ([`MintError`]) are not cached: the next call asks the issuer again.
///
/// Time comes from the issuer's clock.
///
/// ```
/// use principal::{Audience, HumanId, Issuer, Principal, Timestamp};
/// use tower_auth::mint::{InternalIssuer, MintCache, SigningAlgorithm, SigningKey};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let issuer = InternalIssuer::builder(
///     Issuer::new("https://edge.internal")?,
///     SigningKey::generate(SigningAlgorithm::Es256)?,
/// )
/// .build()?;
/// let cache = MintCache::builder(issuer.clone()).build()?;
///
/// let idp = Issuer::new("https://idp.example.com")?;
/// let alice = Principal::builder(HumanId::derive(&idp, "alice").into(), idp, "alice")
///     .expires_at(Timestamp::from_unix_seconds(i64::MAX / 2))
///     .build()?;
/// let orders = Audience::new("orders-api")?;
/// let first = cache.token(&alice, &orders).await?;
/// let second = cache.token(&alice, &orders).await?;
/// assert_eq!(first.as_str(), second.as_str());
/// assert_eq!(issuer.tokens_minted(), 1);
///
/// // Another audience is another token.
/// let billing = cache.token(&alice, &Audience::new("billing-api")?).await?;
/// assert_ne!(billing.as_str(), first.as_str());
///
/// // Rejected: a margin as long as the token's life would never cache.
/// let err = MintCache::builder(issuer).renew_before(std::time::Duration::from_secs(300)).build();
/// assert_eq!(err.unwrap_err().reason(), "renew_margin_too_large");
/// # Ok(())
/// # }
/// ```
pub struct MintCache {
    issuer: InternalIssuer,
    renew_before_seconds: i64,
    max_entries: usize,
    hasher: RandomState,
    entries: Mutex<Entries>,
}

/// Builds a [`MintCache`].
#[must_use]
pub struct MintCacheBuilder {
    issuer: InternalIssuer,
    renew_before: Duration,
    max_entries: usize,
}

impl MintCache {
    /// A builder for a cache in front of `issuer`.
    pub fn builder(issuer: InternalIssuer) -> MintCacheBuilder {
        MintCacheBuilder {
            issuer,
            renew_before: DEFAULT_RENEW_BEFORE,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }

    /// The issuer this cache mints with.
    pub fn issuer(&self) -> &InternalIssuer {
        &self.issuer
    }

    /// A token for `principal` and `audience` with the Principal's scopes: the cached one
    /// while it is fresh, else a new one (minted once for a burst of callers).
    pub async fn token(
        &self,
        principal: &Principal,
        audience: &Audience,
    ) -> Result<MintedToken, MintError> {
        self.token_with(principal, audience, None, || {
            std::future::ready(self.issuer.mint_scoped(principal, audience, None))
        })
        .await
    }

    /// As [`token`](Self::token), for a token carrying only `scopes`
    /// ([`InternalIssuer::mint_narrowed`]); cached apart from the full-scope token.
    pub async fn token_narrowed(
        &self,
        principal: &Principal,
        audience: &Audience,
        scopes: &ScopeSet,
    ) -> Result<MintedToken, MintError> {
        self.token_with(principal, audience, Some(scopes), || {
            std::future::ready(self.issuer.mint_scoped(principal, audience, Some(scopes)))
        })
        .await
    }

    /// Pairs held now (fresh, renewing or minting).
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Whether no pair is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Entries are replaced whole; a panic elsewhere never leaves one half-written.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_fresh(&self, token: &MintedToken, now: Timestamp) -> bool {
        now < token.expires_at().add_seconds(-self.renew_before_seconds)
    }

    /// The fresh cached token of the pair, or the pair's flight lock (the entry made if
    /// missing).
    fn lookup(
        &self,
        hash: u64,
        principal: &Principal,
        audience: &Audience,
        scopes: Option<&ScopeSet>,
    ) -> Result<MintedToken, Arc<tokio::sync::Mutex<()>>> {
        let now = self.issuer.clock().now();
        let mut entries = self.lock();
        if let Some(entry) = entries
            .buckets
            .get(&hash)
            .and_then(|bucket| bucket.iter().find(|e| e.is(principal, audience, scopes)))
        {
            return match &entry.token {
                Some(token) if self.is_fresh(token, now) => Ok(token.clone()),
                _ => Err(Arc::clone(&entry.flight)),
            };
        }
        if entries.len >= self.max_entries {
            evict(&mut entries, now);
        }
        let flight = Arc::new(tokio::sync::Mutex::new(()));
        entries.buckets.entry(hash).or_default().push(Entry {
            principal: principal.clone(),
            audience: audience.clone(),
            scopes: scopes.cloned(),
            token: None,
            flight: Arc::clone(&flight),
        });
        entries.len += 1;
        Err(flight)
    }

    /// Records a freshly minted token for the pair (if it is still held: it may have been
    /// evicted meanwhile).
    fn store(
        &self,
        hash: u64,
        principal: &Principal,
        audience: &Audience,
        scopes: Option<&ScopeSet>,
        token: &MintedToken,
    ) {
        let mut entries = self.lock();
        if let Some(entry) = entries.buckets.get_mut(&hash).and_then(|bucket| {
            bucket
                .iter_mut()
                .find(|e| e.is(principal, audience, scopes))
        }) {
            entry.token = Some(token.clone());
        }
    }

    /// The cache logic with the mint step given: the public methods pass the issuer;
    /// unit tests pass a counting, gated one.
    pub(super) async fn token_with<F, Fut>(
        &self,
        principal: &Principal,
        audience: &Audience,
        scopes: Option<&ScopeSet>,
        mint: F,
    ) -> Result<MintedToken, MintError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<MintedToken, MintError>>,
    {
        let hash = self.hash(principal, audience, scopes);
        let flight = match self.lookup(hash, principal, audience, scopes) {
            Ok(token) => return Ok(token),
            Err(flight) => flight,
        };
        let _minting = flight.lock().await;
        // Another caller of this pair may have minted while this one waited.
        if let Ok(token) = self.lookup(hash, principal, audience, scopes) {
            return Ok(token);
        }
        let token = mint().await?;
        if self.is_fresh(&token, self.issuer.clock().now()) {
            self.store(hash, principal, audience, scopes, &token);
        }
        Ok(token)
    }

    /// A hash of the fields that tell Principals apart (consistent with `==`, which
    /// decides), keyed per cache so no one can aim collisions at it.
    fn hash(&self, principal: &Principal, audience: &Audience, scopes: Option<&ScopeSet>) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        principal.id().hash(&mut hasher);
        principal.issuer().hash(&mut hasher);
        principal.subject().hash(&mut hasher);
        principal.expires_at().hash(&mut hasher);
        principal.token_id().hash(&mut hasher);
        principal.session_id().hash(&mut hasher);
        for actor in principal.delegation() {
            actor.id().hash(&mut hasher);
        }
        for scope in principal.scopes().iter() {
            scope.as_str().hash(&mut hasher);
        }
        audience.hash(&mut hasher);
        if let Some(scopes) = scopes {
            for scope in scopes.iter() {
                scope.as_str().hash(&mut hasher);
            }
        }
        hasher.finish()
    }
}

/// Makes room for one entry: drops every entry whose token has expired and that is not
/// minting; if none, the one whose token expires soonest (an entry still minting, with
/// no token, counts as expiring last).
fn evict(entries: &mut Entries, now: Timestamp) {
    let idle_and_expired = |e: &Entry| {
        e.token.as_ref().is_some_and(|t| t.expires_at() <= now) && e.flight.try_lock().is_ok()
    };
    let mut removed = 0;
    for bucket in entries.buckets.values_mut() {
        let before = bucket.len();
        bucket.retain(|e| !idle_and_expired(e));
        removed += before - bucket.len();
    }
    entries.buckets.retain(|_, bucket| !bucket.is_empty());
    entries.len -= removed;
    if removed > 0 {
        return;
    }
    let soonest = entries
        .buckets
        .iter()
        .flat_map(|(hash, bucket)| {
            bucket.iter().enumerate().map(move |(i, e)| {
                let expiry = e
                    .token
                    .as_ref()
                    .map_or(i64::MAX, |t| t.expires_at().as_unix_seconds());
                (expiry, *hash, i)
            })
        })
        .min();
    if let Some((_, hash, index)) = soonest
        && let Some(bucket) = entries.buckets.get_mut(&hash)
    {
        bucket.swap_remove(index);
        if bucket.is_empty() {
            entries.buckets.remove(&hash);
        }
        entries.len -= 1;
    }
}

impl MintCacheBuilder {
    /// How long before its `exp` a cached token is replaced (default 60 s; less than the
    /// issuer's token lifetime).
    pub fn renew_before(mut self, margin: Duration) -> Self {
        self.renew_before = margin;
        self
    }

    /// Most pairs held (default 10 000; at least 1).
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }

    /// Checks the settings and builds the cache.
    pub fn build(self) -> Result<MintCache, MintConfigError> {
        if self.renew_before >= self.issuer.lifetime() {
            return Err(MintConfigError::RenewMarginTooLarge {
                renew_before_seconds: self.renew_before.as_secs(),
                lifetime_seconds: self.issuer.lifetime().as_secs(),
            });
        }
        if self.max_entries == 0 {
            return Err(MintConfigError::NoCacheEntries);
        }
        Ok(MintCache {
            issuer: self.issuer,
            renew_before_seconds: i64::try_from(self.renew_before.as_secs()).unwrap_or(i64::MAX),
            max_entries: self.max_entries,
            hasher: RandomState::new(),
            entries: Mutex::new(Entries::default()),
        })
    }
}

impl fmt::Debug for MintCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintCache")
            .field("issuer", &self.issuer.issuer())
            .field("renew_before_seconds", &self.renew_before_seconds)
            .field("max_entries", &self.max_entries)
            .field("len", &self.len())
            .finish()
    }
}

impl fmt::Debug for MintCacheBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintCacheBuilder")
            .field("renew_before", &self.renew_before)
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}
