//! `GrpcAuthenticateLayer` over real loopback connections: a tonic server on
//! `127.0.0.1:0`, a tonic client, every RPC kind; refusals as gRPC status codes; spoofed
//! and malformed `x-principal-bin`; keys unavailable; the Principal current inside
//! handlers and inside the streams they return.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(clippy::all, missing_docs)]
mod pb {
    include!("gen/baton.testing.v1.rs");
}

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pb::echo_service_client::EchoServiceClient;
use pb::echo_service_server::{EchoService, EchoServiceServer};
use pb::{EchoRequest, EchoResponse};
use principal::{Audience, Issuer, Scope, ServiceId, TestClock, Timestamp};
use principal_proto::{
    DecodeOptions, KeyId, Passport, PassportKeyRing, PassportSigningKey, PassportVerifyingKey,
    RequestId, fixtures,
};
use serde_json::json;
use tokio_stream::{Stream, StreamExt};
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_auth::PrincipalExt;
use tonic_auth::server::{GrpcAuthenticateLayer, UntilExpiry};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::dev_idp::{DevIdp, Override};
use tower_auth::jwks::SymmetricKey;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
use tower_auth::{Verifier, VerifierChain, context};

const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://issuer.example";
/// An issuer whose tokens must carry `echo:write`.
const STRICT_ISSUER: &str = "https://strict.example";
const AUDIENCE: &str = "echo";
const SECRET: [u8; 32] = [0x5a; 32];
/// The request every passport of these tests is bound to (its `x-request-id`).
const REQUEST_ID: &str = "0d9c7e3a-5b1f-4c2e-9a8d-7f6e5d4c3b2a";

// ---- the service ----------------------------------------------------------------------

fn current_id() -> String {
    context::current_principal()
        .map(|verified| verified.id().to_string())
        .unwrap_or_default()
}

/// A reply made where it is made: `current_principal_id` is what tower-auth's context
/// answers at that point (inside the handler, or inside the response stream).
fn reply(message: String, principal_id: &str) -> EchoResponse {
    EchoResponse {
        message,
        principal_id: principal_id.to_owned(),
        current_principal_id: current_id(),
    }
}

type ReplyStream = Pin<Box<dyn Stream<Item = Result<EchoResponse, Status>> + Send>>;

#[derive(Clone, Default)]
struct Echo {
    /// When set, the bidirectional method stops authorizing messages at the Principal's
    /// expiry by this clock.
    expiry_clock: Option<TestClock>,
}

#[tonic::async_trait]
impl EchoService for Echo {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let id = request.principal()?.id().to_string();
        // What the handler sees of the passport metadata (stripped at an edge, removed
        // after verification on an internal service).
        let seen = if request.metadata().contains_key("x-principal-bin") {
            " +passport"
        } else {
            ""
        };
        let message = format!("{}{seen}", request.get_ref().message);
        Ok(Response::new(reply(message, &id)))
    }

    type EchoStreamStream = ReplyStream;

    async fn echo_stream(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        let id = request.principal()?.id().to_string();
        let EchoRequest { message, count } = request.into_inner();
        // Lazy: each reply is made when the response body is polled, after this
        // handler's future has completed.
        let replies =
            tokio_stream::iter(0..count).map(move |i| Ok(reply(format!("{message}-{i}"), &id)));
        Ok(Response::new(Box::pin(replies)))
    }

    async fn echo_collect(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        let id = request.principal()?.id().to_string();
        let mut inbound = request.into_inner();
        let mut messages = Vec::new();
        while let Some(message) = inbound.message().await? {
            messages.push(message.message);
        }
        Ok(Response::new(reply(messages.join(","), &id)))
    }

    type EchoChatStream = ReplyStream;

    async fn echo_chat(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let principal = request.principal()?.clone();
        let id = principal.id().to_string();
        let inbound = request.into_inner();
        let replies = move |message: Result<EchoRequest, Status>| {
            message.map(|message| reply(message.message, &id))
        };
        Ok(Response::new(match &self.expiry_clock {
            Some(clock) => Box::pin(
                UntilExpiry::new(inbound, &principal, Arc::new(clock.clone())).map(replies),
            ),
            None => Box::pin(inbound.map(replies)),
        }))
    }
}

async fn serve(layer: GrpcAuthenticateLayer) -> SocketAddr {
    serve_echo(layer, Echo::default()).await
}

