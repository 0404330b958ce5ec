//! Errors: [`PassportError`] for everything read from the wire, [`ConfigError`]
//! for keys and options set up at start.

use principal::Timestamp;

use crate::keys::{KeyId, SignatureAlgorithm};

/// Why a passport, its header form or its signed envelope was refused.
///
/// Every decoder in this crate returns this error on bad input and never
/// panics. [`reason`](Self::reason) is a stable snake_case label for logs and
/// metrics; the `Display` text adds the detail (field and why).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PassportError {
    /// The input is longer than the configured limit; nothing was decoded.
    #[error("{what} is {len} bytes, more than the limit of {max}")]
    Oversized {
        /// What was too long: `"passport"`, `"signed passport"` or `"header value"`.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },

    /// A passport too large to send: its `x-principal-bin` value would be longer than
    /// the sender's [`HeaderLimit`](crate::header::HeaderLimit). Refused where the
    /// passport is made, before it could be sent; the Principal carries too many roles,
    /// scopes, audiences or attributes, or too long a delegation chain, for one header.
    #[error(
        "the principal is too large to send: its passport header would be {len} bytes, more than the limit of {max}"
    )]
    PrincipalTooLarge {
        /// The header value's length in bytes (base64 text, unpadded).
        len: usize,
        /// The sender's limit in bytes.
        max: usize,
    },

    /// The header value is not standard base64 (padded or not).
    #[error("header value is not standard base64: {0}")]
    Base64(#[source] base64::DecodeError),

    /// The bytes are not a protobuf `Passport` or `SignedPassport` (truncated,
    /// wrong wire type, invalid UTF-8 in a string, a singular field twice, ...).
    #[error("{message} is not valid protobuf: {detail}")]
    Malformed {
        /// Which message failed to decode: `"Passport"`, `"SignedPassport"` or `"Principal"`.
        message: &'static str,
        /// What is wrong, e.g. `"length beyond the end of the message"`.
        detail: &'static str,
    },

    /// A required field is absent.
    #[error("field `{field}` is missing")]
    MissingField {
        /// The field, as `message.field`.
        field: &'static str,
    },

    /// A field is present but its value breaks a rule.
    #[error("field `{field}` is invalid: {reason}")]
    InvalidField {
        /// The field, as `message.field`.
        field: &'static str,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// The passport's request id is not 1 to 128 bytes of visible ASCII.
    #[error("passport request_id is invalid: {0}")]
    InvalidRequestId(#[source] principal::IdError),

    /// The carried Principal breaks a model invariant (checked again by the
    /// `principal` crate's builder; the wire is never trusted).
    #[error("the carried principal is invalid: {0}")]
    InvalidPrincipal(#[source] principal::PrincipalError),

    /// `expires_at` is not after `issued_at`.
    #[error("passport expires_at ({expires_at}) is not after issued_at ({issued_at})")]
    InvalidLifetime {
        /// When the passport says it was minted.
        issued_at: Timestamp,
        /// When it says it expires.
        expires_at: Timestamp,
    },

    /// The passport lives longer than a request-scoped passport may.
    #[error(
        "passport lifetime of {lifetime_seconds} s is longer than the maximum of {max_seconds} s"
    )]
    LifetimeTooLong {
        /// `expires_at - issued_at`.
        lifetime_seconds: i64,
        /// The configured maximum.
        max_seconds: i64,
    },

    /// The passport expired (allowing for the clock leeway).
    #[error("passport expired at {expires_at}; now is {now}")]
    Expired {
        /// When it expired.
        expires_at: Timestamp,
        /// The verifier's time.
        now: Timestamp,
    },

    /// The passport was minted in the future (beyond the clock leeway).
    #[error("passport issued at {issued_at} is not yet valid; now is {now}")]
    NotYetValid {
        /// When it says it was minted.
        issued_at: Timestamp,
        /// The verifier's time.
        now: Timestamp,
    },

    /// The carried Principal expired (allowing for the clock leeway), even if
    /// the passport has not.
    #[error("the carried principal expired at {expires_at}; now is {now}")]
    PrincipalExpired {
        /// When the Principal expired.
        expires_at: Timestamp,
        /// The verifier's time.
        now: Timestamp,
    },

    /// The carried Principal is not valid yet: its `not_before` is ahead
    /// (beyond the clock leeway).
    #[error("the carried principal is not valid before {not_before}; now is {now}")]
    PrincipalNotYetValid {
        /// When the Principal becomes valid.
        not_before: Timestamp,
        /// The verifier's time.
        now: Timestamp,
    },

    /// The passport is meant for another service.
    #[error("passport audience {found:?} is not the expected {expected:?}")]
    WrongAudience {
        /// This service's audience.
        expected: String,
        /// The audience the passport names.
        found: String,
    },

    /// No verifying key has the key id the envelope names.
    #[error("no passport verifying key has key id {key_id:?}")]
    UnknownKeyId {
        /// The key id as received (already checked to be a well-formed key id).
        key_id: String,
    },

    /// The envelope names an algorithm number this crate does not know (or 0).
    #[error("signature algorithm {value} is not supported")]
    UnsupportedAlgorithm {
        /// The number on the wire.
        value: i32,
    },

    /// The key id is known, but its key has another algorithm than the
    /// envelope names (algorithm confusion is refused, never followed).
    #[error("key {key_id} is {expected}, but the envelope says {found}")]
    AlgorithmMismatch {
        /// The key.
        key_id: KeyId,
        /// The key's algorithm.
        expected: SignatureAlgorithm,
        /// The algorithm the envelope names.
        found: SignatureAlgorithm,
    },

    /// The signature or MAC does not verify with the named key.
    #[error("signature does not verify with key {key_id}")]
    BadSignature {
        /// The key tried.
        key_id: KeyId,
    },

    /// The signing key failed to sign (an aws-lc-rs failure; not caused by input).
    #[error("signing with key {key_id} failed")]
    SigningFailed {
        /// The key that failed.
        key_id: KeyId,
    },
}

impl PassportError {
    /// A stable snake_case label for logs and metrics.
    ///
    /// ```
    /// use principal_proto::PassportError;
    ///
    /// let error = PassportError::MissingField { field: "Passport.principal" };
    /// assert_eq!(error.reason(), "missing_field");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            PassportError::Oversized { .. } => "oversized",
            PassportError::PrincipalTooLarge { .. } => "principal_too_large",
            PassportError::Base64(_) => "bad_base64",
            PassportError::Malformed { .. } => "malformed",
            PassportError::MissingField { .. } => "missing_field",
            PassportError::InvalidField { .. } => "invalid_field",
            PassportError::InvalidRequestId(_) => "invalid_request_id",
            PassportError::InvalidPrincipal(_) => "invalid_principal",
            PassportError::InvalidLifetime { .. } => "invalid_lifetime",
            PassportError::LifetimeTooLong { .. } => "lifetime_too_long",
            PassportError::Expired { .. } => "expired",
            PassportError::NotYetValid { .. } => "not_yet_valid",
            PassportError::PrincipalExpired { .. } => "principal_expired",
            PassportError::PrincipalNotYetValid { .. } => "principal_not_yet_valid",
            PassportError::WrongAudience { .. } => "wrong_audience",
            PassportError::UnknownKeyId { .. } => "unknown_key_id",
            PassportError::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            PassportError::AlgorithmMismatch { .. } => "algorithm_mismatch",
            PassportError::BadSignature { .. } => "bad_signature",
            PassportError::SigningFailed { .. } => "signing_failed",
        }
    }
}

