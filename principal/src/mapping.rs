//! Claims to Principal and back.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::claims::{
    ATTRIBUTES_CLAIM, ActClaim, Audiences, ID_CLAIM, JwtClaims, KIND_CLAIM, ROLES_CLAIM,
    TENANT_CLAIM,
};
use crate::error::{ClaimError, IdError};
use crate::ids::{AgentId, Audience, HumanId, Issuer, Kind, PrincipalId, Role, ServiceId, Tenant};
use crate::limits::{
    DEFAULT_MAX_DELEGATION_DEPTH, MAX_ACT_NESTING, MAX_AMR_VALUES, MAX_ATTRIBUTES, MAX_AUDIENCES,
    MAX_EXTRA_CLAIMS, MAX_ROLES, MAX_SCOPES, MAX_SUBJECT_LEN,
};
use crate::principal::{Actor, AuthContext, Principal};
use crate::scope::{Scope, ScopeSet};
use crate::validate;

/// Where roles come from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum RoleSource {
    /// A claim name or JSON pointer holding an array of strings or a space-separated string.
    Claim(String),
    /// Keycloak `resource_access.<client>.roles`, each read as `"<client>:<role>"`.
    KeycloakClients,
}

/// A claim that marks a token as a service's own (a client_credentials grant).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ServiceMarker {
    claim: String,
    test: MarkerTest,
}

/// What the marker claim's string value must be.
#[derive(Clone, Debug, PartialEq, Eq)]
enum MarkerTest {
    Equals(String),
    Prefix(String),
    /// Any string: the claim's presence is the marker.
    Present,
}

impl ServiceMarker {
    fn new(claim: impl Into<String>, test: MarkerTest) -> Self {
        ServiceMarker {
            claim: claim.into(),
            test,
        }
    }

    fn matches(&self, claims: &JwtClaims) -> bool {
        // `client_id` is a registered claim: it lives in its own field.
        let value = if self.claim == "client_id" {
            claims.client_id.as_deref()
        } else {
            lookup(&claims.extra, &self.claim).and_then(Value::as_str)
        };
        value.is_some_and(|v| match &self.test {
            MarkerTest::Equals(expected) => v == expected,
            MarkerTest::Prefix(prefix) => v.starts_with(prefix.as_str()),
            MarkerTest::Present => true,
        })
    }
}

/// How claims become a [`Principal`]: where the kind, the id, the roles, the tenant and a
/// service's id are read, with presets for common issuers.
///
/// # Presets, and whom they trust
///
/// - [`generic`](ClaimMapping::generic) (the [`Default`]) and
///   [`keycloak`](ClaimMapping::keycloak) are for external identity providers. They read
///   no Baton-internal claim: a `sub` with a Baton prefix (`hm-`, `am-`, `svc-`) is an
///   opaque subject like any other, and [`ID_CLAIM`] (`baton_id`), [`KIND_CLAIM`]
///   (`baton_kind`) and [`ATTRIBUTES_CLAIM`] (`baton_attrs`) are ignored. At an IdP where
///   users choose their own `sub` or edit profile attributes that end up in tokens, a
///   user cannot become `svc-payments` or take another person's id.
/// - [`baton`](ClaimMapping::baton) is for tokens Baton itself minted (internal JWTs,
///   pattern 2): it trusts all four, and is the exact inverse of
///   [`Principal::to_claims`].
///
/// Each Baton-internal claim can be turned on alone for an issuer you trust with
/// [`with_typed_subjects`](ClaimMapping::with_typed_subjects),
/// [`with_id_claim`](ClaimMapping::with_id_claim),
/// [`with_kind_claim`](ClaimMapping::with_kind_claim) and
/// [`with_attributes_claim`](ClaimMapping::with_attributes_claim).
///
/// # How the kind and id are decided
///
/// 0. `sub` is required (RFC 9068 §2.2): a token without it is refused
///    (`Missing { claim: "sub" }`) unless this issuer's mapping opts out with
///    [`insecure_allow_missing_sub`](ClaimMapping::insecure_allow_missing_sub).
/// 1. If an id claim is configured ([`ID_CLAIM`] in the Baton preset) and present, it is
///    the typed id.
/// 2. Else if typed subjects are on (Baton preset) and `sub` starts with a Baton prefix
///    (`hm-`, `am-`, `svc-`), it must parse as a typed id, and is the id.
/// 3. Else the kind is the explicit kind claim if one is configured ([`KIND_CLAIM`] in the
///    Baton preset) and present; else `Service` if a service marker says the token is a
///    client_credentials token; else `Human`. Markers are claims the identity provider
///    alone writes: `gty` = `client-credentials` (Auth0), `idtyp` = `app` (Microsoft);
///    the Keycloak preset also a `client_id` or `clientId` claim, which Keycloak's
///    service-account mapper writes from a session note only Keycloak sets. Nothing a
///    user may choose at some IdP makes a service: not a `sub` equal to `client_id` or
///    `azp`, not a user name, not a missing `sub`.
///    - A `Service` is read from the configured service claim, else `client_id`, else
///      `azp` (none of them is an error). If the operator named that client's service
///      ([`with_service`](ClaimMapping::with_service)), that is its id; else the
///      issuer-dependent `svc-{client_id}-{digest}` of [`ServiceId::derive`], which
///      refuses a client id that is not already a slug rather than fold it.
///    - A `Human` or `Agent` gets the id derived from `iss`, `sub` and the kind
///      ([`HumanId::derive`], [`AgentId::derive`](crate::AgentId::derive)); a missing
///      `sub` is an error.
/// 4. An explicit kind claim that contradicts the id's kind is an error.
///
/// `subject()` is `sub` as the issuer sent it; for a service token without `sub` (only
/// with the opt-out), the value the service id was made from.
///
/// # Actors (`act`)
///
/// The outermost `act` is the current actor, its nested `act` the one before. An `act`'s
/// `iss` must be the token's own `iss` or one allowed with
/// [`with_actor_issuer`](ClaimMapping::with_actor_issuer) (the Baton preset allows any,
/// as it trusts the ids outright); any other is refused
/// ([`ClaimError::ActorIssuerNotAllowed`]), so one identity provider cannot mint actors in
/// another's namespace. Each `act` object is read like the top level, with the same trust:
/// the id claim, then a typed `sub`, then the kind claim inside the `act`, each only when
/// the mapping reads it (the
/// Baton preset, or turned on). Otherwise an actor's kind comes from what the issuer
/// itself controls: an `act` with only `client_id` (no `sub`) is a `Service` made from
/// that `client_id`; an `act` with a `sub` (typed-looking or not) gets the
/// [actor default kind](ClaimMapping::with_actor_default_kind) (`Agent` unless
/// configured), with its id derived from the `act`'s `iss` (or the token's) and `sub`.
/// So under the generic preset an `act.sub` of `svc-payments` is an agent with a derived
/// id, never the `svc-payments` service. An `act`'s `scope` is that actor's grant (inside
/// the Principal, its effective grant: see [`Actor`]). An actor with the subject's issuer
/// and `sub` is the subject under another kind, and is refused
/// ([`PrincipalError::ActorIsSubject`](crate::PrincipalError::ActorIsSubject)).
///
/// # Other claims
///
/// - `iss` and `exp` are required.
/// - Scopes: `scope` (space-separated) and `scp` (array), united when both are present.
/// - `aud` (one or many), `jti`, `sid`, `iat`, `nbf`, `amr`, `acr`, `auth_time`, `may_act`
///   map to their fields; `auth.client_id` is `client_id`, else `azp`.
/// - Roles: generic preset, the [`ROLES_CLAIM`] claim (an array of strings or a
///   space-separated string); Keycloak preset, `realm_access.roles` and
///   `resource_access.<client>.roles` (as `"<client>:<role>"`).
/// - Tenant: the [`TENANT_CLAIM`] claim, a string. Attributes (Baton preset, or turned
///   on): the [`ATTRIBUTES_CLAIM`] claim, an object of strings.
/// - A configured claim that is present with the wrong JSON type is an error; `null` is
///   absent.
///
/// Claim names given to the `with_*` methods name claims outside the registered ones
/// (those are read from their fields); a name starting with `/` is a JSON pointer
/// (RFC 6901) into the claims, e.g. `/realm_access/roles`.
///
/// ```
/// use principal::{ClaimMapping, ClaimError, Kind};
///
/// let mapping = ClaimMapping::generic();
/// let principal = mapping.principal_from_json(br#"{
///     "iss": "https://idp.example.com", "sub": "alice", "exp": 1700000300,
///     "scope": "orders:read", "roles": ["buyer"],
///     "act": {"sub": "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b"}
/// }"#)?;
/// assert_eq!(principal.kind(), Kind::Human);
/// assert!(principal.involves(Kind::Agent));
/// assert!(principal.has_role("buyer"));
///
/// // An external issuer's `sub` that looks like a Baton service id is just a subject.
/// let lookalike = mapping.principal_from_json(br#"{
///     "iss": "https://idp.example.com", "sub": "svc-payments", "exp": 1700000300
/// }"#)?;
/// assert_eq!(lookalike.kind(), Kind::Human);
/// assert_ne!(lookalike.id().to_string(), "svc-payments");
///
/// let missing_exp = mapping.principal_from_json(br#"{"iss": "https://idp.example.com", "sub": "alice"}"#);
/// assert!(matches!(missing_exp, Err(ClaimError::Missing { claim: "exp" })));
/// # Ok::<(), ClaimError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimMapping {
    kind_claim: Option<String>,
    id_claim: Option<String>,
    role_sources: Vec<RoleSource>,
    tenant_claim: Option<String>,
    service_claim: Option<String>,
    attributes_claim: Option<String>,
    service_markers: Vec<ServiceMarker>,
    /// This issuer's client ids the operator named a service for.
    services: BTreeMap<String, ServiceId>,
    /// Issuers, besides the token's own, whose `act.iss` is honoured.
    actor_issuers: BTreeSet<Issuer>,
    /// Every `act.iss` is honoured (Baton preset: its ids are trusted outright anyway).
    any_actor_issuer: bool,
    require_sub: bool,
    actor_default_kind: Kind,
    typed_subjects: bool,
    max_delegation_depth: usize,
}

