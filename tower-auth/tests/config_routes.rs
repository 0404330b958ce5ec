//! Configuration from a TOML file, the sections the propagate layer's routes use:
//! `[mint.cache]` and PEM key files, `[passport_signing]`, `[exchange]`, and the
//! `signed_passport`, `forward_passport` and `exchanged` routes. Each new key is shown to
//! take effect (a signed passport verifies with the matching verifier, an exchanged route
//! calls a real token endpoint on loopback with the file's client and target, a minted
//! route fills the configured cache); each refusal names the file, the line and the field,
//! and never echoes a secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, Request, Response, Uri};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{Audience, Issuer, ServiceId, TestClock, Timestamp};
use principal_proto::{DecodeOptions, KeyId};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_auth::Credentials;
use tower_auth::config::{ConfigFileError, ConfigFileErrorKind, ServiceConfig};
use tower_auth::context::{BearerToken, RequestContext};
use tower_auth::jwks::SymmetricKey;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
use tower_auth::propagate::PropagateLayer;
use tower_auth::trace::{RequestId, TraceContext};

const IDP: &str = "https://id.example.com";
const IDP_SECRET: [u8; 32] = [0x5a; 32];
const REQUEST_ID: &str = "0d9c7e3a-5b1f-4c2e-9a8d-7f6e5d4c3b2a";
const SUBJECT_TOKEN_CLAIMS_SUB: &str = "alice";
/// A shared HMAC secret of 40 bytes, written to a file by the tests.
const HMAC_SECRET: &str = "hmac-secret-for-passports-0123456789abcd";
const STS_SECRET: &str = "sts-client-secret-never-echoed";

/// A directory holding `service.toml` and the key and secret files it names.
struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        let dir = Dir {
            dir: tempfile::tempdir().unwrap(),
        };
        let ed = Ed25519KeyPair::generate().unwrap().to_pkcs8v1().unwrap();
        dir.write("ed25519.pem", pem("PRIVATE KEY", ed.as_ref()).as_bytes());
        dir.write("ed25519.der", ed.as_ref());
        let p256 = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .unwrap()
            .to_pkcs8v1()
            .unwrap();
        dir.write("p256.pem", pem("PRIVATE KEY", p256.as_ref()).as_bytes());
        dir.write("p256.der", p256.as_ref());
        // The same P-256 key as SEC1 would be labelled: not PKCS#8.
        dir.write(
            "p256-sec1.pem",
            pem("EC PRIVATE KEY", p256.as_ref()).as_bytes(),
        );
        let two = format!(
            "{}{}",
            pem("PRIVATE KEY", ed.as_ref()),
            pem("PRIVATE KEY", ed.as_ref())
        );
        dir.write("two-keys.pem", two.as_bytes());
        dir.write(
            "not-base64.pem",
            b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
        );
        dir.write("huge.der", &vec![0x30; 70 * 1024]);
        dir.write("hmac-secret", format!("{HMAC_SECRET}\n").as_bytes());
        dir.write("short-secret", b"too short");
        dir.write("sts-secret", format!("{STS_SECRET}\n").as_bytes());
        dir
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.dir.path().join(name), bytes).unwrap();
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("service.toml")
    }

    /// The Ed25519 public key of `ed25519.pem`, base64 (as `[[passport.keys]]` takes it).
    fn ed25519_public_key(&self) -> String {
        let der = std::fs::read(self.dir.path().join("ed25519.der")).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(&der).unwrap();
        STANDARD.encode(pair.public_key().as_ref())
    }

    fn load(&self, text: &str) -> Result<ServiceConfig, ConfigFileError> {
        std::fs::write(self.config_path(), text).unwrap();
        ServiceConfig::load(self.config_path())
    }

    fn refused(&self, text: &str) -> ConfigFileError {
        self.load(text).unwrap_err()
    }

    /// The error names this file, `line` and `field`, in its fields and its message.
    fn assert_place(&self, error: &ConfigFileError, line: usize, field: &str) {
        assert_eq!(error.path(), self.config_path(), "{error}");
        assert_eq!(error.line(), Some(line), "{error}");
        assert_eq!(error.field(), field, "{error}");
        let column = error.column().unwrap();
        let prefix = format!(
            "{}:{line}:{column}: {field}: ",
            self.config_path().display()
        );
        assert!(error.to_string().starts_with(&prefix), "{error}");
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn clock() -> Arc<TestClock> {
    Arc::new(TestClock::new(Timestamp::from_unix_seconds(now())))
}

fn subject_token() -> String {
    let now = now();
    let claims = json!({
        "iss": IDP, "sub": SUBJECT_TOKEN_CLAIMS_SUB, "aud": "edge-api",
        "exp": now + 3600, "iat": now, "scope": "orders:read",
    });
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&IDP_SECRET)).unwrap()
}

