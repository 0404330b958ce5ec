//! Policy as code: an external decision engine asked, per request, whether the verified
//! Principal may perform an action on a resource.
//!
//! - [`Policy`] is the engine: the [`VerifiedPrincipal`] (so the delegation chain and the
//!   calling workload are there), an [`Action`] and a [`Resource`] in, a [`Decision`]
//!   (allow, or deny with a [`Denial`]) or a [`PolicyError`] out. An engine in process
//!   answers at once ([`DecideFuture::ready`], no allocation); one behind the network
//!   answers later ([`DecideFuture::pending`]).
//! - [`PolicyLayer`] asks it for every request, with the action and resource a function of
//!   the operator's derives from the request ([`method_and_path`] is one).
//! - `cedar` (feature `cedar`) is an engine, `CedarPolicy`: Cedar policies and their schema from files,
//!   validated, reloadable without a restart.
//!
//! # Answers
//!
//! | situation | status | `WWW-Authenticate` | reason |
//! | --- | --- | --- | --- |
//! | the policy allows | the inner service's | | |
//! | no [`VerifiedPrincipal`] in the request (no authenticate layer ran, or an anonymous pass) | 401 | `Bearer` | `missing_token` |
//! | the policy denies: nothing permits | 403 | `Bearer error="insufficient_scope"` | `policy_not_permitted` |
//! | the policy denies: a policy forbids | 403 | `Bearer error="insufficient_scope"` | `policy_forbidden` |
//! | the engine fails ([`PolicyError`]) | 403 | `Bearer error="insufficient_scope"` | `policy_error` |
//! | the request has no action or resource ([`TargetError`]) | 403 | `Bearer error="insufficient_scope"` | `policy_no_target` |
//!
//! Every answer is fail closed: only [`Decision::Allow`] reaches the inner service. The
//! precise reason (the policies that forbade, the engine's error) goes to one `tracing`
//! event per decision on [`AUDIT_TARGET`](crate::authenticate::AUDIT_TARGET), never to
//! the client; the [`AuthRejection`](crate::error::AuthRejection) rides in the refusal's
//! extensions.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use tower_auth::policy::{Action, Decision, Denial, Policy, PolicyError, PolicyLayer, Resource};
//! use tower_auth::VerifiedPrincipal;
//!
//! // A policy is any engine; a closure is one too. This one lets agents only read.
//! let policy = |principal: &VerifiedPrincipal, action: &Action, _resource: &Resource| {
//!     if principal.involves(principal::Kind::Agent) && action.as_str() != "GET" {
//!         Ok::<_, PolicyError>(Decision::Deny(Denial::NotPermitted))
//!     } else {
//!         Ok(Decision::Allow)
//!     }
//! };
//! let layer = PolicyLayer::new(Arc::new(policy), tower_auth::policy::method_and_path("Http::Path"));
//! # let _ = layer;
//! ```
//!
//! The layer goes inside (after) an [`AuthenticateLayer`](crate::authenticate::AuthenticateLayer),
//! which inserts the Principal it reads; `tower-auth/tests/policy_layer.rs` runs both over a
//! real server, with an allowed, a forbidden and an unauthenticated request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::verified::VerifiedPrincipal;

mod future;
mod layer;
mod service;

#[cfg(feature = "cedar")]
pub mod cedar;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

pub use future::ResponseFuture;
pub use layer::{PolicyLayer, method_and_path};
pub use service::PolicyService;

/// Longest [`Action`] name, in bytes.
pub const MAX_ACTION_LEN: usize = 128;
/// Longest [`Resource`] kind, in bytes.
pub const MAX_RESOURCE_KIND_LEN: usize = 128;
/// Longest [`Resource`] id, in bytes (a request path, say).
pub const MAX_RESOURCE_ID_LEN: usize = 1024;

/// What a request does, as the policy names it (`read`, `delete`, `GET`...): 1 to
/// [`MAX_ACTION_LEN`] bytes, no control characters.
///
/// ```
/// use tower_auth::policy::{Action, TargetError};
///
/// assert_eq!(Action::new("read")?.as_str(), "read");
/// assert!(matches!(Action::new(""), Err(TargetError::Empty { field: "action" })));
/// assert!(matches!(Action::new("read\n"), Err(TargetError::ControlCharacter { field: "action" })));
/// # Ok::<(), TargetError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Action(Box<str>);

