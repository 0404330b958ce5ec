//! The client side: the current Principal attached to outgoing gRPC calls, driven by the
//! same per-destination routes as tower-auth's HTTP propagate layer.
//!
//! Two forms, one configuration (a [`PropagateLayer`] with its routes):
//!
//! - **The layer**, for every route: `ServiceBuilder::new().layer(layer.bound_to(endpoint.uri())?).service(channel)`
//!   under a generated client. It may wait (a minted JWT on a cold cache). Bind it to the
//!   channel's endpoint ([`PropagateLayer::bound_to`]): a generated client sends bare
//!   paths, and the channel sends to its endpoint whatever the request says. With
//!   `.map_err(`[`refusal_as_status`]`)` in front, its refusals reach the caller as the
//!   interceptor's statuses rather than `UNKNOWN`.
//! - **[`PassportInterceptor`]**, for routes that need no waiting (a signed, forwarded or
//!   unsigned passport in `x-principal-bin`, passthrough, nothing): a synchronous tonic
//!   `Interceptor` for `Client::with_interceptor(channel, ..)`.
//!
//! Both remove identity metadata set by the caller's own code, pass `x-request-id` and
//! `traceparent` on from the current request context, and attach the route's identity.
//! Without a current Principal, a call carries no identity, or is refused
//! (`UNAUTHENTICATED`, before anything is sent) when its route
//! [requires one](tower_auth::propagate::Route::require_principal). A Principal too large
//! for the route's passport header limit (4 KiB by default, under the 8 KiB of metadata a
//! gRPC peer accepts; [`Route::passport_header_limit`](tower_auth::propagate::Route::passport_header_limit))
//! is refused before anything is sent too: `RESOURCE_EXHAUSTED`, with the size and the limit.

use std::fmt;

use http::Uri;
use principal_proto::PassportError;
use tonic::metadata::MetadataMap;
use tonic::service::Interceptor;
use tonic::{Request, Status};
use tower_auth::exchange::{ExchangeError, OAuthErrorCode};
use tower_auth::propagate::{
    BoxError, PROPAGATE_TARGET, PropagateConfigError, PropagateError, PropagateLayer,
};

/// A synchronous tonic interceptor that attaches the current Principal to every call of
/// a client, as the route of the channel's endpoint says. See the [module docs](self).
///
/// ```
/// use std::sync::Arc;
/// use http::Uri;
/// use principal::Audience;
/// use tonic::service::Interceptor;
/// use tonic_auth::client::PassportInterceptor;
/// use tower_auth::propagate::{PropagateLayer, Route};
///
/// let routes = PropagateLayer::new().route(
///     "documents.internal:50051",
///     Route::unsigned_passport(Audience::new("documents")?).require_principal(),
/// )?;
/// // `endpoint.uri()` of the Channel the client uses.
/// let endpoint: Uri = "http://documents.internal:50051".parse()?;
/// let mut interceptor = PassportInterceptor::new(routes, &endpoint)?;
///
/// // No current Principal and the route requires one: refused before anything is sent.
/// let status = interceptor.call(tonic::Request::new(())).unwrap_err();
/// assert_eq!(status.code(), tonic::Code::Unauthenticated);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PassportInterceptor {
    layer: PropagateLayer,
}

