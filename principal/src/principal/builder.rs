//! The builder that holds the invariants: [`PrincipalBuilder`].

use compact_str::CompactString;
use serde_json::Value;

use crate::error::{IdError, PrincipalError};
use crate::ids::{Audience, Issuer, PrincipalId, Role, Tenant};
use crate::limits::{
    DEFAULT_MAX_DELEGATION_DEPTH, HARD_MAX_DELEGATION_DEPTH, MAX_ATTRIBUTE_KEY_LEN,
    MAX_ATTRIBUTE_VALUE_LEN, MAX_ATTRIBUTES, MAX_AUDIENCES, MAX_MAY_ACT_DEPTH, MAX_MAY_ACT_NODES,
    MAX_MAY_ACT_STRING_LEN, MAX_ROLES, MAX_SCOPES, MAX_SESSION_ID_LEN, MAX_SUBJECT_LEN,
    MAX_TOKEN_ID_LEN,
};
use crate::scope::ScopeSet;
use crate::time::Timestamp;
use crate::validate;

use super::{Actor, Attributes, AuthContext, Principal};

impl Principal {
    /// A builder for the Principal with this id, issuer, and the issuer's subject (`sub`).
    /// `expires_at` must be set before [`build`](PrincipalBuilder::build).
    pub fn builder(id: PrincipalId, issuer: Issuer, subject: impl AsRef<str>) -> PrincipalBuilder {
        PrincipalBuilder {
            // One allocation, so that each builder call moves a pointer, not every field.
            state: Box::new(BuilderState {
                id,
                issuer,
                subject: CompactString::new(subject),
                tenant: None,
                roles: Vec::new(),
                scopes: ScopeSet::new(),
                audiences: Vec::new(),
                auth: AuthContext::default(),
                issued_at: None,
                expires_at: None,
                not_before: None,
                token_id: None,
                session_id: None,
                attributes: Vec::new(),
                delegation: Vec::new(),
                may_act: None,
                max_delegation_depth: DEFAULT_MAX_DELEGATION_DEPTH,
            }),
        }
    }

    /// A builder holding this Principal's fields, to derive a new Principal from it (add an
    /// actor, narrow scopes). Its maximum delegation depth is the default, or the length of
    /// this Principal's chain if that is longer (so the same chain rebuilds, but does not
    /// grow past the default).
    ///
    /// The scopes it holds are this Principal's effective scopes.
    pub fn to_builder(&self) -> PrincipalBuilder {
        PrincipalBuilder {
            // One allocation, so that each builder call moves a pointer, not every field.
            state: Box::new(BuilderState {
                id: self.id.clone(),
                issuer: self.issuer.clone(),
                subject: self.subject.clone(),
                tenant: self.tenant.clone(),
                roles: self.roles.clone(),
                scopes: self.scopes.clone(),
                audiences: self.audiences.clone(),
                auth: self.auth.clone(),
                issued_at: self.issued_at,
                expires_at: Some(self.expires_at),
                not_before: self.not_before,
                token_id: self.token_id.clone(),
                session_id: self.session_id.clone(),
                attributes: self.attributes.0.clone(),
                delegation: self.delegation.clone(),
                may_act: self.may_act.clone(),
                max_delegation_depth: DEFAULT_MAX_DELEGATION_DEPTH.max(self.delegation.len()),
            }),
        }
    }
}

