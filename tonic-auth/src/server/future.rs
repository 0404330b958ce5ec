use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;
use tower_auth::error::AuthRejection;

use crate::status::grpc_status;

pin_project! {
    /// Response future of [`GrpcAuthenticateService`](super::GrpcAuthenticateService):
    /// the authenticate service's response, with a refusal (the response carrying an
    /// [`AuthRejection`]) turned into a trailers-only gRPC response.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F) -> Self {
        ResponseFuture { inner }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Default,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = match self.project().inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(response) => response?,
        };
        Poll::Ready(Ok(match response.extensions().get::<AuthRejection>() {
            Some(rejection) => grpc_refusal(*rejection),
            None => response,
        }))
    }
}

/// The trailers-only answer to a refusal: HTTP 200, `content-type: application/grpc`,
/// `grpc-status` and a short `grpc-message` in the headers, an empty body; the
/// [`AuthRejection`] stays in the extensions for outer layers and tests.
pub(super) fn grpc_refusal<B: Default>(rejection: AuthRejection) -> Response<B> {
    let mut response = grpc_status(rejection.challenge()).into_http::<B>();
    response.extensions_mut().insert(rejection);
    response
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
