//! Bounds on every input the model accepts.
//!
//! Each limit is enforced where the value is parsed (typed ids, [`ScopeSet`](crate::ScopeSet)),
//! when a [`Principal`](crate::Principal) is built, and when claims are mapped, so a hostile
//! token cannot make Baton allocate or recurse without bound. Exceeding a limit is a typed
//! error, never a truncation.

/// Maximum length in bytes of an issuer (`iss`). Issuers are URLs; 2 KiB is the common
/// practical URL limit.
pub const MAX_ISSUER_LEN: usize = 2048;

/// Maximum length in bytes of one audience value (`aud`).
pub const MAX_AUDIENCE_LEN: usize = 2048;

/// Maximum number of audiences on one Principal.
pub const MAX_AUDIENCES: usize = 32;

/// Maximum length in bytes of the issuer's subject (`sub`), of the Principal or of an actor.
/// OpenID Connect caps `sub` at 255 ASCII characters; this leaves room for other issuers.
pub const MAX_SUBJECT_LEN: usize = 1024;

/// Maximum length in bytes of one scope token.
pub const MAX_SCOPE_LEN: usize = 256;

/// Maximum number of scopes in one [`ScopeSet`](crate::ScopeSet).
pub const MAX_SCOPES: usize = 256;

/// Maximum length in bytes of a space-separated scope string: [`MAX_SCOPES`] tokens of
/// [`MAX_SCOPE_LEN`] bytes and their separators.
pub const MAX_SCOPE_STRING_LEN: usize = MAX_SCOPES * (MAX_SCOPE_LEN + 1);

/// Maximum length in bytes of one role.
pub const MAX_ROLE_LEN: usize = 256;

/// Maximum number of roles on one Principal (all role sources together).
pub const MAX_ROLES: usize = 256;

/// Maximum length in bytes of a tenant.
pub const MAX_TENANT_LEN: usize = 256;

/// Maximum number of attributes on one Principal.
pub const MAX_ATTRIBUTES: usize = 64;

/// Maximum length in bytes of an attribute key.
pub const MAX_ATTRIBUTE_KEY_LEN: usize = 128;

/// Maximum length in bytes of an attribute value.
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 1024;

/// Maximum length in bytes of an OAuth `client_id`.
pub const MAX_CLIENT_ID_LEN: usize = 256;

/// Maximum length in bytes of a token id (`jti`).
pub const MAX_TOKEN_ID_LEN: usize = 256;

/// Maximum length in bytes of a session id (`sid`).
pub const MAX_SESSION_ID_LEN: usize = 256;

/// Maximum number of authentication method references (`amr`).
pub const MAX_AMR_VALUES: usize = 16;

/// Maximum length in bytes of one `amr` value (RFC 8176 values are a few characters).
pub const MAX_AMR_VALUE_LEN: usize = 64;

/// Maximum length in bytes of the authentication context class (`acr`, often a URI).
pub const MAX_ACR_LEN: usize = 2048;

/// Maximum length of a service slug (the part after `svc-`): one DNS label.
pub const MAX_SERVICE_SLUG_LEN: usize = 63;

/// Default maximum number of actors in a delegation chain.
pub const DEFAULT_MAX_DELEGATION_DEPTH: usize = 4;

/// The hard cap on the delegation depth: a configured maximum above it is an error.
pub const HARD_MAX_DELEGATION_DEPTH: usize = 8;

/// Maximum nesting of RFC 8693 `act` claims accepted by the decoder. Deeper nesting is an
/// error raised while decoding, before any recursion could grow the stack.
pub const MAX_ACT_NESTING: usize = HARD_MAX_DELEGATION_DEPTH;

/// Maximum nesting depth of the JSON value kept for RFC 8693 `may_act`.
pub const MAX_MAY_ACT_DEPTH: usize = 8;

/// Maximum number of JSON nodes (objects, arrays, scalars) in `may_act`.
pub const MAX_MAY_ACT_NODES: usize = 128;

/// Maximum length in bytes of a string anywhere inside `may_act`.
pub const MAX_MAY_ACT_STRING_LEN: usize = 2048;

/// Maximum size in bytes of a claims JSON document given to
/// [`ClaimMapping::principal_from_json`](crate::ClaimMapping::principal_from_json).
pub const MAX_CLAIMS_JSON_LEN: usize = 64 * 1024;

/// Maximum number of claims other than the registered ones the mapper accepts in one token
/// (top level, and in each `act` object).
pub const MAX_EXTRA_CLAIMS: usize = 256;
