//! The `edge` example: an edge service that verifies bearer JWTs from one or more
//! OpenID Connect providers and answers `GET /whoami` with the verified Principal.
//!
//! ```text
//! cargo run -p examples --bin edge -- \
//!     --issuer https://id.example.com/realms/main --audience api --listen 127.0.0.1:8080
//! ```
//!
//! # Flags
//!
//! | flag | meaning |
//! | --- | --- |
//! | `--issuer <url>` | an issuer to trust (required, repeat for more); its keys are found through OpenID Connect Discovery (`<url>/.well-known/openid-configuration`) |
//! | `--jwks-url <url>` | the JWKS of the `--issuer` it follows, skipping discovery for that issuer |
//! | `--audience <aud>` | an accepted `aud` (required, repeatable); applies to every issuer |
//! | `--listen <addr>` | where to serve (default `127.0.0.1:8080`) |
//! | `--require-typ <typ>` | require this JWT `typ` header, e.g. `at+jwt` (RFC 9068; `application/at+jwt` is the same type) |
//! | `--leeway <seconds>` | clock leeway for `exp`, `nbf` and `iat` |
//! | `--max-token-bytes <n>` | refuse longer bearer tokens |
//! | `--no-cache` | verify every token in full, without the verified-token cache |
//! | `--introspect <url>` | also accept opaque tokens, checked at this RFC 7662 introspection endpoint (JWTs still go to the JWT verifier first) |
//! | `--client-id <id>` | the edge's client id at the introspection endpoint (required with `--introspect`) |
//! | `--client-secret <secret>`, `--client-secret-file <path>` | its client secret; without either, the environment variable `BATON_INTROSPECTION_CLIENT_SECRET` |
//! | `--client-auth basic\|post` | `client_secret_basic` (default) or `client_secret_post` |
//! | `--introspection-issuer <url>` | the issuer introspection answers speak for (default: the first `--issuer`) |
//! | `--config <file>` | read the verifiers from a TOML file instead (its `[jwt]` and `[introspection]` sections, see `tower_auth::config` and `examples/config/`); only `--listen` and `--no-cache` go with it |
//!
//! **Pairing rule:** a `--jwks-url` belongs to the nearest `--issuer` before it on the
//! command line, so `--issuer A --jwks-url JA --issuer B` reads A's keys from `JA` and
//! discovers B's. A `--jwks-url` before every `--issuer`, or two after the same issuer,
//! is an error.
//!
//! # Routes
//!
//! - `GET /whoami`: the verified Principal as JSON (its serde form). Without a token:
//!   401 with `WWW-Authenticate: Bearer`; with a token that does not verify: 401 with
//!   `WWW-Authenticate: Bearer error="invalid_token"`; both with an empty body (RFC 6750
//!   §3, §3.1: a request without credentials gets no error code).
//! - `GET /bare`: the same JSON work on a fixed sample Principal, without
//!   authentication: the baseline the load benchmark compares against.
//! - `GET /metrics`: the Prometheus text of Baton's metrics (`tower_auth::metrics` lists
//!   them), without authentication, as scrapers expect ([`metrics_router`](crate::metrics_router)).
//! - Anything else: 404 (the authenticate layer is a `route_layer`), or the router given
//!   to [`Edge::start_with_fallback`].
//!
//! Every request, on every route and the fallback, loses its `x-principal-bin` and
//! `x-baton-internal-token` headers before routing (a global strip layer): a handler
//! without authentication never sees a spoofed Principal either.
//!
//! # Logging
//!
//! The binary logs through [`init_tracing`](crate::init_tracing): JSON lines on stderr,
//! `RUST_LOG` (default `info`), written by a background thread. At `info` every
//! authenticated request adds its audit event (target `baton::audit`); `RUST_LOG=warn`
//! keeps only refusals the operator must see (keys unavailable, internal faults).
//!
//! # Start-up
//!
//! [`Edge::start`] builds the verifier, fetches every issuer's keys once (failing with a
//! clear message if an issuer cannot be reached), starts their background refresh and
//! binds the listener. [`Edge::serve`] then serves until its shutdown future resolves.
//! The binary prints [`Edge::banner`], one line, when it starts serving.

use std::ffi::OsString;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches, Parser};
use principal::{Audience, Clock, HumanId, Issuer, Principal, ScopeSet, SystemClock};
use tokio::net::TcpListener;
use tower_auth::Verifier;
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::extract::Authenticated;

