//! The RFC 8693 token exchange client against a real token endpoint: an axum server on
//! `127.0.0.1:0` written here, which counts its calls, records the form and headers it
//! receives, answers what each test configures, and can hold its answers behind a gate
//! (no test sleeps; time moves on a `TestClock`).
//!
//! Covered: every request parameter and both client authentication methods on the wire;
//! each RFC 6749 error answer mapped, with no token in the error; a missing or mismatched
//! `issued_token_type` refused; redirects, oversized answers, timeouts and unreachable
//! endpoints refused; the cache (hit, expiry, refresh ahead under load with exactly one
//! refresh call, a refusal dropping the entry, single flight of 1,000 concurrent
//! exchanges, distinct keys); and `Route::exchanged` end to end over HTTP.
#![allow(clippy::unwrap_used)]

#[path = "support/chain.rs"]
mod chain;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use chain::{Bound, Hop, get, serve};
use http::{HeaderMap, StatusCode};
use jsonwebtoken::Algorithm;
use principal::{Audience, Issuer, ScopeSet, TestClock, Timestamp};
use serde_json::json;
use tokio::sync::watch;
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::dev_idp::DevIdp;
use tower_auth::exchange::{
    ClientAuth, ExchangeError, ExchangeRequest, ExchangeTarget, ExchangedToken, OAuthErrorCode,
    TokenExchangeClient, TokenType,
};
use tower_auth::jwks::StartupPolicy;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::propagate::{PropagateError, PropagateLayer, Route};

const START: i64 = 1_700_000_000;
const SUBJECT: &str = "subject-token-of-alice";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// What the endpoint answers.
#[derive(Clone)]
enum Reply {
    /// `exchanged-<n>` (the n-th call), `token_type` and `expires_in` as given, and an
    /// `issued_token_type` as [`Issued`] says.
    Token {
        expires_in: Option<u64>,
        issued: Issued,
        token_type: &'static str,
    },
    /// Exactly this.
    Raw {
        status: u16,
        content_type: &'static str,
        body: String,
    },
    /// A redirect to this URL.
    Redirect(String),
}

