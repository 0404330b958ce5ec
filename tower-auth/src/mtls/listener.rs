//! The TLS acceptor (handshake, then the peer's identity) and the listener for
//! `axum::serve` that runs it on every TCP connection.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinError, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::{WorkloadIdError, peer_identity_from_certificate};
use crate::peer::{PeerIdentity, TrustDomain};

/// The `tracing` target of the acceptor's events (refused connections).
pub const MTLS_TARGET: &str = "baton::mtls";

/// How long a client has to complete the TLS handshake before the connection is closed.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many handshakes [`MtlsListener`] runs at once; past it, new TCP connections wait
/// in the kernel's backlog instead of taking memory.
pub const DEFAULT_MAX_PENDING_HANDSHAKES: usize = 1024;

/// Why a connection was not accepted as a workload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MtlsAcceptError {
    /// The TLS handshake failed: among others, no client certificate, or one whose chain
    /// does not verify against the configured CA.
    #[error("TLS handshake failed: {0}")]
    Handshake(io::Error),
    /// The client did not complete the handshake in time.
    #[error("TLS handshake timed out")]
    HandshakeTimedOut,
    /// The handshake succeeded but the client certificate is not a workload identity of
    /// the trust domain.
    #[error(transparent)]
    Identity(#[from] WorkloadIdError),
}

impl MtlsAcceptError {
    /// A stable snake_case label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            MtlsAcceptError::Handshake(_) => "tls_handshake_failed",
            MtlsAcceptError::HandshakeTimedOut => "tls_handshake_timed_out",
            MtlsAcceptError::Identity(error) => error.reason(),
        }
    }
}

/// Runs the TLS handshake of one connection and reads the peer's [`PeerIdentity`] from
/// its verified client certificate, once for the whole connection. Cheap to clone.
///
/// ```
/// # use std::sync::Arc;
/// # use tower_auth::mtls::{server_config, MtlsAcceptor, MtlsAcceptError};
/// # use tower_auth::peer::TrustDomain;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mut ca = rcgen::CertificateParams::default();
/// # ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
/// # let ca = rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate()?)?;
/// # let server_key = rcgen::KeyPair::generate()?;
/// # let server = rcgen::CertificateParams::new(["orders.internal".to_owned()])?.signed_by(&server_key, &ca)?;
/// # let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
/// let config = server_config([ca.der().clone()], vec![server.der().clone()], key)?;
/// let acceptor = MtlsAcceptor::new(Arc::new(config), "prod.example".parse::<TrustDomain>()?);
///
/// // Refused: a client that speaks no TLS at all.
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// tokio::spawn(async move {
///     use tokio::io::AsyncWriteExt;
///     let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
///     let _ = plain.write_all(b"GET / HTTP/1.1\r\n\r\n").await;
/// });
/// let (tcp, _) = listener.accept().await?;
/// assert!(matches!(acceptor.accept(tcp).await, Err(MtlsAcceptError::Handshake(_))));
/// # Ok(())
/// # }
/// ```
///
/// The acceptance of a workload, over real TLS, is in the [`MtlsListener`] example.
#[derive(Clone)]
pub struct MtlsAcceptor {
    tls: TlsAcceptor,
    trust_domain: TrustDomain,
    handshake_timeout: Duration,
}

