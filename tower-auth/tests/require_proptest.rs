//! `Requirement::check` as a plain function: each refusal's reason, and properties of
//! the composition (`and`, `or`, `!`) and of the scope check against `ScopeSet`.
#![allow(clippy::unwrap_used)]

use principal::{
    Actor, AgentId, HumanId, Issuer, Kind, Principal, PrincipalId, Role, Scope, ScopeSet,
    ServiceId, Tenant, Timestamp,
};
use proptest::prelude::*;
use tower_auth::peer::{SpiffeId, TrustDomain};
use tower_auth::require::{Denial, Requirement};

fn issuer() -> Issuer {
    Issuer::new("https://idp.example").unwrap()
}

fn human() -> PrincipalId {
    PrincipalId::Human(HumanId::derive(&issuer(), "alice"))
}

fn agent(name: &str) -> PrincipalId {
    PrincipalId::Agent(AgentId::derive(&issuer(), name))
}

fn build(
    subject: PrincipalId,
    scopes: &ScopeSet,
    roles: &[&str],
    actors: &[PrincipalId],
) -> Principal {
    let mut builder = Principal::builder(subject, issuer(), "alice")
        .scopes(scopes.clone())
        .roles(roles.iter().map(|role| Role::new(role).unwrap()))
        .tenant(Tenant::new("acme").unwrap())
        .expires_at(Timestamp::from_unix_seconds(1_700_000_300));
    for actor in actors {
        builder = builder.actor(Actor::new(actor.clone()));
    }
    builder.build().unwrap()
}

fn plain(scopes: &str) -> Principal {
    build(human(), &ScopeSet::parse(scopes).unwrap(), &["clerk"], &[])
}

#[test]
fn each_refusal_names_its_reason() {
    let edge: SpiffeId = "spiffe://prod.example/edge".parse().unwrap();
    let batch: SpiffeId = "spiffe://prod.example/batch".parse().unwrap();
    let alice = plain("a b");
    let for_alice = build(human(), &ScopeSet::new(), &["clerk"], &[agent("x")]);
    let deep = build(human(), &ScopeSet::new(), &[], &[agent("x"), agent("y")]);
    let alone = build(agent("x"), &ScopeSet::new(), &[], &[]);
    let service = build(
        PrincipalId::Service(ServiceId::new("billing").unwrap()),
        &ScopeSet::new(),
        &[],
        &[agent("x")],
    );
    let clerk = || Role::new("clerk").unwrap();

    let cases: Vec<(Requirement, &Principal, Option<&SpiffeId>, Denial)> = vec![
        (
            Requirement::scopes(["a", "c"]).unwrap(),
            &alice,
            None,
            Denial::MissingScope,
        ),
        (
            Requirement::role(Role::new("admin").unwrap()),
            &alice,
            None,
            Denial::MissingRole,
        ),
        (
            Requirement::role(clerk()),
            &for_alice,
            None,
            Denial::RoleHeldBySubjectOnly,
        ),
        (
            Requirement::delegated_role(Role::new("admin").unwrap()),
            &for_alice,
            None,
            Denial::MissingRole,
        ),
        (
            Requirement::tenant(Tenant::new("globex").unwrap()),
            &alice,
            None,
            Denial::TenantMismatch,
        ),
        (
            Requirement::no_agent(),
            &for_alice,
            None,
            Denial::AgentNotAllowed,
        ),
        (
            Requirement::no_agent(),
            &alone,
            None,
            Denial::AgentNotAllowed,
        ),
        (
            Requirement::agents_on_behalf_of([Kind::Human]),
            &alone,
            None,
            Denial::AgentNotOnBehalfOfAllowedKind,
        ),
        (
            Requirement::agents_on_behalf_of([Kind::Human]),
            &service,
            None,
            Denial::AgentNotOnBehalfOfAllowedKind,
        ),
        (
            Requirement::acting_kind([Kind::Human]),
            &for_alice,
            None,
            Denial::KindNotAllowed,
        ),
        (
            Requirement::max_delegation_depth(1),
            &deep,
            None,
            Denial::DelegationTooDeep,
        ),
        (
            Requirement::max_delegation_depth(0),
            &for_alice,
            None,
            Denial::DelegationTooDeep,
        ),
        (
            Requirement::caller(edge.clone()),
            &alice,
            Some(&batch),
            Denial::CallerNotAllowed,
        ),
        (
            Requirement::caller(edge.clone()),
            &alice,
            None,
            Denial::NoCaller,
        ),
        (
            Requirement::caller_in(TrustDomain::new("staging.example").unwrap()),
            &alice,
            Some(&edge),
            Denial::CallerNotAllowed,
        ),
        (
            !Requirement::authenticated(),
            &alice,
            None,
            Denial::Excluded,
        ),
        // `or` reports its first alternative.
        (
            Requirement::no_agent().or(Requirement::max_delegation_depth(0)),
            &for_alice,
            None,
            Denial::AgentNotAllowed,
        ),
        // `and` reports the first unmet part.
        (
            Requirement::authenticated()
                .and(Requirement::tenant(Tenant::new("x").unwrap()))
                .and(Requirement::no_agent()),
            &for_alice,
            None,
            Denial::TenantMismatch,
        ),
    ];
    for (requirement, principal, caller, denial) in cases {
        assert_eq!(
            requirement.check(principal, caller),
            Err(denial),
            "{requirement:?}"
        );
    }

    // And their accept paths.
    let accepted: Vec<(Requirement, &Principal, Option<&SpiffeId>)> = vec![
        (Requirement::scopes(["b", "a"]).unwrap(), &alice, None),
        (Requirement::role(clerk()), &alice, None),
        (Requirement::delegated_role(clerk()), &for_alice, None),
        (
            Requirement::tenant(Tenant::new("acme").unwrap()),
            &alice,
            None,
        ),
        (
            Requirement::agents_on_behalf_of([Kind::Human]),
            &for_alice,
            None,
        ),
        (
            Requirement::agents_on_behalf_of([Kind::Human, Kind::Service]),
            &service,
            None,
        ),
        (Requirement::acting_kind([Kind::Agent]), &for_alice, None),
        (Requirement::max_delegation_depth(2), &deep, None),
        (Requirement::caller(edge.clone()), &alice, Some(&edge)),
        (
            Requirement::caller_in(TrustDomain::new("prod.example").unwrap()),
            &alice,
            Some(&batch),
        ),
        (!Requirement::no_agent(), &for_alice, None),
    ];
    for (requirement, principal, caller) in accepted {
        assert_eq!(
            requirement.check(principal, caller),
            Ok(()),
            "{requirement:?}"
        );
    }
}

