//! The per-issuer key cache: an `ArcSwap` of the current key set for lock-free lookups, a
//! lock-free view of the on-demand refetch (its cooldown and the fetch in flight, in a
//! `watch` channel) so a lookup that may not fetch answers at once, and a single-flight
//! fetch path behind an async mutex.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use aws_lc_rs::digest;
use principal::{Clock, SystemClock, Timestamp};
use reqwest::Url;
use tokio::sync::{Mutex, watch};

use super::error::{JwksConfigError, JwksError, KeyError};
use super::fetch::{FetchedJwks, Fetcher};
use super::key::{MAX_KID_BYTES, VerificationKey};
use super::policy::{KeySetPolicy, RefreshPolicy, StartupPolicy};
use super::refresher::{self, RefresherHandle};
use super::set::KeySet;
use super::source::JwksSource;

/// The key set of one issuer, kept fresh from its JWKS.
///
/// Cheap to clone (clones share one cache). Lookups ([`snapshot`](KeyCache::snapshot),
/// [`KeySnapshot::lookup`], and [`key_for`](KeyCache::key_for) when the key is known) take
/// no lock and make no network call. See the [module docs](super) for the life cycle.
///
/// ```
/// use std::sync::Arc;
/// use principal::{TestClock, Timestamp};
/// use tower_auth::jwks::{JwksSource, KeyCache, KeyError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let clock = TestClock::new(Timestamp::from_unix_seconds(1_700_000_000));
/// let cache = KeyCache::builder(JwksSource::jwks_url("https://id.example.com/jwks.json")?)
///     .clock(Arc::new(clock))
///     .build()?;
/// // Nothing is fetched until `warm`, a refresh, or a lookup miss; with no keys loaded a
/// // lookup is rejected.
/// let snapshot = cache.snapshot();
/// assert!(!snapshot.is_loaded());
/// assert!(matches!(
///     snapshot.lookup(Some("k1"), Timestamp::from_unix_seconds(1_700_000_000)),
///     Err(KeyError::NotLoaded { .. })
/// ));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct KeyCache {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    label: String,
    origin: Option<Origin>,
    policy: RefreshPolicy,
    key_set_policy: KeySetPolicy,
    clock: Arc<dyn Clock>,
    state: ArcSwap<CacheState>,
    /// Serialises fetches: one in flight per cache, shared by every waiter.
    fetch: Mutex<FetchState>,
    /// The on-demand refetch (cooldown, and the refetch claimed and not finished), read
    /// and claimed without `fetch`: a lookup that may not refetch never queues on it.
    on_demand: watch::Sender<OnDemand>,
    /// Fetches finished (success or failure). A waiter that saw this move while it queued
    /// takes that fetch's result instead of starting another.
    completed_fetches: AtomicU64,
    /// A background refresh started by a lookup is running (at most one at a time).
    revalidating: AtomicBool,
    version_tx: watch::Sender<u64>,
}

struct Origin {
    source: JwksSource,
    fetcher: Fetcher,
}

#[derive(Default)]
struct FetchState {
    /// The `jwks_uri` found by discovery, and when. Kept through failed fetches; the
    /// metadata is read again once `rediscovery_interval` has passed.
    discovered: Option<Discovered>,
    /// SHA-256 of the last good body: an unchanged body is not parsed again.
    body_digest: Option<[u8; 32]>,
}

struct Discovered {
    jwks_uri: Url,
    at: Timestamp,
}

/// The on-demand refetch, as every lookup sees it without taking the fetch lock.
#[derive(Default)]
struct OnDemand {
    /// When a lookup miss last claimed a refetch: the cooldown counts from it.
    last_claimed: Option<Timestamp>,
    /// The refetch claimed and not finished yet.
    pending: Option<PendingRefetch>,
    /// The ticket of the last claim.
    last_ticket: u64,
}

struct PendingRefetch {
    ticket: u64,
    /// The `kid` it looks for: lookups for the same `kid` wait for it, others do not.
    kid: Option<Box<str>>,
}

/// What a lookup miss may do about the on-demand refetch.
enum Claim {
    /// Inside the cooldown, or a refetch for another `kid` is in flight: answer now.
    Refused,
    /// A refetch for this very `kid` is in flight: wait for it.
    Join(u64),
    /// This lookup runs the refetch.
    Owner(u64),
}

/// Ends a claimed refetch when its owner finishes or is dropped, waking those who joined.
struct RefetchDone<'a> {
    on_demand: &'a watch::Sender<OnDemand>,
    ticket: u64,
}

