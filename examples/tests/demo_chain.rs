//! The demo chain over real loopback connections: the dev IdP, the axum edge, and the
//! tonic services `documents` and `audit`, every gRPC hop over mutual TLS. For each of
//! the four patterns, a human's request and an agent's request on the human's behalf go
//! through every hop, unary and server streaming, and what each hop saw is asserted;
//! then hostile clients: no client certificate, another CA, another trust domain, an
//! unsigned passport from a workload off the allowlist (or where no unsigned passport is
//! accepted), a spoofed passport header at the edge.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use examples::demo::DemoPattern;
use examples::demo::chain::{Chain, Persona, check};
use examples::demo::edge::EdgeAnswer;
use examples::demo::proto::audit_service_client::AuditServiceClient;
use examples::demo::proto::documents_service_client::DocumentsServiceClient;
use examples::demo::proto::{GetDocumentRequest, RecordRequest};
use principal::{Audience, Clock, HumanId, Issuer, Principal, SystemClock};
use principal_proto::{Passport, RequestId};
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

// ---- the chain, pattern by pattern --------------------------------------------------------

/// The calling service each gRPC hop must name, written out per pattern (not computed
/// by the library under test).
fn caller_at(pattern: DemoPattern, service: &str) -> Option<&'static str> {
    match (pattern, service) {
        (_, "edge") | (DemoPattern::Passthrough, _) => None,
        (DemoPattern::InternalJwt | DemoPattern::SignedPassport, "documents") => Some("svc-edge"),
        (DemoPattern::InternalJwt | DemoPattern::SignedPassport, "audit") => Some("svc-documents"),
        (DemoPattern::UnsignedPassport, "documents") => Some("spiffe://demo.test/edge"),
        (DemoPattern::UnsignedPassport, "audit") => Some("spiffe://demo.test/documents"),
        other => panic!("no expectation for {other:?}"),
    }
}

fn assert_hops(answer: &EdgeAnswer, pattern: DemoPattern, persona: Persona, documents: &[&str]) {
    assert_eq!(answer.pattern, pattern.as_str());
    let ids: Vec<&str> = answer
        .items
        .iter()
        .map(|i| i.document_id.as_str())
        .collect();
    assert_eq!(ids, documents);
    for item in &answer.items {
        let services: Vec<&str> = item.hops.iter().map(|h| h.service.as_str()).collect();
        assert_eq!(services, ["edge", "documents", "audit"], "{persona:?}");
        let edge = &item.hops[0];
        assert!(edge.principal_id.starts_with("hm-"), "{edge:?}");
        assert!(!edge.request_id.is_empty());
        for hop in &item.hops {
            let at = format!("{pattern:?} {persona:?} at {}", hop.service);
            // The same Principal, on whose authority, at every hop.
            assert_eq!(hop.principal_id, edge.principal_id, "{at}");
            assert_eq!(hop.subject, "alice", "{at}");
            assert_eq!(hop.kind, "human", "{at}");
            match persona {
                Persona::Human => {
                    assert!(hop.delegation.is_empty(), "{at}");
                    assert_eq!(hop.acting, hop.principal_id, "{at}");
                    assert_eq!(hop.acting_subject, "alice", "{at}");
                }
                Persona::AgentForHuman => {
                    assert_eq!(hop.delegation.len(), 1, "{at}");
                    assert!(hop.delegation[0].starts_with("am-"), "{at}");
                    assert_eq!(hop.acting, hop.delegation[0], "{at}");
                    assert_eq!(hop.acting_subject, "assistant", "{at}");
                }
                other => panic!("not asserted here: {other:?}"),
            }
            assert_eq!(hop.delegation, edge.delegation, "{at}");
            // One request id through every hop.
            assert_eq!(hop.request_id, edge.request_id, "{at}");
            // Who called, under which pattern, over which mTLS peer.
            assert_eq!(
                hop.caller.as_deref(),
                caller_at(pattern, &hop.service),
                "{at}"
            );
            let (verified_as, peer) = match hop.service.as_str() {
                "edge" => ("jwt_passthrough", None),
                "documents" => (
                    pattern.verified_as().as_str(),
                    Some("spiffe://demo.test/edge"),
                ),
                _ => (
                    pattern.verified_as().as_str(),
                    Some("spiffe://demo.test/documents"),
                ),
            };
            assert_eq!(hop.pattern, verified_as, "{at}");
            assert_eq!(hop.peer.as_deref(), peer, "{at}");
        }
    }
}

