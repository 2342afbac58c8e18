//! Sending email as a job, so a message is committed with the change that caused it (an
//! invitation, a reset link) and retried when the mail server is down.

use super::{JobError, JobHandler};
use crate::state::AppState;
use switchboard_core::Timestamp;
use switchboard_mail::{Email, MailError};
use switchboard_store::jobs::{Job, NewJob};
use switchboard_store::{Result, Tx};

pub const KIND: &str = "send_email";

/// Queues `email` in the caller's transaction.
pub async fn enqueue(tx: &mut Tx, email: &Email, now: Timestamp) -> Result<()> {
    let payload = serde_json::to_value(email).unwrap_or_default();
    tx.enqueue(NewJob::new(KIND, payload, now), now).await?;
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
            Err(MailError::BadAddress) => Err(JobError::Permanent("bad recipient address".into())),
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }
}
