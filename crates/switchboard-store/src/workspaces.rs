//! Workspaces (the tenants) and memberships (who belongs to which, with which role).

use crate::error::on_unique;
use crate::row::{RowExt, found, ms};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::{Role, Timestamp, UserId, WorkspaceId, WorkspaceSlug, WorkspaceStatus};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub slug: WorkspaceSlug,
    pub status: WorkspaceStatus,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deactivated_at: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

/// A member of a workspace as the members page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub mfa_enabled: bool,
    pub joined_at: Timestamp,
}

const WORKSPACE_COLUMNS: &str = "id, name, slug, status, deactivated_at, created_at";

fn workspace_from(row: &AnyRow) -> Result<Workspace> {
    Ok(Workspace {
        id: row.parsed("id")?,
        name: row.text("name")?,
        slug: row.valid("slug", WorkspaceSlug::parse)?,
        status: row.valid("status", WorkspaceStatus::parse)?,
        deactivated_at: row.opt_time("deactivated_at")?,
        created_at: row.time("created_at")?,
    })
}

const MEMBER_SELECT: &str = "SELECT u.id, u.email, u.display_name, u.totp_enabled_at, m.role, m.created_at \
     FROM memberships m JOIN users u ON u.id = m.user_id";

fn member_from(r: &AnyRow) -> Result<Member> {
    Ok(Member {
        user_id: r.parsed("id")?,
        email: r.text("email")?,
        display_name: r.text("display_name")?,
        role: role_from(r)?,
        mfa_enabled: r.opt_int("totp_enabled_at")?.is_some(),
        joined_at: r.time("created_at")?,
    })
}

fn role_from(row: &AnyRow) -> Result<Role> {
    row.valid("role", Role::parse)
}

impl Tx {
    pub async fn insert_workspace(
        &mut self,
        name: &str,
        slug: &WorkspaceSlug,
        now: Timestamp,
    ) -> Result<Workspace> {
        let id = WorkspaceId::new();
        let result = sqlx::query(
            "INSERT INTO workspaces (id, name, slug, status, created_at, updated_at) \
             VALUES ($1, $2, $3, 'active', $4, $4)",
        )
        .bind(id.to_string())
        .bind(name)
        .bind(slug.as_str())
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        on_unique(
            result,
            "slug_taken",
            "That workspace slug is already taken.",
        )?;
        Ok(Workspace {
            id,
            name: name.to_owned(),
            slug: slug.clone(),
            status: WorkspaceStatus::Active,
            deactivated_at: None,
            created_at: now,
        })
    }

