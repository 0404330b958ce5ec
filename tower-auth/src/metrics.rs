//! The metrics Baton records, through the [`metrics`](https://docs.rs/metrics/0.24) facade
//! (feature `metrics`): the reference for every name, type, label and meaning.
//!
//! The application installs the recorder (for Prometheus, `metrics-exporter-prometheus`;
//! the examples serve its text on `/metrics`). Without the feature, or without a
//! recorder, nothing is recorded: without the feature the recording calls compile to
//! nothing, so the hot path pays nothing for them.
//!
//! Every name starts with `baton_`. Label values are bounded: patterns, outcomes and
//! reasons are the fixed snake_case labels of [`Pattern::as_str`](crate::Pattern::as_str)
//! and the errors' `reason()`; `issuer` is the label of a configured key cache (one per
//! trusted issuer); nothing a caller sends becomes a label.
//!
//! # Decisions and latency
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `baton_auth_decisions_total` | counter | `pattern`, `outcome`, `reason` | authentication decisions, one per [audit event](crate::authenticate::audit): `outcome` is `accepted`, `anonymous` or `rejected`; `reason` is `verified` or the error's [`AuthError::reason`](crate::AuthError::reason); `pattern` the one that accepted, else the layer's verifier's |
//! | `baton_verification_duration_seconds` | histogram | `pattern` | time from the authenticate layer asking its verifier to the verdict (a cache hit, a key refetch or an introspection call included), for every request a verifier answered, accepted or not |
//!
//! # Keys
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `baton_jwks_refreshes_total` | counter | `issuer`, `outcome` | key set fetches that succeeded: `outcome` is `updated` (the keys changed) or `unchanged` |
//! | `baton_jwks_refresh_failures_total` | counter | `issuer`, `reason` | key set fetches that failed ([`JwksError::reason`](crate::jwks::JwksError::reason)); the last good set keeps serving up to its maximum staleness |
//! | `baton_jwks_staleness_seconds` | gauge | `issuer` | seconds since the last good key set was fetched, by the cache's clock: `0` after a good fetch, the age of the set at each failed one, `+Inf` while no set was ever fetched. Set at every fetch attempt, so between attempts it lags by at most one refresh interval |
//!
//! # Caches
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `baton_cache_hits_total` | counter | `cache` | lookups answered from a cache (a served or refused verdict, or a fresh token) |
//! | `baton_cache_misses_total` | counter | `cache` | lookups that had to do the work (verify, call the endpoint) |
//!
//! `cache` is `verified_token` (the JWT verifier's [`TokenCache`](crate::token_cache::TokenCache)),
//! `introspection` (the [introspection cache](crate::introspect::IntrospectionCache),
//! negative answers included) or `exchange` (the [token exchange](crate::exchange) client's).
//!
//! # Revocation
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `baton_revocation_list_version` | gauge | none | the version of the revocation list this instance checks against |
//! | `baton_revocation_list_age_seconds` | gauge | none | seconds since that list was last confirmed current by its source, as of the last sync attempt |
//! | `baton_revocation_sync_total` | counter | `source`, `outcome` | sync attempts of a revocation mirror: `source` is the mirror's source name (`RevocationMirrorBuilder::source_name`, e.g. `sts_feed`, `redis`), `outcome` is `ok` or `failure` (the reason is in the audit event and `RevocationMirror::status`) |
//! | `baton_revocation_stale` | gauge | none | `1` while the list is older than its allowed staleness (the instance serves the last known list, loudly), else `0` |
//!
//! # Example
//!
//! A recorder sees every decision of the authenticate layer, by pattern, outcome and
//! reason (here a thread-local Prometheus recorder; an application installs a global
//! one, and serves `handle.render()` on `/metrics`):
//!
//! ```
//! # #[cfg(feature = "metrics")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use jsonwebtoken::{Algorithm, EncodingKey, Header};
//! use principal::{Audience, Issuer};
//! use tower::{ServiceExt, service_fn};
//! use tower_auth::authenticate::AuthenticateLayer;
//! use tower_auth::jwks::SymmetricKey;
//! use tower_auth::jwt::{IssuerConfig, JwtVerifier};
//! use tower_layer::Layer;
//!
//! let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
//! let handle = recorder.handle();
//! let _local = metrics::set_default_local_recorder(&recorder);
//!
//! let secret = [7u8; 32];
//! let verifier = JwtVerifier::builder()
//!     .issuer(
//!         IssuerConfig::builder(Issuer::new("https://issuer.example")?)
//!             .audience(Audience::new("api")?)
//!             .hmac_secrets([SymmetricKey::new(Some("k1"), Algorithm::HS256, secret.to_vec())?])
//!             .build()?,
//!     )
//!     .build()?;
//! let service = AuthenticateLayer::new(Arc::new(verifier)).layer(service_fn(
//!     |_: http::Request<String>| async { Ok::<_, std::convert::Infallible>(http::Response::new(String::new())) },
//! ));
//! let call = |authorization: String| {
//!     let request = http::Request::builder().header("authorization", authorization).body(String::new());
//!     service.clone().oneshot(request.unwrap())
//! };
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! // Accepted.
//! let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 300;
//! let claims = serde_json::json!({"iss": "https://issuer.example", "sub": "alice", "aud": "api", "exp": exp});
//! let mut header = Header::new(Algorithm::HS256);
//! header.kid = Some("k1".into());
//! let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret))?;
//! assert_eq!(call(format!("Bearer {token}")).await?.status(), 200);
//! // Refused: signed with another secret.
//! let forged = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&[8u8; 32]))?;
//! assert_eq!(call(format!("Bearer {forged}")).await?.status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//!
//! let text = handle.render();
//! assert!(text.contains(r#"baton_auth_decisions_total{pattern="jwt_passthrough",outcome="accepted",reason="verified"} 1"#));
//! assert!(text.contains(r#"baton_auth_decisions_total{pattern="jwt_passthrough",outcome="rejected",reason="bad_signature"} 1"#));
//! assert!(text.contains(r#"baton_verification_duration_seconds_count{pattern="jwt_passthrough"} 2"#));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "metrics"))]
//! # fn main() {}
//! ```

