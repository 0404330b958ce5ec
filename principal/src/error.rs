//! Typed errors. Each variant names the field and says why; `reason()` is a stable
//! snake_case label for logs and metrics.

use crate::ids::{Issuer, Kind, PrincipalId};
use crate::time::Timestamp;

/// A value failed to parse or validate: a typed id, an issuer, a scope, a role, a tenant,
/// or one of the bounded strings of a Principal.
///
/// `field` names what was being parsed (`"human_id"`, `"scope"`, `"subject"`, ...).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The value is empty.
    #[error("{field}: empty")]
    Empty {
        /// The field being parsed.
        field: &'static str,
    },
    /// The value is longer than its limit.
    #[error("{field}: {len} bytes, more than the limit of {max}")]
    TooLong {
        /// The field being parsed.
        field: &'static str,
        /// Length of the value in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The value contains a character its grammar does not allow.
    #[error("{field}: character {found:?} at byte {position} is not allowed")]
    InvalidChar {
        /// The field being parsed.
        field: &'static str,
        /// Byte offset of the character.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The value begins or ends with whitespace.
    #[error("{field}: leading or trailing whitespace")]
    SurroundingWhitespace {
        /// The field being parsed.
        field: &'static str,
    },
    /// A typed id does not start with the prefix of its kind.
    #[error("{field}: missing the {expected:?} prefix")]
    MissingPrefix {
        /// The field being parsed.
        field: &'static str,
        /// The prefix the id must start with.
        expected: &'static str,
    },
    /// A principal id starts with none of `hm-`, `am-`, `svc-`.
    #[error("{field}: no known id prefix (expected hm-, am- or svc-)")]
    UnknownPrefix {
        /// The field being parsed.
        field: &'static str,
    },
    /// The part after `hm-`/`am-` is not a lowercase hyphenated uuid.
    #[error("{field}: not a lowercase hyphenated uuid after the prefix")]
    InvalidUuid {
        /// The field being parsed.
        field: &'static str,
    },
    /// A service slug ends with `-`.
    #[error("{field}: a service slug must not end with '-'")]
    TrailingHyphen {
        /// The field being parsed.
        field: &'static str,
    },
    /// A kind other than `human`, `agent`, `service`.
    #[error("{field}: unknown kind (expected human, agent or service)")]
    UnknownKind {
        /// The field being parsed.
        field: &'static str,
    },
    /// A space-separated list has an empty entry (a leading, trailing or doubled space).
    #[error("{field}: empty entry at byte {position} (leading, trailing or repeated space)")]
    EmptyToken {
        /// The field being parsed.
        field: &'static str,
        /// Byte offset where the empty entry starts.
        position: usize,
    },
    /// A list has more entries than its limit.
    #[error("{field}: more than {max} entries")]
    TooMany {
        /// The field being parsed.
        field: &'static str,
        /// The limit.
        max: usize,
    },
}

impl IdError {
    /// A stable snake_case label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            IdError::Empty { .. } => "empty",
            IdError::TooLong { .. } => "too_long",
            IdError::InvalidChar { .. } => "invalid_char",
            IdError::SurroundingWhitespace { .. } => "surrounding_whitespace",
            IdError::MissingPrefix { .. } => "missing_prefix",
            IdError::UnknownPrefix { .. } => "unknown_prefix",
            IdError::InvalidUuid { .. } => "invalid_uuid",
            IdError::TrailingHyphen { .. } => "trailing_hyphen",
            IdError::UnknownKind { .. } => "unknown_kind",
            IdError::EmptyToken { .. } => "empty_token",
            IdError::TooMany { .. } => "too_many",
        }
    }

    /// The field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            IdError::Empty { field }
            | IdError::TooLong { field, .. }
            | IdError::InvalidChar { field, .. }
            | IdError::SurroundingWhitespace { field }
            | IdError::MissingPrefix { field, .. }
            | IdError::UnknownPrefix { field }
            | IdError::InvalidUuid { field }
            | IdError::TrailingHyphen { field }
            | IdError::UnknownKind { field }
            | IdError::EmptyToken { field, .. }
            | IdError::TooMany { field, .. } => field,
        }
    }
}

