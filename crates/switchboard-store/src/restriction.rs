//! Restriction of processing and objection to direct marketing, per contact (GDPR articles
//! 18 and 21). A restricted contact's data stays stored, but nothing is sent to them; an
//! objection stops marketing to them for good.
//!
//! Invariant: the send path reads these columns at the moment it sends (the reply route and
//! the `send_message` job), so a restriction placed after a message was queued still stops
//! it.

use crate::row::{RowExt, ms};
use crate::webhooks::WebhookEventType;
use crate::{Result, Store, StoreError, Tx};
use switchboard_core::{ContactId, ConversationId, Timestamp, WorkspaceId};

/// What holds for a contact's processing.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ContactPrivacy {
    #[serde(with = "time::serde::rfc3339::option")]
    pub restricted_at: Option<Timestamp>,
    pub restriction_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub marketing_objection_at: Option<Timestamp>,
}

impl ContactPrivacy {
    pub fn is_restricted(&self) -> bool {
        self.restricted_at.is_some()
    }

    pub fn objects_to_marketing(&self) -> bool {
        self.marketing_objection_at.is_some()
    }
}

const SELECT: &str = "SELECT restricted_at, restriction_reason, marketing_objection_at \
     FROM contacts WHERE workspace_id = $1 AND id = $2";

fn privacy_from(row: &sqlx::any::AnyRow) -> Result<ContactPrivacy> {
    Ok(ContactPrivacy {
        restricted_at: row.opt_time("restricted_at")?,
        restriction_reason: row.opt_text("restriction_reason")?,
        marketing_objection_at: row.opt_time("marketing_objection_at")?,
    })
}

impl Store {
    /// The contact's restriction and objection.
    pub async fn contact_privacy(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> Result<ContactPrivacy> {
        let row = sqlx::query(SELECT)
            .bind(ws.to_string())
            .bind(contact.to_string())
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        privacy_from(&row)
    }
}

impl Store {
    /// The contact's conversations, the one the contact wrote in last first (where a notice
    /// to them is most likely inside a reply window).
    pub async fn contact_conversation_ids(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> Result<Vec<ConversationId>> {
        let rows = sqlx::query(
            "SELECT id FROM conversations WHERE workspace_id = $1 AND contact_id = $2 \
             ORDER BY COALESCE(last_inbound_at, 0) DESC, id DESC",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| r.parsed("id")).collect()
    }
}

impl Tx {
    /// The contact's restriction and objection, read inside this transaction.
    pub async fn contact_privacy(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> Result<ContactPrivacy> {
        let row = sqlx::query(SELECT)
            .bind(ws.to_string())
            .bind(contact.to_string())
            .fetch_optional(self.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
        privacy_from(&row)
    }

    /// Restricts processing of the contact's data; `false` when it already was (the first
    /// restriction's time and reason stay).
    pub async fn restrict_contact(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE contacts SET restricted_at = $3, restriction_reason = $4, updated_at = $3 \
             WHERE workspace_id = $1 AND id = $2 AND restricted_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .bind(ms(now))
        .bind(reason)
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 1 {
            self.record_webhook(ws, WebhookEventType::ContactUpdated, contact, now);
            return Ok(true);
        }
        // Unknown contact, or already restricted.
        self.contact_privacy(ws, contact).await.map(|_| false)
    }

    /// Lifts the contact's restriction; `false` when there was none.
    pub async fn lift_restriction(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        now: Timestamp,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE contacts SET restricted_at = NULL, restriction_reason = NULL, updated_at = $3 \
             WHERE workspace_id = $1 AND id = $2 AND restricted_at IS NOT NULL",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 1 {
            self.record_webhook(ws, WebhookEventType::ContactUpdated, contact, now);
            return Ok(true);
        }
        self.contact_privacy(ws, contact).await.map(|_| false)
    }

    /// Records the contact's objection to direct marketing; `false` when it was on record.
    /// An objection is not withdrawn by the business: only a new consent from the contact
    /// (recorded by the opt-in ledger) is a reason to market again, and that is theirs to give.
    pub async fn record_marketing_objection(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        now: Timestamp,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE contacts SET marketing_objection_at = $3, updated_at = $3 \
             WHERE workspace_id = $1 AND id = $2 AND marketing_objection_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 1 {
            self.record_webhook(ws, WebhookEventType::ContactUpdated, contact, now);
            return Ok(true);
        }
        self.contact_privacy(ws, contact).await.map(|_| false)
    }
}
