//! `[require]` from a configuration file: the route table it builds answers through the
//! `RequireLayer` (403 `insufficient_scope` naming the scope, deny by default), its
//! composition means what the builders mean, and every malformed rule is refused with
//! the file, the line and the field.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use principal::{
    Actor, AgentId, Audience, ClaimMapping, HumanId, Issuer, Principal, PrincipalId, Role,
    ScopeSet, Tenant, TestClock, Timestamp,
};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_auth::authenticate::AuthenticateLayer;
use tower_auth::config::{ConfigFileError, ConfigFileErrorKind, ServiceConfig};
use tower_auth::jwks::SymmetricKey;
use tower_auth::jwt::{IssuerConfig, JwtVerifier};
use tower_auth::require::{Denial, RequireLayer, RouteRequirements};

const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://edge.baton.internal";
const SECRET: [u8; 32] = [0x42; 32];

const TABLE: &str = r#"
[[require.routes]]
path = "/documents"
prefix = true
scopes = ["documents:read"]
agents_on_behalf_of = ["human"]
max_delegation_depth = 1

[[require.routes]]
path = "/admin"
scopes = ["admin"]
no_agent = true
[[require.routes.any_of]]
roles = ["admin"]
[[require.routes.any_of]]
caller = "spiffe://prod.example/ops"
[require.routes.not]
tenant = "sandbox"

[[require.routes]]
path = "/drafts"
delegated_roles = ["editor"]
acting_kind = ["human", "agent"]
"#;

fn issuer() -> Issuer {
    Issuer::new(ISSUER).unwrap()
}

fn human() -> PrincipalId {
    PrincipalId::Human(HumanId::derive(&issuer(), "alice"))
}

fn agent() -> PrincipalId {
    PrincipalId::Agent(AgentId::derive(&issuer(), "bot"))
}

fn principal(
    subject: PrincipalId,
    scopes: &str,
    roles: &[&str],
    actors: &[PrincipalId],
) -> Principal {
    principal_in(subject, scopes, roles, actors, "acme")
}

fn principal_in(
    subject: PrincipalId,
    scopes: &str,
    roles: &[&str],
    actors: &[PrincipalId],
    tenant: &str,
) -> Principal {
    let mut builder = Principal::builder(subject, issuer(), "subject")
        .scopes(ScopeSet::parse(scopes).unwrap())
        .roles(roles.iter().map(|role| Role::new(role).unwrap()))
        .tenant(Tenant::new(tenant).unwrap())
        .audience(Audience::new("api").unwrap())
        .issued_at(Timestamp::from_unix_seconds(NOW))
        .expires_at(Timestamp::from_unix_seconds(NOW + 300));
    for actor in actors {
        builder = builder.actor(Actor::new(actor.clone()));
    }
    builder.build().unwrap()
}

fn table(text: &str) -> RouteRequirements {
    ServiceConfig::from_toml("conf/service.toml", text)
        .unwrap()
        .require
        .expect("a [require] section")
}

fn refused(text: &str) -> ConfigFileError {
    ServiceConfig::from_toml("conf/service.toml", text).unwrap_err()
}

fn assert_place(error: &ConfigFileError, line: usize, field: &str) {
    assert_eq!(error.line(), Some(line), "{error}");
    assert_eq!(error.field(), field, "{error}");
    let column = error.column().unwrap();
    assert!(
        error
            .to_string()
            .starts_with(&format!("conf/service.toml:{line}:{column}: {field}: ")),
        "{error}"
    );
}

fn verifier() -> Arc<JwtVerifier> {
    let config = IssuerConfig::builder(issuer())
        .audience(Audience::new("api").unwrap())
        .hmac_secrets([SymmetricKey::new(Some("k1"), Algorithm::HS256, SECRET.to_vec()).unwrap()])
        .claim_mapping(ClaimMapping::baton())
        .build()
        .unwrap();
    Arc::new(
        JwtVerifier::builder()
            .issuer(config)
            .clock(Arc::new(TestClock::new(Timestamp::from_unix_seconds(NOW))))
            .build()
            .unwrap(),
    )
}

