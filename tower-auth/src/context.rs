//! The current request's context: its verified Principal (if any), request id and trace
//! context, available to everything that runs while the request is served, without the
//! handler passing them by hand.
//!
//! A [`RequestContext`] rides with the future that serves the request, like a `tracing`
//! span with `.instrument(span)`: [`RequestContext::scope`] wraps a future so that, each
//! time it is polled, [`current`] answers this context. It lives in a tokio task-local,
//! set only while the scoped future is being polled; nothing is global and nothing
//! outlives the poll.
//!
//! - **Outside a scope there is no context and no Principal**: [`current`] and
//!   [`current_principal`] answer `None`, never a default.
//! - **Spawned tasks do not inherit it.** `tokio::spawn` starts a new task without a
//!   context; [`spawn`] (or [`carry`] for another executor) takes the current one along.
//! - **Each future sees its own**: two scoped futures polled by one task (`join!`,
//!   `select!`, a connection serving requests one after another) never see each other's.
//!
//! The authenticate layer puts one in the request extensions and scopes the inner
//! service's future with it.
//!
//! ```
//! use tower_auth::context::{self, RequestContext};
//! use tower_auth::trace::{RequestId, TraceContext};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let request = RequestContext::new(None, RequestId::parse("req-1")?, TraceContext::generate()?);
//!
//! let seen = request.scope(async {
//!     // Deep inside the handler, or in code it calls: no argument passed down.
//!     context::with_current(|ctx| ctx.request_id().to_string())
//! }).await;
//! assert_eq!(seen.as_deref(), Some("req-1"));
//!
//! // Outside the scope: nothing, and in particular no Principal.
//! assert!(context::current().is_none());
//! assert!(context::current_principal().is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::task::JoinHandle;
use tokio::task::futures::TaskLocalFuture;

use crate::authenticate::AuthenticateRan;
use crate::trace::{RequestId, TraceContext};
use crate::verified::VerifiedPrincipal;

tokio::task_local! {
    /// `Some` inside [`RequestContext::scope`]; `None` inside a [`carry`] of a future made
    /// where there was no context (so it cannot pick up one where it is polled).
    static CURRENT: Option<RequestContext>;
}

/// The original bearer token of a request, kept for JWT passthrough (pattern 1) when a
/// route needs to forward it.
///
/// Its `Debug` never prints the token, and it has no `Display`: reading it takes an
/// explicit [`expose`](Self::expose).
///
/// ```
/// use tower_auth::context::BearerToken;
///
/// let token = BearerToken::new("eyJhbGciOiJFUzI1NiJ9.e30.c2ln");
/// assert_eq!(token.expose(), "eyJhbGciOiJFUzI1NiJ9.e30.c2ln");
/// assert_eq!(format!("{token:?}"), "BearerToken(<redacted>)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(Arc<str>);

impl BearerToken {
    /// Wrap a bearer token (without the `Bearer ` prefix).
    pub fn new(token: impl Into<Arc<str>>) -> Self {
        BearerToken(token.into())
    }

    /// The token itself, to put into an outgoing `Authorization` header. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The token, shared (no copy).
    pub(crate) fn shared(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// What one request carries for everything that serves it: the [`VerifiedPrincipal`]
/// (absent for an anonymous request on an optional route), the request id, the trace
/// context and, only where configured for passthrough, the original bearer token.
///
/// Cheap to clone: what lives on the heap (the Principal, `tracestate`, the token) is
/// shared behind `Arc`s, and the rest (request id, `traceparent`) is a short inline copy.
/// It is not one `Arc` around everything on purpose: that would cost the authenticate
/// layer an allocation on every request, the token-cache hit path included.
///
/// Making one grants nothing: its Principal can only be a [`VerifiedPrincipal`], which
/// only this crate's verifiers make.
///
/// ```
/// use tower_auth::context::{BearerToken, RequestContext};
/// use tower_auth::trace::{RequestId, TraceContext};
///
/// let ctx = RequestContext::new(None, RequestId::generate()?, TraceContext::generate()?)
///     .with_bearer_token(BearerToken::new("secret-token"));
/// assert!(ctx.principal().is_none());
/// assert_eq!(ctx.bearer_token().map(BearerToken::expose), Some("secret-token"));
/// // Debug output names the token but never shows it.
/// assert!(!format!("{ctx:?}").contains("secret-token"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RequestContext {
    principal: Option<VerifiedPrincipal>,
    request_id: RequestId,
    trace: TraceContext,
    bearer_token: Option<BearerToken>,
    /// Set only by the authenticate layer (the type is private to this crate): tells the
    /// extractor that the layer ran, and with which challenge to answer. Riding here
    /// rather than as an extension of its own saves an allocation per request.
    layer_ran: Option<AuthenticateRan>,
    /// The passport the request was authenticated with, for forwarding unchanged.
    received_passport: Option<http::HeaderValue>,
}

impl RequestContext {
    /// A context for one request; `principal` is `None` for an anonymous request.
    pub fn new(
        principal: Option<VerifiedPrincipal>,
        request_id: RequestId,
        trace: TraceContext,
    ) -> Self {
        RequestContext {
            principal,
            request_id,
            trace,
            bearer_token: None,
            layer_ran: None,
            received_passport: None,
        }
    }