#[derive(Clone, Copy)]
enum Issued {
    /// The `requested_token_type` received.
    AsRequested,
    Missing,
    Fixed(&'static str),
}

fn token_reply(expires_in: u64) -> Reply {
    Reply::Token {
        expires_in: Some(expires_in),
        issued: Issued::AsRequested,
        token_type: "Bearer",
    }
}

/// What the endpoint received in one call.
#[derive(Clone, Debug)]
struct Received {
    form: Vec<(String, String)>,
    authorization: Option<String>,
    content_type: Option<String>,
}

impl Received {
    fn all(&self, name: &str) -> Vec<&str> {
        self.form
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    fn one(&self, name: &str) -> &str {
        let all = self.all(name);
        assert_eq!(all.len(), 1, "{name}: {all:?}");
        all[0]
    }
}

#[derive(Clone)]
struct StsState {
    calls: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Received>>>,
    reply: Arc<Mutex<Reply>>,
    gate: watch::Receiver<bool>,
    arrivals: Arc<watch::Sender<usize>>,
}

/// The token endpoint.
struct Sts {
    url: String,
    state: StsState,
    gate: watch::Sender<bool>,
}

async fn token_endpoint(
    State(state): State<StsState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = state.calls.fetch_add(1, Ordering::SeqCst) + 1;
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let header = |name: &str| {
        headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let requested = form
        .iter()
        .find(|(key, _)| key == "requested_token_type")
        .map(|(_, value)| value.clone());
    state.received.lock().unwrap().push(Received {
        form,
        authorization: header("authorization"),
        content_type: header("content-type"),
    });
    state.arrivals.send_modify(|count| *count += 1);
    let mut gate = state.gate.clone();
    let _ = gate.wait_for(|open| *open).await;
    let reply = state.reply.lock().unwrap().clone();
    match reply {
        Reply::Token {
            expires_in,
            issued,
            token_type,
        } => {
            let mut body =
                json!({"access_token": format!("exchanged-{n}"), "token_type": token_type});
            match issued {
                Issued::AsRequested => body["issued_token_type"] = json!(requested),
                Issued::Missing => {}
                Issued::Fixed(uri) => body["issued_token_type"] = json!(uri),
            }
            if let Some(seconds) = expires_in {
                body["expires_in"] = json!(seconds);
            }
            axum::Json(body).into_response()
        }
        Reply::Raw {
            status,
            content_type,
            body,
        } => (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", content_type)],
            body,
        )
            .into_response(),
        Reply::Redirect(location) => (
            StatusCode::TEMPORARY_REDIRECT,
            [("location", location.as_str())],
        )
            .into_response(),
    }
}

impl Sts {
    async fn start() -> Sts {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let (gate, gate_rx) = watch::channel(true);
        let state = StsState {
            calls: Arc::default(),
            received: Arc::default(),
            reply: Arc::new(Mutex::new(token_reply(300))),
            gate: gate_rx,
            arrivals: Arc::new(watch::channel(0).0),
        };
        let app = Router::new()
            .route("/token", post(token_endpoint))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Sts { url, state, gate }
    }

    fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    fn reply(&self, reply: Reply) {
        *self.state.reply.lock().unwrap() = reply;
    }

    fn last(&self) -> Received {
        self.state.received.lock().unwrap().last().unwrap().clone()
    }

    /// Answers wait until [`release`](Self::release).
    fn hold(&self) {
        self.gate.send_replace(false);
    }

    fn release(&self) {
        self.gate.send_replace(true);
    }

    /// Waits until `n` calls have arrived (answered or held).
    async fn arrived(&self, n: usize) {
        let mut arrivals = self.state.arrivals.subscribe();
        tokio::time::timeout(
            Duration::from_secs(10),
            arrivals.wait_for(|count| *count >= n),
        )
        .await
        .expect("the calls arrive in time")
        .unwrap();
    }

    fn client(&self, auth: ClientAuth) -> tower_auth::exchange::TokenExchangeClientBuilder {
        TokenExchangeClient::builder(&self.url, auth)
    }

    /// A client with `client_secret_basic`, on `clock`.
    fn basic_client(&self, clock: &TestClock) -> TokenExchangeClient {
        self.client(basic())
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap()
    }
}

fn basic() -> ClientAuth {
    ClientAuth::client_secret_basic("edge", "edge-secret").unwrap()
}

fn clock() -> TestClock {
    TestClock::new(Timestamp::from_unix_seconds(START))
}

fn audience(name: &str) -> Audience {
    Audience::new(name).unwrap()
}

fn request(subject: &str, audience_name: &str) -> ExchangeRequest {
    ExchangeRequest::new(
        subject,
        TokenType::ACCESS_TOKEN,
        ExchangeTarget::audience(audience(audience_name)),
    )
    .unwrap()
}

#[tokio::test]
async fn every_request_parameter_is_on_the_wire() {
    let sts = Sts::start().await;
    let client = sts.basic_client(&clock());
    let target = ExchangeTarget::audience(audience("orders"))
        .and_audience(audience("billing"))
        .and_resource("https://orders.internal/api".parse().unwrap())
        .unwrap()
        .scopes(ScopeSet::parse("orders:read orders:write").unwrap())
        .requested_token_type(TokenType::JWT);
    let full = ExchangeRequest::new(SUBJECT, TokenType::ID_TOKEN, target)
        .unwrap()
        .actor("actor-token-of-bot", TokenType::JWT)
        .unwrap();
    let token = client.exchange(&full).await.unwrap();
    assert_eq!(token.as_str(), "exchanged-1");
    assert_eq!(token.issued_token_type(), &TokenType::JWT);

    let got = sts.last();
    assert_eq!(
        got.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        got.one("grant_type"),
        "urn:ietf:params:oauth:grant-type:token-exchange"
    );
    assert_eq!(got.one("subject_token"), SUBJECT);
    assert_eq!(
        got.one("subject_token_type"),
        "urn:ietf:params:oauth:token-type:id_token"
    );
    assert_eq!(got.one("actor_token"), "actor-token-of-bot");
    assert_eq!(
        got.one("actor_token_type"),
        "urn:ietf:params:oauth:token-type:jwt"
    );
    assert_eq!(got.all("audience"), ["orders", "billing"]);
    assert_eq!(got.all("resource"), ["https://orders.internal/api"]);
    assert_eq!(got.one("scope"), "orders:read orders:write");
    assert_eq!(
        got.one("requested_token_type"),
        "urn:ietf:params:oauth:token-type:jwt"
    );

    // The minimal request: no actor, no scope, no resource; an access token requested.
    client.exchange(&request(SUBJECT, "orders")).await.unwrap();
    let got = sts.last();
    for absent in ["actor_token", "actor_token_type", "scope", "resource"] {
        assert!(got.all(absent).is_empty(), "{absent}");
    }
    assert_eq!(got.one("subject_token_type"), ACCESS_TOKEN);
    assert_eq!(got.one("requested_token_type"), ACCESS_TOKEN);
    assert_eq!(got.all("audience"), ["orders"]);
}

#[tokio::test]
async fn each_client_auth_method_is_on_the_wire() {
    let sts = Sts::start().await;

    let basic = sts
        .client(ClientAuth::client_secret_basic("edge:api", "s&cret").unwrap())
        .build()
        .unwrap();
    basic.exchange(&request(SUBJECT, "orders")).await.unwrap();
    let got = sts.last();
    let encoded = got
        .authorization
        .as_deref()
        .unwrap()
        .strip_prefix("Basic ")
        .unwrap()
        .to_owned();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    // RFC 6749 §2.3.1: each form-urlencoded, then joined by a colon.
    assert_eq!(decoded, b"edge%3Aapi:s%26cret");
    assert!(got.all("client_id").is_empty());
    assert!(got.all("client_secret").is_empty());

    let post = sts
        .client(ClientAuth::client_secret_post("edge", "s&cret").unwrap())
        .build()
        .unwrap();
    post.exchange(&request(SUBJECT, "orders")).await.unwrap();
    let got = sts.last();
    assert_eq!(got.authorization, None);
    assert_eq!(got.one("client_id"), "edge");
    assert_eq!(got.one("client_secret"), "s&cret");
}

#[tokio::test]
async fn each_error_answer_is_mapped_and_never_holds_a_token() {
    let sts = Sts::start().await;
    let client = sts.basic_client(&clock());
    let cases = [
        ("invalid_request", 400, OAuthErrorCode::InvalidRequest),
        ("invalid_client", 401, OAuthErrorCode::InvalidClient),
        ("invalid_grant", 400, OAuthErrorCode::InvalidGrant),
        (
            "unauthorized_client",
            400,
            OAuthErrorCode::UnauthorizedClient,
        ),
        (
            "unsupported_grant_type",
            400,
            OAuthErrorCode::UnsupportedGrantType,
        ),
        ("invalid_scope", 400, OAuthErrorCode::InvalidScope),
        ("invalid_target", 400, OAuthErrorCode::InvalidTarget),
        ("temporarily_unavailable", 503, OAuthErrorCode::Other),
    ];
    for (i, (code, status, expected)) in cases.into_iter().enumerate() {
        // A server that echoes the request in its description.
        sts.reply(Reply::Raw {
            status,
            content_type: "application/json;charset=UTF-8",
            body: json!({"error": code, "error_description": format!("bad token {SUBJECT}")})
                .to_string(),
        });
        let error = client
            .exchange(&request(SUBJECT, "orders"))
            .await
            .unwrap_err();
        assert_eq!(
            error,
            ExchangeError::Rejected {
                code: expected,
                status
            },
            "{code}"
        );
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(SUBJECT), "{shown}");
        // Errors are not cached: each attempt asks again.
        assert_eq!(sts.calls(), i + 1);
    }
    assert_eq!(
        ExchangeError::Rejected {
            code: OAuthErrorCode::InvalidTarget,
            status: 400
        }
        .reason(),
        "invalid_target"
    );

    // Not an RFC 6749 error answer: only the status.
    sts.reply(Reply::Raw {
        status: 502,
        content_type: "text/html",
        body: format!("<h1>bad gateway for {SUBJECT}</h1>"),
    });
    let error = client
        .exchange(&request(SUBJECT, "orders"))
        .await
        .unwrap_err();
    assert_eq!(error, ExchangeError::HttpStatus { status: 502 });
}

#[tokio::test]
async fn a_missing_or_mismatched_issued_token_type_is_refused_and_not_cached() {
    let sts = Sts::start().await;
    let client = sts.basic_client(&clock());
    sts.reply(Reply::Token {
        expires_in: Some(300),
        issued: Issued::Missing,
        token_type: "Bearer",
    });
    for attempt in 1..=2 {
        let error = client
            .exchange(&request(SUBJECT, "orders"))
            .await
            .unwrap_err();
        assert_eq!(error, ExchangeError::MissingIssuedTokenType);
        assert_eq!(sts.calls(), attempt);
    }
    // An ID token where an access token was asked for.
    sts.reply(Reply::Token {
        expires_in: Some(300),
        issued: Issued::Fixed("urn:ietf:params:oauth:token-type:id_token"),
        token_type: "N_A",
    });
    let error = client
        .exchange(&request(SUBJECT, "orders"))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "issued_token_type_mismatch");
    assert!(matches!(
        error,
        ExchangeError::IssuedTokenTypeMismatch { ref requested, ref issued }
            if *requested == TokenType::ACCESS_TOKEN && issued.ends_with(":id_token")
    ));
    // A token type this client cannot present.
    sts.reply(Reply::Token {
        expires_in: Some(300),
        issued: Issued::AsRequested,
        token_type: "DPoP",
    });
    let error = client
        .exchange(&request(SUBJECT, "orders"))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "unsupported_token_type");
    assert_eq!(client.cached_len(), 0);
}

