//! The authenticate layer seen from outside: every refusal that needs no Principal, the
//! exact challenges, header stripping and optional mode.
//!
//! A verifier outside tower-auth cannot make a `VerifiedPrincipal`, so the one here only
//! refuses; it counts its calls to show which requests never reach verification.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::{HeaderName, Request, Response, StatusCode};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_auth::authenticate::{
    AuthenticateLayer, ConfigError, DEFAULT_MAX_TOKEN_BYTES, INTERNAL_TOKEN_HEADER,
    MAX_MAX_TOKEN_BYTES, PRINCIPAL_HEADER,
};
use tower_auth::error::{AuthRejection, Challenge, RealmError};
use tower_auth::{AuthError, Credentials, Pattern, VerifiedPrincipal, Verifier, VerifyFuture};

/// Refuses every token with a bad signature; remembers what it was asked.
#[derive(Default)]
struct RefuseAll {
    calls: AtomicUsize,
    last_token: Mutex<Option<String>>,
}

impl Verifier for RefuseAll {
    fn verify(&self, credentials: &Credentials<'_>) -> VerifyFuture {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let Some(token) = credentials.bearer_token() else {
            return VerifyFuture::ready(Err(AuthError::UnsupportedTokenFormat));
        };
        *self.last_token.lock().unwrap() = Some(token.to_owned());
        VerifyFuture::ready(Err(AuthError::BadSignature))
    }

    fn pattern(&self) -> Pattern {
        Pattern::JwtPassthrough
    }
}

/// What the inner service saw, if it ran.
#[derive(Clone, Debug)]
struct Seen {
    headers: http::HeaderMap,
    principal: bool,
}

async fn send(
    layer: AuthenticateLayer,
    request: Request<String>,
) -> (Response<String>, Option<Seen>) {
    let seen = Arc::new(Mutex::new(None));
    let seen_inner = Arc::clone(&seen);
    let service =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(move |request: Request<String>| {
                let seen = Arc::clone(&seen_inner);
                async move {
                    *seen.lock().unwrap() = Some(Seen {
                        headers: request.headers().clone(),
                        principal: request.extensions().get::<VerifiedPrincipal>().is_some(),
                    });
                    Ok::<_, Infallible>(Response::new("from inner".to_owned()))
                }
            }));
    let response = service.oneshot(request).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    (response, seen)
}

fn request(authorization: &[&str]) -> Request<String> {
    let mut builder = Request::builder().uri("/resource");
    for value in authorization {
        builder = builder.header("authorization", *value);
    }
    builder.body(String::new()).unwrap()
}

fn reason(response: &Response<String>) -> &'static str {
    response
        .extensions()
        .get::<AuthRejection>()
        .expect("rejection in extensions")
        .reason()
}

fn www_authenticate(response: &Response<String>) -> &str {
    response.headers()["www-authenticate"].to_str().unwrap()
}

fn layer() -> (AuthenticateLayer, Arc<RefuseAll>) {
    let verifier = Arc::new(RefuseAll::default());
    (AuthenticateLayer::new(verifier.clone()), verifier)
}

