//! A [`Policy`] in the Cedar language (feature `cedar`): policies and their schema from
//! files, validated against the schema, reloadable without a restart.
//!
//! # What Cedar sees
//!
//! The verified Principal becomes Cedar entities in the `Baton` namespace, so the schema
//! must declare them as the reference schema `examples/config/cedar/schema.cedarschema`
//! does (loading checks that the types are there):
//!
//! | Baton | Cedar |
//! | --- | --- |
//! | the subject (a `Human`, `Agent` or `Service`) | an entity `Baton::Human::"hm-…"`, `Baton::Agent::"am-…"` or `Baton::Service::"svc-…"`, attribute `roles` (its roles), parent `Baton::Tenant::"…"` when it has a tenant |
//! | each actor of the delegation chain, oldest first | an entity of its kind, `in` the party it acts for (the subject, or the actor before it), attribute `roles` empty: a role of the human never passes to its agent |
//! | the acting party ([`Principal::acting`]) | the request's `principal` (the last actor, or the subject) |
//! | the action | `Baton::Action::"<action>"` |
//! | the resource | `<kind>::"<id>"` ([`Resource::kind`] is the Cedar type name) |
//! | the calling workload ([`Caller`]) | `context.caller`, an entity `Baton::Workload::"svc-…"` or `Baton::Workload::"spiffe://…"`, attribute `pattern` |
//! | the effective scopes | `context.scopes` |
//! | delegation | `context.delegated` (an actor acts), `context.depth` (how many) |
//! | the human on whose authority the request runs | `context.human`, present when the subject is a `Human` |
//!
//! So "agents may read documents on behalf of their human, never delete" is
//!
//! ```text
//! permit (principal is Baton::Agent, action == Baton::Action::"read", resource is Baton::Document)
//! when { context has human && principal in context.human };
//! forbid (principal is Baton::Agent, action == Baton::Action::"delete", resource);
//! ```
//!
//! # Files, validation, reload
//!
//! [`CedarPolicy::load`] reads a schema file (Cedar schema syntax) and one or more policy
//! files. Each policy is named by its `@id("…")` annotation, or `<file name>#policyN`;
//! the set is validated against the schema in strict mode. Every failure is a
//! [`CedarLoadError`] naming the file, and the line, column and policy where Cedar says.
//! Templates are refused (they would need linking).
//!
//! [`CedarPolicy::reload`] reads the same files again and swaps the new set in (an
//! `ArcSwap`: decisions in flight finish on the set they started with, none waits). A
//! reload that fails keeps the last good set serving, logs why and returns the error.
//!
//! # Failing closed
//!
//! Cedar skips a policy whose evaluation fails; a skipped `forbid` could then let a
//! request through. This adapter answers [`PolicyError::Evaluation`] instead whenever
//! any policy failed, and the layer refuses the request. A request Cedar cannot express
//! (an action or resource type the schema does not declare) is
//! [`PolicyError::InvalidRequest`], refused as well.
//!
//! # Example
//!
//! ```
//! use principal::{Actor, AgentId, HumanId, Issuer, Principal, ScopeSet, Timestamp, Uuid};
//! use tower_auth::policy::cedar::CedarPolicy;
//! use tower_auth::policy::{Action, Decision, Denial, Resource};
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/config/cedar");
//! let policy = CedarPolicy::load(
//!     format!("{dir}/schema.cedarschema"),
//!     [format!("{dir}/policies.cedar")],
//! )?;
//!
//! // Alice, through her assistant agent, with the scope to read documents.
//! let issuer = Issuer::new("https://idp.example.com")?;
//! let agent = Actor::new(AgentId::new(Uuid::from_u128(7)).into());
//! let alice = Principal::builder(HumanId::derive(&issuer, "alice").into(), issuer, "alice")
//!     .scopes(ScopeSet::parse("documents:read")?)
//!     .expires_at(Timestamp::from_unix_seconds(i64::MAX))
//!     .actor(agent)
//!     .build()?;
//!
//! let document = Resource::new("Baton::Document", "d-1")?;
//! let read = policy.decide_for(&alice, None, &Action::new("read")?, &document)?;
//! assert_eq!(read, Decision::Allow);
//! let delete = policy.decide_for(&alice, None, &Action::new("delete")?, &document)?;
//! assert!(matches!(delete, Decision::Deny(Denial::Forbidden { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request,
    RestrictedExpression, Schema,
};
use principal::{Kind, Principal};

use super::{Action, DecideFuture, Decision, Denial, Outcome, Policy, PolicyError, Resource};
use crate::verified::{Caller, VerifiedPrincipal};

mod load;

pub use load::{CedarLoadError, Location};

/// One validated schema and policy set, as loaded together.
struct Loaded {
    schema: Schema,
    policies: PolicySet,
    generation: u64,
}

/// The Cedar type names the adapter builds, parsed once.
struct Names {
    human: EntityTypeName,
    agent: EntityTypeName,
    service: EntityTypeName,
    tenant: EntityTypeName,
    workload: EntityTypeName,
    action: EntityTypeName,
}

