//! [`JwtVerifier`]: the hot path, in the order of the [module docs](super).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use principal::{Clock, Issuer, JwtClaims, SystemClock};

use super::checks;
use super::config::{ConfigError, IssuerConfig};
use super::token::{self, Header, Segments};
use crate::credentials::Credentials;
use crate::error::AuthError;
use crate::jwks::{
    JwksConfigError, JwksError, KeyCache, KeyError, RefresherHandle, StartupPolicy, VerificationKey,
};
use crate::revocation::{Denylist, RevocationCheck};
use crate::token_cache::{
    CacheKey, CachedEntry, Dependencies, Recheck, TokenCache, TokenCacheConfig,
};
use crate::verified::{Caller, CallerIdentity, Pattern, VerifiedPrincipal};
use crate::verifier::{Verdict, Verifier, VerifyFuture};

/// One configured issuer and its keys.
struct IssuerEntry {
    config: IssuerConfig,
    keys: KeyCache,
}

/// Verifies JWTs of one or more issuers (DESIGN §4 pattern 1, and pattern 2 with
/// [`Pattern::InternalJwt`]).
///
/// The issuer is chosen by the token's exact `iss`; the key by `kid` within that issuer's
/// key set only; the algorithm by the key. See the [module docs](super) for every step
/// and the security rules.
///
/// Use it as a [`Verifier`] (in an
/// [`AuthenticateLayer`](crate::authenticate::AuthenticateLayer) or a
/// [`VerifierChain`](crate::verifier::VerifierChain)), or call
/// [`verify_token`](Self::verify_token) / [`verify_sync`](Self::verify_sync) directly.
///
/// ```
/// use std::sync::Arc;
/// use jsonwebtoken::{Algorithm, EncodingKey, Header};
/// use principal::{Audience, Issuer, TestClock, Timestamp};
/// use serde_json::json;
/// use tower_auth::AuthError;
/// use tower_auth::jwks::SymmetricKey;
/// use tower_auth::jwt::{IssuerConfig, JwtVerifier};
///
/// let secret = [7u8; 32];
/// let issuer = IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
///     .audience(Audience::new("orders-api")?)
///     .hmac_secrets([SymmetricKey::new(Some("hs-1"), Algorithm::HS256, secret.to_vec())?])
///     .build()?;
/// let clock = TestClock::new(Timestamp::from_unix_seconds(1_700_000_000));
/// let verifier = JwtVerifier::builder()
///     .issuer(issuer)
///     .clock(Arc::new(clock.clone()))
///     .build()?;
///
/// let mut header = Header::new(Algorithm::HS256);
/// header.kid = Some("hs-1".into());
/// let claims = json!({
///     "iss": "https://idp.example.com", "sub": "alice", "aud": "orders-api",
///     "exp": 1_700_000_300, "scope": "orders:read"
/// });
/// let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret))?;
///
/// let verified = verifier.verify_sync(&token)?;
/// assert_eq!(verified.subject(), "alice");
/// assert!(verified.has_scope("orders:read"));
///
/// // Rejected: ten minutes later the token has expired.
/// clock.advance(600);
/// assert!(matches!(verifier.verify_sync(&token), Err(AuthError::Expired { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JwtVerifier {
    /// Shared, so a verification that must wait for keys owns what it needs.
    engine: Arc<Engine>,
}

/// Everything a [`JwtVerifier`] holds.
struct Engine {
    /// Sorted by issuer, for a binary search by `iss`.
    issuers: Box<[IssuerEntry]>,
    clock: Arc<dyn Clock>,
    revocation: Arc<dyn RevocationCheck>,
    cache: TokenCache,
    pattern: Pattern,
    source: TokenSource,
    /// The largest `max_token_bytes` of any issuer: the bound before parsing.
    max_token_bytes: usize,
}

