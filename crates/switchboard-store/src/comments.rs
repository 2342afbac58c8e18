//! Instagram comments on the business's media, and replies to them (migration `0005`).
//!
//! Invariants: a comment is stored once (`UNIQUE (connection_id, external_id)`, checked and
//! inserted under a per-comment lock, as messages are), so a redelivered webhook changes
//! nothing; the commenter is a contact found or created by their identity on the connection;
//! replies are threaded by their parent's platform id, and a reply whose parent never
//! arrived is listed as a thread of its own rather than lost.

use crate::row::{RowExt, ms};
use crate::{Result, Store, Tx};
use sqlx::any::AnyRow;
use switchboard_core::channel::Comment;
use switchboard_core::{CommentId, ConnectionId, ContactId, Timestamp, WorkspaceId};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredComment {
    pub id: CommentId,
    pub connection_id: ConnectionId,
    pub contact_id: ContactId,
    /// The platform's id for the comment.
    pub external_id: String,
    /// The post (media) it is on.
    pub media_id: Option<String>,
    /// The platform id of the comment it answers.
    pub parent_external_id: Option<String>,
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub commented_at: Timestamp,
}

/// A comment with the replies to it, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommentThread {
    pub comment: StoredComment,
    pub replies: Vec<StoredComment>,
}

const COLUMNS: &str = "c.id, c.connection_id, c.contact_id, c.external_id, c.media_id, \
     c.parent_external_id, c.text, c.commented_at";

fn comment_from(row: &AnyRow) -> Result<StoredComment> {
    Ok(StoredComment {
        id: row.parsed("id")?,
        connection_id: row.parsed("connection_id")?,
        contact_id: row.parsed("contact_id")?,
        external_id: row.text("external_id")?,
        media_id: row.opt_text("media_id")?,
        parent_external_id: row.opt_text("parent_external_id")?,
        text: row.text("text")?,
        commented_at: row.time("commented_at")?,
    })
}

impl Tx {
    /// Stores a comment from a webhook, once; `false` when it was already stored.
    pub async fn ingest_comment(
        &mut self,
        ws: WorkspaceId,
        connection: ConnectionId,
        comment: &Comment,
        now: Timestamp,
    ) -> Result<bool> {
        self.lock_key(&format!("comment:{connection}:{}", comment.external_id))
            .await?;
        let exists: Option<String> = sqlx::query_scalar(
            "SELECT id FROM comments WHERE connection_id = $1 AND external_id = $2 \
             AND workspace_id = $3",
        )
        .bind(connection.to_string())
        .bind(&comment.external_id)
        .bind(ws.to_string())
        .fetch_optional(self.conn())
        .await?;
        if exists.is_some() {
            return Ok(false);
        }
        let (contact, _) = self
            .find_or_create_contact(ws, connection, comment.account.kind, &comment.from, now)
            .await?;
        let done = sqlx::query(
            "INSERT INTO comments (id, workspace_id, connection_id, contact_id, external_id, \
             media_id, parent_external_id, text, commented_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (connection_id, external_id) DO NOTHING",
        )
        .bind(CommentId::new().to_string())
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(contact.to_string())
        .bind(&comment.external_id)
        .bind(comment.media_id.as_deref())
        .bind(comment.parent_id.as_deref())
        .bind(&comment.text)
        .bind(ms(comment.at))
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Store {
    /// A page of a connection's comment threads, newest first, starting after the thread
    /// `before` (the last of the previous page): comments that answer no stored comment, each
    /// with its replies.
    pub async fn comment_threads(
        &self,
        ws: WorkspaceId,
        connection: ConnectionId,
        before: Option<CommentId>,
        limit: i64,
    ) -> Result<Vec<CommentThread>> {
        let roots = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM comments c WHERE c.workspace_id = $1 AND c.connection_id = $2 \
             AND (c.parent_external_id IS NULL OR NOT EXISTS (SELECT 1 FROM comments p \
               WHERE p.connection_id = c.connection_id AND p.external_id = c.parent_external_id)) \
             AND ($3 IS NULL OR c.id < $3) ORDER BY c.id DESC LIMIT $4"
        ))
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(before.map(|b| b.to_string()))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        let mut threads = Vec::with_capacity(roots.len());
        for root in &roots {
            let comment = comment_from(root)?;
            let replies = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM comments c WHERE c.workspace_id = $1 \
                 AND c.connection_id = $2 AND c.parent_external_id = $3 ORDER BY c.id"
            ))
            .bind(ws.to_string())
            .bind(connection.to_string())
            .bind(&comment.external_id)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(comment_from)
            .collect::<Result<Vec<_>>>()?;
            threads.push(CommentThread { comment, replies });
        }
        Ok(threads)
    }
}
