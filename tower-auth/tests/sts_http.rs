//! The token exchange service mounted in axum on a loopback port, driven over real HTTP:
//! exchanges that succeed (a human; an agent acting for a human) and every attack of
//! issue 10, each answered with its RFC error and nothing minted; introspection,
//! revocation, the revocation feed and the metadata document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use jsonwebtoken::Algorithm;
use principal::{Audience, ClaimMapping, Issuer, Kind, ScopeSet, TestClock, Timestamp};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_auth::dev_idp::DevIdp;
use tower_auth::jwks::{KeySet, KeySetPolicy, StartupPolicy};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
use tower_auth::revocation::{Denylist, DenylistEntries};
use tower_auth::sts::StsError;
use tower_auth::sts::{
    ACCESS_TOKEN_TYPE, ClientSecret, JWT_TOKEN_TYPE, RegisteredClient, TOKEN_EXCHANGE_GRANT,
    TokenExchangeService, TokenExchangeServiceBuilder,
};
use tower_auth::{Pattern, VerifierChain};

const START: i64 = 1_700_000_000;
const ORDERS: &str = "orders-api";
const BILLING: &str = "billing-api";
/// The audience of the tokens the IdP issues for the token service.
const STS_AUDIENCE: &str = "sts";
const GATEWAY_SECRET: &str = "gateway-secret-0123456789abcdef";
const RS_SECRET: &str = "resource-server-secret-0123456789";
const OTHER_SECRET: &str = "other-client-secret-0123456789ab";
/// A further token type: the service's own tokens only, verified by their verifier alone.
const OWN_TOKEN_TYPE: &str = "urn:test:token-type:own";

struct Fixture {
    clock: TestClock,
    idp: DevIdp,
    sts: TokenExchangeService,
    base: String,
    http: reqwest::Client,
    denylist: Arc<Denylist>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.server.abort();
    }
}

enum Auth<'a> {
    Basic(&'a str, &'a str),
    Post(&'a str, &'a str),
    Both,
    None,
}

async fn start() -> Fixture {
    start_with(|builder| builder).await
}

/// [`start`], the service's builder changed by `configure` first.
async fn start_with(
    configure: impl FnOnce(TokenExchangeServiceBuilder) -> TokenExchangeServiceBuilder,
) -> Fixture {
    let clock = TestClock::new(Timestamp::from_unix_seconds(START));
    let idp = DevIdp::start_with_clock("127.0.0.1:0".parse().unwrap(), Arc::new(clock.clone()))
        .await
        .unwrap();
    let denylist = Arc::new(Denylist::new());
    // External tokens: the IdP's, for the token service, kinds from `baton_kind`.
    let external = IssuerConfig::builder(Issuer::new(idp.issuer()).unwrap())
        .audience(Audience::new(STS_AUDIENCE).unwrap())
        .oidc_discovery()
        .algorithms([Algorithm::ES256])
        .claim_mapping(ClaimMapping::generic().with_kind_claim("baton_kind"))
        .build()
        .unwrap();
    let external = JwtVerifier::builder()
        .issuer(external)
        .clock(Arc::new(clock.clone()))
        .revocation(denylist.clone())
        .build()
        .unwrap();
    external
        .warm(StartupPolicy::FailIfUnavailable)
        .await
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
    // The service's own tokens, re-presented as subject tokens (for the audience `sts`).
    let keys = KeySet::from_jwks_json(
        issuer.jwks().to_string().as_bytes(),
        &KeySetPolicy::default(),
    )
    .unwrap()
    .set;
    let own = IssuerConfig::builder(issuer.issuer().clone())
        .audience(Audience::new(STS_AUDIENCE).unwrap())
        .static_keys(keys)
        .algorithms([Algorithm::ES256])
        .require_typ("at+jwt")
        .claim_mapping(ClaimMapping::baton())
        .build()
        .unwrap();
    let own = JwtVerifier::builder()
        .issuer(own)
        .clock(Arc::new(clock.clone()))
        .pattern(Pattern::InternalJwt)
        .build()
        .unwrap();
    let own = Arc::new(own);
    let subjects = VerifierChain::new(Arc::new(external)).then(own.clone());

    let sts =
        TokenExchangeService::builder(issuer, Arc::new(subjects)).token_type(OWN_TOKEN_TYPE, own);
    let sts = configure(sts)
        .client(
            RegisteredClient::new("gateway", ClientSecret::new(GATEWAY_SECRET).unwrap())
                .unwrap()
                .may_exchange_for(Audience::new(ORDERS).unwrap())
                .may_exchange_for(Audience::new(STS_AUDIENCE).unwrap()),
        )
        .client(
            RegisteredClient::new("orders-rs", ClientSecret::new(RS_SECRET).unwrap())
                .unwrap()
                .may_introspect(),
        )
        .client(
            RegisteredClient::new("other", ClientSecret::new(OTHER_SECRET).unwrap())
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
        idp,
        sts,
        base,
        http: reqwest::Client::new(),
        denylist,
        server,
    }
}

