//! The Principal, its delegation chain, and the builder that holds the invariants.

use std::collections::BTreeMap;

use compact_str::CompactString;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::{IdError, PrincipalError};
use crate::ids::{Audience, Issuer, Kind, PrincipalId, Role, Tenant};
use crate::limits::{
    DEFAULT_MAX_DELEGATION_DEPTH, HARD_MAX_DELEGATION_DEPTH, MAX_ACR_LEN, MAX_AMR_VALUE_LEN,
    MAX_AMR_VALUES, MAX_ATTRIBUTE_KEY_LEN, MAX_ATTRIBUTE_VALUE_LEN, MAX_ATTRIBUTES, MAX_AUDIENCES,
    MAX_CLIENT_ID_LEN, MAX_MAY_ACT_DEPTH, MAX_MAY_ACT_NODES, MAX_MAY_ACT_STRING_LEN, MAX_ROLES,
    MAX_SCOPES, MAX_SESSION_ID_LEN, MAX_SUBJECT_LEN, MAX_TOKEN_ID_LEN,
};
use crate::scope::ScopeSet;
use crate::time::Timestamp;
use crate::validate;

/// How and where the subject authenticated (OpenID Connect `amr`, `acr`, `auth_time`) and
/// through which OAuth client (`client_id`).
///
/// Its fields are checked when a [`Principal`] is built: at most [`MAX_AMR_VALUES`] `amr`
/// values of at most [`MAX_AMR_VALUE_LEN`] bytes without whitespace, `acr` at most
/// [`MAX_ACR_LEN`] bytes, `client_id` at most [`MAX_CLIENT_ID_LEN`] bytes, no control
/// characters anywhere.
///
/// JSON form: `{"amr": [..], "acr": "..", "auth_time": 1700000000, "client_id": ".."}`,
/// every field optional (absent when empty or unset).
///
/// ```
/// use principal::AuthContext;
///
/// let auth = AuthContext { amr: vec!["pwd".into(), "otp".into()], ..AuthContext::default() };
/// assert_eq!(serde_json::to_string(&auth)?, r#"{"amr":["pwd","otp"]}"#);
/// assert!(serde_json::from_str::<AuthContext>(r#"{"amr":"pwd"}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthContext {
    /// Authentication method references (RFC 8176), e.g. `pwd`, `mfa`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Authentication context class reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// When the subject authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<Timestamp>,
    /// The OAuth client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl AuthContext {
    fn validate(&self) -> Result<(), PrincipalError> {
        if self.amr.len() > MAX_AMR_VALUES {
            return Err(PrincipalError::TooMany {
                field: "amr",
                len: self.amr.len(),
                max: MAX_AMR_VALUES,
            });
        }
        for amr in &self.amr {
            validate::token("amr", amr, MAX_AMR_VALUE_LEN)?;
        }
        if let Some(acr) = &self.acr {
            validate::text("acr", acr, MAX_ACR_LEN)?;
        }
        if let Some(client_id) = &self.client_id {
            validate::text("client_id", client_id, MAX_CLIENT_ID_LEN)?;
        }
        Ok(())
    }
}

/// A party acting on the subject's behalf: one link of the delegation chain (an RFC 8693
/// `act` claim).
///
/// `grant` is what the actor may do for its delegator. On an actor you build it is what you
/// set (`None`: no restriction of its own). Inside a [`Principal`] it is always the
/// *effective* grant: the grant set, intersected with its delegator's effective scopes
/// (the subject's scopes for the oldest actor) and with every later link's grant, which is
/// the Principal's [`scopes()`](Principal::scopes). So reading it never overstates what
/// the actor may do, and it reads the same at every hop (the wire carries only effective
/// scopes). The strings are checked when the actor is built into a Principal; a `subject`
/// equal to the id's text form is dropped then (it says nothing more than the id).
///
/// JSON form: `{"id": "am-..", "kind": "agent", "issuer": "..", "subject": "..",
/// "client_id": "..", "grant": ["scope", ..]}`; `kind` is written for readers and checked
/// against `id` when read; the optional fields are absent when unset.
///
/// ```
/// use principal::{Actor, AgentId, Kind, PrincipalId, ScopeSet};
///
/// let agent: PrincipalId = "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?;
/// let actor = Actor::new(agent).with_grant(ScopeSet::parse("orders:read admin")?);
/// assert_eq!(actor.kind(), Kind::Agent);
/// assert!(actor.grant().is_some_and(|g| g.contains("admin")));
///
/// // Inside a Principal, the grant is what the delegator could give: no `admin`.
/// let issuer = principal::Issuer::new("https://idp.example.com")?;
/// let alice = principal::HumanId::derive(&issuer, "alice").into();
/// let principal = principal::Principal::builder(alice, issuer, "alice")
///     .scopes(ScopeSet::parse("orders:read orders:write")?)
///     .expires_at(principal::Timestamp::from_unix_seconds(1_700_000_300))
///     .actor(actor)
///     .build()?;
/// let effective = principal.delegation()[0].grant();
/// assert_eq!(effective.map(ScopeSet::to_space_separated).as_deref(), Some("orders:read"));
///
/// // A kind that contradicts the id is refused when read back.
/// let wrong = r#"{"id":"am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b","kind":"human"}"#;
/// assert!(serde_json::from_str::<Actor>(wrong).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    id: PrincipalId,
    issuer: Option<Issuer>,
    subject: Option<CompactString>,
    client_id: Option<CompactString>,
    grant: Option<ScopeSet>,
}

