//! The propagate layer: attach the current request's identity to outgoing HTTP calls, as
//! each destination requires, and to nothing else.
//!
//! [`PropagateLayer`] wraps an HTTP client service (hyper-util's legacy client is the
//! reference; any `Service<http::Request<B>>` works). For every outgoing request it:
//!
//! 1. **removes identity headers set by the caller's own code**: `authorization`,
//!    `x-principal-bin` and `x-baton-internal-token` ([`IDENTITY_HEADERS`]). A handler
//!    that copies its incoming headers onto an outgoing call, or sets a token meant for
//!    another destination, never leaks it through this client. (Call third-party APIs
//!    that need credentials of their own with another client.)
//! 2. **chooses the route by the destination's authority** (`host:port` of the request
//!    URI, the port defaulted from the scheme) from an explicit allowlist. A destination
//!    not on the list, or a URI without an authority, gets no identity at all.
//! 3. **attaches the current Principal** (from [`crate::context`], set by the
//!    authenticate layer that serves the request) as the route says ([`Route`]): a
//!    passport, signed or unsigned, forwarded unchanged or made for the destination's
//!    audience; a minted internal JWT for the destination's audience (cached per
//!    Principal and audience, see [`crate::mint::MintCache`]); the original bearer token
//!    (passthrough); the original bearer token exchanged at a security token service for
//!    one made for the destination (RFC 8693, see [`crate::exchange`]); or nothing.
//! 4. **passes `x-request-id` and `traceparent`/`tracestate` on** from the current request
//!    context, untouched; outside a request (a background job), it keeps valid ones the
//!    caller set and creates what is missing (W3C Trace Context).
//!
//! Without a current Principal (no context, or an anonymous request) a route sends no
//! identity and says so in a `debug` event on target [`PROPAGATE_TARGET`]; a route made
//! with [`Route::require_principal`] refuses the call instead
//! ([`PropagateError::NoPrincipal`]).
//!
//! ```
//! use std::sync::Arc;
//! use std::convert::Infallible;
//! use http::{Request, Response};
//! use principal::Audience;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_auth::propagate::{PropagateLayer, Route};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let layer = PropagateLayer::new()
//!     .route("orders.internal:8080", Route::unsigned_passport(Audience::new("orders")?))?;
//! let client = ServiceBuilder::new().layer(layer).service(service_fn(
//!     |request: Request<String>| async move {
//!         // What the destination receives.
//!         let identity = request.headers().contains_key("x-principal-bin")
//!             || request.headers().contains_key("authorization");
//!         Ok::<_, Infallible>(Response::new(identity))
//!     },
//! ));
//!
//! // A header set by the caller's own code for a destination off the list is removed.
//! let request = Request::builder()
//!     .uri("http://evil.example/steal")
//!     .header("authorization", "Bearer copied-from-the-incoming-request")
//!     .body(String::new())?;
//! assert!(!client.clone().oneshot(request).await?.into_body());
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```

mod service;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::header::AUTHORIZATION;
use http::uri::{Authority, Scheme, Uri};
use http::{HeaderMap, HeaderName};
use principal::{Audience, Clock, SystemClock};
use principal_proto::header::HeaderLimit;
use principal_proto::{PassportError, PassportKeyRing};

pub use self::service::{BoxError, PropagateService, ResponseFuture};
use crate::authenticate::{INTERNAL_TOKEN_HEADER, PRINCIPAL_HEADER};
use crate::exchange::{ExchangeError, ExchangeTarget, TokenExchangeClient};
use crate::mint::{MintCache, MintError};

/// The `tracing` target of the layer's events.
pub const PROPAGATE_TARGET: &str = "baton::propagate";

/// The headers that carry identity between hops: removed from every outgoing request,
/// then set only by the destination's route.
pub const IDENTITY_HEADERS: [HeaderName; 3] =
    [AUTHORIZATION, PRINCIPAL_HEADER, INTERNAL_TOKEN_HEADER];

// A passport a route may send always fits what tower-auth reads from one credential header.
const _: () = assert!(
    principal_proto::header::MAX_HEADER_LEN <= crate::credentials::MAX_CREDENTIAL_HEADER_BYTES
);

/// Default lifetime of a passport made for one call, in seconds (request-scoped).
pub const DEFAULT_PASSPORT_LIFETIME_SECS: u32 = 60;

/// Longest passport lifetime a route accepts, in seconds.
pub const MAX_PASSPORT_LIFETIME_SECS: u32 = 300;

/// A passport signing key ring that can be rotated while routes use it
/// (`ring.store(Arc::new(rotated))`).
pub type SharedKeyRing = Arc<ArcSwap<PassportKeyRing>>;

/// How a route attaches identity.
#[derive(Clone)]
pub(crate) enum Attach {
    Nothing,
    Passthrough,
    Passport {
        audience: Audience,
        signing: PassportSigning,
        lifetime_secs: u32,
        max_header: HeaderLimit,
    },
    MintedJwt {
        cache: Arc<MintCache>,
        audience: Audience,
        header: MintedHeader,
    },
    Exchanged {
        client: TokenExchangeClient,
        target: ExchangeTarget,
    },
}

#[derive(Clone)]
pub(crate) enum PassportSigning {
    /// Signed for this call with the ring's current key.
    Sign(SharedKeyRing),
    /// Forwarded as received when this request came with a passport (its audience is the
    /// trust domain); signed with the ring when it did not (at the edge).
    Forward(SharedKeyRing),
    /// Unsigned: only toward peers that accept unsigned passports from this service's
    /// mTLS identity.
    Unsigned,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MintedHeader {
    Authorization,
    InternalToken,
}

/// What one destination receives: the identity to attach and whether a call without a
/// current Principal is refused.
///
/// ```
/// use principal::Audience;
/// use tower_auth::propagate::Route;
///
/// let route = Route::unsigned_passport(Audience::new("orders")?).require_principal();
/// assert_eq!(route.kind(), "unsigned_passport");
/// assert!(route.requires_principal());
/// assert!(Route::unsigned_passport(Audience::new("orders")?).passport_lifetime(0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct Route {
    pub(crate) attach: Attach,
    pub(crate) require_principal: bool,
}

