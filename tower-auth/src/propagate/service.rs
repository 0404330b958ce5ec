use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use pin_project_lite::pin_project;
use principal_proto::{Passport, PassportError};
use tower_service::Service;

use super::{
    Attach, IDENTITY_HEADERS, MintedHeader, Origin, PROPAGATE_TARGET, PassportSigning,
    PropagateError, Route, Shared, route_for,
};
use crate::authenticate::{INTERNAL_TOKEN_HEADER, PRINCIPAL_HEADER};
use crate::context::{self, RequestContext};
use crate::exchange::{ExchangeError, ExchangeRequest, ExchangedToken, TokenType};
use crate::mint::{MintError, MintedToken};
use crate::trace::{RequestId, TraceContext};

/// The error type of [`PropagateService`]: the inner client's error or a
/// [`PropagateError`], boxed (the tower convention for layers with errors of their own).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A route's identity that is not ready yet (a mint on a cold cache, a token exchange):
/// the header to set, or why there is none.
type AttachFuture =
    Pin<Box<dyn Future<Output = Result<(HeaderName, HeaderValue), Refusal>> + Send>>;

/// Why a route that waited attaches nothing (the destination is named only then).
pub(super) enum Refusal {
    Mint(MintError),
    Exchange(ExchangeError),
    InvalidHeader,
}

impl Refusal {
    fn into_error(self, destination: String) -> PropagateError {
        match self {
            Refusal::Mint(source) => PropagateError::Mint {
                destination,
                source,
            },
            Refusal::Exchange(source) => PropagateError::Exchange {
                destination,
                source,
            },
            Refusal::InvalidHeader => PropagateError::InvalidHeader { destination },
        }
    }
}

/// Whether the caller can wait for a route's identity (the layer) or not (a synchronous
/// hook, [`PropagateLayer::attach_now`](super::PropagateLayer::attach_now)).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Caller {
    MayWait,
    Now,
}

/// The client middleware made by [`PropagateLayer`](super::PropagateLayer).
#[derive(Clone)]
pub struct PropagateService<S> {
    inner: S,
    shared: Arc<Shared>,
    /// Set when the layer is bound to one destination: every request is given it.
    origin: Option<Origin>,
}

impl<S> PropagateService<S> {
    pub(super) fn new(inner: S, shared: Arc<Shared>, origin: Option<Origin>) -> Self {
        PropagateService {
            inner,
            shared,
            origin,
        }
    }
}

/// What the synchronous part concluded for one request.
pub(super) enum Plan {
    /// Headers are set: call.
    Call,
    /// A token must be minted or exchanged first.
    Wait(AttachFuture),
    /// Refuse the call.
    Refuse(PropagateError),
}

impl<S, B> Service<Request<B>> for PropagateService<S>
where
    S: Service<Request<B>> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        let plan = match &self.origin {
            Some(origin) => match origin.apply(&parts.uri) {
                Some(uri) => {
                    parts.uri = uri;
                    prepare(&self.shared, &mut parts, Caller::MayWait)
                }
                // Never routed by a URI the client will not use: refused, fail closed.
                None => Plan::Refuse(PropagateError::InvalidUri {
                    destination: origin.authority().to_owned(),
                }),
            },
            None => prepare(&self.shared, &mut parts, Caller::MayWait),
        };
        let request = Request::from_parts(parts, body);
        match plan {
            Plan::Call => ResponseFuture::calling(self.inner.call(request)),
            Plan::Refuse(error) => ResponseFuture::failed(error),
            Plan::Wait(attach) => {
                // The service that poll_ready readied goes with the request.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::waiting(attach, request, inner)
            }
        }
    }
}

/// Everything up to the call: strip, route, trace headers, identity.
pub(super) fn prepare(shared: &Shared, parts: &mut http::request::Parts, caller: Caller) -> Plan {
    let headers = &mut parts.headers;
    for name in &IDENTITY_HEADERS {
        headers.remove(name);
    }
    let route = route_for(shared, &parts.uri);
    let destination = || {
        parts
            .uri
            .authority()
            .map_or_else(|| "-".to_owned(), |authority| authority.as_str().to_owned())
    };
    let in_request = context::with_current(|ctx| {
        ctx.request_id().inject(headers);
        ctx.trace().inject(headers);
        match route {
            Some(route) => attach(shared, route, ctx, headers, destination, caller),
            None => Plan::Call,
        }
    });
    match in_request {
        Some(plan) => plan,
        None => {
            create_trace_headers(headers);
            match route {
                Some(route) => without_principal(route, destination),
                None => Plan::Call,
            }
        }
    }
}

