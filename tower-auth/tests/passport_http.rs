//! Passports between real HTTP services on loopback, behind `AuthenticateLayer::internal`:
//! forwarded unchanged inside a trust domain, re-signed per hop with each service's own
//! Ed25519 key; refusals answered 401 `invalid_token`; and at an edge
//! (`AuthenticateLayer::new`) a spoofed `x-principal-bin` never becomes a Principal.
#![allow(clippy::unwrap_used)]

mod passport_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use http::HeaderMap;
use passport_support::*;
use principal::{Audience, Clock as _, TestClock};
use principal_proto::PassportKeyRing;
use serde_json::{Value, json};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::extract::Authenticated;
use tower_auth::passport::{PassportHeaderVerifier, PassportKeys};
use tower_auth::peer::{PeerAllowlist, PeerIdentity};
use tower_auth::{CallerIdentity, Credentials, VerifierChain};

/// What a service does after authenticating: answer, or call the next hop.
#[derive(Clone)]
enum Then {
    Answer,
    /// Forward the passport received, unchanged (trust-domain mode).
    Forward(String),
    /// Re-issue the passport for `audience` and sign it with this service's own ring.
    Resign {
        url: String,
        ring: Arc<PassportKeyRing>,
        audience: Audience,
    },
}

#[derive(Clone)]
struct Hop {
    name: &'static str,
    verifier: Arc<PassportHeaderVerifier>,
    then: Then,
    clock: TestClock,
    calls: Arc<AtomicUsize>,
}

/// The `x-principal-bin` value as received, captured before the authenticate layer
/// removes it (what a propagate layer would keep to forward it unchanged).
#[derive(Clone)]
struct Received(Option<String>);

async fn capture(mut request: Request, next: Next) -> Response {
    let value = request
        .headers()
        .get("x-principal-bin")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    request.extensions_mut().insert(Received(value));
    next.run(request).await
}

fn caller(verified: &Authenticated) -> String {
    match verified.verified().caller().map(|caller| caller.identity()) {
        Some(CallerIdentity::Service(service)) => service.to_string(),
        Some(CallerIdentity::Workload(id)) => id.to_string(),
        _ => "none".to_owned(),
    }
}

async fn whoami(
    State(hop): State<Hop>,
    Extension(Received(received)): Extension<Received>,
    headers: HeaderMap,
    verified: Authenticated,
) -> Json<Value> {
    hop.calls.fetch_add(1, Ordering::SeqCst);
    // The inner service never sees the passport header (the internal role removes it).
    assert!(headers.get("x-principal-bin").is_none());
    let request_id = headers["x-request-id"].to_str().unwrap().to_owned();
    let downstream = match &hop.then {
        Then::Answer => Value::Null,
        Then::Forward(url) => call(url, received.as_deref(), Some(&request_id)).await.1,
        Then::Resign {
            url,
            ring,
            audience,
        } => {
            let received = received.unwrap();
            let credentials = Credentials::none()
                .with_passport(&received)
                .with_request_id(&request_id);
            let passport = hop.verifier.verify_passport(&credentials).unwrap();
            let next = passport
                .reissue_for(audience.clone(), hop.clock.now(), 30)
                .unwrap();
            let header = ring.sign_header(&next).unwrap();
            call(url, Some(&header), Some(&request_id)).await.1
        }
    };
    Json(json!({
        "service": hop.name,
        "principal": verified.id().to_string(),
        "caller": caller(&verified),
        "downstream": downstream,
    }))
}

/// A service on 127.0.0.1:0 behind `layer`; its `/whoami` URL.
async fn serve(hop: Hop, layer: AuthenticateLayer) -> String {
    serve_behind_acceptor(hop, layer, None).await
}

/// As [`serve`], with `peer` in every request's extensions: what a TLS acceptor does
/// once it has validated a client certificate (these tests run plain TCP).
async fn serve_behind_acceptor(
    hop: Hop,
    layer: AuthenticateLayer,
    peer: Option<PeerIdentity>,
) -> String {
    let app = Router::new()
        .route("/whoami", get(whoami))
        .layer(layer)
        .layer(middleware::from_fn(capture))
        .layer(middleware::from_fn(
            move |mut request: Request, next: Next| {
                if let Some(peer) = peer.clone() {
                    request.extensions_mut().insert(peer);
                }
                next.run(request)
            },
        ))
        .with_state(hop);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/whoami")
}

