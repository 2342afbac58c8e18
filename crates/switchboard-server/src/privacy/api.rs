//! `/api/v1/privacy`: privacy requests (record one for a contact or for yourself, read them
//! with their deadlines, receipt and residue, move them through the state machine) and legal
//! holds (placed and released by an admin after step-up re-authentication).

use crate::audit;
use crate::auth::step_up::RecentAuth;
use crate::auth::{Actor, ClientInfo, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use switchboard_core::inventory::SubjectKind;
use switchboard_core::privacy::calendar::Urgency;
use switchboard_core::privacy::{Regime, RequestKind, RequestSource, RequestState};
use switchboard_core::{ContactId, LegalHoldId, PrivacyRequestId, Role, UserId, ValidationError};
use switchboard_store::legal_holds::{HoldScope, LegalHold, NewHold};
use switchboard_store::privacy_requests::{
    Move, NewPrivacyRequest, PrivacyRequest, subject_kind_str,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_request, list_requests))
        .routes(routes!(get_request))
        .routes(routes!(move_request))
        .routes(routes!(place_hold, list_holds))
        .routes(routes!(release_hold))
}

#[derive(serde::Serialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    /// `erase`, `export`, `restrict`, `lift_restriction`, `object` or `rectify`.
    pub kind: String,
    /// `received`, `awaiting_identity`, `acknowledged`, `in_progress`, `extended`,
    /// `completed` or `refused`.
    pub state: String,
    pub state_reason: Option<String>,
    pub source: String,
    pub regime: String,
    /// `contact`, `platform_user`, `workspace`, `channel_connection` or `meta_user`.
    pub subject_kind: String,
    pub subject_id: Option<String>,
    #[schema(format = DateTime)]
    pub received_at: String,
    /// Dates (UTC) by the end of which the request must be acknowledged and answered.
    #[schema(format = Date)]
    pub acknowledge_by: String,
    #[schema(format = Date)]
    pub respond_by: String,
    #[schema(format = Date)]
    pub first_deadline: String,
    /// `on_time`, `near_due` (7 days or less) or `overdue`.
    pub urgency: String,
    pub paused_days: i64,
    #[schema(format = DateTime)]
    pub extended_at: Option<String>,
    #[schema(format = DateTime)]
    pub completed_at: Option<String>,
    #[schema(format = DateTime)]
    pub refused_at: Option<String>,
    pub confirmation_code: Option<String>,
    /// Per table: rows deleted and anonymised; what was kept and why.
    #[schema(value_type = Object)]
    pub receipt: Option<serde_json::Value>,
    /// The residue scan: where identifiers were still found (never the values).
    #[schema(value_type = Object)]
    pub residue: Option<serde_json::Value>,
}

pub fn urgency_str(u: Urgency) -> &'static str {
    match u {
        Urgency::OnTime => "on_time",
        Urgency::NearDue => "near_due",
        Urgency::Overdue => "overdue",
    }
}

