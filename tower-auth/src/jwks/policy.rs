//! The knobs of the key cache, each checked when built, and the time arithmetic that uses
//! them: plain functions of `now`, so tests move a [`principal::TestClock`] and never sleep.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use principal::Timestamp;

use super::error::JwksConfigError;

/// Longest `default_ttl`/`max_ttl`/`max_staleness` accepted: seven days. Longer would keep a
/// removed (perhaps compromised) key alive for longer than any operator means to.
const MAX_LIFETIME_SECONDS: u64 = 7 * 24 * 3600;
/// Longest fetch timeout accepted. Lookups waiting on a refetch wait for its requests.
const MAX_FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest `max_body_bytes` accepted. A real JWKS is a few KiB.
const MAX_BODY_BYTES_LIMIT: usize = 16 * 1024 * 1024;
/// Largest `max_keys` accepted.
const MAX_KEYS_LIMIT: usize = 1_000;
/// Smallest RSA modulus accepted, in bits (NIST SP 800-131A; RFC 7518 §3.3 requires 2048).
pub(crate) const MIN_RSA_BITS: u32 = 2048;
/// Largest RSA modulus accepted, in bits: the largest aws-lc-rs verifies.
pub(crate) const MAX_RSA_BITS: u32 = 8192;

/// How a [`KeyCache`](super::KeyCache) refreshes, and how long it keeps serving without the
/// IdP. Every field has a default chosen to fail closed; see the module docs for why each.
///
/// Times are handled in whole seconds (Baton's [`Timestamp`]); sub-second parts are dropped,
/// except for `fetch_timeout`, which goes to the HTTP client as given.
///
/// ```
/// use std::time::Duration;
/// use tower_auth::jwks::{JwksConfigError, RefreshPolicy};
///
/// // Accepted: a tighter ceiling than the default.
/// let policy = RefreshPolicy::builder().max_ttl(Duration::from_secs(600)).build()?;
/// assert_eq!(policy.max_ttl(), Duration::from_secs(600));
///
/// // Rejected: a floor above the ceiling.
/// let err = RefreshPolicy::builder()
///     .min_ttl(Duration::from_secs(900))
///     .max_ttl(Duration::from_secs(600))
///     .build()
///     .unwrap_err();
/// assert_eq!(err.reason(), "ttl_out_of_order");
/// # Ok::<(), JwksConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshPolicy {
    default_ttl: u64,
    min_ttl: u64,
    max_ttl: u64,
    unknown_kid_cooldown: u64,
    max_staleness: u64,
    failure_retry: u64,
    rediscovery_interval: u64,
    fetch_timeout: Duration,
    max_body_bytes: usize,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            default_ttl: RefreshPolicy::DEFAULT_TTL.as_secs(),
            min_ttl: RefreshPolicy::DEFAULT_MIN_TTL.as_secs(),
            max_ttl: RefreshPolicy::DEFAULT_MAX_TTL.as_secs(),
            unknown_kid_cooldown: RefreshPolicy::DEFAULT_UNKNOWN_KID_COOLDOWN.as_secs(),
            max_staleness: RefreshPolicy::DEFAULT_MAX_STALENESS.as_secs(),
            failure_retry: RefreshPolicy::DEFAULT_FAILURE_RETRY.as_secs(),
            rediscovery_interval: RefreshPolicy::DEFAULT_REDISCOVERY_INTERVAL.as_secs(),
            fetch_timeout: RefreshPolicy::DEFAULT_FETCH_TIMEOUT,
            max_body_bytes: RefreshPolicy::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl RefreshPolicy {
    /// Lifetime of a key set whose answer had no `Cache-Control: max-age`: 5 minutes.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
    /// Floor on `max-age`: 1 minute, so `max-age=0` or `no-cache` cannot make every
    /// instance hammer the IdP.
    pub const DEFAULT_MIN_TTL: Duration = Duration::from_secs(60);
    /// Ceiling on `max-age`: 1 hour, so a key the IdP removed (perhaps compromised) stops
    /// being accepted within an hour whatever `max-age` says.
    pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(3600);
    /// At most one refetch for unknown `kid`s per 30 seconds: a rotated key is picked up at
    /// once, a flood of made-up `kid`s costs the IdP two requests a minute.
    pub const DEFAULT_UNKNOWN_KID_COOLDOWN: Duration = Duration::from_secs(30);
    /// An expired set keeps serving for 1 hour while the IdP cannot be reached; after that
    /// verification fails closed. An hour hides short outages, and tokens that old were
    /// minted before the outage began.
    pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(3600);
    /// After a failed refresh, the background refresher tries again in 30 seconds.
    pub const DEFAULT_FAILURE_RETRY: Duration = Duration::from_secs(30);
    /// Discovered metadata (the `jwks_uri`) is read again every 15 minutes, and kept
    /// meanwhile, failed JWKS fetches included: a moved JWKS is found well within the
    /// default maximum staleness, and a JWKS outage does not add metadata requests.
    pub const DEFAULT_REDISCOVERY_INTERVAL: Duration = Duration::from_secs(900);
    /// Each HTTP request (the metadata document and the JWKS are one each) gives up after
    /// 5 seconds, from connecting to the last byte of the body.
    pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
    /// A JWKS or metadata body may be at most 1 MiB, counted while reading.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

    /// A builder starting from the defaults.
    pub fn builder() -> RefreshPolicyBuilder {
        RefreshPolicyBuilder {
            policy: RefreshPolicy::default(),
        }
    }

    /// Lifetime without `Cache-Control: max-age`.
    pub fn default_ttl(&self) -> Duration {
        Duration::from_secs(self.default_ttl)
    }

    /// Floor on `max-age`.
    pub fn min_ttl(&self) -> Duration {
        Duration::from_secs(self.min_ttl)
    }

    /// Ceiling on `max-age`.
    pub fn max_ttl(&self) -> Duration {
        Duration::from_secs(self.max_ttl)
    }

    /// Least time between two refetches caused by unknown `kid`s.
    pub fn unknown_kid_cooldown(&self) -> Duration {
        Duration::from_secs(self.unknown_kid_cooldown)
    }

    /// How long an expired set keeps serving while it cannot be refreshed.
    pub fn max_staleness(&self) -> Duration {
        Duration::from_secs(self.max_staleness)
    }

    /// Delay before the background refresher retries a failed refresh.
    pub fn failure_retry(&self) -> Duration {
        Duration::from_secs(self.failure_retry)
    }

    /// How long a `jwks_uri` found by discovery is used before the metadata is read again.
    pub fn rediscovery_interval(&self) -> Duration {
        Duration::from_secs(self.rediscovery_interval)
    }

    pub(crate) fn rediscovery_interval_seconds(&self) -> u64 {
        self.rediscovery_interval
    }

    /// Timeout of one HTTP request (a metadata document or a JWKS), from connecting to the
    /// last byte of the body. A fetch through discovery makes two requests when the
    /// metadata is due, so it may take twice this long.
    pub fn fetch_timeout(&self) -> Duration {
        self.fetch_timeout
    }

    /// Largest body accepted, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The lifetime of a set fetched with the given `max-age` (seconds, `None` when the
    /// answer had none): `default_ttl` when absent, then held within `min_ttl..=max_ttl`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_auth::jwks::RefreshPolicy;
    ///
    /// let policy = RefreshPolicy::default();
    /// assert_eq!(policy.ttl_for(Some(600)), Duration::from_secs(600)); // honoured
    /// assert_eq!(policy.ttl_for(Some(0)), Duration::from_secs(60)); // raised to the floor
    /// assert_eq!(policy.ttl_for(Some(86_400)), Duration::from_secs(3600)); // cut to the ceiling
    /// assert_eq!(policy.ttl_for(None), Duration::from_secs(300)); // the default
    /// ```
    pub fn ttl_for(&self, max_age: Option<u64>) -> Duration {
        Duration::from_secs(self.ttl_seconds(max_age))
    }

    fn ttl_seconds(&self, max_age: Option<u64>) -> u64 {
        max_age
            .unwrap_or(self.default_ttl)
            .clamp(self.min_ttl, self.max_ttl)
    }

    /// When a set fetched at `fetched_at` with `max_age` stops being fresh (a background
    /// refresh becomes due).
    pub fn expires_at(&self, fetched_at: Timestamp, max_age: Option<u64>) -> Timestamp {
        fetched_at.add_seconds(seconds_i64(self.ttl_seconds(max_age)))
    }

    /// The last instant a set expiring at `expires_at` may still serve: `max_staleness`
    /// later. Past it, lookups fail closed.
    pub fn serve_until(&self, expires_at: Timestamp) -> Timestamp {
        expires_at.add_seconds(seconds_i64(self.max_staleness))
    }

    /// When the background refresher retries after a failure at `failed_at`.
    pub fn retry_at(&self, failed_at: Timestamp) -> Timestamp {
        failed_at.add_seconds(seconds_i64(self.failure_retry))
    }

    /// Whether an unknown `kid` may cause a refetch at `now`, given the time of the last
    /// refetch an unknown `kid` caused. At most one per `unknown_kid_cooldown`.
    ///
    /// ```
    /// use principal::Timestamp;
    /// use tower_auth::jwks::RefreshPolicy;
    ///
    /// let policy = RefreshPolicy::default(); // 30 s cooldown
    /// let t = Timestamp::from_unix_seconds(1_000);
    /// assert!(policy.unknown_kid_refetch_allowed(None, t));
    /// assert!(!policy.unknown_kid_refetch_allowed(Some(t), t.add_seconds(29)));
    /// assert!(policy.unknown_kid_refetch_allowed(Some(t), t.add_seconds(30)));
    /// ```
    pub fn unknown_kid_refetch_allowed(
        &self,
        last_refetch: Option<Timestamp>,
        now: Timestamp,
    ) -> bool {
        match last_refetch {
            None => true,
            Some(last) => now >= last.add_seconds(seconds_i64(self.unknown_kid_cooldown)),
        }
    }
}

