//! The subcommands, and what they share: opening the store, passwords for new accounts, and
//! the audit actor of operator commands.
//!
//! Invariant: a command checks all of its input before it writes anything, and writes in
//! one transaction, so a failed command leaves nothing half-made.

mod bench;
mod demo;
mod migrate;
mod privacy;
pub mod privacy_data;
mod seed;
mod serve;
mod simulate;
mod token;
mod user;
mod workspace;

use crate::cli::{
    BenchCommand, Cli, Command, ConfigCommand, TokenCommand, UserCommand, WorkspaceCommand,
};
use crate::config::{Config, Flags};
use anyhow::{Context, Result, anyhow};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use std::io::{IsTerminal, Read};
use std::path::Path;
use switchboard_store::audit::NewAuditEvent;
use switchboard_store::{Backend, Store};

/// How operator commands appear as the actor in the audit log.
pub const CLI_ACTOR: &str = "cli";

pub async fn run(cli: Cli) -> Result<()> {
    let listen = match &cli.command {
        Command::Serve(args) => args.listen.clone(),
        _ => None,
    };
    let flags = Flags {
        data_dir: cli.data_dir,
        listen,
        database_url: cli.database_url,
    };
    let config = Config::load(cli.config.as_deref(), flags)?;
    // One-shot commands talk to the operator on stdout; their logs only show trouble.
    let filter = match cli.command {
        Command::Serve(_) | Command::Simulate(_) => config.log_filter.clone(),
        _ => "warn".to_owned(),
    };
    crate::logging::init(config.log_format, &filter)?;
    match cli.command {
        Command::Serve(args) => serve::run(&config, args.demo).await,
        Command::Migrate => migrate::run(&config).await,
        Command::Workspace(WorkspaceCommand::Create(args)) => {
            workspace::create(&config, args).await
        }
        Command::Workspace(WorkspaceCommand::List(args)) => workspace::list(&config, args).await,
        Command::Workspace(WorkspaceCommand::Restore(args)) => {
            workspace::restore(&config, args).await
        }
        Command::Token(TokenCommand::Create(args)) => token::create(&config, args).await,
        Command::User(UserCommand::SetPassword(args)) => user::set_password(&config, args).await,
        Command::Bench(BenchCommand::Queue(args)) => bench::queue(args).await,
        Command::Bench(BenchCommand::Ingest(args)) => bench::ingest(args).await,
        Command::Bench(BenchCommand::Inbox(args)) => bench::inbox(args).await,
        Command::Bench(BenchCommand::Erase(args)) => privacy::bench_erase(args).await,
        Command::Privacy(command) => privacy::run(&config, command).await,
        Command::Bench(BenchCommand::Sweep(args)) => bench::sweep(args).await,
        Command::Bench(BenchCommand::Seed(args)) => seed::run(&config, args).await,
        Command::Simulate(args) => simulate::run(&config, args).await,
        Command::Config(ConfigCommand::Check) => {
            crate::output::line(format!("The configuration is valid:\n{config:#?}"))
        }
        Command::Config(ConfigCommand::Keys) => {
            for key in crate::config::KEYS {
                crate::output::line(format!(
                    "{:<32} {:<44} default: {}\n    {}",
                    key.name,
                    key.env_var(),
                    if key.default.is_empty() {
                        "(unset)"
                    } else {
                        key.default
                    },
                    key.help
                ))?;
            }
            Ok(())
        }
    }
}

/// Creates the data directory (mode 0700: it holds the master key and the database) when
/// it does not exist yet.
pub fn prepare_data_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

/// Connects to the configured database without migrating it.
pub async fn connect(config: &Config) -> Result<Store> {
    let url = &config.database_url;
    if Backend::from_url(url.expose())? == Backend::Sqlite {
        prepare_data_dir(&config.data_dir)?;
    }
    Store::connect(url.expose())
        .await
        .with_context(|| format!("cannot open the database {}", url.redacted()))
}

/// Connects and applies pending migrations, as every command that uses the data does.
pub async fn open_store(config: &Config) -> Result<Store> {
    let store = connect(config).await?;
    store.migrate().await.with_context(|| {
        format!(
            "cannot apply migrations to {}",
            config.database_url.redacted()
        )
    })?;
    Ok(store)
}

/// A password for a new account, and whether the operator still has to be told it.
pub enum NewPassword {
    /// Given by the operator on stdin: never printed.
    Piped(SecretString),
    /// Made up here: printed once, since nobody else knows it.
    Generated(SecretString),
}

impl NewPassword {
    pub fn secret(&self) -> &SecretString {
        match self {
            NewPassword::Piped(s) | NewPassword::Generated(s) => s,
        }
    }

    /// The password to show the operator, if it was generated.
    pub fn to_show(&self) -> Option<&str> {
        match self {
            NewPassword::Generated(s) => Some(s.expose_secret()),
            NewPassword::Piped(_) => None,
        }
    }
}

/// The password piped on stdin, or a generated one when stdin is a terminal or empty.
pub fn password_from_stdin_or_generated() -> Result<NewPassword> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(NewPassword::Generated(generate_password()));
    }
    let mut text = String::new();
    // Far above the policy's maximum; a bigger input is a mistake, not a password.
    stdin
        .lock()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .context("cannot read the password from stdin")?;
    let password = text
        .strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s))
        .unwrap_or(&text);
    if password.is_empty() {
        return Ok(NewPassword::Generated(generate_password()));
    }
    Ok(NewPassword::Piped(SecretString::from(password.to_owned())))
}

/// 20 random letters and digits: about 119 bits, and easy to copy.
pub fn generate_password() -> SecretString {
    let password: String = rand::rngs::OsRng
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    SecretString::from(password)
}

/// Checks the policy and hashes with Argon2id, off the async threads.
pub async fn hash_password(password: &SecretString) -> Result<String> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        switchboard_server::auth::password::hash_new_password(&password)
    })
    .await
    .context("password hashing stopped")?
    .map_err(|e| anyhow!("the password is not acceptable: {}", e.message))
}

/// An audit entry whose actor is the operator at the command line.
pub fn cli_event(action: &str) -> NewAuditEvent {
    let mut event = NewAuditEvent::new(action);
    event.actor_email = Some(CLI_ACTOR.to_owned());
    event
}
