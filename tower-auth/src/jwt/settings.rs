//! The deserializable form of a JWT verifier's configuration (DESIGN §4): the same
//! settings as the builders, read from a file, checked by the same code.

use std::collections::BTreeMap;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use principal::{Audience, ClaimMapping, Issuer, Scope, ServiceId};
use serde::Deserialize;

use super::config::{ConfigError, IssuerConfig};
use super::verifier::{JwtVerifier, JwtVerifierBuilder};
use crate::jwks::algorithm_from_name;
use crate::token_cache::TokenCacheConfig;

/// A JWT verifier's settings, as read from a configuration file.
///
/// HMAC secrets, static key sets and caller-run key caches are configured in code
/// ([`IssuerConfig::builder`]): secrets do not belong in a file that is read as plain
/// configuration. Fetched key sets use the default refresh policy.
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
    /// build. Every issuer is checked as its builder would.
    pub fn builder(&self) -> Result<JwtVerifierBuilder, ConfigError> {
        let mut builder = JwtVerifier::builder().token_cache(self.token_cache);
        for issuer in &self.issuers {
            builder = builder.issuer(issuer.to_config()?);
        }
        Ok(builder)
    }
}

impl IssuerSettings {
    /// The checked [`IssuerConfig`].
    pub fn to_config(&self) -> Result<IssuerConfig, ConfigError> {
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
        builder = match &self.keys {
            KeySettings::JwksUrl(url) => builder.jwks_url(url),
            KeySettings::OidcDiscovery => builder.oidc_discovery(),
            KeySettings::OauthMetadata => builder.oauth_metadata(),
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
        builder.build()
    }
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
