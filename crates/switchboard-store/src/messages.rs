//! Messages: ingest from webhooks (exactly once), delivery statuses (in rank order, whatever
//! order they arrive in), edits and deletions, and outbound messages from queued to sent or
//! failed.
//!
//! Invariants:
//! - a platform message is stored once: `UNIQUE (connection_id, external_id)`, checked and
//!   inserted under a per-message lock, so a redelivered or concurrently duplicated webhook
//!   finds the first copy and reports `duplicate`;
//! - a status never lowers a message's status (sent < delivered < read; failed is final); a
//!   status whose message is not stored yet waits in `pending_statuses` and is applied, under
//!   the same per-message lock, when the message lands or its send is recorded;
//! - content is written and read only here ([`StoredContent`]), the one seam where sealing
//!   under per-subject keys will slot in.

use crate::connections::ConnectionStatus;
use crate::conversations::Placement;
use crate::error::on_unique;
use crate::row::{RowExt, found, known, ms, text_enum};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::channel::{
    DeliveryStatus, InboundMessage, MediaRef, MessageContent, OutboundContent, StatusUpdate,
};
use switchboard_core::{
    ConnectionId, ContactId, ConversationId, MediaObjectId, MessageId, Timestamp, UserId,
    WorkspaceId,
};

text_enum! {
    pub enum Direction {
        /// From the customer.
        Inbound = "inbound",
        /// From an agent or automation, through Switchboard.
        Outbound = "outbound",
        /// From the business, sent outside Switchboard (its phone, page inbox, TikTok app).
        Echo = "echo",
    }
}

text_enum! {
    pub enum MessageStatus {
        /// An inbound message.
        Received = "received",
        /// Outbound, waiting for its send job.
        Queued = "queued",
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        Failed = "failed",
    }
}

impl MessageStatus {
    /// Statuses only move up this order; failed is final.
    pub fn rank(self) -> i64 {
        match self {
            MessageStatus::Received | MessageStatus::Queued => 0,
            MessageStatus::Sent => 1,
            MessageStatus::Delivered => 2,
            MessageStatus::Read => 3,
            MessageStatus::Failed => 4,
        }
    }
}

impl From<DeliveryStatus> for MessageStatus {
    fn from(s: DeliveryStatus) -> Self {
        match s {
            DeliveryStatus::Sent => MessageStatus::Sent,
            DeliveryStatus::Delivered => MessageStatus::Delivered,
            DeliveryStatus::Read => MessageStatus::Read,
            DeliveryStatus::Failed => MessageStatus::Failed,
        }
    }
}

/// What a message carries: what the platform sent (inbound and echoes), or what Switchboard
/// sends (outbound).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum StoredContent {
    Received(MessageContent),
    Sent(OutboundContent),
}

impl StoredContent {
    fn to_json(&self) -> String {
        match self {
            StoredContent::Received(c) => serde_json::to_string(c),
            StoredContent::Sent(c) => serde_json::to_string(c),
        }
        .unwrap_or_else(|_| "{}".to_owned())
    }

