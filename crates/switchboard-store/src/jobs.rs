//! The durable job queue and its recurring schedules: jobs live in the same database as the
//! data, so a job is enqueued in the transaction of the change that causes it and commits or
//! rolls back with it.
//!
//! Invariants:
//! - a job is held by at most one worker at a time: claiming is one statement that skips rows
//!   other claimers hold (`FOR UPDATE SKIP LOCKED` on PostgreSQL; the single writer
//!   connection on SQLite), and only the holder named in `locked_by` can finish it;
//! - a schedule's run is enqueued and its `next_run_at` advanced in one transaction, with a
//!   dedupe key naming the run, so two processes never enqueue the same run twice;
//! - payloads may hold personal data and single-use links: listings for people
//!   ([`JobSummary`]) leave them out, and a job that is done keeps none.

use crate::row::{RowExt, ms};
use crate::{Result, StoreError, Tx};
use sqlx::any::AnyRow;
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

fn job_from(row: &AnyRow) -> Result<Job> {
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
    /// Claims up to `limit` jobs that are due, or whose previous worker's lease ran out with
    /// attempts left, for `worker` until `now + lease`. On PostgreSQL concurrent claimers skip each other's
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
                    OR (state = 'running' AND lease_expires_at <= $1 AND attempts < max_attempts) \
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

    /// Marks a job done, if `worker` still holds it. Returns whether it did. The payload is
    /// emptied: a sent email's reset link or invitation token must not outlive its use.
    pub async fn complete_job(&self, id: JobId, worker: &str, now: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'done', payload = '{}', finished_at = $3, updated_at = $3, lease_expires_at = NULL, dedupe_key = NULL, \
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

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its `run_at`, or for a retry.
    Pending,
    /// Held by a worker until its lease runs out.
    Running,
    Done,
    /// Failed for good (attempts exhausted or a permanent error); an admin may retry it.
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 4] = [
        JobState::Pending,
        JobState::Running,
        JobState::Done,
        JobState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(raw: &str) -> Option<JobState> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// What people may see of a job: everything but its payload, which may hold personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSummary {
    pub id: JobId,
    pub kind: String,
    pub state: JobState,
    pub workspace_id: Option<WorkspaceId>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: Option<String>,
    pub run_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

const SUMMARY_COLUMNS: &str = "id, kind, state, workspace_id, attempts, max_attempts, last_error, \
                               run_at, created_at, updated_at, finished_at";

fn summary_from(row: &AnyRow) -> Result<JobSummary> {
    let state = row.text("state")?;
    Ok(JobSummary {
        id: row.parsed("id")?,
        kind: row.text("kind")?,
        state: JobState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown job state {state}")))?,
        workspace_id: row.opt_parsed("workspace_id")?,
        attempts: row.int("attempts")?,
        max_attempts: row.int("max_attempts")?,
        last_error: row.opt_text("last_error")?,
        run_at: row.time("run_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        finished_at: row.opt_time("finished_at")?,
    })
}

fn depth_from(rows: &[AnyRow]) -> Result<QueueDepth> {
    let mut depth = QueueDepth::default();
    for row in rows {
        let n = row.int("n")?;
        match JobState::parse(&row.text("state")?) {
            Some(JobState::Pending) => depth.pending = n,
            Some(JobState::Running) => depth.running = n,
            Some(JobState::Dead) => depth.dead = n,
            Some(JobState::Done) | None => {}
        }
    }
    Ok(depth)
}

/// How many jobs are in each state that is not `done` (the queue-depth gauge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub pending: i64,
    pub running: i64,
    pub dead: i64,
}

impl crate::Store {
    /// A workspace's jobs in `state`, newest change first.
    pub async fn jobs_in(
        &self,
        ws: WorkspaceId,
        state: JobState,
        limit: i64,
    ) -> Result<Vec<JobSummary>> {
        let rows = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM jobs WHERE workspace_id = $1 AND state = $2 \
             ORDER BY updated_at DESC, id LIMIT $3"
        ))
        .bind(ws.to_string())
        .bind(state.as_str())
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(summary_from).collect()
    }

    /// Every job in `state` across the instance, including those of no workspace (sweeps);
    /// for operators, never for a workspace's members.
    pub async fn instance_jobs(&self, state: JobState, limit: i64) -> Result<Vec<JobSummary>> {
        let rows = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM jobs WHERE state = $1 \
             ORDER BY updated_at DESC, id LIMIT $2"
        ))
        .bind(state.as_str())
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(summary_from).collect()
    }

    /// Puts a workspace's dead job back in the queue, due now, with its attempts reset.
    /// `NotFound` unless the job is dead and belongs to `ws`.
    pub async fn retry_dead_job(
        &self,
        ws: WorkspaceId,
        id: JobId,
        now: Timestamp,
    ) -> Result<JobSummary> {
        self.requeue_dead(Some(ws), id, now).await
    }

    /// [`Store::retry_dead_job`] for operators: any dead job of the instance.
    pub async fn retry_instance_dead_job(&self, id: JobId, now: Timestamp) -> Result<JobSummary> {
        self.requeue_dead(None, id, now).await
    }

    async fn requeue_dead(
        &self,
        ws: Option<WorkspaceId>,
        id: JobId,
        now: Timestamp,
    ) -> Result<JobSummary> {
        let scope = if ws.is_some() {
            "AND workspace_id = $3"
        } else {
            "AND $3 IS NULL"
        };
        let row = sqlx::query(&format!(
            "UPDATE jobs SET state = 'pending', attempts = 0, run_at = $2, updated_at = $2, \
             finished_at = NULL, locked_by = NULL, lease_expires_at = NULL \
             WHERE id = $1 AND state = 'dead' {scope} RETURNING {SUMMARY_COLUMNS}"
        ))
        .bind(id.to_string())
        .bind(ms(now))
        .bind(ws.map(|w| w.to_string()))
        .fetch_optional(&self.write)
        .await?
        .ok_or(StoreError::NotFound)?;
        summary_from(&row)
    }

    /// Marks dead the jobs whose worker vanished during their last attempt (the lease ran
    /// out with no attempts left), so a job that kills its worker every time stops being
    /// taken up again and shows among the dead. Returns how many.
    pub async fn bury_abandoned_jobs(&self, now: Timestamp) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'dead', dedupe_key = NULL, lease_expires_at = NULL, \
             finished_at = $1, updated_at = $1, \
             last_error = 'the worker stopped during the last attempt' \
             WHERE state = 'running' AND lease_expires_at <= $1 AND attempts >= max_attempts",
        )
        .bind(ms(now))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }

    /// Deletes jobs that finished successfully before `cutoff`; returns how many.
    pub async fn delete_done_jobs(&self, cutoff: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM jobs WHERE state = 'done' AND finished_at < $1")
            .bind(ms(cutoff))
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

    /// Jobs waiting, running and dead across the instance.
    pub async fn queue_depth(&self) -> Result<QueueDepth> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM jobs WHERE state <> 'done' GROUP BY state",
        )
        .fetch_all(&self.read)
        .await?;
        depth_from(&rows)
    }

    /// Jobs waiting, running and dead in one workspace.
    pub async fn queue_depth_in(&self, ws: WorkspaceId) -> Result<QueueDepth> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM jobs WHERE workspace_id = $1 AND state <> 'done' \
             GROUP BY state",
        )
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        depth_from(&rows)
    }

    /// One job's summary, if it belongs to `ws`.
    pub async fn job(&self, ws: WorkspaceId, id: JobId) -> Result<JobSummary> {
        let row = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM jobs WHERE id = $1 AND workspace_id = $2"
        ))
        .bind(id.to_string())
        .bind(ws.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        summary_from(&row)
    }

    /// Any job's summary (operators, tests).
    pub async fn instance_job(&self, id: JobId) -> Result<JobSummary> {
        let row = sqlx::query(&format!("SELECT {SUMMARY_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        summary_from(&row)
    }
}

/// A recurring job: `kind` is enqueued every `interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub name: String,
    pub kind: String,
    pub interval: time::Duration,
    pub next_run_at: Timestamp,
    pub last_run_at: Option<Timestamp>,
}