impl MtlsAcceptor {
    /// An acceptor with `config` (build it with [`server_config`](super::server_config):
    /// the acceptor refuses a connection without a client certificate anyway, but only a
    /// configuration that requires one refuses it before the handshake completes) for
    /// workloads of `trust_domain`.
    pub fn new(config: Arc<ServerConfig>, trust_domain: TrustDomain) -> Self {
        MtlsAcceptor {
            tls: TlsAcceptor::from(config),
            trust_domain,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Close connections whose handshake takes longer than `timeout` (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`]).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The trust domain whose workloads are accepted.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The handshake over `io`, then the peer's identity from its leaf certificate.
    ///
    /// # Errors
    /// [`MtlsAcceptError`]: a failed or timed-out handshake, or a certificate that is not
    /// a workload identity of the trust domain. The connection is then dropped.
    pub async fn accept<IO>(&self, io: IO) -> Result<MtlsStream<IO>, MtlsAcceptError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let tls = tokio::time::timeout(self.handshake_timeout, self.tls.accept(io))
            .await
            .map_err(|_| MtlsAcceptError::HandshakeTimedOut)?
            .map_err(MtlsAcceptError::Handshake)?;
        let (_, connection) = tls.get_ref();
        // The chain has been verified by rustls; its first certificate is the client's own.
        let leaf = connection
            .peer_certificates()
            .and_then(|chain| chain.first())
            .ok_or(WorkloadIdError::NoCertificate)?;
        let peer = peer_identity_from_certificate(leaf, &self.trust_domain)?;
        Ok(MtlsStream { tls, peer })
    }
}

impl fmt::Debug for MtlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsAcceptor")
            .field("trust_domain", &self.trust_domain)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// A mutual-TLS connection whose peer is an authenticated workload: the TLS stream and
/// the [`PeerIdentity`] read once from its client certificate.
pub struct MtlsStream<IO = TcpStream> {
    tls: TlsStream<IO>,
    peer: PeerIdentity,
}

impl<IO> MtlsStream<IO> {
    /// The workload at the other end.
    pub fn peer_identity(&self) -> &PeerIdentity {
        &self.peer
    }

    /// The transport under TLS (for its addresses).
    pub fn io(&self) -> &IO {
        self.tls.get_ref().0
    }

    /// The TLS connection (negotiated ALPN protocol, the client's certificates).
    pub fn connection(&self) -> &ServerConnection {
        self.tls.get_ref().1
    }
}

impl<IO> fmt::Debug for MtlsStream<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsStream")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for MtlsStream<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tls).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MtlsStream<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tls).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tls).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tls.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tls).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tls).poll_shutdown(cx)
    }
}

type Handshake = (SocketAddr, Result<MtlsStream, MtlsAcceptError>);

// A TLS connection is large (rustls' buffers); this value is moved once, from the
// handshake task to `next_connection`'s caller, so boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Event {
    Handshake(Result<Handshake, JoinError>),
    Tcp(io::Result<(TcpStream, SocketAddr)>),
}

/// A TCP listener that hands out only authenticated workload connections: each accepted
/// socket goes through [`MtlsAcceptor::accept`] in its own task (a slow or silent client
/// never holds up the others), and refused ones are closed and logged under
/// [`MTLS_TARGET`] with their reason. It is an [`axum::serve::Listener`]: serve a router
/// wrapped in [`WithPeerIdentity`](super::WithPeerIdentity) to put the peer into every
/// request.
///
/// ```no_run
/// use std::sync::Arc;
/// use axum::{Router, routing::get};
/// use tower_auth::mtls::{server_config, MtlsAcceptor, MtlsListener, WithPeerIdentity};
/// use tower_auth::peer::PeerIdentity;
///
/// # async fn run(config: rustls::ServerConfig) -> Result<(), Box<dyn std::error::Error>> {
/// let acceptor = MtlsAcceptor::new(Arc::new(config), "prod.example".parse()?);
/// let listener = MtlsListener::new(tokio::net::TcpListener::bind("0.0.0.0:8443").await?, acceptor);
/// let app = Router::new().route(
///     "/",
///     get(|axum::Extension(peer): axum::Extension<PeerIdentity>| async move {
///         peer.spiffe_id().to_string()
///     }),
/// );
/// axum::serve(listener, WithPeerIdentity::new(app)).await?;
/// # Ok(())
/// # }
/// ```
///
/// The tests in `tower-auth/tests/mtls_http.rs` run this over loopback with accepted and
/// refused clients.
pub struct MtlsListener {
    tcp: TcpListener,
    acceptor: MtlsAcceptor,
    handshakes: JoinSet<Handshake>,
    max_pending: usize,
}

impl MtlsListener {
    /// Accept on `tcp` with `acceptor`.
    pub fn new(tcp: TcpListener, acceptor: MtlsAcceptor) -> Self {
        MtlsListener {
            tcp,
            acceptor,
            handshakes: JoinSet::new(),
            max_pending: DEFAULT_MAX_PENDING_HANDSHAKES,
        }
    }

    /// Run at most `max` handshakes at once (at least one; default
    /// [`DEFAULT_MAX_PENDING_HANDSHAKES`]).
    pub fn max_pending_handshakes(mut self, max: usize) -> Self {
        self.max_pending = max.max(1);
        self
    }

    /// The address it listens on.
    ///
    /// # Errors
    /// As [`TcpListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// The next connection whose peer is an authenticated workload of the trust domain,
    /// with its remote address. Never fails: refused connections are logged and closed.
    pub async fn next_connection(&mut self) -> (MtlsStream, SocketAddr) {
        loop {
            match poll_fn(|cx| self.poll_event(cx)).await {
                Event::Handshake(Ok((addr, Ok(stream)))) => return (stream, addr),
                Event::Handshake(Ok((addr, Err(error)))) => {
                    tracing::warn!(
                        target: MTLS_TARGET,
                        remote = %addr,
                        reason = error.reason(),
                        %error,
                        "mTLS connection refused"
                    );
                }
                Event::Handshake(Err(error)) => {
                    tracing::error!(target: MTLS_TARGET, %error, "mTLS handshake task failed");
                }
                Event::Tcp(Ok((tcp, addr))) => {
                    // Latency over throughput for small RPCs; failing to set it is harmless.
                    let _ = tcp.set_nodelay(true);
                    let acceptor = self.acceptor.clone();
                    self.handshakes
                        .spawn(async move { (addr, acceptor.accept(tcp).await) });
                }
                Event::Tcp(Err(error)) => {
                    if !matches!(
                        error.kind(),
                        io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) {
                        // Out of file descriptors and the like: wait for some to be freed
                        // rather than spin (as axum's own TCP listener does).
                        tracing::error!(target: MTLS_TARGET, %error, "accept failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Event> {
        if let Poll::Ready(Some(joined)) = self.handshakes.poll_join_next(cx) {
            return Poll::Ready(Event::Handshake(joined));
        }
        if self.handshakes.len() < self.max_pending
            && let Poll::Ready(accepted) = self.tcp.poll_accept(cx)
        {
            return Poll::Ready(Event::Tcp(accepted));
        }
        Poll::Pending
    }
}

impl fmt::Debug for MtlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MtlsListener")
            .field("local_addr", &self.tcp.local_addr().ok())
            .field("acceptor", &self.acceptor)
            .field("pending_handshakes", &self.handshakes.len())
            .finish_non_exhaustive()
    }
}

impl axum::serve::Listener for MtlsListener {
    type Io = MtlsStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (MtlsStream, SocketAddr) {
        self.next_connection().await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}
