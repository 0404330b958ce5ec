//! One behaviour suite, run against every store; then what is particular to SQLite.

use std::sync::Arc;

use principal::{AgentId, Clock, HumanId, ScopeSet, TestClock, Timestamp, Uuid};
use proptest::prelude::*;

use super::key::PresentedKey;
use super::*;

const START: i64 = 1_700_000_000;
const DAY: i64 = 86_400;

fn agent(n: u128) -> AgentId {
    AgentId::new(Uuid::from_u128(0xa000 + n))
}

fn human(n: u128) -> HumanId {
    HumanId::new(Uuid::from_u128(0x4000 + n))
}

fn scopes(text: &str) -> ScopeSet {
    ScopeSet::parse(text).expect("test scopes parse")
}

fn request(n: u128, grant: &str, expires_at: Timestamp) -> NewAgentKey {
    NewAgentKey::new(agent(n), human(n), scopes(grant), expires_at)
}

/// `key` with the last secret character changed: the right id, a wrong secret.
fn wrong_secret(key: &str) -> String {
    let mut wrong = key.to_owned();
    let replacement = if key.ends_with('0') { "1" } else { "0" };
    wrong.replace_range(KEY_LEN - 1.., replacement);
    wrong
}

/// Everything a store might print about an issued key, to search for the secret.
fn secret_part(key: &str) -> &str {
    &key[KEY_LEN - 64..]
}

