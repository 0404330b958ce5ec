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
//! | `[jwt]` (internal JWTs) | [`JwtVerifierBuilder`] | `pattern = "internal_jwt"` (default `"jwt_passthrough"`); per issuer `minted_by` (`svc-…`, the minting service, reported as the caller) and `keys = { jwks_file = "…" }` (a static JWKS file, relative to this file) |
//! | `[introspection]` | [`IntrospectionVerifierBuilder`] | the keys of [`IntrospectionSettings`](crate::introspect::IntrospectionSettings) (`endpoint`, `issuer`, `audiences`, `timeout_ms`, `leeway_seconds`, `max_token_bytes`, `introspect_jwts`, `claim_mapping`, `services`, `actor_issuers`, `[introspection.cache]`), and `client_id`, `client_auth` (`client_secret_basic` or `client_secret_post`), `client_secret_file` or `client_secret_env` |
//! | `[passport]`, `[[passport.keys]]` | [`PassportHeaderVerifier`] | `audience`, `leeway_seconds`, `max_lifetime_seconds`, `max_bytes`, `max_delegation_depth`, `unsigned_from` (SPIFFE IDs); each key: `key_id`, `signer`, `algorithm` (`ed25519` with `public_key`, base64; `hmac_sha256` with `secret_file` or `secret_env`) |
//! | `[workload]` | [`WorkloadConfig`] | `trust_domain`, `allowed_peers` (SPIFFE IDs) |
//! | `[mint]` | [`InternalIssuer`] | `issuer`, `algorithm` (`ES256` or `EdDSA`), `key_file` (PKCS#8 DER) or `generate_key = true`, `kid`, `lifetime_seconds`, `leeway_seconds`, `max_delegation_depth`, `jwks_max_age_seconds` |
//! | `[[propagate.routes]]` | [`PropagateLayer`] | `destination`, `pattern` (`nothing`, `passthrough`, `unsigned_passport`, `minted_jwt` with the `[mint]` issuer), `audience`, `passport_lifetime_seconds`, `in_internal_token_header`, `require_principal` |
//!
//! What needs live objects (a revocation check, a clock, HMAC key sets, a signed passport
//! key ring for propagation, a token exchange client) is added in code to the builders
//! the file gives.
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
mod sections;

use std::path::Path;

use toml::de::DeTable;

pub use self::error::{ConfigFileError, ConfigFileErrorKind};
use self::locate::Document;
pub use self::sections::WorkloadConfig;
use self::sections::{FileFormat, Refusal, SECRET_UNAVAILABLE};
use crate::introspect::IntrospectionVerifierBuilder;
use crate::jwt::JwtVerifierBuilder;
use crate::mint::InternalIssuer;
use crate::passport::PassportHeaderVerifier;
use crate::propagate::PropagateLayer;

/// The largest configuration file read, in bytes.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// A configuration file, loaded and checked: each section the file has, turned into what
/// the builders make. Add what only code can give (a clock, a revocation check) to the
/// builders, then build.
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
        let mint = format
            .mint
            .as_ref()
            .map(|section| sections::mint(section, base))
            .transpose()
            .map_err(refused)?;
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
                .map(|section| sections::propagate(section, mint.as_ref()))
                .transpose()
                .map_err(refused)?,
            mint,
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