    pub async fn add_member(
        &mut self,
        ws: WorkspaceId,
        user: UserId,
        role: Role,
        now: Timestamp,
    ) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(ws.to_string())
        .bind(user.to_string())
        .bind(role.as_str())
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        on_unique(result, "already_member", "That person is already a member.")?;
        Ok(())
    }

    /// Changes a member's role. Refuses to leave the workspace without an owner.
    pub async fn set_member_role(
        &mut self,
        ws: WorkspaceId,
        user: UserId,
        role: Role,
    ) -> Result<()> {
        let current = self
            .member_role(ws, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        if current == Role::Owner && role != Role::Owner && self.owner_count(ws).await? <= 1 {
            return Err(StoreError::conflict(
                "last_owner",
                "A workspace needs at least one owner; make someone else owner first.",
            ));
        }
        sqlx::query("UPDATE memberships SET role = $3 WHERE workspace_id = $1 AND user_id = $2")
            .bind(ws.to_string())
            .bind(user.to_string())
            .bind(role.as_str())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Removes a member. Refuses to remove the last owner.
    pub async fn remove_member(&mut self, ws: WorkspaceId, user: UserId) -> Result<()> {
        let current = self
            .member_role(ws, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        if current == Role::Owner && self.owner_count(ws).await? <= 1 {
            return Err(StoreError::conflict(
                "last_owner",
                "A workspace needs at least one owner; make someone else owner first.",
            ));
        }
        sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
            .bind(ws.to_string())
            .bind(user.to_string())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Renames the workspace; the slug stays, so links and scripts keep working.
    pub async fn rename_workspace(
        &mut self,
        ws: WorkspaceId,
        name: &str,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query("UPDATE workspaces SET name = $2, updated_at = $3 WHERE id = $1")
            .bind(ws.to_string())
            .bind(name)
            .bind(ms(now))
            .execute(self.conn())
            .await?;
        found(done)
    }

    /// Deactivates the workspace (its API tokens stop working at once); a conflict when it
    /// already is.
    pub async fn deactivate_workspace(&mut self, ws: WorkspaceId, now: Timestamp) -> Result<()> {
        let done = sqlx::query(
            "UPDATE workspaces SET status = 'deactivated', deactivated_at = $2, updated_at = $2 \
             WHERE id = $1 AND status = 'active'",
        )
        .bind(ws.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::conflict(
                "already_deactivated",
                "This workspace is already deactivated.",
            ));
        }
        Ok(())
    }

    pub async fn member_role(&mut self, ws: WorkspaceId, user: UserId) -> Result<Option<Role>> {
        let row =
            sqlx::query("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                .bind(ws.to_string())
                .bind(user.to_string())
                .fetch_optional(self.conn())
                .await?;
        row.as_ref().map(role_from).transpose()
    }

    async fn owner_count(&mut self, ws: WorkspaceId) -> Result<i64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
        )
        .bind(ws.to_string())
        .fetch_one(self.conn())
        .await?;
        Ok(n)
    }
}

impl Store {
    pub async fn workspace(&self, ws: WorkspaceId) -> Result<Workspace> {
        let row = sqlx::query(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1"
        ))
        .bind(ws.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        workspace_from(&row)
    }

    pub async fn workspace_by_slug(&self, slug: &WorkspaceSlug) -> Result<Workspace> {
        let row = sqlx::query(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE slug = $1"
        ))
        .bind(slug.as_str())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        workspace_from(&row)
    }

    /// Every workspace on the instance, for the operator's CLI.
    pub async fn all_workspaces(&self) -> Result<Vec<Workspace>> {
        let rows = sqlx::query(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY created_at, id"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(workspace_from).collect()
    }

    /// The workspaces a user belongs to, with their role in each.
    pub async fn workspaces_of(&self, user: UserId) -> Result<Vec<(Workspace, Role)>> {
        let rows = sqlx::query(
            "SELECT w.id, w.name, w.slug, w.status, w.deactivated_at, w.created_at, m.role \
             FROM memberships m JOIN workspaces w ON w.id = m.workspace_id \
             WHERE m.user_id = $1 ORDER BY w.name, w.id",
        )
        .bind(user.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((workspace_from(r)?, role_from(r)?)))
            .collect()
    }

    /// The user's role in the workspace, or `None` when they are not a member.
    pub async fn role_in(&self, ws: WorkspaceId, user: UserId) -> Result<Option<Role>> {
        let row =
            sqlx::query("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                .bind(ws.to_string())
                .bind(user.to_string())
                .fetch_optional(&self.read)
                .await?;
        row.as_ref().map(role_from).transpose()
    }

    pub async fn members(&self, ws: WorkspaceId) -> Result<Vec<Member>> {
        let rows = sqlx::query(&format!(
            "{MEMBER_SELECT} WHERE m.workspace_id = $1 ORDER BY u.display_name, u.id"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(member_from).collect()
    }

    /// One member of `ws`; not found when the user is not a member there.
    pub async fn member(&self, ws: WorkspaceId, user: UserId) -> Result<Member> {
        let row = sqlx::query(&format!(
            "{MEMBER_SELECT} WHERE m.workspace_id = $1 AND m.user_id = $2"
        ))
        .bind(ws.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        member_from(&row)
    }

    /// Creates a workspace with its first owner in one transaction.
    pub async fn create_workspace(
        &self,
        name: &str,
        slug: &WorkspaceSlug,
        owner: UserId,
        now: Timestamp,
    ) -> Result<Workspace> {
        let mut tx = self.begin().await?;
        let ws = tx.insert_workspace(name, slug, now).await?;
        tx.add_member(ws.id, owner, Role::Owner, now).await?;
        tx.commit().await?;
        Ok(ws)
    }
}
