//! `tokens`, `api-keys`, `service-accounts`: list, create, rotate, revoke.
//! A secret is printed only here, by create and rotate, once.

use super::args::{
    parse_duration, parse_project_grant, parse_when, NewExpiry, ProjectGrant, RotateExpiry,
    SystemRole,
};
use super::{resolve, Failure};
use crate::client::Api;
use crate::output::{self, fields, s, time as t, Mode, Table};
use crate::output::{actor, rfc3339};
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

const PATS: &str = "/api/v1/user/me/personal-access-tokens";
const API_KEYS: &str = "/api/v1/org/api-keys";
const SERVICE_ACCOUNTS: &str = "/api/v1/service-accounts";

#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// List your tokens (never their secrets).
    List,
    /// Create a token; its secret is printed once.
    Create(CreateToken),
    /// Rename, re-scope, or bring the expiry forward (never push it back).
    Edit(EditToken),
    /// New secret, same token; the old secret stops working at once.
    Rotate {
        /// The token's id or name.
        id: String,
        #[command(flatten)]
        expiry: RotateExpiry,
    },
    /// Revoke a token, at once.
    Revoke {
        /// The token's id or name.
        id: String,
    },
}

#[derive(Args, Debug)]
pub struct CreateToken {
    /// What the token is for, e.g. laptop, ci.
    #[arg(long)]
    name: String,
    #[command(flatten)]
    expiry: NewExpiry,
    /// Narrow the token to this scope (repeat for several); default: your
    /// full role, whatever it is at each request.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("change").required(true).multiple(true)))]
pub struct EditToken {
    /// The token's id or name.
    id: String,
    /// The new name.
    #[arg(long, group = "change")]
    name: Option<String>,
    /// The token's new scope list (repeat for several); replaces the old one.
    #[arg(long = "scope", value_name = "SCOPE", group = "change")]
    scopes: Vec<String>,
    /// An earlier expiry: a date (midnight UTC) or RFC 3339 time.
    #[arg(long, value_name = "DATE", value_parser = parse_when, group = "change", conflicts_with = "expires_in")]
    expires_at: Option<OffsetDateTime>,
    /// An earlier expiry, this long from now: 12h, 7d, 2w.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, group = "change")]
    expires_in: Option<Duration>,
}

#[derive(Subcommand, Debug)]
pub enum ApiKeysCommand {
    /// List the organization's API keys (never their secrets).
    List,
    /// Create an API key with a fixed role (at most your own); its secret is printed once.
    Create {
        /// What the key is for, e.g. deploy.
        #[arg(long)]
        name: String,
        /// The key's fixed role, at most your own.
        #[arg(long, value_enum)]
        role: SystemRole,
        #[command(flatten)]
        expiry: NewExpiry,
    },
    /// New secret, same key; the old secret stops working at once.
    Rotate {
        /// The key's id or name.
        id: String,
        #[command(flatten)]
        expiry: RotateExpiry,
    },
    /// Revoke an API key, at once.
    Revoke {
        /// The key's id or name.
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ServiceAccountsCommand {
    /// List the organization's service accounts (never their secrets).
    List,
    /// One service account, with its project grants.
    Show {
        /// The service account's id or description.
        id: String,
    },
    /// Create a service account: organization-wide (--role or --custom-role)
    /// or on projects (--project, repeated); its secret is printed once.
    Create(CreateServiceAccount),
    /// New secret, same service account; the old secret stops working at once.
    Rotate {
        /// The service account's id or description.
        id: String,
        #[command(flatten)]
        expiry: RotateExpiry,
    },
    /// Delete a service account; its token stops working at once.
    Delete {
        /// The service account's id or description.
        id: String,
    },
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("access").required(true).multiple(false)))]
pub struct CreateServiceAccount {
    /// What the account is for; lists and the audit log name it so.
    #[arg(long)]
    description: String,
    /// Organization scope: this system role.
    #[arg(long, value_enum, group = "access")]
    role: Option<SystemRole>,
    /// Organization scope: this custom role (id or name).
    #[arg(long, value_name = "ROLE", group = "access")]
    custom_role: Option<String>,
    /// Project scope: PROJECT:ROLE, the project by id or name, the role a
    /// system role or a custom role's id. Repeat for several projects.
    #[arg(long = "project", value_name = "PROJECT:ROLE", value_parser = parse_project_grant, group = "access")]
    projects: Vec<ProjectGrant>,
    #[command(flatten)]
    expiry: NewExpiry,
}

// ---------------------------------------------------------------------------

pub async fn tokens(command: TokensCommand, api: &Api, mode: Mode) -> Result<(), Failure> {
    match command {
        TokensCommand::List => {
            let list = api.get(PATS).await?;
            print_list(&list, mode, "uuid", "no personal access tokens", |rows| {
                let mut table =
                    Table::new(&["ID", "NAME", "PREFIX", "SCOPES", "EXPIRES", "LAST USED"]);
                for r in rows {
                    table.row(vec![
                        s(r, "uuid"),
                        s(r, "name"),
                        s(r, "displayPrefix"),
                        output::list(r.get("scopes"), "(full role)"),
                        t(r, "expiresAt", "never"),
                        t(r, "lastUsedAt", "never"),
                    ]);
                }
                table
            });
            Ok(())
        }
        TokensCommand::Create(c) => {
            let mut body = json!({ "name": c.name, "expiresAt": c.expiry.value() });
            if !c.scopes.is_empty() {
                body["scopes"] = json!(c.scopes);
            }
            let created = api.post(PATS, body).await?;
            print_secret(&created, mode, "Created personal access token")
        }
        TokensCommand::Edit(e) => {
            let uuid = pat_id(api, &e.id).await?;
            let mut body = json!({});
            if let Some(name) = e.name {
                body["name"] = json!(name);
            }
            if !e.scopes.is_empty() {
                body["scopes"] = json!(e.scopes);
            }
            let at = e
                .expires_at
                .or_else(|| e.expires_in.map(|d| OffsetDateTime::now_utc() + d));
            if let Some(at) = at {
                body["expiresAt"] = json!(rfc3339(at));
            }
            let updated = api.patch(&format!("{PATS}/{uuid}"), body).await?;
            print_changed(
                &updated,
                mode,
                "Updated personal access token",
                "name",
                |r| {
                    vec![
                        ("id", s(r, "uuid")),
                        ("name", s(r, "name")),
                        ("prefix", s(r, "displayPrefix")),
                        ("scopes", output::list(r.get("scopes"), "(full role)")),
                        ("expires", t(r, "expiresAt", "never")),
                    ]
                },
            );
            Ok(())
        }
        TokensCommand::Rotate { id: arg, expiry } => {
            let uuid = pat_id(api, &arg).await?;
            let rotated = api
                .patch(&format!("{PATS}/{uuid}/rotate"), expiry.body())
                .await?;
            print_secret(&rotated, mode, "Rotated personal access token")
        }
        TokensCommand::Revoke { id: arg } => {
            let uuid = pat_id(api, &arg).await?;
            api.delete(&format!("{PATS}/{uuid}")).await?;
            done(mode, &format!("Revoked personal access token {uuid}."));
            Ok(())
        }
    }
}

pub async fn api_keys(command: ApiKeysCommand, api: &Api, mode: Mode) -> Result<(), Failure> {
    match command {
        ApiKeysCommand::List => {
            let list = api.get(API_KEYS).await?;
            print_list(&list, mode, "uuid", "no API keys", |rows| {
                let mut table = Table::new(&[
                    "ID",
                    "NAME",
                    "ROLE",
                    "PREFIX",
                    "EXPIRES",
                    "LAST USED",
                    "CREATED BY",
                ]);
                for r in rows {
                    table.row(vec![
                        s(r, "uuid"),
                        s(r, "name"),
                        s(r, "role"),
                        s(r, "displayPrefix"),
                        t(r, "expiresAt", "never"),
                        t(r, "lastUsedAt", "never"),
                        actor(r.get("createdBy")),
                    ]);
                }
                table
            });
            Ok(())
        }
        ApiKeysCommand::Create { name, role, expiry } => {
            let body = json!({ "name": name, "role": role.as_str(), "expiresAt": expiry.value() });
            let created = api.post(API_KEYS, body).await?;
            print_secret(&created, mode, "Created API key")
        }
        ApiKeysCommand::Rotate { id: arg, expiry } => {
            let uuid = api_key_id(api, &arg).await?;
            let rotated = api
                .patch(&format!("{API_KEYS}/{uuid}/rotate"), expiry.body())
                .await?;
            print_secret(&rotated, mode, "Rotated API key")
        }
        ApiKeysCommand::Revoke { id: arg } => {
            let uuid = api_key_id(api, &arg).await?;
            api.delete(&format!("{API_KEYS}/{uuid}")).await?;
            done(mode, &format!("Revoked API key {uuid}."));
            Ok(())
        }
    }
}

pub async fn service_accounts(
    command: ServiceAccountsCommand,
    api: &Api,
    mode: Mode,
) -> Result<(), Failure> {
    match command {
        ServiceAccountsCommand::List => {
            let list = match api.get(SERVICE_ACCOUNTS).await {
                Err(Failure::Api { status: 404, code, message, details }) => {
                    return Err(Failure::Api {
                        status: 404,
                        code,
                        message: format!("{message}: this server has no {SERVICE_ACCOUNTS} (a latchkey without service accounts?)"),
                        details,
                    })
                }
                other => other?,
            };
            print_list(&list, mode, "uuid", "no service accounts", |rows| {
                let mut table = Table::new(&[
                    "ID",
                    "DESCRIPTION",
                    "ACCESS",
                    "PREFIX",
                    "EXPIRES",
                    "LAST USED",
                ]);
                for r in rows {
                    table.row(vec![
                        s(r, "uuid"),
                        description(r),
                        access(r),
                        s(r, "displayPrefix"),
                        t(r, "expiresAt", "never"),
                        t(r, "lastUsedAt", "never"),
                    ]);
                }
                table
            });
            Ok(())
        }
        ServiceAccountsCommand::Show { id: arg } => {
            let uuid = service_account_id(api, &arg).await?;
            let sa = api.get(&format!("{SERVICE_ACCOUNTS}/{uuid}")).await?;
            if mode.json {
                output::json(&sa);
            } else if mode.quiet {
                println!("{}", s(&sa, "uuid"));
            } else {
                print!(
                    "{}",
                    fields(&[
                        ("id", s(&sa, "uuid")),
                        ("description", description(&sa)),
                        ("access", access(&sa)),
                        ("prefix", s(&sa, "displayPrefix")),
                        ("expires", t(&sa, "expiresAt", "never")),
                        ("last used", t(&sa, "lastUsedAt", "never")),
                        ("rotated", t(&sa, "rotatedAt", "never")),
                        ("created", t(&sa, "createdAt", "-")),
                        ("created by", actor(sa.get("createdBy"))),
                    ])
                );
                if let Some(projects) = sa.get("projects").and_then(Value::as_array) {
                    let mut table = Table::new(&["PROJECT ID", "PROJECT", "ROLE"]);
                    for p in projects {
                        table.row(vec![
                            s(p, "projectUuid"),
                            s(p, "projectName"),
                            grant_role(p),
                        ]);
                    }
                    println!();
                    table.print("no project grants");
                }
            }
            Ok(())
        }
        ServiceAccountsCommand::Create(c) => {
            let mut body = json!({ "description": c.description, "expiresAt": c.expiry.value() });
            if let Some(role) = c.role {
                body["scope"] = json!("organization");
                body["role"] = json!(role.as_str());
            } else if let Some(custom) = c.custom_role {
                body["scope"] = json!("organization");
                body["customRoleUuid"] = json!(custom_role(api, &custom).await?);
            } else {
                let mut projects = Vec::new();
                for grant in &c.projects {
                    let project_uuid = resolve(
                        api,
                        "/api/v1/org/projects",
                        "project",
                        "projectUuid",
                        &["name"],
                        &grant.project,
                    )
                    .await?;
                    let mut row = json!({ "projectUuid": project_uuid });
                    grant.role.put(&mut row);
                    projects.push(row);
                }
                body["scope"] = json!("project");
                body["projects"] = json!(projects);
            }
            let created = api.post(SERVICE_ACCOUNTS, body).await?;
            for warning in created
                .get("warnings")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                eprintln!(
                    "latchkey: warning: {}",
                    warning
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| warning.to_string())
                );
            }
            print_secret(&created, mode, "Created service account")
        }
        ServiceAccountsCommand::Rotate { id: arg, expiry } => {
            let uuid = service_account_id(api, &arg).await?;
            let rotated = api
                .patch(&format!("{SERVICE_ACCOUNTS}/{uuid}/rotate"), expiry.body())
                .await?;
            print_secret(&rotated, mode, "Rotated service account")
        }
        ServiceAccountsCommand::Delete { id: arg } => {
            let uuid = service_account_id(api, &arg).await?;
            api.delete(&format!("{SERVICE_ACCOUNTS}/{uuid}")).await?;
            done(mode, &format!("Deleted service account {uuid}."));
            Ok(())
        }
    }
}

