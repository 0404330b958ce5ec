//! The demo's `documents` as a process of its own (see `examples::demo::process` for the
//! flags; `cargo run -p examples --bin demo -- --dev-pki DIR` writes the keys and
//! certificates and prints a full command line).

use std::process::ExitCode;

use clap::Parser;
use examples::demo::process::{DocumentsArgs, run_documents, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    let args = DocumentsArgs::parse();
    // Held to the end of main: dropping it flushes the queued log lines.
    let _tracing = examples::init_tracing();
    let settings = match &args.config {
        Some(path) => format!("config {}", path.display()),
        None => format!("pattern {}", args.pattern),
    };
    let ready = |addr| println!("demo-documents: serving on {addr} ({settings})");
    match run_documents(&args, ready, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo-documents: {error}");
            ExitCode::FAILURE
        }
    }
}