impl Drop for RefetchDone<'_> {
    fn drop(&mut self) {
        self.on_demand.send_if_modified(|state| {
            if state
                .pending
                .as_ref()
                .is_some_and(|p| p.ticket == self.ticket)
            {
                state.pending = None;
                true
            } else {
                false
            }
        });
    }
}

/// Clears the "background refresh running" flag when the refresh task ends or is dropped.
struct RevalidationDone(Arc<Inner>);

impl Drop for RevalidationDone {
    fn drop(&mut self) {
        self.0.revalidating.store(false, Ordering::Release);
    }
}

/// One immutable state of a cache: its key set and how fresh it is.
pub(crate) struct CacheState {
    keys: Arc<KeySet>,
    freshness: Freshness,
    next_refresh_at: Option<Timestamp>,
    last_error: Option<JwksError>,
}

#[derive(Clone, Copy)]
enum Freshness {
    /// A configured set: never fetched, never stale.
    Static,
    /// Nothing loaded yet.
    NotLoaded,
    Loaded {
        fetched_at: Timestamp,
        expires_at: Timestamp,
        serve_until: Timestamp,
    },
}

/// What a successful refresh did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// The keys changed; the cache's version is now `version`.
    Updated {
        /// The new version.
        version: u64,
        /// Keys in the new set.
        keys: usize,
    },
    /// The same keys came back; their lifetime was renewed.
    Unchanged {
        /// The version, as before.
        version: u64,
    },
}

/// What [`KeyCache::warm`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarmOutcome {
    /// A key set is loaded.
    Loaded(RefreshOutcome),
    /// The IdP could not give a key set and the startup policy said to go on.
    Unavailable(JwksError),
}

/// A consistent view of a cache at one moment. Holding it keeps that key set alive; it
/// never changes.
#[derive(Clone)]
pub struct KeySnapshot {
    state: Arc<CacheState>,
}

/// Builds a [`KeyCache`] that fetches from a [`JwksSource`].
pub struct KeyCacheBuilder {
    source: JwksSource,
    policy: RefreshPolicy,
    key_set_policy: KeySetPolicy,
    clock: Arc<dyn Clock>,
}

