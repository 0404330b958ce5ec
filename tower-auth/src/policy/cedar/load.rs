//! Reading the schema and the policy files, and naming the place of every failure.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{PolicyId, PolicySet, Schema, ValidationMode, Validator};
use miette::Diagnostic;

/// A place in a file: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, in characters.
    pub column: usize,
}

impl Location {
    /// The place of byte `offset` in `text` (clamped to the text).
    fn of(text: &str, offset: usize) -> Self {
        let mut end = offset.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &text[..end];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Location { line, column }
    }

    /// The first labelled place of a Cedar diagnostic (or of its first related one).
    fn of_diagnostic(text: &str, diagnostic: &dyn Diagnostic) -> Option<Self> {
        if let Some(mut labels) = diagnostic.labels()
            && let Some(label) = labels.next()
        {
            return Some(Location::of(text, label.offset()));
        }
        diagnostic
            .related()
            .and_then(|mut related| related.find_map(|d| Location::of_diagnostic(text, d)))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// `:line:column` after a path, or nothing.
struct At<'a>(&'a Option<Location>);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(location) => write!(f, ":{location}"),
            None => Ok(()),
        }
    }
}

/// The schema or a policy file could not be loaded. Each error names the file and, where
/// Cedar gives one, the line and column; a validation failure names the policy too.
/// Returned by [`CedarPolicy::load`](super::CedarPolicy::load) and
/// [`CedarPolicy::reload`](super::CedarPolicy::reload) (which keeps the last good set).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CedarLoadError {
    /// No policy file was given.
    #[error("no policy file given")]
    NoPolicyFiles,
    /// A file cannot be read.
    #[error("{}: cannot be read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The schema does not parse, or lacks what Baton's entities need (the `Baton::Human`,
    /// `Baton::Agent`, `Baton::Service` and `Baton::Workload` entity types).
    #[error("{}{}: schema: {detail}", path.display(), At(location))]
    Schema {
        /// The schema file.
        path: PathBuf,
        /// Where, when Cedar says.
        location: Option<Location>,
        /// What Cedar says.
        detail: String,
    },
    /// A policy file does not parse.
    #[error("{}{}: policy syntax: {detail}", path.display(), At(location))]
    PolicySyntax {
        /// The policy file.
        path: PathBuf,
        /// Where, when Cedar says.
        location: Option<Location>,
        /// What Cedar says.
        detail: String,
    },
    /// A policy fails validation against the schema (strict mode).
    #[error(
        "{}{}: policy {policy:?} fails validation against the schema: {detail}",
        path.display(),
        At(location)
    )]
    Validation {
        /// The policy file.
        path: PathBuf,
        /// The policy's id (its `@id` annotation, or `file#policyN`).
        policy: String,
        /// Where, when Cedar says.
        location: Option<Location>,
        /// What Cedar says.
        detail: String,
    },
    /// Two policies have the same id (their `@id` annotations).
    #[error("{}: policy id {policy:?} is used twice", path.display())]
    DuplicatePolicyId {
        /// The file of the second one.
        path: PathBuf,
        /// The id.
        policy: String,
    },
    /// A file holds a policy template: templates need linking, which this adapter does not
    /// do, so they are refused rather than silently never applied.
    #[error("{}: policy templates are not supported ({policy:?})", path.display())]
    Template {
        /// The file.
        path: PathBuf,
        /// The template's id.
        policy: String,
    },
}

impl CedarLoadError {
    /// A stable snake_case label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            CedarLoadError::NoPolicyFiles => "no_policy_files",
            CedarLoadError::Read { .. } => "unreadable_file",
            CedarLoadError::Schema { .. } => "schema",
            CedarLoadError::PolicySyntax { .. } => "policy_syntax",
            CedarLoadError::Validation { .. } => "policy_validation",
            CedarLoadError::DuplicatePolicyId { .. } => "duplicate_policy_id",
            CedarLoadError::Template { .. } => "policy_template",
        }
    }
}

/// The entity types the adapter builds, which the schema must declare.
pub(super) const BATON_ENTITY_TYPES: [&str; 4] = [
    "Baton::Human",
    "Baton::Agent",
    "Baton::Service",
    "Baton::Workload",
];