async fn serve_echo(layer: GrpcAuthenticateLayer, echo: Echo) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .layer(layer)
        .add_service(EchoServiceServer::new(echo))
        .serve_with_incoming(TcpIncoming::from(listener));
    tokio::spawn(server);
    addr
}

async fn client(addr: SocketAddr) -> EchoServiceClient<Channel> {
    EchoServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

// ---- credentials ----------------------------------------------------------------------

fn clock() -> TestClock {
    TestClock::new(Timestamp::from_unix_seconds(NOW))
}

/// A JWT verifier with static HMAC keys for [`ISSUER`] and [`STRICT_ISSUER`].
fn jwt_verifier() -> JwtVerifier {
    let config = |issuer: &str| {
        IssuerConfig::builder(Issuer::new(issuer).unwrap())
            .audience(Audience::new(AUDIENCE).unwrap())
            .hmac_secrets([
                SymmetricKey::new(Some("k1"), Algorithm::HS256, SECRET.to_vec()).unwrap(),
            ])
    };
    JwtVerifier::builder()
        .issuer(config(ISSUER).build().unwrap())
        .issuer(
            config(STRICT_ISSUER)
                .required_scope(Scope::new("echo:write").unwrap())
                .build()
                .unwrap(),
        )
        .clock(Arc::new(clock()))
        .build()
        .unwrap()
}

fn token_from(issuer: &str, subject: &str) -> String {
    let claims =
        json!({"iss": issuer, "sub": subject, "aud": AUDIENCE, "exp": NOW + 3600, "iat": NOW});
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&SECRET)).unwrap()
}

fn token(subject: &str) -> String {
    token_from(ISSUER, subject)
}

/// The Principal id the verifier makes of `token`.
async fn id_of(token: &str) -> String {
    jwt_verifier()
        .verify_token(token)
        .await
        .unwrap()
        .id()
        .to_string()
}

/// The edge's Ed25519 passport ring, and a passport verifier that trusts it.
fn passports() -> (PassportKeyRing, Arc<PassportHeaderVerifier>) {
    let ring = PassportKeyRing::new(
        PassportSigningKey::ed25519_generate(KeyId::new("edge-1").unwrap()).unwrap(),
    );
    let key = ring.verifier().key(ring.current_key_id()).unwrap();
    let public =
        PassportVerifyingKey::ed25519(key.key_id().clone(), key.ed25519_public_key().unwrap())
            .unwrap();
    let keys = PassportKeys::new(public, ServiceId::new("edge").unwrap()).unwrap();
    let verifier =
        PassportHeaderVerifier::new(DecodeOptions::new(Audience::new(AUDIENCE).unwrap()), keys)
            .clock(Arc::new(clock()));
    (ring, Arc::new(verifier))
}

/// A signed passport for [`REQUEST_ID`], in its `x-principal-bin` form, and the id of
/// its Principal.
fn signed_passport(ring: &PassportKeyRing) -> (String, String) {
    let now = Timestamp::from_unix_seconds(NOW);
    let passport = Passport::new(
        fixtures::reference_principal(now).unwrap(),
        RequestId::new(REQUEST_ID).unwrap(),
        Audience::new(AUDIENCE).unwrap(),
        now,
        now.add_seconds(60),
    )
    .unwrap();
    let id = passport.principal().id().to_string();
    (ring.sign_header(&passport).unwrap(), id)
}

/// The chain of an edge that also accepts passports (as a service behind it would):
/// at the edge, the passport verifier must never get to read one from outside.
fn chain(passports: Arc<PassportHeaderVerifier>) -> Arc<dyn Verifier> {
    Arc::new(VerifierChain::new(Arc::new(jwt_verifier())).then(passports))
}

/// Metadata for a call: `(name, raw value bytes)`, set as raw HTTP/2 headers (so that
/// malformed binary metadata can be sent, as a hostile client would).
fn with_metadata<T>(message: T, entries: &[(&'static str, &[u8])]) -> Request<T> {
    let mut request = Request::new(message);
    let mut headers = std::mem::take(request.metadata_mut()).into_headers();
    for (name, value) in entries {
        headers.append(*name, http::HeaderValue::from_bytes(value).unwrap());
    }
    *request.metadata_mut() = MetadataMap::from_headers(headers);
    request
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn echo_request(message: &str) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
        count: 3,
    }
}

fn messages(n: usize) -> impl Stream<Item = EchoRequest> + Send + 'static {
    tokio_stream::iter((0..n).map(|i| echo_request(&format!("m{i}"))))
}

