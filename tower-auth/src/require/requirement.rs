//! What a route requires of the verified Principal, and the decision: a plain function,
//! testable without tower.

use std::fmt;
use std::ops::Not;

use principal::{Kind, Principal, Role, Scope, ScopeSet, Tenant};

use super::RequireError;
use crate::peer::{SpiffeId, TrustDomain};

/// Why a [`Requirement`] refused a Principal. [`reason`](Denial::reason) is the stable
/// label of the audit event; clients only ever see 403 `insufficient_scope` (or gRPC
/// `PERMISSION_DENIED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Denial {
    /// A required scope is not among the Principal's effective scopes.
    MissingScope,
    /// The subject does not hold a required role.
    MissingRole,
    /// The subject holds the role, but someone acts on its behalf and the requirement
    /// does not let the subject's role count for a delegate
    /// ([`Requirement::role`] versus [`Requirement::delegated_role`]).
    RoleHeldBySubjectOnly,
    /// The Principal's tenant is not the required one (or it has none).
    TenantMismatch,
    /// An agent is the subject or in the delegation chain, where no agent may be.
    AgentNotAllowed,
    /// An agent is involved, but not on behalf of a subject of the allowed kind (an agent
    /// acting alone, or for another kind).
    AgentNotOnBehalfOfAllowedKind,
    /// The party acting now is not of an allowed kind.
    KindNotAllowed,
    /// The delegation chain is longer than allowed.
    DelegationTooDeep,
    /// The calling workload is not the required one.
    CallerNotAllowed,
    /// No calling workload identity is known (no mTLS peer, no workload caller).
    NoCaller,
    /// A negated requirement ([`Not`]) was met.
    Excluded,
    /// The route or method has no requirement, and the layer denies those.
    NoRequirement,
}

impl Denial {
    /// A stable snake_case label for the audit event and metrics.
    ///
    /// ```
    /// use tower_auth::require::Denial;
    ///
    /// assert_eq!(Denial::RoleHeldBySubjectOnly.reason(), "role_held_by_subject_only");
    /// ```
    pub fn reason(self) -> &'static str {
        match self {
            Denial::MissingScope => "missing_scope",
            Denial::MissingRole => "missing_role",
            Denial::RoleHeldBySubjectOnly => "role_held_by_subject_only",
            Denial::TenantMismatch => "tenant_mismatch",
            Denial::AgentNotAllowed => "agent_not_allowed",
            Denial::AgentNotOnBehalfOfAllowedKind => "agent_not_on_behalf_of_allowed_kind",
            Denial::KindNotAllowed => "kind_not_allowed",
            Denial::DelegationTooDeep => "delegation_too_deep",
            Denial::CallerNotAllowed => "caller_not_allowed",
            Denial::NoCaller => "no_caller",
            Denial::Excluded => "excluded",
            Denial::NoRequirement => "no_requirement",
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// A set of kinds, one bit each.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Kinds(u8);

impl Kinds {
    fn bit(kind: Kind) -> u8 {
        match kind {
            Kind::Human => 1,
            Kind::Agent => 2,
            Kind::Service => 4,
        }
    }

    fn contains(self, kind: Kind) -> bool {
        self.0 & Kinds::bit(kind) != 0
    }
}

impl fmt::Debug for Kinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(Kind::ALL.into_iter().filter(|kind| self.contains(*kind)))
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Authenticated,
    /// Every one of these scopes, sorted and without duplicates.
    Scopes(Box<[Scope]>),
    Role {
        role: Role,
        delegated: bool,
    },
    Tenant(Tenant),
    NoAgent,
    AgentsOnBehalfOf(Kinds),
    ActingKind(Kinds),
    MaxDelegationDepth(usize),
    Caller(SpiffeId),
    CallerIn(TrustDomain),
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
}

/// What a route or gRPC method requires of the verified Principal (and of the workload
/// that calls): scopes, roles, tenant, kinds, delegation depth, the caller's SPIFFE ID,
/// composed with [`and`](Requirement::and), [`or`](Requirement::or) and `!` ([`Not`]).
///
/// Everything is checked and parsed when the requirement is built (a malformed scope is a
/// [`RequireError`]); [`check`](Requirement::check) only compares, and allocates nothing.
///
/// **Roles are delegation-aware.** [`Principal::roles`] are the subject's. When an agent
/// (or anyone) acts on the subject's behalf, [`Requirement::role`] does not pass on the
/// subject's role: the agent is not the human. [`Requirement::delegated_role`] says
/// explicitly that the subject's role counts whoever acts for it.
///
/// ```
/// use principal::{Actor, HumanId, Issuer, Kind, Principal, PrincipalId, Role, ScopeSet, Timestamp};
/// use tower_auth::require::{Denial, Requirement};
///
/// // Agents only on behalf of a human, and at most one hop of delegation.
/// let requirement = Requirement::scopes(["orders:read"])?
///     .and(Requirement::agents_on_behalf_of([Kind::Human]))
///     .and(Requirement::max_delegation_depth(1))
///     .and(Requirement::role(Role::new("clerk")?));
///
/// let issuer = Issuer::new("https://idp.example.com")?;
/// let alice = PrincipalId::Human(HumanId::derive(&issuer, "alice"));
/// let builder = Principal::builder(alice, issuer, "alice")
///     .scopes(ScopeSet::parse("orders:read")?)
///     .role(Role::new("clerk")?)
///     .expires_at(Timestamp::from_unix_seconds(1_700_000_300));
///
/// // Alice herself: accepted.
/// assert_eq!(requirement.check(&builder.clone().build()?, None), Ok(()));
///
/// // Her agent: the role is hers, not the agent's.
/// let agent: PrincipalId = "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?;
/// let delegated = builder.actor(Actor::new(agent)).build()?;
/// assert_eq!(requirement.check(&delegated, None), Err(Denial::RoleHeldBySubjectOnly));
///
/// // A malformed scope is refused when the requirement is built.
/// assert!(Requirement::scopes(["orders read"]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    node: Node,
}