impl Actor {
    /// An actor with only an id.
    #[inline]
    pub fn new(id: PrincipalId) -> Self {
        Actor {
            id,
            issuer: None,
            subject: None,
            client_id: None,
            grant: None,
        }
    }

    /// Sets the issuer that vouches for the actor (`act.iss`).
    #[must_use]
    #[inline]
    pub fn with_issuer(mut self, issuer: Issuer) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Sets the issuer's subject for the actor (`act.sub`).
    #[must_use]
    #[inline]
    pub fn with_subject(mut self, subject: impl AsRef<str>) -> Self {
        self.subject = Some(CompactString::new(subject));
        self
    }

    /// Sets the OAuth client the actor used (`act.client_id`).
    #[must_use]
    #[inline]
    pub fn with_client_id(mut self, client_id: impl AsRef<str>) -> Self {
        self.client_id = Some(CompactString::new(client_id));
        self
    }

    /// Sets the scopes the actor was granted by its delegator.
    #[must_use]
    #[inline]
    pub fn with_grant(mut self, grant: ScopeSet) -> Self {
        self.grant = Some(grant);
        self
    }

    /// The actor's id.
    #[inline]
    pub fn id(&self) -> &PrincipalId {
        &self.id
    }

    /// The actor's kind (that of its id).
    #[inline]
    pub fn kind(&self) -> Kind {
        self.id.kind()
    }

    /// The issuer that vouches for the actor, if known.
    #[inline]
    pub fn issuer(&self) -> Option<&Issuer> {
        self.issuer.as_ref()
    }

    /// The issuer's subject for the actor, if known and different from the id.
    #[inline]
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The OAuth client the actor used, if known.
    #[inline]
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The scopes the actor may use. Inside a [`Principal`], always `Some`: the effective
    /// grant (the grant set, within its delegator's effective scopes and every later
    /// link's: the Principal's [`scopes()`](Principal::scopes)). On an actor not yet built
    /// into a Principal, the grant as set; `None` when none was.
    #[inline]
    pub fn grant(&self) -> Option<&ScopeSet> {
        self.grant.as_ref()
    }

    /// Whether this actor is the party `subject` at `issuer`, whatever the kinds. An actor
    /// without an issuer of its own is vouched for by the subject's issuer, `default`.
    fn same_party(&self, default: &Issuer, issuer: &Issuer, subject: Option<&str>) -> bool {
        match (self.subject.as_deref(), subject) {
            (Some(mine), Some(theirs)) => {
                mine == theirs && self.issuer.as_ref().unwrap_or(default) == issuer
            }
            _ => false,
        }
    }

