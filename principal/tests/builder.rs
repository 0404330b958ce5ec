//! The builder's invariants, the one-call questions, and the JSON form.
#![allow(clippy::unwrap_used)]

use principal::limits::{
    DEFAULT_MAX_DELEGATION_DEPTH, HARD_MAX_DELEGATION_DEPTH, MAX_AMR_VALUES, MAX_ATTRIBUTES,
    MAX_AUDIENCES, MAX_MAY_ACT_DEPTH, MAX_MAY_ACT_NODES, MAX_ROLES, MAX_SUBJECT_LEN,
};
use principal::{
    Actor, AgentId, Audience, AuthContext, Clock, HumanId, IdError, Issuer, Kind, Principal,
    PrincipalBuilder, PrincipalError, PrincipalId, Role, ScopeSet, ServiceId, Tenant, TestClock,
    Timestamp, Uuid,
};
use serde_json::json;

const EXP: Timestamp = Timestamp::from_unix_seconds(1_700_000_300);

fn issuer() -> Issuer {
    Issuer::new("https://idp.example.com").unwrap()
}

fn alice() -> PrincipalId {
    HumanId::derive(&issuer(), "alice").into()
}

fn agent(n: u128) -> PrincipalId {
    AgentId::new(Uuid::from_u128(n)).into()
}

fn svc(slug: &str) -> PrincipalId {
    ServiceId::new(slug).unwrap().into()
}

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

fn base() -> PrincipalBuilder {
    Principal::builder(alice(), issuer(), "alice").expires_at(EXP)
}

#[test]
fn minimal_principal() {
    let p = base().build().unwrap();
    assert_eq!(p.kind(), Kind::Human);
    assert_eq!(p.id(), &alice());
    assert_eq!(p.issuer().as_str(), "https://idp.example.com");
    assert_eq!(p.subject(), "alice");
    assert_eq!(p.expires_at(), EXP);
    assert!(!p.is_delegated());
    assert_eq!(p.acting(), p.id());
    assert!(p.current_actor().is_none());
    assert!(p.involves(Kind::Human));
    assert!(!p.involves(Kind::Agent));
    assert!(p.scopes().is_empty() && p.roles().is_empty() && p.audiences().is_empty());
    assert_eq!(p.tenant(), None);
    assert_eq!(p.token_id(), None);
    assert_eq!(p.session_id(), None);
    assert_eq!(p.may_act(), None);
}

#[test]
fn every_field_is_kept() {
    let auth = AuthContext {
        amr: vec!["pwd".into(), "otp".into()],
        acr: Some("urn:acr:mfa".into()),
        auth_time: Some(Timestamp::from_unix_seconds(1_699_999_000)),
        client_id: Some("web-app".into()),
    };
    let p = base()
        .tenant(Tenant::new("acme").unwrap())
        .role(Role::new("buyer").unwrap())
        .roles([Role::new("admin").unwrap(), Role::new("buyer").unwrap()])
        .scopes(scopes("orders:read profile"))
        .audience(Audience::new("api").unwrap())
        .audiences([
            Audience::new("billing").unwrap(),
            Audience::new("api").unwrap(),
        ])
        .auth(auth.clone())
        .issued_at(Timestamp::from_unix_seconds(1_700_000_000))
        .not_before(Timestamp::from_unix_seconds(1_700_000_010))
        .token_id("jti-1")
        .session_id("sid-1")
        .attribute("department", "sales")
        .may_act(json!({"sub": "am-x"}))
        .build()
        .unwrap();
    assert_eq!(p.tenant().map(Tenant::as_str), Some("acme"));
    assert_eq!(
        p.roles().iter().map(Role::as_str).collect::<Vec<_>>(),
        ["admin", "buyer"]
    );
    assert!(p.has_role("admin") && !p.has_role("root"));
    assert!(p.has_scope("profile") && !p.has_scope("orders:write"));
    // Order kept, duplicates dropped.
    assert_eq!(
        p.audiences()
            .iter()
            .map(Audience::as_str)
            .collect::<Vec<_>>(),
        ["api", "billing"]
    );
    assert_eq!(p.auth(), &auth);
    assert_eq!(
        p.issued_at(),
        Some(Timestamp::from_unix_seconds(1_700_000_000))
    );
    assert_eq!(
        p.not_before(),
        Some(Timestamp::from_unix_seconds(1_700_000_010))
    );
    assert_eq!(p.token_id(), Some("jti-1"));
    assert_eq!(p.session_id(), Some("sid-1"));
    assert_eq!(p.attributes().get("department"), Some("sales"));
    assert_eq!(p.may_act(), Some(&json!({"sub": "am-x"})));
}