impl Default for ClaimMapping {
    /// The generic preset, safe for an external issuer.
    fn default() -> Self {
        ClaimMapping::generic()
    }
}

impl ClaimMapping {
    /// The generic preset, for an external identity provider: `sub` required, roles from
    /// [`ROLES_CLAIM`], tenant from [`TENANT_CLAIM`], services only by a marker the IdP
    /// writes (`gty` = `client-credentials`, `idtyp` = `app`) with issuer-dependent ids,
    /// actors only under the token's own `iss` and by default `Agent`, maximum delegation
    /// depth [`DEFAULT_MAX_DELEGATION_DEPTH`].
    ///
    /// It trusts no Baton-internal claim: a `sub` with a Baton prefix is an opaque subject
    /// (its id derived from `iss` and `sub`, as for any other), and [`ID_CLAIM`],
    /// [`KIND_CLAIM`] and [`ATTRIBUTES_CLAIM`] are ignored, also inside `act`. For tokens
    /// Baton minted, use [`baton`](ClaimMapping::baton).
    ///
    /// ```
    /// use principal::{ClaimMapping, Kind};
    ///
    /// let service = ClaimMapping::generic().principal_from_json(br#"{
    ///     "iss": "https://idp.example.com", "sub": "billing@clients", "exp": 1700000300,
    ///     "gty": "client-credentials", "client_id": "billing"
    /// }"#)?;
    /// assert_eq!(service.kind(), Kind::Service);
    /// // The issuer is part of the id: another IdP's `billing` is another service.
    /// assert!(service.id().to_string().starts_with("svc-billing-"));
    ///
    /// // A user whose `sub` equals the client id is still a user.
    /// let user = ClaimMapping::generic().principal_from_json(br#"{
    ///     "iss": "https://idp.example.com", "sub": "billing", "client_id": "billing",
    ///     "exp": 1700000300
    /// }"#)?;
    /// assert_eq!(user.kind(), Kind::Human);
    ///
    /// // A user who named themselves `svc-payments`, and claims to be a service, is a human.
    /// let user = ClaimMapping::generic().principal_from_json(br#"{
    ///     "iss": "https://idp.example.com", "sub": "svc-payments", "exp": 1700000300,
    ///     "baton_kind": "service", "baton_id": "svc-payments"
    /// }"#)?;
    /// assert_eq!(user.kind(), Kind::Human);
    /// assert_ne!(user.id().to_string(), "svc-payments");
    ///
    /// let no_sub = ClaimMapping::generic().principal_from_json(
    ///     br#"{"iss": "https://idp.example.com", "client_id": "billing", "exp": 1700000300}"#,
    /// );
    /// assert!(no_sub.is_err());
    /// # Ok::<(), principal::ClaimError>(())
    /// ```
    pub fn generic() -> Self {
        ClaimMapping {
            kind_claim: None,
            id_claim: None,
            role_sources: vec![RoleSource::Claim(ROLES_CLAIM.to_owned())],
            tenant_claim: Some(TENANT_CLAIM.to_owned()),
            service_claim: None,
            attributes_claim: None,
            service_markers: vec![
                ServiceMarker::new("gty", MarkerTest::Equals("client-credentials".to_owned())),
                ServiceMarker::new("idtyp", MarkerTest::Equals("app".to_owned())),
            ],
            services: BTreeMap::new(),
            actor_issuers: BTreeSet::new(),
            any_actor_issuer: false,
            require_sub: true,
            actor_default_kind: Kind::Agent,
            typed_subjects: false,
            max_delegation_depth: DEFAULT_MAX_DELEGATION_DEPTH,
        }
    }

