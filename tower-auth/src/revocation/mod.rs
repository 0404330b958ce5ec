//! Revocation: a check every verification consults, and an in-memory denylist.
//!
//! A [`RevocationCheck`] runs after a token's signature and claims verified and before
//! the Principal is handed out. Its [`version`](RevocationCheck::version) changes
//! whenever its answers may change, which is how the
//! [`TokenCache`](crate::token_cache::TokenCache) knows when to check again: a cached
//! Principal was checked against the list of the version recorded with it, so while the
//! version is unchanged the answer would be the same and a hit need not check again;
//! once it changed, the hit checks the cached Principal against the current list (a
//! look-up by its ids, no signature work) instead of dropping it.
//!
//! [`Denylist`] is the first implementation: sets of token ids (`jti`), session ids
//! (`sid`), subjects (`iss` + `sub`) and Principal ids (the subject's or any actor's).
//! It is updated in place, one change or a batch at a time ([`Denylist::update`]; a
//! batch is applied under one lock, so no reader sees it half-applied), or replaced
//! whole. Entries for token ids and sessions may carry an expiry (the token's or the
//! session's end), after which [`Denylist::remove_expired`] lets them go.
//!
//! # Revocation that reaches every instance
//!
//! A [`RevocationMirror`] is a denylist that a *source* keeps in step with a list held
//! elsewhere, in the background, while the verifiers check it synchronously:
//!
//! | source | how | a revocation arrives |
//! | --- | --- | --- |
//! | [`FeedPoller`] | polls the STS feed `GET /revocations?since=N` with `If-None-Match`: an unchanged list is a 304 and costs nothing | within the poll interval |
//! | `redis::RedisSubscriber` (feature `revocation-redis`) | Redis pub/sub plus a snapshot key, written together by `redis::RevocationPublisher`; late starters and reconnections resync from the snapshot | within a round trip |
//!
//! The mirror knows its age (time since the last successful sync, by its
//! [`Clock`](principal::Clock)). Past its maximum age the verifiers follow the operator's
//! [`StalePolicy`]: **fail closed** (every token refused with
//! [`AuthError::RevocationListStale`](crate::AuthError::RevocationListStale): HTTP 503
//! with `Retry-After`, gRPC `UNAVAILABLE`; the token may be fine, the caller should retry,
//! not re-authenticate: a 401 would send every client back to its IdP at once) or
//! **degrade** (keep checking against the last list). Either way it is said: one audit
//! event per change of state on [`AUDIT_TARGET`](crate::authenticate::AUDIT_TARGET), and
//! [`RevocationMirror::status`] for metrics.
//!
//! Caches follow the list without being flushed: the verified-token and introspection
//! caches re-check a cached Principal when the version moved (a covered entry is refused,
//! the others stay hits), and the token exchange client drops the cached tokens a
//! revocation names (see [`TokenIds`]).

mod mirror;
mod poll;
#[cfg(feature = "revocation-redis")]
pub mod redis;

pub use mirror::{
    DEFAULT_MAX_AGE, MirrorState, RevocationMirror, RevocationMirrorBuilder, RevocationStatus,
    StalePolicy,
};
pub use poll::{
    DEFAULT_MAX_FEED_BYTES, DEFAULT_POLL_INTERVAL, DEFAULT_POLL_TIMEOUT, FeedConfigError,
    FeedError, FeedPoller, FeedPollerBuilder, FeedPollerHandle, MAX_FEED_JTI_BYTES, PollOutcome,
};

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use principal::{Issuer, Principal, PrincipalId, Timestamp};

pub use crate::error::{RevocationError, RevocationListStale, Revoked, RevokedField};
pub(crate) use poll::feed_etag;

/// How long after its expiry an entry is kept by [`Denylist::remove_expired`], in
/// seconds: the largest clock leeway a verifier accepts
/// ([`MAX_LEEWAY`](crate::jwt::MAX_LEEWAY)), since a token stays acceptable that long
/// past its `exp`.
pub const EXPIRY_GRACE_SECONDS: i64 = 300;

/// When an entry may go: `None` keeps it until it is removed.
type Until = Option<Timestamp>;

