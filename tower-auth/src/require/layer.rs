use std::fmt;
use std::sync::Arc;

use http::HeaderValue;
use tower_layer::Layer;

use super::requirement::Requirement;
use super::routes::RouteRequirements;
use super::service::RequireService;
use crate::error::{AuthError, HttpChallenge};

/// Everything a check needs, computed once when the layer is built: the route table and,
/// per requirement, the 403 challenge naming its scopes.
pub(crate) struct Shared {
    pub(super) routes: RouteRequirements,
    /// `forbidden[i]` answers a refusal by `routes.requirements()[i]`.
    pub(super) forbidden: Vec<HeaderValue>,
    /// The 403 challenge of a path with no requirement.
    pub(super) no_requirement: HeaderValue,
    pub(super) challenge: Arc<HttpChallenge>,
}

impl Shared {
    fn new(routes: RouteRequirements, challenge: Arc<HttpChallenge>) -> Self {
        let forbidden_for = |scopes: String| {
            let error = AuthError::InsufficientScope { required: scopes };
            challenge
                .www_authenticate(&error)
                // The insufficient_scope challenge always exists; stand-in kept typed.
                .unwrap_or_else(|| HeaderValue::from_static(r#"Bearer error="insufficient_scope""#))
        };
        let forbidden = routes
            .requirements()
            .iter()
            .map(|requirement| forbidden_for(requirement.challenge_scopes()))
            .collect();
        Shared {
            no_requirement: forbidden_for(String::new()),
            forbidden,
            routes,
            challenge,
        }
    }
}

/// Authorization: a tower layer that checks the verified Principal against a
/// [`Requirement`] (one for every request, or per path with [`RouteRequirements`]) before
/// the inner service runs. Put it inside (after) the
/// [`AuthenticateLayer`](crate::authenticate::AuthenticateLayer). See the
/// [module docs](super) for the answers and an example.
#[derive(Clone)]
#[must_use]
pub struct RequireLayer {
    shared: Arc<Shared>,
}

impl RequireLayer {
    /// `requirement` for every request that reaches the layer (in axum: per route, with
    /// `route_layer`).
    pub fn new(requirement: Requirement) -> Self {
        RequireLayer::routes(RouteRequirements::new().otherwise(requirement))
    }

    /// A requirement per path; paths that match none are refused unless
    /// [`RouteRequirements::otherwise`] says what they require.
    pub fn routes(routes: RouteRequirements) -> Self {
        RequireLayer {
            shared: Arc::new(Shared::new(routes, Arc::new(HttpChallenge::new()))),
        }
    }

    /// The challenges to answer with: give the layer the same [`HttpChallenge`] as the
    /// authenticate layer, so a realm or an RFC 9728 `resource_metadata` appears in the
    /// refusals of both.
    pub fn challenge(self, challenge: HttpChallenge) -> Self {
        let routes = self.shared.routes.clone();
        RequireLayer {
            shared: Arc::new(Shared::new(routes, Arc::new(challenge))),
        }
    }
}

impl<S> Layer<S> for RequireLayer {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireService::new(inner, Arc::clone(&self.shared))
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireConfig")
            .field("routes", &self.routes)
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RequireLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireLayer")
            .field("config", &self.shared)
            .finish()
    }
}
