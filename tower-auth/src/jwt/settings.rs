//! The deserializable form of a JWT verifier's configuration (DESIGN §4): the same
//! settings as the builders, read from a file, checked by the same code.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use principal::{Audience, ClaimMapping, Issuer, Scope, ServiceId};
use serde::Deserialize;

use super::config::{ConfigError, IssuerConfig};
use super::verifier::{JwtVerifier, JwtVerifierBuilder};
use crate::jwks::{JwksConfigError, KeySet, KeySetPolicy, RefreshPolicy, algorithm_from_name};
use crate::token_cache::TokenCacheConfig;
use crate::verified::Pattern;

/// The largest key set file (`keys = { jwks_file = "…" }`) read, in bytes.
pub const MAX_JWKS_FILE_BYTES: u64 = 256 * 1024;

/// A JWT verifier's settings, as read from a configuration file.
///
/// HMAC secrets and caller-run key caches are configured in code
/// ([`IssuerConfig::builder`]): secrets do not belong in a file that is read as plain
/// configuration. A static key set is a public JWKS file (`{"jwks_file": "…"}`). A fetched
/// key set is refreshed as the issuer's [`refresh`](IssuerSettings::refresh) says, by
/// default as [`RefreshPolicy::default`].
///
/// A verifier of internal JWTs (DESIGN §4 pattern 2) says so with
/// `"pattern": "internal_jwt"` and names the minting service of each issuer
/// (`"minted_by": "svc-edge"`), which every Principal then reports as the hop's caller.
///
/// ```
/// use tower_auth::jwt::JwtVerifierSettings;
///
/// let settings: JwtVerifierSettings = serde_json::from_str(r#"{
///     "issuers": [{
///         "issuer": "https://idp.example.com",
///         "audiences": ["orders-api"],
///         "keys": "oidc_discovery",
///         "require_typ": "at+jwt",
///         "required_scopes": ["orders:read"],
///         "claim_mapping": "keycloak"
///     }, {
///         "issuer": "https://partner.example.net",
///         "audiences": ["orders-api"],
///         "keys": {"jwks_url": "https://partner.example.net/keys"},
///         "algorithms": ["ES256"],
///         "leeway_seconds": 10
///     }],
///     "token_cache": {"max_entries": 50000}
/// }"#)?;
/// let verifier = settings.builder()?.build()?;
/// assert_eq!(verifier.issuers().count(), 2);
///
/// // Rejected: a leeway above the cap.
/// let settings: JwtVerifierSettings = serde_json::from_str(r#"{"issuers": [{
///     "issuer": "https://idp.example.com", "audiences": ["api"],
///     "keys": "oidc_discovery", "leeway_seconds": 3600
/// }]}"#)?;
/// assert_eq!(settings.builder().unwrap_err().reason(), "leeway_too_large");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JwtVerifierSettings {
    /// The issuers whose tokens are accepted.
    pub issuers: Vec<IssuerSettings>,
    /// The verified-token cache (default on).
    #[serde(default)]
    pub token_cache: TokenCacheConfig,
    /// The trust pattern of the tokens (default `"jwt_passthrough"`; `"internal_jwt"` for
    /// tokens a Baton service minted, see [`JwtVerifierBuilder::pattern`]).
    #[serde(default)]
    pub pattern: JwtPattern,
}

/// The trust patterns a JWT verifier implements (DESIGN §4, patterns 1 and 2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JwtPattern {
    /// `"jwt_passthrough"`: an external identity provider's tokens. The default.
    #[default]
    JwtPassthrough,
    /// `"internal_jwt"`: internal JWTs minted by a Baton service for this hop.
    InternalJwt,
}

impl From<JwtPattern> for Pattern {
    fn from(pattern: JwtPattern) -> Self {
        match pattern {
            JwtPattern::JwtPassthrough => Pattern::JwtPassthrough,
            JwtPattern::InternalJwt => Pattern::InternalJwt,
        }
    }
}

