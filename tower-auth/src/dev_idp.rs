//! An embedded development identity provider on loopback (feature `dev-idp`).
//!
//! [`DevIdp`] is a real HTTP server (axum) that serves OpenID Connect Discovery
//! (`/.well-known/openid-configuration`), RFC 8414 metadata
//! (`/.well-known/oauth-authorization-server`), a JWKS (`/jwks.json`) and a token endpoint
//! (`POST /token`), an RFC 7662 introspection endpoint for the opaque tokens it issues
//! (`POST /introspect`), and signs tokens from Rust with keys generated at start (RS256,
//! ES256, EdDSA). Tests use it to rotate and remove keys, make it fail on purpose
//! ([`Override`]), and count requests; the examples use it as their identity provider.
//!
//! **Never for production:** it binds only to loopback, serves plain http, hands out tokens
//! to anyone who asks, and keeps its private keys in memory.
//!
//! `POST /token` takes a JSON body `{"sub": "...", "aud": "..." | [...], "scope": "a b",
//! "ttl_seconds": 300, "alg": "RS256" | "ES256" | "EdDSA", ...}`; other members are copied
//! into the claims. It answers `{"access_token": "...", "token_type": "Bearer",
//! "expires_in": 300}` with `iss`, `iat`, `exp` and `jti` filled in. With
//! `"format": "opaque"` the access token is a random opaque string instead of a JWT, and
//! its claims are what `POST /introspect` answers for it.
//!
//! `POST /introspect` (RFC 7662) takes `token=...` as a form and answers
//! `{"active": true, ...the claims}` for an opaque token it issued that has not expired
//! or been revoked ([`DevIdp::revoke_opaque`]), `{"active": false}` for anything else. It
//! requires client authentication (an `Authorization` header or a `client_secret` form
//! member, or `401`) but accepts any client.
#![cfg(feature = "dev-idp")]

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use jsonwebtoken::jwk::{CommonParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{Clock, SystemClock};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The `Cache-Control` the JWKS is served with unless told otherwise.
pub const DEFAULT_CACHE_CONTROL: &str = "public, max-age=300";
/// Lifetime of a token from `POST /token` without `ttl_seconds`.
const DEFAULT_TOKEN_TTL: i64 = 300;
/// Longest lifetime `POST /token` grants.
const MAX_TOKEN_TTL: i64 = 86_400;

/// The development identity provider. Dropping it stops the server.
///
/// ```
/// use jsonwebtoken::Algorithm;
/// use serde_json::json;
/// use tower_auth::dev_idp::{DevIdp, DevIdpError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), DevIdpError> {
/// let idp = DevIdp::start("127.0.0.1:0".parse().unwrap()).await?;
/// let token = idp.issue(json!({"sub": "alice", "aud": "api"}), Algorithm::ES256)?;
/// assert_eq!(token.split('.').count(), 3);
///
/// // Rejected: HMAC keys are never generated, and only loopback addresses are served.
/// assert!(matches!(idp.issue(json!({}), Algorithm::HS256), Err(DevIdpError::UnsupportedAlgorithm { .. })));
/// assert!(matches!(
///     DevIdp::start("0.0.0.0:0".parse().unwrap()).await,
///     Err(DevIdpError::NotLoopback { .. })
/// ));
/// # Ok(())
/// # }
/// ```
pub struct DevIdp {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

/// A way for the development IdP to misbehave, for failure tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Override {
    /// Answer normally.
    #[default]
    Normal,
    /// HTTP 500 with a text body.
    Status500,
    /// HTTP 200 with an HTML page (`text/html`), as a misrouted proxy would.
    Html,
    /// HTTP 200, JSON content type, the document cut in half.
    TruncatedJson,
    /// HTTP 200 with `{"keys":[]}` (metadata: `{}`).
    EmptyKeys,
    /// The whole server drops every connection as soon as it is accepted.
    Down,
    /// Never answer (the client's timeout fires).
    Hang,
    /// HTTP 302 to this location.
    Redirect(String),
    /// HTTP 200 with this content type and body.
    Body {
        /// The `Content-Type`; empty for none.
        content_type: String,
        /// The body.
        body: Vec<u8>,
    },
    /// HTTP 200 with this content type and body, sent in 1 KiB chunks without
    /// `Content-Length` (chunked transfer encoding), so a client cannot know the size
    /// before reading.
    Unsized {
        /// The `Content-Type`.
        content_type: String,
        /// The body.
        body: Vec<u8>,
    },
}

/// The development IdP could not start or sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DevIdpError {
    /// The bind address is not a loopback address.
    #[error("the development IdP binds to loopback only, not {addr}")]
    NotLoopback {
        /// The refused address.
        addr: SocketAddr,
    },
    /// The address could not be bound.
    #[error("could not bind {addr}: {detail}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        detail: String,
    },
    /// No tokio runtime is running to serve on.
    #[error("no tokio runtime is running")]
    NoRuntime,
    /// A key pair could not be generated or encoded.
    #[error("could not generate a {algorithm:?} key")]
    KeyGeneration {
        /// The algorithm.
        algorithm: Algorithm,
    },
    /// The IdP has no keys for this algorithm (it makes RS256, ES256 and EdDSA keys).
    #[error("the development IdP has no {algorithm:?} key")]
    UnsupportedAlgorithm {
        /// The algorithm.
        algorithm: Algorithm,
    },
    /// No key has this id (it was removed, or never existed).
    #[error("no key with id {kid}")]
    UnknownKeyId {
        /// The key id.
        kid: String,
    },
    /// The claims are not a JSON object.
    #[error("claims must be a JSON object")]
    ClaimsNotObject,
    /// jsonwebtoken could not sign.
    #[error("signing failed: {detail}")]
    Signing {
        /// What jsonwebtoken said.
        detail: String,
    },
}

