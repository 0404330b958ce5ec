//! The `audit` service: records every access `documents` reports, as the verified
//! identity of the call says, and answers with what it saw.

use std::future::Future;

use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite};
use tonic::service::InterceptorLayer;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status};

use super::net::reflection;
use super::proto::audit_service_server::{AuditService, AuditServiceServer};
use super::proto::{RecordRequest, RecordResponse};
use super::trust::{HopVerifier, hop_layer};
use super::{DemoError, DemoPattern, PeerGate, hop_view};

/// The `tracing` target of the audit records.
pub const AUDIT_RECORD_TARGET: &str = "demo::audit";

/// The `audit` service's handlers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Audit;

#[tonic::async_trait]
impl AuditService for Audit {
    async fn record(
        &self,
        request: Request<RecordRequest>,
    ) -> Result<Response<RecordResponse>, Status> {
        let seen = hop_view("audit", &request)?;
        let record = request.get_ref();
        tracing::info!(
            target: AUDIT_RECORD_TARGET,
            action = %record.action,
            document_id = %record.document_id,
            principal_id = %seen.principal_id,
            acting = %seen.acting,
            caller = %seen.caller,
            peer = %seen.peer,
            pattern = %seen.pattern,
            request_id = %seen.request_id,
            "access recorded"
        );
        Ok(Response::new(RecordResponse { audit: Some(seen) }))
    }
}

/// Serves `audit` (and gRPC reflection) on the connections of `incoming`, every call
/// from a workload `gate` admits, verified by `verifier` under `pattern`, until `shutdown` resolves.
///
/// # Errors
/// [`DemoError::Serve`] when the server fails.
pub async fn serve<I, IO, IE>(
    pattern: DemoPattern,
    verifier: HopVerifier,
    gate: PeerGate,
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
        .layer(hop_layer(pattern, &verifier, false))
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(AuditServiceServer::new(Audit))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| DemoError::Serve {
            service: "audit",
            detail: e.to_string(),
        })
}
