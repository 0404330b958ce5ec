//! Propagation across hops (issue 8): what each pattern adds per hop, client attach plus
//! server verify, and chains of 1, 2, 4 and 8 hops, in one run beside a direct ES256 JWT
//! verification. The principal is the reference one (a Human with 5 scopes, 3 roles,
//! 3 attributes and one Agent actor), verified at the edge from an ES256 token of the
//! development IdP.
//!
//! A hop is built in process, no sockets: an outgoing request made inside the current
//! [`RequestContext`] of the previous hop (taken from that hop's authenticate layer, so it
//! holds what a real hop holds: the verified Principal, the kept bearer token, the
//! received passport) goes through `PropagateService` (the calling service's client
//! layer, routing the destination), then the next hop's `AuthenticateService`
//! (`AuthenticateLayer::new` for JWTs, `internal` for passports), then a `service_fn`
//! that answers 200. Every future completes without waiting and is polled once with a
//! no-op waker inside the entered current-thread runtime, as `jwt.rs` does, so no
//! scheduler is measured.
//!
//! Group `propagation`:
//! - `es256_verify`: the reference, `JwtVerifier::verify` of the IdP's ES256 token,
//!   token cache off (as `jwt/ES256/verifier` in `jwt.rs`); `es256_verify_end`, the same
//!   measured again after the hops, shows how far the machine's load moved during the
//!   group (other builds share the cores).
//! - `hop/bare`: the harness alone (request, context clone and scope, poll, the
//!   `service_fn`), no layer: subtract it from a hop to get what the pattern adds.
//! - `hop/layers_no_identity`: both layers, a route that attaches nothing and an
//!   optional authenticate layer (strip, request id and trace, context): the part of
//!   every hop that is not identity.
//! - `hop/<pattern>`: `es256_passthrough` (each hop verifies the external token, token
//!   cache off) and `es256_passthrough_cache_on`; `internal_jwt` (minted ES256 for the
//!   destination's audience, mint cache warm, receiver's token cache off: a full ES256
//!   verification) and `internal_jwt_cache_on`; `passport_hmac_forward` (the received
//!   passport forwarded unchanged in its trust domain); `passport_hmac_resign` and
//!   `passport_ed25519_resign` (made and signed per hop for the destination's audience);
//!   `passport_unsigned_peer` (unsigned, the transport peer on the receiver's allowlist;
//!   the peer identity is put in the request extensions per request, as a TLS acceptor
//!   would).
//!
//! Group `propagation_chain`: `<pattern>/<n>` for n = 1, 2, 4, 8 hops, each hop verifying
//! then attaching for the next (`bare`: the same nesting without layers; every level is
//! a `BoxCloneService`, so `bare/<n>` is the harness to subtract).
//!
//! Targets (issue 8, medians on the 2-core machine): a signed HMAC passport hop at most
//! 3 us and at least 20x cheaper than an ES256 passthrough hop; a minted-JWT hop with the
//! mint cache warm at most one ES256 verification plus 3 us. Run with
//! `cargo bench -p benches --bench propagation -- --warm-up-time 2 --measurement-time 5`;
//! `benches/medians.sh propagation` prints the medians of a run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use benches::patterns::{
    Boxed, edge_context, edge_token, external_verifier, internal_issuer, internal_verifier,
    recorder,
};
use benches::ready;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response, Uri};
use principal::{Audience, ServiceId};
use principal_proto::{
    DecodeOptions, KeyId, PassportKeyRing, PassportSigningKey, PassportVerifyingKey,
};
use tower::util::BoxCloneService;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_auth::authenticate::{AuthenticateLayer, AuthenticateService};
use tower_auth::context::RequestContext;
use tower_auth::dev_idp::DevIdp;
use tower_auth::mint::{InternalIssuer, MintCache};
use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
use tower_auth::peer::{PeerAllowlist, PeerIdentity, SpiffeId};
use tower_auth::propagate::{BoxError, PropagateLayer, PropagateService, Route, SharedKeyRing};
use tower_auth::token_cache::TokenCacheConfig;
use tower_auth::{Credentials, Pattern, Verifier};

