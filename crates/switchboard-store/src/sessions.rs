//! Browser sessions. The cookie holds a random token; only its SHA-256 is stored, so a copy
//! of the database cannot be replayed as a sign-in.

use crate::row::{RowExt, found, ms};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::{SessionId, Timestamp, UserId, WorkspaceId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// The password was right; the TOTP code is still owed. Grants nothing else.
    PendingMfa,
    Active,
}

impl SessionState {
    fn as_str(self) -> &'static str {
        match self {
            SessionState::PendingMfa => "pending_mfa",
            SessionState::Active => "active",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub state: SessionState,
    pub active_workspace_id: Option<WorkspaceId>,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// The absolute end of the session, however active it is.
    pub expires_at: Timestamp,
    /// When the user last proved who they are (sign-in or step-up).
    pub reauthenticated_at: Option<Timestamp>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub struct NewSession<'a> {
    pub user_id: UserId,
    pub token_hash: &'a str,
    pub state: SessionState,
    pub active_workspace_id: Option<WorkspaceId>,
    pub expires_at: Timestamp,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

const SESSION_COLUMNS: &str = "id, user_id, state, active_workspace_id, created_at, last_seen_at, \
                               expires_at, reauthenticated_at, ip, user_agent";

fn session_from(row: &AnyRow) -> Result<Session> {
    let state = match row.text("state")?.as_str() {
        "pending_mfa" => SessionState::PendingMfa,
        "active" => SessionState::Active,
        other => return Err(StoreError::Corrupt(format!("session state {other}"))),
    };
    Ok(Session {
        id: row.parsed("id")?,
        user_id: row.parsed("user_id")?,
        state,
        active_workspace_id: row.opt_parsed("active_workspace_id")?,
        created_at: row.time("created_at")?,
        last_seen_at: row.time("last_seen_at")?,
        expires_at: row.time("expires_at")?,
        reauthenticated_at: row.opt_time("reauthenticated_at")?,
        ip: row.opt_text("ip")?,
        user_agent: row.opt_text("user_agent")?,
    })
}

impl Tx {
    /// Creates a session. When it is `Active` it counts as a fresh authentication.
    pub async fn insert_session(
        &mut self,
        new: NewSession<'_>,
        now: Timestamp,
    ) -> Result<SessionId> {
        let id = SessionId::new();
        let reauth = (new.state == SessionState::Active).then_some(ms(now));
        sqlx::query(
            "INSERT INTO sessions (id, user_id, token_hash, state, active_workspace_id, created_at, \
             last_seen_at, expires_at, reauthenticated_at, ip, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10)",
        )
        .bind(id.to_string())
        .bind(new.user_id.to_string())
        .bind(new.token_hash)
        .bind(new.state.as_str())
        .bind(new.active_workspace_id.map(|w| w.to_string()))
        .bind(ms(now))
        .bind(ms(new.expires_at))
        .bind(reauth)
        .bind(new.ip)
        .bind(new.user_agent.map(|ua| ua.chars().take(512).collect::<String>()))
        .execute(self.conn())
        .await?;
        Ok(id)
    }

    /// Gives the session a new token and marks it fully authenticated now: used when the MFA
    /// challenge is passed and on step-up, so a token seen before the proof is worthless after.
    /// `expires_at` moves the absolute end (a pending session's short life becomes a full
    /// one); step-up passes `None`, so re-authenticating never extends a session.
    pub async fn renew_session(
        &mut self,
        id: SessionId,
        new_token_hash: &str,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE sessions SET token_hash = $2, state = 'active', reauthenticated_at = $3, \
             last_seen_at = $3, expires_at = COALESCE($4, expires_at) WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(new_token_hash)
        .bind(ms(now))
        .bind(expires_at.map(ms))
        .execute(self.conn())
        .await?;
        found(done)
    }

    /// Ends one session of `user` (from the sessions page) in this transaction; not found
    /// when it is not theirs.
    pub async fn delete_session_of(&mut self, user: UserId, id: SessionId) -> Result<()> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
            .bind(id.to_string())
            .bind(user.to_string())
            .execute(self.conn())
            .await?;
        found(done)
    }

    pub async fn delete_session(&mut self, id: SessionId) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Ends every session of `user` except `keep`; returns how many ended.
    pub async fn delete_sessions_of(
        &mut self,
        user: UserId,
        keep: Option<SessionId>,
    ) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user.to_string())
            .bind(keep.map(|k| k.to_string()).unwrap_or_default())
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    pub async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(session_from).transpose()
    }

    pub async fn sessions_of(&self, user: UserId) -> Result<Vec<Session>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND state = 'active' \
             ORDER BY last_seen_at DESC"
        ))
        .bind(user.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(session_from).collect()
    }

    /// Records activity, which pushes the idle timeout back.
    pub async fn touch_session(&self, id: SessionId, now: Timestamp) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(ms(now))
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Records a successful step-up re-authentication.
    pub async fn mark_reauthenticated(&self, id: SessionId, now: Timestamp) -> Result<()> {
        sqlx::query("UPDATE sessions SET reauthenticated_at = $2, last_seen_at = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(ms(now))
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Switches the workspace the session works in. The caller checks membership.
    pub async fn set_active_workspace(&self, id: SessionId, ws: WorkspaceId) -> Result<()> {
        sqlx::query("UPDATE sessions SET active_workspace_id = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(ws.to_string())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Ends one session of `user` (from the sessions page); not found when it is not theirs.
    pub async fn revoke_session_of(&self, user: UserId, id: SessionId) -> Result<()> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
            .bind(id.to_string())
            .bind(user.to_string())
            .execute(&self.write)
            .await?;
        found(done)
    }

    /// Deletes sessions past their absolute end or idle since before `idle_cutoff`.
    pub async fn delete_stale_sessions(
        &self,
        now: Timestamp,
        idle_cutoff: Timestamp,
    ) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(ms(now))
            .bind(ms(idle_cutoff))
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }
}
