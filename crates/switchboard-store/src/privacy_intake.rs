//! Privacy requests received by email or by hand: the requester's address and what they gave
//! to be found by (on the request row), the contacts those identifiers match (channel
//! identities, the contact's own email and phone, a website chat), and the verification codes
//! sent to an identity the contact already has (its known email, or one of its conversations).
//!
//! Invariants:
//! - matching only proposes candidates; the subject is set by an operator's explicit choice
//!   (or when exactly one contact matches), never guessed among several;
//! - a code is stored only as SHA-256, expires, and allows [`MAX_ATTEMPTS`] attempts, each
//!   counted in its own committed statement before the code is compared; a new code
//!   supersedes the previous one;
//! - the identifiers given are cleared once the subject is chosen, and the requester's address
//!   once the request is completed or refused (after the notice to it is queued, in the same
//!   transaction).

use crate::jobs::NewJob;
use crate::row::{RowExt, found, ms};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::{
    ConnectionId, ContactId, ConversationId, PrivacyRequestId, Timestamp, UserId, VerificationId,
    WorkspaceId,
};

/// Wrong codes allowed per verification before it is dead.
pub const MAX_ATTEMPTS: i64 = 5;

/// The job that emails the requester (acknowledgement, outcome); the server renders it.
pub const NOTICE_JOB: &str = "privacy_notice";

/// How a verification was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationMethod {
    /// A code sent as a message through one of the contact's conversations.
    Conversation,
    /// A code emailed to the address the contact already had (`contacts.email`) — never to
    /// an address only the requester gave.
    Email,
    /// The operator verified another way and recorded how (audited).
    Attested,
}

impl VerificationMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationMethod::Conversation => "conversation",
            VerificationMethod::Email => "email",
            VerificationMethod::Attested => "attested",
        }
    }
}

/// A verification as stored (never the code).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    pub id: VerificationId,
    pub request_id: PrivacyRequestId,
    pub method: VerificationMethod,
    pub conversation_id: Option<ConversationId>,
    #[serde(skip)]
    pub code_hash: Option<String>,
    pub attempts: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub verified_at: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub superseded_at: Option<Timestamp>,
}

impl Verification {
    /// Whether a code may still be tried at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.verified_at.is_none()
            && self.superseded_at.is_none()
            && now < self.expires_at
            && self.attempts < MAX_ATTEMPTS
    }
}

/// A verification to record.
#[derive(Clone, Debug)]
pub struct NewVerification<'a> {
    pub method: VerificationMethod,
    pub conversation_id: Option<ConversationId>,
    /// SHA-256 of the code (none for an attestation).
    pub code_hash: Option<&'a str>,
    pub expires_at: Timestamp,
    pub created_by: Option<UserId>,
}

const VERIFICATION_COLUMNS: &str = "id, request_id, method, conversation_id, code_hash, \
    attempts, expires_at, created_at, verified_at, superseded_at";

fn verification_from(row: &AnyRow) -> Result<Verification> {
    let method = row.text("method")?;
    Ok(Verification {
        id: row.parsed("id")?,
        request_id: row.parsed("request_id")?,
        method: match method.as_str() {
            "conversation" => VerificationMethod::Conversation,
            "email" => VerificationMethod::Email,
            "attested" => VerificationMethod::Attested,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "verification method `{other}`"
                )));
            }
        },
        conversation_id: row.opt_parsed("conversation_id")?,
        code_hash: row.opt_text("code_hash")?,
        attempts: row.int("attempts")?,
        expires_at: row.time("expires_at")?,
        created_at: row.time("created_at")?,
        verified_at: row.opt_time("verified_at")?,
        superseded_at: row.opt_time("superseded_at")?,
    })
}

/// What a requester gave to be found by, normalised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchQuery {
    /// Digits only, country code included.
    pub phone: Option<String>,
    /// An email address, compared case-insensitively with the contacts' own.
    pub email: Option<String>,
    /// A platform's id for the person, or their username.
    pub channel_user_id: Option<String>,
    /// Widget connections whose allowed domains match what the requester named, and the
    /// window around the approximate time of their chat.
    pub widget: Option<(Vec<ConnectionId>, Timestamp, Timestamp)>,
}

/// A contact the identifiers given match, and by which of them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Candidate {
    pub contact_id: ContactId,
    pub display_name: Option<String>,
    /// `phone`, `email`, `channel_user_id`, `widget_chat`.
    pub matched_by: Vec<&'static str>,
}