impl PassportInterceptor {
    /// An interceptor for calls to `endpoint` (the URI of the channel's `Endpoint`),
    /// routed by `routes`. Refused when `endpoint` has no scheme and authority, or when
    /// its route may wait (a minted JWT: use the layer).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use principal::{Audience, Issuer};
    /// use tonic_auth::client::PassportInterceptor;
    /// use tower_auth::mint::{InternalIssuer, MintCache, SigningAlgorithm, SigningKey};
    /// use tower_auth::propagate::{PropagateLayer, Route};
    ///
    /// let issuer = InternalIssuer::builder(
    ///     Issuer::new("https://edge.internal")?,
    ///     SigningKey::generate(SigningAlgorithm::EdDsa)?,
    /// )
    /// .build()?;
    /// let cache = Arc::new(MintCache::builder(issuer).build()?);
    /// let routes = PropagateLayer::new()
    ///     .route("billing.internal:50051", Route::minted_jwt(cache, Audience::new("billing")?))?;
    /// let error = PassportInterceptor::new(routes, &"http://billing.internal:50051".parse()?)
    ///     .unwrap_err();
    /// assert_eq!(error.reason(), "route_may_wait");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(routes: PropagateLayer, endpoint: &Uri) -> Result<Self, ClientConfigError> {
        let layer = routes.bound_to(endpoint)?;
        if layer
            .route_for(&Uri::from_static("/"))
            .is_some_and(|route| route.may_wait())
        {
            return Err(ClientConfigError::RouteMayWait {
                endpoint: endpoint.to_string(),
            });
        }
        Ok(PassportInterceptor { layer })
    }
}

impl Interceptor for PassportInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        // The metadata as HTTP headers, and back: tower-auth's one passport codec writes
        // `x-principal-bin` (unpadded standard base64, the gRPC `-bin` rule).
        let mut headers = std::mem::take(request.metadata_mut()).into_headers();
        let attached = self.layer.attach_now(&Uri::from_static("/"), &mut headers);
        *request.metadata_mut() = MetadataMap::from_headers(headers);
        match attached {
            Ok(()) => Ok(request),
            Err(error) => {
                tracing::debug!(target: PROPAGATE_TARGET, reason = error.reason(), %error, "outgoing call refused");
                Err(refusal(&error))
            }
        }
    }
}

/// The layer's error as tonic should report it: a refusal of the propagate layer
/// ([`PropagateError`]) becomes the same status [`PassportInterceptor`] answers
/// (`UNAUTHENTICATED` for a required Principal that is absent, `RESOURCE_EXHAUSTED` for a
/// Principal too large for the route's passport header limit, `INTERNAL` otherwise)
/// instead of tonic's `UNKNOWN`; the channel's own errors pass unchanged. A failed token
/// exchange (a route only the layer takes) is `UNAVAILABLE` when the token endpoint could
/// not answer (a timeout, unreachable, an error status), `UNAUTHENTICATED` when it refused
/// the caller's token (`invalid_grant`), and `INTERNAL` otherwise. For
/// `ServiceBuilder::new().map_err(refusal_as_status).layer(layer).service(channel)`.
///
/// ```
/// use tonic::{Code, Status};
/// use tonic_auth::client::refusal_as_status;
/// use tower_auth::propagate::{BoxError, PropagateError};
///
/// let refused: BoxError = Box::new(PropagateError::NoPrincipal { destination: "documents:50051".into() });
/// let status = refusal_as_status(refused).downcast::<Status>().unwrap();
/// assert_eq!(status.code(), Code::Unauthenticated);
///
/// // Anything else is left as it is.
/// let other: BoxError = "connection refused".into();
/// assert!(refusal_as_status(other).downcast::<Status>().is_err());
/// ```
pub fn refusal_as_status(error: BoxError) -> BoxError {
    match error.downcast::<PropagateError>() {
        Ok(refused) => Box::new(refusal(&refused)),
        Err(other) => other,
    }
}

