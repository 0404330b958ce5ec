//! # principal
//!
//! The typed identity model of Baton: on whose authority a request runs, and who is
//! acting. No I/O, no async.
//!
//! ## The model
//!
//! A [`Principal`] is the *subject* (a [`Kind::Human`], [`Kind::Agent`] or
//! [`Kind::Service`], named by a typed [`PrincipalId`]: `hm-{uuid}`, `am-{uuid}`,
//! `svc-{slug}`) plus its *delegation chain*: the [`Actor`]s working on its behalf, oldest
//! first, the last one being the party calling now.
//!
//! - A person using an AI agent: `kind = Human`, `delegation = [am-...]`.
//! - An agent acting on its own: `kind = Agent`, no delegation.
//! - A service calling with its own client credentials: `kind = Service`.
//!
//! Constructors hold the invariants, callers never have to: the kind is the id's kind; a
//! Principal always has an expiry; the chain is bounded (default
//! [`limits::DEFAULT_MAX_DELEGATION_DEPTH`], never above
//! [`limits::HARD_MAX_DELEGATION_DEPTH`]); no actor appears twice or is the subject; and
//! delegation never amplifies privilege: the effective [`scopes()`](Principal::scopes)
//! are the subject's scopes intersected with every actor's grant.
//!
//! The questions services ask are one call each: [`is_delegated()`](Principal::is_delegated),
//! [`acting()`](Principal::acting), [`involves(kind)`](Principal::involves),
//! [`has_scope()`](Principal::has_scope), [`has_role()`](Principal::has_role),
//! [`is_expired_at(t)`](Principal::is_expired_at).
//!
//! ```
//! use principal::{Actor, ClaimMapping, HumanId, Issuer, Kind, Principal, PrincipalId, ScopeSet, Timestamp};
//!
//! // Alice, authenticated by her identity provider, lets an agent read her orders.
//! let issuer = Issuer::new("https://idp.example.com")?;
//! let alice = PrincipalId::from(HumanId::derive(&issuer, "alice"));
//! let agent: PrincipalId = "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?;
//!
//! let principal = Principal::builder(alice.clone(), issuer, "alice")
//!     .scopes(ScopeSet::parse("orders:read orders:write profile")?)
//!     .expires_at(Timestamp::from_unix_seconds(1_700_000_300))
//!     .actor(Actor::new(agent.clone()).with_grant(ScopeSet::parse("orders:read")?))
//!     .build()?;
//!
//! assert_eq!(principal.kind(), Kind::Human); // on whose authority
//! assert_eq!(principal.acting(), &agent); // who is calling
//! assert!(principal.is_delegated() && principal.involves(Kind::Agent));
//! assert!(principal.has_scope("orders:read"));
//! assert!(!principal.has_scope("orders:write")); // not granted to the agent
//! assert!(principal.is_expired_at(Timestamp::from_unix_seconds(1_700_000_300)));
//!
//! // To and from JWT claims (RFC 8693 `act` carries the agent), losslessly, through the
//! // preset for tokens Baton minted.
//! let claims = principal.to_claims();
//! assert_eq!(ClaimMapping::baton().principal_from_claims(&claims)?, principal);
//!
//! // An actor that is the subject itself is refused.
//! assert!(principal.to_builder().actor(Actor::new(alice)).build().is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Claims
//!
//! [`JwtClaims`] is the serde form of an access token's claims (RFC 7519, RFC 9068,
//! RFC 8693); [`ClaimMapping`] turns claims into a Principal, with presets for external
//! issuers ([`ClaimMapping::generic`], the default, and [`ClaimMapping::keycloak`]), which
//! trust no Baton-internal claim (a typed-looking `sub`, `baton_id`, `baton_kind`,
//! `baton_attrs`), and one for tokens Baton minted ([`ClaimMapping::baton`]), which trusts
//! them all and is the inverse of [`Principal::to_claims`].
//!
//! No one can become someone else: a derived id depends on the issuer and the kind
//! (`hm-`/`am-` + the UUID v5 of kind, issuer and `sub` in [`BATON_NAMESPACE`]), so the
//! same person has the same id at every hop and in every log, and a human and an agent
//! with one `sub` are two parties; a service's id depends on its issuer
//! (`svc-{client_id}-{digest}`, [`ServiceId::derive`]) unless the operator names that
//! issuer's client ([`ClaimMapping::with_service`]); only markers the identity provider
//! alone writes make a token a service's; `sub` is required; an actor's `iss` must be the
//! token's or allowed; and an actor's [`grant()`](Actor::grant) is its effective grant.
//! The issuer's `sub` is kept as [`Principal::subject`].
//!
//! ## Bounded input
//!
//! Every decoder returns a typed error ([`IdError`], [`PrincipalError`], [`ClaimError`]) on
//! malformed, oversized or truncated input, never a panic; the bounds are the constants in
//! [`limits`].
//!
//! ## JSON form
//!
//! A Principal serialises with serde to a stable JSON shape for logs, debugging endpoints
//! and examples; see [`Principal`].
//!
//! ## Time
//!
//! Every expiry decision takes "now" from a [`Clock`]; tests use `TestClock`.
//!
//! ## Features
//!
//! | feature | adds |
//! | --- | --- |
//! | `test-support` | `TestClock`, a clock that moves only when told to. For tests only (`[dev-dependencies]`): a production build has no clock anyone can move. |
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[macro_use]
mod macros;

mod claims;
mod error;
mod ids;
pub mod limits;
mod mapping;
mod principal;
mod scope;
mod time;
mod validate;

pub use claims::{
    ATTRIBUTES_CLAIM, ActClaim, Audiences, ID_CLAIM, JwtClaims, KIND_CLAIM, ROLES_CLAIM,
    TENANT_CLAIM,
};
pub use error::{ClaimError, IdError, PrincipalError};
pub use ids::{
    AgentId, Audience, BATON_NAMESPACE, HumanId, Issuer, Kind, PrincipalId, Role, ServiceId, Tenant,
};
pub use mapping::ClaimMapping;
pub use principal::{Actor, Attributes, AuthContext, Principal, PrincipalBuilder};
pub use scope::{Scope, ScopeSet};
#[cfg(any(test, feature = "test-support"))]
pub use time::TestClock;
pub use time::{Clock, SystemClock, Timestamp};
pub use uuid::Uuid;
