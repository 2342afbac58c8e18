//! Contact exports (the rights of access and portability) and whole-workspace exports (offered
//! before a workspace is deleted): a zip of everything stored about one contact, or one
//! workspace — JSON and CSV per table, and the media files — in the format documented in
//! `docs/EXPORT_FORMAT.md`. The tables come from the personal-data inventory (every table
//! with a link to a contact), the rows from the store's one generic subject read, so a new
//! table of contact data is exported without a change here.
//!
//! Invariants: only rows whose contact column holds the subject enter the zip (another
//! contact's row cannot); credentials never do; the file is written with mode 0600 under a
//! temporary name and renamed when complete, so a half-written export is never served.

pub mod jobs;

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use switchboard_core::inventory::{self, SubjectKind};
use switchboard_core::{ContactId, Timestamp, WorkspaceId};
use switchboard_store::Store;
use switchboard_store::export::{ExportValue, SubjectRows};

/// The format's name and version, in `manifest.json`.
pub const FORMAT: &str = "switchboard.contact-export";
/// A whole workspace's export: the same layout, every table linked to the workspace.
pub const WORKSPACE_FORMAT: &str = "switchboard.workspace-export";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] switchboard_store::StoreError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("encoding the export: {0}")]
    Encode(String),
}

/// Everything read for one export, before it is written.
struct Gathered {
    tables: Vec<(&'static inventory::Table, SubjectRows)>,
    /// (media object id, path on disk, content type) of each stored file.
    files: Vec<(String, PathBuf, Option<String>)>,
}

/// Whom an export is about: one contact, or the whole workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Contact(ContactId),
    Workspace,
}

async fn gather(
    store: &Store,
    ws: WorkspaceId,
    about: Subject,
    media_dir: &Path,
) -> Result<Gathered, ExportError> {
    let (kind, subject) = match about {
        Subject::Contact(contact) => {
            // The contact must exist in this workspace (a wrong id is not an empty export).
            store.contact(ws, contact).await?;
            (SubjectKind::Contact, contact.to_string())
        }
        Subject::Workspace => {
            store.workspace(ws).await?;
            (SubjectKind::Workspace, ws.to_string())
        }
    };
    let mut tables = Vec::new();
    let mut files = Vec::new();
    for (table, column) in inventory::linked(kind) {
        // The workspace's own row (linked by `id`) is in the manifest; every other table of
        // a workspace names it in `workspace_id`.
        if table.column("workspace_id").is_none() {
            continue;
        }
        let rows = store.subject_rows(ws, table, column, &subject).await?;
        for stored in inventory::STORED_FILES {
            if stored.table != table.name {
                continue;
            }
            let (Some(key_at), Some(id_at)) = (
                rows.columns.iter().position(|c| *c == stored.key_column),
                rows.columns.iter().position(|c| *c == stored.id_column),
            ) else {
                continue;
            };
            let type_at = rows.columns.iter().position(|c| *c == "content_type");
            for row in &rows.rows {
                if let (Some(ExportValue::Text(key)), Some(ExportValue::Text(id))) =
                    (row.get(key_at), row.get(id_at))
                {
                    // Keys are `<workspace>/<id>`; anything else is not ours to read.
                    if !key.starts_with(&format!("{ws}/")) || key.contains("..") {
                        continue;
                    }
                    let content_type = type_at.and_then(|i| match row.get(i) {
                        Some(ExportValue::Text(t)) => Some(t.clone()),
                        _ => None,
                    });
                    files.push((id.clone(), media_dir.join(key), content_type));
                }
            }
        }
        tables.push((table, rows));
    }
    Ok(Gathered { tables, files })
}

fn row_json(columns: &[&str], row: &[ExportValue]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = columns
        .iter()
        .zip(row)
        .map(|(c, v)| {
            let value = match v {
                ExportValue::Null => serde_json::Value::Null,
                ExportValue::Int(i) => serde_json::json!(i),
                ExportValue::Text(t) => serde_json::json!(t),
            };
            ((*c).to_owned(), value)
        })
        .collect();
    serde_json::Value::Object(map)
}

