//! The demo chain: an embedded development identity provider, an axum edge, and the
//! tonic services `documents` and `audit`, all on loopback in this process, every gRPC
//! hop over mutual TLS. It sends a human's request and an agent's request on the human's
//! behalf (and a service's) through every hop, unary and server streaming, and prints
//! what each hop saw.
//!
//! ```text
//! cargo run -p examples --bin demo                          # signed passports
//! cargo run -p examples --bin demo -- --pattern passthrough # or internal-jwt, unsigned-passport
//! cargo run -p examples --bin demo -- --all                 # each pattern in turn
//! ```
//!
//! Exits 0 when every hop saw what it must, 1 otherwise. Logs (JSON lines on stderr) only
//! with `RUST_LOG` set, e.g. `RUST_LOG=info` for every hop's audit event.

use std::process::ExitCode;

use clap::Parser;
use examples::demo::DemoPattern;
use examples::demo::chain::{Chain, Persona, check, describe};

/// Runs the demo chain on loopback and prints what every hop saw.
#[derive(Debug, Parser)]
#[command(name = "demo", version)]
struct Cli {
    /// The trust pattern of every hop.
    #[arg(long, value_enum, default_value_t = DemoPattern::SignedPassport)]
    pattern: DemoPattern,
    /// Run every pattern in turn (overrides --pattern).
    #[arg(long)]
    all: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _tracing = std::env::var_os("RUST_LOG").map(|_| examples::init_tracing());
    let patterns = if cli.all {
        DemoPattern::ALL.to_vec()
    } else {
        vec![cli.pattern]
    };
    for pattern in patterns {
        if let Err(error) = run(pattern).await {
            println!("FAILED ({pattern}): {error}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

async fn run(pattern: DemoPattern) -> Result<(), String> {
    let chain = Chain::start(pattern)
        .await
        .map_err(|e| format!("the chain did not start: {e}"))?;
    println!(
        "== {pattern}: {}\n   edge --HTTP--> documents --gRPC/mTLS--> audit; SPIFFE IDs spiffe://demo.test/{{edge,documents,audit}}",
        pattern.summary()
    );
    for persona in Persona::ALL {
        let token = chain.token(persona).await?;
        let got = chain.get("/documents/d-1", &token).await?;
        check(&got, pattern, persona)?;
        let title = got.items.first().map_or("", |item| item.title.as_str());
        println!("-- {}: GET /documents/d-1 -> {title:?}", persona.label());
        for hop in got.items.iter().flat_map(|item| &item.hops) {
            println!("   {}", describe(hop));
        }
        let listed = chain.get("/documents", &token).await?;
        check(&listed, pattern, persona)?;
        println!(
            "   GET /documents (server streaming): {} documents, each audited; every hop saw the same",
            listed.items.len()
        );
    }
    Ok(())
}
