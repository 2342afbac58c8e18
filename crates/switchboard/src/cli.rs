//! The command line: subcommands, flags and their help text. Values that have a domain type
//! (an email, a role, a slug) are parsed here, so a bad one is refused before anything
//! touches the database.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use switchboard_core::{EmailAddress, Role, WorkspaceSlug};

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Switchboard: a self-hostable, multi-tenant omnichannel messaging CRM.",
    long_about = "Switchboard: a self-hostable, multi-tenant omnichannel messaging CRM.\n\n\
        Configuration comes from a TOML file (--config, or ./switchboard.toml when present), \
        then SWITCHBOARD_* environment variables, then flags; later sources win. Unknown keys \
        and unknown SWITCHBOARD_* variables are refused. See README.md for every key.",
    after_help = "Start here: `switchboard serve --demo` runs the server on SQLite with a demo workspace."
)]
pub struct Cli {
    /// TOML configuration file (default: ./switchboard.toml when it exists).
    #[arg(long, global = true, value_name = "PATH", env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,

    /// Data directory: SQLite database, master key, mail outbox [default: ./switchboard-data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database URL: sqlite:PATH or postgres://user:password@host/db
    /// [default: SQLite in the data directory].
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web inbox, the REST API and the job workers until SIGINT or SIGTERM.
    ///
    /// Creates the data directory and the master key on first run and applies pending
    /// migrations. Prints `listening on http://ADDR` once the port is bound.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create and list workspaces (the tenants).
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Create API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage accounts (operator recovery).
    #[command(subcommand)]
    User(UserCommand),
    /// Check the configuration, or list every key.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Measure Switchboard's own speed on this machine (results go in docs/PERFORMANCE.md).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Data-subject requests, erasure, legal holds and the residue scan.
    #[command(subcommand)]
    Privacy(PrivacyCommand),
    /// Run a local stand-in for the Graph API (WhatsApp, Messenger, Instagram), the Telegram
    /// Bot API and TikTok Business Messaging until SIGINT or SIGTERM.
    ///
    /// Point graph_api_base, telegram_api_base and tiktok_api_base at it. It records every
    /// send (GET /_sim/sends), fails on request (POST /_sim/failures) and posts signed
    /// webhooks at --target (POST /_sim/inbound, /_sim/script, /_sim/load). Prints
    /// `simulator listening on http://ADDR` once the port is bound.
    Simulate(SimulateArgs),
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
    pub listen: std::net::SocketAddr,

    /// Base URL of the Switchboard that webhooks are posted to.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub target: String,

    /// Meta app secret that signs WhatsApp, Messenger and Instagram webhooks
    /// [default: the configured meta_app_secret].
    #[arg(long, value_name = "S")]
    pub meta_app_secret: Option<String>,

    /// Accept any non-empty token instead of those registered with POST /_sim/tokens.
    #[arg(long)]
    pub accept_any_token: bool,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The durable job queue: enqueue (one transaction per job, as features do) and
    /// claim-and-complete with concurrent workers, on a fresh scratch database.
    Queue(BenchQueueArgs),
    /// Webhook ingest: signed WhatsApp text webhooks driven over HTTP at a `switchboard
    /// serve` child process on a scratch database, beside the ceiling of the same rows
    /// stored straight into the database.
    Ingest(BenchIngestArgs),
    /// The inbox: seeds a scratch workspace with conversations and messages, then times the
    /// conversation list, a deep page, opening a conversation and message search.
    Inbox(BenchInboxArgs),
    /// Erasure: a contact with 10,000 messages and 1,000 media files erased (and the residue
    /// scan run) on a scratch database.
    Erase(BenchEraseArgs),
    /// The retention sweep: a backlog of expired messages deleted in bounded batches, while
    /// single-message ingest transactions run beside it (their latency, against the same
    /// ingest on a quiet database, shows whether the sweep stalls ingestion).
    Sweep(BenchSweepArgs),
    /// Fills a workspace of this instance's database (not a scratch one) with contacts,
    /// conversations and text messages for tests and benchmarks, in large batched
    /// transactions through the real tables (search index included), on a new WhatsApp
    /// connection named "Bench seed" that sends nowhere. Prints rows per second.
    Seed(BenchSeedArgs),
}

#[derive(Debug, Args)]
pub struct BenchSeedArgs {
    /// The workspace to fill.
    #[arg(long, value_name = "SLUG", value_parser = parse_slug)]
    pub workspace: WorkspaceSlug,

    /// Conversations to create (one new contact each).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub conversations: u64,

