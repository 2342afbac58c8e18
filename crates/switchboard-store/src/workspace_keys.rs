//! Workspace keys: each workspace's random data key, stored only wrapped under the master key
//! (see `switchboard_keys::WorkspaceKey`). A workspace has at most one live key (a partial
//! unique index); it is created on first use inside the caller's transaction, so a value is
//! never sealed under a key that did not commit with it.

use crate::row::{RowExt, ms};
use crate::{Result, Store, StoreError, Tx};
use switchboard_core::{Timestamp, WorkspaceId, WorkspaceKeyId};
use switchboard_keys::{KeyId, MasterKey, WorkspaceKey};

fn key_id(id: WorkspaceKeyId) -> KeyId {
    KeyId(id.as_uuid().into_bytes())
}

/// The workspace key id a sealed value names, if it names one.
pub(crate) fn sealed_by(sealed: &[u8]) -> Option<WorkspaceKeyId> {
    switchboard_keys::sealed_key_id(sealed)
        .map(|k| WorkspaceKeyId::from_uuid(uuid::Uuid::from_bytes(k.0)))
}

fn unwrap(
    master: &MasterKey,
    ws: WorkspaceId,
    id: WorkspaceKeyId,
    wrapped: Option<Vec<u8>>,
) -> Result<WorkspaceKey> {
    // A destroyed key has no wrapped bytes left: what it sealed is gone for good.
    let wrapped = wrapped.ok_or(StoreError::Sealing(switchboard_keys::KeyError::Unseal))?;
    Ok(WorkspaceKey::unwrap(
        master,
        &ws.to_string(),
        key_id(id),
        &wrapped,
    )?)
}

impl Tx {
    /// The workspace's live data key, created (random, wrapped under `master`) when it has
    /// none yet.
    pub async fn workspace_key(
        &mut self,
        ws: WorkspaceId,
        master: &MasterKey,
        now: Timestamp,
    ) -> Result<WorkspaceKey> {
        if let Some(key) = self.live_workspace_key(ws, master).await? {
            return Ok(key);
        }
        let id = WorkspaceKeyId::new();
        let key = WorkspaceKey::generate(key_id(id));
        let wrapped = key.wrap(master, &ws.to_string())?;
        // Two first uses at once: the partial unique index lets one insert win; the other
        // reads the winner's key below.
        sqlx::query(
            "INSERT INTO workspace_keys (key_id, workspace_id, wrapped_key, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace_id) WHERE destroyed_at IS NULL DO NOTHING",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(wrapped)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        self.live_workspace_key(ws, master)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn live_workspace_key(
        &mut self,
        ws: WorkspaceId,
        master: &MasterKey,
    ) -> Result<Option<WorkspaceKey>> {
        let row = sqlx::query(
            "SELECT key_id, wrapped_key FROM workspace_keys \
             WHERE workspace_id = $1 AND destroyed_at IS NULL",
        )
        .bind(ws.to_string())
        .fetch_optional(self.conn())
        .await?;
        row.map(|r| unwrap(master, ws, r.parsed("key_id")?, r.opt_bytes("wrapped_key")?))
            .transpose()
    }

    /// Destroys every key of the workspace (crypto-shredding): the wrapped bytes are
    /// overwritten with NULL, so nothing sealed under them can be opened again, from this
    /// database or from any copy of it taken later than the keyring.
    pub async fn destroy_workspace_keys(&mut self, ws: WorkspaceId, now: Timestamp) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE workspace_keys SET wrapped_key = NULL, destroyed_at = $2 \
             WHERE workspace_id = $1 AND destroyed_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected())
    }
}

impl Tx {
    /// [`Store::workspace_key_by_id`] inside this transaction (re-sealing a value under another
    /// column, as a webhook secret rotation does, opens it here first).
    pub async fn workspace_key_by_id(
        &mut self,
        ws: WorkspaceId,
        id: WorkspaceKeyId,
        master: &MasterKey,
    ) -> Result<WorkspaceKey> {
        let row = sqlx::query(
            "SELECT wrapped_key FROM workspace_keys WHERE workspace_id = $1 AND key_id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        unwrap(master, ws, id, row.opt_bytes("wrapped_key")?)
    }
}

impl Store {
    /// The workspace key with `id`, live or not yet destroyed, for opening a value sealed
    /// under it (the id is read from the value's header).
    pub async fn workspace_key_by_id(
        &self,
        ws: WorkspaceId,
        id: WorkspaceKeyId,
        master: &MasterKey,
    ) -> Result<WorkspaceKey> {
        let row = sqlx::query(
            "SELECT wrapped_key FROM workspace_keys WHERE workspace_id = $1 AND key_id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        unwrap(master, ws, id, row.opt_bytes("wrapped_key")?)
    }

    /// The workspace's live key, created on first use (in a transaction of its own).
    pub async fn workspace_key(
        &self,
        ws: WorkspaceId,
        master: &MasterKey,
        now: Timestamp,
    ) -> Result<WorkspaceKey> {
        let live = sqlx::query(
            "SELECT key_id, wrapped_key FROM workspace_keys \
             WHERE workspace_id = $1 AND destroyed_at IS NULL",
        )
        .bind(ws.to_string())
        .fetch_optional(&self.read)
        .await?;
        if let Some(r) = live {
            return unwrap(master, ws, r.parsed("key_id")?, r.opt_bytes("wrapped_key")?);
        }
        let mut tx = self.begin().await?;
        let key = tx.workspace_key(ws, master, now).await?;
        tx.commit().await?;
        Ok(key)
    }
}
