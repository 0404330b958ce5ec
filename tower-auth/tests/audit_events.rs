//! The audit events, as a hostile reviewer reads them: every event of this test binary (every
//! target, every field, every span) is captured, and no token nor client secret may appear
//! in any, whatever the request or the endpoint sent back; each request still gets exactly
//! one audit event. A development IdP and a hostile introspection endpoint on loopback.
#![allow(clippy::unwrap_used)]

mod support;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::post;
use base64::Engine as _;
use http::{Request, StatusCode};
use jsonwebtoken::Algorithm;
use principal::{Audience, Issuer, TestClock};
use serde_json::json;
use support::{START, start_idp_with_clock, test_clock};
use tower::{ServiceExt, service_fn};
use tower_auth::authenticate::{AUDIT_TARGET, AuthenticateLayer};
use tower_auth::client_auth::ClientAuth;
use tower_auth::dev_idp::DevIdp;
use tower_auth::introspect::{IntrospectionCacheConfig, IntrospectionVerifier};
use tower_auth::jwks::StartupPolicy;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::{Verifier, VerifierChain};
use tower_layer::Layer;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

const AUD: &str = "api";
const CLIENT_ID: &str = "edge";
const SECRET: &str = "s3cret-client-secret-do-not-log";

/// One captured event or span: its target and its fields (the message included), as text.
#[derive(Clone, Debug)]
struct Captured {
    target: String,
    text: String,
}

fn captured() -> &'static Mutex<Vec<Captured>> {
    static CAPTURED: OnceLock<Mutex<Vec<Captured>>> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        tracing::subscriber::set_global_default(Everything).unwrap();
        Mutex::new(Vec::new())
    })
}

/// The global subscriber: keeps every event and span of every target, at every level.
struct Everything;

struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, "{}={value} ", field.name());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