/// The context of a request the edge authenticated with `subject_token()`, the bearer
/// token kept (exchanged routes send it to the token endpoint).
async fn context() -> RequestContext {
    let config = IssuerConfig::builder(Issuer::new(IDP).unwrap())
        .audience(Audience::new("edge-api").unwrap())
        .hmac_secrets([
            SymmetricKey::new(Some("k1"), Algorithm::HS256, IDP_SECRET.to_vec()).unwrap(),
        ])
        .build()
        .unwrap();
    let verifier = JwtVerifier::builder()
        .issuer(config)
        .clock(clock())
        .build()
        .unwrap();
    let token = subject_token();
    let verified = verifier.verify_token(&token).await.unwrap();
    RequestContext::new(
        Some(verified),
        RequestId::parse(REQUEST_ID).unwrap(),
        TraceContext::from_headers(&HeaderMap::new()).unwrap(),
    )
    .with_bearer_token(BearerToken::new(token))
}

/// What the destination receives through `layer` for a GET of `url`, inside `ctx`.
async fn sent(layer: PropagateLayer, ctx: &RequestContext, url: &str) -> HeaderMap {
    let client = ServiceBuilder::new().layer(layer).service(service_fn(
        |request: Request<String>| async move {
            Ok::<_, Infallible>(Response::new(request.headers().clone()))
        },
    ));
    let request = Request::get(url).body(String::new()).unwrap();
    ctx.clone()
        .scope(client.oneshot(request))
        .await
        .unwrap()
        .into_body()
}

// ---- what each key does -------------------------------------------------------------

#[tokio::test]
async fn mint_cache_settings_and_a_pem_key_reach_the_cache_minted_routes_share() {
    let dir = Dir::new();
    let config = dir
        .load(
            r#"
[mint]
issuer = "https://edge.internal"
algorithm = "ES256"
key_file = "p256.pem"
lifetime_seconds = 120

[mint.cache]
renew_before_seconds = 30
max_entries = 2

[[propagate.routes]]
destination = "orders.test"
pattern = "minted_jwt"
audience = "orders"
"#,
        )
        .unwrap();
    let cache = config.mint_cache.clone().unwrap();
    let shown = format!("{cache:?}");
    assert!(shown.contains("renew_before_seconds: 30"), "{shown}");
    assert!(shown.contains("max_entries: 2"), "{shown}");

    // The route mints through the configured cache: one pair held after one call.
    let ctx = context().await;
    let headers = sent(config.propagate.unwrap(), &ctx, "http://orders.test/x").await;
    let bearer = headers["authorization"].to_str().unwrap();
    assert!(bearer.starts_with("Bearer ey"), "{bearer}");
    assert_eq!(cache.len(), 1);

    // max_entries = 2 bounds it: a third audience evicts.
    let principal = ctx.principal().unwrap().principal().clone();
    for audience in ["billing", "audit"] {
        cache
            .token(&principal, &Audience::new(audience).unwrap())
            .await
            .unwrap();
    }
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.issuer().lifetime().as_secs(), 120);
}