/// The edge's command line, as clap reads it. [`EdgeArgs::try_parse_from`] turns it into
/// [`EdgeArgs`] (pairing each `--jwks-url` with its issuer).
#[derive(Debug, Parser)]
#[command(
    name = "edge",
    version,
    about = "Verifies bearer JWTs from OpenID Connect providers and answers GET /whoami \
             with the verified Principal.",
    after_help = "A --jwks-url belongs to the nearest --issuer before it: \
                  `--issuer A --jwks-url JA --issuer B` reads A's keys from JA and discovers B's."
)]
struct Cli {
    /// Issuer URL to trust (repeat for more); keys come from its OpenID Connect Discovery
    /// document unless a --jwks-url follows it.
    #[arg(
        long = "issuer",
        value_name = "URL",
        required_unless_present = "config"
    )]
    issuers: Vec<String>,
    /// JWKS URL of the --issuer it follows: skips discovery for that issuer.
    #[arg(long = "jwks-url", value_name = "URL")]
    jwks_urls: Vec<String>,
    /// Accepted audience (repeatable); applies to every issuer.
    #[arg(
        long = "audience",
        value_name = "AUD",
        required_unless_present = "config"
    )]
    audiences: Vec<String>,
    /// Address to serve on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Require this JWT `typ` header, e.g. `at+jwt` (RFC 9068; `application/at+jwt` is the
    /// same type).
    #[arg(long = "require-typ", value_name = "TYP")]
    require_typ: Option<String>,
    /// Clock leeway for exp, nbf and iat, in seconds.
    #[arg(long, value_name = "SECONDS")]
    leeway: Option<u64>,
    /// Refuse bearer tokens longer than this many bytes.
    #[arg(long = "max-token-bytes", value_name = "N")]
    max_token_bytes: Option<usize>,
    /// Verify every token in full, without the verified-token cache.
    #[arg(long = "no-cache")]
    no_cache: bool,
    /// RFC 7662 introspection endpoint: also accept opaque tokens, checked there.
    #[arg(long = "introspect", value_name = "URL", requires = "client_id")]
    introspect: Option<String>,
    /// The edge's client id at the introspection endpoint.
    #[arg(long = "client-id", value_name = "ID", requires = "introspect")]
    client_id: Option<String>,
    /// The client secret (visible in the process list: prefer --client-secret-file or
    /// the environment variable BATON_INTROSPECTION_CLIENT_SECRET).
    #[arg(
        long = "client-secret",
        value_name = "SECRET",
        requires = "introspect",
        conflicts_with = "client_secret_file"
    )]
    client_secret: Option<String>,
    /// A file holding the client secret (one line; surrounding whitespace ignored).
    #[arg(
        long = "client-secret-file",
        value_name = "PATH",
        requires = "introspect"
    )]
    client_secret_file: Option<std::path::PathBuf>,
    /// How the edge authenticates at the introspection endpoint.
    #[arg(long = "client-auth", value_name = "METHOD", value_enum, default_value_t = ClientAuthMethod::Basic,
          requires = "introspect")]
    client_auth: ClientAuthMethod,
    /// The issuer introspection answers speak for (default: the first --issuer).
    #[arg(
        long = "introspection-issuer",
        value_name = "URL",
        requires = "introspect"
    )]
    introspection_issuer: Option<String>,
    /// Read the verifiers from this TOML file (sections `[jwt]`, `[introspection]`).
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "issuers", "jwks_urls", "audiences", "require_typ", "leeway", "max_token_bytes", "introspect",
    ])]
    config: Option<std::path::PathBuf>,
}

/// The environment variable the introspection client secret is read from when neither
/// `--client-secret` nor `--client-secret-file` is given.
pub const CLIENT_SECRET_ENV: &str = "BATON_INTROSPECTION_CLIENT_SECRET";

/// How the edge authenticates at the introspection endpoint (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientAuthMethod {
    /// `client_secret_basic`: HTTP Basic.
    Basic,
    /// `client_secret_post`: in the form body.
    Post,
}

/// Where the introspection client secret comes from. The secret itself is read when the
/// edge starts, and never printed.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Given on the command line.
    Inline(String),
    /// Read from this file.
    File(std::path::PathBuf),
    /// Read from [`CLIENT_SECRET_ENV`].
    Environment,
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline(<redacted>)"),
            SecretSource::File(path) => f.debug_tuple("File").field(path).finish(),
            SecretSource::Environment => f.write_str("Environment"),
        }
    }
}

/// Opaque tokens through RFC 7662 introspection, next to the JWT verifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntrospectionArg {
    /// The introspection endpoint.
    pub url: String,
    /// The edge's client id there.
    pub client_id: String,
    /// Where its secret comes from.
    pub secret: SecretSource,
    /// Basic or post.
    pub method: ClientAuthMethod,
    /// The issuer its answers speak for.
    pub issuer: String,
}

/// One trusted issuer and, optionally, the JWKS URL that replaces discovery for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerArg {
    /// The issuer URL, exactly as tokens carry it in `iss`.
    pub issuer: String,
    /// Where its keys are, when given: discovery is skipped.
    pub jwks_url: Option<String>,
}

