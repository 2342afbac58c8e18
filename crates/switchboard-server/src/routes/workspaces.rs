//! Workspaces through the API: list the caller's, read and rename the current one, switch a
//! session's active workspace, and deactivate (owner, with step-up). Also the helpers the
//! other tenancy routes share: path ids, timestamps, and the admin gate of settings pages.

use crate::audit;
use crate::auth::step_up::RecentAuth;
use crate::auth::{Caller, ClientInfo, SessionAuth, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::web::{Nav, WebError};
use axum::extract::State;
use switchboard_core::workspace::parse_workspace_name;
use switchboard_core::{Role, Timestamp, WorkspaceId};
use switchboard_store::workspaces::Workspace;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workspaces))
        .routes(routes!(current_workspace, rename_workspace))
        .routes(routes!(switch_workspace))
        .routes(routes!(deactivate_workspace))
}

/// An id from the path. A malformed id names nothing, so it is answered like an unknown
/// one: 404, which also keeps ids of other workspaces indistinguishable from garbage.
pub(crate) fn path_id<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// A settings form that carries nothing but its CSRF token (remove, revoke).
#[derive(serde::Deserialize)]
pub(crate) struct EmptyForm {}

/// Timestamps in answers: RFC 3339, UTC.
pub(crate) fn rfc3339(at: Timestamp) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The signed-in user's access to their active workspace, for settings pages that need an
/// admin. Refused (as an error page) without an active workspace or below admin.
pub(crate) async fn web_admin(
    state: &AppState,
    auth: &SessionAuth,
) -> Result<(Nav, WorkspaceAccess), WebError> {
    let nav = Nav::load(state, auth).await?;
    let active = nav.active.clone().ok_or(ApiError::bad_request(
        "no_workspace_selected",
        "Choose a workspace first.",
    ))?;
    let access = WorkspaceAccess {
        workspace_id: active.id,
        role: active.role,
        actor: crate::auth::Actor::User {
            id: auth.user.id,
            email: auth.user.email.to_string(),
        },
        session: Some(auth.clone()),
        token: None,
    };
    access.require(Role::Admin)?;
    Ok((nav, access))
}

#[derive(serde::Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: String,
    pub name: String,
    pub slug: String,
    /// `active` or `deactivated`.
    pub status: String,
    #[schema(format = DateTime)]
    pub deactivated_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The caller's role here: `owner`, `admin` or `agent`.
    pub role: String,
}

impl WorkspaceView {
    fn new(ws: Workspace, role: Role) -> Self {
        Self {
            id: ws.id.to_string(),
            name: ws.name,
            slug: ws.slug.to_string(),
            status: ws.status.as_str().to_owned(),
            deactivated_at: ws.deactivated_at.map(rfc3339),
            created_at: rfc3339(ws.created_at),
            role: role.as_str().to_owned(),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct WorkspaceList {
    pub data: Vec<WorkspaceView>,
}

/// The workspaces the caller belongs to (a token: its own).
#[utoipa::path(get, path = "/api/v1/workspaces", tag = "workspaces",
    responses((status = 200, body = WorkspaceList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_workspaces(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<ApiJson<WorkspaceList>, ApiError> {
    let data = match caller {
        // A session sees all of its user's (so it need not have chosen one yet).
        Caller::Session(auth) => state
            .store
            .workspaces_of(auth.user.id)
            .await?
            .into_iter()
            .map(|(ws, role)| WorkspaceView::new(ws, role))
            .collect(),
        Caller::Token(access) => vec![WorkspaceView::new(
            state.store.workspace(access.workspace_id).await?,
            access.role,
        )],
    };
    Ok(ApiJson(WorkspaceList { data }))
}

/// The workspace this request works in.
#[utoipa::path(get, path = "/api/v1/workspace", tag = "workspaces",
    responses((status = 200, body = WorkspaceView), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn current_workspace(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<WorkspaceView>, ApiError> {
    let ws = state.store.workspace(access.workspace_id).await?;
    Ok(ApiJson(WorkspaceView::new(ws, access.role)))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameWorkspace {
    /// 1 to 100 characters.
    pub name: String,
}

/// Renames the current workspace (admin). The slug does not change.
#[utoipa::path(patch, path = "/api/v1/workspace", tag = "workspaces",
    request_body = RenameWorkspace,
    responses((status = 200, body = WorkspaceView), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn rename_workspace(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    ApiJson(body): ApiJson<RenameWorkspace>,
) -> Result<ApiJson<WorkspaceView>, ApiError> {
    access.require(Role::Admin)?;
    let name = parse_workspace_name(&body.name)?;
    let before = state.store.workspace(access.workspace_id).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.rename_workspace(access.workspace_id, &name, now).await?;
    // Both names go in the label, which is anonymised with the rest of the personal
    // fields (a business name can be a person's); details are kept and must not hold them.
    let event = audit::by(&access, &client, "workspace.renamed").target(
        "workspace",
        access.workspace_id,
        Some(&format!("{} → {name}", before.name)),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    let ws = state.store.workspace(access.workspace_id).await?;
    Ok(ApiJson(WorkspaceView::new(ws, access.role)))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchWorkspace {
    pub workspace_id: String,
}

/// Makes `ws` the session's active workspace and answers the user's role there; not found
/// when the user is not a member (the API and the navigation bar's form both switch here).
pub(crate) async fn switch_to(
    state: &AppState,
    auth: &SessionAuth,
    ws: WorkspaceId,
) -> Result<Role, ApiError> {
    let role = state
        .store
        .role_in(ws, auth.user.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    state
        .store
        .set_active_workspace(auth.session.id, ws)
        .await?;
    Ok(role)
}

/// Switches the browser session's active workspace; 404 when the user is not a member.
#[utoipa::path(post, path = "/api/v1/session/workspace", tag = "workspaces",
    request_body = SwitchWorkspace,
    responses((status = 200, body = WorkspaceView), (status = 404, body = ErrorBody)))]
async fn switch_workspace(
    State(state): State<AppState>,
    auth: SessionAuth,
    ApiJson(body): ApiJson<SwitchWorkspace>,
) -> Result<ApiJson<WorkspaceView>, ApiError> {
    let ws: WorkspaceId = path_id(&body.workspace_id)?;
    let role = switch_to(&state, &auth, ws).await?;
    Ok(ApiJson(WorkspaceView::new(
        state.store.workspace(ws).await?,
        role,
    )))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeactivateWorkspace {
    /// The workspace's slug, typed again to confirm.
    pub confirm_slug: String,
}

/// Deactivates the current workspace (owner, with step-up): the same as
/// `POST /api/v1/workspace/deletion` — all access stops now, channels are disconnected and
/// API tokens revoked, and the workspace is erased when its grace period ends.
#[utoipa::path(post, path = "/api/v1/workspace/deactivate", tag = "workspaces",
    request_body = DeactivateWorkspace,
    responses((status = 200, body = WorkspaceView), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn deactivate_workspace(
    State(state): State<AppState>,
    RecentAuth(access): RecentAuth,
    client: ClientInfo,
    ApiJson(body): ApiJson<DeactivateWorkspace>,
) -> Result<ApiJson<WorkspaceView>, ApiError> {
    crate::routes::account_deletion::start_workspace_deletion(
        &state,
        &access,
        &client,
        &body.confirm_slug,
    )
    .await?;
    Ok(ApiJson(WorkspaceView::new(
        state.store.workspace(access.workspace_id).await?,
        access.role,
    )))
}
