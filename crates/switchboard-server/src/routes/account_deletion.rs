//! Settings > Privacy > Delete: "Delete my account" for anyone, and for owners an export of the
//! whole workspace, its grace period, and "Delete this workspace" — pages at
//! `/settings/delete*` and the same actions under `/api/v1` (`/account/deletion`,
//! `/workspace/deletion`, `/workspaces/{id}/restore`, `/workspace/deletion-grace`,
//! `/workspace/exports`). Every destructive step and every download needs step-up
//! re-authentication; everything is audited. The work itself is `privacy::self_service`'s, so
//! a page can do nothing the API would refuse.

use crate::audit;
use crate::auth::csrf::WebForm;
use crate::auth::step_up::{RecentAuth, WebRecentAuth};
use crate::auth::{ClientInfo, SessionAuth, WebUser, WorkspaceAccess, cookies};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::privacy::self_service::{self, Started};
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use switchboard_core::retention::EXPORT_LIFETIME_DAYS;
use switchboard_core::{Role, ValidationError, WorkspaceExportId, WorkspaceId};
use switchboard_store::export::ExportTable;
use switchboard_store::workspace_deletion::{MAX_GRACE_DAYS, parse_grace_days};
use switchboard_store::workspace_exports::WorkspaceExport;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(delete_my_account))
        .routes(routes!(delete_this_workspace))
        .routes(routes!(restore))
        .routes(routes!(get_grace, put_grace))
        .routes(routes!(request_workspace_export))
        .routes(routes!(get_workspace_export))
        .routes(routes!(download_workspace_export))
}

pub fn web_router() -> Router<AppState> {
    Router::new()
        .route("/settings/delete", get(page))
        .route(
            "/settings/delete/account",
            get(confirm_account_page).post(web_delete_account),
        )
        .route(
            "/settings/delete/workspace",
            get(confirm_workspace_page).post(web_delete_workspace),
        )
        .route("/settings/delete/grace", axum::routing::post(web_grace))
        .route("/settings/delete/exports", axum::routing::post(web_export))
        .route("/settings/delete/exports/{id}", get(web_download))
}

#[derive(serde::Serialize, ToSchema)]
pub struct DeletionStarted {
    pub request_id: String,
    /// Follow the request at `/privacy/deletion-status/{confirmation_code}`.
    pub confirmation_code: String,
    pub status_url: String,
    /// When the erasure runs: now for an account, the end of the grace period for a workspace.
    #[schema(format = DateTime)]
    pub erase_after: String,
}

fn started_view(state: &AppState, s: &Started) -> DeletionStarted {
    DeletionStarted {
        request_id: s.request_id.to_string(),
        confirmation_code: s.confirmation_code.clone(),
        status_url: format!(
            "{}/privacy/deletion-status/{}",
            state.config.public_url, s.confirmation_code
        ),
        erase_after: rfc3339(s.erase_after),
    }
}

/// Deletes the signed-in user's own account (a browser session re-authenticated within the
/// step-up window; API tokens cannot). Sessions and tokens end at once; the erasure starts now
/// and an email confirms its completion. Refused (409 `sole_owner`) for the only owner of a
/// workspace that has other members; a workspace they alone belong to is deleted with it.
#[utoipa::path(post, path = "/api/v1/account/deletion", tag = "privacy",
    responses((status = 202, body = DeletionStarted), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_my_account(
    State(state): State<AppState>,
    auth: SessionAuth,
    client: ClientInfo,
) -> Result<(StatusCode, ApiJson<DeletionStarted>), ApiError> {
    if !auth.recently_authenticated(&state) {
        return Err(ApiError::ReauthRequired);
    }
    let by = audit::by_session(&auth, &client, "privacy.request");
    let started = self_service::delete_account(&state, &auth.user, &by).await?;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(started_view(&state, &started)),
    ))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteWorkspace {
    /// The workspace's slug, typed again to confirm.
    pub confirm_slug: String,
}

fn check_slug(typed: &str, slug: &str) -> Result<(), ApiError> {
    if typed.trim() == slug {
        Ok(())
    } else {
        Err(ValidationError::new(
            "confirmation_mismatch",
            "Type the workspace's slug exactly to confirm.",
        )
        .on("confirm_slug")
        .into())
    }
}

