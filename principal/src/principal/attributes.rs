//! A Principal's enrichment attributes: [`Attributes`].

use compact_str::CompactString;

#[cfg(doc)]
use super::PrincipalBuilder;

/// A Principal's enrichment attributes: a small map from key to value, sorted by key.
///
/// Built through [`PrincipalBuilder::attribute`], which checks keys and values. JSON form:
/// an object, `{"key": "value", ..}`.
///
/// ```
/// use principal::{HumanId, Issuer, Principal, Timestamp};
///
/// let issuer = Issuer::new("https://idp.example.com")?;
/// let principal = Principal::builder(HumanId::derive(&issuer, "alice").into(), issuer, "alice")
///     .expires_at(Timestamp::from_unix_seconds(1_700_000_300))
///     .attribute("plan", "enterprise")
///     .attribute("department", "sales")
///     .build()?;
/// let attributes = principal.attributes();
/// assert_eq!(attributes.get("plan"), Some("enterprise"));
/// assert_eq!(attributes.get("locale"), None);
/// assert_eq!(attributes.keys().collect::<Vec<_>>(), ["department", "plan"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Attributes(pub(super) Vec<(CompactString, CompactString)>);

impl Attributes {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(candidate, _)| candidate.as_str().cmp(key))
            .ok()
            .and_then(|at| self.0.get(at))
            .map(|(_, value)| value.as_str())
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The `(key, value)` pairs, sorted by key.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + DoubleEndedIterator {
        self.0
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator {
        self.0.iter().map(|(key, _)| key.as_str())
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
