//! Contacts (a workspace's end-customers) and their identities: how each is known on each
//! connection (wa_id, PSID, IGSID, TikTok id, Telegram id, widget visitor).
//!
//! Also what agents manage about a contact (email, phone, lifecycle stage, labels), the
//! filtered, keyset-paged list, and merging two contacts that are the same person.
//!
//! Invariants: an identity is unique per connection and platform id, so one person writing
//! twice on one channel is one contact; it is found or created inside the ingesting
//! transaction. A merge moves every row the inventory links to the merged contact (so a table
//! added later moves too) and deletes that contact, in one transaction.

use crate::error::on_unique;
use crate::inbox::Label;
use crate::row::{RowExt, ms};
use crate::webhooks::WebhookEventType;
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::channel::{ChannelKind, ExternalContact};
use switchboard_core::contact_attributes::LifecycleStage;
use switchboard_core::inventory::{self, ErasureAction, SubjectKind};
use switchboard_core::{
    ConnectionId, ContactAttributeId, ContactId, ContactIdentityId, ConversationId, LabelId,
    Timestamp, WorkspaceId,
};

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
    /// The email and phone agents recorded (the channels' own ids are in `identities`).
    pub email: Option<String>,
    pub phone: Option<String>,
    pub lifecycle_stage: Option<LifecycleStage>,
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
            "SELECT id, workspace_id, display_name, email, phone, lifecycle_stage, created_at, \
             updated_at, last_seen_at FROM contacts WHERE workspace_id = $1 AND id = $2",
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
            email: row.opt_text("email")?,
            phone: row.opt_text("phone")?,
            lifecycle_stage: row
                .opt_text("lifecycle_stage")?
                .map(|s| {
                    LifecycleStage::parse(&s)
                        .ok_or_else(|| StoreError::Corrupt(format!("lifecycle stage {s:?}")))
                })
                .transpose()?,
            identities: identities
                .iter()
                .map(identity_from)
                .collect::<Result<_>>()?,
            created_at: row.time("created_at")?,
            updated_at: row.time("updated_at")?,
            last_seen_at: row.opt_time("last_seen_at")?,
        })
    }

    /// A page of the workspace's contacts, newest first, whose name, email, phone or any
    /// identity (platform id, username, phone) contains `query` (case-insensitive; all when
    /// `None`), starting after the contact `after`.
    pub async fn search_contacts(
        &self,
        ws: WorkspaceId,
        query: Option<&str>,
        after: Option<ContactId>,
        limit: i64,
    ) -> Result<Vec<Contact>> {
        let filter = ContactFilter {
            q: query.map(str::to_owned),
            ..ContactFilter::default()
        };
        self.contact_page(ws, &filter, after, limit).await
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

/// What the contact list is filtered by; every field narrows it (all given must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFilter {
    /// Part of a name, email, phone, platform id or username (case-insensitive).
    pub q: Option<String>,
    /// Known on a channel of this kind.
    pub channel: Option<ChannelKind>,
    /// Known on this connection.
    pub connection: Option<ConnectionId>,
    pub label: Option<LabelId>,
    pub stage: Option<LifecycleStage>,
    /// Has this value (canonical form) of this attribute.
    pub attribute: Option<(ContactAttributeId, String)>,
}

/// A contact's own fields as agents write them; `None` leaves a field as it is, `Some(None)`
/// clears it.
#[derive(Debug, Clone, Default)]
pub struct ContactChanges {
    pub display_name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub lifecycle_stage: Option<Option<LifecycleStage>>,
}

/// What a merge moved, per table, for the audit log and the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MergeReport {
    pub moved: Vec<(String, u64)>,
    pub conversations: Vec<ConversationId>,
}