/// One issuer's settings; see [`IssuerConfig`] for the meaning and the defaults.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct IssuerSettings {
    /// The issuer (`iss`), exactly.
    pub issuer: String,
    /// The accepted audiences.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Accept any audience (see
    /// [`insecure_skip_audience_check`](super::IssuerConfigBuilder::insecure_skip_audience_check)).
    #[serde(default)]
    pub insecure_skip_audience_check: bool,
    /// Where the keys come from.
    pub keys: KeySettings,
    /// The allowed algorithms by JWA name (default: every asymmetric one).
    #[serde(default)]
    pub algorithms: Option<Vec<String>>,
    /// The clock leeway in seconds (default 30, at most 300).
    #[serde(default)]
    pub leeway_seconds: Option<u64>,
    /// The required header `typ`, e.g. `at+jwt`.
    #[serde(default)]
    pub require_typ: Option<String>,
    /// Claims every token must carry.
    #[serde(default)]
    pub required_claims: Vec<String>,
    /// Scopes every token must grant.
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// The largest token accepted, in bytes (default 8 KiB).
    #[serde(default)]
    pub max_token_bytes: Option<usize>,
    /// The claim mapping preset.
    #[serde(default)]
    pub claim_mapping: MappingPreset,
    /// This issuer's client ids mapped to named services (`{"gateway": "svc-gateway"}`);
    /// see [`ClaimMapping::with_service`]. Other clients get issuer-dependent ids.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    /// Issuers, besides this one, whose `act.iss` is honoured (see
    /// [`ClaimMapping::with_actor_issuer`]).
    #[serde(default)]
    pub actor_issuers: Vec<String>,
    /// Accept tokens without `sub`, as services only (see
    /// [`ClaimMapping::insecure_allow_missing_sub`]).
    #[serde(default)]
    pub insecure_allow_missing_sub: bool,
    /// The service that mints this issuer's tokens (`svc-edge`), reported as the hop's
    /// caller; only with `"pattern": "internal_jwt"` (see
    /// [`IssuerConfigBuilder::minted_by`](super::IssuerConfigBuilder::minted_by)).
    #[serde(default)]
    pub minted_by: Option<String>,
    /// How a fetched key set is refreshed (`[jwt.issuers.refresh]`; absent: the
    /// defaults). Refused with a static key set, which is never fetched.
    #[serde(default)]
    pub refresh: Option<RefreshSettings>,
}

/// The refresh policy of a fetched key set, as read from a file: each key sets the
/// [`RefreshPolicyBuilder`](crate::jwks::RefreshPolicyBuilder) method of the same name,
/// and its checks apply (`min_ttl <= default_ttl <= max_ttl`, bounds).
///
/// ```
/// use tower_auth::jwt::RefreshSettings;
///
/// let settings: RefreshSettings =
///     serde_json::from_str(r#"{"default_ttl_seconds": 600, "max_staleness_seconds": 0}"#)?;
/// let policy = settings.to_policy()?;
/// assert_eq!(policy.default_ttl().as_secs(), 600);
/// assert_eq!(policy.max_staleness().as_secs(), 0); // fail closed as soon as the set expires
///
/// // Refused: lifetimes out of order.
/// let settings: RefreshSettings =
///     serde_json::from_str(r#"{"min_ttl_seconds": 900, "default_ttl_seconds": 60}"#)?;
/// assert_eq!(settings.to_policy().unwrap_err().reason(), "ttl_out_of_order");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RefreshSettings {
    /// Lifetime of a set served without `Cache-Control: max-age`.
    #[serde(default)]
    pub default_ttl_seconds: Option<u64>,
    /// Floor on `max-age`.
    #[serde(default)]
    pub min_ttl_seconds: Option<u64>,
    /// Ceiling on `max-age`.
    #[serde(default)]
    pub max_ttl_seconds: Option<u64>,
    /// Least time between two refetches caused by unknown `kid`s.
    #[serde(default)]
    pub unknown_kid_cooldown_seconds: Option<u64>,
    /// How long an expired set keeps serving while it cannot be refreshed (0: fail
    /// closed at expiry).
    #[serde(default)]
    pub max_staleness_seconds: Option<u64>,
    /// Delay before retrying a failed background refresh.
    #[serde(default)]
    pub failure_retry_seconds: Option<u64>,
    /// How long a `jwks_uri` found by discovery is used before the metadata is read again.
    #[serde(default)]
    pub rediscovery_interval_seconds: Option<u64>,
    /// Timeout of one fetch, metadata or JWKS, in milliseconds.
    #[serde(default)]
    pub fetch_timeout_ms: Option<u64>,
    /// Largest body accepted, in bytes.
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
}

