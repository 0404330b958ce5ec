//! tonic over mutual TLS: the calling workload's SPIFFE ID in every request (pattern 5,
//! feature `mtls`).
//!
//! The TLS side lives in [`tower_auth::mtls`], shared with HTTP services: the rustls
//! configuration that requires and verifies a client certificate, the acceptor that reads
//! the peer's SPIFFE ID **once per connection** (refusing a certificate that is no
//! workload identity of the trust domain before any request is read), and the listener
//! that runs handshakes concurrently. This module only hands its connections to tonic:
//!
//! - [`MtlsConnection`] is one accepted connection as tonic's `Connected` IO. Its
//!   `ConnectInfo` is the [`PeerIdentity`], so tonic inserts the peer into the extensions
//!   of every request on the connection, where
//!   [`GrpcAuthenticateLayer`](crate::server::GrpcAuthenticateLayer)'s verifiers read it
//!   as [`Credentials::peer`](tower_auth::Credentials::peer) (an unsigned passport is
//!   accepted only from a peer on the allowlist) and the Principal's
//!   [`caller`](tower_auth::VerifiedPrincipal::caller) names the workload. Per call this
//!   costs a clone of the identity, never a certificate parse.
//! - [`incoming`] turns a [`MtlsListener`] into the stream that
//!   `Server::serve_with_incoming` takes.
//! - [`grpc_server_config`] is [`tower_auth::mtls::server_config`] with ALPN `h2`, which
//!   gRPC clients negotiate.
//!
//! ```no_run
//! use std::sync::Arc;
//! use tonic_auth::server::GrpcAuthenticateLayer;
//! use tonic_auth::transport::{grpc_server_config, incoming};
//! use tower_auth::mtls::{MtlsAcceptor, MtlsListener};
//! use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
//! use tower_auth::peer::PeerAllowlist;
//! use principal_proto::DecodeOptions;
//!
//! # async fn run(
//! #     ca: rustls::pki_types::CertificateDer<'static>,
//! #     chain: Vec<rustls::pki_types::CertificateDer<'static>>,
//! #     key: rustls::pki_types::PrivateKeyDer<'static>,
//! #     keys: PassportKeys,
//! #     options: DecodeOptions,
//! #     routes: tonic::service::Routes,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! let config = grpc_server_config([ca], chain, key)?;
//! let acceptor = MtlsAcceptor::new(Arc::new(config), "shop.internal".parse()?);
//! let listener = MtlsListener::new(tokio::net::TcpListener::bind("0.0.0.0:8443").await?, acceptor);
//!
//! // Unsigned passports only from the gateway workload; signed ones from anyone.
//! let allowlist = PeerAllowlist::new(["spiffe://shop.internal/gateway".parse()?]);
//! let verifier = PassportHeaderVerifier::new(options, keys).unsigned_from(allowlist);
//! tonic::transport::Server::builder()
//!     .layer(GrpcAuthenticateLayer::internal(Arc::new(verifier)))
//!     .add_routes(routes)
//!     .serve_with_incoming(incoming(listener))
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! The tests in `tonic-auth/tests/mtls.rs` run this over loopback with accepted and
//! refused workloads.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tonic::transport::server::Connected;
use tower_auth::mtls::rustls::ServerConfig;
use tower_auth::mtls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tower_auth::mtls::{MtlsConfigError, MtlsListener, MtlsStream, server_config};
use tower_auth::peer::PeerIdentity;

/// The ALPN protocol of HTTP/2, which gRPC runs on.
const H2: &[u8] = b"h2";

