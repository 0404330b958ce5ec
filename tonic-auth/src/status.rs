//! The one map from a Baton refusal to a gRPC status (DESIGN §5): the client learns the
//! class of the refusal and a short message; the precise reason goes to the audit event.
//!
//! | [`Challenge`] | gRPC code | `grpc-message` |
//! | --- | --- | --- |
//! | `NoCredentials` | `UNAUTHENTICATED` | `missing credentials` |
//! | `InvalidRequest`, `InvalidToken` | `UNAUTHENTICATED` | `invalid credentials` |
//! | `InsufficientScope` | `PERMISSION_DENIED` | `insufficient scope` |
//! | `Unavailable` | `UNAVAILABLE` | `authentication unavailable` |
//! | `Internal` (and any class added later) | `INTERNAL` | `internal error` |
//!
//! `PERMISSION_DENIED` is only for a caller who was identified and then refused; an
//! unidentified caller is always `UNAUTHENTICATED`.

use tonic::{Code, Status};
use tower_auth::Challenge;

/// The gRPC status that answers a refusal of class `challenge`.
///
/// ```
/// use tonic::Code;
/// use tonic_auth::status::grpc_status;
/// use tower_auth::AuthError;
///
/// let status = grpc_status(AuthError::BadSignature.challenge());
/// assert_eq!(status.code(), Code::Unauthenticated);
/// assert_eq!(status.message(), "invalid credentials");
///
/// let status = grpc_status(AuthError::InsufficientScope { required: "orders:write".into() }.challenge());
/// assert_eq!(status.code(), Code::PermissionDenied);
/// // The required scope is for the audit event, not for the client.
/// assert!(!status.message().contains("orders"));
/// ```
pub fn grpc_status(challenge: Challenge) -> Status {
    let (code, message) = match challenge {
        Challenge::NoCredentials => (Code::Unauthenticated, "missing credentials"),
        Challenge::InvalidRequest | Challenge::InvalidToken => {
            (Code::Unauthenticated, "invalid credentials")
        }
        Challenge::InsufficientScope => (Code::PermissionDenied, "insufficient scope"),
        Challenge::Unavailable => (Code::Unavailable, "authentication unavailable"),
        // `Internal`, and any class a later tower-auth adds: refused, as a server fault.
        _ => (Code::Internal, "internal error"),
    };
    Status::new(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_its_code_and_a_short_message() {
        let cases = [
            (Challenge::NoCredentials, Code::Unauthenticated),
            (Challenge::InvalidRequest, Code::Unauthenticated),
            (Challenge::InvalidToken, Code::Unauthenticated),
            (Challenge::InsufficientScope, Code::PermissionDenied),
            (Challenge::Unavailable, Code::Unavailable),
            (Challenge::Internal, Code::Internal),
        ];
        for (challenge, code) in cases {
            let status = grpc_status(challenge);
            assert_eq!(status.code(), code, "{challenge:?}");
            assert!(status.message().len() <= 32, "{challenge:?}");
        }
    }
}
