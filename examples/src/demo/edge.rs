//! The demo's edge: an axum service that verifies the external JWT of the identity
//! provider, then calls `documents` over gRPC, attaching the identity as the pattern
//! says, and answers JSON with what every hop saw.
//!
//! | route | what it calls |
//! | --- | --- |
//! | `GET /documents/{id}` | `DocumentsService/GetDocument` (unary) |
//! | `GET /documents` | `DocumentsService/ListDocuments` (server streaming) |
//!
//! Both answer an [`EdgeAnswer`]; a failed hop answers 502 with an [`EdgeFailure`].
//! Without a valid token: 401 (tower-auth's authenticate layer). Every request loses its
//! `x-principal-bin` and internal-token headers before routing: a spoofed identity never
//! reaches a handler.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tonic::Status;
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::context;
use tower_auth::extract::Authenticated;

use super::hop::view;
use super::net::HopChannel;
use super::proto::documents_service_client::DocumentsServiceClient;
use super::proto::{Document, GetDocumentRequest, HopView, ListDocumentsRequest};
use super::trust::HopVerifier;
use super::{DemoError, DemoPattern, Hop};

/// The edge's answer: the documents served, each with what every hop saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeAnswer {
    /// The pattern the chain runs (`signed-passport`).
    pub pattern: String,
    /// One per document.
    pub items: Vec<EdgeItem>,
}

/// One document and the hops that served it: `edge`, `documents`, `audit`, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeItem {
    /// The document's id.
    pub document_id: String,
    /// Its title.
    pub title: String,
    /// What each hop saw, edge first.
    pub hops: Vec<Hop>,
}

/// A call behind the edge failed (HTTP 502).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeFailure {
    /// The gRPC status code `documents` answered (`Unauthenticated`, `Unavailable`...).
    pub code: String,
    /// Its message.
    pub message: String,
}

#[derive(Clone)]
struct EdgeState {
    pattern: DemoPattern,
    documents: DocumentsServiceClient<HopChannel>,
}

/// A started demo edge: verifier ready, listener bound.
pub struct DemoEdge {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    _verifier: HopVerifier,
}

impl DemoEdge {
    /// Binds `listen`; requests are verified by `verifier` (external JWTs) and `documents`
    /// is called through `documents` (a channel whose route attaches the identity as
    /// `pattern` says).
    ///
    /// # Errors
    /// [`DemoError::Bind`] when the address cannot be bound.
    pub async fn start(
        listen: SocketAddr,
        pattern: DemoPattern,
        verifier: HopVerifier,
        documents: HopChannel,
    ) -> Result<DemoEdge, DemoError> {
        let mut authenticate = AuthenticateLayer::new(verifier.verifier());
        if pattern == DemoPattern::Passthrough {
            // The external token goes on to `documents`: the layer keeps it.
            authenticate = authenticate.keep_bearer_token();
        }
        let strip = authenticate.strip_layer();
        let router = Router::new()
            .route("/documents", get(list_documents))
            .route("/documents/{id}", get(get_document))
            .route_layer(authenticate)
            .with_state(EdgeState {
                pattern,
                documents: DocumentsServiceClient::new(documents),
            })
            .merge(crate::metrics_router())
            .layer(strip);
        let bind_error = |e: std::io::Error| DemoError::Bind {
            addr: listen,
            detail: e.to_string(),
        };
        let listener = TcpListener::bind(listen).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        Ok(DemoEdge {
            listener,
            local_addr,
            router,
            _verifier: verifier,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves.
    ///
    /// # Errors
    /// [`DemoError::Serve`] when the server fails.
    pub async fn serve<F>(self, shutdown: F) -> Result<(), DemoError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await;
        drop(self._verifier);
        served.map_err(|e| DemoError::Serve {
            service: "edge",
            detail: e.to_string(),
        })
    }
}

impl std::fmt::Debug for DemoEdge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoEdge")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// What the edge itself saw of the request it serves.
fn edge_view(principal: &Authenticated) -> HopView {
    let request_id = context::with_current(|current| current.request_id().as_str().to_owned());
    view("edge", principal.verified(), None, request_id)
}

fn item(edge: &HopView, document: Option<Document>, hops: [Option<HopView>; 2]) -> EdgeItem {
    let document = document.unwrap_or_default();
    EdgeItem {
        document_id: document.id,
        title: document.title,
        hops: std::iter::once(Some(edge.clone()))
            .chain(hops)
            .flatten()
            .map(Hop::from)
            .collect(),
    }
}

fn failed(status: &Status) -> Response {
    let failure = EdgeFailure {
        code: format!("{:?}", status.code()),
        message: status.message().to_owned(),
    };
    (StatusCode::BAD_GATEWAY, Json(failure)).into_response()
}

async fn get_document(
    State(state): State<EdgeState>,
    Path(id): Path<String>,
    principal: Authenticated,
) -> Response {
    let edge = edge_view(&principal);
    let request = GetDocumentRequest { document_id: id };
    match state.documents.clone().get_document(request).await {
        Ok(reply) => {
            let reply = reply.into_inner();
            Json(EdgeAnswer {
                pattern: state.pattern.to_string(),
                items: vec![item(&edge, reply.document, [reply.documents, reply.audit])],
            })
            .into_response()
        }
        Err(status) => failed(&status),
    }
}

async fn list_documents(State(state): State<EdgeState>, principal: Authenticated) -> Response {
    let edge = edge_view(&principal);
    let mut stream = match state
        .documents
        .clone()
        .list_documents(ListDocumentsRequest { limit: 0 })
        .await
    {
        Ok(reply) => reply.into_inner(),
        Err(status) => return failed(&status),
    };
    let mut items = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(reply)) => {
                items.push(item(&edge, reply.document, [reply.documents, reply.audit]));
            }
            Ok(None) => break,
            Err(status) => return failed(&status),
        }
    }
    Json(EdgeAnswer {
        pattern: state.pattern.to_string(),
        items,
    })
    .into_response()
}
