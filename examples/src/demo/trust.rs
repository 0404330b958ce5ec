//! Who trusts whom in the demo chain, for each [`DemoPattern`].
//!
//! Every calling service holds its own keys ([`ServiceKeys`]): an internal JWT issuer
//! (pattern 2, ES256) and an Ed25519 passport key (pattern 4). A callee knows only the
//! public half of its caller ([`CallerTrust`]): the issuer's JWKS, the passport verifying
//! key, the service id that signs with it and the caller's SPIFFE ID. From those, a hop's
//! verifier for a pattern is [`hop_verifier`], and the identity a caller attaches is
//! [`ServiceKeys::route`]:
//!
//! | pattern | the caller attaches | the callee verifies |
//! | --- | --- | --- |
//! | passthrough | the external JWT it received ([`Route::passthrough`]) | against the identity provider's JWKS, audience [`EXTERNAL_AUDIENCE`] |
//! | internal-jwt | a JWT it mints for the callee's audience ([`Route::minted_jwt`]) | with the caller's JWKS, `typ: at+jwt`, the Baton claim mapping; the caller is the minting service |
//! | signed-passport | a passport for the callee, signed with its Ed25519 key ([`Route::signed_passport`]) | with the caller's public key; the caller is the signing service |
//! | unsigned-passport | an unsigned passport for the callee ([`Route::unsigned_passport`]) | only from the caller's SPIFFE ID (the mTLS peer), on an allowlist of one; the caller is that workload |
//!
//! In the unsigned-passport pattern the hop's passport verifier holds no key at all
//! ([`PassportHeaderVerifier::unsigned_only`]): mTLS alone vouches for the caller, and a
//! signed passport is refused.

use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jsonwebtoken::Algorithm;
use principal::{Audience, ClaimMapping, Issuer, ServiceId};
use principal_proto::{
    DecodeOptions, KeyId, PassportKeyRing, PassportSigningKey, PassportVerifyingKey,
};
use tonic_auth::server::GrpcAuthenticateLayer;
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::jwks::{KeySet, KeySetPolicy, RefresherHandle, StartupPolicy};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::mint::{InternalIssuer, MintCache, SigningAlgorithm, SigningKey};
use tower_auth::mtls::rustls::pki_types::PrivateKeyDer;
use tower_auth::mtls::rustls::pki_types::pem::PemObject;
use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
use tower_auth::peer::{PeerAllowlist, SpiffeId};
use tower_auth::propagate::{Route, SharedKeyRing};
use tower_auth::{Pattern, Verifier};

use super::{DemoError, DemoPattern, EXTERNAL_AUDIENCE, TRUST_DOMAIN};

/// The private keys of one demo service that calls another: generated at start, never
/// printed.
pub struct ServiceKeys {
    name: String,
    service_id: ServiceId,
    spiffe_id: SpiffeId,
    mint: Arc<MintCache>,
    ring: SharedKeyRing,
    passport_key: PassportVerifyingKey,
}

impl ServiceKeys {
    /// Fresh keys for the service `name` (`svc-{name}`, `spiffe://demo.test/{name}`,
    /// internal issuer `https://{name}.demo.test`).
    ///
    /// ```
    /// use examples::demo::trust::ServiceKeys;
    ///
    /// let edge = ServiceKeys::generate("edge")?;
    /// assert_eq!(edge.service_id().to_string(), "svc-edge");
    /// assert_eq!(edge.spiffe_id().as_str(), "spiffe://demo.test/edge");
    /// // Refused: a name that is not a service slug.
    /// assert!(ServiceKeys::generate("Edge Service").is_err());
    /// # Ok::<(), examples::demo::DemoError>(())
    /// ```
    ///
    /// # Errors
    /// [`DemoError::Config`] for a name that makes no service id, SPIFFE ID or issuer, or
    /// a key that cannot be generated.
    pub fn generate(name: &str) -> Result<ServiceKeys, DemoError> {
        let signing = SigningKey::generate(SigningAlgorithm::Es256)
            .map_err(|e| DemoError::config("internal JWT signing key", e))?;
        let passport = PassportSigningKey::ed25519_generate(passport_key_id(name)?)
            .map_err(|e| DemoError::config("passport key", e))?;
        ServiceKeys::with_keys(name, signing, passport)
    }

