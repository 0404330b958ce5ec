//! A JWKS server on loopback that holds each answer until the test opens its gate: a
//! fetch can be kept in flight for exactly as long as a test needs, with no sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::{mpsc, watch};
use tower_auth::dev_idp::DevIdp;

/// Serves `/jwks.json` with the development IdP's current key set, each answer held until
/// the gate is open. Every request that arrives is announced on [`GatedJwks::arrived`].
pub struct GatedJwks {
    url: String,
    gate: watch::Sender<bool>,
    arrivals: mpsc::UnboundedReceiver<()>,
    requests: Arc<AtomicU64>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Shared {
    idp: Arc<DevIdp>,
    gate: watch::Receiver<bool>,
    arrivals: mpsc::UnboundedSender<()>,
    requests: Arc<AtomicU64>,
}

async fn jwks(State(shared): State<Shared>) -> impl IntoResponse {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let _ = shared.arrivals.send(());
    let mut gate = shared.gate.clone();
    let _ = gate.wait_for(|open| *open).await;
    (
        [(CONTENT_TYPE, "application/json")],
        shared.idp.jwks().to_string(),
    )
}

impl GatedJwks {
    /// Starts the server with its gate open.
    pub async fn start(idp: Arc<DevIdp>) -> GatedJwks {
        let (gate, gate_rx) = watch::channel(true);
        let (arrivals_tx, arrivals) = mpsc::unbounded_channel();
        let requests = Arc::new(AtomicU64::new(0));
        let shared = Shared {
            idp,
            gate: gate_rx,
            arrivals: arrivals_tx,
            requests: Arc::clone(&requests),
        };
        let app = Router::new()
            .route("/jwks.json", get(jwks))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        GatedJwks {
            url: format!("http://{addr}/jwks.json"),
            gate,
            arrivals,
            requests,
            server,
        }
    }

    /// The JWKS URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Holds every answer from now on.
    pub fn close(&self) {
        self.gate.send_replace(false);
    }

    /// Lets every held and future answer go.
    pub fn open(&self) {
        self.gate.send_replace(true);
    }

    /// Waits until the next request has reached the server (bounded only so a broken
    /// build fails instead of hanging).
    pub async fn arrived(&mut self) {
        tokio::time::timeout(std::time::Duration::from_secs(30), self.arrivals.recv())
            .await
            .expect("a request reached the JWKS server")
            .expect("server alive");
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for GatedJwks {
    fn drop(&mut self) {
        self.server.abort();
    }
}
