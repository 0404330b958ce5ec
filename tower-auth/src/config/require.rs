//! `[require]`: the route requirement table of the [`RequireLayer`](crate::require::RequireLayer)
//! (issue 11 item 1) from the file.
//!
//! ```toml
//! [[require.routes]]
//! path = "/documents"
//! prefix = true                       # every path that starts with it; default: exactly it
//! scopes = ["documents:read"]         # every one of them
//! agents_on_behalf_of = ["human"]     # an agent only for a human
//! max_delegation_depth = 1
//!
//! [[require.routes]]
//! path = "/admin/"
//! prefix = true
//! scopes = ["admin"]
//! no_agent = true
//! [[require.routes.any_of]]           # and one of these
//! roles = ["admin"]                   # held by the subject, nobody acting for it
//! [[require.routes.any_of]]
//! caller = "spiffe://prod.example/ops"
//! [require.routes.not]                # and not this
//! tenant = "sandbox"
//!
//! [require.otherwise]                 # every other path; without it they are refused
//! authenticated = true
//! ```
//!
//! Every key of a rule is one [`Requirement`] constructor, and a rule requires all of
//! the keys it has: `authenticated = true` ([`Requirement::authenticated`], alone),
//! `scopes`, `roles` ([`Requirement::role`]: refused while someone acts for the subject),
//! `delegated_roles` ([`Requirement::delegated_role`]: the subject's role counts whoever
//! acts), `tenant`, `no_agent = true`, `agents_on_behalf_of` and `acting_kind` (kinds:
//! `human`, `agent`, `service`), `max_delegation_depth`, `caller` (a SPIFFE ID) and
//! `caller_trust_domain`; composed with `any_of` and `all_of` (arrays of rules) and `not`
//! (one rule). A rule that requires nothing, or an empty list, is refused rather than
//! read as "allow" or "deny all".

use principal::{Kind, Role, Tenant};
use serde::Deserialize;

use super::locate::FieldPath;
use super::sections::Refusal;
use crate::peer::{SpiffeId, TrustDomain};
use crate::require::{RequireError, Requirement, RouteRequirements};

/// `[require]`: per-path rules, and what every other path requires (refused without).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RequireSection {
    #[serde(default)]
    routes: Vec<Rule>,
    #[serde(default)]
    otherwise: Option<Rule>,
}

/// One rule: every key it has must hold. `path` and `prefix` only on a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    prefix: Option<bool>,
    #[serde(default)]
    authenticated: Option<bool>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    delegated_roles: Option<Vec<String>>,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    no_agent: Option<bool>,
    #[serde(default)]
    agents_on_behalf_of: Option<Vec<Kind>>,
    #[serde(default)]
    acting_kind: Option<Vec<Kind>>,
    #[serde(default)]
    max_delegation_depth: Option<usize>,
    #[serde(default)]
    caller: Option<String>,
    #[serde(default)]
    caller_trust_domain: Option<String>,
    #[serde(default)]
    any_of: Option<Vec<Rule>>,
    #[serde(default)]
    all_of: Option<Vec<Rule>>,
    #[serde(default)]
    not: Option<Box<Rule>>,
}

pub(super) fn require(section: &RequireSection) -> Result<RouteRequirements, Refusal> {
    let at = FieldPath::default().key("require");
    if section.routes.is_empty() && section.otherwise.is_none() {
        return Err(Refusal::at(
            at,
            "no_routes",
            "a [require] section with neither routes nor otherwise refuses every request",
        ));
    }
    let mut table = RouteRequirements::new();
    for (index, route) in section.routes.iter().enumerate() {
        let route_at = at.clone().key("routes").index(index);
        let path = route.path.as_deref().ok_or_else(|| {
            Refusal::at(
                route_at.clone().key("path"),
                "missing_path",
                "a route needs the path it applies to",
            )
        })?;
        let requirement = requirement(route, &route_at)?;
        table = if route.prefix == Some(true) {
            table.prefix(path, requirement)
        } else {
            table.path(path, requirement)
        }
        .map_err(|error| refused(route_at.clone().key("path"), &error))?;
    }
    if let Some(otherwise) = &section.otherwise {
        let otherwise_at = at.key("otherwise");
        not_a_route(otherwise, &otherwise_at)?;
        table = table.otherwise(requirement(otherwise, &otherwise_at)?);
    }
    Ok(table)
}

fn refused(at: FieldPath, error: &RequireError) -> Refusal {
    Refusal::at(at, error.reason(), error)
}

/// `path` and `prefix` belong to a route, not to a rule inside one.
fn not_a_route(rule: &Rule, at: &FieldPath) -> Result<(), Refusal> {
    for (key, present) in [
        ("path", rule.path.is_some()),
        ("prefix", rule.prefix.is_some()),
    ] {
        if present {
            return Err(Refusal::at(
                at.clone().key(key),
                "path_not_on_a_route",
                format!("{key} applies to a [[require.routes]] entry only"),
            ));
        }
    }
    Ok(())
}

