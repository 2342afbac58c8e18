//! The residue scan: after an erasure, look for the subject's identifiers everywhere they
//! could still be — every text column of every table of the live schema (not the inventory:
//! a column someone forgot to classify is scanned too), and the files of the data directory
//! that hold copies (the media store, the mail outbox, log files).
//!
//! Invariant: a hit names where (table and column, or file) and how many rows, never the
//! value found, so the scan's own report holds no personal data.

use crate::row::RowExt;
use crate::{Backend, Result, Store};
use std::path::{Path, PathBuf};

/// Where identifiers were found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResidueHit {
    /// `table.column`, or `file:<path>`.
    pub place: String,
    /// Rows (or, for a file, identifiers) that matched.
    pub rows: u64,
}

/// Escapes LIKE's wildcards so a needle matches literally (with `ESCAPE '\'`).
fn like_pattern(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Files larger than this are read only up to it (media are capped well below).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

impl Store {
    /// Every text column of the live schema, as `(table, column)`.
    pub async fn live_text_columns(&self) -> Result<Vec<(String, String)>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT m.name AS table_name, p.name AS column_name \
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                 AND UPPER(p.type) IN ('TEXT', 'VARCHAR', 'CHAR', 'CLOB', '') \
                 ORDER BY m.name, p.cid"
            }
            Backend::Postgres => {
                "SELECT CAST(table_name AS TEXT) AS table_name, CAST(column_name AS TEXT) AS column_name \
                 FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb') \
                 ORDER BY table_name, ordinal_position"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| Ok((r.text("table_name")?, r.text("column_name")?)))
            .collect()
    }

    /// Rows per text column that contain any of `needles` (exact text; on SQLite LIKE also
    /// ignores ASCII case).
    pub async fn residue_scan(&self, needles: &[String]) -> Result<Vec<ResidueHit>> {
        self.residue_scan_in(None, needles).await
    }

    /// [`Store::residue_scan`] limited, in tables that have a `workspace_id` column, to the
    /// rows of `ws` (tables without one, such as accounts, are scanned whole).
    pub async fn residue_scan_in(
        &self,
        ws: Option<switchboard_core::WorkspaceId>,
        needles: &[String],
    ) -> Result<Vec<ResidueHit>> {
        self.residue_scan_except(ws, needles, &[]).await
    }

    /// [`Store::residue_scan_in`] leaving out the tables named in `skip` (a workspace's
    /// erasure does not look in its members' accounts, which are subjects of their own).
    pub async fn residue_scan_except(
        &self,
        ws: Option<switchboard_core::WorkspaceId>,
        needles: &[String],
        skip: &[&str],
    ) -> Result<Vec<ResidueHit>> {
        let needles: Vec<&String> = needles.iter().filter(|n| !n.is_empty()).collect();
        if needles.is_empty() {
            return Ok(Vec::new());
        }
        let scoped: std::collections::HashSet<String> = match ws {
            Some(_) => self
                .live_columns()
                .await?
                .into_iter()
                .filter(|c| c.column == "workspace_id")
                .map(|c| c.table)
                .collect(),
            None => Default::default(),
        };
        let mut hits = Vec::new();
        for (table, column) in self.live_text_columns().await? {
            if table.starts_with('_') || skip.contains(&table.as_str()) {
                continue;
            }
            let ors: Vec<String> = (1..=needles.len())
                .map(|i| format!("CAST({column} AS TEXT) LIKE ${i} ESCAPE '\\'"))
                .collect();
            let scope = match ws {
                Some(_) if scoped.contains(&table) => {
                    format!(" AND workspace_id = ${}", needles.len() + 1)
                }
                _ => String::new(),
            };
            let sql = format!(
                "SELECT COUNT(*) AS n FROM {table} WHERE ({}){scope}",
                ors.join(" OR ")
            );
            let mut q = sqlx::query(&sql);
            for n in &needles {
                q = q.bind(like_pattern(n));
            }
            if !scope.is_empty()
                && let Some(ws) = ws
            {
                q = q.bind(ws.to_string());
            }
            let n = q.fetch_one(&self.read).await?.int("n")?;
            if n > 0 {
                hits.push(ResidueHit {
                    place: format!("{table}.{column}"),
                    rows: n as u64,
                });
            }
        }
        Ok(hits)
    }
}

/// Files under `dirs` (recursively; a path may name a single file) that contain any of `needles`, byte for byte.
pub async fn scan_files(dirs: &[PathBuf], needles: &[String]) -> Vec<ResidueHit> {
    let dirs = dirs.to_vec();
    let needles: Vec<Vec<u8>> = needles
        .iter()
        .filter(|n| !n.is_empty())
        .map(|n| n.as_bytes().to_vec())
        .collect();
    if needles.is_empty() {
        return Vec::new();
    }
    tokio::task::spawn_blocking(move || {
        let mut hits = Vec::new();
        for dir in &dirs {
            scan_dir(dir, &needles, &mut hits, 0);
        }
        hits
    })
    .await
    .unwrap_or_default()
}

fn scan_dir(dir: &Path, needles: &[Vec<u8>], hits: &mut Vec<ResidueHit>, depth: u8) {
    if depth > 8 {
        return;
    }
    if dir.is_file() {
        scan_file(dir, needles, hits);
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            scan_dir(&path, needles, hits, depth + 1);
        } else if kind.is_file() {
            scan_file(&path, needles, hits);
        }
    }
}

fn scan_file(path: &Path, needles: &[Vec<u8>], hits: &mut Vec<ResidueHit>) {
    let Ok(file) = std::fs::File::open(path) else {
        return;
    };
    let mut bytes = Vec::new();
    if std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_FILE_BYTES), &mut bytes)
        .is_err()
    {
        return;
    }
    let found = needles.iter().filter(|n| contains(&bytes, n)).count();
    if found > 0 {
        hits.push(ResidueHit {
            place: format!("file:{}", path.display()),
            rows: found as u64,
        });
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_literally() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert!(contains(b"hello world", b"o w"));
        assert!(!contains(b"hello", b""));
    }
}
