//! Legal holds: an admin keeps a contact, a conversation or a whole workspace from erasure
//! and retention (a court order, a regulator's request), with a reason and a reference.
//!
//! Invariants:
//! - a hold is placed and released in the transaction of its audit entry;
//! - erasure asks [`Store::holds_covering`] before touching a subject, and keeps everything
//!   of a held subject (the receipt names the hold); the next run after release erases it.

use crate::audit::NewAuditEvent;
use crate::row::{RowExt, found, ms, text_enum};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::inventory::SubjectKind;
use switchboard_core::{LegalHoldId, Timestamp, UserId, WorkspaceId};

text_enum! {
    /// What a hold covers.
    pub enum HoldScope {
        Contact = "contact",
        Conversation = "conversation",
        Workspace = "workspace",
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LegalHold {
    pub id: LegalHoldId,
    pub workspace_id: WorkspaceId,
    pub scope: HoldScope,
    pub scope_id: String,
    pub reason: String,
    pub reference: String,
    pub placed_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub placed_at: Timestamp,
    pub released_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub released_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, workspace_id, scope_kind, scope_id, reason, reference, placed_by, \
                       placed_at, released_by, released_at";

fn hold_from(row: &AnyRow) -> Result<LegalHold> {
    let scope = row.text("scope_kind")?;
    Ok(LegalHold {
        id: row.parsed("id")?,
        workspace_id: row.parsed("workspace_id")?,
        scope: HoldScope::parse(&scope)
            .ok_or_else(|| StoreError::Corrupt(format!("scope_kind `{scope}`")))?,
        scope_id: row.text("scope_id")?,
        reason: row.text("reason")?,
        reference: row.text("reference")?,
        placed_by: row.opt_text("placed_by")?,
        placed_at: row.time("placed_at")?,
        released_by: row.opt_text("released_by")?,
        released_at: row.opt_time("released_at")?,
    })
}

/// A hold to place. The scope must be a row of the workspace (checked here).
#[derive(Debug, Clone)]
pub struct NewHold<'a> {
    pub scope: HoldScope,
    pub scope_id: &'a str,
    pub reason: &'a str,
    pub reference: &'a str,
    pub placed_by: Option<UserId>,
}

impl Tx {
    /// Places a hold, audited (`privacy.hold.placed`). `NotFound` when the contact or
    /// conversation is not the workspace's.
    pub async fn place_hold(
        &mut self,
        ws: WorkspaceId,
        new: &NewHold<'_>,
        by: NewAuditEvent,
        now: Timestamp,
    ) -> Result<LegalHold> {
        let exists_sql = match new.scope {
            HoldScope::Contact => {
                Some("SELECT id FROM contacts WHERE workspace_id = $1 AND id = $2")
            }
            HoldScope::Conversation => {
                Some("SELECT id FROM conversations WHERE workspace_id = $1 AND id = $2")
            }
            HoldScope::Workspace => None,
        };
        let scope_id = match exists_sql {
            Some(sql) => {
                sqlx::query(sql)
                    .bind(ws.to_string())
                    .bind(new.scope_id)
                    .fetch_optional(self.conn())
                    .await?
                    .ok_or(StoreError::NotFound)?;
                new.scope_id.to_owned()
            }
            None => ws.to_string(),
        };
        let id = LegalHoldId::new();
        sqlx::query(
            "INSERT INTO legal_holds (id, workspace_id, scope_kind, scope_id, reason, reference, \
             placed_by, placed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(new.scope.as_str())
        .bind(&scope_id)
        .bind(new.reason)
        .bind(new.reference)
        .bind(new.placed_by.map(|u| u.to_string()))
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        let mut event = by;
        event.action = "privacy.hold.placed".into();
        event.workspace_id = Some(ws);
        event.target_type = Some("legal_hold".into());
        event.target_id = Some(id.to_string());
        event.details = serde_json::json!({ "scope": new.scope.as_str(), "scope_id": scope_id });
        self.record_audit(&event, now).await?;
        self.hold(ws, id).await
    }

    /// Releases a hold, audited (`privacy.hold.released`). Releasing twice is `NotFound`.
    pub async fn release_hold(
        &mut self,
        ws: WorkspaceId,
        id: LegalHoldId,
        released_by: Option<UserId>,
        by: NewAuditEvent,
        now: Timestamp,
    ) -> Result<LegalHold> {
        let done = sqlx::query(
            "UPDATE legal_holds SET released_by = $3, released_at = $4 \
             WHERE workspace_id = $1 AND id = $2 AND released_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(released_by.map(|u| u.to_string()))
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        found(done)?;
        let mut event = by;
        event.action = "privacy.hold.released".into();
        event.workspace_id = Some(ws);
        event.target_type = Some("legal_hold".into());
        event.target_id = Some(id.to_string());
        self.record_audit(&event, now).await?;
        self.hold(ws, id).await
    }

    async fn hold(&mut self, ws: WorkspaceId, id: LegalHoldId) -> Result<LegalHold> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM legal_holds WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        hold_from(&row)
    }
}

impl Store {
    /// The workspace's holds, live ones first, newest first.
    pub async fn holds(&self, ws: WorkspaceId) -> Result<Vec<LegalHold>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM legal_holds WHERE workspace_id = $1 \
             ORDER BY CASE WHEN released_at IS NULL THEN 0 ELSE 1 END, placed_at DESC, id DESC"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(hold_from).collect()
    }

    /// The live holds that cover any of a subject's data: the workspace's own hold, a hold on
    /// the contact or one of its conversations; for a channel connection, a hold on any
    /// conversation on it or any contact known on it. Platform users are not held (holds are
    /// about a workspace's customer data).
    pub async fn holds_covering(
        &self,
        ws: WorkspaceId,
        subject: SubjectKind,
        subject_id: &str,
    ) -> Result<Vec<LegalHold>> {
        let scoped = match subject {
            SubjectKind::Contact => {
                "(scope_kind = 'contact' AND scope_id = $2) OR (scope_kind = 'conversation' AND \
                 scope_id IN (SELECT id FROM conversations WHERE workspace_id = $1 AND contact_id = $2))"
            }
            SubjectKind::ChannelConnection => {
                "(scope_kind = 'conversation' AND scope_id IN (SELECT id FROM conversations \
                 WHERE workspace_id = $1 AND connection_id = $2)) OR (scope_kind = 'contact' AND \
                 scope_id IN (SELECT contact_id FROM contact_identities WHERE workspace_id = $1 \
                 AND connection_id = $2))"
            }
            SubjectKind::Workspace => "scope_id <> $2 OR scope_id = $2",
            SubjectKind::PlatformUser | SubjectKind::MetaUser => return Ok(Vec::new()),
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM legal_holds WHERE workspace_id = $1 AND released_at IS NULL \
             AND (scope_kind = 'workspace' OR {scoped}) ORDER BY placed_at, id"
        ))
        .bind(ws.to_string())
        .bind(subject_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(hold_from).collect()
    }
}
