//! Contact exports (access and portability): the record of each export and its file, and
//! the one generic read the export is built from — a subject's rows of any inventory table,
//! column by column as the inventory lists them.
//!
//! Invariants: an export names one contact of one workspace and expires; the rows read for
//! it are those whose subject column holds that contact, in that workspace, so no other
//! contact's row can enter it; credentials are never read.

use crate::row::{RowExt, found, known, ms, text_enum};
use crate::{Result, Store, StoreError, Tx};
use sqlx::Row;
use sqlx::any::AnyRow;
use switchboard_core::inventory::{Category, Table};
use switchboard_core::{ContactExportId, ContactId, Timestamp, UserId, WorkspaceId};

text_enum! {
    pub enum ExportState {
        Pending = "pending",
        Ready = "ready",
        Failed = "failed",
    }
}

/// The two kinds of export — one contact's (`contact_exports`) and a whole workspace's
/// (`workspace_exports`) — keep their file's lifecycle in the same columns of their own
/// tables, so one set of statements serves both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportTable {
    Contact,
    Workspace,
}

impl ExportTable {
    fn name(self) -> &'static str {
        match self {
            ExportTable::Contact => "contact_exports",
            ExportTable::Workspace => "workspace_exports",
        }
    }
}

/// A built export file, as its row records it.
#[derive(Clone, Copy, Debug)]
pub struct ExportFile<'a> {
    /// Its name in the export directory.
    pub name: &'a str,
    pub size_bytes: i64,
    /// Hex SHA-256 of the file.
    pub sha256: &'a str,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ContactExport {
    pub id: ContactExportId,
    pub workspace_id: WorkspaceId,
    pub contact_id: ContactId,
    pub requested_by: Option<UserId>,
    pub state: ExportState,
    /// The file's name in the export directory, once built.
    pub file_name: Option<String>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ready_at: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub downloaded_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, workspace_id, contact_id, requested_by, state, file_name, size_bytes, \
     sha256, error, created_at, ready_at, expires_at, downloaded_at";

fn export_from(row: &AnyRow) -> Result<ContactExport> {
    Ok(ContactExport {
        id: row.parsed("id")?,
        workspace_id: row.parsed("workspace_id")?,
        contact_id: row.parsed("contact_id")?,
        requested_by: row.opt_parsed("requested_by")?,
        state: known(row, "state", ExportState::parse)?,
        file_name: row.opt_text("file_name")?,
        size_bytes: row.opt_int("size_bytes")?,
        sha256: row.opt_text("sha256")?,
        error: row.opt_text("error")?,
        created_at: row.time("created_at")?,
        ready_at: row.opt_time("ready_at")?,
        expires_at: row.time("expires_at")?,
        downloaded_at: row.opt_time("downloaded_at")?,
    })
}

/// One value of an exported row.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum ExportValue {
    Null,
    Int(i64),
    Text(String),
}

impl ExportValue {
    /// The value as a CSV field (empty for NULL).
    pub fn to_field(&self) -> String {
        match self {
            ExportValue::Null => String::new(),
            ExportValue::Int(i) => i.to_string(),
            ExportValue::Text(t) => t.clone(),
        }
    }
}

/// A subject's rows of one table: the columns exported, and each row's values in that order.
#[derive(Clone, Debug, PartialEq)]
pub struct SubjectRows {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<ExportValue>>,
}

/// Whether a column goes into an export: everything but credentials.
pub fn exported(category: Category) -> bool {
    category != Category::Credentials
}

