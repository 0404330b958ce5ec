//! Workload identity (pattern 5) for gRPC over real mutual TLS on loopback: a tonic server
//! fed by `tonic_auth::transport::incoming` over tower-auth's `MtlsListener`, behind the
//! internal `GrpcAuthenticateLayer`; clients are tonic channels with tonic's own rustls
//! client (`ClientTlsConfig`), certificates generated here by rcgen.
//!
//! The client certificate's SPIFFE ID becomes the `PeerIdentity` of every call on the
//! connection: the caller the handler sees, and the gate for unsigned passports. A
//! certificate that is no workload identity of the trust domain, or whose chain does not
//! verify, never reaches a handler; an unsigned passport from a workload off the allowlist,
//! or over a connection without mTLS, is refused with UNAUTHENTICATED. (Bad base64 in
//! `x-principal-bin` is tested in `server.rs`, with a raw HTTP/2 client that can send it.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(clippy::all, missing_docs)]
mod pb {
    include!("gen/baton.testing.v1.rs");
}

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use http::HeaderMap;
use pb::echo_service_client::EchoServiceClient;
use pb::echo_service_server::{EchoService, EchoServiceServer};
use pb::{EchoRequest, EchoResponse};
use principal::{Audience, ServiceId, TestClock, Timestamp};
use principal_proto::{
    DecodeOptions, KeyId, Passport, PassportKeyRing, PassportSigningKey, PassportVerifyingKey,
    fixtures,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType, string::Ia5String,
};
use tokio_stream::{Stream, StreamExt};
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::{Connected, TcpIncoming};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_auth::PrincipalExt;
use tonic_auth::client::PassportInterceptor;
use tonic_auth::server::GrpcAuthenticateLayer;
use tonic_auth::transport::{grpc_server_config, incoming};
use tower_auth::context::{self, RequestContext};
use tower_auth::mtls::{MtlsAcceptor, MtlsListener};
use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
use tower_auth::peer::{PeerAllowlist, TrustDomain};
use tower_auth::propagate::{PropagateLayer, Route, SharedKeyRing};
use tower_auth::trace::{RequestId, TraceContext};
use tower_auth::{CallerIdentity, Credentials, VerifiedPrincipal, Verifier};

const NOW: i64 = 1_700_000_000;
const DOMAIN: &str = "shop.internal";
/// On the echo service's allowlist for unsigned passports.
const GATEWAY: &str = "spiffe://shop.internal/gateway";
/// A workload of the domain, not on the allowlist.
const BATCH: &str = "spiffe://shop.internal/batch";
const AUDIENCE: &str = "echo";
const REQUEST_ID: &str = "0d9c7e3a-5b1f-4c2e-9a8d-7f6e5d4c3b2a";

// ---- certificates ---------------------------------------------------------------------

/// A certificate authority, and leaf certificates it signs (PEM, as tonic takes them).
struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: rustls::pki_types::CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Pki {
    fn new() -> Self {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Pki {
            ca: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn leaf(&self, sans: Vec<SanType>) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    /// A workload certificate: its only SAN is the URI `uri`.
    fn workload(&self, uri: &str) -> Leaf {
        self.leaf(vec![uri_san(uri)])
    }

    /// The echo service's own certificate: an X.509-SVID that also names `localhost`, so
    /// tonic's client can check the server name.
    fn server(&self) -> Leaf {
        self.leaf(vec![
            SanType::DnsName("localhost".try_into().unwrap()),
            uri_san("spiffe://shop.internal/echo"),
        ])
    }
}

fn uri_san(uri: &str) -> SanType {
    SanType::URI(Ia5String::try_from(uri).unwrap())
}

// ---- the echo service -----------------------------------------------------------------

/// Echoes who called: `message` is the caller (`workload <spiffe id>` or
/// `service <id>`), with the Principal as the handler and the context saw it.
#[derive(Clone)]
struct Echo {
    calls: Arc<AtomicUsize>,
}

fn caller(verified: &VerifiedPrincipal) -> String {
    match verified.caller().map(|caller| caller.identity()) {
        Some(CallerIdentity::Workload(id)) => format!("workload {id}"),
        Some(CallerIdentity::Service(id)) => format!("service {id}"),
        Some(_) => "other".to_owned(),
        None => "none".to_owned(),
    }
}

fn reply(verified: &VerifiedPrincipal) -> EchoResponse {
    EchoResponse {
        message: caller(verified),
        principal_id: verified.id().to_string(),
        current_principal_id: context::current_principal()
            .map(|current| current.id().to_string())
            .unwrap_or_default(),
    }
}

type ReplyStream = Pin<Box<dyn Stream<Item = Result<EchoResponse, Status>> + Send>>;

#[tonic::async_trait]
impl EchoService for Echo {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(reply(request.principal()?)))
    }

    type EchoStreamStream = ReplyStream;

    async fn echo_stream(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let verified = request.principal()?.clone();
        let count = request.get_ref().count as usize;
        // Made while the response stream is polled: the context must still be current.
        let replies = tokio_stream::iter(0..count).map(move |_| Ok(reply(&verified)));
        Ok(Response::new(Box::pin(replies)))
    }

    async fn echo_collect(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let verified = request.principal()?.clone();
        let mut inbound = request.into_inner();
        while inbound.message().await?.is_some() {}
        Ok(Response::new(reply(&verified)))
    }

    type EchoChatStream = ReplyStream;

    async fn echo_chat(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let verified = request.principal()?.clone();
        let replies = request
            .into_inner()
            .map(move |message| message.map(|_| reply(&verified)));
        Ok(Response::new(Box::pin(replies)))
    }
}

