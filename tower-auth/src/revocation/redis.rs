//! Source (b): the revocation list pushed through Redis, for fleets beyond one machine
//! (feature `revocation-redis`).
//!
//! The list lives in Redis twice, written together by one Lua script (atomic: no client
//! ever sees one without the other):
//!
//! - the **snapshot key** holds the whole list as JSON, with its version;
//! - the same JSON is **published** on the channel, so subscribed instances apply it at
//!   once (a revocation reaches every instance within a round trip).
//!
//! A [`RedisSubscriber`] subscribes first, then reads the snapshot: a change published
//! while it starts is in the snapshot or in a message, never lost between. On a lost
//! connection (a broker restart, a network cut) it keeps its mirror's list, records the
//! failure (status and audit event), reconnects with a growing pause and resyncs from the
//! snapshot. It also reads the snapshot every
//! [`resync_interval`](RedisConfig::resync_interval), which resets the mirror's age while
//! nothing is published and repairs a message lost in transit.
//!
//! Messages only move the list forward (a higher version); a snapshot read from the key
//! is the truth and replaces the list whatever its version, so a broker that lost its
//! data and was repopulated by the publisher is followed. Configure Redis persistence
//! (AOF or RDB) so a restart keeps the snapshot; a missing snapshot key is a failed sync
//! (the mirror keeps its list and, failing closed, goes stale): publish an empty list
//! once to start.
//!
//! # Wire format
//!
//! ```json
//! {"version":3,
//!  "token_ids":[{"jti":"7d1c","exp":1700000300}],
//!  "session_ids":[{"sid":"s-42","exp":null}],
//!  "subjects":[{"iss":"https://idp.example","sub":"user-1"}],
//!  "principal_ids":["am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b"]}
//! ```
//!
//! # Deployment caveats
//!
//! - Anyone who can write the key or publish on the channel controls the list (can lift
//!   a revocation): restrict both with Redis ACLs to the publisher.
//! - One publisher per list: [`RevocationPublisher::publish`] writes the whole list.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use principal::{Issuer, PrincipalId, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::{DenylistEntries, RevocationMirror};
use crate::authenticate::AUDIT_TARGET;

/// Default key of the snapshot.
pub const DEFAULT_SNAPSHOT_KEY: &str = "baton:revocations";
/// Default pub/sub channel.
pub const DEFAULT_CHANNEL: &str = "baton:revocations";
/// Default time between two snapshot reads while connected.
pub const DEFAULT_RESYNC_INTERVAL: Duration = Duration::from_secs(10);
/// Default timeout of a connection attempt or a command.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// Default bound on a snapshot or message, in bytes.
pub const DEFAULT_MAX_SNAPSHOT_BYTES: usize = 4 << 20;
/// The longest pause between two reconnection attempts.
const MAX_RECONNECT_PAUSE: Duration = Duration::from_secs(2);
/// The first pause after a lost connection.
const FIRST_RECONNECT_PAUSE: Duration = Duration::from_millis(50);
/// The longest id (`jti`, `sid`, `sub`) taken from a snapshot.
const MAX_ID_BYTES: usize = 1024;

/// The publisher's script: one version, the snapshot and the message written atomically.
/// KEYS[1] the snapshot, KEYS[2] the version counter; ARGV[1] the channel, ARGV[2] the
/// list's JSON fields after the version.
const PUBLISH_SCRIPT: &str = r#"
local version = redis.call('INCR', KEYS[2])
local document = '{"version":' .. version .. ',' .. ARGV[2]
redis.call('SET', KEYS[1], document)
redis.call('PUBLISH', ARGV[1], document)
return version
"#;

/// Where the list lives in Redis, and how the subscriber behaves.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://host:port/db` (or `redis+unix://`); credentials may be in the URL.
    pub url: String,
    /// The snapshot key ([`DEFAULT_SNAPSHOT_KEY`]).
    pub snapshot_key: String,
    /// The channel ([`DEFAULT_CHANNEL`]).
    pub channel: String,
    /// Time between two snapshot reads while connected ([`DEFAULT_RESYNC_INTERVAL`]);
    /// keep it well under the mirror's maximum age.
    pub resync_interval: Duration,
    /// Timeout of a connection attempt or a command ([`DEFAULT_REDIS_TIMEOUT`]).
    pub timeout: Duration,
    /// Bound on a snapshot or message ([`DEFAULT_MAX_SNAPSHOT_BYTES`]).
    pub max_bytes: usize,
}

