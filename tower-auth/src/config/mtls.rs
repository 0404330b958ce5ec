//! `[mtls]`: this workload's mutual-TLS material (pattern 5), read and checked at load, and
//! [`WorkloadTls`], the same from code ([`WorkloadTls::from_files`], [`WorkloadTls::from_pem`]).
//!
//! ```toml
//! [mtls]
//! ca_file = "tls/ca.pem"       # the CA of the trust domain: peers' certificates verify against it
//! cert_file = "tls/svid.pem"   # this workload's certificate (one spiffe:// URI SAN), then intermediates
//! key_file = "tls/svid.key"    # its private key (PKCS#8, PKCS#1 or SEC1 PEM)
//! ```

use serde::Deserialize;

/// `[mtls]`: three PEM files, relative to the configuration file. Read in every build, so
/// that a build without the `mtls` feature refuses it by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(feature = "mtls"), allow(dead_code))]
pub(super) struct MtlsSection {
    ca_file: String,
    cert_file: String,
    key_file: String,
}

#[cfg(not(feature = "mtls"))]
pub(super) fn mtls(_: &MtlsSection, _: &std::path::Path) -> Result<(), super::sections::Refusal> {
    Err(super::revocation::feature_missing(
        super::locate::FieldPath::default().key("mtls"),
        "mtls",
    ))
}

#[cfg(feature = "mtls")]
pub(super) use self::enabled::mtls;
#[cfg(feature = "mtls")]
pub use self::enabled::{TlsMaterial, WorkloadTls, WorkloadTlsError};

#[cfg(feature = "mtls")]
mod enabled {
    use std::fmt;
    use std::path::Path;
    use std::sync::Arc;

    use rustls::client::ClientConfig;
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
    use rustls::server::{ServerConfig, WebPkiClientVerifier};
    use rustls::sign::CertifiedKey;
    use rustls::{InconsistentKeys, RootCertStore};

    use super::super::locate::FieldPath;
    use super::super::sections::{Refusal, SECRET_UNAVAILABLE};
    use super::MtlsSection;
    use crate::mtls::{MtlsAcceptor, MtlsConfigError, WorkloadIdError, spiffe_id_from_certificate};
    use crate::peer::{SpiffeId, TrustDomain};

