//! Agent credentials (DESIGN §2, the Agent kind): API keys that an AI agent presents to
//! act for a human, shown once, stored only as a hash, bound to a grant, revocable.
//!
//! # The key
//!
//! `baton_ak_<id>_<secret>`: the [`KEY_PREFIX`], a 16-hex-digit id (64 random bits, the
//! public [`AgentKeyId`] a store looks the key up by), `_`, and a 64-hex-digit secret
//! (256 random bits), all drawn from aws-lc-rs's `SystemRandom`; [`KEY_LEN`] = 90
//! characters. The prefix makes a leaked key recognizable (secret scanners, log review);
//! lowercase hex survives every transport (headers, form bodies, shells) unescaped.
//!
//! # What is stored
//!
//! Never the secret: only the id, SHA-256 over a domain tag and the whole key, and the
//! metadata ([`AgentKeyInfo`]). A plain SHA-256 is the right hash here because the secret
//! is 256 random bits: with no dictionary to try and a space no one can search, a stolen
//! hash gives nothing back, and a slow password hash (Argon2, bcrypt) would cost every
//! authentication milliseconds for no gain. The presented key's hash is compared with
//! the stored one in constant time. The secret is returned once, by
//! [`AgentKeyStore::create`], in an [`AgentKeySecret`] whose `Debug` shows the id only.
//!
//! # What a store decides
//!
//! [`AgentKeyStore::authenticate`] checks, in this order, each refusal with its own error
//! and [`reason`](AgentKeyError::reason):
//!
//! | check | error | reason |
//! | --- | --- | --- |
//! | the form (length first, so a huge string costs nothing; bytes, so no input panics) | [`AgentKeyError::Malformed`] | `malformed_agent_key` |
//! | a key with that id exists | [`AgentKeyError::UnknownKey`] | `unknown_agent_key` |
//! | its hash matches, in constant time | [`AgentKeyError::WrongSecret`] | `wrong_agent_key_secret` |
//! | it is not revoked | [`AgentKeyError::Revoked`] | `agent_key_revoked` |
//! | `now` is before its expiry | [`AgentKeyError::Expired`] | `agent_key_expired` |
//!
//! Revocation and expiry are told only to a caller holding the right secret: the id (which
//! appears in logs) reveals nothing about a key's state. Whether an id exists is not a
//! secret (it grants nothing). An accepted key yields an [`AgentGrant`]; how a token
//! exchange must narrow it to the human's own scopes is documented there.
//!
//! # Stores
//!
//! | store | where the keys live |
//! | --- | --- |
//! | [`MemoryAgentKeyStore`] | a map in memory, gone with the process; answers without I/O |
//! | `SqliteAgentKeyStore` (feature `agent-keys-sqlite`) | a SQLite database file, created and migrated on open, every call on tokio's blocking pool |
//!
//! Both pass the same behaviour suite. Time comes from the caller's
//! [`Clock`](principal::Clock), as `now` on every method that needs it.
//!
//! # Exchanging a key
//!
//! An agent never sends its key to a service: it exchanges it at the token exchange
//! service ([`TokenExchangeServiceBuilder::agent_keys`](crate::sts::TokenExchangeServiceBuilder::agent_keys),
//! `subject_token_type` [`AGENT_KEY_TOKEN_TYPE`](crate::sts::AGENT_KEY_TOKEN_TYPE)) for a
//! token of minutes, for one audience, whose Principal is the human with the agent acting.
//! The service looks the human up in a [`HumanDirectory`] at every exchange
//! ([`MemoryHumanDirectory`] in memory), so the token carries at most the grant and what
//! the human holds now. On the client side, an
//! [`AgentSession`](crate::exchange::AgentSession) re-exchanges for every sub-request.

mod directory;
mod error;
mod key;
mod memory;
mod record;
#[cfg(feature = "agent-keys-sqlite")]
mod sqlite;
mod store;
#[cfg(test)]
mod tests;

pub use directory::{
    DirectoryFuture, HumanDirectory, HumanDirectoryError, HumanEntry, MemoryHumanDirectory,
};
pub use error::{AgentKeyError, MalformedKey};
pub(crate) use key::PresentedKey;
pub use key::{AgentKeyId, AgentKeySecret, KEY_LEN, KEY_PREFIX};
pub use memory::MemoryAgentKeyStore;
pub use record::{AgentGrant, AgentKeyInfo, IssuedAgentKey, NewAgentKey};
#[cfg(feature = "agent-keys-sqlite")]
pub use sqlite::SqliteAgentKeyStore;
pub use store::{AgentKeyStore, StoreFuture};