/// The trust domain of forwarded passports.
const DOMAIN: &str = "shop-domain";
/// The next hop of the per-hop benches, and its audience.
const NEXT: &str = "http://next.internal:8080/hop";
const NEXT_DESTINATION: &str = "next.internal:8080";
const NEXT_AUDIENCE: &str = "next-api";
/// Lifetime of the passports the edge makes: the longest allowed, so one captured for a
/// bench outlives it.
const PASSPORT_LIFETIME_SECS: u32 = 300;
const HMAC_SECRET: [u8; 32] = [0x5a; 32];
const CHAIN_LENGTHS: [usize; 4] = [1, 2, 4, 8];

fn to(uri: &Uri) -> Request<String> {
    let mut request = Request::new(String::new());
    *request.uri_mut() = uri.clone();
    request
}

/// The handler at the end of a hop: 200, nothing else.
fn terminal() -> impl Service<
    Request<String>,
    Response = Response<String>,
    Error = BoxError,
    Future = std::future::Ready<Result<Response<String>, BoxError>>,
> + Clone
+ Send
+ 'static {
    service_fn(|_: Request<String>| std::future::ready(Ok(Response::new(String::new()))))
}

/// The transport between two hops: puts the caller's authenticated peer identity (what
/// a TLS acceptor would) into each request's extensions.
#[derive(Clone)]
struct Transport<S> {
    inner: S,
    peer: Option<PeerIdentity>,
}

impl<S: Service<Request<String>>> Service<Request<String>> for Transport<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<String>) -> Self::Future {
        if let Some(peer) = &self.peer {
            request.extensions_mut().insert(peer.clone());
        }
        self.inner.call(request)
    }
}

/// One hop as the caller reaches it: the caller's client layer, the transport, the
/// callee's authenticate layer; `layers: None` for the bare harness.
#[derive(Clone)]
struct Hop {
    uri: Uri,
    layers: Option<(PropagateLayer, AuthenticateLayer)>,
    peer: Option<PeerIdentity>,
}

type HopClient<H> = PropagateService<Transport<AuthenticateService<H>>>;

impl Hop {
    fn new(uri: &str, propagate: PropagateLayer, authenticate: AuthenticateLayer) -> Self {
        Hop {
            uri: uri.parse().unwrap(),
            layers: Some((propagate, authenticate)),
            peer: None,
        }
    }

    fn bare(uri: &str) -> Self {
        Hop {
            uri: uri.parse().unwrap(),
            layers: None,
            peer: None,
        }
    }

    fn with_peer(mut self, peer: PeerIdentity) -> Self {
        self.peer = Some(peer);
        self
    }

    /// The hop's stack around `handler`, unboxed (the per-hop benches).
    fn client<H>(&self, handler: H) -> HopClient<H> {
        let (propagate, authenticate) = self.layers.clone().expect("a hop with layers");
        propagate.layer(Transport {
            inner: authenticate.layer(handler),
            peer: self.peer.clone(),
        })
    }

    fn boxed(&self, handler: Boxed) -> Boxed {
        match &self.layers {
            Some(_) => BoxCloneService::new(self.client(handler)),
            None => handler,
        }
    }

    /// Sends one request through the hop inside `ctx` and returns the context its handler
    /// ran in (setup only).
    fn capture(&self, ctx: &RequestContext) -> RequestContext {
        let slot = Arc::new(Mutex::new(None));
        let client = self.boxed(recorder(Arc::clone(&slot)));
        let response = ready(ctx.clone().scope(client.oneshot(to(&self.uri)))).unwrap();
        assert_eq!(response.status(), 200);
        slot.lock()
            .unwrap()
            .take()
            .expect("the handler ran in a context")
    }
}

/// The service the caller of `hops[0]` reaches: each hop's handler calls the next hop
/// (in its own context, set by its authenticate layer); the last answers 200.
fn chain(hops: &[Hop]) -> Boxed {
    let (first, rest) = hops.split_first().expect("at least one hop");
    let handler = match rest.first() {
        None => BoxCloneService::new(terminal()),
        Some(next_hop) => {
            let next = chain(rest);
            let uri = next_hop.uri.clone();
            BoxCloneService::new(service_fn(move |_: Request<String>| {
                next.clone().oneshot(to(&uri))
            }))
        }
    };
    first.boxed(handler)
}

