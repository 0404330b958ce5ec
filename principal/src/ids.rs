//! Kinds and typed ids, and the validated string types of the model.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::IdError;
use crate::limits::{
    MAX_AUDIENCE_LEN, MAX_ISSUER_LEN, MAX_ROLE_LEN, MAX_SERVICE_SLUG_LEN, MAX_TENANT_LEN,
};
use crate::validate;

/// The namespace of every UUID v5 Baton derives from an issuer and a subject.
///
/// Fixed forever: changing it would change every derived id.
pub const BATON_NAMESPACE: Uuid = Uuid::from_u128(0x729489e8_497b_4c12_a693_b7174d41603f);

/// What kind of party a principal or actor is.
///
/// Text form (`Display`, `FromStr`, serde): `"human"`, `"agent"`, `"service"`.
///
/// ```
/// use principal::Kind;
///
/// assert_eq!("agent".parse::<Kind>(), Ok(Kind::Agent));
/// assert_eq!(Kind::Human.to_string(), "human");
/// assert!("Agent".parse::<Kind>().is_err()); // exact lowercase only
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A person.
    Human,
    /// A software agent (an AI agent, a bot) that acts on its own or for someone.
    Agent,
    /// A service or workload (a client_credentials client, a microservice).
    Service,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 3] = [Kind::Human, Kind::Agent, Kind::Service];

    /// The text form: `"human"`, `"agent"` or `"service"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Human => "human",
            Kind::Agent => "agent",
            Kind::Service => "service",
        }
    }

    /// The id prefix of this kind: `"hm-"`, `"am-"` or `"svc-"`.
    pub const fn id_prefix(self) -> &'static str {
        match self {
            Kind::Human => HumanId::PREFIX,
            Kind::Agent => AgentId::PREFIX,
            Kind::Service => ServiceId::PREFIX,
        }
    }

    pub(crate) fn parse_field(field: &'static str, s: &str) -> Result<Kind, IdError> {
        match s {
            "human" => Ok(Kind::Human),
            "agent" => Ok(Kind::Agent),
            "service" => Ok(Kind::Service),
            _ => Err(IdError::UnknownKind { field }),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::parse_field("kind", s)
    }
}

/// The UUID v5 of `"{kind}\n{issuer}\n{subject}"` in [`BATON_NAMESPACE`], `kind` being
/// `human` or `agent`. Neither a kind nor an issuer contains a newline (see [`Issuer`]), so
/// the encoding is unambiguous; the kind in the name keeps a human and an agent with one
/// issuer and subject apart.
fn derive_uuid(kind: Kind, issuer: &Issuer, subject: &str) -> Uuid {
    let kind = kind.as_str();
    let mut name = Vec::with_capacity(kind.len() + issuer.as_str().len() + 2 + subject.len());
    name.extend_from_slice(kind.as_bytes());
    name.push(b'\n');
    name.extend_from_slice(issuer.as_str().as_bytes());
    name.push(b'\n');
    name.extend_from_slice(subject.as_bytes());
    Uuid::new_v5(&BATON_NAMESPACE, &name)
}

/// Parses the canonical lowercase hyphenated uuid after `prefix`.
fn parse_prefixed_uuid(
    field: &'static str,
    prefix: &'static str,
    s: &str,
) -> Result<Uuid, IdError> {
    const UUID_LEN: usize = 36;
    if s.is_empty() {
        return Err(IdError::Empty { field });
    }
    let Some(rest) = s.strip_prefix(prefix) else {
        return Err(IdError::MissingPrefix {
            field,
            expected: prefix,
        });
    };
    if rest.len() > UUID_LEN {
        return Err(IdError::TooLong {
            field,
            len: s.len(),
            max: prefix.len() + UUID_LEN,
        });
    }
    let canonical = rest.len() == UUID_LEN
        && rest.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        });
    if !canonical {
        return Err(IdError::InvalidUuid { field });
    }
    Uuid::try_parse(rest).map_err(|_| IdError::InvalidUuid { field })
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $prefix:literal, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        impl $name {
            /// The prefix of this id's text form.
            pub const PREFIX: &'static str = $prefix;

            /// The id of the given uuid.
            pub const fn new(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The id derived from an issuer and the issuer's subject (`sub`): the UUID v5 of
            /// `"{kind}\n{issuer}\n{subject}"` in [`BATON_NAMESPACE`], `kind` being this
            /// id's kind (`human` or `agent`). The same issuer and subject always give the
            /// same id, at every hop and in every log; another issuer, or the other kind,
            /// gives another id.
            pub fn derive(issuer: &Issuer, subject: &str) -> Self {
                Self(derive_uuid($kind, issuer, subject))
            }

            /// The uuid inside the id.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// Parses the text form: the prefix, then a lowercase hyphenated uuid.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                parse_prefixed_uuid($field, $prefix, s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($prefix)?;
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(ParseVisitor::<$name>::new(concat!("a ", $prefix, "<uuid> id")))
            }
        }
    };
}