impl Requirement {
    fn of(node: Node) -> Self {
        Requirement { node }
    }

    /// Any verified Principal (the requirement of a route open to everyone
    /// authenticated).
    pub fn authenticated() -> Self {
        Requirement::of(Node::Authenticated)
    }

    /// Every scope in `scopes` among the Principal's effective scopes (which already
    /// exclude what a delegate was not granted). Each is parsed as an RFC 6749
    /// `scope-token`; a malformed one is [`RequireError::Scope`].
    pub fn scopes<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Result<Self, RequireError> {
        let mut parsed = Vec::new();
        for scope in scopes {
            parsed.push(Scope::new(scope).map_err(|source| RequireError::Scope {
                scope: scope.chars().take(64).collect(),
                source,
            })?);
        }
        Ok(Requirement::all_scopes(parsed.into_iter().collect()))
    }

    /// Every scope of an already parsed set.
    pub fn all_scopes(scopes: ScopeSet) -> Self {
        // ScopeSet is sorted and without duplicates: `check` walks both in one pass.
        Requirement::of(Node::Scopes(scopes.iter().cloned().collect()))
    }

    /// The subject holds `role`, and nobody acts on its behalf: a delegate does not
    /// inherit the subject's roles.
    pub fn role(role: Role) -> Self {
        Requirement::of(Node::Role {
            role,
            delegated: false,
        })
    }

    /// The subject holds `role`, whoever acts on its behalf: say so only where a delegate
    /// (an agent) may use its human's role.
    pub fn delegated_role(role: Role) -> Self {
        Requirement::of(Node::Role {
            role,
            delegated: true,
        })
    }

    /// The Principal belongs to `tenant`.
    pub fn tenant(tenant: Tenant) -> Self {
        Requirement::of(Node::Tenant(tenant))
    }