    /// The Baton preset, for tokens Baton itself minted (internal JWTs, pattern 2): the
    /// generic preset plus the Baton-internal claims, all trusted: a `sub` with a Baton
    /// prefix is the typed id, the id from [`ID_CLAIM`], the kind from [`KIND_CLAIM`],
    /// attributes from [`ATTRIBUTES_CLAIM`], at the top level and inside `act`; and every
    /// `act.iss` is honoured (Baton re-mints chains another issuer vouched for, and its ids
    /// are trusted outright anyway). `sub` is still required, as [`Principal::to_claims`]
    /// always writes it.
    ///
    /// This is the exact inverse of [`Principal::to_claims`]. Use it only for an issuer
    /// whose every claim Baton controls: never for an external identity provider.
    ///
    /// ```
    /// use principal::{ClaimError, ClaimMapping, Kind};
    ///
    /// let service = ClaimMapping::baton().principal_from_json(br#"{
    ///     "iss": "https://edge.baton.internal", "sub": "svc-payments", "exp": 1700000300,
    ///     "baton_kind": "service"
    /// }"#)?;
    /// assert_eq!(service.kind(), Kind::Service);
    /// assert_eq!(service.id().to_string(), "svc-payments");
    ///
    /// // A kind claim that contradicts the typed id is refused.
    /// let conflict = ClaimMapping::baton().principal_from_json(br#"{
    ///     "iss": "https://edge.baton.internal", "sub": "svc-payments", "exp": 1700000300,
    ///     "baton_kind": "human"
    /// }"#);
    /// assert!(matches!(conflict, Err(ClaimError::KindConflict { .. })));
    /// # Ok::<(), ClaimError>(())
    /// ```
    pub fn baton() -> Self {
        ClaimMapping {
            kind_claim: Some(KIND_CLAIM.to_owned()),
            id_claim: Some(ID_CLAIM.to_owned()),
            attributes_claim: Some(ATTRIBUTES_CLAIM.to_owned()),
            typed_subjects: true,
            any_actor_issuer: true,
            ..ClaimMapping::generic()
        }
    }

    /// The Keycloak preset: the generic one (so no Baton-internal claim is trusted) with
    /// roles read from `realm_access.roles` and
    /// `resource_access.<client>.roles` (as `"<client>:<role>"`) instead of `roles`, and
    /// service-account tokens read as services: those with a `client_id` (Keycloak 21+)
    /// or `clientId` (older) claim. Keycloak's service-account "Client ID" mapper writes it
    /// from a user-session note that only Keycloak sets, for client_credentials sessions.
    /// A `preferred_username` starting with `service-account-` is *not* a marker: a user
    /// may be able to choose that name.
    ///
    /// Deployment caveat: do not add a mapper that writes `client_id` or `clientId` into
    /// user tokens of this realm, or users read as services.
    ///
    /// ```
    /// use principal::{ClaimMapping, Kind};
    ///
    /// let principal = ClaimMapping::keycloak().principal_from_json(br#"{
    ///     "iss": "https://kc.example.com/realms/acme", "exp": 1700000300,
    ///     "sub": "3f0c2b1a-9d8e-4c7b-a6f5-e4d3c2b1a0f9", "azp": "orders-api",
    ///     "client_id": "orders-api", "preferred_username": "service-account-orders-api",
    ///     "realm_access": {"roles": ["offline_access"]},
    ///     "resource_access": {"orders-api": {"roles": ["writer"]}}
    /// }"#)?;
    /// assert_eq!(principal.kind(), Kind::Service);
    /// assert!(principal.has_role("orders-api:writer"));
    ///
    /// // A user who chose the user name `service-account-orders-api` is a user.
    /// let user = ClaimMapping::keycloak().principal_from_json(br#"{
    ///     "iss": "https://kc.example.com/realms/acme", "exp": 1700000300,
    ///     "sub": "5d1e", "azp": "web", "preferred_username": "service-account-orders-api"
    /// }"#)?;
    /// assert_eq!(user.kind(), Kind::Human);
    ///
    /// let wrong_shape = ClaimMapping::keycloak().principal_from_json(br#"{
    ///     "iss": "https://kc.example.com/realms/acme", "exp": 1700000300, "sub": "u",
    ///     "realm_access": {"roles": [42]}
    /// }"#);
    /// assert!(wrong_shape.is_err());
    /// # Ok::<(), principal::ClaimError>(())
    /// ```
    pub fn keycloak() -> Self {
        let mut mapping = ClaimMapping::generic();
        mapping.role_sources = vec![
            RoleSource::Claim("/realm_access/roles".to_owned()),
            RoleSource::KeycloakClients,
        ];
        // Keycloak's service-account "Client ID" mapper writes the client from a user-session
        // note that only Keycloak sets, for client_credentials sessions: `client_id` since
        // Keycloak 21, `clientId` before.
        mapping
            .service_markers
            .push(ServiceMarker::new("client_id", MarkerTest::Present));
        mapping
            .service_markers
            .push(ServiceMarker::new("clientId", MarkerTest::Present));
        mapping
    }

    /// Reads the explicit kind from this claim (the Baton preset reads [`KIND_CLAIM`]; the
    /// generic and Keycloak presets read none).
    ///
    /// Deployment caveat: the kind claim decides whether a token is a human's, an agent's
    /// or a service's. Turn it on only for an issuer where no user can set or edit that
    /// claim, or a user could present themselves as a service or an agent.
    pub fn with_kind_claim(mut self, name: impl Into<String>) -> Self {
        self.kind_claim = Some(name.into());
        self
    }

    /// Reads the typed id from this claim (the Baton preset reads [`ID_CLAIM`]; the generic
    /// and Keycloak presets read none).
    ///
    /// Deployment caveat: the id claim is trusted as the Principal's id, ahead of `sub`.
    /// Turn it on only for an issuer where no user can set or edit that claim, or a user
    /// could take another person's `hm-` id or become a service such as `svc-payments`.
    pub fn with_id_claim(mut self, name: impl Into<String>) -> Self {
        self.id_claim = Some(name.into());
        self
    }

    /// Ignores any id claim: ids come from `sub` and `client_id` only.
    pub fn without_id_claim(mut self) -> Self {
        self.id_claim = None;
        self
    }

    /// Adds a source of roles: a claim name or JSON pointer holding an array of strings or
    /// a space-separated string. Roles from every source are united.
    pub fn with_roles_claim(mut self, pointer: impl Into<String>) -> Self {
        self.role_sources.push(RoleSource::Claim(pointer.into()));
        self
    }

