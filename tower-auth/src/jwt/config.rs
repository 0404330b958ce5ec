//! One issuer's settings ([`IssuerConfig`]), checked when built, and the errors of
//! configuring a JWT verifier ([`ConfigError`]).

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use principal::{Audience, ClaimMapping, Clock, Issuer, Scope, ScopeSet, ServiceId};

use crate::jwks::{
    JwksConfigError, JwksSource, KeyCache, KeySet, KeySetPolicy, RefreshPolicy, SymmetricKey,
    check_issuer_of_fetched_keys,
};

/// Clock leeway when none is configured.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The largest clock leeway accepted: more would keep expired tokens alive for minutes.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// Largest token accepted when none is configured, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Upper bound for [`IssuerConfigBuilder::max_token_bytes`].
pub const MAX_MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Most claims [`IssuerConfigBuilder::required_claim`] may list.
pub const MAX_REQUIRED_CLAIMS: usize = 32;
/// Longest claim name [`IssuerConfigBuilder::required_claim`] accepts, in bytes.
pub const MAX_CLAIM_NAME_BYTES: usize = 128;
/// Longest `typ` [`IssuerConfigBuilder::require_typ`] accepts, in bytes.
pub const MAX_TYP_BYTES: usize = 64;

/// The HMAC algorithms: allowed only for an issuer configured with secrets.
const HMAC_ALGORITHMS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

pub(crate) fn is_hmac(algorithm: Algorithm) -> bool {
    HMAC_ALGORITHMS.contains(&algorithm)
}

