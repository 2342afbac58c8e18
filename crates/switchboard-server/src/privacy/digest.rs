//! `privacy_digest`: once a day, each workspace's owners and admins get an email listing its
//! overdue and near-due privacy requests (due within `NEAR_DUE_DAYS`). Run hourly by the
//! `privacy_digest` schedule; the day is the UTC date (workspaces have no time zone yet).
//!
//! Invariants:
//! - at most one digest per workspace and day, whatever the number of processes or runs: the
//!   emails are queued in the transaction that inserts the `(workspace, day)` mark, which only
//!   one transaction can insert;
//! - nothing is sent to a workspace with nothing due, and only to that workspace's owners and
//!   admins;
//! - the digest names requests by id, kind, state and date — no subject's identifiers.

use crate::jobs::{JobError, JobHandler};
use crate::state::AppState;
use switchboard_core::Role;
use switchboard_core::privacy::calendar::{NEAR_DUE_DAYS, Urgency};
use switchboard_mail::Email;
use switchboard_store::jobs::Job;
use switchboard_store::privacy_requests::PrivacyRequest;
use time::Duration;

pub const KIND: &str = "privacy_digest";

fn line(r: &PrivacyRequest, today: time::Date) -> String {
    let urgency = match r.urgency(today) {
        Urgency::Overdue => "OVERDUE",
        Urgency::NearDue => "due soon",
        Urgency::OnTime => "on time",
    };
    format!(
        "- {} {} request {} ({}), received {}, due {} — {urgency}",
        r.regime.as_str().to_uppercase(),
        r.kind,
        r.id,
        r.state,
        r.received_at.date(),
        r.deadlines.respond_by,
    )
}

/// Sends today's digests; returns how many workspaces got one in this run.
pub async fn run(state: &AppState) -> Result<usize, JobError> {
    let now = state.clock.now();
    let today = now.date();
    let by = today + Duration::days(NEAR_DUE_DAYS);
    let mut sent = 0;
    for ws in state
        .store
        .workspaces_with_due_requests(by)
        .await
        .map_err(JobError::retry)?
    {
        let due = state
            .store
            .due_requests(ws, by)
            .await
            .map_err(JobError::retry)?;
        if due.is_empty() {
            continue;
        }
        let workspace = state.store.workspace(ws).await.map_err(JobError::retry)?;
        let admins: Vec<String> = state
            .store
            .members(ws)
            .await
            .map_err(JobError::retry)?
            .into_iter()
            .filter(|m| matches!(m.role, Role::Owner | Role::Admin))
            .map(|m| m.email)
            .collect();
        let overdue = due
            .iter()
            .filter(|r| r.urgency(today) == Urgency::Overdue)
            .count();
        let subject = format!(
            "{}: {} privacy request{} due ({} overdue)",
            workspace.name,
            due.len(),
            if due.len() == 1 { "" } else { "s" },
            overdue
        );
        let text = format!(
            "Privacy requests of {} that are overdue or due within {NEAR_DUE_DAYS} days, as of {today}:\n\n{}\n\n\
             Open them in Settings > Privacy: {}/settings/privacy\n",
            workspace.name,
            due.iter()
                .map(|r| line(r, today))
                .collect::<Vec<_>>()
                .join("\n"),
            state.config.public_url,
        );
        let mut tx = state.store.begin().await.map_err(JobError::retry)?;
        let count = i64::try_from(due.len()).unwrap_or(i64::MAX);
        if !tx
            .mark_digest_sent(ws, today, count, now)
            .await
            .map_err(JobError::retry)?
        {
            continue;
        }
        for to in &admins {
            let email = Email {
                to: to.clone(),
                subject: subject.clone(),
                text: text.clone(),
            };
            crate::jobs::email::enqueue_in_workspace(&mut tx, ws, &email, now)
                .await
                .map_err(JobError::retry)?;
        }
        tx.commit().await.map_err(JobError::retry)?;
        sent += 1;
    }
    Ok(sent)
}

pub struct PrivacyDigest;

#[async_trait::async_trait]
impl JobHandler for PrivacyDigest {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, state: &AppState, _job: &Job) -> Result<(), JobError> {
        run(state).await.map(|_| ())
    }
}