fn seconds_i64(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

/// Builds a [`RefreshPolicy`]; [`build`](RefreshPolicyBuilder::build) checks it.
#[derive(Clone, Debug)]
pub struct RefreshPolicyBuilder {
    policy: RefreshPolicy,
}

impl RefreshPolicyBuilder {
    /// Lifetime without `Cache-Control: max-age` (default 5 min).
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.policy.default_ttl = ttl.as_secs();
        self
    }

    /// Floor on `max-age` (default 1 min).
    pub fn min_ttl(mut self, ttl: Duration) -> Self {
        self.policy.min_ttl = ttl.as_secs();
        self
    }

    /// Ceiling on `max-age` (default 1 h).
    pub fn max_ttl(mut self, ttl: Duration) -> Self {
        self.policy.max_ttl = ttl.as_secs();
        self
    }

    /// Least time between two refetches caused by unknown `kid`s (default 30 s).
    pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
        self.policy.unknown_kid_cooldown = cooldown.as_secs();
        self
    }

    /// How long an expired set keeps serving while it cannot be refreshed (default 1 h;
    /// zero fails closed as soon as the set expires).
    pub fn max_staleness(mut self, staleness: Duration) -> Self {
        self.policy.max_staleness = staleness.as_secs();
        self
    }

    /// Delay before retrying a failed background refresh (default 30 s).
    pub fn failure_retry(mut self, retry: Duration) -> Self {
        self.policy.failure_retry = retry.as_secs();
        self
    }

    /// How long a `jwks_uri` found by discovery is used before the metadata is read again
    /// (default 15 min, at most 7 days). A failed JWKS fetch does not make it forgotten.
    pub fn rediscovery_interval(mut self, interval: Duration) -> Self {
        self.policy.rediscovery_interval = interval.as_secs();
        self
    }

    /// Timeout of one HTTP request, metadata or JWKS, from connecting to the last byte of
    /// the body (default 5 s, at most 60 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.policy.fetch_timeout = timeout;
        self
    }

    /// Largest body accepted (default 1 MiB, at most 16 MiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.policy.max_body_bytes = bytes;
        self
    }

    /// Checks the policy: every duration but `max_staleness` at least one second,
    /// `min_ttl <= default_ttl <= max_ttl`, lifetimes at most seven days, the fetch timeout
    /// within (0, 60 s], the body limit within [1 KiB, 16 MiB].
    pub fn build(self) -> Result<RefreshPolicy, JwksConfigError> {
        let p = self.policy;
        for (field, value) in [
            ("min_ttl", p.min_ttl),
            ("unknown_kid_cooldown", p.unknown_kid_cooldown),
            ("failure_retry", p.failure_retry),
            ("rediscovery_interval", p.rediscovery_interval),
        ] {
            if value == 0 {
                return Err(JwksConfigError::Zero { field });
            }
        }
        if !(p.min_ttl <= p.default_ttl && p.default_ttl <= p.max_ttl) {
            return Err(JwksConfigError::TtlOutOfOrder {
                min_ttl: p.min_ttl,
                default_ttl: p.default_ttl,
                max_ttl: p.max_ttl,
            });
        }
        for (field, value) in [
            ("max_ttl", p.max_ttl),
            ("max_staleness", p.max_staleness),
            ("unknown_kid_cooldown", p.unknown_kid_cooldown),
            ("failure_retry", p.failure_retry),
            ("rediscovery_interval", p.rediscovery_interval),
        ] {
            if value > MAX_LIFETIME_SECONDS {
                return Err(JwksConfigError::TooLarge {
                    field,
                    value,
                    limit: MAX_LIFETIME_SECONDS,
                });
            }
        }
        if p.fetch_timeout.is_zero() {
            return Err(JwksConfigError::Zero {
                field: "fetch_timeout",
            });
        }
        if p.fetch_timeout > MAX_FETCH_TIMEOUT {
            return Err(JwksConfigError::TooLarge {
                field: "fetch_timeout",
                value: p.fetch_timeout.as_secs(),
                limit: MAX_FETCH_TIMEOUT.as_secs(),
            });
        }
        if p.max_body_bytes < 1024 {
            return Err(JwksConfigError::TooSmall {
                field: "max_body_bytes",
                value: p.max_body_bytes as u64,
                minimum: 1024,
            });
        }
        if p.max_body_bytes > MAX_BODY_BYTES_LIMIT {
            return Err(JwksConfigError::TooLarge {
                field: "max_body_bytes",
                value: p.max_body_bytes as u64,
                limit: MAX_BODY_BYTES_LIMIT as u64,
            });
        }
        Ok(p)
    }
}

