//! Time as Baton sees it: whole seconds since the Unix epoch, read through a [`Clock`].
//!
//! Every expiry decision in Baton takes its "now" from a `Clock`, so tests move
//! time with `TestClock` (feature `test-support`) instead of sleeping.

use std::fmt;
use std::sync::Arc;
#[cfg(any(test, feature = "test-support"))]
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};

/// A point in time, in whole seconds since the Unix epoch (the JWT `NumericDate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from seconds since the Unix epoch.
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Timestamp(seconds)
    }

    /// Seconds since the Unix epoch.
    pub const fn as_unix_seconds(self) -> i64 {
        self.0
    }

    /// This timestamp moved by `seconds` (negative moves back), saturating at the ends.
    pub const fn add_seconds(self, seconds: i64) -> Self {
        Timestamp(self.0.saturating_add(seconds))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The source of "now" for every time check in Baton: [`SystemClock`] in production,
/// `TestClock` (feature `test-support`) in tests.
///
/// ```
/// use principal::{Clock, SystemClock, Timestamp};
///
/// let now = SystemClock.now();
/// assert!(now > Timestamp::from_unix_seconds(1_577_836_800)); // after 2020
/// ```
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            // A wall clock before 1970 is a broken host; treat it as the epoch.
            .unwrap_or(0);
        Timestamp(seconds)
    }
}

/// A clock that moves only when told to. Clones share the same time.
///
/// Only with the `test-support` feature: turn it on for tests (in `[dev-dependencies]`),
/// so that no production build can hold a clock anyone may move.
///
/// ```
/// use principal::{Clock, TestClock, Timestamp};
///
/// let clock = TestClock::new(Timestamp::from_unix_seconds(1_000));
/// clock.advance(30);
/// assert_eq!(clock.now(), Timestamp::from_unix_seconds(1_030));
/// clock.set(Timestamp::from_unix_seconds(10));
/// assert_eq!(clock.now(), Timestamp::from_unix_seconds(10));
/// ```
#[cfg(any(test, feature = "test-support"))]
#[derive(Clone, Debug)]
pub struct TestClock(Arc<AtomicI64>);

#[cfg(any(test, feature = "test-support"))]
impl TestClock {
    /// A test clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        TestClock(Arc::new(AtomicI64::new(start.0)))
    }

    /// Set the time to `to`.
    pub fn set(&self, to: Timestamp) {
        self.0.store(to.0, Ordering::SeqCst);
    }

    /// Move the time by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_clones_share_time() {
        let a = TestClock::new(Timestamp::from_unix_seconds(10));
        let b = a.clone();
        a.advance(5);
        assert_eq!(b.now().as_unix_seconds(), 15);
        b.set(Timestamp::from_unix_seconds(3));
        assert_eq!(a.now().as_unix_seconds(), 3);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now().as_unix_seconds() > 1_577_836_800);
    }

    #[test]
    fn add_seconds_saturates() {
        assert_eq!(
            Timestamp::from_unix_seconds(i64::MAX)
                .add_seconds(1)
                .as_unix_seconds(),
            i64::MAX
        );
    }
}
