//! The server side: [`GrpcAuthenticateLayer`], for `tonic::transport::Server::builder().layer(..)`.
//!
//! It is tower-auth's [`AuthenticateLayer`](tower_auth::authenticate::AuthenticateLayer)
//! (same verifiers, same [`Credentials`](tower_auth::Credentials), same edge and internal
//! roles, same audit event) with a gRPC face. A tower layer rather than a tonic
//! interceptor because verification may wait (a key refetch on an unknown `kid`).
//!
//! # What it does, in order
//!
//! 1. **Strips spoofable metadata** at an edge ([`GrpcAuthenticateLayer::new`]): every
//!    `x-principal-bin` and `x-baton-internal-token`, before anything reads the call, so
//!    a passport sent by an outside client never becomes a Principal. On a service behind
//!    the edge ([`GrpcAuthenticateLayer::internal`]) the verifiers read them, and they
//!    are removed before the service runs.
//! 2. **Reads the credentials** from the HTTP/2 headers: the `authorization` bearer
//!    token, the `x-principal-bin` passport (gRPC `-bin` metadata is base64 on the wire,
//!    the header form the passport verifier decodes, padded or not), the
//!    `x-baton-internal-token`, `x-request-id`, and the mTLS peer
//!    ([`PeerIdentity`](tower_auth::peer::PeerIdentity)) the transport put in the
//!    request extensions.
//! 3. **Verifies** them with the layer's verifier (a
//!    [`VerifierChain`](tower_auth::VerifierChain) for several patterns), waiting when
//!    the verifier must.
//! 4. **Inserts the [`VerifiedPrincipal`](tower_auth::VerifiedPrincipal)** and the
//!    [`RequestContext`](tower_auth::context::RequestContext) into the request
//!    extensions, and makes the context current
//!    ([`current_principal`](tower_auth::context::current_principal)) while the service
//!    runs, **and while its response body is polled**: the stream a server-streaming or
//!    bidirectional handler returns runs after the handler's future completed, and sees
//!    the same Principal. Handlers read it in one call with
//!    [`PrincipalExt::principal`](crate::PrincipalExt::principal).
//! 5. **Long streams**: the call is verified once, when it starts. A service that must
//!    not accept messages past the Principal's expiry wraps its inbound stream in
//!    [`UntilExpiry`].
//! 6. **Audits**: one `tracing` event per decision on tower-auth's
//!    [`AUDIT_TARGET`](tower_auth::authenticate::AUDIT_TARGET), with the precise reason.
//!
//! # Responses
//!
//! A refusal is a trailers-only gRPC response, as gRPC clients expect: HTTP 200,
//! `content-type: application/grpc`, `grpc-status` and a short `grpc-message` in the
//! headers, no body (the codes are tabled in [`crate::status`]):
//!
//! | situation | `grpc-status` |
//! | --- | --- |
//! | no credentials; a malformed, expired, forged or revoked one; bad base64 in `x-principal-bin` | `UNAUTHENTICATED` (16) |
//! | a valid credential lacking a required scope | `PERMISSION_DENIED` (7) |
//! | the issuer's keys are unavailable (key source down beyond its staleness) | `UNAVAILABLE` (14) |
//! | an internal fault | `INTERNAL` (13) |
//!
//! The [`AuthRejection`](tower_auth::error::AuthRejection) stays in the response
//! extensions for outer layers.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use jsonwebtoken::{Algorithm, EncodingKey, Header};
//! use principal::{Audience, Issuer};
//! use tonic_auth::PrincipalExt;
//! use tonic_auth::server::GrpcAuthenticateLayer;
//! use tower::{ServiceExt, service_fn};
//! use tower_auth::jwks::SymmetricKey;
//! use tower_auth::jwt::{IssuerConfig, JwtVerifier};
//! use tower_layer::Layer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A JWT verifier with a static HMAC key (prefer asymmetric keys across services).
//! let secret = [7u8; 32];
//! let verifier = JwtVerifier::builder()
//!     .issuer(
//!         IssuerConfig::builder(Issuer::new("https://issuer.example")?)
//!             .audience(Audience::new("echo")?)
//!             .hmac_secrets([SymmetricKey::new(Some("k1"), Algorithm::HS256, secret.to_vec())?])
//!             .build()?,
//!     )
//!     .build()?;
//! // In a server: `Server::builder().layer(GrpcAuthenticateLayer::new(..)).add_service(..)`.
//! // Here the layer wraps a stand-in for the gRPC routes.
//! let service = GrpcAuthenticateLayer::new(Arc::new(verifier)).layer(service_fn(
//!     |request: http::Request<tonic::body::Body>| async move {
//!         let request = tonic::Request::from_http(request);
//!         let subject = request.principal()?.subject().to_owned();
//!         Ok::<_, tonic::Status>(http::Response::new(tonic::body::Body::new(subject)))
//!     },
//! ));
//! let call = |authorization: Option<String>| {
//!     let mut request = http::Request::new(tonic::body::Body::empty());
//!     if let Some(value) = authorization {
//!         request.headers_mut().insert("authorization", value.parse().unwrap());
//!     }
//!     service.clone().oneshot(request)
//! };
//!
//! // Accepted.
//! let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 300;
//! let claims = serde_json::json!({"iss": "https://issuer.example", "sub": "alice", "aud": "echo", "exp": exp});
//! let mut header = Header::new(Algorithm::HS256);
//! header.kid = Some("k1".into());
//! let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret))?;
//! let response = call(Some(format!("Bearer {token}"))).await?;
//! assert!(response.headers().get("grpc-status").is_none());
//!
//! // Refused: no credentials. Trailers-only: HTTP 200, grpc-status 16 (UNAUTHENTICATED).
//! let response = call(None).await?;
//! assert_eq!(response.status(), http::StatusCode::OK);
//! assert_eq!(response.headers()["content-type"], "application/grpc");
//! assert_eq!(response.headers()["grpc-status"], "16");
//! assert_eq!(response.headers()["grpc-message"], "missing%20credentials");
//! # Ok(())
//! # }
//! ```

mod body;
mod expiry;
mod future;
mod layer;
mod service;

pub use self::body::{ScopeResponseBody, ScopedBody, ScopedBodyFuture};
pub use self::expiry::UntilExpiry;
pub use self::future::ResponseFuture;
pub use self::layer::GrpcAuthenticateLayer;
pub use self::service::GrpcAuthenticateService;
