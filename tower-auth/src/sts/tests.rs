//! Unit tests of the pure parts: the exchange decision, client authentication, the form
//! parser, and the bounded record with its revocation list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use principal::{
    AgentId, Audience, HumanId, Issuer, Kind, Principal, ScopeSet, ServiceId, Timestamp,
};
use serde_json::{Map, json};

use super::client::Clients;
use super::form::{Form, percent_decode};
use super::policy::{ActingPolicy, ExchangePolicy};
use super::record::{IssuedTokens, Lookup, Revocation};
use super::{ClientSecret, RegisteredClient, StsError};
use crate::revocation::EXPIRY_GRACE_SECONDS;

const EXP: i64 = 1_700_003_600;

fn idp() -> Issuer {
    Issuer::new("https://idp.example.com").unwrap()
}

fn human(
    sub: &str,
    customise: impl FnOnce(principal::PrincipalBuilder) -> principal::PrincipalBuilder,
) -> Principal {
    let builder = Principal::builder(HumanId::derive(&idp(), sub).into(), idp(), sub)
        .scopes(ScopeSet::parse("a b c").unwrap())
        .expires_at(Timestamp::from_unix_seconds(EXP));
    customise(builder).build().unwrap()
}

fn agent(sub: &str) -> Principal {
    Principal::builder(AgentId::derive(&idp(), sub).into(), idp(), sub)
        .scopes(ScopeSet::parse("a b").unwrap())
        .expires_at(Timestamp::from_unix_seconds(EXP - 100))
        .build()
        .unwrap()
}

fn policy() -> ExchangePolicy {
    ExchangePolicy {
        acting: ActingPolicy::default(),
        require_may_act: false,
        max_depth: 4,
    }
}

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

#[test]
fn an_actor_is_appended_with_the_client_and_the_narrowed_grant() {
    let alice = human("alice", |b| b);
    let bot = agent("bot");
    let result = policy()
        .decide(&alice, Some(&bot), "gw", Some(&scopes("a")))
        .unwrap();
    assert_eq!(result.id(), alice.id());
    assert_eq!(result.scopes(), &scopes("a"));
    let actor = result.current_actor().unwrap();
    assert_eq!(actor.id(), bot.id());
    assert_eq!(actor.client_id(), Some("gw"));
    assert_eq!(actor.grant(), Some(&scopes("a")));
    // The delegation ends with the actor's own credential.
    assert_eq!(result.expires_at(), bot.expires_at());
    // No scope asked: what both hold.
    let result = policy().decide(&alice, Some(&bot), "gw", None).unwrap();
    assert_eq!(result.scopes(), &scopes("a b"));
    // No actor: the subject, narrowed, chain unchanged.
    let result = policy()
        .decide(&alice, None, "gw", Some(&scopes("c")))
        .unwrap();
    assert_eq!(result.scopes(), &scopes("c"));
    assert!(!result.is_delegated());
}

#[test]
fn scopes_are_only_narrowed_by_subject_and_actor() {
    let alice = human("alice", |b| b);
    let err = policy()
        .decide(&alice, None, "gw", Some(&scopes("a z")))
        .unwrap_err();
    assert_eq!(err, StsError::ScopeWidening { scope: "z".into() });
    // `c` is alice's but not the agent's.
    let err = policy()
        .decide(&alice, Some(&agent("bot")), "gw", Some(&scopes("c")))
        .unwrap_err();
    assert_eq!(err.reason(), "scope_widening");
}

