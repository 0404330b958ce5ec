//! Agent keys in a SQLite database file (feature `agent-keys-sqlite`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use principal::{HumanId, ScopeSet, Timestamp};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};

use super::key::{PresentedKey, SecretHash, generate};
use super::record::StoredKey;
use super::store::{CREATE_ATTEMPTS, StoreFuture};
use super::{
    AgentGrant, AgentKeyError, AgentKeyId, AgentKeyInfo, AgentKeyStore, IssuedAgentKey, NewAgentKey,
};

/// This store's name in the `schema_version` table (one row per component, so that
/// other Baton state can share the file).
const COMPONENT: &str = "agent_keys";

/// The migrations, in order: migration `n` (from 1) brings the schema from version
/// `n - 1` to `n`. Append only; never edit one that shipped.
const MIGRATIONS: &[&str] = &[
    // 1: the keys. The secret is not a column: only its SHA-256 (see `SecretHash`).
    "CREATE TABLE agent_keys (
        key_id      TEXT PRIMARY KEY NOT NULL,
        secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),
        agent_id    TEXT NOT NULL,
        human_id    TEXT NOT NULL,
        scopes      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        revoked_at  INTEGER
    ) STRICT;
    CREATE INDEX agent_keys_by_human ON agent_keys (human_id, created_at);",
];

/// How long a statement waits for another process's lock on the file before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Agent keys in a SQLite database file (DESIGN §7: agent keys in a real database,
/// SQLite embedded by default). [`open`](Self::open) creates the file if needed and
/// migrates its schema; every database call runs on tokio's blocking pool
/// (`spawn_blocking`), never on the async executor.
///
/// The file holds each key's id, the SHA-256 of the key, and its metadata; never a
/// secret. It is opened in WAL mode with full synchronous commits: a revocation that
/// returned is on disk.
///
/// ```
/// use principal::{ScopeSet, Timestamp};
/// use tower_auth::agent_keys::{AgentKeyError, AgentKeyStore, NewAgentKey, SqliteAgentKeyStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("agent-keys.db");
/// let now = Timestamp::from_unix_seconds(1_700_000_000);
/// let store = SqliteAgentKeyStore::open(&path).await?;
/// let issued = store
///     .create(
///         NewAgentKey::new(
///             "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?,
///             "hm-6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d".parse()?,
///             ScopeSet::parse("orders:read")?,
///             now.add_seconds(3_600),
///         ),
///         now,
///     )
///     .await?;
/// drop(store);
///
/// // The key survives a restart.
/// let store = SqliteAgentKeyStore::open(&path).await?;
/// let grant = store.authenticate(issued.key.expose_secret(), now).await?;
/// assert_eq!(grant.key_id, issued.info.id);
///
/// // A key of the right form that was never issued: refused.
/// let unknown = format!("{}_{}", "baton_ak_0000000000000000", "0".repeat(64));
/// let refused = store.authenticate(&unknown, now).await;
/// assert!(matches!(refused, Err(AgentKeyError::UnknownKey { .. })));
/// # Ok(())
/// # }
/// ```
pub struct SqliteAgentKeyStore {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
    rng: SystemRandom,
}

impl SqliteAgentKeyStore {
    /// The schema version this build creates and understands.
    pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

