//! The request context the layer makes current (inside the crate, where the test verifier
//! may build a `VerifiedPrincipal`). Over a real server: tests/context_keep_alive.rs.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use tower::{Layer, Service, ServiceExt};

use super::AuthenticateLayer;
use crate::context::{self, RequestContext};
use crate::credentials::Credentials;
use crate::error::AuthError;
use crate::trace::{RequestId, TraceContext};
use crate::verified::testing::{HUMAN, OneToken, principal, verified};
use crate::verified::{Pattern, VerifiedPrincipal};
use crate::verifier::{Verifier, VerifyFuture};

const GOOD: &str = "good.token.sig";
const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// What the inner service saw: the context current during `call`, during its future, and
/// the one in the extensions.
#[derive(Clone, Debug, Default)]
struct Seen {
    in_call: Option<RequestContext>,
    in_future: Option<RequestContext>,
    in_extensions: Option<RequestContext>,
}

#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Option<Seen>>>,
}

impl Recorder {
    fn take(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .take()
            .expect("the inner service ran")
    }
}

impl Service<Request<()>> for Recorder {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<()>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<()>) -> Self::Future {
        let in_call = context::current();
        let in_extensions = request.extensions().get::<RequestContext>().cloned();
        let seen = Arc::clone(&self.seen);
        Box::pin(async move {
            tokio::task::yield_now().await;
            *seen.lock().unwrap() = Some(Seen {
                in_call,
                in_future: context::current(),
                in_extensions,
            });
            Ok(Response::new(()))
        })
    }
}

fn request_id(context: &Option<RequestContext>) -> Option<String> {
    context.as_ref().map(|ctx| ctx.request_id().to_string())
}

#[tokio::test]
async fn the_inner_service_runs_with_the_request_context_in_call_and_future() {
    let recorder = Recorder::default();
    let service = AuthenticateLayer::new(OneToken::new(GOOD)).layer(recorder.clone());
    let request = Request::builder()
        .header("authorization", format!("Bearer {GOOD}"))
        .header("x-request-id", "req-42")
        .header("traceparent", TRACEPARENT)
        .header("tracestate", "congo=t61rcWkgMzE")
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let seen = recorder.take();
    for context in [&seen.in_call, &seen.in_future, &seen.in_extensions] {
        let context = context.as_ref().expect("a context");
        assert_eq!(context.principal().unwrap().id().to_string(), HUMAN);
        assert_eq!(context.request_id().as_str(), "req-42");
        // Passed on untouched.
        assert_eq!(context.trace().traceparent().to_string(), TRACEPARENT);
        assert_eq!(
            context.trace().tracestate().unwrap().as_str(),
            "congo=t61rcWkgMzE"
        );
        // Not configured to keep the token.
        assert!(context.bearer_token().is_none());
    }
    // Nothing stays current once the request is served.
    assert!(context::current().is_none());
}

#[tokio::test]
async fn an_anonymous_request_gets_a_context_without_principal_and_fresh_ids() {
    let recorder = Recorder::default();
    let service = AuthenticateLayer::new(OneToken::new(GOOD))
        .optional()
        .layer(recorder.clone());
    let request = Request::builder()
        .header("x-request-id", "x".repeat(129))
        .header("traceparent", TRACEPARENT.to_uppercase())
        .header("tracestate", "congo=t61rcWkgMzE")
        .body(())
        .unwrap();
    service.oneshot(request).await.unwrap();

    let seen = recorder.take();
    let context = seen.in_future.expect("a context for an anonymous request");
    assert!(context.principal().is_none());
    // The invalid ones were replaced, and the tracestate of a refused traceparent dropped.
    assert_eq!(context.request_id().as_str().len(), 36);
    assert_ne!(
        context.trace().traceparent().to_string(),
        TRACEPARENT.to_lowercase()
    );
    assert!(context.trace().tracestate().is_none());
    assert_eq!(
        request_id(&seen.in_call),
        Some(context.request_id().to_string())
    );
    assert_eq!(
        request_id(&seen.in_extensions),
        Some(context.request_id().to_string())
    );
}

