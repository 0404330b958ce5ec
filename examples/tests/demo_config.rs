//! The demo chain's services started with `--config` and the shipped files of
//! `examples/config/` (temporary copies with the development set's keys and the test's
//! addresses substituted): a human's request through edge → documents → audit succeeds,
//! and a request that only the file's settings refuse is refused. A file that lacks what
//! the service needs stops the start with an error naming the file and the section.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use examples::demo::DemoError;
use examples::demo::edge::{EdgeAnswer, EdgeFailure};
use examples::demo::process::{
    AuditArgs, DocumentsArgs, EdgeArgs, run_audit, run_documents, run_edge, write_dev_set,
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tower_auth::dev_idp::DevIdp;

/// The address the shipped files name for the dev IdP.
const SHIPPED_IDP: &str = "http://127.0.0.1:9000";

fn shipped(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config")
            .join(name),
    )
    .unwrap()
}

/// A development set and the copies of the shipped files, in one temporary directory.
struct Scene {
    dir: tempdir::Dir,
    idp: DevIdp,
    tasks: Vec<JoinHandle<Result<(), DemoError>>>,
}

mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

impl Scene {
    async fn new(name: &str) -> Scene {
        let dir = std::env::temp_dir().join(format!("demo-config-{name}-{}", std::process::id()));
        write_dev_set(&dir).unwrap();
        let idp = DevIdp::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        Scene {
            dir: tempdir::Dir(dir),
            idp,
            tasks: Vec::new(),
        }
    }

    fn file(&self, name: &str) -> String {
        self.dir.0.join(name).display().to_string()
    }

    /// `text` written as `name` in the scene's directory.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The edge's public passport key, as `edge-trust.json` holds it.
    fn edge_passport_key(&self) -> String {
        let trust: Value =
            serde_json::from_str(&std::fs::read_to_string(self.file("edge-trust.json")).unwrap())
                .unwrap();
        trust["passport_ed25519"].as_str().unwrap().to_owned()
    }

    /// `--ca`, `--cert`, `--key` of the workload `name`, and for a caller its keys.
    fn tls(&self, name: &str) -> Vec<String> {
        let keys = match name {
            "audit" => None,
            "documents" => Some("documents"),
            // The grpcurl workload calls as the edge would, with the edge's keys.
            _ => Some("edge"),
        };
        self.tls_with(name, keys)
    }

    /// `--ca`, `--cert`, `--key` of the workload `name`, and the keys of `keys`.
    fn tls_with(&self, name: &str, keys: Option<&str>) -> Vec<String> {
        let mut args = vec![
            "--listen".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--ca".to_owned(),
            self.file("ca.pem"),
            "--cert".to_owned(),
            self.file(&format!("{name}.pem")),
            "--key".to_owned(),
            self.file(&format!("{name}-key.pem")),
        ];
        if let Some(keys) = keys {
            args.extend([
                "--mint-key".to_owned(),
                self.file(&format!("{keys}-mint-key.pem")),
                "--passport-key".to_owned(),
                self.file(&format!("{keys}-passport-key.pem")),
            ]);
        }
        args
    }

    async fn start<F>(
        &mut self,
        run: impl FnOnce(tokio::sync::oneshot::Sender<SocketAddr>) -> F,
    ) -> SocketAddr
    where
        F: Future<Output = Result<(), DemoError>> + Send + 'static,
    {
        let (ready, addr) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(run(ready));
        match addr.await {
            Ok(addr) => {
                self.tasks.push(task);
                addr
            }
            Err(_) => panic!("did not start: {:?}", task.await.unwrap()),
        }
    }

    async fn audit(&mut self, extra: &[&str]) -> SocketAddr {
        let args = parse::<AuditArgs>("demo-audit", self.tls("audit"), extra);
        self.start(move |ready| async move {
            run_audit(
                &args,
                |addr| {
                    let _ = ready.send(addr);
                },
                std::future::pending(),
            )
            .await
        })
        .await
    }

