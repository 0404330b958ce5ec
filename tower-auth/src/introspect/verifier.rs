//! [`IntrospectionVerifier`]: the steps in the order of the [module docs](super).

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use principal::{Audience, ClaimMapping, Clock, Issuer, JwtClaims, Principal, SystemClock};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, StatusCode, Url};
use serde::Deserializer as _;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use tokio::sync::OnceCell;

use super::cache::{self, CacheKey, IntrospectionCache, IntrospectionCacheConfig, Recheck};
use super::config::{
    DEFAULT_TIMEOUT, IntrospectionConfigError, MAX_ANSWER_BYTES, MAX_TIMEOUT, in_range,
};
use crate::client_auth::ClientAuth;
use crate::credentials::Credentials;
use crate::error::{AuthError, IntrospectionError};
use crate::http_client::{self, BodyError, ClientSettings, error_chain, is_json_media_type};
use crate::jwks::{echo, url_rule};
use crate::jwt::checks;
use crate::jwt::{DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES, MAX_LEEWAY, MAX_MAX_TOKEN_BYTES};
use crate::revocation::{Denylist, RevocationCheck};
use crate::verified::{Pattern, VerifiedPrincipal};
use crate::verifier::{Verdict, Verifier, VerifyFuture};

/// What the endpoint said, shared by every verification waiting on one call.
type Answer = Result<JwtClaims, IntrospectionError>;

/// One call in flight for one cache key: the first verification to start it runs it,
/// the others wait for its answer.
type Flight = Arc<OnceCell<Arc<Answer>>>;

/// Verifies opaque bearer tokens with RFC 7662 token introspection (DESIGN §4 pattern 3).
///
/// Built with [`IntrospectionVerifier::builder`]; use it as a [`Verifier`] (alone, or
/// after a [`JwtVerifier`](crate::jwt::JwtVerifier) in a
/// [`VerifierChain`](crate::verifier::VerifierChain)) or call
/// [`verify_token`](Self::verify_token). See the [module docs](super) for the steps, what
/// it declines and how it fails closed.
///
/// ```
/// use std::sync::Arc;
/// use axum::{Json, Router, routing::post};
/// use principal::{Audience, Issuer, TestClock, Timestamp};
/// use serde_json::json;
/// use tower_auth::{AuthError, Pattern};
/// use tower_auth::error::IntrospectionError;
/// use tower_auth::introspect::{ClientAuth, IntrospectionVerifier};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // An RFC 7662 endpoint on loopback: "good" is active, everything else is not.
/// let app = Router::new().route("/introspect", post(|body: String| async move {
///     Json(if body.starts_with("token=good&") {
///         json!({"active": true, "iss": "https://as.example", "sub": "alice",
///                "aud": "orders-api", "exp": 1_700_000_300, "scope": "orders:read"})
///     } else {
///         json!({"active": false})
///     })
/// }));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let endpoint = format!("http://{}/introspect", listener.local_addr()?);
/// tokio::spawn(async move { axum::serve(listener, app).await });
///
/// let verifier = IntrospectionVerifier::builder(
///     &endpoint,
///     Issuer::new("https://as.example")?,
///     ClientAuth::client_secret_basic("orders-api", "s3cret")?,
/// )
/// .audience(Audience::new("orders-api")?)
/// .clock(Arc::new(TestClock::new(Timestamp::from_unix_seconds(1_700_000_000))))
/// .build()?;
///
/// let verified = verifier.verify_token("good").await?;
/// assert_eq!(verified.subject(), "alice");
/// assert_eq!(verified.pattern(), Pattern::Introspection);
///
/// // Rejected: the authorization server says the token is not active.
/// assert!(matches!(
///     verifier.verify_token("unknown").await,
///     Err(AuthError::Introspection(IntrospectionError::Inactive))
/// ));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct IntrospectionVerifier {
    /// Shared, so a verification that must wait owns what it needs.
    engine: Arc<Engine>,
}

