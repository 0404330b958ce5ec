//! `[revocation]`: the [`RevocationMirror`] and the source that keeps it in step, checked at
//! load and started by the service ([`RevocationConfig::start`]).
//!
//! ```toml
//! [revocation]
//! max_age_seconds = 60              # default 300; past it, the stale policy applies
//! stale_policy = "fail_closed"      # or "degrade"
//!
//! [revocation.feed]                 # the STS feed, polled (or [revocation.redis])
//! url = "https://sts.internal/revocations"
//! interval_ms = 2000
//! timeout_ms = 5000
//! max_bytes = 4194304
//!
//! # [revocation.redis]              # feature `revocation-redis`
//! # url_env = "BATON_REDIS_URL"     # or url_file; `url` only without credentials
//! # snapshot_key = "baton:revocations"
//! # channel = "baton:revocations"
//! # resync_interval_ms = 10000
//! # timeout_ms = 2000
//! # max_bytes = 4194304
//! ```

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use principal::{Clock, SystemClock};
use serde::Deserialize;

use super::locate::FieldPath;
use super::sections::Refusal;
use crate::revocation::{
    DEFAULT_MAX_AGE, FeedConfigError, FeedPoller, FeedPollerHandle, RevocationMirror, StalePolicy,
};

/// `[revocation]`: the mirror's age limit and policy, and exactly one source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RevocationSection {
    #[serde(default)]
    max_age_seconds: Option<u64>,
    #[serde(default)]
    stale_policy: StalePolicySetting,
    #[serde(default)]
    feed: Option<FeedSection>,
    #[serde(default)]
    redis: Option<RedisSection>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StalePolicySetting {
    #[default]
    FailClosed,
    Degrade,
}

/// `[revocation.feed]`: the keys of [`FeedPollerBuilder`](crate::revocation::FeedPollerBuilder).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedSection {
    url: String,
    #[serde(default)]
    interval_ms: Option<u64>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    max_bytes: Option<usize>,
}

/// `[revocation.redis]`: the keys of `revocation::redis::RedisConfig`. Read in every
/// build, so that a build without the feature refuses it by name instead of calling it
/// an unknown field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(feature = "revocation-redis"), allow(dead_code))]
struct RedisSection {
    /// Only without credentials; a URL with a password comes from `url_file` or `url_env`.
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    url_file: Option<String>,
    #[serde(default)]
    url_env: Option<String>,
    #[serde(default)]
    snapshot_key: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    resync_interval_ms: Option<u64>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    max_bytes: Option<usize>,
}

/// The `[revocation]` section, checked: a [`RevocationMirror`]'s settings and its source
/// (the STS feed's [`FeedPoller`], or the Redis subscriber), ready to
/// [`start`](Self::start) on the service's runtime.
///
/// ```
/// use std::time::Duration;
/// use tower_auth::config::ServiceConfig;
/// use tower_auth::revocation::{MirrorState, RevocationCheck, StalePolicy};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = ServiceConfig::from_toml("svc.toml", r#"
/// [revocation]
/// max_age_seconds = 60
/// [revocation.feed]
/// url = "https://sts.internal/revocations"
/// interval_ms = 2000
/// "#)?;
/// let revocation = config.revocation.expect("a [revocation] section");
/// assert_eq!(revocation.max_age(), Duration::from_secs(60));
/// assert_eq!(revocation.stale_policy(), StalePolicy::FailClosed);
///
/// // Give `mirror` to the verifiers; keep `handle`: dropping it stops the source.
/// let (mirror, handle) = revocation.start()?;
/// assert_eq!(mirror.status().state, MirrorState::NeverSynced);
/// # drop(handle);
///
/// // Refused: a feed over plain http to a host that is not loopback.
/// let error = ServiceConfig::from_toml("svc.toml", r#"
/// [revocation.feed]
/// url = "http://sts.internal/revocations"
/// "#).unwrap_err();
/// assert_eq!(error.setting_reason(), Some("insecure_feed_url"));
/// assert_eq!((error.line(), error.field()), (Some(3), "revocation.feed.url"));
/// # Ok(())
/// # }
/// ```
pub struct RevocationConfig {
    max_age: Duration,
    policy: StalePolicy,
    clock: Arc<dyn Clock>,
    source: Source,
}

enum Source {
    Feed(FeedPoller),
    #[cfg(feature = "revocation-redis")]
    Redis(crate::revocation::redis::RedisConfig),
}

/// Owns the running revocation source of a [`RevocationConfig::start`]; dropping it stops
/// the source (the mirror then goes stale, and its policy applies).
#[must_use = "dropping the handle stops the revocation source"]
pub struct RevocationSourceHandle {
    inner: HandleInner,
}

enum HandleInner {
    Feed(FeedPollerHandle),
    #[cfg(feature = "revocation-redis")]
    Redis(crate::revocation::redis::RedisSubscriberHandle),
}