#[tokio::test]
async fn redirects_oversized_answers_timeouts_and_unreachable_endpoints_fail_closed() {
    let sts = Sts::start().await;
    let (elsewhere, recorder) = chain::outsider().await;

    sts.reply(Reply::Redirect(elsewhere));
    let client = sts.basic_client(&clock());
    let error = client
        .exchange(&request(SUBJECT, "orders"))
        .await
        .unwrap_err();
    assert_eq!(error, ExchangeError::Redirect { status: 307 });
    assert!(recorder.take().is_empty(), "the redirect was followed");

    sts.reply(Reply::Raw {
        status: 200,
        content_type: "application/json",
        body: json!({"access_token": "x".repeat(2048), "issued_token_type": ACCESS_TOKEN,
                     "token_type": "Bearer"})
        .to_string(),
    });
    let small = sts.client(basic()).max_answer_bytes(1024).build().unwrap();
    let error = small
        .exchange(&request(SUBJECT, "orders"))
        .await
        .unwrap_err();
    assert_eq!(error, ExchangeError::TooLarge { limit: 1024 });

    sts.reply(Reply::Raw {
        status: 200,
        content_type: "text/plain",
        body: "exchanged".into(),
    });
    let error = client
        .exchange(&request(SUBJECT, "orders"))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "exchange_malformed");

    // Held past the timeout.
    sts.reply(token_reply(300));
    sts.hold();
    let impatient = sts
        .client(basic())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let error = impatient
        .exchange(&request(SUBJECT, "orders"))
        .await
        .unwrap_err();
    assert_eq!(error, ExchangeError::Timeout);
    sts.release();

    // Nothing listens there.
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/token", listener.local_addr().unwrap())
    };
    let unreachable = TokenExchangeClient::builder(&closed, basic())
        .build()
        .unwrap();
    let error = unreachable
        .exchange(&request(SUBJECT, "orders"))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "exchange_unreachable");
    assert!(!format!("{error}").contains(SUBJECT));
}

