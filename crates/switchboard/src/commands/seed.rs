//! `switchboard bench seed`: fills a workspace of the instance's own database (unlike the
//! other benches, which use scratch databases) through `switchboard_store::seed`, on a new
//! WhatsApp connection "Bench seed" whose credentials are a placeholder, so nothing seeded is
//! ever sent to a platform. Reports the rows written and the rate.

use super::open_store;
use crate::cli::BenchSeedArgs;
use crate::config::Config;
use crate::output;
use anyhow::{Context, Result, bail};
use std::time::Instant;
use switchboard_core::channel::ChannelKind;
use switchboard_core::{Clock, SystemClock};
use switchboard_keys::MasterKey;
use switchboard_store::StoreError;
use switchboard_store::connections::NewConnection;
use switchboard_store::seed::SeedPlan;

#[derive(serde::Serialize)]
struct SeedReport {
    backend: &'static str,
    workspace: String,
    connection_id: String,
    conversations: u64,
    messages: u64,
    teams: u32,
    /// Contacts, identities, conversations and messages written.
    rows: u64,
    seconds: f64,
    rows_per_second: f64,
    messages_per_second: f64,
}

pub async fn run(config: &Config, args: BenchSeedArgs) -> Result<()> {
    let store = open_store(config).await?;
    let workspace = match store.workspace_by_slug(&args.workspace).await {
        Err(StoreError::NotFound) => bail!("no workspace `{}`", args.workspace),
        other => other?,
    };
    // The data directory holds the master key (on PostgreSQL nothing else made it yet).
    super::prepare_data_dir(&config.data_dir)?;
    let master = MasterKey::load_or_create(&config.data_dir, config.master_key.as_ref())
        .context("cannot load the master key")?;
    let now = SystemClock.now();
    // Its own account id each run: at most one live connection per platform account.
    let account = format!("seed-{}", switchboard_core::ConnectionId::new());
    let credentials = secrecy::SecretString::from(r#"{"access_token":"seed"}"#.to_owned());
    let mut tx = store.begin().await?;
    let connection = tx
        .insert_connection(
            workspace.id,
            &NewConnection {
                kind: ChannelKind::WhatsApp,
                name: "Bench seed",
                account_id: &account,
                credentials: &credentials,
                webhook_secret_hash: None,
                meta_user_id: None,
                settings: &serde_json::json!({}),
            },
            &master,
            now,
        )
        .await?;
    tx.commit().await?;
    let started = Instant::now();
    store
        .seed_inbox(
            workspace.id,
            connection.id,
            SeedPlan {
                conversations: args.conversations,
                messages: args.messages,
                teams: args.teams,
                now,
            },
        )
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    let rows = args.conversations * 3 + args.messages;
    let report = SeedReport {
        backend: store.backend().name(),
        workspace: args.workspace.to_string(),
        connection_id: connection.id.to_string(),
        conversations: args.conversations,
        messages: args.messages,
        teams: args.teams,
        rows,
        seconds,
        rows_per_second: rows as f64 / seconds.max(1e-9),
        messages_per_second: args.messages as f64 / seconds.max(1e-9),
    };
    store.close().await;
    if args.json.json {
        return output::json(&serde_json::to_value(&report)?);
    }
    output::line(format!(
        "seeded {} on {}: {} conversations, {} messages, {} teams ({} rows) in {:.1} s: \
         {:.0} rows/s, {:.0} messages/s",
        report.workspace,
        report.backend,
        report.conversations,
        report.messages,
        report.teams,
        report.rows,
        report.seconds,
        report.rows_per_second,
        report.messages_per_second
    ))
}
