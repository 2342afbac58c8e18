//! The confirmation a self-service deletion sends when it is complete: whom to tell (the
//! address the account had, or the workspace's owners') is captured when the request is made,
//! before anything is erased, and kept only sealed in the request (`privacy_requests.notify`).
//! The transaction that completes the request queues one `privacy_completion_notice` job per
//! address and clears the column, so the addresses then live only in those jobs' payloads
//! (emptied once sent).
//!
//! Invariant: no notice is queued before the request completes (the residue scan is clean),
//! and none survives it in the request.

use crate::jobs::NewJob;
use crate::row::{RowExt, ms};
use crate::{Result, Store, StoreError, Tx};
use switchboard_core::{PrivacyRequestId, Timestamp};
use switchboard_keys::{MasterKey, SealContext, Sealer};

/// The job that sends one confirmation (handled by the server, which owns the mail).
pub const NOTICE_JOB: &str = "privacy_completion_notice";

/// Whom to tell, and about what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Notice {
    /// The addresses, as they were when the request was made.
    pub to: Vec<String>,
    /// `account` or `workspace`.
    pub about: String,
    /// The workspace's name (a workspace deletion), to say which one in the email.
    pub name: Option<String>,
}

fn context(id: &str) -> SealContext<'_> {
    SealContext {
        table: "privacy_requests",
        column: "notify",
        row: id,
    }
}

impl Tx {
    /// Stores `notice` sealed in request `id` (in the transaction that records the request).
    pub async fn set_request_notice(
        &mut self,
        id: PrivacyRequestId,
        notice: &Notice,
        master: &MasterKey,
        now: Timestamp,
    ) -> Result<()> {
        let plain =
            serde_json::to_vec(notice).map_err(|e| StoreError::Corrupt(format!("notice: {e}")))?;
        let key = id.to_string();
        let sealed = Sealer::platform(master).seal(&plain, context(&key))?;
        sqlx::query("UPDATE privacy_requests SET notify = $2, updated_at = $3 WHERE id = $1")
            .bind(key)
            .bind(sealed)
            .bind(ms(now))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Forgets request `id`'s notice without sending it (a cancelled deletion).
    pub async fn clear_request_notice(&mut self, id: PrivacyRequestId) -> Result<()> {
        sqlx::query("UPDATE privacy_requests SET notify = NULL WHERE id = $1")
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// In the transaction that completes request `id`: queues one confirmation per address of
    /// `notice` and clears the sealed copy. Returns how many were queued.
    pub async fn queue_completion_notice(
        &mut self,
        id: PrivacyRequestId,
        code: Option<&str>,
        notice: &Notice,
        now: Timestamp,
    ) -> Result<usize> {
        for to in &notice.to {
            let mut job = NewJob::new(
                NOTICE_JOB,
                serde_json::json!({
                    "request_id": id,
                    "code": code,
                    "to": to,
                    "about": notice.about,
                    "name": notice.name,
                }),
                now,
            );
            // Twelve attempts ride out a mail server that is down for a few hours; no
            // workspace, so the job outlives the workspace it is about.
            job.max_attempts = 12;
            self.enqueue(job, now).await?;
        }
        self.clear_request_notice(id).await?;
        Ok(notice.to.len())
    }
}

impl Store {
    /// Request `id`'s notice, opened; `None` when it has none (or it was sent).
    pub async fn request_notice(
        &self,
        id: PrivacyRequestId,
        master: &MasterKey,
    ) -> Result<Option<Notice>> {
        let key = id.to_string();
        let sealed = sqlx::query("SELECT notify FROM privacy_requests WHERE id = $1")
            .bind(&key)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?
            .opt_bytes("notify")?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let plain = Sealer::platform(master).open(&sealed, context(&key))?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("request notice: {e}")))
    }
}
