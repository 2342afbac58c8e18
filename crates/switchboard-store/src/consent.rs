//! The opt-in ledger: a contact's consent to business-initiated messages on a connection
//! (WhatsApp requires it for templates sent outside the customer-service window), with its
//! source, time and proof.
//!
//! Invariant: at most one live (not withdrawn) record per contact, connection and kind; a
//! withdrawal is recorded, never deleted, so the ledger shows when consent held.

use crate::row::{RowExt, known, ms, text_enum};
use crate::{Result, Store, Tx};
use sqlx::any::AnyRow;
use switchboard_core::{ConnectionId, ConsentRecordId, ContactId, Timestamp, UserId, WorkspaceId};

text_enum! {
    /// What a contact agreed to receive; WhatsApp's template categories.
    pub enum ConsentKind {
        WhatsappMarketing = "whatsapp_marketing",
        WhatsappUtility = "whatsapp_utility",
        WhatsappAuthentication = "whatsapp_authentication",
    }
}

impl ConsentKind {
    /// The consent a WhatsApp template of `category` (`MARKETING`, `UTILITY`,
    /// `AUTHENTICATION`, as the platform names them) needs.
    pub fn for_template_category(category: &str) -> Option<Self> {
        match category.to_ascii_uppercase().as_str() {
            "MARKETING" => Some(ConsentKind::WhatsappMarketing),
            "UTILITY" => Some(ConsentKind::WhatsappUtility),
            "AUTHENTICATION" => Some(ConsentKind::WhatsappAuthentication),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewOptIn<'a> {
    pub contact: ContactId,
    pub connection: ConnectionId,
    pub kind: ConsentKind,
    /// Where consent was given: `website_form`, `chat_keyword`, `agent`, `import`, ...
    pub source: &'a str,
    /// What shows it: the form's text and URL, the message id, a note.
    pub proof: Option<&'a str>,
    pub granted_at: Timestamp,
    /// The member who recorded it; `None` when the customer gave it directly.
    pub recorded_by: Option<UserId>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsentRecord {
    pub id: ConsentRecordId,
    pub contact_id: ContactId,
    pub connection_id: ConnectionId,
    pub kind: ConsentKind,
    pub source: String,
    pub proof: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub withdrawn_at: Option<Timestamp>,
    pub recorded_by: Option<UserId>,
}

fn record_from(row: &AnyRow) -> Result<ConsentRecord> {
    Ok(ConsentRecord {
        id: row.parsed("id")?,
        contact_id: row.parsed("contact_id")?,
        connection_id: row.parsed("connection_id")?,
        kind: known(row, "kind", ConsentKind::parse)?,
        source: row.text("source")?,
        proof: row.opt_text("proof")?,
        granted_at: row.time("granted_at")?,
        withdrawn_at: row.opt_time("withdrawn_at")?,
        recorded_by: row.opt_parsed("recorded_by")?,
    })
}

impl Tx {
    /// Records consent. If consent of this kind already holds, the existing record stands and
    /// its id is returned. The contact and connection must belong to `ws` (else `NotFound`).
    pub async fn record_opt_in(
        &mut self,
        ws: WorkspaceId,
        new: &NewOptIn<'_>,
        now: Timestamp,
    ) -> Result<ConsentRecordId> {
        let id = ConsentRecordId::new();
        // Inserting through a SELECT of the contact's identity on the connection checks both
        // belong to the workspace (and to each other).
        let done = sqlx::query(
            "INSERT INTO consent_records (id, workspace_id, contact_id, connection_id, kind, source, \
             proof, granted_at, recorded_by, created_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM contact_identities \
             WHERE workspace_id = $2 AND contact_id = $3 AND connection_id = $4 \
             ON CONFLICT (contact_id, connection_id, kind) WHERE withdrawn_at IS NULL DO NOTHING",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(new.contact.to_string())
        .bind(new.connection.to_string())
        .bind(new.kind.as_str())
        .bind(new.source)
        .bind(new.proof)
        .bind(ms(new.granted_at))
        .bind(new.recorded_by.map(|u| u.to_string()))
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 1 {
            return Ok(id);
        }
        let row = sqlx::query(
            "SELECT id FROM consent_records WHERE workspace_id = $1 AND contact_id = $2 \
             AND connection_id = $3 AND kind = $4 AND withdrawn_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(new.contact.to_string())
        .bind(new.connection.to_string())
        .bind(new.kind.as_str())
        .fetch_optional(self.conn())
        .await?
        .ok_or(crate::StoreError::NotFound)?;
        row.parsed("id")
    }

    /// Records that consent was withdrawn at `at`. Returns whether any held.
    pub async fn withdraw_opt_in(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        connection: ConnectionId,
        kind: ConsentKind,
        at: Timestamp,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE consent_records SET withdrawn_at = $5 WHERE workspace_id = $1 \
             AND contact_id = $2 AND connection_id = $3 AND kind = $4 AND withdrawn_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .bind(connection.to_string())
        .bind(kind.as_str())
        .bind(ms(at))
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

impl Store {
    /// Whether the contact's consent of `kind` on `connection` holds now.
    pub async fn has_opt_in(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        connection: ConnectionId,
        kind: ConsentKind,
    ) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM consent_records WHERE workspace_id = $1 AND contact_id = $2 \
             AND connection_id = $3 AND kind = $4 AND withdrawn_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .bind(connection.to_string())
        .bind(kind.as_str())
        .fetch_one(&self.read)
        .await?;
        Ok(n > 0)
    }

    /// The contact's whole ledger, oldest first, withdrawn records included.
    pub async fn consent_records(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> Result<Vec<ConsentRecord>> {
        let rows = sqlx::query(
            "SELECT id, contact_id, connection_id, kind, source, proof, granted_at, withdrawn_at, \
             recorded_by FROM consent_records WHERE workspace_id = $1 AND contact_id = $2 \
             ORDER BY granted_at, id",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(record_from).collect()
    }
}
