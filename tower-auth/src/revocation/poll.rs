//! Source (a): polling the token exchange service's revocation feed
//! (`GET /revocations?since=N`, see [`sts`](crate::sts)) into a [`RevocationMirror`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use principal::Timestamp;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use tokio::task::JoinHandle;

use super::RevocationMirror;
use crate::http_client::{self, BodyError, ClientSettings};
use crate::jwks::url_rule;

/// Default time between two polls.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Default timeout of one poll (connecting and the whole answer).
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(5);
/// Default bound on a feed answer, in bytes.
pub const DEFAULT_MAX_FEED_BYTES: usize = 4 << 20;
/// The longest `jti` taken from the feed; a longer one makes the answer malformed.
pub const MAX_FEED_JTI_BYTES: usize = 256;
/// The longest feed epoch taken (the STS's are 16 hex digits).
const MAX_FEED_EPOCH_BYTES: usize = 64;

/// The feed's entity tag: the list's epoch and its version, both of which a poller must
/// match for "unchanged".
pub(crate) fn feed_etag(epoch: &str, version: u64) -> String {
    format!("\"{epoch}-{version}\"")
}

/// The feed's answer (the STS's [`RevocationList`](crate::sts::RevocationList)).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedList {
    epoch: String,
    version: u64,
    revoked: Vec<FeedToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedToken {
    jti: String,
    exp: i64,
}

/// The feed URL or a setting is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedConfigError {
    /// The URL does not parse.
    #[error("revocation feed URL does not parse: {0}")]
    InvalidUrl(String),
    /// Not `https`, and not `http` on a loopback host, or it carries credentials.
    #[error("revocation feed URL must be https (http on loopback only), without credentials: {0}")]
    InsecureUrl(String),
    /// A setting is out of range.
    #[error("{setting} out of range")]
    OutOfRange {
        /// Which setting.
        setting: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
    /// [`FeedPoller::spawn`] outside a Tokio runtime.
    #[error("no Tokio runtime to run the poller on")]
    NoRuntime,
}

/// Why one poll failed (the mirror keeps its list and records the failure).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// No answer: connection refused, reset, DNS, or the timeout.
    #[error("revocation feed unreachable: {0}")]
    Unreachable(String),
    /// A redirect, which is never followed.
    #[error("revocation feed answered a redirect ({0})")]
    Redirect(u16),
    /// Any other status than 200 or 304.
    #[error("revocation feed answered HTTP {0}")]
    HttpStatus(u16),
    /// Longer than the configured bound.
    #[error("revocation feed answer larger than {0} bytes")]
    TooLarge(usize),
    /// Not JSON, or not the feed's shape.
    #[error("revocation feed answer malformed: {0}")]
    Malformed(String),
}

impl FeedError {
    /// A stable label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            FeedError::Unreachable(_) => "feed_unreachable",
            FeedError::Redirect(_) => "feed_redirect",
            FeedError::HttpStatus(_) => "feed_http_status",
            FeedError::TooLarge(_) => "feed_too_large",
            FeedError::Malformed(_) => "feed_malformed",
        }
    }
}

/// What one successful poll did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PollOutcome {
    /// The feed said nothing changed (304, or the same version): no work done.
    Unchanged,
    /// New revocations were added; the feed is now at this version.
    Updated(u64),
}

/// Polls the revocation feed of a [`TokenExchangeService`](crate::sts::TokenExchangeService)
/// into a [`RevocationMirror`]: `GET <feed>?since=<version>` with `If-None-Match` the
/// version, so an unchanged list answers 304 and costs no work (no rebuild, no version
/// bump). Through the crate's hardened HTTP client: `https` (`http` only on loopback), no
/// redirects, bounded answers, a timeout.
///
/// The feed only adds revocations, each with its token's `exp`; entries leave the mirror
/// once their token has expired past the largest leeway
/// ([`EXPIRY_GRACE_SECONDS`](super::EXPIRY_GRACE_SECONDS)). A feed whose version went back
/// (the service restarted with an empty record) is read again from the start, and what
/// the mirror held is kept: no revocation is forgotten by a restart.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tower_auth::revocation::{FeedConfigError, FeedPoller, RevocationMirror};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mirror = Arc::new(RevocationMirror::builder().max_age(Duration::from_secs(60)).build());
/// let poller = FeedPoller::builder("https://sts.internal/revocations")
///     .interval(Duration::from_secs(2))
///     .build()?;
/// let handle = poller.spawn(mirror.clone())?; // keep it: dropping it stops the polling
/// # drop(handle);
///
/// // Refused: plain http to a host that is not loopback.
/// let insecure = FeedPoller::builder("http://sts.internal/revocations").build();
/// assert!(matches!(insecure, Err(FeedConfigError::InsecureUrl(_))));
/// # Ok(())
/// # }
/// ```
pub struct FeedPoller {
    client: reqwest::Client,
    url: Url,
    interval: Duration,
    max_bytes: usize,
    /// The epoch of the list last applied (see [`RevocationList::epoch`](crate::sts::RevocationList::epoch)).
    epoch: std::sync::Mutex<Option<String>>,
}

