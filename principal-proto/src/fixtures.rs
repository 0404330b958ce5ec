//! The reference passport (feature `fixtures`): a fixed, realistic Principal
//! for benchmarks, examples and size comparisons.
//!
//! A Human with 5 scopes, 3 roles and 3 attributes, using one Agent actor,
//! in a passport for the audience [`REFERENCE_AUDIENCE`]. Every value is fixed
//! except the times, which follow `now`.
//!
//! ```
//! use principal::{Kind, Timestamp};
//! use principal_proto::{Passport, TrustedPeer, fixtures};
//!
//! let now = Timestamp::from_unix_seconds(1_700_000_000);
//! let passport = fixtures::reference_passport(now)?;
//! assert_eq!(passport.principal().kind(), Kind::Human);
//! assert!(passport.principal().involves(Kind::Agent));
//!
//! let options = fixtures::reference_decode_options()?;
//! let peer = TrustedPeer::allowlisted("spiffe://prod.example.com/gateway")?;
//! assert!(Passport::decode_unsigned(&passport.encode(), &options, now, peer).is_ok());
//! // Ten minutes later it has expired.
//! assert!(Passport::decode_unsigned(&passport.encode(), &options, now.add_seconds(600), peer).is_err());
//!
//! // At the end of time there is no room for a lifetime.
//! assert!(fixtures::reference_passport(Timestamp::from_unix_seconds(i64::MAX)).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use principal::{
    Actor, AgentId, Audience, AuthContext, HumanId, IdError, Issuer, Principal, PrincipalError,
    Role, Scope, ScopeSet, Timestamp, Uuid,
};

use crate::error::PassportError;
use crate::passport::{DecodeOptions, Passport, RequestId};

/// The audience of the reference passport.
pub const REFERENCE_AUDIENCE: &str = "orders";

const ISSUER: &str = "https://idp.example.com";
const SCOPES: [&str; 5] = [
    "email",
    "invoices:read",
    "orders:read",
    "orders:write",
    "profile",
];
const ROLES: [&str; 3] = ["billing-viewer", "customer", "support-agent"];
const ATTRIBUTES: [(&str, &str); 3] = [
    ("department", "sales"),
    ("locale", "en-GB"),
    ("plan", "enterprise"),
];
const AGENT_UUID: Uuid = Uuid::from_u128(0x0b7e2a50_3c1d_4f6e_8a9b_1c2d3e4f5a6b);

/// The reference Principal: authenticated two minutes before `now`, issued
/// one minute before, expiring 14 minutes after.
///
/// # Errors
/// Only for a `now` so close to the end of `Timestamp` that the expiry
/// saturates onto the issue time.
pub fn reference_principal(now: Timestamp) -> Result<Principal, PrincipalError> {
    let issuer = Issuer::new(ISSUER)?;
    let scopes = SCOPES
        .iter()
        .map(|scope| Scope::new(*scope))
        .collect::<Result<ScopeSet, _>>()?;
    let roles = ROLES
        .iter()
        .map(|role| Role::new(*role))
        .collect::<Result<Vec<_>, _>>()?;
    let agent = Actor::new(AgentId::new(AGENT_UUID).into())
        .with_client_id("assistant")
        .with_grant(scopes.clone());
    let mut builder = Principal::builder(HumanId::derive(&issuer, "alice").into(), issuer, "alice")
        .roles(roles)
        .scopes(scopes)
        .audience(Audience::new("https://api.example.com")?)
        .auth(AuthContext {
            amr: vec!["pwd".to_owned(), "otp".to_owned()],
            acr: None,
            auth_time: Some(now.add_seconds(-120)),
            client_id: Some("web-app".to_owned()),
        })
        .issued_at(now.add_seconds(-60))
        .expires_at(now.add_seconds(840))
        .token_id("6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d")
        .actor(agent);
    for (key, value) in ATTRIBUTES {
        builder = builder.attribute(key, value);
    }
    builder.build()
}

/// The reference passport: [`reference_principal`] for [`REFERENCE_AUDIENCE`],
/// minted at `now`, valid for 60 seconds.
///
/// # Errors
/// As [`reference_principal`], and [`PassportError::InvalidLifetime`] when
/// `now + 60` saturates.
pub fn reference_passport(now: Timestamp) -> Result<Passport, PassportError> {
    let invalid = |error: IdError| PassportError::InvalidPrincipal(error.into());
    Passport::new(
        reference_principal(now).map_err(PassportError::InvalidPrincipal)?,
        RequestId::new("0d9c7e3a-5b1f-4c2e-9a8d-7f6e5d4c3b2a")
            .map_err(PassportError::InvalidRequestId)?,
        Audience::new(REFERENCE_AUDIENCE).map_err(invalid)?,
        now,
        now.add_seconds(60),
    )
}

/// Default [`DecodeOptions`] for [`REFERENCE_AUDIENCE`].
///
/// # Errors
/// None in practice: the audience is a valid constant.
pub fn reference_decode_options() -> Result<DecodeOptions, IdError> {
    Ok(DecodeOptions::new(Audience::new(REFERENCE_AUDIENCE)?))
}
