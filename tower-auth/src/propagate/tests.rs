//! Propagate layer tests that need a verified Principal in the request context.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use http::{HeaderMap, Request, Response};
use principal::{Audience, Issuer, TestClock, Timestamp};
use principal_proto::{DecodeOptions, KeyId, PassportKeyRing, PassportSigningKey};
use tower::{ServiceBuilder, ServiceExt, service_fn};

use super::*;
use crate::context::{BearerToken, RequestContext};
use crate::mint::{InternalIssuer, SigningAlgorithm, SigningKey};
use crate::trace::{RequestId, TraceContext};
use crate::verified::VerifiedPrincipal;
use crate::verified::testing::{HUMAN, verified};

const NOW: i64 = 1_700_000_000;
const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn clock() -> Arc<TestClock> {
    Arc::new(TestClock::new(Timestamp::from_unix_seconds(NOW)))
}

fn ring() -> SharedKeyRing {
    let key = PassportSigningKey::ed25519_generate(KeyId::new("edge-1").unwrap()).unwrap();
    Arc::new(ArcSwap::from_pointee(PassportKeyRing::new(key)))
}

fn context(principal: bool) -> RequestContext {
    context_of(principal.then(|| verified(NOW + 3600)))
}

/// The context of a request verified from a passport made for `audience`, received as
/// `header`.
fn passport_context(audience: Audience, header: &'static str) -> RequestContext {
    context_of(Some(verified(NOW + 3600).with_passport_audience(audience)))
        .with_received_passport(http::HeaderValue::from_static(header))
}

fn context_of(principal: Option<VerifiedPrincipal>) -> RequestContext {
    let trace = TraceContext::from_headers(&{
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", TRACEPARENT.parse().unwrap());
        headers
    })
    .unwrap();
    RequestContext::new(principal, RequestId::parse("req-42").unwrap(), trace)
}

/// Sends `request` through the layer (inside `ctx` when given) to a client that records
/// the headers it would put on the wire.
async fn send(
    layer: PropagateLayer,
    ctx: Option<RequestContext>,
    request: Request<String>,
) -> Result<HeaderMap, BoxError> {
    let seen = Arc::new(Mutex::new(HeaderMap::new()));
    let record = Arc::clone(&seen);
    let client =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(move |request: Request<String>| {
                let record = Arc::clone(&record);
                async move {
                    *record.lock().unwrap() = request.headers().clone();
                    Ok::<_, Infallible>(Response::new(String::new()))
                }
            }));
    let call = client.oneshot(request);
    match ctx {
        Some(ctx) => ctx.scope(call).await?,
        None => call.await?,
    };
    let headers = seen.lock().unwrap().clone();
    Ok(headers)
}

fn to(uri: &str) -> Request<String> {
    Request::builder()
        .uri(uri)
        // Set by the caller's own code: must never go out as is.
        .header("authorization", "Bearer copied-from-elsewhere")
        .header("x-principal-bin", "c3Bvb2ZlZA")
        .header("x-baton-internal-token", "copied")
        .header("x-request-id", "caller-chosen")
        .body(String::new())
        .unwrap()
}

fn domain() -> Audience {
    Audience::new("orders").unwrap()
}

fn decode_options() -> DecodeOptions {
    DecodeOptions::new(domain())
}

#[tokio::test]
async fn a_destination_off_the_list_gets_no_identity_but_the_trace() {
    let layer = PropagateLayer::new()
        .route(
            "orders.internal:8080",
            Route::signed_passport(ring(), domain()),
        )
        .unwrap();
    for uri in [
        "http://evil.example/x",
        "http://orders.internal:8081/x",
        "http://orders.internal/x",
        "https://user@orders.internal:8080/x",
        "/relative/only",
    ] {
        let headers = send(layer.clone(), Some(context(true)), to(uri))
            .await
            .unwrap();
        for name in &IDENTITY_HEADERS {
            assert!(headers.get(name).is_none(), "{uri}: {name}");
        }
        // The request's own id and trace, not the ones the caller's code set.
        assert_eq!(headers["x-request-id"], "req-42", "{uri}");
        assert_eq!(headers["traceparent"], TRACEPARENT, "{uri}");
    }
}

