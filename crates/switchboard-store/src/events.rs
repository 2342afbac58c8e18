//! The live-update event log: what changed in a workspace, numbered in commit order, so a
//! browser that reconnects with the last number it saw gets exactly what it missed.
//!
//! Invariants:
//! - an event is written in the transaction of the change it reports (store methods call
//!   [`Tx::record_event`]; the rows are inserted when the transaction commits), so a reader
//!   never sees an event without its change, nor a change without its event;
//! - `seq` rises by one per event within a workspace in commit order: the rows are inserted
//!   last, under a per-workspace lock held until commit (PostgreSQL: an advisory lock;
//!   SQLite: its single writer), so a reader that saw `seq = n` can never later find an event
//!   `< n` it did not see;
//! - a payload names ids, kinds and states, never message text or names;
//! - after the commit, streams are woken: in this process through [`EventBus`]; in other
//!   processes on PostgreSQL through `NOTIFY switchboard_events` (sent in the transaction,
//!   so delivered only if it commits) and the listener [`Store::spawn_event_listener`] starts.

use crate::row::{RowExt, ms};
use crate::{Backend, Result, Store, StoreError, Tx};
use switchboard_core::{ConversationId, Timestamp, WorkspaceId};
use tokio::sync::broadcast;

/// The PostgreSQL channel streams of every process listen on; the payload is a workspace id.
pub const NOTIFY_CHANNEL: &str = "switchboard_events";

/// Wakes this process's event streams when a workspace has new events.
#[derive(Clone, Debug)]
pub struct EventBus(broadcast::Sender<WorkspaceId>);

impl Default for EventBus {
    fn default() -> Self {
        // A lagging receiver only misses wake-ups, and a stream re-reads the log on lag.
        Self(broadcast::channel(1024).0)
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<WorkspaceId> {
        self.0.subscribe()
    }

    pub fn wake(&self, ws: WorkspaceId) {
        // No receiver is not an error: nobody is watching.
        let _ = self.0.send(ws);
    }
}

/// An event waiting for its transaction to commit.
#[derive(Debug, Clone)]
pub(crate) struct PendingEvent {
    ws: WorkspaceId,
    kind: &'static str,
    conversation: Option<ConversationId>,
    payload: serde_json::Value,
    at: Timestamp,
}

/// The events a transaction has recorded, and where its savepoint was.
#[derive(Debug, Default)]
pub(crate) struct TxEvents {
    pending: Vec<PendingEvent>,
    savepoint: usize,
    /// Outbound webhook events (`crate::webhooks`), written as deliveries at commit.
    pub(crate) hooks: Vec<crate::webhooks::PendingHook>,
    hooks_savepoint: usize,
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Event {
    pub seq: i64,
    /// `message.created`, `message.updated`, `conversation.updated`, `activity.created`,
    /// `label.changed`.
    pub kind: String,
    pub conversation_id: Option<ConversationId>,
    pub payload: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

impl Tx {
    /// Records that `kind` happened (to `conversation`), to be written when this transaction
    /// commits. `payload` holds ids and states only.
    pub fn record_event(
        &mut self,
        ws: WorkspaceId,
        kind: &'static str,
        conversation: Option<ConversationId>,
        payload: serde_json::Value,
        at: Timestamp,
    ) {
        // Conversation and message changes are webhook events too.
        for (hook, subject) in crate::webhooks::hooks_for_event(kind, conversation, &payload) {
            self.record_webhook(ws, hook, subject, at);
        }
        self.1.pending.push(PendingEvent {
            ws,
            kind,
            conversation,
            payload,
            at,
        });
    }

    pub(crate) fn events_savepoint(&mut self) {
        self.1.savepoint = self.1.pending.len();
        self.1.hooks_savepoint = self.1.hooks.len();
    }

    pub(crate) fn events_rollback_to_savepoint(&mut self) {
        let mark = self.1.savepoint;
        self.1.pending.truncate(mark);
        let hooks = self.1.hooks_savepoint;
        self.1.hooks.truncate(hooks);
    }

    /// Writes the recorded events, last thing before the commit; returns the workspaces to
    /// wake once it committed.
    pub(crate) async fn flush_events(&mut self) -> Result<Vec<WorkspaceId>> {
        let pending = std::mem::take(&mut self.1.pending);
        let mut workspaces: Vec<WorkspaceId> = pending.iter().map(|e| e.ws).collect();
        workspaces.sort_by_key(|w| w.to_string());
        workspaces.dedup();
        let postgres = self.conn().backend_name() == "PostgreSQL";
        // Locks in one order (sorted), so two transactions never wait on each other.
        for ws in &workspaces {
            self.lock_key(&format!("events:{ws}")).await?;
        }
        for event in pending {
            sqlx::query(
                "INSERT INTO events (workspace_id, seq, kind, conversation_id, payload, created_at) \
                 SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM events WHERE workspace_id = $1",
            )
            .bind(event.ws.to_string())
            .bind(event.kind)
            .bind(event.conversation.map(|c| c.to_string()))
            .bind(event.payload.to_string())
            .bind(ms(event.at))
            .execute(self.conn())
            .await?;
        }
        if postgres {
            for ws in &workspaces {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(NOTIFY_CHANNEL)
                    .bind(ws.to_string())
                    .execute(self.conn())
                    .await?;
            }
        }
        Ok(workspaces)
    }

    /// Deletes events older than `cutoff` (a reconnecting client older than that reloads).
    pub async fn delete_events_before(&mut self, cutoff: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM events WHERE created_at < $1")
            .bind(ms(cutoff))
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected())
    }
}

fn event_from(row: &sqlx::any::AnyRow) -> Result<Event> {
    let raw = row.text("payload")?;
    Ok(Event {
        seq: row.int("seq")?,
        kind: row.text("kind")?,
        conversation_id: row.opt_parsed("conversation_id")?,
        payload: serde_json::from_str(&raw)
            .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?,
        created_at: row.time("created_at")?,
    })
}

impl Store {
    /// Wakes on new events of any workspace in this process (and, with the listener running,
    /// of other processes on the same PostgreSQL database).
    pub fn subscribe_events(&self) -> broadcast::Receiver<WorkspaceId> {
        self.bus.subscribe()
    }