#[tokio::test]
async fn a_context_put_in_the_extensions_by_an_outer_layer_is_replaced() {
    let recorder = Recorder::default();
    let service = AuthenticateLayer::new(OneToken::new(GOOD))
        .optional()
        .layer(recorder.clone());
    // An outer layer (or a bug) leaves a context with somebody's Principal behind.
    let planted = RequestContext::new(
        Some(verified(i64::MAX)),
        RequestId::parse("planted").unwrap(),
        TraceContext::generate().unwrap(),
    );
    let mut request = Request::new(());
    request.extensions_mut().insert(planted);
    service.oneshot(request).await.unwrap();

    let seen = recorder.take();
    for context in [seen.in_call, seen.in_future, seen.in_extensions] {
        let context = context.expect("the layer's own context");
        assert!(context.principal().is_none());
        assert_ne!(context.request_id().as_str(), "planted");
    }
}

#[tokio::test]
async fn a_refused_request_runs_nothing_and_leaves_no_context() {
    let recorder = Recorder::default();
    let service = AuthenticateLayer::new(OneToken::new(GOOD)).layer(recorder.clone());
    let request = Request::builder()
        .header("authorization", "Bearer forged.token.sig")
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(recorder.seen.lock().unwrap().is_none());
    assert!(context::current().is_none());
}

#[tokio::test]
async fn the_bearer_token_is_kept_only_where_configured() {
    let recorder = Recorder::default();
    let with_token = || {
        Request::builder()
            .header("authorization", format!("Bearer {GOOD}"))
            .body(())
            .unwrap()
    };
    let service = AuthenticateLayer::new(OneToken::new(GOOD))
        .keep_bearer_token()
        .layer(recorder.clone());
    service.oneshot(with_token()).await.unwrap();
    let context = recorder.take().in_future.unwrap();
    assert_eq!(context.bearer_token().unwrap().expose(), GOOD);
    assert!(!format!("{context:?}").contains(GOOD));

    let service = AuthenticateLayer::new(OneToken::new(GOOD)).layer(recorder.clone());
    service.oneshot(with_token()).await.unwrap();
    assert!(recorder.take().in_future.unwrap().bearer_token().is_none());
}

/// Accepts `GOOD` only after waiting (the layer's pending path).
struct Waits;

impl Verifier for Waits {
    fn verify(&self, credentials: &Credentials<'_>) -> VerifyFuture {
        let outcome = match credentials.bearer_token() {
            Some(GOOD) => Ok(verified(i64::MAX)),
            Some(_) => Err(AuthError::BadSignature),
            None => Err(AuthError::UnsupportedTokenFormat),
        };
        VerifyFuture::pending(async move {
            tokio::task::yield_now().await;
            outcome
        })
    }

    fn pattern(&self) -> Pattern {
        Pattern::JwtPassthrough
    }
}

/// Accepts any request that carries a passport header, as pattern 4 (a stand-in: what is
/// tested is what the layer keeps, not passport checks).
struct AnyPassport;

impl Verifier for AnyPassport {
    fn verify(&self, credentials: &Credentials<'_>) -> VerifyFuture {
        VerifyFuture::ready(match credentials.passport() {
            Some(_) => Ok(VerifiedPrincipal::new(
                Arc::new(principal(i64::MAX)),
                Pattern::Passport,
            )),
            None => Err(AuthError::UnsupportedTokenFormat),
        })
    }

    fn pattern(&self) -> Pattern {
        Pattern::Passport
    }
}

#[tokio::test]
async fn a_bearer_token_the_principal_did_not_come_from_is_not_kept() {
    let recorder = Recorder::default();
    let service = AuthenticateLayer::internal(Arc::new(AnyPassport))
        .keep_bearer_token()
        .layer(recorder.clone());
    let request = Request::builder()
        .header("x-principal-bin", "CgA")
        .header("authorization", "Bearer unchecked.token.sig")
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let context = recorder.take().in_future.unwrap();
    assert_eq!(context.principal().unwrap().pattern(), Pattern::Passport);
    assert!(context.bearer_token().is_none());
}

#[tokio::test]
async fn a_verification_that_waits_makes_the_same_context_current() {
    let recorder = Recorder::default();
    let service = AuthenticateLayer::new(Arc::new(Waits))
        .keep_bearer_token()
        .layer(recorder.clone());
    let request = Request::builder()
        .header("authorization", format!("Bearer {GOOD}"))
        .header("x-request-id", "req-slow")
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let seen = recorder.take();
    for context in [seen.in_call, seen.in_future, seen.in_extensions] {
        let context = context.expect("a context");
        let principal: &VerifiedPrincipal = context.principal().unwrap();
        assert_eq!(principal.id().to_string(), HUMAN);
        assert_eq!(context.request_id().as_str(), "req-slow");
        assert_eq!(context.bearer_token().unwrap().expose(), GOOD);
    }
}
