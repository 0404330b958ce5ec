//! The deserializable form of an introspection verifier's configuration (DESIGN §4): the
//! same settings as the builder, read from a file, checked by the same code.

use std::collections::BTreeMap;
use std::time::Duration;

use principal::{Audience, Issuer};
use serde::Deserialize;

use super::cache::IntrospectionCacheConfig;
use super::config::IntrospectionConfigError;
use super::verifier::{IntrospectionVerifier, IntrospectionVerifierBuilder};
use crate::client_auth::ClientAuth;
use crate::jwks::echo;
use crate::jwt::MappingPreset;

/// An introspection verifier's settings, as read from a configuration file.
///
/// The client's secret is not among them: like HMAC secrets for JWTs, it does not belong
/// in a file read as plain configuration. It is given in code, as the [`ClientAuth`]
/// passed to [`builder`](Self::builder) (read from a secret file or the environment).
///
/// ```
/// use tower_auth::introspect::{ClientAuth, IntrospectionSettings};
///
/// let settings: IntrospectionSettings = serde_json::from_str(r#"{
///     "endpoint": "https://as.example/oauth2/introspect",
///     "issuer": "https://as.example",
///     "audiences": ["orders-api"],
///     "timeout_ms": 1500,
///     "claim_mapping": "keycloak",
///     "cache": {"max_ttl_seconds": 30, "negative_ttl_seconds": 2}
/// }"#)?;
/// let secret = "s3cret"; // from a secret file or the environment
/// let auth = ClientAuth::client_secret_basic("orders-api", secret)?;
/// let verifier = settings.builder(auth)?.build()?;
/// assert_eq!(verifier.cache().capacity(), 10_000);
///
/// // Rejected: a negative cache of ten minutes.
/// let settings: IntrospectionSettings = serde_json::from_str(r#"{
///     "endpoint": "https://as.example/oauth2/introspect", "issuer": "https://as.example",
///     "audiences": ["orders-api"], "cache": {"negative_ttl_seconds": 600}
/// }"#)?;
/// let auth = ClientAuth::client_secret_basic("orders-api", secret)?;
/// assert_eq!(settings.builder(auth).unwrap_err().reason(), "out_of_range");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct IntrospectionSettings {
    /// The introspection endpoint (`https`, or `http` on loopback).
    pub endpoint: String,
    /// The authorization server (`iss` of its tokens), exactly.
    pub issuer: String,
    /// The accepted audiences.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Accept any audience (see
    /// [`insecure_skip_audience_check`](IntrospectionVerifierBuilder::insecure_skip_audience_check)).
    #[serde(default)]
    pub insecure_skip_audience_check: bool,
    /// The request timeout in milliseconds (default 2000, at most 30000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The clock leeway in seconds (default 30, at most 300).
    #[serde(default)]
    pub leeway_seconds: Option<u64>,
    /// The largest token sent, in bytes (default 8 KiB).
    #[serde(default)]
    pub max_token_bytes: Option<usize>,
    /// Also introspect JWT-shaped tokens (see
    /// [`introspect_jwts`](IntrospectionVerifierBuilder::introspect_jwts)).
    #[serde(default)]
    pub introspect_jwts: bool,
    /// The claim mapping preset, as for a JWT issuer.
    #[serde(default)]
    pub claim_mapping: MappingPreset,
    /// Client ids mapped to named services, as for a JWT issuer.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    /// Issuers, besides this one, whose `act.iss` is honoured, as for a JWT issuer.
    #[serde(default)]
    pub actor_issuers: Vec<String>,
    /// The cache's bounds (absent fields take their defaults).
    #[serde(default)]
    pub cache: CacheSettings,
}

/// The cache's bounds; see [`IntrospectionCacheConfig`] for their meaning and limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheSettings {
    /// The most answers held; `0` disables caching (default 10,000).
    pub max_entries: Option<usize>,
    /// The longest an `active` answer serves, in seconds (default 60).
    pub max_ttl_seconds: Option<u64>,
    /// How long an `active: false` answer serves, in seconds (default 5; `0`: none).
    pub negative_ttl_seconds: Option<u64>,
}