/// Builds a [`JwtVerifier`].
#[must_use]
pub struct JwtVerifierBuilder {
    issuers: Vec<IssuerConfig>,
    clock: Arc<dyn Clock>,
    revocation: Option<Arc<dyn RevocationCheck>>,
    token_cache: TokenCacheConfig,
    pattern: Pattern,
    source: TokenSource,
}

/// Where a [`JwtVerifier`] reads its token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenSource {
    Bearer,
    InternalTokenHeader,
}

/// A key set could not be loaded by [`JwtVerifier::warm`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("keys of issuer {issuer}: {source}")]
pub struct WarmError {
    issuer: Issuer,
    #[source]
    source: JwksError,
}

impl WarmError {
    /// The issuer whose keys could not be loaded.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// Why.
    pub fn error(&self) -> &JwksError {
        &self.source
    }

    /// A stable snake_case reason for logs (that of the [`JwksError`]).
    pub fn reason(&self) -> &'static str {
        self.source.reason()
    }
}

/// Everything read from a token before its key is known.
struct Prepared<'a> {
    entry: &'a IssuerEntry,
    segments: Segments<'a>,
    header: Header,
    claims: JwtClaims,
}

/// Where a verified token goes in the cache, decided before verification began.
struct CacheSlot {
    key: CacheKey,
    /// The revocation version read before verification began: the check in `finish`
    /// ran against this version or a newer one.
    revocation_version: u64,
}

/// Why a verification without waiting did not conclude.
enum NotNow<'a> {
    /// The verdict: refused.
    Refused(AuthError),
    /// The issuer's current key set cannot answer (unknown `kid`, not loaded, stale): a
    /// caller that may wait lets the key cache fetch.
    Key(KeyError, &'a IssuerEntry),
}

impl From<AuthError> for NotNow<'_> {
    fn from(error: AuthError) -> Self {
        NotNow::Refused(error)
    }
}

impl JwtVerifier {
    /// A builder: no issuers yet, the system clock, no revocation list, the token cache
    /// on ([`TokenCacheConfig::default`]), pattern [`Pattern::JwtPassthrough`].
    pub fn builder() -> JwtVerifierBuilder {
        JwtVerifierBuilder {
            issuers: Vec::new(),
            clock: Arc::new(SystemClock),
            revocation: None,
            token_cache: TokenCacheConfig::default(),
            pattern: Pattern::JwtPassthrough,
            source: TokenSource::Bearer,
        }
    }