#[tokio::test]
async fn a_signed_passport_names_the_destination_and_the_request() {
    let ring = ring();
    let clock = clock();
    let layer = PropagateLayer::new()
        .route(
            "Orders.Internal:8080",
            Route::signed_passport(Arc::clone(&ring), domain()),
        )
        .unwrap()
        .clock(clock.clone());
    // Host names compare case-insensitively.
    let headers = send(
        layer,
        Some(context(true)),
        to("http://orders.INTERNAL:8080/o"),
    )
    .await
    .unwrap();
    let header = headers["x-principal-bin"].to_str().unwrap();
    assert!(headers["x-principal-bin"].is_sensitive());
    assert!(headers.get("authorization").is_none());
    let now = Timestamp::from_unix_seconds(NOW);
    let passport = ring
        .load()
        .verifier()
        .verify_header(header, &decode_options(), now)
        .unwrap();
    assert_eq!(passport.request_id().as_str(), "req-42");
    assert_eq!(passport.request_id().as_str(), headers["x-request-id"]);
    assert_eq!(passport.principal().id().to_string(), HUMAN);
    assert_eq!(passport.audience(), &domain());
    assert_eq!(
        passport.expires_at(),
        now.add_seconds(i64::from(DEFAULT_PASSPORT_LIFETIME_SECS))
    );
    // Another audience refuses it.
    let billing = DecodeOptions::new(Audience::new("billing").unwrap());
    assert!(
        ring.load()
            .verifier()
            .verify_header(header, &billing, now)
            .is_err()
    );
}

#[tokio::test]
async fn a_passport_never_outlives_its_principal_and_an_expired_one_is_not_sent() {
    let clock = clock();
    let layer = PropagateLayer::new()
        .route(
            "orders.internal:80",
            Route::signed_passport(ring(), domain())
                .passport_lifetime(300)
                .unwrap(),
        )
        .unwrap()
        .clock(clock.clone());
    let short = RequestContext::new(
        Some(verified(NOW + 10)),
        RequestId::parse("req-1").unwrap(),
        TraceContext::generate().unwrap(),
    );
    // Default port of http: the route covers it.
    let headers = send(
        layer.clone(),
        Some(short.clone()),
        to("http://orders.internal/o"),
    )
    .await
    .unwrap();
    assert!(headers.contains_key("x-principal-bin"));

    clock.advance(11);
    let error = send(layer, Some(short), to("http://orders.internal/o"))
        .await
        .unwrap_err();
    let error = error.downcast::<PropagateError>().unwrap();
    assert_eq!(error.reason(), "passport");
}

#[tokio::test]
async fn forward_passes_the_received_passport_unchanged_and_signs_at_the_edge() {
    let ring = ring();
    let layer = PropagateLayer::new()
        .route(
            "orders.internal:8080",
            Route::forward_passport(Arc::clone(&ring), domain()),
        )
        .unwrap()
        .clock(clock());
    // A hop inside the domain: the exact bytes it received.
    let received = passport_context(domain(), "AAAA-exact-bytes");
    let headers = send(
        layer.clone(),
        Some(received),
        to("http://orders.internal:8080/"),
    )
    .await
    .unwrap();
    assert_eq!(headers["x-principal-bin"], "AAAA-exact-bytes");

    // At the edge there is none, and a hop that received a passport made for itself
    // alone (another audience) never hands that one on: one is made for the domain and
    // signed.
    let for_this_hop_alone = passport_context(Audience::new("billing").unwrap(), "BBBB-mine");
    for ctx in [context(true), for_this_hop_alone] {
        let headers = send(layer.clone(), Some(ctx), to("http://orders.internal:8080/"))
            .await
            .unwrap();
        let header = headers["x-principal-bin"].to_str().unwrap();
        let now = Timestamp::from_unix_seconds(NOW);
        assert!(
            ring.load()
                .verifier()
                .verify_header(header, &decode_options(), now)
                .is_ok()
        );
    }
}