/// A JWT verifier's configuration was refused. Found when it is built, never at request
/// time. Each variant names the issuer (its configured URL) and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The verifier was built without any issuer: it would accept nothing.
    #[error("issuers: none configured")]
    NoIssuers,
    /// Two issuer configurations have the same issuer.
    #[error("issuer {issuer}: configured twice")]
    DuplicateIssuer {
        /// The issuer.
        issuer: String,
    },
    /// No accepted audience, and the audience check was not explicitly turned off.
    #[error(
        "issuer {issuer}: audiences is empty (name the accepted audiences, or call insecure_skip_audience_check)"
    )]
    NoAudiences {
        /// The issuer.
        issuer: String,
    },
    /// No key source was configured.
    #[error(
        "issuer {issuer}: no key source (a JWKS URL, discovery, a static key set or HMAC secrets)"
    )]
    NoKeySource {
        /// The issuer.
        issuer: String,
    },
    /// The leeway is above [`MAX_LEEWAY`].
    #[error("issuer {issuer}: leeway of {requested_seconds}s is above the cap of {max_seconds}s")]
    LeewayTooLarge {
        /// The issuer.
        issuer: String,
        /// The leeway asked for, seconds.
        requested_seconds: u64,
        /// The cap, seconds.
        max_seconds: u64,
    },
    /// `max_token_bytes` is zero or above [`MAX_MAX_TOKEN_BYTES`].
    #[error("issuer {issuer}: max_token_bytes of {requested} is not between 1 and {max}")]
    MaxTokenBytes {
        /// The issuer.
        issuer: String,
        /// The value asked for.
        requested: usize,
        /// The upper bound.
        max: usize,
    },
    /// The allowed-algorithm list is empty: the issuer would accept nothing.
    #[error("issuer {issuer}: algorithms is empty")]
    NoAlgorithms {
        /// The issuer.
        issuer: String,
    },
    /// HMAC and asymmetric algorithms are allowed together; an issuer uses one family,
    /// so a public key can never be used as an HMAC secret.
    #[error("issuer {issuer}: algorithms mix HMAC and asymmetric algorithms")]
    MixedAlgorithmFamilies {
        /// The issuer.
        issuer: String,
    },
    /// An HMAC algorithm is allowed but the keys are not configured HMAC secrets.
    #[error("issuer {issuer}: {algorithm:?} is allowed only with configured HMAC secrets")]
    HmacWithoutSecrets {
        /// The issuer.
        issuer: String,
        /// The HMAC algorithm.
        algorithm: Algorithm,
    },
    /// An asymmetric algorithm is allowed for an issuer whose keys are HMAC secrets.
    #[error("issuer {issuer}: {algorithm:?} cannot be verified with HMAC secrets")]
    AsymmetricWithSecrets {
        /// The issuer.
        issuer: String,
        /// The asymmetric algorithm.
        algorithm: Algorithm,
    },
    /// A configured key can never be used: its algorithm is not allowed for the issuer.
    #[error("issuer {issuer}: key {kid:?} is for {algorithm:?}, which is not allowed")]
    KeyAlgorithmNotAllowed {
        /// The issuer.
        issuer: String,
        /// The key's id.
        kid: Option<String>,
        /// The key's algorithm.
        algorithm: Algorithm,
    },
    /// A static key set holds an HMAC key; HMAC keys are configured as secrets only
    /// ([`IssuerConfigBuilder::hmac_secrets`]).
    #[error(
        "issuer {issuer}: the static key set holds HMAC key {kid:?}; configure HMAC secrets instead"
    )]
    HmacKeyInStaticSet {
        /// The issuer.
        issuer: String,
        /// The key's id.
        kid: Option<String>,
    },
    /// The required `typ` is empty, too long, or not visible ASCII.
    #[error("issuer {issuer}: require_typ must be 1 to 64 visible ASCII characters")]
    InvalidTyp {
        /// The issuer.
        issuer: String,
    },
    /// A required claim name is empty, too long, or there are too many.
    #[error("issuer {issuer}: required_claims must be at most 32 names of 1 to 128 bytes ({why})")]
    InvalidRequiredClaim {
        /// The issuer.
        issuer: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The key source or key set policy was refused by the key cache (a bad URL, an
    /// invalid secret...).
    #[error("issuer {issuer}: keys: {source}")]
    Keys {
        /// The issuer.
        issuer: String,
        /// What the key handling said.
        #[source]
        source: JwksConfigError,
    },
    /// The refresh policy of a fetched key set (`refresh` in
    /// [`IssuerSettings`](super::IssuerSettings)) was refused.
    #[error("issuer {issuer}: refresh: {source}")]
    Refresh {
        /// The issuer.
        issuer: String,
        /// What the policy's checks said.
        #[source]
        source: JwksConfigError,
    },
    /// A key set file (`keys = { jwks_file = "…" }` in [`IssuerSettings`](super::IssuerSettings))
    /// cannot be read, is not a JWKS, or holds a key that cannot be used.
    #[error("issuer {issuer}: jwks_file {path}: {detail}")]
    JwksFile {
        /// The issuer.
        issuer: String,
        /// The file, as resolved.
        path: String,
        /// What is wrong (never the file's content).
        detail: String,
    },
    /// [`IssuerConfigBuilder::minted_by`] names a minting service for an issuer of a
    /// verifier whose pattern is not [`Pattern::InternalJwt`](crate::verified::Pattern::InternalJwt):
    /// an external identity provider's tokens would be reported as a service's call.
    #[error("issuer {issuer}: minted_by is only for a verifier of pattern internal_jwt")]
    MintedByOutsideInternalJwt {
        /// The issuer.
        issuer: String,
    },
    /// The verifier's trust pattern is not one a JWT verifier implements.
    #[error("pattern: {pattern} is not verified by JWTs")]
    UnsupportedPattern {
        /// The pattern asked for.
        pattern: crate::verified::Pattern,
    },
    /// A value of the deserializable configuration is not valid (an issuer, audience,
    /// scope or algorithm that does not parse).
    #[error("{field}: {value:?} is not valid")]
    InvalidSetting {
        /// The field.
        field: &'static str,
        /// The value, as given.
        value: String,
    },
}

impl ConfigError {
    /// A stable snake_case reason for logs.
    ///
    /// ```
    /// use tower_auth::jwt::{ConfigError, JwtVerifier};
    ///
    /// let err = JwtVerifier::builder().build().unwrap_err();
    /// assert_eq!(err, ConfigError::NoIssuers);
    /// assert_eq!(err.reason(), "no_issuers");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            ConfigError::NoIssuers => "no_issuers",
            ConfigError::DuplicateIssuer { .. } => "duplicate_issuer",
            ConfigError::NoAudiences { .. } => "no_audiences",
            ConfigError::NoKeySource { .. } => "no_key_source",
            ConfigError::LeewayTooLarge { .. } => "leeway_too_large",
            ConfigError::MaxTokenBytes { .. } => "max_token_bytes_out_of_range",
            ConfigError::NoAlgorithms { .. } => "no_algorithms",
            ConfigError::MixedAlgorithmFamilies { .. } => "mixed_algorithm_families",
            ConfigError::HmacWithoutSecrets { .. } => "hmac_without_secrets",
            ConfigError::AsymmetricWithSecrets { .. } => "asymmetric_with_secrets",
            ConfigError::KeyAlgorithmNotAllowed { .. } => "key_algorithm_not_allowed",
            ConfigError::HmacKeyInStaticSet { .. } => "hmac_key_in_static_set",
            ConfigError::InvalidTyp { .. } => "invalid_typ",
            ConfigError::InvalidRequiredClaim { .. } => "invalid_required_claim",
            ConfigError::Keys { source, .. } => source.reason(),
            ConfigError::Refresh { source, .. } => source.reason(),
            ConfigError::JwksFile { .. } => "jwks_file_unusable",
            ConfigError::MintedByOutsideInternalJwt { .. } => "minted_by_outside_internal_jwt",
            ConfigError::UnsupportedPattern { .. } => "unsupported_pattern",
            ConfigError::InvalidSetting { .. } => "invalid_setting",
        }
    }
}

