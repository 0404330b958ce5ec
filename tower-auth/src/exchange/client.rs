//! [`TokenExchangeClient`]: the HTTP call, the cache and the flights.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use principal::{Clock, SystemClock};
use reqwest::Url;

use super::answer::{form_body, parse_answer};
use super::cache::{self, Cache, Flight, Key, Lookup, Outcome};
use super::{
    ClientAuth, EXCHANGE_TARGET, ExchangeConfigError, ExchangeError, ExchangeRequest,
    ExchangedToken,
};
use crate::http_client::{self, BodyError, ClientSettings, error_chain};
use crate::jwks::echo;
use crate::jwks::url_rule;
use crate::metrics::CacheName;
use crate::revocation::RevocationCheck;

/// Default timeout on connecting and on the whole exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Default limit on the answer's size, in bytes.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Highest limit on the answer's size accepted, in bytes.
pub const MAX_MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// Default margin before `expires_in` at which a cached token stops being served.
pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(30);
/// Default window before the renewal point in which a call starts a background refresh.
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(60);
/// Default number of keys the cache holds.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
/// Seconds after a failed background refresh before the next one may start.
pub const REFRESH_RETRY_SECS: i64 = 5;

/// The client of one RFC 8693 token endpoint, with its cache. Cheap to clone (shared).
/// See the [module docs](super) for what is sent, what is accepted, and an example.
#[derive(Clone)]
pub struct TokenExchangeClient {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Url,
    auth: ClientAuth,
    http: reqwest::Client,
    max_answer_bytes: usize,
    clock: Arc<dyn Clock>,
    cache: Cache,
    /// Calls to the endpoint that ended (and were recorded in the cache).
    completed_calls: AtomicU64,
}

/// Builds a [`TokenExchangeClient`].
#[must_use]
pub struct TokenExchangeClientBuilder {
    endpoint: String,
    auth: ClientAuth,
    timeout: Duration,
    max_answer_bytes: usize,
    renew_before: Duration,
    refresh_ahead: Duration,
    max_entries: usize,
    clock: Arc<dyn Clock>,
    revocation: Option<Arc<dyn RevocationCheck>>,
}

impl TokenExchangeClient {
    /// A builder for the client of the token endpoint at `endpoint` (`https`, or `http`
    /// on a loopback host), authenticating with `auth`.
    pub fn builder(endpoint: &str, auth: ClientAuth) -> TokenExchangeClientBuilder {
        TokenExchangeClientBuilder {
            endpoint: endpoint.to_owned(),
            auth,
            timeout: DEFAULT_TIMEOUT,
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
            renew_before: DEFAULT_RENEW_BEFORE,
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            max_entries: DEFAULT_MAX_ENTRIES,
            clock: Arc::new(SystemClock),
            revocation: None,
        }
    }

    /// The token for `request`: the cached one while it is fresh, else the endpoint's
    /// answer (one call for every concurrent caller of the same request). Near the
    /// renewal point, the cached token is returned and one background exchange renews it.
    pub async fn exchange(
        &self,
        request: &ExchangeRequest,
    ) -> Result<ExchangedToken, ExchangeError> {
        let key = cache::key(request);
        let lookup = self.inner.cache.lookup(&key, self.inner.clock.now());
        crate::metrics::cache_lookup(CacheName::Exchange, !matches!(lookup, Lookup::Wait(_)));
        match lookup {
            Lookup::Fresh(token) => Ok(token),
            Lookup::FreshRefresh(token, flight) => {
                self.refresh_in_background(key, flight, request.clone());
                Ok(token)
            }
            Lookup::Wait(flight) => Inner::fly(&self.inner, key, &flight, request).await,
        }
    }

    /// A new token for `request` from the endpoint, every time: the cache is neither read
    /// nor written. For a credential that must be checked at every use (an
    /// [`AgentSession`](super::AgentSession) re-exchanges its agent key per sub-request,
    /// so a revoked key stops at the next one) and for measuring the round trip.
    pub async fn exchange_uncached(
        &self,
        request: &ExchangeRequest,
    ) -> Result<ExchangedToken, ExchangeError> {
        let outcome = self.inner.call(request).await;
        self.inner.completed_calls.fetch_add(1, Ordering::Release);
        self.inner.audit(request, &outcome);
        outcome
    }