async fn pat_id(api: &Api, arg: &str) -> Result<String, Failure> {
    resolve(api, PATS, "token", "uuid", &["name", "displayPrefix"], arg).await
}

async fn api_key_id(api: &Api, arg: &str) -> Result<String, Failure> {
    resolve(
        api,
        API_KEYS,
        "API key",
        "uuid",
        &["name", "displayPrefix"],
        arg,
    )
    .await
}

async fn service_account_id(api: &Api, arg: &str) -> Result<String, Failure> {
    let keys = ["description", "name", "displayPrefix"];
    resolve(api, SERVICE_ACCOUNTS, "service account", "uuid", &keys, arg).await
}

/// A custom role's id, given its id or name.
async fn custom_role(api: &Api, arg: &str) -> Result<String, Failure> {
    if let Ok(uuid) = uuid::Uuid::parse_str(arg) {
        return Ok(uuid.to_string());
    }
    let roles = api.get("/api/v1/org/roles").await?;
    let matching: Vec<&Value> = roles
        .get("customRoles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("name").and_then(Value::as_str) == Some(arg))
        .collect();
    match matching.as_slice() {
        [one] => Ok(s(one, "uuid")),
        [] => Err(Failure::Refused {
            code: "not_found",
            message: format!("no custom role has the id or name {arg:?}"),
        }),
        _ => Err(Failure::Refused {
            code: "ambiguous",
            message: format!("several custom roles are named {arg:?}; give the id"),
        }),
    }
}

/// A service account's description (API.md also gives it as `name`).
fn description(r: &Value) -> String {
    match r.get("description").and_then(Value::as_str) {
        Some(d) => d.to_string(),
        None => s(r, "name"),
    }
}

/// A role or custom role of a grant: "developer", "custom Deployers".
fn grant_role(r: &Value) -> String {
    if let Some(role) = r.get("role").and_then(Value::as_str) {
        return role.to_string();
    }
    match r.get("customRole") {
        Some(c) if c.is_object() => format!("custom {}", s(c, "name")),
        Some(Value::String(c)) => format!("custom {c}"),
        _ => "-".to_string(),
    }
}

/// What a service account may do: its role, or "N projects: web=viewer, …".
fn access(r: &Value) -> String {
    if r.get("scope").and_then(Value::as_str) == Some("project") {
        let projects = r.get("projects").and_then(Value::as_array);
        let count = r
            .get("projectCount")
            .and_then(Value::as_u64)
            .or_else(|| projects.map(|p| p.len() as u64))
            .unwrap_or(0);
        let grants = projects
            .into_iter()
            .flatten()
            .map(|p| {
                let name = p
                    .get("projectName")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| s(p, "projectUuid"));
                format!("{name}={}", grant_role(p))
            })
            .collect::<Vec<_>>();
        let noun = if count == 1 { "project" } else { "projects" };
        return if grants.is_empty() {
            format!("{count} {noun}")
        } else {
            format!("{count} {noun}: {}", grants.join(", "))
        };
    }
    if let Some(legacy) = r.get("legacyScopes").filter(|v| v.is_array()) {
        return format!("legacy {}", output::list(Some(legacy), "-"));
    }
    grant_role(r)
}

