//! The exchange cache: tokens per key (a SHA-256 digest of the request), one flight per
//! key, refresh ahead of expiry, and the tokens a revocation covers dropped.
//!
//! With a revocation check, each entry remembers what a revocation can name of it: the
//! `jti`, `sid`, `iss` and `sub` of its subject token, its actor token and the issued
//! token, read from their claims when they are JWTs (unverified: the key holds exactly
//! the tokens the endpoint accepted, and the claims only decide what this cache drops).
//! When the list's version moved since the entry was checked, a lookup checks them again:
//! a covered entry's token is dropped (the next caller exchanges again, and the endpoint
//! answers for the revoked subject), an uncovered one stays a hit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use principal::Timestamp;

use super::{ExchangeError, ExchangeRequest, ExchangedToken};
use crate::revocation::{RevocationCheck, TokenIds};

/// A cache key: SHA-256 over everything that makes a request (never the token itself).
pub(super) type Key = [u8; 32];

/// What a flight ends with; shared by every caller that waited for it.
pub(super) type Outcome = Result<ExchangedToken, ExchangeError>;

/// One call to the endpoint for one key. Whoever polls it first makes the call; if that
/// caller goes away mid-call, the next waiter makes it.
pub(super) type Flight = tokio::sync::OnceCell<Outcome>;

/// Domain separation of the key digest (the key format's version).
const KEY_DOMAIN: &[u8] = b"baton.exchange.v1";