    /// Verifies `token` (without the `Bearer ` prefix). On an unknown `kid` the issuer's
    /// key cache may refetch once (shared by all waiters, at most once per cooldown);
    /// otherwise nothing waits.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use jsonwebtoken::{Algorithm, EncodingKey, Header};
    /// # use principal::{Audience, Issuer, TestClock, Timestamp};
    /// # use serde_json::json;
    /// # use tower_auth::AuthError;
    /// # use tower_auth::jwks::SymmetricKey;
    /// # use tower_auth::jwt::{IssuerConfig, JwtVerifier};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let secret = [7u8; 32];
    /// let verifier = JwtVerifier::builder()
    ///     .issuer(
    ///         IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
    ///             .audience(Audience::new("orders-api")?)
    ///             .hmac_secrets([SymmetricKey::new(Some("hs-1"), Algorithm::HS256, secret.to_vec())?])
    ///             .build()?,
    ///     )
    ///     .clock(Arc::new(TestClock::new(Timestamp::from_unix_seconds(1_700_000_000))))
    ///     .build()?;
    /// let mut header = Header::new(Algorithm::HS256);
    /// header.kid = Some("hs-1".into());
    /// let sign = |claims: serde_json::Value| {
    ///     jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret))
    /// };
    ///
    /// let token = sign(json!({"iss": "https://idp.example.com", "sub": "alice",
    ///                         "aud": "orders-api", "exp": 1_700_000_300}))?;
    /// assert_eq!(verifier.verify_token(&token).await?.subject(), "alice");
    ///
    /// // Rejected: a token for another service.
    /// let token = sign(json!({"iss": "https://idp.example.com", "sub": "alice",
    ///                         "aud": "billing-api", "exp": 1_700_000_300}))?;
    /// assert!(matches!(verifier.verify_token(&token).await, Err(AuthError::WrongAudience)));
    ///
    /// // Declined: an issuer this verifier does not know (a chain asks the next verifier).
    /// let token = sign(json!({"iss": "https://other.example.com", "sub": "alice",
    ///                         "aud": "orders-api", "exp": 1_700_000_300}))?;
    /// assert!(matches!(verifier.verify_token(&token).await, Err(AuthError::UnknownIssuer)));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn verify_token(&self, token: &str) -> Result<VerifiedPrincipal, AuthError> {
        let slot = match self.cached(token)? {
            Ok(hit) => return Ok(hit),
            Err(slot) => slot,
        };
        let prepared = self.prepare(token)?;
        let issuer = self.issuer_index(prepared.entry);
        // Before the lookup, so the key found is of this version or a newer one.
        let key_version = prepared.entry.keys.version();
        let key = prepared
            .entry
            .keys
            .key_for(prepared.header.kid.as_deref())
            .await
            .map_err(|error| key_error(error, prepared.entry))?;
        let verified = self.finish(prepared, &key)?;
        self.remember(slot, issuer, key, key_version, &verified, token.len());
        Ok(verified)
    }

    /// Verifies `token` without ever waiting: a `kid` missing from the issuer's current
    /// key set is refused (no refetch), as are keys past their maximum staleness. For
    /// callers that cannot wait, like tonic interceptors; everything else is the same as
    /// [`verify_token`](Self::verify_token).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use jsonwebtoken::{Algorithm, EncodingKey, Header};
    /// # use principal::{Audience, Issuer, TestClock, Timestamp};
    /// # use serde_json::json;
    /// # use tower_auth::AuthError;
    /// # use tower_auth::jwks::SymmetricKey;
    /// # use tower_auth::jwt::{IssuerConfig, JwtVerifier};
    /// # let secret = [7u8; 32];
    /// let verifier = JwtVerifier::builder()
    ///     .issuer(
    ///         IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
    ///             .audience(Audience::new("orders-api")?)
    ///             .hmac_secrets([SymmetricKey::new(Some("hs-1"), Algorithm::HS256, secret.to_vec())?])
    ///             .build()?,
    ///     )
    ///     .clock(Arc::new(TestClock::new(Timestamp::from_unix_seconds(1_700_000_000))))
    ///     .build()?;
    /// let claims = json!({"iss": "https://idp.example.com", "sub": "alice",
    ///                     "aud": "orders-api", "exp": 1_700_000_300});
    /// let mut header = Header::new(Algorithm::HS256);
    /// header.kid = Some("hs-1".into());
    /// let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret))?;
    /// assert!(verifier.verify_sync(&token).is_ok());
    ///
    /// // Rejected: signed with a key of the same kid but another secret.
    /// let forged = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&[8u8; 32]))?;
    /// assert!(matches!(verifier.verify_sync(&forged), Err(AuthError::BadSignature)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_sync(&self, token: &str) -> Result<VerifiedPrincipal, AuthError> {
        self.verify_now(token).map_err(|not_now| match not_now {
            NotNow::Refused(error) => error,
            NotNow::Key(error, entry) => key_error(error, entry),
        })
    }

    /// [`verify_sync`](Self::verify_sync), telling a key the current set cannot give
    /// apart from a refusal.
    fn verify_now<'a>(&'a self, token: &'a str) -> Result<VerifiedPrincipal, NotNow<'a>> {
        let slot = match self.cached(token)? {
            Ok(hit) => return Ok(hit),
            Err(slot) => slot,
        };
        let prepared = self.prepare(token)?;
        let issuer = self.issuer_index(prepared.entry);
        // Read before the lookup: a set installed in between files the verdict under the
        // older version, so a later hit re-checks its key (never the other way round).
        let keys_version = prepared.entry.keys.version();
        // Never fetches; an expired set starts a background refresh (stale-while-revalidate).
        let key = match prepared.entry.keys.key_now(prepared.header.kid.as_deref()) {
            Ok(key) => key,
            Err(error) => return Err(NotNow::Key(error, prepared.entry)),
        };
        let verified = self.finish(prepared, &key)?;
        self.remember(slot, issuer, key, keys_version, &verified, token.len());
        Ok(verified)
    }

    /// Step 1: the size bound, then the verified-token cache. `Ok(Ok(hit))` is a cached
    /// verdict; `Ok(Err(slot))` a miss (`slot` is `None` with the cache off); `Err` a
    /// refusal (too large, or a cached token revoked since).
    fn cached(
        &self,
        token: &str,
    ) -> Result<Result<VerifiedPrincipal, Option<CacheSlot>>, AuthError> {
        if token.len() > self.engine.max_token_bytes {
            return Err(AuthError::TokenTooLarge {
                len: token.len(),
                max: self.engine.max_token_bytes,
            });
        }
        if !self.engine.cache.is_enabled() {
            return Ok(Err(None));
        }
        // Read before anything else, so a verdict reached while the list changed is
        // recorded against the older version and re-checked on its next hit.
        let revocation_version = self.engine.revocation.version();
        let key = self.engine.cache.key(token);
        let cached = self.engine.cache.get(&key, |entry| self.recheck(entry));
        crate::metrics::cache_lookup(crate::metrics::CacheName::VerifiedToken, cached.is_some());
        match cached {
            Some(verdict) => verdict.map(Ok),
            None => Ok(Err(Some(CacheSlot {
                key,
                revocation_version,
            }))),
        }
    }

    /// Re-checks what a cached verdict depends on and that changed since it was
    /// recorded (see [`token_cache`](crate::token_cache) for the rules).
    fn recheck(&self, entry: &CachedEntry<'_>) -> Recheck {
        let Some(issuer) = self.engine.issuers.get(entry.issuer()) else {
            return Recheck::Drop;
        };
        let snapshot = issuer.keys.snapshot();
        // The trust in the key ends when its set may no longer serve: a fresh
        // verification would answer "keys unavailable", so must the cache.
        let now = self.engine.clock.now();
        if !snapshot.is_servable(now) {
            return Recheck::Miss;
        }
        // A hit revalidates like a lookup does: with every request served from this
        // cache, a key the IdP removed still stops verifying within the refresh period.
        if snapshot.refresh_due(now) {
            issuer.keys.revalidate_in_background();
        }
        let key_version = snapshot.version();
        if key_version != entry.key_version() {
            let cached = entry.key();
            let current = match cached.kid() {
                Some(kid) => snapshot.get(kid),
                None => snapshot.key_set().sole_key(),
            };
            match current {
                Some(current) if same_key(current, cached) => {
                    entry.confirm_key_version(key_version);
                }
                // Gone, replaced, or (no kid) no longer the only key.
                _ => return Recheck::Drop,
            }
        }
        if self.engine.revocation.version() != entry.revocation_version() {
            let (version, outcome) = self.engine.revocation.check_versioned(entry.principal());
            if let Err(revoked) = outcome {
                return Recheck::Refuse(revoked.into());
            }
            entry.confirm_revocation_version(version);
        }
        Recheck::Serve
    }

    fn remember(
        &self,
        slot: Option<CacheSlot>,
        issuer: usize,
        key: Arc<VerificationKey>,
        key_version: u64,
        verified: &VerifiedPrincipal,
        token_len: usize,
    ) {
        if let Some(slot) = slot {
            let dependencies = Dependencies {
                issuer,
                key,
                key_version,
                revocation_version: slot.revocation_version,
            };
            self.engine
                .cache
                .insert(slot.key, verified.clone(), dependencies, token_len);
        }
    }

    /// The index of `entry` in `issuers` (what cache entries record).
    fn issuer_index(&self, entry: &IssuerEntry) -> usize {
        self.engine
            .issuers
            .iter()
            .position(|candidate| std::ptr::eq(candidate, entry))
            .unwrap_or(usize::MAX)
    }

    /// Steps 2-6, no key needed: shape, header, claims decoded once, issuer by `iss`,
    /// the issuer's size bound and algorithm allow-list.
    fn prepare<'a>(&'a self, token: &'a str) -> Result<Prepared<'a>, AuthError> {
        let segments = token::split(token)?;
        let header = token::header(segments.header)?;
        token::signature_present(&segments)?;
        let claims = token::claims(segments.payload)?;
        let iss = claims.iss.as_deref().ok_or(AuthError::MissingClaim {
            claim: Cow::Borrowed("iss"),
        })?;
        let entry = self.issuer(iss).ok_or(AuthError::UnknownIssuer)?;
        let config = &entry.config;
        if token.len() > config.max_token_bytes {
            return Err(AuthError::TokenTooLarge {
                len: token.len(),
                max: config.max_token_bytes,
            });
        }
        // Before the key lookup, so a disallowed algorithm cannot cause a refetch.
        if !config.algorithms.contains(&header.alg) {
            return Err(AuthError::UnsupportedAlgorithm {
                alg: format!("{:?}", header.alg),
            });
        }
        Ok(Prepared {
            entry,
            segments,
            header,
            claims,
        })
    }

    /// The issuer whose identifier is exactly `iss`: a binary search, no allocation.
    fn issuer(&self, iss: &str) -> Option<&IssuerEntry> {
        self.engine
            .issuers
            .binary_search_by(|entry| entry.config.issuer.as_str().cmp(iss))
            .ok()
            .map(|index| &self.engine.issuers[index])
    }

    /// Steps 7 onwards: the key's algorithm, the signature, the claims, the mapping, the
    /// revocation check and the required scopes.
    fn finish(
        &self,
        prepared: Prepared<'_>,
        key: &VerificationKey,
    ) -> Result<VerifiedPrincipal, AuthError> {
        let Prepared {
            entry,
            segments,
            header,
            claims,
        } = prepared;
        let config = &entry.config;
        // The algorithm comes from the key; the header only has to agree with it. The
        // header's algorithm passed the issuer's allow-list in `prepare`, so once they
        // agree the key's algorithm is allowed too.
        if key.algorithm() != header.alg {
            return Err(AuthError::AlgorithmMismatch {
                token: header.alg,
                key: key.algorithm(),
            });
        }
        // The signature over exactly `header.payload` as received, with the key aws-lc
        // parsed when the set loaded; decoded into a stack buffer, not the heap.
        let mut buffer = [0u8; token::MAX_SIGNATURE_BYTES];
        let Some(signature) = token::signature(segments.signature, &mut buffer)? else {
            return Err(AuthError::BadSignature);
        };
        match key.verifies(segments.signing_input.as_bytes(), signature) {
            Ok(true) => {}
            Ok(false) => return Err(AuthError::BadSignature),
            // The key does not fit its own algorithm: a key-set bug, not the caller's.
            Err(_) => {
                return Err(AuthError::Internal {
                    why: "the key cannot verify its own algorithm",
                });
            }
        }

        checks::times(&claims, self.engine.clock.now(), config.leeway_seconds)?;
        if !config.skip_audience_check {
            checks::audience(&claims, &config.audiences)?;
        }
        if let Some(required) = &config.require_typ {
            match header.typ.as_deref() {
                Some(found) if token::typ_matches(found, required) => {}
                found => {
                    return Err(AuthError::WrongType {
                        found: found.map(token::echo),
                    });
                }
            }
        }
        checks::required_claims(&claims, &config.required_claims)?;

        let principal = config.mapping.principal_from_claims(&claims)?;
        if principal.issuer() != &config.issuer {
            return Err(AuthError::WrongIssuer {
                found: token::echo(principal.issuer().as_str()),
            });
        }
        self.engine.revocation.check(&principal)?;
        if let Some(missing) = config
            .required_scopes
            .iter()
            .find(|scope| !principal.has_scope(scope.as_str()))
        {
            return Err(AuthError::InsufficientScope {
                required: missing.as_str().to_owned(),
            });
        }
        let verified = VerifiedPrincipal::new(Arc::new(principal), self.engine.pattern);
        Ok(match &config.minted_by {
            // The issuer is this service's internal minter: the token's signature is the
            // minting service's, so it is this hop's caller.
            Some(service) => verified.with_caller(Caller::new(
                CallerIdentity::Service(service.clone()),
                Pattern::InternalJwt,
            )),
            None => verified,
        })
    }

    /// Fetches every issuer's key set now (static sets answer at once). With
    /// [`StartupPolicy::FailIfUnavailable`] the first failure is returned; with
    /// [`StartupPolicy::ContinueIfUnavailable`] failures are logged and tokens of that
    /// issuer are refused until a later fetch succeeds.
    ///
    /// ```
    /// use principal::{Audience, Issuer};
    /// use tower_auth::dev_idp::{DevIdp, Override};
    /// use tower_auth::jwks::StartupPolicy;
    /// use tower_auth::jwt::{IssuerConfig, JwtVerifier};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let idp = DevIdp::start("127.0.0.1:0".parse()?).await?;
    /// let verifier = JwtVerifier::builder()
    ///     .issuer(
    ///         IssuerConfig::builder(Issuer::new(idp.issuer())?)
    ///             .audience(Audience::new("api")?)
    ///             .oidc_discovery()
    ///             .build()?,
    ///     )
    ///     .build()?;
    /// verifier.warm(StartupPolicy::FailIfUnavailable).await?;
    ///
    /// // Rejected: the IdP is failing and start-up is told to stop.
    /// idp.set_response(Override::Status500);
    /// let err = verifier.warm(StartupPolicy::FailIfUnavailable).await.unwrap_err();
    /// assert_eq!(err.reason(), "http_status");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn warm(&self, startup: StartupPolicy) -> Result<(), WarmError> {
        for entry in self.engine.issuers.iter() {
            // An `Ok` outcome is either loaded keys or, as `startup` allowed, a logged
            // failure; only an `Err` stops the start-up.
            if let Err(source) = entry.keys.warm(startup).await {
                return Err(WarmError {
                    issuer: entry.config.issuer.clone(),
                    source,
                });
            }
        }
        Ok(())
    }

    /// Starts a background refresher for every fetched key set, on the current tokio
    /// runtime. Dropping a handle stops its refresher.
    ///
    /// ```
    /// use principal::{Audience, Issuer};
    /// use tower_auth::jwt::{IssuerConfig, JwtVerifier};
    ///
    /// let verifier = JwtVerifier::builder()
    ///     .issuer(
    ///         IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
    ///             .audience(Audience::new("api")?)
    ///             .oidc_discovery()
    ///             .build()?,
    ///     )
    ///     .build()?;
    /// // Rejected: no tokio runtime to run on.
    /// assert_eq!(verifier.spawn_refreshers().unwrap_err().reason(), "no_runtime");
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// let handles = runtime.block_on(async { verifier.spawn_refreshers() })?;
    /// assert_eq!(handles.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn_refreshers(&self) -> Result<Vec<RefresherHandle>, JwksConfigError> {
        self.engine
            .issuers
            .iter()
            .filter(|entry| entry.keys.source().is_some())
            .map(|entry| entry.keys.spawn_refresher())
            .collect()
    }

    /// The key cache of `issuer`, if it is configured.
    pub fn key_cache(&self, issuer: &str) -> Option<&KeyCache> {
        self.issuer(issuer).map(|entry| &entry.keys)
    }

    /// The issuers' configurations, ordered by issuer.
    pub fn issuers(&self) -> impl Iterator<Item = &IssuerConfig> {
        self.engine.issuers.iter().map(|entry| &entry.config)
    }

    /// The verified-token cache.
    pub fn token_cache(&self) -> &TokenCache {
        &self.engine.cache
    }
}

