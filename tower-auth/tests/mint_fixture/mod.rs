//! The mint tests' fixture: an internal issuer whose JWKS service runs on a real loopback
//! axum server, a test clock, a receiving JwtVerifier that discovers the issuer there, and
//! a delegated Principal. Each test binary uses only some of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use axum::Router;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{
    Actor, Audience, AuthContext, ClaimMapping, HumanId, Issuer, Principal, PrincipalId, Role,
    ScopeSet, Tenant, TestClock, Timestamp,
};
use serde_json::Value;
use tower_auth::jwks::StartupPolicy;
use tower_auth::jwt::{IssuerConfig, IssuerConfigBuilder, JwtVerifier};
use tower_auth::mint::{
    DISCOVERY_PATH, InternalIssuer, InternalIssuerBuilder, JWKS_PATH, SigningAlgorithm, SigningKey,
};
use tower_auth::{AuthError, Pattern, VerifiedPrincipal};

/// Where every test clock starts.
pub const START: i64 = 1_700_000_000;
/// The audience the receiving service accepts.
pub const ORDERS: &str = "orders-api";
/// The external identity provider the Principal came from.
pub const IDP: &str = "https://idp.example.com";
/// The agent acting for alice.
pub const AGENT: &str = "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b";

/// A private key kept as PKCS#8 too, so a test can hand-sign with the issuer's own key.
pub struct Pkcs8Key {
    pub algorithm: SigningAlgorithm,
    pub der: Vec<u8>,
}

impl Pkcs8Key {
    pub fn generate(algorithm: SigningAlgorithm) -> Pkcs8Key {
        let der = match algorithm {
            SigningAlgorithm::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|pair| pair.to_pkcs8v1())
                .expect("P-256 key")
                .as_ref()
                .to_vec(),
            _ => Ed25519KeyPair::generate()
                .and_then(|pair| pair.to_pkcs8v1())
                .expect("Ed25519 key")
                .as_ref()
                .to_vec(),
        };
        Pkcs8Key { algorithm, der }
    }

    pub fn signing_key(&self) -> SigningKey {
        SigningKey::from_pkcs8(self.algorithm, &self.der).expect("the PKCS#8 key loads")
    }

    /// Signs `claims` with this key under `header` (jsonwebtoken, independent of the
    /// issuer's signing code).
    pub fn sign(&self, header: &Header, claims: &Value) -> String {
        let key = match self.algorithm {
            SigningAlgorithm::Es256 => EncodingKey::from_ec_der(&self.der),
            _ => EncodingKey::from_ed_der(&self.der),
        };
        jsonwebtoken::encode(header, claims, &key).expect("signs")
    }

    /// A header as the issuer writes it, with `typ` replaced.
    pub fn header(&self, kid: &str, typ: Option<&str>) -> Header {
        let mut header = Header::new(self.algorithm.into());
        header.kid = Some(kid.to_owned());
        header.typ = typ.map(str::to_owned);
        header
    }
}

/// An internal issuer published on a loopback axum server.
pub struct Edge {
    pub issuer: InternalIssuer,
    pub clock: TestClock,
    pub addr: SocketAddr,
    pub key: Pkcs8Key,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts an edge whose issuer signs with a new `algorithm` key, configured by
/// `configure`, its JWKS service mounted with `route_service` on `127.0.0.1:0`.
pub async fn start_edge_with(
    algorithm: SigningAlgorithm,
    configure: impl FnOnce(InternalIssuerBuilder) -> InternalIssuerBuilder,
) -> Edge {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds loopback");
    let addr = listener.local_addr().expect("local address");
    let clock = TestClock::new(Timestamp::from_unix_seconds(START));
    let key = Pkcs8Key::generate(algorithm);
    let builder = InternalIssuer::builder(
        Issuer::new(format!("http://{addr}")).expect("issuer"),
        key.signing_key(),
    )
    .clock(Arc::new(clock.clone()));
    let issuer = configure(builder).build().expect("issuer builds");
    let app = Router::new()
        .route_service(JWKS_PATH, issuer.jwks_service())
        .route_service(DISCOVERY_PATH, issuer.jwks_service());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serves");
    });
    Edge {
        issuer,
        clock,
        addr,
        key,
        server,
    }
}

pub async fn start_edge(algorithm: SigningAlgorithm) -> Edge {
    start_edge_with(algorithm, |builder| builder).await
}

impl Edge {
    /// The receiving service's verifier, as the module docs configure it: discovery
    /// against this edge, `at+jwt` required, the baton mapping, pattern InternalJwt.
    pub async fn verifier(&self) -> JwtVerifier {
        self.verifier_with(|config| config).await
    }

