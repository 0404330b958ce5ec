//! A chain of three HTTP services over real loopback connections (edge, orders, billing),
//! one test per propagation pattern: JWT passthrough, internal JWT minting, a signed
//! passport forwarded unchanged in a trust domain, a signed passport re-signed per hop,
//! and an unsigned passport toward allowlisted mTLS peers.
//!
//! The edge verifies an external JWT from the development IdP: alice's own, and one of an
//! agent acting for her (`act`). Each handler calls an outsider (off the propagate
//! allowlist, after copying its own identity headers onto the call) and then the next
//! hop, through a hyper-util client wrapped in the propagate layer, passing nothing by
//! hand. Each hop answers the subject, the acting party, the delegation chain, the
//! pattern, the calling service and its request id, wrapping the next hop's answer.
//!
//! Every pattern test also checks, over the wire: the outsider never receives an
//! identity header but gets the request id; the request id is the same at every hop
//! (and equals the passport's); a request without one gets one at the edge that reaches
//! the last hop; and a spoofed `x-principal-bin` sent to the edge never becomes a
//! Principal.
#![allow(clippy::unwrap_used)]

#[path = "support/chain.rs"]
mod chain;

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use base64::Engine as _;
use chain::{Bound, Hop, Recorder, get, serve};
use http::{HeaderMap, StatusCode};
use jsonwebtoken::Algorithm;
use principal::{
    AgentId, Audience, ClaimMapping, Clock as _, HumanId, Issuer, Principal, PrincipalId,
    ServiceId, TestClock, Timestamp,
};
use principal_proto::{
    DecodeOptions, KeyId, Passport, PassportKeyRing, PassportSigningKey, PassportVerifier,
    PassportVerifyingKey, RequestId, TrustedPeer,
};
use serde_json::{Value, json};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::dev_idp::DevIdp;
use tower_auth::jwks::StartupPolicy;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::mint::{
    DISCOVERY_PATH, InternalIssuer, JWKS_PATH, MintCache, SigningAlgorithm, SigningKey,
};
use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
use tower_auth::peer::{PeerAllowlist, PeerIdentity, SpiffeId};
use tower_auth::propagate::{PropagateLayer, Route, SharedKeyRing};
use tower_auth::{Pattern, VerifierChain};

const START: i64 = 1_700_000_000;
/// The audience of the external tokens (every hop of the passthrough chain accepts it).
const API: &str = "shop-api";
/// The trust domain a forwarded passport names.
const DOMAIN: &str = "shop.internal";
const ORDERS: &str = "orders";
const BILLING: &str = "billing";
const EDGE_WORKLOAD: &str = "spiffe://shop.internal/edge";
const ORDERS_WORKLOAD: &str = "spiffe://shop.internal/orders";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACESTATE: &str = "shop=edge,vendor=9";

/// The IdP, the clock every component reads, the outsider, and the three listeners.
struct World {
    idp: DevIdp,
    clock: TestClock,
    outsider_url: String,
    outsider: Recorder,
    edge: Bound,
    orders: Bound,
    billing: Bound,
}

async fn world() -> World {
    let clock = TestClock::new(Timestamp::from_unix_seconds(START));
    let idp = DevIdp::start_with_clock("127.0.0.1:0".parse().unwrap(), Arc::new(clock.clone()))
        .await
        .unwrap();
    let (outsider_url, outsider) = chain::outsider().await;
    World {
        idp,
        clock,
        outsider_url,
        outsider,
        edge: Bound::new().await,
        orders: Bound::new().await,
        billing: Bound::new().await,
    }
}

/// The servers of a started chain and what each received.
struct Chain {
    edge_url: String,
    billing_url: String,
    /// Edge, orders, billing.
    wire: [Recorder; 3],
    outsider: Recorder,
    idp_issuer: Issuer,
}

impl World {
    fn clock(&self) -> Arc<TestClock> {
        Arc::new(self.clock.clone())
    }

    /// A hop of this world, calling `next` (if any) with `propagate`.
    fn hop(
        &self,
        name: &'static str,
        authenticate: AuthenticateLayer,
        propagate: PropagateLayer,
        next: Option<&Bound>,
    ) -> Hop {
        Hop {
            name,
            authenticate,
            propagate: propagate.clock(self.clock()),
            next: next.map(Bound::url),
            outsider: self.outsider_url.clone(),
            peer: None,
            extra: Router::new(),
        }
    }

    /// The JWT verifier for the development IdP's external tokens (pattern 1).
    async fn external_verifier(&self) -> Arc<JwtVerifier> {
        let config = IssuerConfig::builder(Issuer::new(self.idp.issuer()).unwrap())
            .audience(Audience::new(API).unwrap())
            .oidc_discovery()
            .build()
            .unwrap();
        let verifier = JwtVerifier::builder()
            .issuer(config)
            .clock(self.clock())
            .build()
            .unwrap();
        verifier
            .warm(StartupPolicy::FailIfUnavailable)
            .await
            .unwrap();
        Arc::new(verifier)
    }