impl Fixture {
    /// An IdP token for the token service: `sub`, with `extra` claims merged in.
    fn idp_token(&self, sub: &str, extra: Value) -> String {
        let mut claims = json!({
            "iss": self.idp.issuer(),
            "sub": sub,
            "aud": STS_AUDIENCE,
            "iat": START,
            "exp": START + 3600,
            "jti": format!("idp-{sub}"),
            "scope": "orders:read orders:write profile",
        });
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        self.idp.issue(claims, Algorithm::ES256).unwrap()
    }

    fn alice(&self) -> String {
        self.idp_token("alice", json!({}))
    }

    fn agent(&self, sub: &str) -> String {
        self.idp_token(
            sub,
            json!({"baton_kind": "agent", "scope": "orders:read orders:write"}),
        )
    }

    async fn post(&self, path: &str, auth: Auth<'_>, params: &[(&str, &str)]) -> Reply {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            form.append_pair(k, v);
        }
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded");
        let basic = |id: &str, secret: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
            )
        };
        let mut authorization = None;
        match auth {
            Auth::Basic(id, secret) => authorization = Some(basic(id, secret)),
            Auth::Post(id, secret) => {
                form.append_pair("client_id", id);
                form.append_pair("client_secret", secret);
            }
            Auth::Both => {
                authorization = Some(basic("gateway", GATEWAY_SECRET));
                form.append_pair("client_secret", GATEWAY_SECRET);
            }
            Auth::None => {}
        }
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let body = form.finish();
        let mut reply = Reply::from(request.body(body.clone()).send().await.unwrap()).await;
        reply.sent = Some((path.to_owned(), authorization, body));
        reply
    }

    /// The refusal reason of `reply`'s request, replayed in process (the reason rides in
    /// the response's extensions, never on the wire).
    async fn reason(&self, reply: &Reply) -> &'static str {
        let (path, authorization, body) = reply.sent.clone().unwrap();
        let mut request =
            http::Request::post(path).header("content-type", "application/x-www-form-urlencoded");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let request = request.body(axum::body::Body::from(body)).unwrap();
        let response = self.sts.clone().oneshot(request).await.unwrap();
        assert_eq!(
            response.status(),
            reply.status,
            "the replay is refused alike"
        );
        response.extensions().get::<StsError>().unwrap().reason()
    }

    /// A token exchange by `gateway` (basic auth) with `params` after the grant type.
    async fn exchange(&self, params: &[(&str, &str)]) -> Reply {
        let mut all = vec![("grant_type", TOKEN_EXCHANGE_GRANT)];
        all.extend_from_slice(params);
        self.post("/token", Auth::Basic("gateway", GATEWAY_SECRET), &all)
            .await
    }

    async fn get(&self, path: &str, etag: Option<&str>) -> Reply {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        Reply::from(request.send().await.unwrap()).await
    }

    /// The receiving service's verifier: the service's JWKS found by discovery over HTTP.
    async fn hop(&self, audience: &str) -> JwtVerifier {
        support::sts::internal_jwt_receiver(
            self.sts.issuer().issuer(),
            Arc::new(self.clock.clone()),
            audience,
        )
        .await
    }

    fn minted(&self) -> u64 {
        self.sts.issuer().tokens_minted()
    }
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    text: String,
    /// What was sent (path, `Authorization`, form body), to replay in process.
    sent: Option<(String, Option<String>, String)>,
}

