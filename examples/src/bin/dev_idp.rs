//! tower-auth's development identity provider as a process of its own, so the `edge`
//! example can be tried on one machine.
//!
//! ```text
//! cargo run -p examples --bin dev-idp -- --listen 127.0.0.1:9000
//! ```
//!
//! It serves OpenID Connect Discovery, a JWKS and `POST /token` on loopback, and prints
//! its issuer URL, a `curl` that gets a token, and the matching `edge` command. Never for
//! production: it hands out tokens to anyone who asks.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tower_auth::dev_idp::DevIdp;

/// Runs the development identity provider on loopback (never for production).
#[derive(Debug, Parser)]
#[command(name = "dev-idp", version)]
struct Cli {
    /// Loopback address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> ExitCode {
    // Held to the end of main: dropping it flushes the queued log lines.
    let _tracing = examples::init_tracing();
    let cli = Cli::parse();
    let idp = match DevIdp::start(cli.listen).await {
        Ok(idp) => idp,
        Err(error) => {
            eprintln!("dev-idp: could not start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let issuer = idp.issuer();
    // The first line is the one scripts read (benches/load.sh).
    println!("dev-idp: issuer {issuer}");
    println!("dev-idp: get a token with");
    println!(
        "  curl -s -X POST {issuer}/token -H 'content-type: application/json' \
         -d '{{\"sub\": \"alice\", \"aud\": \"api\", \"scope\": \"orders:read\", \"alg\": \"ES256\"}}'"
    );
    println!("dev-idp: and run the edge with");
    println!(
        "  cargo run -p examples --bin edge -- --issuer {issuer} --audience api --listen 127.0.0.1:8080"
    );
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("dev-idp: cannot wait for Ctrl-C: {error}");
        return ExitCode::FAILURE;
    }
    drop(idp);
    ExitCode::SUCCESS
}