impl RevocationSourceHandle {
    /// Whether the source has stopped (its mirror is gone, or it was aborted).
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            HandleInner::Feed(handle) => handle.is_finished(),
            #[cfg(feature = "revocation-redis")]
            HandleInner::Redis(handle) => handle.is_finished(),
        }
    }
}

/// [`RevocationConfig::start`] could not start the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationStartError {
    /// Not called inside a Tokio runtime.
    #[error("no Tokio runtime to run the revocation source on")]
    NoRuntime,
}

impl RevocationStartError {
    /// A stable snake_case label for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            RevocationStartError::NoRuntime => "revocation_no_runtime",
        }
    }
}

impl RevocationConfig {
    /// The clock the mirror's age is measured by: give it the verifiers' clock. Default:
    /// the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The mirror's maximum age (`max_age_seconds`).
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// What verifiers do once the mirror is older than that (`stale_policy`).
    pub fn stale_policy(&self) -> StalePolicy {
        self.policy
    }

    /// The source's name in the mirror's audit events: `sts_feed` or `redis`.
    pub fn source_name(&self) -> &'static str {
        match &self.source {
            Source::Feed(_) => "sts_feed",
            #[cfg(feature = "revocation-redis")]
            Source::Redis(_) => "redis",
        }
    }

    /// Builds the mirror (empty, never synced: with `fail_closed` every token is refused
    /// until the first sync) and starts its source on the current Tokio runtime. Give the
    /// mirror to the verifiers as their revocation check; keep the handle.
    ///
    /// # Errors
    /// [`RevocationStartError::NoRuntime`] outside a Tokio runtime.
    pub fn start(
        self,
    ) -> Result<(Arc<RevocationMirror>, RevocationSourceHandle), RevocationStartError> {
        let mirror = Arc::new(
            RevocationMirror::builder()
                .max_age(self.max_age)
                .stale_policy(self.policy)
                .clock(self.clock.clone())
                .source_name(self.source_name())
                .build(),
        );
        let inner = match self.source {
            Source::Feed(poller) => HandleInner::Feed(poller.spawn(mirror.clone()).map_err(
                // The settings were checked at load: only the runtime can be missing.
                |_| RevocationStartError::NoRuntime,
            )?),
            #[cfg(feature = "revocation-redis")]
            Source::Redis(config) => HandleInner::Redis(
                crate::revocation::redis::RedisSubscriber::spawn(config, mirror.clone())
                    .map_err(|_| RevocationStartError::NoRuntime)?,
            ),
        };
        Ok((mirror, RevocationSourceHandle { inner }))
    }
}