#[test]
fn the_builder_refuses_unsafe_settings() {
    let build = |url: &str| TokenExchangeClient::builder(url, basic()).build();
    for url in [
        "http://sts.example.com/token",
        "https://user:pass@sts.example.com/token",
        "https://sts.example.com/token#fragment",
        "ftp://sts.example.com/token",
        "not a url",
    ] {
        let error = build(url).unwrap_err();
        assert_eq!(error.reason(), "invalid_endpoint", "{url}");
        assert!(!error.to_string().contains("pass@"), "{error}");
    }
    assert!(build("https://sts.example.com/token").is_ok());
    assert!(build("http://127.0.0.1:9/token").is_ok());
    assert!(build("http://localhost:9/token").is_ok());
    let builder = || TokenExchangeClient::builder("https://sts.example.com/token", basic());
    assert_eq!(
        builder()
            .timeout(Duration::ZERO)
            .build()
            .unwrap_err()
            .reason(),
        "timeout_out_of_range"
    );
    assert_eq!(
        builder()
            .timeout(Duration::from_secs(61))
            .build()
            .unwrap_err()
            .reason(),
        "timeout_out_of_range"
    );
    assert_eq!(
        builder().max_answer_bytes(0).build().unwrap_err().reason(),
        "max_answer_bytes_out_of_range"
    );
    assert_eq!(
        builder()
            .max_answer_bytes(2 * 1024 * 1024)
            .build()
            .unwrap_err()
            .reason(),
        "max_answer_bytes_out_of_range"
    );
    assert_eq!(
        builder().max_entries(0).build().unwrap_err().reason(),
        "no_cache_entries"
    );
}

