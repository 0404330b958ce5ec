use std::task::{Context, Poll};

use http::{Request, Response};
use tower_auth::authenticate::AuthenticateService;
use tower_service::Service;

use super::body::{ScopeResponseBody, ScopedBody};
use super::future::ResponseFuture;

/// The service [`GrpcAuthenticateLayer`](super::GrpcAuthenticateLayer) makes: tower-auth's
/// [`AuthenticateService`] in front of the gRPC routes, with its refusals turned into
/// trailers-only gRPC responses and the response body polled with the request's context
/// current.
///
/// See the [module docs](super) for an example.
#[derive(Clone, Debug)]
#[must_use]
pub struct GrpcAuthenticateService<S> {
    inner: AuthenticateService<ScopeResponseBody<S>>,
}

impl<S> GrpcAuthenticateService<S> {
    pub(super) fn new(inner: AuthenticateService<ScopeResponseBody<S>>) -> Self {
        GrpcAuthenticateService { inner }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcAuthenticateService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ScopedBody<ResBody>>;
    type Error = S::Error;
    type Future =
        ResponseFuture<tower_auth::authenticate::ResponseFuture<ScopeResponseBody<S>, ReqBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        ResponseFuture::new(self.inner.call(request))
    }
}
