//! A demo chain of real services: an axum edge, a tonic `documents` service and a tonic
//! `audit` service called by `documents`, with one trust pattern chosen for every hop.
//!
//! ```text
//!  client --HTTP, external JWT--> edge --gRPC/mTLS--> documents --gRPC/mTLS--> audit
//! ```
//!
//! The edge verifies the external JWT of the development identity provider
//! (tower-auth's [`DevIdp`](tower_auth::dev_idp::DevIdp)) and calls `documents`; for
//! every document it serves, `documents` calls `audit`. Each gRPC hop verifies the
//! identity the previous hop attached, as the [`DemoPattern`] says, and answers with
//! what it saw ([`HopView`](proto::HopView): subject, kind, delegation chain, acting
//! party, calling service, mTLS peer, pattern), so the demo can print every hop and the
//! tests can assert it. Both gRPC services serve gRPC server reflection.
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`proto`] | the generated schema and its descriptor set |
//! | [`trust`] | each service's keys, what a callee knows of its caller, the verifier and the route of each pattern |
//! | [`pki`] | a development CA and SPIFFE workload certificates, generated at run time |
//! | [`documents`], [`audit`] | the tonic services and their servers |
//! | [`edge`] | the axum edge of the chain |
//! | [`chain`] | the whole chain with an embedded identity provider, in one process |
//! | [`process`], [`config`] | each service as a process of its own, from flags or a configuration file |

pub mod audit;
pub mod chain;
pub mod config;
pub mod documents;
pub mod edge;
mod net;
pub use net::{HopChannel, PeerGate, WorkloadTls, endpoint, hop_channel, mtls_incoming};
mod hop;
pub mod pki;
pub mod process;
pub mod proto;
pub mod trust;

pub use hop::{Hop, hop_view};

/// The SPIFFE trust domain of the demo's workloads.
pub const TRUST_DOMAIN: &str = "demo.test";

/// The audience external tokens are issued for (the edge's; in the passthrough pattern
/// every hop accepts it).
pub const EXTERNAL_AUDIENCE: &str = "demo";

/// The trust pattern every hop of the chain uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
#[non_exhaustive]
pub enum DemoPattern {
    /// 1. The external JWT is forwarded; every hop verifies it against the identity
    ///    provider's JWKS.
    Passthrough,
    /// 2. Each calling service mints a short-lived internal JWT for the next hop's
    ///    audience; the hop verifies it with the caller's published keys.
    InternalJwt,
    /// 4. Each calling service signs a passport for the next hop with its own Ed25519
    ///    key (re-signed per hop).
    SignedPassport,
    /// 4 + 5. An unsigned passport, accepted only from the caller's mTLS workload
    ///    identity (its SPIFFE ID is on the hop's allowlist).
    UnsignedPassport,
}

impl DemoPattern {
    /// Every pattern, in the order the demo runs them.
    pub const ALL: [DemoPattern; 4] = [
        DemoPattern::Passthrough,
        DemoPattern::InternalJwt,
        DemoPattern::SignedPassport,
        DemoPattern::UnsignedPassport,
    ];

    /// The flag value (`--pattern signed-passport`).
    ///
    /// ```
    /// use examples::demo::DemoPattern;
    /// assert_eq!(DemoPattern::UnsignedPassport.as_str(), "unsigned-passport");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            DemoPattern::Passthrough => "passthrough",
            DemoPattern::InternalJwt => "internal-jwt",
            DemoPattern::SignedPassport => "signed-passport",
            DemoPattern::UnsignedPassport => "unsigned-passport",
        }
    }

    /// How the identity travels, in a few words.
    ///
    /// ```
    /// use examples::demo::DemoPattern;
    /// assert!(DemoPattern::Passthrough.summary().contains("external JWT"));
    /// ```
    pub fn summary(self) -> &'static str {
        match self {
            DemoPattern::Passthrough => "every hop verifies the external JWT, forwarded",
            DemoPattern::InternalJwt => "each caller mints an internal JWT for the next hop",
            DemoPattern::SignedPassport => {
                "each caller signs a passport for the next hop (Ed25519)"
            }
            DemoPattern::UnsignedPassport => {
                "unsigned passports, accepted only from the allowlisted mTLS caller"
            }
        }
    }

    /// The tower-auth pattern the gRPC hops verify under.
    ///
    /// ```
    /// use examples::demo::DemoPattern;
    /// use tower_auth::Pattern;
    /// assert_eq!(DemoPattern::SignedPassport.verified_as(), Pattern::Passport);
    /// assert_eq!(DemoPattern::Passthrough.verified_as(), Pattern::JwtPassthrough);
    /// ```
    pub fn verified_as(self) -> tower_auth::Pattern {
        match self {
            DemoPattern::Passthrough => tower_auth::Pattern::JwtPassthrough,
            DemoPattern::InternalJwt => tower_auth::Pattern::InternalJwt,
            DemoPattern::SignedPassport | DemoPattern::UnsignedPassport => {
                tower_auth::Pattern::Passport
            }
        }
    }
}

impl std::fmt::Display for DemoPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A demo service could not be set up or served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A key, certificate, identity or verifier could not be made from the configuration.
    #[error("configuration: {what}: {detail}")]
    Config {
        /// What was being made.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
    /// The identity provider's keys could not be loaded.
    #[error("cannot load the identity provider's keys: {detail}")]
    KeysUnavailable {
        /// Why.
        detail: String,
    },
    /// An address could not be bound.
    #[error("cannot listen on {addr}: {detail}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// What the OS said.
        detail: String,
    },
    /// A server stopped with an error.
    #[error("{service} stopped: {detail}")]
    Serve {
        /// The service.
        service: &'static str,
        /// Why.
        detail: String,
    },
    /// The configuration file (`--config`) was refused: its name, line and field are in
    /// the source.
    #[error("{source}")]
    ConfigFile {
        /// What the loader said.
        #[source]
        source: Box<tower_auth::config::ConfigFileError>,
    },
    /// The configuration file lacks a section the service needs.
    #[error("{}: no {section}, needed for {needed_for}", file.display())]
    MissingSection {
        /// The file.
        file: std::path::PathBuf,
        /// The section (`[jwt]`).
        section: &'static str,
        /// What needs it.
        needed_for: String,
    },
}

impl DemoError {
    /// A stable snake_case reason for logs.
    ///
    /// ```
    /// use examples::demo::DemoError;
    /// let error = DemoError::Config { what: "ca", detail: "bad".into() };
    /// assert_eq!(error.reason(), "config");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            DemoError::Config { .. } => "config",
            DemoError::KeysUnavailable { .. } => "keys_unavailable",
            DemoError::Bind { .. } => "bind_failed",
            DemoError::Serve { .. } => "serve_failed",
            DemoError::ConfigFile { .. } => "config_file",
            DemoError::MissingSection { .. } => "missing_section",
        }
    }

    pub(crate) fn config(what: &'static str, detail: impl std::fmt::Display) -> Self {
        DemoError::Config {
            what,
            detail: detail.to_string(),
        }
    }
}
