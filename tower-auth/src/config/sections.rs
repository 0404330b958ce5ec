//! The file format: one serde type per section, each turned into the builders' output by
//! the builders themselves. Unknown keys are errors everywhere; durations are integers
//! with their unit in the key (`_seconds`, `_ms`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use principal::{Audience, Issuer, ServiceId};
use principal_proto::{DecodeOptions, KeyId, PassportVerifyingKey};
use serde::Deserialize;

use super::locate::FieldPath;
use crate::client_auth::ClientAuth;
use crate::introspect::{
    CacheSettings, IntrospectionConfigError, IntrospectionSettings, IntrospectionVerifierBuilder,
};
use crate::jwt::{
    ConfigError, IssuerConfig, JwtVerifierBuilder, JwtVerifierSettings, MappingPreset,
};
use crate::mint::{InternalIssuer, MintCache, MintConfigError, SigningAlgorithm, SigningKey};
use crate::passport::{PassportHeaderVerifier, PassportKeys};
use crate::peer::{PeerAllowlist, SpiffeId, TrustDomain};
use crate::propagate::{PropagateLayer, Route};

/// The whole file. Every section is optional; a service reads the ones it uses.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileFormat {
    #[serde(default)]
    pub(super) jwt: Option<JwtVerifierSettings>,
    #[serde(default)]
    pub(super) introspection: Option<IntrospectionSection>,
    #[serde(default)]
    pub(super) passport: Option<PassportSection>,
    #[serde(default)]
    pub(super) workload: Option<WorkloadSection>,
    #[serde(default)]
    pub(super) mint: Option<MintSection>,
    #[serde(default)]
    pub(super) propagate: Option<PropagateSection>,
}

/// A setting the builder refused: where, the builder's reason, its message.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) field: FieldPath,
    pub(super) reason: &'static str,
    pub(super) message: String,
}

impl Refusal {
    fn at(field: FieldPath, reason: &'static str, message: impl ToString) -> Self {
        Refusal {
            field,
            reason,
            message: message.to_string(),
        }
    }
}

/// The reason of a secret (or key) file or variable that cannot be read.
pub(super) const SECRET_UNAVAILABLE: &str = "secret_unavailable";

/// Reads a secret from a file (relative paths from the configuration file's directory)
/// or an environment variable: exactly one of the two.
fn read_secret(
    base: &Path,
    section: &FieldPath,
    prefix: &str,
    file: Option<&str>,
    env: Option<&str>,
) -> Result<String, Refusal> {
    let unavailable = |key: &str, message: String| {
        Refusal::at(section.clone().key(key), SECRET_UNAVAILABLE, message)
    };
    let file_key = format!("{prefix}_file");
    let env_key = format!("{prefix}_env");
    match (file, env) {
        (Some(path), None) => {
            let full = base.join(path);
            let text = std::fs::read_to_string(&full).map_err(|error| {
                unavailable(
                    &file_key,
                    format!("cannot read {}: {error}", full.display()),
                )
            })?;
            let secret = text.trim().to_owned();
            if secret.is_empty() {
                return Err(unavailable(
                    &file_key,
                    format!("{} is empty", full.display()),
                ));
            }
            Ok(secret)
        }
        (None, Some(variable)) => match std::env::var(variable) {
            Ok(secret) if !secret.trim().is_empty() => Ok(secret.trim().to_owned()),
            _ => Err(unavailable(
                &env_key,
                format!("the environment variable {variable} is unset or empty"),
            )),
        },
        (Some(_), Some(_)) => Err(Refusal::at(
            section.clone().key(&env_key),
            "two_secret_sources",
            format!("give {file_key} or {env_key}, not both"),
        )),
        (None, None) => Err(Refusal::at(
            section.clone(),
            "no_secret_source",
            format!("a secret is needed: {file_key} or {env_key} (inline secrets are not read)"),
        )),
    }
}

// ---- [jwt] -------------------------------------------------------------------------

