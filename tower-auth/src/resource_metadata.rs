//! RFC 9728 OAuth 2.0 protected resource metadata: the document a client (an MCP client,
//! an agent runtime) fetches to learn how to get a token for this service, and the
//! `resource_metadata` challenge parameter that points it there.
//!
//! [`ResourceMetadata`] holds the document, checked and serialised once when built;
//! [`ResourceMetadataService`] serves it (a tower service: in axum
//! `route_service(metadata.well_known_path(), metadata.service())`).
//! [`AuthenticateLayer::resource_metadata`](crate::authenticate::AuthenticateLayer::resource_metadata)
//! (and [`HttpChallenge::with_resource_metadata`](crate::error::HttpChallenge::with_resource_metadata))
//! put its URL into every `Bearer` challenge (RFC 9728 §5.1):
//! `WWW-Authenticate: Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"`.
//!
//! # The document (RFC 9728 §2)
//!
//! | member | here |
//! | --- | --- |
//! | `resource` | the resource identifier: an `https` URL without query or fragment (§1.2) |
//! | `authorization_servers` | issuers whose tokens this service accepts ([`Issuer`]s) |
//! | `jwks_uri` | optional: the service's own JWK Set (for example the one its internal issuer publishes) |
//! | `scopes_supported` | optional: the scopes its requirements use |
//! | `bearer_methods_supported` | always `["header"]`: the authenticate layer reads the `Authorization` header only, never a form body or a query |
//! | `resource_name`, `resource_documentation`, `resource_policy_uri`, `resource_tos_uri` | optional |
//!
//! Members Baton has no support for are left out rather than claimed:
//! `tls_client_certificate_bound_access_tokens` and `dpop_bound_access_tokens_required`
//! (absent means `false`), the signing and DPoP algorithm lists, `signed_metadata`.
//!
//! # Where it is served (RFC 9728 §3.1)
//!
//! `/.well-known/oauth-protected-resource` inserted between the host and the path of the
//! resource identifier: `https://api.example.com` →
//! `https://api.example.com/.well-known/oauth-protected-resource`;
//! `https://api.example.com/orders` →
//! `https://api.example.com/.well-known/oauth-protected-resource/orders`.
//!
//! ```
//! use principal::{Issuer, ScopeSet};
//! use tower_auth::resource_metadata::ResourceMetadata;
//!
//! let metadata = ResourceMetadata::builder("https://api.example.com/orders")?
//!     .authorization_server(Issuer::new("https://idp.example.com")?)
//!     .scopes_supported(ScopeSet::parse("orders:read orders:write")?)
//!     .resource_name("Orders API")
//!     .build()?;
//! assert_eq!(metadata.well_known_path(), "/.well-known/oauth-protected-resource/orders");
//! assert_eq!(
//!     metadata.metadata_url(),
//!     "https://api.example.com/.well-known/oauth-protected-resource/orders"
//! );
//! let document: serde_json::Value = serde_json::from_slice(metadata.document())?;
//! assert_eq!(document["resource"], "https://api.example.com/orders");
//! assert_eq!(document["bearer_methods_supported"], serde_json::json!(["header"]));
//!
//! // Refused: not https, a fragment, a query.
//! assert!(ResourceMetadata::builder("http://api.example.com").is_err());
//! assert!(ResourceMetadata::builder("https://api.example.com/#x").is_err());
//! assert!(ResourceMetadata::builder("https://api.example.com/?tenant=a").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use principal::{Issuer, ScopeSet};
use serde::Serialize;
use tower_service::Service;

/// The well-known URI suffix of RFC 9728 §3.
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// Longest accepted URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// A resource metadata document could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceMetadataError {
    /// A URL member is not an acceptable URL.
    #[error("{field}: {why}")]
    Url {
        /// The member (`resource`, `jwks_uri`, `resource_documentation`...).
        field: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A text member is empty, too long, or holds control characters.
    #[error("{field}: empty, longer than {MAX_URL_LEN} bytes, or holds a control character")]
    Text {
        /// The member.
        field: &'static str,
    },
}