    /// Reads no roles at all (add sources again with
    /// [`with_roles_claim`](ClaimMapping::with_roles_claim)).
    pub fn without_roles(mut self) -> Self {
        self.role_sources.clear();
        self
    }

    /// Reads the tenant from this claim instead of [`TENANT_CLAIM`] (e.g. `tid`).
    pub fn with_tenant_claim(mut self, name: impl Into<String>) -> Self {
        self.tenant_claim = Some(name.into());
        self
    }

    /// Reads a service's client id from this claim before `client_id` and `azp` (it then
    /// becomes a service id like a `client_id` does: named, or derived under the issuer).
    pub fn with_service_claim(mut self, name: impl Into<String>) -> Self {
        self.service_claim = Some(name.into());
        self
    }

    /// Reads attributes from this claim, an object of strings (the Baton preset reads
    /// [`ATTRIBUTES_CLAIM`]; the generic and Keycloak presets read none).
    ///
    /// Deployment caveat: attributes feed authorization decisions. Turn this on only for
    /// an issuer where users cannot edit the profile fields mapped into that claim, or a
    /// user could grant themselves any attribute.
    pub fn with_attributes_claim(mut self, name: impl Into<String>) -> Self {
        self.attributes_claim = Some(name.into());
        self
    }

    /// Marks tokens whose `claim` equals `value` as a service's own.
    ///
    /// Deployment caveat: the marker makes a token a service's. Name only a claim the
    /// identity provider alone writes for client_credentials tokens, never one a user can
    /// choose or edit (a user name, a profile attribute), or a user becomes a service.
    pub fn with_service_marker(
        mut self,
        claim: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.service_markers
            .push(ServiceMarker::new(claim, MarkerTest::Equals(value.into())));
        self
    }

    /// Marks tokens whose `claim` starts with `prefix` as a service's own.
    ///
    /// Deployment caveat: as for [`with_service_marker`](ClaimMapping::with_service_marker),
    /// and more so: a prefix of a value a user can choose (`service-account-` on a user
    /// name) lets any user with that prefix become a service.
    pub fn with_service_marker_prefix(
        mut self,
        claim: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        self.service_markers
            .push(ServiceMarker::new(claim, MarkerTest::Prefix(prefix.into())));
        self
    }