/// What [`KeyCache::warm`](super::KeyCache::warm) does when the IdP cannot give a key set
/// at start-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartupPolicy {
    /// Return the error: the service should not start without keys. The default.
    #[default]
    FailIfUnavailable,
    /// Log a warning and start with no keys: tokens are rejected (`KeyError::NotLoaded`)
    /// until a refetch succeeds. For services that must start while their IdP is down.
    ContinueIfUnavailable,
}

/// Which keys a key set loaded from a JWKS may hold.
///
/// ```
/// use jsonwebtoken::Algorithm;
/// use tower_auth::jwks::{JwksConfigError, KeySetPolicy};
///
/// // Accepted: an issuer that signs with ES256 only.
/// let policy = KeySetPolicy::builder().allowed_algorithms([Algorithm::ES256]).build()?;
/// assert!(policy.allows(Algorithm::ES256));
/// assert!(!policy.allows(Algorithm::RS256));
///
/// // Rejected: HMAC never comes from a fetched JWKS.
/// let err = KeySetPolicy::builder().allowed_algorithms([Algorithm::HS256]).build().unwrap_err();
/// assert_eq!(err.reason(), "hmac_for_fetched_keys");
/// # Ok::<(), JwksConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySetPolicy {
    allowed: Vec<Algorithm>,
    min_rsa_bits: u32,
    max_keys: usize,
}

