//! Properties: no decoder panics on any input, and whatever is accepted re-encodes and
//! re-maps to an equal value.
#![allow(clippy::unwrap_used)]

use std::fmt::Debug;
use std::str::FromStr;

use principal::{
    Actor, AgentId, Audience, AuthContext, ClaimMapping, HumanId, IdError, Issuer, JwtClaims, Kind,
    Principal, PrincipalId, Role, Scope, ScopeSet, ServiceId, Tenant, Timestamp, Uuid,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------
// Ids and scopes

/// Parses `s`; if accepted, the text form parses back to an equal value.
fn parse_round_trip<T>(s: &str)
where
    T: FromStr<Err = IdError> + ToString + PartialEq + Debug,
{
    if let Ok(value) = s.parse::<T>() {
        let text = value.to_string();
        assert_eq!(text.parse::<T>().as_ref(), Ok(&value), "{s:?}");
    }
}

fn all_parsers(s: &str) {
    parse_round_trip::<HumanId>(s);
    parse_round_trip::<AgentId>(s);
    parse_round_trip::<ServiceId>(s);
    parse_round_trip::<PrincipalId>(s);
    parse_round_trip::<Issuer>(s);
    parse_round_trip::<Audience>(s);
    parse_round_trip::<Scope>(s);
    parse_round_trip::<Role>(s);
    parse_round_trip::<Tenant>(s);
    parse_round_trip::<Kind>(s);
    parse_round_trip::<ScopeSet>(s);
    if let Ok(id) = ServiceId::new(s) {
        assert_eq!(id.slug(), s);
        assert_eq!(ServiceId::parse(id.as_str()), Ok(id));
    }
    let issuer = Issuer::new("https://idp.example.com").unwrap();
    if let Ok(id) = ServiceId::derive(&issuer, s) {
        // Only a slug is accepted, never folded: the client id is in the id as it came.
        assert!(ServiceId::new(s).is_ok(), "{s:?}");
        assert!(id.slug().starts_with(s) && id.slug()[s.len()..].starts_with('-'));
        assert_eq!(ServiceId::parse(id.as_str()).as_ref(), Ok(&id));
    }
    if let Ok(set) = ScopeSet::parse(s) {
        assert_eq!(
            ScopeSet::parse(&set.to_space_separated()).as_ref(),
            Ok(&set)
        );
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(serde_json::from_str::<ScopeSet>(&json).unwrap(), set);
    }
    // The serde paths agree with FromStr.
    let quoted = serde_json::to_string(s).unwrap();
    assert_eq!(
        serde_json::from_str::<PrincipalId>(&quoted).ok(),
        s.parse::<PrincipalId>().ok()
    );
    assert_eq!(
        serde_json::from_str::<Scope>(&quoted).ok(),
        s.parse::<Scope>().ok()
    );
    assert_eq!(
        serde_json::from_str::<Issuer>(&quoted).ok(),
        s.parse::<Issuer>().ok()
    );
}

/// Strings near the grammars, so that acceptance is common.
fn near_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "(hm|am|svc|HM)-[0-9a-fA-F-]{0,40}",
        "svc-[a-z0-9-]{0,70}",
        "[a-zA-Z0-9 ._:/\"\\\\-]{0,40}",
        "[!-~ ]{0,80}",
        any::<u128>().prop_map(|n| format!("hm-{}", Uuid::from_u128(n))),
        any::<u128>().prop_map(|n| format!("am-{}", Uuid::from_u128(n).simple())),
    ]
}

proptest! {
    #[test]
    fn id_and_scope_parsers_never_panic(s in any::<String>()) {
        all_parsers(&s);
    }

    #[test]
    fn id_and_scope_parsers_round_trip(s in near_id()) {
        all_parsers(&s);
    }

    #[test]
    fn uuid_ids_round_trip(n in any::<u128>()) {
        let human = HumanId::new(Uuid::from_u128(n));
        prop_assert_eq!(human.to_string().parse::<HumanId>(), Ok(human));
        let agent = PrincipalId::from(AgentId::new(Uuid::from_u128(n)));
        prop_assert_eq!(agent.to_string().parse::<PrincipalId>(), Ok(agent));
    }
}

// ---------------------------------------------------------------------------------------
// Valid Principals: to claims and back, to JSON and back

const ISSUERS: [&str; 2] = ["https://idp.example.com", "https://other.example/realms/x"];
const SCOPES: [&str; 5] = ["a", "b", "c", "orders:read", "x/y"];

