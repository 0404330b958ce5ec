//! W3C Trace Context (`traceparent`, `tracestate`) and the request id (`x-request-id`):
//! read and validated where a request comes in, passed on untouched, and created when
//! absent or invalid (DESIGN §3, "everywhere").
//!
//! | type | header | rule |
//! | --- | --- | --- |
//! | [`TraceParent`] | `traceparent` | [W3C Trace Context] §3.2: version `00` is exactly `00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>`, lowercase hex, neither id all zeros; version `ff` is forbidden; a higher version is read by its first four fields when they are followed by `-` or the end |
//! | [`TraceState`] | `tracestate` | kept opaque: at most [`MAX_TRACESTATE_MEMBERS`] list members and [`MAX_TRACESTATE_LEN`] characters, printable ASCII |
//! | [`RequestId`] | `x-request-id` | 1 to [`MAX_REQUEST_ID_LEN`] bytes of visible ASCII (the audit event's rule) |
//!
//! [`TraceContext::from_headers`] continues the incoming trace when its `traceparent` is
//! valid and starts a new one otherwise; as the spec requires, `tracestate` is read only
//! when `traceparent` is valid. Fresh ids come from the system random number generator
//! of aws-lc-rs, the workspace's crypto backend.
//!
//! ```
//! use tower_auth::trace::{RequestId, TraceContext, TraceParent};
//!
//! // Accepted: the spec's example, passed on exactly as received.
//! let parent: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
//! assert!(parent.sampled());
//! assert_eq!(parent.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
//!
//! // Refused: uppercase hex, an all-zero trace id, version ff.
//! assert!("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01".parse::<TraceParent>().is_err());
//! assert!("00-00000000000000000000000000000000-00f067aa0ba902b7-01".parse::<TraceParent>().is_err());
//! assert!("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse::<TraceParent>().is_err());
//!
//! // At the edge, nothing came in: a new trace and a new request id.
//! let headers = http::HeaderMap::new();
//! let trace = TraceContext::from_headers(&headers)?;
//! assert!(trace.tracestate().is_none());
//! let request_id = RequestId::from_headers(&headers).map_or_else(RequestId::generate, Ok)?;
//! assert_eq!(request_id.as_str().len(), 36);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [W3C Trace Context]: https://www.w3.org/TR/trace-context/

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};

/// `traceparent`, the W3C trace context header.
pub const TRACEPARENT_HEADER: HeaderName = HeaderName::from_static("traceparent");

/// `tracestate`, the W3C vendor-specific trace state header.
pub const TRACESTATE_HEADER: HeaderName = HeaderName::from_static("tracestate");

/// `x-request-id`, the request id passed between hops.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest `traceparent` read, in bytes. Version `00` is exactly 55; the spec lets later
/// versions grow and asks pass-through services to refuse only prohibitively large ones.
pub const MAX_TRACEPARENT_LEN: usize = 512;

/// Longest `tracestate` kept, in bytes: the 512 characters the spec asks every vendor to
/// propagate. A longer one is dropped whole rather than cut inside an entry.
pub const MAX_TRACESTATE_LEN: usize = 512;

/// Most list members in a `tracestate` (the spec's limit).
pub const MAX_TRACESTATE_MEMBERS: usize = 32;

/// Longest `x-request-id` accepted, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Length of a version `00` `traceparent`.
const TRACEPARENT_V00_LEN: usize = 55;

/// The optional whitespace HTTP allows around a field value (RFC 9110 §5.6.3).
const OWS: [char; 2] = [' ', '\t'];

/// The system random number generator failed, so no fresh id could be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
#[non_exhaustive]
pub struct RandomError;

impl RandomError {
    /// A stable snake_case label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        "random_unavailable"
    }
}

fn fill_random(bytes: &mut [u8]) -> Result<(), RandomError> {
    aws_lc_rs::rand::fill(bytes).map_err(|_| RandomError)
}

/// Why a `traceparent` value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceParentError {
    /// Longer than [`MAX_TRACEPARENT_LEN`].
    #[error("traceparent is {len} bytes, more than {MAX_TRACEPARENT_LEN}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The version is not two lowercase hex digits followed by `-`.
    #[error("traceparent version is not two lowercase hex digits followed by '-'")]
    Version,
    /// Version `ff`, which the spec forbids.
    #[error("traceparent version ff is forbidden")]
    ForbiddenVersion,
    /// Version `00` that is not exactly 55 bytes, or a higher version shorter than 55.
    #[error("traceparent is {len} bytes; version 00 is exactly 55, later versions at least 55")]
    Length {
        /// Its length in bytes (after optional whitespace).
        len: usize,
    },
    /// The trace id is not 32 lowercase hex digits followed by `-`.
    #[error("traceparent trace-id is not 32 lowercase hex digits followed by '-'")]
    TraceId,
    /// The trace id is all zeros.
    #[error("traceparent trace-id is all zeros")]
    ZeroTraceId,
    /// The parent id is not 16 lowercase hex digits followed by `-`.
    #[error("traceparent parent-id is not 16 lowercase hex digits followed by '-'")]
    ParentId,
    /// The parent id is all zeros.
    #[error("traceparent parent-id is all zeros")]
    ZeroParentId,
    /// The flags are not two lowercase hex digits followed by the end (or, in a later
    /// version, by `-`).
    #[error("traceparent trace-flags are not two lowercase hex digits at the end of the field")]
    Flags,
}

