//! Why a request was not authenticated, and the one HTTP answer to it.
//!
//! Every verifier and layer in this crate fails with an [`AuthError`]. Each variant names
//! the field or step that failed; [`AuthError::reason`] is a stable snake_case label for
//! the audit event and metrics; [`AuthError::challenge`] is the RFC 6750 classification
//! that the transports map once each: HTTP in [`HttpChallenge`], gRPC in `tonic-auth`.
//!
//! Clients learn the classification only (an RFC 6750 `error` code, never a description);
//! the precise reason goes to `tracing`.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use principal::{ClaimError, Timestamp};

/// The part of a token a [`AuthError::MalformedToken`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenPart {
    /// The overall shape (for a JWS compact token: three dot-separated base64url segments).
    Structure,
    /// The JOSE header.
    Header,
    /// The claims (payload).
    Claims,
    /// The signature segment.
    Signature,
}

impl fmt::Display for TokenPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenPart::Structure => "structure",
            TokenPart::Header => "header",
            TokenPart::Claims => "claims",
            TokenPart::Signature => "signature",
        })
    }
}

/// What is wrong with an `Authorization` header (RFC 6750 §2.1, RFC 9110 §11.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderProblem {
    /// The header value is empty.
    Empty,
    /// The scheme is not an RFC 9110 `token` (or the value starts with a space).
    InvalidScheme,
    /// `Bearer` is not followed by a space and a token.
    MissingCredentials,
    /// The credentials are not one RFC 6750 `b64token`: a byte outside its alphabet, `=`
    /// before the end, a second parameter, or surrounding whitespace.
    NotB64Token,
}

impl HeaderProblem {
    fn as_str(self) -> &'static str {
        match self {
            HeaderProblem::Empty => "empty value",
            HeaderProblem::InvalidScheme => "the scheme is not an RFC 9110 token",
            HeaderProblem::MissingCredentials => "no token after the Bearer scheme",
            HeaderProblem::NotB64Token => "the credentials are not one RFC 6750 b64token",
        }
    }
}

impl fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The denylisted field that revoked a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevokedField {
    /// The token id (`jti`).
    TokenId,
    /// The session id (`sid`).
    SessionId,
    /// The issuer's subject (`sub`).
    Subject,
    /// The Principal's typed id (`hm-…`, `am-…`, `svc-…`).
    PrincipalId,
    /// The typed id of an actor in the Principal's delegation chain.
    Actor,
}

impl RevokedField {
    /// The claim or field name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            RevokedField::TokenId => "jti",
            RevokedField::SessionId => "sid",
            RevokedField::Subject => "sub",
            RevokedField::PrincipalId => "principal_id",
            RevokedField::Actor => "act",
        }
    }
}

/// A revocation check refused a Principal. Returned by
/// [`RevocationCheck::check`](crate::revocation::RevocationCheck::check).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{}: revoked", field.name())]
pub struct Revoked {
    field: RevokedField,
}

impl Revoked {
    /// A refusal because of `field`.
    pub fn new(field: RevokedField) -> Self {
        Revoked { field }
    }

    /// The field that matched the denylist.
    pub fn field(&self) -> RevokedField {
        self.field
    }
}

/// The revocation list cannot vouch for anyone: its mirror has not synced with its source
/// for longer than the operator allows, and the operator chose to fail closed
/// ([`StalePolicy::FailClosed`](crate::revocation::StalePolicy::FailClosed)). Carried by
/// [`AuthError::RevocationListStale`]: 503, like unavailable keys, since the token may be
/// fine and the caller can do nothing but retry.
///
/// ```
/// use tower_auth::error::{AuthError, Challenge, RevocationListStale};
///
/// let stale = RevocationListStale::new(Some(95), 60);
/// assert_eq!(stale.age_seconds(), Some(95));
/// let error = AuthError::from(stale);
/// assert_eq!(error.reason(), "revocation_list_stale");
/// assert_eq!(error.challenge(), Challenge::Unavailable);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("revocation list stale: last synced {}, at most {max_age_seconds} s allowed", match age_seconds { Some(age) => format!("{age} s ago"), None => "never".to_owned() })]
pub struct RevocationListStale {
    age_seconds: Option<u64>,
    max_age_seconds: u64,
}

impl RevocationListStale {
    /// The list was last synced `age_seconds` ago (`None`: never), more than
    /// `max_age_seconds`.
    pub fn new(age_seconds: Option<u64>, max_age_seconds: u64) -> Self {
        RevocationListStale {
            age_seconds,
            max_age_seconds,
        }
    }

    /// Seconds since the last successful sync; `None` if it never synced.
    pub fn age_seconds(&self) -> Option<u64> {
        self.age_seconds
    }

    /// The largest age the operator allows.
    pub fn max_age_seconds(&self) -> u64 {
        self.max_age_seconds
    }
}

