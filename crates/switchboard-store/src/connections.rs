//! Channel connections: the business accounts a workspace connected (a WhatsApp number, a
//! Facebook page, an Instagram, TikTok or Telegram account, a website widget), and routing of
//! webhooks to them by the platform's own account id.
//!
//! Invariants:
//! - credentials are sealed under the workspace's key, bound to this table, column and row,
//!   and never leave the store except through [`Store::connection_credentials`]; a
//!   [`Connection`] says only whether there are any;
//! - at most one live (not disconnected) connection per platform account (a partial unique
//!   index), so a webhook routes to exactly one workspace;
//! - disconnecting clears the credentials and the webhook secret at once and enqueues the
//!   deletion of the channel's data in the same transaction.

use crate::error::on_unique;
use crate::jobs::NewJob;
use crate::row::{RowExt, found, json, known, ms, text_enum};
use crate::workspace_keys::sealed_by;
use crate::{Result, Store, StoreError, Tx};
use secrecy::{ExposeSecret, SecretString};
use sqlx::any::AnyRow;
use switchboard_core::channel::ChannelKind;
use switchboard_core::{ConnectionId, JobId, Timestamp, WorkspaceId};
use switchboard_keys::{MasterKey, SealContext};

/// The job kind the privacy engine handles to delete a disconnected channel's data.
pub const CHANNEL_DATA_ERASURE_JOB: &str = "channel_data_erasure";

text_enum! {
    /// Whether a connection can send and receive.
    pub enum ConnectionStatus {
        Active = "active",
        /// The platform refused its token or a permission: an admin must reconnect it.
        NeedsAttention = "needs_attention",
        Disconnected = "disconnected",
    }
}

/// A connection to create.
#[derive(Debug)]
pub struct NewConnection<'a> {
    pub kind: ChannelKind,
    pub name: &'a str,
    /// The platform's id for the account, as its webhooks name it: phone number id, page id,
    /// Instagram account id, TikTok business id, Telegram bot id, widget key.
    pub account_id: &'a str,
    /// Tokens and app secrets, as one JSON document; sealed before it is stored.
    pub credentials: &'a SecretString,
    /// SHA-256 (hex) of the secret the platform echoes on each webhook (Telegram's
    /// `X-Telegram-Bot-Api-Secret-Token`).
    pub webhook_secret_hash: Option<&'a str>,
    /// The app-scoped id of the Meta user who authorised the connection.
    pub meta_user_id: Option<&'a str>,
    /// Widget domains, colours and greeting; the WhatsApp business account id; ...
    pub settings: &'a serde_json::Value,
}

/// A connection as the rest of Switchboard sees it: never its credentials.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Connection {
    pub id: ConnectionId,
    pub workspace_id: WorkspaceId,
    pub kind: ChannelKind,
    pub name: String,
    pub account_id: String,
    pub has_credentials: bool,
    #[serde(skip)]
    pub webhook_secret_hash: Option<String>,
    pub meta_user_id: Option<String>,
    pub settings: serde_json::Value,
    pub status: ConnectionStatus,
    pub status_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub disconnected_at: Option<Timestamp>,
}

/// Where a webhook for a platform account goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    pub kind: ChannelKind,
    pub status: ConnectionStatus,
    /// To check the secret a Telegram webhook carries.
    pub webhook_secret_hash: Option<String>,
}

const COLUMNS: &str = "id, workspace_id, kind, name, account_id, \
     CASE WHEN credentials IS NULL THEN 0 ELSE 1 END AS has_credentials, webhook_secret_hash, \
     meta_user_id, settings, status, status_reason, created_at, updated_at, disconnected_at";

fn connection_from(row: &AnyRow) -> Result<Connection> {
    Ok(Connection {
        id: row.parsed("id")?,
        workspace_id: row.parsed("workspace_id")?,
        kind: row.valid("kind", ChannelKind::parse)?,
        name: row.text("name")?,
        account_id: row.text("account_id")?,
        has_credentials: row.int("has_credentials")? == 1,
        webhook_secret_hash: row.opt_text("webhook_secret_hash")?,
        meta_user_id: row.opt_text("meta_user_id")?,
        settings: json(row, "settings")?,
        status: known(row, "status", ConnectionStatus::parse)?,
        status_reason: row.opt_text("status_reason")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        disconnected_at: row.opt_time("disconnected_at")?,
    })
}

fn route_from(row: &AnyRow) -> Result<Route> {
    Ok(Route {
        workspace_id: row.parsed("workspace_id")?,
        connection_id: row.parsed("id")?,
        kind: row.valid("kind", ChannelKind::parse)?,
        status: known(row, "status", ConnectionStatus::parse)?,
        webhook_secret_hash: row.opt_text("webhook_secret_hash")?,
    })
}

