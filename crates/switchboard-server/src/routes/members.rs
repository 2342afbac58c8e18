//! Members of the current workspace (admin and up): list, change a role, remove; through
//! the API and the `/settings/members` page (which also carries invitations).
//!
//! Rules kept here: only owners grant or take away the owner role (`Role::can_grant` on both
//! the old and the new role); the store refuses to leave a workspace without an owner.

use crate::audit;
use crate::auth::csrf::WebForm;
use crate::auth::{ClientInfo, WebUser, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::workspaces::{EmptyForm, path_id, rfc3339, web_admin};
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use switchboard_core::{Role, UserId};
use switchboard_store::invitations::Invitation;
use switchboard_store::workspaces::Member;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(change_role, remove_member))
}

pub fn web_router() -> Router<AppState> {
    Router::new()
        .route("/settings/members", get(members_page))
        .route("/settings/members/{user_id}/role", post(web_change_role))
        .route("/settings/members/{user_id}/remove", post(web_remove))
}

#[derive(serde::Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    /// `owner`, `admin` or `agent`.
    pub role: String,
    pub mfa_enabled: bool,
    #[schema(format = DateTime)]
    pub joined_at: String,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        Self {
            user_id: m.user_id.to_string(),
            email: m.email,
            display_name: m.display_name,
            role: m.role.as_str().to_owned(),
            mfa_enabled: m.mfa_enabled,
            joined_at: rfc3339(m.joined_at),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct MemberList {
    pub data: Vec<MemberView>,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    /// `owner`, `admin` or `agent`.
    pub role: String,
}

/// The members of the current workspace (admin).
#[utoipa::path(get, path = "/api/v1/members", tag = "members",
    responses((status = 200, body = MemberList), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_members(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<MemberList>, ApiError> {
    access.require(Role::Admin)?;
    let data = state
        .store
        .members(access.workspace_id)
        .await?
        .into_iter()
        .map(MemberView::from)
        .collect();
    Ok(ApiJson(MemberList { data }))
}

/// Changes a member's role (admin; only owners grant or revoke owner; the last owner stays).
#[utoipa::path(patch, path = "/api/v1/members/{user_id}", tag = "members",
    params(("user_id" = String, Path, description = "The member's user id")),
    request_body = ChangeRole,
    responses((status = 200, body = MemberView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn change_role(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<ChangeRole>,
) -> Result<ApiJson<MemberView>, ApiError> {
    access.require(Role::Admin)?;
    let user: UserId = path_id(&user_id)?;
    let role = Role::parse(&body.role)?;
    set_role(&state, &access, &client, user, role).await?;
    Ok(ApiJson(
        state.store.member(access.workspace_id, user).await?.into(),
    ))
}

/// Removes a member (admin; only owners remove owners; the last owner stays).
#[utoipa::path(delete, path = "/api/v1/members/{user_id}", tag = "members",
    params(("user_id" = String, Path, description = "The member's user id")),
    responses((status = 204), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn remove_member(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    access.require(Role::Admin)?;
    let user: UserId = path_id(&user_id)?;
    remove(&state, &access, &client, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_role(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    user: UserId,
    role: Role,
) -> Result<(), ApiError> {
    let member = state.store.member(access.workspace_id, user).await?;
    if !access.role.can_grant(member.role) || !access.role.can_grant(role) {
        return Err(ApiError::Forbidden(
            "Only an owner can grant or take away the owner role.",
        ));
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.set_member_role(access.workspace_id, user, role).await?;
    let event = audit::with_details(
        audit::by(access, client, "member.role_changed").target("user", user, Some(&member.email)),
        serde_json::json!({ "from": member.role.as_str(), "to": role.as_str() }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(())
}

async fn remove(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    user: UserId,
) -> Result<(), ApiError> {
    let member = state.store.member(access.workspace_id, user).await?;
    if !access.role.can_grant(member.role) {
        return Err(ApiError::Forbidden("Only an owner can remove an owner."));
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.remove_member(access.workspace_id, user).await?;
    let event = audit::with_details(
        audit::by(access, client, "member.removed").target("user", user, Some(&member.email)),
        serde_json::json!({ "role": member.role.as_str() }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(())
}

/// One row of the members table.
pub struct MemberRow {
    pub member: Member,
    /// Whether the viewer may change this member's role or remove them.
    pub manageable: bool,
}

pub struct InvitationRow {
    pub invitation: Invitation,
    pub status: &'static str,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "members.html")]
pub struct MembersPage {
    pub nav: Option<Nav>,
    pub section: &'static str,
    pub csrf: String,
    pub members: Vec<MemberRow>,
    pub invitations: Vec<InvitationRow>,
    /// The roles the viewer may hand out, for the selects.
    pub grantable: Vec<&'static str>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub invite_email: String,
}

/// What the last action on the members page left to say.
pub(crate) struct Outcome {
    pub notice: Option<String>,
    pub error: Option<ApiError>,
    /// What to put back in the invite form's email field.
    pub invite_email: String,
    /// The form was sent by htmx, which swaps only 2xx answers: errors go out as 200 so
    /// the message reaches the page (without JavaScript the real status is sent).
    pub htmx: bool,
}

impl Outcome {
    pub fn none() -> Self {
        Self {
            notice: None,
            error: None,
            invite_email: String::new(),
            htmx: false,
        }
    }

    pub fn error(error: ApiError, headers: &HeaderMap) -> Self {
        Self {
            error: Some(error),
            htmx: headers.contains_key("hx-request"),
            ..Self::none()
        }
    }
}

/// Renders the members page for `access`, with the outcome of the last action.
pub(crate) async fn render_members(
    state: &AppState,
    nav: Nav,
    access: &WorkspaceAccess,
    outcome: Outcome,
) -> Result<Response, WebError> {
    let Outcome {
        notice,
        error,
        invite_email,
        htmx,
    } = outcome;
    let now = state.clock.now();
    let members = state
        .store
        .members(access.workspace_id)
        .await?
        .into_iter()
        .map(|member| MemberRow {
            manageable: access.role.can_grant(member.role),
            member,
        })
        .collect();
    let invitations = state
        .store
        .open_invitations(access.workspace_id)
        .await?
        .into_iter()
        .map(|invitation| InvitationRow {
            status: invitation.status(now).as_str(),
            expires: rfc3339(invitation.expires_at),
            invitation,
        })
        .collect();
    let status = match &error {
        Some(e) if !htmx => e.status(),
        _ => StatusCode::OK,
    };
    let page = MembersPage {
        csrf: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "members",
        members,
        invitations,
        grantable: Role::ALL
            .into_iter()
            .filter(|r| access.role.can_grant(*r))
            .map(Role::as_str)
            .collect(),
        notice,
        error: error.map(|e| e.to_string()),
        invite_email,
    };
    Ok((status, render(&page)).into_response())
}

async fn members_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    render_members(&state, nav, &access, Outcome::none()).await
}

#[derive(serde::Deserialize)]
struct RoleForm {
    role: String,
}

async fn web_change_role(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    WebForm { auth, form }: WebForm<RoleForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let result = async {
        let user: UserId = path_id(&user_id)?;
        let role = Role::parse(&form.role)?;
        set_role(&state, &access, &client, user, role).await
    }
    .await;
    match result {
        Ok(()) => Ok(Redirect::to("/settings/members").into_response()),
        Err(e @ ApiError::NotFound) => Err(WebError(e)),
        Err(e) => render_members(&state, nav, &access, Outcome::error(e, &headers)).await,
    }
}

async fn web_remove(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    WebForm { auth, .. }: WebForm<EmptyForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let result = async {
        let user: UserId = path_id(&user_id)?;
        remove(&state, &access, &client, user).await
    }
    .await;
    match result {
        Ok(()) => Ok(Redirect::to("/settings/members").into_response()),
        Err(e @ ApiError::NotFound) => Err(WebError(e)),
        Err(e) => render_members(&state, nav, &access, Outcome::error(e, &headers)).await,
    }
}