    fn from_json(direction: Direction, raw: &str) -> Result<Self> {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("message content: {e}"));
        Ok(match direction {
            Direction::Outbound => StoredContent::Sent(serde_json::from_str(raw).map_err(corrupt)?),
            Direction::Inbound | Direction::Echo => {
                StoredContent::Received(serde_json::from_str(raw).map_err(corrupt)?)
            }
        })
    }

    /// The words in the message, for search and previews.
    pub fn text(&self) -> Option<String> {
        match self {
            StoredContent::Received(c) => match c {
                MessageContent::Text { body } => Some(body.clone()),
                MessageContent::Media { caption, .. } => caption.clone(),
                MessageContent::Location { name, address, .. } => match (name, address) {
                    (Some(n), Some(a)) => Some(format!("{n}, {a}")),
                    (n, a) => n.clone().or_else(|| a.clone()),
                },
                MessageContent::Contacts { cards } => Some(
                    cards
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                MessageContent::Interactive { title, .. } => Some(title.clone()),
                MessageContent::StoryReply { text, .. } => Some(text.clone()),
                MessageContent::SharedPost { text, .. } => text.clone(),
                MessageContent::Reaction { .. }
                | MessageContent::StoryMention { .. }
                | MessageContent::Unsupported { .. } => None,
            },
            StoredContent::Sent(c) => match c {
                OutboundContent::Text { body } => Some(body.clone()),
                OutboundContent::Media { caption, .. } => caption.clone(),
                OutboundContent::Template { .. } => None,
            },
        }
    }

    /// Whether the message carries a file (received or sent).
    pub fn has_media(&self) -> bool {
        matches!(
            self,
            StoredContent::Received(MessageContent::Media { .. })
                | StoredContent::Sent(OutboundContent::Media { .. })
        )
    }

    /// The file name the message's attachment was sent with, if any.
    pub fn filename(&self) -> Option<String> {
        match self {
            StoredContent::Received(MessageContent::Media { filename, .. })
            | StoredContent::Sent(OutboundContent::Media { filename, .. }) => filename.clone(),
            _ => None,
        }
    }

    /// Where to fetch the attachment from, if the message has one to download.
    fn media_source(&self) -> Option<MediaRef> {
        match self {
            StoredContent::Received(MessageContent::Media { media, .. }) => Some(media.clone()),
            StoredContent::Received(MessageContent::StoryMention { media_url }) => {
                Some(MediaRef::Url(media_url.clone()))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Message {
    pub id: MessageId,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    pub connection_id: ConnectionId,
    pub contact_id: ContactId,
    pub direction: Direction,
    pub external_id: Option<String>,
    pub content: StoredContent,
    pub text: Option<String>,
    pub status: MessageStatus,
    pub error_code: Option<String>,
    pub error_reason: Option<String>,
    pub author_user_id: Option<UserId>,
    pub reply_to_external_id: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub platform_at: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub edited_at: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, workspace_id, conversation_id, connection_id, contact_id, direction, \
     external_id, content, text, status, error_code, error_reason, author_user_id, \
     reply_to_external_id, platform_at, created_at, updated_at, edited_at, deleted_at";

fn message_from(row: &AnyRow) -> Result<Message> {
    let direction = known(row, "direction", Direction::parse)?;
    Ok(Message {
        id: row.parsed("id")?,
        workspace_id: row.parsed("workspace_id")?,
        conversation_id: row.parsed("conversation_id")?,
        connection_id: row.parsed("connection_id")?,
        contact_id: row.parsed("contact_id")?,
        direction,
        external_id: row.opt_text("external_id")?,
        content: StoredContent::from_json(direction, &row.text("content")?)?,
        text: row.opt_text("text")?,
        status: known(row, "status", MessageStatus::parse)?,
        error_code: row.opt_text("error_code")?,
        error_reason: row.opt_text("error_reason")?,
        author_user_id: row.opt_parsed("author_user_id")?,
        reply_to_external_id: row.opt_text("reply_to_external_id")?,
        platform_at: row.opt_time("platform_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        edited_at: row.opt_time("edited_at")?,
        deleted_at: row.opt_time("deleted_at")?,
    })
}

/// What ingesting a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub contact_id: ContactId,
    /// The contact was first seen with this message.
    pub created_contact: bool,
    /// A resolved conversation was reopened by this message.
    pub reopened: bool,
    /// The message was already stored (a redelivered webhook); nothing changed.
    pub duplicate: bool,
    /// An attachment to download (a pending media object): enqueue its job in this
    /// transaction.
    pub media: Option<MediaObjectId>,
}

/// What applying a status did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOutcome {
    /// The message's status moved up.
    Applied(MessageId),
    /// The message already had this status or a higher one.
    Unchanged(MessageId),
    /// The message is not stored yet; the status waits for it.
    Parked,
}

/// A page of a conversation's messages: the `limit` messages before `before` (the newest when
/// `None`), returned oldest first.
#[derive(Debug, Clone, Copy)]
pub struct MessagePage {
    pub before: Option<MessageId>,
    pub limit: i64,
}

/// An outbound message to queue.
#[derive(Debug, Clone)]
pub struct NewOutbound<'a> {
    /// The member who wrote it; `None` for automation.
    pub author: Option<UserId>,
    pub content: &'a OutboundContent,
    /// The platform id of the message it answers.
    pub reply_to_external_id: Option<&'a str>,
    /// The API client's `Idempotency-Key`: unique per workspace.
    pub idempotency_key: Option<&'a str>,
}

fn message_lock(connection: ConnectionId, external_id: &str) -> String {
    format!("message:{connection}:{external_id}")
}

impl Tx {
    /// Stores a message from a webhook, exactly once: finds or creates the contact by its
    /// identity on `connection`, puts the message in the contact's live conversation (a
    /// customer's message reopens a resolved one, or a new one starts), and applies any
    /// status that arrived before it. A message already stored returns `duplicate: true`
    /// and changes nothing. `direction` is `Inbound` or `Echo`.
    pub async fn ingest_message(
        &mut self,
        ws: WorkspaceId,
        connection: ConnectionId,
        message: &InboundMessage,
        direction: Direction,
        now: Timestamp,
    ) -> Result<Ingested> {
        if direction == Direction::Outbound {
            return Err(StoreError::conflict(
                "invalid_direction",
                "A webhook brings inbound messages and echoes; replies go through insert_outbound.",
            ));
        }
        self.lock_key(&message_lock(connection, &message.external_id))
            .await?;
        if let Some(row) = sqlx::query(
            "SELECT id, conversation_id, contact_id FROM messages \
             WHERE connection_id = $1 AND external_id = $2 AND workspace_id = $3",
        )
        .bind(connection.to_string())
        .bind(&message.external_id)
        .bind(ws.to_string())
        .fetch_optional(self.conn())
        .await?
        {
            return Ok(Ingested {
                message_id: row.parsed("id")?,
                conversation_id: row.parsed("conversation_id")?,
                contact_id: row.parsed("contact_id")?,
                created_contact: false,
                reopened: false,
                duplicate: true,
                media: None,
            });
        }
        let from_customer = direction == Direction::Inbound;
        let (contact, created_contact) = self
            .find_or_create_contact(ws, connection, message.account.kind, &message.contact, now)
            .await?;
        let Placement {
            conversation,
            reopened,
        } = self
            .place_message(ws, connection, contact, from_customer, now)
            .await?;
        let content = StoredContent::Received(message.content.clone());
        let status = if from_customer {
            MessageStatus::Received
        } else {
            MessageStatus::Sent
        };
        let id = MessageId::new();
        let inserted = sqlx::query(
            "INSERT INTO messages (id, workspace_id, conversation_id, connection_id, contact_id, \
             direction, external_id, content, text, referral, status, status_rank, \
             reply_to_external_id, platform_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) \
             ON CONFLICT (connection_id, external_id) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(conversation.to_string())
        .bind(connection.to_string())
        .bind(contact.to_string())
        .bind(direction.as_str())
        .bind(&message.external_id)
        .bind(content.to_json())
        .bind(content.text())
        .bind(
            message
                .referral
                .as_ref()
                .and_then(|r| serde_json::to_string(r).ok()),
        )
        .bind(status.as_str())
        .bind(status.rank())
        .bind(message.reply_to.as_deref())
        .bind(ms(message.sent_at))
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        if inserted.rows_affected() == 0 {
            // Only reachable if the lock above were bypassed; the constraint still holds.
            return Err(StoreError::conflict(
                "duplicate_message",
                "The message was stored concurrently.",
            ));
        }
        self.note_message(ws, conversation, message.sent_at, from_customer)
            .await?;
        if from_customer {
            self.touch_contact(ws, contact, message.sent_at).await?;
        } else {
            self.apply_parked_status(ws, connection, &message.external_id, now)
                .await?;
        }
        let media = match content.media_source() {
            Some(source) => Some(self.insert_media_object(ws, id, &source, now).await?),
            None => None,
        };
        self.record_event(
            ws,
            "message.created",
            Some(conversation),
            serde_json::json!({ "message_id": id.to_string(), "direction": direction.as_str() }),
            now,
        );
        Ok(Ingested {
            message_id: id,
            conversation_id: conversation,
            contact_id: contact,
            created_contact,
            reopened,
            duplicate: false,
            media,
        })
    }

    /// Applies a delivery status to the message with the platform id it names, in rank
    /// order; parks it when the message is not stored yet.
    pub async fn apply_status(
        &mut self,
        ws: WorkspaceId,
        connection: ConnectionId,
        update: &StatusUpdate,
        now: Timestamp,
    ) -> Result<StatusOutcome> {
        self.lock_key(&message_lock(connection, &update.external_id))
            .await?;
        let status = MessageStatus::from(update.status);
        let (code, reason) = match &update.error {
            Some(e) => (
                Some(e.code.clone()),
                e.detail.clone().or_else(|| e.title.clone()),
            ),
            None => (None, None),
        };
        let target = sqlx::query(
            "SELECT id FROM messages WHERE connection_id = $1 AND external_id = $2 AND workspace_id = $3",
        )
        .bind(connection.to_string())
        .bind(&update.external_id)
        .bind(ws.to_string())
        .fetch_optional(self.conn())
        .await?;
        let Some(row) = target else {
            sqlx::query(
                "INSERT INTO pending_statuses (connection_id, external_id, workspace_id, status, \
                 status_rank, status_at, error_code, error_reason, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (connection_id, external_id) DO UPDATE SET status = excluded.status, \
                 status_rank = excluded.status_rank, status_at = excluded.status_at, \
                 error_code = excluded.error_code, error_reason = excluded.error_reason \
                 WHERE excluded.status_rank > pending_statuses.status_rank",
            )
            .bind(connection.to_string())
            .bind(&update.external_id)
            .bind(ws.to_string())
            .bind(status.as_str())
            .bind(status.rank())
            .bind(ms(update.at))
            .bind(code)
            .bind(reason)
            .bind(ms(now))
            .execute(self.conn())
            .await?;
            return Ok(StatusOutcome::Parked);
        };
        let id: MessageId = row.parsed("id")?;
        let moved = self
            .raise_status(ws, id, status, code.as_deref(), reason.as_deref(), now)
            .await?;
        Ok(if moved {
            StatusOutcome::Applied(id)
        } else {
            StatusOutcome::Unchanged(id)
        })
    }

    /// Sets the message's status if it ranks higher than the current one.
    async fn raise_status(
        &mut self,
        ws: WorkspaceId,
        id: MessageId,
        status: MessageStatus,
        code: Option<&str>,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<bool> {
        let moved = sqlx::query(
            "UPDATE messages SET status = $3, status_rank = $4, error_code = $5, error_reason = $6, \
             updated_at = $7 WHERE workspace_id = $1 AND id = $2 AND status_rank < $4 \
             RETURNING conversation_id",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(status.as_str())
        .bind(status.rank())
        .bind(code)
        .bind(reason)
        .bind(ms(now))
        .fetch_optional(self.conn())
        .await?;
        let Some(row) = moved else {
            return Ok(false);
        };
        self.message_updated(ws, row.parsed("conversation_id")?, id, status, now);
        Ok(true)
    }

    /// Records that a message changed (its status, text or deletion).
    fn message_updated(
        &mut self,
        ws: WorkspaceId,
        conversation: ConversationId,
        id: MessageId,
        status: MessageStatus,
        now: Timestamp,
    ) {
        self.record_event(
            ws,
            "message.updated",
            Some(conversation),
            serde_json::json!({ "message_id": id.to_string(), "status": status.as_str() }),
            now,
        );
    }

    /// Applies (and forgets) the status parked for `external_id`, if any. The caller holds
    /// the message's lock.
    async fn apply_parked_status(
        &mut self,
        ws: WorkspaceId,
        connection: ConnectionId,
        external_id: &str,
        now: Timestamp,
    ) -> Result<()> {
        let parked = sqlx::query(
            "DELETE FROM pending_statuses WHERE connection_id = $1 AND external_id = $2 \
             AND workspace_id = $3 RETURNING status, error_code, error_reason",
        )
        .bind(connection.to_string())
        .bind(external_id)
        .bind(ws.to_string())
        .fetch_optional(self.conn())
        .await?;
        let Some(row) = parked else {
            return Ok(());
        };
        let status = known(&row, "status", MessageStatus::parse)?;
        let code = row.opt_text("error_code")?;
        let reason = row.opt_text("error_reason")?;
        let id: MessageId = sqlx::query(
            "SELECT id FROM messages WHERE connection_id = $1 AND external_id = $2 AND workspace_id = $3",
        )
        .bind(connection.to_string())
        .bind(external_id)
        .bind(ws.to_string())
        .fetch_one(self.conn())
        .await?
        .parsed("id")?;
        self.raise_status(ws, id, status, code.as_deref(), reason.as_deref(), now)
            .await?;
        Ok(())
    }

    /// Messenger's watermark: every message the business sent to the contact up to `up_to`
    /// is now at least `status`. Returns how many moved.
    pub async fn apply_watermark(
        &mut self,
        ws: WorkspaceId,
        connection: ConnectionId,
        contact_external_id: &str,
        status: DeliveryStatus,
        up_to: Timestamp,
        now: Timestamp,
    ) -> Result<u64> {
        let status = MessageStatus::from(status);
        let done = sqlx::query(
            "UPDATE messages SET status = $4, status_rank = $5, updated_at = $7 \
             WHERE workspace_id = $1 AND connection_id = $2 \
             AND contact_id = (SELECT contact_id FROM contact_identities \
                 WHERE connection_id = $2 AND external_id = $3 AND workspace_id = $1) \
             AND direction <> 'inbound' AND status_rank >= 1 AND status_rank < $5 \
             AND status <> 'failed' AND COALESCE(platform_at, created_at) <= $6 \
             RETURNING id, conversation_id",
        )
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(contact_external_id)
        .bind(status.as_str())
        .bind(status.rank())
        .bind(ms(up_to))
        .bind(ms(now))
        .fetch_all(self.conn())
        .await?;
        for row in &done {
            self.message_updated(
                ws,
                row.parsed("conversation_id")?,
                row.parsed("id")?,
                status,
                now,
            );
        }
        Ok(done.len() as u64)
    }

    /// The customer deleted (unsent) a message: its content is cleared and it is marked
    /// deleted. Returns its id, or `None` when it was never stored.
    pub async fn mark_deleted(
        &mut self,
        ws: WorkspaceId,
        connection: ConnectionId,
        external_id: &str,
        at: Timestamp,
    ) -> Result<Option<MessageId>> {
        let content = StoredContent::Received(MessageContent::Unsupported {
            platform_type: "deleted".into(),
        });
        let row = sqlx::query(
            "UPDATE messages SET content = $4, text = NULL, deleted_at = $5, updated_at = $5 \
             WHERE workspace_id = $1 AND connection_id = $2 AND external_id = $3 \
             AND direction <> 'outbound' RETURNING id, conversation_id, status",
        )
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(external_id)
        .bind(content.to_json())
        .bind(ms(at))
        .fetch_optional(self.conn())
        .await?;
        self.updated_row(ws, row.as_ref(), at)
    }

    /// The customer edited a message: its content is replaced. Returns its id, or `None`
    /// when the original was never stored (the caller may ingest the edit as new).
    pub async fn apply_edit(
        &mut self,
        ws: WorkspaceId,
        connection: ConnectionId,
        message: &InboundMessage,
        now: Timestamp,
    ) -> Result<Option<MessageId>> {
        let content = StoredContent::Received(message.content.clone());
        let row = sqlx::query(
            "UPDATE messages SET content = $4, text = $5, edited_at = $6, updated_at = $6 \
             WHERE workspace_id = $1 AND connection_id = $2 AND external_id = $3 \
             AND direction <> 'outbound' AND deleted_at IS NULL RETURNING id, conversation_id, status",
        )
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(&message.external_id)
        .bind(content.to_json())
        .bind(content.text())
        .bind(ms(now))
        .fetch_optional(self.conn())
        .await?;
        self.updated_row(ws, row.as_ref(), now)
    }

    /// Records the event for a row an UPDATE returned (id, conversation_id, status).
    fn updated_row(
        &mut self,
        ws: WorkspaceId,
        row: Option<&AnyRow>,
        now: Timestamp,
    ) -> Result<Option<MessageId>> {
        let Some(row) = row else {
            return Ok(None);
        };
        let id: MessageId = row.parsed("id")?;
        let status = known(row, "status", MessageStatus::parse)?;
        self.message_updated(ws, row.parsed("conversation_id")?, id, status, now);
        Ok(Some(id))
    }

    /// Queues a reply in `conversation` (status `queued`, no platform id yet). Enqueue its
    /// send job in this same transaction. Refused (`connection_disconnected`) once the
    /// conversation's channel is disconnected. The reply-window check
    /// (`switchboard_core::window::check_reply`, fed by [`Store::reply_target`]) comes first.
    pub async fn insert_outbound(
        &mut self,
        ws: WorkspaceId,
        conversation: ConversationId,
        new: &NewOutbound<'_>,
        now: Timestamp,
    ) -> Result<MessageId> {
        let connection_status: String = sqlx::query_scalar(
            "SELECT k.status FROM conversations c \
             JOIN channel_connections k ON k.id = c.connection_id \
             WHERE c.workspace_id = $1 AND c.id = $2",
        )
        .bind(ws.to_string())
        .bind(conversation.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        if connection_status == ConnectionStatus::Disconnected.as_str() {
            return Err(StoreError::conflict(
                "connection_disconnected",
                "This conversation's channel is disconnected; nothing can be sent on it.",
            ));
        }
        let id = MessageId::new();
        let content = StoredContent::Sent(new.content.clone());
        let done = sqlx::query(
            "INSERT INTO messages (id, workspace_id, conversation_id, connection_id, contact_id, \
             direction, content, text, status, status_rank, author_user_id, reply_to_external_id, \
             created_at, updated_at, idempotency_key) \
             SELECT $1, workspace_id, id, connection_id, contact_id, 'outbound', $3, $4, 'queued', 0, \
             $5, $6, $7, $7, $9 FROM conversations WHERE workspace_id = $2 AND id = $8",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(content.to_json())
        .bind(content.text())
        .bind(new.author.map(|u| u.to_string()))
        .bind(new.reply_to_external_id)
        .bind(ms(now))
        .bind(conversation.to_string())
        .bind(new.idempotency_key)
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        let done = on_unique(
            done,
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is already being handled.",
        )?;
        found(done)?;
        self.note_message(ws, conversation, now, false).await?;
        self.record_event(
            ws,
            "message.created",
            Some(conversation),
            serde_json::json!({ "message_id": id.to_string(), "direction": "outbound" }),
            now,
        );
        Ok(id)
    }

    /// Records that the platform accepted an outbound message under `external_id`, and
    /// applies a status the platform reported before this was recorded. If the platform
    /// already echoed the message back (Messenger echoes sends), the echo's copy is dropped
    /// in favour of this one.
    pub async fn mark_sent(
        &mut self,
        ws: WorkspaceId,
        id: MessageId,
        external_id: &str,
        now: Timestamp,
    ) -> Result<()> {
        let connection: ConnectionId = sqlx::query(
            "SELECT connection_id FROM messages WHERE workspace_id = $1 AND id = $2 \
             AND direction = 'outbound'",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?
        .parsed("connection_id")?;
        self.lock_key(&message_lock(connection, external_id))
            .await?;
        // The echo's status (a delivery or read already applied to it) carries over.
        let echo = sqlx::query(
            "DELETE FROM messages WHERE workspace_id = $1 AND connection_id = $2 \
             AND external_id = $3 AND direction = 'echo' \
             RETURNING status, error_code, error_reason",
        )
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(external_id)
        .fetch_optional(self.conn())
        .await?;
        let done = sqlx::query(
            "UPDATE messages SET external_id = $3, platform_at = $4, updated_at = $4, \
             status = CASE WHEN status_rank < 1 THEN 'sent' ELSE status END, \
             status_rank = CASE WHEN status_rank < 1 THEN 1 ELSE status_rank END \
             WHERE workspace_id = $1 AND id = $2 RETURNING id, conversation_id, status",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(external_id)
        .bind(ms(now))
        .fetch_optional(self.conn())
        .await?;
        self.updated_row(ws, done.as_ref(), now)?
            .ok_or(StoreError::NotFound)?;
        if let Some(echo) = echo {
            let status = known(&echo, "status", MessageStatus::parse)?;
            let code = echo.opt_text("error_code")?;
            let reason = echo.opt_text("error_reason")?;
            self.raise_status(ws, id, status, code.as_deref(), reason.as_deref(), now)
                .await?;
        }
        self.apply_parked_status(ws, connection, external_id, now)
            .await
    }

    /// Records that sending failed for good, with the platform's code and a reason the agent
    /// can act on.
    pub async fn mark_failed(
        &mut self,
        ws: WorkspaceId,
        id: MessageId,
        code: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE messages SET status = 'failed', status_rank = $5, error_code = $3, \
             error_reason = $4, updated_at = $6 WHERE workspace_id = $1 AND id = $2 \
             RETURNING id, conversation_id, status",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(code)
        .bind(reason)
        .bind(MessageStatus::Failed.rank())
        .bind(ms(now))
        .fetch_optional(self.conn())
        .await?;
        self.updated_row(ws, done.as_ref(), now)?
            .ok_or(StoreError::NotFound)?;
        Ok(())
    }

    /// The widget visitor has the business's messages up to `up_to` (`Delivered`: fetched by
    /// their browser; `Read`: shown to them). Their platform id is their own id, as the send
    /// job records for widget replies. Statuses only rise; failed messages stay failed.
    /// Returns how many moved.
    pub async fn mark_widget_replies(
        &mut self,
        ws: WorkspaceId,
        connection: ConnectionId,
        contact: ContactId,
        up_to: MessageId,
        status: MessageStatus,
        now: Timestamp,
    ) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE messages SET status = $5, status_rank = $6, \
             external_id = COALESCE(external_id, id), platform_at = COALESCE(platform_at, $7), \
             updated_at = $7 WHERE workspace_id = $1 AND connection_id = $2 AND contact_id = $3 \
             AND direction = 'outbound' AND id <= $4 AND status_rank < $6",
        )
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(contact.to_string())
        .bind(up_to.to_string())
        .bind(status.as_str())
        .bind(status.rank())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected())
    }

    /// Deletes statuses that waited longer than `cutoff` for a message that never came (one
    /// sent outside Switchboard whose echo was not delivered).
    pub async fn delete_pending_statuses_before(&mut self, cutoff: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM pending_statuses WHERE received_at < $1")
            .bind(ms(cutoff))
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    pub async fn message(&self, ws: WorkspaceId, id: MessageId) -> Result<Message> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        message_from(&row)
    }

    /// How many messages a connection of `ws` holds (benchmarks check what was stored).
    pub async fn message_count(&self, ws: WorkspaceId, connection: ConnectionId) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE workspace_id = $1 AND connection_id = $2",
        )
        .bind(ws.to_string())
        .bind(connection.to_string())
        .fetch_one(&self.read)
        .await?)
    }

    /// A page of the conversation's messages, oldest first (see [`MessagePage`]).
    pub async fn messages(
        &self,
        ws: WorkspaceId,
        conversation: ConversationId,
        page: MessagePage,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE workspace_id = $1 AND conversation_id = $2 \
             AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        ))
        .bind(ws.to_string())
        .bind(conversation.to_string())
        .bind(page.before.map(|m| m.to_string()))
        .bind(page.limit)
        .fetch_all(&self.read)
        .await?;
        let mut messages = rows.iter().map(message_from).collect::<Result<Vec<_>>>()?;
        messages.reverse();
        Ok(messages)
    }

    /// What a widget visitor sees of their conversation on widget `connection`: their own
    /// messages and the business's replies (not failed ones, nor deleted ones), oldest first,
    /// at most `limit`. With `after` (the last message the visitor has), the page starts a
    /// few seconds before that message was stored, because on PostgreSQL a message can commit
    /// after a later-numbered one: the visitor's browser drops what it already has by id.
    pub async fn widget_messages(
        &self,
        ws: WorkspaceId,
        connection: ConnectionId,
        contact: ContactId,
        after: Option<MessageId>,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE workspace_id = $1 AND connection_id = $2 \
             AND contact_id = $3 AND direction <> 'echo' AND deleted_at IS NULL \
             AND status <> 'failed' \
             AND ($4 IS NULL OR created_at >= COALESCE((SELECT m.created_at FROM messages m \
                 WHERE m.workspace_id = $1 AND m.contact_id = $3 AND m.id = $4), 0) - 5000) \
             ORDER BY id LIMIT $5"
        ))
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(contact.to_string())
        .bind(after.map(|a| a.to_string()))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(message_from).collect()
    }

    /// The outbound message queued with the API client's `Idempotency-Key`.
    pub async fn message_by_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
    ) -> Result<Option<Message>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE workspace_id = $1 AND idempotency_key = $2"
        ))
        .bind(ws.to_string())
        .bind(key)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(message_from).transpose()
    }

    /// The message with platform id `external_id` on `connection`.
    pub async fn message_by_external_id(
        &self,
        ws: WorkspaceId,
        connection: ConnectionId,
        external_id: &str,
    ) -> Result<Option<Message>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE workspace_id = $1 AND connection_id = $2 \
             AND external_id = $3"
        ))
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(external_id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(message_from).transpose()
    }
}
