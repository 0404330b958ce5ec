//! What the STS tests share: the verifier of a service that receives the tokens an STS
//! mints.

use std::sync::Arc;

use jsonwebtoken::Algorithm;
use principal::{Audience, ClaimMapping, Clock, Issuer};
use tower_auth::Pattern;
use tower_auth::jwks::StartupPolicy;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};

/// The receiving service's verifier for `audience`: the STS `issuer`'s JWKS found by
/// discovery over HTTP, `at+jwt` with the Baton claim mapping, warmed (fails if the keys
/// cannot be fetched).
pub async fn internal_jwt_receiver(
    issuer: &Issuer,
    clock: Arc<dyn Clock>,
    audience: &str,
) -> JwtVerifier {
    let config = IssuerConfig::builder(issuer.clone())
        .audience(Audience::new(audience).expect("an audience"))
        .oidc_discovery()
        .algorithms([Algorithm::ES256])
        .require_typ("at+jwt")
        .claim_mapping(ClaimMapping::baton())
        .build()
        .expect("the receiver's issuer configuration");
    let verifier = JwtVerifier::builder()
        .issuer(config)
        .clock(clock)
        .pattern(Pattern::InternalJwt)
        .build()
        .expect("the receiver's verifier");
    verifier
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect("the STS's keys, by discovery");
    verifier
}
