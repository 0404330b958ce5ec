//! Shared test helpers: keys, options, and proptest strategies that build
//! Principals only through the model's public builder.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use principal::{
    Actor, AgentId, Audience, AuthContext, HumanId, Issuer, Principal, PrincipalId, Role, Scope,
    ScopeSet, ServiceId, Tenant, Timestamp, Uuid,
};
use principal_proto::{
    DecodeOptions, KeyId, Passport, PassportKeyRing, PassportSigningKey, RequestId, TrustedPeer,
    fixtures,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// The time every fixed test runs at.
pub const NOW: Timestamp = Timestamp::from_unix_seconds(1_700_000_000);

/// The transport peer the unsigned-passport tests state they checked.
pub const PEER_ID: &str = "spiffe://baton.test/ns/shop/sa/gateway";

pub fn peer() -> TrustedPeer<'static> {
    TrustedPeer::allowlisted(PEER_ID).unwrap()
}

pub fn kid(value: &str) -> KeyId {
    KeyId::new(value).unwrap()
}

pub fn hmac_key(id: &str, fill: u8) -> PassportSigningKey {
    PassportSigningKey::hmac_sha256(kid(id), &[fill; 32]).unwrap()
}

pub fn hmac_ring(id: &str, fill: u8) -> PassportKeyRing {
    PassportKeyRing::new(hmac_key(id, fill))
}

pub fn ed25519_ring(id: &str) -> PassportKeyRing {
    PassportKeyRing::new(PassportSigningKey::ed25519_generate(kid(id)).unwrap())
}

pub fn options() -> DecodeOptions {
    fixtures::reference_decode_options().unwrap()
}

pub fn reference() -> Passport {
    fixtures::reference_passport(NOW).unwrap()
}