/// A [`PrincipalBuilder`](crate::PrincipalBuilder) refused to build: an invariant of the
/// model would not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrincipalError {
    /// A field's value is invalid; the inner error names the field.
    #[error("invalid value: {0}")]
    Invalid(#[from] IdError),
    /// `expires_at` was not set: every Principal expires.
    #[error("expires_at: required")]
    MissingExpiry,
    /// `expires_at` is not after `issued_at`.
    #[error("expires_at ({expires_at}) is not after issued_at ({issued_at})")]
    ExpiresBeforeIssued {
        /// The issue time.
        issued_at: Timestamp,
        /// The expiry.
        expires_at: Timestamp,
    },
    /// `expires_at` is not after `not_before`: the Principal could never be valid.
    #[error("expires_at ({expires_at}) is not after not_before ({not_before})")]
    ExpiresBeforeNotBefore {
        /// The start of validity.
        not_before: Timestamp,
        /// The expiry.
        expires_at: Timestamp,
    },
    /// The delegation chain is longer than the maximum depth.
    #[error("delegation: {depth} actors, more than the maximum of {max}")]
    DelegationTooDeep {
        /// Number of actors in the chain.
        depth: usize,
        /// The maximum in force.
        max: usize,
    },
    /// A maximum delegation depth above the hard cap was requested.
    #[error("max_delegation_depth: {requested} is above the hard cap of {cap}")]
    DepthAboveHardCap {
        /// The requested maximum.
        requested: usize,
        /// The hard cap ([`HARD_MAX_DELEGATION_DEPTH`](crate::limits::HARD_MAX_DELEGATION_DEPTH)).
        cap: usize,
    },
    /// The same actor appears twice in one chain: the same id, or the same issuer and
    /// subject under another kind.
    #[error("delegation: actor {id} appears more than once")]
    RepeatedActor {
        /// The repeated actor.
        id: PrincipalId,
    },
    /// An actor is the subject itself: nobody delegates to themselves. The same id, or the
    /// subject's issuer and subject under another kind (a human acting as an agent for
    /// themselves).
    #[error("delegation: actor {id} is the subject itself")]
    ActorIsSubject {
        /// The actor (and subject) id.
        id: PrincipalId,
    },
    /// A list field has more entries than its limit.
    #[error("{field}: {len} entries, more than the limit of {max}")]
    TooMany {
        /// The field.
        field: &'static str,
        /// Number of entries.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `may_act` is not a bounded JSON object.
    #[error("may_act: {why}")]
    InvalidMayAct {
        /// What is wrong with it.
        why: &'static str,
    },
}

impl PrincipalError {
    /// A stable snake_case label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            PrincipalError::Invalid(_) => "invalid_field",
            PrincipalError::MissingExpiry => "missing_expiry",
            PrincipalError::ExpiresBeforeIssued { .. } => "expires_before_issued",
            PrincipalError::ExpiresBeforeNotBefore { .. } => "expires_before_not_before",
            PrincipalError::DelegationTooDeep { .. } => "delegation_too_deep",
            PrincipalError::DepthAboveHardCap { .. } => "depth_above_hard_cap",
            PrincipalError::RepeatedActor { .. } => "repeated_actor",
            PrincipalError::ActorIsSubject { .. } => "actor_is_subject",
            PrincipalError::TooMany { .. } => "too_many",
            PrincipalError::InvalidMayAct { .. } => "invalid_may_act",
        }
    }
}

