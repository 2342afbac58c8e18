//! The retention engine's jobs.
//!
//! - `retention_sweep` (hourly schedule): each workspace's retention rules, expired exports,
//!   orphaned files, and the audit log's anonymisation and deletion — the whole sweep family
//!   in one run. A run that reaches its time budget enqueues a continuation and ends, so no
//!   run outlives its lease.
//! - `channel_data_erasure` (enqueued by a disconnect, in its transaction): the connection's
//!   messages, media, conversations, identities, consent, templates, and contacts left with
//!   nothing; in batches, resumable, continued the same way.

use crate::jobs::{JobError, JobHandler};
use crate::state::AppState;
use switchboard_core::{ConnectionId, Timestamp, WorkspaceId};
use switchboard_store::connections::CHANNEL_DATA_ERASURE_JOB;
use switchboard_store::jobs::{Job, NewJob};

pub const SWEEP_KIND: &str = "retention_sweep";

/// How long one run works before handing over to a continuation: well inside the lease
/// (the worker stops a handler at 80 % of it).
fn budget(state: &AppState) -> std::time::Instant {
    let lease = state.config.job_lease.mul_f64(0.5);
    std::time::Instant::now() + lease.min(std::time::Duration::from_secs(120))
}

fn retry(e: switchboard_store::StoreError) -> JobError {
    JobError::retry(e)
}

/// Queues the next run of an unfinished job, keyed by its round so each is queued once.
async fn continue_later(
    state: &AppState,
    kind: &str,
    mut payload: serde_json::Value,
    ws: Option<WorkspaceId>,
    key: &str,
    now: Timestamp,
) -> Result<(), JobError> {
    let round = payload.get("round").and_then(|r| r.as_i64()).unwrap_or(0) + 1;
    if let Some(obj) = payload.as_object_mut() {
        obj.insert("round".to_owned(), serde_json::json!(round));
    }
    let mut job = NewJob::new(kind, payload, now);
    job.workspace_id = ws;
    job.dedupe_key = Some(format!("{key}:round:{round}"));
    let mut tx = state.store.begin().await.map_err(retry)?;
    tx.enqueue(job, now).await.map_err(retry)?;
    tx.commit().await.map_err(retry)
}

pub struct RetentionSweep;

#[async_trait::async_trait]
impl JobHandler for RetentionSweep {
    fn kind(&self) -> &'static str {
        SWEEP_KIND
    }

    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError> {
        let now = state.clock.now();
        let settings = super::SweepSettings::from_config(&state.config)
            .map_err(|e| JobError::Permanent(e.to_string()))?;
        let summary = super::sweep_all(&state.store, now, &settings, budget(state))
            .await
            .map_err(retry)?;
        tracing::info!(
            rows = summary.rows_deleted,
            media_files = summary.media_files_removed,
            exports = summary.exports_removed,
            audit_anonymised = summary.audit_anonymised,
            audit_deleted = summary.audit_deleted,
            finished = summary.finished,
            "retention sweep"
        );
        if !summary.finished {
            continue_later(
                state,
                SWEEP_KIND,
                job.payload.clone(),
                None,
                SWEEP_KIND,
                now,
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(serde::Deserialize)]
struct ErasurePayload {
    workspace_id: WorkspaceId,
    connection_id: ConnectionId,
}

pub struct ChannelDataErasure;

#[async_trait::async_trait]
impl JobHandler for ChannelDataErasure {
    fn kind(&self) -> &'static str {
        CHANNEL_DATA_ERASURE_JOB
    }

    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError> {
        let p: ErasurePayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let ws = p.workspace_id;
        let connection = match state.store.connection(ws, p.connection_id).await {
            Ok(c) => c,
            // The workspace (and so the connection) was erased meanwhile: nothing left.
            Err(switchboard_store::StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(retry(e)),
        };
        if connection.status != switchboard_store::connections::ConnectionStatus::Disconnected {
            return Err(JobError::Permanent(
                "the connection is not disconnected; its data stays".to_owned(),
            ));
        }
        let (rows, done) = super::erase_connection(
            &state.store,
            ws,
            p.connection_id,
            &state.config.media_dir,
            budget(state),
            state.clock.now(),
        )
        .await
        .map_err(retry)?;
        tracing::info!(connection = %p.connection_id, rows, done, "channel data erased");
        if !done {
            let key = format!("{CHANNEL_DATA_ERASURE_JOB}:{}", p.connection_id);
            continue_later(
                state,
                CHANNEL_DATA_ERASURE_JOB,
                job.payload.clone(),
                Some(ws),
                &key,
                state.clock.now(),
            )
            .await?;
        }
        Ok(())
    }
}
