//! RFC 7662 introspection against a real axum endpoint on `127.0.0.1:0` that counts its
//! calls, records what it was sent, and answers what the test sets. Time comes from a
//! `TestClock`; nothing sleeps.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::Request;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{Audience, ClaimMapping, Issuer, TestClock, Timestamp};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tower::{ServiceExt, service_fn};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::credentials::Credentials;
use tower_auth::dev_idp::DevIdp;
use tower_auth::error::{AuthRejection, IntrospectionError};
use tower_auth::introspect::{
    ClientAuth, IntrospectionCache, IntrospectionCacheConfig, IntrospectionVerifier,
    IntrospectionVerifierBuilder,
};
use tower_auth::jwks::SymmetricKey;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::revocation::{Denylist, DenylistEntries};
use tower_auth::{AuthError, Pattern, Verifier, VerifierChain};
use tower_layer::Layer;

/// 2023-11-14T22:13:20Z.
const START: i64 = 1_700_000_000;
const ISSUER: &str = "https://as.example";
const AUDIENCE: &str = "orders-api";

// ---- the endpoint ----

/// What the endpoint answers.
#[derive(Clone)]
enum Reply {
    /// `200` with this JSON (`application/json`).
    Json(Value),
    /// This status, empty body.
    Status(u16),
    /// `307` to this location.
    Redirect(String),
    /// `200` with this content type and body.
    Raw(&'static str, String),
    /// Never answers.
    Hang,
}

/// What one call sent.
#[derive(Clone, Debug)]
struct Seen {
    authorization: Option<String>,
    content_type: Option<String>,
    body: String,
}

#[derive(Clone)]
struct Shared {
    calls: Arc<AtomicUsize>,
    reply: Arc<Mutex<Reply>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    gate: watch::Receiver<bool>,
    arrivals: mpsc::UnboundedSender<()>,
}

async fn introspect(State(shared): State<Shared>, headers: HeaderMap, body: String) -> Response {
    shared.calls.fetch_add(1, Ordering::SeqCst);
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    shared.seen.lock().unwrap().push(Seen {
        authorization: header(AUTHORIZATION),
        content_type: header(CONTENT_TYPE),
        body,
    });
    let _ = shared.arrivals.send(());
    let mut gate = shared.gate.clone();
    let _ = gate.wait_for(|open| *open).await;
    let reply = shared.reply.lock().unwrap().clone();
    match reply {
        Reply::Json(value) => axum::Json(value).into_response(),
        Reply::Status(status) => StatusCode::from_u16(status).unwrap().into_response(),
        Reply::Redirect(location) => {
            (StatusCode::TEMPORARY_REDIRECT, [(LOCATION, location)]).into_response()
        }
        Reply::Raw(content_type, body) => ([(CONTENT_TYPE, content_type)], body).into_response(),
        Reply::Hang => std::future::pending().await,
    }
}

struct Endpoint {
    url: String,
    calls: Arc<AtomicUsize>,
    reply: Arc<Mutex<Reply>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    gate: watch::Sender<bool>,
    arrivals: mpsc::UnboundedReceiver<()>,
}

impl Endpoint {
    /// An endpoint answering `reply`, its gate open.
    async fn start(reply: Reply) -> Endpoint {
        let (gate, gate_rx) = watch::channel(true);
        let (arrivals_tx, arrivals) = mpsc::unbounded_channel();
        let shared = Shared {
            calls: Arc::default(),
            reply: Arc::new(Mutex::new(reply)),
            seen: Arc::default(),
            gate: gate_rx,
            arrivals: arrivals_tx,
        };
        let endpoint = Endpoint {
            url: String::new(),
            calls: Arc::clone(&shared.calls),
            reply: Arc::clone(&shared.reply),
            seen: Arc::clone(&shared.seen),
            gate,
            arrivals,
        };
        let app = Router::new()
            .route("/introspect", post(introspect))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/introspect", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Endpoint { url, ..endpoint }
    }

