//! The Principal, its delegation chain, and the builder that holds the invariants; one
//! module per concept: [`Actor`], [`Attributes`], [`AuthContext`], [`PrincipalBuilder`],
//! and the serde form.

use compact_str::CompactString;
use serde_json::Value;

use crate::ids::{Audience, Issuer, Kind, PrincipalId, Role, Tenant};
#[cfg(doc)]
use crate::limits::{DEFAULT_MAX_DELEGATION_DEPTH, HARD_MAX_DELEGATION_DEPTH};
use crate::scope::ScopeSet;
use crate::time::Timestamp;

mod actor;
mod attributes;
mod auth_context;
mod builder;
mod serde_form;

pub use actor::Actor;
pub use attributes::Attributes;
pub use auth_context::AuthContext;
pub use builder::PrincipalBuilder;

/// On whose authority a request runs, and who is acting.
///
/// A Principal is built only through [`Principal::builder`] (or decoded from claims by a
/// [`ClaimMapping`](crate::ClaimMapping), or read from its JSON form), and every way in holds
/// the invariants of the model:
///
/// - the kind is the kind of the id (`hm-`, `am-`, `svc-`);
/// - `expires_at` is set, and after `issued_at` and `not_before` (a Principal that could
///   never be valid is refused). The model holds no clock, so a Principal whose
///   `expires_at` has already passed *is* built: whether it is valid *now* is
///   [`is_valid_at(now)`](Principal::is_valid_at), and the verifiers that put a Principal
///   in a request check `exp` against their [`Clock`](crate::Clock) (with leeway) before
///   they build one;
/// - the delegation chain is at most the maximum depth long (default
///   [`DEFAULT_MAX_DELEGATION_DEPTH`], never above [`HARD_MAX_DELEGATION_DEPTH`]), no actor
///   appears twice, and no actor is the subject; "the same" is the same id, or the same
///   issuer and subject under another kind (an actor without an issuer of its own is
///   vouched for by the subject's issuer);
/// - delegation never amplifies privilege: [`scopes()`](Principal::scopes) are the
///   subject's scopes intersected with the grant of every actor that has one, and each
///   actor's [`grant()`](Actor::grant) is its effective grant, those same scopes (so no
///   caller can read a raw grant as a permission);
/// - every string and list is within the bounds of [`limits`](crate::limits).
///
/// The subject's roles are a sorted slice without duplicates; attributes a sorted map
/// ([`Attributes`]); audiences keep their order,
/// without duplicates.
///
/// # JSON form
///
/// `serde` reads and writes this stable shape (for logs, debugging endpoints, examples):
///
/// ```json
/// {
///   "id": "hm-<uuid>",              // typed id
///   "kind": "human",                // written for readers; checked against id when read
///   "issuer": "https://idp.example.com",
///   "subject": "alice",             // the issuer's sub, as it was
///   "tenant": "acme",               // optional
///   "roles": ["admin"],             // sorted
///   "scopes": ["orders:read"],      // effective scopes, sorted
///   "audiences": ["https://api.example.com"],
///   "auth": {"amr": ["pwd"], "acr": "..", "auth_time": 1700000000, "client_id": ".."},
///   "issued_at": 1700000000,        // optional, seconds since the epoch
///   "expires_at": 1700000300,
///   "not_before": 1700000000,       // optional
///   "token_id": "..",               // optional (jti)
///   "session_id": "..",             // optional (sid)
///   "attributes": {"k": "v"},
///   "delegation": [{"id": "am-<uuid>", "kind": "agent", "grant": ["orders:read"]}],
///   "may_act": {"sub": ".."}        // optional, RFC 8693 may_act as received
/// }
/// ```
///
/// Optional fields are absent when unset; `roles`, `scopes`, `audiences`, `attributes`,
/// `delegation` and `auth` are always written (possibly empty) and may be omitted when read.
/// Unknown fields are refused when read. Reading goes through the builder, with the
/// delegation depth allowed up to the hard cap.
///
/// ```
/// use principal::{Actor, HumanId, Issuer, Kind, Principal, PrincipalId, ScopeSet, Timestamp};
///
/// let issuer = Issuer::new("https://idp.example.com")?;
/// let alice = PrincipalId::Human(HumanId::derive(&issuer, "alice"));
/// let agent: PrincipalId = "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?;
///
/// let principal = Principal::builder(alice.clone(), issuer.clone(), "alice")
///     .scopes(ScopeSet::parse("orders:read orders:write")?)
///     .expires_at(Timestamp::from_unix_seconds(1_700_000_300))
///     .actor(Actor::new(agent.clone()).with_grant(ScopeSet::parse("orders:read")?))
///     .build()?;
/// assert_eq!(principal.kind(), Kind::Human);
/// assert_eq!(principal.acting(), &agent);
/// assert!(principal.has_scope("orders:read"));
/// assert!(!principal.has_scope("orders:write")); // the agent was not granted it
///
/// // The subject cannot act for itself.
/// let refused = Principal::builder(alice.clone(), issuer, "alice")
///     .expires_at(Timestamp::from_unix_seconds(1_700_000_300))
///     .actor(Actor::new(alice))
///     .build();
/// assert!(refused.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    id: PrincipalId,
    issuer: Issuer,
    subject: CompactString,
    tenant: Option<Tenant>,
    roles: Vec<Role>,
    scopes: ScopeSet,
    audiences: Vec<Audience>,
    auth: AuthContext,
    issued_at: Option<Timestamp>,
    expires_at: Timestamp,
    not_before: Option<Timestamp>,
    token_id: Option<CompactString>,
    session_id: Option<CompactString>,
    attributes: Attributes,
    delegation: Vec<Actor>,
    may_act: Option<Value>,
}

