//! The JSON form of an [`Actor`] and a [`Principal`] (see [`Principal`]'s documentation):
//! written from views, read through forms and then the builder, so every invariant holds.

use std::collections::BTreeMap;

use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::ids::{Audience, Issuer, Kind, PrincipalId, Role, Tenant};
use crate::limits::HARD_MAX_DELEGATION_DEPTH;
use crate::scope::ScopeSet;
use crate::time::Timestamp;

use super::{Actor, Attributes, AuthContext, Principal};

#[derive(Serialize)]
struct ActorView<'a> {
    id: &'a PrincipalId,
    kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<&'a Issuer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant: Option<&'a ScopeSet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActorForm {
    id: PrincipalId,
    #[serde(default)]
    kind: Option<Kind>,
    #[serde(default)]
    issuer: Option<Issuer>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    grant: Option<ScopeSet>,
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ActorView {
            id: &self.id,
            kind: self.kind(),
            issuer: self.issuer.as_ref(),
            subject: self.subject.as_deref(),
            client_id: self.client_id.as_deref(),
            grant: self.grant.as_ref(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = ActorForm::deserialize(deserializer)?;
        check_kind(form.kind, &form.id).map_err(serde::de::Error::custom)?;
        Ok(Actor {
            id: form.id,
            issuer: form.issuer,
            subject: form.subject.map(CompactString::from),
            client_id: form.client_id.map(CompactString::from),
            grant: form.grant,
        })
    }
}

fn check_kind(kind: Option<Kind>, id: &PrincipalId) -> Result<(), String> {
    match kind {
        Some(kind) if kind != id.kind() => Err(format!(
            "kind: says {kind} but the id {id} is of kind {}",
            id.kind()
        )),
        _ => Ok(()),
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

#[derive(Serialize)]
struct PrincipalView<'a> {
    id: &'a PrincipalId,
    kind: Kind,
    issuer: &'a Issuer,
    subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<&'a Tenant>,
    roles: &'a [Role],
    scopes: &'a ScopeSet,
    audiences: &'a [Audience],
    auth: &'a AuthContext,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_at: Option<Timestamp>,
    expires_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_before: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    attributes: &'a Attributes,
    delegation: &'a [Actor],
    #[serde(skip_serializing_if = "Option::is_none")]
    may_act: Option<&'a Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalForm {
    id: PrincipalId,
    #[serde(default)]
    kind: Option<Kind>,
    issuer: Issuer,
    subject: String,
    #[serde(default)]
    tenant: Option<Tenant>,
    #[serde(default)]
    roles: Vec<Role>,
    #[serde(default)]
    scopes: ScopeSet,
    #[serde(default)]
    audiences: Vec<Audience>,
    #[serde(default)]
    auth: AuthContext,
    #[serde(default)]
    issued_at: Option<Timestamp>,
    expires_at: Timestamp,
    #[serde(default)]
    not_before: Option<Timestamp>,
    #[serde(default)]
    token_id: Option<String>,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    delegation: Vec<Actor>,
    #[serde(default)]
    may_act: Option<Value>,
}

impl Serialize for Principal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PrincipalView {
            id: &self.id,
            kind: self.kind(),
            issuer: &self.issuer,
            subject: self.subject.as_str(),
            tenant: self.tenant.as_ref(),
            roles: &self.roles,
            scopes: &self.scopes,
            audiences: &self.audiences,
            auth: &self.auth,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            not_before: self.not_before,
            token_id: self.token_id.as_deref(),
            session_id: self.session_id.as_deref(),
            attributes: &self.attributes,
            delegation: &self.delegation,
            may_act: self.may_act.as_ref(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = PrincipalForm::deserialize(deserializer)?;
        check_kind(form.kind, &form.id).map_err(serde::de::Error::custom)?;
        let mut builder = Principal::builder(form.id, form.issuer, form.subject)
            .roles(form.roles)
            .scopes(form.scopes)
            .audiences(form.audiences)
            .auth(form.auth)
            .expires_at(form.expires_at)
            .delegation(form.delegation)
            .max_delegation_depth(HARD_MAX_DELEGATION_DEPTH);
        builder.state.attributes = form
            .attributes
            .into_iter()
            .map(|(key, value)| (CompactString::from(key), CompactString::from(value)))
            .collect();
        builder.state.tenant = form.tenant;
        builder.state.issued_at = form.issued_at;
        builder.state.not_before = form.not_before;
        builder.state.token_id = form.token_id.map(CompactString::from);
        builder.state.session_id = form.session_id.map(CompactString::from);
        builder.state.may_act = form.may_act;
        builder.build().map_err(serde::de::Error::custom)
    }
}