fn shared_ring(key: PassportSigningKey) -> SharedKeyRing {
    Arc::new(ArcSwap::from_pointee(PassportKeyRing::new(key)))
}

fn hmac_signing() -> PassportSigningKey {
    PassportSigningKey::hmac_sha256(KeyId::new("hmac-1").unwrap(), &HMAC_SECRET).unwrap()
}

fn hmac_keys(signer: &ServiceId) -> PassportKeys {
    PassportKeys::new(
        PassportVerifyingKey::hmac_sha256(KeyId::new("hmac-1").unwrap(), &HMAC_SECRET).unwrap(),
        signer.clone(),
    )
    .unwrap()
}

fn passport_layer(audience: &str, keys: PassportKeys) -> AuthenticateLayer {
    let verifier =
        PassportHeaderVerifier::new(DecodeOptions::new(Audience::new(audience).unwrap()), keys);
    AuthenticateLayer::internal(Arc::new(verifier))
}

fn route(destination: &str, route: Route) -> PropagateLayer {
    PropagateLayer::new()
        .route(destination, route.require_principal())
        .unwrap()
}

/// The context of a hop of `hop`'s pattern (reached from the edge), checked to hold a
/// Principal verified under `pattern`: the context the next hop's call is made in.
fn hop_context(hop: &Hop, edge: &RequestContext, pattern: Pattern) -> RequestContext {
    let ctx = hop.capture(edge);
    let verified = ctx.principal().expect("the hop verified a Principal");
    assert_eq!(verified.pattern(), pattern);
    assert_eq!(verified.id(), edge.principal().unwrap().id());
    ctx
}

fn bench_hop<H>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    client: &H,
    ctx: &RequestContext,
) where
    H: Service<Request<String>, Response = Response<String>> + Clone,
    H::Error: std::fmt::Debug,
{
    let uri = Uri::from_static(NEXT);
    // Accepted (200) before it is timed.
    let response = ready(ctx.clone().scope(client.clone().oneshot(to(&uri)))).unwrap();
    assert_eq!(response.status(), 200, "{name}");
    c.bench_function(name, |b| {
        b.iter(|| ready(ctx.clone().scope(client.clone().oneshot(to(&uri)))).unwrap())
    });
}