    fn answer(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Holds every answer until [`release`](Self::release).
    fn hold(&self) {
        self.gate.send_replace(false);
    }

    fn release(&self) {
        self.gate.send_replace(true);
    }

    async fn arrived(&mut self) {
        self.arrivals.recv().await.unwrap();
    }
}

/// An `active` answer for alice, valid five minutes from [`START`], with `changes` applied
/// (a `null` removes a member).
fn active(changes: Value) -> Reply {
    let mut answer = json!({
        "active": true, "iss": ISSUER, "sub": "alice", "aud": AUDIENCE,
        "exp": START + 300, "iat": START - 10, "scope": "orders:read orders:write",
        "jti": "tok-1", "client_id": "web", "token_type": "Bearer"
    });
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            answer.as_object_mut().unwrap().remove(name);
        } else {
            answer[name] = value.clone();
        }
    }
    Reply::Json(answer)
}

fn clock() -> TestClock {
    TestClock::new(Timestamp::from_unix_seconds(START))
}

fn builder(endpoint: &Endpoint, clock: &TestClock) -> IntrospectionVerifierBuilder {
    IntrospectionVerifier::builder(
        &endpoint.url,
        Issuer::new(ISSUER).unwrap(),
        ClientAuth::client_secret_basic("orders-api", "s3cret").unwrap(),
    )
    .audience(Audience::new(AUDIENCE).unwrap())
    .clock(Arc::new(clock.clone()))
}

fn verifier(endpoint: &Endpoint, clock: &TestClock) -> IntrospectionVerifier {
    builder(endpoint, clock).build().unwrap()
}

fn reason(verdict: Result<tower_auth::VerifiedPrincipal, AuthError>) -> &'static str {
    match verdict {
        Ok(verified) => panic!("accepted {}", verified.subject()),
        Err(error) => error.reason(),
    }
}

// ---- the answer ----

#[tokio::test]
async fn an_active_answer_becomes_a_principal_through_the_jwt_claim_mapping() {
    let endpoint = Endpoint::start(active(json!({}))).await;
    let clock = clock();
    let verified = verifier(&endpoint, &clock)
        .verify_token("opaque-1")
        .await
        .unwrap();
    assert_eq!(verified.pattern(), Pattern::Introspection);
    assert_eq!(verified.subject(), "alice");
    assert!(verified.has_scope("orders:write"));
    assert_eq!(verified.principal().token_id(), Some("tok-1"));
    // The same Principal a JWT with these claims maps to.
    let Reply::Json(answer) = active(json!({})) else {
        unreachable!()
    };
    let from_jwt_claims = ClaimMapping::generic()
        .principal_from_json(answer.to_string().as_bytes())
        .unwrap();
    assert_eq!(verified.principal().id(), from_jwt_claims.id());
    assert_eq!(verified.principal().kind(), from_jwt_claims.kind());

    // `iss` is optional in RFC 7662: the configured issuer stands in.
    endpoint.answer(active(json!({"iss": null})));
    let verified = verifier(&endpoint, &clock)
        .verify_token("opaque-2")
        .await
        .unwrap();
    assert_eq!(verified.principal().issuer().as_str(), ISSUER);
    assert_eq!(verified.principal().id(), from_jwt_claims.id());
}

