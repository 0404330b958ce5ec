//! A chain of real HTTP services on loopback for the propagation tests: each hop is an
//! axum server on `127.0.0.1:0` behind its `AuthenticateLayer`, whose handler calls an
//! outsider and then the next hop through a hyper-util client wrapped in a
//! `PropagateLayer`, passing nothing by hand. Every server records the headers it
//! received on the wire.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing;
use axum::{Extension, Json, Router};
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::context;
use tower_auth::extract::Authenticated;
use tower_auth::peer::PeerIdentity;
use tower_auth::propagate::{PropagateLayer, PropagateService};

/// The path every hop and the outsider answer on.
pub const PATH: &str = "/whoami";

/// The identity headers a handler copies onto its call to the outsider when it has them.
pub const IDENTITY_HEADERS: [&str; 3] =
    ["authorization", "x-principal-bin", "x-baton-internal-token"];

/// The reference HTTP client (hyper-util's legacy client, HTTP/1).
pub type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// What handlers call other services with: the client behind the propagate layer.
pub type Propagating = PropagateService<HttpClient>;

pub fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A loopback listener bound before its service is built, so that every address (an
/// issuer URL, a route's destination) is known up front.
pub struct Bound {
    /// Taken by [`serve`].
    listener: Option<TcpListener>,
    pub addr: SocketAddr,
}

impl Bound {
    pub async fn new() -> Bound {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        Bound {
            listener: Some(listener),
            addr,
        }
    }

    /// `127.0.0.1:port`: the destination a propagate route names.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:port`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The hop's endpoint.
    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }
}

/// The headers a server received on the wire, one entry per request to [`PATH`], in
/// arrival order (taken before any layer of the server ran).
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<HeaderMap>>>);

impl Recorder {
    /// Everything recorded so far; the recorder starts empty again.
    pub fn take(&self) -> Vec<HeaderMap> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The only request recorded since the last `take`.
    pub fn take_one(&self) -> HeaderMap {
        let mut taken = self.take();
        assert_eq!(taken.len(), 1, "exactly one request expected");
        taken.remove(0)
    }
}

/// The raw headers as they arrived, for the handler (the authenticate layer removes the
/// internal identity headers before the handler runs; a careless handler might still
/// have kept them from an outer middleware and try to forward them).
#[derive(Clone)]
struct Raw(HeaderMap);

async fn record(State(recorder): State<Recorder>, mut request: Request, next: Next) -> Response {
    if request.uri().path() == PATH {
        let headers = request.headers().clone();
        recorder.0.lock().unwrap().push(headers.clone());
        request.extensions_mut().insert(Raw(headers));
    }
    next.run(request).await
}

/// One service of the chain.
pub struct Hop {
    pub name: &'static str,
    pub authenticate: AuthenticateLayer,
    pub propagate: PropagateLayer,
    /// The next hop's URL; `None` for the last hop.
    pub next: Option<String>,
    /// The outsider's URL (off the propagate allowlist).
    pub outsider: String,
    /// What the stand-in for a mutual-TLS acceptor puts in every request's extensions
    /// (these tests run plain TCP).
    pub peer: Option<PeerIdentity>,
    /// Routes served beside the hop, unauthenticated (a JWKS service).
    pub extra: Router,
}

struct HopState {
    name: &'static str,
    client: Propagating,
    next: Option<String>,
    outsider: String,
}

/// Serves `hop` on `bound` (once); the recorder of what it receives.
pub fn serve(bound: &mut Bound, hop: Hop) -> Recorder {
    let listener = bound.listener.take().expect("a listener serves one hop");
    let recorder = Recorder::default();
    let state = Arc::new(HopState {
        name: hop.name,
        client: tower::ServiceBuilder::new()
            .layer(hop.propagate)
            .service(http_client()),
        next: hop.next,
        outsider: hop.outsider,
    });
    let peer = hop.peer;
    let app = Router::new()
        .route(PATH, routing::get(handle))
        .route_layer(hop.authenticate)
        .with_state(state)
        .merge(hop.extra)
        .layer(middleware::from_fn(
            move |mut request: Request, next: Next| {
                if let Some(peer) = peer.clone() {
                    request.extensions_mut().insert(peer);
                }
                next.run(request)
            },
        ))
        .layer(middleware::from_fn_with_state(recorder.clone(), record));
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    recorder
}