#[tokio::test]
async fn a_received_passport_longer_than_the_route_sends_is_not_forwarded() {
    let limit = principal_proto::header::HeaderLimit::new(128).unwrap();
    let layer = PropagateLayer::new()
        .route(
            "orders.internal:8080",
            Route::forward_passport(ring(), domain()).passport_header_limit(limit),
        )
        .unwrap()
        .clock(clock());
    // Accepted on the way in (a receiver may read longer values than a route sends).
    let received = |len: usize| {
        context_of(Some(verified(NOW + 3600).with_passport_audience(domain())))
            .with_received_passport(http::HeaderValue::from_str(&"A".repeat(len)).unwrap())
    };
    let error = send(
        layer.clone(),
        Some(received(129)),
        to("http://orders.internal:8080/"),
    )
    .await
    .unwrap_err()
    .downcast::<PropagateError>()
    .unwrap();
    assert!(matches!(
        *error,
        PropagateError::Passport {
            source: PassportError::PrincipalTooLarge { len: 129, max: 128 },
            ..
        }
    ));
    // At the limit, forwarded unchanged.
    let headers = send(
        layer,
        Some(received(128)),
        to("http://orders.internal:8080/"),
    )
    .await
    .unwrap();
    assert_eq!(headers["x-principal-bin"], "A".repeat(128).as_str());
}

#[tokio::test]
async fn without_a_principal_nothing_is_sent_or_the_call_is_refused() {
    let route = Route::signed_passport(ring(), domain());
    let layer = PropagateLayer::new()
        .route("orders.internal:8080", route.clone())
        .unwrap()
        .route("strict.internal:8080", route.require_principal())
        .unwrap();
    for ctx in [None, Some(context(false))] {
        let headers = send(
            layer.clone(),
            ctx.clone(),
            to("http://orders.internal:8080/"),
        )
        .await
        .unwrap();
        for name in &IDENTITY_HEADERS {
            assert!(headers.get(name).is_none());
        }
        let error = send(layer.clone(), ctx, to("http://strict.internal:8080/"))
            .await
            .unwrap_err()
            .downcast::<PropagateError>()
            .unwrap();
        assert!(matches!(*error, PropagateError::NoPrincipal { .. }));
    }
}

#[tokio::test]
async fn outside_a_request_trace_headers_are_kept_when_valid_and_created_when_not() {
    let layer = PropagateLayer::new();
    let mut request = to("http://any.example/");
    request
        .headers_mut()
        .insert("traceparent", TRACEPARENT.parse().unwrap());
    let headers = send(layer.clone(), None, request).await.unwrap();
    assert_eq!(headers["x-request-id"], "caller-chosen");
    assert_eq!(headers["traceparent"], TRACEPARENT);

    let mut request = to("http://any.example/");
    request
        .headers_mut()
        .insert("x-request-id", "two words".parse().unwrap());
    request
        .headers_mut()
        .insert("traceparent", "00-garbage".parse().unwrap());
    let headers = send(layer, None, request).await.unwrap();
    let id = headers["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a fresh UUID: {id}");
    let traceparent = headers["traceparent"].to_str().unwrap();
    assert!(crate::trace::TraceParent::parse(traceparent).is_ok());
    assert_ne!(traceparent, "00-garbage");
}

#[tokio::test]
async fn passthrough_sends_the_kept_token_and_refuses_without_one() {
    let layer = PropagateLayer::new()
        .route("orders.internal:8080", Route::passthrough())
        .unwrap();
    let with_token = context(true).with_bearer_token(BearerToken::new("original.jwt.sig"));
    let headers = send(
        layer.clone(),
        Some(with_token),
        to("http://orders.internal:8080/"),
    )
    .await
    .unwrap();
    assert_eq!(headers["authorization"], "Bearer original.jwt.sig");
    assert!(headers.get("x-principal-bin").is_none());

    let error = send(
        layer,
        Some(context(true)),
        to("http://orders.internal:8080/"),
    )
    .await
    .unwrap_err()
    .downcast::<PropagateError>()
    .unwrap();
    assert_eq!(error.reason(), "no_bearer_token");
}