impl RedisConfig {
    /// The defaults, for the broker at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            snapshot_key: DEFAULT_SNAPSHOT_KEY.to_owned(),
            channel: DEFAULT_CHANNEL.to_owned(),
            resync_interval: DEFAULT_RESYNC_INTERVAL,
            timeout: DEFAULT_REDIS_TIMEOUT,
            max_bytes: DEFAULT_MAX_SNAPSHOT_BYTES,
        }
    }

    /// Another snapshot key and channel (one list per deployment or tenant).
    pub fn with_names(
        mut self,
        snapshot_key: impl Into<String>,
        channel: impl Into<String>,
    ) -> Self {
        self.snapshot_key = snapshot_key.into();
        self.channel = channel.into();
        self
    }

    /// Another resync interval.
    pub fn with_resync_interval(mut self, interval: Duration) -> Self {
        self.resync_interval = interval;
        self
    }

    /// Another timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(crate) fn client(&self) -> Result<redis::Client, RedisRevocationError> {
        let in_range = |value: Duration, setting| {
            if value < Duration::from_millis(10) || value > Duration::from_secs(3600) {
                Err(RedisRevocationError::OutOfRange { setting })
            } else {
                Ok(())
            }
        };
        in_range(self.resync_interval, "resync_interval")?;
        in_range(self.timeout, "timeout")?;
        if !(1024..=64 << 20).contains(&self.max_bytes) {
            return Err(RedisRevocationError::OutOfRange {
                setting: "max_bytes",
            });
        }
        if self.snapshot_key.is_empty() || self.channel.is_empty() {
            return Err(RedisRevocationError::OutOfRange {
                setting: "snapshot_key or channel",
            });
        }
        // The URL may carry a password: the error says only that it does not parse.
        redis::Client::open(self.url.as_str()).map_err(|_| RedisRevocationError::InvalidUrl)
    }

    fn version_key(&self) -> String {
        format!("{}:version", self.snapshot_key)
    }
}

/// A Redis revocation source or publisher failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisRevocationError {
    /// The broker URL does not parse (not shown: it may hold a password).
    #[error("redis URL does not parse")]
    InvalidUrl,
    /// A setting is out of range.
    #[error("{setting} out of range")]
    OutOfRange {
        /// Which setting.
        setting: &'static str,
    },
    /// No Tokio runtime to run the subscriber on.
    #[error("no Tokio runtime to run the subscriber on")]
    NoRuntime,
    /// The broker could not be reached or answered an error.
    #[error("redis: {0}")]
    Broker(String),
    /// No answer within the timeout.
    #[error("redis: no answer within {0:?}")]
    Timeout(Duration),
    /// The subscription ended: the broker closed the connection.
    #[error("redis: subscription connection closed")]
    ConnectionClosed,
    /// The snapshot key does not exist (nothing published yet, or the broker lost it).
    #[error("redis: no snapshot at the snapshot key")]
    NoSnapshot,
    /// A snapshot or message is not the list's JSON, or is too large.
    #[error("redis: malformed revocation list: {0}")]
    Malformed(String),
}

impl RedisRevocationError {
    /// A stable label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            RedisRevocationError::InvalidUrl => "redis_invalid_url",
            RedisRevocationError::OutOfRange { .. } => "redis_out_of_range",
            RedisRevocationError::NoRuntime => "redis_no_runtime",
            RedisRevocationError::Broker(_) => "redis_broker",
            RedisRevocationError::Timeout(_) => "redis_timeout",
            RedisRevocationError::ConnectionClosed => "redis_connection_closed",
            RedisRevocationError::NoSnapshot => "redis_no_snapshot",
            RedisRevocationError::Malformed(_) => "redis_malformed",
        }
    }
}

impl From<redis::RedisError> for RedisRevocationError {
    fn from(error: redis::RedisError) -> Self {
        RedisRevocationError::Broker(error.to_string())
    }
}

async fn within<T>(
    timeout: Duration,
    future: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, RedisRevocationError> {
    match tokio::time::timeout(timeout, future).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(RedisRevocationError::Timeout(timeout)),
    }
}