#[tokio::test]
async fn every_failure_is_refused_with_its_own_reason() {
    let endpoint = Endpoint::start(active(json!({}))).await;
    let elsewhere = Endpoint::start(active(json!({}))).await;
    let clock = clock();
    let verifier = verifier(&endpoint, &clock);
    let huge = json!({"active": true, "padding": "x".repeat(70 * 1024)}).to_string();
    let cases = [
        (
            Reply::Json(json!({"active": false})),
            "introspection_inactive",
        ),
        (Reply::Status(500), "introspection_http_status"),
        (Reply::Status(503), "introspection_http_status"),
        (Reply::Status(400), "introspection_http_status"),
        (Reply::Status(401), "introspection_client_rejected"),
        (Reply::Status(403), "introspection_client_rejected"),
        (
            Reply::Redirect(elsewhere.url.clone()),
            "introspection_redirect",
        ),
        (
            Reply::Raw("text/html", "<html>active</html>".into()),
            "introspection_malformed",
        ),
        (
            Reply::Raw("application/json", "{\"active\": tru".into()),
            "introspection_malformed",
        ),
        (
            Reply::Raw("application/json", "[{\"active\": true}]".into()),
            "introspection_malformed",
        ),
        (
            Reply::Json(json!({"sub": "alice"})),
            "introspection_malformed",
        ),
        (
            Reply::Raw(
                "application/json",
                format!(
                    r#"{{"active": false, "active": true, "iss": "{ISSUER}", "sub": "alice", "aud": "{AUDIENCE}", "exp": {}}}"#,
                    START + 300
                ),
            ),
            "introspection_malformed",
        ),
        (
            Reply::Json(json!({"active": "true"})),
            "introspection_malformed",
        ),
        (
            active(json!({"exp": "tomorrow"})),
            "introspection_malformed",
        ),
        (
            Reply::Raw("application/json", huge),
            "introspection_too_large",
        ),
        // `active: true`, but the claims say no.
        (active(json!({"exp": START - 3600})), "expired"),
        (active(json!({"exp": null})), "missing_claim"),
        (active(json!({"aud": "billing-api"})), "wrong_audience"),
        (active(json!({"aud": null})), "missing_claim"),
        (
            active(json!({"iss": "https://other.example"})),
            "wrong_issuer",
        ),
        (active(json!({"nbf": START + 3600})), "not_yet_valid"),
        (active(json!({"token_type": "refresh_token"})), "wrong_type"),
        (active(json!({"sub": null})), "claim_mapping"),
    ];
    for (index, (reply, expected)) in cases.into_iter().enumerate() {
        endpoint.answer(reply);
        let before = endpoint.calls();
        let verdict = verifier.verify_token(&format!("opaque-{index}")).await;
        assert_eq!(reason(verdict), expected, "case {index}");
        assert_eq!(endpoint.calls(), before + 1, "case {index}");
    }
    // The redirect was never followed.
    assert_eq!(elsewhere.calls(), 0);
}

#[tokio::test]
async fn failures_map_to_401_503_and_500_as_the_error_table_says() {
    let endpoint = Endpoint::start(Reply::Json(json!({"active": false}))).await;
    let clock = clock();
    let verifier = verifier(&endpoint, &clock);
    for (reply, status, reason) in [
        (
            Reply::Json(json!({"active": false})),
            401,
            "introspection_inactive",
        ),
        (Reply::Status(502), 503, "introspection_http_status"),
        (Reply::Status(401), 500, "introspection_client_rejected"),
        (active(json!({})), 200, "verified"),
    ] {
        endpoint.answer(reply);
        let service = AuthenticateLayer::new(Arc::new(verifier.clone())).layer(service_fn(
            |_request: Request<String>| async move {
                Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
            },
        ));
        let request = Request::builder()
            .header("authorization", format!("Bearer opaque-{status}"))
            .body(String::new())
            .unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(response.status(), status, "{reason}");
        let refused = response.extensions().get::<AuthRejection>();
        match refused {
            Some(rejection) => assert_eq!(rejection.reason(), reason),
            None => assert_eq!(reason, "verified"),
        }
    }
}

