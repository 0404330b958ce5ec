//! Model <-> wire conversions for the Principal.
//!
//! Model to wire is infallible. Wire to model goes through
//! [`Principal::builder`], so every invariant of the model is checked again,
//! plus the wire's own rules: ids well formed for their kind, set-like lists
//! strictly ascending (no silently dropped duplicate), no duplicate audience.

use principal::limits::{DEFAULT_MAX_DELEGATION_DEPTH, MAX_ATTRIBUTES, MAX_AUDIENCES, MAX_SCOPES};
use principal::{
    Actor, AgentId, Audience, AuthContext, HumanId, IdError, Issuer, Principal, PrincipalError,
    PrincipalId, Role, Scope, ScopeSet, ServiceId, Tenant, Timestamp, Uuid,
};

use prost::Message as _;

use crate::error::PassportError;
use crate::proto;
use crate::wire::{self, ActorView, IdView, PrincipalView, Repeated, TextOrUuid, WireError};

impl From<&Principal> for proto::Principal {
    /// The wire form of a Principal. A subject equal to the id's text form
    /// (typed subjects, services) is left out: the decoder restores it.
    fn from(principal: &Principal) -> Self {
        let subject = if subject_is_id(principal.id(), principal.subject()) {
            String::new()
        } else {
            principal.subject().to_owned()
        };
        let expires_at = principal.expires_at();
        let auth = principal.auth();
        let auth = (auth != &AuthContext::default()).then(|| proto::AuthContext {
            amr: auth.amr.clone(),
            acr: auth.acr.clone(),
            auth_time_offset: auth.auth_time.map(|at| offset(at, expires_at)),
            client_id: auth.client_id.clone(),
        });
        proto::Principal {
            id: Some(id_to_proto(principal.id())),
            issuer: principal.issuer().as_str().to_owned(),
            subject,
            tenant: principal.tenant().map(|tenant| tenant.as_str().to_owned()),
            roles: principal
                .roles()
                .iter()
                .map(|role| role.as_str().to_owned())
                .collect(),
            scopes: scopes_to_proto(principal.scopes()),
            audiences: principal
                .audiences()
                .iter()
                .map(|audience| audience.as_str().to_owned())
                .collect(),
            auth,
            issued_at_offset: principal.issued_at().map(|at| offset(at, expires_at)),
            expires_at: expires_at.as_unix_seconds(),
            not_before_offset: principal.not_before().map(|at| offset(at, expires_at)),
            token_id_form: principal.token_id().map(|text| {
                text_or_uuid_form(
                    text,
                    proto::principal::TokenIdForm::TokenId,
                    proto::principal::TokenIdForm::TokenIdUuid,
                )
            }),
            session_id_form: principal.session_id().map(|text| {
                text_or_uuid_form(
                    text,
                    proto::principal::SessionIdForm::SessionId,
                    proto::principal::SessionIdForm::SessionIdUuid,
                )
            }),
            attributes: principal
                .attributes()
                .iter()
                .map(|(key, value)| proto::Attribute {
                    key: key.to_owned(),
                    value: value.to_owned(),
                })
                .collect(),
            delegation: principal
                .delegation()
                .iter()
                .map(|actor| actor_to_proto(actor, principal.scopes()))
                .collect(),
            // `Display` of a JSON value is its compact JSON text and cannot fail.
            may_act_json: principal.may_act().map(ToString::to_string),
        }
    }
}

impl TryFrom<proto::Principal> for Principal {
    type Error = PassportError;

    /// The model Principal of a wire Principal, with the default maximum
    /// delegation depth ([`DEFAULT_MAX_DELEGATION_DEPTH`]): every check of
    /// [`Passport::decode_unsigned`](crate::Passport::decode_unsigned) on the Principal.
    ///
    /// ```
    /// use principal::Principal;
    /// use principal_proto::{PassportError, proto};
    /// # let principal = principal_proto::fixtures::reference_principal(principal::Timestamp::from_unix_seconds(1_700_000_000))?;
    ///
    /// let wire = proto::Principal::from(&principal);
    /// assert_eq!(Principal::try_from(wire.clone())?, principal);
    ///
    /// // An id without a kind never becomes a Principal.
    /// let mut no_kind = wire;
    /// no_kind.id = Some(proto::PrincipalId { kind: None });
    /// assert!(matches!(Principal::try_from(no_kind), Err(PassportError::InvalidField { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn try_from(wire: proto::Principal) -> Result<Self, Self::Error> {
        // One decoding path for every way in: through the bytes.
        let bytes = wire.encode_to_vec();
        let view = wire::principal(&bytes, wire::RECURSION_LIMIT).map_err(|error| {
            PassportError::Malformed {
                message: "Principal",
                detail: error.0,
            }
        })?;
        principal_from_view(&view, DEFAULT_MAX_DELEGATION_DEPTH)
    }
}