/// Decides whether a verified Principal has been revoked.
///
/// Implementations must be cheap (they run on every verification that misses the token
/// cache) and must not wait: no I/O. Feed them from a background task.
///
/// `version` must change, and only grow, whenever the outcome of `check` may change for
/// some Principal. A cache that recorded version `v` with a Principal may reuse the
/// verdict while the version is still `v`.
pub trait RevocationCheck: Send + Sync + 'static {
    /// `Ok(())` if the Principal is not revoked; otherwise which field matched, or (for a
    /// [`RevocationMirror`] that fails closed) that the list is too stale to say.
    fn check(&self, principal: &Principal) -> Result<(), RevocationError>;

    /// The version of the data `check` answers from.
    fn version(&self) -> u64;

    /// The version and the verdict, taken together: the verdict is guaranteed to be at
    /// least as recent as the version, which is what a cache must record. The default
    /// reads the version first, then checks; implementations with a snapshot (like
    /// [`Denylist`]) answer both from the same snapshot.
    fn check_versioned(&self, principal: &Principal) -> (u64, Result<(), RevocationError>) {
        let version = self.version();
        (version, self.check(principal))
    }

    /// Whether a token known only by its identifiers is revoked (see [`TokenIds`]), for
    /// caches of tokens this service did not verify: they drop what it refuses. Never
    /// refuses for staleness (those tokens are checked by whoever verifies them). The
    /// default refuses nothing: implement it for the caches to follow the list.
    fn check_token(&self, ids: &TokenIds<'_>) -> Result<(), Revoked> {
        let _ = ids;
        Ok(())
    }
}

/// What a revocation can name in a token this service holds but did not verify (the
/// token exchange client's cached tokens, and the subject tokens they were exchanged
/// for): its `jti`, `sid`, `iss` and `sub`, read from its claims. Typed Principal ids
/// are not among them (they come from a verifier's claim mapping).
///
/// ```
/// use tower_auth::revocation::{DenylistEntries, Denylist, RevocationCheck, TokenIds};
///
/// let denylist = Denylist::with_entries(DenylistEntries::new().deny_session_id("s-1"));
/// let mut ids = TokenIds::default();
/// ids.session_id = Some("s-1");
/// assert!(denylist.check_token(&ids).is_err());
/// ids.session_id = Some("s-2");
/// assert!(denylist.check_token(&ids).is_ok());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenIds<'a> {
    /// `jti`.
    pub token_id: Option<&'a str>,
    /// `sid`.
    pub session_id: Option<&'a str>,
    /// `iss`.
    pub issuer: Option<&'a str>,
    /// `sub`.
    pub subject: Option<&'a str>,
}

impl<R: RevocationCheck + ?Sized> RevocationCheck for Arc<R> {
    fn check_token(&self, ids: &TokenIds<'_>) -> Result<(), Revoked> {
        (**self).check_token(ids)
    }

    fn check(&self, principal: &Principal) -> Result<(), RevocationError> {
        (**self).check(principal)
    }

    fn version(&self) -> u64 {
        (**self).version()
    }

    fn check_versioned(&self, principal: &Principal) -> (u64, Result<(), RevocationError>) {
        (**self).check_versioned(principal)
    }
}

/// The contents of a [`Denylist`]: immutable once built, swapped in whole.
///
/// Token ids and session ids are matched regardless of issuer (a collision between
/// issuers can only revoke too much, never too little); subjects are matched together
/// with their issuer, since a `sub` is unique only within its issuer. A denied Principal
/// id revokes every token in which that party appears: as the subject, or as an actor
/// anywhere in the delegation chain (revoking an agent stops it acting for anyone).
///
/// ```
/// use principal::{Issuer, PrincipalId};
/// use tower_auth::revocation::DenylistEntries;
///
/// let issuer = Issuer::new("https://idp.example")?;
/// let agent: PrincipalId = "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?;
/// let entries = DenylistEntries::new()
///     .deny_token_id("7d1c-jti")
///     .deny_session_id("session-42")
///     .deny_subject(&issuer, "user-1")
///     .deny_principal_id(agent);
/// assert_eq!(entries.len(), 4);
/// assert!(!entries.is_empty());
/// assert!(DenylistEntries::new().is_empty());
/// # Ok::<(), principal::IdError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DenylistEntries {
    /// jti -> until when the entry is needed
    token_ids: HashMap<String, Until>,
    /// sid -> until when the entry is needed
    session_ids: HashMap<String, Until>,
    /// issuer -> subjects of that issuer
    subjects: HashMap<Issuer, HashMap<String, Until>>,
    principal_ids: HashMap<PrincipalId, Until>,
}