    /// Names the service of this issuer's client `client_id`: a service token of that
    /// client (and an `act` naming it under this issuer) gets `service`, instead of the
    /// issuer-dependent id [`ServiceId::derive`] makes. The client id is matched exactly,
    /// as the issuer writes it, so it need not be a slug (`0oa1B2c3D4`, `Billing API`).
    ///
    /// A `ClaimMapping` belongs to one issuer, so this map is per issuer: naming `gateway`
    /// at the internal IdP as `svc-gateway` does not let a partner IdP's `gateway` in.
    ///
    /// ```
    /// use principal::{ClaimMapping, Kind, ServiceId};
    ///
    /// let mapping = ClaimMapping::generic().with_service("Billing API", ServiceId::new("billing")?);
    /// let token = br#"{"iss": "https://idp.example.com", "sub": "c1", "exp": 1700000300,
    ///     "gty": "client-credentials", "client_id": "Billing API"}"#;
    /// let service = mapping.principal_from_json(token)?;
    /// assert_eq!(service.id().to_string(), "svc-billing");
    ///
    /// // Without the map, that client id is not a slug, and is refused rather than folded.
    /// assert!(ClaimMapping::generic().principal_from_json(token).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_service(mut self, client_id: impl Into<String>, service: ServiceId) -> Self {
        self.services.insert(client_id.into(), service);
        self
    }

    /// Honours an `act.iss` of `issuer` in this issuer's tokens. By default an actor's
    /// `iss` must be the token's own `iss`: any other is refused
    /// ([`ClaimError::ActorIssuerNotAllowed`]), so one identity provider cannot mint
    /// actor ids in another's namespace.
    ///
    /// Deployment caveat: allow an issuer here only if this token's issuer is trusted to
    /// speak for that issuer's parties (a token-exchange service fronting it).
    ///
    /// ```
    /// use principal::{ClaimError, ClaimMapping, Issuer};
    ///
    /// let token = br#"{"iss": "https://sts.example.com", "sub": "alice", "exp": 1700000300,
    ///     "act": {"iss": "https://agents.example.com", "sub": "bot"}}"#;
    /// let refused = ClaimMapping::generic().principal_from_json(token);
    /// assert!(matches!(refused, Err(ClaimError::ActorIssuerNotAllowed { .. })));
    ///
    /// let mapping = ClaimMapping::generic()
    ///     .with_actor_issuer(Issuer::new("https://agents.example.com")?);
    /// assert!(mapping.principal_from_json(token)?.is_delegated());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_actor_issuer(mut self, issuer: Issuer) -> Self {
        self.actor_issuers.insert(issuer);
        self
    }

    /// Accepts tokens without `sub`. By default `sub` is required (RFC 9068 §2.2) and a
    /// token without one is refused (`ClaimError::Missing { claim: "sub" }`).
    ///
    /// With this, a token without `sub` still becomes a Principal only as a service: it
    /// must carry a service marker (or, under the Baton preset, a kind or id claim saying
    /// so); its `subject()` is then the client id the service id was made from. Without a
    /// marker it is refused as before: a token without `sub` is never a human or an agent.
    ///
    /// Deployment caveat: some identity providers (older Auth0 and Okta set-ups, custom
    /// authorization servers) issue client_credentials tokens without `sub`. Loosen this
    /// only for such an issuer, and only with a service marker it alone writes.
    ///
    /// ```
    /// use principal::{ClaimError, ClaimMapping, Kind};
    ///
    /// let token = br#"{"iss": "https://idp.example.com", "exp": 1700000300,
    ///     "gty": "client-credentials", "client_id": "billing"}"#;
    /// assert!(matches!(
    ///     ClaimMapping::generic().principal_from_json(token),
    ///     Err(ClaimError::Missing { claim: "sub" })
    /// ));
    /// let loose = ClaimMapping::generic().insecure_allow_missing_sub();
    /// assert_eq!(loose.principal_from_json(token)?.kind(), Kind::Service);
    ///
    /// // Still no service without a marker.
    /// let unmarked = br#"{"iss": "https://idp.example.com", "exp": 1700000300, "client_id": "billing"}"#;
    /// assert!(loose.principal_from_json(unmarked).is_err());
    /// # Ok::<(), ClaimError>(())
    /// ```
    pub fn insecure_allow_missing_sub(mut self) -> Self {
        self.require_sub = false;
        self
    }

    /// The kind of an actor whose `sub` is not a typed id (default `Agent`).
    pub fn with_actor_default_kind(mut self, kind: Kind) -> Self {
        self.actor_default_kind = kind;
        self
    }

    /// Whether a `sub` (also an `act`'s `sub`) with a Baton prefix (`hm-`, `am-`, `svc-`) is
    /// read as a typed id (Baton preset `true`; generic and Keycloak presets `false`, where
    /// such a `sub` is an opaque subject whose id is derived from `iss` and `sub`).
    ///
    /// Deployment caveat: turn this on only for an issuer whose users cannot choose their
    /// own `sub` (a user name), or a user named `svc-payments` would map to that service's
    /// id, and one named after another person's `hm-` id would become that person.
    pub fn with_typed_subjects(mut self, typed: bool) -> Self {
        self.typed_subjects = typed;
        self
    }

    /// Sets the maximum delegation depth (default [`DEFAULT_MAX_DELEGATION_DEPTH`]). Above
    /// [`HARD_MAX_DELEGATION_DEPTH`](crate::limits::HARD_MAX_DELEGATION_DEPTH), every
    /// mapping fails with
    /// [`PrincipalError::DepthAboveHardCap`](crate::PrincipalError::DepthAboveHardCap).
    pub fn with_max_delegation_depth(mut self, max: usize) -> Self {
        self.max_delegation_depth = max;
        self
    }

    /// Decodes claims JSON (at most
    /// [`MAX_CLAIMS_JSON_LEN`](crate::limits::MAX_CLAIMS_JSON_LEN) bytes) and maps them.
    ///
    /// ```
    /// use principal::{ClaimError, ClaimMapping};
    ///
    /// let mapping = ClaimMapping::generic();
    /// let ok = mapping.principal_from_json(br#"{"iss":"https://idp","sub":"bob","exp":2000000000}"#);
    /// assert!(ok.is_ok());
    /// let truncated = mapping.principal_from_json(br#"{"iss":"https://idp","sub":"bo"#);
    /// assert!(matches!(truncated, Err(ClaimError::Malformed(_))));
    /// ```
    pub fn principal_from_json(&self, json: &[u8]) -> Result<Principal, ClaimError> {
        let claims = JwtClaims::from_json(json)?;
        self.principal_from_claims(&claims)
    }

    /// Maps decoded claims to a Principal, following the rules in the type's documentation.
    ///
    /// ```
    /// use principal::{ClaimError, ClaimMapping, JwtClaims, Timestamp};
    ///
    /// let mut claims = JwtClaims {
    ///     iss: Some("https://idp.example.com".into()),
    ///     sub: Some("alice".into()),
    ///     exp: Some(Timestamp::from_unix_seconds(1_700_000_300)),
    ///     ..JwtClaims::default()
    /// };
    /// assert!(ClaimMapping::generic().principal_from_claims(&claims).is_ok());
    ///
    /// claims.scope = Some("a  b".into()); // empty scope token
    /// assert!(matches!(
    ///     ClaimMapping::generic().principal_from_claims(&claims),
    ///     Err(ClaimError::Invalid { .. })
    /// ));
    /// ```
    pub fn principal_from_claims(&self, claims: &JwtClaims) -> Result<Principal, ClaimError> {
        if claims.extra.len() > MAX_EXTRA_CLAIMS {
            return Err(too_many("claims", MAX_EXTRA_CLAIMS));
        }
        let iss = claims
            .iss
            .as_deref()
            .ok_or(ClaimError::Missing { claim: "iss" })?;
        let issuer = Issuer::new(iss).map_err(invalid("iss"))?;
        let expires_at = claims.exp.ok_or(ClaimError::Missing { claim: "exp" })?;
        match &claims.sub {
            Some(sub) => {
                validate::text("subject", sub, MAX_SUBJECT_LEN).map_err(invalid("sub"))?;
            }
            None if self.require_sub => return Err(ClaimError::Missing { claim: "sub" }),
            None => {}
        }

        let (id, subject) = self.subject_identity(claims, &issuer)?;
        let delegation = match &claims.act {
            Some(act) => self.actors(act, &issuer)?,
            None => Vec::new(),
        };
        let mut builder = Principal::builder(id, issuer, subject)
            .expires_at(expires_at)
            .max_delegation_depth(self.max_delegation_depth);

        if let Some(tenant) = self.tenant(&claims.extra)? {
            builder = builder.tenant(tenant);
        }
        builder = builder.roles(self.roles(&claims.extra)?);
        builder = builder.scopes(scopes(claims.scope.as_deref(), claims.scp.as_deref())?);
        if let Some(aud) = &claims.aud {
            builder = builder.audiences(audiences(aud)?);
        }
        builder = builder.auth(auth_context(claims)?);
        if let Some(iat) = claims.iat {
            builder = builder.issued_at(iat);
        }
        if let Some(nbf) = claims.nbf {
            builder = builder.not_before(nbf);
        }
        if let Some(jti) = &claims.jti {
            builder = builder.token_id(jti.as_str());
        }
        if let Some(sid) = &claims.sid {
            builder = builder.session_id(sid.as_str());
        }
        for (key, value) in self.attributes(&claims.extra)? {
            builder = builder.attribute(key, value);
        }
        builder = builder.delegation(delegation);
        if let Some(may_act) = &claims.may_act {
            builder = builder.may_act(may_act.clone());
        }
        Ok(builder.build()?)
    }

    /// The subject's typed id and its `subject` string.
    fn subject_identity(
        &self,
        claims: &JwtClaims,
        issuer: &Issuer,
    ) -> Result<(PrincipalId, String), ClaimError> {
        let sub = claims.sub.as_deref();
        let explicit_kind = self.kind_claim(&claims.extra, "")?;
        let id = match self.id_claim(&claims.extra, "")? {
            Some(id) => id,
            None => match self.typed_sub(sub, "sub")? {
                Some(id) => id,
                None => {
                    let kind = match explicit_kind {
                        Some(kind) => kind,
                        None if self.is_service_token(claims) => Kind::Service,
                        None => Kind::Human,
                    };
                    match kind {
                        Kind::Service => {
                            let (claim, value) = self.service_source(claims)?;
                            PrincipalId::Service(
                                self.service_id(issuer, issuer, value)
                                    .map_err(invalid(claim))?,
                            )
                        }
                        Kind::Human => {
                            let sub = sub.ok_or(ClaimError::Missing { claim: "sub" })?;
                            PrincipalId::Human(HumanId::derive(issuer, sub))
                        }
                        Kind::Agent => {
                            let sub = sub.ok_or(ClaimError::Missing { claim: "sub" })?;
                            PrincipalId::Agent(AgentId::derive(issuer, sub))
                        }
                    }
                }
            },
        };
        if let Some(claimed) = explicit_kind {
            check_kind(
                self.kind_claim.as_deref().unwrap_or(KIND_CLAIM),
                claimed,
                &id,
            )?;
        }
        let subject = match sub {
            Some(sub) => sub.to_owned(),
            None if id.kind() == Kind::Service => self.service_source(claims)?.1.to_owned(),
            None => return Err(ClaimError::Missing { claim: "sub" }),
        };
        Ok((id, subject))
    }

    /// Whether a service marker says this is a client_credentials token. Only markers: a
    /// `sub` equal to `client_id` or `azp`, or a missing `sub`, is no sign of a service
    /// (some identity providers let users choose a `sub` or a user name).
    fn is_service_token(&self, claims: &JwtClaims) -> bool {
        self.service_markers
            .iter()
            .any(|marker| marker.matches(claims))
    }

    /// The service id of client `client_id` at `client_issuer`, in a token of
    /// `token_issuer`: the operator's name for it if this mapping has one (only for the
    /// token's own issuer), else the issuer-dependent [`ServiceId::derive`].
    fn service_id(
        &self,
        token_issuer: &Issuer,
        client_issuer: &Issuer,
        client_id: &str,
    ) -> Result<ServiceId, IdError> {
        if client_issuer == token_issuer
            && let Some(named) = self.services.get(client_id)
        {
            return Ok(named.clone());
        }
        ServiceId::derive(client_issuer, client_id)
    }

    /// The claim a service id is made from, and its value.
    fn service_source<'c>(
        &self,
        claims: &'c JwtClaims,
    ) -> Result<(Cow<'static, str>, &'c str), ClaimError> {
        if let Some(claim) = &self.service_claim
            && let Some(value) = string_claim(&claims.extra, claim)?
        {
            return Ok((Cow::Owned(claim.clone()), value));
        }
        if let Some(client_id) = &claims.client_id {
            return Ok((Cow::Borrowed("client_id"), client_id));
        }
        if let Some(azp) = string_claim(&claims.extra, "azp")? {
            return Ok((Cow::Borrowed("azp"), azp));
        }
        Err(ClaimError::Missing { claim: "client_id" })
    }

    /// A `sub` with a Baton prefix, parsed; `None` for any other `sub`.
    fn typed_sub(&self, sub: Option<&str>, claim: &str) -> Result<Option<PrincipalId>, ClaimError> {
        if !self.typed_subjects {
            return Ok(None);
        }
        match sub.and_then(PrincipalId::parse_if_prefixed) {
            Some(Ok(id)) => Ok(Some(id)),
            Some(Err(e)) => Err(ClaimError::Invalid {
                claim: claim.to_owned(),
                source: e,
            }),
            None => Ok(None),
        }
    }

    fn kind_claim(
        &self,
        extra: &Map<String, Value>,
        path: &str,
    ) -> Result<Option<Kind>, ClaimError> {
        let Some(name) = &self.kind_claim else {
            return Ok(None);
        };
        match string_claim(extra, name).map_err(|e| prefix_error(e, path))? {
            None => Ok(None),
            Some(value) => Kind::parse_field("kind", value)
                .map(Some)
                .map_err(|source| ClaimError::Invalid {
                    claim: format!("{path}{name}"),
                    source,
                }),
        }
    }

    fn id_claim(
        &self,
        extra: &Map<String, Value>,
        path: &str,
    ) -> Result<Option<PrincipalId>, ClaimError> {
        let Some(name) = &self.id_claim else {
            return Ok(None);
        };
        match string_claim(extra, name).map_err(|e| prefix_error(e, path))? {
            None => Ok(None),
            Some(value) => {
                PrincipalId::parse(value)
                    .map(Some)
                    .map_err(|source| ClaimError::Invalid {
                        claim: format!("{path}{name}"),
                        source,
                    })
            }
        }
    }

    fn tenant(&self, extra: &Map<String, Value>) -> Result<Option<Tenant>, ClaimError> {
        let Some(name) = &self.tenant_claim else {
            return Ok(None);
        };
        string_claim(extra, name)?
            .map(|value| Tenant::new(value).map_err(invalid(name.clone())))
            .transpose()
    }

    fn roles(&self, extra: &Map<String, Value>) -> Result<BTreeSet<Role>, ClaimError> {
        let mut roles = BTreeSet::new();
        for source in &self.role_sources {
            match source {
                RoleSource::Claim(path) => {
                    if let Some(value) = lookup(extra, path) {
                        add_roles(&mut roles, path, value, None)?;
                    }
                }
                RoleSource::KeycloakClients => {
                    const CLAIM: &str = "resource_access";
                    let Some(value) = lookup(extra, CLAIM) else {
                        continue;
                    };
                    let clients = value
                        .as_object()
                        .ok_or_else(|| wrong_type(CLAIM, "an object"))?;
                    if clients.len() > MAX_ROLES {
                        return Err(too_many(CLAIM, MAX_ROLES));
                    }
                    for (client, access) in clients {
                        let access = access
                            .as_object()
                            .ok_or_else(|| wrong_type(format!("{CLAIM}.{client}"), "an object"))?;
                        let Some(client_roles) = access.get("roles").filter(|v| !v.is_null())
                        else {
                            continue;
                        };
                        let claim = format!("{CLAIM}.{client}.roles");
                        if !client_roles.is_array() {
                            return Err(wrong_type(claim, "an array of strings"));
                        }
                        add_roles(&mut roles, &claim, client_roles, Some(client))?;
                    }
                }
            }
        }
        Ok(roles)
    }

    fn attributes(
        &self,
        extra: &Map<String, Value>,
    ) -> Result<BTreeMap<String, String>, ClaimError> {
        let mut attributes = BTreeMap::new();
        let Some(name) = &self.attributes_claim else {
            return Ok(attributes);
        };
        let Some(value) = lookup(extra, name) else {
            return Ok(attributes);
        };
        let object = value
            .as_object()
            .ok_or_else(|| wrong_type(name.as_str(), "an object of strings"))?;
        if object.len() > MAX_ATTRIBUTES {
            return Err(too_many(name.as_str(), MAX_ATTRIBUTES));
        }
        for (key, value) in object {
            let value = value
                .as_str()
                .ok_or_else(|| wrong_type(format!("{name}.{key}"), "a string"))?;
            attributes.insert(key.clone(), value.to_owned());
        }
        Ok(attributes)
    }

    /// The delegation chain, oldest first, from the outermost `act` (the current actor).
    fn actors(
        &self,
        outermost: &ActClaim,
        token_issuer: &Issuer,
    ) -> Result<Vec<Actor>, ClaimError> {
        let mut actors = Vec::new();
        let mut current = Some(outermost);
        let mut path = String::from("act.");
        while let Some(act) = current {
            if actors.len() == MAX_ACT_NESTING {
                return Err(ClaimError::ActTooDeep {
                    max: MAX_ACT_NESTING,
                });
            }
            actors.push(self.actor(act, token_issuer, &path)?);
            current = act.act.as_deref();
            path.push_str("act.");
        }
        actors.reverse();
        Ok(actors)
    }

    /// One actor; `path` is the claim path of its members (`act.`, `act.act.`, ...).
    fn actor(
        &self,
        act: &ActClaim,
        token_issuer: &Issuer,
        path: &str,
    ) -> Result<Actor, ClaimError> {
        let at = |member: &str| format!("{path}{member}");
        if act.extra.len() > MAX_EXTRA_CLAIMS {
            return Err(too_many(at("*"), MAX_EXTRA_CLAIMS));
        }
        let issuer = act
            .iss
            .as_deref()
            .map(|iss| Issuer::new(iss).map_err(invalid(at("iss"))))
            .transpose()?;
        // Fail closed: another issuer's `iss` would let this one mint ids in its namespace.
        if let Some(issuer) = &issuer
            && issuer != token_issuer
            && !self.any_actor_issuer
            && !self.actor_issuers.contains(issuer)
        {
            return Err(ClaimError::ActorIssuerNotAllowed {
                claim: at("iss"),
                issuer: issuer.clone(),
            });
        }
        // An actor's id is derived under its own issuer, else the token's.
        let actor_issuer = issuer.as_ref().unwrap_or(token_issuer);
        let sub = act.sub.as_deref();
        if let Some(sub) = sub {
            validate::text("actor.subject", sub, MAX_SUBJECT_LEN).map_err(invalid(at("sub")))?;
        }
        let explicit_kind = self.kind_claim(&act.extra, path)?;
        let id = match self.id_claim(&act.extra, path)? {
            Some(id) => id,
            None => match self.typed_sub(sub, &at("sub"))? {
                Some(id) => id,
                None => {
                    let kind = explicit_kind.unwrap_or(match (sub, &act.client_id) {
                        (None, Some(_)) => Kind::Service,
                        _ => self.actor_default_kind,
                    });
                    match (kind, sub) {
                        (Kind::Service, _) => {
                            let (claim, value) = match (&act.client_id, sub) {
                                (Some(client_id), _) => ("client_id", client_id.as_str()),
                                (None, Some(sub)) => ("sub", sub),
                                (None, None) => {
                                    return Err(ClaimError::Missing {
                                        claim: "act.client_id",
                                    });
                                }
                            };
                            PrincipalId::Service(
                                self.service_id(token_issuer, actor_issuer, value)
                                    .map_err(invalid(at(claim)))?,
                            )
                        }
                        (_, None) => return Err(ClaimError::Missing { claim: "act.sub" }),
                        (Kind::Human, Some(sub)) => {
                            PrincipalId::Human(HumanId::derive(actor_issuer, sub))
                        }
                        (Kind::Agent, Some(sub)) => {
                            PrincipalId::Agent(AgentId::derive(actor_issuer, sub))
                        }
                    }
                }
            },
        };
        if let Some(claimed) = explicit_kind {
            check_kind(
                &at(self.kind_claim.as_deref().unwrap_or(KIND_CLAIM)),
                claimed,
                &id,
            )?;
        }
        let mut actor = Actor::new(id);
        if let Some(issuer) = issuer {
            actor = actor.with_issuer(issuer);
        }
        if let Some(sub) = sub {
            actor = actor.with_subject(sub);
        }
        if let Some(client_id) = &act.client_id {
            actor = actor.with_client_id(client_id.as_str());
        }
        if let Some(scope) = &act.scope {
            actor = actor.with_grant(ScopeSet::parse(scope).map_err(invalid(at("scope")))?);
        }
        Ok(actor)
    }
}

