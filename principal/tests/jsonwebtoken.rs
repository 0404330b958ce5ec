//! `JwtClaims` is plain serde: it decodes through `jsonwebtoken::decode`, and a Principal
//! survives a signed token.
#![allow(clippy::unwrap_used)]

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use principal::{
    Actor, AgentId, ClaimMapping, HumanId, Issuer, JwtClaims, Principal, ScopeSet, Timestamp, Uuid,
};

const SECRET: &[u8] = b"test-only-secret-of-sufficient-length!!";

#[test]
fn principal_survives_a_signed_token() {
    let issuer = Issuer::new("https://idp.example.com").unwrap();
    let principal = Principal::builder(HumanId::derive(&issuer, "alice").into(), issuer, "alice")
        .scopes(ScopeSet::parse("orders:read orders:write").unwrap())
        .audience(principal::Audience::new("orders-api").unwrap())
        .expires_at(Timestamp::from_unix_seconds(4_000_000_000))
        .actor(
            Actor::new(AgentId::new(Uuid::from_u128(7)).into())
                .with_grant(ScopeSet::parse("orders:read").unwrap()),
        )
        .build()
        .unwrap();

    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &principal.to_claims(),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();

    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["orders-api"]);
    validation.set_issuer(&["https://idp.example.com"]);
    let decoded =
        jsonwebtoken::decode::<JwtClaims>(&token, &DecodingKey::from_secret(SECRET), &validation)
            .unwrap();
    let mapped = ClaimMapping::baton()
        .principal_from_claims(&decoded.claims)
        .unwrap();
    assert_eq!(mapped, principal);

    // A deep act chain in a validly signed token is refused while decoding.
    let mut claims = serde_json::to_value(principal.to_claims()).unwrap();
    let mut act = serde_json::json!({"sub": "x0"});
    for i in 1..=20 {
        act = serde_json::json!({"sub": format!("x{i}"), "act": act});
    }
    claims["act"] = act;
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert!(
        jsonwebtoken::decode::<JwtClaims>(&token, &DecodingKey::from_secret(SECRET), &validation)
            .is_err()
    );
}