fn write_zip<W: Write + std::io::Seek>(
    out: W,
    ws: WorkspaceId,
    about: Subject,
    now: Timestamp,
    gathered: &Gathered,
) -> Result<W, ExportError> {
    let mut zip = zip::ZipWriter::new(out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o600);
    let encode = |e: serde_json::Error| ExportError::Encode(e.to_string());
    let mut manifest_tables = Vec::new();
    for (table, rows) in &gathered.tables {
        let json_path = format!("json/{}.json", table.name);
        let csv_path = format!("csv/{}.csv", table.name);
        let columns: Vec<serde_json::Value> = rows
            .columns
            .iter()
            .map(|c| {
                let category = table.column(c).map(|col| col.category);
                serde_json::json!({ "name": c, "category": category })
            })
            .collect();
        let body = serde_json::json!({
            "table": table.name,
            "purpose": table.purpose,
            "columns": columns,
            "rows": rows.rows.iter().map(|r| row_json(&rows.columns, r)).collect::<Vec<_>>(),
        });
        zip.start_file(&json_path, options)?;
        zip.write_all(&serde_json::to_vec_pretty(&body).map_err(encode)?)?;
        zip.start_file(&csv_path, options)?;
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.write_record(&rows.columns)
            .map_err(|e| ExportError::Encode(e.to_string()))?;
        for row in &rows.rows {
            csv.write_record(row.iter().map(ExportValue::to_field))
                .map_err(|e| ExportError::Encode(e.to_string()))?;
        }
        let csv = csv
            .into_inner()
            .map_err(|e| ExportError::Encode(e.to_string()))?;
        zip.write_all(&csv)?;
        manifest_tables.push(serde_json::json!({
            "name": table.name,
            "purpose": table.purpose,
            "rows": rows.rows.len(),
            "json": json_path,
            "csv": csv_path,
        }));
    }
    let mut manifest_media = Vec::new();
    for (id, path, content_type) in &gathered.files {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            // Swept or never downloaded: the row says so; nothing to include.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        let name = format!("media/{id}");
        zip.start_file(&name, options)?;
        zip.write_all(&bytes)?;
        manifest_media.push(serde_json::json!({
            "media_object_id": id,
            "path": name,
            "content_type": content_type,
            "size_bytes": bytes.len(),
            "sha256": hex::encode(Sha256::digest(&bytes)),
        }));
    }
    let (format, contact) = match about {
        Subject::Contact(c) => (FORMAT, Some(c)),
        Subject::Workspace => (WORKSPACE_FORMAT, None),
    };
    let manifest = serde_json::json!({
        "format": format,
        "version": FORMAT_VERSION,
        "generated_at": now.format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| ExportError::Encode(e.to_string()))?,
        "workspace_id": ws,
        "contact_id": contact,
        "tables": manifest_tables,
        "media": manifest_media,
    });
    zip.start_file("manifest.json", options)?;
    zip.write_all(&serde_json::to_vec_pretty(&manifest).map_err(encode)?)?;
    Ok(zip.finish()?)
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub size_bytes: i64,
    pub sha256: String,
}

/// Writes the export of `contact` to `path` (mode 0600), through a temporary file beside it
/// that is renamed when complete.
pub async fn write_export(
    store: &Store,
    ws: WorkspaceId,
    about: Subject,
    media_dir: &Path,
    path: &Path,
    now: Timestamp,
) -> Result<Written, ExportError> {
    let gathered = gather(store, ws, about, media_dir).await?;
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<Written, ExportError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut partial = path.clone().into_os_string();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = private_file(&partial)?;
        let result = write_zip(file, ws, about, now, &gathered).and_then(|f| {
            f.sync_all()?;
            Ok(())
        });
        if let Err(e) = result {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        std::fs::rename(&partial, &path)?;
        let bytes = std::fs::read(&path)?;
        Ok(Written {
            size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            sha256: hex::encode(Sha256::digest(&bytes)),
        })
    })
    .await
    .map_err(|e| ExportError::Encode(format!("the export task stopped: {e}")))?
}

/// A new file only its owner can read (0600 on Unix), replacing any left over.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The bytes of an export that is built and still within its download time, or the refusal a
/// person can act on: the same for a contact's export and a whole workspace's.
pub(crate) async fn ready_file(
    state: &crate::state::AppState,
    export_state: switchboard_store::export::ExportState,
    file_name: Option<&str>,
    expires_at: Timestamp,
) -> Result<Vec<u8>, crate::error::ApiError> {
    use crate::error::ApiError;
    use switchboard_store::export::ExportState;
    if expires_at <= state.clock.now() {
        return Err(ApiError::Conflict {
            code: "export_expired",
            message: "This export has expired and is being deleted; request a new one.".into(),
        });
    }
    let (ExportState::Ready, Some(name)) = (export_state, file_name) else {
        return Err(ApiError::Conflict {
            code: "export_not_ready",
            message: match export_state {
                ExportState::Failed => "This export failed; request a new one.".to_owned(),
                _ => "This export is still being built; try again shortly.".to_owned(),
            },
        });
    };
    tokio::fs::read(state.config.export_dir.join(name))
        .await
        .map_err(|e| ApiError::internal(format!("reading export file {name}: {e}")))
}
