//! Configuration from a TOML file: every error names the file, the line, the column and
//! the field; every section turns into what its builder makes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use tower_auth::config::{ConfigFileError, ConfigFileErrorKind, ServiceConfig};

const ISSUER: &str = r#"
[[jwt.issuers]]
issuer = "https://id.example.com"
audiences = ["api"]
keys = { jwks_url = "https://id.example.com/jwks" }
"#;

fn refused(text: &str) -> ConfigFileError {
    ServiceConfig::from_toml("conf/service.toml", text).unwrap_err()
}

fn assert_place(error: &ConfigFileError, line: usize, field: &str) {
    assert_eq!(error.path(), Path::new("conf/service.toml"), "{error}");
    assert_eq!(error.line(), Some(line), "{error}");
    assert_eq!(error.field(), field, "{error}");
    let shown = error.to_string();
    let column = error.column().unwrap();
    assert!(
        shown.starts_with(&format!("conf/service.toml:{line}:{column}: {field}: ")),
        "{shown}"
    );
}

#[test]
fn a_valid_issuer_becomes_the_builders_output() {
    let config = ServiceConfig::from_toml("conf/service.toml", ISSUER).unwrap();
    let verifier = config.jwt.unwrap().build().unwrap();
    let issuer = verifier.issuers().next().unwrap();
    assert_eq!(issuer.issuer().as_str(), "https://id.example.com");
    assert_eq!(issuer.audiences()[0].as_str(), "api");
    assert!(config.introspection.is_none() && config.passport.is_none());
}

#[test]
fn an_unknown_field_names_its_line_and_path() {
    let error = refused(&format!("{ISSUER}leeway = 5\n"));
    assert_eq!(error.kind(), ConfigFileErrorKind::UnknownField);
    assert_eq!(error.reason(), "config_unknown_field");
    assert_place(&error, 6, "jwt.issuers[0].leeway");
    assert_eq!(error.column(), Some(1));
    assert!(
        error.to_string().contains("unknown field `leeway`"),
        "{error}"
    );

    // At the top level too.
    let error = refused("[jtw]\nissuers = []\n");
    assert_eq!(error.kind(), ConfigFileErrorKind::UnknownField);
    assert_place(&error, 1, "jtw");
}

#[test]
fn an_inline_secret_is_an_unknown_field_and_never_echoed() {
    let error = refused(
        r#"
[introspection]
endpoint = "https://as.example.com/introspect"
issuer = "https://as.example.com"
audiences = ["api"]
client_id = "edge"
client_secret = "hunter2-very-secret"
"#,
    );
    assert_eq!(error.kind(), ConfigFileErrorKind::UnknownField);
    assert_place(&error, 7, "introspection.client_secret");
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
}

#[test]
fn a_wrong_type_names_the_field_without_echoing_the_value() {
    let error = refused(&format!("{ISSUER}leeway_seconds = \"s3cret-ish\"\n"));
    assert_eq!(error.kind(), ConfigFileErrorKind::WrongType);
    assert_eq!(error.reason(), "config_wrong_type");
    assert_place(&error, 6, "jwt.issuers[0].leeway_seconds");
    assert_eq!(error.column(), Some(18));
    assert!(
        error.to_string().contains("expected u64, found string"),
        "{error}"
    );
    assert!(!error.to_string().contains("s3cret-ish"), "{error}");
}

#[test]
fn a_missing_field_names_the_table_and_the_field() {
    let error = refused(
        r#"
[[jwt.issuers]]
audiences = ["api"]
keys = "oidc_discovery"
"#,
    );
    assert_eq!(error.kind(), ConfigFileErrorKind::MissingField);
    assert_eq!(error.field(), "jwt.issuers[0].issuer", "{error}");
    assert!(matches!(error.line(), Some(2..=4)), "{error}");
    assert!(
        error.to_string().contains("missing field `issuer`"),
        "{error}"
    );
}