/// Where an issuer's keys come from: fetched (a JWKS URL or the issuer's metadata, into
/// a key cache the verifier builds with its clock and owns; warm it with
/// [`JwtVerifier::warm`](super::JwtVerifier::warm), keep it fresh with
/// [`JwtVerifier::spawn_refreshers`](super::JwtVerifier::spawn_refreshers)), or a key
/// cache ready to use (a configured static set or HMAC secrets, or a cache the caller
/// runs).
#[derive(Clone, Debug)]
pub struct KeySource(SourceKind);

#[derive(Clone, Debug)]
enum SourceKind {
    Fetched(Box<Fetched>),
    Cache(KeyCache),
}

#[derive(Clone, Debug)]
struct Fetched {
    source: JwksSource,
    refresh: RefreshPolicy,
    key_set_policy: KeySetPolicy,
}

impl KeySource {
    /// The JWKS URL or metadata document keys are fetched from (`None` for a ready key
    /// cache).
    pub fn fetched_from(&self) -> Option<&JwksSource> {
        match &self.0 {
            SourceKind::Fetched(fetched) => Some(&fetched.source),
            SourceKind::Cache(_) => None,
        }
    }

    /// The refresh policy of a fetched key set.
    pub fn refresh_policy(&self) -> Option<&RefreshPolicy> {
        match &self.0 {
            SourceKind::Fetched(fetched) => Some(&fetched.refresh),
            SourceKind::Cache(_) => None,
        }
    }

    /// Which keys a fetched set may hold: the issuer's algorithms only.
    pub fn key_set_policy(&self) -> Option<&KeySetPolicy> {
        match &self.0 {
            SourceKind::Fetched(fetched) => Some(&fetched.key_set_policy),
            SourceKind::Cache(_) => None,
        }
    }

    /// The ready key cache (`None` for a fetched set, whose cache the verifier builds).
    pub fn key_cache(&self) -> Option<&KeyCache> {
        match &self.0 {
            SourceKind::Fetched(_) => None,
            SourceKind::Cache(cache) => Some(cache),
        }
    }

    /// The cache to verify with: the ready one, or a new one for a fetched set.
    pub(crate) fn into_cache(self, clock: Arc<dyn Clock>) -> Result<KeyCache, JwksConfigError> {
        match self.0 {
            SourceKind::Fetched(fetched) => KeyCache::builder(fetched.source)
                .refresh_policy(fetched.refresh)
                .key_set_policy(fetched.key_set_policy)
                .clock(clock)
                .build(),
            SourceKind::Cache(cache) => Ok(cache),
        }
    }
}