    /// The authenticate layer's context for a request it let through.
    pub(crate) fn from_layer(
        request_id: RequestId,
        trace: TraceContext,
        layer_ran: AuthenticateRan,
    ) -> Self {
        RequestContext {
            layer_ran: Some(layer_ran),
            ..RequestContext::new(None, request_id, trace)
        }
    }

    /// The same context with the Principal its request was verified as.
    pub(crate) fn verified_as(mut self, principal: VerifiedPrincipal) -> Self {
        self.principal = Some(principal);
        self
    }

    /// The authenticate layer's marker, if the layer made this context.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn layer_ran(&self) -> Option<&AuthenticateRan> {
        self.layer_ran.as_ref()
    }

    /// Call `service` with this as the current context, both during `call` itself (work
    /// a service does before returning its future) and while its future is polled.
    pub(crate) fn call_scoped<S, R>(self, service: &mut S, request: R) -> Scoped<S::Future>
    where
        S: tower_service::Service<R>,
    {
        let future = CURRENT.sync_scope(Some(self.clone()), || service.call(request));
        self.scope(future)
    }

    /// Keep the request's original bearer token, for routes that forward it (JWT
    /// passthrough). Only the authenticate layer configured to keep it should call this.
    pub fn with_bearer_token(mut self, token: BearerToken) -> Self {
        self.bearer_token = Some(token);
        self
    }

    /// The verified Principal; `None` for an anonymous request.
    pub fn principal(&self) -> Option<&VerifiedPrincipal> {
        self.principal.as_ref()
    }

    /// The request id (`x-request-id`, received or generated).
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The trace context (`traceparent`, `tracestate`, received or generated).
    pub fn trace(&self) -> &TraceContext {
        &self.trace
    }

    /// The original bearer token, when the route keeps it for passthrough.
    pub fn bearer_token(&self) -> Option<&BearerToken> {
        self.bearer_token.as_ref()
    }

    /// Keep the `x-principal-bin` value this request was authenticated with, for routes
    /// that forward it unchanged inside a trust domain. Only the authenticate layer
    /// should call this, after the passport verified.
    pub fn with_received_passport(mut self, header_value: http::HeaderValue) -> Self {
        self.received_passport = Some(header_value);
        self
    }

    /// The passport this request was authenticated with, as received (header form).
    pub fn received_passport(&self) -> Option<&http::HeaderValue> {
        self.received_passport.as_ref()
    }