/// An issuer's key lookup failure as the caller sees it.
fn key_error(error: KeyError, entry: &IssuerEntry) -> AuthError {
    match error {
        KeyError::UnknownKeyId { kid } => AuthError::UnknownKeyId {
            kid: Some(token::echo(&kid)),
        },
        KeyError::MissingKeyId { .. } => AuthError::UnknownKeyId { kid: None },
        // Not loaded, stale beyond the maximum staleness, or a failure added later: the
        // token cannot be verified now.
        _ => AuthError::KeySourceUnavailable {
            issuer: entry.config.issuer.as_str().to_owned(),
        },
    }
}

/// Whether two keys are the same key: the same object, or the same `kid`, algorithm and
/// material (a refetched set parses its keys anew).
fn same_key(a: &VerificationKey, b: &VerificationKey) -> bool {
    std::ptr::eq(a, b)
        || (a.kid() == b.kid() && a.algorithm() == b.algorithm() && a.material() == b.material())
}

impl Verifier for JwtVerifier {
    /// Reads the bearer token (or the `x-baton-internal-token` header, with
    /// [`JwtVerifierBuilder::internal_token_header`]) and declines when there is none.
    /// Ready whenever the verdict needs no key fetch (a cache hit, or a key in the current
    /// set); pending, boxed once, only when the key cache has to fetch.
    fn verify(&self, credentials: &Credentials<'_>) -> VerifyFuture {
        let token = match self.engine.source {
            TokenSource::Bearer => credentials.bearer_token(),
            TokenSource::InternalTokenHeader => credentials.internal_token(),
        };
        let Some(token) = token else {
            return VerifyFuture::ready(Err(AuthError::UnsupportedTokenFormat));
        };
        let verdict: Verdict = match self.verify_now(token) {
            Ok(verified) => Ok(verified),
            Err(NotNow::Refused(error)) => Err(error),
            Err(NotNow::Key(..)) => {
                // The slow path owns its copy of the token and a handle on the verifier.
                let this = self.clone();
                let token = token.to_owned();
                return VerifyFuture::pending(async move { this.verify_token(&token).await });
            }
        };
        VerifyFuture::ready(verdict)
    }

