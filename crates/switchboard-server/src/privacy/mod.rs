//! The privacy engine's server half: the erasure job (`erasure_job`), the API under
//! `/api/v1/privacy` (`api`), Meta's data-deletion and deauthorisation callbacks and the
//! public deletion-status page (`public`), Meta's `signed_request` (`signed_request`), the
//! Settings > Privacy page (`web`), intake of requests received by email with identity
//! verification (`intake`, `intake_api`, `intake_web`), the requester's emails (`notice`),
//! the daily deadline digest (`digest`) and public holidays (`holidays`).
//! The rules (state machine, calendar) live in `switchboard_core::privacy`; the erasure
//! itself, driven by the inventory, in `switchboard_store::erasure`.
//!
//! Invariants:
//! - an erasure job is enqueued in the transaction that records (or moves) its request;
//! - erasing a platform user ends their sessions and tokens in that same transaction;
//! - a Meta callback that fails verification changes nothing.

pub mod api;
pub mod digest;
pub mod erasure_job;
pub mod holidays;
pub mod intake;
pub mod intake_api;
pub mod intake_web;
pub mod notice;
pub mod notice_job;
pub mod public;
pub mod self_service;
pub mod signed_request;
pub mod web;

use crate::state::AppState;
use std::path::PathBuf;
use switchboard_core::{PrivacyRequestId, Timestamp, WorkspaceId};
use switchboard_store::erasure::Environment;
use switchboard_store::jobs::NewJob;
use switchboard_store::{StoreError, Tx};

/// Enqueues the erasure job of request `id` (once: a second enqueue while one is queued is
/// a no-op), in the caller's transaction.
pub async fn enqueue_erasure(
    tx: &mut Tx,
    id: PrivacyRequestId,
    ws: Option<WorkspaceId>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut job = NewJob::new(
        erasure_job::KIND,
        serde_json::json!({ "request_id": id }),
        now,
    );
    job.workspace_id = ws;
    job.dedupe_key = Some(format!("{}:{id}", erasure_job::KIND));
    // Erasure is resumable and idempotent: keep trying for days rather than give up.
    job.max_attempts = 50;
    tx.enqueue(job, now).await?;
    Ok(())
}

/// Where the residue scan looks besides the database: the media store, the mail outbox and
/// log files in the data directory.
pub fn scan_paths(state: &AppState) -> Vec<PathBuf> {
    let mut paths = vec![state.config.media_dir.clone()];
    if let Some(dir) = &state.config.data_dir {
        paths.push(dir.join("outbox"));
        paths.push(dir.join("logs"));
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "log") {
                    paths.push(path);
                }
            }
        }
    }
    paths
}

/// The erasure environment of this server.
pub fn environment(state: &AppState) -> Environment<'_> {
    Environment {
        media_dir: &state.config.media_dir,
        scan_dirs: scan_paths(state),
        master: &state.master_key,
        clock: state.clock.as_ref(),
        batch: switchboard_store::erasure::BATCH,
        max_batches: None,
    }
}

/// SHA-256 hex of `text`: how callbacks and external ids are remembered without keeping them.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}