impl TraceParentError {
    /// A stable snake_case label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            TraceParentError::TooLong { .. } => "traceparent_too_long",
            TraceParentError::Version => "traceparent_version",
            TraceParentError::ForbiddenVersion => "traceparent_forbidden_version",
            TraceParentError::Length { .. } => "traceparent_length",
            TraceParentError::TraceId => "traceparent_trace_id",
            TraceParentError::ZeroTraceId => "traceparent_zero_trace_id",
            TraceParentError::ParentId => "traceparent_parent_id",
            TraceParentError::ZeroParentId => "traceparent_zero_parent_id",
            TraceParentError::Flags => "traceparent_flags",
        }
    }
}

/// A valid W3C `traceparent`: trace id, parent id and flags.
///
/// Parsing follows the spec's rules (see the [module docs](self)); optional whitespace
/// around the value is ignored. It is written back as version `00`: a version `00` value
/// is passed on byte for byte, and a higher version is passed on downgraded to `00` with
/// its first four fields, the one mutation the spec allows for a version it does not know
/// (fields after them are not read, as the spec requires).
///
/// ```
/// use tower_auth::trace::{TraceParent, TraceParentError};
///
/// let parent = TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")?;
/// assert!(!parent.sampled());
/// assert_eq!(parent.trace_id()[0], 0x0a);
///
/// // A later version with more fields: read by its first four, passed on as 00.
/// let later = TraceParent::parse("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future")?;
/// assert_eq!(later.to_string(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
///
/// // Version 00 with a field too many is refused.
/// assert_eq!(
///     TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future"),
///     Err(TraceParentError::Length { len: 62 }),
/// );
/// # Ok::<(), TraceParentError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
}

impl TraceParent {
    /// Parse and validate a `traceparent` value.
    pub fn parse(value: &str) -> Result<Self, TraceParentError> {
        let value = value.trim_matches(OWS);
        let bytes = value.as_bytes();
        if bytes.len() > MAX_TRACEPARENT_LEN {
            return Err(TraceParentError::TooLong { len: bytes.len() });
        }
        // The version prefix: two lowercase hex digits and a dash, or the trace restarts.
        let version = match bytes {
            [high, low, b'-', ..] => decode_hex::<1>(&[*high, *low])
                .map(|[version]| version)
                .ok_or(TraceParentError::Version)?,
            _ => return Err(TraceParentError::Version),
        };
        if version == 0xff {
            return Err(TraceParentError::ForbiddenVersion);
        }
        let length_ok = if version == 0 {
            bytes.len() == TRACEPARENT_V00_LEN
        } else {
            bytes.len() >= TRACEPARENT_V00_LEN
        };
        if !length_ok {
            return Err(TraceParentError::Length { len: bytes.len() });
        }
        // Positions are fixed from here: 00-[3..35]-[36..52]-[53..55]
        if bytes[35] != b'-' {
            return Err(TraceParentError::TraceId);
        }
        let trace_id = decode_hex::<16>(&bytes[3..35]).ok_or(TraceParentError::TraceId)?;
        if trace_id == [0; 16] {
            return Err(TraceParentError::ZeroTraceId);
        }
        if bytes[52] != b'-' {
            return Err(TraceParentError::ParentId);
        }
        let parent_id = decode_hex::<8>(&bytes[36..52]).ok_or(TraceParentError::ParentId)?;
        if parent_id == [0; 8] {
            return Err(TraceParentError::ZeroParentId);
        }
        let [flags] = decode_hex::<1>(&bytes[53..55]).ok_or(TraceParentError::Flags)?;
        // A later version may go on, but only after a dash (version 00 ended at 55 above).
        if bytes.len() > TRACEPARENT_V00_LEN && bytes[TRACEPARENT_V00_LEN] != b'-' {
            return Err(TraceParentError::Flags);
        }
        Ok(TraceParent {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// A new trace: a random trace id and parent id, flags `00` (the spec's default for a
    /// trace this component starts).
    ///
    /// ```
    /// use tower_auth::trace::TraceParent;
    ///
    /// let first = TraceParent::generate()?;
    /// let second = TraceParent::generate()?;
    /// assert_ne!(first.trace_id(), second.trace_id());
    /// // What is generated parses back to itself.
    /// assert_eq!(TraceParent::parse(&first.to_string()), Ok(first));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn generate() -> Result<Self, RandomError> {
        let mut random = [0u8; 24];
        fill_random(&mut random)?;
        let mut trace_id = [0u8; 16];
        let mut parent_id = [0u8; 8];
        trace_id.copy_from_slice(&random[..16]);
        parent_id.copy_from_slice(&random[16..]);
        // All zeros is invalid; the chance is 2^-128 (2^-64), but never emit one.
        if trace_id == [0; 16] {
            trace_id[15] = 1;
        }
        if parent_id == [0; 8] {
            parent_id[7] = 1;
        }
        Ok(TraceParent {
            trace_id,
            parent_id,
            flags: 0,
        })
    }

    /// The trace id (16 bytes, never all zeros).
    pub fn trace_id(&self) -> &[u8; 16] {
        &self.trace_id
    }

    /// The parent id: the caller's span (8 bytes, never all zeros).
    pub fn parent_id(&self) -> &[u8; 8] {
        &self.parent_id
    }

    /// The trace flags, as received.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the `sampled` flag (the lowest bit) is set.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The version `00` form, as bytes.
    fn encode(&self) -> [u8; TRACEPARENT_V00_LEN] {
        let mut out = [b'-'; TRACEPARENT_V00_LEN];
        out[..2].copy_from_slice(b"00");
        encode_hex(&self.trace_id, &mut out[3..35]);
        encode_hex(&self.parent_id, &mut out[36..52]);
        encode_hex(&[self.flags], &mut out[53..55]);
        out
    }
}

impl FromStr for TraceParent {
    type Err = TraceParentError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        TraceParent::parse(value)
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encoded = self.encode();
        // Hex digits and dashes only.
        f.write_str(std::str::from_utf8(&encoded).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TraceParent")
            .field(&format_args!("{self}"))
            .finish()
    }
}

/// Why a `tracestate` value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceStateError {
    /// Nothing but optional whitespace (the spec accepts it, but there is nothing to keep).
    #[error("tracestate is empty")]
    Empty,
    /// Longer than [`MAX_TRACESTATE_LEN`].
    #[error("tracestate is {len} bytes, more than {MAX_TRACESTATE_LEN}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// More than [`MAX_TRACESTATE_MEMBERS`] list members.
    #[error("tracestate has {members} list members, more than {MAX_TRACESTATE_MEMBERS}")]
    TooManyMembers {
        /// How many non-empty members it has.
        members: usize,
    },
    /// A character outside printable ASCII and tab.
    #[error("tracestate holds a character outside printable ASCII")]
    InvalidChar,
    /// Not valid as a header value (not visible ASCII), or several values that together
    /// break a rule above.
    #[error("tracestate header is not printable ASCII")]
    InvalidHeader,
}

impl TraceStateError {
    /// A stable snake_case label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            TraceStateError::Empty => "tracestate_empty",
            TraceStateError::TooLong { .. } => "tracestate_too_long",
            TraceStateError::TooManyMembers { .. } => "tracestate_too_many_members",
            TraceStateError::InvalidChar => "tracestate_invalid_char",
            TraceStateError::InvalidHeader => "tracestate_invalid_header",
        }
    }
}

