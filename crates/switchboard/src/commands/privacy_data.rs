//! `switchboard privacy sweep|export|restrict`: the retention sweep (or its preview) by hand,
//! a contact's export written to a file, and restriction of a contact's processing (and its
//! lifting). Each runs the same code as the server's job or route, and is audited as `cli`.

use super::{cli_event, open_store};
use crate::config::Config;
use crate::output;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;
use switchboard_core::{Clock, ContactId, SystemClock, WorkspaceSlug};
use switchboard_server::retention::{self, SweepSettings};
use switchboard_store::{Store, StoreError};

/// This file's subcommands of `switchboard privacy`.
#[derive(Debug, Subcommand)]
pub enum PrivacyDataCommand {
    /// Run the retention sweep now (every workspace's rules, expired exports, orphaned
    /// files, audit-log anonymisation), or with --preview only count what it would delete.
    Sweep(SweepArgs),
    /// Write everything stored about one contact to a zip (JSON and CSV per table, media
    /// files; docs/EXPORT_FORMAT.md), mode 0600.
    Export(ExportArgs),
    /// Restrict the processing of a contact's data (nothing is sent to them), or lift the
    /// restriction with --lift (a notice goes to the contact first where a channel allows).
    Restrict(RestrictArgs),
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Only this workspace's retention rules (exports and the audit log are instance-wide
    /// and swept only without it).
    #[arg(long, value_name = "SLUG", value_parser = parse_slug)]
    pub workspace: Option<WorkspaceSlug>,
    /// Count what the sweep would delete, delete nothing (needs --workspace).
    #[arg(long, requires = "workspace")]
    pub preview: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_name = "SLUG", value_parser = parse_slug)]
    pub workspace: WorkspaceSlug,
    /// The contact's id.
    #[arg(long, value_name = "ID", value_parser = parse_contact)]
    pub contact: ContactId,
    /// Where to write the zip (refused if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RestrictArgs {
    #[arg(long, value_name = "SLUG", value_parser = parse_slug)]
    pub workspace: WorkspaceSlug,
    #[arg(long, value_name = "ID", value_parser = parse_contact)]
    pub contact: ContactId,
    /// Why the processing is restricted (required unless --lift).
    #[arg(long, value_name = "TEXT", required_unless_present = "lift")]
    pub reason: Option<String>,
    /// Lift the restriction instead.
    #[arg(long, conflicts_with = "reason")]
    pub lift: bool,
    #[arg(long)]
    pub json: bool,
}

fn parse_slug(s: &str) -> Result<WorkspaceSlug, String> {
    WorkspaceSlug::parse(s).map_err(|e| e.message)
}

fn parse_contact(s: &str) -> Result<ContactId, String> {
    s.parse()
        .map_err(|_| "the contact is a contact id".to_owned())
}

pub async fn run(config: &Config, command: PrivacyDataCommand) -> Result<()> {
    let store = open_store(config).await?;
    let result = match command {
        PrivacyDataCommand::Sweep(args) => sweep(config, &store, args).await,
        PrivacyDataCommand::Export(args) => export(config, &store, args).await,
        PrivacyDataCommand::Restrict(args) => restrict(&store, args).await,
    };
    store.close().await;
    result
}

async fn workspace(store: &Store, slug: &WorkspaceSlug) -> Result<switchboard_core::WorkspaceId> {
    match store.workspace_by_slug(slug).await {
        Ok(ws) => Ok(ws.id),
        Err(StoreError::NotFound) => bail!(
            "no workspace with slug `{slug}`; `switchboard workspace list` shows the workspaces"
        ),
        Err(e) => Err(e.into()),
    }
}

fn settings(config: &Config) -> Result<SweepSettings> {
    let period = |d: std::time::Duration| {
        time::Duration::try_from(d).context("the audit period is out of range")
    };
    Ok(SweepSettings {
        media_dir: config.data_dir.join("media"),
        export_dir: config.data_dir.join("exports"),
        audit_anonymise_after: period(config.audit_anonymise_after)?,
        audit_retention: period(config.audit_retention)?,
    })
}