impl Default for KeySetPolicy {
    fn default() -> Self {
        KeySetPolicy {
            allowed: KeySetPolicy::ASYMMETRIC_ALGORITHMS.to_vec(),
            min_rsa_bits: MIN_RSA_BITS,
            max_keys: KeySetPolicy::DEFAULT_MAX_KEYS,
        }
    }
}

impl KeySetPolicy {
    /// Every algorithm a fetched JWKS may carry; the default allow-list.
    pub const ASYMMETRIC_ALGORITHMS: [Algorithm; 9] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];
    /// At most 64 keys in a set: real IdPs publish a handful.
    pub const DEFAULT_MAX_KEYS: usize = 64;

    /// A builder starting from the defaults.
    pub fn builder() -> KeySetPolicyBuilder {
        KeySetPolicyBuilder {
            policy: KeySetPolicy::default(),
        }
    }

    /// Whether a key with this algorithm may be loaded.
    pub fn allows(&self, algorithm: Algorithm) -> bool {
        self.allowed.contains(&algorithm)
    }

    /// The allowed algorithms.
    pub fn allowed_algorithms(&self) -> &[Algorithm] {
        &self.allowed
    }

    /// Smallest RSA modulus loaded, in bits.
    pub fn min_rsa_bits(&self) -> u32 {
        self.min_rsa_bits
    }

    /// Most keys a JWKS document may list.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }
}

