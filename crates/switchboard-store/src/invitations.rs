//! Invitations to join a workspace by an emailed link. The link's token is shown once (in
//! the email); only its SHA-256 is stored.
//!
//! Invariants: an invitation is used at most once (accepting is a conditional update that
//! only one transaction can win), and only while it is neither revoked nor expired; at most
//! one invitation per address is open in a workspace (inviting again revokes the older link).

use crate::row::{RowExt, ms};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::{EmailAddress, InvitationId, Role, Timestamp, UserId, WorkspaceId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    pub workspace_id: WorkspaceId,
    pub email: EmailAddress,
    pub role: Role,
    pub invited_by: Option<UserId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Where an invitation stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Revoked => "revoked",
            InvitationStatus::Expired => "expired",
        }
    }
}

impl Invitation {
    pub fn status(&self, now: Timestamp) -> InvitationStatus {
        if self.accepted_at.is_some() {
            InvitationStatus::Accepted
        } else if self.revoked_at.is_some() {
            InvitationStatus::Revoked
        } else if now >= self.expires_at {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        }
    }
}

pub struct NewInvitation<'a> {
    pub email: &'a EmailAddress,
    pub role: Role,
    pub token_hash: &'a str,
    pub invited_by: Option<UserId>,
    pub expires_at: Timestamp,
}

const INVITATION_COLUMNS: &str = "id, workspace_id, email, role, invited_by, created_at, \
                                  expires_at, accepted_at, revoked_at";

fn invitation_from(row: &AnyRow) -> Result<Invitation> {
    Ok(Invitation {
        id: row.parsed("id")?,
        workspace_id: row.parsed("workspace_id")?,
        email: row.valid("email", EmailAddress::parse)?,
        role: row.valid("role", Role::parse)?,
        invited_by: row.opt_parsed("invited_by")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        accepted_at: row.opt_time("accepted_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

impl Tx {
    /// Records an invitation. Refuses an address that already belongs to a member; revokes
    /// any older open invitation of the same address so only the newest link works.
    pub async fn insert_invitation(
        &mut self,
        ws: WorkspaceId,
        new: NewInvitation<'_>,
        now: Timestamp,
    ) -> Result<Invitation> {
        let member: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.workspace_id = $1 AND u.email = $2",
        )
        .bind(ws.to_string())
        .bind(new.email.as_str())
        .fetch_one(self.conn())
        .await?;
        if member > 0 {
            return Err(StoreError::conflict(
                "already_member",
                "That person is already a member of this workspace.",
            ));
        }
        sqlx::query(
            "UPDATE invitations SET revoked_at = $3 WHERE workspace_id = $1 AND email = $2 \
             AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(new.email.as_str())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        let id = InvitationId::new();
        sqlx::query(
            "INSERT INTO invitations (id, workspace_id, email, role, token_hash, invited_by, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(new.email.as_str())
        .bind(new.role.as_str())
        .bind(new.token_hash)
        .bind(new.invited_by.map(|u| u.to_string()))
        .bind(ms(now))
        .bind(ms(new.expires_at))
        .execute(self.conn())
        .await?;
        Ok(Invitation {
            id,
            workspace_id: ws,
            email: new.email.clone(),
            role: new.role,
            invited_by: new.invited_by,
            created_at: now,
            expires_at: new.expires_at,
            accepted_at: None,
            revoked_at: None,
        })
    }

    /// Revokes an open invitation of `ws`. Not found when the id belongs to another
    /// workspace; a conflict when it was already accepted.
    pub async fn revoke_invitation(
        &mut self,
        ws: WorkspaceId,
        id: InvitationId,
        now: Timestamp,
    ) -> Result<Invitation> {
        let current = self.invitation(ws, id).await?;
        if current.accepted_at.is_some() {
            return Err(StoreError::conflict(
                "invitation_used",
                "That invitation was already accepted; remove the member instead.",
            ));
        }
        sqlx::query(
            "UPDATE invitations SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        self.invitation(ws, id).await
    }

    /// Uses the invitation for `user` and makes them a member with the invited role, in
    /// this transaction. Fails with `invitation_unusable` when it was used, revoked or has
    /// expired, including when another request used it a moment ago.
    pub async fn accept_invitation(
        &mut self,
        ws: WorkspaceId,
        id: InvitationId,
        user: UserId,
        now: Timestamp,
    ) -> Result<Invitation> {
        let done = sqlx::query(
            "UPDATE invitations SET accepted_at = $3 WHERE workspace_id = $1 AND id = $2 \
             AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::conflict(
                "invitation_unusable",
                "This invitation link was already used, was revoked or has expired.",
            ));
        }
        let invitation = self.invitation(ws, id).await?;
        self.add_member(ws, user, invitation.role, now).await?;
        Ok(invitation)
    }

    async fn invitation(&mut self, ws: WorkspaceId, id: InvitationId) -> Result<Invitation> {
        let row = sqlx::query(&format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        invitation_from(&row)
    }
}

impl Store {
    /// Finds an invitation by the hash of the link's token. Not scoped by workspace: the
    /// token itself says which workspace it is for.
    pub async fn invitation_by_token_hash(&self, token_hash: &str) -> Result<Option<Invitation>> {
        let row = sqlx::query(&format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(invitation_from).transpose()
    }

    pub async fn invitation(&self, ws: WorkspaceId, id: InvitationId) -> Result<Invitation> {
        let row = sqlx::query(&format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        invitation_from(&row)
    }

    /// Invitations not yet accepted or revoked (expired ones included, so admins see them
    /// and can invite again), newest first.
    pub async fn open_invitations(&self, ws: WorkspaceId) -> Result<Vec<Invitation>> {
        let rows = sqlx::query(&format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE workspace_id = $1 \
             AND accepted_at IS NULL AND revoked_at IS NULL ORDER BY created_at DESC, id"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(invitation_from).collect()
    }
}

// Sweep support (written with the job queue's `session_sweep`; kept small to merge easily).
impl crate::Store {
    /// Deletes invitations, in every workspace, that expired, were accepted or were revoked
    /// before `cutoff`; returns how many. Instance-wide maintenance run by the sweep, never
    /// reachable from a request, hence no `WorkspaceId`.
    pub async fn sweep_invitations(
        &self,
        cutoff: switchboard_core::Timestamp,
    ) -> crate::Result<u64> {
        let done = sqlx::query(
            "DELETE FROM invitations WHERE expires_at < $1 OR accepted_at < $1 OR revoked_at < $1",
        )
        .bind(switchboard_core::clock::to_millis(cutoff))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }
}