/// The edge's configuration, from the command line ([`EdgeArgs::try_parse_from`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeArgs {
    /// Trusted issuers, in command-line order (at least one, unless `config` is given).
    pub issuers: Vec<IssuerArg>,
    /// Accepted audiences, for every issuer (at least one).
    pub audiences: Vec<String>,
    /// Where to serve.
    pub listen: SocketAddr,
    /// The JWT `typ` every token must carry, if any.
    pub require_typ: Option<String>,
    /// Clock leeway in seconds; the verifier's default when absent.
    pub leeway_seconds: Option<u64>,
    /// Largest bearer token accepted, in bytes; the default when absent.
    pub max_token_bytes: Option<usize>,
    /// Whether the verified-token cache is off.
    pub no_cache: bool,
    /// Opaque tokens through introspection, when `--introspect` is given.
    pub introspection: Option<IntrospectionArg>,
    /// A TOML configuration file (`--config`): its `[jwt]` and `[introspection]` sections
    /// replace the verifier flags.
    pub config: Option<std::path::PathBuf>,
}

impl EdgeArgs {
    /// Reads the command line (`args` starts with the program name).
    ///
    /// ```
    /// use examples::edge::EdgeArgs;
    ///
    /// let args = EdgeArgs::try_parse_from([
    ///     "edge", "--issuer", "https://a.example", "--jwks-url", "https://a.example/keys",
    ///     "--issuer", "https://b.example", "--audience", "api",
    /// ])?;
    /// assert_eq!(args.issuers[0].jwks_url.as_deref(), Some("https://a.example/keys"));
    /// assert_eq!(args.issuers[1].jwks_url, None); // discovered
    ///
    /// // Rejected: a --jwks-url with no --issuer before it.
    /// assert!(EdgeArgs::try_parse_from([
    ///     "edge", "--jwks-url", "https://a.example/keys", "--issuer", "https://a.example",
    ///     "--audience", "api",
    /// ]).is_err());
    /// # Ok::<(), clap::Error>(())
    /// ```
    ///
    /// # Errors
    /// A [`clap::Error`] for unknown or malformed flags, missing `--issuer` or
    /// `--audience`, and `--jwks-url`s that break the pairing rule. `error.exit()` prints
    /// it with the usage and exits with status 2.
    pub fn try_parse_from<I, T>(args: I) -> Result<EdgeArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut command = Cli::command();
        let matches = command.try_get_matches_from_mut(args)?;
        let cli = Cli::from_arg_matches(&matches)?;
        let issuer_positions: Vec<usize> = matches
            .indices_of("issuers")
            .map(Iterator::collect)
            .unwrap_or_default();
        let jwks_positions: Vec<usize> = matches
            .indices_of("jwks_urls")
            .map(Iterator::collect)
            .unwrap_or_default();
        let mut issuers: Vec<IssuerArg> = cli
            .issuers
            .into_iter()
            .map(|issuer| IssuerArg {
                issuer,
                jwks_url: None,
            })
            .collect();
        for (url, position) in cli.jwks_urls.into_iter().zip(jwks_positions) {
            let owner = issuer_positions
                .iter()
                .rposition(|&issuer_position| issuer_position < position)
                .and_then(|index| issuers.get_mut(index));
            let Some(owner) = owner else {
                return Err(command.error(
                    ErrorKind::ArgumentConflict,
                    format!(
                        "--jwks-url {url} comes before every --issuer; put it right after \
                         the --issuer whose keys it serves"
                    ),
                ));
            };
            if let Some(first) = &owner.jwks_url {
                return Err(command.error(
                    ErrorKind::ArgumentConflict,
                    format!(
                        "--issuer {} has two --jwks-url ({first} and {url}); give each issuer \
                         at most one",
                        owner.issuer
                    ),
                ));
            }
            owner.jwks_url = Some(url);
        }
        let introspection = match (cli.introspect, cli.client_id) {
            (Some(url), Some(client_id)) => Some(IntrospectionArg {
                url,
                client_id,
                secret: match (cli.client_secret, cli.client_secret_file) {
                    (Some(secret), _) => SecretSource::Inline(secret),
                    (None, Some(path)) => SecretSource::File(path),
                    (None, None) => SecretSource::Environment,
                },
                method: cli.client_auth,
                issuer: match cli
                    .introspection_issuer
                    .or_else(|| issuers.first().map(|first| first.issuer.clone()))
                {
                    Some(issuer) => issuer,
                    None => {
                        return Err(command.error(
                            ErrorKind::MissingRequiredArgument,
                            "--introspect needs an --issuer or --introspection-issuer",
                        ));
                    }
                },
            }),
            // clap's `requires` makes each need the other.
            _ => None,
        };
        Ok(EdgeArgs {
            introspection,
            issuers,
            audiences: cli.audiences,
            listen: cli.listen,
            require_typ: cli.require_typ,
            leeway_seconds: cli.leeway,
            max_token_bytes: cli.max_token_bytes,
            no_cache: cli.no_cache,
            config: cli.config,
        })
    }
}