#[test]
fn expiry_and_validity_follow_the_clock() {
    let p = base()
        .not_before(Timestamp::from_unix_seconds(1_700_000_000))
        .build()
        .unwrap();
    let clock = TestClock::new(Timestamp::from_unix_seconds(1_699_999_999));
    assert!(!p.is_expired_at(clock.now()));
    assert!(!p.is_valid_at(clock.now())); // before nbf
    clock.advance(1);
    assert!(p.is_valid_at(clock.now()));
    clock.set(EXP.add_seconds(-1));
    assert!(p.is_valid_at(clock.now()));
    clock.advance(1);
    assert!(p.is_expired_at(clock.now())); // on exp: expired
    assert!(!p.is_valid_at(clock.now()));
}

#[test]
fn delegation_narrows_scopes_never_widens() {
    let p = base()
        .scopes(scopes("a b c"))
        .actor(Actor::new(agent(1)).with_grant(scopes("a b x")))
        .actor(Actor::new(svc("tool")))
        .actor(Actor::new(agent(2)).with_grant(scopes("b c x")))
        .build()
        .unwrap();
    assert_eq!(p.scopes(), &scopes("b"));
    assert!(!p.has_scope("x")); // granted to actors, never held by the subject
    assert!(p.is_delegated());
    assert_eq!(p.acting(), &agent(2));
    assert_eq!(p.current_actor().map(Actor::id), Some(&agent(2)));
    assert_eq!(p.delegation().len(), 3);
    assert_eq!(p.delegation()[0].id(), &agent(1));
    assert!(p.involves(Kind::Service) && p.involves(Kind::Agent) && p.involves(Kind::Human));

    let none = base()
        .scopes(scopes("a"))
        .actor(Actor::new(agent(1)).with_grant(ScopeSet::new()))
        .build()
        .unwrap();
    assert!(none.scopes().is_empty());
}

#[test]
fn actor_subject_equal_to_id_is_dropped() {
    let p = base()
        .actor(
            Actor::new(agent(1))
                .with_subject(agent(1).to_string())
                .with_client_id("agent-client")
                .with_issuer(issuer()),
        )
        .build()
        .unwrap();
    let actor = &p.delegation()[0];
    assert_eq!(actor.subject(), None);
    assert_eq!(actor.client_id(), Some("agent-client"));
    assert_eq!(actor.issuer(), Some(&issuer()));
    assert_eq!(actor.kind(), Kind::Agent);
    // No grant of its own: its effective grant is its delegator's scopes.
    assert_eq!(actor.grant(), Some(&ScopeSet::new()));
}

#[test]
fn an_actors_grant_is_its_effective_grant() {
    let p = base()
        .scopes(scopes("a b c"))
        .actor(Actor::new(agent(1)).with_grant(scopes("a b x")))
        .actor(Actor::new(agent(2)).with_grant(scopes("b x y")))
        .actor(Actor::new(agent(3)))
        .build()
        .unwrap();
    let grants: Vec<String> = p
        .delegation()
        .iter()
        .map(|actor| actor.grant().unwrap().to_space_separated())
        .collect();
    // `x` was granted to the first agent but never held by its delegator, and `a` not to
    // the next link: in this request, each actor may do `b` and no more.
    assert_eq!(grants, ["b", "b", "b"]);
    assert_eq!(p.scopes(), &scopes("b"));
    // No caller can read `x` or `y` as an actor's permission.
    assert!(
        p.delegation()
            .iter()
            .all(|a| !a.grant().unwrap().contains("x") && !a.grant().unwrap().contains("y"))
    );
    // Rebuilding (what a downstream hop does from the wire) reads the same grants.
    assert_eq!(p.to_builder().build().unwrap(), p);
    let from_wire = principal::ClaimMapping::baton()
        .principal_from_claims(&p.to_claims())
        .unwrap();
    assert_eq!(from_wire, p);
    // An actor with a grant wider than its delegator's shares the delegator's scopes.
    let wide = base()
        .scopes(scopes("a"))
        .actor(Actor::new(agent(1)).with_grant(scopes("a b")))
        .build()
        .unwrap();
    assert_eq!(wide.delegation()[0].grant(), Some(&scopes("a")));
}

