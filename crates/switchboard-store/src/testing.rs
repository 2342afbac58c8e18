#![allow(clippy::panic)] // Test support: a broken test database should stop the test loudly.

//! Test support shared by every crate's tests: a fresh database per test on each backend.
//!
//! SQLite gets a file in a temporary directory. PostgreSQL gets a new database created on
//! the server named by `SWITCHBOARD_TEST_DATABASE_URL` and dropped when the test ends; without
//! that variable the PostgreSQL half of a test prints that it was skipped, straight to the
//! terminal so the test harness cannot hide it.

use crate::{Backend, Store};
use std::io::Write;

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_TEST_URL: &str = "SWITCHBOARD_TEST_DATABASE_URL";

/// A database that lives as long as one test.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub backend: Backend,
    /// Holds the SQLite file's directory until the test ends.
    _dir: Option<tempfile::TempDir>,
    /// For PostgreSQL: the server URL and the database to drop afterwards.
    drop_target: Option<(String, String)>,
}

impl TestDb {
    /// A fresh, migrated database on `backend`, or `None` (after saying so loudly) when the
    /// PostgreSQL half has no server to run on.
    pub async fn new(backend: Backend, test_name: &str) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Postgres => Self::postgres(test_name).await,
        }
    }

    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        let store = Store::open(&url)
            .await
            .unwrap_or_else(|e| panic!("open sqlite test db: {e}"));
        TestDb {
            store,
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
            drop_target: None,
        }
    }

    pub async fn postgres(test_name: &str) -> Option<TestDb> {
        let Some(server) = std::env::var(POSTGRES_TEST_URL)
            .ok()
            .filter(|v| !v.trim().is_empty())
        else {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED postgres half of `{test_name}`: set {POSTGRES_TEST_URL} (CI always does)"
            );
            return None;
        };
        let name = format!("sbtest_{}", uuid::Uuid::new_v4().simple());
        let admin = Store::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("connect to {POSTGRES_TEST_URL}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin.write)
            .await
            .unwrap_or_else(|e| panic!("create test database: {e}"));
        admin.close().await;
        let url = with_database(&server, &name);
        let store = Store::open(&url)
            .await
            .unwrap_or_else(|e| panic!("open postgres test db: {e}"));
        Some(TestDb {
            store,
            url,
            backend: Backend::Postgres,
            _dir: None,
            drop_target: Some((server, name)),
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.drop_target.take() else {
            return;
        };
        // Drop runs inside the test's runtime; do the async clean-up on a thread of its own.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = Store::connect(&server).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&admin.write)
                        .await;
                    admin.close().await;
                }
            });
        });
        let _ = handle.join();
    }
}

/// Replaces the database name in a PostgreSQL URL, keeping any query string.
pub fn with_database(server_url: &str, database: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server_url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_and_path = base.get(scheme_end..).unwrap_or_default();
    let host = host_and_path.split('/').next().unwrap_or_default();
    let prefix = base.get(..scheme_end).unwrap_or_default();
    match query {
        Some(q) => format!("{prefix}{host}/{database}?{q}"),
        None => format!("{prefix}{host}/{database}"),
    }
}

/// Declares tests that run once per backend. Each named function is
/// `async fn name(store: Store)`; the macro makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = $crate::testing::TestDb::sqlite().await;
                super::$name(db.store.clone()).await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(db) = $crate::testing::TestDb::postgres(stringify!($name)).await else {
                    return;
                };
                super::$name(db.store.clone()).await;
            }
        }
    )*};
}

/// Every `table.column` of the inventory whose value contains `needle`: a residue scan for
/// tests that prove a secret or an erased value is not stored anywhere.
pub async fn columns_containing(store: &Store, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for table in switchboard_core::inventory::TABLES {
        if table.name.starts_with('_') {
            continue;
        }
        for column in table.columns {
            let sql = format!(
                "SELECT COUNT(*) FROM {} WHERE CAST({} AS TEXT) LIKE $1",
                table.name, column.name
            );
            let n: i64 = sqlx::query_scalar(&sql)
                .bind(format!("%{needle}%"))
                .fetch_one(&store.read)
                .await
                .unwrap_or_else(|e| panic!("scan {}.{}: {e}", table.name, column.name));
            if n > 0 {
                hits.push(format!("{}.{}", table.name, column.name));
            }
        }
    }
    hits
}

/// The store's read pool, for tests that look at rows directly.
pub fn read_pool(store: &Store) -> sqlx::AnyPool {
    store.read.clone()
}

/// A connection's credentials as stored (sealed), for tests that move ciphertexts around.
pub async fn sealed_credentials(
    store: &Store,
    id: switchboard_core::ConnectionId,
) -> Option<Vec<u8>> {
    sqlx::query_scalar::<_, Option<Vec<u8>>>(
        "SELECT credentials FROM channel_connections WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&store.read)
    .await
    .unwrap_or_else(|e| panic!("read credentials: {e}"))
}

/// Overwrites a connection's sealed credentials with `sealed`, as an attacker with write
/// access to the database could.
pub async fn set_sealed_credentials(
    store: &Store,
    id: switchboard_core::ConnectionId,
    sealed: &[u8],
) {
    sqlx::query("UPDATE channel_connections SET credentials = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(sealed)
        .execute(&store.write)
        .await
        .unwrap_or_else(|e| panic!("write credentials: {e}"));
}

/// Inserts `n` received text messages into one conversation, all created at `at`, many
/// rows per statement: the retention benchmark's expired backlog (a million rows would take
/// minutes through the ingest path). Ids are `bench-<n>`: never read back as ids.
#[allow(clippy::too_many_arguments)]
pub async fn bulk_messages(
    store: &Store,
    ws: switchboard_core::WorkspaceId,
    connection: switchboard_core::ConnectionId,
    conversation: switchboard_core::ConversationId,
    contact: switchboard_core::ContactId,
    first: u64,
    n: u64,
    at: switchboard_core::Timestamp,
) -> crate::Result<()> {
    const CHUNK: u64 = 20_000;
    let at = switchboard_core::clock::to_millis(at);
    let mut start = first;
    let end = first + n;
    while start < end {
        let stop = (start + CHUNK).min(end);
        let mut tx = store.begin().await?;
        sqlx::query(
            "WITH RECURSIVE s(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL SELECT i + 1 FROM s WHERE i + 1 < $2) \
             INSERT INTO messages (id, workspace_id, conversation_id, connection_id, contact_id, \
             direction, external_id, content, text, status, status_rank, created_at, updated_at) \
             SELECT 'bench-' || CAST(i AS TEXT), $3, $4, $5, $6, 'inbound', 'bench-' || CAST(i AS TEXT), \
             '{\"type\":\"text\",\"body\":\"an old message\"}', 'an old message', 'received', 0, $7, $7 FROM s",
        )
        .bind(i64::try_from(start).unwrap_or(i64::MAX))
        .bind(i64::try_from(stop).unwrap_or(i64::MAX))
        .bind(ws.to_string())
        .bind(conversation.to_string())
        .bind(connection.to_string())
        .bind(contact.to_string())
        .bind(at)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        start = stop;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