async fn assert_chain(pattern: DemoPattern) {
    let chain = Chain::start(pattern).await.unwrap();
    for persona in [Persona::Human, Persona::AgentForHuman] {
        let token = chain.token(persona).await.unwrap();
        let unary = chain.get("/documents/d-2", &token).await.unwrap();
        assert_hops(&unary, pattern, persona, &["d-2"]);
        check(&unary, pattern, persona).unwrap();
        let streamed = chain.get("/documents", &token).await.unwrap();
        assert_hops(&streamed, pattern, persona, &["d-1", "d-2", "d-3"]);
        check(&streamed, pattern, persona).unwrap();
        assert_ne!(
            unary.items[0].hops[0].request_id, streamed.items[0].hops[0].request_id,
            "each request has its own id"
        );
    }
}

#[tokio::test]
async fn passthrough_chain() {
    assert_chain(DemoPattern::Passthrough).await;
}

#[tokio::test]
async fn internal_jwt_chain() {
    assert_chain(DemoPattern::InternalJwt).await;
}

#[tokio::test]
async fn signed_passport_chain() {
    assert_chain(DemoPattern::SignedPassport).await;
}

#[tokio::test]
async fn unsigned_passport_chain() {
    assert_chain(DemoPattern::UnsignedPassport).await;
}

#[tokio::test]
async fn a_service_token_goes_through_as_a_service_and_the_check_catches_a_wrong_hop() {
    let chain = Chain::start(DemoPattern::SignedPassport).await.unwrap();
    let token = chain.token(Persona::Service).await.unwrap();
    let answer = chain.get("/documents/d-1", &token).await.unwrap();
    check(&answer, DemoPattern::SignedPassport, Persona::Service).unwrap();
    let audit = &answer.items[0].hops[2];
    assert_eq!(
        (audit.kind.as_str(), audit.subject.as_str()),
        ("service", "reporting")
    );
    assert!(audit.principal_id.starts_with("svc-"));
    // The demo's check refuses an answer whose hop saw another caller or another person.
    let mut forged = answer.clone();
    forged.items[0].hops[2].caller = Some("svc-edge".into());
    assert!(check(&forged, DemoPattern::SignedPassport, Persona::Service).is_err());
    assert!(check(&answer, DemoPattern::SignedPassport, Persona::Human).is_err());
}

// ---- the edge -----------------------------------------------------------------------------

#[tokio::test]
async fn the_edge_refuses_a_missing_token_and_strips_a_spoofed_passport() {
    let chain = Chain::start(DemoPattern::UnsignedPassport).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/documents/d-1", chain.edge_url());
    let response = http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);

    // A valid token for alice, plus a passport for mallory the client made itself.
    let token = chain.token(Persona::Human).await.unwrap();
    let spoofed = forged_passport("mallory", "documents", "req-spoofed")
        .encode_header()
        .unwrap();
    let response = http
        .get(&url)
        .bearer_auth(&token)
        .header("x-principal-bin", spoofed)
        .header("x-request-id", "req-spoofed")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: EdgeAnswer = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    for hop in &answer.items[0].hops {
        assert_eq!(hop.subject, "alice", "{hop:?}");
    }
}

// ---- hostile gRPC clients -----------------------------------------------------------------

/// A Principal and an unsigned passport for `audience` that a client made itself.
fn forged_passport(subject: &str, audience: &str, request_id: &str) -> Passport {
    let now = SystemClock.now();
    let issuer = Issuer::new("https://forged.example").unwrap();
    let principal = Principal::builder(HumanId::derive(&issuer, subject).into(), issuer, subject)
        .issued_at(now)
        .expires_at(now.add_seconds(300))
        .build()
        .unwrap();
    Passport::new(
        principal,
        RequestId::new(request_id).unwrap(),
        Audience::new(audience).unwrap(),
        now,
        now.add_seconds(60),
    )
    .unwrap()
}

