//! `[revocation]` from a configuration file: the mirror and its source, checked at load
//! (every refusal names the file, the line and the field, a Redis password is never
//! echoed), and started: the configured poller fetches the STS feed on loopback and a
//! revoked token is then refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod revocation_support;

use std::sync::Arc;
use std::time::Duration;

use revocation_support::Sts;
use tower_auth::config::{
    ConfigFileError, ConfigFileErrorKind, RevocationStartError, ServiceConfig,
};
use tower_auth::revocation::{MirrorState, RevocationStatus, StalePolicy};

fn refused(text: &str) -> ConfigFileError {
    ServiceConfig::from_toml("conf/service.toml", text).unwrap_err()
}

fn assert_refused(text: &str, line: usize, field: &str, reason: &str) -> ConfigFileError {
    let error = refused(text);
    assert_eq!(error.line(), Some(line), "{error}");
    assert_eq!(error.field(), field, "{error}");
    assert_eq!(error.setting_reason(), Some(reason), "{error}");
    let column = error.column().unwrap();
    assert!(
        error
            .to_string()
            .starts_with(&format!("conf/service.toml:{line}:{column}: {field}: ")),
        "{error}"
    );
    error
}

async fn wait(
    mirror: &tower_auth::revocation::RevocationMirror,
    condition: impl FnMut(&RevocationStatus) -> bool,
) {
    tokio::time::timeout(Duration::from_secs(10), mirror.wait_until(condition))
        .await
        .expect("the mirror got there in time");
}

#[tokio::test]
async fn the_configured_poller_fetches_the_loopback_feed_and_a_revoked_token_is_refused() {
    let sts = Sts::start().await;
    let text = format!(
        r#"
[revocation]
max_age_seconds = 60
stale_policy = "fail_closed"
[revocation.feed]
url = "{}/revocations"
interval_ms = 50
timeout_ms = 2000
"#,
        sts.base
    );
    let config = ServiceConfig::from_toml("conf/service.toml", &text).unwrap();
    let revocation = config
        .revocation
        .expect("a [revocation] section")
        .clock(Arc::new(sts.clock.clone()));
    assert_eq!(revocation.source_name(), "sts_feed");
    assert_eq!(revocation.max_age(), Duration::from_secs(60));
    let (mirror, handle) = revocation.start().unwrap();
    assert_eq!(mirror.stale_policy(), StalePolicy::FailClosed);
    let verifier = sts.orders_verifier(mirror.clone());

    wait(&mirror, |status| status.state == MirrorState::Fresh).await;
    let revoked = sts.exchange("alice").await;
    let kept = sts.exchange("bob").await;
    let jti = verifier
        .verify_sync(&revoked)
        .unwrap()
        .principal()
        .token_id()
        .unwrap()
        .to_owned();
    verifier.verify_sync(&kept).unwrap();

    assert!(sts.sts.revoke_token_id(&jti));
    wait(&mirror, |status| status.source_version == Some(1)).await;
    assert_eq!(
        verifier.verify_sync(&revoked).unwrap_err().reason(),
        "revoked_token_id"
    );
    verifier.verify_sync(&kept).expect("not revoked");
    assert!(!handle.is_finished());
}

#[test]
fn the_policy_and_the_age_come_from_the_file() {
    let config = ServiceConfig::from_toml(
        "conf/service.toml",
        "[revocation]\nstale_policy = \"degrade\"\n[revocation.feed]\nurl = \"https://sts.internal/revocations\"\n",
    )
    .unwrap();
    let revocation = config.revocation.unwrap();
    assert_eq!(revocation.stale_policy(), StalePolicy::Degrade);
    assert_eq!(revocation.max_age(), Duration::from_secs(300));
    // Outside a runtime nothing can poll: said, not ignored.
    let error = revocation.start().unwrap_err();
    assert!(matches!(error, RevocationStartError::NoRuntime));
    assert_eq!(error.reason(), "revocation_no_runtime");
}

#[test]
fn a_feed_url_that_is_not_https_off_loopback_is_refused() {
    assert_refused(
        "[revocation.feed]\nurl = \"http://sts.internal/revocations\"\n",
        2,
        "revocation.feed.url",
        "insecure_feed_url",
    );
    assert_refused(
        "[revocation.feed]\nurl = \"https://user:pw@sts.internal/revocations\"\n",
        2,
        "revocation.feed.url",
        "insecure_feed_url",
    );
    assert_refused(
        "[revocation.feed]\nurl = \"not a url\"\n",
        2,
        "revocation.feed.url",
        "invalid_feed_url",
    );
    // http on loopback is the one exception (tests, a sidecar).
    assert!(
        ServiceConfig::from_toml(
            "conf/service.toml",
            "[revocation.feed]\nurl = \"http://127.0.0.1:9/revocations\"\n"
        )
        .is_ok()
    );
}

