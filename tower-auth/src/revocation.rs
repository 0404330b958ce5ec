//! Revocation: a check every verification consults, and an in-memory denylist.
//!
//! A [`RevocationCheck`] runs after a token's signature and claims verified and before
//! the Principal is handed out. Its [`version`](RevocationCheck::version) changes
//! whenever its answers may change, which is how the
//! [`TokenCache`](crate::token_cache::TokenCache) knows to drop what it cached: a cached
//! Principal was checked against the list of the version recorded with it, so while the
//! version is unchanged the answer would be the same and a hit need not check again.
//!
//! [`Denylist`] is the first implementation: sets of token ids (`jti`), session ids
//! (`sid`), subjects (`iss` + `sub`) and Principal ids (the subject's or any actor's),
//! replaced as a whole (so a revocation feed never leaves a half-applied list visible)
//! and read without locks.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use principal::{Issuer, Principal, PrincipalId};

pub use crate::error::{Revoked, RevokedField};

/// Decides whether a verified Principal has been revoked.
///
/// Implementations must be cheap (they run on every verification that misses the token
/// cache) and must not wait: no I/O. Feed them from a background task.
///
/// `version` must change, and only grow, whenever the outcome of `check` may change for
/// some Principal. A cache that recorded version `v` with a Principal may reuse the
/// verdict while the version is still `v`.
pub trait RevocationCheck: Send + Sync + 'static {
    /// `Ok(())` if the Principal is not revoked; otherwise which field matched.
    fn check(&self, principal: &Principal) -> Result<(), Revoked>;

    /// The version of the data `check` answers from.
    fn version(&self) -> u64;

    /// The version and the verdict, taken together: the verdict is guaranteed to be at
    /// least as recent as the version, which is what a cache must record. The default
    /// reads the version first, then checks; implementations with a snapshot (like
    /// [`Denylist`]) answer both from the same snapshot.
    fn check_versioned(&self, principal: &Principal) -> (u64, Result<(), Revoked>) {
        let version = self.version();
        (version, self.check(principal))
    }
}

impl<R: RevocationCheck + ?Sized> RevocationCheck for Arc<R> {
    fn check(&self, principal: &Principal) -> Result<(), Revoked> {
        (**self).check(principal)
    }

    fn version(&self) -> u64 {
        (**self).version()
    }

    fn check_versioned(&self, principal: &Principal) -> (u64, Result<(), Revoked>) {
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
    token_ids: HashSet<String>,
    session_ids: HashSet<String>,
    /// issuer -> subjects of that issuer
    subjects: HashMap<Issuer, HashSet<String>>,
    principal_ids: HashSet<PrincipalId>,
}

impl DenylistEntries {
    /// An empty list: nothing is revoked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also revoke every token with this `jti`.
    pub fn deny_token_id(mut self, jti: impl Into<String>) -> Self {
        self.token_ids.insert(jti.into());
        self
    }

    /// Also revoke every token of this session (`sid`).
    pub fn deny_session_id(mut self, sid: impl Into<String>) -> Self {
        self.session_ids.insert(sid.into());
        self
    }

    /// Also revoke every token whose `sub` is `subject` at `issuer`.
    pub fn deny_subject(mut self, issuer: &Issuer, subject: impl Into<String>) -> Self {
        self.subjects
            .entry(issuer.clone())
            .or_default()
            .insert(subject.into());
        self
    }

    /// Also revoke every token in which this party (`hm-…`, `am-…`, `svc-…`) appears,
    /// as the subject or as an actor, whatever the issuer.
    pub fn deny_principal_id(mut self, id: PrincipalId) -> Self {
        self.principal_ids.insert(id);
        self
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.token_ids.len()
            + self.session_ids.len()
            + self.subjects.values().map(HashSet::len).sum::<usize>()
            + self.principal_ids.len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The field of `principal` that this list revokes, if any.
    fn matches(&self, principal: &Principal) -> Result<(), Revoked> {
        if !self.token_ids.is_empty()
            && principal
                .token_id()
                .is_some_and(|jti| self.token_ids.contains(jti))
        {
            return Err(Revoked::new(RevokedField::TokenId));
        }
        if !self.session_ids.is_empty()
            && principal
                .session_id()
                .is_some_and(|sid| self.session_ids.contains(sid))
        {
            return Err(Revoked::new(RevokedField::SessionId));
        }
        if !self.subjects.is_empty()
            && self
                .subjects
                .get(principal.issuer())
                .is_some_and(|subjects| subjects.contains(principal.subject()))
        {
            return Err(Revoked::new(RevokedField::Subject));
        }
        if !self.principal_ids.is_empty() {
            if self.principal_ids.contains(principal.id()) {
                return Err(Revoked::new(RevokedField::PrincipalId));
            }
            if principal
                .delegation()
                .iter()
                .any(|actor| self.principal_ids.contains(actor.id()))
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
                &self.subjects.values().map(HashSet::len).sum::<usize>(),
            )
            .field("principal_ids", &self.principal_ids.len())
            .finish()
    }
}

#[derive(Debug)]
struct Snapshot {
    version: u64,
    entries: Arc<DenylistEntries>,
}

/// An in-memory denylist of token ids, session ids, subjects and Principal ids.
///
/// Readers load the current list without locks (`ArcSwap`); [`replace`](Self::replace)
/// swaps in a whole new list and bumps the version, so a reader sees either the old list
/// or the new one, never a mix. Share it as `Arc<Denylist>` between the verifiers and
/// whatever feeds it.
///
/// ```
/// use tower_auth::revocation::{Denylist, DenylistEntries, RevocationCheck};
///
/// let denylist = Denylist::new();
/// assert_eq!(denylist.version(), 0);
/// assert!(denylist.entries().is_empty());
///
/// let version = denylist.replace(DenylistEntries::new().deny_session_id("session-42"));
/// assert_eq!(version, 1);
/// assert_eq!(denylist.version(), 1);
/// assert_eq!(denylist.entries().len(), 1);
/// ```
pub struct Denylist {
    current: ArcSwap<Snapshot>,
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
            current: ArcSwap::from_pointee(Snapshot {
                version: 0,
                entries: Arc::new(entries),
            }),
        }
    }

    /// Replace the whole list; returns the new version (one more than the last).
    pub fn replace(&self, entries: DenylistEntries) -> u64 {
        let entries = Arc::new(entries);
        let previous = self.current.rcu(|current| Snapshot {
            version: current.version.saturating_add(1),
            entries: Arc::clone(&entries),
        });
        previous.version.saturating_add(1)
    }

    /// The current list.
    pub fn entries(&self) -> Arc<DenylistEntries> {
        Arc::clone(&self.current.load().entries)
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
    /// let revoked = denylist.check(&principal).unwrap_err();
    /// assert_eq!(revoked.field(), RevokedField::SessionId);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn check(&self, principal: &Principal) -> Result<(), Revoked> {
        self.current.load().entries.matches(principal)
    }

    fn version(&self) -> u64 {
        self.current.load().version
    }

    fn check_versioned(&self, principal: &Principal) -> (u64, Result<(), Revoked>) {
        let snapshot = self.current.load();
        (snapshot.version, snapshot.entries.matches(principal))
    }
}

impl fmt::Debug for Denylist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snapshot = self.current.load();
        f.debug_struct("Denylist")
            .field("version", &snapshot.version)
            .field("entries", &snapshot.entries)
            .finish()
    }
}