    /// Whether the [`AuthenticateLayer`](crate::authenticate::AuthenticateLayer) made this
    /// context (for a request it let through, with or without a Principal), rather than
    /// code calling [`RequestContext::new`]. Extractors of other transports (tonic-auth's)
    /// use it to tell "anonymous on an optional route" from "no layer ran": only this
    /// crate's layer can set it.
    ///
    /// ```
    /// use tower_auth::context::RequestContext;
    /// use tower_auth::trace::{RequestId, TraceContext};
    ///
    /// let made_by_hand = RequestContext::new(None, RequestId::generate()?, TraceContext::generate()?);
    /// assert!(!made_by_hand.made_by_authenticate_layer());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn made_by_authenticate_layer(&self) -> bool {
        self.layer_ran.is_some()
    }

    /// Call `f` with this as the current context, for code that is polled but is not a
    /// future [`scope`](Self::scope) can wrap: a response body or a stream, polled after
    /// the service's future has completed (a streaming response). Each call clones the
    /// context once (a few reference counts).
    ///
    /// Like [`scope`](Self::scope), it must not be called inside [`with_current`]'s
    /// closure (tokio panics when a scope is entered while the context is borrowed).
    ///
    /// ```
    /// use tower_auth::context::{self, RequestContext};
    /// use tower_auth::trace::{RequestId, TraceContext};
    ///
    /// let ctx = RequestContext::new(None, RequestId::parse("req-body")?, TraceContext::generate()?);
    /// let seen = ctx.enter(|| context::with_current(|ctx| ctx.request_id().to_string()));
    /// assert_eq!(seen.as_deref(), Some("req-body"));
    /// // Outside: none.
    /// assert!(context::current().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(Some(self.clone()), f)
    }

    /// Run `future` with this as the current context: while it is polled, [`current`]
    /// answers this context, also in nested futures it awaits; outside it, as before.
    ///
    /// ```
    /// use tower_auth::context::{self, RequestContext};
    /// use tower_auth::trace::{RequestId, TraceContext};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let outer = RequestContext::new(None, RequestId::parse("outer")?, TraceContext::generate()?);
    /// let inner = RequestContext::new(None, RequestId::parse("inner")?, TraceContext::generate()?);
    /// let id = || context::with_current(|ctx| ctx.request_id().to_string());
    ///
    /// outer.scope(async {
    ///     assert_eq!(id().as_deref(), Some("outer"));
    ///     // A nested scope replaces it until it completes.
    ///     inner.scope(async { assert_eq!(id().as_deref(), Some("inner")) }).await;
    ///     assert_eq!(id().as_deref(), Some("outer"));
    /// }).await;
    /// assert_eq!(id(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn scope<F: Future>(self, future: F) -> Scoped<F> {
        Scoped::new(Some(self), future)
    }
}

impl fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("principal", &self.principal)
            .field("request_id", &self.request_id)
            .field("trace", &self.trace)
            .field("bearer_token", &self.bearer_token)
            .finish()
    }
}

pin_project! {
    /// A future run with a request context as the current one; made by
    /// [`RequestContext::scope`] and [`carry`].
    ///
    /// Polled after completion it stays pending rather than panic.
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        #[pin]
        future: TaskLocalFuture<Option<RequestContext>, F>,
        done: bool,
    }
}

impl<F: Future> Scoped<F> {
    fn new(context: Option<RequestContext>, future: F) -> Self {
        Scoped {
            future: CURRENT.scope(context, future),
            done: false,
        }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if *this.done {
            // Polled after completion: a caller bug; never resolve twice (tokio's
            // task-local future would panic here).
            return Poll::Pending;
        }
        let output = this.future.poll(cx);
        if output.is_ready() {
            *this.done = true;
        }
        output
    }
}

impl<F> fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoped")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// The current request context, cloned (see [`RequestContext`] for the cost; to read
/// a field, [`with_current`] does not clone); `None` outside a scope.
///
/// ```
/// use tower_auth::context::{self, RequestContext};
/// use tower_auth::trace::{RequestId, TraceContext};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert!(context::current().is_none());
/// let ctx = RequestContext::new(None, RequestId::parse("req-9")?, TraceContext::generate()?);
/// let inside = ctx.scope(async { context::current() }).await;
/// assert_eq!(inside.map(|ctx| ctx.request_id().to_string()).as_deref(), Some("req-9"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn current() -> Option<RequestContext> {
    CURRENT.try_with(Clone::clone).ok().flatten()
}

/// The current request's verified Principal; `None` outside a scope and for an anonymous
/// request. Never a default Principal.
///
/// ```
/// use tower_auth::context::{self, RequestContext};
/// use tower_auth::trace::{RequestId, TraceContext};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // An anonymous request on an optional route has a context but no Principal.
/// let anonymous = RequestContext::new(None, RequestId::generate()?, TraceContext::generate()?);
/// assert!(anonymous.scope(async { context::current_principal() }).await.is_none());
/// assert!(context::current_principal().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn current_principal() -> Option<VerifiedPrincipal> {
    CURRENT
        .try_with(|current| current.as_ref().and_then(|ctx| ctx.principal().cloned()))
        .ok()
        .flatten()
}

/// Call `f` with the current request context, without cloning it; `None` (and `f` not
/// called) outside a scope.
///
/// `f` must not enter another scope: not poll a [`Scoped`] future (by blocking on one,
/// say), nor call a service behind the authenticate layer. The context is borrowed while
/// `f` runs, and tokio panics if a scope is entered then. Read what you need and return.
///
/// ```
/// use tower_auth::context::{self, RequestContext};
/// use tower_auth::trace::{RequestId, TraceContext};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let ctx = RequestContext::new(None, RequestId::parse("req-3")?, TraceContext::generate()?);
/// let length = ctx.scope(async { context::with_current(|ctx| ctx.request_id().as_str().len()) });
/// assert_eq!(length.await, Some(5));
/// assert_eq!(context::with_current(|ctx| ctx.request_id().as_str().len()), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn with_current<R>(f: impl FnOnce(&RequestContext) -> R) -> Option<R> {
    CURRENT
        .try_with(|current| current.as_ref().map(f))
        .ok()
        .flatten()
}