impl Store {
    /// The contacts the identifiers match, each once with every identifier that matched it.
    /// Candidates only: the caller never picks one of several.
    pub async fn intake_candidates(
        &self,
        ws: WorkspaceId,
        q: &MatchQuery,
    ) -> Result<Vec<Candidate>> {
        let mut found: Vec<(ContactId, &'static str)> = Vec::new();
        if let Some(phone) = q.phone.as_deref().filter(|p| !p.is_empty()) {
            let rows = sqlx::query(
                "SELECT DISTINCT contact_id FROM contact_identities WHERE workspace_id = $1 \
                 AND (phone = $2 OR phone = $3 OR (kind = 'whatsapp' AND external_id = $2))",
            )
            .bind(ws.to_string())
            .bind(phone)
            .bind(format!("+{phone}"))
            .fetch_all(&self.read)
            .await?;
            for r in &rows {
                found.push((r.parsed("contact_id")?, "phone"));
            }
            // The number an agent recorded on the contact (stored `+` and digits).
            let rows = sqlx::query(
                "SELECT id FROM contacts WHERE workspace_id = $1 AND (phone = $2 OR phone = $3)",
            )
            .bind(ws.to_string())
            .bind(phone)
            .bind(format!("+{phone}"))
            .fetch_all(&self.read)
            .await?;
            for r in &rows {
                found.push((r.parsed("id")?, "phone"));
            }
        }
        if let Some(email) = q.email.as_deref().filter(|e| !e.is_empty()) {
            let rows = sqlx::query(
                "SELECT id FROM contacts WHERE workspace_id = $1 AND LOWER(email) = $2",
            )
            .bind(ws.to_string())
            .bind(email.to_lowercase())
            .fetch_all(&self.read)
            .await?;
            for r in &rows {
                found.push((r.parsed("id")?, "email"));
            }
        }
        if let Some(id) = q.channel_user_id.as_deref().filter(|p| !p.is_empty()) {
            let rows = sqlx::query(
                "SELECT DISTINCT contact_id FROM contact_identities WHERE workspace_id = $1 \
                 AND (external_id = $2 OR LOWER(username) = LOWER($2))",
            )
            .bind(ws.to_string())
            .bind(id)
            .fetch_all(&self.read)
            .await?;
            for r in &rows {
                found.push((r.parsed("contact_id")?, "channel_user_id"));
            }
        }
        if let Some((connections, from, to)) = &q.widget {
            for connection in connections {
                let rows = sqlx::query(
                    "SELECT DISTINCT c.contact_id FROM conversations c \
                     JOIN messages m ON m.conversation_id = c.id \
                     WHERE c.workspace_id = $1 AND c.connection_id = $2 AND m.workspace_id = $1 \
                     AND m.direction = 'inbound' AND m.created_at >= $3 AND m.created_at <= $4",
                )
                .bind(ws.to_string())
                .bind(connection.to_string())
                .bind(ms(*from))
                .bind(ms(*to))
                .fetch_all(&self.read)
                .await?;
                for r in &rows {
                    found.push((r.parsed("contact_id")?, "widget_chat"));
                }
            }
        }
        let mut out: Vec<Candidate> = Vec::new();
        for (contact, how) in found {
            if let Some(c) = out.iter_mut().find(|c| c.contact_id == contact) {
                if !c.matched_by.contains(&how) {
                    c.matched_by.push(how);
                }
                continue;
            }
            let display_name = match self.contact(ws, contact).await {
                Ok(c) => c.display_name,
                Err(StoreError::NotFound) => continue,
                Err(e) => return Err(e),
            };
            out.push(Candidate {
                contact_id: contact,
                display_name,
                matched_by: vec![how],
            });
        }
        // Most identifiers matched first: the operator's likeliest choice at the top.
        out.sort_by_key(|c| std::cmp::Reverse(c.matched_by.len()));
        Ok(out)
    }

    /// The requester's address and the identifiers they gave (while the request keeps them).
    pub async fn request_intake(
        &self,
        ws: WorkspaceId,
        id: PrivacyRequestId,
    ) -> Result<(Option<String>, Option<serde_json::Value>)> {
        let row = sqlx::query(
            "SELECT requester_email, intake_details FROM privacy_requests \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        let details = row
            .opt_text("intake_details")?
            .map(|raw| serde_json::from_str(&raw))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("intake_details: {e}")))?;
        Ok((row.opt_text("requester_email")?, details))
    }

