//! [`InternalIssuer`]: mints internal JWTs, holds the key ring and its rotation.

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use principal::limits::{DEFAULT_MAX_DELEGATION_DEPTH, HARD_MAX_DELEGATION_DEPTH};
use principal::{Audience, Audiences, Clock, Issuer, Principal, ScopeSet, SystemClock, Timestamp};
use serde_json::{Value, json};

use super::key::SigningKey;
use super::{JWKS_PATH, MintConfigError, MintError, MintedToken, SigningAlgorithm};
use crate::jwks::JwksSource;
use crate::jwt::{DEFAULT_LEEWAY, MAX_LEEWAY};

/// The `tracing` target of minting events.
pub const MINT_TARGET: &str = "tower_auth::mint";
/// Lifetime of a minted token when none is configured.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// The longest lifetime an issuer may be configured with: internal tokens live minutes.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// `Cache-Control: max-age` of the JWKS and discovery document when none is configured.
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(60);
/// The largest `max-age` accepted: a retired key must stop being trusted quickly.
pub const MAX_JWKS_MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// A key of the ring and the latest `exp` it signed.
struct RingKey {
    key: SigningKey,
    /// The latest `exp` of a token this key signed (Unix seconds; `i64::MIN`: none yet).
    last_exp: AtomicI64,
}

/// A key that signs no more, published until its last token has expired.
struct Previous {
    key: Arc<RingKey>,
    published_until: Timestamp,
}

struct Ring {
    current: Arc<RingKey>,
    /// Oldest first.
    previous: Vec<Previous>,
}

struct Inner {
    issuer: Issuer,
    jwks_uri: String,
    lifetime_seconds: i64,
    leeway_seconds: i64,
    max_delegation_depth: usize,
    cache_control: String,
    clock: Arc<dyn Clock>,
    rng: SystemRandom,
    ring: RwLock<Ring>,
    minted: AtomicU64,
}

/// Mints internal JWTs (DESIGN §4 pattern 2) in the internal profile of DESIGN §3.
///
/// Each token: header `alg` (ES256 or EdDSA), `typ: at+jwt`, `kid`; claims from
/// [`Principal::to_claims`] (the inverse of [`ClaimMapping::baton`](principal::ClaimMapping::baton),
/// so the receiving hop rebuilds the same subject, kind, actors, scopes, roles, tenant,
/// attributes, session and authentication context) with `iss` this issuer, exactly one
/// `aud` (a string), `iat` now, `exp` now plus the lifetime but never after the
/// Principal's `expires_at`, and a random `jti`. The hop's Principal therefore names this
/// issuer as its issuer, and its `token_id` is the minted `jti`, not the edge token's.
///
/// Minting refuses ([`MintError`]) a Principal that is expired or not yet valid, a
/// delegation chain longer than the configured maximum, and a scope set wider than the
/// Principal's ([`mint_narrowed`](Self::mint_narrowed) only narrows).
///
/// # Keys and rotation
///
/// [`rotate`](Self::rotate) makes a new key current; the previous key signs no more but
/// stays in the JWKS until the last token it signed has expired plus the leeway (the
/// verifier's clock leeway, default 30 s), then drops out. [`retire`](Self::retire) drops
/// a previous key at once (a compromised key): verifiers stop accepting it at their next
/// JWKS refresh, so keep [`jwks_max_age`](InternalIssuerBuilder::jwks_max_age) short. A
/// rotated-in key is unknown to verifiers until they refetch; their key cache refetches
/// on an unknown `kid` (at most once per cooldown).
///
/// Cheap to clone (an `Arc`); clones share the key ring.
///
/// ```
/// use principal::{Audience, HumanId, Issuer, Principal, ScopeSet, TestClock, Timestamp};
/// use std::sync::Arc;
/// use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
///
/// let clock = TestClock::new(Timestamp::from_unix_seconds(1_700_000_000));
/// let issuer = InternalIssuer::builder(
///     Issuer::new("https://edge.internal")?,
///     SigningKey::generate(SigningAlgorithm::Es256)?,
/// )
/// .clock(Arc::new(clock.clone()))
/// .build()?;
///
/// let idp = Issuer::new("https://idp.example.com")?;
/// let alice = Principal::builder(HumanId::derive(&idp, "alice").into(), idp, "alice")
///     .scopes(ScopeSet::parse("orders:read orders:write")?)
///     .expires_at(Timestamp::from_unix_seconds(1_700_003_600))
///     .build()?;
/// let orders = Audience::new("orders-api")?;
/// let token = issuer.mint(&alice, &orders)?;
/// assert_eq!(token.expires_at(), Timestamp::from_unix_seconds(1_700_000_300)); // 5 min
/// assert_eq!(token.kid(), issuer.current_kid());
///
/// // Rejected: asking for a scope the Principal does not have.
/// let wider = ScopeSet::parse("orders:read admin")?;
/// assert_eq!(issuer.mint_narrowed(&alice, &orders, &wider).unwrap_err().reason(), "scope_widening");
/// // Rejected: the Principal has expired.
/// clock.set(Timestamp::from_unix_seconds(1_700_003_600));
/// assert_eq!(issuer.mint(&alice, &orders).unwrap_err().reason(), "principal_expired");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct InternalIssuer {
    inner: Arc<Inner>,
}