    /// The keys of the service `name` from PKCS#8 PEM text: a P-256 key that signs its
    /// internal JWTs (ES256; its `kid` is the RFC 7638 thumbprint) and an Ed25519 key that
    /// signs its passports (key id `{name}-1`). [`write_dev_keys`] writes such files.
    ///
    /// ```
    /// use examples::demo::trust::ServiceKeys;
    ///
    /// let p256 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?.serialize_pem();
    /// let ed25519 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?.serialize_pem();
    /// assert!(ServiceKeys::from_pem("edge", &p256, &ed25519).is_ok());
    /// // Refused: the two keys swapped.
    /// assert!(ServiceKeys::from_pem("edge", &ed25519, &p256).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DemoError::Config`] for a name that makes no service, or a key that is not of
    /// its kind.
    pub fn from_pem(
        name: &str,
        mint_key_pem: &str,
        passport_key_pem: &str,
    ) -> Result<ServiceKeys, DemoError> {
        let der = |pem: &str, what: &'static str| {
            PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| DemoError::config(what, e))
        };
        let signing = SigningKey::from_pkcs8(
            SigningAlgorithm::Es256,
            der(mint_key_pem, "internal JWT signing key")?.secret_der(),
        )
        .map_err(|e| DemoError::config("internal JWT signing key", e))?;
        let passport = PassportSigningKey::ed25519_from_pkcs8(
            passport_key_id(name)?,
            der(passport_key_pem, "passport key")?.secret_der(),
        )
        .map_err(|e| DemoError::config("passport key", e))?;
        ServiceKeys::with_keys(name, signing, passport)
    }

    fn with_keys(
        name: &str,
        signing: SigningKey,
        passport: PassportSigningKey,
    ) -> Result<ServiceKeys, DemoError> {
        let service_id = ServiceId::new(name).map_err(|e| DemoError::config("service id", e))?;
        let spiffe_id = SpiffeId::new(&format!("spiffe://{TRUST_DOMAIN}/{name}"))
            .map_err(|e| DemoError::config("SPIFFE ID", e))?;
        let issuer = Issuer::new(format!("https://{name}.{TRUST_DOMAIN}"))
            .map_err(|e| DemoError::config("internal issuer", e))?;
        let issuer = InternalIssuer::builder(issuer, signing)
            .build()
            .map_err(|e| DemoError::config("internal issuer", e))?;
        let mint = MintCache::builder(issuer)
            .build()
            .map_err(|e| DemoError::config("mint cache", e))?;
        let passport_key = passport.verifying_key();
        Ok(ServiceKeys {
            name: name.to_owned(),
            service_id,
            spiffe_id,
            mint: Arc::new(mint),
            ring: Arc::new(ArcSwap::from_pointee(PassportKeyRing::new(passport))),
            passport_key,
        })
    }

    /// The service's name (`edge`, `documents`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The service's id (`svc-edge`).
    pub fn service_id(&self) -> &ServiceId {
        &self.service_id
    }

    /// The service's workload identity.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.spiffe_id
    }

    /// The internal JWT issuer (pattern 2).
    pub fn issuer(&self) -> &InternalIssuer {
        self.mint.issuer()
    }

    /// What a callee needs to know of this service: the public half.
    ///
    /// # Errors
    /// [`DemoError::Config`] if the issuer's own JWKS does not load (never expected).
    pub fn caller_trust(&self) -> Result<CallerTrust, DemoError> {
        CallerTrust::new(
            self.service_id.clone(),
            self.spiffe_id.clone(),
            self.issuer().issuer().clone(),
            &self.issuer().jwks().to_string(),
            self.passport_key.clone(),
        )
    }

    /// The identity this service attaches to its calls to `audience` under `pattern`;
    /// a call without a current Principal is refused before it is sent.
    pub fn route(&self, pattern: DemoPattern, audience: Audience) -> Route {
        match pattern {
            DemoPattern::Passthrough => Route::passthrough(),
            DemoPattern::InternalJwt => Route::minted_jwt(Arc::clone(&self.mint), audience),
            DemoPattern::SignedPassport => Route::signed_passport(Arc::clone(&self.ring), audience),
            DemoPattern::UnsignedPassport => Route::unsigned_passport(audience),
        }
        .require_principal()
    }
}

fn passport_key_id(name: &str) -> Result<KeyId, DemoError> {
    KeyId::new(format!("{name}-1")).map_err(|e| DemoError::config("passport key id", e))
}