fn clock() -> TestClock {
    TestClock::new(Timestamp::from_unix_seconds(NOW))
}

fn audience() -> Audience {
    Audience::new(AUDIENCE).unwrap()
}

/// The calling service's passport signing keys (Ed25519, signer `gateway`).
fn shared_ring() -> SharedKeyRing {
    let key = PassportSigningKey::ed25519_generate(KeyId::new("gateway-1").unwrap()).unwrap();
    Arc::new(ArcSwap::from_pointee(PassportKeyRing::new(key)))
}

/// The echo service's verifier: passports for [`AUDIENCE`] signed by `ring`, and unsigned
/// ones from [`GATEWAY`] only.
fn verifier(ring: &SharedKeyRing) -> PassportHeaderVerifier {
    let ring = ring.load();
    let key = ring.verifier().key(ring.current_key_id()).unwrap();
    let public =
        PassportVerifyingKey::ed25519(key.key_id().clone(), key.ed25519_public_key().unwrap())
            .unwrap();
    let keys = PassportKeys::new(public, ServiceId::new("gateway").unwrap()).unwrap();
    PassportHeaderVerifier::new(DecodeOptions::new(audience()), keys)
        .unsigned_from(PeerAllowlist::new([GATEWAY.parse().unwrap()]))
        .clock(Arc::new(clock()))
}

/// The echo service behind the internal authenticate layer, on `connections`: its
/// count of handler calls.
fn serve<IO, IE>(
    verifier: PassportHeaderVerifier,
    connections: impl Stream<Item = Result<IO, IE>> + Send + 'static,
) -> Arc<AtomicUsize>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Connected + Unpin + Send + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    let calls = Arc::new(AtomicUsize::new(0));
    let server = tonic::transport::Server::builder()
        .layer(GrpcAuthenticateLayer::internal(Arc::new(verifier)))
        .add_service(EchoServiceServer::new(Echo {
            calls: Arc::clone(&calls),
        }))
        .serve_with_incoming(connections);
    tokio::spawn(server);
    calls
}

/// The echo service over mTLS (trust domain [`DOMAIN`], client CA `pki`).
async fn serve_mtls(pki: &Pki, verifier: PassportHeaderVerifier) -> (SocketAddr, Arc<AtomicUsize>) {
    let server = pki.server();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server.key_der.into());
    let config = grpc_server_config([pki.ca.der().clone()], vec![server.der], key).unwrap();
    let acceptor = MtlsAcceptor::new(Arc::new(config), TrustDomain::new(DOMAIN).unwrap());
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    (
        addr,
        serve(verifier, incoming(MtlsListener::new(tcp, acceptor))),
    )
}

/// The same service on plain TCP: no transport peer at all.
async fn serve_plain(verifier: PassportHeaderVerifier) -> (SocketAddr, Arc<AtomicUsize>) {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    (addr, serve(verifier, TcpIncoming::from(tcp)))
}