/// Builds an [`InternalIssuer`]; see there and the [module docs](super) for the defaults.
#[must_use]
pub struct InternalIssuerBuilder {
    issuer: Issuer,
    key: SigningKey,
    lifetime: Duration,
    leeway: Duration,
    max_delegation_depth: usize,
    jwks_max_age: Duration,
    clock: Arc<dyn Clock>,
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // The ring is replaced whole under the write lock: never seen half-changed.
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn whole_seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

impl InternalIssuer {
    /// A builder for the issuer `issuer` (its `iss`; the JWKS is published at
    /// `{issuer}/.well-known/jwks.json`) signing with `key`.
    pub fn builder(issuer: Issuer, key: SigningKey) -> InternalIssuerBuilder {
        InternalIssuerBuilder {
            issuer,
            key,
            lifetime: DEFAULT_TOKEN_LIFETIME,
            leeway: DEFAULT_LEEWAY,
            max_delegation_depth: DEFAULT_MAX_DELEGATION_DEPTH,
            jwks_max_age: DEFAULT_JWKS_MAX_AGE,
            clock: Arc::new(SystemClock),
        }
    }

    /// The issuer (`iss` of every token).
    pub fn issuer(&self) -> &Issuer {
        &self.inner.issuer
    }

    /// Where the JWKS is published: `{issuer}/.well-known/jwks.json`.
    pub fn jwks_uri(&self) -> &str {
        &self.inner.jwks_uri
    }

    /// The lifetime of a minted token (shorter when the Principal expires sooner).
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(self.inner.lifetime_seconds.unsigned_abs())
    }

    /// The longest delegation chain minted.
    pub fn max_delegation_depth(&self) -> usize {
        self.inner.max_delegation_depth
    }

    /// The key id of the key that signs now.
    pub fn current_kid(&self) -> String {
        read(&self.inner.ring).current.key.kid().to_owned()
    }

    /// Tokens signed so far (by [`mint`](Self::mint), directly or through a
    /// [`MintCache`](super::MintCache)).
    pub fn tokens_minted(&self) -> u64 {
        self.inner.minted.load(Ordering::Relaxed)
    }

    /// Mints a token for `principal` and `audience` with the Principal's scopes.
    pub fn mint(
        &self,
        principal: &Principal,
        audience: &Audience,
    ) -> Result<MintedToken, MintError> {
        self.mint_scoped(principal, audience, None)
    }