    fn validate(&self) -> Result<(), PrincipalError> {
        if let Some(subject) = &self.subject {
            validate::text("actor.subject", subject, MAX_SUBJECT_LEN)?;
        }
        if let Some(client_id) = &self.client_id {
            validate::text("actor.client_id", client_id, MAX_CLIENT_ID_LEN)?;
        }
        if let Some(grant) = &self.grant
            && grant.len() > MAX_SCOPES
        {
            return Err(PrincipalError::TooMany {
                field: "actor.grant",
                len: grant.len(),
                max: MAX_SCOPES,
            });
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct ActorView<'a> {
    id: &'a PrincipalId,
    kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<&'a Issuer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant: Option<&'a ScopeSet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActorForm {
    id: PrincipalId,
    #[serde(default)]
    kind: Option<Kind>,
    #[serde(default)]
    issuer: Option<Issuer>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    grant: Option<ScopeSet>,
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ActorView {
            id: &self.id,
            kind: self.kind(),
            issuer: self.issuer.as_ref(),
            subject: self.subject.as_deref(),
            client_id: self.client_id.as_deref(),
            grant: self.grant.as_ref(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = ActorForm::deserialize(deserializer)?;
        check_kind(form.kind, &form.id).map_err(serde::de::Error::custom)?;
        Ok(Actor {
            id: form.id,
            issuer: form.issuer,
            subject: form.subject.map(CompactString::from),
            client_id: form.client_id.map(CompactString::from),
            grant: form.grant,
        })
    }
}

fn check_kind(kind: Option<Kind>, id: &PrincipalId) -> Result<(), String> {
    match kind {
        Some(kind) if kind != id.kind() => Err(format!(
            "kind: says {kind} but the id {id} is of kind {}",
            id.kind()
        )),
        _ => Ok(()),
    }
}

/// A Principal's enrichment attributes: a small map from key to value, sorted by key.
///
/// Built through [`PrincipalBuilder::attribute`], which checks keys and values. JSON form:
/// an object, `{"key": "value", ..}`.
///
/// ```
/// use principal::{HumanId, Issuer, Principal, Timestamp};
///
/// let issuer = Issuer::new("https://idp.example.com")?;
/// let principal = Principal::builder(HumanId::derive(&issuer, "alice").into(), issuer, "alice")
///     .expires_at(Timestamp::from_unix_seconds(1_700_000_300))
///     .attribute("plan", "enterprise")
///     .attribute("department", "sales")
///     .build()?;
/// let attributes = principal.attributes();
/// assert_eq!(attributes.get("plan"), Some("enterprise"));
/// assert_eq!(attributes.get("locale"), None);
/// assert_eq!(attributes.keys().collect::<Vec<_>>(), ["department", "plan"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Attributes(Vec<(CompactString, CompactString)>);

impl Attributes {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(candidate, _)| candidate.as_str().cmp(key))
            .ok()
            .and_then(|at| self.0.get(at))
            .map(|(_, value)| value.as_str())
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The `(key, value)` pairs, sorted by key.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + DoubleEndedIterator {
        self.0
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator {
        self.0.iter().map(|(key, _)| key.as_str())
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// On whose authority a request runs, and who is acting.
///
/// A Principal is built only through [`Principal::builder`] (or decoded from claims by a
/// [`ClaimMapping`](crate::ClaimMapping), or read from its JSON form), and every way in holds
/// the invariants of the model:
///
/// - the kind is the kind of the id (`hm-`, `am-`, `svc-`);
/// - `expires_at` is set, and after `issued_at` and `not_before` (a Principal that could
///   never be valid is refused). The model holds no clock, so a Principal whose
///   `expires_at` has already passed *is* built: whether it is valid *now* is
///   [`is_valid_at(now)`](Principal::is_valid_at), and the verifiers that put a Principal
///   in a request check `exp` against their [`Clock`](crate::Clock) (with leeway) before
///   they build one;
/// - the delegation chain is at most the maximum depth long (default
///   [`DEFAULT_MAX_DELEGATION_DEPTH`], never above [`HARD_MAX_DELEGATION_DEPTH`]), no actor
///   appears twice, and no actor is the subject; "the same" is the same id, or the same
///   issuer and subject under another kind (an actor without an issuer of its own is
///   vouched for by the subject's issuer);
/// - delegation never amplifies privilege: [`scopes()`](Principal::scopes) are the
///   subject's scopes intersected with the grant of every actor that has one, and each
///   actor's [`grant()`](Actor::grant) is its effective grant, those same scopes (so no
///   caller can read a raw grant as a permission);
/// - every string and list is within the bounds of [`limits`](crate::limits).
///
/// The subject's roles are a sorted slice without duplicates; attributes a sorted map
/// ([`Attributes`]); audiences keep their order,
/// without duplicates.
///
/// # JSON form
///
/// `serde` reads and writes this stable shape (for logs, debugging endpoints, examples):
///
/// ```json
/// {
///   "id": "hm-<uuid>",              // typed id
///   "kind": "human",                // written for readers; checked against id when read
///   "issuer": "https://idp.example.com",
///   "subject": "alice",             // the issuer's sub, as it was
///   "tenant": "acme",               // optional
///   "roles": ["admin"],             // sorted
///   "scopes": ["orders:read"],      // effective scopes, sorted
///   "audiences": ["https://api.example.com"],
///   "auth": {"amr": ["pwd"], "acr": "..", "auth_time": 1700000000, "client_id": ".."},
///   "issued_at": 1700000000,        // optional, seconds since the epoch
///   "expires_at": 1700000300,
///   "not_before": 1700000000,       // optional
///   "token_id": "..",               // optional (jti)
///   "session_id": "..",             // optional (sid)
///   "attributes": {"k": "v"},
///   "delegation": [{"id": "am-<uuid>", "kind": "agent", "grant": ["orders:read"]}],
///   "may_act": {"sub": ".."}        // optional, RFC 8693 may_act as received
/// }
/// ```
///
/// Optional fields are absent when unset; `roles`, `scopes`, `audiences`, `attributes`,
/// `delegation` and `auth` are always written (possibly empty) and may be omitted when read.
/// Unknown fields are refused when read. Reading goes through the builder, with the
/// delegation depth allowed up to the hard cap.
///
/// ```
/// use principal::{Actor, HumanId, Issuer, Kind, Principal, PrincipalId, ScopeSet, Timestamp};
///
/// let issuer = Issuer::new("https://idp.example.com")?;
/// let alice = PrincipalId::Human(HumanId::derive(&issuer, "alice"));
/// let agent: PrincipalId = "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?;
///
/// let principal = Principal::builder(alice.clone(), issuer.clone(), "alice")
///     .scopes(ScopeSet::parse("orders:read orders:write")?)
///     .expires_at(Timestamp::from_unix_seconds(1_700_000_300))
///     .actor(Actor::new(agent.clone()).with_grant(ScopeSet::parse("orders:read")?))
///     .build()?;
/// assert_eq!(principal.kind(), Kind::Human);
/// assert_eq!(principal.acting(), &agent);
/// assert!(principal.has_scope("orders:read"));
/// assert!(!principal.has_scope("orders:write")); // the agent was not granted it
///
/// // The subject cannot act for itself.
/// let refused = Principal::builder(alice.clone(), issuer, "alice")
///     .expires_at(Timestamp::from_unix_seconds(1_700_000_300))
///     .actor(Actor::new(alice))
///     .build();
/// assert!(refused.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    id: PrincipalId,
    issuer: Issuer,
    subject: CompactString,
    tenant: Option<Tenant>,
    roles: Vec<Role>,
    scopes: ScopeSet,
    audiences: Vec<Audience>,
    auth: AuthContext,
    issued_at: Option<Timestamp>,
    expires_at: Timestamp,
    not_before: Option<Timestamp>,
    token_id: Option<CompactString>,
    session_id: Option<CompactString>,
    attributes: Attributes,
    delegation: Vec<Actor>,
    may_act: Option<Value>,
}

impl Principal {
    /// A builder for the Principal with this id, issuer, and the issuer's subject (`sub`).
    /// `expires_at` must be set before [`build`](PrincipalBuilder::build).
    pub fn builder(id: PrincipalId, issuer: Issuer, subject: impl AsRef<str>) -> PrincipalBuilder {
        PrincipalBuilder {
            // One allocation, so that each builder call moves a pointer, not every field.
            state: Box::new(BuilderState {
                id,
                issuer,
                subject: CompactString::new(subject),
                tenant: None,
                roles: Vec::new(),
                scopes: ScopeSet::new(),
                audiences: Vec::new(),
                auth: AuthContext::default(),
                issued_at: None,
                expires_at: None,
                not_before: None,
                token_id: None,
                session_id: None,
                attributes: Vec::new(),
                delegation: Vec::new(),
                may_act: None,
                max_delegation_depth: DEFAULT_MAX_DELEGATION_DEPTH,
            }),
        }
    }

    /// A builder holding this Principal's fields, to derive a new Principal from it (add an
    /// actor, narrow scopes). Its maximum delegation depth is the default, or the length of
    /// this Principal's chain if that is longer (so the same chain rebuilds, but does not
    /// grow past the default).
    ///
    /// The scopes it holds are this Principal's effective scopes.
    pub fn to_builder(&self) -> PrincipalBuilder {
        PrincipalBuilder {
            // One allocation, so that each builder call moves a pointer, not every field.
            state: Box::new(BuilderState {
                id: self.id.clone(),
                issuer: self.issuer.clone(),
                subject: self.subject.clone(),
                tenant: self.tenant.clone(),
                roles: self.roles.clone(),
                scopes: self.scopes.clone(),
                audiences: self.audiences.clone(),
                auth: self.auth.clone(),
                issued_at: self.issued_at,
                expires_at: Some(self.expires_at),
                not_before: self.not_before,
                token_id: self.token_id.clone(),
                session_id: self.session_id.clone(),
                attributes: self.attributes.0.clone(),
                delegation: self.delegation.clone(),
                may_act: self.may_act.clone(),
                max_delegation_depth: DEFAULT_MAX_DELEGATION_DEPTH.max(self.delegation.len()),
            }),
        }
    }

    /// The subject's kind (that of its id).
    pub fn kind(&self) -> Kind {
        self.id.kind()
    }

    /// The subject's typed id.
    pub fn id(&self) -> &PrincipalId {
        &self.id
    }

    /// The issuer that vouched for the subject.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The issuer's subject identifier (`sub`), as the issuer sent it. For a service token
    /// without `sub`, the client id the service id was made from.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The tenant, if any.
    pub fn tenant(&self) -> Option<&Tenant> {
        self.tenant.as_ref()
    }

    /// The subject's roles, sorted, without duplicates.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// The effective scopes: the subject's scopes intersected with every actor's grant.
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// The audiences the credential was issued for, in their original order.
    pub fn audiences(&self) -> &[Audience] {
        &self.audiences
    }

    /// How the subject authenticated.
    pub fn auth(&self) -> &AuthContext {
        &self.auth
    }

    /// When the credential was issued, if known.
    pub fn issued_at(&self) -> Option<Timestamp> {
        self.issued_at
    }

    /// When the Principal stops being valid.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// When the Principal starts being valid, if restricted.
    pub fn not_before(&self) -> Option<Timestamp> {
        self.not_before
    }

    /// The credential's id (`jti`), if any.
    pub fn token_id(&self) -> Option<&str> {
        self.token_id.as_deref()
    }

    /// The session id (`sid`), if any.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// Enrichment attributes.
    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }

    /// The actors working on the subject's behalf, oldest first; the last one is the party
    /// calling now.
    pub fn delegation(&self) -> &[Actor] {
        &self.delegation
    }

    /// RFC 8693 `may_act` (who may act for the subject), as received.
    pub fn may_act(&self) -> Option<&Value> {
        self.may_act.as_ref()
    }

    /// Whether someone acts on the subject's behalf.
    pub fn is_delegated(&self) -> bool {
        !self.delegation.is_empty()
    }

    /// The id of the party calling now: the newest actor, or the subject when nobody acts
    /// for it.
    pub fn acting(&self) -> &PrincipalId {
        self.delegation.last().map_or(&self.id, Actor::id)
    }

    /// The newest actor, if the Principal is delegated.
    pub fn current_actor(&self) -> Option<&Actor> {
        self.delegation.last()
    }

    /// Whether the subject or any actor in the chain is of this kind.
    pub fn involves(&self, kind: Kind) -> bool {
        self.kind() == kind || self.delegation.iter().any(|a| a.kind() == kind)
    }

    /// Whether the effective scopes hold `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// Whether the subject has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles
            .binary_search_by(|candidate| candidate.as_str().cmp(role))
            .is_ok()
    }

    /// Whether the Principal has expired at `now` (JWT rule: invalid on or after `exp`).
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    /// Whether the Principal is valid at `now`: not expired, and not before `not_before`.
    pub fn is_valid_at(&self, now: Timestamp) -> bool {
        !self.is_expired_at(now) && self.not_before.is_none_or(|nbf| now >= nbf)
    }
}

/// Builds a [`Principal`]; [`build`](PrincipalBuilder::build) checks every invariant.
///
/// Singular methods add one value (`role`, `audience`, `attribute`, `actor`); plural ones
/// add many (`roles`, `audiences`), except `scopes` and `delegation`, which replace.
///
/// ```
/// use principal::{Issuer, Principal, PrincipalError, ServiceId, Timestamp};
///
/// let issuer = Issuer::new("https://idp.example.com")?;
/// let id = ServiceId::new("billing")?.into();
/// let builder = Principal::builder(id, issuer, "billing-client");
///
/// // No expiry: refused.
/// assert_eq!(builder.clone().build(), Err(PrincipalError::MissingExpiry));
/// // An expiry not after the issue time: refused (it could never be valid).
/// let backwards = builder
///     .clone()
///     .issued_at(Timestamp::from_unix_seconds(1_700_000_300))
///     .expires_at(Timestamp::from_unix_seconds(1_700_000_000))
///     .build();
/// assert!(matches!(backwards, Err(PrincipalError::ExpiresBeforeIssued { .. })));
///
/// // An expiry in the past is built: the builder has no clock. Validity at a time is
/// // the caller's question.
/// let principal = builder.expires_at(Timestamp::from_unix_seconds(1_700_000_300)).build()?;
/// assert_eq!(principal.subject(), "billing-client");
/// assert!(!principal.is_valid_at(Timestamp::from_unix_seconds(1_700_000_300)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct PrincipalBuilder {
    state: Box<BuilderState>,
}

/// The fields of a [`PrincipalBuilder`].
#[derive(Clone, Debug)]
struct BuilderState {
    id: PrincipalId,
    issuer: Issuer,
    subject: CompactString,
    tenant: Option<Tenant>,
    roles: Vec<Role>,
    scopes: ScopeSet,
    audiences: Vec<Audience>,
    auth: AuthContext,
    issued_at: Option<Timestamp>,
    expires_at: Option<Timestamp>,
    not_before: Option<Timestamp>,
    token_id: Option<CompactString>,
    session_id: Option<CompactString>,
    attributes: Vec<(CompactString, CompactString)>,
    delegation: Vec<Actor>,
    may_act: Option<Value>,
    max_delegation_depth: usize,
}

impl PrincipalBuilder {
    /// Sets the tenant.
    #[inline]
    pub fn tenant(mut self, tenant: Tenant) -> Self {
        self.state.tenant = Some(tenant);
        self
    }

    /// Adds a role.
    #[inline]
    pub fn role(mut self, role: Role) -> Self {
        self.state.roles.push(role);
        self
    }

    /// Adds roles.
    #[inline]
    pub fn roles(mut self, roles: impl IntoIterator<Item = Role>) -> Self {
        self.state.roles.extend(roles);
        self
    }

    /// Sets the subject's scopes (before the actors' grants narrow them).
    #[inline]
    pub fn scopes(mut self, scopes: ScopeSet) -> Self {
        self.state.scopes = scopes;
        self
    }

    /// Adds an audience.
    #[inline]
    pub fn audience(mut self, audience: Audience) -> Self {
        self.state.audiences.push(audience);
        self
    }

    /// Adds audiences.
    #[inline]
    pub fn audiences(mut self, audiences: impl IntoIterator<Item = Audience>) -> Self {
        // Into an empty list, a `Vec` moves in as it is (no copy).
        if self.state.audiences.is_empty() {
            self.state.audiences = audiences.into_iter().collect();
        } else {
            self.state.audiences.extend(audiences);
        }
        self
    }

    /// Sets the authentication context.
    #[inline]
    pub fn auth(mut self, auth: AuthContext) -> Self {
        self.state.auth = auth;
        self
    }

    /// Sets the issue time.
    #[inline]
    pub fn issued_at(mut self, at: Timestamp) -> Self {
        self.state.issued_at = Some(at);
        self
    }

    /// Sets the start of validity.
    #[inline]
    pub fn not_before(mut self, at: Timestamp) -> Self {
        self.state.not_before = Some(at);
        self
    }

    /// Sets the expiry (required). [`build`](PrincipalBuilder::build) checks only that it
    /// is set and after `issued_at` and `not_before`, never against the current time.
    #[inline]
    pub fn expires_at(mut self, at: Timestamp) -> Self {
        self.state.expires_at = Some(at);
        self
    }

    /// Sets the credential id (`jti`): at most [`MAX_TOKEN_ID_LEN`] bytes, no control
    /// characters.
    #[inline]
    pub fn token_id(mut self, token_id: impl AsRef<str>) -> Self {
        self.state.token_id = Some(CompactString::new(token_id));
        self
    }

    /// Sets the session id (`sid`): at most [`MAX_SESSION_ID_LEN`] bytes, no control
    /// characters.
    #[inline]
    pub fn session_id(mut self, session_id: impl AsRef<str>) -> Self {
        self.state.session_id = Some(CompactString::new(session_id));
        self
    }

    /// Adds an attribute. Keys are 1 to [`MAX_ATTRIBUTE_KEY_LEN`] bytes of ASCII letters,
    /// digits and `_ . : -`; values at most [`MAX_ATTRIBUTE_VALUE_LEN`] bytes without
    /// control characters; at most [`MAX_ATTRIBUTES`] of them. A key added again replaces
    /// the earlier value.
    #[inline]
    pub fn attribute(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.state
            .attributes
            .push((CompactString::new(key), CompactString::new(value)));
        self
    }

    /// Appends an actor as the newest link: the party calling now.
    #[inline]
    pub fn actor(mut self, actor: Actor) -> Self {
        self.state.delegation.push(actor);
        self
    }

    /// Replaces the delegation chain (oldest first).
    #[inline]
    pub fn delegation(mut self, delegation: Vec<Actor>) -> Self {
        self.state.delegation = delegation;
        self
    }

    /// Sets the maximum delegation depth (default [`DEFAULT_MAX_DELEGATION_DEPTH`]). A value
    /// above [`HARD_MAX_DELEGATION_DEPTH`] makes `build` fail.
    #[inline]
    pub fn max_delegation_depth(mut self, max: usize) -> Self {
        self.state.max_delegation_depth = max;
        self
    }

    /// Sets RFC 8693 `may_act`: a JSON object, at most [`MAX_MAY_ACT_DEPTH`] deep, with at
    /// most [`MAX_MAY_ACT_NODES`] values and strings of at most [`MAX_MAY_ACT_STRING_LEN`]
    /// bytes.
    #[inline]
    pub fn may_act(mut self, may_act: Value) -> Self {
        self.state.may_act = Some(may_act);
        self
    }

    /// Checks every invariant and builds the Principal.
    ///
    /// Expiry: `expires_at` must be set ([`PrincipalError::MissingExpiry`]) and after
    /// `issued_at` ([`PrincipalError::ExpiresBeforeIssued`]) and `not_before`
    /// ([`PrincipalError::ExpiresBeforeNotBefore`]), when those are set. Nothing here reads
    /// a clock: an expiry already past is accepted, and
    /// [`Principal::is_valid_at`] answers for a given time.
    pub fn build(self) -> Result<Principal, PrincipalError> {
        let BuilderState {
            id,
            issuer,
            subject,
            tenant,
            mut roles,
            scopes,
            mut audiences,
            auth,
            issued_at,
            expires_at,
            not_before,
            token_id,
            session_id,
            mut attributes,
            mut delegation,
            may_act,
            max_delegation_depth,
        } = *self.state;

        if max_delegation_depth > HARD_MAX_DELEGATION_DEPTH {
            return Err(PrincipalError::DepthAboveHardCap {
                requested: max_delegation_depth,
                cap: HARD_MAX_DELEGATION_DEPTH,
            });
        }
        validate::text("subject", &subject, MAX_SUBJECT_LEN)?;

        let expires_at = expires_at.ok_or(PrincipalError::MissingExpiry)?;
        if let Some(issued_at) = issued_at
            && expires_at <= issued_at
        {
            return Err(PrincipalError::ExpiresBeforeIssued {
                issued_at,
                expires_at,
            });
        }
        if let Some(not_before) = not_before
            && expires_at <= not_before
        {
            return Err(PrincipalError::ExpiresBeforeNotBefore {
                not_before,
                expires_at,
            });
        }

        sort_dedup(&mut roles);
        check_count("roles", roles.len(), MAX_ROLES)?;
        check_count("scopes", scopes.len(), MAX_SCOPES)?;
        check_count("audiences", audiences.len(), MAX_AUDIENCES)?;
        dedup_keep_order(&mut audiences);
        sort_dedup_attributes(&mut attributes);
        check_count("attributes", attributes.len(), MAX_ATTRIBUTES)?;
        for (key, value) in &attributes {
            validate_attribute(key, value)?;
        }
        auth.validate()?;
        if let Some(token_id) = &token_id {
            validate::text("token_id", token_id, MAX_TOKEN_ID_LEN)?;
        }
        if let Some(session_id) = &session_id {
            validate::text("session_id", session_id, MAX_SESSION_ID_LEN)?;
        }

        if delegation.len() > max_delegation_depth {
            return Err(PrincipalError::DelegationTooDeep {
                depth: delegation.len(),
                max: max_delegation_depth,
            });
        }
        for actor in &mut delegation {
            if actor
                .subject
                .as_deref()
                .is_some_and(|subject| actor.id.text_eq(subject))
            {
                actor.subject = None;
            }
        }
        let mut effective = scopes;
        for i in 0..delegation.len() {
            let actor = &delegation[i];
            actor.validate()?;
            // The subject under another kind (the same issuer and `sub`) is the subject too.
            if actor.id == id || actor.same_party(&issuer, &issuer, Some(&subject)) {
                return Err(PrincipalError::ActorIsSubject {
                    id: actor.id.clone(),
                });
            }
            // The chain is at most HARD_MAX_DELEGATION_DEPTH long: quadratic is fine.
            if delegation[..i].iter().any(|earlier| {
                earlier.id == actor.id
                    || actor.same_party(
                        &issuer,
                        earlier.issuer.as_ref().unwrap_or(&issuer),
                        earlier.subject.as_deref(),
                    )
            }) {
                return Err(PrincipalError::RepeatedActor {
                    id: actor.id.clone(),
                });
            }
            // Usually one of grant and effective holds the other: the result shares that
            // set's storage (no copy).
            if let Some(grant) = &actor.grant
                && !effective.is_subset(grant)
            {
                effective = if grant.is_subset(&effective) {
                    grant.clone()
                } else {
                    effective.intersection(grant)
                };
            }
        }
        // Each actor's grant becomes its effective grant in this request: what it was granted,
        // within its delegator's, within every later link's. That is `effective` for every
        // link: the wire carries only the effective scopes, so any per-link value would read
        // differently after one hop. A reference count each, no copy.
        for actor in &mut delegation {
            actor.grant = Some(effective.clone());
        }
        if let Some(may_act) = &may_act {
            validate_may_act(may_act)?;
        }

        Ok(Principal {
            id,
            issuer,
            subject,
            tenant,
            roles,
            scopes: effective,
            audiences,
            auth,
            issued_at,
            expires_at,
            not_before,
            token_id,
            session_id,
            attributes: Attributes(attributes),
            delegation,
            may_act,
        })
    }
}

fn check_count(field: &'static str, len: usize, max: usize) -> Result<(), PrincipalError> {
    if len > max {
        return Err(PrincipalError::TooMany { field, len, max });
    }
    Ok(())
}

/// Sorts and removes duplicates; input that is already strictly ascending (a decoded
/// passport's) costs one pass.
fn sort_dedup(roles: &mut Vec<Role>) {
    if !roles.is_sorted_by(|a, b| a < b) {
        roles.sort_unstable();
        roles.dedup();
    }
}

/// Sorts by key; of a key added more than once, the value added last stays (map semantics).
fn sort_dedup_attributes(attributes: &mut Vec<(CompactString, CompactString)>) {
    if attributes.is_sorted_by(|a, b| a.0 < b.0) {
        return;
    }
    // Stable: equal keys keep the order they were added in.
    attributes.sort_by(|a, b| a.0.cmp(&b.0));
    attributes.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            std::mem::swap(&mut later.1, &mut kept.1);
        }
        same
    });
}

