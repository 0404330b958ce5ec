//! The store trait every implementation answers to.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use principal::{HumanId, Timestamp};

use super::{AgentGrant, AgentKeyError, AgentKeyId, AgentKeyInfo, IssuedAgentKey, NewAgentKey};

/// The future a store's method returns: boxed, so that the trait stays object-safe
/// (`Arc<dyn AgentKeyStore>`) and a database implementation can wait.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, AgentKeyError>> + Send + 'a>>;

/// Where agent keys live: created here (the secret returned once), authenticated,
/// revoked, listed per human. Implementations: [`MemoryAgentKeyStore`](super::MemoryAgentKeyStore)
/// and, with the feature `agent-keys-sqlite`, `SqliteAgentKeyStore`.
///
/// Every method that depends on time takes `now` from the caller's
/// [`Clock`](principal::Clock), so one clock decides for the store and the service
/// around it, and tests move time with a `TestClock`.
///
/// A store never returns a secret after [`create`](Self::create), never keeps one (only
/// its hash), and never logs one.
///
/// ```
/// use std::sync::Arc;
/// use principal::{ScopeSet, Timestamp};
/// use tower_auth::agent_keys::{AgentKeyError, AgentKeyStore, MemoryAgentKeyStore, NewAgentKey};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store: Arc<dyn AgentKeyStore> = Arc::new(MemoryAgentKeyStore::new());
/// let now = Timestamp::from_unix_seconds(1_700_000_000);
/// let human = "hm-6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d".parse()?;
/// let issued = store
///     .create(
///         NewAgentKey::new(
///             "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?,
///             human,
///             ScopeSet::parse("orders:read")?,
///             now.add_seconds(3_600),
///         ),
///         now,
///     )
///     .await?;
///
/// // Accepted: the grant the key stands for.
/// let grant = store.authenticate(issued.key.expose_secret(), now).await?;
/// assert_eq!(grant.human, human);
///
/// // Listed for its human, without the secret.
/// assert_eq!(store.list_for_human(&human).await?, vec![issued.info.clone()]);
///
/// // Refused once revoked, and after its expiry.
/// store.revoke(&issued.info.id, now).await?;
/// let refused = store.authenticate(issued.key.expose_secret(), now).await;
/// assert!(matches!(refused, Err(AgentKeyError::Revoked { .. })));
/// # Ok(())
/// # }
/// ```
pub trait AgentKeyStore: Send + Sync + fmt::Debug + 'static {
    /// Creates a key bound to `request` at `now`, stores its hash, and returns the whole
    /// key, the only time it is ever returned. Refuses an expiry not after `now`
    /// ([`AgentKeyError::ExpiryNotInFuture`]).
    fn create(&self, request: NewAgentKey, now: Timestamp) -> StoreFuture<'_, IssuedAgentKey>;

    /// Checks a presented key at `now` and returns what it grants. Refuses, each with its
    /// own error: a string not of the key form ([`AgentKeyError::Malformed`]), an id no
    /// key has ([`AgentKeyError::UnknownKey`]), a wrong secret
    /// ([`AgentKeyError::WrongSecret`]), then, for the right secret only, a revoked
    /// ([`AgentKeyError::Revoked`]) or expired ([`AgentKeyError::Expired`]) key.
    fn authenticate<'a>(
        &'a self,
        presented: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, AgentGrant>;

    /// Revokes the key `id` at `now`: it is refused from then on. Revoking a revoked key
    /// changes nothing (the first revocation time stays); an unknown id is
    /// [`AgentKeyError::UnknownKey`].
    fn revoke<'a>(&'a self, id: &'a AgentKeyId, now: Timestamp) -> StoreFuture<'a, ()>;

    /// The metadata of every key bound to `human` (revoked and expired ones included),
    /// oldest first.
    fn list_for_human<'a>(&'a self, human: &'a HumanId) -> StoreFuture<'a, Vec<AgentKeyInfo>>;
}

impl<S: AgentKeyStore + ?Sized> AgentKeyStore for Arc<S> {
    fn create(&self, request: NewAgentKey, now: Timestamp) -> StoreFuture<'_, IssuedAgentKey> {
        (**self).create(request, now)
    }

    fn authenticate<'a>(
        &'a self,
        presented: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, AgentGrant> {
        (**self).authenticate(presented, now)
    }

    fn revoke<'a>(&'a self, id: &'a AgentKeyId, now: Timestamp) -> StoreFuture<'a, ()> {
        (**self).revoke(id, now)
    }

    fn list_for_human<'a>(&'a self, human: &'a HumanId) -> StoreFuture<'a, Vec<AgentKeyInfo>> {
        (**self).list_for_human(human)
    }
}

/// How many times `create` draws a new key id when the one drawn is taken. With 64
/// random bits a clash is all but impossible; a second one in a row means the random
/// source is broken, and creation fails rather than loop.
pub(crate) const CREATE_ATTEMPTS: usize = 3;
