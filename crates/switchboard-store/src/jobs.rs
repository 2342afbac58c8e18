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

/// A job claimed by a worker.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub workspace_id: Option<WorkspaceId>,
    /// Including the current one.
    pub attempts: i64,
    pub max_attempts: i64,
}

fn job_from(row: &sqlx::any::AnyRow) -> Result<Job> {
    use crate::row::RowExt;
    let payload = row.text("payload")?;
    Ok(Job {
        id: row.parsed("id")?,
        kind: row.text("kind")?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| crate::StoreError::Corrupt(format!("job payload: {e}")))?,
        workspace_id: row.opt_parsed("workspace_id")?,
        attempts: row.int("attempts")?,
        max_attempts: row.int("max_attempts")?,
    })
}

impl crate::Store {
    /// Claims up to `limit` jobs that are due, or whose previous worker's lease ran out,
    /// for `worker` until `now + lease`. On PostgreSQL concurrent claimers skip each other's
    /// rows (`FOR UPDATE SKIP LOCKED`); on SQLite the single writer connection serialises
    /// claims, which gives the same guarantee.
    pub async fn claim_jobs(
        &self,
        worker: &str,
        now: Timestamp,
        lease: time::Duration,
        limit: i64,
    ) -> Result<Vec<Job>> {
        let lock = match self.backend {
            crate::Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_expires_at = $2, \
             locked_by = $3, updated_at = $1 \
             WHERE id IN (SELECT id FROM jobs \
                 WHERE (state = 'pending' AND run_at <= $1) \
                    OR (state = 'running' AND lease_expires_at <= $1) \
                 ORDER BY run_at, id LIMIT $4 {lock}) \
             RETURNING id, kind, payload, workspace_id, attempts, max_attempts"
        );
        let rows = sqlx::query(&sql)
            .bind(ms(now))
            .bind(ms(now + lease))
            .bind(worker)
            .bind(limit)
            .fetch_all(&self.write)
            .await?;
        rows.iter().map(job_from).collect()
    }

    /// Marks a job done, if `worker` still holds it. Returns whether it did.
    pub async fn complete_job(&self, id: JobId, worker: &str, now: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'done', finished_at = $3, updated_at = $3, lease_expires_at = NULL, dedupe_key = NULL, \
             last_error = NULL WHERE id = $1 AND locked_by = $2 AND state = 'running'",
        )
        .bind(id.to_string())
        .bind(worker)
        .bind(ms(now))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a failed attempt: back to `pending` at `retry_at`, or `dead` when `retry_at`
    /// is `None` (attempts exhausted or the error is permanent).
    pub async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<bool> {
        let error: String = error.chars().take(2000).collect();
        let done = match retry_at {
            Some(at) => {
                sqlx::query(
                    "UPDATE jobs SET state = 'pending', run_at = $4, last_error = $3, \
                     lease_expires_at = NULL, locked_by = NULL, updated_at = $5 \
                     WHERE id = $1 AND locked_by = $2 AND state = 'running'",
                )
                .bind(id.to_string())
                .bind(worker)
                .bind(&error)
                .bind(ms(at))
                .bind(ms(now))
                .execute(&self.write)
                .await?
            }
            None => {
                sqlx::query(
                    "UPDATE jobs SET state = 'dead', last_error = $3, lease_expires_at = NULL, dedupe_key = NULL, \
                     finished_at = $4, updated_at = $4 \
                     WHERE id = $1 AND locked_by = $2 AND state = 'running'",
                )
                .bind(id.to_string())
                .bind(worker)
                .bind(&error)
                .bind(ms(now))
                .execute(&self.write)
                .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }
}
