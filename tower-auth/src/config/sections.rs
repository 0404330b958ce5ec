//! The file format: one serde type per section, each turned into the builders' output by
//! the builders themselves. Unknown keys are errors everywhere; durations are integers
//! with their unit in the key (`_seconds`, `_ms`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use principal::{Audience, Issuer, Scope, ScopeSet, ServiceId};
use principal_proto::header::HeaderLimit;
use principal_proto::{
    DecodeOptions, KeyId, PassportKeyRing, PassportSigningKey, PassportVerifyingKey,
};
use serde::Deserialize;

use super::locate::FieldPath;
use crate::client_auth::ClientAuth;
use crate::exchange::{ExchangeConfigError, ExchangeTarget, TokenExchangeClient, TokenType};
use crate::introspect::{
    CacheSettings, IntrospectionConfigError, IntrospectionSettings, IntrospectionVerifierBuilder,
};
use crate::jwt::{
    ConfigError, IssuerConfig, JwtVerifierBuilder, JwtVerifierSettings, MappingPreset,
};
use crate::mint::{InternalIssuer, MintCache, MintConfigError, SigningAlgorithm, SigningKey};
use crate::passport::{PassportHeaderVerifier, PassportKeys};
use crate::peer::{PeerAllowlist, SpiffeId, TrustDomain};
use crate::propagate::{PropagateLayer, Route, SharedKeyRing};

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
    #[serde(default)]
    pub(super) passport_signing: Option<PassportSigningSection>,
    #[serde(default)]
    pub(super) exchange: Option<ExchangeSection>,
    pub(super) require: Option<super::require::RequireSection>,
    #[serde(default)]
    pub(super) revocation: Option<super::revocation::RevocationSection>,
    #[serde(default)]
    pub(super) mtls: Option<super::mtls::MtlsSection>,
}

/// A setting the builder refused: where, the builder's reason, its message.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) field: FieldPath,
    pub(super) reason: &'static str,
    pub(super) message: String,
}

