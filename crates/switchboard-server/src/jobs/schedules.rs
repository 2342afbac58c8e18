//! The recurring jobs every Switchboard runs, registered in the store's `job_schedules` on
//! start. The worker loop enqueues each run (see `Store::enqueue_due_schedules`), so with
//! several processes on one database each run still happens once.

use crate::state::AppState;
use switchboard_store::Result;

/// A recurring job: `kind` enqueued every `interval`.
#[derive(Debug, Clone, Copy)]
pub struct StandardSchedule {
    pub name: &'static str,
    pub kind: &'static str,
    pub interval: time::Duration,
}

/// Removes stale sessions, spent reset links, old invitations and finished jobs.
pub const SESSION_SWEEP: StandardSchedule = StandardSchedule {
    name: "session_sweep",
    kind: super::sweeps::SESSION_SWEEP,
    interval: time::Duration::hours(1),
};

/// Anonymises and then deletes old audit rows (handler in the audit module).
pub const AUDIT_SWEEP: StandardSchedule = StandardSchedule {
    name: "audit_sweep",
    kind: "audit_sweep",
    interval: time::Duration::days(1),
};

/// Wakes snoozed conversations whose time has come; drops week-old live-update events.
pub const INBOX_SWEEP: StandardSchedule = StandardSchedule {
    name: "inbox_sweep",
    kind: super::inbox_sweep::INBOX_SWEEP,
    interval: time::Duration::minutes(1),
};

pub fn standard_schedules() -> [StandardSchedule; 3] {
    [SESSION_SWEEP, AUDIT_SWEEP, INBOX_SWEEP]
}

/// Creates or updates the standard schedules; call once when the server starts.
pub async fn register_standard(state: &AppState) -> Result<()> {
    let now = state.clock.now();
    for schedule in standard_schedules() {
        state
            .store
            .upsert_schedule(schedule.name, schedule.kind, schedule.interval, now)
            .await?;
    }
    Ok(())
}