/// The behaviour every [`AgentKeyStore`] must show. `clock` is the caller's clock.
async fn behaviour_suite(store: &dyn AgentKeyStore, clock: &TestClock) {
    let now = clock.now();
    let expires_at = now.add_seconds(DAY);

    // Create: the whole key once, in the documented form, with its metadata.
    let issued = store
        .create(request(1, "orders:read orders:write", expires_at), now)
        .await
        .expect("create");
    let key = issued.key.expose_secret().to_owned();
    assert_eq!(key.len(), KEY_LEN);
    assert!(key.starts_with(&format!("{}_", issued.info.id)), "{key:?}");
    assert_eq!(issued.key.id(), issued.info.id);
    assert_eq!(issued.info.agent, agent(1));
    assert_eq!(issued.info.human, human(1));
    assert_eq!(issued.info.scopes, scopes("orders:read orders:write"));
    assert_eq!(issued.info.created_at, now);
    assert_eq!(issued.info.expires_at, expires_at);
    assert_eq!(issued.info.revoked_at, None);

    // Secrets never show in Debug: the issued key, the store, the grant, the errors.
    let debug = format!("{issued:?} {store:?}");
    assert!(!debug.contains(secret_part(&key)), "{debug}");
    assert!(debug.contains(&issued.info.id.to_string()), "{debug}");

    // Authenticate: the grant the key was bound to.
    let grant = store.authenticate(&key, now).await.expect("authenticate");
    assert_eq!(grant.key_id, issued.info.id);
    assert_eq!(grant.agent, agent(1));
    assert_eq!(grant.human, human(1));
    assert_eq!(grant.scopes, scopes("orders:read orders:write"));
    assert_eq!(grant.expires_at, expires_at);
    assert!(!format!("{grant:?}").contains(secret_part(&key)));

    // Two keys never share an id or a secret.
    let second = store
        .create(request(1, "orders:read", expires_at), now)
        .await
        .expect("create a second key");
    assert_ne!(second.info.id, issued.info.id);
    assert_ne!(secret_part(second.key.expose_secret()), secret_part(&key));
    let second_grant = store
        .authenticate(second.key.expose_secret(), now)
        .await
        .expect("the second key");
    assert_eq!(second_grant.scopes, scopes("orders:read"));

    // Wrong secret behind the right id.
    let refused = store.authenticate(&wrong_secret(&key), now).await;
    assert_eq!(
        refused,
        Err(AgentKeyError::WrongSecret { id: issued.info.id })
    );
    // Another key's secret behind this key's id.
    let swapped = format!(
        "{}_{}",
        issued.info.id,
        secret_part(second.key.expose_secret())
    );
    assert!(matches!(
        store.authenticate(&swapped, now).await,
        Err(AgentKeyError::WrongSecret { .. })
    ));

    // Unknown id, well formed.
    let unknown = format!("{KEY_PREFIX}0123456789abcdef_{}", "ab".repeat(32));
    let refused = store.authenticate(&unknown, now).await;
    assert!(
        matches!(refused, Err(AgentKeyError::UnknownKey { id }) if id.to_string() == "baton_ak_0123456789abcdef"),
        "{refused:?}"
    );

    // Malformed, in every way; never a panic, never a look-up.
    let huge = "a".repeat(1 << 20);
    let non_ascii_same_length = format!("{}é", &key[..KEY_LEN - 2]);
    assert_eq!(non_ascii_same_length.len(), KEY_LEN);
    let non_ascii_id = format!("{KEY_PREFIX}é{}", &key[KEY_PREFIX.len() + 2..]);
    assert_eq!(non_ascii_id.len(), KEY_LEN);
    let cases: Vec<(&str, String, MalformedKey)> = vec![
        ("empty", String::new(), MalformedKey::Length),
        ("prefix only", KEY_PREFIX.to_owned(), MalformedKey::Length),
        ("huge", huge, MalformedKey::Length),
        (
            "one byte short",
            key[..KEY_LEN - 1].to_owned(),
            MalformedKey::Length,
        ),
        ("one byte long", format!("{key}0"), MalformedKey::Length),
        (
            "trailing newline",
            format!("{}\n", &key[..KEY_LEN - 1]),
            MalformedKey::Secret,
        ),
        (
            "bearer scheme",
            format!("Bearer {}", &key[7..]),
            MalformedKey::Prefix,
        ),
        (
            "other prefix",
            format!("xaton_ak_{}", &key[9..]),
            MalformedKey::Prefix,
        ),
        (
            "uppercase id",
            format!("{KEY_PREFIX}{}", key[9..].to_uppercase()),
            MalformedKey::Id,
        ),
        (
            "uppercase secret",
            format!("{}{}", &key[..26], key[26..].to_uppercase()),
            MalformedKey::Secret,
        ),
        (
            "separator",
            format!("{}-{}", &key[..25], &key[26..]),
            MalformedKey::Separator,
        ),
        (
            "non-ASCII secret",
            non_ascii_same_length,
            MalformedKey::Secret,
        ),
        ("non-ASCII id", non_ascii_id, MalformedKey::Id),
        (
            "NUL",
            format!("{}\0{}", &key[..40], &key[41..]),
            MalformedKey::Secret,
        ),
    ];
    for (what, presented, problem) in cases {
        let refused = store.authenticate(&presented, now).await;
        assert_eq!(refused, Err(AgentKeyError::Malformed { problem }), "{what}");
        assert!(refused.as_ref().is_err_and(AgentKeyError::is_rejection));
    }

    // Listed for its human only, as metadata; oldest first.
    let other = store
        .create(
            NewAgentKey::new(agent(2), human(2), scopes("profile"), expires_at),
            now.add_seconds(1),
        )
        .await
        .expect("another human's key");
    let listed = store.list_for_human(&human(1)).await.expect("list");
    let mut expected = vec![issued.info.clone(), second.info.clone()];
    expected.sort_by_key(|info| (info.created_at, info.id));
    assert_eq!(listed, expected);
    assert!(!format!("{listed:?}").contains(secret_part(&key)));
    assert_eq!(
        store.list_for_human(&human(2)).await.expect("list"),
        vec![other.info.clone()]
    );
    assert_eq!(store.list_for_human(&human(3)).await.expect("list"), vec![]);

    // Expiry: valid up to the second before, refused from the expiry on.
    clock.set(expires_at.add_seconds(-1));
    assert!(store.authenticate(&key, clock.now()).await.is_ok());
    clock.set(expires_at);
    assert_eq!(
        store.authenticate(&key, clock.now()).await,
        Err(AgentKeyError::Expired {
            id: issued.info.id,
            expired_at: expires_at
        })
    );
    // An expired key with a wrong secret says "wrong secret", not "expired".
    assert!(matches!(
        store.authenticate(&wrong_secret(&key), clock.now()).await,
        Err(AgentKeyError::WrongSecret { .. })
    ));
    clock.set(now);

    // Revocation: refused from then on, for the right secret; idempotent.
    let revoked_at = now.add_seconds(10);
    store
        .revoke(&issued.info.id, revoked_at)
        .await
        .expect("revoke");
    assert_eq!(
        store.authenticate(&key, now.add_seconds(11)).await,
        Err(AgentKeyError::Revoked {
            id: issued.info.id,
            revoked_at
        })
    );
    assert!(matches!(
        store.authenticate(&wrong_secret(&key), now).await,
        Err(AgentKeyError::WrongSecret { .. })
    ));
    store
        .revoke(&issued.info.id, now.add_seconds(20))
        .await
        .expect("revoking twice");
    let listed = store.list_for_human(&human(1)).await.expect("list");
    let revoked = listed
        .iter()
        .find(|info| info.id == issued.info.id)
        .expect("the revoked key is still listed");
    assert_eq!(
        revoked.revoked_at,
        Some(revoked_at),
        "the first revocation time stays"
    );
    assert!(revoked.is_revoked());
    // The other key of the same human is untouched.
    assert!(
        store
            .authenticate(second.key.expose_secret(), now)
            .await
            .is_ok()
    );

    // Revoking an id no key has.
    let unknown_id = AgentKeyId::parse("baton_ak_fedcba9876543210").expect("id");
    assert_eq!(
        store.revoke(&unknown_id, now).await,
        Err(AgentKeyError::UnknownKey { id: unknown_id })
    );

    // An expiry not after the creation time is refused, and nothing is stored.
    for expires_at in [now, now.add_seconds(-1)] {
        let refused = store.create(request(5, "profile", expires_at), now).await;
        assert!(
            matches!(refused, Err(AgentKeyError::ExpiryNotInFuture { .. })),
            "{refused:?}"
        );
    }
    assert_eq!(store.list_for_human(&human(5)).await.expect("list"), vec![]);
}