/// Writes fresh keys for the service `name` into `dir` (created if missing), for a
/// service run as its own process: its private keys `{name}-mint-key.pem` and
/// `{name}-passport-key.pem` (PKCS#8 PEM, for [`ServiceKeys::from_pem`]) and the public
/// `{name}-trust.json` its callees load ([`CallerTrust::from_json`]). For configuration
/// files (`--config`): the mint key again as `{name}-mint-key.der` (PKCS#8 DER, what
/// `[mint] key_file` reads) and its public JWKS `{name}-jwks.json` (what a hop's
/// `keys = { jwks_file = "…" }` reads).
///
/// # Errors
/// [`DemoError::Config`] when a key cannot be made or a file written.
pub fn write_dev_keys(dir: &std::path::Path, name: &str) -> Result<(), DemoError> {
    let generate = |algorithm| {
        rcgen::KeyPair::generate_for(algorithm)
            .map(|key| key.serialize_pem())
            .map_err(|e| DemoError::config("key", e))
    };
    let mint = generate(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let passport = generate(&rcgen::PKCS_ED25519)?;
    let keys = ServiceKeys::from_pem(name, &mint, &passport)?;
    let trust = keys.caller_trust()?;
    let mint_der = PrivateKeyDer::from_pem_slice(mint.as_bytes())
        .map_err(|e| DemoError::config("internal JWT signing key", e))?
        .secret_der()
        .to_vec();
    std::fs::create_dir_all(dir).map_err(|e| DemoError::config("keys directory", e))?;
    std::fs::write(dir.join(format!("{name}-mint-key.der")), mint_der)
        .map_err(|e| DemoError::config("key file", e))?;
    for (file, contents) in [
        (format!("{name}-mint-key.pem"), mint),
        (format!("{name}-passport-key.pem"), passport),
        (format!("{name}-trust.json"), trust.to_json()),
        (
            format!("{name}-jwks.json"),
            keys.issuer().jwks().to_string(),
        ),
    ] {
        std::fs::write(dir.join(file), contents).map_err(|e| DemoError::config("key file", e))?;
    }
    Ok(())
}

impl std::fmt::Debug for ServiceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceKeys")
            .field("service_id", &self.service_id)
            .field("spiffe_id", &self.spiffe_id)
            .finish_non_exhaustive()
    }
}

/// What a callee knows of the service that calls it: public keys and identities only.
#[derive(Clone, Debug)]
pub struct CallerTrust {
    service_id: ServiceId,
    spiffe_id: SpiffeId,
    issuer: Issuer,
    /// The JWKS document, checked to load when this was made.
    jwks: String,
    passport_key: PassportVerifyingKey,
}

impl CallerTrust {
    /// The caller `service_id`, workload `spiffe_id`, its internal issuer and that
    /// issuer's JWKS document (JSON), and its passport verifying key.
    ///
    /// # Errors
    /// [`DemoError::Config`] when `jwks` is not a usable JWKS.
    pub fn new(
        service_id: ServiceId,
        spiffe_id: SpiffeId,
        issuer: Issuer,
        jwks: &str,
        passport_key: PassportVerifyingKey,
    ) -> Result<CallerTrust, DemoError> {
        load_jwks(jwks)?;
        Ok(CallerTrust {
            service_id,
            spiffe_id,
            issuer,
            jwks: jwks.to_owned(),
            passport_key,
        })
    }

    /// This trust as JSON: `{"service", "spiffe_id", "issuer", "jwks", "passport_key_id",
    /// "passport_ed25519"}` (public keys only; the Ed25519 key as standard base64).
    pub fn to_json(&self) -> String {
        let jwks: serde_json::Value =
            serde_json::from_str(&self.jwks).unwrap_or(serde_json::Value::Null);
        serde_json::json!({
            "service": self.service_id.to_string(),
            "spiffe_id": self.spiffe_id.as_str(),
            "issuer": self.issuer.as_str(),
            "jwks": jwks,
            "passport_key_id": self.passport_key.key_id().as_str(),
            "passport_ed25519": self.passport_key.ed25519_public_key().map(|key| BASE64.encode(key)),
        })
        .to_string()
    }