/// The edge could not start or serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeError {
    /// The verifier refused the configuration (an issuer or JWKS URL, the audiences,
    /// `--require-typ`, `--leeway` or `--max-token-bytes`).
    #[error("invalid configuration: {detail}")]
    Config {
        /// The verifier's stable reason.
        reason: &'static str,
        /// What it said.
        detail: String,
    },
    /// An issuer's keys could not be fetched at start-up.
    #[error(
        "cannot load the signing keys of issuer {issuer}: {detail} (is the identity provider up and reachable?)"
    )]
    KeysUnavailable {
        /// The issuer.
        issuer: String,
        /// Why.
        detail: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {detail}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        detail: String,
    },
    /// The server stopped with an error.
    #[error("serving failed: {detail}")]
    Serve {
        /// What happened.
        detail: String,
    },
}

impl EdgeError {
    /// A stable snake_case reason for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            EdgeError::Config { reason, .. } => reason,
            EdgeError::KeysUnavailable { .. } => "keys_unavailable",
            EdgeError::Bind { .. } => "bind_failed",
            EdgeError::Serve { .. } => "serve_failed",
        }
    }
}

/// A started edge: keys loaded, refresh running, listener bound. Dropping it stops the
/// background key refresh.
pub struct Edge {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    issuers: Vec<String>,
    no_cache: bool,
    // Held for their Drop: they stop the background work.
    _background: verifier::Background,
}

impl Edge {
    /// Builds the verifier, loads every issuer's keys, starts their background refresh
    /// and binds `args.listen`.
    ///
    /// ```
    /// use examples::edge::{Edge, EdgeArgs};
    /// use tower_auth::dev_idp::{DevIdp, Override};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let idp = DevIdp::start("127.0.0.1:0".parse()?).await?;
    /// let args = EdgeArgs::try_parse_from([
    ///     "edge", "--issuer", idp.issuer(), "--audience", "api", "--listen", "127.0.0.1:0",
    /// ])?;
    /// let edge = Edge::start(&args).await?;
    /// assert!(edge.banner().starts_with("edge: serving on http://127.0.0.1:"));
    /// // `tokio::spawn(edge.serve(shutdown))` would now serve it.
    ///
    /// // Rejected: the identity provider is down, so its keys cannot be loaded.
    /// idp.set_response(Override::Down);
    /// let error = Edge::start(&args).await.unwrap_err();
    /// assert_eq!(error.reason(), "keys_unavailable");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`EdgeError::Config`] for a configuration the verifier refuses,
    /// [`EdgeError::KeysUnavailable`] when an issuer's keys cannot be fetched,
    /// [`EdgeError::Bind`] when the address cannot be bound.
    pub async fn start(args: &EdgeArgs) -> Result<Edge, EdgeError> {
        Self::start_inner(args, None).await
    }

    /// As [`Edge::start`], with `fallback` answering every path the edge does not serve
    /// itself (instead of 404): where a gateway would forward to the services behind it.
    /// Its routes run without authentication unless they carry their own layers, and like
    /// every route of the edge they never see a spoofed `x-principal-bin` or
    /// `x-baton-internal-token`: the edge strips them from every request.
    ///
    /// # Errors
    /// As [`Edge::start`].
    pub async fn start_with_fallback(args: &EdgeArgs, fallback: Router) -> Result<Edge, EdgeError> {
        Self::start_inner(args, Some(fallback)).await
    }

    async fn start_inner(args: &EdgeArgs, fallback: Option<Router>) -> Result<Edge, EdgeError> {
        let (verifier, background) = verifier::build(args).await?;
        let router = router(verifier, args, fallback)?;
        let listener = TcpListener::bind(args.listen)
            .await
            .map_err(|e| EdgeError::Bind {
                addr: args.listen,
                detail: e.to_string(),
            })?;
        let local_addr = listener.local_addr().map_err(|e| EdgeError::Bind {
            addr: args.listen,
            detail: e.to_string(),
        })?;
        Ok(Edge {
            listener,
            local_addr,
            router,
            issuers: match &args.config {
                Some(path) => vec![format!("from {}", path.display())],
                None => args.issuers.iter().map(|i| i.issuer.clone()).collect(),
            },
            no_cache: args.no_cache,
            _background: background,
        })
    }

    /// The bound address (with the real port when `--listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The line the binary prints when it serves:
    /// `edge: serving on http://ADDR (issuers: A, B)`, plus `; cache off` with `--no-cache`.
    pub fn banner(&self) -> String {
        format!(
            "edge: serving on http://{} (issuers: {}{})",
            self.local_addr,
            self.issuers.join(", "),
            if self.no_cache { "; cache off" } else { "" }
        )
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    ///
    /// # Errors
    /// [`EdgeError::Serve`] if the server fails.
    pub async fn serve<F>(self, shutdown: F) -> Result<(), EdgeError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Edge {
            listener,
            router,
            _background,
            ..
        } = self;
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        drop(_background);
        served.map_err(|e| EdgeError::Serve {
            detail: e.to_string(),
        })
    }
}