#[test]
fn a_malformed_scope_is_refused_by_the_builder_at_its_line() {
    let error = refused(&format!(
        "{ISSUER}required_scopes = [\"orders:read\", \"bad scope\"]\n"
    ));
    assert_eq!(error.kind(), ConfigFileErrorKind::Invalid);
    assert_eq!(error.setting_reason(), Some("invalid_setting"));
    assert_place(&error, 6, "jwt.issuers[0].required_scopes");
}

#[test]
fn a_bad_url_is_refused_by_the_builder_at_its_line() {
    // http off loopback: the key source's own rule.
    let error = refused(
        r#"
[[jwt.issuers]]
issuer = "https://id.example.com"
audiences = ["api"]
keys = { jwks_url = "http://id.example.com/jwks" }
"#,
    );
    assert_eq!(error.kind(), ConfigFileErrorKind::Invalid);
    assert_place(&error, 5, "jwt.issuers[0].keys");
    assert!(error.setting_reason().is_some());

    // And for introspection: the endpoint's rule.
    std::fs::create_dir_all(std::env::temp_dir().join("baton-config-test")).unwrap();
    let error = ServiceConfig::from_toml(
        "conf/service.toml",
        r#"
[introspection]
endpoint = "http://as.example.com/introspect"
issuer = "https://as.example.com"
audiences = ["api"]
client_id = "edge"
client_secret_env = "PATH"
"#,
    )
    .unwrap_err();
    assert_eq!(error.setting_reason(), Some("insecure_endpoint"), "{error}");
    assert_place(&error, 3, "introspection.endpoint");
}

#[test]
fn semantic_limits_are_the_builders() {
    let error = refused(&format!("{ISSUER}leeway_seconds = 3600\n"));
    assert_eq!(error.setting_reason(), Some("leeway_too_large"));
    assert_place(&error, 6, "jwt.issuers[0].leeway_seconds");

    // An empty audience list: the key is absent, the issuer's table is named.
    let error = refused(
        r#"
[[jwt.issuers]]
issuer = "https://id.example.com"
keys = "oidc_discovery"
"#,
    );
    assert_eq!(error.setting_reason(), Some("no_audiences"));
    assert_eq!(error.field(), "jwt.issuers[0].audiences");
    assert!(error.line().is_some());

    // The same issuer twice: the verifier-wide check, at the second one.
    let error = refused(&format!("{ISSUER}{ISSUER}"));
    assert_eq!(error.setting_reason(), Some("duplicate_issuer"));
    assert_place(&error, 8, "jwt.issuers[1].issuer");
}

#[test]
fn a_syntax_error_names_its_line() {
    let error = refused("[jwt\nissuers = []\n");
    assert_eq!(error.kind(), ConfigFileErrorKind::Syntax);
    assert_eq!(error.line(), Some(1));
    assert_eq!(error.field(), "");
}