// ---------------------------------------------------------------------------

/// A list: `--json` the array, `--quiet` the ids, else the table.
fn print_list(
    list: &Value,
    mode: Mode,
    id_key: &str,
    empty: &str,
    table: impl FnOnce(&[Value]) -> Table,
) {
    if mode.json {
        output::json(list);
        return;
    }
    let rows = list.as_array().cloned().unwrap_or_default();
    if mode.quiet {
        for r in &rows {
            println!("{}", s(r, id_key));
        }
        return;
    }
    table(&rows).print(empty);
}

/// The one place a secret is printed: the response of a create or rotate.
/// `--json`: the whole response (with `token`); `--quiet`: the token alone
/// on its line; else a summary, then the token alone on its line.
fn print_secret(results: &Value, mode: Mode, what: &str) -> Result<(), Failure> {
    let Some(token) = results.get("token").and_then(Value::as_str) else {
        return Err(Failure::Unreachable(
            "the server's answer holds no token; is it a latchkey server?".to_string(),
        ));
    };
    if mode.json {
        output::json(results);
    } else if mode.quiet {
        println!("{token}");
    } else {
        let expiry = match results.get("expiresAt").and_then(Value::as_str) {
            Some(_) => format!("expires {}", t(results, "expiresAt", "never")),
            None => "never expires".to_string(),
        };
        println!(
            "{what} {:?} ({}), {expiry}:",
            description(results),
            s(results, "uuid")
        );
        println!("{token}");
        eprintln!("Copy the token now: it is not shown again.");
    }
    Ok(())
}

