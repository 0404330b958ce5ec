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
//! - [`init_tracing`], [`json_lines`]: the binaries' logs and audit events, one JSON
//!   object per line (the format: [`json_lines::JsonLines`]) through a non-blocking writer
//!   ([`log_writer`]).
#![deny(missing_docs)]

pub mod demo;
pub mod edge;
pub mod json_lines;

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
/// Every event, the audit event of each request included (target `baton::audit`, fields
/// in `tower_auth::authenticate::audit`), is one JSON object per line, fields at the top
/// level:
///
/// ```text
/// {"timestamp":"…","level":"INFO","message":"request authenticated","request_id":"r-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","principal_id":"hm-…","kind":"human","subject":"alice","acting":"hm-…","delegation":"","caller":"-","pattern":"jwt_passthrough","outcome":"accepted","reason":"verified","target":"baton::audit"}
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
    // The audit lines are written by the same subscriber; the metrics recorder goes in
    // with it, so the first request (and the first key fetch) is counted.
    init_metrics();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, worker) = log_writer(std::io::stderr());
    let installed = tracing::subscriber::set_global_default(json_lines(filter, writer));
    TracingGuard {
        worker: installed.is_ok().then_some(worker),
    }
}

/// The subscriber of [`init_tracing`]: one JSON object per event and line, its fields at
/// the top level, no span data (the format, its escaping and its key rules:
/// [`json_lines::JsonLines`]), filtered by `filter`, written to `writer`. For tests and
/// tools that want the binaries' exact log lines somewhere else.
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// let lines = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&lines);
/// let subscriber = examples::json_lines(
///     tracing_subscriber::EnvFilter::new("baton::audit=info"),
///     move || examples::SharedLines(Arc::clone(&sink)),
/// );
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(target: "baton::audit", outcome = "accepted", "request authenticated");
///     tracing::info!(target: "elsewhere", "filtered out");
/// });
/// let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
/// let event: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
/// assert_eq!(event["outcome"], "accepted");
/// assert_eq!(event["target"], "baton::audit");
/// ```
pub fn json_lines<W>(
    filter: tracing_subscriber::EnvFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;

    tracing_subscriber::registry()
        .with(filter)
        .with(json_lines::JsonLines::new(writer))
}

/// The non-blocking writer of [`init_tracing`] in front of `inner` (there, stderr): a
/// request only queues its line; the thread `log-writer` writes the queue to `inner` in
/// batches (see [`LOG_LINGER`]). Not lossy: a queue 128 000 lines behind makes logging
/// wait rather than drop a line. Dropping the guard flushes the queue and stops the thread.
///
/// ```
/// let (writer, _guard) = examples::log_writer(std::io::sink());
/// let subscriber =
///     examples::json_lines(tracing_subscriber::EnvFilter::new("baton::audit=info"), writer);
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(target: "baton::audit", outcome = "accepted", "request authenticated");
/// });
/// ```
pub fn log_writer<W>(
    inner: W,
) -> (
    tracing_appender::non_blocking::NonBlocking,
    tracing_appender::non_blocking::WorkerGuard,
)
where
    W: std::io::Write + Send + 'static,
{
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(Batched::new(inner))
}

/// A writer that appends to a shared buffer: [`json_lines`] into memory, for tests.
#[derive(Clone, Debug, Default)]
pub struct SharedLines(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedLines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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

/// The process's metrics recorder ([`metrics_exporter_prometheus`], installed as the
/// global `metrics` recorder on the first call) and the handle that renders it. Every
/// metric tower-auth records (`tower_auth::metrics` lists them) lands there.
///
/// A background thread runs the recorder's upkeep every [`METRICS_UPKEEP`], so
/// histogram samples stay bounded between scrapes. If another global recorder was set
/// first, the handle renders an empty page and a warning is logged.
///
/// ```
/// let handle = examples::init_metrics();
/// // The same recorder on every call.
/// let again = examples::init_metrics();
/// assert_eq!(handle.render(), again.render());
/// ```
pub fn init_metrics() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = metrics_exporter_prometheus::PrometheusBuilder::new();
            let handle = builder.install_recorder().unwrap_or_else(|error| {
                tracing::warn!(%error, "metrics: another recorder is installed; /metrics stays empty");
                metrics_exporter_prometheus::PrometheusBuilder::new()
                    .build_recorder()
                    .handle()
            });
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(METRICS_UPKEEP);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(error) = spawned {
                tracing::warn!(%error, "metrics: no upkeep thread; upkeep runs at each scrape only");
            }
            handle
        })
        .clone()
}

/// How often [`init_metrics`]'s thread runs the recorder's upkeep.
pub const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// `GET /metrics`: the Prometheus text exposition (`text/plain; version=0.0.4`) of
/// [`init_metrics`]'s recorder. Merge it into a service's router.
///
/// It needs no credentials, as scrapers expect: in production serve it where only the
/// monitoring system reaches (an internal listener or a network policy). It shows
/// counts, reasons, issuers and timings, never an id, a token or a secret.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use tower::ServiceExt;
///
/// let router = examples::metrics_router();
/// let request = http::Request::get("/metrics").body(axum::body::Body::empty()).unwrap();
/// let response = router.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4");
/// # });
/// ```
pub fn metrics_router() -> axum::Router {
    let handle = init_metrics();
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                handle.run_upkeep();
                (
                    [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    )
}
