//! Search across the workspace's message text (full-text: SQLite FTS5, PostgreSQL tsvector)
//! and its contacts (name, platform id, username, phone), each result linked to its
//! conversation.

use crate::auth::WorkspaceAccess;
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::conversations::invalid;
use crate::routes::paging::{nonempty, parse_limit, parse_query};
use crate::routes::workspaces::rfc3339;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use switchboard_core::{Role, WorkspaceId};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

#[derive(serde::Serialize, ToSchema, Clone)]
pub struct SearchHit {
    /// `message` or `contact`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where the result leads (a contact's latest conversation); absent for a contact who
    /// has none.
    pub conversation_id: Option<String>,
    pub contact_id: String,
    pub contact_name: Option<String>,
    /// The message, for a message result.
    pub message_id: Option<String>,
    /// The message's words, for a message result.
    pub text: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct SearchResults {
    /// Contacts first, then messages, newest first.
    pub data: Vec<SearchHit>,
    /// Always absent: refine the query rather than paging.
    pub next_cursor: Option<String>,
}

#[derive(serde::Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to find (each must appear; the last may be the start of a word).
    pub q: Option<String>,
    /// 1 to 200 messages; 50 by default.
    pub limit: Option<String>,
}

/// Contacts and messages matching `q` in the workspace.
pub(crate) async fn run(
    state: &AppState,
    ws: WorkspaceId,
    q: &str,
    limit: i64,
) -> Result<Vec<SearchHit>, ApiError> {
    let mut hits = Vec::new();
    let contacts = state
        .store
        .search_contacts(ws, Some(q.trim()), None, 10)
        .await?;
    for c in contacts {
        let conversation = state.store.latest_conversation_of(ws, c.id).await?;
        hits.push(SearchHit {
            kind: "contact".to_owned(),
            conversation_id: conversation.map(|c| c.to_string()),
            contact_id: c.id.to_string(),
            contact_name: c.display_name.clone(),
            message_id: None,
            text: None,
            created_at: rfc3339(c.created_at),
        });
    }
    for m in state.store.search_messages(ws, q, limit).await? {
        hits.push(SearchHit {
            kind: "message".to_owned(),
            conversation_id: Some(m.conversation_id.to_string()),
            contact_id: m.contact_id.to_string(),
            contact_name: m.contact_name,
            message_id: Some(m.message_id.to_string()),
            text: Some(m.text),
            created_at: rfc3339(m.created_at),
        });
    }
    Ok(hits)
}

/// Finds contacts and messages in the workspace (agent).
#[utoipa::path(get, path = "/api/v1/search", tag = "search",
    params(SearchQuery),
    responses((status = 200, body = SearchResults), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn search(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    RawQuery(raw): RawQuery,
) -> Result<ApiJson<SearchResults>, ApiError> {
    access.require(Role::Agent)?;
    let query: SearchQuery = parse_query(raw.as_deref())?;
    let q = nonempty(&query.q)
        .filter(|q| q.chars().count() <= 200)
        .ok_or_else(|| invalid("invalid_query", "Search for 1 to 200 characters.", "q"))?;
    let limit = parse_limit(&query.limit)?;
    let data = run(&state, access.workspace_id, q, limit).await?;
    Ok(ApiJson(SearchResults {
        data,
        next_cursor: None,
    }))
}