impl Reply {
    async fn from(response: reqwest::Response) -> Reply {
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
            sent: None,
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    fn token(&self) -> String {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        self.json()["access_token"].as_str().unwrap().to_owned()
    }
}

fn claims(token: &str) -> Value {
    let segment = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

/// Asserts a refusal: status, RFC error code, `no-store`, no token echoed, nothing minted,
/// and the reason in the audit.
async fn assert_refused(
    reply: &Reply,
    status: StatusCode,
    error: &str,
    reason: &str,
    minted_before: u64,
    f: &Fixture,
) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({ "error": error }),
        "only the error code"
    );
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(f.minted(), minted_before, "nothing minted");
    if reply.sent.is_some() {
        assert_eq!(f.reason(reply).await, reason);
    }
    assert_eq!(f.minted(), minted_before, "nothing minted by the replay");
}

#[tokio::test]
async fn a_human_is_exchanged_for_a_short_lived_token_of_one_audience() {
    let f = start().await;
    let reply = f
        .exchange(&[
            ("subject_token", &f.alice()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
            ("scope", "orders:read"),
        ])
        .await;
    let token = reply.token();
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(reply.header("pragma"), "no-cache");
    let body = reply.json();
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "orders:read");

    let minted = claims(&token);
    assert_eq!(minted["aud"], ORDERS, "exactly one audience, as a string");
    assert_eq!(minted["exp"], START + 300);
    assert!(minted.get("act").is_none());

    // The receiving service verifies it with the service's JWKS (discovery over HTTP).
    let received = f.hop(ORDERS).await.verify_token(&token).await.unwrap();
    assert_eq!(received.kind(), Kind::Human);
    assert_eq!(received.subject(), "alice");
    assert_eq!(received.issuer(), f.sts.issuer().issuer());
    assert_eq!(received.scopes(), &ScopeSet::parse("orders:read").unwrap());
    assert_eq!(received.audiences(), [Audience::new(ORDERS).unwrap()]);
    assert!(!received.is_delegated());
    // Replayed to another audience: refused there.
    assert!(f.hop(BILLING).await.verify_token(&token).await.is_err());

    // client_secret_post and the `resource` parameter work as well; no scope: the subject's.
    let minted = f.minted();
    let reply = f
        .post(
            "/token",
            Auth::Post("gateway", GATEWAY_SECRET),
            &[
                ("grant_type", TOKEN_EXCHANGE_GRANT),
                ("subject_token", &f.alice()),
                ("subject_token_type", JWT_TOKEN_TYPE),
                ("resource", ORDERS),
            ],
        )
        .await;
    reply.token();
    assert_eq!(reply.json()["scope"], "orders:read orders:write profile");
    assert_eq!(f.minted(), minted + 1);
}

#[tokio::test]
async fn an_agent_acting_for_a_human_extends_the_act_chain() {
    let f = start().await;
    let subject = f.idp_token("alice", json!({"may_act": {"sub": "bot-7"}}));
    let reply = f
        .exchange(&[
            ("subject_token", &subject),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("actor_token", &f.agent("bot-7")),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
        ])
        .await;
    let token = reply.token();
    // The agent holds less than alice: the token holds what both hold.
    assert_eq!(reply.json()["scope"], "orders:read orders:write");
    let minted = claims(&token);
    assert_eq!(minted["act"]["sub"], "bot-7");
    assert_eq!(minted["act"]["client_id"], "gateway");

    let received = f.hop(ORDERS).await.verify_token(&token).await.unwrap();
    assert_eq!(received.kind(), Kind::Human);
    assert_eq!(received.subject(), "alice");
    assert_eq!(received.delegation().len(), 1);
    let actor = received.current_actor().unwrap();
    assert_eq!(actor.kind(), Kind::Agent);
    assert_eq!(actor.subject(), Some("bot-7"));
    assert_eq!(received.acting(), actor.id());

    // A chain that already has an actor grows by one, the newest outermost.
    let delegated = f.idp_token("alice", json!({"act": {"sub": "bot-1"}}));
    let reply = f
        .exchange(&[
            ("subject_token", &delegated),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("actor_token", &f.agent("bot-7")),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
        ])
        .await;
    let chained = claims(&reply.token());
    assert_eq!(chained["act"]["sub"], "bot-7");
    assert_eq!(chained["act"]["act"]["sub"], "bot-1");
}