#[test]
fn a_pem_and_a_der_key_file_are_the_same_key() {
    let dir = Dir::new();
    let kid = |file: &str, algorithm: &str| {
        dir.load(&format!(
            "[mint]\nissuer = \"https://edge.internal\"\nalgorithm = \"{algorithm}\"\nkey_file = \"{file}\"\n"
        ))
        .unwrap()
        .mint
        .unwrap()
        .current_kid()
        .to_owned()
    };
    assert_eq!(kid("p256.pem", "ES256"), kid("p256.der", "ES256"));
    assert_eq!(kid("ed25519.pem", "EdDSA"), kid("ed25519.der", "EdDSA"));
    assert_ne!(kid("p256.pem", "ES256"), kid("ed25519.pem", "EdDSA"));
}

#[test]
fn without_mint_cache_and_minted_routes_no_cache_is_built() {
    // Tokens shorter than the default renewal margin (60 s): fine for a service that
    // mints without a cache.
    let dir = Dir::new();
    let config = dir
        .load(
            "[mint]\nissuer = \"https://edge.internal\"\nalgorithm = \"EdDSA\"\ngenerate_key = true\nlifetime_seconds = 30\n",
        )
        .unwrap();
    assert!(config.mint.is_some());
    assert!(config.mint_cache.is_none());
}

#[tokio::test]
async fn signed_and_forwarded_passports_verify_with_the_matching_verifier() {
    let dir = Dir::new();
    let config = dir
        .load(&format!(
            r#"
[passport]
audience = "orders"

[[passport.keys]]
key_id = "edge-1"
signer = "svc-edge"
algorithm = "ed25519"
public_key = "{}"

[passport_signing]
key_id = "edge-1"
algorithm = "ed25519"
key_file = "ed25519.pem"

[[propagate.routes]]
destination = "orders.test"
pattern = "signed_passport"
audience = "orders"
passport_lifetime_seconds = 30
passport_header_limit_bytes = 2048
require_principal = true

[[propagate.routes]]
destination = "docs.test:8443"
pattern = "forward_passport"
audience = "demo.test"
"#,
            dir.ed25519_public_key()
        ))
        .unwrap();
    let layer = config.propagate.unwrap().clock(clock());
    let route = layer
        .route_for(&Uri::from_static("http://orders.test/x"))
        .unwrap();
    assert_eq!(route.kind(), "signed_passport");
    assert_eq!(route.max_passport_header_len(), Some(2048));
    assert!(route.requires_principal());
    let route = layer
        .route_for(&Uri::from_static("https://docs.test:8443/x"))
        .unwrap();
    assert_eq!(route.kind(), "forward_passport");
    assert_eq!(route.max_passport_header_len(), Some(4096));

    let ctx = context().await;
    let verifier = config.passport.unwrap().clock(clock());
    let headers = sent(layer.clone(), &ctx, "http://orders.test/x").await;
    let header = headers["x-principal-bin"].to_str().unwrap();
    let credentials = Credentials::none()
        .with_passport(header)
        .with_request_id(REQUEST_ID);
    let passport = verifier.verify_passport(&credentials).unwrap();
    assert_eq!(passport.audience().as_str(), "orders");
    assert_eq!(passport.principal().subject(), SUBJECT_TOKEN_CLAIMS_SUB);
    let lifetime = passport.expires_at().as_unix_seconds() - passport.issued_at().as_unix_seconds();
    assert_eq!(lifetime, 30);

    // The forwarded route signs the trust domain's passport with the same ring (at the
    // edge nothing was received): a verifier of the domain with its key accepts it.
    let ring = config.passport_signing.unwrap();
    let key_id = KeyId::new("edge-1").unwrap();
    let domain_verifier = PassportHeaderVerifier::new(
        DecodeOptions::new(Audience::new("demo.test").unwrap()),
        PassportKeys::new(
            ring.load().verifier().key(&key_id).unwrap().clone(),
            "svc-edge".parse::<ServiceId>().unwrap(),
        )
        .unwrap(),
    )
    .clock(clock());
    let headers = sent(layer, &ctx, "https://docs.test:8443/x").await;
    let header = headers["x-principal-bin"].to_str().unwrap();
    let credentials = Credentials::none()
        .with_passport(header)
        .with_request_id(REQUEST_ID);
    let passport = domain_verifier.verify_passport(&credentials).unwrap();
    assert_eq!(passport.audience().as_str(), "demo.test");
    // And the orders verifier refuses it: another audience.
    assert!(verifier.verify_passport(&credentials).is_err());
}

