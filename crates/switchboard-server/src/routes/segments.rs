//! Segments over the API: saved filters over the workspace's contacts (the contact list's
//! filters, by name), their members in keyset pages and their live counts.
//!
//! Invariant: a filter is checked with the list's own checks (`contacts::resolve_filter`)
//! before it is saved, and stored in the list's query names, so a segment always means what
//! the same filters on `/contacts` mean.

use crate::audit;
use crate::auth::{ClientInfo, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::contacts::{ContactList, ContactView, FilterSpec, page_of, resolve_filter};
use crate::routes::conversations::{idempotency_key, invalid};
use crate::routes::paging::{parse_limit, parse_query};
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use switchboard_core::{Role, SegmentId, WorkspaceId};
use switchboard_store::contacts::ContactFilter;
use switchboard_store::segments::Segment;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_segments, create_segment))
        .routes(routes!(get_segment, update_segment, delete_segment))
        .routes(routes!(segment_contacts))
}

#[derive(serde::Serialize, ToSchema)]
pub struct SegmentView {
    pub id: String,
    pub name: String,
    pub filter: FilterSpec,
    /// How many contacts match now.
    pub count: i64,
    pub created_by: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct SegmentList {
    /// By name.
    pub data: Vec<SegmentView>,
    /// Always absent: the segments come in one page.
    pub next_cursor: Option<String>,
}

/// The segment's filter as stored and resolved now (`None`: matches nothing).
pub(crate) async fn segment_filter(
    state: &AppState,
    ws: WorkspaceId,
    segment: &Segment,
) -> Result<(FilterSpec, Option<ContactFilter>), ApiError> {
    let spec: FilterSpec = serde_json::from_value(segment.filter.clone())
        .map_err(|_| ApiError::internal("a stored segment filter does not parse"))?;
    let filter = resolve_filter(state, ws, &spec, true).await?;
    Ok((spec, filter))
}

pub(crate) async fn view(
    state: &AppState,
    ws: WorkspaceId,
    segment: &Segment,
) -> Result<SegmentView, ApiError> {
    let (spec, filter) = segment_filter(state, ws, segment).await?;
    let count = match &filter {
        Some(f) => state.store.count_contacts(ws, f).await?,
        None => 0,
    };
    Ok(SegmentView {
        id: segment.id.to_string(),
        name: segment.name.clone(),
        filter: spec,
        count,
        created_by: segment.created_by.map(|u| u.to_string()),
        created_at: rfc3339(segment.created_at),
        updated_at: rfc3339(segment.updated_at),
    })
}

/// The workspace's segments with their counts (agent).
#[utoipa::path(get, path = "/api/v1/segments", tag = "contacts",
    responses((status = 200, body = SegmentList)),
    security(("bearer" = [])))]
