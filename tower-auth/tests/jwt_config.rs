//! Configuring the JWT verifier: defaults, every refused setting with its typed error,
//! the deserializable form, and what `Debug` shows.

mod support;

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use principal::Audience;
use serde_json::json;
use support::jwt::{
    AUD, HMAC_SECRET, ISSUER_A, ISSUER_B, KEYS, audience, claims, claims_with, issuer, key_set,
};
use support::test_clock;
use tower_auth::jwks::{JwksConfigError, KeySet, SymmetricKey};
use tower_auth::jwt::{
    ConfigError, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES, IssuerConfig, IssuerConfigBuilder,
    JwtVerifier, JwtVerifierSettings, MAX_LEEWAY,
};
use tower_auth::{AuthError, Pattern};

fn base() -> IssuerConfigBuilder {
    IssuerConfig::builder(issuer(ISSUER_A))
        .audience(audience())
        .static_keys(key_set(&[&KEYS.rsa, &KEYS.ec, &KEYS.ed]))
}

fn secret(kid: &str, algorithm: Algorithm, len: usize) -> SymmetricKey {
    SymmetricKey::new(Some(kid), algorithm, vec![0x42; len]).expect("secret")
}

fn verifier_of(config: IssuerConfig) -> JwtVerifier {
    JwtVerifier::builder()
        .issuer(config)
        .clock(Arc::new(test_clock()))
        .build()
        .expect("verifier")
}

