//! Errors of the key handling: configuration, fetching and lookup, apart.

use principal::Timestamp;

/// The longest key id an error message repeats. A `kid` comes from a token header, so an
/// attacker chooses it: errors and logs keep only a bounded prefix.
const KID_ECHO_LIMIT: usize = 64;

/// A key cache, key set or source was configured wrongly. Found when it is built, never at
/// request time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksConfigError {
    /// `field` is not a URL.
    #[error("{field} is not a valid URL: {detail}")]
    InvalidUrl {
        /// The configuration field.
        field: &'static str,
        /// What the URL parser said.
        detail: String,
    },
    /// `field` uses a scheme other than https, and its host is not a loopback host.
    #[error("{field} must use https (http is allowed for loopback hosts only): {url}")]
    InsecureScheme {
        /// The configuration field.
        field: &'static str,
        /// The rejected URL.
        url: String,
    },
    /// `field` carries a user name or password, which would end up in logs.
    #[error("{field} must not carry credentials")]
    UrlHasCredentials {
        /// The configuration field.
        field: &'static str,
    },
    /// An issuer identifier has a query or fragment (RFC 8414 §2, OIDC Discovery §3).
    #[error("issuer {issuer} must not have a query or fragment")]
    IssuerHasQueryOrFragment {
        /// The rejected issuer.
        issuer: String,
    },
    /// A duration or count that must be positive is zero (after rounding down to seconds).
    #[error("{field} must be at least 1")]
    Zero {
        /// The configuration field.
        field: &'static str,
    },
    /// The refresh lifetimes are out of order: `min_ttl <= default_ttl <= max_ttl` is required.
    #[error(
        "refresh lifetimes out of order: min_ttl {min_ttl}s <= default_ttl {default_ttl}s <= max_ttl {max_ttl}s is required"
    )]
    TtlOutOfOrder {
        /// The floor, seconds.
        min_ttl: u64,
        /// The lifetime used without `Cache-Control`, seconds.
        default_ttl: u64,
        /// The ceiling, seconds.
        max_ttl: u64,
    },
    /// `field` is above its upper bound.
    #[error("{field} is {value}, above the limit {limit}")]
    TooLarge {
        /// The configuration field.
        field: &'static str,
        /// The configured value.
        value: u64,
        /// The largest allowed value.
        limit: u64,
    },
    /// `field` is below its lower bound.
    #[error("{field} is {value}, below the minimum {minimum}")]
    TooSmall {
        /// The configuration field.
        field: &'static str,
        /// The configured value.
        value: u64,
        /// The smallest allowed value.
        minimum: u64,
    },
    /// An HMAC algorithm was allowed for a fetched key set; HMAC keys come only from
    /// configured secrets.
    #[error(
        "{algorithm:?} cannot be allowed for a fetched JWKS: HMAC keys come only from configured secrets"
    )]
    HmacForFetchedKeys {
        /// The refused algorithm.
        algorithm: jsonwebtoken::Algorithm,
    },
    /// The allowed-algorithm list of a key set policy is empty: it would accept nothing.
    #[error("allowed_algorithms is empty")]
    NoAlgorithmsAllowed,
    /// A symmetric key was given an algorithm that is not HS256/384/512.
    #[error("symmetric key {kid:?} needs an HMAC algorithm, not {algorithm:?}")]
    NotHmacAlgorithm {
        /// The key id.
        kid: Option<String>,
        /// The refused algorithm.
        algorithm: jsonwebtoken::Algorithm,
    },
    /// A symmetric secret is shorter than its hash output (RFC 7518 §3.2).
    #[error("symmetric key {kid:?} is {length} bytes; {algorithm:?} needs at least {minimum}")]
    SecretTooShort {
        /// The key id.
        kid: Option<String>,
        /// The algorithm.
        algorithm: jsonwebtoken::Algorithm,
        /// The secret's length in bytes.
        length: usize,
        /// The minimum length in bytes.
        minimum: usize,
    },
    /// Two symmetric keys share a key id.
    #[error("symmetric key id {kid} appears twice")]
    DuplicateKeyId {
        /// The repeated key id.
        kid: String,
    },
    /// A symmetric key set with several keys has a key without a key id.
    #[error("a symmetric key set with several keys needs a kid on every key")]
    MissingKeyId,
    /// A key id is empty or longer than 256 bytes.
    #[error("key id must be 1 to 256 bytes long")]
    InvalidKeyId,
    /// A symmetric key set is empty.
    #[error("the symmetric key set is empty")]
    EmptyKeySet,
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built: {detail}")]
    HttpClient {
        /// What reqwest said.
        detail: String,
    },
    /// The background refresher needs a tokio runtime and none is running.
    #[error("no tokio runtime is running to spawn the refresher on")]
    NoRuntime,
}