#[tokio::test]
async fn a_cached_token_serves_until_shortly_before_expiry() {
    let sts = Sts::start().await;
    let clock = clock();
    let client = sts
        .client(basic())
        .clock(Arc::new(clock.clone()))
        .renew_before(Duration::from_secs(30))
        .refresh_ahead(Duration::ZERO)
        .build()
        .unwrap();
    let request = request(SUBJECT, "orders");
    let first = client.exchange(&request).await.unwrap();
    assert_eq!(
        first.expires_at(),
        Some(Timestamp::from_unix_seconds(START + 300))
    );
    // Served from the cache up to 30 s before its expiry.
    clock.advance(269);
    let hit = client.exchange(&request).await.unwrap();
    assert_eq!(hit.as_str(), first.as_str());
    assert_eq!(sts.calls(), 1);
    // Then renewed.
    clock.advance(1);
    let renewed = client.exchange(&request).await.unwrap();
    assert_eq!(renewed.as_str(), "exchanged-2");
    assert_eq!(sts.calls(), 2);
    assert_eq!(
        client.exchange(&request).await.unwrap().as_str(),
        "exchanged-2"
    );
    assert_eq!(sts.calls(), 2);

    // No expires_in, or one inside the renewal margin: returned, never cached.
    for expires_in in [None, Some(30)] {
        sts.reply(Reply::Token {
            expires_in,
            issued: Issued::AsRequested,
            token_type: "Bearer",
        });
        let other = self::request(SUBJECT, "billing");
        let before = sts.calls();
        client.exchange(&other).await.unwrap();
        client.exchange(&other).await.unwrap();
        assert_eq!(sts.calls(), before + 2);
    }
}

/// Waits (yielding, never sleeping) until `client` serves a token other than `old`.
async fn until_renewed(
    client: &TokenExchangeClient,
    request: &ExchangeRequest,
    old: &str,
) -> Result<ExchangedToken, ExchangeError> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match client.exchange(request).await {
                Ok(token) if token.as_str() == old => tokio::task::yield_now().await,
                other => return other,
            }
        }
    })
    .await
    .expect("renewed in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_under_load_makes_exactly_one_call_and_serves_the_valid_token() {
    let sts = Sts::start().await;
    let clock = clock();
    let client = sts
        .client(basic())
        .clock(Arc::new(clock.clone()))
        .renew_before(Duration::from_secs(30))
        .refresh_ahead(Duration::from_secs(60))
        .build()
        .unwrap();
    let request = request(SUBJECT, "orders");
    assert_eq!(
        client.exchange(&request).await.unwrap().as_str(),
        "exchanged-1"
    );

    // Before the refresh window (210 s to 270 s after issue): hits only.
    clock.advance(209);
    assert_eq!(
        client.exchange(&request).await.unwrap().as_str(),
        "exchanged-1"
    );
    assert_eq!(sts.calls(), 1);

    // In the window, under load, with the refresh held at the endpoint: every request is
    // served the still-valid token at once, and one refresh call is made.
    clock.advance(6);
    sts.hold();
    let mut load = Vec::new();
    for _ in 0..200 {
        let client = client.clone();
        let request = request.clone();
        load.push(tokio::spawn(async move {
            client.exchange(&request).await.unwrap()
        }));
    }
    for task in load {
        assert_eq!(task.await.unwrap().as_str(), "exchanged-1");
    }
    sts.arrived(2).await;
    for _ in 0..200 {
        assert_eq!(
            client.exchange(&request).await.unwrap().as_str(),
            "exchanged-1"
        );
    }
    assert_eq!(sts.calls(), 2, "exactly one refresh call");

    sts.release();
    let renewed = until_renewed(&client, &request, "exchanged-1")
        .await
        .unwrap();
    assert_eq!(renewed.as_str(), "exchanged-2");
    assert_eq!(
        renewed.expires_at(),
        Some(Timestamp::from_unix_seconds(START + 215 + 300))
    );
    assert_eq!(sts.calls(), 2);
}