#[tokio::test]
async fn an_hmac_signing_secret_from_a_file_signs_what_the_same_secret_verifies() {
    let dir = Dir::new();
    let config = dir
        .load(
            r#"
[passport]
audience = "orders"

[[passport.keys]]
key_id = "shared-1"
signer = "svc-edge"
algorithm = "hmac_sha256"
secret_file = "hmac-secret"

[passport_signing]
key_id = "shared-1"
algorithm = "hmac_sha256"
secret_file = "hmac-secret"

[[propagate.routes]]
destination = "orders.test"
pattern = "signed_passport"
audience = "orders"
"#,
        )
        .unwrap();
    let ctx = context().await;
    let headers = sent(
        config.propagate.unwrap().clock(clock()),
        &ctx,
        "http://orders.test/x",
    )
    .await;
    let credentials = Credentials::none()
        .with_passport(headers["x-principal-bin"].to_str().unwrap())
        .with_request_id(REQUEST_ID);
    let verifier = config.passport.unwrap().clock(clock());
    assert_eq!(
        verifier
            .verify_passport(&credentials)
            .unwrap()
            .audience()
            .as_str(),
        "orders"
    );
    assert!(!format!("{:?}", config.passport_signing).contains(HMAC_SECRET));
}

/// One call the token endpoint received.
#[derive(Clone, Debug)]
struct Received {
    form: Vec<(String, String)>,
    authorization: Option<String>,
}

impl Received {
    fn one(&self, name: &str) -> Option<&str> {
        let all: Vec<&str> = self
            .form
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect();
        assert!(all.len() <= 1, "{name}: {all:?}");
        all.first().copied()
    }
}

/// A token endpoint on `127.0.0.1:0` that records each call and answers a token of the
/// type requested.
async fn token_endpoint() -> (String, Arc<Mutex<Vec<Received>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route(
            "/token",
            post(
                |State(received): State<Arc<Mutex<Vec<Received>>>>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let form: Vec<(String, String)> = form_urlencoded::parse(&body)
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                    let requested = form
                        .iter()
                        .find(|(k, _)| k == "requested_token_type")
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    let mut calls = received.lock().unwrap();
                    calls.push(Received {
                        form,
                        authorization: headers
                            .get("authorization")
                            .map(|v| v.to_str().unwrap().to_owned()),
                    });
                    axum::Json(json!({
                        "access_token": format!("exchanged-{}", calls.len()),
                        "issued_token_type": requested,
                        "token_type": "Bearer",
                        "expires_in": 300,
                    }))
                },
            ),
        )
        .with_state(Arc::clone(&received));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test]
async fn an_exchanged_route_calls_the_token_endpoint_with_the_files_client_and_target() {
    let (endpoint, received) = token_endpoint().await;
    let dir = Dir::new();
    let config = dir
        .load(&format!(
            r#"
[exchange]
token_endpoint = "{endpoint}"
client_id = "edge"
client_auth = "client_secret_post"
client_secret_file = "sts-secret"
timeout_ms = 2000
max_answer_bytes = 8192
renew_before_seconds = 10
refresh_ahead_seconds = 0
max_entries = 100

[[propagate.routes]]
destination = "orders.test"
pattern = "exchanged"
audience = "orders"
resources = ["https://orders.test/api"]
scopes = ["orders:read", "orders:write"]
requested_token_type = "urn:ietf:params:oauth:token-type:jwt"
require_principal = true
"#
        ))
        .unwrap();
    let layer = config.propagate.unwrap();
    let route = layer
        .route_for(&Uri::from_static("http://orders.test/x"))
        .unwrap();
    assert_eq!(route.kind(), "exchanged");
    let client = config.exchange.unwrap();
    assert_eq!(client.endpoint(), endpoint);
    assert!(!format!("{client:?}").contains(STS_SECRET));

    let ctx = context().await;
    let headers = sent(layer.clone(), &ctx, "http://orders.test/x").await;
    assert_eq!(headers["authorization"], "Bearer exchanged-1");
    // Cached by the client the file made: the second call does not reach the endpoint.
    let headers = sent(layer, &ctx, "http://orders.test/y").await;
    assert_eq!(headers["authorization"], "Bearer exchanged-1");
    assert_eq!(client.cached_len(), 1);

    let calls = received.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(
        call.authorization, None,
        "client_secret_post: no Basic header"
    );
    assert_eq!(call.one("client_id"), Some("edge"));
    assert_eq!(call.one("client_secret"), Some(STS_SECRET));
    assert_eq!(
        call.one("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:token-exchange")
    );
    assert_eq!(call.one("subject_token"), Some(subject_token_of(&ctx)));
    assert_eq!(call.one("audience"), Some("orders"));
    assert_eq!(call.one("resource"), Some("https://orders.test/api"));
    assert_eq!(call.one("scope"), Some("orders:read orders:write"));
    assert_eq!(
        call.one("requested_token_type"),
        Some("urn:ietf:params:oauth:token-type:jwt")
    );
}

