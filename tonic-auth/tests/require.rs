//! `GrpcRequireLayer` over real loopback gRPC: a tonic server on `127.0.0.1:0` behind
//! `GrpcAuthenticateLayer`, a tonic client; refusals as `PERMISSION_DENIED` (requirement
//! not met, a method with no requirement) and `UNAUTHENTICATED` (no Principal); per method
//! and per service; the calling workload's SPIFFE ID.
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
use principal::{
    Actor, AgentId, Audience, ClaimMapping, HumanId, Issuer, Kind, Principal, PrincipalId, Role,
    ScopeSet, TestClock, Timestamp,
};
use tokio_stream::Stream;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_auth::require::{GrpcRequireLayer, GrpcRequirements};
use tonic_auth::server::GrpcAuthenticateLayer;
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::jwks::SymmetricKey;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::peer::{PeerIdentity, SpiffeId};
use tower_auth::require::Requirement;
use tower_layer::Layer;

const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://edge.baton.internal";
const AUDIENCE: &str = "echo";
const SECRET: [u8; 32] = [0x24; 32];
const SERVICE: &str = "baton.testing.v1.EchoService";
/// Test-only stand-in for the mTLS transport (tested in `mtls.rs`): the peer's SPIFFE ID.
const TEST_PEER: &str = "x-test-peer";

type ReplyStream = Pin<Box<dyn Stream<Item = Result<EchoResponse, Status>> + Send>>;

#[derive(Clone, Default)]
struct Echo;

#[tonic::async_trait]
impl EchoService for Echo {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        Ok(Response::new(EchoResponse {
            message: request.into_inner().message,
            ..EchoResponse::default()
        }))
    }

    type EchoStreamStream = ReplyStream;

    async fn echo_stream(&self, _: Request<EchoRequest>) -> Result<Response<ReplyStream>, Status> {
        Ok(Response::new(Box::pin(tokio_stream::empty())))
    }

    async fn echo_collect(
        &self,
        _: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        Ok(Response::new(EchoResponse::default()))
    }

    type EchoChatStream = ReplyStream;

    async fn echo_chat(
        &self,
        _: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        Ok(Response::new(Box::pin(tokio_stream::empty())))
    }
}

fn issuer() -> Issuer {
    Issuer::new(ISSUER).unwrap()
}

fn human() -> PrincipalId {
    PrincipalId::Human(HumanId::derive(&issuer(), "alice"))
}

fn agent(name: &str) -> PrincipalId {
    PrincipalId::Agent(AgentId::derive(&issuer(), name))
}

fn principal(
    subject: PrincipalId,
    scopes: &str,
    roles: &[&str],
    actors: &[PrincipalId],
) -> Principal {
    let mut builder = Principal::builder(subject, issuer(), "subject")
        .scopes(ScopeSet::parse(scopes).unwrap())
        .roles(roles.iter().map(|role| Role::new(role).unwrap()))
        .audience(Audience::new(AUDIENCE).unwrap())
        .expires_at(Timestamp::from_unix_seconds(NOW + 300));
    for actor in actors {
        builder = builder.actor(Actor::new(actor.clone()));
    }
    builder.build().unwrap()
}

fn token_of(principal: &Principal) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(
        &header,
        &principal.to_claims(),
        &EncodingKey::from_secret(&SECRET),
    )
    .unwrap()
}

fn authenticate() -> GrpcAuthenticateLayer {
    let config = IssuerConfig::builder(issuer())
        .audience(Audience::new(AUDIENCE).unwrap())
        .hmac_secrets([SymmetricKey::new(Some("k1"), Algorithm::HS256, SECRET.to_vec()).unwrap()])
        .claim_mapping(ClaimMapping::baton())
        .build()
        .unwrap();
    let verifier = JwtVerifier::builder()
        .issuer(config)
        .clock(Arc::new(TestClock::new(Timestamp::from_unix_seconds(NOW))))
        .build()
        .unwrap();
    // Optional: an anonymous call reaches the require layer, which must refuse it.
    GrpcAuthenticateLayer::from(AuthenticateLayer::new(Arc::new(verifier)).optional())
}

fn peer_from_metadata(
    mut request: http::Request<tonic::body::Body>,
) -> http::Request<tonic::body::Body> {
    let peer = request
        .headers()
        .get(TEST_PEER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<SpiffeId>().ok());
    if let Some(id) = peer {
        request.extensions_mut().insert(PeerIdentity::new(id));
    }
    request
}

/// A server whose every method passes through `require`.
async fn serve(require: GrpcRequireLayer) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .layer(tower::util::MapRequestLayer::new(peer_from_metadata))
        .layer(authenticate())
        .layer(require)
        .add_service(EchoServiceServer::new(Echo))
        .serve_with_incoming(TcpIncoming::from(listener));
    tokio::spawn(server);
    addr
}

