//! Each demo service as a process of its own: the command lines of `demo-edge`,
//! `demo-documents` and `demo-audit`, and what runs them. Keys and certificates come from
//! PEM files (`demo --dev-pki DIR` writes a development set and prints the commands).
//!
//! | flag | meaning |
//! | --- | --- |
//! | `--listen <addr>` | where to serve |
//! | `--pattern <p>` | `passthrough`, `internal-jwt`, `signed-passport` (default), `unsigned-passport` |
//! | `--ca`, `--cert`, `--key` | PEM: the CA of every workload, this workload's certificate (one SPIFFE URI SAN, DNS `localhost`) and key |
//! | `--mint-key`, `--passport-key` | PEM, PKCS#8: this service's ES256 key for internal JWTs and Ed25519 key for passports (callers: edge, documents) |
//! | `--caller <file>` | the public trust of the service that calls this one (`{name}-trust.json`: documents, audit) |
//! | `--idp-issuer <url>` | the external identity provider (edge; every hop in passthrough) |
//! | `--documents`, `--audit <addr>` | the next hop |
//! | `--config <file>` | a configuration file instead of `--caller` and `--idp-issuer`: the verifier from its `[jwt]`, `[introspection]`, `[passport]`, the admitted peers from `[workload]`, the route to the next hop from `[mint]` and `[[propagate.routes]]` (else `--pattern`'s); see [`config`](super::config) and `examples/config/` |

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use principal::Audience;
use tokio::net::TcpListener;

use tower_auth::peer::TrustDomain;
use tower_auth::propagate::Route;

use super::config::ConfigFile;
use super::edge::DemoEdge;
use super::net::{PeerGate, WorkloadTls, endpoint, hop_channel, mtls_incoming};
use super::trust::{
    CallerTrust, HopVerifier, IdpTrust, ServiceKeys, external_verifier, hop_verifier,
};
use super::{DemoError, DemoPattern, audit, documents};

/// The mutual-TLS files of a workload.
#[derive(Clone, Debug, clap::Args)]
pub struct TlsArgs {
    /// PEM: the CA that certifies every workload.
    #[arg(long, value_name = "FILE")]
    pub ca: PathBuf,
    /// PEM: this workload's certificate.
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// PEM, PKCS#8: this workload's private key.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
}

impl TlsArgs {
    fn load(&self) -> Result<WorkloadTls, DemoError> {
        WorkloadTls::from_files(&self.ca, &self.cert, &self.key)
    }
}

/// The keys of a service that calls another.
#[derive(Clone, Debug, clap::Args)]
pub struct KeyArgs {
    /// PEM, PKCS#8: the P-256 key this service signs internal JWTs with.
    #[arg(long, value_name = "FILE")]
    pub mint_key: PathBuf,
    /// PEM, PKCS#8: the Ed25519 key this service signs passports with.
    #[arg(long, value_name = "FILE")]
    pub passport_key: PathBuf,
}

impl KeyArgs {
    fn load(&self, name: &str) -> Result<ServiceKeys, DemoError> {
        let read = |path: &PathBuf| {
            std::fs::read_to_string(path)
                .map_err(|e| DemoError::config("key file", format!("{}: {e}", path.display())))
        };
        ServiceKeys::from_pem(name, &read(&self.mint_key)?, &read(&self.passport_key)?)
    }
}

/// `demo-audit`'s command line.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "demo-audit",
    version,
    about = "The demo's audit service (gRPC over mTLS)."
)]
pub struct AuditArgs {
    /// Where to serve.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50052")]
    pub listen: SocketAddr,
    /// The trust pattern of the hop.
    #[arg(long, value_enum, default_value_t = DemoPattern::SignedPassport)]
    pub pattern: DemoPattern,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tls: TlsArgs,
    /// The public trust of the caller (`documents-trust.json`).
    #[arg(long, value_name = "FILE", required_unless_present = "config")]
    pub caller: Option<PathBuf>,
    /// The external identity provider's issuer (needed in passthrough).
    #[arg(long, value_name = "URL")]
    pub idp_issuer: Option<String>,
    /// A configuration file: the hop's verifier and admitted peers (instead of
    /// `--caller`, `--idp-issuer` and `--pattern`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["caller", "idp_issuer"])]
    pub config: Option<PathBuf>,
}