impl Route {
    fn with(attach: Attach) -> Self {
        Route {
            attach,
            require_principal: false,
        }
    }

    /// Attach nothing (the destination is on the list for its trace headers only).
    pub fn nothing() -> Self {
        Route::with(Attach::Nothing)
    }

    /// Forward the request's original bearer token (pattern 1, JWT passthrough). The
    /// authenticate layer keeps the token only when configured to
    /// ([`AuthenticateLayer::keep_bearer_token`](crate::authenticate::AuthenticateLayer::keep_bearer_token)).
    pub fn passthrough() -> Self {
        Route::with(Attach::Passthrough)
    }

    /// A passport for `audience` (one service), signed for each call with the ring's
    /// current key (pattern 4, re-signed per hop). Prefer an Ed25519 ring: with HMAC,
    /// every service that holds the secret can mint any passport.
    pub fn signed_passport(ring: SharedKeyRing, audience: Audience) -> Self {
        Route::with(Attach::Passport {
            audience,
            signing: PassportSigning::Sign(ring),
            lifetime_secs: DEFAULT_PASSPORT_LIFETIME_SECS,
            max_header: HeaderLimit::default(),
        })
    }

    /// The passport of a trust domain (`domain` is its audience): forwarded unchanged
    /// when this request was authenticated with one, made and signed with `ring` when it
    /// was not (at the edge). No per-service keys: every service of the domain verifies
    /// the edge's signature. A passport this request was authenticated with that names
    /// another audience (this service alone) is never forwarded: the route makes and
    /// signs the domain's instead.
    pub fn forward_passport(ring: SharedKeyRing, domain: Audience) -> Self {
        Route::with(Attach::Passport {
            audience: domain,
            signing: PassportSigning::Forward(ring),
            lifetime_secs: DEFAULT_PASSPORT_LIFETIME_SECS,
            max_header: HeaderLimit::default(),
        })
    }

    /// An unsigned passport for `audience`: only toward a destination that authenticates
    /// this service's mTLS identity and has it on its allowlist (it refuses unsigned
    /// passports otherwise).
    pub fn unsigned_passport(audience: Audience) -> Self {
        Route::with(Attach::Passport {
            audience,
            signing: PassportSigning::Unsigned,
            lifetime_secs: DEFAULT_PASSPORT_LIFETIME_SECS,
            max_header: HeaderLimit::default(),
        })
    }

