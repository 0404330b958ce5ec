//! Authorization (issue 11): `Requirement::check` of the reference Principal (a human
//! with an agent acting for it, five scopes) against five scopes and a kind rule
//! ("agents only on behalf of a human"). Target: at most 200 ns median.
//!
//! - `require/check_5_scopes_and_kind`: accepted (every scope held, the agent acts for a
//!   human); the decision the layer makes on every request.
//! - `require/check_denied_last_scope`: refused on the last of the five scopes (the
//!   longest walk), for scale.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use principal::{Kind, Timestamp};
use principal_proto::fixtures::reference_principal;
use tower_auth::require::{Denial, Requirement};

const SCOPES: [&str; 5] = [
    "email",
    "invoices:read",
    "orders:read",
    "orders:write",
    "profile",
];

fn bench(c: &mut Criterion) {
    let principal = reference_principal(Timestamp::from_unix_seconds(1_700_000_000)).unwrap();
    let accepted = Requirement::scopes(SCOPES)
        .unwrap()
        .and(Requirement::agents_on_behalf_of([Kind::Human]));
    assert_eq!(accepted.check(&principal, None), Ok(()));
    let mut denied_scopes = SCOPES;
    denied_scopes[4] = "profile:write";
    let denied = Requirement::scopes(denied_scopes)
        .unwrap()
        .and(Requirement::agents_on_behalf_of([Kind::Human]));
    assert_eq!(denied.check(&principal, None), Err(Denial::MissingScope));

    let mut group = c.benchmark_group("require");
    group.bench_function("check_5_scopes_and_kind", |b| {
        b.iter(|| black_box(&accepted).check(black_box(&principal), None))
    });
    group.bench_function("check_denied_last_scope", |b| {
        b.iter(|| black_box(&denied).check(black_box(&principal), None))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