/// `demo-documents`'s command line.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "demo-documents",
    version,
    about = "The demo's documents service (gRPC over mTLS)."
)]
pub struct DocumentsArgs {
    /// Where to serve.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// The trust pattern of the hop and of its calls to audit.
    #[arg(long, value_enum, default_value_t = DemoPattern::SignedPassport)]
    pub pattern: DemoPattern,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tls: TlsArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub keys: KeyArgs,
    /// The public trust of the caller (`edge-trust.json`).
    #[arg(long, value_name = "FILE", required_unless_present = "config")]
    pub caller: Option<PathBuf>,
    /// The audit service.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50052")]
    pub audit: SocketAddr,
    /// The external identity provider's issuer (needed in passthrough).
    #[arg(long, value_name = "URL")]
    pub idp_issuer: Option<String>,
    /// A configuration file: the hop's verifier and admitted peers, and, with
    /// `[propagate]`, the route to audit (instead of `--caller` and `--idp-issuer`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["caller", "idp_issuer"])]
    pub config: Option<PathBuf>,
}

/// `demo-edge`'s command line.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "demo-edge",
    version,
    about = "The demo's edge (HTTP in, gRPC over mTLS to documents)."
)]
pub struct EdgeArgs {
    /// Where to serve (plain HTTP).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The trust pattern of its calls to documents.
    #[arg(long, value_enum, default_value_t = DemoPattern::SignedPassport)]
    pub pattern: DemoPattern,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tls: TlsArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub keys: KeyArgs,
    /// The documents service.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
    pub documents: SocketAddr,
    /// The external identity provider's issuer (its keys by OpenID Connect Discovery).
    #[arg(long, value_name = "URL", required_unless_present = "config")]
    pub idp_issuer: Option<String>,
    /// A configuration file: the verifier of external tokens (`[jwt]`) and, with
    /// `[propagate]`, the route to documents (instead of `--idp-issuer`).
    #[arg(long, value_name = "FILE", conflicts_with = "idp_issuer")]
    pub config: Option<PathBuf>,
}

/// Writes a development set for the three processes into `dir`: `ca.pem`; per workload
/// (`edge`, `documents`, `audit`, and a client `grpcurl`) `{name}.pem` and
/// `{name}-key.pem`; per calling service (`edge`, `documents`) its private
/// `{name}-mint-key.pem` and `{name}-passport-key.pem` and public `{name}-trust.json`.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("demo-set-{}", std::process::id()));
/// examples::demo::process::write_dev_set(&dir)?;
/// assert!(dir.join("documents-key.pem").exists() && dir.join("edge-trust.json").exists());
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), examples::demo::DemoError>(())
/// ```
///
/// # Errors
/// [`DemoError::Config`] when a key, certificate or file cannot be made.
pub fn write_dev_set(dir: &std::path::Path) -> Result<(), DemoError> {
    let pki = super::pki::DevPki::generate()?;
    pki.write_to(dir)?;
    for name in ["edge", "documents", "audit", "grpcurl"] {
        let id =
            tower_auth::peer::SpiffeId::new(&format!("spiffe://{}/{name}", super::TRUST_DOMAIN))
                .map_err(|e| DemoError::config("SPIFFE ID", e))?;
        pki.workload(&id, name != "grpcurl")?.write_to(dir, name)?;
    }
    for name in ["edge", "documents"] {
        super::trust::write_dev_keys(dir, name)?;
    }
    Ok(())
}

fn idp(issuer: Option<&str>) -> Result<Option<IdpTrust>, DemoError> {
    issuer.map(IdpTrust::new).transpose()
}

fn audience(name: &str) -> Result<Audience, DemoError> {
    Audience::new(name).map_err(|e| DemoError::config("audience", e))
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), DemoError> {
    let error = |e: std::io::Error| DemoError::Bind {
        addr,
        detail: e.to_string(),
    };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let local = listener.local_addr().map_err(error)?;
    Ok((listener, local))
}

/// The caller's public trust (`--caller`); clap requires it without `--config`.
fn caller(path: Option<&PathBuf>) -> Result<CallerTrust, DemoError> {
    let path = path.ok_or_else(|| DemoError::config("--caller", "give --caller or --config"))?;
    CallerTrust::from_file(path)
}

/// What a hop's flags or its configuration file say about how it admits calls.
struct HopAdmission {
    verifier: HopVerifier,
    gate: PeerGate,
    trust_domain: Option<TrustDomain>,
}

impl HopAdmission {
    fn from_flags(verifier: HopVerifier) -> Self {
        HopAdmission {
            verifier,
            gate: PeerGate::default(),
            trust_domain: None,
        }
    }

    async fn from_file(file: &mut ConfigFile) -> Result<Self, DemoError> {
        Ok(HopAdmission {
            verifier: file.hop_verifier().await?,
            gate: PeerGate::new(file.admitted_peers().cloned()),
            trust_domain: file.trust_domain().cloned(),
        })
    }
}

