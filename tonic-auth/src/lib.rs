//! # tonic-auth
//!
//! Baton for gRPC: thin glue over `tower-auth`, which holds the verifiers, the
//! credentials a request presents, the current request context and the audit event.
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`client`] | tower-auth's propagate routes on outgoing gRPC calls: its layer bound to a `Channel`'s endpoint for every route, [`PassportInterceptor`](client::PassportInterceptor) (synchronous) for routes that need no waiting |
//! | [`server`] | [`GrpcAuthenticateLayer`](server::GrpcAuthenticateLayer): tower-auth's authenticate layer for `tonic::transport::Server::builder().layer(..)`: edge and internal roles, the verified Principal in the request extensions and current while the service and its response stream run, refusals as trailers-only gRPC responses; [`UntilExpiry`](server::UntilExpiry) for streams that must stop at the Principal's expiry |
//! | [`require`] | [`GrpcRequireLayer`](require::GrpcRequireLayer): tower-auth's require layer per server, service or method ([`GrpcRequirements`](require::GrpcRequirements), deny by default), refusals as `PERMISSION_DENIED` (or `UNAUTHENTICATED` without a Principal) |
//! | [`PrincipalExt`] | `request.principal()?` in a handler, and its optional form |
//! | [`status`] | the one map from a refusal's class to a gRPC status code and short message |
//! | `transport` (feature `mtls`) | tonic over mutual TLS: tower-auth's mTLS listener as tonic's incoming connections, the calling workload's SPIFFE identity in every request (pattern 5) |
//!
//! Features: `mtls` (above), and `metrics`, which turns on tower-auth's metrics
//! (`tower_auth::metrics`): gRPC decisions are tower-auth's layer's, recorded there under
//! the same names as HTTP ones. The audit event is tower-auth's too
//! (`tower_auth::authenticate::audit`), for every call and for a stream ended by
//! [`UntilExpiry`](server::UntilExpiry).
//!
//! Interceptors
//! are synchronous; anything that may wait (a key refetch, introspection, minting) runs
//! in a tower layer.
//!
//! ```
//! use tonic::{Request, Response, Status};
//! use tonic_auth::PrincipalExt;
//!
//! // A handler behind `GrpcAuthenticateLayer`: the Principal in one call.
//! async fn whoami(request: Request<()>) -> Result<Response<String>, Status> {
//!     let principal = request.principal()?;
//!     Ok(Response::new(principal.id().to_string()))
//! }
//! # let _ = whoami;
//! ```
#![deny(missing_docs)]

pub mod client;
mod request;
pub mod require;
pub mod server;
pub mod status;
#[cfg(feature = "mtls")]
pub mod transport;

pub use request::PrincipalExt;