    /// Messages to create, spread evenly over the conversations.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    pub messages: u64,

    /// New teams to create and spread the conversations over (a share stays without team).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub teams: u32,

    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct BenchSweepArgs {
    /// Expired messages to sweep.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1000..=20_000_000))]
    pub messages: u64,

    /// Run on a scratch database created on this PostgreSQL server (and dropped after)
    /// instead of a scratch SQLite file.
    #[arg(long, value_name = "URL")]
    pub postgres_server: Option<String>,

    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct BenchInboxArgs {
    /// Conversations to seed (one contact each).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub conversations: u64,

    /// Messages to seed, spread over the conversations.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub messages: u64,

    /// Timed repetitions of each read.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rounds: u32,

    /// Run on a scratch database created on this PostgreSQL server (and dropped after)
    /// instead of a scratch SQLite file.
    #[arg(long, value_name = "URL")]
    pub postgres_server: Option<String>,

    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// Record a privacy request about a contact (received by email or post). An erase request
    /// starts at once: `serve`'s workers run it, or `privacy erase` now.
    Request(PrivacyRequestArgs),
    /// Run (or resume) a request's erasure in this process, then the residue scan.
    Erase(PrivacyEraseArgs),
    /// One request: state, deadlines, progress, receipt and residue.
    Show(PrivacyShowArgs),
    /// A workspace's requests, or the Meta callbacks no connection matched (--unlinked).
    List(PrivacyListArgs),
    /// Place, release and list legal holds.
    #[command(subcommand)]
    Hold(HoldCommand),
    /// Look for a text in every text column of the workspace's rows (and accounts), the media
    /// store, the mail outbox and log files; prints where it was found, never the text.
    Scan(PrivacyScanArgs),
    /// The retention sweep, contact exports and restriction.
    #[command(flatten)]
    Data(crate::commands::privacy_data::PrivacyDataCommand),
}

#[derive(Debug, Args)]
pub struct PrivacyRequestArgs {
    #[arg(long, value_name = "SLUG", value_parser = parse_slug)]
    pub workspace: WorkspaceSlug,
    /// erase, export, restrict, lift_restriction, object or rectify.
    #[arg(long)]
    pub kind: String,
    /// The contact's id.
    #[arg(long, value_name = "ID")]
    pub contact: String,
    /// Whose calendar sets the deadlines: gdpr or ccpa.
    #[arg(long, default_value = "gdpr")]
    pub regime: String,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct PrivacyEraseArgs {
    /// The request's id.
    #[arg(long, value_name = "ID")]
    pub request: String,
    /// Rows per transaction (smaller is gentler on a busy SQLite database).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct PrivacyShowArgs {
    #[arg(long, value_name = "ID")]
    pub request: String,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct PrivacyListArgs {
    #[arg(long, value_name = "SLUG", value_parser = parse_slug)]
    pub workspace: Option<WorkspaceSlug>,
    /// Meta data-deletion callbacks no stored connection matched, for an operator to review.
    #[arg(long)]
    pub unlinked: bool,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Place a legal hold: held data survives erasure and retention until released.
    Place(HoldPlaceArgs),
    /// Release a hold; open erase requests it kept run again.
    Release(HoldReleaseArgs),
    /// The workspace's holds.
    List(HoldListArgs),
}

#[derive(Debug, Args)]
pub struct HoldPlaceArgs {
    #[arg(long, value_name = "SLUG", value_parser = parse_slug)]
    pub workspace: WorkspaceSlug,
    /// contact, conversation or workspace.
    #[arg(long)]
    pub scope: String,
    /// The contact's or conversation's id.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    #[arg(long)]
    pub reason: String,
    /// The order, case or ticket it answers.
    #[arg(long)]
    pub reference: String,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct HoldReleaseArgs {
    #[arg(long, value_name = "SLUG", value_parser = parse_slug)]
    pub workspace: WorkspaceSlug,
    #[arg(long, value_name = "ID")]
    pub hold: String,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct HoldListArgs {
    #[arg(long, value_name = "SLUG", value_parser = parse_slug)]
    pub workspace: WorkspaceSlug,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct PrivacyScanArgs {
    #[arg(long, value_name = "SLUG", value_parser = parse_slug)]
    pub workspace: WorkspaceSlug,
    /// The text to look for (a phone number, an email, a name, a message).
    #[arg(long)]
    pub needle: String,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct BenchEraseArgs {
    /// Messages of the contact to erase.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=2_000_000))]
    pub messages: u32,
    /// How many of them carry a stored media file.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(0..=2_000_000))]
    pub media: u32,
    /// Instead of one contact: erase a whole workspace holding this many messages (one
    /// conversation and contact per 10 messages), as a deleted workspace is erased after its
    /// grace period.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub workspace_messages: Option<u64>,
    /// Run on a scratch database created on this PostgreSQL server (and dropped after).
    #[arg(long, value_name = "URL")]
    pub postgres_server: Option<String>,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct BenchIngestArgs {
    /// Messages for the throughput run (and for the ceiling).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=2_000_000))]
    pub messages: u64,

    /// Requests in flight at once during the throughput run.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub concurrency: u64,

    /// The steady rate (messages per second) of the latency run.
    #[arg(long, default_value_t = 1000.0)]
    pub latency_rate: f64,

    /// How long the latency run lasts, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub latency_seconds: u64,

    /// Run on a scratch database created on this PostgreSQL server (and dropped after)
    /// instead of a scratch SQLite file.
    #[arg(long, value_name = "URL")]
    pub postgres_server: Option<String>,

    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct BenchQueueArgs {
    /// How many jobs to enqueue and run.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub jobs: u32,

    /// How many workers claim concurrently.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: u32,

    /// Run on a scratch database created on this PostgreSQL server (and dropped after)
    /// instead of a scratch SQLite file.
    #[arg(long, value_name = "URL")]
    pub postgres_server: Option<String>,

    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load the configuration, refuse it if anything is wrong, else print it (secrets redacted).
    Check,
    /// List every configuration key with its environment variable and default.
    Keys,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Seed a demo workspace "Demo Shop" (slug `demo`) and print its login.
    #[arg(long)]
    pub demo: bool,

    /// Address to listen on [default: 127.0.0.1:8080]; port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace with its owner.
    ///
    /// A new owner account gets the password piped on stdin, or, when stdin is a terminal
    /// (or the pipe is empty), a generated one that is printed once. If an account with the
    /// email exists, it becomes owner of the new workspace and keeps its password.
    Create(WorkspaceCreateArgs),
    /// List every workspace on this instance.
    List(JsonArg),
    /// Cancel a workspace's deletion within its grace period: active again, its erasure
    /// cancelled. Its channels stay disconnected and its API tokens revoked.
    Restore(WorkspaceRestoreArgs),
}

#[derive(Debug, Args)]
pub struct WorkspaceRestoreArgs {
    #[arg(long, value_name = "SLUG", value_parser = parse_slug)]
    pub workspace: WorkspaceSlug,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct WorkspaceCreateArgs {
    /// The workspace's display name (1 to 100 characters).
    #[arg(long, value_parser = parse_name)]
    pub name: String,

    /// Email of the owner; the account is created when it does not exist.
    #[arg(long, value_name = "EMAIL", value_parser = parse_email)]
    pub owner_email: EmailAddress,

    /// Slug used in URLs and commands [default: derived from the name].
    #[arg(long, value_parser = parse_slug)]
    pub slug: Option<WorkspaceSlug>,

    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a workspace; the token is printed once and stored hashed.
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// Slug of the workspace the token works in.
    #[arg(long, value_name = "SLUG", value_parser = parse_slug)]
    pub workspace: WorkspaceSlug,

    /// What the token may do: owner, admin or agent.
    #[arg(long, value_parser = parse_role)]
    pub role: Role,

    /// A name to tell the token apart in the settings page.
    #[arg(long, default_value = "CLI token", value_parser = parse_token_name)]
    pub name: String,

    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Set an account's password and sign it out everywhere.
    ///
    /// The new password is read from stdin when piped, else generated and printed once.
    SetPassword(SetPasswordArgs),
}

#[derive(Debug, Args)]
pub struct SetPasswordArgs {
    #[arg(long, value_parser = parse_email)]
    pub email: EmailAddress,

    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_email(s: &str) -> Result<EmailAddress, String> {
    EmailAddress::parse(s).map_err(|e| e.message)
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).map_err(|e| e.message)
}

fn parse_slug(s: &str) -> Result<WorkspaceSlug, String> {
    WorkspaceSlug::parse(s).map_err(|e| e.message)
}

fn parse_name(s: &str) -> Result<String, String> {
    switchboard_core::workspace::parse_workspace_name(s).map_err(|e| e.message)
}

fn parse_token_name(s: &str) -> Result<String, String> {
    let name = s.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("A token name is 1 to 100 characters.".to_owned());
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
