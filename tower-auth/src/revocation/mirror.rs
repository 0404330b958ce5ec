//! The local mirror of a remote revocation list: a [`Denylist`] checked synchronously on
//! the hot path, fed in the background by a source, with its age known.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use principal::{Clock, Principal, SystemClock, Timestamp};

use super::{
    Denylist, DenylistEntries, RevocationCheck, RevocationError, RevocationListStale, Revoked,
    TokenIds,
};
use crate::authenticate::AUDIT_TARGET;

/// `last_sync` before the first successful sync.
const NEVER: i64 = i64::MIN;

/// The longest error text kept in the status (an error names a URL or a broker address,
/// never a token; bounded so a hostile answer cannot grow it).
const MAX_ERROR_LEN: usize = 512;

/// What verifiers do once the mirror is older than its maximum age.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StalePolicy {
    /// Refuse every token with
    /// [`AuthError::RevocationListStale`](crate::AuthError::RevocationListStale) (503):
    /// no revocation can be missed, at the price of availability. Also refuses before the
    /// first successful sync. The default.
    FailClosed,
    /// Keep checking against the last list the mirror has: availability first, at the
    /// price of missing revocations made while the source is unreachable. Said loudly:
    /// a warn-level audit event when the mirror goes stale, and the state in
    /// [`RevocationMirror::status`].
    Degrade,
}

impl StalePolicy {
    /// A stable label for logs and metrics: `fail_closed` or `degrade`.
    pub fn as_str(self) -> &'static str {
        match self {
            StalePolicy::FailClosed => "fail_closed",
            StalePolicy::Degrade => "degrade",
        }
    }
}

/// The freshness of a [`RevocationMirror`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MirrorState {
    /// No successful sync yet.
    NeverSynced,
    /// Synced within the maximum age.
    Fresh,
    /// The last successful sync is older than the maximum age.
    Stale,
}

impl MirrorState {
    /// A stable label for logs and metrics: `never_synced`, `fresh` or `stale`.
    pub fn as_str(self) -> &'static str {
        match self {
            MirrorState::NeverSynced => "never_synced",
            MirrorState::Fresh => "fresh",
            MirrorState::Stale => "stale",
        }
    }
}

/// A snapshot of a mirror's health, for metrics and health checks.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevocationStatus {
    /// Fresh, stale, or never synced.
    pub state: MirrorState,
    /// What verifiers do when the mirror is not fresh.
    pub policy: StalePolicy,
    /// The local list's version (what the token caches compare).
    pub version: u64,
    /// The source's version last applied (`None` before the first sync).
    pub source_version: Option<u64>,
    /// Time since the last successful sync, by the mirror's clock (`None`: never).
    pub age: Option<Duration>,
    /// The configured maximum age.
    pub max_age: Duration,
    /// Entries in the local list.
    pub entries: usize,
    /// Whether the last sync attempt failed (the list is kept meanwhile).
    pub source_failing: bool,
    /// The last sync failure, kept until a sync succeeds.
    pub last_error: Option<String>,
}

#[derive(Debug)]
struct Bookkeeping {
    source_version: Option<u64>,
    last_error: Option<String>,
    /// The state last reported in an audit event.
    reported: MirrorState,
    /// Whether the last reported sync failed.
    reported_failing: bool,
}