fn scope_set() -> impl Strategy<Value = ScopeSet> {
    prop::sample::subsequence(SCOPES.to_vec(), 0..=SCOPES.len())
        .prop_map(|v| v.into_iter().map(|s| Scope::new(s).unwrap()).collect())
}

fn principal_id() -> impl Strategy<Value = PrincipalId> {
    prop_oneof![
        (0u128..6).prop_map(|n| HumanId::new(Uuid::from_u128(n)).into()),
        (0u128..6).prop_map(|n| AgentId::new(Uuid::from_u128(n)).into()),
        "[a-z][a-z0-9-]{0,6}[a-z]".prop_map(|s| ServiceId::new(&s).unwrap().into()),
    ]
}

fn free_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}",
        "[ -~]{1,12}",
        Just("hm-not-a-uuid".to_owned()),
        Just("svc-looks-typed".to_owned()),
        Just("am-00000000-0000-0000-0000-000000000001".to_owned()),
    ]
}

fn actor() -> impl Strategy<Value = Actor> {
    (
        principal_id(),
        prop::option::of(prop::sample::select(ISSUERS.to_vec())),
        prop::option::of(free_text()),
        prop::option::of("[a-zA-Z0-9 ._-]{1,10}"),
        prop::option::of(scope_set()),
    )
        .prop_map(|(id, iss, sub, client, grant)| {
            let mut actor = Actor::new(id);
            if let Some(iss) = iss {
                actor = actor.with_issuer(Issuer::new(iss).unwrap());
            }
            if let Some(sub) = sub {
                actor = actor.with_subject(sub);
            }
            if let Some(client) = client {
                actor = actor.with_client_id(client);
            }
            if let Some(grant) = grant {
                actor = actor.with_grant(grant);
            }
            actor
        })
}

fn auth_context() -> impl Strategy<Value = AuthContext> {
    (
        prop::collection::vec("[a-z]{1,5}", 0..3),
        prop::option::of("[ -~]{1,20}"),
        prop::option::of(0i64..2_000_000_000),
        prop::option::of("[a-zA-Z0-9 ._-]{1,10}"),
    )
        .prop_map(|(amr, acr, auth_time, client_id)| AuthContext {
            amr,
            acr,
            auth_time: auth_time.map(Timestamp::from_unix_seconds),
            client_id,
        })
}

fn small_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "[ -~]{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