    /// An internal JWT minted for `audience` (pattern 2), in `authorization: Bearer`;
    /// cached per Principal and audience by `cache`.
    pub fn minted_jwt(cache: Arc<MintCache>, audience: Audience) -> Self {
        Route::with(Attach::MintedJwt {
            cache,
            audience,
            header: MintedHeader::Authorization,
        })
    }

    /// The request's original bearer token exchanged (RFC 8693) by `client` for a token
    /// as `target` says (the destination's audience, scopes), sent in
    /// `authorization: Bearer`. The subject token is sent as
    /// [`TokenType::ACCESS_TOKEN`](crate::exchange::TokenType::ACCESS_TOKEN); the result
    /// is cached by the client per token and target, and must come back as a `Bearer`
    /// token. The authenticate layer must keep the bearer token
    /// ([`AuthenticateLayer::keep_bearer_token`](crate::authenticate::AuthenticateLayer::keep_bearer_token));
    /// without it the call is refused ([`PropagateError::NoBearerToken`]), and a failed
    /// exchange refuses the call too ([`PropagateError::Exchange`]): nothing is sent.
    ///
    /// ```
    /// use principal::Audience;
    /// use tower_auth::exchange::{ClientAuth, ExchangeTarget, TokenExchangeClient};
    /// use tower_auth::propagate::{PropagateLayer, Route};
    ///
    /// let sts = TokenExchangeClient::builder(
    ///     "https://sts.internal/token",
    ///     ClientAuth::client_secret_basic("edge", "s3cret")?,
    /// )
    /// .build()?;
    /// let route = Route::exchanged(sts, ExchangeTarget::audience(Audience::new("orders")?));
    /// assert_eq!(route.kind(), "exchanged");
    /// // It waits for the token endpoint: the layer, never a synchronous hook.
    /// assert!(route.may_wait());
    /// let layer = PropagateLayer::new().route("orders.internal:8080", route)?;
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn exchanged(client: TokenExchangeClient, target: ExchangeTarget) -> Self {
        Route::with(Attach::Exchanged { client, target })
    }

    /// For a minted-JWT route: send the token in `x-baton-internal-token` instead of
    /// `authorization` (the receiving JWT verifier then reads that header). Other routes
    /// are unchanged.
    pub fn in_internal_token_header(mut self) -> Self {
        if let Attach::MintedJwt { header, .. } = &mut self.attach {
            *header = MintedHeader::InternalToken;
        }
        self
    }

    /// Refuse the call ([`PropagateError::NoPrincipal`]) when there is no current
    /// Principal, instead of sending it without identity.
    pub fn require_principal(mut self) -> Self {
        self.require_principal = true;
        self
    }

    /// For a passport route: the lifetime of the passports it makes, in seconds (1 to
    /// [`MAX_PASSPORT_LIFETIME_SECS`]); never later than the Principal's own expiry.
    pub fn passport_lifetime(mut self, seconds: u32) -> Result<Self, PropagateConfigError> {
        if seconds == 0 || seconds > MAX_PASSPORT_LIFETIME_SECS {
            return Err(PropagateConfigError::PassportLifetime { seconds });
        }
        if let Attach::Passport { lifetime_secs, .. } = &mut self.attach {
            *lifetime_secs = seconds;
        }
        Ok(self)
    }