impl JwksConfigError {
    /// A stable snake_case reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            JwksConfigError::InvalidUrl { .. } => "invalid_url",
            JwksConfigError::InsecureScheme { .. } => "insecure_scheme",
            JwksConfigError::UrlHasCredentials { .. } => "url_has_credentials",
            JwksConfigError::IssuerHasQueryOrFragment { .. } => "issuer_has_query_or_fragment",
            JwksConfigError::Zero { .. } => "zero_value",
            JwksConfigError::TtlOutOfOrder { .. } => "ttl_out_of_order",
            JwksConfigError::TooLarge { .. } => "value_too_large",
            JwksConfigError::TooSmall { .. } => "value_too_small",
            JwksConfigError::HmacForFetchedKeys { .. } => "hmac_for_fetched_keys",
            JwksConfigError::NoAlgorithmsAllowed => "no_algorithms_allowed",
            JwksConfigError::NotHmacAlgorithm { .. } => "not_hmac_algorithm",
            JwksConfigError::SecretTooShort { .. } => "secret_too_short",
            JwksConfigError::DuplicateKeyId { .. } => "duplicate_kid",
            JwksConfigError::MissingKeyId => "missing_kid",
            JwksConfigError::InvalidKeyId => "invalid_kid",
            JwksConfigError::EmptyKeySet => "empty_key_set",
            JwksConfigError::HttpClient { .. } => "http_client",
            JwksConfigError::NoRuntime => "no_runtime",
        }
    }
}

/// Fetching or loading a key set failed. The cache keeps serving its last good set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The server could not be reached (connection refused, reset, DNS, TLS).
    #[error("{url} is unreachable: {detail}")]
    Unreachable {
        /// The URL fetched.
        url: String,
        /// What the HTTP client said.
        detail: String,
    },
    /// The server did not answer within the fetch timeout.
    #[error("{url} did not answer within the fetch timeout")]
    Timeout {
        /// The URL fetched.
        url: String,
    },
    /// The server answered with a status other than 200.
    #[error("{url} answered HTTP {status}")]
    HttpStatus {
        /// The URL fetched.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The server answered with a redirect; redirects are not followed, so a compromised or
    /// misconfigured host cannot send the fetch elsewhere.
    #[error("{url} answered with redirect {status}; redirects are not followed")]
    RedirectRefused {
        /// The URL fetched.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The `Content-Type` of the answer is not JSON (for example an HTML error page).
    #[error("{url} answered with content type {content_type:?}, not JSON")]
    UnexpectedContentType {
        /// The URL fetched.
        url: String,
        /// The content type received.
        content_type: String,
    },
    /// The body is larger than `max_body_bytes`.
    #[error("the body of {url} exceeds {limit} bytes")]
    BodyTooLarge {
        /// The URL fetched.
        url: String,
        /// The configured limit.
        limit: usize,
    },
    /// The body is not valid JSON of the expected shape.
    #[error("the document is not valid JSON: {detail}")]
    InvalidJson {
        /// What the JSON parser said.
        detail: String,
    },
    /// The JWKS's `keys` array is empty.
    #[error("the key set is empty")]
    EmptyKeySet,
    /// The JWKS has more keys than the policy's `max_keys`.
    #[error("the key set has {count} keys, above the limit {limit}")]
    TooManyKeys {
        /// Keys in the document.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Every key in the JWKS was dropped (see the warnings logged for each).
    #[error("none of the {dropped} keys in the set is usable")]
    NoUsableKeys {
        /// Keys dropped.
        dropped: usize,
    },
    /// The metadata's `issuer` is not exactly the configured issuer (OIDC Discovery §4.3,
    /// RFC 8414 §3.3).
    #[error("metadata names issuer {advertised:?}, expected exactly {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The issuer the metadata names.
        advertised: String,
    },
    /// The metadata has no `jwks_uri`.
    #[error("the metadata has no jwks_uri")]
    MissingJwksUri,
    /// The metadata's `jwks_uri` is not a URL.
    #[error("the metadata's jwks_uri is not a valid URL: {detail}")]
    InvalidJwksUri {
        /// What the URL parser said.
        detail: String,
    },
    /// The metadata's `jwks_uri` is not https and not on a loopback host, or carries
    /// credentials.
    #[error(
        "the metadata's jwks_uri {uri} must use https (http only on loopback) and carry no credentials"
    )]
    InsecureJwksUri {
        /// The rejected URI.
        uri: String,
    },
}