    /// [`verifier`](Self::verifier), its issuer configuration changed by `configure`.
    pub async fn verifier_with(
        &self,
        configure: impl FnOnce(IssuerConfigBuilder) -> IssuerConfigBuilder,
    ) -> JwtVerifier {
        let base = IssuerConfig::builder(self.issuer.issuer().clone())
            .audience(Audience::new(ORDERS).expect("audience"))
            .oidc_discovery()
            .algorithms([Algorithm::ES256, Algorithm::EdDSA])
            .require_typ("at+jwt")
            .claim_mapping(ClaimMapping::baton());
        let config = configure(base).build().expect("issuer config");
        let verifier = JwtVerifier::builder()
            .issuer(config)
            .clock(Arc::new(self.clock.clone()))
            .pattern(Pattern::InternalJwt)
            .build()
            .expect("verifier builds");
        verifier
            .warm(StartupPolicy::FailIfUnavailable)
            .await
            .expect("discovers the edge's JWKS");
        verifier
    }

    /// The claims the issuer would write for `principal`, for hand-signed variants.
    pub fn claims_for(&self, principal: &Principal, audience: &str) -> Value {
        let mut claims = principal.to_claims();
        claims.iss = Some(self.issuer.issuer().as_str().to_owned());
        claims.aud = Some(principal::Audiences::One(audience.to_owned()));
        claims.iat = Some(self.clock_now());
        claims.exp = Some(self.clock_now().add_seconds(300));
        serde_json::to_value(claims).expect("claims serialise")
    }

    pub fn clock_now(&self) -> Timestamp {
        use principal::Clock as _;
        self.clock.now()
    }
}

/// Alice (from an external IdP), with roles, tenant, attributes, a session and an
/// authentication context, acting through an agent granted two of her three scopes;
/// valid for an hour from [`START`].
pub fn alice() -> Principal {
    alice_with(|builder| builder)
}

pub fn alice_with(
    customise: impl FnOnce(principal::PrincipalBuilder) -> principal::PrincipalBuilder,
) -> Principal {
    let idp = Issuer::new(IDP).expect("issuer");
    let agent: PrincipalId = AGENT.parse().expect("agent id");
    let builder = Principal::builder(HumanId::derive(&idp, "alice").into(), idp, "alice")
        .scopes(ScopeSet::parse("orders:read orders:write profile").expect("scopes"))
        .role(Role::new("buyer").expect("role"))
        .tenant(Tenant::new("acme").expect("tenant"))
        .attribute("region", "eu")
        .session_id("sid-42")
        .auth(AuthContext {
            amr: vec!["pwd".into(), "otp".into()],
            acr: Some("urn:acr:2fa".into()),
            auth_time: Some(Timestamp::from_unix_seconds(START - 60)),
            client_id: Some("web".into()),
        })
        .issued_at(Timestamp::from_unix_seconds(START - 60))
        .expires_at(Timestamp::from_unix_seconds(START + 3600))
        .actor(
            Actor::new(agent)
                .with_grant(ScopeSet::parse("orders:read orders:write").expect("grant")),
        );
    customise(builder).build().expect("alice builds")
}

/// A Principal whose chain has `depth` agents (built with the depth allowed up to the
/// hard cap).
pub fn deep_principal(depth: usize) -> Principal {
    let idp = Issuer::new(IDP).expect("issuer");
    let actors = (0..depth)
        .map(|i| {
            Actor::new(
                format!("am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a{i:02x}")
                    .parse()
                    .expect("agent id"),
            )
        })
        .collect();
    Principal::builder(HumanId::derive(&idp, "alice").into(), idp, "alice")
        .expires_at(Timestamp::from_unix_seconds(START + 3600))
        .max_delegation_depth(principal::limits::HARD_MAX_DELEGATION_DEPTH)
        .delegation(actors)
        .build()
        .expect("deep principal builds")
}

/// Asserts `received` is `sent` as a hop sees it: the same party, chain, scopes and
/// context; only what the minted token itself sets differs.
pub fn assert_same_party(sent: &Principal, received: &VerifiedPrincipal) {
    assert_eq!(received.kind(), sent.kind());
    assert_eq!(received.id(), sent.id());
    assert_eq!(received.subject(), sent.subject());
    assert_eq!(received.delegation(), sent.delegation());
    assert_eq!(received.acting(), sent.acting());
    assert_eq!(received.scopes(), sent.scopes());
    assert_eq!(received.roles(), sent.roles());
    assert_eq!(received.tenant(), sent.tenant());
    assert_eq!(received.attributes(), sent.attributes());
    assert_eq!(received.session_id(), sent.session_id());
    assert_eq!(received.auth(), sent.auth());
    assert_eq!(received.pattern(), Pattern::InternalJwt);
}

/// The refusal of `token`, which must be refused.
pub async fn refusal(verifier: &JwtVerifier, token: &str) -> AuthError {
    verifier
        .verify_token(token)
        .await
        .expect_err("the token must be refused")
}
