//! The `edge` example end to end, over real HTTP on loopback: in-process against
//! tower-auth's DevIdp and against a "foreign" OpenID Connect provider written here (one
//! the edge was never built for), and as the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Json;
use axum::Router;
use axum::routing::get as route_get;
use examples::edge::{Edge, EdgeArgs, EdgeError};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{Clock, SystemClock};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower_auth::dev_idp::{DevIdp, Override};

const INVALID_TOKEN: &str = r#"Bearer error="invalid_token""#;

/// Kills the child process it holds when dropped, so a failing test leaves none behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn now() -> i64 {
    SystemClock.now().as_unix_seconds()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn dev_idp() -> DevIdp {
    DevIdp::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// Starts an edge in-process with `flags` (and `--listen 127.0.0.1:0`); the listener is
/// bound before `serve` is spawned, so requests can follow at once.
async fn start_edge(flags: &[&str]) -> SocketAddr {
    let mut argv = vec!["edge", "--listen", "127.0.0.1:0"];
    argv.extend_from_slice(flags);
    let args = EdgeArgs::try_parse_from(argv).unwrap();
    let edge = Edge::start(&args).await.unwrap();
    let addr = edge.local_addr();
    tokio::spawn(edge.serve(std::future::pending()));
    addr
}

/// A token from the DevIdp's own `POST /token`, as a person following the README would
/// get one.
async fn token_from_endpoint(idp: &DevIdp, body: Value) -> String {
    let answer = client()
        .post(idp.token_url())
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .text()
        .await
        .unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

/// GET `path` with an optional bearer token: (status, WWW-Authenticate, body).
async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, Option<String>, String) {
    let mut request = client().get(format!("http://{addr}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.text().await.unwrap();
    (status, challenge, body)
}

fn dev_claims(idp: &DevIdp, aud: &str) -> Value {
    json!({
        "iss": idp.issuer(), "sub": "alice", "aud": aud, "scope": "orders:read profile",
        "iat": now(), "exp": now() + 300, "jti": "jti-alice-1",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_answers_the_verified_principal_given_only_the_issuer() {
    let idp = dev_idp().await;
    let edge = start_edge(&["--issuer", idp.issuer(), "--audience", "api"]).await;
    let token = token_from_endpoint(
        &idp,
        json!({"sub": "alice", "aud": "api", "scope": "orders:read profile", "alg": "ES256"}),
    )
    .await;

    let (status, challenge, body) = get(edge, "/whoami", Some(&token)).await;
    assert_eq!((status, challenge), (200, None), "{body}");
    let principal: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(principal["issuer"], idp.issuer());
    assert_eq!(principal["subject"], "alice");
    assert_eq!(principal["kind"], "human");
    assert!(
        principal["id"].as_str().unwrap().starts_with("hm-"),
        "{body}"
    );
    assert_eq!(principal["audiences"], json!(["api"]));
    assert_eq!(
        principal["scopes"],
        json!(["orders:read", "profile"]),
        "{body}"
    );
    assert!(principal["expires_at"].is_i64(), "{body}");
    assert_eq!(principal["delegation"], json!([]));
    // Discovery found the keys: the edge was told the issuer URL, nothing else.
    assert_eq!(idp.discovery_requests(), 1);

    // Each of the DevIdp's algorithms.
    for alg in [Algorithm::RS256, Algorithm::EdDSA] {
        let token = idp.issue(dev_claims(&idp, "api"), alg).unwrap();
        assert_eq!(get(edge, "/whoami", Some(&token)).await.0, 200, "{alg:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_rfc6750_with_an_empty_body() {
    let idp = dev_idp().await;
    let edge = start_edge(&["--issuer", idp.issuer(), "--audience", "api"]).await;

    // No credentials: a bare challenge, no error code (RFC 6750 §3.1).
    assert_eq!(
        get(edge, "/whoami", None).await,
        (401, Some("Bearer".to_owned()), String::new())
    );

    let refused = [
        // A token for another service.
        idp.issue(dev_claims(&idp, "billing"), Algorithm::ES256)
            .unwrap(),
        // Expired beyond the default leeway.
        idp.issue(
            json!({"iss": idp.issuer(), "sub": "alice", "aud": "api", "exp": now() - 120}),
            Algorithm::ES256,
        )
        .unwrap(),
        // An issuer the edge does not trust.
        idp.issue(
            json!({"iss": "http://127.0.0.1:1", "sub": "alice", "aud": "api", "exp": now() + 300}),
            Algorithm::ES256,
        )
        .unwrap(),
        // Not a JWT.
        "not-a-jwt".to_owned(),
    ];
    for token in refused {
        assert_eq!(
            get(edge, "/whoami", Some(&token)).await,
            (401, Some(INVALID_TOKEN.to_owned()), String::new()),
            "{token}"
        );
    }

    // A signature that does not match: the payload of another valid token.
    let good = idp
        .issue(dev_claims(&idp, "api"), Algorithm::ES256)
        .unwrap();
    let other = idp
        .issue(dev_claims(&idp, "billing"), Algorithm::ES256)
        .unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        other.split('.').nth(1).unwrap(),
        parts[2]
    );
    assert_eq!(
        get(edge, "/whoami", Some(&forged)).await,
        (401, Some(INVALID_TOKEN.to_owned()), String::new())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_404_and_bare_needs_no_token() {
    let idp = dev_idp().await;
    let edge = start_edge(&["--issuer", idp.issuer(), "--audience", "api"]).await;

    // The layer is a route_layer: no 401 for a path that does not exist.
    assert_eq!(get(edge, "/nope", None).await.0, 404);

    let (status, _, body) = get(edge, "/bare", None).await;
    assert_eq!(status, 200);
    let sample: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(sample["subject"], "bare");
    assert_eq!(sample["issuer"], idp.issuer());
}

/// Answers the spoofable headers that reached it, as JSON: `{"x-principal-bin": [...],
/// "x-baton-internal-token": [...]}`.
async fn spoofable_headers_seen(headers: axum::http::HeaderMap) -> Json<Value> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    };
    Json(json!({
        "x-principal-bin": values("x-principal-bin"),
        "x-baton-internal-token": values("x-baton-internal-token"),
        "x-request-id": values("x-request-id"),
    }))
}

/// GET `path` with spoofed `x-principal-bin` (twice, mixed case) and
/// `x-baton-internal-token` headers: (status, body).
async fn get_spoofed(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut request = client()
        .get(format!("http://{addr}{path}"))
        .header("x-principal-bin", "Zm9yZ2VkIHBhc3Nwb3J0")
        .header("X-Principal-Bin", "c2Vjb25k")
        .header("x-baton-internal-token", "eyJ0.eyJ1.c2ln")
        .header("x-request-id", "r-spoof");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_headers_never_reach_a_handler_without_authentication_or_the_fallback() {
    let idp = dev_idp().await;
    let args = EdgeArgs::try_parse_from([
        "edge",
        "--listen",
        "127.0.0.1:0",
        "--issuer",
        idp.issuer(),
        "--audience",
        "api",
    ])
    .unwrap();
    // Behind the edge: a route without authentication, and a catch-all fallback.
    let behind = Router::new()
        .route("/public", route_get(spoofable_headers_seen))
        .fallback(spoofable_headers_seen);
    let edge = Edge::start_with_fallback(&args, behind).await.unwrap();
    let addr = edge.local_addr();
    tokio::spawn(edge.serve(std::future::pending()));

    let stripped = json!({
        "x-principal-bin": [],
        "x-baton-internal-token": [],
        "x-request-id": ["r-spoof"],
    });
    for path in ["/public", "/no/such/route", "/whoami/extra"] {
        let (status, body) = get_spoofed(addr, path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        let seen: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(seen, stripped, "{path}");
    }
    // A valid bearer token does not change what an unauthenticated route sees.
    let token = idp
        .issue(dev_claims(&idp, "api"), Algorithm::ES256)
        .unwrap();
    let (_, body) = get_spoofed(addr, "/public", Some(&token)).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), stripped);

    // The edge's own routes still answer as before, spoofed headers or not.
    let (status, body) = get_spoofed(addr, "/bare", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["subject"],
        "bare"
    );
    let (status, body) = get_spoofed(addr, "/whoami", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["subject"],
        "alice"
    );
    assert_eq!(get_spoofed(addr, "/whoami", None).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_typ_refuses_tokens_without_it() {
    let idp = dev_idp().await;
    let edge = start_edge(&[
        "--issuer",
        idp.issuer(),
        "--audience",
        "api",
        "--require-typ",
        "at+jwt",
    ])
    .await;
    // The DevIdp signs with `typ: JWT`.
    let token = idp
        .issue(dev_claims(&idp, "api"), Algorithm::ES256)
        .unwrap();
    assert_eq!(
        get(edge, "/whoami", Some(&token)).await,
        (401, Some(INVALID_TOKEN.to_owned()), String::new())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cache_still_verifies() {
    let idp = dev_idp().await;
    let edge = start_edge(&["--issuer", idp.issuer(), "--audience", "api", "--no-cache"]).await;
    let token = idp
        .issue(dev_claims(&idp, "api"), Algorithm::ES256)
        .unwrap();
    for _ in 0..3 {
        let (status, _, body) = get(edge, "/whoami", Some(&token)).await;
        assert_eq!(status, 200, "{body}");
    }
    let other = idp
        .issue(dev_claims(&idp, "billing"), Algorithm::ES256)
        .unwrap();
    assert_eq!(get(edge, "/whoami", Some(&other)).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leeway_and_max_token_bytes_flags_apply() {
    let idp = dev_idp().await;
    let expired_a_minute_ago = idp
        .issue(
            json!({"iss": idp.issuer(), "sub": "alice", "aud": "api", "exp": now() - 60}),
            Algorithm::ES256,
        )
        .unwrap();
    let strict = start_edge(&["--issuer", idp.issuer(), "--audience", "api"]).await;
    assert_eq!(
        get(strict, "/whoami", Some(&expired_a_minute_ago)).await.0,
        401
    );
    let lenient = start_edge(&[
        "--issuer",
        idp.issuer(),
        "--audience",
        "api",
        "--leeway",
        "120",
    ])
    .await;
    assert_eq!(
        get(lenient, "/whoami", Some(&expired_a_minute_ago)).await.0,
        200
    );

    let token = idp
        .issue(dev_claims(&idp, "api"), Algorithm::ES256)
        .unwrap();
    let small = start_edge(&[
        "--issuer",
        idp.issuer(),
        "--audience",
        "api",
        "--max-token-bytes",
        "100",
    ])
    .await;
    assert_eq!(
        get(small, "/whoami", Some(&token)).await,
        (401, Some(INVALID_TOKEN.to_owned()), String::new())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_fails_clearly_when_the_idp_is_down_or_a_flag_is_refused() {
    let idp = dev_idp().await;
    idp.set_response(Override::Down);
    let args = EdgeArgs::try_parse_from([
        "edge",
        "--issuer",
        idp.issuer(),
        "--audience",
        "api",
        "--listen",
        "127.0.0.1:0",
    ])
    .unwrap();
    let error = Edge::start(&args).await.unwrap_err();
    assert!(
        matches!(error, EdgeError::KeysUnavailable { ref issuer, .. } if issuer == idp.issuer())
    );
    assert_eq!(error.reason(), "keys_unavailable");
    assert!(
        error.to_string().contains("is the identity provider up"),
        "{error}"
    );

    idp.set_response(Override::Normal);
    for (flag, value) in [
        ("--leeway", "100000"),
        ("--max-token-bytes", "0"),
        ("--require-typ", ""),
    ] {
        let args = EdgeArgs::try_parse_from([
            "edge",
            "--issuer",
            idp.issuer(),
            "--audience",
            "api",
            "--listen",
            "127.0.0.1:0",
            flag,
            value,
        ])
        .unwrap();
        let error = Edge::start(&args).await.unwrap_err();
        assert!(
            matches!(error, EdgeError::Config { .. }),
            "{flag}: {error:?}"
        );
    }
    let remote_http = EdgeArgs::try_parse_from([
        "edge",
        "--issuer",
        "http://id.example.com",
        "--audience",
        "api",
    ])
    .unwrap();
    let error = Edge::start(&remote_http).await.unwrap_err();
    assert!(matches!(error, EdgeError::Config { .. }), "{error:?}");
}

/// An OpenID Connect provider that is not Baton's: Keycloak-like paths (issuer with a
/// path, `jwks_uri` elsewhere), its own ES256 key, `typ: at+jwt` access tokens.
struct ForeignIdp {
    issuer: String,
    jwks_uri: String,
    kid: &'static str,
    key: EncodingKey,
    discovery_requests: Arc<AtomicU64>,
    jwks_requests: Arc<AtomicU64>,
}

impl ForeignIdp {
    async fn start() -> ForeignIdp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}/realms/acme");
        let jwks_uri = format!("{issuer}/protocol/openid-connect/certs");
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let key = EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref());
        let kid = "acme-2024";
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap()).unwrap();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        let jwks = json!({ "keys": [jwk] });
        let metadata = json!({
            "issuer": issuer,
            "jwks_uri": jwks_uri,
            "authorization_endpoint": format!("{issuer}/protocol/openid-connect/auth"),
            "token_endpoint": format!("{issuer}/protocol/openid-connect/token"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        });
        let discovery_requests = Arc::new(AtomicU64::new(0));
        let jwks_requests = Arc::new(AtomicU64::new(0));
        let (d, j) = (Arc::clone(&discovery_requests), Arc::clone(&jwks_requests));
        let router = Router::new()
            .route(
                "/realms/acme/.well-known/openid-configuration",
                route_get(move || async move {
                    d.fetch_add(1, Ordering::SeqCst);
                    Json(metadata)
                }),
            )
            .route(
                "/realms/acme/protocol/openid-connect/certs",
                route_get(move || async move {
                    j.fetch_add(1, Ordering::SeqCst);
                    Json(jwks)
                }),
            );
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        ForeignIdp {
            issuer,
            jwks_uri,
            kid,
            key,
            discovery_requests,
            jwks_requests,
        }
    }

    fn access_token(&self, typ: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.kid.to_owned());
        let claims = json!({
            "iss": self.issuer, "sub": "3f0c2b1a-9d8e-4c7b-a6f5-e4d3c2b1a0f9",
            "aud": ["api", "account"], "azp": "web", "typ": "Bearer",
            "scope": "openid profile", "preferred_username": "carol",
            "iat": now(), "exp": now() + 300, "jti": "6e1f0c9a-0000-4000-8000-000000000001",
        });
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifies_a_foreign_oidc_provider_from_its_issuer_url_alone() {
    let foreign = ForeignIdp::start().await;
    let edge = start_edge(&[
        "--issuer",
        &foreign.issuer,
        "--audience",
        "api",
        "--require-typ",
        "application/at+jwt",
    ])
    .await;

    let (status, _, body) = get(edge, "/whoami", Some(&foreign.access_token("at+jwt"))).await;
    assert_eq!(status, 200, "{body}");
    let principal: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(principal["issuer"], foreign.issuer);
    assert_eq!(principal["subject"], "3f0c2b1a-9d8e-4c7b-a6f5-e4d3c2b1a0f9");
    assert_eq!(principal["kind"], "human");
    assert_eq!(principal["audiences"], json!(["api", "account"]));
    assert_eq!(foreign.discovery_requests.load(Ordering::SeqCst), 1);
    assert_eq!(foreign.jwks_requests.load(Ordering::SeqCst), 1);

    // `application/at+jwt` is the same type; an ID-token-like `JWT` is refused.
    let (status, _, _) = get(
        edge,
        "/whoami",
        Some(&foreign.access_token("application/at+jwt")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(edge, "/whoami", Some(&foreign.access_token("JWT"))).await,
        (401, Some(INVALID_TOKEN.to_owned()), String::new())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_url_skips_discovery_for_its_issuer_only() {
    let foreign = ForeignIdp::start().await;
    let idp = dev_idp().await;
    let edge = start_edge(&[
        "--issuer",
        &foreign.issuer,
        "--jwks-url",
        &foreign.jwks_uri,
        "--issuer",
        idp.issuer(),
        "--audience",
        "api",
    ])
    .await;
    assert_eq!(foreign.discovery_requests.load(Ordering::SeqCst), 0);
    assert_eq!(foreign.jwks_requests.load(Ordering::SeqCst), 1);
    assert_eq!(idp.discovery_requests(), 1);

    // Both issuers are trusted at once.
    let (status, _, body) = get(edge, "/whoami", Some(&foreign.access_token("at+jwt"))).await;
    assert_eq!(status, 200, "{body}");
    let token = idp
        .issue(dev_claims(&idp, "api"), Algorithm::ES256)
        .unwrap();
    let (status, _, body) = get(edge, "/whoami", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
}

/// The real binary: one line on stdout when it serves, then answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_one_line_and_serves() {
    let idp = dev_idp().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_edge"))
        .args([
            "--issuer",
            idp.issuer(),
            "--audience",
            "api",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut child = KillOnDrop(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        (line, stdout)
    })
    .await
    .unwrap();
    let (line, mut stdout) = line;
    let expected_tail = format!(" (issuers: {})\n", idp.issuer());
    assert!(
        line.starts_with("edge: serving on http://127.0.0.1:"),
        "{line}"
    );
    assert!(line.ends_with(&expected_tail), "{line}");
    let addr: SocketAddr = line
        .trim_start_matches("edge: serving on http://")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    let token = idp
        .issue(dev_claims(&idp, "api"), Algorithm::ES256)
        .unwrap();
    let (status, _, body) = get(addr, "/whoami", Some(&token)).await;
    assert_eq!(status, 200, "{body}");

    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "the edge prints exactly one line");
}

/// Reads `stream` line by line on a thread of its own; the lines arrive on the receiver.
fn lines_of(stream: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}

/// The next line from `lines` that is a JSON object matching `wanted`; fails the test if
/// none arrives within 20 s or the stream ends. Lines that are not JSON fail it too:
/// every log line is one JSON object.
fn next_json_line(
    lines: &std::sync::mpsc::Receiver<String>,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = lines
            .recv_timeout(left)
            .expect("the awaited log line never came");
        let event: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        if wanted(&event) {
            return event;
        }
    }
}

/// The real binary with its default logging (no `RUST_LOG`): each authenticated request
/// writes one audit event as a JSON line on stderr (through the non-blocking writer), and
/// what is queued at shutdown is flushed, not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_writes_audit_events_as_json_lines_by_default() {
    let idp = dev_idp().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_edge"))
        .args([
            "--issuer",
            idp.issuer(),
            "--audience",
            "api",
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let child = KillOnDrop(child);
    let banner = tokio::task::spawn_blocking(move || {
        stdout
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap()
    })
    .await
    .unwrap();
    let addr: SocketAddr = banner
        .trim_start_matches("edge: serving on http://")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    let token = idp
        .issue(dev_claims(&idp, "api"), Algorithm::ES256)
        .unwrap();
    let response = client()
        .get(format!("http://{addr}/whoami"))
        .bearer_auth(&token)
        .header("x-request-id", "r-audit-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let refused = client()
        .get(format!("http://{addr}/whoami"))
        .bearer_auth("eyJhbGciOiJFUzI1NiJ9.e30.c2ln")
        .header("x-request-id", "r-audit-2")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let (stderr, accepted, rejected) = tokio::task::spawn_blocking(move || {
        let audit = |id: &'static str| {
            move |event: &Value| event["target"] == "baton::audit" && event["request_id"] == id
        };
        let accepted = next_json_line(&stderr, audit("r-audit-1"));
        let rejected = next_json_line(&stderr, audit("r-audit-2"));
        (stderr, accepted, rejected)
    })
    .await
    .unwrap();
    assert_eq!(accepted["level"], "INFO", "{accepted}");
    assert_eq!(accepted["outcome"], "accepted", "{accepted}");
    assert_eq!(accepted["reason"], "verified", "{accepted}");
    assert_eq!(accepted["pattern"], "jwt_passthrough", "{accepted}");
    assert_eq!(accepted["kind"], "human", "{accepted}");
    assert!(
        accepted["principal_id"]
            .as_str()
            .unwrap()
            .starts_with("hm-"),
        "{accepted}"
    );
    assert!(accepted["timestamp"].is_string(), "{accepted}");
    assert_eq!(rejected["outcome"], "rejected", "{rejected}");
    assert_eq!(rejected["principal_id"], "-", "{rejected}");
    // The token itself is never logged.
    assert!(!accepted.to_string().contains(&token));

    // SIGTERM: the edge shuts down gracefully, and the line it logs last reaches stderr
    // (main holds the writer's guard to its end, and dropping it flushes).
    #[cfg(unix)]
    {
        let pid = child.0.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let stopped = tokio::task::spawn_blocking(move || {
            next_json_line(&stderr, |event| event["message"] == "edge: shutting down")
        })
        .await
        .unwrap();
        assert_eq!(stopped["level"], "INFO");
    }
}

#[test]
fn the_binary_refuses_bad_flags_with_status_2() {
    for (args, needle) in [
        (vec!["--issuer", "https://a.example"], "--audience"),
        (
            vec![
                "--jwks-url",
                "https://a.example/k",
                "--issuer",
                "https://a.example",
                "--audience",
                "api",
            ],
            "comes before every --issuer",
        ),
        (
            vec![
                "--issuer",
                "https://a.example",
                "--audience",
                "api",
                "--leeway",
                "soon",
            ],
            "--leeway",
        ),
        (
            vec![
                "--issuer",
                "https://a.example",
                "--audience",
                "api",
                "--bogus",
            ],
            "--bogus",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_edge"))
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_1_with_a_clear_message_when_the_idp_is_down() {
    let idp = dev_idp().await;
    idp.set_response(Override::Down);
    let issuer = idp.issuer().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_edge"))
            .args([
                "--issuer",
                &issuer,
                "--audience",
                "api",
                "--listen",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", "off")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot load the signing keys of issuer"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_fails_when_the_address_is_taken() {
    let idp = dev_idp().await;
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let args = EdgeArgs::try_parse_from([
        "edge",
        "--issuer",
        idp.issuer(),
        "--audience",
        "api",
        "--listen",
        &addr,
    ])
    .unwrap();
    let error = Edge::start(&args).await.unwrap_err();
    assert!(matches!(error, EdgeError::Bind { .. }), "{error:?}");
    assert_eq!(error.reason(), "bind_failed");
}

/// The `dev-idp` binary: its first line names the issuer, which serves discovery and
/// tokens the edge accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_idp_binary_serves_a_usable_issuer() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dev-idp"))
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let _child = KillOnDrop(child);
    let (first, rest) = tokio::task::spawn_blocking(move || {
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        // The curl and edge hints follow.
        let mut rest = String::new();
        for _ in 0..4 {
            stdout.read_line(&mut rest).unwrap();
        }
        (first, rest)
    })
    .await
    .unwrap();
    let issuer = first
        .trim()
        .strip_prefix("dev-idp: issuer ")
        .unwrap()
        .to_owned();
    assert!(issuer.starts_with("http://127.0.0.1:"), "{first}");
    assert!(
        rest.contains(&format!("curl -s -X POST {issuer}/token")),
        "{rest}"
    );
    assert!(
        rest.contains(&format!("--bin edge -- --issuer {issuer} --audience api")),
        "{rest}"
    );

    let edge = start_edge(&["--issuer", &issuer, "--audience", "api"]).await;
    let answer = client()
        .post(format!("{issuer}/token"))
        .header("content-type", "application/json")
        .body(r#"{"sub": "alice", "aud": "api", "alg": "ES256"}"#)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let token = answer["access_token"].as_str().unwrap();
    let (status, _, body) = get(edge, "/whoami", Some(token)).await;
    assert_eq!(status, 200, "{body}");
}

#[test]
fn the_dev_idp_binary_refuses_a_non_loopback_address() {
    let output = Command::new(env!("CARGO_BIN_EXE_dev-idp"))
        .args(["--listen", "0.0.0.0:0"])
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("loopback only"), "{stderr}");
}

/// `--introspect`: opaque tokens of the development IdP go to its RFC 7662 endpoint, JWTs
/// still to the JWT verifier; a revoked opaque token is refused; without a secret the
/// edge does not start.
#[tokio::test]
async fn introspect_accepts_opaque_tokens_next_to_jwts() {
    let idp = dev_idp().await;
    let secret_file =
        std::env::temp_dir().join(format!("baton-edge-secret-{}", std::process::id()));
    std::fs::write(&secret_file, "s3cret\n").unwrap();
    let addr = start_edge(&[
        "--issuer",
        idp.issuer(),
        "--audience",
        "api",
        "--introspect",
        &idp.introspection_url(),
        "--client-id",
        "edge",
        "--client-secret-file",
        secret_file.to_str().unwrap(),
    ])
    .await;
    std::fs::remove_file(&secret_file).unwrap();

    let opaque = idp
        .issue_opaque(json!({
            "iss": idp.issuer(), "sub": "bob", "aud": "api", "scope": "orders:read",
            "iat": now(), "exp": now() + 300,
        }))
        .unwrap();
    let (status, _, body) = get(addr, "/whoami", Some(&opaque)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("bob"), "{body}");
    let calls = idp.introspection_requests();
    assert_eq!(calls, 1);

    // A JWT is not sent to introspection.
    let jwt = idp
        .issue(dev_claims(&idp, "api"), Algorithm::ES256)
        .unwrap();
    let (status, _, body) = get(addr, "/whoami", Some(&jwt)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("alice"), "{body}");
    assert_eq!(idp.introspection_requests(), calls);

    // An opaque token for another audience, and an unknown one: refused.
    let other = idp
        .issue_opaque(
            json!({"iss": idp.issuer(), "sub": "eve", "aud": "billing", "exp": now() + 300}),
        )
        .unwrap();
    for refused in [other.as_str(), "0123456789abcdef0123456789abcdef"] {
        let (status, challenge, _) = get(addr, "/whoami", Some(refused)).await;
        assert_eq!(status, 401);
        assert_eq!(
            challenge.as_deref(),
            Some(r#"Bearer error="invalid_token""#)
        );
    }

    // No secret anywhere: the edge refuses to start and says what is missing.
    let args = EdgeArgs::try_parse_from([
        "edge",
        "--issuer",
        idp.issuer(),
        "--audience",
        "api",
        "--listen",
        "127.0.0.1:0",
        "--introspect",
        &idp.introspection_url(),
        "--client-id",
        "edge",
        "--client-secret-file",
        "/nonexistent/baton-secret",
    ])
    .unwrap();
    let error = Edge::start(&args).await.unwrap_err();
    assert_eq!(error.reason(), "client_secret_unavailable");
}

/// `GET /metrics`: Prometheus text from the exporter's recorder, with the series of the
/// requests just served (other tests of this binary add to the same global recorder, so
/// counts are at least, not exactly, what this test sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_answers_prometheus_text_with_the_baton_series() {
    let idp = dev_idp().await;
    let addr = start_edge(&["--issuer", idp.issuer(), "--audience", "api"]).await;
    let token = idp
        .issue(dev_claims(&idp, "api"), Algorithm::ES256)
        .unwrap();
    assert_eq!(get(addr, "/whoami", Some(&token)).await.0, 200);
    assert_eq!(get(addr, "/whoami", None).await.0, 401);

    let response = client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4"
    );
    let text = response.text().await.unwrap();
    let at_least_one = |name: &str, labels: &[&str]| {
        let found = text.lines().any(|line| {
            line.starts_with(&format!("{name}{{"))
                && labels.iter().all(|label| line.contains(label))
                && line
                    .rsplit(' ')
                    .next()
                    .and_then(|value| value.parse::<f64>().ok())
                    .is_some_and(|value| value >= 1.0)
        });
        assert!(found, "{name} {labels:?} in:\n{text}");
    };
    at_least_one(
        "baton_auth_decisions_total",
        &[
            r#"pattern="jwt_passthrough""#,
            r#"outcome="accepted""#,
            r#"reason="verified""#,
        ],
    );
    at_least_one(
        "baton_auth_decisions_total",
        &[r#"outcome="rejected""#, r#"reason="missing_token""#],
    );
    at_least_one(
        "baton_verification_duration_seconds_count",
        &[r#"pattern="jwt_passthrough""#],
    );
    at_least_one(
        "baton_jwks_refreshes_total",
        &[
            &format!(r#"issuer="{}""#, idp.issuer()),
            r#"outcome="updated""#,
        ],
    );
    at_least_one("baton_cache_misses_total", &[r#"cache="verified_token""#]);
    assert!(
        text.contains("# TYPE baton_auth_decisions_total counter"),
        "{text}"
    );
    assert!(!text.contains(&token));
}