/// Builds a [`FeedPoller`].
#[derive(Debug)]
pub struct FeedPollerBuilder {
    url: String,
    interval: Duration,
    timeout: Duration,
    max_bytes: usize,
}

impl FeedPollerBuilder {
    /// Time between two polls (at least 10 ms, at most an hour). Default:
    /// [`DEFAULT_POLL_INTERVAL`]. A revocation reaches the verifiers within about this
    /// long.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Timeout of one poll (at least 10 ms, at most a minute). Default:
    /// [`DEFAULT_POLL_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Bound on an answer, in bytes (at least 1 KiB, at most 64 MiB). Default:
    /// [`DEFAULT_MAX_FEED_BYTES`].
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The poller, its settings checked.
    pub fn build(self) -> Result<FeedPoller, FeedConfigError> {
        let url = Url::parse(&self.url)
            .map_err(|error| FeedConfigError::InvalidUrl(error.to_string()))?;
        if url_rule::check_url(&url).is_err() {
            return Err(FeedConfigError::InsecureUrl(url.to_string()));
        }
        let in_range = |value: Duration, low: Duration, high: Duration, setting| {
            if value < low || value > high {
                Err(FeedConfigError::OutOfRange { setting })
            } else {
                Ok(())
            }
        };
        let ms = Duration::from_millis;
        in_range(self.interval, ms(10), Duration::from_secs(3600), "interval")?;
        in_range(self.timeout, ms(10), Duration::from_secs(60), "timeout")?;
        if !(1024..=64 << 20).contains(&self.max_bytes) {
            return Err(FeedConfigError::OutOfRange {
                setting: "max_bytes",
            });
        }
        let client = http_client::client(ClientSettings {
            timeout: self.timeout,
            loopback: url_rule::is_loopback(&url),
            keep_alive: self.interval < Duration::from_secs(30),
        })
        .map_err(|error| FeedConfigError::Client(http_client::error_chain(&error)))?;
        Ok(FeedPoller {
            epoch: std::sync::Mutex::new(None),
            client,
            url,
            interval: self.interval,
            max_bytes: self.max_bytes,
        })
    }
}

/// Owns a running [`FeedPoller`]; dropping it stops the polling.
#[must_use = "dropping the handle stops the poller"]
pub struct FeedPollerHandle {
    task: JoinHandle<()>,
}

impl FeedPollerHandle {
    /// Whether the task has stopped (its mirror is gone, or it was aborted).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for FeedPollerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for FeedPollerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedPollerHandle")
            .field("finished", &self.task.is_finished())
            .finish()
    }
}

impl FeedPoller {
    /// A builder for the feed at `feed_url` (the service's
    /// [`REVOCATION_FEED_PATH`](crate::sts::REVOCATION_FEED_PATH) under its issuer URL).
    pub fn builder(feed_url: &str) -> FeedPollerBuilder {
        FeedPollerBuilder {
            url: feed_url.to_owned(),
            interval: DEFAULT_POLL_INTERVAL,
            timeout: DEFAULT_POLL_TIMEOUT,
            max_bytes: DEFAULT_MAX_FEED_BYTES,
        }
    }