#[tokio::test]
async fn memory_store_passes_the_behaviour_suite() {
    let clock = TestClock::new(Timestamp::from_unix_seconds(START));
    let store = MemoryAgentKeyStore::new();
    behaviour_suite(&store, &clock).await;
    // Also through an `Arc<dyn _>`, as a service holds it.
    let shared: Arc<dyn AgentKeyStore> = Arc::new(MemoryAgentKeyStore::new());
    behaviour_suite(&shared, &clock).await;
}

#[test]
fn key_id_parses_and_refuses() {
    let id = AgentKeyId::parse("baton_ak_00ff00ff00ff00ff").expect("id");
    assert_eq!(id.to_string(), "baton_ak_00ff00ff00ff00ff");
    assert_eq!(format!("{id:?}"), "AgentKeyId(baton_ak_00ff00ff00ff00ff)");
    for (text, problem) in [
        ("", MalformedKey::Length),
        ("baton_ak_00ff00ff00ff00f", MalformedKey::Length),
        ("baton_ak_00ff00ff00ff00fg", MalformedKey::Id),
        ("baton_ak_00FF00FF00FF00FF", MalformedKey::Id),
        ("baton-ak_00ff00ff00ff00ff", MalformedKey::Prefix),
        ("baton_ak_00ff00ff00ff00é", MalformedKey::Id),
    ] {
        assert_eq!(
            AgentKeyId::parse(text),
            Err(AgentKeyError::Malformed { problem }),
            "{text:?}"
        );
    }
}

#[test]
fn secret_is_redacted_in_debug_and_errors() {
    let store = MemoryAgentKeyStore::new();
    let now = Timestamp::from_unix_seconds(START);
    let issued = store
        .create_sync(request(1, "a", now.add_seconds(DAY)), now)
        .expect("create");
    let key = issued.key.expose_secret();
    let debug = format!("{:?} {issued:?} {:#?}", issued.key, issued.key);
    assert!(!debug.contains(secret_part(key)), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    let error = store
        .authenticate_sync(&wrong_secret(key), now)
        .expect_err("wrong secret");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(secret_part(key)), "{shown}");
    assert!(
        !shown.contains(&secret_part(&wrong_secret(key))[..60]),
        "{shown}"
    );
}

