//! Whole-workspace exports, offered before a workspace is deleted: the record of each export
//! and its file (the rows come from [`Store::subject_rows`], as a contact's do).
//!
//! Invariants: an export names one workspace and expires
//! ([`switchboard_core::retention::EXPORT_LIFETIME_DAYS`]); every read and write is scoped by
//! the workspace; the sweep deletes expired rows and their files, and files no row names.

use crate::export::ExportState;
use crate::row::{RowExt, known, ms};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::{Timestamp, UserId, WorkspaceExportId, WorkspaceId};

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WorkspaceExport {
    pub id: WorkspaceExportId,
    pub workspace_id: WorkspaceId,
    pub requested_by: Option<UserId>,
    pub state: ExportState,
    pub file_name: Option<String>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ready_at: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub downloaded_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, workspace_id, requested_by, state, file_name, size_bytes, \
     sha256, error, created_at, ready_at, expires_at, downloaded_at";

fn export_from(row: &AnyRow) -> Result<WorkspaceExport> {
    Ok(WorkspaceExport {
        id: row.parsed("id")?,
        workspace_id: row.parsed("workspace_id")?,
        requested_by: row.opt_parsed("requested_by")?,
        state: known(row, "state", ExportState::parse)?,
        file_name: row.opt_text("file_name")?,
        size_bytes: row.opt_int("size_bytes")?,
        sha256: row.opt_text("sha256")?,
        error: row.opt_text("error")?,
        created_at: row.time("created_at")?,
        ready_at: row.opt_time("ready_at")?,
        expires_at: row.time("expires_at")?,
        downloaded_at: row.opt_time("downloaded_at")?,
    })
}

impl Tx {
    /// Records a pending export of `ws` (its job is enqueued by the caller, in this
    /// transaction).
    pub async fn insert_workspace_export(
        &mut self,
        ws: WorkspaceId,
        requested_by: Option<UserId>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<WorkspaceExportId> {
        let id = WorkspaceExportId::new();
        sqlx::query(
            "INSERT INTO workspace_exports (id, workspace_id, requested_by, state, created_at, \
             expires_at) VALUES ($1, $2, $3, 'pending', $4, $5)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(requested_by.map(|u| u.to_string()))
        .bind(ms(now))
        .bind(ms(expires_at))
        .execute(self.conn())
        .await?;
        Ok(id)
    }
}

impl Store {
    pub async fn workspace_export(
        &self,
        ws: WorkspaceId,
        id: WorkspaceExportId,
    ) -> Result<WorkspaceExport> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM workspace_exports WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        export_from(&row)
    }

    /// The workspace's exports, newest first.
    pub async fn workspace_exports(&self, ws: WorkspaceId) -> Result<Vec<WorkspaceExport>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM workspace_exports WHERE workspace_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT 20"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(export_from).collect()
    }

    /// Exports whose download time ended (any workspace: the sweep's read).
    pub async fn expired_workspace_exports(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<WorkspaceExport>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM workspace_exports WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2"
        ))
        .bind(ms(now))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(export_from).collect()
    }
}
