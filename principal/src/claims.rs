//! JWT claims as Baton reads and writes them: RFC 7519 registered claims, RFC 9068
//! access-token claims, RFC 8693 `act` and `may_act`, and every other claim kept in
//! [`JwtClaims::extra`].

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ClaimError;
use crate::limits::{MAX_ACT_NESTING, MAX_CLAIMS_JSON_LEN};
use crate::time::Timestamp;

/// The claim that states a Principal's kind explicitly (`"human"`, `"agent"`, `"service"`).
pub const KIND_CLAIM: &str = "baton_kind";
/// The claim that carries a Principal's typed id when `sub` is not that id.
pub const ID_CLAIM: &str = "baton_id";
/// The claim that carries a Principal's attributes (an object of strings).
pub const ATTRIBUTES_CLAIM: &str = "baton_attrs";
/// The claim that carries the tenant.
pub const TENANT_CLAIM: &str = "tenant";
/// The claim that carries the roles (an array of strings, or a space-separated string).
pub const ROLES_CLAIM: &str = "roles";

/// The message of the decode error for `act` nested beyond [`MAX_ACT_NESTING`]; recognised
/// by [`JwtClaims::from_json`] to report [`ClaimError::ActTooDeep`].
const ACT_TOO_DEEP: &str = "act: nested deeper than the limit";

/// The claims of a JWT access token.
///
/// Plain serde: it decodes with `serde_json` or `jsonwebtoken::decode::<JwtClaims>`, and
/// encodes back with the same names. Absent claims are `None` and are not written.
///
/// Lenient where issuers differ, without losing meaning:
/// - `exp`, `nbf`, `iat`, `auth_time` accept integers and non-integer NumericDates (rounded
///   down to the second); `null` counts as absent;
/// - `aud` is a string or an array ([`Audiences`]);
/// - `scp` is an array of strings or, as some issuers send it, one space-separated string
///   (read into the array).
///
/// `act` nested deeper than [`MAX_ACT_NESTING`] is a decoding error.
///
/// ```
/// use principal::JwtClaims;
///
/// let claims = JwtClaims::from_json(br#"{
///     "iss": "https://idp.example.com", "sub": "alice", "aud": "api",
///     "exp": 1700000300, "scope": "orders:read", "email": "alice@example.com"
/// }"#)?;
/// assert_eq!(claims.sub.as_deref(), Some("alice"));
/// assert_eq!(claims.extra["email"], "alice@example.com");
///
/// assert!(JwtClaims::from_json(br#"{"exp": "tomorrow"}"#).is_err());
/// assert!(JwtClaims::from_json(br#"{"iss": "https://idp.exa"#).is_err()); // truncated
/// # Ok::<(), principal::ClaimError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JwtClaims {
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience: one or many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audiences>,
    /// Expiry.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numeric_date"
    )]
    pub exp: Option<Timestamp>,
    /// Not before.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numeric_date"
    )]
    pub nbf: Option<Timestamp>,
    /// Issued at.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numeric_date"
    )]
    pub iat: Option<Timestamp>,
    /// JWT id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// RFC 9068 / RFC 8693 client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// RFC 9068 scopes: one space-separated string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Scopes as an array, as some issuers send them.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_strings"
    )]
    pub scp: Option<Vec<String>>,
    /// OpenID Connect session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// RFC 8693 actor: the party acting now; its own `act` is the one before it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "top_level_act"
    )]
    pub act: Option<ActClaim>,
    /// RFC 8693 `may_act`, kept as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub may_act: Option<Value>,
    /// Authentication method references.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// Authentication context class reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Time of authentication.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numeric_date"
    )]
    pub auth_time: Option<Timestamp>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl JwtClaims {
    /// Decodes claims from JSON, refusing documents larger than [`MAX_CLAIMS_JSON_LEN`].
    pub fn from_json(json: &[u8]) -> Result<JwtClaims, ClaimError> {
        if json.len() > MAX_CLAIMS_JSON_LEN {
            return Err(ClaimError::TooLarge {
                len: json.len(),
                max: MAX_CLAIMS_JSON_LEN,
            });
        }
        serde_json::from_slice(json).map_err(decode_error)
    }

    /// Encodes the claims as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising strings, numbers and JSON values with string keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Maps a decode error, recognising the `act` depth limit.
pub(crate) fn decode_error(error: serde_json::Error) -> ClaimError {
    if error.is_data() && error.to_string().starts_with(ACT_TOO_DEEP) {
        ClaimError::ActTooDeep {
            max: MAX_ACT_NESTING,
        }
    } else {
        ClaimError::Malformed(error)
    }
}

/// The `aud` claim: one audience or an array of them.
///
/// ```
/// use principal::Audiences;
///
/// let one: Audiences = serde_json::from_str(r#""api""#)?;
/// let many: Audiences = serde_json::from_str(r#"["api", "billing"]"#)?;
/// assert!(one.contains("api") && many.contains("billing"));
/// assert!(serde_json::from_str::<Audiences>("42").is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Audiences {
    /// A single audience, sent as a string.
    One(String),
    /// Audiences sent as an array.
    Many(Vec<String>),
}