/// Why a [`RevocationCheck`](crate::revocation::RevocationCheck) refused a Principal:
/// it is revoked, or the list is too stale to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// A denylist entry matched.
    #[error(transparent)]
    Revoked(#[from] Revoked),
    /// The list is too old to answer (fail closed).
    #[error(transparent)]
    Stale(#[from] RevocationListStale),
}

impl RevocationError {
    /// The matched denylist entry, if that was the reason.
    pub fn revoked(&self) -> Option<Revoked> {
        match self {
            RevocationError::Revoked(revoked) => Some(*revoked),
            RevocationError::Stale(_) => None,
        }
    }
}

impl From<RevocationError> for AuthError {
    fn from(error: RevocationError) -> Self {
        match error {
            RevocationError::Revoked(revoked) => AuthError::Revoked(revoked),
            RevocationError::Stale(stale) => AuthError::RevocationListStale(stale),
        }
    }
}

/// Why RFC 7662 introspection did not vouch for a token: the authorization server said
/// it is not active, or gave no usable answer. Carried by [`AuthError::Introspection`];
/// every case refuses the request (fail closed), each under its own
/// [`reason`](AuthError::reason) in the audit event and metrics.
///
/// ```
/// use tower_auth::error::{AuthError, Challenge, IntrospectionError};
///
/// let inactive = AuthError::Introspection(IntrospectionError::Inactive);
/// assert_eq!(inactive.reason(), "introspection_inactive");
/// assert_eq!(inactive.challenge(), Challenge::InvalidToken);
///
/// // No usable answer: the token may be fine, it cannot be checked now (503).
/// let timeout = AuthError::Introspection(IntrospectionError::Timeout);
/// assert_eq!(timeout.reason(), "introspection_timeout");
/// assert_eq!(timeout.challenge(), Challenge::Unavailable);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectionError {
    /// The authorization server answered `"active": false`: the token is unknown,
    /// expired, revoked or not meant for this client.
    #[error("the authorization server says the token is not active")]
    Inactive,
    /// No complete answer within the configured timeout.
    #[error("no answer within the timeout")]
    Timeout,
    /// The endpoint answered with a redirect, which is never followed (it would send the
    /// token and the client's credentials elsewhere).
    #[error("answered with a redirect (HTTP {status}), which is not followed")]
    Redirect {
        /// The 3xx status.
        status: u16,
    },
    /// The endpoint answered `401` or `403`: it refused this service's client
    /// authentication (a configuration fault, not the caller's).
    #[error("refused this service's client authentication (HTTP {status})")]
    ClientRejected {
        /// The status.
        status: u16,
    },
    /// The endpoint answered another status than `200` (a 5xx, a 4xx other than 401 and
    /// 403).
    #[error("answered HTTP {status}")]
    HttpStatus {
        /// The status.
        status: u16,
    },
    /// The endpoint could not be reached (connection refused, TLS failure, reset).
    #[error("unreachable: {detail}")]
    Unreachable {
        /// What the transport said, cut to a bounded length.
        detail: String,
    },
    /// The answer is not an RFC 7662 response: not JSON, not a JSON object, a content
    /// type that is not JSON, no `active` member or one that is not a boolean, or a
    /// registered member of the wrong type.
    #[error("the answer is malformed: {why}")]
    Malformed {
        /// What is wrong with it.
        why: &'static str,
    },
    /// The answer is larger than the limit.
    #[error("the answer is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

/// A request could not be authenticated.
///
/// The variants fall in three groups: the request (header, size), the token (format,
/// signature, claims, revocation) and the server (key source, configuration). Two variants,
/// [`UnknownIssuer`](Self::UnknownIssuer) and
/// [`UnsupportedTokenFormat`](Self::UnsupportedTokenFormat), are *declines*: a verifier
/// returns them for tokens that are not its business, so a
/// [`VerifierChain`](crate::verifier::VerifierChain) asks the next verifier (see
/// [`is_decline`](Self::is_decline)).
///
/// ```
/// use tower_auth::error::{AuthError, Challenge};
///
/// let missing = AuthError::MissingToken;
/// assert_eq!(missing.reason(), "missing_token");
/// assert_eq!(missing.challenge(), Challenge::NoCredentials);
///
/// let expired = AuthError::BadSignature;
/// assert_eq!(expired.challenge(), Challenge::InvalidToken);
/// assert_eq!(expired.challenge().error_code(), Some("invalid_token"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    // ---- the request ----
    /// No `Authorization` header: the caller sent no credentials.
    #[error("authorization: no credentials sent")]
    MissingToken,
    /// The `Authorization` header uses a scheme other than `Bearer` (RFC 6750 §3.1 treats
    /// this like sending no credentials).
    #[error("authorization: scheme is not Bearer")]
    UnsupportedScheme,
    /// The `Authorization` header is not of the form `Bearer <b64token>`.
    #[error("authorization: {problem}")]
    MalformedAuthorizationHeader {
        /// What is wrong with it.
        problem: HeaderProblem,
    },
    /// More than one `Authorization` header: which one to trust is ambiguous.
    #[error("authorization: {count} headers, exactly one allowed")]
    DuplicateAuthorizationHeaders {
        /// How many were sent.
        count: usize,
    },
    /// A credential header other than `Authorization` (`x-principal-bin`,
    /// `x-baton-internal-token`) is sent twice, is not visible ASCII, or is too large.
    #[error("{header}: {problem}")]
    MalformedCredentialHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The bearer token is longer than the configured maximum.
    #[error("token: {len} bytes, more than the limit of {max}")]
    TokenTooLarge {
        /// Length of the token in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },

    // ---- declines (a chain moves on) ----
    /// The token is not of this verifier's format (for example an opaque token given to a
    /// JWT verifier). A decline.
    #[error("token: not a format this verifier handles")]
    UnsupportedTokenFormat,
    /// The token's issuer is not one this verifier is configured for. A decline.
    #[error("iss: not an issuer this verifier accepts")]
    UnknownIssuer,

    // ---- the token ----
    /// The token does not parse.
    #[error("token {part}: {why}")]
    MalformedToken {
        /// The part that does not parse.
        part: TokenPart,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The header's `alg` is not one Baton accepts (`none`, unknown, or not allowed by the
    /// verifier's policy).
    #[error("alg: {alg:?} is not accepted")]
    UnsupportedAlgorithm {
        /// The `alg` the token names (bounded by the token size limit).
        alg: String,
    },
    /// The header's `alg` differs from the algorithm fixed by the selected key: the
    /// algorithm comes from the key, never from the token.
    #[error("alg: token says {token:?} but the key is for {key:?}")]
    AlgorithmMismatch {
        /// The algorithm the token header names.
        token: jsonwebtoken::Algorithm,
        /// The algorithm of the key.
        key: jsonwebtoken::Algorithm,
    },
    /// No key of the issuer has the token's `kid` (after at most one refetch).
    #[error("kid: {kid:?} is not in the issuer's key set")]
    UnknownKeyId {
        /// The `kid` the token names, if any.
        kid: Option<String>,
    },
    /// The signature does not verify with the selected key.
    #[error("signature: does not verify")]
    BadSignature,
    /// `exp` has passed (after the clock leeway).
    #[error("exp: expired at {expired_at}, now is {now}")]
    Expired {
        /// The token's `exp`.
        expired_at: Timestamp,
        /// The verifier's time.
        now: Timestamp,
    },
    /// `nbf` is still ahead (after the clock leeway).
    #[error("nbf: not valid before {not_before}, now is {now}")]
    NotYetValid {
        /// The token's `nbf`.
        not_before: Timestamp,
        /// The verifier's time.
        now: Timestamp,
    },
    /// `iat` is in the future (after the clock leeway).
    #[error("iat: issued at {issued_at}, in the future (now is {now})")]
    IssuedInFuture {
        /// The token's `iat`.
        issued_at: Timestamp,
        /// The verifier's time.
        now: Timestamp,
    },
    /// `iss` differs from the issuer whose key verified the token.
    #[error("iss: {found:?} is not the expected issuer")]
    WrongIssuer {
        /// The `iss` the token carries (bounded by the token size limit).
        found: String,
    },
    /// No `aud` value is an audience this verifier accepts.
    #[error("aud: none of the token's audiences is accepted")]
    WrongAudience,
    /// A claim the verifier requires is absent.
    #[error("{claim}: required claim is missing")]
    MissingClaim {
        /// The claim: a constant for registered claims, owned for configured ones.
        claim: Cow<'static, str>,
    },
    /// The header's `typ` is not the one this verifier requires (for example `at+jwt`).
    #[error("typ: {found:?} is not the required type")]
    WrongType {
        /// The `typ` the token carries, if any.
        found: Option<String>,
    },
    /// The header lists a `crit` extension this verifier does not understand (RFC 7515
    /// §4.1.11 requires rejecting it).
    #[error("crit: {name:?} is not understood")]
    UnknownCritical {
        /// The extension's name.
        name: String,
    },
    /// A revocation check refused the token.
    #[error("token revoked: {0}")]
    Revoked(#[from] Revoked),

    // ---- passports (pattern 4) ----
    /// The `x-principal-bin` passport failed principal-proto's checks: base64, size,
    /// shape, signature (unknown or retired key id, wrong key, tampered bytes), lifetime,
    /// expiry, audience or the Principal inside. The message names keys and audiences,
    /// never key material.
    #[error("x-principal-bin: {0}")]
    InvalidPassport(principal_proto::PassportError),
    /// An unsigned passport arrived without an authenticated transport peer: only an
    /// allowlisted mTLS workload may send one.
    #[error("x-principal-bin: unsigned passport without an authenticated transport peer")]
    UnsignedPassportWithoutPeer,
    /// An unsigned passport arrived from a transport peer that is not on the allowlist.
    #[error("x-principal-bin: unsigned passport from peer {peer}, which is not allowlisted")]
    UnsignedPassportPeerNotAllowed {
        /// The peer's SPIFFE ID (an identity, not a secret).
        peer: crate::peer::SpiffeId,
    },
    /// The passport's request id is not the request's `x-request-id`: a passport is
    /// bound to the one request it was issued for.
    #[error("x-principal-bin: the passport's request id is not this request's x-request-id")]
    PassportRequestIdMismatch,
    /// A signed passport arrived at a verifier that takes unsigned passports from
    /// allowlisted peers only ([`PassportHeaderVerifier::unsigned_only`](crate::passport::PassportHeaderVerifier::unsigned_only)):
    /// it holds no key to check the signature with.
    #[error(
        "x-principal-bin: a signed passport, where only unsigned passports from allowlisted peers are accepted"
    )]
    SignedPassportNotAccepted,
    /// A passport arrived without an `x-request-id` to bind it to.
    #[error("x-request-id: missing, so the passport cannot be bound to this request")]
    MissingRequestId,
    /// The verified claims do not map to a valid Principal.
    #[error("claims: {0}")]
    ClaimMapping(#[from] ClaimError),

    // ---- introspection (pattern 3) ----
    /// RFC 7662 introspection refused the token or gave no usable answer; the
    /// [`IntrospectionError`] says which.
    #[error("introspection: {0}")]
    Introspection(#[from] IntrospectionError),

    // ---- authorization ----
    /// The Principal lacks a scope the resource requires (RFC 6750 `insufficient_scope`).
    #[error("scope: {required:?} is required")]
    InsufficientScope {
        /// The scope that is required and missing.
        required: String,
    },

    /// An authorization policy refused the request, or could not decide it and so refused
    /// it (fail closed): answered 403 `insufficient_scope` like a missing scope, without a
    /// `scope` attribute (no one scope would make it pass). `reason` is the
    /// [`policy`](crate::policy) module's stable label (`policy_not_permitted`,
    /// `policy_forbidden`, `policy_error`, `policy_no_target`).
    #[error("policy: refused ({reason})")]
    PolicyDenied {
        /// The policy module's label for the refusal.
        reason: &'static str,
    },

    // ---- the server ----
    /// The issuer's keys are unavailable: the key source cannot be reached and the last
    /// good key set is older than the maximum staleness. The token may be fine; it cannot
    /// be verified now.
    #[error("keys of issuer {issuer:?}: unavailable (key source down beyond maximum staleness)")]
    KeySourceUnavailable {
        /// The issuer whose keys are unavailable.
        issuer: String,
    },
    /// The revocation list is older than its maximum age and the operator chose to fail
    /// closed: no token can be checked against it now. The token may be fine (503).
    #[error(transparent)]
    RevocationListStale(#[from] RevocationListStale),
    /// A server-side fault: a configuration that cannot work, or an invariant broken
    /// inside Baton. Never the caller's fault.
    #[error("internal: {why}")]
    Internal {
        /// What went wrong.
        why: &'static str,
    },
}

impl AuthError {
    /// A stable snake_case label for logs and metrics.
    ///
    /// ```
    /// use tower_auth::error::{AuthError, Revoked, RevokedField};
    ///
    /// assert_eq!(AuthError::BadSignature.reason(), "bad_signature");
    /// let revoked = AuthError::from(Revoked::new(RevokedField::SessionId));
    /// assert_eq!(revoked.reason(), "revoked_session_id");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::UnsupportedScheme => "unsupported_scheme",
            AuthError::MalformedAuthorizationHeader { .. } => "malformed_authorization_header",
            AuthError::DuplicateAuthorizationHeaders { .. } => "duplicate_authorization_headers",
            AuthError::MalformedCredentialHeader { .. } => "malformed_credential_header",
            AuthError::TokenTooLarge { .. } => "token_too_large",
            AuthError::UnsupportedTokenFormat => "unsupported_token_format",
            AuthError::UnknownIssuer => "unknown_issuer",
            AuthError::MalformedToken { .. } => "malformed_token",
            AuthError::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            AuthError::AlgorithmMismatch { .. } => "algorithm_mismatch",
            AuthError::UnknownKeyId { .. } => "unknown_key_id",
            AuthError::BadSignature => "bad_signature",
            AuthError::Expired { .. } => "expired",
            AuthError::NotYetValid { .. } => "not_yet_valid",
            AuthError::IssuedInFuture { .. } => "issued_in_future",
            AuthError::WrongIssuer { .. } => "wrong_issuer",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::MissingClaim { .. } => "missing_claim",
            AuthError::WrongType { .. } => "wrong_type",
            AuthError::UnknownCritical { .. } => "unknown_crit",
            AuthError::Revoked(revoked) => match revoked.field() {
                RevokedField::TokenId => "revoked_token_id",
                RevokedField::SessionId => "revoked_session_id",
                RevokedField::Subject => "revoked_subject",
                RevokedField::PrincipalId => "revoked_principal_id",
                RevokedField::Actor => "revoked_actor",
            },
            AuthError::ClaimMapping(_) => "claim_mapping",
            AuthError::Introspection(error) => match error {
                IntrospectionError::Inactive => "introspection_inactive",
                IntrospectionError::Timeout => "introspection_timeout",
                IntrospectionError::Redirect { .. } => "introspection_redirect",
                IntrospectionError::ClientRejected { .. } => "introspection_client_rejected",
                IntrospectionError::HttpStatus { .. } => "introspection_http_status",
                IntrospectionError::Unreachable { .. } => "introspection_unreachable",
                IntrospectionError::Malformed { .. } => "introspection_malformed",
                IntrospectionError::TooLarge { .. } => "introspection_too_large",
            },
            AuthError::InvalidPassport(error) => passport_reason(error),
            AuthError::UnsignedPassportWithoutPeer => "unsigned_passport_without_peer",
            AuthError::UnsignedPassportPeerNotAllowed { .. } => {
                "unsigned_passport_peer_not_allowed"
            }
            AuthError::PassportRequestIdMismatch => "passport_request_id_mismatch",
            AuthError::SignedPassportNotAccepted => "signed_passport_not_accepted",
            AuthError::MissingRequestId => "missing_request_id",
            AuthError::InsufficientScope { .. } => "insufficient_scope",
            AuthError::PolicyDenied { reason } => reason,
            AuthError::KeySourceUnavailable { .. } => "key_source_unavailable",
            AuthError::RevocationListStale(_) => "revocation_list_stale",
            AuthError::Internal { .. } => "internal",
        }
    }

    /// The RFC 6750 classification of this error: what a client may learn.
    ///
    /// ```
    /// use tower_auth::error::{AuthError, Challenge, HeaderProblem};
    ///
    /// let bad_header = AuthError::MalformedAuthorizationHeader { problem: HeaderProblem::Empty };
    /// assert_eq!(bad_header.challenge(), Challenge::InvalidRequest);
    /// assert_eq!(AuthError::UnknownIssuer.challenge(), Challenge::InvalidToken);
    /// ```
    pub fn challenge(&self) -> Challenge {
        match self {
            AuthError::MissingToken | AuthError::UnsupportedScheme => Challenge::NoCredentials,
            AuthError::MalformedAuthorizationHeader { .. }
            | AuthError::DuplicateAuthorizationHeaders { .. }
            | AuthError::MalformedCredentialHeader { .. } => Challenge::InvalidRequest,
            AuthError::TokenTooLarge { .. }
            | AuthError::UnsupportedTokenFormat
            | AuthError::UnknownIssuer
            | AuthError::MalformedToken { .. }
            | AuthError::UnsupportedAlgorithm { .. }
            | AuthError::AlgorithmMismatch { .. }
            | AuthError::UnknownKeyId { .. }
            | AuthError::BadSignature
            | AuthError::Expired { .. }
            | AuthError::NotYetValid { .. }
            | AuthError::IssuedInFuture { .. }
            | AuthError::WrongIssuer { .. }
            | AuthError::WrongAudience
            | AuthError::MissingClaim { .. }
            | AuthError::WrongType { .. }
            | AuthError::UnknownCritical { .. }
            | AuthError::Revoked(_)
            | AuthError::ClaimMapping(_)
            | AuthError::InvalidPassport(_)
            | AuthError::UnsignedPassportWithoutPeer
            | AuthError::UnsignedPassportPeerNotAllowed { .. }
            | AuthError::PassportRequestIdMismatch
            | AuthError::SignedPassportNotAccepted
            | AuthError::MissingRequestId => Challenge::InvalidToken,
            AuthError::Introspection(IntrospectionError::Inactive) => Challenge::InvalidToken,
            // The authorization server refused this service, not the caller.
            AuthError::Introspection(IntrospectionError::ClientRejected { .. }) => {
                Challenge::Internal
            }
            // No usable answer: the token may be fine, it cannot be checked now.
            AuthError::Introspection(_) => Challenge::Unavailable,
            AuthError::InsufficientScope { .. } | AuthError::PolicyDenied { .. } => {
                Challenge::InsufficientScope
            }
            AuthError::KeySourceUnavailable { .. } => Challenge::Unavailable,
            AuthError::RevocationListStale(_) => Challenge::Unavailable,
            AuthError::Internal { .. } => Challenge::Internal,
        }
    }

    /// Whether this is a *decline*: the verifier says the token is not its business
    /// (another format or issuer), so a [`VerifierChain`](crate::verifier::VerifierChain)
    /// moves on to its next verifier. Every other error is a verdict and stops the chain.
    ///
    /// ```
    /// use tower_auth::error::AuthError;
    ///
    /// assert!(AuthError::UnknownIssuer.is_decline());
    /// assert!(!AuthError::BadSignature.is_decline());
    /// ```
    pub fn is_decline(&self) -> bool {
        matches!(
            self,
            AuthError::UnknownIssuer | AuthError::UnsupportedTokenFormat
        )
    }

    /// Whether the request carried no bearer credentials at all ([`MissingToken`] or
    /// another scheme). Optional authentication lets exactly these through, anonymous.
    ///
    /// [`MissingToken`]: Self::MissingToken
    pub fn is_no_credentials(&self) -> bool {
        matches!(self, AuthError::MissingToken | AuthError::UnsupportedScheme)
    }
}

/// The label of a refused passport: the failures worth telling apart in metrics, the
/// rest (base64, shape, fields, the Principal inside) as `malformed_passport`.
fn passport_reason(error: &principal_proto::PassportError) -> &'static str {
    use principal_proto::PassportError as E;
    match error {
        E::Expired { .. } | E::PrincipalExpired { .. } => "passport_expired",
        E::NotYetValid { .. } | E::PrincipalNotYetValid { .. } => "passport_not_yet_valid",
        E::WrongAudience { .. } => "passport_wrong_audience",
        E::UnknownKeyId { .. } => "passport_unknown_key_id",
        E::BadSignature { .. } => "passport_bad_signature",
        E::UnsupportedAlgorithm { .. } | E::AlgorithmMismatch { .. } => "passport_algorithm",
        E::Oversized { .. } => "passport_too_large",
        _ => "malformed_passport",
    }
}

/// The RFC 6750 classification of an [`AuthError`]: the only thing a client learns.
///
/// Each transport maps it once: HTTP in [`HttpChallenge`], gRPC in `tonic-auth`
/// (`UNAUTHENTICATED`, `PERMISSION_DENIED`, `UNAVAILABLE`, `INTERNAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Challenge {
    /// No bearer credentials were sent: challenge without an error code (RFC 6750 §3.1).
    NoCredentials,
    /// The request is malformed (`invalid_request`).
    InvalidRequest,
    /// The token is expired, revoked, malformed or otherwise invalid (`invalid_token`).
    InvalidToken,
    /// The token is valid but lacks a required scope (`insufficient_scope`).
    InsufficientScope,
    /// The token cannot be verified right now (the issuer's keys are unavailable, or
    /// introspection gave no usable answer).
    Unavailable,
    /// A server-side fault.
    Internal,
}