    async fn documents(&mut self, audit: SocketAddr, extra: &[&str]) -> SocketAddr {
        let mut all = vec!["--audit".to_owned(), audit.to_string()];
        all.extend(extra.iter().map(|s| (*s).to_owned()));
        let args = parse::<DocumentsArgs>("demo-documents", self.tls("documents"), &all);
        self.start(move |ready| async move {
            run_documents(
                &args,
                |addr| {
                    let _ = ready.send(addr);
                },
                std::future::pending(),
            )
            .await
        })
        .await
    }

    /// An edge calling `documents` as the workload `workload` (its TLS files).
    async fn edge_as(
        &mut self,
        workload: &str,
        documents: SocketAddr,
        extra: &[&str],
    ) -> SocketAddr {
        let tls = self.tls(workload);
        self.edge_with(tls, documents, extra).await
    }

    async fn edge_with(
        &mut self,
        tls: Vec<String>,
        documents: SocketAddr,
        extra: &[&str],
    ) -> SocketAddr {
        let mut all = vec!["--documents".to_owned(), documents.to_string()];
        all.extend(extra.iter().map(|s| (*s).to_owned()));
        let args = parse::<EdgeArgs>("demo-edge", tls, &all);
        self.start(move |ready| async move {
            run_edge(
                &args,
                move |addr| {
                    let _ = ready.send(addr);
                },
                std::future::pending(),
            )
            .await
        })
        .await
    }

    async fn edge(&mut self, documents: SocketAddr, extra: &[&str]) -> SocketAddr {
        self.edge_as("edge", documents, extra).await
    }

    /// A token of the dev IdP for alice, audience `demo`, with `scope`.
    fn token(&self, scope: &str) -> String {
        self.idp
            .issue(
                json!({
                    "iss": self.idp.issuer(), "sub": "alice", "aud": "demo", "scope": scope,
                    "iat": now(), "exp": now() + 300,
                }),
                jsonwebtoken::Algorithm::ES256,
            )
            .unwrap()
    }
}

fn parse<T: Parser>(bin: &str, mut args: Vec<String>, extra: &[impl AsRef<str>]) -> T {
    args.extend(extra.iter().map(|s| s.as_ref().to_owned()));
    T::try_parse_from(std::iter::once(bin.to_owned()).chain(args)).unwrap()
}

/// `GET /documents/d-3` at `edge` with `token`: the status and the body.
async fn get(edge: SocketAddr, token: &str) -> (u16, Vec<u8>) {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{edge}/documents/d-3"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.bytes().await.unwrap().to_vec(),
    )
}

