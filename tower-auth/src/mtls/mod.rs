//! Pattern 5: workload identity from mutual TLS (feature `mtls`).
//!
//! A service that accepts calls from other workloads over mutual TLS learns *which
//! workload* calls from the client certificate: its SPIFFE ID, the one URI SAN of an
//! X.509-SVID. This module turns a verified connection into a [`PeerIdentity`], which
//! the verifiers read through [`Credentials::peer`](crate::credentials::Credentials::peer)
//! (an unsigned passport is accepted only from a peer on the
//! [`PeerAllowlist`](crate::peer::PeerAllowlist), see [`crate::passport`]).
//!
//! | step | item |
//! | --- | --- |
//! | TLS: require a client certificate, verify its chain against the configured CA | [`server_config`] (rustls, aws-lc-rs, TLS 1.3) |
//! | handshake with a timeout, then read the SPIFFE ID once per connection, of the configured trust domain only | [`MtlsAcceptor`] |
//! | the SPIFFE ID of one certificate | [`spiffe_id_from_certificate`], [`peer_identity_from_certificate`] |
//! | axum: a listener for `axum::serve` (handshakes run concurrently, never in the accept loop) | [`MtlsListener`] |
//! | axum: `PeerIdentity` into every request of the connection | [`WithPeerIdentity`], [`PeerIdentityService`] |
//!
//! # What is refused, and where
//!
//! - A client whose certificate chain does not verify against the configured CA, or that
//!   sends no certificate, never gets a TLS session: rustls aborts the handshake.
//! - A client whose certificate verifies but is not a workload identity of this trust
//!   domain (no URI SAN, more than one, a malformed SPIFFE ID, another trust domain) is
//!   not served either: [`MtlsAcceptor::accept`] refuses the connection with a
//!   [`WorkloadIdError`], and [`MtlsListener`] closes it and logs the reason. Such a
//!   connection never reaches a handler, so it can never fall back to anonymous access.
//!
//! # Why here, not in tonic-auth
//!
//! DESIGN §1 puts "mTLS peer / SPIFFE workload identity" in tonic-auth. It lives here
//! instead, because HTTP services behind an axum acceptor need the same identity and the
//! same allowlist as gRPC ones (issue 9: "both transports share one allowlist type"), and
//! tower-auth cannot depend on tonic-auth. tonic-auth keeps only the gRPC glue.
//!
//! # From tonic
//!
//! The identity is transport-neutral: one [`PeerIdentity`] and one allowlist for HTTP and
//! gRPC. tonic's `Server::serve_with_incoming` takes a stream of connections whose type
//! implements tonic's `Connected`, and inserts that connection's `ConnectInfo` into the
//! extensions of every request on it. tonic-auth wraps [`MtlsStream`] in such a type
//! whose `ConnectInfo` is [`MtlsStream::peer_identity`] (a [`PeerIdentity`], read once per
//! connection), and feeds it from [`MtlsListener::next_connection`] (or from
//! [`MtlsAcceptor::accept`] over its own TCP listener). For HTTP/2, set
//! `alpn_protocols = vec![b"h2".to_vec()]` on the [`server_config`] before building the
//! acceptor; gRPC clients expect to negotiate `h2`.

mod listener;
mod service;

use std::sync::Arc;

pub use listener::{
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_PENDING_HANDSHAKES, MTLS_TARGET, MtlsAcceptError,
    MtlsAcceptor, MtlsListener, MtlsStream,
};
pub use rustls;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
pub use service::{PeerIdentityService, WithPeerIdentity};
use x509_parser::extensions::GeneralName;

use crate::peer::{PeerIdentity, SpiffeId, SpiffeIdError, TrustDomain};

/// Why a client certificate is not a workload identity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkloadIdError {
    /// The peer sent no certificate (only possible with a configuration that does not
    /// require one; [`server_config`] always does).
    #[error("the peer sent no client certificate")]
    NoCertificate,
    /// The bytes are not one DER X.509 certificate, or its subject alternative name
    /// extension is malformed or repeated.
    #[error("the peer certificate is not a readable X.509 certificate")]
    NotACertificate,
    /// The certificate has no URI SAN, so no SPIFFE ID.
    #[error("the peer certificate carries no SPIFFE ID")]
    NoSpiffeId,
    /// The certificate has several URI SANs; an X.509-SVID has exactly one, and which one
    /// would be the identity is ambiguous.
    #[error("the peer certificate carries {count} URI SANs, a workload identity exactly one")]
    SeveralUris {
        /// How many URI SANs it carries.
        count: usize,
    },
    /// The URI SAN is not a valid SPIFFE ID (another scheme included).
    #[error("the peer certificate's URI SAN is not a valid SPIFFE ID: {0}")]
    MalformedSpiffeId(SpiffeIdError),
    /// The SPIFFE ID belongs to another trust domain than the configured one.
    #[error("the peer's SPIFFE ID {spiffe_id} is not in trust domain {expected}")]
    ForeignTrustDomain {
        /// The peer's SPIFFE ID.
        spiffe_id: SpiffeId,
        /// The configured trust domain.
        expected: TrustDomain,
    },
}