/// The route of the calls to `next` at `endpoint`: the file's `[propagate]` route if it
/// has one, `pattern`'s with `keys` otherwise; with the demo pattern it amounts to.
fn next_route(
    file: Option<&ConfigFile>,
    next: &'static str,
    endpoint: &tonic::transport::Endpoint,
    pattern: DemoPattern,
    keys: &ServiceKeys,
) -> Result<(DemoPattern, Route), DemoError> {
    if let Some(found) = file
        .map(|file| file.route_to(next, endpoint))
        .transpose()?
        .flatten()
    {
        return Ok(found);
    }
    Ok((pattern, keys.route(pattern, audience(next)?)))
}

/// Runs `audit` as `args` say: `ready` gets the bound address once it serves; serves
/// until `shutdown` resolves.
///
/// # Errors
/// [`DemoError`] when a file, key or certificate is refused, the address cannot be
/// bound, or the server fails.
pub async fn run_audit(
    args: &AuditArgs,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()>,
) -> Result<(), DemoError> {
    let tls = args.tls.load()?;
    let admission = match &args.config {
        Some(path) => HopAdmission::from_file(&mut ConfigFile::load(path)?).await?,
        None => {
            let caller = caller(args.caller.as_ref())?;
            let idp = idp(args.idp_issuer.as_deref())?;
            HopAdmission::from_flags(
                hop_verifier(args.pattern, &audience("audit")?, &caller, idp.as_ref()).await?,
            )
        }
    };
    let (listener, addr) = bind(args.listen).await?;
    let incoming = mtls_incoming(listener, &tls, admission.trust_domain.as_ref())?;
    ready(addr);
    audit::serve(
        args.pattern,
        admission.verifier,
        admission.gate,
        incoming,
        shutdown,
    )
    .await
}

/// Runs `documents` as `args` say; see [`run_audit`].
///
/// # Errors
/// As [`run_audit`].
pub async fn run_documents(
    args: &DocumentsArgs,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()>,
) -> Result<(), DemoError> {
    let tls = args.tls.load()?;
    let keys = args.keys.load("documents")?;
    let mut file = args.config.as_deref().map(ConfigFile::load).transpose()?;
    let admission = match &mut file {
        Some(file) => HopAdmission::from_file(file).await?,
        None => {
            let caller = caller(args.caller.as_ref())?;
            let idp = idp(args.idp_issuer.as_deref())?;
            HopAdmission::from_flags(
                hop_verifier(args.pattern, &audience("documents")?, &caller, idp.as_ref()).await?,
            )
        }
    };
    let to_audit = endpoint(args.audit, &tls)?;
    let (pattern, route) = next_route(file.as_ref(), "audit", &to_audit, args.pattern, &keys)?;
    let to_audit = hop_channel(&to_audit, route)?;
    let (listener, addr) = bind(args.listen).await?;
    let incoming = mtls_incoming(listener, &tls, admission.trust_domain.as_ref())?;
    ready(addr);
    documents::serve(
        pattern,
        admission.verifier,
        admission.gate,
        to_audit,
        incoming,
        shutdown,
    )
    .await
}

/// Runs the edge as `args` say; see [`run_audit`].
///
/// # Errors
/// As [`run_audit`], and [`DemoError::KeysUnavailable`] when the identity provider's
/// keys cannot be loaded.
pub async fn run_edge<F>(
    args: &EdgeArgs,
    ready: impl FnOnce(SocketAddr),
    shutdown: F,
) -> Result<(), DemoError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let tls = args.tls.load()?;
    let keys = args.keys.load("edge")?;
    let mut file = args.config.as_deref().map(ConfigFile::load).transpose()?;
    let verifier = match (&mut file, &args.idp_issuer) {
        (Some(file), _) => file.external_verifier().await?,
        (None, Some(issuer)) => external_verifier(&IdpTrust::new(issuer)?).await?,
        (None, None) => {
            return Err(DemoError::config(
                "--idp-issuer",
                "give --idp-issuer or --config",
            ));
        }
    };
    let to_documents = endpoint(args.documents, &tls)?;
    let (pattern, route) = next_route(
        file.as_ref(),
        "documents",
        &to_documents,
        args.pattern,
        &keys,
    )?;
    let to_documents = hop_channel(&to_documents, route)?;
    let edge = DemoEdge::start(args.listen, pattern, verifier, to_documents).await?;
    ready(edge.local_addr());
    edge.serve(shutdown).await
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (if one cannot be watched, only the other
/// stops the process).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
