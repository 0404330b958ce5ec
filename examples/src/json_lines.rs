//! [`JsonLines`]: the examples' log format, one JSON object per `tracing` event and line,
//! written by hand into a per-thread line buffer that is reused from line to line.
//!
//! `tracing-subscriber`'s own JSON format (`fmt().json()`) goes through `serde_json`,
//! formats the timestamp into a fresh `String` per event and writes through two layers of
//! `dyn fmt::Write`; every request writes an audit event, so this layer writes the bytes
//! itself: no allocation per event or per field (the writer's queue copies each line, as
//! before), the timestamp from the system clock by
//! arithmetic, strings escaped eight bytes at a time, the field names' clash checks done
//! once per callsite. `benches/benches/audit.rs` measures both.
//!
//! # The line
//!
//! ```text
//! {"timestamp":"2026-11-29T17:09:14.123456Z","level":"INFO","message":"request authenticated","request_id":"r-1",…,"target":"baton::audit"}
//! ```
//!
//! - `timestamp`: RFC 3339, UTC, microseconds (`YYYY-MM-DDTHH:MM:SS.ffffffZ`). A system
//!   clock before 1970 is written as the epoch, one past 9999 as the last microsecond of
//!   9999.
//! - `level`: `TRACE`, `DEBUG`, `INFO`, `WARN` or `ERROR`.
//! - then the event's fields at the top level, in the order the event names them
//!   (`message` among them when the event has one);
//! - `target`: the event's target, last.
//!
//! # Values
//!
//! | recorded as | written as |
//! | --- | --- |
//! | `&str`, `Display` (`%x`), `Debug` (`?x`), an error | a JSON string (an error by its `Display`) |
//! | `bool` | `true` / `false` |
//! | `i64`, `u64`, `i128`, `u128` | a JSON number, every digit (a reader that keeps numbers as `f64` loses precision past 2^53, as with any JSON) |
//! | finite `f64` | a JSON number that reads back as the same `f64` |
//! | `NaN`, `±inf` | `null` (JSON has no such numbers; as `serde_json` writes them) |
//! | bytes | a string, `tracing`'s hex form `[0a ff]` |
//!
//! Strings are escaped as RFC 8259 requires: `"` and `\` with a backslash, the control
//! characters U+0000–U+001F as `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`; U+2028 and
//! U+2029 are written `\u2028` and `\u2029` too, so a line is also a valid JavaScript
//! literal. A field's name is escaped the same way. Rust strings are UTF-8, so no lone
//! surrogate can reach the output. A value whose `Display`/`Debug` fails part way keeps
//! what it wrote, followed by [`FORMAT_FAILED`]; the line stays valid JSON.
//!
//! # Field names that would clash
//!
//! Each key of a line is unique, so every JSON reader sees the same object:
//!
//! - a field named like a key this format writes itself (`timestamp`, `level`,
//!   `target`) is written as `fields.` + its name (`fields.level`), and so is a field
//!   whose name already starts with `fields.` (`fields.x` becomes `fields.fields.x`), so
//!   the renaming cannot collide with another field;
//! - an event that names the same field twice (`tracing` allows it) writes the first
//!   under its name and each repeat as `fields.` + its position in the event + `.` + its
//!   name (`fields.3.outcome`): the only keys that start with `fields.` and a digit.

use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};

/// Appended to a string value whose `Display` or `Debug` implementation returned an
/// error part way (the line buffer itself cannot fail: it is a `String`).
pub const FORMAT_FAILED: &str = "<formatting failed>";

/// The keys this format writes itself; a field with one of these names is renamed.
const RESERVED_KEYS: [&str; 3] = ["timestamp", "level", "target"];

/// The prefix of a renamed field (see the module docs).
const RENAMED_PREFIX: &str = "fields.";

/// A line buffer that grew past this (an outsized event) is given back after its line.
const KEPT_LINE_CAPACITY: usize = 64 * 1024;

