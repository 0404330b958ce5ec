//! Source (a) of the revocation mirror: the token exchange service's revocation feed,
//! polled over real HTTP on loopback. A revocation reaches the receiving verifier within
//! the poll interval (measured); an unchanged feed costs no work; a stale mirror fails
//! closed or degrades as configured, loudly; every hostile feed answer is refused and the
//! last list kept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod revocation_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use revocation_support::{AuditCapture, FeedMode, START, Sts, StubFeed};
use tower_auth::revocation::{
    FeedConfigError, FeedError, FeedPoller, MirrorState, PollOutcome, RevocationCheck,
    RevocationMirror, StalePolicy,
};

const INTERVAL: Duration = Duration::from_millis(200);
/// Scheduling and one round trip on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_millis(800);

fn mirror(sts: &Sts, policy: StalePolicy) -> Arc<RevocationMirror> {
    named_mirror(sts, policy, "sts_feed")
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

async fn wait(
    mirror: &RevocationMirror,
    condition: impl FnMut(&tower_auth::revocation::RevocationStatus) -> bool,
) {
    tokio::time::timeout(Duration::from_secs(10), mirror.wait_until(condition))
        .await
        .expect("the mirror got there in time");
}

fn jti(verifier: &tower_auth::jwt::JwtVerifier, token: &str) -> String {
    verifier
        .verify_sync(token)
        .unwrap()
        .principal()
        .token_id()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_revocation_reaches_the_verifier_within_the_poll_interval() {
    let sts = Sts::start().await;
    let mirror = mirror(&sts, StalePolicy::FailClosed);
    let verifier = sts.orders_verifier(mirror.clone());
    let revoked = sts.exchange("alice").await;
    let kept = sts.exchange("bob").await;

    let poller = FeedPoller::builder(&format!("{}/revocations", sts.base))
        .interval(INTERVAL)
        .build()
        .unwrap();
    let _handle = poller.spawn(mirror.clone()).unwrap();
    wait(&mirror, |status| status.state == MirrorState::Fresh).await;
    let revoked_jti = jti(&verifier, &revoked);
    jti(&verifier, &kept);
    assert_eq!(verifier.token_cache().len(), 2);

    assert!(sts.sts.revoke_token_id(&revoked_jti));
    let revoked_at = Instant::now();
    wait(&mirror, |status| status.source_version == Some(1)).await;
    let error = verifier.verify_sync(&revoked).unwrap_err();
    let elapsed = revoked_at.elapsed();
    assert_eq!(error.reason(), "revoked_token_id");
    println!("feed poll: revocation enforced after {elapsed:?} (interval {INTERVAL:?})");
    assert!(
        elapsed <= INTERVAL + MARGIN,
        "enforced after {elapsed:?}, more than the interval {INTERVAL:?} + {MARGIN:?}"
    );
    // Only what the revocation covers: the other cached verdict still serves.
    verifier.verify_sync(&kept).expect("not revoked");
    assert_eq!(verifier.token_cache().len(), 2);
    // The cached verdict of the revoked token is refused on every later hit.
    assert_eq!(
        verifier.verify_sync(&revoked).unwrap_err().reason(),
        "revoked_token_id"
    );
}

#[tokio::test]
async fn an_unchanged_feed_costs_no_work() {
    let sts = Sts::start().await;
    let mirror = mirror(&sts, StalePolicy::FailClosed);
    let plain = sts.orders_verifier(Arc::new(tower_auth::revocation::Denylist::new()));
    let token = sts.exchange("alice").await;
    let token_jti = jti(&plain, &token);
    let poller = FeedPoller::builder(&format!("{}/revocations", sts.base))
        .build()
        .unwrap();

    assert_eq!(
        poller.poll_once(&mirror).await.unwrap(),
        PollOutcome::Updated(0)
    );
    let version = mirror.status().version;
    for _ in 0..3 {
        assert_eq!(
            poller.poll_once(&mirror).await.unwrap(),
            PollOutcome::Unchanged
        );
    }
    assert_eq!(
        mirror.status().version,
        version,
        "an unchanged feed moved the version"
    );

    assert!(sts.sts.revoke_token_id(&token_jti));
    assert_eq!(
        poller.poll_once(&mirror).await.unwrap(),
        PollOutcome::Updated(1)
    );
    let status = mirror.status();
    assert_eq!((status.entries, status.source_version), (1, Some(1)));
    assert!(status.version > version);
    assert_eq!(
        poller.poll_once(&mirror).await.unwrap(),
        PollOutcome::Unchanged
    );
    assert_eq!(mirror.status().version, status.version);
}

#[tokio::test]
async fn unchanged_polls_are_answered_304() {
    let feed = StubFeed::start().await;
    let mirror = Arc::new(RevocationMirror::builder().build());
    let poller = FeedPoller::builder(&feed.url).build().unwrap();
    feed.revoke("jti-1", START + 600);
    poller.poll_once(&mirror).await.unwrap();
    let version = mirror.status().version;
    for _ in 0..3 {
        assert_eq!(
            poller.poll_once(&mirror).await.unwrap(),
            PollOutcome::Unchanged
        );
    }
    assert_eq!(feed.counts(), (4, 3), "every unchanged poll was a 304");
    assert_eq!(mirror.status().version, version);
}

/// A mirror fed by the stub feed, a verifier over it, a cached token and a revoked one.
async fn stale_fixture(
    policy: StalePolicy,
    source: &'static str,
) -> (
    Sts,
    StubFeed,
    Arc<RevocationMirror>,
    tower_auth::jwt::JwtVerifier,
    FeedPoller,
    String,
    String,
) {
    let sts = Sts::start().await;
    let feed = StubFeed::start().await;
    let mirror = named_mirror(&sts, policy, source);
    let verifier = sts.orders_verifier(mirror.clone());
    let kept = sts.exchange("alice").await;
    let revoked = sts.exchange("bob").await;
    let poller = FeedPoller::builder(&feed.url).build().unwrap();
    // The verifier's own read of the jti goes through the (never synced) mirror: read it
    // from a verifier with no revocation list.
    let plain = sts.orders_verifier(Arc::new(tower_auth::revocation::Denylist::new()));
    feed.revoke(&jti(&plain, &revoked), START + 900);
    poller.poll_once(&mirror).await.unwrap();
    verifier.verify_sync(&kept).expect("fresh and not revoked");
    assert_eq!(
        verifier.verify_sync(&revoked).unwrap_err().reason(),
        "revoked_token_id"
    );
    (sts, feed, mirror, verifier, poller, kept, revoked)
}

#[tokio::test]
async fn a_stale_mirror_fails_closed_loudly_and_recovers() {
    let audit = AuditCapture::global();
    let (sts, feed, mirror, verifier, poller, kept, revoked) =
        stale_fixture(StalePolicy::FailClosed, "feed_fail_closed").await;

    // The source fails: the list is kept, and it is said once, not once per poll.
    feed.set_mode(FeedMode::Status(503));
    for _ in 0..3 {
        let error = poller.poll_once(&mirror).await.unwrap_err();
        assert_eq!(error.reason(), "feed_http_status");
    }
    let status = mirror.status();
    assert_eq!(status.state, MirrorState::Fresh);
    assert!(status.source_failing);
    assert!(status.last_error.as_deref().unwrap().contains("503"));
    let failing: Vec<_> = audit
        .of("feed_fail_closed")
        .0
        .into_iter()
        .filter(|e| {
            e.field("revocation_error")
                .is_some_and(|e| e.contains("503"))
        })
        .collect();
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert_eq!(failing[0].level, tracing::Level::WARN);
    verifier
        .verify_sync(&kept)
        .expect("still within the maximum age");

    // Past the maximum age: the cached verdict is refused too, 503, and said once.
    sts.clock.advance(61);
    for _ in 0..3 {
        let error = verifier.verify_sync(&kept).unwrap_err();
        assert_eq!(error.reason(), "revocation_list_stale");
        assert_eq!(error.challenge().status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let status = mirror.status();
    assert_eq!(status.state, MirrorState::Stale);
    assert_eq!(status.age, Some(Duration::from_secs(61)));
    let stale = audit
        .of("feed_fail_closed")
        .with("revocation_state", "stale");
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0].level, tracing::Level::WARN);
    assert_eq!(stale[0].field("revocation_policy"), Some("fail_closed"));
    assert_eq!(stale[0].field("revocation_age_seconds"), Some("61"));

    // The source is back: fresh again, said once; the revocation still holds.
    feed.set_mode(FeedMode::Normal);
    poller.poll_once(&mirror).await.unwrap();
    let status = mirror.status();
    assert_eq!(status.state, MirrorState::Fresh);
    assert!(!status.source_failing);
    assert_eq!(status.last_error, None);
    verifier.verify_sync(&kept).expect("fresh again");
    assert_eq!(
        verifier.verify_sync(&revoked).unwrap_err().reason(),
        "revoked_token_id"
    );
    let recovered = audit
        .of("feed_fail_closed")
        .with("revocation_previous_state", "stale");
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert_eq!(recovered[0].field("revocation_state"), Some("fresh"));
    assert_eq!(
        audit
            .of("feed_fail_closed")
            .with("revocation_state", "stale")
            .len(),
        1,
        "said once"
    );
}

#[tokio::test]
async fn a_stale_mirror_degrades_when_the_operator_chose_so() {
    let audit = AuditCapture::global();
    let (sts, feed, mirror, verifier, poller, kept, revoked) =
        stale_fixture(StalePolicy::Degrade, "feed_degrade").await;
    feed.set_mode(FeedMode::Status(500));
    poller.poll_once(&mirror).await.unwrap_err();
    sts.clock.advance(200);
    // Past the maximum age, the last list still answers: kept serves, revoked is refused.
    verifier
        .verify_sync(&kept)
        .expect("degraded: served from the last list");
    assert_eq!(
        verifier.verify_sync(&revoked).unwrap_err().reason(),
        "revoked_token_id"
    );
    let status = mirror.status();
    assert_eq!(
        (status.state, status.policy),
        (MirrorState::Stale, StalePolicy::Degrade)
    );
    let stale = audit.of("feed_degrade").with("revocation_state", "stale");
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0].level, tracing::Level::WARN);
    assert_eq!(stale[0].field("revocation_policy"), Some("degrade"));
}

