//! The agent inbox at `/`: three panes — the conversation list (filters, sort, unread counts,
//! keyset pages), the open conversation (messages of every kind with attachments, delivery
//! marks, notes and system events, the reply window, the composer with templates and canned
//! responses) and its details (assignee, status, snooze, labels). htmx swaps the panes;
//! `assets/inbox.js` adds live updates over `GET /api/v1/events/stream`, keyboard shortcuts
//! and the composer's helpers. Every form also works as a plain POST without JavaScript.
//!
//! Invariants: every action goes through the same function as its API endpoint
//! (`conversation_work`, `conversations::queue_reply`, `labels::create`,
//! `canned_responses::create`), so the page can do nothing the API would refuse; media is
//! served only to members of the workspace that owns it.

use crate::auth::csrf::WebForm;
use crate::auth::{SessionAuth, WebUser, WorkspaceAccess};
use crate::error::ApiError;
use crate::routes::conversation_work::{self, BulkAction};
use crate::routes::conversations::{ConversationQuery, SendRequest, TemplateBody, next_cursor};
use crate::routes::paging::nonempty;
use crate::routes::workspaces::path_id;
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use switchboard_core::channel::{MessageContent, OutboundContent};
use switchboard_core::window::{WindowState, free_text_window};
use switchboard_core::{
    ConversationId, LabelId, MediaObjectId, Role, TeamId, Timestamp, UserId, WorkspaceId,
};
use switchboard_store::conversations::{Conversation, ConversationFilter, ConversationStatus};
use switchboard_store::inbox::{Activity, ActivityKind, Label};
use switchboard_store::media::MediaObject;
use switchboard_store::messages::{Direction, Message, MessagePage, MessageStatus, StoredContent};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/inbox/list", get(list_partial))
        .route("/inbox/search", get(search_partial))
        .route("/inbox/conversations/{id}", get(conversation_partial))
        .route("/inbox/conversations/{id}/timeline", get(timeline_partial))
        .route("/inbox/conversations/{id}/reply", post(reply))
        .route(
            "/inbox/conversations/{id}/attachment",
            post(attachment).layer(axum::extract::DefaultBodyLimit::max(
                crate::routes::conversations::MAX_UPLOAD_BYTES,
            )),
        )
        .route("/inbox/conversations/{id}/note", post(note))
        .route("/inbox/conversations/{id}/assign", post(assign))
        .route("/inbox/conversations/{id}/team", post(team))
        .route("/inbox/conversations/{id}/status", post(status))
        .route("/inbox/conversations/{id}/unread", post(unread))
        .route("/inbox/conversations/{id}/labels", post(labels))
        .route("/inbox/labels", post(create_label))
        .route("/inbox/canned", post(create_canned))
        .route("/inbox/bulk", post(bulk))
        .route("/media/{id}", get(media))
}

/// The list's filters as the page's query string carries them (the API's names, plus the
/// open conversation `c`).
#[derive(serde::Deserialize, Default, Clone)]
struct InboxQuery {
    status: Option<String>,
    assignee: Option<String>,
    connection_id: Option<String>,
    label: Option<String>,
    team: Option<String>,
    unread: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    c: Option<String>,
}