/// How the builder was told to find keys; resolved into a [`KeySource`] by `build`.
#[derive(Clone, Debug)]
enum PendingKeys {
    None,
    JwksUrl(String),
    OidcDiscovery,
    OAuthMetadata,
    Static(KeyCache),
    Hmac(Vec<SymmetricKey>),
    Cache(KeyCache),
}

/// One issuer's settings: which tokens it issues that this service accepts.
///
/// Built with [`IssuerConfig::builder`]; every rule is checked by
/// [`build`](IssuerConfigBuilder::build), so a verifier never starts with a setting
/// that cannot work. Defaults, and why:
///
/// | setting | default | why |
/// | --- | --- | --- |
/// | audiences | none: required | a token for another service must not pass here (turning it off is [`insecure_skip_audience_check`](IssuerConfigBuilder::insecure_skip_audience_check)) |
/// | algorithms | RS256/384/512, PS256/384/512, ES256/384, EdDSA; with HMAC secrets, their algorithms | the algorithm comes from the key; HMAC only from configured secrets, never mixed with public keys |
/// | leeway | 30 s, at most 300 s | clock skew between the IdP and this host, not a grace period |
/// | `typ` | not checked | set `at+jwt` for RFC 9068 access tokens, so ID tokens are refused |
/// | max token bytes | 8 KiB (at most 64 KiB) | bounded input before any parsing |
/// | claim mapping | [`ClaimMapping::generic`] | an external issuer's users may choose their `sub` or edit claims, so no Baton-internal claim is trusted; [`ClaimMapping::baton`] is for an issuer that is Baton itself |
///
/// `iss` is always required: the verifier picks the issuer by the token's `iss`.
///
/// ```
/// use jsonwebtoken::Algorithm;
/// use principal::{Audience, Issuer};
/// use tower_auth::jwt::{ConfigError, IssuerConfig};
///
/// let issuer = Issuer::new("https://idp.example.com")?;
/// let config = IssuerConfig::builder(issuer.clone())
///     .audience(Audience::new("orders-api")?)
///     .oidc_discovery()
///     .require_typ("at+jwt")
///     .build()?;
/// assert_eq!(config.algorithms().len(), 9);
/// assert!(!config.algorithms().contains(&Algorithm::HS256));
///
/// // Rejected: no audience, and the check was not explicitly turned off.
/// let err = IssuerConfig::builder(issuer).oidc_discovery().build().unwrap_err();
/// assert_eq!(err.reason(), "no_audiences");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct IssuerConfig {
    pub(crate) issuer: Issuer,
    pub(crate) audiences: Vec<Audience>,
    pub(crate) skip_audience_check: bool,
    pub(crate) keys: KeySource,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) leeway_seconds: i64,
    pub(crate) require_typ: Option<String>,
    pub(crate) required_claims: Vec<Box<str>>,
    pub(crate) required_scopes: ScopeSet,
    pub(crate) max_token_bytes: usize,
    pub(crate) mapping: ClaimMapping,
    pub(crate) minted_by: Option<ServiceId>,
}

/// Builds an [`IssuerConfig`]; see there for the defaults.
#[derive(Clone)]
#[must_use]
pub struct IssuerConfigBuilder {
    issuer: Issuer,
    audiences: Vec<Audience>,
    skip_audience_check: bool,
    keys: PendingKeys,
    refresh: RefreshPolicy,
    algorithms: Option<Vec<Algorithm>>,
    leeway: Duration,
    require_typ: Option<String>,
    required_claims: Vec<String>,
    required_scopes: ScopeSet,
    max_token_bytes: usize,
    mapping: ClaimMapping,
    minted_by: Option<ServiceId>,
}

impl IssuerConfig {
    /// A builder for tokens whose `iss` is exactly `issuer`.
    pub fn builder(issuer: Issuer) -> IssuerConfigBuilder {
        IssuerConfigBuilder {
            issuer,
            audiences: Vec::new(),
            skip_audience_check: false,
            keys: PendingKeys::None,
            refresh: RefreshPolicy::default(),
            algorithms: None,
            leeway: DEFAULT_LEEWAY,
            require_typ: None,
            required_claims: Vec::new(),
            required_scopes: ScopeSet::new(),
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            mapping: ClaimMapping::generic(),
            minted_by: None,
        }
    }

