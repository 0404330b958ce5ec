//! The one way this crate calls out over HTTP (JWKS and metadata fetches, RFC 7662
//! introspection, RFC 8693 token exchange): one reqwest client setup with the same
//! hardening for every caller.
//!
//! - **No redirects**: a redirect could send the call (and, for introspection and token
//!   exchange, the token and the client's credentials) to a host the operator never
//!   named; a 3xx is an answer the caller refuses.
//! - **Timeouts** on connecting and on the whole exchange, body included.
//! - **Bounded bodies**, counted while read: a server that lies about (or omits) its
//!   length is cut off at the limit instead of filling memory.
//! - **JSON only**: [`is_json_media_type`].
//! - **No proxy for loopback**: a loopback server is local by definition; an environment
//!   proxy must not get the call.

use std::time::Duration;

use reqwest::{Client, Response};

/// How a client is built: the timeout, whether the server is on loopback, and whether
/// idle connections are kept.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientSettings {
    /// Connecting, and the whole exchange.
    pub(crate) timeout: Duration,
    /// The server is on a loopback host: no environment proxy.
    pub(crate) loopback: bool,
    /// Keep idle connections for the next call (frequent calls); off for calls minutes
    /// apart, where a fresh connection sees a server that went away at once.
    pub(crate) keep_alive: bool,
}

/// The hardened client.
pub(crate) fn client(settings: ClientSettings) -> Result<Client, reqwest::Error> {
    let mut builder = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .user_agent(concat!("baton-tower-auth/", env!("CARGO_PKG_VERSION")));
    if !settings.keep_alive {
        builder = builder.pool_max_idle_per_host(0);
    }
    if settings.loopback {
        builder = builder.no_proxy();
    }
    builder.build()
}

/// Why a body could not be read.
pub(crate) enum BodyError {
    /// Longer than the limit (announced or counted).
    TooLarge,
    /// The transport failed (a timeout included).
    Transport(reqwest::Error),
}

/// Reads the body of `response`, refusing more than `max_bytes`.
pub(crate) async fn read_bounded(
    response: &mut Response,
    max_bytes: usize,
) -> Result<Vec<u8>, BodyError> {
    let announced = response.content_length();
    if announced.is_some_and(|len| len > max_bytes as u64) {
        return Err(BodyError::TooLarge);
    }
    let capacity = announced
        .map_or(8 * 1024, |len| len as usize)
        .min(max_bytes);
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `application/json` or any `application/*+json`, with any parameters.
pub(crate) fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The error and its sources, joined: reqwest's own message alone says little.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
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