impl Principal {
    /// The subject's kind (that of its id).
    pub fn kind(&self) -> Kind {
        self.id.kind()
    }

    /// The subject's typed id.
    pub fn id(&self) -> &PrincipalId {
        &self.id
    }

    /// The issuer that vouched for the subject.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The issuer's subject identifier (`sub`), as the issuer sent it. For a service token
    /// without `sub`, the client id the service id was made from.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The tenant, if any.
    pub fn tenant(&self) -> Option<&Tenant> {
        self.tenant.as_ref()
    }

    /// The subject's roles, sorted, without duplicates.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// The effective scopes: the subject's scopes intersected with every actor's grant.
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// The audiences the credential was issued for, in their original order.
    pub fn audiences(&self) -> &[Audience] {
        &self.audiences
    }

    /// How the subject authenticated.
    pub fn auth(&self) -> &AuthContext {
        &self.auth
    }

    /// When the credential was issued, if known.
    pub fn issued_at(&self) -> Option<Timestamp> {
        self.issued_at
    }

    /// When the Principal stops being valid.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// When the Principal starts being valid, if restricted.
    pub fn not_before(&self) -> Option<Timestamp> {
        self.not_before
    }

    /// The credential's id (`jti`), if any.
    pub fn token_id(&self) -> Option<&str> {
        self.token_id.as_deref()
    }

    /// The session id (`sid`), if any.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// Enrichment attributes.
    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }

    /// The actors working on the subject's behalf, oldest first; the last one is the party
    /// calling now.
    pub fn delegation(&self) -> &[Actor] {
        &self.delegation
    }

    /// RFC 8693 `may_act` (who may act for the subject), as received.
    pub fn may_act(&self) -> Option<&Value> {
        self.may_act.as_ref()
    }

    /// Whether someone acts on the subject's behalf.
    pub fn is_delegated(&self) -> bool {
        !self.delegation.is_empty()
    }

    /// The id of the party calling now: the newest actor, or the subject when nobody acts
    /// for it.
    pub fn acting(&self) -> &PrincipalId {
        self.delegation.last().map_or(&self.id, Actor::id)
    }

    /// The newest actor, if the Principal is delegated.
    pub fn current_actor(&self) -> Option<&Actor> {
        self.delegation.last()
    }

    /// Whether the subject or any actor in the chain is of this kind.
    pub fn involves(&self, kind: Kind) -> bool {
        self.kind() == kind || self.delegation.iter().any(|a| a.kind() == kind)
    }

    /// Whether the effective scopes hold `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// Whether the subject has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles
            .binary_search_by(|candidate| candidate.as_str().cmp(role))
            .is_ok()
    }

    /// Whether the Principal has expired at `now` (JWT rule: invalid on or after `exp`).
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    /// Whether the Principal is valid at `now`: not expired, and not before `not_before`.
    pub fn is_valid_at(&self, now: Timestamp) -> bool {
        !self.is_expired_at(now) && self.not_before.is_none_or(|nbf| now >= nbf)
    }
}