impl RefreshSettings {
    /// The policy these settings make, checked by
    /// [`RefreshPolicyBuilder::build`](crate::jwks::RefreshPolicyBuilder::build).
    ///
    /// # Errors
    /// [`JwksConfigError`] naming the setting out of bounds or the lifetimes out of order.
    pub fn to_policy(&self) -> Result<RefreshPolicy, JwksConfigError> {
        let mut builder = RefreshPolicy::builder();
        let seconds = Duration::from_secs;
        if let Some(value) = self.default_ttl_seconds {
            builder = builder.default_ttl(seconds(value));
        }
        if let Some(value) = self.min_ttl_seconds {
            builder = builder.min_ttl(seconds(value));
        }
        if let Some(value) = self.max_ttl_seconds {
            builder = builder.max_ttl(seconds(value));
        }
        if let Some(value) = self.unknown_kid_cooldown_seconds {
            builder = builder.unknown_kid_cooldown(seconds(value));
        }
        if let Some(value) = self.max_staleness_seconds {
            builder = builder.max_staleness(seconds(value));
        }
        if let Some(value) = self.failure_retry_seconds {
            builder = builder.failure_retry(seconds(value));
        }
        if let Some(value) = self.rediscovery_interval_seconds {
            builder = builder.rediscovery_interval(seconds(value));
        }
        if let Some(value) = self.fetch_timeout_ms {
            builder = builder.fetch_timeout(Duration::from_millis(value));
        }
        if let Some(value) = self.max_body_bytes {
            builder = builder.max_body_bytes(value);
        }
        builder.build()
    }
}

/// Where an issuer's keys are fetched from.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum KeySettings {
    /// `{"jwks_url": "https://..."}`: a JWKS URL.
    JwksUrl(String),
    /// `"oidc_discovery"`: OpenID Connect Discovery on the issuer.
    OidcDiscovery,
    /// `"oauth_metadata"`: RFC 8414 metadata on the issuer.
    OauthMetadata,
    /// `{"jwks_file": "keys/edge-jwks.json"}`: a static key set, the JWKS document in a
    /// file (relative paths from the directory given to
    /// [`IssuerSettings::to_config_in`]: a configuration file's). Read once, at most
    /// [`MAX_JWKS_FILE_BYTES`]; a key that cannot be used (private, symmetric, malformed)
    /// refuses the file. Never refreshed: rotate by changing the file and restarting.
    JwksFile(String),
}

/// A [`ClaimMapping`] preset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MappingPreset {
    /// `"generic"`: [`ClaimMapping::generic`], for an external identity provider; trusts no
    /// Baton-internal claim. The default.
    #[default]
    Generic,
    /// `"keycloak"`: [`ClaimMapping::keycloak`], the generic preset with Keycloak roles and
    /// service accounts.
    Keycloak,
    /// `"baton"`: [`ClaimMapping::baton`], only for an issuer that is Baton itself (internal
    /// JWTs): it trusts typed subjects, `baton_id`, `baton_kind` and `baton_attrs`, which
    /// at an external identity provider a user might choose or edit.
    Baton,
}

impl JwtVerifierSettings {
    /// A verifier builder with these settings; add a clock and a revocation check, then
    /// build. Every issuer is checked as its builder would. Relative `jwks_file` paths are
    /// read from the current directory ([`builder_in`](Self::builder_in) names another).
    ///
    /// # Errors
    /// The [`ConfigError`] of the first issuer refused.
    pub fn builder(&self) -> Result<JwtVerifierBuilder, ConfigError> {
        self.builder_in(Path::new(""))
    }