/// Claims could not be decoded or mapped to a Principal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// The claims document is larger than
    /// [`MAX_CLAIMS_JSON_LEN`](crate::limits::MAX_CLAIMS_JSON_LEN).
    #[error("claims: {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// Size of the document.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The claims are not a JSON object of the expected shape (malformed, truncated, a claim
    /// of the wrong JSON type).
    #[error("claims: malformed JSON: {0}")]
    Malformed(#[source] serde_json::Error),
    /// `act` is nested deeper than [`MAX_ACT_NESTING`](crate::limits::MAX_ACT_NESTING).
    #[error("act: nested deeper than {max}")]
    ActTooDeep {
        /// The limit.
        max: usize,
    },
    /// A claim the Principal needs is absent.
    #[error("{claim}: required claim is missing")]
    Missing {
        /// The claim.
        claim: &'static str,
    },
    /// A claim's value is invalid.
    #[error("{claim}: {source}")]
    Invalid {
        /// The claim (a dotted path for nested claims, e.g. `act.act.sub`).
        claim: String,
        /// What is wrong with the value.
        #[source]
        source: IdError,
    },
    /// A claim has the wrong JSON type.
    #[error("{claim}: expected {expected}")]
    WrongType {
        /// The claim (a name or JSON pointer).
        claim: String,
        /// The JSON type expected.
        expected: &'static str,
    },
    /// The explicit kind claim contradicts the kind of the typed id.
    #[error("{claim}: says {claimed} but the id is of kind {found}")]
    KindConflict {
        /// The kind claim.
        claim: String,
        /// The kind the claim states.
        claimed: Kind,
        /// The kind of the id.
        found: Kind,
    },
    /// A list claim has more entries than its limit.
    #[error("{claim}: more than {max} entries")]
    TooMany {
        /// The claim.
        claim: String,
        /// The limit.
        max: usize,
    },
    /// An actor's `iss` is neither the token's `iss` nor an issuer the mapping allows
    /// ([`ClaimMapping::with_actor_issuer`](crate::ClaimMapping::with_actor_issuer)).
    #[error("{claim}: actor issuer {issuer} is not the token's issuer and not allowed")]
    ActorIssuerNotAllowed {
        /// The claim (`act.iss`, `act.act.iss`, ...).
        claim: String,
        /// The actor's issuer.
        issuer: Issuer,
    },
    /// The mapped Principal would break an invariant of the model.
    #[error("principal: {0}")]
    Principal(#[from] PrincipalError),
}

impl ClaimError {
    /// A stable snake_case label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            ClaimError::TooLarge { .. } => "claims_too_large",
            ClaimError::Malformed(_) => "malformed_claims",
            ClaimError::ActTooDeep { .. } => "act_too_deep",
            ClaimError::Missing { .. } => "missing_claim",
            ClaimError::Invalid { .. } => "invalid_claim",
            ClaimError::WrongType { .. } => "wrong_claim_type",
            ClaimError::KindConflict { .. } => "kind_conflict",
            ClaimError::TooMany { .. } => "too_many_claim_values",
            ClaimError::ActorIssuerNotAllowed { .. } => "actor_issuer_not_allowed",
            ClaimError::Principal(e) => e.reason(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_snake_case() {
        let errors: Vec<&'static str> = vec![
            IdError::Empty { field: "x" }.reason(),
            IdError::TooMany { field: "x", max: 1 }.reason(),
            PrincipalError::MissingExpiry.reason(),
            PrincipalError::InvalidMayAct { why: "x" }.reason(),
            ClaimError::Missing { claim: "exp" }.reason(),
            ClaimError::ActTooDeep { max: 8 }.reason(),
        ];
        for reason in errors {
            assert!(
                reason.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{reason}"
            );
        }
    }

    #[test]
    fn messages_name_the_field() {
        let e = IdError::TooLong {
            field: "issuer",
            len: 3000,
            max: 2048,
        };
        assert_eq!(
            e.to_string(),
            "issuer: 3000 bytes, more than the limit of 2048"
        );
        assert_eq!(e.field(), "issuer");
    }
}