async fn sweep(config: &Config, store: &Store, args: SweepArgs) -> Result<()> {
    let now = SystemClock.now();
    let settings = settings(config)?;
    let Some(slug) = &args.workspace else {
        // No time budget by hand: the operator asked for the whole sweep.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(24 * 3600);
        let summary = retention::sweep_all(store, now, &settings, deadline).await?;
        if args.json {
            return output::json(&json!(summary));
        }
        return output::line(format!(
            "Swept: {} rows deleted, {} media files and {} expired exports removed, {} audit \
             entries anonymised and {} deleted.",
            summary.rows_deleted,
            summary.media_files_removed,
            summary.exports_removed,
            summary.audit_anonymised,
            summary.audit_deleted
        ));
    };
    let ws = workspace(store, slug).await?;
    if args.preview {
        let lines = retention::preview(store, ws, now).await?;
        if args.json {
            return output::json(&json!({ "data": lines }));
        }
        if lines.is_empty() {
            return output::line(format!(
                "Workspace {slug} has no retention rules: nothing expires."
            ));
        }
        for l in lines {
            output::line(format!(
                "{:<22} {:<12} {:<10} {:>5} days  {:>10} rows",
                l.class.as_str(),
                l.table,
                l.channel.unwrap_or("all"),
                l.days,
                l.rows
            ))?;
        }
        return Ok(());
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(24 * 3600);
    let started = std::time::Instant::now();
    let report = retention::sweep_workspace(store, ws, now, &settings.media_dir, deadline).await?;
    let mut event = cli_event("privacy.retention_swept");
    event.workspace_id = Some(ws);
    event.details = json!({ "rows_deleted": report.total(), "media_files_removed": report.media_files_removed });
    let mut tx = store.begin().await?;
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    if args.json {
        return output::json(&json!({
            "rows_deleted": report.total(),
            "media_files_removed": report.media_files_removed,
            "seconds": started.elapsed().as_secs_f64(),
        }));
    }
    output::line(format!(
        "Swept workspace {slug}: {} rows deleted, {} media files removed in {:.1} s.",
        report.total(),
        report.media_files_removed,
        started.elapsed().as_secs_f64()
    ))
}

async fn export(config: &Config, store: &Store, args: ExportArgs) -> Result<()> {
    let ws = workspace(store, &args.workspace).await?;
    if args.out.exists() {
        bail!("{} exists; name a new file", args.out.display());
    }
    let now = SystemClock.now();
    let written = match switchboard_server::export::write_export(
        store,
        ws,
        switchboard_server::export::Subject::Contact(args.contact),
        &config.data_dir.join("media"),
        &args.out,
        now,
    )
    .await
    {
        Ok(w) => w,
        Err(switchboard_server::export::ExportError::Store(StoreError::NotFound)) => {
            bail!(
                "no contact {} in workspace {}",
                args.contact,
                args.workspace
            )
        }
        Err(e) => return Err(e.into()),
    };
    let mut event = cli_event("privacy.export_written");
    event.workspace_id = Some(ws);
    event.target_type = Some("contact".to_owned());
    event.target_id = Some(args.contact.to_string());
    event.details = json!({ "size_bytes": written.size_bytes, "sha256": written.sha256 });
    let mut tx = store.begin().await?;
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    if args.json {
        return output::json(&json!({
            "path": args.out,
            "size_bytes": written.size_bytes,
            "sha256": written.sha256,
        }));
    }
    output::line(format!(
        "Wrote {} ({} bytes, SHA-256 {}). It holds personal data: hand it over securely and delete it afterwards.",
        args.out.display(),
        written.size_bytes,
        written.sha256
    ))
}

async fn restrict(store: &Store, args: RestrictArgs) -> Result<()> {
    let ws = workspace(store, &args.workspace).await?;
    let now = SystemClock.now();
    let mut event = cli_event(if args.lift {
        "privacy.restriction_lifted"
    } else {
        "privacy.contact_restricted"
    });
    event.workspace_id = Some(ws);
    let not_found = |e: switchboard_server::ApiError| match e {
        switchboard_server::ApiError::NotFound => {
            anyhow::anyhow!(
                "no contact {} in workspace {}",
                args.contact,
                args.workspace
            )
        }
        other => anyhow::anyhow!(other.to_string()),
    };
    if args.lift {
        let outcome =
            switchboard_server::restriction::lift(store, ws, args.contact, None, event, now)
                .await
                .map_err(not_found)?;
        if args.json {
            return output::json(&json!(outcome));
        }
        return output::line(match (outcome.lifted, &outcome.note) {
            (false, _) => "The contact was not restricted; nothing changed.".to_owned(),
            (true, None) => {
                "Lifted; a notice to the contact is queued (sent by the running server).".to_owned()
            }
            (true, Some(note)) => format!("Lifted; no notice could be sent: {note}"),
        });
    }
    let reason = args.reason.as_deref().map(str::trim).unwrap_or_default();
    if reason.is_empty() || reason.chars().count() > 1000 {
        bail!("give the reason for the restriction (1 to 1000 characters)");
    }
    let changed =
        switchboard_server::restriction::restrict(store, ws, args.contact, reason, event, now)
            .await
            .map_err(not_found)?;
    if args.json {
        return output::json(&json!({ "restricted": true, "changed": changed }));
    }
    output::line(if changed {
        "Restricted: nothing will be sent to this contact until the restriction is lifted."
    } else {
        "The contact was already restricted."
    })
}
