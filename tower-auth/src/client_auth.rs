//! How this service authenticates itself to an authorization server's endpoints: the
//! introspection endpoint (RFC 7662 §2.1) and the token endpoint of a token exchange
//! (RFC 8693, RFC 6749 §2.3.1). One type for both, so the credential rules and their
//! redaction live in one place.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;

/// Longest client id accepted, in bytes.
pub const MAX_CLIENT_ID_BYTES: usize = 256;
/// Longest client secret or bearer credential accepted, in bytes.
pub const MAX_CLIENT_SECRET_BYTES: usize = 4096;

/// A client id, secret or bearer credential that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("client authentication: {why}")]
pub struct ClientAuthError {
    why: &'static str,
}

impl ClientAuthError {
    /// Which rule the credential broke.
    pub fn why(&self) -> &'static str {
        self.why
    }

    /// The stable snake_case label: `invalid_client_auth`.
    pub fn reason(&self) -> &'static str {
        "invalid_client_auth"
    }
}

/// The client authentication an
/// [`IntrospectionVerifier`](crate::introspect::IntrospectionVerifier) (RFC 7662 §2.1
/// requires one) or a [`TokenExchangeClient`](crate::exchange::TokenExchangeClient)
/// presents to its endpoint. Also reachable as `tower_auth::introspect::ClientAuth` and
/// `tower_auth::exchange::ClientAuth`.
///
/// - [`client_secret_basic`](Self::client_secret_basic): `Authorization: Basic`, with the
///   id and secret each form-urlencoded first (RFC 6749 §2.3.1);
/// - [`client_secret_post`](Self::client_secret_post): `client_id` and `client_secret`
///   in the form body;
/// - [`bearer`](Self::bearer): `Authorization: Bearer` with a token of this service's own.
///
/// Secrets never show in `Debug`, and header values carrying them are marked sensitive.
///
/// ```
/// use tower_auth::introspect::ClientAuth;
///
/// let auth = ClientAuth::client_secret_basic("orders-api", "s3cret")?;
/// assert_eq!(auth.method(), "client_secret_basic");
/// assert_eq!(auth.client_id(), Some("orders-api"));
/// assert!(!format!("{auth:?}").contains("s3cret"));
///
/// // Rejected: an empty secret, and a bearer credential that is no header value.
/// assert!(ClientAuth::client_secret_post("orders-api", "").is_err());
/// assert!(ClientAuth::bearer("line\nbreak").is_err());
/// # Ok::<(), tower_auth::client_auth::ClientAuthError>(())
/// ```
#[derive(Clone)]
pub struct ClientAuth(Method);

#[derive(Clone)]
enum Method {
    Basic {
        client_id: String,
        authorization: HeaderValue,
    },
    Post {
        client_id: String,
        secret: String,
    },
    Bearer {
        authorization: HeaderValue,
    },
}