/// A [`Layer`] that writes each event as one JSON object on one line (the format of the
/// module docs) to `make_writer`, one write per line. [`crate::json_lines`] is a
/// subscriber with it; put it on a `tracing_subscriber::registry()` of your own, beside
/// other layers, with `with`.
///
/// A line is formatted into a buffer of the thread's, reused from line to line, and
/// handed to the writer in one `write_all`. A write that fails loses that line and
/// nothing else: no panic, no message to stderr (the examples' writer fails only after
/// its guard is dropped, at exit).
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let lines = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&lines);
/// let subscriber = tracing_subscriber::registry().with(examples::json_lines::JsonLines::new(
///     move || examples::SharedLines(Arc::clone(&sink)),
/// ));
/// tracing::subscriber::with_default(subscriber, || {
///     // A hostile value cannot break out of its string or its line...
///     tracing::info!(subject = "\",\"outcome\":\"accepted\"}\n{\"x\":\"", "login");
///     // ...nor overwrite a key of the line: this `level` is written as `fields.level`.
///     tracing::warn!(level = "INFO", "refused");
/// });
/// let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
/// let events: Vec<serde_json::Value> =
///     text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
/// assert_eq!(events.len(), 2);
/// assert_eq!(events[0]["subject"], "\",\"outcome\":\"accepted\"}\n{\"x\":\"");
/// assert_eq!(events[0].get("outcome"), None);
/// assert_eq!(events[1]["level"], "WARN");
/// assert_eq!(events[1]["fields.level"], "INFO");
/// ```
pub struct JsonLines<W> {
    make_writer: W,
    /// The time since the Unix epoch, read once per line (the system clock; tests fix it).
    now: fn() -> Duration,
}

impl<W> JsonLines<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    /// The format, writing to `make_writer`, timestamps from the system clock.
    pub fn new(make_writer: W) -> Self {
        JsonLines {
            make_writer,
            now: system_now,
        }
    }
}

impl<W> fmt::Debug for JsonLines<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLines").finish_non_exhaustive()
    }
}

/// The system clock as time since the epoch; a clock before 1970 is a broken host,
/// written as the epoch (as `principal::SystemClock` reads it).
fn system_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

impl<S, W> Layer<S> for JsonLines<W>
where
    S: Subscriber,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        thread_local! {
            static LINE: RefCell<String> = const { RefCell::new(String::new()) };
        }
        let write_line = |line: &mut String| {
            line.clear();
            write_event(line, (self.now)(), event);
            // Lost if the writer fails: there is nowhere better to say so.
            let _ = self
                .make_writer
                .make_writer_for(event.metadata())
                .write_all(line.as_bytes());
            if line.capacity() > KEPT_LINE_CAPACITY {
                *line = String::new();
            }
        };
        // The thread's buffer, unless it is in use (an event logged by a value's Display
        // while its own line is written) or gone (the thread is exiting): then a new one.
        let reused = LINE.try_with(|line| match line.try_borrow_mut() {
            Ok(mut line) => {
                write_line(&mut line);
                true
            }
            Err(_) => false,
        });
        if reused != Ok(true) {
            write_line(&mut String::new());
        }
    }
}

/// One event as one line, newline included, appended to `out`.
fn write_event(out: &mut String, now: Duration, event: &Event<'_>) {
    let metadata = event.metadata();
    out.push_str("{\"timestamp\":\"");
    write_timestamp(out, now);
    out.push_str("\",\"level\":\"");
    out.push_str(metadata.level().as_str());
    out.push('"');
    let mut fields = Fields {
        out: &mut *out,
        renamed: renamed_fields(metadata),
    };
    event.record(&mut fields);
    out.push_str(",\"target\":");
    write_string(out, metadata.target());
    out.push_str("}\n");
}

/// Writes each field as `,"name":value` (the visitor `Event::record` calls).
struct Fields<'o> {
    out: &'o mut String,
    /// Which fields are renamed (see [`Renamed`]).
    renamed: Renamed,
}

