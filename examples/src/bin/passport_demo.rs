//! The passport demo: a person (Alice) lets an AI agent act for her; the edge turns
//! that into a signed passport for the `orders` service, which verifies it.
//!
//! Run with `cargo run -p examples --bin passport-demo`.

use std::error::Error;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{
    Actor, AgentId, Audience, Clock, HumanId, Issuer, Kind, Principal, Role, ScopeSet, SystemClock,
    Uuid,
};
use principal_proto::{
    DecodeOptions, KeyId, Passport, PassportKeyRing, PassportSigningKey, PassportVerifier,
    PassportVerifyingKey, RequestId,
};

fn main() -> Result<(), Box<dyn Error>> {
    let now = SystemClock.now();

    // What the edge learnt from the identity provider's token.
    let issuer = Issuer::new("https://idp.example.com")?;
    let alice = HumanId::derive(&issuer, "alice");
    let agent = AgentId::new(Uuid::from_u128(0x0b7e2a50_3c1d_4f6e_8a9b_1c2d3e4f5a6b));
    let principal = Principal::builder(alice.into(), issuer, "alice")
        .scopes(ScopeSet::parse(
            "email invoices:read orders:read orders:write profile",
        )?)
        .roles([
            Role::new("customer")?,
            Role::new("billing-viewer")?,
            Role::new("support-agent")?,
        ])
        .attribute("department", "sales")
        .attribute("locale", "en-GB")
        .attribute("plan", "enterprise")
        .issued_at(now)
        .expires_at(now.add_seconds(900))
        .token_id("6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d")
        // The agent was granted less than Alice has: it may only read.
        .actor(
            Actor::new(agent.into())
                .with_client_id("assistant")
                .with_grant(ScopeSet::parse("orders:read invoices:read")?),
        )
        .build()?;

    // The edge: a request-scoped passport for the `orders` service, signed Ed25519.
    let ring = PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new(
        "edge-2026-11",
    )?)?);
    let passport = Passport::new(
        principal.clone(),
        RequestId::new("0d9c7e3a-5b1f-4c2e-9a8d-7f6e5d4c3b2a")?,
        Audience::new("orders")?,
        now,
        now.add_seconds(60),
    )?;
    let header = ring.sign_header(&passport)?;

    // The same identity as an ES256 JWT, for comparison (same signature size as Ed25519).
    let es256 = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )?;
    let jwt = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &principal.to_claims(),
        &EncodingKey::from_ec_der(es256.to_pkcs8v1()?.as_ref()),
    )?;

    println!("x-principal-bin: {header}");
    println!();
    println!(
        "signed passport header: {} bytes; equivalent ES256 JWT: {} bytes ({:.0}%)",
        header.len(),
        jwt.len(),
        100.0 * header.len() as f64 / jwt.len() as f64
    );

    // The `orders` service: verify the signature over the bytes received, then decode.
    let options = DecodeOptions::new(Audience::new("orders")?);
    let received = ring.verifier().verify_header(&header, &options, now)?;
    let who = received.principal();
    println!();
    println!("verified passport for audience {}:", received.audience());
    println!("{}", serde_json::to_string_pretty(who)?);
    println!();
    println!(
        "on whose authority: {} ({}); acting now: {}; delegated: {}; agent involved: {}",
        who.id(),
        who.kind(),
        who.acting(),
        who.is_delegated(),
        who.involves(Kind::Agent)
    );
    println!(
        "orders:read {}, orders:write {} (delegation never amplifies privilege)",
        who.has_scope("orders:read"),
        who.has_scope("orders:write")
    );

    // A passport meant for another service is refused.
    let billing = DecodeOptions::new(Audience::new("billing")?);
    match ring.verifier().verify_header(&header, &billing, now) {
        Ok(_) => return Err("a passport for `orders` was accepted by `billing`".into()),
        Err(error) => println!("billing refuses it: {} ({error})", error.reason()),
    }

    // Re-signed per hop: `orders` passes the identity on to `billing` under its own
    // Ed25519 key, never for longer than it received; `billing` knows that key by id.
    let orders = PassportKeyRing::new(PassportSigningKey::ed25519_generate(KeyId::new(
        "orders-2026-11",
    )?)?);
    let next = received.reissue_for(billing.expected_audience().clone(), now, 30)?;
    // All `billing` holds of `orders`: its key id and 32-byte public key.
    let orders_public = orders
        .verifier()
        .key(orders.current_key_id())
        .and_then(|key| key.ed25519_public_key())
        .ok_or("orders signs with Ed25519")?;
    let billing_verifier = PassportVerifier::new([PassportVerifyingKey::ed25519(
        orders.current_key_id().clone(),
        orders_public,
    )?])?;
    let at_billing = billing_verifier.verify_header(&orders.sign_header(&next)?, &billing, now)?;
    println!(
        "billing accepts the passport orders re-signed (key {}): request {}, expires in {} s",
        orders.current_key_id(),
        at_billing.request_id(),
        at_billing.expires_at().as_unix_seconds() - now.as_unix_seconds()
    );
    Ok(())
}
