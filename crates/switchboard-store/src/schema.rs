//! Introspection of the live schema, so tests can hold it against the personal-data
//! inventory on both backends.

use crate::{Backend, Result, Store};
use sqlx::Row;

/// One column of the live schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveColumn {
    pub table: String,
    pub column: String,
}

impl Store {
    /// Every user table's columns, excluding the database's own catalogue.
    pub async fn live_columns(&self) -> Result<Vec<LiveColumn>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT m.name AS table_name, p.name AS column_name \
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                 AND m.sql NOT LIKE 'CREATE VIRTUAL TABLE%' \
                 AND NOT EXISTS (SELECT 1 FROM sqlite_master v \
                     WHERE v.type = 'table' AND v.sql LIKE 'CREATE VIRTUAL TABLE%' \
                     AND m.name LIKE v.name || '\\_%' ESCAPE '\\') \
                 ORDER BY m.name, p.cid"
            }
            Backend::Postgres => {
                "SELECT CAST(table_name AS TEXT) AS table_name, CAST(column_name AS TEXT) AS column_name \
                 FROM information_schema.columns WHERE table_schema = current_schema() \
                 ORDER BY table_name, ordinal_position"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(LiveColumn {
                    table: r.try_get("table_name")?,
                    column: r.try_get("column_name")?,
                })
            })
            .collect()
    }
}

impl Store {
    /// The names of the live full-text indexes (SQLite: FTS5 virtual tables; PostgreSQL: GIN
    /// indexes), to hold against `switchboard_core::inventory::SEARCH_INDEXES`. A full-text
    /// index is not a table of its own, so [`Store::live_columns`] leaves it (and its shadow
    /// tables) out.
    pub async fn live_search_indexes(&self) -> Result<Vec<String>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND sql LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT CAST(indexname AS TEXT) AS name FROM pg_indexes \
                 WHERE schemaname = current_schema() AND indexdef LIKE '%USING gin%' ORDER BY indexname"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("name")?))
            .collect()
    }

    /// How many sessions wait on an advisory lock (PostgreSQL; always 0 on SQLite). Lets
    /// tests prove that a transaction is queued behind another one.
    pub async fn waiting_advisory_locks(&self) -> Result<i64> {
        match self.backend {
            Backend::Sqlite => Ok(0),
            Backend::Postgres => Ok(sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .fetch_one(&self.read)
            .await?),
        }
    }
}