impl fmt::Debug for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Edge")
            .field("local_addr", &self.local_addr)
            .field("issuers", &self.issuers)
            .field("no_cache", &self.no_cache)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct BareState {
    sample: Arc<Principal>,
}

/// The edge's routes: `GET /whoami` behind the authenticate layer (a `route_layer`, so
/// unknown paths stay 404), and `GET /bare` without it; the spoofable headers the
/// authenticate layer strips are stripped from every request, `/bare` and unknown paths
/// included (its [`strip_layer`](AuthenticateLayer::strip_layer), applied with
/// `Router::layer`).
///
/// [`Edge::start`] calls it with the verifier it built from `args`; any other
/// [`Verifier`] works too.
///
/// ```
/// use std::sync::Arc;
/// use examples::edge::{EdgeArgs, build_router};
/// use jsonwebtoken::Algorithm;
/// use principal::{Audience, Issuer};
/// use tower_auth::Verifier;
/// use tower_auth::jwks::SymmetricKey;
/// use tower_auth::jwt::{IssuerConfig, JwtVerifier};
///
/// let verifier: Arc<dyn Verifier> = Arc::new(
///     JwtVerifier::builder()
///         .issuer(
///             IssuerConfig::builder(Issuer::new("https://idp.example.com")?)
///                 .audience(Audience::new("api")?)
///                 .hmac_secrets([SymmetricKey::new(Some("k1"), Algorithm::HS256, vec![7; 32])?])
///                 .build()?,
///         )
///         .build()?,
/// );
/// let flags = ["edge", "--issuer", "https://idp.example.com", "--audience", "api"];
/// let router = build_router(Arc::clone(&verifier), &EdgeArgs::try_parse_from(flags)?)?;
/// # let _ = router;
///
/// // Rejected: a token size limit the authenticate layer cannot enforce.
/// let args = EdgeArgs::try_parse_from(flags.into_iter().chain(["--max-token-bytes", "0"]))?;
/// let error = build_router(verifier, &args).unwrap_err();
/// assert_eq!(error.reason(), "max_token_bytes_out_of_range");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`EdgeError::Config`] when `--max-token-bytes` is out of the layer's range.
pub fn build_router(verifier: Arc<dyn Verifier>, args: &EdgeArgs) -> Result<Router, EdgeError> {
    router(verifier, args, None)
}

fn router(
    verifier: Arc<dyn Verifier>,
    args: &EdgeArgs,
    fallback: Option<Router>,
) -> Result<Router, EdgeError> {
    let mut authenticate = AuthenticateLayer::new(verifier);
    if let Some(max) = args.max_token_bytes {
        authenticate = authenticate
            .max_token_bytes(max)
            .map_err(|e| EdgeError::Config {
                reason: e.reason(),
                detail: e.to_string(),
            })?;
    }
    // The same list the authenticate layer strips, for every route and the fallback.
    let strip = authenticate.strip_layer();
    let sample = sample_principal(args)?;
    let mut router = Router::new()
        .route("/whoami", get(whoami))
        .route_layer(authenticate)
        .route("/bare", get(bare))
        .with_state(BareState {
            sample: Arc::new(sample),
        });
    // The operator's view, without credentials (see `metrics_router` for where to serve it).
    router = router.merge(crate::metrics_router());
    if let Some(fallback) = fallback {
        router = router.fallback_service(fallback);
    }
    // Last, so it wraps everything above: routes, and the fallback (404 or `fallback`).
    Ok(router.layer(strip))
}

async fn whoami(principal: Authenticated) -> Response {
    Json(principal.verified().principal()).into_response()
}

async fn bare(State(state): State<BareState>) -> Response {
    Json(&*state.sample).into_response()
}

/// The fixed Principal `/bare` answers: shaped like one the edge would verify.
fn sample_principal(args: &EdgeArgs) -> Result<Principal, EdgeError> {
    let invalid = |what: &str, detail: String| EdgeError::Config {
        reason: "invalid_sample",
        detail: format!("{what}: {detail}"),
    };
    let issuer_text = args
        .issuers
        .first()
        .map_or("https://bare.invalid", |i| i.issuer.as_str());
    let issuer = Issuer::new(issuer_text).map_err(|e| invalid("issuer", e.to_string()))?;
    let audience = args.audiences.first().map_or("api", String::as_str);
    let audience = Audience::new(audience).map_err(|e| invalid("audience", e.to_string()))?;
    let scopes =
        ScopeSet::parse("orders:read profile").map_err(|e| invalid("scopes", e.to_string()))?;
    let now = SystemClock.now();
    Principal::builder(HumanId::derive(&issuer, "bare").into(), issuer, "bare")
        .scopes(scopes)
        .audience(audience)
        .issued_at(now)
        .expires_at(now.add_seconds(86_400))
        .token_id("bare")
        .build()
        .map_err(|e| invalid("principal", e.to_string()))
}

