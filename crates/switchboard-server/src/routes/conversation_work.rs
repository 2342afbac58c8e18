//! Work on conversations beyond replying, over the API and shared with the inbox pages:
//! assignment, status (open, pending, snoozed until a time, resolved, reopened), private
//! notes, labels on a conversation, read and unread marks, bulk actions, and the timeline of
//! notes and system events.
//!
//! Invariant: each change, its timeline entry and its live-update event commit in one
//! transaction; every id in a request is looked up inside the caller's workspace, so an id
//! of another workspace is a 404 like an unknown one.

use crate::auth::WorkspaceAccess;
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::conversations::{ConversationView, idempotency_key, invalid};
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use switchboard_core::{ConversationId, LabelId, Role, TeamId, Timestamp, UserId, WorkspaceId};
use switchboard_store::conversations::ConversationStatus;
use switchboard_store::inbox::{Activity, ActivityKind, NewActivity};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_assignee))
        .routes(routes!(set_status))
        .routes(routes!(list_activities))
        .routes(routes!(add_note))
        .routes(routes!(add_label, remove_label))
        .routes(routes!(mark_read))
        .routes(routes!(mark_unread))
        .routes(routes!(bulk))
}

/// The longest note an agent may write.
const MAX_NOTE: usize = 10_000;
/// The most conversations one bulk action may name.
const MAX_BULK: usize = 200;

