//! Property tests for the trace context parsers: any string is answered without a panic,
//! what is accepted round-trips, and acceptance agrees with the spec's rules written out
//! independently here.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use tower_auth::trace::{RequestId, TraceParent, TraceState};

/// The W3C rules, written as plainly as possible and apart from the parser.
fn spec_accepts(value: &str) -> bool {
    let value = value.trim_matches([' ', '\t']);
    if value.len() > 512 {
        return false;
    }
    let is_lower_hex = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    };
    let parts: Vec<&str> = value.splitn(5, '-').collect();
    if parts.len() < 4 {
        return false;
    }
    let (version, trace_id, parent_id, flags) = (parts[0], parts[1], parts[2], parts[3]);
    let fields_ok = version.len() == 2
        && is_lower_hex(version)
        && version != "ff"
        && trace_id.len() == 32
        && is_lower_hex(trace_id)
        && trace_id.chars().any(|c| c != '0')
        && parent_id.len() == 16
        && is_lower_hex(parent_id)
        && parent_id.chars().any(|c| c != '0')
        && flags.len() == 2
        && is_lower_hex(flags);
    // Version 00 has exactly four fields; a later one may carry more after a dash.
    fields_ok && (version != "00" || parts.len() == 4)
}

/// Strings near the valid form: each field valid most of the time and broken in one of
/// the ways the spec names otherwise, with optional tails and padding, so that about a
/// quarter are accepted and the rest miss by one rule.
fn near_traceparent() -> impl Strategy<Value = String> {
    let version = prop_oneof![
        4 => Just("00".to_owned()),
        2 => "[0-9a-f]{2}",
        1 => "[0-9a-fA-F.]{1,3}",
    ];
    let trace_id = prop_oneof![
        6 => "[0-9a-f]{32}",
        1 => "[0-9a-f]{31,33}",
        1 => Just("0".repeat(32)),
        1 => "[0-9A-F]{32}",
    ];
    let parent_id = prop_oneof![
        6 => "[0-9a-f]{16}",
        1 => "[0-9a-f]{15,17}",
        1 => Just("0".repeat(16)),
    ];
    let flags = prop_oneof![6 => "[0-9a-f]{2}", 1 => "[0-9a-fA-F.]{1,3}"];
    let tail = prop_oneof![
        4 => Just(String::new()),
        2 => "-[ -~]{0,20}",
        1 => "[.][ -~]{0,20}",
    ];
    (
        version,
        trace_id,
        parent_id,
        flags,
        tail,
        "[ \t]{0,2}",
        "[ \t]{0,2}",
    )
        .prop_map(|(version, trace_id, parent_id, flags, tail, lead, trail)| {
            format!("{lead}{version}-{trace_id}-{parent_id}-{flags}{tail}{trail}")
        })
}

fn check_traceparent(value: &str) -> Result<(), TestCaseError> {
    let parsed = TraceParent::parse(value);
    prop_assert_eq!(parsed.is_ok(), spec_accepts(value), "{:?}", value);
    if let Ok(parent) = parsed {
        let written = parent.to_string();
        // Written back, it parses to the same value.
        prop_assert_eq!(TraceParent::parse(&written), Ok(parent));
        // A version 00 value is passed on exactly as received (without whitespace).
        let trimmed = value.trim_matches([' ', '\t']);
        if trimmed.starts_with("00-") {
            prop_assert_eq!(written.as_str(), trimmed);
        } else {
            prop_assert_eq!(&written[2..], &trimmed[2..55]);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn traceparent_never_panics_and_accepted_ones_round_trip(value in any::<String>()) {
        check_traceparent(&value)?;
    }

    #[test]
    fn near_valid_traceparents_agree_with_the_spec(value in near_traceparent()) {
        check_traceparent(&value)?;
    }

    #[test]
    fn generated_traceparents_always_parse(_seed in any::<u8>()) {
        let parent = TraceParent::generate().unwrap();
        prop_assert_eq!(TraceParent::parse(&parent.to_string()), Ok(parent));
    }

    #[test]
    fn tracestate_never_panics_and_stays_within_limits(value in any::<String>()) {
        if let Ok(state) = TraceState::parse(&value) {
            prop_assert!(state.as_str().len() <= 512);
            prop_assert!(state.as_str().split(',').filter(|m| !m.trim().is_empty()).count() <= 32);
            prop_assert!(state.as_str().bytes().all(|b| b == b'\t' || (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(TraceState::parse(state.as_str()), Ok(state.clone()));
        }
    }

    #[test]
    fn tracestate_lists_within_limits_are_kept(members in prop::collection::vec("[a-z][a-z0-9_*/-]{0,8}=[!-+--<>-~]{1,8}", 1..40)) {
        let value = members.join(",");
        let parsed = TraceState::parse(&value);
        prop_assert_eq!(parsed.is_ok(), members.len() <= 32 && value.len() <= 512, "{}", value);
        if let Ok(state) = parsed {
            prop_assert_eq!(state.as_str(), value.as_str());
        }
    }

    #[test]
    fn request_id_accepts_exactly_short_visible_ascii(value in any::<String>()) {
        let expected = !value.is_empty()
            && value.len() <= 128
            && value.chars().all(|c| c.is_ascii_graphic());
        let parsed = RequestId::parse(&value);
        prop_assert_eq!(parsed.is_ok(), expected);
        if let Ok(id) = parsed {
            prop_assert_eq!(id.as_str(), value.as_str());
        }
    }
}

/// The near-valid strategy is only useful if it reaches the accepting paths often.
#[test]
fn the_near_valid_strategy_is_accepted_often_enough_to_test_round_trips() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = near_traceparent();
    let samples = 1000;
    let accepted = (0..samples)
        .filter(|_| {
            let value = strategy.new_tree(&mut runner).unwrap().current();
            TraceParent::parse(&value).is_ok()
        })
        .count();
    assert!(
        accepted * 10 >= samples,
        "only {accepted} of {samples} accepted"
    );
    assert!(
        accepted * 10 <= samples * 9,
        "{accepted} of {samples} accepted"
    );
}