#[tokio::test]
async fn a_timeout_is_refused_as_a_timeout() {
    let endpoint = Endpoint::start(Reply::Hang).await;
    let clock = clock();
    let verifier = builder(&endpoint, &clock)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let verdict = verifier.verify_token("opaque").await;
    assert!(matches!(
        verdict,
        Err(AuthError::Introspection(IntrospectionError::Timeout))
    ));
    assert_eq!(endpoint.calls(), 1);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_refused_as_unreachable() {
    // A port that was free a moment ago and has no listener now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    drop(listener);
    let verifier = IntrospectionVerifier::builder(
        &url,
        Issuer::new(ISSUER).unwrap(),
        ClientAuth::bearer("svc-token").unwrap(),
    )
    .audience(Audience::new(AUDIENCE).unwrap())
    .build()
    .unwrap();
    assert_eq!(
        reason(verifier.verify_token("opaque").await),
        "introspection_unreachable"
    );
}

// ---- declines and bounds ----

#[tokio::test]
async fn no_bearer_token_and_jwt_shaped_tokens_are_declined_without_a_call() {
    let endpoint = Endpoint::start(active(json!({}))).await;
    let clock = clock();
    let verifier = verifier(&endpoint, &clock);
    assert!(matches!(
        verifier.verify(&Credentials::none()).await,
        Err(AuthError::UnsupportedTokenFormat)
    ));
    let passport_only = Credentials::none().with_passport("AAAA");
    assert!(matches!(
        verifier.verify(&passport_only).await,
        Err(AuthError::UnsupportedTokenFormat)
    ));
    let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";
    let declined = verifier.verify(&Credentials::bearer(jwt)).await;
    assert!(matches!(declined, Err(AuthError::UnsupportedTokenFormat)));
    assert!(declined.unwrap_err().is_decline());
    assert_eq!(endpoint.calls(), 0);

    // Opted in: a JWT-shaped token is introspected like any other.
    let verifier = builder(&endpoint, &clock)
        .introspect_jwts()
        .build()
        .unwrap();
    assert!(verifier.verify(&Credentials::bearer(jwt)).await.is_ok());
    assert_eq!(endpoint.calls(), 1);
}

#[tokio::test]
async fn an_oversized_token_is_refused_before_any_call() {
    let endpoint = Endpoint::start(active(json!({}))).await;
    let clock = clock();
    let verifier = builder(&endpoint, &clock)
        .max_token_bytes(64)
        .build()
        .unwrap();
    assert!(matches!(
        verifier.verify_token(&"a".repeat(65)).await,
        Err(AuthError::TokenTooLarge { len: 65, max: 64 })
    ));
    assert!(verifier.verify_token(&"a".repeat(64)).await.is_ok());
    assert_eq!(endpoint.calls(), 1);
}

// ---- the cache ----

#[tokio::test]
async fn an_active_answer_serves_from_the_cache_until_exp() {
    let endpoint = Endpoint::start(active(json!({"exp": START + 30}))).await;
    let clock = clock();
    let verifier = builder(&endpoint, &clock)
        .leeway(Duration::ZERO)
        .cache(IntrospectionCacheConfig::default().with_max_ttl(Duration::from_secs(60)))
        .build()
        .unwrap();
    assert!(verifier.verify_token("opaque").await.is_ok());
    // A hit is ready: no call, no wait.
    let hit = verifier.verify(&Credentials::bearer("opaque"));
    assert!(hit.is_ready());
    assert!(hit.await.is_ok());
    clock.advance(29);
    assert!(verifier.verify_token("opaque").await.is_ok());
    assert_eq!(endpoint.calls(), 1);
    // At `exp` the entry is gone (before max_ttl): the endpoint is asked again, and an
    // `active: true` for an expired token is refused.
    clock.advance(1);
    assert_eq!(reason(verifier.verify_token("opaque").await), "expired");
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test]
async fn an_active_answer_serves_from_the_cache_at_most_max_ttl() {
    let endpoint = Endpoint::start(active(json!({"exp": START + 3600}))).await;
    let clock = clock();
    let verifier = builder(&endpoint, &clock)
        .cache(IntrospectionCacheConfig::default().with_max_ttl(Duration::from_secs(60)))
        .build()
        .unwrap();
    assert!(verifier.verify_token("opaque").await.is_ok());
    clock.advance(59);
    assert!(verifier.verify_token("opaque").await.is_ok());
    assert_eq!(endpoint.calls(), 1);
    // Revoked at the authorization server meanwhile: seen once max_ttl has passed.
    endpoint.answer(Reply::Json(json!({"active": false})));
    clock.advance(1);
    assert_eq!(
        reason(verifier.verify_token("opaque").await),
        "introspection_inactive"
    );
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test]
async fn only_an_inactive_answer_is_cached_negatively_and_briefly() {
    let endpoint = Endpoint::start(Reply::Json(json!({"active": false}))).await;
    let clock = clock();
    let verifier = builder(&endpoint, &clock)
        .cache(IntrospectionCacheConfig::default().with_negative_ttl(Duration::from_secs(5)))
        .build()
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            reason(verifier.verify_token("opaque").await),
            "introspection_inactive"
        );
    }
    assert_eq!(endpoint.calls(), 1);
    // The token became active: seen once the negative entry has lived its 5 s.
    endpoint.answer(active(json!({})));
    clock.advance(4);
    assert!(verifier.verify_token("opaque").await.is_err());
    assert_eq!(endpoint.calls(), 1);
    clock.advance(1);
    assert!(verifier.verify_token("opaque").await.is_ok());
    assert_eq!(endpoint.calls(), 2);

    // A failure that is not about the token is never cached: the next request asks again.
    endpoint.answer(Reply::Status(500));
    assert_eq!(
        reason(verifier.verify_token("other").await),
        "introspection_http_status"
    );
    endpoint.answer(active(json!({})));
    assert!(verifier.verify_token("other").await.is_ok());
    assert_eq!(endpoint.calls(), 4);
}