/// As [`refusal_as_status`], but every error becomes a [`Status`]: the propagate
/// layer's refusals as the interceptor answers them, the channel's own errors as tonic
/// reports them ([`Status::from_error`]). For a client stack whose error type must be a
/// plain `Status`: a boxed error type trips rustc's higher-ranked lifetime check when a
/// generated client is called in a future that must be `Send` (an axum or tonic handler).
/// `ServiceBuilder::new().map_err(refusal_into_status).layer(layer).service(channel)`.
///
/// ```
/// use tonic::{Code, Status};
/// use tonic_auth::client::refusal_into_status;
/// use tower_auth::propagate::{BoxError, PropagateError};
///
/// let refused: BoxError = Box::new(PropagateError::NoPrincipal { destination: "documents:50051".into() });
/// assert_eq!(refusal_into_status(refused).code(), Code::Unauthenticated);
///
/// // A status passes as it is; any other error is tonic's UNKNOWN.
/// let status: BoxError = Box::new(Status::unavailable("connection refused"));
/// assert_eq!(refusal_into_status(status).code(), Code::Unavailable);
/// let other: BoxError = "connection refused".into();
/// assert_eq!(refusal_into_status(other).code(), Code::Unknown);
/// ```
pub fn refusal_into_status(error: BoxError) -> Status {
    match error.downcast::<PropagateError>() {
        Ok(refused) => refusal(&refused),
        Err(other) => Status::from_error(other),
    }
}

/// The status of a call this client refuses to make.
fn refusal(error: &PropagateError) -> Status {
    match error {
        PropagateError::NoPrincipal { .. } => Status::unauthenticated("no current principal"),
        // gRPC's own code for a size over a configured limit; the sizes are no secret.
        PropagateError::Passport {
            source: PassportError::PrincipalTooLarge { len, max },
            ..
        } => Status::resource_exhausted(format!(
            "principal too large for a passport: {len} bytes, more than the limit of {max}"
        )),
        PropagateError::Exchange { source, .. } => match source {
            ExchangeError::Timeout
            | ExchangeError::Unreachable { .. }
            | ExchangeError::HttpStatus { .. } => Status::unavailable("token exchange unavailable"),
            ExchangeError::Rejected {
                code: OAuthErrorCode::InvalidGrant,
                ..
            } => Status::unauthenticated("credential refused for exchange"),
            _ => Status::internal("identity could not be attached"),
        },
        // A Principal too large for a passport, a request id it cannot carry...: this
        // client's own fault, said briefly (the reason is in the debug event).
        _ => Status::internal("identity could not be attached"),
    }
}

impl fmt::Debug for PassportInterceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassportInterceptor")
            .field("layer", &self.layer)
            .finish()
    }
}

/// A [`PassportInterceptor`] could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientConfigError {
    /// The endpoint is not an origin (`scheme://host[:port]`, no user info).
    #[error(transparent)]
    Endpoint(#[from] PropagateConfigError),
    /// The endpoint's route may wait (a minted JWT): it needs the propagate layer.
    #[error("the route to {endpoint} may wait: use the propagate layer over the channel")]
    RouteMayWait {
        /// The endpoint.
        endpoint: String,
    },
}

impl ClientConfigError {
    /// A stable snake_case label for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            ClientConfigError::Endpoint(error) => error.reason(),
            ClientConfigError::RouteMayWait { .. } => "route_may_wait",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn a_failed_exchange_maps_to_a_status_by_what_failed() {
        let status = |source: ExchangeError| {
            refusal_as_status(Box::new(PropagateError::Exchange {
                destination: "documents:50051".into(),
                source,
            }))
            .downcast::<Status>()
            .unwrap()
            .code()
        };
        assert_eq!(status(ExchangeError::Timeout), Code::Unavailable);
        assert_eq!(
            status(ExchangeError::Unreachable {
                detail: "refused".into()
            }),
            Code::Unavailable
        );
        assert_eq!(
            status(ExchangeError::HttpStatus { status: 503 }),
            Code::Unavailable
        );
        assert_eq!(
            status(ExchangeError::Rejected {
                code: OAuthErrorCode::InvalidGrant,
                status: 400
            }),
            Code::Unauthenticated
        );
        assert_eq!(
            status(ExchangeError::Rejected {
                code: OAuthErrorCode::InvalidTarget,
                status: 400
            }),
            Code::Internal
        );
        assert_eq!(
            status(ExchangeError::MissingIssuedTokenType),
            Code::Internal
        );
    }
}