    /// A token from the IdP for alice; with `agent`, the agent acting for her (`act`).
    fn token(&self, agent: bool) -> String {
        let mut claims = json!({
            "iss": self.idp.issuer(), "sub": "alice", "aud": API,
            "iat": START, "exp": START + 600, "jti": format!("jti-{agent}"),
            "scope": "orders:read orders:write",
        });
        if agent {
            claims["act"] = json!({"sub": "shopping-bot", "scope": "orders:read"});
        }
        self.idp.issue(claims, Algorithm::ES256).unwrap()
    }

    fn edge_route(&self, route: Route) -> PropagateLayer {
        PropagateLayer::new()
            .route(&self.orders.authority(), route)
            .unwrap()
    }

    fn orders_route(&self, route: Route) -> PropagateLayer {
        PropagateLayer::new()
            .route(&self.billing.authority(), route)
            .unwrap()
    }

    /// Serves the three hops.
    fn start(&mut self, edge: Hop, orders: Hop, billing: Hop) -> Chain {
        let wire = [
            serve(&mut self.edge, edge),
            serve(&mut self.orders, orders),
            serve(&mut self.billing, billing),
        ];
        self.chain(wire)
    }

    /// The chain whose hops are served and recorded by `wire` (edge, orders, billing).
    fn chain(&self, wire: [Recorder; 3]) -> Chain {
        Chain {
            edge_url: self.edge.url(),
            billing_url: self.billing.url(),
            wire,
            outsider: self.outsider.clone(),
            idp_issuer: Issuer::new(self.idp.issuer()).unwrap(),
        }
    }
}

fn shared_ring(key_id: &str) -> SharedKeyRing {
    let key = PassportSigningKey::ed25519_generate(KeyId::new(key_id).unwrap()).unwrap();
    Arc::new(ArcSwap::from_pointee(PassportKeyRing::new(key)))
}

/// The public half of `ring`'s current key, by key id: what another service is given.
fn public_key(ring: &SharedKeyRing) -> PassportVerifyingKey {
    let ring = ring.load();
    let key = ring.verifier().key(ring.current_key_id()).unwrap();
    PassportVerifyingKey::ed25519(key.key_id().clone(), key.ed25519_public_key().unwrap()).unwrap()
}

fn service(slug: &str) -> ServiceId {
    ServiceId::new(slug).unwrap()
}

fn audience(name: &str) -> Audience {
    Audience::new(name).unwrap()
}

fn spiffe(id: &str) -> SpiffeId {
    id.parse().unwrap()
}

/// A passport verifier for `audience_name` with `keys`, on the world's clock.
fn passport_verifier(
    clock: &TestClock,
    audience_name: &str,
    keys: PassportKeys,
) -> PassportHeaderVerifier {
    PassportHeaderVerifier::new(DecodeOptions::new(audience(audience_name)), keys)
        .clock(Arc::new(clock.clone()))
}

/// What the internal hops must report, beside the Principal.
struct Expect {
    pattern: Pattern,
    orders_caller: Value,
    billing_caller: Value,
}

fn caller(identity: &str, pattern: Pattern) -> Value {
    json!({"identity": identity, "pattern": pattern.as_str()})
}

/// One request sent to the edge.
struct Case {
    agent: bool,
    token: String,
    request_id: Option<&'static str>,
    traceparent: Option<&'static str>,
}

/// Alice with a request id and a trace, her agent with a request id, and alice with
/// neither (the edge makes them).
fn cases(world: &World) -> Vec<Case> {
    vec![
        Case {
            agent: false,
            token: world.token(false),
            request_id: Some("req-alice-1"),
            traceparent: Some(TRACEPARENT),
        },
        Case {
            agent: true,
            token: world.token(true),
            request_id: Some("req-agent-1"),
            traceparent: None,
        },
        Case {
            agent: false,
            token: world.token(false),
            request_id: None,
            traceparent: None,
        },
    ]
}

/// What one request did: each hop's answer and the headers each hop received.
struct Observed {
    hops: [Value; 3],
    wire: [HeaderMap; 3],
    request_id: String,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().unwrap())
}

