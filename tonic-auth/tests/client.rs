//! The client side over real loopback connections: tower-auth's `PropagateLayer` wrapped
//! around a tonic `Channel` (bound to the channel's endpoint), under a generated client,
//! attaches the current Principal as the destination's route says. The server is
//! tonic-auth's internal `GrpcAuthenticateLayer` (a passport verifier and a verifier of
//! minted internal JWTs), behind a recorder of the metadata that arrived on the wire.
//! Both client forms (the layer and `PassportInterceptor`) are tested on all four kinds
//! of call: unary, client streaming, server streaming and bidirectional.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(clippy::all, missing_docs)]
mod pb {
    include!("gen/baton.testing.v1.rs");
}

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use http::HeaderMap;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pb::echo_service_client::EchoServiceClient;
use pb::echo_service_server::{EchoService, EchoServiceServer};
use pb::{EchoRequest, EchoResponse};
use principal::{Audience, ClaimMapping, Issuer, ServiceId, TestClock, Timestamp};
use principal_proto::header::{DEFAULT_MAX_HEADER_LEN, HeaderLimit, MAX_HEADER_LEN};
use principal_proto::{
    DecodeOptions, KeyId, Passport, PassportError, PassportKeyRing, PassportSigningKey,
    PassportVerifyingKey,
};
use serde_json::json;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_auth::PrincipalExt;
use tonic_auth::client::{PassportInterceptor, refusal_as_status};
use tonic_auth::server::GrpcAuthenticateLayer;
use tower::ServiceBuilder;
use tower_auth::context::{self, RequestContext};
use tower_auth::jwks::{KeySet, KeySetPolicy, SymmetricKey};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::mint::{InternalIssuer, MintCache, SigningAlgorithm, SigningKey};
use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
use tower_auth::propagate::{
    PropagateError, PropagateLayer, PropagateService, Route, SharedKeyRing,
};
use tower_auth::trace::{RequestId, TraceContext};
use tower_auth::{Pattern, Verifier, VerifierChain};

const NOW: i64 = 1_700_000_000;
/// The external issuer of the caller's own token.
const ISSUER: &str = "https://issuer.example";
/// The internal issuer of the calling service (pattern 2).
const EDGE_ISSUER: &str = "https://edge.internal";
const AUDIENCE: &str = "echo";
const SECRET: [u8; 32] = [0x5a; 32];
const REQUEST_ID: &str = "0d9c7e3a-5b1f-4c2e-9a8d-7f6e5d4c3b2a";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// ---- the server -----------------------------------------------------------------------

/// Echoes the verified Principal's id and pattern (`message` is the pattern).
#[derive(Clone, Default)]
struct Echo;

fn reply(verified: &tower_auth::VerifiedPrincipal) -> EchoResponse {
    EchoResponse {
        message: verified.pattern().as_str().to_owned(),
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
        Ok(Response::new(reply(request.principal()?)))
    }

    type EchoStreamStream = ReplyStream;

    /// `count` replies, each made when the response body is polled (after this handler
    /// returned): `current_principal_id` shows the Principal is current while it streams.
    async fn echo_stream(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        let verified = request.principal()?.clone();
        let count = request.get_ref().count;
        let replies = tokio_stream::iter(0..count).map(move |_| Ok(reply(&verified)));
        Ok(Response::new(Box::pin(replies)))
    }

    async fn echo_collect(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        let verified = request.principal()?.clone();
        let mut inbound = request.into_inner();
        while inbound.message().await?.is_some() {}
        Ok(Response::new(reply(&verified)))
    }

    type EchoChatStream = ReplyStream;

    /// One reply per request message, as they arrive.
    async fn echo_chat(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let verified = request.principal()?.clone();
        let replies = request
            .into_inner()
            .map(move |message| message.map(|_| reply(&verified)));
        Ok(Response::new(Box::pin(replies)))
    }
}

/// The metadata of every call the server received, as it arrived on the wire (before
/// the authenticate layer read or removed anything).
type Wire = Arc<Mutex<Vec<HeaderMap>>>;

