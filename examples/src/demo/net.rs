//! The gRPC hops' connections, all over mutual TLS: a workload's TLS material
//! ([`WorkloadTls`]), the client channel that attaches the current Principal as the
//! route says ([`hop_channel`]), and the server's incoming connections
//! ([`mtls_incoming`], tonic-auth's transport: the peer's SPIFFE ID in every request).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::Status;
use tonic::service::Interceptor;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_auth::client::refusal_into_status;
use tonic_auth::transport::{MtlsIncoming, grpc_server_config, incoming};
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;
use tower_auth::mtls::rustls::pki_types::pem::PemObject;
use tower_auth::mtls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tower_auth::mtls::{MtlsAcceptor, MtlsListener};
use tower_auth::peer::{PeerAllowlist, PeerIdentity, TrustDomain};
use tower_auth::propagate::{PropagateLayer, Route};

use super::pki::{DevPki, SERVER_NAME, WorkloadCert};
use super::{DemoError, TRUST_DOMAIN};

/// A workload's mutual-TLS material: the CA that certifies its peers, its own
/// certificate (one SPIFFE URI SAN; a server's also names [`SERVER_NAME`]) and private
/// key. `Debug` never shows the key.
#[derive(Clone)]
pub struct WorkloadTls {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl WorkloadTls {
    /// From PEM text: the CA certificate, the workload's certificate and its PKCS#8 key.
    ///
    /// ```
    /// use examples::demo::WorkloadTls;
    /// use examples::demo::pki::DevPki;
    ///
    /// let pki = DevPki::generate()?;
    /// let audit = pki.workload(&"spiffe://demo.test/audit".parse()?, true)?;
    /// assert!(WorkloadTls::from_pem(&pki.ca_pem(), audit.cert_pem(), audit.key_pem()).is_ok());
    /// // Refused: a key that is no PEM.
    /// assert!(WorkloadTls::from_pem(&pki.ca_pem(), audit.cert_pem(), "not a key").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DemoError::Config`] when one of them does not parse.
    pub fn from_pem(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<WorkloadTls, DemoError> {
        let tls = WorkloadTls {
            ca_pem: ca_pem.to_owned(),
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
        };
        tls.ca_der()?;
        tls.cert_der()?;
        tls.key_der()?;
        Ok(tls)
    }

    /// From PEM files (`--ca`, `--cert`, `--key`).
    ///
    /// # Errors
    /// [`DemoError::Config`] when a file cannot be read or does not parse.
    pub fn from_files(ca: &Path, cert: &Path, key: &Path) -> Result<WorkloadTls, DemoError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .map_err(|e| DemoError::config("PEM file", format!("{}: {e}", path.display())))
        };
        WorkloadTls::from_pem(&read(ca)?, &read(cert)?, &read(key)?)
    }

    /// A workload certificate of the development CA `pki`.
    pub fn from_dev_pki(pki: &DevPki, cert: &WorkloadCert) -> WorkloadTls {
        WorkloadTls {
            ca_pem: pki.ca_pem(),
            cert_pem: cert.cert_pem().to_owned(),
            key_pem: cert.key_pem().to_owned(),
        }
    }

    fn ca_der(&self) -> Result<CertificateDer<'static>, DemoError> {
        CertificateDer::from_pem_slice(self.ca_pem.as_bytes())
            .map_err(|e| DemoError::config("CA certificate PEM", e))
    }

    fn cert_der(&self) -> Result<CertificateDer<'static>, DemoError> {
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
            .map_err(|e| DemoError::config("certificate PEM", e))
    }

    fn key_der(&self) -> Result<PrivateKeyDer<'static>, DemoError> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| DemoError::config("private key PEM", e))
    }

    /// The client side: trust the CA for servers named [`SERVER_NAME`], present this
    /// workload's certificate.
    fn client_config(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
            .domain_name(SERVER_NAME)
    }
}

impl std::fmt::Debug for WorkloadTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadTls").finish_non_exhaustive()
    }
}

/// The endpoint of a hop at `addr`, over mutual TLS as the workload of `tls` (the server
/// must present a certificate of the same CA naming [`SERVER_NAME`]).
///
/// # Errors
/// [`DemoError::Config`] if the address makes no URI or the TLS material is refused.
pub fn endpoint(addr: SocketAddr, tls: &WorkloadTls) -> Result<Endpoint, DemoError> {
    Endpoint::from_shared(format!("https://{addr}"))
        .and_then(|endpoint| endpoint.tls_config(tls.client_config()))
        .map_err(|e| DemoError::config("endpoint", e))
}

