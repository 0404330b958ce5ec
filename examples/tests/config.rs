//! The example services start from the files in `examples/config/`: every shipped file
//! loads and validates, and the edge serves under the passthrough and introspection files
//! (pointed at a development identity provider on loopback).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use examples::edge::{Edge, EdgeArgs};
use serde_json::{Value, json};
use tower_auth::config::{ConfigFileErrorKind, ServiceConfig};
use tower_auth::dev_idp::DevIdp;

/// The address the shipped files name for the dev IdP (`cargo run --bin dev-idp`).
const SHIPPED_IDP: &str = "http://127.0.0.1:9000";

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

#[test]
fn every_shipped_config_file_loads_and_validates() {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(config_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "toml") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let config = ServiceConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
        // Each file configures its pattern.
        match name.as_str() {
            "passthrough" => assert!(config.jwt.is_some()),
            "introspection" => assert!(config.jwt.is_some() && config.introspection.is_some()),
            "internal-jwt" => {
                let mint = config.mint.as_ref().unwrap();
                assert_eq!(mint.issuer().as_str(), "https://edge.demo.test");
                let propagate = config.propagate.as_ref().unwrap();
                // The demo's documents service, on its default address.
                let route = propagate
                    .route_for(&"https://127.0.0.1:50051/d".parse().unwrap())
                    .unwrap();
                assert_eq!(route.kind(), "minted_jwt");
            }
            "internal-jwt-hop" => {
                let verifier = config.jwt.unwrap().build().unwrap();
                assert_eq!(
                    tower_auth::Verifier::pattern(&verifier),
                    tower_auth::Pattern::InternalJwt
                );
                let issuer = verifier.issuers().next().unwrap();
                assert_eq!(issuer.issuer().as_str(), "https://edge.demo.test");
                assert_eq!(issuer.minted_by().unwrap().as_str(), "svc-edge");
            }
            "passport" => {
                let passport = config.passport.as_ref().unwrap();
                assert_eq!(passport.audience().as_str(), "documents");
                assert!(passport.keys().is_some());
            }
            "workload" => {
                let workload = config.workload.as_ref().unwrap();
                assert_eq!(workload.trust_domain.as_str(), "demo.test");
                assert_eq!(workload.allowed_peers.iter().count(), 1);
            }
            other => panic!("{other}.toml: no expectation; add one here"),
        }
        seen.push(name);
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "internal-jwt",
            "internal-jwt-hop",
            "introspection",
            "passport",
            "passthrough",
            "workload"
        ]
    );
}

/// The shipped file `name`, pointed at `idp` and with its relative secret paths made
/// absolute, written to a fresh temporary directory.
fn shipped_for(name: &str, idp: &DevIdp) -> PathBuf {
    let text = std::fs::read_to_string(config_dir().join(name)).unwrap();
    let secrets = config_dir().join("dev-secrets");
    let text = text
        .replace(SHIPPED_IDP, idp.issuer())
        .replace("\"dev-secrets/", &format!("\"{}/", secrets.display()));
    write_temp(name, &text)
}

fn write_temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "baton-config-{}-{}",
        std::process::id(),
        name.replace('.', "-")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn start_edge(config: &Path) -> SocketAddr {
    let args = EdgeArgs::try_parse_from([
        "edge".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ])
    .unwrap();
    assert_eq!(args.config.as_deref(), Some(config));
    let edge = Edge::start(&args).await.unwrap();
    assert!(edge.banner().contains("from "), "{}", edge.banner());
    let addr = edge.local_addr();
    tokio::spawn(edge.serve(std::future::pending()));
    addr
}

async fn whoami(addr: SocketAddr, token: Option<&str>) -> (u16, String) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.get(format!("http://{addr}/whoami"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_serves_under_passthrough_toml() {
    let idp = DevIdp::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let edge = start_edge(&shipped_for("passthrough.toml", &idp)).await;
    let token = idp
        .issue(
            json!({"iss": idp.issuer(), "sub": "alice", "aud": "api", "iat": now(), "exp": now() + 300}),
            jsonwebtoken::Algorithm::ES256,
        )
        .unwrap();
    let (status, body) = whoami(edge, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let principal: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(principal["subject"], "alice");
    // The file's audience is enforced: a token for another audience is refused.
    let other = idp
        .issue(
            json!({"iss": idp.issuer(), "sub": "alice", "aud": "billing", "iat": now(), "exp": now() + 300}),
            jsonwebtoken::Algorithm::ES256,
        )
        .unwrap();
    assert_eq!(whoami(edge, Some(&other)).await.0, 401);
    assert_eq!(whoami(edge, None).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_serves_under_introspection_toml() {
    let idp = DevIdp::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let edge = start_edge(&shipped_for("introspection.toml", &idp)).await;
    let opaque = idp
        .issue_opaque(json!({
            "iss": idp.issuer(), "sub": "bob", "aud": "api", "iat": now(), "exp": now() + 300,
        }))
        .unwrap();
    let (status, body) = whoami(edge, Some(&opaque)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("bob"), "{body}");
    assert_eq!(idp.introspection_requests(), 1);
    // An unknown opaque token goes to the endpoint and is refused.
    assert_eq!(
        whoami(edge, Some("0123456789abcdef0123456789abcdef"))
            .await
            .0,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_refuses_a_bad_file_naming_file_line_and_field() {
    let text = std::fs::read_to_string(config_dir().join("passthrough.toml"))
        .unwrap()
        .replace("leeway_seconds = 30", "leeway_seconds = \"30\"");
    let path = write_temp("bad-type.toml", &text);
    let line = text
        .lines()
        .position(|l| l.starts_with("leeway_seconds"))
        .unwrap()
        + 1;
    let error = ServiceConfig::load(&path).unwrap_err();
    assert_eq!(error.kind(), ConfigFileErrorKind::WrongType);
    assert_eq!(error.line(), Some(line));
    assert_eq!(error.field(), "jwt.issuers[0].leeway_seconds");

    let args =
        EdgeArgs::try_parse_from(["edge".as_ref(), "--config".as_ref(), path.as_os_str()]).unwrap();
    let message = Edge::start(&args).await.unwrap_err().to_string();
    assert!(
        message.contains(&format!(
            "{}:{line}:18: jwt.issuers[0].leeway_seconds",
            path.display()
        )),
        "{message}"
    );

    // --config replaces the verifier flags: both at once is a command-line error.
    assert!(
        EdgeArgs::try_parse_from([
            "edge".as_ref(),
            "--config".as_ref(),
            path.as_os_str(),
            "--issuer".as_ref(),
            "https://a.example".as_ref(),
        ])
        .is_err()
    );
    // And without --config, --issuer and --audience are still required.
    assert!(EdgeArgs::try_parse_from(["edge"]).is_err());
}
