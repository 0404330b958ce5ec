//! Agent API keys exchanged at the token exchange service (issue 10, item 4): the service
//! mounted in axum on a loopback port and driven over real HTTP, the keys in memory or in
//! a SQLite file. The token a key yields is verified at a receiving service: the human,
//! with the agent acting, holding grant ∩ human ∩ requested. Every attack is answered
//! with its RFC error and mints nothing. An `AgentSession` re-exchanges per sub-request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use jsonwebtoken::Algorithm;
use principal::{
    AgentId, Audience, ClaimMapping, HumanId, Issuer, Kind, PrincipalId, Role, ScopeSet, Tenant,
    TestClock, Timestamp,
};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_auth::Pattern;
use tower_auth::agent_keys::{
    AgentGrant, AgentKeyError, AgentKeyId, AgentKeyInfo, AgentKeyStore, DirectoryFuture,
    HumanDirectory, HumanDirectoryError, HumanEntry, IssuedAgentKey, MemoryAgentKeyStore,
    MemoryHumanDirectory, NewAgentKey, SqliteAgentKeyStore, StoreFuture,
};
use tower_auth::exchange::{
    AgentSession, ClientAuth, ExchangeError, ExchangeTarget, OAuthErrorCode, TokenExchangeClient,
};
use tower_auth::jwks::{KeySet, KeySetPolicy};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
use tower_auth::sts::{
    ACCESS_TOKEN_TYPE, AGENT_KEY_TOKEN_TYPE, ActingPolicy, ClientSecret, RegisteredClient,
    StsError, TOKEN_EXCHANGE_GRANT, TokenExchangeService, TokenExchangeServiceBuilder,
};

const START: i64 = 1_700_000_000;
const ORDERS: &str = "orders-api";
const BILLING: &str = "billing-api";
const RUNNER: &str = "agent-runner";
const RUNNER_SECRET: &str = "agent-runner-secret-0123456789ab";
const ALICE: &str = "hm-6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d";
const BOT: &str = "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b";
/// What alice holds today.
const ALICE_SCOPES: &str = "orders:read orders:write profile";
/// What the key was granted: more than alice holds (`admin`), less (`profile` missing).
const GRANT: &str = "orders:read orders:write admin";

struct Fixture {
    clock: TestClock,
    sts: TokenExchangeService,
    keys: Arc<dyn AgentKeyStore>,
    humans: Arc<MemoryHumanDirectory>,
    base: String,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn alice() -> HumanId {
    ALICE.parse().unwrap()
}

fn bot() -> AgentId {
    BOT.parse().unwrap()
}

async fn start() -> Fixture {
    start_with(Arc::new(MemoryAgentKeyStore::new()), |b| b).await
}

/// The service on a loopback port, agent keys in `keys`, alice in the directory, its
/// builder changed by `configure` before the clients are registered.
async fn start_with(
    keys: Arc<dyn AgentKeyStore>,
    configure: impl FnOnce(TokenExchangeServiceBuilder) -> TokenExchangeServiceBuilder,
) -> Fixture {
    let humans = Arc::new(MemoryHumanDirectory::new());
    humans
        .insert(
            alice(),
            HumanEntry::new(ScopeSet::parse(ALICE_SCOPES).unwrap())
                .with_role(Role::new("buyer").unwrap())
                .with_tenant(Tenant::new("acme").unwrap()),
        )
        .unwrap();
    start_full(keys, humans.clone(), humans, configure).await
}

async fn start_full(
    keys: Arc<dyn AgentKeyStore>,
    humans: Arc<MemoryHumanDirectory>,
    directory: Arc<dyn HumanDirectory>,
    configure: impl FnOnce(TokenExchangeServiceBuilder) -> TokenExchangeServiceBuilder,
) -> Fixture {
    let clock = TestClock::new(Timestamp::from_unix_seconds(START));
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
    let sts = TokenExchangeService::builder(issuer.clone(), Arc::new(own_tokens(&issuer, &clock)))
        .agent_keys(keys.clone(), directory);
    let sts = configure(sts)
        .client(
            RegisteredClient::new(RUNNER, ClientSecret::new(RUNNER_SECRET).unwrap())
                .unwrap()
                .may_exchange_for(Audience::new(ORDERS).unwrap()),
        )
        .serve_jwks()
        .build()
        .unwrap();
    let app = Router::new().fallback_service(sts.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Fixture {
        clock,
        sts,
        keys,
        humans,
        base,
        http: reqwest::Client::new(),
        server,
    }
}

/// The subject verifier for access tokens: this service's own tokens (audience `sts`).
fn own_tokens(issuer: &InternalIssuer, clock: &TestClock) -> JwtVerifier {
    let keys = KeySet::from_jwks_json(
        issuer.jwks().to_string().as_bytes(),
        &KeySetPolicy::default(),
    )
    .unwrap()
    .set;
    let config = IssuerConfig::builder(issuer.issuer().clone())
        .audience(Audience::new("sts").unwrap())
        .static_keys(keys)
        .algorithms([Algorithm::ES256])
        .require_typ("at+jwt")
        .claim_mapping(ClaimMapping::baton())
        .build()
        .unwrap();
    JwtVerifier::builder()
        .issuer(config)
        .clock(Arc::new(clock.clone()))
        .pattern(Pattern::InternalJwt)
        .build()
        .unwrap()
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap()
    }

    fn token(&self) -> String {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        self.json()["access_token"].as_str().unwrap().to_owned()
    }
}

impl Fixture {
    /// A key for the bot acting for alice with [`GRANT`], for a day.
    async fn key(&self) -> IssuedAgentKey {
        self.key_for(alice(), GRANT, 86_400).await
    }