#[tokio::test]
async fn a_mirror_that_never_synced_vouches_for_nobody_unless_degraded() {
    let sts = Sts::start().await;
    let token = sts.exchange("alice").await;
    let closed = sts.orders_verifier(mirror(&sts, StalePolicy::FailClosed));
    let error = closed.verify_sync(&token).unwrap_err();
    assert_eq!(error.reason(), "revocation_list_stale");
    assert_eq!(error.challenge().status(), StatusCode::SERVICE_UNAVAILABLE);
    let degraded_mirror = mirror(&sts, StalePolicy::Degrade);
    let degraded = sts.orders_verifier(degraded_mirror.clone());
    degraded
        .verify_sync(&token)
        .expect("degraded: the (empty) list answers");
    assert_eq!(degraded_mirror.status().state, MirrorState::NeverSynced);
    assert_eq!(degraded_mirror.status().age, None);
}

#[tokio::test]
async fn hostile_feed_answers_are_refused_and_the_last_list_kept() {
    let feed = StubFeed::start().await;
    let clock = principal::TestClock::new(principal::Timestamp::from_unix_seconds(START));
    let mirror = RevocationMirror::builder().clock(Arc::new(clock)).build();
    let poller = FeedPoller::builder(&feed.url)
        .max_bytes(1024)
        .build()
        .unwrap();
    feed.revoke("jti-1", START + 600);
    poller.poll_once(&mirror).await.unwrap();
    let before = mirror.status();
    let cases = [
        (FeedMode::Redirect, "feed_redirect"),
        (FeedMode::Status(500), "feed_http_status"),
        (FeedMode::Status(404), "feed_http_status"),
        (FeedMode::NotJson, "feed_malformed"),
        (FeedMode::Body("{\"version\":".into()), "feed_malformed"),
        (
            FeedMode::Body("{\"epoch\":\"e0\",\"version\":9,\"revoked\":[],\"extra\":1}".into()),
            "feed_malformed",
        ),
        (
            FeedMode::Body(
                "{\"epoch\":\"e0\",\"version\":9,\"revoked\":[{\"jti\":\"\",\"exp\":1}]}".into(),
            ),
            "feed_malformed",
        ),
        (
            FeedMode::Body(format!(
                "{{\"epoch\":\"e0\",\"version\":9,\"revoked\":[{{\"jti\":\"{}\",\"exp\":1}}]}}",
                "j".repeat(300)
            )),
            "feed_malformed",
        ),
        (
            FeedMode::Body(format!(
                "{{\"epoch\":\"e0\",\"version\":9,\"revoked\":[{{\"jti\":\"{}\",\"exp\":1}}]}}",
                "j".repeat(2000)
            )),
            "feed_too_large",
        ),
        (FeedMode::WrongEtag, "feed_malformed"),
        (
            FeedMode::Body("{\"version\":9,\"revoked\":[]}".into()),
            "feed_malformed",
        ),
        (
            FeedMode::Body("{\"epoch\":\"\",\"version\":9,\"revoked\":[]}".into()),
            "feed_malformed",
        ),
        (
            FeedMode::Body("{\"epoch\":\"e 0\\n\",\"version\":9,\"revoked\":[]}".into()),
            "feed_malformed",
        ),
    ];
    feed.revoke("jti-2", START + 600);
    for (mode, reason) in cases {
        feed.set_mode(mode.clone());
        let error = poller.poll_once(&mirror).await.unwrap_err();
        assert_eq!(error.reason(), reason, "{mode:?}: {error}");
        let status = mirror.status();
        assert_eq!(status.source_version, before.source_version, "{mode:?}");
        assert_eq!(
            (status.version, status.entries),
            (before.version, 1),
            "{mode:?}"
        );
        assert!(status.source_failing);
    }

    // Nothing listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}/revocations", listener.local_addr().unwrap());
    drop(listener);
    let error = FeedPoller::builder(&closed)
        .build()
        .unwrap()
        .poll_once(&mirror)
        .await
        .unwrap_err();
    assert!(matches!(error, FeedError::Unreachable(_)), "{error}");
    assert_eq!(mirror.status().entries, 1);
}