fn dedup_keep_order(audiences: &mut Vec<Audience>) {
    let mut i = 0;
    while i < audiences.len() {
        if audiences[..i].contains(&audiences[i]) {
            audiences.remove(i);
        } else {
            i += 1;
        }
    }
}

fn validate_attribute(key: &str, value: &str) -> Result<(), IdError> {
    const KEY: &str = "attribute_key";
    validate::length(KEY, key, MAX_ATTRIBUTE_KEY_LEN)?;
    // Every byte before the first refused one is ASCII: its position starts a character.
    if let Some(position) = key
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-')))
    {
        return Err(IdError::InvalidChar {
            field: KEY,
            position,
            found: key[position..].chars().next().unwrap_or('\u{fffd}'),
        });
    }
    if value.len() > MAX_ATTRIBUTE_VALUE_LEN {
        return Err(IdError::TooLong {
            field: "attribute_value",
            len: value.len(),
            max: MAX_ATTRIBUTE_VALUE_LEN,
        });
    }
    validate::no_control("attribute_value", value)
}

/// Checks that `may_act` is an object of bounded depth, size and string length, without
/// recursion.
fn validate_may_act(may_act: &Value) -> Result<(), PrincipalError> {
    let invalid = |why| PrincipalError::InvalidMayAct { why };
    if !may_act.is_object() {
        return Err(invalid("not a JSON object"));
    }
    let mut stack: Vec<(&Value, usize)> = vec![(may_act, 1)];
    let mut nodes = 0usize;
    while let Some((value, depth)) = stack.pop() {
        nodes += 1;
        if nodes > MAX_MAY_ACT_NODES {
            return Err(invalid("too many values"));
        }
        if depth > MAX_MAY_ACT_DEPTH {
            return Err(invalid("nested too deep"));
        }
        match value {
            Value::String(s) if s.len() > MAX_MAY_ACT_STRING_LEN => {
                return Err(invalid("string too long"));
            }
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(map) => {
                for (key, v) in map {
                    if key.len() > MAX_MAY_ACT_STRING_LEN {
                        return Err(invalid("key too long"));
                    }
                    stack.push((v, depth + 1));
                }
            }
            _ => {}
        }
        if stack.len() > MAX_MAY_ACT_NODES {
            return Err(invalid("too many values"));
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct PrincipalView<'a> {
    id: &'a PrincipalId,
    kind: Kind,
    issuer: &'a Issuer,
    subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<&'a Tenant>,
    roles: &'a [Role],
    scopes: &'a ScopeSet,
    audiences: &'a [Audience],
    auth: &'a AuthContext,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_at: Option<Timestamp>,
    expires_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_before: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    attributes: &'a Attributes,
    delegation: &'a [Actor],
    #[serde(skip_serializing_if = "Option::is_none")]
    may_act: Option<&'a Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalForm {
    id: PrincipalId,
    #[serde(default)]
    kind: Option<Kind>,
    issuer: Issuer,
    subject: String,
    #[serde(default)]
    tenant: Option<Tenant>,
    #[serde(default)]
    roles: Vec<Role>,
    #[serde(default)]
    scopes: ScopeSet,
    #[serde(default)]
    audiences: Vec<Audience>,
    #[serde(default)]
    auth: AuthContext,
    #[serde(default)]
    issued_at: Option<Timestamp>,
    expires_at: Timestamp,
    #[serde(default)]
    not_before: Option<Timestamp>,
    #[serde(default)]
    token_id: Option<String>,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    delegation: Vec<Actor>,
    #[serde(default)]
    may_act: Option<Value>,
}

impl Serialize for Principal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PrincipalView {
            id: &self.id,
            kind: self.kind(),
            issuer: &self.issuer,
            subject: self.subject.as_str(),
            tenant: self.tenant.as_ref(),
            roles: &self.roles,
            scopes: &self.scopes,
            audiences: &self.audiences,
            auth: &self.auth,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            not_before: self.not_before,
            token_id: self.token_id.as_deref(),
            session_id: self.session_id.as_deref(),
            attributes: &self.attributes,
            delegation: &self.delegation,
            may_act: self.may_act.as_ref(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = PrincipalForm::deserialize(deserializer)?;
        check_kind(form.kind, &form.id).map_err(serde::de::Error::custom)?;
        let mut builder = Principal::builder(form.id, form.issuer, form.subject)
            .roles(form.roles)
            .scopes(form.scopes)
            .audiences(form.audiences)
            .auth(form.auth)
            .expires_at(form.expires_at)
            .delegation(form.delegation)
            .max_delegation_depth(HARD_MAX_DELEGATION_DEPTH);
        builder.state.attributes = form
            .attributes
            .into_iter()
            .map(|(key, value)| (CompactString::from(key), CompactString::from(value)))
            .collect();
        builder.state.tenant = form.tenant;
        builder.state.issued_at = form.issued_at;
        builder.state.not_before = form.not_before;
        builder.state.token_id = form.token_id.map(CompactString::from);
        builder.state.session_id = form.session_id.map(CompactString::from);
        builder.state.may_act = form.may_act;
        builder.build().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_sort_and_the_last_value_of_a_key_stays() {
        let pair = |k: &str, v: &str| (CompactString::new(k), CompactString::new(v));
        let mut attributes = vec![
            pair("b", "1"),
            pair("a", "2"),
            pair("b", "3"),
            pair("b", "4"),
        ];
        sort_dedup_attributes(&mut attributes);
        assert_eq!(attributes, vec![pair("a", "2"), pair("b", "4")]);
        let mut roles = ["c", "a", "c", "b"].map(|r| Role::new(r).unwrap()).to_vec();
        sort_dedup(&mut roles);
        assert_eq!(
            roles.iter().map(Role::as_str).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn attribute_key_reports_the_refused_character() {
        assert!(validate_attribute("dept.name:x-1_2", "v").is_ok());
        assert_eq!(
            validate_attribute("ab\u{e9}c", "v"),
            Err(IdError::InvalidChar {
                field: "attribute_key",
                position: 2,
                found: '\u{e9}'
            })
        );
        assert_eq!(
            validate_attribute("a/b", "v"),
            Err(IdError::InvalidChar {
                field: "attribute_key",
                position: 1,
                found: '/'
            })
        );
    }
}
