//! A WhatsApp connection's message-template catalogue over the API: read the synced copy,
//! and ask for a sync (a `template_sync` job reads the platform's catalogue).

use crate::audit;
use crate::auth::{ClientInfo, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::jobs::templates;
use crate::json::ApiJson;
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use switchboard_core::channel::ChannelKind;
use switchboard_core::{ConnectionId, Role, ValidationError};
use switchboard_store::connections::ConnectionStatus;
use switchboard_store::templates::MessageTemplate;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates))
        .routes(routes!(sync_templates))
}

#[derive(serde::Serialize, ToSchema)]
pub struct TemplateView {
    pub name: String,
    pub language: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    pub category: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, ...; only approved ones can be sent.
    pub status: String,
    pub body: String,
    /// How many parameters a send must give.
    pub parameter_count: i64,
    #[schema(format = DateTime)]
    pub synced_at: String,
}

impl From<&MessageTemplate> for TemplateView {
    fn from(t: &MessageTemplate) -> Self {
        Self {
            name: t.spec.name.clone(),
            language: t.spec.language.clone(),
            category: t.spec.category.clone(),
            status: t.spec.status.clone(),
            body: t.spec.body.clone(),
            parameter_count: t.spec.parameter_count,
            synced_at: rfc3339(t.synced_at),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct TemplateList {
    pub data: Vec<TemplateView>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct SyncQueued {
    /// `queued`: a job reads the platform's catalogue.
    pub status: String,
}

/// The channel's synced template catalogue, by name and language (agent).
#[utoipa::path(get, path = "/api/v1/channels/{id}/templates", tag = "channels",
    params(("id" = String, Path, description = "The channel connection's id")),
    responses((status = 200, body = TemplateList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_templates(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<TemplateList>, ApiError> {
    access.require(Role::Agent)?;
    let id: ConnectionId = path_id(&id)?;
    state.store.connection(access.workspace_id, id).await?;
    let list = state.store.templates(access.workspace_id, id).await?;
    Ok(ApiJson(TemplateList {
        data: list.iter().map(TemplateView::from).collect(),
    }))
}

/// Syncs the channel's template catalogue from WhatsApp in the background (admin).
#[utoipa::path(post, path = "/api/v1/channels/{id}/templates/sync", tag = "channels",
    params(("id" = String, Path, description = "The channel connection's id")),
    responses((status = 202, body = SyncQueued), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn sync_templates(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<(StatusCode, ApiJson<SyncQueued>), ApiError> {
    access.require(Role::Admin)?;
    let id: ConnectionId = path_id(&id)?;
    let ws = access.workspace_id;
    let connection = state.store.connection(ws, id).await?;
    if connection.kind != ChannelKind::WhatsApp {
        return Err(ValidationError::new(
            "template_not_supported",
            "Message templates are a WhatsApp feature.",
        )
        .into());
    }
    if connection.status != ConnectionStatus::Active {
        return Err(ApiError::Conflict {
            code: "connection_unavailable",
            message: "This channel is disconnected or needs attention; reconnect it first."
                .to_owned(),
        });
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.enqueue(templates::job(ws, id, now), now).await?;
    let event = audit::by(&access, &client, "channel.templates_sync").target(
        "channel_connection",
        id,
        Some(&connection.name),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(SyncQueued {
            status: "queued".to_owned(),
        }),
    ))
}