uuid_id!(
    /// The id of a human: `hm-` followed by a lowercase hyphenated uuid.
    ///
    /// ```
    /// use principal::{HumanId, Issuer};
    ///
    /// let id: HumanId = "hm-6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d".parse()?;
    /// assert_eq!(id.to_string(), "hm-6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d");
    ///
    /// // Derived ids are stable for one issuer and subject, and differ from the agent's.
    /// let issuer = Issuer::new("https://idp.example.com")?;
    /// assert_eq!(HumanId::derive(&issuer, "alice"), HumanId::derive(&issuer, "alice"));
    /// assert_ne!(
    ///     HumanId::derive(&issuer, "alice").as_uuid(),
    ///     principal::AgentId::derive(&issuer, "alice").as_uuid()
    /// );
    ///
    /// assert!("hm-6F1C1A43-04B5-4A8E-9D0B-2C1F3E5A7B9D".parse::<HumanId>().is_err()); // uppercase
    /// assert!("am-6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d".parse::<HumanId>().is_err()); // agent prefix
    /// # Ok::<(), principal::IdError>(())
    /// ```
    HumanId, Kind::Human, "hm-", "human_id"
);

uuid_id!(
    /// The id of an agent: `am-` followed by a lowercase hyphenated uuid.
    ///
    /// ```
    /// use principal::AgentId;
    ///
    /// let id: AgentId = "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?;
    /// assert_eq!(id.as_uuid().to_string(), "0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b");
    /// assert!("am-0b7e2a503c1d4f6e8a9b1c2d3e4f5a6b".parse::<AgentId>().is_err()); // not hyphenated
    /// # Ok::<(), principal::IdError>(())
    /// ```
    AgentId, Kind::Agent, "am-", "agent_id"
);

/// The id of a service: `svc-` followed by a slug of 1 to 63 characters from `[a-z0-9-]`,
/// starting with a letter or digit and not ending with `-` (one DNS label).
///
/// A service named by the operator is [`ServiceId::new`]. A service known only by an OAuth
/// client id at some issuer is [`ServiceId::derive`]: `svc-{client_id}-{digest}`, where the
/// digest names the issuer, so that clients called `gateway` at two identity providers are
/// two services, and neither is the operator's `svc-gateway`.
///
/// ```
/// use principal::{Issuer, ServiceId};
///
/// let id = ServiceId::new("billing")?;
/// assert_eq!(id.as_str(), "svc-billing");
/// assert_eq!("svc-billing".parse::<ServiceId>()?, id);
///
/// // A client id becomes a service id only under its issuer.
/// let internal = Issuer::new("https://idp.internal.example")?;
/// let partner = Issuer::new("https://idp.partner.example")?;
/// let gateway = ServiceId::derive(&internal, "gateway")?;
/// assert!(gateway.as_str().starts_with("svc-gateway-"));
/// assert_ne!(gateway, ServiceId::derive(&partner, "gateway")?);
/// assert_ne!(gateway, ServiceId::new("gateway")?);
///
/// assert!(ServiceId::new("Billing").is_err()); // uppercase
/// assert!(ServiceId::new("billing-").is_err()); // trailing hyphen
/// assert!(ServiceId::derive(&internal, "Gateway").is_err()); // not folded into `gateway`
/// # Ok::<(), principal::IdError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceId(String);