    /// The issuer (`iss`).
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The accepted audiences (empty only when the check is turned off).
    pub fn audiences(&self) -> &[Audience] {
        &self.audiences
    }

    /// Whether the audience check was turned off.
    pub fn skips_audience_check(&self) -> bool {
        self.skip_audience_check
    }

    /// Where the keys come from.
    pub fn key_source(&self) -> &KeySource {
        &self.keys
    }

    /// The algorithms a token may be signed with (each key still fixes its own).
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The clock leeway.
    pub fn leeway(&self) -> Duration {
        Duration::from_secs(self.leeway_seconds.unsigned_abs())
    }

    /// The `typ` tokens must carry, if checked.
    pub fn required_typ(&self) -> Option<&str> {
        self.require_typ.as_deref()
    }

    /// The claims tokens must carry.
    pub fn required_claims(&self) -> &[Box<str>] {
        &self.required_claims
    }

    /// The scopes tokens must grant (the Principal's effective scopes).
    pub fn required_scopes(&self) -> &ScopeSet {
        &self.required_scopes
    }

    /// The largest token accepted, in bytes.
    pub fn max_token_bytes(&self) -> usize {
        self.max_token_bytes
    }

    /// How claims become a Principal.
    pub fn claim_mapping(&self) -> &ClaimMapping {
        &self.mapping
    }

    /// The service that mints this issuer's tokens, reported as each hop's caller.
    pub fn minted_by(&self) -> Option<&ServiceId> {
        self.minted_by.as_ref()
    }

    /// The settings a cached verdict depends on, as text, for the token cache's scope
    /// (no key material: the cache tracks keys through their versions).
    pub(crate) fn write_fingerprint(&self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "issuer={:?};aud={:?};skip_aud={};alg={:?};leeway={};typ={:?};claims={:?};scopes={:?};max={};mapping={:?};minted_by={:?}",
            self.issuer.as_str(),
            self.audiences
                .iter()
                .map(Audience::as_str)
                .collect::<Vec<_>>(),
            self.skip_audience_check,
            self.algorithms,
            self.leeway_seconds,
            self.require_typ,
            self.required_claims,
            self.required_scopes.to_space_separated(),
            self.max_token_bytes,
            self.mapping,
            self.minted_by.as_ref().map(ServiceId::as_str),
        );
    }
}

impl IssuerConfigBuilder {
    /// Also accept tokens for `audience` (at least one is required).
    pub fn audience(mut self, audience: Audience) -> Self {
        if !self.audiences.contains(&audience) {
            self.audiences.push(audience);
        }
        self
    }

    /// Also accept tokens for these audiences.
    pub fn audiences(mut self, audiences: impl IntoIterator<Item = Audience>) -> Self {
        for audience in audiences {
            self = self.audience(audience);
        }
        self
    }

    /// Accept tokens whatever their `aud`, or without one. A token this issuer minted
    /// for any other service then passes here too: use it only where the issuer serves
    /// this service alone.
    pub fn insecure_skip_audience_check(mut self) -> Self {
        self.skip_audience_check = true;
        self
    }

    /// Fetch the keys from this JWKS URL (https; http only on loopback).
    pub fn jwks_url(mut self, url: &str) -> Self {
        self.keys = PendingKeys::JwksUrl(url.to_owned());
        self
    }

    /// Find the JWKS through OpenID Connect Discovery on the issuer
    /// (`{issuer}/.well-known/openid-configuration`, whose `issuer` must match exactly).
    pub fn oidc_discovery(mut self) -> Self {
        self.keys = PendingKeys::OidcDiscovery;
        self
    }

    /// Find the JWKS through RFC 8414 authorization server metadata on the issuer.
    pub fn oauth_metadata(mut self) -> Self {
        self.keys = PendingKeys::OAuthMetadata;
        self
    }

