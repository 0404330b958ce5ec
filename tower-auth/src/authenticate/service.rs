use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, Request, Response};
use tower_service::Service;

use super::audit;
use super::future::ResponseFuture;
use super::layer::Shared;
use super::strip::strip_headers;
use crate::context::RequestContext;
use crate::credentials::Credentials;
use crate::error::AuthError;
use crate::metrics::Stopwatch;
use crate::trace::{RequestId, TraceContext};
use crate::verified::VerifiedPrincipal;
use crate::verifier::{Verdict, VerifyFuture};

/// Middleware that authenticates requests; made by
/// [`AuthenticateLayer`](super::AuthenticateLayer).
///
/// See the [module docs](super) for an example.
#[derive(Clone)]
#[must_use]
pub struct AuthenticateService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> AuthenticateService<S> {
    pub(super) fn new(inner: S, shared: Arc<Shared>) -> Self {
        AuthenticateService { inner, shared }
    }
}

/// What the synchronous part of the decision concluded.
pub(super) enum Step {
    /// The verifier's verdict is known.
    Concluded(Verdict, Option<AuthError>),
    /// The verifier has to wait.
    Pending(VerifyFuture, Option<AuthError>),
    /// Pass on without a Principal (optional mode, no credentials).
    Anonymous(AuthError),
    /// Refuse with this error.
    Refuse(AuthError),
}

/// The decision up to the verifier's answer, a plain function of the request's headers
/// and extensions (house rule 1). The `Option<AuthError>` beside a verdict is the
/// "no credentials" error to use if every verifier declines a request that presented
/// nothing but a transport peer.
pub(super) fn decide(
    request_parts: (&http::HeaderMap, &http::Extensions),
    shared: &Shared,
) -> Step {
    let (headers, extensions) = request_parts;
    let credentials = match Credentials::from_request(headers, extensions, shared.max_token_bytes())
    {
        Ok(credentials) => credentials,
        Err(error) => return Step::Refuse(error),
    };
    if credentials.is_empty() {
        let absence = credentials.absence();
        return if shared.optional() {
            Step::Anonymous(absence)
        } else {
            Step::Refuse(absence)
        };
    }
    let only_peer = credentials.bearer_token().is_none()
        && credentials.passport().is_none()
        && credentials.internal_token().is_none();
    let absence = only_peer.then(|| credentials.absence());
    match shared.verifier().verify(&credentials).into_ready() {
        Ok(verdict) => Step::Concluded(verdict, absence),
        Err(pending) => Step::Pending(pending, absence),
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthenticateService<S>
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

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // First, before anything reads a header: drop what outside callers must not set.
        strip_headers(request.headers_mut(), self.shared.strip());
        // And a verdict or context an outer layer put in the extensions: what the inner
        // service reads is this layer's verdict on this request's credentials, or nothing.
        let extensions = request.extensions_mut();
        extensions.remove::<VerifiedPrincipal>();
        extensions.remove::<RequestContext>();

        let context = match request_context(request.headers(), &self.shared) {
            Ok(context) => context,
            Err(error) => {
                let ids = audit::Ids::from_headers(request.headers());
                audit::rejected(ids, self.shared.pattern(), &error, None);
                return ResponseFuture::refused(self.shared.challenge().response(&error));
            }
        };

        // Ask the verifiers with the credentials borrowed from the request: a verdict that
        // is already known (a token-cache hit) costs no copy and no box.
        let verification = Stopwatch::start();
        match decide((request.headers(), request.extensions()), &self.shared) {
            // The service that poll_ready readied takes the request now.
            Step::Concluded(verdict, absence) => ResponseFuture::concluded(
                verdict,
                absence,
                request,
                context,
                verification,
                &mut self.inner,
                &self.shared,
            ),
            Step::Pending(verify, absence) => {
                // The service that poll_ready readied goes with the request; a fresh clone
                // stays for the next call (the usual tower pattern for calling after an
                // await). The verifier's future is the only box.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::verifying(
                    verify,
                    absence,
                    request,
                    context,
                    verification,
                    inner,
                    Arc::clone(&self.shared),
                )
            }
            Step::Anonymous(reason) => {
                audit::anonymous(audit::Ids::of(&context), self.shared.pattern(), &reason);
                request.extensions_mut().insert(context.clone());
                ResponseFuture::calling(context.call_scoped(&mut self.inner, request))
            }
            Step::Refuse(error) => {
                audit::rejected(
                    audit::Ids::of(&context),
                    self.shared.pattern(),
                    &error,
                    None,
                );
                ResponseFuture::refused(self.shared.challenge().response(&error))
            }
        }
    }
}

/// The request's context before verification: its request id and trace context, read
/// from the headers when valid and made here otherwise. Fails only if the system random
/// number generator does.
fn request_context(headers: &HeaderMap, shared: &Shared) -> Result<RequestContext, AuthError> {
    let unavailable = |_| AuthError::Internal {
        why: "the system random number generator failed",
    };
    let request_id = match RequestId::from_headers(headers) {
        Some(request_id) => request_id,
        None => RequestId::generate().map_err(unavailable)?,
    };
    let trace = TraceContext::from_headers(headers).map_err(unavailable)?;
    Ok(RequestContext::from_layer(
        request_id,
        trace,
        shared.ran_marker(),
    ))
}

impl<S: fmt::Debug> fmt::Debug for AuthenticateService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticateService")
            .field("inner", &self.inner)
            .field("config", &self.shared)
            .finish()
    }
}
