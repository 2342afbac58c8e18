//! Workspace-scoped API tokens. The token is shown once; only its SHA-256 is stored, beside
//! a short prefix so people can tell their tokens apart.

use crate::error::on_unique;
use crate::row::{RowExt, found, ms};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::{ApiTokenId, Role, Timestamp, UserId, WorkspaceId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub role: Role,
    pub token_prefix: String,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

pub struct NewApiToken<'a> {
    pub name: &'a str,
    pub role: Role,
    pub token_hash: &'a str,
    pub token_prefix: &'a str,
    pub created_by: Option<UserId>,
}

const TOKEN_COLUMNS: &str =
    "id, workspace_id, name, role, token_prefix, created_by, created_at, last_used_at, revoked_at";

fn token_from(row: &AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.parsed("id")?,
        workspace_id: row.parsed("workspace_id")?,
        name: row.text("name")?,
        role: row.valid("role", Role::parse)?,
        token_prefix: row.text("token_prefix")?,
        created_by: row.opt_parsed("created_by")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

impl Tx {
    pub async fn insert_api_token(
        &mut self,
        ws: WorkspaceId,
        new: NewApiToken<'_>,
        now: Timestamp,
    ) -> Result<ApiToken> {
        let id = ApiTokenId::new();
        let result = sqlx::query(
            "INSERT INTO api_tokens (id, workspace_id, name, role, token_hash, token_prefix, \
             created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(new.name)
        .bind(new.role.as_str())
        .bind(new.token_hash)
        .bind(new.token_prefix)
        .bind(new.created_by.map(|u| u.to_string()))
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        on_unique(result, "token_collision", "Token collision; try again.")?;
        Ok(ApiToken {
            id,
            workspace_id: ws,
            name: new.name.to_owned(),
            role: new.role,
            token_prefix: new.token_prefix.to_owned(),
            created_by: new.created_by,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        })
    }

    /// Revokes a token of `ws`; not found when the id belongs to another workspace.
    pub async fn revoke_api_token(
        &mut self,
        ws: WorkspaceId,
        id: ApiTokenId,
        now: Timestamp,
    ) -> Result<ApiToken> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        found(done)?;
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_one(self.conn())
        .await?;
        token_from(&row)
    }
}

impl Store {
    /// Finds a live (unrevoked) token by the hash of what the client presented. This is the
    /// one lookup not scoped by workspace: the token itself says which workspace it is for.
    pub async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(token_from).transpose()
    }

    pub async fn api_tokens(&self, ws: WorkspaceId) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE workspace_id = $1 ORDER BY created_at DESC, id"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(token_from).collect()
    }

    pub async fn api_token(&self, ws: WorkspaceId, id: ApiTokenId) -> Result<ApiToken> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        token_from(&row)
    }

    /// Records use; written at most once a minute per token to spare the writer.
    pub async fn touch_api_token(&self, id: ApiTokenId, now: Timestamp) -> Result<()> {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 \
             AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(id.to_string())
        .bind(ms(now))
        .bind(ms(now) - 60_000)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}