#[test]
fn grant_never_exceeds_the_humans_scopes() {
    let store = MemoryAgentKeyStore::new();
    let now = Timestamp::from_unix_seconds(START);
    let issued = store
        .create_sync(request(1, "a b c", now.add_seconds(DAY)), now)
        .expect("create");
    let grant = store
        .authenticate_sync(issued.key.expose_secret(), now)
        .expect("grant");
    assert_eq!(grant.effective_scopes(&scopes("b c d")), scopes("b c"));
    assert_eq!(grant.effective_scopes(&scopes("")), scopes(""));
    assert_eq!(
        grant.effective_scopes(&scopes("a b c d e")),
        scopes("a b c")
    );
}

#[test]
fn rejections_and_failures_are_told_apart() {
    let id = AgentKeyId::parse("baton_ak_0000000000000001").expect("id");
    let at = Timestamp::from_unix_seconds(START);
    let all = [
        (
            AgentKeyError::Malformed {
                problem: MalformedKey::Length,
            },
            "malformed_agent_key",
            true,
        ),
        (AgentKeyError::UnknownKey { id }, "unknown_agent_key", true),
        (
            AgentKeyError::WrongSecret { id },
            "wrong_agent_key_secret",
            true,
        ),
        (
            AgentKeyError::Revoked { id, revoked_at: at },
            "agent_key_revoked",
            true,
        ),
        (
            AgentKeyError::Expired { id, expired_at: at },
            "agent_key_expired",
            true,
        ),
        (
            AgentKeyError::ExpiryNotInFuture {
                expires_at: at,
                now: at,
            },
            "agent_key_expiry_not_in_future",
            true,
        ),
        (
            AgentKeyError::RandomUnavailable,
            "random_unavailable",
            false,
        ),
        (
            AgentKeyError::SchemaTooNew {
                found: 9,
                supported: 1,
            },
            "agent_key_schema_too_new",
            false,
        ),
        (AgentKeyError::storage("disk"), "agent_key_storage", false),
    ];
    for (error, reason, rejection) in all {
        assert_eq!(error.reason(), reason);
        assert_eq!(error.is_rejection(), rejection, "{error:?}");
    }
}

proptest! {
    /// No input panics the parser, and only the exact form passes.
    #[test]
    fn parser_accepts_only_the_key_form(input in "\\PC{0,120}") {
        let well_formed = input.len() == KEY_LEN
            && input.starts_with(KEY_PREFIX)
            && input.as_bytes()[KEY_PREFIX.len() + 16] == b'_'
            && input[KEY_PREFIX.len()..].bytes().enumerate().all(|(i, b)| {
                i == 16 || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
            });
        prop_assert_eq!(PresentedKey::parse(&input).is_ok(), well_formed);
    }

    /// Any key of the form parses, and its id is its first 25 characters.
    #[test]
    fn parser_accepts_every_key_of_the_form(id in "[0-9a-f]{16}", secret in "[0-9a-f]{64}") {
        let key = format!("{KEY_PREFIX}{id}_{secret}");
        let parsed = PresentedKey::parse(&key).expect("well formed");
        prop_assert_eq!(parsed.id.to_string(), format!("{KEY_PREFIX}{id}"));
    }
}

#[cfg(feature = "agent-keys-sqlite")]
mod sqlite {
    use std::path::Path;
    use std::task::{Context, Poll, Waker};

    use rusqlite::types::Value;
    use rusqlite::{Connection, params};

    use super::*;

    fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("agent-keys.db");
        (dir, path)
    }

    /// Every value of every row of every table, as text.
    fn all_stored_values(path: &Path) -> Vec<String> {
        let connection = Connection::open(path).expect("open the file directly");
        let mut tables = connection
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .expect("tables");
        let tables: Vec<String> = tables
            .query_map([], |row| row.get(0))
            .expect("tables")
            .collect::<Result<_, _>>()
            .expect("tables");
        let mut values = Vec::new();
        for table in tables {
            let mut rows = connection
                .prepare(&format!("SELECT * FROM \"{table}\""))
                .expect("rows");
            let columns = rows.column_count();
            let mut rows = rows.query([]).expect("rows");
            while let Some(row) = rows.next().expect("row") {
                for column in 0..columns {
                    values.push(match row.get::<_, Value>(column).expect("value") {
                        Value::Null => "NULL".to_owned(),
                        Value::Integer(n) => n.to_string(),
                        Value::Real(x) => x.to_string(),
                        Value::Text(text) => text,
                        Value::Blob(bytes) => {
                            // Both the raw bytes (as lossy text) and their hex.
                            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                            format!("{} {hex}", String::from_utf8_lossy(&bytes))
                        }
                    });
                }
            }
        }
        values
    }

    #[tokio::test]
    async fn sqlite_store_passes_the_behaviour_suite() {
        let (_dir, path) = temp_db();
        let clock = TestClock::new(Timestamp::from_unix_seconds(START));
        let store = SqliteAgentKeyStore::open(&path).await.expect("open");
        assert_eq!(store.path(), path);
        behaviour_suite(&store, &clock).await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn sqlite_keys_survive_reopening_the_file() {
        let (_dir, path) = temp_db();
        let now = Timestamp::from_unix_seconds(START);
        let (key, revoked_key, info) = {
            let store = SqliteAgentKeyStore::open(&path).await.expect("open");
            let issued = store
                .create(request(1, "orders:read", now.add_seconds(DAY)), now)
                .await
                .expect("create");
            let revoked = store
                .create(request(1, "orders:read", now.add_seconds(DAY)), now)
                .await
                .expect("create");
            store.revoke(&revoked.info.id, now).await.expect("revoke");
            (
                issued.key.expose_secret().to_owned(),
                revoked.key.expose_secret().to_owned(),
                issued.info,
            )
        };
        assert!(path.exists());

        let store = SqliteAgentKeyStore::open(&path).await.expect("reopen");
        let grant = store.authenticate(&key, now).await.expect("still accepted");
        assert_eq!(grant.key_id, info.id);
        assert_eq!(grant.scopes, scopes("orders:read"));
        assert!(matches!(
            store.authenticate(&revoked_key, now).await,
            Err(AgentKeyError::Revoked { .. })
        ));
        assert!(matches!(
            store.authenticate(&wrong_secret(&key), now).await,
            Err(AgentKeyError::WrongSecret { .. })
        ));
        assert_eq!(
            store.list_for_human(&human(1)).await.expect("list").len(),
            2
        );
    }

    #[tokio::test]
    async fn sqlite_migration_is_idempotent() {
        let (_dir, path) = temp_db();
        for _ in 0..3 {
            let store = SqliteAgentKeyStore::open(&path).await.expect("open");
            drop(store);
        }
        let connection = Connection::open(&path).expect("open directly");
        let versions: Vec<(String, i64)> = connection
            .prepare("SELECT component, version FROM schema_version")
            .expect("query")
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            versions,
            vec![("agent_keys".to_owned(), SqliteAgentKeyStore::SCHEMA_VERSION)]
        );
        let tables: i64 = connection
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'agent_keys'",
                [],
                |row| row.get(0),
            )
            .expect("count");
        assert_eq!(tables, 1);
    }

    #[tokio::test]
    async fn sqlite_refuses_a_newer_schema() {
        let (_dir, path) = temp_db();
        drop(SqliteAgentKeyStore::open(&path).await.expect("open"));
        Connection::open(&path)
            .expect("open directly")
            .execute(
                "UPDATE schema_version SET version = ?1 WHERE component = 'agent_keys'",
                params![SqliteAgentKeyStore::SCHEMA_VERSION + 1],
            )
            .expect("bump the version");
        let refused = SqliteAgentKeyStore::open(&path).await;
        assert_eq!(
            refused.map(|_| ()),
            Err(AgentKeyError::SchemaTooNew {
                found: SqliteAgentKeyStore::SCHEMA_VERSION + 1,
                supported: SqliteAgentKeyStore::SCHEMA_VERSION,
            })
        );
    }

    #[tokio::test]
    async fn sqlite_refuses_a_file_that_is_not_a_database() {
        let (_dir, path) = temp_db();
        std::fs::write(&path, vec![0x42u8; 8192]).expect("write garbage");
        let refused = SqliteAgentKeyStore::open(&path).await;
        assert!(
            matches!(refused, Err(AgentKeyError::Storage { .. })),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn sqlite_fails_closed_on_a_corrupt_row() {
        let (_dir, path) = temp_db();
        let now = Timestamp::from_unix_seconds(START);
        let store = SqliteAgentKeyStore::open(&path).await.expect("open");
        let issued = store
            .create(request(1, "orders:read", now.add_seconds(DAY)), now)
            .await
            .expect("create");
        Connection::open(&path)
            .expect("open directly")
            .execute("UPDATE agent_keys SET agent_id = 'svc-not-an-agent'", [])
            .expect("corrupt the row");
        let refused = store.authenticate(issued.key.expose_secret(), now).await;
        assert!(
            matches!(&refused, Err(AgentKeyError::Storage { detail }) if detail.contains("agent id")),
            "{refused:?}"
        );
        assert!(!refused.as_ref().is_err_and(AgentKeyError::is_rejection));
    }

    #[tokio::test]
    async fn sqlite_file_never_holds_a_secret() {
        let (dir, path) = temp_db();
        let now = Timestamp::from_unix_seconds(START);
        let store = SqliteAgentKeyStore::open(&path).await.expect("open");
        let mut keys = Vec::new();
        for n in 0..4 {
            let issued = store
                .create(request(n, "orders:read", now.add_seconds(DAY)), now)
                .await
                .expect("create");
            keys.push((issued.info.id, issued.key.expose_secret().to_owned()));
        }
        store.revoke(&keys[0].0, now).await.expect("revoke");

        let values = all_stored_values(&path);
        let ids: Vec<String> = keys.iter().map(|(id, _)| id.to_string()).collect();
        for id in &ids {
            assert!(values.contains(id), "the id is stored for look-up");
        }
        let hashes = values.iter().filter(|value| value.len() > 64).count();
        assert!(hashes >= keys.len(), "a hash per key is stored");
        for (_, key) in &keys {
            for value in &values {
                assert!(
                    !value.contains(secret_part(key)),
                    "secret stored in {value:?}"
                );
                assert!(!value.contains(key.as_str()));
            }
        }
        // Nor anywhere in the files on disk (database, WAL, shared memory).
        for entry in std::fs::read_dir(dir.path()).expect("list") {
            let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
            let text = String::from_utf8_lossy(&bytes);
            for (_, key) in &keys {
                assert!(!text.contains(secret_part(key)));
            }
        }
    }

    #[tokio::test]
    async fn sqlite_stores_agree_across_instances_of_one_file() {
        let (_dir, path) = temp_db();
        let now = Timestamp::from_unix_seconds(START);
        let one = SqliteAgentKeyStore::open(&path).await.expect("open");
        let two = SqliteAgentKeyStore::open(&path).await.expect("open again");
        let issued = one
            .create(request(1, "orders:read", now.add_seconds(DAY)), now)
            .await
            .expect("create");
        assert!(
            two.authenticate(issued.key.expose_secret(), now)
                .await
                .is_ok()
        );
        two.revoke(&issued.info.id, now).await.expect("revoke");
        assert!(matches!(
            one.authenticate(issued.key.expose_secret(), now).await,
            Err(AgentKeyError::Revoked { .. })
        ));
    }

    #[test]
    fn sqlite_without_a_runtime_is_an_error_not_a_panic() {
        let (_dir, path) = temp_db();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let store = runtime
            .block_on(SqliteAgentKeyStore::open(&path))
            .expect("open");
        let now = Timestamp::from_unix_seconds(START);
        let key = format!("{KEY_PREFIX}0123456789abcdef_{}", "ab".repeat(32));
        // Polled outside any runtime.
        let mut future = store.authenticate(&key, now);
        let mut context = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut context) {
            Poll::Ready(Err(AgentKeyError::Storage { detail })) => {
                assert!(detail.contains("runtime"), "{detail}");
            }
            other => panic!("expected a storage error, got {other:?}"),
        }
        let mut open = Box::pin(SqliteAgentKeyStore::open(&path));
        assert!(matches!(
            open.as_mut().poll(&mut context),
            Poll::Ready(Err(AgentKeyError::Storage { .. }))
        ));
    }
}