impl DevIdpError {
    /// A stable snake_case reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            DevIdpError::NotLoopback { .. } => "not_loopback",
            DevIdpError::Bind { .. } => "bind_failed",
            DevIdpError::NoRuntime => "no_runtime",
            DevIdpError::KeyGeneration { .. } => "key_generation_failed",
            DevIdpError::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            DevIdpError::UnknownKeyId { .. } => "unknown_kid",
            DevIdpError::ClaimsNotObject => "claims_not_object",
            DevIdpError::Signing { .. } => "signing_failed",
        }
    }
}

struct Shared {
    issuer: String,
    clock: Arc<dyn Clock>,
    keys: Mutex<Vec<DevKey>>,
    jwks_response: Mutex<Override>,
    discovery_response: Mutex<Override>,
    down: AtomicBool,
    cache_control: Mutex<Option<String>>,
    advertised_issuer: Mutex<Option<String>>,
    advertised_jwks_uri: Mutex<Option<String>>,
    discovery_requests: AtomicU64,
    jwks_requests: AtomicU64,
    token_requests: AtomicU64,
    introspection_requests: AtomicU64,
    next_serial: AtomicU64,
    /// Opaque token -> its claims.
    opaque: Mutex<HashMap<String, Map<String, Value>>>,
}

struct DevKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