#[test]
fn the_subject_never_acts_for_itself_under_another_kind() {
    // Alice's own issuer and subject, as an agent: she is the subject, whatever the kind.
    let alice_as_agent: PrincipalId = AgentId::derive(&issuer(), "alice").into();
    assert_ne!(&alice_as_agent, &alice());
    let as_agent = Actor::new(alice_as_agent.clone()).with_subject("alice");
    assert_eq!(
        base().actor(as_agent.clone()).build(),
        Err(PrincipalError::ActorIsSubject {
            id: alice_as_agent.clone()
        })
    );
    // The same with the issuer written out, and as a service.
    assert_eq!(
        base().actor(as_agent.clone().with_issuer(issuer())).build(),
        Err(PrincipalError::ActorIsSubject {
            id: alice_as_agent.clone()
        })
    );
    assert_eq!(
        base()
            .actor(Actor::new(svc("alice")).with_subject("alice"))
            .build(),
        Err(PrincipalError::ActorIsSubject { id: svc("alice") })
    );
    // An `alice` at another issuer is another party.
    let other = Issuer::new("https://other.example").unwrap();
    assert!(
        base()
            .actor(
                Actor::new(AgentId::derive(&other, "alice").into())
                    .with_subject("alice")
                    .with_issuer(other.clone())
            )
            .build()
            .is_ok()
    );
    // One party twice in the chain under two kinds is a repeated actor.
    let bot_agent: PrincipalId = AgentId::derive(&issuer(), "bot").into();
    let bot_human: PrincipalId = HumanId::derive(&issuer(), "bot").into();
    assert_eq!(
        base()
            .actor(Actor::new(bot_agent).with_subject("bot"))
            .actor(
                Actor::new(bot_human.clone())
                    .with_subject("bot")
                    .with_issuer(issuer())
            )
            .build(),
        Err(PrincipalError::RepeatedActor { id: bot_human })
    );
}

#[test]
fn rejects_missing_or_inverted_times() {
    let no_exp = Principal::builder(alice(), issuer(), "alice").build();
    assert_eq!(no_exp, Err(PrincipalError::MissingExpiry));

    assert_eq!(
        base().issued_at(EXP).build(),
        Err(PrincipalError::ExpiresBeforeIssued {
            issued_at: EXP,
            expires_at: EXP
        })
    );
    assert_eq!(
        base().not_before(EXP.add_seconds(5)).build(),
        Err(PrincipalError::ExpiresBeforeNotBefore {
            not_before: EXP.add_seconds(5),
            expires_at: EXP
        })
    );
}

#[test]
fn rejects_chains_that_are_too_deep() {
    let chain = |n: u128| (1..=n).map(|i| Actor::new(agent(i))).collect::<Vec<_>>();
    let depth = DEFAULT_MAX_DELEGATION_DEPTH as u128;
    assert!(base().delegation(chain(depth)).build().is_ok());
    assert_eq!(
        base().delegation(chain(depth + 1)).build(),
        Err(PrincipalError::DelegationTooDeep {
            depth: DEFAULT_MAX_DELEGATION_DEPTH + 1,
            max: DEFAULT_MAX_DELEGATION_DEPTH
        })
    );
    // Downward.
    assert_eq!(
        base().max_delegation_depth(1).delegation(chain(2)).build(),
        Err(PrincipalError::DelegationTooDeep { depth: 2, max: 1 })
    );
    assert_eq!(
        base()
            .max_delegation_depth(0)
            .actor(Actor::new(agent(1)))
            .build(),
        Err(PrincipalError::DelegationTooDeep { depth: 1, max: 0 })
    );
    // Upward only to the hard cap.
    let hard = HARD_MAX_DELEGATION_DEPTH as u128;
    assert!(
        base()
            .max_delegation_depth(HARD_MAX_DELEGATION_DEPTH)
            .delegation(chain(hard))
            .build()
            .is_ok()
    );
    assert_eq!(
        base()
            .max_delegation_depth(HARD_MAX_DELEGATION_DEPTH + 1)
            .build(),
        Err(PrincipalError::DepthAboveHardCap {
            requested: HARD_MAX_DELEGATION_DEPTH + 1,
            cap: HARD_MAX_DELEGATION_DEPTH
        })
    );
}

#[test]
fn rejects_repeated_actors_and_self_delegation() {
    assert_eq!(
        base()
            .actor(Actor::new(agent(1)))
            .actor(Actor::new(svc("x")))
            .actor(Actor::new(agent(1)))
            .build(),
        Err(PrincipalError::RepeatedActor { id: agent(1) })
    );
    assert_eq!(
        base().actor(Actor::new(alice())).build(),
        Err(PrincipalError::ActorIsSubject { id: alice() })
    );
}

