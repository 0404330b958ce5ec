//! HTTP fetching of metadata and JWKS documents: no redirects, bounded bodies, JSON only.

use reqwest::header::{ACCEPT, AGE, CACHE_CONTROL, CONTENT_TYPE, HeaderMap};
use reqwest::{Client, StatusCode, Url};
use serde::Deserialize;

use super::error::{JwksConfigError, JwksError};
use super::key::echo;
use super::policy::{RefreshPolicy, freshness_lifetime};
use super::source::JwksSource;
use super::source::url_rule::{UrlProblem, check_discovered_jwks_uri};

/// A JWKS body as received, with the freshness its headers give.
pub(crate) struct FetchedJwks {
    pub(crate) body: Vec<u8>,
    pub(crate) max_age: Option<u64>,
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: Option<String>,
}

/// Fetches one source's documents.
pub(crate) struct Fetcher {
    client: Client,
    max_body_bytes: usize,
}

impl Fetcher {
    pub(crate) fn new(
        source: &JwksSource,
        policy: &RefreshPolicy,
    ) -> Result<Self, JwksConfigError> {
        let mut builder = Client::builder()
            // A redirect could send the fetch to a host the operator never named.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(policy.fetch_timeout())
            .connect_timeout(policy.fetch_timeout())
            // Fetches are minutes apart: a pooled connection buys nothing, and a fresh one
            // sees a server that went away at once.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("baton-tower-auth/", env!("CARGO_PKG_VERSION")));
        if source.is_loopback() {
            // A loopback IdP is local by definition; an environment proxy must not get it.
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| JwksConfigError::HttpClient {
            detail: error_chain(&e),
        })?;
        Ok(Fetcher {
            client,
            max_body_bytes: policy.max_body_bytes(),
        })
    }

    /// Reads the metadata document, checks its `issuer` and returns its `jwks_uri`.
    pub(crate) async fn discover(
        &self,
        issuer: &str,
        metadata_url: &Url,
    ) -> Result<Url, JwksError> {
        let (body, _) = self.get(metadata_url).await?;
        let metadata: Metadata =
            serde_json::from_slice(&body).map_err(|e| JwksError::InvalidJson {
                // serde_json repeats the offending value: the IdP chooses it, so it is cut.
                detail: echo(&e.to_string()),
            })?;
        // OIDC Discovery §4.3, RFC 8414 §3.3: exact string comparison, no normalisation.
        if metadata.issuer != issuer {
            return Err(JwksError::IssuerMismatch {
                expected: issuer.to_owned(),
                advertised: echo(&metadata.issuer),
            });
        }
        let raw = metadata.jwks_uri.ok_or(JwksError::MissingJwksUri)?;
        let url = Url::parse(&raw).map_err(|e| JwksError::InvalidJwksUri {
            detail: echo(&e.to_string()),
        })?;
        match check_discovered_jwks_uri(metadata_url, &url) {
            Ok(()) => Ok(url),
            Err(UrlProblem::InsecureScheme) => Err(JwksError::InsecureJwksUri {
                uri: echo(url.as_str()),
            }),
            Err(UrlProblem::Credentials) => {
                // The error is logged: keep the credentials out of it.
                let mut shown = url;
                let _ = shown.set_username("");
                let _ = shown.set_password(None);
                Err(JwksError::InsecureJwksUri {
                    uri: echo(shown.as_str()),
                })
            }
        }
    }

    /// Fetches a JWKS document.
    pub(crate) async fn fetch_jwks(&self, url: &Url) -> Result<FetchedJwks, JwksError> {
        let (body, headers) = self.get(url).await?;
        let cache_control = headers
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let age = headers.get(AGE).and_then(|v| v.to_str().ok());
        let max_age = freshness_lifetime(cache_control, age);
        Ok(FetchedJwks { body, max_age })
    }

    async fn get(&self, url: &Url) -> Result<(Vec<u8>, HeaderMap), JwksError> {
        // A discovered `jwks_uri` is the IdP's text: errors (which are logged) hold a
        // bounded prefix of it.
        let url_text = &*echo(url.as_str());
        let mut response = self
            .client
            .get(url.clone())
            .header(ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| transport_error(url_text, &e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(JwksError::RedirectRefused {
                url: url_text.to_owned(),
                status: status.as_u16(),
            });
        }
        if status != StatusCode::OK {
            return Err(JwksError::HttpStatus {
                url: url_text.to_owned(),
                status: status.as_u16(),
            });
        }
        if let Some(content_type) = response.headers().get(CONTENT_TYPE) {
            let text = content_type.to_str().unwrap_or("");
            if !is_json_media_type(text) {
                return Err(JwksError::UnexpectedContentType {
                    url: url_text.to_owned(),
                    content_type: echo(text),
                });
            }
        }
        let too_large = || JwksError::BodyTooLarge {
            url: url_text.to_owned(),
            limit: self.max_body_bytes,
        };
        let announced = response.content_length();
        if announced.is_some_and(|len| len > self.max_body_bytes as u64) {
            return Err(too_large());
        }
        let capacity = announced
            .map_or(8 * 1024, |len| len as usize)
            .min(self.max_body_bytes);
        let mut body = Vec::with_capacity(capacity);
        // Counted while reading: a server that lies about (or omits) its length is cut off
        // at the limit instead of filling memory.
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(url_text, &e))?
        {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, response.headers().clone()))
    }
}

/// `application/json`, `application/jwk-set+json` or any `application/*+json`, with any
/// parameters. A missing `Content-Type` is let through to the JSON parser.
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn transport_error(url: &str, error: &reqwest::Error) -> JwksError {
    if error.is_timeout() {
        JwksError::Timeout {
            url: url.to_owned(),
        }
    } else {
        JwksError::Unreachable {
            url: url.to_owned(),
            // reqwest's chain repeats the URL and whatever the peer's TLS or HTTP stack said.
            detail: echo(&error_chain(error)),
        }
    }
}

/// The error and its sources, joined: reqwest's own message alone says little.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/jwk-set+json",
            "application/problem+json",
        ] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in [
            "text/html",
            "text/html; charset=utf-8",
            "text/plain",
            "application/jsonp",
            "",
        ] {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }
}