/// A `tracestate` value, kept opaque and passed on as received (without surrounding
/// whitespace).
///
/// Only its size is checked: at most [`MAX_TRACESTATE_LEN`] bytes and
/// [`MAX_TRACESTATE_MEMBERS`] non-empty comma-separated members, printable ASCII and tab.
/// Its entries belong to tracing vendors, so nothing here reads them. Cheap to clone
/// (shared).
///
/// ```
/// use tower_auth::trace::{TraceState, TraceStateError};
///
/// let state = TraceState::parse(" rojo=00f067aa0ba902b7,congo=t61rcWkgMzE ")?;
/// assert_eq!(state.as_str(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
///
/// let crowded = vec!["k=v"; 33].join(",");
/// assert_eq!(TraceState::parse(&crowded), Err(TraceStateError::TooManyMembers { members: 33 }));
/// # Ok::<(), TraceStateError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TraceState(Arc<str>);

impl TraceState {
    /// Validate a `tracestate` value (one header, or several joined with `,`).
    pub fn parse(value: &str) -> Result<Self, TraceStateError> {
        let value = value.trim_matches(OWS);
        if value.is_empty() {
            return Err(TraceStateError::Empty);
        }
        if value.len() > MAX_TRACESTATE_LEN {
            return Err(TraceStateError::TooLong { len: value.len() });
        }
        if !value
            .bytes()
            .all(|b| b == b'\t' || (0x20..=0x7e).contains(&b))
        {
            return Err(TraceStateError::InvalidChar);
        }
        let members = value
            .split(',')
            .filter(|member| !member.trim_matches(OWS).is_empty())
            .count();
        if members > MAX_TRACESTATE_MEMBERS {
            return Err(TraceStateError::TooManyMembers { members });
        }
        if members == 0 {
            return Err(TraceStateError::Empty);
        }
        Ok(TraceState(value.into()))
    }

    /// The `tracestate` of a request: every `tracestate` header combined in order (RFC 9110
    /// §5.3), then validated. `None` when there is none; an error when it breaks a rule.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, TraceStateError> {
        let mut values = headers.get_all(TRACESTATE_HEADER).iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        let mut combined = tracestate_piece(first)?.to_owned();
        for value in values {
            // Whitespace around a list member is not part of it, so the pieces are
            // trimmed and the bound can be checked while combining.
            combined.push(',');
            combined.push_str(tracestate_piece(value)?);
            if combined.len() > MAX_TRACESTATE_LEN {
                return Err(TraceStateError::TooLong {
                    len: combined.len(),
                });
            }
        }
        match TraceState::parse(&combined) {
            Ok(state) => Ok(Some(state)),
            // Empty members only: nothing to pass on, not an error (the spec accepts it).
            Err(TraceStateError::Empty) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The value, as it will be passed on.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TraceState {
    type Err = TraceStateError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        TraceState::parse(value)
    }
}

impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TraceState").field(&&*self.0).finish()
    }
}

