//! `session_sweep`: the hourly clean-up of rows whose purpose has passed, so credentials and
//! personal data do not linger: stale sessions, old login-throttle counters, used or expired
//! password-reset links, invitations that ended more than 30 days ago, and jobs that finished
//! more than 14 days ago; and it marks dead the jobs whose worker vanished on their last
//! attempt.

use super::{JobError, JobHandler};
use crate::state::AppState;
use switchboard_store::jobs::Job;

pub const SESSION_SWEEP: &str = "session_sweep";

/// How long ended invitations stay visible to admins.
const INVITATION_KEEP: time::Duration = time::Duration::days(30);
/// How long finished jobs are kept (for looking into what happened).
const DONE_JOB_KEEP: time::Duration = time::Duration::days(14);
/// How long a throttle counter outlives its window start.
const THROTTLE_KEEP: time::Duration = time::Duration::days(1);

pub struct SessionSweep;

#[async_trait::async_trait]
impl JobHandler for SessionSweep {
    fn kind(&self) -> &'static str {
        SESSION_SWEEP
    }

    async fn run(&self, state: &AppState, _job: &Job) -> Result<(), JobError> {
        let now = state.clock.now();
        let idle = time::Duration::try_from(state.config.session_idle_timeout)
            .unwrap_or(time::Duration::hours(2));
        let store = &state.store;
        let retry = |e: switchboard_store::StoreError| JobError::retry(e);
        let sessions = store
            .delete_stale_sessions(now, now - idle)
            .await
            .map_err(retry)?;
        let throttles = store
            .sweep_login_throttle(now - THROTTLE_KEEP, now)
            .await
            .map_err(retry)?;
        let resets = store.sweep_password_resets(now).await.map_err(retry)?;
        let invitations = store
            .sweep_invitations(now - INVITATION_KEEP)
            .await
            .map_err(retry)?;
        let jobs = store
            .delete_done_jobs(now - DONE_JOB_KEEP)
            .await
            .map_err(retry)?;
        let abandoned = store.bury_abandoned_jobs(now).await.map_err(retry)?;
        tracing::info!(
            sessions,
            throttles,
            resets,
            invitations,
            jobs,
            abandoned,
            "session sweep removed stale rows"
        );
        Ok(())
    }
}