impl Tx {
    /// Records an export of `contact`, pending until its job builds the file.
    pub async fn insert_contact_export(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        requested_by: Option<UserId>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<ContactExportId> {
        let id = ContactExportId::new();
        let done = sqlx::query(
            "INSERT INTO contact_exports (id, workspace_id, contact_id, requested_by, state, \
             created_at, expires_at) \
             SELECT $1, workspace_id, id, $3, 'pending', $4, $5 FROM contacts \
             WHERE workspace_id = $2 AND id = $6",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(requested_by.map(|u| u.to_string()))
        .bind(ms(now))
        .bind(ms(expires_at))
        .bind(contact.to_string())
        .execute(self.conn())
        .await?;
        found(done)?;
        Ok(id)
    }
}

impl Store {
    pub async fn contact_export(
        &self,
        ws: WorkspaceId,
        id: ContactExportId,
    ) -> Result<ContactExport> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM contact_exports WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        export_from(&row)
    }

    /// The file is built.
    pub async fn mark_export_ready(
        &self,
        table: ExportTable,
        ws: WorkspaceId,
        id: impl ToString,
        file: &ExportFile<'_>,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(&format!(
            "UPDATE {} SET state = 'ready', file_name = $3, size_bytes = $4, sha256 = $5, \
             ready_at = $6, error = NULL WHERE workspace_id = $1 AND id = $2",
            table.name()
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(file.name)
        .bind(file.size_bytes)
        .bind(file.sha256)
        .bind(ms(now))
        .execute(&self.write)
        .await?;
        found(done)
    }

    pub async fn mark_export_failed(
        &self,
        table: ExportTable,
        ws: WorkspaceId,
        id: impl ToString,
        error: &str,
    ) -> Result<()> {
        let done = sqlx::query(&format!(
            "UPDATE {} SET state = 'failed', error = $3 WHERE workspace_id = $1 AND id = $2",
            table.name()
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(error)
        .execute(&self.write)
        .await?;
        found(done)
    }

    pub async fn mark_export_downloaded(
        &self,
        table: ExportTable,
        ws: WorkspaceId,
        id: impl ToString,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(&format!(
            "UPDATE {} SET downloaded_at = $3 WHERE workspace_id = $1 AND id = $2",
            table.name()
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(ms(now))
        .execute(&self.write)
        .await?;
        found(done)
    }

    /// Up to `limit` exports (any workspace) that expired before `now`.
    pub async fn expired_exports(&self, now: Timestamp, limit: i64) -> Result<Vec<ContactExport>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM contact_exports WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2"
        ))
        .bind(ms(now))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(export_from).collect()
    }

    pub async fn delete_export(
        &self,
        table: ExportTable,
        ws: WorkspaceId,
        id: impl ToString,
    ) -> Result<()> {
        sqlx::query(&format!(
            "DELETE FROM {} WHERE workspace_id = $1 AND id = $2",
            table.name()
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Of the export file names given, those an export row still names.
    pub async fn export_files_in_use(&self, names: &[String]) -> Result<Vec<String>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let params: Vec<String> = (0..names.len()).map(|i| format!("${}", i + 1)).collect();
        let sql = format!(
            "SELECT file_name FROM contact_exports WHERE file_name IN ({list}) \
             UNION SELECT file_name FROM workspace_exports WHERE file_name IN ({list})",
            list = params.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for n in names {
            q = q.bind(n.as_str());
        }
        let rows = q.fetch_all(&self.read).await?;
        rows.iter().map(|r| r.text("file_name")).collect()
    }

    /// The rows of `table` in `ws` whose `column` holds `subject`, with every column the
    /// inventory lists except credentials, oldest id first.
    pub async fn subject_rows(
        &self,
        ws: WorkspaceId,
        table: &'static Table,
        column: &'static str,
        subject: &str,
    ) -> Result<SubjectRows> {
        if table.column("workspace_id").is_none() {
            return Err(StoreError::Corrupt(format!(
                "{} has no workspace_id: it cannot be read for one workspace",
                table.name
            )));
        }
        let columns: Vec<&'static str> = table
            .columns
            .iter()
            .filter(|c| exported(c.category))
            .map(|c| c.name)
            .collect();
        let order = if table.column("id").is_some() {
            "id"
        } else {
            column
        };
        let sql = format!(
            "SELECT {} FROM {} WHERE workspace_id = $1 AND {column} = $2 ORDER BY {order}",
            columns.join(", "),
            table.name
        );
        let rows = sqlx::query(&sql)
            .bind(ws.to_string())
            .bind(subject)
            .fetch_all(&self.read)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(value_at(row, i)?);
            }
            out.push(values);
        }
        Ok(SubjectRows { columns, rows: out })
    }
}

/// A column's value whatever its type: integers, text, or bytes (as lossless hex-free UTF-8
/// when they are text, which sealed values never reach: credentials are not read).
fn value_at(row: &AnyRow, i: usize) -> Result<ExportValue> {
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return Ok(v.map_or(ExportValue::Null, ExportValue::Int));
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return Ok(v.map_or(ExportValue::Null, ExportValue::Text));
    }
    if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
        return Ok(v.map_or(ExportValue::Null, |b| ExportValue::Int(i64::from(b))));
    }
    let bytes: Option<Vec<u8>> = row.try_get(i)?;
    Ok(bytes.map_or(ExportValue::Null, |b| {
        ExportValue::Text(String::from_utf8_lossy(&b).into_owned())
    }))
}