impl WorkloadIdError {
    /// A stable snake_case label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            WorkloadIdError::NoCertificate => "peer_no_certificate",
            WorkloadIdError::NotACertificate => "peer_not_a_certificate",
            WorkloadIdError::NoSpiffeId => "peer_no_spiffe_id",
            WorkloadIdError::SeveralUris { .. } => "peer_several_uri_sans",
            WorkloadIdError::MalformedSpiffeId(_) => "peer_malformed_spiffe_id",
            WorkloadIdError::ForeignTrustDomain { .. } => "peer_foreign_trust_domain",
        }
    }
}

/// The SPIFFE ID of a DER-encoded X.509 certificate: its one URI SAN, validated as a
/// [`SpiffeId`]. It reads the certificate only: call it on a certificate whose chain the
/// TLS layer has verified (as [`MtlsAcceptor`] does).
///
/// Following the X.509-SVID specification, the certificate must carry exactly one URI
/// SAN, and it must be a SPIFFE ID: a certificate that adds an `https://` URI beside its
/// `spiffe://` one is refused rather than guessed at.
///
/// ```
/// use tower_auth::mtls::{spiffe_id_from_certificate, WorkloadIdError};
///
/// let key = rcgen::KeyPair::generate()?;
/// let mut params = rcgen::CertificateParams::default();
/// params.subject_alt_names = vec![rcgen::SanType::URI("spiffe://prod.example/api".try_into()?)];
/// let cert = params.self_signed(&key)?;
/// let id = spiffe_id_from_certificate(cert.der())?;
/// assert_eq!(id.as_str(), "spiffe://prod.example/api");
///
/// // Refused: a certificate with a DNS name only, and bytes that are no certificate.
/// let dns_only = rcgen::CertificateParams::new(["api.prod.example".to_owned()])?.self_signed(&key)?;
/// assert_eq!(spiffe_id_from_certificate(dns_only.der()), Err(WorkloadIdError::NoSpiffeId));
/// assert_eq!(spiffe_id_from_certificate(b"junk"), Err(WorkloadIdError::NotACertificate));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`WorkloadIdError::NotACertificate`], [`NoSpiffeId`](WorkloadIdError::NoSpiffeId),
/// [`SeveralUris`](WorkloadIdError::SeveralUris) or
/// [`MalformedSpiffeId`](WorkloadIdError::MalformedSpiffeId).
pub fn spiffe_id_from_certificate(der: &[u8]) -> Result<SpiffeId, WorkloadIdError> {
    let (rest, certificate) =
        x509_parser::parse_x509_certificate(der).map_err(|_| WorkloadIdError::NotACertificate)?;
    if !rest.is_empty() {
        return Err(WorkloadIdError::NotACertificate);
    }
    // Errors on a malformed or repeated SAN extension.
    let san = certificate
        .subject_alternative_name()
        .map_err(|_| WorkloadIdError::NotACertificate)?;
    let mut uris = san
        .iter()
        .flat_map(|san| san.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some(*uri),
            _ => None,
        });
    let uri = uris.next().ok_or(WorkloadIdError::NoSpiffeId)?;
    let others = uris.count();
    if others > 0 {
        return Err(WorkloadIdError::SeveralUris { count: others + 1 });
    }
    SpiffeId::new(uri).map_err(WorkloadIdError::MalformedSpiffeId)
}

/// The [`PeerIdentity`] of a verified client certificate, if its SPIFFE ID (see
/// [`spiffe_id_from_certificate`]) belongs to `trust_domain`.
///
/// ```
/// use tower_auth::mtls::{peer_identity_from_certificate, WorkloadIdError};
/// use tower_auth::peer::TrustDomain;
///
/// let key = rcgen::KeyPair::generate()?;
/// let svid = |id: &str| -> Result<_, Box<dyn std::error::Error>> {
///     let mut params = rcgen::CertificateParams::default();
///     params.subject_alt_names = vec![rcgen::SanType::URI(id.try_into()?)];
///     Ok(params.self_signed(&key)?)
/// };
/// let domain: TrustDomain = "prod.example".parse()?;
/// let peer = peer_identity_from_certificate(svid("spiffe://prod.example/api")?.der(), &domain)?;
/// assert_eq!(peer.spiffe_id().path(), "/api");
///
/// // Refused: a workload of another trust domain.
/// assert!(matches!(
///     peer_identity_from_certificate(svid("spiffe://other.example/api")?.der(), &domain),
///     Err(WorkloadIdError::ForeignTrustDomain { .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Those of [`spiffe_id_from_certificate`], and
/// [`WorkloadIdError::ForeignTrustDomain`].
pub fn peer_identity_from_certificate(
    der: &[u8],
    trust_domain: &TrustDomain,
) -> Result<PeerIdentity, WorkloadIdError> {
    let spiffe_id = spiffe_id_from_certificate(der)?;
    if !trust_domain.contains(&spiffe_id) {
        return Err(WorkloadIdError::ForeignTrustDomain {
            spiffe_id,
            expected: trust_domain.clone(),
        });
    }
    Ok(PeerIdentity::new(spiffe_id))
}