impl DenylistEntries {
    /// An empty list: nothing is revoked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also revoke every token with this `jti`.
    pub fn deny_token_id(mut self, jti: impl Into<String>) -> Self {
        self.add_token_id(jti, None);
        self
    }

    /// Also revoke every token with this `jti`; the entry may go once `expires_at` (the
    /// token's `exp`) has passed by [`EXPIRY_GRACE_SECONDS`].
    pub fn deny_token_id_until(mut self, jti: impl Into<String>, expires_at: Timestamp) -> Self {
        self.add_token_id(jti, Some(expires_at));
        self
    }

    /// Also revoke every token of this session (`sid`).
    pub fn deny_session_id(mut self, sid: impl Into<String>) -> Self {
        self.add_session_id(sid, None);
        self
    }

    /// Also revoke every token whose `sub` is `subject` at `issuer`.
    pub fn deny_subject(mut self, issuer: &Issuer, subject: impl Into<String>) -> Self {
        self.add_subject(issuer, subject);
        self
    }

    /// Also revoke every token in which this party (`hm-…`, `am-…`, `svc-…`) appears,
    /// as the subject or as an actor, whatever the issuer.
    pub fn deny_principal_id(mut self, id: PrincipalId) -> Self {
        self.add_principal_id(id);
        self
    }

    /// Revoke every token with this `jti`; with `until`, the entry may go once that
    /// instant (the token's `exp`) has passed by [`EXPIRY_GRACE_SECONDS`].
    pub fn add_token_id(&mut self, jti: impl Into<String>, until: Option<Timestamp>) {
        self.token_ids.insert(jti.into(), until);
    }

    /// Stop revoking tokens by this `jti`; whether it was listed.
    pub fn remove_token_id(&mut self, jti: &str) -> bool {
        self.token_ids.remove(jti).is_some()
    }

    /// Revoke every token of this session (`sid`); with `until`, as for token ids.
    pub fn add_session_id(&mut self, sid: impl Into<String>, until: Option<Timestamp>) {
        self.session_ids.insert(sid.into(), until);
    }

    /// Stop revoking this session; whether it was listed.
    pub fn remove_session_id(&mut self, sid: &str) -> bool {
        self.session_ids.remove(sid).is_some()
    }

    /// Revoke every token whose `sub` is `subject` at `issuer`.
    pub fn add_subject(&mut self, issuer: &Issuer, subject: impl Into<String>) {
        self.subjects
            .entry(issuer.clone())
            .or_default()
            .insert(subject.into(), None);
    }

    /// Stop revoking `subject` at `issuer`; whether it was listed.
    pub fn remove_subject(&mut self, issuer: &Issuer, subject: &str) -> bool {
        let Some(subjects) = self.subjects.get_mut(issuer) else {
            return false;
        };
        let removed = subjects.remove(subject).is_some();
        if subjects.is_empty() {
            self.subjects.remove(issuer);
        }
        removed
    }

    /// Revoke every token in which this party appears.
    pub fn add_principal_id(&mut self, id: PrincipalId) {
        self.principal_ids.insert(id, None);
    }

    /// Stop revoking this party; whether it was listed.
    pub fn remove_principal_id(&mut self, id: &PrincipalId) -> bool {
        self.principal_ids.remove(id).is_some()
    }

