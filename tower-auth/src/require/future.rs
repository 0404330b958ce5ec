use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::answer::Answer;

pin_project! {
    /// The response future of [`RequireService`](super::RequireService): the inner
    /// service's, or the refusal made at once.
    pub struct ResponseFuture<F, B> {
        #[pin]
        answer: Answer<F, Response<B>>,
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(super) fn calling(future: F) -> Self {
        ResponseFuture {
            answer: Answer::calling(future),
        }
    }

    pub(super) fn refused(response: Response<B>) -> Self {
        ResponseFuture {
            answer: Answer::refused(response),
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().answer.poll(cx)
    }
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
