//! `inbox_sweep`, every minute: opens snoozed conversations whose time has come (each with
//! its timeline entry and live-update event, in one transaction), and deletes live-update
//! events older than a week (a browser away longer reloads the inbox instead of catching up),
//! and the outbound webhook delivery log older than 30 days (in bounded batches).

use super::{JobError, JobHandler};
use crate::state::AppState;
use switchboard_store::jobs::Job;

pub const INBOX_SWEEP: &str = "inbox_sweep";

/// How long live-update events are kept (the inventory's retention for `events`).
const EVENT_KEEP: time::Duration = time::Duration::days(7);

/// How long the webhook delivery log is kept (the inventory's retention for
/// `webhook_deliveries` and `webhook_attempts`).
pub const WEBHOOK_LOG_KEEP: time::Duration = time::Duration::days(30);

/// At most this many deliveries (with their attempts) go per run, so SQLite's one writer
/// waits for one short transaction; a run every minute keeps up with any real volume.
const WEBHOOK_LOG_BATCH: i64 = 500;

pub struct InboxSweep;

#[async_trait::async_trait]
impl JobHandler for InboxSweep {
    fn kind(&self) -> &'static str {
        INBOX_SWEEP
    }

    async fn run(&self, state: &AppState, _job: &Job) -> Result<(), JobError> {
        let now = state.clock.now();
        let retry = |e: switchboard_store::StoreError| JobError::retry(e);
        let mut tx = state.store.begin().await.map_err(retry)?;
        let woken = tx.wake_snoozed(now).await.map_err(retry)?;
        let events = tx
            .delete_events_before(now - EVENT_KEEP)
            .await
            .map_err(retry)?;
        tx.commit().await.map_err(retry)?;
        let mut tx = state.store.begin().await.map_err(retry)?;
        let deliveries = tx
            .delete_webhook_log_before(now - WEBHOOK_LOG_KEEP, WEBHOOK_LOG_BATCH)
            .await
            .map_err(retry)?;
        tx.commit().await.map_err(retry)?;
        if woken > 0 || events > 0 || deliveries > 0 {
            tracing::info!(woken, events, deliveries, "inbox sweep");
        }
        Ok(())
    }
}
