//! The one `tracing` event per authorization decision, on the authenticate layer's
//! [`AUDIT_TARGET`], with the same fields as its events (`request_id`, `trace_id`,
//! `principal_id`, `kind`, `subject`, `acting`, `delegation`, `pattern`, `caller`,
//! `outcome`, `reason`) plus `decision = "authorization"` and `workload`. `outcome` is `allowed` or `denied`; `reason` is
//! `satisfied` or a [`Denial::reason`] (`unauthenticated` when no Principal arrived).
//! `caller` is the calling service as the verifier named it; `workload` the SPIFFE ID the
//! requirement saw (`-` when none).

use std::fmt;

use tracing::Level;

use super::requirement::Denial;
use crate::authenticate::AUDIT_TARGET;
use crate::authenticate::audit::{Caller, Delegation, TraceId};
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

fn request_id(context: Option<&RequestContext>) -> &str {
    context.map_or("-", |context| context.request_id().as_str())
}

pub(super) fn decided(
    context: Option<&RequestContext>,
    verified: &VerifiedPrincipal,
    workload: Option<&SpiffeId>,
    outcome: Result<(), Denial>,
) {
    let principal = verified.principal();
    let (outcome, reason, message) = match outcome {
        Ok(()) => ("allowed", "satisfied", "request authorized"),
        Err(denial) => ("denied", denial.reason(), "request forbidden"),
    };
    tracing::event!(
        target: AUDIT_TARGET,
        Level::INFO,
        decision = "authorization",
        request_id = request_id(context),
        trace_id = %TraceId(context.map(|context| context.trace().traceparent())),
        principal_id = %principal.id(),
        kind = %principal.kind(),
        subject = principal.subject(),
        acting = %principal.acting(),
        delegation = %Delegation(principal),
        pattern = verified.pattern().as_str(),
        caller = %Caller(verified.caller()),
        workload = %Workload(workload),
        outcome,
        reason,
        "{message}"
    );
}

pub(super) fn unauthenticated(context: Option<&RequestContext>) {
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