/// `[jwt]`: [`JwtVerifierSettings`] as they are (`[[jwt.issuers]]`, `[jwt.token_cache]`,
/// `pattern`); relative `jwks_file` paths from `base`, the configuration file's directory.
pub(super) fn jwt(
    settings: &JwtVerifierSettings,
    base: &Path,
) -> Result<JwtVerifierBuilder, Refusal> {
    let section = FieldPath::default().key("jwt");
    let issuer_at = |index: usize| section.clone().key("issuers").index(index);
    let mut configs: Vec<IssuerConfig> = Vec::new();
    for (index, issuer) in settings.issuers.iter().enumerate() {
        let config = issuer.to_config_in(base).map_err(|error| {
            let field = match &error {
                ConfigError::JwksFile { .. } => "keys",
                other => jwt_field(other),
            };
            Refusal::at(issuer_at(index).key(field), error.reason(), &error)
        })?;
        configs.push(config);
    }
    let make = || settings.verifier_builder(configs.iter().cloned());
    // The verifier-wide checks (no issuer, an issuer twice, the cache's bounds, minted_by
    // outside internal_jwt) run now.
    make().build().map_err(|error| {
        let position = |issuer: &str| {
            settings
                .issuers
                .iter()
                .rposition(|i| Issuer::new(i.issuer.as_str()).is_ok_and(|i| i.as_str() == issuer))
                .unwrap_or(0)
        };
        let field = match &error {
            ConfigError::DuplicateIssuer { issuer } => issuer_at(position(issuer)).key("issuer"),
            ConfigError::MintedByOutsideInternalJwt { issuer } => {
                issuer_at(position(issuer)).key("minted_by")
            }
            ConfigError::NoIssuers => section.clone().key("issuers"),
            _ => section.clone(),
        };
        Refusal::at(field, error.reason(), &error)
    })?;
    Ok(make())
}

/// The key of `[[jwt.issuers]]` an issuer's error is about.
fn jwt_field(error: &ConfigError) -> &'static str {
    match error {
        ConfigError::NoAudiences { .. } => "audiences",
        ConfigError::NoKeySource { .. } | ConfigError::Keys { .. } => "keys",
        ConfigError::LeewayTooLarge { .. } => "leeway_seconds",
        ConfigError::MaxTokenBytes { .. } => "max_token_bytes",
        ConfigError::NoAlgorithms { .. }
        | ConfigError::MixedAlgorithmFamilies { .. }
        | ConfigError::HmacWithoutSecrets { .. }
        | ConfigError::AsymmetricWithSecrets { .. }
        | ConfigError::KeyAlgorithmNotAllowed { .. }
        | ConfigError::HmacKeyInStaticSet { .. } => "algorithms",
        ConfigError::InvalidTyp { .. } => "require_typ",
        ConfigError::InvalidRequiredClaim { .. } => "required_claims",
        ConfigError::InvalidSetting { field, .. } => field,
        _ => "issuer",
    }
}

// ---- [introspection] ---------------------------------------------------------------

/// `[introspection]`: the fields of [`IntrospectionSettings`] plus how this service
/// authenticates to the endpoint. The secret comes from a file or the environment, never
/// from this file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IntrospectionSection {
    endpoint: String,
    issuer: String,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default)]
    insecure_skip_audience_check: bool,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    leeway_seconds: Option<u64>,
    #[serde(default)]
    max_token_bytes: Option<usize>,
    #[serde(default)]
    introspect_jwts: bool,
    #[serde(default)]
    claim_mapping: MappingPreset,
    #[serde(default)]
    services: BTreeMap<String, String>,
    #[serde(default)]
    actor_issuers: Vec<String>,
    #[serde(default)]
    cache: CacheSettings,
    client_id: String,
    #[serde(default)]
    client_auth: ClientAuthMethod,
    #[serde(default)]
    client_secret_file: Option<String>,
    #[serde(default)]
    client_secret_env: Option<String>,
}

/// How the client secret is presented (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ClientAuthMethod {
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
}