impl KeyCache {
    /// A builder for a cache fetching from `source`, with default policies and the system
    /// clock.
    pub fn builder(source: JwksSource) -> KeyCacheBuilder {
        KeyCacheBuilder {
            source,
            policy: RefreshPolicy::default(),
            key_set_policy: KeySetPolicy::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// A cache over a fixed, configured key set (a static JWKS, or symmetric secrets from
    /// [`KeySet::from_symmetric_keys`]). It never fetches and never goes stale.
    ///
    /// ```
    /// use jsonwebtoken::Algorithm;
    /// use principal::Timestamp;
    /// use tower_auth::jwks::{KeyCache, KeyError, KeySet, SymmetricKey};
    ///
    /// let set = KeySet::from_symmetric_keys([SymmetricKey::new(Some("hs"), Algorithm::HS256, vec![9u8; 32])?])?;
    /// let cache = KeyCache::from_key_set("internal", set);
    /// let now = Timestamp::from_unix_seconds(0);
    /// assert!(cache.snapshot().lookup(Some("hs"), now).is_ok());
    /// assert!(matches!(cache.snapshot().lookup(Some("nope"), now), Err(KeyError::UnknownKeyId { .. })));
    /// # Ok::<(), tower_auth::jwks::JwksConfigError>(())
    /// ```
    pub fn from_key_set(label: &str, set: KeySet) -> KeyCache {
        let (version_tx, _) = watch::channel(1);
        let state = CacheState {
            keys: Arc::new(set.with_version(1)),
            freshness: Freshness::Static,
            next_refresh_at: None,
            last_error: None,
        };
        KeyCache {
            inner: Arc::new(Inner {
                label: label.to_owned(),
                origin: None,
                policy: RefreshPolicy::default(),
                key_set_policy: KeySetPolicy::default(),
                clock: Arc::new(SystemClock),
                state: ArcSwap::from_pointee(state),
                fetch: Mutex::new(FetchState::default()),
                on_demand: watch::Sender::new(OnDemand::default()),
                completed_fetches: AtomicU64::new(0),
                revalidating: AtomicBool::new(false),
                version_tx,
            }),
        }
    }

    /// The current state, without lock or allocation proportional to the key set (one
    /// reference-count increment).
    pub fn snapshot(&self) -> KeySnapshot {
        KeySnapshot {
            state: self.inner.state.load_full(),
        }
    }

    /// The key for a token's `kid` (`None` when the token has none).
    ///
    /// A known key is returned from the current snapshot with no lock and no network call.
    /// If the set has expired but may still serve, the key is returned at once and a
    /// background refresh is started on the current tokio runtime (stale-while-revalidate,
    /// one at a time, on the refresh schedule; see [`key_now`](KeyCache::key_now)).
    ///
    /// On a miss (unknown `kid`, nothing loaded, or the set past its maximum staleness) the
    /// cache refetches, at most once per `unknown_kid_cooldown`. Whether a refetch is
    /// allowed is decided without any lock: a miss inside the cooldown is answered at once,
    /// even while a fetch is in flight; only lookups for the very `kid` the refetch in
    /// flight looks for wait for it (single flight): for that fetch, and the rest of one
    /// already running when it was claimed (each HTTP request is bounded by
    /// `fetch_timeout`). The refetch runs as its own task on the current tokio runtime: the
    /// lookup that started it may be dropped without cancelling it for the others. A `kid`
    /// no JWK may carry (empty or over 256 bytes) never refetches. A `kid` still unknown
    /// after the refetch is [`KeyError::UnknownKeyId`]; a set past its maximum staleness
    /// that could not be refreshed is [`KeyError::Stale`] (fail closed). A token without
    /// `kid` gets the set's
    /// only key, or [`KeyError::MissingKeyId`] when there are several.
    ///
    /// ```
    /// use jsonwebtoken::Algorithm;
    /// use tower_auth::jwks::{KeyCache, KeyError, KeySet, SymmetricKey};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let set = KeySet::from_symmetric_keys([SymmetricKey::new(Some("a"), Algorithm::HS256, vec![1u8; 32])?])?;
    /// let cache = KeyCache::from_key_set("static", set);
    /// assert_eq!(cache.key_for(Some("a")).await?.algorithm(), Algorithm::HS256);
    /// assert!(matches!(cache.key_for(Some("b")).await, Err(KeyError::UnknownKeyId { .. })));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn key_for(&self, kid: Option<&str>) -> Result<Arc<VerificationKey>, KeyError> {
        let inner = &*self.inner;
        let seen_fetches = inner.completed_fetches.load(Ordering::Acquire);
        let now = inner.clock.now();
        let miss = match self.lookup_at(kid, now) {
            Ok(key) => return Ok(key),
            Err(miss) => miss,
        };
        // A kid no JWK may carry (we drop those) cannot appear by refetching.
        let impossible_kid = kid.is_some_and(|k| k.is_empty() || k.len() > MAX_KID_BYTES);
        if inner.origin.is_none() || impossible_kid || !refetch_may_help(&miss) {
            return Err(miss);
        }
        let ticket = match self.claim_refetch(kid, now) {
            // A refetch may have installed the key between the miss and the claim: look
            // again (still without waiting).
            Claim::Refused => return self.lookup_at(kid, now),
            Claim::Join(ticket) => {
                self.refetch_finished(ticket).await;
                return self.lookup_at(kid, inner.clock.now());
            }
            Claim::Owner(ticket) => ticket,
        };
        let cache = self.clone();
        let wanted: Option<Box<str>> = kid.map(Box::from);
        let refetch = async move {
            let _done = RefetchDone {
                on_demand: &cache.inner.on_demand,
                ticket,
            };
            cache.refetch_on_miss(wanted.as_deref(), seen_fetches).await;
        };
        // Spawned, so the refetch others wait for finishes even if this caller goes away
        // (a client that disconnects cannot cancel it for everyone).
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let _ = runtime.spawn(refetch).await;
            }
            Err(_) => refetch.await,
        }
        self.lookup_at(kid, inner.clock.now())
    }

    /// The refetch a lookup miss claimed: under the fetch lock, unless the key arrived or a
    /// fetch completed meanwhile (single flight: its answer stands).
    async fn refetch_on_miss(&self, kid: Option<&str>, seen_fetches: u64) {
        let inner = &*self.inner;
        let mut fetch = inner.fetch.lock().await;
        let Err(miss) = self.lookup_at(kid, inner.clock.now()) else {
            return;
        };
        if !refetch_may_help(&miss)
            || inner.completed_fetches.load(Ordering::Acquire) != seen_fetches
        {
            return;
        }
        tracing::debug!(issuer = %inner.label, reason = miss.reason(), "refetching key set on a lookup miss");
        // A failure is recorded in the state; the caller's lookup reports it.
        let _ = self.fetch_and_install(&mut fetch).await;
    }

    /// The key for `kid` from the current set, without waiting: never a fetch on the
    /// caller's path, for callers that cannot wait (tonic interceptors). Same answers as
    /// [`KeySnapshot::lookup`] at the clock's `now`; in addition, like
    /// [`key_for`](KeyCache::key_for), a lookup that finds the set due for a refresh
    /// (expired, or a failed refresh's retry time reached) while it may still serve starts
    /// one background refresh on the current tokio runtime. So a key the IdP removed stops
    /// verifying within the refresh period even when no [refresher](KeyCache::spawn_refresher)
    /// runs. Outside a tokio runtime nothing is started.
    ///
    /// ```
    /// use jsonwebtoken::Algorithm;
    /// use tower_auth::jwks::{KeyCache, KeyError, KeySet, SymmetricKey};
    ///
    /// let set = KeySet::from_symmetric_keys([SymmetricKey::new(Some("a"), Algorithm::HS256, vec![1u8; 32])?])?;
    /// let cache = KeyCache::from_key_set("static", set);
    /// assert!(cache.key_now(Some("a")).is_ok());
    /// // Rejected: no key with that id, and no refetch either.
    /// assert!(matches!(cache.key_now(Some("b")), Err(KeyError::UnknownKeyId { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key_now(&self, kid: Option<&str>) -> Result<Arc<VerificationKey>, KeyError> {
        self.lookup_at(kid, self.inner.clock.now())
    }

    /// The snapshot's answer at `now`; a hit on a set due for a refresh starts one in the
    /// background.
    fn lookup_at(
        &self,
        kid: Option<&str>,
        now: Timestamp,
    ) -> Result<Arc<VerificationKey>, KeyError> {
        let state = self.inner.state.load();
        let key = state.lookup(kid, now).map(Arc::clone)?;
        if state.next_refresh_at.is_some_and(|at| now >= at) {
            self.revalidate_in_background();
        }
        Ok(key)
    }

    /// Starts `refresh_if_due` on the current tokio runtime unless one started this way is
    /// still running. The schedule it obeys (expiry, then `failure_retry` after a failure)
    /// bounds how often the IdP is asked.
    pub(crate) fn revalidate_in_background(&self) {
        let inner = &self.inner;
        if inner.origin.is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if inner
            .revalidating
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let done = RevalidationDone(Arc::clone(inner));
        let cache = self.clone();
        runtime.spawn(async move {
            let _done = done;
            tracing::debug!(issuer = %cache.inner.label, "key set expired; refreshing in the background");
            // A failure is logged and scheduled for retry by the cache itself.
            let _ = cache.refresh_if_due().await;
        });
    }

    /// Decides, without the fetch lock, what a lookup miss at `now` may do.
    fn claim_refetch(&self, kid: Option<&str>, now: Timestamp) -> Claim {
        let policy = &self.inner.policy;
        let mut claim = Claim::Refused;
        self.inner.on_demand.send_if_modified(|state| {
            if let Some(pending) = &state.pending {
                if pending.kid.as_deref() == kid {
                    claim = Claim::Join(pending.ticket);
                }
                // One refetch in flight at a time; another kid does not wait for it.
                return false;
            }
            if !policy.unknown_kid_refetch_allowed(state.last_claimed, now) {
                return false;
            }
            state.last_ticket += 1;
            state.last_claimed = Some(now);
            state.pending = Some(PendingRefetch {
                ticket: state.last_ticket,
                kid: kid.map(Box::from),
            });
            claim = Claim::Owner(state.last_ticket);
            true
        });
        claim
    }

    /// Waits until the refetch with `ticket` has finished (or its owner was dropped).
    async fn refetch_finished(&self, ticket: u64) {
        let mut receiver = self.inner.on_demand.subscribe();
        // The sender lives in `Inner`, which `self` holds: the channel cannot close.
        let _ = receiver
            .wait_for(|state| state.pending.as_ref().is_none_or(|p| p.ticket != ticket))
            .await;
    }

    /// Fetches at start-up. With [`StartupPolicy::FailIfUnavailable`] a failure is returned;
    /// with [`StartupPolicy::ContinueIfUnavailable`] it is logged and returned inside
    /// [`WarmOutcome::Unavailable`], and the cache starts empty (lookups fail closed until a
    /// later fetch succeeds).
    ///
    /// ```
    /// use tower_auth::dev_idp::{DevIdp, Override};
    /// use tower_auth::jwks::{JwksSource, KeyCache, StartupPolicy, WarmOutcome};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let idp = DevIdp::start("127.0.0.1:0".parse()?).await?;
    /// let cache = KeyCache::builder(JwksSource::oidc_discovery(idp.issuer())?).build()?;
    /// let outcome = cache.warm(StartupPolicy::FailIfUnavailable).await?;
    /// assert!(matches!(outcome, WarmOutcome::Loaded(_)));
    ///
    /// // Rejected: the IdP answers 500 and start-up is told to fail.
    /// idp.set_response(Override::Status500);
    /// let err = cache.warm(StartupPolicy::FailIfUnavailable).await.unwrap_err();
    /// assert_eq!(err.reason(), "http_status");
    /// // Told to go on, start-up reports the failure instead.
    /// let outcome = cache.warm(StartupPolicy::ContinueIfUnavailable).await?;
    /// assert!(matches!(outcome, WarmOutcome::Unavailable(_)));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn warm(&self, startup: StartupPolicy) -> Result<WarmOutcome, JwksError> {
        match self.refresh().await {
            Ok(outcome) => Ok(WarmOutcome::Loaded(outcome)),
            Err(error) => match startup {
                StartupPolicy::FailIfUnavailable => Err(error),
                StartupPolicy::ContinueIfUnavailable => {
                    tracing::warn!(
                        issuer = %self.inner.label,
                        reason = error.reason(),
                        error = %error,
                        "starting without keys: the key set could not be fetched"
                    );
                    Ok(WarmOutcome::Unavailable(error))
                }
            },
        }
    }

    /// Fetches now, whatever the schedule (waits for a fetch in flight, then runs its own).
    /// On failure the last good set stays and the error is returned (and kept in
    /// [`KeySnapshot::last_error`]). A static cache answers `Unchanged`.
    pub async fn refresh(&self) -> Result<RefreshOutcome, JwksError> {
        if self.inner.origin.is_none() {
            return Ok(RefreshOutcome::Unchanged {
                version: self.version(),
            });
        }
        let mut fetch = self.inner.fetch.lock().await;
        self.fetch_and_install(&mut fetch).await
    }

    /// Fetches if a refresh is due at the clock's `now` ([`KeySnapshot::refresh_due`]);
    /// `Ok(None)` when not. What the background refresher runs.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use principal::{TestClock, Timestamp};
    /// use tower_auth::dev_idp::DevIdp;
    /// use tower_auth::jwks::{JwksSource, KeyCache};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let idp = DevIdp::start("127.0.0.1:0".parse()?).await?; // serves max-age=300
    /// let clock = TestClock::new(Timestamp::from_unix_seconds(1_700_000_000));
    /// let cache = KeyCache::builder(JwksSource::jwks_url(&idp.jwks_url())?)
    ///     .clock(Arc::new(clock.clone()))
    ///     .build()?;
    /// assert!(cache.refresh_if_due().await?.is_some()); // a cold cache is due
    /// assert!(cache.refresh_if_due().await?.is_none()); // fresh: nothing fetched
    /// clock.advance(300);
    /// assert!(cache.refresh_if_due().await?.is_some()); // expired: fetched again
    /// assert_eq!(idp.jwks_requests(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn refresh_if_due(&self) -> Result<Option<RefreshOutcome>, JwksError> {
        if self.inner.origin.is_none() {
            return Ok(None);
        }
        let mut fetch = self.inner.fetch.lock().await;
        // Checked under the lock: a fetch that just finished has already moved the schedule.
        if !self.snapshot().refresh_due(self.inner.clock.now()) {
            return Ok(None);
        }
        self.fetch_and_install(&mut fetch).await.map(Some)
    }

    /// Starts the background refresher on the current tokio runtime. It wakes when a
    /// refresh is due (at least once a minute, to notice clock changes), and stops when the
    /// handle is dropped or every clone of the cache is gone.
    ///
    /// Errors with [`JwksConfigError::NoRuntime`] outside a tokio runtime.
    ///
    /// ```
    /// use tower_auth::jwks::{JwksConfigError, JwksSource, KeyCache};
    ///
    /// let cache = KeyCache::builder(JwksSource::jwks_url("https://id.example.com/jwks.json")?).build()?;
    /// // Rejected: no runtime to run on.
    /// assert_eq!(cache.spawn_refresher().unwrap_err(), JwksConfigError::NoRuntime);
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let handle = runtime.block_on(async { cache.spawn_refresher() })?;
    /// assert!(!handle.is_finished());
    /// drop(handle); // stops the task
    /// # Ok::<(), JwksConfigError>(())
    /// ```
    pub fn spawn_refresher(&self) -> Result<RefresherHandle, JwksConfigError> {
        refresher::spawn(self)
    }

    /// The version of the current key set: raised by one each time the keys change, so
    /// caches built on top (verified tokens) can tell.
    pub fn version(&self) -> u64 {
        self.inner.state.load().keys.version()
    }

    /// A receiver that sees each new version as it is installed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.version_tx.subscribe()
    }

    /// The issuer (or JWKS URL, or static label) naming this cache in logs.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// The refresh policy.
    pub fn policy(&self) -> &RefreshPolicy {
        &self.inner.policy
    }

    /// The source, unless the cache is static.
    pub fn source(&self) -> Option<&JwksSource> {
        self.inner.origin.as_ref().map(|o| &o.source)
    }

    /// The clock's `now`.
    pub(crate) fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    async fn fetch_and_install(&self, fetch: &mut FetchState) -> Result<RefreshOutcome, JwksError> {
        let inner = &*self.inner;
        let started = inner.clock.now();
        let result = match self.fetch_document(fetch, started).await {
            Ok(fetched) => self.install(fetch, fetched, started),
            Err(error) => Err(error),
        };
        if let Err(error) = &result {
            // The discovered `jwks_uri` is kept: one failed fetch says nothing about the
            // metadata, which is read again on its own schedule.
            self.record_failure(error.clone(), inner.clock.now());
        }
        inner.completed_fetches.fetch_add(1, Ordering::Release);
        result
    }

    async fn fetch_document(
        &self,
        fetch: &mut FetchState,
        now: Timestamp,
    ) -> Result<FetchedJwks, JwksError> {
        let Some(origin) = &self.inner.origin else {
            return Err(JwksError::EmptyKeySet);
        };
        if let Some(url) = origin.source.jwks_url_configured() {
            return origin.fetcher.fetch_jwks(url).await;
        }
        let rediscover_after = self.inner.policy.rediscovery_interval_seconds();
        let due = fetch.discovered.as_ref().is_none_or(|d| {
            now >= d
                .at
                .add_seconds(i64::try_from(rediscover_after).unwrap_or(i64::MAX))
        });
        if due {
            let (Some(issuer), Some(metadata_url)) =
                (origin.source.issuer(), origin.source.metadata_url())
            else {
                return Err(JwksError::MissingJwksUri);
            };
            match origin.fetcher.discover(issuer, metadata_url).await {
                Ok(jwks_uri) => fetch.discovered = Some(Discovered { jwks_uri, at: now }),
                // The metadata could not be read again: the `jwks_uri` found before still
                // stands, and discovery is retried at the next fetch.
                Err(error) if fetch.discovered.is_some() => tracing::warn!(
                    issuer = %self.inner.label,
                    reason = error.reason(),
                    error = %error,
                    "metadata could not be read again; fetching the jwks_uri found before"
                ),
                Err(error) => return Err(error),
            }
        }
        let Some(discovered) = &fetch.discovered else {
            return Err(JwksError::MissingJwksUri);
        };
        origin.fetcher.fetch_jwks(&discovered.jwks_uri).await
    }

    fn install(
        &self,
        fetch: &mut FetchState,
        fetched: FetchedJwks,
        fetched_at: Timestamp,
    ) -> Result<RefreshOutcome, JwksError> {
        let inner = &*self.inner;
        let current = inner.state.load_full();
        let loaded = matches!(current.freshness, Freshness::Loaded { .. });
        let body_digest = sha256(&fetched.body);
        let (keys, changed) = if loaded && fetch.body_digest == Some(body_digest) {
            (Arc::clone(&current.keys), false)
        } else {
            let load = KeySet::from_jwks_json(&fetched.body, &inner.key_set_policy)?;
            if loaded && load.set.fingerprint() == current.keys.fingerprint() {
                (Arc::clone(&current.keys), false)
            } else {
                let version = current.keys.version() + 1;
                (Arc::new(load.set.with_version(version)), true)
            }
        };
        fetch.body_digest = Some(body_digest);
        let expires_at = inner.policy.expires_at(fetched_at, fetched.max_age);
        let version = keys.version();
        let key_count = keys.len();
        inner.state.store(Arc::new(CacheState {
            keys,
            freshness: Freshness::Loaded {
                fetched_at,
                expires_at,
                serve_until: inner.policy.serve_until(expires_at),
            },
            next_refresh_at: Some(expires_at),
            last_error: None,
        }));
        crate::metrics::jwks_refreshed(&inner.label, changed);
        if changed {
            inner.version_tx.send_replace(version);
            tracing::info!(issuer = %inner.label, version, keys = key_count, "key set installed");
            Ok(RefreshOutcome::Updated {
                version,
                keys: key_count,
            })
        } else {
            tracing::debug!(issuer = %inner.label, version, "key set unchanged");
            Ok(RefreshOutcome::Unchanged { version })
        }
    }

    fn record_failure(&self, error: JwksError, now: Timestamp) {
        let inner = &*self.inner;
        let current = inner.state.load_full();
        tracing::warn!(
            issuer = %inner.label,
            reason = error.reason(),
            error = %error,
            "key set refresh failed; the last good set keeps serving until its maximum staleness"
        );
        let last_good = match current.freshness {
            Freshness::Loaded { fetched_at, .. } => Some(fetched_at),
            Freshness::Static | Freshness::NotLoaded => None,
        };
        crate::metrics::jwks_refresh_failed(&inner.label, error.reason(), last_good, now);
        inner.state.store(Arc::new(CacheState {
            keys: Arc::clone(&current.keys),
            freshness: current.freshness,
            next_refresh_at: Some(inner.policy.retry_at(now)),
            last_error: Some(error),
        }));
    }
}