// ---- the tests ------------------------------------------------------------------------

#[tokio::test]
async fn every_rpc_kind_is_accepted_with_a_valid_token_and_the_principal_is_current() {
    let (_, passports) = passports();
    let addr = serve(GrpcAuthenticateLayer::new(chain(passports))).await;
    let mut client = client(addr).await;
    let alice_token = token("alice");
    let alice = id_of(&alice_token).await;
    let auth = bearer(&alice_token);
    let auth = [("authorization", auth.as_bytes())];

    // Unary: the handler read the Principal in one call, and it was current there.
    let reply = client
        .echo(with_metadata(echo_request("hi"), &auth))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.message, "hi");
    assert_eq!(reply.principal_id, alice);
    assert_eq!(reply.current_principal_id, alice);

    // Server streaming: every reply is made while the response body is polled, after
    // the handler returned, and still sees the caller's Principal.
    let replies: Vec<EchoResponse> = client
        .echo_stream(with_metadata(echo_request("s"), &auth))
        .await
        .unwrap()
        .into_inner()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(replies.len(), 3);
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(reply.message, format!("s-{i}"));
        assert_eq!(reply.principal_id, alice);
        assert_eq!(reply.current_principal_id, alice, "reply {i}");
    }

    // Client streaming.
    let reply = client
        .echo_collect(with_metadata(messages(3), &auth))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.message, "m0,m1,m2");
    assert_eq!(reply.principal_id, alice);
    assert_eq!(reply.current_principal_id, alice);

    // Bidirectional: each reply made as its request arrives, inside the response stream.
    let replies: Vec<EchoResponse> = client
        .echo_chat(with_metadata(messages(4), &auth))
        .await
        .unwrap()
        .into_inner()
        .map(Result::unwrap)
        .collect()
        .await;
    let texts: Vec<&str> = replies.iter().map(|reply| reply.message.as_str()).collect();
    assert_eq!(texts, ["m0", "m1", "m2", "m3"]);
    assert!(replies.iter().all(|reply| reply.principal_id == alice));
    assert!(
        replies
            .iter()
            .all(|reply| reply.current_principal_id == alice)
    );

    // Two callers on one connection: each call sees its own Principal.
    let bob_token = token("bob");
    let bob = id_of(&bob_token).await;
    let bob_auth = bearer(&bob_token);
    let reply = client
        .echo_stream(with_metadata(
            echo_request("b"),
            &[("authorization", bob_auth.as_bytes())],
        ))
        .await
        .unwrap()
        .into_inner()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .await;
    assert!(reply.iter().all(|reply| reply.current_principal_id == bob));
    assert_ne!(alice, bob);
}

/// The status of a call refused before any message was answered.
async fn refusal<T: std::fmt::Debug>(call: impl Future<Output = Result<T, Status>>) -> Status {
    call.await.expect_err("the call is refused")
}

#[tokio::test]
async fn every_rpc_kind_without_a_token_is_unauthenticated() {
    let addr = serve(GrpcAuthenticateLayer::new(Arc::new(jwt_verifier()))).await;
    let mut client = client(addr).await;
    let statuses = [
        refusal(client.echo(echo_request("x"))).await,
        refusal(client.echo_stream(echo_request("x"))).await,
        refusal(client.echo_collect(messages(2))).await,
        refusal(client.echo_chat(messages(2))).await,
    ];
    for status in statuses {
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        assert_eq!(status.message(), "missing credentials");
    }

    // A bad token: UNAUTHENTICATED too, with a message that says no more than that.
    let mut forged = token("alice");
    forged.pop();
    forged.push('A');
    let forged = bearer(&forged);
    let status = refusal(client.echo_chat(with_metadata(
        messages(2),
        &[("authorization", forged.as_bytes())],
    )))
    .await;
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "invalid credentials");
}

#[tokio::test]
async fn a_valid_token_lacking_a_required_scope_is_permission_denied() {
    let addr = serve(GrpcAuthenticateLayer::new(Arc::new(jwt_verifier()))).await;
    let mut client = client(addr).await;
    let auth = bearer(&token_from(STRICT_ISSUER, "alice"));
    let status = refusal(client.echo_stream(with_metadata(
        echo_request("x"),
        &[("authorization", auth.as_bytes())],
    )))
    .await;
    assert_eq!(status.code(), Code::PermissionDenied);
    // The scope it lacks is for the audit event only.
    assert_eq!(status.message(), "insufficient scope");
}