impl Challenge {
    /// The RFC 6750 §3.1 `error` code, if this classification has one.
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            Challenge::InvalidRequest => Some("invalid_request"),
            Challenge::InvalidToken => Some("invalid_token"),
            Challenge::InsufficientScope => Some("insufficient_scope"),
            Challenge::NoCredentials | Challenge::Unavailable | Challenge::Internal => None,
        }
    }

    /// The HTTP status code: 401 for missing or invalid tokens, 400 for malformed
    /// requests and 403 for insufficient scope (RFC 6750 §3.1), 503 when keys are
    /// unavailable, 500 for server faults.
    pub fn status(self) -> StatusCode {
        match self {
            Challenge::NoCredentials | Challenge::InvalidToken => StatusCode::UNAUTHORIZED,
            Challenge::InvalidRequest => StatusCode::BAD_REQUEST,
            Challenge::InsufficientScope => StatusCode::FORBIDDEN,
            Challenge::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Challenge::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Why a request was refused, attached to the extensions of every refusal response
/// built by [`HttpChallenge`] (as tower-http does), for tests, audit and outer layers.
///
/// ```
/// use tower_auth::error::{AuthError, AuthRejection, Challenge, HttpChallenge};
///
/// let response: http::Response<String> = HttpChallenge::new().response(&AuthError::BadSignature);
/// let rejection = response.extensions().get::<AuthRejection>().unwrap();
/// assert_eq!(rejection.reason(), "bad_signature");
/// assert_eq!(rejection.challenge(), Challenge::InvalidToken);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthRejection {
    reason: &'static str,
    challenge: Challenge,
}

impl AuthRejection {
    /// A refusal with this reason and class: for authorization refusals (the
    /// [`require`](crate::require) layer), whose precise reason is not an [`AuthError`].
    pub(crate) fn new(reason: &'static str, challenge: Challenge) -> Self {
        AuthRejection { reason, challenge }
    }

    /// The rejection of `error`.
    pub fn of(error: &AuthError) -> Self {
        AuthRejection {
            reason: error.reason(),
            challenge: error.challenge(),
        }
    }

    /// [`AuthError::reason`] of the error that caused the refusal.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// [`AuthError::challenge`] of the error that caused the refusal.
    pub fn challenge(&self) -> Challenge {
        self.challenge
    }
}

/// A realm could not be used in a `WWW-Authenticate` header.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RealmError {
    /// The realm is empty.
    #[error("realm: empty")]
    Empty,
    /// The realm is longer than [`MAX_REALM_LEN`] bytes.
    #[error("realm: {len} bytes, more than the limit of {max}")]
    TooLong {
        /// Length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The realm contains a byte that cannot stand in a quoted-string unescaped (a control
    /// character, non-ASCII, `"` or `\`).
    #[error("realm: byte {position} is not a plain visible ASCII character, space or tab")]
    InvalidChar {
        /// Offset of the first offending byte.
        position: usize,
    },
}

impl RealmError {
    /// A stable snake_case label for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            RealmError::Empty => "empty_realm",
            RealmError::TooLong { .. } => "realm_too_long",
            RealmError::InvalidChar { .. } => "invalid_realm_char",
        }
    }
}

