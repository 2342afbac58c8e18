//! Background work: handlers for each job kind, and the worker that claims due jobs from the
//! store's queue, runs them, and records success, a retry with backoff, or death. Each pass
//! of the worker first enqueues the runs of recurring schedules that are due
//! ([`schedules`]).
//!
//! Invariant: a job is done at most once per successful claim; a worker whose lease ran out
//! cannot mark the job done (the store checks `locked_by`), so a job whose worker died is
//! taken again and finished by someone else.

pub mod audit_sweep;
pub mod email;
pub mod inbox_sweep;
pub mod media;
pub mod schedules;
pub mod send;
pub mod sweeps;
pub mod templates;
pub mod webhook_delivery;

use crate::state::AppState;
use std::collections::HashMap;
use std::sync::Arc;
use switchboard_store::jobs::Job;

/// Why a job attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt later (a network error, a busy platform); not before `after`
    /// when the other side said how long to wait (`Retry-After`).
    #[error("{error}")]
    Retry {
        error: String,
        after: Option<time::Duration>,
    },
    /// Will never succeed (a malformed payload); goes straight to dead.
    #[error("{0}")]
    Permanent(String),
}

impl JobError {
    /// Retry after the usual backoff.
    pub fn retry(error: impl std::fmt::Display) -> Self {
        JobError::Retry {
            error: error.to_string(),
            after: None,
        }
    }
}

#[async_trait::async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The `kind` this handler runs.
    fn kind(&self) -> &'static str;
    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError>;
}

/// The handlers by kind.
#[derive(Clone, Default)]
pub struct Registry(HashMap<&'static str, Arc<dyn JobHandler>>);

impl Registry {
    /// Every handler Switchboard has.
    pub fn standard() -> Self {
        let mut registry = Self::default();
        registry.add(email::SendEmail);
        registry.add(audit_sweep::AuditSweep);
        registry.add(sweeps::SessionSweep);
        registry.add(inbox_sweep::InboxSweep);
        registry.add(media::MediaDownload);
        registry.add(send::SendMessage);
        registry.add(templates::TemplateSync);
        registry.add(webhook_delivery::DeliverWebhook);
        registry.add(crate::privacy::erasure_job::PrivacyErasure);
        registry.add(crate::privacy::notice::PrivacyNotice);
        registry.add(crate::privacy::digest::PrivacyDigest);
        // A disconnected channel's data: deleted in resumable batches that honour legal holds
        // and remove contacts left with nothing (`retention::erase_connection`).
        registry.add(crate::retention::jobs::ChannelDataErasure);
        registry.add(crate::retention::jobs::RetentionSweep);
        registry.add(crate::export::jobs::ContactExportJob);
        registry.add(crate::export::jobs::WorkspaceExportJob);
        registry.add(crate::privacy::notice_job::CompletionNotice);
        registry
    }

    pub fn add(&mut self, handler: impl JobHandler) {
        self.0.insert(handler.kind(), Arc::new(handler));
    }
}

/// Claims and runs jobs.
#[derive(Clone)]
pub struct Worker {
    pub id: String,
    state: AppState,
    registry: Registry,
    lease: time::Duration,
    batch: i64,
}

impl Worker {
    pub fn new(state: AppState, registry: Registry) -> Self {
        Self {
            id: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            state: state.clone(),
            registry,
            lease: time::Duration::try_from(state.config.job_lease)
                .unwrap_or(time::Duration::minutes(5)),
            // One job per claim: every job starts well inside its lease, however long the
            // ones before it took, so a slow batch can never let a second worker in.
            batch: 1,
        }
    }

    /// Enqueues the due runs of recurring schedules, then runs the jobs due now, one batch;
    /// returns how many jobs it ran.
    pub async fn run_due(&self) -> Result<usize, crate::ApiError> {
        let now = self.state.clock.now();
        self.state.store.enqueue_due_schedules(now).await?;
        let jobs = self
            .state
            .store
            .claim_jobs(&self.id, now, self.lease, self.batch)
            .await?;
        for job in &jobs {
            self.run_one(job).await?;
        }
        Ok(jobs.len())
    }

    /// Runs due jobs until none are left (tests, and `serve` between polls).
    pub async fn drain(&self) -> Result<usize, crate::ApiError> {
        let mut total = 0;
        loop {
            let n = self.run_due().await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Runs jobs until `shutdown` fires, polling every `job_poll_interval` when idle. On
    /// shutdown it stops claiming and returns once the batch in hand is finished, so no job
    /// is left half-done by a graceful stop (a crash is covered by the lease).
    pub async fn run_forever(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let interval = self.state.config.job_poll_interval;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let ran = match self.run_due().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, worker = %self.id, "job worker could not reach the queue");
                    0
                }
            };
            if ran == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    changed = shutdown.changed() => {
                        // A dropped sender can never say "go on": stop rather than spin.
                        if changed.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }

    async fn run_one(&self, job: &Job) -> Result<(), crate::ApiError> {
        // A handler still running when its lease ends would overlap the worker that takes
        // the job next; stop it first and count the attempt as failed.
        let limit = self.state.config.job_lease.mul_f64(0.8);
        let outcome = match self.registry.0.get(job.kind.as_str()) {
            Some(handler) => tokio::time::timeout(limit, handler.run(&self.state, job))
                .await
                .unwrap_or_else(|_| Err(JobError::retry("timed out before its lease ended"))),
            None => Err(JobError::Permanent(format!(
                "no handler for job kind {}",
                job.kind
            ))),
        };
        let now = self.state.clock.now();
        let store = &self.state.store;
        let (label, recorded) = match &outcome {
            Ok(()) => ("done", store.complete_job(job.id, &self.id, now).await?),
            Err(JobError::Retry { error: e, after }) if job.attempts < job.max_attempts => {
                // The platform's own `Retry-After` wins when it asks for longer.
                let wait = after.map_or(backoff(job.attempts), |a| a.max(backoff(job.attempts)));
                let retry_at = now + wait;
                tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %e, "job failed; will retry");
                let recorded = store
                    .fail_job(job.id, &self.id, e, Some(retry_at), now)
                    .await?;
                ("retry", recorded)
            }
            Err(e) => {
                tracing::error!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %e, "job is dead");
                let recorded = store
                    .fail_job(job.id, &self.id, &e.to_string(), None, now)
                    .await?;
                ("dead", recorded)
            }
        };
        if !recorded {
            // The lease ran out mid-run and another worker took the job: its outcome counts.
            tracing::warn!(job = %job.id, kind = %job.kind, worker = %self.id, "job outlived its lease; outcome discarded");
        }
        self.state
            .metrics
            .jobs
            .get_or_create(&crate::metrics::JobLabels {
                kind: job.kind.clone(),
                outcome: label.to_owned(),
            })
            .inc();
        Ok(())
    }
}

