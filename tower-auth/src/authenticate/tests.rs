//! Layer tests that need a Principal (so they live inside the crate, where the test
//! verifier may build a `VerifiedPrincipal`). Everything observable without a Principal
//! is tested from outside, in tests/authenticate_*.rs.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use super::{AUDIT_TARGET, AuthenticateLayer, PRINCIPAL_HEADER};
use crate::context::RequestContext;
use crate::error::{AuthError, AuthRejection, Challenge};
use crate::verified::testing::{AGENT, FailsWith, HUMAN, OneToken};
use crate::verified::{Pattern, VerifiedPrincipal};
use crate::verifier::Verifier;

const GOOD: &str = "good.token.sig";

/// One captured event: its level and its fields, formatted.
type Captured = (Level, HashMap<String, String>);

/// Captures the audit events of the current thread.
///
/// One global subscriber routes each event to the capture installed on the thread that
/// emits it. (Per-thread `set_default` subscribers race with each other over `tracing`'s
/// global callsite interest and max-level caches when tests run in parallel, and an event
/// was occasionally dropped; a global subscriber is registered once and never goes away.)
#[derive(Clone, Default)]
struct Capture {
    events: Arc<Mutex<Vec<Captured>>>,
}

thread_local! {
    static INSTALLED: std::cell::RefCell<Option<Capture>> = const { std::cell::RefCell::new(None) };
}

/// Uninstalls the thread's capture when dropped.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        INSTALLED.with(|installed| installed.borrow_mut().take());
    }
}

/// The global subscriber: forwards audit events to the thread's capture, if any.
struct Router;

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for Router {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if event.metadata().target() != AUDIT_TARGET {
            return;
        }
        let Some(capture) = INSTALLED.with(|installed| installed.borrow().clone()) else {
            return;
        };
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        capture
            .events
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Capture {
    /// Capture the audit events this thread emits until the guard drops.
    fn install(&self) -> Installed {
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            // Another global subscriber would be a test-setup bug: fail loudly.
            tracing::subscriber::set_global_default(Router).unwrap();
        });
        // Recompute the callsite interest and max-level caches now that the global
        // subscriber is certainly registered: a callsite first hit on another thread
        // while it was being installed may have cached "never".
        tracing::callsite::rebuild_interest_cache();
        INSTALLED.with(|installed| *installed.borrow_mut() = Some(self.clone()));
        Installed
    }
}

impl Capture {
    fn single(&self) -> Captured {
        let events = self.events.lock().unwrap();
        assert_eq!(events.len(), 1, "exactly one audit event per decision");
        events[0].clone()
    }
}

/// What the inner service saw.
#[derive(Debug, Default, Clone)]
struct Seen {
    principal: Option<VerifiedPrincipal>,
    principal_header: bool,
    internal_header: bool,
    ran_marker: bool,
}

async fn call(
    layer: AuthenticateLayer,
    request: Request<String>,
) -> (Response<String>, Option<Seen>) {
    let seen = Arc::new(Mutex::new(None));
    let seen_inner = Arc::clone(&seen);
    let service =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(move |request: Request<String>| {
                let seen = Arc::clone(&seen_inner);
                async move {
                    *seen.lock().unwrap() = Some(Seen {
                        principal: request.extensions().get::<VerifiedPrincipal>().cloned(),
                        principal_header: request.headers().contains_key(PRINCIPAL_HEADER),
                        internal_header: request.headers().contains_key("x-baton-internal-token"),
                        ran_marker: request
                            .extensions()
                            .get::<RequestContext>()
                            .and_then(RequestContext::layer_ran)
                            .is_some(),
                    });
                    Ok::<_, Infallible>(Response::new("inner".to_owned()))
                }
            }));
    let response = service.oneshot(request).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    (response, seen)
}

fn with_token(token: &str) -> http::request::Builder {
    Request::builder()
        .uri("/orders")
        .header("authorization", format!("Bearer {token}"))
        .header("x-request-id", "req-42")
}