    async fn key_for(&self, human: HumanId, grant: &str, lifetime: i64) -> IssuedAgentKey {
        let now = Timestamp::from_unix_seconds(START);
        self.keys
            .create(
                NewAgentKey::new(
                    bot(),
                    human,
                    ScopeSet::parse(grant).unwrap(),
                    now.add_seconds(lifetime),
                ),
                now,
            )
            .await
            .unwrap()
    }

    /// The form body of an exchange of `key` (an agent key unless `params` say otherwise).
    fn form(&self, params: &[(&str, &str)]) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", TOKEN_EXCHANGE_GRANT);
        for (k, v) in params {
            form.append_pair(k, v);
        }
        form.finish()
    }

    /// An exchange over HTTP by `client_id`/`secret` (HTTP Basic).
    async fn exchange_as(&self, client_id: &str, secret: &str, params: &[(&str, &str)]) -> Reply {
        let response = self
            .http
            .post(format!("{}/token", self.base))
            .basic_auth(client_id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(self.form(params))
            .send()
            .await
            .unwrap();
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        }
    }

    async fn exchange(&self, params: &[(&str, &str)]) -> Reply {
        self.exchange_as(RUNNER, RUNNER_SECRET, params).await
    }

    /// The precise refusal of the same exchange, replayed in process (it rides in the
    /// response's extensions, never on the wire).
    async fn refusal(&self, client_id: &str, secret: &str, params: &[(&str, &str)]) -> StsError {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
        let request = http::Request::post("/token")
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(self.form(params)))
            .unwrap();
        let response = self.sts.clone().oneshot(request).await.unwrap();
        response.extensions().get::<StsError>().cloned().unwrap()
    }

    /// Asserts the exchange by the runner with `params` is refused with `status`/`error`,
    /// for the reason `expected`, with nothing minted or recorded.
    async fn assert_refused(
        &self,
        params: &[(&str, &str)],
        status: StatusCode,
        error: &str,
        expected: StsError,
    ) {
        self.assert_refused_as(RUNNER, RUNNER_SECRET, params, status, error, expected)
            .await;
    }

    async fn assert_refused_as(
        &self,
        client_id: &str,
        secret: &str,
        params: &[(&str, &str)],
        status: StatusCode,
        error: &str,
        expected: StsError,
    ) {
        let (minted, issued) = (self.minted(), self.sts.issued_tokens());
        let reply = self.exchange_as(client_id, secret, params).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        assert_eq!(
            reply.json(),
            json!({ "error": error }),
            "only the error code"
        );
        assert_eq!(reply.headers["cache-control"], "no-store");
        assert_eq!(self.refusal(client_id, secret, params).await, expected);
        assert_eq!(self.minted(), minted, "nothing minted");
        assert_eq!(self.sts.issued_tokens(), issued, "nothing recorded");
    }

    fn minted(&self) -> u64 {
        self.sts.issuer().tokens_minted()
    }

    /// The receiving service's verifier: the service's JWKS found by discovery over HTTP.
    async fn receiver(&self, audience: &str) -> JwtVerifier {
        support::sts::internal_jwt_receiver(
            self.sts.issuer().issuer(),
            Arc::new(self.clock.clone()),
            audience,
        )
        .await
    }

    fn session(&self, key: &str) -> AgentSession {
        let client = TokenExchangeClient::builder(
            &format!("{}/token", self.base),
            ClientAuth::client_secret_basic(RUNNER, RUNNER_SECRET).unwrap(),
        )
        .clock(Arc::new(self.clock.clone()))
        .build()
        .unwrap();
        AgentSession::new(client, key).unwrap()
    }
}

