//! The demo services from a configuration file (`--config FILE`, see
//! [`tower_auth::config`] and `examples/config/`): what the file gives replaces what
//! `--pattern`, `--caller` and `--idp-issuer` would build.
//!
//! | section | on a hop (`documents`, `audit`) | on the edge |
//! | --- | --- | --- |
//! | `[jwt]` | verifies internal JWTs (`pattern = "internal_jwt"`, the caller's issuer, `minted_by`) or, in passthrough, the external ones | verifies the external JWTs (required) |
//! | `[introspection]` | asked after `[jwt]` | asked after `[jwt]` |
//! | `[passport]` | verifies passports: signed by the caller's key, or unsigned from allowlisted mTLS peers | — |
//! | `[workload]` | the mTLS peers admitted at all: any other peer is refused (`PERMISSION_DENIED`) before its credentials are read; the trust domain of the TLS listener | — |
//! | `[mint]`, `[[propagate.routes]]` | the route of its calls to the next hop (`documents` → `audit`) | the route of its calls to `documents` |
//!
//! A hop needs `[jwt]`, `[introspection]` or `[passport]`; the edge needs `[jwt]`. A file
//! with `[propagate]` must have a route for the next hop's address; without
//! `[propagate]`, the next hop's route is `--pattern`'s. TLS files stay flags. A file
//! that lacks what the service needs is refused with [`DemoError::MissingSection`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tonic::transport::Endpoint;
use tower_auth::Verifier;
use tower_auth::config::ServiceConfig;
use tower_auth::peer::{PeerAllowlist, TrustDomain};
use tower_auth::propagate::Route;
use tower_auth::verifier::VerifierChain;

use super::trust::{HopVerifier, warm_keys};
use super::{DemoError, DemoPattern};

/// A demo service's configuration file, loaded and checked
/// ([`ServiceConfig::load`]).
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
    config: ServiceConfig,
}

impl ConfigFile {
    /// Loads and checks the file at `path`.
    ///
    /// ```
    /// use examples::demo::config::ConfigFile;
    ///
    /// let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/config/workload.toml");
    /// let file = ConfigFile::load(shipped.as_ref())?;
    /// assert_eq!(file.trust_domain().map(|d| d.as_str()), Some("demo.test"));
    /// // Refused: a file that is not there, named in the error.
    /// let error = ConfigFile::load("/nonexistent/demo.toml".as_ref()).unwrap_err();
    /// assert_eq!(error.reason(), "config_file");
    /// assert!(error.to_string().contains("/nonexistent/demo.toml"));
    /// # Ok::<(), examples::demo::DemoError>(())
    /// ```
    ///
    /// # Errors
    /// [`DemoError::ConfigFile`], naming the file, the line and the field.
    pub fn load(path: &Path) -> Result<ConfigFile, DemoError> {
        let config = ServiceConfig::load(path).map_err(|source| DemoError::ConfigFile {
            source: Box::new(source),
        })?;
        Ok(ConfigFile {
            path: path.to_owned(),
            config,
        })
    }

    fn missing(&self, section: &'static str, needed_for: &str) -> DemoError {
        DemoError::MissingSection {
            file: self.path.clone(),
            section,
            needed_for: needed_for.to_owned(),
        }
    }

    /// The verifier of a hop: `[jwt]`, then `[introspection]`, then `[passport]`, each
    /// asked in turn (a verifier chain), the JWT keys loaded.
    ///
    /// # Errors
    /// [`DemoError::MissingSection`] when the file has none of the three;
    /// [`DemoError::Config`] for a verifier that does not build,
    /// [`DemoError::KeysUnavailable`] when fetched keys cannot be loaded.
    pub async fn hop_verifier(&mut self) -> Result<HopVerifier, DemoError> {
        let passport = self
            .config
            .passport
            .take()
            .map(|verifier| Arc::new(verifier) as Arc<dyn Verifier>);
        if self.config.jwt.is_none() && self.config.introspection.is_none() && passport.is_none() {
            return Err(self.missing("[jwt], [introspection] or [passport]", "a hop's verifier"));
        }
        self.chain(passport).await
    }

