//! The retention engine: the sweep that deletes what each workspace's retention settings say
//! has expired, its preview, and the erasure of a disconnected channel's data. Which tables
//! and columns they touch comes from the personal-data inventory
//! (`switchboard_core::inventory::swept` and `linked`); nothing here names a table.
//!
//! Invariants:
//! - deletion goes in bounded batches, each its own short transaction, with a yield to other
//!   writers between batches, so ingestion never waits for more than one batch;
//! - the preview and the sweep ask the same rules for the same cutoffs
//!   (`RetentionRules::cutoff`), so the preview counts what the sweep deletes;
//! - what is held is excluded in one place: [`exclusions`] (legal holds plug in there);
//! - a media or export file whose row is gone is removed by the sweep that follows, so a
//!   crash between a row's deletion and its file's leaves nothing for longer than one run.

pub mod jobs;

use std::path::Path;
use switchboard_core::inventory;
use switchboard_core::retention::{RetentionClass, RetentionExclusions, RetentionRules};
use switchboard_core::{ConnectionId, MediaObjectId, Timestamp, WorkspaceId};
use switchboard_store::export::ExportTable;
use switchboard_store::retention::{Expiring, SweepScope};
use switchboard_store::{Result, Store};

/// Rows per delete transaction. A batch of messages commits in milliseconds; a conversation
/// takes its messages with it through the schema's cascade, so fewer go per batch.
pub const BATCH: i64 = 1000;
const CONVERSATION_BATCH: i64 = 50;

/// What must survive the sweep and the disconnect erasure in `ws`: the one place where the
/// workspace's live legal holds (the workspace, contacts, conversations) become exclusions.
/// A hold id that no longer parses is treated as a hold on the whole workspace, so a damaged
/// row keeps data rather than losing it.
pub async fn exclusions(store: &Store, ws: WorkspaceId) -> Result<RetentionExclusions> {
    use switchboard_store::legal_holds::HoldScope;
    let mut held = RetentionExclusions::none();
    for hold in store
        .holds(ws)
        .await?
        .into_iter()
        .filter(|h| h.released_at.is_none())
    {
        match hold.scope {
            HoldScope::Workspace => held.workspace = true,
            HoldScope::Contact => match hold.scope_id.parse() {
                Ok(id) => held.contacts.push(id),
                Err(_) => held.workspace = true,
            },
            HoldScope::Conversation => match hold.scope_id.parse() {
                Ok(id) => held.conversations.push(id),
                Err(_) => held.workspace = true,
            },
        }
    }
    Ok(held)
}

/// One line of the preview: how many rows of `table` the next sweep deletes under `class`
/// (on `channel`, for per-channel rules; `None`: every channel).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PreviewLine {
    pub class: RetentionClass,
    pub table: &'static str,
    pub channel: Option<&'static str>,
    pub days: u32,
    pub rows: i64,
}

/// Where the sweep finds files, and the audit log's periods.
#[derive(Clone, Debug)]
pub struct SweepSettings {
    pub media_dir: std::path::PathBuf,
    pub export_dir: std::path::PathBuf,
    pub audit_anonymise_after: time::Duration,
    pub audit_retention: time::Duration,
}

impl SweepSettings {
    pub fn from_config(config: &crate::ServerConfig) -> Result<Self> {
        let period = |d: std::time::Duration| {
            time::Duration::try_from(d).map_err(|_| {
                switchboard_store::StoreError::Corrupt("audit period out of range".to_owned())
            })
        };
        Ok(Self {
            media_dir: config.media_dir.clone(),
            export_dir: config.export_dir.clone(),
            audit_anonymise_after: period(config.audit_anonymise_after)?,
            audit_retention: period(config.audit_retention)?,
        })
    }
}

/// What one run of the whole sweep family did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepSummary {
    pub rows_deleted: u64,
    pub media_files_removed: u64,
    pub exports_removed: u64,
    pub audit_anonymised: u64,
    pub audit_deleted: u64,
    /// False when the time budget ran out first (a continuation run finishes).
    pub finished: bool,
}

/// Runs the sweep family once: every workspace's retention rules, then expired exports and
/// orphaned export files, then the audit log's anonymisation and deletion.
pub async fn sweep_all(
    store: &Store,
    now: Timestamp,
    settings: &SweepSettings,
    deadline: std::time::Instant,
) -> Result<SweepSummary> {
    let mut summary = SweepSummary {
        finished: true,
        ..Default::default()
    };
    for ws in store.workspaces_with_retention().await? {
        let report = sweep_workspace(store, ws, now, &settings.media_dir, deadline).await?;
        summary.rows_deleted += report.total();
        summary.media_files_removed += report.media_files_removed;
        if !report.finished {
            summary.finished = false;
            return Ok(summary);
        }
    }
    summary.exports_removed = expire_exports(store, &settings.export_dir, now).await?;
    summary.audit_anonymised = store
        .anonymise_audit_before(now - settings.audit_anonymise_after, now)
        .await?;
    summary.audit_deleted = store
        .delete_audit_before(now - settings.audit_retention)
        .await?;
    Ok(summary)
}