#[test]
fn may_act_names_the_actor_by_subject_or_typed_id_and_issuer() {
    let bot = agent("bot");
    for may_act in [
        json!({"sub": "bot"}),
        json!({"sub": bot.id().to_string()}),
        json!({"sub": "bot", "iss": "https://idp.example.com"}),
    ] {
        let alice = human("alice", |b| b.may_act(may_act.clone()));
        assert!(
            policy().decide(&alice, Some(&bot), "gw", None).is_ok(),
            "{may_act}"
        );
    }
    for may_act in [
        json!({"sub": "other"}),
        json!({"sub": "bot", "iss": "https://elsewhere.example"}),
        json!({"sub": "bot", "iss": 7}),
        json!({"iss": "https://idp.example.com"}),
        json!({"sub": ["bot"]}),
    ] {
        let alice = human("alice", |b| b.may_act(may_act.clone()));
        let err = policy().decide(&alice, Some(&bot), "gw", None).unwrap_err();
        assert_eq!(err, StsError::NotPermittedByMayAct, "{may_act}");
    }
    // Required by policy, and absent.
    let strict = ExchangePolicy {
        require_may_act: true,
        ..policy()
    };
    let alice = human("alice", |b| b);
    assert_eq!(
        strict.decide(&alice, Some(&bot), "gw", None).unwrap_err(),
        StsError::MayActRequired
    );
    // Without an actor, may_act is not in question.
    assert!(strict.decide(&alice, None, "gw", None).is_ok());
}

#[test]
fn kinds_depth_and_the_model_limit_who_acts() {
    let alice = human("alice", |b| b);
    let bob = human("bob", |b| b.scopes(scopes("a b c")));
    assert_eq!(
        policy().decide(&alice, Some(&bob), "gw", None).unwrap_err(),
        StsError::KindMayNotAct {
            actor: Kind::Human,
            subject: Kind::Human
        }
    );
    let svc = Principal::builder(
        ServiceId::new("payments").unwrap().into(),
        idp(),
        "payments",
    )
    .scopes(scopes("a"))
    .expires_at(Timestamp::from_unix_seconds(EXP))
    .build()
    .unwrap();
    let agents_only = ExchangePolicy {
        acting: ActingPolicy::none().allow(Kind::Agent, Kind::Human),
        ..policy()
    };
    assert_eq!(
        agents_only
            .decide(&alice, Some(&svc), "gw", None)
            .unwrap_err()
            .reason(),
        "kind_may_not_act"
    );
    assert!(policy().decide(&alice, Some(&svc), "gw", None).is_ok());

    // A chain at the maximum: one more is refused; below it, accepted.
    let shallow = ExchangePolicy {
        max_depth: 1,
        ..policy()
    };
    let delegated = policy()
        .decide(&alice, Some(&agent("bot-1")), "gw", None)
        .unwrap();
    assert_eq!(
        shallow
            .decide(&delegated, Some(&svc), "gw", None)
            .unwrap_err(),
        StsError::DelegationTooDeep { depth: 2, max: 1 }
    );
    assert!(policy().decide(&delegated, Some(&svc), "gw", None).is_ok());
    // The same actor twice in one chain: the model refuses.
    let err = policy()
        .decide(&delegated, Some(&agent("bot-1")), "gw", None)
        .unwrap_err();
    assert_eq!(err.reason(), "delegation_refused");
    // The policy holds for the chain the subject already carries, with or without a new
    // actor: a human delegated to a service, under an agents-only policy.
    let served = policy().decide(&alice, Some(&svc), "gw", None).unwrap();
    assert_eq!(
        agents_only.decide(&served, None, "gw", None).unwrap_err(),
        StsError::KindMayNotAct {
            actor: Kind::Service,
            subject: Kind::Human
        }
    );
    assert!(policy().decide(&served, None, "gw", None).is_ok());
    // An actor that is itself delegated.
    assert_eq!(
        policy()
            .decide(&svc, Some(&delegated), "gw", None)
            .unwrap_err(),
        StsError::ActorDelegated
    );
}

fn clients() -> Clients {
    let mut clients = Clients::default();
    clients
        .insert(
            RegisteredClient::new(
                "gw:1",
                ClientSecret::new("s3cret with spaces & colons:0123").unwrap(),
            )
            .unwrap()
            .may_exchange_for(Audience::new("orders").unwrap()),
        )
        .unwrap();
    clients
}

fn basic(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", value.parse().unwrap());
    headers
}