/// `filter` as SQL conditions on `contacts c` after `c.workspace_id = $1`, with their
/// arguments (`$2`...); every argument is text.
fn filter_sql(filter: &ContactFilter, args: &mut Vec<String>) -> String {
    let mut sql = String::new();
    let mut arg = |sql: &mut String, template: &str, value: String| {
        args.push(value);
        sql.push_str(&template.replace("$?", &format!("${}", args.len())));
    };
    // A substring has no index to walk; the identities are matched once, uncorrelated (the
    // database builds the set of matching contacts), not once per contact scanned.
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let escaped = q
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        arg(
            &mut sql,
            " AND (LOWER(COALESCE(c.display_name, '')) LIKE $? ESCAPE '\\' \
             OR LOWER(COALESCE(c.email, '')) LIKE $? ESCAPE '\\' \
             OR COALESCE(c.phone, '') LIKE $? ESCAPE '\\' \
             OR c.id IN (SELECT i.contact_id FROM contact_identities i \
               WHERE i.workspace_id = $1 \
               AND (LOWER(i.external_id) LIKE $? ESCAPE '\\' \
                 OR LOWER(COALESCE(i.username, '')) LIKE $? ESCAPE '\\' \
                 OR LOWER(COALESCE(i.phone, '')) LIKE $? ESCAPE '\\')))",
            format!("%{escaped}%"),
        );
    }
    if let Some(kind) = filter.channel {
        arg(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM contact_identities i WHERE i.contact_id = c.id \
             AND i.kind = $?)",
            kind.as_str().to_owned(),
        );
    }
    if let Some(connection) = filter.connection {
        arg(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM contact_identities i WHERE i.contact_id = c.id \
             AND i.connection_id = $?)",
            connection.to_string(),
        );
    }
    if let Some(label) = filter.label {
        arg(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM contact_labels l WHERE l.contact_id = c.id \
             AND l.label_id = $?)",
            label.to_string(),
        );
    }
    if let Some(stage) = filter.stage {
        arg(
            &mut sql,
            " AND c.lifecycle_stage = $?",
            stage.as_str().to_owned(),
        );
    }
    if let Some((attribute, value)) = &filter.attribute {
        args.push(attribute.to_string());
        let n = args.len();
        args.push(value.clone());
        let m = args.len();
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM contact_attribute_values v WHERE v.contact_id = c.id \
             AND v.attribute_id = ${n} AND COALESCE(v.value, v.personal_value) = ${m})"
        ));
    }
    sql
}

impl Store {
    /// A page of the workspace's contacts matching `filter`, newest first (ids are UUIDv7),
    /// starting after the contact `after`: the keyset walks `contacts_by_id`.
    pub async fn contact_page(
        &self,
        ws: WorkspaceId,
        filter: &ContactFilter,
        after: Option<ContactId>,
        limit: i64,
    ) -> Result<Vec<Contact>> {
        let mut args = vec![ws.to_string()];
        let mut sql = format!(
            "SELECT c.id FROM contacts c WHERE c.workspace_id = $1{}",
            filter_sql(filter, &mut args)
        );
        if let Some(after) = after {
            args.push(after.to_string());
            sql.push_str(&format!(" AND c.id < ${}", args.len()));
        }
        sql.push_str(&format!(
            " ORDER BY c.id DESC LIMIT {}",
            limit.clamp(1, 1000)
        ));
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for a in &args {
            query = query.bind(a.clone());
        }
        let ids = query.fetch_all(&self.read).await?;
        let mut contacts = Vec::with_capacity(ids.len());
        for id in ids {
            let id: ContactId = id
                .parse()
                .map_err(|_| StoreError::Corrupt("a contact id is not a UUID".into()))?;
            contacts.push(self.contact(ws, id).await?);
        }
        Ok(contacts)
    }

    /// How many of the workspace's contacts match `filter`.
    pub async fn count_contacts(&self, ws: WorkspaceId, filter: &ContactFilter) -> Result<i64> {
        let mut args = vec![ws.to_string()];
        let sql = format!(
            "SELECT COUNT(*) AS n FROM contacts c WHERE c.workspace_id = $1{}",
            filter_sql(filter, &mut args)
        );
        let mut query = sqlx::query(&sql);
        for a in &args {
            query = query.bind(a.clone());
        }
        query.fetch_one(&self.read).await?.int("n")
    }

