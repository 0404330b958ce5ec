//! JWT verification (pattern 1) over the reference principal's claims (a Human with 5
//! scopes, 3 roles, 3 attributes and one Agent actor), signed by the development IdP.
//!
//! - `jwt_vs_jsonwebtoken/<alg>/jsonwebtoken_decode` vs `jwt_vs_jsonwebtoken/<alg>/verifier`,
//!   one group so both sides come from one run: the verifier alone (token cache off, so
//!   every iteration checks the signature, the claims and maps the Principal) against
//!   `jsonwebtoken::decode` into the same claims type, of the same token with the same
//!   key, issuer, audience and leeway. Targets (issue 7 item 15): the verifier at most
//!   0.75x jsonwebtoken's time for RS256, at most 0.9x for ES256 and EdDSA. Run with
//!   `cargo bench -p benches --bench jwt -- jwt_vs_jsonwebtoken`.
//! - `jwt/cache_hit`: a token the verified-token cache holds. Target: at most 2 us.
//! - `jwt/cache_hit_after_revocation_change`: the same, with the revocation list changed
//!   before every request, so each hit re-checks the cached Principal against the list
//!   (before issue 7 a change flushed the cache and every request verified in full: compare
//!   with `jwt/ES256/verifier`).
//! - `jwt/<alg>/layer_no_cache` and `jwt/layer/*`: a request through `AuthenticateLayer`
//!   (bearer token in, Principal in the extensions) on a bare `service_fn`, against the
//!   bare handler (`jwt/layer/bare_handler`): per algorithm with the cache off, and with
//!   the cache on (the edge default).
//!
//! Keys are loaded from the IdP's JWKS into a static key set, so nothing touches the
//! network while measuring. Futures complete without waiting (no key is ever unknown)
//! and are polled once with a no-op waker, so no runtime overhead is measured.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;

use benches::ready;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use jsonwebtoken::{Algorithm, Validation};
use principal::{Audience, Clock, Issuer, JwtClaims, SystemClock};
use principal_proto::fixtures;
use tower::{Layer, ServiceExt, service_fn};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::dev_idp::DevIdp;
use tower_auth::jwks::{KeySet, KeySetPolicy};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::revocation::Denylist;
use tower_auth::token_cache::TokenCacheConfig;
use tower_auth::{Credentials, VerifiedPrincipal, Verifier};

/// The audience of the reference principal.
const AUDIENCE: &str = "https://api.example.com";

fn key_set(idp: &DevIdp) -> KeySet {
    KeySet::from_jwks_json(idp.jwks().to_string().as_bytes(), &KeySetPolicy::default())
        .unwrap()
        .set
}

fn verifier(idp: &DevIdp, cache: TokenCacheConfig) -> JwtVerifier {
    JwtVerifier::builder()
        .issuer(
            IssuerConfig::builder(Issuer::new(idp.issuer()).unwrap())
                .audience(Audience::new(AUDIENCE).unwrap())
                .static_keys(key_set(idp))
                .build()
                .unwrap(),
        )
        .token_cache(cache)
        .build()
        .unwrap()
}

fn request(token: &str) -> Request<String> {
    Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(String::new())
        .unwrap()
}

async fn handler(request: Request<String>) -> Result<Response<String>, Infallible> {
    let who = request
        .extensions()
        .get::<VerifiedPrincipal>()
        .map(|verified| verified.kind().as_str())
        .unwrap_or("anonymous");
    Ok(Response::new(who.to_owned()))
}

