//! `login`, `logout`, `whoami`.

use super::{env, read, Failure, GlobalArgs};
use crate::client::{is_cleartext_remote, normalize_url, Api};
use crate::config::{self, StoredLogin};
use crate::output::{self, fields, from_now, Mode};
use clap::Args;
use latchkey_core::{CredentialKind, ExposeSecret, SecretString};
use latchkey_server::wire::{CredentialView, CurrentUser};
use std::io::{IsTerminal, Read};
use time::{Duration, OffsetDateTime};

/// Within this, `whoami` and `login` warn that the credential expires soon.
const EXPIRY_WARNING: Duration = Duration::days(7);

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// The server, e.g. https://latchkey.example.com (default: --url or LATCHKEY_URL).
    #[arg(value_name = "URL")]
    pub server: Option<String>,
    /// Read the token from standard input (recommended: it stays out of the
    /// process list and the shell history). Or give `--token TOKEN`.
    #[arg(long, conflicts_with = "token")]
    pub token_stdin: bool,
}

pub async fn login(args: LoginArgs, global: &GlobalArgs) -> Result<(), Failure> {
    let mode = global.mode();
    let server = args
        .server
        .or_else(|| global.url.clone())
        .or_else(|| env("LATCHKEY_URL"))
        .ok_or_else(|| Failure::Usage("give the server URL: `latchkey login URL`".to_string()))?;
    let url = normalize_url(&server)?;
    let token = if args.token_stdin {
        if std::io::stdin().is_terminal() {
            eprintln!("Paste the token and press Enter, then Ctrl-D:");
        }
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(|e| Failure::Local(format!("cannot read the token from stdin: {e}")))?;
        let token = SecretString::from(input.trim());
        drop(SecretString::from(input)); // zeroed as it goes
        token
    } else {
        global
            .token
            .as_ref()
            .map(|t| SecretString::from(t.expose_secret().trim()))
            .ok_or_else(|| {
                Failure::Usage(
                    "give the token: `--token-stdin` (reads it from standard input) or `--token TOKEN`"
                        .to_string(),
                )
            })?
    };
    if token.expose_secret().is_empty() {
        return Err(Failure::Usage("the token is empty".to_string()));
    }
    if is_cleartext_remote(&url) {
        eprintln!(
            "latchkey: warning: {url} is plain HTTP to another machine: the token crosses the network unencrypted; use https://"
        );
    }
    let api = Api::new(&url, token.clone())?;
    let answer = match api.get("/api/v1/user").await {
        Ok(answer) => answer,
        Err(Failure::Api {
            status,
            code,
            message,
            details,
        }) => {
            return Err(Failure::Api {
                status,
                code,
                message: format!("{message}; the server refused this token, nothing was stored"),
                details,
            })
        }
        Err(other) => return Err(other),
    };
    let me: CurrentUser = read(&answer)?;
    let path = config::store(&StoredLogin {
        url: url.clone(),
        token,
    })?;
    if mode.json {
        output::json(&answer);
    } else if !mode.quiet {
        println!(
            "Logged in to {url} as {} in organization {}, with {}.",
            principal(&me),
            me.org.name,
            credential_line(&me.credential)
        );
        println!("The token is stored in {} (mode 0600).", path.display());
    }
    warn_if_expiring(&me.credential);
    Ok(())
}

pub fn logout(mode: Mode) -> Result<(), Failure> {
    match config::remove()? {
        Some(path) if !mode.quiet => {
            println!("Logged out: removed {}.", path.display());
            eprintln!("The token itself still works until it expires or is revoked (`latchkey tokens revoke ID`).");
        }
        None if !mode.quiet => println!("Not logged in; nothing to do."),
        _ => {}
    }
    Ok(())
}

pub async fn whoami(api: &Api, mode: Mode) -> Result<(), Failure> {
    let answer = api.get("/api/v1/user").await?;
    let me: CurrentUser = read(&answer)?;
    if mode.json {
        output::json(&answer);
    } else if mode.quiet {
        println!("{}", me.principal.actor.uuid);
    } else {
        let org = &me.org;
        let role = match (me.role, &me.custom_role) {
            (Some(r), _) => r.as_str().to_string(),
            (None, Some(c)) => format!("custom role {}", c.name),
            _ => "(none at organization level)".to_string(),
        };
        print!(
            "{}",
            fields(&[
                ("principal", principal(&me)),
                ("principal id", me.principal.actor.uuid.to_string()),
                (
                    "organization",
                    format!("{} ({} plan)", org.name, org.plan.as_str())
                ),
                ("organization id", org.uuid.to_string()),
                ("role", role),
                ("scopes", output::list(Some(&me.scopes), "-")),
                ("credential", credential_line(&me.credential)),
                ("server", api.base().to_string()),
            ])
        );
    }
    warn_if_expiring(&me.credential);
    Ok(())
}

/// "user Ada <ada@example.com>", "api_key ci".
fn principal(me: &CurrentUser) -> String {
    let p = &me.principal;
    let mut line = format!("{} {}", p.actor.kind.as_str(), p.actor.name);
    // A user without a name is shown by email already.
    if let Some(email) = &p.email {
        if p.actor.name != *email {
            line.push_str(&format!(" <{email}>"));
        }
    }
    line
}

/// "personal access token "cli" (lkpat_AbCd), expires 2026-03-01 00:00Z (in 30 days)".
fn credential_line(c: &CredentialView) -> String {
    let kind = match c.kind {
        CredentialKind::Pat => "personal access token",
        CredentialKind::ApiKey => "API key",
        CredentialKind::ServiceAccount => "service account",
        CredentialKind::Session => "web session",
    };
    let mut line = kind.to_string();
    if let Some(name) = &c.name {
        line.push_str(&format!(" {name:?}"));
    }
    if let Some(prefix) = &c.display_prefix {
        line.push_str(&format!(" ({prefix}…)"));
    }
    match c.expires_at {
        Some(at) => line.push_str(&format!(
            ", expires {} ({})",
            output::short_time(at),
            from_now(at)
        )),
        None if c.kind != CredentialKind::Session => line.push_str(", never expires"),
        None => {}
    }
    line
}

/// A warning on stderr when the credential expires within seven days.
fn warn_if_expiring(credential: &CredentialView) {
    let Some(at) = credential.expires_at else {
        return;
    };
    if at - OffsetDateTime::now_utc() <= EXPIRY_WARNING {
        let hint = match (credential.kind, credential.uuid) {
            (CredentialKind::Pat, Some(id)) => {
                format!("; rotate it: `latchkey tokens rotate {id} --expires-in 30d`")
            }
            (CredentialKind::ApiKey, Some(id)) => {
                format!("; rotate it: `latchkey api-keys rotate {id} --expires-in 30d`")
            }
            (CredentialKind::ServiceAccount, Some(id)) => {
                format!("; rotate it: `latchkey service-accounts rotate {id} --expires-in 30d`")
            }
            _ => String::new(),
        };
        eprintln!(
            "latchkey: warning: this credential expires {} ({}){hint}",
            from_now(at),
            output::short_time(at)
        );
    }
}