impl InboxQuery {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        serde_urlencoded::from_str(raw.unwrap_or_default())
            .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))
    }

    /// Open conversations by default: what needs an answer.
    fn status(&self) -> Option<String> {
        match nonempty(&self.status) {
            None => Some("open".to_owned()),
            Some("all") => None,
            Some(s) => Some(s.to_owned()),
        }
    }

    fn filter(&self, me: UserId) -> Result<ConversationFilter, ApiError> {
        ConversationQuery {
            status: self.status(),
            channel: None,
            connection_id: self.connection_id.clone(),
            assignee: self.assignee.clone(),
            label: self.label.clone(),
            team: self.team.clone(),
            unread: self.unread.clone(),
            sort: self.sort.clone(),
            cursor: self.cursor.clone(),
            limit: Some("30".to_owned()),
        }
        .filter(Some(me))
    }

    /// The query string of these filters (without cursor and selection), for links.
    fn filters_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        pairs.push(("status", self.status().unwrap_or_else(|| "all".to_owned())));
        for (k, v) in [
            ("assignee", &self.assignee),
            ("connection_id", &self.connection_id),
            ("label", &self.label),
            ("team", &self.team),
            ("unread", &self.unread),
            ("sort", &self.sort),
        ] {
            if let Some(v) = nonempty(v) {
                pairs.push((k, v.to_owned()));
            }
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// Who is asking, in the active workspace: the session and its membership.
struct Agent {
    auth: SessionAuth,
    ws: WorkspaceId,
    user: UserId,
}

async fn agent(state: &AppState, auth: SessionAuth) -> Result<Agent, ApiError> {
    let nav = Nav::load(state, &auth).await?;
    let active = nav
        .active
        .ok_or(ApiError::Forbidden("Choose a workspace first."))?;
    if !active.role.at_least(Role::Agent) {
        return Err(ApiError::Forbidden("Agents only."));
    }
    let user = auth.user.id;
    Ok(Agent {
        auth,
        ws: active.id,
        user,
    })
}

// ---- view models -------------------------------------------------------------------------

struct LabelChip {
    id: String,
    name: String,
    colour: String,
}

impl From<&Label> for LabelChip {
    fn from(l: &Label) -> Self {
        Self {
            id: l.id.to_string(),
            name: l.name.clone(),
            colour: l.colour.clone(),
        }
    }
}

struct ListRow {
    id: String,
    name: String,
    channel: &'static str,
    status: &'static str,
    preview: String,
    when: String,
    unread: i64,
    waiting: Option<String>,
    assignee: Option<String>,
    labels: Vec<LabelChip>,
    selected: bool,
}

struct Choice {
    value: String,
    text: String,
}

struct TimelineItem {
    /// `inbound`, `outbound`, `echo`, `note` or `event`.
    class: &'static str,
    who: String,
    when: String,
    text: Option<String>,
    /// For messages: what else it carries (a template, a location, a reaction...).
    detail: Option<String>,
    media: Vec<MediaView>,
    /// Delivery mark: `queued`, `sent`, `delivered`, `read`, `failed`.
    status: Option<&'static str>,
    failure: Option<String>,
    deleted: bool,
    edited: bool,
    /// For sorting the merged timeline.
    at: Timestamp,
    order: String,
}

struct MediaView {
    url: String,
    /// `image`, `audio`, `video` or `file`.
    kind: &'static str,
    name: String,
    state: &'static str,
    error: Option<String>,
}

struct TemplateChoice {
    value: String,
    text: String,
    params: i64,
    body: String,
}

struct ConversationPane {
    id: String,
    contact_name: String,
    contact_id: String,
    /// The contact's email (an agent's, or the one a widget visitor gave before the chat).
    contact_email: Option<String>,
    channel: &'static str,
    connection_name: String,
    status: &'static str,
    assignee: String,
    snoozed_until: Option<String>,
    window: String,
    window_open: bool,
    is_whatsapp: bool,
    templates: Vec<TemplateChoice>,
    labels: Vec<LabelChip>,
    other_labels: Vec<LabelChip>,
    members: Vec<Choice>,
    /// The conversation's team id, or empty.
    team: String,
    teams: Vec<Choice>,
    canned: Vec<Choice>,
    timeline: Vec<TimelineItem>,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    nav: Option<Nav>,
    csrf: String,
    rows: Vec<ListRow>,
    more: Option<String>,
    filters: InboxQuery,
    statuses: Vec<Choice>,
    members: Vec<Choice>,
    teams: Vec<Choice>,
    connections: Vec<Choice>,
    all_labels: Vec<LabelChip>,
    pane: Option<ConversationPane>,
    cursor: i64,
    workspace_name: String,
}

#[derive(Template)]
#[template(path = "inbox_list.html")]
struct ListPartial {
    rows: Vec<ListRow>,
    more: Option<String>,
}

#[derive(Template)]
#[template(path = "inbox_conversation.html")]
struct PanePartial {
    pane: ConversationPane,
    csrf: String,
}

#[derive(Template)]
#[template(path = "inbox_timeline.html")]
struct TimelinePartial {
    pane: ConversationPane,
}

struct SearchRow {
    conversation_id: Option<String>,
    kind: String,
    name: String,
    text: Option<String>,
    when: String,
}

#[derive(Template)]
#[template(path = "inbox_search.html")]
struct SearchPartial {
    q: String,
    rows: Vec<SearchRow>,
}

// ---- helpers -----------------------------------------------------------------------------

fn short_time(at: Timestamp) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    at.format(&f).unwrap_or_default()
}

fn duration_words(d: time::Duration) -> String {
    let minutes = d.whole_minutes().max(0);
    let (h, m) = (minutes / 60, minutes % 60);
    if h >= 24 {
        format!("{} d {} h", h / 24, h % 24)
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min")
    }
}

async fn member_names(
    state: &AppState,
    ws: WorkspaceId,
) -> Result<HashMap<UserId, String>, ApiError> {
    Ok(state
        .store
        .members(ws)
        .await?
        .into_iter()
        .map(|m| (m.user_id, m.display_name))
        .collect())
}

