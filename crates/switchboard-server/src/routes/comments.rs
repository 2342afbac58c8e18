//! Instagram comments over the API: a connection's comment threads
//! (`GET /api/v1/channels/{id}/comments`), newest first, each comment with its replies.
//!
//! Invariant: the connection is looked up in the caller's workspace first, so another
//! workspace's connection id is a 404, never an empty list.

use crate::auth::WorkspaceAccess;
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::paging::{invalid_cursor, nonempty, parse_limit, parse_query};
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use switchboard_core::{CommentId, ConnectionId, Role};
use switchboard_store::comments::StoredComment;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_comments))
}

#[derive(serde::Serialize, ToSchema)]
pub struct CommentView {
    pub id: String,
    /// The platform's id for the comment.
    pub external_id: String,
    /// The post (media) it is on.
    pub media_id: Option<String>,
    /// The platform id of the comment it answers (set on replies).
    pub parent_external_id: Option<String>,
    /// Who wrote it.
    pub contact_id: String,
    pub text: String,
    #[schema(format = DateTime)]
    pub commented_at: String,
}

impl From<&StoredComment> for CommentView {
    fn from(c: &StoredComment) -> Self {
        Self {
            id: c.id.to_string(),
            external_id: c.external_id.clone(),
            media_id: c.media_id.clone(),
            parent_external_id: c.parent_external_id.clone(),
            contact_id: c.contact_id.to_string(),
            text: c.text.clone(),
            commented_at: rfc3339(c.commented_at),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct CommentThreadView {
    #[serde(flatten)]
    pub comment: CommentView,
    /// Replies to it, oldest first.
    pub replies: Vec<CommentView>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct CommentList {
    /// Threads, newest first.
    pub data: Vec<CommentThreadView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(serde::Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CommentQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 200; 50 by default.
    pub limit: Option<String>,
}

/// A connection's Instagram comment threads, newest first (agent).
#[utoipa::path(get, path = "/api/v1/channels/{id}/comments", tag = "channels",
    params(("id" = String, Path, description = "The connection's id"), CommentQuery),
    responses((status = 200, body = CommentList), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_comments(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<ApiJson<CommentList>, ApiError> {
    access.require(Role::Agent)?;
    let id: ConnectionId = path_id(&id)?;
    let query: CommentQuery = parse_query(raw.as_deref())?;
    let limit = parse_limit(&query.limit)?;
    let before = nonempty(&query.cursor)
        .map(|c| c.parse::<CommentId>().map_err(|_| invalid_cursor()))
        .transpose()?;
    state.store.connection(access.workspace_id, id).await?;
    let threads = state
        .store
        .comment_threads(access.workspace_id, id, before, limit)
        .await?;
    let next_cursor = (threads.len() as i64 == limit)
        .then(|| threads.last())
        .flatten()
        .map(|t| t.comment.id.to_string());
    Ok(ApiJson(CommentList {
        data: threads
            .iter()
            .map(|t| CommentThreadView {
                comment: CommentView::from(&t.comment),
                replies: t.replies.iter().map(CommentView::from).collect(),
            })
            .collect(),
        next_cursor,
    }))
}