// ---- wire format ----

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenIdEntry {
    jti: String,
    exp: Option<i64>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionIdEntry {
    sid: String,
    exp: Option<i64>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectEntry {
    iss: String,
    sub: String,
}

/// The list's fields after the version (the publisher prepends the version).
#[derive(Serialize)]
struct ListBody {
    token_ids: Vec<TokenIdEntry>,
    session_ids: Vec<SessionIdEntry>,
    subjects: Vec<SubjectEntry>,
    principal_ids: Vec<String>,
}

/// A whole document: the version, then the list's fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    version: u64,
    token_ids: Vec<TokenIdEntry>,
    session_ids: Vec<SessionIdEntry>,
    subjects: Vec<SubjectEntry>,
    principal_ids: Vec<String>,
}

impl ListBody {
    fn from_entries(entries: &DenylistEntries) -> Self {
        let until = |until: &Option<Timestamp>| until.map(Timestamp::as_unix_seconds);
        ListBody {
            token_ids: entries
                .token_ids
                .iter()
                .map(|(jti, exp)| TokenIdEntry {
                    jti: jti.clone(),
                    exp: until(exp),
                })
                .collect(),
            session_ids: entries
                .session_ids
                .iter()
                .map(|(sid, exp)| SessionIdEntry {
                    sid: sid.clone(),
                    exp: until(exp),
                })
                .collect(),
            subjects: entries
                .subjects
                .iter()
                .flat_map(|(issuer, subjects)| {
                    subjects.keys().map(move |sub| SubjectEntry {
                        iss: issuer.as_str().to_owned(),
                        sub: sub.clone(),
                    })
                })
                .collect(),
            principal_ids: entries
                .principal_ids
                .keys()
                .map(ToString::to_string)
                .collect(),
        }
    }

    fn into_entries(self) -> Result<DenylistEntries, RedisRevocationError> {
        let malformed = |why: &str| RedisRevocationError::Malformed(why.to_owned());
        let id_ok = |id: &str| !id.is_empty() && id.len() <= MAX_ID_BYTES;
        let mut entries = DenylistEntries::new();
        for token in self.token_ids {
            if !id_ok(&token.jti) {
                return Err(malformed("a jti is empty or too long"));
            }
            entries.add_token_id(token.jti, token.exp.map(Timestamp::from_unix_seconds));
        }
        for session in self.session_ids {
            if !id_ok(&session.sid) {
                return Err(malformed("a sid is empty or too long"));
            }
            entries.add_session_id(session.sid, session.exp.map(Timestamp::from_unix_seconds));
        }
        for subject in self.subjects {
            if !id_ok(&subject.sub) {
                return Err(malformed("a sub is empty or too long"));
            }
            let issuer =
                Issuer::new(&subject.iss).map_err(|_| malformed("an iss is not an issuer"))?;
            entries.add_subject(&issuer, subject.sub);
        }
        for id in self.principal_ids {
            let id: PrincipalId = id
                .parse()
                .map_err(|_| malformed("a principal id does not parse"))?;
            entries.add_principal_id(id);
        }
        Ok(entries)
    }
}

fn parse_document(
    bytes: &[u8],
    max_bytes: usize,
) -> Result<(u64, DenylistEntries), RedisRevocationError> {
    if bytes.len() > max_bytes {
        return Err(RedisRevocationError::Malformed(format!(
            "larger than {max_bytes} bytes"
        )));
    }
    let document: Document = serde_json::from_slice(bytes)
        .map_err(|error| RedisRevocationError::Malformed(error.to_string()))?;
    let body = ListBody {
        token_ids: document.token_ids,
        session_ids: document.session_ids,
        subjects: document.subjects,
        principal_ids: document.principal_ids,
    };
    Ok((document.version, body.into_entries()?))
}

// ---- publisher ----

/// Publishes the revocation list: the snapshot key and the channel, in one atomic step
/// (a Lua script), under a version Redis assigns (`INCR`), so a subscriber that starts
/// late or reconnects finds in the snapshot everything ever published.
///
/// ```no_run
/// use tower_auth::revocation::DenylistEntries;
/// use tower_auth::revocation::redis::{RedisConfig, RevocationPublisher};
///
/// # async fn run() -> Result<(), tower_auth::revocation::redis::RedisRevocationError> {
/// let publisher = RevocationPublisher::connect(RedisConfig::new("redis://127.0.0.1:6379")).await?;
/// let version = publisher.publish(&DenylistEntries::new().deny_token_id("jti-7")).await?;
/// assert!(version >= 1);
/// # Ok(())
/// # }
/// ```
pub struct RevocationPublisher {
    config: RedisConfig,
    connection: redis::aio::MultiplexedConnection,
}

impl RevocationPublisher {
    /// Connects to the broker (a multiplexed connection that reconnects on its own).
    pub async fn connect(config: RedisConfig) -> Result<Self, RedisRevocationError> {
        let client = config.client()?;
        let connection = within(config.timeout, client.get_multiplexed_async_connection()).await?;
        Ok(RevocationPublisher { config, connection })
    }

    /// Publishes `entries` as the whole list; returns its version.
    pub async fn publish(&self, entries: &DenylistEntries) -> Result<u64, RedisRevocationError> {
        let body = serde_json::to_string(&ListBody::from_entries(entries))
            .map_err(|error| RedisRevocationError::Malformed(error.to_string()))?;
        // The script appends to `{"version":N,`: drop the body's own opening brace.
        let fields = body.strip_prefix('{').unwrap_or(&body);
        if body.len() > self.config.max_bytes {
            return Err(RedisRevocationError::Malformed(format!(
                "larger than {} bytes",
                self.config.max_bytes
            )));
        }
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("EVAL");
        command
            .arg(PUBLISH_SCRIPT)
            .arg(2)
            .arg(&self.config.snapshot_key)
            .arg(self.config.version_key())
            .arg(&self.config.channel)
            .arg(fields);
        let version: u64 =
            within(self.config.timeout, command.query_async(&mut connection)).await?;
        tracing::info!(
            target: AUDIT_TARGET,
            revocation_source = "redis",
            revocation_source_version = version,
            revocation_entries = entries.len(),
            "revocation: list published"
        );
        Ok(version)
    }
}

impl fmt::Debug for RevocationPublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationPublisher")
            .field("snapshot_key", &self.config.snapshot_key)
            .field("channel", &self.config.channel)
            .finish_non_exhaustive()
    }
}

