//! The in-memory store: for tests, development, and a single instance that may lose its
//! keys on restart.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use aws_lc_rs::rand::SystemRandom;
use principal::{HumanId, Timestamp};

use super::key::{PresentedKey, generate};
use super::record::StoredKey;
use super::store::{CREATE_ATTEMPTS, StoreFuture};
use super::{
    AgentGrant, AgentKeyError, AgentKeyId, AgentKeyInfo, AgentKeyStore, IssuedAgentKey, NewAgentKey,
};

/// Agent keys in a map in memory: nothing survives the process. Every method answers at
/// once (no I/O); [`authenticate_sync`](Self::authenticate_sync) is the look-up without a
/// future.
///
/// ```
/// use principal::{ScopeSet, Timestamp};
/// use tower_auth::agent_keys::{AgentKeyError, MemoryAgentKeyStore, NewAgentKey};
///
/// let store = MemoryAgentKeyStore::new();
/// let now = Timestamp::from_unix_seconds(1_700_000_000);
/// let issued = store.create_sync(
///     NewAgentKey::new(
///         "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?,
///         "hm-6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d".parse()?,
///         ScopeSet::parse("orders:read")?,
///         now.add_seconds(3_600),
///     ),
///     now,
/// )?;
/// let key = issued.key.expose_secret();
/// assert_eq!(store.authenticate_sync(key, now)?.scopes.to_space_separated(), "orders:read");
///
/// // One character of the secret changed: refused.
/// let mut wrong = key.to_owned();
/// let last = if wrong.ends_with('0') { "1" } else { "0" };
/// wrong.replace_range(wrong.len() - 1.., last);
/// assert!(matches!(store.authenticate_sync(&wrong, now), Err(AgentKeyError::WrongSecret { .. })));
/// // An hour later: expired.
/// assert!(matches!(
///     store.authenticate_sync(key, now.add_seconds(3_600)),
///     Err(AgentKeyError::Expired { .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryAgentKeyStore {
    keys: RwLock<HashMap<AgentKeyId, StoredKey>>,
    rng: SystemRandom,
}

impl MemoryAgentKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryAgentKeyStore {
            keys: RwLock::new(HashMap::new()),
            rng: SystemRandom::new(),
        }
    }

    /// [`AgentKeyStore::create`] without a future.
    pub fn create_sync(
        &self,
        request: NewAgentKey,
        now: Timestamp,
    ) -> Result<IssuedAgentKey, AgentKeyError> {
        for _ in 0..CREATE_ATTEMPTS {
            let (key, presented) = generate(&self.rng)?;
            let stored = StoredKey::new(&request, &presented, now)?;
            let info = stored.info.clone();
            if let Entry::Vacant(slot) = self.write()?.entry(presented.id) {
                slot.insert(stored);
                return Ok(IssuedAgentKey { key, info });
            }
        }
        Err(AgentKeyError::storage(
            "every key id drawn was already taken: the random source is broken",
        ))
    }

    /// [`AgentKeyStore::authenticate`] without a future: one hash of the presented key,
    /// one map look-up under a read lock.
    pub fn authenticate_sync(
        &self,
        presented: &str,
        now: Timestamp,
    ) -> Result<AgentGrant, AgentKeyError> {
        let presented = PresentedKey::parse(presented)?;
        match self.read()?.get(&presented.id) {
            Some(stored) => stored.admit(&presented, now),
            None => Err(AgentKeyError::UnknownKey { id: presented.id }),
        }
    }

    /// [`AgentKeyStore::revoke`] without a future.
    pub fn revoke_sync(&self, id: &AgentKeyId, now: Timestamp) -> Result<(), AgentKeyError> {
        match self.write()?.get_mut(id) {
            Some(stored) => {
                stored.info.revoked_at.get_or_insert(now);
                Ok(())
            }
            None => Err(AgentKeyError::UnknownKey { id: *id }),
        }
    }

    /// [`AgentKeyStore::list_for_human`] without a future.
    pub fn list_for_human_sync(&self, human: &HumanId) -> Result<Vec<AgentKeyInfo>, AgentKeyError> {
        let mut keys: Vec<AgentKeyInfo> = self
            .read()?
            .values()
            .filter(|stored| stored.info.human == *human)
            .map(|stored| stored.info.clone())
            .collect();
        keys.sort_by_key(|info| (info.created_at, info.id));
        Ok(keys)
    }

    // A poisoned lock means a writer panicked half-way: refuse rather than trust the map.
    fn read(&self) -> Result<RwLockReadGuard<'_, HashMap<AgentKeyId, StoredKey>>, AgentKeyError> {
        self.keys
            .read()
            .map_err(|_| AgentKeyError::storage("the key map's lock is poisoned"))
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, HashMap<AgentKeyId, StoredKey>>, AgentKeyError> {
        self.keys
            .write()
            .map_err(|_| AgentKeyError::storage("the key map's lock is poisoned"))
    }
}

impl Default for MemoryAgentKeyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryAgentKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.keys.read().map(|keys| keys.len()).ok();
        f.debug_struct("MemoryAgentKeyStore")
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

impl AgentKeyStore for MemoryAgentKeyStore {
    fn create(&self, request: NewAgentKey, now: Timestamp) -> StoreFuture<'_, IssuedAgentKey> {
        Box::pin(std::future::ready(self.create_sync(request, now)))
    }

    fn authenticate<'a>(
        &'a self,
        presented: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, AgentGrant> {
        Box::pin(std::future::ready(self.authenticate_sync(presented, now)))
    }

    fn revoke<'a>(&'a self, id: &'a AgentKeyId, now: Timestamp) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(self.revoke_sync(id, now)))
    }

    fn list_for_human<'a>(&'a self, human: &'a HumanId) -> StoreFuture<'a, Vec<AgentKeyInfo>> {
        Box::pin(std::future::ready(self.list_for_human_sync(human)))
    }
}
