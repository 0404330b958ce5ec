//! `PolicyLayer` over a real axum server on loopback, behind `AuthenticateLayer::internal`
//! with Ed25519-signed passports: the reference Cedar policies allow an agent to read for
//! its human and answer 403 `insufficient_scope` to its delete; a request without a
//! Principal gets 401; an engine that fails (at once or after waiting) and a request the
//! operator's function cannot map are refused with 403 and never reach the handler.
#![allow(clippy::unwrap_used)]

mod passport_support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use http::Method;
use http::request::Parts;
use passport_support::*;
use principal::{Actor, AgentId, HumanId, Issuer, Principal, ScopeSet, Uuid};
use principal_proto::{Passport, PassportKeyRing, RequestId};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::passport::PassportKeys;
use tower_auth::policy::cedar::CedarPolicy;
use tower_auth::policy::{
    Action, DecideFuture, Decision, Policy, PolicyError, PolicyLayer, Resource, TargetError,
};
use tower_auth::{VerifiedPrincipal, Verifier};

const AUDIENCE: &str = "docs.internal";
const INSUFFICIENT_SCOPE: &str = r#"Bearer error="insufficient_scope""#;

/// `GET /documents/{id}` reads, `DELETE` deletes; anything else has no action.
fn documents(parts: &Parts) -> Result<(Action, Resource), TargetError> {
    let id = parts
        .uri
        .path()
        .strip_prefix("/documents/")
        .ok_or(TargetError::Unmapped {
            why: "not a document path",
        })?;
    let action = match parts.method {
        Method::GET => "read",
        Method::DELETE => "delete",
        _ => {
            return Err(TargetError::Unmapped {
                why: "no action for this method",
            });
        }
    };
    Ok((Action::new(action)?, Resource::new("Baton::Document", id)?))
}

fn reference_cedar() -> Arc<CedarPolicy> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/config/cedar");
    Arc::new(
        CedarPolicy::load(dir.join("schema.cedarschema"), [dir.join("policies.cedar")]).unwrap(),
    )
}

struct Fixture {
    url: String,
    edge: PassportKeyRing,
    served: Arc<AtomicUsize>,
}

/// A service on 127.0.0.1:0: passports signed by the edge, then `policy`.
async fn serve(policy: Arc<dyn Policy>, optional: bool) -> Fixture {
    let edge = ed25519_ring("edge-1");
    let clock = clock();
    let verifier: Arc<dyn Verifier> = Arc::new(verifier(
        AUDIENCE,
        PassportKeys::new(public_key(&edge), service("edge")).unwrap(),
        &clock,
    ));
    let mut authenticate = AuthenticateLayer::internal(verifier);
    if optional {
        authenticate = authenticate.optional();
    }
    let served = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    let handler = move || {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            "the document"
        }
    };
    let app = Router::new()
        .route(
            "/documents/{id}",
            get(handler.clone())
                .delete(handler.clone())
                .post(handler.clone()),
        )
        .route("/elsewhere", get(handler))
        .layer(PolicyLayer::new(policy, documents))
        .layer(authenticate);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Fixture {
        url: format!("http://{addr}"),
        edge,
        served,
    }
}

/// Alice, through her agent, with `documents:read`.
fn agent_for_alice() -> Principal {
    let issuer = Issuer::new("https://idp.example.com").unwrap();
    Principal::builder(HumanId::derive(&issuer, "alice").into(), issuer, "alice")
        .scopes(ScopeSet::parse("documents:read").unwrap())
        .issued_at(NOW)
        .expires_at(NOW.add_seconds(600))
        .actor(Actor::new(AgentId::new(Uuid::from_u128(7)).into()))
        .build()
        .unwrap()
}

fn signed(fixture: &Fixture, principal: Principal) -> String {
    let passport = Passport::new(
        principal,
        RequestId::new(REQUEST_ID).unwrap(),
        audience(AUDIENCE),
        NOW,
        NOW.add_seconds(LIFETIME),
    )
    .unwrap();
    fixture.edge.sign_header(&passport).unwrap()
}

/// `method path` with `passport`: the status and the challenge.
async fn send(
    fixture: &Fixture,
    method: reqwest::Method,
    path: &str,
    passport: Option<&str>,
) -> (u16, Option<String>) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", fixture.url))
        .header("x-request-id", REQUEST_ID);
    if let Some(passport) = passport {
        request = request.header("x-principal-bin", passport);
    }
    let response = request.send().await.unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    (response.status().as_u16(), challenge)
}