    /// For a passport route: the longest `x-principal-bin` value it sends (default
    /// [`DEFAULT_MAX_HEADER_LEN`](principal_proto::header::DEFAULT_MAX_HEADER_LEN), 4 KiB,
    /// under the 8 KiB of metadata a gRPC peer accepts in total). A call whose passport
    /// would be longer, a Principal too large for it (or a received passport too long to
    /// forward), is refused before it is sent: [`PropagateError::Passport`] with
    /// [`PassportError::PrincipalTooLarge`]. Keep it within what the destination reads
    /// (its `DecodeOptions::max_bytes`, signed and base64-encoded).
    ///
    /// ```
    /// use principal::Audience;
    /// use principal_proto::header::HeaderLimit;
    /// use tower_auth::propagate::Route;
    ///
    /// let route = Route::unsigned_passport(Audience::new("orders")?)
    ///     .passport_header_limit(HeaderLimit::new(2048)?);
    /// assert_eq!(route.max_passport_header_len(), Some(2048));
    /// assert_eq!(Route::unsigned_passport(Audience::new("orders")?).max_passport_header_len(), Some(4096));
    /// assert_eq!(Route::passthrough().max_passport_header_len(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn passport_header_limit(mut self, limit: HeaderLimit) -> Self {
        if let Attach::Passport { max_header, .. } = &mut self.attach {
            *max_header = limit;
        }
        self
    }

    /// For a passport route, the longest `x-principal-bin` value it sends; `None` for
    /// other routes.
    pub fn max_passport_header_len(&self) -> Option<usize> {
        match &self.attach {
            Attach::Passport { max_header, .. } => Some(max_header.max_len()),
            _ => None,
        }
    }

    /// Whether attaching may wait (a minted JWT on a cold cache, a token exchange): such a
    /// route needs the layer, never a synchronous hook ([`PropagateLayer::attach_now`]).
    pub fn may_wait(&self) -> bool {
        matches!(
            self.attach,
            Attach::MintedJwt { .. } | Attach::Exchanged { .. }
        )
    }

    /// Whether a call without a current Principal is refused.
    pub fn requires_principal(&self) -> bool {
        self.require_principal
    }

    /// A stable snake_case name of what the route attaches, for logs.
    pub fn kind(&self) -> &'static str {
        match &self.attach {
            Attach::Nothing => "nothing",
            Attach::Passthrough => "passthrough",
            Attach::Passport { signing, .. } => match signing {
                PassportSigning::Sign(_) => "signed_passport",
                PassportSigning::Forward(_) => "forward_passport",
                PassportSigning::Unsigned => "unsigned_passport",
            },
            Attach::MintedJwt { .. } => "minted_jwt",
            Attach::Exchanged { .. } => "exchanged",
        }
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Route");
        debug.field("kind", &self.kind());
        match &self.attach {
            Attach::Passport {
                audience,
                lifetime_secs,
                max_header,
                ..
            } => {
                debug.field("audience", audience);
                debug.field("lifetime_secs", lifetime_secs);
                debug.field("max_header_len", &max_header.max_len());
            }
            Attach::MintedJwt {
                audience, header, ..
            } => {
                debug.field("audience", audience);
                debug.field("header", header);
            }
            Attach::Exchanged { client, target } => {
                debug.field("endpoint", &client.endpoint());
                debug.field("target", target);
            }
            Attach::Nothing | Attach::Passthrough => {}
        }
        debug
            .field("require_principal", &self.require_principal)
            .finish()
    }
}

/// A [`PropagateLayer`] or [`Route`] setting was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PropagateConfigError {
    /// The destination is not a `host` or `host:port` authority (no user info).
    #[error("destination {destination:?} is not a host[:port] authority")]
    InvalidDestination {
        /// What was given.
        destination: String,
    },
    /// The same destination was routed twice.
    #[error("destination {destination} is routed twice")]
    DuplicateDestination {
        /// The destination.
        destination: String,
    },
    /// A passport lifetime of zero or above [`MAX_PASSPORT_LIFETIME_SECS`].
    #[error("passport lifetime {seconds} s is not between 1 and {MAX_PASSPORT_LIFETIME_SECS}")]
    PassportLifetime {
        /// The value asked for.
        seconds: u32,
    },
}

impl PropagateConfigError {
    /// A stable snake_case label for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            PropagateConfigError::InvalidDestination { .. } => "invalid_destination",
            PropagateConfigError::DuplicateDestination { .. } => "duplicate_destination",
            PropagateConfigError::PassportLifetime { .. } => "passport_lifetime_out_of_range",
        }
    }
}