impl Fields<'_> {
    /// Writes `,"key":`, renamed as the module docs say when the name would clash.
    fn key(&mut self, field: &Field) {
        let index = field.index();
        self.out.push_str(",\"");
        if self.renamed.is_repeat(index) {
            // `fields.<index>.<name>`: the only keys with a digit after the prefix.
            let _ = write!(self.out, "{RENAMED_PREFIX}{index}.");
        } else if self.renamed.is_prefixed(index) {
            self.out.push_str(RENAMED_PREFIX);
        }
        if self.renamed.is_plain(index) {
            self.out.push_str(field.name());
        } else {
            write_escaped(self.out, field.name());
        }
        self.out.push_str("\":");
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            // Debug is the shortest form that reads back as the same f64, and always a
            // JSON number: `1.0`, `-0.0`, `1e300`, `1.5e-7`.
            let _ = write!(self.out, "{value:?}");
        } else {
            self.out.push_str("null");
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.key(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.key(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.out.push_str(if value { "true" } else { "false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        write_string(self.out, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        self.out.push('"');
        // Streamed through the escaper: no intermediate String. A failing Debug or
        // Display is the value's fault, not the line's: keep what it wrote, mark it.
        if write!(Escaped(self.out), "{value:?}").is_err() {
            self.out.push_str(FORMAT_FAILED);
        }
        self.out.push('"');
    }
}

/// How a callsite's field names are written: bit `i` of `repeats` when field `i`'s name
/// is an earlier field's too, of `prefixed` when it is a reserved key or starts with
/// [`RENAMED_PREFIX`] (both written under another key), of `plain` when it needs no
/// escaping. (`tracing` allows 32 fields per callsite.)
#[derive(Clone, Copy, Default)]
struct Renamed {
    repeats: u64,
    prefixed: u64,
    plain: u64,
}

impl Renamed {
    fn of(metadata: &Metadata<'_>) -> Self {
        let names: Vec<&str> = metadata.fields().iter().map(|field| field.name()).collect();
        let mut renamed = Renamed::default();
        for (index, name) in names.iter().enumerate().take(64) {
            if !name.bytes().any(|byte| NEEDS_LOOK[usize::from(byte)]) {
                renamed.plain |= 1 << index;
            }
            if names[..index].contains(name) {
                renamed.repeats |= 1 << index;
            } else if RESERVED_KEYS.contains(name) || name.starts_with(RENAMED_PREFIX) {
                renamed.prefixed |= 1 << index;
            }
        }
        renamed
    }

    fn is_repeat(self, index: usize) -> bool {
        index < 64 && self.repeats & (1 << index) != 0
    }

    fn is_prefixed(self, index: usize) -> bool {
        index < 64 && self.prefixed & (1 << index) != 0
    }

    fn is_plain(self, index: usize) -> bool {
        index < 64 && self.plain & (1 << index) != 0
    }
}

/// The [`Renamed`] of `metadata`'s callsite, from a small per-thread cache keyed by the
/// callsite's address (`Metadata` is static), so the names are compared once per
/// callsite and thread, not per event.
fn renamed_fields(metadata: &'static Metadata<'static>) -> Renamed {
    const SLOTS: usize = 64;
    thread_local! {
        static CACHE: [Cell<(usize, Renamed)>; SLOTS] = const {
            [const { Cell::new((0, Renamed { repeats: 0, prefixed: 0, plain: 0 })) }; SLOTS]
        };
    }
    let address = std::ptr::from_ref(metadata).addr();
    let slot = (address >> 4) % SLOTS;
    CACHE
        .try_with(|cache| {
            let (cached, renamed) = cache[slot].get();
            if cached == address {
                return renamed;
            }
            let renamed = Renamed::of(metadata);
            cache[slot].set((address, renamed));
            renamed
        })
        .unwrap_or_else(|_| Renamed::of(metadata))
}

/// `value` as a JSON string, quotes included.
fn write_string(out: &mut String, value: &str) {
    out.push('"');
    write_escaped(out, value);
    out.push('"');
}

/// A `fmt::Write` that escapes what is written through it for the inside of a JSON
/// string, so `Display` and `Debug` output streams into the line without a copy.
struct Escaped<'o>(&'o mut String);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        write_escaped(self.0, text);
        Ok(())
    }
}

/// Which bytes [`write_escaped`] must look at: the ASCII control characters, `"`, `\`,
/// and 0xE2, the first byte of U+2028 and U+2029 (and of other characters, passed on).
const NEEDS_LOOK: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0xE2] = true;
    table
};

/// Whether any of the eight bytes of `word` may need a look: a control character, `"`,
/// `\` or a non-ASCII byte. The usual bit tricks, branch-free: `(x - 0x01) & !x` sets a
/// byte's high bit where `x` is zero (and `(x - 0x20) & !x` where it is below 0x20); a
/// carry may mark a byte after a true hit too, which costs a look, never a miss.
fn word_may_need_look(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let is_quote = quote.wrapping_sub(ONES) & !quote;
    let is_backslash = backslash.wrapping_sub(ONES) & !backslash;
    (below_space | is_quote | is_backslash | word) & HIGH != 0
}

