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
//! cargo run -p examples --bin demo -- --serve --pattern passthrough --dev-pki demo-pki
//! ```
//!
//! Exits 0 when every hop saw what it must, 1 otherwise. Logs (JSON lines on stderr) only
//! with `RUST_LOG` set, e.g. `RUST_LOG=info` for every hop's audit event.
//!
//! With `--serve` it runs the checks, then keeps the chain up on fixed loopback ports
//! (`--idp`, `--edge`, `--documents`, `--audit` change them) until Ctrl-C, and writes the
//! development CA and a client certificate into `--dev-pki`, so grpcurl or any gRPC client
//! can call `documents` (see the README).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use examples::demo::DemoPattern;
use examples::demo::chain::{Chain, ChainAddrs, Persona, check, describe};

/// Runs the demo chain on loopback and prints what every hop saw.
#[derive(Debug, Parser)]
#[command(name = "demo", version)]
struct Cli {
    /// The trust pattern of every hop.
    #[arg(long, value_enum, default_value_t = DemoPattern::SignedPassport)]
    pattern: DemoPattern,
    /// Run every pattern in turn (overrides --pattern).
    #[arg(long, conflicts_with = "serve")]
    all: bool,
    /// After the checks, keep the chain running until Ctrl-C.
    #[arg(long)]
    serve: bool,
    /// With --serve: write the development CA and a client certificate
    /// (spiffe://demo.test/grpcurl) into this directory (default demo-pki). Without
    /// --serve: write a development set of keys and certificates for running each service
    /// as its own process (demo-edge, demo-documents, demo-audit), print their command
    /// lines, and exit.
    #[arg(long, value_name = "DIR")]
    dev_pki: Option<PathBuf>,
    /// With --serve: the identity provider's address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000")]
    idp: SocketAddr,
    /// With --serve: the edge's address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    edge: SocketAddr,
    /// With --serve: the `documents` service's address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
    documents: SocketAddr,
    /// With --serve: the `audit` service's address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50052")]
    audit: SocketAddr,
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
    if let (Some(dir), false) = (&cli.dev_pki, cli.serve) {
        return match write_processes(dir, cli.pattern) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                println!("FAILED: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let addrs = if cli.serve {
        ChainAddrs {
            idp: cli.idp,
            edge: cli.edge,
            documents: cli.documents,
            audit: cli.audit,
        }
    } else {
        ChainAddrs::default()
    };
    for pattern in patterns {
        let chain = match Chain::start_on(pattern, addrs).await {
            Ok(chain) => chain,
            Err(error) => {
                println!("FAILED ({pattern}): the chain did not start: {error}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(error) = run(&chain).await {
            println!("FAILED ({pattern}): {error}");
            return ExitCode::FAILURE;
        }
        if cli.serve {
            return match serve(&chain, &cli).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    println!("FAILED: {error}");
                    ExitCode::FAILURE
                }
            };
        }
    }
    ExitCode::SUCCESS
}

/// Keeps `chain` up until Ctrl-C, with the PKI a client needs written to `--dev-pki`.
async fn serve(chain: &Chain, cli: &Cli) -> Result<(), String> {
    let dir = cli
        .dev_pki
        .clone()
        .unwrap_or_else(|| PathBuf::from("demo-pki"));
    let client = chain
        .pki()
        .workload(
            &"spiffe://demo.test/grpcurl"
                .parse()
                .map_err(|e| format!("{e}"))?,
            false,
        )
        .map_err(|e| e.to_string())?;
    chain.pki().write_to(&dir).map_err(|e| e.to_string())?;
    client
        .write_to(&dir, "grpcurl")
        .map_err(|e| e.to_string())?;
    let d = dir.display();
    println!(
        "demo: serving ({}), Ctrl-C stops\n  \
         dev IdP    {} (POST /token)\n  \
         edge       {} (GET /documents, GET /documents/{{id}})\n  \
         documents  {} (gRPC over mTLS, reflection)\n  \
         audit      {} (gRPC over mTLS, reflection)\n  \
         PKI        {d}/ca.pem, client {d}/grpcurl.pem {d}/grpcurl-key.pem (spiffe://demo.test/grpcurl)",
        chain.pattern(),
        chain.idp().issuer(),
        chain.edge_url(),
        chain.documents_addr(),
        chain.audit_addr(),
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))
}

/// Writes the keys and certificates of the three processes into `dir` and prints how to
/// run them, with the dev IdP.
fn write_processes(dir: &std::path::Path, pattern: DemoPattern) -> Result<(), String> {
    examples::demo::process::write_dev_set(dir).map_err(|e| e.to_string())?;
    let d = dir.display();
    let tls =
        |name: &str| format!("--ca {d}/ca.pem --cert {d}/{name}.pem --key {d}/{name}-key.pem");
    let keys = |name: &str| {
        format!("--mint-key {d}/{name}-mint-key.pem --passport-key {d}/{name}-passport-key.pem")
    };
    let idp = if pattern == DemoPattern::Passthrough {
        " --idp-issuer http://127.0.0.1:9000"
    } else {
        ""
    };
    let run = "cargo run -p examples --bin";
    println!(
        "demo: keys and certificates for {pattern} written to {d}; run, each in its own terminal:"
    );
    println!("  {run} dev-idp -- --listen 127.0.0.1:9000");
    println!(
        "  {run} demo-audit -- --pattern {pattern} {} --caller {d}/documents-trust.json{idp}",
        tls("audit")
    );
    println!(
        "  {run} demo-documents -- --pattern {pattern} {} {} --caller {d}/edge-trust.json{idp}",
        tls("documents"),
        keys("documents")
    );
    println!(
        "  {run} demo-edge -- --pattern {pattern} {} {} --idp-issuer http://127.0.0.1:9000",
        tls("edge"),
        keys("edge")
    );
    println!(
        "then call the edge: GET http://127.0.0.1:8080/documents with a token of the dev IdP (aud \"demo\")"
    );
    println!(
        "or give a service --config FILE instead of --caller/--idp-issuer (examples/config/; for its key files: {d}/edge-mint-key.der, {d}/edge-jwks.json)"
    );
    Ok(())
}

async fn run(chain: &Chain) -> Result<(), String> {
    let pattern = chain.pattern();
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