    /// The edge's verifier of external tokens: `[jwt]`, then `[introspection]` if the
    /// file has it.
    ///
    /// # Errors
    /// [`DemoError::MissingSection`] without `[jwt]`; otherwise as
    /// [`hop_verifier`](Self::hop_verifier).
    pub async fn external_verifier(&mut self) -> Result<HopVerifier, DemoError> {
        if self.config.jwt.is_none() {
            return Err(self.missing("[jwt]", "the edge's verifier of external tokens"));
        }
        self.chain(None).await
    }

    async fn chain(&mut self, last: Option<Arc<dyn Verifier>>) -> Result<HopVerifier, DemoError> {
        let mut verifiers: Vec<Arc<dyn Verifier>> = Vec::new();
        let mut refreshers = Vec::new();
        if let Some(builder) = self.config.jwt.take() {
            let verifier = builder
                .build()
                .map_err(|e| DemoError::config("[jwt] verifier", e))?;
            refreshers.extend(warm_keys(&verifier).await?);
            verifiers.push(Arc::new(verifier));
        }
        if let Some(builder) = self.config.introspection.take() {
            let verifier = builder
                .build()
                .map_err(|e| DemoError::config("[introspection] verifier", e))?;
            verifiers.push(Arc::new(verifier));
        }
        verifiers.extend(last);
        let mut rest = verifiers.into_iter();
        let Some(first) = rest.next() else {
            return Err(self.missing("a verifier section", "a verifier"));
        };
        let verifier: Arc<dyn Verifier> = match rest.len() {
            0 => first,
            _ => Arc::new(rest.fold(VerifierChain::new(first), VerifierChain::then)),
        };
        Ok(HopVerifier::new(verifier, refreshers))
    }

    /// The route of the calls to `next` (its endpoint) and the demo pattern it amounts
    /// to, from `[[propagate.routes]]`; `None` when the file has no `[propagate]`.
    ///
    /// # Errors
    /// [`DemoError::MissingSection`] when `[propagate]` has no route for `next`'s
    /// address; [`DemoError::Config`] for a route that attaches no identity a demo hop
    /// verifies (`nothing`).
    pub fn route_to(
        &self,
        next: &'static str,
        endpoint: &Endpoint,
    ) -> Result<Option<(DemoPattern, Route)>, DemoError> {
        let Some(propagate) = &self.config.propagate else {
            return Ok(None);
        };
        let route = propagate.route_for(endpoint.uri()).ok_or_else(|| {
            let authority = endpoint
                .uri()
                .authority()
                .map_or_else(String::new, |a| a.as_str().to_owned());
            self.missing(
                "[[propagate.routes]]",
                &format!("the calls to {next} (no route has destination {authority})"),
            )
        })?;
        let pattern = match route.kind() {
            "passthrough" => DemoPattern::Passthrough,
            "minted_jwt" => DemoPattern::InternalJwt,
            "signed_passport" => DemoPattern::SignedPassport,
            "unsigned_passport" => DemoPattern::UnsignedPassport,
            other => {
                return Err(DemoError::config(
                    "route",
                    format!(
                        "{}: the route to {next} attaches {other}, no identity a demo hop verifies",
                        self.path.display()
                    ),
                ));
            }
        };
        Ok(Some((pattern, route.clone())))
    }

    /// `[workload]`'s admitted peers: every call from another mTLS peer is refused.
    pub fn admitted_peers(&self) -> Option<&PeerAllowlist> {
        self.config
            .workload
            .as_ref()
            .map(|workload| &workload.allowed_peers)
    }

    /// `[workload]`'s trust domain: the TLS listener accepts only its workloads.
    pub fn trust_domain(&self) -> Option<&TrustDomain> {
        self.config
            .workload
            .as_ref()
            .map(|workload| &workload.trust_domain)
    }
}
