//! HTTP fetching of metadata and JWKS documents, with the crate's one hardened client
//! ([`crate::http_client`]: no redirects, timeouts, bounded bodies, JSON only).

use reqwest::header::{ACCEPT, AGE, CACHE_CONTROL, CONTENT_TYPE, HeaderMap};
use reqwest::{Client, StatusCode, Url};
use serde::Deserialize;

use crate::http_client::{self, BodyError, ClientSettings, error_chain, is_json_media_type};

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
        let client = http_client::client(ClientSettings {
            timeout: policy.fetch_timeout(),
            loopback: source.is_loopback(),
            // Fetches are minutes apart: a pooled connection buys nothing, and a fresh one
            // sees a server that went away at once.
            keep_alive: false,
        })
        .map_err(|e| JwksConfigError::HttpClient {
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
        let body = http_client::read_bounded(&mut response, self.max_body_bytes)
            .await
            .map_err(|error| match error {
                BodyError::TooLarge => too_large(),
                BodyError::Transport(e) => transport_error(url_text, &e),
            })?;
        Ok((body, response.headers().clone()))
    }
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
