use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::audit;
use super::bearer::bearer_token;
use super::layer::Shared;
use super::strip::strip_headers;
use crate::answer::Answer;
use crate::context::{BearerToken, RequestContext, Scoped};
use crate::error::AuthError;
use crate::metrics::Stopwatch;
use crate::verified::{Pattern, VerifiedPrincipal};
use crate::verifier::{Verdict, VerifyFuture};

pin_project! {
    /// Response future of [`AuthenticateService`](super::AuthenticateService).
    ///
    /// Either refuses at once (a malformed or missing header, or a verdict known at
    /// once), calls the inner service directly (a verdict known at once, or an anonymous
    /// request in optional mode), or waits for the verifier and then calls the inner
    /// service. Only the waiting form holds a boxed future.
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
        Verifying {
            verify: VerifyFuture,
            absence: Option<AuthError>,
            request: Option<Request<ReqBody>>,
            context: Option<RequestContext>,
            verification: Stopwatch,
            // The clone of the inner service that `poll_ready` made ready.
            inner: S,
            shared: Arc<Shared>,
        },
        Answering {
            #[pin]
            answer: Answer<Scoped<S::Future>, S::Response>,
        },
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(super) fn verifying(
        verify: VerifyFuture,
        absence: Option<AuthError>,
        request: Request<ReqBody>,
        context: RequestContext,
        verification: Stopwatch,
        inner: S,
        shared: Arc<Shared>,
    ) -> Self {
        ResponseFuture {
            state: State::Verifying {
                verify,
                absence,
                request: Some(request),
                context: Some(context),
                verification,
                inner,
                shared,
            },
        }
    }

    /// The verdict is known: insert the Principal and call `inner`, or refuse.
    pub(super) fn concluded<ResBody>(
        verdict: Verdict,
        absence: Option<AuthError>,
        request: Request<ReqBody>,
        context: RequestContext,
        verification: Stopwatch,
        inner: &mut S,
        shared: &Shared,
    ) -> Self
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        ResBody: Default,
    {
        ResponseFuture {
            state: conclude(
                verdict,
                absence,
                request,
                context,
                verification,
                inner,
                shared,
            ),
        }
    }

    pub(super) fn calling(future: Scoped<S::Future>) -> Self {
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
                StateProj::Verifying {
                    verify,
                    absence,
                    request,
                    context,
                    verification,
                    inner,
                    shared,
                } => {
                    let verdict = match Pin::new(verify).poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(verdict) => verdict,
                    };
                    let (Some(request), Some(context)) = (request.take(), context.take()) else {
                        // Only after completion, as above.
                        return Poll::Pending;
                    };
                    conclude(
                        verdict,
                        absence.take(),
                        request,
                        context,
                        *verification,
                        inner,
                        shared,
                    )
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}

/// After the verdict: the Principal and the request context go into the extensions and
/// `inner` is called scoped with the context, or the challenge answers. One audit event
/// either way.
///
/// `absence` is set when the request presented nothing but a transport peer: if every
/// verifier declined, that is "no credentials" (anonymous in optional mode), not a bad
/// token.
fn conclude<S, ReqBody, ResBody>(
    verdict: Verdict,
    absence: Option<AuthError>,
    mut request: Request<ReqBody>,
    context: RequestContext,
    verification: Stopwatch,
    inner: &mut S,
    shared: &Shared,
) -> State<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    let error = match (verdict, absence) {
        (Ok(verified), _) => {
            audit::accepted(audit::Ids::of(&context), &verified, verification);
            // What the verifiers read is now in the Principal: the handler, and anything
            // it forwards, never sees the raw internal headers.
            let context = keep_received_passport(context, &verified, &request, shared);
            strip_headers(request.headers_mut(), shared.read_then_removed());
            let context = keep_bearer_token(context, &verified, &request, shared)
                .verified_as(verified.clone());
            let extensions = request.extensions_mut();
            extensions.insert(verified);
            extensions.insert(context.clone());
            return State::Answering {
                answer: Answer::calling(context.call_scoped(inner, request)),
            };
        }
        (Err(error), Some(absence)) if error.is_decline() => {
            if shared.optional() {
                audit::anonymous(audit::Ids::of(&context), shared.pattern(), &absence);
                request.extensions_mut().insert(context.clone());
                return State::Answering {
                    answer: Answer::calling(context.call_scoped(inner, request)),
                };
            }
            absence
        }
        (Err(error), _) => error,
    };
    audit::rejected(
        audit::Ids::of(&context),
        shared.pattern(),
        &error,
        Some(verification),
    );
    State::Answering {
        answer: Answer::refused(shared.challenge().response(&error)),
    }
}

/// On an internal service, a Principal verified from a passport keeps the passport as
/// received (a reference-counted header value, no copy), for propagate routes that
/// forward it unchanged inside its trust domain.
fn keep_received_passport<ReqBody>(
    context: RequestContext,
    verified: &crate::verified::VerifiedPrincipal,
    request: &Request<ReqBody>,
    shared: &Shared,
) -> RequestContext {
    if verified.pattern() != crate::verified::Pattern::Passport
        || !shared
            .read_then_removed()
            .contains(&super::PRINCIPAL_HEADER)
    {
        return context;
    }
    match request.headers().get(super::PRINCIPAL_HEADER) {
        Some(value) => context.with_received_passport(value.clone()),
        None => context,
    }
}

/// With [`AuthenticateLayer::keep_bearer_token`](super::AuthenticateLayer::keep_bearer_token),
/// the bearer token goes into the context, but only when it is what the Principal was
/// verified from (JWT passthrough): a bearer token presented beside a passport or an
/// internal token that a verifier accepted is not forwarded as if it had been checked.
fn keep_bearer_token<ReqBody>(
    context: RequestContext,
    verified: &VerifiedPrincipal,
    request: &Request<ReqBody>,
    shared: &Shared,
) -> RequestContext {
    if !shared.keep_bearer_token() || verified.pattern() != Pattern::JwtPassthrough {
        return context;
    }
    match bearer_token(request.headers(), shared.max_token_bytes()) {
        Ok(token) => context.with_bearer_token(BearerToken::new(token)),
        Err(_) => context,
    }
}