#[tokio::test]
async fn a_shared_cache_never_serves_one_endpoints_answer_for_another() {
    let accepts = Endpoint::start(active(json!({}))).await;
    let refuses = Endpoint::start(Reply::Json(json!({"active": false}))).await;
    let clock = clock();
    let shared = Arc::new(IntrospectionCache::new(IntrospectionCacheConfig::default()).unwrap());
    let first = builder(&accepts, &clock)
        .shared_cache(Arc::clone(&shared))
        .build()
        .unwrap();
    let second = builder(&refuses, &clock)
        .shared_cache(Arc::clone(&shared))
        .build()
        .unwrap();
    assert!(first.verify_token("same-token").await.is_ok());
    assert_eq!(shared.len(), 1);
    // Same token, same configuration, another endpoint: asked, and its answer stands.
    assert_eq!(
        reason(second.verify_token("same-token").await),
        "introspection_inactive"
    );
    assert_eq!((accepts.calls(), refuses.calls()), (1, 1));
    assert_eq!(shared.len(), 2);
    // And each side's answer is a hit for its own side only.
    assert!(first.verify_token("same-token").await.is_ok());
    assert!(second.verify_token("same-token").await.is_err());
    assert_eq!((accepts.calls(), refuses.calls()), (1, 1));
}

// ---- single flight ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_a_thousand_with_one_new_token_makes_one_call() {
    let mut endpoint = Endpoint::start(active(json!({}))).await;
    let clock = clock();
    let verifier = verifier(&endpoint, &clock);
    endpoint.hold();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let verifier = verifier.clone();
            tokio::spawn(async move {
                verifier
                    .verify(&Credentials::bearer("burst-token"))
                    .await
                    .map(|verified| verified.subject().to_owned())
            })
        })
        .collect();
    // The call is in flight, held: let the rest of the burst pile up behind it.
    endpoint.arrived().await;
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
    endpoint.release();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "alice");
    }
    assert_eq!(endpoint.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_shares_a_failure_too_and_the_next_request_asks_again() {
    let mut endpoint = Endpoint::start(Reply::Status(503)).await;
    let clock = clock();
    let verifier = verifier(&endpoint, &clock);
    endpoint.hold();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let verifier = verifier.clone();
            tokio::spawn(async move {
                verifier
                    .verify_token("burst-token")
                    .await
                    .map_err(|e| e.reason())
            })
        })
        .collect();
    endpoint.arrived().await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    endpoint.release();
    for task in tasks {
        assert_eq!(
            task.await.unwrap().unwrap_err(),
            "introspection_http_status"
        );
    }
    let calls = endpoint.calls();
    assert!(calls >= 1, "{calls}");
    // Not cached: once the burst is over, a new request makes a new call.
    endpoint.answer(active(json!({})));
    assert!(verifier.verify_token("burst-token").await.is_ok());
    assert_eq!(endpoint.calls(), calls + 1);
}

// ---- client authentication ----