fn claims(token: &str) -> Value {
    let segment = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

fn agent_key<'a>(key: &'a str, scope: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("subject_token", key),
        ("subject_token_type", AGENT_KEY_TOKEN_TYPE),
        ("audience", ORDERS),
    ];
    if let Some(scope) = scope {
        params.push(("scope", scope));
    }
    params
}

/// The happy path, checked at the receiver: the human, the agent acting, the scopes.
async fn the_human_with_the_agent_acting(f: &Fixture) {
    let issued = f.key().await;
    let key = issued.key.expose_secret();

    let reply = f.exchange(&agent_key(key, Some("orders:read"))).await;
    let token = reply.token();
    let body = reply.json();
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(body["scope"], "orders:read");
    assert_eq!(body["expires_in"], 300, "minutes, not the key's day");
    assert_eq!(f.sts.issued_tokens(), 1);
    let minted = claims(&token);
    assert_eq!(minted["aud"], ORDERS);
    assert_eq!(minted["exp"], START + 300);
    assert_eq!(minted["act"]["sub"], BOT, "the agent in `act`");
    assert_eq!(minted["act"]["client_id"], RUNNER);
    assert!(minted["act"].get("act").is_none(), "one actor");
    assert!(!token.contains(key) && !reply.text.contains(key));

    let received = f.receiver(ORDERS).await.verify_token(&token).await.unwrap();
    assert_eq!(received.kind(), Kind::Human);
    assert_eq!(received.id(), &PrincipalId::from(alice()));
    assert_eq!(received.issuer(), f.sts.issuer().issuer());
    assert_eq!(received.delegation().len(), 1);
    let actor = received.current_actor().unwrap();
    assert_eq!(actor.kind(), Kind::Agent);
    assert_eq!(actor.id(), &PrincipalId::from(bot()));
    assert_eq!(received.acting(), actor.id());
    assert_eq!(received.scopes(), &ScopeSet::parse("orders:read").unwrap());
    assert!(received.has_role("buyer"));
    assert_eq!(received.tenant().map(Tenant::as_str), Some("acme"));
    // Replayed to another audience: refused there.
    assert!(
        f.receiver(BILLING)
            .await
            .verify_token(&token)
            .await
            .is_err()
    );

    // No scope asked: grant ∩ human, never `admin` (granted, not alice's) nor `profile`
    // (alice's, not granted).
    let reply = f.exchange(&agent_key(key, None)).await;
    let token = reply.token();
    assert_eq!(reply.json()["scope"], "orders:read orders:write");
    let received = f.receiver(ORDERS).await.verify_token(&token).await.unwrap();
    assert_eq!(
        received.scopes(),
        &ScopeSet::parse("orders:read orders:write").unwrap()
    );
    assert_eq!(f.sts.issued_tokens(), 2);
}

#[tokio::test]
async fn an_agent_key_yields_the_human_with_the_agent_acting() {
    let f = start().await;
    the_human_with_the_agent_acting(&f).await;
}

