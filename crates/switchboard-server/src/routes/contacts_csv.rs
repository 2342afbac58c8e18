//! Contacts as CSV: export of the (filtered) list, and import that creates or updates
//! contacts — by `id` when the file has one, else by email, else by phone — with a report of
//! the rows refused and why.
//!
//! Invariants: the header is checked before any row is read (an unknown column refuses the
//! whole file, so a misspelt `emial` never silently drops data); each row is checked whole,
//! then stored in its own transaction through the same functions as `PATCH` and `POST
//! /api/v1/contacts`, so a refused row stores nothing and a stored row is complete. Export
//! and import are admin actions after step-up (a whole contact list is personal data), audited
//! with counts, never contents.

use crate::audit;
use crate::auth::step_up::RecentAuth;
use crate::auth::{ClientInfo, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::contacts::{self, ContactInput, ContactQuery, query_filter};
use crate::routes::paging::parse_query;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use switchboard_core::{ContactId, Role, WorkspaceId};
use switchboard_store::contacts::ContactFilter;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most rows one import takes (a larger list is split into several files).
pub const MAX_IMPORT_ROWS: usize = 10_000;
/// Most bytes one import takes.
pub const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;
/// Most contacts one export holds.
pub const MAX_EXPORT_ROWS: usize = 100_000;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_contacts))
        .routes(routes!(import_contacts))
}

/// Columns a file may carry that import reads.
const WRITABLE: [&str; 5] = ["id", "display_name", "email", "phone", "lifecycle_stage"];
/// Columns export writes that import leaves alone (the channels decide them).
const READ_ONLY: [&str; 4] = ["labels", "channels", "created_at", "last_seen_at"];

fn csv_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("csv: {e}"))
}

/// The contacts `filter` matches (`None`: none), as CSV: the contact's own fields, its
/// labels and channels, and one `attr.<key>` column per attribute. Returns the file and how
/// many contacts it holds.
pub(crate) async fn export(
    state: &AppState,
    ws: WorkspaceId,
    filter: Option<&ContactFilter>,
) -> Result<(Vec<u8>, usize), ApiError> {
    let defs = state.store.contact_attributes(ws).await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = WRITABLE.iter().map(|c| (*c).to_owned()).collect();
    header.extend(READ_ONLY.iter().map(|c| (*c).to_owned()));
    header.extend(defs.iter().map(|d| format!("attr.{}", d.key)));
    out.write_record(&header).map_err(csv_error)?;
    let Some(filter) = filter else {
        return Ok((out.into_inner().map_err(csv_error)?, 0));
    };
    let mut after: Option<ContactId> = None;
    let mut count = 0;
    loop {
        let page = state.store.contact_page(ws, filter, after, 500).await?;
        for c in &page {
            let labels = state.store.contact_labels(ws, c.id).await?;
            let values = state.store.attribute_values(ws, c.id).await?;
            let mut channels: Vec<&str> = c.identities.iter().map(|i| i.kind.as_str()).collect();
            channels.dedup();
            let mut record = vec![
                c.id.to_string(),
                c.display_name.clone().unwrap_or_default(),
                c.email.clone().unwrap_or_default(),
                c.phone.clone().unwrap_or_default(),
                c.lifecycle_stage
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                labels
                    .iter()
                    .map(|l| l.name.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                channels.join("; "),
                crate::routes::workspaces::rfc3339(c.created_at),
                c.last_seen_at
                    .map(crate::routes::workspaces::rfc3339)
                    .unwrap_or_default(),
            ];
            record.extend(defs.iter().map(|d| {
                values
                    .iter()
                    .find(|(a, _)| *a == d.id)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            }));
            out.write_record(&record).map_err(csv_error)?;
            count += 1;
        }
        if page.len() < 500 || count >= MAX_EXPORT_ROWS {
            break;
        }
        after = page.last().map(|c| c.id);
    }
    Ok((out.into_inner().map_err(csv_error)?, count))
}

/// Exports the contacts matching the list's filters (admin, after step-up) as CSV:
/// `id, display_name, email, phone, lifecycle_stage, labels, channels, created_at,
/// last_seen_at` and `attr.<key>` per attribute; at most 100,000 contacts. Audited.
#[utoipa::path(get, path = "/api/v1/contacts/export", tag = "contacts",
    params(ContactQuery),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn export_contacts(
    State(state): State<AppState>,
    RecentAuth(access): RecentAuth,
    client: ClientInfo,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query: ContactQuery = parse_query(raw.as_deref())?;
    export_response(&state, &access, &client, &query).await
}

/// The export as a download, audited (the API's and the page's one path).
pub(crate) async fn export_response(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    query: &ContactQuery,
) -> Result<Response, ApiError> {
    access.require(Role::Admin)?;
    let ws = access.workspace_id;
    let filter = query_filter(state, ws, query).await?;
    let (bytes, count) = export(state, ws, filter.as_ref()).await?;
    state
        .store
        .record_audit(
            &audit::with_details(
                audit::by(access, client, "contact.csv_exported"),
                serde_json::json!({ "contacts": count }),
            ),
            state.clock.now(),
        )
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"contacts.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response())
}

#[derive(serde::Serialize, ToSchema, Debug)]
pub struct RejectedRow {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    pub code: String,
    pub message: String,
    /// The column at fault, when there is one.
    pub field: Option<String>,
}

#[derive(serde::Serialize, ToSchema, Debug, Default)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
    /// Rows refused, each with why; nothing of them was stored.
    pub rejected: Vec<RejectedRow>,
}

fn refuse(code: &'static str, message: impl Into<String>, field: Option<&str>) -> ApiError {
    let e = switchboard_core::ValidationError::new(code, message);
    ApiError::from(match field {
        Some("email") => e.on("email"),
        Some("phone") => e.on("phone"),
        _ => e.on("file"),
    })
}