/// Outside a request: keep valid trace headers the caller set, create what is missing.
fn create_trace_headers(headers: &mut HeaderMap) {
    if RequestId::from_headers(headers).is_none() {
        match RequestId::generate() {
            Ok(id) => id.inject(headers),
            Err(error) => {
                headers.remove(crate::credentials::REQUEST_ID_HEADER);
                tracing::debug!(target: PROPAGATE_TARGET, reason = error.reason(), "no request id");
            }
        }
    }
    match TraceContext::from_headers(headers) {
        Ok(trace) => trace.inject(headers),
        Err(error) => {
            tracing::debug!(target: PROPAGATE_TARGET, reason = error.reason(), "no trace context");
        }
    }
}

/// A routed destination and no current Principal: nothing, or a refusal.
fn without_principal(route: &Route, destination: impl FnOnce() -> String) -> Plan {
    if matches!(route.attach, Attach::Nothing) {
        return Plan::Call;
    }
    let destination = destination();
    if route.require_principal {
        return Plan::Refuse(PropagateError::NoPrincipal { destination });
    }
    tracing::debug!(
        target: PROPAGATE_TARGET,
        destination,
        route = route.kind(),
        "no current Principal: the call carries no identity"
    );
    Plan::Call
}

/// Attach the route's identity for the current request.
fn attach(
    shared: &Shared,
    route: &Route,
    ctx: &RequestContext,
    headers: &mut HeaderMap,
    destination: impl FnOnce() -> String,
    caller: Caller,
) -> Plan {
    let Some(verified) = ctx.principal() else {
        return without_principal(route, destination);
    };
    if caller == Caller::Now && route.may_wait() {
        // Refused whether or not a cache could answer now: one rule for such routes.
        return Plan::Refuse(PropagateError::MayWait {
            destination: destination(),
        });
    }
    match &route.attach {
        Attach::Nothing => Plan::Call,
        Attach::Passthrough => match ctx.bearer_token() {
            Some(token) => set(
                headers,
                AUTHORIZATION,
                &format!("Bearer {}", token.expose()),
                destination,
            ),
            None => Plan::Refuse(PropagateError::NoBearerToken {
                destination: destination(),
            }),
        },
        Attach::Passport {
            audience,
            signing,
            lifetime_secs,
            max_header,
        } => {
            if let (PassportSigning::Forward(_), Some(received)) =
                (signing, ctx.received_passport())
                // Only a passport made for this trust domain: one that names this service
                // alone is never handed to another (the route signs the domain's instead).
                && verified.passport_audience() == Some(audience)
            {
                // Inside the trust domain: the exact bytes the edge signed, if they fit
                // what this route sends (a receiver may read longer values than it sends).
                if received.len() > max_header.max_len() {
                    return Plan::Refuse(PropagateError::Passport {
                        destination: destination(),
                        source: PassportError::PrincipalTooLarge {
                            len: received.len(),
                            max: max_header.max_len(),
                        },
                    });
                }
                let mut value = received.clone();
                value.set_sensitive(true);
                headers.insert(PRINCIPAL_HEADER, value);
                return Plan::Call;
            }
            let now = shared.clock.now();
            let principal = verified.principal();
            let expires_at = now
                .add_seconds(i64::from(*lifetime_secs))
                .min(principal.expires_at());
            let Ok(request_id) = principal_proto::RequestId::new(ctx.request_id().as_str()) else {
                return Plan::Refuse(PropagateError::RequestId {
                    destination: destination(),
                });
            };
            let header = Passport::new(
                principal.clone(),
                request_id,
                audience.clone(),
                now,
                expires_at,
            )
            .and_then(|passport| match signing {
                PassportSigning::Sign(ring) | PassportSigning::Forward(ring) => {
                    ring.load().sign_header_within(&passport, *max_header)
                }
                PassportSigning::Unsigned => passport.encode_header_within(*max_header),
            });
            match header {
                Ok(header) => set(headers, PRINCIPAL_HEADER, &header, destination),
                Err(source) => Plan::Refuse(PropagateError::Passport {
                    destination: destination(),
                    source,
                }),
            }
        }
        Attach::MintedJwt {
            cache,
            audience,
            header,
        } => {
            let cache = Arc::clone(cache);
            let principal = Arc::clone(verified.principal_arc());
            let audience = audience.clone();
            let header = *header;
            Plan::Wait(Box::pin(async move {
                let token = cache
                    .token(&principal, &audience)
                    .await
                    .map_err(Refusal::Mint)?;
                minted_header(header, &token).ok_or(Refusal::InvalidHeader)
            }))
        }
        Attach::Exchanged { client, target } => {
            let Some(token) = ctx.bearer_token() else {
                return Plan::Refuse(PropagateError::NoBearerToken {
                    destination: destination(),
                });
            };
            let request =
                match ExchangeRequest::new(token.shared(), TokenType::ACCESS_TOKEN, target.clone())
                {
                    Ok(request) => request,
                    Err(source) => {
                        return Plan::Refuse(PropagateError::Exchange {
                            destination: destination(),
                            source,
                        });
                    }
                };
            // A cached token is attached now: no future, no box.
            if let Some(token) = client.try_cached(&request) {
                return match exchanged_header(&token) {
                    Ok(value) => {
                        headers.insert(AUTHORIZATION, value);
                        Plan::Call
                    }
                    Err(refusal) => Plan::Refuse(refusal.into_error(destination())),
                };
            }
            let client = client.clone();
            Plan::Wait(Box::pin(async move {
                let token = client.exchange(&request).await.map_err(Refusal::Exchange)?;
                Ok((AUTHORIZATION, exchanged_header(&token)?))
            }))
        }
    }
}