fn check_kind(claim: &str, claimed: Kind, id: &PrincipalId) -> Result<(), ClaimError> {
    if claimed != id.kind() {
        return Err(ClaimError::KindConflict {
            claim: claim.to_owned(),
            claimed,
            found: id.kind(),
        });
    }
    Ok(())
}

fn scopes(scope: Option<&str>, scp: Option<&[String]>) -> Result<ScopeSet, ClaimError> {
    let mut set = match scope {
        Some(scope) => ScopeSet::parse(scope).map_err(invalid("scope"))?,
        None => ScopeSet::new(),
    };
    if let Some(scp) = scp {
        if scp.len() > MAX_SCOPES {
            return Err(too_many("scp", MAX_SCOPES));
        }
        let mut all: Vec<Scope> = set.into_iter().collect();
        all.reserve(scp.len());
        for s in scp {
            all.push(Scope::new(s.as_str()).map_err(invalid("scp"))?);
        }
        set = ScopeSet::from_unsorted(all);
        if set.len() > MAX_SCOPES {
            return Err(too_many("scope", MAX_SCOPES));
        }
    }
    Ok(set)
}

fn audiences(aud: &Audiences) -> Result<Vec<Audience>, ClaimError> {
    if aud.len() > MAX_AUDIENCES {
        return Err(too_many("aud", MAX_AUDIENCES));
    }
    aud.iter()
        .map(|a| Audience::new(a).map_err(invalid("aud")))
        .collect()
}