#[test]
fn feed_urls_and_settings_are_checked() {
    for url in [
        "http://sts.example/revocations",
        "ftp://127.0.0.1/revocations",
        "https://user:pw@sts.example/revocations",
    ] {
        assert!(
            matches!(
                FeedPoller::builder(url).build(),
                Err(FeedConfigError::InsecureUrl(_))
            ),
            "{url}"
        );
    }
    assert!(matches!(
        FeedPoller::builder("not a url").build(),
        Err(FeedConfigError::InvalidUrl(_))
    ));
    assert!(
        FeedPoller::builder("https://sts.example/revocations")
            .build()
            .is_ok()
    );
    assert!(
        FeedPoller::builder("http://[::1]:8080/revocations")
            .build()
            .is_ok()
    );
    assert!(matches!(
        FeedPoller::builder("https://sts.example/r")
            .interval(Duration::ZERO)
            .build(),
        Err(FeedConfigError::OutOfRange {
            setting: "interval"
        })
    ));
    assert!(matches!(
        FeedPoller::builder("https://sts.example/r")
            .max_bytes(10)
            .build(),
        Err(FeedConfigError::OutOfRange {
            setting: "max_bytes"
        })
    ));
}

#[tokio::test]
async fn a_feed_whose_version_went_back_is_read_again_and_nothing_is_forgotten() {
    let feed = StubFeed::start().await;
    let mirror = RevocationMirror::builder().build();
    let poller = FeedPoller::builder(&feed.url).build().unwrap();
    let alice = principal_with_jti("jti-a");
    feed.revoke("jti-a", i64::MAX / 4);
    feed.revoke("jti-b", i64::MAX / 4);
    assert_eq!(
        poller.poll_once(&mirror).await.unwrap(),
        PollOutcome::Updated(2)
    );

    // The service restarts with an empty record, then revokes another token.
    feed.restart();
    feed.revoke("jti-c", i64::MAX / 4);
    assert_eq!(
        poller.poll_once(&mirror).await.unwrap(),
        PollOutcome::Updated(1)
    );
    let status = mirror.status();
    assert_eq!((status.entries, status.source_version), (3, Some(1)));
    assert!(
        mirror.check(&alice).is_err(),
        "a revocation from before the restart was lost"
    );
    assert!(mirror.check(&principal_with_jti("jti-c")).is_err());
    assert!(mirror.check(&principal_with_jti("jti-d")).is_ok());
}