#[tokio::test]
async fn a_minted_route_mints_once_per_principal_and_audience() {
    let issuer = InternalIssuer::builder(
        Issuer::new("https://edge.internal").unwrap(),
        SigningKey::generate(SigningAlgorithm::EdDsa).unwrap(),
    )
    .clock(clock())
    .build()
    .unwrap();
    let cache = Arc::new(crate::mint::MintCache::builder(issuer).build().unwrap());
    let layer = PropagateLayer::new()
        .route(
            "orders.internal:8080",
            Route::minted_jwt(Arc::clone(&cache), domain()),
        )
        .unwrap()
        .route(
            "audit.internal:8080",
            Route::minted_jwt(Arc::clone(&cache), Audience::new("audit").unwrap())
                .in_internal_token_header(),
        )
        .unwrap();
    let first = send(
        layer.clone(),
        Some(context(true)),
        to("http://orders.internal:8080/"),
    )
    .await
    .unwrap();
    let second = send(
        layer.clone(),
        Some(context(true)),
        to("http://orders.internal:8080/"),
    )
    .await
    .unwrap();
    let token = first["authorization"].to_str().unwrap();
    assert!(token.starts_with("Bearer ey"));
    assert_eq!(first["authorization"], second["authorization"]);
    assert_eq!(cache.issuer().tokens_minted(), 1);

    // Another audience: another token, in the header the route names.
    let audit = send(
        layer,
        Some(context(true)),
        to("http://audit.internal:8080/"),
    )
    .await
    .unwrap();
    assert!(audit.get("authorization").is_none());
    assert_ne!(audit["x-baton-internal-token"], &token["Bearer ".len()..]);
    assert_eq!(cache.issuer().tokens_minted(), 2);
}

#[test]
fn bad_destinations_and_duplicates_are_refused() {
    for bad in ["", "user@host:80", "http://host/path", "host:99999"] {
        let error = PropagateLayer::new()
            .route(bad, Route::nothing())
            .expect_err(bad);
        assert_eq!(error.reason(), "invalid_destination", "{bad:?}");
    }
    let error = PropagateLayer::new()
        .route("a.internal", Route::nothing())
        .unwrap()
        .route("A.internal:443", Route::nothing())
        .unwrap_err();
    assert_eq!(error.reason(), "duplicate_destination");
    let layer = PropagateLayer::new()
        .route("a.internal", Route::nothing())
        .unwrap();
    assert!(
        layer
            .route_for(&"https://a.internal/x".parse().unwrap())
            .is_some()
    );
    assert!(
        layer
            .route_for(&"http://a.internal:8080/x".parse().unwrap())
            .is_none()
    );
    assert!(
        layer
            .route_for(&"http://a.internal:99999/x".parse().unwrap())
            .is_none()
    );
    assert!(
        layer
            .route_for(&"ftp://a.internal/x".parse().unwrap())
            .is_none()
    );
}

#[test]
fn every_form_of_a_routed_authority_finds_its_route_and_only_it() {
    let layer = PropagateLayer::new()
        .route("orders.internal:8080", Route::passthrough())
        .unwrap()
        .route("Billing.Internal", Route::nothing())
        .unwrap();
    let kind = |uri: &str| layer.route_for(&uri.parse().unwrap()).map(Route::kind);
    // The direct lookup (lower-case host, explicit port) and the normalized ones.
    for uri in [
        "http://orders.internal:8080/x",
        "http://ORDERS.Internal:8080/x",
        "http://orders.internal:08080/x",
    ] {
        assert_eq!(kind(uri), Some("passthrough"), "{uri}");
    }
    for uri in [
        "https://billing.internal/x",
        "http://BILLING.internal/x",
        "http://billing.internal:80/x",
    ] {
        assert_eq!(kind(uri), Some("nothing"), "{uri}");
    }
    // Not the same destination: another port, another host, a suffix, user info.
    for uri in [
        "http://orders.internal:8081/x",
        "http://orders.internal/x",
        "http://orders.internal.evil:8080/x",
        "http://x@orders.internal:8080/x",
        "http://billing.internal:8080/x",
    ] {
        assert_eq!(kind(uri), None, "{uri}");
    }
}

