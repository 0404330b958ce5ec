//! The in-memory denylist: each field revokes, lists swap whole, versions only grow.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use principal::{Actor, Issuer, Principal, PrincipalId, Timestamp};
use tower_auth::AuthError;
use tower_auth::revocation::{Denylist, DenylistEntries, RevocationCheck, RevokedField};

const ISSUER: &str = "https://idp.test";
const HUMAN: &str = "hm-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b";
const AGENT: &str = "am-1c2d3e4f-3c1d-4f6e-8a9b-0b7e2a505a6b";

fn issuer() -> Issuer {
    Issuer::new(ISSUER).unwrap()
}

fn principal() -> Principal {
    let id: PrincipalId = HUMAN.parse().unwrap();
    let agent: PrincipalId = AGENT.parse().unwrap();
    Principal::builder(id, issuer(), "alice")
        .expires_at(Timestamp::from_unix_seconds(2_000_000_000))
        .token_id("jti-1")
        .session_id("sid-1")
        .actor(Actor::new(agent))
        .build()
        .unwrap()
}

fn revoked_field(denylist: &Denylist) -> Option<RevokedField> {
    denylist
        .check(&principal())
        .err()
        .map(|revoked| revoked.field())
}

#[test]
fn an_empty_list_revokes_nothing() {
    let denylist = Denylist::new();
    assert_eq!(denylist.check(&principal()), Ok(()));
    assert_eq!(denylist.version(), 0);
}

#[test]
fn each_field_revokes() {
    let cases = [
        (
            DenylistEntries::new().deny_token_id("jti-1"),
            RevokedField::TokenId,
        ),
        (
            DenylistEntries::new().deny_session_id("sid-1"),
            RevokedField::SessionId,
        ),
        (
            DenylistEntries::new().deny_subject(&issuer(), "alice"),
            RevokedField::Subject,
        ),
        (
            DenylistEntries::new().deny_principal_id(HUMAN.parse().unwrap()),
            RevokedField::PrincipalId,
        ),
        (
            DenylistEntries::new().deny_principal_id(AGENT.parse().unwrap()),
            RevokedField::Actor,
        ),
    ];
    for (entries, field) in cases {
        let denylist = Denylist::with_entries(entries);
        assert_eq!(revoked_field(&denylist), Some(field));
        let error = AuthError::from(denylist.check(&principal()).unwrap_err());
        assert!(error.reason().starts_with("revoked_"), "{}", error.reason());
        assert_eq!(error.challenge(), tower_auth::Challenge::InvalidToken);
    }
}

#[test]
fn near_misses_do_not_revoke() {
    let other_issuer = Issuer::new("https://other.test").unwrap();
    let entries = DenylistEntries::new()
        .deny_token_id("jti-2")
        .deny_token_id("JTI-1")
        .deny_session_id("sid-10")
        // The same `sub` at another issuer is another person.
        .deny_subject(&other_issuer, "alice")
        .deny_subject(&issuer(), "alice ")
        .deny_principal_id("svc-billing".parse().unwrap());
    let denylist = Denylist::with_entries(entries);
    assert_eq!(denylist.check(&principal()), Ok(()));
}

#[test]
fn the_token_id_is_reported_first_when_several_match() {
    let entries = DenylistEntries::new()
        .deny_session_id("sid-1")
        .deny_token_id("jti-1");
    assert_eq!(
        revoked_field(&Denylist::with_entries(entries)),
        Some(RevokedField::TokenId)
    );
}

#[test]
fn replace_swaps_the_whole_list_and_bumps_the_version() {
    let denylist = Denylist::new();
    assert_eq!(
        denylist.replace(DenylistEntries::new().deny_session_id("sid-1")),
        1
    );
    assert_eq!(revoked_field(&denylist), Some(RevokedField::SessionId));

    // The next list does not carry the old entries over: whole replacement.
    assert_eq!(
        denylist.replace(DenylistEntries::new().deny_token_id("other")),
        2
    );
    assert_eq!(revoked_field(&denylist), None);
    assert_eq!(denylist.version(), 2);

    let (version, verdict) = denylist.check_versioned(&principal());
    assert_eq!(version, 2);
    assert!(verdict.is_ok());

    // Replacing with an identical list still bumps: the version tracks replacements.
    assert_eq!(
        denylist.replace(DenylistEntries::new().deny_token_id("other")),
        3
    );
}

#[test]
fn concurrent_replacements_give_distinct_growing_versions() {
    let denylist = Arc::new(Denylist::new());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let denylist = Arc::clone(&denylist);
            std::thread::spawn(move || {
                (0..100)
                    .map(|i| {
                        denylist.replace(DenylistEntries::new().deny_token_id(format!("j{i}")))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut versions: Vec<u64> = threads
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), 400);
    assert_eq!(denylist.version(), 400);
}

#[test]
fn shared_behind_arc_and_dyn() {
    let denylist = Arc::new(Denylist::with_entries(
        DenylistEntries::new().deny_session_id("sid-1"),
    ));
    let check: Arc<dyn RevocationCheck> = denylist.clone();
    assert!(check.check(&principal()).is_err());
    denylist.replace(DenylistEntries::new());
    assert!(check.check(&principal()).is_ok());
    assert_eq!(check.version(), 1);
}

#[test]
fn debug_shows_counts_not_contents() {
    let denylist = Denylist::with_entries(
        DenylistEntries::new()
            .deny_token_id("secret-looking-jti")
            .deny_subject(&issuer(), "alice"),
    );
    let debug = format!("{denylist:?}");
    assert!(!debug.contains("secret-looking-jti"), "{debug}");
    assert!(debug.contains("token_ids: 1"), "{debug}");
    assert_eq!(denylist.entries().len(), 2);
}