#[tokio::test]
async fn agent_keys_in_a_sqlite_file_are_exchanged_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent-keys.sqlite3");
    let store = Arc::new(SqliteAgentKeyStore::open(&path).await.unwrap());
    let f = start_with(store, |b| b).await;
    the_human_with_the_agent_acting(&f).await;
    assert!(path.exists());

    // A second key, revoked in the database: refused at its next exchange.
    let issued = f.key().await;
    let key = issued.key.expose_secret();
    f.exchange(&agent_key(key, None)).await.token();
    f.keys
        .revoke(&issued.info.id, principal::Clock::now(&f.clock))
        .await
        .unwrap();
    f.assert_refused(
        &agent_key(key, None),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        StsError::AgentKeyRefused {
            reason: "agent_key_revoked",
        },
    )
    .await;
}

#[tokio::test]
async fn a_revoked_expired_unknown_wrong_or_malformed_key_is_invalid_grant() {
    let f = start().await;
    let refused = |reason| StsError::AgentKeyRefused { reason };
    let bad = StatusCode::BAD_REQUEST;

    // Revoked.
    let revoked = f.key().await;
    f.keys
        .revoke(&revoked.info.id, Timestamp::from_unix_seconds(START))
        .await
        .unwrap();
    let key = revoked.key.expose_secret();
    f.assert_refused(
        &agent_key(key, None),
        bad,
        "invalid_grant",
        refused("agent_key_revoked"),
    )
    .await;

    // Unknown: a well-formed key of another store.
    let elsewhere = MemoryAgentKeyStore::new()
        .create_sync(
            NewAgentKey::new(
                bot(),
                alice(),
                ScopeSet::parse(GRANT).unwrap(),
                Timestamp::from_unix_seconds(START + 3600),
            ),
            Timestamp::from_unix_seconds(START),
        )
        .unwrap();
    let key = elsewhere.key.expose_secret();
    f.assert_refused(
        &agent_key(key, None),
        bad,
        "invalid_grant",
        refused("unknown_agent_key"),
    )
    .await;

    // The right id with a wrong secret.
    let good = f.key().await;
    let mut wrong = good.key.expose_secret().to_owned();
    let last = if wrong.ends_with('0') { "1" } else { "0" };
    wrong.replace_range(wrong.len() - 1.., last);
    f.assert_refused(
        &agent_key(&wrong, None),
        bad,
        "invalid_grant",
        refused("wrong_agent_key_secret"),
    )
    .await;

    // Malformed: truncated, upper case, not a key at all, huge.
    let truncated = &good.key.expose_secret()[..40];
    let upper = good.key.expose_secret().to_uppercase();
    let huge = "baton_ak_".repeat(5000);
    for malformed in [truncated, upper.as_str(), "baton_ak_", "x", huge.as_str()] {
        f.assert_refused(
            &agent_key(malformed, None),
            bad,
            "invalid_grant",
            refused("malformed_agent_key"),
        )
        .await;
    }

    // Expired: a key of an hour, an hour later (the service's clock).
    let short = f.key_for(alice(), GRANT, 3600).await;
    let key = short.key.expose_secret();
    f.exchange(&agent_key(key, None)).await.token();
    f.clock.advance(3600);
    f.assert_refused(
        &agent_key(key, None),
        bad,
        "invalid_grant",
        refused("agent_key_expired"),
    )
    .await;
    // The day-long key still works: only the expired one is refused.
    f.exchange(&agent_key(good.key.expose_secret(), None))
        .await
        .token();
}

#[tokio::test]
async fn a_token_made_from_a_key_never_outlives_it() {
    let f = start().await;
    // A key with two minutes left: the token ends with it, not five minutes later.
    let issued = f.key_for(alice(), GRANT, 120).await;
    let reply = f
        .exchange(&agent_key(issued.key.expose_secret(), None))
        .await;
    assert_eq!(claims(&reply.token())["exp"], START + 120);
    assert_eq!(reply.json()["expires_in"], 120);
}

