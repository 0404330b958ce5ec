//! `application/x-www-form-urlencoded` request bodies: parameters, each at most once.

use super::StsError;

/// A parsed form body. Parameters without a value are treated as omitted (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub(super) struct Form {
    params: Vec<(String, String)>,
}

impl Form {
    pub(super) fn parse(body: &[u8]) -> Form {
        Form {
            params: form_urlencoded::parse(body)
                .filter(|(_, value)| !value.is_empty())
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
        }
    }

    /// The one value of `name`; a parameter given twice is refused (RFC 6749 §3.2).
    pub(super) fn single(&self, name: &'static str) -> Result<Option<&str>, StsError> {
        let mut values = self.all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(StsError::DuplicateParameter { name });
        }
        Ok(first)
    }

    /// [`single`](Self::single), and required.
    pub(super) fn required(&self, name: &'static str) -> Result<&str, StsError> {
        self.single(name)?
            .ok_or(StsError::MissingParameter { name })
    }

    /// Every value of `name` (RFC 8693 lets `audience` and `resource` repeat).
    pub(super) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes a form-urlencoded component (`+` is a space, `%XX` a byte); `None` for a bad
/// escape or bytes that are not UTF-8.
pub(super) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}