/// The model Principal of a wire Principal, allowing a delegation chain of
/// at most `max_delegation_depth` actors.
pub(crate) fn principal_from_view(
    wire: &PrincipalView<'_>,
    max_delegation_depth: usize,
) -> Result<Principal, PassportError> {
    let id = id_from_view(wire.id.as_ref(), "Principal.id")?;
    let issuer = Issuer::new(wire.issuer).map_err(invalid)?;
    let id_text;
    let subject = if wire.subject.is_empty() {
        id_text = id.to_string();
        id_text.as_str()
    } else {
        wire.subject
    };
    let expires_at = Timestamp::from_unix_seconds(wire.expires_at);
    let scopes = scopes_from_view(wire.scopes, "Principal.scopes")?;
    let audiences = audiences_from_view(wire.audiences)?;
    let auth = match &wire.auth {
        None => AuthContext::default(),
        Some(auth) => AuthContext {
            amr: {
                // Sized up front: collecting from the wire iterator would grow the list.
                let mut amr = Vec::with_capacity(auth.amr.len());
                for value in auth.amr.strings() {
                    amr.push(value.map_err(malformed)?.to_owned());
                }
                amr
            },
            acr: auth.acr.map(str::to_owned),
            auth_time: auth
                .auth_time_offset
                .map(|offset| from_offset(offset, expires_at)),
            client_id: auth.client_id.map(str::to_owned),
        },
    };
    // The builder refuses a chain that is too deep; do not build its actors first.
    if wire.delegation_len() > max_delegation_depth {
        return Err(PassportError::InvalidPrincipal(
            PrincipalError::DelegationTooDeep {
                depth: wire.delegation_len(),
                max: max_delegation_depth,
            },
        ));
    }
    let mut delegation = Vec::with_capacity(wire.delegation_len());
    for actor in wire.delegation() {
        delegation.push(actor_from_view(&actor.map_err(malformed)?, &scopes)?);
    }
    let mut token_id_buffer = [0; UUID_TEXT_LEN];
    let token_id = text_or_uuid(wire.token_id, "Principal.token_id", &mut token_id_buffer)?;
    let mut session_id_buffer = [0; UUID_TEXT_LEN];
    let session_id = text_or_uuid(
        wire.session_id,
        "Principal.session_id",
        &mut session_id_buffer,
    )?;

    // Roles go straight into the builder's set; the first error stops them.
    let mut role_error = None;
    let roles = ascending(wire.roles, "Principal.roles").map_while(|role| {
        match role.and_then(|role| Role::new(role).map_err(invalid)) {
            Ok(role) => Some(role),
            Err(error) => {
                role_error = Some(error);
                None
            }
        }
    });
    let mut builder = Principal::builder(id, issuer, subject).roles(roles);
    if let Some(error) = role_error {
        return Err(error);
    }
    builder = builder
        .scopes(scopes)
        .audiences(audiences)
        .auth(auth)
        .expires_at(expires_at)
        .delegation(delegation)
        .max_delegation_depth(max_delegation_depth);
    if let Some(tenant) = wire.tenant {
        builder = builder.tenant(Tenant::new(tenant).map_err(invalid)?);
    }
    if let Some(offset) = wire.issued_at_offset {
        builder = builder.issued_at(from_offset(offset, expires_at));
    }
    if let Some(offset) = wire.not_before_offset {
        builder = builder.not_before(from_offset(offset, expires_at));
    }
    if let Some(token_id) = token_id {
        builder = builder.token_id(token_id);
    }
    if let Some(session_id) = session_id {
        builder = builder.session_id(session_id);
    }
    if wire.attribute_count() > MAX_ATTRIBUTES {
        return Err(PassportError::InvalidPrincipal(PrincipalError::TooMany {
            field: "attributes",
            len: wire.attribute_count(),
            max: MAX_ATTRIBUTES,
        }));
    }
    let mut previous_key: Option<&str> = None;
    for attribute in wire.attributes() {
        let attribute = attribute.map_err(malformed)?;
        if previous_key.is_some_and(|previous| previous >= attribute.key) {
            return Err(PassportError::InvalidField {
                field: "Principal.attributes",
                reason: NOT_ASCENDING,
            });
        }
        previous_key = Some(attribute.key);
        builder = builder.attribute(attribute.key, attribute.value);
    }
    if let Some(json) = wire.may_act_json {
        let may_act = serde_json::from_str(json).map_err(|_| PassportError::InvalidField {
            field: "Principal.may_act_json",
            reason: "is not JSON",
        })?;
        builder = builder.may_act(may_act);
    }
    builder.build().map_err(PassportError::InvalidPrincipal)
}

const NOT_ASCENDING: &str = "is not in strictly ascending order (unsorted or duplicate)";