#[tokio::test]
async fn an_audience_the_client_may_not_reach_is_invalid_target() {
    let f = start().await;
    let minted = f.minted();
    for (params, reason) in [
        (vec![("audience", BILLING)], "target_not_allowed"),
        (vec![], "no_target"),
        (
            vec![
                ("audience", ORDERS),
                ("resource", "https://elsewhere.example"),
            ],
            "multiple_targets",
        ),
        (vec![("audience", "two words")], "invalid_target"),
    ] {
        let mut all = vec![
            ("subject_token", f.alice()),
            ("subject_token_type", ACCESS_TOKEN_TYPE.to_owned()),
        ];
        all.extend(params.into_iter().map(|(k, v)| (k, v.to_owned())));
        let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = f.exchange(&all).await;
        assert_refused(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_target",
            reason,
            minted,
            &f,
        )
        .await;
    }
}

#[tokio::test]
async fn a_scope_wider_than_the_subjects_is_invalid_scope() {
    let f = start().await;
    let minted = f.minted();
    for (scope, reason) in [
        ("orders:read admin", "scope_widening"),
        ("two  spaces", "invalid_scope"),
    ] {
        let reply = f
            .exchange(&[
                ("subject_token", &f.alice()),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("audience", ORDERS),
                ("scope", scope),
            ])
            .await;
        assert_refused(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            reason,
            minted,
            &f,
        )
        .await;
    }
    // Within alice's, but not the agent's (`profile`): the actor narrows too.
    let reply = f
        .exchange(&[
            ("subject_token", &f.alice()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("actor_token", &f.agent("bot-7")),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
            ("scope", "profile"),
        ])
        .await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        "scope_widening",
        minted,
        &f,
    )
    .await;
}

#[tokio::test]
async fn an_actor_may_act_does_not_name_is_refused() {
    let f = start().await;
    let minted = f.minted();
    let idp = f.idp.issuer().to_owned();
    for (may_act, reason) in [
        (json!({"sub": "bot-9"}), "not_permitted_by_may_act"),
        (
            json!({"sub": "bot-7", "iss": "https://other-idp.example"}),
            "not_permitted_by_may_act",
        ),
        // Names nobody: no `sub`.
        (json!({"client_id": "bot-7"}), "not_permitted_by_may_act"),
        // Not an object: the model refuses the subject token itself.
        (json!("bot-7"), "subject_token_refused"),
    ] {
        let subject = f.idp_token("alice", json!({ "may_act": may_act }));
        let reply = f
            .exchange(&[
                ("subject_token", &subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("actor_token", &f.agent("bot-7")),
                ("actor_token_type", ACCESS_TOKEN_TYPE),
                ("audience", ORDERS),
            ])
            .await;
        assert_refused(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            reason,
            minted,
            &f,
        )
        .await;
    }
    // Control: naming bot-7 at this IdP passes.
    let subject = f.idp_token("alice", json!({"may_act": {"sub": "bot-7", "iss": idp}}));
    let reply = f
        .exchange(&[
            ("subject_token", &subject),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("actor_token", &f.agent("bot-7")),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
        ])
        .await;
    reply.token();
}

#[tokio::test]
async fn a_chain_at_maximum_depth_and_a_kind_that_may_not_act_are_refused() {
    let f = start().await;
    let minted = f.minted();
    // Four actors already: the issuer's (and the service's) maximum.
    let full = f.idp_token(
        "alice",
        json!({"act": {"sub": "bot-4", "act": {"sub": "bot-3", "act": {"sub": "bot-2", "act": {"sub": "bot-1"}}}}}),
    );
    let reply = f
        .exchange(&[
            ("subject_token", &full),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("actor_token", &f.agent("bot-7")),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
        ])
        .await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "delegation_too_deep",
        minted,
        &f,
    )
    .await;

    // A human acting for a human: not in the default acting policy.
    let reply = f
        .exchange(&[
            ("subject_token", &f.alice()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("actor_token", &f.idp_token("bob", json!({}))),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
        ])
        .await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "kind_may_not_act",
        minted,
        &f,
    )
    .await;
    // An actor token that is itself delegated.
    let reply = f
        .exchange(&[
            ("subject_token", &f.alice()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            (
                "actor_token",
                &f.idp_token(
                    "bot-7",
                    json!({"baton_kind": "agent", "act": {"sub": "bot-1"}}),
                ),
            ),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
        ])
        .await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "actor_delegated",
        minted,
        &f,
    )
    .await;
}