/// Sends `case` to the edge and checks what every pattern must show: the same human
/// (and acting party and chain) at every hop, the pattern and caller of each hop, one
/// request id and trace everywhere, and an outsider that got no identity.
async fn run(chain: &Chain, expect: &Expect, case: &Case) -> Observed {
    let authorization = format!("Bearer {}", case.token);
    let mut headers = vec![("authorization", authorization.as_str())];
    if let Some(id) = case.request_id {
        headers.push(("x-request-id", id));
    }
    if let Some(traceparent) = case.traceparent {
        headers.push(("traceparent", traceparent));
        headers.push(("tracestate", TRACESTATE));
    }
    let (status, edge, _) = get(&chain.edge_url, &headers).await;
    assert_eq!(status, StatusCode::OK, "{edge}");
    assert_eq!(edge["next"]["status"], 200, "{edge}");
    let orders = edge["next"]["answer"].clone();
    assert_eq!(orders["next"]["status"], 200, "{orders}");
    let billing = orders["next"]["answer"].clone();
    assert_eq!(billing["next"], Value::Null, "the last hop calls no one");
    let hops = [edge, orders, billing];
    let wire = [
        chain.wire[0].take_one(),
        chain.wire[1].take_one(),
        chain.wire[2].take_one(),
    ];

    // The same party at every hop: alice, and who acts now.
    let alice = PrincipalId::from(HumanId::derive(&chain.idp_issuer, "alice")).to_string();
    let bot = PrincipalId::from(AgentId::derive(&chain.idp_issuer, "shopping-bot")).to_string();
    let (acting, delegation) = if case.agent {
        (bot.clone(), json!([bot]))
    } else {
        (alice.clone(), json!([]))
    };
    let patterns = [Pattern::JwtPassthrough, expect.pattern, expect.pattern];
    let callers = [
        Value::Null,
        expect.orders_caller.clone(),
        expect.billing_caller.clone(),
    ];
    for (((hop, name), pattern), caller) in hops
        .iter()
        .zip(["edge", ORDERS, BILLING])
        .zip(patterns)
        .zip(callers)
    {
        assert_eq!(hop["service"], name);
        assert_eq!(hop["id"], alice, "{name}");
        assert_eq!(hop["kind"], "human", "{name}");
        assert_eq!(hop["acting"], acting, "{name}");
        assert_eq!(hop["delegation"], delegation, "{name}");
        assert_eq!(hop["pattern"], pattern.as_str(), "{name}");
        assert_eq!(hop["caller"], caller, "{name}");
    }

    // One request id: the one sent, or the one the edge made, at every hop and on the
    // wire between them; one trace id.
    let request_id = hops[0]["request_id"].as_str().unwrap().to_owned();
    match case.request_id {
        Some(sent) => assert_eq!(request_id, sent),
        None => {
            assert!(header(&wire[0], "x-request-id").is_none());
            assert_eq!(request_id.len(), 36, "generated at the edge: {request_id}");
        }
    }
    let trace_id = |hop: &Value| hop["traceparent"].as_str().unwrap()[3..35].to_owned();
    if let Some(sent) = case.traceparent {
        assert_eq!(trace_id(&hops[0]), sent[3..35]);
    }
    for (hop, received) in hops.iter().zip(&wire).skip(1) {
        assert_eq!(hop["request_id"], request_id.as_str(), "{}", hop["service"]);
        assert_eq!(header(received, "x-request-id"), Some(request_id.as_str()));
        assert_eq!(trace_id(hop), trace_id(&hops[0]), "{}", hop["service"]);
        let tracestate = case.traceparent.map(|_| TRACESTATE);
        assert_eq!(header(received, "tracestate"), tracestate);
    }

    // The outsider: called by every hop with the identity headers that hop had copied,
    // it received none of them, and the request id all the same.
    let outsider = chain.outsider.take();
    assert_eq!(outsider.len(), 3, "each hop called the outsider once");
    for hop in &hops {
        assert_eq!(hop["outsider"], "ok", "{}", hop["service"]);
        assert!(
            !hop["copied_to_outsider"].as_array().unwrap().is_empty(),
            "{} had an identity header to copy",
            hop["service"]
        );
    }
    for received in &outsider {
        for name in chain::IDENTITY_HEADERS {
            assert!(received.get(name).is_none(), "{name} reached the outsider");
        }
        assert_eq!(header(received, "x-request-id"), Some(request_id.as_str()));
    }

    Observed {
        hops,
        wire,
        request_id,
    }
}

