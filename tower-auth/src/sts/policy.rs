//! The exchange decision, a plain function of the verified parties: [`ExchangePolicy`]
//! and [`ActingPolicy`].

use principal::{Actor, Kind, Principal, ScopeSet, Timestamp};
use serde_json::Value;

use super::StsError;

/// Which kinds of actor may act for which kinds of subject.
///
/// The default: an agent or a service for a human, a service for an agent. A human never
/// acts for anyone unless allowed.
///
/// ```
/// use principal::Kind;
/// use tower_auth::sts::ActingPolicy;
///
/// let policy = ActingPolicy::default();
/// assert!(policy.allows(Kind::Agent, Kind::Human));
/// // Refused by default: a human acting for an agent, an agent for a service.
/// assert!(!policy.allows(Kind::Human, Kind::Agent));
/// assert!(!policy.allows(Kind::Agent, Kind::Service));
/// // An operator's own list.
/// let agents_only = ActingPolicy::none().allow(Kind::Agent, Kind::Human);
/// assert!(!agents_only.allows(Kind::Service, Kind::Human));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActingPolicy {
    /// (actor, subject) pairs allowed.
    pairs: Vec<(Kind, Kind)>,
}

impl Default for ActingPolicy {
    fn default() -> Self {
        ActingPolicy::none()
            .allow(Kind::Agent, Kind::Human)
            .allow(Kind::Service, Kind::Human)
            .allow(Kind::Service, Kind::Agent)
    }
}

impl ActingPolicy {
    /// No kind may act for any other.
    pub fn none() -> Self {
        ActingPolicy { pairs: Vec::new() }
    }

    /// Also allows an `actor` kind to act for a `subject` kind.
    #[must_use]
    pub fn allow(mut self, actor: Kind, subject: Kind) -> Self {
        if !self.allows(actor, subject) {
            self.pairs.push((actor, subject));
        }
        self
    }

    /// Whether an `actor` may act for a `subject`.
    pub fn allows(&self, actor: Kind, subject: Kind) -> bool {
        self.pairs.contains(&(actor, subject))
    }
}

/// The rules of an exchange beyond the client's audiences: who may act for whom, whether
/// the subject must name its actor in `may_act`, and the maximum chain depth. Built by
/// [`TokenExchangeServiceBuilder`](super::TokenExchangeServiceBuilder).
#[derive(Clone, Debug)]
pub struct ExchangePolicy {
    pub(super) acting: ActingPolicy,
    pub(super) require_may_act: bool,
    pub(super) max_depth: usize,
}

impl ExchangePolicy {
    /// Who may act for whom.
    pub fn acting(&self) -> &ActingPolicy {
        &self.acting
    }

    /// Whether an actor needs the subject's `may_act` to name it.
    pub fn requires_may_act(&self) -> bool {
        self.require_may_act
    }

    /// The longest delegation chain issued.
    pub fn max_delegation_depth(&self) -> usize {
        self.max_depth
    }

    /// The Principal to mint for `subject`, acted for by `actor` when there is one, with
    /// `requested` scopes (the subject's, within the actor's, when `None`), the actor
    /// recorded with `client_id`. Pure: the verifiers have run, the issuer runs after.
    pub(super) fn decide(
        &self,
        subject: &Principal,
        actor: Option<&Principal>,
        client_id: &str,
        requested: Option<&ScopeSet>,
    ) -> Result<Principal, StsError> {
        // The kind policy holds for the whole chain minted, the actors the subject token
        // already names included (an agent credential resolved to its human, an IdP's
        // `act`), not only for the one added now.
        for earlier in subject.delegation() {
            if !self.acting.allows(earlier.kind(), subject.kind()) {
                return Err(StsError::KindMayNotAct {
                    actor: earlier.kind(),
                    subject: subject.kind(),
                });
            }
        }
        if let Some(actor) = actor {
            self.check_actor(subject, actor)?;
        }
        // What the parties hold together: the subject's effective scopes, within the
        // actor's own (an actor never does for someone what it may not do itself).
        let held = match actor {
            Some(actor) => subject.scopes().intersection(actor.scopes()),
            None => subject.scopes().clone(),
        };
        let scopes = match requested {
            None => held,
            Some(requested) => {
                if let Some(extra) = requested.iter().find(|s| !held.contains(s.as_str())) {
                    return Err(StsError::ScopeWidening {
                        scope: extra.as_str().to_owned(),
                    });
                }
                requested.clone()
            }
        };
        let mut builder = subject
            .to_builder()
            .max_delegation_depth(self.max_depth)
            .scopes(scopes.clone());
        if let Some(actor) = actor {
            builder = builder
                .actor(
                    Actor::new(actor.id().clone())
                        .with_issuer(actor.issuer().clone())
                        .with_subject(actor.subject())
                        .with_client_id(client_id)
                        .with_grant(scopes),
                )
                // Delegation lasts no longer than the actor's own credential.
                .expires_at(min(subject.expires_at(), actor.expires_at()));
        }
        builder
            .build()
            .map_err(|e| StsError::DelegationRefused { reason: e.reason() })
    }

    fn check_actor(&self, subject: &Principal, actor: &Principal) -> Result<(), StsError> {
        if actor.is_delegated() {
            return Err(StsError::ActorDelegated);
        }
        if !self.acting.allows(actor.kind(), subject.kind()) {
            return Err(StsError::KindMayNotAct {
                actor: actor.kind(),
                subject: subject.kind(),
            });
        }
        match subject.may_act() {
            Some(may_act) if !may_act_names(may_act, actor) => {
                return Err(StsError::NotPermittedByMayAct);
            }
            None if self.require_may_act => return Err(StsError::MayActRequired),
            _ => {}
        }
        let depth = subject.delegation().len() + 1;
        if depth > self.max_depth {
            return Err(StsError::DelegationTooDeep {
                depth,
                max: self.max_depth,
            });
        }
        Ok(())
    }
}

fn min(a: Timestamp, b: Timestamp) -> Timestamp {
    if a <= b { a } else { b }
}

/// RFC 8693 §4.4: `may_act` is an object whose `sub` (and `iss`, when present) identify
/// the party allowed to act. `sub` matches the actor's issuer subject or its typed id; an
/// `iss` must be the actor's issuer. Anything else names nobody (fail closed).
fn may_act_names(may_act: &Value, actor: &Principal) -> bool {
    let Some(object) = may_act.as_object() else {
        return false;
    };
    let Some(sub) = object.get("sub").and_then(Value::as_str) else {
        return false;
    };
    let sub_matches = sub == actor.subject() || actor.id().to_string() == sub;
    let iss_matches = match object.get("iss") {
        None => true,
        Some(iss) => iss.as_str() == Some(actor.issuer().as_str()),
    };
    sub_matches && iss_matches
}