/// Where a connection's credentials live: bound into their sealing.
fn credentials_at(id: &str) -> SealContext<'_> {
    SealContext {
        table: "channel_connections",
        column: "credentials",
        row: id,
    }
}

impl Tx {
    /// Creates a connection, sealing its credentials under the workspace's key (created on
    /// first use). Refused with `connection_exists` when the platform account is already
    /// connected live, in this workspace or another.
    pub async fn insert_connection(
        &mut self,
        ws: WorkspaceId,
        new: &NewConnection<'_>,
        master: &MasterKey,
        now: Timestamp,
    ) -> Result<Connection> {
        self.insert_connection_with_id(ws, ConnectionId::new(), new, master, now)
            .await
    }

    /// [`Tx::insert_connection`] with an id chosen by the caller: Telegram's webhook URL names
    /// the connection, and it is registered with the platform before the row is stored.
    pub async fn insert_connection_with_id(
        &mut self,
        ws: WorkspaceId,
        id: ConnectionId,
        new: &NewConnection<'_>,
        master: &MasterKey,
        now: Timestamp,
    ) -> Result<Connection> {
        let sealed = self
            .seal_credentials(ws, id, new.credentials, master, now)
            .await?;
        let result = sqlx::query(
            "INSERT INTO channel_connections (id, workspace_id, kind, name, account_id, credentials, \
             webhook_secret_hash, meta_user_id, settings, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10, $10)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(new.kind.as_str())
        .bind(new.name)
        .bind(new.account_id)
        .bind(sealed)
        .bind(new.webhook_secret_hash)
        .bind(new.meta_user_id)
        .bind(new.settings.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        on_unique(
            result,
            "connection_exists",
            "That account is already connected to a workspace.",
        )?;
        self.connection(ws, id).await
    }

    async fn seal_credentials(
        &mut self,
        ws: WorkspaceId,
        id: ConnectionId,
        credentials: &SecretString,
        master: &MasterKey,
        now: Timestamp,
    ) -> Result<Vec<u8>> {
        let key = self.workspace_key(ws, master, now).await?;
        Ok(key.sealer().seal(
            credentials.expose_secret().as_bytes(),
            credentials_at(&id.to_string()),
        )?)
    }

    /// The connection, read inside this transaction.
    pub async fn connection(&mut self, ws: WorkspaceId, id: ConnectionId) -> Result<Connection> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM channel_connections WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        connection_from(&row)
    }

    /// Replaces the credentials (a refreshed token, a reconnect) and marks the connection
    /// active again. A disconnected connection cannot be given credentials.
    pub async fn replace_credentials(
        &mut self,
        ws: WorkspaceId,
        id: ConnectionId,
        credentials: &SecretString,
        master: &MasterKey,
        now: Timestamp,
    ) -> Result<()> {
        let sealed = self
            .seal_credentials(ws, id, credentials, master, now)
            .await?;
        let done = sqlx::query(
            "UPDATE channel_connections SET credentials = $3, status = 'active', \
             status_reason = NULL, updated_at = $4 \
             WHERE workspace_id = $1 AND id = $2 AND status <> 'disconnected'",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(sealed)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        found(done)
    }

    /// Renames a connection and replaces its settings.
    pub async fn update_connection(
        &mut self,
        ws: WorkspaceId,
        id: ConnectionId,
        name: &str,
        settings: &serde_json::Value,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE channel_connections SET name = $3, settings = $4, updated_at = $5 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(name)
        .bind(settings.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        found(done)
    }

    /// Marks a live connection active or needing attention (the platform refused its token),
    /// with a reason an admin can act on. Disconnecting is [`Tx::disconnect`].
    pub async fn set_connection_status(
        &mut self,
        ws: WorkspaceId,
        id: ConnectionId,
        status: ConnectionStatus,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        if status == ConnectionStatus::Disconnected {
            return Err(StoreError::conflict(
                "use_disconnect",
                "Disconnecting a channel also deletes its credentials; use disconnect.",
            ));
        }
        let done = sqlx::query(
            "UPDATE channel_connections SET status = $3, status_reason = $4, updated_at = $5 \
             WHERE workspace_id = $1 AND id = $2 AND status <> 'disconnected'",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(status.as_str())
        .bind(reason)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        found(done)
    }

    /// Disconnects a channel: its credentials and webhook secret are deleted at once, it no
    /// longer routes or sends, and a `channel_data_erasure` job for the privacy engine is
    /// enqueued in this transaction. Returns the job's id (`None` if one is already queued).
    pub async fn disconnect(
        &mut self,
        ws: WorkspaceId,
        id: ConnectionId,
        now: Timestamp,
    ) -> Result<Option<JobId>> {
        self.disconnect_only(ws, id, now).await?;
        let mut job = NewJob::new(
            CHANNEL_DATA_ERASURE_JOB,
            serde_json::json!({ "workspace_id": ws, "connection_id": id }),
            now,
        );
        job.workspace_id = Some(ws);
        job.dedupe_key = Some(format!("{CHANNEL_DATA_ERASURE_JOB}:{id}"));
        self.enqueue(job, now).await
    }

    /// [`Tx::disconnect`] without the `channel_data_erasure` job: for a privacy request whose
    /// own erasure (committed in the same transaction) covers the channel's data, such as
    /// Meta's data-deletion callback.
    pub async fn disconnect_only(
        &mut self,
        ws: WorkspaceId,
        id: ConnectionId,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE channel_connections SET status = 'disconnected', credentials = NULL, \
             webhook_secret_hash = NULL, status_reason = NULL, disconnected_at = $3, updated_at = $3 \
             WHERE workspace_id = $1 AND id = $2 AND status <> 'disconnected'",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        found(done)
    }
}

impl Store {
    /// The workspace's connections, oldest first, disconnected ones included.
    pub async fn connections(&self, ws: WorkspaceId) -> Result<Vec<Connection>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM channel_connections WHERE workspace_id = $1 ORDER BY created_at, id"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(connection_from).collect()
    }

    pub async fn connection(&self, ws: WorkspaceId, id: ConnectionId) -> Result<Connection> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM channel_connections WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        connection_from(&row)
    }

    /// The live connection a webhook for `account_id` on `kind` belongs to: the one lookup
    /// that is not scoped by workspace, because finding the workspace is its purpose.
    pub async fn route(&self, kind: ChannelKind, account_id: &str) -> Result<Option<Route>> {
        let row = sqlx::query(
            "SELECT id, workspace_id, kind, status, webhook_secret_hash FROM channel_connections \
             WHERE kind = $1 AND account_id = $2 AND status <> 'disconnected'",
        )
        .bind(kind.as_str())
        .bind(account_id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(route_from).transpose()
    }

    /// The connection of `kind` known by `account_id`, live or disconnected (the live one
    /// first): a widget is found by its key even after it was disconnected, so it can say so.
    /// Not scoped by workspace, like [`Store::route`].
    pub async fn connection_by_account(
        &self,
        kind: ChannelKind,
        account_id: &str,
    ) -> Result<Option<Connection>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM channel_connections WHERE kind = $1 AND account_id = $2 \
             ORDER BY CASE WHEN status = 'disconnected' THEN 1 ELSE 0 END, created_at DESC LIMIT 1"
        ))
        .bind(kind.as_str())
        .bind(account_id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(connection_from).transpose()
    }

    /// The live connection a webhook path names by connection id (Telegram's
    /// `/webhooks/telegram/{channel_id}`); not scoped by workspace, like [`Store::route`].
    pub async fn route_by_id(&self, id: ConnectionId) -> Result<Option<Route>> {
        let row = sqlx::query(
            "SELECT id, workspace_id, kind, status, webhook_secret_hash FROM channel_connections \
             WHERE id = $1 AND status <> 'disconnected'",
        )
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(route_from).transpose()
    }

    /// Every connection (live or not) a Meta user authorised, for Meta's data-deletion and
    /// deauthorisation callbacks, which name the user by app-scoped id.
    pub async fn connections_of_meta_user(&self, meta_user_id: &str) -> Result<Vec<Connection>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM channel_connections WHERE meta_user_id = $1 ORDER BY created_at, id"
        ))
        .bind(meta_user_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(connection_from).collect()
    }

    /// The connection's credentials, opened. `NotFound` when it has none (disconnected);
    /// a sealing error when the key that sealed them is gone or the value was moved.
    pub async fn connection_credentials(
        &self,
        ws: WorkspaceId,
        id: ConnectionId,
        master: &MasterKey,
    ) -> Result<SecretString> {
        let sealed = sqlx::query(
            "SELECT credentials FROM channel_connections WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?
        .opt_bytes("credentials")?
        .ok_or(StoreError::NotFound)?;
        let key_id =
            sealed_by(&sealed).ok_or(StoreError::Sealing(switchboard_keys::KeyError::Unseal))?;
        let key = self.workspace_key_by_id(ws, key_id, master).await?;
        let plain = key
            .sealer()
            .open(&sealed, credentials_at(&id.to_string()))?;
        let text = String::from_utf8(plain)
            .map_err(|_| StoreError::Corrupt("connection credentials are not UTF-8".into()))?;
        Ok(SecretString::from(text))
    }
}