/// Builds a [`KeySetPolicy`]; [`build`](KeySetPolicyBuilder::build) checks it.
#[derive(Clone, Debug)]
pub struct KeySetPolicyBuilder {
    policy: KeySetPolicy,
}

impl KeySetPolicyBuilder {
    /// The algorithms keys may have (default: every asymmetric one). HMAC is refused.
    pub fn allowed_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.policy.allowed = Vec::new();
        for algorithm in algorithms {
            if !self.policy.allowed.contains(&algorithm) {
                self.policy.allowed.push(algorithm);
            }
        }
        self
    }

    /// Smallest RSA modulus, bits (default and minimum 2048, at most 8192).
    pub fn min_rsa_bits(mut self, bits: u32) -> Self {
        self.policy.min_rsa_bits = bits;
        self
    }

    /// Most keys a JWKS may list (default 64, at most 1000).
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.policy.max_keys = keys;
        self
    }

    /// Checks the policy.
    pub fn build(self) -> Result<KeySetPolicy, JwksConfigError> {
        let p = self.policy;
        if p.allowed.is_empty() {
            return Err(JwksConfigError::NoAlgorithmsAllowed);
        }
        if let Some(&algorithm) = p
            .allowed
            .iter()
            .find(|a| !KeySetPolicy::ASYMMETRIC_ALGORITHMS.contains(a))
        {
            return Err(JwksConfigError::HmacForFetchedKeys { algorithm });
        }
        if p.min_rsa_bits < MIN_RSA_BITS {
            return Err(JwksConfigError::TooSmall {
                field: "min_rsa_bits",
                value: u64::from(p.min_rsa_bits),
                minimum: u64::from(MIN_RSA_BITS),
            });
        }
        if p.min_rsa_bits > MAX_RSA_BITS {
            return Err(JwksConfigError::TooLarge {
                field: "min_rsa_bits",
                value: u64::from(p.min_rsa_bits),
                limit: u64::from(MAX_RSA_BITS),
            });
        }
        if p.max_keys == 0 {
            return Err(JwksConfigError::Zero { field: "max_keys" });
        }
        if p.max_keys > MAX_KEYS_LIMIT {
            return Err(JwksConfigError::TooLarge {
                field: "max_keys",
                value: p.max_keys as u64,
                limit: MAX_KEYS_LIMIT as u64,
            });
        }
        Ok(p)
    }
}