pub(super) fn introspection(
    section: &IntrospectionSection,
    base: &Path,
) -> Result<IntrospectionVerifierBuilder, Refusal> {
    let at = FieldPath::default().key("introspection");
    let secret = read_secret(
        base,
        &at,
        "client_secret",
        section.client_secret_file.as_deref(),
        section.client_secret_env.as_deref(),
    )?;
    let auth = match section.client_auth {
        ClientAuthMethod::ClientSecretBasic => {
            ClientAuth::client_secret_basic(&section.client_id, secret)
        }
        ClientAuthMethod::ClientSecretPost => {
            ClientAuth::client_secret_post(&section.client_id, secret)
        }
    }
    .map_err(|error| Refusal::at(at.clone().key("client_id"), error.reason(), &error))?;
    // Every field of the settings, named: a field added there fails to compile here.
    let settings = IntrospectionSettings {
        endpoint: section.endpoint.clone(),
        issuer: section.issuer.clone(),
        audiences: section.audiences.clone(),
        insecure_skip_audience_check: section.insecure_skip_audience_check,
        timeout_ms: section.timeout_ms,
        leeway_seconds: section.leeway_seconds,
        max_token_bytes: section.max_token_bytes,
        introspect_jwts: section.introspect_jwts,
        claim_mapping: section.claim_mapping,
        services: section.services.clone(),
        actor_issuers: section.actor_issuers.clone(),
        cache: section.cache,
    };
    let refused = |error: IntrospectionConfigError| {
        let field = introspection_field(&error);
        Refusal::at(at.clone().key(field), error.reason(), &error)
    };
    let builder = settings.builder(auth.clone()).map_err(refused)?;
    // The builder checks the endpoint and the bounds when it builds: build once now, on
    // a second builder, so a bad file stops the start.
    settings
        .builder(auth)
        .and_then(IntrospectionVerifierBuilder::build)
        .map_err(refused)?;
    Ok(builder)
}

fn introspection_field(error: &IntrospectionConfigError) -> &'static str {
    match error {
        IntrospectionConfigError::InvalidEndpoint { .. }
        | IntrospectionConfigError::InsecureEndpoint { .. }
        | IntrospectionConfigError::EndpointHasCredentials => "endpoint",
        IntrospectionConfigError::NoAudiences => "audiences",
        IntrospectionConfigError::OutOfRange { field, .. } => match *field {
            "timeout_ms" => "timeout_ms",
            "leeway" => "leeway_seconds",
            "max_token_bytes" => "max_token_bytes",
            "max_entries" => "cache.max_entries",
            "max_ttl" => "cache.max_ttl_seconds",
            "negative_ttl" => "cache.negative_ttl_seconds",
            _ => "",
        },
        IntrospectionConfigError::InvalidClientAuth { .. } => "client_id",
        IntrospectionConfigError::InvalidSetting { field, .. } => field,
        _ => "",
    }
}

// ---- [passport] --------------------------------------------------------------------

/// `[passport]`: the `x-principal-bin` verifier (pattern 4).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PassportSection {
    /// The audience passports must name (this service, or its trust domain).
    audience: String,
    #[serde(default)]
    leeway_seconds: Option<u32>,
    #[serde(default)]
    max_lifetime_seconds: Option<u32>,
    #[serde(default)]
    max_bytes: Option<usize>,
    #[serde(default)]
    max_delegation_depth: Option<usize>,
    /// mTLS peers (SPIFFE IDs) whose unsigned passports are accepted.
    #[serde(default)]
    unsigned_from: Vec<String>,
    #[serde(default)]
    keys: Vec<PassportKeySection>,
}

/// `[[passport.keys]]`: one verifying key of the ring.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PassportKeySection {
    key_id: String,
    /// The service that signs with this key (`svc-...`).
    signer: String,
    algorithm: PassportAlgorithm,
    /// Ed25519: the 32-byte public key, base64.
    #[serde(default)]
    public_key: Option<String>,
    /// HMAC-SHA256: the shared secret, from a file or the environment.
    #[serde(default)]
    secret_file: Option<String>,
    #[serde(default)]
    secret_env: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PassportAlgorithm {
    Ed25519,
    HmacSha256,
}