    /// Which of the three PEM inputs of a [`WorkloadTls`] an error is about.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum TlsMaterial {
        /// The CA certificate(s) (`ca_file`).
        Ca,
        /// The workload's certificate chain (`cert_file`).
        Certificate,
        /// The workload's private key (`key_file`).
        Key,
    }

    impl TlsMaterial {
        /// The key of the `[mtls]` section: `ca_file`, `cert_file` or `key_file`.
        pub fn key(self) -> &'static str {
            match self {
                TlsMaterial::Ca => "ca_file",
                TlsMaterial::Certificate => "cert_file",
                TlsMaterial::Key => "key_file",
            }
        }
    }

    impl fmt::Display for TlsMaterial {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(match self {
                TlsMaterial::Ca => "CA certificate",
                TlsMaterial::Certificate => "workload certificate",
                TlsMaterial::Key => "private key",
            })
        }
    }

    /// Why mutual-TLS material is refused. Never holds key material.
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum WorkloadTlsError {
        /// A file could not be read.
        #[error("{material}: cannot read {message}")]
        Unreadable {
            /// Which file.
            material: TlsMaterial,
            /// The path and the I/O error.
            message: String,
        },
        /// The PEM text holds no item of the expected kind, or a malformed one.
        #[error("{material}: {message}")]
        Pem {
            /// Which input.
            material: TlsMaterial,
            /// What is wrong (no key material).
            message: String,
        },
        /// A CA certificate is not usable as a trust anchor.
        #[error("CA certificate: not a usable trust anchor: {0}")]
        InvalidCa(rustls::Error),
        /// The workload certificate is no workload identity (no SPIFFE URI SAN, several, a
        /// malformed one).
        #[error("workload certificate: {0}")]
        NotAWorkload(WorkloadIdError),
        /// The workload certificate does not verify against the CA (another CA, expired,
        /// not valid for client authentication).
        #[error("workload certificate: does not verify against the CA: {0}")]
        NotIssuedByCa(rustls::Error),
        /// The private key is not usable by the crypto provider.
        #[error("private key: not usable: {0}")]
        UnusableKey(rustls::Error),
        /// The private key is not the workload certificate's.
        #[error("private key: not the workload certificate's key")]
        KeyMismatch,
    }

    impl WorkloadTlsError {
        /// Which input is at fault.
        pub fn material(&self) -> TlsMaterial {
            match self {
                WorkloadTlsError::Unreadable { material, .. }
                | WorkloadTlsError::Pem { material, .. } => *material,
                WorkloadTlsError::InvalidCa(_) => TlsMaterial::Ca,
                WorkloadTlsError::NotAWorkload(_) | WorkloadTlsError::NotIssuedByCa(_) => {
                    TlsMaterial::Certificate
                }
                WorkloadTlsError::UnusableKey(_) | WorkloadTlsError::KeyMismatch => {
                    TlsMaterial::Key
                }
            }
        }

        /// A stable snake_case label for logs.
        pub fn reason(&self) -> &'static str {
            match self {
                WorkloadTlsError::Unreadable { .. } => "unreadable_file",
                WorkloadTlsError::Pem { .. } => "malformed_pem",
                WorkloadTlsError::InvalidCa(_) => "invalid_ca",
                WorkloadTlsError::NotAWorkload(error) => error.reason(),
                WorkloadTlsError::NotIssuedByCa(_) => "not_issued_by_ca",
                WorkloadTlsError::UnusableKey(_) => "unusable_key",
                WorkloadTlsError::KeyMismatch => "key_mismatch",
            }
        }
    }

    /// A workload's mutual-TLS material, checked: the CA that certifies the trust domain,
    /// this workload's certificate chain (its leaf carries exactly one SPIFFE URI SAN and
    /// verifies against the CA) and the matching private key. It makes the
    /// [`server_config`](crate::mtls::server_config) and [`MtlsAcceptor`] of the server
    /// side and the rustls [`ClientConfig`] of the client side. `Debug` never shows the key.
    ///
    /// ```
    /// use tower_auth::config::{TlsMaterial, WorkloadTls};
    ///
    /// let mut ca = rcgen::CertificateParams::default();
    /// ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    /// let ca = rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate()?)?;
    /// let key = rcgen::KeyPair::generate()?;
    /// let mut params = rcgen::CertificateParams::default();
    /// params.subject_alt_names = vec![rcgen::SanType::URI("spiffe://prod.example/orders".try_into()?)];
    /// let cert = params.signed_by(&key, &ca)?;
    /// let pem = |label: &str, der: &[u8]| {
    ///     use base64::Engine as _;
    ///     let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    ///     format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n")
    /// };
    /// let (ca_pem, cert_pem) = (pem("CERTIFICATE", ca.der()), pem("CERTIFICATE", cert.der()));
    ///
    /// let tls = WorkloadTls::from_pem(&ca_pem, &cert_pem, &pem("PRIVATE KEY", &key.serialize_der()))?;
    /// assert_eq!(tls.spiffe_id().as_str(), "spiffe://prod.example/orders");
    /// let acceptor = tls.acceptor()?; // for an MtlsListener
    /// assert_eq!(acceptor.trust_domain().as_str(), "prod.example");
    ///
    /// // Refused: another key than the certificate's.
    /// let other = rcgen::KeyPair::generate()?;
    /// let error = WorkloadTls::from_pem(&ca_pem, &cert_pem, &pem("PRIVATE KEY", &other.serialize_der()))
    ///     .unwrap_err();
    /// assert_eq!((error.material(), error.reason()), (TlsMaterial::Key, "key_mismatch"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub struct WorkloadTls {
        cas: Vec<CertificateDer<'static>>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        spiffe_id: SpiffeId,
        trust_domain: TrustDomain,
    }

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::aws_lc_rs::default_provider())
    }

    fn certificates(
        material: TlsMaterial,
        pem: &str,
    ) -> Result<Vec<CertificateDer<'static>>, WorkloadTlsError> {
        let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| WorkloadTlsError::Pem {
                material,
                message: format!("malformed PEM: {error}"),
            })?;
        if certificates.is_empty() {
            return Err(WorkloadTlsError::Pem {
                material,
                message: "no CERTIFICATE in the PEM text".to_owned(),
            });
        }
        Ok(certificates)
    }

    impl WorkloadTls {
        /// From PEM text: the CA certificate(s), this workload's certificate chain (leaf
        /// first) and its private key.
        ///
        /// # Errors
        /// [`WorkloadTlsError`], naming the input at fault: malformed PEM, an unusable CA,
        /// a certificate that is no workload identity or does not verify against the CA
        /// (now), a key that is unusable or not the certificate's.
        pub fn from_pem(
            ca_pem: &str,
            cert_pem: &str,
            key_pem: &str,
        ) -> Result<WorkloadTls, WorkloadTlsError> {
            let cas = certificates(TlsMaterial::Ca, ca_pem)?;
            let chain = certificates(TlsMaterial::Certificate, cert_pem)?;
            // The PEM error of a key file is about its structure, never its content.
            let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|error| {
                WorkloadTlsError::Pem {
                    material: TlsMaterial::Key,
                    message: format!("no usable PRIVATE KEY in the PEM text: {error}"),
                }
            })?;
            let Some((leaf, intermediates)) = chain.split_first() else {
                // `certificates` never returns an empty list; kept typed all the same.
                return Err(WorkloadTlsError::Pem {
                    material: TlsMaterial::Certificate,
                    message: "no CERTIFICATE in the PEM text".to_owned(),
                });
            };
            let spiffe_id =
                spiffe_id_from_certificate(leaf).map_err(WorkloadTlsError::NotAWorkload)?;
            let trust_domain = TrustDomain::new(spiffe_id.trust_domain()).map_err(|error| {
                WorkloadTlsError::NotAWorkload(WorkloadIdError::MalformedSpiffeId(error))
            })?;

            let mut roots = RootCertStore::empty();
            for ca in &cas {
                roots.add(ca.clone()).map_err(WorkloadTlsError::InvalidCa)?;
            }
            let provider = provider();
            // What every peer of the trust domain will check of this certificate.
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|error| {
                    WorkloadTlsError::InvalidCa(rustls::Error::General(error.to_string()))
                })?
                .verify_client_cert(leaf, intermediates, UnixTime::now())
                .map_err(WorkloadTlsError::NotIssuedByCa)?;

            let signing = provider
                .key_provider
                .load_private_key(key.clone_key())
                .map_err(WorkloadTlsError::UnusableKey)?;
            // `Unknown` (the provider cannot tell) is left to the TLS handshake.
            if let Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) =
                CertifiedKey::new(chain.clone(), signing).keys_match()
            {
                return Err(WorkloadTlsError::KeyMismatch);
            }
            Ok(WorkloadTls {
                cas,
                chain,
                key,
                spiffe_id,
                trust_domain,
            })
        }

        /// From PEM files (`ca`, `cert`, `key`); see [`from_pem`](Self::from_pem).
        ///
        /// ```
        /// use tower_auth::config::{TlsMaterial, WorkloadTls};
        ///
        /// let error = WorkloadTls::from_files("/nonexistent/ca.pem", "svid.pem", "svid.key").unwrap_err();
        /// assert_eq!((error.material(), error.reason()), (TlsMaterial::Ca, "unreadable_file"));
        /// ```
        ///
        /// # Errors
        /// [`WorkloadTlsError::Unreadable`], or those of [`from_pem`](Self::from_pem).
        pub fn from_files(
            ca: impl AsRef<Path>,
            cert: impl AsRef<Path>,
            key: impl AsRef<Path>,
        ) -> Result<WorkloadTls, WorkloadTlsError> {
            let read = |material: TlsMaterial, path: &Path| {
                std::fs::read_to_string(path).map_err(|error| WorkloadTlsError::Unreadable {
                    material,
                    message: format!("{}: {error}", path.display()),
                })
            };
            let ca = read(TlsMaterial::Ca, ca.as_ref())?;
            let cert = read(TlsMaterial::Certificate, cert.as_ref())?;
            let key = read(TlsMaterial::Key, key.as_ref())?;
            WorkloadTls::from_pem(&ca, &cert, &key)
        }

        /// This workload's SPIFFE ID (its certificate's URI SAN).
        pub fn spiffe_id(&self) -> &SpiffeId {
            &self.spiffe_id
        }

        /// The trust domain of that ID: the one peers must belong to.
        pub fn trust_domain(&self) -> &TrustDomain {
            &self.trust_domain
        }

        /// The CA certificate(s).
        pub fn ca_certificates(&self) -> &[CertificateDer<'static>] {
            &self.cas
        }

        /// The workload's certificate chain, leaf first.
        pub fn certificate_chain(&self) -> &[CertificateDer<'static>] {
            &self.chain
        }

        /// A copy of the private key, for a TLS configuration this type does not build
        /// (tonic-auth's gRPC server configuration).
        pub fn private_key(&self) -> PrivateKeyDer<'static> {
            self.key.clone_key()
        }

        /// The server side: [`server_config`](crate::mtls::server_config) with this
        /// material (client certificates required, verified against the CA).
        ///
        /// # Errors
        /// [`MtlsConfigError`] (not expected for material [`from_pem`](Self::from_pem)
        /// accepted).
        pub fn server_config(&self) -> Result<ServerConfig, MtlsConfigError> {
            crate::mtls::server_config(self.cas.clone(), self.chain.clone(), self.private_key())
        }

        /// An [`MtlsAcceptor`] over [`server_config`](Self::server_config) that admits
        /// peers of this workload's trust domain only.
        ///
        /// # Errors
        /// As [`server_config`](Self::server_config).
        pub fn acceptor(&self) -> Result<MtlsAcceptor, MtlsConfigError> {
            Ok(MtlsAcceptor::new(
                Arc::new(self.server_config()?),
                self.trust_domain.clone(),
            ))
        }

        /// The client side: TLS 1.3 with the aws-lc-rs provider, servers verified against
        /// the CA (by the DNS name the connection gives), this workload's certificate
        /// presented. No ALPN protocol is set: add `h2` for gRPC.
        ///
        /// # Errors
        /// A [`rustls::Error`] (not expected for material [`from_pem`](Self::from_pem)
        /// accepted).
        pub fn client_config(&self) -> Result<ClientConfig, rustls::Error> {
            let mut roots = RootCertStore::empty();
            for ca in &self.cas {
                roots.add(ca.clone())?;
            }
            ClientConfig::builder_with_provider(provider())
                .with_protocol_versions(&[&rustls::version::TLS13])?
                .with_root_certificates(roots)
                .with_client_auth_cert(self.chain.clone(), self.private_key())
        }
    }

    impl fmt::Debug for WorkloadTls {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("WorkloadTls")
                .field("spiffe_id", &self.spiffe_id)
                .field("chain_len", &self.chain.len())
                .field("cas", &self.cas.len())
                .finish_non_exhaustive()
        }
    }

    pub(in crate::config) fn mtls(
        section: &MtlsSection,
        base: &Path,
    ) -> Result<WorkloadTls, Refusal> {
        let at = FieldPath::default().key("mtls");
        WorkloadTls::from_files(
            base.join(&section.ca_file),
            base.join(&section.cert_file),
            base.join(&section.key_file),
        )
        .map_err(|error| {
            let reason = match &error {
                // An unreadable key is an unavailable secret, like every `*_file` secret.
                WorkloadTlsError::Unreadable {
                    material: TlsMaterial::Key,
                    ..
                } => SECRET_UNAVAILABLE,
                _ => error.reason(),
            };
            Refusal::at(at.clone().key(error.material().key()), reason, &error)
        })
    }
}