fn auth_context(claims: &JwtClaims) -> Result<AuthContext, ClaimError> {
    let amr = match &claims.amr {
        Some(amr) if amr.len() > MAX_AMR_VALUES => return Err(too_many("amr", MAX_AMR_VALUES)),
        Some(amr) => amr.clone(),
        None => Vec::new(),
    };
    let client_id = match &claims.client_id {
        Some(client_id) => Some(client_id.clone()),
        None => string_claim(&claims.extra, "azp")?.map(str::to_owned),
    };
    Ok(AuthContext {
        amr,
        acr: claims.acr.clone(),
        auth_time: claims.auth_time,
        client_id,
    })
}

/// Adds the roles in `value` (an array of strings, or a space-separated string); with
/// `client`, each as `"{client}:{role}"`.
fn add_roles(
    roles: &mut BTreeSet<Role>,
    claim: &str,
    value: &Value,
    client: Option<&str>,
) -> Result<(), ClaimError> {
    let mut add = |role: &str| -> Result<(), ClaimError> {
        // The bare role is checked first, so a prefix cannot hide leading whitespace.
        let mut role = Role::new(role).map_err(invalid(claim))?;
        if let Some(client) = client {
            role = Role::new(format!("{client}:{role}")).map_err(invalid(claim))?;
        }
        roles.insert(role);
        if roles.len() > MAX_ROLES {
            return Err(too_many(claim, MAX_ROLES));
        }
        Ok(())
    };
    match value {
        Value::Array(items) => {
            if items.len() > MAX_ROLES {
                return Err(too_many(claim, MAX_ROLES));
            }
            for item in items {
                add(item
                    .as_str()
                    .ok_or_else(|| wrong_type(claim, "an array of strings"))?)?;
            }
        }
        Value::String(s) if client.is_none() => {
            for role in s.split_whitespace() {
                add(role)?;
            }
        }
        _ => {
            return Err(wrong_type(
                claim,
                "an array of strings or a space-separated string",
            ));
        }
    }
    Ok(())
}