/// A local mirror of a remote revocation list, fed in the background by a source (the
/// STS's feed through [`FeedPoller`](super::FeedPoller), or Redis with the
/// `revocation-redis` feature) and checked synchronously by the verifiers: share it as
/// `Arc<RevocationMirror>` and give it to
/// [`JwtVerifierBuilder::revocation`](crate::jwt::JwtVerifierBuilder::revocation) and
/// the introspection verifier's builder.
///
/// The mirror knows its age: the time since the last successful sync, by its
/// [`Clock`]. Past [`max_age`](RevocationMirrorBuilder::max_age), verifiers fail closed or
/// keep the last list, as the [`StalePolicy`] says. Each change of state (stale, fresh
/// again) and of the source's health (failing, restored) emits one audit event on
/// [`AUDIT_TARGET`] with the fields `revocation_state`, `revocation_policy`,
/// `revocation_age_seconds`, `revocation_max_age_seconds`, `revocation_source_version`
/// and `revocation_error` (warn level, except a recovery, which is info).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use principal::{Issuer, Principal, PrincipalId, TestClock, Timestamp};
/// use tower_auth::revocation::{
///     DenylistEntries, MirrorState, RevocationCheck, RevocationMirror, StalePolicy,
/// };
///
/// let clock = TestClock::new(Timestamp::from_unix_seconds(1_700_000_000));
/// let mirror = RevocationMirror::builder()
///     .max_age(Duration::from_secs(60))
///     .stale_policy(StalePolicy::FailClosed)
///     .clock(Arc::new(clock.clone()))
///     .build();
/// let principal = Principal::builder(
///     "svc-billing".parse::<PrincipalId>()?,
///     Issuer::new("https://idp.example")?,
///     "billing",
/// )
/// .expires_at(Timestamp::from_unix_seconds(2_000_000_000))
/// .token_id("jti-1")
/// .build()?;
///
/// // Before the first sync, a fail-closed mirror vouches for nobody.
/// assert!(mirror.check(&principal).is_err());
///
/// // A source delivers the list (version 7 at the source).
/// mirror.apply_snapshot(7, DenylistEntries::new().deny_token_id("jti-other"));
/// assert!(mirror.check(&principal).is_ok());
/// assert_eq!(mirror.status().state, MirrorState::Fresh);
///
/// // The source goes quiet for longer than the maximum age: refused (503).
/// clock.advance(61);
/// assert_eq!(mirror.status().state, MirrorState::Stale);
/// let refused = mirror.check(&principal).unwrap_err();
/// assert!(refused.revoked().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RevocationMirror {
    denylist: Denylist,
    clock: Arc<dyn Clock>,
    max_age_seconds: i64,
    policy: StalePolicy,
    /// Unix seconds of the last successful sync, or [`NEVER`]: read without a lock on
    /// the hot path.
    last_sync: AtomicI64,
    /// Whether the hot path last saw the mirror not fresh (a hint: the transition itself
    /// is decided under `books`).
    stale_seen: AtomicBool,
    books: Mutex<Bookkeeping>,
    /// Bumped after every sync attempt, so waiters can look again.
    attempts: tokio::sync::watch::Sender<u64>,
    source: &'static str,
}

/// Builds a [`RevocationMirror`].
#[derive(Debug)]
pub struct RevocationMirrorBuilder {
    clock: Arc<dyn Clock>,
    max_age: Duration,
    policy: StalePolicy,
    source: &'static str,
}