fn refetch_may_help(miss: &KeyError) -> bool {
    matches!(
        miss,
        KeyError::UnknownKeyId { .. } | KeyError::NotLoaded { .. } | KeyError::Stale { .. }
    )
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let hash = digest::digest(&digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(hash.as_ref());
    out
}

impl KeyCacheBuilder {
    /// The refresh policy (default [`RefreshPolicy::default`]).
    pub fn refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Which keys the set may hold (default [`KeySetPolicy::default`]).
    pub fn key_set_policy(mut self, policy: KeySetPolicy) -> Self {
        self.key_set_policy = policy;
        self
    }

    /// The clock deciding freshness, staleness and cooldowns (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the cache (and its HTTP client). Fetches nothing: call
    /// [`KeyCache::warm`] next.
    pub fn build(self) -> Result<KeyCache, JwksConfigError> {
        let fetcher = Fetcher::new(&self.source, &self.policy)?;
        let (version_tx, _) = watch::channel(0);
        let state = CacheState {
            keys: Arc::new(KeySet::empty()),
            freshness: Freshness::NotLoaded,
            next_refresh_at: Some(Timestamp::EPOCH),
            last_error: None,
        };
        Ok(KeyCache {
            inner: Arc::new(Inner {
                label: self.source.label().to_owned(),
                origin: Some(Origin {
                    source: self.source,
                    fetcher,
                }),
                policy: self.policy,
                key_set_policy: self.key_set_policy,
                clock: self.clock,
                state: ArcSwap::from_pointee(state),
                fetch: Mutex::new(FetchState::default()),
                on_demand: watch::Sender::new(OnDemand::default()),
                completed_fetches: AtomicU64::new(0),
                revalidating: AtomicBool::new(false),
                version_tx,
            }),
        })
    }
}

impl fmt::Debug for KeyCacheBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCacheBuilder")
            .field("source", &self.source)
            .field("policy", &self.policy)
            .field("key_set_policy", &self.key_set_policy)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("label", &self.inner.label)
            .field("snapshot", &self.snapshot())
            .finish_non_exhaustive()
    }
}