    /// Drops every entry whose expiry passed more than [`EXPIRY_GRACE_SECONDS`] before
    /// `now` (the tokens it revoked are refused as expired anyway); returns how many.
    pub fn remove_expired(&mut self, now: Timestamp) -> usize {
        let keep = |until: &Until| {
            until.is_none_or(|until| until.add_seconds(EXPIRY_GRACE_SECONDS) >= now)
        };
        let before = self.len();
        self.token_ids.retain(|_, until| keep(until));
        self.session_ids.retain(|_, until| keep(until));
        for subjects in self.subjects.values_mut() {
            subjects.retain(|_, until| keep(until));
        }
        self.subjects.retain(|_, subjects| !subjects.is_empty());
        self.principal_ids.retain(|_, until| keep(until));
        before - self.len()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.token_ids.len()
            + self.session_ids.len()
            + self.subjects.values().map(HashMap::len).sum::<usize>()
            + self.principal_ids.len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The field of a token known by `ids` that this list revokes, if any.
    fn matches_ids(&self, ids: &TokenIds<'_>) -> Result<(), Revoked> {
        if ids
            .token_id
            .is_some_and(|jti| self.token_ids.contains_key(jti))
        {
            return Err(Revoked::new(RevokedField::TokenId));
        }
        if ids
            .session_id
            .is_some_and(|sid| self.session_ids.contains_key(sid))
        {
            return Err(Revoked::new(RevokedField::SessionId));
        }
        if let (Some(issuer), Some(subject)) = (ids.issuer, ids.subject)
            && self
                .subjects
                .iter()
                .any(|(iss, subjects)| iss.as_str() == issuer && subjects.contains_key(subject))
        {
            return Err(Revoked::new(RevokedField::Subject));
        }
        Ok(())
    }

    /// The field of `principal` that this list revokes, if any.
    fn matches(&self, principal: &Principal) -> Result<(), Revoked> {
        if !self.token_ids.is_empty()
            && principal
                .token_id()
                .is_some_and(|jti| self.token_ids.contains_key(jti))
        {
            return Err(Revoked::new(RevokedField::TokenId));
        }
        if !self.session_ids.is_empty()
            && principal
                .session_id()
                .is_some_and(|sid| self.session_ids.contains_key(sid))
        {
            return Err(Revoked::new(RevokedField::SessionId));
        }
        if !self.subjects.is_empty()
            && self
                .subjects
                .get(principal.issuer())
                .is_some_and(|subjects| subjects.contains_key(principal.subject()))
        {
            return Err(Revoked::new(RevokedField::Subject));
        }
        if !self.principal_ids.is_empty() {
            if self.principal_ids.contains_key(principal.id()) {
                return Err(Revoked::new(RevokedField::PrincipalId));
            }
            if principal
                .delegation()
                .iter()
                .any(|actor| self.principal_ids.contains_key(actor.id()))
            {
                return Err(Revoked::new(RevokedField::Actor));
            }
        }
        Ok(())
    }
}

// Revocation data is not secret, but lists can be long: show sizes only.
impl fmt::Debug for DenylistEntries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DenylistEntries")
            .field("token_ids", &self.token_ids.len())
            .field("session_ids", &self.session_ids.len())
            .field(
                "subjects",
                &self.subjects.values().map(HashMap::len).sum::<usize>(),
            )
            .field("principal_ids", &self.principal_ids.len())
            .finish()
    }
}

#[derive(Debug)]
struct Snapshot {
    version: u64,
    entries: DenylistEntries,
}

/// An in-memory denylist of token ids, session ids, subjects and Principal ids.
///
/// Updated in place: [`update`](Self::update) applies one change or a batch under the
/// write lock and bumps the version once, so a reader sees the list before the batch or
/// after it, never half of it, and a change costs what it changes, not a copy of the
/// whole list. Checks take the read lock briefly (they run on token-cache misses and on
/// the first hit of each cached token after a change). Share it as `Arc<Denylist>`
/// between the verifiers and whatever feeds it.
///
/// ```
/// use principal::Timestamp;
/// use tower_auth::revocation::{Denylist, DenylistEntries, RevocationCheck};
///
/// let denylist = Denylist::new();
/// assert_eq!(denylist.version(), 0);
/// assert!(denylist.is_empty());
///
/// let version = denylist.replace(DenylistEntries::new().deny_session_id("session-42"));
/// assert_eq!(version, 1);
///
/// // Incremental: add a revoked token (kept until its exp has passed) and lift a session.
/// let exp = Timestamp::from_unix_seconds(1_700_000_300);
/// let version = denylist.update(|entries| {
///     entries.add_token_id("jti-7", Some(exp));
///     assert!(entries.remove_session_id("session-42"));
/// });
/// assert_eq!((version, denylist.len()), (2, 1));
///
/// // Too early: within the grace after exp (a verifier's largest leeway), it stays.
/// assert_eq!(denylist.remove_expired(exp.add_seconds(300)), 0);
/// assert_eq!(denylist.remove_expired(exp.add_seconds(301)), 1);
/// assert!(denylist.is_empty());
/// ```
pub struct Denylist {
    current: RwLock<Snapshot>,
    /// The snapshot's version, readable without the lock (the token cache reads it on
    /// every hit). Stored under the write lock after each change, so it may lag the
    /// list for an instant, never lead it: a verdict filed under it is at least as
    /// recent as it says.
    version: AtomicU64,
}

