//! The background task that refreshes a key cache when its set expires.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::cache::KeyCache;
use super::error::JwksConfigError;

/// The longest the refresher sleeps before looking at the clock again: the schedule is in
/// the cache's [`Clock`](principal::Clock), which may jump.
const MAX_NAP: Duration = Duration::from_secs(60);
/// The shortest nap between two looks, so a clock standing still cannot spin the task.
const MIN_NAP: Duration = Duration::from_secs(1);

/// Owns a running background refresher; dropping it stops the task, so it must be kept
/// for as long as the refresher should run (hence `#[must_use]`: `let _ = ...` would stop
/// it at once). Lookups still refresh an expired set without it (see
/// [`KeyCache::key_now`]), but only when asked: the refresher also keeps an idle cache
/// fresh.
#[must_use = "dropping the handle stops the background refresher"]
pub struct RefresherHandle {
    task: JoinHandle<()>,
}

impl RefresherHandle {
    /// Whether the task has stopped (its cache is gone, or it was aborted).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for RefresherHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for RefresherHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefresherHandle")
            .field("finished", &self.task.is_finished())
            .finish()
    }
}

pub(crate) fn spawn(cache: &KeyCache) -> Result<RefresherHandle, JwksConfigError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| JwksConfigError::NoRuntime)?;
    // A weak reference: the task must not keep a cache alive that nobody uses.
    let weak = Arc::downgrade(&cache.inner);
    let task = runtime.spawn(async move {
        let mut first = true;
        loop {
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let cache = KeyCache { inner };
            if cache.source().is_none() {
                return;
            }
            let nap = nap_before_next_look(&cache, first);
            drop(cache);
            first = false;
            if !nap.is_zero() {
                tokio::time::sleep(nap).await;
            }
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let cache = KeyCache { inner };
            // A failure is logged and scheduled for retry by the cache itself.
            let _ = cache.refresh_if_due().await;
        }
    });
    Ok(RefresherHandle { task })
}

/// How long to sleep before the next look: until the refresh is due, within
/// [`MIN_NAP`, `MAX_NAP`] (no nap at all on the first look if already due).
fn nap_before_next_look(cache: &KeyCache, first: bool) -> Duration {
    let now = cache.now();
    let due_in = cache
        .snapshot()
        .next_refresh_at()
        .map_or(MAX_NAP.as_secs(), |at| {
            u64::try_from(at.as_unix_seconds().saturating_sub(now.as_unix_seconds())).unwrap_or(0)
        });
    if first && due_in == 0 {
        return Duration::ZERO;
    }
    Duration::from_secs(due_in).clamp(MIN_NAP, MAX_NAP)
}