impl CacheState {
    fn lookup(&self, kid: Option<&str>, now: Timestamp) -> Result<&Arc<VerificationKey>, KeyError> {
        match self.freshness {
            Freshness::NotLoaded => {
                return Err(KeyError::NotLoaded {
                    last_error: self.last_error.clone(),
                });
            }
            Freshness::Loaded { serve_until, .. } if now > serve_until => {
                return Err(KeyError::Stale {
                    serve_until,
                    last_error: self.last_error.clone(),
                });
            }
            Freshness::Static | Freshness::Loaded { .. } => {}
        }
        match kid {
            Some(kid) => self.keys.get(kid).ok_or_else(|| KeyError::unknown_kid(kid)),
            None => self.keys.sole_key().ok_or(KeyError::MissingKeyId {
                keys: self.keys.len(),
            }),
        }
    }
}

impl KeySnapshot {
    /// The key for `kid` at `now`, synchronously and without fetching: same answers as
    /// [`KeyCache::key_for`] minus the refetch on a miss. A snapshot is a fixed view: it
    /// starts no background refresh either; [`KeyCache::key_now`] is the synchronous lookup
    /// that does.
    pub fn lookup(
        &self,
        kid: Option<&str>,
        now: Timestamp,
    ) -> Result<&Arc<VerificationKey>, KeyError> {
        self.state.lookup(kid, now)
    }