pub(super) fn passport(
    section: &PassportSection,
    base: &Path,
) -> Result<PassportHeaderVerifier, Refusal> {
    let at = FieldPath::default().key("passport");
    let refuse = |key: &str, error: principal_proto::ConfigError| {
        Refusal::at(at.clone().key(key), error.reason(), &error)
    };
    let audience = Audience::new(section.audience.as_str())
        .map_err(|error| Refusal::at(at.clone().key("audience"), "invalid_setting", &error))?;
    let mut options = DecodeOptions::new(audience);
    if let Some(seconds) = section.leeway_seconds {
        options = options
            .with_leeway(seconds)
            .map_err(|e| refuse("leeway_seconds", e))?;
    }
    if let Some(seconds) = section.max_lifetime_seconds {
        options = options
            .with_max_lifetime(seconds)
            .map_err(|e| refuse("max_lifetime_seconds", e))?;
    }
    if let Some(bytes) = section.max_bytes {
        options = options
            .with_max_bytes(bytes)
            .map_err(|e| refuse("max_bytes", e))?;
    }
    if let Some(depth) = section.max_delegation_depth {
        options = options
            .with_max_delegation_depth(depth)
            .map_err(|e| refuse("max_delegation_depth", e))?;
    }
    let peers = allowlist(&section.unsigned_from, &at.clone().key("unsigned_from"))?;
    let mut ring: Option<PassportKeys> = None;
    for (index, key) in section.keys.iter().enumerate() {
        let key_at = at.clone().key("keys").index(index);
        let refuse_key = |field: &str, reason: &'static str, message: String| {
            Refusal::at(key_at.clone().key(field), reason, message)
        };
        let key_id = KeyId::new(key.key_id.as_str())
            .map_err(|e| refuse_key("key_id", e.reason(), e.to_string()))?;
        let signer = ServiceId::parse(&key.signer)
            .map_err(|e| refuse_key("signer", "invalid_setting", e.to_string()))?;
        let verifying = match key.algorithm {
            PassportAlgorithm::Ed25519 => {
                if key.secret_file.is_some() || key.secret_env.is_some() {
                    return Err(refuse_key(
                        "algorithm",
                        "secret_for_public_key",
                        "an ed25519 key takes public_key, not a secret".to_owned(),
                    ));
                }
                let text = key.public_key.as_deref().ok_or_else(|| {
                    refuse_key(
                        "public_key",
                        "missing_public_key",
                        "ed25519 needs public_key".to_owned(),
                    )
                })?;
                let bytes = BASE64.decode(text.trim()).map_err(|_| {
                    refuse_key("public_key", "invalid_setting", "not base64".to_owned())
                })?;
                PassportVerifyingKey::ed25519(key_id, &bytes)
                    .map_err(|e| refuse_key("public_key", e.reason(), e.to_string()))?
            }
            PassportAlgorithm::HmacSha256 => {
                if key.public_key.is_some() {
                    return Err(refuse_key(
                        "public_key",
                        "public_key_for_hmac",
                        "an hmac_sha256 key takes secret_file or secret_env".to_owned(),
                    ));
                }
                let secret = read_secret(
                    base,
                    &key_at,
                    "secret",
                    key.secret_file.as_deref(),
                    key.secret_env.as_deref(),
                )?;
                PassportVerifyingKey::hmac_sha256(key_id, secret.as_bytes())
                    .map_err(|e| refuse_key("secret_file", e.reason(), e.to_string()))?
            }
        };
        ring = Some(
            match ring {
                None => PassportKeys::new(verifying, signer),
                Some(ring) => ring.with_key(verifying, signer),
            }
            .map_err(|e| refuse_key("key_id", e.reason(), e.to_string()))?,
        );
    }
    match ring {
        Some(ring) if peers.is_empty() => Ok(PassportHeaderVerifier::new(options, ring)),
        Some(ring) => Ok(PassportHeaderVerifier::new(options, ring).unsigned_from(peers)),
        None if !peers.is_empty() => Ok(PassportHeaderVerifier::unsigned_only(options, peers)),
        None => Err(Refusal::at(
            at,
            "no_passport_source",
            "a passport verifier needs keys ([[passport.keys]]) or unsigned_from peers",
        )),
    }
}