impl ServiceId {
    /// The prefix of a service id.
    pub const PREFIX: &'static str = "svc-";

    /// The service id `svc-{slug}`; the slug must already be valid.
    pub fn new(slug: &str) -> Result<Self, IdError> {
        validate_slug("service_id", slug, 0)?;
        let mut id = String::with_capacity(Self::PREFIX.len() + slug.len());
        id.push_str(Self::PREFIX);
        id.push_str(slug);
        Ok(ServiceId(id))
    }

    /// The number of hex digits of the issuer digest in a derived service id.
    pub const ISSUER_DIGEST_LEN: usize = 16;

    /// The longest client id [`derive`](ServiceId::derive) accepts: a slug plus `-` plus
    /// the digest must fit in [`MAX_SERVICE_SLUG_LEN`].
    pub const MAX_DERIVED_CLIENT_ID_LEN: usize = MAX_SERVICE_SLUG_LEN - 1 - Self::ISSUER_DIGEST_LEN;

    /// The service id of the OAuth client `client_id` at `issuer`:
    /// `svc-{client_id}-{digest}`.
    ///
    /// `digest` is [`ISSUER_DIGEST_LEN`](ServiceId::ISSUER_DIGEST_LEN) lowercase hex digits:
    /// the UUID v5 of `"service\n{issuer}"` in [`BATON_NAMESPACE`], written as 32 lowercase
    /// hex digits, without its version digit (the 13th) and its variant digit (the 17th),
    /// the first 16 of the rest kept: 64 bits of SHA-1 output. The same client at the same issuer is always the same service; the same
    /// client id at another issuer is another service, and no derived id is a bare
    /// `svc-{client_id}` an operator would name.
    ///
    /// `client_id` must already be a valid slug (`[a-z0-9-]`, starting with a letter or a
    /// digit, not ending with `-`) of at most
    /// [`MAX_DERIVED_CLIENT_ID_LEN`](ServiceId::MAX_DERIVED_CLIENT_ID_LEN) bytes: anything
    /// else is refused (field `client_id`), never folded, so `Payments`, `payments_` and
    /// `payments.` are not `payments`. Map such a client to a service by name instead
    /// ([`ClaimMapping::with_service`](crate::ClaimMapping::with_service)).
    pub fn derive(issuer: &Issuer, client_id: &str) -> Result<Self, IdError> {
        const FIELD: &str = "client_id";
        if client_id.len() > Self::MAX_DERIVED_CLIENT_ID_LEN {
            return Err(IdError::TooLong {
                field: FIELD,
                len: client_id.len(),
                max: Self::MAX_DERIVED_CLIENT_ID_LEN,
            });
        }
        validate_slug(FIELD, client_id, 0)?;
        let digest = Uuid::new_v5(
            &BATON_NAMESPACE,
            format!("service\n{}", issuer.as_str()).as_bytes(),
        );
        let mut buf = Uuid::encode_buffer();
        let hex = digest.simple().encode_lower(&mut buf);
        let mut id = String::with_capacity(
            Self::PREFIX.len() + client_id.len() + 1 + Self::ISSUER_DIGEST_LEN,
        );
        id.push_str(Self::PREFIX);
        id.push_str(client_id);
        id.push('-');
        // The 13th digit is the UUID version (always 5) and the 17th holds the variant bits:
        // they say little about the issuer. 12 + 3 + 1 = ISSUER_DIGEST_LEN digits.
        id.push_str(&hex[..12]);
        id.push_str(&hex[13..16]);
        id.push_str(&hex[17..18]);
        Ok(ServiceId(id))
    }