/// `text` escaped for the inside of a JSON string (RFC 8259 section 7, plus U+2028 and
/// U+2029): runs of plain characters are copied in one piece each, eight bytes checked
/// at a time.
fn write_escaped(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = bytes.get(at..at + 8) {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(word);
            if !word_may_need_look(u64::from_le_bytes(eight)) {
                at += 8;
                continue;
            }
        }
        let byte = bytes[at];
        if !NEEDS_LOOK[usize::from(byte)] {
            at += 1;
            continue;
        }
        let mut control = [b'\\', b'u', b'0', b'0', 0, 0];
        let (escape, length): (&str, usize) = match byte {
            b'"' => ("\\\"", 1),
            b'\\' => ("\\\\", 1),
            b'\n' => ("\\n", 1),
            b'\r' => ("\\r", 1),
            b'\t' => ("\\t", 1),
            0x08 => ("\\b", 1),
            0x0C => ("\\f", 1),
            0xE2 => match (bytes.get(at + 1), bytes.get(at + 2)) {
                (Some(0x80), Some(0xA8)) => ("\\u2028", 3),
                (Some(0x80), Some(0xA9)) => ("\\u2029", 3),
                // Another character starting with 0xE2 (U+2000..U+2FFF): as it is.
                _ => {
                    at += 1;
                    continue;
                }
            },
            _ => {
                control[4] = HEX[usize::from(byte >> 4)];
                control[5] = HEX[usize::from(byte & 0x0F)];
                // Six ASCII bytes.
                (std::str::from_utf8(&control).unwrap_or("\\ufffd"), 1)
            }
        };
        // `at` is at an ASCII byte or a UTF-8 lead byte: a character boundary.
        out.push_str(text.get(plain_from..at).unwrap_or_default());
        out.push_str(escape);
        at += length;
        plain_from = at;
    }
    out.push_str(text.get(plain_from..).unwrap_or_default());
}

/// The last instant RFC 3339's four-digit years can name: 9999-12-31T23:59:59.999999Z.
const LAST_WRITABLE: Duration = Duration::new(253_402_300_799, 999_999_000);

/// `since_epoch` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC), by arithmetic on the seconds:
/// no calendar library, no allocation. Past year 9999 it writes the last instant of 9999.
fn write_timestamp(out: &mut String, since_epoch: Duration) {
    let since_epoch = since_epoch.min(LAST_WRITABLE);
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_from_days(seconds / 86_400);
    let second_of_day = seconds % 86_400;
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    put_digits(&mut text[0..4], year);
    put_digits(&mut text[5..7], month);
    put_digits(&mut text[8..10], day);
    put_digits(&mut text[11..13], second_of_day / 3600);
    put_digits(&mut text[14..16], second_of_day / 60 % 60);
    put_digits(&mut text[17..19], second_of_day % 60);
    put_digits(&mut text[20..26], u64::from(since_epoch.subsec_micros()));
    // Digits and separators only: always ASCII.
    out.push_str(std::str::from_utf8(&text).unwrap_or("1970-01-01T00:00:00.000000Z"));
}

