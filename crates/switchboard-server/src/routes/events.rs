//! Live updates: the workspace's event log as a page (`GET /api/v1/events`) and as a
//! Server-Sent Events stream (`GET /api/v1/events/stream`, with the session cookie from the
//! inbox page or a bearer token).
//!
//! Invariants: a stream resumes after the cursor the client names (`Last-Event-ID`, or
//! `?after=`), so a reconnecting browser gets every event it missed, in order, once; a stream
//! subscribes to wake-ups before it first reads the log, so a commit between the read and
//! the wait still wakes it; and it re-reads the log every few seconds anyway, so a lost
//! wake-up (a dropped `LISTEN` connection) delays an event, never loses it.

use crate::auth::WorkspaceAccess;
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::conversations::invalid;
use crate::routes::paging::{nonempty, parse_limit, parse_query};
use crate::routes::workspaces::rfc3339;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use switchboard_core::{Role, WorkspaceId};
use switchboard_store::Store;
use switchboard_store::events::Event;
use tokio::sync::broadcast;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(stream_events))
}

/// How long a quiet stream waits before it reads the log again on its own.
const RECHECK: Duration = Duration::from_secs(5);

#[derive(serde::Serialize, ToSchema)]
pub struct EventView {
    /// The event's number in the workspace: pass the last one seen as `after` (or
    /// `Last-Event-ID`) to resume.
    pub seq: i64,
    /// `message.created`, `message.updated`, `conversation.updated`, `activity.created`,
    /// `label.changed` or `team.changed`.
    pub kind: String,
    pub conversation_id: Option<String>,
    /// Ids and states (`message_id`, `status`, `direction`, ...), never message text.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> Self {
        Self {
            seq: e.seq,
            kind: e.kind.clone(),
            conversation_id: e.conversation_id.map(|c| c.to_string()),
            payload: e.payload.clone(),
            created_at: rfc3339(e.created_at),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct EventList {
    /// Oldest first.
    pub data: Vec<EventView>,
    /// The `after` of the next page: the last event's number (or the one given, when there
    /// is nothing new).
    pub next_cursor: Option<String>,
}

#[derive(serde::Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Events after this number; without it, the page starts at the oldest event kept, and
    /// the stream with the next event to happen.
    pub after: Option<String>,
    /// 1 to 200; 50 by default (the page only).
    pub limit: Option<String>,
}

fn parse_after(raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    raw.map(|a| {
        a.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                invalid(
                    "invalid_cursor",
                    "after is the number of an event (0 for the start).",
                    "after",
                )
            })
    })
    .transpose()
}

/// The workspace's events after `after`, oldest first (agent).
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(EventQuery),
    responses((status = 200, body = EventList), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_events(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    RawQuery(raw): RawQuery,
) -> Result<ApiJson<EventList>, ApiError> {
    access.require(Role::Agent)?;
    let query: EventQuery = parse_query(raw.as_deref())?;
    let after = parse_after(nonempty(&query.after))?.unwrap_or(0);
    let limit = parse_limit(&query.limit)?;
    let events = state
        .store
        .events_after(access.workspace_id, after, limit)
        .await?;
    let last = events.last().map_or(after, |e| e.seq);
    Ok(ApiJson(EventList {
        data: events.iter().map(EventView::from).collect(),
        next_cursor: Some(last.to_string()),
    }))
}

/// The workspace's events as Server-Sent Events (agent): each with `id` (its number),
/// `event` (its kind) and `data` (the event as JSON). Resumes after `Last-Event-ID` or
/// `?after=`.
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events",
    params(EventQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    responses((status = 200, content_type = "text/event-stream", body = String,
        description = "An endless stream of events"),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn stream_events(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    access.require(Role::Agent)?;
    let query: EventQuery = parse_query(raw.as_deref())?;
    let from_header = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty());
    let after = match parse_after(from_header)? {
        Some(n) => Some(n),
        None => parse_after(nonempty(&query.after))?,
    };
    // Subscribe before the first read: a commit after the read still wakes this stream.
    let wake = state.store.subscribe_events();
    let ws = access.workspace_id;
    let cursor = match after {
        Some(n) => n,
        None => state.store.latest_event_seq(ws).await?,
    };
    let stream = EventStream {
        store: state.store.clone(),
        ws,
        cursor,
        wake,
        buffer: VecDeque::new(),
    };
    Ok(
        Sse::new(futures_util::stream::unfold(stream, EventStream::next))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    )
}

struct EventStream {
    store: Store,
    ws: WorkspaceId,
    cursor: i64,
    wake: broadcast::Receiver<WorkspaceId>,
    buffer: VecDeque<Event>,
}

impl EventStream {
    async fn next(mut self) -> Option<(Result<SseEvent, Infallible>, Self)> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.cursor = event.seq;
                let data = serde_json::to_string(&EventView::from(&event)).unwrap_or_default();
                let sse = SseEvent::default()
                    .id(event.seq.to_string())
                    .event(event.kind.clone())
                    .data(data);
                return Some((Ok(sse), self));
            }
            match self.store.events_after(self.ws, self.cursor, 200).await {
                Ok(events) if !events.is_empty() => {
                    self.buffer.extend(events);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    // The client reconnects with its Last-Event-ID and misses nothing.
                    tracing::warn!(error = %e, "event stream cannot read the log");
                    return None;
                }
            }
            let ws = self.ws;
            let wait = async {
                loop {
                    match self.wake.recv().await {
                        Ok(w) if w == ws => return,
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => return,
                        Err(broadcast::error::RecvError::Closed) => {
                            std::future::pending::<()>().await;
                        }
                    }
                }
            };
            let _ = tokio::time::timeout(RECHECK, wait).await;
        }
    }
}
