//! The one `tracing` event per decision (DESIGN §6).
//!
//! Fields: `request_id` (the request context's: the `x-request-id` received when valid,
//! else the one generated here and sent on to the next hops; `-` only when none could be
//! made), `principal_id`, `kind`,
//! `delegation` (actor ids, oldest first, comma-separated; empty if none), `pattern`,
//! `caller` (the service that called this hop and how that is known, e.g.
//! `svc-edge-… (passport)` or `spiffe://prod/edge (workload)`; `-` when the credentials
//! name none, as at an edge), `outcome` (`accepted`, `anonymous`, `rejected`) and `reason`
//! (`verified` or an [`AuthError::reason`]); rejections add `error`, the precise message
//! (never the token). Events of consecutive hops share the `request_id`, and each names
//! the hop before it in `caller`: together they lead from the last hop back to the human.

use std::fmt;

use http::HeaderMap;
use tracing::Level;

use super::AUDIT_TARGET;
use crate::error::{AuthError, Challenge};
use crate::trace::{REQUEST_ID_HEADER, check_request_id};
use crate::verified::{Pattern, VerifiedPrincipal};

/// The `x-request-id` echoed into the audit event; one that breaks the request id rule
/// ([`check_request_id`]) is logged as `-` rather than let a caller write arbitrary text
/// into logs.
pub(super) fn request_id(headers: &HeaderMap) -> &str {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| check_request_id(id).is_ok())
        .unwrap_or("-")
}

/// The delegation chain as `am-…,svc-…` (oldest first).
pub(crate) struct Delegation<'a>(pub(crate) &'a principal::Principal);

impl fmt::Display for Delegation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, actor) in self.0.delegation().iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            fmt::Display::fmt(actor.id(), f)?;
        }
        Ok(())
    }
}

/// The calling service, or `-`.
pub(crate) struct Caller<'a>(pub(crate) Option<&'a crate::verified::Caller>);

impl fmt::Display for Caller<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(caller) => fmt::Display::fmt(caller, f),
            None => f.write_str("-"),
        }
    }
}

pub(super) fn accepted(request_id: &str, verified: &VerifiedPrincipal) {
    let principal = verified.principal();
    tracing::info!(
        target: AUDIT_TARGET,
        request_id,
        principal_id = %principal.id(),
        kind = %principal.kind(),
        delegation = %Delegation(principal),
        pattern = verified.pattern().as_str(),
        caller = %Caller(verified.caller()),
        outcome = "accepted",
        reason = "verified",
        "request authenticated"
    );
}

pub(super) fn anonymous(request_id: &str, pattern: Pattern, reason: &AuthError) {
    tracing::info!(
        target: AUDIT_TARGET,
        request_id,
        principal_id = "-",
        kind = "-",
        delegation = "",
        pattern = pattern.as_str(),
        caller = "-",
        outcome = "anonymous",
        reason = reason.reason(),
        "request passed without credentials (optional authentication)"
    );
}

/// The rejection event at `$level` (`tracing` needs the level as a constant, so one
/// expansion per level, all with the same fields).
macro_rules! refused {
    ($level:expr, $request_id:expr, $pattern:expr, $error:expr) => {
        tracing::event!(
            target: AUDIT_TARGET,
            $level,
            request_id = $request_id,
            principal_id = "-",
            kind = "-",
            delegation = "",
            pattern = $pattern.as_str(),
            caller = "-",
            outcome = "rejected",
            reason = $error.reason(),
            error = %$error,
            "request refused"
        )
    };
}

pub(super) fn rejected(request_id: &str, pattern: Pattern, error: &AuthError) {
    // Server-side failures are the operator's problem: louder than a caller's bad token.
    match error.challenge() {
        Challenge::Internal => refused!(Level::ERROR, request_id, pattern, error),
        Challenge::Unavailable => refused!(Level::WARN, request_id, pattern, error),
        _ => refused!(Level::INFO, request_id, pattern, error),
    }
}