fn schedule_from(row: &AnyRow) -> Result<Schedule> {
    Ok(Schedule {
        name: row.text("name")?,
        kind: row.text("kind")?,
        interval: time::Duration::seconds(row.int("interval_seconds")?),
        next_run_at: row.time("next_run_at")?,
        last_run_at: row.opt_time("last_run_at")?,
    })
}

impl crate::Store {
    /// Removes the schedule `name`, if there is one (a schedule whose work moved elsewhere).
    pub async fn delete_schedule(&self, name: &str) -> Result<()> {
        sqlx::query("DELETE FROM job_schedules WHERE name = $1")
            .bind(name)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Creates the schedule `name`, first due at `now`, or updates its kind and interval.
    /// A schedule that already exists keeps its next run, brought forward if the new
    /// interval would have it run sooner; so every process may call this on start.
    pub async fn upsert_schedule(
        &self,
        name: &str,
        kind: &str,
        interval: time::Duration,
        now: Timestamp,
    ) -> Result<()> {
        let secs = interval.whole_seconds().max(1);
        sqlx::query(
            "INSERT INTO job_schedules (name, kind, interval_seconds, next_run_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, \
                 interval_seconds = excluded.interval_seconds, \
                 next_run_at = CASE WHEN job_schedules.next_run_at > $5 THEN $5 \
                                    ELSE job_schedules.next_run_at END",
        )
        .bind(name)
        .bind(kind)
        .bind(secs)
        .bind(ms(now))
        .bind(ms(now) + secs * 1000)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub async fn schedules(&self) -> Result<Vec<Schedule>> {
        let rows = sqlx::query(
            "SELECT name, kind, interval_seconds, next_run_at, last_run_at FROM job_schedules \
             ORDER BY name",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(schedule_from).collect()
    }

    /// Enqueues one job for every schedule that is due and moves each to its next run, all in
    /// one transaction. The job's dedupe key names the run (`schedule:<name>:<due ms>`), and
    /// the advance is conditional on the due time read, so concurrent processes cannot
    /// enqueue a run twice. Runs missed while nothing was running collapse into one.
    /// Returns the jobs enqueued.
    pub async fn enqueue_due_schedules(&self, now: Timestamp) -> Result<Vec<JobId>> {
        // Every worker pass asks; most find nothing due. Look on a reader first so those
        // passes leave the writer (on SQLite, the one write connection) alone.
        let any_due = sqlx::query("SELECT name FROM job_schedules WHERE next_run_at <= $1 LIMIT 1")
            .bind(ms(now))
            .fetch_optional(&self.read)
            .await?;
        if any_due.is_none() {
            return Ok(Vec::new());
        }
        let lock = match self.backend {
            crate::Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let mut tx = self.begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT name, kind, interval_seconds, next_run_at, last_run_at FROM job_schedules \
             WHERE next_run_at <= $1 ORDER BY next_run_at, name {lock}"
        ))
        .bind(ms(now))
        .fetch_all(tx.conn())
        .await?;
        let mut enqueued = Vec::new();
        for row in &rows {
            let schedule = schedule_from(row)?;
            let due = ms(schedule.next_run_at);
            let step = (schedule.interval.whole_seconds().max(1)) * 1000;
            // The first run time after `now` on the schedule's grid.
            let missed = (ms(now) - due) / step;
            let next = due + (missed + 1) * step;
            let advanced = sqlx::query(
                "UPDATE job_schedules SET next_run_at = $3, last_run_at = $4 \
                 WHERE name = $1 AND next_run_at = $2",
            )
            .bind(&schedule.name)
            .bind(due)
            .bind(next)
            .bind(ms(now))
            .execute(tx.conn())
            .await?;
            if advanced.rows_affected() != 1 {
                continue;
            }
            let mut job = NewJob::new(
                &schedule.kind,
                serde_json::json!({ "schedule": schedule.name }),
                now,
            );
            job.dedupe_key = Some(format!("schedule:{}:{due}", schedule.name));
            // A sweep that fails is simply run again at the next tick; a few attempts cover
            // a passing outage without piling up.
            job.max_attempts = 3;
            if let Some(id) = tx.enqueue(job, now).await? {
                enqueued.push(id);
            }
        }
        tx.commit().await?;
        Ok(enqueued)
    }
}