impl ResourceMetadataError {
    /// A stable snake_case label for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            ResourceMetadataError::Url { .. } => "invalid_metadata_url",
            ResourceMetadataError::Text { .. } => "invalid_metadata_text",
        }
    }
}

/// An absolute `https` URL without query or fragment, whose every byte can sit inside a
/// quoted header parameter: returns the host (authority) and the path.
fn check_url<'a>(
    field: &'static str,
    url: &'a str,
) -> Result<(&'a str, &'a str), ResourceMetadataError> {
    let fail = |why| Err(ResourceMetadataError::Url { field, why });
    if url.len() > MAX_URL_LEN {
        return fail("longer than MAX_URL_LEN");
    }
    if !url
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        return fail("holds a space, a control character, a quote, a backslash or non-ASCII");
    }
    let Some(rest) = url.strip_prefix("https://") else {
        return fail("not an https URL");
    };
    if url.contains('#') {
        return fail("has a fragment");
    }
    if url.contains('?') {
        return fail("has a query");
    }
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return fail("has no host");
    }
    if authority.contains('@') {
        return fail("has user information");
    }
    Ok((authority, path))
}

fn check_text(field: &'static str, text: &str) -> Result<(), ResourceMetadataError> {
    if text.is_empty() || text.len() > MAX_URL_LEN || text.chars().any(char::is_control) {
        return Err(ResourceMetadataError::Text { field });
    }
    Ok(())
}

#[derive(Serialize)]
struct Document<'a> {
    resource: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    authorization_servers: &'a [Issuer],
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes_supported: Option<&'a ScopeSet>,
    bearer_methods_supported: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_documentation: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_policy_uri: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_tos_uri: Option<&'a str>,
}

/// Builds a [`ResourceMetadata`]; from [`ResourceMetadata::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ResourceMetadataBuilder {
    resource: String,
    authorization_servers: Vec<Issuer>,
    jwks_uri: Option<String>,
    scopes_supported: Option<ScopeSet>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    resource_policy_uri: Option<String>,
    resource_tos_uri: Option<String>,
}

impl ResourceMetadataBuilder {
    /// Adds an authorization server (an issuer whose tokens this service accepts).
    pub fn authorization_server(mut self, issuer: Issuer) -> Self {
        if !self.authorization_servers.contains(&issuer) {
            self.authorization_servers.push(issuer);
        }
        self
    }

    /// The scopes this service's requirements use.
    pub fn scopes_supported(mut self, scopes: ScopeSet) -> Self {
        self.scopes_supported = Some(scopes);
        self
    }

    /// The URL of this service's own JWK Set.
    pub fn jwks_uri(mut self, url: &str) -> Self {
        self.jwks_uri = Some(url.to_owned());
        self
    }

    /// A name for people.
    pub fn resource_name(mut self, name: &str) -> Self {
        self.resource_name = Some(name.to_owned());
        self
    }

    /// A page of documentation for developers.
    pub fn resource_documentation(mut self, url: &str) -> Self {
        self.resource_documentation = Some(url.to_owned());
        self
    }

    /// The data use policy.
    pub fn resource_policy_uri(mut self, url: &str) -> Self {
        self.resource_policy_uri = Some(url.to_owned());
        self
    }

    /// The terms of service.
    pub fn resource_tos_uri(mut self, url: &str) -> Self {
        self.resource_tos_uri = Some(url.to_owned());
        self
    }

