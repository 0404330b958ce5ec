//! The spoofable headers an edge drops, and [`StripHeadersLayer`], which drops them on
//! every route: authenticated or not, and the fallback.
//!
//! [`AuthenticateLayer`](super::AuthenticateLayer) strips these headers too, but only where
//! it runs. In axum it is attached with `route_layer`, so a route without authentication
//! and the fallback would hand a spoofed `x-principal-bin` to their handler (and to
//! anything they forward the request to). Apply this layer to the whole router with
//! `Router::layer`: it runs before routing, for every request.
//!
//! ```
//! use axum::{Router, routing::get};
//! use http::{HeaderMap, Request};
//! use tower::ServiceExt;
//! use tower_auth::authenticate::{PRINCIPAL_HEADER, StripHeadersLayer};
//!
//! // A route without authentication that reports whether a passport reached it.
//! async fn sees_passport(headers: HeaderMap) -> String {
//!     headers.contains_key(PRINCIPAL_HEADER).to_string()
//! }
//! let app = Router::new()
//!     .route("/public", get(sees_passport))
//!     .fallback(sees_passport)
//!     .layer(StripHeadersLayer::new());
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! for path in ["/public", "/no-such-route"] {
//!     let request = Request::get(path)
//!         .header("x-principal-bin", "Zm9yZ2Vk")
//!         .body(axum::body::Body::empty())
//!         .unwrap();
//!     let response = app.clone().oneshot(request).await.unwrap();
//!     let body = axum::body::to_bytes(response.into_body(), 64).await.unwrap();
//!     assert_eq!(&body[..], b"false"); // stripped before the handler ran
//! }
//! # });
//! ```

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, HeaderName, Request};
use tower_layer::Layer;
use tower_service::Service;

/// The header carrying a serialized Principal (Passport) between hops (DESIGN §3).
pub const PRINCIPAL_HEADER: HeaderName = HeaderName::from_static("x-principal-bin");

/// A dedicated header for internal tokens, for deployments that carry the internal JWT
/// (pattern 2) apart from the caller's `authorization`. Baton itself sends internal JWTs
/// in `authorization` (DESIGN §3); this name is reserved so that no outside caller can
/// smuggle one in under it either.
pub const INTERNAL_TOKEN_HEADER: HeaderName = HeaderName::from_static("x-baton-internal-token");

/// The headers an edge strips from every incoming request by default: the one list both
/// [`StripHeadersLayer::new`] and [`AuthenticateLayer::new`](super::AuthenticateLayer::new)
/// start from.
pub const SPOOFABLE_HEADERS: [HeaderName; 2] = [PRINCIPAL_HEADER, INTERNAL_TOKEN_HEADER];

/// Remove every value of every header in `names` (the edge's first step: a spoofed
/// `x-principal-bin` must never become a Principal).
///
/// ```
/// use http::HeaderMap;
/// use tower_auth::authenticate::{strip_headers, PRINCIPAL_HEADER};
///
/// let mut headers = HeaderMap::new();
/// headers.append(PRINCIPAL_HEADER, "c3Bvb2Y".parse().unwrap());
/// headers.append(PRINCIPAL_HEADER, "YWdhaW4".parse().unwrap());
/// headers.insert("x-request-id", "r-1".parse().unwrap());
/// strip_headers(&mut headers, &[PRINCIPAL_HEADER]);
/// assert!(headers.get(PRINCIPAL_HEADER).is_none());
/// assert!(headers.get("x-request-id").is_some());
/// ```
pub fn strip_headers(headers: &mut HeaderMap, names: &[HeaderName]) {
    for name in names {
        // `remove` drops every value under the name, not only the first.
        while headers.remove(name).is_some() {}
    }
}

/// Strips spoofable headers from every request before the inner service sees it.
///
/// Defaults: [`SPOOFABLE_HEADERS`] (`x-principal-bin`, `x-baton-internal-token`).
/// [`AuthenticateLayer::strip_layer`](super::AuthenticateLayer::strip_layer) makes one with
/// exactly the list an authenticate layer strips, extra headers included. See the
/// [module docs](self) for an axum example.
///
/// # Deployment caveat
///
/// Hops *behind* a trusted edge that accept passports must not apply it: it would drop the
/// `x-principal-bin` the edge sent. Apply it where requests come from outside.
#[derive(Clone)]
#[must_use]
pub struct StripHeadersLayer {
    names: Arc<[HeaderName]>,
}

impl Default for StripHeadersLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl StripHeadersLayer {
    /// A layer stripping [`SPOOFABLE_HEADERS`].
    pub fn new() -> Self {
        StripHeadersLayer {
            names: Arc::from(SPOOFABLE_HEADERS.as_slice()),
        }
    }

    /// A layer stripping exactly `names` (the list an authenticate layer was configured
    /// with).
    pub(super) fn from_names(names: &[HeaderName]) -> Self {
        StripHeadersLayer {
            names: Arc::from(names),
        }
    }

