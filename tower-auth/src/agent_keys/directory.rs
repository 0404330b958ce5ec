//! The human directory: who a human is *now* (their current scopes, roles and tenant), or
//! that they no longer exist. An agent key is checked against it at every exchange, so a
//! key never outlives its human nor carries rights the human lost.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use principal::{HumanId, Role, ScopeSet, Tenant};

/// The future a directory's look-up returns: boxed, so that the trait stays object-safe
/// (`Arc<dyn HumanDirectory>`) and a directory backed by a database or an HTTP API can
/// wait. `Ok(None)`: no such human (deleted or disabled).
pub type DirectoryFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<HumanEntry>, HumanDirectoryError>> + Send + 'a>>;

/// Where the token exchange service learns what a human may do at the time of an exchange.
///
/// A human who was deleted or disabled is `Ok(None)`: the exchange refuses every agent
/// key bound to them (`invalid_grant`). A directory that cannot answer is an error: the
/// exchange refuses too (`temporarily_unavailable`), never falls back to the key's grant.
///
/// ```
/// use std::sync::Arc;
/// use principal::{HumanId, ScopeSet};
/// use tower_auth::agent_keys::{HumanDirectory, HumanEntry, MemoryHumanDirectory};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let alice: HumanId = "hm-6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d".parse()?;
/// let directory = Arc::new(MemoryHumanDirectory::new());
/// directory.insert(alice, HumanEntry::new(ScopeSet::parse("orders:read")?))?;
/// let humans: Arc<dyn HumanDirectory> = directory.clone();
///
/// // Found: the human's scopes now.
/// let entry = humans.lookup(&alice).await?.expect("alice exists");
/// assert_eq!(entry.scopes.to_space_separated(), "orders:read");
///
/// // Gone: removed from the directory, looked up as no one.
/// directory.remove(&alice)?;
/// assert_eq!(humans.lookup(&alice).await?, None);
/// # Ok(())
/// # }
/// ```
pub trait HumanDirectory: Send + Sync + fmt::Debug + 'static {
    /// The human's current entry, `None` if there is no such human (any more).
    fn lookup<'a>(&'a self, human: &'a HumanId) -> DirectoryFuture<'a>;
}

impl<D: HumanDirectory + ?Sized> HumanDirectory for Arc<D> {
    fn lookup<'a>(&'a self, human: &'a HumanId) -> DirectoryFuture<'a> {
        (**self).lookup(human)
    }
}

/// What the directory holds about a human now: the scopes they hold, their roles, their
/// tenant. A token made from an agent key carries at most these scopes (intersected with
/// the key's grant), and these roles and tenant.
///
/// ```
/// use principal::{Role, ScopeSet, Tenant};
/// use tower_auth::agent_keys::HumanEntry;
///
/// let entry = HumanEntry::new(ScopeSet::parse("orders:read")?)
///     .with_role(Role::new("buyer")?)
///     .with_tenant(Tenant::new("acme")?);
/// assert_eq!(entry.roles.len(), 1);
/// // Refused at parse time: a scope string with a control character.
/// assert!(ScopeSet::parse("orders:read\n").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HumanEntry {
    /// The scopes the human holds now.
    pub scopes: ScopeSet,
    /// The human's roles.
    pub roles: Vec<Role>,
    /// The human's tenant, if the deployment has tenants.
    pub tenant: Option<Tenant>,
}

impl HumanEntry {
    /// A human holding `scopes`, with no role and no tenant.
    pub fn new(scopes: ScopeSet) -> Self {
        HumanEntry {
            scopes,
            roles: Vec::new(),
            tenant: None,
        }
    }

    /// Adds a role.
    #[must_use]
    pub fn with_role(mut self, role: Role) -> Self {
        self.roles.push(role);
        self
    }

    /// Sets the tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: Tenant) -> Self {
        self.tenant = Some(tenant);
        self
    }
}

/// The directory could not answer. The exchange refuses (fail closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HumanDirectoryError {
    /// The directory is unreachable or failed.
    #[error("human directory unavailable: {detail}")]
    Unavailable {
        /// What failed (never a credential).
        detail: String,
    },
}

impl HumanDirectoryError {
    /// A stable snake_case label for logs and metrics.
    ///
    /// ```
    /// use tower_auth::agent_keys::HumanDirectoryError;
    /// let error = HumanDirectoryError::Unavailable { detail: "connection refused".into() };
    /// assert_eq!(error.reason(), "human_directory_unavailable");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            HumanDirectoryError::Unavailable { .. } => "human_directory_unavailable",
        }
    }
}

/// A human directory in memory: for tests, development, and deployments that sync their
/// humans into the process. Answers at once (no I/O).
#[derive(Default)]
pub struct MemoryHumanDirectory {
    humans: RwLock<HashMap<HumanId, HumanEntry>>,
}

impl MemoryHumanDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `human`, or replaces their entry (their scopes changed); the previous entry.
    pub fn insert(
        &self,
        human: HumanId,
        entry: HumanEntry,
    ) -> Result<Option<HumanEntry>, HumanDirectoryError> {
        Ok(self
            .humans
            .write()
            .map_err(|_| poisoned())?
            .insert(human, entry))
    }

    /// Removes `human` (deleted or disabled): every agent key bound to them stops working
    /// at the next exchange. Whether they were there.
    pub fn remove(&self, human: &HumanId) -> Result<bool, HumanDirectoryError> {
        Ok(self
            .humans
            .write()
            .map_err(|_| poisoned())?
            .remove(human)
            .is_some())
    }

    /// The human's entry now, without a future.
    pub fn lookup_sync(&self, human: &HumanId) -> Result<Option<HumanEntry>, HumanDirectoryError> {
        Ok(self
            .humans
            .read()
            .map_err(|_| poisoned())?
            .get(human)
            .cloned())
    }
}

// A poisoned lock means a writer panicked half-way: refuse rather than trust the map.
fn poisoned() -> HumanDirectoryError {
    HumanDirectoryError::Unavailable {
        detail: "the directory's lock is poisoned".into(),
    }
}

impl HumanDirectory for MemoryHumanDirectory {
    fn lookup<'a>(&'a self, human: &'a HumanId) -> DirectoryFuture<'a> {
        Box::pin(std::future::ready(self.lookup_sync(human)))
    }
}

impl fmt::Debug for MemoryHumanDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let humans = self.humans.read().map(|h| h.len()).ok();
        f.debug_struct("MemoryHumanDirectory")
            .field("humans", &humans)
            .finish()
    }
}