    /// The contact created with this `Idempotency-Key`.
    pub async fn contact_by_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
    ) -> Result<Option<ContactId>> {
        let row =
            sqlx::query("SELECT id FROM contacts WHERE workspace_id = $1 AND idempotency_key = $2")
                .bind(ws.to_string())
                .bind(key)
                .fetch_optional(&self.read)
                .await?;
        row.map(|r| r.parsed("id")).transpose()
    }

    /// The labels on the contact, by name.
    pub async fn contact_labels(&self, ws: WorkspaceId, contact: ContactId) -> Result<Vec<Label>> {
        let rows = sqlx::query(
            "SELECT l.id, l.name, l.colour, l.created_at FROM contact_labels cl \
             JOIN labels l ON l.id = cl.label_id \
             WHERE cl.workspace_id = $1 AND cl.contact_id = $2 ORDER BY l.name",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(crate::inbox::label_from).collect()
    }

    /// The contact's conversations on every channel, latest activity first.
    pub async fn contact_conversations(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> Result<Vec<ConversationId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM conversations WHERE workspace_id = $1 AND contact_id = $2 \
             ORDER BY activity_at DESC, id DESC LIMIT 200",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .fetch_all(&self.read)
        .await?;
        ids.iter()
            .map(|id| {
                id.parse()
                    .map_err(|_| StoreError::Corrupt("a conversation id is not a UUID".into()))
            })
            .collect()
    }
}