    fn pattern(&self) -> Pattern {
        self.engine.pattern
    }
}

impl JwtVerifierBuilder {
    /// Also accept tokens of this issuer.
    pub fn issuer(mut self, config: IssuerConfig) -> Self {
        self.issuers.push(config);
        self
    }

    /// The source of "now" for `exp`, `nbf`, `iat`, the token cache and the key caches
    /// this verifier builds (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The revocation check consulted on every verification that misses the token
    /// cache (default: nothing is revoked). When the check's version changes, a cached
    /// verdict is checked again on its next hit (by the Principal's ids, no signature
    /// work) and refused if revoked.
    pub fn revocation(mut self, check: Arc<dyn RevocationCheck>) -> Self {
        self.revocation = Some(check);
        self
    }

    /// The verified-token cache (default on, [`TokenCacheConfig::default`]);
    /// [`TokenCacheConfig::disabled`] checks every signature every time.
    pub fn token_cache(mut self, config: TokenCacheConfig) -> Self {
        self.token_cache = config;
        self
    }

    /// The trust pattern recorded in each [`VerifiedPrincipal`]:
    /// [`Pattern::JwtPassthrough`] (default) or [`Pattern::InternalJwt`] for tokens a
    /// Baton edge minted.
    pub fn pattern(mut self, pattern: Pattern) -> Self {
        self.pattern = pattern;
        self
    }