/// What the sweep did in one workspace.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Rows deleted by rule (cascaded rows not counted).
    pub deleted: Vec<(String, u64)>,
    pub media_files_removed: u64,
    /// False when the time budget ran out first (a continuation run finishes).
    pub finished: bool,
}

impl SweepReport {
    pub fn total(&self) -> u64 {
        self.deleted.iter().map(|(_, n)| n).sum()
    }
}

/// Each (table, rule, scope, cutoff) the workspace's rules make expire at `now`.
async fn plan(
    store: &Store,
    ws: WorkspaceId,
    rules: &RetentionRules,
    now: Timestamp,
) -> Result<Vec<Step>> {
    let connections = store.connection_kinds(ws).await?;
    let mut steps = Vec::new();
    // Whole conversations first: their messages and media then need no rule of their own.
    let order = [
        RetentionClass::ClosedConversations,
        RetentionClass::Conversations,
        RetentionClass::Messages,
        RetentionClass::Media,
    ];
    for class in order {
        for (table, rule) in inventory::swept(class) {
            if rule.connection_column.is_some() {
                for (connection, kind) in &connections {
                    if let Some(cutoff) = rules.cutoff(class, Some(*kind), now) {
                        steps.push(Step {
                            class,
                            table,
                            rule,
                            scope: SweepScope::Connection(*connection),
                            channel: Some(kind.as_str()),
                            days: rules.days(class, Some(*kind)).unwrap_or_default(),
                            cutoff,
                        });
                    }
                }
            } else if let Some(cutoff) = rules.cutoff(class, None, now) {
                steps.push(Step {
                    class,
                    table,
                    rule,
                    scope: SweepScope::Workspace,
                    channel: None,
                    days: rules.days(class, None).unwrap_or_default(),
                    cutoff,
                });
            }
        }
    }
    Ok(steps)
}

struct Step {
    class: RetentionClass,
    table: &'static inventory::Table,
    rule: &'static inventory::SweepRule,
    scope: SweepScope,
    channel: Option<&'static str>,
    days: u32,
    cutoff: Timestamp,
}

impl Step {
    fn expiring(&self) -> Expiring {
        Expiring {
            table: self.table,
            rule: self.rule,
            scope: self.scope,
            cutoff: self.cutoff,
        }
    }
}

/// What the next sweep of `ws` would delete at `now`, by rule and channel (a connection's
/// rows are summed into its channel's line).
pub async fn preview(store: &Store, ws: WorkspaceId, now: Timestamp) -> Result<Vec<PreviewLine>> {
    let rules = store.retention_rules(ws).await?;
    let held = exclusions(store, ws).await?;
    let mut lines: Vec<PreviewLine> = Vec::new();
    for step in plan(store, ws, &rules, now).await? {
        let rows = store.count_expired(ws, &step.expiring(), &held).await?;
        match lines.iter_mut().find(|l| {
            l.class == step.class && l.table == step.table.name && l.channel == step.channel
        }) {
            Some(line) => line.rows += rows,
            None => lines.push(PreviewLine {
                class: step.class,
                table: step.table.name,
                channel: step.channel,
                days: step.days,
                rows,
            }),
        }
    }
    Ok(lines)
}

/// Sweeps `ws` at `now` until done or `deadline`; then removes media files whose rows went.
pub async fn sweep_workspace(
    store: &Store,
    ws: WorkspaceId,
    now: Timestamp,
    media_dir: &Path,
    deadline: std::time::Instant,
) -> Result<SweepReport> {
    let rules = store.retention_rules(ws).await?;
    let held = exclusions(store, ws).await?;
    let mut report = SweepReport {
        finished: true,
        ..Default::default()
    };
    for step in plan(store, ws, &rules, now).await? {
        let limit = match step.class {
            RetentionClass::Conversations | RetentionClass::ClosedConversations => {
                CONVERSATION_BATCH
            }
            _ => BATCH,
        };
        let mut total = 0;
        let mut position = None;
        loop {
            if std::time::Instant::now() >= deadline {
                report.finished = false;
                break;
            }
            let (n, last) = store
                .delete_expired_batch(ws, &step.expiring(), &held, limit, position.as_ref())
                .await?;
            position = last.or(position);
            total += n;
            // Let the webhooks waiting for the one writer in before the next batch.
            tokio::task::yield_now().await;
            if n < limit as u64 {
                break;
            }
        }
        if total > 0 {
            let label = format!(
                "{}:{}:{}",
                step.class.as_str(),
                step.table.name,
                step.channel.unwrap_or("all")
            );
            match report.deleted.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += total,
                None => report.deleted.push((label, total)),
            }
        }
        if !report.finished {
            break;
        }
    }
    report.media_files_removed = remove_orphan_media(store, ws, media_dir).await?;
    Ok(report)
}

