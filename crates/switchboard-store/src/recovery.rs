//! MFA recovery codes: ten per account, stored as SHA-256 hashes, each usable once.
//!
//! Invariant: a code is consumed by one conditional UPDATE, so two requests racing with the
//! same code cannot both succeed.

use crate::row::ms;
use crate::{Result, Store, Tx};
use switchboard_core::{Timestamp, UserId};

impl Tx {
    /// Replaces every recovery code of `user` with the given hashes.
    pub async fn replace_recovery_codes(
        &mut self,
        user: UserId,
        code_hashes: &[String],
        now: Timestamp,
    ) -> Result<()> {
        self.delete_recovery_codes(user).await?;
        for hash in code_hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (id, user_id, code_hash, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(user.to_string())
            .bind(hash)
            .bind(ms(now))
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    pub async fn delete_recovery_codes(&mut self, user: UserId) -> Result<()> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.to_string())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Consumes the unused code with this hash; false when there is none.
    pub async fn use_recovery_code(
        &mut self,
        user: UserId,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(user.to_string())
        .bind(code_hash)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

impl Store {
    /// How many recovery codes of `user` are still unused.
    pub async fn unused_recovery_codes(&self, user: UserId) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user.to_string())
        .fetch_one(&self.read)
        .await?)
    }
}
