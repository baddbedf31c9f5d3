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
use latchkey_server::{DatabaseConfig, ServeConfig};
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
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("latchkey: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
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