    /// Parses the text form `svc-{slug}`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        const FIELD: &str = "service_id";
        if s.is_empty() {
            return Err(IdError::Empty { field: FIELD });
        }
        let Some(slug) = s.strip_prefix(Self::PREFIX) else {
            return Err(IdError::MissingPrefix {
                field: FIELD,
                expected: Self::PREFIX,
            });
        };
        validate_slug(FIELD, slug, Self::PREFIX.len())?;
        Ok(ServiceId(s.to_owned()))
    }

    /// The full id, `svc-{slug}`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The slug, without the `svc-` prefix.
    pub fn slug(&self) -> &str {
        &self.0[Self::PREFIX.len()..]
    }
}

/// Checks a slug; `offset` is added to reported positions (the prefix length when parsing a
/// full id).
fn validate_slug(field: &'static str, slug: &str, offset: usize) -> Result<(), IdError> {
    if slug.is_empty() {
        return Err(IdError::Empty { field });
    }
    if slug.len() > MAX_SERVICE_SLUG_LEN {
        return Err(IdError::TooLong {
            field,
            len: slug.len() + offset,
            max: MAX_SERVICE_SLUG_LEN + offset,
        });
    }
    for (i, c) in slug.char_indices() {
        let allowed = c.is_ascii_lowercase() || c.is_ascii_digit() || (c == '-' && i > 0);
        if !allowed {
            return Err(IdError::InvalidChar {
                field,
                position: i + offset,
                found: c,
            });
        }
    }
    if slug.ends_with('-') {
        return Err(IdError::TrailingHyphen { field });
    }
    Ok(())
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceId({})", self.0)
    }
}

impl FromStr for ServiceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for ServiceId {
    type Error = IdError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl Serialize for ServiceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ServiceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(ParseVisitor::<ServiceId>::new("a svc-<slug> id"))
    }
}

/// The id of a principal or actor, of any kind. The text form's prefix tells the kind.
///
/// Ordered by kind (human, agent, service), then by id.
///
/// ```
/// use principal::{Kind, PrincipalId};
///
/// let id: PrincipalId = "svc-billing".parse()?;
/// assert_eq!(id.kind(), Kind::Service);
/// let id: PrincipalId = "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?;
/// assert_eq!(id.kind(), Kind::Agent);
///
/// assert!("user-42".parse::<PrincipalId>().is_err()); // unknown prefix
/// # Ok::<(), principal::IdError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalId {
    /// A human's id.
    Human(HumanId),
    /// An agent's id.
    Agent(AgentId),
    /// A service's id.
    Service(ServiceId),
}

impl PrincipalId {
    /// The kind of party this id names.
    pub fn kind(&self) -> Kind {
        match self {
            PrincipalId::Human(_) => Kind::Human,
            PrincipalId::Agent(_) => Kind::Agent,
            PrincipalId::Service(_) => Kind::Service,
        }
    }

    /// Parses a typed id of any kind, dispatching on its prefix.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        match Self::parse_if_prefixed(s) {
            Some(result) => result,
            None if s.is_empty() => Err(IdError::Empty {
                field: "principal_id",
            }),
            None => Err(IdError::UnknownPrefix {
                field: "principal_id",
            }),
        }
    }

    /// `None` if `s` has no Baton id prefix; otherwise the result of parsing it.
    pub(crate) fn parse_if_prefixed(s: &str) -> Option<Result<Self, IdError>> {
        if s.starts_with(HumanId::PREFIX) {
            Some(HumanId::parse(s).map(PrincipalId::Human))
        } else if s.starts_with(AgentId::PREFIX) {
            Some(AgentId::parse(s).map(PrincipalId::Agent))
        } else if s.starts_with(ServiceId::PREFIX) {
            Some(ServiceId::parse(s).map(PrincipalId::Service))
        } else {
            None
        }
    }

    /// Whether the text form of this id equals `s`, without allocating.
    pub(crate) fn text_eq(&self, s: &str) -> bool {
        match self {
            PrincipalId::Service(id) => id.as_str() == s,
            PrincipalId::Human(id) => uuid_text_eq(HumanId::PREFIX, id.as_uuid(), s),
            PrincipalId::Agent(id) => uuid_text_eq(AgentId::PREFIX, id.as_uuid(), s),
        }
    }

    /// The human id inside, if this is a human.
    pub fn as_human(&self) -> Option<&HumanId> {
        match self {
            PrincipalId::Human(id) => Some(id),
            _ => None,
        }
    }

    /// The agent id inside, if this is an agent.
    pub fn as_agent(&self) -> Option<&AgentId> {
        match self {
            PrincipalId::Agent(id) => Some(id),
            _ => None,
        }
    }

    /// The service id inside, if this is a service.
    pub fn as_service(&self) -> Option<&ServiceId> {
        match self {
            PrincipalId::Service(id) => Some(id),
            _ => None,
        }
    }
}

