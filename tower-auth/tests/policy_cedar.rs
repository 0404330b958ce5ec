//! The Cedar adapter (feature `cedar`) on the reference schema and policies of
//! `examples/config/cedar/`: decisions for a human, an agent acting for a human, an agent
//! alone and a service; load errors that name the file, the place and the policy; reloads
//! that change decisions, and failed reloads that keep the last good set serving; and
//! refusals when the engine cannot decide.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use principal::{
    Actor, AgentId, Clock as _, HumanId, Issuer, Principal, Role, ScopeSet, ServiceId, Tenant,
    TestClock, Timestamp, Uuid,
};
use tower_auth::policy::cedar::{CedarLoadError, CedarPolicy};
use tower_auth::policy::{Action, Decision, Denial, PolicyError, Resource};
use tower_auth::{Caller, CallerIdentity, Pattern};

const NOW: Timestamp = Timestamp::from_unix_seconds(1_700_000_000);

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/config/cedar")
}

fn schema_path() -> PathBuf {
    reference_dir().join("schema.cedarschema")
}

fn reference_policy() -> CedarPolicy {
    CedarPolicy::load(schema_path(), [reference_dir().join("policies.cedar")]).unwrap()
}

/// A directory holding a copy of the reference schema and policies, to rewrite.
fn copied_reference() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.cedarschema");
    let policies = dir.path().join("policies.cedar");
    std::fs::copy(schema_path(), &schema).unwrap();
    std::fs::copy(reference_dir().join("policies.cedar"), &policies).unwrap();
    (dir, schema, policies)
}

fn issuer() -> Issuer {
    Issuer::new("https://idp.example.com").unwrap()
}

fn agent_id(n: u128) -> principal::PrincipalId {
    AgentId::new(Uuid::from_u128(n)).into()
}

/// A principal valid at the test clock's time, built by `build` from `id`.
fn principal(
    id: principal::PrincipalId,
    scopes: &str,
    build: impl FnOnce(principal::PrincipalBuilder) -> principal::PrincipalBuilder,
) -> Principal {
    let clock = TestClock::new(NOW);
    let builder = Principal::builder(id, issuer(), "subject")
        .scopes(ScopeSet::parse(scopes).unwrap())
        .issued_at(clock.now())
        .expires_at(clock.now().add_seconds(600));
    let principal = build(builder).build().unwrap();
    assert!(principal.is_valid_at(clock.now()));
    principal
}

fn alice() -> principal::PrincipalId {
    HumanId::derive(&issuer(), "alice").into()
}

/// Alice herself, an editor.
fn human() -> Principal {
    principal(alice(), "documents:read documents:write", |b| {
        b.role(Role::new("editor").unwrap())
    })
}

/// Alice (an editor) through her agent.
fn agent_for_human() -> Principal {
    principal(alice(), "documents:read documents:write", |b| {
        b.role(Role::new("editor").unwrap())
            .actor(Actor::new(agent_id(7)))
    })
}

/// An agent on its own, with every scope and the editor role.
fn agent_alone() -> Principal {
    principal(agent_id(8), "documents:read documents:write", |b| {
        b.role(Role::new("editor").unwrap())
    })
}

fn service() -> Principal {
    principal(
        ServiceId::new("indexer").unwrap().into(),
        "documents:read",
        |b| b,
    )
}

fn document() -> Resource {
    Resource::new("Baton::Document", "d-1").unwrap()
}

fn decide(
    policy: &CedarPolicy,
    principal: &Principal,
    action: &str,
) -> Result<Decision, PolicyError> {
    policy.decide_for(principal, None, &Action::new(action).unwrap(), &document())
}

fn not_permitted() -> Decision {
    Decision::Deny(Denial::NotPermitted)
}

fn forbidden(id: &str) -> Decision {
    Decision::Deny(Denial::Forbidden {
        policies: vec![id.to_owned()],
    })
}

#[test]
fn a_human_reads_writes_and_deletes_as_an_editor() {
    let policy = reference_policy();
    let alice = human();
    for action in ["read", "write", "delete"] {
        assert_eq!(
            decide(&policy, &alice, action).unwrap(),
            Decision::Allow,
            "{action}"
        );
    }
    // Without the editor role, reading only.
    let reader = principal(alice_id_of(&alice), "documents:read documents:write", |b| b);
    assert_eq!(decide(&policy, &reader, "read").unwrap(), Decision::Allow);
    assert_eq!(decide(&policy, &reader, "delete").unwrap(), not_permitted());
    // Without the scope, nothing.
    let unscoped = principal(alice_id_of(&alice), "profile", |b| {
        b.role(Role::new("editor").unwrap())
    });
    assert_eq!(decide(&policy, &unscoped, "read").unwrap(), not_permitted());
    assert_eq!(
        decide(&policy, &unscoped, "delete").unwrap(),
        not_permitted()
    );
}