async fn serve(verifier: Arc<dyn Verifier>) -> (SocketAddr, Wire) {
    let wire = Wire::default();
    let record = Arc::clone(&wire);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let layers = ServiceBuilder::new()
        .map_request(move |request: http::Request<tonic::body::Body>| {
            record.lock().unwrap().push(request.headers().clone());
            request
        })
        .layer(GrpcAuthenticateLayer::internal(verifier));
    let server = tonic::transport::Server::builder()
        .layer(layers)
        .add_service(EchoServiceServer::new(Echo))
        .serve_with_incoming(TcpIncoming::from(listener));
    tokio::spawn(server);
    (addr, wire)
}

fn last(wire: &Wire) -> HeaderMap {
    wire.lock()
        .unwrap()
        .last()
        .cloned()
        .expect("a call arrived")
}

// ---- the calling service --------------------------------------------------------------

fn clock() -> TestClock {
    TestClock::new(Timestamp::from_unix_seconds(NOW))
}

fn audience() -> Audience {
    Audience::new(AUDIENCE).unwrap()
}

/// The caller's own token, verified as its authenticate layer would: the Principal that
/// is current while it calls the echo service.
async fn caller_context() -> RequestContext {
    caller_context_with_scopes(0).await
}

/// [`caller_context`], with a token that grants `scopes` scopes (a large Principal).
async fn caller_context_with_scopes(scopes: usize) -> RequestContext {
    let config = IssuerConfig::builder(Issuer::new(ISSUER).unwrap())
        .audience(Audience::new("edge-api").unwrap())
        .hmac_secrets([SymmetricKey::new(Some("k1"), Algorithm::HS256, SECRET.to_vec()).unwrap()])
        .build()
        .unwrap();
    let verifier = JwtVerifier::builder()
        .issuer(config)
        .clock(Arc::new(clock()))
        .build()
        .unwrap();
    let mut claims =
        json!({"iss": ISSUER, "sub": "alice", "aud": "edge-api", "exp": NOW + 3600, "iat": NOW});
    if scopes > 0 {
        let scope: Vec<String> = (0..scopes)
            .map(|i| format!("documents:folder-{i:04}:read"))
            .collect();
        claims["scope"] = json!(scope.join(" "));
    }
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&SECRET)).unwrap();
    let verified = verifier.verify_token(&token).await.unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", TRACEPARENT.parse().unwrap());
    RequestContext::new(
        Some(verified),
        RequestId::parse(REQUEST_ID).unwrap(),
        TraceContext::from_headers(&headers).unwrap(),
    )
}

/// A generated client over `PropagateLayer` over a `Channel` to `addr`: the layer is
/// bound to the channel's endpoint.
async fn client(
    addr: SocketAddr,
    layer: PropagateLayer,
) -> EchoServiceClient<PropagateService<Channel>> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let channel = endpoint.connect().await.unwrap();
    let layer = layer
        .clock(Arc::new(clock()))
        .bound_to(endpoint.uri())
        .unwrap();
    EchoServiceClient::new(ServiceBuilder::new().layer(layer).service(channel))
}

fn shared_ring() -> SharedKeyRing {
    let key = PassportSigningKey::ed25519_generate(KeyId::new("edge-1").unwrap()).unwrap();
    Arc::new(ArcSwap::from_pointee(PassportKeyRing::new(key)))
}

/// The echo service's passport verifier: passports for [`AUDIENCE`] signed by `ring`
/// (the edge's).
fn passport_verifier(ring: &SharedKeyRing) -> Arc<PassportHeaderVerifier> {
    let ring = ring.load();
    let key = ring.verifier().key(ring.current_key_id()).unwrap();
    let public =
        PassportVerifyingKey::ed25519(key.key_id().clone(), key.ed25519_public_key().unwrap())
            .unwrap();
    let keys = PassportKeys::new(public, ServiceId::new("edge").unwrap()).unwrap();
    Arc::new(
        PassportHeaderVerifier::new(DecodeOptions::new(audience()), keys).clock(Arc::new(clock())),
    )
}

