//! Sending email as a job, so a message is committed with the change that caused it (an
//! invitation, a reset link) and retried when the mail server is down.

use super::{JobError, JobHandler};
use crate::state::AppState;
use switchboard_core::{Timestamp, WorkspaceId};
use switchboard_mail::{Email, MailError};
use switchboard_store::jobs::{Job, NewJob};
use switchboard_store::{Result, Tx};

pub const KIND: &str = "send_email";

/// Queues `email` in the caller's transaction (mail of no workspace: sign-up, resets).
pub async fn enqueue(tx: &mut Tx, email: &Email, now: Timestamp) -> Result<()> {
    enqueue_for(tx, None, email, now).await
}

/// Queues `email` on behalf of a workspace (an invitation): its admins then see the job if
/// it fails for good, and deleting the workspace deletes it.
pub async fn enqueue_in_workspace(
    tx: &mut Tx,
    ws: WorkspaceId,
    email: &Email,
    now: Timestamp,
) -> Result<()> {
    enqueue_for(tx, Some(ws), email, now).await
}

async fn enqueue_for(
    tx: &mut Tx,
    ws: Option<WorkspaceId>,
    email: &Email,
    now: Timestamp,
) -> Result<()> {
    let payload = serde_json::to_value(email).unwrap_or_default();
    let mut job = NewJob::new(KIND, payload, now);
    job.workspace_id = ws;
    // Twelve attempts ride out a mail server that is down for a few hours.
    job.max_attempts = 12;
    tx.enqueue(job, now).await?;
    Ok(())
}

pub struct SendEmail;

#[async_trait::async_trait]
impl JobHandler for SendEmail {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError> {
        let email: Email = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("malformed email payload: {e}")))?;
        match state.mailer.send(&email).await {
            Ok(()) => Ok(()),
            Err(e @ MailError::BadAddress) => Err(JobError::Permanent(e.to_string())),
            Err(e) if e.is_permanent() => Err(JobError::Permanent(e.to_string())),
            Err(e) => Err(JobError::retry(e)),
        }
    }
}