fn alice_id_of(principal: &Principal) -> principal::PrincipalId {
    principal.id().clone()
}

#[test]
fn an_agent_reads_for_its_human_and_never_deletes() {
    let policy = reference_policy();
    let delegated = agent_for_human();
    assert_eq!(
        decide(&policy, &delegated, "read").unwrap(),
        Decision::Allow
    );
    assert_eq!(
        decide(&policy, &delegated, "delete").unwrap(),
        forbidden("agents-never-delete")
    );
    // The human is an editor, but the role is hers, not her agent's.
    assert_eq!(
        decide(&policy, &delegated, "write").unwrap(),
        not_permitted()
    );
}

#[test]
fn an_agent_alone_neither_reads_nor_deletes() {
    let policy = reference_policy();
    let alone = agent_alone();
    assert_eq!(decide(&policy, &alone, "read").unwrap(), not_permitted());
    assert_eq!(decide(&policy, &alone, "write").unwrap(), not_permitted());
    assert_eq!(
        decide(&policy, &alone, "delete").unwrap(),
        forbidden("agents-never-delete")
    );
}

#[test]
fn a_service_reads_only() {
    let policy = reference_policy();
    let indexer = service();
    assert_eq!(decide(&policy, &indexer, "read").unwrap(), Decision::Allow);
    assert_eq!(decide(&policy, &indexer, "write").unwrap(), not_permitted());
    assert_eq!(
        decide(&policy, &indexer, "delete").unwrap(),
        not_permitted()
    );
}

#[test]
fn an_agent_acting_for_an_agent_is_not_acting_for_a_human() {
    let policy = reference_policy();
    // An agent acting for another agent: no human in the chain.
    let chain = principal(agent_id(8), "documents:read", |b| {
        b.actor(Actor::new(agent_id(9)))
    });
    assert_eq!(decide(&policy, &chain, "read").unwrap(), not_permitted());
}

#[test]
fn tenant_chain_and_caller_reach_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("tenant.cedar");
    std::fs::write(
        &policies,
        r#"
@id("acme-through-the-edge")
permit (principal, action == Baton::Action::"read", resource is Baton::Document)
when {
  principal in Baton::Tenant::"acme" &&
  context has caller &&
  context.caller == Baton::Workload::"svc-edge" &&
  context.caller.pattern == "passport" &&
  context.depth <= 1
};
"#,
    )
    .unwrap();
    let policy = CedarPolicy::load(schema_path(), [&policies]).unwrap();
    let edge = Caller::new(
        CallerIdentity::Service(ServiceId::new("edge").unwrap()),
        Pattern::Passport,
    );
    let read = Action::new("read").unwrap();
    let in_acme = |build: fn(principal::PrincipalBuilder) -> principal::PrincipalBuilder| {
        principal(alice(), "documents:read", move |b| {
            build(b.tenant(Tenant::new("acme").unwrap()))
        })
    };
    // The human in acme, called by the edge over a passport.
    let human = in_acme(|b| b);
    assert_eq!(
        policy
            .decide_for(&human, Some(&edge), &read, &document())
            .unwrap(),
        Decision::Allow
    );
    // Her agent is in acme through her.
    let agent = in_acme(|b| b.actor(Actor::new(agent_id(7))));
    assert_eq!(
        policy
            .decide_for(&agent, Some(&edge), &read, &document())
            .unwrap(),
        Decision::Allow
    );
    // Two actors: deeper than the policy allows.
    let deep = in_acme(|b| {
        b.actor(Actor::new(agent_id(7)))
            .actor(Actor::new(agent_id(9)))
    });
    assert_eq!(
        policy
            .decide_for(&deep, Some(&edge), &read, &document())
            .unwrap(),
        not_permitted()
    );
    // No caller, another caller, another pattern, another tenant: denied.
    assert_eq!(
        policy.decide_for(&human, None, &read, &document()).unwrap(),
        not_permitted()
    );
    let other = Caller::new(
        CallerIdentity::Service(ServiceId::new("other").unwrap()),
        Pattern::Passport,
    );
    assert_eq!(
        policy
            .decide_for(&human, Some(&other), &read, &document())
            .unwrap(),
        not_permitted()
    );
    let minted = Caller::new(
        CallerIdentity::Service(ServiceId::new("edge").unwrap()),
        Pattern::InternalJwt,
    );
    assert_eq!(
        policy
            .decide_for(&human, Some(&minted), &read, &document())
            .unwrap(),
        not_permitted()
    );
    let globex = principal(alice(), "documents:read", |b| {
        b.tenant(Tenant::new("globex").unwrap())
    });
    assert_eq!(
        policy
            .decide_for(&globex, Some(&edge), &read, &document())
            .unwrap(),
        not_permitted()
    );
}