/// Maximum length of a realm in bytes.
pub const MAX_REALM_LEN: usize = 256;

/// The `Retry-After` of a 503 for unavailable keys: 30 seconds, the key cache's default
/// retry after a failed fetch ([`RefreshPolicy::DEFAULT_FAILURE_RETRY`]), so a client
/// asks again no sooner than the keys can have come back.
///
/// [`RefreshPolicy::DEFAULT_FAILURE_RETRY`]: crate::jwks::RefreshPolicy::DEFAULT_FAILURE_RETRY
pub const UNAVAILABLE_RETRY_AFTER: Duration = crate::jwks::RefreshPolicy::DEFAULT_FAILURE_RETRY;

/// Longest `scope` attribute an `insufficient_scope` challenge carries, in bytes; a longer
/// required scope is left out of the header (the status and error code still say it).
pub const MAX_CHALLENGE_SCOPE_LEN: usize = 1024;

/// The HTTP answer to an [`AuthError`]: the one HTTP mapping of this crate.
///
/// - no credentials: 401, `WWW-Authenticate: Bearer` (no `error`, RFC 6750 §3.1);
/// - `invalid_request`: 400, `WWW-Authenticate: Bearer error="invalid_request"`;
/// - `invalid_token`: 401, `WWW-Authenticate: Bearer error="invalid_token"`;
/// - `insufficient_scope`: 403, `WWW-Authenticate: Bearer error="insufficient_scope",
///   scope="<the required scope>"` (RFC 6750 §3: the scope needed to access the resource;
///   left out if it is not RFC 6749 §3.3 scope syntax or is longer than
///   [`MAX_CHALLENGE_SCOPE_LEN`]);
/// - keys unavailable, no usable introspection answer, or a revocation list past its
///   maximum age (fail closed): 503 with `Retry-After: 30` ([`UNAVAILABLE_RETRY_AFTER`]), no
///   challenge: the token may be fine, it cannot be checked now;
/// - server faults: 500, no challenge.
///
/// With a realm, every challenge starts `Bearer realm="…"`; with
/// [`with_resource_metadata`](Self::with_resource_metadata), every challenge carries
/// `resource_metadata="…"` (RFC 9728 §5.1). Bodies are always empty and
/// there is never an `error_description`: the precise reason is for logs, not for
/// callers. The [`AuthRejection`] rides in the response extensions.
///
/// ```
/// use tower_auth::error::{AuthError, HttpChallenge};
///
/// let challenge = HttpChallenge::with_realm("api").unwrap();
/// let response: http::Response<String> = challenge.response(&AuthError::BadSignature);
/// assert_eq!(response.status(), 401);
/// assert_eq!(
///     response.headers()["www-authenticate"],
///     r#"Bearer realm="api", error="invalid_token""#
/// );
/// assert!(response.body().is_empty());
///
/// // A realm that would break the header is refused when configured.
/// assert!(HttpChallenge::with_realm("a\"b").is_err());
///
/// // Insufficient scope names the scope that is needed.
/// let error = AuthError::InsufficientScope { required: "orders:write".into() };
/// let response: http::Response<String> = challenge.response(&error);
/// assert_eq!(response.status(), 403);
/// assert_eq!(
///     response.headers()["www-authenticate"],
///     r#"Bearer realm="api", error="insufficient_scope", scope="orders:write""#
/// );
///
/// // Keys unavailable: 503, and when to ask again.
/// let error = AuthError::KeySourceUnavailable { issuer: "https://idp.example".into() };
/// let response: http::Response<String> = challenge.response(&error);
/// assert_eq!(response.status(), 503);
/// assert_eq!(response.headers()["retry-after"], "30");
/// assert!(response.headers().get("www-authenticate").is_none());
/// ```
#[derive(Clone, Debug)]
pub struct HttpChallenge {
    realm: Option<Box<str>>,
    /// RFC 9728 §5.1: where the protected resource metadata is.
    resource_metadata: Option<Box<str>>,
    no_credentials: HeaderValue,
    invalid_request: HeaderValue,
    invalid_token: HeaderValue,
    insufficient_scope: HeaderValue,
}