prop_compose! {
    fn valid_principal()(
        id in principal_id(),
        iss in prop::sample::select(ISSUERS.to_vec()),
        subject in free_text(),
        subject_is_id in any::<bool>(),
        tenant in prop::option::of("[a-z0-9-]{1,8}"),
        roles in prop::collection::btree_set("[a-z]{1,4}( [a-z]{1,4})?", 0..4),
        scopes in scope_set(),
        audiences in prop::collection::vec("[a-z:/.]{1,12}", 0..4),
        auth in auth_context(),
        times in (0i64..2_000_000_000, 1i64..100_000, prop::option::of(0i64..1000), prop::option::of(0i64..1000)),
        token_id in prop::option::of("[ -~]{1,12}"),
        session_id in prop::option::of("[ -~]{1,12}"),
        attributes in prop::collection::btree_map("[a-zA-Z0-9_.:-]{1,8}", "[ -~]{0,12}", 0..4),
        delegation in prop::collection::vec(actor(), 0..5),
        may_act in prop::option::of(prop::collection::btree_map("[a-z]{1,5}", small_json(), 0..3)),
    ) -> Option<Principal> {
        let (base, lifetime, iat_back, nbf_back) = times;
        let subject = if subject_is_id { id.to_string() } else { subject };
        let mut b = Principal::builder(id, Issuer::new(iss).unwrap(), subject)
            .roles(roles.into_iter().map(|r| Role::new(r).unwrap()))
            .scopes(scopes)
            .audiences(audiences.into_iter().map(|a| Audience::new(a).unwrap()))
            .auth(auth)
            .expires_at(Timestamp::from_unix_seconds(base + lifetime))
            .delegation(delegation);
        if let Some(t) = tenant { b = b.tenant(Tenant::new(t).unwrap()); }
        if let Some(back) = iat_back { b = b.issued_at(Timestamp::from_unix_seconds(base - back)); }
        if let Some(back) = nbf_back { b = b.not_before(Timestamp::from_unix_seconds(base - back)); }
        if let Some(t) = token_id { b = b.token_id(t); }
        if let Some(s) = session_id { b = b.session_id(s); }
        for (k, v) in attributes { b = b.attribute(k, v); }
        if let Some(m) = may_act { b = b.may_act(Value::Object(m.into_iter().collect())); }
        // Random chains may repeat an actor or contain the subject: those are refused.
        b.build().ok()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn principal_to_claims_and_back_is_exact(p in valid_principal()) {
        let Some(p) = p else { return Ok(()) };
        // `to_claims` is the inverse of the Baton preset.
        let mapping = ClaimMapping::baton();
        let claims = p.to_claims();
        prop_assert_eq!(&mapping.principal_from_claims(&claims).unwrap(), &p);
        // Through the JSON text too (what a signed token carries).
        let json = claims.to_json();
        prop_assert_eq!(&mapping.principal_from_json(&json).unwrap(), &p);
        prop_assert_eq!(&JwtClaims::from_json(&json).unwrap(), &claims);
    }

    #[test]
    fn principal_json_form_round_trips(p in valid_principal()) {
        let Some(p) = p else { return Ok(()) };
        let json = serde_json::to_vec(&p).unwrap();
        prop_assert_eq!(serde_json::from_slice::<Principal>(&json).unwrap(), p);
    }

    #[test]
    fn invariants_hold_for_every_built_principal(p in valid_principal()) {
        let Some(p) = p else { return Ok(()) };
        prop_assert!(p.delegation().len() <= principal::limits::DEFAULT_MAX_DELEGATION_DEPTH);
        // Each actor's grant is its effective grant: within its delegator's, down the chain.
        let mut delegator: Option<&ScopeSet> = None;
        for actor in p.delegation() {
            prop_assert_ne!(actor.id(), p.id());
            let grant = actor.grant().unwrap();
            prop_assert!(delegator.is_none_or(|d| grant.is_subset(d)));
            prop_assert!(p.scopes().is_subset(grant));
            delegator = Some(grant);
        }
        prop_assert_eq!(p.delegation().last().map_or(p.scopes(), |a| a.grant().unwrap()), p.scopes());
        // No actor is the subject under another kind: the same issuer and subject.
        for actor in p.delegation() {
            let vouched = actor.issuer().unwrap_or(p.issuer());
            prop_assert!(!(actor.subject() == Some(p.subject()) && vouched == p.issuer()));
        }
        let ids: std::collections::BTreeSet<_> = p.delegation().iter().map(Actor::id).collect();
        prop_assert_eq!(ids.len(), p.delegation().len());
        prop_assert_eq!(p.is_delegated(), !p.delegation().is_empty());
        prop_assert_eq!(p.acting(), p.delegation().last().map_or(p.id(), Actor::id));
        prop_assert!(p.is_expired_at(p.expires_at()));
    }
}

// ---------------------------------------------------------------------------------------
// Arbitrary claims: never a panic; accepted claims re-encode and re-map to an equal Principal

/// Keys that mean something to the decoder or the mapper, and some that do not.
const KEYS: [&str; 31] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "client_id",
    "scope",
    "scp",
    "sid",
    "act",
    "may_act",
    "amr",
    "acr",
    "auth_time",
    "roles",
    "tenant",
    "baton_kind",
    "baton_id",
    "baton_attrs",
    "azp",
    "gty",
    "idtyp",
    "realm_access",
    "resource_access",
    "preferred_username",
    "clientId",
    "groups",
    "email",
    "x",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        any::<String>().prop_map(Value::String),
        near_id().prop_map(Value::String),
        prop::sample::select(vec![
            "human",
            "agent",
            "service",
            "a b",
            "",
            "svc-x",
            "https://idp"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
                    any::<String>()
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A claim value that is usually plausible for its key, sometimes anything.
fn claim_value(key: &'static str) -> BoxedStrategy<Value> {
    let plausible: BoxedStrategy<Value> = match key {
        "iss" => prop::sample::select(ISSUERS.to_vec())
            .prop_map(Value::from)
            .boxed(),
        "exp" => (1_000i64..2_000_000_000).prop_map(Value::from).boxed(),
        "nbf" | "iat" | "auth_time" => (0i64..1_000_000).prop_map(Value::from).boxed(),
        "sub" | "client_id" | "azp" => prop_oneof![
            prop::sample::select(vec!["alice", "bob", "billing", "Billing API", "svc-x"])
                .prop_map(Value::from),
            any::<u128>().prop_map(|n| Value::from(format!("am-{}", Uuid::from_u128(n % 4)))),
        ]
        .boxed(),
        "scope" => prop::sample::subsequence(SCOPES.to_vec(), 0..=SCOPES.len())
            .prop_map(|v| Value::from(v.join(" ")))
            .boxed(),
        "scp" | "roles" | "amr" => prop::sample::subsequence(SCOPES.to_vec(), 0..=SCOPES.len())
            .prop_map(|v| json!(v))
            .boxed(),
        "aud" => prop_oneof![
            Just(json!("api")),
            Just(json!(["api", "billing", "api"])),
            Just(json!([])),
        ]
        .boxed(),
        "baton_kind" => prop::sample::select(vec!["human", "agent", "service"])
            .prop_map(Value::from)
            .boxed(),
        "baton_id" => prop_oneof![
            (0u128..3).prop_map(|n| Value::from(format!("hm-{}", Uuid::from_u128(n)))),
            (0u128..3).prop_map(|n| Value::from(format!("am-{}", Uuid::from_u128(n)))),
            Just(Value::from("svc-billing")),
        ]
        .boxed(),
        "baton_attrs" => prop::collection::btree_map("[a-z]{1,4}", "[ -~]{0,6}", 0..3)
            .prop_map(|m| json!(m))
            .boxed(),
        "tenant" | "jti" | "sid" | "acr" => "[a-z0-9]{1,6}".prop_map(Value::from).boxed(),
        "act" => act_value().boxed(),
        "may_act" => Just(json!({"sub": "bob"})).boxed(),
        "realm_access" => Just(json!({"roles": ["r1", "r2"]})).boxed(),
        "resource_access" => Just(json!({"app": {"roles": ["admin"]}})).boxed(),
        "gty" => Just(json!("client-credentials")).boxed(),
        "preferred_username" => Just(json!("service-account-x")).boxed(),
        _ => arb_json().boxed(),
    };
    prop_oneof![40 => plausible, 1 => arb_json()].boxed()
}

fn act_value() -> impl Strategy<Value = Value> {
    let one = (
        prop::option::weighted(
            0.9,
            prop_oneof![
                prop::sample::select(vec!["bot", "helper", "alice", "svc-tool", "Tool"])
                    .prop_map(str::to_owned),
                (0u128..3).prop_map(|n| format!("am-{}", Uuid::from_u128(n))),
            ],
        ),
        prop::option::of(prop::sample::select(ISSUERS.to_vec())),
        prop::option::of(prop::sample::select(vec!["gw", "Edge Proxy"])),
        prop::option::of(
            prop::sample::subsequence(SCOPES.to_vec(), 0..=3).prop_map(|v| v.join(" ")),
        ),
        prop::option::weighted(
            0.15,
            prop::sample::select(vec!["human", "agent", "service"]),
        ),
    )
        .prop_map(|(sub, iss, client_id, scope, kind)| {
            let mut act = Map::new();
            let mut put = |k: &str, v: Option<String>| {
                if let Some(v) = v {
                    act.insert(k.to_owned(), Value::from(v));
                }
            };
            put("sub", sub);
            put("iss", iss.map(str::to_owned));
            put("client_id", client_id.map(str::to_owned));
            put("scope", scope);
            put("baton_kind", kind.map(str::to_owned));
            Value::Object(act)
        });
    prop::collection::vec(one, 1..7).prop_map(|chain| {
        let mut nested: Option<Value> = None;
        for mut act in chain {
            if let Some(inner) = nested {
                act["act"] = inner;
            }
            nested = Some(act);
        }
        nested.unwrap_or(Value::Null)
    })
}

fn structured_claims() -> impl Strategy<Value = Value> {
    let entries: Vec<BoxedStrategy<Option<(String, Value)>>> = KEYS
        .iter()
        .map(|&key| {
            let present = match key {
                "iss" | "exp" | "sub" => 9,
                "act" => 5,
                _ => 3,
            };
            prop_oneof![
                10 - present => Just(None),
                present => claim_value(key).prop_map(move |v| Some((key.to_owned(), v))),
            ]
            .boxed()
        })
        .collect();
    entries.prop_map(|pairs| Value::Object(pairs.into_iter().flatten().collect()))
}

/// Maps claims; if accepted, the Principal goes to claims and back (as values and as JSON
/// text) to an equal Principal.
fn check_claims(mapping: &ClaimMapping, claims: &JwtClaims) -> Result<(), TestCaseError> {
    if let Ok(p) = mapping.principal_from_claims(claims) {
        // The Baton preset (the inverse of `to_claims`, whichever preset mapped), allowing
        // the chain depth the first mapping allowed.
        let baton = ClaimMapping::baton()
            .with_max_delegation_depth(principal::limits::HARD_MAX_DELEGATION_DEPTH);
        let again = p.to_claims();
        prop_assert_eq!(&baton.principal_from_claims(&again).unwrap(), &p);
        prop_assert_eq!(&baton.principal_from_json(&again.to_json()).unwrap(), &p);
        let json = serde_json::to_vec(&p).unwrap();
        prop_assert_eq!(&serde_json::from_slice::<Principal>(&json).unwrap(), &p);
    }
    Ok(())
}

/// Whether the claims carry a service marker the preset honours (the IdP writes them; a
/// user does not choose them).
fn has_marker(value: &Value, keycloak: bool) -> bool {
    value.get("gty").and_then(Value::as_str) == Some("client-credentials")
        || value.get("idtyp").and_then(Value::as_str) == Some("app")
        || (keycloak
            && (value.get("client_id").is_some_and(Value::is_string)
                || value.get("clientId").is_some_and(Value::is_string)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Issue 7 items 1, 2 and 5: under the presets for external issuers, a Principal is a
    /// service only with a marker, has a `sub`, and its derived ids depend on the issuer.
    #[test]
    fn external_presets_make_services_only_from_markers(value in structured_claims()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        for (mapping, keycloak) in [(ClaimMapping::generic(), false), (ClaimMapping::keycloak(), true)] {
            let Ok(p) = mapping.principal_from_json(&bytes) else { continue };
            prop_assert!(value.get("sub").is_some_and(Value::is_string));
            if p.kind() == Kind::Service {
                prop_assert!(has_marker(&value, keycloak), "{value}");
                // Never a bare operator-style id: the issuer's digest is part of it.
                let slug = p.id().as_service().unwrap().slug();
                prop_assert!(slug.len() > ServiceId::ISSUER_DIGEST_LEN + 1);
            } else {
                prop_assert!(!has_marker(&value, keycloak));
            }
        }
    }

    /// Issue 7 items 1 and 4: derived ids never collide across issuers or kinds.
    #[test]
    fn derived_ids_never_collide_across_issuers_and_kinds(
        client in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
        subject in "[ -~]{1,24}",
        a in prop::sample::select(ISSUERS.to_vec()),
        b in prop::sample::select(ISSUERS.to_vec()),
    ) {
        let (a, b) = (Issuer::new(a).unwrap(), Issuer::new(b).unwrap());
        let service = ServiceId::derive(&a, &client).unwrap();
        prop_assert_ne!(&service, &ServiceId::new(&client).unwrap());
        prop_assert_eq!(&service, &ServiceId::derive(&a, &client).unwrap());
        prop_assert_ne!(*HumanId::derive(&a, &subject).as_uuid(), *AgentId::derive(&a, &subject).as_uuid());
        if a != b {
            prop_assert_ne!(&service, &ServiceId::derive(&b, &client).unwrap());
            prop_assert_ne!(HumanId::derive(&a, &subject), HumanId::derive(&b, &subject));
        }
    }
}

fn mappings() -> [ClaimMapping; 4] {
    [
        ClaimMapping::generic(),
        ClaimMapping::keycloak(),
        ClaimMapping::baton(),
        ClaimMapping::generic()
            .with_actor_default_kind(Kind::Service)
            .with_max_delegation_depth(principal::limits::HARD_MAX_DELEGATION_DEPTH),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn structured_claims_never_panic_and_round_trip(value in structured_claims()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        for mapping in mappings() {
            let from_bytes = mapping.principal_from_json(&bytes);
            if let Ok(claims) = serde_json::from_value::<JwtClaims>(value.clone()) {
                check_claims(&mapping, &claims)?;
                // Both decoding paths agree.
                let from_value = mapping.principal_from_claims(&claims);
                prop_assert_eq!(from_value.ok(), from_bytes.ok());
            } else {
                prop_assert!(from_bytes.is_err());
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_json_trees_never_panic(value in arb_json()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        for mapping in mappings() {
            let _ = mapping.principal_from_json(&bytes);
            if let Ok(claims) = serde_json::from_value::<JwtClaims>(value.clone()) {
                check_claims(&mapping, &claims)?;
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for mapping in mappings() {
            let _ = mapping.principal_from_json(&bytes);
        }
        let _ = serde_json::from_slice::<Principal>(&bytes);
    }

    #[test]
    fn mutated_tokens_never_panic(
        value in structured_claims(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = serde_json::to_vec(&value).unwrap();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let baton = ClaimMapping::baton();
        for mapping in [ClaimMapping::generic(), ClaimMapping::baton()] {
            if let Ok(p) = mapping.principal_from_json(&bytes) {
                let again = p.to_claims();
                prop_assert_eq!(baton.principal_from_claims(&again).unwrap(), p);
            }
            let end = cut.index(bytes.len() + 1);
            let _ = mapping.principal_from_json(&bytes[..end]);
        }
    }
}