/// A spoofed `x-principal-bin` (and internal token) sent straight to the edge: without a
/// bearer token the edge refuses and nothing is called downstream; with alice's token,
/// every hop sees alice, never mallory.
async fn spoof_at_edge(
    chain: &Chain,
    world_token: &str,
    spoof: impl Fn(&Principal, &str) -> String,
) {
    let issuer = chain.idp_issuer.clone();
    let mallory = Principal::builder(
        HumanId::derive(&issuer, "mallory").into(),
        issuer,
        "mallory",
    )
    .issued_at(Timestamp::from_unix_seconds(START))
    .expires_at(Timestamp::from_unix_seconds(START + 600))
    .build()
    .unwrap();
    let spoofed = spoof(&mallory, "req-spoof");
    let alone = [
        ("x-principal-bin", spoofed.as_str()),
        ("x-baton-internal-token", "spoofed"),
        ("x-request-id", "req-spoof"),
    ];
    let (status, _, challenge) = get(&chain.edge_url, &alone).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Stripped before anything read it: no credentials at all.
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    assert_eq!(chain.wire[0].take().len(), 1);
    assert!(chain.wire[1].take().is_empty(), "nothing reached orders");
    assert!(chain.outsider.take().is_empty());

    let authorization = format!("Bearer {world_token}");
    let mut with_token = alone.to_vec();
    with_token.push(("authorization", authorization.as_str()));
    let (status, edge, _) = get(&chain.edge_url, &with_token).await;
    assert_eq!(status, StatusCode::OK, "{edge}");
    let orders = &edge["next"]["answer"];
    let billing = &orders["next"]["answer"];
    let alice = PrincipalId::from(HumanId::derive(&chain.idp_issuer, "alice")).to_string();
    for hop in [&edge, orders, billing] {
        assert_eq!(hop["id"], alice, "{hop}");
    }
    let at_orders = chain.wire[1].take_one();
    assert_ne!(
        header(&at_orders, "x-principal-bin"),
        Some(spoofed.as_str())
    );
    assert!(at_orders.get("x-baton-internal-token").is_none());
    chain.wire[0].take();
    chain.wire[2].take();
    chain.outsider.take();
}

/// What orders received (`name`), replayed by orders straight to billing for the same
/// request: the status, the challenge and what billing reported.
async fn replay_to_billing(
    chain: &Chain,
    seen: &Observed,
    name: &str,
) -> (StatusCode, Option<String>, Value) {
    let value = header(&seen.wire[1], name).unwrap();
    replay_as(chain, seen, name, value).await
}

/// `value` sent straight to billing in `name`, for `seen`'s request.
async fn replay_as(
    chain: &Chain,
    seen: &Observed,
    name: &str,
    value: &str,
) -> (StatusCode, Option<String>, Value) {
    let headers = [(name, value), ("x-request-id", seen.request_id.as_str())];
    let (status, answer, challenge) = get(&chain.billing_url, &headers).await;
    assert_eq!(chain.wire[2].take().len(), 1);
    chain.outsider.take();
    (status, challenge, answer)
}

const INVALID_TOKEN: &str = r#"Bearer error="invalid_token""#;

/// A spoofed passport for `audience_name` signed with `ring` (or unsigned).
fn spoofed_passport(
    ring: Option<&SharedKeyRing>,
    audience_name: &'static str,
) -> impl Fn(&Principal, &str) -> String {
    move |principal, request_id| {
        let now = Timestamp::from_unix_seconds(START);
        let passport = Passport::new(
            principal.clone(),
            RequestId::new(request_id).unwrap(),
            audience(audience_name),
            now,
            now.add_seconds(60),
        )
        .unwrap();
        match ring {
            Some(ring) => ring.load().sign_header(&passport).unwrap(),
            None => passport.encode_header().unwrap(),
        }
    }
}

/// The passport in `headers`, verified with `key` for `audience_name`.
fn verify_passport(
    headers: &HeaderMap,
    key: PassportVerifyingKey,
    audience_name: &str,
    clock: &TestClock,
) -> Result<Passport, principal_proto::PassportError> {
    PassportVerifier::new([key]).unwrap().verify_header(
        header(headers, "x-principal-bin").unwrap(),
        &DecodeOptions::new(audience(audience_name)),
        clock.now(),
    )
}

/// The claims and header of a JWT, decoded without verification (for the test to read).
fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut decode = || {
        let part = parts.next().unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    let header = decode();
    (header, decode())
}

#[tokio::test]
async fn passthrough_every_hop_verifies_the_external_jwt() {
    let mut world = world().await;
    let verifier = world.external_verifier().await;
    let edge = world.hop(
        "edge",
        AuthenticateLayer::new(verifier.clone()).keep_bearer_token(),
        world.edge_route(Route::passthrough()),
        Some(&world.orders),
    );
    let orders = world.hop(
        ORDERS,
        AuthenticateLayer::internal(world.external_verifier().await).keep_bearer_token(),
        world.orders_route(Route::passthrough()),
        Some(&world.billing),
    );
    let billing = world.hop(
        BILLING,
        AuthenticateLayer::internal(world.external_verifier().await),
        PropagateLayer::new(),
        None,
    );
    let chain = world.start(edge, orders, billing);
    let expect = Expect {
        pattern: Pattern::JwtPassthrough,
        orders_caller: Value::Null,
        billing_caller: Value::Null,
    };
    for case in &cases(&world) {
        let seen = run(&chain, &expect, case).await;
        // The external token itself, byte for byte, at every hop; nothing else.
        let bearer = format!("Bearer {}", case.token);
        for received in &seen.wire[1..] {
            assert_eq!(header(received, "authorization"), Some(bearer.as_str()));
            assert!(received.get("x-principal-bin").is_none());
        }
    }
    spoof_at_edge(&chain, &world.token(false), spoofed_passport(None, ORDERS)).await;
}