#[tokio::test]
async fn a_human_who_no_longer_exists_is_invalid_grant_and_lost_scopes_are_lost() {
    let f = start().await;
    let issued = f.key().await;
    let key = issued.key.expose_secret();

    // Alice lost orders:write since the key was made: so did her agent.
    f.humans
        .insert(
            alice(),
            HumanEntry::new(ScopeSet::parse("orders:read").unwrap()),
        )
        .unwrap();
    let reply = f.exchange(&agent_key(key, None)).await;
    reply.token();
    assert_eq!(reply.json()["scope"], "orders:read");
    f.assert_refused(
        &agent_key(key, Some("orders:write")),
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        StsError::ScopeWidening {
            scope: "orders:write".into(),
        },
    )
    .await;

    // Alice is gone: the key is worth nothing.
    assert!(f.humans.remove(&alice()).unwrap());
    f.assert_refused(
        &agent_key(key, None),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        StsError::HumanUnknown,
    )
    .await;

    // A key bound to a human the directory never knew.
    let stranger: HumanId = "hm-11111111-2222-4333-8444-555555555555".parse().unwrap();
    let orphan = f.key_for(stranger, GRANT, 3600).await;
    f.assert_refused(
        &agent_key(orphan.key.expose_secret(), None),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        StsError::HumanUnknown,
    )
    .await;
}

#[tokio::test]
async fn a_scope_wider_than_the_grant_or_the_humans_is_invalid_scope() {
    let f = start().await;
    let issued = f.key().await;
    let key = issued.key.expose_secret();
    // `admin`: granted to the key, not held by alice.
    f.assert_refused(
        &agent_key(key, Some("orders:read admin")),
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        StsError::ScopeWidening {
            scope: "admin".into(),
        },
    )
    .await;
    // `profile`: alice's, not granted to the key.
    f.assert_refused(
        &agent_key(key, Some("profile")),
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        StsError::ScopeWidening {
            scope: "profile".into(),
        },
    )
    .await;
    // Not a scope string at all.
    f.assert_refused(
        &agent_key(key, Some("orders:read\u{7f}")),
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        StsError::InvalidScope,
    )
    .await;
}

#[tokio::test]
async fn an_audience_the_client_may_not_reach_is_invalid_target() {
    let f = start().await;
    let issued = f.key().await;
    let params = [
        ("subject_token", issued.key.expose_secret()),
        ("subject_token_type", AGENT_KEY_TOKEN_TYPE),
        ("audience", BILLING),
    ];
    f.assert_refused(
        &params,
        StatusCode::BAD_REQUEST,
        "invalid_target",
        StsError::TargetNotAllowed {
            audience: BILLING.into(),
        },
    )
    .await;
}

#[tokio::test]
async fn the_wrong_token_type_is_refused() {
    let f = start().await;
    let issued = f.key().await;
    let key = issued.key.expose_secret();
    // The key presented as an access token: the token verifier refuses it.
    let as_access_token = [
        ("subject_token", key),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("audience", ORDERS),
    ];
    let (minted, issued_before) = (f.minted(), f.sts.issued_tokens());
    let reply = f.exchange(&as_access_token).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json(), json!({"error": "invalid_request"}));
    assert!(matches!(
        f.refusal(RUNNER, RUNNER_SECRET, &as_access_token).await,
        StsError::SubjectTokenRefused { .. }
    ));
    assert_eq!((f.minted(), f.sts.issued_tokens()), (minted, issued_before));

    // A token of this service's presented as an agent key: not of the key form.
    let token = f.exchange(&agent_key(key, None)).await.token();
    f.assert_refused(
        &agent_key(&token, None),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        StsError::AgentKeyRefused {
            reason: "malformed_agent_key",
        },
    )
    .await;

    // An agent key as the actor token: the key already names both parties.
    f.assert_refused(
        &[
            ("subject_token", key),
            ("subject_token_type", AGENT_KEY_TOKEN_TYPE),
            ("actor_token", key),
            ("actor_token_type", AGENT_KEY_TOKEN_TYPE),
            ("audience", ORDERS),
        ],
        StatusCode::BAD_REQUEST,
        "invalid_request",
        StsError::UnsupportedTokenType {
            parameter: "actor_token_type",
        },
    )
    .await;
}