impl Names {
    /// The names, or what Cedar says is wrong with one (boxed by `to_string`: Cedar's
    /// parse error is large and this path is never taken).
    fn new() -> Result<Self, String> {
        let name = |name: &str| EntityTypeName::from_str(name).map_err(|error| error.to_string());
        Ok(Names {
            human: name("Baton::Human")?,
            agent: name("Baton::Agent")?,
            service: name("Baton::Service")?,
            tenant: name("Baton::Tenant")?,
            workload: name("Baton::Workload")?,
            action: name("Baton::Action")?,
        })
    }

    fn party(&self, kind: Kind) -> &EntityTypeName {
        match kind {
            Kind::Human => &self.human,
            Kind::Agent => &self.agent,
            Kind::Service => &self.service,
        }
    }
}

/// A Cedar policy set and its schema, loaded from files and reloadable; a [`Policy`] for
/// the [`PolicyLayer`](super::PolicyLayer). See the [module docs](self) for the entities it
/// builds and an example.
pub struct CedarPolicy {
    schema_path: PathBuf,
    policy_paths: Vec<PathBuf>,
    loaded: ArcSwap<Loaded>,
    names: Names,
    authorizer: Authorizer,
}

impl CedarPolicy {
    /// Load the schema at `schema` and the policies in `policies`, validated against it.
    ///
    /// ```
    /// use std::io::Write;
    /// use tower_auth::policy::cedar::{CedarLoadError, CedarPolicy};
    ///
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/config/cedar");
    /// let mut broken = tempfile::NamedTempFile::new()?;
    /// writeln!(broken, "permit (principal, action, resource)\nwhen {{ context.scopes. }};")?;
    /// let error = CedarPolicy::load(format!("{dir}/schema.cedarschema"), [broken.path()])
    ///     .err()
    ///     .unwrap();
    /// assert!(matches!(error, CedarLoadError::PolicySyntax { location: Some(_), .. }));
    /// assert!(error.to_string().starts_with(&broken.path().display().to_string()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(
        schema: impl Into<PathBuf>,
        policies: impl IntoIterator<Item = impl Into<PathBuf>>,
    ) -> Result<Self, CedarLoadError> {
        let schema_path = schema.into();
        let policy_paths: Vec<PathBuf> = policies.into_iter().map(Into::into).collect();
        let names = Names::new().map_err(|error| CedarLoadError::Schema {
            path: schema_path.clone(),
            location: None,
            detail: format!("Baton's entity type names: {error}"),
        })?;
        let schema = load::load_schema(&schema_path)?;
        let policies = load::load_policies(&schema, &policy_paths)?;
        Ok(CedarPolicy {
            schema_path,
            policy_paths,
            loaded: ArcSwap::from_pointee(Loaded {
                schema,
                policies,
                generation: 1,
            }),
            names,
            authorizer: Authorizer::new(),
        })
    }

    /// Read the schema and policy files again and serve the new set. On any failure the
    /// set already serving stays, the failure is logged (warn) and returned. Returns the
    /// new [`generation`](Self::generation).
    pub fn reload(&self) -> Result<u64, CedarLoadError> {
        let attempt = load::load_schema(&self.schema_path).and_then(|schema| {
            let policies = load::load_policies(&schema, &self.policy_paths)?;
            Ok((schema, policies))
        });
        let current = self.loaded.load();
        match attempt {
            Ok((schema, policies)) => {
                let generation = current.generation + 1;
                self.loaded.store(Arc::new(Loaded {
                    schema,
                    policies,
                    generation,
                }));
                tracing::info!(generation, "cedar policies reloaded");
                Ok(generation)
            }
            Err(error) => {
                tracing::warn!(
                    generation = current.generation,
                    reason = error.reason(),
                    error = %error,
                    "cedar policy reload failed: the last good policy set keeps serving"
                );
                Err(error)
            }
        }
    }

    /// How many times a policy set was loaded: 1 after [`load`](Self::load), one more per
    /// successful [`reload`](Self::reload).
    pub fn generation(&self) -> u64 {
        self.loaded.load().generation
    }

    /// Decide for `principal`, called by `caller`: what [`Policy::decide`] does with a
    /// [`VerifiedPrincipal`], for code (and tests) that hold the parts.
    pub fn decide_for(
        &self,
        principal: &Principal,
        caller: Option<&Caller>,
        action: &Action,
        resource: &Resource,
    ) -> Outcome {
        let loaded = self.loaded.load();
        let (acting, entities, context) = self.entities(principal, caller)?;
        let action = EntityUid::from_type_name_and_id(
            self.names.action.clone(),
            EntityId::new(action.as_str()),
        );
        let resource_type = EntityTypeName::from_str(resource.kind()).map_err(invalid)?;
        let resource =
            EntityUid::from_type_name_and_id(resource_type, EntityId::new(resource.id()));
        let request = Request::new(acting, action, resource, context, Some(&loaded.schema))
            .map_err(invalid)?;
        let entities = Entities::from_entities(entities, Some(&loaded.schema)).map_err(invalid)?;
        let response = self
            .authorizer
            .is_authorized(&request, &loaded.policies, &entities);
        let mut errors = response.diagnostics().errors().peekable();
        if let Some(first) = errors.peek() {
            let detail = first.to_string();
            let policies = errors
                .map(
                    |cedar_policy::AuthorizationError::PolicyEvaluationError(error)| {
                        error.policy_id().to_string()
                    },
                )
                .collect();
            return Err(PolicyError::Evaluation { policies, detail });
        }
        match response.decision() {
            cedar_policy::Decision::Allow => Ok(Decision::Allow),
            cedar_policy::Decision::Deny => {
                let policies: Vec<String> = response
                    .diagnostics()
                    .reason()
                    .map(ToString::to_string)
                    .collect();
                Ok(Decision::Deny(if policies.is_empty() {
                    Denial::NotPermitted
                } else {
                    Denial::Forbidden { policies }
                }))
            }
        }
    }

    /// The acting party's uid, every party's entity (and the caller's), and the context.
    fn entities(
        &self,
        principal: &Principal,
        caller: Option<&Caller>,
    ) -> Result<(EntityUid, Vec<Entity>, Context), PolicyError> {
        let names = &self.names;
        let party = |kind: Kind, id: &principal::PrincipalId| {
            EntityUid::from_type_name_and_id(
                names.party(kind).clone(),
                EntityId::new(id.to_string()),
            )
        };
        let roles = |roles: &[principal::Role]| {
            RestrictedExpression::new_set(
                roles
                    .iter()
                    .map(|role| RestrictedExpression::new_string(role.as_str().to_owned())),
            )
        };
        let mut entities = Vec::with_capacity(principal.delegation().len() + 2);
        let subject = party(principal.kind(), principal.id());
        let mut parents = HashSet::new();
        if let Some(tenant) = principal.tenant() {
            parents.insert(EntityUid::from_type_name_and_id(
                names.tenant.clone(),
                EntityId::new(tenant.as_str()),
            ));
        }
        entities.push(
            Entity::new(
                subject.clone(),
                HashMap::from([("roles".to_owned(), roles(principal.roles()))]),
                parents,
            )
            .map_err(invalid)?,
        );
        let mut acting = subject.clone();
        for actor in principal.delegation() {
            let uid = party(actor.kind(), actor.id());
            entities.push(
                Entity::new(
                    uid.clone(),
                    HashMap::from([("roles".to_owned(), roles(&[]))]),
                    HashSet::from([acting]),
                )
                .map_err(invalid)?,
            );
            acting = uid;
        }
        let depth = i64::try_from(principal.delegation().len()).unwrap_or(i64::MAX);
        let mut context = vec![
            (
                "scopes".to_owned(),
                RestrictedExpression::new_set(
                    principal
                        .scopes()
                        .iter()
                        .map(|scope| RestrictedExpression::new_string(scope.as_str().to_owned())),
                ),
            ),
            (
                "delegated".to_owned(),
                RestrictedExpression::new_bool(principal.is_delegated()),
            ),
            ("depth".to_owned(), RestrictedExpression::new_long(depth)),
        ];
        if principal.kind() == Kind::Human {
            context.push((
                "human".to_owned(),
                RestrictedExpression::new_entity_uid(subject),
            ));
        }
        if let Some(caller) = caller {
            let uid = EntityUid::from_type_name_and_id(
                names.workload.clone(),
                EntityId::new(caller.identity().to_string()),
            );
            entities.push(
                Entity::new(
                    uid.clone(),
                    HashMap::from([(
                        "pattern".to_owned(),
                        RestrictedExpression::new_string(caller.pattern().as_str().to_owned()),
                    )]),
                    HashSet::new(),
                )
                .map_err(invalid)?,
            );
            context.push((
                "caller".to_owned(),
                RestrictedExpression::new_entity_uid(uid),
            ));
        }
        let context = Context::from_pairs(context).map_err(invalid)?;
        Ok((acting, entities, context))
    }
}

fn invalid(error: impl fmt::Display) -> PolicyError {
    PolicyError::InvalidRequest {
        detail: error.to_string(),
    }
}

impl Policy for CedarPolicy {
    fn decide(
        &self,
        principal: &VerifiedPrincipal,
        action: &Action,
        resource: &Resource,
    ) -> DecideFuture {
        DecideFuture::ready(self.decide_for(
            principal.principal(),
            principal.caller(),
            action,
            resource,
        ))
    }
}

impl fmt::Debug for CedarPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loaded = self.loaded.load();
        f.debug_struct("CedarPolicy")
            .field("schema_path", &self.schema_path)
            .field("policy_paths", &self.policy_paths)
            .field("generation", &loaded.generation)
            .field("policies", &loaded.policies.policies().count())
            .finish_non_exhaustive()
    }
}
