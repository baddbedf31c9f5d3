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

/// A display name: trimmed, not empty, no control characters, bounded.
pub fn name(field: &'static str, value: &str, max_chars: usize) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    // Format characters (zero-width joiners and spaces, bidirectional
    // overrides, byte-order marks) make one name look like another.
    if trimmed.chars().any(is_format) {
        return Err(FieldError::new(
            field,
            "must not contain invisible or bidirectional-override characters",
        ));
    }
    Ok(trimmed.to_string())
}

/// What names are compared by for uniqueness: NFKC with case folded (as
/// Unicode's NFKC_Casefold approximates it: fold, then normalize again), so
/// `ｗｅｂｓｉｔｅ`, `WebSite` and `website` are one name.
pub fn name_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let folded: String = name.nfkc().flat_map(char::to_lowercase).collect();
    folded.nfkc().collect()
}

fn is_format(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.general_category() == GeneralCategory::Format
}

/// An email address, lowercased; only its rough shape is checked.
pub fn email(field: &'static str, value: &str) -> Result<String, FieldError> {
    let e = value.trim().to_lowercase();
    let shaped = matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'));
    if e.chars().count() > MAX_EMAIL_CHARS
        || !shaped
        || e.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(FieldError::new(field, "must be an email address"));
    }
    Ok(e)
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
        assert_eq!(name("name", "  ci  ", 100), Ok("ci".into()));
        assert_eq!(name("name", "   ", 100).unwrap_err().field, "name");
        assert!(name("name", &"é".repeat(100), 100).is_ok());
        assert!(name("name", &"é".repeat(101), 100).is_err());
        assert!(name("name", "a\u{0}b", 100).is_err());
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
            email("email", " Ada@Example.COM "),
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

    #[test]
    fn passwords_are_bounded() {
        assert!(password("password", "short").is_err());
        assert!(password("password", "long enough").is_ok());
        assert!(password("password", &"x".repeat(257)).is_err());
    }
}