#[tokio::test]
async fn a_spoofed_passport_at_an_edge_never_becomes_a_principal() {
    let (ring, passports) = passports();
    let (passport, passport_id) = signed_passport(&ring);
    let spoof = [
        ("x-principal-bin", passport.as_bytes()),
        ("x-request-id", REQUEST_ID.as_bytes()),
    ];

    // Control: behind an edge, the same verifier chain accepts this very passport.
    let internal = serve(GrpcAuthenticateLayer::internal(chain(passports.clone()))).await;
    let reply = client(internal)
        .await
        .echo(with_metadata(echo_request("in"), &spoof))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.principal_id, passport_id);
    // Read by the verifier, then removed: the handler never sees the raw passport.
    assert_eq!(reply.message, "in");

    // At the edge it is stripped before any verifier runs: alone, it is no credential.
    let edge = serve(GrpcAuthenticateLayer::new(chain(passports))).await;
    let mut edge = client(edge).await;
    for status in [
        refusal(edge.echo(with_metadata(echo_request("x"), &spoof))).await,
        refusal(edge.echo_chat(with_metadata(messages(1), &spoof))).await,
    ] {
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), "missing credentials");
    }

    // Beside a valid bearer token, the Principal is the token's and the handler never
    // sees the spoofed metadata.
    let mallory = token("mallory");
    let auth = bearer(&mallory);
    let mut entries = spoof.to_vec();
    entries.push(("authorization", auth.as_bytes()));
    let reply = edge
        .echo(with_metadata(echo_request("e"), &entries))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.principal_id, id_of(&mallory).await);
    assert_ne!(reply.principal_id, passport_id);
    assert_eq!(reply.message, "e");
}

#[tokio::test]
async fn binary_metadata_with_bad_base64_is_unauthenticated_not_a_panic() {
    let (ring, passports) = passports();
    let addr = serve(GrpcAuthenticateLayer::internal(chain(passports))).await;
    let mut client = client(addr).await;
    let hostile: [&[u8]; 5] = [
        b"!!!not base64!!!",
        b"A",
        b"QUJD=QUJD",
        b"\xff\xfe\x80",
        b"",
    ];
    for value in hostile {
        let entries = [
            ("x-principal-bin", value),
            ("x-request-id", REQUEST_ID.as_bytes()),
        ];
        for status in [
            refusal(client.echo(with_metadata(echo_request("x"), &entries))).await,
            refusal(client.echo_collect(with_metadata(messages(1), &entries))).await,
        ] {
            assert_eq!(
                status.code(),
                Code::Unauthenticated,
                "{value:?}: {status:?}"
            );
        }
    }
    // The server still serves: a good passport on the same connection is accepted.
    let (passport, passport_id) = signed_passport(&ring);
    let entries = [
        ("x-principal-bin", passport.as_bytes()),
        ("x-request-id", REQUEST_ID.as_bytes()),
    ];
    let reply = client
        .echo(with_metadata(echo_request("ok"), &entries))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.current_principal_id, passport_id);
}