    /// The trust [`to_json`](Self::to_json) wrote.
    ///
    /// ```
    /// use examples::demo::trust::{CallerTrust, ServiceKeys};
    ///
    /// let edge = ServiceKeys::generate("edge")?.caller_trust()?;
    /// let read = CallerTrust::from_json(&edge.to_json())?;
    /// assert_eq!(read.spiffe_id().as_str(), "spiffe://demo.test/edge");
    /// assert_eq!(read.to_json(), edge.to_json());
    /// // Refused: a SPIFFE ID that is none.
    /// let bad = edge.to_json().replace("spiffe://demo.test/edge", "https://demo.test/edge");
    /// assert!(CallerTrust::from_json(&bad).is_err());
    /// # Ok::<(), examples::demo::DemoError>(())
    /// ```
    ///
    /// # Errors
    /// [`DemoError::Config`] for JSON of another shape or a value that does not parse.
    pub fn from_json(json: &str) -> Result<CallerTrust, DemoError> {
        let bad = |detail: &str| DemoError::config("caller trust", detail);
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| DemoError::config("caller trust", e))?;
        let text = |name: &str| {
            value[name]
                .as_str()
                .ok_or_else(|| bad(&format!("no string {name:?}")))
        };
        let service_id: ServiceId = text("service")?
            .parse()
            .map_err(|e| DemoError::config("caller service id", e))?;
        let spiffe_id = SpiffeId::new(text("spiffe_id")?)
            .map_err(|e| DemoError::config("caller SPIFFE ID", e))?;
        let issuer =
            Issuer::new(text("issuer")?).map_err(|e| DemoError::config("caller issuer", e))?;
        let key_id = KeyId::new(text("passport_key_id")?)
            .map_err(|e| DemoError::config("passport key id", e))?;
        let public = BASE64
            .decode(text("passport_ed25519")?)
            .map_err(|e| DemoError::config("passport key", e))?;
        let passport_key = PassportVerifyingKey::ed25519(key_id, &public)
            .map_err(|e| DemoError::config("passport key", e))?;
        CallerTrust::new(
            service_id,
            spiffe_id,
            issuer,
            &value["jwks"].to_string(),
            passport_key,
        )
    }

    /// [`from_json`](Self::from_json) of a file (`--caller`).
    ///
    /// # Errors
    /// [`DemoError::Config`] when the file cannot be read or does not parse.
    pub fn from_file(path: &std::path::Path) -> Result<CallerTrust, DemoError> {
        let json = std::fs::read_to_string(path)
            .map_err(|e| DemoError::config("caller trust", format!("{}: {e}", path.display())))?;
        CallerTrust::from_json(&json)
    }

    /// The caller's service id.
    pub fn service_id(&self) -> &ServiceId {
        &self.service_id
    }

    /// The caller's workload identity.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.spiffe_id
    }
}

fn load_jwks(jwks: &str) -> Result<KeySet, DemoError> {
    Ok(
        KeySet::from_jwks_json(jwks.as_bytes(), &KeySetPolicy::default())
            .map_err(|e| DemoError::config("caller JWKS", e))?
            .set,
    )
}

/// The external identity provider every edge trusts (and every hop, in passthrough).
#[derive(Clone, Debug)]
pub struct IdpTrust {
    issuer: Issuer,
}

impl IdpTrust {
    /// Tokens of `issuer`, whose keys are found by OpenID Connect Discovery.
    ///
    /// # Errors
    /// [`DemoError::Config`] for an issuer that is not a URL.
    pub fn new(issuer: &str) -> Result<IdpTrust, DemoError> {
        Ok(IdpTrust {
            issuer: Issuer::new(issuer).map_err(|e| DemoError::config("IdP issuer", e))?,
        })
    }
}

/// A hop's verifier, and what keeps its keys fresh (dropping it stops the refresh).
pub struct HopVerifier {
    verifier: Arc<dyn Verifier>,
    _refreshers: Vec<RefresherHandle>,
}

impl HopVerifier {
    /// `verifier`, whose fetched keys `refreshers` keep fresh.
    pub(crate) fn new(verifier: Arc<dyn Verifier>, refreshers: Vec<RefresherHandle>) -> Self {
        HopVerifier {
            verifier,
            _refreshers: refreshers,
        }
    }

    /// The verifier.
    pub fn verifier(&self) -> Arc<dyn Verifier> {
        Arc::clone(&self.verifier)
    }
}

impl std::fmt::Debug for HopVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HopVerifier")
            .field("pattern", &self.verifier.pattern())
            .finish_non_exhaustive()
    }
}

/// The verifier of external JWTs from `idp` for [`EXTERNAL_AUDIENCE`]: the edge's, and
/// every hop's in passthrough. Loads the keys once (failing if the provider cannot be
/// reached), then refreshes them in the background.
///
/// # Errors
/// [`DemoError::Config`] for a configuration the verifier refuses,
/// [`DemoError::KeysUnavailable`] when the keys cannot be loaded.
pub async fn external_verifier(idp: &IdpTrust) -> Result<HopVerifier, DemoError> {
    let audience =
        Audience::new(EXTERNAL_AUDIENCE).map_err(|e| DemoError::config("audience", e))?;
    let config = IssuerConfig::builder(idp.issuer.clone())
        .audience(audience)
        .oidc_discovery()
        .build()
        .map_err(|e| DemoError::config("IdP issuer", e))?;
    let verifier = JwtVerifier::builder()
        .issuer(config)
        .build()
        .map_err(|e| DemoError::config("external JWT verifier", e))?;
    let refreshers = warm_keys(&verifier).await?;
    Ok(HopVerifier::new(Arc::new(verifier), refreshers))
}