    /// The request's verifications, newest first.
    pub async fn verifications(
        &self,
        ws: WorkspaceId,
        request: PrivacyRequestId,
    ) -> Result<Vec<Verification>> {
        let rows = sqlx::query(&format!(
            "SELECT {VERIFICATION_COLUMNS} FROM privacy_verifications \
             WHERE workspace_id = $1 AND request_id = $2 ORDER BY created_at DESC, id DESC"
        ))
        .bind(ws.to_string())
        .bind(request.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(verification_from).collect()
    }
}

impl Tx {
    /// Records the requester's address and the identifiers they gave on a new request.
    pub async fn set_request_intake(
        &mut self,
        ws: WorkspaceId,
        id: PrivacyRequestId,
        requester_email: &str,
        details: &serde_json::Value,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE privacy_requests SET requester_email = $3, intake_details = $4, updated_at = $5 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(requester_email)
        .bind(details.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        found(done)
    }

    /// Sets the subject an operator chose (or the one contact that matched) and forgets the
    /// identifiers given, which have no more use. Only while no subject is set.
    pub async fn set_request_subject(
        &mut self,
        ws: WorkspaceId,
        id: PrivacyRequestId,
        contact: ContactId,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE privacy_requests SET subject_id = $3, intake_details = NULL, updated_at = $4 \
             WHERE workspace_id = $1 AND id = $2 AND subject_kind = 'contact' AND subject_id IS NULL",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(contact.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::conflict(
                "subject_already_chosen",
                "This request's subject is already chosen.",
            ));
        }
        Ok(())
    }

    /// Queues the acknowledgement to the requester of request `id` (when an address is kept).
    pub async fn queue_acknowledgement(
        &mut self,
        ws: WorkspaceId,
        id: PrivacyRequestId,
        now: Timestamp,
    ) -> Result<bool> {
        self.queue_notice(id, Some(ws), "acknowledgement", false, now)
            .await
    }

    /// Queues the outcome notice of a request reaching a final state and forgets the
    /// requester's address and identifiers; false when none was kept. Called by
    /// `move_request`.
    pub(crate) async fn queue_final_notice(
        &mut self,
        id: PrivacyRequestId,
        ws: Option<WorkspaceId>,
        now: Timestamp,
    ) -> Result<bool> {
        self.queue_notice(id, ws, "outcome", true, now).await
    }

    async fn queue_notice(
        &mut self,
        id: PrivacyRequestId,
        ws: Option<WorkspaceId>,
        notice: &str,
        forget: bool,
        now: Timestamp,
    ) -> Result<bool> {
        let row = sqlx::query("SELECT requester_email FROM privacy_requests WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
        let Some(to) = row.opt_text("requester_email")? else {
            return Ok(false);
        };
        // The address travels in the payload, which the queue empties once the job is done.
        let mut job = NewJob::new(
            NOTICE_JOB,
            serde_json::json!({ "request_id": id, "to": to, "notice": notice }),
            now,
        );
        job.workspace_id = ws;
        job.max_attempts = 12;
        self.enqueue(job, now).await?;
        if forget {
            sqlx::query(
                "UPDATE privacy_requests SET requester_email = NULL, intake_details = NULL \
                 WHERE id = $1",
            )
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        }
        Ok(true)
    }

    /// Records a verification, superseding any earlier one of the request still open.
    pub async fn insert_verification(
        &mut self,
        ws: WorkspaceId,
        request: PrivacyRequestId,
        new: &NewVerification<'_>,
        now: Timestamp,
    ) -> Result<Verification> {
        sqlx::query(
            "UPDATE privacy_verifications SET superseded_at = $3 WHERE workspace_id = $1 \
             AND request_id = $2 AND verified_at IS NULL AND superseded_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(request.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        let id = VerificationId::new();
        sqlx::query(
            "INSERT INTO privacy_verifications (id, workspace_id, request_id, method, \
             conversation_id, code_hash, attempts, expires_at, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(request.to_string())
        .bind(new.method.as_str())
        .bind(new.conversation_id.map(|c| c.to_string()))
        .bind(new.code_hash)
        .bind(ms(new.expires_at))
        .bind(new.created_by.map(|u| u.to_string()))
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        self.verification(ws, id).await
    }

    async fn verification(&mut self, ws: WorkspaceId, id: VerificationId) -> Result<Verification> {
        let row = sqlx::query(&format!(
            "SELECT {VERIFICATION_COLUMNS} FROM privacy_verifications WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        verification_from(&row)
    }

    /// The request's current verification (the newest not superseded), if any.
    pub async fn current_verification(
        &mut self,
        ws: WorkspaceId,
        request: PrivacyRequestId,
    ) -> Result<Option<Verification>> {
        let row = sqlx::query(&format!(
            "SELECT {VERIFICATION_COLUMNS} FROM privacy_verifications WHERE workspace_id = $1 \
             AND request_id = $2 AND superseded_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(ws.to_string())
        .bind(request.to_string())
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(verification_from).transpose()
    }

    /// Counts one attempt at verification `id`; false when no attempt is left (nothing
    /// changes then). The count is written before the code is compared.
    pub async fn count_attempt(&mut self, ws: WorkspaceId, id: VerificationId) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE privacy_verifications SET attempts = attempts + 1 WHERE workspace_id = $1 \
             AND id = $2 AND attempts < $3 AND verified_at IS NULL AND superseded_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(MAX_ATTEMPTS)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks verification `id` as passed.
    pub async fn mark_verified(
        &mut self,
        ws: WorkspaceId,
        id: VerificationId,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE privacy_verifications SET verified_at = $3 WHERE workspace_id = $1 AND id = $2 \
             AND verified_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        found(done)
    }
}