struct Engine {
    endpoint: Url,
    client: Client,
    auth: ClientAuth,
    issuer: Issuer,
    audiences: Vec<Audience>,
    skip_audience_check: bool,
    mapping: ClaimMapping,
    leeway_seconds: i64,
    max_token_bytes: usize,
    introspect_jwts: bool,
    clock: Arc<dyn Clock>,
    revocation: Arc<dyn RevocationCheck>,
    cache: Arc<IntrospectionCache>,
    /// The digest of the endpoint and configuration every cache key starts from.
    scope: [u8; 32],
    flights: Mutex<HashMap<CacheKey, Flight>>,
}

/// Builds an [`IntrospectionVerifier`].
#[must_use]
pub struct IntrospectionVerifierBuilder {
    endpoint: String,
    issuer: Issuer,
    auth: ClientAuth,
    audiences: Vec<Audience>,
    skip_audience_check: bool,
    mapping: ClaimMapping,
    timeout: Duration,
    leeway: Duration,
    max_token_bytes: usize,
    introspect_jwts: bool,
    clock: Arc<dyn Clock>,
    revocation: Option<Arc<dyn RevocationCheck>>,
    cache: CacheChoice,
}

enum CacheChoice {
    Own(IntrospectionCacheConfig),
    Shared(Arc<IntrospectionCache>),
}

/// The cache's verdict on a token, before any call.
enum Lookup {
    Hit(Verdict),
    Miss(CacheKey),
}

impl IntrospectionVerifier {
    /// A builder for the introspection `endpoint` of the authorization server `issuer`,
    /// authenticating as `auth`. Defaults: no audience yet (one is required, or
    /// [`insecure_skip_audience_check`](IntrospectionVerifierBuilder::insecure_skip_audience_check)),
    /// the generic [`ClaimMapping`], a [`DEFAULT_TIMEOUT`] request timeout, the JWT
    /// verifier's default leeway and token size bound, JWT-shaped tokens declined, the
    /// system clock, nothing revoked, a cache of its own
    /// ([`IntrospectionCacheConfig::default`]).
    pub fn builder(
        endpoint: &str,
        issuer: Issuer,
        auth: ClientAuth,
    ) -> IntrospectionVerifierBuilder {
        IntrospectionVerifierBuilder {
            endpoint: endpoint.to_owned(),
            issuer,
            auth,
            audiences: Vec::new(),
            skip_audience_check: false,
            mapping: ClaimMapping::generic(),
            timeout: DEFAULT_TIMEOUT,
            leeway: DEFAULT_LEEWAY,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            introspect_jwts: false,
            clock: Arc::new(SystemClock),
            revocation: None,
            cache: CacheChoice::Own(IntrospectionCacheConfig::default()),
        }
    }

    /// Verifies `token` (without the `Bearer ` prefix): from the cache when it holds a
    /// live answer, else by one call to the endpoint shared with every verification of
    /// the same token that starts meanwhile.
    ///
    /// A JWT-shaped token is declined ([`AuthError::UnsupportedTokenFormat`]) unless the
    /// builder allowed it with
    /// [`introspect_jwts`](IntrospectionVerifierBuilder::introspect_jwts). See the
    /// [type's example](Self) for an accepted and a refused token.
    pub async fn verify_token(&self, token: &str) -> Result<VerifiedPrincipal, AuthError> {
        match self.lookup(token)? {
            Lookup::Hit(verdict) => verdict,
            Lookup::Miss(key) => self.miss(key, token).await,
        }
    }

    /// The cache this verifier reads and fills (possibly shared with others).
    pub fn cache(&self) -> &IntrospectionCache {
        &self.engine.cache
    }

    /// The introspection endpoint.
    pub fn endpoint(&self) -> &str {
        self.engine.endpoint.as_str()
    }

    /// The authorization server whose tokens this verifier accepts.
    pub fn issuer(&self) -> &Issuer {
        &self.engine.issuer
    }