fn subject_token_of(ctx: &RequestContext) -> &str {
    ctx.bearer_token().unwrap().expose()
}

#[tokio::test]
async fn an_exchanged_route_may_name_resources_only() {
    let dir = Dir::new();
    let config = dir
        .load(
            r#"
[exchange]
token_endpoint = "https://sts.example.com/token"
client_id = "edge"
client_secret_env = "PATH"

[[propagate.routes]]
destination = "orders.test"
pattern = "exchanged"
resources = ["https://orders.test/api", "https://orders.test/admin"]
"#,
        )
        .unwrap();
    let layer = config.propagate.unwrap();
    let route = layer
        .route_for(&Uri::from_static("http://orders.test/x"))
        .unwrap();
    let shown = format!("{route:?}");
    assert!(shown.contains("https://orders.test/admin"), "{shown}");
    assert!(shown.contains("audiences: []"), "{shown}");
}

// ---- refusals -----------------------------------------------------------------------

const MINT: &str = "[mint]\nissuer = \"https://edge.internal\"\nalgorithm = \"ES256\"\ngenerate_key = true\nlifetime_seconds = 120\n";
const SIGNING: &str = "[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"ed25519\"\nkey_file = \"ed25519.pem\"\n";
const EXCHANGE: &str = "[exchange]\ntoken_endpoint = \"https://sts.example.com/token\"\nclient_id = \"edge\"\nclient_secret_file = \"sts-secret\"\n";

fn route(pattern: &str, extra: &str) -> String {
    format!("[[propagate.routes]]\ndestination = \"orders.test\"\npattern = \"{pattern}\"\n{extra}")
}