impl Refusal {
    pub(super) fn at(field: FieldPath, reason: &'static str, message: impl ToString) -> Self {
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
pub(super) fn read_secret(
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

/// Largest private key file read, in bytes (a PKCS#8 key is a few hundred).
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// The PKCS#8 document in the private key file `path` (relative paths from the
/// configuration file's directory), DER or PEM: a file that starts with `-----BEGIN ` is
/// read as PEM and must hold exactly one unencrypted `PRIVATE KEY` block (RFC 7468 §10);
/// anything else is taken as DER. The file's content is never echoed.
fn read_pkcs8(base: &Path, at: &FieldPath, path: &str) -> Result<Vec<u8>, Refusal> {
    let full = base.join(path);
    let unavailable = |message: String| Refusal::at(at.clone(), SECRET_UNAVAILABLE, message);
    let size = std::fs::metadata(&full)
        .map_err(|error| unavailable(format!("cannot read {}: {error}", full.display())))?
        .len();
    if size > MAX_KEY_FILE_BYTES {
        return Err(unavailable(format!(
            "{} is {size} bytes, above the {MAX_KEY_FILE_BYTES} of a key file",
            full.display()
        )));
    }
    let bytes = std::fs::read(&full)
        .map_err(|error| unavailable(format!("cannot read {}: {error}", full.display())))?;
    if !bytes.trim_ascii_start().starts_with(b"-----BEGIN ") {
        return Ok(bytes);
    }
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(pem_private_key)
        .ok_or_else(|| {
            Refusal::at(
                at.clone(),
                "invalid_pem",
                format!(
                    "{} must hold one unencrypted PKCS#8 key (-----BEGIN PRIVATE KEY-----); \
                     convert other forms with `openssl pkcs8 -topk8 -nocrypt`",
                    full.display()
                ),
            )
        })
}

/// The DER inside the one `PRIVATE KEY` block of a PEM text; `None` for another label
/// (`EC PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`...), a second block, headers or bad base64.
fn pem_private_key(text: &str) -> Option<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let mut lines = text.lines().map(str::trim);
    // Explanatory text may come before the block (RFC 7468 §5.2), another block may not.
    loop {
        let line = lines.next()?;
        if line == BEGIN {
            break;
        }
        if line.starts_with("-----") {
            return None;
        }
    }
    let mut body = String::new();
    loop {
        let line = lines.next()?;
        if line == END {
            break;
        }
        body.push_str(line);
    }
    if lines.any(|line| line.starts_with("-----")) {
        return None;
    }
    BASE64.decode(body).ok()
}

/// The client authentication of `[introspection]` or `[exchange]`: `client_id`,
/// `client_auth` and the secret from `client_secret_file` or `client_secret_env`.
fn client_auth(
    base: &Path,
    at: &FieldPath,
    client_id: &str,
    method: ClientAuthMethod,
    file: Option<&str>,
    env: Option<&str>,
) -> Result<ClientAuth, Refusal> {
    let secret = read_secret(base, at, "client_secret", file, env)?;
    match method {
        ClientAuthMethod::ClientSecretBasic => ClientAuth::client_secret_basic(client_id, secret),
        ClientAuthMethod::ClientSecretPost => ClientAuth::client_secret_post(client_id, secret),
    }
    .map_err(|error| Refusal::at(at.clone().key("client_id"), error.reason(), &error))
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
                ConfigError::Refresh { .. } => "refresh",
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
    let auth = client_auth(
        base,
        &at,
        &section.client_id,
        section.client_auth,
        section.client_secret_file.as_deref(),
        section.client_secret_env.as_deref(),
    )?;
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
    /// The signing key, PKCS#8, DER or PEM (relative paths from the configuration file).
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
    /// `[mint.cache]`: the [`MintCache`] that minted-JWT routes share.
    #[serde(default)]
    cache: Option<MintCacheSection>,
}

/// `[mint.cache]`: the settings of [`MintCache::builder`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MintCacheSection {
    #[serde(default)]
    renew_before_seconds: Option<u64>,
    #[serde(default)]
    max_entries: Option<usize>,
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
            let der = read_pkcs8(base, &at.clone().key("key_file"), path)?;
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

/// The cache of `[mint]`'s issuer, built when `[mint.cache]` is written or a minted-JWT
/// route needs it (`needed`); `None` otherwise, so a `[mint]` whose tokens are shorter
/// than the default renewal margin still loads for a service that mints without a cache.
pub(super) fn mint_cache(
    section: &MintSection,
    issuer: &InternalIssuer,
    needed: bool,
) -> Result<Option<Arc<MintCache>>, Refusal> {
    if section.cache.is_none() && !needed {
        return Ok(None);
    }
    let at = FieldPath::default().key("mint").key("cache");
    let mut builder = MintCache::builder(issuer.clone());
    if let Some(settings) = &section.cache {
        if let Some(seconds) = settings.renew_before_seconds {
            builder = builder.renew_before(Duration::from_secs(seconds));
        }
        if let Some(max) = settings.max_entries {
            builder = builder.max_entries(max);
        }
    }
    let cache = builder.build().map_err(|error| {
        let field = match error {
            MintConfigError::NoCacheEntries => "max_entries",
            _ => "renew_before_seconds",
        };
        Refusal::at(at.clone().key(field), error.reason(), &error)
    })?;
    Ok(Some(Arc::new(cache)))
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

// ---- [passport_signing] ------------------------------------------------------------

/// `[passport_signing]`: the key `signed_passport` and `forward_passport` routes sign
/// with. Ed25519 takes a private key file; HMAC-SHA256 a shared secret, which lets every
/// holder sign any passport (prefer Ed25519 across hops).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PassportSigningSection {
    key_id: String,
    algorithm: PassportAlgorithm,
    /// Ed25519: the private key, PKCS#8, DER or PEM.
    #[serde(default)]
    key_file: Option<String>,
    /// HMAC-SHA256: the shared secret, from a file or the environment.
    #[serde(default)]
    secret_file: Option<String>,
    #[serde(default)]
    secret_env: Option<String>,
}

pub(super) fn passport_signing(
    section: &PassportSigningSection,
    base: &Path,
) -> Result<SharedKeyRing, Refusal> {
    let at = FieldPath::default().key("passport_signing");
    let refuse = |key: &str, error: principal_proto::ConfigError| {
        Refusal::at(at.clone().key(key), error.reason(), &error)
    };
    let key_id = KeyId::new(section.key_id.as_str()).map_err(|e| refuse("key_id", e))?;
    let key = match section.algorithm {
        PassportAlgorithm::Ed25519 => {
            if let Some(field) = [
                ("secret_file", section.secret_file.is_some()),
                ("secret_env", section.secret_env.is_some()),
            ]
            .into_iter()
            .find_map(|(field, set)| set.then_some(field))
            {
                return Err(Refusal::at(
                    at.clone().key(field),
                    "secret_for_ed25519_key",
                    "an ed25519 signing key takes key_file (PKCS#8), not a secret",
                ));
            }
            let path = section.key_file.as_deref().ok_or_else(|| {
                Refusal::at(
                    at.clone().key("key_file"),
                    "missing_key_file",
                    "ed25519 needs key_file (PKCS#8, DER or PEM)",
                )
            })?;
            let der = read_pkcs8(base, &at.clone().key("key_file"), path)?;
            PassportSigningKey::ed25519_from_pkcs8(key_id, &der)
                .map_err(|e| refuse("key_file", e))?
        }
        PassportAlgorithm::HmacSha256 => {
            if section.key_file.is_some() {
                return Err(Refusal::at(
                    at.clone().key("key_file"),
                    "key_file_for_hmac",
                    "an hmac_sha256 key takes secret_file or secret_env",
                ));
            }
            let secret = read_secret(
                base,
                &at,
                "secret",
                section.secret_file.as_deref(),
                section.secret_env.as_deref(),
            )?;
            let field = if section.secret_file.is_some() {
                "secret_file"
            } else {
                "secret_env"
            };
            PassportSigningKey::hmac_sha256(key_id, secret.as_bytes())
                .map_err(|e| refuse(field, e))?
        }
    };
    Ok(Arc::new(ArcSwap::from_pointee(PassportKeyRing::new(key))))
}

// ---- [exchange] --------------------------------------------------------------------

/// `[exchange]`: the RFC 8693 token exchange client of `exchanged` routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExchangeSection {
    token_endpoint: String,
    client_id: String,
    #[serde(default)]
    client_auth: ClientAuthMethod,
    #[serde(default)]
    client_secret_file: Option<String>,
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    max_answer_bytes: Option<usize>,
    #[serde(default)]
    renew_before_seconds: Option<u64>,
    #[serde(default)]
    refresh_ahead_seconds: Option<u64>,
    #[serde(default)]
    max_entries: Option<usize>,
}

pub(super) fn exchange(
    section: &ExchangeSection,
    base: &Path,
) -> Result<TokenExchangeClient, Refusal> {
    let at = FieldPath::default().key("exchange");
    let auth = client_auth(
        base,
        &at,
        &section.client_id,
        section.client_auth,
        section.client_secret_file.as_deref(),
        section.client_secret_env.as_deref(),
    )?;
    let mut builder = TokenExchangeClient::builder(&section.token_endpoint, auth);
    if let Some(ms) = section.timeout_ms {
        builder = builder.timeout(Duration::from_millis(ms));
    }
    if let Some(bytes) = section.max_answer_bytes {
        builder = builder.max_answer_bytes(bytes);
    }
    if let Some(seconds) = section.renew_before_seconds {
        builder = builder.renew_before(Duration::from_secs(seconds));
    }
    if let Some(seconds) = section.refresh_ahead_seconds {
        builder = builder.refresh_ahead(Duration::from_secs(seconds));
    }
    if let Some(max) = section.max_entries {
        builder = builder.max_entries(max);
    }
    builder.build().map_err(|error| {
        let field = match error {
            ExchangeConfigError::InvalidEndpoint { .. } => "token_endpoint",
            ExchangeConfigError::InvalidClientAuth { .. } => "client_id",
            ExchangeConfigError::Timeout { .. } => "timeout_ms",
            ExchangeConfigError::MaxAnswerBytes { .. } => "max_answer_bytes",
            ExchangeConfigError::NoCacheEntries => "max_entries",
            _ => "",
        };
        Refusal::at(at.clone().key(field), error.reason(), &error)
    })
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
    /// The destination's audience (passports, minted JWTs, exchanged tokens).
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    passport_lifetime_seconds: Option<u32>,
    /// The longest `x-principal-bin` value a passport route sends.
    #[serde(default)]
    passport_header_limit_bytes: Option<usize>,
    #[serde(default)]
    in_internal_token_header: bool,
    #[serde(default)]
    require_principal: bool,
    /// Exchanged routes: the resources (absolute URIs) the token is for.
    #[serde(default)]
    resources: Vec<String>,
    /// Exchanged routes: the scopes asked for.
    #[serde(default)]
    scopes: Vec<String>,
    /// Exchanged routes: the token type asked for (a URI).
    #[serde(default)]
    requested_token_type: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RoutePattern {
    Nothing,
    Passthrough,
    UnsignedPassport,
    SignedPassport,
    ForwardPassport,
    MintedJwt,
    Exchanged,
}

impl RoutePattern {
    fn name(self) -> &'static str {
        match self {
            RoutePattern::Nothing => "nothing",
            RoutePattern::Passthrough => "passthrough",
            RoutePattern::UnsignedPassport => "unsigned_passport",
            RoutePattern::SignedPassport => "signed_passport",
            RoutePattern::ForwardPassport => "forward_passport",
            RoutePattern::MintedJwt => "minted_jwt",
            RoutePattern::Exchanged => "exchanged",
        }
    }

    fn is_passport(self) -> bool {
        matches!(
            self,
            RoutePattern::UnsignedPassport
                | RoutePattern::SignedPassport
                | RoutePattern::ForwardPassport
        )
    }
}

impl RouteSection {
    /// The first key this route sets that its pattern does not read: refused, so a
    /// setting never silently does nothing.
    fn misplaced_key(&self) -> Option<&'static str> {
        let pattern = self.pattern;
        let exchanged = pattern == RoutePattern::Exchanged;
        [
            (
                "audience",
                self.audience.is_some(),
                !matches!(pattern, RoutePattern::Nothing | RoutePattern::Passthrough),
            ),
            (
                "passport_lifetime_seconds",
                self.passport_lifetime_seconds.is_some(),
                pattern.is_passport(),
            ),
            (
                "passport_header_limit_bytes",
                self.passport_header_limit_bytes.is_some(),
                pattern.is_passport(),
            ),
            (
                "in_internal_token_header",
                self.in_internal_token_header,
                pattern == RoutePattern::MintedJwt,
            ),
            ("resources", !self.resources.is_empty(), exchanged),
            ("scopes", !self.scopes.is_empty(), exchanged),
            (
                "requested_token_type",
                self.requested_token_type.is_some(),
                exchanged,
            ),
        ]
        .into_iter()
        .find_map(|(key, set, read)| (set && !read).then_some(key))
    }
}