#[test]
fn client_secret_basic_is_form_urlencoded_then_base64() {
    let clients = clients();
    let encoded = STANDARD.encode("gw%3A1:s3cret+with+spaces+%26+colons%3A0123");
    let client = clients
        .authenticate(&basic(&format!("Basic {encoded}")), &Form::default())
        .unwrap();
    assert_eq!(client.id(), "gw:1");
    // The scheme is case-insensitive.
    assert!(
        clients
            .authenticate(&basic(&format!("bAsIc {encoded}")), &Form::default())
            .is_ok()
    );
    // client_secret_post, with the same (form-decoded) values.
    let form = Form::parse(b"client_id=gw%3A1&client_secret=s3cret+with+spaces+%26+colons%3A0123");
    assert!(clients.authenticate(&HeaderMap::new(), &form).is_ok());
}

#[test]
fn hostile_client_authentication_is_refused() {
    let clients = clients();
    let none = Form::default();
    for (header, reason) in [
        ("Bearer abc", "malformed_client_authentication"),
        ("Basic", "malformed_client_authentication"),
        ("Basic !!!", "malformed_client_authentication"),
        (
            &*format!("Basic {}", STANDARD.encode("no-colon")),
            "malformed_client_authentication",
        ),
        (
            &*format!("Basic {}", STANDARD.encode("gw%3A1:bad%zz")),
            "malformed_client_authentication",
        ),
        (
            &*format!("Basic {}", STANDARD.encode(":secret")),
            "malformed_client_authentication",
        ),
        (
            &*format!("Basic {}", STANDARD.encode("nobody:secret")),
            "unknown_client",
        ),
        (
            &*format!("Basic {}", STANDARD.encode("gw%3A1:s3cret")),
            "wrong_client_secret",
        ),
        // The raw, unencoded id does not match the registered one.
        (
            &*format!(
                "Basic {}",
                STANDARD.encode("gw:1:s3cret with spaces & colons:0123")
            ),
            "unknown_client",
        ),
    ] {
        let err = clients.authenticate(&basic(header), &none).unwrap_err();
        assert_eq!(err.reason(), reason, "{header}");
    }
    let encoded = STANDARD.encode("gw%3A1:s3cret+with+spaces+%26+colons%3A0123");
    // Both methods; a body client_id naming another client.
    let both = Form::parse(b"client_secret=x");
    let err = clients
        .authenticate(&basic(&format!("Basic {encoded}")), &both)
        .unwrap_err();
    assert_eq!(err, StsError::MultipleClientAuthentications);
    let other = Form::parse(b"client_id=other");
    let err = clients
        .authenticate(&basic(&format!("Basic {encoded}")), &other)
        .unwrap_err();
    assert_eq!(err, StsError::MultipleClientAuthentications);
    // A secret without an id; nothing at all; a client_id twice.
    let err = clients
        .authenticate(&HeaderMap::new(), &Form::parse(b"client_secret=x"))
        .unwrap_err();
    assert_eq!(err.reason(), "malformed_client_authentication");
    let err = clients.authenticate(&HeaderMap::new(), &none).unwrap_err();
    assert_eq!(err, StsError::NoClientAuthentication);
    let err = clients
        .authenticate(
            &HeaderMap::new(),
            &Form::parse(b"client_id=a&client_id=b&client_secret=x"),
        )
        .unwrap_err();
    assert_eq!(err, StsError::DuplicateParameter { name: "client_id" });
}

#[test]
fn secrets_are_held_as_digests_and_never_shown() {
    let secret = ClientSecret::new("kq3V9w2LxR7tYb5NcP8mZs4HdF6gJ1").unwrap();
    assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
    let client = RegisteredClient::new("c", secret).unwrap();
    assert!(!format!("{client:?}").contains("kq3V9w2"));
    assert!(ClientSecret::new(&"x".repeat(4097)).is_err());
    let mut clients = Clients::default();
    clients.insert(client.clone()).unwrap();
    assert_eq!(
        clients.insert(client).unwrap_err().reason(),
        "duplicate_client"
    );
}