/// Locks, recovering from poisoning: the data are test fixtures, never half-written.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DevIdp {
    /// Starts the IdP on `bind` (a loopback address; port 0 picks a free port), with the
    /// system clock, and one RS256, ES256 and EdDSA key each.
    pub async fn start(bind: SocketAddr) -> Result<DevIdp, DevIdpError> {
        DevIdp::start_with_clock(bind, Arc::new(SystemClock)).await
    }

    /// As [`start`](DevIdp::start), with `iat`/`exp` of `POST /token` from `clock`.
    pub async fn start_with_clock(
        bind: SocketAddr,
        clock: Arc<dyn Clock>,
    ) -> Result<DevIdp, DevIdpError> {
        if !bind.ip().is_loopback() {
            return Err(DevIdpError::NotLoopback { addr: bind });
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DevIdpError::NoRuntime)?;
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|e| DevIdpError::Bind {
                addr: bind,
                detail: e.to_string(),
            })?;
        let addr = listener.local_addr().map_err(|e| DevIdpError::Bind {
            addr: bind,
            detail: e.to_string(),
        })?;
        let shared = Arc::new(Shared {
            issuer: format!("http://{addr}"),
            clock,
            keys: Mutex::new(Vec::new()),
            jwks_response: Mutex::new(Override::Normal),
            discovery_response: Mutex::new(Override::Normal),
            down: AtomicBool::new(false),
            cache_control: Mutex::new(Some(DEFAULT_CACHE_CONTROL.to_owned())),
            advertised_issuer: Mutex::new(None),
            advertised_jwks_uri: Mutex::new(None),
            discovery_requests: AtomicU64::new(0),
            jwks_requests: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
            introspection_requests: AtomicU64::new(0),
            next_serial: AtomicU64::new(1),
            opaque: Mutex::new(HashMap::new()),
        });
        for algorithm in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            let key = generate_key(&shared, algorithm)?;
            lock(&shared.keys).push(key);
        }
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/oauth-authorization-server", get(discovery))
            .route("/jwks.json", get(jwks))
            .route("/token", post(token))
            .route("/introspect", post(introspect))
            .with_state(Arc::clone(&shared));
        let listener = DownableListener {
            inner: listener,
            shared: Arc::clone(&shared),
        };
        let server = runtime.spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::warn!(%error, "development IdP stopped");
            }
        });
        tracing::info!(issuer = %shared.issuer, "development IdP listening (never for production)");
        Ok(DevIdp {
            shared,
            addr,
            server,
        })
    }

    /// The issuer identifier: `http://{addr}`, no trailing slash.
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.shared.issuer)
    }

    /// The OpenID Connect Discovery URL.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.shared.issuer)
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.shared.issuer)
    }

    /// The RFC 7662 introspection endpoint URL.
    pub fn introspection_url(&self) -> String {
        format!("{}/introspect", self.shared.issuer)
    }

    /// Issues an opaque token (32 random bytes, hex) whose introspection answers
    /// `{"active": true}` with `claims` (a JSON object, answered as given) until its `exp`
    /// passes or it is revoked.
    ///
    /// ```
    /// use serde_json::json;
    /// use tower_auth::dev_idp::{DevIdp, DevIdpError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), DevIdpError> {
    /// let idp = DevIdp::start("127.0.0.1:0".parse().unwrap()).await?;
    /// let token = idp.issue_opaque(json!({"iss": idp.issuer(), "sub": "alice"}))?;
    /// assert_eq!(token.len(), 64);
    /// assert!(idp.revoke_opaque(&token));
    ///
    /// // Rejected: claims that are not an object.
    /// assert!(matches!(idp.issue_opaque(json!("alice")), Err(DevIdpError::ClaimsNotObject)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn issue_opaque(&self, claims: Value) -> Result<String, DevIdpError> {
        let Value::Object(claims) = claims else {
            return Err(DevIdpError::ClaimsNotObject);
        };
        opaque_token(&self.shared, claims)
    }

    /// Revokes an opaque token: its introspection answers `{"active": false}` from now
    /// on. Whether it was issued here and not revoked yet.
    pub fn revoke_opaque(&self, token: &str) -> bool {
        lock(&self.shared.opaque).remove(token).is_some()
    }

    /// Requests to `POST /introspect` so far.
    pub fn introspection_requests(&self) -> u64 {
        self.shared.introspection_requests.load(Ordering::SeqCst)
    }

    /// Signs `claims` (a JSON object, signed as given) with the newest key for `algorithm`
    /// (RS256, ES256 or EdDSA). The header carries that key's `kid`.
    pub fn issue(&self, claims: Value, algorithm: Algorithm) -> Result<String, DevIdpError> {
        let keys = lock(&self.shared.keys);
        let key = keys
            .iter()
            .rev()
            .find(|k| k.algorithm == algorithm)
            .ok_or(DevIdpError::UnsupportedAlgorithm { algorithm })?;
        sign(key, &claims)
    }

    /// Signs `claims` with the key `kid`, even when a newer key exists.
    pub fn issue_with_kid(&self, claims: Value, kid: &str) -> Result<String, DevIdpError> {
        let keys = lock(&self.shared.keys);
        let key = keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| DevIdpError::UnknownKeyId {
                kid: kid.to_owned(),
            })?;
        sign(key, &claims)
    }

    /// Adds a new key for `algorithm` (keeping the old ones) and returns its `kid`. Tokens
    /// from [`issue`](DevIdp::issue) use it from now on.
    pub fn rotate(&self, algorithm: Algorithm) -> Result<String, DevIdpError> {
        let key = generate_key(&self.shared, algorithm)?;
        let kid = key.kid.clone();
        lock(&self.shared.keys).push(key);
        Ok(kid)
    }

    /// Removes the key `kid` from the JWKS (and from signing). Whether it was there.
    pub fn remove_key(&self, kid: &str) -> bool {
        let mut keys = lock(&self.shared.keys);
        let before = keys.len();
        keys.retain(|k| k.kid != kid);
        keys.len() != before
    }

    /// The key ids, oldest first.
    pub fn kids(&self) -> Vec<String> {
        lock(&self.shared.keys)
            .iter()
            .map(|k| k.kid.clone())
            .collect()
    }

    /// The `kid` [`issue`](DevIdp::issue) uses for `algorithm`.
    pub fn current_kid(&self, algorithm: Algorithm) -> Option<String> {
        lock(&self.shared.keys)
            .iter()
            .rev()
            .find(|k| k.algorithm == algorithm)
            .map(|k| k.kid.clone())
    }

    /// The public JWKS as normally served.
    pub fn jwks(&self) -> Value {
        self.shared.jwks_document()
    }

    /// How `/jwks.json` answers from now on. [`Override::Down`] takes the whole server down;
    /// any other value brings it back up.
    pub fn set_response(&self, response: Override) {
        self.set(&self.shared.jwks_response, response);
    }

    /// How the metadata endpoints answer from now on (as [`set_response`](DevIdp::set_response)).
    pub fn set_discovery_response(&self, response: Override) {
        self.set(&self.shared.discovery_response, response);
    }

    fn set(&self, slot: &Mutex<Override>, response: Override) {
        let down = response == Override::Down;
        self.shared.down.store(down, Ordering::SeqCst);
        *lock(slot) = if down { Override::Normal } else { response };
    }

    /// The `Cache-Control` of `/jwks.json` (`None`: no header). Default
    /// [`DEFAULT_CACHE_CONTROL`].
    pub fn set_cache_control(&self, value: Option<&str>) {
        *lock(&self.shared.cache_control) = value.map(str::to_owned);
    }

    /// Make the metadata name another `issuer` (`None`: the real one).
    pub fn advertise_issuer(&self, issuer: Option<&str>) {
        *lock(&self.shared.advertised_issuer) = issuer.map(str::to_owned);
    }

    /// Make the metadata name another `jwks_uri` (`None`: the real one).
    pub fn advertise_jwks_uri(&self, uri: Option<&str>) {
        *lock(&self.shared.advertised_jwks_uri) = uri.map(str::to_owned);
    }

    /// Requests to either metadata endpoint so far.
    pub fn discovery_requests(&self) -> u64 {
        self.shared.discovery_requests.load(Ordering::SeqCst)
    }

    /// Requests to `/jwks.json` so far.
    pub fn jwks_requests(&self) -> u64 {
        self.shared.jwks_requests.load(Ordering::SeqCst)
    }

    /// Requests to `POST /token` so far.
    pub fn token_requests(&self) -> u64 {
        self.shared.token_requests.load(Ordering::SeqCst)
    }
}