fn member_choices(names: &HashMap<UserId, String>) -> Vec<Choice> {
    let mut list: Vec<Choice> = names
        .iter()
        .map(|(id, name)| Choice {
            value: id.to_string(),
            text: name.clone(),
        })
        .collect();
    list.sort_by(|a, b| a.text.cmp(&b.text));
    list
}

async fn team_choices(state: &AppState, ws: WorkspaceId) -> Result<Vec<Choice>, ApiError> {
    Ok(state
        .store
        .teams(ws)
        .await?
        .into_iter()
        .map(|t| Choice {
            value: t.id.to_string(),
            text: t.name,
        })
        .collect())
}

async fn list_rows(
    state: &AppState,
    agent: &Agent,
    query: &InboxQuery,
    names: &HashMap<UserId, String>,
    labels: &[Label],
) -> Result<(Vec<ListRow>, Option<String>), ApiError> {
    let filter = query.filter(agent.user)?;
    let page = state.store.conversation_page(agent.ws, &filter).await?;
    let on = state
        .store
        .labels_of(agent.ws, &page.iter().map(|c| c.id).collect::<Vec<_>>())
        .await?;
    let by_id: HashMap<LabelId, &Label> = labels.iter().map(|l| (l.id, l)).collect();
    let selected = nonempty(&query.c).map(str::to_owned);
    let now = state.clock.now();
    let rows = page
        .iter()
        .map(|c| ListRow {
            id: c.id.to_string(),
            name: c
                .contact_name
                .clone()
                .unwrap_or_else(|| "Unknown contact".to_owned()),
            channel: c.kind.as_str(),
            status: c.status.as_str(),
            preview: c
                .preview
                .clone()
                .unwrap_or_default()
                .chars()
                .take(90)
                .collect(),
            when: short_time(c.activity_at),
            unread: c.unread_count,
            waiting: c.waiting_since.map(|w| duration_words(now - w)),
            assignee: c.assignee_user_id.and_then(|u| names.get(&u).cloned()),
            labels: on
                .get(&c.id)
                .map(|ids| {
                    ids.iter()
                        .filter_map(|id| by_id.get(id).map(|l| LabelChip::from(*l)))
                        .collect()
                })
                .unwrap_or_default(),
            selected: selected.as_deref() == Some(&c.id.to_string()),
        })
        .collect();
    let more = next_cursor(&page, &filter).map(|cursor| {
        let mut q = query.filters_query();
        q.push_str("&cursor=");
        q.push_str(&cursor);
        q
    });
    Ok((rows, more))
}

fn content_detail(content: &StoredContent) -> Option<String> {
    match content {
        StoredContent::Received(c) => match c {
            MessageContent::Reaction { emoji, .. } => {
                Some(format!("Reacted {}", emoji.clone().unwrap_or_default()))
            }
            MessageContent::Location {
                latitude,
                longitude,
                ..
            } => Some(format!("Location {latitude}, {longitude}")),
            MessageContent::StoryMention { .. } => Some("Mentioned you in a story".to_owned()),
            MessageContent::Unsupported { platform_type } => {
                Some(format!("A {platform_type} message Switchboard cannot show"))
            }
            _ => None,
        },
        StoredContent::Sent(OutboundContent::Template {
            name, parameters, ..
        }) => Some(format!("Template {name} ({})", parameters.join(", "))),
        StoredContent::Sent(_) => None,
    }
}

fn media_kind(m: &MediaObject, content: &StoredContent) -> &'static str {
    let from_type = m.content_type.as_deref().unwrap_or_default();
    let declared = match content {
        StoredContent::Received(MessageContent::Media { kind, .. }) => serde_json::to_value(kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned)),
        _ => None,
    };
    if from_type.starts_with("image/")
        || declared.as_deref() == Some("image")
        || declared.as_deref() == Some("sticker")
    {
        "image"
    } else if from_type.starts_with("audio/") || declared.as_deref() == Some("audio") {
        "audio"
    } else if from_type.starts_with("video/") || declared.as_deref() == Some("video") {
        "video"
    } else {
        "file"
    }
}