use std::time::Duration;

use principal::Timestamp;

use crate::verified::Pattern;

/// `baton_auth_decisions_total{pattern,outcome,reason}`: authentication decisions (counter).
pub const AUTH_DECISIONS_TOTAL: &str = "baton_auth_decisions_total";

/// `baton_verification_duration_seconds{pattern}`: verification latency (histogram).
pub const VERIFICATION_DURATION_SECONDS: &str = "baton_verification_duration_seconds";

/// `baton_jwks_refreshes_total{issuer,outcome}`: successful key set fetches (counter).
pub const JWKS_REFRESHES_TOTAL: &str = "baton_jwks_refreshes_total";

/// `baton_jwks_refresh_failures_total{issuer,reason}`: failed key set fetches (counter).
pub const JWKS_REFRESH_FAILURES_TOTAL: &str = "baton_jwks_refresh_failures_total";

/// `baton_jwks_staleness_seconds{issuer}`: seconds since the last good key set (gauge).
pub const JWKS_STALENESS_SECONDS: &str = "baton_jwks_staleness_seconds";

/// `baton_cache_hits_total{cache}`: lookups answered from a cache (counter).
pub const CACHE_HITS_TOTAL: &str = "baton_cache_hits_total";

/// `baton_cache_misses_total{cache}`: lookups that missed a cache (counter).
pub const CACHE_MISSES_TOTAL: &str = "baton_cache_misses_total";

/// `baton_revocation_list_version`: the revocation list's version (gauge).
pub const REVOCATION_LIST_VERSION: &str = "baton_revocation_list_version";

/// `baton_revocation_list_age_seconds`: seconds since the list was confirmed (gauge).
pub const REVOCATION_LIST_AGE_SECONDS: &str = "baton_revocation_list_age_seconds";

/// `baton_revocation_sync_total{source,outcome}`: synchronisations with the source (counter).
pub const REVOCATION_SYNC_TOTAL: &str = "baton_revocation_sync_total";

/// `baton_revocation_stale`: `1` while the list is past its allowed staleness (gauge).
pub const REVOCATION_STALE: &str = "baton_revocation_stale";

/// The caches whose hits and misses are counted (the `cache` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CacheName {
    /// The JWT verifier's verified-token cache.
    VerifiedToken,
    /// The introspection verifier's cache.
    Introspection,
    /// The token exchange client's cache.
    Exchange,
}

/// When a verification started; without the feature it holds nothing and reads no clock.
///
/// Latency is measured on the monotonic clock, not the verifiers' [`Clock`](principal::Clock):
/// it decides nothing, it is only reported.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stopwatch {
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

impl Stopwatch {
    #[inline]
    pub(crate) fn start() -> Self {
        Stopwatch {
            #[cfg(feature = "metrics")]
            started: std::time::Instant::now(),
        }
    }
}

