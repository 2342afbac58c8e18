//! Conversations: one thread per contact and connection at a time.
//!
//! Invariant: at most one conversation that is not resolved per (connection, contact) — a
//! partial unique index — so every inbound message has exactly one place to go; a message to
//! a contact whose conversations are all resolved reopens the latest one.

use crate::row::{RowExt, found, known, ms, text_enum};
use crate::webhooks::WebhookEventType;
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::channel::ChannelKind;
use switchboard_core::{
    ConnectionId, ContactId, ConversationId, LabelId, TeamId, Timestamp, UserId, WorkspaceId,
};

text_enum! {
    pub enum ConversationStatus {
        /// Waiting for the business.
        Open = "open",
        /// Waiting for the customer.
        Pending = "pending",
        /// Put aside until later; a new message wakes it.
        Snoozed = "snoozed",
        Resolved = "resolved",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub workspace_id: WorkspaceId,
    pub contact_id: ContactId,
    pub connection_id: ConnectionId,
    pub kind: ChannelKind,
    pub status: ConversationStatus,
    pub assignee_user_id: Option<UserId>,
    /// The team it is assigned to.
    pub team_id: Option<TeamId>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_message_at: Option<Timestamp>,
    /// When the customer last wrote: the start of the reply window.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_inbound_at: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<Timestamp>,
    /// What the listing orders by: the last message, or the creation when there is none.
    #[serde(with = "time::serde::rfc3339")]
    pub activity_at: Timestamp,
    /// When the customer started waiting for an answer; `None` while nobody waits.
    #[serde(with = "time::serde::rfc3339::option")]
    pub waiting_since: Option<Timestamp>,
    /// A snoozed conversation wakes (opens) at this time, or with the customer's next message.
    #[serde(with = "time::serde::rfc3339::option")]
    pub snoozed_until: Option<Timestamp>,
    /// Customer messages nobody in the workspace has read yet.
    pub unread_count: i64,
    /// The contact's display name, for the listing.
    pub contact_name: Option<String>,
    /// The last message's words, for the listing.
    pub preview: Option<String>,
}

/// Whose conversations to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Unassigned,
    User(UserId),
}

/// Which team's conversations to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamFilter {
    /// Assigned to no team.
    None,
    Team(TeamId),
    /// Assigned to any team this member is in.
    MemberOf(UserId),
}

/// The listing's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConversationSort {
    /// Newest activity first.
    #[default]
    Activity,
    /// Longest waiting customer first; only conversations where the customer waits.
    Waiting,
}

/// What sending a reply in a conversation needs to know: where to, and the reply window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTarget {
    pub conversation_id: ConversationId,
    pub connection_id: ConnectionId,
    pub kind: ChannelKind,
    /// The contact's platform id on the connection (the send's recipient).
    pub to: String,
    pub last_inbound_at: Option<Timestamp>,
    /// Outbound messages created since `last_inbound_at` (failed ones excluded), for
    /// per-window caps.
    pub sent_since_last_inbound: u32,
}

/// Which conversations to list, and where the page starts.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub status: Option<ConversationStatus>,
    pub connection: Option<ConnectionId>,
    pub kind: Option<ChannelKind>,
    pub assignee: Option<AssigneeFilter>,
    pub label: Option<LabelId>,
    pub team: Option<TeamFilter>,
    /// Only conversations with unread customer messages.
    pub unread: bool,
    pub sort: ConversationSort,
    /// Start after this conversation: its sort key (milliseconds) and id (the last of the
    /// previous page; see [`Conversation::sort_key`]).
    pub after: Option<(Timestamp, ConversationId)>,
    pub limit: i64,
}

impl Conversation {
    /// What the listing orders by: the last message, or the creation when there is none.
    pub fn activity_at(&self) -> Timestamp {
        self.activity_at
    }

    /// The value a page under `sort` is ordered by, for the next page's cursor.
    pub fn sort_key(&self, sort: ConversationSort) -> Timestamp {
        match sort {
            ConversationSort::Activity => self.activity_at,
            ConversationSort::Waiting => self.waiting_since.unwrap_or(self.activity_at),
        }
    }
}

const COLUMNS: &str = "c.id, c.workspace_id, c.contact_id, c.connection_id, k.kind, c.status, \
     c.assignee_user_id, c.team_id, c.last_message_at, c.last_inbound_at, c.created_at, c.updated_at, c.resolved_at, \
     c.activity_at, c.waiting_since, c.snoozed_until, c.unread_count, p.display_name AS contact_name, \
     (SELECT m.text FROM messages m WHERE m.conversation_id = c.id ORDER BY m.id DESC LIMIT 1) AS preview";
