use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::DecideFuture;
use super::layer::Shared;
use super::service::{Question, conclude};
use crate::answer::Answer;

pin_project! {
    /// Response future of [`PolicyService`](super::PolicyService).
    ///
    /// Refuses at once, calls the inner service (an outcome known at once), or waits for
    /// the policy and then calls or refuses. Only the waiting form holds a boxed future
    /// (the engine's).
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        Deciding {
            decision: DecideFuture,
            question: Question,
            request: Option<Request<ReqBody>>,
            // The clone of the inner service that `poll_ready` made ready.
            inner: S,
            shared: Arc<Shared>,
        },
        Answering {
            #[pin]
            answer: Answer<S::Future, S::Response>,
        },
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(super) fn deciding(
        decision: DecideFuture,
        question: Question,
        request: Request<ReqBody>,
        inner: S,
        shared: Arc<Shared>,
    ) -> Self {
        ResponseFuture {
            state: State::Deciding {
                decision,
                question,
                request: Some(request),
                inner,
                shared,
            },
        }
    }

    pub(super) fn calling(future: S::Future) -> Self {
        ResponseFuture {
            state: State::Answering {
                answer: Answer::calling(future),
            },
        }
    }

    pub(super) fn refused(response: S::Response) -> Self {
        ResponseFuture {
            state: State::Answering {
                answer: Answer::refused(response),
            },
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Answering { answer } => return answer.poll(cx),
                StateProj::Deciding {
                    decision,
                    question,
                    request,
                    inner,
                    shared,
                } => {
                    let outcome = match Pin::new(decision).poll(cx) {
                        Poll::Ready(outcome) => outcome,
                        Poll::Pending => return Poll::Pending,
                    };
                    let Some(request) = request.take() else {
                        // Polled after completion: a caller bug; never call twice.
                        return Poll::Pending;
                    };
                    let answer = match conclude(outcome, question, request.extensions(), shared) {
                        Ok(()) => Answer::calling(inner.call(request)),
                        Err(response) => Answer::refused(response),
                    };
                    State::Answering { answer }
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}