/// Removes the workspace's media files (`<media_dir>/<workspace>/<media id>`) that no media
/// object names any more: those of rows the sweep or an erasure deleted (directly or by
/// cascade), and downloads abandoned half-way. Returns how many went.
pub async fn remove_orphan_media(store: &Store, ws: WorkspaceId, media_dir: &Path) -> Result<u64> {
    let dir = media_dir.join(ws.to_string());
    let mut entries = match tokio::fs::read_dir(&dir).await {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(e)),
    };
    let mut removed = 0;
    let mut batch: Vec<(MediaObjectId, std::path::PathBuf)> = Vec::new();
    loop {
        let entry = entries.next_entry().await.map_err(io)?;
        let done = entry.is_none();
        if let Some(entry) = entry {
            let name = entry.file_name().to_string_lossy().into_owned();
            // A download being written is `<id>.partial`; its row decides for it too. A name
            // that is no media id is not the media store's: left alone.
            if let Ok(id) = name.trim_end_matches(".partial").parse::<MediaObjectId>() {
                batch.push((id, entry.path()));
            }
        }
        if batch.len() >= 500 || (done && !batch.is_empty()) {
            let ids: Vec<MediaObjectId> = batch.iter().map(|(id, _)| *id).collect();
            // Any row, whatever its state: a pending download's file exists before its key.
            let present = store.media_ids_present(ws, &ids).await?;
            for (id, path) in batch.drain(..) {
                if present.contains(&id) {
                    continue;
                }
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(e)),
                }
            }
        }
        if done {
            return Ok(removed);
        }
    }
}

/// Deletes exports whose download time ended (row and file), and export files no row names.
pub async fn expire_exports(store: &Store, export_dir: &Path, now: Timestamp) -> Result<u64> {
    let mut removed = 0;
    loop {
        let expired = store.expired_exports(now, BATCH).await?;
        if expired.is_empty() {
            break;
        }
        for export in &expired {
            if let Some(name) = &export.file_name {
                remove_if_present(&export_dir.join(name)).await?;
            }
            store
                .delete_export(ExportTable::Contact, export.workspace_id, export.id)
                .await?;
            removed += 1;
        }
    }
    loop {
        let expired = store.expired_workspace_exports(now, BATCH).await?;
        if expired.is_empty() {
            break;
        }
        for export in &expired {
            if let Some(name) = &export.file_name {
                remove_if_present(&export_dir.join(name)).await?;
            }
            store
                .delete_export(ExportTable::Workspace, export.workspace_id, export.id)
                .await?;
            removed += 1;
        }
    }
    // Files of exports whose row went another way (the contact or workspace was erased).
    let mut entries = match tokio::fs::read_dir(export_dir).await {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(io(e)),
    };
    let mut names = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(io)? {
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    for chunk in names.chunks(500) {
        let in_use = store.export_files_in_use(chunk).await?;
        for name in chunk {
            // A file being built has no row naming it yet: `.partial` files are left to
            // their job, which renames or removes them.
            if !in_use.contains(name) && !name.ends_with(".partial") {
                remove_if_present(&export_dir.join(name)).await?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

async fn remove_if_present(path: &Path) -> Result<()> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(e)),
    }
}

fn io(e: std::io::Error) -> switchboard_store::StoreError {
    switchboard_store::StoreError::Unavailable(format!("file store: {e}"))
}

/// Removes the disconnected `connection`'s data in batches until done or `deadline`;
/// `true` when nothing is left. Then its media files. `now` dates the `contact.deleted`
/// webhook events of contacts left with nothing.
pub async fn erase_connection(
    store: &Store,
    ws: WorkspaceId,
    connection: ConnectionId,
    media_dir: &Path,
    deadline: std::time::Instant,
    now: Timestamp,
) -> Result<(u64, bool)> {
    let held = exclusions(store, ws).await?;
    let mut total = 0;
    loop {
        if std::time::Instant::now() >= deadline {
            remove_orphan_media(store, ws, media_dir).await?;
            return Ok((total, false));
        }
        let n = store
            .erase_connection_batch(ws, connection, &held, BATCH, now)
            .await?;
        tokio::task::yield_now().await;
        if n == 0 {
            break;
        }
        total += n;
    }
    store.anonymise_connection(ws, connection).await?;
    remove_orphan_media(store, ws, media_dir).await?;
    Ok((total, true))
}
