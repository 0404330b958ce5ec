//! Shared by the revocation source tests: a capture of the audit events, and a token
//! exchange service on loopback whose issued tokens a receiving verifier checks against
//! a revocation mirror.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use jsonwebtoken::Algorithm;
use principal::{
    Audience, ClaimMapping, HumanId, Issuer, Principal, ScopeSet, TestClock, Timestamp,
};
use serde_json::Value;
use tower_auth::Pattern;
use tower_auth::authenticate::AUDIT_TARGET;
use tower_auth::jwks::{KeySet, KeySetPolicy};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
use tower_auth::revocation::RevocationCheck;
use tower_auth::sts::{
    ACCESS_TOKEN_TYPE, ClientSecret, RegisteredClient, TOKEN_EXCHANGE_GRANT, TokenExchangeService,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

pub const START: i64 = 1_700_000_000;
const GATEWAY_SECRET: &str = "gateway-secret-0123456789abcdef";
pub const ORDERS: &str = "orders-api";

// ---- audit capture ----

/// One captured audit event.
#[derive(Clone, Debug)]
pub struct Captured {
    pub level: tracing::Level,
    pub fields: BTreeMap<String, String>,
}

impl Captured {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// Captures the events on the audit target, on the thread it is set for (the tests run
/// on a current-thread runtime, so the background tasks' events are captured too).
#[derive(Clone, Default)]
pub struct AuditCapture {
    events: Arc<Mutex<Vec<Captured>>>,
}

impl AuditCapture {
    /// The capture, installed as the global subscriber (once per test binary: a scoped
    /// one misses events when tests on other threads race to register the callsites).
    /// Tests run in parallel: each filters by its own `revocation_source`.
    pub fn global() -> AuditCapture {
        static GLOBAL: std::sync::OnceLock<AuditCapture> = std::sync::OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let capture = AuditCapture::default();
                tracing::subscriber::set_global_default(capture.clone())
                    .expect("no other global subscriber");
                capture
            })
            .clone()
    }

    /// The events of the mirror whose source is named `source`.
    pub fn of(&self, source: &str) -> SourceEvents {
        SourceEvents(
            self.events()
                .into_iter()
                .filter(|event| event.field("revocation_source") == Some(source))
                .collect(),
        )
    }

    pub fn events(&self) -> Vec<Captured> {
        self.events.lock().unwrap().clone()
    }

    /// The events whose `field` is `value`.
    pub fn with(&self, field: &str, value: &str) -> Vec<Captured> {
        self.events()
            .into_iter()
            .filter(|event| event.field(field) == Some(value))
            .collect()
    }
}

/// The audit events of one source.
#[derive(Debug)]
pub struct SourceEvents(pub Vec<Captured>);