/// A passport for the reference Principal with other passport fields.
pub fn passport_with(request_id: &str, audience: &str, issued_at: i64, lifetime: i64) -> Passport {
    let issued_at = Timestamp::from_unix_seconds(issued_at);
    Passport::new(
        fixtures::reference_principal(NOW).unwrap(),
        RequestId::new(request_id).unwrap(),
        Audience::new(audience).unwrap(),
        issued_at,
        issued_at.add_seconds(lifetime),
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// Strategies

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

pub fn principal_id() -> impl Strategy<Value = PrincipalId> {
    prop_oneof![
        uuid().prop_map(|u| PrincipalId::Human(HumanId::new(u))),
        uuid().prop_map(|u| PrincipalId::Agent(AgentId::new(u))),
        "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
            .prop_map(|slug| PrincipalId::Service(ServiceId::new(&slug).unwrap())),
    ]
}

/// No whitespace, no control characters; some non-ASCII.
fn token() -> impl Strategy<Value = String> {
    "[!-~é€]{1,24}"
}

/// Free text: spaces allowed, no control characters.
fn text() -> impl Strategy<Value = String> {
    "[ -~é€]{1,24}"
}

fn scope() -> impl Strategy<Value = Scope> {
    "[!#-\\[\\]-~]{1,12}".prop_map(|s| Scope::new(s).unwrap())
}

pub fn scope_set() -> impl Strategy<Value = ScopeSet> {
    prop::collection::vec(scope(), 0..8).prop_map(|scopes| scopes.into_iter().collect())
}

fn role() -> impl Strategy<Value = Role> {
    "[!-~]([ -~é]{0,12}[!-~])?".prop_map(|s| Role::new(s).unwrap())
}

/// An id that is sometimes a canonical uuid (travels as bytes), sometimes a
/// non-canonical one (uppercase: travels as text), sometimes free text.
fn maybe_uuid_text() -> impl Strategy<Value = String> {
    prop_oneof![
        uuid().prop_map(|u| u.hyphenated().to_string()),
        uuid().prop_map(|u| u.hyphenated().to_string().to_uppercase()),
        text(),
    ]
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![any::<i64>(), 1_600_000_000i64..1_800_000_000, -10i64..10,]
        .prop_map(Timestamp::from_unix_seconds)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~é\"\\\\]{0,10}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn may_act() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z_]{1,8}", json_value(), 0..4)
        .prop_map(|map| Value::Object(map.into_iter().collect()))
}

fn auth() -> impl Strategy<Value = AuthContext> {
    (
        prop::collection::vec("[!-~]{1,8}", 0..4),
        prop::option::of(text()),
        prop::option::of(timestamp()),
        prop::option::of(text()),
    )
        .prop_map(|(amr, acr, auth_time, client_id)| AuthContext {
            amr,
            acr,
            auth_time,
            client_id,
        })
}

fn actor() -> impl Strategy<Value = Actor> {
    (
        principal_id(),
        prop::option::of(token()),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(scope_set()),
    )
        .prop_map(|(id, issuer, subject, client_id, grant)| {
            let mut actor = Actor::new(id);
            if let Some(issuer) = issuer {
                actor = actor.with_issuer(Issuer::new(issuer).unwrap());
            }
            if let Some(subject) = subject {
                actor = actor.with_subject(subject);
            }
            if let Some(client_id) = client_id {
                actor = actor.with_client_id(client_id);
            }
            if let Some(grant) = grant {
                actor = actor.with_grant(grant);
            }
            actor
        })
}

/// The times of a Principal: `(issued_at, expires_at, not_before)`.
pub type Times = (Option<Timestamp>, Timestamp, Option<Timestamp>);

/// Any consistent times (the builder refuses the rest).
pub fn any_times() -> impl Strategy<Value = Times> {
    (
        prop::option::of(timestamp()),
        timestamp(),
        prop::option::of(timestamp()),
    )
}

/// Times under which the Principal is valid at [`NOW`].
pub fn valid_times() -> impl Strategy<Value = Times> {
    (
        prop::option::of(-10_000i64..0),
        1i64..100_000,
        prop::option::of(-10_000i64..0),
    )
        .prop_map(|(iat, exp, nbf)| {
            (
                iat.map(|s| NOW.add_seconds(s)),
                NOW.add_seconds(exp),
                nbf.map(|s| NOW.add_seconds(s)),
            )
        })
}

/// Principals built through the public builder, every field exercised.
pub fn principal(times: impl Strategy<Value = Times>) -> impl Strategy<Value = Principal> {
    let subject_part = (
        principal_id(),
        token(),
        prop_oneof![text().prop_map(Some), Just(None)],
        prop::option::of(token()),
        prop::collection::vec(role(), 0..5),
        scope_set(),
        prop::collection::vec(token(), 0..4),
    );
    let rest = (
        auth(),
        times,
        prop::option::of(maybe_uuid_text()),
        prop::option::of(maybe_uuid_text()),
        prop::collection::btree_map("[A-Za-z0-9_.:-]{1,10}", "[ -~é]{0,16}", 0..5),
        prop::collection::vec(actor(), 0..5),
        prop::option::of(may_act()),
    );
    (subject_part, rest).prop_filter_map(
        "the builder refuses it (repeated actor, actor is subject, times, depth)",
        |(
            (id, issuer, subject, tenant, roles, scopes, audiences),
            (
                auth,
                (issued_at, expires_at, not_before),
                token_id,
                session_id,
                attributes,
                delegation,
                may_act,
            ),
        )| {
            // `None`: the subject is the id's text form (a typed subject).
            let subject = subject.unwrap_or_else(|| id.to_string());
            build(
                id,
                issuer,
                subject,
                tenant,
                roles,
                scopes,
                audiences,
                auth,
                (issued_at, expires_at, not_before),
                token_id,
                session_id,
                attributes,
                delegation,
                may_act,
            )
        },
    )
}

#[allow(clippy::too_many_arguments)]
fn build(
    id: PrincipalId,
    issuer: String,
    subject: String,
    tenant: Option<String>,
    roles: Vec<Role>,
    scopes: ScopeSet,
    audiences: Vec<String>,
    auth: AuthContext,
    (issued_at, expires_at, not_before): Times,
    token_id: Option<String>,
    session_id: Option<String>,
    attributes: BTreeMap<String, String>,
    delegation: Vec<Actor>,
    may_act: Option<Value>,
) -> Option<Principal> {
    let mut builder = Principal::builder(id, Issuer::new(issuer).unwrap(), subject)
        .roles(roles)
        .scopes(scopes)
        .audiences(audiences.into_iter().map(|a| Audience::new(a).unwrap()))
        .auth(auth)
        .expires_at(expires_at)
        .delegation(delegation);
    if let Some(tenant) = tenant {
        builder = builder.tenant(Tenant::new(tenant).unwrap());
    }
    if let Some(at) = issued_at {
        builder = builder.issued_at(at);
    }
    if let Some(at) = not_before {
        builder = builder.not_before(at);
    }
    if let Some(token_id) = token_id {
        builder = builder.token_id(token_id);
    }
    if let Some(session_id) = session_id {
        builder = builder.session_id(session_id);
    }
    for (key, value) in attributes {
        builder = builder.attribute(key, value);
    }
    if let Some(may_act) = may_act {
        builder = builder.may_act(may_act);
    }
    builder.build().ok()
}

/// Request ids: canonical uuids (travel as bytes) and other visible ASCII.
pub fn request_id() -> impl Strategy<Value = RequestId> {
    prop_oneof![
        uuid().prop_map(|u| u.hyphenated().to_string()),
        uuid().prop_map(|u| u.simple().to_string()),
        "[!-~]{1,40}",
    ]
    .prop_map(|s| RequestId::new(s).unwrap())
}
