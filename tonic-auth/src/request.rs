//! The handler's view: the verified Principal of a `tonic::Request`, in one call.

use tonic::{Request, Status};
use tower_auth::VerifiedPrincipal;
use tower_auth::authenticate::AUDIT_TARGET;
use tower_auth::context::RequestContext;

use crate::status::grpc_status;

/// Reads what [`GrpcAuthenticateLayer`](crate::server::GrpcAuthenticateLayer) left in a
/// request's extensions; implemented for every `tonic::Request<T>` (unary and streaming).
///
/// Without the layer, both methods answer `INTERNAL` and log an error naming the missing
/// layer: a configuration bug, never an anonymous pass (DESIGN §2).
pub trait PrincipalExt {
    /// The verified Principal. `UNAUTHENTICATED` for an anonymous call let through by a
    /// layer in optional mode; `INTERNAL` when no layer ran.
    ///
    /// ```
    /// use tonic::{Code, Request};
    /// use tonic_auth::PrincipalExt;
    ///
    /// // A service without the layer: refused, never anonymous.
    /// let request = Request::new(());
    /// assert_eq!(request.principal().unwrap_err().code(), Code::Internal);
    /// ```
    fn principal(&self) -> Result<&VerifiedPrincipal, Status>;

    /// The verified Principal, or `None` for an anonymous call on a layer in optional
    /// mode. Still `INTERNAL` when no layer ran: "optional" means optional credentials,
    /// not an optional layer.
    ///
    /// ```
    /// use tonic::{Code, Request};
    /// use tonic_auth::PrincipalExt;
    ///
    /// let request = Request::new(());
    /// assert_eq!(request.optional_principal().unwrap_err().code(), Code::Internal);
    /// ```
    fn optional_principal(&self) -> Result<Option<&VerifiedPrincipal>, Status>;
}

impl<T> PrincipalExt for Request<T> {
    fn principal(&self) -> Result<&VerifiedPrincipal, Status> {
        self.optional_principal()?
            .ok_or_else(|| grpc_status(tower_auth::AuthError::MissingToken.challenge()))
    }

    fn optional_principal(&self) -> Result<Option<&VerifiedPrincipal>, Status> {
        let extensions = self.extensions();
        if let Some(verified) = extensions.get::<VerifiedPrincipal>() {
            return Ok(Some(verified));
        }
        let layer_ran = extensions
            .get::<RequestContext>()
            .is_some_and(RequestContext::made_by_authenticate_layer);
        if layer_ran {
            return Ok(None);
        }
        tracing::error!(
            target: AUDIT_TARGET,
            outcome = "rejected",
            reason = "missing_authenticate_layer",
            "a gRPC handler asks for the Principal but no \
             tonic_auth::server::GrpcAuthenticateLayer ran for this service: add it \
             (Server::builder().layer(..)); refusing with INTERNAL"
        );
        Err(grpc_status(
            tower_auth::AuthError::Internal {
                why: "no authenticate layer",
            }
            .challenge(),
        ))
    }
}