impl Action {
    /// The action `name`, checked.
    pub fn new(name: impl AsRef<str>) -> Result<Self, TargetError> {
        let name = name.as_ref();
        check_field("action", name, MAX_ACTION_LEN)?;
        Ok(Action(name.into()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a request acts on: a kind (the policy language's type, `Baton::Document` for
/// Cedar) and an id within it. Kind: 1 to [`MAX_RESOURCE_KIND_LEN`] bytes; id: 1 to
/// [`MAX_RESOURCE_ID_LEN`] bytes; neither with control characters.
///
/// ```
/// use tower_auth::policy::{Resource, TargetError};
///
/// let resource = Resource::new("Baton::Document", "d-42")?;
/// assert_eq!((resource.kind(), resource.id()), ("Baton::Document", "d-42"));
/// assert!(matches!(
///     Resource::new("Baton::Document", "x".repeat(2000)),
///     Err(TargetError::TooLong { field: "resource id", .. })
/// ));
/// # Ok::<(), TargetError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resource {
    kind: Box<str>,
    id: Box<str>,
}

impl Resource {
    /// The resource `id` of type `kind`, checked.
    pub fn new(kind: impl AsRef<str>, id: impl AsRef<str>) -> Result<Self, TargetError> {
        let (kind, id) = (kind.as_ref(), id.as_ref());
        check_field("resource kind", kind, MAX_RESOURCE_KIND_LEN)?;
        check_field("resource id", id, MAX_RESOURCE_ID_LEN)?;
        Ok(Resource {
            kind: kind.into(),
            id: id.into(),
        })
    }

    /// The type.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The id within the type.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{:?}", self.kind, self.id)
    }
}

fn check_field(field: &'static str, value: &str, max: usize) -> Result<(), TargetError> {
    if value.is_empty() {
        return Err(TargetError::Empty { field });
    }
    if value.len() > max {
        return Err(TargetError::TooLong {
            field,
            len: value.len(),
            max,
        });
    }
    if value.chars().any(char::is_control) {
        return Err(TargetError::ControlCharacter { field });
    }
    Ok(())
}

/// The request has no usable action or resource: refused (403, `policy_no_target`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// The field is empty.
    #[error("{field}: empty")]
    Empty {
        /// `action`, `resource kind` or `resource id`.
        field: &'static str,
    },
    /// The field is longer than its limit.
    #[error("{field}: {len} bytes, more than the limit of {max}")]
    TooLong {
        /// `action`, `resource kind` or `resource id`.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The field holds a control character.
    #[error("{field}: holds a control character")]
    ControlCharacter {
        /// `action`, `resource kind` or `resource id`.
        field: &'static str,
    },
    /// The operator's function maps this request to no action and resource.
    #[error("no action and resource for this request: {why}")]
    Unmapped {
        /// Why, for the log.
        why: &'static str,
    },
}

/// What a policy engine decides.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// The request may go on.
    Allow,
    /// The request is refused, and why.
    Deny(Denial),
}

/// Why a policy engine denied a request. Logged, never sent to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denial {
    /// No policy permits the request (deny unless allowed).
    NotPermitted,
    /// Policies forbid the request explicitly; their ids.
    Forbidden {
        /// The ids of the forbidding policies.
        policies: Vec<String>,
    },
}

impl Denial {
    /// A stable snake_case label for logs and metrics.
    ///
    /// ```
    /// use tower_auth::policy::Denial;
    ///
    /// assert_eq!(Denial::NotPermitted.reason(), "policy_not_permitted");
    /// assert_eq!(Denial::Forbidden { policies: vec!["no-delete".into()] }.reason(), "policy_forbidden");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            Denial::NotPermitted => "policy_not_permitted",
            Denial::Forbidden { .. } => "policy_forbidden",
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::NotPermitted => f.write_str("no policy permits the request"),
            Denial::Forbidden { policies } => {
                write!(f, "forbidden by policy {}", policies.join(", "))
            }
        }
    }
}

/// The engine could not decide. The layer refuses the request (fail closed) and logs this.
///
/// ```
/// use tower_auth::policy::PolicyError;
///
/// let error = PolicyError::Unavailable { detail: "decision point timed out".into() };
/// assert_eq!(error.reason(), "policy_unavailable");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The request cannot be put to the engine: a principal, action or resource it cannot
    /// express (for Cedar: not declared in the schema, or not a valid name).
    #[error("the request cannot be expressed to the engine: {detail}")]
    InvalidRequest {
        /// What the engine said.
        detail: String,
    },
    /// A policy failed while it was evaluated. Cedar alone would skip that policy; a
    /// skipped `forbid` could let the request through, so Baton refuses instead.
    #[error("policy {} failed to evaluate: {detail}", policies.join(", "))]
    Evaluation {
        /// The ids of the policies that failed.
        policies: Vec<String>,
        /// The first failure, as the engine words it.
        detail: String,
    },
    /// The engine could not be asked (a remote decision point down, a timeout).
    #[error("the decision engine is unavailable: {detail}")]
    Unavailable {
        /// What went wrong.
        detail: String,
    },
}