impl PropagateSection {
    /// Whether a route mints, so `[mint]`'s cache is needed.
    pub(super) fn mints(&self) -> bool {
        self.routes
            .iter()
            .any(|route| route.pattern == RoutePattern::MintedJwt)
    }
}

/// What routes use from other sections: `[mint]`'s cache, `[passport_signing]`'s ring,
/// `[exchange]`'s client (`None` where the section is absent).
pub(super) struct RouteSources<'a> {
    pub(super) mint_cache: Option<&'a Arc<MintCache>>,
    pub(super) passport_signing: Option<&'a SharedKeyRing>,
    pub(super) exchange: Option<&'a TokenExchangeClient>,
}

pub(super) fn propagate(
    section: &PropagateSection,
    sources: &RouteSources<'_>,
) -> Result<PropagateLayer, Refusal> {
    let at = FieldPath::default().key("propagate").key("routes");
    let mut layer = PropagateLayer::new();
    for (index, route) in section.routes.iter().enumerate() {
        let route_at = at.clone().index(index);
        if let Some(key) = route.misplaced_key() {
            return Err(Refusal::at(
                route_at.clone().key(key),
                "not_for_pattern",
                format!("{key} has no effect on a {} route", route.pattern.name()),
            ));
        }
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
        // A pattern that needs another section names it, at the route's `pattern`.
        let needs = |reason: &'static str, section: &str| {
            Refusal::at(
                route_at.clone().key("pattern"),
                reason,
                format!("{} needs a [{section}] section", route.pattern.name()),
            )
        };
        let ring = || {
            sources
                .passport_signing
                .cloned()
                .ok_or_else(|| needs("no_passport_signing_section", "passport_signing"))
        };
        let mut built = match route.pattern {
            RoutePattern::Nothing => Route::nothing(),
            RoutePattern::Passthrough => Route::passthrough(),
            RoutePattern::UnsignedPassport => Route::unsigned_passport(audience()?),
            RoutePattern::SignedPassport => Route::signed_passport(ring()?, audience()?),
            RoutePattern::ForwardPassport => Route::forward_passport(ring()?, audience()?),
            RoutePattern::MintedJwt => {
                let cache = sources
                    .mint_cache
                    .cloned()
                    .ok_or_else(|| needs("no_mint_section", "mint"))?;
                Route::minted_jwt(cache, audience()?)
            }
            RoutePattern::Exchanged => {
                let client = sources
                    .exchange
                    .cloned()
                    .ok_or_else(|| needs("no_exchange_section", "exchange"))?;
                Route::exchanged(client, exchange_target(route, &route_at)?)
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
        if let Some(bytes) = route.passport_header_limit_bytes {
            let limit = HeaderLimit::new(bytes).map_err(|error| {
                Refusal::at(
                    route_at.clone().key("passport_header_limit_bytes"),
                    error.reason(),
                    &error,
                )
            })?;
            built = built.passport_header_limit(limit);
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

/// An exchanged route's target: its `audience` and `resources` (at least one of them),
/// `scopes` and `requested_token_type`.
fn exchange_target(route: &RouteSection, at: &FieldPath) -> Result<ExchangeTarget, Refusal> {
    let refuse_exchange =
        |field: FieldPath, error: ExchangeConfigError| Refusal::at(field, error.reason(), &error);
    let audience = route
        .audience
        .as_deref()
        .map(|text| {
            Audience::new(text)
                .map_err(|error| Refusal::at(at.clone().key("audience"), "invalid_setting", &error))
        })
        .transpose()?;
    let mut resources = Vec::with_capacity(route.resources.len());
    for (index, text) in route.resources.iter().enumerate() {
        let field = at.clone().key("resources").index(index);
        let uri = text
            .parse::<http::Uri>()
            .map_err(|_| refuse_exchange(field.clone(), ExchangeConfigError::InvalidResource))?;
        resources.push((field, uri));
    }
    let mut resources = resources.into_iter();
    let mut target = match (audience, resources.next()) {
        (Some(audience), first) => {
            let target = ExchangeTarget::audience(audience);
            match first {
                Some((field, uri)) => target
                    .and_resource(uri)
                    .map_err(|error| refuse_exchange(field, error))?,
                None => target,
            }
        }
        (None, Some((field, uri))) => {
            ExchangeTarget::resource(uri).map_err(|error| refuse_exchange(field, error))?
        }
        (None, None) => {
            return Err(Refusal::at(
                at.clone().key("audience"),
                "missing_audience",
                "an exchanged route needs audience or resources",
            ));
        }
    };
    for (field, uri) in resources {
        target = target
            .and_resource(uri)
            .map_err(|error| refuse_exchange(field, error))?;
    }
    if !route.scopes.is_empty() {
        let mut scopes = ScopeSet::new();
        for (index, text) in route.scopes.iter().enumerate() {
            let scope = Scope::new(text.as_str()).map_err(|error| {
                Refusal::at(
                    at.clone().key("scopes").index(index),
                    "invalid_setting",
                    &error,
                )
            })?;
            scopes.insert(scope);
        }
        target = target.scopes(scopes);
    }
    if let Some(text) = &route.requested_token_type {
        let token_type = TokenType::new(text)
            .map_err(|error| refuse_exchange(at.clone().key("requested_token_type"), error))?;
        target = target.requested_token_type(token_type);
    }
    Ok(target)
}