    /// Mints a token for `principal` and `audience` carrying only `scopes`, which must
    /// be a subset of the Principal's scopes: a token never grants more than the
    /// Principal holds ([`MintError::ScopeWidening`]). Each actor's grant in `act` is
    /// narrowed with it, so the receiving hop's effective scopes are exactly `scopes`.
    ///
    /// ```
    /// # use principal::{Audience, HumanId, Issuer, Principal, ScopeSet, Timestamp};
    /// # use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
    /// # let issuer = InternalIssuer::builder(
    /// #     Issuer::new("https://edge.internal")?,
    /// #     SigningKey::generate(SigningAlgorithm::EdDsa)?,
    /// # ).build()?;
    /// # let idp = Issuer::new("https://idp.example.com")?;
    /// # let alice = Principal::builder(HumanId::derive(&idp, "alice").into(), idp, "alice")
    /// #     .scopes(ScopeSet::parse("orders:read orders:write")?)
    /// #     .expires_at(Timestamp::from_unix_seconds(i64::MAX / 2))
    /// #     .build()?;
    /// let orders = Audience::new("orders-api")?;
    /// let read_only = ScopeSet::parse("orders:read")?;
    /// assert!(issuer.mint_narrowed(&alice, &orders, &read_only).is_ok());
    ///
    /// // Rejected: `admin` is not the Principal's.
    /// let err = issuer.mint_narrowed(&alice, &orders, &ScopeSet::parse("admin")?).unwrap_err();
    /// assert_eq!(err.reason(), "scope_widening");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn mint_narrowed(
        &self,
        principal: &Principal,
        audience: &Audience,
        scopes: &ScopeSet,
    ) -> Result<MintedToken, MintError> {
        self.mint_scoped(principal, audience, Some(scopes))
    }

    pub(super) fn mint_scoped(
        &self,
        principal: &Principal,
        audience: &Audience,
        scopes: Option<&ScopeSet>,
    ) -> Result<MintedToken, MintError> {
        let minted = self.sign_for(principal, audience, scopes);
        if let Err(error) = &minted {
            // A refusal is a decision worth an event (DESIGN §6): a widening or a chain
            // past the limit is a caller trying for more than the Principal holds.
            tracing::warn!(
                target: MINT_TARGET,
                issuer = %self.inner.issuer.as_str(),
                principal = %principal.id(),
                kind = %principal.kind().as_str(),
                depth = principal.delegation().len(),
                audience = %audience.as_str(),
                outcome = "refused",
                reason = error.reason(),
                "internal token not minted: {error}"
            );
        }
        minted
    }

    fn sign_for(
        &self,
        principal: &Principal,
        audience: &Audience,
        scopes: Option<&ScopeSet>,
    ) -> Result<MintedToken, MintError> {
        let inner = &*self.inner;
        let now = inner.clock.now();
        if principal.is_expired_at(now) {
            return Err(MintError::PrincipalExpired {
                expires_at: principal.expires_at(),
                now,
            });
        }
        if !principal.is_valid_at(now) {
            return Err(MintError::PrincipalNotYetValid { now });
        }
        let depth = principal.delegation().len();
        if depth > inner.max_delegation_depth {
            return Err(MintError::DelegationTooDeep {
                depth,
                max: inner.max_delegation_depth,
            });
        }
        let narrowed;
        let principal = match scopes {
            None => principal,
            Some(scopes) => {
                if let Some(extra) = scopes.iter().find(|s| !principal.has_scope(s.as_str())) {
                    return Err(MintError::ScopeWidening {
                        scope: extra.as_str().to_owned(),
                    });
                }
                // Through the builder, so every actor's grant is narrowed by the same rule
                // as everywhere else.
                narrowed = principal
                    .to_builder()
                    .scopes(scopes.clone())
                    .build()
                    .map_err(|_| MintError::Internal {
                        why: "the narrowed Principal could not be rebuilt",
                    })?;
                &narrowed
            }
        };
        let expires_at = now
            .add_seconds(inner.lifetime_seconds)
            .min(principal.expires_at());

        let mut claims = principal.to_claims();
        claims.iss = Some(inner.issuer.as_str().to_owned());
        claims.aud = Some(Audiences::One(audience.as_str().to_owned()));
        claims.iat = Some(now);
        claims.exp = Some(expires_at);
        let jti = random_id(&inner.rng)?;
        claims.jti = Some(jti.clone());
        let payload = serde_json::to_vec(&claims).map_err(|_| MintError::Internal {
            why: "the claims could not be serialised",
        })?;

        // The key, and the record that it signs until `expires_at`, under the read lock:
        // a rotation (write lock) sees every `exp` a key will ever sign.
        let key = {
            let ring = read(&inner.ring);
            ring.current
                .last_exp
                .fetch_max(expires_at.as_unix_seconds(), Ordering::SeqCst);
            Arc::clone(&ring.current)
        };
        let mut token =
            String::with_capacity(key.key.header_b64().len() + payload.len() * 4 / 3 + 100);
        token.push_str(key.key.header_b64());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = key
            .key
            .sign(&inner.rng, token.as_bytes())
            .ok_or(MintError::Internal {
                why: "the key could not sign",
            })?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        inner.minted.fetch_add(1, Ordering::Relaxed);
        Ok(MintedToken {
            token: token.into(),
            audience: audience.clone(),
            expires_at,
            kid: key.key.kid().into(),
            jti: jti.into(),
        })
    }

    /// Makes `new_key` the signing key. The key it replaces stays published until the
    /// last token it signed has expired plus the leeway (at once if it signed none).
    /// A key id already in the ring is refused.
    ///
    /// ```
    /// # use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
    /// # let issuer = InternalIssuer::builder(
    /// #     principal::Issuer::new("https://edge.internal")?,
    /// #     SigningKey::generate(SigningAlgorithm::Es256)?,
    /// # ).build()?;
    /// let next = SigningKey::generate(SigningAlgorithm::Es256)?;
    /// let next_kid = next.kid().to_owned();
    /// issuer.rotate(next)?;
    /// assert_eq!(issuer.current_kid(), next_kid);
    ///
    /// // Rejected: the same key again.
    /// let again = SigningKey::generate(SigningAlgorithm::Es256)?.with_kid(&next_kid)?;
    /// assert_eq!(issuer.rotate(again).unwrap_err().reason(), "duplicate_kid");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rotate(&self, new_key: SigningKey) -> Result<(), MintConfigError> {
        let inner = &*self.inner;
        let now = inner.clock.now();
        let mut ring = write(&inner.ring);
        prune(&mut ring, now);
        let taken = std::iter::once(&ring.current)
            .chain(ring.previous.iter().map(|p| &p.key))
            .any(|k| k.key.kid() == new_key.kid());
        if taken {
            return Err(MintConfigError::DuplicateKeyId {
                kid: new_key.kid().to_owned(),
            });
        }
        let new = Arc::new(RingKey {
            key: new_key,
            last_exp: AtomicI64::new(i64::MIN),
        });
        let old = std::mem::replace(&mut ring.current, new);
        let last_exp = old.last_exp.load(Ordering::SeqCst);
        if last_exp != i64::MIN {
            ring.previous.push(Previous {
                published_until: Timestamp::from_unix_seconds(last_exp)
                    .add_seconds(inner.leeway_seconds),
                key: old,
            });
        }
        tracing::info!(issuer = %inner.issuer.as_str(), kid = %ring.current.key.kid(), "internal issuer: key rotated");
        Ok(())
    }

    /// Removes the previous key `kid` from the JWKS now, whatever tokens it signed (a
    /// compromised key). The current key cannot be retired: rotate first.
    ///
    /// ```
    /// # use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
    /// # let issuer = InternalIssuer::builder(
    /// #     principal::Issuer::new("https://edge.internal")?,
    /// #     SigningKey::generate(SigningAlgorithm::Es256)?,
    /// # ).build()?;
    /// // Rejected: the key that signs now, and a key the ring does not hold.
    /// assert_eq!(issuer.retire(&issuer.current_kid()).unwrap_err().reason(), "retire_current_key");
    /// assert_eq!(issuer.retire("nope").unwrap_err().reason(), "unknown_kid");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retire(&self, kid: &str) -> Result<(), MintConfigError> {
        let mut ring = write(&self.inner.ring);
        if ring.current.key.kid() == kid {
            return Err(MintConfigError::RetireCurrentKey);
        }
        let before = ring.previous.len();
        ring.previous.retain(|p| p.key.key.kid() != kid);
        if ring.previous.len() == before {
            return Err(MintConfigError::UnknownKeyId {
                kid: kid.chars().take(crate::mint::key::MAX_KID_BYTES).collect(),
            });
        }
        tracing::warn!(issuer = %self.inner.issuer.as_str(), kid, "internal issuer: key retired");
        Ok(())
    }

    /// The key ids published now: the current key first, then previous keys whose last
    /// token has not yet expired (plus leeway), oldest first.
    pub fn published_kids(&self) -> Vec<String> {
        self.published(|k| k.kid().to_owned())
    }

    /// The JWKS document served now (`{"keys": [...]}`, public members only).
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.published(|k| k.public_jwk().clone()) })
    }

    /// The OpenID Connect discovery document: `issuer`, `jwks_uri`, and the algorithms of
    /// the published keys (`id_token_signing_alg_values_supported`, the member OIDC
    /// discovery lists signing algorithms in; this issuer mints access tokens only).
    pub fn discovery(&self) -> Value {
        let mut algorithms: Vec<SigningAlgorithm> = Vec::new();
        for algorithm in self.published(SigningKey::algorithm) {
            if !algorithms.contains(&algorithm) {
                algorithms.push(algorithm);
            }
        }
        json!({
            "issuer": self.inner.issuer.as_str(),
            "jwks_uri": self.inner.jwks_uri,
            "id_token_signing_alg_values_supported":
                algorithms.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        })
    }

    /// The `Cache-Control` value of the JWKS and discovery responses.
    pub(super) fn cache_control(&self) -> &str {
        &self.inner.cache_control
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    fn published<T>(&self, mut f: impl FnMut(&SigningKey) -> T) -> Vec<T> {
        let now = self.inner.clock.now();
        let ring = read(&self.inner.ring);
        std::iter::once(f(&ring.current.key))
            .chain(
                ring.previous
                    .iter()
                    .filter(|p| now < p.published_until)
                    .map(|p| f(&p.key.key)),
            )
            .collect()
    }
}