fn allowlist(ids: &[String], at: &FieldPath) -> Result<PeerAllowlist, Refusal> {
    let mut parsed = Vec::with_capacity(ids.len());
    for (index, id) in ids.iter().enumerate() {
        parsed.push(
            SpiffeId::new(id)
                .map_err(|error| Refusal::at(at.clone().index(index), error.reason(), &error))?,
        );
    }
    Ok(PeerAllowlist::new(parsed))
}

// ---- [workload] --------------------------------------------------------------------

/// `[workload]`: this service's trust domain and the mTLS peers it admits (pattern 5).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WorkloadSection {
    trust_domain: String,
    #[serde(default)]
    allowed_peers: Vec<String>,
}

/// The `[workload]` section, checked: the trust domain and the peer allowlist (an empty
/// allowlist admits nothing).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WorkloadConfig {
    /// This service's SPIFFE trust domain.
    pub trust_domain: TrustDomain,
    /// The SPIFFE IDs of the peers admitted.
    pub allowed_peers: PeerAllowlist,
}

pub(super) fn workload(section: &WorkloadSection) -> Result<WorkloadConfig, Refusal> {
    let at = FieldPath::default().key("workload");
    let trust_domain = TrustDomain::new(&section.trust_domain)
        .map_err(|error| Refusal::at(at.clone().key("trust_domain"), error.reason(), &error))?;
    let allowed_peers = allowlist(&section.allowed_peers, &at.clone().key("allowed_peers"))?;
    Ok(WorkloadConfig {
        trust_domain,
        allowed_peers,
    })
}

// ---- [mint] ------------------------------------------------------------------------

/// `[mint]`: the internal issuer of pattern 2.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MintSection {
    issuer: String,
    algorithm: MintAlgorithm,
    /// The signing key, PKCS#8 DER (relative paths from the configuration file).
    #[serde(default)]
    key_file: Option<String>,
    /// A fresh key made at every start instead of `key_file`.
    #[serde(default)]
    generate_key: bool,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    lifetime_seconds: Option<u64>,
    #[serde(default)]
    leeway_seconds: Option<u64>,
    #[serde(default)]
    max_delegation_depth: Option<usize>,
    #[serde(default)]
    jwks_max_age_seconds: Option<u64>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
enum MintAlgorithm {
    ES256,
    EdDSA,
}

pub(super) fn mint(section: &MintSection, base: &Path) -> Result<InternalIssuer, Refusal> {
    let at = FieldPath::default().key("mint");
    let refuse = |key: &str, error: MintConfigError| {
        Refusal::at(at.clone().key(key), error.reason(), &error)
    };
    let algorithm = match section.algorithm {
        MintAlgorithm::ES256 => SigningAlgorithm::Es256,
        MintAlgorithm::EdDSA => SigningAlgorithm::EdDsa,
    };
    let issuer = Issuer::new(section.issuer.as_str())
        .map_err(|error| Refusal::at(at.clone().key("issuer"), "invalid_setting", &error))?;
    let mut key = match (&section.key_file, section.generate_key) {
        (Some(path), false) => {
            let full = base.join(path);
            let der = std::fs::read(&full).map_err(|error| {
                Refusal::at(
                    at.clone().key("key_file"),
                    SECRET_UNAVAILABLE,
                    format!("cannot read {}: {error}", full.display()),
                )
            })?;
            SigningKey::from_pkcs8(algorithm, &der).map_err(|e| refuse("key_file", e))?
        }
        (None, true) => SigningKey::generate(algorithm).map_err(|e| refuse("generate_key", e))?,
        _ => {
            return Err(Refusal::at(
                at.clone().key("key_file"),
                "no_signing_key",
                "give key_file or generate_key = true, not both",
            ));
        }
    };
    if let Some(kid) = &section.kid {
        key = key.with_kid(kid).map_err(|e| refuse("kid", e))?;
    }
    let mut builder = InternalIssuer::builder(issuer, key);
    if let Some(seconds) = section.lifetime_seconds {
        builder = builder.lifetime(Duration::from_secs(seconds));
    }
    if let Some(seconds) = section.leeway_seconds {
        builder = builder.leeway(Duration::from_secs(seconds));
    }
    if let Some(depth) = section.max_delegation_depth {
        builder = builder.max_delegation_depth(depth);
    }
    if let Some(seconds) = section.jwks_max_age_seconds {
        builder = builder.jwks_max_age(Duration::from_secs(seconds));
    }
    builder.build().map_err(|error| {
        let field = mint_field(&error);
        refuse(field, error)
    })
}