#[tokio::test]
async fn cedar_lets_the_agent_read_for_its_human_and_refuses_its_delete() {
    let fixture = serve(reference_cedar(), false).await;
    let passport = signed(&fixture, agent_for_alice());

    let (status, challenge) = send(
        &fixture,
        reqwest::Method::GET,
        "/documents/d-1",
        Some(&passport),
    )
    .await;
    assert_eq!((status, challenge), (200, None));
    assert_eq!(fixture.served.load(Ordering::SeqCst), 1);

    let (status, challenge) = send(
        &fixture,
        reqwest::Method::DELETE,
        "/documents/d-1",
        Some(&passport),
    )
    .await;
    assert_eq!(
        (status, challenge.as_deref()),
        (403, Some(INSUFFICIENT_SCOPE))
    );
    // Refused before the handler.
    assert_eq!(fixture.served.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_agent_alone_is_refused_by_cedar() {
    let fixture = serve(reference_cedar(), false).await;
    let issuer = Issuer::new("https://idp.example.com").unwrap();
    let alone = Principal::builder(AgentId::new(Uuid::from_u128(8)).into(), issuer, "bot")
        .scopes(ScopeSet::parse("documents:read").unwrap())
        .issued_at(NOW)
        .expires_at(NOW.add_seconds(600))
        .build()
        .unwrap();
    let passport = signed(&fixture, alone);
    let (status, challenge) = send(
        &fixture,
        reqwest::Method::GET,
        "/documents/d-1",
        Some(&passport),
    )
    .await;
    assert_eq!(
        (status, challenge.as_deref()),
        (403, Some(INSUFFICIENT_SCOPE))
    );
    assert_eq!(fixture.served.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn no_principal_is_401_whatever_the_policy() {
    let allow_all: Arc<dyn Policy> =
        Arc::new(|_: &VerifiedPrincipal, _: &Action, _: &Resource| Ok(Decision::Allow));
    // Optional authentication lets the anonymous request reach the policy layer.
    let fixture = serve(allow_all, true).await;
    let (status, challenge) = send(&fixture, reqwest::Method::GET, "/documents/d-1", None).await;
    assert_eq!((status, challenge.as_deref()), (401, Some("Bearer")));
    assert_eq!(fixture.served.load(Ordering::SeqCst), 0);

    // The same request with a Principal passes: the 401 was about the Principal.
    let passport = signed(&fixture, agent_for_alice());
    let (status, _) = send(
        &fixture,
        reqwest::Method::GET,
        "/documents/d-1",
        Some(&passport),
    )
    .await;
    assert_eq!(status, 200);
}

/// An engine that fails, at once or after waiting, counting its calls.
struct Failing {
    pending: bool,
    calls: AtomicUsize,
}

impl Policy for Failing {
    fn decide(&self, _: &VerifiedPrincipal, _: &Action, _: &Resource) -> DecideFuture {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let error = PolicyError::Unavailable {
            detail: "decision point unreachable".into(),
        };
        if self.pending {
            DecideFuture::pending(async move {
                tokio::task::yield_now().await;
                Err(error)
            })
        } else {
            DecideFuture::ready(Err(error))
        }
    }
}

#[tokio::test]
async fn an_engine_error_is_a_denial() {
    for pending in [false, true] {
        let engine = Arc::new(Failing {
            pending,
            calls: AtomicUsize::new(0),
        });
        let fixture = serve(Arc::clone(&engine) as Arc<dyn Policy>, false).await;
        let passport = signed(&fixture, agent_for_alice());
        let (status, challenge) = send(
            &fixture,
            reqwest::Method::GET,
            "/documents/d-1",
            Some(&passport),
        )
        .await;
        assert_eq!(
            (status, challenge.as_deref()),
            (403, Some(INSUFFICIENT_SCOPE)),
            "pending: {pending}"
        );
        assert_eq!(engine.calls.load(Ordering::SeqCst), 1);
        assert_eq!(fixture.served.load(Ordering::SeqCst), 0);
    }
}

/// Allows after waiting: the pending path reaches the handler.
struct SlowAllow;

impl Policy for SlowAllow {
    fn decide(&self, _: &VerifiedPrincipal, _: &Action, _: &Resource) -> DecideFuture {
        DecideFuture::pending(async {
            tokio::task::yield_now().await;
            Ok(Decision::Allow)
        })
    }
}

#[tokio::test]
async fn a_pending_allow_reaches_the_handler() {
    let fixture = serve(Arc::new(SlowAllow), false).await;
    let passport = signed(&fixture, agent_for_alice());
    let (status, _) = send(
        &fixture,
        reqwest::Method::GET,
        "/documents/d-1",
        Some(&passport),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(fixture.served.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_request_without_an_action_is_refused() {
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let allow_all: Arc<dyn Policy> =
        Arc::new(move |_: &VerifiedPrincipal, _: &Action, _: &Resource| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(Decision::Allow)
        });
    let fixture = serve(allow_all, false).await;
    let passport = signed(&fixture, agent_for_alice());
    // POST has no action, /elsewhere no resource, and an oversized id is refused.
    let long = format!("/documents/{}", "x".repeat(2000));
    for (method, path) in [
        (reqwest::Method::POST, "/documents/d-1"),
        (reqwest::Method::GET, "/elsewhere"),
        (reqwest::Method::GET, long.as_str()),
    ] {
        let (status, challenge) = send(&fixture, method.clone(), path, Some(&passport)).await;
        assert_eq!(
            (status, challenge.as_deref()),
            (403, Some(INSUFFICIENT_SCOPE)),
            "{method} {path}"
        );
    }
    assert_eq!(asked.load(Ordering::SeqCst), 0);
    assert_eq!(fixture.served.load(Ordering::SeqCst), 0);
}

// ---- the audit event ------------------------------------------------------------------

#[derive(Clone, Default)]
struct Events(Arc<std::sync::Mutex<Vec<String>>>);

impl std::io::Write for Events {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(bytes).into_owned());
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The authorization events: the authentication event's fields (the human as subject,
/// the agent acting, the request and trace ids) plus the policy's own.
#[tokio::test(flavor = "current_thread")]
async fn each_policy_decision_emits_one_authorization_event_with_the_shared_fields() {
    let events = Events::default();
    let writer = events.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter(tower_auth::authenticate::AUDIT_TARGET)
        .with_ansi(false)
        .finish();
    // With a single dispatcher alive, tracing-core computes a new callsite's interest
    // from the default of whichever thread hits it first: another test's thread, with no
    // subscriber, would cache "never" for this one's events. A second dispatcher makes
    // it ask every live dispatcher instead.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let _guard = tracing::subscriber::set_default(subscriber);

    let fixture = serve(reference_cedar(), true).await;
    let alice = agent_for_alice();
    let (human, agent) = (alice.id().to_string(), alice.acting().to_string());
    let passport = signed(&fixture, alice);
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        send(&fixture, method, "/documents/d-1", Some(&passport)).await;
    }
    send(
        &fixture,
        reqwest::Method::POST,
        "/documents/d-1",
        Some(&passport),
    )
    .await;
    send(&fixture, reqwest::Method::GET, "/documents/d-1", None).await;

    let lines: Vec<String> = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains("decision=\"authorization\""))
        .cloned()
        .collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    for line in &lines {
        assert!(
            line.contains(&format!("request_id=\"{REQUEST_ID}\"")),
            "{line}"
        );
        assert!(
            line.contains("trace_id=") && !line.contains("trace_id=-"),
            "{line}"
        );
    }
    for line in &lines[..3] {
        assert!(line.contains(&format!("principal_id={human}")), "{line}");
        assert!(line.contains("subject=\"alice\""), "{line}");
        assert!(line.contains(&format!("acting={agent}")), "{line}");
        assert!(line.contains(&format!("delegation={agent}")), "{line}");
        assert!(line.contains("caller=svc-edge (passport)"), "{line}");
        assert!(line.contains("pattern=\"passport\""), "{line}");
    }
    let allowed = &lines[0];
    assert!(allowed.contains("outcome=\"allowed\""), "{allowed}");
    assert!(allowed.contains("reason=\"policy_allowed\""), "{allowed}");
    assert!(allowed.contains("action=\"read\""), "{allowed}");
    assert!(
        allowed.contains("resource=Baton::Document::\"d-1\""),
        "{allowed}"
    );
    let denied = &lines[1];
    assert!(denied.contains("outcome=\"denied\""), "{denied}");
    assert!(denied.contains("action=\"delete\""), "{denied}");
    let untargeted = &lines[2];
    assert!(
        untargeted.contains("reason=\"policy_no_target\""),
        "{untargeted}"
    );
    assert!(!untargeted.contains("action="), "{untargeted}");
    // No Principal: the same event as the require layer's.
    let anonymous = &lines[3];
    assert!(anonymous.contains("outcome=\"denied\""), "{anonymous}");
    assert!(
        anonymous.contains("reason=\"unauthenticated\""),
        "{anonymous}"
    );
    assert!(anonymous.contains("principal_id=\"-\""), "{anonymous}");
}
