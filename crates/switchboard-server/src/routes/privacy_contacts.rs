//! A contact's data rights over the API (admins): export of everything about them (a job
//! builds a zip; download after step-up, for a limited time), restriction of processing and
//! its lifting, and objection to direct marketing. All audited.

use crate::audit;
use crate::auth::step_up::RecentAuth;
use crate::auth::{ClientInfo, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use switchboard_core::retention::EXPORT_LIFETIME_DAYS;
use switchboard_core::{ContactExportId, ContactId, Role, ValidationError};
use switchboard_store::export::{ContactExport, ExportTable};
use switchboard_store::restriction::ContactPrivacy;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_export))
        .routes(routes!(get_export))
        .routes(routes!(download_export))
        .routes(routes!(get_contact_privacy))
        .routes(routes!(restrict_contact, lift_restriction))
        .routes(routes!(record_objection))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    pub contact_id: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ExportView {
    pub id: String,
    pub contact_id: String,
    /// `pending` (being built), `ready` (downloadable until `expires_at`) or `failed`.
    pub state: String,
    pub size_bytes: Option<i64>,
    /// Hex SHA-256 of the zip.
    pub sha256: Option<String>,
    pub error: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    #[schema(format = DateTime)]
    pub downloaded_at: Option<String>,
}

impl From<&ContactExport> for ExportView {
    fn from(e: &ContactExport) -> Self {
        Self {
            id: e.id.to_string(),
            contact_id: e.contact_id.to_string(),
            state: e.state.as_str().to_owned(),
            size_bytes: e.size_bytes,
            sha256: e.sha256.clone(),
            error: e.error.clone(),
            created_at: rfc3339(e.created_at),
            expires_at: rfc3339(e.expires_at),
            downloaded_at: e.downloaded_at.map(rfc3339),
        }
    }
}

fn contact_id(raw: &str, field: &'static str) -> Result<ContactId, ApiError> {
    raw.trim().parse().map_err(|_| {
        ValidationError::new("invalid_contact_id", "The contact_id is a contact's id.")
            .on(field)
            .into()
    })
}

