//! `[mtls]` from a configuration file: the workload's CA, certificate and key files become
//! a working mutual-TLS server and client (a real handshake on loopback, the client's
//! SPIFFE ID in the request), and every unusable input is refused with the file, the line
//! and the field.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};
use rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tower_auth::config::{ConfigFileError, ConfigFileErrorKind, ServiceConfig, WorkloadTls};
use tower_auth::mtls::{MtlsListener, WithPeerIdentity};
use tower_auth::peer::PeerIdentity;

const SECTION: &str =
    "[mtls]\nca_file = \"ca.pem\"\ncert_file = \"svid.pem\"\nkey_file = \"svid.key\"\n";

fn pem(label: &str, der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Ca(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    fn pem(&self) -> String {
        pem("CERTIFICATE", self.0.der())
    }

    /// A leaf with these SANs: (certificate PEM, key PEM).
    fn leaf(&self, sans: Vec<SanType>) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        let cert = params.signed_by(&key, &self.0).unwrap();
        (
            pem("CERTIFICATE", cert.der()),
            pem("PRIVATE KEY", &key.serialize_der()),
        )
    }

    /// A workload: its SPIFFE ID, and `localhost` for the client's server-name check.
    fn workload(&self, id: &str) -> (String, String) {
        self.leaf(vec![
            SanType::URI(id.try_into().unwrap()),
            SanType::DnsName("localhost".try_into().unwrap()),
        ])
    }
}

/// The three files in `dir`, and the configuration loaded from `dir/service.toml`.
fn load(
    dir: &Path,
    ca: &str,
    cert: &str,
    key: &str,
    text: &str,
) -> Result<ServiceConfig, ConfigFileError> {
    std::fs::write(dir.join("ca.pem"), ca).unwrap();
    std::fs::write(dir.join("svid.pem"), cert).unwrap();
    std::fs::write(dir.join("svid.key"), key).unwrap();
    ServiceConfig::from_toml(dir.join("service.toml"), text)
}

fn workload_tls(ca: &Ca, id: &str) -> WorkloadTls {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca.workload(id);
    load(dir.path(), &ca.pem(), &cert, &key, SECTION)
        .unwrap()
        .mtls
        .expect("an [mtls] section")
}

#[tokio::test]
async fn the_configured_material_makes_a_working_mutual_tls_server_and_client() {
    let ca = Ca::new();
    let server = workload_tls(&ca, "spiffe://shop.internal/orders");
    let client = workload_tls(&ca, "spiffe://shop.internal/gateway");
    assert_eq!(server.spiffe_id().as_str(), "spiffe://shop.internal/orders");
    assert_eq!(server.trust_domain().as_str(), "shop.internal");
    assert!(!format!("{server:?}").contains("PRIVATE"));

    let app = Router::new().route(
        "/peer",
        get(|Extension(peer): Extension<PeerIdentity>| async move { peer.spiffe_id().to_string() }),
    );
    let listener = MtlsListener::new(
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        server.acceptor().unwrap(),
    );
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, WithPeerIdentity::new(app)).await;
    });

    let connector = TlsConnector::from(Arc::new(client.client_config().unwrap()));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get("/peer")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"spiffe://shop.internal/gateway");
}

fn assert_refused(
    error: &ConfigFileError,
    kind: ConfigFileErrorKind,
    line: usize,
    field: &str,
    reason: &str,
) {
    assert_eq!(error.kind(), kind, "{error}");
    assert_eq!(
        (error.line(), error.field()),
        (Some(line), field),
        "{error}"
    );
    assert_eq!(error.setting_reason(), Some(reason), "{error}");
    assert!(error.to_string().contains(&format!(":{line}:")), "{error}");
}

