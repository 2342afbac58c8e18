//! WhatsApp message templates, synced per connection from the platform's catalogue. A sync
//! replaces the connection's whole list in one transaction, so the catalogue is never seen
//! half-synced.

use crate::row::{RowExt, ms};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::{ConnectionId, MessageTemplateId, Timestamp, WorkspaceId};

/// A template as the platform lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TemplateSpec {
    pub name: String,
    pub language: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    pub category: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, ...
    pub status: String,
    /// The body text with its `{{1}}`... placeholders.
    pub body: String,
    pub parameter_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MessageTemplate {
    pub id: MessageTemplateId,
    pub connection_id: ConnectionId,
    #[serde(flatten)]
    pub spec: TemplateSpec,
    #[serde(with = "time::serde::rfc3339")]
    pub synced_at: Timestamp,
}

impl MessageTemplate {
    pub fn is_approved(&self) -> bool {
        self.spec.status.eq_ignore_ascii_case("APPROVED")
    }
}

const COLUMNS: &str =
    "id, connection_id, name, language, category, status, body, parameter_count, synced_at";

fn template_from(row: &AnyRow) -> Result<MessageTemplate> {
    Ok(MessageTemplate {
        id: row.parsed("id")?,
        connection_id: row.parsed("connection_id")?,
        spec: TemplateSpec {
            name: row.text("name")?,
            language: row.text("language")?,
            category: row.text("category")?,
            status: row.text("status")?,
            body: row.text("body")?,
            parameter_count: row.int("parameter_count")?,
        },
        synced_at: row.time("synced_at")?,
    })
}

impl Tx {
    /// Replaces the connection's templates with `list` (a sync). `NotFound` when the
    /// connection is not the workspace's.
    pub async fn replace_templates(
        &mut self,
        ws: WorkspaceId,
        connection: ConnectionId,
        list: &[TemplateSpec],
        now: Timestamp,
    ) -> Result<()> {
        self.connection(ws, connection).await?;
        sqlx::query("DELETE FROM message_templates WHERE workspace_id = $1 AND connection_id = $2")
            .bind(ws.to_string())
            .bind(connection.to_string())
            .execute(self.conn())
            .await?;
        for t in list {
            sqlx::query(
                "INSERT INTO message_templates (id, workspace_id, connection_id, name, language, \
                 category, status, body, parameter_count, synced_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (connection_id, name, language) DO NOTHING",
            )
            .bind(MessageTemplateId::new().to_string())
            .bind(ws.to_string())
            .bind(connection.to_string())
            .bind(&t.name)
            .bind(&t.language)
            .bind(&t.category)
            .bind(&t.status)
            .bind(&t.body)
            .bind(t.parameter_count)
            .bind(ms(now))
            .execute(self.conn())
            .await
            .map_err(StoreError::from)?;
        }
        Ok(())
    }
}

impl Store {
    /// The template `name` in `language` on the connection, whatever its status.
    pub async fn template(
        &self,
        ws: WorkspaceId,
        connection: ConnectionId,
        name: &str,
        language: &str,
    ) -> Result<Option<MessageTemplate>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM message_templates WHERE workspace_id = $1 AND connection_id = $2 \
             AND name = $3 AND language = $4"
        ))
        .bind(ws.to_string())
        .bind(connection.to_string())
        .bind(name)
        .bind(language)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(template_from).transpose()
    }

    /// The connection's templates by name and language.
    pub async fn templates(
        &self,
        ws: WorkspaceId,
        connection: ConnectionId,
    ) -> Result<Vec<MessageTemplate>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM message_templates WHERE workspace_id = $1 AND connection_id = $2 \
             ORDER BY name, language"
        ))
        .bind(ws.to_string())
        .bind(connection.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(template_from).collect()
    }
}