/// Deletes the current workspace (owner, step-up): deactivated now (all access stops, channels
/// disconnected, API tokens revoked, sessions in it ended), erased completely when the grace
/// period ends; an owner can restore it until then. The owners get an email when it is done.
#[utoipa::path(post, path = "/api/v1/workspace/deletion", tag = "privacy",
    request_body = DeleteWorkspace,
    responses((status = 202, body = DeletionStarted), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_this_workspace(
    State(state): State<AppState>,
    RecentAuth(access): RecentAuth,
    client: ClientInfo,
    ApiJson(body): ApiJson<DeleteWorkspace>,
) -> Result<(StatusCode, ApiJson<DeletionStarted>), ApiError> {
    let started = start_workspace_deletion(&state, &access, &client, &body.confirm_slug).await?;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(started_view(&state, &started)),
    ))
}

/// The owner check, the typed slug and the deletion: shared by the API, the page and
/// `POST /api/v1/workspace/deactivate`.
pub(crate) async fn start_workspace_deletion(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    confirm_slug: &str,
) -> Result<Started, ApiError> {
    access.require(Role::Owner)?;
    let ws = state.store.workspace(access.workspace_id).await?;
    check_slug(confirm_slug, ws.slug.as_str())?;
    let by = audit::by(access, client, "workspace.deleted");
    self_service::delete_workspace(state, ws.id, &by, access.actor.user_id()).await
}

#[derive(serde::Serialize, ToSchema)]
pub struct Restored {
    pub id: String,
    /// `active` again.
    pub status: String,
}