impl Drop for DevIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIdp")
            .field("issuer", &self.shared.issuer)
            .field("kids", &self.kids())
            .field("keys", &"[redacted]")
            .finish()
    }
}

impl Shared {
    fn jwks_document(&self) -> Value {
        let keys: Vec<Value> = lock(&self.keys).iter().map(|k| k.jwk.clone()).collect();
        json!({ "keys": keys })
    }

    fn metadata_document(&self) -> Value {
        let issuer = lock(&self.advertised_issuer)
            .clone()
            .unwrap_or_else(|| self.issuer.clone());
        let jwks_uri = lock(&self.advertised_jwks_uri)
            .clone()
            .unwrap_or_else(|| format!("{}/jwks.json", self.issuer));
        json!({
            "issuer": issuer,
            "jwks_uri": jwks_uri,
            "token_endpoint": format!("{}/token", self.issuer),
            "introspection_endpoint": format!("{}/introspect", self.issuer),
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "grant_types_supported": ["client_credentials"],
        })
    }
}

fn sign(key: &DevKey, claims: &Value) -> Result<String, DevIdpError> {
    if !claims.is_object() {
        return Err(DevIdpError::ClaimsNotObject);
    }
    let mut header = Header::new(key.algorithm);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| DevIdpError::Signing {
        detail: e.to_string(),
    })
}