/// The result of an edit.
fn print_changed(
    results: &Value,
    mode: Mode,
    what: &str,
    name_key: &str,
    rows: impl FnOnce(&Value) -> Vec<(&'static str, String)>,
) {
    if mode.json {
        output::json(results);
    } else if mode.quiet {
        println!("{}", s(results, "uuid"));
    } else {
        println!("{what} {:?}.", s(results, name_key));
        print!("{}", fields(&rows(results)));
    }
}

/// A deletion or revocation: a line for a person, nothing for a script.
pub(crate) fn done(mode: Mode, line: &str) {
    if !mode.quiet && !mode.json {
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_access() {
        assert_eq!(
            access(&json!({"scope": "organization", "role": "viewer"})),
            "viewer"
        );
        assert_eq!(
            access(
                &json!({"scope": "organization", "customRole": {"uuid": "x", "name": "Deployers"}})
            ),
            "custom Deployers"
        );
        assert_eq!(
            access(&json!({"scope": "project", "projectCount": 2, "projects": [
                {"projectUuid": "a", "projectName": "web", "role": "developer"},
                {"projectUuid": "b", "projectName": "api", "customRole": {"uuid": "c", "name": "Ops"}}
            ]})),
            "2 projects: web=developer, api=custom Ops"
        );
        assert_eq!(
            access(&json!({"scope": "organization", "legacyScopes": ["org:edit"]})),
            "legacy org:edit"
        );
    }
}