fn jwt(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let idp = runtime
        .block_on(DevIdp::start("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let mut claims = fixtures::reference_principal(SystemClock.now())
        .unwrap()
        .to_claims();
    claims.iss = Some(idp.issuer().to_owned());
    let claims = serde_json::to_value(&claims).unwrap();

    let uncached = verifier(&idp, TokenCacheConfig::disabled());
    let layered_uncached =
        AuthenticateLayer::new(Arc::new(verifier(&idp, TokenCacheConfig::disabled())))
            .layer(service_fn(handler));
    let keys = key_set(&idp);
    let algorithms = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
    let tokens: Vec<String> = algorithms
        .iter()
        .map(|algorithm| idp.issue(claims.clone(), *algorithm).unwrap())
        .collect();

    let mut group = c.benchmark_group("jwt_vs_jsonwebtoken");
    for (algorithm, token) in algorithms.into_iter().zip(&tokens) {
        let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
        // The very key the verifier holds, as jsonwebtoken takes it.
        let key = keys.get(&kid).unwrap().decoding_key().clone();
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[idp.issuer()]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 30;
        // Both must accept, with the same claims, before either is timed.
        let decoded = jsonwebtoken::decode::<JwtClaims>(token, &key, &validation).unwrap();
        let verified = ready(uncached.verify(&Credentials::bearer(token))).unwrap();
        assert_eq!(decoded.claims.sub.as_deref(), Some(verified.subject()));
        if algorithm == Algorithm::ES256 {
            println!("token: {} bytes (ES256)", token.len());
        }
        let name = format!("{algorithm:?}");
        group.bench_function(format!("{name}/jsonwebtoken_decode"), |b| {
            b.iter(|| {
                jsonwebtoken::decode::<JwtClaims>(black_box(token), &key, &validation).unwrap()
            })
        });
        group.bench_function(format!("{name}/verifier"), |b| {
            b.iter(|| ready(uncached.verify(black_box(&Credentials::bearer(token)))).unwrap())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("jwt");
    for (algorithm, token) in algorithms.into_iter().zip(&tokens) {
        // The full layer, request in and Principal in extensions, cache off.
        let response = ready(layered_uncached.clone().oneshot(request(token))).unwrap();
        assert_eq!(response.body(), "human");
        group.bench_function(format!("{algorithm:?}/layer_no_cache"), |b| {
            b.iter(|| ready(layered_uncached.clone().oneshot(request(black_box(token)))).unwrap())
        });
    }

    let cached = Arc::new(verifier(&idp, TokenCacheConfig::default()));
    let token = idp.issue(claims.clone(), Algorithm::ES256).unwrap();
    ready(cached.verify(&Credentials::bearer(&token))).unwrap();
    assert_eq!(cached.token_cache().len(), 1);
    group.bench_function("cache_hit", |b| {
        b.iter(|| ready(cached.verify(black_box(&Credentials::bearer(&token)))).unwrap())
    });

    let denylist = Arc::new(Denylist::new());
    let rechecked = JwtVerifier::builder()
        .issuer(
            IssuerConfig::builder(Issuer::new(idp.issuer()).unwrap())
                .audience(Audience::new(AUDIENCE).unwrap())
                .static_keys(key_set(&idp))
                .build()
                .unwrap(),
        )
        .revocation(denylist.clone())
        .build()
        .unwrap();
    ready(rechecked.verify(&Credentials::bearer(&token))).unwrap();
    group.bench_function("cache_hit_after_revocation_change", |b| {
        b.iter(|| {
            denylist.update(|entries| entries.add_token_id("another-token", None));
            ready(rechecked.verify(black_box(&Credentials::bearer(&token)))).unwrap()
        })
    });
    assert_eq!(rechecked.token_cache().len(), 1);

    let bare = service_fn(handler);
    let layered_cached = AuthenticateLayer::new(cached.clone()).layer(service_fn(handler));
    let response = ready(layered_cached.clone().oneshot(request(&token))).unwrap();
    assert_eq!(response.body(), "human");
    group.bench_function("layer/bare_handler", |b| {
        b.iter(|| ready(bare.oneshot(request(black_box(&token)))).unwrap())
    });
    group.bench_function("layer/authenticate_cache_hit", |b| {
        b.iter(|| ready(layered_cached.clone().oneshot(request(black_box(&token)))).unwrap())
    });
    group.finish();
    drop(idp);
}

criterion_group!(benches, jwt);
criterion_main!(benches);
