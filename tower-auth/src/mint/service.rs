//! [`JwksService`]: the issuer's JWKS and discovery document over HTTP.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use tower_service::Service;

use super::{DISCOVERY_PATH, InternalIssuer, JWKS_PATH};

/// A tower service answering `GET`/`HEAD` `/.well-known/jwks.json` (the issuer's
/// [JWKS](InternalIssuer::jwks), `application/jwk-set+json`) and
/// `/.well-known/openid-configuration` (its [discovery document](InternalIssuer::discovery),
/// `application/json`), both with `Cache-Control: public, max-age=…`; another method on
/// those paths is 405 with `Allow`, any other path 404. It reads the key ring at each
/// request, so a rotation or retirement shows at once.
///
/// Mount it where the issuer's URL points: at the root for an issuer without a path
/// (`Router::route_service` for each path, or as the fallback), or with
/// `Router::nest_service` at the issuer's path (axum strips the prefix before the service
/// sees the request).
///
/// ```
/// use axum::Router;
/// use http::{Request, StatusCode};
/// use tower::ServiceExt;
/// use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let issuer = InternalIssuer::builder(
///     principal::Issuer::new("https://edge.internal/mint")?,
///     SigningKey::generate(SigningAlgorithm::Es256)?,
/// )
/// .build()?;
/// // The issuer has a path: nest the service there.
/// let app: Router = Router::new().nest_service("/mint", issuer.jwks_service());
/// // (An issuer at the root: `.route_service("/.well-known/jwks.json", issuer.jwks_service())`
/// // and `.route_service("/.well-known/openid-configuration", issuer.jwks_service())`.)
///
/// let get = |uri: &str| Request::get(uri).body(axum::body::Body::empty());
/// let response = app.clone().oneshot(get("/mint/.well-known/jwks.json")?).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// assert_eq!(response.headers()["cache-control"], "public, max-age=60");
/// let response = app.clone().oneshot(get("/mint/.well-known/openid-configuration")?).await?;
/// assert_eq!(response.status(), StatusCode::OK);
///
/// // Refused: another path, another method.
/// assert_eq!(app.clone().oneshot(get("/mint/keys")?).await?.status(), StatusCode::NOT_FOUND);
/// let post = Request::post("/mint/.well-known/jwks.json").body(axum::body::Body::empty())?;
/// assert_eq!(app.oneshot(post).await?.status(), StatusCode::METHOD_NOT_ALLOWED);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct JwksService {
    issuer: InternalIssuer,
}

impl InternalIssuer {
    /// The service that publishes this issuer's JWKS and discovery document.
    pub fn jwks_service(&self) -> JwksService {
        JwksService {
            issuer: self.clone(),
        }
    }
}

impl JwksService {
    /// The answer to `method` on `path`.
    fn respond(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        let (document, content_type) = match path {
            JWKS_PATH => (self.issuer.jwks(), "application/jwk-set+json"),
            DISCOVERY_PATH => (self.issuer.discovery(), "application/json"),
            _ => return status(StatusCode::NOT_FOUND),
        };
        if method != Method::GET && method != Method::HEAD {
            let mut response = status(StatusCode::METHOD_NOT_ALLOWED);
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let body = if method == Method::HEAD {
            Bytes::new()
        } else {
            Bytes::from(document.to_string())
        };
        let mut response = Response::new(Full::new(body));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(value) = HeaderValue::from_str(self.issuer.cache_control()) {
            headers.insert(CACHE_CONTROL, value);
        }
        response
    }
}

fn status(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

impl<B> Service<Request<B>> for JwksService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.respond(request.method(), request.uri().path())))
    }
}