/// Each case: the file, the line and field named, the kind and the builder's reason.
#[test]
fn every_refusal_names_the_file_the_line_and_the_field() {
    let dir = Dir::new();
    let invalid = ConfigFileErrorKind::Invalid;
    let unavailable = ConfigFileErrorKind::SecretUnavailable;
    let cases: Vec<(String, usize, &str, ConfigFileErrorKind, &str)> = vec![
        // [mint] key files.
        (
            "[mint]\nissuer = \"https://e.test\"\nalgorithm = \"ES256\"\nkey_file = \"missing.pem\"\n".into(),
            4, "mint.key_file", unavailable, "secret_unavailable",
        ),
        (
            "[mint]\nissuer = \"https://e.test\"\nalgorithm = \"ES256\"\nkey_file = \"ed25519.pem\"\n".into(),
            4, "mint.key_file", invalid, "invalid_key",
        ),
        (
            "[mint]\nissuer = \"https://e.test\"\nalgorithm = \"ES256\"\nkey_file = \"p256-sec1.pem\"\n".into(),
            4, "mint.key_file", invalid, "invalid_pem",
        ),
        (
            "[mint]\nissuer = \"https://e.test\"\nalgorithm = \"EdDSA\"\nkey_file = \"two-keys.pem\"\n".into(),
            4, "mint.key_file", invalid, "invalid_pem",
        ),
        (
            "[mint]\nissuer = \"https://e.test\"\nalgorithm = \"EdDSA\"\nkey_file = \"not-base64.pem\"\n".into(),
            4, "mint.key_file", invalid, "invalid_pem",
        ),
        (
            "[mint]\nissuer = \"https://e.test\"\nalgorithm = \"EdDSA\"\nkey_file = \"huge.der\"\n".into(),
            4, "mint.key_file", unavailable, "secret_unavailable",
        ),
        // [mint.cache]: the cache builder's limits.
        (
            format!("{MINT}[mint.cache]\nrenew_before_seconds = 120\n"),
            7, "mint.cache.renew_before_seconds", invalid, "renew_margin_too_large",
        ),
        (
            format!("{MINT}[mint.cache]\nmax_entries = 0\n"),
            7, "mint.cache.max_entries", invalid, "no_cache_entries",
        ),
        // [passport_signing].
        (
            "[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"ed25519\"\nkey_file = \"missing.pem\"\n".into(),
            4, "passport_signing.key_file", unavailable, "secret_unavailable",
        ),
        (
            "[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"ed25519\"\nkey_file = \"p256.pem\"\n".into(),
            4, "passport_signing.key_file", invalid, "invalid_ed25519_key",
        ),
        (
            "[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"ed25519\"\n".into(),
            1, "passport_signing.key_file", invalid, "missing_key_file",
        ),
        (
            "[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"ed25519\"\nkey_file = \"ed25519.pem\"\nsecret_env = \"PATH\"\n".into(),
            5, "passport_signing.secret_env", invalid, "secret_for_ed25519_key",
        ),
        (
            "[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"hmac_sha256\"\nkey_file = \"ed25519.pem\"\nsecret_file = \"hmac-secret\"\n".into(),
            4, "passport_signing.key_file", invalid, "key_file_for_hmac",
        ),
        (
            "[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"hmac_sha256\"\nsecret_file = \"hmac-secret\"\nsecret_env = \"PATH\"\n".into(),
            5, "passport_signing.secret_env", invalid, "two_secret_sources",
        ),
        (
            "[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"hmac_sha256\"\n".into(),
            1, "passport_signing", invalid, "no_secret_source",
        ),
        (
            "[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"hmac_sha256\"\nsecret_file = \"short-secret\"\n".into(),
            4, "passport_signing.secret_file", invalid, "hmac_secret_too_short",
        ),
        (
            "[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"hmac_sha256\"\nsecret_env = \"BATON_TEST_UNSET_VARIABLE\"\n".into(),
            4, "passport_signing.secret_env", unavailable, "secret_unavailable",
        ),
        (
            "[passport_signing]\nkey_id = \"edge 1\"\nalgorithm = \"ed25519\"\nkey_file = \"ed25519.pem\"\n".into(),
            2, "passport_signing.key_id", invalid, "invalid_key_id",
        ),
        // [exchange].
        (
            "[exchange]\ntoken_endpoint = \"http://sts.example.com/token\"\nclient_id = \"edge\"\nclient_secret_file = \"sts-secret\"\n".into(),
            2, "exchange.token_endpoint", invalid, "invalid_endpoint",
        ),
        (
            format!("{EXCHANGE}timeout_ms = 0\n"),
            5, "exchange.timeout_ms", invalid, "timeout_out_of_range",
        ),
        (
            format!("{EXCHANGE}max_answer_bytes = 99999999\n"),
            5, "exchange.max_answer_bytes", invalid, "max_answer_bytes_out_of_range",
        ),
        (
            format!("{EXCHANGE}max_entries = 0\n"),
            5, "exchange.max_entries", invalid, "no_cache_entries",
        ),
        (
            format!("{EXCHANGE}client_secret_env = \"PATH\"\n"),
            5, "exchange.client_secret_env", invalid, "two_secret_sources",
        ),
        (
            "[exchange]\ntoken_endpoint = \"https://sts.example.com/token\"\nclient_id = \"edge\"\nclient_secret_file = \"missing\"\n".into(),
            4, "exchange.client_secret_file", unavailable, "secret_unavailable",
        ),
        (
            "[exchange]\ntoken_endpoint = \"https://sts.example.com/token\"\nclient_id = \"\"\nclient_secret_file = \"sts-secret\"\n".into(),
            3, "exchange.client_id", invalid, "invalid_client_auth",
        ),
        // Routes naming a section that is absent, at their pattern.
        (
            route("signed_passport", "audience = \"orders\"\n"),
            3, "propagate.routes[0].pattern", invalid, "no_passport_signing_section",
        ),
        (
            route("forward_passport", "audience = \"demo.test\"\n"),
            3, "propagate.routes[0].pattern", invalid, "no_passport_signing_section",
        ),
        (
            route("exchanged", "audience = \"orders\"\n"),
            3, "propagate.routes[0].pattern", invalid, "no_exchange_section",
        ),
        // Bad audiences and targets.
        (
            format!("{SIGNING}{}", route("signed_passport", "audience = \"two words\"\n")),
            8, "propagate.routes[0].audience", invalid, "invalid_setting",
        ),
        (
            format!("{SIGNING}{}", route("forward_passport", "")),
            5, "propagate.routes[0].audience", invalid, "missing_audience",
        ),
        (
            format!("{EXCHANGE}{}", route("exchanged", "audience = \"two words\"\n")),
            8, "propagate.routes[0].audience", invalid, "invalid_setting",
        ),
        (
            format!("{EXCHANGE}{}", route("exchanged", "")),
            5, "propagate.routes[0].audience", invalid, "missing_audience",
        ),
        (
            format!("{EXCHANGE}{}", route("exchanged", "resources = [\"https://ok.test/a\", \"/relative\"]\n")),
            8, "propagate.routes[0].resources[1]", invalid, "invalid_resource",
        ),
        (
            format!("{EXCHANGE}{}", route("exchanged", "resources = [\"ht tp://no\"]\n")),
            8, "propagate.routes[0].resources[0]", invalid, "invalid_resource",
        ),
        (
            format!("{EXCHANGE}{}", route("exchanged", "audience = \"orders\"\nscopes = [\"orders:read\", \"bad scope\"]\n")),
            9, "propagate.routes[0].scopes[1]", invalid, "invalid_setting",
        ),
        (
            format!("{EXCHANGE}{}", route("exchanged", "audience = \"orders\"\nrequested_token_type = \"jwt\"\n")),
            9, "propagate.routes[0].requested_token_type", invalid, "invalid_token_type",
        ),
        // Route settings out of range, or on a pattern that does not read them.
        (
            format!("{SIGNING}{}", route("signed_passport", "audience = \"orders\"\npassport_header_limit_bytes = 10\n")),
            9, "propagate.routes[0].passport_header_limit_bytes", invalid, "out_of_range",
        ),
        (
            format!("{MINT}{}", route("minted_jwt", "audience = \"orders\"\npassport_header_limit_bytes = 2048\n")),
            10, "propagate.routes[0].passport_header_limit_bytes", invalid, "not_for_pattern",
        ),
        (
            format!("{MINT}{}", route("minted_jwt", "audience = \"orders\"\nscopes = [\"orders:read\"]\n")),
            10, "propagate.routes[0].scopes", invalid, "not_for_pattern",
        ),
        (
            route("passthrough", "audience = \"orders\"\n"),
            4, "propagate.routes[0].audience", invalid, "not_for_pattern",
        ),
        (
            format!("{SIGNING}{}", route("signed_passport", "audience = \"orders\"\nin_internal_token_header = true\n")),
            9, "propagate.routes[0].in_internal_token_header", invalid, "not_for_pattern",
        ),
        (
            format!("{EXCHANGE}{}", route("exchanged", "audience = \"orders\"\npassport_lifetime_seconds = 30\n")),
            9, "propagate.routes[0].passport_lifetime_seconds", invalid, "not_for_pattern",
        ),
    ];
    for (text, line, field, kind, reason) in cases {
        let error = dir.refused(&text);
        assert_eq!(error.kind(), kind, "{error}\n{text}");
        dir.assert_place(&error, line, field);
        assert_eq!(error.setting_reason(), Some(reason), "{error}\n{text}");
    }
}