fn uuid_text_eq(prefix: &str, uuid: &Uuid, s: &str) -> bool {
    let Some(rest) = s.strip_prefix(prefix) else {
        return false;
    };
    let mut buf = Uuid::encode_buffer();
    rest == &*uuid.hyphenated().encode_lower(&mut buf)
}

impl fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrincipalId::Human(id) => id.fmt(f),
            PrincipalId::Agent(id) => id.fmt(f),
            PrincipalId::Service(id) => id.fmt(f),
        }
    }
}

impl fmt::Debug for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrincipalId({self})")
    }
}

impl FromStr for PrincipalId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for PrincipalId {
    type Error = IdError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<HumanId> for PrincipalId {
    fn from(id: HumanId) -> Self {
        PrincipalId::Human(id)
    }
}

impl From<AgentId> for PrincipalId {
    fn from(id: AgentId) -> Self {
        PrincipalId::Agent(id)
    }
}

impl From<ServiceId> for PrincipalId {
    fn from(id: ServiceId) -> Self {
        PrincipalId::Service(id)
    }
}

impl Serialize for PrincipalId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PrincipalId::Service(id) => serializer.serialize_str(id.as_str()),
            _ => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for PrincipalId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(ParseVisitor::<PrincipalId>::new(
            "a typed id (hm-<uuid>, am-<uuid> or svc-<slug>)",
        ))
    }
}

/// A serde visitor that parses a string with the type's `FromStr`, without an intermediate
/// `String` when the deserializer can lend the text.
struct ParseVisitor<T> {
    expecting: &'static str,
    marker: std::marker::PhantomData<T>,
}

impl<T> ParseVisitor<T> {
    fn new(expecting: &'static str) -> Self {
        ParseVisitor {
            expecting,
            marker: std::marker::PhantomData,
        }
    }
}

impl<T: FromStr<Err = IdError>> serde::de::Visitor<'_> for ParseVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

fn validate_issuer(value: &str) -> Result<(), IdError> {
    validate::token("issuer", value, MAX_ISSUER_LEN)
}

fn validate_audience(value: &str) -> Result<(), IdError> {
    validate::token("audience", value, MAX_AUDIENCE_LEN)
}

fn validate_role(value: &str) -> Result<(), IdError> {
    validate::trimmed_text("role", value, MAX_ROLE_LEN)
}

fn validate_tenant(value: &str) -> Result<(), IdError> {
    validate::token("tenant", value, MAX_TENANT_LEN)
}

validated_string!(
    /// The issuer of a token (`iss`): non-empty, at most [`MAX_ISSUER_LEN`] bytes, no
    /// whitespace and no control characters.
    ///
    /// ```
    /// use principal::Issuer;
    ///
    /// let issuer = Issuer::new("https://idp.example.com/realms/acme")?;
    /// assert_eq!(issuer.as_str(), "https://idp.example.com/realms/acme");
    /// assert!(Issuer::new("").is_err());
    /// assert!(Issuer::new("https://idp.example.com\nevil").is_err());
    /// # Ok::<(), principal::IdError>(())
    /// ```
    Issuer,
    validate_issuer
);

validated_string!(
    /// An audience (`aud`): non-empty, at most [`MAX_AUDIENCE_LEN`] bytes, no whitespace and
    /// no control characters.
    ///
    /// ```
    /// use principal::Audience;
    ///
    /// assert!(Audience::new("https://api.example.com").is_ok());
    /// assert!(Audience::new("two words").is_err());
    /// ```
    Audience,
    validate_audience
);

