use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_auth::context::RequestContext;
use tower_service::Service;

pin_project! {
    /// A response body polled with its request's context current, so that a streaming
    /// response (the stream a server-streaming or bidirectional handler returns, and the
    /// request stream it reads as it goes) sees the same
    /// [`current_principal`](tower_auth::context::current_principal) as the handler.
    ///
    /// Made by [`ScopeResponseBody`]; a refusal's empty body has no context.
    pub struct ScopedBody<B> {
        #[pin]
        body: B,
        context: Option<RequestContext>,
    }
}

impl<B: Default> Default for ScopedBody<B> {
    fn default() -> Self {
        ScopedBody {
            body: B::default(),
            context: None,
        }
    }
}

impl<B: Body> Body for ScopedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        match this.context {
            Some(context) => context.enter(|| this.body.poll_frame(cx)),
            None => this.body.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl<B> fmt::Debug for ScopedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedBody")
            .field("context", &self.context.is_some())
            .finish_non_exhaustive()
    }
}

/// The service between tower-auth's authenticate service and the gRPC routes: it takes
/// the [`RequestContext`] the authenticate layer left in the request extensions and
/// wraps the response body in a [`ScopedBody`] with it.
///
/// A part of [`GrpcAuthenticateService`](super::GrpcAuthenticateService); you never make
/// one yourself.
#[derive(Clone, Debug)]
pub struct ScopeResponseBody<S> {
    inner: S,
}

impl<S> ScopeResponseBody<S> {
    pub(super) fn new(inner: S) -> Self {
        ScopeResponseBody { inner }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ScopeResponseBody<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ScopedBody<ResBody>>;
    type Error = S::Error;
    type Future = ScopedBodyFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The authenticate layer removed any context that came with the request and put
        // its own: this is the one for this request (none on a path that refused).
        let context = request
            .extensions()
            .get::<RequestContext>()
            .filter(|context| context.made_by_authenticate_layer())
            .cloned();
        ScopedBodyFuture {
            future: self.inner.call(request),
            context,
        }
    }
}

pin_project! {
    /// Response future of [`ScopeResponseBody`]: the inner service's response, its body
    /// wrapped in a [`ScopedBody`].
    pub struct ScopedBodyFuture<F> {
        #[pin]
        future: F,
        context: Option<RequestContext>,
    }
}

impl<F, ResBody, E> std::future::Future for ScopedBodyFuture<F>
where
    F: std::future::Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ScopedBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.future.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(response) => response?,
        };
        let context = this.context.take();
        Poll::Ready(Ok(response.map(|body| ScopedBody { body, context })))
    }
}

impl<F> fmt::Debug for ScopedBodyFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedBodyFuture").finish_non_exhaustive()
    }
}
