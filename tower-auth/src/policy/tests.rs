//! The layer's answers and their reasons, with a `VerifiedPrincipal` made in the crate.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use tower::{ServiceBuilder, ServiceExt, service_fn};

use super::{
    Action, DecideFuture, Decision, Denial, Outcome, Policy, PolicyError, PolicyLayer, Resource,
    TargetError, method_and_path,
};
use crate::error::{AuthRejection, Challenge};
use crate::verified::VerifiedPrincipal;
use crate::verified::testing::verified;

/// Answers `outcome` for every request, at once or after waiting.
struct Fixed {
    outcome: Outcome,
    pending: bool,
}

impl Policy for Fixed {
    fn decide(&self, _: &VerifiedPrincipal, _: &Action, _: &Resource) -> DecideFuture {
        if self.pending {
            let outcome = self.outcome.clone();
            DecideFuture::pending(async move { outcome })
        } else {
            DecideFuture::ready(self.outcome.clone())
        }
    }
}

/// The status and the rejection reason of a GET of `path` behind a layer asking `policy`.
async fn answer(
    policy: Arc<dyn Policy>,
    path: &str,
    with_principal: bool,
) -> (StatusCode, Option<&'static str>) {
    let service = ServiceBuilder::new()
        .layer(PolicyLayer::new(policy, method_and_path("Http::Path")))
        .service(service_fn(|_: Request<String>| async {
            Ok::<_, std::convert::Infallible>(Response::new(String::from("served")))
        }));
    let mut request = Request::get(path).body(String::new()).unwrap();
    if with_principal {
        request.extensions_mut().insert(verified(i64::MAX));
    }
    let response = service.oneshot(request).await.unwrap();
    let rejection = response.extensions().get::<AuthRejection>().copied();
    if let Some(rejection) = rejection {
        let expected = if response.status() == StatusCode::UNAUTHORIZED {
            Challenge::NoCredentials
        } else {
            Challenge::InsufficientScope
        };
        assert_eq!(rejection.challenge(), expected);
        assert!(response.body().is_empty());
    } else {
        assert_eq!(response.body(), "served");
    }
    (response.status(), rejection.map(|r| r.reason()))
}

#[tokio::test]
async fn every_outcome_has_its_answer_and_reason() {
    let cases: [(Outcome, StatusCode, Option<&str>); 5] = [
        (Ok(Decision::Allow), StatusCode::OK, None),
        (
            Ok(Decision::Deny(Denial::NotPermitted)),
            StatusCode::FORBIDDEN,
            Some("policy_not_permitted"),
        ),
        (
            Ok(Decision::Deny(Denial::Forbidden {
                policies: vec!["no".into()],
            })),
            StatusCode::FORBIDDEN,
            Some("policy_forbidden"),
        ),
        (
            Err(PolicyError::Unavailable {
                detail: "down".into(),
            }),
            StatusCode::FORBIDDEN,
            Some("policy_error"),
        ),
        (
            Err(PolicyError::Evaluation {
                policies: vec!["p".into()],
                detail: "overflow".into(),
            }),
            StatusCode::FORBIDDEN,
            Some("policy_error"),
        ),
    ];
    for (outcome, status, reason) in cases {
        for pending in [false, true] {
            let policy = Arc::new(Fixed {
                outcome: outcome.clone(),
                pending,
            });
            assert_eq!(
                answer(policy, "/documents/d-1", true).await,
                (status, reason),
                "{outcome:?}, pending: {pending}"
            );
        }
    }
}

#[tokio::test]
async fn no_principal_and_no_target_are_refused_before_the_policy() {
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let policy: Arc<dyn Policy> =
        Arc::new(move |_: &VerifiedPrincipal, _: &Action, _: &Resource| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(Decision::Allow)
        });
    assert_eq!(
        answer(Arc::clone(&policy), "/documents/d-1", false).await,
        (StatusCode::UNAUTHORIZED, Some("missing_token"))
    );
    let long = format!("/{}", "x".repeat(super::MAX_RESOURCE_ID_LEN));
    assert_eq!(
        answer(Arc::clone(&policy), &long, true).await,
        (StatusCode::FORBIDDEN, Some("policy_no_target"))
    );
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(
        answer(policy, "/documents/d-1", true).await,
        (StatusCode::OK, None)
    );
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn targets_are_bounded() {
    assert!(Action::new("a".repeat(super::MAX_ACTION_LEN)).is_ok());
    assert!(matches!(
        Action::new("a".repeat(super::MAX_ACTION_LEN + 1)),
        Err(TargetError::TooLong {
            field: "action",
            ..
        })
    ));
    assert!(matches!(
        Resource::new("", "x"),
        Err(TargetError::Empty {
            field: "resource kind"
        })
    ));
    assert!(matches!(
        Resource::new("Doc", ""),
        Err(TargetError::Empty {
            field: "resource id"
        })
    ));
    assert!(matches!(
        Resource::new("Doc\u{7f}", "x"),
        Err(TargetError::ControlCharacter {
            field: "resource kind"
        })
    ));
}

#[test]
fn realms_reach_the_challenge() {
    let policy: Arc<dyn Policy> =
        Arc::new(|_: &VerifiedPrincipal, _: &Action, _: &Resource| Ok(Decision::Allow));
    let layer = PolicyLayer::new(policy, method_and_path("Http::Path"));
    assert!(layer.clone().realm("a\"b").is_err());
    let layer = layer.realm("docs").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let response = runtime.block_on(async {
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(|_: Request<String>| async {
                Ok::<_, std::convert::Infallible>(Response::new(String::new()))
            }))
            .oneshot(Request::new(String::new()))
            .await
            .unwrap()
    });
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="docs""#
    );
}