    /// Polls now, at once, then every interval, until the handle is dropped or the
    /// mirror is gone. A failed poll is recorded in the mirror (which keeps its list)
    /// and retried at the next interval.
    pub fn spawn(self, mirror: Arc<RevocationMirror>) -> Result<FeedPollerHandle, FeedConfigError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| FeedConfigError::NoRuntime)?;
        // A weak reference: the task must not keep alive a mirror nobody checks.
        let weak = Arc::downgrade(&mirror);
        drop(mirror);
        let task = runtime.spawn(async move {
            let mut ticks = tokio::time::interval(self.interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(mirror) = weak.upgrade() else {
                    return;
                };
                // The outcome is in the mirror: its status and audit events.
                let _ = self.poll_once(&mirror).await;
            }
        });
        Ok(FeedPollerHandle { task })
    }

    /// One poll: asks for what changed since the mirror's version and applies it. A
    /// failure is recorded in the mirror and returned.
    pub async fn poll_once(&self, mirror: &RevocationMirror) -> Result<PollOutcome, FeedError> {
        let known = mirror.status().source_version.zip(self.epoch());
        let result = match self.fetch(known.as_ref()).await {
            // Another epoch, or the version went back: the service restarted and counts
            // from zero again. Read everything again and add it to what the mirror holds.
            Ok(Some(list))
                if known.as_ref().is_some_and(|(version, epoch)| {
                    list.epoch != *epoch || list.version < *version
                }) =>
            {
                tracing::warn!(
                    target: crate::authenticate::AUDIT_TARGET,
                    revocation_source = "sts_feed",
                    revocation_source_version = list.version,
                    revocation_previous_source_version = known.as_ref().map(|(version, _)| *version),
                    "revocation: feed restarted (new epoch or version went back); reading it again"
                );
                mirror.forget_source_version();
                self.fetch(None).await
            }
            other => other,
        };
        match result {
            Ok(None) => {
                mirror.confirm_unchanged();
                Ok(PollOutcome::Unchanged)
            }
            Ok(Some(list)) => {
                let version = list.version;
                *self.epoch_slot() = Some(list.epoch);
                let changed = mirror.apply_changes(version, |entries| {
                    for token in list.revoked {
                        entries
                            .add_token_id(token.jti, Some(Timestamp::from_unix_seconds(token.exp)));
                    }
                });
                mirror.remove_expired();
                Ok(if changed {
                    PollOutcome::Updated(version)
                } else {
                    PollOutcome::Unchanged
                })
            }
            Err(error) => {
                mirror.record_failure(format_args!("{} ({})", error, error.reason()));
                Err(error)
            }
        }
    }

    fn epoch_slot(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.epoch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn epoch(&self) -> Option<String> {
        self.epoch_slot().clone()
    }

    /// `None`: unchanged (304).
    async fn fetch(&self, known: Option<&(u64, String)>) -> Result<Option<FeedList>, FeedError> {
        let mut url = self.url.clone();
        url.query_pairs_mut().append_pair(
            "since",
            &known.map_or(0, |(version, _)| *version).to_string(),
        );
        let mut request = self.client.get(url);
        if let Some((version, epoch)) = known {
            request = request.header(IF_NONE_MATCH, feed_etag(epoch, *version));
        }
        let mut response = request
            .send()
            .await
            .map_err(|error| FeedError::Unreachable(http_client::error_chain(&error)))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        if status.is_redirection() {
            return Err(FeedError::Redirect(status.as_u16()));
        }
        if status != StatusCode::OK {
            return Err(FeedError::HttpStatus(status.as_u16()));
        }
        let json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(http_client::is_json_media_type);
        if !json {
            return Err(FeedError::Malformed("not application/json".into()));
        }
        let etag = response.headers().get(ETAG).cloned();
        let body = http_client::read_bounded(&mut response, self.max_bytes)
            .await
            .map_err(|error| match error {
                BodyError::TooLarge => FeedError::TooLarge(self.max_bytes),
                BodyError::Transport(error) => {
                    FeedError::Unreachable(http_client::error_chain(&error))
                }
            })?;
        let list: FeedList = serde_json::from_slice(&body)
            .map_err(|error| FeedError::Malformed(error.to_string()))?;
        if list
            .revoked
            .iter()
            .any(|token| token.jti.is_empty() || token.jti.len() > MAX_FEED_JTI_BYTES)
        {
            return Err(FeedError::Malformed("a jti is empty or too long".into()));
        }
        if list.epoch.is_empty()
            || list.epoch.len() > MAX_FEED_EPOCH_BYTES
            || !list
                .epoch
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        {
            return Err(FeedError::Malformed(
                "the epoch is empty, too long or not alphanumeric".into(),
            ));
        }
        // The ETag, when sent, names the same epoch and version as the body.
        if etag
            .is_some_and(|etag| etag.as_bytes() != feed_etag(&list.epoch, list.version).as_bytes())
        {
            return Err(FeedError::Malformed("ETag and version disagree".into()));
        }
        Ok(Some(list))
    }
}

impl fmt::Debug for FeedPoller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedPoller")
            .field("url", &self.url.as_str())
            .field("interval", &self.interval)
            .field("max_bytes", &self.max_bytes)
            .finish()
    }
}
