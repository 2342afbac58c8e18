//! Contacts (a workspace's end-customers) and their identities: how each is known on each
//! connection (wa_id, PSID, IGSID, TikTok id, Telegram id, widget visitor).
//!
//! Invariant: an identity is unique per connection and platform id, so one person writing
//! twice on one channel is one contact; it is found or created inside the ingesting
//! transaction.

use crate::row::{RowExt, ms};
use crate::webhooks::WebhookEventType;
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::channel::{ChannelKind, ExternalContact};
use switchboard_core::{ConnectionId, ContactId, ContactIdentityId, Timestamp, WorkspaceId};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContactIdentity {
    pub id: ContactIdentityId,
    pub connection_id: ConnectionId,
    pub kind: ChannelKind,
    pub external_id: String,
    pub username: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Contact {
    pub id: ContactId,
    pub workspace_id: WorkspaceId,
    pub display_name: Option<String>,
    pub identities: Vec<ContactIdentity>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen_at: Option<Timestamp>,
}

fn identity_from(row: &AnyRow) -> Result<ContactIdentity> {
    Ok(ContactIdentity {
        id: row.parsed("id")?,
        connection_id: row.parsed("connection_id")?,
        kind: row.valid("kind", ChannelKind::parse)?,
        external_id: row.text("external_id")?,
        username: row.opt_text("username")?,
        phone: row.opt_text("phone")?,
    })
}

impl Tx {
    /// The contact known on `connection` as `who.external_id`, created with its identity when
    /// there is none; `true` when it was created. A name, username or phone the platform now
    /// gives fills in what was missing or changed.
    pub async fn find_or_create_contact(
        &mut self,
        ws: WorkspaceId,
        connection: ConnectionId,
        kind: ChannelKind,
        who: &ExternalContact,
        now: Timestamp,
    ) -> Result<(ContactId, bool)> {
        // Two first messages from one new person at once must make one contact.
        self.lock_key(&format!("contact:{connection}:{}", who.external_id))
            .await?;
        let existing = sqlx::query(
            "SELECT i.contact_id, i.username, i.phone, c.display_name \
             FROM contact_identities i JOIN contacts c ON c.id = i.contact_id \
             WHERE i.connection_id = $1 AND i.external_id = $2 AND i.workspace_id = $3",
        )
        .bind(connection.to_string())
        .bind(&who.external_id)
        .bind(ws.to_string())
        .fetch_optional(self.conn())
        .await?;
        if let Some(row) = existing {
            let contact: ContactId = row.parsed("contact_id")?;
            let changed = |col: &str, new: &Option<String>| -> Result<bool> {
                Ok(new.is_some() && row.opt_text(col)? != *new)
            };
            if changed("username", &who.username)? || changed("phone", &who.phone)? {
                sqlx::query(
                    "UPDATE contact_identities SET username = COALESCE($3, username), \
                     phone = COALESCE($4, phone) WHERE connection_id = $1 AND external_id = $2",
                )
                .bind(connection.to_string())
                .bind(&who.external_id)
                .bind(who.username.as_deref())
                .bind(who.phone.as_deref())
                .execute(self.conn())
                .await?;
                self.record_webhook(ws, WebhookEventType::ContactUpdated, contact, now);
            }
            let unnamed = row.opt_text("display_name")?.is_none();
            if let Some(name) = who.display_name.as_deref().filter(|_| unnamed) {
                sqlx::query(
                    "UPDATE contacts SET display_name = $3, updated_at = $4 \
                     WHERE workspace_id = $1 AND id = $2 AND display_name IS NULL",
                )
                .bind(ws.to_string())
                .bind(contact.to_string())
                .bind(name)
                .bind(ms(now))
                .execute(self.conn())
                .await?;
                self.record_webhook(ws, WebhookEventType::ContactUpdated, contact, now);
            }
            return Ok((contact, false));
        }
        let contact = ContactId::new();
        sqlx::query(
            "INSERT INTO contacts (id, workspace_id, display_name, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(contact.to_string())
        .bind(ws.to_string())
        .bind(who.display_name.as_deref())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        sqlx::query(
            "INSERT INTO contact_identities (id, workspace_id, contact_id, connection_id, kind, \
             external_id, username, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(ContactIdentityId::new().to_string())
        .bind(ws.to_string())
        .bind(contact.to_string())
        .bind(connection.to_string())
        .bind(kind.as_str())
        .bind(&who.external_id)
        .bind(who.username.as_deref())
        .bind(who.phone.as_deref())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        self.record_webhook(ws, WebhookEventType::ContactCreated, contact, now);
        Ok((contact, true))
    }

    /// Records that the contact was active at `at` (never moves the time backwards).
    pub(crate) async fn touch_contact(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        at: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE contacts SET last_seen_at = $3 WHERE workspace_id = $1 AND id = $2 \
             AND (last_seen_at IS NULL OR last_seen_at < $3)",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .bind(ms(at))
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// The contact with its identities on every connection.
    pub async fn contact(&self, ws: WorkspaceId, id: ContactId) -> Result<Contact> {
        let row = sqlx::query(
            "SELECT id, workspace_id, display_name, created_at, updated_at, last_seen_at \
             FROM contacts WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        let identities = sqlx::query(
            "SELECT id, connection_id, kind, external_id, username, phone FROM contact_identities \
             WHERE workspace_id = $1 AND contact_id = $2 ORDER BY created_at, id",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_all(&self.read)
        .await?;
        Ok(Contact {
            id: row.parsed("id")?,
            workspace_id: row.parsed("workspace_id")?,
            display_name: row.opt_text("display_name")?,
            identities: identities
                .iter()
                .map(identity_from)
                .collect::<Result<_>>()?,
            created_at: row.time("created_at")?,
            updated_at: row.time("updated_at")?,
            last_seen_at: row.opt_time("last_seen_at")?,
        })
    }

    /// A page of the workspace's contacts, newest first, whose name or any identity
    /// (platform id, username, phone) contains `query` (case-insensitive; all when `None`),
    /// starting after the contact `after`.
    pub async fn search_contacts(
        &self,
        ws: WorkspaceId,
        query: Option<&str>,
        after: Option<ContactId>,
        limit: i64,
    ) -> Result<Vec<Contact>> {
        let pattern = query.map(|q| {
            let escaped = q
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT c.id FROM contacts c WHERE c.workspace_id = $1 \
             AND ($2 IS NULL OR c.id < $2) \
             AND ($3 IS NULL OR LOWER(COALESCE(c.display_name, '')) LIKE $3 ESCAPE '\\' \
               OR EXISTS (SELECT 1 FROM contact_identities i WHERE i.contact_id = c.id \
                 AND (LOWER(i.external_id) LIKE $3 ESCAPE '\\' \
                   OR LOWER(COALESCE(i.username, '')) LIKE $3 ESCAPE '\\' \
                   OR LOWER(COALESCE(i.phone, '')) LIKE $3 ESCAPE '\\'))) \
             ORDER BY c.id DESC LIMIT $4",
        )
        .bind(ws.to_string())
        .bind(after.map(|a| a.to_string()))
        .bind(pattern)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        let mut contacts = Vec::with_capacity(ids.len());
        for id in ids {
            let id: ContactId = id
                .parse()
                .map_err(|_| StoreError::Corrupt("a contact id is not a UUID".into()))?;
            contacts.push(self.contact(ws, id).await?);
        }
        Ok(contacts)
    }

    /// The contact known on `connection` by the platform id `external_id`.
    pub async fn contact_by_identity(
        &self,
        ws: WorkspaceId,
        connection: ConnectionId,
        external_id: &str,
    ) -> Result<Option<ContactId>> {
        let row = sqlx::query(
            "SELECT contact_id FROM contact_identities \
             WHERE workspace_id = $1 AND connection_id = $2 AND external_id = $3",
        )
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(external_id)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| r.parsed("contact_id")).transpose()
    }
}
