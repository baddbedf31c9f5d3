//! The client's stored login: `$XDG_CONFIG_HOME/latchkey/config.toml` (or the
//! platform's config directory), file mode 0600 in a 0700 directory.
//!
//! The file holds the token — that is what `latchkey login` is for — and
//! nothing else ever does: it is never printed, logged, or put in an error
//! message (not even a parse error, which would quote the line).

use crate::failure::Failure;
use latchkey_core::secret::{expose_to_serializer, SecretString};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `login` stores.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct StoredLogin {
    pub url: String,
    #[serde(serialize_with = "expose_to_serializer")]
    pub token: SecretString,
}

const HEADER: &str = "# Written by `latchkey login`; `latchkey logout` removes it.\n\
# It holds a secret token: keep it private (mode 0600).\n";

/// The directory of the config file: `$XDG_CONFIG_HOME/latchkey` when that
/// is set to an absolute path (also on macOS, for people who set it), else
/// the platform's config directory (`~/.config`, `~/Library/Application
/// Support`, `%APPDATA%`).
pub fn config_dir() -> Result<PathBuf, Failure> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(dirs::config_dir)
        .ok_or_else(|| {
            Failure::Local(
                "cannot find a config directory: set XDG_CONFIG_HOME or HOME".to_string(),
            )
        })?;
    Ok(base.join("latchkey"))
}

pub fn config_path() -> Result<PathBuf, Failure> {
    Ok(config_dir()?.join("config.toml"))
}

/// The stored login, if there is one.
pub fn load() -> Result<Option<StoredLogin>, Failure> {
    let path = config_path()?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::Local(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    warn_if_readable_by_others(&path);
    // The parse error's text would quote the offending line, which may be
    // the token: say only where the file is.
    let login: StoredLogin = toml::from_str(&text).map_err(|_| {
        Failure::Local(format!(
            "{} is not a valid latchkey config file; run `latchkey login` again, or remove it",
            path.display()
        ))
    })?;
    Ok(Some(login))
}

/// Writes the login: the directory 0700, the file 0600 from its first byte
/// (a temporary file renamed into place, so a reader never sees half of it).
pub fn store(login: &StoredLogin) -> Result<PathBuf, Failure> {
    let dir = config_dir()?;
    let path = dir.join("config.toml");
    let fail = |what: &str, p: &Path, e: std::io::Error| {
        Failure::Local(format!("cannot {what} {}: {e}", p.display()))
    };
    create_private_dir(&dir).map_err(|e| fail("create", &dir, e))?;
    let body = toml::to_string(login)
        .map_err(|_| Failure::Local("cannot encode the config file".to_string()))?;
    let tmp = dir.join(format!(".config.toml.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = private_file(&tmp)?;
        file.write_all(HEADER.as_bytes())?;
        file.write_all(body.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail("write", &path, e)
    })?;
    Ok(path)
}

/// Forgets the login; `Ok(None)` when there was none.
pub fn remove() -> Result<Option<PathBuf>, Failure> {
    let path = config_path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(Some(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::Local(format!(
            "cannot remove {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // It may have existed with a looser mode; it is ours, so tighten it.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // `mode` applies only to a file it creates; make sure of it either way.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "latchkey: warning: {} holds a token and is readable by others (mode {mode:o}); run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}
