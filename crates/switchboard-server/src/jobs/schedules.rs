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

/// The retention sweep family: each workspace's retention rules, expired exports, orphaned
/// files, and the audit log's anonymisation and deletion (`retention::jobs`).
pub const RETENTION_SWEEP: StandardSchedule = StandardSchedule {
    name: "retention_sweep",
    kind: crate::retention::jobs::SWEEP_KIND,
    interval: time::Duration::hours(1),
};

/// Wakes snoozed conversations whose time has come; drops week-old live-update events.
pub const INBOX_SWEEP: StandardSchedule = StandardSchedule {
    name: "inbox_sweep",
    kind: super::inbox_sweep::INBOX_SWEEP,
    interval: time::Duration::minutes(1),
};

/// Emails each workspace's owners and admins its overdue and near-due privacy requests,
/// once a day (the run is hourly; the digest's own mark keeps it to one a day).
pub const PRIVACY_DIGEST: StandardSchedule = StandardSchedule {
    name: "privacy_digest",
    kind: crate::privacy::digest::KIND,
    interval: time::Duration::hours(1),
};

/// Schedules of earlier versions whose work another schedule now does.
const RETIRED: [&str; 1] = [
    // The audit sweep runs inside the retention sweep.
    "audit_sweep",
];

pub fn standard_schedules() -> [StandardSchedule; 4] {
    [SESSION_SWEEP, RETENTION_SWEEP, INBOX_SWEEP, PRIVACY_DIGEST]
}

/// Creates or updates the standard schedules; call once when the server starts.
pub async fn register_standard(state: &AppState) -> Result<()> {
    let now = state.clock.now();
    for name in RETIRED {
        state.store.delete_schedule(name).await?;
    }
    for schedule in standard_schedules() {
        state
            .store
            .upsert_schedule(schedule.name, schedule.kind, schedule.interval, now)
            .await?;
    }
    Ok(())
}