fn principal_with_jti(jti: &str) -> principal::Principal {
    principal::Principal::builder(
        "svc-billing".parse().unwrap(),
        principal::Issuer::new("https://idp.example").unwrap(),
        "billing",
    )
    .expires_at(principal::Timestamp::from_unix_seconds(i64::MAX / 4))
    .token_id(jti)
    .build()
    .unwrap()
}

#[tokio::test]
async fn a_restarted_feed_that_overtook_the_old_version_is_read_whole_by_its_new_epoch() {
    let feed = StubFeed::start().await;
    let mirror = RevocationMirror::builder().build();
    let poller = FeedPoller::builder(&feed.url).build().unwrap();
    feed.revoke("jti-a", i64::MAX / 4);
    assert_eq!(
        poller.poll_once(&mirror).await.unwrap(),
        PollOutcome::Updated(1)
    );

    // The service restarts and revokes three tokens before the next poll: its version
    // (3) is past the one the poller knows (1), so only the epoch tells the lists apart.
    // Asking "since 1" of the new list would lose jti-b.
    feed.restart();
    feed.revoke("jti-b", i64::MAX / 4);
    feed.revoke("jti-c", i64::MAX / 4);
    feed.revoke("jti-d", i64::MAX / 4);
    assert_eq!(
        poller.poll_once(&mirror).await.unwrap(),
        PollOutcome::Updated(3)
    );
    for jti in ["jti-a", "jti-b", "jti-c", "jti-d"] {
        assert!(
            mirror.check(&principal_with_jti(jti)).is_err(),
            "{jti} was lost across the restart"
        );
    }
    assert!(mirror.check(&principal_with_jti("jti-e")).is_ok());
    // And the next poll of the new epoch is a 304 again.
    assert_eq!(
        poller.poll_once(&mirror).await.unwrap(),
        PollOutcome::Unchanged
    );
}