/// A verifier reading `idp`'s JWKS URL, cold: the first call waits for a fetch.
fn idp_verifier(idp: &DevIdp) -> JwtVerifier {
    JwtVerifier::builder()
        .issuer(
            IssuerConfig::builder(Issuer::new(idp.issuer()).unwrap())
                .audience(Audience::new(AUDIENCE).unwrap())
                .jwks_url(&idp.jwks_url())
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn idp_token(idp: &DevIdp) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 300;
    let claims = json!({"iss": idp.issuer(), "sub": "carol", "aud": AUDIENCE, "exp": exp});
    idp.issue(claims, Algorithm::ES256).unwrap()
}

#[tokio::test]
async fn keys_that_must_be_fetched_are_waited_for_and_unavailable_keys_answer_unavailable() {
    // The IdP up, the verifier's cache cold: the call waits for the key fetch, then passes.
    let idp = DevIdp::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = serve(GrpcAuthenticateLayer::new(Arc::new(idp_verifier(&idp)))).await;
    let auth = bearer(&idp_token(&idp));
    let reply = client(addr)
        .await
        .echo_stream(with_metadata(
            echo_request("w"),
            &[("authorization", auth.as_bytes())],
        ))
        .await
        .unwrap()
        .into_inner()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .await;
    assert_eq!(reply.len(), 3);
    assert!(!reply[0].current_principal_id.is_empty());
    assert_eq!(idp.jwks_requests(), 1);

    // The IdP down and no key ever loaded: UNAVAILABLE, on every RPC kind.
    let down = DevIdp::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    down.set_response(Override::Down);
    let addr = serve(GrpcAuthenticateLayer::new(Arc::new(idp_verifier(&down)))).await;
    let mut client = client(addr).await;
    let auth = bearer(&idp_token(&down));
    let entries = [("authorization", auth.as_bytes())];
    for status in [
        refusal(client.echo(with_metadata(echo_request("x"), &entries))).await,
        refusal(client.echo_stream(with_metadata(echo_request("x"), &entries))).await,
        refusal(client.echo_collect(with_metadata(messages(1), &entries))).await,
        refusal(client.echo_chat(with_metadata(messages(1), &entries))).await,
    ] {
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert_eq!(status.message(), "authentication unavailable");
    }
}

#[tokio::test]
async fn optional_mode_lets_an_anonymous_call_through_and_principal_refuses_it() {
    let layer =
        GrpcAuthenticateLayer::from(AuthenticateLayer::new(Arc::new(jwt_verifier())).optional());
    let addr = serve(layer).await;
    let mut client = client(addr).await;
    // The handler asks for a Principal: an anonymous call gets UNAUTHENTICATED from
    // `principal()`, not a default identity.
    let status = refusal(client.echo(echo_request("anon"))).await;
    assert_eq!(status.code(), Code::Unauthenticated);
    // A bad token is still refused by the layer.
    let status = refusal(client.echo(with_metadata(
        echo_request("x"),
        &[("authorization", b"Bearer e30.e30.e30")],
    )))
    .await;
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "invalid credentials");
}

#[tokio::test]
async fn a_service_without_the_layer_answers_internal_never_anonymous() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(EchoServiceServer::new(Echo::default()))
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    let auth = bearer(&token("alice"));
    let status = refusal(client(addr).await.echo(with_metadata(
        echo_request("x"),
        &[("authorization", auth.as_bytes())],
    )))
    .await;
    assert_eq!(status.code(), Code::Internal);
}

