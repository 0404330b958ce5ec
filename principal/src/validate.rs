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
    // ASCII fast path: the ASCII whitespace and control characters are exactly the bytes
    // up to 0x20 and 0x7f. Stops at the first refused or non-ASCII byte; before it, a byte
    // position is a character position.
    let start = visible_ascii_run(value.as_bytes(), b'!');
    if start == value.len() {
        return Ok(());
    }
    match value[start..]
        .char_indices()
        .map(|(i, c)| (start + i, c))
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
    // ASCII fast path: the ASCII control characters are the bytes below 0x20 and 0x7f.
    // Stops at the first refused or non-ASCII byte; the rest is checked per character.
    let start = visible_ascii_run(value.as_bytes(), b' ');
    if start == value.len() {
        return Ok(());
    }
    match value[start..]
        .char_indices()
        .map(|(i, c)| (start + i, c))
        .find(|(_, c)| c.is_control())
    {
        Some((position, found)) => Err(IdError::InvalidChar {
            field,
            position,
            found,
        }),
        None => Ok(()),
    }
}

/// The length of the leading run of bytes from `lowest` to `0x7e` (`lowest` at most 0x7e),
/// eight bytes at a time: the validators' fast path over ASCII text.
fn visible_ascii_run(bytes: &[u8], lowest: u8) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut done = 0;
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // Exact tests for "some byte is below `lowest`" and "some byte is above 0x7e".
        let below = x.wrapping_sub(ONES * u64::from(lowest)) & !x;
        let above = x.wrapping_add(ONES) | x;
        if (below | above) & HIGHS != 0 {
            break;
        }
        done += 8;
    }
    bytes[done..]
        .iter()
        .position(|&b| b < lowest || b > 0x7e)
        .map_or(bytes.len(), |position| done + position)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The character-by-character rules the byte fast paths must agree with.
    fn reference(value: &str, refused: impl Fn(char) -> bool) -> Option<(usize, char)> {
        value.char_indices().find(|&(_, c)| refused(c))
    }

    fn found(result: Result<(), IdError>) -> Option<(usize, char)> {
        match result {
            Ok(()) => None,
            Err(IdError::InvalidChar {
                position, found, ..
            }) => Some((position, found)),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn visible_ascii_run_stops_at_each_refused_byte() {
        for lowest in [b' ', b'!'] {
            for bad in (0..=u8::MAX).filter(|&b| b < lowest || b > 0x7e) {
                for at in 0..20 {
                    let mut bytes = vec![b'a'; 20];
                    bytes[at] = bad;
                    assert_eq!(visible_ascii_run(&bytes, lowest), at, "{bad:#x} at {at}");
                }
            }
            assert_eq!(visible_ascii_run(&[lowest; 17], lowest), 17);
            assert_eq!(visible_ascii_run(&[0x7e; 17], lowest), 17);
            assert_eq!(visible_ascii_run(&[], lowest), 0);
        }
    }

    proptest! {
        #[test]
        fn fast_paths_agree_with_char_rules(
            value in "[a-z]{0,20}[a-z \\t\\n\\u{0}-\\u{1f}\\u{7f}\\u{80}-\\u{a0}\\u{2003}\\u{e9}\\u{1f600}]{1,12}[a-z]{0,10}"
        ) {
            prop_assert_eq!(
                found(token("t", &value, 100)),
                reference(&value, |c| c.is_whitespace() || c.is_control())
            );
            prop_assert_eq!(
                found(no_control("t", &value)),
                reference(&value, char::is_control)
            );
        }
    }

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
