//! Where things are in the file: a byte offset as a line and a column, the dotted path of
//! the key at an offset, and the offset of a key given its path.

use std::fmt;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step of a path into the document: a table key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

/// A path into the document, written `jwt.issuers[0].leeway_seconds`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct FieldPath(Vec<Step>);

impl FieldPath {
    /// This path and `key` (dotted keys are split; an empty key adds nothing).
    pub(super) fn key(mut self, key: &str) -> Self {
        for part in key.split('.').filter(|part| !part.is_empty()) {
            self.0.push(Step::Key(part.to_owned()));
        }
        self
    }

    pub(super) fn index(mut self, index: usize) -> Self {
        self.0.push(Step::Index(index));
        self
    }

    fn parent(&self) -> Option<FieldPath> {
        let (_, rest) = self.0.split_last()?;
        Some(FieldPath(rest.to_vec()))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(key) if position == 0 => f.write_str(key)?,
                Step::Key(key) => write!(f, ".{key}")?,
                Step::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The parsed document beside its text, to turn offsets into places and back.
pub(super) struct Document<'a> {
    text: &'a str,
    root: Option<Spanned<DeTable<'a>>>,
}

impl<'a> Document<'a> {
    /// `root` is `None` when the text is not TOML at all (a syntax error): offsets still
    /// become lines and columns, paths are unknown.
    pub(super) fn new(text: &'a str, root: Option<Spanned<DeTable<'a>>>) -> Self {
        Document { text, root }
    }

    /// The 1-based line and column (in characters) of byte `offset`.
    pub(super) fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        (line, column)
    }

    /// The path of the deepest key whose key or value covers `offset`.
    pub(super) fn path_at(&self, offset: usize) -> FieldPath {
        let mut path = FieldPath::default();
        if let Some(root) = &self.root {
            descend_table(root.get_ref(), offset, &mut path);
        }
        path
    }

    /// Where `path` starts in the file: its key, or the nearest ancestor's when the key is
    /// absent (a default that the builder refused is reported at its table).
    pub(super) fn offset_of(&self, path: &FieldPath) -> usize {
        let mut candidate = Some(path.clone());
        while let Some(path) = candidate {
            if let Some(offset) = self.lookup(&path) {
                return offset;
            }
            candidate = path.parent();
        }
        0
    }

    fn lookup(&self, path: &FieldPath) -> Option<usize> {
        let root = self.root.as_ref()?;
        let mut offset = root.span().start;
        let mut table: Option<&DeTable<'a>> = Some(root.get_ref());
        let mut value: Option<&DeValue<'a>> = None;
        for step in &path.0 {
            match step {
                Step::Key(key) => {
                    let (found_key, found) = table?.get_key_value(key.as_str())?;
                    offset = found_key.span().start;
                    value = Some(found.get_ref());
                }
                Step::Index(index) => {
                    let element = value?.as_array()?.get(*index)?;
                    offset = element.span().start;
                    value = Some(element.get_ref());
                }
            }
            table = value.and_then(DeValue::as_table);
        }
        Some(offset)
    }
}

fn covers<T>(spanned: &Spanned<T>, offset: usize) -> bool {
    spanned.span().contains(&offset)
}

fn descend_table(table: &DeTable<'_>, offset: usize, path: &mut FieldPath) {
    for (key, value) in table.iter() {
        if covers(key, offset) {
            path.0.push(Step::Key(key.get_ref().to_string()));
            return;
        }
        if covers(value, offset) || contains_offset(value.get_ref(), offset) {
            path.0.push(Step::Key(key.get_ref().to_string()));
            descend_value(value.get_ref(), offset, path);
            return;
        }
    }
}

fn descend_value(value: &DeValue<'_>, offset: usize, path: &mut FieldPath) {
    if let Some(table) = value.as_table() {
        descend_table(table, offset, path);
    } else if let Some(array) = value.as_array() {
        for (index, element) in array.iter().enumerate() {
            if covers(element, offset) || contains_offset(element.get_ref(), offset) {
                path.0.push(Step::Index(index));
                descend_value(element.get_ref(), offset, path);
                return;
            }
        }
    }
}

/// Whether anything inside `value` covers `offset`: a table made by a `[header]` is spread
/// over the file, so its own span need not cover its keys.
fn contains_offset(value: &DeValue<'_>, offset: usize) -> bool {
    if let Some(table) = value.as_table() {
        table.iter().any(|(key, value)| {
            covers(key, offset) || covers(value, offset) || contains_offset(value.get_ref(), offset)
        })
    } else if let Some(array) = value.as_array() {
        array
            .iter()
            .any(|element| covers(element, offset) || contains_offset(element.get_ref(), offset))
    } else {
        false
    }
}