impl RevocationMirrorBuilder {
    /// The largest age (time since the last successful sync) at which the mirror still
    /// counts as fresh; whole seconds, at least one. Default: [`DEFAULT_MAX_AGE`].
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// What verifiers do when the mirror is not fresh. Default: fail closed.
    pub fn stale_policy(mut self, policy: StalePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock the age is measured by (the verifiers' clock). Default: the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A name for the source in audit events (`sts_feed`, `redis`, ...).
    pub fn source_name(mut self, name: &'static str) -> Self {
        self.source = name;
        self
    }

    /// The mirror, empty and never synced.
    pub fn build(self) -> RevocationMirror {
        let max_age_seconds = i64::try_from(self.max_age.as_secs())
            .unwrap_or(i64::MAX)
            .max(1);
        RevocationMirror {
            denylist: Denylist::new(),
            clock: self.clock,
            max_age_seconds,
            policy: self.policy,
            last_sync: AtomicI64::new(NEVER),
            stale_seen: AtomicBool::new(true),
            books: Mutex::new(Bookkeeping {
                source_version: None,
                last_error: None,
                reported: MirrorState::NeverSynced,
                reported_failing: false,
            }),
            attempts: tokio::sync::watch::Sender::new(0),
            source: self.source,
        }
    }
}

/// The default [`max_age`](RevocationMirrorBuilder::max_age): five minutes.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

impl RevocationMirror {
    /// A builder: the system clock, [`DEFAULT_MAX_AGE`], fail closed.
    pub fn builder() -> RevocationMirrorBuilder {
        RevocationMirrorBuilder {
            clock: Arc::new(SystemClock),
            max_age: DEFAULT_MAX_AGE,
            policy: StalePolicy::FailClosed,
            source: "revocation_source",
        }
    }

    /// The source's whole list at `source_version`. An unchanged version is only a
    /// successful sync (no rebuild, no version bump); a new one replaces the list.
    /// Returns whether the list changed.
    pub fn apply_snapshot(&self, source_version: u64, entries: DenylistEntries) -> bool {
        let changed = {
            let mut books = self.books();
            if books.source_version == Some(source_version) {
                false
            } else {
                self.denylist.replace(entries);
                books.source_version = Some(source_version);
                true
            }
        };
        self.synced();
        changed
    }

    /// Changes from the source taking it from the applied version to `source_version`
    /// (an incremental feed). Returns whether the list changed (`false` when
    /// `source_version` is the one already applied).
    pub fn apply_changes(
        &self,
        source_version: u64,
        change: impl FnOnce(&mut DenylistEntries),
    ) -> bool {
        let changed = {
            let mut books = self.books();
            if books.source_version == Some(source_version) {
                false
            } else {
                self.denylist.update(change);
                books.source_version = Some(source_version);
                true
            }
        };
        self.synced();
        changed
    }

    /// Forgets which source version was applied, keeping the list: the source's
    /// numbering started again (a restarted service), so the next version it names is
    /// applied even when it equals the old one.
    pub(crate) fn forget_source_version(&self) {
        self.books().source_version = None;
    }

    /// The source confirmed that the applied version is still current (an HTTP 304, a
    /// snapshot of the same version): only the age is reset.
    pub fn confirm_unchanged(&self) {
        self.synced();
    }

    /// A sync attempt failed: the list is kept and the error is reported (once per
    /// change of the source's health) and shown in [`status`](Self::status).
    pub fn record_failure(&self, error: impl fmt::Display) {
        let mut text = error.to_string();
        if text.len() > MAX_ERROR_LEN {
            let mut end = MAX_ERROR_LEN;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        {
            let mut books = self.books();
            if !books.reported_failing {
                books.reported_failing = true;
                tracing::warn!(
                    target: AUDIT_TARGET,
                    revocation_source = self.source,
                    revocation_state = self.state_at(self.clock.now()).as_str(),
                    revocation_policy = self.policy.as_str(),
                    revocation_age_seconds = self.age_seconds(self.clock.now()),
                    revocation_source_version = books.source_version,
                    revocation_error = %text,
                    "revocation: source unreachable, keeping the last list"
                );
            }
            books.last_error = Some(text);
        }
        crate::metrics::revocation_sync(self.source, "failure");
        if let Some(age) = self.age_seconds(self.clock.now()) {
            crate::metrics::revocation_list(
                self.denylist.version(),
                Duration::from_secs(u64::try_from(age).unwrap_or(0)),
            );
        }
        self.observe(self.clock.now());
        self.attempts.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Drops entries whose token expired past the largest leeway (see
    /// [`Denylist::remove_expired`]), by the mirror's clock; returns how many.
    pub fn remove_expired(&self) -> usize {
        self.denylist.remove_expired(self.clock.now())
    }

    /// The mirror's health, as of its clock's now.
    pub fn status(&self) -> RevocationStatus {
        let now = self.clock.now();
        let state = self.observe(now);
        let books = self.books();
        RevocationStatus {
            state,
            policy: self.policy,
            version: self.denylist.version(),
            source_version: books.source_version,
            age: self
                .age_seconds(now)
                .map(|seconds| Duration::from_secs(seconds.max(0) as u64)),
            max_age: Duration::from_secs(self.max_age_seconds as u64),
            entries: self.denylist.len(),
            source_failing: books.reported_failing,
            last_error: books.last_error.clone(),
        }
    }

    /// The policy verifiers follow when the mirror is not fresh.
    pub fn stale_policy(&self) -> StalePolicy {
        self.policy
    }

    /// Waits until `condition` holds for the status, looking again after every sync
    /// attempt. Bound it with a timeout (`tokio::time::timeout`): it waits for as long
    /// as the condition does not hold.
    pub async fn wait_until(&self, mut condition: impl FnMut(&RevocationStatus) -> bool) {
        let mut attempts = self.attempts.subscribe();
        loop {
            attempts.mark_unchanged();
            if condition(&self.status()) {
                return;
            }
            if attempts.changed().await.is_err() {
                return;
            }
        }
    }

    fn books(&self) -> MutexGuard<'_, Bookkeeping> {
        // Every field is replaced whole under the lock.
        self.books.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn synced(&self) {
        let now = self.clock.now();
        self.last_sync
            .fetch_max(now.as_unix_seconds(), Ordering::AcqRel);
        {
            let mut books = self.books();
            if books.reported_failing {
                books.reported_failing = false;
                tracing::info!(
                    target: AUDIT_TARGET,
                    revocation_source = self.source,
                    revocation_source_version = books.source_version,
                    "revocation: source reachable again"
                );
            }
            books.last_error = None;
        }
        crate::metrics::revocation_sync(self.source, "ok");
        crate::metrics::revocation_list(self.denylist.version(), Duration::ZERO);
        self.observe(now);
        self.attempts.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn age_seconds(&self, now: Timestamp) -> Option<i64> {
        let last = self.last_sync.load(Ordering::Acquire);
        (last != NEVER).then(|| now.as_unix_seconds().saturating_sub(last))
    }

    fn state_at(&self, now: Timestamp) -> MirrorState {
        match self.age_seconds(now) {
            None => MirrorState::NeverSynced,
            Some(age) if age > self.max_age_seconds => MirrorState::Stale,
            Some(_) => MirrorState::Fresh,
        }
    }

    /// The state at `now`; a change since the last report is reported (once) and, when
    /// failing closed, moves the list's version so cached verdicts are checked again.
    fn observe(&self, now: Timestamp) -> MirrorState {
        let state = self.state_at(now);
        let fresh = state == MirrorState::Fresh;
        if self.stale_seen.load(Ordering::Acquire) != fresh {
            // Unchanged since the last look (stale_seen is "not fresh").
            return state;
        }
        let mut books = self.books();
        // Decided again under the lock: another thread may have reported it already.
        let state = self.state_at(now);
        if state == books.reported {
            self.stale_seen
                .store(state != MirrorState::Fresh, Ordering::Release);
            return state;
        }
        let previous = books.reported;
        books.reported = state;
        self.stale_seen
            .store(state != MirrorState::Fresh, Ordering::Release);
        let age = self.age_seconds(now);
        crate::metrics::revocation_stale(state != MirrorState::Fresh);
        match state {
            MirrorState::Fresh => tracing::info!(
                target: AUDIT_TARGET,
                revocation_source = self.source,
                revocation_state = state.as_str(),
                revocation_previous_state = previous.as_str(),
                revocation_policy = self.policy.as_str(),
                revocation_age_seconds = age,
                revocation_max_age_seconds = self.max_age_seconds,
                revocation_source_version = books.source_version,
                "revocation: list fresh"
            ),
            MirrorState::Stale | MirrorState::NeverSynced => {
                if self.policy == StalePolicy::FailClosed {
                    // Cached verdicts were recorded at the old version: a new one makes
                    // every hit check again, and refuse while the list is stale.
                    self.denylist.update(|_| {});
                }
                tracing::warn!(
                    target: AUDIT_TARGET,
                    revocation_source = self.source,
                    revocation_state = state.as_str(),
                    revocation_previous_state = previous.as_str(),
                    revocation_policy = self.policy.as_str(),
                    revocation_age_seconds = age,
                    revocation_max_age_seconds = self.max_age_seconds,
                    revocation_source_version = books.source_version,
                    revocation_error = books.last_error.as_deref(),
                    "revocation: list stale ({})",
                    match self.policy {
                        StalePolicy::FailClosed => "refusing every token until it syncs",
                        StalePolicy::Degrade => "degraded: still checking against the last list",
                    }
                );
            }
        }
        state
    }

    fn stale_refusal(&self, now: Timestamp) -> Option<RevocationError> {
        if self.policy != StalePolicy::FailClosed {
            return None;
        }
        match self.state_at(now) {
            MirrorState::Fresh => None,
            MirrorState::Stale | MirrorState::NeverSynced => Some(
                RevocationListStale::new(
                    self.age_seconds(now).map(|age| age.max(0) as u64),
                    self.max_age_seconds as u64,
                )
                .into(),
            ),
        }
    }
}

impl RevocationCheck for RevocationMirror {
    fn check(&self, principal: &Principal) -> Result<(), RevocationError> {
        let now = self.clock.now();
        self.observe(now);
        if let Some(stale) = self.stale_refusal(now) {
            return Err(stale);
        }
        self.denylist.check(principal)
    }

    fn version(&self) -> u64 {
        // Observing first: a mirror that just went stale moves the version before anyone
        // compares it, so no cached verdict outlives the freshness it was given under.
        self.observe(self.clock.now());
        self.denylist.version()
    }

    fn check_token(&self, ids: &TokenIds<'_>) -> Result<(), Revoked> {
        self.denylist.check_token(ids)
    }

    fn check_versioned(&self, principal: &Principal) -> (u64, Result<(), RevocationError>) {
        let now = self.clock.now();
        self.observe(now);
        let (version, verdict) = self.denylist.check_versioned(principal);
        // Staleness decided after the version was read: a verdict recorded under a
        // version from before a stale transition is checked again once it moves.
        match self.stale_refusal(self.clock.now()) {
            Some(stale) => (version, Err(stale)),
            None => (version, verdict),
        }
    }
}

impl fmt::Debug for RevocationMirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationMirror")
            .field("status", &self.status())
            .finish()
    }
}
