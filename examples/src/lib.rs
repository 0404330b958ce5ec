//! # examples
//!
//! Runnable Baton services. The binaries under `src/bin` are thin `main`s; the logic
//! lives here so integration tests can run it in-process on loopback.
//!
//! - [`demo`]: the demo chain (`cargo run -p examples --bin demo`): an axum edge, the tonic
//!   services `documents` and `audit` (schema in `proto/baton/demo/v1/`), every gRPC hop
//!   over mutual TLS, with the trust pattern of your choice.
//! - [`edge`]: an edge service that verifies bearer JWTs from any OpenID Connect
//!   provider and answers `GET /whoami` with the verified Principal
//!   (`cargo run -p examples --bin edge -- --issuer <url> --audience <aud>`).
//! - `dev-idp` (binary only): tower-auth's development identity provider as a process
//!   of its own, so the edge can be tried on one machine.
#![deny(missing_docs)]

pub mod demo;
pub mod edge;

/// Every ```rust block of the README, compiled (and run unless marked otherwise) as a
/// doc test of this crate, so the README's snippets cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// Installs a `tracing` subscriber that writes JSON lines to stderr through a
/// non-blocking writer, filtered by `RUST_LOG` (default `info`), and returns the guard
/// that keeps the writer running. Stdout stays free for the one line a binary prints
/// when it serves.
///
/// Every event, the audit event of each request included (target `baton::audit`), is
/// one JSON object per line, fields at the top level:
///
/// ```text
/// {"timestamp":"…","level":"INFO","message":"request authenticated","request_id":"r-1","principal_id":"hm-…","kind":"human","delegation":"","pattern":"jwt_passthrough","outcome":"accepted","reason":"verified","target":"baton::audit"}
/// ```
///
/// The request only formats its line and queues it; a background thread writes to
/// stderr in batches (see [`LOG_LINGER`]), so a slow or contended stderr never holds up a
/// request, and a busy edge pays one write and one thread wake-up per batch, not per line. The queue is not
/// lossy: if stderr falls more than 128 000 lines behind, logging waits rather than drop
/// an audit line. Hold the guard for the life of the process (bind it in `main`): when it
/// drops, queued lines are flushed and the writer stops.
///
/// Does nothing (and the guard holds nothing) if a global subscriber is already set.
///
/// ```
/// let _guard = examples::init_tracing();
/// tracing::info!(target: "baton::audit", outcome = "accepted", "request authenticated");
/// // A second call keeps the first subscriber instead of failing.
/// let _second = examples::init_tracing();
/// ```
pub fn init_tracing() -> TracingGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, worker) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(Batched::new(std::io::stderr()));
    let installed = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .try_init();
    TracingGuard {
        worker: installed.is_ok().then_some(worker),
    }
}

/// Keeps the log writer of [`init_tracing`] running; dropping it flushes the queued lines
/// and stops the writer thread.
#[must_use = "the log writer stops when the guard drops: bind it in main (`let _guard = …`)"]
pub struct TracingGuard {
    worker: Option<tracing_appender::non_blocking::WorkerGuard>,
}

impl std::fmt::Debug for TracingGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracingGuard")
            .field("writing", &self.worker.is_some())
            .finish()
    }
}

/// How long the log writer waits after writing a batch before it takes the next: the
/// lines logged meanwhile queue up and go out together. Waking the writer thread for
/// every line costs a request more than formatting it; with this pause a line reaches
/// stderr at most about a millisecond later than it would otherwise.
pub const LOG_LINGER: std::time::Duration = std::time::Duration::from_millis(1);

/// The log writer's sink: a buffer in front of `W` that `tracing-appender`'s worker fills
/// with every queued line and flushes when the queue is empty; after each flush it pauses
/// for [`LOG_LINGER`] so the next batch can gather without waking the thread per line.
struct Batched<W: std::io::Write> {
    inner: std::io::BufWriter<W>,
}

impl<W: std::io::Write> Batched<W> {
    fn new(inner: W) -> Self {
        Batched {
            inner: std::io::BufWriter::with_capacity(64 * 1024, inner),
        }
    }
}

impl<W: std::io::Write> std::io::Write for Batched<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()?;
        // Runs on the writer thread only (the worker flushes after draining the queue).
        std::thread::sleep(LOG_LINGER);
        Ok(())
    }
}
