//! The `privacy_erasure` job: runs (or resumes) one erase request to its end through
//! `Store::run_erasure`. A crash or a lease that runs out mid-way costs nothing: each batch
//! committed its progress, and the next attempt continues from there. (A disconnected
//! channel's data is erased by `retention::jobs::ChannelDataErasure`.)

use crate::jobs::{JobError, JobHandler};
use crate::state::AppState;
use switchboard_core::PrivacyRequestId;
use switchboard_store::erasure::Outcome;
use switchboard_store::jobs::Job;

pub const KIND: &str = "privacy_erasure";

#[derive(serde::Deserialize)]
struct Payload {
    request_id: PrivacyRequestId,
}

pub struct PrivacyErasure;

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::retry(e.to_string())
}

/// Runs request `id` to its end and logs how it ended (never an identifier).
pub async fn run(state: &AppState, id: PrivacyRequestId) -> Result<Outcome, JobError> {
    let outcome = state
        .store
        .run_erasure(id, &super::environment(state))
        .await
        .map_err(retry)?;
    match &outcome {
        Outcome::Completed(r) => {
            tracing::info!(request = %id, tables = r.tables.len(), files = r.files_deleted, "erasure completed; residue scan clean");
            // Export files whose rows the erasure deleted (a workspace's whole export, a
            // contact's) go now rather than at the next hourly sweep.
            if let Err(e) = crate::retention::expire_exports(
                &state.store,
                &state.config.export_dir,
                state.clock.now(),
            )
            .await
            {
                tracing::warn!(request = %id, error = %e, "orphaned export files stay until the next sweep");
            }
        }
        Outcome::Held(_) => tracing::info!(request = %id, "erasure kept data under a legal hold"),
        Outcome::ResidueFound(_, hits) => {
            tracing::warn!(request = %id, hits = hits.len(), "erasure done but the residue scan found identifiers; request stays open")
        }
        Outcome::NotRunnable => {}
        Outcome::NotYet(at) => {
            tracing::info!(request = %id, not_before = %at, "erasure waits for its grace period")
        }
    }
    Ok(outcome)
}

#[async_trait::async_trait]
impl JobHandler for PrivacyErasure {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError> {
        let payload: Payload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        run(state, payload.request_id).await.map(|_| ())
    }
}