/// A tonic endpoint to `addr` over TLS trusting `trusted`'s root for the server, and
/// presenting `identity` if any.
fn endpoint(trusted: &Pki, addr: SocketAddr, identity: Option<&Leaf>) -> Endpoint {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(trusted.ca.pem()))
        .domain_name("localhost");
    if let Some(leaf) = identity {
        tls = tls.identity(Identity::from_pem(&leaf.cert_pem, &leaf.key_pem));
    }
    Endpoint::from_shared(format!("https://localhost:{}", addr.port()))
        .unwrap()
        .tls_config(tls)
        .unwrap()
}

type Client = EchoServiceClient<InterceptedService<Channel, PassportInterceptor>>;

/// A client over mTLS as `identity`, attaching the current Principal by `route`.
async fn client(
    pki: &Pki,
    addr: SocketAddr,
    identity: Option<&Leaf>,
    route: Route,
) -> Result<Client, tonic::transport::Error> {
    let endpoint = endpoint(pki, addr, identity);
    let routes = PropagateLayer::new()
        .route(&format!("localhost:{}", addr.port()), route)
        .unwrap()
        .clock(Arc::new(clock()));
    let interceptor = PassportInterceptor::new(routes, endpoint.uri()).unwrap();
    let channel = endpoint.connect().await?;
    Ok(EchoServiceClient::with_interceptor(channel, interceptor))
}

/// The calling service's request context: the reference Principal, as its own
/// authenticate layer verified it.
async fn caller_context() -> RequestContext {
    let ring = shared_ring();
    let verifier = verifier(&ring);
    let header = ring.load().sign_header(&passport()).unwrap();
    let credentials = Credentials::none()
        .with_passport(&header)
        .with_request_id(REQUEST_ID);
    let verified = verifier.verify(&credentials).await.unwrap();
    RequestContext::new(
        Some(verified),
        RequestId::parse(REQUEST_ID).unwrap(),
        TraceContext::from_headers(&HeaderMap::new()).unwrap(),
    )
}

/// The reference Principal in a passport for the echo service and [`REQUEST_ID`].
fn passport() -> Passport {
    let now = Timestamp::from_unix_seconds(NOW);
    Passport::new(
        fixtures::reference_principal(now).unwrap(),
        principal_proto::RequestId::new(REQUEST_ID).unwrap(),
        audience(),
        now,
        now.add_seconds(60),
    )
    .unwrap()
}

fn messages(n: usize) -> impl Stream<Item = EchoRequest> + Send + 'static {
    tokio_stream::iter((0..n).map(|i| EchoRequest {
        message: format!("m{i}"),
        count: 0,
    }))
}

fn request_with_count(count: u32) -> EchoRequest {
    EchoRequest {
        message: String::new(),
        count,
    }
}

// ---- the tests ------------------------------------------------------------------------