#[test]
fn requests_the_schema_does_not_declare_are_errors() {
    let policy = reference_policy();
    let alice = human();
    // An action the schema does not declare.
    let error = decide(&policy, &alice, "archive").unwrap_err();
    assert!(
        matches!(error, PolicyError::InvalidRequest { .. }),
        "{error}"
    );
    // A resource type it does not declare, and one that is not a Cedar name.
    for kind in ["Baton::Invoice", "not a type!", "Baton::Document::\"x\""] {
        let resource = Resource::new(kind, "d-1").unwrap();
        let error = policy
            .decide_for(&alice, None, &Action::new("read").unwrap(), &resource)
            .unwrap_err();
        assert!(
            matches!(error, PolicyError::InvalidRequest { .. }),
            "{kind}: {error}"
        );
        assert_eq!(error.reason(), "policy_invalid_request");
    }
}

#[test]
fn a_policy_that_fails_to_evaluate_refuses_instead_of_being_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("overflow.cedar");
    // Cedar alone skips the failing forbid and allows; the adapter refuses.
    std::fs::write(
        &policies,
        r#"
@id("permit-all")
permit (principal, action, resource);

@id("overflowing-forbid")
forbid (principal, action, resource) when { context.depth * 9223372036854775807 > 1 };
"#,
    )
    .unwrap();
    let policy = CedarPolicy::load(schema_path(), [&policies]).unwrap();
    // Depth 0: no overflow, the permit holds.
    assert_eq!(decide(&policy, &human(), "read").unwrap(), Decision::Allow);
    // Depth 1 overflows nothing either (1 × max), depth 2 does.
    let deep = principal(alice(), "documents:read", |b| {
        b.actor(Actor::new(agent_id(7)))
            .actor(Actor::new(agent_id(9)))
    });
    match decide(&policy, &deep, "read").unwrap_err() {
        PolicyError::Evaluation { policies, detail } => {
            assert_eq!(policies, ["overflowing-forbid"]);
            assert!(detail.contains("overflowing-forbid"), "{detail}");
        }
        other => panic!("expected an evaluation error, got {other}"),
    }
}

#[test]
fn a_malformed_policy_file_names_the_file_and_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let good = reference_dir().join("policies.cedar");
    let broken = dir.path().join("broken.cedar");
    // Line 3 holds the error: `resource` is missing.
    std::fs::write(
        &broken,
        "// a comment\npermit (principal, action, resource);\npermit (principal, action == Baton::Action::\"read\",);\n",
    )
    .unwrap();
    let error = CedarPolicy::load(schema_path(), [&good, &broken]).unwrap_err();
    match &error {
        CedarLoadError::PolicySyntax { path, location, .. } => {
            assert_eq!(path, &broken);
            assert_eq!(location.unwrap().line, 3, "{error}");
        }
        other => panic!("expected a syntax error, got {other}"),
    }
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("{}:3:", broken.display())),
        "{message}"
    );
    assert_eq!(error.reason(), "policy_syntax");

    // A file that is not there, and no file at all.
    let missing = dir.path().join("missing.cedar");
    let error = CedarPolicy::load(schema_path(), [&missing]).unwrap_err();
    assert!(
        matches!(&error, CedarLoadError::Read { path, .. } if path == &missing),
        "{error}"
    );
    let error = CedarPolicy::load(schema_path(), Vec::<PathBuf>::new()).unwrap_err();
    assert!(matches!(error, CedarLoadError::NoPolicyFiles));
}

