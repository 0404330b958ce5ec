//! How this service authenticates itself to the token endpoint (RFC 6749 §2.3.1).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;

use super::ExchangeConfigError;

/// Longest client id accepted, in bytes.
pub const MAX_CLIENT_ID_BYTES: usize = 256;
/// Longest client secret accepted, in bytes.
pub const MAX_CLIENT_SECRET_BYTES: usize = 4096;

/// The client authentication a [`TokenExchangeClient`](super::TokenExchangeClient)
/// presents to the token endpoint:
///
/// - [`client_secret_basic`](Self::client_secret_basic): `Authorization: Basic`, with the
///   id and secret each form-urlencoded first (RFC 6749 §2.3.1);
/// - [`client_secret_post`](Self::client_secret_post): `client_id` and `client_secret`
///   in the form body.
///
/// The secret never shows in `Debug`, and the header carrying it is marked sensitive.
///
/// ```
/// use tower_auth::exchange::ClientAuth;
///
/// let auth = ClientAuth::client_secret_basic("edge", "s3cret")?;
/// assert_eq!(auth.method(), "client_secret_basic");
/// assert_eq!(auth.client_id(), "edge");
/// assert!(!format!("{auth:?}").contains("s3cret"));
/// // Rejected: an empty secret, and a client id with a line break.
/// assert!(ClientAuth::client_secret_post("edge", "").is_err());
/// assert!(ClientAuth::client_secret_post("ed\nge", "s3cret").is_err());
/// # Ok::<(), tower_auth::exchange::ExchangeConfigError>(())
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
}

impl ClientAuth {
    /// HTTP Basic with `client_id` and `secret` (`client_secret_basic`).
    pub fn client_secret_basic(
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Result<Self, ExchangeConfigError> {
        let client_id = checked_client_id(client_id.into())?;
        let secret = checked_secret(secret.into())?;
        // RFC 6749 §2.3.1: each is form-urlencoded before they are joined and encoded.
        let credentials = format!("{}:{}", form_encode(&client_id), form_encode(&secret));
        let mut authorization =
            HeaderValue::try_from(format!("Basic {}", STANDARD.encode(credentials))).map_err(
                |_| ExchangeConfigError::InvalidClientAuth {
                    why: "the credentials cannot be sent in a header",
                },
            )?;
        authorization.set_sensitive(true);
        Ok(ClientAuth(Method::Basic {
            client_id,
            authorization,
        }))
    }

    /// `client_id` and `client_secret` in the request body (`client_secret_post`).
    pub fn client_secret_post(
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Result<Self, ExchangeConfigError> {
        Ok(ClientAuth(Method::Post {
            client_id: checked_client_id(client_id.into())?,
            secret: checked_secret(secret.into())?,
        }))
    }

    /// The method's name: `client_secret_basic` or `client_secret_post`.
    pub fn method(&self) -> &'static str {
        match &self.0 {
            Method::Basic { .. } => "client_secret_basic",
            Method::Post { .. } => "client_secret_post",
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        match &self.0 {
            Method::Basic { client_id, .. } | Method::Post { client_id, .. } => client_id,
        }
    }

    /// The `Authorization` header value, for `client_secret_basic`.
    pub(crate) fn authorization(&self) -> Option<&HeaderValue> {
        match &self.0 {
            Method::Basic { authorization, .. } => Some(authorization),
            Method::Post { .. } => None,
        }
    }

    /// Adds the body parameters of `client_secret_post` to `form`.
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

fn checked_client_id(client_id: String) -> Result<String, ExchangeConfigError> {
    if client_id.is_empty()
        || client_id.len() > MAX_CLIENT_ID_BYTES
        || client_id.chars().any(char::is_control)
    {
        return Err(ExchangeConfigError::InvalidClientAuth {
            why: "the client id must be 1 to 256 bytes without control characters",
        });
    }
    Ok(client_id)
}

fn checked_secret(secret: String) -> Result<String, ExchangeConfigError> {
    if secret.is_empty() || secret.len() > MAX_CLIENT_SECRET_BYTES {
        return Err(ExchangeConfigError::InvalidClientAuth {
            why: "the secret must be 1 to 4096 bytes",
        });
    }
    Ok(secret)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn basic_form_encodes_id_and_secret_before_base64() {
        let auth = ClientAuth::client_secret_basic("client:id", "s&cret %").unwrap();
        let value = auth.authorization().unwrap();
        assert!(value.is_sensitive());
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "client%3Aid:s%26cret+%25");
        let mut form = form_urlencoded::Serializer::new(String::new());
        auth.append_to_form(&mut form);
        assert_eq!(form.finish(), "");
    }

    #[test]
    fn post_puts_the_credentials_in_the_body_only() {
        let auth = ClientAuth::client_secret_post("edge api", "p&w").unwrap();
        assert!(auth.authorization().is_none());
        let mut form = form_urlencoded::Serializer::new(String::new());
        auth.append_to_form(&mut form);
        assert_eq!(form.finish(), "client_id=edge+api&client_secret=p%26w");
    }

    #[test]
    fn bad_credentials_are_refused_and_secrets_stay_out_of_debug() {
        for refused in [
            ClientAuth::client_secret_basic("", "x"),
            ClientAuth::client_secret_basic("a\nb", "x"),
            ClientAuth::client_secret_basic("a".repeat(MAX_CLIENT_ID_BYTES + 1), "x"),
            ClientAuth::client_secret_post("id", ""),
            ClientAuth::client_secret_post("id", "x".repeat(MAX_CLIENT_SECRET_BYTES + 1)),
        ] {
            assert_eq!(refused.unwrap_err().reason(), "invalid_client_auth");
        }
        for auth in [
            ClientAuth::client_secret_basic("id", "hunter2").unwrap(),
            ClientAuth::client_secret_post("id", "hunter2").unwrap(),
        ] {
            assert!(!format!("{auth:?}").contains("hunter2"));
        }
    }
}
