//! The whole demo chain in one process: the development identity provider, the edge,
//! `documents` and `audit`, each on its own loopback port, with one pattern.

use std::net::SocketAddr;

use principal::Audience;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_auth::dev_idp::DevIdp;

use super::edge::{DemoEdge, EdgeAnswer, EdgeFailure};
use super::net::{PeerGate, WorkloadTls, endpoint, hop_channel, mtls_incoming};
use super::pki::DevPki;
use super::trust::{IdpTrust, ServiceKeys, external_verifier, hop_verifier};
use super::{DemoError, DemoPattern, EXTERNAL_AUDIENCE, Hop, audit, documents};

/// Who sends a request through the chain: the tokens the identity provider hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Persona {
    /// Alice herself.
    Human,
    /// The agent `assistant`, acting for Alice (an RFC 8693 `act` claim).
    AgentForHuman,
    /// The `reporting` service on its own (a client-credentials token).
    Service,
}

impl Persona {
    /// Every persona, in the order the demo sends them.
    pub const ALL: [Persona; 3] = [Persona::Human, Persona::AgentForHuman, Persona::Service];

    /// The token request the dev IdP's `POST /token` is sent for this persona.
    pub fn token_request(self) -> Value {
        match self {
            Persona::Human => json!({
                "sub": "alice", "aud": EXTERNAL_AUDIENCE, "scope": "documents:read", "alg": "ES256",
            }),
            Persona::AgentForHuman => json!({
                "sub": "alice", "aud": EXTERNAL_AUDIENCE, "scope": "documents:read", "alg": "ES256",
                "act": {"sub": "assistant"},
            }),
            Persona::Service => json!({
                "sub": "reporting", "client_id": "reporting", "gty": "client-credentials",
                "aud": EXTERNAL_AUDIENCE, "scope": "documents:read", "alg": "ES256",
            }),
        }
    }

    /// What every hop must see: the subject's `sub`, its kind, the acting party's `sub`
    /// and the length of the delegation chain.
    pub fn expected(self) -> (&'static str, &'static str, &'static str, usize) {
        match self {
            Persona::Human => ("alice", "human", "alice", 0),
            Persona::AgentForHuman => ("alice", "human", "assistant", 1),
            Persona::Service => ("reporting", "service", "reporting", 0),
        }
    }

    /// A short label for the demo's output.
    pub fn label(self) -> &'static str {
        match self {
            Persona::Human => "alice (human)",
            Persona::AgentForHuman => "assistant (agent) for alice",
            Persona::Service => "reporting (service)",
        }
    }
}

/// The demo chain, running. Dropping it stops every service.
pub struct Chain {
    pattern: DemoPattern,
    idp: DevIdp,
    edge: SocketAddr,
    documents: SocketAddr,
    audit: SocketAddr,
    tasks: Vec<JoinHandle<Result<(), DemoError>>>,
    http: reqwest::Client,
    pki: DevPki,
}

/// Where the chain's services listen (all `127.0.0.1:0` by default: free ports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainAddrs {
    /// The development identity provider (plain HTTP, loopback only).
    pub idp: SocketAddr,
    /// The edge (plain HTTP).
    pub edge: SocketAddr,
    /// `documents` (gRPC over mutual TLS).
    pub documents: SocketAddr,
    /// `audit` (gRPC over mutual TLS).
    pub audit: SocketAddr,
}