/// A model error about one value of the Principal.
fn invalid(error: IdError) -> PassportError {
    PassportError::InvalidPrincipal(PrincipalError::Invalid(error))
}

/// A wire error in an element of a list (elements are checked when read).
fn malformed(error: WireError) -> PassportError {
    PassportError::Malformed {
        message: "Principal",
        detail: error.0,
    }
}

/// The strings of a set-like list, each checked to be strictly greater than
/// the one before.
fn ascending<'a>(
    values: Repeated<'a>,
    field: &'static str,
) -> impl Iterator<Item = Result<&'a str, PassportError>> + use<'a> {
    let mut previous: Option<&str> = None;
    values.strings().map(move |value| {
        let value = value.map_err(malformed)?;
        if previous.is_some_and(|previous| previous >= value) {
            return Err(PassportError::InvalidField {
                field,
                reason: NOT_ASCENDING,
            });
        }
        previous = Some(value);
        Ok(value)
    })
}

fn scopes_to_proto(scopes: &ScopeSet) -> Vec<String> {
    scopes
        .iter()
        .map(|scope| scope.as_str().to_owned())
        .collect()
}

fn scopes_from_view(scopes: Repeated<'_>, field: &'static str) -> Result<ScopeSet, PassportError> {
    if scopes.len() > MAX_SCOPES {
        return Err(PassportError::InvalidPrincipal(PrincipalError::TooMany {
            field,
            len: scopes.len(),
            max: MAX_SCOPES,
        }));
    }
    // Sized up front: collecting from the wire iterator would grow the list.
    let mut parsed = Vec::with_capacity(scopes.len());
    for scope in ascending(scopes, field) {
        parsed.push(Scope::new(scope?).map_err(invalid)?);
    }
    // A `Vec`'s own iterator collects in place: no copy.
    Ok(parsed.into_iter().collect())
}

fn audiences_from_view(audiences: Repeated<'_>) -> Result<Vec<Audience>, PassportError> {
    if audiences.len() > MAX_AUDIENCES {
        return Err(PassportError::InvalidPrincipal(PrincipalError::TooMany {
            field: "audiences",
            len: audiences.len(),
            max: MAX_AUDIENCES,
        }));
    }
    let mut parsed: Vec<Audience> = Vec::with_capacity(audiences.len());
    for audience in audiences.strings() {
        let audience = audience.map_err(malformed)?;
        // At most MAX_AUDIENCES: quadratic is fine.
        if parsed.iter().any(|earlier| earlier.as_str() == audience) {
            return Err(PassportError::InvalidField {
                field: "Principal.audiences",
                reason: "has a duplicate",
            });
        }
        parsed.push(Audience::new(audience).map_err(invalid)?);
    }
    Ok(parsed)
}

/// A time as its offset from `base`, wrapping in 64 bits so that every pair
/// of times has an offset and [`from_offset`] restores the time exactly.
pub(crate) fn offset(at: Timestamp, base: Timestamp) -> i64 {
    at.as_unix_seconds().wrapping_sub(base.as_unix_seconds())
}

/// The time `offset` seconds from `base` (wrapping; the inverse of [`offset`]).
pub(crate) fn from_offset(offset: i64, base: Timestamp) -> Timestamp {
    Timestamp::from_unix_seconds(base.as_unix_seconds().wrapping_add(offset))
}

/// Whether `subject` is the text form of `id`, without allocating.
fn subject_is_id(id: &PrincipalId, subject: &str) -> bool {
    match id {
        PrincipalId::Service(service) => service.as_str() == subject,
        PrincipalId::Human(human) => uuid_text_is(HumanId::PREFIX, human.as_uuid(), subject),
        PrincipalId::Agent(agent) => uuid_text_is(AgentId::PREFIX, agent.as_uuid(), subject),
    }
}

fn uuid_text_is(prefix: &str, uuid: &Uuid, text: &str) -> bool {
    let mut buffer = Uuid::encode_buffer();
    text.strip_prefix(prefix)
        .is_some_and(|rest| rest == uuid.hyphenated().encode_lower(&mut buffer))
}

/// The 16 bytes of `text` if it is the canonical (lowercase, hyphenated)
/// text of a uuid, so that decoding restores exactly the same text.
pub(crate) fn canonical_uuid(text: &str) -> Option<Uuid> {
    if text.len() != 36 {
        return None;
    }
    let uuid = Uuid::try_parse(text).ok()?;
    let mut buffer = Uuid::encode_buffer();
    (uuid.hyphenated().encode_lower(&mut buffer) == text).then_some(uuid)
}

/// The length of a uuid's hyphenated text.
pub(crate) const UUID_TEXT_LEN: usize = 36;