impl Audiences {
    /// The audiences, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many) = match self {
            Audiences::One(aud) => (Some(aud.as_str()), &[][..]),
            Audiences::Many(auds) => (None, auds.as_slice()),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }

    /// Number of audiences.
    pub fn len(&self) -> usize {
        match self {
            Audiences::One(_) => 1,
            Audiences::Many(auds) => auds.len(),
        }
    }

    /// Whether there are no audiences (an empty array).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `audience` is one of them.
    pub fn contains(&self, audience: &str) -> bool {
        self.iter().any(|a| a == audience)
    }
}

impl<'de> Deserialize<'de> for Audiences {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AudVisitor;
        impl<'de> Visitor<'de> for AudVisitor {
            type Value = Audiences;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Audiences, E> {
                Ok(Audiences::One(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Audiences, E> {
                Ok(Audiences::One(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Audiences, A::Error> {
                collect_strings(seq).map(Audiences::Many)
            }
        }
        deserializer.deserialize_any(AudVisitor)
    }
}

fn collect_strings<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Vec<String>, A::Error> {
    // The hint comes from the input: cap it so a lying length cannot pre-allocate much.
    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
    while let Some(s) = seq.next_element::<String>()? {
        out.push(s);
    }
    Ok(out)
}

/// An RFC 8693 `act` claim: who is acting, and (in its own `act`) for whom that actor acts.
///
/// Baton reads and writes `sub`, `iss`, `client_id`, `scope` (the actor's grant, a
/// restriction that only ever narrows the effective scopes) and the nested `act`; every
/// other member is kept in `extra` (Baton writes [`ID_CLAIM`] there when `sub` is not the
/// actor's typed id). Nesting deeper than [`MAX_ACT_NESTING`] fails to decode.
///
/// ```
/// use principal::ActClaim;
///
/// let act: ActClaim = serde_json::from_str(r#"{"sub": "agent-7", "act": {"sub": "svc-gateway"}}"#)?;
/// assert_eq!(act.sub.as_deref(), Some("agent-7"));
/// assert_eq!(act.act.as_ref().and_then(|a| a.sub.as_deref()), Some("svc-gateway"));
///
/// let deep = "{\"act\":".repeat(20) + "{}" + &"}".repeat(20);
/// assert!(serde_json::from_str::<ActClaim>(&deep).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ActClaim {
    /// The actor's subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The actor's issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The client the actor used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The scopes granted to the actor, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The actor before this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<ActClaim>>,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for ActClaim {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ActSeed { depth: 1 }.deserialize(deserializer)
    }
}

/// Decodes one `act` object at a known depth, so nesting is bounded before it recurses.
struct ActSeed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ActSeed {
    type Value = ActClaim;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ActClaim, D::Error> {
        if self.depth > MAX_ACT_NESTING {
            return Err(de::Error::custom(ACT_TOO_DEEP));
        }
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ActSeed {
    type Value = ActClaim;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an act object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ActClaim, A::Error> {
        let mut act = ActClaim::default();
        while let Some(key) = map.next_key::<ActKey>()? {
            match key {
                ActKey::Sub => set_once(&mut act.sub, "sub", map.next_value()?)?,
                ActKey::Iss => set_once(&mut act.iss, "iss", map.next_value()?)?,
                ActKey::ClientId => set_once(&mut act.client_id, "client_id", map.next_value()?)?,
                ActKey::Scope => set_once(&mut act.scope, "scope", map.next_value()?)?,
                ActKey::Act => {
                    let nested = map.next_value_seed(OptionalAct {
                        depth: self.depth + 1,
                    })?;
                    set_once(&mut act.act, "act", nested.map(Box::new))?;
                }
                ActKey::Other(name) => {
                    let value: Value = map.next_value()?;
                    if act.extra.insert(name, value).is_some() {
                        return Err(de::Error::custom("act: duplicate member"));
                    }
                }
            }
        }
        Ok(act)
    }
}

fn set_once<T, E: de::Error>(
    slot: &mut Option<T>,
    name: &'static str,
    value: Option<T>,
) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = value;
    Ok(())
}

enum ActKey {
    Sub,
    Iss,
    ClientId,
    Scope,
    Act,
    Other(String),
}

impl<'de> Deserialize<'de> for ActKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = ActKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ActKey, E> {
                Ok(match v {
                    "sub" => ActKey::Sub,
                    "iss" => ActKey::Iss,
                    "client_id" => ActKey::ClientId,
                    "scope" => ActKey::Scope,
                    "act" => ActKey::Act,
                    other => ActKey::Other(other.to_owned()),
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// `act` that may be `null`.
struct OptionalAct {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for OptionalAct {
    type Value = Option<ActClaim>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptionalAct {
    type Value = Option<ActClaim>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an act object or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        ActSeed { depth: self.depth }
            .deserialize(deserializer)
            .map(Some)
    }
}

fn top_level_act<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<ActClaim>, D::Error> {
    OptionalAct { depth: 1 }.deserialize(deserializer)
}

/// A NumericDate (RFC 7519 §2): seconds since the epoch, possibly non-integer.
fn numeric_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
    struct DateVisitor;
    impl<'de> Visitor<'de> for DateVisitor {
        type Value = Option<Timestamp>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a NumericDate (seconds since the epoch)")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(Timestamp::from_unix_seconds(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(|v| Some(Timestamp::from_unix_seconds(v)))
                .map_err(|_| E::custom("NumericDate out of range"))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // `as` saturates; check the range first so no value is silently clamped.
            let floor = v.floor();
            if floor.is_finite() && floor >= i64::MIN as f64 && floor < i64::MAX as f64 {
                Ok(Some(Timestamp::from_unix_seconds(floor as i64)))
            } else {
                Err(E::custom("NumericDate out of range"))
            }
        }
    }
    deserializer.deserialize_option(DateVisitor)
}

/// `scp` as an array of strings or one space-separated string.
fn string_or_strings<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    struct ScpVisitor;
    impl<'de> Visitor<'de> for ScpVisitor {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of strings or a space-separated string")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v.is_empty() {
                return Ok(Some(Vec::new()));
            }
            Ok(Some(v.split(' ').map(str::to_owned).collect()))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            collect_strings(seq).map(Some)
        }
    }
    deserializer.deserialize_option(ScpVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_registered_and_extra_claims() {
        let claims = JwtClaims::from_json(
            br#"{"iss":"i","sub":"s","aud":["a","b"],"exp":10,"nbf":1,"iat":2,"jti":"j",
                 "client_id":"c","scope":"x y","scp":["z"],"sid":"sid","amr":["pwd"],"acr":"1",
                 "auth_time":3,"may_act":{"sub":"m"},"act":{"sub":"a1","act":{"sub":"a0"}},
                 "custom":{"k":1}}"#,
        )
        .unwrap();
        assert_eq!(claims.iss.as_deref(), Some("i"));
        assert_eq!(
            claims.aud,
            Some(Audiences::Many(vec!["a".into(), "b".into()]))
        );
        assert_eq!(claims.exp, Some(Timestamp::from_unix_seconds(10)));
        assert_eq!(claims.auth_time, Some(Timestamp::from_unix_seconds(3)));
        assert_eq!(claims.scp, Some(vec!["z".to_owned()]));
        let act = claims.act.as_ref().unwrap();
        assert_eq!(act.sub.as_deref(), Some("a1"));
        assert_eq!(act.act.as_ref().unwrap().sub.as_deref(), Some("a0"));
        assert_eq!(claims.extra.len(), 1);
        let again = JwtClaims::from_json(&claims.to_json()).unwrap();
        assert_eq!(again, claims);
    }

    #[test]
    fn lenient_forms() {
        let claims =
            JwtClaims::from_json(br#"{"aud":"a","exp":10.9,"nbf":null,"scp":"p q","act":null}"#)
                .unwrap();
        assert_eq!(claims.aud, Some(Audiences::One("a".into())));
        assert_eq!(claims.exp, Some(Timestamp::from_unix_seconds(10)));
        assert_eq!(claims.nbf, None);
        assert_eq!(claims.scp, Some(vec!["p".to_owned(), "q".to_owned()]));
        assert_eq!(claims.act, None);
        let claims = JwtClaims::from_json(br#"{"scp":"","exp":-1.5}"#).unwrap();
        assert_eq!(claims.scp, Some(vec![]));
        assert_eq!(claims.exp, Some(Timestamp::from_unix_seconds(-2)));
    }

    #[test]
    fn decode_rejections() {
        let malformed: &[&[u8]] = &[
            b"",
            b"[]",
            b"{\"iss\":",
            b"{\"exp\":\"soon\"}",
            b"{\"exp\":1e300}",
            b"{\"exp\":18446744073709551615}",
            b"{\"aud\":42}",
            b"{\"aud\":[42]}",
            b"{\"scp\":{}}",
            b"{\"act\":\"agent\"}",
            b"{\"act\":{\"sub\":1}}",
            b"{\"act\":{\"sub\":\"a\",\"sub\":\"b\"}}",
            b"{\"act\":{\"x\":1,\"x\":2}}",
            b"{\"sub\":\"a\",\"sub\":\"b\"}",
            b"\xff",
        ];
        for json in malformed {
            let result = JwtClaims::from_json(json);
            assert!(
                matches!(result, Err(ClaimError::Malformed(_))),
                "{:?}: {result:?}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn act_depth_is_bounded() {
        let nest = |n: usize| {
            let mut s = String::from("{\"act\":");
            for _ in 0..n - 1 {
                s.push_str("{\"sub\":\"x\",\"act\":");
            }
            s.push_str("{\"sub\":\"x\"}");
            s.push_str(&"}".repeat(n));
            s
        };
        assert!(JwtClaims::from_json(nest(MAX_ACT_NESTING).as_bytes()).is_ok());
        assert!(matches!(
            JwtClaims::from_json(nest(MAX_ACT_NESTING + 1).as_bytes()),
            Err(ClaimError::ActTooDeep {
                max: MAX_ACT_NESTING
            })
        ));
        // Far beyond serde_json's own recursion limit: still our typed error, no overflow.
        assert!(matches!(
            JwtClaims::from_json(nest(3_000).as_bytes()),
            Err(ClaimError::ActTooDeep { .. })
        ));
        let error = serde_json::from_str::<JwtClaims>(&nest(100_000)).unwrap_err();
        assert!(matches!(decode_error(error), ClaimError::ActTooDeep { .. }));
    }

    #[test]
    fn oversized_input() {
        let big = vec![b' '; MAX_CLAIMS_JSON_LEN + 1];
        assert!(matches!(
            JwtClaims::from_json(&big),
            Err(ClaimError::TooLarge { .. })
        ));
    }

    #[test]
    fn audiences_helpers() {
        let many = Audiences::Many(vec!["a".into(), "b".into()]);
        assert_eq!(many.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(many.len(), 2);
        assert!(Audiences::Many(vec![]).is_empty());
        assert!(!Audiences::One("a".into()).is_empty());
        assert_eq!(
            serde_json::to_string(&Audiences::One("a".into())).unwrap(),
            "\"a\""
        );
    }
}