    /// Steps 2-4: the size bound, the JWT-shape decline, then the cache.
    fn lookup(&self, token: &str) -> Result<Lookup, AuthError> {
        let engine = &*self.engine;
        if token.len() > engine.max_token_bytes {
            return Err(AuthError::TokenTooLarge {
                len: token.len(),
                max: engine.max_token_bytes,
            });
        }
        if !engine.introspect_jwts && is_jwt_shaped(token) {
            return Err(AuthError::UnsupportedTokenFormat);
        }
        let key = cache::key(&engine.scope, token);
        let cached = self.cached(&key);
        crate::metrics::cache_lookup(crate::metrics::CacheName::Introspection, cached.is_some());
        Ok(match cached {
            Some(verdict) => Lookup::Hit(verdict),
            None => Lookup::Miss(key),
        })
    }

    fn cached(&self, key: &CacheKey) -> Option<Verdict> {
        let engine = &*self.engine;
        engine
            .cache
            .get(key, engine.clock.now(), |principal, checked_version| {
                self.recheck(principal, checked_version)
            })
    }

    /// A cached `active` answer was checked against the revocation list of the version
    /// recorded with it; check again only if the list moved since.
    fn recheck(&self, principal: &Principal, checked_version: &AtomicU64) -> Recheck {
        let revocation = &self.engine.revocation;
        if revocation.version() == checked_version.load(Ordering::Acquire) {
            return Recheck::Serve;
        }
        let (version, outcome) = revocation.check_versioned(principal);
        match outcome {
            Ok(()) => {
                checked_version.fetch_max(version, Ordering::AcqRel);
                Recheck::Serve
            }
            Err(revoked) => Recheck::Refuse(revoked.into()),
        }
    }

    /// Steps 5-7: one call per key at a time, its answer decided by each waiter.
    async fn miss(&self, key: CacheKey, token: &str) -> Verdict {
        let flight = FlightGuard::join(&self.engine, key);
        // The flight this verification missed may have landed (and left) between the
        // cache lookup and joining: its answer is in the cache then.
        if let Some(verdict) = self.cached(&key) {
            return verdict;
        }
        let answer = flight
            .cell
            .get_or_init(|| async {
                // Read before the call, so the check of the answer ran against this
                // version or a newer one.
                let revocation_version = self.engine.revocation.version();
                let answer = self.call(token).await;
                self.remember(key, &answer, revocation_version);
                Arc::new(answer)
            })
            .await;
        self.decide(answer)
    }

    /// Caches what the answer settles about the token: `active` and acceptable, or
    /// `active: false`. Nothing else is about the token.
    fn remember(&self, key: CacheKey, answer: &Answer, revocation_version: u64) {
        let engine = &*self.engine;
        match answer {
            Ok(claims) => {
                if let Ok(verified) = self.evaluate(claims) {
                    engine.cache.insert_active(
                        key,
                        verified,
                        engine.clock.now(),
                        revocation_version,
                    );
                }
            }
            Err(IntrospectionError::Inactive) => {
                engine.cache.insert_inactive(key, engine.clock.now());
            }
            Err(_) => {}
        }
    }

    fn decide(&self, answer: &Answer) -> Verdict {
        match answer {
            Ok(claims) => self.evaluate(claims),
            Err(error) => Err(error.clone().into()),
        }
    }

