//! Media objects: a message's attachment, from `pending` (to be downloaded by a job) to
//! `stored` in the media store (with its key, type, size and checksum) or `failed`.

use crate::row::{RowExt, found, known, ms, text_enum};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::channel::MediaRef;
use switchboard_core::{MediaObjectId, MessageId, Timestamp, WorkspaceId};

text_enum! {
    pub enum MediaState {
        Pending = "pending",
        Stored = "stored",
        Failed = "failed",
    }
}

/// Where a downloaded object went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMedia<'a> {
    pub storage_key: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes stored.
    pub sha256: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MediaObject {
    pub id: MediaObjectId,
    pub workspace_id: WorkspaceId,
    pub message_id: MessageId,
    /// Where to download it from, until it is stored.
    pub source: Option<MediaRef>,
    pub storage_key: Option<String>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub state: MediaState,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

const COLUMNS: &str = "id, workspace_id, message_id, source, storage_key, content_type, size_bytes, \
     sha256, state, error, created_at";

fn media_from(row: &AnyRow) -> Result<MediaObject> {
    let source = row
        .opt_text("source")?
        .map(|raw| serde_json::from_str(&raw))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("media source: {e}")))?;
    Ok(MediaObject {
        id: row.parsed("id")?,
        workspace_id: row.parsed("workspace_id")?,
        message_id: row.parsed("message_id")?,
        source,
        storage_key: row.opt_text("storage_key")?,
        content_type: row.opt_text("content_type")?,
        size_bytes: row.opt_int("size_bytes")?,
        sha256: row.opt_text("sha256")?,
        state: known(row, "state", MediaState::parse)?,
        error: row.opt_text("error")?,
        created_at: row.time("created_at")?,
    })
}

impl Tx {
    /// A pending media object for the message's attachment (ingest creates these; enqueue the
    /// download job in the same transaction).
    pub async fn insert_media_object(
        &mut self,
        ws: WorkspaceId,
        message: MessageId,
        source: &MediaRef,
        now: Timestamp,
    ) -> Result<MediaObjectId> {
        let id = MediaObjectId::new();
        let source = serde_json::to_string(source)
            .map_err(|e| StoreError::Corrupt(format!("media source: {e}")))?;
        let done = sqlx::query(
            "INSERT INTO media_objects (id, workspace_id, message_id, contact_id, source, state, \
             created_at, updated_at) \
             SELECT $1, workspace_id, id, contact_id, $3, 'pending', $4, $4 FROM messages \
             WHERE workspace_id = $2 AND id = $5",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(source)
        .bind(ms(now))
        .bind(message.to_string())
        .execute(self.conn())
        .await?;
        found(done)?;
        Ok(id)
    }

    /// An object that is in the media store from the start: a file an agent or a widget
    /// visitor uploaded with the message (`id` is the one its file was written under).
    pub async fn insert_stored_media(
        &mut self,
        ws: WorkspaceId,
        message: MessageId,
        id: MediaObjectId,
        stored: &StoredMedia<'_>,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO media_objects (id, workspace_id, message_id, contact_id, storage_key, \
             content_type, size_bytes, sha256, state, created_at, updated_at) \
             SELECT $1, workspace_id, id, contact_id, $3, $4, $5, $6, 'stored', $7, $7 \
             FROM messages WHERE workspace_id = $2 AND id = $8",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(stored.storage_key)
        .bind(stored.content_type)
        .bind(stored.size_bytes)
        .bind(stored.sha256)
        .bind(ms(now))
        .bind(message.to_string())
        .execute(self.conn())
        .await?;
        found(done)
    }

    /// The object is in the media store. The download source is forgotten (a platform URL
    /// can carry a token and expires anyway).
    pub async fn mark_media_stored(
        &mut self,
        ws: WorkspaceId,
        id: MediaObjectId,
        stored: &StoredMedia<'_>,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE media_objects SET state = 'stored', storage_key = $3, content_type = $4, \
             size_bytes = $5, sha256 = $6, source = NULL, error = NULL, updated_at = $7 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(stored.storage_key)
        .bind(stored.content_type)
        .bind(stored.size_bytes)
        .bind(stored.sha256)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        found(done)
    }

    /// The download failed for good (too large, gone, refused).
    pub async fn mark_media_failed(
        &mut self,
        ws: WorkspaceId,
        id: MediaObjectId,
        error: &str,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE media_objects SET state = 'failed', error = $3, updated_at = $4 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(error)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        found(done)
    }
}

impl Store {
    pub async fn media_object(&self, ws: WorkspaceId, id: MediaObjectId) -> Result<MediaObject> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM media_objects WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        media_from(&row)
    }

    /// The message's attachments.
    pub async fn media_of_message(
        &self,
        ws: WorkspaceId,
        message: MessageId,
    ) -> Result<Vec<MediaObject>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM media_objects WHERE workspace_id = $1 AND message_id = $2 \
             ORDER BY id"
        ))
        .bind(ws.to_string())
        .bind(message.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(media_from).collect()
    }

    /// The attachments of the conversation's messages (for showing a page of them).
    pub async fn media_of_conversation(
        &self,
        ws: WorkspaceId,
        conversation: switchboard_core::ConversationId,
    ) -> Result<Vec<MediaObject>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM media_objects WHERE workspace_id = $1 AND message_id IN \
             (SELECT id FROM messages WHERE workspace_id = $1 AND conversation_id = $2) ORDER BY id"
        ))
        .bind(ws.to_string())
        .bind(conversation.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(media_from).collect()
    }
}
