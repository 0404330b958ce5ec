//! A small HTTP/1.1 load generator for `benches/load.sh`, loopback only.
//!
//! ```text
//! loadgen mint --token-url http://127.0.0.1:9000/token --audience api --count 20000 --out tokens.txt
//! loadgen run  --label "whoami, unique, cache on" --url http://127.0.0.1:8080/whoami \
//!              --tokens tokens.txt --unique --connections 32 --duration 10
//! ```
//!
//! `mint` asks a development IdP's `POST /token` for tokens, one per line. `run` keeps
//! `--connections` persistent connections busy with `GET` requests (each with the next
//! token as `Authorization: Bearer`, or none) until `--duration` seconds pass or
//! `--max-requests` requests were sent, whichever comes first; with `--unique` each
//! token is sent once, so the run also ends when the tokens run out. It prints one table
//! row: label, requests, requests per second, p50 and p99 latency, errors. Any response
//! with another status than `--expect-status`, or any transport failure, is an error, and
//! errors make the exit status non-zero: a fast run of refusals is not a result.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Longest a single request may take before the run counts it as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a whole `mint` may take.
const MINT_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    about = "HTTP/1.1 load generator for benches/load.sh (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Mint tokens through a development IdP's `POST /token`, one per output line.
    Mint(MintArgs),
    /// Send requests and print one row: requests/s, p50 and p99 latency.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct MintArgs {
    /// The token endpoint (loopback).
    #[arg(long, value_name = "URL")]
    token_url: String,
    /// The `aud` of every token.
    #[arg(long, value_name = "AUD")]
    audience: String,
    /// How many tokens.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    count: u64,
    /// Signing algorithm: RS256, ES256 or EdDSA.
    #[arg(long, default_value = "ES256")]
    alg: String,
    /// Token lifetime in seconds.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(60..=86_400))]
    ttl_seconds: u64,
    /// Extra JSON members for every token's claims, as a JSON object (e.g. `{"typ":"x"}`).
    #[arg(long, value_name = "JSON")]
    extra: Option<String>,
    /// Concurrent connections to the IdP.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    connections: u64,
    /// Output file.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The row's label.
    #[arg(long)]
    label: String,
    /// The URL to GET (loopback).
    #[arg(long, value_name = "URL")]
    url: String,
    /// Tokens, one per line (from `mint`); without it requests carry no token.
    #[arg(long, value_name = "PATH")]
    tokens: Option<PathBuf>,
    /// Send each token once (the run ends when they run out).
    #[arg(long, requires = "tokens")]
    unique: bool,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    connections: u64,
    /// Upper bound on the run's length, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    duration: u64,
    /// Upper bound on the requests sent.
    #[arg(long, default_value_t = 5_000_000, value_parser = clap::value_parser!(u64).range(1..=50_000_000))]
    max_requests: u64,
    /// The status every response must have.
    #[arg(long, default_value_t = 200)]
    expect_status: u16,
    /// Worker threads of the load generator (the server needs the other cores).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    threads: u64,
}

/// Where to connect and what to put in `Host` and the request line.
#[derive(Clone, Debug)]
struct Target {
    host: String,
    port: u16,
    authority: HeaderValue,
    path: Uri,
}