async fn list_segments(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<SegmentList>, ApiError> {
    access.require(Role::Agent)?;
    let ws = access.workspace_id;
    let mut data = Vec::new();
    for s in state.store.segments(ws).await? {
        data.push(view(&state, ws, &s).await?);
    }
    Ok(ApiJson(SegmentList {
        data,
        next_cursor: None,
    }))
}

/// One segment with its count (agent).
#[utoipa::path(get, path = "/api/v1/segments/{id}", tag = "contacts",
    params(("id" = String, Path, description = "The segment's id")),
    responses((status = 200, body = SegmentView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_segment(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<SegmentView>, ApiError> {
    access.require(Role::Agent)?;
    let id: SegmentId = path_id(&id)?;
    let segment = state.store.segment(access.workspace_id, id).await?;
    Ok(ApiJson(view(&state, access.workspace_id, &segment).await?))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentBody {
    /// 1 to 100 characters, unique in the workspace.
    pub name: String,
    /// The contact list's filters (at least one).
    pub filter: FilterSpec,
}

fn name(raw: &str) -> Result<String, ApiError> {
    let n = raw.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err(invalid(
            "invalid_name",
            "A segment's name is 1 to 100 characters.",
            "name",
        ));
    }
    Ok(n.to_owned())
}

/// `spec` checked like the list's filters (an unknown attribute is refused), with empty
/// fields dropped; the JSON to store.
pub(crate) async fn checked_filter(
    state: &AppState,
    ws: WorkspaceId,
    spec: &FilterSpec,
) -> Result<serde_json::Value, ApiError> {
    resolve_filter(state, ws, spec, false).await?;
    let keep = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let clean = FilterSpec {
        q: keep(&spec.q),
        channel: keep(&spec.channel),
        connection_id: keep(&spec.connection_id),
        label: keep(&spec.label),
        stage: keep(&spec.stage),
        attribute: keep(&spec.attribute),
    };
    let json = serde_json::to_value(&clean)
        .map_err(|_| ApiError::internal("a segment filter does not serialise"))?;
    if json.as_object().is_none_or(|o| o.is_empty()) {
        return Err(invalid(
            "invalid_filter",
            "A segment filters by at least one thing.",
            "filter",
        ));
    }
    Ok(json)
}

/// Saves a segment (agent, the API's and the page's one path); with an idempotency key a
/// retry answers the first segment.
pub(crate) async fn create(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    body: &SegmentBody,
    key: Option<&str>,
) -> Result<Segment, ApiError> {
    access.require(Role::Agent)?;
    let ws = access.workspace_id;
    if let Some(k) = key
        && let Some(earlier) = state.store.segment_by_idempotency_key(ws, k).await?
    {
        return Ok(earlier);
    }
    let name = name(&body.name)?;
    let filter = checked_filter(state, ws, &body.filter).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let id = tx
        .create_segment(ws, &name, &filter, access.actor.user_id(), key, now)
        .await?;
    tx.record_audit(
        &audit::by(access, client, "segment.created").target("segment", id, Some(&name)),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(state.store.segment(ws, id).await?)
}

/// Saves a filter over the workspace's contacts as a segment (agent).
#[utoipa::path(post, path = "/api/v1/segments", tag = "contacts",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes the request safe to retry: the same key answers the same segment")),
    request_body = SegmentBody,
    responses((status = 201, body = SegmentView), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_segment(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SegmentBody>,
) -> Result<(StatusCode, ApiJson<SegmentView>), ApiError> {
    let key = idempotency_key(&headers)?;
    let segment = create(&state, &access, &client, &body, key.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(view(&state, access.workspace_id, &segment).await?),
    ))
}

/// Renames a segment or replaces its filter (agent).
#[utoipa::path(put, path = "/api/v1/segments/{id}", tag = "contacts",
    params(("id" = String, Path, description = "The segment's id")),
    request_body = SegmentBody,
    responses((status = 200, body = SegmentView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_segment(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SegmentBody>,
) -> Result<ApiJson<SegmentView>, ApiError> {
    access.require(Role::Agent)?;
    let ws = access.workspace_id;
    let id: SegmentId = path_id(&id)?;
    let name = name(&body.name)?;
    let filter = checked_filter(&state, ws, &body.filter).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.update_segment(ws, id, &name, &filter, now).await?;
    tx.record_audit(
        &audit::by(&access, &client, "segment.updated").target("segment", id, Some(&name)),
        now,
    )
    .await?;
    tx.commit().await?;
    let segment = state.store.segment(ws, id).await?;
    Ok(ApiJson(view(&state, ws, &segment).await?))
}

/// Deletes a segment (agent); its contacts are untouched.
#[utoipa::path(delete, path = "/api/v1/segments/{id}", tag = "contacts",
    params(("id" = String, Path, description = "The segment's id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_segment(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    access.require(Role::Agent)?;
    let ws = access.workspace_id;
    let id: SegmentId = path_id(&id)?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.delete_segment(ws, id).await?;
    tx.record_audit(
        &audit::by(&access, &client, "segment.deleted").target("segment", id, None),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 200; 50 by default.
    pub limit: Option<String>,
}

/// The segment's contacts now, newest first, in keyset pages (agent).
#[utoipa::path(get, path = "/api/v1/segments/{id}/contacts", tag = "contacts",
    params(("id" = String, Path, description = "The segment's id"), MembersQuery),
    responses((status = 200, body = ContactList), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn segment_contacts(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<ApiJson<ContactList>, ApiError> {
    access.require(Role::Agent)?;
    let ws = access.workspace_id;
    let id: SegmentId = path_id(&id)?;
    let query: MembersQuery = parse_query(raw.as_deref())?;
    let limit = parse_limit(&query.limit)?;
    let segment = state.store.segment(ws, id).await?;
    let (_, filter) = segment_filter(&state, ws, &segment).await?;
    let (contacts, next_cursor) =
        page_of(&state, ws, filter.as_ref(), &query.cursor, limit).await?;
    Ok(ApiJson(ContactList {
        data: contacts.iter().map(ContactView::from).collect(),
        next_cursor,
    }))
}