/// Builds a [`Principal`]; [`build`](PrincipalBuilder::build) checks every invariant.
///
/// Singular methods add one value (`role`, `audience`, `attribute`, `actor`); plural ones
/// add many (`roles`, `audiences`), except `scopes` and `delegation`, which replace.
///
/// ```
/// use principal::{Issuer, Principal, PrincipalError, ServiceId, Timestamp};
///
/// let issuer = Issuer::new("https://idp.example.com")?;
/// let id = ServiceId::new("billing")?.into();
/// let builder = Principal::builder(id, issuer, "billing-client");
///
/// // No expiry: refused.
/// assert_eq!(builder.clone().build(), Err(PrincipalError::MissingExpiry));
/// // An expiry not after the issue time: refused (it could never be valid).
/// let backwards = builder
///     .clone()
///     .issued_at(Timestamp::from_unix_seconds(1_700_000_300))
///     .expires_at(Timestamp::from_unix_seconds(1_700_000_000))
///     .build();
/// assert!(matches!(backwards, Err(PrincipalError::ExpiresBeforeIssued { .. })));
///
/// // An expiry in the past is built: the builder has no clock. Validity at a time is
/// // the caller's question.
/// let principal = builder.expires_at(Timestamp::from_unix_seconds(1_700_000_300)).build()?;
/// assert_eq!(principal.subject(), "billing-client");
/// assert!(!principal.is_valid_at(Timestamp::from_unix_seconds(1_700_000_300)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct PrincipalBuilder {
    pub(super) state: Box<BuilderState>,
}

/// The fields of a [`PrincipalBuilder`].
#[derive(Clone, Debug)]
pub(super) struct BuilderState {
    pub(super) id: PrincipalId,
    pub(super) issuer: Issuer,
    pub(super) subject: CompactString,
    pub(super) tenant: Option<Tenant>,
    pub(super) roles: Vec<Role>,
    pub(super) scopes: ScopeSet,
    pub(super) audiences: Vec<Audience>,
    pub(super) auth: AuthContext,
    pub(super) issued_at: Option<Timestamp>,
    pub(super) expires_at: Option<Timestamp>,
    pub(super) not_before: Option<Timestamp>,
    pub(super) token_id: Option<CompactString>,
    pub(super) session_id: Option<CompactString>,
    pub(super) attributes: Vec<(CompactString, CompactString)>,
    pub(super) delegation: Vec<Actor>,
    pub(super) may_act: Option<Value>,
    pub(super) max_delegation_depth: usize,
}

impl PrincipalBuilder {
    /// Sets the tenant.
    #[inline]
    pub fn tenant(mut self, tenant: Tenant) -> Self {
        self.state.tenant = Some(tenant);
        self
    }

    /// Adds a role.
    #[inline]
    pub fn role(mut self, role: Role) -> Self {
        self.state.roles.push(role);
        self
    }

    /// Adds roles.
    #[inline]
    pub fn roles(mut self, roles: impl IntoIterator<Item = Role>) -> Self {
        self.state.roles.extend(roles);
        self
    }

    /// Sets the subject's scopes (before the actors' grants narrow them).
    #[inline]
    pub fn scopes(mut self, scopes: ScopeSet) -> Self {
        self.state.scopes = scopes;
        self
    }

    /// Adds an audience.
    #[inline]
    pub fn audience(mut self, audience: Audience) -> Self {
        self.state.audiences.push(audience);
        self
    }

    /// Adds audiences.
    #[inline]
    pub fn audiences(mut self, audiences: impl IntoIterator<Item = Audience>) -> Self {
        // Into an empty list, a `Vec` moves in as it is (no copy).
        if self.state.audiences.is_empty() {
            self.state.audiences = audiences.into_iter().collect();
        } else {
            self.state.audiences.extend(audiences);
        }
        self
    }

    /// Sets the authentication context.
    #[inline]
    pub fn auth(mut self, auth: AuthContext) -> Self {
        self.state.auth = auth;
        self
    }

    /// Sets the issue time.
    #[inline]
    pub fn issued_at(mut self, at: Timestamp) -> Self {
        self.state.issued_at = Some(at);
        self
    }

    /// Sets the start of validity.
    #[inline]
    pub fn not_before(mut self, at: Timestamp) -> Self {
        self.state.not_before = Some(at);
        self
    }

