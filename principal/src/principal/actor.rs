//! One link of the delegation chain: [`Actor`].

use compact_str::CompactString;

use crate::error::PrincipalError;
use crate::ids::{Issuer, Kind, PrincipalId};
use crate::limits::{MAX_CLIENT_ID_LEN, MAX_SCOPES, MAX_SUBJECT_LEN};
use crate::scope::ScopeSet;
use crate::validate;

#[cfg(doc)]
use super::Principal;

/// A party acting on the subject's behalf: one link of the delegation chain (an RFC 8693
/// `act` claim).
///
/// `grant` is what the actor may do for its delegator. On an actor you build it is what you
/// set (`None`: no restriction of its own). Inside a [`Principal`] it is always the
/// *effective* grant: the grant set, intersected with its delegator's effective scopes
/// (the subject's scopes for the oldest actor) and with every later link's grant, which is
/// the Principal's [`scopes()`](Principal::scopes). So reading it never overstates what
/// the actor may do, and it reads the same at every hop (the wire carries only effective
/// scopes). The strings are checked when the actor is built into a Principal; a `subject`
/// equal to the id's text form is dropped then (it says nothing more than the id).
///
/// JSON form: `{"id": "am-..", "kind": "agent", "issuer": "..", "subject": "..",
/// "client_id": "..", "grant": ["scope", ..]}`; `kind` is written for readers and checked
/// against `id` when read; the optional fields are absent when unset.
///
/// ```
/// use principal::{Actor, AgentId, Kind, PrincipalId, ScopeSet};
///
/// let agent: PrincipalId = "am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b".parse()?;
/// let actor = Actor::new(agent).with_grant(ScopeSet::parse("orders:read admin")?);
/// assert_eq!(actor.kind(), Kind::Agent);
/// assert!(actor.grant().is_some_and(|g| g.contains("admin")));
///
/// // Inside a Principal, the grant is what the delegator could give: no `admin`.
/// let issuer = principal::Issuer::new("https://idp.example.com")?;
/// let alice = principal::HumanId::derive(&issuer, "alice").into();
/// let principal = principal::Principal::builder(alice, issuer, "alice")
///     .scopes(ScopeSet::parse("orders:read orders:write")?)
///     .expires_at(principal::Timestamp::from_unix_seconds(1_700_000_300))
///     .actor(actor)
///     .build()?;
/// let effective = principal.delegation()[0].grant();
/// assert_eq!(effective.map(ScopeSet::to_space_separated).as_deref(), Some("orders:read"));
///
/// // A kind that contradicts the id is refused when read back.
/// let wrong = r#"{"id":"am-0b7e2a50-3c1d-4f6e-8a9b-1c2d3e4f5a6b","kind":"human"}"#;
/// assert!(serde_json::from_str::<Actor>(wrong).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub(super) id: PrincipalId,
    pub(super) issuer: Option<Issuer>,
    pub(super) subject: Option<CompactString>,
    pub(super) client_id: Option<CompactString>,
    pub(super) grant: Option<ScopeSet>,
}

impl Actor {
    /// An actor with only an id.
    #[inline]
    pub fn new(id: PrincipalId) -> Self {
        Actor {
            id,
            issuer: None,
            subject: None,
            client_id: None,
            grant: None,
        }
    }

    /// Sets the issuer that vouches for the actor (`act.iss`).
    #[must_use]
    #[inline]
    pub fn with_issuer(mut self, issuer: Issuer) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Sets the issuer's subject for the actor (`act.sub`).
    #[must_use]
    #[inline]
    pub fn with_subject(mut self, subject: impl AsRef<str>) -> Self {
        self.subject = Some(CompactString::new(subject));
        self
    }

    /// Sets the OAuth client the actor used (`act.client_id`).
    #[must_use]
    #[inline]
    pub fn with_client_id(mut self, client_id: impl AsRef<str>) -> Self {
        self.client_id = Some(CompactString::new(client_id));
        self
    }

    /// Sets the scopes the actor was granted by its delegator.
    #[must_use]
    #[inline]
    pub fn with_grant(mut self, grant: ScopeSet) -> Self {
        self.grant = Some(grant);
        self
    }

    /// The actor's id.
    #[inline]
    pub fn id(&self) -> &PrincipalId {
        &self.id
    }

    /// The actor's kind (that of its id).
    #[inline]
    pub fn kind(&self) -> Kind {
        self.id.kind()
    }

    /// The issuer that vouches for the actor, if known.
    #[inline]
    pub fn issuer(&self) -> Option<&Issuer> {
        self.issuer.as_ref()
    }

    /// The issuer's subject for the actor, if known and different from the id.
    #[inline]
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The OAuth client the actor used, if known.
    #[inline]
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The scopes the actor may use. Inside a [`Principal`], always `Some`: the effective
    /// grant (the grant set, within its delegator's effective scopes and every later
    /// link's: the Principal's [`scopes()`](Principal::scopes)). On an actor not yet built
    /// into a Principal, the grant as set; `None` when none was.
    #[inline]
    pub fn grant(&self) -> Option<&ScopeSet> {
        self.grant.as_ref()
    }

    /// Whether this actor is the party `subject` at `issuer`, whatever the kinds. An actor
    /// without an issuer of its own is vouched for by the subject's issuer, `default`.
    pub(super) fn same_party(
        &self,
        default: &Issuer,
        issuer: &Issuer,
        subject: Option<&str>,
    ) -> bool {
        match (self.subject.as_deref(), subject) {
            (Some(mine), Some(theirs)) => {
                mine == theirs && self.issuer.as_ref().unwrap_or(default) == issuer
            }
            _ => false,
        }
    }

    pub(super) fn validate(&self) -> Result<(), PrincipalError> {
        if let Some(subject) = &self.subject {
            validate::text("actor.subject", subject, MAX_SUBJECT_LEN)?;
        }
        if let Some(client_id) = &self.client_id {
            validate::text("actor.client_id", client_id, MAX_CLIENT_ID_LEN)?;
        }
        if let Some(grant) = &self.grant
            && grant.len() > MAX_SCOPES
        {
            return Err(PrincipalError::TooMany {
                field: "actor.grant",
                len: grant.len(),
                max: MAX_SCOPES,
            });
        }
        Ok(())
    }
}