/// The request succeeds; what each hop saw: (service, pattern, caller, peer), with alice
/// as the subject everywhere.
async fn through(edge: SocketAddr, token: &str) -> Vec<(String, String, String, String)> {
    let (status, body) = get(edge, token).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: EdgeAnswer = serde_json::from_slice(&body).unwrap();
    let hops = &answer.items[0].hops;
    assert!(
        hops.iter()
            .all(|hop| hop.subject == "alice" && hop.kind == "human")
    );
    assert!(hops.iter().all(|hop| hop.request_id == hops[0].request_id));
    hops.iter()
        .map(|hop| {
            (
                hop.service.clone(),
                hop.pattern.clone(),
                hop.caller.clone().unwrap_or_default(),
                hop.peer.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// The request is refused behind the edge: the gRPC code documents answered.
async fn refused_behind(edge: SocketAddr, token: &str) -> String {
    let (status, body) = get(edge, token).await;
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    let failure: EdgeFailure = serde_json::from_slice(&body).unwrap();
    failure.code
}

fn hop(service: &str, pattern: &str, caller: &str, peer: &str) -> (String, String, String, String) {
    (
        service.to_owned(),
        pattern.to_owned(),
        caller.to_owned(),
        peer.to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_runs_on_internal_jwt_toml_and_internal_jwt_hop_toml() {
    let mut scene = Scene::new("internal-jwt").await;
    let hop_file = scene.write(
        "internal-jwt-hop.toml",
        &shipped("internal-jwt-hop.toml").replace(
            "\"keys/edge-jwks.json\"",
            &format!("{:?}", scene.file("edge-jwks.json")),
        ),
    );
    let audit = scene
        .audit(&[
            "--pattern",
            "internal-jwt",
            "--caller",
            &scene.file("documents-trust.json"),
        ])
        .await;
    let documents = scene
        .documents(
            audit,
            &[
                "--pattern",
                "internal-jwt",
                "--config",
                hop_file.to_str().unwrap(),
            ],
        )
        .await;
    let edge_text = shipped("internal-jwt.toml")
        .replace(SHIPPED_IDP, scene.idp.issuer())
        .replace(
            "generate_key = true",
            &format!("key_file = {:?}", scene.file("edge-mint-key.der")),
        )
        .replace("\"127.0.0.1:50051\"", &format!("\"{documents}\""));
    let edge_file = |audience: &str| {
        edge_text.replace(
            "audience = \"documents\"",
            &format!("audience = {audience:?}"),
        )
    };
    let edge_config = scene.write("internal-jwt.toml", &edge_file("documents"));
    // No --pattern: the route to documents is the file's.
    let edge = scene
        .edge(documents, &["--config", edge_config.to_str().unwrap()])
        .await;

    assert_eq!(
        through(edge, &scene.token("documents:read")).await,
        [
            hop("edge", "jwt_passthrough", "", ""),
            hop(
                "documents",
                "internal_jwt",
                "svc-edge",
                "spiffe://demo.test/edge"
            ),
            hop(
                "audit",
                "internal_jwt",
                "svc-documents",
                "spiffe://demo.test/documents"
            ),
        ]
    );
    // The edge's file requires documents:read (flags would not): refused at the edge,
    // 403 insufficient_scope.
    assert_eq!(get(edge, &scene.token("documents:write")).await.0, 403);

    // An edge minting for another audience: the hop's file accepts "documents" only.
    let wrong = scene.write("internal-jwt-audit.toml", &edge_file("audit"));
    let wrong = scene
        .edge(documents, &["--config", wrong.to_str().unwrap()])
        .await;
    assert_eq!(
        refused_behind(wrong, &scene.token("documents:read")).await,
        "Unauthenticated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_runs_on_passport_toml_signed_and_unsigned() {
    let mut scene = Scene::new("passport").await;
    let shipped_key = "zk/qMqiRkJwRxBhD9U+WXO2HeZ0YGSWjRfJGpLRUZkw=";
    let text = shipped("passport.toml");
    assert!(text.contains(shipped_key));
    let file = scene.write(
        "passport.toml",
        &text.replace(shipped_key, &scene.edge_passport_key()),
    );
    let audit = scene
        .audit(&["--caller", &scene.file("documents-trust.json")])
        .await;
    let documents = scene
        .documents(audit, &["--config", file.to_str().unwrap()])
        .await;
    let issuer = scene.idp.issuer().to_owned();
    let signed = scene
        .edge(
            documents,
            &["--pattern", "signed-passport", "--idp-issuer", &issuer],
        )
        .await;
    let unsigned = scene
        .edge(
            documents,
            &["--pattern", "unsigned-passport", "--idp-issuer", &issuer],
        )
        .await;
    let token = scene.token("documents:read");

    // One hop accepts both: signed by the file's key, and unsigned from its mTLS peer.
    let seen = through(signed, &token).await;
    assert_eq!(
        seen[1],
        hop(
            "documents",
            "passport",
            "svc-edge",
            "spiffe://demo.test/edge"
        )
    );
    let seen = through(unsigned, &token).await;
    assert_eq!(
        seen[1],
        hop(
            "documents",
            "passport",
            "spiffe://demo.test/edge",
            "spiffe://demo.test/edge"
        )
    );

    // Refused: passports signed with another key under the file's key id (`edge-1`:
    // documents' Ed25519 key, loaded as the edge's) ...
    let other_key = scene.tls_with("edge", Some("documents"));
    let forged = scene
        .edge_with(
            other_key,
            documents,
            &["--pattern", "signed-passport", "--idp-issuer", &issuer],
        )
        .await;
    assert_eq!(refused_behind(forged, &token).await, "Unauthenticated");
    // ... and unsigned ones from a workload not in unsigned_from.
    let stranger = scene
        .edge_as(
            "grpcurl",
            documents,
            &["--pattern", "unsigned-passport", "--idp-issuer", &issuer],
        )
        .await;
    assert_eq!(refused_behind(stranger, &token).await, "Unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_runs_on_workload_toml_and_refuses_a_peer_not_admitted() {
    let mut scene = Scene::new("workload").await;
    let file = scene.write("workload.toml", &shipped("workload.toml"));
    let audit = scene
        .audit(&[
            "--pattern",
            "unsigned-passport",
            "--caller",
            &scene.file("documents-trust.json"),
        ])
        .await;
    let documents = scene
        .documents(
            audit,
            &[
                "--pattern",
                "unsigned-passport",
                "--config",
                file.to_str().unwrap(),
            ],
        )
        .await;
    let issuer = scene.idp.issuer().to_owned();
    let args = [
        "--pattern",
        "unsigned-passport",
        "--idp-issuer",
        issuer.as_str(),
    ];
    let edge = scene.edge(documents, &args).await;
    let token = scene.token("documents:read");
    let seen = through(edge, &token).await;
    assert_eq!(
        seen[1],
        hop(
            "documents",
            "passport",
            "spiffe://demo.test/edge",
            "spiffe://demo.test/edge"
        )
    );

    // A workload of the trust domain that allowed_peers does not list: refused by the
    // [workload] gate (PERMISSION_DENIED) before its passport is read (which alone
    // would answer UNAUTHENTICATED).
    let stranger = scene.edge_as("grpcurl", documents, &args).await;
    assert_eq!(refused_behind(stranger, &token).await, "PermissionDenied");
}

/// Starts the service and returns the error it stopped with.
async fn start_error(run: impl Future<Output = Result<(), DemoError>>) -> DemoError {
    run.await.unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_without_what_the_service_needs_is_refused_naming_file_and_section() {
    let scene = Scene::new("missing").await;
    let never = || std::future::pending::<()>();

    // A hop whose file gives no verifier ([workload] alone).
    let only_workload = scene.write(
        "only-workload.toml",
        "[workload]\ntrust_domain = \"demo.test\"\nallowed_peers = [\"spiffe://demo.test/documents\"]\n",
    );
    let args = parse::<AuditArgs>(
        "demo-audit",
        scene.tls("audit"),
        &["--config", only_workload.to_str().unwrap()],
    );
    let error = start_error(run_audit(&args, |_| {}, never())).await;
    assert_eq!(error.reason(), "missing_section", "{error}");
    let message = error.to_string();
    assert!(
        message.contains("only-workload.toml")
            && message.contains("[jwt], [introspection] or [passport]"),
        "{message}"
    );

    // An edge whose file has no [jwt] (a hop's file).
    let passport = scene.write(
        "passport.toml",
        &shipped("passport.toml").replace(
            "zk/qMqiRkJwRxBhD9U+WXO2HeZ0YGSWjRfJGpLRUZkw=",
            &scene.edge_passport_key(),
        ),
    );
    let args = parse::<EdgeArgs>(
        "demo-edge",
        scene.tls("edge"),
        &["--config", passport.to_str().unwrap()],
    );
    let error = start_error(run_edge(&args, |_| {}, never())).await;
    assert_eq!(error.reason(), "missing_section", "{error}");
    assert!(
        error.to_string().contains("passport.toml: no [jwt]"),
        "{error}"
    );

    // An edge whose [propagate] has no route for the documents address it is given.
    let edge_file = scene.write(
        "internal-jwt.toml",
        &shipped("internal-jwt.toml").replace(SHIPPED_IDP, scene.idp.issuer()),
    );
    let args = parse::<EdgeArgs>(
        "demo-edge",
        scene.tls("edge"),
        &[
            "--config",
            edge_file.to_str().unwrap(),
            "--documents",
            "127.0.0.1:1",
        ],
    );
    let error = start_error(run_edge(&args, |_| {}, never())).await;
    assert_eq!(error.reason(), "missing_section", "{error}");
    let message = error.to_string();
    assert!(
        message.contains("internal-jwt.toml: no [[propagate.routes]]")
            && message.contains("destination 127.0.0.1:1"),
        "{message}"
    );

    // A route that attaches nothing to documents: no identity a hop could verify.
    let nothing = scene.write(
        "nothing.toml",
        &format!(
            "[[jwt.issuers]]\nissuer = \"{}\"\naudiences = [\"demo\"]\nkeys = \"oidc_discovery\"\n\n[[propagate.routes]]\ndestination = \"127.0.0.1:1\"\npattern = \"nothing\"\n",
            scene.idp.issuer()
        ),
    );
    let args = parse::<EdgeArgs>(
        "demo-edge",
        scene.tls("edge"),
        &[
            "--config",
            nothing.to_str().unwrap(),
            "--documents",
            "127.0.0.1:1",
        ],
    );
    let error = start_error(run_edge(&args, |_| {}, never())).await;
    assert_eq!(error.reason(), "config", "{error}");
    assert!(error.to_string().contains("attaches nothing"), "{error}");

    // A file the loader refuses: its name, line and field.
    let bad = scene.write(
        "bad.toml",
        "[workload]\ntrust_domain = \"demo.test\"\nallowed_peer = []\n",
    );
    let args = parse::<DocumentsArgs>(
        "demo-documents",
        scene.tls("documents"),
        &["--config", bad.to_str().unwrap()],
    );
    let error = start_error(run_documents(&args, |_| {}, never())).await;
    assert_eq!(error.reason(), "config_file", "{error}");
    assert!(
        error
            .to_string()
            .contains(&format!("{}:3:1: workload.allowed_peer", bad.display())),
        "{error}"
    );
}

#[test]
fn config_replaces_the_trust_flags_on_the_command_line() {
    let tls = ["--ca", "ca.pem", "--cert", "c.pem", "--key", "k.pem"];
    let parse_audit =
        |extra: &[&str]| AuditArgs::try_parse_from(["demo-audit"].iter().chain(&tls).chain(extra));
    assert!(parse_audit(&["--config", "a.toml"]).is_ok());
    assert!(parse_audit(&["--caller", "t.json"]).is_ok());
    // Neither, or both: refused.
    assert!(parse_audit(&[]).is_err());
    assert!(parse_audit(&["--config", "a.toml", "--caller", "t.json"]).is_err());
    assert!(parse_audit(&["--config", "a.toml", "--idp-issuer", "http://127.0.0.1:9"]).is_err());

    let keys = ["--mint-key", "m.pem", "--passport-key", "p.pem"];
    let parse_edge = |extra: &[&str]| {
        EdgeArgs::try_parse_from(["demo-edge"].iter().chain(&tls).chain(&keys).chain(extra))
    };
    assert!(parse_edge(&["--config", "e.toml"]).is_ok());
    assert!(parse_edge(&[]).is_err());
    assert!(parse_edge(&["--config", "e.toml", "--idp-issuer", "http://127.0.0.1:9"]).is_err());
}