#[tokio::test]
async fn each_client_authentication_method_is_on_the_wire() {
    let endpoint = Endpoint::start(active(json!({}))).await;
    let clock = clock();
    let with = |auth: ClientAuth| {
        IntrospectionVerifier::builder(&endpoint.url, Issuer::new(ISSUER).unwrap(), auth)
            .audience(Audience::new(AUDIENCE).unwrap())
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap()
    };

    let basic = with(ClientAuth::client_secret_basic("orders:api", "s3cret&more").unwrap());
    basic.verify_token("tok+1").await.unwrap();
    let post = with(ClientAuth::client_secret_post("orders-api", "s3cret&more").unwrap());
    post.verify_token("tok+2").await.unwrap();
    let bearer = with(ClientAuth::bearer("service-credential").unwrap());
    bearer.verify_token("tok+3").await.unwrap();

    let seen = endpoint.seen();
    assert_eq!(seen.len(), 3);
    for call in &seen {
        assert_eq!(
            call.content_type.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
    }
    // client_secret_basic: id and secret form-encoded, then base64 (RFC 6749 §2.3.1).
    let basic_header = seen[0].authorization.as_deref().unwrap();
    let decoded = STANDARD
        .decode(basic_header.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(decoded, b"orders%3Aapi:s3cret%26more");
    assert_eq!(seen[0].body, "token=tok%2B1&token_type_hint=access_token");
    // client_secret_post: in the body, no Authorization header.
    assert_eq!(seen[1].authorization, None);
    assert_eq!(
        seen[1].body,
        "token=tok%2B2&token_type_hint=access_token&client_id=orders-api&client_secret=s3cret%26more"
    );
    // bearer: this service's own credential, nothing in the body.
    assert_eq!(
        seen[2].authorization.as_deref(),
        Some("Bearer service-credential")
    );
    assert_eq!(seen[2].body, "token=tok%2B3&token_type_hint=access_token");

    // The secret never shows in Debug.
    for verifier in [&basic, &post, &bearer] {
        let debug = format!("{verifier:?}");
        assert!(!debug.contains("s3cret") && !debug.contains("service-credential"));
    }
}

// ---- the chain ----

const JWT_ISSUER: &str = "https://idp.example.com";
const JWT_SECRET: [u8; 32] = [7; 32];

fn jwt_verifier(clock: &TestClock) -> JwtVerifier {
    let issuer = IssuerConfig::builder(Issuer::new(JWT_ISSUER).unwrap())
        .audience(Audience::new(AUDIENCE).unwrap())
        .hmac_secrets([
            SymmetricKey::new(Some("hs-1"), Algorithm::HS256, JWT_SECRET.to_vec()).unwrap(),
        ])
        .build()
        .unwrap();
    JwtVerifier::builder()
        .issuer(issuer)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap()
}

fn jwt(iss: &str, sub: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hs-1".into());
    let claims = json!({"iss": iss, "sub": sub, "aud": AUDIENCE, "exp": START + 300});
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&JWT_SECRET)).unwrap()
}

#[tokio::test]
async fn in_a_chain_jwts_go_to_the_jwt_verifier_and_opaque_tokens_to_introspection() {
    let endpoint = Endpoint::start(active(json!({}))).await;
    let clock = clock();
    let chain = VerifierChain::new(Arc::new(jwt_verifier(&clock)))
        .then(Arc::new(verifier(&endpoint, &clock)));

    let verified = chain
        .verify(&Credentials::bearer(&jwt(JWT_ISSUER, "bob")))
        .await
        .unwrap();
    assert_eq!(
        (verified.subject(), verified.pattern()),
        ("bob", Pattern::JwtPassthrough)
    );
    assert_eq!(endpoint.calls(), 0);

    let verified = chain
        .verify(&Credentials::bearer("2YotnFZFEjr1zCsicMWpAA"))
        .await
        .unwrap();
    assert_eq!(
        (verified.subject(), verified.pattern()),
        ("alice", Pattern::Introspection)
    );
    assert_eq!(endpoint.calls(), 1);

    // A JWT of an issuer the JWT verifier does not know is not sent to the authorization
    // server: both decline, the chain refuses.
    let stranger = chain
        .verify(&Credentials::bearer(&jwt("https://evil.example", "bob")))
        .await;
    assert!(matches!(stranger, Err(AuthError::UnsupportedTokenFormat)));
    assert_eq!(endpoint.calls(), 1);

    // A JWT the JWT verifier refuses (bad signature) stops there: fail closed.
    let mut forged = jwt(JWT_ISSUER, "bob");
    forged.push('A');
    let refused = chain.verify(&Credentials::bearer(&forged)).await;
    assert!(refused.is_err() && !refused.unwrap_err().is_decline());
    assert_eq!(endpoint.calls(), 1);

    // An opaque token introspection refuses is refused by the chain.
    endpoint.answer(Reply::Json(json!({"active": false})));
    assert_eq!(
        reason(chain.verify(&Credentials::bearer("revoked-opaque")).await),
        "introspection_inactive"
    );
}