    /// As [`builder`](Self::builder), with relative `jwks_file` paths read from `dir`.
    ///
    /// ```
    /// use tower_auth::Pattern;
    /// use tower_auth::jwt::JwtVerifierSettings;
    ///
    /// let dir = std::env::temp_dir().join(format!("jwks-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("edge-jwks.json"), r#"{"keys": [{"kty": "OKP", "crv": "Ed25519",
    ///     "kid": "edge-1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#)?;
    /// let settings: JwtVerifierSettings = serde_json::from_str(r#"{
    ///     "pattern": "internal_jwt",
    ///     "issuers": [{
    ///         "issuer": "https://edge.internal.example", "audiences": ["documents"],
    ///         "keys": {"jwks_file": "edge-jwks.json"}, "require_typ": "at+jwt",
    ///         "claim_mapping": "baton", "minted_by": "svc-edge"
    ///     }]
    /// }"#)?;
    /// let verifier = settings.builder_in(&dir)?.build()?;
    /// assert_eq!(tower_auth::Verifier::pattern(&verifier), Pattern::InternalJwt);
    ///
    /// // Refused: the key set file is not there.
    /// let error = settings.builder_in(&dir.join("elsewhere")).unwrap_err();
    /// assert_eq!(error.reason(), "jwks_file_unusable");
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`builder`](Self::builder).
    pub fn builder_in(&self, dir: &Path) -> Result<JwtVerifierBuilder, ConfigError> {
        let configs = self
            .issuers
            .iter()
            .map(|issuer| issuer.to_config_in(dir))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.verifier_builder(configs))
    }

    /// The verifier builder of these settings' verifier-wide keys (`token_cache`,
    /// `pattern`) over issuers already checked: the one place those keys are read.
    pub(crate) fn verifier_builder(
        &self,
        issuers: impl IntoIterator<Item = IssuerConfig>,
    ) -> JwtVerifierBuilder {
        issuers.into_iter().fold(
            JwtVerifier::builder()
                .token_cache(self.token_cache)
                .pattern(self.pattern.into()),
            JwtVerifierBuilder::issuer,
        )
    }
}

impl IssuerSettings {
    /// The checked [`IssuerConfig`]; a relative `jwks_file` is read from the current
    /// directory.
    ///
    /// # Errors
    /// The [`ConfigError`] of the first setting refused.
    pub fn to_config(&self) -> Result<IssuerConfig, ConfigError> {
        self.to_config_in(Path::new(""))
    }

    /// The checked [`IssuerConfig`], a relative `jwks_file` read from `dir` (a
    /// configuration file's directory).
    ///
    /// # Errors
    /// As [`to_config`](Self::to_config); [`ConfigError::JwksFile`] when the key set file
    /// cannot be read, is larger than [`MAX_JWKS_FILE_BYTES`], is no JWKS, or holds a key
    /// that cannot be used.
    pub fn to_config_in(&self, dir: &Path) -> Result<IssuerConfig, ConfigError> {
        let issuer =
            Issuer::new(self.issuer.as_str()).map_err(|_| invalid("issuer", &self.issuer))?;
        let mut builder = IssuerConfig::builder(issuer);
        for audience in &self.audiences {
            builder = builder.audience(
                Audience::new(audience.as_str()).map_err(|_| invalid("audiences", audience))?,
            );
        }
        if self.insecure_skip_audience_check {
            builder = builder.insecure_skip_audience_check();
        }
        if let Some(refresh) = &self.refresh {
            if matches!(self.keys, KeySettings::JwksFile(_)) {
                return Err(invalid("refresh", "a static key set is never refreshed"));
            }
            builder = builder.refresh_policy(refresh.to_policy().map_err(|source| {
                ConfigError::Refresh {
                    issuer: self.issuer.clone(),
                    source,
                }
            })?);
        }
        builder = match &self.keys {
            KeySettings::JwksUrl(url) => builder.jwks_url(url),
            KeySettings::OidcDiscovery => builder.oidc_discovery(),
            KeySettings::OauthMetadata => builder.oauth_metadata(),
            KeySettings::JwksFile(path) => {
                builder.static_keys(read_jwks_file(&self.issuer, &dir.join(path))?)
            }
        };
        if let Some(names) = &self.algorithms {
            let algorithms = names
                .iter()
                .map(|name| algorithm_from_name(name).ok_or_else(|| invalid("algorithms", name)))
                .collect::<Result<Vec<Algorithm>, _>>()?;
            builder = builder.algorithms(algorithms);
        }
        if let Some(seconds) = self.leeway_seconds {
            builder = builder.leeway(Duration::from_secs(seconds));
        }
        if let Some(typ) = &self.require_typ {
            builder = builder.require_typ(typ);
        }
        for claim in &self.required_claims {
            builder = builder.required_claim(claim);
        }
        for scope in &self.required_scopes {
            builder = builder.required_scope(
                Scope::new(scope.as_str()).map_err(|_| invalid("required_scopes", scope))?,
            );
        }
        if let Some(max) = self.max_token_bytes {
            builder = builder.max_token_bytes(max);
        }
        let mapping = claim_mapping(
            self.claim_mapping,
            &self.services,
            &self.actor_issuers,
            self.insecure_allow_missing_sub,
        )
        .map_err(|(field, value)| invalid(field, value))?;
        builder = builder.claim_mapping(mapping);
        if let Some(service) = &self.minted_by {
            builder = builder
                .minted_by(ServiceId::parse(service).map_err(|_| invalid("minted_by", service))?);
        }
        builder.build()
    }
}

