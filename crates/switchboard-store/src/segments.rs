//! Segments: a workspace's saved filters over its contacts, by name. The filter is stored as
//! the JSON document the API validated (`routes::segments`), so a segment lists what the
//! contact list would show with the same filters, as the contacts are now.
//!
//! Invariant: the stored filter was validated when saved; one naming a label or attribute
//! deleted since matches nothing rather than everything.

use crate::error::on_unique;
use crate::row::{RowExt, ms};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::{SegmentId, Timestamp, UserId, WorkspaceId};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Segment {
    pub id: SegmentId,
    pub name: String,
    pub filter: serde_json::Value,
    pub created_by: Option<UserId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, name, filter, created_by, created_at, updated_at FROM segments";

fn segment_from(row: &AnyRow) -> Result<Segment> {
    Ok(Segment {
        id: row.parsed("id")?,
        name: row.text("name")?,
        filter: crate::row::json(row, "filter")?,
        created_by: row.opt_parsed("created_by")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

const TAKEN: &str = "A segment with this name exists already (or this Idempotency-Key is in use).";

impl Store {
    /// The workspace's segments, by name.
    pub async fn segments(&self, ws: WorkspaceId) -> Result<Vec<Segment>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} WHERE workspace_id = $1 ORDER BY name"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(segment_from).collect()
    }

    pub async fn segment(&self, ws: WorkspaceId, id: SegmentId) -> Result<Segment> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        segment_from(&row)
    }

    pub async fn segment_by_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
    ) -> Result<Option<Segment>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} WHERE workspace_id = $1 AND idempotency_key = $2"
        ))
        .bind(ws.to_string())
        .bind(key)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(segment_from).transpose()
    }
}

impl Tx {
    pub async fn create_segment(
        &mut self,
        ws: WorkspaceId,
        name: &str,
        filter: &serde_json::Value,
        created_by: Option<UserId>,
        idempotency_key: Option<&str>,
        now: Timestamp,
    ) -> Result<SegmentId> {
        let id = SegmentId::new();
        let done = sqlx::query(
            "INSERT INTO segments (id, workspace_id, name, filter, created_by, idempotency_key, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(name)
        .bind(filter.to_string())
        .bind(created_by.map(|u| u.to_string()))
        .bind(idempotency_key)
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        on_unique(done, "segment_exists", TAKEN)?;
        Ok(id)
    }

    pub async fn update_segment(
        &mut self,
        ws: WorkspaceId,
        id: SegmentId,
        name: &str,
        filter: &serde_json::Value,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE segments SET name = $3, filter = $4, updated_at = $5 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(name)
        .bind(filter.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        crate::row::found(on_unique(done, "segment_exists", TAKEN)?)
    }

    pub async fn delete_segment(&mut self, ws: WorkspaceId, id: SegmentId) -> Result<()> {
        crate::row::found(
            sqlx::query("DELETE FROM segments WHERE workspace_id = $1 AND id = $2")
                .bind(ws.to_string())
                .bind(id.to_string())
                .execute(self.conn())
                .await?,
        )
    }
}