#[test]
fn a_policy_failing_schema_validation_names_the_file_and_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let good = reference_dir().join("policies.cedar");
    let invalid = dir.path().join("invalid.cedar");
    // Agents have no `department` attribute in the schema; the policy is on line 4.
    std::fs::write(
        &invalid,
        "// agents of the sales department\n\n@id(\"sales-agents\")\npermit (principal is Baton::Agent, action, resource) when { principal.department == \"sales\" };\n",
    )
    .unwrap();
    let error = CedarPolicy::load(schema_path(), [&good, &invalid]).unwrap_err();
    match &error {
        CedarLoadError::Validation {
            path,
            policy,
            location,
            ..
        } => {
            assert_eq!(path, &invalid);
            assert_eq!(policy, "sales-agents");
            assert_eq!(location.unwrap().line, 4, "{error}");
        }
        other => panic!("expected a validation error, got {other}"),
    }
    assert!(error.to_string().contains("\"sales-agents\""), "{error}");

    // Without an @id, the policy is named after its file and place in it.
    std::fs::write(
        &invalid,
        "permit (principal, action == Baton::Action::\"archive\", resource);\n",
    )
    .unwrap();
    let error = CedarPolicy::load(schema_path(), [&invalid]).unwrap_err();
    assert!(
        matches!(&error, CedarLoadError::Validation { policy, .. } if policy == "invalid.cedar#policy0"),
        "{error}"
    );

    // The same @id twice.
    std::fs::write(
        &invalid,
        "@id(\"humans-read\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
    let error = CedarPolicy::load(schema_path(), [&good, &invalid]).unwrap_err();
    assert!(
        matches!(&error, CedarLoadError::DuplicatePolicyId { policy, .. } if policy == "humans-read"),
        "{error}"
    );
}

#[test]
fn a_schema_without_baton_entities_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.cedarschema");
    std::fs::write(
        &schema,
        "namespace Baton { entity Human; entity Document; }\n",
    )
    .unwrap();
    let error = CedarPolicy::load(&schema, [reference_dir().join("policies.cedar")]).unwrap_err();
    assert!(
        matches!(&error, CedarLoadError::Schema { path, detail, .. } if path == &schema && detail.contains("Baton::Agent")),
        "{error}"
    );
    std::fs::write(&schema, "namespace Baton {\n  entity Human in [;\n}\n").unwrap();
    let error = CedarPolicy::load(&schema, [reference_dir().join("policies.cedar")]).unwrap_err();
    assert!(
        matches!(&error, CedarLoadError::Schema { location: Some(location), .. } if location.line == 2),
        "{error}"
    );
}

#[test]
fn a_reload_with_a_syntax_error_keeps_the_old_policies_serving() {
    let (_dir, schema, policies) = copied_reference();
    let policy = CedarPolicy::load(&schema, [&policies]).unwrap();
    let delegated = agent_for_human();
    assert_eq!(
        decide(&policy, &delegated, "read").unwrap(),
        Decision::Allow
    );

    std::fs::write(&policies, "forbid (principal, action, resource) when {").unwrap();
    let error = policy.reload().unwrap_err();
    assert!(
        matches!(&error, CedarLoadError::PolicySyntax { path, .. } if path == &policies),
        "{error}"
    );
    assert_eq!(policy.generation(), 1);
    assert_eq!(
        decide(&policy, &delegated, "read").unwrap(),
        Decision::Allow
    );

    // A set that parses but fails validation is refused the same way.
    std::fs::write(
        &policies,
        "forbid (principal, action, resource) when { context.nonexistent };",
    )
    .unwrap();
    let error = policy.reload().unwrap_err();
    assert!(
        matches!(error, CedarLoadError::Validation { .. }),
        "{error}"
    );
    // So is a broken schema.
    std::fs::copy(reference_dir().join("policies.cedar"), &policies).unwrap();
    std::fs::write(&schema, "namespace Baton {").unwrap();
    let error = policy.reload().unwrap_err();
    assert!(matches!(error, CedarLoadError::Schema { .. }), "{error}");
    assert_eq!(policy.generation(), 1);
    assert_eq!(
        decide(&policy, &delegated, "read").unwrap(),
        Decision::Allow
    );
    assert_eq!(
        decide(&policy, &delegated, "delete").unwrap(),
        forbidden("agents-never-delete")
    );
}

#[test]
fn a_successful_reload_changes_decisions() {
    let (_dir, schema, policies) = copied_reference();
    let policy = CedarPolicy::load(&schema, [&policies]).unwrap();
    let delegated = agent_for_human();
    assert_eq!(
        decide(&policy, &delegated, "read").unwrap(),
        Decision::Allow
    );

    let mut text = std::fs::read_to_string(&policies).unwrap();
    text.push_str(
        "\n@id(\"agents-paused\")\nforbid (principal is Baton::Agent, action, resource);\n",
    );
    std::fs::write(&policies, text).unwrap();
    assert_eq!(policy.reload().unwrap(), 2);
    assert_eq!(policy.generation(), 2);
    assert_eq!(
        decide(&policy, &delegated, "read").unwrap(),
        forbidden("agents-paused")
    );
    // The human is unaffected.
    assert_eq!(decide(&policy, &human(), "read").unwrap(), Decision::Allow);
}
