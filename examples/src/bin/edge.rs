//! The `edge` example: verifies bearer JWTs from any OpenID Connect provider, given only
//! its issuer URL, and answers `GET /whoami` with the verified Principal.
//!
//! ```text
//! cargo run -p examples --bin edge -- --issuer <url> --audience <aud> --listen 127.0.0.1:8080
//! ```
//!
//! See `examples::edge` for the flags, the routes and the `--jwks-url` pairing rule.

use std::process::ExitCode;

use examples::edge::{Edge, EdgeArgs};

#[tokio::main]
async fn main() -> ExitCode {
    // A bad command line prints clap's message with the usage and exits with status 2.
    let args = EdgeArgs::try_parse_from(std::env::args_os()).unwrap_or_else(|error| error.exit());
    // Held to the end of main: dropping it flushes the queued log lines.
    let _tracing = examples::init_tracing();
    let edge = match Edge::start(&args).await {
        Ok(edge) => edge,
        Err(error) => {
            eprintln!("edge: {error}");
            return ExitCode::FAILURE;
        }
    };
    // The one line: scripts (benches/load.sh) read the address from it.
    println!("{}", edge.banner());
    match edge.serve(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("edge: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM. If a signal cannot be watched, only the
/// other one stops the server.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot watch Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("edge: shutting down");
}
