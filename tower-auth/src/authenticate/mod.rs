//! The authenticate layer: verify the credentials of every request before the inner
//! service runs, and hand the inner service a [`VerifiedPrincipal`].
//!
//! # What it does, in order
//!
//! 1. **Strips spoofable headers**: at an edge ([`AuthenticateLayer::new`]), every
//!    `x-principal-bin` ([`PRINCIPAL_HEADER`]) and `x-baton-internal-token`
//!    ([`INTERNAL_TOKEN_HEADER`]) value, plus any header added with
//!    [`AuthenticateLayer::strip_headers`], is removed before anything reads the
//!    request, so a header sent by an outside caller never becomes a Principal. This
//!    covers the routes the layer is attached to; [`StripHeadersLayer`] (from
//!    [`AuthenticateLayer::strip_layer`], same list) covers every route of a router. On
//!    a service behind the edge ([`AuthenticateLayer::internal`]) those two headers are
//!    kept for the verifiers, and removed once they have answered.
//! 2. **Reads the [`Credentials`](crate::credentials::Credentials)**: the bearer token
//!    ([`bearer_token`]: exactly one `Authorization` header, `Bearer <b64token>`, scheme
//!    case-insensitive, RFC 6750 §2.1; two headers are refused even when equal; another
//!    scheme counts as no bearer credentials), the passport and internal-token headers
//!    that are left (at most one of each), `x-request-id`, and the transport peer a TLS
//!    acceptor put in the extensions.
//! 3. **Verifies** them with the layer's [`Verifier`](crate::verifier::Verifier) (a
//!    [`VerifierChain`](crate::verifier::VerifierChain) for several patterns). A verdict
//!    known at once costs no allocation; one that must wait is the verifier's one box.
//! 4. **Inserts the [`VerifiedPrincipal`]** into the request extensions and calls the
//!    inner service. Any `VerifiedPrincipal` already in the extensions when the request
//!    reached the layer is removed first (in every mode, anonymous passes included), so
//!    the one the inner service sees is this layer's verdict on this request's
//!    credentials. Only this crate's verifiers can make one from nothing; but it is an
//!    ordinary `Clone` value, and code that runs between this layer and the handler could
//!    still insert a copy it kept from another request: nothing downstream re-checks the
//!    binding (see [`crate::verified`] for what is and is not guaranteed).
//! 5. **Makes the request's context current** for everything the inner service runs: a
//!    [`RequestContext`] with the Principal (none for an anonymous pass), the request id
//!    (`x-request-id` when valid, else generated) and the trace context (`traceparent`
//!    and `tracestate` when valid, passed on untouched, else a new trace) goes into the
//!    request extensions, and the inner service's `call` and future run scoped with it,
//!    so [`context::current`](crate::context::current) answers it there, and only there.
//!    Any `RequestContext` already in the extensions is removed first, as the
//!    `VerifiedPrincipal` is. With [`AuthenticateLayer::keep_bearer_token`] (passthrough
//!    routes only) the context also keeps the verified bearer token. Should the system
//!    random number generator fail when an id must be made, the request is refused
//!    with 500 rather than served without one.
//!
//! Each decision emits exactly one `tracing` event on target [`AUDIT_TARGET`] with the
//! request id, trace id, subject, acting party, delegation chain, calling service,
//! pattern, outcome and reason ([`audit`] lists the fields), and, with the `metrics`
//! feature, counts in [`crate::metrics`].
//!
//! # Responses
//!
//! Refusals follow RFC 6750 §3 through [`HttpChallenge`], with an
//! empty body and the [`AuthRejection`](crate::error::AuthRejection) in the response
//! extensions:
//!
//! | situation | status | `WWW-Authenticate` |
//! | --- | --- | --- |
//! | no `Authorization`, or not `Bearer` | 401 | `Bearer` |
//! | malformed or duplicated `Authorization` | 400 | `Bearer error="invalid_request"` |
//! | token too large, malformed, expired, revoked, bad signature... | 401 | `Bearer error="invalid_token"` |
//! | a required scope is missing | 403 | `Bearer error="insufficient_scope", scope="<required>"` |
//! | issuer keys unavailable (key source down beyond max staleness) | 503, `Retry-After: 30` | none |
//! | internal fault | 500 | none |
//!
//! `invalid_request` answers 400 as RFC 6750 §3.1 asks; everything about the token itself
//! answers 401. With [`AuthenticateLayer::realm`], challenges start `Bearer realm="…"`.
//! With [`AuthenticateLayer::resource_metadata`], every challenge also carries
//! `resource_metadata="<url>"` (RFC 9728 §5.1), where clients find the
//! [protected resource metadata](crate::resource_metadata) of this service.
//!
//! # Optional authentication
//!
//! [`AuthenticateLayer::optional`] lets requests *without credentials* through, anonymous
//! (a transport peer that no verifier accepts counts as none). A request that presents a
//! bearer token, or a passport or internal token where they are read, is verified as
//! always, and a bad one is refused: sending a broken credential never downgrades to
//! anonymous access.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_auth::authenticate::AuthenticateLayer;
//! use tower_auth::{AuthError, Pattern, Verifier, VerifiedPrincipal, VerifyFuture};
//!
//! # /// Stands in for a JWT verifier that finds every token's signature wrong.
//! # struct BadSignatures;
//! # impl Verifier for BadSignatures {
//! #     fn verify(&self, _credentials: &tower_auth::Credentials<'_>) -> VerifyFuture {
//! #         VerifyFuture::ready(Err(AuthError::BadSignature))
//! #     }
//! #     fn pattern(&self) -> Pattern { Pattern::JwtPassthrough }
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let verifier: Arc<dyn Verifier> = Arc::new(BadSignatures);
//! let service = ServiceBuilder::new()
//!     .layer(AuthenticateLayer::new(verifier).optional())
//!     .service(service_fn(|request: Request<String>| async move {
//!         let who = match request.extensions().get::<VerifiedPrincipal>() {
//!             Some(verified) => verified.id().to_string(),
//!             None => "anonymous".to_owned(),
//!         };
//!         Ok::<_, std::convert::Infallible>(Response::new(who))
//!     }));
//!
//! // Optional mode: no credentials, passes without a Principal.
//! let response = service.clone().oneshot(Request::new(String::new())).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.body(), "anonymous");
//!
//! // A token that does not verify is refused, optional mode or not.
//! let request = Request::builder()
//!     .header("authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln")
//!     .body(String::new())
//!     .unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["www-authenticate"], r#"Bearer error="invalid_token""#);
//! assert!(response.body().is_empty());
//! # });
//! ```
//!
//! # Deployment caveats
//!
//! - **Internal tokens ride in `authorization`** between hops (DESIGN §3). At an edge,
//!   whatever arrives in `authorization` comes from outside and is verified by the edge's
//!   verifier: configure the edge with the external issuers only, never with the
//!   internal-JWT verifier, so an internal token presented from outside is refused (its
//!   issuer is unknown there). Stripping `x-baton-internal-token` covers deployments
//!   that carry internal tokens in a header of their own.
//! - **Order**: put this layer outermost among the layers that read identity, and in
//!   axum attach it with `route_layer` so unknown paths answer 404, not 401.
//! - **Routes without authentication see every header**: `route_layer` leaves them, and
//!   the fallback, alone. At an edge, apply [`AuthenticateLayer::strip_layer`] to the whole
//!   router with `Router::layer` so no handler (nor anything it forwards to) receives a
//!   spoofed `x-principal-bin` ([`strip`] has an example).
//! - Hops behind a trusted edge that accept passports read `x-principal-bin`: there, and
//!   only there, use [`AuthenticateLayer::internal`].
//!
//! [`VerifiedPrincipal`]: crate::verified::VerifiedPrincipal
//! [`RequestContext`]: crate::context::RequestContext