validated_string!(
    /// A role: non-empty, at most [`MAX_ROLE_LEN`] bytes, no control characters, no leading
    /// or trailing whitespace (inner spaces are allowed: some identity providers use them).
    ///
    /// ```
    /// use principal::Role;
    ///
    /// assert!(Role::new("billing:admin").is_ok());
    /// assert!(Role::new("Super Admin").is_ok());
    /// assert!(Role::new(" admin").is_err());
    /// assert!(Role::new("admin\u{0}").is_err());
    /// ```
    Role,
    validate_role
);

validated_string!(
    /// A tenant: non-empty, at most [`MAX_TENANT_LEN`] bytes, no whitespace and no control
    /// characters.
    ///
    /// ```
    /// use principal::Tenant;
    ///
    /// assert!(Tenant::new("acme-eu").is_ok());
    /// assert!(Tenant::new("acme eu").is_err());
    /// ```
    Tenant,
    validate_tenant
);

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d";

    #[test]
    fn human_id_round_trips() {
        let text = format!("hm-{UUID}");
        let id = HumanId::parse(&text).unwrap();
        assert_eq!(id.to_string(), text);
        assert_eq!(id.as_uuid().to_string(), UUID);
        assert_eq!(format!("{id:?}"), format!("HumanId({text})"));
    }

    #[test]
    fn uuid_id_rejections() {
        assert_eq!(
            HumanId::parse(""),
            Err(IdError::Empty { field: "human_id" })
        );
        assert_eq!(
            HumanId::parse(&format!("am-{UUID}")),
            Err(IdError::MissingPrefix {
                field: "human_id",
                expected: "hm-"
            })
        );
        assert_eq!(
            HumanId::parse(&format!("hm-{}", UUID.to_uppercase())),
            Err(IdError::InvalidUuid { field: "human_id" })
        );
        assert_eq!(
            HumanId::parse(&format!("hm-{}", UUID.replace('-', ""))),
            Err(IdError::InvalidUuid { field: "human_id" })
        );
        assert_eq!(
            HumanId::parse(&format!("hm-{{{UUID}}}")),
            Err(IdError::TooLong {
                field: "human_id",
                len: 41,
                max: 39
            })
        );
        assert_eq!(
            HumanId::parse(&format!("hm-{}", &UUID[..35])),
            Err(IdError::InvalidUuid { field: "human_id" })
        );
        assert_eq!(
            AgentId::parse(&format!("am-{}", UUID.replace('4', "g"))),
            Err(IdError::InvalidUuid { field: "agent_id" })
        );
        // A multi-byte character must not make the fixed-position check panic.
        assert_eq!(
            AgentId::parse("am-6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7bé"),
            Err(IdError::InvalidUuid { field: "agent_id" })
        );
    }

    #[test]
    fn derive_is_stable_and_separates_issuers() {
        let a = Issuer::new("https://a.example").unwrap();
        let b = Issuer::new("https://b.example").unwrap();
        assert_eq!(HumanId::derive(&a, "alice"), HumanId::derive(&a, "alice"));
        assert_ne!(HumanId::derive(&a, "alice"), HumanId::derive(&b, "alice"));
        assert_ne!(HumanId::derive(&a, "alice"), HumanId::derive(&a, "bob"));
        // Pinned: changing the derivation would change every id in every log.
        assert_eq!(HumanId::derive(&a, "alice").as_uuid().get_version_num(), 5);
        let pinned = HumanId::derive(&a, "alice").to_string();
        assert_eq!(pinned, HumanId::derive(&a, "alice").to_string());
        assert_eq!(
            Uuid::new_v5(&BATON_NAMESPACE, b"human\nhttps://a.example\nalice"),
            *HumanId::derive(&a, "alice").as_uuid()
        );
        assert_eq!(
            Uuid::new_v5(&BATON_NAMESPACE, b"agent\nhttps://a.example\nalice"),
            *AgentId::derive(&a, "alice").as_uuid()
        );
        assert_eq!(
            HumanId::derive(&a, "alice").to_string(),
            "hm-fe18e400-ca7c-5bfb-b87e-efb026a2d97f"
        );
        assert_eq!(
            AgentId::derive(&a, "alice").to_string(),
            "am-1791d7ea-6163-5f95-8a6f-6548ff35a9f0"
        );
    }

    #[test]
    fn derive_separates_kinds() {
        // A human and an agent with one issuer and subject are two parties.
        let a = Issuer::new("https://a.example").unwrap();
        assert_ne!(
            HumanId::derive(&a, "alice").as_uuid(),
            AgentId::derive(&a, "alice").as_uuid()
        );
    }

    #[test]
    fn service_id_rules() {
        assert_eq!(ServiceId::new("a").unwrap().as_str(), "svc-a");
        assert_eq!(ServiceId::new("a--b").unwrap().slug(), "a--b");
        assert_eq!(
            ServiceId::new(""),
            Err(IdError::Empty {
                field: "service_id"
            })
        );
        assert_eq!(
            ServiceId::new("-a"),
            Err(IdError::InvalidChar {
                field: "service_id",
                position: 0,
                found: '-'
            })
        );
        assert_eq!(
            ServiceId::new("a-"),
            Err(IdError::TrailingHyphen {
                field: "service_id"
            })
        );
        assert_eq!(
            ServiceId::new("aB"),
            Err(IdError::InvalidChar {
                field: "service_id",
                position: 1,
                found: 'B'
            })
        );
        assert!(ServiceId::new(&"a".repeat(63)).is_ok());
        assert_eq!(
            ServiceId::new(&"a".repeat(64)),
            Err(IdError::TooLong {
                field: "service_id",
                len: 64,
                max: 63
            })
        );
        assert_eq!(
            ServiceId::parse("svc-a_b"),
            Err(IdError::InvalidChar {
                field: "service_id",
                position: 5,
                found: '_'
            })
        );
        assert_eq!(
            ServiceId::parse("svc-"),
            Err(IdError::Empty {
                field: "service_id"
            })
        );
        assert_eq!(
            ServiceId::parse("billing"),
            Err(IdError::MissingPrefix {
                field: "service_id",
                expected: "svc-"
            })
        );
        assert_eq!(
            ServiceId::parse(""),
            Err(IdError::Empty {
                field: "service_id"
            })
        );
    }

    #[test]
    fn service_id_derive_depends_on_the_issuer() {
        let a = Issuer::new("https://a.example").unwrap();
        let b = Issuer::new("https://b.example").unwrap();
        let id = ServiceId::derive(&a, "gateway").unwrap();
        // Pinned: the form every log and policy will hold.
        let digest = Uuid::new_v5(&BATON_NAMESPACE, b"service\nhttps://a.example")
            .simple()
            .to_string();
        let expected = format!(
            "svc-gateway-{}{}{}",
            &digest[..12],
            &digest[13..16],
            &digest[17..18]
        );
        assert_eq!(id.as_str(), expected);
        assert_eq!(id.as_str(), "svc-gateway-badeada29838bd7e");
        assert_eq!(id.slug().len(), "gateway".len() + 1 + 16);
        assert_eq!(ServiceId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(ServiceId::derive(&a, "gateway"), Ok(id.clone()));
        assert_ne!(ServiceId::derive(&b, "gateway").unwrap(), id);
        assert_ne!(id, ServiceId::new("gateway").unwrap());
        // A client id made of a UUID (Microsoft) still fits.
        assert!(ServiceId::derive(&a, "0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b").is_ok());
    }

    #[test]
    fn service_id_derive_refuses_what_it_would_have_to_fold() {
        let a = Issuer::new("https://a.example").unwrap();
        for (client_id, position, found) in [
            ("Payments", 0, 'P'),
            ("payments_", 8, '_'),
            ("payments.", 8, '.'),
            ("my app", 2, ' '),
            ("caf\u{e9}", 3, '\u{e9}'),
            ("-payments", 0, '-'),
        ] {
            assert_eq!(
                ServiceId::derive(&a, client_id),
                Err(IdError::InvalidChar {
                    field: "client_id",
                    position,
                    found
                }),
                "{client_id}"
            );
        }
        assert_eq!(
            ServiceId::derive(&a, "payments-"),
            Err(IdError::TrailingHyphen { field: "client_id" })
        );
        assert_eq!(
            ServiceId::derive(&a, ""),
            Err(IdError::Empty { field: "client_id" })
        );
        assert!(ServiceId::derive(&a, &"a".repeat(46)).is_ok());
        assert_eq!(
            ServiceId::derive(&a, &"a".repeat(47)),
            Err(IdError::TooLong {
                field: "client_id",
                len: 47,
                max: 46
            })
        );
    }

    #[test]
    fn principal_id_dispatch() {
        let h: PrincipalId = format!("hm-{UUID}").parse().unwrap();
        assert_eq!(h.kind(), Kind::Human);
        assert!(h.as_human().is_some() && h.as_agent().is_none());
        let a: PrincipalId = format!("am-{UUID}").parse().unwrap();
        assert_eq!(a.kind(), Kind::Agent);
        let s: PrincipalId = "svc-x".parse().unwrap();
        assert_eq!(s.kind(), Kind::Service);
        assert!(s.as_service().is_some());
        assert!(h < a && a < s);
        assert!(h.text_eq(&format!("hm-{UUID}")));
        assert!(!h.text_eq(&format!("am-{UUID}")));
        assert!(s.text_eq("svc-x"));
        assert_eq!(
            PrincipalId::parse("usr-1"),
            Err(IdError::UnknownPrefix {
                field: "principal_id"
            })
        );
        assert_eq!(
            PrincipalId::parse(""),
            Err(IdError::Empty {
                field: "principal_id"
            })
        );
        assert_eq!(
            PrincipalId::parse("hm-x"),
            Err(IdError::InvalidUuid { field: "human_id" })
        );
    }

    #[test]
    fn ids_serde_as_strings() {
        let id: PrincipalId = format!("hm-{UUID}").parse().unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"hm-{UUID}\""));
        assert_eq!(serde_json::from_str::<PrincipalId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<PrincipalId>("\"svc-\"").is_err());
        assert!(serde_json::from_str::<PrincipalId>("42").is_err());
        assert!(serde_json::from_str::<HumanId>(&format!("\"am-{UUID}\"")).is_err());
        assert_eq!(
            serde_json::from_str::<ServiceId>("\"svc-a\"").unwrap(),
            ServiceId::new("a").unwrap()
        );
        assert_eq!(
            serde_json::to_string(&Kind::Service).unwrap(),
            "\"service\""
        );
        assert!(serde_json::from_str::<Kind>("\"robot\"").is_err());
    }

    #[test]
    fn kind_text() {
        for kind in Kind::ALL {
            assert_eq!(kind.as_str().parse::<Kind>(), Ok(kind));
            assert!(kind.id_prefix().ends_with('-'));
        }
        assert_eq!(
            "HUMAN".parse::<Kind>(),
            Err(IdError::UnknownKind { field: "kind" })
        );
    }

    #[test]
    fn string_newtypes() {
        let issuer = Issuer::new("https://idp").unwrap();
        assert_eq!(issuer, "https://idp");
        assert_eq!(serde_json::to_string(&issuer).unwrap(), "\"https://idp\"");
        assert!(serde_json::from_str::<Issuer>("\"a b\"").is_err());
        assert!(matches!(
            Issuer::new("x".repeat(MAX_ISSUER_LEN + 1)),
            Err(IdError::TooLong {
                field: "issuer",
                ..
            })
        ));
        assert!(matches!(
            Audience::new(""),
            Err(IdError::Empty { field: "audience" })
        ));
        assert!(matches!(
            Role::new("r\t"),
            Err(IdError::InvalidChar { field: "role", .. })
        ));
        assert!(matches!(
            Role::new("r "),
            Err(IdError::SurroundingWhitespace { field: "role" })
        ));
        assert!(matches!(
            Tenant::new("a\u{a0}b"),
            Err(IdError::InvalidChar {
                field: "tenant",
                ..
            })
        ));
        assert_eq!("acme".parse::<Tenant>().unwrap().into_string(), "acme");
    }
}