    /// The key with this `kid`, ignoring freshness. No lock, no allocation.
    pub fn get(&self, kid: &str) -> Option<&Arc<VerificationKey>> {
        self.state.keys.get(kid)
    }

    /// The key set.
    pub fn key_set(&self) -> &KeySet {
        &self.state.keys
    }

    /// The key set's version.
    pub fn version(&self) -> u64 {
        self.state.keys.version()
    }

    /// Whether a key set is loaded (always for a static cache).
    pub fn is_loaded(&self) -> bool {
        !matches!(self.state.freshness, Freshness::NotLoaded)
    }

    /// When the set was last fetched successfully.
    pub fn fetched_at(&self) -> Option<Timestamp> {
        match self.state.freshness {
            Freshness::Loaded { fetched_at, .. } => Some(fetched_at),
            _ => None,
        }
    }

    /// When the set stops being fresh.
    pub fn expires_at(&self) -> Option<Timestamp> {
        match self.state.freshness {
            Freshness::Loaded { expires_at, .. } => Some(expires_at),
            _ => None,
        }
    }

    /// The last instant the set may serve (`expires_at` plus the maximum staleness).
    pub fn serve_until(&self) -> Option<Timestamp> {
        match self.state.freshness {
            Freshness::Loaded { serve_until, .. } => Some(serve_until),
            _ => None,
        }
    }

