use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::WWW_AUTHENTICATE;
use http::{Extensions, Request, Response, StatusCode};
use tower_service::Service;

use super::audit;
use super::future::ResponseFuture;
use super::layer::Shared;
use super::requirement::Denial;
use crate::context::RequestContext;
use crate::error::{AuthError, AuthRejection, Challenge};
use crate::peer::{PeerIdentity, SpiffeId};
use crate::verified::{CallerIdentity, VerifiedPrincipal};

/// The service of a [`RequireLayer`](super::RequireLayer).
#[derive(Clone)]
#[must_use]
pub struct RequireService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> RequireService<S> {
    pub(super) fn new(inner: S, shared: Arc<Shared>) -> Self {
        RequireService { inner, shared }
    }
}

/// The calling workload: the mTLS peer the transport vouched for, else the workload a
/// verifier named as the caller.
pub(crate) fn calling_workload<'a>(
    extensions: &'a Extensions,
    verified: &'a VerifiedPrincipal,
) -> Option<&'a SpiffeId> {
    extensions
        .get::<PeerIdentity>()
        .map(PeerIdentity::spiffe_id)
        .or_else(|| match verified.caller().map(|caller| caller.identity()) {
            Some(CallerIdentity::Workload(id)) => Some(id),
            _ => None,
        })
}

/// The decision for one request: `Ok` to call the inner service, or the refusal.
enum Verdict<'a> {
    Allowed,
    Unauthenticated,
    Denied {
        denial: Denial,
        challenge: &'a http::HeaderValue,
    },
}

fn decide<'a>(shared: &'a Shared, path: &str, extensions: &Extensions) -> Verdict<'a> {
    let context = extensions.get::<RequestContext>();
    let Some(verified) = extensions.get::<VerifiedPrincipal>() else {
        audit::unauthenticated(context);
        return Verdict::Unauthenticated;
    };
    let workload = calling_workload(extensions, verified);
    let (outcome, challenge) = match shared.routes.find_index(path) {
        Some(index) => (
            shared.routes.requirements()[index].check(verified.principal(), workload),
            &shared.forbidden[index],
        ),
        None => (Err(Denial::NoRequirement), &shared.no_requirement),
    };
    audit::decided(context, verified, workload, outcome);
    match outcome {
        Ok(()) => Verdict::Allowed,
        Err(denial) => Verdict::Denied { denial, challenge },
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        match decide(&self.shared, request.uri().path(), request.extensions()) {
            Verdict::Allowed => ResponseFuture::calling(self.inner.call(request)),
            Verdict::Unauthenticated => {
                ResponseFuture::refused(self.shared.challenge.response(&AuthError::MissingToken))
            }
            Verdict::Denied { denial, challenge } => {
                let mut response = Response::new(ResBody::default());
                *response.status_mut() = StatusCode::FORBIDDEN;
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, challenge.clone());
                let extensions = response.extensions_mut();
                extensions.insert(AuthRejection::new(
                    denial.reason(),
                    Challenge::InsufficientScope,
                ));
                extensions.insert(denial);
                ResponseFuture::refused(response)
            }
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for RequireService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireService")
            .field("inner", &self.inner)
            .field("config", &self.shared)
            .finish()
    }
}
