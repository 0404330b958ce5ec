//! An event logged while `JsonLines` is writing another line (a field's `Display` that
//! logs) gets a line of its own, whole, before the outer one.
//!
//! Alone in its binary on purpose: tracing-core hands an event dispatched from inside
//! another to the global dispatcher only while no scoped dispatcher (`with_default`,
//! `set_default`) exists anywhere in the process, so beside tests that use one the inner
//! event would be dropped before it reached the formatter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt;
use std::sync::{Arc, Mutex};

use examples::json_lines::JsonLines;
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt as _;

/// A value whose `Display` logs an event of its own while its line is written.
struct Logs;

impl fmt::Display for Logs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::info!(target: "json_lines_reentry", "inner");
        f.write_str("outer value")
    }
}

#[test]
fn an_event_logged_while_a_line_is_written_gets_a_line_of_its_own() {
    // Through the global dispatcher, as `init_tracing` installs it.
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(
            "json_lines_reentry=info",
        ))
        .with(JsonLines::new(move || {
            examples::SharedLines(Arc::clone(&sink))
        }));
    tracing::subscriber::set_global_default(subscriber).unwrap();
    std::thread::spawn(|| tracing::info!(target: "json_lines_reentry", value = %Logs, "outer"))
        .join()
        .unwrap();
    let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{text}");
    assert_eq!(events[0]["message"], "inner");
    assert_eq!(events[1]["message"], "outer");
    assert_eq!(events[1]["value"], "outer value");
}
