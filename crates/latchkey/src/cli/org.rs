//! `projects`, `members`.

use super::args::{parse_role_ref, RoleRef};
use super::credentials::done;
use super::{read, resolve, Failure};
use crate::client::Api;
use crate::output::{self, actor, fields, or_dash, time as t, Mode, Table};
use clap::Subcommand;
use latchkey_server::wire::{MemberView, ProjectView};
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
            if mode.json {
                output::json(&list);
                return Ok(());
            }
            let rows: Vec<ProjectView> = read(&list)?;
            if mode.quiet {
                rows.iter().for_each(|r| println!("{}", r.project_uuid));
            } else {
                let mut table = Table::new(&["ID", "NAME", "YOUR ROLE", "CREATED", "CREATED BY"]);
                for r in &rows {
                    table.row(vec![
                        r.project_uuid.to_string(),
                        r.name.clone(),
                        or_dash(r.role.map(|r| r.as_str())),
                        t(Some(r.created_at), "-"),
                        actor(&r.created_by),
                    ]);
                }
                table.print("no projects");
            }
            Ok(())
        }
    }
}

async fn member_id(api: &Api, arg: &str) -> Result<String, Failure> {
    resolve(
        api,
        MEMBERS,
        "member",
        &["email"],
        arg,
        |m: &MemberView| m.user_uuid.to_string(),
        |m| vec![Some(m.email.as_str())],
    )
    .await
}

fn role_of(m: &MemberView) -> String {
    match &m.custom_role {
        Some(c) => format!("custom {}", c.name),
        None => m.role.as_str().to_string(),
    }
}

/// A member as an answer gave it: `--json` the answer itself.
fn print_member(answer: &Value, member: &MemberView, mode: Mode, line: &str) {
    if mode.json {
        output::json(answer);
    } else if mode.quiet {
        println!("{}", member.user_uuid);
    } else {
        println!("{line}");
        print!(
            "{}",
            fields(&[
                ("user id", member.user_uuid.to_string()),
                ("email", member.email.clone()),
                ("role", role_of(member)),
                ("status", member.status.clone()),
            ])
        );
    }
}

pub async fn members(command: MembersCommand, api: &Api, mode: Mode) -> Result<(), Failure> {
    match command {
        MembersCommand::List => {
            let list = api.get(MEMBERS).await?;
            if mode.json {
                output::json(&list);
                return Ok(());
            }
            let rows: Vec<MemberView> = read(&list)?;
            if mode.quiet {
                rows.iter().for_each(|r| println!("{}", r.user_uuid));
            } else {
                let mut table =
                    Table::new(&["USER ID", "EMAIL", "NAME", "ROLE", "STATUS", "SINCE"]);
                for r in &rows {
                    table.row(vec![
                        r.user_uuid.to_string(),
                        r.email.clone(),
                        or_dash(r.name.as_deref()),
                        role_of(r),
                        r.status.clone(),
                        t(Some(r.created_at), "-"),
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
            let answer = api.post(MEMBERS, body).await?;
            let member: MemberView = read(&answer)?;
            print_member(&answer, &member, mode, &format!("Added {}.", member.email));
            // The invite link is made once, here: a new user sets their
            // password with it. It goes to stdout like a created secret.
            if let Some(invite) = &member.invite_url {
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
            let answer = api.patch(&format!("{MEMBERS}/{uuid}"), body).await?;
            let member: MemberView = read(&answer)?;
            let line = format!("{} is now {}.", member.email, role_of(&member));
            print_member(&answer, &member, mode, &line);
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
    let answer = api
        .patch(
            &format!("{MEMBERS}/{uuid}"),
            json!({ "suspended": suspended }),
        )
        .await?;
    let member: MemberView = read(&answer)?;
    let line = if suspended {
        format!(
            "Suspended {}: their credentials stop working at once.",
            member.email
        )
    } else {
        format!("{} is no longer suspended.", member.email)
    };
    print_member(&answer, &member, mode, &line);
    Ok(())
}
