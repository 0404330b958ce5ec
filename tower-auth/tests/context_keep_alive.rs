//! The current request context behind the authenticate layer, over a real axum server on
//! loopback and one HTTP/1.1 keep-alive connection: each request's handler sees its own
//! Principal through `context::current()`, an anonymous request served right after an
//! authenticated one on the same connection sees none, and a task spawned with the
//! helper sees the Principal of the request that spawned it.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Extension};
use axum::routing::get;
use axum::{Json, Router};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{Audience, Issuer, TestClock, Timestamp};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::context::{self, RequestContext};
use tower_auth::jwks::SymmetricKey;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};

const SECRET: [u8; 32] = [9; 32];
const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://idp.example";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn verifier() -> JwtVerifier {
    JwtVerifier::builder()
        .issuer(
            IssuerConfig::builder(Issuer::new(ISSUER).unwrap())
                .audience(Audience::new("api").unwrap())
                .hmac_secrets([
                    SymmetricKey::new(Some("hs-1"), Algorithm::HS256, SECRET.to_vec()).unwrap(),
                ])
                .build()
                .unwrap(),
        )
        .clock(Arc::new(TestClock::new(Timestamp::from_unix_seconds(NOW))))
        .build()
        .unwrap()
}

fn token(subject: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hs-1".into());
    let claims = json!({
        "iss": ISSUER, "sub": subject, "aud": "api",
        "exp": NOW + 300, "jti": format!("jti-{subject}"), "scope": "orders:read"
    });
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&SECRET)).unwrap()
}

/// What the handler saw, through the task-local and nothing else (plus the extension, to
/// check both agree, and the peer, to check every request came on one connection).
async fn whoami(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(extension): Extension<RequestContext>,
) -> Json<Value> {
    let current = context::current().expect("a context inside the layer's scope");
    let subject = context::current_principal().map(|principal| principal.subject().to_owned());
    // Code the handler calls, without passing anything down.
    let request_id = context::with_current(|ctx| ctx.request_id().to_string());
    // A task spawned with the helper sees the request's Principal; a plain one does not.
    let carried = context::spawn(async {
        tokio::task::yield_now().await;
        context::current_principal().map(|principal| principal.subject().to_owned())
    })
    .await
    .unwrap();
    let plain = tokio::spawn(async { context::current().is_some() })
        .await
        .unwrap();
    Json(json!({
        "peer": peer.to_string(),
        "subject": subject,
        "request_id": request_id,
        "traceparent": current.trace().traceparent().to_string(),
        "extension_request_id": extension.request_id().to_string(),
        "extension_subject": extension.principal().map(|principal| principal.subject().to_owned()),
        "spawned_with_helper": carried,
        "plain_spawn_has_context": plain,
    }))
}

async fn serve() -> SocketAddr {
    let app = Router::new()
        .route("/whoami", get(whoami))
        .route_layer(AuthenticateLayer::new(Arc::new(verifier())).optional());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// One HTTP/1.1 connection; requests go over it one after another.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        Connection { sender }
    }

    async fn get(&mut self, headers: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut request = Request::get("/whoami").header("host", "localhost");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.sender.ready().await.unwrap();
        let response = self
            .sender
            .send_request(request.body(Empty::new()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json = if status == StatusCode::OK {
            serde_json::from_slice(&body).unwrap()
        } else {
            Value::Null
        };
        (status, json)
    }
}

#[tokio::test]
async fn each_request_on_a_keep_alive_connection_sees_only_its_own_principal() {
    let addr = serve().await;
    let mut connection = Connection::open(addr).await;
    let alice = format!("Bearer {}", token("alice"));
    let bob = format!("Bearer {}", token("bob"));

    // Authenticated: its Principal, its request id, its trace, in the handler and in a
    // task spawned with the helper.
    let (status, first) = connection
        .get(&[
            ("authorization", &alice),
            ("x-request-id", "req-alice"),
            ("traceparent", TRACEPARENT),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["subject"], "alice");
    assert_eq!(first["extension_subject"], "alice");
    assert_eq!(first["request_id"], "req-alice");
    assert_eq!(first["extension_request_id"], "req-alice");
    assert_eq!(first["traceparent"], TRACEPARENT);
    assert_eq!(first["spawned_with_helper"], "alice");
    assert_eq!(first["plain_spawn_has_context"], false);

    // Anonymous, right after, on the same connection: a context, but no Principal; a
    // fresh request id and trace, not the previous request's.
    let (status, anonymous) = connection.get(&[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(anonymous["peer"], first["peer"], "one connection");
    assert_eq!(anonymous["subject"], Value::Null);
    assert_eq!(anonymous["extension_subject"], Value::Null);
    assert_eq!(anonymous["spawned_with_helper"], Value::Null);
    let request_id = anonymous["request_id"].as_str().unwrap();
    assert_eq!(request_id.len(), 36, "a generated request id: {request_id}");
    assert_eq!(anonymous["extension_request_id"], request_id);
    let traceparent = anonymous["traceparent"].as_str().unwrap();
    assert_ne!(traceparent, TRACEPARENT);
    assert_ne!(&traceparent[3..35], &TRACEPARENT[3..35], "a new trace id");

    // Another Principal, then a refused token, then anonymous again: never a leftover.
    let (status, second) = connection
        .get(&[("authorization", &bob), ("x-request-id", "req-bob")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["peer"], first["peer"]);
    assert_eq!(second["subject"], "bob");
    assert_eq!(second["spawned_with_helper"], "bob");
    assert_eq!(second["request_id"], "req-bob");

    let (status, _) = connection
        .get(&[("authorization", "Bearer not-a-token")])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // An invalid traceparent and request id sent by the caller are replaced, not kept.
    let (status, last) = connection
        .get(&[
            ("x-request-id", "has space"),
            (
                "traceparent",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            ),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(last["peer"], first["peer"]);
    assert_eq!(last["subject"], Value::Null);
    assert_eq!(last["spawned_with_helper"], Value::Null);
    assert_ne!(last["request_id"], "has space");
    assert_eq!(last["request_id"].as_str().unwrap().len(), 36);
    assert_ne!(
        &last["traceparent"].as_str().unwrap()[3..35],
        "00000000000000000000000000000000"
    );
}