impl Default for HttpChallenge {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpChallenge {
    /// Challenges without a realm.
    pub fn new() -> Self {
        HttpChallenge {
            realm: None,
            resource_metadata: None,
            no_credentials: HeaderValue::from_static("Bearer"),
            invalid_request: HeaderValue::from_static(r#"Bearer error="invalid_request""#),
            invalid_token: HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            insufficient_scope: HeaderValue::from_static(r#"Bearer error="insufficient_scope""#),
        }
    }

    /// Challenges carrying `realm="<realm>"`. The realm must be 1 to [`MAX_REALM_LEN`]
    /// bytes of visible ASCII, space or tab, without `"` or `\` (so it needs no escaping).
    pub fn with_realm(realm: &str) -> Result<Self, RealmError> {
        if realm.is_empty() {
            return Err(RealmError::Empty);
        }
        if realm.len() > MAX_REALM_LEN {
            return Err(RealmError::TooLong {
                len: realm.len(),
                max: MAX_REALM_LEN,
            });
        }
        if let Some(position) = realm.bytes().position(|b| {
            !(b == b' ' || b == b'\t' || (b.is_ascii_graphic() && b != b'"' && b != b'\\'))
        }) {
            return Err(RealmError::InvalidChar { position });
        }
        HttpChallenge::assemble(Some(realm), None)
    }

    /// These challenges with `resource_metadata="<url>"` (RFC 9728 §5.1) added to every
    /// one, the URL where clients find the
    /// [protected resource metadata](crate::resource_metadata) and, through it, the
    /// authorization servers to get a token from.
    ///
    /// ```
    /// use tower_auth::error::{AuthError, HttpChallenge};
    /// use tower_auth::resource_metadata::ResourceMetadata;
    ///
    /// let metadata = ResourceMetadata::builder("https://api.example.com")?.build()?;
    /// let challenge = HttpChallenge::new().with_resource_metadata(&metadata);
    /// let response: http::Response<String> = challenge.response(&AuthError::MissingToken);
    /// assert_eq!(
    ///     response.headers()["www-authenticate"],
    ///     r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource""#
    /// );
    /// let response: http::Response<String> = challenge.response(&AuthError::BadSignature);
    /// assert_eq!(
    ///     response.headers()["www-authenticate"],
    ///     r#"Bearer error="invalid_token", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource""#
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_resource_metadata(
        &self,
        metadata: &crate::resource_metadata::ResourceMetadata,
    ) -> Self {
        self.with_resource_metadata_url(metadata.metadata_url())
    }

    /// [`Self::with_resource_metadata`] from the URL of an already checked document.
    pub(crate) fn with_resource_metadata_url(&self, url: &str) -> Self {
        HttpChallenge::assemble(self.realm.as_deref(), Some(url))
            // Unreachable: the realm and the URL were both checked to be header-safe.
            .unwrap_or_else(|_| self.clone())
    }

    /// The resource metadata URL the challenges carry, if any.
    pub fn resource_metadata(&self) -> Option<&str> {
        self.resource_metadata.as_deref()
    }

    /// The challenges for a checked realm and resource metadata URL.
    fn assemble(realm: Option<&str>, resource_metadata: Option<&str>) -> Result<Self, RealmError> {
        let value = |error: Option<&str>| {
            let mut params = Vec::with_capacity(3);
            if let Some(realm) = realm {
                params.push(format!(r#"realm="{realm}""#));
            }
            if let Some(error) = error {
                params.push(format!(r#"error="{error}""#));
            }
            if let Some(url) = resource_metadata {
                params.push(format!(r#"resource_metadata="{url}""#));
            }
            let value = if params.is_empty() {
                "Bearer".to_owned()
            } else {
                format!("Bearer {}", params.join(", "))
            };
            HeaderValue::from_str(&value)
                // Unreachable after the checks; kept typed rather than panicking.
                .map_err(|_| RealmError::InvalidChar { position: 0 })
        };
        Ok(HttpChallenge {
            realm: realm.map(Into::into),
            resource_metadata: resource_metadata.map(Into::into),
            no_credentials: value(None)?,
            invalid_request: value(Some("invalid_request"))?,
            invalid_token: value(Some("invalid_token"))?,
            insufficient_scope: value(Some("insufficient_scope"))?,
        })
    }

    /// The `WWW-Authenticate` value for `challenge`, if it has one, without the
    /// per-error attributes ([`Self::www_authenticate`] adds `scope`).
    pub fn header_value(&self, challenge: Challenge) -> Option<&HeaderValue> {
        match challenge {
            Challenge::NoCredentials => Some(&self.no_credentials),
            Challenge::InvalidRequest => Some(&self.invalid_request),
            Challenge::InvalidToken => Some(&self.invalid_token),
            Challenge::InsufficientScope => Some(&self.insufficient_scope),
            Challenge::Unavailable | Challenge::Internal => None,
        }
    }

    /// The full `WWW-Authenticate` value for `error`, if its classification has one:
    /// [`Self::header_value`], plus `scope="…"` on `insufficient_scope` (RFC 6750 §3).
    ///
    /// ```
    /// use tower_auth::error::{AuthError, HttpChallenge};
    ///
    /// let challenge = HttpChallenge::new();
    /// let error = AuthError::InsufficientScope { required: "orders:write".into() };
    /// assert_eq!(
    ///     challenge.www_authenticate(&error).unwrap(),
    ///     r#"Bearer error="insufficient_scope", scope="orders:write""#
    /// );
    ///
    /// // A required scope that is not RFC 6749 scope syntax never reaches the header.
    /// let error = AuthError::InsufficientScope { required: "a\"b".into() };
    /// assert_eq!(
    ///     challenge.www_authenticate(&error).unwrap(),
    ///     r#"Bearer error="insufficient_scope""#
    /// );
    /// ```
    pub fn www_authenticate(&self, error: &AuthError) -> Option<HeaderValue> {
        let base = self.header_value(error.challenge())?;
        if let AuthError::InsufficientScope { required } = error
            && is_challenge_scope(required)
        {
            let mut value = Vec::with_capacity(base.len() + required.len() + 10);
            value.extend_from_slice(base.as_bytes());
            value.extend_from_slice(b", scope=\"");
            value.extend_from_slice(required.as_bytes());
            value.push(b'"');
            // Valid by construction (visible ASCII and spaces); the base value stands in
            // if that ever failed.
            return Some(HeaderValue::from_bytes(&value).unwrap_or_else(|_| base.clone()));
        }
        Some(base.clone())
    }

    /// The refusal response for `error`: status, challenge header, `Retry-After` on 503,
    /// empty body and the [`AuthRejection`] in the extensions.
    pub fn response<B: Default>(&self, error: &AuthError) -> Response<B> {
        let rejection = AuthRejection::of(error);
        let mut response = Response::new(B::default());
        *response.status_mut() = rejection.challenge.status();
        if let Some(value) = self.www_authenticate(error) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        if rejection.challenge == Challenge::Unavailable {
            response.headers_mut().insert(
                RETRY_AFTER,
                HeaderValue::from(UNAVAILABLE_RETRY_AFTER.as_secs()),
            );
        }
        response.extensions_mut().insert(rejection);
        response
    }
}

/// RFC 6749 §3.3: `scope = scope-token *( SP scope-token )`, `scope-token = 1*NQCHAR`,
/// `NQCHAR = %x21 / %x23-5B / %x5D-7E` (no `"` or `\`, so no escaping is needed), and
/// at most [`MAX_CHALLENGE_SCOPE_LEN`] bytes.
fn is_challenge_scope(scope: &str) -> bool {
    let nqchar = |b: u8| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
    !scope.is_empty()
        && scope.len() <= MAX_CHALLENGE_SCOPE_LEN
        && scope
            .split(' ')
            .all(|token| !token.is_empty() && token.bytes().all(nqchar))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn all_errors() -> Vec<AuthError> {
        vec![
            AuthError::MissingToken,
            AuthError::UnsupportedScheme,
            AuthError::MalformedAuthorizationHeader {
                problem: HeaderProblem::NotB64Token,
            },
            AuthError::DuplicateAuthorizationHeaders { count: 2 },
            AuthError::TokenTooLarge { len: 9, max: 8 },
            AuthError::UnsupportedTokenFormat,
            AuthError::UnknownIssuer,
            AuthError::MalformedToken {
                part: TokenPart::Header,
                why: "not base64url",
            },
            AuthError::UnsupportedAlgorithm { alg: "none".into() },
            AuthError::AlgorithmMismatch {
                token: jsonwebtoken::Algorithm::HS256,
                key: jsonwebtoken::Algorithm::RS256,
            },
            AuthError::UnknownKeyId { kid: None },
            AuthError::BadSignature,
            AuthError::Expired {
                expired_at: Timestamp::from_unix_seconds(1),
                now: Timestamp::from_unix_seconds(2),
            },
            AuthError::NotYetValid {
                not_before: Timestamp::from_unix_seconds(3),
                now: Timestamp::from_unix_seconds(2),
            },
            AuthError::IssuedInFuture {
                issued_at: Timestamp::from_unix_seconds(3),
                now: Timestamp::from_unix_seconds(2),
            },
            AuthError::WrongIssuer {
                found: "https://evil".into(),
            },
            AuthError::WrongAudience,
            AuthError::MissingClaim {
                claim: Cow::Borrowed("exp"),
            },
            AuthError::WrongType { found: None },
            AuthError::UnknownCritical { name: "b64".into() },
            AuthError::Revoked(Revoked::new(RevokedField::TokenId)),
            AuthError::Revoked(Revoked::new(RevokedField::SessionId)),
            AuthError::Revoked(Revoked::new(RevokedField::Subject)),
            AuthError::Revoked(Revoked::new(RevokedField::PrincipalId)),
            AuthError::Revoked(Revoked::new(RevokedField::Actor)),
            AuthError::ClaimMapping(ClaimError::Missing { claim: "sub" }),
            AuthError::InsufficientScope {
                required: "orders:write".into(),
            },
            AuthError::KeySourceUnavailable {
                issuer: "https://idp".into(),
            },
            AuthError::RevocationListStale(RevocationListStale::new(None, 60)),
            AuthError::Internal { why: "test" },
            AuthError::MalformedCredentialHeader {
                header: "x-principal-bin",
                problem: "sent twice",
            },
            AuthError::InvalidPassport(principal_proto::PassportError::MissingField {
                field: "Passport.principal",
            }),
            AuthError::UnsignedPassportWithoutPeer,
            AuthError::UnsignedPassportPeerNotAllowed {
                peer: "spiffe://a.example/batch".parse().unwrap(),
            },
            AuthError::PassportRequestIdMismatch,
            AuthError::SignedPassportNotAccepted,
            AuthError::MissingRequestId,
            AuthError::Introspection(IntrospectionError::Inactive),
            AuthError::Introspection(IntrospectionError::Timeout),
            AuthError::Introspection(IntrospectionError::Redirect { status: 307 }),
            AuthError::Introspection(IntrospectionError::ClientRejected { status: 401 }),
            AuthError::Introspection(IntrospectionError::HttpStatus { status: 503 }),
            AuthError::Introspection(IntrospectionError::Unreachable {
                detail: "connection refused".into(),
            }),
            AuthError::Introspection(IntrospectionError::Malformed { why: "not JSON" }),
            AuthError::Introspection(IntrospectionError::TooLarge { limit: 65536 }),
        ]
    }

    #[test]
    fn reasons_are_stable_snake_case_and_distinct() {
        let errors = all_errors();
        let mut seen = std::collections::HashSet::new();
        for error in &errors {
            let reason = error.reason();
            assert!(
                reason.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{reason}"
            );
            assert!(seen.insert(reason), "duplicate reason {reason}");
        }
    }

    #[test]
    fn only_unknown_issuer_and_format_decline() {
        for error in all_errors() {
            let expected = matches!(
                error,
                AuthError::UnknownIssuer | AuthError::UnsupportedTokenFormat
            );
            assert_eq!(error.is_decline(), expected, "{error:?}");
        }
    }

    #[test]
    fn token_errors_are_invalid_token_with_401() {
        for error in all_errors() {
            let challenge = error.challenge();
            let response: Response<String> = HttpChallenge::new().response(&error);
            assert_eq!(response.status(), challenge.status());
            assert!(response.body().is_empty());
            let header = response.headers().get(WWW_AUTHENTICATE);
            match challenge {
                Challenge::NoCredentials => assert_eq!(header.unwrap(), "Bearer"),
                Challenge::InvalidRequest => {
                    assert_eq!(response.status(), 400);
                    assert_eq!(header.unwrap(), r#"Bearer error="invalid_request""#)
                }
                Challenge::InvalidToken => {
                    assert_eq!(response.status(), 401);
                    assert_eq!(header.unwrap(), r#"Bearer error="invalid_token""#)
                }
                Challenge::InsufficientScope => {
                    assert_eq!(response.status(), 403);
                    assert_eq!(
                        header.unwrap(),
                        r#"Bearer error="insufficient_scope", scope="orders:write""#
                    )
                }
                Challenge::Unavailable => {
                    assert_eq!(response.status(), 503);
                    assert!(header.is_none())
                }
                Challenge::Internal => {
                    assert_eq!(response.status(), 500);
                    assert!(header.is_none())
                }
            }
            // Only the 503 says when to come back.
            assert_eq!(
                response.headers().get(RETRY_AFTER).is_some(),
                challenge == Challenge::Unavailable,
                "{error:?}"
            );
            let rejection = response.extensions().get::<AuthRejection>().unwrap();
            assert_eq!(rejection.reason(), error.reason());
        }
    }

    #[test]
    fn realm_is_quoted_first() {
        let challenge = HttpChallenge::with_realm("baton api").unwrap();
        let response: Response<String> = challenge.response(&AuthError::MissingToken);
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="baton api""#
        );
        let response: Response<String> =
            challenge.response(&AuthError::DuplicateAuthorizationHeaders { count: 2 });
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="baton api", error="invalid_request""#
        );
    }

    #[test]
    fn insufficient_scope_names_the_required_scope() {
        let challenge = HttpChallenge::with_realm("baton api").unwrap();
        for (required, expected) in [
            (
                "orders:write",
                r#"Bearer realm="baton api", error="insufficient_scope", scope="orders:write""#,
            ),
            (
                "orders:read orders:write",
                r#"Bearer realm="baton api", error="insufficient_scope", scope="orders:read orders:write""#,
            ),
            (
                "https://api.example/orders.write",
                r#"Bearer realm="baton api", error="insufficient_scope", scope="https://api.example/orders.write""#,
            ),
        ] {
            let error = AuthError::InsufficientScope {
                required: required.into(),
            };
            let response: Response<String> = challenge.response(&error);
            assert_eq!(response.status(), 403);
            assert_eq!(response.headers()[WWW_AUTHENTICATE], expected);
            assert!(response.headers().get(RETRY_AFTER).is_none());
        }
    }

    #[test]
    fn a_hostile_required_scope_never_reaches_the_header() {
        let challenge = HttpChallenge::new();
        let long = "a".repeat(MAX_CHALLENGE_SCOPE_LEN + 1);
        for hostile in [
            "",
            "a\"b",
            "a\\b",
            "x\", error=\"invalid_token",
            "a\r\nset-cookie: x=y",
            "a  b",
            " a",
            "a ",
            "a\tb",
            "é",
            long.as_str(),
        ] {
            let error = AuthError::InsufficientScope {
                required: hostile.into(),
            };
            let response: Response<String> = challenge.response(&error);
            assert_eq!(response.status(), 403, "{hostile:?}");
            assert_eq!(
                response.headers()[WWW_AUTHENTICATE],
                r#"Bearer error="insufficient_scope""#,
                "{hostile:?}"
            );
        }
        let longest = "a".repeat(MAX_CHALLENGE_SCOPE_LEN);
        let error = AuthError::InsufficientScope {
            required: longest.clone(),
        };
        assert_eq!(
            challenge.www_authenticate(&error).unwrap(),
            format!(r#"Bearer error="insufficient_scope", scope="{longest}""#).as_str()
        );
    }

    #[test]
    fn unavailable_keys_answer_503_with_retry_after() {
        for challenge in [
            HttpChallenge::new(),
            HttpChallenge::with_realm("api").unwrap(),
        ] {
            let response: Response<String> = challenge.response(&AuthError::KeySourceUnavailable {
                issuer: "https://idp".into(),
            });
            assert_eq!(response.status(), 503);
            assert_eq!(response.headers()[RETRY_AFTER], "30");
            assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
        }
        assert_eq!(
            UNAVAILABLE_RETRY_AFTER,
            crate::jwks::RefreshPolicy::DEFAULT_FAILURE_RETRY
        );
    }

    #[test]
    fn bad_realms_are_refused() {
        assert!(matches!(
            HttpChallenge::with_realm(""),
            Err(RealmError::Empty)
        ));
        assert!(matches!(
            HttpChallenge::with_realm("a\\b"),
            Err(RealmError::InvalidChar { position: 1 })
        ));
        assert!(matches!(
            HttpChallenge::with_realm("a\"b"),
            Err(RealmError::InvalidChar { position: 1 })
        ));
        assert!(matches!(
            HttpChallenge::with_realm("a\r\nx: y"),
            Err(RealmError::InvalidChar { position: 1 })
        ));
        assert!(matches!(
            HttpChallenge::with_realm("é"),
            Err(RealmError::InvalidChar { position: 0 })
        ));
        assert!(matches!(
            HttpChallenge::with_realm(&"a".repeat(MAX_REALM_LEN + 1)),
            Err(RealmError::TooLong { .. })
        ));
    }

    #[test]
    fn messages_name_the_field() {
        assert_eq!(
            AuthError::Revoked(Revoked::new(RevokedField::TokenId)).to_string(),
            "token revoked: jti: revoked"
        );
        assert_eq!(
            AuthError::TokenTooLarge { len: 9, max: 8 }.to_string(),
            "token: 9 bytes, more than the limit of 8"
        );
    }
}
