//! The character rules shared by the string types and the Principal's bounded strings.

use crate::IdError;

/// Non-empty and at most `max` bytes.
pub(crate) fn length(field: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { field });
    }
    if value.len() > max {
        return Err(IdError::TooLong {
            field,
            len: value.len(),
            max,
        });
    }
    Ok(())
}

/// Non-empty, at most `max` bytes, no whitespace and no control characters: ids, issuers,
/// audiences, tenants.
pub(crate) fn token(field: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    length(field, value, max)?;
    match value
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
    {
        Some((position, found)) => Err(IdError::InvalidChar {
            field,
            position,
            found,
        }),
        None => Ok(()),
    }
}

/// Non-empty, at most `max` bytes, no control characters: free text that ends up in logs.
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    length(field, value, max)?;
    no_control(field, value)
}

/// Like [`text`], and without leading or trailing whitespace.
pub(crate) fn trimmed_text(field: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    text(field, value, max)?;
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return Err(IdError::SurroundingWhitespace { field });
    }
    Ok(())
}

/// No control characters (the value may be empty).
pub(crate) fn no_control(field: &'static str, value: &str) -> Result<(), IdError> {
    match value.char_indices().find(|(_, c)| c.is_control()) {
        Some((position, found)) => Err(IdError::InvalidChar {
            field,
            position,
            found,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_rejects_whitespace_and_controls() {
        assert!(token("t", "abc", 10).is_ok());
        assert_eq!(token("t", "", 10), Err(IdError::Empty { field: "t" }));
        assert_eq!(
            token("t", "a b", 10),
            Err(IdError::InvalidChar {
                field: "t",
                position: 1,
                found: ' '
            })
        );
        assert!(matches!(
            token("t", "a\u{7f}", 10),
            Err(IdError::InvalidChar { position: 1, .. })
        ));
        assert!(matches!(
            token("t", "a\u{2003}", 10),
            Err(IdError::InvalidChar { .. })
        ));
        assert!(matches!(
            token("t", "abcd", 3),
            Err(IdError::TooLong { len: 4, max: 3, .. })
        ));
    }

    #[test]
    fn text_allows_spaces_not_controls() {
        assert!(text("t", "a b", 10).is_ok());
        assert!(matches!(
            text("t", "a\nb", 10),
            Err(IdError::InvalidChar { found: '\n', .. })
        ));
        assert!(matches!(
            trimmed_text("t", " a", 10),
            Err(IdError::SurroundingWhitespace { .. })
        ));
        assert!(matches!(
            trimmed_text("t", "a ", 10),
            Err(IdError::SurroundingWhitespace { .. })
        ));
        assert!(trimmed_text("t", "a b", 10).is_ok());
    }
}