    /// A fixed set of public keys (for instance a JWKS shipped with the deployment):
    /// never fetched, never stale.
    pub fn static_keys(mut self, keys: KeySet) -> Self {
        self.keys = PendingKeys::Static(KeyCache::from_key_set(self.issuer.as_str(), keys));
        self
    }

    /// HMAC secrets (HS256/384/512): the only way HMAC is ever accepted. The issuer then
    /// accepts the secrets' algorithms only, never an asymmetric one.
    pub fn hmac_secrets(mut self, secrets: impl IntoIterator<Item = SymmetricKey>) -> Self {
        self.keys = PendingKeys::Hmac(secrets.into_iter().collect());
        self
    }

    /// A key cache the caller builds and runs (warms, refreshes).
    pub fn key_cache(mut self, cache: KeyCache) -> Self {
        self.keys = PendingKeys::Cache(cache);
        self
    }

    /// The refresh policy of a fetched key set (default [`RefreshPolicy::default`]).
    pub fn refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.refresh = policy;
        self
    }

    /// The algorithms tokens may be signed with (default: every asymmetric one, or the
    /// HMAC secrets' algorithms). Keys of other algorithms are not loaded.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        let mut list = Vec::new();
        for algorithm in algorithms {
            if !list.contains(&algorithm) {
                list.push(algorithm);
            }
        }
        self.algorithms = Some(list);
        self
    }

    /// The clock leeway for `exp`, `nbf` and `iat` (default 30 s, at most 300 s; whole
    /// seconds).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Require this header `typ`, e.g. `at+jwt` for RFC 9068 access tokens
    /// (`application/at+jwt` is the same type; compared case-insensitively).
    pub fn require_typ(mut self, typ: &str) -> Self {
        self.require_typ = Some(typ.to_owned());
        self
    }

    /// Require this claim to be present and not `null` (a registered claim such as
    /// `jti` or `sid`, or any other top-level claim).
    pub fn required_claim(mut self, name: &str) -> Self {
        if !self.required_claims.iter().any(|n| n == name) {
            self.required_claims.push(name.to_owned());
        }
        self
    }

    /// Require the Principal's effective scopes to include `scope`; a token without it
    /// is refused with `insufficient_scope`.
    pub fn required_scope(mut self, scope: Scope) -> Self {
        self.required_scopes.insert(scope);
        self
    }

    /// The largest token accepted, in bytes (default 8 KiB, 1 to 64 KiB).
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// How claims become a Principal (default [`ClaimMapping::generic`], safe for an
    /// external identity provider). Set [`ClaimMapping::baton`] only for an issuer that is
    /// Baton itself (internal JWTs): it trusts typed subjects and the `baton_*` claims.
    pub fn claim_mapping(mut self, mapping: ClaimMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// The service that mints this issuer's tokens (an
    /// [`InternalIssuer`](crate::mint::InternalIssuer), DESIGN §4 pattern 2): each
    /// [`VerifiedPrincipal`](crate::VerifiedPrincipal) of this issuer then reports it as
    /// the hop's [`caller`](crate::VerifiedPrincipal::caller), with
    /// [`Pattern::InternalJwt`](crate::Pattern::InternalJwt). Only for a verifier built with
    /// that pattern ([`ConfigError::MintedByOutsideInternalJwt`] otherwise).
    ///
    /// ```
    /// use principal::{Audience, ClaimMapping, Issuer, ServiceId};
    /// use tower_auth::Pattern;
    /// use tower_auth::jwt::{IssuerConfig, JwtVerifier};
    ///
    /// let config = IssuerConfig::builder(Issuer::new("https://edge.internal")?)
    ///     .audience(Audience::new("orders-api")?)
    ///     .oidc_discovery()
    ///     .require_typ("at+jwt")
    ///     .claim_mapping(ClaimMapping::baton())
    ///     .minted_by(ServiceId::new("edge")?)
    ///     .build()?;
    /// assert_eq!(config.minted_by().map(ServiceId::as_str), Some("svc-edge"));
    /// assert!(JwtVerifier::builder().issuer(config.clone()).pattern(Pattern::InternalJwt).build().is_ok());
    ///
    /// // Rejected: a passthrough verifier would report an IdP's tokens as a service's call.
    /// let err = JwtVerifier::builder().issuer(config).build().unwrap_err();
    /// assert_eq!(err.reason(), "minted_by_outside_internal_jwt");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn minted_by(mut self, service: ServiceId) -> Self {
        self.minted_by = Some(service);
        self
    }

    /// Checks every rule and builds the configuration.
    pub fn build(self) -> Result<IssuerConfig, ConfigError> {
        let issuer_text = || self.issuer.as_str().to_owned();
        if self.audiences.is_empty() && !self.skip_audience_check {
            return Err(ConfigError::NoAudiences {
                issuer: issuer_text(),
            });
        }
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge {
                issuer: issuer_text(),
                requested_seconds: self.leeway.as_secs(),
                max_seconds: MAX_LEEWAY.as_secs(),
            });
        }
        if self.max_token_bytes == 0 || self.max_token_bytes > MAX_MAX_TOKEN_BYTES {
            return Err(ConfigError::MaxTokenBytes {
                issuer: issuer_text(),
                requested: self.max_token_bytes,
                max: MAX_MAX_TOKEN_BYTES,
            });
        }
        let require_typ = match &self.require_typ {
            Some(typ)
                if typ.is_empty()
                    || typ.len() > MAX_TYP_BYTES
                    || !typ.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                return Err(ConfigError::InvalidTyp {
                    issuer: issuer_text(),
                });
            }
            other => other.clone(),
        };
        let required_claims = validate_claim_names(&self.required_claims).map_err(|why| {
            ConfigError::InvalidRequiredClaim {
                issuer: issuer_text(),
                why,
            }
        })?;
        let (keys, algorithms) = self.resolve_keys()?;
        Ok(IssuerConfig {
            issuer: self.issuer,
            audiences: self.audiences,
            skip_audience_check: self.skip_audience_check,
            keys,
            algorithms,
            // At most MAX_LEEWAY, checked above.
            leeway_seconds: i64::try_from(self.leeway.as_secs()).unwrap_or(0),
            require_typ,
            required_claims,
            required_scopes: self.required_scopes,
            max_token_bytes: self.max_token_bytes,
            mapping: self.mapping,
            minted_by: self.minted_by,
        })
    }

    /// The key source and the allowed algorithms, checked against each other.
    fn resolve_keys(&self) -> Result<(KeySource, Vec<Algorithm>), ConfigError> {
        let issuer = self.issuer.as_str();
        let keys_error = |source| ConfigError::Keys {
            issuer: issuer.to_owned(),
            source,
        };
        // Keys configured in place (a static set, HMAC secrets) are known now.
        let (fetch_from, configured, hmac_source) = match &self.keys {
            PendingKeys::None => {
                return Err(ConfigError::NoKeySource {
                    issuer: issuer.to_owned(),
                });
            }
            PendingKeys::JwksUrl(url) => {
                // Discovery checks the issuer's URL when it builds the metadata URL; a
                // configured JWKS URL skips that, so the issuer is checked here.
                check_issuer_of_fetched_keys(issuer).map_err(keys_error)?;
                (
                    Some(JwksSource::jwks_url(url).map_err(keys_error)?),
                    None,
                    false,
                )
            }
            PendingKeys::OidcDiscovery => (
                Some(JwksSource::oidc_discovery(issuer).map_err(keys_error)?),
                None,
                false,
            ),
            PendingKeys::OAuthMetadata => (
                Some(JwksSource::oauth_metadata(issuer).map_err(keys_error)?),
                None,
                false,
            ),
            PendingKeys::Static(cache) => (None, Some(cache.clone()), false),
            PendingKeys::Hmac(secrets) => {
                let set =
                    KeySet::from_symmetric_keys(secrets.iter().cloned()).map_err(keys_error)?;
                (None, Some(KeyCache::from_key_set(issuer, set)), true)
            }
            PendingKeys::Cache(_) => (None, None, false),
        };
        let algorithms = match (&self.algorithms, &configured) {
            (Some(list), _) => list.clone(),
            (None, Some(cache)) if hmac_source => {
                let mut list = Vec::new();
                for key in cache.snapshot().key_set().iter() {
                    if !list.contains(&key.algorithm()) {
                        list.push(key.algorithm());
                    }
                }
                list
            }
            (None, _) => KeySetPolicy::ASYMMETRIC_ALGORITHMS.to_vec(),
        };
        check_algorithms(issuer, &algorithms, hmac_source)?;
        if let Some(cache) = &configured {
            for key in cache.snapshot().key_set().iter() {
                if !hmac_source && is_hmac(key.algorithm()) {
                    return Err(ConfigError::HmacKeyInStaticSet {
                        issuer: issuer.to_owned(),
                        kid: key.kid().map(str::to_owned),
                    });
                }
                if !algorithms.contains(&key.algorithm()) {
                    return Err(ConfigError::KeyAlgorithmNotAllowed {
                        issuer: issuer.to_owned(),
                        kid: key.kid().map(str::to_owned),
                        algorithm: key.algorithm(),
                    });
                }
            }
        }
        let source = match (fetch_from, configured, &self.keys) {
            (Some(source), _, _) => KeySource(SourceKind::Fetched(Box::new(Fetched {
                source,
                refresh: self.refresh.clone(),
                // Keys of algorithms the issuer does not allow are not even loaded.
                key_set_policy: KeySetPolicy::builder()
                    .allowed_algorithms(algorithms.iter().copied())
                    .build()
                    .map_err(keys_error)?,
            }))),
            (None, Some(cache), _) => KeySource(SourceKind::Cache(cache)),
            (None, None, PendingKeys::Cache(cache)) => KeySource(SourceKind::Cache(cache.clone())),
            (None, None, _) => {
                return Err(ConfigError::NoKeySource {
                    issuer: issuer.to_owned(),
                });
            }
        };
        Ok((source, algorithms))
    }
}