/// Why a key, key ring or decode option was refused at set-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A key id is empty, too long or has a character outside `A-Z a-z 0-9 . _ - :`.
    #[error("key id {reason}")]
    InvalidKeyId {
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// An HMAC-SHA256 secret is shorter than 32 bytes.
    #[error("HMAC secret of key {key_id} is {len} bytes; at least {min} are required")]
    HmacSecretTooShort {
        /// The key.
        key_id: KeyId,
        /// The secret's length.
        len: usize,
        /// The minimum length.
        min: usize,
    },

    /// Bytes given as an Ed25519 key (PKCS#8 private key or raw public key) are not one.
    #[error("key {key_id} is not a valid Ed25519 key")]
    InvalidEd25519Key {
        /// The key.
        key_id: KeyId,
    },

    /// The system random source failed while generating a key.
    #[error("generating key {key_id} failed")]
    KeyGeneration {
        /// The key.
        key_id: KeyId,
    },

    /// Two keys in one ring share a key id.
    #[error("key id {key_id} is already in the key ring")]
    DuplicateKeyId {
        /// The key id.
        key_id: KeyId,
    },

    /// `retire` named a key id the ring does not hold.
    #[error("key id {key_id} is not in the key ring")]
    UnknownKeyId {
        /// The key id.
        key_id: KeyId,
    },

    /// `retire` named the key the ring signs with; rotate to another key first.
    #[error("key {key_id} is the current signing key; rotate before retiring it")]
    RetireCurrentKey {
        /// The key id.
        key_id: KeyId,
    },

    /// A verifier was built with no key: it could accept nothing.
    #[error("a passport verifier needs at least one key")]
    NoKeys,

    /// A decode option is out of its allowed range.
    #[error("option `{option}` is {value}, outside {min}..={max}")]
    OutOfRange {
        /// The option.
        option: &'static str,
        /// The value given.
        value: u64,
        /// The smallest value allowed.
        min: u64,
        /// The largest value allowed.
        max: u64,
    },
}

impl ConfigError {
    /// A stable snake_case label for logs and metrics.
    ///
    /// ```
    /// use principal_proto::KeyId;
    ///
    /// let error = KeyId::new("").unwrap_err();
    /// assert_eq!(error.reason(), "invalid_key_id");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            ConfigError::InvalidKeyId { .. } => "invalid_key_id",
            ConfigError::HmacSecretTooShort { .. } => "hmac_secret_too_short",
            ConfigError::InvalidEd25519Key { .. } => "invalid_ed25519_key",
            ConfigError::KeyGeneration { .. } => "key_generation",
            ConfigError::DuplicateKeyId { .. } => "duplicate_key_id",
            ConfigError::UnknownKeyId { .. } => "unknown_key_id",
            ConfigError::RetireCurrentKey { .. } => "retire_current_key",
            ConfigError::NoKeys => "no_keys",
            ConfigError::OutOfRange { .. } => "out_of_range",
        }
    }
}