/// The trace context of one request: its `traceparent` and, when one came with a valid
/// `traceparent`, its `tracestate`.
///
/// ```
/// use http::HeaderMap;
/// use tower_auth::trace::TraceContext;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".parse()?);
/// headers.insert("tracestate", "congo=t61rcWkgMzE".parse()?);
/// let continued = TraceContext::from_headers(&headers)?;
/// assert_eq!(continued.traceparent().to_string(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
/// assert_eq!(continued.tracestate().map(|state| state.as_str()), Some("congo=t61rcWkgMzE"));
///
/// // An invalid traceparent restarts the trace, and its tracestate is not read.
/// headers.insert("traceparent", "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01".parse()?);
/// let restarted = TraceContext::from_headers(&headers)?;
/// assert_ne!(restarted.traceparent().trace_id(), continued.traceparent().trace_id());
/// assert!(restarted.tracestate().is_none());
///
/// // Passed on to an outgoing request.
/// let mut outgoing = HeaderMap::new();
/// continued.inject(&mut outgoing);
/// assert_eq!(outgoing["traceparent"], "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
/// assert_eq!(outgoing["tracestate"], "congo=t61rcWkgMzE");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    parent: TraceParent,
    state: Option<TraceState>,
}

impl TraceContext {
    /// A trace context from its parts.
    pub fn new(parent: TraceParent, state: Option<TraceState>) -> Self {
        TraceContext { parent, state }
    }

    /// A new trace ([`TraceParent::generate`]), without `tracestate`.
    pub fn generate() -> Result<Self, RandomError> {
        Ok(TraceContext::new(TraceParent::generate()?, None))
    }

    /// Continue the request's trace when it carries exactly one valid `traceparent`, or
    /// start a new one. The `tracestate` is kept only with a valid `traceparent`, and only
    /// when it is valid itself. Fails only when a new trace id is needed and the random
    /// number generator fails.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, RandomError> {
        match traceparent_from_headers(headers) {
            Ok(parent) => {
                let state = TraceState::from_headers(headers).unwrap_or_else(|error| {
                    tracing::debug!(reason = error.reason(), %error, "tracestate dropped");
                    None
                });
                Ok(TraceContext::new(parent, state))
            }
            Err(reason) => {
                if let Some(reason) = reason {
                    tracing::debug!(reason, "traceparent refused, trace restarted");
                }
                TraceContext::generate()
            }
        }
    }

    /// The `traceparent`.
    pub fn traceparent(&self) -> &TraceParent {
        &self.parent
    }

    /// The `tracestate`, if one came with the trace.
    pub fn tracestate(&self) -> Option<&TraceState> {
        self.state.as_ref()
    }

    /// Write `traceparent` (and `tracestate` when there is one) into outgoing `headers`,
    /// replacing any already there.
    pub fn inject(&self, headers: &mut HeaderMap) {
        headers.remove(TRACESTATE_HEADER);
        match HeaderValue::from_bytes(&self.parent.encode()) {
            Ok(value) => {
                headers.insert(TRACEPARENT_HEADER, value);
            }
            // Hex digits and dashes are always a valid value; if not, send no trace
            // context rather than a wrong one.
            Err(_) => {
                headers.remove(TRACEPARENT_HEADER);
                return;
            }
        }
        if let Some(state) = &self.state
            && let Ok(value) = HeaderValue::from_str(state.as_str())
        {
            headers.insert(TRACESTATE_HEADER, value);
        }
    }
}

/// One `tracestate` header value, without surrounding whitespace.
fn tracestate_piece(value: &HeaderValue) -> Result<&str, TraceStateError> {
    value
        .to_str()
        .map(|value| value.trim_matches(OWS))
        .map_err(|_| TraceStateError::InvalidHeader)
}

/// Exactly one valid `traceparent`; `Err(None)` when there is none, `Err(Some(reason))`
/// when one or several were refused.
fn traceparent_from_headers(headers: &HeaderMap) -> Result<TraceParent, Option<&'static str>> {
    let mut values = headers.get_all(TRACEPARENT_HEADER).iter();
    let value = values.next().ok_or(None)?;
    if values.next().is_some() {
        return Err(Some("traceparent_duplicated"));
    }
    let value = value.to_str().map_err(|_| Some("traceparent_not_ascii"))?;
    TraceParent::parse(value).map_err(|error| Some(error.reason()))
}

/// Why an `x-request-id` value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestIdError {
    /// Empty.
    #[error("request id is empty")]
    Empty,
    /// Longer than [`MAX_REQUEST_ID_LEN`].
    #[error("request id is {len} bytes, more than {MAX_REQUEST_ID_LEN}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A character that is not visible ASCII (space and control characters included).
    #[error("request id holds a character that is not visible ASCII")]
    InvalidChar,
}

impl RequestIdError {
    /// A stable snake_case label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            RequestIdError::Empty => "request_id_empty",
            RequestIdError::TooLong { .. } => "request_id_too_long",
            RequestIdError::InvalidChar => "request_id_invalid_char",
        }
    }
}

