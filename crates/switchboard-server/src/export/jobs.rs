//! `contact_export` and `workspace_export`: build a requested export's zip into the export
//! directory and mark it ready (or failed, with a reason). Enqueued in the transaction that
//! records the request.

use crate::jobs::{JobError, JobHandler};
use crate::state::AppState;
use switchboard_core::{ContactExportId, Timestamp, WorkspaceExportId, WorkspaceId};
use switchboard_store::StoreError;
use switchboard_store::export::{ExportFile, ExportState, ExportTable};
use switchboard_store::jobs::{Job, NewJob};

pub const KIND: &str = "contact_export";

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    workspace_id: WorkspaceId,
    export_id: ContactExportId,
}

/// The job that builds export `id`.
pub fn job(ws: WorkspaceId, id: ContactExportId, now: Timestamp) -> NewJob {
    let mut job = NewJob::new(
        KIND,
        serde_json::json!({ "workspace_id": ws, "export_id": id }),
        now,
    );
    job.workspace_id = Some(ws);
    job.dedupe_key = Some(format!("{KIND}:{id}"));
    job
}

/// The export's file name in the export directory.
pub fn file_name(id: ContactExportId) -> String {
    format!("{id}.zip")
}

pub struct ContactExportJob;

#[async_trait::async_trait]
impl JobHandler for ContactExportJob {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError> {
        let p: Payload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let ws = p.workspace_id;
        let export = match state.store.contact_export(ws, p.export_id).await {
            Ok(e) => e,
            // Expired or erased meanwhile.
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(JobError::retry(e)),
        };
        if export.state != ExportState::Pending {
            return Ok(());
        }
        let name = file_name(export.id);
        let path = state.config.export_dir.join(&name);
        let now = state.clock.now();
        match super::write_export(
            &state.store,
            ws,
            super::Subject::Contact(export.contact_id),
            &state.config.media_dir,
            &path,
            now,
        )
        .await
        {
            Ok(written) => state
                .store
                .mark_export_ready(
                    ExportTable::Contact,
                    ws,
                    export.id,
                    &ExportFile {
                        name: &name,
                        size_bytes: written.size_bytes,
                        sha256: &written.sha256,
                    },
                    now,
                )
                .await
                .map_err(JobError::retry),
            Err(super::ExportError::Store(StoreError::NotFound)) => {
                // The contact was erased: there is nothing to export.
                state
                    .store
                    .mark_export_failed(
                        ExportTable::Contact,
                        ws,
                        export.id,
                        "the contact no longer exists",
                    )
                    .await
                    .map_err(JobError::retry)
            }
            Err(e) if job.attempts >= job.max_attempts => {
                tracing::error!(export = %export.id, error = %e, "export failed for good");
                state
                    .store
                    .mark_export_failed(
                        ExportTable::Contact,
                        ws,
                        export.id,
                        "the export could not be built",
                    )
                    .await
                    .map_err(JobError::retry)?;
                Err(JobError::Permanent(e.to_string()))
            }
            Err(e) => Err(JobError::retry(e)),
        }
    }
}

pub const WORKSPACE_KIND: &str = "workspace_export";

#[derive(serde::Serialize, serde::Deserialize)]
struct WorkspacePayload {
    workspace_id: WorkspaceId,
    export_id: WorkspaceExportId,
}

/// The job that builds workspace export `id`.
pub fn workspace_job(ws: WorkspaceId, id: WorkspaceExportId, now: Timestamp) -> NewJob {
    let mut job = NewJob::new(
        WORKSPACE_KIND,
        serde_json::json!({ "workspace_id": ws, "export_id": id }),
        now,
    );
    job.workspace_id = Some(ws);
    job.dedupe_key = Some(format!("{WORKSPACE_KIND}:{id}"));
    job
}

/// A workspace export's file name in the export directory.
pub fn workspace_file_name(id: WorkspaceExportId) -> String {
    format!("workspace-{id}.zip")
}

pub struct WorkspaceExportJob;

#[async_trait::async_trait]
impl JobHandler for WorkspaceExportJob {
    fn kind(&self) -> &'static str {
        WORKSPACE_KIND
    }

    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError> {
        let p: WorkspacePayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let ws = p.workspace_id;
        let export = match state.store.workspace_export(ws, p.export_id).await {
            Ok(e) => e,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(JobError::retry(e)),
        };
        if export.state != ExportState::Pending {
            return Ok(());
        }
        let name = workspace_file_name(export.id);
        let path = state.config.export_dir.join(&name);
        let now = state.clock.now();
        match super::write_export(
            &state.store,
            ws,
            super::Subject::Workspace,
            &state.config.media_dir,
            &path,
            now,
        )
        .await
        {
            Ok(written) => state
                .store
                .mark_export_ready(
                    ExportTable::Workspace,
                    ws,
                    export.id,
                    &ExportFile {
                        name: &name,
                        size_bytes: written.size_bytes,
                        sha256: &written.sha256,
                    },
                    now,
                )
                .await
                .map_err(JobError::retry),
            Err(e) if job.attempts >= job.max_attempts => {
                tracing::error!(export = %export.id, error = %e, "workspace export failed for good");
                state
                    .store
                    .mark_export_failed(
                        ExportTable::Workspace,
                        ws,
                        export.id,
                        "the export could not be built",
                    )
                    .await
                    .map_err(JobError::retry)?;
                Err(JobError::Permanent(e.to_string()))
            }
            Err(e) => Err(JobError::retry(e)),
        }
    }
}