/// Waits (yielding, never sleeping) until `client` has recorded `n` endpoint calls.
async fn settled(client: &TokenExchangeClient, n: u64) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while client.completed_calls() < n {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("settled in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_keeps_the_valid_token_and_a_refusal_drops_it() {
    let sts = Sts::start().await;
    let clock = clock();
    let client = sts.basic_client(&clock);
    let request = request(SUBJECT, "orders");
    client.exchange(&request).await.unwrap();

    // A refresh that fails with a 5xx: the valid token keeps serving, and no refresh
    // starts again before REFRESH_RETRY_SECS.
    sts.reply(Reply::Raw {
        status: 503,
        content_type: "text/plain",
        body: "down".into(),
    });
    clock.advance(215);
    assert_eq!(
        client.exchange(&request).await.unwrap().as_str(),
        "exchanged-1"
    );
    settled(&client, 2).await;
    for _ in 0..50 {
        assert_eq!(
            client.exchange(&request).await.unwrap().as_str(),
            "exchanged-1"
        );
    }
    assert_eq!(sts.calls(), 2);
    clock.advance(tower_auth::exchange::REFRESH_RETRY_SECS);
    assert_eq!(
        client.exchange(&request).await.unwrap().as_str(),
        "exchanged-1"
    );
    settled(&client, 3).await;
    assert_eq!(sts.calls(), 3);

    // The endpoint now refuses the subject token: the refresh's refusal drops the cached
    // token at once, and the next request asks (and is refused) instead of being served.
    sts.reply(Reply::Raw {
        status: 400,
        content_type: "application/json",
        body: json!({"error": "invalid_grant"}).to_string(),
    });
    clock.advance(tower_auth::exchange::REFRESH_RETRY_SECS);
    assert_eq!(
        client.exchange(&request).await.unwrap().as_str(),
        "exchanged-1"
    );
    settled(&client, 4).await;
    let refused = client.exchange(&request).await.unwrap_err();
    assert_eq!(refused.reason(), "invalid_grant");
    assert_eq!(sts.calls(), 5);
}

/// Polls every future once (each makes its lookup: the first starts the call, the others
/// join its flight), then drives them all to the end.
async fn all_at_once<T>(mut futures: Vec<Pin<Box<dyn Future<Output = T> + Send + '_>>>) -> Vec<T> {
    std::future::poll_fn(|cx| {
        for future in &mut futures {
            assert!(
                future.as_mut().poll(cx).is_pending(),
                "nothing completes in one poll"
            );
        }
        Poll::Ready(())
    })
    .await;
    let mut out = Vec::with_capacity(futures.len());
    for future in futures {
        out.push(future.await);
    }
    out
}

#[tokio::test]
async fn single_flight_a_thousand_concurrent_exchanges_make_one_call() {
    let sts = Sts::start().await;
    let client = sts.basic_client(&clock());
    let request = request(SUBJECT, "orders");
    sts.hold();
    let futures = (0..1000)
        .map(|_| Box::pin(client.exchange(&request)) as Pin<Box<dyn Future<Output = _> + Send>>)
        .collect();
    let release = async {
        sts.arrived(1).await;
        sts.release();
    };
    let (results, ()): (Vec<Result<ExchangedToken, ExchangeError>>, ()) =
        tokio::join!(all_at_once(futures), release);
    assert_eq!(sts.calls(), 1);
    assert_eq!(results.len(), 1000);
    for result in results {
        assert_eq!(result.unwrap().as_str(), "exchanged-1");
    }

    // A burst that fails shares the one failure too.
    sts.reply(Reply::Raw {
        status: 400,
        content_type: "application/json",
        body: json!({"error": "invalid_grant"}).to_string(),
    });
    let other = self::request("another-subject", "orders");
    let futures = (0..1000)
        .map(|_| Box::pin(client.exchange(&other)) as Pin<Box<dyn Future<Output = _> + Send>>)
        .collect();
    let results: Vec<Result<ExchangedToken, ExchangeError>> = all_at_once(futures).await;
    for result in results {
        assert_eq!(result.unwrap_err().reason(), "invalid_grant");
    }
    assert_eq!(sts.calls(), 2);
}

#[tokio::test]
async fn a_cancelled_exchange_leaves_nothing_behind() {
    let sts = Sts::start().await;
    let client = sts.basic_client(&clock());
    let request = request(SUBJECT, "orders");
    sts.hold();
    {
        // The caller goes away while its call is at the endpoint.
        let exchange = client.exchange(&request);
        let arrived = sts.arrived(1);
        tokio::select! {
            _ = exchange => panic!("the held call answered"),
            () = arrived => {}
        }
    }
    sts.release();
    // The next caller takes the key over and is answered.
    let token = client.exchange(&request).await.unwrap();
    assert_eq!(token.as_str(), "exchanged-2");
    assert_eq!(
        client.exchange(&request).await.unwrap().as_str(),
        "exchanged-2"
    );
    assert_eq!(sts.calls(), 2);
    assert_eq!(client.cached_len(), 1);
}

#[tokio::test]
async fn distinct_subjects_actors_audiences_scopes_and_types_are_distinct_keys() {
    let sts = Sts::start().await;
    let client = sts.basic_client(&clock());
    let base = || ExchangeTarget::audience(audience("orders"));
    let with = |target: ExchangeTarget| {
        ExchangeRequest::new(SUBJECT, TokenType::ACCESS_TOKEN, target).unwrap()
    };
    let requests = [
        with(base()),
        with(ExchangeTarget::audience(audience("billing"))),
        with(base().and_audience(audience("billing"))),
        with(base().scopes(ScopeSet::parse("orders:read").unwrap())),
        with(base().scopes(ScopeSet::parse("orders:read orders:write").unwrap())),
        with(base().requested_token_type(TokenType::JWT)),
        with(
            base()
                .and_resource("https://orders.internal/".parse().unwrap())
                .unwrap(),
        ),
        with(base()).actor("bot-1", TokenType::JWT).unwrap(),
        with(base()).actor("bot-2", TokenType::JWT).unwrap(),
        with(base())
            .actor("bot-1", TokenType::ACCESS_TOKEN)
            .unwrap(),
        ExchangeRequest::new("another-subject", TokenType::ACCESS_TOKEN, base()).unwrap(),
        ExchangeRequest::new(SUBJECT, TokenType::JWT, base()).unwrap(),
    ];
    let mut tokens = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        tokens.push(client.exchange(request).await.unwrap().as_str().to_owned());
        assert_eq!(
            sts.calls(),
            i + 1,
            "request {i} was served another key's token"
        );
    }
    // Each key again: all hits, each its own token.
    for (request, token) in requests.iter().zip(&tokens) {
        assert_eq!(client.exchange(request).await.unwrap().as_str(), token);
    }
    assert_eq!(sts.calls(), requests.len());
    assert_eq!(client.cached_len(), requests.len());
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let sts = Sts::start().await;
    let client = sts
        .client(basic())
        .clock(Arc::new(clock()))
        .max_entries(3)
        .build()
        .unwrap();
    for i in 0..10 {
        client
            .exchange(&request(&format!("subject-{i}"), "orders"))
            .await
            .unwrap();
        assert!(client.cached_len() <= 3);
    }
}

