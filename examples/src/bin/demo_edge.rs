//! The demo's `edge` as a process of its own (see `examples::demo::process` for the
//! flags; `cargo run -p examples --bin demo -- --dev-pki DIR` writes the keys and
//! certificates and prints a full command line).

use std::process::ExitCode;

use clap::Parser;
use examples::demo::process::{EdgeArgs, run_edge, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    let args = EdgeArgs::parse();
    // Held to the end of main: dropping it flushes the queued log lines.
    let _tracing = examples::init_tracing();
    let settings = match &args.config {
        Some(path) => format!("config {}", path.display()),
        None => format!("pattern {}", args.pattern),
    };
    let ready = |addr| println!("demo-edge: serving on {addr} ({settings})");
    match run_edge(&args, ready, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo-edge: {error}");
            ExitCode::FAILURE
        }
    }
}
