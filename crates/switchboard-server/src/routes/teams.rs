//! Teams: create, rename and delete them and choose their members (admin), over the API
//! (`/api/v1/teams...`) and the `/settings/teams` page; assign a conversation to a team,
//! optionally with an agent of it (`PUT /api/v1/conversations/{id}/team`, agent), which the
//! inbox and bulk actions call too.
//!
//! Invariants: a team's members are members of the workspace (the store writes them from the
//! membership row); a conversation's team and the agent given with it are checked inside the
//! caller's workspace — the agent must be in the team — and the team, the agent, their
//! timeline entries and live-update events commit in one transaction. Ids of another
//! workspace are 404s like unknown ones.

use crate::audit;
use crate::auth::csrf::WebForm;
use crate::auth::{ClientInfo, WebUser, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::conversations::{ConversationView, idempotency_key, invalid};
use crate::routes::workspaces::{EmptyForm, path_id, rfc3339, web_admin};
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use switchboard_core::{ConversationId, Role, TeamId, UserId, WorkspaceId};
use switchboard_store::StoreError;
use switchboard_store::inbox::{ActivityKind, NewActivity};
use switchboard_store::teams::Team;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team, rename_team, delete_team))
        .routes(routes!(add_member, remove_member))
        .routes(routes!(set_conversation_team))
}

pub fn web_router() -> Router<AppState> {
    Router::new()
        .route("/settings/teams", get(teams_page).post(web_create))
        .route("/settings/teams/{id}/rename", post(web_rename))
        .route("/settings/teams/{id}/delete", post(web_delete))
        .route("/settings/teams/{id}/members", post(web_add_member))
        .route(
            "/settings/teams/{id}/members/{user_id}/remove",
            post(web_remove_member),
        )
}

#[derive(serde::Serialize, ToSchema)]
pub struct TeamView {
    pub id: String,
    pub name: String,
    /// The members' user ids, in the order they joined.
    pub member_user_ids: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Team> for TeamView {
    fn from(t: &Team) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            member_user_ids: t.member_ids.iter().map(ToString::to_string).collect(),
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct TeamList {
    /// By name.
    pub data: Vec<TeamView>,
    /// Always absent: the teams come in one page.
    pub next_cursor: Option<String>,
}

/// A team's name: 1 to 60 characters, no control characters.
pub(crate) fn team_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(invalid(
            "invalid_name",
            "A team's name is 1 to 60 characters.",
            "name",
        ));
    }
    Ok(name.to_owned())
}

fn parse_user(raw: &str, field: &'static str) -> Result<UserId, ApiError> {
    raw.trim()
        .parse()
        .map_err(|_| invalid("invalid_user", "Name a member by user id.", field))
}

fn parse_team(raw: &str) -> Result<TeamId, ApiError> {
    raw.trim()
        .parse()
        .map_err(|_| invalid("invalid_team", "The team is a team's id.", "team_id"))
}

/// `not_a_member` (422) unless `user` is a member of `ws`.
async fn require_member(
    state: &AppState,
    ws: WorkspaceId,
    user: UserId,
    field: &'static str,
) -> Result<String, ApiError> {
    match state.store.member(ws, user).await {
        Ok(m) => Ok(m.display_name),
        Err(StoreError::NotFound) => Err(invalid(
            "not_a_member",
            "That user is not a member of this workspace.",
            field,
        )),
        Err(e) => Err(e.into()),
    }
}

// ---- the shared functions (API and pages) ------------------------------------------------