/// The edge's internal issuer (pattern 2), and the echo service's verifier of its tokens
/// (the issuer's JWKS as static keys).
fn minting() -> (InternalIssuer, Arc<JwtVerifier>) {
    let issuer = InternalIssuer::builder(
        Issuer::new(EDGE_ISSUER).unwrap(),
        SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
    )
    .clock(Arc::new(clock()))
    .build()
    .unwrap();
    let jwks = issuer.jwks().to_string();
    let keys = KeySet::from_jwks_json(jwks.as_bytes(), &KeySetPolicy::default())
        .unwrap()
        .set;
    let config = IssuerConfig::builder(issuer.issuer().clone())
        .audience(audience())
        .static_keys(keys)
        .algorithms([Algorithm::ES256])
        .require_typ("at+jwt")
        .claim_mapping(ClaimMapping::baton())
        .minted_by(ServiceId::new("edge").unwrap())
        .build()
        .unwrap();
    let verifier = JwtVerifier::builder()
        .issuer(config)
        .clock(Arc::new(clock()))
        .pattern(Pattern::InternalJwt)
        .build()
        .unwrap();
    (issuer, Arc::new(verifier))
}

/// The echo service accepts the edge's minted JWTs and its signed passports.
async fn echo_service(ring: &SharedKeyRing, minted: Arc<JwtVerifier>) -> (SocketAddr, Wire) {
    let chain = VerifierChain::new(minted).then(passport_verifier(ring));
    serve(Arc::new(chain)).await
}

fn messages(n: usize) -> impl Stream<Item = EchoRequest> + Send + 'static {
    tokio_stream::iter((0..n).map(|i| EchoRequest {
        message: format!("m{i}"),
        count: 0,
    }))
}

/// A request carrying identity metadata set by the caller's own code (copied from its
/// own incoming request): the propagate layer must never send it.
fn with_copied_identity<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert("authorization", format!("Bearer {token}").parse().unwrap());
    metadata.insert_bin(
        "x-principal-bin",
        tonic::metadata::MetadataValue::from_bytes(b"spoofed"),
    );
    metadata.insert("x-request-id", "caller-chosen".parse().unwrap());
    request
}

fn assert_trace_arrived(headers: &HeaderMap) {
    assert_eq!(headers["x-request-id"], REQUEST_ID);
    assert_eq!(headers["traceparent"], TRACEPARENT);
}

// ---- the tests ------------------------------------------------------------------------

