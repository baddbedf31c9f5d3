//! `tokens`, `api-keys`, `service-accounts`: list, create, rotate, revoke.
//! A secret is printed only here, by create and rotate, once.

use super::args::{
    parse_duration, parse_project_grant, parse_when, NewExpiry, ProjectGrant, RotateExpiry,
    SystemRole,
};
use super::{read, resolve, Failure};
use crate::client::Api;
use crate::output::{self, actor, fields, rfc3339, time as t, Mode, Table};
use clap::{ArgGroup, Args, Subcommand};
use latchkey_core::{AccountScope, Role};
use latchkey_server::wire::{
    ApiKeyView, CredentialObject, CustomRoleRef, PatView, ProjectGrantView, ProjectView, RolesView,
    ServiceAccountView,
};
use serde::de::DeserializeOwned;
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
            print_list(
                &list,
                mode,
                "no personal access tokens",
                |rows: &[PatView]| {
                    let mut table =
                        Table::new(&["ID", "NAME", "PREFIX", "SCOPES", "EXPIRES", "LAST USED"]);
                    for r in rows {
                        table.row(vec![
                            r.uuid.to_string(),
                            r.name.clone(),
                            r.display_prefix.clone(),
                            output::list(r.scopes.as_deref(), "(full role)"),
                            t(r.expires_at, "never"),
                            t(r.last_used_at, "never"),
                        ]);
                    }
                    table
                },
            )
        }
        TokensCommand::Create(c) => {
            let mut body = json!({ "name": c.name, "expiresAt": c.expiry.value() });
            if !c.scopes.is_empty() {
                body["scopes"] = json!(c.scopes);
            }
            let created = api.post(PATS, body).await?;
            print_secret::<PatView>(&created, mode, "Created personal access token")
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
                |r: &PatView| {
                    vec![
                        ("id", r.uuid.to_string()),
                        ("name", r.name.clone()),
                        ("prefix", r.display_prefix.clone()),
                        ("scopes", output::list(r.scopes.as_deref(), "(full role)")),
                        ("expires", t(r.expires_at, "never")),
                    ]
                },
            )
        }
        TokensCommand::Rotate { id: arg, expiry } => {
            let uuid = pat_id(api, &arg).await?;
            let rotated = api
                .patch(&format!("{PATS}/{uuid}/rotate"), expiry.body())
                .await?;
            print_secret::<PatView>(&rotated, mode, "Rotated personal access token")
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
            print_list(&list, mode, "no API keys", |rows: &[ApiKeyView]| {
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
                        r.uuid.to_string(),
                        r.name.clone(),
                        r.role.as_str().to_string(),
                        r.display_prefix.clone(),
                        t(r.expires_at, "never"),
                        t(r.last_used_at, "never"),
                        actor(&r.created_by),
                    ]);
                }
                table
            })
        }
        ApiKeysCommand::Create { name, role, expiry } => {
            let body = json!({ "name": name, "role": role.as_str(), "expiresAt": expiry.value() });
            let created = api.post(API_KEYS, body).await?;
            print_secret::<ApiKeyView>(&created, mode, "Created API key")
        }
        ApiKeysCommand::Rotate { id: arg, expiry } => {
            let uuid = api_key_id(api, &arg).await?;
            let rotated = api
                .patch(&format!("{API_KEYS}/{uuid}/rotate"), expiry.body())
                .await?;
            print_secret::<ApiKeyView>(&rotated, mode, "Rotated API key")
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
            print_list(
                &list,
                mode,
                "no service accounts",
                |rows: &[ServiceAccountView]| {
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
                            r.uuid.to_string(),
                            r.description.clone(),
                            access(r),
                            r.display_prefix.clone(),
                            t(r.expires_at, "never"),
                            t(r.last_used_at, "never"),
                        ]);
                    }
                    table
                },
            )
        }
        ServiceAccountsCommand::Show { id: arg } => {
            let uuid = service_account_id(api, &arg).await?;
            let answer = api.get(&format!("{SERVICE_ACCOUNTS}/{uuid}")).await?;
            if mode.json {
                output::json(&answer);
                return Ok(());
            }
            let sa: ServiceAccountView = read(&answer)?;
            if mode.quiet {
                println!("{}", sa.uuid);
            } else {
                print!(
                    "{}",
                    fields(&[
                        ("id", sa.uuid.to_string()),
                        ("description", sa.description.clone()),
                        ("access", access(&sa)),
                        ("prefix", sa.display_prefix.clone()),
                        ("expires", t(sa.expires_at, "never")),
                        ("last used", t(sa.last_used_at, "never")),
                        ("rotated", t(sa.rotated_at, "never")),
                        ("created", t(Some(sa.created_at), "-")),
                        ("created by", actor(&sa.created_by)),
                    ])
                );
                if let Some(projects) = &sa.projects {
                    let mut table = Table::new(&["PROJECT ID", "PROJECT", "ROLE"]);
                    for p in projects {
                        table.row(vec![
                            p.project_uuid.to_string(),
                            p.project_name.clone(),
                            grant_role(p.role, p.custom_role.as_ref()),
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
                        &["name"],
                        &grant.project,
                        |p: &ProjectView| p.project_uuid.to_string(),
                        |p| vec![Some(p.name.as_str())],
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
            let view: ServiceAccountView = read(&created)?;
            for warning in view.warnings.iter().flatten() {
                eprintln!("latchkey: warning: {warning}");
            }
            print_secret::<ServiceAccountView>(&created, mode, "Created service account")
        }
        ServiceAccountsCommand::Rotate { id: arg, expiry } => {
            let uuid = service_account_id(api, &arg).await?;
            let rotated = api
                .patch(&format!("{SERVICE_ACCOUNTS}/{uuid}/rotate"), expiry.body())
                .await?;
            print_secret::<ServiceAccountView>(&rotated, mode, "Rotated service account")
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
    resolve(
        api,
        PATS,
        "token",
        &["name", "displayPrefix"],
        arg,
        |t: &PatView| t.uuid.to_string(),
        |t| vec![Some(t.name.as_str()), Some(t.display_prefix.as_str())],
    )
    .await
}

async fn api_key_id(api: &Api, arg: &str) -> Result<String, Failure> {
    resolve(
        api,
        API_KEYS,
        "API key",
        &["name", "displayPrefix"],
        arg,
        |k: &ApiKeyView| k.uuid.to_string(),
        |k| vec![Some(k.name.as_str()), Some(k.display_prefix.as_str())],
    )
    .await
}

async fn service_account_id(api: &Api, arg: &str) -> Result<String, Failure> {
    resolve(
        api,
        SERVICE_ACCOUNTS,
        "service account",
        &["description", "name", "displayPrefix"],
        arg,
        |a: &ServiceAccountView| a.uuid.to_string(),
        |a| {
            vec![
                Some(a.description.as_str()),
                Some(a.name.as_str()),
                Some(a.display_prefix.as_str()),
            ]
        },
    )
    .await
}

/// A custom role's id, given its id or name.
async fn custom_role(api: &Api, arg: &str) -> Result<String, Failure> {
    if let Ok(uuid) = uuid::Uuid::parse_str(arg) {
        return Ok(uuid.to_string());
    }
    let roles: RolesView = read(&api.get("/api/v1/org/roles").await?)?;
    let matching: Vec<_> = roles
        .custom_roles
        .iter()
        .filter(|r| r.name == arg)
        .collect();
    match matching.as_slice() {
        [one] => Ok(one.uuid.to_string()),
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

/// A role or custom role of a grant: "developer", "custom Deployers".
fn grant_role(role: Option<Role>, custom: Option<&CustomRoleRef>) -> String {
    match (role, custom) {
        (Some(role), _) => role.as_str().to_string(),
        (None, Some(c)) => format!("custom {}", c.name),
        (None, None) => "-".to_string(),
    }
}

/// What a service account may do: its role, or "N projects: web=viewer, …".
fn access(a: &ServiceAccountView) -> String {
    if a.scope == AccountScope::Project {
        let projects = a.projects.as_deref().unwrap_or_default();
        let count = a.project_count.unwrap_or(projects.len());
        let grants = projects
            .iter()
            .map(|p: &ProjectGrantView| {
                format!(
                    "{}={}",
                    p.project_name,
                    grant_role(p.role, p.custom_role.as_ref())
                )
            })
            .collect::<Vec<_>>();
        let noun = if count == 1 { "project" } else { "projects" };
        return if grants.is_empty() {
            format!("{count} {noun}")
        } else {
            format!("{count} {noun}: {}", grants.join(", "))
        };
    }
    if let Some(legacy) = &a.legacy_scopes {
        return format!("legacy {}", output::list(Some(legacy), "-"));
    }
    grant_role(a.role, a.custom_role.as_ref())
}

// ---------------------------------------------------------------------------

/// A list: `--json` the array, `--quiet` the ids, else the table.
fn print_list<T: DeserializeOwned + CredentialObject>(
    list: &Value,
    mode: Mode,
    empty: &str,
    table: impl FnOnce(&[T]) -> Table,
) -> Result<(), Failure> {
    if mode.json {
        output::json(list);
        return Ok(());
    }
    let rows: Vec<T> = read(list)?;
    if mode.quiet {
        for r in &rows {
            println!("{}", r.uuid());
        }
        return Ok(());
    }
    table(&rows).print(empty);
    Ok(())
}

/// The one place a secret is printed: the response of a create or rotate.
/// `--json`: the whole response (with `token`); `--quiet`: the token alone
/// on its line; else a summary, then the token alone on its line.
fn print_secret<T: DeserializeOwned + CredentialObject>(
    results: &Value,
    mode: Mode,
    what: &str,
) -> Result<(), Failure> {
    let minted: T = read(results)?;
    let Some(token) = minted.token() else {
        return Err(Failure::Unreachable(
            "the server's answer holds no token; is it a latchkey server?".to_string(),
        ));
    };
    if mode.json {
        output::json(results);
    } else if mode.quiet {
        println!("{}", token.expose());
    } else {
        let expiry = match minted.expires_at() {
            Some(at) => format!("expires {}", t(Some(at), "never")),
            None => "never expires".to_string(),
        };
        // A service account's name is its description.
        println!("{what} {:?} ({}), {expiry}:", minted.name(), minted.uuid());
        println!("{}", token.expose());
        eprintln!("Copy the token now: it is not shown again.");
    }
    Ok(())
}

/// The result of an edit.
fn print_changed<T: DeserializeOwned + CredentialObject>(
    results: &Value,
    mode: Mode,
    what: &str,
    rows: impl FnOnce(&T) -> Vec<(&'static str, String)>,
) -> Result<(), Failure> {
    if mode.json {
        output::json(results);
        return Ok(());
    }
    let changed: T = read(results)?;
    if mode.quiet {
        println!("{}", changed.uuid());
    } else {
        println!("{what} {:?}.", changed.name());
        print!("{}", fields(&rows(&changed)));
    }
    Ok(())
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

    /// A service account as the API writes it, with these fields.
    fn account(fields: Value) -> ServiceAccountView {
        let mut a = json!({
            "uuid": "0b6f7c4e-1d2a-4c3b-9e8f-000000000001",
            "name": "ci",
            "description": "ci",
            "displayPrefix": "lksvc_AbCd",
            "expiresAt": null,
            "createdAt": "2026-01-01T00:00:00Z",
            "rotatedAt": null,
            "lastUsedAt": null,
            "createdBy": { "type": "user", "uuid": "0b6f7c4e-1d2a-4c3b-9e8f-000000000002", "name": "Ada" },
        });
        if let (Some(a), Some(f)) = (a.as_object_mut(), fields.as_object()) {
            a.extend(f.clone());
        }
        serde_json::from_value(a).unwrap()
    }

    #[test]
    fn service_account_access() {
        let c = "0b6f7c4e-1d2a-4c3b-9e8f-000000000003";
        assert_eq!(
            access(&account(json!({"scope": "organization", "role": "viewer"}))),
            "viewer"
        );
        assert_eq!(
            access(&account(
                json!({"scope": "organization", "customRole": {"uuid": c, "name": "Deployers"}})
            )),
            "custom Deployers"
        );
        assert_eq!(
            access(&account(
                json!({"scope": "project", "projectCount": 2, "projects": [
                    {"projectUuid": c, "projectName": "web", "role": "developer"},
                    {"projectUuid": c, "projectName": "api", "customRole": {"uuid": c, "name": "Ops"}}
                ]})
            )),
            "2 projects: web=developer, api=custom Ops"
        );
        assert_eq!(
            access(&account(
                json!({"scope": "organization", "legacyScopes": ["org:edit"]})
            )),
            "legacy org:edit"
        );
    }
}