    /// Opens (creating if needed) the database at `path` and brings its schema to
    /// [`SCHEMA_VERSION`](Self::SCHEMA_VERSION), in one transaction; opening a database
    /// that is already current changes nothing. A database with a newer schema is refused
    /// ([`AgentKeyError::SchemaTooNew`]), a file that is not a database too
    /// ([`AgentKeyError::Storage`]). Needs a tokio runtime.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, AgentKeyError> {
        let path = path.as_ref().to_path_buf();
        let open_path = path.clone();
        let connection = run_blocking(move || {
            let mut connection = Connection::open(&open_path).map_err(AgentKeyError::storage)?;
            configure(&connection)?;
            migrate(&mut connection)?;
            Ok(connection)
        })
        .await?;
        Ok(SqliteAgentKeyStore {
            connection: Arc::new(Mutex::new(connection)),
            path,
            rng: SystemRandom::new(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` with the connection on the blocking pool.
    async fn with_connection<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, AgentKeyError> + Send + 'static,
    ) -> Result<T, AgentKeyError> {
        let connection = Arc::clone(&self.connection);
        run_blocking(move || {
            let mut connection = connection
                .lock()
                .map_err(|_| AgentKeyError::storage("the connection's lock is poisoned"))?;
            work(&mut connection)
        })
        .await
    }
}

/// Runs `work` on tokio's blocking pool; an error, never a panic, without a runtime.
async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AgentKeyError> + Send + 'static,
) -> Result<T, AgentKeyError> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| AgentKeyError::storage("no tokio runtime to run SQLite on"))?;
    runtime
        .spawn_blocking(work)
        .await
        .map_err(|error| AgentKeyError::storage(format!("the SQLite task failed: {error}")))?
}

fn configure(connection: &Connection) -> Result<(), AgentKeyError> {
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(AgentKeyError::storage)?;
    // WAL: readers in other processes do not block a writer. FULL: a commit (a
    // revocation) survives a power loss, not only a crash of this process.
    let mode: String = connection
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(AgentKeyError::storage)?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        return Err(AgentKeyError::storage(format!(
            "the database refused WAL mode (it is in {mode} mode)"
        )));
    }
    connection
        .pragma_update(None, "synchronous", "FULL")
        .map_err(AgentKeyError::storage)
}

/// Brings the schema to the newest version, in one immediate transaction (two processes
/// opening a new file at once migrate it once).
fn migrate(connection: &mut Connection) -> Result<(), AgentKeyError> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(AgentKeyError::storage)?;
    transaction
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_version (
                component TEXT PRIMARY KEY NOT NULL,
                version   INTEGER NOT NULL
            ) STRICT;",
        )
        .map_err(AgentKeyError::storage)?;
    let found: i64 = transaction
        .query_row(
            "SELECT version FROM schema_version WHERE component = ?1",
            [COMPONENT],
            |row| row.get(0),
        )
        .optional()
        .map_err(AgentKeyError::storage)?
        .unwrap_or(0);
    let supported = SqliteAgentKeyStore::SCHEMA_VERSION;
    if found > supported {
        return Err(AgentKeyError::SchemaTooNew { found, supported });
    }
    let Ok(applied) = usize::try_from(found) else {
        return Err(AgentKeyError::storage(format!(
            "the schema version is {found}"
        )));
    };
    if applied == MIGRATIONS.len() {
        return Ok(());
    }
    for migration in &MIGRATIONS[applied..] {
        transaction
            .execute_batch(migration)
            .map_err(AgentKeyError::storage)?;
    }
    transaction
        .execute(
            "INSERT INTO schema_version (component, version) VALUES (?1, ?2)
             ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            params![COMPONENT, supported],
        )
        .map_err(AgentKeyError::storage)?;
    transaction.commit().map_err(AgentKeyError::storage)
}

const SELECT_KEY: &str = "SELECT key_id, secret_hash, agent_id, human_id, scopes, created_at, \
                          expires_at, revoked_at FROM agent_keys";

/// A row of `agent_keys` back to a key; a row that does not parse fails closed.
fn stored_key(row: &Row<'_>) -> rusqlite::Result<Result<StoredKey, AgentKeyError>> {
    let key_id: String = row.get(0)?;
    let hash: Vec<u8> = row.get(1)?;
    let agent: String = row.get(2)?;
    let human: String = row.get(3)?;
    let scopes: String = row.get(4)?;
    let created_at: i64 = row.get(5)?;
    let expires_at: i64 = row.get(6)?;
    let revoked_at: Option<i64> = row.get(7)?;
    Ok((|| {
        let corrupt =
            |what: &str| AgentKeyError::storage(format!("stored key has an invalid {what}"));
        let id = AgentKeyId::parse(&key_id).map_err(|_| corrupt("key id"))?;
        Ok(StoredKey {
            info: AgentKeyInfo {
                id,
                agent: agent.parse().map_err(|_| corrupt("agent id"))?,
                human: human.parse().map_err(|_| corrupt("human id"))?,
                scopes: ScopeSet::parse(&scopes).map_err(|_| corrupt("scope set"))?,
                created_at: Timestamp::from_unix_seconds(created_at),
                expires_at: Timestamp::from_unix_seconds(expires_at),
                revoked_at: revoked_at.map(Timestamp::from_unix_seconds),
            },
            hash: SecretHash::from_stored(&hash).ok_or_else(|| corrupt("secret hash"))?,
        })
    })())
}

fn insert(connection: &Connection, stored: &StoredKey) -> rusqlite::Result<usize> {
    let info = &stored.info;
    connection.execute(
        "INSERT INTO agent_keys (key_id, secret_hash, agent_id, human_id, scopes, created_at, \
         expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)",
        params![
            info.id.to_string(),
            &stored.hash.0[..],
            info.agent.to_string(),
            info.human.to_string(),
            info.scopes.to_space_separated(),
            info.created_at.as_unix_seconds(),
            info.expires_at.as_unix_seconds(),
        ],
    )
}

impl fmt::Debug for SqliteAgentKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteAgentKeyStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl AgentKeyStore for SqliteAgentKeyStore {
    fn create(&self, request: NewAgentKey, now: Timestamp) -> StoreFuture<'_, IssuedAgentKey> {
        Box::pin(async move {
            for _ in 0..CREATE_ATTEMPTS {
                let (key, presented) = generate(&self.rng)?;
                let stored = StoredKey::new(&request, &presented, now)?;
                let info = stored.info.clone();
                let inserted = self
                    .with_connection(move |connection| match insert(connection, &stored) {
                        Ok(_) => Ok(true),
                        // The id drawn is taken: draw again.
                        Err(error)
                            if error.sqlite_error_code()
                                == Some(ErrorCode::ConstraintViolation) =>
                        {
                            Ok(false)
                        }
                        Err(error) => Err(AgentKeyError::storage(error)),
                    })
                    .await?;
                if inserted {
                    return Ok(IssuedAgentKey { key, info });
                }
            }
            Err(AgentKeyError::storage(
                "every key id drawn was already taken: the random source is broken",
            ))
        })
    }

    fn authenticate<'a>(
        &'a self,
        presented: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, AgentGrant> {
        Box::pin(async move {
            // Parsed here: only the id and the hash go to the blocking pool.
            let presented = PresentedKey::parse(presented)?;
            let stored = self
                .with_connection(move |connection| {
                    connection
                        .query_row(
                            &format!("{SELECT_KEY} WHERE key_id = ?1"),
                            [presented.id.to_string()],
                            stored_key,
                        )
                        .optional()
                        .map_err(AgentKeyError::storage)?
                        .transpose()
                })
                .await?;
            match stored {
                Some(stored) => stored.admit(&presented, now),
                None => Err(AgentKeyError::UnknownKey { id: presented.id }),
            }
        })
    }

    fn revoke<'a>(&'a self, id: &'a AgentKeyId, now: Timestamp) -> StoreFuture<'a, ()> {
        let id = *id;
        Box::pin(self.with_connection(move |connection| {
            let key_id = id.to_string();
            // `revoked_at` is set once: a second revocation keeps the first time.
            let exists: Option<i64> = connection
                .query_row(
                    "UPDATE agent_keys SET revoked_at = coalesce(revoked_at, ?2) \
                     WHERE key_id = ?1 RETURNING 1",
                    params![key_id, now.as_unix_seconds()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(AgentKeyError::storage)?;
            match exists {
                Some(_) => Ok(()),
                None => Err(AgentKeyError::UnknownKey { id }),
            }
        }))
    }

    fn list_for_human<'a>(&'a self, human: &'a HumanId) -> StoreFuture<'a, Vec<AgentKeyInfo>> {
        let human = human.to_string();
        Box::pin(self.with_connection(move |connection| {
            let mut statement = connection
                .prepare(&format!(
                    "{SELECT_KEY} WHERE human_id = ?1 ORDER BY created_at, key_id"
                ))
                .map_err(AgentKeyError::storage)?;
            let rows = statement
                .query_map([human], stored_key)
                .map_err(AgentKeyError::storage)?;
            let mut keys = Vec::new();
            for row in rows {
                keys.push(row.map_err(AgentKeyError::storage)??.info);
            }
            Ok(keys)
        }))
    }
}