/// [`tower_auth::mtls::server_config`] for gRPC: the same mutual TLS (TLS 1.3, a client
/// certificate required and verified against `client_cas`), with ALPN `h2`.
///
/// ```
/// use tonic_auth::transport::grpc_server_config;
/// use tower_auth::mtls::MtlsConfigError;
///
/// let mut ca = rcgen::CertificateParams::default();
/// ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
/// let ca = rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate()?)?;
/// let server_key = rcgen::KeyPair::generate()?;
/// let server = rcgen::CertificateParams::new(["documents.internal".to_owned()])?
///     .signed_by(&server_key, &ca)?;
/// let key = || rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
///
/// let config = grpc_server_config([ca.der().clone()], vec![server.der().clone()], key())?;
/// assert_eq!(config.alpn_protocols, [b"h2".to_vec()]);
///
/// // Refused as `server_config` refuses it: no client CA, so no client could be verified.
/// assert!(matches!(
///     grpc_server_config([], vec![server.der().clone()], key()),
///     Err(MtlsConfigError::NoClientCa)
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`tower_auth::mtls::server_config`]: no client CA, an unusable CA, chain or key.
pub fn grpc_server_config(
    client_cas: impl IntoIterator<Item = CertificateDer<'static>>,
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, MtlsConfigError> {
    let mut config = server_config(client_cas, cert_chain, key)?;
    config.alpn_protocols = vec![H2.to_vec()];
    Ok(config)
}

/// One mutual-TLS connection from an authenticated workload, as tonic's server IO: its
/// `ConnectInfo` is the peer's [`PeerIdentity`], which tonic inserts into the extensions
/// of every request on the connection.
///
/// Made from the [`MtlsStream`] that [`MtlsListener`] or
/// [`MtlsAcceptor::accept`](tower_auth::mtls::MtlsAcceptor::accept) hands out, so it
/// exists only for a peer whose certificate verified and named a workload of the trust
/// domain. [`incoming`] does this for a whole listener.
///
/// ```no_run
/// use tonic_auth::transport::MtlsConnection;
/// use tower_auth::mtls::MtlsAcceptor;
///
/// # async fn run(acceptor: MtlsAcceptor, tcp: tokio::net::TcpListener, routes: tonic::service::Routes)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// // Over a TCP listener of your own: one handshake, one connection.
/// let (socket, _) = tcp.accept().await?;
/// let connection = MtlsConnection::from(acceptor.accept(socket).await?);
/// println!("workload {}", connection.peer_identity().spiffe_id());
/// let connections = tokio_stream::once(Ok::<_, std::convert::Infallible>(connection));
/// tonic::transport::Server::builder()
///     .add_routes(routes)
///     .serve_with_incoming(connections)
///     .await?;
/// # Ok(())
/// # }
/// ```
pub struct MtlsConnection<IO = TcpStream> {
    stream: MtlsStream<IO>,
}

impl<IO> MtlsConnection<IO> {
    /// The workload at the other end.
    pub fn peer_identity(&self) -> &PeerIdentity {
        self.stream.peer_identity()
    }

    /// The TLS stream, for its addresses and negotiated parameters.
    pub fn get_ref(&self) -> &MtlsStream<IO> {
        &self.stream
    }

    /// The TLS stream.
    pub fn into_inner(self) -> MtlsStream<IO> {
        self.stream
    }
}

impl<IO> From<MtlsStream<IO>> for MtlsConnection<IO> {
    fn from(stream: MtlsStream<IO>) -> Self {
        MtlsConnection { stream }
    }
}

impl<IO> fmt::Debug for MtlsConnection<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsConnection")
            .field("peer", self.peer_identity())
            .finish_non_exhaustive()
    }
}

impl<IO> Connected for MtlsConnection<IO> {
    type ConnectInfo = PeerIdentity;

    fn connect_info(&self) -> PeerIdentity {
        self.stream.peer_identity().clone()
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for MtlsConnection<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MtlsConnection<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

type NextConnection = Pin<Box<dyn Future<Output = (MtlsListener, MtlsStream)> + Send + 'static>>;

/// The connections of `listener`, as the stream `Server::serve_with_incoming` takes.
///
/// Every item is an authenticated workload of the listener's trust domain: connections
/// whose handshake fails or whose certificate is no workload identity are closed and
/// logged by the listener and never appear. The stream never ends and never yields an
/// error (its error type is [`Infallible`]).
///
/// ```no_run
/// # async fn run(listener: tower_auth::mtls::MtlsListener, routes: tonic::service::Routes)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// tonic::transport::Server::builder()
///     .add_routes(routes)
///     .serve_with_incoming(tonic_auth::transport::incoming(listener))
///     .await?;
/// # Ok(())
/// # }
/// ```
pub fn incoming(listener: MtlsListener) -> MtlsIncoming {
    MtlsIncoming {
        next: next_connection(listener),
    }
}

fn next_connection(mut listener: MtlsListener) -> NextConnection {
    Box::pin(async move {
        let (stream, _) = listener.next_connection().await;
        (listener, stream)
    })
}

/// The stream of [`incoming`]: one [`MtlsConnection`] per authenticated workload
/// connection.
pub struct MtlsIncoming {
    // One boxed future per accepted connection (the listener moves through it), not per
    // request.
    next: NextConnection,
}

impl fmt::Debug for MtlsIncoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsIncoming").finish_non_exhaustive()
    }
}

impl Stream for MtlsIncoming {
    type Item = Result<MtlsConnection, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let (listener, stream) = std::task::ready!(self.next.as_mut().poll(cx));
        self.next = next_connection(listener);
        Poll::Ready(Some(Ok(MtlsConnection::from(stream))))
    }
}
