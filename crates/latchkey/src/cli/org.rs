//! `projects`, `members`.

use super::args::{parse_role_ref, RoleRef};
use super::credentials::done;
use super::{resolve, Failure};
use crate::client::Api;
use crate::output::{self, actor, fields, s, time as t, Mode, Table};
use clap::Subcommand;
use serde_json::{json, Value};

const MEMBERS: &str = "/api/v1/org/users";

#[derive(Subcommand, Debug)]
pub enum ProjectsCommand {
    /// Projects you can read, with your effective role on each.
    List,
}

#[derive(Subcommand, Debug)]
pub enum MembersCommand {
    /// Members with their roles.
    List,
    /// Add a member; someone new to latchkey gets an invite link.
    Add {
        /// Their email; a new user is invited to set a password.
        #[arg(long)]
        email: String,
        /// A system role (viewer, editor, …) or a custom role's id.
        #[arg(long, value_parser = parse_role_ref)]
        role: RoleRef,
        /// Their name, for a user new to latchkey.
        #[arg(long)]
        name: Option<String>,
    },
    /// Change a member's organization role.
    SetRole {
        /// The member's user id or email.
        user: String,
        /// A system role (viewer, editor, …) or a custom role's id.
        #[arg(value_parser = parse_role_ref)]
        role: RoleRef,
    },
    /// Suspend a member: every credential of theirs stops working at once.
    Suspend {
        /// The member's user id or email.
        user: String,
    },
    /// Lift a suspension.
    Unsuspend {
        /// The member's user id or email.
        user: String,
    },
    /// Remove a member from the organization; their tokens here are revoked.
    Remove {
        /// The member's user id or email.
        user: String,
    },
}

pub async fn projects(command: ProjectsCommand, api: &Api, mode: Mode) -> Result<(), Failure> {
    match command {
        ProjectsCommand::List => {
            let list = api.get("/api/v1/org/projects").await?;
            let rows = list.as_array().cloned().unwrap_or_default();
            if mode.json {
                output::json(&list);
            } else if mode.quiet {
                rows.iter()
                    .for_each(|r| println!("{}", s(r, "projectUuid")));
            } else {
                let mut table = Table::new(&["ID", "NAME", "YOUR ROLE", "CREATED", "CREATED BY"]);
                for r in &rows {
                    table.row(vec![
                        s(r, "projectUuid"),
                        s(r, "name"),
                        s(r, "role"),
                        t(r, "createdAt", "-"),
                        actor(r.get("createdBy")),
                    ]);
                }
                table.print("no projects");
            }
            Ok(())
        }
    }
}

async fn member_id(api: &Api, arg: &str) -> Result<String, Failure> {
    resolve(api, MEMBERS, "member", "userUuid", &["email"], arg).await
}

fn role_of(r: &Value) -> String {
    match r.get("customRole") {
        Some(c) if c.is_object() => format!("custom {}", s(c, "name")),
        _ => s(r, "role"),
    }
}

fn print_member(member: &Value, mode: Mode, line: &str) {
    if mode.json {
        output::json(member);
    } else if mode.quiet {
        println!("{}", s(member, "userUuid"));
    } else {
        println!("{line}");
        print!(
            "{}",
            fields(&[
                ("user id", s(member, "userUuid")),
                ("email", s(member, "email")),
                ("role", role_of(member)),
                ("status", s(member, "status")),
            ])
        );
    }
}

pub async fn members(command: MembersCommand, api: &Api, mode: Mode) -> Result<(), Failure> {
    match command {
        MembersCommand::List => {
            let list = api.get(MEMBERS).await?;
            let rows = list.as_array().cloned().unwrap_or_default();
            if mode.json {
                output::json(&list);
            } else if mode.quiet {
                rows.iter().for_each(|r| println!("{}", s(r, "userUuid")));
            } else {
                let mut table =
                    Table::new(&["USER ID", "EMAIL", "NAME", "ROLE", "STATUS", "SINCE"]);
                for r in &rows {
                    table.row(vec![
                        s(r, "userUuid"),
                        s(r, "email"),
                        s(r, "name"),
                        role_of(r),
                        s(r, "status"),
                        t(r, "createdAt", "-"),
                    ]);
                }
                table.print("no members");
            }
            Ok(())
        }
        MembersCommand::Add { email, role, name } => {
            let mut body = json!({ "email": email });
            role.put(&mut body);
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            let member = api.post(MEMBERS, body).await?;
            print_member(&member, mode, &format!("Added {}.", s(&member, "email")));
            // The invite link is made once, here: a new user sets their
            // password with it. It goes to stdout like a created secret.
            if let Some(invite) = member.get("inviteUrl").and_then(Value::as_str) {
                if !mode.json {
                    let link = format!("{}{invite}", api.base());
                    if mode.quiet {
                        println!("{link}");
                    } else {
                        println!("Invite link (works once, for 7 days; send it to them):");
                        println!("{link}");
                    }
                }
            }
            Ok(())
        }
        MembersCommand::SetRole { user, role } => {
            let uuid = member_id(api, &user).await?;
            let mut body = json!({});
            role.put(&mut body);
            let member = api.patch(&format!("{MEMBERS}/{uuid}"), body).await?;
            let line = format!("{} is now {}.", s(&member, "email"), role_of(&member));
            print_member(&member, mode, &line);
            Ok(())
        }
        MembersCommand::Suspend { user } => set_suspended(api, mode, &user, true).await,
        MembersCommand::Unsuspend { user } => set_suspended(api, mode, &user, false).await,
        MembersCommand::Remove { user } => {
            let uuid = member_id(api, &user).await?;
            api.delete(&format!("{MEMBERS}/{uuid}")).await?;
            done(mode, &format!("Removed member {uuid}."));
            Ok(())
        }
    }
}

async fn set_suspended(api: &Api, mode: Mode, user: &str, suspended: bool) -> Result<(), Failure> {
    let uuid = member_id(api, user).await?;
    let member = api
        .patch(
            &format!("{MEMBERS}/{uuid}"),
            json!({ "suspended": suspended }),
        )
        .await?;
    let line = if suspended {
        format!(
            "Suspended {}: their credentials stop working at once.",
            s(&member, "email")
        )
    } else {
        format!("{} is no longer suspended.", s(&member, "email"))
    };
    print_member(&member, mode, &line);
    Ok(())
}
