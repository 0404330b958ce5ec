//! Each demo service as its own process, with keys and certificates from the files
//! `demo --dev-pki DIR` writes: the dev IdP, `demo-audit`, `demo-documents` and
//! `demo-edge` on loopback ports of their choosing, then a human's and an agent's request
//! through the edge, for each pattern.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use examples::demo::DemoPattern;
use examples::demo::chain::{Persona, check};
use examples::demo::edge::EdgeAnswer;

/// The child processes of one test, killed when it ends (pass or fail).
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Processes {
    /// Starts `bin` with `args` and returns the last word of the first line it prints
    /// (the address or issuer it serves on).
    fn start(&mut self, bin: &str, args: &[String]) -> String {
        let mut child = Command::new(bin)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        // Keep reading what it prints after that line, so it never writes to a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        self.0.push(child);
        assert!(!line.is_empty(), "{bin} exited before serving");
        // `demo-x: serving on ADDR (pattern P)` or `dev-idp: issuer URL`.
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words
            .iter()
            .position(|w| *w == "on" || *w == "issuer")
            .unwrap();
        words[at + 1].to_owned()
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn file(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

async fn run_processes(pattern: DemoPattern) {
    let dir = std::env::temp_dir().join(format!(
        "demo-processes-{}-{}",
        pattern.as_str(),
        std::process::id()
    ));
    let status = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--pattern", pattern.as_str(), "--dev-pki"])
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let f = |name: &str| file(&dir, name);
    let p = pattern.as_str();
    let mut processes = Processes(Vec::new());

    let issuer = processes.start(
        env!("CARGO_BIN_EXE_dev-idp"),
        &args(&["--listen", "127.0.0.1:0"]),
    );
    let passthrough = pattern == DemoPattern::Passthrough;
    let idp: Vec<String> = if passthrough {
        args(&["--idp-issuer", &issuer])
    } else {
        Vec::new()
    };
    let tls = |name: &str| {
        args(&[
            "--ca",
            &f("ca.pem"),
            "--cert",
            &f(&format!("{name}.pem")),
            "--key",
            &f(&format!("{name}-key.pem")),
        ])
    };
    let keys = |name: &str| {
        args(&[
            "--mint-key",
            &f(&format!("{name}-mint-key.pem")),
            "--passport-key",
            &f(&format!("{name}-passport-key.pem")),
        ])
    };
    let common = |name: &str| {
        let mut all = args(&["--listen", "127.0.0.1:0", "--pattern", p]);
        all.extend(tls(name));
        all
    };

    let mut audit_args = common("audit");
    audit_args.extend(args(&["--caller", &f("documents-trust.json")]));
    audit_args.extend(idp.clone());
    let audit = processes.start(env!("CARGO_BIN_EXE_demo-audit"), &audit_args);

    let mut documents_args = common("documents");
    documents_args.extend(keys("documents"));
    documents_args.extend(args(&[
        "--caller",
        &f("edge-trust.json"),
        "--audit",
        &audit,
    ]));
    documents_args.extend(idp);
    let documents = processes.start(env!("CARGO_BIN_EXE_demo-documents"), &documents_args);

    let mut edge_args = common("edge");
    edge_args.extend(keys("edge"));
    edge_args.extend(args(&["--documents", &documents, "--idp-issuer", &issuer]));
    let edge = processes.start(env!("CARGO_BIN_EXE_demo-edge"), &edge_args);

    let http = reqwest::Client::new();
    for persona in [Persona::Human, Persona::AgentForHuman] {
        let token: serde_json::Value = serde_json::from_slice(
            &http
                .post(format!("{issuer}/token"))
                .header("content-type", "application/json")
                .body(persona.token_request().to_string())
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        let token = token["access_token"].as_str().unwrap();
        for path in ["/documents/d-3", "/documents"] {
            let response = http
                .get(format!("http://{edge}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{pattern} {persona:?} {path}");
            let answer: EdgeAnswer =
                serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            check(&answer, pattern, persona).unwrap();
            let documents_hop = &answer.items[0].hops[1];
            assert_eq!(
                documents_hop.peer.as_deref(),
                Some("spiffe://demo.test/edge")
            );
            assert_eq!(documents_hop.pattern, pattern.verified_as().as_str());
        }
    }
    drop(processes);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn passthrough_processes() {
    run_processes(DemoPattern::Passthrough).await;
}

#[tokio::test]
async fn internal_jwt_processes() {
    run_processes(DemoPattern::InternalJwt).await;
}

#[tokio::test]
async fn signed_passport_processes() {
    run_processes(DemoPattern::SignedPassport).await;
}

#[tokio::test]
async fn unsigned_passport_processes() {
    run_processes(DemoPattern::UnsignedPassport).await;
}

#[tokio::test]
async fn a_service_refuses_to_start_on_a_missing_or_foreign_key_file() {
    let dir = std::env::temp_dir().join(format!("demo-processes-bad-{}", std::process::id()));
    examples::demo::process::write_dev_set(&dir).unwrap();
    let f = |name: &str| file(&dir, name);
    // The edge's passport key given as its mint key: refused, nothing served.
    let output = Command::new(env!("CARGO_BIN_EXE_demo-edge"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--ca",
            &f("ca.pem"),
            "--cert",
            &f("edge.pem"),
            "--key",
            &f("edge-key.pem"),
            "--mint-key",
            &f("edge-passport-key.pem"),
            "--passport-key",
            &f("edge-passport-key.pem"),
            "--idp-issuer",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("internal JWT signing key"));
    assert!(output.stdout.is_empty());
    // A passthrough hop without the identity provider: refused.
    let output = Command::new(env!("CARGO_BIN_EXE_demo-audit"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--pattern",
            "passthrough",
            "--ca",
            &f("ca.pem"),
            "--cert",
            &f("audit.pem"),
            "--key",
            &f("audit-key.pem"),
            "--caller",
            &f("documents-trust.json"),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("identity provider"));
    // A missing file.
    let output = Command::new(env!("CARGO_BIN_EXE_demo-audit"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--ca",
            &f("ca.pem"),
            "--cert",
            &f("audit.pem"),
            "--key",
            &f("no-such-key.pem"),
            "--caller",
            &f("documents-trust.json"),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no-such-key.pem"));
    std::fs::remove_dir_all(&dir).ok();
}
