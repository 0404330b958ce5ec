//! The audit events of real requests through `AuthenticateLayer`, written by the
//! examples' JSON lines subscriber (`examples::json_lines`): each is one JSON object on one
//! line with every field of `tower_auth::authenticate::audit`'s reference, no other, and
//! the values of the request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use jsonwebtoken::Algorithm;
use principal::{Actor, AgentId, Audience, Clock, HumanId, Issuer, Principal, SystemClock, Uuid};
use serde_json::Value;
use tower::{Layer, ServiceExt, service_fn};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::dev_idp::DevIdp;
use tower_auth::jwks::{KeySet, KeySetPolicy};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};

const AUDIENCE: &str = "https://api.example.com";
const REQUEST_ID: &str = "json-lines-request-1";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// The fields every authentication audit event has (the field reference of
/// `tower_auth::authenticate::audit`), with the line's own keys.
const EVENT_KEYS: [&str; 15] = [
    "timestamp",
    "level",
    "message",
    "request_id",
    "trace_id",
    "principal_id",
    "kind",
    "subject",
    "acting",
    "delegation",
    "caller",
    "pattern",
    "outcome",
    "reason",
    "target",
];

fn verifier(idp: &DevIdp) -> JwtVerifier {
    let keys = KeySet::from_jwks_json(idp.jwks().to_string().as_bytes(), &KeySetPolicy::default())
        .unwrap()
        .set;
    JwtVerifier::builder()
        .issuer(
            IssuerConfig::builder(Issuer::new(idp.issuer()).unwrap())
                .audience(Audience::new(AUDIENCE).unwrap())
                .static_keys(keys)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// Alice's token with an agent acting for her, and the ids the verifier gives her and
/// the agent.
fn delegated_token(idp: &DevIdp) -> (String, HumanId, AgentId) {
    let issuer = Issuer::new(idp.issuer()).unwrap();
    let human = HumanId::derive(&issuer, "alice");
    let agent = AgentId::new(Uuid::from_u128(0x0b7e_2a50_3c1d_4f6e_8a9b_1c2d_3e4f_5a6b));
    let now = SystemClock.now();
    let principal = Principal::builder(human.into(), issuer, "alice")
        .audience(Audience::new(AUDIENCE).unwrap())
        .issued_at(now.add_seconds(-10))
        .expires_at(now.add_seconds(600))
        .actor(Actor::new(agent.into()))
        .build()
        .unwrap();
    let claims = serde_json::to_value(principal.to_claims()).unwrap();
    // An external token's `act.sub` is the agent's subject at that issuer: the verifier
    // derives the agent's Baton id from it (ClaimMapping's generic preset).
    let acting = AgentId::derive(&Issuer::new(idp.issuer()).unwrap(), &agent.to_string());
    (idp.issue(claims, Algorithm::ES256).unwrap(), human, acting)
}

async fn handler(_: Request<String>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(String::new()))
}

/// The audit lines written while `requests` go through an `AuthenticateLayer`, each
/// checked to be one line, one object with unique keys.
async fn audit_lines_of(idp: &DevIdp, requests: Vec<Request<String>>) -> Vec<Value> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let subscriber = examples::json_lines(
        tracing_subscriber::EnvFilter::new("baton::audit=info"),
        move || examples::SharedLines(Arc::clone(&sink)),
    );
    // This test's thread only (a current-thread runtime): no global subscriber needed.
    let _default = tracing::subscriber::set_default(subscriber);
    let layered = AuthenticateLayer::new(Arc::new(verifier(idp))).layer(service_fn(handler));
    for request in requests {
        layered.clone().oneshot(request).await.unwrap();
    }
    let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
    assert!(text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|line| {
            let object: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
            // A duplicate key would parse to fewer entries than the line has keys.
            assert_eq!(object.len(), line.matches("\":").count(), "{line}");
            Value::Object(object)
        })
        .collect()
}

fn request(authorization: &str) -> Request<String> {
    Request::builder()
        .uri("/documents/d-1")
        .header("authorization", authorization)
        .header("x-request-id", REQUEST_ID)
        .header("traceparent", TRACEPARENT)
        .body(String::new())
        .unwrap()
}

fn keys_of(event: &Value) -> BTreeSet<&str> {
    event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn an_accepted_request_writes_every_documented_field() {
    let idp = DevIdp::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (token, human, agent) = delegated_token(&idp);
    let events = audit_lines_of(&idp, vec![request(&format!("Bearer {token}"))]).await;
    assert_eq!(events.len(), 1, "one event per decision: {events:#?}");
    let event = &events[0];
    assert_eq!(keys_of(event), BTreeSet::from(EVENT_KEYS), "{event}");
    let expected = [
        ("level", "INFO"),
        ("message", "request authenticated"),
        ("request_id", REQUEST_ID),
        ("trace_id", TRACE_ID),
        ("principal_id", &human.to_string()),
        ("kind", "human"),
        ("subject", "alice"),
        ("acting", &agent.to_string()),
        ("delegation", &agent.to_string()),
        ("caller", "-"),
        ("pattern", "jwt_passthrough"),
        ("outcome", "accepted"),
        ("reason", "verified"),
        ("target", "baton::audit"),
    ];
    for (key, value) in expected {
        assert_eq!(event[key], value, "{key} in {event}");
    }
    let timestamp = event["timestamp"].as_str().unwrap();
    assert_eq!(
        timestamp.len(),
        "2026-01-01T00:00:00.000000Z".len(),
        "{timestamp}"
    );
    assert!(
        timestamp.ends_with('Z') && timestamp.as_bytes()[10] == b'T',
        "{timestamp}"
    );
    assert!(
        !event.to_string().contains(&token),
        "never the token: {event}"
    );
}

#[tokio::test]
async fn a_refused_request_writes_every_documented_field_and_the_error() {
    let idp = DevIdp::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (token, _, _) = delegated_token(&idp);
    // A forged signature: the token's last character changed.
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let events = audit_lines_of(&idp, vec![request(&format!("Bearer {forged}"))]).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    let mut keys = BTreeSet::from(EVENT_KEYS);
    keys.insert("error");
    assert_eq!(keys_of(event), keys, "{event}");
    assert_eq!(event["outcome"], "rejected", "{event}");
    assert_eq!(event["message"], "request refused", "{event}");
    assert_eq!(event["request_id"], REQUEST_ID, "{event}");
    assert_eq!(event["trace_id"], TRACE_ID, "{event}");
    assert_eq!(event["principal_id"], "-", "{event}");
    assert_eq!(event["delegation"], "", "{event}");
    assert!(!event["reason"].as_str().unwrap().is_empty(), "{event}");
    assert!(!event["error"].as_str().unwrap().is_empty(), "{event}");
    assert!(
        !event.to_string().contains(&forged),
        "never the token: {event}"
    );
}