/// Imports a CSV file (the API's and the page's one path): see the module's invariants.
pub(crate) async fn import(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    bytes: &[u8],
) -> Result<ImportReport, ApiError> {
    access.require(Role::Admin)?;
    let ws = access.workspace_id;
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| refuse("invalid_csv", "The file is not UTF-8 text.", None))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| {
            refuse(
                "invalid_csv",
                format!("The header cannot be read: {e}"),
                None,
            )
        })?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let defs = state.store.contact_attributes(ws).await?;
    for h in &header {
        let known = WRITABLE.contains(&h.as_str())
            || READ_ONLY.contains(&h.as_str())
            || h.strip_prefix("attr.")
                .is_some_and(|k| defs.iter().any(|d| d.key == k));
        if !known {
            return Err(refuse(
                "unknown_column",
                format!(
                    "The column {h:?} is not one of id, display_name, email, phone, lifecycle_stage, labels, channels, created_at, last_seen_at or attr.<key> of a defined attribute."
                ),
                None,
            ));
        }
    }
    if !header
        .iter()
        .any(|h| h == "email" || h == "phone" || h == "display_name" || h == "id")
    {
        return Err(refuse(
            "invalid_csv",
            "The file needs at least one of the columns id, display_name, email or phone.",
            None,
        ));
    }
    // Counted before any row is stored: a file over the limit stores nothing.
    let records: Vec<_> = reader.records().take(MAX_IMPORT_ROWS + 1).collect();
    if records.len() > MAX_IMPORT_ROWS {
        return Err(refuse(
            "too_many_rows",
            format!("An import takes at most {MAX_IMPORT_ROWS} rows; split the file."),
            None,
        ));
    }
    let mut report = ImportReport::default();
    for (i, record) in records.into_iter().enumerate() {
        let line = i as u64 + 2;
        let outcome = match record {
            Err(e) => Err(refuse(
                "invalid_row",
                format!("The row cannot be read: {e}"),
                None,
            )),
            Ok(record) => {
                let cells: BTreeMap<&str, &str> = header
                    .iter()
                    .map(String::as_str)
                    .zip(record.iter().map(str::trim))
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                import_row(state, access, client, &cells).await
            }
        };
        match outcome {
            Ok(true) => report.created += 1,
            Ok(false) => report.updated += 1,
            Err(ApiError::Internal(detail)) => return Err(ApiError::Internal(detail)),
            Err(e) => report.rejected.push(RejectedRow {
                line,
                code: e.code().to_owned(),
                message: e.to_string(),
                field: e.field().map(str::to_owned),
            }),
        }
    }
    state
        .store
        .record_audit(
            &audit::with_details(
                audit::by(access, client, "contact.csv_imported"),
                serde_json::json!({
                    "created": report.created,
                    "updated": report.updated,
                    "rejected": report.rejected.len(),
                }),
            ),
            state.clock.now(),
        )
        .await?;
    Ok(report)
}

/// One row: checked whole, then stored in one transaction; `true` when it created a contact.
async fn import_row(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    cells: &BTreeMap<&str, &str>,
) -> Result<bool, ApiError> {
    let ws = access.workspace_id;
    let some = |k: &str| cells.get(k).map(|v| Some((*v).to_owned()));
    let attributes: BTreeMap<String, serde_json::Value> = cells
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("attr.")
                .map(|key| (key.to_owned(), serde_json::Value::String((*v).to_owned())))
        })
        .collect();
    let input = ContactInput {
        display_name: some("display_name"),
        email: some("email"),
        phone: some("phone"),
        lifecycle_stage: some("lifecycle_stage"),
        attributes: (!attributes.is_empty()).then_some(attributes),
    };
    let (changes, attributes) = contacts::check_input(state, ws, &input).await?;
    let existing = match cells.get("id") {
        Some(raw) => {
            let id: ContactId = raw
                .parse()
                .map_err(|_| refuse("invalid_id", "The id is not a contact's id.", None))?;
            // Only the workspace's own contacts can be named.
            state.store.contact(ws, id).await?;
            Some(id)
        }
        None => {
            let email = changes.email.clone().flatten();
            let phone = changes.phone.clone().flatten();
            if email.is_none() && phone.is_none() && changes.display_name.is_none() {
                return Err(refuse(
                    "empty_row",
                    "The row has no name, email or phone.",
                    None,
                ));
            }
            state
                .store
                .contact_by_email_or_phone(ws, email.as_deref(), phone.as_deref())
                .await?
        }
    };
    match existing {
        Some(id) => {
            contacts::apply(state, access, client, id, &changes, &attributes).await?;
            Ok(false)
        }
        None => {
            contacts::create(state, access, client, &changes, &attributes, None).await?;
            Ok(true)
        }
    }
}

/// Imports contacts from a CSV file (admin, after step-up), at most 10,000 rows and 2 MiB.
/// The header names the columns: `id`, `display_name`, `email`, `phone`, `lifecycle_stage`,
/// `attr.<key>` (what export writes; its read-only columns are accepted and ignored). A row
/// updates the contact its `id` names, else the one with its email, else its phone, else
/// creates one; empty cells leave a field as it is. Each row is stored whole or not at all;
/// the answer lists the refused rows with why. Audited.
#[utoipa::path(post, path = "/api/v1/contacts/import", tag = "contacts",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn import_contacts(
    State(state): State<AppState>,
    RecentAuth(access): RecentAuth,
    client: ClientInfo,
    body: Bytes,
) -> Result<ApiJson<ImportReport>, ApiError> {
    Ok(ApiJson(import(&state, &access, &client, &body).await?))
}
