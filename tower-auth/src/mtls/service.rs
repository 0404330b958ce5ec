//! The peer's identity into every request of its connection.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use axum::serve::IncomingStream;
use tower_service::Service;

use super::MtlsListener;
use crate::peer::PeerIdentity;

/// The make-service for `axum::serve` over an [`MtlsListener`]: for each connection it
/// makes a [`PeerIdentityService`] around a clone of the inner service (an axum `Router`)
/// with that connection's [`PeerIdentity`].
///
/// See the [`MtlsListener`] example.
#[derive(Clone, Debug)]
pub struct WithPeerIdentity<S> {
    service: S,
}

impl<S> WithPeerIdentity<S> {
    /// Serve `service` on every workload connection.
    pub fn new(service: S) -> Self {
        WithPeerIdentity { service }
    }
}

impl<S: Clone> Service<IncomingStream<'_, MtlsListener>> for WithPeerIdentity<S> {
    type Response = PeerIdentityService<S>;
    type Error = Infallible;
    type Future = Ready<Result<PeerIdentityService<S>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, connection: IncomingStream<'_, MtlsListener>) -> Self::Future {
        ready(Ok(PeerIdentityService::new(
            self.service.clone(),
            connection.io().peer_identity().clone(),
        )))
    }
}

/// The service of one connection: inserts the connection's [`PeerIdentity`] into the
/// extensions of every request, replacing any that code before it inserted, then calls
/// the inner service. Transport-neutral: any server that knows the peer per connection
/// can wrap its per-connection service in it.
///
/// ```
/// use std::convert::Infallible;
/// use tower::{ServiceExt, service_fn};
/// use tower_auth::mtls::PeerIdentityService;
/// use tower_auth::peer::PeerIdentity;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let edge = PeerIdentity::new("spiffe://prod.example/edge".parse()?);
/// let inner = service_fn(|request: http::Request<()>| async move {
///     Ok::<_, Infallible>(request.extensions().get::<PeerIdentity>().cloned())
/// });
/// let service = PeerIdentityService::new(inner, edge.clone());
///
/// // A request that already carries another identity gets the connection's.
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(PeerIdentity::new("spiffe://prod.example/batch".parse()?));
/// assert_eq!(service.oneshot(request).await?, Some(edge));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PeerIdentityService<S> {
    inner: S,
    peer: PeerIdentity,
}

impl<S> PeerIdentityService<S> {
    /// `inner`, on a connection whose peer is `peer`.
    pub fn new(inner: S, peer: PeerIdentity) -> Self {
        PeerIdentityService { inner, peer }
    }

    /// The connection's peer.
    pub fn peer_identity(&self) -> &PeerIdentity {
        &self.peer
    }
}

impl<S, B> Service<http::Request<B>> for PeerIdentityService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> S::Future {
        request.extensions_mut().insert(self.peer.clone());
        self.inner.call(request)
    }
}