/// Writes the last `digits.len()` decimal digits of `value` into `digits`.
fn put_digits(digits: &mut [u8], mut value: u64) {
    for digit in digits.iter_mut().rev() {
        // `value % 10` is below 10: the cast cannot truncate.
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The proleptic Gregorian (year, month, day) of the day `days` after 1970-01-01
/// (Howard Hinnant's `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, so leap days end each 400-year era.
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// 2025-11-29T17:09:14.123456Z (and 789 ns, which the line drops).
    fn fixed_now() -> Duration {
        Duration::new(1_764_436_154, 123_456_789)
    }

    const FIXED_TIMESTAMP: &str = "2025-11-29T17:09:14.123456Z";

    /// The lines `emit` logs through [`JsonLines`] at the fixed time, at every level.
    fn lines_of(emit: impl FnOnce()) -> String {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let subscriber = tracing_subscriber::registry().with(JsonLines {
            make_writer: move || crate::SharedLines(Arc::clone(&sink)),
            now: fixed_now,
        });
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = lines.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    /// A line's keys in order, duplicates kept (a `serde_json::Value` would keep one).
    fn keys_of(line: &str) -> Vec<String> {
        struct Keys(Vec<String>);
        impl<'de> serde::Deserialize<'de> for Keys {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = Keys;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a JSON object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Keys, A::Error> {
                        let mut keys = Vec::new();
                        while let Some((key, _)) = map.next_entry::<String, Value>()? {
                            keys.push(key);
                        }
                        Ok(Keys(keys))
                    }
                }
                deserializer.deserialize_map(Visitor)
            }
        }
        serde_json::from_str::<Keys>(line).unwrap().0
    }

    /// The one line of `text`, checked to be a JSON object with unique keys, timestamp
    /// first, level second and target last, parsed.
    fn only_event(text: &str) -> Value {
        assert!(text.ends_with('\n'), "{text:?}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "one event, one line: {text:?}");
        let keys = keys_of(lines[0]);
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "duplicate keys in {}", lines[0]);
        assert_eq!(keys[0], "timestamp", "{keys:?}");
        assert_eq!(keys[1], "level", "{keys:?}");
        assert_eq!(keys.last().map(String::as_str), Some("target"), "{keys:?}");
        serde_json::from_str(lines[0]).unwrap()
    }

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        write_escaped(&mut out, text);
        out
    }

    #[test]
    fn every_value_type_is_written_as_its_json_type() {
        let error = std::io::Error::other("disk \"full\"");
        let text = lines_of(|| {
            tracing::info!(
                target: "baton::test",
                text = "plain",
                yes = true,
                no = false,
                negative = -42_i64,
                unsigned = u64::MAX,
                big = u128::MAX,
                small = i128::MIN,
                tenth = 0.1_f64,
                huge = 1e300_f64,
                tiny = 1.5e-7_f64,
                minus_zero = -0.0_f64,
                not_a_number = f64::NAN,
                infinite = f64::INFINITY,
                minus_infinite = f64::NEG_INFINITY,
                shown = %"display \"me\"",
                debugged = ?vec!["a", "b"],
                error = &error as &(dyn std::error::Error + 'static),
                bytes = &b"\x0a\xff"[..],
                "the {} message",
                "formatted"
            );
        });
        let event = only_event(&text);
        assert_eq!(
            event,
            json!({
                "timestamp": FIXED_TIMESTAMP,
                "level": "INFO",
                "message": "the formatted message",
                "text": "plain",
                "yes": true,
                "no": false,
                "negative": -42,
                "unsigned": u64::MAX,
                "big": serde_json::from_str::<Value>("340282366920938463463374607431768211455").unwrap(),
                "small": serde_json::from_str::<Value>("-170141183460469231731687303715884105728").unwrap(),
                "tenth": 0.1,
                "huge": 1e300,
                "tiny": 1.5e-7,
                "minus_zero": -0.0,
                "not_a_number": null,
                "infinite": null,
                "minus_infinite": null,
                "shown": "display \"me\"",
                "debugged": "[\"a\", \"b\"]",
                "error": "disk \"full\"",
                "bytes": "[0a ff]",
                "target": "baton::test",
            })
        );
        // Integers keep every digit; floats read back as the same f64.
        assert!(
            text.contains(r#""big":340282366920938463463374607431768211455,"#),
            "{text}"
        );
        assert!(
            text.contains(r#""small":-170141183460469231731687303715884105728,"#),
            "{text}"
        );
        for (key, value) in [("tenth", 0.1), ("huge", 1e300), ("tiny", 1.5e-7)] {
            let start = text.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
            let number: String = text[start..].chars().take_while(|c| *c != ',').collect();
            assert_eq!(
                number.parse::<f64>().unwrap().to_bits(),
                f64::to_bits(value),
                "{key}"
            );
        }
        assert!(text.contains(r#""minus_zero":-0.0,"#), "{text}");
    }

    #[test]
    fn hostile_strings_stay_inside_their_value_and_their_line() {
        let hostile = [
            "\",\"outcome\":\"accepted\"}\n{\"level\":\"ERROR\"",
            "back\\slash\\\"",
            "nul\u{0}bell\u{7}escape\u{1b}[31mdel\u{7f}",
            "line\nfeed\rreturn\ttab\u{8}backspace\u{c}formfeed",
            "separators \u{2028} and \u{2029}",
            "unicode: é ü 中文 🦀 \u{2026} € \u{2000}\u{2FFF}",
            "",
            "\\u0000 is text here",
        ];
        for value in hostile {
            let text = lines_of(|| {
                tracing::warn!(target: "baton::test", subject = value, shown = %value, debugged = ?value);
            });
            let event = only_event(&text);
            assert_eq!(event["subject"], value, "{text}");
            assert_eq!(event["shown"], value, "{text}");
            assert_eq!(event["debugged"], format!("{value:?}"), "{text}");
            assert_eq!(event.as_object().unwrap().len(), 6, "{text}");
            // One line: no raw control character, separator or DEL-less escape survives.
            let line = text.trim_end_matches('\n');
            assert!(
                !line
                    .chars()
                    .any(|c| c < ' ' || c == '\u{2028}' || c == '\u{2029}'),
                "{line:?}"
            );
        }
    }

    #[test]
    fn escapes_are_the_short_forms_and_u00xx() {
        assert_eq!(escaped("a\"b\\c"), r#"a\"b\\c"#);
        assert_eq!(escaped("\n\r\t\u{8}\u{c}"), r"\n\r\t\b\f");
        assert_eq!(
            escaped("\u{0}\u{1}\u{1f}\u{1b}"),
            r"\u0000\u0001\u001f\u001b"
        );
        assert_eq!(escaped("\u{2028}x\u{2029}"), r"\u2028x\u2029");
        // Other characters are written as they are, 0xE2-led ones included.
        assert_eq!(
            escaped("€…\u{2027}\u{202a}🦀\u{7f}"),
            "€…\u{2027}\u{202a}🦀\u{7f}"
        );
        for byte in 0u8..0x20 {
            let text = char::from(byte).to_string();
            let mut json = String::from("\"");
            json.push_str(&escaped(&text));
            json.push('"');
            assert_eq!(
                serde_json::from_str::<String>(&json).unwrap(),
                text,
                "{byte:#x}"
            );
        }
    }

    #[test]
    fn a_field_named_like_a_key_of_the_line_is_renamed_and_cannot_collide() {
        let text = lines_of(|| {
            tracing::error!(
                target: "baton::test",
                level = "INFO",
                timestamp = 0_u64,
                "target" = "elsewhere",
                fields.level = "dotted",
                "fields.fields.level" = "deeper",
                message_level = "kept",
                "odd \"name\"\n" = 1_i64,
                "renamed"
            );
        });
        let event = only_event(&text);
        assert_eq!(
            event,
            json!({
                "timestamp": FIXED_TIMESTAMP,
                "level": "ERROR",
                "message": "renamed",
                "fields.level": "INFO",
                "fields.timestamp": 0,
                "fields.target": "elsewhere",
                "fields.fields.level": "dotted",
                "fields.fields.fields.level": "deeper",
                "message_level": "kept",
                "odd \"name\"\n": 1,
                "target": "baton::test",
            })
        );
    }

    #[test]
    fn a_field_the_event_names_twice_keeps_both_values_under_distinct_keys() {
        let text = lines_of(|| {
            tracing::info!(target: "baton::test", outcome = "accepted", outcome = "rejected", "twice");
        });
        let event = only_event(&text);
        // The repeat's position in the event (message, outcome, outcome) makes its key.
        let repeat = "fields.2.outcome";
        assert_eq!(
            event,
            json!({
                "timestamp": FIXED_TIMESTAMP,
                "level": "INFO",
                "message": "twice",
                "outcome": "accepted",
                repeat: "rejected",
                "target": "baton::test",
            })
        );
    }

    #[test]
    fn a_message_alone_and_every_level() {
        let text = lines_of(|| {
            tracing::trace!(target: "t", "a");
            tracing::debug!(target: "t", "b");
            tracing::info!(target: "t", "c");
            tracing::warn!(target: "t", "d");
            tracing::error!(target: "a \"quoted\" target", "e\n");
        });
        let events: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(text.lines().count(), 5, "{text}");
        let levels: Vec<&str> = events
            .iter()
            .map(|e| e["level"].as_str().unwrap())
            .collect();
        assert_eq!(levels, ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]);
        assert_eq!(
            events[4],
            json!({"timestamp": FIXED_TIMESTAMP, "level": "ERROR", "message": "e\n", "target": "a \"quoted\" target"})
        );
        assert_eq!(
            text.lines().next().unwrap(),
            format!(
                r#"{{"timestamp":"{FIXED_TIMESTAMP}","level":"TRACE","message":"a","target":"t"}}"#
            )
        );
    }

    /// A value whose `Display` fails part way (a broken impl: the writer cannot fail).
    struct Failing;

    impl fmt::Display for Failing {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("half \"written\"")?;
            Err(fmt::Error)
        }
    }

    #[test]
    fn a_value_that_fails_to_format_is_marked_and_the_line_stays_json() {
        let text = lines_of(|| {
            tracing::info!(target: "t", broken = %Failing, after = "still here", "m");
        });
        let event = only_event(&text);
        assert_eq!(event["broken"], format!("half \"written\"{FORMAT_FAILED}"));
        assert_eq!(event["after"], "still here");
    }

    #[test]
    fn an_outsized_line_is_written_whole() {
        let value = "x\\\"".repeat(40_000);
        let text = lines_of(|| tracing::info!(target: "t", value = value.as_str(), "big"));
        assert_eq!(only_event(&text)["value"], value);
        // The next line starts from an empty buffer.
        let text = lines_of(|| tracing::info!(target: "t", "small"));
        assert_eq!(only_event(&text)["message"], "small");
    }

    #[test]
    fn escaping_finds_a_special_character_at_every_offset_of_the_eight_byte_steps() {
        // Every ASCII character, and the non-ASCII ones the escaper looks at or passes on.
        let others = ["\u{2028}", "\u{2029}", "\u{2027}", "é", "€", "🦀"].map(String::from);
        let ascii = (0u8..0x80).map(|byte| char::from(byte).to_string());
        for special in others.into_iter().chain(ascii) {
            for before in 0..20 {
                for after in [0, 1, 7, 8, 9] {
                    let text = format!("{}{special}{}", "a".repeat(before), "b".repeat(after));
                    let json = format!("\"{}\"", escaped(&text));
                    assert_eq!(
                        serde_json::from_str::<String>(&json).unwrap(),
                        text,
                        "{json}"
                    );
                    assert!(!json.contains(['\u{2028}', '\u{2029}']), "{json}");
                    assert!(!json.chars().any(|c| c < ' '), "{json:?}");
                }
            }
        }
    }

    /// A writer that fails every write.
    struct Broken;

    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("broken pipe"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("broken pipe"))
        }
    }

    #[test]
    fn a_failing_writer_loses_the_line_without_a_panic() {
        let subscriber = crate::json_lines(tracing_subscriber::EnvFilter::new("info"), || Broken);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "baton::audit", outcome = "accepted", "request authenticated");
        });
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let at = |seconds: u64, nanos: u32| {
            let mut out = String::new();
            write_timestamp(&mut out, Duration::new(seconds, nanos));
            out
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 999), "2000-02-29T00:00:00.000000Z");
        assert_eq!(at(68_169_599, 999_999_999), "1972-02-28T23:59:59.999999Z");
        assert_eq!(at(1_764_436_154, 123_456_789), FIXED_TIMESTAMP);
        // 2100 is not a leap year.
        assert_eq!(at(4_107_542_399, 0), "2100-02-28T23:59:59.000000Z");
        assert_eq!(at(4_107_542_400, 1_000), "2100-03-01T00:00:00.000001Z");
        assert_eq!(at(253_402_300_799, 0), "9999-12-31T23:59:59.000000Z");
        // Past 9999: the last instant RFC 3339 can write.
        assert_eq!(at(u64::MAX, 0), "9999-12-31T23:59:59.999999Z");
        assert_eq!(at(253_402_300_800, 0), "9999-12-31T23:59:59.999999Z");
    }

    #[test]
    fn civil_from_days_agrees_with_counting_days_month_by_month() {
        let is_leap = |year: u64| {
            year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
        };
        let mut days = 0;
        for year in 1970..=9999 {
            for month in 1..=12 {
                let length = match month {
                    2 if is_leap(year) => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                assert_eq!(civil_from_days(days), (year, month, 1));
                assert_eq!(civil_from_days(days + length - 1), (year, month, length));
                days += length;
            }
        }
    }

    #[test]
    fn the_system_clock_writes_now() {
        let before = system_now();
        let text = lines_of_system_clock();
        let after = system_now();
        let event = only_event(&text);
        let mut low = String::new();
        let mut high = String::new();
        write_timestamp(&mut low, before);
        write_timestamp(&mut high, after);
        let written = event["timestamp"].as_str().unwrap();
        // Same width and format: string order is time order.
        assert!(
            low.as_str() <= written && written <= high.as_str(),
            "{low} {written} {high}"
        );
    }

    fn lines_of_system_clock() -> String {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let subscriber = crate::json_lines(tracing_subscriber::EnvFilter::new("info"), move || {
            crate::SharedLines(Arc::clone(&sink))
        });
        tracing::subscriber::with_default(subscriber, || tracing::info!(target: "t", "now"));
        let bytes = lines.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }
}
