//! Claims to Principal: the kind rules, the presets, actors, and every rejection.
#![allow(clippy::unwrap_used)]

use principal::limits::{
    DEFAULT_MAX_DELEGATION_DEPTH, HARD_MAX_DELEGATION_DEPTH, MAX_ACT_NESTING, MAX_AMR_VALUES,
    MAX_ATTRIBUTES, MAX_AUDIENCES, MAX_CLAIMS_JSON_LEN, MAX_EXTRA_CLAIMS, MAX_ROLES, MAX_SCOPES,
};
use principal::{
    ActClaim, AgentId, ClaimError, ClaimMapping, HumanId, IdError, Issuer, JwtClaims, Kind,
    Principal, PrincipalError, PrincipalId, ScopeSet, ServiceId, Timestamp,
};
use serde_json::{Value, json};

const ISS: &str = "https://idp.example.com";
const AGENT: &str = "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b";
const HUMAN: &str = "hm-6f1c1a43-04b5-4a8e-9d0b-2c1f3e5a7b9d";

fn map_with(mapping: &ClaimMapping, claims: Value) -> Result<Principal, ClaimError> {
    mapping.principal_from_json(&serde_json::to_vec(&claims).unwrap())
}

/// Through the generic preset (external issuers).
fn map(claims: Value) -> Result<Principal, ClaimError> {
    map_with(&ClaimMapping::generic(), claims)
}

/// Through the Baton preset (tokens Baton minted: Baton-internal claims trusted).
fn map_baton(claims: Value) -> Result<Principal, ClaimError> {
    map_with(&ClaimMapping::baton(), claims)
}

