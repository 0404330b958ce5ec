//! Configuration from a TOML file (feature `config`): everything the builders set, read
//! from a file and checked at load by the builders themselves (DESIGN §4: "in code
//! (builders) or in a serde-deserializable config").
//!
//! [`ServiceConfig::load`] reads the file, refuses any key it does not know, and turns each
//! section into what the code path builds: a [`JwtVerifierBuilder`], an
//! [`IntrospectionVerifierBuilder`], a [`PassportHeaderVerifier`], a [`WorkloadConfig`], an
//! [`InternalIssuer`], a [`PropagateLayer`]. No rule is implemented twice: a malformed
//! scope, an `http` URL off loopback, a leeway above its cap or an empty audience list is
//! refused by the same builder call the code path makes, and the error names the file,
//! the line and column, and the field.
//!
//! # The format
//!
//! Every section is optional; durations are integers with the unit in the key
//! (`leeway_seconds`, `timeout_ms`). Secrets are never written in the file: a key that
//! needs one takes `*_file` (a path, relative to the configuration file's directory) or
//! `*_env` (an environment variable), exactly one of the two.
//!
//! | section | becomes | keys |
//! | --- | --- | --- |
//! | `[[jwt.issuers]]`, `[jwt.token_cache]` | [`JwtVerifierBuilder`] | the keys of [`IssuerSettings`](crate::jwt::IssuerSettings) and [`TokenCacheConfig`](crate::token_cache::TokenCacheConfig): `issuer`, `audiences`, `keys` (`{ jwks_url = "…" }`, `"oidc_discovery"` or `"oauth_metadata"`), `algorithms`, `leeway_seconds`, `require_typ`, `required_claims`, `required_scopes`, `max_token_bytes`, `claim_mapping`, `services`, `actor_issuers`; `max_entries`, `max_bytes` |
//! | `[jwt]` (internal JWTs) | [`JwtVerifierBuilder`] | `pattern = "internal_jwt"` (default `"jwt_passthrough"`); per issuer `minted_by` (`svc-…`, the minting service, reported as the caller) and `keys = { jwks_file = "…" }` (a static JWKS file, relative to this file); a fetched key set's `[jwt.issuers.refresh]` ([`RefreshSettings`](crate::jwt::RefreshSettings): `default_ttl_seconds`, `min_ttl_seconds`, `max_ttl_seconds`, `unknown_kid_cooldown_seconds`, `max_staleness_seconds`, `failure_retry_seconds`, `rediscovery_interval_seconds`, `fetch_timeout_ms`, `max_body_bytes`) |
//! | `[introspection]` | [`IntrospectionVerifierBuilder`] | the keys of [`IntrospectionSettings`](crate::introspect::IntrospectionSettings) (`endpoint`, `issuer`, `audiences`, `timeout_ms`, `leeway_seconds`, `max_token_bytes`, `introspect_jwts`, `claim_mapping`, `services`, `actor_issuers`, `[introspection.cache]`), and `client_id`, `client_auth` (`client_secret_basic` or `client_secret_post`), `client_secret_file` or `client_secret_env` |
//! | `[passport]`, `[[passport.keys]]` | [`PassportHeaderVerifier`] | `audience`, `leeway_seconds`, `max_lifetime_seconds`, `max_bytes`, `max_delegation_depth`, `unsigned_from` (SPIFFE IDs); each key: `key_id`, `signer`, `algorithm` (`ed25519` with `public_key`, base64; `hmac_sha256` with `secret_file` or `secret_env`) |
//! | `[[require.routes]]`, `[require.otherwise]` | [`RouteRequirements`] (for [`RequireLayer::routes`](crate::require::RequireLayer::routes)) | per route `path`, `prefix`; per rule (all must hold) `authenticated`, `scopes`, `roles`, `delegated_roles`, `tenant`, `no_agent`, `agents_on_behalf_of`, `acting_kind`, `max_delegation_depth`, `caller`, `caller_trust_domain`, and `any_of` / `all_of` (arrays of rules), `not` (a rule); unlisted paths refused unless `otherwise` |
//! | `[revocation]`, `[revocation.feed]` or `[revocation.redis]` | [`RevocationConfig`] ([`start`](RevocationConfig::start) gives the [`RevocationMirror`](crate::revocation::RevocationMirror) and a handle) | `max_age_seconds`, `stale_policy` (`fail_closed` or `degrade`); feed: `url`, `interval_ms`, `timeout_ms`, `max_bytes`; redis (feature `revocation-redis`): `url` (no credentials) or `url_file` or `url_env`, `snapshot_key`, `channel`, `resync_interval_ms`, `timeout_ms`, `max_bytes` |
//! | `[mtls]` | `WorkloadTls` (feature `mtls`: its server configuration, `MtlsAcceptor` and client configuration) | `ca_file`, `cert_file`, `key_file` (PEM); the certificate carries one SPIFFE URI SAN and verifies against the CA, the key matches it |
//! | `[workload]` | [`WorkloadConfig`] | `trust_domain`, `allowed_peers` (SPIFFE IDs) |
//! | `[mint]`, `[mint.cache]` | [`InternalIssuer`], [`MintCache`] | `issuer`, `algorithm` (`ES256` or `EdDSA`), `key_file` (PKCS#8, DER or PEM `BEGIN PRIVATE KEY`, told apart by content) or `generate_key = true`, `kid`, `lifetime_seconds`, `leeway_seconds`, `max_delegation_depth`, `jwks_max_age_seconds`; the cache (built when `[mint.cache]` is written or a route mints): `renew_before_seconds`, `max_entries` |
//! | `[passport_signing]` | a [`SharedKeyRing`] | `key_id`, `algorithm` (`ed25519` with `key_file`, PKCS#8 DER or PEM; `hmac_sha256` with `secret_file` or `secret_env`, and every holder of the secret can sign: prefer Ed25519) |
//! | `[exchange]` | [`TokenExchangeClient`] | `token_endpoint`, `client_id`, `client_auth`, `client_secret_file` or `client_secret_env`, `timeout_ms`, `max_answer_bytes`, `renew_before_seconds`, `refresh_ahead_seconds`, `max_entries` |
//! | `[[propagate.routes]]` | [`PropagateLayer`] | `destination`, `pattern` (`nothing`, `passthrough`, `unsigned_passport`, `signed_passport` and `forward_passport` with the `[passport_signing]` ring, `minted_jwt` with the `[mint]` cache, `exchanged` with the `[exchange]` client), `audience` (for `exchanged`: `audience` or `resources`, or both), `passport_lifetime_seconds` and `passport_header_limit_bytes` (passport routes), `in_internal_token_header` (`minted_jwt`), `resources`, `scopes`, `requested_token_type` (`exchanged`), `require_principal`; a key the route's pattern does not read is refused |
//!
//! What needs live objects (a clock, a revocation check for a verifier, HMAC key sets) is
//! added in code
//! to the builders the file gives; the `[revocation]` section is a description that
//! [`RevocationConfig::start`] turns into the running mirror. The `[exchange]` client is
//! built from the file alone, so a service whose exchanged tokens must follow a
//! revocation list builds that client in code. A section whose feature this build lacks
//! (`[mtls]`, `[revocation.redis]`) is refused by name, never ignored.
//!
//! ```
//! use tower_auth::config::{ConfigFileErrorKind, ServiceConfig};
//!
//! let config = ServiceConfig::from_toml("edge.toml", r#"
//! [[jwt.issuers]]
//! issuer = "https://id.example.com"
//! audiences = ["api"]
//! keys = "oidc_discovery"
//! leeway_seconds = 10
//! "#)?;
//! let verifier = config.jwt.expect("a [jwt] section").build()?;
//! assert_eq!(verifier.issuers().count(), 1);
//!
//! // Refused: a misspelt key, named with its place.
//! let error = ServiceConfig::from_toml("edge.toml", r#"
//! [[jwt.issuers]]
//! issuer = "https://id.example.com"
//! audience = ["api"]
//! keys = "oidc_discovery"
//! "#).unwrap_err();
//! assert_eq!(error.kind(), ConfigFileErrorKind::UnknownField);
//! assert_eq!((error.line(), error.field()), (Some(4), "jwt.issuers[0].audience"));
//! assert!(error.to_string().starts_with("edge.toml:4:1: jwt.issuers[0].audience: unknown field"));
//!
//! // Refused by the builder: a leeway above the cap.
//! let error = ServiceConfig::from_toml("edge.toml", r#"
//! [[jwt.issuers]]
//! issuer = "https://id.example.com"
//! audiences = ["api"]
//! keys = "oidc_discovery"
//! leeway_seconds = 3600
//! "#).unwrap_err();
//! assert_eq!(error.setting_reason(), Some("leeway_too_large"));
//! assert_eq!((error.line(), error.field()), (Some(6), "jwt.issuers[0].leeway_seconds"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod locate;
mod mtls;
mod require;
mod revocation;
mod sections;