/// The key set in the JWKS file `path`, every key usable (a static file is the
/// operator's own: a key left out is a mistake to report, not to skip).
fn read_jwks_file(issuer: &str, path: &Path) -> Result<KeySet, ConfigError> {
    let refused = |detail: String| ConfigError::JwksFile {
        issuer: issuer.to_owned(),
        path: path.display().to_string(),
        detail,
    };
    let size = std::fs::metadata(path)
        .map_err(|error| refused(format!("cannot read: {error}")))?
        .len();
    if size > MAX_JWKS_FILE_BYTES {
        return Err(refused(format!(
            "{size} bytes is above the limit of {MAX_JWKS_FILE_BYTES}"
        )));
    }
    let bytes = std::fs::read(path).map_err(|error| refused(format!("cannot read: {error}")))?;
    let load = KeySet::from_jwks_json(&bytes, &KeySetPolicy::default())
        .map_err(|error| refused(error.to_string()))?;
    if let Some(dropped) = load.dropped.first() {
        return Err(refused(format!(
            "key {} ({}) cannot be used: {}",
            dropped.index,
            dropped.kid.as_deref().unwrap_or("no kid"),
            dropped.reason
        )));
    }
    Ok(load.set)
}

/// The [`ClaimMapping`] the mapping settings name: a preset, named services, actor
/// issuers, the missing-`sub` opt-out. The one reading of these settings, for JWT and
/// introspection verifiers alike; a value that does not parse is returned with its field.
pub(crate) fn claim_mapping<'a>(
    preset: MappingPreset,
    services: &'a BTreeMap<String, String>,
    actor_issuers: &'a [String],
    allow_missing_sub: bool,
) -> Result<ClaimMapping, (&'static str, &'a str)> {
    let mut mapping = match preset {
        MappingPreset::Generic => ClaimMapping::generic(),
        MappingPreset::Keycloak => ClaimMapping::keycloak(),
        MappingPreset::Baton => ClaimMapping::baton(),
    };
    for (client_id, service) in services {
        let service = ServiceId::parse(service).map_err(|_| ("services", service.as_str()))?;
        mapping = mapping.with_service(client_id.as_str(), service);
    }
    for actor_issuer in actor_issuers {
        let actor_issuer = Issuer::new(actor_issuer.as_str())
            .map_err(|_| ("actor_issuers", actor_issuer.as_str()))?;
        mapping = mapping.with_actor_issuer(actor_issuer);
    }
    if allow_missing_sub {
        mapping = mapping.insecure_allow_missing_sub();
    }
    Ok(mapping)
}

fn invalid(field: &'static str, value: &str) -> ConfigError {
    ConfigError::InvalidSetting {
        field,
        value: super::token::echo(value),
    }
}