/// The rule for a request id, shared by [`RequestId`] and the audit event: 1 to
/// [`MAX_REQUEST_ID_LEN`] bytes of visible ASCII, so a caller cannot write arbitrary text
/// into logs or into the headers passed on.
pub(crate) fn check_request_id(id: &str) -> Result<(), RequestIdError> {
    if id.is_empty() {
        return Err(RequestIdError::Empty);
    }
    if id.len() > MAX_REQUEST_ID_LEN {
        return Err(RequestIdError::TooLong { len: id.len() });
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RequestIdError::InvalidChar);
    }
    Ok(())
}

/// A valid `x-request-id`: 1 to [`MAX_REQUEST_ID_LEN`] bytes of visible ASCII.
///
/// ```
/// use tower_auth::trace::{RequestId, RequestIdError};
///
/// let id = RequestId::parse("req-7f3a")?;
/// assert_eq!(id.as_str(), "req-7f3a");
///
/// assert_eq!(RequestId::parse(""), Err(RequestIdError::Empty));
/// assert_eq!(RequestId::parse("two words"), Err(RequestIdError::InvalidChar));
/// assert_eq!(RequestId::parse(&"x".repeat(129)), Err(RequestIdError::TooLong { len: 129 }));
/// # Ok::<(), RequestIdError>(())
/// ```
///
/// Held inline (no allocation), so a request context can carry one without a box.
#[derive(Clone)]
pub struct RequestId {
    len: u8,
    bytes: [u8; MAX_REQUEST_ID_LEN],
}

impl RequestId {
    /// Validate a request id.
    pub fn parse(id: &str) -> Result<Self, RequestIdError> {
        check_request_id(id)?;
        Ok(RequestId::inline(id.as_bytes()))
    }

    /// Store checked bytes (visible ASCII, at most [`MAX_REQUEST_ID_LEN`]).
    fn inline(id: &[u8]) -> Self {
        let mut bytes = [0u8; MAX_REQUEST_ID_LEN];
        let len = id.len().min(MAX_REQUEST_ID_LEN);
        bytes[..len].copy_from_slice(&id[..len]);
        RequestId {
            // At most 128: fits.
            len: u8::try_from(len).unwrap_or(u8::MAX),
            bytes,
        }
    }

    /// A fresh request id: a random UUID (version 4), lowercase, hyphenated.
    ///
    /// ```
    /// use tower_auth::trace::RequestId;
    ///
    /// let id = RequestId::generate()?;
    /// assert_eq!(id.as_str().len(), 36);
    /// assert_eq!(&id.as_str()[14..15], "4");
    /// assert_ne!(id, RequestId::generate()?);
    /// # Ok::<(), tower_auth::trace::RandomError>(())
    /// ```
    pub fn generate() -> Result<Self, RandomError> {
        let mut bytes = [0u8; 16];
        fill_random(&mut bytes)?;
        // RFC 9562 §5.4: version 4, variant 10.
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let mut out = [b'-'; 36];
        encode_hex(&bytes[..4], &mut out[..8]);
        encode_hex(&bytes[4..6], &mut out[9..13]);
        encode_hex(&bytes[6..8], &mut out[14..18]);
        encode_hex(&bytes[8..10], &mut out[19..23]);
        encode_hex(&bytes[10..], &mut out[24..]);
        Ok(RequestId::inline(&out))
    }

    /// The request's `x-request-id` (its first value, as the audit event reads it) when
    /// it is valid; `None` when it is absent or invalid.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(REQUEST_ID_HEADER)?.to_str().ok()?;
        RequestId::parse(value).ok()
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        // Only visible ASCII is ever stored, so this never falls back.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("-")
    }

    /// Write it as `x-request-id` into outgoing `headers`, replacing any already there.
    pub fn inject(&self, headers: &mut HeaderMap) {
        match HeaderValue::from_str(self.as_str()) {
            Ok(value) => {
                headers.insert(REQUEST_ID_HEADER, value);
            }
            // Visible ASCII is always a valid value; if not, send none rather than another.
            Err(_) => {
                headers.remove(REQUEST_ID_HEADER);
            }
        }
    }
}

impl FromStr for RequestId {
    type Err = RequestIdError;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        RequestId::parse(id)
    }
}

impl PartialEq for RequestId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RequestId {}

impl std::hash::Hash for RequestId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

/// `N` bytes from `2 * N` lowercase hex digits; `None` on any other input.
fn decode_hex<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (lower_hex_value(pair[0])? << 4) | lower_hex_value(pair[1])?;
    }
    Some(out)
}

fn lower_hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