pub mod audit;
mod bearer;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod context_tests;
mod future;
mod layer;
mod service;
pub mod strip;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

use std::sync::Arc;

pub use self::bearer::{DEFAULT_MAX_TOKEN_BYTES, bearer_token, parse_authorization};
pub use self::future::ResponseFuture;
pub use self::layer::AuthenticateLayer;
pub use self::service::AuthenticateService;
pub use self::strip::{
    INTERNAL_TOKEN_HEADER, PRINCIPAL_HEADER, SPOOFABLE_HEADERS, StripHeaders, StripHeadersLayer,
    strip_headers,
};

use crate::error::{HttpChallenge, RealmError};

/// The `tracing` target of the audit events.
pub const AUDIT_TARGET: &str = "baton::audit";

/// Upper bound for [`AuthenticateLayer::max_token_bytes`].
pub const MAX_MAX_TOKEN_BYTES: usize = 64 * 1024;

/// An [`AuthenticateLayer`] setting was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The realm cannot be used in a challenge.
    #[error(transparent)]
    Realm(#[from] RealmError),
    /// `max_token_bytes` is zero or above [`MAX_MAX_TOKEN_BYTES`].
    #[error("max_token_bytes: {requested} is not between 1 and {max}")]
    MaxTokenBytes {
        /// The value asked for.
        requested: usize,
        /// The upper bound.
        max: usize,
    },
}

impl ConfigError {
    /// A stable snake_case label for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            ConfigError::Realm(error) => error.reason(),
            ConfigError::MaxTokenBytes { .. } => "max_token_bytes_out_of_range",
        }
    }
}

/// Left, inside the [`RequestContext`](crate::context::RequestContext) in the extensions,
/// on every request the layer let through, with or without a Principal, so the extractor
/// can tell "anonymous on an optional route" from "no layer ran". Private: nothing
/// outside this crate can forge it.
#[derive(Clone)]
pub(crate) struct AuthenticateRan {
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) challenge: Arc<HttpChallenge>,
}

impl<S, ReqBody> std::fmt::Debug for ResponseFuture<S, ReqBody>
where
    S: tower_service::Service<http::Request<ReqBody>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