// ---- subscriber ----

/// Keeps a [`RevocationMirror`] in step with the list in Redis: subscribes, reads the
/// snapshot, applies each published list, reads the snapshot again every resync interval
/// and after every reconnection.
///
/// ```no_run
/// use std::sync::Arc;
/// use tower_auth::revocation::RevocationMirror;
/// use tower_auth::revocation::redis::{RedisConfig, RedisSubscriber};
///
/// # async fn run() -> Result<(), tower_auth::revocation::redis::RedisRevocationError> {
/// let mirror = Arc::new(RevocationMirror::builder().source_name("redis").build());
/// let handle = RedisSubscriber::spawn(RedisConfig::new("redis://127.0.0.1:6379"), mirror.clone())?;
/// // Keep `handle`: dropping it stops the subscriber. Give `mirror` to the verifiers.
/// # drop(handle);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RedisSubscriber;

/// Owns a running [`RedisSubscriber`]; dropping it stops it.
#[must_use = "dropping the handle stops the subscriber"]
pub struct RedisSubscriberHandle {
    task: JoinHandle<()>,
}

impl RedisSubscriberHandle {
    /// Whether the task has stopped (its mirror is gone, or it was aborted).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for RedisSubscriberHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for RedisSubscriberHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSubscriberHandle")
            .field("finished", &self.task.is_finished())
            .finish()
    }
}

impl RedisSubscriber {
    /// Starts the subscriber on the current Tokio runtime. Its settings are checked now;
    /// the broker may be down: the subscriber keeps trying, and the mirror says so.
    pub fn spawn(
        config: RedisConfig,
        mirror: Arc<RevocationMirror>,
    ) -> Result<RedisSubscriberHandle, RedisRevocationError> {
        let client = config.client()?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| RedisRevocationError::NoRuntime)?;
        let weak = Arc::downgrade(&mirror);
        drop(mirror);
        let task = runtime.spawn(async move {
            let mut pause = FIRST_RECONNECT_PAUSE;
            loop {
                let Some(mirror) = weak.upgrade() else {
                    return;
                };
                let error = session(&client, &config, &mirror, &mut pause).await;
                mirror.record_failure(format_args!("{error} ({})", error.reason()));
                drop(mirror);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RECONNECT_PAUSE);
            }
        });
        Ok(RedisSubscriberHandle { task })
    }
}