impl RequestView {
    pub fn of(r: &PrivacyRequest, today: time::Date) -> Self {
        Self {
            id: r.id.to_string(),
            kind: r.kind.as_str().to_owned(),
            state: r.state.as_str().to_owned(),
            state_reason: r.state_reason.clone(),
            source: r.source.as_str().to_owned(),
            regime: r.regime.as_str().to_owned(),
            subject_kind: subject_kind_str(r.subject_kind).to_owned(),
            subject_id: r.subject_id.clone(),
            received_at: rfc3339(r.received_at),
            acknowledge_by: r.deadlines.acknowledge_by.to_string(),
            respond_by: r.deadlines.respond_by.to_string(),
            first_deadline: r.deadlines.first_deadline.to_string(),
            urgency: urgency_str(r.urgency(today)).to_owned(),
            paused_days: r.paused_days,
            extended_at: r.extended_at.map(rfc3339),
            completed_at: r.completed_at.map(rfc3339),
            refused_at: r.refused_at.map(rfc3339),
            confirmation_code: r.confirmation_code.clone(),
            receipt: r.receipt.clone(),
            residue: r.residue.clone(),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct RequestList {
    pub data: Vec<RequestView>,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// `erase`, `export`, `restrict`, `lift_restriction`, `object` or `rectify`.
    pub kind: String,
    /// The contact the request is about (an operator on a customer's behalf).
    pub contact_id: Option<String>,
    /// Your own user id: a request about your own account (needs recent re-authentication).
    pub user_id: Option<String>,
    /// `gdpr` (default) or `ccpa`: whose calendar sets the deadlines.
    pub regime: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct Created {
    pub id: String,
    pub state: String,
}

fn bad(code: &'static str, message: &str, field: &'static str) -> ApiError {
    ValidationError::new(code, message).on(field).into()
}

/// Records a privacy request. An erase request about a contact (admin) starts at once: its
/// erasure job is enqueued with it. A request about your own account (`user_id`, needs
/// recent re-authentication) ends your sessions and API tokens in the same transaction.
#[utoipa::path(post, path = "/api/v1/privacy/requests", tag = "privacy",
    request_body = CreateRequest,
    responses((status = 201, body = Created), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn create_request(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    ApiJson(body): ApiJson<CreateRequest>,
) -> Result<(StatusCode, ApiJson<Created>), ApiError> {
    let kind = RequestKind::parse(&body.kind).ok_or_else(|| {
        bad(
            "invalid_kind",
            "The kind is erase, export, restrict, lift_restriction, object or rectify.",
            "kind",
        )
    })?;
    let regime = match body.regime.as_deref() {
        None => Regime::Gdpr,
        Some(r) => Regime::parse(r)
            .ok_or_else(|| bad("invalid_regime", "The regime is gdpr or ccpa.", "regime"))?,
    };
    let ws = access.workspace_id;
    let (subject_kind, subject_id, source) = match (&body.contact_id, &body.user_id) {
        (Some(contact), None) => {
            access.require(Role::Admin)?;
            let id: ContactId = contact
                .parse()
                .map_err(|_| bad("invalid_contact", "The contact_id is an id.", "contact_id"))?;
            state.store.contact(ws, id).await?;
            (
                SubjectKind::Contact,
                id.to_string(),
                RequestSource::Operator,
            )
        }
        (None, Some(user)) => {
            let id: UserId = user
                .parse()
                .map_err(|_| bad("invalid_user", "The user_id is an id.", "user_id"))?;
            match &access.actor {
                Actor::User { id: me, .. } if *me == id => {}
                _ => {
                    return Err(ApiError::Forbidden(
                        "A request about an account can only come from that account.",
                    ));
                }
            }
            let Some(session) = access.session.as_ref() else {
                return Err(ApiError::Forbidden(
                    "A request about an account can only come from that account.",
                ));
            };
            if !session.recently_authenticated(&state) {
                return Err(ApiError::ReauthRequired);
            }
            if kind == RequestKind::Erase {
                // The one account deletion, shared with Settings > Privacy.
                let started = super::self_service::delete_account(
                    &state,
                    &session.user,
                    &audit::by(&access, &client, "privacy.request"),
                )
                .await?;
                return Ok((
                    StatusCode::CREATED,
                    ApiJson(Created {
                        id: started.request_id.to_string(),
                        state: RequestState::InProgress.as_str().to_owned(),
                    }),
                ));
            }
            (
                SubjectKind::PlatformUser,
                id.to_string(),
                RequestSource::SelfService,
            )
        }
        _ => {
            return Err(bad(
                "invalid_subject",
                "Name exactly one subject: contact_id or user_id.",
                "contact_id",
            ));
        }
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let by = || audit::by(&access, &client, "privacy.request");
    let request = tx
        .insert_privacy_request(
            &NewPrivacyRequest {
                workspace_id: Some(ws),
                kind,
                source,
                regime,
                subject_kind,
                subject_id: Some(subject_id.clone()),
                subject_key_hash: None,
                source_ref: None,
                confirmation_code: Some(
                    super::sha256_hex(&uuid::Uuid::new_v4().to_string())[..24].to_owned(),
                ),
                needs_review: false,
                plan: serde_json::json!({}),
                created_by: access.actor.user_id(),
            },
            by(),
            now,
        )
        .await?;
    let mut current = request.state;
    if kind == RequestKind::Erase {
        if subject_kind == SubjectKind::PlatformUser
            && let Ok(user) = subject_id.parse::<UserId>()
        {
            tx.revoke_access_of_user(user, now).await?;
        }
        // The operator (or the account holder, just re-authenticated) is who identity
        // verification would ask about: the request starts now.
        current = tx
            .move_request(
                request.id,
                Move {
                    to: RequestState::InProgress,
                    reason: None,
                    by: by(),
                },
                now,
            )
            .await?
            .state;
        super::enqueue_erasure(&mut tx, request.id, Some(ws), now).await?;
    }
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Created {
            id: request.id.to_string(),
            state: current.as_str().to_owned(),
        }),
    ))
}

/// The workspace's privacy requests, newest first (admin).
#[utoipa::path(get, path = "/api/v1/privacy/requests", tag = "privacy",
    responses((status = 200, body = RequestList), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_requests(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<RequestList>, ApiError> {
    access.require(Role::Admin)?;
    let today = state.clock.now().date();
    let requests = state
        .store
        .privacy_requests(access.workspace_id, 500)
        .await?;
    Ok(ApiJson(RequestList {
        data: requests.iter().map(|r| RequestView::of(r, today)).collect(),
    }))
}

/// One privacy request with its deadlines, receipt and residue (admin).
#[utoipa::path(get, path = "/api/v1/privacy/requests/{id}", tag = "privacy",
    params(("id" = String, Path, description = "The request's id")),
    responses((status = 200, body = RequestView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_request(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<RequestView>, ApiError> {
    access.require(Role::Admin)?;
    let id: PrivacyRequestId = path_id(&id)?;
    let r = state.store.privacy_request(access.workspace_id, id).await?;
    Ok(ApiJson(RequestView::of(&r, state.clock.now().date())))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// `awaiting_identity` (pauses the clock), `acknowledged`, `in_progress`, `extended`
    /// (with a reason, before the first deadline) or `refused` (with a reason).
    pub state: String,
    pub reason: Option<String>,
}

/// Moves a request through its state machine (admin); every move is audited. An erase
/// request is completed only by its erasure: moving it to `in_progress` (again) runs it.
#[utoipa::path(post, path = "/api/v1/privacy/requests/{id}/state", tag = "privacy",
    params(("id" = String, Path, description = "The request's id")),
    request_body = MoveRequest,
    responses((status = 200, body = RequestView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn move_request(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MoveRequest>,
) -> Result<ApiJson<RequestView>, ApiError> {
    access.require(Role::Admin)?;
    let id: PrivacyRequestId = path_id(&id)?;
    let ws = access.workspace_id;
    let to = RequestState::parse(&body.state)
        .ok_or_else(|| bad("invalid_state", "That is not a request state.", "state"))?;
    let current = state.store.privacy_request(ws, id).await?;
    if to == RequestState::Completed && current.kind == RequestKind::Erase {
        return Err(ApiError::Conflict {
            code: "completed_by_erasure",
            message: "An erase request completes when its erasure and residue scan do.".into(),
        });
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let moved = tx
        .move_request(
            id,
            Move {
                to,
                reason: body.reason.as_deref(),
                by: audit::by(&access, &client, "privacy.request"),
            },
            now,
        )
        .await?;
    if current.kind == RequestKind::Erase
        && matches!(to, RequestState::InProgress | RequestState::Extended)
    {
        super::enqueue_erasure(&mut tx, id, Some(ws), now).await?;
    }
    tx.commit().await?;
    Ok(ApiJson(RequestView::of(&moved, now.date())))
}

#[derive(serde::Serialize, ToSchema)]
pub struct HoldView {
    pub id: String,
    /// `contact`, `conversation` or `workspace`.
    pub scope: String,
    pub scope_id: String,
    pub reason: String,
    pub reference: String,
    pub placed_by: Option<String>,
    #[schema(format = DateTime)]
    pub placed_at: String,
    pub released_by: Option<String>,
    #[schema(format = DateTime)]
    pub released_at: Option<String>,
}

impl From<&LegalHold> for HoldView {
    fn from(h: &LegalHold) -> Self {
        Self {
            id: h.id.to_string(),
            scope: h.scope.as_str().to_owned(),
            scope_id: h.scope_id.clone(),
            reason: h.reason.clone(),
            reference: h.reference.clone(),
            placed_by: h.placed_by.clone(),
            placed_at: rfc3339(h.placed_at),
            released_by: h.released_by.clone(),
            released_at: h.released_at.map(rfc3339),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct HoldList {
    pub data: Vec<HoldView>,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceHold {
    /// `contact`, `conversation` or `workspace`.
    pub scope: String,
    /// The contact's or conversation's id (not for `workspace`).
    pub id: Option<String>,
    /// Why: 3 to 1000 characters.
    pub reason: String,
    /// The order, case or ticket it answers: 1 to 200 characters.
    pub reference: String,
}

/// Places a legal hold (admin, re-authenticated): held data survives erasure and retention
/// until the hold is released. Audited.
#[utoipa::path(post, path = "/api/v1/privacy/holds", tag = "privacy",
    request_body = PlaceHold,
    responses((status = 201, body = HoldView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn place_hold(
    State(state): State<AppState>,
    RecentAuth(access): RecentAuth,
    client: ClientInfo,
    ApiJson(body): ApiJson<PlaceHold>,
) -> Result<(StatusCode, ApiJson<HoldView>), ApiError> {
    access.require(Role::Admin)?;
    let scope = HoldScope::parse(&body.scope).ok_or_else(|| {
        bad(
            "invalid_scope",
            "The scope is contact, conversation or workspace.",
            "scope",
        )
    })?;
    let reason = switchboard_core::privacy::parse_reason(&body.reason)?;
    let reference = body.reference.trim();
    if reference.is_empty()
        || reference.chars().count() > 200
        || reference.chars().any(char::is_control)
    {
        return Err(bad(
            "invalid_reference",
            "The reference is 1 to 200 characters.",
            "reference",
        ));
    }
    let scope_id = match (scope, body.id.as_deref()) {
        (HoldScope::Workspace, _) => access.workspace_id.to_string(),
        (_, Some(id)) => uuid::Uuid::parse_str(id)
            .map_err(|_| bad("invalid_id", "The id is an id.", "id"))?
            .hyphenated()
            .to_string(),
        (_, None) => return Err(bad("invalid_id", "Name the contact or conversation.", "id")),
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let hold = tx
        .place_hold(
            access.workspace_id,
            &NewHold {
                scope,
                scope_id: &scope_id,
                reason: &reason,
                reference,
                placed_by: access.actor.user_id(),
            },
            audit::by(&access, &client, "privacy.hold"),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(HoldView::from(&hold))))
}

/// The workspace's legal holds, live ones first (admin).
#[utoipa::path(get, path = "/api/v1/privacy/holds", tag = "privacy",
    responses((status = 200, body = HoldList), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_holds(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<HoldList>, ApiError> {
    access.require(Role::Admin)?;
    let holds = state.store.holds(access.workspace_id).await?;
    Ok(ApiJson(HoldList {
        data: holds.iter().map(HoldView::from).collect(),
    }))
}

/// Releases a legal hold (admin, re-authenticated), audited; erase requests it kept open
/// run again at once.
#[utoipa::path(delete, path = "/api/v1/privacy/holds/{id}", tag = "privacy",
    params(("id" = String, Path, description = "The hold's id")),
    responses((status = 200, body = HoldView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn release_hold(
    State(state): State<AppState>,
    RecentAuth(access): RecentAuth,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiJson<HoldView>, ApiError> {
    access.require(Role::Admin)?;
    let id: LegalHoldId = path_id(&id)?;
    let ws = access.workspace_id;
    let now = state.clock.now();
    let open = state.store.open_erasures(ws).await?;
    let mut tx = state.store.begin().await?;
    let hold = tx
        .release_hold(
            ws,
            id,
            access.actor.user_id(),
            audit::by(&access, &client, "privacy.hold"),
            now,
        )
        .await?;
    for request in open {
        super::enqueue_erasure(&mut tx, request, Some(ws), now).await?;
    }
    tx.commit().await?;
    Ok(ApiJson(HoldView::from(&hold)))
}
