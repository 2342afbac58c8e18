//! What agents do to conversations beyond replying: labels, private notes and the system
//! events of a conversation's timeline, unread marks, snoozing, and canned responses.
//!
//! Invariants:
//! - every change here records its live-update event in the same transaction
//!   ([`Tx::record_event`]), and a change an agent makes to a conversation also writes its
//!   timeline entry (`conversation_activities`) there;
//! - a label, a note or a canned response created with an `Idempotency-Key` is found again by
//!   that key (unique per workspace), so a retried create answers the first one.

use crate::error::on_unique;
use crate::row::{RowExt, found, known, ms, text_enum};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use std::collections::HashMap;
use switchboard_core::{
    ActivityId, CannedResponseId, ConversationId, LabelId, Timestamp, UserId, WorkspaceId,
};

text_enum! {
    pub enum ActivityKind {
        /// A private note: agents only, never sent.
        Note = "note",
        Assigned = "assigned",
        Unassigned = "unassigned",
        Labelled = "labelled",
        Unlabelled = "unlabelled",
        /// Back to open (from pending, or a snooze that ended).
        Opened = "opened",
        Pending = "pending",
        Snoozed = "snoozed",
        Resolved = "resolved",
        Reopened = "reopened",
        /// Assigned to a team (the body names it).
        TeamAssigned = "team_assigned",
        /// Taken off its team (the body names it), or its team was deleted.
        TeamUnassigned = "team_unassigned",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Label {
    pub id: LabelId,
    pub name: String,
    /// `#rrggbb`.
    pub colour: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Activity {
    pub id: ActivityId,
    pub conversation_id: ConversationId,
    pub kind: ActivityKind,
    pub author_user_id: Option<UserId>,
    /// A note's text; for a system event what it names (a label, a member, a time).
    pub body: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CannedResponse {
    pub id: CannedResponseId,
    pub shortcut: String,
    pub body: String,
    pub created_by: Option<UserId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: Timestamp,
}

pub(crate) fn label_from(row: &AnyRow) -> Result<Label> {
    Ok(Label {
        id: row.parsed("id")?,
        name: row.text("name")?,
        colour: row.text("colour")?,
        created_at: row.time("created_at")?,
    })
}

fn activity_from(row: &AnyRow) -> Result<Activity> {
    Ok(Activity {
        id: row.parsed("id")?,
        conversation_id: row.parsed("conversation_id")?,
        kind: known(row, "kind", ActivityKind::parse)?,
        author_user_id: row.opt_parsed("author_user_id")?,
        body: row.opt_text("body")?,
        created_at: row.time("created_at")?,
    })
}

fn canned_from(row: &AnyRow) -> Result<CannedResponse> {
    Ok(CannedResponse {
        id: row.parsed("id")?,
        shortcut: row.text("shortcut")?,
        body: row.text("body")?,
        created_by: row.opt_parsed("created_by")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// A timeline entry to add.
#[derive(Debug, Clone, Copy)]
pub struct NewActivity<'a> {
    pub kind: ActivityKind,
    /// The member who did it; `None` for Switchboard itself (a snooze that ended).
    pub author: Option<UserId>,
    /// A note's text, or what a system event names.
    pub body: Option<&'a str>,
    /// The API client's `Idempotency-Key` (notes): unique per workspace.
    pub idempotency_key: Option<&'a str>,
}

impl<'a> NewActivity<'a> {
    /// A system event (no idempotency key).
    pub fn event(kind: ActivityKind, author: Option<UserId>, body: Option<&'a str>) -> Self {
        Self {
            kind,
            author,
            body,
            idempotency_key: None,
        }
    }
}

const ACTIVITY_COLUMNS: &str = "id, conversation_id, kind, author_user_id, body, created_at";
const CANNED_COLUMNS: &str = "id, shortcut, body, created_by, created_at, updated_at";

impl Tx {
    /// Adds an entry to the conversation's timeline (a note, or the system event of a change
    /// made in this transaction). `NotFound` for a conversation of another workspace.
    pub async fn add_activity(
        &mut self,
        ws: WorkspaceId,
        conversation: ConversationId,
        new: &NewActivity<'_>,
        now: Timestamp,
    ) -> Result<ActivityId> {
        let NewActivity {
            kind,
            author,
            body,
            idempotency_key,
        } = *new;
        let id = ActivityId::new();
        let done = sqlx::query(
            "INSERT INTO conversation_activities (id, workspace_id, conversation_id, contact_id, kind, \
             author_user_id, body, idempotency_key, created_at) \
             SELECT $1, workspace_id, id, contact_id, $3, $4, $5, $6, $7 FROM conversations \
             WHERE workspace_id = $2 AND id = $8",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(kind.as_str())
        .bind(author.map(|u| u.to_string()))
        .bind(body)
        .bind(idempotency_key)
        .bind(ms(now))
        .bind(conversation.to_string())
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        found(on_unique(
            done,
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is already being handled.",
        )?)?;
        self.record_event(
            ws,
            "activity.created",
            Some(conversation),
            serde_json::json!({ "activity_id": id.to_string(), "kind": kind.as_str() }),
            now,
        );
        Ok(id)
    }

    pub async fn create_label(
        &mut self,
        ws: WorkspaceId,
        name: &str,
        colour: &str,
        idempotency_key: Option<&str>,
        now: Timestamp,
    ) -> Result<Label> {
        let id = LabelId::new();
        let done = sqlx::query(
            "INSERT INTO labels (id, workspace_id, name, colour, idempotency_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(name)
        .bind(colour)
        .bind(idempotency_key)
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        on_unique(
            done,
            "label_exists",
            "A label with this name exists already (or this Idempotency-Key is in use).",
        )?;
        self.record_event(
            ws,
            "label.changed",
            None,
            serde_json::json!({ "label_id": id.to_string() }),
            now,
        );
        Ok(Label {
            id,
            name: name.to_owned(),
            colour: colour.to_owned(),
            created_at: now,
        })
    }

    pub async fn update_label(
        &mut self,
        ws: WorkspaceId,
        id: LabelId,
        name: Option<&str>,
        colour: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE labels SET name = COALESCE($3, name), colour = COALESCE($4, colour), updated_at = $5 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(name)
        .bind(colour)
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        found(on_unique(
            done,
            "label_exists",
            "A label with this name exists already.",
        )?)?;
        self.record_event(
            ws,
            "label.changed",
            None,
            serde_json::json!({ "label_id": id.to_string() }),
            now,
        );
        Ok(())
    }

    pub async fn delete_label(
        &mut self,
        ws: WorkspaceId,
        id: LabelId,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query("DELETE FROM labels WHERE workspace_id = $1 AND id = $2")
            .bind(ws.to_string())
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        found(done)?;
        self.record_event(
            ws,
            "label.changed",
            None,
            serde_json::json!({ "label_id": id.to_string() }),
            now,
        );
        Ok(())
    }

    /// Puts `label` on the conversation; `false` when it was there already. Both must be of
    /// `ws` (`NotFound` otherwise).
    pub async fn add_label(
        &mut self,
        ws: WorkspaceId,
        conversation: ConversationId,
        label: LabelId,
        author: Option<UserId>,
        now: Timestamp,
    ) -> Result<bool> {
        let name: String = sqlx::query_scalar(
            "SELECT l.name FROM labels l JOIN conversations c ON c.workspace_id = l.workspace_id \
             WHERE l.workspace_id = $1 AND l.id = $2 AND c.id = $3",
        )
        .bind(ws.to_string())
        .bind(label.to_string())
        .bind(conversation.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        let done = sqlx::query(
            "INSERT INTO conversation_labels (conversation_id, label_id, workspace_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id, label_id) DO NOTHING",
        )
        .bind(conversation.to_string())
        .bind(label.to_string())
        .bind(ws.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        self.add_activity(
            ws,
            conversation,
            &NewActivity::event(ActivityKind::Labelled, author, Some(&name)),
            now,
        )
        .await?;
        self.record_event(
            ws,
            "conversation.updated",
            Some(conversation),
            serde_json::json!({ "label_added": label.to_string() }),
            now,
        );
        Ok(true)
    }

    /// Takes `label` off the conversation; `false` when it was not on it.
    pub async fn remove_label(
        &mut self,
        ws: WorkspaceId,
        conversation: ConversationId,
        label: LabelId,
        author: Option<UserId>,
        now: Timestamp,
    ) -> Result<bool> {
        let name: Option<String> =
            sqlx::query_scalar("SELECT name FROM labels WHERE workspace_id = $1 AND id = $2")
                .bind(ws.to_string())
                .bind(label.to_string())
                .fetch_optional(self.conn())
                .await?;
        let name = name.ok_or(StoreError::NotFound)?;
        let done = sqlx::query(
            "DELETE FROM conversation_labels WHERE workspace_id = $1 AND conversation_id = $2 \
             AND label_id = $3",
        )
        .bind(ws.to_string())
        .bind(conversation.to_string())
        .bind(label.to_string())
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        self.add_activity(
            ws,
            conversation,
            &NewActivity::event(ActivityKind::Unlabelled, author, Some(&name)),
            now,
        )
        .await?;
        self.record_event(
            ws,
            "conversation.updated",
            Some(conversation),
            serde_json::json!({ "label_removed": label.to_string() }),
            now,
        );
        Ok(true)
    }

    /// Marks the conversation's customer messages as read.
    pub async fn mark_read(
        &mut self,
        ws: WorkspaceId,
        id: ConversationId,
        now: Timestamp,
    ) -> Result<()> {
        self.set_unread(ws, id, "0", now).await
    }

    /// Marks the conversation unread (at least one unread message), to come back to it.
    pub async fn mark_unread(
        &mut self,
        ws: WorkspaceId,
        id: ConversationId,
        now: Timestamp,
    ) -> Result<()> {
        self.set_unread(
            ws,
            id,
            "CASE WHEN unread_count > 0 THEN unread_count ELSE 1 END",
            now,
        )
        .await
    }

    async fn set_unread(
        &mut self,
        ws: WorkspaceId,
        id: ConversationId,
        value: &'static str,
        now: Timestamp,
    ) -> Result<()> {
        let row = sqlx::query(&format!(
            "UPDATE conversations SET unread_count = {value} WHERE workspace_id = $1 AND id = $2 \
             RETURNING unread_count"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        let unread = row.int("unread_count")?;
        self.record_event(
            ws,
            "conversation.updated",
            Some(id),
            serde_json::json!({ "unread_count": unread }),
            now,
        );
        Ok(())
    }

    /// Opens every snoozed conversation whose time has come; returns how many woke.
    pub async fn wake_snoozed(&mut self, now: Timestamp) -> Result<usize> {
        let rows = sqlx::query(
            "UPDATE conversations SET status = 'open', snoozed_until = NULL, updated_at = $1 \
             WHERE status = 'snoozed' AND snoozed_until IS NOT NULL AND snoozed_until <= $1 \
             RETURNING workspace_id, id",
        )
        .bind(ms(now))
        .fetch_all(self.conn())
        .await?;
        for row in &rows {
            let ws: WorkspaceId = row.parsed("workspace_id")?;
            let id: ConversationId = row.parsed("id")?;
            self.add_activity(
                ws,
                id,
                &NewActivity::event(ActivityKind::Opened, None, Some("snooze ended")),
                now,
            )
            .await?;
            self.record_event(
                ws,
                "conversation.updated",
                Some(id),
                serde_json::json!({ "status": "open" }),
                now,
            );
        }
        Ok(rows.len())
    }

    pub async fn create_canned_response(
        &mut self,
        ws: WorkspaceId,
        shortcut: &str,
        body: &str,
        author: Option<UserId>,
        idempotency_key: Option<&str>,
        now: Timestamp,
    ) -> Result<CannedResponse> {
        let id = CannedResponseId::new();
        let done = sqlx::query(
            "INSERT INTO canned_responses (id, workspace_id, shortcut, body, created_by, idempotency_key, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(shortcut)
        .bind(body)
        .bind(author.map(|u| u.to_string()))
        .bind(idempotency_key)
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        on_unique(
            done,
            "shortcut_exists",
            "A canned response with this shortcut exists already (or this Idempotency-Key is in use).",
        )?;
        Ok(CannedResponse {
            id,
            shortcut: shortcut.to_owned(),
            body: body.to_owned(),
            created_by: author,
            created_at: now,
            updated_at: now,
        })
    }

    pub async fn update_canned_response(
        &mut self,
        ws: WorkspaceId,
        id: CannedResponseId,
        shortcut: Option<&str>,
        body: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE canned_responses SET shortcut = COALESCE($3, shortcut), body = COALESCE($4, body), \
             updated_at = $5 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(shortcut)
        .bind(body)
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        found(on_unique(
            done,
            "shortcut_exists",
            "A canned response with this shortcut exists already.",
        )?)
    }

    pub async fn delete_canned_response(
        &mut self,
        ws: WorkspaceId,
        id: CannedResponseId,
    ) -> Result<()> {
        let done = sqlx::query("DELETE FROM canned_responses WHERE workspace_id = $1 AND id = $2")
            .bind(ws.to_string())
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        found(done)
    }
}

impl Store {
    /// The workspace's labels, by name.
    pub async fn labels(&self, ws: WorkspaceId) -> Result<Vec<Label>> {
        let rows = sqlx::query(
            "SELECT id, name, colour, created_at FROM labels WHERE workspace_id = $1 ORDER BY name",
        )
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(label_from).collect()
    }

    pub async fn label(&self, ws: WorkspaceId, id: LabelId) -> Result<Label> {
        let row = sqlx::query(
            "SELECT id, name, colour, created_at FROM labels WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        label_from(&row)
    }

    pub async fn label_by_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
    ) -> Result<Option<Label>> {
        let row = sqlx::query(
            "SELECT id, name, colour, created_at FROM labels WHERE workspace_id = $1 AND idempotency_key = $2",
        )
        .bind(ws.to_string())
        .bind(key)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(label_from).transpose()
    }

    /// The labels on each of `conversations` (all of `ws`).
    pub async fn labels_of(
        &self,
        ws: WorkspaceId,
        conversations: &[ConversationId],
    ) -> Result<HashMap<ConversationId, Vec<LabelId>>> {
        let mut out: HashMap<ConversationId, Vec<LabelId>> = HashMap::new();
        if conversations.is_empty() {
            return Ok(out);
        }
        let params: Vec<String> = (0..conversations.len())
            .map(|i| format!("${}", i + 2))
            .collect();
        let sql = format!(
            "SELECT conversation_id, label_id FROM conversation_labels WHERE workspace_id = $1 \
             AND conversation_id IN ({}) ORDER BY created_at",
            params.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(ws.to_string());
        for c in conversations {
            query = query.bind(c.to_string());
        }
        for row in query.fetch_all(&self.read).await? {
            out.entry(row.parsed("conversation_id")?)
                .or_default()
                .push(row.parsed("label_id")?);
        }
        Ok(out)
    }

    /// The conversation's notes and system events, oldest first (the latest 500).
    pub async fn activities(
        &self,
        ws: WorkspaceId,
        conversation: ConversationId,
    ) -> Result<Vec<Activity>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACTIVITY_COLUMNS} FROM conversation_activities WHERE workspace_id = $1 \
             AND conversation_id = $2 ORDER BY created_at DESC, id DESC LIMIT 500"
        ))
        .bind(ws.to_string())
        .bind(conversation.to_string())
        .fetch_all(&self.read)
        .await?;
        let mut list = rows.iter().map(activity_from).collect::<Result<Vec<_>>>()?;
        list.reverse();
        Ok(list)
    }

    pub async fn activity(&self, ws: WorkspaceId, id: ActivityId) -> Result<Activity> {
        let row = sqlx::query(&format!(
            "SELECT {ACTIVITY_COLUMNS} FROM conversation_activities WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        activity_from(&row)
    }

    pub async fn activity_by_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
    ) -> Result<Option<Activity>> {
        let row = sqlx::query(&format!(
            "SELECT {ACTIVITY_COLUMNS} FROM conversation_activities WHERE workspace_id = $1 \
             AND idempotency_key = $2"
        ))
        .bind(ws.to_string())
        .bind(key)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(activity_from).transpose()
    }

    /// The workspace's canned responses, by shortcut.
    pub async fn canned_responses(&self, ws: WorkspaceId) -> Result<Vec<CannedResponse>> {
        let rows = sqlx::query(&format!(
            "SELECT {CANNED_COLUMNS} FROM canned_responses WHERE workspace_id = $1 ORDER BY shortcut"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(canned_from).collect()
    }

    pub async fn canned_response(
        &self,
        ws: WorkspaceId,
        id: CannedResponseId,
    ) -> Result<CannedResponse> {
        let row = sqlx::query(&format!(
            "SELECT {CANNED_COLUMNS} FROM canned_responses WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        canned_from(&row)
    }

    pub async fn canned_response_by_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
    ) -> Result<Option<CannedResponse>> {
        let row = sqlx::query(&format!(
            "SELECT {CANNED_COLUMNS} FROM canned_responses WHERE workspace_id = $1 AND idempotency_key = $2"
        ))
        .bind(ws.to_string())
        .bind(key)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(canned_from).transpose()
    }
}