fn message_item(
    m: &Message,
    media: &[&MediaObject],
    names: &HashMap<UserId, String>,
    contact: &str,
) -> TimelineItem {
    let (class, who) = match m.direction {
        Direction::Inbound => ("inbound", contact.to_owned()),
        Direction::Outbound => (
            "outbound",
            m.author_user_id
                .and_then(|u| names.get(&u).cloned())
                .unwrap_or_else(|| "Switchboard".to_owned()),
        ),
        Direction::Echo => ("echo", "Sent from elsewhere".to_owned()),
    };
    let filename = match &m.content {
        StoredContent::Received(MessageContent::Media { filename, .. }) => filename.clone(),
        _ => None,
    };
    TimelineItem {
        class,
        who,
        when: short_time(m.created_at),
        text: m.text.clone(),
        detail: content_detail(&m.content),
        media: media
            .iter()
            .map(|o| MediaView {
                url: format!("/media/{}", o.id),
                kind: media_kind(o, &m.content),
                name: filename.clone().unwrap_or_else(|| "attachment".to_owned()),
                state: o.state.as_str(),
                error: o.error.clone(),
            })
            .collect(),
        status: (m.direction != Direction::Inbound).then(|| m.status.as_str()),
        failure: (m.status == MessageStatus::Failed).then(|| {
            m.error_reason
                .clone()
                .or_else(|| m.error_code.clone())
                .unwrap_or_else(|| "The platform refused it.".to_owned())
        }),
        deleted: m.deleted_at.is_some(),
        edited: m.edited_at.is_some(),
        at: m.created_at,
        order: m.id.to_string(),
    }
}

fn activity_item(a: &Activity, names: &HashMap<UserId, String>) -> TimelineItem {
    let who = a
        .author_user_id
        .and_then(|u| names.get(&u).cloned())
        .unwrap_or_else(|| "Switchboard".to_owned());
    let body = a.body.clone().unwrap_or_default();
    let (class, text) = match a.kind {
        ActivityKind::Note => ("note", body),
        ActivityKind::Assigned => ("event", format!("{who} assigned it to {body}")),
        ActivityKind::Unassigned => ("event", format!("{who} unassigned it")),
        ActivityKind::Labelled => ("event", format!("{who} added the label {body}")),
        ActivityKind::Unlabelled => ("event", format!("{who} removed the label {body}")),
        ActivityKind::Opened => (
            "event",
            format!(
                "Opened ({})",
                if body.is_empty() { who.clone() } else { body }
            ),
        ),
        ActivityKind::Pending => ("event", format!("{who} marked it pending")),
        ActivityKind::Snoozed => ("event", format!("{who} snoozed it until {body}")),
        ActivityKind::Resolved => ("event", format!("{who} resolved it")),
        ActivityKind::Reopened => ("event", format!("{who} reopened it")),
        ActivityKind::TeamAssigned => ("event", format!("{who} moved it to the team {body}")),
        ActivityKind::TeamUnassigned => ("event", format!("{who} took it off the team {body}")),
    };
    TimelineItem {
        class,
        who,
        when: short_time(a.created_at),
        text: Some(text),
        detail: None,
        media: Vec::new(),
        status: None,
        failure: None,
        deleted: false,
        edited: false,
        at: a.created_at,
        order: a.id.to_string(),
    }
}