impl ClientAuth {
    /// HTTP Basic with `client_id` and `secret` (`client_secret_basic`).
    pub fn client_secret_basic(
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Result<Self, ClientAuthError> {
        let client_id = checked_client_id(client_id.into())?;
        let secret = checked_secret(secret.into())?;
        // RFC 6749 §2.3.1: each is form-urlencoded before they are joined and encoded.
        let credentials = format!("{}:{}", form_encode(&client_id), form_encode(&secret));
        let authorization = sensitive(format!("Basic {}", STANDARD.encode(credentials)))?;
        Ok(ClientAuth(Method::Basic {
            client_id,
            authorization,
        }))
    }

    /// `client_id` and `client_secret` in the request body (`client_secret_post`).
    pub fn client_secret_post(
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Result<Self, ClientAuthError> {
        Ok(ClientAuth(Method::Post {
            client_id: checked_client_id(client_id.into())?,
            secret: checked_secret(secret.into())?,
        }))
    }

    /// `Authorization: Bearer <token>`, a credential of this service's own that the
    /// authorization server accepts.
    pub fn bearer(token: impl Into<String>) -> Result<Self, ClientAuthError> {
        let token = checked_secret(token.into())?;
        Ok(ClientAuth(Method::Bearer {
            authorization: sensitive(format!("Bearer {token}"))?,
        }))
    }

    /// The method's name: `client_secret_basic`, `client_secret_post` or `bearer`.
    pub fn method(&self) -> &'static str {
        match &self.0 {
            Method::Basic { .. } => "client_secret_basic",
            Method::Post { .. } => "client_secret_post",
            Method::Bearer { .. } => "bearer",
        }
    }

    /// The client id, for the secret-based methods.
    pub fn client_id(&self) -> Option<&str> {
        match &self.0 {
            Method::Basic { client_id, .. } | Method::Post { client_id, .. } => Some(client_id),
            Method::Bearer { .. } => None,
        }
    }

    /// The `Authorization` header value, for the header-based methods.
    pub(crate) fn authorization(&self) -> Option<&HeaderValue> {
        match &self.0 {
            Method::Basic { authorization, .. } | Method::Bearer { authorization } => {
                Some(authorization)
            }
            Method::Post { .. } => None,
        }
    }

    /// Adds the body parameters of `client_secret_post` to `form` (nothing for the
    /// header-based methods).
    pub(crate) fn append_to_form(&self, form: &mut form_urlencoded::Serializer<'_, String>) {
        if let Method::Post { client_id, secret } = &self.0 {
            form.append_pair("client_id", client_id);
            form.append_pair("client_secret", secret);
        }
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuth")
            .field("method", &self.method())
            .field("client_id", &self.client_id())
            .finish_non_exhaustive()
    }
}

fn form_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn checked_client_id(client_id: String) -> Result<String, ClientAuthError> {
    if client_id.is_empty()
        || client_id.len() > MAX_CLIENT_ID_BYTES
        || client_id.chars().any(char::is_control)
    {
        return Err(ClientAuthError {
            why: "the client id must be 1 to 256 bytes without control characters",
        });
    }
    Ok(client_id)
}

fn checked_secret(secret: String) -> Result<String, ClientAuthError> {
    if secret.is_empty() || secret.len() > MAX_CLIENT_SECRET_BYTES {
        return Err(ClientAuthError {
            why: "the secret must be 1 to 4096 bytes",
        });
    }
    Ok(secret)
}

fn sensitive(value: String) -> Result<HeaderValue, ClientAuthError> {
    let mut value = HeaderValue::try_from(value).map_err(|_| ClientAuthError {
        why: "the credential cannot be sent in a header",
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn form_of(auth: &ClientAuth) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        auth.append_to_form(&mut form);
        form.finish()
    }

    #[test]
    fn basic_form_encodes_id_and_secret_before_base64() {
        let auth = ClientAuth::client_secret_basic("client:id", "s&cret %").unwrap();
        let value = auth.authorization().unwrap();
        assert!(value.is_sensitive());
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "client%3Aid:s%26cret+%25");
        assert_eq!(form_of(&auth), "");
    }

    #[test]
    fn post_puts_the_credentials_in_the_body_only() {
        let auth = ClientAuth::client_secret_post("orders api", "p&w").unwrap();
        assert!(auth.authorization().is_none());
        assert_eq!(form_of(&auth), "client_id=orders+api&client_secret=p%26w");
    }

    #[test]
    fn bad_credentials_are_refused_and_secrets_stay_out_of_debug() {
        for refused in [
            ClientAuth::client_secret_basic("", "x"),
            ClientAuth::client_secret_basic("a\nb", "x"),
            ClientAuth::client_secret_basic("a".repeat(MAX_CLIENT_ID_BYTES + 1), "x"),
            ClientAuth::client_secret_post("id", ""),
            ClientAuth::client_secret_post("id", "x".repeat(MAX_CLIENT_SECRET_BYTES + 1)),
            ClientAuth::bearer(""),
            ClientAuth::bearer("a\r\nx: y"),
        ] {
            assert_eq!(refused.unwrap_err().reason(), "invalid_client_auth");
        }
        for auth in [
            ClientAuth::client_secret_basic("id", "hunter2").unwrap(),
            ClientAuth::client_secret_post("id", "hunter2").unwrap(),
            ClientAuth::bearer("hunter2").unwrap(),
        ] {
            assert!(!format!("{auth:?}").contains("hunter2"));
        }
    }
}