/// The id from the member of its text-or-uuid oneof, if one is set (the wire
/// reader has refused two). A uuid is written as text into `buffer`, so that the
/// caller copies the text once, into what it keeps.
pub(crate) fn text_or_uuid<'a>(
    form: Option<TextOrUuid<'a>>,
    field: &'static str,
    buffer: &'a mut [u8; UUID_TEXT_LEN],
) -> Result<Option<&'a str>, PassportError> {
    match form {
        None => Ok(None),
        Some(TextOrUuid::Text(text)) => Ok(Some(text)),
        Some(TextOrUuid::Uuid(uuid)) => {
            let uuid = Uuid::from_slice(uuid).map_err(|_| PassportError::InvalidField {
                field,
                reason: "uuid is not 16 bytes",
            })?;
            // Through a buffer: `to_string` would go through the formatting machinery.
            Ok(Some(uuid.hyphenated().encode_lower(buffer)))
        }
    }
}

/// The member of a text-or-uuid oneof for `text`: its 16 bytes if it is the
/// canonical text of a uuid, so that decoding restores exactly the same text.
fn text_or_uuid_form<T>(
    text: &str,
    text_member: fn(String) -> T,
    uuid_member: fn(Vec<u8>) -> T,
) -> T {
    match canonical_uuid(text) {
        Some(uuid) => uuid_member(uuid.as_bytes().to_vec()),
        None => text_member(text.to_owned()),
    }
}

pub(crate) fn id_to_proto(id: &PrincipalId) -> proto::PrincipalId {
    use proto::principal_id::Kind;
    let kind = match id {
        PrincipalId::Human(human) => Kind::Human(human.as_uuid().as_bytes().to_vec()),
        PrincipalId::Agent(agent) => Kind::Agent(agent.as_uuid().as_bytes().to_vec()),
        PrincipalId::Service(service) => Kind::Service(service.slug().to_owned()),
    };
    proto::PrincipalId { kind: Some(kind) }
}

fn id_from_view(
    id: Option<&IdView<'_>>,
    field: &'static str,
) -> Result<PrincipalId, PassportError> {
    let id = id.ok_or(PassportError::MissingField { field })?;
    let bad = |reason| PassportError::InvalidField { field, reason };
    let uuid = |bytes| Uuid::from_slice(bytes).map_err(|_| bad("uuid is not 16 bytes"));
    match *id {
        IdView::Human(bytes) => Ok(PrincipalId::Human(HumanId::new(uuid(bytes)?))),
        IdView::Agent(bytes) => Ok(PrincipalId::Agent(AgentId::new(uuid(bytes)?))),
        IdView::Service(slug) => ServiceId::new(slug)
            .map(PrincipalId::Service)
            .map_err(invalid),
        IdView::NoKind => Err(bad("has no kind: none of human, agent, service is set")),
    }
}

fn actor_to_proto(actor: &Actor, effective: &ScopeSet) -> proto::Actor {
    proto::Actor {
        id: Some(id_to_proto(actor.id())),
        issuer: actor.issuer().map(|issuer| issuer.as_str().to_owned()),
        subject: actor.subject().map(str::to_owned),
        client_id: actor.client_id().map(str::to_owned),
        // A grant always contains the effective scopes: only the rest travels.
        grant: actor.grant().map(|grant| proto::ScopeGrant {
            extra_scopes: grant
                .iter()
                .filter(|scope| !effective.contains(scope.as_str()))
                .map(|scope| scope.as_str().to_owned())
                .collect(),
        }),
    }
}

fn actor_from_view(wire: &ActorView<'_>, effective: &ScopeSet) -> Result<Actor, PassportError> {
    let mut actor = Actor::new(id_from_view(wire.id.as_ref(), "Actor.id")?);
    if let Some(issuer) = wire.issuer {
        actor = actor.with_issuer(Issuer::new(issuer).map_err(invalid)?);
    }
    if let Some(subject) = wire.subject {
        actor = actor.with_subject(subject);
    }
    if let Some(client_id) = wire.client_id {
        actor = actor.with_client_id(client_id);
    }
    if wire.grant.is_some_and(|extra| extra.len() == 0) {
        // The usual grant: exactly the effective scopes, shared, not copied.
        actor = actor.with_grant(effective.clone());
    } else if let Some(extra) = wire.grant {
        const FIELD: &str = "ScopeGrant.extra_scopes";
        let extra = scopes_from_view(extra, FIELD)?;
        if extra.iter().any(|scope| effective.contains(scope.as_str())) {
            return Err(PassportError::InvalidField {
                field: FIELD,
                reason: "repeats one of the Principal's scopes",
            });
        }
        let grant = if extra.is_empty() {
            effective.clone()
        } else {
            effective.iter().cloned().chain(extra).collect()
        };
        actor = actor.with_grant(grant);
    }
    Ok(actor)
}