    /// The workspace's events after `seq`, oldest first, at most `limit`.
    pub async fn events_after(&self, ws: WorkspaceId, seq: i64, limit: i64) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT seq, kind, conversation_id, payload, created_at FROM events \
             WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(ws.to_string())
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(event_from).collect()
    }

    /// The number of the workspace's latest event (0 when there is none): where a client
    /// that starts fresh begins.
    pub async fn latest_event_seq(&self, ws: WorkspaceId) -> Result<i64> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM events WHERE workspace_id = $1")
                .bind(ws.to_string())
                .fetch_one(&self.read)
                .await?;
        Ok(seq.unwrap_or(0))
    }

    /// On PostgreSQL, starts a task that `LISTEN`s for other processes' commits and wakes
    /// this process's streams (a no-op on SQLite, where one process owns the database). The
    /// store's pools use the `Any` driver, so the listener opens its own connection from the
    /// URL. On a lost connection it reconnects; streams also re-read the log periodically,
    /// so a notification lost in between delays an update, never loses it.
    pub fn spawn_event_listener(&self) {
        if self.backend != Backend::Postgres {
            return;
        }
        let Some(url) = self.url.clone() else {
            return;
        };
        let bus = self.bus.clone();
        let mut alive = self.alive.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    // Every clone of the store is gone: nothing left to wake.
                    _ = alive.changed() => return,
                    () = listen(url.expose(), &bus) => {}
                }
                tokio::select! {
                    _ = alive.changed() => return,
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
        });
    }
}

/// Listens until the connection is lost, waking `bus` for each notification.
async fn listen(url: &str, bus: &EventBus) {
    let mut listener = match sqlx::postgres::PgListener::connect(url).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "event listener cannot connect");
            return;
        }
    };
    if let Err(e) = listener.listen(NOTIFY_CHANNEL).await {
        tracing::warn!(error = %e, "LISTEN failed");
        return;
    }
    loop {
        match listener.recv().await {
            Ok(n) => {
                if let Ok(ws) = n.payload().parse::<WorkspaceId>() {
                    bus.wake(ws);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "event listener lost its connection");
                return;
            }
        }
    }
}

/// The database URL, kept for connections outside the pools; it may hold a password, so its
/// `Debug` prints nothing of it.
#[derive(Clone)]
pub(crate) struct DatabaseUrl(pub(crate) std::sync::Arc<String>);

impl DatabaseUrl {
    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(<redacted>)")
    }
}