    /// Read the token from the `x-baton-internal-token` header instead of the bearer
    /// token, for deployments that carry internal JWTs in a header of their own. The
    /// bearer token is then not this verifier's business (it declines without one).
    pub fn internal_token_header(mut self) -> Self {
        self.source = TokenSource::InternalTokenHeader;
        self
    }

    /// Checks the configuration and builds the verifier. Fetches nothing: call
    /// [`JwtVerifier::warm`] next for fetched key sets.
    ///
    /// ```
    /// use principal::{Audience, Issuer};
    /// use tower_auth::jwt::{ConfigError, IssuerConfig, JwtVerifier};
    ///
    /// let config = IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
    ///     .audience(Audience::new("api")?)
    ///     .oidc_discovery()
    ///     .build()?;
    /// assert!(JwtVerifier::builder().issuer(config.clone()).build().is_ok());
    ///
    /// // Rejected: the same issuer twice.
    /// let err = JwtVerifier::builder().issuer(config.clone()).issuer(config).build().unwrap_err();
    /// assert_eq!(err.reason(), "duplicate_issuer");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<JwtVerifier, ConfigError> {
        if self.issuers.is_empty() {
            return Err(ConfigError::NoIssuers);
        }
        if !matches!(self.pattern, Pattern::JwtPassthrough | Pattern::InternalJwt) {
            return Err(ConfigError::UnsupportedPattern {
                pattern: self.pattern,
            });
        }
        if self.pattern != Pattern::InternalJwt
            && let Some(config) = self.issuers.iter().find(|c| c.minted_by.is_some())
        {
            return Err(ConfigError::MintedByOutsideInternalJwt {
                issuer: config.issuer.as_str().to_owned(),
            });
        }
        let mut issuers = Vec::with_capacity(self.issuers.len());
        for config in self.issuers {
            let keys = config
                .keys
                .clone()
                .into_cache(Arc::clone(&self.clock))
                .map_err(|source| ConfigError::Keys {
                    issuer: config.issuer.as_str().to_owned(),
                    source,
                })?;
            issuers.push(IssuerEntry { config, keys });
        }
        issuers.sort_by(|a, b| a.config.issuer.cmp(&b.config.issuer));
        if let Some(pair) = issuers
            .windows(2)
            .find(|pair| pair[0].config.issuer == pair[1].config.issuer)
        {
            return Err(ConfigError::DuplicateIssuer {
                issuer: pair[0].config.issuer.as_str().to_owned(),
            });
        }
        let mut fingerprint = format!("pattern={}\n", self.pattern);
        for entry in &issuers {
            entry.config.write_fingerprint(&mut fingerprint);
        }
        let max_token_bytes = issuers
            .iter()
            .map(|entry| entry.config.max_token_bytes)
            .max()
            .unwrap_or(0);
        Ok(JwtVerifier {
            engine: Arc::new(Engine {
                issuers: issuers.into_boxed_slice(),
                cache: TokenCache::new(
                    self.token_cache,
                    fingerprint.as_bytes(),
                    Arc::clone(&self.clock),
                ),
                clock: self.clock,
                revocation: self.revocation.unwrap_or_else(|| Arc::new(Denylist::new())),
                pattern: self.pattern,
                source: self.source,
                max_token_bytes,
            }),
        })
    }
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuers", &self.issuers().collect::<Vec<_>>())
            .field("pattern", &self.engine.pattern)
            .field("revocation_version", &self.engine.revocation.version())
            .field("token_cache", &self.engine.cache)
            .field("max_token_bytes", &self.engine.max_token_bytes)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for JwtVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifierBuilder")
            .field("issuers", &self.issuers)
            .field("token_cache", &self.token_cache)
            .field("pattern", &self.pattern)
            .finish_non_exhaustive()
    }
}
