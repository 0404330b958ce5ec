//! `RequireLayer` over real axum servers on loopback, behind a JWT-verifying
//! `AuthenticateLayer`: every refusal (agent where agents are forbidden, delegation past
//! the depth, a missing scope with the exact challenge, a role only the human holds
//! while an agent acts, the wrong workload, the wrong tenant, `not` and `or`, a path with
//! no requirement) and the matching accepted requests; one audit event per decision.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{
    Actor, AgentId, Audience, ClaimMapping, HumanId, Issuer, Kind, Principal, PrincipalId, Role,
    ScopeSet, Tenant, TestClock, Timestamp,
};
use tower_auth::authenticate::{AUDIT_TARGET, AuthenticateLayer};
use tower_auth::jwks::SymmetricKey;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::peer::{PeerIdentity, SpiffeId, TrustDomain};
use tower_auth::require::{RequireError, RequireLayer, Requirement, RouteRequirements};

const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://edge.baton.internal";
const AUDIENCE: &str = "api";
const SECRET: [u8; 32] = [0x42; 32];
/// Test-only stand-in for the mTLS listener: the SPIFFE ID of the "peer". The listener
/// itself is tested in `mtls_http.rs`; here it only feeds the require layer.
const TEST_PEER_HEADER: &str = "x-test-peer";

fn issuer() -> Issuer {
    Issuer::new(ISSUER).unwrap()
}

fn human() -> PrincipalId {
    PrincipalId::Human(HumanId::derive(&issuer(), "alice"))
}

fn agent(name: &str) -> PrincipalId {
    PrincipalId::Agent(AgentId::derive(&issuer(), name))
}

/// A Principal with these scopes and roles, acted for by `actors` (oldest first).
fn principal(
    subject: PrincipalId,
    scopes: &str,
    roles: &[&str],
    actors: &[PrincipalId],
) -> Principal {
    let mut builder = Principal::builder(subject, issuer(), "subject")
        .scopes(ScopeSet::parse(scopes).unwrap())
        .roles(roles.iter().map(|role| Role::new(role).unwrap()))
        .tenant(Tenant::new("acme").unwrap())
        .audience(Audience::new(AUDIENCE).unwrap())
        .issued_at(Timestamp::from_unix_seconds(NOW))
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

fn verifier() -> Arc<JwtVerifier> {
    let config = IssuerConfig::builder(issuer())
        .audience(Audience::new(AUDIENCE).unwrap())
        .hmac_secrets([SymmetricKey::new(Some("k1"), Algorithm::HS256, SECRET.to_vec()).unwrap()])
        .claim_mapping(ClaimMapping::baton())
        .build()
        .unwrap();
    Arc::new(
        JwtVerifier::builder()
            .issuer(config)
            .clock(Arc::new(TestClock::new(Timestamp::from_unix_seconds(NOW))))
            .build()
            .unwrap(),
    )
}

async fn peer_from_test_header(mut request: Request, next: Next) -> Response {
    let peer = request
        .headers()
        .get(TEST_PEER_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<SpiffeId>().ok());
    if let Some(id) = peer {
        request.extensions_mut().insert(PeerIdentity::new(id));
    }
    next.run(request).await
}

fn routes() -> RouteRequirements {
    let clerk = || Role::new("clerk").unwrap();
    RouteRequirements::new()
        .path(
            "/orders",
            Requirement::scopes(["orders:write", "orders:read"]).unwrap(),
        )
        .unwrap()
        .path("/no-agents", Requirement::no_agent())
        .unwrap()
        .path(
            "/agents-for-humans",
            Requirement::agents_on_behalf_of([Kind::Human]),
        )
        .unwrap()
        .path("/shallow", Requirement::max_delegation_depth(1))
        .unwrap()
        .path("/clerk", Requirement::role(clerk()))
        .unwrap()
        .path("/clerk-delegated", Requirement::delegated_role(clerk()))
        .unwrap()
        .path(
            "/tenant",
            Requirement::tenant(Tenant::new("globex").unwrap()),
        )
        .unwrap()
        .path(
            "/workload",
            Requirement::caller("spiffe://prod.example/edge".parse().unwrap()),
        )
        .unwrap()
        .path(
            "/domain",
            Requirement::caller_in(TrustDomain::new("prod.example").unwrap()),
        )
        .unwrap()
        .path(
            "/either",
            Requirement::scopes(["reports:read"])
                .unwrap()
                .or(Requirement::role(Role::new("auditor").unwrap())),
        )
        .unwrap()
        .path("/humans-acting", !Requirement::acting_kind([Kind::Agent]))
        .unwrap()
        .prefix("/open/", Requirement::authenticated())
        .unwrap()
}

/// A router behind a per-path table (deny by default) and one route with its own layer.
async fn serve() -> SocketAddr {
    let ok = || get(|| async { "ok" });
    let app = Router::new()
        .route("/{*path}", ok())
        .layer(RequireLayer::routes(routes()))
        .layer(AuthenticateLayer::new(verifier()))
        .layer(middleware::from_fn(peer_from_test_header));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
}

async fn get_as(
    addr: SocketAddr,
    path: &str,
    principal: Option<&Principal>,
    peer: Option<&str>,
) -> Answer {
    let client = reqwest::Client::new();
    let mut request = client.get(format!("http://{addr}{path}"));
    if let Some(principal) = principal {
        request = request.bearer_auth(token_of(principal));
    }
    if let Some(peer) = peer {
        request = request.header(TEST_PEER_HEADER, peer);
    }
    let response = request.send().await.unwrap();
    Answer {
        status: response.status(),
        challenge: response
            .headers()
            .get("www-authenticate")
            .map(|value| value.to_str().unwrap().to_owned()),
    }
}

const FORBIDDEN_NO_SCOPE: &str = r#"Bearer error="insufficient_scope""#;

fn assert_forbidden(answer: &Answer, challenge: &str) {
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.challenge.as_deref(), Some(challenge));
}

