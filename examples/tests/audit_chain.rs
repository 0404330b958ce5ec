//! The audit trail of one request through the demo chain (edge -> documents -> audit, every
//! gRPC hop over mutual TLS), as the binaries write it: JSON lines in the format of
//! `examples::init_tracing`, collected in memory. The three hops' events link the last
//! hop back to the human: one request id and one trace id throughout, each hop's caller
//! the hop before it, the human the subject everywhere and the agent the acting party.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex, OnceLock};

use examples::SharedLines;
use examples::demo::DemoPattern;
use examples::demo::chain::{Chain, Persona};
use serde_json::Value;

/// The audit lines of this test binary (one global subscriber).
fn audit_lines() -> &'static Arc<Mutex<Vec<u8>>> {
    static LINES: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LINES.get_or_init(|| {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        tracing::subscriber::set_global_default(examples::json_lines(
            tracing_subscriber::EnvFilter::new("baton::audit=info"),
            move || SharedLines(Arc::clone(&sink)),
        ))
        .unwrap();
        lines
    })
}

/// The audit events of the request `request_id`, in the order they were written.
fn events_of(request_id: &str) -> Vec<Value> {
    let text = String::from_utf8(audit_lines().lock().unwrap().clone()).unwrap();
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|event| event["target"] == "baton::audit" && event["request_id"] == request_id)
        .collect()
}

async fn assert_trail(pattern: DemoPattern, documents_caller: &str, audit_caller: &str) {
    audit_lines();
    let chain = Chain::start(pattern).await.unwrap();
    let token = chain.token(Persona::AgentForHuman).await.unwrap();
    let answer = chain.get("/documents/d-2", &token).await.unwrap();
    let hops = &answer.items[0].hops;
    let request_id = &hops[0].request_id;
    let human = &hops[0].principal_id;
    let agent = &hops[0].delegation[0];

    let events = events_of(request_id);
    assert_eq!(events.len(), 3, "one event per hop: {events:#?}");
    let trace_id = events[0]["trace_id"].as_str().unwrap();
    assert_eq!(trace_id.len(), 32, "{trace_id}");
    for event in &events {
        assert_eq!(event["outcome"], "accepted", "{event}");
        assert_eq!(event["reason"], "verified", "{event}");
        // One request, one trace, from the edge to the last hop.
        assert_eq!(event["request_id"], request_id.as_str(), "{event}");
        assert_eq!(event["trace_id"], trace_id, "{event}");
        // On whose authority: the human, throughout; who acts: the agent.
        assert_eq!(event["principal_id"], human.as_str(), "{event}");
        assert_eq!(event["kind"], "human", "{event}");
        assert_eq!(event["subject"], "alice", "{event}");
        assert_eq!(event["acting"], agent.as_str(), "{event}");
        assert_eq!(event["delegation"], agent.as_str(), "{event}");
        // The token never.
        assert!(!event.to_string().contains(&token), "{event}");
    }
    // Each hop names the one before it: the edge was called from outside.
    let callers: Vec<&str> = events
        .iter()
        .map(|event| event["caller"].as_str().unwrap())
        .collect();
    assert_eq!(callers[0], "-");
    assert!(callers[1].starts_with(documents_caller), "{callers:?}");
    assert!(callers[2].starts_with(audit_caller), "{callers:?}");
    let patterns: Vec<&str> = events
        .iter()
        .map(|event| event["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(patterns[0], "jwt_passthrough");
    assert_eq!(patterns[1], pattern.verified_as().as_str());
    assert_eq!(patterns[2], pattern.verified_as().as_str());
}

#[tokio::test]
async fn a_signed_passport_trail_leads_from_the_last_hop_back_to_the_human() {
    assert_trail(
        DemoPattern::SignedPassport,
        "svc-edge (passport)",
        "svc-documents (passport)",
    )
    .await;
}

#[tokio::test]
async fn a_workload_trail_names_each_calling_workload() {
    assert_trail(
        DemoPattern::UnsignedPassport,
        "spiffe://demo.test/edge",
        "spiffe://demo.test/documents",
    )
    .await;
}