/// Cancels a workspace's deletion within its grace period (an owner of it, step-up, browser
/// session: the workspace's API tokens were revoked). Channels stay disconnected and tokens
/// revoked. 409 `erasure_started` once the grace period is over.
#[utoipa::path(post, path = "/api/v1/workspaces/{id}/restore", tag = "privacy",
    params(("id" = String, Path, description = "The workspace's id")),
    responses((status = 200, body = Restored), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn restore(
    State(state): State<AppState>,
    auth: SessionAuth,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiJson<Restored>, ApiError> {
    let ws: WorkspaceId = path_id(&id)?;
    match state.store.role_in(ws, auth.user.id).await? {
        Some(Role::Owner) => {}
        Some(_) => {
            return Err(ApiError::Forbidden(
                "Only an owner of this workspace can do that.",
            ));
        }
        None => return Err(ApiError::NotFound),
    }
    if !auth.recently_authenticated(&state) {
        return Err(ApiError::ReauthRequired);
    }
    let mut by = audit::by_session(&auth, &client, "workspace.restored");
    by.target_type = None;
    by.target_id = None;
    by.target_label = None;
    let restored =
        self_service::restore_workspace(&state.store, state.clock.now(), ws, &by).await?;
    Ok(ApiJson(Restored {
        id: restored.id.to_string(),
        status: restored.status.as_str().to_owned(),
    }))
}

#[derive(serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grace {
    /// Days between the workspace's deletion and its erasure: 1 to 14 (`null`: the default,
    /// 14).
    pub deletion_grace_days: Option<i64>,
}

/// The grace period before a deleted workspace is erased (admin).
#[utoipa::path(get, path = "/api/v1/workspace/deletion-grace", tag = "privacy",
    responses((status = 200, body = Grace), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_grace(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<Grace>, ApiError> {
    access.require(Role::Admin)?;
    Ok(ApiJson(Grace {
        deletion_grace_days: Some(state.store.deletion_grace_days(access.workspace_id).await?),
    }))
}

async fn save_grace(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    days: Option<i64>,
) -> Result<i64, ApiError> {
    access.require(Role::Owner)?;
    if let Some(d) = days {
        parse_grace_days(d)?;
    }
    let ws = access.workspace_id;
    let before = state.store.deletion_grace_days(ws).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.set_deletion_grace_days(ws, days, now).await?;
    let after = days.unwrap_or(MAX_GRACE_DAYS);
    tx.record_audit(
        &audit::with_details(
            audit::by(access, client, "privacy.deletion_grace_changed"),
            serde_json::json!({ "before": before, "after": after }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Sets the grace period (owner), audited: 1 to 14 days; more is refused (422
/// `invalid_grace_period`).
#[utoipa::path(put, path = "/api/v1/workspace/deletion-grace", tag = "privacy",
    request_body = Grace,
    responses((status = 200, body = Grace), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn put_grace(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    ApiJson(body): ApiJson<Grace>,
) -> Result<ApiJson<Grace>, ApiError> {
    let days = save_grace(&state, &access, &client, body.deletion_grace_days).await?;
    Ok(ApiJson(Grace {
        deletion_grace_days: Some(days),
    }))
}

#[derive(serde::Serialize, ToSchema)]
pub struct WorkspaceExportView {
    pub id: String,
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

impl From<&WorkspaceExport> for WorkspaceExportView {
    fn from(e: &WorkspaceExport) -> Self {
        Self {
            id: e.id.to_string(),
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

async fn new_export(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
) -> Result<WorkspaceExport, ApiError> {
    access.require(Role::Owner)?;
    let ws = access.workspace_id;
    let now = state.clock.now();
    let expires = now + time::Duration::days(EXPORT_LIFETIME_DAYS);
    let mut tx = state.store.begin().await?;
    let id = tx
        .insert_workspace_export(ws, access.actor.user_id(), expires, now)
        .await?;
    tx.enqueue(crate::export::jobs::workspace_job(ws, id, now), now)
        .await?;
    tx.record_audit(
        &audit::with_details(
            audit::by(access, client, "privacy.workspace_export_requested").target(
                "workspace",
                ws,
                None,
            ),
            serde_json::json!({ "export_id": id }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(state.store.workspace_export(ws, id).await?)
}

/// Starts an export of the whole workspace (owner): a zip with JSON and CSV of every table of
/// the workspace and its media, built by a job; downloadable after step-up for 7 days.
#[utoipa::path(post, path = "/api/v1/workspace/exports", tag = "privacy",
    responses((status = 202, body = WorkspaceExportView), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn request_workspace_export(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
) -> Result<(StatusCode, ApiJson<WorkspaceExportView>), ApiError> {
    let export = new_export(&state, &access, &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(WorkspaceExportView::from(&export)),
    ))
}

/// A workspace export's state (owner).
#[utoipa::path(get, path = "/api/v1/workspace/exports/{id}", tag = "privacy",
    params(("id" = String, Path, description = "The export's id")),
    responses((status = 200, body = WorkspaceExportView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_workspace_export(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<WorkspaceExportView>, ApiError> {
    access.require(Role::Owner)?;
    let id: WorkspaceExportId = path_id(&id)?;
    let export = state
        .store
        .workspace_export(access.workspace_id, id)
        .await?;
    Ok(ApiJson(WorkspaceExportView::from(&export)))
}

async fn download(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: WorkspaceExportId,
) -> Result<Response, ApiError> {
    access.require(Role::Owner)?;
    let ws = access.workspace_id;
    let export = state.store.workspace_export(ws, id).await?;
    let now = state.clock.now();
    let bytes = crate::export::ready_file(
        state,
        export.state,
        export.file_name.as_deref(),
        export.expires_at,
    )
    .await?;
    let mut tx = state.store.begin().await?;
    tx.record_audit(
        &audit::with_details(
            audit::by(access, client, "privacy.workspace_export_downloaded").target(
                "workspace",
                ws,
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
        .mark_export_downloaded(ExportTable::Workspace, ws, id, now)
        .await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"workspace-{ws}.zip\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

/// The workspace export's zip (owner, after step-up), until it expires. Audited.
#[utoipa::path(get, path = "/api/v1/workspace/exports/{id}/download", tag = "privacy",
    params(("id" = String, Path, description = "The export's id")),
    responses((status = 200, content_type = "application/zip", description = "The zip"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn download_workspace_export(
    State(state): State<AppState>,
    RecentAuth(access): RecentAuth,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: WorkspaceExportId = path_id(&id)?;
    download(&state, &access, &client, id).await
}

// ---- Pages ----

/// The signed-in user's access to their active workspace (any role), if they have one.
fn access_of(nav: &Nav, auth: &SessionAuth) -> Option<WorkspaceAccess> {
    nav.active.as_ref().map(|active| WorkspaceAccess {
        workspace_id: active.id,
        role: active.role,
        actor: self_service::user_actor(&auth.user),
        session: Some(auth.clone()),
        token: None,
    })
}

struct WorkspaceSection {
    name: String,
    grace_days: i64,
    exports: Vec<WorkspaceExportView>,
}

#[derive(Template)]
#[template(path = "settings_delete.html")]
struct DeletePage {
    nav: Option<Nav>,
    section: &'static str,
    csrf_token: String,
    blockers: Vec<String>,
    deleted_with: Vec<String>,
    workspace: Option<WorkspaceSection>,
    notice: Option<String>,
    error: Option<String>,
}

async fn render_page(
    state: &AppState,
    auth: &SessionAuth,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let nav = Nav::load(state, auth).await?;
    let blockers = self_service::account_blockers(state, &auth.user)
        .await?
        .into_iter()
        .map(|w| w.name)
        .collect();
    let deleted_with = self_service::deleted_with_account(state, &auth.user)
        .await?
        .into_iter()
        .map(|w| w.name)
        .collect();
    let workspace = match access_of(&nav, auth) {
        Some(access) if access.role == Role::Owner => {
            let ws = state.store.workspace(access.workspace_id).await?;
            Some(WorkspaceSection {
                name: ws.name,
                grace_days: state.store.deletion_grace_days(ws.id).await?,
                exports: state
                    .store
                    .workspace_exports(ws.id)
                    .await?
                    .iter()
                    .map(WorkspaceExportView::from)
                    .collect(),
            })
        }
        _ => None,
    };
    let page = DeletePage {
        csrf_token: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "delete",
        blockers,
        deleted_with,
        workspace,
        notice,
        error,
    };
    Ok((status, render(&page)).into_response())
}

async fn page(State(state): State<AppState>, WebUser(auth): WebUser) -> Result<Response, WebError> {
    render_page(&state, &auth, None, None, StatusCode::OK).await
}

#[derive(Template)]
#[template(path = "settings_delete_confirm.html")]
struct ConfirmPage {
    nav: Option<Nav>,
    section: &'static str,
    csrf_token: String,
    /// `account` or `workspace`.
    what: &'static str,
    workspace_name: String,
    slug: String,
    grace_days: i64,
    deleted_with: Vec<String>,
    error: Option<String>,
}

/// Deleting an account cannot be undone, so the page asks for the password again even just
/// after signing in: a step-up through `/reauth` after the session began, within the window.
fn confirmed_again(state: &AppState, auth: &SessionAuth) -> bool {
    auth.recently_authenticated(state)
        && auth
            .session
            .reauthenticated_at
            .is_some_and(|at| at > auth.session.created_at)
}

async fn confirm_account_page(
    State(state): State<AppState>,
    WebRecentAuth(auth): WebRecentAuth,
) -> Result<Response, WebError> {
    if !confirmed_again(&state, &auth) {
        return Ok(reauth_again("/settings/delete/account"));
    }
    let blockers = self_service::account_blockers(&state, &auth.user).await?;
    if !blockers.is_empty() {
        return Ok(Redirect::to("/settings/delete").into_response());
    }
    let nav = Nav::load(&state, &auth).await?;
    let deleted_with = self_service::deleted_with_account(&state, &auth.user)
        .await?
        .into_iter()
        .map(|w| w.name)
        .collect();
    Ok(render(&ConfirmPage {
        csrf_token: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "delete",
        what: "account",
        workspace_name: String::new(),
        slug: String::new(),
        grace_days: 0,
        deleted_with,
        error: None,
    }))
}

#[derive(Template)]
#[template(path = "deletion_started.html")]
struct StartedPage {
    nav: Option<Nav>,
    what: &'static str,
    status_url: String,
    erase_after: String,
}

fn reauth_again(path: &str) -> Response {
    Redirect::to(&format!(
        "/reauth?next={}",
        crate::auth::extract::url_encode(path)
    ))
    .into_response()
}

#[derive(serde::Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    confirm_slug: String,
}

async fn web_delete_account(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm { auth, form: _ }: WebForm<ConfirmForm>,
) -> Result<Response, WebError> {
    if !confirmed_again(&state, &auth) {
        return Ok(reauth_again("/settings/delete/account"));
    }
    let by = audit::by_session(&auth, &client, "privacy.request");
    match self_service::delete_account(&state, &auth.user, &by).await {
        Ok(started) => {
            let view = started_view(&state, &started);
            let mut response = render(&StartedPage {
                nav: None,
                what: "account",
                status_url: view.status_url,
                erase_after: view.erase_after,
            });
            // The session was deleted with the account; the browser forgets it too.
            crate::auth::forms::add_cookie(
                &mut response,
                &cookies::cleared_session_cookie(&state.config),
            );
            Ok(response)
        }
        Err(ApiError::Conflict { message, .. }) => {
            render_page(&state, &auth, None, Some(message), StatusCode::CONFLICT).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn owner_access(state: &AppState, auth: &SessionAuth) -> Result<WorkspaceAccess, WebError> {
    let nav = Nav::load(state, auth).await?;
    let access = access_of(&nav, auth).ok_or(ApiError::bad_request(
        "no_workspace_selected",
        "Choose a workspace first.",
    ))?;
    access.require(Role::Owner)?;
    Ok(access)
}

async fn confirm_workspace_page(
    State(state): State<AppState>,
    WebRecentAuth(auth): WebRecentAuth,
) -> Result<Response, WebError> {
    let access = owner_access(&state, &auth).await?;
    let ws = state.store.workspace(access.workspace_id).await?;
    let nav = Nav::load(&state, &auth).await?;
    Ok(render(&ConfirmPage {
        csrf_token: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "delete",
        what: "workspace",
        workspace_name: ws.name,
        slug: ws.slug.to_string(),
        grace_days: state.store.deletion_grace_days(ws.id).await?,
        deleted_with: Vec::new(),
        error: None,
    }))
}

async fn web_delete_workspace(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<ConfirmForm>,
) -> Result<Response, WebError> {
    if !auth.recently_authenticated(&state) {
        return Ok(reauth_again("/settings/delete/workspace"));
    }
    let access = owner_access(&state, &auth).await?;
    match start_workspace_deletion(&state, &access, &client, &form.confirm_slug).await {
        Ok(started) => {
            let view = started_view(&state, &started);
            let mut response = render(&StartedPage {
                nav: None,
                what: "workspace",
                status_url: view.status_url,
                erase_after: view.erase_after,
            });
            crate::auth::forms::add_cookie(
                &mut response,
                &cookies::cleared_session_cookie(&state.config),
            );
            Ok(response)
        }
        Err(ApiError::Validation(e)) => {
            let ws = state.store.workspace(access.workspace_id).await?;
            let nav = Nav::load(&state, &auth).await?;
            let page = ConfirmPage {
                csrf_token: nav.csrf_token.clone(),
                nav: Some(nav),
                section: "delete",
                what: "workspace",
                workspace_name: ws.name,
                slug: ws.slug.to_string(),
                grace_days: state.store.deletion_grace_days(ws.id).await?,
                deleted_with: Vec::new(),
                error: Some(e.message),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(serde::Deserialize)]
struct GraceForm {
    deletion_grace_days: String,
}

async fn web_grace(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<GraceForm>,
) -> Result<Response, WebError> {
    let access = owner_access(&state, &auth).await?;
    let days = form.deletion_grace_days.trim().parse::<i64>().ok();
    let Some(days) = days.filter(|d| parse_grace_days(*d).is_ok()) else {
        return render_page(
            &state,
            &auth,
            None,
            Some("The grace period is a whole number of days, 1 to 14.".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    save_grace(&state, &access, &client, Some(days)).await?;
    render_page(
        &state,
        &auth,
        Some(format!(
            "Saved: a deleted workspace is erased after {days} days."
        )),
        None,
        StatusCode::OK,
    )
    .await
}

async fn web_export(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm { auth, form: _ }: WebForm<ConfirmForm>,
) -> Result<Response, WebError> {
    let access = owner_access(&state, &auth).await?;
    new_export(&state, &access, &client).await?;
    render_page(
        &state,
        &auth,
        Some("The export is being built; reload this page to download it.".into()),
        None,
        StatusCode::OK,
    )
    .await
}

async fn web_download(
    State(state): State<AppState>,
    client: ClientInfo,
    WebRecentAuth(auth): WebRecentAuth,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let access = owner_access(&state, &auth).await?;
    let id: WorkspaceExportId = path_id(&id)?;
    Ok(download(&state, &access, &client, id).await?)
}
