//! The record of issued tokens (by the SHA-256 digest of the token, never the token),
//! their revocation, and the versioned revocation list.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use principal::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::revocation::EXPIRY_GRACE_SECONDS;

/// How many unexpired issued tokens are recorded by default.
pub const DEFAULT_MAX_ISSUED_TOKENS: usize = 100_000;

/// A revoked token as the feed lists it: its `jti` and `exp` (after which, plus the
/// verifiers' largest leeway, it is dropped from the list: nobody accepts it any more).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RevokedToken {
    /// Its `jti`.
    pub jti: String,
    /// Its `exp`.
    #[serde(rename = "exp")]
    pub expires_at: Timestamp,
}

/// The revocations after a version: feed them to a verifier's denylist and ask again
/// with [`version`](Self::version).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RevocationList {
    /// This service instance's list: random, drawn when the service is built. Versions
    /// count from zero again after a restart; a poller that sees another epoch reads
    /// the whole list again instead of asking from a version of the old instance.
    pub epoch: String,
    /// The list's version now: the number of revocations made so far.
    pub version: u64,
    /// The tokens revoked after the version asked for, oldest first, still unexpired.
    pub revoked: Vec<RevokedToken>,
}

struct Issued {
    jti: String,
    client_id: String,
    expires_at: Timestamp,
    /// The minted token's claims, answered by introspection.
    claims: Map<String, Value>,
    revoked: bool,
}

#[derive(Default)]
struct State {
    by_digest: HashMap<[u8; 32], Issued>,
    revoked_jtis: HashSet<String>,
    /// (version at which revoked, token), in version order.
    revocations: Vec<(u64, RevokedToken)>,
    version: u64,
}

/// What introspection answers for a token.
pub(super) enum Lookup {
    Active(Map<String, Value>),
    Inactive,
}

/// What a revocation by token did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Revocation {
    Revoked,
    Unknown,
    OtherClient,
}

pub(super) struct IssuedTokens {
    max_entries: usize,
    epoch: String,
    state: Mutex<State>,
}

impl IssuedTokens {
    pub(super) fn new(max_entries: usize) -> Self {
        IssuedTokens {
            max_entries,
            epoch: new_epoch(),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change is a single insert or flag under the lock: never half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a token can be recorded now (expired entries are dropped to make room).
    pub(super) fn has_room(&self, now: Timestamp) -> bool {
        let mut state = self.lock();
        if state.by_digest.len() >= self.max_entries {
            state.by_digest.retain(|_, issued| now < issued.expires_at);
        }
        state.by_digest.len() < self.max_entries
    }

    /// Records an issued token; `false` when the record is full.
    pub(super) fn insert(
        &self,
        digest: [u8; 32],
        jti: &str,
        client_id: &str,
        expires_at: Timestamp,
        claims: Map<String, Value>,
        now: Timestamp,
    ) -> bool {
        let mut state = self.lock();
        if state.by_digest.len() >= self.max_entries {
            state.by_digest.retain(|_, issued| now < issued.expires_at);
            if state.by_digest.len() >= self.max_entries {
                return false;
            }
        }
        state.by_digest.insert(
            digest,
            Issued {
                jti: jti.to_owned(),
                client_id: client_id.to_owned(),
                expires_at,
                claims,
                revoked: false,
            },
        );
        true
    }

    pub(super) fn len(&self) -> usize {
        self.lock().by_digest.len()
    }

    pub(super) fn lookup(&self, digest: &[u8; 32], now: Timestamp) -> Lookup {
        match self.lock().by_digest.get(digest) {
            Some(issued) if !issued.revoked && now < issued.expires_at => {
                Lookup::Active(issued.claims.clone())
            }
            _ => Lookup::Inactive,
        }
    }

    pub(super) fn is_revoked(&self, jti: &str) -> bool {
        self.lock().revoked_jtis.contains(jti)
    }

    /// Revokes the token with this digest if `client_id` is the one it was issued to.
    pub(super) fn revoke_token(
        &self,
        digest: &[u8; 32],
        client_id: &str,
        now: Timestamp,
    ) -> Revocation {
        let mut state = self.lock();
        let Some(issued) = state.by_digest.get_mut(digest) else {
            return Revocation::Unknown;
        };
        if issued.client_id != client_id {
            return Revocation::OtherClient;
        }
        let (jti, expires_at) = (issued.jti.clone(), issued.expires_at);
        revoke(&mut state, jti, expires_at, now);
        Revocation::Revoked
    }

    /// Revokes the issued token `jti`; `false` if no unexpired token has it.
    pub(super) fn revoke_jti(&self, jti: &str, now: Timestamp) -> bool {
        let mut state = self.lock();
        let found = state
            .by_digest
            .values()
            .find(|issued| issued.jti == jti && now < issued.expires_at)
            .map(|issued| issued.expires_at);
        match found {
            Some(expires_at) => {
                revoke(&mut state, jti.to_owned(), expires_at, now);
                true
            }
            None => false,
        }
    }

    pub(super) fn revocations_since(&self, version: u64, now: Timestamp) -> RevocationList {
        let mut state = self.lock();
        prune_revocations(&mut state, now);
        RevocationList {
            epoch: self.epoch.clone(),
            version: state.version,
            revoked: state
                .revocations
                .iter()
                .filter(|(v, _)| *v > version)
                .map(|(_, token)| token.clone())
                .collect(),
        }
    }

    pub(super) fn version(&self) -> u64 {
        self.lock().version
    }

    /// The feed's entity tag: the epoch and the version.
    pub(super) fn etag(&self) -> String {
        crate::revocation::feed_etag(&self.epoch, self.version())
    }
}

fn revoke(state: &mut State, jti: String, expires_at: Timestamp, now: Timestamp) {
    for issued in state.by_digest.values_mut().filter(|i| i.jti == jti) {
        issued.revoked = true;
    }
    if state.revoked_jtis.insert(jti.clone()) {
        state.version += 1;
        let version = state.version;
        state
            .revocations
            .push((version, RevokedToken { jti, expires_at }));
    }
    prune_revocations(state, now);
}

/// Drops revocations of tokens past `exp` plus the largest verifier leeway.
fn prune_revocations(state: &mut State, now: Timestamp) {
    let State {
        revocations,
        revoked_jtis,
        ..
    } = state;
    revocations.retain(|(_, token)| {
        let keep = now < token.expires_at.add_seconds(EXPIRY_GRACE_SECONDS);
        if !keep {
            revoked_jtis.remove(&token.jti);
        }
        keep
    });
}

/// 16 hex digits from the system random number generator; the clock's nanoseconds if
/// it fails (an epoch only needs to differ from the previous instance's, it is no secret).
fn new_epoch() -> String {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        bytes = (nanos as u64).to_be_bytes();
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