    /// The cached token for `request` if there is a fresh one (starting the refresh ahead
    /// as [`exchange`](Self::exchange) would); `None` when a call is needed (then
    /// `exchange` waits for it).
    pub(crate) fn try_cached(&self, request: &ExchangeRequest) -> Option<ExchangedToken> {
        let key = cache::key(request);
        let lookup = self.inner.cache.lookup(&key, self.inner.clock.now());
        // A miss here is counted by the `exchange` call that follows it, not twice.
        if !matches!(lookup, Lookup::Wait(_)) {
            crate::metrics::cache_lookup(CacheName::Exchange, true);
        }
        match lookup {
            Lookup::Fresh(token) => Some(token),
            Lookup::FreshRefresh(token, flight) => {
                self.refresh_in_background(key, flight, request.clone());
                Some(token)
            }
            // The flight stays in the entry: `exchange` finds and joins it.
            Lookup::Wait(_) => None,
        }
    }

    fn refresh_in_background(&self, key: Key, flight: Arc<Flight>, request: ExchangeRequest) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let inner = Arc::clone(&self.inner);
                runtime.spawn(async move {
                    // The outcome is in the cache (or logged); no one waits for it here.
                    let _ = Inner::fly(&inner, key, &flight, &request).await;
                });
            }
            // Outside a runtime: no refresh ahead; the call at the renewal point renews.
            Err(_) => self.inner.cache.abandon(&key, &flight),
        }
    }

    /// Keys held by the cache now (fresh, or with a call under way).
    pub fn cached_len(&self) -> usize {
        self.inner.cache.len()
    }

    /// Calls to the token endpoint that have ended, in success or failure, and whose
    /// outcome the cache has recorded (background refreshes included), for metrics and
    /// tests.
    pub fn completed_calls(&self) -> u64 {
        self.inner.completed_calls.load(Ordering::Acquire)
    }

    /// The token endpoint.
    pub fn endpoint(&self) -> &str {
        self.inner.endpoint.as_str()
    }
}

impl Inner {
    /// Waits for `flight`, making its call if no one else is.
    async fn fly(
        inner: &Arc<Inner>,
        key: Key,
        flight: &Arc<Flight>,
        request: &ExchangeRequest,
    ) -> Outcome {
        flight
            .get_or_init(|| async {
                let outcome = inner.call(request).await;
                inner
                    .cache
                    .settle(&key, request, flight, &outcome, inner.clock.now());
                inner.completed_calls.fetch_add(1, Ordering::Release);
                inner.audit(request, &outcome);
                outcome
            })
            .await
            .clone()
    }

    /// One exchange at the endpoint.
    async fn call(&self, request: &ExchangeRequest) -> Outcome {
        let mut call = self
            .http
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(form_body(request, &self.auth));
        if let Some(authorization) = self.auth.authorization() {
            call = call.header(AUTHORIZATION, authorization.clone());
        }
        let mut response = call.send().await.map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            return Err(ExchangeError::Redirect { status });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = http_client::read_bounded(&mut response, self.max_answer_bytes)
            .await
            .map_err(|error| match error {
                BodyError::TooLarge => ExchangeError::TooLarge {
                    limit: self.max_answer_bytes,
                },
                BodyError::Transport(error) => transport_error(&error),
            })?;
        parse_answer(
            status,
            content_type.as_deref(),
            &body,
            request.target.requested(),
            self.clock.now(),
        )
    }

    /// One event per call to the endpoint; never a token.
    fn audit(&self, request: &ExchangeRequest, outcome: &Outcome) {
        let audiences = request.target.audiences();
        match outcome {
            Ok(token) => tracing::debug!(
                target: EXCHANGE_TARGET,
                endpoint = %self.endpoint,
                ?audiences,
                issued_token_type = %token.issued_token_type(),
                expires_at = token.expires_at().map(|t| t.as_unix_seconds()),
                outcome = "issued",
                "token exchanged"
            ),
            Err(error) => tracing::warn!(
                target: EXCHANGE_TARGET,
                endpoint = %self.endpoint,
                ?audiences,
                outcome = "refused",
                reason = error.reason(),
                %error,
                "token exchange failed"
            ),
        }
    }
}

