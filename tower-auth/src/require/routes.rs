//! Which requirement applies to which request path.

use std::collections::HashMap;

use super::RequireError;
use super::requirement::Requirement;

/// Requirements per request path, for a [`RequireLayer`](super::RequireLayer) in front of
/// a whole router or gRPC server: exact paths, path prefixes (the longest matching prefix
/// wins; an exact path beats any prefix), and what applies to every other path.
///
/// **Deny by default**: a path that matches nothing is refused (403, reason
/// `no_requirement`) unless [`otherwise`](Self::otherwise) names a requirement for it.
///
/// Paths are compared as the request sends them (`uri().path()`, no decoding and no
/// normalisation), as axum and tonic route them. A gRPC method's path is
/// `/package.Service/Method`; a whole service is the prefix `/package.Service/`.
///
/// ```
/// use tower_auth::require::{Requirement, RouteRequirements};
///
/// let routes = RouteRequirements::new()
///     .path("/orders", Requirement::scopes(["orders:read"])?)?
///     .prefix("/admin/", Requirement::scopes(["admin"])?.and(Requirement::no_agent()))?;
/// assert!(routes.find("/orders").is_some());
/// assert!(routes.find("/admin/users").is_some());
/// // Unlisted: no requirement, so the layer refuses it.
/// assert!(routes.find("/orders/7").is_none());
///
/// // Refused: a path that does not start with '/', the same path twice.
/// assert!(RouteRequirements::new().path("orders", Requirement::authenticated()).is_err());
/// assert!(
///     RouteRequirements::new()
///         .path("/a", Requirement::authenticated())?
///         .path("/a", Requirement::no_agent())
///         .is_err()
/// );
/// # Ok::<(), tower_auth::require::RequireError>(())
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct RouteRequirements {
    exact: HashMap<Box<str>, usize>,
    /// Longest first, so the first match is the longest.
    prefixes: Vec<(Box<str>, usize)>,
    otherwise: Option<usize>,
    requirements: Vec<Requirement>,
}

/// Longest accepted path or prefix, in bytes.
pub const MAX_ROUTE_PATH_LEN: usize = 1024;

fn check_path(path: &str) -> Result<(), RequireError> {
    let why = if !path.starts_with('/') {
        "does not start with '/'"
    } else if path.len() > MAX_ROUTE_PATH_LEN {
        "longer than MAX_ROUTE_PATH_LEN"
    } else if !path.bytes().all(|b| b.is_ascii_graphic()) {
        "holds a byte that is not visible ASCII"
    } else {
        return Ok(());
    };
    Err(RequireError::Path {
        path: path.chars().take(64).collect(),
        why,
    })
}

impl RouteRequirements {
    /// No routes: every path is refused until one is added.
    pub fn new() -> Self {
        RouteRequirements::default()
    }

    fn push(&mut self, requirement: Requirement) -> usize {
        self.requirements.push(requirement);
        self.requirements.len() - 1
    }

    /// `requirement` for requests to exactly `path`.
    pub fn path(mut self, path: &str, requirement: Requirement) -> Result<Self, RequireError> {
        check_path(path)?;
        if self.exact.contains_key(path) {
            return Err(RequireError::DuplicatePath { path: path.into() });
        }
        let index = self.push(requirement);
        self.exact.insert(path.into(), index);
        Ok(self)
    }

    /// `requirement` for requests whose path starts with `prefix` (end it with `/` to
    /// match whole segments only).
    pub fn prefix(mut self, prefix: &str, requirement: Requirement) -> Result<Self, RequireError> {
        check_path(prefix)?;
        if self.prefixes.iter().any(|(known, _)| &**known == prefix) {
            return Err(RequireError::DuplicatePath {
                path: prefix.into(),
            });
        }
        let index = self.push(requirement);
        self.prefixes.push((prefix.into(), index));
        self.prefixes
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Ok(self)
    }

    /// `requirement` for every path nothing else matches (instead of refusing them).
    pub fn otherwise(mut self, requirement: Requirement) -> Self {
        let index = self.push(requirement);
        self.otherwise = Some(index);
        self
    }

    /// The requirement that applies to `path`, or `None` (refused).
    pub fn find(&self, path: &str) -> Option<&Requirement> {
        self.find_index(path).map(|index| &self.requirements[index])
    }

    pub(super) fn find_index(&self, path: &str) -> Option<usize> {
        if let Some(index) = self.exact.get(path) {
            return Some(*index);
        }
        self.prefixes
            .iter()
            .find(|(prefix, _)| path.starts_with(&**prefix))
            .map(|(_, index)| *index)
            .or(self.otherwise)
    }

    pub(super) fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}
