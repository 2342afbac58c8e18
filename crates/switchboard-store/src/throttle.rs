//! (being written)

// Sweep support (written with the job queue's `session_sweep`; kept small to merge easily).
impl crate::Store {
    /// Deletes throttle rows whose window began before `cutoff` and that hold no lock still
    /// in force; returns how many. Instance-wide maintenance, not tenant data.
    pub async fn sweep_login_throttle(
        &self,
        cutoff: switchboard_core::Timestamp,
        now: switchboard_core::Timestamp,
    ) -> crate::Result<u64> {
        let done = sqlx::query(
            "DELETE FROM login_throttle WHERE window_started_at < $1 \
             AND (locked_until IS NULL OR locked_until <= $2)",
        )
        .bind(switchboard_core::clock::to_millis(cutoff))
        .bind(switchboard_core::clock::to_millis(now))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }
}