/// Creates a team with `members` (each checked to be a member of `ws`), audited.
pub(crate) async fn create(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    name: &str,
    members: &[UserId],
    key: Option<&str>,
) -> Result<Team, ApiError> {
    let ws = access.workspace_id;
    let name = team_name(name)?;
    for user in members {
        require_member(state, ws, *user, "member_user_ids").await?;
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let team = tx.create_team(ws, &name, key, now).await?;
    for user in members {
        tx.add_team_member(ws, team.id, *user, now).await?;
    }
    tx.record_audit(
        &audit::by(access, client, "team.created").target("team", team.id, Some(&name)),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(state.store.team(ws, team.id).await?)
}

async fn rename(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: TeamId,
    name: &str,
) -> Result<(), ApiError> {
    let name = team_name(name)?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.rename_team(access.workspace_id, id, &name, now).await?;
    tx.record_audit(
        &audit::by(access, client, "team.renamed").target("team", id, Some(&name)),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a team; its conversations are unassigned from it (recorded in each timeline).
async fn delete(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: TeamId,
) -> Result<u64, ApiError> {
    let team = state.store.team(access.workspace_id, id).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let unassigned = tx
        .delete_team(access.workspace_id, id, access.actor.user_id(), now)
        .await?;
    let event = audit::with_details(
        audit::by(access, client, "team.deleted").target("team", id, Some(&team.name)),
        serde_json::json!({ "conversations_unassigned": unassigned }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(unassigned)
}

async fn set_member(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: TeamId,
    user: UserId,
    on: bool,
) -> Result<(), ApiError> {
    let ws = access.workspace_id;
    // The team first: a team of another workspace is a 404 whoever is named.
    let team = state.store.team(ws, id).await?;
    if on {
        require_member(state, ws, user, "user_id").await?;
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    if on {
        tx.add_team_member(ws, id, user, now).await?;
    } else {
        tx.remove_team_member(ws, id, user, now).await?;
    }
    let action = if on {
        "team.member_added"
    } else {
        "team.member_removed"
    };
    let event = audit::with_details(
        audit::by(access, client, action).target("team", id, Some(&team.name)),
        serde_json::json!({ "user_id": user.to_string() }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Assigns the conversation to a team of `ws` (or none), and with `agent` also to that agent,
/// who must be in the team. The agent stays as it is when `agent` is `None`.
pub(crate) async fn assign_team(
    state: &AppState,
    ws: WorkspaceId,
    actor: Option<UserId>,
    id: ConversationId,
    team: Option<TeamId>,
    agent: Option<UserId>,
) -> Result<(), ApiError> {
    let agent_name = match (team, agent) {
        (_, None) => None,
        (None, Some(_)) => {
            return Err(invalid(
                "agent_needs_team",
                "An agent goes with a team here; assign agents alone with PUT .../assignee.",
                "assignee_user_id",
            ));
        }
        (Some(team), Some(user)) => {
            let name = require_member(state, ws, user, "assignee_user_id").await?;
            // An unknown team is a 404 before the agent's membership is judged.
            state.store.team(ws, team).await?;
            if !state.store.in_team(ws, team, user).await? {
                return Err(invalid(
                    "not_in_team",
                    "The agent is not a member of that team.",
                    "assignee_user_id",
                ));
            }
            Some(name)
        }
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.assign_conversation_team(ws, id, team, actor, now)
        .await?;
    if let Some(user) = agent {
        tx.assign_conversation(ws, id, Some(user), now).await?;
        tx.add_activity(
            ws,
            id,
            &NewActivity::event(ActivityKind::Assigned, actor, agent_name.as_deref()),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

// ---- API ---------------------------------------------------------------------------------

/// The workspace's teams with their members (agent: agents pick a team when assigning).
#[utoipa::path(get, path = "/api/v1/teams", tag = "teams",
    responses((status = 200, body = TeamList), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_teams(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<TeamList>, ApiError> {
    access.require(Role::Agent)?;
    let teams = state.store.teams(access.workspace_id).await?;
    Ok(ApiJson(TeamList {
        data: teams.iter().map(TeamView::from).collect(),
        next_cursor: None,
    }))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeamBody {
    pub name: String,
    /// Members of the workspace to put in it right away.
    #[serde(default)]
    pub member_user_ids: Vec<String>,
}

/// Creates a team (admin). The name is unique in the workspace (`team_exists`); every
/// member named must be a member of the workspace (`not_a_member`).
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes the request safe to retry: the same key answers the same team")),
    request_body = NewTeamBody,
    responses((status = 201, body = TeamView), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_team(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewTeamBody>,
) -> Result<(StatusCode, ApiJson<TeamView>), ApiError> {
    access.require(Role::Admin)?;
    let ws = access.workspace_id;
    let key = idempotency_key(&headers)?;
    if let Some(key) = &key
        && let Some(earlier) = state.store.team_by_idempotency_key(ws, key).await?
    {
        return Ok((StatusCode::CREATED, ApiJson(TeamView::from(&earlier))));
    }
    if body.member_user_ids.len() > 500 {
        return Err(invalid(
            "invalid_members",
            "Name at most 500 members.",
            "member_user_ids",
        ));
    }
    let members = body
        .member_user_ids
        .iter()
        .map(|raw| parse_user(raw, "member_user_ids"))
        .collect::<Result<Vec<_>, _>>()?;
    let team = create(
        &state,
        &access,
        &client,
        &body.name,
        &members,
        key.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(TeamView::from(&team))))
}

/// One team with its members (agent).
#[utoipa::path(get, path = "/api/v1/teams/{id}", tag = "teams",
    params(("id" = String, Path, description = "The team's id")),
    responses((status = 200, body = TeamView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_team(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<TeamView>, ApiError> {
    access.require(Role::Agent)?;
    let id: TeamId = path_id(&id)?;
    let team = state.store.team(access.workspace_id, id).await?;
    Ok(ApiJson(TeamView::from(&team)))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamChangeBody {
    pub name: String,
}

/// Renames a team (admin).
#[utoipa::path(patch, path = "/api/v1/teams/{id}", tag = "teams",
    params(("id" = String, Path, description = "The team's id")),
    request_body = TeamChangeBody,
    responses((status = 200, body = TeamView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn rename_team(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TeamChangeBody>,
) -> Result<ApiJson<TeamView>, ApiError> {
    access.require(Role::Admin)?;
    let id: TeamId = path_id(&id)?;
    rename(&state, &access, &client, id, &body.name).await?;
    let team = state.store.team(access.workspace_id, id).await?;
    Ok(ApiJson(TeamView::from(&team)))
}

/// Deletes a team (admin). Its conversations are unassigned from it, each with a
/// `team_unassigned` entry in its timeline; their agents stay assigned.
#[utoipa::path(delete, path = "/api/v1/teams/{id}", tag = "teams",
    params(("id" = String, Path, description = "The team's id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_team(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    access.require(Role::Admin)?;
    let id: TeamId = path_id(&id)?;
    delete(&state, &access, &client, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Puts a member of the workspace in the team (admin); doing it twice changes nothing.
#[utoipa::path(put, path = "/api/v1/teams/{id}/members/{user_id}", tag = "teams",
    params(("id" = String, Path, description = "The team's id"),
        ("user_id" = String, Path, description = "The member's user id")),
    responses((status = 200, body = TeamView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_member(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<ApiJson<TeamView>, ApiError> {
    access.require(Role::Admin)?;
    let id: TeamId = path_id(&id)?;
    let user = parse_user(&user_id, "user_id")?;
    set_member(&state, &access, &client, id, user, true).await?;
    let team = state.store.team(access.workspace_id, id).await?;
    Ok(ApiJson(TeamView::from(&team)))
}

/// Takes a member out of the team (admin); their conversations stay assigned to them.
#[utoipa::path(delete, path = "/api/v1/teams/{id}/members/{user_id}", tag = "teams",
    params(("id" = String, Path, description = "The team's id"),
        ("user_id" = String, Path, description = "The member's user id")),
    responses((status = 200, body = TeamView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn remove_member(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<ApiJson<TeamView>, ApiError> {
    access.require(Role::Admin)?;
    let id: TeamId = path_id(&id)?;
    let user: UserId = path_id(&user_id)?;
    set_member(&state, &access, &client, id, user, false).await?;
    let team = state.store.team(access.workspace_id, id).await?;
    Ok(ApiJson(TeamView::from(&team)))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationTeamBody {
    /// A team's id, or null to take the conversation off its team.
    pub team_id: Option<String>,
    /// Also assign it to this agent, who must be in the team. Absent: the agent stays.
    pub assignee_user_id: Option<String>,
}

/// Assigns the conversation to a team, optionally with one of its agents, or takes it off
/// its team with a null `team_id` (agent). Recorded in the timeline and sent as a live update.
#[utoipa::path(put, path = "/api/v1/conversations/{id}/team", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")),
    request_body = ConversationTeamBody,
    responses((status = 200, body = ConversationView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_conversation_team(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ConversationTeamBody>,
) -> Result<ApiJson<ConversationView>, ApiError> {
    access.require(Role::Agent)?;
    let id: ConversationId = path_id(&id)?;
    let ws = access.workspace_id;
    let team = body.team_id.as_deref().map(parse_team).transpose()?;
    let agent = body
        .assignee_user_id
        .as_deref()
        .map(|u| parse_user(u, "assignee_user_id"))
        .transpose()?;
    assign_team(&state, ws, access.actor.user_id(), id, team, agent).await?;
    let c = state.store.conversation(ws, id).await?;
    let labels = state.store.labels_of(ws, &[id]).await?;
    Ok(ApiJson(ConversationView::with_labels(&c, labels.get(&id))))
}

// ---- the settings page -------------------------------------------------------------------

struct MemberChoice {
    user_id: String,
    name: String,
}

struct TeamRow {
    id: String,
    name: String,
    members: Vec<MemberChoice>,
    /// Workspace members not in the team, for its "add" select.
    others: Vec<MemberChoice>,
}

#[derive(Template)]
#[template(path = "settings_teams.html")]
struct TeamsPage {
    nav: Option<Nav>,
    section: &'static str,
    csrf: String,
    teams: Vec<TeamRow>,
    notice: Option<String>,
    error: Option<String>,
}

async fn render_teams(
    state: &AppState,
    nav: Nav,
    access: &WorkspaceAccess,
    notice: Option<String>,
    error: Option<ApiError>,
    headers: &HeaderMap,
) -> Result<Response, WebError> {
    let ws = access.workspace_id;
    let mut members: Vec<(UserId, String)> = state
        .store
        .members(ws)
        .await?
        .into_iter()
        .map(|m| (m.user_id, m.display_name))
        .collect();
    members.sort_by(|a, b| a.1.cmp(&b.1));
    let names: HashMap<UserId, String> = members.iter().cloned().collect();
    let teams = state
        .store
        .teams(ws)
        .await?
        .into_iter()
        .map(|t| TeamRow {
            id: t.id.to_string(),
            name: t.name.clone(),
            members: t
                .member_ids
                .iter()
                .map(|u| MemberChoice {
                    user_id: u.to_string(),
                    name: names.get(u).cloned().unwrap_or_else(|| u.to_string()),
                })
                .collect(),
            others: members
                .iter()
                .filter(|(u, _)| !t.member_ids.contains(u))
                .map(|(u, n)| MemberChoice {
                    user_id: u.to_string(),
                    name: n.clone(),
                })
                .collect(),
        })
        .collect();
    // htmx swaps only 2xx answers: its errors go out as 200 so the message shows.
    let status = match &error {
        Some(e) if !headers.contains_key("hx-request") => e.status(),
        _ => StatusCode::OK,
    };
    let page = TeamsPage {
        csrf: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "teams",
        teams,
        notice,
        error: error.map(|e| e.to_string()),
    };
    Ok((status, render(&page)).into_response())
}

async fn teams_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(auth): WebUser,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    render_teams(&state, nav, &access, None, None, &headers).await
}

/// After a settings action: back to the page, or the page with the refusal.
async fn settle(
    state: &AppState,
    nav: Nav,
    access: &WorkspaceAccess,
    headers: &HeaderMap,
    result: Result<(), ApiError>,
) -> Result<Response, WebError> {
    match result {
        Ok(()) => Ok(Redirect::to("/settings/teams").into_response()),
        Err(e @ (ApiError::NotFound | ApiError::Internal(_))) => Err(WebError(e)),
        Err(e) => render_teams(state, nav, access, None, Some(e), headers).await,
    }
}

#[derive(serde::Deserialize)]
struct NameForm {
    name: String,
}

async fn web_create(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    WebForm { auth, form }: WebForm<NameForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let result = create(&state, &access, &client, &form.name, &[], None)
        .await
        .map(|_| ());
    settle(&state, nav, &access, &headers, result).await
}

async fn web_rename(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<NameForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let result = async {
        let id: TeamId = path_id(&id)?;
        rename(&state, &access, &client, id, &form.name).await
    }
    .await;
    settle(&state, nav, &access, &headers, result).await
}

async fn web_delete(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Path(id): Path<String>,
    WebForm { auth, .. }: WebForm<EmptyForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let result = async {
        let id: TeamId = path_id(&id)?;
        delete(&state, &access, &client, id).await.map(|_| ())
    }
    .await;
    settle(&state, nav, &access, &headers, result).await
}

#[derive(serde::Deserialize)]
struct MemberForm {
    user_id: String,
}

async fn web_add_member(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<MemberForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let result = async {
        let id: TeamId = path_id(&id)?;
        let user = parse_user(&form.user_id, "user_id")?;
        set_member(&state, &access, &client, id, user, true).await
    }
    .await;
    settle(&state, nav, &access, &headers, result).await
}

async fn web_remove_member(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Path((id, user_id)): Path<(String, String)>,
    WebForm { auth, .. }: WebForm<EmptyForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let result = async {
        let id: TeamId = path_id(&id)?;
        let user: UserId = path_id(&user_id)?;
        set_member(&state, &access, &client, id, user, false).await
    }
    .await;
    settle(&state, nav, &access, &headers, result).await
}