mod verifier {
    //! Builds the JWT verifier from the command line, loads its keys and starts their
    //! refresh.

    use std::sync::Arc;
    use std::time::Duration;

    use principal::{Audience, Issuer};
    use tower_auth::config::ServiceConfig;
    use tower_auth::introspect::{ClientAuth, IntrospectionVerifier};
    use tower_auth::jwks::{RefresherHandle, StartupPolicy};
    use tower_auth::jwt::{IssuerConfig, JwtVerifier};
    use tower_auth::token_cache::TokenCacheConfig;
    use tower_auth::{Verifier, VerifierChain};

    use super::{
        CLIENT_SECRET_ENV, ClientAuthMethod, EdgeArgs, EdgeError, IntrospectionArg, SecretSource,
    };

    /// What keeps the key sets fresh; dropping it stops the refreshers.
    pub(super) struct Background {
        _refreshers: Vec<RefresherHandle>,
    }

    fn config_error(reason: &'static str, detail: impl std::fmt::Display) -> EdgeError {
        EdgeError::Config {
            reason,
            detail: detail.to_string(),
        }
    }

    pub(super) async fn build(
        args: &EdgeArgs,
    ) -> Result<(Arc<dyn Verifier>, Background), EdgeError> {
        if let Some(path) = &args.config {
            return from_file(path, args.no_cache).await;
        }
        let audiences = args
            .audiences
            .iter()
            .map(|aud| {
                Audience::new(aud.as_str())
                    .map_err(|e| config_error("invalid_audience", format!("--audience {aud}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut builder = JwtVerifier::builder();
        for arg in &args.issuers {
            let issuer = Issuer::new(arg.issuer.as_str()).map_err(|e| {
                config_error("invalid_issuer", format!("--issuer {}: {e}", arg.issuer))
            })?;
            let mut config = IssuerConfig::builder(issuer).audiences(audiences.iter().cloned());
            config = match &arg.jwks_url {
                Some(url) => config.jwks_url(url),
                None => config.oidc_discovery(),
            };
            if let Some(typ) = &args.require_typ {
                config = config.require_typ(typ);
            }
            if let Some(seconds) = args.leeway_seconds {
                config = config.leeway(Duration::from_secs(seconds));
            }
            if let Some(max) = args.max_token_bytes {
                config = config.max_token_bytes(max);
            }
            let config = config.build().map_err(|e| config_error(e.reason(), &e))?;
            builder = builder.issuer(config);
        }
        if args.no_cache {
            builder = builder.token_cache(TokenCacheConfig::disabled());
        }
        let verifier = builder.build().map_err(|e| config_error(e.reason(), &e))?;
        let introspection = match &args.introspection {
            Some(arg) => Some(introspection_verifier(arg, &audiences)?),
            None => None,
        };
        // One fetch per issuer now, so a wrong URL or an IdP that is down stops the start
        // with a clear message instead of a 401 on every request.
        verifier
            .warm(StartupPolicy::FailIfUnavailable)
            .await
            .map_err(|e| EdgeError::KeysUnavailable {
                issuer: e.issuer().as_str().to_owned(),
                detail: e.error().to_string(),
            })?;
        let refreshers = verifier
            .spawn_refreshers()
            .map_err(|e| config_error(e.reason(), &e))?;
        tracing::info!(
            issuers = args.issuers.len(),
            cache = !args.no_cache,
            "edge: keys loaded, background refresh running"
        );
        let verifier: Arc<dyn Verifier> = match introspection {
            // JWTs first; a token that is not a JWT goes to introspection.
            Some(introspection) => {
                Arc::new(VerifierChain::new(Arc::new(verifier)).then(Arc::new(introspection)))
            }
            None => Arc::new(verifier),
        };
        Ok((
            verifier,
            Background {
                _refreshers: refreshers,
            },
        ))
    }

    /// The introspection verifier of `--introspect`, its secret read now.
    /// The verifiers of a `--config` file: `[jwt]` first, then `[introspection]`.
    async fn from_file(
        path: &std::path::Path,
        no_cache: bool,
    ) -> Result<(Arc<dyn Verifier>, Background), EdgeError> {
        let config = ServiceConfig::load(path).map_err(|e| config_error(e.reason(), &e))?;
        let jwt = match config.jwt {
            Some(mut builder) => {
                if no_cache {
                    builder = builder.token_cache(TokenCacheConfig::disabled());
                }
                Some(builder.build().map_err(|e| config_error(e.reason(), &e))?)
            }
            None => None,
        };
        let introspection = match config.introspection {
            Some(builder) => Some(Arc::new(
                builder.build().map_err(|e| config_error(e.reason(), &e))?,
            )),
            None => None,
        };
        let mut refreshers = Vec::new();
        let verifier: Arc<dyn Verifier> = match (jwt, introspection) {
            (Some(jwt), introspection) => {
                refreshers = warm(&jwt).await?;
                let jwt = Arc::new(jwt);
                match introspection {
                    Some(introspection) => Arc::new(VerifierChain::new(jwt).then(introspection)),
                    None => jwt,
                }
            }
            (None, Some(introspection)) => introspection,
            (None, None) => {
                return Err(config_error(
                    "no_verifier",
                    format!(
                        "{}: the edge needs a [jwt] or an [introspection] section",
                        path.display()
                    ),
                ));
            }
        };
        Ok((
            verifier,
            Background {
                _refreshers: refreshers,
            },
        ))
    }

    /// One fetch per issuer now, then the background refresh.
    async fn warm(verifier: &JwtVerifier) -> Result<Vec<RefresherHandle>, EdgeError> {
        verifier
            .warm(StartupPolicy::FailIfUnavailable)
            .await
            .map_err(|e| EdgeError::KeysUnavailable {
                issuer: e.issuer().as_str().to_owned(),
                detail: e.error().to_string(),
            })?;
        verifier
            .spawn_refreshers()
            .map_err(|e| config_error(e.reason(), &e))
    }

    fn introspection_verifier(
        arg: &IntrospectionArg,
        audiences: &[Audience],
    ) -> Result<IntrospectionVerifier, EdgeError> {
        let secret = match &arg.secret {
            SecretSource::Inline(secret) => secret.clone(),
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map(|secret| secret.trim().to_owned())
                .map_err(|e| {
                    config_error(
                        "client_secret_unavailable",
                        format!("--client-secret-file {}: {e}", path.display()),
                    )
                })?,
            SecretSource::Environment => std::env::var(CLIENT_SECRET_ENV).map_err(|_| {
                config_error(
                    "client_secret_unavailable",
                    format!(
                        "--introspect needs a client secret: --client-secret, \
                         --client-secret-file or {CLIENT_SECRET_ENV}"
                    ),
                )
            })?,
        };
        let auth = match arg.method {
            ClientAuthMethod::Basic => ClientAuth::client_secret_basic(&arg.client_id, secret),
            ClientAuthMethod::Post => ClientAuth::client_secret_post(&arg.client_id, secret),
        }
        .map_err(|e| config_error(e.reason(), &e))?;
        let issuer = Issuer::new(arg.issuer.as_str()).map_err(|e| {
            config_error(
                "invalid_issuer",
                format!("--introspection-issuer {}: {e}", arg.issuer),
            )
        })?;
        IntrospectionVerifier::builder(&arg.url, issuer, auth)
            .audiences(audiences.iter().cloned())
            .build()
            .map_err(|e| config_error(e.reason(), &e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<EdgeArgs, clap::Error> {
        EdgeArgs::try_parse_from(std::iter::once("edge").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_and_every_flag() {
        let args = parse(&["--issuer", "https://a.example", "--audience", "api"]).unwrap();
        assert_eq!(
            args,
            EdgeArgs {
                issuers: vec![IssuerArg {
                    issuer: "https://a.example".into(),
                    jwks_url: None
                }],
                audiences: vec!["api".into()],
                listen: "127.0.0.1:8080".parse().unwrap(),
                require_typ: None,
                leeway_seconds: None,
                max_token_bytes: None,
                no_cache: false,
                introspection: None,
                config: None,
            }
        );
        let args = parse(&[
            "--issuer=https://a.example",
            "--audience",
            "api",
            "--audience",
            "web",
            "--listen",
            "127.0.0.1:0",
            "--require-typ",
            "at+jwt",
            "--leeway",
            "5",
            "--max-token-bytes",
            "4096",
            "--no-cache",
        ])
        .unwrap();
        assert_eq!(args.audiences, ["api", "web"]);
        assert_eq!(args.listen.port(), 0);
        assert_eq!(args.require_typ.as_deref(), Some("at+jwt"));
        assert_eq!(args.leeway_seconds, Some(5));
        assert_eq!(args.max_token_bytes, Some(4096));
        assert!(args.no_cache);
    }

    #[test]
    fn introspection_flags_pair_up_and_never_print_the_secret() {
        let base = ["--issuer", "https://a.example", "--audience", "api"];
        let with = |extra: &[&str]| parse(&[&base[..], extra].concat());

        let args = with(&[
            "--introspect",
            "https://as.example/introspect",
            "--client-id",
            "edge",
        ])
        .unwrap();
        assert_eq!(
            args.introspection,
            Some(IntrospectionArg {
                url: "https://as.example/introspect".into(),
                client_id: "edge".into(),
                secret: SecretSource::Environment,
                method: ClientAuthMethod::Basic,
                issuer: "https://a.example".into(),
            })
        );
        let args = with(&[
            "--introspect",
            "https://as.example/introspect",
            "--client-id",
            "edge",
            "--client-secret",
            "hunter2",
            "--client-auth",
            "post",
            "--introspection-issuer",
            "https://as.example",
        ])
        .unwrap();
        let introspection = args.introspection.unwrap();
        assert_eq!(introspection.secret, SecretSource::Inline("hunter2".into()));
        assert_eq!(introspection.method, ClientAuthMethod::Post);
        assert_eq!(introspection.issuer, "https://as.example");
        assert!(!format!("{introspection:?}").contains("hunter2"));
        let file = with(&[
            "--introspect",
            "https://as.example/introspect",
            "--client-id",
            "edge",
            "--client-secret-file",
            "/run/secrets/edge",
        ])
        .unwrap();
        assert_eq!(
            file.introspection.unwrap().secret,
            SecretSource::File("/run/secrets/edge".into())
        );

        // Refused: one without the other, a secret without an endpoint, two secrets.
        for refused in [
            &["--introspect", "https://as.example/introspect"][..],
            &["--client-id", "edge"],
            &["--client-secret", "hunter2"],
            &[
                "--introspect",
                "https://as.example/introspect",
                "--client-id",
                "edge",
                "--client-secret",
                "a",
                "--client-secret-file",
                "/run/secrets/edge",
            ],
            &[
                "--introspect",
                "https://as.example/introspect",
                "--client-id",
                "edge",
                "--client-auth",
                "digest",
            ],
        ] {
            assert!(with(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn jwks_url_pairs_with_the_issuer_before_it() {
        let args = parse(&[
            "--issuer",
            "https://a.example",
            "--audience",
            "api",
            "--issuer",
            "https://b.example",
            // Other flags between an issuer and its JWKS URL do not break the pairing.
            "--no-cache",
            "--jwks-url",
            "https://b.example/keys",
            "--issuer",
            "https://c.example",
            "--jwks-url=https://c.example/keys",
        ])
        .unwrap();
        let pairs: Vec<(&str, Option<&str>)> = args
            .issuers
            .iter()
            .map(|i| (i.issuer.as_str(), i.jwks_url.as_deref()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("https://a.example", None),
                ("https://b.example", Some("https://b.example/keys")),
                ("https://c.example", Some("https://c.example/keys")),
            ]
        );
    }

    #[test]
    fn jwks_url_before_every_issuer_is_refused() {
        let error = parse(&[
            "--jwks-url",
            "https://a.example/keys",
            "--issuer",
            "https://a.example",
            "--audience",
            "api",
        ])
        .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ArgumentConflict);
        assert!(error.to_string().contains("comes before every --issuer"));
    }

    #[test]
    fn two_jwks_urls_for_one_issuer_are_refused() {
        let error = parse(&[
            "--issuer",
            "https://a.example",
            "--jwks-url",
            "https://a.example/k1",
            "--jwks-url",
            "https://a.example/k2",
            "--audience",
            "api",
        ])
        .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ArgumentConflict);
        assert!(error.to_string().contains("has two --jwks-url"));
    }

    #[test]
    fn missing_or_malformed_flags_are_refused() {
        for (args, kind) in [
            (
                &["--audience", "api"][..],
                ErrorKind::MissingRequiredArgument,
            ),
            (
                &["--issuer", "https://a.example"][..],
                ErrorKind::MissingRequiredArgument,
            ),
            (
                &[
                    "--issuer",
                    "https://a.example",
                    "--audience",
                    "api",
                    "--leeway",
                    "-1",
                ][..],
                ErrorKind::UnknownArgument,
            ),
            (
                &[
                    "--issuer",
                    "https://a.example",
                    "--audience",
                    "api",
                    "--max-token-bytes",
                    "big",
                ][..],
                ErrorKind::ValueValidation,
            ),
            (
                &[
                    "--issuer",
                    "https://a.example",
                    "--audience",
                    "api",
                    "--listen",
                    "localhost",
                ][..],
                ErrorKind::ValueValidation,
            ),
            (
                &["--issuer", "https://a.example", "--audience", "api", "--x"][..],
                ErrorKind::UnknownArgument,
            ),
        ] {
            assert_eq!(parse(args).unwrap_err().kind(), kind, "{args:?}");
        }
    }

    #[test]
    fn edge_errors_have_stable_reasons() {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        for (error, reason) in [
            (
                EdgeError::Config {
                    reason: "no_audiences",
                    detail: String::new(),
                },
                "no_audiences",
            ),
            (
                EdgeError::KeysUnavailable {
                    issuer: "https://a.example".into(),
                    detail: "down".into(),
                },
                "keys_unavailable",
            ),
            (
                EdgeError::Bind {
                    addr,
                    detail: "in use".into(),
                },
                "bind_failed",
            ),
            (
                EdgeError::Serve {
                    detail: "gone".into(),
                },
                "serve_failed",
            ),
        ] {
            assert_eq!(error.reason(), reason);
        }
    }
}