// ---- revocation ----

#[tokio::test]
async fn the_revocation_list_refuses_fresh_and_cached_answers() {
    let endpoint = Endpoint::start(active(json!({"jti": "tok-7"}))).await;
    let clock = clock();
    let denylist = Arc::new(Denylist::new());
    let verifier = builder(&endpoint, &clock)
        .revocation(denylist.clone())
        .build()
        .unwrap();
    assert!(verifier.verify_token("cached").await.is_ok());

    denylist.replace(DenylistEntries::new().deny_token_id("tok-7"));
    // The cached answer is re-checked against the new list, with no call.
    assert_eq!(
        reason(verifier.verify_token("cached").await),
        "revoked_token_id"
    );
    assert_eq!(endpoint.calls(), 1);
    // A fresh answer is checked too.
    assert_eq!(
        reason(verifier.verify_token("fresh").await),
        "revoked_token_id"
    );
    assert_eq!(endpoint.calls(), 2);
    // Lifted: the cached answer serves again.
    denylist.replace(DenylistEntries::new());
    assert!(verifier.verify_token("cached").await.is_ok());
    assert_eq!(endpoint.calls(), 2);
}

// ---- the development IdP's opaque tokens ----

#[tokio::test]
async fn the_development_idp_issues_opaque_tokens_and_introspects_them() {
    let clock = clock();
    let idp = DevIdp::start_with_clock("127.0.0.1:0".parse().unwrap(), Arc::new(clock.clone()))
        .await
        .unwrap();
    let verifier = IntrospectionVerifier::builder(
        &idp.introspection_url(),
        Issuer::new(idp.issuer()).unwrap(),
        ClientAuth::client_secret_basic("edge", "dev-secret").unwrap(),
    )
    .audience(Audience::new(AUDIENCE).unwrap())
    .clock(Arc::new(clock.clone()))
    .cache(IntrospectionCacheConfig::disabled())
    .build()
    .unwrap();

    // `POST /token` with `"format": "opaque"`.
    let http = reqwest::Client::new();
    let response = http
        .post(idp.token_url())
        .header("content-type", "application/json")
        .body(
            json!({"sub": "alice", "aud": AUDIENCE, "scope": "orders:read", "format": "opaque"})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let token = answer["access_token"].as_str().unwrap().to_owned();
    assert!(!token.contains('.'), "{token}");
    let verified = verifier.verify_token(&token).await.unwrap();
    assert_eq!(
        (verified.subject(), verified.pattern()),
        ("alice", Pattern::Introspection)
    );
    assert!(verified.has_scope("orders:read"));

    // Revoked at the IdP: inactive.
    assert!(idp.revoke_opaque(&token));
    assert_eq!(
        reason(verifier.verify_token(&token).await),
        "introspection_inactive"
    );
    // Past its `exp`: the IdP itself says inactive.
    let short = idp
        .issue_opaque(
            json!({"iss": idp.issuer(), "sub": "bob", "aud": AUDIENCE, "exp": START + 10}),
        )
        .unwrap();
    assert!(verifier.verify_token(&short).await.is_ok());
    clock.advance(10);
    assert_eq!(
        reason(verifier.verify_token(&short).await),
        "introspection_inactive"
    );
    // A token it never issued, and a JWT (declined, never sent).
    assert_eq!(
        reason(verifier.verify_token("made-up").await),
        "introspection_inactive"
    );
    let jwt = idp
        .issue(
            json!({"iss": idp.issuer(), "sub": "carol", "aud": AUDIENCE, "exp": START + 300}),
            Algorithm::ES256,
        )
        .unwrap();
    assert!(matches!(
        verifier.verify_token(&jwt).await,
        Err(AuthError::UnsupportedTokenFormat)
    ));
    assert_eq!(idp.introspection_requests(), 5);

    // Without client authentication the IdP answers 401.
    let anonymous = http
        .post(idp.introspection_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={short}"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}
