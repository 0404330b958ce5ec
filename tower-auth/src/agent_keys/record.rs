//! What a key is bound to: the request to create one, its metadata, and the grant an
//! accepted key yields.

use principal::{AgentId, HumanId, ScopeSet, Timestamp};

use super::key::{AgentKeySecret, PresentedKey, SecretHash};
use super::{AgentKeyError, AgentKeyId};

/// What a new agent key is bound to.
///
/// ```
/// use principal::{AgentId, HumanId, ScopeSet, Timestamp};
/// use tower_auth::agent_keys::NewAgentKey;
///
/// let request = NewAgentKey::new(
///     "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse::<AgentId>()?,
///     "hm-6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d".parse::<HumanId>()?,
///     ScopeSet::parse("orders:read")?,
///     Timestamp::from_unix_seconds(1_800_000_000),
/// );
/// assert_eq!(request.scopes.to_space_separated(), "orders:read");
/// # Ok::<(), principal::IdError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewAgentKey {
    /// The agent that will present the key.
    pub agent: AgentId,
    /// The human the agent acts for.
    pub human: HumanId,
    /// The most the key can ever yield; a token exchanged for it gets at most the
    /// intersection of this grant and the human's own scopes at the time of the exchange.
    pub scopes: ScopeSet,
    /// When the key stops working; must be after its creation.
    pub expires_at: Timestamp,
}

impl NewAgentKey {
    /// A key for `agent` acting for `human`, granting at most `scopes`, until `expires_at`.
    pub fn new(agent: AgentId, human: HumanId, scopes: ScopeSet, expires_at: Timestamp) -> Self {
        NewAgentKey {
            agent,
            human,
            scopes,
            expires_at,
        }
    }
}

/// A stored key's metadata: everything but its secret, which no store keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentKeyInfo {
    /// The key's public id (the start of the key).
    pub id: AgentKeyId,
    /// The agent that presents the key.
    pub agent: AgentId,
    /// The human the agent acts for.
    pub human: HumanId,
    /// The scope grant.
    pub scopes: ScopeSet,
    /// When the key was created.
    pub created_at: Timestamp,
    /// When the key stops working.
    pub expires_at: Timestamp,
    /// When the key was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

impl AgentKeyInfo {
    /// Whether the key was revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// A newly created key: the secret, shown once, and its metadata.
#[derive(Debug)]
#[non_exhaustive]
pub struct IssuedAgentKey {
    /// The whole key. Give it to the agent's operator now: no store can show it again.
    pub key: AgentKeySecret,
    /// The key's metadata, as stored.
    pub info: AgentKeyInfo,
}

/// What an accepted agent key stands for: the agent, the human it acts for, the scope
/// grant and the key's expiry. A token exchange builds its token from this.
///
/// # What the token exchange must do with it
///
/// The grant is an upper bound set when the key was created; the human's rights may have
/// shrunk since. The exchange that turns a key into a token must:
///
/// 1. look the [`human`](Self::human) up in its own directory *now*, and refuse
///    (`invalid_grant`) if the human no longer exists or is disabled: a key never
///    outlives its human;
/// 2. give the token the scopes of [`effective_scopes`](Self::effective_scopes): the
///    intersection of the grant and the human's current scopes (and narrow further to
///    the scopes the request asked for), never the grant alone (DESIGN §2: delegation
///    never amplifies privilege);
/// 3. make the Principal the human with the agent acting (`kind = Human`,
///    `delegation = [agent]`, the RFC 8693 `act` claim naming the agent), with one
///    audience and a lifetime of minutes that ends no later than
///    [`expires_at`](Self::expires_at);
/// 4. authenticate the key again for every exchange (a long-running agent re-exchanges
///    per sub-request), so a revocation takes effect at the next exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentGrant {
    /// The id of the key that was presented.
    pub key_id: AgentKeyId,
    /// The agent.
    pub agent: AgentId,
    /// The human the agent acts for.
    pub human: HumanId,
    /// The key's scope grant (an upper bound, see above).
    pub scopes: ScopeSet,
    /// When the key expires; no token made from it may live longer.
    pub expires_at: Timestamp,
}

impl AgentGrant {
    /// The scopes a token made from this grant may carry: the grant intersected with the
    /// human's own current scopes. Never more than either.
    ///
    /// ```
    /// use principal::{ScopeSet, Timestamp};
    /// use tower_auth::agent_keys::{AgentKeyStore, MemoryAgentKeyStore, NewAgentKey};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let now = Timestamp::from_unix_seconds(1_700_000_000);
    /// let store = MemoryAgentKeyStore::new();
    /// let issued = store
    ///     .create(
    ///         NewAgentKey::new(
    ///             "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?,
    ///             "hm-6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d".parse()?,
    ///             ScopeSet::parse("orders:read orders:write")?,
    ///             now.add_seconds(86_400),
    ///         ),
    ///         now,
    ///     )
    ///     .await?;
    /// let grant = store.authenticate(issued.key.expose_secret(), now).await?;
    ///
    /// // The human lost orders:write since the key was made: the agent loses it too.
    /// let human_now = ScopeSet::parse("orders:read profile")?;
    /// assert_eq!(grant.effective_scopes(&human_now).to_space_separated(), "orders:read");
    /// # Ok(())
    /// # }
    /// ```
    pub fn effective_scopes(&self, human_scopes: &ScopeSet) -> ScopeSet {
        self.scopes.intersection(human_scopes)
    }
}

/// A key as a store keeps it: its metadata and the hash of its secret.
#[derive(Clone, Debug)]
pub(crate) struct StoredKey {
    pub(crate) info: AgentKeyInfo,
    pub(crate) hash: SecretHash,
}

impl StoredKey {
    /// The record of a new key made from `request` at `now`.
    pub(crate) fn new(
        request: &NewAgentKey,
        presented: &PresentedKey,
        now: Timestamp,
    ) -> Result<Self, AgentKeyError> {
        if request.expires_at <= now {
            return Err(AgentKeyError::ExpiryNotInFuture {
                expires_at: request.expires_at,
                now,
            });
        }
        Ok(StoredKey {
            info: AgentKeyInfo {
                id: presented.id,
                agent: request.agent,
                human: request.human,
                scopes: request.scopes.clone(),
                created_at: now,
                expires_at: request.expires_at,
                revoked_at: None,
            },
            hash: presented.hash,
        })
    }

    /// The one decision every store makes once it found the record for a presented key's
    /// id. The secret is checked first: revocation and expiry are told only to a caller
    /// who holds the key, so the id alone reveals nothing about a key's state.
    pub(crate) fn admit(
        &self,
        presented: &PresentedKey,
        now: Timestamp,
    ) -> Result<AgentGrant, AgentKeyError> {
        let info = &self.info;
        if !self.hash.matches(&presented.hash) {
            return Err(AgentKeyError::WrongSecret { id: info.id });
        }
        if let Some(revoked_at) = info.revoked_at {
            return Err(AgentKeyError::Revoked {
                id: info.id,
                revoked_at,
            });
        }
        if now >= info.expires_at {
            return Err(AgentKeyError::Expired {
                id: info.id,
                expired_at: info.expires_at,
            });
        }
        Ok(AgentGrant {
            key_id: info.id,
            agent: info.agent,
            human: info.human,
            scopes: info.scopes.clone(),
            expires_at: info.expires_at,
        })
    }
}