/// Where a minted token travels between two hops.
#[derive(Clone, Copy, PartialEq)]
enum Carried {
    Authorization,
    InternalTokenHeader,
}

/// The receiving side of pattern 2: `issuer`'s minted tokens for `audience_name`, the
/// minting service named `minted_by`, read from where they are `carried`.
async fn internal_verifier(
    clock: &TestClock,
    issuer: &InternalIssuer,
    audience_name: &str,
    minted_by: &str,
    carried: Carried,
) -> Arc<JwtVerifier> {
    let config = IssuerConfig::builder(issuer.issuer().clone())
        .audience(audience(audience_name))
        .oidc_discovery()
        .algorithms([Algorithm::ES256, Algorithm::EdDSA])
        .require_typ("at+jwt")
        .claim_mapping(ClaimMapping::baton())
        .minted_by(service(minted_by))
        .build()
        .unwrap();
    let mut builder = JwtVerifier::builder()
        .issuer(config)
        .clock(Arc::new(clock.clone()))
        .pattern(Pattern::InternalJwt);
    if carried == Carried::InternalTokenHeader {
        builder = builder.internal_token_header();
    }
    let verifier = builder.build().unwrap();
    verifier
        .warm(StartupPolicy::FailIfUnavailable)
        .await
        .unwrap();
    Arc::new(verifier)
}

/// An internal issuer at `bound`'s origin, on the world's clock, and its JWKS routes.
fn minting(world: &World, bound: &Bound, algorithm: SigningAlgorithm) -> (InternalIssuer, Router) {
    let issuer = InternalIssuer::builder(
        Issuer::new(bound.origin()).unwrap(),
        SigningKey::generate(algorithm).unwrap(),
    )
    .clock(world.clock())
    .build()
    .unwrap();
    let routes = Router::new()
        .route_service(JWKS_PATH, issuer.jwks_service())
        .route_service(DISCOVERY_PATH, issuer.jwks_service());
    (issuer, routes)
}