/// The freshness lifetime, in seconds, that `Cache-Control` (and `Age`) header values give
/// (RFC 9111 §4.2.1, §4.2.3): `max-age` less `Age`; `no-store`/`no-cache` count as 0 (the
/// policy's floor then applies); `None` when no `max-age` is present. `s-maxage` and
/// `Expires` are not read.
///
/// ```
/// use tower_auth::jwks::freshness_lifetime;
///
/// assert_eq!(freshness_lifetime(["public, max-age=600"], None), Some(600));
/// assert_eq!(freshness_lifetime(["max-age=600"], Some("100")), Some(500));
/// assert_eq!(freshness_lifetime(["no-cache"], None), Some(0));
/// assert_eq!(freshness_lifetime(["max-age=soon"], None), None); // not a number: ignored
/// ```
pub fn freshness_lifetime<'a>(
    cache_control: impl IntoIterator<Item = &'a str>,
    age: Option<&str>,
) -> Option<u64> {
    let mut max_age: Option<u64> = None;
    let mut uncacheable = false;
    for value in cache_control {
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                uncacheable = true;
            } else if name.eq_ignore_ascii_case("max-age") {
                // RFC 9111 §1.2.2: delta-seconds too large to hold are the largest value.
                let parsed = argument
                    .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
                    .map(|a| a.parse::<u64>().unwrap_or(u64::MAX));
                if let Some(seconds) = parsed {
                    // Conflicting directives: trust the shortest.
                    max_age = Some(max_age.map_or(seconds, |m| m.min(seconds)));
                }
            }
        }
    }
    if uncacheable {
        return Some(0);
    }
    let age = age
        .map(str::trim)
        .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
        .map(|a| a.parse::<u64>().unwrap_or(u64::MAX))
        .unwrap_or(0);
    max_age.map(|m| m.saturating_sub(age))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use principal::{Clock, TestClock};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn ttl_is_held_between_floor_and_ceiling() {
        let policy = RefreshPolicy::builder()
            .min_ttl(secs(10))
            .default_ttl(secs(50))
            .max_ttl(secs(100))
            .build()
            .unwrap();
        assert_eq!(policy.ttl_for(Some(0)), secs(10));
        assert_eq!(policy.ttl_for(Some(9)), secs(10));
        assert_eq!(policy.ttl_for(Some(10)), secs(10));
        assert_eq!(policy.ttl_for(Some(42)), secs(42));
        assert_eq!(policy.ttl_for(Some(100)), secs(100));
        assert_eq!(policy.ttl_for(Some(101)), secs(100));
        assert_eq!(policy.ttl_for(Some(u64::MAX)), secs(100));
        assert_eq!(policy.ttl_for(None), secs(50));
    }

    #[test]
    fn expiry_and_staleness_follow_the_clock() {
        let clock = TestClock::new(Timestamp::from_unix_seconds(1_000));
        let policy = RefreshPolicy::builder()
            .max_staleness(secs(600))
            .build()
            .unwrap();
        let fetched_at = clock.now();
        let expires_at = policy.expires_at(fetched_at, Some(120));
        assert_eq!(expires_at, Timestamp::from_unix_seconds(1_120));
        let serve_until = policy.serve_until(expires_at);
        assert_eq!(serve_until, Timestamp::from_unix_seconds(1_720));
        clock.advance(720);
        assert_eq!(clock.now(), serve_until);
        assert_eq!(
            policy.retry_at(clock.now()),
            Timestamp::from_unix_seconds(1_750)
        );
    }

    #[test]
    fn max_age_from_the_ceiling_end_of_time_saturates() {
        let policy = RefreshPolicy::default();
        let far = Timestamp::from_unix_seconds(i64::MAX - 5);
        assert_eq!(
            policy.expires_at(far, Some(u64::MAX)),
            Timestamp::from_unix_seconds(i64::MAX)
        );
    }

    #[test]
    fn cooldown_counts_from_the_last_refetch() {
        let policy = RefreshPolicy::builder()
            .unknown_kid_cooldown(secs(10))
            .build()
            .unwrap();
        let clock = TestClock::new(Timestamp::from_unix_seconds(500));
        let last = clock.now();
        assert!(!policy.unknown_kid_refetch_allowed(Some(last), clock.now()));
        clock.advance(9);
        assert!(!policy.unknown_kid_refetch_allowed(Some(last), clock.now()));
        clock.advance(1);
        assert!(policy.unknown_kid_refetch_allowed(Some(last), clock.now()));
        // A clock set back never opens the cooldown early.
        clock.set(Timestamp::from_unix_seconds(100));
        assert!(!policy.unknown_kid_refetch_allowed(Some(last), clock.now()));
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(
            RefreshPolicy::builder().build().unwrap(),
            RefreshPolicy::default()
        );
        assert_eq!(
            KeySetPolicy::builder().build().unwrap(),
            KeySetPolicy::default()
        );
    }

    #[test]
    fn builder_rejects_each_bad_value() {
        let cases: Vec<(RefreshPolicyBuilder, &str)> = vec![
            (RefreshPolicy::builder().min_ttl(secs(0)), "zero_value"),
            (
                RefreshPolicy::builder().min_ttl(Duration::from_millis(500)),
                "zero_value",
            ),
            (
                RefreshPolicy::builder().unknown_kid_cooldown(secs(0)),
                "zero_value",
            ),
            (
                RefreshPolicy::builder().failure_retry(secs(0)),
                "zero_value",
            ),
            (
                RefreshPolicy::builder().default_ttl(secs(30)),
                "ttl_out_of_order",
            ),
            (
                RefreshPolicy::builder().default_ttl(secs(7200)),
                "ttl_out_of_order",
            ),
            (
                RefreshPolicy::builder()
                    .default_ttl(secs(8 * 24 * 3600))
                    .max_ttl(secs(8 * 24 * 3600)),
                "value_too_large",
            ),
            (
                RefreshPolicy::builder().max_staleness(secs(8 * 24 * 3600)),
                "value_too_large",
            ),
            (
                RefreshPolicy::builder().rediscovery_interval(secs(0)),
                "zero_value",
            ),
            (
                RefreshPolicy::builder().rediscovery_interval(secs(8 * 24 * 3600)),
                "value_too_large",
            ),
            (
                RefreshPolicy::builder().fetch_timeout(Duration::ZERO),
                "zero_value",
            ),
            (
                RefreshPolicy::builder().fetch_timeout(secs(61)),
                "value_too_large",
            ),
            (
                RefreshPolicy::builder().max_body_bytes(100),
                "value_too_small",
            ),
            (
                RefreshPolicy::builder().max_body_bytes(17 * 1024 * 1024),
                "value_too_large",
            ),
        ];
        for (builder, reason) in cases {
            let err = builder.clone().build().unwrap_err();
            assert_eq!(err.reason(), reason, "{builder:?}");
        }
        let err = RefreshPolicy::builder()
            .min_ttl(secs(400))
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            JwksConfigError::TtlOutOfOrder {
                min_ttl: 400,
                default_ttl: 300,
                max_ttl: 3600
            }
        );
    }

    #[test]
    fn zero_staleness_is_allowed() {
        let policy = RefreshPolicy::builder()
            .max_staleness(Duration::ZERO)
            .build()
            .unwrap();
        let t = Timestamp::from_unix_seconds(10);
        assert_eq!(policy.serve_until(t), t);
    }

    #[test]
    fn key_set_policy_rejects_each_bad_value() {
        assert_eq!(
            KeySetPolicy::builder()
                .allowed_algorithms([])
                .build()
                .unwrap_err(),
            JwksConfigError::NoAlgorithmsAllowed
        );
        for hmac in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            assert_eq!(
                KeySetPolicy::builder()
                    .allowed_algorithms([Algorithm::RS256, hmac])
                    .build()
                    .unwrap_err(),
                JwksConfigError::HmacForFetchedKeys { algorithm: hmac }
            );
        }
        assert_eq!(
            KeySetPolicy::builder()
                .min_rsa_bits(1024)
                .build()
                .unwrap_err()
                .reason(),
            "value_too_small"
        );
        assert_eq!(
            KeySetPolicy::builder()
                .min_rsa_bits(16384)
                .build()
                .unwrap_err()
                .reason(),
            "value_too_large"
        );
        assert_eq!(
            KeySetPolicy::builder().max_keys(0).build().unwrap_err(),
            JwksConfigError::Zero { field: "max_keys" }
        );
        assert_eq!(
            KeySetPolicy::builder()
                .max_keys(1001)
                .build()
                .unwrap_err()
                .reason(),
            "value_too_large"
        );
    }

    #[test]
    fn cache_control_parsing() {
        assert_eq!(freshness_lifetime([], None), None);
        assert_eq!(freshness_lifetime(["public"], None), None);
        assert_eq!(freshness_lifetime(["MAX-AGE=42"], None), Some(42));
        assert_eq!(freshness_lifetime(["max-age=\"42\""], None), Some(42));
        assert_eq!(freshness_lifetime(["max-age=-1"], None), None);
        assert_eq!(freshness_lifetime(["max-age="], None), None);
        assert_eq!(
            freshness_lifetime(["max-age=99999999999999999999999"], None),
            Some(u64::MAX)
        );
        assert_eq!(
            freshness_lifetime(["max-age=100", "max-age=50"], None),
            Some(50)
        );
        assert_eq!(freshness_lifetime(["max-age=100, no-store"], None), Some(0));
        assert_eq!(freshness_lifetime(["max-age=100"], Some("500")), Some(0));
        assert_eq!(freshness_lifetime(["max-age=100"], Some("x")), Some(100));
    }
}