    /// Also strip these headers, in addition to those already stripped.
    ///
    /// ```
    /// use http::HeaderName;
    /// use tower_auth::authenticate::{SPOOFABLE_HEADERS, StripHeadersLayer};
    ///
    /// let layer = StripHeadersLayer::new().strip_headers([HeaderName::from_static("x-user-id")]);
    /// assert_eq!(layer.stripped_headers().len(), SPOOFABLE_HEADERS.len() + 1);
    /// ```
    pub fn strip_headers(self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        let mut all = self.names.to_vec();
        for name in names {
            if !all.contains(&name) {
                all.push(name);
            }
        }
        StripHeadersLayer {
            names: Arc::from(all),
        }
    }

    /// The headers stripped from every request.
    pub fn stripped_headers(&self) -> &[HeaderName] {
        &self.names
    }
}

impl<S> Layer<S> for StripHeadersLayer {
    type Service = StripHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StripHeaders {
            inner,
            names: Arc::clone(&self.names),
        }
    }
}

impl fmt::Debug for StripHeadersLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripHeadersLayer")
            .field("names", &self.names)
            .finish()
    }
}

/// Middleware that strips spoofable headers; made by [`StripHeadersLayer`]. Its future is
/// the inner service's: nothing is boxed.
#[derive(Clone)]
#[must_use]
pub struct StripHeaders<S> {
    inner: S,
    names: Arc<[HeaderName]>,
}

impl<S, ReqBody> Service<Request<ReqBody>> for StripHeaders<S>
where
    S: Service<Request<ReqBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        strip_headers(request.headers_mut(), &self.names);
        self.inner.call(request)
    }
}

impl<S: fmt::Debug> fmt::Debug for StripHeaders<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripHeaders")
            .field("inner", &self.inner)
            .field("names", &self.names)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::convert::Infallible;

    use http::{HeaderValue, Response};
    use tower::{ServiceExt, service_fn};

    use super::*;

    /// Runs `request` through `layer` to a service that answers with the headers it saw.
    async fn seen_headers(layer: StripHeadersLayer, request: Request<()>) -> HeaderMap {
        let service = layer.layer(service_fn(|request: Request<()>| async move {
            Ok::<_, Infallible>(Response::new(request.headers().clone()))
        }));
        service.oneshot(request).await.unwrap().into_body()
    }

    fn spoofed() -> http::request::Builder {
        Request::builder()
            .header("x-principal-bin", "Zm9yZ2VkIHBhc3Nwb3J0")
            .header("X-Principal-Bin", "c2Vjb25k")
            .header("x-principal-bin", "")
            .header("x-baton-internal-token", "eyJ0.eyJ1.c2ln")
            .header("X-BATON-INTERNAL-TOKEN", "eyJh.eyJi.c2ln")
            .header("x-request-id", "r-1")
            .header("authorization", "Bearer abc")
    }

    #[tokio::test]
    async fn every_value_of_every_spoofable_header_is_dropped() {
        let seen = seen_headers(StripHeadersLayer::new(), spoofed().body(()).unwrap()).await;
        assert!(seen.get_all(PRINCIPAL_HEADER).iter().next().is_none());
        assert!(seen.get_all(INTERNAL_TOKEN_HEADER).iter().next().is_none());
        // Everything else passes untouched.
        assert_eq!(seen["x-request-id"], "r-1");
        assert_eq!(seen["authorization"], "Bearer abc");
        assert_eq!(seen.len(), 2);
    }

    #[tokio::test]
    async fn non_utf8_and_opaque_values_are_dropped_too() {
        let mut request = Request::new(());
        request.headers_mut().insert(
            PRINCIPAL_HEADER,
            HeaderValue::from_bytes(b"\xff\xfe\x80").unwrap(),
        );
        let seen = seen_headers(StripHeadersLayer::new(), request).await;
        assert!(seen.is_empty());
    }

    #[tokio::test]
    async fn extra_headers_add_to_the_defaults() {
        let layer = StripHeadersLayer::new().strip_headers([
            HeaderName::from_static("x-user-id"),
            // Already stripped: not listed twice.
            PRINCIPAL_HEADER,
        ]);
        assert_eq!(
            layer.stripped_headers(),
            &[
                PRINCIPAL_HEADER,
                INTERNAL_TOKEN_HEADER,
                HeaderName::from_static("x-user-id")
            ]
        );
        let request = spoofed().header("x-user-id", "admin").body(()).unwrap();
        let seen = seen_headers(layer, request).await;
        assert!(seen.get("x-user-id").is_none());
        assert!(seen.get(PRINCIPAL_HEADER).is_none());
        assert_eq!(seen["x-request-id"], "r-1");
    }

    #[test]
    fn the_default_list_is_the_one_list() {
        assert_eq!(
            StripHeadersLayer::new().stripped_headers(),
            SPOOFABLE_HEADERS
        );
        assert_eq!(
            StripHeadersLayer::default().stripped_headers(),
            SPOOFABLE_HEADERS
        );
    }
}
