//! The gRPC hops' connections: a client channel that attaches the current Principal as
//! the route says, and the servers' common set-up.

use std::net::SocketAddr;

use tonic::Status;
use tonic::transport::{Channel, Endpoint};
use tonic_auth::client::refusal_as_status;
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;
use tower_auth::propagate::{BoxError, PropagateLayer, Route};

use super::DemoError;

/// A channel to one gRPC hop under tower-auth's propagate layer (bound to the channel's
/// endpoint, one route), whose refusals reach the caller as gRPC statuses. Boxed: the
/// stack's own type is unnameable (it holds a function item). Its error is a `Status`,
/// not a boxed error: a `Box<dyn Error>` error type trips rustc's higher-ranked lifetime
/// check when the call runs in a future that must be `Send` (a handler).
pub type HopChannel = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    Status,
>;

/// The layer's refusals as tonic-auth maps them; the channel's own errors as tonic does.
fn as_status(error: BoxError) -> Status {
    match refusal_as_status(error).downcast::<Status>() {
        Ok(status) => *status,
        Err(other) => Status::from_error(other),
    }
}

/// The endpoint of a hop at `addr`.
///
/// # Errors
/// [`DemoError::Config`] if the address makes no URI.
pub fn endpoint(addr: SocketAddr) -> Result<Endpoint, DemoError> {
    Endpoint::from_shared(format!("http://{addr}")).map_err(|e| DemoError::config("endpoint", e))
}

/// A channel to `endpoint` that attaches `route`'s identity to every call (and nothing
/// to anything else). It connects on first use.
///
/// # Errors
/// [`DemoError::Config`] when the endpoint is not an origin the layer can route.
pub fn hop_channel(endpoint: &Endpoint, route: Route) -> Result<HopChannel, DemoError> {
    let uri = endpoint.uri();
    let authority = uri
        .authority()
        .ok_or_else(|| DemoError::config("endpoint", "no authority"))?;
    let layer = PropagateLayer::new()
        .route(authority.as_str(), route)
        .and_then(|layer| layer.bound_to(uri))
        .map_err(|e| DemoError::config("route", e))?;
    let channel: Channel = endpoint.connect_lazy();
    Ok(BoxCloneSyncService::new(
        ServiceBuilder::new()
            .map_err(as_status)
            .layer(layer)
            .service(channel),
    ))
}

/// The gRPC reflection service of the demo's schema.
pub(crate) fn reflection() -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    DemoError,
> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(super::proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| DemoError::config("reflection", e))
}