/// Drops previous keys whose last token has expired (plus leeway).
fn prune(ring: &mut Ring, now: Timestamp) {
    ring.previous.retain(|p| now < p.published_until);
}

/// 128 random bits, base64url: a `jti` no one can guess or repeat.
fn random_id(rng: &SystemRandom) -> Result<String, MintError> {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes).map_err(|_| MintError::Internal {
        why: "no randomness for the jti",
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl InternalIssuerBuilder {
    /// The lifetime of a minted token (default 5 min; 1 s to 15 min, whole seconds).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// How long after its last token's `exp` a rotated-out key stays published: the
    /// verifiers' clock leeway (default 30 s, at most 300 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The longest delegation chain minted (default 4, at most 8): a Principal with more
    /// actors is refused.
    pub fn max_delegation_depth(mut self, max: usize) -> Self {
        self.max_delegation_depth = max;
        self
    }

    /// `Cache-Control: max-age` of the JWKS and discovery responses (default 60 s, at
    /// most 1 h): how long a verifier may keep trusting a retired key.
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = max_age;
        self
    }

    /// The source of `iat`, `exp` and key expiry (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the settings and builds the issuer.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
    ///
    /// let issuer = principal::Issuer::new("https://edge.internal")?;
    /// let key = || SigningKey::generate(SigningAlgorithm::EdDsa);
    /// assert!(InternalIssuer::builder(issuer.clone(), key()?).lifetime(Duration::from_secs(600)).build().is_ok());
    ///
    /// // Rejected: a plain-http issuer off loopback (verifiers would not discover it).
    /// let err = InternalIssuer::builder(principal::Issuer::new("http://edge.internal")?, key()?).build();
    /// assert_eq!(err.unwrap_err().reason(), "issuer_not_discoverable");
    /// // Rejected: an hour is not "minutes".
    /// let err = InternalIssuer::builder(issuer, key()?)
    ///     .lifetime(Duration::from_secs(3600))
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.reason(), "lifetime_out_of_range");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<InternalIssuer, MintConfigError> {
        // The receiving verifiers find the keys by discovery on this URL: refuse here what
        // they would refuse there.
        JwksSource::oidc_discovery(self.issuer.as_str())
            .map_err(|source| MintConfigError::IssuerNotDiscoverable { source })?;
        if self.lifetime < Duration::from_secs(1) || self.lifetime > MAX_TOKEN_LIFETIME {
            return Err(MintConfigError::LifetimeOutOfRange {
                requested_seconds: self.lifetime.as_secs(),
                max_seconds: MAX_TOKEN_LIFETIME.as_secs(),
            });
        }
        if self.leeway > MAX_LEEWAY {
            return Err(MintConfigError::LeewayTooLarge {
                requested_seconds: self.leeway.as_secs(),
                max_seconds: MAX_LEEWAY.as_secs(),
            });
        }
        if self.max_delegation_depth > HARD_MAX_DELEGATION_DEPTH {
            return Err(MintConfigError::DepthAboveHardCap {
                requested: self.max_delegation_depth,
                cap: HARD_MAX_DELEGATION_DEPTH,
            });
        }
        if self.jwks_max_age > MAX_JWKS_MAX_AGE {
            return Err(MintConfigError::MaxAgeTooLarge {
                requested_seconds: self.jwks_max_age.as_secs(),
                max_seconds: MAX_JWKS_MAX_AGE.as_secs(),
            });
        }
        let jwks_uri = format!("{}{JWKS_PATH}", self.issuer.as_str().trim_end_matches('/'));
        Ok(InternalIssuer {
            inner: Arc::new(Inner {
                jwks_uri,
                lifetime_seconds: whole_seconds(self.lifetime),
                leeway_seconds: whole_seconds(self.leeway),
                max_delegation_depth: self.max_delegation_depth,
                cache_control: format!("public, max-age={}", self.jwks_max_age.as_secs()),
                clock: self.clock,
                rng: SystemRandom::new(),
                ring: RwLock::new(Ring {
                    current: Arc::new(RingKey {
                        key: self.key,
                        last_exp: AtomicI64::new(i64::MIN),
                    }),
                    previous: Vec::new(),
                }),
                minted: AtomicU64::new(0),
                issuer: self.issuer,
            }),
        })
    }
}

impl fmt::Debug for InternalIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InternalIssuer")
            .field("issuer", &self.inner.issuer)
            .field("jwks_uri", &self.inner.jwks_uri)
            .field("lifetime_seconds", &self.inner.lifetime_seconds)
            .field("max_delegation_depth", &self.inner.max_delegation_depth)
            .field("published_kids", &self.published_kids())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for InternalIssuerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InternalIssuerBuilder")
            .field("issuer", &self.issuer)
            .field("key", &self.key)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}
