use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Extensions, Request, Response};
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::Shared;
use super::{Action, Decision, Outcome, Resource, TargetError};
use tracing::Level;

use crate::context::RequestContext;
use crate::error::AuthError;
use crate::require::audit::{authorization_event, unauthenticated};
use crate::verified::VerifiedPrincipal;

/// Middleware that asks a policy about every request; made by
/// [`PolicyLayer`](super::PolicyLayer).
#[derive(Clone)]
#[must_use]
pub struct PolicyService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> PolicyService<S> {
    pub(super) fn new(inner: S, shared: Arc<Shared>) -> Self {
        PolicyService { inner, shared }
    }
}

impl<S: fmt::Debug> fmt::Debug for PolicyService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// What the layer asks the policy about, kept for the audit event of a decision that
/// has to wait.
pub(super) struct Question {
    pub(super) principal: VerifiedPrincipal,
    pub(super) action: Action,
    pub(super) resource: Resource,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for PolicyService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let Some(principal) = request.extensions().get::<VerifiedPrincipal>().cloned() else {
            let error = AuthError::MissingToken;
            unauthenticated(request.extensions().get::<RequestContext>());
            return ResponseFuture::refused(self.shared.challenge.response(&error));
        };
        let (parts, body) = request.into_parts();
        let target = (self.shared.describe)(&parts);
        let request = Request::from_parts(parts, body);
        let (action, resource) = match target {
            Ok(target) => target,
            Err(error) => {
                return ResponseFuture::refused(refuse_untargeted(
                    &self.shared,
                    request.extensions(),
                    &principal,
                    &error,
                ));
            }
        };
        let question = Question {
            principal,
            action,
            resource,
        };
        let decision =
            self.shared
                .policy
                .decide(&question.principal, &question.action, &question.resource);
        match decision.into_ready() {
            Ok(outcome) => match conclude(outcome, &question, request.extensions(), &self.shared) {
                Ok(()) => ResponseFuture::calling(self.inner.call(request)),
                Err(response) => ResponseFuture::refused(response),
            },
            Err(pending) => {
                // The clone that `poll_ready` made ready goes with the future.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::deciding(
                    pending,
                    question,
                    request,
                    inner,
                    Arc::clone(&self.shared),
                )
            }
        }
    }
}

/// The decision, a plain function of the policy's outcome (house rule 1): `Ok` lets the
/// request on; anything else is the refusal. One audit event either way.
pub(super) fn conclude<B: Default>(
    outcome: Outcome,
    question: &Question,
    extensions: &Extensions,
    shared: &Shared,
) -> Result<(), Response<B>> {
    let Question {
        principal,
        action,
        resource,
    } = question;
    let context = extensions.get::<RequestContext>();
    let (reason, detail) = match &outcome {
        Ok(Decision::Allow) => {
            authorization_event!(
                Level::INFO,
                context,
                principal,
                "allowed",
                "policy_allowed",
                "policy allowed the request",
                action = action.as_str(),
                resource = %resource,
            );
            return Ok(());
        }
        Ok(Decision::Deny(denial)) => (denial.reason(), denial.to_string()),
        Err(error) => ("policy_error", error.to_string()),
    };
    match &outcome {
        // The engine failed: the operator's problem, louder than a plain denial.
        Err(error) => authorization_event!(
            Level::WARN,
            context,
            principal,
            "denied",
            reason,
            "policy engine failed: request denied (fail closed)",
            action = action.as_str(),
            resource = %resource,
            engine_error = error.reason(),
            error = %detail,
        ),
        Ok(_) => authorization_event!(
            Level::INFO,
            context,
            principal,
            "denied",
            reason,
            "policy denied the request",
            action = action.as_str(),
            resource = %resource,
            error = %detail,
        ),
    }
    Err(shared
        .challenge
        .response(&AuthError::PolicyDenied { reason }))
}

fn refuse_untargeted<B: Default>(
    shared: &Shared,
    extensions: &Extensions,
    principal: &VerifiedPrincipal,
    error: &TargetError,
) -> Response<B> {
    let reason = "policy_no_target";
    authorization_event!(
        Level::INFO,
        extensions.get::<RequestContext>(),
        principal,
        "denied",
        reason,
        "policy: the request has no action or resource",
        error = %error,
    );
    shared
        .challenge
        .response(&AuthError::PolicyDenied { reason })
}