    /// Step 6: the call, and the RFC 7662 shape of its answer.
    async fn call(&self, token: &str) -> Answer {
        let engine = &*self.engine;
        let mut request = engine
            .client
            .post(engine.endpoint.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(form_body(&engine.auth, token));
        if let Some(authorization) = engine.auth.authorization() {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let mut response = request.send().await.map_err(|e| transport_error(&e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(IntrospectionError::Redirect {
                status: status.as_u16(),
            });
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(IntrospectionError::ClientRejected {
                status: status.as_u16(),
            });
        }
        if status != StatusCode::OK {
            return Err(IntrospectionError::HttpStatus {
                status: status.as_u16(),
            });
        }
        let json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(is_json_media_type);
        if !json {
            return Err(IntrospectionError::Malformed {
                why: "the content type is not JSON",
            });
        }
        let body = http_client::read_bounded(&mut response, MAX_ANSWER_BYTES)
            .await
            .map_err(|error| match error {
                BodyError::TooLarge => IntrospectionError::TooLarge {
                    limit: MAX_ANSWER_BYTES,
                },
                BodyError::Transport(e) => transport_error(&e),
            })?;
        parse_answer(&body)
    }

    /// Step 7: an `active` answer's claims, checked like a JWT's and mapped to a
    /// Principal by the same [`ClaimMapping`].
    fn evaluate(&self, claims: &JwtClaims) -> Verdict {
        let engine = &*self.engine;
        // RFC 7662 makes `iss` optional; when present it must be this server's.
        let filled;
        let claims = match claims.iss.as_deref() {
            Some(iss) if iss == engine.issuer.as_str() => claims,
            Some(iss) => return Err(AuthError::WrongIssuer { found: echo(iss) }),
            None => {
                let mut with_issuer = claims.clone();
                with_issuer.iss = Some(engine.issuer.as_str().to_owned());
                filled = with_issuer;
                &filled
            }
        };
        // A refresh token is not an access token, whatever the server says of it.
        if let Some(Value::String(token_type)) = claims.extra.get("token_type")
            && token_type.eq_ignore_ascii_case("refresh_token")
        {
            return Err(AuthError::WrongType {
                found: Some(echo(token_type)),
            });
        }
        checks::times(claims, engine.clock.now(), engine.leeway_seconds)?;
        if !engine.skip_audience_check {
            checks::audience(claims, &engine.audiences)?;
        }
        let principal = engine.mapping.principal_from_claims(claims)?;
        engine.revocation.check(&principal)?;
        Ok(VerifiedPrincipal::new(
            Arc::new(principal),
            Pattern::Introspection,
        ))
    }
}

/// The RFC 7662 §2.2 shape: a JSON object whose `active` is a boolean; the other members
/// decode as JWT claims do.
fn parse_answer(body: &[u8]) -> Answer {
    let claims = match JwtClaims::from_json(body) {
        Ok(claims) => claims,
        // Told apart only on this (rare) path, by a second look at the body.
        Err(_) => {
            let why = match serde_json::from_slice::<Value>(body) {
                Err(_) => "not JSON",
                Ok(Value::Object(_)) if !members_unique(body) => "a member appears twice",
                Ok(Value::Object(_)) => "a member has the wrong type",
                Ok(_) => "not a JSON object",
            };
            return Err(IntrospectionError::Malformed { why });
        }
    };
    if !members_unique(body) {
        return Err(IntrospectionError::Malformed {
            why: "a member appears twice",
        });
    }
    match claims.extra.get("active") {
        Some(Value::Bool(true)) => Ok(claims),
        Some(Value::Bool(false)) => Err(IntrospectionError::Inactive),
        None => Err(IntrospectionError::Malformed {
            why: "no active member",
        }),
        Some(_) => Err(IntrospectionError::Malformed {
            why: "active is not a boolean",
        }),
    }
}

/// Whether every top-level member name of the JSON object `body` is unique. A member sent
/// twice (`"active": false, "active": true`) is read one way by one parser and the other
/// way by another: refused rather than guessed.
fn members_unique(body: &[u8]) -> bool {
    struct Unique;

    impl<'de> Visitor<'de> for Unique {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let mut seen = HashSet::new();
            while let Some(name) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                if !seen.insert(name) {
                    return Ok(false);
                }
            }
            Ok(true)
        }
    }

    serde_json::Deserializer::from_slice(body)
        .deserialize_map(Unique)
        .unwrap_or(false)
}

/// A JWS (three segments) or JWE (five) compact token whose first segment starts with a
/// JSON object: the JOSE header of a JWT. Only a bounded prefix of the header is decoded,
/// into a stack buffer: this runs on every verification, cache hits included.
fn is_jwt_shaped(token: &str) -> bool {
    /// Decoded bytes looked at: leading JSON whitespace, then `{`.
    const PREFIX_CHARS: usize = 64;
    let dots = token.bytes().filter(|&byte| byte == b'.').count();
    if dots != 2 && dots != 4 {
        return false;
    }
    let header = token.split('.').next().unwrap_or("");
    // Whole 4-character groups decode without regard to what follows.
    let prefix = if header.len() > PREFIX_CHARS {
        &header[..PREFIX_CHARS]
    } else {
        header
    };
    let mut decoded = [0u8; PREFIX_CHARS / 4 * 3];
    match URL_SAFE_NO_PAD.decode_slice(prefix, &mut decoded) {
        Ok(len) => decoded[..len]
            .iter()
            .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
            .is_some_and(|&first| first == b'{'),
        Err(_) => false,
    }
}

fn transport_error(error: &reqwest::Error) -> IntrospectionError {
    if error.is_timeout() {
        IntrospectionError::Timeout
    } else {
        IntrospectionError::Unreachable {
            detail: echo(&error_chain(error)),
        }
    }
}

/// A verification's membership in a flight. Leaving removes the flight from the map once
/// it has an answer (later verifications find that in the cache, or start a new call for
/// answers that are not cached), or when nobody else is in it (a cancelled flight leaves
/// nothing behind).
struct FlightGuard<'a> {
    engine: &'a Engine,
    key: CacheKey,
    cell: Flight,
}