impl Default for ChainAddrs {
    fn default() -> Self {
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        ChainAddrs {
            idp: any,
            edge: any,
            documents: any,
            audit: any,
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), DemoError> {
    let error = |e: std::io::Error| DemoError::Bind {
        addr,
        detail: e.to_string(),
    };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let local = listener.local_addr().map_err(error)?;
    Ok((listener, local))
}

fn audience(name: &str) -> Result<Audience, DemoError> {
    Audience::new(name).map_err(|e| DemoError::config("audience", e))
}

impl Chain {
    /// Starts the identity provider, `audit`, `documents` and the edge on loopback, every
    /// hop under `pattern`, each service with fresh keys, every gRPC hop over mutual TLS
    /// with certificates of a fresh development CA.
    ///
    /// ```
    /// use examples::demo::DemoPattern;
    /// use examples::demo::chain::{Chain, Persona, check};
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let chain = Chain::start(DemoPattern::SignedPassport).await?;
    /// let token = chain.token(Persona::AgentForHuman).await?;
    /// let answer = chain.get("/documents/d-1", &token).await?;
    /// check(&answer, DemoPattern::SignedPassport, Persona::AgentForHuman)?;
    /// assert_eq!(answer.items[0].hops[2].caller.as_deref(), Some("svc-documents"));
    ///
    /// // Refused at the edge: a token the identity provider never signed.
    /// let refused = chain.get("/documents/d-1", "not-a-token").await.unwrap_err();
    /// assert!(refused.contains("401"), "{refused}");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`DemoError`] when a service cannot be set up.
    pub async fn start(pattern: DemoPattern) -> Result<Chain, DemoError> {
        Chain::start_on(pattern, ChainAddrs::default()).await
    }

    /// As [`Chain::start`], on `addrs`.
    ///
    /// # Errors
    /// [`DemoError`] when a service cannot be set up or an address bound.
    pub async fn start_on(pattern: DemoPattern, addrs: ChainAddrs) -> Result<Chain, DemoError> {
        let idp = DevIdp::start(addrs.idp)
            .await
            .map_err(|e| DemoError::config("dev IdP", e))?;
        let idp_trust = IdpTrust::new(idp.issuer())?;
        let edge_keys = ServiceKeys::generate("edge")?;
        let documents_keys = ServiceKeys::generate("documents")?;
        let audit_keys = ServiceKeys::generate("audit")?;
        let pki = DevPki::generate()?;
        let tls = |keys: &ServiceKeys| -> Result<WorkloadTls, DemoError> {
            let cert = pki.workload(keys.spiffe_id(), true)?;
            Ok(WorkloadTls::from_dev_pki(&pki, &cert))
        };
        let (edge_tls, documents_tls, audit_tls) =
            (tls(&edge_keys)?, tls(&documents_keys)?, tls(&audit_keys)?);
        let never = std::future::pending::<()>;
        let mut tasks = Vec::new();

        let (listener, audit_addr) = bind(addrs.audit).await?;
        let verifier = hop_verifier(
            pattern,
            &audience("audit")?,
            &documents_keys.caller_trust()?,
            Some(&idp_trust),
        )
        .await?;
        tasks.push(tokio::spawn(audit::serve(
            pattern,
            verifier,
            PeerGate::default(),
            mtls_incoming(listener, &audit_tls, None)?,
            never(),
        )));

        let (listener, documents_addr) = bind(addrs.documents).await?;
        let verifier = hop_verifier(
            pattern,
            &audience("documents")?,
            &edge_keys.caller_trust()?,
            Some(&idp_trust),
        )
        .await?;
        let to_audit = hop_channel(
            &endpoint(audit_addr, &documents_tls)?,
            documents_keys.route(pattern, audience("audit")?),
        )?;
        tasks.push(tokio::spawn(documents::serve(
            pattern,
            verifier,
            PeerGate::default(),
            to_audit,
            mtls_incoming(listener, &documents_tls, None)?,
            never(),
        )));

        let to_documents = hop_channel(
            &endpoint(documents_addr, &edge_tls)?,
            edge_keys.route(pattern, audience("documents")?),
        )?;
        let edge = DemoEdge::start(
            addrs.edge,
            pattern,
            external_verifier(&idp_trust).await?,
            to_documents,
        )
        .await?;
        let edge_addr = edge.local_addr();
        tasks.push(tokio::spawn(edge.serve(never())));

        Ok(Chain {
            pattern,
            idp,
            edge: edge_addr,
            documents: documents_addr,
            audit: audit_addr,
            tasks,
            http: reqwest::Client::new(),
            pki,
        })
    }

    /// The pattern every hop runs.
    pub fn pattern(&self) -> DemoPattern {
        self.pattern
    }

    /// The edge's base URL (`http://127.0.0.1:PORT`).
    pub fn edge_url(&self) -> String {
        format!("http://{}", self.edge)
    }

    /// Where `documents` serves gRPC.
    pub fn documents_addr(&self) -> SocketAddr {
        self.documents
    }

    /// Where `audit` serves gRPC.
    pub fn audit_addr(&self) -> SocketAddr {
        self.audit
    }

    /// The development CA that certifies every workload of the chain (tests make
    /// certificates of their own with it).
    pub fn pki(&self) -> &DevPki {
        &self.pki
    }

    /// The identity provider.
    pub fn idp(&self) -> &DevIdp {
        &self.idp
    }

    /// A token for `persona` from the identity provider's token endpoint.
    ///
    /// # Errors
    /// A message when the endpoint cannot be reached or answers no token.
    pub async fn token(&self, persona: Persona) -> Result<String, String> {
        let response = self
            .http
            .post(self.idp.token_url())
            .header("content-type", "application/json")
            .body(persona.token_request().to_string())
            .send()
            .await
            .map_err(|e| format!("token endpoint: {e}"))?;
        let body: Value = serde_json::from_slice(
            &response
                .bytes()
                .await
                .map_err(|e| format!("token endpoint: {e}"))?,
        )
        .map_err(|e| format!("token endpoint: {e}"))?;
        body["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("token endpoint answered no token: {body}"))
    }

    /// `GET {edge}{path}` with `token`: the edge's answer, or why it failed.
    ///
    /// # Errors
    /// A message naming the failure (HTTP status, failing hop and gRPC code).
    pub async fn get(&self, path: &str, token: &str) -> Result<EdgeAnswer, String> {
        let response = self
            .http
            .get(format!("{}{path}", self.edge_url()))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| format!("edge: {e}"))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| format!("edge: {e}"))?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| format!("edge answer: {e}"));
        }
        match serde_json::from_slice::<EdgeFailure>(&body) {
            Ok(failure) => Err(format!(
                "edge {status}: a hop behind it failed: {} ({})",
                failure.code, failure.message
            )),
            Err(_) => Err(format!("edge {status}")),
        }
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("pattern", &self.pattern)
            .field("edge", &self.edge)
            .field("documents", &self.documents)
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

/// What `hop` must show as its caller under `pattern`, for a call from `caller`
/// (`edge` or `documents`); `None` where the credential names no service
/// (passthrough, and the edge, whose caller is an outside client).
pub fn expected_caller(pattern: DemoPattern, hop: &str) -> Option<String> {
    let caller = match hop {
        "documents" => "edge",
        "audit" => "documents",
        _ => return None,
    };
    match pattern {
        DemoPattern::Passthrough => None,
        DemoPattern::InternalJwt | DemoPattern::SignedPassport => Some(format!("svc-{caller}")),
        DemoPattern::UnsignedPassport => Some(format!("spiffe://{}/{caller}", super::TRUST_DOMAIN)),
    }
}

/// Checks an edge answer against what every hop must have seen for `persona` under
/// `pattern`; the first discrepancy, named.
///
/// # Errors
/// A message naming the hop and what differed.
pub fn check(answer: &EdgeAnswer, pattern: DemoPattern, persona: Persona) -> Result<(), String> {
    let (subject, kind, acting, depth) = persona.expected();
    if answer.items.is_empty() {
        return Err("no documents in the answer".to_owned());
    }
    for item in &answer.items {
        let services: Vec<&str> = item.hops.iter().map(|hop| hop.service.as_str()).collect();
        if services != ["edge", "documents", "audit"] {
            return Err(format!("{}: hops {services:?}", item.document_id));
        }
        let request_id = &item.hops[0].request_id;
        for hop in &item.hops {
            let expected_pattern = if hop.service == "edge" {
                tower_auth::Pattern::JwtPassthrough
            } else {
                pattern.verified_as()
            };
            let seen = (
                hop.subject.as_str(),
                hop.kind.as_str(),
                hop.acting_subject.as_str(),
                hop.delegation.len(),
                hop.pattern.as_str(),
                hop.caller.clone(),
            );
            let wanted = (
                subject,
                kind,
                acting,
                depth,
                expected_pattern.as_str(),
                expected_caller(pattern, &hop.service),
            );
            if seen != wanted {
                return Err(format!(
                    "{}: {} saw {seen:?}, expected {wanted:?}",
                    item.document_id, hop.service
                ));
            }
            if hop.request_id.is_empty() || &hop.request_id != request_id {
                return Err(format!("{}: request id differs", hop.service));
            }
        }
    }
    Ok(())
}

/// One line for a hop, for the demo's output.
pub fn describe(hop: &Hop) -> String {
    let acting = if hop.delegation.is_empty() {
        hop.acting_subject.clone()
    } else {
        format!("{} for {}", hop.acting_subject, hop.subject)
    };
    format!(
        "{:<9}  subject {} ({})  acting {}  caller {}  peer {}  pattern {}",
        hop.service,
        hop.subject,
        hop.kind,
        acting,
        hop.caller.as_deref().unwrap_or("-"),
        hop.peer.as_deref().unwrap_or("-"),
        hop.pattern
    )
}
