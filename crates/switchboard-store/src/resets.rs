//! Password-reset links: the emailed token's SHA-256 only, single use, expiring.
//!
//! Invariant: a link is consumed by one conditional UPDATE that also checks its expiry, so
//! it works at most once and never after `expires_at`.

use crate::row::{RowExt, ms};
use crate::{Result, Store, Tx};
use switchboard_core::{Timestamp, UserId};

impl Tx {
    pub async fn insert_password_reset(
        &mut self,
        user: UserId,
        token_hash: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO password_resets (id, user_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(user.to_string())
        .bind(token_hash)
        .bind(ms(now))
        .bind(ms(expires_at))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Uses the link: returns its account when it was unused and unexpired, and retires every
    /// other open link of that account too (one reset ends them all).
    pub async fn consume_password_reset(
        &mut self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<UserId>> {
        let row = sqlx::query(
            "UPDATE password_resets SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
        )
        .bind(token_hash)
        .bind(ms(now))
        .fetch_optional(self.conn())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user: UserId = row.parsed("user_id")?;
        sqlx::query(
            "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(Some(user))
    }
}

impl Store {
    /// The account of an unused, unexpired link (to show the form; using it is separate).
    pub async fn open_password_reset(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<UserId>> {
        let row = sqlx::query(
            "SELECT user_id FROM password_resets \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(ms(now))
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| r.parsed("user_id")).transpose()
    }

    /// Deletes password-reset links that were used or have expired; returns how many. (The
    /// same signature the job queue's `session_sweep` calls.)
    pub async fn sweep_password_resets(&self, now: Timestamp) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM password_resets WHERE used_at IS NOT NULL OR expires_at <= $1",
        )
        .bind(ms(now))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }
}