/// A server that no route names: it records what it receives and answers `ok`.
pub async fn outsider() -> (String, Recorder) {
    let mut bound = Bound::new().await;
    let url = bound.url();
    let listener = bound.listener.take().unwrap();
    let recorder = Recorder::default();
    let app = Router::new()
        .route(PATH, routing::get(|| async { "ok" }))
        .layer(middleware::from_fn_with_state(recorder.clone(), record));
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, recorder)
}

/// A hop's handler: everything it reports comes from the request context and the
/// verified Principal; the calls it makes carry nothing it passed by hand.
async fn handle(
    State(hop): State<Arc<HopState>>,
    Extension(Raw(raw)): Extension<Raw>,
    headers: HeaderMap,
    principal: Authenticated,
) -> Json<Value> {
    // A careless handler: it copies the identity headers it received (its own
    // authorization, and the raw passport or internal token an outer middleware kept)
    // onto a call to a service off the allowlist.
    let mut to_outsider = http::Request::get(&hop.outsider);
    let mut copied = Vec::new();
    for name in IDENTITY_HEADERS {
        let value = if name == AUTHORIZATION.as_str() {
            headers.get(name)
        } else {
            raw.get(name)
        };
        if let Some(value) = value {
            to_outsider = to_outsider.header(name, value);
            copied.push(name);
        }
    }
    let outsider = match to_outsider.body(Empty::new()) {
        Ok(request) => call(hop.client.clone(), request).await.0,
        Err(error) => json!(error.to_string()),
    };
    let next = match &hop.next {
        Some(url) => {
            let request = http::Request::get(url).body(Empty::new()).unwrap();
            let (answer, status) = call(hop.client.clone(), request).await;
            json!({"status": status, "answer": answer})
        }
        None => Value::Null,
    };
    let (request_id, traceparent) = context::with_current(|ctx| {
        (
            ctx.request_id().to_string(),
            ctx.trace().traceparent().to_string(),
        )
    })
    .unwrap_or_default();
    let verified = principal.verified();
    let caller = verified.caller().map(|caller| {
        json!({"identity": caller.identity().to_string(), "pattern": caller.pattern().as_str()})
    });
    Json(json!({
        "service": hop.name,
        "id": principal.id().to_string(),
        "kind": principal.kind().as_str(),
        "acting": principal.acting().to_string(),
        "delegation": principal.delegation().iter().map(|actor| actor.id().to_string()).collect::<Vec<_>>(),
        "pattern": verified.pattern().as_str(),
        "caller": caller,
        "request_id": request_id,
        "traceparent": traceparent,
        "copied_to_outsider": copied,
        "outsider": outsider,
        "next": next,
    }))
}

/// Calls through the propagating client: the answer (JSON, or the body as a string, or
/// the error) and the status (0 when the call failed).
async fn call(client: Propagating, request: http::Request<Empty<Bytes>>) -> (Value, u16) {
    match client.oneshot(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = match response.into_body().collect().await {
                Ok(body) => body.to_bytes(),
                Err(error) => return (json!(error.to_string()), status),
            };
            let answer = serde_json::from_slice(&body)
                .unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)));
            (answer, status)
        }
        Err(error) => (json!(error.to_string()), 0),
    }
}

/// GET `url` from outside the chain (a plain client, no propagate layer) with `headers`:
/// the status and the JSON body (`Null` when it is not JSON), and the
/// `WWW-Authenticate` challenge if any.
pub async fn get(url: &str, headers: &[(&str, &str)]) -> (StatusCode, Value, Option<String>) {
    let mut request = http::Request::get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = http_client()
        .request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, json, challenge)
}