fn keep(target: &str, record: impl FnOnce(&mut Text<'_>)) {
    let mut text = String::new();
    record(&mut Text(&mut text));
    captured().lock().unwrap().push(Captured {
        target: target.to_owned(),
        text,
    });
}

impl Subscriber for Everything {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        keep(span.metadata().target(), |text| span.record(text));
        Id::from_u64(1)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let _ = span;
        keep("span-record", |text| values.record(text));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        keep(event.metadata().target(), |text| event.record(text));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

async fn jwt_verifier(idp: &DevIdp, clock: &TestClock) -> JwtVerifier {
    let verifier = JwtVerifier::builder()
        .clock(Arc::new(clock.clone()))
        .issuer(
            IssuerConfig::builder(Issuer::new(idp.issuer()).unwrap())
                .audience(Audience::new(AUD).unwrap())
                .oidc_discovery()
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    verifier
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .unwrap();
    verifier
}

fn introspection(
    url: &str,
    issuer: &str,
    auth: ClientAuth,
    clock: &TestClock,
) -> Arc<dyn Verifier> {
    Arc::new(
        IntrospectionVerifier::builder(url, Issuer::new(issuer).unwrap(), auth)
            .audience(Audience::new(AUD).unwrap())
            .clock(Arc::new(clock.clone()))
            .cache(IntrospectionCacheConfig::disabled())
            .build()
            .unwrap(),
    )
}

/// An introspection endpoint that echoes back everything it was sent, credentials
/// included, under `status`: what a broken or malicious server might do.
async fn echoing_endpoint(status: StatusCode) -> String {
    let app = Router::new().route(
        "/introspect",
        post(move |headers: HeaderMap, body: String| async move {
            let authorization = headers
                .get("authorization")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (
                status,
                [("content-type", "application/json")],
                json!({"active": "maybe", "echo": authorization, "body": body, "error": body})
                    .to_string(),
            )
                .into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/introspect")
}

/// Sends `token` through `layer` with `request_id`; the status.
async fn send(layer: &AuthenticateLayer, token: &str, request_id: &str) -> StatusCode {
    let service = layer.layer(service_fn(|_: Request<String>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    }));
    let request = Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .header("x-request-id", request_id)
        .body(String::new())
        .unwrap();
    service.oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn no_event_ever_holds_a_token_or_a_client_secret() {
    captured();
    let clock = test_clock();
    let idp = start_idp_with_clock(&clock).await;
    let basic = ClientAuth::client_secret_basic(CLIENT_ID, SECRET).unwrap();
    let post_auth = ClientAuth::client_secret_post(CLIENT_ID, SECRET).unwrap();
    // JWTs to the JWT verifier, opaque tokens to the IdP's introspection endpoint.
    let edge = AuthenticateLayer::new(Arc::new(
        VerifierChain::new(Arc::new(jwt_verifier(&idp, &clock).await)).then(introspection(
            &idp.introspection_url(),
            idp.issuer(),
            basic.clone(),
            &clock,
        )),
    ));
    let claims = |sub: &str, exp: i64| json!({"iss": idp.issuer(), "sub": sub, "aud": AUD, "exp": exp, "iat": START});
    let good_jwt = idp
        .issue(claims("alice", START + 300), Algorithm::ES256)
        .unwrap();
    let expired_jwt = idp
        .issue(claims("bob", START - 10), Algorithm::ES256)
        .unwrap();
    let mut forged = good_jwt.clone().into_bytes();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged_jwt = String::from_utf8(forged).unwrap();
    let foreign_jwt = idp
        .issue(json!({"iss": "https://elsewhere.example", "sub": "eve", "aud": AUD, "exp": START + 300}), Algorithm::ES256)
        .unwrap();
    let good_opaque = idp.issue_opaque(claims("carol", START + 300)).unwrap();
    let revoked_opaque = idp.issue_opaque(claims("dave", START + 300)).unwrap();
    assert!(idp.revoke_opaque(&revoked_opaque));
    let made_up_opaque = "opaque-token-nobody-issued-0123456789";

    let mut cases: Vec<(&AuthenticateLayer, String, StatusCode)> = vec![
        (&edge, good_jwt.clone(), StatusCode::OK),
        (&edge, expired_jwt.clone(), StatusCode::UNAUTHORIZED),
        (&edge, forged_jwt.clone(), StatusCode::UNAUTHORIZED),
        (&edge, foreign_jwt.clone(), StatusCode::UNAUTHORIZED),
        (&edge, good_opaque.clone(), StatusCode::OK),
        (&edge, revoked_opaque.clone(), StatusCode::UNAUTHORIZED),
        (&edge, made_up_opaque.to_owned(), StatusCode::UNAUTHORIZED),
    ];
    // Endpoints that echo the credentials back: refused with 401 from them, or answered
    // 200 with nonsense; either way the secret and the token they echo stay out of logs.
    let refusing = AuthenticateLayer::new(introspection(
        &echoing_endpoint(StatusCode::UNAUTHORIZED).await,
        idp.issuer(),
        basic,
        &clock,
    ));
    let nonsense = AuthenticateLayer::new(introspection(
        &echoing_endpoint(StatusCode::OK).await,
        idp.issuer(),
        post_auth,
        &clock,
    ));
    cases.push((
        &refusing,
        good_opaque.clone(),
        StatusCode::SERVICE_UNAVAILABLE,
    ));
    cases.push((
        &nonsense,
        good_opaque.clone(),
        StatusCode::SERVICE_UNAVAILABLE,
    ));

    let mut request_ids = Vec::new();
    for (index, (layer, token, _)) in cases.iter().enumerate() {
        let request_id = format!("audit-secrets-{index}");
        let status = send(layer, token, &request_id).await;
        request_ids.push((request_id, status));
    }
    // What the hostile endpoints answered is the operator's problem (503 or 500), never
    // an acceptance; the rest is as expected.
    for ((request_id, status), (_, token, expected)) in request_ids.iter().zip(&cases) {
        if *expected == StatusCode::SERVICE_UNAVAILABLE {
            assert!(status.is_server_error(), "{request_id}: {status}");
        } else {
            assert_eq!(status, expected, "{request_id} ({token})");
        }
    }

    let events = captured().lock().unwrap().clone();
    // Exactly one audit event per request.
    for (request_id, _) in &request_ids {
        let needle = format!("request_id={request_id} ");
        let audit: Vec<_> = events
            .iter()
            .filter(|event| event.target == AUDIT_TARGET && event.text.contains(&needle))
            .collect();
        assert_eq!(audit.len(), 1, "{request_id}: {audit:?}");
    }
    // No credential in any event or span, of any target.
    let basic_header =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"));
    let mut secrets = vec![SECRET.to_owned(), basic_header];
    secrets.extend(cases.iter().map(|(_, token, _)| token.clone()));
    // A JWT's signature alone is a secret-equivalent too (with the rest it replays).
    secrets.extend(
        cases
            .iter()
            .filter_map(|(_, token, _)| token.rsplit_once('.').map(|(_, sig)| sig.to_owned())),
    );
    for event in &events {
        for secret in &secrets {
            assert!(
                !event.text.contains(secret.as_str()),
                "a credential in a {} event: {}",
                event.target,
                event.text
            );
        }
    }
    assert!(events.len() >= cases.len());
}