#[tokio::test]
async fn an_expired_or_revoked_subject_token_is_refused() {
    let f = start().await;
    let exchange = |subject: String| {
        let f = &f;
        async move {
            f.exchange(&[
                ("subject_token", &subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("audience", ORDERS),
            ])
            .await
        }
    };
    // Revoked at the IdP's side: the verifier's denylist names its jti.
    let minted = f.minted();
    f.denylist
        .replace(DenylistEntries::new().deny_token_id("idp-alice"));
    let reply = exchange(f.alice()).await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "subject_token_refused",
        minted,
        &f,
    )
    .await;
    f.denylist.replace(DenylistEntries::new());

    // Revoked here (RFC 7009): a token of this service's, exchanged again, is refused
    // although the verifier of the service's own tokens knows nothing of revocation.
    let own = f
        .exchange(&[
            ("subject_token", &f.alice()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("audience", STS_AUDIENCE),
        ])
        .await
        .token();
    exchange(own.clone()).await.token(); // control: accepted before revocation
    let reply = f
        .post(
            "/revoke",
            Auth::Basic("gateway", GATEWAY_SECRET),
            &[("token", &own)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let minted = f.minted();
    let reply = exchange(own).await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "subject_token_revoked",
        minted,
        &f,
    )
    .await;

    // Expired: an hour and the verifier's leeway later.
    let subject = f.alice();
    f.clock.advance(3600 + 31);
    let reply = exchange(subject).await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "subject_token_refused",
        minted,
        &f,
    )
    .await;
}

#[tokio::test]
async fn malformed_requests_are_invalid_request() {
    let f = start().await;
    let minted = f.minted();
    let alice = f.alice();
    let base = |token_type: &'static str| {
        vec![
            ("subject_token", alice.clone()),
            ("subject_token_type", token_type.to_owned()),
            ("audience", ORDERS.to_owned()),
        ]
    };
    let send = |grant: Option<&'static str>, params: Vec<(&'static str, String)>| {
        let f = &f;
        async move {
            let mut all: Vec<(&str, &str)> = grant.map(|g| ("grant_type", g)).into_iter().collect();
            all.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
            f.post("/token", Auth::Basic("gateway", GATEWAY_SECRET), &all)
                .await
        }
    };
    // The wrong subject_token_type.
    for wrong in [
        "urn:ietf:params:oauth:token-type:id_token",
        "urn:ietf:params:oauth:token-type:refresh_token",
        "bearer",
    ] {
        let reply = send(Some(TOKEN_EXCHANGE_GRANT), base(wrong)).await;
        assert_refused(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unsupported_token_type",
            minted,
            &f,
        )
        .await;
    }
    // No grant type; another grant type.
    let reply = send(None, base(ACCESS_TOKEN_TYPE)).await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "missing_parameter",
        minted,
        &f,
    )
    .await;
    let reply = send(Some("client_credentials"), base(ACCESS_TOKEN_TYPE)).await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
        "unsupported_grant_type",
        minted,
        &f,
    )
    .await;
    // No subject token; a parameter twice; an actor token without its type.
    let mut no_subject = base(ACCESS_TOKEN_TYPE);
    no_subject.remove(0);
    let mut twice = base(ACCESS_TOKEN_TYPE);
    twice.push(("subject_token_type", ACCESS_TOKEN_TYPE.to_owned()));
    let mut untyped_actor = base(ACCESS_TOKEN_TYPE);
    untyped_actor.push(("actor_token", f.agent("bot-7")));
    let mut unsupported_request = base(ACCESS_TOKEN_TYPE);
    unsupported_request.push((
        "requested_token_type",
        "urn:ietf:params:oauth:token-type:saml2".to_owned(),
    ));
    for (params, reason) in [
        (no_subject, "missing_parameter"),
        (twice, "duplicate_parameter"),
        (untyped_actor, "actor_token_type_mismatch"),
        (unsupported_request, "unsupported_token_type"),
    ] {
        let reply = send(Some(TOKEN_EXCHANGE_GRANT), params).await;
        assert_refused(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            reason,
            minted,
            &f,
        )
        .await;
    }
    // A forged subject token (signature of another key).
    let mut forged = f.alice();
    forged.push('A');
    let mut params = base(ACCESS_TOKEN_TYPE);
    params[0].1 = forged;
    let reply = send(Some(TOKEN_EXCHANGE_GRANT), params).await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "subject_token_refused",
        minted,
        &f,
    )
    .await;
    // Not a form at all.
    let reply = Reply::from(
        f.http
            .post(format!("{}/token", f.base))
            .basic_auth("gateway", Some(GATEWAY_SECRET))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "malformed_request",
        minted,
        &f,
    )
    .await;
}