async fn call_echo(
    addr: SocketAddr,
    principal: Option<&Principal>,
    peer: Option<&str>,
) -> Result<String, Status> {
    let mut client = EchoServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let mut request = Request::new(EchoRequest {
        message: "hi".into(),
        count: 0,
    });
    if let Some(principal) = principal {
        let value = format!("Bearer {}", token_of(principal)).parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    if let Some(peer) = peer {
        request
            .metadata_mut()
            .insert(TEST_PEER, peer.parse().unwrap());
    }
    client
        .echo(request)
        .await
        .map(|response| response.into_inner().message)
}

fn assert_denied(result: Result<String, Status>) {
    let status = result.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(status.message(), "insufficient scope");
}

fn per_method() -> GrpcRequireLayer {
    let echo = Requirement::scopes(["echo:write"])
        .unwrap()
        .and(Requirement::agents_on_behalf_of([Kind::Human]))
        .and(Requirement::max_delegation_depth(1));
    GrpcRequireLayer::methods(
        GrpcRequirements::new()
            .method(SERVICE, "Echo", echo)
            .unwrap(),
    )
}

#[tokio::test]
async fn per_method_requirements_answer_permission_denied() {
    let addr = serve(per_method()).await;
    let alice = principal(human(), "echo:write", &[], &[]);
    assert_eq!(call_echo(addr, Some(&alice), None).await.unwrap(), "hi");
    let for_alice = principal(human(), "echo:write", &[], &[agent("bot")]);
    assert_eq!(call_echo(addr, Some(&for_alice), None).await.unwrap(), "hi");

    // A missing scope; an agent alone; delegation past the depth.
    assert_denied(call_echo(addr, Some(&principal(human(), "echo:read", &[], &[])), None).await);
    assert_denied(
        call_echo(
            addr,
            Some(&principal(agent("bot"), "echo:write", &[], &[])),
            None,
        )
        .await,
    );
    let deep = principal(human(), "echo:write", &[], &[agent("a"), agent("b")]);
    assert_denied(call_echo(addr, Some(&deep), None).await);
}

#[tokio::test]
async fn no_principal_is_unauthenticated() {
    let addr = serve(per_method()).await;
    let status = call_echo(addr, None, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_method_without_a_requirement_is_denied_by_default() {
    let addr = serve(per_method()).await;
    let alice = principal(human(), "echo:write", &[], &[]);
    let mut client = EchoServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let mut request = Request::new(EchoRequest {
        message: "hi".into(),
        count: 1,
    });
    let value = format!("Bearer {}", token_of(&alice)).parse().unwrap();
    request.metadata_mut().insert("authorization", value);
    let status = client.echo_stream(request).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_whole_service_with_a_delegation_aware_role() {
    // The layer around one generated service: `add_service` still routes it by name.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = GrpcRequireLayer::new(Requirement::role(Role::new("clerk").unwrap()))
        .layer(EchoServiceServer::new(Echo));
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(authenticate())
            .add_service(service)
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    let alice = principal(human(), "", &["clerk"], &[]);
    assert_eq!(call_echo(addr, Some(&alice), None).await.unwrap(), "hi");
    // Her agent: the role is hers.
    let for_alice = principal(human(), "", &["clerk"], &[agent("bot")]);
    assert_denied(call_echo(addr, Some(&for_alice), None).await);
}

#[tokio::test]
async fn the_calling_workload_must_be_the_required_one() {
    let edge: SpiffeId = "spiffe://prod.example/edge".parse().unwrap();
    let require = GrpcRequireLayer::methods(
        GrpcRequirements::new()
            .service(SERVICE, Requirement::caller(edge))
            .unwrap(),
    );
    let addr = serve(require).await;
    let alice = principal(human(), "", &[], &[]);
    assert_eq!(
        call_echo(addr, Some(&alice), Some("spiffe://prod.example/edge"))
            .await
            .unwrap(),
        "hi"
    );
    assert_denied(call_echo(addr, Some(&alice), Some("spiffe://prod.example/batch")).await);
    assert_denied(call_echo(addr, Some(&alice), None).await);
}

#[test]
fn malformed_names_are_refused_when_built() {
    for (service, method) in [
        ("", "Echo"),
        ("pkg..Svc", "Echo"),
        ("pkg/Svc", "Echo"),
        (SERVICE, ""),
        (SERVICE, "a/b"),
        (SERVICE, "1x"),
    ] {
        let error = GrpcRequirements::new()
            .method(service, method, Requirement::authenticated())
            .unwrap_err();
        assert_eq!(error.reason(), "malformed_path", "{service:?} {method:?}");
    }
    let error = GrpcRequirements::new()
        .method(SERVICE, "Echo", Requirement::authenticated())
        .unwrap()
        .method(SERVICE, "Echo", Requirement::no_agent())
        .unwrap_err();
    assert_eq!(error.reason(), "duplicate_path");
}
