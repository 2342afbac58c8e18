//! The `privacy_erasure` job: runs (or resumes) one erase request to its end through
//! `Store::run_erasure`. A crash or a lease that runs out mid-way costs nothing: each batch
//! committed its progress, and the next attempt continues from there. Also the
//! `channel_data_erasure` job that disconnecting a channel enqueues: it records a privacy
//! request for the connection (source `channel_disconnect`) and erases its data the same way.

use crate::jobs::{JobError, JobHandler};
use crate::state::AppState;
use switchboard_core::inventory::SubjectKind;
use switchboard_core::privacy::{Regime, RequestKind, RequestSource, RequestState};
use switchboard_core::{ConnectionId, PrivacyRequestId, WorkspaceId};
use switchboard_store::erasure::{Outcome, system_actor};
use switchboard_store::jobs::Job;
use switchboard_store::privacy_requests::{Move, NewPrivacyRequest};

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
            tracing::info!(request = %id, tables = r.tables.len(), files = r.files_deleted, "erasure completed; residue scan clean")
        }
        Outcome::Held(_) => tracing::info!(request = %id, "erasure kept data under a legal hold"),
        Outcome::ResidueFound(_, hits) => {
            tracing::warn!(request = %id, hits = hits.len(), "erasure done but the residue scan found identifiers; request stays open")
        }
        Outcome::NotRunnable => {}
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

#[derive(serde::Deserialize)]
struct ChannelPayload {
    workspace_id: WorkspaceId,
    connection_id: ConnectionId,
}

pub struct ChannelDataErasure;

#[async_trait::async_trait]
impl JobHandler for ChannelDataErasure {
    fn kind(&self) -> &'static str {
        switchboard_store::connections::CHANNEL_DATA_ERASURE_JOB
    }

    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError> {
        let payload: ChannelPayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        // One request per disconnection, even when this job is attempted again.
        let source_ref = format!("channel_disconnect:{}", job.id);
        let now = state.clock.now();
        let mut tx = state.store.begin().await.map_err(retry)?;
        let id = match tx
            .privacy_request_by_ref(&source_ref)
            .await
            .map_err(retry)?
        {
            Some(r) => r.id,
            None => {
                let r = tx
                    .insert_privacy_request(
                        &NewPrivacyRequest {
                            workspace_id: Some(payload.workspace_id),
                            kind: RequestKind::Erase,
                            source: RequestSource::ChannelDisconnect,
                            regime: Regime::Gdpr,
                            subject_kind: SubjectKind::ChannelConnection,
                            subject_id: Some(payload.connection_id.to_string()),
                            subject_key_hash: None,
                            source_ref: Some(source_ref),
                            confirmation_code: None,
                            needs_review: false,
                            plan: serde_json::json!({}),
                            created_by: None,
                        },
                        system_actor(),
                        now,
                    )
                    .await
                    .map_err(retry)?;
                tx.move_request(
                    r.id,
                    Move {
                        to: RequestState::InProgress,
                        reason: None,
                        by: system_actor(),
                    },
                    now,
                )
                .await
                .map_err(retry)?;
                r.id
            }
        };
        tx.commit().await.map_err(retry)?;
        run(state, id).await.map(|_| ())
    }
}