/// Why an outgoing call was not made. The layer's error type is `BoxError`; these are
/// its own refusals (the inner client's errors pass through as they are).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PropagateError {
    /// The route requires a current Principal and there is none.
    #[error("no current Principal for {destination}, and its route requires one")]
    NoPrincipal {
        /// The destination authority.
        destination: String,
    },
    /// The route forwards the original bearer token and the request context holds none.
    #[error("no original bearer token to pass through to {destination}")]
    NoBearerToken {
        /// The destination authority.
        destination: String,
    },
    /// The passport could not be made or forwarded: a Principal too large for the
    /// route's header limit ([`PassportError::PrincipalTooLarge`], nothing sent), a
    /// signing failure...
    #[error("passport for {destination}: {source}")]
    Passport {
        /// The destination authority.
        destination: String,
        /// Why.
        #[source]
        source: PassportError,
    },
    /// The internal JWT could not be minted (an expired Principal, a chain too deep...).
    #[error("internal token for {destination}: {source}")]
    Mint {
        /// The destination authority.
        destination: String,
        /// Why.
        #[source]
        source: MintError,
    },
    /// The token exchange for the destination failed (refused by the token endpoint,
    /// unreachable, an answer of the wrong type...).
    #[error("token exchange for {destination}: {source}")]
    Exchange {
        /// The destination authority.
        destination: String,
        /// Why.
        #[source]
        source: ExchangeError,
    },
    /// The request id cannot go into a passport (it breaks the passport's rules).
    #[error("request id unusable in a passport for {destination}")]
    RequestId {
        /// The destination authority.
        destination: String,
    },
    /// A header value could not be built (never expected: tokens are visible ASCII).
    #[error("header for {destination}: invalid value")]
    InvalidHeader {
        /// The destination authority.
        destination: String,
    },
    /// A synchronous hook ([`PropagateLayer::attach_now`]) was asked for a route that
    /// may wait (a minted JWT, a token exchange): use the layer for that destination.
    #[error("the route to {destination} may wait: it needs the propagate layer")]
    MayWait {
        /// The destination authority.
        destination: String,
    },
    /// A layer bound to one origin could not give it to the request's URI.
    #[error("request URI could not be bound to {destination}")]
    InvalidUri {
        /// The bound origin's authority.
        destination: String,
    },
}

impl PropagateError {
    /// A stable snake_case label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            PropagateError::NoPrincipal { .. } => "no_principal",
            PropagateError::NoBearerToken { .. } => "no_bearer_token",
            PropagateError::Passport { .. } => "passport",
            PropagateError::Mint { .. } => "mint",
            PropagateError::Exchange { .. } => "exchange",
            PropagateError::RequestId { .. } => "request_id",
            PropagateError::InvalidHeader { .. } => "invalid_header",
            PropagateError::InvalidUri { .. } => "invalid_uri",
            PropagateError::MayWait { .. } => "may_wait",
        }
    }
}

/// The routes by destination, shared by every service a layer makes.
#[derive(Clone)]
pub(crate) struct Shared {
    /// Keyed by `host:port`, the host lowercased ([`normalize`]). A string key, not an
    /// `Authority`: `Authority`'s case-insensitive `Hash` feeds the hasher one byte at a
    /// time, a measurable part of every outgoing call (benches/benches/propagation.rs).
    pub(crate) routes: HashMap<Box<str>, Route>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// Attaches the current request's identity to outgoing HTTP requests, per destination.
/// See the [module docs](self).
///
/// A layer without routes attaches identity nowhere (it still removes identity headers
/// set by the caller and passes trace headers on).
///
/// # Over a client bound to one destination (a tonic `Channel`)
///
/// A tonic `Channel` sends every request to the URI of the `Endpoint` it was built from,
/// whatever the request's own URI says, and a generated client made with `new` sends
/// only a path (`/package.Service/Method`): routed by its URI, such a request finds no
/// route. [`bound_to`](PropagateLayer::bound_to) the endpoint's URI, the layer gives
/// every request that origin before it routes it, so the route is the one of the place
/// the call really goes.
///
/// ```
/// use http::Uri;
/// use principal::Audience;
/// use tower_auth::propagate::{PropagateLayer, Route};
///
/// // `endpoint.uri()` of the Channel this layer wraps.
/// let endpoint: Uri = "http://documents.internal:50051".parse()?;
/// let layer = PropagateLayer::new()
///     .route("documents.internal:50051", Route::unsigned_passport(Audience::new("documents")?))?
///     .bound_to(&endpoint)?;
/// // A path-only gRPC request URI is routed as the endpoint.
/// let grpc_path: Uri = "/baton.documents.v1.Documents/Get".parse()?;
/// assert_eq!(layer.route_for(&grpc_path).map(|route| route.kind()), Some("unsigned_passport"));
/// // An origin without a scheme or with user info is refused.
/// assert!(PropagateLayer::new().bound_to(&"documents.internal:50051".parse()?).is_err());
/// assert!(PropagateLayer::new().bound_to(&"http://u@documents.internal".parse()?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct PropagateLayer {
    shared: Arc<Shared>,
    origin: Option<Origin>,
}