#[test]
fn rejects_invalid_strings() {
    let invalid = |b: PrincipalBuilder| match b.build() {
        Err(PrincipalError::Invalid(e)) => e,
        other => panic!("expected Invalid, got {other:?}"),
    };
    let subject = |s: &str| Principal::builder(alice(), issuer(), s).expires_at(EXP);
    assert_eq!(invalid(subject("")), IdError::Empty { field: "subject" });
    assert!(matches!(
        invalid(subject("a\u{0}b")),
        IdError::InvalidChar {
            field: "subject",
            position: 1,
            ..
        }
    ));
    assert!(matches!(
        invalid(subject(&"s".repeat(MAX_SUBJECT_LEN + 1))),
        IdError::TooLong {
            field: "subject",
            ..
        }
    ));
    assert!(matches!(
        invalid(base().token_id("")),
        IdError::Empty { field: "token_id" }
    ));
    assert!(matches!(
        invalid(base().session_id("s\n")),
        IdError::InvalidChar {
            field: "session_id",
            ..
        }
    ));
    assert!(matches!(
        invalid(base().attribute("bad key", "v")),
        IdError::InvalidChar {
            field: "attribute_key",
            found: ' ',
            ..
        }
    ));
    assert!(matches!(
        invalid(base().attribute("", "v")),
        IdError::Empty {
            field: "attribute_key"
        }
    ));
    assert!(matches!(
        invalid(base().attribute("k", "v\u{1b}[31m")),
        IdError::InvalidChar {
            field: "attribute_value",
            ..
        }
    ));
    assert!(matches!(
        invalid(base().attribute("k", "v".repeat(2000))),
        IdError::TooLong {
            field: "attribute_value",
            ..
        }
    ));
    let auth = |a: AuthContext| base().auth(a);
    assert!(matches!(
        invalid(auth(AuthContext {
            amr: vec!["p w d".into()],
            ..Default::default()
        })),
        IdError::InvalidChar { field: "amr", .. }
    ));
    assert!(matches!(
        invalid(auth(AuthContext {
            acr: Some(String::new()),
            ..Default::default()
        })),
        IdError::Empty { field: "acr" }
    ));
    assert!(matches!(
        invalid(auth(AuthContext {
            client_id: Some("c\r".into()),
            ..Default::default()
        })),
        IdError::InvalidChar {
            field: "client_id",
            ..
        }
    ));
    assert!(matches!(
        invalid(base().actor(Actor::new(agent(1)).with_subject("\u{7}"))),
        IdError::InvalidChar {
            field: "actor.subject",
            ..
        }
    ));
    assert!(matches!(
        invalid(base().actor(Actor::new(agent(1)).with_client_id(""))),
        IdError::Empty {
            field: "actor.client_id"
        }
    ));
}

#[test]
fn rejects_oversized_lists() {
    let roles = (0..=MAX_ROLES).map(|i| Role::new(format!("r{i}")).unwrap());
    assert_eq!(
        base().roles(roles).build(),
        Err(PrincipalError::TooMany {
            field: "roles",
            len: MAX_ROLES + 1,
            max: MAX_ROLES
        })
    );
    let auds = (0..=MAX_AUDIENCES).map(|i| Audience::new(format!("a{i}")).unwrap());
    assert!(matches!(
        base().audiences(auds).build(),
        Err(PrincipalError::TooMany {
            field: "audiences",
            ..
        })
    ));
    let mut b = base();
    for i in 0..=MAX_ATTRIBUTES {
        b = b.attribute(format!("k{i}"), "v");
    }
    assert!(matches!(
        b.build(),
        Err(PrincipalError::TooMany {
            field: "attributes",
            ..
        })
    ));
    let amr = AuthContext {
        amr: vec!["pwd".into(); MAX_AMR_VALUES + 1],
        ..Default::default()
    };
    assert!(matches!(
        base().auth(amr).build(),
        Err(PrincipalError::TooMany { field: "amr", .. })
    ));
    let big_scopes: ScopeSet = (0..=principal::limits::MAX_SCOPES)
        .map(|i| principal::Scope::new(format!("s{i}")).unwrap())
        .collect();
    assert!(matches!(
        base().scopes(big_scopes.clone()).build(),
        Err(PrincipalError::TooMany {
            field: "scopes",
            ..
        })
    ));
    assert!(matches!(
        base()
            .actor(Actor::new(agent(1)).with_grant(big_scopes))
            .build(),
        Err(PrincipalError::TooMany {
            field: "actor.grant",
            ..
        })
    ));
}