/// Lowercase hex of `bytes` into `out` (exactly twice as long).
fn encode_hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::*;

    const TRACE_ID: &str = "12345678901234567890123456789012";
    const PARENT_ID: &str = "1234567890123456";
    const TRACE_ID_BYTES: [u8; 16] = [
        0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90,
        0x12,
    ];

    fn v00(trace_id: &str, parent_id: &str, flags: &str) -> String {
        format!("00-{trace_id}-{parent_id}-{flags}")
    }

    #[test]
    fn spec_examples_are_accepted_and_passed_on_unchanged() {
        for value in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",
            "00-0af7651916cd43dd8448eb211c80319c-b9c7c989f97918e1-01",
            // Every flag set: flags are passed on as received.
            "00-0af7651916cd43dd8448eb211c80319c-b9c7c989f97918e1-ff",
        ] {
            let parent = TraceParent::parse(value).unwrap();
            assert_eq!(parent.to_string(), value);
        }
        let parent =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            parent.trace_id(),
            &[
                0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
                0x47, 0x36
            ]
        );
        assert_eq!(
            parent.parent_id(),
            &[0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
        );
        assert_eq!(parent.flags(), 1);
        assert!(parent.sampled());
        // The sampled bit is a bit, not the value: 09 is sampled, 08 is not.
        assert!(
            TraceParent::parse(&v00(TRACE_ID, PARENT_ID, "09"))
                .unwrap()
                .sampled()
        );
        assert!(
            !TraceParent::parse(&v00(TRACE_ID, PARENT_ID, "08"))
                .unwrap()
                .sampled()
        );
    }

    #[test]
    fn optional_whitespace_around_the_value_is_ignored() {
        let value = v00(TRACE_ID, PARENT_ID, "01");
        for padded in [
            format!(" {value}"),
            format!("\t{value}"),
            format!("{value} "),
            format!("{value}\t"),
            format!("\t {value} \t"),
        ] {
            assert_eq!(TraceParent::parse(&padded).unwrap().to_string(), value);
        }
    }

    #[test]
    fn a_higher_version_is_read_by_its_first_four_fields() {
        let expected = v00(TRACE_ID, PARENT_ID, "01");
        for value in [
            format!("cc-{TRACE_ID}-{PARENT_ID}-01"),
            format!("cc-{TRACE_ID}-{PARENT_ID}-01-what-the-future-will-be-like"),
            format!("01-{TRACE_ID}-{PARENT_ID}-01-"),
            format!("fe-{TRACE_ID}-{PARENT_ID}-01-{}", "x".repeat(400)),
        ] {
            assert_eq!(TraceParent::parse(&value).unwrap().to_string(), expected);
        }
    }

    #[test]
    fn every_malformed_form_is_refused_with_its_reason() {
        use TraceParentError as E;
        let cases: Vec<(String, TraceParentError)> = vec![
            // Version.
            (String::new(), E::Version),
            ("-".into(), E::Version),
            (format!(".0-{TRACE_ID}-{PARENT_ID}-01"), E::Version),
            (format!("0.-{TRACE_ID}-{PARENT_ID}-01"), E::Version),
            (format!("0-{TRACE_ID}-{PARENT_ID}-01"), E::Version),
            (format!("000-{TRACE_ID}-{PARENT_ID}-01"), E::Version),
            (format!("0000-{TRACE_ID}-{PARENT_ID}-01"), E::Version),
            (format!("0A-{TRACE_ID}-{PARENT_ID}-01"), E::Version),
            (format!("ff-{TRACE_ID}-{PARENT_ID}-01"), E::ForbiddenVersion),
            // Version 00 with anything after the flags, or too short.
            (
                format!("00-{TRACE_ID}-{PARENT_ID}-01."),
                E::Length { len: 56 },
            ),
            (
                format!("00-{TRACE_ID}-{PARENT_ID}-01-what-the-future-will-be-like"),
                E::Length { len: 84 },
            ),
            (
                format!("00-{TRACE_ID}-{PARENT_ID}-001"),
                E::Length { len: 56 },
            ),
            (
                format!("00-{TRACE_ID}-{PARENT_ID}-1"),
                E::Length { len: 54 },
            ),
            (
                format!("00-{TRACE_ID}3-{PARENT_ID}-01"),
                E::Length { len: 56 },
            ),
            (
                format!("00-{}-{PARENT_ID}-01", &TRACE_ID[1..]),
                E::Length { len: 54 },
            ),
            (
                format!("00-{TRACE_ID}-{PARENT_ID}7-01"),
                E::Length { len: 56 },
            ),
            (
                format!("00-{TRACE_ID}-{}-01", &PARENT_ID[1..]),
                E::Length { len: 54 },
            ),
            (format!("00-{TRACE_ID}-{PARENT_ID}"), E::Length { len: 52 }),
            // A later version shorter than version 00.
            (
                format!("cc-{TRACE_ID}-{PARENT_ID}-1"),
                E::Length { len: 54 },
            ),
            // Trace id.
            (
                format!("00-.2345678901234567890123456789012-{PARENT_ID}-01"),
                E::TraceId,
            ),
            (
                format!("00-1234567890123456789012345678901.-{PARENT_ID}-01"),
                E::TraceId,
            ),
            (
                format!(
                    "00-{}-{PARENT_ID}-01",
                    TRACE_ID.to_uppercase().replace('1', "A")
                ),
                E::TraceId,
            ),
            (
                format!("00-4BF92F3577B34DA6A3CE929D0E0E4736-{PARENT_ID}-01"),
                E::TraceId,
            ),
            (format!("00-{TRACE_ID}_{PARENT_ID}-01"), E::TraceId),
            (
                format!("00-{}-{PARENT_ID}-01", "0".repeat(32)),
                E::ZeroTraceId,
            ),
            // Parent id.
            (format!("00-{TRACE_ID}-.234567890123456-01"), E::ParentId),
            (format!("00-{TRACE_ID}-123456789012345.-01"), E::ParentId),
            (format!("00-{TRACE_ID}-00F067AA0BA902B7-01"), E::ParentId),
            (format!("00-{TRACE_ID}-{PARENT_ID}_01"), E::ParentId),
            (
                format!("00-{TRACE_ID}-{}-01", "0".repeat(16)),
                E::ZeroParentId,
            ),
            // Flags.
            (format!("00-{TRACE_ID}-{PARENT_ID}-.0"), E::Flags),
            (format!("00-{TRACE_ID}-{PARENT_ID}-0."), E::Flags),
            (format!("00-{TRACE_ID}-{PARENT_ID}-0A"), E::Flags),
            (
                format!("cc-{TRACE_ID}-{PARENT_ID}-01.what-the-future-will-be-like"),
                E::Flags,
            ),
            (format!("cc-{TRACE_ID}-{PARENT_ID}-011"), E::Flags),
            // Too long, even for a later version.
            (
                format!("cc-{TRACE_ID}-{PARENT_ID}-01-{}", "x".repeat(500)),
                E::TooLong { len: 556 },
            ),
            // Whitespace inside the value, non-ASCII.
            (
                format!("00-{TRACE_ID}-{} -01", &PARENT_ID[1..]),
                E::ParentId,
            ),
            (
                format!("00-{TRACE_ID}-{PARENT_ID}-0é"),
                E::Length { len: 56 },
            ),
            (format!("00-{}é-{PARENT_ID}-01", &TRACE_ID[2..]), E::TraceId),
        ];
        for (value, expected) in cases {
            assert_eq!(TraceParent::parse(&value), Err(expected), "{value:?}");
            assert!(!expected.reason().is_empty());
        }
    }

    #[test]
    fn generated_trace_parents_are_valid_and_distinct() {
        let first = TraceParent::generate().unwrap();
        let second = TraceParent::generate().unwrap();
        assert_ne!(first.trace_id(), second.trace_id());
        assert_ne!(first.parent_id(), second.parent_id());
        assert_eq!(first.flags(), 0);
        assert_eq!(TraceParent::parse(&first.to_string()), Ok(first));
    }

    #[test]
    fn tracestate_is_kept_within_the_spec_limits_only() {
        let state = TraceState::parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE").unwrap();
        assert_eq!(state.as_str(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        // 32 members pass, 33 do not; empty members do not count.
        let full = vec!["k=v"; 32].join(",");
        assert!(TraceState::parse(&full).is_ok());
        assert!(TraceState::parse(&format!("{full},, ,\t")).is_ok());
        assert_eq!(
            TraceState::parse(&format!("{full},x=y")),
            Err(TraceStateError::TooManyMembers { members: 33 })
        );
        // 512 bytes pass, 513 do not.
        let long = format!("k={}", "v".repeat(510));
        assert!(TraceState::parse(&long).is_ok());
        assert_eq!(
            TraceState::parse(&format!("{long}v")),
            Err(TraceStateError::TooLong { len: 513 })
        );
        assert_eq!(TraceState::parse(""), Err(TraceStateError::Empty));
        assert_eq!(TraceState::parse(" ,\t, "), Err(TraceStateError::Empty));
        assert_eq!(
            TraceState::parse("k=v\nx=y"),
            Err(TraceStateError::InvalidChar)
        );
        assert_eq!(
            TraceState::parse("k=v\u{7f}"),
            Err(TraceStateError::InvalidChar)
        );
        assert_eq!(TraceState::parse("k=vé"), Err(TraceStateError::InvalidChar));
    }

    #[test]
    fn several_tracestate_headers_are_combined_in_order() {
        let mut headers = HeaderMap::new();
        headers.append(TRACESTATE_HEADER, HeaderValue::from_static("foo=1,bar=2"));
        headers.append(TRACESTATE_HEADER, HeaderValue::from_static(""));
        headers.append(TRACESTATE_HEADER, HeaderValue::from_static("baz=3"));
        let state = TraceState::from_headers(&headers).unwrap().unwrap();
        assert_eq!(state.as_str(), "foo=1,bar=2,,baz=3");

        // Together over the member limit: refused as a whole.
        let mut headers = HeaderMap::new();
        for _ in 0..33 {
            headers.append(TRACESTATE_HEADER, HeaderValue::from_static("k=v"));
        }
        assert_eq!(
            TraceState::from_headers(&headers),
            Err(TraceStateError::TooManyMembers { members: 33 })
        );
        // Many small values do not build an unbounded string.
        let mut headers = HeaderMap::new();
        for _ in 0..1000 {
            headers.append(TRACESTATE_HEADER, HeaderValue::from_static("k=v"));
        }
        assert!(matches!(
            TraceState::from_headers(&headers),
            Err(TraceStateError::TooLong { .. })
        ));
        // Empty only: nothing, not an error.
        let mut headers = HeaderMap::new();
        headers.insert(TRACESTATE_HEADER, HeaderValue::from_static(""));
        assert_eq!(TraceState::from_headers(&headers), Ok(None));
        // obs-text is not a tracestate.
        let mut headers = HeaderMap::new();
        headers.insert(
            TRACESTATE_HEADER,
            HeaderValue::from_bytes(b"k=\xe9").unwrap(),
        );
        assert_eq!(
            TraceState::from_headers(&headers),
            Err(TraceStateError::InvalidHeader)
        );
    }

    #[test]
    fn trace_context_continues_a_valid_trace_and_restarts_an_invalid_one() {
        let incoming = v00(TRACE_ID, PARENT_ID, "01");
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT_HEADER, incoming.parse().unwrap());
        headers.insert(TRACESTATE_HEADER, "foo=1".parse().unwrap());
        let context = TraceContext::from_headers(&headers).unwrap();
        assert_eq!(context.traceparent().to_string(), incoming);
        assert_eq!(context.tracestate().unwrap().as_str(), "foo=1");

        // A bad tracestate does not affect the traceparent.
        headers.insert(
            TRACESTATE_HEADER,
            vec!["k=v"; 40].join(",").parse().unwrap(),
        );
        let context = TraceContext::from_headers(&headers).unwrap();
        assert_eq!(context.traceparent().to_string(), incoming);
        assert!(context.tracestate().is_none());

        // Refused traceparents: a new trace id each time, and no tracestate.
        headers.insert(TRACESTATE_HEADER, "foo=1".parse().unwrap());
        let zero = v00(&"0".repeat(32), PARENT_ID, "01");
        for refused in [zero.as_str(), "ff-x", "00-garbage"] {
            headers.insert(TRACEPARENT_HEADER, refused.parse().unwrap());
            let context = TraceContext::from_headers(&headers).unwrap();
            assert_ne!(context.traceparent().to_string(), refused);
            assert_ne!(context.traceparent().trace_id(), &TRACE_ID_BYTES);
            assert!(context.tracestate().is_none());
        }
        // Two traceparents: ambiguous, so a new trace (the spec's test suite asks this).
        let mut headers = HeaderMap::new();
        headers.append(TRACEPARENT_HEADER, incoming.parse().unwrap());
        headers.append(
            TRACEPARENT_HEADER,
            v00("12345678901234567890123456789011", PARENT_ID, "01")
                .parse()
                .unwrap(),
        );
        let context = TraceContext::from_headers(&headers).unwrap();
        assert_ne!(context.traceparent().trace_id(), &TRACE_ID_BYTES);
        // None at all: a new trace.
        let context = TraceContext::from_headers(&HeaderMap::new()).unwrap();
        assert_eq!(context.traceparent().flags(), 0);
        assert!(context.tracestate().is_none());
    }

    #[test]
    fn inject_replaces_what_the_outgoing_request_had() {
        let context = TraceContext::new(
            TraceParent::parse(&v00(TRACE_ID, PARENT_ID, "01")).unwrap(),
            None,
        );
        let mut headers = HeaderMap::new();
        headers.append(TRACEPARENT_HEADER, "00-other".parse().unwrap());
        headers.append(TRACEPARENT_HEADER, "00-another".parse().unwrap());
        headers.insert(TRACESTATE_HEADER, "stale=1".parse().unwrap());
        context.inject(&mut headers);
        let values: Vec<_> = headers.get_all(TRACEPARENT_HEADER).iter().collect();
        assert_eq!(values, [v00(TRACE_ID, PARENT_ID, "01").as_str()]);
        assert!(headers.get(TRACESTATE_HEADER).is_none());

        let id = RequestId::parse("req-1").unwrap();
        headers.append(REQUEST_ID_HEADER, "spoofed".parse().unwrap());
        headers.append(REQUEST_ID_HEADER, "spoofed-too".parse().unwrap());
        id.inject(&mut headers);
        let values: Vec<_> = headers.get_all(REQUEST_ID_HEADER).iter().collect();
        assert_eq!(values, ["req-1"]);
    }

    #[test]
    fn request_ids_follow_the_audit_rule() {
        assert_eq!(RequestId::parse("a").unwrap().as_str(), "a");
        let longest = "x".repeat(MAX_REQUEST_ID_LEN);
        assert!(RequestId::parse(&longest).is_ok());
        assert_eq!(
            RequestId::parse(&format!("{longest}x")),
            Err(RequestIdError::TooLong { len: 129 })
        );
        assert_eq!(RequestId::parse(""), Err(RequestIdError::Empty));
        for bad in ["a b", "a\tb", "a\nb", "a\u{7f}", "é", "a\0"] {
            assert_eq!(
                RequestId::parse(bad),
                Err(RequestIdError::InvalidChar),
                "{bad:?}"
            );
        }

        let mut headers = HeaderMap::new();
        assert_eq!(RequestId::from_headers(&headers), None);
        headers.insert(
            REQUEST_ID_HEADER,
            HeaderValue::from_bytes(b"\xe9t\xe9").unwrap(),
        );
        assert_eq!(RequestId::from_headers(&headers), None);
        headers.insert(REQUEST_ID_HEADER, "has space".parse().unwrap());
        assert_eq!(RequestId::from_headers(&headers), None);
        headers.insert(REQUEST_ID_HEADER, "req-42".parse().unwrap());
        assert_eq!(
            RequestId::from_headers(&headers).unwrap().as_str(),
            "req-42"
        );
    }

    #[test]
    fn generated_request_ids_are_uuid_v4_and_distinct() {
        let id = RequestId::generate().unwrap();
        let text = id.as_str();
        assert_eq!(text.len(), 36);
        let groups: Vec<_> = text.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&text[14..15], "4");
        assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"));
        assert!(
            text.bytes()
                .all(|b| b == b'-' || lower_hex_value(b).is_some())
        );
        assert_eq!(RequestId::parse(text).unwrap(), id);
        assert_ne!(RequestId::generate().unwrap(), id);
    }
}