#[tokio::test]
async fn a_bound_layer_routes_every_request_as_its_origin() {
    let ring = ring();
    let billing = Audience::new("billing").unwrap();
    let layer = PropagateLayer::new()
        .route(
            "orders.internal:8080",
            Route::signed_passport(Arc::clone(&ring), domain()),
        )
        .unwrap()
        .route(
            "billing.internal:8080",
            Route::signed_passport(Arc::clone(&ring), billing.clone()),
        )
        .unwrap()
        .clock(clock())
        .bound_to(&"http://orders.internal:8080".parse().unwrap())
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let client =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(move |request: Request<String>| {
                let record = Arc::clone(&record);
                async move {
                    record
                        .lock()
                        .unwrap()
                        .push((request.uri().clone(), request.headers().clone()));
                    Ok::<_, Infallible>(Response::new(String::new()))
                }
            }));
    // A bare gRPC path (a generated client's `new`), and a URI naming another routed
    // destination: both go where the client is bound, and carry that route's identity.
    for uri in [
        "/orders.v1.Orders/Get",
        "http://billing.internal:8080/x?q=1",
    ] {
        context(true)
            .scope(client.clone().oneshot(to(uri)))
            .await
            .unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen[0].0,
        "http://orders.internal:8080/orders.v1.Orders/Get"
    );
    assert_eq!(seen[1].0, "http://orders.internal:8080/x?q=1");
    let now = Timestamp::from_unix_seconds(NOW);
    for (_, headers) in &seen {
        let header = headers["x-principal-bin"].to_str().unwrap();
        let keys = ring.load();
        let verifier = keys.verifier();
        assert!(
            verifier
                .verify_header(header, &decode_options(), now)
                .is_ok()
        );
        // Never the passport of the destination the URI named.
        let billing_options = DecodeOptions::new(billing.clone());
        assert!(
            verifier
                .verify_header(header, &billing_options, now)
                .is_err()
        );
    }

    // Bound off the list: a request naming a routed destination still gets no identity.
    let outsider = PropagateLayer::new()
        .route(
            "orders.internal:8080",
            Route::signed_passport(ring.clone(), domain()),
        )
        .unwrap()
        .bound_to(&"http://outsider.example:8080".parse().unwrap())
        .unwrap();
    let headers = send(
        outsider,
        Some(context(true)),
        to("http://orders.internal:8080/x"),
    )
    .await
    .unwrap();
    for name in &IDENTITY_HEADERS {
        assert!(headers.get(name).is_none(), "{name}");
    }
    assert_eq!(headers["x-request-id"], "req-42");
}

#[test]
fn a_layer_is_bound_only_to_an_origin_with_scheme_and_authority() {
    for origin in [
        "/path/only",
        "orders.internal:8080",
        "http://user@orders.internal:8080",
    ] {
        let uri: Uri = origin.parse().unwrap();
        let error = PropagateLayer::new().bound_to(&uri).unwrap_err();
        assert_eq!(error.reason(), "invalid_destination", "{origin}");
    }
    let bound = PropagateLayer::new()
        .route("orders.internal", Route::nothing())
        .unwrap()
        .bound_to(&"https://Orders.Internal".parse().unwrap())
        .unwrap();
    // The scheme's default port, the host case-insensitive.
    assert_eq!(
        bound.route_for(&"/a".parse().unwrap()).map(Route::kind),
        Some("nothing")
    );
}

#[test]
fn attach_now_does_the_synchronous_part_and_refuses_what_may_wait() {
    let ring = ring();
    let issuer = InternalIssuer::builder(
        Issuer::new("https://edge.internal").unwrap(),
        SigningKey::generate(SigningAlgorithm::EdDsa).unwrap(),
    )
    .clock(clock())
    .build()
    .unwrap();
    let cache = Arc::new(crate::mint::MintCache::builder(issuer).build().unwrap());
    let routes = PropagateLayer::new()
        .route(
            "orders.internal:8080",
            Route::signed_passport(Arc::clone(&ring), domain()).require_principal(),
        )
        .unwrap()
        .route(
            "billing.internal:8080",
            Route::minted_jwt(Arc::clone(&cache), Audience::new("billing").unwrap()),
        )
        .unwrap()
        .clock(clock());
    let copied = || to("/x").headers().clone();
    let path = Uri::from_static("/orders.v1.Orders/Get");

    // A passport route in a request: the passport, the request's trace, no copied header.
    let orders = routes
        .clone()
        .bound_to(&"http://orders.internal:8080".parse().unwrap())
        .unwrap();
    let mut headers = copied();
    context(true)
        .enter(|| orders.attach_now(&path, &mut headers))
        .unwrap();
    assert!(headers.get("authorization").is_none());
    assert!(headers.get("x-baton-internal-token").is_none());
    assert_eq!(headers["x-request-id"], "req-42");
    assert_eq!(headers["traceparent"], TRACEPARENT);
    let passport = ring
        .load()
        .verifier()
        .verify_header(
            headers["x-principal-bin"].to_str().unwrap(),
            &decode_options(),
            Timestamp::from_unix_seconds(NOW),
        )
        .unwrap();
    assert_eq!(passport.principal().id().to_string(), HUMAN);

    // Required and absent: refused, and nothing copied is left to be sent.
    let mut headers = copied();
    let error = context(false)
        .enter(|| orders.attach_now(&path, &mut headers))
        .unwrap_err();
    assert_eq!(error.reason(), "no_principal");
    for name in &IDENTITY_HEADERS {
        assert!(headers.get(name).is_none(), "{name}");
    }

    // A minted route may wait: refused, nothing minted or attached.
    let billing = routes
        .bound_to(&"http://billing.internal:8080".parse().unwrap())
        .unwrap();
    let mut headers = copied();
    let error = context(true)
        .enter(|| billing.attach_now(&path, &mut headers))
        .unwrap_err();
    assert_eq!(error.reason(), "may_wait");
    for name in &IDENTITY_HEADERS {
        assert!(headers.get(name).is_none(), "{name}");
    }
    assert_eq!(cache.issuer().tokens_minted(), 0);
}