impl JwksError {
    /// A stable snake_case reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            JwksError::Unreachable { .. } => "unreachable",
            JwksError::Timeout { .. } => "timeout",
            JwksError::HttpStatus { .. } => "http_status",
            JwksError::RedirectRefused { .. } => "redirect_refused",
            JwksError::UnexpectedContentType { .. } => "unexpected_content_type",
            JwksError::BodyTooLarge { .. } => "body_too_large",
            JwksError::InvalidJson { .. } => "invalid_json",
            JwksError::EmptyKeySet => "empty_key_set",
            JwksError::TooManyKeys { .. } => "too_many_keys",
            JwksError::NoUsableKeys { .. } => "no_usable_keys",
            JwksError::IssuerMismatch { .. } => "issuer_mismatch",
            JwksError::MissingJwksUri => "missing_jwks_uri",
            JwksError::InvalidJwksUri { .. } => "invalid_jwks_uri",
            JwksError::InsecureJwksUri { .. } => "insecure_jwks_uri",
        }
    }
}

/// No key could be given for a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The token's `kid` is not in the key set, even after the refetch the cooldown allowed.
    #[error("no key with id {kid:?}")]
    UnknownKeyId {
        /// The key id asked for, cut to 64 bytes (it comes from the token).
        kid: String,
    },
    /// The token has no `kid`, and the key set has more than one key, so none can be chosen.
    #[error("the token has no kid and the key set holds {keys} keys")]
    MissingKeyId {
        /// Keys in the set.
        keys: usize,
    },
    /// No key set was ever loaded (the IdP was down at start-up and since).
    #[error("no key set is loaded")]
    NotLoaded {
        /// The last fetch error, if a fetch was tried.
        last_error: Option<JwksError>,
    },
    /// The last good key set is older than the maximum staleness allows: fail closed.
    #[error("the key set was usable until {serve_until} and could not be refreshed")]
    Stale {
        /// When the set stopped being usable.
        serve_until: Timestamp,
        /// The last fetch error.
        last_error: Option<JwksError>,
    },
}

impl KeyError {
    /// A stable snake_case reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            KeyError::UnknownKeyId { .. } => "unknown_kid",
            KeyError::MissingKeyId { .. } => "missing_kid",
            KeyError::NotLoaded { .. } => "keys_not_loaded",
            KeyError::Stale { .. } => "keys_stale",
        }
    }

    /// An `UnknownKeyId` for `kid`, cut to a bounded length on a character boundary.
    pub(crate) fn unknown_kid(kid: &str) -> Self {
        let mut end = kid.len().min(KID_ECHO_LIMIT);
        while !kid.is_char_boundary(end) {
            end -= 1;
        }
        KeyError::UnknownKeyId {
            kid: kid[..end].to_owned(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kid_is_cut_on_a_char_boundary() {
        let long = "é".repeat(100);
        let KeyError::UnknownKeyId { kid } = KeyError::unknown_kid(&long) else {
            panic!("wrong variant");
        };
        assert!(kid.len() <= KID_ECHO_LIMIT);
        assert!(long.starts_with(&kid));
    }
}