/// `Bearer <token>` for an exchanged token; refused unless its `token_type` is `Bearer`.
fn exchanged_header(token: &ExchangedToken) -> Result<HeaderValue, Refusal> {
    if !token.is_bearer() {
        return Err(Refusal::Exchange(ExchangeError::UnsupportedTokenType {
            token_type: "N_A".to_owned(),
        }));
    }
    sensitive(&format!("Bearer {}", token.as_str())).ok_or(Refusal::InvalidHeader)
}

/// `value` as a header value marked sensitive (kept out of HTTP/2 header compression
/// tables and debug output); `None` if it is no valid header value.
fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(value).ok()?;
    value.set_sensitive(true);
    Some(value)
}

fn set(
    headers: &mut HeaderMap,
    name: http::HeaderName,
    value: &str,
    destination: impl FnOnce() -> String,
) -> Plan {
    match sensitive(value) {
        Some(value) => {
            headers.insert(name, value);
            Plan::Call
        }
        None => Plan::Refuse(PropagateError::InvalidHeader {
            destination: destination(),
        }),
    }
}

/// The minted token in the route's header; `None` if it is no valid header value.
fn minted_header(header: MintedHeader, token: &MintedToken) -> Option<(HeaderName, HeaderValue)> {
    match header {
        MintedHeader::Authorization => Some((
            AUTHORIZATION,
            sensitive(&format!("Bearer {}", token.as_str()))?,
        )),
        MintedHeader::InternalToken => Some((INTERNAL_TOKEN_HEADER, sensitive(token.as_str())?)),
    }
}

pin_project! {
    /// Response future of [`PropagateService`]: calls at once, waits for a mint or a
    /// token exchange first (the only boxed form), or refuses.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<B>>,
    {
        Calling {
            #[pin]
            future: S::Future,
        },
        Waiting {
            attach: AttachFuture,
            request: Option<Request<B>>,
            inner: S,
        },
        Failed {
            error: Option<PropagateError>,
        },
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn calling(future: S::Future) -> Self {
        ResponseFuture {
            state: State::Calling { future },
        }
    }

    fn failed(error: PropagateError) -> Self {
        tracing::debug!(target: PROPAGATE_TARGET, reason = error.reason(), %error, "outgoing call refused");
        ResponseFuture {
            state: State::Failed { error: Some(error) },
        }
    }

    fn waiting(attach: AttachFuture, request: Request<B>, inner: S) -> Self {
        ResponseFuture {
            state: State::Waiting {
                attach,
                request: Some(request),
                inner,
            },
        }
    }
}

impl<S, B> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Calling { future } => {
                    return future.poll(cx).map_err(Into::into);
                }
                StateProj::Failed { error } => {
                    return match error.take() {
                        Some(error) => Poll::Ready(Err(error.into())),
                        // Polled after completion: a caller bug; never resolve twice.
                        None => Poll::Pending,
                    };
                }
                StateProj::Waiting {
                    attach,
                    request,
                    inner,
                } => {
                    let attached = match attach.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(attached) => attached,
                    };
                    let Some(mut request) = request.take() else {
                        return Poll::Pending;
                    };
                    match attached {
                        Ok((name, value)) => {
                            request.headers_mut().insert(name, value);
                            State::Calling {
                                future: inner.call(request),
                            }
                        }
                        Err(refusal) => {
                            // Only refusals name the destination: no copy on the way through.
                            let destination = request
                                .uri()
                                .authority()
                                .map_or_else(|| "-".to_owned(), |a| a.as_str().to_owned());
                            let error = refusal.into_error(destination);
                            tracing::debug!(target: PROPAGATE_TARGET, reason = error.reason(), %error, "outgoing call refused");
                            State::Failed { error: Some(error) }
                        }
                    }
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S: fmt::Debug> fmt::Debug for PropagateService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PropagateService")
            .field("inner", &self.inner)
            .field("routes", &self.shared.routes)
            .field("bound_to", &self.origin.as_ref().map(Origin::authority))
            .finish()
    }
}