impl Tx {
    /// A contact an agent (or an import) creates; `false` when the `Idempotency-Key` was used
    /// already and the contact it created is answered instead.
    pub async fn create_contact(
        &mut self,
        ws: WorkspaceId,
        fields: &ContactChanges,
        idempotency_key: Option<&str>,
        now: Timestamp,
    ) -> Result<(ContactId, bool)> {
        if let Some(key) = idempotency_key {
            let existing = sqlx::query(
                "SELECT id FROM contacts WHERE workspace_id = $1 AND idempotency_key = $2",
            )
            .bind(ws.to_string())
            .bind(key)
            .fetch_optional(self.conn())
            .await?;
            if let Some(row) = existing {
                return Ok((row.parsed("id")?, false));
            }
        }
        let id = ContactId::new();
        let done = sqlx::query(
            "INSERT INTO contacts (id, workspace_id, display_name, email, phone, lifecycle_stage, \
             idempotency_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(fields.display_name.clone().flatten())
        .bind(fields.email.clone().flatten())
        .bind(fields.phone.clone().flatten())
        .bind(fields.lifecycle_stage.flatten().map(LifecycleStage::as_str))
        .bind(idempotency_key)
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        on_unique(
            done,
            "idempotency_key_reused",
            "This Idempotency-Key was used for another contact.",
        )?;
        self.record_webhook(ws, WebhookEventType::ContactCreated, id, now);
        Ok((id, true))
    }

    /// Changes the contact's own fields (those given); `NotFound` outside `ws`.
    pub async fn update_contact(
        &mut self,
        ws: WorkspaceId,
        id: ContactId,
        changes: &ContactChanges,
        now: Timestamp,
    ) -> Result<()> {
        let mut sets = vec!["updated_at = $3".to_owned()];
        let mut args: Vec<Option<String>> = Vec::new();
        let mut set = |col: &str, value: &Option<Option<String>>| {
            if let Some(v) = value {
                args.push(v.clone());
                sets.push(format!("{col} = ${}", args.len() + 3));
            }
        };
        set("display_name", &changes.display_name);
        set("email", &changes.email);
        set("phone", &changes.phone);
        set(
            "lifecycle_stage",
            &changes
                .lifecycle_stage
                .map(|s| s.map(|s| s.as_str().to_owned())),
        );
        let sql = format!(
            "UPDATE contacts SET {} WHERE workspace_id = $1 AND id = $2",
            sets.join(", ")
        );
        let mut query = sqlx::query(&sql)
            .bind(ws.to_string())
            .bind(id.to_string())
            .bind(ms(now));
        for a in args {
            query = query.bind(a);
        }
        crate::row::found(query.execute(self.conn()).await?)?;
        self.record_webhook(ws, WebhookEventType::ContactUpdated, id, now);
        Ok(())
    }

    /// Puts the label on the contact (`on`) or takes it off; whether anything changed. Both
    /// must be the workspace's (`NotFound` otherwise).
    pub async fn set_contact_label(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        label: LabelId,
        on: bool,
        now: Timestamp,
    ) -> Result<bool> {
        let both: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM contacts WHERE workspace_id = $1 AND id = $2) + \
             (SELECT COUNT(*) FROM labels WHERE workspace_id = $1 AND id = $3)",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .bind(label.to_string())
        .fetch_one(self.conn())
        .await?;
        if both != 2 {
            return Err(StoreError::NotFound);
        }
        let done = if on {
            sqlx::query(
                "INSERT INTO contact_labels (contact_id, label_id, workspace_id, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(contact.to_string())
            .bind(label.to_string())
            .bind(ws.to_string())
            .bind(ms(now))
            .execute(self.conn())
            .await?
        } else {
            sqlx::query(
                "DELETE FROM contact_labels WHERE workspace_id = $1 AND contact_id = $2 \
                 AND label_id = $3",
            )
            .bind(ws.to_string())
            .bind(contact.to_string())
            .bind(label.to_string())
            .execute(self.conn())
            .await?
        };
        Ok(done.rows_affected() > 0)
    }

    /// Merges `other` into `kept` (the same person): every row the inventory links to
    /// `other` by a column and deletes with it moves to `kept` — identities, conversations,
    /// messages, consent records, labels, attribute values, and whatever is added later —
    /// then `other` is deleted. `kept` keeps its own fields and takes `other`'s where it has
    /// none; a label or attribute both have stays `kept`'s. Records kept as history (the
    /// audit log) keep naming `other`. Refused (`merge_conflict`) when both have an open
    /// conversation on one connection or live consent of one kind on one connection, and
    /// (`restriction_mismatch`) when only one of them is restricted.
    pub async fn merge_contacts(
        &mut self,
        ws: WorkspaceId,
        kept: ContactId,
        other: ContactId,
        now: Timestamp,
    ) -> Result<MergeReport> {
        if kept == other {
            return Err(StoreError::conflict(
                "merge_same_contact",
                "A contact cannot be merged into itself.",
            ));
        }
        let rows = sqlx::query(
            "SELECT id, display_name, email, phone, lifecycle_stage, restricted_at, \
             marketing_objection_at, last_seen_at FROM contacts \
             WHERE workspace_id = $1 AND id IN ($2, $3)",
        )
        .bind(ws.to_string())
        .bind(kept.to_string())
        .bind(other.to_string())
        .fetch_all(self.conn())
        .await?;
        let find = |id: ContactId| -> Result<&AnyRow> {
            rows.iter()
                .find(|r| r.parsed::<ContactId>("id").ok() == Some(id))
                .ok_or(StoreError::NotFound)
        };
        let (k, o) = (find(kept)?, find(other)?);
        if k.opt_int("restricted_at")?.is_some() != o.opt_int("restricted_at")?.is_some() {
            return Err(StoreError::conflict(
                "restriction_mismatch",
                "Only one of the two contacts is restricted: lift the restriction or restrict both first.",
            ));
        }
        let clash: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM conversations a JOIN conversations b \
               ON a.connection_id = b.connection_id WHERE a.workspace_id = $1 \
               AND a.contact_id = $2 AND b.contact_id = $3 \
               AND a.status <> 'resolved' AND b.status <> 'resolved') + \
             (SELECT COUNT(*) FROM consent_records a JOIN consent_records b \
               ON a.connection_id = b.connection_id AND a.kind = b.kind WHERE a.workspace_id = $1 \
               AND a.contact_id = $2 AND b.contact_id = $3 \
               AND a.withdrawn_at IS NULL AND b.withdrawn_at IS NULL)",
        )
        .bind(ws.to_string())
        .bind(kept.to_string())
        .bind(other.to_string())
        .fetch_one(self.conn())
        .await?;
        if clash > 0 {
            return Err(StoreError::conflict(
                "merge_conflict",
                "Both contacts have an open conversation, or live consent of one kind, on the same channel connection: resolve the conversation or withdraw the duplicate consent first.",
            ));
        }
        // What both have stays the kept contact's.
        for (table, key) in [
            ("contact_labels", "label_id"),
            ("contact_attribute_values", "attribute_id"),
        ] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE workspace_id = $1 AND contact_id = $3 AND {key} IN \
                 (SELECT {key} FROM {table} WHERE workspace_id = $1 AND contact_id = $2)"
            ))
            .bind(ws.to_string())
            .bind(kept.to_string())
            .bind(other.to_string())
            .execute(self.conn())
            .await?;
        }
        let conversations: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM conversations WHERE workspace_id = $1 AND contact_id = $2",
        )
        .bind(ws.to_string())
        .bind(other.to_string())
        .fetch_all(self.conn())
        .await?;
        let mut report = MergeReport::default();
        for (table, column) in inventory::linked(SubjectKind::Contact) {
            // The contact row itself is merged below; rows kept as history stay as written.
            if table.name == "contacts" || table.erasure != ErasureAction::Delete {
                continue;
            }
            let scoped = if table.column("workspace_id").is_some() {
                " AND workspace_id = $3"
            } else {
                " AND $3 = $3"
            };
            let done = sqlx::query(&format!(
                "UPDATE {} SET {column} = $1 WHERE {column} = $2{scoped}",
                table.name
            ))
            .bind(kept.to_string())
            .bind(other.to_string())
            .bind(ws.to_string())
            .execute(self.conn())
            .await?;
            if done.rows_affected() > 0 {
                report
                    .moved
                    .push((table.name.to_owned(), done.rows_affected()));
            }
        }
        let fill =
            |col: &str| -> Result<Option<String>> { Ok(k.opt_text(col)?.or(o.opt_text(col)?)) };
        let earliest = |col: &str| -> Result<Option<i64>> {
            Ok(match (k.opt_int(col)?, o.opt_int(col)?) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            })
        };
        let latest = match (k.opt_int("last_seen_at")?, o.opt_int("last_seen_at")?) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        sqlx::query(
            "UPDATE contacts SET display_name = $3, email = $4, phone = $5, lifecycle_stage = $6, \
             marketing_objection_at = $7, last_seen_at = $8, updated_at = $9 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(kept.to_string())
        .bind(fill("display_name")?)
        .bind(fill("email")?)
        .bind(fill("phone")?)
        .bind(fill("lifecycle_stage")?)
        .bind(earliest("marketing_objection_at")?)
        .bind(latest)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        crate::row::found(
            sqlx::query("DELETE FROM contacts WHERE workspace_id = $1 AND id = $2")
                .bind(ws.to_string())
                .bind(other.to_string())
                .execute(self.conn())
                .await?,
        )?;
        // To an operator's system the merged contact is gone and the kept one changed.
        self.record_webhook(ws, WebhookEventType::ContactDeleted, other, now);
        self.record_webhook(ws, WebhookEventType::ContactUpdated, kept, now);
        for id in conversations {
            let id: ConversationId = id
                .parse()
                .map_err(|_| StoreError::Corrupt("a conversation id is not a UUID".into()))?;
            self.record_event(
                ws,
                "conversation.updated",
                Some(id),
                serde_json::json!({ "conversation_id": id.to_string(), "contact_id": kept.to_string() }),
                now,
            );
            report.conversations.push(id);
        }
        Ok(report)
    }
}

impl Store {
    /// The workspace's contact whose email (case-insensitive) or else phone is this, for
    /// imports that update rather than duplicate.
    pub async fn contact_by_email_or_phone(
        &self,
        ws: WorkspaceId,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<Option<ContactId>> {
        if let Some(email) = email {
            let row = sqlx::query(
                "SELECT id FROM contacts WHERE workspace_id = $1 AND email = $2 \
                 ORDER BY id LIMIT 1",
            )
            .bind(ws.to_string())
            .bind(email.to_lowercase())
            .fetch_optional(&self.read)
            .await?;
            if let Some(row) = row {
                return Ok(Some(row.parsed("id")?));
            }
        }
        if let Some(phone) = phone {
            let row = sqlx::query(
                "SELECT id FROM contacts WHERE workspace_id = $1 AND phone = $2 \
                 ORDER BY id LIMIT 1",
            )
            .bind(ws.to_string())
            .bind(phone)
            .fetch_optional(&self.read)
            .await?;
            if let Some(row) = row {
                return Ok(Some(row.parsed("id")?));
            }
        }
        Ok(None)
    }
}
