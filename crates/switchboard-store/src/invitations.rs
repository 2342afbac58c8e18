//! (being written)

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