/// One family per issuer: HMAC only with configured secrets, asymmetric only without.
fn check_algorithms(
    issuer: &str,
    algorithms: &[Algorithm],
    hmac_source: bool,
) -> Result<(), ConfigError> {
    if algorithms.is_empty() {
        return Err(ConfigError::NoAlgorithms {
            issuer: issuer.to_owned(),
        });
    }
    let hmac = algorithms.iter().copied().find(|a| is_hmac(*a));
    let asymmetric = algorithms.iter().copied().find(|a| !is_hmac(*a));
    match (hmac, asymmetric) {
        (Some(_), Some(_)) => Err(ConfigError::MixedAlgorithmFamilies {
            issuer: issuer.to_owned(),
        }),
        (Some(algorithm), None) if !hmac_source => Err(ConfigError::HmacWithoutSecrets {
            issuer: issuer.to_owned(),
            algorithm,
        }),
        (None, Some(algorithm)) if hmac_source => Err(ConfigError::AsymmetricWithSecrets {
            issuer: issuer.to_owned(),
            algorithm,
        }),
        _ => Ok(()),
    }
}

/// The configured required claim names, checked for count and size.
fn validate_claim_names(names: &[String]) -> Result<Vec<Box<str>>, &'static str> {
    if names.len() > MAX_REQUIRED_CLAIMS {
        return Err("too many names");
    }
    names
        .iter()
        .map(|name| {
            if name.is_empty() {
                Err("an empty name")
            } else if name.len() > MAX_CLAIM_NAME_BYTES {
                Err("a name longer than 128 bytes")
            } else {
                Ok(name.as_str().into())
            }
        })
        .collect()
}

impl fmt::Debug for IssuerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerConfig")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("skip_audience_check", &self.skip_audience_check)
            .field("keys", &self.keys)
            .field("algorithms", &self.algorithms)
            .field("leeway_seconds", &self.leeway_seconds)
            .field("require_typ", &self.require_typ)
            .field("required_claims", &self.required_claims)
            .field("required_scopes", &self.required_scopes)
            .field("max_token_bytes", &self.max_token_bytes)
            .field("mapping", &self.mapping)
            .field("minted_by", &self.minted_by)
            .finish()
    }
}

impl fmt::Debug for IssuerConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerConfigBuilder")
            .field("issuer", &self.issuer)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}