/// `base` with `extra` merged in (a `null` removes the claim).
fn with(extra: Value) -> Value {
    let mut claims = json!({"iss": ISS, "sub": "alice", "exp": 1_700_000_300});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn issuer() -> Issuer {
    Issuer::new(ISS).unwrap()
}

fn derived_human(sub: &str) -> PrincipalId {
    HumanId::derive(&issuer(), sub).into()
}

fn derived_agent(sub: &str) -> PrincipalId {
    AgentId::derive(&issuer(), sub).into()
}

fn svc(slug: &str) -> PrincipalId {
    ServiceId::new(slug).unwrap().into()
}

/// The service id of `client_id` at [`ISS`].
fn derived_svc(client_id: &str) -> PrincipalId {
    ServiceId::derive(&issuer(), client_id).unwrap().into()
}

fn claim_of(error: ClaimError) -> String {
    match error {
        ClaimError::Invalid { claim, .. }
        | ClaimError::WrongType { claim, .. }
        | ClaimError::TooMany { claim, .. }
        | ClaimError::KindConflict { claim, .. } => claim,
        other => panic!("no claim path in {other:?}"),
    }
}

#[test]
fn typical_access_token() {
    let p = map(with(json!({
        "aud": ["https://api.example.com", "billing"],
        "iat": 1_700_000_000, "nbf": 1_700_000_000, "jti": "t-1", "sid": "s-1",
        "client_id": "web", "scope": "orders:read profile", "scp": ["orders:write"],
        "amr": ["pwd", "mfa"], "acr": "urn:mfa", "auth_time": 1_699_999_000,
        "roles": ["buyer", "admin"], "tenant": "acme", "baton_attrs": {"dept": "sales"},
        "email": "alice@example.com",
    })))
    .unwrap();
    assert_eq!(p.kind(), Kind::Human);
    assert_eq!(p.id(), &derived_human("alice"));
    assert_eq!(p.subject(), "alice");
    assert_eq!(p.audiences().len(), 2);
    assert_eq!(
        p.issued_at(),
        Some(Timestamp::from_unix_seconds(1_700_000_000))
    );
    assert_eq!(
        p.not_before(),
        Some(Timestamp::from_unix_seconds(1_700_000_000))
    );
    assert_eq!(p.token_id(), Some("t-1"));
    assert_eq!(p.session_id(), Some("s-1"));
    assert_eq!(p.auth().client_id.as_deref(), Some("web"));
    assert_eq!(p.auth().amr, ["pwd", "mfa"]);
    assert_eq!(p.auth().acr.as_deref(), Some("urn:mfa"));
    assert_eq!(
        p.auth().auth_time,
        Some(Timestamp::from_unix_seconds(1_699_999_000))
    );
    // scope ∪ scp
    assert_eq!(
        p.scopes().to_space_separated(),
        "orders:read orders:write profile"
    );
    assert!(p.has_role("buyer") && p.has_role("admin"));
    assert_eq!(p.tenant().unwrap().as_str(), "acme");
    // An external issuer's baton_attrs are not trusted; Baton's own are.
    assert!(p.attributes().is_empty());
    let p = map_baton(with(json!({"baton_attrs": {"dept": "sales"}}))).unwrap();
    assert_eq!(p.attributes().get("dept"), Some("sales"));
}

#[test]
fn derived_ids_are_stable_across_tokens_and_issuers() {
    let a = map(with(json!({"jti": "1"}))).unwrap();
    let b = map(with(json!({"jti": "2", "exp": 1_800_000_000}))).unwrap();
    assert_eq!(a.id(), b.id());
    let other = map(with(json!({"iss": "https://other.example.com"}))).unwrap();
    assert_ne!(a.id(), other.id());
}

#[test]
fn kind_rules() {
    // Baton preset: a typed sub decides.
    let p = map_baton(with(json!({"sub": AGENT}))).unwrap();
    assert_eq!(p.kind(), Kind::Agent);
    assert_eq!(p.id().to_string(), AGENT);
    let p = map_baton(with(json!({"sub": "svc-billing"}))).unwrap();
    assert_eq!(p.id(), &svc("billing"));

    // Baton preset: the explicit kind claim, for an untyped sub.
    let p = map_baton(with(json!({"baton_kind": "agent"}))).unwrap();
    assert_eq!(p.id(), &derived_agent("alice"));
    let p = map_baton(with(
        json!({"baton_kind": "service", "client_id": "billing-api"}),
    ))
    .unwrap();
    assert_eq!(p.id(), &derived_svc("billing-api"));
    assert_eq!(p.subject(), "alice");
    let p = map_baton(with(json!({"baton_kind": "human", "client_id": "alice"}))).unwrap();
    assert_eq!(p.kind(), Kind::Human); // explicit kind beats client_credentials detection

    // Baton preset: the id claim.
    let p = map_baton(with(json!({"baton_id": HUMAN}))).unwrap();
    assert_eq!(p.id().to_string(), HUMAN);
    assert_eq!(p.subject(), "alice");

    // client_credentials tokens: only a marker the IdP writes makes a service.
    // Auth0: sub = "<client>@clients", azp = client, gty.
    let p = map(with(
        json!({"sub": "xyz@clients", "azp": "xyz", "gty": "client-credentials"}),
    ))
    .unwrap();
    assert_eq!((p.kind(), p.id()), (Kind::Service, &derived_svc("xyz")));
    assert_eq!(p.subject(), "xyz@clients");
    assert_eq!(p.auth().client_id.as_deref(), Some("xyz"));
    // Microsoft: idtyp = app.
    let p = map(with(json!({"sub": "0f9e", "azp": "app-1", "idtyp": "app"}))).unwrap();
    assert_eq!(p.id(), &derived_svc("app-1"));
    // A user token with a client_id is still the user's.
    let p = map(with(json!({"client_id": "web"}))).unwrap();
    assert_eq!(p.kind(), Kind::Human);
}

/// Issue 7 item 2: a `sub` equal to `client_id` or `azp` is something a user may choose at
/// some identity providers (a user name); it makes nobody a service.
#[test]
fn sub_equal_to_the_client_is_no_service() {
    for mapping in [ClaimMapping::generic(), ClaimMapping::baton()] {
        for claims in [
            json!({"sub": "billing", "client_id": "billing"}),
            json!({"sub": "billing", "azp": "billing"}),
            // Okta's client_credentials tokens carry no marker: configure one for Okta.
            json!({"sub": "0oa1", "client_id": "0oa1", "scp": ["jobs"]}),
        ] {
            let p = map_with(&mapping, with(claims.clone())).unwrap();
            assert_eq!(p.kind(), Kind::Human, "{claims}");
            assert_eq!(p.id(), &derived_human(claims["sub"].as_str().unwrap()));
        }
    }
    // The Keycloak preset: a user named `service-account-…` is a user.
    let p = map_with(
        &ClaimMapping::keycloak(),
        with(json!({
            "sub": "3f0c", "azp": "orders-api",
            "preferred_username": "service-account-orders-api",
        })),
    )
    .unwrap();
    assert_eq!(p.kind(), Kind::Human);
}

/// Issue 7 item 1: a service's id depends on its issuer unless the operator names it.
#[test]
fn service_ids_depend_on_the_issuer_unless_named() {
    let cc = |iss: &str, client: &str| {
        with(json!({"iss": iss, "sub": "c", "gty": "client-credentials", "client_id": client}))
    };
    let internal = map(cc(ISS, "gateway")).unwrap();
    let partner = map(cc("https://partner.example", "gateway")).unwrap();
    assert_eq!(internal.kind(), Kind::Service);
    assert_eq!(partner.kind(), Kind::Service);
    assert_ne!(internal.id(), partner.id());
    assert_ne!(internal.id(), &svc("gateway"));
    assert_ne!(partner.id(), &svc("gateway"));
    assert_eq!(
        partner.id(),
        &PrincipalId::from(
            ServiceId::derive(&Issuer::new("https://partner.example").unwrap(), "gateway").unwrap()
        )
    );

    // The operator names the internal IdP's client: only that issuer's mapping has it.
    let named = ClaimMapping::generic().with_service("gateway", ServiceId::new("gateway").unwrap());
    assert_eq!(
        map_with(&named, cc(ISS, "gateway")).unwrap().id(),
        &svc("gateway")
    );
    assert_eq!(
        map(cc("https://partner.example", "gateway")).unwrap().id(),
        partner.id()
    );
    // A named client need not be a slug; it is matched exactly.
    let named =
        ClaimMapping::generic().with_service("Billing API", ServiceId::new("billing").unwrap());
    assert_eq!(
        map_with(&named, cc(ISS, "Billing API")).unwrap().id(),
        &svc("billing")
    );
    assert!(map_with(&named, cc(ISS, "billing api")).is_err());
    // Named under the token's issuer only: an actor vouched for by another issuer is not it.
    let named = ClaimMapping::generic()
        .with_service("gateway", ServiceId::new("gateway").unwrap())
        .with_actor_issuer(Issuer::new("https://partner.example").unwrap());
    let p = map_with(
        &named,
        with(json!({"act": {"client_id": "gateway", "iss": "https://partner.example"}})),
    )
    .unwrap();
    assert_eq!(p.acting(), partner.id());
    let p = map_with(&named, with(json!({"act": {"client_id": "gateway"}}))).unwrap();
    assert_eq!(p.acting(), &svc("gateway"));

    // Client ids that are not slugs are refused, never folded into one service.
    for client in [
        "Payments",
        "payments_",
        "payments.",
        "payments-",
        "Billing API",
        "café",
    ] {
        match map(cc(ISS, client)) {
            Err(ClaimError::Invalid { claim, source }) => {
                assert_eq!(claim, "client_id", "{client}");
                assert_eq!(source.field(), "client_id", "{client}");
            }
            other => panic!("{client}: expected Invalid, got {other:?}"),
        }
        match map(with(json!({"act": {"client_id": client}}))) {
            Err(ClaimError::Invalid { claim, .. }) => assert_eq!(claim, "act.client_id"),
            other => panic!("{client}: expected Invalid, got {other:?}"),
        }
    }
}

/// Issue 7 item 3: an actor's `iss` is honoured only when it is the token's or allowed.
#[test]
fn actor_issuers_must_be_the_tokens_or_allowed() {
    let foreign = json!({"act": {"sub": "bot", "iss": "https://agents.example"}});
    for mapping in [ClaimMapping::generic(), ClaimMapping::keycloak()] {
        match map_with(&mapping, with(foreign.clone())) {
            Err(error @ ClaimError::ActorIssuerNotAllowed { .. }) => {
                assert_eq!(error.reason(), "actor_issuer_not_allowed");
                let ClaimError::ActorIssuerNotAllowed { claim, issuer } = error else {
                    unreachable!()
                };
                assert_eq!(claim, "act.iss");
                assert_eq!(issuer.as_str(), "https://agents.example");
            }
            other => panic!("expected ActorIssuerNotAllowed, got {other:?}"),
        }
        // Nested too.
        let nested =
            with(json!({"act": {"sub": "a", "act": {"sub": "b", "iss": "https://x.example"}}}));
        assert!(matches!(
            map_with(&mapping, nested),
            Err(ClaimError::ActorIssuerNotAllowed { claim, .. }) if claim == "act.act.iss"
        ));
        // The token's own issuer, written out, is fine.
        assert!(map_with(&mapping, with(json!({"act": {"sub": "bot", "iss": ISS}}))).is_ok());
    }
    // Allowed: the actor's id is derived in its own issuer's namespace.
    let agents = Issuer::new("https://agents.example").unwrap();
    let allowed = ClaimMapping::generic().with_actor_issuer(agents.clone());
    let p = map_with(&allowed, with(foreign.clone())).unwrap();
    assert_eq!(
        p.acting(),
        &PrincipalId::from(AgentId::derive(&agents, "bot"))
    );
    // Another issuer is still refused.
    assert!(matches!(
        map_with(
            &allowed,
            with(json!({"act": {"sub": "bot", "iss": "https://x.example"}}))
        ),
        Err(ClaimError::ActorIssuerNotAllowed { .. })
    ));
}

/// Issue 7 item 5: `sub` is required, unless the issuer's mapping opts out; even then a
/// token without `sub` is only ever a service, through a marker.
#[test]
fn sub_is_required_unless_opted_out() {
    for mapping in [
        ClaimMapping::generic(),
        ClaimMapping::keycloak(),
        ClaimMapping::baton(),
    ] {
        for claims in [
            json!({"sub": null, "client_id": "billing"}),
            json!({"sub": null, "client_id": "billing", "gty": "client-credentials"}),
            json!({"sub": null, "baton_kind": "service", "client_id": "billing"}),
        ] {
            assert!(
                matches!(
                    map_with(&mapping, with(claims.clone())),
                    Err(ClaimError::Missing { claim: "sub" })
                ),
                "{claims}"
            );
        }
    }
    let loose = ClaimMapping::generic().insecure_allow_missing_sub();
    let p = map_with(
        &loose,
        with(json!({"sub": null, "client_id": "billing", "gty": "client-credentials"})),
    )
    .unwrap();
    assert_eq!((p.kind(), p.id()), (Kind::Service, &derived_svc("billing")));
    assert_eq!(p.subject(), "billing");
    // No marker: refused, never a service by the absence of `sub`.
    for claims in [
        json!({"sub": null, "client_id": "billing"}),
        json!({"sub": null, "azp": "billing"}),
        json!({"sub": null}),
    ] {
        assert!(
            matches!(
                map_with(&loose, with(claims.clone())),
                Err(ClaimError::Missing { claim: "sub" })
            ),
            "{claims}"
        );
    }
}

#[test]
fn configured_claims() {
    let mapping = ClaimMapping::generic()
        .insecure_allow_missing_sub()
        .with_kind_claim("typ_of")
        .with_tenant_claim("tid")
        .with_service_claim("appid")
        .with_roles_claim("/app/groups")
        .with_attributes_claim("attrs")
        .with_id_claim("uid");
    let p = map_with(
        &mapping,
        with(json!({
            "sub": null, "typ_of": "service", "appid": "payments", "client_id": "ignored",
            "tid": "t-1", "app": {"groups": "a b"}, "roles": ["r"], "attrs": {"k": "v"},
            "baton_kind": "human", "baton_attrs": {"x": "y"},
        })),
    )
    .unwrap();
    assert_eq!(p.id(), &derived_svc("payments"));
    assert_eq!(p.subject(), "payments");
    assert_eq!(p.tenant().unwrap().as_str(), "t-1");
    assert!(p.has_role("a") && p.has_role("b") && p.has_role("r"));
    assert_eq!(p.attributes().len(), 1);
    let p = map_with(&mapping, with(json!({"uid": AGENT}))).unwrap();
    assert_eq!(p.id().to_string(), AGENT);

    let no_roles = ClaimMapping::generic().without_roles();
    assert!(
        map_with(&no_roles, with(json!({"roles": ["r"]})))
            .unwrap()
            .roles()
            .is_empty()
    );

    let marker = ClaimMapping::generic().with_service_marker("grant", "cc");
    let p = map_with(&marker, with(json!({"grant": "cc", "client_id": "c1"}))).unwrap();
    assert_eq!(p.id(), &derived_svc("c1"));
    let marker = ClaimMapping::generic().with_service_marker_prefix("upn", "svc_");
    let p = map_with(&marker, with(json!({"upn": "svc_batch", "azp": "batch"}))).unwrap();
    assert_eq!(p.id(), &derived_svc("batch"));

    // JSON pointer escapes.
    let escaped = ClaimMapping::generic()
        .without_roles()
        .with_roles_claim("/a~1b/c~0d");
    let p = map_with(&escaped, with(json!({"a/b": {"c~d": ["x"]}}))).unwrap();
    assert!(p.has_role("x"));
}

#[test]
fn typed_subjects_can_be_turned_off() {
    let mapping = ClaimMapping::baton().with_typed_subjects(false);
    let p = map_with(&mapping, with(json!({"sub": "svc-payments"}))).unwrap();
    assert_eq!(p.kind(), Kind::Human);
    assert_eq!(p.id(), &derived_human("svc-payments"));
    // Without the id claim, baton_id is ignored.
    let p = map_with(
        &ClaimMapping::baton().without_id_claim(),
        with(json!({"baton_id": AGENT})),
    )
    .unwrap();
    assert_eq!(p.id(), &derived_human("alice"));
}

#[test]
fn keycloak_preset() {
    let kc = ClaimMapping::keycloak();
    let user = map_with(
        &kc,
        with(json!({
            "sub": "3f0c2b1a-9d8e-4c7b-a6f5-e4d3c2b1a0f9", "azp": "web",
            "preferred_username": "alice",
            "realm_access": {"roles": ["offline_access", "buyer"]},
            "resource_access": {"orders": {"roles": ["reader"]}, "account": {"roles": ["view-profile"]}, "empty": {}},
            "roles": ["ignored"],
        })),
    )
    .unwrap();
    assert_eq!(user.kind(), Kind::Human);
    assert_eq!(
        user.roles().iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        [
            "account:view-profile",
            "buyer",
            "offline_access",
            "orders:reader"
        ]
    );
    assert_eq!(user.auth().client_id.as_deref(), Some("web"));

    // Keycloak's service-account mapper writes `client_id` (21+) or `clientId` (older).
    let service = map_with(
        &kc,
        with(json!({
            "sub": "9a8b", "azp": "orders-api", "client_id": "orders-api",
            "preferred_username": "service-account-orders-api",
        })),
    )
    .unwrap();
    assert_eq!(service.id(), &derived_svc("orders-api"));
    assert_eq!(service.subject(), "9a8b");
    let service = map_with(
        &kc,
        with(json!({"sub": "9a8b", "azp": "orders-api", "clientId": "orders-api"})),
    )
    .unwrap();
    assert_eq!(service.id(), &derived_svc("orders-api"));
    // The user name alone is no marker.
    let user = map_with(
        &kc,
        with(json!({"sub": "9a8b", "azp": "orders-api", "preferred_username": "service-account-orders-api"})),
    )
    .unwrap();
    assert_eq!(user.kind(), Kind::Human);

    for (claims, path) in [
        (
            json!({"realm_access": {"roles": [1]}}),
            "/realm_access/roles",
        ),
        (
            json!({"realm_access": {"roles": {}}}),
            "/realm_access/roles",
        ),
        (json!({"resource_access": []}), "resource_access"),
        (json!({"resource_access": {"c": 1}}), "resource_access.c"),
        (
            json!({"resource_access": {"c": {"roles": "r"}}}),
            "resource_access.c.roles",
        ),
        (
            json!({"resource_access": {"c": {"roles": [" r"]}}}),
            "resource_access.c.roles",
        ),
    ] {
        let error = map_with(&kc, with(claims.clone())).unwrap_err();
        assert_eq!(claim_of(error), path, "{claims}");
    }
}

#[test]
fn actors_from_act() {
    let p = map_baton(with(json!({
        "scope": "a b c",
        "act": {
            "sub": "assistant", "scope": "a b",
            "act": {"client_id": "gateway", "act": {"sub": HUMAN, "iss": "https://other.example"}}
        }
    })))
    .unwrap();
    let chain: Vec<_> = p.delegation().iter().map(|a| a.id().clone()).collect();
    assert_eq!(
        chain,
        [
            HUMAN.parse().unwrap(),
            derived_svc("gateway"),
            derived_agent("assistant")
        ]
    );
    assert_eq!(p.acting(), &derived_agent("assistant"));
    assert_eq!(p.scopes().to_space_separated(), "a b");
    assert_eq!(
        p.delegation()[0].issuer().unwrap().as_str(),
        "https://other.example"
    );
    assert_eq!(p.delegation()[0].subject(), None); // the typed sub is the id
    assert_eq!(p.delegation()[1].client_id(), Some("gateway"));
    assert_eq!(p.delegation()[2].subject(), Some("assistant"));
    assert!(p.involves(Kind::Service));

    // An actor's own (allowed) iss is the namespace of its derived id.
    let agents = Issuer::new("https://agents.example").unwrap();
    let p = map_with(
        &ClaimMapping::generic().with_actor_issuer(agents.clone()),
        with(json!({"act": {"sub": "bot", "iss": "https://agents.example"}})),
    )
    .unwrap();
    assert_eq!(
        p.acting(),
        &PrincipalId::from(AgentId::derive(&agents, "bot"))
    );

    // Configurable default kind for untyped actor subs, and the kind claim inside act.
    let humans = ClaimMapping::generic().with_actor_default_kind(Kind::Human);
    let p = map_with(&humans, with(json!({"act": {"sub": "bob"}}))).unwrap();
    assert_eq!(p.acting(), &derived_human("bob"));
    let services = ClaimMapping::generic().with_actor_default_kind(Kind::Service);
    let p = map_with(&services, with(json!({"act": {"sub": "edge-proxy"}}))).unwrap();
    assert_eq!(p.acting(), &derived_svc("edge-proxy"));
    assert!(matches!(
        map_with(&services, with(json!({"act": {"sub": "Edge Proxy"}}))),
        Err(ClaimError::Invalid { claim, .. }) if claim == "act.sub"
    ));
    let p = map_baton(with(json!({"act": {"sub": "bob", "baton_kind": "human"}}))).unwrap();
    assert_eq!(p.acting(), &derived_human("bob"));
    let p = map_baton(with(json!({"act": {"sub": "x", "baton_id": "svc-x"}}))).unwrap();
    assert_eq!(p.acting(), &svc("x"));
    assert_eq!(p.delegation()[0].subject(), Some("x"));
}

#[test]
fn may_act_is_kept() {
    let may_act = json!({"sub": AGENT, "iss": ISS});
    let p = map(with(json!({"may_act": may_act}))).unwrap();
    assert_eq!(p.may_act(), Some(&may_act));
    assert!(matches!(
        map(with(json!({"may_act": "agent"}))),
        Err(ClaimError::Principal(PrincipalError::InvalidMayAct { .. }))
    ));
}

#[test]
fn missing_claims() {
    let missing = |claims: Value| match map(claims) {
        Err(ClaimError::Missing { claim }) => claim,
        other => panic!("expected Missing, got {other:?}"),
    };
    assert_eq!(missing(with(json!({"iss": null}))), "iss");
    assert_eq!(missing(with(json!({"exp": null}))), "exp");
    assert_eq!(missing(with(json!({"exp": Value::Null}))), "exp");
    assert_eq!(missing(with(json!({"sub": null}))), "sub");
    assert_eq!(missing(with(json!({"act": {}}))), "act.sub");
    assert_eq!(missing(with(json!({"act": {"iss": ISS}}))), "act.sub");
    assert_eq!(
        missing(with(json!({"sub": null, "baton_kind": "human"}))),
        "sub"
    );
    assert_eq!(
        missing(with(json!({"act": {"baton_kind": "service"}}))),
        "act.sub"
    );
    // Under the Baton preset the kind and id claims decide what is missing.
    let missing_baton = |claims: Value| match map_baton(claims) {
        Err(ClaimError::Missing { claim }) => claim,
        other => panic!("expected Missing, got {other:?}"),
    };
    assert_eq!(
        missing_baton(with(json!({"sub": null, "baton_kind": "human"}))),
        "sub"
    );
    assert_eq!(
        missing_baton(with(json!({"sub": null, "baton_kind": "agent"}))),
        "sub"
    );
    assert_eq!(
        missing_baton(with(json!({"baton_kind": "service"}))),
        "client_id"
    );
    assert_eq!(
        missing_baton(with(json!({"sub": null, "baton_id": HUMAN}))),
        "sub"
    );
    assert_eq!(
        missing_baton(with(json!({"act": {"baton_kind": "service"}}))),
        "act.client_id"
    );
}

#[test]
fn invalid_claim_values() {
    // The Baton preset reads every claim the generic one does, and the internal ones.
    let invalid = |claims: Value| match map_baton(claims) {
        Err(ClaimError::Invalid { claim, source }) => (claim, source),
        other => panic!("expected Invalid, got {other:?}"),
    };
    let (claim, source) = invalid(with(json!({"iss": "not an issuer"})));
    assert_eq!(claim, "iss");
    assert!(matches!(
        source,
        IdError::InvalidChar {
            field: "issuer",
            ..
        }
    ));
    assert_eq!(invalid(with(json!({"iss": ""}))).0, "iss");
    assert_eq!(invalid(with(json!({"sub": ""}))).0, "sub");
    assert_eq!(invalid(with(json!({"sub": "al\u{0}ice"}))).0, "sub");
    assert_eq!(invalid(with(json!({"sub": "hm-not-a-uuid"}))).0, "sub");
    assert_eq!(invalid(with(json!({"sub": "svc-Bad"}))).0, "sub");
    assert_eq!(invalid(with(json!({"baton_id": "user-1"}))).0, "baton_id");
    assert_eq!(
        invalid(with(json!({"baton_kind": "robot"}))).0,
        "baton_kind"
    );
    assert_eq!(invalid(with(json!({"scope": "a  b"}))).0, "scope");
    assert_eq!(invalid(with(json!({"scope": " a"}))).0, "scope");
    assert_eq!(invalid(with(json!({"scp": ["a b"]}))).0, "scp");
    assert_eq!(invalid(with(json!({"scp": "a  b"}))).0, "scp");
    assert_eq!(invalid(with(json!({"aud": ["ok", "not ok"]}))).0, "aud");
    assert_eq!(invalid(with(json!({"aud": ""}))).0, "aud");
    assert_eq!(invalid(with(json!({"roles": ["ok", " bad"]}))).0, "roles");
    assert_eq!(invalid(with(json!({"tenant": "a b"}))).0, "tenant");
    assert_eq!(
        invalid(with(json!({"baton_kind": "service", "client_id": "---"}))).0,
        "client_id"
    );
    assert_eq!(
        invalid(with(
            json!({"baton_kind": "service", "client_id": "x".repeat(300)})
        ))
        .0,
        "client_id"
    );
    assert_eq!(invalid(with(json!({"act": {"sub": "a\nb"}}))).0, "act.sub");
    assert_eq!(
        invalid(with(json!({"act": {"sub": "x", "iss": " "}}))).0,
        "act.iss"
    );
    assert_eq!(
        invalid(with(json!({"act": {"sub": "x", "act": {"sub": "am-x"}}}))).0,
        "act.act.sub"
    );
    assert_eq!(
        invalid(with(json!({"act": {"sub": "x", "scope": "a\"b"}}))).0,
        "act.scope"
    );
    assert_eq!(
        invalid(with(json!({"act": {"sub": "x", "baton_id": "nope"}}))).0,
        "act.baton_id"
    );
    assert_eq!(
        invalid(with(json!({"act": {"client_id": "!!"}}))).0,
        "act.client_id"
    );
    // Strings the builder checks come back as invalid fields of the Principal.
    assert!(matches!(
        map(with(json!({"jti": ""}))),
        Err(ClaimError::Principal(PrincipalError::Invalid(
            IdError::Empty { field: "token_id" }
        )))
    ));
    assert!(matches!(
        map(with(json!({"amr": ["p w"]}))),
        Err(ClaimError::Principal(PrincipalError::Invalid(
            IdError::InvalidChar { field: "amr", .. }
        )))
    ));
    assert!(matches!(
        map_baton(with(json!({"baton_attrs": {"bad key": "v"}}))),
        Err(ClaimError::Principal(PrincipalError::Invalid(
            IdError::InvalidChar {
                field: "attribute_key",
                ..
            }
        )))
    ));
}

#[test]
fn wrong_types() {
    // The Baton preset reads every claim the generic one does, and the internal ones.
    let wrong = |claims: Value| match map_baton(claims) {
        Err(ClaimError::WrongType { claim, .. }) => claim,
        other => panic!("expected WrongType, got {other:?}"),
    };
    assert_eq!(wrong(with(json!({"roles": 7}))), "roles");
    assert_eq!(wrong(with(json!({"roles": [1]}))), "roles");
    assert_eq!(wrong(with(json!({"tenant": ["t"]}))), "tenant");
    assert_eq!(wrong(with(json!({"baton_kind": 1}))), "baton_kind");
    assert_eq!(wrong(with(json!({"baton_id": {}}))), "baton_id");
    assert_eq!(wrong(with(json!({"baton_attrs": ["k"]}))), "baton_attrs");
    assert_eq!(
        wrong(with(json!({"baton_attrs": {"k": 1}}))),
        "baton_attrs.k"
    );
    assert_eq!(
        wrong(with(json!({"baton_kind": "service", "azp": 5}))),
        "azp"
    );
    assert_eq!(
        wrong(with(json!({"act": {"sub": "x", "baton_kind": true}}))),
        "act.baton_kind"
    );
    // Registered claims of the wrong type fail to decode.
    for claims in [
        with(json!({"sub": 1})),
        with(json!({"exp": "1700000300"})),
        with(json!({"scope": ["a"]})),
        with(json!({"amr": "pwd"})),
        with(json!({"act": ["x"]})),
        with(json!({"may_act": Value::Null, "client_id": 3})),
    ] {
        assert!(matches!(map(claims), Err(ClaimError::Malformed(_))));
    }
    // null is absent.
    let p = map(with(json!({"tenant": Value::Null, "roles": Value::Null}))).unwrap();
    assert!(p.tenant().is_none() && p.roles().is_empty());
}

#[test]
fn kind_conflicts() {
    let conflict = |claims: Value| match map_baton(claims) {
        Err(ClaimError::KindConflict {
            claim,
            claimed,
            found,
        }) => (claim, claimed, found),
        other => panic!("expected KindConflict, got {other:?}"),
    };
    assert_eq!(
        conflict(with(json!({"sub": AGENT, "baton_kind": "human"}))),
        ("baton_kind".to_owned(), Kind::Human, Kind::Agent)
    );
    assert_eq!(
        conflict(with(json!({"baton_id": HUMAN, "baton_kind": "service"}))).1,
        Kind::Service
    );
    assert_eq!(
        conflict(with(
            json!({"act": {"sub": AGENT, "baton_kind": "service"}})
        ))
        .0,
        "act.baton_kind"
    );
}

#[test]
fn limits_on_lists() {
    let too_many = |claims: Value| match map(claims) {
        Err(ClaimError::TooMany { claim, .. }) => claim,
        other => panic!("expected TooMany, got {other:?}"),
    };
    let strings = |n: usize| (0..n).map(|i| format!("v{i}")).collect::<Vec<_>>();
    assert_eq!(
        too_many(with(json!({"aud": strings(MAX_AUDIENCES + 1)}))),
        "aud"
    );
    assert_eq!(
        too_many(with(json!({"amr": strings(MAX_AMR_VALUES + 1)}))),
        "amr"
    );
    assert_eq!(
        too_many(with(json!({"roles": strings(MAX_ROLES + 1)}))),
        "roles"
    );
    assert_eq!(
        too_many(with(json!({"roles": strings(MAX_ROLES + 1).join(" ")}))),
        "roles"
    );
    assert_eq!(
        too_many(with(json!({"scp": strings(MAX_SCOPES + 1)}))),
        "scp"
    );
    // scope and scp each within bounds, their union not.
    assert_eq!(
        too_many(with(json!({
            "scope": strings(MAX_SCOPES).join(" "),
            "scp": ["extra"],
        }))),
        "scope"
    );
    assert!(matches!(
        map(with(json!({"scope": strings(MAX_SCOPES + 1).join(" ")}))),
        Err(ClaimError::Invalid {
            source: IdError::TooMany { .. },
            ..
        })
    ));
    let attrs: serde_json::Map<String, Value> = (0..=MAX_ATTRIBUTES)
        .map(|i| (format!("k{i}"), json!("v")))
        .collect();
    assert!(matches!(
        map_baton(with(json!({"baton_attrs": attrs}))),
        Err(ClaimError::TooMany { claim, .. }) if claim == "baton_attrs"
    ));
    let mut extra = with(json!({}));
    for i in 0..=MAX_EXTRA_CLAIMS {
        extra[format!("c{i}")] = json!(1);
    }
    assert_eq!(too_many(extra), "claims");
    let act_extra: serde_json::Map<String, Value> = (0..=MAX_EXTRA_CLAIMS)
        .map(|i| (format!("c{i}"), json!(1)))
        .collect();
    let mut act = Value::Object(act_extra);
    act["sub"] = json!("x");
    assert_eq!(too_many(with(json!({"act": act}))), "act.*");
    let kc = ClaimMapping::keycloak();
    let clients: serde_json::Map<String, Value> = (0..=MAX_ROLES)
        .map(|i| (format!("c{i}"), json!({"roles": ["r"]})))
        .collect();
    assert!(matches!(
        map_with(&kc, with(json!({"resource_access": clients}))),
        Err(ClaimError::TooMany { .. })
    ));
}

fn chain(n: usize) -> Value {
    let mut act = Value::Null;
    for i in 0..n {
        let mut next = json!({"sub": format!("agent-{i}")});
        if !act.is_null() {
            next["act"] = act;
        }
        act = next;
    }
    act
}

#[test]
fn delegation_limits_and_invariants() {
    assert!(map(with(json!({"act": chain(DEFAULT_MAX_DELEGATION_DEPTH)}))).is_ok());
    assert!(matches!(
        map(with(
            json!({"act": chain(DEFAULT_MAX_DELEGATION_DEPTH + 1)})
        )),
        Err(ClaimError::Principal(PrincipalError::DelegationTooDeep {
            depth: 5,
            max: 4
        }))
    ));
    let deep = ClaimMapping::generic().with_max_delegation_depth(HARD_MAX_DELEGATION_DEPTH);
    assert!(
        map_with(
            &deep,
            with(json!({"act": chain(HARD_MAX_DELEGATION_DEPTH)}))
        )
        .is_ok()
    );
    let shallow = ClaimMapping::generic().with_max_delegation_depth(1);
    assert!(matches!(
        map_with(&shallow, with(json!({"act": chain(2)}))),
        Err(ClaimError::Principal(PrincipalError::DelegationTooDeep {
            depth: 2,
            max: 1
        }))
    ));
    let above = ClaimMapping::generic().with_max_delegation_depth(HARD_MAX_DELEGATION_DEPTH + 1);
    assert!(matches!(
        map_with(&above, with(json!({}))),
        Err(ClaimError::Principal(
            PrincipalError::DepthAboveHardCap { .. }
        ))
    ));
    // Decoding stops at the nesting cap, before the mapper sees the chain.
    assert!(matches!(
        map_with(&deep, with(json!({"act": chain(MAX_ACT_NESTING + 1)}))),
        Err(ClaimError::ActTooDeep {
            max: MAX_ACT_NESTING
        })
    ));
    // Hand-built claims skip the decoder; the mapper still bounds the nesting.
    let mut act = ActClaim {
        sub: Some("a0".into()),
        ..ActClaim::default()
    };
    for i in 1..=MAX_ACT_NESTING {
        act = ActClaim {
            sub: Some(format!("a{i}")),
            act: Some(Box::new(act)),
            ..ActClaim::default()
        };
    }
    let claims = JwtClaims {
        iss: Some(ISS.into()),
        sub: Some("alice".into()),
        exp: Some(Timestamp::from_unix_seconds(1_700_000_300)),
        act: Some(act),
        ..JwtClaims::default()
    };
    assert!(matches!(
        deep.principal_from_claims(&claims),
        Err(ClaimError::ActTooDeep { .. })
    ));

    // The same actor twice; the subject acting for itself.
    assert!(matches!(
        map(with(json!({"act": {"sub": "bot", "act": {"sub": "bot"}}}))),
        Err(ClaimError::Principal(PrincipalError::RepeatedActor { .. }))
    ));
    assert!(matches!(
        map_baton(with(
            json!({"act": {"sub": "alice", "baton_kind": "human"}})
        )),
        Err(ClaimError::Principal(PrincipalError::ActorIsSubject { .. }))
    ));
    // Issue 7 item 4: under the generic preset that actor is an agent (baton_kind
    // ignored), with an id of its own, but the same issuer and subject as the human
    // subject: the subject acting for itself under another kind, refused.
    assert_ne!(derived_agent("alice"), derived_human("alice"));
    for claims in [
        json!({"act": {"sub": "alice", "baton_kind": "human"}}),
        json!({"act": {"sub": "alice", "iss": ISS}}),
        json!({"act": {"sub": "bob", "act": {"sub": "alice"}}}),
    ] {
        assert!(
            matches!(
                map(with(claims.clone())),
                Err(ClaimError::Principal(PrincipalError::ActorIsSubject { .. }))
            ),
            "{claims}"
        );
    }
    let as_service = ClaimMapping::generic().with_actor_default_kind(Kind::Service);
    assert!(matches!(
        map_with(&as_service, with(json!({"act": {"sub": "alice"}}))),
        Err(ClaimError::Principal(PrincipalError::ActorIsSubject { .. }))
    ));
    // An agent, then the same party as a human: one party twice.
    let humans = ClaimMapping::baton();
    assert!(matches!(
        map_with(
            &humans,
            with(json!({"act": {"sub": "bot", "baton_kind": "human", "act": {"sub": "bot"}}}))
        ),
        Err(ClaimError::Principal(PrincipalError::RepeatedActor { .. }))
    ));
}

#[test]
fn time_rejections() {
    assert!(matches!(
        map(with(json!({"iat": 1_700_000_300}))),
        Err(ClaimError::Principal(
            PrincipalError::ExpiresBeforeIssued { .. }
        ))
    ));
    assert!(matches!(
        map(with(json!({"nbf": 1_800_000_000}))),
        Err(ClaimError::Principal(
            PrincipalError::ExpiresBeforeNotBefore { .. }
        ))
    ));
}

#[test]
fn decoder_rejections() {
    let mapping = ClaimMapping::generic();
    assert!(matches!(
        mapping.principal_from_json(&vec![b' '; MAX_CLAIMS_JSON_LEN + 1]),
        Err(ClaimError::TooLarge { .. })
    ));
    let full = serde_json::to_vec(&with(json!({"scope": "a b", "act": {"sub": "x"}}))).unwrap();
    assert!(mapping.principal_from_json(&full).is_ok());
    // Every truncation of a valid document is refused.
    for end in 0..full.len() {
        assert!(
            matches!(
                mapping.principal_from_json(&full[..end]),
                Err(ClaimError::Malformed(_))
            ),
            "{end}"
        );
    }
    for bad in [
        &b"null"[..],
        b"[]",
        b"\"claims\"",
        b"{\"iss\":\"a\"} trailing",
        b"\xfe\xff",
    ] {
        assert!(matches!(
            mapping.principal_from_json(bad),
            Err(ClaimError::Malformed(_))
        ));
    }
}

#[test]
fn to_claims_round_trips_through_json() {
    let p = map_baton(with(json!({
        "aud": "api", "scope": "a b", "roles": ["r"], "tenant": "t",
        "baton_attrs": {"k": "v"}, "client_id": "web", "amr": ["pwd"],
        "act": {"sub": "bot", "scope": "a", "act": {"client_id": "gw", "iss": "https://gw.example"}},
        "may_act": {"sub": "x"},
    })))
    .unwrap();
    let claims = p.to_claims();
    // The newest actor is the outermost act.
    assert_eq!(claims.act.as_ref().unwrap().sub.as_deref(), Some("bot"));
    assert_eq!(claims.scope.as_deref(), Some("a"));
    let json = claims.to_json();
    let back = ClaimMapping::baton().principal_from_json(&json).unwrap();
    assert_eq!(back, p);
    // Re-issued under another issuer, the typed ids survive (baton_id is written).
    let mut reissued = claims.clone();
    reissued.iss = Some("https://edge.example".into());
    let edge = ClaimMapping::baton()
        .principal_from_claims(&reissued)
        .unwrap();
    assert_eq!(edge.id(), p.id());
    assert_eq!(edge.acting(), p.acting());
}

#[test]
fn scopes_from_scp_string_and_array() {
    let azure = map(with(json!({"scp": "User.Read Mail.Send"}))).unwrap();
    assert_eq!(
        azure.scopes(),
        &ScopeSet::parse("Mail.Send User.Read").unwrap()
    );
    let okta = map(with(json!({"scp": ["openid", "email"]}))).unwrap();
    assert!(okta.has_scope("email"));
    let empty = map(with(json!({"scope": "", "scp": []}))).unwrap();
    assert!(empty.scopes().is_empty());
}

/// The generic preset (and Keycloak, built on it) trusts no Baton-internal claim: an
/// external IdP's user who picks `sub: "svc-payments"` or edits `baton_*` claims into a
/// token gains nothing.
#[test]
fn generic_ignores_baton_internal_claims() {
    for mapping in [
        ClaimMapping::generic(),
        ClaimMapping::keycloak(),
        ClaimMapping::default(),
    ] {
        // A typed-looking sub is an opaque subject: a human with a derived id.
        let p = map_with(&mapping, with(json!({"sub": "svc-payments"}))).unwrap();
        assert_eq!(p.kind(), Kind::Human);
        assert_eq!(p.id(), &derived_human("svc-payments"));
        assert_ne!(p.id(), &svc("payments"));
        assert_eq!(p.subject(), "svc-payments");
        // Another person's id as sub is not that person.
        let p = map_with(&mapping, with(json!({"sub": HUMAN}))).unwrap();
        assert_eq!(p.id(), &derived_human(HUMAN));
        assert_ne!(p.id().to_string(), HUMAN);
        let p = map_with(&mapping, with(json!({"sub": AGENT}))).unwrap();
        assert_eq!(p.kind(), Kind::Human);
        // Ill-formed typed-looking subs are not even parsed.
        assert!(map_with(&mapping, with(json!({"sub": "hm-not-a-uuid"}))).is_ok());

        // baton_kind, baton_id and baton_attrs are ignored, whatever their value or type.
        let p = map_with(
            &mapping,
            with(json!({
                "sub": "svc-payments", "baton_kind": "service", "baton_id": "svc-payments",
                "baton_attrs": {"clearance": "top"},
            })),
        )
        .unwrap();
        assert_eq!(p.kind(), Kind::Human);
        assert_eq!(p.id(), &derived_human("svc-payments"));
        assert!(p.attributes().is_empty());
        let p = map_with(&mapping, with(json!({"baton_kind": "agent"}))).unwrap();
        assert_eq!(p.id(), &derived_human("alice"));
        let p = map_with(&mapping, with(json!({"baton_id": HUMAN}))).unwrap();
        assert_eq!(p.id(), &derived_human("alice"));
        let p = map_with(
            &mapping,
            with(json!({"baton_kind": 1, "baton_id": {}, "baton_attrs": ["k"]})),
        )
        .unwrap();
        assert_eq!(p.id(), &derived_human("alice"));

        // Inside act: a typed sub is an opaque subject of the actor default kind (Agent),
        // and the act's baton_kind and baton_id are ignored.
        let p = map_with(&mapping, with(json!({"act": {"sub": "svc-payments"}}))).unwrap();
        assert_eq!(p.acting(), &derived_agent("svc-payments"));
        assert!(!p.involves(Kind::Service));
        assert_eq!(p.delegation()[0].subject(), Some("svc-payments"));
        let p = map_with(&mapping, with(json!({"act": {"sub": HUMAN}}))).unwrap();
        assert_eq!(p.acting(), &derived_agent(HUMAN));
        let p = map_with(
            &mapping,
            with(json!({"act": {"sub": "x", "baton_kind": "service", "baton_id": "svc-x"}})),
        )
        .unwrap();
        assert_eq!(p.acting(), &derived_agent("x"));
        // An act with only client_id (set by the issuer, not the user) is still a service.
        let p = map_with(&mapping, with(json!({"act": {"client_id": "gateway"}}))).unwrap();
        assert_eq!(p.acting(), &derived_svc("gateway"));

        // Client-credentials detection still makes services, under the issuer's namespace.
        let p = map_with(
            &mapping,
            with(json!({"sub": "svc-payments", "client_id": "svc-payments", "gty": "client-credentials"})),
        )
        .unwrap();
        assert_eq!(p.kind(), Kind::Service);
        assert_eq!(p.id(), &derived_svc("svc-payments"));
        assert_ne!(p.id(), &svc("payments"));
    }
}

/// The Baton preset honours every Baton-internal claim, at the top level and in `act`.
#[test]
fn baton_honours_baton_internal_claims() {
    let p = map_baton(with(json!({"sub": "svc-payments"}))).unwrap();
    assert_eq!((p.kind(), p.id()), (Kind::Service, &svc("payments")));
    let p = map_baton(with(json!({"sub": HUMAN}))).unwrap();
    assert_eq!(p.id().to_string(), HUMAN);
    let p = map_baton(with(
        json!({"baton_kind": "service", "client_id": "payments"}),
    ))
    .unwrap();
    assert_eq!(
        (p.kind(), p.id()),
        (Kind::Service, &derived_svc("payments"))
    );
    let p = map_baton(with(json!({"baton_id": "svc-payments"}))).unwrap();
    assert_eq!(p.id(), &svc("payments"));
    assert_eq!(p.subject(), "alice");
    let p = map_baton(with(json!({"baton_attrs": {"clearance": "top"}}))).unwrap();
    assert_eq!(p.attributes().get("clearance"), Some("top"));
    let p = map_baton(with(json!({"act": {"sub": "svc-payments"}}))).unwrap();
    assert_eq!(p.acting(), &svc("payments"));
    assert_eq!(p.delegation()[0].subject(), None); // the typed sub is the id
    let p = map_baton(with(json!({"act": {"sub": "x", "baton_id": "svc-x"}}))).unwrap();
    assert_eq!(p.acting(), &svc("x"));
    let p = map_baton(with(json!({"act": {"sub": "x", "baton_kind": "human"}}))).unwrap();
    assert_eq!(p.acting(), &derived_human("x"));
    // And it still checks them: a bad typed sub or a contradicting kind is refused.
    assert!(matches!(
        map_baton(with(json!({"sub": "hm-not-a-uuid"}))),
        Err(ClaimError::Invalid { claim, .. }) if claim == "sub"
    ));
    assert!(matches!(
        map_baton(with(json!({"sub": "svc-payments", "baton_kind": "human"}))),
        Err(ClaimError::KindConflict {
            claimed: Kind::Human,
            found: Kind::Service,
            ..
        })
    ));
    assert_ne!(ClaimMapping::baton(), ClaimMapping::generic());
    assert_eq!(ClaimMapping::default(), ClaimMapping::generic());
}

/// Each Baton-internal claim can be turned on alone for an issuer the operator trusts.
#[test]
fn internal_claims_are_opt_in_one_by_one() {
    let typed = ClaimMapping::generic().with_typed_subjects(true);
    let p = map_with(
        &typed,
        with(json!({"sub": "svc-payments", "baton_id": HUMAN})),
    )
    .unwrap();
    assert_eq!(p.id(), &svc("payments")); // typed sub on, id claim still off
    let p = map_with(&typed, with(json!({"act": {"sub": "svc-payments"}}))).unwrap();
    assert_eq!(p.acting(), &svc("payments"));

    let id = ClaimMapping::generic().with_id_claim("baton_id");
    let p = map_with(&id, with(json!({"baton_id": HUMAN, "baton_kind": "agent"}))).unwrap();
    assert_eq!(p.id().to_string(), HUMAN); // id claim on, kind claim still off
    let p = map_with(&id, with(json!({"sub": "svc-payments"}))).unwrap();
    assert_eq!(p.id(), &derived_human("svc-payments"));

    let kind = ClaimMapping::generic().with_kind_claim("baton_kind");
    let p = map_with(
        &kind,
        with(json!({"baton_kind": "service", "client_id": "payments"})),
    )
    .unwrap();
    assert_eq!(p.id(), &derived_svc("payments"));
    let p = map_with(
        &kind,
        with(json!({"act": {"sub": "bob", "baton_kind": "human"}})),
    )
    .unwrap();
    assert_eq!(p.acting(), &derived_human("bob"));

    let attrs = ClaimMapping::generic().with_attributes_claim("baton_attrs");
    let p = map_with(&attrs, with(json!({"baton_attrs": {"k": "v"}}))).unwrap();
    assert_eq!(p.attributes().get("k"), Some("v"));
    assert!(matches!(
        map_with(&attrs, with(json!({"baton_attrs": ["k"]}))),
        Err(ClaimError::WrongType { claim, .. }) if claim == "baton_attrs"
    ));
}
