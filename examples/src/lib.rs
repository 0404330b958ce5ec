//! # examples
//!
//! Runnable Baton services. The binaries under `src/bin` are thin `main`s; the logic
//! lives here so integration tests can run it in-process on loopback.
//!
//! - [`edge`]: an edge service that verifies bearer JWTs from any OpenID Connect
//!   provider and answers `GET /whoami` with the verified Principal
//!   (`cargo run -p examples --bin edge -- --issuer <url> --audience <aud>`).
//! - `dev-idp` (binary only): tower-auth's development identity provider as a process
//!   of its own, so the edge can be tried on one machine.
#![deny(missing_docs)]

pub mod edge;

/// Installs a `tracing` subscriber that writes to stderr, filtered by `RUST_LOG`
/// (default `info`). Stdout stays free for the one line a binary prints when it serves.
///
/// Does nothing if a global subscriber is already set.
///
/// ```
/// examples::init_tracing();
/// // A second call keeps the first subscriber instead of failing.
/// examples::init_tracing();
/// ```
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