/// The destination of a client bound to one ([`PropagateLayer::bound_to`]).
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    scheme: Scheme,
    authority: Authority,
}

impl Origin {
    /// The bound authority, for logs.
    pub(crate) fn authority(&self) -> &str {
        self.authority.as_str()
    }

    /// `uri` with this origin's scheme and authority (its path and query kept); `None`
    /// only if that is not a URI.
    pub(crate) fn apply(&self, uri: &Uri) -> Option<Uri> {
        let path = uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path)
            .build()
            .ok()
    }
}

impl Default for PropagateLayer {
    fn default() -> Self {
        PropagateLayer::new()
    }
}

impl PropagateLayer {
    /// A layer with no routes, on the system clock.
    pub fn new() -> Self {
        PropagateLayer {
            shared: Arc::new(Shared {
                routes: HashMap::new(),
                clock: Arc::new(SystemClock),
            }),
            origin: None,
        }
    }

    fn shared_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.shared)
    }

    /// Send `route`'s identity to `destination` (`host` or `host:port`; without a port,
    /// the route covers both the `http` default 80 and the `https` default 443). Host
    /// names compare case-insensitively.
    pub fn route(mut self, destination: &str, route: Route) -> Result<Self, PropagateConfigError> {
        let invalid = || PropagateConfigError::InvalidDestination {
            destination: destination.to_owned(),
        };
        let authority: Authority = destination.parse().map_err(|_| invalid())?;
        if destination.contains('@')
            || authority.host().is_empty()
            // Something after the host that is not a valid port (`host:99999`).
            || (authority.as_str() != authority.host() && authority.port_u16().is_none())
        {
            return Err(invalid());
        }
        let keys: Vec<Box<str>> = match authority.port_u16() {
            Some(port) => vec![normalize(authority.host(), port).ok_or_else(invalid)?],
            None => vec![
                normalize(authority.host(), 80).ok_or_else(invalid)?,
                normalize(authority.host(), 443).ok_or_else(invalid)?,
            ],
        };
        let routes = &mut self.shared_mut().routes;
        for key in &keys {
            if routes.contains_key(key) {
                return Err(PropagateConfigError::DuplicateDestination {
                    destination: key.to_string(),
                });
            }
        }
        for key in keys {
            routes.insert(key, route.clone());
        }
        Ok(self)
    }

    /// The source of "now" for the passports the routes make (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.shared_mut().clock = clock;
        self
    }

    /// Bind the layer to the one destination of the client it wraps (a tonic `Channel`:
    /// the URI of its `Endpoint`): every request is given `origin`'s scheme and authority
    /// (its path kept) before it is routed, so its own URI, a bare gRPC path or another
    /// authority, never chooses the route. `origin` needs a scheme and an authority, and
    /// no user info; its path is ignored.
    pub fn bound_to(mut self, origin: &Uri) -> Result<Self, PropagateConfigError> {
        let invalid = || PropagateConfigError::InvalidDestination {
            destination: origin.to_string(),
        };
        let (Some(scheme), Some(authority)) = (origin.scheme(), origin.authority()) else {
            return Err(invalid());
        };
        if authority.as_str().contains('@')
            || authority.host().is_empty()
            || (authority.as_str() != authority.host() && authority.port_u16().is_none())
        {
            return Err(invalid());
        }
        self.origin = Some(Origin {
            scheme: scheme.clone(),
            authority: authority.clone(),
        });
        Ok(self)
    }

    /// What the layer does to one request before calling, on its headers alone, for a
    /// caller that cannot wait (a tonic `Interceptor`): remove identity headers, pass
    /// `x-request-id` and `traceparent` on, attach the route's identity for `uri`'s
    /// destination (a bound layer's origin, whatever `uri` says). A route that
    /// [may wait](Route::may_wait) is refused ([`PropagateError::MayWait`]) with no
    /// identity attached: it belongs in the layer.
    ///
    /// ```
    /// use http::{HeaderMap, Uri};
    /// use principal::Audience;
    /// use tower_auth::propagate::{PropagateLayer, Route};
    ///
    /// let layer = PropagateLayer::new()
    ///     .route("orders.internal:50051", Route::unsigned_passport(Audience::new("orders")?))?
    ///     .bound_to(&"http://orders.internal:50051".parse()?)?;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("authorization", "Bearer copied".parse()?);
    /// // Outside a request: no Principal, so no identity; a request id is created.
    /// layer.attach_now(&Uri::from_static("/"), &mut headers)?;
    /// assert!(!headers.contains_key("authorization"));
    /// assert!(headers.contains_key("x-request-id"));
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn attach_now(&self, uri: &Uri, headers: &mut HeaderMap) -> Result<(), PropagateError> {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.uri = match &self.origin {
            Some(origin) => origin
                .apply(uri)
                .ok_or_else(|| PropagateError::InvalidUri {
                    destination: origin.authority().to_owned(),
                })?,
            None => uri.clone(),
        };
        parts.headers = std::mem::take(headers);
        let plan = service::prepare(&self.shared, &mut parts, service::Caller::Now);
        *headers = parts.headers;
        match plan {
            service::Plan::Call => Ok(()),
            // `prepare` removed every identity header first and attaches only on `Call`.
            service::Plan::Refuse(error) => Err(error),
            // The future is dropped unpolled: nothing is minted or exchanged, nothing
            // attached.
            service::Plan::Wait(..) => Err(PropagateError::MayWait {
                destination: parts
                    .uri
                    .authority()
                    .map_or_else(|| "-".to_owned(), |a| a.as_str().to_owned()),
            }),
        }
    }

    /// The route for a request URI, if its destination is on the list (for a bound
    /// layer, the route of its origin, whatever the URI's authority).
    pub fn route_for(&self, uri: &Uri) -> Option<&Route> {
        match &self.origin {
            Some(origin) => route_for(&self.shared, &origin.apply(uri)?),
            None => route_for(&self.shared, uri),
        }
    }
}

