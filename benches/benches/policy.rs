//! Policy as code (issue 11): one Cedar decision for the reference Principal, reported next
//! to the require check (no target).
//!
//! The Principal is principal-proto's reference (a human with 5 scopes, 3 roles and 3
//! attributes, one agent acting), given `documents:read` (in its scopes and its agent's
//! grant) so that the reference policies of `examples/config/cedar/` can allow it, and
//! called by the edge over a passport (so the calling workload is an entity too). Each
//! iteration is `CedarPolicy::decide_for`: entities and context built from the Principal,
//! the request and entities checked against the schema, the five reference policies
//! evaluated.
//!
//! - `policy/cedar_agent_read_allow`: the agent reads a document for its human (allowed).
//! - `policy/cedar_agent_delete_forbidden`: the agent deletes it (forbidden).
//! - `policy/cedar_reference_read_not_permitted`: the unmodified reference Principal reads
//!   it (no `documents:read`: not permitted).
//!
//! One short run (`-- --warm-up-time 1 --measurement-time 3`, machine load average ~16 on
//! 2 cores), medians: allow 36.1 µs, forbidden 38.6 µs, not permitted 36.9 µs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use principal::{Scope, ScopeSet, ServiceId, Timestamp};
use principal_proto::fixtures;
use tower_auth::policy::cedar::CedarPolicy;
use tower_auth::policy::{Action, Decision, Denial, Resource};
use tower_auth::{Caller, CallerIdentity, Pattern};

fn policy(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/config/cedar");
    let cedar =
        CedarPolicy::load(dir.join("schema.cedarschema"), [dir.join("policies.cedar")]).unwrap();

    let now = Timestamp::from_unix_seconds(1_700_000_000);
    let reference = fixtures::reference_principal(now).unwrap();
    let scopes: ScopeSet = reference
        .scopes()
        .iter()
        .cloned()
        .chain([Scope::new("documents:read").unwrap()])
        .collect();
    let agent = reference.delegation()[0].clone().with_grant(scopes.clone());
    let principal = reference
        .to_builder()
        .scopes(scopes)
        .delegation(vec![agent])
        .build()
        .unwrap();
    let caller = Caller::new(
        CallerIdentity::Service(ServiceId::new("edge").unwrap()),
        Pattern::Passport,
    );
    let read = Action::new("read").unwrap();
    let delete = Action::new("delete").unwrap();
    let document = Resource::new("Baton::Document", "d-1").unwrap();

    // The decisions measured are the ones expected.
    assert_eq!(
        cedar.decide_for(&principal, Some(&caller), &read, &document),
        Ok(Decision::Allow)
    );
    assert!(matches!(
        cedar.decide_for(&principal, Some(&caller), &delete, &document),
        Ok(Decision::Deny(Denial::Forbidden { .. }))
    ));
    assert_eq!(
        cedar.decide_for(&reference, Some(&caller), &read, &document),
        Ok(Decision::Deny(Denial::NotPermitted))
    );

    let mut group = c.benchmark_group("policy");
    group.bench_function("cedar_agent_read_allow", |b| {
        b.iter(|| cedar.decide_for(black_box(&principal), Some(&caller), &read, &document))
    });
    group.bench_function("cedar_agent_delete_forbidden", |b| {
        b.iter(|| cedar.decide_for(black_box(&principal), Some(&caller), &delete, &document))
    });
    group.bench_function("cedar_reference_read_not_permitted", |b| {
        b.iter(|| cedar.decide_for(black_box(&reference), Some(&caller), &read, &document))
    });
    group.finish();
}

criterion_group!(benches, policy);
criterion_main!(benches);