/// Why a mutual-TLS server configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MtlsConfigError {
    /// No client CA certificate was given: no client could ever be verified.
    #[error("no client CA certificate")]
    NoClientCa,
    /// A client CA certificate is not usable as a trust anchor.
    #[error("a client CA certificate is not a usable trust anchor: {0}")]
    InvalidClientCa(rustls::Error),
    /// rustls refused the client certificate verifier.
    #[error("the client certificate verifier could not be built: {0}")]
    Verifier(rustls::server::VerifierBuilderError),
    /// rustls refused the server's own certificate chain or private key.
    #[error("the server certificate or key is not usable: {0}")]
    ServerCertificate(rustls::Error),
}

/// A rustls server configuration for mutual TLS: TLS 1.3 only, the aws-lc-rs provider,
/// `cert_chain` and `key` as the server's own identity, and a client certificate
/// *required* and verified against `client_cas` (a client without one, or whose chain
/// does not verify, gets no TLS session). No ALPN protocol is set: add `h2` for gRPC.
///
/// ```
/// use std::sync::Arc;
/// use tower_auth::mtls::{server_config, MtlsConfigError};
///
/// let mut ca = rcgen::CertificateParams::default();
/// ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
/// let ca = rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate()?)?;
/// let server_key = rcgen::KeyPair::generate()?;
/// let server = rcgen::CertificateParams::new(["orders.internal".to_owned()])?
///     .signed_by(&server_key, &ca)?;
///
/// let key = || rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
/// let config = server_config([ca.der().clone()], vec![server.der().clone()], key())?;
/// assert!(config.alpn_protocols.is_empty());
///
/// // Refused: no client CA at all.
/// assert!(matches!(
///     server_config([], vec![server.der().clone()], key()),
///     Err(MtlsConfigError::NoClientCa)
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`MtlsConfigError`]: no client CA, an unusable CA, chain or key.
pub fn server_config(
    client_cas: impl IntoIterator<Item = CertificateDer<'static>>,
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, MtlsConfigError> {
    let mut roots = RootCertStore::empty();
    for ca in client_cas {
        roots.add(ca).map_err(MtlsConfigError::InvalidClientCa)?;
    }
    if roots.is_empty() {
        return Err(MtlsConfigError::NoClientCa);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    // Client authentication is mandatory: the builder's default, never loosened here.
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(MtlsConfigError::Verifier)?;
    ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(MtlsConfigError::ServerCertificate)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(cert_chain, key)
        .map_err(MtlsConfigError::ServerCertificate)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rcgen::{CertificateParams, CustomExtension, KeyPair, SanType};

    use super::*;

    fn certificate(sans: &[SanType], extra: Vec<CustomExtension>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans.to_vec();
        params.custom_extensions = extra;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn uri(value: &str) -> SanType {
        SanType::URI(value.try_into().unwrap())
    }

    fn dns(value: &str) -> SanType {
        SanType::DnsName(value.try_into().unwrap())
    }

    #[test]
    fn the_one_uri_san_is_the_spiffe_id_and_dns_names_do_not_count() {
        let der = certificate(
            &[dns("api.prod.example"), uri("spiffe://prod.example/api")],
            vec![],
        );
        let id = spiffe_id_from_certificate(&der).unwrap();
        assert_eq!(id.as_str(), "spiffe://prod.example/api");
    }

    #[test]
    fn every_refusal_has_its_error() {
        use WorkloadIdError::*;
        let long = format!("spiffe://prod.example/{}", "a".repeat(MAX));
        const MAX: usize = crate::peer::MAX_SPIFFE_ID_LEN;
        let cases: Vec<(Vec<u8>, WorkloadIdError)> = vec![
            (certificate(&[], vec![]), NoSpiffeId),
            (certificate(&[dns("api.prod.example")], vec![]), NoSpiffeId),
            (
                certificate(
                    &[
                        uri("spiffe://prod.example/a"),
                        uri("https://prod.example/a"),
                    ],
                    vec![],
                ),
                SeveralUris { count: 2 },
            ),
            (
                certificate(
                    &[
                        uri("spiffe://prod.example/a"),
                        uri("spiffe://prod.example/b"),
                        uri("spiffe://prod.example/c"),
                    ],
                    vec![],
                ),
                SeveralUris { count: 3 },
            ),
            (
                certificate(&[uri("https://prod.example/a")], vec![]),
                MalformedSpiffeId(SpiffeIdError::WrongScheme),
            ),
            (
                certificate(&[uri("spiffe://prod.example:8443/a")], vec![]),
                MalformedSpiffeId(SpiffeIdError::InvalidTrustDomain),
            ),
            (
                certificate(&[uri("spiffe://prod.example/a?b")], vec![]),
                MalformedSpiffeId(SpiffeIdError::InvalidPath),
            ),
            (
                certificate(&[uri(&long)], vec![]),
                MalformedSpiffeId(SpiffeIdError::TooLong {
                    len: long.len(),
                    max: MAX,
                }),
            ),
        ];
        for (der, expected) in cases {
            assert_eq!(spiffe_id_from_certificate(&der), Err(expected));
        }
    }

    #[test]
    fn bytes_that_are_not_exactly_one_certificate_are_refused() {
        let der = certificate(&[uri("spiffe://prod.example/a")], vec![]);
        let mut trailing = der.clone();
        trailing.push(0);
        for bad in [&[][..], b"junk", &der[..der.len() - 1], &trailing] {
            assert_eq!(
                spiffe_id_from_certificate(bad),
                Err(WorkloadIdError::NotACertificate)
            );
        }
        assert_eq!(
            WorkloadIdError::NotACertificate.reason(),
            "peer_not_a_certificate"
        );
    }

    #[test]
    fn a_second_san_extension_is_refused_rather_than_either_one_trusted() {
        // SEQUENCE { [6] IA5String "spiffe://prod.example/b" }: a second SAN extension.
        let second = b"spiffe://prod.example/b";
        let mut content = vec![0x30, second.len() as u8 + 2, 0x86, second.len() as u8];
        content.extend_from_slice(second);
        let extension = || CustomExtension::from_oid_content(&[2, 5, 29, 17], content.clone());
        // Alone, the hand-made extension is a valid SAN.
        let alone = certificate(&[], vec![extension()]);
        assert_eq!(
            spiffe_id_from_certificate(&alone).unwrap().as_str(),
            "spiffe://prod.example/b"
        );
        let der = certificate(&[uri("spiffe://prod.example/a")], vec![extension()]);
        assert_eq!(
            spiffe_id_from_certificate(&der),
            Err(WorkloadIdError::NotACertificate)
        );
    }

    #[test]
    fn the_trust_domain_must_be_exactly_the_configured_one() {
        let domain = TrustDomain::new("prod.example").unwrap();
        let of = |id: &str| certificate(&[uri(id)], vec![]);
        assert!(peer_identity_from_certificate(&of("spiffe://prod.example/a"), &domain).is_ok());
        assert!(peer_identity_from_certificate(&of("spiffe://prod.example"), &domain).is_ok());
        for foreign in [
            "spiffe://other.example/a",
            "spiffe://a.prod.example/a",
            "spiffe://prod.example.evil/a",
        ] {
            let refused = peer_identity_from_certificate(&of(foreign), &domain).unwrap_err();
            assert!(
                matches!(&refused, WorkloadIdError::ForeignTrustDomain { spiffe_id, .. } if spiffe_id.as_str() == foreign)
            );
        }
        // Errors before the trust domain check stay what they are.
        assert_eq!(
            peer_identity_from_certificate(b"junk", &domain),
            Err(WorkloadIdError::NotACertificate)
        );
    }

    #[test]
    fn a_server_config_needs_a_usable_client_ca() {
        let key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let private = || PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let chain = || vec![server.der().clone()];
        assert!(matches!(
            server_config([CertificateDer::from(b"junk".to_vec())], chain(), private()),
            Err(MtlsConfigError::InvalidClientCa(_))
        ));
        assert!(matches!(
            server_config([], chain(), private()),
            Err(MtlsConfigError::NoClientCa)
        ));
        // A key that is not the certificate's.
        let other = KeyPair::generate().unwrap();
        let mismatched = PrivateKeyDer::Pkcs8(other.serialize_der().into());
        assert!(matches!(
            server_config([server.der().clone()], chain(), mismatched),
            Err(MtlsConfigError::ServerCertificate(_))
        ));
        // Mandatory client authentication is shown over TLS in tests/mtls_http.rs.
        assert!(server_config([server.der().clone()], chain(), private()).is_ok());
    }
}