/// `host:port`, host lowercased; `None` if that is not an authority.
fn normalize(host: &str, port: u16) -> Option<Box<str>> {
    let key = format!("{}:{port}", host.to_ascii_lowercase());
    key.parse::<Authority>().ok()?;
    Some(key.into_boxed_str())
}

pub(crate) fn route_for<'a>(shared: &'a Shared, uri: &Uri) -> Option<&'a Route> {
    let authority = uri.authority()?;
    if authority.as_str().contains('@') {
        // User info in a request URI: never a routed destination.
        return None;
    }
    if authority.as_str() != authority.host() && authority.port_u16().is_none() {
        // A port that is not one: never defaulted from the scheme.
        return None;
    }
    let port = authority.port_u16().or_else(|| match uri.scheme() {
        Some(scheme) if *scheme == Scheme::HTTPS => Some(443),
        Some(scheme) if *scheme == Scheme::HTTP => Some(80),
        _ => None,
    })?;
    // The URI's own text first: it is the key when it is already `host:port` with a
    // lower-case host. Only a URI without an explicit port, or in another form (an
    // upper-case host, a port with leading zeros), allocates its normalized key.
    if authority.port_u16().is_some()
        && let Some(route) = shared.routes.get(authority.as_str())
    {
        return Some(route);
    }
    shared.routes.get(&normalize(authority.host(), port)?)
}

impl<S> tower_layer::Layer<S> for PropagateLayer {
    type Service = PropagateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PropagateService::new(inner, Arc::clone(&self.shared), self.origin.clone())
    }
}

impl fmt::Debug for PropagateLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PropagateLayer")
            .field("routes", &self.shared.routes)
            .field("bound_to", &self.origin.as_ref().map(Origin::authority))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
