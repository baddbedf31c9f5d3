//! Secrets held in memory (the server key, passwords, session ids, invite
//! codes, a client's token): `secrecy`'s `SecretString`, whose `Debug` prints
//! nothing of the value and which is zeroed when dropped. The value is read
//! only through `expose_secret()`, so every place that reads one can be found.

pub use secrecy::{ExposeSecret, SecretString};

/// For `#[arg(value_parser = secret_arg)]`: a command-line or environment
/// value taken as a secret.
pub fn secret_arg(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text))
}

/// For `#[serde(serialize_with = "expose_to_serializer")]` on the few
/// fields that must be written out: a request body a client sends, the
/// client's own config file.
pub fn expose_to_serializer<S: serde::Serializer>(
    secret: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

/// As [`expose_to_serializer`], for an optional field.
pub fn expose_option_to_serializer<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose_secret()),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_nothing_of_the_value() {
        let secret = secret_arg("hunter2-very-secret").unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(secret.expose_secret(), "hunter2-very-secret");
    }
}