    /// Sets the expiry (required). [`build`](PrincipalBuilder::build) checks only that it
    /// is set and after `issued_at` and `not_before`, never against the current time.
    #[inline]
    pub fn expires_at(mut self, at: Timestamp) -> Self {
        self.state.expires_at = Some(at);
        self
    }

    /// Sets the credential id (`jti`): at most [`MAX_TOKEN_ID_LEN`] bytes, no control
    /// characters.
    #[inline]
    pub fn token_id(mut self, token_id: impl AsRef<str>) -> Self {
        self.state.token_id = Some(CompactString::new(token_id));
        self
    }

    /// Sets the session id (`sid`): at most [`MAX_SESSION_ID_LEN`] bytes, no control
    /// characters.
    #[inline]
    pub fn session_id(mut self, session_id: impl AsRef<str>) -> Self {
        self.state.session_id = Some(CompactString::new(session_id));
        self
    }

    /// Adds an attribute. Keys are 1 to [`MAX_ATTRIBUTE_KEY_LEN`] bytes of ASCII letters,
    /// digits and `_ . : -`; values at most [`MAX_ATTRIBUTE_VALUE_LEN`] bytes without
    /// control characters; at most [`MAX_ATTRIBUTES`] of them. A key added again replaces
    /// the earlier value.
    #[inline]
    pub fn attribute(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.state
            .attributes
            .push((CompactString::new(key), CompactString::new(value)));
        self
    }

    /// Appends an actor as the newest link: the party calling now.
    #[inline]
    pub fn actor(mut self, actor: Actor) -> Self {
        self.state.delegation.push(actor);
        self
    }

    /// Replaces the delegation chain (oldest first).
    #[inline]
    pub fn delegation(mut self, delegation: Vec<Actor>) -> Self {
        self.state.delegation = delegation;
        self
    }

    /// Sets the maximum delegation depth (default [`DEFAULT_MAX_DELEGATION_DEPTH`]). A value
    /// above [`HARD_MAX_DELEGATION_DEPTH`] makes `build` fail.
    #[inline]
    pub fn max_delegation_depth(mut self, max: usize) -> Self {
        self.state.max_delegation_depth = max;
        self
    }

    /// Sets RFC 8693 `may_act`: a JSON object, at most [`MAX_MAY_ACT_DEPTH`] deep, with at
    /// most [`MAX_MAY_ACT_NODES`] values and strings of at most [`MAX_MAY_ACT_STRING_LEN`]
    /// bytes.
    #[inline]
    pub fn may_act(mut self, may_act: Value) -> Self {
        self.state.may_act = Some(may_act);
        self
    }