/// One authentication decision (`baton_auth_decisions_total`), and, when a verifier
/// answered it, its latency (`baton_verification_duration_seconds`).
#[inline]
pub(crate) fn auth_decision(
    pattern: Pattern,
    outcome: &'static str,
    reason: &'static str,
    verification: Option<Stopwatch>,
) {
    #[cfg(feature = "metrics")]
    {
        let pattern = pattern.as_str();
        ::metrics::counter!(AUTH_DECISIONS_TOTAL, "pattern" => pattern, "outcome" => outcome, "reason" => reason)
            .increment(1);
        if let Some(stopwatch) = verification {
            ::metrics::histogram!(VERIFICATION_DURATION_SECONDS, "pattern" => pattern)
                .record(stopwatch.started.elapsed().as_secs_f64());
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (pattern, outcome, reason, verification);
}

/// An accepted request (`outcome="accepted"`, `reason="verified"`) and its verification
/// latency. Separate from [`auth_decision`] because it is the hot path: its keys are
/// static (literal labels per pattern), so recording allocates nothing.
#[inline]
pub(crate) fn auth_accepted(pattern: Pattern, verification: Stopwatch) {
    #[cfg(feature = "metrics")]
    {
        let seconds = verification.started.elapsed().as_secs_f64();
        macro_rules! record {
            ($pattern:literal) => {{
                ::metrics::counter!(
                    AUTH_DECISIONS_TOTAL,
                    "pattern" => $pattern,
                    "outcome" => "accepted",
                    "reason" => "verified"
                )
                .increment(1);
                ::metrics::histogram!(VERIFICATION_DURATION_SECONDS, "pattern" => $pattern)
                    .record(seconds);
            }};
        }
        match pattern {
            Pattern::JwtPassthrough => record!("jwt_passthrough"),
            Pattern::InternalJwt => record!("internal_jwt"),
            Pattern::Introspection => record!("introspection"),
            Pattern::Passport => record!("passport"),
            Pattern::Workload => record!("workload"),
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (pattern, verification);
}

/// A lookup in `cache`: a hit or a miss.
#[inline]
pub(crate) fn cache_lookup(cache: CacheName, hit: bool) {
    #[cfg(feature = "metrics")]
    {
        // Literal labels: the macro then builds a static key, so a cache hit (the hot
        // path the `*_hit_allocations` tests hold to zero allocations) allocates nothing.
        macro_rules! count {
            ($label:literal) => {
                if hit {
                    ::metrics::counter!(CACHE_HITS_TOTAL, "cache" => $label).increment(1)
                } else {
                    ::metrics::counter!(CACHE_MISSES_TOTAL, "cache" => $label).increment(1)
                }
            };
        }
        match cache {
            CacheName::VerifiedToken => count!("verified_token"),
            CacheName::Introspection => count!("introspection"),
            CacheName::Exchange => count!("exchange"),
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (cache, hit);
}

/// A key set fetch for `issuer` that succeeded: `changed` when the keys changed. The
/// set is now current: staleness `0`.
#[inline]
pub(crate) fn jwks_refreshed(issuer: &str, changed: bool) {
    #[cfg(feature = "metrics")]
    {
        let outcome = if changed { "updated" } else { "unchanged" };
        let issuer = issuer.to_owned();
        ::metrics::counter!(JWKS_REFRESHES_TOTAL, "issuer" => issuer.clone(), "outcome" => outcome)
            .increment(1);
        ::metrics::gauge!(JWKS_STALENESS_SECONDS, "issuer" => issuer).set(0.0);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (issuer, changed);
}

/// A key set fetch for `issuer` that failed at `now` with `reason`; `last_good` is when
/// the set still serving was fetched (`None`: never).
#[inline]
pub(crate) fn jwks_refresh_failed(
    issuer: &str,
    reason: &'static str,
    last_good: Option<Timestamp>,
    now: Timestamp,
) {
    #[cfg(feature = "metrics")]
    {
        let issuer = issuer.to_owned();
        ::metrics::counter!(JWKS_REFRESH_FAILURES_TOTAL, "issuer" => issuer.clone(), "reason" => reason)
            .increment(1);
        // Whole seconds on the cache's clock; a set "fetched in the future" (the clock
        // went back) counts as current.
        #[allow(clippy::cast_precision_loss)]
        let staleness = last_good.map_or(f64::INFINITY, |fetched_at| {
            now.as_unix_seconds()
                .saturating_sub(fetched_at.as_unix_seconds())
                .max(0) as f64
        });
        ::metrics::gauge!(JWKS_STALENESS_SECONDS, "issuer" => issuer).set(staleness);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (issuer, reason, last_good, now);
}

/// The revocation list now checked against: its `version` and its `age` (since its
/// source last confirmed it). For the revocation mirror.
#[inline]
pub(crate) fn revocation_list(version: u64, age: Duration) {
    #[cfg(feature = "metrics")]
    {
        // A gauge is an f64: exact for versions up to 2^53.
        #[allow(clippy::cast_precision_loss)]
        ::metrics::gauge!(REVOCATION_LIST_VERSION).set(version as f64);
        ::metrics::gauge!(REVOCATION_LIST_AGE_SECONDS).set(age.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (version, age);
}

/// One sync attempt of the revocation mirror fed by `source`, ending with `outcome`
/// (`ok` or `failure`).
#[inline]
pub(crate) fn revocation_sync(source: &'static str, outcome: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(REVOCATION_SYNC_TOTAL, "source" => source, "outcome" => outcome)
        .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (source, outcome);
}

/// Whether the revocation list is past its allowed staleness. For the revocation mirror.
#[inline]
pub(crate) fn revocation_stale(stale: bool) {
    #[cfg(feature = "metrics")]
    ::metrics::gauge!(REVOCATION_STALE).set(if stale { 1.0 } else { 0.0 });
    #[cfg(not(feature = "metrics"))]
    let _ = stale;
}
