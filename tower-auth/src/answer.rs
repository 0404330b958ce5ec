//! The last state of every layer's response future: the inner service's future, or the
//! refusal the layer made. The authenticate, require and policy layers end in it, so
//! "answer once, never resolve twice" is written once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

pin_project! {
    /// Calls on (`F`, the inner service's future) or answers with the refusal `R`.
    #[project = AnswerProj]
    pub(crate) enum Answer<F, R> {
        Calling {
            #[pin]
            future: F,
        },
        Refused {
            response: Option<R>,
        },
    }
}

impl<F, R> Answer<F, R> {
    pub(crate) fn calling(future: F) -> Self {
        Answer::Calling { future }
    }

    pub(crate) fn refused(response: R) -> Self {
        Answer::Refused {
            response: Some(response),
        }
    }
}

impl<F, R, E> Future for Answer<F, R>
where
    F: Future<Output = Result<R, E>>,
{
    type Output = Result<R, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AnswerProj::Calling { future } => future.poll(cx),
            AnswerProj::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled after completion: a caller bug; never resolve twice.
                None => Poll::Pending,
            },
        }
    }
}