fn mint_field(error: &MintConfigError) -> &'static str {
    match error {
        MintConfigError::LifetimeOutOfRange { .. } => "lifetime_seconds",
        MintConfigError::LeewayTooLarge { .. } => "leeway_seconds",
        MintConfigError::DepthAboveHardCap { .. } => "max_delegation_depth",
        MintConfigError::MaxAgeTooLarge { .. } => "jwks_max_age_seconds",
        _ => "issuer",
    }
}

// ---- [propagate] -------------------------------------------------------------------

/// `[propagate]`: what goes to each destination (`[[propagate.routes]]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PropagateSection {
    routes: Vec<RouteSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSection {
    /// `host` or `host:port`.
    destination: String,
    pattern: RoutePattern,
    /// The destination's audience (passports and minted JWTs).
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    passport_lifetime_seconds: Option<u32>,
    #[serde(default)]
    in_internal_token_header: bool,
    #[serde(default)]
    require_principal: bool,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RoutePattern {
    Nothing,
    Passthrough,
    UnsignedPassport,
    MintedJwt,
}

pub(super) fn propagate(
    section: &PropagateSection,
    issuer: Option<&InternalIssuer>,
) -> Result<PropagateLayer, Refusal> {
    let at = FieldPath::default().key("propagate").key("routes");
    let mut layer = PropagateLayer::new();
    let mut mint_cache: Option<Arc<MintCache>> = None;
    for (index, route) in section.routes.iter().enumerate() {
        let route_at = at.clone().index(index);
        let audience = || -> Result<Audience, Refusal> {
            let text = route.audience.as_deref().ok_or_else(|| {
                Refusal::at(
                    route_at.clone().key("audience"),
                    "missing_audience",
                    "this pattern needs the destination's audience",
                )
            })?;
            Audience::new(text).map_err(|error| {
                Refusal::at(route_at.clone().key("audience"), "invalid_setting", &error)
            })
        };
        let mut built = match route.pattern {
            RoutePattern::Nothing => Route::nothing(),
            RoutePattern::Passthrough => Route::passthrough(),
            RoutePattern::UnsignedPassport => Route::unsigned_passport(audience()?),
            RoutePattern::MintedJwt => {
                let cache = match &mint_cache {
                    Some(cache) => cache.clone(),
                    None => {
                        let issuer = issuer.ok_or_else(|| {
                            Refusal::at(
                                route_at.clone().key("pattern"),
                                "no_mint_section",
                                "minted_jwt needs a [mint] section",
                            )
                        })?;
                        let cache = Arc::new(MintCache::builder(issuer.clone()).build().map_err(
                            |error| {
                                Refusal::at(
                                    FieldPath::default().key("mint"),
                                    error.reason(),
                                    &error,
                                )
                            },
                        )?);
                        mint_cache = Some(cache.clone());
                        cache
                    }
                };
                Route::minted_jwt(cache, audience()?)
            }
        };
        if let Some(seconds) = route.passport_lifetime_seconds {
            built = built.passport_lifetime(seconds).map_err(|error| {
                Refusal::at(
                    route_at.clone().key("passport_lifetime_seconds"),
                    error.reason(),
                    &error,
                )
            })?;
        }
        if route.in_internal_token_header {
            built = built.in_internal_token_header();
        }
        if route.require_principal {
            built = built.require_principal();
        }
        layer = layer.route(&route.destination, built).map_err(|error| {
            Refusal::at(route_at.clone().key("destination"), error.reason(), &error)
        })?;
    }
    Ok(layer)
}