fn generate_key(shared: &Shared, algorithm: Algorithm) -> Result<DevKey, DevIdpError> {
    let failed = || DevIdpError::KeyGeneration { algorithm };
    let encoding = match algorithm {
        Algorithm::RS256 => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| failed())?;
            let pkcs8 = pair.as_der().map_err(|_| failed())?;
            rsa_encoding_key(pkcs8.as_ref())?
        }
        Algorithm::ES256 => {
            let pair =
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| failed())?;
            let pkcs8 = pair.to_pkcs8v1().map_err(|_| failed())?;
            EncodingKey::from_ec_der(pkcs8.as_ref())
        }
        Algorithm::EdDSA => {
            let pkcs8 =
                Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).map_err(|_| failed())?;
            EncodingKey::from_ed_der(pkcs8.as_ref())
        }
        _ => return Err(DevIdpError::UnsupportedAlgorithm { algorithm }),
    };
    let serial = shared.next_serial.fetch_add(1, Ordering::SeqCst);
    let kid = format!(
        "dev-{}-{serial}",
        format!("{algorithm:?}").to_ascii_lowercase()
    );
    let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).map_err(|_| failed())?;
    jwk.common = CommonParameters {
        public_key_use: Some(PublicKeyUse::Signature),
        key_id: Some(kid.clone()),
        ..jwk.common
    };
    let jwk = serde_json::to_value(&jwk).map_err(|_| failed())?;
    Ok(DevKey {
        kid,
        algorithm,
        encoding,
        jwk,
    })
}

/// The jsonwebtoken signing key for an RSA private key in PKCS#8 DER, the only form
/// aws-lc-rs exports ([`RsaKeyPair`]'s `as_der`).
///
/// jsonwebtoken signs RSA with a PKCS#1 `RSAPrivateKey` ([`EncodingKey::from_rsa_der`]) and
/// neither crate converts, so this takes the PKCS#1 key out of its PKCS#8 wrapping. For
/// tests and examples that sign their own RSA tokens. The input must be a valid RSA key
/// for aws-lc-rs (which also refuses moduli under 2048 bits); anything else is
/// [`DevIdpError::KeyGeneration`].
///
/// ```
/// use aws_lc_rs::encoding::AsDer;
/// use aws_lc_rs::rsa::{KeyPair, KeySize};
/// use aws_lc_rs::signature::Ed25519KeyPair;
/// use tower_auth::dev_idp::{DevIdpError, rsa_encoding_key};
///
/// let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
/// let key = rsa_encoding_key(pair.as_der().unwrap().as_ref()).unwrap();
/// let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
/// assert!(jsonwebtoken::encode(&header, &serde_json::json!({"sub": "alice"}), &key).is_ok());
///
/// // Rejected: an Ed25519 key, or bytes that are no key at all.
/// let ed = Ed25519KeyPair::generate_pkcs8v1(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
/// assert!(matches!(rsa_encoding_key(ed.as_ref()), Err(DevIdpError::KeyGeneration { .. })));
/// assert!(matches!(rsa_encoding_key(b"not a key"), Err(DevIdpError::KeyGeneration { .. })));
/// ```
pub fn rsa_encoding_key(pkcs8: &[u8]) -> Result<EncodingKey, DevIdpError> {
    let failed = || DevIdpError::KeyGeneration {
        algorithm: Algorithm::RS256,
    };
    // Parsed by aws-lc-rs first, so the walk below only ever meets a well-formed RSA key.
    RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| failed())?;
    pkcs1_from_pkcs8(pkcs8)
        .map(EncodingKey::from_rsa_der)
        .ok_or_else(failed)
}