#[tokio::test]
async fn a_signed_passport_route_attaches_the_current_principal_to_grpc_calls() {
    let ring = shared_ring();
    let (_, minted) = minting();
    let (addr, wire) = echo_service(&ring, minted).await;
    let layer = PropagateLayer::new()
        .route(
            &addr.to_string(),
            Route::signed_passport(Arc::clone(&ring), audience()),
        )
        .unwrap();
    let mut echo = client(addr, layer).await;
    let ctx = caller_context().await;
    let alice = ctx.principal().unwrap().id().to_string();

    // Unary, with identity metadata the caller's code copied: replaced by the route's.
    let reply = ctx
        .clone()
        .scope(echo.echo(with_copied_identity(EchoRequest::default(), "copied-token")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.principal_id, alice);
    assert_eq!(reply.current_principal_id, alice);
    assert_eq!(reply.message, Pattern::Passport.as_str());
    let headers = last(&wire);
    assert!(!headers.contains_key("authorization"));
    assert_trace_arrived(&headers);
    // On the wire: the route's passport (not the copied one), bound to this request.
    let keys = ring.load();
    let passport = keys
        .verifier()
        .verify_header(
            headers["x-principal-bin"].to_str().unwrap(),
            &DecodeOptions::new(audience()),
            Timestamp::from_unix_seconds(NOW),
        )
        .unwrap();
    assert_eq!(passport.principal().id().to_string(), alice);
    assert_eq!(passport.request_id().as_str(), REQUEST_ID);

    // Client streaming: the same, on a call whose body is still being sent.
    let reply = ctx
        .clone()
        .scope(echo.echo_collect(messages(3)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.principal_id, alice);
    assert_trace_arrived(&last(&wire));

    // No current Principal: the call carries no identity, and the server refuses it.
    let status = echo.echo(EchoRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(!last(&wire).contains_key("x-principal-bin"));

    // Required by the route: the call is not even made.
    let required = PropagateLayer::new()
        .route(
            &addr.to_string(),
            Route::signed_passport(Arc::clone(&ring), audience()).require_principal(),
        )
        .unwrap();
    let calls = wire.lock().unwrap().len();
    let status = client(addr, required)
        .await
        .echo(EchoRequest::default())
        .await
        .unwrap_err();
    // tonic reports a refusal of the client's own stack as UNKNOWN, with its message.
    assert_eq!(status.code(), Code::Unknown, "{status:?}");
    assert!(
        status.message().contains("no current Principal"),
        "{status:?}"
    );
    assert_eq!(wire.lock().unwrap().len(), calls);

    // Mapped with `refusal_as_status`: the interceptor's UNAUTHENTICATED.
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let channel = endpoint.connect().await.unwrap();
    let required = PropagateLayer::new()
        .route(
            &addr.to_string(),
            Route::signed_passport(Arc::clone(&ring), audience()).require_principal(),
        )
        .unwrap()
        .clock(Arc::new(clock()))
        .bound_to(endpoint.uri())
        .unwrap();
    let mut mapped = EchoServiceClient::new(
        ServiceBuilder::new()
            .map_err(refusal_as_status)
            .layer(required)
            .service(channel),
    );
    let status = mapped.echo(EchoRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "no current principal");
    assert_eq!(wire.lock().unwrap().len(), calls);
    // With a Principal, the mapped client calls as before.
    let reply = ctx
        .scope(mapped.echo(EchoRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.principal_id, alice);
}

#[tokio::test]
async fn a_minted_jwt_route_attaches_an_internal_token_minted_on_a_cold_cache() {
    let ring = shared_ring();
    let (issuer, minted) = minting();
    let (addr, wire) = echo_service(&ring, minted).await;
    let cache = Arc::new(MintCache::builder(issuer.clone()).build().unwrap());
    let layer = PropagateLayer::new()
        .route(
            &addr.to_string(),
            Route::minted_jwt(Arc::clone(&cache), audience()),
        )
        .unwrap();
    let mut client = client(addr, layer).await;
    let ctx = caller_context().await;
    let alice = ctx.principal().unwrap().id().to_string();

    for _ in 0..2 {
        let reply = ctx
            .clone()
            .scope(client.echo(with_copied_identity(EchoRequest::default(), "copied-token")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.principal_id, alice);
        assert_eq!(reply.message, Pattern::InternalJwt.as_str());
        let headers = last(&wire);
        let authorization = headers["authorization"].to_str().unwrap();
        assert!(authorization.starts_with("Bearer ey"), "{authorization}");
        assert!(!headers.contains_key("x-principal-bin"));
        assert_trace_arrived(&headers);
    }
    // Minted once (the first call waited for it), then served from the cache.
    assert_eq!(issuer.tokens_minted(), 1);
}

#[tokio::test]
async fn a_destination_off_the_allowlist_gets_no_identity_but_the_trace() {
    let ring = shared_ring();
    let (issuer, minted) = minting();
    let (addr, wire) = echo_service(&ring, minted).await;
    let cache = Arc::new(MintCache::builder(issuer.clone()).build().unwrap());
    // Routes for other destinations only (another port of the same host among them).
    let other = SocketAddr::new(addr.ip(), addr.port().wrapping_add(1));
    let layer = PropagateLayer::new()
        .route(
            &other.to_string(),
            Route::signed_passport(Arc::clone(&ring), audience()),
        )
        .unwrap()
        .route(
            "documents.internal:50051",
            Route::minted_jwt(cache, audience()),
        )
        .unwrap();
    let mut client = client(addr, layer).await;
    let ctx = caller_context().await;

    // The caller's code copied a token the echo service would accept: it never leaves.
    let copied = issuer
        .mint(ctx.principal().unwrap().principal(), &audience())
        .unwrap();
    let status = ctx
        .clone()
        .scope(client.echo(with_copied_identity(
            EchoRequest::default(),
            copied.as_str(),
        )))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "missing credentials");
    let headers = last(&wire);
    for name in ["authorization", "x-principal-bin", "x-baton-internal-token"] {
        assert!(!headers.contains_key(name), "{name}");
    }
    assert_trace_arrived(&headers);
}

#[tokio::test]
async fn the_interceptor_attaches_a_signed_passport_without_a_layer() {
    let ring = shared_ring();
    let (_, minted) = minting();
    let (addr, wire) = echo_service(&ring, minted).await;
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let channel = endpoint.connect().await.unwrap();
    let routes = PropagateLayer::new()
        .route(
            &addr.to_string(),
            Route::signed_passport(Arc::clone(&ring), audience()).require_principal(),
        )
        .unwrap()
        .clock(Arc::new(clock()));
    let interceptor = PassportInterceptor::new(routes, endpoint.uri()).unwrap();
    let mut echo = EchoServiceClient::with_interceptor(channel, interceptor);
    let ctx = caller_context().await;
    let alice = ctx.principal().unwrap().id().to_string();

    // Unary and client streaming, with identity metadata the caller's code copied.
    let reply = ctx
        .clone()
        .scope(echo.echo(with_copied_identity(EchoRequest::default(), "copied")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.principal_id, alice);
    assert_eq!(reply.current_principal_id, alice);
    assert_eq!(reply.message, Pattern::Passport.as_str());
    let headers = last(&wire);
    assert!(!headers.contains_key("authorization"));
    assert_trace_arrived(&headers);
    let keys = ring.load();
    let passport = keys
        .verifier()
        .verify_header(
            headers["x-principal-bin"].to_str().unwrap(),
            &DecodeOptions::new(audience()),
            Timestamp::from_unix_seconds(NOW),
        )
        .unwrap();
    assert_eq!(passport.principal().id().to_string(), alice);
    assert_eq!(passport.request_id().as_str(), REQUEST_ID);
    let reply = ctx
        .clone()
        .scope(echo.echo_collect(messages(2)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.principal_id, alice);

    // No current Principal, and the route requires one: UNAUTHENTICATED from the client
    // itself; the copied token (one the server would accept) never left.
    let calls = wire.lock().unwrap().len();
    let copied_token = ring.load().sign_header(&passport).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-principal-bin", copied_token.parse().unwrap());
    let mut request = Request::new(EchoRequest::default());
    *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(headers);
    let status = echo.echo(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "no current principal");
    assert_eq!(wire.lock().unwrap().len(), calls);
}

#[tokio::test]
async fn the_interceptor_refuses_a_route_that_may_wait_and_an_endpoint_without_origin() {
    let (issuer, _) = minting();
    let cache = Arc::new(MintCache::builder(issuer).build().unwrap());
    let routes = PropagateLayer::new()
        .route(
            "documents.internal:50051",
            Route::minted_jwt(cache, audience()),
        )
        .unwrap();
    let error = PassportInterceptor::new(
        routes.clone(),
        &"http://documents.internal:50051".parse().unwrap(),
    )
    .unwrap_err();
    assert_eq!(error.reason(), "route_may_wait");
    for endpoint in ["/only/a/path", "documents.internal:50051"] {
        let error =
            PassportInterceptor::new(routes.clone(), &endpoint.parse().unwrap()).unwrap_err();
        assert_eq!(error.reason(), "invalid_destination", "{endpoint}");
    }
    // Another destination of the same routes needs no waiting: accepted.
    assert!(PassportInterceptor::new(routes, &"http://other.internal:1".parse().unwrap()).is_ok());
}

/// The signed passport header the route makes for `ctx`, measured without a limit.
fn signed_header_len(ring: &SharedKeyRing, ctx: &RequestContext) -> usize {
    let now = Timestamp::from_unix_seconds(NOW);
    let passport = Passport::new(
        ctx.principal().unwrap().principal().clone(),
        principal_proto::RequestId::new(REQUEST_ID).unwrap(),
        audience(),
        now,
        now.add_seconds(60),
    )
    .unwrap();
    ring.load()
        .sign_header_within(&passport, HeaderLimit::new(MAX_HEADER_LEN).unwrap())
        .unwrap()
        .len()
}

fn assert_too_large(status: &Status, len: usize, max: usize) {
    assert!(
        status.message().contains(&format!("{len} bytes")),
        "{status:?}"
    );
    assert!(
        status.message().contains(&format!("limit of {max}")),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_principal_too_large_for_a_passport_is_refused_before_it_is_sent_by_either_client_form() {
    let ring = shared_ring();
    let (_, minted) = minting();
    let (addr, wire) = echo_service(&ring, minted).await;
    // 160 scopes: a signed passport of about 6 KiB of header, over the default 4 KiB.
    let large = caller_context_with_scopes(160).await;
    let len = signed_header_len(&ring, &large);
    assert!(len > DEFAULT_MAX_HEADER_LEN, "{len}");
    let routes = || {
        PropagateLayer::new()
            .route(
                &addr.to_string(),
                Route::signed_passport(Arc::clone(&ring), audience()),
            )
            .unwrap()
    };

    // The propagate layer over the channel: refused with the typed error, which tonic
    // reports as UNKNOWN with its text...
    let mut layered = client(addr, routes()).await;
    let status = large
        .clone()
        .scope(layered.echo(EchoRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unknown, "{status:?}");
    assert_too_large(&status, len, DEFAULT_MAX_HEADER_LEN);
    let refused = std::error::Error::source(&status)
        .and_then(|source| source.downcast_ref::<PropagateError>())
        .expect("the layer's typed refusal");
    assert!(matches!(
        refused,
        PropagateError::Passport {
            source: PassportError::PrincipalTooLarge {
                max: DEFAULT_MAX_HEADER_LEN,
                ..
            },
            ..
        }
    ));
    // ... and, mapped with `refusal_as_status`, as RESOURCE_EXHAUSTED, gRPC's code for a size
    // over a limit.
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let layer = routes()
        .clock(Arc::new(clock()))
        .bound_to(endpoint.uri())
        .unwrap();
    let mut mapped = EchoServiceClient::new(
        ServiceBuilder::new()
            .map_err(refusal_as_status)
            .layer(layer)
            .service(endpoint.connect().await.unwrap()),
    );
    let status = large
        .clone()
        .scope(mapped.echo(EchoRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_too_large(&status, len, DEFAULT_MAX_HEADER_LEN);

    // The interceptor: RESOURCE_EXHAUSTED from the client itself.
    let interceptor =
        PassportInterceptor::new(routes().clock(Arc::new(clock())), endpoint.uri()).unwrap();
    let mut intercepted =
        EchoServiceClient::with_interceptor(endpoint.connect().await.unwrap(), interceptor);
    let status = large
        .clone()
        .scope(intercepted.echo(EchoRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_too_large(&status, len, DEFAULT_MAX_HEADER_LEN);
    // A streaming call too.
    let status = large
        .clone()
        .scope(intercepted.echo_collect(messages(2)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // Nothing of it reached the server.
    assert!(wire.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_passport_at_exactly_the_route_limit_goes_through_both_client_forms_one_byte_less_does_not()
 {
    let ring = shared_ring();
    let (_, minted) = minting();
    let (addr, wire) = echo_service(&ring, minted).await;
    // 100 scopes: just under the default limit.
    let ctx = caller_context_with_scopes(100).await;
    let alice = ctx.principal().unwrap().id().to_string();
    let len = signed_header_len(&ring, &ctx);
    assert!(
        (DEFAULT_MAX_HEADER_LEN - 1024..=DEFAULT_MAX_HEADER_LEN).contains(&len),
        "{len}"
    );
    let routes = |limit: usize| {
        PropagateLayer::new()
            .route(
                &addr.to_string(),
                Route::signed_passport(Arc::clone(&ring), audience())
                    .passport_header_limit(HeaderLimit::new(limit).unwrap()),
            )
            .unwrap()
    };
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let interceptor = |limit| {
        PassportInterceptor::new(routes(limit).clock(Arc::new(clock())), endpoint.uri()).unwrap()
    };

    // Under the default limit: both forms send it, and the server accepts it.
    for limit in [DEFAULT_MAX_HEADER_LEN, len] {
        let reply = ctx
            .clone()
            .scope(
                client(addr, routes(limit))
                    .await
                    .echo(EchoRequest::default()),
            )
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.principal_id, alice);
        assert_eq!(last(&wire)["x-principal-bin"].len(), len);
        let mut intercepted = EchoServiceClient::with_interceptor(
            endpoint.connect().await.unwrap(),
            interceptor(limit),
        );
        let reply = ctx
            .clone()
            .scope(intercepted.echo(EchoRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.principal_id, alice);
        assert_eq!(last(&wire)["x-principal-bin"].len(), len);
    }

    // One byte less: refused by both, before anything is sent.
    let calls = wire.lock().unwrap().len();
    let status = ctx
        .clone()
        .scope(
            client(addr, routes(len - 1))
                .await
                .echo(EchoRequest::default()),
        )
        .await
        .unwrap_err();
    assert_too_large(&status, len, len - 1);
    let mut intercepted = EchoServiceClient::with_interceptor(
        endpoint.connect().await.unwrap(),
        interceptor(len - 1),
    );
    let status = ctx
        .clone()
        .scope(intercepted.echo(EchoRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_too_large(&status, len, len - 1);
    assert_eq!(wire.lock().unwrap().len(), calls);
}

/// Every reply of a response stream.
async fn replies(stream: Response<Streaming<EchoResponse>>) -> Vec<EchoResponse> {
    let mut stream = stream.into_inner();
    let mut replies = Vec::new();
    while let Some(reply) = stream.message().await.unwrap() {
        replies.push(reply);
    }
    replies
}

/// Server streaming and bidirectional calls of `echo` inside `ctx`: every reply names the
/// caller's Principal as verified and as current while the response streams, under
/// `pattern`; the metadata on the wire carries the request's id and trace. Returns the
/// metadata of the two calls.
async fn assert_streaming_calls_carry_the_principal<T>(
    echo: &mut EchoServiceClient<T>,
    ctx: &RequestContext,
    wire: &Wire,
    pattern: Pattern,
) -> [HeaderMap; 2]
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: http_body::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let alice = ctx.principal().unwrap().id().to_string();
    let request = EchoRequest {
        message: "s".into(),
        count: 3,
    };
    let streamed = replies(
        ctx.clone()
            .scope(echo.echo_stream(with_copied_identity(request, "copied-token")))
            .await
            .unwrap(),
    )
    .await;
    let server_streaming = last(wire);
    let chat = replies(
        ctx.clone()
            .scope(echo.echo_chat(messages(4)))
            .await
            .unwrap(),
    )
    .await;
    let bidirectional = last(wire);
    assert_eq!(streamed.len(), 3);
    assert_eq!(chat.len(), 4);
    for reply in streamed.iter().chain(&chat) {
        assert_eq!(reply.principal_id, alice);
        assert_eq!(reply.current_principal_id, alice);
        assert_eq!(reply.message, pattern.as_str());
    }
    for headers in [&server_streaming, &bidirectional] {
        assert_trace_arrived(headers);
    }
    [server_streaming, bidirectional]
}

#[tokio::test]
async fn the_layer_over_a_channel_attaches_the_principal_to_server_streaming_and_bidirectional_calls()
 {
    let ring = shared_ring();
    let (issuer, minted) = minting();
    let (addr, wire) = echo_service(&ring, minted).await;
    let ctx = caller_context().await;
    let alice = ctx.principal().unwrap().id().to_string();

    // A signed passport: on the wire, the route's passport for this request, never the
    // identity the caller's code copied.
    let layer = PropagateLayer::new()
        .route(
            &addr.to_string(),
            Route::signed_passport(Arc::clone(&ring), audience()).require_principal(),
        )
        .unwrap();
    let mut echo = client(addr, layer).await;
    let sent =
        assert_streaming_calls_carry_the_principal(&mut echo, &ctx, &wire, Pattern::Passport).await;
    for headers in &sent {
        assert!(!headers.contains_key("authorization"));
        let passport = ring
            .load()
            .verifier()
            .verify_header(
                headers["x-principal-bin"].to_str().unwrap(),
                &DecodeOptions::new(audience()),
                Timestamp::from_unix_seconds(NOW),
            )
            .unwrap();
        assert_eq!(passport.principal().id().to_string(), alice);
        assert_eq!(passport.request_id().as_str(), REQUEST_ID);
    }
    // Required and absent: neither streaming call is made.
    let calls = wire.lock().unwrap().len();
    let status = echo.echo_stream(EchoRequest::default()).await.unwrap_err();
    assert!(
        status.message().contains("no current Principal"),
        "{status:?}"
    );
    let status = echo.echo_chat(messages(2)).await.unwrap_err();
    assert!(
        status.message().contains("no current Principal"),
        "{status:?}"
    );
    assert_eq!(wire.lock().unwrap().len(), calls);

    // A minted JWT, the server streaming call the first (it waits for the mint on a cold
    // cache with its request held), the bidirectional one from the cache.
    let cache = Arc::new(MintCache::builder(issuer.clone()).build().unwrap());
    let layer = PropagateLayer::new()
        .route(&addr.to_string(), Route::minted_jwt(cache, audience()))
        .unwrap();
    let mut echo = client(addr, layer).await;
    let sent =
        assert_streaming_calls_carry_the_principal(&mut echo, &ctx, &wire, Pattern::InternalJwt)
            .await;
    for headers in &sent {
        let authorization = headers["authorization"].to_str().unwrap();
        assert!(authorization.starts_with("Bearer ey"), "{authorization}");
        assert!(!headers.contains_key("x-principal-bin"));
    }
    assert_eq!(issuer.tokens_minted(), 1);
}

#[tokio::test]
async fn the_interceptor_attaches_the_principal_to_server_streaming_and_bidirectional_calls() {
    let ring = shared_ring();
    let (_, minted) = minting();
    let (addr, wire) = echo_service(&ring, minted).await;
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let routes = PropagateLayer::new()
        .route(
            &addr.to_string(),
            Route::signed_passport(Arc::clone(&ring), audience()).require_principal(),
        )
        .unwrap()
        .clock(Arc::new(clock()));
    let interceptor = PassportInterceptor::new(routes, endpoint.uri()).unwrap();
    let mut echo =
        EchoServiceClient::with_interceptor(endpoint.connect().await.unwrap(), interceptor);
    let ctx = caller_context().await;
    let alice = ctx.principal().unwrap().id().to_string();

    let sent =
        assert_streaming_calls_carry_the_principal(&mut echo, &ctx, &wire, Pattern::Passport).await;
    for headers in &sent {
        assert!(!headers.contains_key("authorization"));
        let passport = ring
            .load()
            .verifier()
            .verify_header(
                headers["x-principal-bin"].to_str().unwrap(),
                &DecodeOptions::new(audience()),
                Timestamp::from_unix_seconds(NOW),
            )
            .unwrap();
        assert_eq!(passport.principal().id().to_string(), alice);
        assert_eq!(passport.request_id().as_str(), REQUEST_ID);
    }

    // Required and absent: UNAUTHENTICATED from the client itself, nothing sent.
    let calls = wire.lock().unwrap().len();
    let status = echo.echo_stream(EchoRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = echo.echo_chat(messages(2)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(wire.lock().unwrap().len(), calls);
}
