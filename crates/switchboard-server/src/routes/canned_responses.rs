//! Canned responses: reply texts per workspace with `{{contact.name}}` and `{{agent.name}}`,
//! filled in for a conversation when an agent picks one (`switchboard_core::canned`).

use crate::auth::WorkspaceAccess;
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::conversations::idempotency_key;
use crate::routes::paging::{nonempty, parse_query};
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use switchboard_core::canned::{self, Variables};
use switchboard_core::{CannedResponseId, ConversationId, Role, UserId, WorkspaceId};
use switchboard_store::inbox::CannedResponse;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_canned, create_canned))
        .routes(routes!(update_canned, delete_canned))
        .routes(routes!(render_canned))
}

#[derive(serde::Serialize, ToSchema)]
pub struct CannedResponseView {
    pub id: String,
    /// What an agent types after `/` in the composer.
    pub shortcut: String,
    /// The text, with `{{contact.name}}` and `{{agent.name}}` where they go.
    pub body: String,
    pub created_by: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&CannedResponse> for CannedResponseView {
    fn from(c: &CannedResponse) -> Self {
        Self {
            id: c.id.to_string(),
            shortcut: c.shortcut.clone(),
            body: c.body.clone(),
            created_by: c.created_by.map(|u| u.to_string()),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct CannedResponseList {
    /// By shortcut.
    pub data: Vec<CannedResponseView>,
    /// Always absent: they come in one page.
    pub next_cursor: Option<String>,
}

/// The workspace's canned responses (agent).
#[utoipa::path(get, path = "/api/v1/canned-responses", tag = "canned responses",
    responses((status = 200, body = CannedResponseList)),
    security(("bearer" = [])))]
async fn list_canned(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<CannedResponseList>, ApiError> {
    access.require(Role::Agent)?;
    let list = state.store.canned_responses(access.workspace_id).await?;
    Ok(ApiJson(CannedResponseList {
        data: list.iter().map(CannedResponseView::from).collect(),
        next_cursor: None,
    }))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCannedBody {
    /// 1 to 32 of a-z, 0-9, - and _.
    pub shortcut: String,
    /// 1 to 4096 characters; may use `{{contact.name}}` and `{{agent.name}}`.
    pub body: String,
}

/// Creates a canned response (agent). The shortcut is unique in the workspace
/// (`shortcut_exists`).
#[utoipa::path(post, path = "/api/v1/canned-responses", tag = "canned responses",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes the request safe to retry: the same key answers the same response")),
    request_body = NewCannedBody,
    responses((status = 201, body = CannedResponseView), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_canned(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewCannedBody>,
) -> Result<(StatusCode, ApiJson<CannedResponseView>), ApiError> {
    access.require(Role::Agent)?;
    let ws = access.workspace_id;
    let key = idempotency_key(&headers)?;
    if let Some(key) = &key
        && let Some(earlier) = state
            .store
            .canned_response_by_idempotency_key(ws, key)
            .await?
    {
        return Ok((
            StatusCode::CREATED,
            ApiJson(CannedResponseView::from(&earlier)),
        ));
    }
    let created = create(
        &state,
        ws,
        access.actor.user_id(),
        &body.shortcut,
        &body.body,
        key.as_deref(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CannedResponseView::from(&created)),
    ))
}

/// Creates a canned response after checking it (the API's and the inbox's one path).
pub(crate) async fn create(
    state: &AppState,
    ws: WorkspaceId,
    author: Option<UserId>,
    shortcut: &str,
    body: &str,
    key: Option<&str>,
) -> Result<CannedResponse, ApiError> {
    let shortcut = canned::parse_shortcut(shortcut)?;
    let body = canned::parse_body(body)?;
    let mut tx = state.store.begin().await?;
    let created = tx
        .create_canned_response(ws, &shortcut, &body, author, key, state.clock.now())
        .await?;
    tx.commit().await?;
    Ok(created)
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedChangeBody {
    pub shortcut: Option<String>,
    pub body: Option<String>,
}

/// Changes a canned response's shortcut or text (agent).
#[utoipa::path(patch, path = "/api/v1/canned-responses/{id}", tag = "canned responses",
    params(("id" = String, Path, description = "The canned response's id")),
    request_body = CannedChangeBody,
    responses((status = 200, body = CannedResponseView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_canned(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CannedChangeBody>,
) -> Result<ApiJson<CannedResponseView>, ApiError> {
    access.require(Role::Agent)?;
    let id: CannedResponseId = path_id(&id)?;
    let shortcut = body
        .shortcut
        .as_deref()
        .map(canned::parse_shortcut)
        .transpose()?;
    let text = body.body.as_deref().map(canned::parse_body).transpose()?;
    let mut tx = state.store.begin().await?;
    tx.update_canned_response(
        access.workspace_id,
        id,
        shortcut.as_deref(),
        text.as_deref(),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    let c = state.store.canned_response(access.workspace_id, id).await?;
    Ok(ApiJson(CannedResponseView::from(&c)))
}

/// Deletes a canned response (admin).
#[utoipa::path(delete, path = "/api/v1/canned-responses/{id}", tag = "canned responses",
    params(("id" = String, Path, description = "The canned response's id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_canned(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    access.require(Role::Admin)?;
    let id: CannedResponseId = path_id(&id)?;
    let mut tx = state.store.begin().await?;
    tx.delete_canned_response(access.workspace_id, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RenderQuery {
    /// The conversation whose contact `{{contact.name}}` names.
    pub conversation_id: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct RenderedText {
    pub text: String,
}

/// The text with its variables filled in for a conversation: `{{contact.name}}` is the
/// conversation's contact, `{{agent.name}}` the member asking (agent).
pub(crate) async fn rendered(
    state: &AppState,
    ws: WorkspaceId,
    agent: Option<UserId>,
    id: CannedResponseId,
    conversation: Option<ConversationId>,
) -> Result<String, ApiError> {
    let c = state.store.canned_response(ws, id).await?;
    let contact_name = match conversation {
        Some(conv) => state.store.conversation(ws, conv).await?.contact_name,
        None => None,
    };
    let agent_name = match agent {
        Some(user) => Some(state.store.member(ws, user).await?.display_name),
        None => None,
    };
    Ok(canned::render(
        &c.body,
        &Variables {
            contact_name: contact_name.as_deref(),
            agent_name: agent_name.as_deref(),
        },
    ))
}

/// The canned response's text with its variables filled in for a conversation (agent).
#[utoipa::path(get, path = "/api/v1/canned-responses/{id}/rendered", tag = "canned responses",
    params(("id" = String, Path, description = "The canned response's id"), RenderQuery),
    responses((status = 200, body = RenderedText), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn render_canned(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<ApiJson<RenderedText>, ApiError> {
    access.require(Role::Agent)?;
    let id: CannedResponseId = path_id(&id)?;
    let query: RenderQuery = parse_query(raw.as_deref())?;
    let conversation = nonempty(&query.conversation_id)
        .map(|c| c.parse::<ConversationId>().map_err(|_| ApiError::NotFound))
        .transpose()?;
    let text = rendered(
        &state,
        access.workspace_id,
        access.actor.user_id(),
        id,
        conversation,
    )
    .await?;
    Ok(ApiJson(RenderedText { text }))
}