/// The `privateKey` OCTET STRING of a PKCS#8 `PrivateKeyInfo` (RFC 5208 §5): for RSA, the
/// PKCS#1 `RSAPrivateKey`.
fn pkcs1_from_pkcs8(pkcs8: &[u8]) -> Option<&[u8]> {
    let (0x30, info, _) = der_element(pkcs8)? else {
        return None;
    };
    let (0x02, _version, rest) = der_element(info)? else {
        return None;
    };
    let (0x30, _algorithm, rest) = der_element(rest)? else {
        return None;
    };
    let (0x04, key, _) = der_element(rest)? else {
        return None;
    };
    Some(key)
}

/// One DER element: (tag, contents, what follows).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let length = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (length, rest)
    };
    if rest.len() < length {
        return None;
    }
    let (contents, rest) = rest.split_at(length);
    Some((tag, contents, rest))
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    shared.discovery_requests.fetch_add(1, Ordering::SeqCst);
    let response = lock(&shared.discovery_response).clone();
    let body = shared.metadata_document().to_string().into_bytes();
    answer(response, body, b"{}".to_vec(), None).await
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_requests.fetch_add(1, Ordering::SeqCst);
    let response = lock(&shared.jwks_response).clone();
    let cache_control = lock(&shared.cache_control).clone();
    let body = shared.jwks_document().to_string().into_bytes();
    answer(response, body, br#"{"keys":[]}"#.to_vec(), cache_control).await
}

async fn answer(
    response: Override,
    body: Vec<u8>,
    empty: Vec<u8>,
    cache_control: Option<String>,
) -> Response {
    let json = |body: Vec<u8>| {
        let mut response = ([(CONTENT_TYPE, "application/json")], body).into_response();
        if let Some(value) = cache_control
            .as_deref()
            .and_then(|v| http::HeaderValue::from_str(v).ok())
        {
            response.headers_mut().insert(CACHE_CONTROL, value);
        }
        response
    };
    match response {
        Override::Normal | Override::Down => json(body),
        Override::Status500 => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
        }
        Override::Html => (
            [(CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!doctype html><html><body><h1>Sign in</h1></body></html>",
        )
            .into_response(),
        Override::TruncatedJson => {
            let half = body.len() / 2;
            json(body[..half].to_vec())
        }
        Override::EmptyKeys => json(empty),
        Override::Hang => std::future::pending::<Response>().await,
        Override::Redirect(location) => (StatusCode::FOUND, [(LOCATION, location)]).into_response(),
        Override::Body { content_type, body } => {
            let mut response = body.into_response();
            response.headers_mut().remove(CONTENT_TYPE);
            if let Ok(value) = http::HeaderValue::from_str(&content_type)
                && !content_type.is_empty()
            {
                response.headers_mut().insert(CONTENT_TYPE, value);
            }
            response
        }
        Override::Unsized { content_type, body } => {
            let chunks = body
                .chunks(1024)
                .map(Bytes::copy_from_slice)
                .collect::<VecDeque<_>>();
            (
                [(CONTENT_TYPE, content_type)],
                axum::body::Body::new(ChunkedBody { chunks }),
            )
                .into_response()
        }
    }
}

/// A body of unknown length: hyper sends it chunked, without `Content-Length`.
struct ChunkedBody {
    chunks: VecDeque<Bytes>,
}

impl http_body::Body for ChunkedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        Poll::Ready(
            self.chunks
                .pop_front()
                .map(|c| Ok(http_body::Frame::data(c))),
        )
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    sub: String,
    aud: Value,
    scope: Option<String>,
    ttl_seconds: Option<i64>,
    alg: Option<String>,
    format: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// A new opaque token standing for `claims`.
fn opaque_token(shared: &Shared, claims: Map<String, Value>) -> Result<String, DevIdpError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| DevIdpError::Signing {
            detail: "no randomness".into(),
        })?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    lock(&shared.opaque).insert(token.clone(), claims);
    Ok(token)
}

