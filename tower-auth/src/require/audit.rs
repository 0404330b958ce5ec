//! The one `tracing` event per authorization decision, on the authenticate layer's
//! [`AUDIT_TARGET`], with the same fields as its events (`request_id`, `trace_id`,
//! `principal_id`, `kind`, `subject`, `acting`, `delegation`, `pattern`, `caller`,
//! `outcome`, `reason`) plus `decision = "authorization"`. `outcome` is `allowed` or
//! `denied`; `reason` is `unauthenticated` when no Principal arrived.
//!
//! Each decider adds its own fields:
//! - the require layer: `workload`, the SPIFFE ID the requirement saw (`-` when none);
//!   `reason` is `satisfied` or a [`Denial::reason`];
//! - the policy layer: `action` and `resource` (absent when the request has none),
//!   `error` on a denial (the engine's or the target's message) and `engine_error` when
//!   the engine failed (then at `WARN`); `reason` is `policy_allowed`, a policy denial's
//!   reason, `policy_error` or `policy_no_target`.

use std::fmt;

use tracing::Level;

use super::requirement::Denial;
use crate::authenticate::AUDIT_TARGET;
use crate::authenticate::audit::TraceId;
use crate::context::RequestContext;
use crate::peer::SpiffeId;
use crate::verified::VerifiedPrincipal;

struct Workload<'a>(Option<&'a SpiffeId>);

impl fmt::Display for Workload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => fmt::Display::fmt(id, f),
            None => f.write_str("-"),
        }
    }
}

pub(crate) fn request_id(context: Option<&RequestContext>) -> &str {
    context.map_or("-", |context| context.request_id().as_str())
}

/// One authorization event at `$level` (a constant, as `tracing` needs): the
/// authentication event's fields for `$verified` with the ids of `$context`,
/// `decision = "authorization"`, `$outcome` and `$reason`, then the decider's own fields
/// (each followed by a comma) and the message. The require and policy layers both emit
/// through it, so the two events cannot drift apart.
macro_rules! authorization_event {
    ($level:expr, $context:expr, $verified:expr, $outcome:expr, $reason:expr, $message:literal, $($extra:tt)*) => {{
        let context: Option<&$crate::context::RequestContext> = $context;
        let verified: &$crate::verified::VerifiedPrincipal = $verified;
        let principal = verified.principal();
        tracing::event!(
            target: $crate::authenticate::AUDIT_TARGET,
            $level,
            decision = "authorization",
            request_id = $crate::require::audit::request_id(context),
            trace_id = %$crate::authenticate::audit::TraceId(
                context.map(|context| context.trace().traceparent())
            ),
            principal_id = %principal.id(),
            kind = %principal.kind(),
            subject = principal.subject(),
            acting = %principal.acting(),
            delegation = %$crate::authenticate::audit::Delegation(principal),
            pattern = verified.pattern().as_str(),
            caller = %$crate::authenticate::audit::Caller(verified.caller()),
            outcome = $outcome,
            reason = $reason,
            $($extra)*
            $message
        )
    }};
}
pub(crate) use authorization_event;

pub(super) fn decided(
    context: Option<&RequestContext>,
    verified: &VerifiedPrincipal,
    workload: Option<&SpiffeId>,
    outcome: Result<(), Denial>,
) {
    match outcome {
        Ok(()) => authorization_event!(
            Level::INFO,
            context,
            verified,
            "allowed",
            "satisfied",
            "request authorized",
            workload = %Workload(workload),
        ),
        Err(denial) => authorization_event!(
            Level::INFO,
            context,
            verified,
            "denied",
            denial.reason(),
            "request forbidden",
            workload = %Workload(workload),
        ),
    }
}

/// No verified Principal reached an authorization layer (no authenticate layer in front,
/// or an anonymous pass): refused, with the ids of `context` when there is one.
pub(crate) fn unauthenticated(context: Option<&RequestContext>) {
    tracing::event!(
        target: AUDIT_TARGET,
        Level::INFO,
        decision = "authorization",
        request_id = request_id(context),
        trace_id = %TraceId(context.map(|context| context.trace().traceparent())),
        principal_id = "-",
        kind = "-",
        subject = "-",
        acting = "-",
        delegation = "",
        pattern = "-",
        caller = "-",
        workload = "-",
        outcome = "denied",
        reason = "unauthenticated",
        "request refused: no verified Principal"
    );
}