    /// No agent anywhere: neither the subject nor any actor of the chain.
    pub fn no_agent() -> Self {
        Requirement::of(Node::NoAgent)
    }

    /// Agents are allowed only on behalf of a subject of one of `kinds` (for example
    /// `[Kind::Human]`): when an agent is in the chain the subject must be of those kinds,
    /// so an agent acting alone (an `Agent` subject) is refused unless `kinds` holds
    /// `Agent`. Without an agent involved, this passes.
    pub fn agents_on_behalf_of(kinds: impl IntoIterator<Item = Kind>) -> Self {
        Requirement::of(Node::AgentsOnBehalfOf(kinds_of(kinds)))
    }

    /// The party acting now ([`Principal::acting`]: the newest actor, or the subject) is
    /// of one of `kinds`.
    pub fn acting_kind(kinds: impl IntoIterator<Item = Kind>) -> Self {
        Requirement::of(Node::ActingKind(kinds_of(kinds)))
    }

    /// At most `depth` actors in the delegation chain (`0`: nobody may act for the
    /// subject).
    pub fn max_delegation_depth(depth: usize) -> Self {
        Requirement::of(Node::MaxDelegationDepth(depth))
    }

    /// The calling workload is exactly `id`: the mTLS peer, or the workload the
    /// verifier named as caller.
    pub fn caller(id: SpiffeId) -> Self {
        Requirement::of(Node::Caller(id))
    }

    /// The calling workload belongs to the trust domain `domain`.
    pub fn caller_in(domain: TrustDomain) -> Self {
        Requirement::of(Node::CallerIn(domain))
    }

    /// This requirement and `other`.
    pub fn and(self, other: Requirement) -> Self {
        match self.node {
            Node::All(mut nodes) => {
                nodes.push(other.node);
                Requirement::of(Node::All(nodes))
            }
            node => Requirement::of(Node::All(vec![node, other.node])),
        }
    }

    /// This requirement or `other`. A refusal reports the reason of the first
    /// alternative.
    pub fn or(self, other: Requirement) -> Self {
        match self.node {
            Node::Any(mut nodes) => {
                nodes.push(other.node);
                Requirement::of(Node::Any(nodes))
            }
            node => Requirement::of(Node::Any(vec![node, other.node])),
        }
    }

    /// The scopes this requirement names outside any negation, sorted, space-separated:
    /// what the `scope` attribute of a 403 challenge tells the client to ask for. Empty
    /// when it names none.
    pub fn challenge_scopes(&self) -> String {
        let mut scopes = Vec::new();
        collect_scopes(&self.node, &mut scopes);
        scopes.sort_unstable();
        scopes.dedup();
        scopes.join(" ")
    }

    /// Whether `principal`, called by the workload `caller` (if known), meets this
    /// requirement. Compares only; allocates nothing.
    pub fn check(&self, principal: &Principal, caller: Option<&SpiffeId>) -> Result<(), Denial> {
        check(&self.node, principal, caller)
    }
}

impl Not for Requirement {
    type Output = Requirement;

    /// Met when the inner requirement is not (refusal reason [`Denial::Excluded`]).
    fn not(self) -> Requirement {
        match self.node {
            Node::Not(inner) => Requirement::of(*inner),
            node => Requirement::of(Node::Not(Box::new(node))),
        }
    }
}

fn kinds_of(kinds: impl IntoIterator<Item = Kind>) -> Kinds {
    Kinds(
        kinds
            .into_iter()
            .fold(0, |bits, kind| bits | Kinds::bit(kind)),
    )
}

fn collect_scopes<'a>(node: &'a Node, into: &mut Vec<&'a str>) {
    match node {
        Node::Scopes(scopes) => into.extend(scopes.iter().map(Scope::as_str)),
        Node::All(nodes) | Node::Any(nodes) => {
            for node in nodes {
                collect_scopes(node, into);
            }
        }
        _ => {}
    }
}

