//! The audit event: exactly one `tracing` event per authentication decision, at every
//! hop, HTTP ([`AuthenticateLayer`](super::AuthenticateLayer)) and gRPC (tonic-auth's
//! layer, which is this one) alike (DESIGN §6).
//!
//! Events go to target [`AUDIT_TARGET`] (`baton::audit`): at `INFO` for an accepted,
//! anonymous or refused request, `WARN` when the refusal is "keys unavailable" (503),
//! `ERROR` for an internal fault (500). Each decision also counts in
//! `baton_auth_decisions_total` (see [`crate::metrics`], feature `metrics`).
//!
//! # Fields
//!
//! These names are stable: dashboards and alerts read them, and the authorization
//! decision events use the same names for the same things.
//!
//! | field | value |
//! | --- | --- |
//! | `request_id` | the request's id: the `x-request-id` received when valid, else the one generated here and sent on to the next hops; `-` only when none could be made |
//! | `trace_id` | the W3C trace id (32 lowercase hex digits) of the request's `traceparent`, continued when valid, else the new trace's; `-` only when none could be made |
//! | `principal_id` | the subject's Baton id (`hm-…`, `am-…`, `svc-…`): on whose authority the request runs; `-` when there is none |
//! | `kind` | the subject's kind (`human`, `agent`, `service`); `-` when there is none |
//! | `subject` | the subject as its issuer names it (the `sub` claim), `-` when there is none |
//! | `acting` | the id of the party acting now: the last actor of the delegation chain, or the subject itself; `-` when there is none |
//! | `delegation` | the whole chain: actor ids, oldest first, comma-separated; empty if none |
//! | `caller` | the service that called this hop and how that is known, e.g. `svc-edge (passport)` or `spiffe://prod/edge (workload)`; `-` when the credentials name none, as at an edge |
//! | `pattern` | the pattern that accepted the request ([`Pattern::as_str`]), or the layer's verifier's on other outcomes |
//! | `outcome` | `accepted`, `anonymous` (optional authentication, no credentials) or `rejected` |
//! | `reason` | `verified`, or the stable label of why not ([`AuthError::reason`]) |
//! | `error` | rejections only: the precise message, for the operator |
//!
//! The message is `request authenticated`, `request passed without credentials (optional
//! authentication)`, `request refused` or `credentials expired during the call`.
//!
//! **Never a token or a secret.** No field holds a credential: no bearer token, passport,
//! internal token, client secret or key; the `error` messages name what failed (a claim,
//! a key id, a status), never the credential's bytes.
//!
//! # Following a request across hops
//!
//! Events of consecutive hops share `request_id` and `trace_id`, and each names the hop
//! before it in `caller`, while `principal_id`, `subject` and `delegation` stay those of
//! the human (or agent, or service) the request started with: together they lead from
//! the last hop back to that party.
//!
//! ```text
//! {"target":"baton::audit","message":"request authenticated","request_id":"r-1","trace_id":"4bf9…4736","principal_id":"hm-…","kind":"human","subject":"alice","acting":"hm-…","delegation":"","caller":"-","pattern":"jwt_passthrough","outcome":"accepted","reason":"verified"}
//! {"target":"baton::audit","message":"request authenticated","request_id":"r-1","trace_id":"4bf9…4736","principal_id":"hm-…","kind":"human","subject":"alice","acting":"hm-…","delegation":"","caller":"svc-edge (passport)","pattern":"passport","outcome":"accepted","reason":"verified"}
//! ```

use std::fmt;

use http::HeaderMap;
use tracing::Level;

use super::AUDIT_TARGET;
use crate::context::RequestContext;
use crate::error::{AuthError, Challenge};
use crate::metrics::{self, Stopwatch};
use crate::trace::{REQUEST_ID_HEADER, TraceParent, check_request_id};
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

/// The ids that tie an event to its request: the request id and the trace.
#[derive(Clone, Copy)]
pub(super) struct Ids<'a> {
    request_id: &'a str,
    trace: Option<&'a TraceParent>,
}

impl<'a> Ids<'a> {
    /// The ids of a request whose context was made.
    pub(super) fn of(context: &'a RequestContext) -> Self {
        Ids {
            request_id: context.request_id().as_str(),
            trace: Some(context.trace().traceparent()),
        }
    }

    /// The ids of a request whose context could not be made (the random number
    /// generator failed): the received request id when valid, no trace id.
    pub(super) fn from_headers(headers: &'a HeaderMap) -> Self {
        Ids {
            request_id: request_id(headers),
            trace: None,
        }
    }
}

/// The trace id as 32 lowercase hex digits, or `-`.
pub(crate) struct TraceId<'a>(pub(crate) Option<&'a TraceParent>);

