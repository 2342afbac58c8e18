//! Counters of failed sign-ins, keyed by account or IP address, shared by every server
//! process through the database.
//!
//! Invariant: a failure is counted by one atomic upsert, so concurrent attempts from many
//! processes are all counted. The policy (how many failures, how long a lock) is the
//! server's; this module only counts and remembers locks.

use crate::row::{RowExt, ms};
use crate::{Result, Store, Tx};
use switchboard_core::Timestamp;
use switchboard_core::clock::from_millis;

impl Tx {
    /// Counts one failure for `key` and returns the failures in the current window. A window
    /// that started before `window_start` and whose lock (if any) ended before it starts
    /// afresh, so growing locks survive while the guessing goes on.
    pub async fn count_login_failure(
        &mut self,
        key: &str,
        now: Timestamp,
        window_start: Timestamp,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO login_throttle (throttle_key, failures, window_started_at, locked_until) \
             VALUES ($1, 1, $2, NULL) \
             ON CONFLICT (throttle_key) DO UPDATE SET \
               failures = CASE WHEN login_throttle.window_started_at <= $3 \
                 AND COALESCE(login_throttle.locked_until, 0) <= $3 \
                 THEN 1 ELSE login_throttle.failures + 1 END, \
               locked_until = CASE WHEN login_throttle.window_started_at <= $3 \
                 AND COALESCE(login_throttle.locked_until, 0) <= $3 \
                 THEN NULL ELSE login_throttle.locked_until END, \
               window_started_at = CASE WHEN login_throttle.window_started_at <= $3 \
                 AND COALESCE(login_throttle.locked_until, 0) <= $3 \
                 THEN $2 ELSE login_throttle.window_started_at END \
             RETURNING failures",
        )
        .bind(key)
        .bind(ms(now))
        .bind(ms(window_start))
        .fetch_one(self.conn())
        .await?;
        row.int("failures")
    }

    pub async fn lock_login(&mut self, key: &str, until: Timestamp) -> Result<()> {
        sqlx::query("UPDATE login_throttle SET locked_until = $2 WHERE throttle_key = $1")
            .bind(key)
            .bind(ms(until))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Forgets the failures of `key` (after a successful sign-in to that account).
    pub async fn clear_login_failures(&mut self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1")
            .bind(key)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// Until when `key` is locked, if it is locked at `now`.
    pub async fn login_locked_until(&self, key: &str, now: Timestamp) -> Result<Option<Timestamp>> {
        let until: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT locked_until FROM login_throttle WHERE throttle_key = $1 AND locked_until > $2",
        )
        .bind(key)
        .bind(ms(now))
        .fetch_optional(&self.read)
        .await?;
        Ok(until.flatten().map(from_millis))
    }

    /// Deletes throttle rows whose window began before `cutoff` and that hold no lock still
    /// in force; returns how many. Instance-wide maintenance, not tenant data. (The same
    /// signature the job queue's `session_sweep` calls.)
    pub async fn sweep_login_throttle(&self, cutoff: Timestamp, now: Timestamp) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM login_throttle WHERE window_started_at < $1 \
             AND (locked_until IS NULL OR locked_until <= $2)",
        )
        .bind(ms(cutoff))
        .bind(ms(now))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }
}