/// Every audit event of this test binary, as text (one global subscriber: per-thread
/// ones race over tracing's interest cache).
fn audit_lines() -> &'static std::sync::Mutex<Vec<u8>> {
    static LINES: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LINES.get_or_init(|| {
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Capture {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let writer = Arc::clone(&lines);
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_env_filter("baton::audit=info")
            .with_writer(move || Capture(Arc::clone(&writer)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        lines
    })
}

/// The audit lines of the request `request_id`.
fn audited(request_id: &str) -> Vec<String> {
    let all = String::from_utf8_lossy(&audit_lines().lock().unwrap()).into_owned();
    let needle = format!("request_id=\"{request_id}\" ");
    all.lines()
        .filter(|line| line.contains(&needle))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn each_decision_emits_one_audit_event_with_the_precise_reason() {
    audit_lines();
    let addr = serve(GrpcAuthenticateLayer::new(Arc::new(jwt_verifier()))).await;
    let mut client = client(addr).await;
    let ok = bearer(&token("alice"));
    let unscoped = bearer(&token_from(STRICT_ISSUER, "alice"));
    client
        .echo_stream(with_metadata(
            echo_request("a"),
            &[
                ("authorization", ok.as_bytes()),
                ("x-request-id", b"grpc-audit-ok"),
                ("traceparent", TRACEPARENT.as_bytes()),
            ],
        ))
        .await
        .unwrap()
        .into_inner()
        .collect::<Vec<_>>()
        .await;
    refusal(client.echo(with_metadata(
        echo_request("a"),
        &[("x-request-id", b"grpc-audit-missing")],
    )))
    .await;
    refusal(client.echo_chat(with_metadata(
        messages(1),
        &[
            ("authorization", unscoped.as_bytes()),
            ("x-request-id", b"grpc-audit-scope"),
        ],
    )))
    .await;

    let cases = [
        (
            "grpc-audit-ok",
            "outcome=\"accepted\"",
            "reason=\"verified\"",
        ),
        (
            "grpc-audit-missing",
            "outcome=\"rejected\"",
            "reason=\"missing_token\"",
        ),
        (
            "grpc-audit-scope",
            "outcome=\"rejected\"",
            "reason=\"insufficient_scope\"",
        ),
    ];
    for (request_id, outcome, reason) in cases {
        let lines = audited(request_id);
        assert_eq!(lines.len(), 1, "{request_id}: {lines:?}");
        assert!(lines[0].contains(outcome), "{}", lines[0]);
        assert!(lines[0].contains(reason), "{}", lines[0]);
    }
    // The precise reason is in the audit event, the client got only the class.
    assert!(audited("grpc-audit-scope")[0].contains("echo:write"));
    // The same event as over HTTP: the trace continued from the caller, the subject and
    // the party acting (here the subject itself), no caller service at an edge.
    let accepted = &audited("grpc-audit-ok")[0];
    for field in [
        format!("trace_id={TRACE_ID}"),
        "subject=\"alice\"".to_owned(),
        "delegation= ".to_owned(),
        "caller=- ".to_owned(),
        "pattern=\"jwt_passthrough\"".to_owned(),
    ] {
        assert!(accepted.contains(&field), "{field} in {accepted}");
    }
    let principal_id = accepted
        .split("principal_id=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(principal_id.starts_with("hm-"), "{accepted}");
    assert!(
        accepted.contains(&format!("acting={principal_id} ")),
        "{accepted}"
    );
    // A refusal has a trace id too (a new trace: none came), never a subject.
    let missing = &audited("grpc-audit-missing")[0];
    assert!(missing.contains("subject=\"-\""), "{missing}");
    assert!(
        !missing.contains(&format!("trace_id={TRACE_ID}")),
        "{missing}"
    );
    assert!(!missing.contains("trace_id=-"), "{missing}");
}

/// A caller's W3C trace context, and its trace id.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test]
async fn a_stream_asked_to_stop_at_expiry_authorizes_no_message_past_it() {
    audit_lines();
    let service_clock = clock();
    let echo = Echo {
        expiry_clock: Some(service_clock.clone()),
    };
    let addr = serve_echo(GrpcAuthenticateLayer::new(Arc::new(jwt_verifier())), echo).await;
    let mut client = client(addr).await;
    let (outbound, inbound) = tokio::sync::mpsc::channel(4);
    let auth = bearer(&token("alice"));
    let mut replies = client
        .echo_chat(with_metadata(
            tokio_stream::wrappers::ReceiverStream::new(inbound),
            &[
                ("authorization", auth.as_bytes()),
                ("x-request-id", b"grpc-expiry"),
                ("traceparent", TRACEPARENT.as_bytes()),
            ],
        ))
        .await
        .unwrap()
        .into_inner();

    outbound.send(echo_request("before")).await.unwrap();
    let first = replies.message().await.unwrap().unwrap();
    assert_eq!(first.message, "before");

    // The token expires at NOW + 3600; the stream is still open.
    service_clock.set(Timestamp::from_unix_seconds(NOW + 3600));
    outbound.send(echo_request("after")).await.unwrap();
    let status = replies.message().await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "credentials expired");
    // Two decisions on this call, two events: accepted when it started, refused when the
    // late message came; the second the same event, for the same request and subject.
    let lines = audited("grpc-expiry");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("outcome=\"accepted\""), "{}", lines[0]);
    let expired = &lines[1];
    for field in [
        "outcome=\"rejected\"".to_owned(),
        "reason=\"expired_mid_stream\"".to_owned(),
        "subject=\"alice\"".to_owned(),
        "pattern=\"jwt_passthrough\"".to_owned(),
        format!("trace_id={TRACE_ID}"),
    ] {
        assert!(expired.contains(&field), "{field} in {expired}");
    }
}

#[tokio::test]
async fn a_passport_sent_with_tonics_binary_metadata_api_is_read() {
    use base64::Engine as _;
    let (ring, passports) = passports();
    let (passport, passport_id) = signed_passport(&ring);
    // What a tonic client does: raw bytes in, tonic writes them as `-bin` base64 (padded
    // or not is tonic's choice; the layer reads both).
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(passport.trim_end_matches('='))
        .unwrap();
    let addr = serve(GrpcAuthenticateLayer::internal(chain(passports))).await;
    let mut request = Request::new(messages(2));
    request.metadata_mut().insert_bin(
        "x-principal-bin",
        tonic::metadata::MetadataValue::from_bytes(&bytes),
    );
    request
        .metadata_mut()
        .insert("x-request-id", REQUEST_ID.parse().unwrap());
    let reply = client(addr)
        .await
        .echo_collect(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.principal_id, passport_id);
    assert_eq!(reply.current_principal_id, passport_id);
}
