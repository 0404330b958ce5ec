//! The `demo` binary as a newcomer runs it: every pattern in turn, exit status 0, each hop
//! printed; a bad command line exits 2 with clap's message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn the_demo_runs_every_pattern_and_prints_every_hop() {
    let output = Command::new(env!("CARGO_BIN_EXE_demo"))
        .arg("--all")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
    for pattern in [
        "passthrough",
        "internal-jwt",
        "signed-passport",
        "unsigned-passport",
    ] {
        assert!(
            stdout.contains(&format!("== {pattern}:")),
            "{pattern}: {stdout}"
        );
    }
    // Per pattern and persona: the three hops, the unary call and the stream.
    assert_eq!(stdout.matches("\n   audit ").count(), 4 * 3, "{stdout}");
    assert_eq!(
        stdout.matches("(server streaming): 3 documents").count(),
        4 * 3
    );
    assert!(stdout.contains(
        "documents  subject alice (human)  acting assistant for alice  caller spiffe://demo.test/edge  peer spiffe://demo.test/edge  pattern passport"
    ), "{stdout}");
}

#[test]
fn a_bad_command_line_exits_2() {
    for args in [&["--pattern", "magic"][..], &["--all", "--serve"][..]] {
        let output = Command::new(env!("CARGO_BIN_EXE_demo"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn a_chain_that_cannot_start_exits_1() {
    // `documents`' address is taken: the chain does not start, the demo says so.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--serve", "--idp", "127.0.0.1:0", "--edge", "127.0.0.1:0"])
        .args(["--audit", "127.0.0.1:0", "--documents", &addr])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(stdout.contains(&addr), "{stdout}");
}
