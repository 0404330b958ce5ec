//! Central identity (issue 10): the hot paths that must stay cheap once a central
//! service has answered once.
//!
//! - `introspection/cache_hit` (target at most 2 µs): `Verifier::verify` of an opaque token whose answer the
//!   cache holds (the development IdP's `/introspect` answered it once, during setup).
//! - `introspection/cache_miss_loopback`: the same verifier with a token it has not seen,
//!   one real introspection call over loopback HTTP per iteration (for scale only: it
//!   measures the dev IdP and the HTTP client as much as Baton).
//! - `exchange/cache_hit` (target at most 2 µs): `TokenExchangeClient::exchange` of a
//!   request whose token it holds (a JWT-sized subject token), one SHA-256 of the request
//!   and one map lookup.
//! - `agent_keys/authenticate_memory` (target at most 5 µs): an agent key checked against
//!   an in-memory store of 10,000 keys, directly and through `dyn AgentKeyStore`.
//! - `exchange_round_trip/agent_key` and `exchange_round_trip/access_token` (for scale, no
//!   target): a full RFC 8693 exchange on loopback, every iteration a real one
//!   (`TokenExchangeClient::exchange_uncached`): the client's form and HTTP call, the
//!   `TokenExchangeService` in axum on 127.0.0.1 (client authentication, the agent key
//!   checked in a memory store and its human looked up, or an ES256 access token
//!   verified; policy; an ES256 token minted and recorded), the answer parsed and checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use benches::ready;
use criterion::{Criterion, criterion_group, criterion_main};
use principal::{AgentId, HumanId, ScopeSet, Timestamp};
use principal::{Audience, ClaimMapping, Clock, Issuer, SystemClock};
use serde_json::json;
use tower_auth::agent_keys::{
    AgentKeyStore, HumanEntry, MemoryAgentKeyStore, MemoryHumanDirectory, NewAgentKey,
};
use tower_auth::dev_idp::DevIdp;
use tower_auth::exchange::{
    ClientAuth as ExchangeClientAuth, ExchangeRequest, ExchangeTarget, TokenExchangeClient,
    TokenType,
};
use tower_auth::introspect::{ClientAuth, IntrospectionVerifier};
use tower_auth::jwks::{KeySet, KeySetPolicy};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
use tower_auth::sts::{ClientSecret, RegisteredClient, TokenExchangeService};
use tower_auth::{Credentials, Verifier};

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let idp = runtime
        .block_on(DevIdp::start("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let exp = SystemClock.now().as_unix_seconds() + 3600;
    let claims = || {
        json!({
            "iss": idp.issuer(), "sub": "alice", "aud": "api",
            "scope": "orders:read orders:write profile email offline", "exp": exp,
        })
    };
    let verifier = IntrospectionVerifier::builder(
        &idp.introspection_url(),
        Issuer::new(idp.issuer()).unwrap(),
        ClientAuth::client_secret_basic("edge", "bench-secret").unwrap(),
    )
    .audience(Audience::new("api").unwrap())
    .build()
    .unwrap();
    let token = idp.issue_opaque(claims()).unwrap();
    runtime.block_on(verifier.verify_token(&token)).unwrap();

    let mut group = c.benchmark_group("introspection");
    group.bench_function("cache_hit", |b| {
        b.iter(|| {
            let credentials = Credentials::bearer(black_box(&token));
            ready(verifier.verify(&credentials)).unwrap()
        })
    });
    group.bench_function("cache_miss_loopback", |b| {
        b.iter_batched(
            || idp.issue_opaque(claims()).unwrap(),
            |fresh| runtime.block_on(verifier.verify_token(&fresh)).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();

    // A token endpoint that answers every exchange with the same short-lived token.
    let endpoint = runtime.block_on(async {
        use axum::routing::post;
        let app = axum::Router::new().route(
            "/token",
            post(|| async {
                axum::Json(json!({"access_token": "exchanged", "token_type": "Bearer",
                    "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                    "expires_in": 3600}))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/token", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        endpoint
    });
    let client = TokenExchangeClient::builder(
        &endpoint,
        ExchangeClientAuth::client_secret_basic("edge", "bench-secret").unwrap(),
    )
    .build()
    .unwrap();
    let subject = format!("eyJhbGciOiJFUzI1NiJ9.{}.sig", "a".repeat(900));
    let request = ExchangeRequest::new(
        subject.as_str(),
        TokenType::ACCESS_TOKEN,
        ExchangeTarget::audience(Audience::new("orders").unwrap()),
    )
    .unwrap();
    runtime.block_on(client.exchange(&request)).unwrap();
    let mut group = c.benchmark_group("exchange");
    group.bench_function("cache_hit", |b| {
        b.iter(|| ready(client.exchange(black_box(&request))).unwrap())
    });
    group.finish();

    let now = Timestamp::from_unix_seconds(SystemClock.now().as_unix_seconds());
    let store = MemoryAgentKeyStore::new();
    let mut key = None;
    for n in 0..10_000u128 {
        let issued = store
            .create_sync(
                NewAgentKey::new(
                    AgentId::new(uuid::Uuid::from_u128(0xa000 + n)),
                    HumanId::new(uuid::Uuid::from_u128(0x4000 + n)),
                    ScopeSet::parse("orders:read").unwrap(),
                    now.add_seconds(86_400),
                ),
                now,
            )
            .unwrap();
        key = Some(issued.key.expose_secret().to_owned());
    }
    let key = key.unwrap();
    let mut group = c.benchmark_group("agent_keys");
    group.bench_function("authenticate_memory", |b| {
        b.iter(|| store.authenticate_sync(black_box(&key), now).unwrap())
    });
    let dyn_store: &dyn AgentKeyStore = &store;
    group.bench_function("authenticate_memory_dyn", |b| {
        b.iter(|| ready(dyn_store.authenticate(black_box(&key), now)).unwrap())
    });
    group.finish();
}

/// A full exchange round trip on loopback: the token exchange service in axum, a client
/// that never uses its cache.
fn bench_round_trip(c: &mut Criterion) {
    const SECRET: &str = "bench-runner-secret-0123456789ab";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let now = SystemClock.now();
    let human = HumanId::new(uuid::Uuid::from_u128(0x4000));
    let keys = std::sync::Arc::new(MemoryAgentKeyStore::new());
    let humans = std::sync::Arc::new(MemoryHumanDirectory::new());
    humans
        .insert(
            human,
            HumanEntry::new(ScopeSet::parse("orders:read orders:write profile").unwrap()),
        )
        .unwrap();
    let agent_key = keys
        .create_sync(
            NewAgentKey::new(
                AgentId::new(uuid::Uuid::from_u128(0xa000)),
                human,
                ScopeSet::parse("orders:read orders:write").unwrap(),
                now.add_seconds(86_400),
            ),
            now,
        )
        .unwrap();

    let (endpoint, access_token) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = InternalIssuer::builder(
            Issuer::new(&base).unwrap(),
            SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
        )
        .build()
        .unwrap();
        // Access tokens: the service's own, for the audience `sts`, verified by static keys.
        let jwks = KeySet::from_jwks_json(
            issuer.jwks().to_string().as_bytes(),
            &KeySetPolicy::default(),
        )
        .unwrap()
        .set;
        let own = IssuerConfig::builder(issuer.issuer().clone())
            .audience(Audience::new("sts").unwrap())
            .static_keys(jwks)
            .algorithms([jsonwebtoken::Algorithm::ES256])
            .require_typ("at+jwt")
            .claim_mapping(ClaimMapping::baton())
            .build()
            .unwrap();
        let own = JwtVerifier::builder().issuer(own).build().unwrap();
        let alice =
            principal::Principal::builder(human.into(), issuer.issuer().clone(), human.to_string())
                .scopes(ScopeSet::parse("orders:read orders:write").unwrap())
                .expires_at(now.add_seconds(86_400))
                .build()
                .unwrap();
        let access_token = issuer
            .mint(&alice, &Audience::new("sts").unwrap())
            .unwrap()
            .as_str()
            .to_owned();
        let sts = TokenExchangeService::builder(issuer, std::sync::Arc::new(own))
            .agent_keys(keys.clone(), humans.clone())
            .client(
                RegisteredClient::new("runner", ClientSecret::new(SECRET).unwrap())
                    .unwrap()
                    .may_exchange_for(Audience::new("orders").unwrap()),
            )
            // Every iteration records a token of five minutes: room for a long run.
            .max_issued_tokens(1_000_000)
            .build()
            .unwrap();
        let app = axum::Router::new().fallback_service(sts);
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("{base}/token"), access_token)
    });
    let client = TokenExchangeClient::builder(
        &endpoint,
        ExchangeClientAuth::client_secret_basic("runner", SECRET).unwrap(),
    )
    .build()
    .unwrap();
    let target = ExchangeTarget::audience(Audience::new("orders").unwrap())
        .scopes(ScopeSet::parse("orders:read").unwrap());
    let by_key = ExchangeRequest::new(
        agent_key.key.expose_secret(),
        TokenType::AGENT_KEY,
        target.clone(),
    )
    .unwrap();
    let by_token =
        ExchangeRequest::new(access_token.as_str(), TokenType::ACCESS_TOKEN, target).unwrap();
    // Both work before they are measured.
    for request in [&by_key, &by_token] {
        runtime.block_on(client.exchange_uncached(request)).unwrap();
    }

    let mut group = c.benchmark_group("exchange_round_trip");
    group.bench_function("agent_key", |b| {
        b.iter(|| {
            runtime
                .block_on(client.exchange_uncached(black_box(&by_key)))
                .unwrap()
        })
    });
    group.bench_function("access_token", |b| {
        b.iter(|| {
            runtime
                .block_on(client.exchange_uncached(black_box(&by_token)))
                .unwrap()
        })
    });
    group.finish();
    assert_eq!(client.cached_len(), 0, "the cache was never used");
}

criterion_group!(benches, bench, bench_round_trip);
criterion_main!(benches);
