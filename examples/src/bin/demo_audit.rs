//! The demo's `audit` as a process of its own (see `examples::demo::process` for the
//! flags; `cargo run -p examples --bin demo -- --dev-pki DIR` writes the keys and
//! certificates and prints a full command line).

use std::process::ExitCode;

use clap::Parser;
use examples::demo::process::{AuditArgs, run_audit, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    let args = AuditArgs::parse();
    // Held to the end of main: dropping it flushes the queued log lines.
    let _tracing = examples::init_tracing();
    let settings = match &args.config {
        Some(path) => format!("config {}", path.display()),
        None => format!("pattern {}", args.pattern),
    };
    let ready = |addr| println!("demo-audit: serving on {addr} ({settings})");
    match run_audit(&args, ready, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo-audit: {error}");
            ExitCode::FAILURE
        }
    }
}