const FROM: &str = "FROM conversations c JOIN channel_connections k ON k.id = c.connection_id \
     JOIN contacts p ON p.id = c.contact_id";

fn conversation_from(row: &AnyRow) -> Result<Conversation> {
    Ok(Conversation {
        id: row.parsed("id")?,
        workspace_id: row.parsed("workspace_id")?,
        contact_id: row.parsed("contact_id")?,
        connection_id: row.parsed("connection_id")?,
        kind: row.valid("kind", ChannelKind::parse)?,
        status: known(row, "status", ConversationStatus::parse)?,
        assignee_user_id: row.opt_parsed("assignee_user_id")?,
        team_id: row.opt_parsed("team_id")?,
        last_message_at: row.opt_time("last_message_at")?,
        last_inbound_at: row.opt_time("last_inbound_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        resolved_at: row.opt_time("resolved_at")?,
        activity_at: row.time("activity_at")?,
        waiting_since: row.opt_time("waiting_since")?,
        snoozed_until: row.opt_time("snoozed_until")?,
        unread_count: row.int("unread_count")?,
        contact_name: row.opt_text("contact_name")?,
        preview: row.opt_text("preview")?,
    })
}

/// A parameter of a query built from the filters given.
enum Arg {
    Text(String),
    Int(i64),
}

/// Where a new message goes.
pub(crate) struct Placement {
    pub conversation: ConversationId,
    pub reopened: bool,
}

impl Tx {
    /// The conversation a message from (or, for an echo, to) the contact belongs in: the live
    /// one; else, for a customer's message, the latest resolved one reopened; else a new one.
    /// A customer's message wakes a snoozed or pending conversation. An echo (the business
    /// writing from elsewhere) never reopens: it joins the latest conversation as it is.
    pub(crate) async fn place_message(
        &mut self,
        ws: WorkspaceId,
        connection: ConnectionId,
        contact: ContactId,
        from_customer: bool,
        now: Timestamp,
    ) -> Result<Placement> {
        let latest = sqlx::query(
            "SELECT id, status FROM conversations \
             WHERE workspace_id = $1 AND connection_id = $2 AND contact_id = $3 \
             ORDER BY CASE WHEN status = 'resolved' THEN 1 ELSE 0 END, created_at DESC, id DESC \
             LIMIT 1",
        )
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(contact.to_string())
        .fetch_optional(self.conn())
        .await?;
        if let Some(row) = latest {
            let id: ConversationId = row.parsed("id")?;
            let status = known(&row, "status", ConversationStatus::parse)?;
            let reopened = from_customer && status == ConversationStatus::Resolved;
            if from_customer && status != ConversationStatus::Open {
                sqlx::query(
                    "UPDATE conversations SET status = 'open', resolved_at = NULL, snoozed_until = NULL, \
                     updated_at = $3 WHERE workspace_id = $1 AND id = $2",
                )
                .bind(ws.to_string())
                .bind(id.to_string())
                .bind(ms(now))
                .execute(self.conn())
                .await?;
                self.record_webhook(ws, WebhookEventType::ConversationUpdated, id, now);
            }
            return Ok(Placement {
                conversation: id,
                reopened,
            });
        }
        let id = ConversationId::new();
        sqlx::query(
            "INSERT INTO conversations (id, workspace_id, contact_id, connection_id, status, \
             created_at, updated_at, activity_at) VALUES ($1, $2, $3, $4, 'open', $5, $5, $5)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(contact.to_string())
        .bind(connection.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        self.record_webhook(ws, WebhookEventType::ConversationCreated, id, now);
        Ok(Placement {
            conversation: id,
            reopened: false,
        })
    }

    /// Moves the conversation's clocks forward for a message at `at` (never backwards: webhooks
    /// arrive out of order).
    pub(crate) async fn note_message(
        &mut self,
        ws: WorkspaceId,
        conversation: ConversationId,
        at: Timestamp,
        from_customer: bool,
    ) -> Result<()> {
        // A customer's message makes them wait (from the first unanswered one) and is unread;
        // the business writing (here or elsewhere) ends the wait.
        let sql = if from_customer {
            "UPDATE conversations SET \
             last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at < $3 THEN $3 ELSE last_message_at END, \
             activity_at = CASE WHEN activity_at < $3 THEN $3 ELSE activity_at END, \
             last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at < $3 THEN $3 ELSE last_inbound_at END, \
             waiting_since = COALESCE(waiting_since, $3), unread_count = unread_count + 1 \
             WHERE workspace_id = $1 AND id = $2"
        } else {
            "UPDATE conversations SET \
             last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at < $3 THEN $3 ELSE last_message_at END, \
             activity_at = CASE WHEN activity_at < $3 THEN $3 ELSE activity_at END, \
             waiting_since = NULL \
             WHERE workspace_id = $1 AND id = $2"
        };
        sqlx::query(sql)
            .bind(ws.to_string())
            .bind(conversation.to_string())
            .bind(ms(at))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Changes the conversation's status. Reopening a resolved conversation while another
    /// one with the same contact is live is refused (`conversation_already_open`).
    pub async fn set_conversation_status(
        &mut self,
        ws: WorkspaceId,
        id: ConversationId,
        status: ConversationStatus,
        now: Timestamp,
    ) -> Result<()> {
        self.set_conversation_status_until(ws, id, status, None, now)
            .await
    }

    /// Changes the conversation's status; `snoozed_until` is when a snoozed one wakes.
    pub async fn set_conversation_status_until(
        &mut self,
        ws: WorkspaceId,
        id: ConversationId,
        status: ConversationStatus,
        snoozed_until: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()> {
        let resolved_at = (status == ConversationStatus::Resolved).then(|| ms(now));
        let snoozed_until = snoozed_until
            .filter(|_| status == ConversationStatus::Snoozed)
            .map(ms);
        self.record_event(
            ws,
            "conversation.updated",
            Some(id),
            serde_json::json!({ "status": status.as_str() }),
            now,
        );
        let result = sqlx::query(
            "UPDATE conversations SET status = $3, resolved_at = $4, updated_at = $5, snoozed_until = $6 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(status.as_str())
        .bind(resolved_at)
        .bind(ms(now))
        .bind(snoozed_until)
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        found(crate::error::on_unique(
            result,
            "conversation_already_open",
            "The contact already has an open conversation on this channel.",
        )?)
    }

    /// Assigns the conversation to a member, or unassigns it with `None`.
    pub async fn assign_conversation(
        &mut self,
        ws: WorkspaceId,
        id: ConversationId,
        assignee: Option<UserId>,
        now: Timestamp,
    ) -> Result<()> {
        self.record_event(
            ws,
            "conversation.updated",
            Some(id),
            serde_json::json!({ "assignee_user_id": assignee.map(|u| u.to_string()) }),
            now,
        );
        let done = sqlx::query(
            "UPDATE conversations SET assignee_user_id = $3, updated_at = $4 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(assignee.map(|u| u.to_string()))
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        found(done)
    }
}

impl Store {
    pub async fn conversation(&self, ws: WorkspaceId, id: ConversationId) -> Result<Conversation> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} {FROM} WHERE c.workspace_id = $1 AND c.id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        conversation_from(&row)
    }

    /// The workspace's conversations in `status` (all when `None`), most recent message
    /// first, at most `limit`.
    pub async fn conversations(
        &self,
        ws: WorkspaceId,
        status: Option<ConversationStatus>,
        limit: i64,
    ) -> Result<Vec<Conversation>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} {FROM} WHERE c.workspace_id = $1 AND ($2 IS NULL OR c.status = $2) \
             ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC LIMIT $3"
        ))
        .bind(ws.to_string())
        .bind(status.map(|s| s.as_str()))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(conversation_from).collect()
    }

    /// A page of the workspace's conversations under `filter`: newest activity first, or
    /// longest waiting first. Only the filters given become SQL conditions, so each shape of
    /// query can walk its index (`conversations_by_*`) from the cursor.
    pub async fn conversation_page(
        &self,
        ws: WorkspaceId,
        filter: &ConversationFilter,
    ) -> Result<Vec<Conversation>> {
        let mut sql = format!("SELECT {COLUMNS} {FROM} WHERE c.workspace_id = $1");
        let mut args: Vec<Arg> = vec![Arg::Text(ws.to_string())];
        let mut arg = |sql: &mut String, template: &str, value: Arg| {
            args.push(value);
            sql.push_str(&template.replace("$?", &format!("${}", args.len())));
            args.len()
        };
        if let Some(status) = filter.status {
            arg(
                &mut sql,
                " AND c.status = $?",
                Arg::Text(status.as_str().to_owned()),
            );
        }
        if let Some(connection) = filter.connection {
            arg(
                &mut sql,
                " AND c.connection_id = $?",
                Arg::Text(connection.to_string()),
            );
        }
        if let Some(kind) = filter.kind {
            arg(
                &mut sql,
                " AND k.kind = $?",
                Arg::Text(kind.as_str().to_owned()),
            );
        }
        match filter.assignee {
            Some(AssigneeFilter::Unassigned) => sql.push_str(" AND c.assignee_user_id IS NULL"),
            Some(AssigneeFilter::User(user)) => {
                arg(
                    &mut sql,
                    " AND c.assignee_user_id = $?",
                    Arg::Text(user.to_string()),
                );
            }
            None => {}
        }
        if let Some(label) = filter.label {
            arg(
                &mut sql,
                " AND EXISTS (SELECT 1 FROM conversation_labels l WHERE l.conversation_id = c.id \
                 AND l.label_id = $?)",
                Arg::Text(label.to_string()),
            );
        }
        match filter.team {
            Some(TeamFilter::None) => sql.push_str(" AND c.team_id IS NULL"),
            Some(TeamFilter::Team(team)) => {
                arg(&mut sql, " AND c.team_id = $?", Arg::Text(team.to_string()));
            }
            // Each of the member's teams is a range of `conversations_by_team_activity`.
            Some(TeamFilter::MemberOf(user)) => {
                arg(
                    &mut sql,
                    " AND c.team_id IN (SELECT t.team_id FROM team_members t \
                     WHERE t.workspace_id = $1 AND t.user_id = $?)",
                    Arg::Text(user.to_string()),
                );
            }
            None => {}
        }
        if filter.unread {
            sql.push_str(" AND c.unread_count > 0");
        }
        let (key, direction) = match filter.sort {
            ConversationSort::Activity => ("c.activity_at", "DESC"),
            ConversationSort::Waiting => {
                sql.push_str(" AND c.waiting_since IS NOT NULL");
                ("c.waiting_since", "ASC")
            }
        };
        if let Some((at, id)) = filter.after {
            // A row-value comparison: one index range on both backends (PostgreSQL cannot
            // make one out of `a < x OR (a = x AND id < y)`).
            let cmp = if direction == "DESC" { "<" } else { ">" };
            let at_param = arg(
                &mut sql,
                &format!(" AND ({key}, c.id) {cmp} ($?"),
                Arg::Int(ms(at)),
            );
            debug_assert!(at_param > 1);
            arg(&mut sql, ", $?)", Arg::Text(id.to_string()));
        }
        sql.push_str(&format!(
            " ORDER BY {key} {direction}, c.id {direction} LIMIT {}",
            filter.limit.clamp(1, 1000)
        ));
        let mut query = sqlx::query(&sql);
        for value in args {
            query = match value {
                Arg::Text(v) => query.bind(v),
                Arg::Int(v) => query.bind(v),
            };
        }
        let rows = query.fetch_all(&self.read).await?;
        rows.iter().map(conversation_from).collect()
    }

    /// Everything a reply in `conversation` needs: the recipient's platform id and the state
    /// of the reply window (for `switchboard_core::window::check_reply`).
    pub async fn reply_target(&self, ws: WorkspaceId, id: ConversationId) -> Result<ReplyTarget> {
        let row = sqlx::query(
            "SELECT c.id, c.connection_id, k.kind, i.external_id, c.last_inbound_at, \
             (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id \
                AND m.direction = 'outbound' AND m.status <> 'failed' \
                AND m.created_at >= COALESCE(c.last_inbound_at, 0)) AS sent \
             FROM conversations c \
             JOIN channel_connections k ON k.id = c.connection_id \
             JOIN contact_identities i ON i.contact_id = c.contact_id AND i.connection_id = c.connection_id \
             WHERE c.workspace_id = $1 AND c.id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(ReplyTarget {
            conversation_id: row.parsed("id")?,
            connection_id: row.parsed("connection_id")?,
            kind: row.valid("kind", ChannelKind::parse)?,
            to: row.text("external_id")?,
            last_inbound_at: row.opt_time("last_inbound_at")?,
            sent_since_last_inbound: u32::try_from(row.int("sent")?).unwrap_or(u32::MAX),
        })
    }
}