#[tokio::test]
async fn a_service_without_agent_keys_does_not_take_them() {
    let f = start().await;
    let issued = f.key().await;
    let issuer = f.sts.issuer().clone();
    let plain =
        TokenExchangeService::builder(issuer.clone(), Arc::new(own_tokens(&issuer, &f.clock)))
            .client(
                RegisteredClient::new(RUNNER, ClientSecret::new(RUNNER_SECRET).unwrap())
                    .unwrap()
                    .may_exchange_for(Audience::new(ORDERS).unwrap()),
            )
            .build()
            .unwrap();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{RUNNER}:{RUNNER_SECRET}"));
    let request = http::Request::post("/token")
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(
            f.form(&agent_key(issued.key.expose_secret(), None)),
        ))
        .unwrap();
    let response = plain.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.extensions().get::<StsError>(),
        Some(&StsError::UnsupportedTokenType {
            parameter: "subject_token_type"
        })
    );
    assert_eq!(f.minted(), 0);
}

#[tokio::test]
async fn an_unknown_client_or_a_wrong_secret_is_invalid_client_401() {
    let f = start().await;
    let issued = f.key().await;
    let params = agent_key(issued.key.expose_secret(), None);
    for (client_id, secret, expected) in [
        ("stranger", RUNNER_SECRET, StsError::UnknownClient),
        (
            RUNNER,
            "not-the-runner-secret-0123456789",
            StsError::WrongClientSecret,
        ),
    ] {
        f.assert_refused_as(
            client_id,
            secret,
            &params,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            expected,
        )
        .await;
        let reply = f.exchange_as(client_id, secret, &params).await;
        assert!(reply.headers.contains_key("www-authenticate"));
    }
}

#[tokio::test]
async fn the_acting_policy_and_the_depth_limit_apply_to_agent_keys() {
    // An operator who lets only services act for humans.
    let services_only = ActingPolicy::none().allow(Kind::Service, Kind::Human);
    let f = start_with(Arc::new(MemoryAgentKeyStore::new()), |b| {
        b.acting_policy(services_only)
    })
    .await;
    let issued = f.key().await;
    f.assert_refused(
        &agent_key(issued.key.expose_secret(), None),
        StatusCode::BAD_REQUEST,
        "invalid_request",
        StsError::KindMayNotAct {
            actor: Kind::Agent,
            subject: Kind::Human,
        },
    )
    .await;

    // An operator who allows no delegation at all.
    let f = start_with(Arc::new(MemoryAgentKeyStore::new()), |b| {
        b.max_delegation_depth(0)
    })
    .await;
    let issued = f.key().await;
    let params = agent_key(issued.key.expose_secret(), None);
    let reply = f.exchange(&params).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json(), json!({"error": "invalid_request"}));
    assert!(matches!(
        f.refusal(RUNNER, RUNNER_SECRET, &params).await,
        StsError::DelegationRefused { .. }
    ));
    assert_eq!((f.minted(), f.sts.issued_tokens()), (0, 0));
}

/// A directory whose backend is down.
#[derive(Debug)]
struct DownDirectory;

impl HumanDirectory for DownDirectory {
    fn lookup<'a>(&'a self, _human: &'a HumanId) -> DirectoryFuture<'a> {
        Box::pin(std::future::ready(Err(HumanDirectoryError::Unavailable {
            detail: "connection refused".into(),
        })))
    }
}

#[tokio::test]
async fn a_directory_that_cannot_answer_is_temporarily_unavailable() {
    let f = start_full(
        Arc::new(MemoryAgentKeyStore::new()),
        Arc::new(MemoryHumanDirectory::new()),
        Arc::new(DownDirectory),
        |b| b,
    )
    .await;
    let issued = f.key().await;
    f.assert_refused(
        &agent_key(issued.key.expose_secret(), None),
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        StsError::HumanDirectoryUnavailable,
    )
    .await;
}

/// A key store whose database is down.
#[derive(Debug)]
struct DownStore;