#[test]
fn out_of_range_settings_are_refused_by_the_builders() {
    const FEED: &str = "[revocation.feed]\nurl = \"https://sts.internal/revocations\"\n";
    assert_refused(
        &format!("{FEED}interval_ms = 0\n"),
        3,
        "revocation.feed.interval_ms",
        "out_of_range",
    );
    assert_refused(
        &format!("{FEED}timeout_ms = 3600000\n"),
        3,
        "revocation.feed.timeout_ms",
        "out_of_range",
    );
    assert_refused(
        &format!("{FEED}max_bytes = 10\n"),
        3,
        "revocation.feed.max_bytes",
        "out_of_range",
    );
    assert_refused(
        &format!("[revocation]\nmax_age_seconds = 0\n{FEED}"),
        2,
        "revocation.max_age_seconds",
        "out_of_range",
    );
}

#[test]
fn an_unknown_policy_or_key_and_a_missing_or_second_source_are_refused() {
    const FEED: &str = "[revocation.feed]\nurl = \"https://sts.internal/revocations\"\n";
    let error = refused(&format!(
        "[revocation]\nstale_policy = \"sometimes\"\n{FEED}"
    ));
    assert_eq!(error.kind(), ConfigFileErrorKind::Format, "{error}");
    assert_eq!(
        (error.line(), error.field()),
        (Some(2), "revocation.stale_policy")
    );
    assert!(error.to_string().contains("fail_closed"), "{error}");

    let error = refused(&format!("{FEED}intervall_ms = 5\n"));
    assert_eq!(error.kind(), ConfigFileErrorKind::UnknownField, "{error}");
    assert_eq!(
        (error.line(), error.field()),
        (Some(3), "revocation.feed.intervall_ms")
    );

    assert_refused(
        "[revocation]\nmax_age_seconds = 5\n",
        1,
        "revocation",
        "no_source",
    );
    assert_refused(
        &format!("{FEED}[revocation.redis]\nurl = \"redis://127.0.0.1:6379\"\n"),
        3,
        "revocation.redis",
        "two_sources",
    );
}

#[test]
fn a_redis_password_is_never_inline_nor_echoed() {
    let error = assert_refused(
        "[revocation.redis]\nurl = \"redis://:hunter2-secret@redis.internal:6379/0\"\n",
        2,
        "revocation.redis.url",
        "credentials_inline",
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
    assert_refused(
        "[revocation.redis]\nurl = \"redis+unix:///run/redis.sock?pass=hunter2\"\n",
        2,
        "revocation.redis.url",
        "credentials_inline",
    );

    // From a file: read, used, and kept out of Debug.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("redis-url"),
        "redis://:hunter2-secret@redis.internal:6379/0\n",
    )
    .unwrap();
    let config = ServiceConfig::from_toml(
        dir.path().join("service.toml"),
        "[revocation.redis]\nurl_file = \"redis-url\"\nchannel = \"tenant-a\"\nresync_interval_ms = 500\n",
    )
    .unwrap();
    let revocation = config.revocation.unwrap();
    assert_eq!(revocation.source_name(), "redis");
    assert!(
        !format!("{revocation:?}").contains("hunter2"),
        "{revocation:?}"
    );

    let error = refused("[revocation.redis]\nurl_env = \"BATON_TEST_UNSET_REDIS_URL_7f3a\"\n");
    assert_eq!(
        error.kind(),
        ConfigFileErrorKind::SecretUnavailable,
        "{error}"
    );
    assert_eq!(error.field(), "revocation.redis.url_env");
    assert_refused(
        "[revocation.redis]\nurl = \"redis://127.0.0.1\"\nurl_env = \"X\"\n",
        2,
        "revocation.redis.url",
        "two_url_sources",
    );
}

#[test]
fn redis_settings_are_checked_by_the_subscriber_at_load() {
    const REDIS: &str = "[revocation.redis]\nurl = \"redis://127.0.0.1:6379\"\n";
    assert_refused(
        &format!("{REDIS}resync_interval_ms = 0\n"),
        3,
        "revocation.redis.resync_interval_ms",
        "redis_out_of_range",
    );
    assert_refused(
        &format!("{REDIS}snapshot_key = \"\"\n"),
        3,
        "revocation.redis.snapshot_key",
        "redis_out_of_range",
    );
    assert_refused(
        "[revocation.redis]\nurl = \"nonsense\"\n",
        2,
        "revocation.redis.url",
        "redis_invalid_url",
    );
}