#[test]
fn unusable_material_is_refused_with_the_file_named() {
    let ca = Ca::new();
    let (cert, key) = ca.workload("spiffe://shop.internal/orders");
    let dir = tempfile::tempdir().unwrap();
    let invalid = ConfigFileErrorKind::Invalid;

    // A certificate without a SPIFFE URI SAN.
    let (dns_only, dns_key) = ca.leaf(vec![SanType::DnsName(
        "orders.internal".try_into().unwrap(),
    )]);
    let error = load(dir.path(), &ca.pem(), &dns_only, &dns_key, SECTION).unwrap_err();
    assert_refused(&error, invalid, 3, "mtls.cert_file", "peer_no_spiffe_id");

    // A key that is not the certificate's.
    let (_, other_key) = ca.workload("spiffe://shop.internal/other");
    let error = load(dir.path(), &ca.pem(), &cert, &other_key, SECTION).unwrap_err();
    assert_refused(&error, invalid, 4, "mtls.key_file", "key_mismatch");

    // A certificate of another CA.
    let (foreign, foreign_key) = Ca::new().workload("spiffe://shop.internal/orders");
    let error = load(dir.path(), &ca.pem(), &foreign, &foreign_key, SECTION).unwrap_err();
    assert_refused(&error, invalid, 3, "mtls.cert_file", "not_issued_by_ca");

    // PEM files with the wrong content: a key where the certificate goes, and the other
    // way round; the key's content never appears in the message.
    let error = load(dir.path(), &ca.pem(), &key, &key, SECTION).unwrap_err();
    assert_refused(&error, invalid, 3, "mtls.cert_file", "malformed_pem");
    assert!(!error.to_string().contains(&key[40..80]), "{error}");
    let error = load(dir.path(), &ca.pem(), &cert, &cert, SECTION).unwrap_err();
    assert_refused(&error, invalid, 4, "mtls.key_file", "malformed_pem");
    let error = load(dir.path(), "not pem at all", &cert, &key, SECTION).unwrap_err();
    assert_refused(&error, invalid, 2, "mtls.ca_file", "malformed_pem");

    // And the material itself, accepted.
    assert!(load(dir.path(), &ca.pem(), &cert, &key, SECTION).is_ok());
}

#[test]
fn unreadable_files_and_unknown_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = |ca: &str, key: &str| {
        format!("[mtls]\nca_file = \"{ca}\"\ncert_file = \"svid.pem\"\nkey_file = \"{key}\"\n")
    };
    let ca = Ca::new();
    let (cert, key) = ca.workload("spiffe://shop.internal/orders");

    let error = load(
        dir.path(),
        &ca.pem(),
        &cert,
        &key,
        &text("missing-ca.pem", "svid.key"),
    )
    .unwrap_err();
    assert_refused(
        &error,
        ConfigFileErrorKind::Invalid,
        2,
        "mtls.ca_file",
        "unreadable_file",
    );
    assert!(error.to_string().contains("missing-ca.pem"), "{error}");

    let error = load(
        dir.path(),
        &ca.pem(),
        &cert,
        &key,
        &text("ca.pem", "missing.key"),
    )
    .unwrap_err();
    assert_refused(
        &error,
        ConfigFileErrorKind::SecretUnavailable,
        4,
        "mtls.key_file",
        "secret_unavailable",
    );

    let error = load(
        dir.path(),
        &ca.pem(),
        &cert,
        &key,
        &format!("{SECTION}key = \"inline\"\n"),
    )
    .unwrap_err();
    assert_eq!(error.kind(), ConfigFileErrorKind::UnknownField);
    assert_eq!((error.line(), error.field()), (Some(5), "mtls.key"));

    let error = load(
        dir.path(),
        &ca.pem(),
        &cert,
        &key,
        "[mtls]\nca_file = \"ca.pem\"\ncert_file = \"svid.pem\"\n",
    )
    .unwrap_err();
    assert_eq!(error.kind(), ConfigFileErrorKind::MissingField, "{error}");
    assert_eq!(error.field(), "mtls.key_file");
}
