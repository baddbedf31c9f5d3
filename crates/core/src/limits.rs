//! Bounds on untrusted input, checked at the edge and named in the error.

/// Request bodies larger than this are refused with `413`.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MIN_PASSWORD_CHARS: usize = 8;
/// argon2 is fed at most this much, however long the body.
pub const MAX_PASSWORD_CHARS: usize = 256;
pub const MAX_SCOPES_PER_REQUEST: usize = 128;
pub const MAX_PAGE_LIMIT: u32 = 500;
/// Project rows of one project-scoped service account.
pub const MAX_PROJECT_ROWS: usize = 500;
pub const DEFAULT_PAGE_LIMIT: u32 = 50;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> FieldError {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

/// Characters no name or email holds anywhere: the controls (`Cc`) and the
/// format characters (`Cf`: zero-width joiners and spaces, bidirectional
/// overrides, byte-order marks), which make one name look like another.
/// A table rather than a property lookup, so that the rule and the pattern
/// the OpenAPI document gives for it are one list; a test checks it against
/// Unicode's categories.
const HIDDEN: &[(char, char)] = &[
    ('\u{0}', '\u{1f}'),
    ('\u{7f}', '\u{9f}'),
    ('\u{ad}', '\u{ad}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

/// The white space that is not also a control: what trimming removes
/// besides controls (which are refused anyway).
const SPACES: &[(char, char)] = &[
    (' ', ' '),
    ('\u{a0}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

fn within(table: &[(char, char)], c: char) -> bool {
    table.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

fn is_hidden(c: char) -> bool {
    within(HIDDEN, c)
}

/// Declares a string that only a check of this module makes.
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

checked_string!(
    /// A name that passed [`name`]: trimmed, visible, within its length.
    Name
);

checked_string!(
    /// An email address that passed [`email`]: trimmed and lowercased.
    Email
);

/// A display name: no hidden characters, at most `max_chars` characters,
/// something besides white space; stored trimmed.
pub fn name(field: &'static str, value: &str, max_chars: usize) -> Result<Name, FieldError> {
    if value.chars().any(is_hidden) {
        return Err(FieldError::new(
            field,
            "must not contain control, invisible or bidirectional-override characters",
        ));
    }
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(Name(trimmed.to_string()))
}

/// What names are compared by for uniqueness: NFKC with case folded (as
/// Unicode's NFKC_Casefold approximates it: fold, then normalize again), so
/// `ｗｅｂｓｉｔｅ`, `WebSite` and `website` are one name.
pub fn name_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let folded: String = name.nfkc().flat_map(char::to_lowercase).collect();
    folded.nfkc().collect()
}

/// An email address, lowercased and trimmed: at most 254 characters, no
/// hidden characters, no space inside, `local@domain` where the domain has
/// a dot and neither starts nor ends with one. Only this rough shape is
/// checked; the mail that reaches it is the real test.
pub fn email(field: &'static str, value: &str) -> Result<Email, FieldError> {
    let trimmed = value.trim();
    let shaped = matches!(trimmed.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'));
    if value.chars().count() > MAX_EMAIL_CHARS
        || !shaped
        || value.chars().any(is_hidden)
        || trimmed.chars().any(|c| within(SPACES, c))
    {
        return Err(FieldError::new(field, "must be an email address"));
    }
    Ok(Email(trimmed.to_lowercase()))
}

/// A character class of the table's ranges, for an OpenAPI `pattern`
/// (ECMA-262): escapes in the BMP, the characters themselves beyond it.
fn class(tables: &[&[(char, char)]], extra: &str) -> String {
    fn put(out: &mut String, c: char) {
        if (c as u32) < 0x10000 {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    let mut out = String::from(extra);
    for &(lo, hi) in tables.iter().flat_map(|t| t.iter()) {
        put(&mut out, lo);
        if hi != lo {
            out.push('-');
            put(&mut out, hi);
        }
    }
    out
}

/// `name`'s rule as a pattern (its length is the schema's `maxLength`).
pub fn name_pattern() -> String {
    let hidden = class(&[HIDDEN], "");
    let visible = class(&[HIDDEN, SPACES], "");
    format!("^[^{hidden}]*[^{visible}][^{hidden}]*$")
}

/// `email`'s rule as a pattern (with `maxLength` 254).
pub fn email_pattern() -> String {
    let space = class(&[SPACES], "");
    let part = class(&[HIDDEN, SPACES], "");
    let local = class(&[HIDDEN, SPACES], "@");
    let edge = class(&[HIDDEN, SPACES], ".");
    format!("^[{space}]*[^{local}]+@[^{edge}][^{part}]*\\.[^{part}]*[^{edge}][{space}]*$")
}

pub fn password(field: &'static str, value: &str) -> Result<(), FieldError> {
    let n = value.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(FieldError::new(
            field,
            format!("must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            name("name", "  ci  ", 100).map(String::from),
            Ok("ci".into())
        );
        assert_eq!(name("name", "   ", 100).unwrap_err().field, "name");
        assert!(name("name", &"é".repeat(100), 100).is_ok());
        assert!(name("name", &"é".repeat(101), 100).is_err());
        assert!(
            name("name", &format!(" {} ", "é".repeat(99)), 100).is_err(),
            "the length is the value's"
        );
        assert!(name("name", "a\u{0}b", 100).is_err());
        assert!(name("name", " ci\n", 100).is_err(), "controls anywhere");
        for invisible in [
            "web\u{200b}site",
            "\u{202e}etisbew",
            "ci\u{200d}",
            "\u{feff}x",
            "a\u{2066}b",
        ] {
            assert!(name("name", invisible, 100).is_err(), "{invisible:?}");
        }
        assert!(name("name", "Café – déploiement 🚀", 100).is_ok());
    }

    #[test]
    fn look_alike_names_share_a_key() {
        let key = name_key("website");
        for same in ["WebSite", "ＷＥＢＳＩＴＥ", "ｗｅｂｓｉｔｅ", "WEBSITE"] {
            assert_eq!(name_key(same), key, "{same}");
        }
        assert_eq!(name_key("ﬁle"), name_key("FILE"), "ligatures decompose");
        assert_ne!(name_key("website"), name_key("web site"));
    }

    #[test]
    fn emails_are_lowercased_and_shaped() {
        assert_eq!(
            email("email", " Ada@Example.COM ").map(String::from),
            Ok("ada@example.com".into())
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "a da@example.com",
            "ada@.com",
        ] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
    }

    /// The rules and the patterns the OpenAPI document gives for them agree
    /// (the document is checked by schemathesis against the server).
    #[test]
    fn the_patterns_are_the_rules() {
        use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let cf = c.general_category() == GeneralCategory::Format;
            assert_eq!(is_hidden(c), c.is_control() || cf, "{:x}", c as u32);
            let space = c.is_whitespace() && !c.is_control();
            assert_eq!(within(SPACES, c), space, "{:x}", c as u32);
        }
        let name_re = regex::Regex::new(&name_pattern()).expect("name pattern");
        let email_re = regex::Regex::new(&email_pattern()).expect("email pattern");
        let mut samples: Vec<String> = [
            "",
            " ",
            "ci",
            " ci ",
            "\tci",
            "ci\n",
            "a\u{200b}b",
            "\u{a0}x\u{3000}",
            "\u{e0020}",
            "a@b.c",
            " a@b.c ",
            "a@@b.c",
            "@b.c",
            "a@.b",
            "a@b.",
            "a@b",
            "a b@c.d",
            "a@b..c",
            "\ta@b.c",
            "a@b.c\u{2028}",
            "a@b@c.d",
            "É@ü.fr",
            "a@\u{110bd}.c",
            "\u{1680}a@b.c",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every character, alone and between letters, and as each part of an
        // address.
        for c in (0..=0x10ffff).step_by(7).filter_map(char::from_u32) {
            samples.push(format!("x{c}y"));
            samples.push(format!("{c}@b.c"));
            samples.push(format!("a@{c}.c"));
            samples.push(format!("a@b.{c}"));
            samples.push(format!("{c}a@b.c"));
        }
        for s in &samples {
            let by_rule = name("name", s, usize::MAX).is_ok();
            assert_eq!(name_re.is_match(s), by_rule, "name {s:?}");
            let by_rule = email("email", s).is_ok();
            assert_eq!(email_re.is_match(s), by_rule, "email {s:?}");
        }
    }

    #[test]
    fn passwords_are_bounded() {
        assert!(password("password", "short").is_err());
        assert!(password("password", "long enough").is_ok());
        assert!(password("password", &"x".repeat(257)).is_err());
    }
}
