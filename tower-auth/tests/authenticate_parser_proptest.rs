//! Property tests of the `Authorization` parser and the layer: arbitrary header bytes
//! never panic and never authenticate.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{HeaderValue, Request, Response, StatusCode};
use proptest::prelude::*;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_auth::authenticate::{AuthenticateLayer, parse_authorization};
use tower_auth::{AuthError, Credentials, Pattern, Verifier, VerifyFuture};

fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic_and_only_yield_a_bare_b64token(
        value in proptest::collection::vec(any::<u8>(), 0..200),
        max in 1usize..300,
    ) {
        match parse_authorization(&value, max) {
            Ok(token) => {
                // Only `Bearer` + spaces + one b64token, within the limit, is a token.
                prop_assert!(is_b64token(token));
                prop_assert!(token.len() <= max);
                prop_assert!(value.len() >= 7 && value[..6].eq_ignore_ascii_case(b"bearer"));
                let rest = &value[6..];
                let trimmed = rest.iter().position(|&b| b != b' ').unwrap();
                prop_assert!(trimmed >= 1);
                prop_assert_eq!(&rest[trimmed..], token.as_bytes());
            }
            Err(error) => {
                let header_error = matches!(
                    error,
                    AuthError::MissingToken
                        | AuthError::UnsupportedScheme
                        | AuthError::MalformedAuthorizationHeader { .. }
                        | AuthError::TokenTooLarge { .. }
                );
                prop_assert!(header_error, "unexpected error {:?}", error);
            }
        }
    }

    #[test]
    fn bearer_prefixed_noise_is_never_misread(
        scheme in "(?i:bearer)",
        spaces in " {0,3}",
        noise in "[ -~\t]{0,64}",
    ) {
        let value = format!("{scheme}{spaces}{noise}");
        if let Ok(token) = parse_authorization(value.as_bytes(), 8192) {
            // Exactly: the scheme, at least one space, then the whole rest as the token.
            let after_scheme = format!("{spaces}{noise}");
            let without_spaces = after_scheme.trim_start_matches(' ');
            prop_assert!(without_spaces.len() < after_scheme.len());
            prop_assert_eq!(token, without_spaces);
            prop_assert!(is_b64token(token));
        }
    }

    #[test]
    fn valid_tokens_round_trip(
        scheme in "(?i:bearer)",
        spaces in " {1,3}",
        token in "[A-Za-z0-9._~+/-]{1,64}={0,2}",
    ) {
        let value = format!("{scheme}{spaces}{token}");
        prop_assert_eq!(parse_authorization(value.as_bytes(), 8192).unwrap(), token.as_str());
    }
}

/// Refuses everything, counting calls.
struct RefuseAll(AtomicUsize);

impl Verifier for RefuseAll {
    fn verify(&self, _credentials: &Credentials<'_>) -> VerifyFuture {
        self.0.fetch_add(1, Ordering::SeqCst);
        VerifyFuture::ready(Err(AuthError::BadSignature))
    }
    fn pattern(&self) -> Pattern {
        Pattern::JwtPassthrough
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_authorization_headers_never_reach_a_required_route(
        values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..3),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let verifier = Arc::new(RefuseAll(AtomicUsize::new(0)));
        let service = ServiceBuilder::new()
            .layer(AuthenticateLayer::new(verifier.clone()))
            .service(service_fn(|_request: Request<String>| async {
                Ok::<_, Infallible>(Response::new("inner".to_owned()))
            }));
        let mut request = Request::new(String::new());
        for value in &values {
            // Only bytes a header value can hold.
            if let Ok(value) = HeaderValue::from_bytes(value) {
                request.headers_mut().append("authorization", value);
            }
        }
        let response = runtime.block_on(service.oneshot(request)).unwrap();
        prop_assert_ne!(response.status(), StatusCode::OK);
        prop_assert!(response.body().is_empty());
        prop_assert!(verifier.0.load(Ordering::SeqCst) <= 1);
    }
}