fn propagation(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let idp = runtime
        .block_on(DevIdp::start("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let token = edge_token(&idp);
    let edge = edge_context(&idp, &token);
    let edge_service = ServiceId::new("edge").unwrap();
    let next_audience = Audience::new(NEXT_AUDIENCE).unwrap();
    let domain = Audience::new(DOMAIN).unwrap();

    let mut group = c.benchmark_group("propagation");

    // The reference: one ES256 verification, token cache off.
    let direct = external_verifier(&idp, TokenCacheConfig::disabled());
    assert!(ready(direct.verify(&Credentials::bearer(&token))).is_ok());
    group.bench_function("es256_verify", |b| {
        b.iter(|| ready(direct.verify(std::hint::black_box(&Credentials::bearer(&token)))).unwrap())
    });

    // The harness alone, then the layers without identity.
    bench_hop(&mut group, "hop/bare", &terminal(), &edge);
    let anonymous = Hop::new(
        NEXT,
        PropagateLayer::new()
            .route(NEXT_DESTINATION, Route::nothing())
            .unwrap(),
        passport_layer(DOMAIN, hmac_keys(&edge_service)).optional(),
    );
    bench_hop(
        &mut group,
        "hop/layers_no_identity",
        &anonymous.client(terminal()),
        &edge,
    );

    // Pattern 1: passthrough, every hop verifies the external token (and keeps it for
    // its own next hop).
    for (name, cache) in [
        ("hop/es256_passthrough", TokenCacheConfig::disabled()),
        (
            "hop/es256_passthrough_cache_on",
            TokenCacheConfig::default(),
        ),
    ] {
        let hop = Hop::new(
            NEXT,
            route(NEXT_DESTINATION, Route::passthrough()),
            AuthenticateLayer::new(Arc::new(external_verifier(&idp, cache))).keep_bearer_token(),
        );
        let ctx = hop_context(&hop, &edge, Pattern::JwtPassthrough);
        bench_hop(&mut group, name, &hop.client(terminal()), &ctx);
    }

    // Pattern 2: a minted internal JWT per destination, mint cache warm.
    let issuer = internal_issuer("edge");
    let mint_cache = Arc::new(MintCache::builder(issuer.clone()).build().unwrap());
    for (name, cache) in [
        ("hop/internal_jwt", TokenCacheConfig::disabled()),
        ("hop/internal_jwt_cache_on", TokenCacheConfig::default()),
    ] {
        let hop = Hop::new(
            NEXT,
            route(
                NEXT_DESTINATION,
                Route::minted_jwt(Arc::clone(&mint_cache), next_audience.clone()),
            ),
            AuthenticateLayer::new(Arc::new(internal_verifier(
                &issuer,
                &edge_service,
                &next_audience,
                cache,
            ))),
        );
        let ctx = hop_context(&hop, &edge, Pattern::InternalJwt);
        let client = hop.client(terminal());
        // Warm for this context's Principal: the timed calls never mint (one renewal at
        // most, if the run outlasts a token's lifetime less its renewal margin).
        let warm = ready(
            ctx.clone()
                .scope(client.clone().oneshot(to(&Uri::from_static(NEXT)))),
        );
        assert_eq!(warm.unwrap().status(), 200);
        let minted = issuer.tokens_minted();
        bench_hop(&mut group, name, &client, &ctx);
        assert!(
            issuer.tokens_minted() <= minted + 1,
            "{name} minted while timed"
        );
    }

    // Pattern 4, HMAC, forwarded unchanged inside the trust domain.
    let hmac_ring = shared_ring(hmac_signing());
    let forward = Hop::new(
        NEXT,
        route(
            NEXT_DESTINATION,
            Route::forward_passport(Arc::clone(&hmac_ring), domain.clone())
                .passport_lifetime(PASSPORT_LIFETIME_SECS)
                .unwrap(),
        ),
        passport_layer(DOMAIN, hmac_keys(&edge_service)),
    );
    let ctx = hop_context(&forward, &edge, Pattern::Passport);
    assert!(ctx.received_passport().is_some());
    bench_hop(
        &mut group,
        "hop/passport_hmac_forward",
        &forward.client(terminal()),
        &ctx,
    );

    // Pattern 4, re-signed per hop for the destination's audience: HMAC, then Ed25519.
    let resign_hmac = Hop::new(
        NEXT,
        route(
            NEXT_DESTINATION,
            Route::signed_passport(Arc::clone(&hmac_ring), next_audience.clone()),
        ),
        passport_layer(NEXT_AUDIENCE, hmac_keys(&edge_service)),
    );
    let ctx = hop_context(&resign_hmac, &edge, Pattern::Passport);
    bench_hop(
        &mut group,
        "hop/passport_hmac_resign",
        &resign_hmac.client(terminal()),
        &ctx,
    );

    let ed_key = PassportSigningKey::ed25519_generate(KeyId::new("caller-ed-1").unwrap()).unwrap();
    let ed_public = ed_key.verifying_key();
    let resign_ed = Hop::new(
        NEXT,
        route(
            NEXT_DESTINATION,
            Route::signed_passport(shared_ring(ed_key), next_audience.clone()),
        ),
        passport_layer(
            NEXT_AUDIENCE,
            PassportKeys::new(ed_public, ServiceId::new("caller").unwrap()).unwrap(),
        ),
    );
    let ctx = hop_context(&resign_ed, &edge, Pattern::Passport);
    bench_hop(
        &mut group,
        "hop/passport_ed25519_resign",
        &resign_ed.client(terminal()),
        &ctx,
    );

    // Pattern 4, unsigned, from a peer on the receiver's allowlist.
    let caller: SpiffeId = "spiffe://shop.internal/caller".parse().unwrap();
    let unsigned_verifier = PassportHeaderVerifier::new(
        DecodeOptions::new(next_audience.clone()),
        hmac_keys(&edge_service),
    )
    .unsigned_from(PeerAllowlist::new([caller.clone()]));
    let unsigned = Hop::new(
        NEXT,
        route(
            NEXT_DESTINATION,
            Route::unsigned_passport(next_audience.clone()),
        ),
        AuthenticateLayer::internal(Arc::new(unsigned_verifier)),
    )
    .with_peer(PeerIdentity::new(caller));
    let ctx = hop_context(&unsigned, &edge, Pattern::Passport);
    bench_hop(
        &mut group,
        "hop/passport_unsigned_peer",
        &unsigned.client(terminal()),
        &ctx,
    );
    // The reference again, last: how far the machine's load moved it during the group.
    group.bench_function("es256_verify_end", |b| {
        b.iter(|| ready(direct.verify(std::hint::black_box(&Credentials::bearer(&token)))).unwrap())
    });
    group.finish();

    // Chains: hop i (1..=n) at hop{i}.internal, reached from hop i-1 (0 is the start).
    let uri = |i: usize| format!("http://hop{i}.internal:8080/hop");
    let destination = |i: usize| format!("hop{i}.internal:8080");
    let bare: Vec<Hop> = (1..=8).map(|i| Hop::bare(&uri(i))).collect();
    // Forwarded HMAC passports: the chain starts inside the domain (a hop that received
    // one), so every hop forwards.
    let forwarding: Vec<Hop> = (1..=8)
        .map(|i| {
            Hop::new(
                &uri(i),
                route(
                    &destination(i),
                    Route::forward_passport(Arc::clone(&hmac_ring), domain.clone())
                        .passport_lifetime(PASSPORT_LIFETIME_SECS)
                        .unwrap(),
                ),
                passport_layer(DOMAIN, hmac_keys(&edge_service)),
            )
        })
        .collect();
    // Internal JWTs: hop i-1 mints for hop i with its own issuer and mint cache; hop i
    // verifies that issuer's tokens (token cache off), naming hop i-1 as the caller.
    let issuers: Vec<InternalIssuer> = (0..8)
        .map(|i| internal_issuer(&format!("hop{i}")))
        .collect();
    let minting: Vec<Hop> = (1..=8)
        .map(|i| {
            let audience = Audience::new(format!("hop{i}-api")).unwrap();
            let cache = Arc::new(MintCache::builder(issuers[i - 1].clone()).build().unwrap());
            Hop::new(
                &uri(i),
                route(&destination(i), Route::minted_jwt(cache, audience.clone())),
                AuthenticateLayer::new(Arc::new(internal_verifier(
                    &issuers[i - 1],
                    &ServiceId::new(&format!("hop{}", i - 1)).unwrap(),
                    &audience,
                    TokenCacheConfig::disabled(),
                ))),
            )
        })
        .collect();

    let mut group = c.benchmark_group("propagation_chain");
    let start = Uri::try_from(uri(1)).unwrap();
    for (name, hops) in [
        ("bare", &bare),
        ("passport_hmac_forward", &forwarding),
        ("internal_jwt", &minting),
    ] {
        for n in CHAIN_LENGTHS {
            // Made just before it is timed: a forwarded passport lives 300 s.
            let ctx = match name {
                "passport_hmac_forward" => hop_context(&forward, &edge, Pattern::Passport),
                _ => edge.clone(),
            };
            let service = chain(&hops[..n]);
            // Every hop accepts (the last answers 200 only if all did), and each mint
            // cache is warm before timing.
            let response = ready(ctx.clone().scope(service.clone().oneshot(to(&start)))).unwrap();
            assert_eq!(response.status(), 200, "{name}/{n}");
            group.bench_function(format!("{name}/{n}"), |b| {
                b.iter(|| ready(ctx.clone().scope(service.clone().oneshot(to(&start)))).unwrap())
            });
        }
    }
    group.finish();
    drop(idp);
}

criterion_group!(benches, propagation);
criterion_main!(benches);