impl AgentKeyStore for DownStore {
    fn create(&self, _: NewAgentKey, _: Timestamp) -> StoreFuture<'_, IssuedAgentKey> {
        Box::pin(std::future::ready(Err(down())))
    }
    fn authenticate<'a>(&'a self, _: &'a str, _: Timestamp) -> StoreFuture<'a, AgentGrant> {
        Box::pin(std::future::ready(Err(down())))
    }
    fn revoke<'a>(&'a self, _: &'a AgentKeyId, _: Timestamp) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Err(down())))
    }
    fn list_for_human<'a>(&'a self, _: &'a HumanId) -> StoreFuture<'a, Vec<AgentKeyInfo>> {
        Box::pin(std::future::ready(Err(down())))
    }
}

fn down() -> AgentKeyError {
    AgentKeyError::Storage {
        detail: "disk I/O error".into(),
    }
}

#[tokio::test]
async fn a_key_store_that_cannot_answer_is_temporarily_unavailable() {
    let f = start_with(Arc::new(DownStore), |b| b).await;
    // A well-formed key (of another store): the store is never able to say yes.
    let elsewhere = MemoryAgentKeyStore::new()
        .create_sync(
            NewAgentKey::new(
                bot(),
                alice(),
                ScopeSet::parse(GRANT).unwrap(),
                Timestamp::from_unix_seconds(START + 3600),
            ),
            Timestamp::from_unix_seconds(START),
        )
        .unwrap();
    f.assert_refused(
        &agent_key(elsewhere.key.expose_secret(), None),
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        StsError::AgentKeyStoreUnavailable {
            reason: "agent_key_storage",
        },
    )
    .await;
}

#[tokio::test]
async fn an_agent_session_exchanges_per_sub_request_and_stops_once_revoked() {
    let f = start().await;
    let issued = f.key().await;
    let key = issued.key.expose_secret();
    let session = f.session(key);
    assert!(!format!("{session:?}").contains(key), "no key in Debug");
    assert_eq!(session.key_id(), issued.info.id);

    let orders = ExchangeTarget::audience(Audience::new(ORDERS).unwrap())
        .scopes(ScopeSet::parse("orders:read").unwrap());
    let receiver = f.receiver(ORDERS).await;
    let first = session.token_for(&orders).await.unwrap();
    let second = session.token_for(&orders).await.unwrap();
    assert_ne!(first.as_str(), second.as_str(), "a token per sub-request");
    assert_ne!(
        claims(first.as_str())["jti"],
        claims(second.as_str())["jti"]
    );
    assert_eq!(f.sts.issued_tokens(), 2);
    assert_eq!(session.client().completed_calls(), 2);
    assert_eq!(session.client().cached_len(), 0, "nothing held in a cache");
    for token in [&first, &second] {
        let received = receiver.verify_token(token.as_str()).await.unwrap();
        assert_eq!(received.id(), &PrincipalId::from(alice()));
        assert_eq!(
            received.current_actor().unwrap().id(),
            &PrincipalId::from(bot())
        );
        assert_eq!(received.scopes(), &ScopeSet::parse("orders:read").unwrap());
    }

    // Revoked between two sub-requests: the next one gets no token.
    f.keys
        .revoke(&issued.info.id, Timestamp::from_unix_seconds(START))
        .await
        .unwrap();
    let refused = session.token_for(&orders).await.unwrap_err();
    assert!(
        matches!(
            refused,
            ExchangeError::Rejected {
                code: OAuthErrorCode::InvalidGrant,
                status: 400
            }
        ),
        "{refused:?}"
    );
    assert_eq!(
        f.sts.issued_tokens(),
        2,
        "nothing minted after the revocation"
    );

    // A sub-request for an audience the client may not reach is refused too.
    let fresh = f.key().await;
    let session = f.session(fresh.key.expose_secret());
    let billing = ExchangeTarget::audience(Audience::new(BILLING).unwrap());
    assert!(matches!(
        session.token_for(&billing).await.unwrap_err(),
        ExchangeError::Rejected {
            code: OAuthErrorCode::InvalidTarget,
            ..
        }
    ));
    // A malformed key never leaves the process.
    let client = session.client().clone();
    assert!(AgentSession::new(client, "baton_ak_not-a-key").is_err());
}