impl fmt::Display for TraceId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(parent) = self.0 else {
            return f.write_str("-");
        };
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (index, byte) in parent.trace_id().iter().enumerate() {
            out[2 * index] = HEX[usize::from(byte >> 4)];
            out[2 * index + 1] = HEX[usize::from(byte & 0x0f)];
        }
        // Hex digits only.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
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

/// A request the verifier accepted; `verification` is when the verifier was asked.
pub(super) fn accepted(ids: Ids<'_>, verified: &VerifiedPrincipal, verification: Stopwatch) {
    let principal = verified.principal();
    tracing::info!(
        target: AUDIT_TARGET,
        request_id = ids.request_id,
        trace_id = %TraceId(ids.trace),
        principal_id = %principal.id(),
        kind = %principal.kind(),
        subject = principal.subject(),
        acting = %principal.acting(),
        delegation = %Delegation(principal),
        caller = %Caller(verified.caller()),
        pattern = verified.pattern().as_str(),
        outcome = "accepted",
        reason = "verified",
        "request authenticated"
    );
    metrics::auth_accepted(verified.pattern(), verification);
}

/// A request without credentials let through by optional authentication.
pub(super) fn anonymous(ids: Ids<'_>, pattern: Pattern, reason: &AuthError) {
    tracing::info!(
        target: AUDIT_TARGET,
        request_id = ids.request_id,
        trace_id = %TraceId(ids.trace),
        principal_id = "-",
        kind = "-",
        subject = "-",
        acting = "-",
        delegation = "",
        caller = "-",
        pattern = pattern.as_str(),
        outcome = "anonymous",
        reason = reason.reason(),
        "request passed without credentials (optional authentication)"
    );
    metrics::auth_decision(pattern, "anonymous", reason.reason(), None);
}

/// The rejection event at `$level` (`tracing` needs the level as a constant, so one
/// expansion per level, all with the same fields).
macro_rules! refused {
    ($level:expr, $ids:expr, $pattern:expr, $error:expr) => {
        tracing::event!(
            target: AUDIT_TARGET,
            $level,
            request_id = $ids.request_id,
            trace_id = %TraceId($ids.trace),
            principal_id = "-",
            kind = "-",
            subject = "-",
            acting = "-",
            delegation = "",
            caller = "-",
            pattern = $pattern.as_str(),
            outcome = "rejected",
            reason = $error.reason(),
            error = %$error,
            "request refused"
        )
    };
}

/// A refused request; `verification` is when the verifier was asked, if it was (a
/// malformed header is refused before).
pub(super) fn rejected(
    ids: Ids<'_>,
    pattern: Pattern,
    error: &AuthError,
    verification: Option<Stopwatch>,
) {
    // Server-side failures are the operator's problem: louder than a caller's bad token.
    match error.challenge() {
        Challenge::Internal => refused!(Level::ERROR, ids, pattern, error),
        Challenge::Unavailable => refused!(Level::WARN, ids, pattern, error),
        _ => refused!(Level::INFO, ids, pattern, error),
    }
    metrics::auth_decision(pattern, "rejected", error.reason(), verification);
}

/// The `reason` of [`expired_during_call`].
pub const EXPIRED_DURING_CALL: &str = "expired_mid_stream";

/// The decision, taken while a call runs, that its Principal `verified` has expired: for
/// a long-lived call (a gRPC stream) authenticated once when it started. One event with
/// the fields above (`outcome` `rejected`, `reason` [`EXPIRED_DURING_CALL`]), its ids
/// from `context` (the call's request context; `-` without one), and one count in
/// `baton_auth_decisions_total`.
///
/// tonic-auth's `UntilExpiry` calls it when it ends a stream; a service that enforces
/// expiry on a long call of its own can too.
///
/// ```
/// use tower_auth::VerifiedPrincipal;
/// use tower_auth::authenticate::audit;
/// use tower_auth::context;
///
/// // In a handler behind the authenticate layer, when a message arrives too late:
/// fn too_late(verified: &VerifiedPrincipal) {
///     context::with_current(|current| audit::expired_during_call(verified, Some(current)));
/// }
/// # let _ = too_late;
/// ```
pub fn expired_during_call(verified: &VerifiedPrincipal, context: Option<&RequestContext>) {
    let ids = context.map_or(
        Ids {
            request_id: "-",
            trace: None,
        },
        Ids::of,
    );
    let principal = verified.principal();
    tracing::info!(
        target: AUDIT_TARGET,
        request_id = ids.request_id,
        trace_id = %TraceId(ids.trace),
        principal_id = %principal.id(),
        kind = %principal.kind(),
        subject = principal.subject(),
        acting = %principal.acting(),
        delegation = %Delegation(principal),
        caller = %Caller(verified.caller()),
        pattern = verified.pattern().as_str(),
        outcome = "rejected",
        reason = EXPIRED_DURING_CALL,
        "credentials expired during the call"
    );
    metrics::auth_decision(verified.pattern(), "rejected", EXPIRED_DURING_CALL, None);
}