/// The key of `request`: each field length-prefixed, so no two requests share one.
pub(super) fn key(request: &ExchangeRequest) -> Key {
    let mut context = digest::Context::new(&digest::SHA256);
    let mut field = |bytes: &[u8]| {
        context.update(&(bytes.len() as u64).to_le_bytes());
        context.update(bytes);
    };
    field(KEY_DOMAIN);
    field(request.subject_type.as_str().as_bytes());
    field(request.subject.expose().as_bytes());
    match &request.actor {
        Some((token, token_type)) => {
            field(b"actor");
            field(token_type.as_str().as_bytes());
            field(token.expose().as_bytes());
        }
        None => field(b"no actor"),
    }
    let target = &request.target.0;
    field(target.requested.as_str().as_bytes());
    field(&(target.audiences.len() as u64).to_le_bytes());
    for audience in &target.audiences {
        field(audience.as_str().as_bytes());
    }
    field(&(target.resources.len() as u64).to_le_bytes());
    for resource in &target.resources {
        field(resource.to_string().as_bytes());
    }
    field(&(target.scopes.len() as u64).to_le_bytes());
    for scope in target.scopes.iter() {
        field(scope.as_str().as_bytes());
    }
    let mut key = [0; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

/// What a revocation can name of one token (see [`TokenIds`]).
struct CoveredIds {
    jti: Option<String>,
    sid: Option<String>,
    iss: Option<String>,
    sub: Option<String>,
}

impl CoveredIds {
    /// The ids in a JWT's claims; `None` for a token that is not a JWT (or whose claims
    /// name none of them).
    fn of(token: &str) -> Option<CoveredIds> {
        let mut parts = token.split('.');
        let (Some(_), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let claims = URL_SAFE_NO_PAD.decode(payload).ok()?;
        // Any other claim (and any type of these) is ignored: the ids are best effort.
        let ids = serde_json::from_slice::<serde_json::Value>(&claims)
            .ok()
            .map(|claims| {
                let text =
                    |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
                CoveredIds {
                    jti: text("jti"),
                    sid: text("sid"),
                    iss: text("iss"),
                    sub: text("sub"),
                }
            })?;
        (ids.jti.is_some() || ids.sid.is_some() || ids.sub.is_some()).then_some(ids)
    }

    fn ids(&self) -> TokenIds<'_> {
        TokenIds {
            token_id: self.jti.as_deref(),
            session_id: self.sid.as_deref(),
            issuer: self.iss.as_deref(),
            subject: self.sub.as_deref(),
        }
    }
}

/// The ids of the request's tokens and of the issued token.
fn covered_ids(request: &ExchangeRequest, token: &ExchangedToken) -> Vec<CoveredIds> {
    let mut covered = Vec::with_capacity(3);
    covered.extend(CoveredIds::of(request.subject.expose()));
    if let Some((actor, _)) = &request.actor {
        covered.extend(CoveredIds::of(actor.expose()));
    }
    covered.extend(CoveredIds::of(token.as_str()));
    covered
}

fn is_covered(revocation: &dyn RevocationCheck, covered: &[CoveredIds]) -> bool {
    covered
        .iter()
        .any(|ids| revocation.check_token(&ids.ids()).is_err())
}

struct Entry {
    /// The last token issued for the key (served while fresh).
    token: Option<ExchangedToken>,
    /// What a revocation can name of the token and of the request's tokens.
    covered: Vec<CoveredIds>,
    /// The revocation list's version `covered` was last checked against.
    checked_version: u64,
    /// The call under way for the key, if any.
    flight: Option<Arc<Flight>>,
    /// No refresh ahead before this (after a failed one).
    retry_refresh_at: Timestamp,
}

impl Entry {
    /// Whether someone holds the key's flight besides the entry: a caller making or
    /// awaiting the call. A flight only the entry holds was abandoned (its caller went
    /// away before calling): the next caller takes it over, and eviction may drop it.
    fn busy(&self) -> bool {
        self.flight
            .as_ref()
            .is_some_and(|flight| Arc::strong_count(flight) > 1)
    }
}

/// What a lookup found.
pub(super) enum Lookup {
    /// A fresh token.
    Fresh(ExchangedToken),
    /// A fresh token near its renewal point: this caller starts the background refresh.
    FreshRefresh(ExchangedToken, Arc<Flight>),
    /// No fresh token: wait for (or make) the key's call.
    Wait(Arc<Flight>),
}

pub(super) struct Cache {
    revocation: Option<Arc<dyn RevocationCheck>>,
    renew_before: i64,
    refresh_ahead: i64,
    refresh_retry: i64,
    max_entries: usize,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Cache {
    pub(super) fn new(
        renew_before: i64,
        refresh_ahead: i64,
        refresh_retry: i64,
        max_entries: usize,
        revocation: Option<Arc<dyn RevocationCheck>>,
    ) -> Self {
        Cache {
            revocation,
            renew_before,
            refresh_ahead,
            refresh_retry,
            max_entries,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        // Fields are replaced whole under the lock; a panic elsewhere never leaves one
        // half-written.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The moment `token` stops being served; `None` for a token without an expiry.
    fn renew_at(&self, token: &ExchangedToken) -> Option<Timestamp> {
        Some(token.expires_at()?.add_seconds(-self.renew_before))
    }

    /// Whether `token` may be served at `now` (and so cached).
    pub(super) fn is_fresh(&self, token: &ExchangedToken, now: Timestamp) -> bool {
        self.renew_at(token).is_some_and(|at| now < at)
    }

    pub(super) fn lookup(&self, key: &Key, now: Timestamp) -> Lookup {
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(key) {
            if entry.token.is_some()
                && let Some(revocation) = &self.revocation
            {
                let version = revocation.version();
                if version != entry.checked_version {
                    if is_covered(revocation.as_ref(), &entry.covered) {
                        // Revoked since: never served again; the next call exchanges.
                        entry.token = None;
                        entry.covered.clear();
                    } else {
                        entry.checked_version = version;
                    }
                }
            }
            if let Some(token) = &entry.token
                && let Some(renew_at) = self.renew_at(token)
                && now < renew_at
            {
                if !entry.busy()
                    && now >= entry.retry_refresh_at
                    && now >= renew_at.add_seconds(-self.refresh_ahead)
                {
                    let flight = Arc::new(Flight::new());
                    entry.flight = Some(Arc::clone(&flight));
                    return Lookup::FreshRefresh(token.clone(), flight);
                }
                return Lookup::Fresh(token.clone());
            }
            let flight = entry.flight.get_or_insert_with(|| Arc::new(Flight::new()));
            return Lookup::Wait(Arc::clone(flight));
        }
        if entries.len() >= self.max_entries {
            self.evict(&mut entries, now);
        }
        let flight = Arc::new(Flight::new());
        entries.insert(
            *key,
            Entry {
                token: None,
                covered: Vec::new(),
                checked_version: 0,
                flight: Some(Arc::clone(&flight)),
                retry_refresh_at: Timestamp::EPOCH,
            },
        );
        Lookup::Wait(flight)
    }

    /// Records what `flight` ended with: a fresh token is kept; an RFC 6749 refusal drops
    /// the key's token (the endpoint said no to this subject now); another failure
    /// delays the next refresh ahead. An entry left with nothing to serve is removed.
    pub(super) fn settle(
        &self,
        key: &Key,
        request: &ExchangeRequest,
        flight: &Arc<Flight>,
        outcome: &Outcome,
        now: Timestamp,
    ) {
        // Checked before the lock: the version first, so a revocation that lands after
        // the check moves it and the next lookup checks again.
        let checked = match (&self.revocation, outcome) {
            (Some(revocation), Ok(token)) => {
                let version = revocation.version();
                let covered = covered_ids(request, token);
                (!is_covered(revocation.as_ref(), &covered)).then_some((covered, version))
            }
            _ => Some((Vec::new(), 0)),
        };
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(key) else {
            return;
        };
        if entry
            .flight
            .as_ref()
            .is_some_and(|f| Arc::ptr_eq(f, flight))
        {
            entry.flight = None;
        }
        match outcome {
            Ok(token) if self.is_fresh(token, now) => match checked {
                Some((covered, version)) => {
                    entry.token = Some(token.clone());
                    entry.covered = covered;
                    entry.checked_version = version;
                }
                // Already revoked: returned to its callers, never cached.
                None => {
                    entry.token = None;
                    entry.covered.clear();
                }
            },
            // Returned to its callers, not cached; an older token still serves to its end.
            Ok(_) => {}
            Err(ExchangeError::Rejected { .. }) => entry.token = None,
            Err(_) => entry.retry_refresh_at = now.add_seconds(self.refresh_retry),
        }
        let serves = entry
            .token
            .as_ref()
            .is_some_and(|token| self.is_fresh(token, now));
        if entry.flight.is_none() && !serves {
            entries.remove(key);
        }
    }

    /// A background refresh that could not start: its flight is dropped unflown.
    pub(super) fn abandon(&self, key: &Key, flight: &Arc<Flight>) {
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(key)
            && entry
                .flight
                .as_ref()
                .is_some_and(|f| Arc::ptr_eq(f, flight))
        {
            entry.flight = None;
        }
    }

    /// Makes room for one entry: drops every idle entry (no call under way) that has
    /// nothing fresh to serve; if none, the idle entry whose token is renewed soonest.
    /// Entries with a call under way stay (their number is bounded by concurrency).
    fn evict(&self, entries: &mut HashMap<Key, Entry>, now: Timestamp) {
        let before = entries.len();
        entries.retain(|_, entry| {
            entry.busy() || entry.token.as_ref().is_some_and(|t| self.is_fresh(t, now))
        });
        if entries.len() < before {
            return;
        }
        let soonest = entries
            .iter()
            .filter(|(_, entry)| !entry.busy())
            .min_by_key(|(_, entry)| entry.token.as_ref().and_then(|t| self.renew_at(t)))
            .map(|(key, _)| *key);
        if let Some(key) = soonest {
            entries.remove(&key);
        }
    }

    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }
}
