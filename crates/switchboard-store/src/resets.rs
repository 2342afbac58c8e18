//! (being written)

// Sweep support (written with the job queue's `session_sweep`; kept small to merge easily).
impl crate::Store {
    /// Deletes password-reset links that were used or have expired; returns how many.
    pub async fn sweep_password_resets(
        &self,
        now: switchboard_core::Timestamp,
    ) -> crate::Result<u64> {
        let done = sqlx::query(
            "DELETE FROM password_resets WHERE used_at IS NOT NULL OR expires_at <= $1",
        )
        .bind(switchboard_core::clock::to_millis(now))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }
}