/// The claim at `path` (a name, or a JSON pointer starting with `/`); `null` is absent.
fn lookup<'a>(extra: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let value = match path.strip_prefix('/') {
        None => extra.get(path),
        Some(pointer) => {
            let (first, rest) = match pointer.find('/') {
                Some(i) => (&pointer[..i], &pointer[i..]),
                None => (pointer, ""),
            };
            let first: Cow<'_, str> = if first.contains('~') {
                Cow::Owned(first.replace("~1", "/").replace("~0", "~"))
            } else {
                Cow::Borrowed(first)
            };
            let top = extra.get(first.as_ref())?;
            if rest.is_empty() {
                Some(top)
            } else {
                top.pointer(rest)
            }
        }
    };
    value.filter(|v| !v.is_null())
}

/// A string claim at `path`; another JSON type is an error.
fn string_claim<'a>(
    extra: &'a Map<String, Value>,
    path: &str,
) -> Result<Option<&'a str>, ClaimError> {
    match lookup(extra, path) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(path, "a string")),
    }
}

fn invalid(claim: impl Into<String>) -> impl FnOnce(IdError) -> ClaimError {
    move |source| ClaimError::Invalid {
        claim: claim.into(),
        source,
    }
}

fn wrong_type(claim: impl Into<String>, expected: &'static str) -> ClaimError {
    ClaimError::WrongType {
        claim: claim.into(),
        expected,
    }
}

fn too_many(claim: impl Into<String>, max: usize) -> ClaimError {
    ClaimError::TooMany {
        claim: claim.into(),
        max,
    }
}

/// Prefixes the claim path of an error raised inside an `act` object.
fn prefix_error(error: ClaimError, path: &str) -> ClaimError {
    match error {
        ClaimError::WrongType { claim, expected } if !path.is_empty() => ClaimError::WrongType {
            claim: format!("{path}{claim}"),
            expected,
        },
        other => other,
    }
}

impl Principal {
    /// The claims of this Principal: the inverse of [`ClaimMapping::baton`], so that
    /// mapping the result back gives an equal Principal. (The generic preset, for external
    /// issuers, ignores the Baton-internal claims written here.)
    ///
    /// Written: `iss`, `sub` (the subject), `aud` (a string when there is one audience),
    /// `exp`, `nbf`, `iat`, `jti`, `sid`, `client_id`, `scope` (the effective scopes, absent
    /// when empty), `amr`, `acr`, `auth_time`, `may_act`, `act` (the newest actor outermost;
    /// each with `sub`, `iss`, `client_id`, `scope` for its grant), and in `extra`:
    /// [`KIND_CLAIM`] always, [`ID_CLAIM`] when `sub` is not the typed id (also inside
    /// `act`), [`TENANT_CLAIM`], [`ROLES_CLAIM`] (an array) and [`ATTRIBUTES_CLAIM`] when
    /// set.
    ///
    /// ```
    /// use principal::{ClaimMapping, HumanId, Issuer, Principal, Timestamp};
    ///
    /// let issuer = Issuer::new("https://idp.example.com")?;
    /// let principal = Principal::builder(HumanId::derive(&issuer, "alice").into(), issuer, "alice")
    ///     .expires_at(Timestamp::from_unix_seconds(1_700_000_300))
    ///     .build()?;
    /// let claims = principal.to_claims();
    /// assert_eq!(claims.sub.as_deref(), Some("alice"));
    /// assert_eq!(ClaimMapping::baton().principal_from_claims(&claims)?, principal);
    ///
    /// // A kind claim that contradicts the typed id is refused.
    /// let mut tampered = claims.clone();
    /// tampered.extra.insert("baton_kind".into(), "agent".into());
    /// assert!(ClaimMapping::baton().principal_from_claims(&tampered).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_claims(&self) -> JwtClaims {
        let mut extra = Map::new();
        extra.insert(KIND_CLAIM.to_owned(), Value::from(self.kind().as_str()));
        if !self.id().text_eq(self.subject()) {
            extra.insert(ID_CLAIM.to_owned(), Value::from(self.id().to_string()));
        }
        if let Some(tenant) = self.tenant() {
            extra.insert(TENANT_CLAIM.to_owned(), Value::from(tenant.as_str()));
        }
        if !self.roles().is_empty() {
            extra.insert(
                ROLES_CLAIM.to_owned(),
                Value::Array(
                    self.roles()
                        .iter()
                        .map(|r| Value::from(r.as_str()))
                        .collect(),
                ),
            );
        }
        if !self.attributes().is_empty() {
            extra.insert(
                ATTRIBUTES_CLAIM.to_owned(),
                Value::Object(
                    self.attributes()
                        .iter()
                        .map(|(k, v)| (k.to_owned(), Value::from(v)))
                        .collect(),
                ),
            );
        }
        let aud = match self.audiences() {
            [] => None,
            [one] => Some(Audiences::One(one.as_str().to_owned())),
            many => Some(Audiences::Many(
                many.iter().map(|a| a.as_str().to_owned()).collect(),
            )),
        };
        let auth = self.auth();
        JwtClaims {
            iss: Some(self.issuer().as_str().to_owned()),
            sub: Some(self.subject().to_owned()),
            aud,
            exp: Some(self.expires_at()),
            nbf: self.not_before(),
            iat: self.issued_at(),
            jti: self.token_id().map(str::to_owned),
            client_id: auth.client_id.clone(),
            scope: (!self.scopes().is_empty()).then(|| self.scopes().to_space_separated()),
            scp: None,
            sid: self.session_id().map(str::to_owned),
            act: act_claims(self.delegation()),
            may_act: self.may_act().cloned(),
            amr: (!auth.amr.is_empty()).then(|| auth.amr.clone()),
            acr: auth.acr.clone(),
            auth_time: auth.auth_time,
            extra,
        }
    }
}

/// Nests the chain: the newest actor outermost. Built from the oldest outward, so no
/// recursion.
fn act_claims(delegation: &[Actor]) -> Option<ActClaim> {
    let mut nested: Option<ActClaim> = None;
    for actor in delegation {
        let mut extra = Map::new();
        let sub = match actor.subject() {
            Some(subject) => {
                if !actor.id().text_eq(subject) {
                    extra.insert(ID_CLAIM.to_owned(), Value::from(actor.id().to_string()));
                }
                subject.to_owned()
            }
            None => actor.id().to_string(),
        };
        nested = Some(ActClaim {
            sub: Some(sub),
            iss: actor.issuer().map(|i| i.as_str().to_owned()),
            client_id: actor.client_id().map(str::to_owned),
            scope: actor.grant().map(ScopeSet::to_space_separated),
            act: nested.map(Box::new),
            extra,
        });
    }
    nested
}