#[tokio::test]
async fn internal_jwt_each_hop_mints_for_the_next() {
    let mut world = world().await;
    let (edge_issuer, edge_jwks) = minting(&world, &world.edge, SigningAlgorithm::Es256);
    let (orders_issuer, orders_jwks) = minting(&world, &world.orders, SigningAlgorithm::EdDsa);
    let edge_cache = Arc::new(MintCache::builder(edge_issuer.clone()).build().unwrap());
    let orders_cache = Arc::new(MintCache::builder(orders_issuer.clone()).build().unwrap());

    // Served one by one: each hop's verifier fetches the keys of the hop before it.
    let mut edge = world.hop(
        "edge",
        AuthenticateLayer::new(world.external_verifier().await),
        world.edge_route(Route::minted_jwt(edge_cache, audience(ORDERS))),
        Some(&world.orders),
    );
    edge.extra = edge_jwks;
    let edge_wire = serve(&mut world.edge, edge);
    let mut orders = world.hop(
        ORDERS,
        AuthenticateLayer::internal(
            internal_verifier(
                &world.clock,
                &edge_issuer,
                ORDERS,
                "edge",
                Carried::Authorization,
            )
            .await,
        ),
        // Toward billing, in the header of its own.
        world.orders_route(
            Route::minted_jwt(orders_cache, audience(BILLING)).in_internal_token_header(),
        ),
        Some(&world.billing),
    );
    orders.extra = orders_jwks;
    let orders_wire = serve(&mut world.orders, orders);
    let billing = world.hop(
        BILLING,
        AuthenticateLayer::internal(
            internal_verifier(
                &world.clock,
                &orders_issuer,
                BILLING,
                "orders",
                Carried::InternalTokenHeader,
            )
            .await,
        ),
        PropagateLayer::new(),
        None,
    );
    let billing_wire = serve(&mut world.billing, billing);
    let chain = world.chain([edge_wire, orders_wire, billing_wire]);

    let expect = Expect {
        pattern: Pattern::InternalJwt,
        orders_caller: caller("svc-edge", Pattern::InternalJwt),
        billing_caller: caller("svc-orders", Pattern::InternalJwt),
    };
    for case in &cases(&world) {
        let seen = run(&chain, &expect, case).await;
        // Each hop received a token minted for it by the hop before, not the external one.
        let at_orders = header(&seen.wire[1], "authorization").unwrap();
        let at_billing = header(&seen.wire[2], "x-baton-internal-token").unwrap();
        assert!(seen.wire[2].get("authorization").is_none());
        // billing's handler had the internal token to copy to the outsider (which got
        // none of it: checked by `run`).
        assert_eq!(
            seen.hops[2]["copied_to_outsider"],
            json!(["x-baton-internal-token"])
        );
        for (token, (issuer, aud)) in [
            (
                at_orders.strip_prefix("Bearer ").unwrap(),
                (edge_issuer.issuer().as_str(), ORDERS),
            ),
            (at_billing, (orders_issuer.issuer().as_str(), BILLING)),
        ] {
            assert_ne!(token, case.token);
            let (jwt_header, claims) = jwt_parts(token);
            assert_eq!(jwt_header["typ"], "at+jwt");
            assert_eq!(claims["iss"], issuer);
            assert_eq!(claims["aud"], aud);
            // The agent's `act` travels in the minted token; alice alone has none.
            assert_eq!(claims["act"].is_object(), case.agent, "{claims}");
        }
        // orders cannot reuse the token it received toward billing: it names orders.
        let token = at_orders.strip_prefix("Bearer ").unwrap();
        let (status, challenge, _) =
            replay_as(&chain, &seen, "x-baton-internal-token", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(challenge.as_deref(), Some(INVALID_TOKEN));
    }
    // Alice's token came twice and her agent's once: each hop minted once per Principal
    // and audience.
    assert_eq!(edge_issuer.tokens_minted(), 2);
    assert_eq!(orders_issuer.tokens_minted(), 2);

    // A burst of both parties at once, over the clients' pooled keep-alive connections:
    // every hop of every request sees its own party and request id, never another's.
    let (alice, agent) = (world.token(false), world.token(true));
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..8 {
        let token = if i % 2 == 0 { &alice } else { &agent };
        let authorization = format!("Bearer {token}");
        let request_id = format!("req-burst-{i}");
        let url = chain.edge_url.clone();
        burst.spawn(async move {
            let headers = [
                ("authorization", authorization.as_str()),
                ("x-request-id", request_id.as_str()),
            ];
            let (status, edge, _) = get(&url, &headers).await;
            (i, request_id, status, edge)
        });
    }
    let bot = PrincipalId::from(AgentId::derive(&chain.idp_issuer, "shopping-bot")).to_string();
    let mut answered = 0;
    while let Some(joined) = burst.join_next().await {
        let (i, request_id, status, edge) = joined.unwrap();
        assert_eq!(status, StatusCode::OK, "{edge}");
        let orders = &edge["next"]["answer"];
        let billing = &orders["next"]["answer"];
        for hop in [&edge, orders, billing] {
            assert_eq!(hop["request_id"], request_id.as_str(), "{hop}");
            assert_eq!(hop["acting"] == bot.as_str(), i % 2 == 1, "{hop}");
        }
        answered += 1;
    }
    assert_eq!(answered, 8);
    assert_eq!(
        edge_issuer.tokens_minted(),
        2,
        "the burst was served from the cache"
    );
    chain.wire.iter().for_each(|wire| drop(wire.take()));
    chain.outsider.take();

    spoof_at_edge(&chain, &world.token(false), spoofed_passport(None, ORDERS)).await;
}

#[tokio::test]
async fn signed_passport_forwarded_unchanged_in_the_trust_domain() {
    let mut world = world().await;
    let edge_ring = shared_ring("edge-1");
    // Every service of the domain: the domain's audience and the edge's public key.
    let domain_verifier = || {
        Arc::new(passport_verifier(
            &world.clock,
            DOMAIN,
            PassportKeys::new(public_key(&edge_ring), service("edge")).unwrap(),
        ))
    };
    // The edge's chain even holds a verifier that would accept the domain's passports:
    // stripping incoming passports comes before any verifier.
    let edge_chain = VerifierChain::new(world.external_verifier().await).then(domain_verifier());
    let edge = world.hop(
        "edge",
        AuthenticateLayer::new(Arc::new(edge_chain)),
        world.edge_route(Route::forward_passport(edge_ring.clone(), audience(DOMAIN))),
        Some(&world.orders),
    );
    // orders holds no edge private key: it forwards what it received. (Its own ring would
    // only sign a request that came without a passport, which billing would refuse.)
    let orders = world.hop(
        ORDERS,
        AuthenticateLayer::internal(domain_verifier()),
        world.orders_route(Route::forward_passport(
            shared_ring("orders-1"),
            audience(DOMAIN),
        )),
        Some(&world.billing),
    );
    let billing = world.hop(
        BILLING,
        AuthenticateLayer::internal(domain_verifier()),
        PropagateLayer::new(),
        None,
    );
    let chain = world.start(edge, orders, billing);

    let expect = Expect {
        pattern: Pattern::Passport,
        orders_caller: caller("svc-edge", Pattern::Passport),
        billing_caller: caller("svc-edge", Pattern::Passport),
    };
    let mut passports = Vec::new();
    for case in &cases(&world) {
        let seen = run(&chain, &expect, case).await;
        let at_orders = header(&seen.wire[1], "x-principal-bin").unwrap();
        let at_billing = header(&seen.wire[2], "x-principal-bin").unwrap();
        // The exact bytes the edge signed, forwarded by orders unchanged.
        assert_eq!(at_billing.as_bytes(), at_orders.as_bytes());
        let passport =
            verify_passport(&seen.wire[2], public_key(&edge_ring), DOMAIN, &world.clock).unwrap();
        assert_eq!(passport.request_id().as_str(), seen.request_id);
        assert_eq!(passport.audience().as_str(), DOMAIN);
        assert_eq!(passport.principal().id().to_string(), seen.hops[2]["id"]);
        assert!(seen.wire[1].get("authorization").is_none());
        passports.push(at_orders.to_owned());
        // The point of the trust domain, and its cost: any service of the domain can
        // present what it received to any other, which sees the edge as the caller.
        let (status, _, answer) = replay_to_billing(&chain, &seen, "x-principal-bin").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["caller"], caller("svc-edge", Pattern::Passport));
    }
    // One passport per request.
    assert_ne!(passports[0], passports[1]);
    assert_ne!(passports[0], passports[2]);
    // Even signed with the edge's own key for the domain, a passport sent to the edge
    // from outside is stripped, and never forwarded in place of the edge's own.
    spoof_at_edge(
        &chain,
        &world.token(false),
        spoofed_passport(Some(&edge_ring), DOMAIN),
    )
    .await;
}

