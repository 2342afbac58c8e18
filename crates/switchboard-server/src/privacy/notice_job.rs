//! `privacy_completion_notice`: the confirmation that a self-service deletion (an account, or a
//! whole workspace) is complete, sent to an address captured before the erasure. The store
//! queues it in the transaction that completes the request (`deletion_notice`), so it is sent
//! if and only if the erasure finished and its residue scan was clean.

use crate::jobs::{JobError, JobHandler};
use crate::state::AppState;
use switchboard_mail::{Email, MailError};
use switchboard_store::deletion_notice::NOTICE_JOB;
use switchboard_store::jobs::Job;

#[derive(serde::Deserialize)]
struct Payload {
    request_id: String,
    code: Option<String>,
    to: String,
    about: String,
    name: Option<String>,
}

fn email(state: &AppState, p: &Payload) -> Email {
    let status = match &p.code {
        Some(code) => format!("{}/privacy/deletion-status/{code}", state.config.public_url),
        None => format!("request {}", p.request_id),
    };
    let (subject, what) = match (p.about.as_str(), &p.name) {
        ("workspace", Some(name)) => (
            format!("Your workspace \"{name}\" has been deleted"),
            format!("The workspace \"{name}\" and everything stored in it"),
        ),
        ("workspace", None) => (
            "Your workspace has been deleted".to_owned(),
            "The workspace and everything stored in it".to_owned(),
        ),
        _ => (
            "Your Switchboard account has been deleted".to_owned(),
            "Your Switchboard account and the data about you".to_owned(),
        ),
    };
    Email {
        to: p.to.clone(),
        subject,
        text: format!(
            "{what} have been erased, as you asked.\n\n\
             Records the law requires us to keep (the audit trail, with your name and address \
             removed) and anything under a legal hold are kept; the receipt of request {id} says \
             what and why, and a scan found none of your identifiers left.\n\n\
             This address was kept only to send you this message and is not stored any more.\n\
             Status: {status}\n",
            id = p.request_id,
        ),
    }
}

pub struct CompletionNotice;

#[async_trait::async_trait]
impl JobHandler for CompletionNotice {
    fn kind(&self) -> &'static str {
        NOTICE_JOB
    }

    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError> {
        let payload: Payload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        match state.mailer.send(&email(state, &payload)).await {
            Ok(()) => Ok(()),
            Err(e @ MailError::BadAddress) => Err(JobError::Permanent(e.to_string())),
            Err(e) if e.is_permanent() => Err(JobError::Permanent(e.to_string())),
            Err(e) => Err(JobError::retry(e)),
        }
    }
}
