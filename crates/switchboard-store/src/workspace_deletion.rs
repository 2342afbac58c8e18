//! Deleting a whole workspace, and what an account's deletion must check first.
//!
//! A workspace is deleted in two steps: on day 0 it is deactivated (all access stops), its API
//! tokens are revoked and the sessions working in it end, in the transaction that records the
//! privacy request (source `workspace_deactivation`, subject the workspace) and schedules its
//! erasure; after the grace period (`deletion_grace_days`, default and maximum 14, kept with
//! the retention settings in `workspace_privacy_settings`) the erasure runs through the
//! inventory. Within the grace period an owner can restore it (the request is refused with the
//! reason "restored", its notice forgotten); channels stay disconnected.
//!
//! Invariants: the grace period is never more than [`MAX_GRACE_DAYS`]; a workspace has at most
//! one open deletion; an account whose owner is the only owner of a workspace that has other
//! members cannot be deleted ([`Store::sole_ownerships`] says which).

use crate::privacy_requests::{COLUMNS, PrivacyRequest, request_from};
use crate::row::{RowExt, ms};
use crate::workspaces::Workspace;
use crate::{Result, Store, StoreError, Tx};
use switchboard_core::{Timestamp, UserId, ValidationError, WorkspaceId, WorkspaceStatus};

/// The default and longest grace period between a workspace's deletion and its erasure.
pub const MAX_GRACE_DAYS: i64 = 14;

/// A workspace where a user is the only owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoleOwnership {
    pub workspace: Workspace,
    /// Members besides the owner.
    pub other_members: i64,
}

/// Checks a grace period typed by an owner: whole days, 1 to 14.
pub fn parse_grace_days(days: i64) -> std::result::Result<i64, ValidationError> {
    if (1..=MAX_GRACE_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(ValidationError::new(
            "invalid_grace_period",
            "The grace period before a deleted workspace is erased is 1 to 14 days.",
        )
        .on("deletion_grace_days"))
    }
}

impl Tx {
    /// Sets the workspace's grace period (`None`: back to the default, 14 days).
    pub async fn set_deletion_grace_days(
        &mut self,
        ws: WorkspaceId,
        days: Option<i64>,
        now: Timestamp,
    ) -> Result<()> {
        if let Some(d) = days
            && parse_grace_days(d).is_err()
        {
            // The callers parse first; the table's CHECK would refuse it anyway.
            return Err(StoreError::conflict(
                "invalid_grace_period",
                "The grace period is 1 to 14 days.",
            ));
        }
        sqlx::query(
            "INSERT INTO workspace_privacy_settings (workspace_id, deletion_grace_days, updated_at) \
             VALUES ($1, $2, $3) ON CONFLICT (workspace_id) DO UPDATE SET \
             deletion_grace_days = excluded.deletion_grace_days, updated_at = excluded.updated_at",
        )
        .bind(ws.to_string())
        .bind(days)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Day 0 of a workspace's deletion, after `deactivate_workspace`: revokes its API tokens
    /// and ends the sessions working in it (their active workspace, or no choice made by a
    /// member). Returns (tokens revoked, sessions ended).
    pub async fn end_workspace_access(
        &mut self,
        ws: WorkspaceId,
        now: Timestamp,
    ) -> Result<(u64, u64)> {
        let tokens = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE workspace_id = $1 AND revoked_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?
        .rows_affected();
        let sessions = sqlx::query(
            "DELETE FROM sessions WHERE active_workspace_id = $1 OR (active_workspace_id IS NULL \
             AND user_id IN (SELECT user_id FROM memberships WHERE workspace_id = $1))",
        )
        .bind(ws.to_string())
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok((tokens, sessions))
    }

    /// Makes a deactivated workspace active again (a restore within the grace period); a
    /// conflict when it is not deactivated.
    pub async fn restore_workspace(&mut self, ws: WorkspaceId, now: Timestamp) -> Result<()> {
        let done = sqlx::query(
            "UPDATE workspaces SET status = 'active', deactivated_at = NULL, updated_at = $2 \
             WHERE id = $1 AND status = 'deactivated'",
        )
        .bind(ws.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::conflict(
                "not_deactivated",
                "This workspace is not deactivated.",
            ));
        }
        Ok(())
    }
}

impl Store {
    /// The workspace's grace period in days (14 unless an owner set it lower).
    pub async fn deletion_grace_days(&self, ws: WorkspaceId) -> Result<i64> {
        let row = sqlx::query(
            "SELECT deletion_grace_days FROM workspace_privacy_settings WHERE workspace_id = $1",
        )
        .bind(ws.to_string())
        .fetch_optional(&self.read)
        .await?;
        let days = match row {
            Some(r) => r.opt_int("deletion_grace_days")?,
            None => None,
        };
        Ok(days.unwrap_or(MAX_GRACE_DAYS).clamp(1, MAX_GRACE_DAYS))
    }

    /// The open (not completed or refused) deletion request of workspace `ws`, if any. Such a
    /// request belongs to no workspace (it outlives the one it erases), so it is found by its
    /// subject.
    pub async fn open_workspace_deletion(&self, ws: WorkspaceId) -> Result<Option<PrivacyRequest>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM privacy_requests WHERE subject_kind = 'workspace' \
             AND subject_id = $1 AND kind = 'erase' AND source = 'workspace_deactivation' \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        for row in &rows {
            let request = request_from(row)?;
            if !request.state.is_final() {
                return Ok(Some(request));
            }
        }
        Ok(None)
    }

    /// The active workspaces where `user` is the only owner, with how many other members
    /// each has.
    pub async fn sole_ownerships(&self, user: UserId) -> Result<Vec<SoleOwnership>> {
        let mut out = Vec::new();
        for (workspace, role) in self.workspaces_of(user).await? {
            if role != switchboard_core::Role::Owner || workspace.status != WorkspaceStatus::Active
            {
                continue;
            }
            let row = sqlx::query(
                "SELECT COUNT(*) AS members, \
                 SUM(CASE WHEN role = 'owner' THEN 1 ELSE 0 END) AS owners \
                 FROM memberships WHERE workspace_id = $1",
            )
            .bind(workspace.id.to_string())
            .fetch_one(&self.read)
            .await?;
            let members = row.int("members")?;
            let owners = row.opt_int("owners")?.unwrap_or(0);
            if owners <= 1 {
                out.push(SoleOwnership {
                    workspace,
                    other_members: members - 1,
                });
            }
        }
        Ok(out)
    }
}
