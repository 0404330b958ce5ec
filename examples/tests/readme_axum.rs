//! The README's axum snippet, verbatim in `app`, served on loopback against the DevIdp:
//! the snippet compiles, authenticates, and strips spoofed headers on every route.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::{Router, routing::get};
use jsonwebtoken::Algorithm;
use principal::{Audience, Clock, Issuer, SystemClock};
use serde_json::json;
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::dev_idp::DevIdp;
use tower_auth::extract::Authenticated;
use tower_auth::jwks::{RefresherHandle, StartupPolicy};
use tower_auth::jwt::{IssuerConfig, JwtVerifier};

// ---- README snippet (keep in sync with README.md, "In your own axum service") ----
/// The router of an edge: `GET /whoami` needs a valid token; `public` holds the routes
/// that need none. Keep the returned handles while serving: each refreshes an issuer's keys.
async fn app(
    issuer: &str,
    public: Router,
) -> Result<(Router, Vec<RefresherHandle>), Box<dyn std::error::Error>> {
    let verifier = JwtVerifier::builder()
        .issuer(
            IssuerConfig::builder(Issuer::new(issuer)?)
                .audience(Audience::new("api")?)
                .oidc_discovery()
                .build()?,
        )
        .build()?;
    verifier.warm(StartupPolicy::FailIfUnavailable).await?; // fetch the keys once now
    let refreshers = verifier.spawn_refreshers()?;

    let authenticate = AuthenticateLayer::new(Arc::new(verifier));
    // The headers `authenticate` strips (x-principal-bin, x-baton-internal-token), as a
    // layer for the whole router: `authenticate` runs only on the routes it is attached to.
    let strip = authenticate.strip_layer();
    let router = Router::new()
        .route("/whoami", get(whoami))
        .route_layer(authenticate) // the routes above only: unknown paths stay 404, not 401
        .merge(public)
        .layer(strip); // every request: `public` and the fallback included
    Ok((router, refreshers))
}

async fn whoami(who: Authenticated) -> String {
    who.verified().id().to_string()
}
// ---- end of README snippet ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_snippet_authenticates_and_strips_everywhere() {
    let idp = DevIdp::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    // Public routes that report the spoofable headers they received.
    async fn seen(headers: HeaderMap) -> String {
        let spoofed = ["x-principal-bin", "x-baton-internal-token"]
            .iter()
            .filter(|name| headers.contains_key(**name))
            .count();
        format!("spoofed headers seen: {spoofed}")
    }
    let public = Router::new().route("/health", get(seen)).fallback(seen);
    let (router, _refreshers) = app(idp.issuer(), public).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let now = SystemClock.now().as_unix_seconds();
    let token = idp
        .issue(
            json!({"iss": idp.issuer(), "sub": "alice", "aud": "api", "iat": now, "exp": now + 300}),
            Algorithm::ES256,
        )
        .unwrap();
    let response = client
        .get(format!("http://{addr}/whoami"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().starts_with("hm-"));

    for path in ["/health", "/nope"] {
        let spoofed = client
            .get(format!("http://{addr}{path}"))
            .header("x-principal-bin", "Zm9yZ2Vk")
            .header("x-baton-internal-token", "eyJ0.eyJ1.c2ln")
            .send()
            .await
            .unwrap();
        assert_eq!(spoofed.status(), 200, "{path}");
        assert_eq!(
            spoofed.text().await.unwrap(),
            "spoofed headers seen: 0",
            "{path}"
        );
    }

    let anonymous = client
        .get(format!("http://{addr}/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[test]
fn the_readme_shows_this_snippet_unchanged() {
    let source = include_str!("readme_axum.rs");
    let readme = include_str!("../../README.md");
    let start = source.find("/// The router of an edge").unwrap();
    let end = source.find("// ---- end of README snippet").unwrap();
    let snippet = source[start..end].trim_end();
    assert!(
        readme.contains(snippet),
        "README.md's axum snippet differs from examples/tests/readme_axum.rs"
    );
}