impl<'a> FlightGuard<'a> {
    fn join(engine: &'a Engine, key: CacheKey) -> Self {
        let mut flights = lock(&engine.flights);
        let cell = Arc::clone(flights.entry(key).or_default());
        FlightGuard { engine, key, cell }
    }
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        let mut flights = lock(&self.engine.flights);
        if let Some(current) = flights.get(&self.key)
            && Arc::ptr_eq(current, &self.cell)
            // Joins clone under this lock: two holders are the map and this guard.
            && (self.cell.initialized() || Arc::strong_count(&self.cell) <= 2)
        {
            flights.remove(&self.key);
        }
    }
}

/// A poisoned flight map only means a thread panicked holding it; the map itself is
/// always consistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Verifier for IntrospectionVerifier {
    /// Reads the bearer token and declines when there is none, or when it is JWT-shaped
    /// (unless [`introspect_jwts`](IntrospectionVerifierBuilder::introspect_jwts)). Ready
    /// for a cache hit or a refusal before any call; pending, boxed once, when it calls.
    fn verify(&self, credentials: &Credentials<'_>) -> VerifyFuture {
        let Some(token) = credentials.bearer_token() else {
            return VerifyFuture::ready(Err(AuthError::UnsupportedTokenFormat));
        };
        match self.lookup(token) {
            Err(error) => VerifyFuture::ready(Err(error)),
            Ok(Lookup::Hit(verdict)) => VerifyFuture::ready(verdict),
            Ok(Lookup::Miss(key)) => {
                let this = self.clone();
                let token = token.to_owned();
                VerifyFuture::pending(async move { this.miss(key, &token).await })
            }
        }
    }

    fn pattern(&self) -> Pattern {
        Pattern::Introspection
    }
}

impl IntrospectionVerifierBuilder {
    /// Also accept tokens for `audience` (at least one is required).
    pub fn audience(mut self, audience: Audience) -> Self {
        if !self.audiences.contains(&audience) {
            self.audiences.push(audience);
        }
        self
    }

    /// Accept tokens for any of `audiences`.
    pub fn audiences(mut self, audiences: impl IntoIterator<Item = Audience>) -> Self {
        for audience in audiences {
            self = self.audience(audience);
        }
        self
    }

    /// Accept an `active` answer whatever its `aud` (or without one). Only for an
    /// authorization server that issues tokens for this service alone.
    pub fn insecure_skip_audience_check(mut self) -> Self {
        self.skip_audience_check = true;
        self
    }