impl SourceEvents {
    /// The events whose `field` is `value`.
    pub fn with(&self, field: &str, value: &str) -> Vec<Captured> {
        self.0
            .iter()
            .filter(|event| event.field(field) == Some(value))
            .cloned()
            .collect()
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for AuditCapture {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == AUDIT_TARGET
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.events.lock().unwrap().push(Captured {
            level: *event.metadata().level(),
            fields,
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

// ---- a token exchange service and a receiving verifier ----

pub struct Sts {
    pub clock: TestClock,
    pub sts: TokenExchangeService,
    pub base: String,
    idp: InternalIssuer,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Sts {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn static_verifier(issuer: &InternalIssuer, audience: &str) -> IssuerConfig {
    let keys = KeySet::from_jwks_json(
        issuer.jwks().to_string().as_bytes(),
        &KeySetPolicy::default(),
    )
    .unwrap()
    .set;
    IssuerConfig::builder(issuer.issuer().clone())
        .audience(Audience::new(audience).unwrap())
        .static_keys(keys)
        .algorithms([Algorithm::ES256])
        .require_typ("at+jwt")
        .claim_mapping(ClaimMapping::baton())
        .build()
        .unwrap()
}

impl Sts {
    /// The service on `127.0.0.1:0`, its subject tokens minted by an upstream issuer.
    pub async fn start() -> Sts {
        let clock = TestClock::new(Timestamp::from_unix_seconds(START));
        let idp = InternalIssuer::builder(
            Issuer::new("https://idp.test").unwrap(),
            SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
        )
        .clock(Arc::new(clock.clone()))
        .lifetime(std::time::Duration::from_secs(900))
        .build()
        .unwrap();
        let subjects = JwtVerifier::builder()
            .issuer(static_verifier(&idp, "sts"))
            .clock(Arc::new(clock.clone()))
            .pattern(Pattern::InternalJwt)
            .build()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let issuer = InternalIssuer::builder(
            Issuer::new(&base).unwrap(),
            SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
        )
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
        let sts = TokenExchangeService::builder(issuer, Arc::new(subjects))
            .client(
                RegisteredClient::new("gateway", ClientSecret::new(GATEWAY_SECRET).unwrap())
                    .unwrap()
                    .may_exchange_for(Audience::new(ORDERS).unwrap()),
            )
            .build()
            .unwrap();
        let app = Router::new().fallback_service(sts.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Sts {
            clock,
            sts,
            base,
            idp,
            http: reqwest::Client::new(),
            server,
        }
    }

    /// An upstream token of `user` for the service (a subject token).
    pub fn subject_token(&self, user: &str) -> String {
        let idp = self.idp.issuer().clone();
        let principal = Principal::builder(HumanId::derive(&idp, user).into(), idp, user)
            .scopes(ScopeSet::parse("orders:read").unwrap())
            .expires_at(Timestamp::from_unix_seconds(START + 3600))
            .build()
            .unwrap();
        self.idp
            .mint(&principal, &Audience::new("sts").unwrap())
            .unwrap()
            .as_str()
            .to_owned()
    }

    /// The token endpoint and the credentials of its client `gateway`.
    pub fn token_endpoint(&self) -> (String, &'static str, &'static str) {
        (format!("{}/token", self.base), "gateway", GATEWAY_SECRET)
    }

    /// A token of the service for `orders-api`, exchanged over HTTP for `user`'s.
    pub async fn exchange(&self, user: &str) -> String {
        let subject = self.subject_token(user);
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", TOKEN_EXCHANGE_GRANT)
            .append_pair("subject_token", &subject)
            .append_pair("subject_token_type", ACCESS_TOKEN_TYPE)
            .append_pair("audience", ORDERS)
            .finish();
        let reply = self
            .http
            .post(format!("{}/token", self.base))
            .basic_auth("gateway", Some(GATEWAY_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "the exchange succeeds");
        let json: Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
        json["access_token"].as_str().unwrap().to_owned()
    }

    /// The receiving service's verifier (`orders-api`), checking `revocation`, with its
    /// token cache on.
    pub fn orders_verifier(&self, revocation: Arc<dyn RevocationCheck>) -> JwtVerifier {
        JwtVerifier::builder()
            .issuer(static_verifier(self.sts.issuer(), ORDERS))
            .clock(Arc::new(self.clock.clone()))
            .pattern(Pattern::InternalJwt)
            .revocation(revocation)
            .build()
            .unwrap()
    }
}

// ---- a revocation feed the test controls ----

/// How the stub feed answers.
#[derive(Clone, Debug)]
pub enum FeedMode {
    /// Like the STS: `?since=N`, `ETag`, 304 when unchanged.
    Normal,
    /// This status, empty body.
    Status(u16),
    /// A redirect to another host.
    Redirect,
    /// This body as `text/html`.
    NotJson,
    /// This body as JSON, with the right ETag.
    Body(String),
    /// A normal answer whose ETag names another version.
    WrongEtag,
}

#[derive(Default)]
struct FeedState {
    mode: Option<FeedMode>,
    /// (version, jti, exp), oldest first; the version is the last one's.
    revoked: Vec<(u64, String, i64)>,
    /// Which instance of the service answers: a restart draws the next one.
    epoch: u64,
    requests: u64,
    not_modified: u64,
}

/// A revocation feed on `127.0.0.1:0` with the STS's wire format, whose list and
/// behaviour the test sets.
pub struct StubFeed {
    pub url: String,
    state: Arc<Mutex<FeedState>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StubFeed {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn feed(
    axum::extract::State(state): axum::extract::State<Arc<Mutex<FeedState>>>,
    query: axum::extract::RawQuery,
    headers: http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut state = state.lock().unwrap();
    state.requests += 1;
    let version = state.revoked.last().map_or(0, |(v, _, _)| *v);
    let epoch = format!("e{}", state.epoch);
    let etag = format!("\"{epoch}-{version}\"");
    let json = [(http::header::CONTENT_TYPE, "application/json")];
    match state.mode.clone().unwrap_or(FeedMode::Normal) {
        FeedMode::Status(code) => http::StatusCode::from_u16(code).unwrap().into_response(),
        FeedMode::Redirect => (
            http::StatusCode::FOUND,
            [(http::header::LOCATION, "http://evil.example/revocations")],
        )
            .into_response(),
        FeedMode::NotJson => (
            [(http::header::CONTENT_TYPE, "text/html")],
            "<html>maintenance</html>",
        )
            .into_response(),
        FeedMode::Body(body) => (json, body).into_response(),
        mode @ (FeedMode::Normal | FeedMode::WrongEtag) => {
            if headers
                .get(http::header::IF_NONE_MATCH)
                .is_some_and(|v| v.as_bytes() == etag.as_bytes())
            {
                state.not_modified += 1;
                return (http::StatusCode::NOT_MODIFIED, [(http::header::ETAG, etag)])
                    .into_response();
            }
            let since: u64 = query
                .0
                .unwrap_or_default()
                .strip_prefix("since=")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let revoked: Vec<Value> = state
                .revoked
                .iter()
                .filter(|(v, _, _)| *v > since)
                .map(|(_, jti, exp)| serde_json::json!({"jti": jti, "exp": exp}))
                .collect();
            let body = serde_json::json!({"epoch": epoch, "version": version, "revoked": revoked})
                .to_string();
            let etag = if matches!(mode, FeedMode::WrongEtag) {
                format!("\"{epoch}-{}\"", version + 7)
            } else {
                etag
            };
            (
                [
                    (http::header::CONTENT_TYPE, "application/json".to_owned()),
                    (http::header::ETAG, etag),
                ],
                body,
            )
                .into_response()
        }
    }
}

impl StubFeed {
    pub async fn start() -> StubFeed {
        let state = Arc::new(Mutex::new(FeedState::default()));
        let app = Router::new()
            .route("/revocations", axum::routing::get(feed))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/revocations", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        StubFeed { url, state, server }
    }

    pub fn set_mode(&self, mode: FeedMode) {
        self.state.lock().unwrap().mode = Some(mode);
    }

    /// Revokes `jti` (its token expiring at `exp`) as the next version.
    pub fn revoke(&self, jti: &str, exp: i64) {
        let mut state = self.state.lock().unwrap();
        let version = state.revoked.last().map_or(0, |(v, _, _)| *v) + 1;
        state.revoked.push((version, jti.to_owned(), exp));
    }

    /// Forgets everything (a restarted service with an empty record).
    pub fn restart(&self) {
        let mut state = self.state.lock().unwrap();
        state.revoked.clear();
        state.epoch += 1;
    }

    /// (requests served, of which 304).
    pub fn counts(&self) -> (u64, u64) {
        let state = self.state.lock().unwrap();
        (state.requests, state.not_modified)
    }
}