/// Loads the fetched keys of `verifier` (failing if a source cannot be reached) and
/// refreshes them in the background while the handles live; static keys need neither.
pub(crate) async fn warm_keys(verifier: &JwtVerifier) -> Result<Vec<RefresherHandle>, DemoError> {
    verifier
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .map_err(|e| DemoError::KeysUnavailable {
            detail: e.error().to_string(),
        })?;
    verifier
        .spawn_refreshers()
        .map_err(|e| DemoError::config("JWKS refresh", e))
}

/// The verifier of a gRPC hop whose own audience is `audience`, called by `caller`,
/// under `pattern` (see the [module docs](self)).
///
/// In passthrough the hop needs `idp` (and ignores `caller`).
///
/// ```
/// use examples::demo::DemoPattern;
/// use examples::demo::trust::{ServiceKeys, hop_verifier};
/// use principal::Audience;
/// use tower_auth::Pattern;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let edge = ServiceKeys::generate("edge")?.caller_trust()?;
/// let documents = Audience::new("documents")?;
/// let verifier = hop_verifier(DemoPattern::InternalJwt, &documents, &edge, None).await?;
/// assert_eq!(verifier.verifier().pattern(), Pattern::InternalJwt);
///
/// // Refused: passthrough without the identity provider whose tokens every hop verifies.
/// let error = hop_verifier(DemoPattern::Passthrough, &documents, &edge, None).await.unwrap_err();
/// assert_eq!(error.reason(), "config");
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// As [`external_verifier`] in passthrough, [`DemoError::Config`] there without `idp`;
/// [`DemoError::Config`] otherwise.
pub async fn hop_verifier(
    pattern: DemoPattern,
    audience: &Audience,
    caller: &CallerTrust,
    idp: Option<&IdpTrust>,
) -> Result<HopVerifier, DemoError> {
    let verifier: Arc<dyn Verifier> = match pattern {
        DemoPattern::Passthrough => {
            let idp = idp.ok_or_else(|| {
                DemoError::config(
                    "passthrough",
                    "every hop verifies the external token: give the identity provider's issuer",
                )
            })?;
            return external_verifier(idp).await;
        }
        DemoPattern::InternalJwt => {
            let config = IssuerConfig::builder(caller.issuer.clone())
                .audience(audience.clone())
                .static_keys(load_jwks(&caller.jwks)?)
                .algorithms([Algorithm::ES256])
                .require_typ("at+jwt")
                .claim_mapping(ClaimMapping::baton())
                .minted_by(caller.service_id.clone())
                .build()
                .map_err(|e| DemoError::config("internal issuer", e))?;
            Arc::new(
                JwtVerifier::builder()
                    .issuer(config)
                    .pattern(Pattern::InternalJwt)
                    .build()
                    .map_err(|e| DemoError::config("internal JWT verifier", e))?,
            )
        }
        DemoPattern::SignedPassport => {
            let keys = PassportKeys::new(caller.passport_key.clone(), caller.service_id.clone())
                .map_err(|e| DemoError::config("passport keys", e))?;
            Arc::new(PassportHeaderVerifier::new(
                DecodeOptions::new(audience.clone()),
                keys,
            ))
        }
        DemoPattern::UnsignedPassport => Arc::new(PassportHeaderVerifier::unsigned_only(
            DecodeOptions::new(audience.clone()),
            PeerAllowlist::new([caller.spiffe_id.clone()]),
        )),
    };
    Ok(HopVerifier {
        verifier,
        _refreshers: Vec::new(),
    })
}

/// The server layer of a gRPC hop: the internal role (it reads `x-principal-bin` and the
/// internal token), keeping the bearer token in passthrough when the hop `forwards` it to
/// a next hop.
pub fn hop_layer(
    pattern: DemoPattern,
    verifier: &HopVerifier,
    forwards: bool,
) -> GrpcAuthenticateLayer {
    let mut layer = AuthenticateLayer::internal(verifier.verifier());
    if forwards && pattern == DemoPattern::Passthrough {
        layer = layer.keep_bearer_token();
    }
    GrpcAuthenticateLayer::from(layer)
}