fn token_of(principal: &Principal) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(
        &header,
        &principal.to_claims(),
        &EncodingKey::from_secret(&SECRET),
    )
    .unwrap()
}

/// One request through authenticate + the config-built require layer.
async fn call(routes: RouteRequirements, path: &str, principal: &Principal) -> Response<String> {
    let service = ServiceBuilder::new()
        .layer(AuthenticateLayer::new(verifier()))
        .layer(RequireLayer::routes(routes))
        .service(service_fn(|_: Request<String>| async {
            Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
        }));
    let request = Request::get(path)
        .header("authorization", format!("Bearer {}", token_of(principal)))
        .body(String::new())
        .unwrap();
    service.oneshot(request).await.unwrap()
}

#[tokio::test]
async fn a_config_built_table_answers_403_for_a_missing_scope_and_passes_with_it() {
    let without = principal(human(), "profile", &[], &[]);
    let response = call(table(TABLE), "/documents/7", &without).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer error="insufficient_scope", scope="documents:read""#
    );

    let with = principal(human(), "documents:read", &[], &[]);
    let response = call(table(TABLE), "/documents/7", &with).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "ok");
}

#[tokio::test]
async fn a_path_the_file_does_not_list_is_refused_unless_otherwise_says() {
    let alice = principal(human(), "documents:read", &[], &[]);
    let response = call(table(TABLE), "/elsewhere", &alice).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer error="insufficient_scope""#
    );

    let open = table(&format!(
        "{TABLE}\n[require.otherwise]\nauthenticated = true\n"
    ));
    assert_eq!(
        call(open, "/elsewhere", &alice).await.status(),
        StatusCode::OK
    );
}

#[test]
fn each_key_means_what_its_builder_means() {
    let routes = table(TABLE);
    let check = |path: &str, principal: &Principal, caller: Option<&str>| {
        let caller = caller.map(|id| id.parse().unwrap());
        routes.find(path).unwrap().check(principal, caller.as_ref())
    };
    let reader = principal(human(), "documents:read", &[], &[]);
    // A prefix route: agents only for a human, one hop at most.
    assert_eq!(check("/documents/a", &reader, None), Ok(()));
    let for_alice = principal(human(), "documents:read", &[], &[agent()]);
    assert_eq!(check("/documents/a", &for_alice, None), Ok(()));
    let alone = principal(agent(), "documents:read", &[], &[]);
    assert_eq!(
        check("/documents/a", &alone, None),
        Err(Denial::AgentNotOnBehalfOfAllowedKind)
    );
    // Without `prefix`, the path is exact.
    assert!(routes.find("/admin/users").is_none());

    // any_of: the role or the ops workload; not: the sandbox tenant.
    let admin = principal(human(), "admin", &["admin"], &[]);
    assert_eq!(check("/admin", &admin, None), Ok(()));
    let plain = principal(human(), "admin", &[], &[]);
    assert_eq!(check("/admin", &plain, None), Err(Denial::MissingRole));
    assert_eq!(
        check("/admin", &plain, Some("spiffe://prod.example/ops")),
        Ok(())
    );
    let sandboxed = principal_in(human(), "admin", &["admin"], &[], "sandbox");
    assert_eq!(check("/admin", &sandboxed, None), Err(Denial::Excluded));
    let admin_agent = principal(human(), "admin", &["admin"], &[agent()]);
    assert_eq!(
        check("/admin", &admin_agent, None),
        Err(Denial::AgentNotAllowed)
    );

    // `roles` is the subject's own; `delegated_roles` lets the agent use its human's.
    let editor_agent = principal(human(), "", &["editor"], &[agent()]);
    assert_eq!(check("/drafts", &editor_agent, None), Ok(()));
    let strict = table("[[require.routes]]\npath = \"/drafts\"\nroles = [\"editor\"]\n");
    assert_eq!(
        strict.find("/drafts").unwrap().check(&editor_agent, None),
        Err(Denial::RoleHeldBySubjectOnly)
    );
}

