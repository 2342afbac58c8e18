//! The audit-log sweep (kind `audit_sweep`): replaces the personal fields of entries older
//! than `audit_anonymise_after` with random tokens, and deletes entries older than
//! `audit_retention`. Idempotent, so running it twice or late does no harm. The hourly
//! retention sweep (`retention::sweep_all`) runs the same two steps as part of its family;
//! this kind stays for jobs already queued under it.

use super::{JobError, JobHandler};
use crate::state::AppState;
use switchboard_store::jobs::Job;

pub const KIND: &str = "audit_sweep";

pub struct AuditSweep;

fn age(d: std::time::Duration) -> Result<time::Duration, JobError> {
    time::Duration::try_from(d)
        .map_err(|_| JobError::Permanent("audit period out of range".to_owned()))
}

#[async_trait::async_trait]
impl JobHandler for AuditSweep {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, state: &AppState, _job: &Job) -> Result<(), JobError> {
        let (anonymised, deleted) = sweep_audit(state, state.clock.now()).await?;
        tracing::info!(anonymised, deleted, "audit log swept");
        Ok(())
    }
}

/// Anonymises and deletes old audit rows; the retention sweep runs this too (one family).
pub async fn sweep_audit(
    state: &AppState,
    now: time::OffsetDateTime,
) -> Result<(u64, u64), JobError> {
    let store = &state.store;
    let anonymised = store
        .anonymise_audit_before(now - age(state.config.audit_anonymise_after)?, now)
        .await
        .map_err(JobError::retry)?;
    let deleted = store
        .delete_audit_before(now - age(state.config.audit_retention)?)
        .await
        .map_err(JobError::retry)?;
    Ok((anonymised, deleted))
}