/// Registers the standard schedules and starts `job_workers` workers with every standard
/// handler, so one slow job (a mail server that hangs) does not hold up the rest. They run
/// until `shutdown` turns true, each finishing the job in hand; the handle completes when
/// all have stopped. `serve` calls this once.
pub async fn start(
    state: &AppState,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, switchboard_store::StoreError> {
    schedules::register_standard(state).await?;
    let registry = Registry::standard();
    let workers: Vec<_> = (0..state.config.job_workers.max(1))
        .map(|_| {
            let worker = Worker::new(state.clone(), registry.clone());
            tokio::spawn(worker.run_forever(shutdown.clone()))
        })
        .collect();
    Ok(tokio::spawn(async move {
        for worker in workers {
            let _ = worker.await;
        }
    }))
}

/// The ceiling of the wait after failed attempt `attempt`: 20 s, 40 s, 80 s, ... up to an
/// hour.
fn backoff_cap(attempt: i64) -> i64 {
    let exp = attempt.clamp(1, 12) as u32;
    (10 * 2i64.pow(exp)).min(3600)
}

/// Exponential backoff with "equal" jitter: between half and all of [`backoff_cap`]. The
/// floor makes each wait longer than the last, so eight attempts span about half an hour
/// (a mail server restart, a platform hiccup) rather than seconds; the jitter keeps many jobs
/// that failed together from retrying in lockstep.
pub fn backoff(attempt: i64) -> time::Duration {
    use rand::Rng;
    let cap = backoff_cap(attempt);
    let secs = rand::thread_rng().gen_range(cap / 2..=cap);
    time::Duration::seconds(secs)
}

#[cfg(test)]
mod tests {
    use super::{backoff, backoff_cap};

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..30 {
            let d = backoff(attempt).whole_seconds();
            let cap = backoff_cap(attempt);
            assert!(d >= cap / 2 && d <= cap && d <= 3600, "{attempt}: {d}");
        }
        assert_eq!(backoff_cap(1), 20);
        assert!(backoff(2).whole_seconds() >= backoff_cap(1));
        assert_eq!(backoff_cap(40), 3600);
    }
}
