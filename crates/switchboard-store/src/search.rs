//! Search over message text, scoped to one workspace: SQLite's FTS5 index `message_search`
//! and PostgreSQL's GIN index of the same name (see the migration `0008_inbox`), both
//! declared in `switchboard_core::inventory::SEARCH_INDEXES`.
//!
//! Invariant: what the user typed never reaches either query language as syntax — it is cut
//! into words of letters and digits, each quoted (FTS5) or checked alphanumeric (tsquery) —
//! so every input is a valid query, and the matching is the same on both backends: every
//! word, the last one as a prefix (search as you type).

use crate::row::RowExt;
use crate::{Backend, Result, Store};
use switchboard_core::{ContactId, ConversationId, MessageId, Timestamp, WorkspaceId};

/// One message that matched.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MessageHit {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub contact_id: ContactId,
    pub contact_name: Option<String>,
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

/// The words of a query: letters and digits, lowercased, at most 8 of at most 64 characters.
pub fn query_words(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().chars().take(64).collect::<String>())
        .take(8)
        .collect()
}

impl Store {
    /// The workspace's messages whose text has every word of `query` (the last as a prefix),
    /// newest first, at most `limit`. (SQLite orders by the index's rowid, i.e. the order
    /// messages were stored, which FTS5 walks backwards without sorting every match.)
    pub async fn search_messages(
        &self,
        ws: WorkspaceId,
        query: &str,
        limit: i64,
    ) -> Result<Vec<MessageHit>> {
        let words = query_words(query);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let last = words.len() - 1;
        let (sql, expression) = match self.backend {
            Backend::Sqlite => (
                "SELECT m.id, m.conversation_id, m.contact_id, p.display_name, m.text, m.created_at \
                 FROM message_search s JOIN messages m ON m.rowid = s.rowid \
                 JOIN contacts p ON p.id = m.contact_id \
                 WHERE message_search MATCH $2 AND s.workspace_id = $1 AND m.workspace_id = $1 \
                 ORDER BY s.rowid DESC LIMIT $3",
                words
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        let quoted = format!("\"{}\"", w.replace('"', "\"\""));
                        if i == last {
                            format!("{quoted}*")
                        } else {
                            quoted
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Backend::Postgres => (
                "SELECT m.id, m.conversation_id, m.contact_id, p.display_name, m.text, m.created_at \
                 FROM messages m JOIN contacts p ON p.id = m.contact_id \
                 WHERE m.workspace_id = $1 \
                 AND to_tsvector('simple', COALESCE(m.text, '')) @@ to_tsquery('simple', $2) \
                 ORDER BY m.created_at DESC, m.id DESC LIMIT $3",
                words
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        if i == last {
                            format!("{w}:*")
                        } else {
                            w.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" & "),
            ),
        };
        let rows = sqlx::query(sql)
            .bind(ws.to_string())
            .bind(expression)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(MessageHit {
                    message_id: row.parsed("id")?,
                    conversation_id: row.parsed("conversation_id")?,
                    contact_id: row.parsed("contact_id")?,
                    contact_name: row.opt_text("display_name")?,
                    text: row.opt_text("text")?.unwrap_or_default(),
                    created_at: row.time("created_at")?,
                })
            })
            .collect()
    }

    /// The contact's most recent conversation (where a search result about them leads).
    pub async fn latest_conversation_of(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> Result<Option<ConversationId>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM conversations WHERE workspace_id = $1 AND contact_id = $2 \
             ORDER BY activity_at DESC, id DESC LIMIT 1",
        )
        .bind(ws.to_string())
        .bind(contact.to_string())
        .fetch_optional(&self.read)
        .await?;
        Ok(id.and_then(|i| i.parse().ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_drop_syntax() {
        assert_eq!(
            query_words(r#"Where's "my" ORDER* -now"#),
            ["where", "s", "my", "order", "now"]
        );
        assert!(query_words(" *:&|!()\" ").is_empty());
    }
}
