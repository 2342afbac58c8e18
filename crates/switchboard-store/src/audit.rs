//! The audit log: an append-only record of security- and privacy-relevant actions.
//!
//! Invariant: rows are only ever inserted, anonymised (personal fields replaced by random
//! tokens) or deleted past retention; nothing else updates them.

use crate::row::{RowExt, ms};
use crate::{Result, Store, StoreError, Tx};
use rand::RngCore;
use sqlx::any::AnyRow;
use switchboard_core::inventory::{self, ErasureAction};
use switchboard_core::{AuditEventId, Timestamp, UserId, WorkspaceId};

/// One audit entry to record.
#[derive(Debug, Clone, Default)]
pub struct NewAuditEvent {
    pub workspace_id: Option<WorkspaceId>,
    pub actor_user_id: Option<UserId>,
    /// How the actor was known at the time (an email, or a token's name).
    pub actor_email: Option<String>,
    /// What happened, dotted (`auth.sign_in`, `member.role_changed`, `token.created`).
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// A readable name for the target at the time (an email, a token name).
    pub target_label: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Extra facts (a role before and after); never secrets, and no personal data either:
    /// details survive anonymisation, so names and addresses belong in the columns above.
    pub details: serde_json::Value,
}

impl NewAuditEvent {
    pub fn new(action: &str) -> Self {
        Self {
            action: action.to_owned(),
            details: serde_json::json!({}),
            ..Self::default()
        }
    }

    /// What the action was done to: its kind, id and a readable name at the time.
    pub fn target(mut self, kind: &str, id: impl ToString, label: Option<&str>) -> Self {
        self.target_type = Some(kind.to_owned());
        self.target_id = Some(id.to_string());
        self.target_label = label.map(str::to_owned);
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// One recorded entry, as admins read it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub occurred_at: Timestamp,
    pub workspace_id: Option<WorkspaceId>,
    /// Text, not a `UserId`: once anonymised it holds a random token.
    pub actor_user_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub target_label: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
    pub anonymised_at: Option<Timestamp>,
}

/// Where a page of the log ends: the next page starts strictly after this entry in the
/// newest-first order. Its text form is `<millis>.<id>`, opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCursor {
    pub occurred_at: i64,
    pub id: AuditEventId,
}

impl AuditCursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.occurred_at, self.id)
    }

    /// `None` for anything that is not a cursor this store handed out.
    pub fn decode(text: &str) -> Option<Self> {
        let (millis, id) = text.split_once('.')?;
        Some(Self {
            occurred_at: millis.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

/// Which entries to list; every field narrows the result.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Actions starting with this text (`member.` matches `member.removed`).
    pub action_prefix: Option<String>,
    pub actor_user_id: Option<UserId>,
    /// Inclusive.
    pub since: Option<Timestamp>,
    /// Exclusive.
    pub until: Option<Timestamp>,
    pub after: Option<AuditCursor>,
}

/// One page of entries and the cursor of the next page, if there is one.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub next: Option<AuditCursor>,
}

const AUDIT_COLUMNS: &str = "id, occurred_at, workspace_id, actor_user_id, actor_email, action, \
                             target_type, target_id, target_label, ip, user_agent, details, anonymised_at";

fn audit_from(row: &AnyRow) -> Result<AuditEvent> {
    let details = row.text("details")?;
    Ok(AuditEvent {
        id: row.parsed("id")?,
        occurred_at: row.time("occurred_at")?,
        workspace_id: row.opt_parsed("workspace_id")?,
        actor_user_id: row.opt_text("actor_user_id")?,
        actor_email: row.opt_text("actor_email")?,
        action: row.text("action")?,
        target_type: row.opt_text("target_type")?,
        target_id: row.opt_text("target_id")?,
        target_label: row.opt_text("target_label")?,
        ip: row.opt_text("ip")?,
        user_agent: row.opt_text("user_agent")?,
        details: serde_json::from_str(&details)
            .map_err(|e| StoreError::Corrupt(format!("audit details: {e}")))?,
        anonymised_at: row.opt_time("anonymised_at")?,
    })
}

/// Escapes LIKE's wildcards so a prefix matches literally (with `ESCAPE '\'`).
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The audit log's columns that erasure anonymises, read from the personal-data inventory
/// so a column added there is anonymised here without a code change.
fn anonymised_columns() -> Result<&'static [&'static str]> {
    match inventory::table("audit_log").map(|t| t.erasure) {
        Some(ErasureAction::Anonymise { columns }) => Ok(columns),
        _ => Err(StoreError::Corrupt(
            "the inventory does not say which audit_log columns to anonymise".into(),
        )),
    }
}

/// A fresh random token: 128 bits, unrelated to the value it replaces, so nothing (no key,
/// no dictionary of emails) leads back to it.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("anon_{hex}")
}

