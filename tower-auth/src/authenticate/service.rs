use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::audit;
use super::bearer::bearer_token;
use super::future::ResponseFuture;
use super::layer::Shared;
use super::strip::strip_headers;
use crate::error::AuthError;
use crate::verified::VerifiedPrincipal;
use crate::verifier::VerifyFuture;

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
pub(super) enum Step<'a> {
    /// Verify this token.
    Verify(&'a str),
    /// Pass on without a Principal (optional mode, no bearer credentials).
    Anonymous(AuthError),
    /// Refuse with this error.
    Refuse(AuthError),
}

/// The decision up to verification, a plain function of the headers (house rule 1).
pub(super) fn decide<'a>(headers: &'a http::HeaderMap, shared: &Shared) -> Step<'a> {
    match bearer_token(headers, shared.max_token_bytes()) {
        Ok(token) => Step::Verify(token),
        Err(error) if shared.optional() && error.is_no_credentials() => Step::Anonymous(error),
        Err(error) => Step::Refuse(error),
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
        // And a verdict an outer layer put in the extensions: what the inner service
        // reads is this layer's verdict on this request's credentials, or nothing.
        request.extensions_mut().remove::<VerifiedPrincipal>();

        // Ask the verifier with the token borrowed from the request: a verdict that is
        // already known (a token-cache hit) costs no copy and no box.
        let owned_token = match decide(request.headers(), &self.shared) {
            Step::Verify(token) => match self.shared.verifier().verify(token).into_ready() {
                Ok(verdict) => Ok(verdict),
                // It has to wait, and its future borrows the request's header: drop it
                // unstarted and verify again with an owned copy, so the response future
                // is 'static. Only this slow path (a key refetch...) copies and boxes.
                Err(_unstarted) => Err(token.to_owned()),
            },
            Step::Anonymous(reason) => {
                audit::anonymous(request.headers(), self.shared.pattern(), &reason);
                request.extensions_mut().insert(self.shared.ran_marker());
                return ResponseFuture::calling(self.inner.call(request));
            }
            Step::Refuse(error) => {
                audit::rejected(request.headers(), self.shared.pattern(), &error);
                return ResponseFuture::refused(self.shared.challenge().response(&error));
            }
        };
        let token = match owned_token {
            // The service that poll_ready readied takes the request now.
            Ok(verdict) => {
                return ResponseFuture::concluded(verdict, request, &mut self.inner, &self.shared);
            }
            Err(token) => token,
        };

        let verifier = Arc::clone(self.shared.verifier());
        let verify = VerifyFuture::pending(async move { verifier.verify(&token).await });

        // The service that poll_ready readied goes with the request; a fresh clone stays
        // for the next call (the usual tower pattern for calling after an await).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::verifying(verify, request, inner, Arc::clone(&self.shared))
    }
}

impl<S: fmt::Debug> fmt::Debug for AuthenticateService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticateService")
            .field("inner", &self.inner)
            .field("config", &self.shared)
            .finish()
    }
}
