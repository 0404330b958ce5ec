//! Source (b) of the revocation mirror: Redis pub/sub with a snapshot key, against a real
//! `redis-server` started on a free loopback port (skipped, with the reason printed, only
//! when no `redis-server` binary is found). A revocation reaches every subscribed
//! instance within a second (measured); late starters and reconnections resync from the
//! snapshot; the broker down at start, down mid-run and restarted: the last list is kept,
//! said in the status and the audit, and resynced when it returns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod revocation_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use revocation_support::{AuditCapture, Sts};
use tower_auth::jwt::JwtVerifier;
use tower_auth::revocation::redis::{
    RedisConfig, RedisRevocationError, RedisSubscriber, RedisSubscriberHandle, RevocationPublisher,
};
use tower_auth::revocation::{
    Denylist, DenylistEntries, MirrorState, RevocationMirror, RevocationStatus, StalePolicy,
};

/// The bound the issue sets for a revocation to reach every instance through Redis.
const REDIS_BOUND: Duration = Duration::from_secs(1);

fn redis_server_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}

macro_rules! require_redis {
    () => {
        match redis_server_binary() {
            Some(binary) => binary,
            None => {
                println!(
                    "skipped: no `redis-server` on PATH (install the Debian package redis-server; .ci/run does)"
                );
                return;
            }
        }
    };
}