use std::path::Path;
use std::sync::Arc;

use toml::de::DeTable;

pub use self::error::{ConfigFileError, ConfigFileErrorKind};
use self::locate::Document;
#[cfg(feature = "mtls")]
pub use self::mtls::{TlsMaterial, WorkloadTls, WorkloadTlsError};
pub use self::revocation::{RevocationConfig, RevocationSourceHandle, RevocationStartError};
pub use self::sections::WorkloadConfig;
use self::sections::{FileFormat, Refusal, RouteSources, SECRET_UNAVAILABLE};
use crate::exchange::TokenExchangeClient;
use crate::introspect::IntrospectionVerifierBuilder;
use crate::jwt::JwtVerifierBuilder;
use crate::mint::{InternalIssuer, MintCache};
use crate::passport::PassportHeaderVerifier;
use crate::propagate::{PropagateLayer, SharedKeyRing};
use crate::require::RouteRequirements;

/// The largest configuration file read, in bytes.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// A configuration file, loaded and checked: each section the file has, turned into what
/// the builders make. Add what only code can give (a clock, a revocation check) to the
/// builders, then build.
///
/// Routes use what other sections make: a signed passport route signs with the
/// `[passport_signing]` ring, an exchanged route calls the `[exchange]` client.
///
/// ```
/// use tower_auth::config::{ConfigFileErrorKind, ServiceConfig};
///
/// let dir = std::env::temp_dir().join(format!("baton-config-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("passport-secret"), "a shared secret of at least 32 bytes!")?;
/// std::fs::write(dir.join("sts-secret"), "edge-client-secret")?;
/// let path = dir.join("edge.toml");
/// let signing = r#"
/// [passport_signing]
/// key_id = "edge-1"
/// algorithm = "hmac_sha256"
/// secret_file = "passport-secret"
/// "#;
/// let routes = r#"
/// [exchange]
/// token_endpoint = "https://sts.example.com/token"
/// client_id = "edge"
/// client_secret_file = "sts-secret"
///
/// [[propagate.routes]]
/// destination = "orders.internal"
/// pattern = "signed_passport"
/// audience = "orders"
///
/// [[propagate.routes]]
/// destination = "billing.internal"
/// pattern = "exchanged"
/// audience = "billing"
/// scopes = ["billing:read"]
/// "#;
/// std::fs::write(&path, format!("{signing}{routes}"))?;
/// let config = ServiceConfig::load(&path)?;
/// let layer = config.propagate.expect("a [propagate] section");
/// let orders = layer.route_for(&"http://orders.internal/x".parse()?).expect("routed");
/// assert_eq!(orders.kind(), "signed_passport");
/// assert_eq!(config.passport_signing.expect("a ring").load().current_key_id().as_str(), "edge-1");
/// assert_eq!(config.exchange.expect("a client").endpoint(), "https://sts.example.com/token");
///
/// // Refused: a signed passport route without the key to sign with.
/// std::fs::write(&path, routes)?;
/// let error = ServiceConfig::load(&path).unwrap_err();
/// assert_eq!(error.kind(), ConfigFileErrorKind::Invalid);
/// assert_eq!(error.setting_reason(), Some("no_passport_signing_section"));
/// assert_eq!((error.line(), error.field()), (Some(9), "propagate.routes[0].pattern"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// `[jwt]`: the JWT verifier's builder, every issuer already checked.
    pub jwt: Option<JwtVerifierBuilder>,
    /// `[introspection]`: the introspection verifier's builder, client secret read.
    pub introspection: Option<IntrospectionVerifierBuilder>,
    /// `[passport]`: the `x-principal-bin` verifier.
    pub passport: Option<PassportHeaderVerifier>,
    /// `[workload]`: the trust domain and the admitted mTLS peers.
    pub workload: Option<WorkloadConfig>,
    /// `[mint]`: the internal issuer of pattern 2.
    pub mint: Option<InternalIssuer>,
    /// `[propagate]`: the client-side layer, one route per destination.
    pub propagate: Option<PropagateLayer>,
    /// `[mint.cache]`: the cache in front of the `[mint]` issuer that minted-JWT routes
    /// share; built when `[mint.cache]` is written or a route mints, `None` otherwise.
    pub mint_cache: Option<Arc<MintCache>>,
    /// `[passport_signing]`: the key ring `signed_passport` and `forward_passport` routes
    /// sign with (shared with them: `ring.store(..)` rotates it for every route).
    pub passport_signing: Option<SharedKeyRing>,
    /// `[exchange]`: the token exchange client `exchanged` routes use (cheap to clone).
    pub exchange: Option<TokenExchangeClient>,
    /// `[require]`: the route table of a [`RequireLayer`](crate::require::RequireLayer):
    /// `[[require.routes]]` with a `path` (and `prefix = true` for every path under it)
    /// and the keys of a rule, every one of which must hold; `any_of` / `all_of` (arrays
    /// of rules) and `not` (a rule) compose; `[require.otherwise]` is what every other
    /// path requires (without it, they are refused).
    ///
    /// ```
    /// use principal::{HumanId, Issuer, Principal, PrincipalId, ScopeSet, Timestamp};
    /// use tower_auth::config::ServiceConfig;
    /// use tower_auth::require::{Denial, RequireLayer};
    ///
    /// let config = ServiceConfig::from_toml("svc.toml", r#"
    /// [[require.routes]]
    /// path = "/documents/"
    /// prefix = true
    /// scopes = ["documents:read"]
    /// agents_on_behalf_of = ["human"]
    /// [require.routes.not]
    /// tenant = "sandbox"
    /// "#)?;
    /// let routes = config.require.expect("a [require] section");
    /// let issuer = Issuer::new("https://id.example.com")?;
    /// let alice = Principal::builder(PrincipalId::Human(HumanId::derive(&issuer, "alice")), issuer, "alice")
    ///     .scopes(ScopeSet::parse("profile")?)
    ///     .expires_at(Timestamp::from_unix_seconds(1_700_000_300))
    ///     .build()?;
    /// let requirement = routes.find("/documents/7").expect("a rule");
    /// assert_eq!(requirement.check(&alice, None), Err(Denial::MissingScope));
    /// assert!(routes.find("/elsewhere").is_none()); // refused: deny by default
    /// let layer = RequireLayer::routes(routes);
    /// # drop(layer);
    ///
    /// // Refused: a malformed scope, named with its line and place.
    /// let error = ServiceConfig::from_toml("svc.toml", r#"
    /// [[require.routes]]
    /// path = "/documents"
    /// scopes = ["documents read"]
    /// "#).unwrap_err();
    /// assert_eq!(error.setting_reason(), Some("malformed_scope"));
    /// assert_eq!((error.line(), error.field()), (Some(4), "require.routes[0].scopes[0]"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub require: Option<RouteRequirements>,
    /// `[revocation]`: the revocation mirror and its source, to start at runtime.
    pub revocation: Option<RevocationConfig>,
    /// `[mtls]`: this workload's mutual-TLS material (feature `mtls`).
    #[cfg(feature = "mtls")]
    pub mtls: Option<WorkloadTls>,
}

