//! The errors of configuring an introspection verifier, and its bounds.

use std::time::Duration;

/// Request timeout when none is configured: introspection runs on the request path.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest request timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read, in bytes: the size bound of a claims document
/// ([`MAX_CLAIMS_JSON_LEN`](principal::limits::MAX_CLAIMS_JSON_LEN)).
pub const MAX_ANSWER_BYTES: usize = principal::limits::MAX_CLAIMS_JSON_LEN;

/// An introspection verifier's configuration was refused. Found when it is built, never
/// at request time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectionConfigError {
    /// The endpoint is not a URL.
    #[error("introspection endpoint is not a valid URL: {detail}")]
    InvalidEndpoint {
        /// What the URL parser said.
        detail: String,
    },
    /// The endpoint is not `https` (or `http` on a loopback host): the token and the
    /// client's credentials would cross the network in clear.
    #[error(
        "introspection endpoint must use https (http is allowed for loopback hosts only): {url}"
    )]
    InsecureEndpoint {
        /// The refused URL.
        url: String,
    },
    /// The endpoint URL carries a user name or password (they would end up in logs; use
    /// [`ClientAuth`](super::ClientAuth)).
    #[error("introspection endpoint must not carry credentials")]
    EndpointHasCredentials,
    /// No accepted audience, and the audience check was not explicitly turned off.
    #[error(
        "audiences is empty (name the accepted audiences, or call insecure_skip_audience_check)"
    )]
    NoAudiences,
    /// A bound is outside its range.
    #[error("{field} is {value}, not between {min} and {max}")]
    OutOfRange {
        /// The configuration field.
        field: &'static str,
        /// The value asked for (seconds for durations).
        value: u64,
        /// The smallest value accepted.
        min: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// A client id, secret or bearer credential cannot be used.
    #[error("client authentication: {why}")]
    InvalidClientAuth {
        /// What is wrong.
        why: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built: {detail}")]
    HttpClient {
        /// What reqwest said.
        detail: String,
    },
    /// A value of the deserializable settings does not parse (an issuer, audience or
    /// service id).
    #[error("{field}: {value:?} is not valid")]
    InvalidSetting {
        /// The field.
        field: &'static str,
        /// The value, as given (cut to a bounded length).
        value: String,
    },
}

impl IntrospectionConfigError {
    /// A stable snake_case reason for logs.
    ///
    /// ```
    /// use tower_auth::introspect::ClientAuth;
    ///
    /// let err = ClientAuth::bearer("").unwrap_err();
    /// assert_eq!(err.reason(), "invalid_client_auth");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            IntrospectionConfigError::InvalidEndpoint { .. } => "invalid_endpoint",
            IntrospectionConfigError::InsecureEndpoint { .. } => "insecure_endpoint",
            IntrospectionConfigError::EndpointHasCredentials => "endpoint_has_credentials",
            IntrospectionConfigError::NoAudiences => "no_audiences",
            IntrospectionConfigError::OutOfRange { .. } => "out_of_range",
            IntrospectionConfigError::InvalidClientAuth { .. } => "invalid_client_auth",
            IntrospectionConfigError::HttpClient { .. } => "http_client",
            IntrospectionConfigError::InvalidSetting { .. } => "invalid_setting",
        }
    }
}

/// `value` if it lies in `min..=max`, else [`IntrospectionConfigError::OutOfRange`].
pub(crate) fn in_range(
    field: &'static str,
    value: u64,
    min: u64,
    max: u64,
) -> Result<u64, IntrospectionConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(IntrospectionConfigError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

impl From<crate::client_auth::ClientAuthError> for IntrospectionConfigError {
    fn from(error: crate::client_auth::ClientAuthError) -> Self {
        IntrospectionConfigError::InvalidClientAuth { why: error.why() }
    }
}