impl Tx {
    pub async fn record_audit(
        &mut self,
        event: &NewAuditEvent,
        now: Timestamp,
    ) -> Result<AuditEventId> {
        let id = AuditEventId::new();
        sqlx::query(
            "INSERT INTO audit_log (id, occurred_at, workspace_id, actor_user_id, actor_email, action, \
             target_type, target_id, target_label, ip, user_agent, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id.to_string())
        .bind(ms(now))
        .bind(event.workspace_id.map(|w| w.to_string()))
        .bind(event.actor_user_id.map(|u| u.to_string()))
        .bind(event.actor_email.as_deref())
        .bind(&event.action)
        .bind(event.target_type.as_deref())
        .bind(event.target_id.as_deref())
        .bind(event.target_label.as_deref())
        .bind(event.ip.as_deref())
        .bind(event.user_agent.as_deref())
        .bind(event.details.to_string())
        .execute(self.conn())
        .await?;
        Ok(id)
    }
}

enum Bind {
    Text(String),
    Int(i64),
}

impl Store {
    /// One page of `ws`'s log, newest first, at most `limit` entries.
    pub async fn audit_events(
        &self,
        ws: WorkspaceId,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<AuditPage> {
        let mut conditions = vec!["workspace_id = $1".to_owned()];
        let mut binds = vec![Bind::Text(ws.to_string())];
        let mut push = |sql: &str, values: Vec<Bind>| {
            let mut sql = sql.to_owned();
            for (i, value) in values.into_iter().enumerate() {
                binds.push(value);
                sql = sql.replace(&format!("?{i}"), &format!("${}", binds.len()));
            }
            conditions.push(sql);
        };
        if let Some(prefix) = &filter.action_prefix {
            push(
                "action LIKE ?0 ESCAPE '\\'",
                vec![Bind::Text(like_prefix(prefix))],
            );
        }
        if let Some(actor) = filter.actor_user_id {
            push("actor_user_id = ?0", vec![Bind::Text(actor.to_string())]);
        }
        if let Some(since) = filter.since {
            push("occurred_at >= ?0", vec![Bind::Int(ms(since))]);
        }
        if let Some(until) = filter.until {
            push("occurred_at < ?0", vec![Bind::Int(ms(until))]);
        }
        if let Some(after) = filter.after {
            push(
                "(occurred_at < ?0 OR (occurred_at = ?1 AND id < ?2))",
                vec![
                    Bind::Int(after.occurred_at),
                    Bind::Int(after.occurred_at),
                    Bind::Text(after.id.to_string()),
                ],
            );
        }
        let limit = limit.clamp(1, 500);
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE {} \
             ORDER BY occurred_at DESC, id DESC LIMIT {}",
            conditions.join(" AND "),
            // One more than asked tells whether another page follows.
            limit + 1
        );
        let mut query = sqlx::query(&sql);
        for bind in binds {
            query = match bind {
                Bind::Text(t) => query.bind(t),
                Bind::Int(i) => query.bind(i),
            };
        }
        let rows = query.fetch_all(&self.read).await?;
        let mut events = rows.iter().map(audit_from).collect::<Result<Vec<_>>>()?;
        let more = events.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = match events.last() {
            Some(last) if more => Some(AuditCursor {
                occurred_at: ms(last.occurred_at),
                id: last.id,
            }),
            _ => None,
        };
        Ok(AuditPage { events, next })
    }

    /// Replaces the personal fields of every entry older than `cutoff` with fresh random
    /// tokens (a different one per row and column) and marks the row anonymised. Returns how
    /// many rows it changed. Works in batches so the single SQLite writer is never held long.
    pub async fn anonymise_audit_before(&self, cutoff: Timestamp, now: Timestamp) -> Result<u64> {
        let columns = anonymised_columns()?;
        let assignments: Vec<String> = columns
            .iter()
            .enumerate()
            // NULL stays NULL: an absent value reveals nothing and a token would invent one.
            .map(|(i, c)| format!("{c} = CASE WHEN {c} IS NULL THEN NULL ELSE ${} END", i + 3))
            .collect();
        let update = format!(
            "UPDATE audit_log SET anonymised_at = $2, {} WHERE id = $1",
            assignments.join(", ")
        );
        let mut total = 0;
        loop {
            let mut tx = self.begin().await?;
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM audit_log WHERE occurred_at < $1 AND anonymised_at IS NULL \
                 ORDER BY occurred_at LIMIT 500",
            )
            .bind(ms(cutoff))
            .fetch_all(tx.conn())
            .await?;
            if ids.is_empty() {
                return Ok(total);
            }
            for id in &ids {
                let mut query = sqlx::query(&update).bind(id).bind(ms(now));
                for _ in columns {
                    query = query.bind(random_token());
                }
                query.execute(tx.conn()).await?;
            }
            tx.commit().await?;
            total += ids.len() as u64;
        }
    }

    /// Deletes every entry older than `cutoff` (past retention); returns how many.
    pub async fn delete_audit_before(&self, cutoff: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM audit_log WHERE occurred_at < $1")
            .bind(ms(cutoff))
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

    /// Records one entry in a transaction of its own.
    pub async fn record_audit(
        &self,
        event: &NewAuditEvent,
        now: Timestamp,
    ) -> Result<AuditEventId> {
        let mut tx = self.begin().await?;
        let id = tx.record_audit(event, now).await?;
        tx.commit().await?;
        Ok(id)
    }
}