// ---------------------------------------------------------------------------------------
// Route::exchanged, end to end over HTTP: a client with a token from the development IdP
// calls the edge (JWT verifier, bearer token kept); the edge's handler calls `orders`
// through the propagate layer, which exchanges the token at the endpoint first.

const API: &str = "shop-api";

struct Edge {
    url: String,
    idp: DevIdp,
    destination: chain::Recorder,
}

async fn edge(sts: &Sts, keep_bearer_token: bool) -> Edge {
    let clock = clock();
    let idp = DevIdp::start_with_clock("127.0.0.1:0".parse().unwrap(), Arc::new(clock.clone()))
        .await
        .unwrap();
    let config = IssuerConfig::builder(Issuer::new(idp.issuer()).unwrap())
        .audience(audience(API))
        .oidc_discovery()
        .build()
        .unwrap();
    let verifier = JwtVerifier::builder()
        .issuer(config)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    verifier
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .unwrap();
    let mut authenticate = AuthenticateLayer::new(Arc::new(verifier));
    if keep_bearer_token {
        authenticate = authenticate.keep_bearer_token();
    }
    let (orders_url, destination) = chain::outsider().await;
    let (outsider_url, _) = chain::outsider().await;
    let orders_authority = orders_url
        .parse::<http::Uri>()
        .unwrap()
        .authority()
        .unwrap()
        .to_string();
    let exchange = sts.basic_client(&clock);
    let route = Route::exchanged(
        exchange,
        ExchangeTarget::audience(audience("orders"))
            .scopes(ScopeSet::parse("orders:read").unwrap()),
    )
    .require_principal();
    let mut bound = Bound::new().await;
    let url = bound.url();
    serve(
        &mut bound,
        Hop {
            name: "edge",
            authenticate,
            propagate: PropagateLayer::new()
                .route(&orders_authority, route)
                .unwrap(),
            next: Some(orders_url),
            outsider: outsider_url,
            peer: None,
            extra: Router::new(),
        },
    );
    Edge {
        url,
        idp,
        destination,
    }
}