#[test]
fn secrets_come_from_a_file_or_the_environment_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client-secret"), "s3cret\n").unwrap();
    let text = |secret: &str| {
        format!(
            r#"
[introspection]
endpoint = "http://127.0.0.1:9/introspect"
issuer = "https://as.example.com"
audiences = ["api"]
client_id = "edge"
{secret}
"#
        )
    };
    let path = dir.path().join("service.toml");
    std::fs::write(&path, text(r#"client_secret_file = "client-secret""#)).unwrap();
    let config = ServiceConfig::load(&path).unwrap();
    let verifier = config.introspection.unwrap().build().unwrap();
    assert_eq!(verifier.endpoint(), "http://127.0.0.1:9/introspect");

    std::fs::write(&path, text(r#"client_secret_file = "missing""#)).unwrap();
    let error = ServiceConfig::load(&path).unwrap_err();
    assert_eq!(error.kind(), ConfigFileErrorKind::SecretUnavailable);
    assert_eq!(error.field(), "introspection.client_secret_file");
    assert_eq!(error.line(), Some(7));

    std::fs::write(&path, text("")).unwrap();
    let error = ServiceConfig::load(&path).unwrap_err();
    assert_eq!(error.setting_reason(), Some("no_secret_source"), "{error}");

    std::fs::write(
        &path,
        text("client_secret_file = \"client-secret\"\nclient_secret_env = \"PATH\""),
    )
    .unwrap();
    let error = ServiceConfig::load(&path).unwrap_err();
    assert_eq!(
        error.setting_reason(),
        Some("two_secret_sources"),
        "{error}"
    );
    assert_eq!(error.line(), Some(8));
}

#[test]
fn passport_workload_mint_and_propagate_sections() {
    let config = ServiceConfig::from_toml(
        "conf/service.toml",
        r#"
[passport]
audience = "documents"
max_delegation_depth = 3
unsigned_from = ["spiffe://demo.test/edge"]

[workload]
trust_domain = "demo.test"
allowed_peers = ["spiffe://demo.test/edge"]

[mint]
issuer = "https://edge.demo.test"
algorithm = "ES256"
generate_key = true
kid = "edge-1"
lifetime_seconds = 120

[[propagate.routes]]
destination = "documents.demo.test:443"
pattern = "minted_jwt"
audience = "documents"

[[propagate.routes]]
destination = "audit.demo.test"
pattern = "unsigned_passport"
audience = "audit"
passport_lifetime_seconds = 30
"#,
    )
    .unwrap();
    assert_eq!(config.passport.unwrap().audience().as_str(), "documents");
    let workload = config.workload.unwrap();
    assert_eq!(workload.trust_domain.as_str(), "demo.test");
    assert_eq!(workload.allowed_peers.iter().count(), 1);
    let mint = config.mint.unwrap();
    assert_eq!(mint.current_kid(), "edge-1");
    assert_eq!(mint.lifetime().as_secs(), 120);
    let propagate = config.propagate.unwrap();
    let route = propagate
        .route_for(&"https://documents.demo.test/x".parse().unwrap())
        .unwrap();
    assert_eq!(route.kind(), "minted_jwt");
    let route = propagate
        .route_for(&"http://audit.demo.test/x".parse().unwrap())
        .unwrap();
    assert_eq!(route.kind(), "unsigned_passport");
}

#[test]
fn passport_workload_mint_and_propagate_refusals_name_their_field() {
    for (text, line, field, reason) in [
        (
            "[passport]\naudience = \"documents\"\n",
            1,
            "passport",
            "no_passport_source",
        ),
        (
            "[passport]\naudience = \"d\"\nunsigned_from = [\"spiffe://ok.test/a\", \"https://x\"]\n",
            3,
            "passport.unsigned_from[1]",
            "",
        ),
        (
            "[passport]\naudience = \"d\"\nmax_delegation_depth = 99\nunsigned_from = [\"spiffe://ok.test/a\"]\n",
            3,
            "passport.max_delegation_depth",
            "",
        ),
        (
            "[workload]\ntrust_domain = \"Not A Domain\"\n",
            2,
            "workload.trust_domain",
            "",
        ),
        (
            "[mint]\nissuer = \"https://e.test\"\nalgorithm = \"EdDSA\"\ngenerate_key = true\nlifetime_seconds = 86400\n",
            5,
            "mint.lifetime_seconds",
            "lifetime_out_of_range",
        ),
        (
            "[[propagate.routes]]\ndestination = \"a.test\"\npattern = \"minted_jwt\"\naudience = \"a\"\n",
            3,
            "propagate.routes[0].pattern",
            "no_mint_section",
        ),
        (
            "[[propagate.routes]]\ndestination = \"user@a.test\"\npattern = \"passthrough\"\n",
            2,
            "propagate.routes[0].destination",
            "invalid_destination",
        ),
    ] {
        let error = refused(text);
        assert_eq!(error.kind(), ConfigFileErrorKind::Invalid, "{error}");
        assert_place(&error, line, field);
        if !reason.is_empty() {
            assert_eq!(error.setting_reason(), Some(reason), "{error}");
        }
    }
    // An unknown pattern is a format error at its value.
    let error = refused("[[propagate.routes]]\ndestination = \"a.test\"\npattern = \"signed\"\n");
    assert_eq!(error.kind(), ConfigFileErrorKind::Format);
    assert_place(&error, 3, "propagate.routes[0].pattern");
}
