//! A lookup miss that may not refetch answers at once, even while a fetch is in flight:
//! it never queues behind the fetch lock (issue 7, item 9).

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use jsonwebtoken::Algorithm;
use principal::TestClock;
use support::gated::GatedJwks;
use support::{start_idp, test_clock};
use tower_auth::dev_idp::DevIdp;
use tower_auth::jwks::{JwksSource, KeyCache, KeyError, RefreshPolicy, StartupPolicy};

/// Polls `future` once: `Some` when it answered without waiting for anything.
fn answer_at_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

async fn gated_cache() -> (Arc<DevIdp>, TestClock, GatedJwks, KeyCache) {
    let idp = Arc::new(start_idp().await);
    let clock = test_clock();
    let mut server = GatedJwks::start(Arc::clone(&idp)).await;
    // A long fetch timeout: a lookup that queued behind the held fetch would wait for the
    // gate, not for the timeout.
    let policy = RefreshPolicy::builder()
        .fetch_timeout(Duration::from_secs(60))
        .build()
        .expect("policy");
    let cache = KeyCache::builder(JwksSource::jwks_url(server.url()).expect("url"))
        .refresh_policy(policy)
        .clock(Arc::new(clock.clone()))
        .build()
        .expect("cache");
    cache
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .expect("warm");
    server.arrived().await;
    (idp, clock, server, cache)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_inside_the_cooldown_is_refused_at_once_while_a_refetch_is_held() {
    let (idp, _clock, mut server, cache) = gated_cache().await;
    let known = idp.current_kid(Algorithm::ES256).expect("kid");
    let rotated = idp.rotate(Algorithm::ES256).expect("rotate");

    // A token with the new kid starts the refetch; the server holds it.
    server.close();
    let first = tokio::spawn({
        let cache = cache.clone();
        let rotated = rotated.clone();
        async move {
            cache
                .key_for(Some(&rotated))
                .await
                .map(|k| k.kid().map(str::to_owned))
        }
    });
    server.arrived().await;
    assert_eq!(server.requests(), 2);

    // Meanwhile: a made-up kid (inside the cooldown the refetch opened) gets its answer
    // in the first poll, without waiting for the held fetch.
    for kid in ["made-up", "another-made-up"] {
        let answer = answer_at_once(cache.key_for(Some(kid)))
            .expect("answered without waiting for the fetch in flight");
        assert_eq!(
            answer.map(|_| ()),
            Err(KeyError::UnknownKeyId { kid: kid.into() })
        );
    }
    // A known key, of course, too.
    let answer = answer_at_once(cache.key_for(Some(&known))).expect("answered at once");
    assert_eq!(answer.expect("known key").kid(), Some(known.as_str()));
    // A second token with the new kid waits for the same fetch (single flight)...
    let second = tokio::spawn({
        let cache = cache.clone();
        let rotated = rotated.clone();
        async move {
            cache
                .key_for(Some(&rotated))
                .await
                .map(|k| k.kid().map(str::to_owned))
        }
    });
    assert!(answer_at_once(cache.key_for(Some(&rotated))).is_none());

    // ...and both get the key once the server answers.
    server.open();
    for task in [first, second] {
        let kid = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the refetch finished")
            .expect("task ran")
            .expect("the new key");
        assert_eq!(kid.as_deref(), Some(rotated.as_str()));
    }
    assert_eq!(server.requests(), 2, "one refetch, shared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refetch_held_past_the_cooldown_holds_no_other_kid_either() {
    let (idp, clock, mut server, cache) = gated_cache().await;
    let rotated = idp.rotate(Algorithm::EdDSA).expect("rotate");
    server.close();
    let held = tokio::spawn({
        let cache = cache.clone();
        async move { cache.key_for(Some(&rotated)).await.map(|_| ()) }
    });
    server.arrived().await;
    // The fetch outlives the cooldown. Only one refetch is in flight at a time: a made-up
    // kid is still refused at once, and causes no second request.
    clock.advance(RefreshPolicy::DEFAULT_UNKNOWN_KID_COOLDOWN.as_secs() as i64);
    let answer = answer_at_once(cache.key_for(Some("made-up"))).expect("answered at once");
    assert!(matches!(answer, Err(KeyError::UnknownKeyId { .. })));
    server.open();
    tokio::time::timeout(Duration::from_secs(30), held)
        .await
        .expect("finished")
        .expect("task ran")
        .expect("the new key");
    assert_eq!(server.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_goes_away_does_not_cancel_the_refetch_others_wait_for() {
    let (idp, _clock, mut server, cache) = gated_cache().await;
    let rotated = idp.rotate(Algorithm::ES256).expect("rotate");
    server.close();
    // The request that starts the refetch is dropped (its client disconnected)...
    let first = tokio::spawn({
        let cache = cache.clone();
        let rotated = rotated.clone();
        async move { cache.key_for(Some(&rotated)).await.map(|_| ()) }
    });
    server.arrived().await;
    let second = tokio::spawn({
        let cache = cache.clone();
        let rotated = rotated.clone();
        async move {
            cache
                .key_for(Some(&rotated))
                .await
                .map(|k| k.kid().map(str::to_owned))
        }
    });
    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());
    // ...and the one waiting on the same refetch still gets the key once it lands.
    server.open();
    let kid = tokio::time::timeout(Duration::from_secs(30), second)
        .await
        .expect("the refetch finished")
        .expect("task ran")
        .expect("the new key");
    assert_eq!(kid.as_deref(), Some(rotated.as_str()));
    assert_eq!(server.requests(), 2, "one refetch");
}