/// `future` scoped with the context current here, for running elsewhere (another task,
/// another executor). Where there is none, the future runs with none: it does not pick
/// up the context of wherever it is later polled.
///
/// ```
/// use tower_auth::context::{self, RequestContext};
/// use tower_auth::trace::{RequestId, TraceContext};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let ctx = RequestContext::new(None, RequestId::parse("req-5")?, TraceContext::generate()?);
/// let carried = ctx.scope(async {
///     context::carry(async { context::with_current(|ctx| ctx.request_id().to_string()) })
/// }).await;
/// // Polled outside the scope, it still sees the request it was made for.
/// assert_eq!(carried.await.as_deref(), Some("req-5"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn carry<F: Future>(future: F) -> Scoped<F> {
    Scoped::new(current(), future)
}

/// `tokio::spawn` of `future` carrying the current request context ([`carry`]): the
/// spawned task sees the Principal of the request that spawned it. A plain
/// `tokio::spawn` starts with no context.
///
/// # Panics
///
/// Like `tokio::spawn`, when called outside a Tokio runtime.
///
/// ```
/// use tower_auth::context::{self, RequestContext};
/// use tower_auth::trace::{RequestId, TraceContext};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let ctx = RequestContext::new(None, RequestId::parse("req-7")?, TraceContext::generate()?);
/// let (carried, plain) = ctx.scope(async {
///     let carried = context::spawn(async { context::current().is_some() });
///     let plain = tokio::spawn(async { context::current().is_some() });
///     (carried.await, plain.await)
/// }).await;
/// assert!(carried?);
/// assert!(!plain?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(carry(future))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::Barrier;

    use super::*;
    use crate::verified::testing::{HUMAN, verified};

    fn context(request_id: &str) -> RequestContext {
        RequestContext::new(
            Some(verified(i64::MAX)),
            RequestId::parse(request_id).unwrap(),
            TraceContext::generate().unwrap(),
        )
    }

    fn anonymous(request_id: &str) -> RequestContext {
        RequestContext::new(
            None,
            RequestId::parse(request_id).unwrap(),
            TraceContext::generate().unwrap(),
        )
    }

    fn current_request_id() -> Option<String> {
        with_current(|ctx| ctx.request_id().to_string())
    }

    #[tokio::test]
    async fn inside_a_scope_the_context_and_principal_are_visible_and_outside_none() {
        assert!(current().is_none());
        assert!(current_principal().is_none());
        let ctx = context("req-1");
        let (request_id, principal) = ctx
            .scope(async {
                // Across an await point too.
                tokio::task::yield_now().await;
                (current_request_id(), current_principal())
            })
            .await;
        assert_eq!(request_id.as_deref(), Some("req-1"));
        assert_eq!(principal.unwrap().id().to_string(), HUMAN);
        assert!(current().is_none());
        assert!(current_principal().is_none());
    }

    #[tokio::test]
    async fn an_anonymous_context_has_no_principal() {
        let (has_context, principal) = anonymous("anon")
            .scope(async { (current().is_some(), current_principal()) })
            .await;
        assert!(has_context);
        assert!(principal.is_none());
    }

    #[tokio::test]
    async fn a_pending_scope_leaves_nothing_behind_on_the_task() {
        let barrier = Arc::new(Barrier::new(2));
        let waiting = Arc::clone(&barrier);
        let mut scoped = Box::pin(context("req-pending").scope(async move {
            waiting.wait().await;
            current_request_id()
        }));
        // Polled once: it waits at the barrier, inside its scope.
        assert!(futures_poll_once(scoped.as_mut()).await.is_pending());
        // Between its polls, this task has no context.
        assert!(current().is_none());
        assert!(current_principal().is_none());
        barrier.wait().await;
        assert_eq!(scoped.await.as_deref(), Some("req-pending"));
    }

    /// Poll a future exactly once.
    async fn futures_poll_once<F: Future + Unpin>(mut future: F) -> Poll<F::Output> {
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut future).poll(cx))).await
    }

    #[tokio::test]
    async fn nested_scopes_see_the_innermost_and_restore_the_outer() {
        let seen = context("outer")
            .scope(async {
                let before = current_request_id();
                let inner = anonymous("inner")
                    .scope(async { (current_request_id(), current_principal().is_none()) })
                    .await;
                let after = current_request_id();
                (before, inner, after, current_principal().is_some())
            })
            .await;
        assert_eq!(seen.0.as_deref(), Some("outer"));
        // The inner, anonymous scope hides the outer Principal.
        assert_eq!(seen.1, (Some("inner".to_owned()), true));
        assert_eq!(seen.2.as_deref(), Some("outer"));
        assert!(seen.3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spawn_carries_the_context_and_plain_tokio_spawn_does_not() {
        let (carried, plain) = context("req-spawn")
            .scope(async {
                let carried = spawn(async {
                    tokio::task::yield_now().await;
                    (
                        current_request_id(),
                        current_principal().map(|p| p.id().to_string()),
                    )
                });
                let plain = tokio::spawn(async { (current().is_some(), current_principal()) });
                (carried.await.unwrap(), plain.await.unwrap())
            })
            .await;
        assert_eq!(carried.0.as_deref(), Some("req-spawn"));
        assert_eq!(carried.1.as_deref(), Some(HUMAN));
        assert!(!plain.0);
        assert!(plain.1.is_none());
    }

    // Returning a carried future unawaited from a scope is the point of this test.
    #[allow(clippy::async_yields_async)]
    #[tokio::test]
    async fn a_future_carried_from_outside_any_scope_does_not_pick_one_up() {
        let carried = carry(async { (current().is_some(), current_principal()) });
        let seen = context("req-other").scope(carried).await;
        assert!(!seen.0);
        assert!(seen.1.is_none());
        // And one carried from inside keeps its own even when polled in another scope.
        let carried = context("req-first")
            .scope(async { carry(async { current_request_id() }) })
            .await;
        let seen = anonymous("req-second").scope(carried).await;
        assert_eq!(seen.as_deref(), Some("req-first"));
    }

    #[tokio::test]
    async fn two_scopes_interleaved_on_one_task_each_see_their_own() {
        // The barrier makes both wait for each other, so their polls interleave.
        let barrier = Barrier::new(2);
        let run = |name: &'static str, ctx: RequestContext| {
            let barrier = &barrier;
            ctx.scope(async move {
                let mut seen = vec![current_request_id()];
                for _ in 0..3 {
                    barrier.wait().await;
                    tokio::task::yield_now().await;
                    seen.push(current_request_id());
                }
                (name, seen, current_principal().is_some())
            })
        };
        let (first, second) = tokio::join!(run("a", context("a")), run("b", anonymous("b")));
        for (name, seen, _) in [&first, &second] {
            assert!(
                seen.iter().all(|id| id.as_deref() == Some(*name)),
                "{seen:?}"
            );
        }
        assert!(first.2);
        assert!(!second.2);
        assert!(current().is_none());
    }

    #[tokio::test]
    async fn with_current_does_not_clone_the_context() {
        let ctx = context("req-borrow");
        let probe = Arc::clone(ctx.principal().unwrap().principal_arc());
        let counts = ctx
            .scope(async move {
                let before = Arc::strong_count(&probe);
                let during = with_current(|_| Arc::strong_count(&probe));
                let cloned = current().map(|_| Arc::strong_count(&probe));
                (before, during, cloned)
            })
            .await;
        assert_eq!(counts.1, Some(counts.0));
        // Where `current` clones, the count does go up: the probe can see a clone.
        assert_eq!(counts.2, Some(counts.0 + 1));
    }

    #[tokio::test]
    async fn a_scoped_future_polled_after_completion_stays_pending() {
        let mut scoped = Box::pin(anonymous("req-done").scope(async { 1 }));
        assert_eq!(futures_poll_once(scoped.as_mut()).await, Poll::Ready(1));
        assert!(futures_poll_once(scoped.as_mut()).await.is_pending());
    }

    #[test]
    fn bearer_tokens_never_show_in_debug_output() {
        let ctx = context("req-token").with_bearer_token(BearerToken::new("eyJ.secret.sig"));
        let debug = format!("{ctx:?}");
        assert!(!debug.contains("eyJ.secret.sig"), "{debug}");
        assert!(debug.contains("BearerToken(<redacted>)"));
        assert_eq!(ctx.bearer_token().unwrap().expose(), "eyJ.secret.sig");
        // A copy made before keeping the token does not get it.
        let before = context("req-token");
        let shared = before.clone();
        let kept = before.with_bearer_token(BearerToken::new("t"));
        assert!(shared.bearer_token().is_none());
        assert!(kept.bearer_token().is_some());
    }
}