impl Target {
    fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url.parse().map_err(|e| format!("{url}: not a URL ({e})"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("{url}: only http:// URLs (loopback) are supported"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{url}: no host"))?
            .clone();
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let loopback = match host.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => host.eq_ignore_ascii_case("localhost"),
        };
        if !loopback {
            return Err(format!(
                "{url}: the load generator only targets loopback hosts"
            ));
        }
        let path = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse::<Uri>()
            .map_err(|e| format!("{url}: bad path ({e})"))?;
        Ok(Target {
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(80),
            authority: HeaderValue::from_str(authority.as_str())
                .map_err(|e| format!("{url}: bad authority ({e})"))?,
            path,
        })
    }

    async fn connect<B>(&self) -> Result<SendRequest<B>, String>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("connect {}:{}: {e}", self.host, self.port))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            // The connection ends when the sender is dropped; its error is the request's.
            let _ = connection.await;
        });
        Ok(sender)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = match &cli.command {
        Command::Run(args) => args.threads,
        Command::Mint(_) => 2,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(usize::try_from(threads).unwrap_or(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("loadgen: cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Mint(args) => mint(args).await,
            Command::Run(args) => run(args).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn mint(args: MintArgs) -> Result<(), String> {
    let target = Target::parse(&args.token_url)?;
    let extra: serde_json::Map<String, serde_json::Value> = match &args.extra {
        Some(json) => serde_json::from_str(json).map_err(|e| format!("--extra: {e}"))?,
        None => serde_json::Map::new(),
    };
    let next = Arc::new(AtomicU64::new(0));
    let shared = Arc::new((target, args.audience.clone(), args.alg.clone(), extra));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.connections {
        let next = Arc::clone(&next);
        let shared = Arc::clone(&shared);
        let (count, ttl) = (args.count, args.ttl_seconds);
        workers.spawn(async move {
            let (target, audience, alg, extra) = &*shared;
            let mut sender = target.connect::<Full<Bytes>>().await?;
            let mut minted = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return Ok::<_, String>(minted);
                }
                let mut claims = extra.clone();
                claims.insert("sub".into(), format!("load-{index}").into());
                claims.insert("aud".into(), audience.clone().into());
                claims.insert("alg".into(), alg.clone().into());
                claims.insert("ttl_seconds".into(), ttl.into());
                claims.insert("scope".into(), "orders:read profile".into());
                let body = serde_json::to_vec(&claims).map_err(|e| e.to_string())?;
                let request = Request::builder()
                    .method(Method::POST)
                    .uri(target.path.clone())
                    .header(HOST, target.authority.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .map_err(|e| e.to_string())?;
                sender.ready().await.map_err(|e| format!("mint: {e}"))?;
                let response = sender
                    .send_request(request)
                    .await
                    .map_err(|e| format!("mint: {e}"))?;
                let status = response.status();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| format!("mint: {e}"))?
                    .to_bytes();
                if status != StatusCode::OK {
                    return Err(format!(
                        "mint: the IdP answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
                let answer: serde_json::Value =
                    serde_json::from_slice(&body).map_err(|e| format!("mint: {e}"))?;
                let token = answer
                    .get("access_token")
                    .and_then(serde_json::Value::as_str)
                    .ok_or("mint: no access_token in the answer")?;
                minted.push((index, token.to_owned()));
            }
        });
    }
    let collected = tokio::time::timeout(MINT_TIMEOUT, async {
        let mut all = Vec::new();
        while let Some(joined) = workers.join_next().await {
            all.extend(joined.map_err(|e| format!("mint worker: {e}"))??);
        }
        Ok::<_, String>(all)
    })
    .await
    .map_err(|_| format!("mint: not done after {MINT_TIMEOUT:?}"))??;
    let mut tokens = collected;
    tokens.sort_unstable_by_key(|(index, _)| *index);
    let mut text = String::with_capacity(tokens.len() * 600);
    for (_, token) in &tokens {
        text.push_str(token);
        text.push('\n');
    }
    std::fs::write(&args.out, text).map_err(|e| format!("{}: {e}", args.out.display()))?;
    eprintln!(
        "loadgen: minted {} tokens into {}",
        tokens.len(),
        args.out.display()
    );
    Ok(())
}

/// What one connection measured.
#[derive(Default)]
struct WorkerReport {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

async fn run(args: RunArgs) -> Result<(), String> {
    let target = Arc::new(Target::parse(&args.url)?);
    let bearer: Arc<Vec<HeaderValue>> = Arc::new(match &args.tokens {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            text.lines()
                .filter(|line| !line.is_empty())
                .map(|token| HeaderValue::from_str(&format!("Bearer {token}")))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: not a token ({e})", path.display()))?
        }
        None => Vec::new(),
    });
    if args.tokens.is_some() && bearer.is_empty() {
        return Err("the token file is empty".to_owned());
    }
    let limit = if args.unique {
        args.max_requests.min(bearer.len() as u64)
    } else {
        args.max_requests
    };
    let expect =
        StatusCode::from_u16(args.expect_status).map_err(|e| format!("--expect-status: {e}"))?;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.connections {
        let (target, bearer, next) = (Arc::clone(&target), Arc::clone(&bearer), Arc::clone(&next));
        workers.spawn(async move {
            let mut report = WorkerReport::default();
            let fail = |report: &mut WorkerReport, error: String| {
                report.errors += 1;
                report.first_error.get_or_insert(error);
            };
            let mut sender = match target.connect::<Empty<Bytes>>().await {
                Ok(sender) => sender,
                Err(error) => {
                    fail(&mut report, error);
                    return report;
                }
            };
            loop {
                if Instant::now() >= deadline {
                    return report;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= limit {
                    return report;
                }
                let mut request = Request::builder()
                    .uri(target.path.clone())
                    .header(HOST, target.authority.clone());
                if !bearer.is_empty() {
                    let slot = usize::try_from(index % bearer.len() as u64).unwrap_or(0);
                    if let Some(value) = bearer.get(slot) {
                        request = request.header(AUTHORIZATION, value.clone());
                    }
                }
                let request = match request.body(Empty::<Bytes>::new()) {
                    Ok(request) => request,
                    Err(error) => {
                        fail(&mut report, error.to_string());
                        return report;
                    }
                };
                let sent = Instant::now();
                let exchange = async {
                    sender.ready().await.map_err(|e| e.to_string())?;
                    let response = sender
                        .send_request(request)
                        .await
                        .map_err(|e| e.to_string())?;
                    let status = response.status();
                    response
                        .into_body()
                        .collect()
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok::<_, String>(status)
                };
                match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
                    Ok(Ok(status)) if status == expect => {
                        let micros = sent.elapsed().as_micros();
                        report
                            .latencies_us
                            .push(u32::try_from(micros).unwrap_or(u32::MAX));
                    }
                    Ok(Ok(status)) => {
                        fail(&mut report, format!("status {status}, expected {expect}"))
                    }
                    Ok(Err(error)) => {
                        // The connection is gone: stop this worker, keep the others.
                        fail(&mut report, error);
                        return report;
                    }
                    Err(_) => {
                        fail(&mut report, format!("no answer within {REQUEST_TIMEOUT:?}"));
                        return report;
                    }
                }
            }
        });
    }
    let mut latencies = Vec::new();
    let mut errors = 0u64;
    let mut first_error = None;
    while let Some(joined) = workers.join_next().await {
        let report = joined.map_err(|e| format!("worker: {e}"))?;
        latencies.extend(report.latencies_us);
        errors += report.errors;
        if first_error.is_none() {
            first_error = report.first_error;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let completed = latencies.len();
    let rps = if elapsed > 0.0 {
        completed as f64 / elapsed
    } else {
        0.0
    };
    println!(
        "{:<36} {:>10} {:>12.0} {:>10.3} {:>10.3} {:>8}",
        args.label,
        completed,
        rps,
        percentile_ms(&latencies, 50),
        percentile_ms(&latencies, 99),
        errors
    );
    match first_error {
        Some(error) => Err(format!(
            "{}: {errors} errors, the first: {error}",
            args.label
        )),
        None => Ok(()),
    }
}

/// The `p`th percentile (nearest rank) of sorted microsecond latencies, in milliseconds.
fn percentile_ms(sorted_us: &[u32], p: usize) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (sorted_us.len() * p).div_ceil(100).max(1);
    let index = rank.min(sorted_us.len()) - 1;
    sorted_us
        .get(index)
        .map_or(0.0, |&us| f64::from(us) / 1000.0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let data: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&data, 50), 50.0);
        assert_eq!(percentile_ms(&data, 99), 99.0);
        assert_eq!(percentile_ms(&[7000], 99), 7.0);
        assert_eq!(percentile_ms(&[], 50), 0.0);
    }

    #[test]
    fn only_loopback_targets() {
        let target = Target::parse("http://127.0.0.1:8080/whoami?x=1").unwrap();
        assert_eq!(
            (target.port, target.path.to_string().as_str()),
            (8080, "/whoami?x=1")
        );
        assert!(Target::parse("http://[::1]:9/").is_ok());
        assert!(Target::parse("http://localhost:9/").is_ok());
        for refused in [
            "http://10.0.0.1:8080/",
            "http://example.com/",
            "https://127.0.0.1/",
            "not a url",
        ] {
            assert!(Target::parse(refused).is_err(), "{refused}");
        }
    }
}
