use std::fmt;
use std::sync::Arc;

use http::request::Parts;
use tower_layer::Layer;

use super::service::PolicyService;
use super::{Action, Policy, Resource, TargetError};
use crate::error::{HttpChallenge, RealmError};

/// The operator's function from a request to the action and resource the policy is asked
/// about.
pub(super) type Describe =
    dyn Fn(&Parts) -> Result<(Action, Resource), TargetError> + Send + Sync + 'static;

/// Configuration shared by every service a layer makes.
pub(super) struct Shared {
    pub(super) policy: Arc<dyn Policy>,
    pub(super) describe: Arc<Describe>,
    pub(super) challenge: HttpChallenge,
}

/// Asks a [`Policy`] about every request, with the action and resource that `describe`
/// derives from it; lets the request on only when the policy allows it (see the
/// [module docs](super) for every answer).
///
/// Put it inside an [`AuthenticateLayer`](crate::authenticate::AuthenticateLayer): it reads
/// the [`VerifiedPrincipal`](crate::VerifiedPrincipal) that layer inserts.
///
/// ```
/// use std::sync::Arc;
/// use http::{Request, Response, StatusCode};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
/// use tower_auth::policy::{Action, Decision, PolicyLayer, Resource, method_and_path};
/// use tower_auth::VerifiedPrincipal;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let allow_all = |_: &VerifiedPrincipal, _: &Action, _: &Resource| Ok(Decision::Allow);
/// let service = ServiceBuilder::new()
///     .layer(PolicyLayer::new(Arc::new(allow_all), method_and_path("Http::Path")))
///     .service(service_fn(|_request: Request<String>| async {
///         Ok::<_, std::convert::Infallible>(Response::new(String::from("served")))
///     }));
///
/// // No authenticate layer ran, so there is no Principal: 401, whatever the policy says.
/// let response = service.oneshot(Request::new(String::new())).await.unwrap();
/// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(response.headers()["www-authenticate"], "Bearer");
/// # });
/// ```
#[derive(Clone)]
#[must_use]
pub struct PolicyLayer {
    shared: Arc<Shared>,
}

impl PolicyLayer {
    /// Ask `policy`, about the action and resource `describe` finds in each request. A
    /// request `describe` cannot map ([`TargetError`]) is refused.
    pub fn new<F>(policy: Arc<dyn Policy>, describe: F) -> Self
    where
        F: Fn(&Parts) -> Result<(Action, Resource), TargetError> + Send + Sync + 'static,
    {
        PolicyLayer {
            shared: Arc::new(Shared {
                policy,
                describe: Arc::new(describe),
                challenge: HttpChallenge::new(),
            }),
        }
    }

    /// Challenges carrying `realm="<realm>"` (see [`HttpChallenge::with_realm`]).
    pub fn realm(self, realm: &str) -> Result<Self, RealmError> {
        Ok(PolicyLayer {
            shared: Arc::new(Shared {
                policy: Arc::clone(&self.shared.policy),
                describe: Arc::clone(&self.shared.describe),
                challenge: HttpChallenge::with_realm(realm)?,
            }),
        })
    }
}

impl<S> Layer<S> for PolicyLayer {
    type Service = PolicyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PolicyService::new(inner, Arc::clone(&self.shared))
    }
}

impl fmt::Debug for PolicyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyLayer")
            .field("challenge", &self.shared.challenge)
            .finish_non_exhaustive()
    }
}

/// A `describe` function for [`PolicyLayer::new`]: the action is the request's method
/// (`GET`, `DELETE`...), the resource is the path, of type `kind`. Paths longer than
/// [`MAX_RESOURCE_ID_LEN`](super::MAX_RESOURCE_ID_LEN) are refused.
///
/// ```
/// use tower_auth::policy::method_and_path;
///
/// let describe = method_and_path("Http::Path");
/// let (parts, ()) = http::Request::delete("/documents/d-1?x=1").body(()).unwrap().into_parts();
/// let (action, resource) = describe(&parts)?;
/// assert_eq!(action.as_str(), "DELETE");
/// assert_eq!((resource.kind(), resource.id()), ("Http::Path", "/documents/d-1"));
/// # Ok::<(), tower_auth::policy::TargetError>(())
/// ```
pub fn method_and_path(
    kind: &'static str,
) -> impl Fn(&Parts) -> Result<(Action, Resource), TargetError> + Send + Sync + 'static {
    move |parts: &Parts| {
        let action = Action::new(parts.method.as_str())?;
        let resource = Resource::new(kind, parts.uri.path())?;
        Ok((action, resource))
    }
}