#[test]
fn inline_secrets_and_unknown_keys_are_unknown_fields_never_echoed() {
    let dir = Dir::new();
    for (text, line, field) in [
        (
            "[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"hmac_sha256\"\nsecret = \"hunter2-very-secret-hunter2-very-secret\"\n".to_owned(),
            4,
            "passport_signing.secret",
        ),
        (
            "[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"ed25519\"\nprivate_key = \"hunter2-very-secret\"\n".to_owned(),
            4,
            "passport_signing.private_key",
        ),
        (
            "[exchange]\ntoken_endpoint = \"https://sts.example.com/token\"\nclient_id = \"edge\"\nclient_secret = \"hunter2-very-secret\"\n".to_owned(),
            4,
            "exchange.client_secret",
        ),
        (
            format!("{MINT}[mint.cache]\nrenew_before = 30\n"),
            7,
            "mint.cache.renew_before",
        ),
        (
            route("exchanged", "audiences = [\"orders\"]\n"),
            4,
            "propagate.routes[0].audiences",
        ),
        (
            "[exchange]\nendpoint = \"https://sts.example.com/token\"\n".to_owned(),
            2,
            "exchange.endpoint",
        ),
    ] {
        let error = dir.refused(&text);
        assert_eq!(error.kind(), ConfigFileErrorKind::UnknownField, "{error}");
        dir.assert_place(&error, line, field);
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
    }
}