/// The connections of `listener` as a gRPC server over mutual TLS takes them: a client
/// must present a certificate of the CA of `tls` naming a workload of `domain`
/// ([`TRUST_DOMAIN`] if `None`); its SPIFFE ID is in the extensions of every request it
/// sends.
///
/// # Errors
/// [`DemoError::Config`] when the TLS material is refused.
pub fn mtls_incoming(
    listener: TcpListener,
    tls: &WorkloadTls,
    domain: Option<&TrustDomain>,
) -> Result<MtlsIncoming, DemoError> {
    let config = grpc_server_config([tls.ca_der()?], vec![tls.cert_der()?], tls.key_der()?)
        .map_err(|e| DemoError::config("TLS server", e))?;
    let domain = match domain {
        Some(domain) => domain.clone(),
        None => TrustDomain::new(TRUST_DOMAIN).map_err(|e| DemoError::config("trust domain", e))?,
    };
    let acceptor = MtlsAcceptor::new(Arc::new(config), domain);
    Ok(incoming(MtlsListener::new(listener, acceptor)))
}

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
            .map_err(refusal_into_status)
            .layer(layer)
            .service(channel),
    ))
}

/// A gRPC server's gate on the calling workload (`[workload] allowed_peers`): a call
/// from an mTLS peer not on the list is refused with `PERMISSION_DENIED` before any
/// credential is read; with no list, every peer the TLS listener authenticated passes.
/// An empty list admits nothing.
///
/// ```
/// use examples::demo::PeerGate;
/// use tonic::service::Interceptor;
/// use tower_auth::peer::{PeerAllowlist, PeerIdentity};
///
/// let mut gate = PeerGate::new(Some(PeerAllowlist::new(["spiffe://demo.test/edge".parse()?])));
/// let from = |id: &str| -> Result<tonic::Request<()>, Box<dyn std::error::Error>> {
///     let mut request = tonic::Request::new(());
///     request.extensions_mut().insert(PeerIdentity::new(id.parse()?));
///     Ok(request)
/// };
/// assert!(gate.call(from("spiffe://demo.test/edge")?).is_ok());
/// // Refused: another workload, or a call without an mTLS peer.
/// let refused = gate.call(from("spiffe://demo.test/grpcurl")?).unwrap_err();
/// assert_eq!(refused.code(), tonic::Code::PermissionDenied);
/// assert!(gate.call(tonic::Request::new(())).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct PeerGate {
    admitted: Option<Arc<PeerAllowlist>>,
}

impl PeerGate {
    /// Admits the peers of `admitted`; `None` admits every authenticated peer.
    pub fn new(admitted: Option<PeerAllowlist>) -> Self {
        PeerGate {
            admitted: admitted.map(Arc::new),
        }
    }
}

impl Interceptor for PeerGate {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let Some(admitted) = &self.admitted else {
            return Ok(request);
        };
        match request.extensions().get::<PeerIdentity>() {
            Some(peer) if admitted.allows(peer) => Ok(request),
            peer => {
                tracing::warn!(
                    peer = peer.map_or("-", |peer| peer.spiffe_id().as_str()),
                    "workload not admitted"
                );
                Err(Status::permission_denied("workload not admitted"))
            }
        }
    }
}

/// The gRPC reflection services of the demo's schema: `grpc.reflection.v1`, and
/// `v1alpha` for clients that know only that one (grpcurl before 1.8.8).
pub(crate) fn reflection() -> Result<
    (
        tonic_reflection::server::v1::ServerReflectionServer<
            impl tonic_reflection::server::v1::ServerReflection,
        >,
        tonic_reflection::server::v1alpha::ServerReflectionServer<
            impl tonic_reflection::server::v1alpha::ServerReflection,
        >,
    ),
    DemoError,
> {
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(super::proto::FILE_DESCRIPTOR_SET)
    };
    let v1 = builder()
        .build_v1()
        .map_err(|e| DemoError::config("reflection", e))?;
    let v1alpha = builder()
        .build_v1alpha()
        .map_err(|e| DemoError::config("reflection", e))?;
    Ok((v1, v1alpha))
}