    /// How an `active` answer's members become a Principal (default
    /// [`ClaimMapping::generic`]): the same mapping a JWT of this issuer would use.
    pub fn claim_mapping(mut self, mapping: ClaimMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// The request timeout: connecting and the whole exchange (default
    /// [`DEFAULT_TIMEOUT`], 1 ms to [`MAX_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Clock leeway for `exp`, `nbf` and `iat` (default
    /// [`DEFAULT_LEEWAY`](crate::jwt::DEFAULT_LEEWAY), at most
    /// [`MAX_LEEWAY`](crate::jwt::MAX_LEEWAY)). A cached answer never outlives `exp`.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The longest token sent to the endpoint, in bytes (default
    /// [`DEFAULT_MAX_TOKEN_BYTES`](crate::jwt::DEFAULT_MAX_TOKEN_BYTES)).
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// Also introspect JWT-shaped tokens, for an authorization server that issues JWT
    /// access tokens and answers introspection for them. Off by default: in a chain, a
    /// JWT the JWT verifier declined (another issuer's) would otherwise be sent to this
    /// server, which did not issue it.
    pub fn introspect_jwts(mut self) -> Self {
        self.introspect_jwts = true;
        self
    }

    /// The source of "now" for `exp`, `nbf`, `iat` and the cache (default the system
    /// clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The revocation check consulted on every answer and, when its version moved, on
    /// cache hits (default: nothing is revoked); the same list the JWT verifier uses.
    pub fn revocation(mut self, check: Arc<dyn RevocationCheck>) -> Self {
        self.revocation = Some(check);
        self
    }

    /// A cache of this verifier's own with these bounds (default
    /// [`IntrospectionCacheConfig::default`]).
    pub fn cache(mut self, config: IntrospectionCacheConfig) -> Self {
        self.cache = CacheChoice::Own(config);
        self
    }

    /// A cache shared with other verifiers: keys include the endpoint and the
    /// configuration, so answers never cross between them.
    pub fn shared_cache(mut self, cache: Arc<IntrospectionCache>) -> Self {
        self.cache = CacheChoice::Shared(cache);
        self
    }

    /// Checks the configuration and builds the verifier. Calls nothing.
    ///
    /// ```
    /// use principal::{Audience, Issuer};
    /// use tower_auth::introspect::{ClientAuth, IntrospectionVerifier};
    ///
    /// let builder = |endpoint: &str| -> Result<_, Box<dyn std::error::Error>> {
    ///     Ok(IntrospectionVerifier::builder(
    ///         endpoint,
    ///         Issuer::new("https://as.example")?,
    ///         ClientAuth::client_secret_post("orders-api", "s3cret")?,
    ///     ))
    /// };
    /// let api = Audience::new("orders-api")?;
    /// assert!(builder("https://as.example/introspect")?.audience(api.clone()).build().is_ok());
    ///
    /// // Rejected: plain http to a remote host, and no audience.
    /// let err = builder("http://as.example/introspect")?.audience(api).build().unwrap_err();
    /// assert_eq!(err.reason(), "insecure_endpoint");
    /// let err = builder("https://as.example/introspect")?.build().unwrap_err();
    /// assert_eq!(err.reason(), "no_audiences");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<IntrospectionVerifier, IntrospectionConfigError> {
        let endpoint =
            Url::parse(&self.endpoint).map_err(|e| IntrospectionConfigError::InvalidEndpoint {
                detail: e.to_string(),
            })?;
        match url_rule::check_url(&endpoint) {
            Ok(()) => {}
            Err(url_rule::UrlProblem::InsecureScheme) => {
                return Err(IntrospectionConfigError::InsecureEndpoint {
                    url: endpoint.to_string(),
                });
            }
            Err(url_rule::UrlProblem::Credentials) => {
                return Err(IntrospectionConfigError::EndpointHasCredentials);
            }
        }
        if self.audiences.is_empty() && !self.skip_audience_check {
            return Err(IntrospectionConfigError::NoAudiences);
        }
        let timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        let max_timeout_ms = MAX_TIMEOUT.as_secs() * 1000;
        in_range("timeout_ms", timeout_ms, 1, max_timeout_ms)?;
        let leeway_seconds = in_range("leeway", self.leeway.as_secs(), 0, MAX_LEEWAY.as_secs())?;
        in_range(
            "max_token_bytes",
            self.max_token_bytes as u64,
            1,
            MAX_MAX_TOKEN_BYTES as u64,
        )?;
        let cache = match self.cache {
            CacheChoice::Own(config) => Arc::new(IntrospectionCache::new(config)?),
            CacheChoice::Shared(cache) => cache,
        };
        let client = http_client::client(ClientSettings {
            timeout: self.timeout,
            loopback: url_rule::is_loopback(&endpoint),
            // Calls follow cache misses, possibly many a second: reuse connections.
            keep_alive: true,
        })
        .map_err(|e| IntrospectionConfigError::HttpClient {
            detail: error_chain(&e),
        })?;
        let mut fingerprint = String::new();
        // Everything an answer's verdict depends on besides the token and the time.
        let _ = write!(
            fingerprint,
            "issuer={:?};aud={:?};skip_aud={};client={:?}:{:?};leeway={};jwts={};mapping={:?}",
            self.issuer.as_str(),
            self.audiences
                .iter()
                .map(Audience::as_str)
                .collect::<Vec<_>>(),
            self.skip_audience_check,
            self.auth.method(),
            self.auth.client_id(),
            leeway_seconds,
            self.introspect_jwts,
            self.mapping,
        );
        let scope = cache::scope(endpoint.as_str(), &fingerprint);
        Ok(IntrospectionVerifier {
            engine: Arc::new(Engine {
                endpoint,
                client,
                auth: self.auth,
                issuer: self.issuer,
                audiences: self.audiences,
                skip_audience_check: self.skip_audience_check,
                mapping: self.mapping,
                // At most MAX_LEEWAY (minutes): it fits.
                leeway_seconds: leeway_seconds as i64,
                max_token_bytes: self.max_token_bytes,
                introspect_jwts: self.introspect_jwts,
                clock: self.clock,
                revocation: self.revocation.unwrap_or_else(|| Arc::new(Denylist::new())),
                cache,
                scope,
                flights: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl fmt::Debug for IntrospectionVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let engine = &*self.engine;
        f.debug_struct("IntrospectionVerifier")
            .field("endpoint", &engine.endpoint.as_str())
            .field("issuer", &engine.issuer)
            .field("auth", &engine.auth)
            .field("audiences", &engine.audiences)
            .field("skip_audience_check", &engine.skip_audience_check)
            .field("introspect_jwts", &engine.introspect_jwts)
            .field("cache", &engine.cache)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for IntrospectionVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionVerifierBuilder")
            .field("endpoint", &self.endpoint)
            .field("issuer", &self.issuer)
            .field("auth", &self.auth)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

/// The form body of an introspection request for `token`.
fn form_body(auth: &ClientAuth, token: &str) -> String {
    let mut form = form_urlencoded::Serializer::new(String::with_capacity(token.len() + 64));
    form.append_pair("token", token);
    form.append_pair("token_type_hint", "access_token");
    auth.append_to_form(&mut form);
    form.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn no_answer_makes_the_parser_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_answer(&bytes);
        }

        #[test]
        fn only_a_boolean_true_active_is_accepted(
            active in proptest::sample::select(vec!["true", "false", "\"true\"", "1", "null", "[true]", "{}"]),
            present: bool,
            name in "[a-z_]{1,12}",
            value in proptest::sample::select(vec!["1", "\"x\"", "null", "[]", "{\"active\":true}"]),
        ) {
            // `name` ends with `x`: never `active` itself.
            let body = if present {
                format!(r#"{{"{name}x": {value}, "active": {active}}}"#)
            } else {
                format!(r#"{{"{name}x": {value}}}"#)
            };
            let accepted = parse_answer(body.as_bytes()).is_ok();
            proptest::prop_assert_eq!(accepted, present && active == "true", "{}", body);
        }
    }

    #[tokio::test]
    async fn a_cancelled_flight_leaves_nothing_behind() {
        use std::future::Future as _;
        use std::pin::pin;
        use std::task::Poll;

        // An endpoint that never answers: every verification stays in flight.
        let app = axum::Router::new().route(
            "/introspect",
            axum::routing::post(std::future::pending::<String>),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/introspect", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let verifier = IntrospectionVerifier::builder(
            &endpoint,
            Issuer::new("https://as.example").unwrap(),
            ClientAuth::bearer("svc").unwrap(),
        )
        .insecure_skip_audience_check()
        .build()
        .unwrap();
        let flights = || lock(&verifier.engine.flights).len();
        {
            let mut first = pin!(verifier.verify(&Credentials::bearer("t")));
            let mut second = pin!(verifier.verify(&Credentials::bearer("t")));
            std::future::poll_fn(|cx| {
                assert!(first.as_mut().poll(cx).is_pending());
                assert!(second.as_mut().poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            // Both in one flight.
            assert_eq!(flights(), 1);
        }
        // Both cancelled: the flight is gone with them.
        assert_eq!(flights(), 0);
    }

    #[test]
    fn jwt_shapes_are_recognised() {
        // {"alg":"ES256"} . payload . signature
        assert!(is_jwt_shaped("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"));
        // A JWE has five segments.
        assert!(is_jwt_shaped("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"));
        // Leading whitespace, and a header longer than the prefix looked at.
        let spaced = URL_SAFE_NO_PAD.encode(b"  \n{\"alg\":\"ES256\"}");
        assert!(is_jwt_shaped(&format!("{spaced}.e30.c2ln")));
        let long =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"ES256","kid":"{}"}}"#, "k".repeat(500)));
        assert!(is_jwt_shaped(&format!("{long}.e30.c2ln")));
        // Short headers: `{` alone, and `[`.
        assert!(is_jwt_shaped("ew.e30.c2ln"));
        assert!(!is_jwt_shaped("Ww.e30.c2ln"));
        for opaque in [
            "2YotnFZFEjr1zCsicMWpAA",
            "a.b.c",
            "eyJhbGciOiJFUzI1NiJ9.only-two",
            "eyJhbGciOiJFUzI1NiJ9.a.b.c",
            "W10.e30.c2ln", // `[]` is no JOSE header
            "!!!.e30.c2ln",
            "",
        ] {
            assert!(!is_jwt_shaped(opaque), "{opaque}");
        }
    }

    #[test]
    fn answers_must_be_rfc7662_objects() {
        let malformed = |body: &str| match parse_answer(body.as_bytes()) {
            Err(IntrospectionError::Malformed { why }) => why,
            other => panic!("{body}: {other:?}"),
        };
        assert_eq!(malformed("<html>"), "not JSON");
        assert_eq!(malformed(r#"{"active": tru"#), "not JSON");
        assert_eq!(malformed("[true]"), "not a JSON object");
        assert_eq!(malformed(r#"{"sub": "alice"}"#), "no active member");
        assert_eq!(
            malformed(r#"{"active": "true"}"#),
            "active is not a boolean"
        );
        assert_eq!(malformed(r#"{"active": null}"#), "active is not a boolean");
        assert_eq!(
            malformed(r#"{"active": true, "exp": "tomorrow"}"#),
            "a member has the wrong type"
        );
        // Sent twice, whichever comes last, and however it is spelled.
        assert_eq!(
            malformed(r#"{"active": false, "active": true}"#),
            "a member appears twice"
        );
        assert_eq!(
            malformed(r#"{"active": true, "sub": "a", "act\u0069ve": false}"#),
            "a member appears twice"
        );
        assert_eq!(
            malformed(r#"{"active": true, "sub": "a", "sub": "b"}"#),
            "a member appears twice"
        );
        assert!(matches!(
            parse_answer(br#"{"active": false}"#),
            Err(IntrospectionError::Inactive)
        ));
        assert!(parse_answer(br#"{"active": true, "sub": "a"}"#).is_ok());
    }

    #[test]
    fn the_form_carries_the_token_and_the_post_credentials_only() {
        let basic = ClientAuth::client_secret_basic("api", "s3cret").unwrap();
        assert_eq!(
            form_body(&basic, "a+b"),
            "token=a%2Bb&token_type_hint=access_token"
        );
        let post = ClientAuth::client_secret_post("orders api", "p&w").unwrap();
        assert_eq!(
            form_body(&post, "t"),
            "token=t&token_type_hint=access_token&client_id=orders+api&client_secret=p%26w"
        );
    }
}
