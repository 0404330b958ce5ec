//! Workload identity (pattern 5) over real mutual TLS on loopback: an axum service behind
//! `MtlsListener` + `WithPeerIdentity`, with CA, server and client certificates generated
//! here by rcgen. The SPIFFE ID of the client certificate becomes the `PeerIdentity` of
//! every request on the connection, and the gate for unsigned passports; a certificate
//! that is no workload identity of the trust domain, or whose chain does not verify,
//! never reaches a handler.
#![allow(clippy::unwrap_used)]

mod passport_support;

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use passport_support::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType, string::Ia5String,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::extract::Authenticated;
use tower_auth::mtls::{
    MtlsAcceptError, MtlsAcceptor, MtlsListener, WithPeerIdentity, WorkloadIdError, server_config,
};
use tower_auth::passport::PassportKeys;
use tower_auth::peer::{PeerAllowlist, PeerIdentity, SpiffeIdError, TrustDomain};
use tower_auth::{CallerIdentity, Credentials};

const GATEWAY: &str = "spiffe://shop.internal/gateway";
const BATCH: &str = "spiffe://shop.internal/batch";
/// Allowlisted too, but of another trust domain: the acceptor never lets it in.
const FOREIGN: &str = "spiffe://other.internal/gateway";

type BoxError = Box<dyn Error + Send + Sync>;

/// A certificate authority, and leaf certificates it signs.
struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate chain and its private key.
struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Pki {
    fn new() -> Self {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Pki {
            ca: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn root(&self) -> CertificateDer<'static> {
        self.ca.der().clone()
    }

    fn leaf(&self, sans: Vec<SanType>) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Leaf {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        }
    }

    /// A client certificate whose only SAN is the URI `uri`.
    fn workload(&self, uri: &str) -> Leaf {
        self.leaf(vec![uri_san(uri)])
    }

    fn server(&self) -> Leaf {
        self.leaf(vec![SanType::DnsName("localhost".try_into().unwrap())])
    }
}

fn uri_san(uri: &str) -> SanType {
    SanType::URI(Ia5String::try_from(uri).unwrap())
}

fn acceptor(pki: &Pki) -> MtlsAcceptor {
    let server = pki.server();
    let config = server_config([pki.root()], server.chain, server.key).unwrap();
    MtlsAcceptor::new(Arc::new(config), TrustDomain::new("shop.internal").unwrap())
}

/// A TLS client trusting `pki`'s root for the server, presenting `identity` if any.
fn connector(pki: &Pki, identity: Option<Leaf>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(pki.root()).unwrap();
    let builder = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match identity {
        Some(leaf) => builder.with_client_auth_cert(leaf.chain, leaf.key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    TlsConnector::from(Arc::new(config))
}

/// `orders`: `/whoami` behind `AuthenticateLayer::internal` with a passport verifier that
/// takes unsigned passports from `GATEWAY` (and `FOREIGN`), `/peer` without
/// authentication, answering the connection's peer. Its address and handler call count.
async fn orders(pki: &Pki) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let clock = clock();
    let verifier = verifier(
        "orders",
        PassportKeys::new(public_key(&ed25519_ring("edge-1")), service("edge")).unwrap(),
        &clock,
    )
    .unsigned_from(PeerAllowlist::new([
        GATEWAY.parse().unwrap(),
        FOREIGN.parse().unwrap(),
    ]));
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let whoami = move |verified: Authenticated| async move {
        counted.fetch_add(1, Ordering::SeqCst);
        match verified.verified().caller().map(|caller| caller.identity()) {
            Some(CallerIdentity::Workload(id)) => format!("{} from {id}", verified.id()),
            other => panic!("not a workload caller: {other:?}"),
        }
    };
    let peer_calls = Arc::clone(&calls);
    let app = Router::new()
        .route(
            "/whoami",
            get(whoami).layer(AuthenticateLayer::internal(Arc::new(verifier))),
        )
        .route(
            "/peer",
            get(move |Extension(peer): Extension<PeerIdentity>| async move {
                peer_calls.fetch_add(1, Ordering::SeqCst);
                peer.spiffe_id().to_string()
            }),
        );
    let listener = MtlsListener::new(
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        acceptor(pki),
    );
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, WithPeerIdentity::new(app)).await;
    });
    (addr, calls)
}

/// One HTTP/1.1 connection over TLS with `connector`.
struct Client {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

impl Client {
    async fn connect(
        addr: std::net::SocketAddr,
        connector: &TlsConnector,
    ) -> Result<Client, BoxError> {
        let tcp = TcpStream::connect(addr).await?;
        let tls = connector
            .connect(ServerName::try_from("localhost")?, tcp)
            .await?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(connection);
        Ok(Client { sender })
    }