fn read(path: &Path) -> Result<String, CedarLoadError> {
    std::fs::read_to_string(path).map_err(|source| CedarLoadError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Read and parse the schema file.
pub(super) fn load_schema(path: &Path) -> Result<Schema, CedarLoadError> {
    let text = read(path)?;
    let (schema, warnings) =
        Schema::from_cedarschema_str(&text).map_err(|error| CedarLoadError::Schema {
            path: path.to_owned(),
            location: Location::of_diagnostic(&text, &error),
            detail: error.to_string(),
        })?;
    for warning in warnings {
        tracing::warn!(path = %path.display(), warning = %warning, "cedar schema warning");
    }
    let declared: Vec<String> = schema.entity_types().map(ToString::to_string).collect();
    if let Some(missing) = BATON_ENTITY_TYPES
        .iter()
        .find(|name| !declared.iter().any(|declared| declared == *name))
    {
        return Err(CedarLoadError::Schema {
            path: path.to_owned(),
            location: None,
            detail: format!("does not declare the entity type {missing}, which Baton builds"),
        });
    }
    Ok(schema)
}

/// Read, parse, rename and validate every policy file into one set.
pub(super) fn load_policies(
    schema: &Schema,
    paths: &[PathBuf],
) -> Result<PolicySet, CedarLoadError> {
    if paths.is_empty() {
        return Err(CedarLoadError::NoPolicyFiles);
    }
    let mut set = PolicySet::new();
    // Per policy id: its file and that file's text, to place validation errors.
    let mut origin: Vec<(String, usize)> = Vec::new();
    let mut texts: Vec<String> = Vec::with_capacity(paths.len());
    for (file, path) in paths.iter().enumerate() {
        let text = read(path)?;
        let parsed = PolicySet::from_str(&text).map_err(|error| CedarLoadError::PolicySyntax {
            path: path.clone(),
            location: Location::of_diagnostic(&text, &error),
            detail: error.to_string(),
        })?;
        if let Some(template) = parsed.templates().next() {
            return Err(CedarLoadError::Template {
                path: path.clone(),
                policy: template.id().to_string(),
            });
        }
        let file_name = path.file_name().map_or_else(
            || path.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        for policy in parsed.policies() {
            let id = match policy.annotation("id") {
                Some(id) => id.to_owned(),
                None => format!("{file_name}#{}", policy.id()),
            };
            set.add(policy.new_id(PolicyId::new(&id))).map_err(|_| {
                CedarLoadError::DuplicatePolicyId {
                    path: path.clone(),
                    policy: id.clone(),
                }
            })?;
            origin.push((id, file));
        }
        texts.push(text);
    }
    let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
    if let Some(error) = result.validation_errors().next() {
        let policy = error.policy_id().to_string();
        let file = origin
            .iter()
            .find(|(id, _)| *id == policy)
            .map_or(0, |(_, file)| *file);
        let (path, text) = (&paths[file], &texts[file]);
        return Err(CedarLoadError::Validation {
            path: path.clone(),
            location: Location::of_diagnostic(text, error),
            policy,
            detail: error.to_string(),
        });
    }
    for warning in result.validation_warnings() {
        tracing::warn!(policy = %warning.policy_id(), warning = %warning, "cedar policy warning");
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::Location;

    #[test]
    fn locations_count_lines_and_characters() {
        let text = "ab\ncdé\nf";
        assert_eq!(Location::of(text, 0), Location { line: 1, column: 1 });
        assert_eq!(Location::of(text, 3), Location { line: 2, column: 1 });
        // After the two-byte `é`: column counts characters.
        assert_eq!(Location::of(text, 8), Location { line: 3, column: 1 });
        assert_eq!(Location::of(text, 7), Location { line: 2, column: 4 });
        // Inside a character, or past the end: clamped, never a panic.
        assert_eq!(Location::of(text, 6), Location { line: 2, column: 3 });
        assert_eq!(Location::of(text, 999), Location { line: 3, column: 2 });
    }
}