#[tokio::test]
async fn a_verified_token_reaches_the_inner_service_as_a_verified_principal() {
    let capture = Capture::default();
    let _guard = capture.install();
    let verifier = OneToken::new(GOOD);
    let layer = AuthenticateLayer::new(verifier.clone());

    let (response, seen) = call(layer, with_token(GOOD).body(String::new()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "inner");
    let seen = seen.expect("inner service ran");
    let principal = seen.principal.expect("principal inserted");
    assert_eq!(principal.id().to_string(), HUMAN);
    assert_eq!(principal.pattern(), Pattern::JwtPassthrough);
    assert!(seen.ran_marker);
    assert_eq!(verifier.calls(), 1);

    let (level, fields) = capture.single();
    assert_eq!(level, Level::INFO);
    assert_eq!(fields["outcome"], "accepted");
    assert_eq!(fields["reason"], "verified");
    assert_eq!(fields["request_id"], "req-42");
    assert_eq!(fields["principal_id"], HUMAN);
    assert_eq!(fields["kind"], "human");
    assert_eq!(fields["delegation"], AGENT);
    assert_eq!(fields["pattern"], "jwt_passthrough");
    assert!(
        fields.values().all(|value| !value.contains(GOOD)),
        "no token in logs"
    );
}

#[tokio::test]
async fn spoofed_headers_are_stripped_even_when_the_token_is_good() {
    let verifier = OneToken::new(GOOD);
    let request = with_token(GOOD)
        .header("x-principal-bin", "Zm9yZ2Vk")
        .header("x-principal-bin", "YWdhaW4")
        .header("x-baton-internal-token", "internal.jwt.sig")
        .body(String::new())
        .unwrap();
    let (response, seen) = call(AuthenticateLayer::new(verifier), request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen = seen.unwrap();
    assert!(!seen.principal_header);
    assert!(!seen.internal_header);
    assert!(seen.principal.is_some());
}

#[tokio::test]
async fn a_refused_token_never_reaches_the_inner_service() {
    let capture = Capture::default();
    let _guard = capture.install();
    let verifier = OneToken::new(GOOD);

    let (response, seen) = call(
        AuthenticateLayer::new(verifier.clone()),
        with_token("forged.token.sig").body(String::new()).unwrap(),
    )
    .await;
    assert!(seen.is_none());
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    assert!(response.body().is_empty());
    let rejection = response.extensions().get::<AuthRejection>().unwrap();
    assert_eq!(rejection.reason(), "bad_signature");
    assert_eq!(verifier.calls(), 1);

    let (level, fields) = capture.single();
    assert_eq!(level, Level::INFO);
    assert_eq!(fields["outcome"], "rejected");
    assert_eq!(fields["reason"], "bad_signature");
    assert_eq!(fields["request_id"], "req-42");
    assert_eq!(fields["principal_id"], "-");
    assert_eq!(fields["error"], "signature: does not verify");
}

#[tokio::test]
async fn optional_mode_still_verifies_presented_tokens() {
    let verifier = OneToken::new(GOOD);
    let layer = AuthenticateLayer::new(verifier.clone()).optional();

    let (response, seen) = call(layer.clone(), with_token(GOOD).body(String::new()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(seen.unwrap().principal.is_some());

    // A bad token is refused, not downgraded to anonymous.
    let (response, seen) = call(layer, with_token("bad").body(String::new()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(seen.is_none());
}

#[tokio::test]
async fn anonymous_requests_in_optional_mode_are_marked_and_audited() {
    let capture = Capture::default();
    let _guard = capture.install();
    let verifier = OneToken::new(GOOD);
    let request = Request::builder()
        .header("authorization", "Basic dXNlcjpwYXNz")
        .body(String::new())
        .unwrap();
    let (response, seen) = call(AuthenticateLayer::new(verifier.clone()).optional(), request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen = seen.unwrap();
    assert!(seen.principal.is_none());
    assert!(seen.ran_marker);
    assert_eq!(verifier.calls(), 0);

    let (_, fields) = capture.single();
    assert_eq!(fields["outcome"], "anonymous");
    assert_eq!(fields["reason"], "unsupported_scheme");
    // No x-request-id arrived: the event carries the id generated for the request (the
    // one the next hops receive), so the events of a chain share it.
    assert_eq!(fields["request_id"].len(), 36, "{}", fields["request_id"]);
    assert!(crate::trace::RequestId::parse(&fields["request_id"]).is_ok());
}

#[tokio::test]
async fn server_side_failures_answer_503_and_500_without_challenge() {
    type Case = (fn() -> AuthError, StatusCode, Level);
    let cases: [Case; 2] = [
        (
            || AuthError::KeySourceUnavailable {
                issuer: "https://idp.test".into(),
            },
            StatusCode::SERVICE_UNAVAILABLE,
            Level::WARN,
        ),
        (
            || AuthError::Internal { why: "test" },
            StatusCode::INTERNAL_SERVER_ERROR,
            Level::ERROR,
        ),
    ];
    for (make, status, level) in cases {
        let capture = Capture::default();
        let _guard = capture.install();
        let verifier: Arc<dyn Verifier> = Arc::new(FailsWith(make));
        let (response, seen) = call(
            AuthenticateLayer::new(verifier),
            with_token(GOOD).body(String::new()).unwrap(),
        )
        .await;
        assert!(seen.is_none());
        assert_eq!(response.status(), status);
        assert!(response.headers().get("www-authenticate").is_none());
        // Only the 503 (keys unavailable) tells the client when to come back.
        let retry_after = response.headers().get("retry-after");
        assert_eq!(
            retry_after.map(|v| v.to_str().unwrap()),
            (status == StatusCode::SERVICE_UNAVAILABLE).then_some("30")
        );
        assert!(response.body().is_empty());
        let rejection = response.extensions().get::<AuthRejection>().unwrap();
        assert_eq!(rejection.reason(), make().reason());
        let (event_level, fields) = capture.single();
        assert_eq!(event_level, level);
        assert_eq!(fields["pattern"], "internal_jwt");
    }
}

#[tokio::test]
async fn revoked_tokens_answer_invalid_token() {
    let verifier: Arc<dyn Verifier> = Arc::new(FailsWith(|| {
        AuthError::from(crate::error::Revoked::new(
            crate::error::RevokedField::SessionId,
        ))
    }));
    let (response, _) = call(
        AuthenticateLayer::new(verifier),
        with_token(GOOD).body(String::new()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let rejection = response.extensions().get::<AuthRejection>().unwrap();
    assert_eq!(rejection.reason(), "revoked_session_id");
    assert_eq!(rejection.challenge(), Challenge::InvalidToken);
}

#[tokio::test]
async fn a_chain_verifies_through_the_layer() {
    let declines: Arc<dyn Verifier> = Arc::new(FailsWith(|| AuthError::UnknownIssuer));
    let chain = crate::verifier::VerifierChain::new(declines).then(OneToken::new(GOOD));
    let (response, seen) = call(
        AuthenticateLayer::new(Arc::new(chain)),
        with_token(GOOD).body(String::new()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        seen.unwrap().principal.unwrap().pattern(),
        Pattern::JwtPassthrough
    );
}

#[tokio::test]
async fn a_verifier_that_waits_is_awaited_before_the_inner_service() {
    struct Slow(Arc<OneToken>);
    impl Verifier for Slow {
        fn verify(&self, credentials: &crate::Credentials<'_>) -> crate::VerifyFuture {
            let inner = Arc::clone(&self.0);
            let credentials = credentials.to_owned_credentials();
            crate::VerifyFuture::pending(async move {
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
                inner.verify(&credentials.credentials()).await
            })
        }
        fn pattern(&self) -> Pattern {
            Pattern::JwtPassthrough
        }
    }
    let (response, seen) = call(
        AuthenticateLayer::new(Arc::new(Slow(OneToken::new(GOOD)))),
        with_token(GOOD).body(String::new()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(seen.unwrap().principal.is_some());
}

#[test]
fn overlong_or_odd_request_ids_are_not_echoed() {
    let mut headers = http::HeaderMap::new();
    headers.insert("x-request-id", "a b".parse().unwrap());
    assert_eq!(super::audit::request_id(&headers), "-");
    headers.insert("x-request-id", "x".repeat(129).parse().unwrap());
    assert_eq!(super::audit::request_id(&headers), "-");
    headers.insert("x-request-id", "x".repeat(128).parse().unwrap());
    assert_eq!(super::audit::request_id(&headers).len(), 128);
}

#[tokio::test]
async fn a_verified_principal_from_an_outer_layer_never_passes_the_layer() {
    // An outer layer (or a middleware that kept one from another request) put a
    // VerifiedPrincipal into the extensions of a request without credentials.
    let smuggled = crate::verified::testing::verified(i64::MAX);
    let mut request = Request::builder()
        .uri("/orders")
        .body(String::new())
        .unwrap();
    request.extensions_mut().insert(smuggled.clone());
    let (response, seen) = call(
        AuthenticateLayer::new(OneToken::new(GOOD)).optional(),
        request,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen = seen.unwrap();
    assert!(seen.ran_marker);
    assert!(
        seen.principal.is_none(),
        "an anonymous request carried a smuggled Principal through the layer"
    );

    // With a token, the inner service sees this layer's verdict on it.
    let mut request = with_token(GOOD).body(String::new()).unwrap();
    request.extensions_mut().insert(smuggled);
    let (response, seen) = call(AuthenticateLayer::new(OneToken::new(GOOD)), request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(seen.unwrap().principal.is_some());
}

/// Accepts exactly the passport header `good-passport`; declines without one.
struct ReadsPassport;

impl Verifier for ReadsPassport {
    fn verify(&self, credentials: &crate::Credentials<'_>) -> crate::VerifyFuture {
        let verdict = match credentials.passport() {
            None => Err(AuthError::UnsupportedTokenFormat),
            Some("good-passport") => Ok(crate::verified::testing::verified(i64::MAX)),
            Some(_) => Err(AuthError::BadSignature),
        };
        crate::VerifyFuture::ready(verdict)
    }

    fn pattern(&self) -> Pattern {
        Pattern::Passport
    }
}

fn with_passport(passport: &str) -> Request<String> {
    Request::builder()
        .uri("/orders")
        .header(PRINCIPAL_HEADER, passport)
        .header("x-baton-internal-token", "internal")
        .body(String::new())
        .unwrap()
}

#[tokio::test]
async fn an_internal_service_reads_the_passport_through_its_verifiers_only() {
    let layer = AuthenticateLayer::internal(Arc::new(ReadsPassport));
    let (response, seen) = call(layer.clone(), with_passport("good-passport")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen = seen.expect("inner service ran");
    assert!(seen.principal.is_some());
    // Read, then removed: the handler (and what it forwards) never sees the raw headers.
    assert!(!seen.principal_header);
    assert!(!seen.internal_header);

    let (response, seen) = call(layer, with_passport("forged")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(seen.is_none());
}

#[tokio::test]
async fn an_edge_never_lets_a_passport_from_outside_reach_its_verifiers() {
    // The same verifier at an edge: the header is stripped first, so even a passport the
    // verifier would accept is no credential at all.
    let layer = AuthenticateLayer::new(Arc::new(ReadsPassport));
    let (response, seen) = call(layer.clone(), with_passport("good-passport")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert!(seen.is_none());

    let (response, seen) = call(layer.optional(), with_passport("good-passport")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen = seen.expect("anonymous");
    assert!(seen.principal.is_none());
    assert!(!seen.principal_header);
}

#[tokio::test]
async fn a_peer_alone_that_no_verifier_accepts_is_no_credentials() {
    let peer = crate::peer::PeerIdentity::new("spiffe://a.example/edge".parse().unwrap());
    let request = || {
        let mut request = Request::builder()
            .uri("/orders")
            .body(String::new())
            .unwrap();
        request.extensions_mut().insert(peer.clone());
        request
    };
    // Every verifier declines: "no credentials" (401 `Bearer`, or anonymous when
    // optional), not a bad token.
    let layer = AuthenticateLayer::new(Arc::new(ReadsPassport));
    let (response, _) = call(layer.clone(), request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (response, seen) = call(layer.optional(), request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(seen.unwrap().principal.is_none());

    // A verifier that refuses the peer decides: refused, optional or not.
    let layer = AuthenticateLayer::new(Arc::new(FailsWith(|| AuthError::BadSignature))).optional();
    let (response, seen) = call(layer, request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(seen.is_none());
}

#[tokio::test]
async fn the_audit_event_names_the_calling_service_and_how_it_is_known() {
    struct FromEdge;
    impl Verifier for FromEdge {
        fn verify(&self, _: &crate::Credentials<'_>) -> crate::VerifyFuture {
            let caller = crate::Caller::new(
                crate::CallerIdentity::Service("svc-edge".parse().unwrap()),
                Pattern::Passport,
            );
            crate::VerifyFuture::ready(Ok(
                crate::verified::testing::verified(i64::MAX).with_caller(caller)
            ))
        }
        fn pattern(&self) -> Pattern {
            Pattern::Passport
        }
    }
    let capture = Capture::default();
    let _guard = capture.install();
    let (response, seen) = call(
        AuthenticateLayer::internal(Arc::new(FromEdge)),
        with_passport("anything"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let caller = seen.unwrap().principal.unwrap().caller().cloned().unwrap();
    assert_eq!(caller.pattern(), Pattern::Passport);
    let (_, fields) = capture.single();
    assert_eq!(fields["caller"], "svc-edge (passport)");
    assert_eq!(fields["delegation"], AGENT);
}

#[tokio::test]
async fn the_audit_event_carries_the_trace_the_subject_and_the_acting_party() {
    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let capture = Capture::default();
    let _guard = capture.install();
    let request = with_token(GOOD)
        .header("traceparent", TRACEPARENT)
        .body(String::new())
        .unwrap();
    let (response, _) = call(AuthenticateLayer::new(OneToken::new(GOOD)), request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (_, fields) = capture.single();
    // The trace continued from the caller; the human on whose authority the request runs,
    // and the agent acting for them now (the last of the chain).
    assert_eq!(fields["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(fields["principal_id"], HUMAN);
    assert_eq!(fields["subject"], "alice");
    assert_eq!(fields["acting"], AGENT);
    assert_eq!(fields["delegation"], AGENT);
    assert_eq!(fields["caller"], "-");
}

#[tokio::test]
async fn a_refused_request_is_audited_with_its_ids_and_no_subject() {
    let capture = Capture::default();
    let _guard = capture.install();
    // No traceparent: the event names the trace started here, the one sent on.
    let request = with_token("forged.token.sig").body(String::new()).unwrap();
    let (response, _) = call(AuthenticateLayer::new(OneToken::new(GOOD)), request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (level, fields) = capture.single();
    assert_eq!(level, Level::INFO);
    assert_eq!(fields["request_id"], "req-42");
    let trace_id = &fields["trace_id"];
    assert_eq!(trace_id.len(), 32, "{trace_id}");
    assert!(
        trace_id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_ne!(trace_id.as_str(), "0".repeat(32));
    for field in ["principal_id", "kind", "subject", "acting", "caller"] {
        assert_eq!(fields[field], "-", "{field}");
    }
    assert_eq!(fields["outcome"], "rejected");
    assert_eq!(fields["reason"], "bad_signature");
    assert!(
        fields
            .values()
            .all(|value| !value.contains("forged.token.sig"))
    );
}
