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
        .and_then(|refused| refused.revoked())
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

#[test]
fn updates_are_incremental_and_one_version_per_batch() {
    let denylist = Denylist::with_entries(DenylistEntries::new().deny_session_id("sid-9"));
    let version = denylist.update(|entries| {
        entries.add_token_id("jti-1", None);
        entries.add_subject(&issuer(), "bob");
    });
    assert_eq!(version, 1, "one batch, one version");
    assert_eq!(revoked_field(&denylist), Some(RevokedField::TokenId));
    // The earlier entry is still there: nothing was rebuilt from scratch.
    assert_eq!(denylist.len(), 3);

    let version = denylist.update(|entries| {
        assert!(entries.remove_token_id("jti-1"));
        assert!(!entries.remove_token_id("jti-1"));
        assert!(entries.remove_subject(&issuer(), "bob"));
        assert!(!entries.remove_subject(&issuer(), "bob"));
    });
    assert_eq!(version, 2);
    assert_eq!(revoked_field(&denylist), None);
    assert_eq!(denylist.len(), 1);

    denylist.update(|entries| entries.add_principal_id(AGENT.parse().unwrap()));
    assert_eq!(revoked_field(&denylist), Some(RevokedField::Actor));
    denylist.update(|entries| {
        assert!(entries.remove_principal_id(&AGENT.parse().unwrap()));
        assert!(entries.remove_session_id("sid-9"));
    });
    assert!(denylist.is_empty());
    assert_eq!(denylist.version(), 4);
}

#[test]
fn expired_entries_go_only_after_the_grace_and_revoke_until_then() {
    let exp = Timestamp::from_unix_seconds(1_700_000_300);
    let denylist = Denylist::with_entries(
        DenylistEntries::new()
            .deny_token_id_until("jti-1", exp)
            .deny_token_id("forever"),
    );
    denylist.update(|entries| entries.add_session_id("sid-1", Some(exp.add_seconds(1_000))));
    let version = denylist.version();

    // Past exp but within the grace (a verifier's largest leeway): kept, still revoking.
    assert_eq!(denylist.remove_expired(exp), 0);
    assert_eq!(
        denylist.remove_expired(exp.add_seconds(tower_auth::revocation::EXPIRY_GRACE_SECONDS)),
        0
    );
    assert_eq!(
        denylist.version(),
        version,
        "nothing removed, no new version"
    );
    assert_eq!(revoked_field(&denylist), Some(RevokedField::TokenId));

    // Past the grace: the token entry goes, the session (later expiry) and the entry
    // without expiry stay, and the version moves.
    assert_eq!(denylist.remove_expired(exp.add_seconds(301)), 1);
    assert_eq!(denylist.version(), version + 1);
    assert_eq!(denylist.len(), 2);
    assert_eq!(revoked_field(&denylist), Some(RevokedField::SessionId));
    assert_eq!(
        denylist.remove_expired(Timestamp::from_unix_seconds(i64::MAX)),
        1
    );
    assert_eq!(denylist.len(), 1, "an entry without expiry never expires");
}

#[test]
fn the_expiry_grace_covers_the_largest_leeway() {
    assert_eq!(
        tower_auth::revocation::EXPIRY_GRACE_SECONDS as u64,
        tower_auth::jwt::MAX_LEEWAY.as_secs()
    );
}

#[test]
fn a_reader_never_sees_half_a_batch() {
    let denylist = Arc::new(Denylist::new());
    let writer = {
        let denylist = Arc::clone(&denylist);
        std::thread::spawn(move || {
            for _ in 0..500 {
                // Two changes that together leave the principal revoked by exactly one
                // field, swapped each batch.
                denylist.update(|entries| {
                    if entries.remove_token_id("jti-1") {
                        entries.add_session_id("sid-1", None);
                    } else {
                        entries.remove_session_id("sid-1");
                        entries.add_token_id("jti-1", None);
                    }
                });
            }
        })
    };
    denylist.update(|entries| entries.add_token_id("jti-1", None));
    for _ in 0..2_000 {
        let (_, outcome) = denylist.check_versioned(&principal());
        assert!(outcome.is_err(), "a half-applied batch was visible");
    }
    writer.join().unwrap();
}