impl Edge {
    fn token(&self) -> String {
        self.idp
            .issue(
                json!({"iss": self.idp.issuer(), "sub": "alice", "aud": API,
                       "iat": START, "exp": START + 600, "scope": "orders:read orders:write"}),
                Algorithm::ES256,
            )
            .unwrap()
    }

    /// Calls the edge with alice's token: the edge's answer about its call to orders.
    async fn call(&self, token: &str) -> serde_json::Value {
        let (status, answer, _) =
            get(&self.url, &[("authorization", &format!("Bearer {token}"))]).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer["next"].clone()
    }
}

#[tokio::test]
async fn an_exchanged_route_sends_the_exchanged_token_end_to_end() {
    let sts = Sts::start().await;
    let edge = edge(&sts, true).await;
    let token = edge.token();

    let next = edge.call(&token).await;
    assert_eq!(next["status"], 200, "{next}");
    let received = edge.destination.take_one();
    assert_eq!(received["authorization"], "Bearer exchanged-1");
    // The endpoint was asked for the destination's audience with the edge's token.
    let asked = sts.last();
    assert_eq!(asked.one("subject_token"), token);
    assert_eq!(asked.one("subject_token_type"), ACCESS_TOKEN);
    assert_eq!(asked.one("audience"), "orders");
    assert_eq!(asked.one("scope"), "orders:read");
    assert_eq!(asked.one("requested_token_type"), ACCESS_TOKEN);
    assert!(asked.authorization.unwrap().starts_with("Basic "));

    // The next request with the same token is served from the cache.
    let next = edge.call(&token).await;
    assert_eq!(next["status"], 200, "{next}");
    assert_eq!(
        edge.destination.take_one()["authorization"],
        "Bearer exchanged-1"
    );
    assert_eq!(sts.calls(), 1);
}

#[tokio::test]
async fn a_failed_exchange_sends_nothing() {
    let sts = Sts::start().await;
    let edge = edge(&sts, true).await;
    let token = edge.token();

    for (reply, reason) in [
        (
            Reply::Raw {
                status: 400,
                content_type: "application/json",
                body: json!({"error": "invalid_target"}).to_string(),
            },
            "invalid_target",
        ),
        (
            Reply::Token {
                expires_in: Some(300),
                issued: Issued::Missing,
                token_type: "Bearer",
            },
            "missing_issued_token_type",
        ),
        (
            Reply::Token {
                expires_in: Some(300),
                issued: Issued::AsRequested,
                token_type: "N_A",
            },
            "unsupported_token_type",
        ),
    ] {
        sts.reply(reply);
        let next = edge.call(&token).await;
        assert_eq!(next["status"], 0, "{reason}: the call was made: {next}");
        let error = next["answer"].as_str().unwrap();
        assert!(
            error.starts_with("token exchange for 127.0.0.1:"),
            "{error}"
        );
        assert!(!error.contains(&token));
        assert!(
            edge.destination.take().is_empty(),
            "{reason}: something was sent"
        );
    }

    // An edge that does not keep the bearer token has nothing to exchange: refused.
    let sts = Sts::start().await;
    let edge = self::edge(&sts, false).await;
    let next = edge.call(&edge.token()).await;
    assert_eq!(next["status"], 0);
    assert!(
        next["answer"]
            .as_str()
            .unwrap()
            .contains("no original bearer token")
    );
    assert!(edge.destination.take().is_empty());
    assert_eq!(sts.calls(), 0);
}

#[test]
fn a_propagate_refusal_names_the_exchange_error() {
    let error = PropagateError::Exchange {
        destination: "orders.internal:8080".into(),
        source: ExchangeError::Rejected {
            code: OAuthErrorCode::InvalidGrant,
            status: 400,
        },
    };
    assert_eq!(error.reason(), "exchange");
    assert!(error.to_string().contains("invalid_grant"));
}