/// A list given must name something: an empty one would mean "nothing to check" or
/// "nobody passes", and the file should say which.
fn non_empty<'a, T>(
    list: &'a Option<Vec<T>>,
    at: &FieldPath,
    key: &str,
) -> Result<Option<&'a [T]>, Refusal> {
    match list {
        Some(items) if items.is_empty() => Err(Refusal::at(
            at.clone().key(key),
            "empty_list",
            format!("{key} is empty: leave it out, or name at least one"),
        )),
        Some(items) => Ok(Some(items)),
        None => Ok(None),
    }
}

/// Only `true` means something for a flag; `false` is refused so it never reads as a
/// loosening that does not happen.
fn flag(value: Option<bool>, at: &FieldPath, key: &str) -> Result<bool, Refusal> {
    match value {
        Some(false) => Err(Refusal::at(
            at.clone().key(key),
            "false_flag",
            format!("{key} = false requires nothing: leave it out"),
        )),
        Some(true) => Ok(true),
        None => Ok(false),
    }
}

fn requirement(rule: &Rule, at: &FieldPath) -> Result<Requirement, Refusal> {
    let mut parts: Vec<Requirement> = Vec::new();
    let authenticated = flag(rule.authenticated, at, "authenticated")?;
    if let Some(scopes) = non_empty(&rule.scopes, at, "scopes")? {
        // One at a time, so a malformed scope is named with its index.
        for (index, scope) in scopes.iter().enumerate() {
            Requirement::scopes([scope.as_str()])
                .map_err(|error| refused(at.clone().key("scopes").index(index), &error))?;
        }
        parts.push(
            Requirement::scopes(scopes.iter().map(String::as_str))
                .map_err(|error| refused(at.clone().key("scopes"), &error))?,
        );
    }
    for (key, delegated) in [("roles", false), ("delegated_roles", true)] {
        let list = if delegated {
            &rule.delegated_roles
        } else {
            &rule.roles
        };
        for (index, name) in non_empty(list, at, key)?
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let role = Role::new(name).map_err(|error| {
                Refusal::at(at.clone().key(key).index(index), error.reason(), &error)
            })?;
            parts.push(if delegated {
                Requirement::delegated_role(role)
            } else {
                Requirement::role(role)
            });
        }
    }
    if let Some(tenant) = &rule.tenant {
        let tenant = Tenant::new(tenant)
            .map_err(|error| Refusal::at(at.clone().key("tenant"), error.reason(), &error))?;
        parts.push(Requirement::tenant(tenant));
    }
    if flag(rule.no_agent, at, "no_agent")? {
        parts.push(Requirement::no_agent());
    }
    if let Some(kinds) = non_empty(&rule.agents_on_behalf_of, at, "agents_on_behalf_of")? {
        parts.push(Requirement::agents_on_behalf_of(kinds.iter().copied()));
    }
    if let Some(kinds) = non_empty(&rule.acting_kind, at, "acting_kind")? {
        parts.push(Requirement::acting_kind(kinds.iter().copied()));
    }
    if let Some(depth) = rule.max_delegation_depth {
        parts.push(Requirement::max_delegation_depth(depth));
    }
    if let Some(caller) = &rule.caller {
        let id = SpiffeId::new(caller)
            .map_err(|error| Refusal::at(at.clone().key("caller"), error.reason(), &error))?;
        parts.push(Requirement::caller(id));
    }
    if let Some(domain) = &rule.caller_trust_domain {
        let domain = TrustDomain::new(domain).map_err(|error| {
            Refusal::at(
                at.clone().key("caller_trust_domain"),
                error.reason(),
                &error,
            )
        })?;
        parts.push(Requirement::caller_in(domain));
    }
    for (key, any) in [("all_of", false), ("any_of", true)] {
        let list = if any { &rule.any_of } else { &rule.all_of };
        let Some(rules) = non_empty(list, at, key)? else {
            continue;
        };
        let mut combined: Option<Requirement> = None;
        for (index, inner) in rules.iter().enumerate() {
            let inner_at = at.clone().key(key).index(index);
            not_a_route(inner, &inner_at)?;
            let inner = requirement(inner, &inner_at)?;
            combined = Some(match combined {
                None => inner,
                Some(so_far) if any => so_far.or(inner),
                Some(so_far) => so_far.and(inner),
            });
        }
        parts.extend(combined);
    }
    if let Some(inner) = &rule.not {
        let inner_at = at.clone().key("not");
        not_a_route(inner, &inner_at)?;
        parts.push(!requirement(inner, &inner_at)?);
    }
    if authenticated && !parts.is_empty() {
        return Err(Refusal::at(
            at.clone().key("authenticated"),
            "authenticated_with_conditions",
            "authenticated = true stands alone; a rule with conditions already requires a Principal",
        ));
    }
    let mut parts = parts.into_iter();
    match parts.next() {
        Some(first) => Ok(parts.fold(first, Requirement::and)),
        None if authenticated => Ok(Requirement::authenticated()),
        None => Err(Refusal::at(
            at.clone(),
            "empty_requirement",
            "a rule must require something (authenticated = true for any verified Principal)",
        )),
    }
}
