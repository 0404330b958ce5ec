//! The propagate layer never sends a passport longer than its route's header limit (4 KiB
//! by default, under the 8 KiB of metadata a gRPC peer accepts): over real loopback HTTP,
//! a Principal too large for it is refused where the passport is made, for every passport
//! route (Ed25519, HMAC, forwarded-or-signed at the edge, unsigned), with a typed error
//! that gives the size and the limit, and nothing reaches the server; one at exactly the
//! limit goes through and the server's passport verifier accepts it.
#![allow(clippy::unwrap_used)]

#[path = "support/chain.rs"]
mod chain;

use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use chain::{PATH, http_client};
use http::HeaderMap;
use http_body_util::Empty;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{Audience, Issuer, TestClock, Timestamp};
use principal_proto::header::{DEFAULT_MAX_HEADER_LEN, HeaderLimit, MAX_HEADER_LEN};
use principal_proto::{
    DecodeOptions, KeyId, Passport, PassportError, PassportKeyRing, PassportSigningKey, RequestId,
};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt};
use tower_auth::context::RequestContext;
use tower_auth::jwks::SymmetricKey;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::propagate::{BoxError, PropagateError, PropagateLayer, Route, SharedKeyRing};
use tower_auth::trace::{RequestId as TraceRequestId, TraceContext};

const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://issuer.example";
const SECRET: [u8; 32] = [0x5a; 32];
const REQUEST_ID: &str = "0d9c7e3a-5b1f-4c2e-9a8d-7f6e5d4c3b2a";
const DESTINATION: &str = "orders";

fn clock() -> Arc<TestClock> {
    Arc::new(TestClock::new(Timestamp::from_unix_seconds(NOW)))
}

fn audience() -> Audience {
    Audience::new(DESTINATION).unwrap()
}

/// The context of a request whose caller presented a token with `scopes` scopes: the
/// Principal that is current while the service calls on.
async fn context_with_scopes(scopes: usize) -> RequestContext {
    let config = IssuerConfig::builder(Issuer::new(ISSUER).unwrap())
        .audience(Audience::new("edge-api").unwrap())
        .hmac_secrets([SymmetricKey::new(Some("k1"), Algorithm::HS256, SECRET.to_vec()).unwrap()])
        .build()
        .unwrap();
    let verifier = JwtVerifier::builder()
        .issuer(config)
        .clock(clock())
        .build()
        .unwrap();
    let scope = (0..scopes)
        .map(|i| format!("documents:folder-{i:04}:read"))
        .collect::<Vec<_>>()
        .join(" ");
    let claims = json!({
        "iss": ISSUER, "sub": "alice", "aud": "edge-api", "exp": NOW + 3600, "iat": NOW,
        "scope": scope,
    });
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&SECRET)).unwrap();
    let verified = verifier.verify_token(&token).await.unwrap();
    RequestContext::new(
        Some(verified),
        TraceRequestId::parse(REQUEST_ID).unwrap(),
        TraceContext::from_headers(&HeaderMap::new()).unwrap(),
    )
}

fn ring(ed25519: bool) -> SharedKeyRing {
    let id = KeyId::new("edge-1").unwrap();
    let key = if ed25519 {
        PassportSigningKey::ed25519_generate(id).unwrap()
    } else {
        PassportSigningKey::hmac_sha256(id, &[7; 32]).unwrap()
    };
    Arc::new(ArcSwap::from_pointee(PassportKeyRing::new(key)))
}

/// Every kind of passport route to the destination, with its signing ring (if any).
fn routes() -> Vec<(&'static str, Route, Option<SharedKeyRing>)> {
    let (ed, hmac, forward) = (ring(true), ring(false), ring(true));
    vec![
        (
            "ed25519",
            Route::signed_passport(Arc::clone(&ed), audience()),
            Some(ed),
        ),
        (
            "hmac",
            Route::signed_passport(Arc::clone(&hmac), audience()),
            Some(hmac),
        ),
        (
            "forward (signed at the edge)",
            Route::forward_passport(Arc::clone(&forward), audience()),
            Some(forward),
        ),
        ("unsigned", Route::unsigned_passport(audience()), None),
    ]
}

/// One GET to the recording server through the propagate layer, inside `ctx`.
async fn call(
    layer: PropagateLayer,
    ctx: &RequestContext,
    url: &str,
) -> Result<http::StatusCode, BoxError> {
    let client = ServiceBuilder::new()
        .layer(layer.clock(clock()))
        .service(http_client());
    let request = http::Request::get(url).body(Empty::<Bytes>::new()).unwrap();
    let response = ctx.clone().scope(client.oneshot(request)).await?;
    Ok(response.status())
}