impl IntrospectionSettings {
    /// A verifier builder with these settings, authenticating as `auth`; add a clock and
    /// a revocation check, then build. Values are checked as the builder checks them.
    pub fn builder(
        &self,
        auth: ClientAuth,
    ) -> Result<IntrospectionVerifierBuilder, IntrospectionConfigError> {
        let issuer =
            Issuer::new(self.issuer.as_str()).map_err(|_| invalid("issuer", &self.issuer))?;
        let mut builder = IntrospectionVerifier::builder(&self.endpoint, issuer, auth);
        for audience in &self.audiences {
            builder = builder.audience(
                Audience::new(audience.as_str()).map_err(|_| invalid("audiences", audience))?,
            );
        }
        if self.insecure_skip_audience_check {
            builder = builder.insecure_skip_audience_check();
        }
        if let Some(ms) = self.timeout_ms {
            builder = builder.timeout(Duration::from_millis(ms));
        }
        if let Some(seconds) = self.leeway_seconds {
            builder = builder.leeway(Duration::from_secs(seconds));
        }
        if let Some(max) = self.max_token_bytes {
            builder = builder.max_token_bytes(max);
        }
        if self.introspect_jwts {
            builder = builder.introspect_jwts();
        }
        let mapping = crate::jwt::claim_mapping(
            self.claim_mapping,
            &self.services,
            &self.actor_issuers,
            false,
        )
        .map_err(|(field, value)| invalid(field, value))?;
        builder = builder.claim_mapping(mapping);
        let mut cache = IntrospectionCacheConfig::default();
        if let Some(max_entries) = self.cache.max_entries {
            cache = cache.with_max_entries(max_entries);
        }
        if let Some(seconds) = self.cache.max_ttl_seconds {
            cache = cache.with_max_ttl(Duration::from_secs(seconds));
        }
        if let Some(seconds) = self.cache.negative_ttl_seconds {
            cache = cache.with_negative_ttl(Duration::from_secs(seconds));
        }
        // The cache's bounds are checked now, not only when the builder builds.
        super::cache::IntrospectionCache::new(cache)?;
        Ok(builder.cache(cache))
    }
}

fn invalid(field: &'static str, value: &str) -> IntrospectionConfigError {
    IntrospectionConfigError::InvalidSetting {
        field,
        value: echo(value),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings(json: &str) -> IntrospectionSettings {
        serde_json::from_str(json).unwrap()
    }

    fn auth() -> ClientAuth {
        ClientAuth::client_secret_post("api", "s3cret").unwrap()
    }

    #[test]
    fn every_setting_reaches_the_builder() {
        let verifier = settings(
            r#"{"endpoint": "http://127.0.0.1:9/introspect", "issuer": "https://as.example",
                "insecure_skip_audience_check": true, "timeout_ms": 100, "leeway_seconds": 0,
                "max_token_bytes": 64, "introspect_jwts": true, "claim_mapping": "baton",
                "services": {"gw": "svc-gateway"}, "actor_issuers": ["https://other.example"],
                "cache": {"max_entries": 7, "max_ttl_seconds": 9, "negative_ttl_seconds": 0}}"#,
        )
        .builder(auth())
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(verifier.cache().capacity(), 7);
        assert_eq!(verifier.endpoint(), "http://127.0.0.1:9/introspect");
        let debug = format!("{verifier:?}");
        assert!(debug.contains("introspect_jwts: true"), "{debug}");
    }

    #[test]
    fn bad_values_name_their_field() {
        let base = |extra: &str| {
            settings(&format!(
                r#"{{"endpoint": "https://as.example/i", "issuer": "https://as.example",
                     "audiences": ["api"]{extra}}}"#
            ))
        };
        for (extra, reason) in [
            (r#", "timeout_ms": 0"#, "out_of_range"),
            (r#", "timeout_ms": 60000"#, "out_of_range"),
            (r#", "leeway_seconds": 3600"#, "out_of_range"),
            (r#", "cache": {"max_ttl_seconds": 0}"#, "out_of_range"),
            (r#", "services": {"gw": "gateway"}"#, "invalid_setting"),
            (r#", "actor_issuers": [""]"#, "invalid_setting"),
        ] {
            let err = base(extra).builder(auth()).and_then(|b| b.build());
            assert_eq!(err.unwrap_err().reason(), reason, "{extra}");
        }
        let no_audience =
            settings(r#"{"endpoint": "https://as.example/i", "issuer": "https://as.example"}"#);
        assert_eq!(
            no_audience
                .builder(auth())
                .unwrap()
                .build()
                .unwrap_err()
                .reason(),
            "no_audiences"
        );
        let bad_issuer = settings(r#"{"endpoint": "https://as.example/i", "issuer": ""}"#);
        assert!(matches!(
            bad_issuer.builder(auth()).unwrap_err(),
            IntrospectionConfigError::InvalidSetting {
                field: "issuer",
                ..
            }
        ));
        // Unknown fields, a secret among them, are refused.
        assert!(
            serde_json::from_str::<IntrospectionSettings>(
                r#"{"endpoint": "https://as.example/i", "issuer": "https://as.example",
                    "client_secret": "s3cret"}"#
            )
            .is_err()
        );
    }
}