#[tokio::test]
async fn an_unknown_client_or_a_wrong_secret_is_invalid_client_401() {
    let f = start().await;
    let minted = f.minted();
    let alice = f.alice();
    let params = [
        ("grant_type", TOKEN_EXCHANGE_GRANT),
        ("subject_token", alice.as_str()),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("audience", ORDERS),
    ];
    for (auth, reason) in [
        (Auth::Basic("nobody", GATEWAY_SECRET), "unknown_client"),
        (
            Auth::Basic("gateway", "wrong-secret-0123456789abcdefgh"),
            "wrong_client_secret",
        ),
        (
            Auth::Post("gateway", "wrong-secret-0123456789abcdefgh"),
            "wrong_client_secret",
        ),
        (Auth::Basic("gateway", OTHER_SECRET), "wrong_client_secret"),
        (Auth::None, "no_client_authentication"),
    ] {
        let reply = f.post("/token", auth, &params).await;
        assert_refused(
            &reply,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            reason,
            minted,
            &f,
        )
        .await;
        assert_eq!(reply.header("www-authenticate"), "Basic realm=\"token\"");
    }
    // Two methods at once (RFC 6749 §2.3): invalid_request.
    let reply = f.post("/token", Auth::Both, &params).await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "multiple_client_authentications",
        minted,
        &f,
    )
    .await;
    // A client allowed no audience: unauthorized_client.
    let reply = f
        .post("/token", Auth::Basic("orders-rs", RS_SECRET), &params)
        .await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        "unauthorized_client",
        minted,
        &f,
    )
    .await;
}