impl Default for Denylist {
    fn default() -> Self {
        Self::new()
    }
}

impl Denylist {
    /// An empty denylist at version 0.
    pub fn new() -> Self {
        Self::with_entries(DenylistEntries::new())
    }

    /// A denylist holding `entries`, at version 0.
    pub fn with_entries(entries: DenylistEntries) -> Self {
        Denylist {
            current: RwLock::new(Snapshot {
                version: 0,
                entries,
            }),
            version: AtomicU64::new(0),
        }
    }

    /// Replace the whole list; returns the new version (one more than the last).
    pub fn replace(&self, entries: DenylistEntries) -> u64 {
        self.update(|current| *current = entries)
    }

    /// Change the list in place (`change` may add and remove any number of entries);
    /// returns the new version (one more than the last). Readers wait while `change`
    /// runs: keep it to the edits, no I/O.
    pub fn update(&self, change: impl FnOnce(&mut DenylistEntries)) -> u64 {
        let mut snapshot = self.write();
        change(&mut snapshot.entries);
        snapshot.version = snapshot.version.saturating_add(1);
        self.version.store(snapshot.version, Ordering::Release);
        snapshot.version
    }

    /// Drops entries whose expiry passed more than [`EXPIRY_GRACE_SECONDS`] before `now`
    /// (see [`DenylistEntries::remove_expired`]); returns how many. The version moves
    /// only if something was dropped.
    pub fn remove_expired(&self, now: Timestamp) -> usize {
        let mut snapshot = self.write();
        let removed = snapshot.entries.remove_expired(now);
        if removed > 0 {
            snapshot.version = snapshot.version.saturating_add(1);
            self.version.store(snapshot.version, Ordering::Release);
        }
        removed
    }

    /// A copy of the current list (costs as much as the list is long).
    pub fn entries(&self) -> DenylistEntries {
        self.read().entries.clone()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.read().entries.len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A poisoned lock only means a `change` panicked; the sets are still sets, so go on
    /// (the version was not bumped for the panicked change, but the next one bumps it).
    fn read(&self) -> RwLockReadGuard<'_, Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Snapshot> {
        self.current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl RevocationCheck for Denylist {
    /// ```
    /// use principal::{Issuer, Principal, PrincipalId, Timestamp};
    /// use tower_auth::revocation::{Denylist, DenylistEntries, RevocationCheck, RevokedField};
    ///
    /// let id: PrincipalId = "svc-billing".parse()?;
    /// let principal = Principal::builder(id, Issuer::new("https://idp.example")?, "billing")
    ///     .expires_at(Timestamp::from_unix_seconds(2_000_000_000))
    ///     .session_id("session-42")
    ///     .build()?;
    ///
    /// let denylist = Denylist::new();
    /// assert!(denylist.check(&principal).is_ok());
    ///
    /// denylist.replace(DenylistEntries::new().deny_session_id("session-42"));
    /// let refused = denylist.check(&principal).unwrap_err();
    /// assert_eq!(refused.revoked().map(|r| r.field()), Some(RevokedField::SessionId));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn check(&self, principal: &Principal) -> Result<(), RevocationError> {
        Ok(self.read().entries.matches(principal)?)
    }

    fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    fn check_token(&self, ids: &TokenIds<'_>) -> Result<(), Revoked> {
        self.read().entries.matches_ids(ids)
    }

    fn check_versioned(&self, principal: &Principal) -> (u64, Result<(), RevocationError>) {
        let snapshot = self.read();
        let verdict = snapshot.entries.matches(principal).map_err(Into::into);
        (snapshot.version, verdict)
    }
}

impl fmt::Debug for Denylist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snapshot = self.read();
        f.debug_struct("Denylist")
            .field("version", &snapshot.version)
            .field("entries", &snapshot.entries)
            .finish()
    }
}
