//! OAuth scopes: one validated token, and a sorted set of them.

use std::fmt;
use std::sync::Arc;

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::IdError;
use crate::limits::{MAX_SCOPE_LEN, MAX_SCOPE_STRING_LEN, MAX_SCOPES};
use crate::validate;

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn validate_scope(value: &str) -> Result<(), IdError> {
    const FIELD: &str = "scope";
    validate::length(FIELD, value, MAX_SCOPE_LEN)?;
    match value
        .bytes()
        .position(|b| !matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
    {
        None => Ok(()),
        Some(position) => Err(IdError::InvalidChar {
            field: FIELD,
            position,
            // The first non-token byte starts a character: report that character.
            found: value[position..].chars().next().unwrap_or('\u{fffd}'),
        }),
    }
}

validated_string!(
    /// One OAuth scope: an RFC 6749 `scope-token` (printable ASCII except space, `"` and
    /// `\`), at most [`MAX_SCOPE_LEN`] bytes.
    ///
    /// ```
    /// use principal::Scope;
    ///
    /// assert!(Scope::new("orders:read").is_ok());
    /// assert!(Scope::new("https://graph.example.com/User.Read").is_ok());
    /// assert!(Scope::new("two words").is_err());
    /// assert!(Scope::new("quote\"").is_err());
    /// ```
    Scope,
    validate_scope
);

/// A set of scopes, kept sorted and without duplicates.
///
/// Text form: RFC 6749 space-separated (`"a b c"`); serde form: an array of strings.
///
/// ```
/// use principal::ScopeSet;
///
/// let granted = ScopeSet::parse("orders:read orders:write profile")?;
/// let allowed = ScopeSet::parse("orders:read profile admin")?;
/// let effective = granted.intersection(&allowed);
/// assert_eq!(effective.to_space_separated(), "orders:read profile");
/// assert!(effective.contains("profile"));
/// assert!(!effective.contains("orders:write"));
///
/// assert!(ScopeSet::parse("").unwrap().is_empty());
/// assert!(ScopeSet::parse("a  b").is_err()); // empty token between two spaces
/// assert!(ScopeSet::parse(" a").is_err());
/// # Ok::<(), principal::IdError>(())
/// ```
///
/// Clones share the scopes (a reference count): an actor's grant that equals the subject's
/// scopes costs no copy.
#[derive(Clone, Debug, Default, Eq)]
pub struct ScopeSet(
    /// `None` when empty, so that the empty set is `const` and allocates nothing.
    Option<Arc<[Scope]>>,
);

impl PartialEq for ScopeSet {
    fn eq(&self, other: &Self) -> bool {
        self.shares_with(other) || self.as_slice() == other.as_slice()
    }
}

impl std::hash::Hash for ScopeSet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl ScopeSet {
    /// The empty set.
    pub const fn new() -> Self {
        ScopeSet(None)
    }

    /// Whether both sets are the same shared scopes (then they are equal).
    fn shares_with(&self, other: &ScopeSet) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The set of scopes already sorted and without duplicates.
    fn from_sorted(scopes: Vec<Scope>) -> Self {
        if scopes.is_empty() {
            ScopeSet(None)
        } else {
            ScopeSet(Some(scopes.into()))
        }
    }

    /// Parses an RFC 6749 scope string: tokens separated by single spaces. The empty
    /// string is the empty set; any other empty token (leading, trailing or doubled space)
    /// is an error, as are more than [`MAX_SCOPES`] tokens.
    pub fn parse(space_separated: &str) -> Result<Self, IdError> {
        const FIELD: &str = "scope";
        if space_separated.is_empty() {
            return Ok(ScopeSet::new());
        }
        if space_separated.len() > MAX_SCOPE_STRING_LEN {
            return Err(IdError::TooLong {
                field: FIELD,
                len: space_separated.len(),
                max: MAX_SCOPE_STRING_LEN,
            });
        }
        let tokens = space_separated.bytes().filter(|&b| b == b' ').count() + 1;
        let mut scopes = Vec::with_capacity(tokens.min(MAX_SCOPES));
        let mut position = 0;
        for token in space_separated.split(' ') {
            if token.is_empty() {
                return Err(IdError::EmptyToken {
                    field: FIELD,
                    position,
                });
            }
            if scopes.len() == MAX_SCOPES {
                return Err(IdError::TooMany {
                    field: FIELD,
                    max: MAX_SCOPES,
                });
            }
            validate_scope(token).map_err(|e| shift_position(e, position))?;
            scopes.push(Scope(compact_str::CompactString::new(token)));
            position += token.len() + 1;
        }
        Ok(ScopeSet::from_unsorted(scopes))
    }

    /// Sorts and removes duplicates.
    pub(crate) fn from_unsorted(mut scopes: Vec<Scope>) -> Self {
        // Sets read from the wire are already strictly ascending: one pass.
        if !scopes.is_sorted_by(|a, b| a < b) {
            scopes.sort_unstable();
            scopes.dedup();
        }
        ScopeSet::from_sorted(scopes)
    }

    /// The RFC 6749 text form: the scopes in sorted order, separated by single spaces.
    pub fn to_space_separated(&self) -> String {
        let mut out = String::with_capacity(self.iter().map(|s| s.as_str().len() + 1).sum());
        for (i, scope) in self.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(scope.as_str());
        }
        out
    }

    /// Whether the set holds `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.as_slice()
            .binary_search_by(|s| s.as_str().cmp(scope))
            .is_ok()
    }

    /// The scopes in both sets.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        if self.shares_with(other) {
            return self.clone();
        }
        let (mut a, mut b) = (self.iter().peekable(), other.iter().peekable());
        let mut out = Vec::with_capacity(self.len().min(other.len()));
        while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
            match x.cmp(y) {
                std::cmp::Ordering::Less => {
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    out.push((*x).clone());
                    a.next();
                    b.next();
                }
            }
        }
        ScopeSet::from_sorted(out)
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        if self.shares_with(other) {
            return true;
        }
        // Both are sorted: one merge pass.
        let mut others = other.iter();
        self.len() <= other.len()
            && self
                .iter()
                .all(|scope| others.by_ref().any(|candidate| candidate == scope))
    }

    /// Adds a scope; returns whether it was new.
    pub fn insert(&mut self, scope: Scope) -> bool {
        match self.as_slice().binary_search(&scope) {
            Ok(_) => false,
            Err(at) => {
                // Shared scopes are not changed in place: a new list.
                let mut scopes = Vec::with_capacity(self.len() + 1);
                scopes.extend_from_slice(&self.as_slice()[..at]);
                scopes.push(scope);
                scopes.extend_from_slice(&self.as_slice()[at..]);
                *self = ScopeSet::from_sorted(scopes);
                true
            }
        }
    }

    /// The scopes, in sorted order.
    pub fn iter(&self) -> std::slice::Iter<'_, Scope> {
        self.as_slice().iter()
    }

    /// The scopes as a sorted slice.
    pub fn as_slice(&self) -> &[Scope] {
        self.0.as_deref().unwrap_or_default()
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

fn shift_position(error: IdError, offset: usize) -> IdError {
    match error {
        IdError::InvalidChar {
            field,
            position,
            found,
        } => IdError::InvalidChar {
            field,
            position: position + offset,
            found,
        },
        other => other,
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        ScopeSet::from_unsorted(iter.into_iter().collect())
    }
}

impl Extend<Scope> for ScopeSet {
    fn extend<I: IntoIterator<Item = Scope>>(&mut self, iter: I) {
        let mut all = self.as_slice().to_vec();
        all.extend(iter);
        *self = ScopeSet::from_unsorted(all);
    }
}

impl<'a> IntoIterator for &'a ScopeSet {
    type Item = &'a Scope;
    type IntoIter = std::slice::Iter<'a, Scope>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl IntoIterator for ScopeSet {
    type Item = Scope;
    type IntoIter = std::vec::IntoIter<Scope>;
    /// The scopes, in sorted order (copied out of the shared list).
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().to_vec().into_iter()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ScopeSet {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScopeSet::parse(s)
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for scope in self {
            seq.serialize_element(scope.as_str())?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScopesVisitor;
        impl<'de> Visitor<'de> for ScopesVisitor {
            type Value = ScopeSet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an array of at most {MAX_SCOPES} scope strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ScopeSet, A::Error> {
                let mut scopes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_SCOPES));
                while let Some(scope) = seq.next_element::<Scope>()? {
                    if scopes.len() == MAX_SCOPES {
                        return Err(serde::de::Error::custom(IdError::TooMany {
                            field: "scope",
                            max: MAX_SCOPES,
                        }));
                    }
                    scopes.push(scope);
                }
                Ok(ScopeSet::from_unsorted(scopes))
            }
        }
        deserializer.deserialize_seq(ScopesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    #[test]
    fn scope_grammar() {
        for ok in ["a", "!", "#[]^~", "read:orders", "x/y.z"] {
            assert!(Scope::new(ok).is_ok(), "{ok}");
        }
        assert_eq!(Scope::new(""), Err(IdError::Empty { field: "scope" }));
        assert_eq!(
            Scope::new("a\"b"),
            Err(IdError::InvalidChar {
                field: "scope",
                position: 1,
                found: '"'
            })
        );
        assert!(matches!(
            Scope::new("a\\b"),
            Err(IdError::InvalidChar { found: '\\', .. })
        ));
        assert!(matches!(
            Scope::new("aé"),
            Err(IdError::InvalidChar {
                found: 'é',
                position: 1,
                ..
            })
        ));
        assert!(matches!(
            Scope::new("a\u{7f}"),
            Err(IdError::InvalidChar { .. })
        ));
        assert!(Scope::new("s".repeat(MAX_SCOPE_LEN)).is_ok());
        assert!(matches!(
            Scope::new("s".repeat(MAX_SCOPE_LEN + 1)),
            Err(IdError::TooLong { .. })
        ));
    }

    #[test]
    fn parse_sorts_and_dedups() {
        let s = set("c a b a");
        assert_eq!(s.len(), 3);
        assert_eq!(s.to_space_separated(), "a b c");
        assert_eq!(s.to_string(), "a b c");
        assert!(set("").is_empty());
    }

    #[test]
    fn parse_rejections() {
        assert_eq!(
            ScopeSet::parse("a  b"),
            Err(IdError::EmptyToken {
                field: "scope",
                position: 2
            })
        );
        assert_eq!(
            ScopeSet::parse(" a"),
            Err(IdError::EmptyToken {
                field: "scope",
                position: 0
            })
        );
        assert_eq!(
            ScopeSet::parse("a "),
            Err(IdError::EmptyToken {
                field: "scope",
                position: 2
            })
        );
        assert_eq!(
            ScopeSet::parse("ok\tbad"),
            Err(IdError::InvalidChar {
                field: "scope",
                position: 2,
                found: '\t'
            })
        );
        assert_eq!(
            ScopeSet::parse("ok ba\"d"),
            Err(IdError::InvalidChar {
                field: "scope",
                position: 5,
                found: '"'
            })
        );
        let too_many = (0..=MAX_SCOPES)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            ScopeSet::parse(&too_many),
            Err(IdError::TooMany {
                field: "scope",
                max: MAX_SCOPES
            })
        );
        assert!(matches!(
            ScopeSet::parse(&"a".repeat(MAX_SCOPE_STRING_LEN + 1)),
            Err(IdError::TooLong { .. })
        ));
    }

    #[test]
    fn set_operations() {
        let a = set("a b c d");
        let b = set("b d e");
        assert_eq!(a.intersection(&b), set("b d"));
        assert_eq!(b.intersection(&a), set("b d"));
        assert!(set("b d").is_subset(&a));
        assert!(!b.is_subset(&a));
        let mut c = set("b");
        assert!(c.insert(Scope::new("a").unwrap()));
        assert!(!c.insert(Scope::new("b").unwrap()));
        assert_eq!(c.to_space_separated(), "a b");
        let collected: ScopeSet = ["z", "y", "z"]
            .iter()
            .map(|s| Scope::new(*s).unwrap())
            .collect();
        assert_eq!(collected.as_slice().len(), 2);
        c.extend(collected);
        assert_eq!(c.to_space_separated(), "a b y z");
        assert_eq!((&c).into_iter().count(), 4);
        assert_eq!(c.iter().next().map(Scope::as_str), Some("a"));
    }

    #[test]
    fn clones_share_and_stay_independent() {
        let a = set("a b");
        let mut b = a.clone();
        assert!(a.shares_with(&b) && a == b && a.is_subset(&b));
        assert_eq!(a.intersection(&b), a);
        assert!(b.insert(Scope::new("c").unwrap()));
        assert_eq!(a.to_space_separated(), "a b");
        assert_eq!(b.to_space_separated(), "a b c");
        // Equal without sharing; the empty set holds nothing.
        assert_eq!(set("b a"), a);
        assert!(!set("b a").shares_with(&a));
        assert_eq!(ScopeSet::new(), set(""));
        assert_eq!(a.clone().into_iter().count(), 2);
        assert!(ScopeSet::new().as_slice().is_empty());
        assert!(set("a").intersection(&set("b")).is_empty());
    }

    #[test]
    fn serde_as_array() {
        let s = set("b a");
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"["a","b"]"#);
        assert_eq!(
            serde_json::from_str::<ScopeSet>(r#"["b","a","a"]"#).unwrap(),
            s
        );
        assert!(serde_json::from_str::<ScopeSet>(r#"["a b"]"#).is_err());
        assert!(serde_json::from_str::<ScopeSet>(r#""a b""#).is_err());
        let too_many = serde_json::to_string(
            &(0..=MAX_SCOPES)
                .map(|i| format!("s{i}"))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(serde_json::from_str::<ScopeSet>(&too_many).is_err());
    }
}