impl PolicyError {
    /// A stable snake_case label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            PolicyError::InvalidRequest { .. } => "policy_invalid_request",
            PolicyError::Evaluation { .. } => "policy_evaluation",
            PolicyError::Unavailable { .. } => "policy_unavailable",
        }
    }
}

/// What a policy engine concludes: a decision, or why there is none.
pub type Outcome = Result<Decision, PolicyError>;

/// An external decision engine: may this Principal perform `action` on `resource`?
///
/// Implementations fail closed: anything short of a positive permission is a
/// [`Decision::Deny`] or a [`PolicyError`], and the layer lets nothing but
/// [`Decision::Allow`] through. A closure
/// `Fn(&VerifiedPrincipal, &Action, &Resource) -> Outcome` is a `Policy` (it answers at once).
///
/// ```
/// use tower_auth::policy::{Action, Decision, Denial, Outcome, Policy, Resource};
/// use tower_auth::VerifiedPrincipal;
///
/// /// Nothing but reads.
/// struct ReadOnly;
///
/// impl Policy for ReadOnly {
///     fn decide(&self, _principal: &VerifiedPrincipal, action: &Action, _resource: &Resource)
///         -> tower_auth::policy::DecideFuture
///     {
///         let outcome: Outcome = if action.as_str() == "read" {
///             Ok(Decision::Allow)
///         } else {
///             Ok(Decision::Deny(Denial::NotPermitted))
///         };
///         tower_auth::policy::DecideFuture::ready(outcome)
///     }
/// }
/// ```
pub trait Policy: Send + Sync + 'static {
    /// Decide whether `principal` may perform `action` on `resource`.
    fn decide(
        &self,
        principal: &VerifiedPrincipal,
        action: &Action,
        resource: &Resource,
    ) -> DecideFuture;
}

impl<F> Policy for F
where
    F: Fn(&VerifiedPrincipal, &Action, &Resource) -> Outcome + Send + Sync + 'static,
{
    fn decide(
        &self,
        principal: &VerifiedPrincipal,
        action: &Action,
        resource: &Resource,
    ) -> DecideFuture {
        DecideFuture::ready(self(principal, action, resource))
    }
}

/// The future a [`Policy`] returns: an outcome already known ([`ready`](Self::ready), no
/// allocation, as for an engine in process) or one that must wait
/// ([`pending`](Self::pending), boxed once, as for a decision point over the network).
///
/// ```
/// use tower_auth::policy::{DecideFuture, Decision, PolicyError};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let known = DecideFuture::ready(Ok(Decision::Allow));
/// assert_eq!(known.into_ready().ok(), Some(Ok(Decision::Allow)));
///
/// let waiting = DecideFuture::pending(async {
///     Err(PolicyError::Unavailable { detail: "timeout".into() })
/// });
/// let waiting = waiting.into_ready().unwrap_err();
/// assert!(matches!(waiting.await, Err(PolicyError::Unavailable { .. })));
/// # });
/// ```
#[must_use = "a decision does nothing unless awaited or taken with `into_ready`"]
pub struct DecideFuture {
    state: DecideState,
}

enum DecideState {
    /// The outcome, until polled (then `None`).
    Ready(Option<Outcome>),
    Pending(Pin<Box<dyn Future<Output = Outcome> + Send + 'static>>),
}

impl DecideFuture {
    /// An outcome already reached: resolves on the first poll, allocates nothing.
    pub fn ready(outcome: Outcome) -> Self {
        DecideFuture {
            state: DecideState::Ready(Some(outcome)),
        }
    }

    /// A decision that may wait: `future` is boxed (once). It owns what it reads.
    pub fn pending(future: impl Future<Output = Outcome> + Send + 'static) -> Self {
        DecideFuture {
            state: DecideState::Pending(Box::pin(future)),
        }
    }

    /// The outcome if it is already known, or `self` back to be awaited.
    pub fn into_ready(self) -> Result<Outcome, Self> {
        match self.state {
            DecideState::Ready(Some(outcome)) => Ok(outcome),
            state => Err(DecideFuture { state }),
        }
    }
}

impl Future for DecideFuture {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        match &mut self.state {
            DecideState::Ready(outcome) => match outcome.take() {
                Some(outcome) => Poll::Ready(outcome),
                // Polled after completion: a caller bug; never resolve twice.
                None => Poll::Pending,
            },
            DecideState::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for DecideFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            DecideState::Ready(Some(_)) => "ready",
            DecideState::Ready(None) => "done",
            DecideState::Pending(_) => "pending",
        };
        f.debug_tuple("DecideFuture").field(&state).finish()
    }
}