/// A `redis-server` child on 127.0.0.1:`port`, killed when dropped.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts it and waits (on its log, not on time) until it accepts connections. With
    /// `dir`, every write is appended to a file there (`appendfsync always`) and a
    /// restart on the same dir finds it.
    fn start(binary: &Path, port: u16, dir: Option<&Path>) -> RedisServer {
        let mut command = Command::new(binary);
        command
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        match dir {
            Some(dir) => command.arg("--dir").arg(dir).args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ]),
            None => command.args(["--appendonly", "no"]),
        };
        let mut child = command.spawn().expect("redis-server starts");
        let stdout = child.stdout.take().unwrap();
        let (ready, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if line.contains("Ready to accept connections") {
                    let _ = ready.send(());
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("redis-server ready");
        RedisServer { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn config(url: &str) -> RedisConfig {
    RedisConfig::new(url).with_timeout(Duration::from_millis(500))
}

fn mirror(sts: &Sts, policy: StalePolicy) -> Arc<RevocationMirror> {
    named_mirror(sts, policy, "redis")
}

/// A mirror whose audit events carry `source` (tests run in parallel, one capture).
fn named_mirror(sts: &Sts, policy: StalePolicy, source: &'static str) -> Arc<RevocationMirror> {
    Arc::new(
        RevocationMirror::builder()
            .max_age(Duration::from_secs(60))
            .stale_policy(policy)
            .clock(Arc::new(sts.clock.clone()))
            .source_name(source)
            .build(),
    )
}

async fn wait(mirror: &RevocationMirror, condition: impl FnMut(&RevocationStatus) -> bool) {
    tokio::time::timeout(Duration::from_secs(15), mirror.wait_until(condition))
        .await
        .unwrap_or_else(|_| panic!("the mirror never got there: {:?}", mirror.status()));
}

fn jti(sts: &Sts, token: &str) -> String {
    let plain: JwtVerifier = sts.orders_verifier(Arc::new(Denylist::new()));
    plain
        .verify_sync(token)
        .unwrap()
        .principal()
        .token_id()
        .unwrap()
        .to_owned()
}

fn subscribe(url: &str, mirror: &Arc<RevocationMirror>) -> RedisSubscriberHandle {
    RedisSubscriber::spawn(config(url), mirror.clone()).unwrap()
}

#[tokio::test]
async fn a_revocation_reaches_every_subscribed_instance_within_a_second() {
    let binary = require_redis!();
    let redis = RedisServer::start(&binary, free_port(), None);
    let sts = Sts::start().await;
    let publisher = RevocationPublisher::connect(config(&redis.url()))
        .await
        .unwrap();
    publisher.publish(&DenylistEntries::new()).await.unwrap();

    // Three instances, each with its own mirror, subscriber and verifier.
    let mirrors: Vec<_> = (0..3)
        .map(|_| mirror(&sts, StalePolicy::FailClosed))
        .collect();
    let _handles: Vec<_> = mirrors.iter().map(|m| subscribe(&redis.url(), m)).collect();
    let verifiers: Vec<_> = mirrors
        .iter()
        .map(|m| sts.orders_verifier(m.clone()))
        .collect();
    for mirror in &mirrors {
        wait(mirror, |s| s.state == MirrorState::Fresh).await;
    }
    let revoked = sts.exchange("alice").await;
    let kept = sts.exchange("bob").await;
    for verifier in &verifiers {
        verifier.verify_sync(&revoked).expect("not revoked yet");
        verifier.verify_sync(&kept).expect("not revoked");
    }

    let published_at = Instant::now();
    let version = publisher
        .publish(&DenylistEntries::new().deny_token_id(jti(&sts, &revoked)))
        .await
        .unwrap();
    for mirror in &mirrors {
        wait(mirror, |s| s.source_version == Some(version)).await;
    }
    for verifier in &verifiers {
        assert_eq!(
            verifier.verify_sync(&revoked).unwrap_err().reason(),
            "revoked_token_id"
        );
    }
    let elapsed = published_at.elapsed();
    println!("redis: revocation enforced on 3 instances after {elapsed:?}");
    assert!(
        elapsed <= REDIS_BOUND,
        "enforced after {elapsed:?}, more than {REDIS_BOUND:?}"
    );
    // Only what the revocation covers: the other cached verdicts still serve.
    for verifier in &verifiers {
        verifier.verify_sync(&kept).expect("not revoked");
        assert_eq!(verifier.token_cache().len(), 2);
    }
    redis.kill();
}

#[tokio::test]
async fn a_late_subscriber_starts_from_the_snapshot() {
    let binary = require_redis!();
    let redis = RedisServer::start(&binary, free_port(), None);
    let sts = Sts::start().await;
    let token = sts.exchange("alice").await;
    let publisher = RevocationPublisher::connect(config(&redis.url()))
        .await
        .unwrap();
    publisher
        .publish(&DenylistEntries::new().deny_token_id("someone-else"))
        .await
        .unwrap();
    let version = publisher
        .publish(&DenylistEntries::new().deny_token_id(jti(&sts, &token)))
        .await
        .unwrap();
    assert_eq!(version, 2);

    // Started after both publications: the snapshot has the last list.
    let late = mirror(&sts, StalePolicy::FailClosed);
    let _handle = subscribe(&redis.url(), &late);
    wait(&late, |s| s.source_version == Some(version)).await;
    assert_eq!(late.status().entries, 1);
    let verifier = sts.orders_verifier(late.clone());
    assert_eq!(
        verifier.verify_sync(&token).unwrap_err().reason(),
        "revoked_token_id"
    );
}

#[tokio::test]
async fn the_broker_down_at_start_is_said_and_the_list_syncs_when_it_comes() {
    let binary = require_redis!();
    let audit = AuditCapture::global();
    let sts = Sts::start().await;
    let token = sts.exchange("alice").await;
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let instance = named_mirror(&sts, StalePolicy::FailClosed, "redis_down_at_start");
    let verifier = sts.orders_verifier(instance.clone());
    let _handle = subscribe(&url, &instance);

    wait(&instance, |s| s.source_failing).await;
    let status = instance.status();
    assert_eq!(status.state, MirrorState::NeverSynced);
    assert!(status.last_error.is_some());
    assert_eq!(
        verifier.verify_sync(&token).unwrap_err().reason(),
        "revocation_list_stale"
    );
    let said = audit.of("redis_down_at_start").0;
    assert!(
        said.iter()
            .any(|e| e.level == tracing::Level::WARN && e.field("revocation_error").is_some()),
        "{said:?}"
    );

    // The broker comes up, empty: no snapshot yet is still a failed sync.
    let redis = RedisServer::start(&binary, port, None);
    wait(&instance, |s| {
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("redis_no_snapshot"))
    })
    .await;
    assert_eq!(instance.status().state, MirrorState::NeverSynced);

    // Its first list arrives: fresh, and said.
    let publisher = RevocationPublisher::connect(config(&redis.url()))
        .await
        .unwrap();
    publisher.publish(&DenylistEntries::new()).await.unwrap();
    wait(&instance, |s| s.state == MirrorState::Fresh).await;
    assert!(!instance.status().source_failing);
    verifier
        .verify_sync(&token)
        .expect("synced and not revoked");
    let fresh = audit
        .of("redis_down_at_start")
        .with("revocation_state", "fresh");
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert_eq!(
        fresh[0].field("revocation_previous_state"),
        Some("never_synced")
    );
}

#[tokio::test]
async fn a_broker_restart_loses_no_revocation_and_the_mirrors_keep_their_list_meanwhile() {
    let binary = require_redis!();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let redis = RedisServer::start(&binary, port, Some(dir.path()));
    let sts = Sts::start().await;
    let revoked = sts.exchange("alice").await;
    let kept = sts.exchange("bob").await;
    let publisher = RevocationPublisher::connect(config(&redis.url()))
        .await
        .unwrap();
    let before = publisher
        .publish(&DenylistEntries::new().deny_token_id(jti(&sts, &revoked)))
        .await
        .unwrap();

    let closed = mirror(&sts, StalePolicy::FailClosed);
    let degraded = mirror(&sts, StalePolicy::Degrade);
    let _handles = [
        subscribe(&redis.url(), &closed),
        subscribe(&redis.url(), &degraded),
    ];
    let closed_verifier = sts.orders_verifier(closed.clone());
    let degraded_verifier = sts.orders_verifier(degraded.clone());
    for mirror in [&closed, &degraded] {
        wait(mirror, |s| s.source_version == Some(before)).await;
    }
    closed_verifier.verify_sync(&kept).unwrap();

    // The broker goes down mid-run: the list is kept and the failure shown.
    redis.kill();
    for mirror in [&closed, &degraded] {
        wait(mirror, |s| s.source_failing).await;
        assert_eq!(mirror.status().state, MirrorState::Fresh);
    }
    assert_eq!(
        closed_verifier.verify_sync(&revoked).unwrap_err().reason(),
        "revoked_token_id"
    );
    closed_verifier
        .verify_sync(&kept)
        .expect("within the maximum age");

    // Down past the maximum age: fail closed refuses everyone, degrade keeps the last list.
    sts.clock.advance(61);
    assert_eq!(
        closed_verifier.verify_sync(&kept).unwrap_err().reason(),
        "revocation_list_stale"
    );
    degraded_verifier.verify_sync(&kept).expect("degraded");
    assert_eq!(
        degraded_verifier
            .verify_sync(&revoked)
            .unwrap_err()
            .reason(),
        "revoked_token_id"
    );
    assert_eq!(closed.status().state, MirrorState::Stale);
    assert_eq!(degraded.status().state, MirrorState::Stale);

    // Restarted on its data: the snapshot survived, the mirrors resync from it, and a
    // revocation published right after the restart reaches them (by message, or by the
    // snapshot if they reconnect after it).
    let redis = RedisServer::start(&binary, port, Some(dir.path()));
    let publisher = RevocationPublisher::connect(config(&redis.url()))
        .await
        .unwrap();
    let after = publisher
        .publish(
            &DenylistEntries::new()
                .deny_token_id(jti(&sts, &revoked))
                .deny_token_id(jti(&sts, &kept)),
        )
        .await
        .unwrap();
    assert_eq!(
        after,
        before + 1,
        "the version counter survived the restart"
    );
    for mirror in [&closed, &degraded] {
        wait(mirror, |s| {
            s.source_version == Some(after) && s.state == MirrorState::Fresh
        })
        .await;
        assert!(!mirror.status().source_failing);
    }
    for verifier in [&closed_verifier, &degraded_verifier] {
        assert_eq!(
            verifier.verify_sync(&revoked).unwrap_err().reason(),
            "revoked_token_id"
        );
        assert_eq!(
            verifier.verify_sync(&kept).unwrap_err().reason(),
            "revoked_token_id"
        );
    }
}

#[tokio::test]
async fn hostile_messages_and_snapshots_are_refused_and_the_list_kept() {
    let binary = require_redis!();
    let redis = RedisServer::start(&binary, free_port(), None);
    let sts = Sts::start().await;
    let publisher = RevocationPublisher::connect(config(&redis.url()))
        .await
        .unwrap();
    let version = publisher
        .publish(&DenylistEntries::new().deny_token_id("jti-1"))
        .await
        .unwrap();
    let instance = mirror(&sts, StalePolicy::FailClosed);
    let _handle = subscribe(&redis.url(), &instance);
    wait(&instance, |s| s.source_version == Some(version)).await;
    let list_version = instance.status().version;

    let client = redis::Client::open(redis.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    // A forged message that would lift the revocation, with a higher version but not the
    // list's shape, and one that is not JSON: ignored, the snapshot re-read.
    for forged in [
        r#"{"version":99,"token_ids":[],"session_ids":[],"subjects":[],"principal_ids":[],"lift":true}"#,
        "garbage",
    ] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg("baton:revocations")
            .arg(forged)
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    // An older version published as a message never moves the list back.
    let _: i64 = redis::cmd("PUBLISH")
        .arg("baton:revocations")
        .arg(r#"{"version":0,"token_ids":[],"session_ids":[],"subjects":[],"principal_ids":[]}"#)
        .query_async(&mut raw)
        .await
        .unwrap();
    // A well-formed newer list after them is applied: the hostile ones did not stop it.
    let next = publisher
        .publish(
            &DenylistEntries::new()
                .deny_token_id("jti-1")
                .deny_token_id("jti-2"),
        )
        .await
        .unwrap();
    wait(&instance, |s| s.source_version == Some(next)).await;
    let status = instance.status();
    assert_eq!(status.entries, 2);
    assert!(status.version > list_version);

    // A corrupt snapshot: the resync fails, the list is kept, the failure is shown.
    let _: () = redis::cmd("SET")
        .arg("baton:revocations")
        .arg("{\"version\":")
        .query_async(&mut raw)
        .await
        .unwrap();
    // Cut the subscriptions: the reconnection reads the corrupt snapshot.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(killed >= 1);
    wait(&instance, |s| {
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("redis_malformed"))
    })
    .await;
    let status = instance.status();
    assert_eq!((status.entries, status.source_version), (2, Some(next)));
}

#[tokio::test]
async fn configuration_is_checked() {
    let mirror = Arc::new(RevocationMirror::builder().build());
    let bad_url = RedisSubscriber::spawn(RedisConfig::new("not a url"), mirror.clone());
    assert!(matches!(bad_url, Err(RedisRevocationError::InvalidUrl)));
    let bad_interval = RedisSubscriber::spawn(
        RedisConfig::new("redis://127.0.0.1:1/").with_resync_interval(Duration::ZERO),
        mirror.clone(),
    );
    assert!(matches!(
        bad_interval,
        Err(RedisRevocationError::OutOfRange {
            setting: "resync_interval"
        })
    ));
    let with_password = RedisConfig::new("redis://:hunter2@[bad/");
    let error = RedisSubscriber::spawn(with_password, mirror).unwrap_err();
    assert!(!error.to_string().contains("hunter2"));
}