#[test]
fn rejects_unbounded_may_act() {
    let invalid = |v: serde_json::Value| base().may_act(v).build();
    assert!(invalid(json!({"sub": "x", "act": {"sub": "y"}})).is_ok());
    assert_eq!(
        invalid(json!("sub")),
        Err(PrincipalError::InvalidMayAct {
            why: "not a JSON object"
        })
    );
    let mut deep = json!({});
    for _ in 0..MAX_MAY_ACT_DEPTH {
        deep = json!({ "a": deep });
    }
    assert_eq!(
        invalid(deep),
        Err(PrincipalError::InvalidMayAct {
            why: "nested too deep"
        })
    );
    let wide = serde_json::Value::Object(
        (0..MAX_MAY_ACT_NODES)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect(),
    );
    assert_eq!(
        invalid(wide),
        Err(PrincipalError::InvalidMayAct {
            why: "too many values"
        })
    );
    assert_eq!(
        invalid(json!({"sub": "x".repeat(5000)})),
        Err(PrincipalError::InvalidMayAct {
            why: "string too long"
        })
    );
    assert_eq!(
        invalid(json!({ "k".repeat(5000): 1 })),
        Err(PrincipalError::InvalidMayAct {
            why: "key too long"
        })
    );
}

#[test]
fn to_builder_rebuilds_and_extends_within_the_default() {
    let p = base()
        .scopes(scopes("a b"))
        .actor(Actor::new(agent(1)).with_grant(scopes("a")))
        .build()
        .unwrap();
    assert_eq!(p.to_builder().build().unwrap(), p);
    let extended = p
        .to_builder()
        .actor(Actor::new(svc("next")))
        .build()
        .unwrap();
    assert_eq!(extended.acting(), &svc("next"));
    assert_eq!(extended.scopes(), &scopes("a"));

    // A chain longer than the default rebuilds as is, but does not grow.
    let long = base()
        .max_delegation_depth(HARD_MAX_DELEGATION_DEPTH)
        .delegation((1..=6).map(|i| Actor::new(agent(i))).collect())
        .build()
        .unwrap();
    assert_eq!(long.to_builder().build().unwrap(), long);
    assert!(matches!(
        long.to_builder().actor(Actor::new(agent(99))).build(),
        Err(PrincipalError::DelegationTooDeep { depth: 7, max: 6 })
    ));
}

#[test]
fn json_form_is_stable_and_round_trips() {
    let p = Principal::builder(svc("billing"), issuer(), "billing-client")
        .scopes(scopes("invoices:read"))
        .audience(Audience::new("api").unwrap())
        .expires_at(EXP)
        .actor(Actor::new(agent(1)).with_grant(scopes("invoices:read")))
        .build()
        .unwrap();
    let value = serde_json::to_value(&p).unwrap();
    assert_eq!(
        value,
        json!({
            "id": "svc-billing",
            "kind": "service",
            "issuer": "https://idp.example.com",
            "subject": "billing-client",
            "roles": [],
            "scopes": ["invoices:read"],
            "audiences": ["api"],
            "auth": {},
            "expires_at": 1_700_000_300,
            "attributes": {},
            "delegation": [{
                "id": "am-00000000-0000-0000-0000-000000000001",
                "kind": "agent",
                "grant": ["invoices:read"]
            }]
        })
    );
    let back: Principal = serde_json::from_value(value).unwrap();
    assert_eq!(back, p);
}

#[test]
fn json_form_rejections() {
    let ok = json!({
        "id": "svc-billing", "issuer": "https://idp", "subject": "s", "expires_at": 10
    });
    assert!(serde_json::from_value::<Principal>(ok.clone()).is_ok());
    let with = |key: &str, value: serde_json::Value| {
        let mut v = ok.clone();
        v[key] = value;
        serde_json::from_value::<Principal>(v)
    };
    assert!(with("kind", json!("human")).is_err()); // contradicts the id
    assert!(with("unknown", json!(1)).is_err()); // unknown field
    assert!(with("id", json!("billing")).is_err()); // untyped id
    assert!(with("issuer", json!("")).is_err());
    assert!(with("issued_at", json!(10)).is_err()); // exp not after iat
    assert!(with("scopes", json!(["a b"])).is_err());
    assert!(with("delegation", json!([{"id": "svc-billing"}])).is_err()); // self
    let deep: Vec<_> = (1..=HARD_MAX_DELEGATION_DEPTH + 1)
        .map(|i| json!({"id": format!("svc-a{i}")}))
        .collect();
    assert!(with("delegation", json!(deep)).is_err());
    let mut missing = ok.clone();
    missing.as_object_mut().unwrap().remove("expires_at");
    assert!(serde_json::from_value::<Principal>(missing).is_err());
}