const POOL: [&str; 6] = ["a", "b", "orders:read", "orders:write", "profile", "z"];

fn scope_set() -> impl Strategy<Value = ScopeSet> {
    proptest::sample::subsequence(POOL.to_vec(), 0..=POOL.len())
        .prop_map(|scopes| scopes.into_iter().map(|s| Scope::new(s).unwrap()).collect())
}

/// A small random requirement tree over scopes, kinds and depth.
fn requirement() -> impl Strategy<Value = Requirement> {
    let leaf = prop_oneof![
        scope_set().prop_map(Requirement::all_scopes),
        Just(Requirement::no_agent()),
        Just(Requirement::agents_on_behalf_of([Kind::Human])),
        (0usize..3).prop_map(Requirement::max_delegation_depth),
        Just(Requirement::role(Role::new("clerk").unwrap())),
        Just(Requirement::authenticated()),
    ];
    leaf.prop_recursive(3, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.or(b)),
            inner.prop_map(|a| !a),
        ]
    })
}

fn any_principal() -> impl Strategy<Value = Principal> {
    (scope_set(), 0usize..3, any::<bool>()).prop_map(|(scopes, depth, agent_subject)| {
        let subject = if agent_subject {
            agent("self")
        } else {
            human()
        };
        let actors: Vec<PrincipalId> = (0..depth).map(|i| agent(&format!("a{i}"))).collect();
        build(subject, &scopes, &["clerk"], &actors)
    })
}

proptest! {
    #[test]
    fn the_scope_check_is_the_subset_test(required in scope_set(), held in scope_set()) {
        let principal = build(human(), &held, &[], &[]);
        let outcome = Requirement::all_scopes(required.clone()).check(&principal, None);
        prop_assert_eq!(outcome.is_ok(), required.is_subset(&held));
    }

    #[test]
    fn composition_is_boolean(a in requirement(), b in requirement(), principal in any_principal()) {
        let ok = |r: &Requirement| r.check(&principal, None).is_ok();
        prop_assert_eq!(ok(&a.clone().and(b.clone())), ok(&a) && ok(&b));
        prop_assert_eq!(ok(&a.clone().or(b.clone())), ok(&a) || ok(&b));
        prop_assert_eq!(ok(&!a.clone()), !ok(&a));
        prop_assert_eq!(ok(&!!a.clone()), ok(&a));
    }
}