fn transport_error(error: &reqwest::Error) -> ExchangeError {
    if error.is_timeout() {
        ExchangeError::Timeout
    } else {
        ExchangeError::Unreachable {
            detail: echo(&error_chain(error)),
        }
    }
}

impl TokenExchangeClientBuilder {
    /// Timeout on connecting and on the whole exchange (default 5 s, at most 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Longest answer read, in bytes (default 64 KiB, at most 1 MiB).
    pub fn max_answer_bytes(mut self, bytes: usize) -> Self {
        self.max_answer_bytes = bytes;
        self
    }

    /// How long before its expiry a cached token stops being served (default 30 s).
    pub fn renew_before(mut self, margin: Duration) -> Self {
        self.renew_before = margin;
        self
    }

    /// How long before that renewal point a call starts one background refresh (default
    /// 60 s; zero turns refresh ahead off).
    pub fn refresh_ahead(mut self, window: Duration) -> Self {
        self.refresh_ahead = window;
        self
    }

    /// Most keys the cache holds (default 10 000; at least 1).
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }

    /// The source of "now" for expiry (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The revocation list whose changes the cache follows (default none): a cached token
    /// whose subject, actor or own `jti`, `sid` or `iss`/`sub` the list names is dropped,
    /// and the next caller exchanges again; every other cached token stays a hit. Give it
    /// the service's [`RevocationMirror`](crate::revocation::RevocationMirror) (or
    /// [`Denylist`](crate::revocation::Denylist)).
    pub fn revocation(mut self, check: Arc<dyn RevocationCheck>) -> Self {
        self.revocation = Some(check);
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<TokenExchangeClient, ExchangeConfigError> {
        let invalid_endpoint =
            |shown: &str| ExchangeConfigError::InvalidEndpoint { url: echo(shown) };
        let endpoint = Url::parse(&self.endpoint).map_err(|_| invalid_endpoint("(not a URL)"))?;
        let without_credentials = || {
            let mut shown = endpoint.clone();
            let _ = shown.set_username("");
            let _ = shown.set_password(None);
            shown.to_string()
        };
        if url_rule::check_url(&endpoint).is_err() || endpoint.fragment().is_some() {
            return Err(invalid_endpoint(&without_credentials()));
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(ExchangeConfigError::Timeout {
                requested_ms: self.timeout.as_millis(),
                max_ms: MAX_TIMEOUT.as_millis(),
            });
        }
        if self.max_answer_bytes == 0 || self.max_answer_bytes > MAX_MAX_ANSWER_BYTES {
            return Err(ExchangeConfigError::MaxAnswerBytes {
                requested: self.max_answer_bytes,
                max: MAX_MAX_ANSWER_BYTES,
            });
        }
        if self.max_entries == 0 {
            return Err(ExchangeConfigError::NoCacheEntries);
        }
        // The crate's one hardened client: no redirects (one would hand the subject token
        // and the client's credentials to a host the operator never named), timeouts,
        // no environment proxy for a loopback endpoint; connections kept, as exchanges
        // are frequent.
        let http = http_client::client(ClientSettings {
            timeout: self.timeout,
            loopback: url_rule::is_loopback(&endpoint),
            keep_alive: true,
        })
        .map_err(|e| ExchangeConfigError::HttpClient {
            detail: error_chain(&e),
        })?;
        let seconds = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Ok(TokenExchangeClient {
            inner: Arc::new(Inner {
                endpoint,
                auth: self.auth,
                http,
                max_answer_bytes: self.max_answer_bytes,
                clock: self.clock,
                cache: Cache::new(
                    seconds(self.renew_before),
                    seconds(self.refresh_ahead),
                    REFRESH_RETRY_SECS,
                    self.max_entries,
                    self.revocation,
                ),
                completed_calls: AtomicU64::new(0),
            }),
        })
    }
}

impl fmt::Debug for TokenExchangeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchangeClient")
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("auth", &self.inner.auth)
            .field("max_answer_bytes", &self.inner.max_answer_bytes)
            .field("cached", &self.cached_len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TokenExchangeClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchangeClientBuilder")
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("max_answer_bytes", &self.max_answer_bytes)
            .field("renew_before", &self.renew_before)
            .field("refresh_ahead", &self.refresh_ahead)
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}
