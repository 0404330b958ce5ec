//! The client registry: [`ClientSecret`] (a SHA-256 digest, compared in constant time),
//! [`RegisteredClient`], and RFC 6749 §2.3.1 client authentication.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use principal::Audience;

use super::form::{Form, percent_decode};
use super::{StsConfigError, StsError};

/// The shortest client secret accepted, in bytes: secrets are generated, high-entropy
/// values (they are hashed with plain SHA-256, not a password hash).
pub const MIN_CLIENT_SECRET_BYTES: usize = 24;
/// The longest client secret accepted, in bytes.
const MAX_CLIENT_SECRET_BYTES: usize = 4096;
/// The longest client id accepted, in bytes.
pub const MAX_CLIENT_ID_BYTES: usize = 256;

/// A client's secret, held only as its SHA-256 digest. `Debug` never shows it.
///
/// ```
/// use tower_auth::sts::ClientSecret;
///
/// assert!(ClientSecret::new("kq3V9w2LxR7tYb5NcP8mZs4HdF6gJ1").is_ok());
/// // Refused: too short to be a generated secret.
/// assert_eq!(ClientSecret::new("hunter2").unwrap_err().reason(), "client_secret_length");
/// ```
#[derive(Clone)]
pub struct ClientSecret {
    sha256: [u8; 32],
}

impl ClientSecret {
    /// The secret `secret` (at least [`MIN_CLIENT_SECRET_BYTES`], at most 4096 bytes),
    /// hashed at once.
    pub fn new(secret: &str) -> Result<Self, StsConfigError> {
        if secret.len() < MIN_CLIENT_SECRET_BYTES || secret.len() > MAX_CLIENT_SECRET_BYTES {
            return Err(StsConfigError::ClientSecretLength {
                min: MIN_CLIENT_SECRET_BYTES,
            });
        }
        Ok(ClientSecret {
            sha256: sha256(secret.as_bytes()),
        })
    }

    /// A secret known only by its SHA-256 digest (configuration that never held the
    /// secret itself).
    pub fn from_sha256(digest: [u8; 32]) -> Self {
        ClientSecret { sha256: digest }
    }

    /// Whether `presented` is the secret: digests compared in constant time.
    fn matches(&self, presented: &str) -> bool {
        verify_slices_are_equal(&sha256(presented.as_bytes()), &self.sha256).is_ok()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

pub(super) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// A client of the token service: its id, its secret, the audiences it may exchange for
/// (none: it may not exchange, `unauthorized_client`), and whether it may introspect.
///
/// ```
/// use principal::Audience;
/// use tower_auth::sts::{ClientSecret, RegisteredClient};
///
/// let secret = || ClientSecret::new("kq3V9w2LxR7tYb5NcP8mZs4HdF6gJ1");
/// let gateway = RegisteredClient::new("gateway", secret()?)?
///     .may_exchange_for(Audience::new("orders-api")?);
/// assert_eq!(gateway.id(), "gateway");
/// // Refused: an id that is not visible ASCII.
/// assert!(RegisteredClient::new("two words", secret()?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RegisteredClient {
    id: String,
    secret: ClientSecret,
    audiences: Vec<Audience>,
    may_introspect: bool,
}

impl RegisteredClient {
    /// The client `id` (1 to [`MAX_CLIENT_ID_BYTES`] visible ASCII characters) with
    /// `secret`; it may exchange for no audience until given some.
    pub fn new(id: impl Into<String>, secret: ClientSecret) -> Result<Self, StsConfigError> {
        let id = id.into();
        if id.is_empty()
            || id.len() > MAX_CLIENT_ID_BYTES
            || !id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(StsConfigError::InvalidClientId);
        }
        Ok(RegisteredClient {
            id,
            secret,
            audiences: Vec::new(),
            may_introspect: false,
        })
    }

    /// Allows token exchange for `audience`.
    #[must_use]
    pub fn may_exchange_for(mut self, audience: Audience) -> Self {
        if !self.audiences.contains(&audience) {
            self.audiences.push(audience);
        }
        self
    }

    /// Allows RFC 7662 introspection (a resource server).
    #[must_use]
    pub fn may_introspect(mut self) -> Self {
        self.may_introspect = true;
        self
    }

    /// The client id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The audiences it may exchange for.
    pub fn audiences(&self) -> &[Audience] {
        &self.audiences
    }

    pub(super) fn can_introspect(&self) -> bool {
        self.may_introspect
    }
}

/// The registered clients by id.
#[derive(Debug, Default)]
pub(super) struct Clients {
    by_id: HashMap<String, RegisteredClient>,
}

/// Compared against when the client is unknown, so an unknown id costs the same hash and
/// comparison as a known one.
const DUMMY_DIGEST: [u8; 32] = [0; 32];

impl Clients {
    pub(super) fn insert(&mut self, client: RegisteredClient) -> Result<(), StsConfigError> {
        if self.by_id.contains_key(&client.id) {
            return Err(StsConfigError::DuplicateClient {
                client_id: client.id,
            });
        }
        self.by_id.insert(client.id.clone(), client);
        Ok(())
    }

    /// RFC 6749 §2.3.1: `client_secret_basic` (the `Authorization: Basic` header, id and
    /// secret form-urlencoded before base64) or `client_secret_post` (`client_id` and
    /// `client_secret` in the body), never both.
    pub(super) fn authenticate(
        &self,
        headers: &HeaderMap,
        form: &Form,
    ) -> Result<&RegisteredClient, StsError> {
        let post_id = form.single("client_id")?;
        let post_secret = form.single("client_secret")?;
        let header = headers.get(AUTHORIZATION);
        let (id, secret) = match (header, post_secret) {
            (Some(_), Some(_)) => return Err(StsError::MultipleClientAuthentications),
            (Some(value), None) => {
                let (id, secret) = basic(value.as_bytes())?;
                // A `client_id` in the body too must name the same client.
                if post_id.is_some_and(|p| p != id) {
                    return Err(StsError::MultipleClientAuthentications);
                }
                (id, secret)
            }
            (None, Some(secret)) => match post_id {
                Some(id) => (id.to_owned(), secret.to_owned()),
                None => return Err(StsError::MalformedClientAuthentication),
            },
            (None, None) => return Err(StsError::NoClientAuthentication),
        };
        match self.by_id.get(&id) {
            Some(client) if client.secret.matches(&secret) => Ok(client),
            Some(_) => Err(StsError::WrongClientSecret),
            None => {
                let _ = ClientSecret::from_sha256(DUMMY_DIGEST).matches(&secret);
                Err(StsError::UnknownClient)
            }
        }
    }
}

/// The id and secret of an `Authorization: Basic` header.
fn basic(value: &[u8]) -> Result<(String, String), StsError> {
    let malformed = StsError::MalformedClientAuthentication;
    let value = std::str::from_utf8(value).map_err(|_| malformed.clone())?;
    let (scheme, encoded) = value.split_once(' ').ok_or(malformed.clone())?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed.clone())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed.clone())?;
    let (id, secret) = decoded.split_once(':').ok_or(malformed.clone())?;
    let id = percent_decode(id).ok_or(malformed.clone())?;
    let secret = percent_decode(secret).ok_or(malformed.clone())?;
    if id.is_empty() || id.len() > MAX_CLIENT_ID_BYTES || secret.len() > MAX_CLIENT_SECRET_BYTES {
        return Err(malformed);
    }
    Ok((id, secret))
}