impl fmt::Debug for RevocationConfig {
    // The Redis URL may hold a password: never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationConfig")
            .field("max_age", &self.max_age)
            .field("policy", &self.policy)
            .field("source", &self.source_name())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RevocationSourceHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationSourceHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// A section that needs a feature this build does not have: refused by name.
#[cfg_attr(all(feature = "revocation-redis", feature = "mtls"), allow(dead_code))]
pub(super) fn feature_missing(at: FieldPath, feature: &str) -> Refusal {
    Refusal::at(
        at,
        "feature_disabled",
        format!(
            "this build of tower-auth has no `{feature}` feature: enable it to use this section"
        ),
    )
}

pub(super) fn revocation(
    section: &RevocationSection,
    base: &Path,
) -> Result<RevocationConfig, Refusal> {
    let at = FieldPath::default().key("revocation");
    let max_age = match section.max_age_seconds {
        // The mirror's minimum is one second (it would round 0 up): say so instead.
        Some(0) => {
            return Err(Refusal::at(
                at.clone().key("max_age_seconds"),
                "out_of_range",
                "max_age_seconds must be at least 1",
            ));
        }
        Some(seconds) => Duration::from_secs(seconds),
        None => DEFAULT_MAX_AGE,
    };
    let policy = match section.stale_policy {
        StalePolicySetting::FailClosed => StalePolicy::FailClosed,
        StalePolicySetting::Degrade => StalePolicy::Degrade,
    };
    let source = match (&section.feed, &section.redis) {
        (Some(feed), None) => Source::Feed(feed_poller(feed, &at.clone().key("feed"))?),
        (None, Some(redis)) => redis_source(redis, &at.clone().key("redis"), base)?,
        (Some(_), Some(_)) => {
            return Err(Refusal::at(
                at.key("redis"),
                "two_sources",
                "give one source: [revocation.feed] or [revocation.redis]",
            ));
        }
        (None, None) => {
            return Err(Refusal::at(
                at,
                "no_source",
                "a revocation mirror needs a source: [revocation.feed] or [revocation.redis]",
            ));
        }
    };
    Ok(RevocationConfig {
        max_age,
        policy,
        clock: Arc::new(SystemClock),
        source,
    })
}

fn feed_poller(section: &FeedSection, at: &FieldPath) -> Result<FeedPoller, Refusal> {
    let mut builder = FeedPoller::builder(&section.url);
    if let Some(ms) = section.interval_ms {
        builder = builder.interval(Duration::from_millis(ms));
    }
    if let Some(ms) = section.timeout_ms {
        builder = builder.timeout(Duration::from_millis(ms));
    }
    if let Some(bytes) = section.max_bytes {
        builder = builder.max_bytes(bytes);
    }
    builder.build().map_err(|error| {
        let (key, reason) = match &error {
            FeedConfigError::InvalidUrl(_) => ("url", "invalid_feed_url"),
            FeedConfigError::InsecureUrl(_) => ("url", "insecure_feed_url"),
            FeedConfigError::OutOfRange { setting } => (
                match *setting {
                    "interval" => "interval_ms",
                    "timeout" => "timeout_ms",
                    _ => "max_bytes",
                },
                "out_of_range",
            ),
            _ => ("", "feed_client"),
        };
        Refusal::at(at.clone().key(key), reason, &error)
    })
}

#[cfg(not(feature = "revocation-redis"))]
fn redis_source(_: &RedisSection, at: &FieldPath, _: &Path) -> Result<Source, Refusal> {
    Err(feature_missing(at.clone(), "revocation-redis"))
}

#[cfg(feature = "revocation-redis")]
fn redis_source(section: &RedisSection, at: &FieldPath, base: &Path) -> Result<Source, Refusal> {
    use super::sections::read_secret;
    use crate::revocation::redis::RedisConfig;

    let (url, url_key) = match &section.url {
        Some(url) => {
            if section.url_file.is_some() || section.url_env.is_some() {
                return Err(Refusal::at(
                    at.clone().key("url"),
                    "two_url_sources",
                    "give one of url, url_file, url_env",
                ));
            }
            if has_credentials(url) {
                // Not echoed: the message names the key, never the value.
                return Err(Refusal::at(
                    at.clone().key("url"),
                    "credentials_inline",
                    "this URL carries credentials: put it in url_file or url_env",
                ));
            }
            (url.clone(), "url")
        }
        None => {
            let url = read_secret(
                base,
                at,
                "url",
                section.url_file.as_deref(),
                section.url_env.as_deref(),
            )?;
            let key = if section.url_file.is_some() {
                "url_file"
            } else {
                "url_env"
            };
            (url, key)
        }
    };
    let mut config = RedisConfig::new(url);
    if section.snapshot_key.is_some() || section.channel.is_some() {
        let snapshot_key = section
            .snapshot_key
            .clone()
            .unwrap_or_else(|| config.snapshot_key.clone());
        let channel = section
            .channel
            .clone()
            .unwrap_or_else(|| config.channel.clone());
        config = config.with_names(snapshot_key, channel);
    }
    if let Some(ms) = section.resync_interval_ms {
        config = config.with_resync_interval(Duration::from_millis(ms));
    }
    if let Some(ms) = section.timeout_ms {
        config = config.with_timeout(Duration::from_millis(ms));
    }
    if let Some(bytes) = section.max_bytes {
        config.max_bytes = bytes;
    }
    // The subscriber's own checks, now rather than at start.
    config.client().map_err(|error| {
        use crate::revocation::redis::RedisRevocationError;
        let key = match &error {
            RedisRevocationError::OutOfRange { setting } => match *setting {
                "resync_interval" => "resync_interval_ms",
                "timeout" => "timeout_ms",
                "max_bytes" => "max_bytes",
                _ if section.snapshot_key.as_deref() == Some("") => "snapshot_key",
                _ => "channel",
            },
            _ => url_key,
        };
        Refusal::at(at.clone().key(key), error.reason(), &error)
    })?;
    Ok(Source::Redis(config))
}

/// Whether a Redis URL carries a user, a password or a `pass` query parameter.
#[cfg(feature = "revocation-redis")]
fn has_credentials(url: &str) -> bool {
    match reqwest::Url::parse(url) {
        Ok(url) => {
            !url.username().is_empty()
                || url.password().is_some()
                || url
                    .query_pairs()
                    .any(|(key, _)| key.to_ascii_lowercase().contains("pass"))
        }
        // Unparsable here: refused later by the client, without echoing it.
        Err(_) => url.contains('@'),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_section_of_a_missing_feature_is_refused_by_name() {
        // What a build without `revocation-redis` answers to [revocation.redis] (the
        // workspace's tests always build with every feature).
        let refusal = feature_missing(
            FieldPath::default().key("revocation.redis"),
            "revocation-redis",
        );
        assert_eq!(refusal.field.to_string(), "revocation.redis");
        assert_eq!(refusal.reason, "feature_disabled");
        assert!(
            refusal.message.contains("`revocation-redis` feature"),
            "{}",
            refusal.message
        );
    }
}
