//! The workspace's conversation labels: create (with a colour), rename or recolour, delete.
//! Putting a label on a conversation is in `conversation_work`.

use crate::auth::WorkspaceAccess;
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::conversations::{idempotency_key, invalid};
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use switchboard_core::{LabelId, Role};
use switchboard_store::inbox::Label;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_labels, create_label))
        .routes(routes!(update_label, delete_label))
}

#[derive(serde::Serialize, ToSchema)]
pub struct LabelView {
    pub id: String,
    pub name: String,
    /// `#rrggbb`.
    pub colour: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&Label> for LabelView {
    fn from(l: &Label) -> Self {
        Self {
            id: l.id.to_string(),
            name: l.name.clone(),
            colour: l.colour.clone(),
            created_at: rfc3339(l.created_at),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct LabelList {
    /// By name.
    pub data: Vec<LabelView>,
    /// Always absent: the labels come in one page.
    pub next_cursor: Option<String>,
}

/// A label's name: 1 to 50 characters, no control characters.
pub(crate) fn label_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 50 || name.chars().any(char::is_control) {
        return Err(invalid(
            "invalid_name",
            "A label's name is 1 to 50 characters.",
            "name",
        ));
    }
    Ok(name.to_owned())
}

/// A colour: `#rrggbb`, stored lowercase.
pub(crate) fn label_colour(raw: &str) -> Result<String, ApiError> {
    let c = raw.trim();
    let ok =
        c.len() == 7 && c.starts_with('#') && c.chars().skip(1).all(|ch| ch.is_ascii_hexdigit());
    if !ok {
        return Err(invalid(
            "invalid_colour",
            "A colour is written #rrggbb.",
            "colour",
        ));
    }
    Ok(c.to_ascii_lowercase())
}

/// The workspace's labels (agent).
#[utoipa::path(get, path = "/api/v1/labels", tag = "labels",
    responses((status = 200, body = LabelList)),
    security(("bearer" = [])))]
async fn list_labels(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<LabelList>, ApiError> {
    access.require(Role::Agent)?;
    let labels = state.store.labels(access.workspace_id).await?;
    Ok(ApiJson(LabelList {
        data: labels.iter().map(LabelView::from).collect(),
        next_cursor: None,
    }))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLabelBody {
    pub name: String,
    /// `#rrggbb`; a grey when absent.
    pub colour: Option<String>,
}

/// Creates a label (agent). The name is unique in the workspace (`label_exists`).
#[utoipa::path(post, path = "/api/v1/labels", tag = "labels",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes the request safe to retry: the same key answers the same label")),
    request_body = NewLabelBody,
    responses((status = 201, body = LabelView), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_label(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewLabelBody>,
) -> Result<(StatusCode, ApiJson<LabelView>), ApiError> {
    access.require(Role::Agent)?;
    let ws = access.workspace_id;
    let key = idempotency_key(&headers)?;
    if let Some(key) = &key
        && let Some(earlier) = state.store.label_by_idempotency_key(ws, key).await?
    {
        return Ok((StatusCode::CREATED, ApiJson(LabelView::from(&earlier))));
    }
    let label = create(
        &state,
        ws,
        &body.name,
        body.colour.as_deref(),
        key.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(LabelView::from(&label))))
}

/// Creates a label after checking its name and colour (the API's and the inbox's one path).
pub(crate) async fn create(
    state: &AppState,
    ws: switchboard_core::WorkspaceId,
    name: &str,
    colour: Option<&str>,
    key: Option<&str>,
) -> Result<Label, ApiError> {
    let name = label_name(name)?;
    let colour = label_colour(colour.filter(|c| !c.trim().is_empty()).unwrap_or("#6b7280"))?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let label = tx.create_label(ws, &name, &colour, key, now).await?;
    tx.commit().await?;
    Ok(label)
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelChangeBody {
    pub name: Option<String>,
    /// `#rrggbb`.
    pub colour: Option<String>,
}

/// Renames or recolours a label (agent).
#[utoipa::path(patch, path = "/api/v1/labels/{id}", tag = "labels",
    params(("id" = String, Path, description = "The label's id")),
    request_body = LabelChangeBody,
    responses((status = 200, body = LabelView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_label(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LabelChangeBody>,
) -> Result<ApiJson<LabelView>, ApiError> {
    access.require(Role::Agent)?;
    let id: LabelId = path_id(&id)?;
    let name = body.name.as_deref().map(label_name).transpose()?;
    let colour = body.colour.as_deref().map(label_colour).transpose()?;
    let mut tx = state.store.begin().await?;
    tx.update_label(
        access.workspace_id,
        id,
        name.as_deref(),
        colour.as_deref(),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    let label = state.store.label(access.workspace_id, id).await?;
    Ok(ApiJson(LabelView::from(&label)))
}

/// Deletes a label, taking it off every conversation (admin).
#[utoipa::path(delete, path = "/api/v1/labels/{id}", tag = "labels",
    params(("id" = String, Path, description = "The label's id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_label(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    access.require(Role::Admin)?;
    let id: LabelId = path_id(&id)?;
    let mut tx = state.store.begin().await?;
    tx.delete_label(access.workspace_id, id, state.clock.now())
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