    /// Checks every member and serialises the document once.
    pub fn build(self) -> Result<ResourceMetadata, ResourceMetadataError> {
        let (authority, path) = check_url("resource", &self.resource)?;
        for (field, url) in [
            ("jwks_uri", &self.jwks_uri),
            ("resource_documentation", &self.resource_documentation),
            ("resource_policy_uri", &self.resource_policy_uri),
            ("resource_tos_uri", &self.resource_tos_uri),
        ] {
            if let Some(url) = url {
                check_url(field, url)?;
            }
        }
        if let Some(name) = &self.resource_name {
            check_text("resource_name", name)?;
        }
        // §3.1: a terminating slash after the host is removed before the suffix goes in.
        let path = if path == "/" { "" } else { path };
        let well_known_path = format!("{WELL_KNOWN_PATH}{path}");
        let metadata_url = format!("https://{authority}{well_known_path}");
        let document = serde_json::to_vec(&Document {
            resource: &self.resource,
            authorization_servers: &self.authorization_servers,
            jwks_uri: self.jwks_uri.as_deref(),
            scopes_supported: self.scopes_supported.as_ref(),
            bearer_methods_supported: ["header"],
            resource_name: self.resource_name.as_deref(),
            resource_documentation: self.resource_documentation.as_deref(),
            resource_policy_uri: self.resource_policy_uri.as_deref(),
            resource_tos_uri: self.resource_tos_uri.as_deref(),
        })
        // Strings and string lists only: serialising them cannot fail.
        .map_err(|_| ResourceMetadataError::Text { field: "document" })?;
        Ok(ResourceMetadata {
            inner: Arc::new(Inner {
                resource: self.resource,
                metadata_url,
                well_known_path,
                document: Bytes::from(document),
            }),
        })
    }
}

struct Inner {
    resource: String,
    metadata_url: String,
    well_known_path: String,
    document: Bytes,
}

/// An RFC 9728 protected resource metadata document, checked and serialised once; cheap
/// to clone. See the [module docs](self).
#[derive(Clone)]
pub struct ResourceMetadata {
    inner: Arc<Inner>,
}

impl ResourceMetadata {
    /// A document for the resource identifier `resource` (an `https` URL without query or
    /// fragment).
    pub fn builder(resource: &str) -> Result<ResourceMetadataBuilder, ResourceMetadataError> {
        check_url("resource", resource)?;
        Ok(ResourceMetadataBuilder {
            resource: resource.to_owned(),
            authorization_servers: Vec::new(),
            jwks_uri: None,
            scopes_supported: None,
            resource_name: None,
            resource_documentation: None,
            resource_policy_uri: None,
            resource_tos_uri: None,
        })
    }

    /// The resource identifier.
    pub fn resource(&self) -> &str {
        &self.inner.resource
    }

    /// Where clients fetch the document: the `resource_metadata` of the challenges.
    pub fn metadata_url(&self) -> &str {
        &self.inner.metadata_url
    }

    /// The path this service serves the document at.
    pub fn well_known_path(&self) -> &str {
        &self.inner.well_known_path
    }

    /// The JSON document.
    pub fn document(&self) -> &[u8] {
        &self.inner.document
    }

    /// A tower service that answers the document.
    pub fn service(&self) -> ResourceMetadataService {
        ResourceMetadataService {
            metadata: self.clone(),
        }
    }
}

impl fmt::Debug for ResourceMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceMetadata")
            .field("resource", &self.inner.resource)
            .field("metadata_url", &self.inner.metadata_url)
            .finish_non_exhaustive()
    }
}

/// Serves a [`ResourceMetadata`] document: `GET` (and `HEAD`) answer 200
/// `application/json`; other methods 405 with `Allow: GET, HEAD`. Mount it at
/// [`ResourceMetadata::well_known_path`], outside the authenticate layer: the document is
/// public.
///
/// ```
/// use http::{Request, StatusCode};
/// use tower::ServiceExt;
/// use tower_auth::resource_metadata::ResourceMetadata;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let metadata = ResourceMetadata::builder("https://api.example.com")?.build()?;
/// let response = metadata.service().oneshot(Request::new(())).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// assert_eq!(response.headers()["content-type"], "application/json");
///
/// // Refused: anything but GET and HEAD.
/// let post = Request::post("/").body(())?;
/// let response = metadata.service().oneshot(post).await?;
/// assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct ResourceMetadataService {
    metadata: ResourceMetadata,
}

impl<B> Service<Request<B>> for ResourceMetadataService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = request.method();
        let response = if method == Method::GET || method == Method::HEAD {
            let body = if method == Method::GET {
                self.metadata.inner.document.clone()
            } else {
                Bytes::new()
            };
            let mut response = Response::new(Full::new(body));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
            response
        } else {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        };
        ready(Ok(response))
    }
}
