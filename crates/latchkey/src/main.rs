//! The one `latchkey` binary: the server, its operator commands, and the
//! command-line client (which talks to a server over HTTP, never to the
//! database).

mod cli;
mod client;
mod config;
mod failure;
mod output;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use latchkey_core::{Plan, SecretString};
use latchkey_server::operator::{self, SetupOutcome};
use latchkey_server::{DatabaseConfig, KeyedDatabaseConfig, ServeConfig};
use std::io::Read;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "latchkey",
    version,
    about = "Self-hostable credential service: personal access tokens, API keys, service accounts."
)]
struct Cli {
    /// Log format.
    #[arg(long, env = "LATCHKEY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(flatten)]
    client: cli::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (SQLite in the data directory unless given a PostgreSQL URL).
    Serve(ServeConfig),
    /// Operator: create the first organization and its admin; does nothing if it exists.
    Setup {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// Read the admin's password from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Operator: organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Operator: resource servers, the instance-level credentials of token
    /// introspection (`POST /oauth2/introspect`).
    ResourceServers {
        #[command(subcommand)]
        command: ResourceServerCommand,
    },
    /// Operator: the instance audit log (resource servers), newest first.
    AuditInstance {
        /// Most events shown.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        #[command(flatten)]
        database: DatabaseConfig,
    },
    #[command(flatten)]
    Client(cli::ClientCommand),
    /// Print a shell completion script, e.g. `latchkey completions bash > /etc/bash_completion.d/latchkey`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Change an organization's plan (ORG by uuid or name).
    SetPlan {
        org: String,
        #[arg(value_enum)]
        plan: PlanArg,
        #[command(flatten)]
        database: DatabaseConfig,
    },
}

#[derive(Subcommand)]
enum ResourceServerCommand {
    /// Create one; prints its clientId and, this once, its secret.
    Create {
        name: String,
        #[command(flatten)]
        keyed: KeyedDatabaseConfig,
    },
    /// Every resource server, revoked ones too, newest first.
    List {
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Revoke one (ID, or the name of a live one). A running server on
    /// PostgreSQL refuses it at once; on SQLite within the cache TTL.
    Revoke {
        server: String,
        #[command(flatten)]
        database: DatabaseConfig,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum PlanArg {
    Free,
    Enterprise,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Colour only for a person at a terminal, never into a log file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        // The client logs nothing: no log line can then hold a token.
        Command::Client(command) => {
            let mode = cli.client.mode();
            return match cli::run(command, cli.client).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(failure) => {
                    failure.report(mode);
                    ExitCode::from(failure.exit_code())
                }
            };
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "latchkey",
                &mut std::io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    init_logging(cli.log_format);
    match run(cli.command, cli.client.json).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("latchkey: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn open(database: &DatabaseConfig) -> Result<latchkey_store::SqlStore, String> {
    operator::open_store(database)
        .await
        .map_err(|e| e.to_string())
}

/// Closes the store whatever the outcome, then gives the outcome.
async fn closing<T, E: std::fmt::Display>(
    store: latchkey_store::SqlStore,
    outcome: Result<T, E>,
) -> Result<T, String> {
    store.close().await;
    outcome.map_err(|e| e.to_string())
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn resource_server_json(s: &latchkey_store::ResourceServer) -> serde_json::Value {
    serde_json::json!({
        "clientId": s.uuid,
        "name": s.name,
        "displayPrefix": s.display_prefix,
        "createdAt": rfc3339(s.created_at),
        "revokedAt": s.revoked_at.map(rfc3339),
        "lastUsedAt": s.last_used_at.map(rfc3339),
    })
}

async fn run_resource_servers(command: ResourceServerCommand, json: bool) -> Result<(), String> {
    match command {
        ResourceServerCommand::Create { name, keyed } => {
            let hasher = operator::load_key(keyed.secret_key.as_ref(), &keyed.database)
                .map_err(|e| e.to_string())?;
            let store = open(&keyed.database).await?;
            let outcome = operator::create_resource_server(&store, &hasher, &name).await;
            let (server, secret) = closing(store, outcome).await?;
            if json {
                let mut view = resource_server_json(&server);
                view["secret"] = secret.expose().into();
                println!("{view}");
            } else {
                println!("created resource server {} ({})", server.name, server.uuid);
                println!("clientId: {}", server.uuid);
                println!("secret (shown once):");
                println!("{}", secret.expose());
            }
            Ok(())
        }
        ResourceServerCommand::List { database } => {
            let store = open(&database).await?;
            let outcome = latchkey_store::Store::resource_servers(&store).await;
            let servers = closing(store, outcome).await?;
            if json {
                let all: Vec<_> = servers.iter().map(resource_server_json).collect();
                println!("{}", serde_json::Value::from(all));
            } else if servers.is_empty() {
                println!("no resource servers");
            } else {
                println!(
                    "{:<36}  {:<24}  {:<10}  {:<20}  {:<20}  REVOKED",
                    "CLIENT ID", "NAME", "PREFIX", "CREATED", "LAST USED"
                );
                let or_dash =
                    |t: Option<time::OffsetDateTime>| t.map(rfc3339).unwrap_or_else(|| "-".into());
                for s in &servers {
                    println!(
                        "{:<36}  {:<24}  {:<10}  {:<20}  {:<20}  {}",
                        s.uuid,
                        s.name,
                        s.display_prefix,
                        rfc3339(s.created_at),
                        or_dash(s.last_used_at),
                        or_dash(s.revoked_at)
                    );
                }
            }
            Ok(())
        }
        ResourceServerCommand::Revoke { server, database } => {
            let store = open(&database).await?;
            let outcome = operator::revoke_resource_server(&store, &server).await;
            let revoked = closing(store, outcome).await?;
            println!(
                "revoked resource server {} ({})",
                revoked.name, revoked.uuid
            );
            Ok(())
        }
    }
}

async fn run_audit_instance(
    limit: u32,
    database: DatabaseConfig,
    json: bool,
) -> Result<(), String> {
    let store = open(&database).await?;
    let outcome = latchkey_store::Store::instance_audit_events(&store, limit).await;
    let events = closing(store, outcome).await?;
    for e in &events {
        if json {
            let line = serde_json::json!({
                "uuid": e.uuid,
                "at": rfc3339(e.at),
                "action": e.action,
                "actor": e.actor,
                "target": { "type": "resource_server", "uuid": e.target_uuid, "name": e.target_name },
                "details": e.details,
            });
            println!("{line}");
        } else {
            println!(
                "{}  {:<24}  {}  {} ({})",
                rfc3339(e.at),
                e.action,
                e.actor,
                e.target_name,
                e.target_uuid
            );
        }
    }
    if events.is_empty() && !json {
        println!("no instance events");
    }
    Ok(())
}

async fn run(command: Command, json: bool) -> Result<(), String> {
    match command {
        Command::Serve(config) => latchkey_server::serve(config)
            .await
            .map_err(|e| e.to_string()),
        Command::Setup {
            org,
            email,
            password_stdin: _,
            database,
        } => {
            let mut read = String::new();
            std::io::stdin()
                .read_to_string(&mut read)
                .map_err(|e| format!("reading the password: {e}"))?;
            let password = SecretString::from(read.trim_end_matches(['\r', '\n']));
            drop(SecretString::from(read)); // zeroed as it goes
            let store = operator::open_store(&database)
                .await
                .map_err(|e| e.to_string())?;
            let outcome = operator::setup(&store, &org, &email, password)
                .await
                .map_err(|e| e.to_string());
            store.close().await;
            match outcome? {
                SetupOutcome::Created { org_uuid } => {
                    println!("created organization {org_uuid} with admin {email}")
                }
                SetupOutcome::AlreadyExists { org_uuid } => {
                    println!("organization {org_uuid} exists; nothing to do")
                }
            }
            Ok(())
        }
        Command::Org {
            command:
                OrgCommand::SetPlan {
                    org,
                    plan,
                    database,
                },
        } => {
            let plan = match plan {
                PlanArg::Free => Plan::Free,
                PlanArg::Enterprise => Plan::Enterprise,
            };
            let store = operator::open_store(&database)
                .await
                .map_err(|e| e.to_string())?;
            let result = operator::set_plan(&store, &org, plan)
                .await
                .map_err(|e| e.to_string());
            store.close().await;
            let org = result?;
            println!(
                "organization {} ({}) is on the {} plan",
                org.name,
                org.uuid,
                org.plan.as_str()
            );
            Ok(())
        }
        Command::ResourceServers { command } => run_resource_servers(command, json).await,
        Command::AuditInstance { limit, database } => {
            run_audit_instance(limit, database, json).await
        }
        Command::Client(_) | Command::Completions { .. } => {
            unreachable!("handled in main")
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