    /// Checks every invariant and builds the Principal.
    ///
    /// Expiry: `expires_at` must be set ([`PrincipalError::MissingExpiry`]) and after
    /// `issued_at` ([`PrincipalError::ExpiresBeforeIssued`]) and `not_before`
    /// ([`PrincipalError::ExpiresBeforeNotBefore`]), when those are set. Nothing here reads
    /// a clock: an expiry already past is accepted, and
    /// [`Principal::is_valid_at`] answers for a given time.
    pub fn build(self) -> Result<Principal, PrincipalError> {
        let BuilderState {
            id,
            issuer,
            subject,
            tenant,
            mut roles,
            scopes,
            mut audiences,
            auth,
            issued_at,
            expires_at,
            not_before,
            token_id,
            session_id,
            mut attributes,
            mut delegation,
            may_act,
            max_delegation_depth,
        } = *self.state;

        if max_delegation_depth > HARD_MAX_DELEGATION_DEPTH {
            return Err(PrincipalError::DepthAboveHardCap {
                requested: max_delegation_depth,
                cap: HARD_MAX_DELEGATION_DEPTH,
            });
        }
        validate::text("subject", &subject, MAX_SUBJECT_LEN)?;

        let expires_at = expires_at.ok_or(PrincipalError::MissingExpiry)?;
        if let Some(issued_at) = issued_at
            && expires_at <= issued_at
        {
            return Err(PrincipalError::ExpiresBeforeIssued {
                issued_at,
                expires_at,
            });
        }
        if let Some(not_before) = not_before
            && expires_at <= not_before
        {
            return Err(PrincipalError::ExpiresBeforeNotBefore {
                not_before,
                expires_at,
            });
        }

        sort_dedup(&mut roles);
        check_count("roles", roles.len(), MAX_ROLES)?;
        check_count("scopes", scopes.len(), MAX_SCOPES)?;
        check_count("audiences", audiences.len(), MAX_AUDIENCES)?;
        dedup_keep_order(&mut audiences);
        sort_dedup_attributes(&mut attributes);
        check_count("attributes", attributes.len(), MAX_ATTRIBUTES)?;
        for (key, value) in &attributes {
            validate_attribute(key, value)?;
        }
        auth.validate()?;
        if let Some(token_id) = &token_id {
            validate::text("token_id", token_id, MAX_TOKEN_ID_LEN)?;
        }
        if let Some(session_id) = &session_id {
            validate::text("session_id", session_id, MAX_SESSION_ID_LEN)?;
        }

        if delegation.len() > max_delegation_depth {
            return Err(PrincipalError::DelegationTooDeep {
                depth: delegation.len(),
                max: max_delegation_depth,
            });
        }
        for actor in &mut delegation {
            if actor
                .subject
                .as_deref()
                .is_some_and(|subject| actor.id.text_eq(subject))
            {
                actor.subject = None;
            }
        }
        let mut effective = scopes;
        for i in 0..delegation.len() {
            let actor = &delegation[i];
            actor.validate()?;
            // The subject under another kind (the same issuer and `sub`) is the subject too.
            if actor.id == id || actor.same_party(&issuer, &issuer, Some(&subject)) {
                return Err(PrincipalError::ActorIsSubject {
                    id: actor.id.clone(),
                });
            }
            // The chain is at most HARD_MAX_DELEGATION_DEPTH long: quadratic is fine.
            if delegation[..i].iter().any(|earlier| {
                earlier.id == actor.id
                    || actor.same_party(
                        &issuer,
                        earlier.issuer.as_ref().unwrap_or(&issuer),
                        earlier.subject.as_deref(),
                    )
            }) {
                return Err(PrincipalError::RepeatedActor {
                    id: actor.id.clone(),
                });
            }
            // Usually one of grant and effective holds the other: the result shares that
            // set's storage (no copy).
            if let Some(grant) = &actor.grant
                && !effective.is_subset(grant)
            {
                effective = if grant.is_subset(&effective) {
                    grant.clone()
                } else {
                    effective.intersection(grant)
                };
            }
        }
        // Each actor's grant becomes its effective grant in this request: what it was granted,
        // within its delegator's, within every later link's. That is `effective` for every
        // link: the wire carries only the effective scopes, so any per-link value would read
        // differently after one hop. A reference count each, no copy.
        for actor in &mut delegation {
            actor.grant = Some(effective.clone());
        }
        if let Some(may_act) = &may_act {
            validate_may_act(may_act)?;
        }

        Ok(Principal {
            id,
            issuer,
            subject,
            tenant,
            roles,
            scopes: effective,
            audiences,
            auth,
            issued_at,
            expires_at,
            not_before,
            token_id,
            session_id,
            attributes: Attributes(attributes),
            delegation,
            may_act,
        })
    }
}

fn check_count(field: &'static str, len: usize, max: usize) -> Result<(), PrincipalError> {
    if len > max {
        return Err(PrincipalError::TooMany { field, len, max });
    }
    Ok(())
}

/// Sorts and removes duplicates; input that is already strictly ascending (a decoded
/// passport's) costs one pass.
fn sort_dedup(roles: &mut Vec<Role>) {
    if !roles.is_sorted_by(|a, b| a < b) {
        roles.sort_unstable();
        roles.dedup();
    }
}

