//! The one error of loading a configuration file: where (file, line, column, field) and
//! what.

use std::path::{Path, PathBuf};

/// What went wrong in a configuration file. Each kind has a stable
/// [`reason`](ConfigFileError::reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigFileErrorKind {
    /// The file could not be read.
    Read,
    /// The text is not TOML.
    Syntax,
    /// A key the format does not know (a misspelling, or a setting that is not offered
    /// from a file, such as an inline secret).
    UnknownField,
    /// A value of the wrong type (a string where a number goes, ...).
    WrongType,
    /// A required key is absent.
    MissingField,
    /// Any other mismatch with the format (an unknown variant, a malformed table).
    Format,
    /// The value is well formed but the builder refused it (a malformed scope, an `http`
    /// URL off loopback, a leeway above its cap, an empty audience list...);
    /// [`ConfigFileError::setting_reason`] holds the builder's own reason.
    Invalid,
    /// A secret named by `*_file` or `*_env` could not be read.
    SecretUnavailable,
}

/// An error loading a configuration file, naming the file, the line and column, and the
/// field (`jwt.issuers[0].leeway_seconds`). Its message never holds a secret: values are
/// not echoed from the file, only the builders' own (already redacted) messages.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigFileError {
    path: PathBuf,
    location: Option<(usize, usize)>,
    field: String,
    kind: ConfigFileErrorKind,
    setting_reason: Option<&'static str>,
    message: String,
}

impl ConfigFileError {
    pub(super) fn new(
        path: &Path,
        location: Option<(usize, usize)>,
        field: String,
        kind: ConfigFileErrorKind,
        message: String,
    ) -> Self {
        ConfigFileError {
            path: path.to_owned(),
            location,
            field,
            kind,
            setting_reason: None,
            message,
        }
    }

    pub(super) fn with_setting_reason(mut self, reason: &'static str) -> Self {
        self.setting_reason = Some(reason);
        self
    }

    /// The file, as it was given to the loader.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The 1-based line of the offending key or value; `None` only when the file could
    /// not be read.
    pub fn line(&self) -> Option<usize> {
        self.location.map(|(line, _)| line)
    }

    /// The 1-based column (in characters) on [`line`](Self::line).
    pub fn column(&self) -> Option<usize> {
        self.location.map(|(_, column)| column)
    }

    /// The field, as a path from the top of the file (`introspection.timeout_ms`,
    /// `jwt.issuers[1].audiences`); empty when the whole file is at fault.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ConfigFileErrorKind {
        self.kind
    }

    /// For [`ConfigFileErrorKind::Invalid`], the builder's stable reason
    /// (`leeway_too_large`, `insecure_jwks_url`, ...).
    pub fn setting_reason(&self) -> Option<&'static str> {
        self.setting_reason
    }

    /// A stable snake_case label for logs.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            ConfigFileErrorKind::Read => "config_unreadable",
            ConfigFileErrorKind::Syntax => "config_syntax",
            ConfigFileErrorKind::UnknownField => "config_unknown_field",
            ConfigFileErrorKind::WrongType => "config_wrong_type",
            ConfigFileErrorKind::MissingField => "config_missing_field",
            ConfigFileErrorKind::Format => "config_format",
            ConfigFileErrorKind::Invalid => "config_invalid_setting",
            ConfigFileErrorKind::SecretUnavailable => "config_secret_unavailable",
        }
    }

    fn render(&self) -> String {
        let mut out = self.path.display().to_string();
        if let Some((line, column)) = self.location {
            out.push_str(&format!(":{line}:{column}"));
        }
        if !self.field.is_empty() {
            out.push_str(&format!(": {}", self.field));
        }
        out.push_str(&format!(": {}", self.message));
        out
    }
}