#[tokio::test]
async fn no_authorization_header_is_401_with_a_bare_bearer_challenge() {
    let (layer, verifier) = layer();
    let (response, seen) = send(layer, request(&[])).await;
    assert!(seen.is_none());
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(www_authenticate(&response), "Bearer");
    assert_eq!(reason(&response), "missing_token");
    assert!(response.body().is_empty());
    assert_eq!(verifier.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn another_scheme_is_treated_as_no_credentials() {
    for value in ["Basic dXNlcjpwYXNz", "DPoP abc", "Bearerabc", "Token abc"] {
        let (layer, verifier) = layer();
        let (response, seen) = send(layer, request(&[value])).await;
        assert!(seen.is_none(), "{value}");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{value}");
        assert_eq!(www_authenticate(&response), "Bearer", "{value}");
        assert_eq!(reason(&response), "unsupported_scheme", "{value}");
        assert_eq!(verifier.calls.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn malformed_authorization_is_400_invalid_request() {
    for value in [
        "",
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer abc ",
        " Bearer abc",
        "Bearer a=b",
        "Bearer a,b",
        "Bearer \"abc\"",
        "Bea@rer abc",
    ] {
        let (layer, verifier) = layer();
        let (response, seen) = send(layer, request(&[value])).await;
        assert!(seen.is_none(), "{value:?}");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{value:?}");
        assert_eq!(
            www_authenticate(&response),
            r#"Bearer error="invalid_request""#,
            "{value:?}"
        );
        assert_eq!(
            reason(&response),
            "malformed_authorization_header",
            "{value:?}"
        );
        assert!(response.body().is_empty());
        assert_eq!(verifier.calls.load(Ordering::SeqCst), 0, "{value:?}");
    }
}

#[tokio::test]
async fn duplicate_authorization_headers_are_400_even_when_equal() {
    for values in [
        &["Bearer abc", "Bearer abc"][..],
        &["Bearer abc", "Bearer def"][..],
        &["Basic dXNlcg==", "Bearer abc"][..],
        &["Bearer abc", "", "Bearer abc"][..],
    ] {
        let (layer, verifier) = layer();
        let (response, seen) = send(layer, request(values)).await;
        assert!(seen.is_none());
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            www_authenticate(&response),
            r#"Bearer error="invalid_request""#
        );
        assert_eq!(reason(&response), "duplicate_authorization_headers");
        assert_eq!(verifier.calls.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn oversized_tokens_are_refused_before_verification() {
    let (layer, verifier) = layer();
    let token = "a".repeat(DEFAULT_MAX_TOKEN_BYTES + 1);
    let (response, seen) = send(layer, request(&[&format!("Bearer {token}")])).await;
    assert!(seen.is_none());
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&response),
        r#"Bearer error="invalid_token""#
    );
    assert_eq!(reason(&response), "token_too_large");
    assert_eq!(verifier.calls.load(Ordering::SeqCst), 0);

    // A configured smaller limit applies, and a token at the limit is verified.
    let verifier = Arc::new(RefuseAll::default());
    let layer = AuthenticateLayer::new(verifier.clone())
        .max_token_bytes(16)
        .unwrap();
    let (response, _) = send(
        layer.clone(),
        request(&[&format!("Bearer {}", "b".repeat(17))]),
    )
    .await;
    assert_eq!(reason(&response), "token_too_large");
    let (response, _) = send(layer, request(&[&format!("Bearer {}", "b".repeat(16))])).await;
    assert_eq!(reason(&response), "bad_signature");
    assert_eq!(verifier.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_verifier_gets_the_bare_token_and_its_refusal_is_invalid_token() {
    let (layer, verifier) = layer();
    let (response, seen) = send(layer, request(&["bearer   eyJ0.eyJ1.c2ln"])).await;
    assert!(seen.is_none());
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&response),
        r#"Bearer error="invalid_token""#
    );
    assert_eq!(reason(&response), "bad_signature");
    assert!(response.body().is_empty());
    assert_eq!(
        verifier.last_token.lock().unwrap().as_deref(),
        Some("eyJ0.eyJ1.c2ln")
    );
}

#[tokio::test]
async fn spoofed_principal_and_internal_token_headers_never_reach_the_inner_service() {
    let verifier = Arc::new(RefuseAll::default());
    let layer = AuthenticateLayer::new(verifier).optional();
    let request = Request::builder()
        .header(PRINCIPAL_HEADER, "Zm9yZ2VkIHBhc3Nwb3J0")
        .header(PRINCIPAL_HEADER, "c2Vjb25k")
        .header("X-Principal-Bin", "dGhpcmQ")
        .header(INTERNAL_TOKEN_HEADER, "eyJ0.eyJ1.c2ln")
        .header("x-request-id", "r-1")
        .body(String::new())
        .unwrap();
    let (response, seen) = send(layer, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen = seen.expect("anonymous request passed");
    assert!(!seen.principal);
    assert!(seen.headers.get(PRINCIPAL_HEADER).is_none());
    assert!(seen.headers.get(INTERNAL_TOKEN_HEADER).is_none());
    assert_eq!(seen.headers["x-request-id"], "r-1");
}

#[tokio::test]
async fn extra_strip_headers_add_to_the_defaults() {
    let verifier = Arc::new(RefuseAll::default());
    let layer = AuthenticateLayer::new(verifier)
        .optional()
        .strip_headers([HeaderName::from_static("x-user-id")]);
    assert_eq!(
        layer.stripped_headers(),
        &[
            PRINCIPAL_HEADER,
            INTERNAL_TOKEN_HEADER,
            HeaderName::from_static("x-user-id")
        ]
    );
    let request = Request::builder()
        .header("x-user-id", "admin")
        .header(PRINCIPAL_HEADER, "Zm9yZ2Vk")
        .body(String::new())
        .unwrap();
    let (_, seen) = send(layer, request).await;
    let seen = seen.unwrap();
    assert!(seen.headers.get("x-user-id").is_none());
    assert!(seen.headers.get(PRINCIPAL_HEADER).is_none());
}

#[tokio::test]
async fn insecure_keep_header_is_the_only_way_to_let_one_through() {
    let verifier = Arc::new(RefuseAll::default());
    let layer = AuthenticateLayer::new(verifier)
        .optional()
        .insecure_keep_header(&PRINCIPAL_HEADER);
    assert_eq!(layer.stripped_headers(), &[INTERNAL_TOKEN_HEADER]);
    // The internal-token header is still stripped: with nothing else left, the request is
    // anonymous and its handler never sees it.
    let request = Request::builder()
        .header(INTERNAL_TOKEN_HEADER, "eyJ0.eyJ1.c2ln")
        .body(String::new())
        .unwrap();
    let (response, seen) = send(layer, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen = seen.unwrap();
    assert!(seen.headers.get(INTERNAL_TOKEN_HEADER).is_none());
    assert!(!seen.principal);
}

#[tokio::test]
async fn a_kept_credential_header_goes_to_the_verifiers_and_is_never_anonymous() {
    // Kept, the passport header is a credential: the verifiers see it, and one that no
    // verifier accepts is refused even on an optional route (never a downgrade to
    // anonymous).
    let verifier = Arc::new(RefuseAll::default());
    let layer = AuthenticateLayer::new(verifier.clone())
        .optional()
        .insecure_keep_header(&PRINCIPAL_HEADER);
    let request = Request::builder()
        .header(PRINCIPAL_HEADER, "cGFzc3BvcnQ")
        .body(String::new())
        .unwrap();
    let (response, seen) = send(layer, request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(seen.is_none());
    assert_eq!(verifier.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn optional_mode_passes_only_requests_without_bearer_credentials() {
    let verifier = Arc::new(RefuseAll::default());
    let layer = AuthenticateLayer::new(verifier.clone()).optional();

    for anonymous in [&[][..], &["Basic dXNlcjpwYXNz"][..]] {
        let (response, seen) = send(layer.clone(), request(anonymous)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body(), "from inner");
        assert!(!seen.unwrap().principal);
    }
    assert_eq!(verifier.calls.load(Ordering::SeqCst), 0);

    // A presented token is verified, and its refusal stands.
    let (response, seen) = send(layer.clone(), request(&["Bearer abc"])).await;
    assert!(seen.is_none());
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason(&response), "bad_signature");
    assert_eq!(verifier.calls.load(Ordering::SeqCst), 1);

    // Malformed and duplicated headers are refused too: they are not "no credentials".
    let (response, seen) = send(layer.clone(), request(&["Bearer a b"])).await;
    assert!(seen.is_none());
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (response, seen) = send(layer, request(&["Bearer a", "Bearer a"])).await;
    assert!(seen.is_none());
    assert_eq!(reason(&response), "duplicate_authorization_headers");
}

#[tokio::test]
async fn a_realm_appears_in_every_challenge() {
    let verifier = Arc::new(RefuseAll::default());
    let layer = AuthenticateLayer::new(verifier).realm("baton").unwrap();
    let (response, _) = send(layer.clone(), request(&[])).await;
    assert_eq!(www_authenticate(&response), r#"Bearer realm="baton""#);
    let (response, _) = send(layer.clone(), request(&["Bearer a b"])).await;
    assert_eq!(
        www_authenticate(&response),
        r#"Bearer realm="baton", error="invalid_request""#
    );
    let (response, _) = send(layer, request(&["Bearer abc"])).await;
    assert_eq!(
        www_authenticate(&response),
        r#"Bearer realm="baton", error="invalid_token""#
    );
    assert_eq!(
        response
            .extensions()
            .get::<AuthRejection>()
            .unwrap()
            .challenge(),
        Challenge::InvalidToken
    );
}

#[test]
fn bad_settings_are_refused_when_configured() {
    let verifier: Arc<dyn Verifier> = Arc::new(RefuseAll::default());
    let error = AuthenticateLayer::new(verifier.clone())
        .max_token_bytes(0)
        .unwrap_err();
    assert_eq!(
        error,
        ConfigError::MaxTokenBytes {
            requested: 0,
            max: MAX_MAX_TOKEN_BYTES
        }
    );
    assert_eq!(error.reason(), "max_token_bytes_out_of_range");
    assert!(matches!(
        AuthenticateLayer::new(verifier.clone()).max_token_bytes(MAX_MAX_TOKEN_BYTES + 1),
        Err(ConfigError::MaxTokenBytes { .. })
    ));
    assert!(
        AuthenticateLayer::new(verifier.clone())
            .max_token_bytes(MAX_MAX_TOKEN_BYTES)
            .is_ok()
    );
    assert_eq!(
        AuthenticateLayer::new(verifier.clone())
            .realm("a\"b")
            .unwrap_err(),
        ConfigError::Realm(RealmError::InvalidChar { position: 1 })
    );
    assert_eq!(
        AuthenticateLayer::new(verifier).realm("").unwrap_err(),
        ConfigError::Realm(RealmError::Empty)
    );
}

#[test]
fn debug_output_names_the_configuration() {
    let verifier: Arc<dyn Verifier> = Arc::new(RefuseAll::default());
    let debug = format!("{:?}", AuthenticateLayer::new(verifier).optional());
    assert!(debug.contains("optional: true"), "{debug}");
    assert!(debug.contains("x-principal-bin"), "{debug}");
}