#[test]
fn the_form_parser_treats_empty_as_absent_and_refuses_repeats() {
    let form = Form::parse(b"a=1&b=&c=x+y&c=z&d=%41");
    assert_eq!(form.single("a").unwrap(), Some("1"));
    assert_eq!(form.single("b").unwrap(), None);
    assert_eq!(form.single("d").unwrap(), Some("A"));
    assert_eq!(
        form.required("b").unwrap_err(),
        StsError::MissingParameter { name: "b" }
    );
    assert_eq!(
        form.single("c").unwrap_err(),
        StsError::DuplicateParameter { name: "c" }
    );
    assert_eq!(form.all("c").collect::<Vec<_>>(), ["x y", "z"]);
    assert_eq!(percent_decode("a+b%20c").as_deref(), Some("a b c"));
    for hostile in ["%", "%4", "%zz", "%+1", "%ff"] {
        assert_eq!(percent_decode(hostile), None, "{hostile}");
    }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(seconds)
}

#[test]
fn the_record_is_bounded_and_makes_room_only_from_expired_tokens() {
    let record = IssuedTokens::new(2);
    assert!(record.insert([1; 32], "j1", "gw", at(100), Map::new(), at(0)));
    assert!(record.insert([2; 32], "j2", "gw", at(200), Map::new(), at(0)));
    // Full of unexpired tokens: refused, not evicted.
    assert!(!record.has_room(at(50)));
    assert!(!record.insert([3; 32], "j3", "gw", at(300), Map::new(), at(50)));
    assert!(matches!(record.lookup(&[1; 32], at(50)), Lookup::Active(_)));
    // j1 has expired: its place is taken.
    assert!(record.has_room(at(100)));
    assert!(record.insert([3; 32], "j3", "gw", at(300), Map::new(), at(100)));
    assert_eq!(record.len(), 2);
    assert!(matches!(record.lookup(&[1; 32], at(100)), Lookup::Inactive));
}

#[test]
fn revocations_are_versioned_and_dropped_after_expiry_and_grace() {
    let record = IssuedTokens::new(10);
    record.insert([1; 32], "j1", "gw", at(100), Map::new(), at(0));
    record.insert([2; 32], "j2", "gw", at(1000), Map::new(), at(0));
    assert_eq!(
        record.revoke_token(&[1; 32], "other", at(10)),
        Revocation::OtherClient
    );
    assert_eq!(
        record.revoke_token(&[9; 32], "gw", at(10)),
        Revocation::Unknown
    );
    assert_eq!(record.version(), 0);
    assert_eq!(
        record.revoke_token(&[1; 32], "gw", at(10)),
        Revocation::Revoked
    );
    // Revoking again changes nothing.
    assert_eq!(
        record.revoke_token(&[1; 32], "gw", at(10)),
        Revocation::Revoked
    );
    assert!(record.revoke_jti("j2", at(10)));
    assert!(!record.revoke_jti("j1-unknown", at(10)));
    let list = record.revocations_since(0, at(10));
    assert_eq!(list.version, 2);
    assert_eq!(
        list.revoked
            .iter()
            .map(|r| r.jti.as_str())
            .collect::<Vec<_>>(),
        ["j1", "j2"]
    );
    assert_eq!(record.revocations_since(1, at(10)).revoked.len(), 1);
    assert!(record.is_revoked("j1"));
    // Kept through the verifiers' largest leeway after `exp`, then dropped.
    let later = at(100 + EXPIRY_GRACE_SECONDS - 1);
    assert_eq!(record.revocations_since(0, later).revoked.len(), 2);
    let list = record.revocations_since(0, at(100 + EXPIRY_GRACE_SECONDS));
    assert_eq!(list.version, 2, "the version never goes back");
    assert_eq!(list.revoked.len(), 1);
    assert!(!record.is_revoked("j1"));
    assert!(record.is_revoked("j2"));
}