#[test]
fn defaults_are_the_documented_ones() {
    let config = base().build().expect("config");
    assert_eq!(config.leeway(), DEFAULT_LEEWAY);
    assert_eq!(config.leeway(), Duration::from_secs(30));
    assert_eq!(config.max_token_bytes(), DEFAULT_MAX_TOKEN_BYTES);
    assert_eq!(config.algorithms().len(), 9);
    assert!(
        config
            .algorithms()
            .iter()
            .all(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
    );
    assert_eq!(config.required_typ(), None);
    assert!(config.required_claims().is_empty() && config.required_scopes().is_empty());
    assert!(!config.skips_audience_check());
    assert!(config.key_source().key_cache().is_some());

    let hmac = IssuerConfig::builder(issuer(ISSUER_A))
        .audience(audience())
        .hmac_secrets([
            secret("a", Algorithm::HS256, 32),
            secret("b", Algorithm::HS512, 64),
        ])
        .build()
        .expect("hmac config");
    assert_eq!(hmac.algorithms(), &[Algorithm::HS256, Algorithm::HS512]);

    let fetched = IssuerConfig::builder(issuer(ISSUER_A))
        .audience(audience())
        .oidc_discovery()
        .build()
        .expect("fetched");
    assert!(fetched.key_source().fetched_from().is_some());
    assert!(
        fetched
            .key_source()
            .key_set_policy()
            .is_some_and(|p| !p.allows(Algorithm::HS256))
    );
}

#[test]
fn no_issuers() {
    assert_eq!(
        JwtVerifier::builder().build().expect_err("refused"),
        ConfigError::NoIssuers
    );
}

#[test]
fn duplicate_issuer() {
    let err = JwtVerifier::builder()
        .issuer(base().build().expect("config"))
        .issuer(base().build().expect("config"))
        .build()
        .expect_err("refused");
    assert!(matches!(&err, ConfigError::DuplicateIssuer { issuer } if issuer == ISSUER_A));
}

#[test]
fn no_audiences_unless_explicitly_skipped() {
    let err = IssuerConfig::builder(issuer(ISSUER_A))
        .static_keys(key_set(&[&KEYS.ec]))
        .build()
        .expect_err("refused");
    assert_eq!(err.reason(), "no_audiences");
    assert!(matches!(err, ConfigError::NoAudiences { .. }));

    let skipping = IssuerConfig::builder(issuer(ISSUER_A))
        .static_keys(key_set(&[&KEYS.ec]))
        .insecure_skip_audience_check()
        .build()
        .expect("explicitly skipped");
    let verifier = verifier_of(skipping);
    let token = KEYS.ec.token(&claims_with(ISSUER_A, json!({"aud": null})));
    assert!(verifier.verify_sync(&token).is_ok());
    let token = KEYS
        .ec
        .token(&claims_with(ISSUER_A, json!({"aud": "anything"})));
    assert!(verifier.verify_sync(&token).is_ok());
}

#[test]
fn no_key_source() {
    let err = IssuerConfig::builder(issuer(ISSUER_A))
        .audience(audience())
        .build()
        .expect_err("refused");
    assert!(matches!(err, ConfigError::NoKeySource { .. }));
}

#[test]
fn leeway_is_capped() {
    assert!(base().leeway(MAX_LEEWAY).build().is_ok());
    let err = base()
        .leeway(MAX_LEEWAY + Duration::from_secs(1))
        .build()
        .expect_err("refused");
    assert!(matches!(
        err,
        ConfigError::LeewayTooLarge {
            requested_seconds: 301,
            max_seconds: 300,
            ..
        }
    ));
}

#[test]
fn max_token_bytes_is_bounded() {
    for bad in [0, 64 * 1024 + 1] {
        let err = base().max_token_bytes(bad).build().expect_err("refused");
        assert!(matches!(err, ConfigError::MaxTokenBytes { requested, .. } if requested == bad));
    }
}

#[test]
fn each_issuer_has_its_own_size_bound() {
    let small = IssuerConfig::builder(issuer("https://small.example"))
        .audience(audience())
        .static_keys(key_set(&[&KEYS.ec]))
        .max_token_bytes(600)
        .build()
        .expect("small");
    let verifier = JwtVerifier::builder()
        .issuer(base().build().expect("a"))
        .issuer(small)
        .clock(Arc::new(test_clock()))
        .build()
        .expect("verifier");
    let padding = "p".repeat(400);
    let big_claims = |iss: &str| claims_with(iss, json!({ "padding": padding }));
    assert!(
        verifier
            .verify_sync(&KEYS.ec.token(&big_claims(ISSUER_A)))
            .is_ok()
    );
    assert!(matches!(
        verifier.verify_sync(&KEYS.ec.token(&big_claims("https://small.example"))),
        Err(AuthError::TokenTooLarge { max: 600, .. })
    ));
}

#[test]
fn no_algorithms() {
    let err = base().algorithms([]).build().expect_err("refused");
    assert!(matches!(err, ConfigError::NoAlgorithms { .. }));
}

#[test]
fn mixed_algorithm_families() {
    let err = base()
        .algorithms([Algorithm::ES256, Algorithm::HS256])
        .build()
        .expect_err("refused");
    assert!(matches!(err, ConfigError::MixedAlgorithmFamilies { .. }));
}

#[test]
fn hmac_without_secrets() {
    let err = IssuerConfig::builder(issuer(ISSUER_A))
        .audience(audience())
        .oidc_discovery()
        .algorithms([Algorithm::HS256])
        .build()
        .expect_err("refused");
    assert!(matches!(
        err,
        ConfigError::HmacWithoutSecrets {
            algorithm: Algorithm::HS256,
            ..
        }
    ));
}

#[test]
fn asymmetric_with_secrets() {
    let err = IssuerConfig::builder(issuer(ISSUER_A))
        .audience(audience())
        .hmac_secrets([secret("hs", Algorithm::HS256, 32)])
        .algorithms([Algorithm::RS256])
        .build()
        .expect_err("refused");
    assert!(matches!(
        err,
        ConfigError::AsymmetricWithSecrets {
            algorithm: Algorithm::RS256,
            ..
        }
    ));
}

#[test]
fn a_configured_key_of_a_disallowed_algorithm() {
    let err = base()
        .algorithms([Algorithm::ES256, Algorithm::EdDSA])
        .build()
        .expect_err("refused");
    assert!(matches!(
        err,
        ConfigError::KeyAlgorithmNotAllowed { algorithm: Algorithm::RS256, kid: Some(kid), .. }
            if kid == "rsa-1"
    ));
    let err = IssuerConfig::builder(issuer(ISSUER_A))
        .audience(audience())
        .hmac_secrets([
            secret("a", Algorithm::HS256, 32),
            secret("b", Algorithm::HS384, 48),
        ])
        .algorithms([Algorithm::HS256])
        .build()
        .expect_err("refused");
    assert!(matches!(
        err,
        ConfigError::KeyAlgorithmNotAllowed {
            algorithm: Algorithm::HS384,
            ..
        }
    ));
}

#[test]
fn hmac_key_in_a_static_set() {
    let set = KeySet::from_symmetric_keys([secret("hs", Algorithm::HS256, 32)]).expect("set");
    let err = IssuerConfig::builder(issuer(ISSUER_A))
        .audience(audience())
        .static_keys(set)
        .build()
        .expect_err("refused");
    assert!(matches!(err, ConfigError::HmacKeyInStaticSet { kid: Some(kid), .. } if kid == "hs"));
}

#[test]
fn invalid_secrets_and_urls_are_key_errors() {
    let err = IssuerConfig::builder(issuer(ISSUER_A))
        .audience(audience())
        .hmac_secrets([
            secret("dup", Algorithm::HS256, 32),
            secret("dup", Algorithm::HS256, 32),
        ])
        .build()
        .expect_err("refused");
    assert!(matches!(err, ConfigError::Keys { .. }));
    assert_eq!(err.reason(), "duplicate_kid");

    let err = base()
        .jwks_url("http://idp.example.com/jwks.json")
        .build()
        .expect_err("refused");
    assert_eq!(err.reason(), "insecure_scheme");
    let err = IssuerConfig::builder(issuer("http://idp.example.com"))
        .audience(audience())
        .oidc_discovery()
        .build()
        .expect_err("refused");
    assert!(matches!(err, ConfigError::Keys { .. }));
}

#[test]
fn an_http_issuer_is_refused_even_with_an_https_jwks_url() {
    let with_jwks_url = |iss: &str| {
        IssuerConfig::builder(issuer(iss))
            .audience(audience())
            .jwks_url("https://idp.example.com/jwks.json")
            .build()
    };
    let err = with_jwks_url("http://idp.example.com").expect_err("refused");
    assert_eq!(
        err,
        ConfigError::Keys {
            issuer: "http://idp.example.com".into(),
            source: JwksConfigError::InsecureScheme {
                field: "issuer",
                url: "http://idp.example.com/".into(),
            },
        }
    );
    assert_eq!(err.reason(), "insecure_scheme");
    assert_eq!(
        with_jwks_url("HTTP://10.0.0.7/realms/a")
            .expect_err("refused")
            .reason(),
        "insecure_scheme"
    );
    assert_eq!(
        with_jwks_url("https://user:pw@idp.example.com")
            .expect_err("refused")
            .reason(),
        "url_has_credentials"
    );
    // Accepted: https anywhere, http on loopback, and a bare name (a label, not a place).
    for ok in [
        "https://idp.example.com",
        "http://127.0.0.1:8080",
        "http://localhost/realms/dev",
        "kubernetes/serviceaccount",
    ] {
        assert!(with_jwks_url(ok).is_ok(), "{ok}");
    }
}

#[test]
fn invalid_typ() {
    for typ in ["", "at jwt", "at+jwt\n", &"t".repeat(65)] {
        let err = base().require_typ(typ).build().expect_err("refused");
        assert!(matches!(err, ConfigError::InvalidTyp { .. }), "{typ:?}");
    }
}

#[test]
fn invalid_required_claims() {
    let err = base().required_claim("").build().expect_err("refused");
    assert!(matches!(
        err,
        ConfigError::InvalidRequiredClaim {
            why: "an empty name",
            ..
        }
    ));
    let err = base()
        .required_claim(&"c".repeat(129))
        .build()
        .expect_err("refused");
    assert!(matches!(err, ConfigError::InvalidRequiredClaim { .. }));
    let mut too_many = base();
    for i in 0..33 {
        too_many = too_many.required_claim(&format!("claim-{i}"));
    }
    assert!(matches!(
        too_many.build().expect_err("refused"),
        ConfigError::InvalidRequiredClaim {
            why: "too many names",
            ..
        }
    ));
}

#[test]
fn a_required_custom_claim_is_named_when_missing() {
    let verifier = verifier_of(base().required_claim("tenant").build().expect("config"));
    let error = verifier
        .verify_sync(&KEYS.ec.token(&claims(ISSUER_A)))
        .expect_err("refused");
    assert!(matches!(error, AuthError::MissingClaim { claim } if claim == "tenant"));
    let token = KEYS
        .ec
        .token(&claims_with(ISSUER_A, json!({"tenant": "acme"})));
    assert!(verifier.verify_sync(&token).is_ok());
}

#[test]
fn unsupported_pattern() {
    let err = JwtVerifier::builder()
        .issuer(base().build().expect("config"))
        .pattern(Pattern::Passport)
        .build()
        .expect_err("refused");
    assert!(matches!(
        err,
        ConfigError::UnsupportedPattern {
            pattern: Pattern::Passport
        }
    ));
}

#[test]
fn settings_build_the_same_configuration_as_the_builders() {
    let settings: JwtVerifierSettings = serde_json::from_value(json!({
        "issuers": [{
            "issuer": ISSUER_A,
            "audiences": [AUD, "other"],
            "keys": {"jwks_url": "https://a.example/jwks.json"},
            "algorithms": ["ES256", "EdDSA"],
            "leeway_seconds": 5,
            "require_typ": "at+jwt",
            "required_claims": ["jti"],
            "required_scopes": ["orders:read"],
            "max_token_bytes": 4096,
            "claim_mapping": "keycloak"
        }],
        "token_cache": {"max_entries": 0}
    }))
    .expect("settings");
    let verifier = settings
        .builder()
        .expect("builder")
        .build()
        .expect("verifier");
    let config = verifier.issuers().next().expect("issuer");
    assert_eq!(config.audiences().len(), 2);
    assert_eq!(config.algorithms(), &[Algorithm::ES256, Algorithm::EdDSA]);
    assert_eq!(config.leeway(), Duration::from_secs(5));
    assert_eq!(config.required_typ(), Some("at+jwt"));
    assert_eq!(config.required_claims(), &[Box::<str>::from("jti")]);
    assert!(config.required_scopes().contains("orders:read"));
    assert_eq!(config.max_token_bytes(), 4096);
    assert_eq!(config.claim_mapping(), &principal::ClaimMapping::keycloak());
    assert_eq!(verifier.token_cache().capacity(), 0);
}

#[test]
fn settings_mapping_presets_default_to_the_safe_one() {
    let mapping_of = |preset: Option<&str>| {
        let mut issuer = json!({"issuer": ISSUER_A, "audiences": [AUD], "keys": "oidc_discovery"});
        if let Some(preset) = preset {
            issuer["claim_mapping"] = json!(preset);
        }
        let settings: JwtVerifierSettings =
            serde_json::from_value(json!({ "issuers": [issuer] })).expect("settings");
        let verifier = settings
            .builder()
            .expect("builder")
            .build()
            .expect("verifier");
        verifier
            .issuers()
            .next()
            .expect("issuer")
            .claim_mapping()
            .clone()
    };
    // No preset: generic, which trusts no Baton-internal claim.
    assert_eq!(mapping_of(None), principal::ClaimMapping::generic());
    assert_eq!(
        mapping_of(Some("generic")),
        principal::ClaimMapping::generic()
    );
    // The Baton preset only when asked for by name.
    assert_eq!(mapping_of(Some("baton")), principal::ClaimMapping::baton());
    assert_ne!(mapping_of(None), principal::ClaimMapping::baton());
}

#[test]
fn settings_carry_the_per_issuer_identity_options() {
    let settings: JwtVerifierSettings = serde_json::from_value(json!({"issuers": [{
        "issuer": ISSUER_A, "audiences": [AUD], "keys": "oidc_discovery",
        "services": {"Gateway App": "svc-gateway"},
        "actor_issuers": [ISSUER_B],
        "insecure_allow_missing_sub": true,
    }]}))
    .expect("settings");
    let verifier = settings
        .builder()
        .expect("builder")
        .build()
        .expect("verifier");
    let mapping = verifier
        .issuers()
        .next()
        .expect("issuer")
        .claim_mapping()
        .clone();
    let expected = principal::ClaimMapping::generic()
        .with_service(
            "Gateway App",
            principal::ServiceId::new("gateway").expect("slug"),
        )
        .with_actor_issuer(issuer(ISSUER_B))
        .insecure_allow_missing_sub();
    assert_eq!(mapping, expected);
    assert_ne!(mapping, principal::ClaimMapping::generic());
}

#[test]
fn settings_refuse_invalid_values() {
    let issuer_with = |changes: serde_json::Value| {
        let mut issuer = json!({"issuer": ISSUER_A, "audiences": [AUD], "keys": "oidc_discovery"});
        for (k, v) in changes.as_object().expect("object") {
            issuer[k] = v.clone();
        }
        serde_json::from_value::<JwtVerifierSettings>(json!({ "issuers": [issuer] }))
    };
    for (changes, field) in [
        (json!({"issuer": ""}), "issuer"),
        (json!({"audiences": ["two words"]}), "audiences"),
        (json!({"algorithms": ["none"]}), "algorithms"),
        (json!({"required_scopes": [""]}), "required_scopes"),
        (json!({"services": {"gateway": "gateway"}}), "services"),
        (json!({"services": {"gateway": "svc-Gateway"}}), "services"),
        (json!({"actor_issuers": [" "]}), "actor_issuers"),
    ] {
        let err = issuer_with(changes)
            .expect("parses")
            .builder()
            .expect_err("refused");
        assert!(
            matches!(&err, ConfigError::InvalidSetting { field: f, .. } if *f == field),
            "{err:?}"
        );
        assert_eq!(err.reason(), "invalid_setting");
    }
    // Unknown fields and unknown presets do not parse at all.
    assert!(issuer_with(json!({"audience": AUD})).is_err());
    assert!(issuer_with(json!({"claim_mapping": "okta"})).is_err());
    assert!(issuer_with(json!({"keys": {"jku": "https://evil"}})).is_err());
    // Rules of the builders hold: HMAC cannot be configured for a fetched key set.
    let err = issuer_with(json!({"algorithms": ["HS256"]}))
        .expect("parses")
        .builder()
        .expect_err("refused");
    assert_eq!(err.reason(), "hmac_without_secrets");
}

#[test]
fn debug_never_shows_secrets() {
    let config = IssuerConfig::builder(issuer(ISSUER_A))
        .audience(Audience::new(AUD).expect("aud"))
        .hmac_secrets([
            SymmetricKey::new(Some("hs-1"), Algorithm::HS256, HMAC_SECRET.to_vec())
                .expect("secret"),
        ])
        .build()
        .expect("config");
    let verifier = verifier_of(config.clone());
    for shown in [format!("{config:?}"), format!("{verifier:?}")] {
        assert!(shown.contains("hs-1"), "{shown}");
        assert!(
            !shown.contains("66, 66") && !shown.contains("0x42"),
            "{shown}"
        );
    }
}
