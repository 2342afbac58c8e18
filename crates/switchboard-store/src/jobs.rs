//! The durable job queue: jobs live in the same database as the data, so a job is enqueued
//! in the transaction of the change that causes it and commits or rolls back with it.

use crate::row::ms;
use crate::{Result, Tx};
use switchboard_core::{JobId, Timestamp, WorkspaceId};

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Which handler runs it (`send_email`, `audit_sweep`, ...).
    pub kind: String,
    pub payload: serde_json::Value,
    /// The workspace whose data the job touches, if any (erasure deletes its queued jobs).
    pub workspace_id: Option<WorkspaceId>,
    /// Not before this time.
    pub run_at: Timestamp,
    pub max_attempts: i64,
    /// When set, a second job with the same key is not enqueued while the first exists.
    pub dedupe_key: Option<String>,
}

impl NewJob {
    pub fn new(kind: &str, payload: serde_json::Value, run_at: Timestamp) -> Self {
        Self {
            kind: kind.to_owned(),
            payload,
            workspace_id: None,
            run_at,
            max_attempts: 8,
            dedupe_key: None,
        }
    }
}

impl Tx {
    /// Enqueues a job inside this transaction. With a `dedupe_key` that is already queued,
    /// nothing is added and `None` is returned.
    pub async fn enqueue(&mut self, job: NewJob, now: Timestamp) -> Result<Option<JobId>> {
        let id = JobId::new();
        let done = sqlx::query(
            "INSERT INTO jobs (id, kind, payload, workspace_id, state, attempts, max_attempts, \
             run_at, dedupe_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $7, $8, $8) \
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(job.workspace_id.map(|w| w.to_string()))
        .bind(job.max_attempts.max(1))
        .bind(ms(job.run_at))
        .bind(job.dedupe_key.as_deref())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok((done.rows_affected() == 1).then_some(id))
    }
}