#[tokio::test]
async fn signed_passport_re_signed_per_hop_with_each_services_key() {
    let mut world = world().await;
    let edge_ring = shared_ring("edge-1");
    let orders_ring = shared_ring("orders-1");
    // As orders would: the edge's chain accepts the edge's passports for orders too, and
    // still never reads one from outside.
    let edge_chain =
        VerifierChain::new(world.external_verifier().await).then(Arc::new(passport_verifier(
            &world.clock,
            ORDERS,
            PassportKeys::new(public_key(&edge_ring), service("edge")).unwrap(),
        )));
    let edge = world.hop(
        "edge",
        AuthenticateLayer::new(Arc::new(edge_chain)),
        world.edge_route(Route::signed_passport(edge_ring.clone(), audience(ORDERS))),
        Some(&world.orders),
    );
    let orders = world.hop(
        ORDERS,
        AuthenticateLayer::internal(Arc::new(passport_verifier(
            &world.clock,
            ORDERS,
            PassportKeys::new(public_key(&edge_ring), service("edge")).unwrap(),
        ))),
        world.orders_route(Route::signed_passport(
            orders_ring.clone(),
            audience(BILLING),
        )),
        Some(&world.billing),
    );
    // billing knows orders' public key by its key id, and no other.
    let billing = world.hop(
        BILLING,
        AuthenticateLayer::internal(Arc::new(passport_verifier(
            &world.clock,
            BILLING,
            PassportKeys::new(public_key(&orders_ring), service("orders")).unwrap(),
        ))),
        PropagateLayer::new(),
        None,
    );
    let chain = world.start(edge, orders, billing);

    let expect = Expect {
        pattern: Pattern::Passport,
        orders_caller: caller("svc-edge", Pattern::Passport),
        billing_caller: caller("svc-orders", Pattern::Passport),
    };
    for case in &cases(&world) {
        let seen = run(&chain, &expect, case).await;
        let for_orders =
            verify_passport(&seen.wire[1], public_key(&edge_ring), ORDERS, &world.clock).unwrap();
        let for_billing = verify_passport(
            &seen.wire[2],
            public_key(&orders_ring),
            BILLING,
            &world.clock,
        )
        .unwrap();
        for passport in [&for_orders, &for_billing] {
            assert_eq!(passport.request_id().as_str(), seen.request_id);
            assert_eq!(passport.principal().id().to_string(), seen.hops[2]["id"]);
        }
        // Re-signed by orders: the edge's key does not verify billing's passport.
        assert_ne!(
            header(&seen.wire[1], "x-principal-bin"),
            header(&seen.wire[2], "x-principal-bin")
        );
        let by_edge = verify_passport(&seen.wire[2], public_key(&edge_ring), BILLING, &world.clock);
        assert_eq!(by_edge.unwrap_err().reason(), "unknown_key_id");
        // orders cannot pass the edge's passport on to billing as it is: it names orders
        // and carries a key billing does not know.
        let (status, challenge, _) = replay_to_billing(&chain, &seen, "x-principal-bin").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(challenge.as_deref(), Some(INVALID_TOKEN));
    }
    spoof_at_edge(
        &chain,
        &world.token(false),
        spoofed_passport(Some(&edge_ring), ORDERS),
    )
    .await;
}

