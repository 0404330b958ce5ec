//! The `[jwt]` keys a verifier of internal JWTs needs from a file: `pattern`,
//! `minted_by` and a static key set `keys = { jwks_file = "…" }` read relative to the
//! configuration file, and every way they are refused (named file, line and field).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use principal::{Audience, HumanId, Issuer, Principal, ScopeSet, Timestamp};
use tower_auth::config::{ConfigFileError, ConfigFileErrorKind, ServiceConfig};
use tower_auth::jwt::MAX_JWKS_FILE_BYTES;
use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
use tower_auth::{AuthError, CallerIdentity, Pattern, Verifier};

const EDGE: &str = "https://edge.internal.example";

/// An internal issuer, and a directory holding its public JWKS as `keys/edge-jwks.json`.
fn issuer_and_dir() -> (InternalIssuer, tempfile::TempDir) {
    let issuer = InternalIssuer::builder(
        Issuer::new(EDGE).unwrap(),
        SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
    )
    .build()
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    std::fs::write(
        dir.path().join("keys/edge-jwks.json"),
        issuer.jwks().to_string(),
    )
    .unwrap();
    (issuer, dir)
}

/// The hop's `[jwt]` section: `pattern` and the issuer's lines, `keys` on line 6.
fn hop_file(pattern: &str, keys: &str, minted_by: &str) -> String {
    format!(
        "[jwt]\n{pattern}\n[[jwt.issuers]]\nissuer = \"{EDGE}\"\naudiences = [\"documents\"]\nkeys = {keys}\nrequire_typ = \"at+jwt\"\nclaim_mapping = \"baton\"\n{minted_by}\n"
    )
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("hop.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn alice() -> Principal {
    let idp = Issuer::new("https://idp.example.com").unwrap();
    Principal::builder(HumanId::derive(&idp, "alice").into(), idp, "alice")
        .scopes(ScopeSet::parse("documents:read").unwrap())
        .expires_at(Timestamp::from_unix_seconds(i64::MAX / 2))
        .build()
        .unwrap()
}

fn refused(path: &Path) -> ConfigFileError {
    ServiceConfig::load(path).unwrap_err()
}

#[test]
fn a_hop_verifies_internal_jwts_with_the_key_set_file_beside_its_config() {
    let (issuer, dir) = issuer_and_dir();
    let path = write_config(
        dir.path(),
        &hop_file(
            "pattern = \"internal_jwt\"",
            "{ jwks_file = \"keys/edge-jwks.json\" }",
            "minted_by = \"svc-edge\"",
        ),
    );
    // Loaded from another working directory: the path is the file's, not the process's.
    let config = ServiceConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let verifier = config.jwt.unwrap().build().unwrap();
    assert_eq!(verifier.pattern(), Pattern::InternalJwt);

    let token = issuer
        .mint(&alice(), &Audience::new("documents").unwrap())
        .unwrap();
    let verified = verifier.verify_sync(token.as_str()).unwrap();
    assert_eq!(verified.subject(), "alice");
    assert_eq!(verified.pattern(), Pattern::InternalJwt);
    let caller = verified.caller().unwrap();
    assert!(
        matches!(caller.identity(), CallerIdentity::Service(id) if id.as_str() == "svc-edge"),
        "{caller:?}"
    );

    // The file's audience is enforced: a token minted for another hop is refused.
    let other = issuer
        .mint(&alice(), &Audience::new("audit").unwrap())
        .unwrap();
    assert!(matches!(
        verifier.verify_sync(other.as_str()),
        Err(AuthError::WrongAudience)
    ));
    // And only the file's keys: the same issuer name with another key is refused.
    let (stranger, _other_dir) = issuer_and_dir();
    let forged = stranger
        .mint(&alice(), &Audience::new("documents").unwrap())
        .unwrap();
    assert!(verifier.verify_sync(forged.as_str()).is_err());
}

#[test]
fn without_pattern_the_verifier_is_passthrough_and_minted_by_is_refused_at_its_line() {
    let (_issuer, dir) = issuer_and_dir();
    let keys = "{ jwks_file = \"keys/edge-jwks.json\" }";
    let config = ServiceConfig::load(write_config(dir.path(), &hop_file("", keys, ""))).unwrap();
    assert_eq!(
        config.jwt.unwrap().build().unwrap().pattern(),
        Pattern::JwtPassthrough
    );

    let path = write_config(dir.path(), &hop_file("", keys, "minted_by = \"svc-edge\""));
    let error = refused(&path);
    assert_eq!(error.kind(), ConfigFileErrorKind::Invalid, "{error}");
    assert_eq!(
        error.setting_reason(),
        Some("minted_by_outside_internal_jwt")
    );
    assert_eq!(
        (error.line(), error.field()),
        (Some(9), "jwt.issuers[0].minted_by")
    );
}

#[test]
fn a_malformed_minted_by_or_an_unknown_pattern_is_refused() {
    let (_issuer, dir) = issuer_and_dir();
    let keys = "{ jwks_file = \"keys/edge-jwks.json\" }";
    let path = write_config(
        dir.path(),
        &hop_file(
            "pattern = \"internal_jwt\"",
            keys,
            "minted_by = \"Edge Service\"",
        ),
    );
    let error = refused(&path);
    assert_eq!(error.setting_reason(), Some("invalid_setting"), "{error}");
    assert_eq!(
        (error.line(), error.field()),
        (Some(9), "jwt.issuers[0].minted_by")
    );

    // Introspection is not a pattern a JWT verifier implements: a format error.
    let path = write_config(
        dir.path(),
        &hop_file("pattern = \"introspection\"", keys, ""),
    );
    let error = refused(&path);
    assert_eq!(error.kind(), ConfigFileErrorKind::Format, "{error}");
    assert_eq!((error.line(), error.field()), (Some(2), "jwt.pattern"));
}

#[test]
fn a_key_set_file_that_cannot_be_used_refuses_the_configuration() {
    let (issuer, dir) = issuer_and_dir();
    let jwks = issuer.jwks();
    let mut private = jwks.clone();
    private["keys"][0]["d"] = "c2VjcmV0".into();
    // A usable key beside an HMAC secret: the secret is not skipped, the file refused.
    let mut with_oct = jwks.clone();
    with_oct["keys"].as_array_mut().unwrap().push(
        serde_json::json!({"kty": "oct", "kid": "k", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}),
    );
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("missing.json", Vec::new(), "cannot read"),
        ("garbage.json", b"not json".to_vec(), "JSON"),
        ("empty.json", br#"{"keys": []}"#.to_vec(), "empty"),
        ("private.json", private.to_string().into_bytes(), "usable"),
        (
            "oct.json",
            with_oct.to_string().into_bytes(),
            "key 1 (k) cannot be used",
        ),
        (
            "huge.json",
            vec![b' '; usize::try_from(MAX_JWKS_FILE_BYTES).unwrap() + 1],
            "above the limit",
        ),
    ];
    for (name, contents, said) in cases {
        if name != "missing.json" {
            std::fs::write(dir.path().join(name), &contents).unwrap();
        }
        let path = write_config(
            dir.path(),
            &hop_file(
                "pattern = \"internal_jwt\"",
                &format!("{{ jwks_file = \"{name}\" }}"),
                "",
            ),
        );
        let error = refused(&path);
        assert_eq!(
            error.kind(),
            ConfigFileErrorKind::Invalid,
            "{name}: {error}"
        );
        assert_eq!(
            error.setting_reason(),
            Some("jwks_file_unusable"),
            "{error}"
        );
        assert_eq!(
            (error.line(), error.field()),
            (Some(6), "jwt.issuers[0].keys"),
            "{name}"
        );
        let shown = error.to_string();
        assert!(shown.contains(name) && shown.contains(said), "{shown}");
        // The file's content is never echoed.
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
    }
}

/// `[jwt.issuers.refresh]`: the fetched key set's refresh policy, checked by its builder.
#[test]
fn a_refresh_policy_reaches_the_fetched_key_set_and_a_bad_one_is_refused_at_its_table() {
    let dir = tempfile::tempdir().unwrap();
    let fetched = |refresh: &str| {
        format!(
            "[[jwt.issuers]]\nissuer = \"https://id.example.com\"\naudiences = [\"api\"]\nkeys = \"oidc_discovery\"\n[jwt.issuers.refresh]\n{refresh}\n"
        )
    };
    let path = write_config(
        dir.path(),
        &fetched("default_ttl_seconds = 600\nmax_staleness_seconds = 0\nfetch_timeout_ms = 2000"),
    );
    let verifier = ServiceConfig::load(&path)
        .unwrap()
        .jwt
        .unwrap()
        .build()
        .unwrap();
    let issuer = verifier.issuers().next().unwrap();
    let policy = issuer.key_source().refresh_policy().unwrap();
    assert_eq!(policy.default_ttl().as_secs(), 600);
    assert_eq!(policy.max_staleness().as_secs(), 0);
    assert_eq!(policy.fetch_timeout().as_millis(), 2000);
    // Unset keys keep their defaults.
    assert_eq!(policy.max_ttl().as_secs(), 3600);

    for (refresh, reason) in [
        (
            "min_ttl_seconds = 900\ndefault_ttl_seconds = 60",
            "ttl_out_of_order",
        ),
        ("fetch_timeout_ms = 0", "zero_value"),
        ("max_body_bytes = 17000000", "value_too_large"),
    ] {
        let error = refused(&write_config(dir.path(), &fetched(refresh)));
        assert_eq!(
            error.kind(),
            ConfigFileErrorKind::Invalid,
            "{refresh}: {error}"
        );
        assert_eq!(error.setting_reason(), Some(reason), "{refresh}: {error}");
        assert_eq!(
            (error.line(), error.field()),
            (Some(5), "jwt.issuers[0].refresh"),
            "{refresh}: {error}"
        );
    }
    // An unknown key of the table is named.
    let error = refused(&write_config(dir.path(), &fetched("ttl_seconds = 60")));
    assert_eq!(error.kind(), ConfigFileErrorKind::UnknownField);
    assert_eq!(error.field(), "jwt.issuers[0].refresh.ttl_seconds");
    // A static key set is never fetched: a refresh policy for it is a mistake.
    let (_issuer, keys_dir) = issuer_and_dir();
    let text = format!(
        "{}[jwt.issuers.refresh]\ndefault_ttl_seconds = 600\n",
        hop_file("", "{ jwks_file = \"keys/edge-jwks.json\" }", "")
    );
    let error = refused(&write_config(keys_dir.path(), &text));
    assert_eq!(error.setting_reason(), Some("invalid_setting"), "{error}");
    assert_eq!(error.field(), "jwt.issuers[0].refresh", "{error}");
}
