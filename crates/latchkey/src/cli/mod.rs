//! The command-line client (PRODUCT.md §5, issue 7): every command here is a
//! client of the HTTP API — it never opens the database.
//!
//! Exit codes: 0 ok, 1 the API refused (or a local refusal such as an
//! ambiguous name), 2 usage error (clap's, or no login configured), 3 the
//! server cannot be reached or answers something that is not latchkey.

mod args;
mod audit;
mod credentials;
mod org;
mod session;

use crate::client::{normalize_url, Api};
use crate::config;
pub use crate::failure::Failure;
use crate::output::Mode;
use clap::{Args, Subcommand};
use latchkey_core::secret::{secret_arg, ExposeSecret, SecretString};
use latchkey_server::wire::Paged;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Flags every client command takes, before or after the subcommand.
#[derive(Args, Clone, Debug)]
pub struct GlobalArgs {
    /// Server URL; overrides LATCHKEY_URL and the stored login.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help_heading = "Client options"
    )]
    pub url: Option<String>,
    /// Token; overrides LATCHKEY_TOKEN and the stored login. A flag is visible
    /// in the process list: prefer LATCHKEY_TOKEN, or `login --token-stdin`.
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        help_heading = "Client options",
        value_parser = secret_arg
    )]
    pub token: Option<SecretString>,
    /// Print the API's results as JSON.
    #[arg(long, global = true, help_heading = "Client options")]
    pub json: bool,
    /// Print only what a script needs: the secret of a create or rotate, the
    /// ids of a list, nothing otherwise.
    #[arg(
        long,
        short = 'q',
        global = true,
        conflicts_with = "json",
        help_heading = "Client options"
    )]
    pub quiet: bool,
}

impl GlobalArgs {
    pub fn mode(&self) -> Mode {
        Mode {
            json: self.json,
            quiet: self.quiet,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Verify a token against a server and store both for the commands below.
    Login(session::LoginArgs),
    /// Forget the stored login (the token itself stays valid until revoked).
    Logout,
    /// Who the current credential is: principal, organization, role, scopes, expiry.
    Whoami,
    /// Your personal access tokens in this organization.
    #[command(subcommand)]
    Tokens(credentials::TokensCommand),
    /// The organization's API keys (admin).
    #[command(subcommand)]
    ApiKeys(credentials::ApiKeysCommand),
    /// The organization's service accounts (admin, enterprise plan).
    #[command(subcommand)]
    ServiceAccounts(credentials::ServiceAccountsCommand),
    /// Projects you can read.
    #[command(subcommand)]
    Projects(org::ProjectsCommand),
    /// Members of the organization and their roles (admin).
    #[command(subcommand)]
    Members(org::MembersCommand),
    /// The organization's audit log, newest first.
    Audit(audit::AuditArgs),
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The server and token to use: `--url`/`--token` flags, else
/// `LATCHKEY_URL`/`LATCHKEY_TOKEN`, else the stored login. The stored token
/// goes only to the stored URL: pointing the client at another server
/// without a token for it is refused, never answered with that token.
pub fn connect(global: &GlobalArgs) -> Result<Api, Failure> {
    let given_url = global.url.clone().or_else(|| env("LATCHKEY_URL"));
    let given_token = global
        .token
        .clone()
        .or_else(|| env("LATCHKEY_TOKEN").map(SecretString::from));
    // The file is read only when something is missing: a CI job with both
    // variables never depends on it.
    let stored = match (&given_url, &given_token) {
        (Some(_), Some(_)) => None,
        _ => config::load()?,
    };
    let url = match (given_url, &stored) {
        (Some(u), _) => normalize_url(&u)?,
        (None, Some(s)) => normalize_url(&s.url)?,
        (None, None) => {
            return Err(Failure::Usage(
                "not logged in: run `latchkey login URL --token-stdin`, or set LATCHKEY_URL and LATCHKEY_TOKEN".to_string(),
            ))
        }
    };
    let token = match (given_token, stored) {
        (Some(t), _) => SecretString::from(t.expose_secret().trim()),
        (None, Some(s)) if normalize_url(&s.url).ok().as_deref() == Some(url.as_str()) => s.token,
        (None, Some(s)) => {
            return Err(Failure::Usage(format!(
                "no token for {url}: the stored login is for {}; give --token or LATCHKEY_TOKEN, or log in to {url}",
                s.url
            )))
        }
        (None, None) => {
            return Err(Failure::Usage(format!(
                "no token for {url}: give --token or LATCHKEY_TOKEN, or run `latchkey login {url} --token-stdin`"
            )))
        }
    };
    Api::new(&url, token)
}

pub async fn run(command: ClientCommand, global: GlobalArgs) -> Result<(), Failure> {
    let mode = global.mode();
    match command {
        ClientCommand::Login(a) => session::login(a, &global).await,
        ClientCommand::Logout => session::logout(mode),
        ClientCommand::Whoami => session::whoami(&connect(&global)?, mode).await,
        ClientCommand::Tokens(c) => credentials::tokens(c, &connect(&global)?, mode).await,
        ClientCommand::ApiKeys(c) => credentials::api_keys(c, &connect(&global)?, mode).await,
        ClientCommand::ServiceAccounts(c) => {
            credentials::service_accounts(c, &connect(&global)?, mode).await
        }
        ClientCommand::Projects(c) => org::projects(c, &connect(&global)?, mode).await,
        ClientCommand::Members(c) => org::members(c, &connect(&global)?, mode).await,
        ClientCommand::Audit(a) => audit::audit(a, &connect(&global)?, mode).await,
    }
}

/// An id argument: a UUID as given, or else the one item of `list_path`
/// whose `keys` (their values given by `values`, in the same order) equals
/// it: a name, an email, a display prefix.
pub(crate) async fn resolve<T: DeserializeOwned>(
    api: &Api,
    list_path: &str,
    what: &str,
    keys: &[&str],
    arg: &str,
    id: impl Fn(&T) -> String,
    values: impl Fn(&T) -> Vec<Option<&str>>,
) -> Result<String, Failure> {
    if let Ok(uuid) = uuid::Uuid::parse_str(arg) {
        return Ok(uuid.to_string());
    }
    let list = api.get(list_path).await?;
    let items: Vec<T> = match list.get("items") {
        Some(_) => read::<Paged<T>>(&list)?.items,
        None => read(&list)?,
    };
    let found: Vec<&T> = items
        .iter()
        .filter(|item| {
            keys.iter().zip(values(item)).any(|(k, v)| match v {
                // Emails are compared as the server stores them: any case.
                Some(v) if *k == "email" => v.eq_ignore_ascii_case(arg),
                Some(v) => v == arg,
                None => false,
            })
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(id(one)),
        [] => Err(Failure::Refused {
            code: "not_found",
            message: format!("no {what} has the id, {} {arg:?}", keys.join(" or ")),
        }),
        many => Err(Failure::Refused {
            code: "ambiguous",
            message: format!(
                "{} {what}s match {arg:?}; give the id: {}",
                many.len(),
                many.iter().map(|i| id(i)).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

/// The typed view of an answer, for a command that reads its fields (with
/// `--json` the answer itself is printed, as the server gave it).
pub(crate) fn read<T: DeserializeOwned>(results: &Value) -> Result<T, Failure> {
    T::deserialize(results).map_err(|e| {
        Failure::Unreachable(format!(
            "the server's answer is not the latchkey API this client reads: {e}"
        ))
    })
}