#[test]
fn wrong_types_and_unknown_patterns_name_the_field() {
    let dir = Dir::new();
    let error = dir.refused(&format!("{EXCHANGE}timeout_ms = \"5s\"\n"));
    assert_eq!(error.kind(), ConfigFileErrorKind::WrongType);
    dir.assert_place(&error, 5, "exchange.timeout_ms");

    let error = dir.refused(&format!("{MINT}[mint.cache]\nmax_entries = -1\n"));
    assert!(
        matches!(
            error.kind(),
            ConfigFileErrorKind::WrongType | ConfigFileErrorKind::Format
        ),
        "{error}"
    );
    dir.assert_place(&error, 7, "mint.cache.max_entries");
    assert!(
        error.to_string().ends_with("invalid value, expected usize"),
        "{error}"
    );

    // A secret pasted into a key of another type is not echoed either.
    let error = dir
        .refused("[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"hunter2-very-secret\"\n");
    assert_eq!(error.kind(), ConfigFileErrorKind::Format);
    dir.assert_place(&error, 3, "passport_signing.algorithm");
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(
        error
            .to_string()
            .contains("unknown variant, expected `ed25519` or `hmac_sha256`"),
        "{error}"
    );

    let error = dir.refused(
        "[passport_signing]\nkey_id = \"edge-1\"\nalgorithm = \"rsa\"\nkey_file = \"ed25519.pem\"\n",
    );
    assert_eq!(error.kind(), ConfigFileErrorKind::Format);
    dir.assert_place(&error, 3, "passport_signing.algorithm");

    let error = dir.refused(&route("exchange", ""));
    assert_eq!(error.kind(), ConfigFileErrorKind::Format);
    dir.assert_place(&error, 3, "propagate.routes[0].pattern");
}

#[test]
fn a_key_file_is_read_from_the_configuration_files_directory() {
    // The same text, loaded from elsewhere, does not find the key: paths are relative
    // to the file, not to the working directory.
    let dir = Dir::new();
    assert!(dir.load(SIGNING).unwrap().passport_signing.is_some());
    let error = ServiceConfig::from_toml(Path::new("elsewhere/service.toml"), SIGNING).unwrap_err();
    assert_eq!(error.kind(), ConfigFileErrorKind::SecretUnavailable);
    assert_eq!(error.field(), "passport_signing.key_file");
}