    /// When the background refresher fetches next (`None` for a static cache).
    pub fn next_refresh_at(&self) -> Option<Timestamp> {
        self.state.next_refresh_at
    }

    /// Whether a background refresh is due at `now`.
    pub fn refresh_due(&self, now: Timestamp) -> bool {
        self.state.next_refresh_at.is_some_and(|at| now >= at)
    }

    /// Whether the set is within its fresh lifetime at `now` (always for a static cache).
    pub fn is_fresh(&self, now: Timestamp) -> bool {
        match self.state.freshness {
            Freshness::Static => true,
            Freshness::NotLoaded => false,
            Freshness::Loaded { expires_at, .. } => now < expires_at,
        }
    }

    /// Whether lookups may be answered from the set at `now`: loaded and not past the
    /// maximum staleness.
    pub fn is_servable(&self, now: Timestamp) -> bool {
        match self.state.freshness {
            Freshness::Static => true,
            Freshness::NotLoaded => false,
            Freshness::Loaded { serve_until, .. } => now <= serve_until,
        }
    }

    /// The error of the last fetch, if it failed.
    pub fn last_error(&self) -> Option<&JwksError> {
        self.state.last_error.as_ref()
    }
}

impl fmt::Debug for KeySnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySnapshot")
            .field("keys", &self.state.keys)
            .field("fetched_at", &self.fetched_at())
            .field("expires_at", &self.expires_at())
            .field("serve_until", &self.serve_until())
            .field("last_error", &self.state.last_error)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::jwks::SymmetricKey;
    use jsonwebtoken::Algorithm;

    fn state(freshness: Freshness) -> CacheState {
        let key = SymmetricKey::new(Some("a"), Algorithm::HS256, vec![1u8; 32]).unwrap();
        CacheState {
            keys: Arc::new(KeySet::from_symmetric_keys([key]).unwrap()),
            freshness,
            next_refresh_at: None,
            last_error: None,
        }
    }

    #[test]
    fn lookup_serves_until_the_maximum_staleness_then_fails_closed() {
        let t = Timestamp::from_unix_seconds;
        let snapshot = KeySnapshot {
            state: Arc::new(state(Freshness::Loaded {
                fetched_at: t(100),
                expires_at: t(200),
                serve_until: t(300),
            })),
        };
        assert!(snapshot.is_fresh(t(199)));
        assert!(!snapshot.is_fresh(t(200)));
        assert!(snapshot.lookup(Some("a"), t(250)).is_ok());
        assert!(snapshot.is_servable(t(300)));
        assert!(snapshot.lookup(Some("a"), t(300)).is_ok());
        assert!(!snapshot.is_servable(t(301)));
        assert_eq!(
            snapshot.lookup(Some("a"), t(301)).unwrap_err(),
            KeyError::Stale {
                serve_until: t(300),
                last_error: None
            }
        );
    }

    #[test]
    fn not_loaded_rejects_everything() {
        let snapshot = KeySnapshot {
            state: Arc::new(state(Freshness::NotLoaded)),
        };
        assert!(matches!(
            snapshot.lookup(Some("a"), Timestamp::EPOCH),
            Err(KeyError::NotLoaded { last_error: None })
        ));
        assert!(!snapshot.is_servable(Timestamp::EPOCH));
    }

    #[test]
    fn refresh_due_follows_the_schedule() {
        let t = Timestamp::from_unix_seconds;
        let mut s = state(Freshness::NotLoaded);
        s.next_refresh_at = Some(t(50));
        let snapshot = KeySnapshot { state: Arc::new(s) };
        assert!(!snapshot.refresh_due(t(49)));
        assert!(snapshot.refresh_due(t(50)));
        let static_snapshot = KeySnapshot {
            state: Arc::new(state(Freshness::Static)),
        };
        assert!(!static_snapshot.refresh_due(t(i64::MAX)));
        assert!(static_snapshot.is_servable(t(i64::MAX)));
    }
}
