//! # principal
//!
//! The typed identity model of Baton: on whose authority a request runs, and who
//! is acting. No I/O, no async.
#![deny(missing_docs)]

mod time;

pub use time::{Clock, SystemClock, TestClock, Timestamp};