/// One connection's life: returns why it ended.
async fn session(
    client: &redis::Client,
    config: &RedisConfig,
    mirror: &RevocationMirror,
    pause: &mut Duration,
) -> RedisRevocationError {
    let mut pubsub = match within(config.timeout, client.get_async_pubsub()).await {
        Ok(pubsub) => pubsub,
        Err(error) => return error,
    };
    if let Err(error) = within(config.timeout, pubsub.subscribe(&config.channel)).await {
        return error;
    }
    let mut connection =
        match within(config.timeout, client.get_multiplexed_async_connection()).await {
            Ok(connection) => connection,
            Err(error) => return error,
        };
    // Subscribed before reading: a list published meanwhile is in the snapshot or in a
    // message.
    if let Err(error) = resync(&mut connection, config, mirror).await {
        return error;
    }
    *pause = FIRST_RECONNECT_PAUSE;
    let mut messages = pubsub.into_on_message();
    let mut ticks = tokio::time::interval(config.resync_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else {
                    return RedisRevocationError::ConnectionClosed;
                };
                match parse_document(message.get_payload_bytes(), config.max_bytes) {
                    Ok((version, entries)) => {
                        let applied = mirror.status().source_version;
                        if applied.is_none_or(|applied| version > applied) {
                            mirror.apply_snapshot(version, entries);
                        } else {
                            mirror.confirm_unchanged();
                        }
                    }
                    Err(error) => {
                        tracing::warn!(
                            target: AUDIT_TARGET,
                            revocation_source = "redis",
                            revocation_error = %error,
                            "revocation: malformed message ignored; reading the snapshot"
                        );
                        if let Err(error) = resync(&mut connection, config, mirror).await {
                            return error;
                        }
                    }
                }
            }
            _ = ticks.tick() => {
                if let Err(error) = resync(&mut connection, config, mirror).await {
                    return error;
                }
            }
        }
    }
}

/// Reads the snapshot and applies it (the truth: whatever its version, if it differs).
async fn resync(
    connection: &mut redis::aio::MultiplexedConnection,
    config: &RedisConfig,
    mirror: &RevocationMirror,
) -> Result<(), RedisRevocationError> {
    let mut command = redis::cmd("GET");
    command.arg(&config.snapshot_key);
    let snapshot: Option<Vec<u8>> = within(config.timeout, command.query_async(connection)).await?;
    let snapshot = snapshot.ok_or(RedisRevocationError::NoSnapshot)?;
    let (version, entries) = parse_document(&snapshot, config.max_bytes)?;
    mirror.apply_snapshot(version, entries);
    mirror.remove_expired();
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_format_round_trips_every_kind_of_entry() {
        let issuer = Issuer::new("https://idp.example").unwrap();
        let entries = DenylistEntries::new()
            .deny_token_id_until("jti-1", Timestamp::from_unix_seconds(1_700_000_300))
            .deny_session_id("sid-1")
            .deny_subject(&issuer, "user-1")
            .deny_principal_id("am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse().unwrap());
        let body = serde_json::to_string(&ListBody::from_entries(&entries)).unwrap();
        let document = format!("{{\"version\":9,{}", body.strip_prefix('{').unwrap());
        let (version, parsed) = parse_document(document.as_bytes(), 1 << 20).unwrap();
        assert_eq!((version, parsed), (9, entries));
    }

    #[test]
    fn hostile_documents_are_refused() {
        for bad in [
            "not json",
            r#"{"version":1}"#,
            r#"{"version":1,"token_ids":[],"session_ids":[],"subjects":[],"principal_ids":["root"]}"#,
            r#"{"version":1,"token_ids":[{"jti":"","exp":null}],"session_ids":[],"subjects":[],"principal_ids":[]}"#,
            r#"{"version":1,"token_ids":[],"session_ids":[],"subjects":[{"iss":"","sub":"x"}],"principal_ids":[]}"#,
            r#"{"version":1,"token_ids":[],"session_ids":[],"subjects":[],"principal_ids":[],"extra":1}"#,
        ] {
            assert!(
                matches!(
                    parse_document(bad.as_bytes(), 1 << 20),
                    Err(RedisRevocationError::Malformed(_))
                ),
                "{bad}"
            );
        }
        let long = format!(
            r#"{{"version":1,"token_ids":[{{"jti":"{}","exp":null}}],"session_ids":[],"subjects":[],"principal_ids":[]}}"#,
            "j".repeat(2000)
        );
        assert!(parse_document(long.as_bytes(), 1 << 20).is_err());
        let ok =
            r#"{"version":1,"token_ids":[],"session_ids":[],"subjects":[],"principal_ids":[]}"#;
        assert!(parse_document(ok.as_bytes(), 1 << 20).is_ok());
        assert!(parse_document(ok.as_bytes(), 10).is_err());
    }
}
