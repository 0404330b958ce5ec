//! A development PKI, generated at run time (never checked in, so nothing expires in the
//! repository): one CA, and per workload a certificate with exactly one SPIFFE URI SAN
//! (an X.509-SVID: `spiffe://demo.test/documents`) and, for a server, the DNS name
//! `localhost` that gRPC clients verify.
//!
//! Never for production: the keys live in memory (or in the files
//! [`DevPki::write_to`] writes) and the CA signs whatever it is asked to.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use tower_auth::mtls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tower_auth::peer::SpiffeId;

use super::DemoError;

/// The DNS name the demo's gRPC servers are certified for (and clients dial).
pub const SERVER_NAME: &str = "localhost";

/// A development certificate authority.
///
/// ```
/// use examples::demo::pki::DevPki;
///
/// let pki = DevPki::generate()?;
/// let documents = pki.workload(&"spiffe://demo.test/documents".parse()?, true)?;
/// let id = tower_auth::mtls::spiffe_id_from_certificate(documents.cert_der())?;
/// assert_eq!(id.as_str(), "spiffe://demo.test/documents");
/// assert!(documents.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DevPki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl DevPki {
    /// A new CA with a fresh key.
    ///
    /// # Errors
    /// [`DemoError::Config`] if the key or certificate cannot be made.
    pub fn generate() -> Result<DevPki, DemoError> {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params
            .distinguished_name
            .push(DnType::CommonName, "Baton demo CA (development only)");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().map_err(|e| DemoError::config("CA key", e))?;
        let ca = CertifiedIssuer::self_signed(params, key)
            .map_err(|e| DemoError::config("CA certificate", e))?;
        Ok(DevPki { ca })
    }

    /// The CA certificate, DER.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca.der().clone()
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A certificate for the workload `spiffe_id` (its one URI SAN), signed by this CA,
    /// with a fresh key; a `server` certificate also names [`SERVER_NAME`].
    ///
    /// # Errors
    /// [`DemoError::Config`] if the key or certificate cannot be made.
    pub fn workload(&self, spiffe_id: &SpiffeId, server: bool) -> Result<WorkloadCert, DemoError> {
        let mut sans = vec![SanType::URI(
            spiffe_id
                .as_str()
                .try_into()
                .map_err(|e| DemoError::config("SPIFFE URI SAN", e))?,
        )];
        if server {
            sans.push(SanType::DnsName(
                SERVER_NAME
                    .try_into()
                    .map_err(|e| DemoError::config("DNS SAN", e))?,
            ));
        }
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().map_err(|e| DemoError::config("workload key", e))?;
        let cert = params
            .signed_by(&key, &self.ca)
            .map_err(|e| DemoError::config("workload certificate", e))?;
        Ok(WorkloadCert {
            spiffe_id: spiffe_id.clone(),
            cert_der: cert.der().clone(),
            cert_pem: cert.pem(),
            key_der: key.serialize_der(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Writes `ca.pem` into `dir` (created if missing).
    ///
    /// # Errors
    /// [`DemoError::Config`] when the file cannot be written.
    pub fn write_to(&self, dir: &Path) -> Result<(), DemoError> {
        write(dir, "ca.pem", &self.ca_pem())
    }
}

impl std::fmt::Debug for DevPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevPki").finish_non_exhaustive()
    }
}

fn write(dir: &Path, name: &str, contents: &str) -> Result<(), DemoError> {
    std::fs::create_dir_all(dir).map_err(|e| DemoError::config("PKI directory", e))?;
    std::fs::write(dir.join(name), contents).map_err(|e| DemoError::config("PKI file", e))
}

/// A workload's certificate and private key. The key is never printed (`Debug` shows the
/// SPIFFE ID only).
#[derive(Clone)]
pub struct WorkloadCert {
    spiffe_id: SpiffeId,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    key_der: Vec<u8>,
    key_pem: String,
}

impl WorkloadCert {
    /// The workload's SPIFFE ID (the certificate's URI SAN).
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.spiffe_id
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PKCS#8 DER.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Writes `<name>.pem` and `<name>-key.pem` into `dir` (created if missing).
    ///
    /// # Errors
    /// [`DemoError::Config`] when a file cannot be written.
    pub fn write_to(&self, dir: &Path, name: &str) -> Result<(), DemoError> {
        write(dir, &format!("{name}.pem"), &self.cert_pem)?;
        write(dir, &format!("{name}-key.pem"), &self.key_pem)
    }
}

impl std::fmt::Debug for WorkloadCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadCert")
            .field("spiffe_id", &self.spiffe_id)
            .finish_non_exhaustive()
    }
}