#[tokio::test]
async fn a_missing_scope_is_403_naming_every_required_scope() {
    let addr = serve().await;
    let alice = principal(human(), "orders:read", &[], &[]);
    let answer = get_as(addr, "/orders", Some(&alice), None).await;
    assert_forbidden(
        &answer,
        r#"Bearer error="insufficient_scope", scope="orders:read orders:write""#,
    );

    let both = principal(human(), "orders:read orders:write profile", &[], &[]);
    assert_eq!(
        get_as(addr, "/orders", Some(&both), None).await.status,
        StatusCode::OK
    );

    // An agent granted only part of the human's scopes: the effective scopes decide.
    let granted = Principal::builder(human(), issuer(), "subject")
        .scopes(ScopeSet::parse("orders:read orders:write").unwrap())
        .audience(Audience::new(AUDIENCE).unwrap())
        .expires_at(Timestamp::from_unix_seconds(NOW + 300))
        .actor(Actor::new(agent("bot")).with_grant(ScopeSet::parse("orders:read").unwrap()))
        .build()
        .unwrap();
    assert_forbidden(
        &get_as(addr, "/orders", Some(&granted), None).await,
        r#"Bearer error="insufficient_scope", scope="orders:read orders:write""#,
    );
}

#[tokio::test]
async fn agents_are_refused_where_forbidden_and_allowed_only_for_humans() {
    let addr = serve().await;
    let alice = principal(human(), "", &[], &[]);
    let for_alice = principal(human(), "", &[], &[agent("bot")]);
    let alone = principal(agent("bot"), "", &[], &[]);

    assert_eq!(
        get_as(addr, "/no-agents", Some(&alice), None).await.status,
        StatusCode::OK
    );
    assert_forbidden(
        &get_as(addr, "/no-agents", Some(&for_alice), None).await,
        FORBIDDEN_NO_SCOPE,
    );
    assert_forbidden(
        &get_as(addr, "/no-agents", Some(&alone), None).await,
        FORBIDDEN_NO_SCOPE,
    );

    assert_eq!(
        get_as(addr, "/agents-for-humans", Some(&alice), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        get_as(addr, "/agents-for-humans", Some(&for_alice), None)
            .await
            .status,
        StatusCode::OK
    );
    // An agent acting alone is on nobody's behalf.
    assert_forbidden(
        &get_as(addr, "/agents-for-humans", Some(&alone), None).await,
        FORBIDDEN_NO_SCOPE,
    );
}

#[tokio::test]
async fn delegation_past_the_depth_is_refused() {
    let addr = serve().await;
    let one = principal(human(), "", &[], &[agent("a")]);
    let two = principal(human(), "", &[], &[agent("a"), agent("b")]);
    assert_eq!(
        get_as(addr, "/shallow", Some(&one), None).await.status,
        StatusCode::OK
    );
    assert_forbidden(
        &get_as(addr, "/shallow", Some(&two), None).await,
        FORBIDDEN_NO_SCOPE,
    );
}

#[tokio::test]
async fn a_role_only_the_human_holds_does_not_pass_while_an_agent_acts() {
    let addr = serve().await;
    let alice = principal(human(), "", &["clerk"], &[]);
    let for_alice = principal(human(), "", &["clerk"], &[agent("bot")]);
    let nobody = principal(human(), "", &["viewer"], &[]);

    assert_eq!(
        get_as(addr, "/clerk", Some(&alice), None).await.status,
        StatusCode::OK
    );
    assert_forbidden(
        &get_as(addr, "/clerk", Some(&for_alice), None).await,
        FORBIDDEN_NO_SCOPE,
    );
    assert_forbidden(
        &get_as(addr, "/clerk", Some(&nobody), None).await,
        FORBIDDEN_NO_SCOPE,
    );
    // Where the route says so, the human's role counts for its agent.
    assert_eq!(
        get_as(addr, "/clerk-delegated", Some(&for_alice), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_forbidden(
        &get_as(addr, "/clerk-delegated", Some(&nobody), None).await,
        FORBIDDEN_NO_SCOPE,
    );
}

#[tokio::test]
async fn the_wrong_workload_or_none_is_refused() {
    let addr = serve().await;
    let alice = principal(human(), "", &[], &[]);
    let edge = Some("spiffe://prod.example/edge");
    assert_eq!(
        get_as(addr, "/workload", Some(&alice), edge).await.status,
        StatusCode::OK
    );
    for peer in [
        Some("spiffe://prod.example/batch"),
        Some("spiffe://prod.example/edge/x"),
        Some("spiffe://staging.example/edge"),
        None,
    ] {
        assert_forbidden(
            &get_as(addr, "/workload", Some(&alice), peer).await,
            FORBIDDEN_NO_SCOPE,
        );
    }
    assert_eq!(
        get_as(
            addr,
            "/domain",
            Some(&alice),
            Some("spiffe://prod.example/batch")
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_forbidden(
        &get_as(
            addr,
            "/domain",
            Some(&alice),
            Some("spiffe://staging.example/edge"),
        )
        .await,
        FORBIDDEN_NO_SCOPE,
    );
}

#[tokio::test]
async fn a_tenant_mismatch_is_refused() {
    let addr = serve().await;
    // Every test Principal belongs to `acme`; the route wants `globex`.
    let alice = principal(human(), "", &[], &[]);
    assert_forbidden(
        &get_as(addr, "/tenant", Some(&alice), None).await,
        FORBIDDEN_NO_SCOPE,
    );
}

#[tokio::test]
async fn or_and_not_compose() {
    let addr = serve().await;
    let reader = principal(human(), "reports:read", &[], &[]);
    let auditor = principal(human(), "", &["auditor"], &[]);
    let neither = principal(human(), "reports:write", &["clerk"], &[]);
    assert_eq!(
        get_as(addr, "/either", Some(&reader), None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get_as(addr, "/either", Some(&auditor), None).await.status,
        StatusCode::OK
    );
    assert_forbidden(
        &get_as(addr, "/either", Some(&neither), None).await,
        r#"Bearer error="insufficient_scope", scope="reports:read""#,
    );

    let alice = principal(human(), "", &[], &[]);
    let for_alice = principal(human(), "", &[], &[agent("bot")]);
    assert_eq!(
        get_as(addr, "/humans-acting", Some(&alice), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_forbidden(
        &get_as(addr, "/humans-acting", Some(&for_alice), None).await,
        FORBIDDEN_NO_SCOPE,
    );
}

#[tokio::test]
async fn paths_without_a_requirement_are_denied_by_default() {
    let addr = serve().await;
    let alice = principal(human(), "orders:read orders:write", &["clerk"], &[]);
    for path in ["/unlisted", "/orders/7", "/open", "/Orders"] {
        assert_forbidden(
            &get_as(addr, path, Some(&alice), None).await,
            FORBIDDEN_NO_SCOPE,
        );
    }
    assert_eq!(
        get_as(addr, "/open/anything", Some(&alice), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn no_principal_is_401_like_the_authenticate_layer() {
    // Optional authentication lets an anonymous request through; the require layer does not.
    let app = Router::new()
        .route("/orders", get(|| async { "ok" }))
        .route_layer(RequireLayer::new(Requirement::authenticated()))
        .route_layer(AuthenticateLayer::new(verifier()).optional());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let answer = get_as(addr, "/orders", None, None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenge.as_deref(), Some("Bearer"));
    let alice = principal(human(), "", &[], &[]);
    assert_eq!(
        get_as(addr, "/orders", Some(&alice), None).await.status,
        StatusCode::OK
    );
    // route_layer: an unknown path is still 404, not 401 or 403.
    assert_eq!(
        get_as(addr, "/nowhere", None, None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn a_requirement_naming_a_malformed_scope_is_a_typed_error() {
    for bad in ["", "two words", "quote\"", "back\\slash", "caf\u{e9}"] {
        let error = Requirement::scopes(["orders:read", bad]).unwrap_err();
        assert!(matches!(error, RequireError::Scope { .. }), "{bad:?}");
        assert_eq!(error.reason(), "malformed_scope");
    }
    let error = RouteRequirements::new()
        .path("no-slash", Requirement::authenticated())
        .unwrap_err();
    assert_eq!(error.reason(), "malformed_path");
}

// ---- the audit event ------------------------------------------------------------------

#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<String>>>);

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

#[tokio::test(flavor = "current_thread")]
async fn each_decision_emits_one_authorization_audit_event() {
    use tower::ServiceExt;

    let events = Events::default();
    let writer = events.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter(AUDIT_TARGET)
        .with_ansi(false)
        .finish();
    // With a single dispatcher alive, tracing-core computes a new callsite's interest
    // from the default of whichever thread hits it first: another test's thread, with no
    // subscriber, would cache "never" for this one's events. A second dispatcher makes
    // it ask every live dispatcher instead.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = Router::new()
        .route("/{*path}", get(|| async { "ok" }))
        .layer(RequireLayer::routes(routes()))
        .layer(AuthenticateLayer::new(verifier()));
    let call = |path: &str, principal: &Principal| {
        http::Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {}", token_of(principal)))
            .header("x-request-id", "req-7")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let for_alice = principal(human(), "", &[], &[agent("bot")]);
    let response = app
        .clone()
        .oneshot(call("/no-agents", &for_alice))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .oneshot(call("/agents-for-humans", &for_alice))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let lines: Vec<String> = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains("decision=\"authorization\""))
        .cloned()
        .collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let denied = &lines[0];
    assert!(denied.contains("request_id=\"req-7\""), "{denied}");
    assert!(denied.contains("outcome=\"denied\""), "{denied}");
    assert!(denied.contains("reason=\"agent_not_allowed\""), "{denied}");
    assert!(
        denied.contains(&format!("principal_id={}", human())),
        "{denied}"
    );
    assert!(
        denied.contains(&format!("delegation={}", agent("bot"))),
        "{denied}"
    );
    // The human is the subject, the agent acts: the same fields as the authentication event.
    assert!(denied.contains("subject=\"subject\""), "{denied}");
    assert!(
        denied.contains(&format!("acting={}", agent("bot"))),
        "{denied}"
    );
    assert!(denied.contains("trace_id="), "{denied}");
    assert!(!denied.contains("trace_id=-"), "{denied}");
    let allowed = &lines[1];
    assert!(allowed.contains("outcome=\"allowed\""), "{allowed}");
    assert!(allowed.contains("reason=\"satisfied\""), "{allowed}");
}