#[tokio::test]
async fn unsigned_passport_toward_allowlisted_mtls_peers() {
    let mut world = world().await;
    // A key each verifier is built with, which no passport of this chain uses.
    let unused = public_key(&shared_ring("unused-1"));
    let edge = world.hop(
        "edge",
        AuthenticateLayer::new(world.external_verifier().await),
        world.edge_route(Route::unsigned_passport(audience(ORDERS))),
        Some(&world.orders),
    );
    let mut orders = world.hop(
        ORDERS,
        AuthenticateLayer::internal(Arc::new(
            passport_verifier(
                &world.clock,
                ORDERS,
                PassportKeys::new(unused.clone(), service("edge")).unwrap(),
            )
            .unsigned_from(PeerAllowlist::new([spiffe(EDGE_WORKLOAD)])),
        )),
        world.orders_route(Route::unsigned_passport(audience(BILLING))),
        Some(&world.billing),
    );
    // The stand-in for each service's mTLS acceptor: the peer it authenticated.
    orders.peer = Some(PeerIdentity::new(spiffe(EDGE_WORKLOAD)));
    let mut billing = world.hop(
        BILLING,
        AuthenticateLayer::internal(Arc::new(
            passport_verifier(
                &world.clock,
                BILLING,
                PassportKeys::new(unused, service("orders")).unwrap(),
            )
            .unsigned_from(PeerAllowlist::new([spiffe(ORDERS_WORKLOAD)])),
        )),
        PropagateLayer::new(),
        None,
    );
    billing.peer = Some(PeerIdentity::new(spiffe(ORDERS_WORKLOAD)));
    let chain = world.start(edge, orders, billing);

    let expect = Expect {
        pattern: Pattern::Passport,
        orders_caller: caller(EDGE_WORKLOAD, Pattern::Passport),
        billing_caller: caller(ORDERS_WORKLOAD, Pattern::Passport),
    };
    for case in &cases(&world) {
        let seen = run(&chain, &expect, case).await;
        for (received, (aud, peer)) in seen.wire[1..]
            .iter()
            .zip([(ORDERS, EDGE_WORKLOAD), (BILLING, ORDERS_WORKLOAD)])
        {
            let passport = Passport::decode_unsigned_header(
                header(received, "x-principal-bin").unwrap(),
                &DecodeOptions::new(audience(aud)),
                world.clock.now(),
                TrustedPeer::allowlisted(peer).unwrap(),
            )
            .unwrap();
            assert_eq!(passport.request_id().as_str(), seen.request_id);
            assert_eq!(passport.principal().id().to_string(), seen.hops[2]["id"]);
        }
        // Even from its allowlisted peer, billing refuses a passport made for orders.
        let (status, challenge, _) = replay_to_billing(&chain, &seen, "x-principal-bin").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(challenge.as_deref(), Some(INVALID_TOKEN));
    }
    spoof_at_edge(&chain, &world.token(false), spoofed_passport(None, ORDERS)).await;
}

#[tokio::test]
async fn forward_mode_never_passes_on_a_passport_made_for_another_audience() {
    // orders takes per-hop passports (its own audience) from the edge, but its route to
    // billing is the trust domain's. The passport it received names orders: forwarding
    // it would hand billing a credential for orders. It signs the domain's instead.
    let mut world = world().await;
    let edge_ring = shared_ring("edge-1");
    let orders_ring = shared_ring("orders-1");
    let edge = world.hop(
        "edge",
        AuthenticateLayer::new(world.external_verifier().await),
        world.edge_route(Route::signed_passport(edge_ring.clone(), audience(ORDERS))),
        Some(&world.orders),
    );
    let orders = world.hop(
        ORDERS,
        AuthenticateLayer::internal(Arc::new(passport_verifier(
            &world.clock,
            ORDERS,
            PassportKeys::new(public_key(&edge_ring), service("edge")).unwrap(),
        ))),
        world.orders_route(Route::forward_passport(
            orders_ring.clone(),
            audience(DOMAIN),
        )),
        Some(&world.billing),
    );
    let billing = world.hop(
        BILLING,
        AuthenticateLayer::internal(Arc::new(passport_verifier(
            &world.clock,
            DOMAIN,
            PassportKeys::new(public_key(&orders_ring), service("orders")).unwrap(),
        ))),
        PropagateLayer::new(),
        None,
    );
    let chain = world.start(edge, orders, billing);
    let expect = Expect {
        pattern: Pattern::Passport,
        orders_caller: caller("svc-edge", Pattern::Passport),
        billing_caller: caller("svc-orders", Pattern::Passport),
    };
    for case in &cases(&world) {
        let seen = run(&chain, &expect, case).await;
        assert_ne!(
            header(&seen.wire[1], "x-principal-bin"),
            header(&seen.wire[2], "x-principal-bin"),
            "the passport for orders went on to billing"
        );
        let passport = verify_passport(
            &seen.wire[2],
            public_key(&orders_ring),
            DOMAIN,
            &world.clock,
        )
        .unwrap();
        assert_eq!(passport.request_id().as_str(), seen.request_id);
    }
}