#[tokio::test]
async fn a_refused_mint_refuses_the_call_and_sends_nothing() {
    let clock = clock();
    let issuer = InternalIssuer::builder(
        Issuer::new("https://edge.internal").unwrap(),
        SigningKey::generate(SigningAlgorithm::EdDsa).unwrap(),
    )
    .clock(clock.clone())
    .build()
    .unwrap();
    let cache = Arc::new(crate::mint::MintCache::builder(issuer).build().unwrap());
    let layer = PropagateLayer::new()
        .route(
            "orders.internal:8080",
            Route::minted_jwt(Arc::clone(&cache), domain()),
        )
        .unwrap();
    // The Principal of `context` expires an hour after NOW: past it, minting refuses.
    clock.advance(3601);
    let error = send(
        layer,
        Some(context(true)),
        to("http://orders.internal:8080/"),
    )
    .await
    .unwrap_err()
    .downcast::<PropagateError>()
    .unwrap();
    assert_eq!(error.reason(), "mint");
    assert!(matches!(
        *error,
        PropagateError::Mint { ref destination, .. } if destination == "orders.internal:8080"
    ));
    assert_eq!(cache.issuer().tokens_minted(), 0);
}

fn exchanged_route() -> Route {
    let client = crate::exchange::TokenExchangeClient::builder(
        // Never called by these tests: every refusal comes before the exchange.
        "https://sts.invalid/token",
        crate::exchange::ClientAuth::client_secret_basic("edge", "s3cret").unwrap(),
    )
    .build()
    .unwrap();
    Route::exchanged(
        client,
        crate::exchange::ExchangeTarget::audience(Audience::new("orders").unwrap()),
    )
}

#[test]
fn attach_now_refuses_an_exchanged_route_and_attaches_nothing() {
    let route = exchanged_route();
    assert!(route.may_wait());
    assert_eq!(route.kind(), "exchanged");
    let layer = PropagateLayer::new()
        .route("orders.internal:8080", route)
        .unwrap()
        .bound_to(&"http://orders.internal:8080".parse().unwrap())
        .unwrap();
    let mut headers = to("/x").headers().clone();
    let ctx = context(true).with_bearer_token(BearerToken::new("edge-token"));
    let error = ctx
        .enter(|| layer.attach_now(&Uri::from_static("/orders.v1.Orders/Get"), &mut headers))
        .unwrap_err();
    assert_eq!(error.reason(), "may_wait");
    for name in &IDENTITY_HEADERS {
        assert!(headers.get(name).is_none(), "{name}");
    }
}

#[tokio::test]
async fn an_exchanged_route_without_a_kept_bearer_token_refuses_the_call() {
    let layer = PropagateLayer::new()
        .route("orders.internal:8080", exchanged_route())
        .unwrap();
    let error = send(
        layer,
        Some(context(true)),
        to("http://orders.internal:8080/"),
    )
    .await
    .unwrap_err()
    .downcast::<PropagateError>()
    .unwrap();
    assert_eq!(error.reason(), "no_bearer_token");
}