/// Whether the sorted `held` contains every one of the sorted `required`: one pass.
fn holds_all(held: &[Scope], required: &[Scope]) -> bool {
    let mut held = held.iter();
    'required: for scope in required {
        for candidate in held.by_ref() {
            match candidate.cmp(scope) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => continue 'required,
                std::cmp::Ordering::Greater => return false,
            }
        }
        return false;
    }
    true
}

fn check(node: &Node, principal: &Principal, caller: Option<&SpiffeId>) -> Result<(), Denial> {
    let pass = |ok: bool, denial: Denial| if ok { Ok(()) } else { Err(denial) };
    match node {
        Node::Authenticated => Ok(()),
        Node::Scopes(required) => pass(
            holds_all(principal.scopes().as_slice(), required),
            Denial::MissingScope,
        ),
        Node::Role { role, delegated } => {
            if !principal.has_role(role.as_str()) {
                Err(Denial::MissingRole)
            } else if principal.is_delegated() && !delegated {
                Err(Denial::RoleHeldBySubjectOnly)
            } else {
                Ok(())
            }
        }
        Node::Tenant(tenant) => pass(principal.tenant() == Some(tenant), Denial::TenantMismatch),
        Node::NoAgent => pass(!principal.involves(Kind::Agent), Denial::AgentNotAllowed),
        Node::AgentsOnBehalfOf(kinds) => pass(
            !principal.involves(Kind::Agent) || kinds.contains(principal.kind()),
            Denial::AgentNotOnBehalfOfAllowedKind,
        ),
        Node::ActingKind(kinds) => pass(
            kinds.contains(principal.acting().kind()),
            Denial::KindNotAllowed,
        ),
        Node::MaxDelegationDepth(depth) => pass(
            principal.delegation().len() <= *depth,
            Denial::DelegationTooDeep,
        ),
        Node::Caller(id) => match caller {
            None => Err(Denial::NoCaller),
            Some(caller) => pass(caller == id, Denial::CallerNotAllowed),
        },
        Node::CallerIn(domain) => match caller {
            None => Err(Denial::NoCaller),
            Some(caller) => pass(domain.contains(caller), Denial::CallerNotAllowed),
        },
        Node::All(nodes) => nodes
            .iter()
            .try_for_each(|node| check(node, principal, caller)),
        Node::Any(nodes) => {
            let mut first = None;
            for node in nodes {
                match check(node, principal, caller) {
                    Ok(()) => return Ok(()),
                    Err(denial) => {
                        first.get_or_insert(denial);
                    }
                }
            }
            Err(first.unwrap_or(Denial::NoRequirement))
        }
        Node::Not(inner) => match check(inner, principal, caller) {
            Ok(()) => Err(Denial::Excluded),
            Err(_) => Ok(()),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn holds_all_is_a_sorted_subset_test() {
        let set = |s: &str| ScopeSet::parse(s).unwrap();
        let held = set("a b c d");
        assert!(holds_all(held.as_slice(), set("a c").as_slice()));
        assert!(holds_all(held.as_slice(), set("").as_slice()));
        assert!(holds_all(held.as_slice(), held.as_slice()));
        assert!(!holds_all(held.as_slice(), set("a e").as_slice()));
        assert!(!holds_all(held.as_slice(), set("0").as_slice()));
        assert!(!holds_all(set("").as_slice(), set("a").as_slice()));
    }

    #[test]
    fn not_not_is_the_requirement() {
        let requirement = Requirement::no_agent();
        assert_eq!(!!requirement.clone(), requirement);
    }

    #[test]
    fn challenge_scopes_leave_out_negated_ones() {
        let requirement = Requirement::scopes(["b", "a"])
            .unwrap()
            .or(Requirement::scopes(["c", "a"]).unwrap())
            .and(!Requirement::scopes(["admin"]).unwrap());
        assert_eq!(requirement.challenge_scopes(), "a b c");
        assert_eq!(Requirement::no_agent().challenge_scopes(), "");
    }
}