async fn internal_hop(
    name: &'static str,
    verifier: PassportHeaderVerifier,
    then: Then,
    clock: &TestClock,
) -> (String, Arc<AtomicUsize>) {
    let verifier = Arc::new(verifier);
    let calls = Arc::new(AtomicUsize::new(0));
    let hop = Hop {
        name,
        verifier: Arc::clone(&verifier),
        then,
        clock: clock.clone(),
        calls: Arc::clone(&calls),
    };
    (
        serve(hop, AuthenticateLayer::internal(verifier)).await,
        calls,
    )
}

/// GET `url` with a passport and a request id: the status, and the JSON body (or the
/// `WWW-Authenticate` challenge as a string when refused).
async fn call(url: &str, passport: Option<&str>, request_id: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(passport) = passport {
        request = request.header("x-principal-bin", passport);
    }
    if let Some(id) = request_id {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if status == 200 {
        (
            status,
            serde_json::from_str(&response.text().await.unwrap()).unwrap(),
        )
    } else {
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|value| value.to_str().unwrap().to_owned());
        (status, json!(challenge))
    }
}

const INVALID_TOKEN: &str = r#"Bearer error="invalid_token""#;

#[tokio::test]
async fn trust_domain_mode_forwards_the_passport_unchanged_across_two_services() {
    let clock = clock();
    let edge = ed25519_ring("edge-1");
    // Every service of the domain: the domain's audience, the edge's public key.
    let domain = || {
        verifier(
            "shop.internal",
            PassportKeys::new(public_key(&edge), service("edge")).unwrap(),
            &clock,
        )
    };
    let (billing, billing_calls) = internal_hop("billing", domain(), Then::Answer, &clock).await;
    let (orders, _) =
        internal_hop("orders", domain(), Then::Forward(billing.clone()), &clock).await;

    let passport = passport_for("shop.internal", REQUEST_ID, NOW);
    let header = edge.sign_header(&passport).unwrap();
    let (status, body) = call(&orders, Some(&header), Some(REQUEST_ID)).await;
    assert_eq!(status, 200, "{body}");
    let human = passport.principal().id().to_string();
    assert_eq!(body["principal"], human);
    assert_eq!(body["caller"], "svc-edge");
    assert_eq!(body["downstream"]["service"], "billing");
    assert_eq!(body["downstream"]["principal"], human);
    // Forwarded unchanged: the last hop still sees the edge as the signer.
    assert_eq!(body["downstream"]["caller"], "svc-edge");
    assert_eq!(billing_calls.load(Ordering::SeqCst), 1);

    // Refused at the first hop: no x-request-id, another one, a passport for another
    // audience, a tampered one, and, once the clock has moved on, an expired one.
    let (status, body) = call(&orders, Some(&header), None).await;
    assert_eq!((status, body), (401, json!(INVALID_TOKEN)));
    let (status, body) = call(&orders, Some(&header), Some("another-request")).await;
    assert_eq!((status, body), (401, json!(INVALID_TOKEN)));
    let for_orders = edge
        .sign_header(&passport_for("orders", REQUEST_ID, NOW))
        .unwrap();
    let (status, body) = call(&orders, Some(&for_orders), Some(REQUEST_ID)).await;
    assert_eq!((status, body), (401, json!(INVALID_TOKEN)));
    let mut tampered = header.clone().into_bytes();
    tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (status, body) = call(&orders, Some(&tampered), Some(REQUEST_ID)).await;
    assert_eq!((status, body), (401, json!(INVALID_TOKEN)));
    clock.set(NOW.add_seconds(LIFETIME + 30));
    let (status, body) = call(&orders, Some(&header), Some(REQUEST_ID)).await;
    assert_eq!((status, body), (401, json!(INVALID_TOKEN)));
    assert_eq!(billing_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn per_hop_mode_re_signs_with_each_services_own_key() {
    let clock = clock();
    let edge = ed25519_ring("edge-1");
    let orders_ring = Arc::new(ed25519_ring("orders-1"));
    // billing knows orders' public key by key id, and only that one.
    let (billing, billing_calls) = internal_hop(
        "billing",
        verifier(
            "billing",
            PassportKeys::new(public_key(&orders_ring), service("orders")).unwrap(),
            &clock,
        ),
        Then::Answer,
        &clock,
    )
    .await;
    let (orders, _) = internal_hop(
        "orders",
        verifier(
            "orders",
            PassportKeys::new(public_key(&edge), service("edge")).unwrap(),
            &clock,
        ),
        Then::Resign {
            url: billing.clone(),
            ring: Arc::clone(&orders_ring),
            audience: audience("billing"),
        },
        &clock,
    )
    .await;

    let passport = passport_for("orders", REQUEST_ID, NOW);
    let header = edge.sign_header(&passport).unwrap();
    let (status, body) = call(&orders, Some(&header), Some(REQUEST_ID)).await;
    assert_eq!(status, 200, "{body}");
    let human = passport.principal().id().to_string();
    assert_eq!(body["caller"], "svc-edge");
    assert_eq!(body["downstream"]["principal"], human);
    // billing knows who called it: orders, by the key that signed.
    assert_eq!(body["downstream"]["caller"], "svc-orders");
    assert_eq!(billing_calls.load(Ordering::SeqCst), 1);

    // The edge's passport for orders, replayed to billing: refused (another audience,
    // a key billing does not know), and a passport orders signed for billing is refused
    // at orders (another audience, orders' own key is not one it accepts).
    let (status, body) = call(&billing, Some(&header), Some(REQUEST_ID)).await;
    assert_eq!((status, body), (401, json!(INVALID_TOKEN)));
    let for_billing = orders_ring
        .sign_header(&passport.reissue_for(audience("billing"), NOW, 30).unwrap())
        .unwrap();
    let (status, _) = call(&billing, Some(&for_billing), Some(REQUEST_ID)).await;
    assert_eq!(status, 200);
    let (status, body) = call(&orders, Some(&for_billing), Some(REQUEST_ID)).await;
    assert_eq!((status, body), (401, json!(INVALID_TOKEN)));
    // Signed with the edge's key for billing's audience: billing does not take it.
    let edge_for_billing = edge
        .sign_header(&passport_for("billing", REQUEST_ID, NOW))
        .unwrap();
    let (status, body) = call(&billing, Some(&edge_for_billing), Some(REQUEST_ID)).await;
    assert_eq!((status, body), (401, json!(INVALID_TOKEN)));
    assert_eq!(billing_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn unsigned_passports_over_http_need_an_allowlisted_peer() {
    let clock = clock();
    let edge = ed25519_ring("edge-1");
    let gateway = "spiffe://shop.internal/gateway";
    let orders = Arc::new(
        verifier(
            "orders",
            PassportKeys::new(public_key(&edge), service("edge")).unwrap(),
            &clock,
        )
        .unsigned_from(PeerAllowlist::new([gateway.parse().unwrap()])),
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let hop = Hop {
        name: "orders",
        verifier: Arc::clone(&orders),
        then: Then::Answer,
        clock: clock.clone(),
        calls: Arc::clone(&calls),
    };
    let peer = |id: &str| Some(PeerIdentity::new(id.parse().unwrap()));
    let layer = || AuthenticateLayer::internal(Arc::clone(&orders) as _);
    let no_peer = serve_behind_acceptor(hop.clone(), layer(), None).await;
    let batch =
        serve_behind_acceptor(hop.clone(), layer(), peer("spiffe://shop.internal/batch")).await;
    let from_gateway = serve_behind_acceptor(hop, layer(), peer(gateway)).await;

    let unsigned = passport_for("orders", REQUEST_ID, NOW)
        .encode_header()
        .unwrap();
    for url in [&no_peer, &batch] {
        let (status, body) = call(url, Some(&unsigned), Some(REQUEST_ID)).await;
        assert_eq!((status, body), (401, json!(INVALID_TOKEN)));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let (status, body) = call(&from_gateway, Some(&unsigned), Some(REQUEST_ID)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["caller"], gateway);
    // The gateway's request must still be this passport's request.
    let (status, body) = call(&from_gateway, Some(&unsigned), Some("another-request")).await;
    assert_eq!((status, body), (401, json!(INVALID_TOKEN)));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn at_an_edge_a_spoofed_passport_never_becomes_a_principal() {
    let clock = clock();
    let edge = ed25519_ring("edge-1");
    // Even an edge whose chain holds a passport verifier that would accept this passport.
    let verifier = Arc::new(verifier(
        "orders",
        PassportKeys::new(public_key(&edge), service("edge")).unwrap(),
        &clock,
    ));
    let calls = Arc::new(AtomicUsize::new(0));
    let hop = Hop {
        name: "edge",
        verifier: Arc::clone(&verifier),
        then: Then::Answer,
        clock: clock.clone(),
        calls: Arc::clone(&calls),
    };
    let layer = AuthenticateLayer::new(Arc::new(VerifierChain::new(verifier)));
    let url = serve(hop, layer).await;

    let header = edge
        .sign_header(&passport_for("orders", REQUEST_ID, NOW))
        .unwrap();
    let (status, body) = call(&url, Some(&header), Some(REQUEST_ID)).await;
    // Stripped before anything read it: no credentials at all.
    assert_eq!((status, body), (401, json!("Bearer")));
    let unsigned = passport_for("orders", REQUEST_ID, NOW)
        .encode_header()
        .unwrap();
    let (status, _) = call(&url, Some(&unsigned), Some(REQUEST_ID)).await;
    assert_eq!(status, 401);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}