/// RFC 7662 for the opaque tokens this IdP issued.
async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: http::HeaderMap,
    body: String,
) -> Response {
    shared.introspection_requests.fetch_add(1, Ordering::SeqCst);
    let form: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    // RFC 7662 §2.1: the caller must authenticate; any client will do here.
    if !headers.contains_key(http::header::AUTHORIZATION) && !form.contains_key("client_secret") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let Some(token) = form.get("token") else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    };
    let now = shared.clock.now().as_unix_seconds();
    let claims = lock(&shared.opaque).get(token).cloned();
    let answer = match claims {
        Some(claims)
            if claims
                .get("exp")
                .and_then(Value::as_i64)
                .is_none_or(|exp| now < exp) =>
        {
            let mut answer = Map::new();
            answer.insert("active".into(), Value::Bool(true));
            answer.extend(claims);
            Value::Object(answer)
        }
        _ => json!({"active": false}),
    };
    Json(answer).into_response()
}

async fn token(State(shared): State<Arc<Shared>>, Json(request): Json<TokenRequest>) -> Response {
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    let bad_request = |description: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request", "error_description": description})),
        )
            .into_response()
    };
    let aud_ok = match &request.aud {
        Value::String(_) => true,
        Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_string),
        _ => false,
    };
    if !aud_ok {
        return bad_request("aud must be a string or a non-empty array of strings");
    }
    let opaque = match request.format.as_deref() {
        None | Some("jwt") => false,
        Some("opaque") => true,
        Some(_) => return bad_request("format must be jwt or opaque"),
    };
    let algorithm = match request.alg.as_deref().unwrap_or("RS256") {
        "RS256" => Algorithm::RS256,
        "ES256" => Algorithm::ES256,
        "EdDSA" => Algorithm::EdDSA,
        _ => return bad_request("alg must be RS256, ES256 or EdDSA"),
    };
    let ttl = request
        .ttl_seconds
        .unwrap_or(DEFAULT_TOKEN_TTL)
        .clamp(1, MAX_TOKEN_TTL);
    let now = shared.clock.now().as_unix_seconds();
    let mut jti = [0u8; 16];
    if SystemRandom::new().fill(&mut jti).is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no randomness").into_response();
    }
    let jti: String = jti.iter().map(|b| format!("{b:02x}")).collect();
    let mut claims = request.extra;
    claims.insert("iss".into(), Value::String(shared.issuer.clone()));
    claims.insert("sub".into(), Value::String(request.sub));
    claims.insert("aud".into(), request.aud);
    if let Some(scope) = request.scope {
        claims.insert("scope".into(), Value::String(scope));
    }
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now.saturating_add(ttl)));
    claims.entry("jti").or_insert(Value::String(jti));
    let signed = if opaque {
        opaque_token(&shared, claims)
    } else {
        let keys = lock(&shared.keys);
        match keys.iter().rev().find(|k| k.algorithm == algorithm) {
            Some(key) => sign(key, &Value::Object(claims)),
            None => Err(DevIdpError::UnsupportedAlgorithm { algorithm }),
        }
    };
    match signed {
        Ok(token) => Json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl,
        }))
        .into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// A TCP listener that drops every connection while the IdP is "down".
struct DownableListener {
    inner: TcpListener,
    shared: Arc<Shared>,
}

impl axum::serve::Listener for DownableListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    if self.shared.down.load(Ordering::SeqCst) {
                        drop(stream);
                        continue;
                    }
                    return (stream, addr);
                }
                // Out of file descriptors and the like: wait a moment, as axum's own
                // listener does.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn der_element_reads_short_and_long_lengths() {
        assert_eq!(
            der_element(&[0x04, 0x02, 0xAA, 0xBB, 0xCC]),
            Some((0x04, &[0xAA, 0xBB][..], &[0xCC][..]))
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 0x80));
        let (tag, contents, rest) = der_element(&long).unwrap();
        assert_eq!((tag, contents.len(), rest.len()), (0x04, 0x80, 0));
        assert_eq!(der_element(&[0x04, 0x05, 0x00]), None);
        assert_eq!(der_element(&[0x04, 0x80]), None);
        assert_eq!(pkcs1_from_pkcs8(&[0x02, 0x01, 0x00]), None);
    }
}
