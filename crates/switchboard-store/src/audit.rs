//! The audit log: an append-only record of security- and privacy-relevant actions.
//!
//! Invariant: rows are only ever inserted, anonymised (personal fields replaced by random
//! tokens) or deleted past retention; nothing else updates them.

use crate::row::ms;
use crate::{Result, Store, Tx};
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
    /// Extra facts; never secrets.
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

impl Store {
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