/// A TLS client of `documents` trusting `ca_pem`, presenting `identity` (cert, key) if any.
fn documents_client(
    chain: &Chain,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
) -> DocumentsServiceClient<Channel> {
    DocumentsServiceClient::new(channel(chain.documents_addr(), ca_pem, identity))
}

fn channel(addr: std::net::SocketAddr, ca_pem: &str, identity: Option<(&str, &str)>) -> Channel {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_lazy()
}

/// A workload certificate of the chain's own CA for `spiffe_id`: (cert, key) PEM.
fn workload(chain: &Chain, spiffe_id: &str) -> (String, String) {
    let cert = chain
        .pki()
        .workload(&spiffe_id.parse().unwrap(), false)
        .unwrap();
    (cert.cert_pem().to_owned(), cert.key_pem().to_owned())
}

/// A GetDocument call carrying `passport` unsigned in `x-principal-bin`.
fn with_passport(passport: &Passport, request_id: &str) -> tonic::Request<GetDocumentRequest> {
    let mut request = tonic::Request::new(GetDocumentRequest {
        document_id: "d-1".into(),
    });
    request.metadata_mut().insert_bin(
        "x-principal-bin",
        MetadataValue::from_bytes(&passport.encode()),
    );
    request
        .metadata_mut()
        .insert("x-request-id", request_id.parse().unwrap());
    request
}