impl ServiceConfig {
    /// Reads and checks the file at `path` (at most [`MAX_CONFIG_BYTES`]). Relative paths
    /// in it (`*_file`) are read from the file's directory.
    ///
    /// ```
    /// use tower_auth::config::{ConfigFileErrorKind, ServiceConfig};
    ///
    /// let error = ServiceConfig::load("/nonexistent/baton.toml").unwrap_err();
    /// assert_eq!(error.kind(), ConfigFileErrorKind::Read);
    /// assert_eq!(error.line(), None);
    /// ```
    ///
    /// # Errors
    /// [`ConfigFileError`], naming the file, the line, the column and the field.
    pub fn load(path: impl AsRef<Path>) -> Result<ServiceConfig, ConfigFileError> {
        let path = path.as_ref();
        let read_error = |message: String| {
            ConfigFileError::new(
                path,
                None,
                String::new(),
                ConfigFileErrorKind::Read,
                message,
            )
        };
        let size = std::fs::metadata(path)
            .map_err(|error| read_error(error.to_string()))?
            .len();
        if size > MAX_CONFIG_BYTES {
            return Err(read_error(format!(
                "{size} bytes is above the limit of {MAX_CONFIG_BYTES}"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|error| read_error(error.to_string()))?;
        Self::from_toml(path, &text)
    }

    /// Checks `text` as the content of the file `path` (used in messages, and as the base
    /// of relative `*_file` paths).
    ///
    /// ```
    /// use tower_auth::config::{ConfigFileErrorKind, ServiceConfig};
    ///
    /// let config = ServiceConfig::from_toml("w.toml", r#"
    /// [workload]
    /// trust_domain = "prod.example"
    /// allowed_peers = ["spiffe://prod.example/edge"]
    /// "#)?;
    /// assert!(config.workload.is_some() && config.jwt.is_none());
    ///
    /// // Refused: a wrong type, the value not echoed.
    /// let error = ServiceConfig::from_toml("w.toml", "[workload]\ntrust_domain = 7\n").unwrap_err();
    /// assert_eq!(error.kind(), ConfigFileErrorKind::WrongType);
    /// assert_eq!((error.line(), error.column(), error.field()), (Some(2), Some(16), "workload.trust_domain"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`load`](Self::load), without the read.
    pub fn from_toml(path: impl AsRef<Path>, text: &str) -> Result<ServiceConfig, ConfigFileError> {
        let path = path.as_ref();
        let root = match DeTable::parse(text) {
            Ok(root) => root,
            Err(error) => {
                let document = Document::new(text, None);
                let location = document.line_column(error.span().map_or(0, |span| span.start));
                return Err(ConfigFileError::new(
                    path,
                    Some(location),
                    String::new(),
                    ConfigFileErrorKind::Syntax,
                    error.message().to_owned(),
                ));
            }
        };
        let document = Document::new(text, Some(root));
        let format: FileFormat =
            toml::from_str(text).map_err(|error| format_error(path, &document, &error))?;
        let base = path.parent().unwrap_or(Path::new(""));
        let refused = |refusal: Refusal| refusal_error(path, &document, refusal);
        // Without the `mtls` feature a `[mtls]` section is refused here, by name.
        #[cfg_attr(not(feature = "mtls"), allow(unused_variables))]
        let mtls = format
            .mtls
            .as_ref()
            .map(|section| mtls::mtls(section, base))
            .transpose()
            .map_err(refused)?;
        let mint = format
            .mint
            .as_ref()
            .map(|section| sections::mint(section, base))
            .transpose()
            .map_err(refused)?;
        let mint_cache = match (&format.mint, &mint) {
            (Some(section), Some(issuer)) => {
                let needed = format.propagate.as_ref().is_some_and(|p| p.mints());
                sections::mint_cache(section, issuer, needed).map_err(refused)?
            }
            _ => None,
        };
        let passport_signing = format
            .passport_signing
            .as_ref()
            .map(|section| sections::passport_signing(section, base))
            .transpose()
            .map_err(refused)?;
        let exchange = format
            .exchange
            .as_ref()
            .map(|section| sections::exchange(section, base))
            .transpose()
            .map_err(refused)?;
        let sources = RouteSources {
            mint_cache: mint_cache.as_ref(),
            passport_signing: passport_signing.as_ref(),
            exchange: exchange.as_ref(),
        };
        Ok(ServiceConfig {
            jwt: format
                .jwt
                .as_ref()
                .map(|section| sections::jwt(section, base))
                .transpose()
                .map_err(refused)?,
            introspection: format
                .introspection
                .as_ref()
                .map(|section| sections::introspection(section, base))
                .transpose()
                .map_err(refused)?,
            passport: format
                .passport
                .as_ref()
                .map(|section| sections::passport(section, base))
                .transpose()
                .map_err(refused)?,
            workload: format
                .workload
                .as_ref()
                .map(sections::workload)
                .transpose()
                .map_err(refused)?,
            propagate: format
                .propagate
                .as_ref()
                .map(|section| sections::propagate(section, &sources))
                .transpose()
                .map_err(refused)?,
            mint,
            mint_cache,
            passport_signing,
            exchange,
            require: format
                .require
                .as_ref()
                .map(require::require)
                .transpose()
                .map_err(refused)?,
            revocation: format
                .revocation
                .as_ref()
                .map(|section| revocation::revocation(section, base))
                .transpose()
                .map_err(refused)?,
            #[cfg(feature = "mtls")]
            mtls,
        })
    }
}

/// A serde error from the toml crate, placed and classified. Values are not echoed: a
/// secret put in the wrong key stays out of the message.
fn format_error(path: &Path, document: &Document<'_>, error: &toml::de::Error) -> ConfigFileError {
    let offset = error.span().map_or(0, |span| span.start);
    let message = error.message();
    let mut field = document.path_at(offset);
    let (kind, message) = if message.starts_with("unknown field") {
        (ConfigFileErrorKind::UnknownField, message.to_owned())
    } else if let Some(missing) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        field = field.key(missing);
        (ConfigFileErrorKind::MissingField, message.to_owned())
    } else if let Some(rest) = message.strip_prefix("invalid type: ") {
        // "invalid type: string \"…\", expected u64": keep the types, drop the value.
        let found = rest.split([' ', ',']).next().unwrap_or("value");
        let expected = rest.rsplit_once("expected ").map_or("", |(_, e)| e);
        (
            ConfigFileErrorKind::WrongType,
            format!("wrong type: expected {expected}, found {found}"),
        )
    } else if let Some((what, expected)) = ["unknown variant ", "invalid value: "]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix).map(|rest| (*prefix, rest)))
        .and_then(|(prefix, rest)| rest.split_once(", expected ").map(|(_, e)| (prefix, e)))
    {
        // "unknown variant `hunter2`, expected one of …": the value may be a secret in the
        // wrong key; keep what was expected only.
        (
            ConfigFileErrorKind::Format,
            format!("{}, expected {expected}", what.trim_end_matches([' ', ':'])),
        )
    } else {
        (ConfigFileErrorKind::Format, message.to_owned())
    };
    ConfigFileError::new(
        path,
        Some(document.line_column(offset)),
        field.to_string(),
        kind,
        message,
    )
}

fn refusal_error(path: &Path, document: &Document<'_>, refusal: Refusal) -> ConfigFileError {
    let Refusal {
        field,
        reason,
        message,
    } = refusal;
    let kind = if reason == SECRET_UNAVAILABLE {
        ConfigFileErrorKind::SecretUnavailable
    } else {
        ConfigFileErrorKind::Invalid
    };
    let offset = document.offset_of(&field);
    ConfigFileError::new(
        path,
        Some(document.line_column(offset)),
        field.to_string(),
        kind,
        message,
    )
    .with_setting_reason(reason)
}