async fn pane(
    state: &AppState,
    agent: &Agent,
    id: ConversationId,
) -> Result<ConversationPane, ApiError> {
    let ws = agent.ws;
    let c: Conversation = state.store.conversation(ws, id).await?;
    let names = member_names(state, ws).await?;
    let contact = c
        .contact_name
        .clone()
        .unwrap_or_else(|| "Unknown contact".to_owned());
    let messages = state
        .store
        .messages(
            ws,
            id,
            MessagePage {
                before: None,
                limit: 100,
            },
        )
        .await?;
    let media = state.store.media_of_conversation(ws, id).await?;
    let mut by_message: HashMap<_, Vec<&MediaObject>> = HashMap::new();
    for m in &media {
        by_message.entry(m.message_id).or_default().push(m);
    }
    let activities = state.store.activities(ws, id).await?;
    let mut timeline: Vec<TimelineItem> = messages
        .iter()
        .map(|m| {
            message_item(
                m,
                by_message.get(&m.id).map(Vec::as_slice).unwrap_or_default(),
                &names,
                &contact,
            )
        })
        .collect();
    // Events older than the oldest message shown belong to earlier pages.
    let oldest = messages.first().map(|m| m.created_at);
    timeline.extend(
        activities
            .iter()
            .filter(|a| oldest.is_none_or(|o| a.created_at >= o) || messages.len() < 100)
            .map(|a| activity_item(a, &names)),
    );
    timeline.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.order.cmp(&b.order)));
    let now = state.clock.now();
    let (window, window_open) = match free_text_window(c.kind, c.last_inbound_at, now) {
        WindowState::Unlimited => ("This channel has no reply window.".to_owned(), true),
        WindowState::Open { remaining } => (
            format!("Reply window open: {} left.", duration_words(remaining)),
            true,
        ),
        WindowState::Closed => (
            if c.kind == switchboard_core::channel::ChannelKind::WhatsApp {
                "The 24-hour reply window is closed: send an approved template.".to_owned()
            } else {
                "The reply window is closed.".to_owned()
            },
            false,
        ),
    };
    let connection = state.store.connection(ws, c.connection_id).await?;
    let templates = if c.kind == switchboard_core::channel::ChannelKind::WhatsApp {
        state
            .store
            .templates(ws, c.connection_id)
            .await?
            .into_iter()
            .filter(|t| t.is_approved())
            .map(|t| TemplateChoice {
                value: format!("{}|{}", t.spec.name, t.spec.language),
                text: format!("{} ({})", t.spec.name, t.spec.language),
                params: t.spec.parameter_count,
                body: t.spec.body.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let all_labels = state.store.labels(ws).await?;
    let on = state.store.labels_of(ws, &[id]).await?;
    let on = on.get(&id).cloned().unwrap_or_default();
    let (labels, other_labels): (Vec<&Label>, Vec<&Label>) =
        all_labels.iter().partition(|l| on.contains(&l.id));
    let canned = state
        .store
        .canned_responses(ws)
        .await?
        .iter()
        .map(|r| Choice {
            value: r.id.to_string(),
            text: format!(
                "/{} — {}",
                r.shortcut,
                r.body.chars().take(40).collect::<String>()
            ),
        })
        .collect();
    let contact_email = state.store.contact(ws, c.contact_id).await?.email;
    Ok(ConversationPane {
        id: id.to_string(),
        contact_name: contact,
        contact_id: c.contact_id.to_string(),
        contact_email,
        channel: c.kind.as_str(),
        connection_name: connection.name,
        status: c.status.as_str(),
        assignee: c
            .assignee_user_id
            .map(|u| u.to_string())
            .unwrap_or_default(),
        snoozed_until: c.snoozed_until.map(short_time),
        window,
        window_open,
        is_whatsapp: c.kind == switchboard_core::channel::ChannelKind::WhatsApp,
        templates,
        labels: labels.into_iter().map(LabelChip::from).collect(),
        other_labels: other_labels.into_iter().map(LabelChip::from).collect(),
        members: member_choices(&names),
        team: c.team_id.map(|t| t.to_string()).unwrap_or_default(),
        teams: team_choices(state, ws).await?,
        canned,
        timeline,
        error: None,
        notice: None,
    })
}

/// Opening a conversation reads it.
async fn open_pane(
    state: &AppState,
    agent: &Agent,
    id: ConversationId,
) -> Result<ConversationPane, ApiError> {
    let c = state.store.conversation(agent.ws, id).await?;
    if c.unread_count > 0 {
        conversation_work::set_read(state, agent.ws, id, true).await?;
    }
    pane(state, agent, id).await
}

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// The answer to an action on a conversation: the refreshed pane for htmx (with the error,
/// if the action was refused), else back to the page.
async fn after_action(
    state: &AppState,
    agent: &Agent,
    headers: &HeaderMap,
    id: ConversationId,
    outcome: Result<Option<String>, ApiError>,
) -> Result<Response, WebError> {
    let (notice, error) = match outcome {
        Ok(notice) => (notice, None),
        Err(ApiError::Internal(detail)) => return Err(WebError(ApiError::Internal(detail))),
        Err(e) => (None, Some(e.to_string())),
    };
    if !is_htmx(headers) {
        if let Some(e) = error {
            return Err(WebError(ApiError::bad_request("refused", e)));
        }
        return Ok(Redirect::to(&format!("/?c={id}")).into_response());
    }
    let mut pane = pane(state, agent, id).await?;
    pane.error = error;
    pane.notice = notice;
    Ok(render(&PanePartial {
        pane,
        csrf: crate::auth::csrf::token_for_session(state, agent.auth.session.id),
    }))
}

// ---- pages -------------------------------------------------------------------------------

/// The inbox page (the signed-in home of a member of a workspace).
pub(crate) async fn page(
    state: &AppState,
    auth: SessionAuth,
    nav: Nav,
    raw: Option<&str>,
) -> Result<Response, WebError> {
    let query = InboxQuery::parse(raw)?;
    let workspace_name = nav
        .active
        .as_ref()
        .map(|w| w.name.clone())
        .unwrap_or_default();
    let agent = agent(state, auth).await?;
    let names = member_names(state, agent.ws).await?;
    let labels = state.store.labels(agent.ws).await?;
    let (rows, more) = list_rows(state, &agent, &query, &names, &labels).await?;
    let selected = nonempty(&query.c)
        .map(|c| c.parse::<ConversationId>().map_err(|_| ApiError::NotFound))
        .transpose()?;
    let pane = match selected {
        Some(id) => Some(open_pane(state, &agent, id).await?),
        None => None,
    };
    let connections = state
        .store
        .connections(agent.ws)
        .await?
        .into_iter()
        .map(|c| Choice {
            value: c.id.to_string(),
            text: format!("{} ({})", c.name, c.kind.as_str()),
        })
        .collect();
    let statuses = ["open", "pending", "snoozed", "resolved", "all"]
        .iter()
        .map(|s| Choice {
            value: (*s).to_owned(),
            text: (*s).to_owned(),
        })
        .collect();
    let cursor = state.store.latest_event_seq(agent.ws).await?;
    Ok(render(&InboxPage {
        csrf: nav.csrf_token.clone(),
        nav: Some(nav),
        rows,
        more,
        filters: query,
        statuses,
        members: member_choices(&names),
        teams: team_choices(state, agent.ws).await?,
        connections,
        all_labels: labels.iter().map(LabelChip::from).collect(),
        pane,
        cursor,
        workspace_name,
    }))
}

async fn list_partial(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let query = InboxQuery::parse(raw.as_deref())?;
    let agent = agent(&state, auth).await?;
    let names = member_names(&state, agent.ws).await?;
    let labels = state.store.labels(agent.ws).await?;
    let (rows, more) = list_rows(&state, &agent, &query, &names, &labels).await?;
    Ok(render(&ListPartial { rows, more }))
}

async fn conversation_partial(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id: ConversationId = path_id(&id)?;
    if !is_htmx(&headers) {
        return Ok(Redirect::to(&format!("/?c={id}")).into_response());
    }
    let csrf = crate::auth::csrf::token_for_session(&state, auth.session.id);
    let agent = agent(&state, auth).await?;
    let pane = open_pane(&state, &agent, id).await?;
    Ok(render(&PanePartial { pane, csrf }))
}

async fn timeline_partial(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id: ConversationId = path_id(&id)?;
    let agent = agent(&state, auth).await?;
    // The agent is looking at it: what arrives is read.
    let pane = open_pane(&state, &agent, id).await?;
    Ok(render(&TimelinePartial { pane }))
}

#[derive(serde::Deserialize)]
struct SearchForm {
    q: Option<String>,
}

async fn search_partial(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let form: SearchForm = serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    let agent = agent(&state, auth).await?;
    let q = nonempty(&form.q)
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect::<String>();
    let hits = if q.is_empty() {
        Vec::new()
    } else {
        crate::routes::search::run(&state, agent.ws, &q, 50).await?
    };
    let rows = hits
        .into_iter()
        .map(|h| SearchRow {
            conversation_id: h.conversation_id,
            kind: h.kind,
            name: h
                .contact_name
                .unwrap_or_else(|| "Unknown contact".to_owned()),
            text: h.text,
            when: h
                .created_at
                .chars()
                .take(16)
                .collect::<String>()
                .replace('T', " "),
        })
        .collect();
    Ok(render(&SearchPartial { q, rows }))
}

// ---- actions -----------------------------------------------------------------------------

#[derive(serde::Deserialize)]
struct ReplyForm {
    text: Option<String>,
    /// `name|language` of a template.
    template: Option<String>,
    param_1: Option<String>,
    param_2: Option<String>,
    param_3: Option<String>,
    param_4: Option<String>,
    param_5: Option<String>,
    param_6: Option<String>,
    param_7: Option<String>,
    param_8: Option<String>,
    #[serde(default)]
    human_agent_tag: Option<String>,
}

async fn reply(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<ReplyForm>,
) -> Result<Response, WebError> {
    let id: ConversationId = path_id(&id)?;
    let agent = agent(&state, auth).await?;
    let body = match nonempty(&form.template) {
        Some(t) => {
            let (name, language) = t.split_once('|').unwrap_or((t, ""));
            let parameters = [
                &form.param_1,
                &form.param_2,
                &form.param_3,
                &form.param_4,
                &form.param_5,
                &form.param_6,
                &form.param_7,
                &form.param_8,
            ]
            .into_iter()
            .filter_map(|p| nonempty(p).map(str::to_owned))
            .collect();
            SendRequest {
                text: None,
                media: None,
                template: Some(TemplateBody {
                    name: name.to_owned(),
                    language: language.to_owned(),
                    parameters,
                }),
                reply_to: None,
                human_agent_tag: false,
            }
        }
        None => SendRequest {
            text: Some(form.text.unwrap_or_default()),
            media: None,
            template: None,
            reply_to: None,
            human_agent_tag: form.human_agent_tag.is_some(),
        },
    };
    let outcome = crate::routes::conversations::queue_reply(
        &state,
        agent.ws,
        Some(agent.user),
        id,
        &body,
        None,
        None,
    )
    .await
    .map(|_| None);
    after_action(&state, &agent, &headers, id, outcome).await
}

#[derive(serde::Deserialize, Default)]
struct AttachmentQuery {
    filename: Option<String>,
    caption: Option<String>,
}

/// The composer's "Attach a file" (`assets/inbox.js` posts the file itself as the body, with
/// the page's CSRF token in `X-CSRF-Token`): the API's path for a file reply. Answers 204, or
/// the API's JSON error for the script to show.
async fn attachment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    WebUser(auth): WebUser,
    body: axum::body::Bytes,
) -> Result<axum::http::StatusCode, ApiError> {
    let presented = headers
        .get(crate::auth::csrf::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !crate::auth::csrf::verify_session_token(&state, auth.session.id, presented) {
        return Err(ApiError::Forbidden(
            "The page is out of date; reload it and try again.",
        ));
    }
    let id: ConversationId = path_id(&id)?;
    let query: AttachmentQuery = crate::routes::paging::parse_query(raw.as_deref())?;
    let agent = agent(&state, auth).await?;
    crate::routes::conversations::queue_attachment(
        &state,
        agent.ws,
        Some(agent.user),
        id,
        crate::routes::conversations::AttachmentReply {
            content_type: headers
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            filename: query.filename.as_deref(),
            caption: nonempty(&query.caption).map(str::to_owned),
            reply_to: None,
            bytes: body,
        },
        None,
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
struct NoteForm {
    note: String,
}

async fn note(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<NoteForm>,
) -> Result<Response, WebError> {
    let id: ConversationId = path_id(&id)?;
    let agent = agent(&state, auth).await?;
    let outcome =
        conversation_work::write_note(&state, agent.ws, Some(agent.user), id, &form.note, None)
            .await
            .map(|_| None);
    after_action(&state, &agent, &headers, id, outcome).await
}

#[derive(serde::Deserialize)]
struct AssignForm {
    assignee: String,
}

async fn assign(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<AssignForm>,
) -> Result<Response, WebError> {
    let id: ConversationId = path_id(&id)?;
    let agent = agent(&state, auth).await?;
    let assignee = match form.assignee.trim() {
        "" => None,
        "me" => Some(agent.user),
        other => Some(other.parse::<UserId>().map_err(|_| ApiError::NotFound)?),
    };
    let outcome = conversation_work::assign(&state, agent.ws, Some(agent.user), id, assignee)
        .await
        .map(|()| Some("Assignment saved.".to_owned()));
    after_action(&state, &agent, &headers, id, outcome).await
}

#[derive(serde::Deserialize)]
struct TeamForm {
    team_id: String,
}

async fn team(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<TeamForm>,
) -> Result<Response, WebError> {
    let id: ConversationId = path_id(&id)?;
    let agent = agent(&state, auth).await?;
    let team = match form.team_id.trim() {
        "" => None,
        other => Some(other.parse::<TeamId>().map_err(|_| ApiError::NotFound)?),
    };
    let outcome =
        crate::routes::teams::assign_team(&state, agent.ws, Some(agent.user), id, team, None)
            .await
            .map(|()| Some("Team saved.".to_owned()));
    after_action(&state, &agent, &headers, id, outcome).await
}

#[derive(serde::Deserialize)]
struct StatusForm {
    status: String,
    /// `datetime-local` (UTC) for a snooze.
    snoozed_until: Option<String>,
}

fn parse_local(raw: &str) -> Result<Timestamp, ApiError> {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    time::PrimitiveDateTime::parse(raw.trim(), &f)
        .map(|t| t.assume_utc())
        .or_else(|_| conversation_work::parse_time(raw, "snoozed_until"))
        .map_err(|_| {
            crate::routes::conversations::invalid(
                "invalid_time",
                "Give the time to snooze until.",
                "snoozed_until",
            )
        })
}

async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<StatusForm>,
) -> Result<Response, WebError> {
    let id: ConversationId = path_id(&id)?;
    let agent = agent(&state, auth).await?;
    let outcome = async {
        let status = ConversationStatus::parse(form.status.trim())
            .ok_or_else(|| ApiError::bad_request("invalid_status", "Unknown status."))?;
        let until = match nonempty(&form.snoozed_until) {
            Some(raw) if status == ConversationStatus::Snoozed => Some(parse_local(raw)?),
            _ => None,
        };
        conversation_work::change_status(&state, agent.ws, Some(agent.user), id, status, until)
            .await?;
        Ok(Some(format!("Marked {}.", status.as_str())))
    }
    .await;
    after_action(&state, &agent, &headers, id, outcome).await
}

#[derive(serde::Deserialize)]
struct EmptyForm {}

async fn unread(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    WebForm {
        auth,
        form: EmptyForm {},
    }: WebForm<EmptyForm>,
) -> Result<Response, WebError> {
    let id: ConversationId = path_id(&id)?;
    let agent = agent(&state, auth).await?;
    let outcome = conversation_work::set_read(&state, agent.ws, id, false)
        .await
        .map(|()| Some("Marked unread.".to_owned()));
    after_action(&state, &agent, &headers, id, outcome).await
}

#[derive(serde::Deserialize)]
struct LabelForm {
    label_id: String,
    /// `add` or `remove`.
    action: String,
}

async fn labels(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<LabelForm>,
) -> Result<Response, WebError> {
    let id: ConversationId = path_id(&id)?;
    let agent = agent(&state, auth).await?;
    let label: LabelId = path_id(&form.label_id)?;
    let outcome = conversation_work::label(
        &state,
        agent.ws,
        Some(agent.user),
        id,
        label,
        form.action != "remove",
    )
    .await
    .map(|()| None);
    after_action(&state, &agent, &headers, id, outcome).await
}

#[derive(serde::Deserialize)]
struct NewLabelForm {
    name: String,
    colour: Option<String>,
    /// The conversation to put it on right away.
    conversation_id: String,
}

async fn create_label(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebForm { auth, form }: WebForm<NewLabelForm>,
) -> Result<Response, WebError> {
    let id: ConversationId = path_id(&form.conversation_id)?;
    let agent = agent(&state, auth).await?;
    let outcome = async {
        let label = crate::routes::labels::create(
            &state,
            agent.ws,
            &form.name,
            form.colour.as_deref(),
            None,
        )
        .await?;
        conversation_work::label(&state, agent.ws, Some(agent.user), id, label.id, true).await?;
        Ok(Some(format!("Label {} created.", label.name)))
    }
    .await;
    after_action(&state, &agent, &headers, id, outcome).await
}

#[derive(serde::Deserialize)]
struct NewCannedForm {
    shortcut: String,
    body: String,
    conversation_id: String,
}

async fn create_canned(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebForm { auth, form }: WebForm<NewCannedForm>,
) -> Result<Response, WebError> {
    let id: ConversationId = path_id(&form.conversation_id)?;
    let agent = agent(&state, auth).await?;
    let outcome = crate::routes::canned_responses::create(
        &state,
        agent.ws,
        Some(agent.user),
        &form.shortcut,
        &form.body,
        None,
    )
    .await
    .map(|c| Some(format!("Canned response /{} saved.", c.shortcut)));
    after_action(&state, &agent, &headers, id, outcome).await
}

/// Bulk actions on the conversations ticked in the list (`c` repeated).
async fn bulk(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebForm { auth, form }: WebForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let agent = agent(&state, auth).await?;
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let ids = form
        .iter()
        .filter(|(k, _)| k == "c")
        .filter_map(|(_, v)| v.parse::<ConversationId>().ok())
        .take(200)
        .collect::<Vec<_>>();
    let assignee = match get("assignee") {
        Some("me") => Some(agent.user.to_string()),
        other => other.map(str::to_owned),
    };
    let action: BulkAction = conversation_work::parse_bulk_action(
        get("action").unwrap_or_default(),
        assignee.as_deref(),
        get("team_id"),
    )?;
    conversation_work::apply_bulk(&state, agent.ws, Some(agent.user), &ids, action).await?;
    if !is_htmx(&headers) {
        return Ok(Redirect::to("/").into_response());
    }
    let query = InboxQuery::parse(get("filters"))?;
    let names = member_names(&state, agent.ws).await?;
    let labels = state.store.labels(agent.ws).await?;
    let (rows, more) = list_rows(&state, &agent, &query, &names, &labels).await?;
    Ok(render(&ListPartial { rows, more }))
}

/// An attachment, to members of the workspace that owns it. Served as a download unless it
/// is an image, audio or video (never HTML: the sniffing guard and CSP stay on).
async fn media(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    access.require(Role::Agent)?;
    let id: MediaObjectId = path_id(&id)?;
    let object = state.store.media_object(access.workspace_id, id).await?;
    Ok(crate::attachments::file_response(&state, access.workspace_id, &object).await?)
}