#[tokio::test]
async fn an_unsigned_passport_is_accepted_only_from_the_allowlisted_workload() {
    let chain = Chain::start(DemoPattern::UnsignedPassport).await.unwrap();
    let ca = chain.pki().ca_pem();
    let passport = forged_passport("mallory", "documents", "req-forged-1");

    // From another workload of the trust domain, with a valid certificate: refused.
    let (cert, key) = workload(&chain, "spiffe://demo.test/intruder");
    let status = documents_client(&chain, &ca, Some((&cert, &key)))
        .get_document(with_passport(&passport, "req-forged-1"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    // The same passport from the allowlisted workload (the edge's SPIFFE ID): accepted,
    // which is what "unsigned, trust = the mTLS allowlist" means; it is the peer, not the
    // passport, that the intruder lacked.
    let (cert, key) = workload(&chain, "spiffe://demo.test/edge");
    let reply = documents_client(&chain, &ca, Some((&cert, &key)))
        .get_document(with_passport(&passport, "req-forged-1"))
        .await
        .unwrap()
        .into_inner();
    let seen = reply.documents.unwrap();
    assert_eq!(seen.subject, "mallory");
    assert_eq!(seen.caller, "spiffe://demo.test/edge");
    // `audit` allowlists `documents` alone: the edge's workload is refused there, the
    // documents workload accepted.
    let for_audit = forged_passport("mallory", "audit", "req-forged-3");
    let record = |cert: &str, key: &str| {
        let mut client =
            AuditServiceClient::new(channel(chain.audit_addr(), &ca, Some((cert, key))));
        let mut request = tonic::Request::new(RecordRequest {
            action: "get".into(),
            document_id: "d-1".into(),
        });
        *request.metadata_mut() = with_passport(&for_audit, "req-forged-3").metadata().clone();
        async move { client.record(request).await }
    };
    let status = record(&cert, &key).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let (cert, key) = workload(&chain, "spiffe://demo.test/documents");
    let seen = record(&cert, &key)
        .await
        .unwrap()
        .into_inner()
        .audit
        .unwrap();
    assert_eq!(seen.caller, "spiffe://demo.test/documents");
}

#[tokio::test]
async fn where_passports_must_be_signed_an_unsigned_one_is_refused_even_from_the_edge() {
    let chain = Chain::start(DemoPattern::SignedPassport).await.unwrap();
    let (cert, key) = workload(&chain, "spiffe://demo.test/edge");
    let passport = forged_passport("mallory", "documents", "req-forged-2");
    let status = documents_client(&chain, &chain.pki().ca_pem(), Some((&cert, &key)))
        .get_document(with_passport(&passport, "req-forged-2"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
}

/// A call that must not get a TLS session (or a connection): it fails in the transport,
/// with `why` in the TLS error, never reaching the authenticate layer (which would
/// answer UNAUTHENTICATED).
async fn assert_no_session(client: &mut DocumentsServiceClient<Channel>, why: &str) {
    let passport = forged_passport("mallory", "documents", "req-no-session");
    let status = client
        .get_document(with_passport(&passport, "req-no-session"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unknown, "{status:?}");
    assert_eq!(status.message(), "transport error", "{status:?}");
    let source = std::error::Error::source(&status).expect("the transport's error");
    assert!(source.is::<tonic::transport::Error>(), "{status:?}");
    assert!(format!("{status:?}").contains(why), "{status:?}");
}

#[tokio::test]
async fn a_client_without_a_certificate_gets_no_tls_session() {
    let chain = Chain::start(DemoPattern::UnsignedPassport).await.unwrap();
    let mut client = documents_client(&chain, &chain.pki().ca_pem(), None);
    assert_no_session(&mut client, "CertificateRequired").await;
}

#[tokio::test]
async fn a_client_certified_by_another_ca_gets_no_tls_session() {
    let chain = Chain::start(DemoPattern::UnsignedPassport).await.unwrap();
    let other = examples::demo::pki::DevPki::generate().unwrap();
    let cert = other
        .workload(&"spiffe://demo.test/edge".parse().unwrap(), false)
        .unwrap();
    let mut client = documents_client(
        &chain,
        &chain.pki().ca_pem(),
        Some((cert.cert_pem(), cert.key_pem())),
    );
    // The server's certificate verifier refuses the chain: a fatal alert, no session.
    assert_no_session(&mut client, "received fatal alert").await;
}

#[tokio::test]
async fn a_workload_of_another_trust_domain_is_not_served() {
    let chain = Chain::start(DemoPattern::UnsignedPassport).await.unwrap();
    // The chain's own CA, but the SPIFFE ID of another trust domain.
    let (cert, key) = workload(&chain, "spiffe://other.test/edge");
    let mut client = documents_client(&chain, &chain.pki().ca_pem(), Some((&cert, &key)));
    // The handshake verifies, then the acceptor closes the connection: not a workload
    // of this trust domain.
    assert_no_session(&mut client, "closed connection").await;
}

// ---- reflection ---------------------------------------------------------------------------

async fn list_services(chain: &Chain, token: Option<&str>) -> Result<Vec<String>, tonic::Status> {
    let (cert, key) = workload(chain, "spiffe://demo.test/newcomer");
    let mut client = ServerReflectionClient::new(channel(
        chain.documents_addr(),
        &chain.pki().ca_pem(),
        Some((&cert, &key)),
    ));
    let mut request = tonic::Request::new(tokio_stream::once(ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    }));
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let mut replies = client.server_reflection_info(request).await?.into_inner();
    let reply = replies.message().await?.expect("one reply");
    match reply.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        other => panic!("unexpected reflection reply {other:?}"),
    }
}

#[tokio::test]
async fn documents_serves_reflection_to_an_authenticated_caller_only() {
    // Passthrough: the identity provider's token is all a newcomer needs (as with grpcurl).
    let chain = Chain::start(DemoPattern::Passthrough).await.unwrap();
    let token = chain.token(Persona::Human).await.unwrap();
    let services = list_services(&chain, Some(&token)).await.unwrap();
    assert!(
        services.contains(&"baton.demo.v1.DocumentsService".to_owned()),
        "{services:?}"
    );
    let status = list_services(&chain, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // v1alpha too, the only version grpcurl knew before 1.8.8.
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as V1Alpha;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaResponse;
    let (cert, key) = workload(&chain, "spiffe://demo.test/newcomer");
    let mut client = V1Alpha::new(channel(
        chain.documents_addr(),
        &chain.pki().ca_pem(),
        Some((&cert, &key)),
    ));
    let mut request = tonic::Request::new(tokio_stream::once(
        tonic_reflection::pb::v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(AlphaRequest::FileContainingSymbol(
                "baton.demo.v1.AuditService".into(),
            )),
        },
    ));
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let reply = client
        .server_reflection_info(request)
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(reply.message_response, Some(AlphaResponse::FileDescriptorResponse(ref files)) if !files.file_descriptor_proto.is_empty()),
        "{reply:?}"
    );
}
