//! `privacy_notice`: the emails to someone who asked about their data by email — the
//! acknowledgement when the request is recorded, the outcome when it is completed or
//! refused. Queued by the store in the transaction that records or finishes the request
//! (`Tx::queue_acknowledgement`, `move_request`), with the address in the payload (the queue
//! empties it once sent) because the request forgets it when it ends.
//!
//! Invariant: a notice names the request by its public reference and dates, never the
//! subject's identifiers, so the mail never holds what an erasure removed and the residue
//! scan of the outbox stays clean.

use crate::jobs::{JobError, JobHandler};
use crate::state::AppState;
use switchboard_core::PrivacyRequestId;
use switchboard_core::privacy::{RequestKind, RequestState};
use switchboard_mail::{Email, MailError};
use switchboard_store::StoreError;
use switchboard_store::jobs::Job;
use switchboard_store::privacy_requests::PrivacyRequest;

pub use switchboard_store::privacy_intake::NOTICE_JOB as KIND;

#[derive(serde::Deserialize)]
struct Payload {
    request_id: PrivacyRequestId,
    to: String,
    notice: String,
}

fn asked_for(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Erase => "to erase your personal data",
        RequestKind::Export => "for a copy of your personal data",
        RequestKind::Restrict => "to restrict the processing of your personal data",
        RequestKind::LiftRestriction => "to lift the restriction on your personal data",
        RequestKind::Object => "to stop direct marketing to you",
        RequestKind::Rectify => "to correct your personal data",
    }
}

fn reference(r: &PrivacyRequest) -> String {
    r.confirmation_code
        .clone()
        .unwrap_or_else(|| r.id.to_string())
}

/// The email of `notice` about request `r` of `business`.
pub fn render(
    state: &AppState,
    r: &PrivacyRequest,
    business: &str,
    reply_to: Option<&str>,
    notice: &str,
    to: &str,
) -> Email {
    let status = r
        .confirmation_code
        .as_deref()
        .map(|c| {
            format!(
                "\nYou can follow it at {}/privacy/deletion-status/{c}\n",
                state.config.public_url
            )
        })
        .unwrap_or_default();
    let write_to = reply_to.map_or_else(
        || "by replying to the address you wrote to".to_owned(),
        |a| format!("by writing to {a}"),
    );
    let (subject, text) = if notice == "acknowledgement" {
        (
            format!("{business}: we received your privacy request"),
            format!(
                "We received your request {} on {} (reference {}).\n\n\
                 Before we act on it we make sure it comes from you: we are sending a \
                 verification code to an email address or through a channel {business} \
                 already knows for you. Please send that code back to us {write_to}.\n\n\
                 We will answer by {} at the latest; the days we wait for your code are added \
                 to that date.\n{status}",
                asked_for(r.kind),
                r.received_at.date(),
                reference(r),
                r.deadlines.respond_by,
            ),
        )
    } else if r.state == RequestState::Refused {
        (
            format!("{business}: your privacy request was refused"),
            format!(
                "Your request {} (reference {}) was refused on {}.\n\nThe reason: {}\n\n\
                 You may complain to your data protection authority.\n{status}",
                asked_for(r.kind),
                reference(r),
                r.refused_at
                    .map(|t| t.date().to_string())
                    .unwrap_or_default(),
                r.state_reason.as_deref().unwrap_or("none was given"),
            ),
        )
    } else {
        (
            format!("{business}: your privacy request is complete"),
            format!(
                "Your request {} (reference {}) was completed on {}.\n\nIf you have \
                 questions, write to us {write_to}.\n{status}",
                asked_for(r.kind),
                reference(r),
                r.completed_at
                    .map(|t| t.date().to_string())
                    .unwrap_or_default(),
            ),
        )
    };
    Email {
        to: to.to_owned(),
        subject,
        text,
    }
}

pub struct PrivacyNotice;

#[async_trait::async_trait]
impl JobHandler for PrivacyNotice {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError> {
        let p: Payload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let request = match state.store.privacy_request_any(p.request_id).await {
            Ok(r) => r,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(JobError::retry(e)),
        };
        let (business, reply_to) = match request.workspace_id {
            Some(ws) => (
                state
                    .store
                    .workspace(ws)
                    .await
                    .map(|w| w.name)
                    .unwrap_or_else(|_| "Switchboard".to_owned()),
                state
                    .store
                    .privacy_settings(ws)
                    .await
                    .ok()
                    .and_then(|s| s.contact_email),
            ),
            None => ("Switchboard".to_owned(), None),
        };
        let email = render(
            state,
            &request,
            &business,
            reply_to.as_deref(),
            &p.notice,
            &p.to,
        );
        match state.mailer.send(&email).await {
            Ok(()) => Ok(()),
            Err(e @ MailError::BadAddress) => Err(JobError::Permanent(e.to_string())),
            Err(e) if e.is_permanent() => Err(JobError::Permanent(e.to_string())),
            Err(e) => Err(JobError::retry(e)),
        }
    }
}
