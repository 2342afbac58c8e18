//! Website chat widget visitors (migration `0005_widget`): an anonymous browser that opened a
//! widget's chat, known by a random token whose SHA-256 alone is stored, and the visitor's
//! own erasure of their conversation.
//!
//! Invariants:
//! - a visitor belongs to one widget connection of one workspace; every lookup names both, so
//!   a token of one widget (or workspace) is unknown to every other;
//! - a visitor's id is the external id of their contact identity on the widget, so their
//!   messages are ingested through the same contact-by-identity path as every platform's;
//! - [`Tx::erase_widget_visitor`] deletes the visitor's messages, conversations, opt-ins and
//!   identity on that widget (and the contact when it has no other identity), and the visitor
//!   row itself, so the token stops working in the same transaction;
//! - the email a visitor gives before the chat ([`Tx::give_widget_visitor_email`]) fills the
//!   contact's email only while it has none: an address an agent recorded is never replaced.

use crate::row::{RowExt, ms};
use crate::webhooks::WebhookEventType;
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::{
    ConnectionId, ContactId, EmailAddress, Timestamp, WidgetVisitorId, WorkspaceId,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidgetVisitor {
    pub id: WidgetVisitorId,
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    /// Set once the visitor first wrote (their contact was created by that message).
    pub contact_id: Option<ContactId>,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

/// What a visitor's erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WidgetErasure {
    pub messages: u64,
    pub conversations: u64,
    /// The contact itself was deleted (it was known on no other channel).
    pub contact_deleted: bool,
}

const COLUMNS: &str = "id, workspace_id, connection_id, contact_id, created_at, last_seen_at";

fn visitor_from(row: &AnyRow) -> Result<WidgetVisitor> {
    Ok(WidgetVisitor {
        id: row.parsed("id")?,
        workspace_id: row.parsed("workspace_id")?,
        connection_id: row.parsed("connection_id")?,
        contact_id: row.opt_parsed("contact_id")?,
        created_at: row.time("created_at")?,
        last_seen_at: row.time("last_seen_at")?,
    })
}

impl Tx {
    /// A new visitor of the widget `connection`, proved later by the token hashed to
    /// `token_hash`.
    pub async fn insert_widget_visitor(
        &mut self,
        ws: WorkspaceId,
        connection: ConnectionId,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<WidgetVisitor> {
        let id = WidgetVisitorId::new();
        sqlx::query(
            "INSERT INTO widget_visitors (id, workspace_id, connection_id, token_hash, \
             created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(token_hash)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(WidgetVisitor {
            id,
            workspace_id: ws,
            connection_id: connection,
            contact_id: None,
            created_at: now,
            last_seen_at: now,
        })
    }

    /// Records the contact the visitor's first message created (once).
    pub async fn link_widget_visitor(
        &mut self,
        ws: WorkspaceId,
        visitor: WidgetVisitorId,
        contact: ContactId,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE widget_visitors SET contact_id = COALESCE(contact_id, $3), last_seen_at = $4 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(visitor.to_string())
        .bind(contact.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The email the visitor gave before the chat, stored as their contact's email in the
    /// transaction that stores their message, but only when the contact has none (an agent's
    /// address is kept: `false` says it was). A contact that existed before this message
    /// (`created` false) gets a `contact.updated` webhook when it changed.
    pub async fn give_widget_visitor_email(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        email: &EmailAddress,
        created: bool,
        now: Timestamp,
    ) -> Result<bool> {
        let saved = sqlx::query(
            "UPDATE contacts SET email = $3, updated_at = $4 \
             WHERE workspace_id = $1 AND id = $2 AND email IS NULL",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .bind(email.as_str())
        .bind(ms(now))
        .execute(self.conn())
        .await?
        .rows_affected()
            == 1;
        if saved && !created {
            self.record_webhook(ws, WebhookEventType::ContactUpdated, contact, now);
        }
        Ok(saved)
    }

    /// The visitor's "Delete this conversation": everything they and the business wrote on
    /// this widget, their conversations, opt-ins and identity on it, the contact when it is
    /// known nowhere else, and the visitor (so the token stops working). `NotFound` when the
    /// visitor is unknown.
    pub async fn erase_widget_visitor(
        &mut self,
        ws: WorkspaceId,
        visitor: WidgetVisitorId,
        now: Timestamp,
    ) -> Result<WidgetErasure> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM widget_visitors WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(visitor.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        let visitor = visitor_from(&row)?;
        let connection = visitor.connection_id.to_string();
        // The contact by its identity, even if the link was never recorded.
        let contact: Option<String> = sqlx::query_scalar(
            "SELECT contact_id FROM contact_identities \
             WHERE workspace_id = $1 AND connection_id = $2 AND external_id = $3",
        )
        .bind(ws.to_string())
        .bind(&connection)
        .bind(visitor.id.to_string())
        .fetch_optional(self.conn())
        .await?;
        let mut erased = WidgetErasure::default();
        if let Some(contact) = contact {
            // Attachments go with their messages (foreign key cascade).
            erased.messages = sqlx::query(
                "DELETE FROM messages WHERE workspace_id = $1 AND connection_id = $2 \
                 AND contact_id = $3",
            )
            .bind(ws.to_string())
            .bind(&connection)
            .bind(&contact)
            .execute(self.conn())
            .await?
            .rows_affected();
            erased.conversations = sqlx::query(
                "DELETE FROM conversations WHERE workspace_id = $1 AND connection_id = $2 \
                 AND contact_id = $3",
            )
            .bind(ws.to_string())
            .bind(&connection)
            .bind(&contact)
            .execute(self.conn())
            .await?
            .rows_affected();
            for sql in [
                "DELETE FROM consent_records WHERE workspace_id = $1 AND connection_id = $2 \
                 AND contact_id = $3",
                "DELETE FROM contact_identities WHERE workspace_id = $1 AND connection_id = $2 \
                 AND contact_id = $3",
            ] {
                sqlx::query(sql)
                    .bind(ws.to_string())
                    .bind(&connection)
                    .bind(&contact)
                    .execute(self.conn())
                    .await?;
            }
            erased.contact_deleted = sqlx::query(
                "DELETE FROM contacts WHERE workspace_id = $1 AND id = $2 \
                 AND NOT EXISTS (SELECT 1 FROM contact_identities i WHERE i.contact_id = $2)",
            )
            .bind(ws.to_string())
            .bind(&contact)
            .execute(self.conn())
            .await?
            .rows_affected()
                == 1;
            if erased.contact_deleted {
                self.record_webhook(ws, WebhookEventType::ContactDeleted, &contact, now);
            }
        }
        sqlx::query("DELETE FROM widget_visitors WHERE workspace_id = $1 AND id = $2")
            .bind(ws.to_string())
            .bind(visitor.id.to_string())
            .execute(self.conn())
            .await?;
        Ok(erased)
    }
}

impl Store {
    /// The visitor of widget `connection` whose token hashes to `token_hash`.
    pub async fn widget_visitor_by_token(
        &self,
        ws: WorkspaceId,
        connection: ConnectionId,
        token_hash: &str,
    ) -> Result<Option<WidgetVisitor>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM widget_visitors \
             WHERE workspace_id = $1 AND connection_id = $2 AND token_hash = $3"
        ))
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(visitor_from).transpose()
    }

    /// How many visitors a widget has (tests and metrics).
    pub async fn widget_visitor_count(
        &self,
        ws: WorkspaceId,
        connection: ConnectionId,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM widget_visitors WHERE workspace_id = $1 AND connection_id = $2",
        )
        .bind(ws.to_string())
        .bind(connection.to_string())
        .fetch_one(&self.read)
        .await?)
    }
}