fn assert_refused_for_size(error: BoxError, max: usize, what: &str) {
    let error = error
        .downcast::<PropagateError>()
        .unwrap_or_else(|other| panic!("{what}: not a refusal: {other}"));
    assert_eq!(error.reason(), "passport", "{what}");
    let PropagateError::Passport {
        destination,
        source: PassportError::PrincipalTooLarge { len, max: limit },
    } = &*error
    else {
        panic!("{what}: {error:?}");
    };
    assert!(destination.starts_with("127.0.0.1:"), "{destination}");
    assert_eq!(*limit, max, "{what}");
    assert!(*len > max, "{what}: {len}");
    // The error says so, with both numbers.
    let text = std::error::Error::source(&*error).unwrap().to_string();
    assert!(text.contains("too large"), "{text}");
    assert!(text.contains(&format!("{len} bytes")), "{text}");
    assert!(text.contains(&format!("limit of {max}")), "{text}");
}

/// The passport header a route makes for `ctx`, measured without a limit (the widest).
fn header_len(ctx: &RequestContext, ring: Option<&SharedKeyRing>) -> usize {
    let now = Timestamp::from_unix_seconds(NOW);
    let passport = Passport::new(
        ctx.principal().unwrap().principal().clone(),
        RequestId::new(REQUEST_ID).unwrap(),
        audience(),
        now,
        now.add_seconds(60),
    )
    .unwrap();
    let widest = HeaderLimit::new(MAX_HEADER_LEN).unwrap();
    match ring {
        Some(ring) => ring.load().sign_header_within(&passport, widest),
        None => passport.encode_header_within(widest),
    }
    .unwrap()
    .len()
}

#[tokio::test]
async fn a_principal_too_large_for_the_default_limit_is_refused_and_nothing_is_sent() {
    let (url, wire) = chain::outsider().await;
    let destination = url
        .trim_start_matches("http://")
        .trim_end_matches(PATH)
        .to_owned();
    // 160 scopes: a passport header of about 6 KiB, over the default 4 KiB.
    let large = context_with_scopes(160).await;
    let small = context_with_scopes(5).await;
    for (what, route, _) in routes() {
        let layer = PropagateLayer::new().route(&destination, route).unwrap();
        let error = call(layer.clone(), &large, &url).await.unwrap_err();
        assert_refused_for_size(error, DEFAULT_MAX_HEADER_LEN, what);
        assert!(wire.take().is_empty(), "{what}: nothing reaches the server");

        // A Principal of ordinary size goes through the same layer.
        assert!(call(layer, &small, &url).await.unwrap().is_success());
        let arrived = wire.take_one();
        let value = arrived["x-principal-bin"].to_str().unwrap();
        assert!(value.len() < 1024, "{what}: {}", value.len());
    }
}

#[tokio::test]
async fn a_passport_at_exactly_the_configured_limit_is_sent_and_accepted_one_byte_over_is_not() {
    let (url, wire) = chain::outsider().await;
    let destination = url
        .trim_start_matches("http://")
        .trim_end_matches(PATH)
        .to_owned();
    let ctx = context_with_scopes(100).await;
    for (what, route, ring) in routes() {
        let len = header_len(&ctx, ring.as_ref());
        assert!(len > DEFAULT_MAX_HEADER_LEN - 1024, "{what}: {len}");

        // One byte under what it needs: refused, nothing sent.
        let tight = route
            .clone()
            .passport_header_limit(HeaderLimit::new(len - 1).unwrap());
        let layer = PropagateLayer::new().route(&destination, tight).unwrap();
        let error = call(layer, &ctx, &url).await.unwrap_err();
        assert_refused_for_size(error, len - 1, what);
        assert!(wire.take().is_empty(), "{what}: nothing reaches the server");

        // Exactly what it needs: sent, and a receiver with default options accepts it.
        let exact = route.passport_header_limit(HeaderLimit::new(len).unwrap());
        let layer = PropagateLayer::new().route(&destination, exact).unwrap();
        assert!(call(layer, &ctx, &url).await.unwrap().is_success());
        let arrived = wire.take_one();
        let value = arrived["x-principal-bin"].to_str().unwrap();
        assert_eq!(value.len(), len, "{what}");
        let options = DecodeOptions::new(audience());
        let now = Timestamp::from_unix_seconds(NOW);
        let received = match &ring {
            Some(ring) => ring.load().verifier().verify_header(value, &options, now),
            None => Passport::decode_unsigned_header(
                value,
                &options,
                now,
                principal_proto::TrustedPeer::allowlisted("spiffe://shop.internal/edge").unwrap(),
            ),
        }
        .unwrap();
        assert_eq!(
            received.principal(),
            ctx.principal().unwrap().principal(),
            "{what}"
        );
    }
}
