//! Why an agent key was refused, or a store could not answer.

use std::fmt;

use principal::Timestamp;

use super::AgentKeyId;

/// What is wrong with the form of a presented agent key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MalformedKey {
    /// Not exactly the length of an agent key (the empty string included).
    Length,
    /// Does not start with `baton_ak_`.
    Prefix,
    /// The id is not 16 lowercase hex digits.
    Id,
    /// No `_` between the id and the secret.
    Separator,
    /// The secret is not 64 lowercase hex digits.
    Secret,
}

impl fmt::Display for MalformedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MalformedKey::Length => "wrong length",
            MalformedKey::Prefix => "does not start with baton_ak_",
            MalformedKey::Id => "the id is not 16 lowercase hex digits",
            MalformedKey::Separator => "no '_' between the id and the secret",
            MalformedKey::Secret => "the secret is not 64 lowercase hex digits",
        })
    }
}

/// An agent key was refused, a key could not be created or revoked, or the store failed.
///
/// No variant carries the presented string or any part of a secret: only the key's
/// public id, once the form was valid. [`reason`](Self::reason) is a stable label for the
/// audit event and metrics; [`is_rejection`](Self::is_rejection) tells a refused key (the
/// caller's fault) from a store that could not answer (fail closed, answer 5xx).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AgentKeyError {
    /// The presented string is not of the agent key form (or the text is not a key id).
    #[error("not an agent key: {problem}")]
    Malformed {
        /// What is wrong with it.
        problem: MalformedKey,
    },
    /// No key has this id.
    #[error("no agent key with id {id}")]
    UnknownKey {
        /// The id looked up.
        id: AgentKeyId,
    },
    /// A key with this id exists, but the secret is not its secret.
    #[error("wrong secret for agent key {id}")]
    WrongSecret {
        /// The key's id.
        id: AgentKeyId,
    },
    /// The key was revoked. Only reported to a caller that presented the right secret.
    #[error("agent key {id} was revoked at {revoked_at}")]
    Revoked {
        /// The key's id.
        id: AgentKeyId,
        /// When it was revoked.
        revoked_at: Timestamp,
    },
    /// The key expired. Only reported to a caller that presented the right secret.
    #[error("agent key {id} expired at {expired_at}")]
    Expired {
        /// The key's id.
        id: AgentKeyId,
        /// Its expiry.
        expired_at: Timestamp,
    },
    /// A key was asked for with an expiry that is not after its creation time.
    #[error("the expiry {expires_at} is not after the creation time {now}")]
    ExpiryNotInFuture {
        /// The expiry asked for.
        expires_at: Timestamp,
        /// The creation time.
        now: Timestamp,
    },
    /// The system's random number generator failed: no key was made.
    #[error("no secure random bytes available")]
    RandomUnavailable,
    /// The database was created by a newer version of this crate; it is not touched.
    #[error(
        "the agent key database has schema version {found}, newer than the {supported} this build knows"
    )]
    SchemaTooNew {
        /// The version found in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The store could not answer (the database failed, a stored row does not parse, no
    /// tokio runtime to run the database on). Nothing was accepted.
    #[error("agent key store: {detail}")]
    Storage {
        /// What failed (never a secret).
        detail: String,
    },
}

impl AgentKeyError {
    /// A stable snake_case label for logs and metrics.
    ///
    /// ```
    /// use tower_auth::agent_keys::AgentKeyId;
    ///
    /// let err = AgentKeyId::parse("not a key id").unwrap_err();
    /// assert_eq!(err.reason(), "malformed_agent_key");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            AgentKeyError::Malformed { .. } => "malformed_agent_key",
            AgentKeyError::UnknownKey { .. } => "unknown_agent_key",
            AgentKeyError::WrongSecret { .. } => "wrong_agent_key_secret",
            AgentKeyError::Revoked { .. } => "agent_key_revoked",
            AgentKeyError::Expired { .. } => "agent_key_expired",
            AgentKeyError::ExpiryNotInFuture { .. } => "agent_key_expiry_not_in_future",
            AgentKeyError::RandomUnavailable => "random_unavailable",
            AgentKeyError::SchemaTooNew { .. } => "agent_key_schema_too_new",
            AgentKeyError::Storage { .. } => "agent_key_storage",
        }
    }

    /// Whether a presented key (or a request to create or revoke one) was refused, as
    /// opposed to the store failing. A token exchange answers a rejection with
    /// `invalid_grant` and a failure with a server error; both refuse.
    ///
    /// ```
    /// use tower_auth::agent_keys::AgentKeyError;
    ///
    /// let refused = tower_auth::agent_keys::AgentKeyId::parse("").unwrap_err();
    /// assert!(refused.is_rejection());
    /// let failed = AgentKeyError::Storage { detail: "disk I/O error".into() };
    /// assert!(!failed.is_rejection());
    /// ```
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            AgentKeyError::Malformed { .. }
                | AgentKeyError::UnknownKey { .. }
                | AgentKeyError::WrongSecret { .. }
                | AgentKeyError::Revoked { .. }
                | AgentKeyError::Expired { .. }
                | AgentKeyError::ExpiryNotInFuture { .. }
        )
    }

    pub(crate) fn storage(detail: impl fmt::Display) -> Self {
        AgentKeyError::Storage {
            detail: detail.to_string(),
        }
    }
}