/// Assigns the conversation to a member of `ws` (checked), or unassigns it.
pub(crate) async fn assign(
    state: &AppState,
    ws: WorkspaceId,
    actor: Option<UserId>,
    id: ConversationId,
    assignee: Option<UserId>,
) -> Result<(), ApiError> {
    let name = match assignee {
        Some(user) => {
            let member = match state.store.member(ws, user).await {
                Ok(m) => m,
                Err(switchboard_store::StoreError::NotFound) => {
                    return Err(invalid(
                        "not_a_member",
                        "The assignee is not a member of this workspace.",
                        "assignee_user_id",
                    ));
                }
                Err(e) => return Err(e.into()),
            };
            Some(member.display_name)
        }
        None => None,
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.assign_conversation(ws, id, assignee, now).await?;
    let kind = if assignee.is_some() {
        ActivityKind::Assigned
    } else {
        ActivityKind::Unassigned
    };
    tx.add_activity(
        ws,
        id,
        &NewActivity::event(kind, actor, name.as_deref()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Changes the conversation's status; a snooze needs a time in the future.
pub(crate) async fn change_status(
    state: &AppState,
    ws: WorkspaceId,
    actor: Option<UserId>,
    id: ConversationId,
    status: ConversationStatus,
    snoozed_until: Option<Timestamp>,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let until = match (status, snoozed_until) {
        (ConversationStatus::Snoozed, Some(t)) if t > now => Some(t),
        (ConversationStatus::Snoozed, _) => {
            return Err(invalid(
                "invalid_snooze",
                "Snoozing needs snoozed_until, a time in the future.",
                "snoozed_until",
            ));
        }
        (_, Some(_)) => {
            return Err(invalid(
                "invalid_snooze",
                "snoozed_until goes with the status snoozed only.",
                "snoozed_until",
            ));
        }
        (_, None) => None,
    };
    let before = state.store.conversation(ws, id).await?;
    let kind = match status {
        ConversationStatus::Resolved => ActivityKind::Resolved,
        ConversationStatus::Pending => ActivityKind::Pending,
        ConversationStatus::Snoozed => ActivityKind::Snoozed,
        ConversationStatus::Open if before.status == ConversationStatus::Resolved => {
            ActivityKind::Reopened
        }
        ConversationStatus::Open => ActivityKind::Opened,
    };
    let mut tx = state.store.begin().await?;
    tx.set_conversation_status_until(ws, id, status, until, now)
        .await?;
    let body = until.map(rfc3339);
    tx.add_activity(
        ws,
        id,
        &NewActivity::event(kind, actor, body.as_deref()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks a note's text.
pub(crate) fn note_text(text: &str) -> Result<&str, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE {
        return Err(invalid(
            "invalid_note",
            format!("A note is 1 to {MAX_NOTE} characters."),
            "text",
        ));
    }
    Ok(text)
}

/// Writes a private note (agents only; never sent to the contact).
pub(crate) async fn write_note(
    state: &AppState,
    ws: WorkspaceId,
    actor: Option<UserId>,
    id: ConversationId,
    text: &str,
    idempotency_key: Option<&str>,
) -> Result<switchboard_core::ActivityId, ApiError> {
    let text = note_text(text)?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let activity = tx
        .add_activity(
            ws,
            id,
            &NewActivity {
                kind: ActivityKind::Note,
                author: actor,
                body: Some(text),
                idempotency_key,
            },
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(activity)
}

/// Puts a label on the conversation (`on`) or takes it off.
pub(crate) async fn label(
    state: &AppState,
    ws: WorkspaceId,
    actor: Option<UserId>,
    id: ConversationId,
    label: LabelId,
    on: bool,
) -> Result<(), ApiError> {
    // The conversation must be of `ws` too, whichever way.
    state.store.conversation(ws, id).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    if on {
        tx.add_label(ws, id, label, actor, now).await?;
    } else {
        tx.remove_label(ws, id, label, actor, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Marks the conversation read or unread.
pub(crate) async fn set_read(
    state: &AppState,
    ws: WorkspaceId,
    id: ConversationId,
    read: bool,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    if read {
        tx.mark_read(ws, id, now).await?;
    } else {
        tx.mark_unread(ws, id, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn parse_status(raw: &str) -> Result<ConversationStatus, ApiError> {
    ConversationStatus::parse(raw).ok_or_else(|| {
        invalid(
            "invalid_status",
            "The status is open, pending, snoozed or resolved.",
            "status",
        )
    })
}

pub(crate) fn parse_time(raw: &str, field: &'static str) -> Result<Timestamp, ApiError> {
    Timestamp::parse(raw.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|_| invalid("invalid_time", "Give the time in RFC 3339.", field))
}

fn parse_user(raw: &str) -> Result<UserId, ApiError> {
    raw.parse().map_err(|_| {
        invalid(
            "invalid_assignee",
            "The assignee is a member's user id.",
            "assignee_user_id",
        )
    })
}

async fn view(
    state: &AppState,
    ws: WorkspaceId,
    id: ConversationId,
) -> Result<ApiJson<ConversationView>, ApiError> {
    let c = state.store.conversation(ws, id).await?;
    let labels = state.store.labels_of(ws, &[id]).await?;
    Ok(ApiJson(ConversationView::with_labels(&c, labels.get(&id))))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssigneeBody {
    /// A member's user id, or null to unassign.
    pub assignee_user_id: Option<String>,
}

/// Assigns the conversation to a member, or unassigns it with null (agent).
#[utoipa::path(put, path = "/api/v1/conversations/{id}/assignee", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")),
    request_body = AssigneeBody,
    responses((status = 200, body = ConversationView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_assignee(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssigneeBody>,
) -> Result<ApiJson<ConversationView>, ApiError> {
    access.require(Role::Agent)?;
    let id: ConversationId = path_id(&id)?;
    let assignee = body
        .assignee_user_id
        .as_deref()
        .map(parse_user)
        .transpose()?;
    assign(
        &state,
        access.workspace_id,
        access.actor.user_id(),
        id,
        assignee,
    )
    .await?;
    view(&state, access.workspace_id, id).await
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// `open`, `pending`, `snoozed` or `resolved`.
    pub status: String,
    /// With `snoozed`: when it opens again (RFC 3339, in the future).
    #[schema(format = DateTime)]
    pub snoozed_until: Option<String>,
}

/// Opens, resolves, reopens, marks pending or snoozes the conversation (agent). Reopening
/// while the contact has another live conversation on the channel is refused
/// (`conversation_already_open`).
#[utoipa::path(put, path = "/api/v1/conversations/{id}/status", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")),
    request_body = StatusBody,
    responses((status = 200, body = ConversationView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_status(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusBody>,
) -> Result<ApiJson<ConversationView>, ApiError> {
    access.require(Role::Agent)?;
    let id: ConversationId = path_id(&id)?;
    let status = parse_status(&body.status)?;
    let until = body
        .snoozed_until
        .as_deref()
        .map(|t| parse_time(t, "snoozed_until"))
        .transpose()?;
    change_status(
        &state,
        access.workspace_id,
        access.actor.user_id(),
        id,
        status,
        until,
    )
    .await?;
    view(&state, access.workspace_id, id).await
}

#[derive(serde::Serialize, ToSchema)]
pub struct ActivityView {
    pub id: String,
    pub conversation_id: String,
    /// `note`, `assigned`, `unassigned`, `labelled`, `unlabelled`, `opened`, `pending`,
    /// `snoozed`, `resolved`, `reopened`, `team_assigned` or `team_unassigned`.
    pub kind: String,
    pub author_user_id: Option<String>,
    /// A note's text; for a system event, what it names (a label, a member, a team, a time).
    pub body: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&Activity> for ActivityView {
    fn from(a: &Activity) -> Self {
        Self {
            id: a.id.to_string(),
            conversation_id: a.conversation_id.to_string(),
            kind: a.kind.as_str().to_owned(),
            author_user_id: a.author_user_id.map(|u| u.to_string()),
            body: a.body.clone(),
            created_at: rfc3339(a.created_at),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct ActivityList {
    /// Oldest first (the latest 500).
    pub data: Vec<ActivityView>,
    /// Always absent: the timeline comes in one page.
    pub next_cursor: Option<String>,
}

/// The conversation's private notes and system events, oldest first (agent).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/activities", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = ActivityList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_activities(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<ActivityList>, ApiError> {
    access.require(Role::Agent)?;
    let id: ConversationId = path_id(&id)?;
    state.store.conversation(access.workspace_id, id).await?;
    let list = state.store.activities(access.workspace_id, id).await?;
    Ok(ApiJson(ActivityList {
        data: list.iter().map(ActivityView::from).collect(),
        next_cursor: None,
    }))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    pub text: String,
}

/// Writes a private note in the conversation, seen by the workspace's members only (agent).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/notes", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id"),
        ("Idempotency-Key" = Option<String>, Header,
            description = "Makes the request safe to retry: the same key answers the same note")),
    request_body = NoteBody,
    responses((status = 201, body = ActivityView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_note(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<(StatusCode, ApiJson<ActivityView>), ApiError> {
    access.require(Role::Agent)?;
    let id: ConversationId = path_id(&id)?;
    let ws = access.workspace_id;
    let key = idempotency_key(&headers)?;
    if let Some(key) = &key
        && let Some(earlier) = state.store.activity_by_idempotency_key(ws, key).await?
    {
        if earlier.conversation_id != id {
            return Err(ApiError::Conflict {
                code: "idempotency_key_reused",
                message: "This Idempotency-Key was used for a note in another conversation."
                    .to_owned(),
            });
        }
        return Ok((StatusCode::CREATED, ApiJson(ActivityView::from(&earlier))));
    }
    let activity = write_note(
        &state,
        ws,
        access.actor.user_id(),
        id,
        &body.text,
        key.as_deref(),
    )
    .await?;
    let stored = state.store.activity(ws, activity).await?;
    Ok((StatusCode::CREATED, ApiJson(ActivityView::from(&stored))))
}

/// Puts the label on the conversation (agent); doing it twice changes nothing.
#[utoipa::path(put, path = "/api/v1/conversations/{id}/labels/{label_id}", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id"),
        ("label_id" = String, Path, description = "The label's id")),
    responses((status = 200, body = ConversationView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_label(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path((id, label_id)): Path<(String, String)>,
) -> Result<ApiJson<ConversationView>, ApiError> {
    access.require(Role::Agent)?;
    let id: ConversationId = path_id(&id)?;
    let label_id: LabelId = path_id(&label_id)?;
    label(
        &state,
        access.workspace_id,
        access.actor.user_id(),
        id,
        label_id,
        true,
    )
    .await?;
    view(&state, access.workspace_id, id).await
}

/// Takes the label off the conversation (agent).
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/labels/{label_id}", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id"),
        ("label_id" = String, Path, description = "The label's id")),
    responses((status = 200, body = ConversationView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn remove_label(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path((id, label_id)): Path<(String, String)>,
) -> Result<ApiJson<ConversationView>, ApiError> {
    access.require(Role::Agent)?;
    let id: ConversationId = path_id(&id)?;
    let label_id: LabelId = path_id(&label_id)?;
    label(
        &state,
        access.workspace_id,
        access.actor.user_id(),
        id,
        label_id,
        false,
    )
    .await?;
    view(&state, access.workspace_id, id).await
}

/// Marks the conversation's customer messages read (agent).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = ConversationView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn mark_read(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<ConversationView>, ApiError> {
    access.require(Role::Agent)?;
    let id: ConversationId = path_id(&id)?;
    set_read(&state, access.workspace_id, id, true).await?;
    view(&state, access.workspace_id, id).await
}

/// Marks the conversation unread, to come back to it (agent).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/unread", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = ConversationView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn mark_unread(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<ConversationView>, ApiError> {
    access.require(Role::Agent)?;
    let id: ConversationId = path_id(&id)?;
    set_read(&state, access.workspace_id, id, false).await?;
    view(&state, access.workspace_id, id).await
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// 1 to 200 conversation ids.
    pub conversation_ids: Vec<String>,
    /// `resolve`, `reopen`, `assign` (with `assignee_user_id`, null to unassign),
    /// `assign_team` (with `team_id`, null to take them off their team), `mark_read` or
    /// `mark_unread`.
    pub action: String,
    pub assignee_user_id: Option<String>,
    pub team_id: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct BulkResult {
    /// The conversations the action was applied to.
    pub done: Vec<String>,
    /// Those it was refused for, with the reason's code.
    pub failed: Vec<BulkFailure>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct BulkFailure {
    pub id: String,
    pub code: String,
}

/// What a bulk action does to each conversation.
#[derive(Clone, Copy)]
pub(crate) enum BulkAction {
    Resolve,
    Reopen,
    Assign(Option<UserId>),
    AssignTeam(Option<TeamId>),
    MarkRead,
    MarkUnread,
}

pub(crate) fn parse_bulk_action(
    action: &str,
    assignee: Option<&str>,
    team: Option<&str>,
) -> Result<BulkAction, ApiError> {
    Ok(match action {
        "resolve" => BulkAction::Resolve,
        "reopen" => BulkAction::Reopen,
        "assign" => BulkAction::Assign(
            assignee
                .filter(|a| !a.is_empty())
                .map(parse_user)
                .transpose()?,
        ),
        "assign_team" => BulkAction::AssignTeam(
            team.filter(|t| !t.is_empty())
                .map(|t| {
                    t.parse::<TeamId>()
                        .map_err(|_| invalid("invalid_team", "The team is a team's id.", "team_id"))
                })
                .transpose()?,
        ),
        "mark_read" => BulkAction::MarkRead,
        "mark_unread" => BulkAction::MarkUnread,
        _ => {
            return Err(invalid(
                "invalid_action",
                "The action is resolve, reopen, assign, assign_team, mark_read or mark_unread.",
                "action",
            ));
        }
    })
}

/// Applies `action` to each conversation, each in its own transaction: one refusal (a
/// conversation of another workspace, a reopen that conflicts) fails only that one.
pub(crate) async fn apply_bulk(
    state: &AppState,
    ws: WorkspaceId,
    actor: Option<UserId>,
    ids: &[ConversationId],
    action: BulkAction,
) -> Result<BulkResult, ApiError> {
    let mut result = BulkResult {
        done: Vec::new(),
        failed: Vec::new(),
    };
    for id in ids {
        let outcome = match action {
            BulkAction::Resolve => {
                change_status(state, ws, actor, *id, ConversationStatus::Resolved, None).await
            }
            BulkAction::Reopen => {
                change_status(state, ws, actor, *id, ConversationStatus::Open, None).await
            }
            BulkAction::Assign(user) => assign(state, ws, actor, *id, user).await,
            BulkAction::AssignTeam(team) => {
                crate::routes::teams::assign_team(state, ws, actor, *id, team, None).await
            }
            BulkAction::MarkRead => set_read(state, ws, *id, true).await,
            BulkAction::MarkUnread => set_read(state, ws, *id, false).await,
        };
        match outcome {
            Ok(()) => result.done.push(id.to_string()),
            Err(ApiError::Internal(detail)) => return Err(ApiError::Internal(detail)),
            Err(e) => result.failed.push(BulkFailure {
                id: id.to_string(),
                code: e.code().to_owned(),
            }),
        }
    }
    Ok(result)
}

/// Applies one action to several conversations (agent): resolve, reopen, assign to an agent
/// or a team, mark read or unread. Answers which were done and which were refused, with the reason's code.
#[utoipa::path(post, path = "/api/v1/conversations/bulk", tag = "conversations",
    request_body = BulkBody,
    responses((status = 200, body = BulkResult), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn bulk(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    ApiJson(body): ApiJson<BulkBody>,
) -> Result<ApiJson<BulkResult>, ApiError> {
    access.require(Role::Agent)?;
    if body.conversation_ids.is_empty() || body.conversation_ids.len() > MAX_BULK {
        return Err(invalid(
            "invalid_conversation_ids",
            format!("Name 1 to {MAX_BULK} conversations."),
            "conversation_ids",
        ));
    }
    let action = parse_bulk_action(
        &body.action,
        body.assignee_user_id.as_deref(),
        body.team_id.as_deref(),
    )?;
    let ids = body
        .conversation_ids
        .iter()
        .map(|raw| {
            raw.parse::<ConversationId>().map_err(|_| {
                invalid(
                    "invalid_conversation_ids",
                    "Each entry is a conversation id.",
                    "conversation_ids",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let result = apply_bulk(
        &state,
        access.workspace_id,
        access.actor.user_id(),
        &ids,
        action,
    )
    .await?;
    Ok(ApiJson(result))
}