    /// GET `path` with an optional passport and the test request id: status and body.
    async fn get(&mut self, path: &str, passport: Option<&str>) -> Result<(u16, String), BoxError> {
        let mut request = http::Request::get(path)
            .header("host", "localhost")
            .header("x-request-id", REQUEST_ID);
        if let Some(passport) = passport {
            request = request.header("x-principal-bin", passport);
        }
        self.sender.ready().await?;
        let response = self
            .sender
            .send_request(request.body(Empty::new())?)
            .await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, String::from_utf8(body.to_vec())?))
    }
}

/// One request on a fresh connection presenting `identity`.
async fn call_as(
    pki: &Pki,
    addr: std::net::SocketAddr,
    identity: Option<Leaf>,
    path: &str,
    passport: Option<&str>,
) -> Result<(u16, String), BoxError> {
    Client::connect(addr, &connector(pki, identity))
        .await?
        .get(path, passport)
        .await
}

#[tokio::test]
async fn an_unsigned_passport_is_accepted_from_the_allowlisted_workload_only() {
    let pki = Pki::new();
    let (addr, calls) = orders(&pki).await;
    let passport = passport_for("orders", REQUEST_ID, NOW);
    let unsigned = passport.encode_header().unwrap();

    // The gateway: several requests on one connection, each with the peer's identity.
    let mut gateway = Client::connect(addr, &connector(&pki, Some(pki.workload(GATEWAY))))
        .await
        .unwrap();
    let expected = format!("{} from {GATEWAY}", passport.principal().id());
    for _ in 0..2 {
        let (status, body) = gateway.get("/whoami", Some(&unsigned)).await.unwrap();
        assert_eq!((status, body.as_str()), (200, expected.as_str()));
    }
    assert_eq!(
        gateway.get("/peer", None).await.unwrap(),
        (200, GATEWAY.to_owned())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // Another workload of the trust domain: a TLS session and a peer identity, but not
    // on the allowlist, so its unsigned passport is refused.
    let mut batch = Client::connect(addr, &connector(&pki, Some(pki.workload(BATCH))))
        .await
        .unwrap();
    assert_eq!(
        batch.get("/peer", None).await.unwrap(),
        (200, BATCH.to_owned())
    );
    let (status, _) = batch.get("/whoami", Some(&unsigned)).await.unwrap();
    assert_eq!(status, 401);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_certificate_that_is_no_workload_identity_of_the_domain_is_never_served() {
    let pki = Pki::new();
    let (addr, calls) = orders(&pki).await;
    let unsigned = passport_for("orders", REQUEST_ID, NOW)
        .encode_header()
        .unwrap();
    let refused = [
        pki.leaf(vec![SanType::DnsName(
            "gateway.shop.internal".try_into().unwrap(),
        )]),
        pki.leaf(vec![uri_san(GATEWAY), uri_san(BATCH)]),
        pki.leaf(vec![
            uri_san(GATEWAY),
            uri_san("https://shop.internal/gateway"),
        ]),
        pki.workload("spiffe://Shop.internal/gateway"),
        pki.workload("spiffe://shop.internal/../gateway"),
        // On the allowlist, but of another trust domain.
        pki.workload(FOREIGN),
    ];
    for leaf in refused {
        for path in ["/whoami", "/peer"] {
            let leaf = Leaf {
                chain: leaf.chain.clone(),
                key: leaf.key.clone_key(),
            };
            let outcome = call_as(&pki, addr, Some(leaf), path, Some(&unsigned)).await;
            assert!(outcome.is_err(), "{path}: {outcome:?}");
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // The server still serves a workload after all of that.
    let (status, _) = call_as(
        &pki,
        addr,
        Some(pki.workload(GATEWAY)),
        "/whoami",
        Some(&unsigned),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_chain_that_does_not_verify_gets_no_tls_session() {
    let pki = Pki::new();
    let (addr, calls) = orders(&pki).await;
    let unsigned = passport_for("orders", REQUEST_ID, NOW)
        .encode_header()
        .unwrap();
    // The allowlisted SPIFFE ID, from a CA the server does not trust; and no certificate.
    let rogue = Pki::new().workload(GATEWAY);
    for identity in [Some(rogue), None] {
        let outcome = call_as(&pki, addr, identity, "/whoami", Some(&unsigned)).await;
        assert!(outcome.is_err(), "{outcome:?}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// Runs `MtlsAcceptor::accept` on one loopback connection from a client presenting
/// `identity`; the acceptor's outcome.
async fn accept_one(pki: &Pki, identity: Option<Leaf>) -> Result<PeerIdentity, MtlsAcceptError> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connector = connector(pki, identity);
    let client = tokio::spawn(async move {
        let tcp = TcpStream::connect(addr).await.unwrap();
        // Keep the client's side open until the server has decided.
        connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
    });
    let (tcp, _) = listener.accept().await.unwrap();
    let accepted = acceptor(pki).accept(tcp).await;
    drop(client.await);
    accepted.map(|stream| stream.peer_identity().clone())
}

#[tokio::test]
async fn the_acceptor_says_why_a_peer_is_refused() {
    let pki = Pki::new();
    let gateway = accept_one(&pki, Some(pki.workload(GATEWAY))).await.unwrap();
    assert_eq!(gateway.spiffe_id().as_str(), GATEWAY);
    // The identity reaches verifiers the way the acceptor's service puts it: as the
    // request's peer.
    let mut request = http::Request::new(());
    request.extensions_mut().insert(gateway.clone());
    let headers = request.headers();
    let credentials = Credentials::from_request(headers, request.extensions(), 64).unwrap();
    assert_eq!(credentials.peer(), Some(&gateway));

    let identity = |leaf| async { accept_one(&pki, Some(leaf)).await.unwrap_err() };
    let dns = pki.leaf(vec![SanType::DnsName(
        "gateway.shop.internal".try_into().unwrap(),
    )]);
    assert!(matches!(
        identity(dns).await,
        MtlsAcceptError::Identity(WorkloadIdError::NoSpiffeId)
    ));
    let two = pki.leaf(vec![uri_san(GATEWAY), uri_san(BATCH)]);
    assert!(matches!(
        identity(two).await,
        MtlsAcceptError::Identity(WorkloadIdError::SeveralUris { count: 2 })
    ));
    let malformed = pki.workload("spiffe://shop.internal/gateway/");
    assert!(matches!(
        identity(malformed).await,
        MtlsAcceptError::Identity(WorkloadIdError::MalformedSpiffeId(
            SpiffeIdError::InvalidPath
        ))
    ));
    let foreign = identity(pki.workload(FOREIGN)).await;
    assert_eq!(foreign.reason(), "peer_foreign_trust_domain");
    assert!(matches!(
        foreign,
        MtlsAcceptError::Identity(WorkloadIdError::ForeignTrustDomain { ref spiffe_id, ref expected })
            if spiffe_id.as_str() == FOREIGN && expected.as_str() == "shop.internal"
    ));

    // The handshake itself fails: another CA, no certificate.
    let rogue = accept_one(&pki, Some(Pki::new().workload(GATEWAY)))
        .await
        .unwrap_err();
    assert!(matches!(rogue, MtlsAcceptError::Handshake(_)), "{rogue:?}");
    let anonymous = accept_one(&pki, None).await.unwrap_err();
    assert!(
        matches!(anonymous, MtlsAcceptError::Handshake(_)),
        "{anonymous:?}"
    );
    assert_eq!(anonymous.reason(), "tls_handshake_failed");
}

#[tokio::test]
async fn a_silent_client_does_not_hold_up_the_others() {
    let pki = Pki::new();
    // Handshakes that never time out: a listener that ran them one by one would hang.
    let acceptor = acceptor(&pki).handshake_timeout(std::time::Duration::from_secs(3600));
    let listener = MtlsListener::new(TcpListener::bind("127.0.0.1:0").await.unwrap(), acceptor);
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/peer",
        get(|Extension(peer): Extension<PeerIdentity>| async move { peer.spiffe_id().to_string() }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, WithPeerIdentity::new(app)).await;
    });

    // Connected first, and never says a word.
    let _silent = TcpStream::connect(addr).await.unwrap();
    let served = tokio::time::timeout(
        // A guard that turns a hang into a failure, not a wait for anything to expire.
        std::time::Duration::from_secs(60),
        call_as(&pki, addr, Some(pki.workload(GATEWAY)), "/peer", None),
    )
    .await
    .expect("the workload was held up by the silent client")
    .unwrap();
    assert_eq!(served, (200, GATEWAY.to_owned()));
}

#[tokio::test]
async fn a_handshake_past_its_timeout_is_refused() {
    let pki = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let _silent = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (tcp, _) = listener.accept().await.unwrap();
    // A zero timeout has elapsed before the client could answer: no waiting involved.
    let refused = acceptor(&pki)
        .handshake_timeout(std::time::Duration::ZERO)
        .accept(tcp)
        .await
        .unwrap_err();
    assert!(matches!(refused, MtlsAcceptError::HandshakeTimedOut));
    assert_eq!(refused.reason(), "tls_handshake_timed_out");
}