/// Starts an export of everything about a contact (admin, after step-up). A job builds the
/// zip; poll the export until `ready`, then download it before `expires_at`.
#[utoipa::path(post, path = "/api/v1/privacy/exports", tag = "privacy",
    request_body = ExportRequest,
    responses((status = 202, body = ExportView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn request_export(
    State(state): State<AppState>,
    RecentAuth(access): RecentAuth,
    client: ClientInfo,
    ApiJson(body): ApiJson<ExportRequest>,
) -> Result<(StatusCode, ApiJson<ExportView>), ApiError> {
    access.require(Role::Admin)?;
    let ws = access.workspace_id;
    let contact = contact_id(&body.contact_id, "contact_id")?;
    let now = state.clock.now();
    let expires = now + time::Duration::days(EXPORT_LIFETIME_DAYS);
    let mut tx = state.store.begin().await?;
    let id = tx
        .insert_contact_export(ws, contact, access.actor.user_id(), expires, now)
        .await?;
    tx.enqueue(crate::export::jobs::job(ws, id, now), now)
        .await?;
    tx.record_audit(
        &audit::with_details(
            audit::by(&access, &client, "privacy.export_requested")
                .target("contact", contact, None),
            serde_json::json!({ "export_id": id }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    let export = state.store.contact_export(ws, id).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(ExportView::from(&export))))
}

/// An export's state (admin).
#[utoipa::path(get, path = "/api/v1/privacy/exports/{id}", tag = "privacy",
    params(("id" = String, Path, description = "The export's id")),
    responses((status = 200, body = ExportView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_export(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<ExportView>, ApiError> {
    access.require(Role::Admin)?;
    let id: ContactExportId = path_id(&id)?;
    let export = state.store.contact_export(access.workspace_id, id).await?;
    Ok(ApiJson(ExportView::from(&export)))
}

/// The export's zip (admin, after step-up), until it expires. Audited.
#[utoipa::path(get, path = "/api/v1/privacy/exports/{id}/download", tag = "privacy",
    params(("id" = String, Path, description = "The export's id")),
    responses((status = 200, content_type = "application/zip", description = "The zip"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn download_export(
    State(state): State<AppState>,
    RecentAuth(access): RecentAuth,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access.require(Role::Admin)?;
    let ws = access.workspace_id;
    let id: ContactExportId = path_id(&id)?;
    let export = state.store.contact_export(ws, id).await?;
    let now = state.clock.now();
    let bytes = crate::export::ready_file(
        &state,
        export.state,
        export.file_name.as_deref(),
        export.expires_at,
    )
    .await?;
    let mut tx = state.store.begin().await?;
    tx.record_audit(
        &audit::with_details(
            audit::by(&access, &client, "privacy.export_downloaded").target(
                "contact",
                export.contact_id,
                None,
            ),
            serde_json::json!({ "export_id": id, "size_bytes": bytes.len() }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    state
        .store
        .mark_export_downloaded(ExportTable::Contact, ws, id, now)
        .await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"contact-{}.zip\"", export.contact_id),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

#[derive(serde::Serialize, ToSchema)]
pub struct ContactPrivacyView {
    pub contact_id: String,
    pub restricted: bool,
    #[schema(format = DateTime)]
    pub restricted_at: Option<String>,
    pub restriction_reason: Option<String>,
    pub objects_to_marketing: bool,
    #[schema(format = DateTime)]
    pub marketing_objection_at: Option<String>,
}

fn privacy_view(contact: ContactId, p: &ContactPrivacy) -> ContactPrivacyView {
    ContactPrivacyView {
        contact_id: contact.to_string(),
        restricted: p.is_restricted(),
        restricted_at: p.restricted_at.map(rfc3339),
        restriction_reason: p.restriction_reason.clone(),
        objects_to_marketing: p.objects_to_marketing(),
        marketing_objection_at: p.marketing_objection_at.map(rfc3339),
    }
}

/// Whether the contact's processing is restricted, and whether they object to marketing.
#[utoipa::path(get, path = "/api/v1/privacy/contacts/{id}", tag = "privacy",
    params(("id" = String, Path, description = "The contact's id")),
    responses((status = 200, body = ContactPrivacyView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_contact_privacy(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<ContactPrivacyView>, ApiError> {
    access.require(Role::Agent)?;
    let id: ContactId = path_id(&id)?;
    let p = state.store.contact_privacy(access.workspace_id, id).await?;
    Ok(ApiJson(privacy_view(id, &p)))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictRequest {
    /// Why (the contact contests accuracy, objected pending review, ...): 1 to 1000
    /// characters.
    pub reason: String,
}

/// Restricts processing of the contact's data (admin): it stays stored, but nothing is sent
/// to them until the restriction is lifted. Audited.
#[utoipa::path(post, path = "/api/v1/privacy/contacts/{id}/restriction", tag = "privacy",
    params(("id" = String, Path, description = "The contact's id")),
    request_body = RestrictRequest,
    responses((status = 200, body = ContactPrivacyView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn restrict_contact(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RestrictRequest>,
) -> Result<ApiJson<ContactPrivacyView>, ApiError> {
    access.require(Role::Admin)?;
    let id: ContactId = path_id(&id)?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(ValidationError::new(
            "invalid_reason",
            "Give the reason for the restriction (1 to 1000 characters).",
        )
        .on("reason")
        .into());
    }
    let ws = access.workspace_id;
    let event = audit::by(&access, &client, "privacy.contact_restricted");
    crate::restriction::restrict(&state.store, ws, id, reason, event, state.clock.now()).await?;
    let p = state.store.contact_privacy(ws, id).await?;
    Ok(ApiJson(privacy_view(id, &p)))
}

#[derive(serde::Serialize, ToSchema)]
pub struct LiftView {
    /// False when the contact was not restricted.
    pub lifted: bool,
    /// Whether a notice to the contact was queued before the restriction was lifted.
    pub notified: bool,
    pub notice_message_id: Option<String>,
    pub notice_conversation_id: Option<String>,
    /// Why no notice could be sent (recorded in the audit log too).
    pub note: Option<String>,
}

/// Lifts the contact's restriction (admin): a notice goes to the contact first through a
/// channel whose reply window allows it; where none does, why not is recorded. Audited.
#[utoipa::path(delete, path = "/api/v1/privacy/contacts/{id}/restriction", tag = "privacy",
    params(("id" = String, Path, description = "The contact's id")),
    responses((status = 200, body = LiftView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn lift_restriction(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiJson<LiftView>, ApiError> {
    access.require(Role::Admin)?;
    let id: ContactId = path_id(&id)?;
    let event = audit::by(&access, &client, "privacy.restriction_lifted");
    let outcome = crate::restriction::lift(
        &state.store,
        access.workspace_id,
        id,
        access.actor.user_id(),
        event,
        state.clock.now(),
    )
    .await?;
    Ok(ApiJson(LiftView {
        lifted: outcome.lifted,
        notified: outcome.notice_message_id.is_some(),
        notice_message_id: outcome.notice_message_id.map(|m| m.to_string()),
        notice_conversation_id: outcome.notice_conversation_id.map(|c| c.to_string()),
        note: outcome.note,
    }))
}

/// Records the contact's objection to direct marketing (agent): marketing templates are
/// refused for them from now on (`objected`). Audited.
#[utoipa::path(post, path = "/api/v1/privacy/contacts/{id}/objection", tag = "privacy",
    params(("id" = String, Path, description = "The contact's id")),
    responses((status = 200, body = ContactPrivacyView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn record_objection(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiJson<ContactPrivacyView>, ApiError> {
    // Any agent who hears "stop sending me offers" records it: an objection only ever stops
    // processing.
    access.require(Role::Agent)?;
    let id: ContactId = path_id(&id)?;
    let ws = access.workspace_id;
    let event = audit::by(&access, &client, "privacy.marketing_objection");
    crate::restriction::object(&state.store, ws, id, event, state.clock.now()).await?;
    let p = state.store.contact_privacy(ws, id).await?;
    Ok(ApiJson(privacy_view(id, &p)))
}