/// Sorts by key; of a key added more than once, the value added last stays (map semantics).
fn sort_dedup_attributes(attributes: &mut Vec<(CompactString, CompactString)>) {
    if attributes.is_sorted_by(|a, b| a.0 < b.0) {
        return;
    }
    // Stable: equal keys keep the order they were added in.
    attributes.sort_by(|a, b| a.0.cmp(&b.0));
    attributes.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            std::mem::swap(&mut later.1, &mut kept.1);
        }
        same
    });
}

fn dedup_keep_order(audiences: &mut Vec<Audience>) {
    let mut i = 0;
    while i < audiences.len() {
        if audiences[..i].contains(&audiences[i]) {
            audiences.remove(i);
        } else {
            i += 1;
        }
    }
}

fn validate_attribute(key: &str, value: &str) -> Result<(), IdError> {
    const KEY: &str = "attribute_key";
    validate::length(KEY, key, MAX_ATTRIBUTE_KEY_LEN)?;
    // Every byte before the first refused one is ASCII: its position starts a character.
    if let Some(position) = key
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-')))
    {
        return Err(IdError::InvalidChar {
            field: KEY,
            position,
            found: key[position..].chars().next().unwrap_or('\u{fffd}'),
        });
    }
    if value.len() > MAX_ATTRIBUTE_VALUE_LEN {
        return Err(IdError::TooLong {
            field: "attribute_value",
            len: value.len(),
            max: MAX_ATTRIBUTE_VALUE_LEN,
        });
    }
    validate::no_control("attribute_value", value)
}

/// Checks that `may_act` is an object of bounded depth, size and string length, without
/// recursion.
fn validate_may_act(may_act: &Value) -> Result<(), PrincipalError> {
    let invalid = |why| PrincipalError::InvalidMayAct { why };
    if !may_act.is_object() {
        return Err(invalid("not a JSON object"));
    }
    let mut stack: Vec<(&Value, usize)> = vec![(may_act, 1)];
    let mut nodes = 0usize;
    while let Some((value, depth)) = stack.pop() {
        nodes += 1;
        if nodes > MAX_MAY_ACT_NODES {
            return Err(invalid("too many values"));
        }
        if depth > MAX_MAY_ACT_DEPTH {
            return Err(invalid("nested too deep"));
        }
        match value {
            Value::String(s) if s.len() > MAX_MAY_ACT_STRING_LEN => {
                return Err(invalid("string too long"));
            }
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(map) => {
                for (key, v) in map {
                    if key.len() > MAX_MAY_ACT_STRING_LEN {
                        return Err(invalid("key too long"));
                    }
                    stack.push((v, depth + 1));
                }
            }
            _ => {}
        }
        if stack.len() > MAX_MAY_ACT_NODES {
            return Err(invalid("too many values"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_sort_and_the_last_value_of_a_key_stays() {
        let pair = |k: &str, v: &str| (CompactString::new(k), CompactString::new(v));
        let mut attributes = vec![
            pair("b", "1"),
            pair("a", "2"),
            pair("b", "3"),
            pair("b", "4"),
        ];
        sort_dedup_attributes(&mut attributes);
        assert_eq!(attributes, vec![pair("a", "2"), pair("b", "4")]);
        let mut roles = ["c", "a", "c", "b"].map(|r| Role::new(r).unwrap()).to_vec();
        sort_dedup(&mut roles);
        assert_eq!(
            roles.iter().map(Role::as_str).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn attribute_key_reports_the_refused_character() {
        assert!(validate_attribute("dept.name:x-1_2", "v").is_ok());
        assert_eq!(
            validate_attribute("ab\u{e9}c", "v"),
            Err(IdError::InvalidChar {
                field: "attribute_key",
                position: 2,
                found: '\u{e9}'
            })
        );
        assert_eq!(
            validate_attribute("a/b", "v"),
            Err(IdError::InvalidChar {
                field: "attribute_key",
                position: 1,
                found: '/'
            })
        );
    }
}
