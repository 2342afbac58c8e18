//! Connecting, configuring and migrating the database, and the transaction type that lets a
//! change and the jobs it causes commit together.

use crate::{Result, StoreError};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Picks the backend from the URL scheme, as atuin does.
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(
                "the database URL must start with sqlite: or postgres://".into(),
            ))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// Connections for reads (and, on PostgreSQL, for writes too).
    pub(crate) read: AnyPool,
    /// On SQLite: the single writer connection. On PostgreSQL: the same pool as `read`.
    pub(crate) write: AnyPool,
    pub(crate) backend: Backend,
    /// Wakes this process's event streams after commits that wrote events.
    pub(crate) bus: crate::events::EventBus,
    /// For connections outside the pools (PostgreSQL's `LISTEN`).
    pub(crate) url: Option<crate::events::DatabaseUrl>,
    /// Dropped with the last clone of the store, which stops its background tasks.
    pub(crate) alive: std::sync::Arc<tokio::sync::watch::Sender<()>>,
}

/// A write transaction. Commit it, or drop it to roll back.
pub struct Tx(
    pub(crate) Transaction<'static, Any>,
    pub(crate) crate::events::TxEvents,
    crate::events::EventBus,
);

impl Tx {
    /// Writes the webhook deliveries and the events the transaction recorded, commits, then
    /// wakes the streams of the workspaces they belong to.
    pub async fn commit(mut self) -> Result<()> {
        self.flush_webhooks().await?;
        let woken = self.flush_events().await?;
        self.0.commit().await?;
        for ws in woken {
            self.2.wake(ws);
        }
        Ok(())
    }

    /// Marks a point this transaction can roll back to without giving up what came before
    /// (group commit: one request's failure must not undo the others in the batch).
    pub async fn savepoint(&mut self) -> Result<()> {
        sqlx::query("SAVEPOINT sb_item")
            .execute(self.conn())
            .await?;
        self.events_savepoint();
        Ok(())
    }

    /// Keeps what was written since the last [`Tx::savepoint`].
    pub async fn release_savepoint(&mut self) -> Result<()> {
        sqlx::query("RELEASE SAVEPOINT sb_item")
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Undoes what was written since the last [`Tx::savepoint`], keeping the rest.
    pub async fn rollback_to_savepoint(&mut self) -> Result<()> {
        sqlx::query("ROLLBACK TO SAVEPOINT sb_item")
            .execute(self.conn())
            .await?;
        self.events_rollback_to_savepoint();
        self.release_savepoint().await
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.0
    }

    /// Serialises this transaction with every other one that locks the same `key`, until
    /// commit or rollback. On SQLite `BEGIN IMMEDIATE` already serialises all writers; on
    /// PostgreSQL a transaction-scoped advisory lock on the key's hash does (a collision only
    /// serialises two unrelated keys). Used where a check-then-insert spans two tables that no
    /// single unique index covers (a status that arrives as its message is being stored).
    pub(crate) async fn lock_key(&mut self, key: &str) -> Result<()> {
        if self.conn().backend_name() == "PostgreSQL" {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(key)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }
}

impl Store {
    /// Opens the database named by `url` without migrating it.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let options = AnyConnectOptions::from_str(url)?;
        match backend {
            Backend::Sqlite => {
                let write = sqlite_pool(1).connect_with(options.clone()).await?;
                let read = sqlite_pool(8).connect_with(options).await?;
                Ok(Store {
                    read,
                    write,
                    backend,
                    bus: Default::default(),
                    url: None,
                    alive: std::sync::Arc::new(tokio::sync::watch::channel(()).0),
                })
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                Ok(Store {
                    read: pool.clone(),
                    write: pool,
                    backend,
                    bus: Default::default(),
                    url: Some(crate::events::DatabaseUrl(std::sync::Arc::new(
                        url.to_owned(),
                    ))),
                    alive: std::sync::Arc::new(tokio::sync::watch::channel(()).0),
                })
            }
        }
    }

    /// Opens the database and applies any pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; safe to run from several processes at once (sqlx takes
    /// an advisory lock on PostgreSQL; SQLite serialises writers).
    pub async fn migrate(&self) -> Result<()> {
        self.backend.migrator().run(&self.write).await?;
        Ok(())
    }

    /// How many known migrations are not yet applied (readiness requires zero).
    pub async fn pending_migrations(&self) -> Result<usize> {
        let applied: Vec<i64> = sqlx::query_scalar::<_, i64>(
            "SELECT version FROM _sqlx_migrations WHERE success = TRUE",
        )
        .fetch_all(&self.read)
        .await
        .unwrap_or_default();
        Ok(self
            .backend
            .migrator()
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count())
    }

    /// Whether the database answers at all.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken
    /// (waiting up to the busy timeout) before the first read, so a transaction that reads
    /// and then writes cannot fail with a busy snapshot, even beside another process (the
    /// CLI next to `serve`) that has its own writer connection.
    pub async fn begin(&self) -> Result<Tx> {
        let tx = match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.write.begin().await?,
        };
        Ok(Tx(tx, Default::default(), self.bus.clone()))
    }

    /// Runs one administrative statement (`CREATE DATABASE`, `DROP DATABASE`) that takes no
    /// parameters; for tooling that manages scratch databases, never for tenant data.
    pub async fn execute_admin(&self, sql: &str) -> Result<()> {
        sqlx::query(sql).execute(&self.write).await?;
        Ok(())
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

fn sqlite_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL lets readers run beside the writer; FULL makes each commit durable;
                // secure_delete overwrites erased rows instead of leaving them in free pages.
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; \
                     PRAGMA busy_timeout = 10000;",
                )
                .await?;
                Ok(())
            })
        })
}