#[tokio::test]
async fn introspection_answers_active_then_inactive_after_revocation() {
    let f = start().await;
    let token = f
        .exchange(&[
            ("subject_token", &f.alice()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
            ("scope", "orders:read"),
        ])
        .await
        .token();
    let jti = claims(&token)["jti"].as_str().unwrap().to_owned();
    let introspect = |token: String| {
        let f = &f;
        async move {
            f.post(
                "/introspect",
                Auth::Basic("orders-rs", RS_SECRET),
                &[("token", &token)],
            )
            .await
        }
    };
    let reply = introspect(token.clone()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("cache-control"), "no-store");
    let answer = reply.json();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["sub"], "alice");
    assert_eq!(answer["aud"], ORDERS);
    assert_eq!(answer["scope"], "orders:read");
    assert_eq!(answer["exp"], START + 300);
    assert_eq!(answer["jti"], jti.as_str());
    assert_eq!(answer["iss"], f.sts.issuer().issuer().as_str());
    // A token this service did not issue: inactive.
    assert_eq!(introspect(f.alice()).await.json(), json!({"active": false}));
    // Refused: introspection without credentials, or by a client not allowed to.
    let reply = f
        .post("/introspect", Auth::None, &[("token", &token)])
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(!reply.text.contains(&token));
    let reply = f
        .post(
            "/introspect",
            Auth::Basic("gateway", GATEWAY_SECRET),
            &[("token", &token)],
        )
        .await;
    assert_eq!(reply.json(), json!({"error": "unauthorized_client"}));

    // Revocation by another client is refused; the token stays active.
    let reply = f
        .post(
            "/revoke",
            Auth::Basic("other", OTHER_SECRET),
            &[("token", &token)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json(), json!({"error": "unauthorized_client"}));
    assert_eq!(introspect(token.clone()).await.json()["active"], true);
    assert_eq!(f.sts.revocations_since(0).version, 0);

    // RFC 7009 by the client it was issued to: 200, then inactive.
    let reply = f
        .post(
            "/revoke",
            Auth::Post("gateway", GATEWAY_SECRET),
            &[("token", &token), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(
        introspect(token.clone()).await.json(),
        json!({"active": false})
    );
    // An unknown token is not an error (RFC 7009 §2.2).
    let reply = f
        .post(
            "/revoke",
            Auth::Basic("gateway", GATEWAY_SECRET),
            &[("token", "nope")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);

    // The revocation list, by API and by feed: versioned, 304 when unchanged.
    let list = f.sts.revocations_since(0);
    assert_eq!(list.version, 1);
    assert_eq!(list.revoked.len(), 1);
    assert_eq!(list.revoked[0].jti, jti);
    assert_eq!(
        list.revoked[0].expires_at,
        Timestamp::from_unix_seconds(START + 300)
    );
    assert!(f.sts.revocations_since(1).revoked.is_empty());
    let feed = f.get("/revocations", None).await;
    assert_eq!(feed.status, StatusCode::OK);
    // The epoch names this instance's list: 16 hex digits, in the body and the ETag.
    let epoch = list.epoch.clone();
    assert_eq!(epoch.len(), 16);
    assert!(epoch.bytes().all(|b| b.is_ascii_hexdigit()), "{epoch}");
    let etag = format!("\"{epoch}-1\"");
    assert_eq!(feed.header("etag"), etag);
    assert_eq!(
        feed.json(),
        json!({"epoch": epoch, "version": 1, "revoked": [{"jti": jti, "exp": START + 300}]})
    );
    assert_eq!(
        f.get("/revocations", Some(etag.as_str())).await.status,
        StatusCode::NOT_MODIFIED
    );
    // The version alone, or another instance's epoch, is not this list.
    assert_eq!(
        f.get("/revocations", Some("\"1\"")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        f.get("/revocations", Some("\"0000000000000000-1\""))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        f.get("/revocations?since=1", None).await.json(),
        json!({"epoch": epoch, "version": 1, "revoked": []})
    );
    assert_eq!(
        f.get("/revocations?since=x", None).await.status,
        StatusCode::BAD_REQUEST
    );

    // The operator revokes by jti; an expired token is inactive anyway.
    let second = f
        .exchange(&[
            ("subject_token", &f.alice()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
        ])
        .await
        .token();
    let third = f
        .exchange(&[
            ("subject_token", &f.alice()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
        ])
        .await
        .token();
    assert!(
        f.sts
            .revoke_token_id(claims(&second)["jti"].as_str().unwrap())
    );
    assert!(!f.sts.revoke_token_id("no-such-jti"));
    assert_eq!(introspect(second).await.json(), json!({"active": false}));
    assert_eq!(
        f.get("/revocations", None).await.header("etag"),
        format!("\"{epoch}-2\"")
    );
    assert_eq!(introspect(third.clone()).await.json()["active"], true);
    f.clock.advance(300);
    assert_eq!(introspect(third).await.json(), json!({"active": false}));
}

#[tokio::test]
async fn the_metadata_document_names_every_endpoint() {
    let f = start().await;
    let reply = f.get("/.well-known/oauth-authorization-server", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let base = &f.base;
    assert_eq!(
        reply.json(),
        json!({
            "issuer": base,
            "token_endpoint": format!("{base}/token"),
            "introspection_endpoint": format!("{base}/introspect"),
            "revocation_endpoint": format!("{base}/revoke"),
            "revocation_feed_endpoint": format!("{base}/revocations"),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "grant_types_supported": [TOKEN_EXCHANGE_GRANT],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        })
    );
    assert_eq!(f.sts.metadata(), reply.json());
    // The JWKS it names is served, with the issuer's current key.
    let jwks = f.get("/.well-known/jwks.json", None).await.json();
    assert_eq!(jwks["keys"][0]["kid"], f.sts.issuer().current_kid());
    // The token endpoint takes POST only; an unknown path is 404.
    assert_eq!(
        f.get("/token", None).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(f.get("/nope", None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_token_replayed_to_another_audience_is_refused_as_a_subject_token() {
    let f = start().await;
    // Issued for orders-api; the service takes its own tokens only for the audience `sts`.
    let for_orders = f
        .exchange(&[
            ("subject_token", &f.alice()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
        ])
        .await
        .token();
    let minted = f.minted();
    let reply = f
        .exchange(&[
            ("subject_token", &for_orders),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
        ])
        .await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "subject_token_refused",
        minted,
        &f,
    )
    .await;
}

#[tokio::test]
async fn a_full_record_refuses_to_issue_until_a_token_expires() {
    let f = start_with(|builder| builder.max_issued_tokens(1)).await;
    let params = |subject: String| {
        vec![
            ("subject_token", subject),
            ("subject_token_type", ACCESS_TOKEN_TYPE.to_owned()),
            ("audience", ORDERS.to_owned()),
        ]
    };
    let send = |params: Vec<(&'static str, String)>| {
        let f = &f;
        async move {
            let all: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            f.exchange(&all).await
        }
    };
    send(params(f.alice())).await.token();
    let reply = send(params(f.alice())).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json(), json!({"error": "temporarily_unavailable"}));
    assert_eq!(f.sts.issued_tokens(), 1);
    // The first token expires: room again.
    f.clock.advance(300);
    send(params(f.alice())).await.token();
}

#[tokio::test]
async fn a_further_token_type_is_verified_by_its_own_verifier_only() {
    let f = start().await;
    let own = f
        .exchange(&[
            ("subject_token", &f.alice()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("audience", STS_AUDIENCE),
        ])
        .await
        .token();
    let reply = f
        .exchange(&[
            ("subject_token", &own),
            ("subject_token_type", OWN_TOKEN_TYPE),
            ("audience", ORDERS),
        ])
        .await;
    reply.token();
    // The IdP's token under that type: its verifier does not know the IdP.
    let minted = f.minted();
    let reply = f
        .exchange(&[
            ("subject_token", &f.alice()),
            ("subject_token_type", OWN_TOKEN_TYPE),
            ("audience", ORDERS),
        ])
        .await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "subject_token_refused",
        minted,
        &f,
    )
    .await;
    // A type nobody registered, for the subject or the actor.
    for (subject_type, actor_type) in [
        ("urn:test:token-type:unknown", ACCESS_TOKEN_TYPE),
        (ACCESS_TOKEN_TYPE, "urn:test:token-type:unknown"),
    ] {
        let reply = f
            .exchange(&[
                ("subject_token", &f.alice()),
                ("subject_token_type", subject_type),
                ("actor_token", &f.agent("bot-7")),
                ("actor_token_type", actor_type),
                ("audience", ORDERS),
            ])
            .await;
        assert_refused(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unsupported_token_type",
            minted,
            &f,
        )
        .await;
    }
}

#[tokio::test]
async fn the_introspection_verifier_reads_the_services_answers() {
    use tower_auth::introspect::{ClientAuth, IntrospectionCacheConfig, IntrospectionVerifier};
    let f = start().await;
    let subject = f.idp_token("alice", json!({"may_act": {"sub": "bot-7"}}));
    let token = f
        .exchange(&[
            ("subject_token", &subject),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("actor_token", &f.agent("bot-7")),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
            ("audience", ORDERS),
        ])
        .await
        .token();
    // A resource server that introspects instead of verifying signatures (no cache, so
    // every verification asks the service).
    let verifier = IntrospectionVerifier::builder(
        &format!("{}/introspect", f.base),
        f.sts.issuer().issuer().clone(),
        ClientAuth::client_secret_basic("orders-rs", RS_SECRET).unwrap(),
    )
    .audience(Audience::new(ORDERS).unwrap())
    .claim_mapping(ClaimMapping::baton())
    .introspect_jwts()
    .clock(Arc::new(f.clock.clone()))
    .cache(IntrospectionCacheConfig::disabled())
    .build()
    .unwrap();
    let received = verifier.verify_token(&token).await.unwrap();
    assert_eq!(received.subject(), "alice");
    assert_eq!(received.current_actor().unwrap().kind(), Kind::Agent);
    assert_eq!(
        received.scopes(),
        &ScopeSet::parse("orders:read orders:write").unwrap()
    );
    // Revoked at the service: the next introspection refuses it.
    assert!(
        f.sts
            .revoke_token_id(claims(&token)["jti"].as_str().unwrap())
    );
    let refused = verifier.verify_token(&token).await.unwrap_err();
    assert_eq!(refused.reason(), "introspection_inactive");
}