#[tokio::test]
async fn an_unsigned_passport_from_the_allowlisted_workload_reaches_every_rpc_kind() {
    let pki = Pki::new();
    let (addr, _) = serve_mtls(&pki, verifier(&shared_ring())).await;
    let gateway = pki.workload(GATEWAY);
    let mut echo = client(
        &pki,
        addr,
        Some(&gateway),
        Route::unsigned_passport(audience()),
    )
    .await
    .unwrap();
    let ctx = caller_context().await;
    let alice = ctx.principal().unwrap().id().to_string();
    let expected = format!("workload {GATEWAY}");

    let unary = ctx
        .clone()
        .scope(echo.echo(request_with_count(0)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unary.message, expected);
    assert_eq!(unary.principal_id, alice);
    assert_eq!(unary.current_principal_id, alice);

    let replies: Vec<EchoResponse> = ctx
        .clone()
        .scope(async {
            let stream = echo.echo_stream(request_with_count(3)).await?.into_inner();
            stream.collect::<Result<Vec<_>, Status>>().await
        })
        .await
        .unwrap();
    assert_eq!(replies.len(), 3);
    for reply in &replies {
        assert_eq!(reply.message, expected);
        assert_eq!(reply.current_principal_id, alice);
    }

    let collected = ctx
        .clone()
        .scope(echo.echo_collect(messages(4)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(collected.message, expected);
    assert_eq!(collected.principal_id, alice);

    let chat: Vec<EchoResponse> = ctx
        .clone()
        .scope(async {
            let stream = echo.echo_chat(messages(2)).await?.into_inner();
            stream.collect::<Result<Vec<_>, Status>>().await
        })
        .await
        .unwrap();
    assert_eq!(chat.len(), 2);
    assert!(chat.iter().all(|reply| reply.message == expected));
    assert!(chat.iter().all(|reply| reply.current_principal_id == alice));
}

#[tokio::test]
async fn an_unsigned_passport_from_a_workload_off_the_allowlist_is_refused() {
    let pki = Pki::new();
    let ring = shared_ring();
    let (addr, calls) = serve_mtls(&pki, verifier(&ring)).await;
    let batch = pki.workload(BATCH);
    let ctx = caller_context().await;

    let mut unsigned = client(
        &pki,
        addr,
        Some(&batch),
        Route::unsigned_passport(audience()),
    )
    .await
    .unwrap();
    let status = ctx
        .clone()
        .scope(unsigned.echo(request_with_count(0)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // The same workload with a signed passport is served: the caller is the key's signer,
    // not the workload: the passport's signature, not the connection, vouches for it.
    let mut signed = client(
        &pki,
        addr,
        Some(&batch),
        Route::signed_passport(Arc::clone(&ring), audience()),
    )
    .await
    .unwrap();
    let reply = ctx
        .clone()
        .scope(signed.echo(request_with_count(0)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        reply.message,
        format!("service {}", ServiceId::new("gateway").unwrap())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unsigned_passport_without_mtls_is_refused_even_from_inside() {
    let (addr, calls) = serve_plain(verifier(&shared_ring())).await;
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut echo = EchoServiceClient::new(channel);
    // A client that claims to be the gateway in the passport and in metadata it makes up.
    let mut request = Request::new(request_with_count(0));
    let unsigned = STANDARD_NO_PAD
        .decode(passport().encode_header().unwrap())
        .unwrap();
    let metadata = request.metadata_mut();
    metadata.insert_bin("x-principal-bin", MetadataValue::from_bytes(&unsigned));
    metadata.insert("x-request-id", REQUEST_ID.parse().unwrap());
    metadata.insert("x-spiffe-id", GATEWAY.parse().unwrap());
    let status = echo.echo(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// Connects as `identity` (trusting `trusted` for the server) and makes one call with an
/// unsigned passport; the outcome of the connection or the call.
async fn call_as(trusted: &Pki, addr: SocketAddr, identity: Option<&Leaf>) -> Result<(), Status> {
    let mut echo = client(
        trusted,
        addr,
        identity,
        Route::unsigned_passport(audience()),
    )
    .await
    .map_err(|error| Status::unavailable(error.to_string()))?;
    let ctx = caller_context().await;
    ctx.scope(echo.echo(request_with_count(0))).await?;
    Ok(())
}

#[tokio::test]
async fn a_certificate_that_is_no_workload_identity_of_the_domain_is_never_served() {
    let pki = Pki::new();
    let (addr, calls) = serve_mtls(&pki, verifier(&shared_ring())).await;
    let refused = [
        ("no SAN", pki.leaf(vec![])),
        (
            "a DNS name only",
            pki.leaf(vec![SanType::DnsName(
                "gateway.internal".try_into().unwrap(),
            )]),
        ),
        (
            "two SPIFFE IDs",
            pki.leaf(vec![uri_san(GATEWAY), uri_san(BATCH)]),
        ),
        (
            "a malformed SPIFFE ID",
            pki.workload("spiffe://shop.internal/gateway/../admin"),
        ),
        (
            "another scheme",
            pki.workload("https://shop.internal/gateway"),
        ),
        (
            "another trust domain",
            pki.workload("spiffe://other.internal/gateway"),
        ),
    ];
    for (what, leaf) in &refused {
        let outcome = call_as(&pki, addr, Some(leaf)).await;
        assert!(outcome.is_err(), "{what}: served");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // The allowlisted workload on the same server is served.
    call_as(&pki, addr, Some(&pki.workload(GATEWAY)))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_chain_that_does_not_verify_gets_no_tls_session() {
    let pki = Pki::new();
    let (addr, calls) = serve_mtls(&pki, verifier(&shared_ring())).await;
    // The right SPIFFE ID, signed by a CA the server does not trust.
    let stranger = Pki::new().workload(GATEWAY);
    assert!(call_as(&pki, addr, Some(&stranger)).await.is_err());
    // No client certificate at all.
    assert!(call_as(&pki, addr, None).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}
