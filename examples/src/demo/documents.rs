//! The `documents` service: serves documents on behalf of the verified Principal and,
//! for every document it serves, records the access with `audit`, passing the identity
//! on with the same pattern (the Principal is current while the handler runs and while
//! its response stream is polled, so the propagate layer finds it in both).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tonic::service::InterceptorLayer;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status};

use super::net::{HopChannel, reflection};
use super::proto::audit_service_client::AuditServiceClient;
use super::proto::documents_service_server::{DocumentsService, DocumentsServiceServer};
use super::proto::{
    Document, GetDocumentRequest, GetDocumentResponse, HopView, ListDocumentsRequest,
    ListDocumentsResponse, RecordRequest,
};
use super::trust::{HopVerifier, hop_layer};
use super::{DemoError, DemoPattern, PeerGate, hop_view};

/// The documents every demo `documents` service holds.
pub fn catalog() -> Vec<Document> {
    [
        ("d-1", "Quarterly report"),
        ("d-2", "Travel policy"),
        ("d-3", "Onboarding checklist"),
    ]
    .into_iter()
    .map(|(id, title)| Document {
        id: id.to_owned(),
        title: title.to_owned(),
    })
    .collect()
}

/// The `documents` service's handlers, with its client of `audit`.
#[derive(Clone, Debug)]
pub struct Documents {
    audit: AuditServiceClient<HopChannel>,
    catalog: Arc<[Document]>,
}

impl Documents {
    /// Documents of [`catalog`], recording accesses through `audit` (a channel whose
    /// route attaches the caller's identity).
    pub fn new(audit: HopChannel) -> Documents {
        Documents {
            audit: AuditServiceClient::new(audit),
            catalog: catalog().into(),
        }
    }
}

/// Records one access with `audit`; what `audit` saw, or why the call failed (said as
/// this service's own failure: the caller's credentials were fine).
async fn record(
    mut audit: AuditServiceClient<HopChannel>,
    action: &str,
    document_id: &str,
) -> Result<Option<HopView>, Status> {
    let request = RecordRequest {
        action: action.to_owned(),
        document_id: document_id.to_owned(),
    };
    match audit.record(request).await {
        Ok(reply) => Ok(reply.into_inner().audit),
        Err(status) => {
            tracing::warn!(code = ?status.code(), message = status.message(), "audit refused the call");
            Err(Status::unavailable(format!(
                "audit call failed: {:?}",
                status.code()
            )))
        }
    }
}

type ListStream = Pin<Box<dyn Stream<Item = Result<ListDocumentsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl DocumentsService for Documents {
    async fn get_document(
        &self,
        request: Request<GetDocumentRequest>,
    ) -> Result<Response<GetDocumentResponse>, Status> {
        let seen = hop_view("documents", &request)?;
        let wanted = &request.get_ref().document_id;
        let Some(document) = self.catalog.iter().find(|d| &d.id == wanted).cloned() else {
            return Err(Status::not_found("no such document"));
        };
        let audit = record(self.audit.clone(), "get", &document.id).await?;
        Ok(Response::new(GetDocumentResponse {
            document: Some(document),
            documents: Some(seen),
            audit,
        }))
    }

    type ListDocumentsStream = ListStream;

    async fn list_documents(
        &self,
        request: Request<ListDocumentsRequest>,
    ) -> Result<Response<ListStream>, Status> {
        let seen = hop_view("documents", &request)?;
        let limit = match request.get_ref().limit {
            0 => self.catalog.len(),
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let documents: Vec<Document> = self.catalog.iter().take(limit).cloned().collect();
        let audit = self.audit.clone();
        // Each message is audited while the stream is polled, after this handler returned:
        // the authenticate layer keeps the Principal current for the response body too.
        let stream = futures_util::stream::iter(documents).then(move |document| {
            let audit = audit.clone();
            let seen = seen.clone();
            async move {
                let audited = record(audit, "list", &document.id).await?;
                Ok(ListDocumentsResponse {
                    document: Some(document),
                    documents: Some(seen),
                    audit: audited,
                })
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// Serves `documents` (and gRPC reflection) on the connections of `incoming`, every call
/// from a workload `gate` admits, verified by `verifier` under `pattern`, recording accesses through `audit`, until
/// `shutdown` resolves.
///
/// # Errors
/// [`DemoError::Serve`] when the server fails.
pub async fn serve<I, IO, IE>(
    pattern: DemoPattern,
    verifier: HopVerifier,
    gate: PeerGate,
    audit: HopChannel,
    incoming: I,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DemoError>
where
    I: Stream<Item = Result<IO, IE>>,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IE: Into<tower_auth::propagate::BoxError>,
{
    let (reflection, reflection_v1alpha) = reflection()?;
    tonic::transport::Server::builder()
        // The workload gate first: a peer not admitted is refused before its credentials
        // are read.
        .layer(InterceptorLayer::new(gate))
        .layer(hop_layer(pattern, &verifier, true))
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(DocumentsServiceServer::new(Documents::new(audit)))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| DemoError::Serve {
            service: "documents",
            detail: e.to_string(),
        })
}