#[test]
fn a_malformed_scope_is_refused_with_its_line_and_field() {
    let error = refused(
        r#"
[[require.routes]]
path = "/documents"
scopes = [
  "documents:read",
  "documents read",
]
"#,
    );
    assert_eq!(error.kind(), ConfigFileErrorKind::Invalid);
    assert_eq!(error.setting_reason(), Some("malformed_scope"));
    assert_place(&error, 6, "require.routes[0].scopes[1]");

    // Inside a composition too.
    let error = refused(
        "[[require.routes]]\npath = \"/a\"\n[[require.routes.any_of]]\nscopes = [\"ok\"]\n[[require.routes.any_of]]\nscopes = [\"x\\\"y\"]\n",
    );
    assert_eq!(error.setting_reason(), Some("malformed_scope"));
    assert_place(&error, 6, "require.routes[0].any_of[1].scopes[0]");
}

#[test]
fn unknown_keys_and_kinds_are_refused_where_they_are() {
    let error = refused("[[require.routes]]\npath = \"/a\"\nscope = [\"a\"]\n");
    assert_eq!(error.kind(), ConfigFileErrorKind::UnknownField);
    assert_place(&error, 3, "require.routes[0].scope");

    let error =
        refused("[[require.routes]]\npath = \"/a\"\n[require.routes.not]\nno_agents = true\n");
    assert_eq!(error.kind(), ConfigFileErrorKind::UnknownField);
    assert_place(&error, 4, "require.routes[0].not.no_agents");

    let error = refused("[[require.routes]]\npath = \"/a\"\nacting_kind = [\"robot\"]\n");
    assert_eq!(error.kind(), ConfigFileErrorKind::Format);
    assert_eq!(error.line(), Some(3), "{error}");

    let error = refused("[[require.routes]]\npath = \"/a\"\nmax_delegation_depth = -1\n");
    assert_eq!(error.line(), Some(3), "{error}");
}

#[test]
fn a_rule_that_says_nothing_clearly_is_refused() {
    let cases: [(&str, usize, &str, &str); 11] = [
        ("[require]\n", 1, "require", "no_routes"),
        (
            "[[require.routes]]\npath = \"/a\"\n",
            1,
            "require.routes[0]",
            "empty_requirement",
        ),
        (
            "[[require.routes]]\nscopes = [\"a\"]\n",
            1,
            "require.routes[0].path",
            "missing_path",
        ),
        (
            "[[require.routes]]\npath = \"a\"\nno_agent = true\n",
            2,
            "require.routes[0].path",
            "malformed_path",
        ),
        (
            "[[require.routes]]\npath = \"/a\"\nno_agent = true\n[[require.routes]]\npath = \"/a\"\nno_agent = true\n",
            5,
            "require.routes[1].path",
            "duplicate_path",
        ),
        (
            "[[require.routes]]\npath = \"/a\"\nscopes = []\n",
            3,
            "require.routes[0].scopes",
            "empty_list",
        ),
        (
            "[[require.routes]]\npath = \"/a\"\nany_of = []\n",
            3,
            "require.routes[0].any_of",
            "empty_list",
        ),
        (
            "[[require.routes]]\npath = \"/a\"\nno_agent = false\n",
            3,
            "require.routes[0].no_agent",
            "false_flag",
        ),
        (
            "[[require.routes]]\npath = \"/a\"\nauthenticated = true\nscopes = [\"a\"]\n",
            3,
            "require.routes[0].authenticated",
            "authenticated_with_conditions",
        ),
        (
            "[[require.routes]]\npath = \"/a\"\n[require.routes.not]\npath = \"/b\"\nno_agent = true\n",
            4,
            "require.routes[0].not.path",
            "path_not_on_a_route",
        ),
        (
            "[[require.routes]]\npath = \"/a\"\ncaller = \"https://prod.example/ops\"\n",
            3,
            "require.routes[0].caller",
            "spiffe_id_wrong_scheme",
        ),
    ];
    for (text, line, field, reason) in cases {
        let error = refused(text);
        assert_eq!(
            error.kind(),
            ConfigFileErrorKind::Invalid,
            "{text}: {error}"
        );
        assert_eq!(error.setting_reason(), Some(reason), "{text}: {error}");
        assert_place(&error, line, field);
    }
}
