//! Conversations and their messages over the API: the inbox listing, one conversation, its
//! messages, and an agent's reply (`POST /api/v1/conversations/{id}/messages`).
//!
//! Invariant: a reply is checked completely — content, reply window, template catalogue,
//! opt-in, the connection's state — before anything is stored; then the message and its
//! `send_message` job are written in one transaction, so a stored reply is always sent (or
//! fails visibly) and a refused one leaves no trace.

use crate::auth::WorkspaceAccess;
use crate::error::{ApiError, ErrorBody};
use crate::jobs::send;
use crate::json::ApiJson;
use crate::routes::paging::{invalid_cursor, nonempty, parse_limit, parse_query};
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use secrecy::SecretString;
use switchboard_channels::SendTarget;
use switchboard_core::channel::{
    ChannelKind, MediaKind, MessageTag, OutboundContent, OutboundMessage,
};
use switchboard_core::clock::{from_millis, to_millis};
use switchboard_core::window::{ReplyAttempt, WindowDecision, WindowRules, check_reply};
use switchboard_core::{ConnectionId, ConversationId, LabelId, MessageId, Role, ValidationError};
use switchboard_store::connections::ConnectionStatus;
use switchboard_store::consent::ConsentKind;
use switchboard_store::conversations::{
    AssigneeFilter, Conversation, ConversationFilter, ConversationSort, ConversationStatus,
    TeamFilter,
};
use switchboard_store::messages::{Message, MessagePage, NewOutbound};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_conversations))
        .routes(routes!(get_conversation))
        .routes(routes!(list_messages, send_message))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(send_attachment))
                .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
}

/// The most an attachment request may carry; each channel's own limit (and the server's
/// `media_max_bytes`) is checked below it, in `attachments::Upload::parse`.
pub(crate) const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024 + 1024;

/// Texts longer than the platform carries are refused here rather than by the platform:
/// WhatsApp and Telegram take 4096 characters, Messenger and Instagram 2000.
fn text_limit(kind: ChannelKind) -> usize {
    match kind {
        ChannelKind::Messenger | ChannelKind::Instagram => 2000,
        _ => 4096,
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct ConversationView {
    pub id: String,
    pub contact_id: String,
    /// The channel connection it happens on.
    pub connection_id: String,
    /// `whatsapp`, `messenger`, `instagram`, `tiktok`, `telegram` or `widget`.
    pub channel: String,
    /// `open`, `pending`, `snoozed` or `resolved`.
    pub status: String,
    pub assignee_user_id: Option<String>,
    /// The team it is assigned to.
    pub team_id: Option<String>,
    #[schema(format = DateTime)]
    pub last_message_at: Option<String>,
    /// When the customer last wrote: the start of the reply window.
    #[schema(format = DateTime)]
    pub last_inbound_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(format = DateTime)]
    pub resolved_at: Option<String>,
    /// The last message, or the creation when there is none (the listing's order).
    #[schema(format = DateTime)]
    pub activity_at: String,
    /// When the customer started waiting for an answer; absent while nobody waits.
    #[schema(format = DateTime)]
    pub waiting_since: Option<String>,
    /// When a snoozed conversation opens again.
    #[schema(format = DateTime)]
    pub snoozed_until: Option<String>,
    /// Customer messages nobody in the workspace has read yet.
    pub unread_count: i64,
    pub contact_name: Option<String>,
    /// The last message's words.
    pub preview: Option<String>,
    /// The ids of the labels on it.
    pub label_ids: Vec<String>,
}

impl ConversationView {
    pub(crate) fn with_labels(c: &Conversation, labels: Option<&Vec<LabelId>>) -> Self {
        let mut view = Self::from(c);
        view.label_ids = labels
            .map(|l| l.iter().map(|id| id.to_string()).collect())
            .unwrap_or_default();
        view
    }
}

impl From<&Conversation> for ConversationView {
    fn from(c: &Conversation) -> Self {
        Self {
            id: c.id.to_string(),
            contact_id: c.contact_id.to_string(),
            connection_id: c.connection_id.to_string(),
            channel: c.kind.as_str().to_owned(),
            status: c.status.as_str().to_owned(),
            assignee_user_id: c.assignee_user_id.map(|u| u.to_string()),
            team_id: c.team_id.map(|t| t.to_string()),
            last_message_at: c.last_message_at.map(rfc3339),
            last_inbound_at: c.last_inbound_at.map(rfc3339),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            resolved_at: c.resolved_at.map(rfc3339),
            activity_at: rfc3339(c.activity_at),
            waiting_since: c.waiting_since.map(rfc3339),
            snoozed_until: c.snoozed_until.map(rfc3339),
            unread_count: c.unread_count,
            contact_name: c.contact_name.clone(),
            preview: c.preview.clone(),
            label_ids: Vec::new(),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct ConversationList {
    pub data: Vec<ConversationView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub conversation_id: String,
    /// `inbound` (from the customer), `outbound` (sent through Switchboard) or `echo`
    /// (sent by the business outside Switchboard).
    pub direction: String,
    /// `received`, `queued`, `sent`, `delivered`, `read` or `failed`.
    pub status: String,
    /// What the message carries, as the platform sent it or as it was queued (`type`:
    /// `text`, `media`, `template`, ...).
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
    /// Its words, when it has any.
    pub text: Option<String>,
    /// The platform's id for it, once it has one.
    pub external_id: Option<String>,
    /// The platform's error code when it failed.
    pub error_code: Option<String>,
    /// Why it failed, in words an agent can act on.
    pub error_reason: Option<String>,
    pub author_user_id: Option<String>,
    pub reply_to_external_id: Option<String>,
    #[schema(format = DateTime)]
    pub platform_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(format = DateTime)]
    pub edited_at: Option<String>,
    #[schema(format = DateTime)]
    pub deleted_at: Option<String>,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id.to_string(),
            conversation_id: m.conversation_id.to_string(),
            direction: m.direction.as_str().to_owned(),
            status: m.status.as_str().to_owned(),
            content: serde_json::to_value(&m.content).unwrap_or_default(),
            text: m.text.clone(),
            external_id: m.external_id.clone(),
            error_code: m.error_code.clone(),
            error_reason: m.error_reason.clone(),
            author_user_id: m.author_user_id.map(|u| u.to_string()),
            reply_to_external_id: m.reply_to_external_id.clone(),
            platform_at: m.platform_at.map(rfc3339),
            created_at: rfc3339(m.created_at),
            updated_at: rfc3339(m.updated_at),
            edited_at: m.edited_at.map(rfc3339),
            deleted_at: m.deleted_at.map(rfc3339),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct MessageList {
    /// Oldest first.
    pub data: Vec<MessageView>,
    /// Pass as `cursor` for the page of older messages; absent on the first page.
    pub next_cursor: Option<String>,
}

#[derive(serde::Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// `open`, `pending`, `snoozed` or `resolved`.
    pub status: Option<String>,
    /// Only this channel kind (`whatsapp`, `telegram`, ...).
    pub channel: Option<String>,
    /// Only this channel connection.
    pub connection_id: Option<String>,
    /// `me` (the caller; sessions only), `unassigned`, or a member's user id.
    pub assignee: Option<String>,
    /// Only conversations with this label (its id).
    pub label: Option<String>,
    /// `mine` (the teams the caller is in; sessions only), `none` (no team), or a team's id.
    pub team: Option<String>,
    /// `true`: only conversations with unread customer messages.
    pub unread: Option<String>,
    /// `activity` (newest first, the default) or `waiting` (the longest-waiting customer
    /// first; only conversations whose customer waits for an answer).
    pub sort: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 200; 50 by default.
    pub limit: Option<String>,
}

impl ConversationQuery {
    pub(crate) fn filter(
        &self,
        me: Option<switchboard_core::UserId>,
    ) -> Result<ConversationFilter, ApiError> {
        let assignee = match nonempty(&self.assignee) {
            None | Some("all") => None,
            Some("unassigned") => Some(AssigneeFilter::Unassigned),
            Some("me") => Some(AssigneeFilter::User(me.ok_or_else(|| {
                invalid(
                    "invalid_assignee",
                    "An API token is no member: name the assignee by user id.",
                    "assignee",
                )
            })?)),
            Some(other) => Some(AssigneeFilter::User(other.parse().map_err(|_| {
                invalid(
                    "invalid_assignee",
                    "The assignee is me, unassigned, all or a member's user id.",
                    "assignee",
                )
            })?)),
        };
        let label = nonempty(&self.label)
            .map(|l| {
                l.parse::<LabelId>()
                    .map_err(|_| invalid("invalid_label", "The label is a label's id.", "label"))
            })
            .transpose()?;
        let team = match nonempty(&self.team) {
            None | Some("all") => None,
            Some("none") => Some(TeamFilter::None),
            Some("mine") => Some(TeamFilter::MemberOf(me.ok_or_else(|| {
                invalid(
                    "invalid_team",
                    "An API token is in no team: name the team by id.",
                    "team",
                )
            })?)),
            Some(other) => Some(TeamFilter::Team(other.parse().map_err(|_| {
                invalid(
                    "invalid_team",
                    "The team is mine, none, all or a team's id.",
                    "team",
                )
            })?)),
        };
        let unread = match nonempty(&self.unread) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(invalid(
                    "invalid_unread",
                    "unread is true or false.",
                    "unread",
                ));
            }
        };
        let sort = match nonempty(&self.sort) {
            None | Some("activity") => ConversationSort::Activity,
            Some("waiting") => ConversationSort::Waiting,
            Some(_) => {
                return Err(invalid(
                    "invalid_sort",
                    "The sort is activity or waiting.",
                    "sort",
                ));
            }
        };
        let status = nonempty(&self.status)
            .map(|s| {
                ConversationStatus::parse(s).ok_or_else(|| {
                    ValidationError::new(
                        "invalid_status",
                        "The status is open, pending, snoozed or resolved.",
                    )
                    .on("status")
                })
            })
            .transpose()?;
        let kind = nonempty(&self.channel)
            .map(|c| ChannelKind::parse(c).map_err(|e| e.on("channel")))
            .transpose()?;
        let connection = nonempty(&self.connection_id)
            .map(|c| {
                c.parse::<ConnectionId>().map_err(|_| {
                    ValidationError::new("invalid_connection", "The connection_id is an id.")
                        .on("connection_id")
                })
            })
            .transpose()?;
        let after = nonempty(&self.cursor)
            .map(|c| {
                let (at, id) = c.split_once('_').ok_or_else(invalid_cursor)?;
                let at: i64 = at.parse().map_err(|_| invalid_cursor())?;
                let id: ConversationId = id.parse().map_err(|_| invalid_cursor())?;
                Ok::<_, ApiError>((from_millis(at), id))
            })
            .transpose()?;
        Ok(ConversationFilter {
            status,
            connection,
            kind,
            assignee,
            label,
            team,
            unread,
            sort,
            after,
            limit: parse_limit(&self.limit)?,
        })
    }
}

/// The cursor of the page after `page`, when `page` is full.
pub(crate) fn next_cursor(page: &[Conversation], filter: &ConversationFilter) -> Option<String> {
    (page.len() as i64 == filter.limit)
        .then(|| page.last())
        .flatten()
        .map(|c| format!("{}_{}", to_millis(c.sort_key(filter.sort)), c.id))
}

/// The workspace's conversations, newest activity first, or longest waiting first (agent).
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations",
    params(ConversationQuery),
    responses((status = 200, body = ConversationList), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_conversations(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    RawQuery(raw): RawQuery,
) -> Result<ApiJson<ConversationList>, ApiError> {
    access.require(Role::Agent)?;
    let query: ConversationQuery = parse_query(raw.as_deref())?;
    let filter = query.filter(access.actor.user_id())?;
    let page = state
        .store
        .conversation_page(access.workspace_id, &filter)
        .await?;
    let next_cursor = next_cursor(&page, &filter);
    let labels = state
        .store
        .labels_of(
            access.workspace_id,
            &page.iter().map(|c| c.id).collect::<Vec<_>>(),
        )
        .await?;
    Ok(ApiJson(ConversationList {
        data: page
            .iter()
            .map(|c| ConversationView::with_labels(c, labels.get(&c.id)))
            .collect(),
        next_cursor,
    }))
}

/// One conversation (agent).
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = ConversationView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_conversation(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<ConversationView>, ApiError> {
    access.require(Role::Agent)?;
    let id: ConversationId = path_id(&id)?;
    let c = state.store.conversation(access.workspace_id, id).await?;
    let labels = state.store.labels_of(access.workspace_id, &[id]).await?;
    Ok(ApiJson(ConversationView::with_labels(&c, labels.get(&id))))
}

#[derive(serde::Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessageQuery {
    /// From a previous page's `next_cursor` (older messages).
    pub cursor: Option<String>,
    /// 1 to 200; 50 by default.
    pub limit: Option<String>,
}

/// A conversation's messages, the newest page first, each page oldest first (agent).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id"), MessageQuery),
    responses((status = 200, body = MessageList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_messages(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<ApiJson<MessageList>, ApiError> {
    access.require(Role::Agent)?;
    let id: ConversationId = path_id(&id)?;
    let query: MessageQuery = parse_query(raw.as_deref())?;
    let limit = parse_limit(&query.limit)?;
    let before = nonempty(&query.cursor)
        .map(|c| c.parse::<MessageId>().map_err(|_| invalid_cursor()))
        .transpose()?;
    // 404 for a conversation of another workspace, not an empty list.
    state.store.conversation(access.workspace_id, id).await?;
    let messages = state
        .store
        .messages(access.workspace_id, id, MessagePage { before, limit })
        .await?;
    let next_cursor = (messages.len() as i64 == limit)
        .then(|| messages.first())
        .flatten()
        .map(|m| m.id.to_string());
    Ok(ApiJson(MessageList {
        data: messages.iter().map(MessageView::from).collect(),
        next_cursor,
    }))
}

/// An agent's reply: exactly one of `text`, `media` or `template`.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub text: Option<String>,
    pub media: Option<MediaBody>,
    /// A WhatsApp message template from the connection's synced catalogue.
    pub template: Option<TemplateBody>,
    /// The id of the message in this conversation that this one answers.
    pub reply_to: Option<String>,
    /// Messenger and Instagram: send with the `HUMAN_AGENT` tag (allowed up to 7 days after
    /// the customer's last message).
    #[serde(default)]
    pub human_agent_tag: bool,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaBody {
    /// `image`, `audio`, `video`, `document` or `sticker`.
    pub kind: String,
    /// An `https://` URL the platform can fetch.
    pub url: String,
    pub caption: Option<String>,
    pub filename: Option<String>,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    pub name: String,
    /// The template's language code, as in the catalogue (`en_US`).
    pub language: String,
    /// The body's `{{1}}`, `{{2}}`, ... in order.
    #[serde(default)]
    pub parameters: Vec<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct QueuedMessage {
    pub id: String,
    /// `queued`: the send job will take it.
    pub status: String,
}

/// The optional `Idempotency-Key` header: 1 to 255 visible ASCII characters.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(|k| Some(k.to_owned()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "An Idempotency-Key is 1 to 255 visible ASCII characters.",
            )
        })
}

/// The contact restricted the processing of their data: nothing is sent to them.
pub(crate) fn restricted() -> ApiError {
    ApiError::Conflict {
        code: "restricted",
        message: "The contact has restricted the processing of their data: nothing can be \
                  sent to them until the restriction is lifted."
            .to_owned(),
    }
}

/// The contact objected to direct marketing: no marketing template goes to them.
pub(crate) fn objected() -> ApiError {
    ApiError::Conflict {
        code: "objected",
        message: "The contact objected to direct marketing: marketing templates are not sent \
                  to them."
            .to_owned(),
    }
}

pub(crate) fn invalid(
    code: &'static str,
    message: impl Into<String>,
    field: &'static str,
) -> ApiError {
    ValidationError::new(code, message).on(field).into()
}

/// The content of a reply, checked for what does not depend on the channel.
fn parse_content(body: &SendRequest) -> Result<OutboundContent, ApiError> {
    let given = [
        body.text.is_some(),
        body.media.is_some(),
        body.template.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApiError::from(ValidationError::new(
            "invalid_message",
            "Give exactly one of text, media or template.",
        )));
    }
    if let Some(text) = &body.text {
        if text.trim().is_empty() {
            return Err(invalid("empty_text", "The text is empty.", "text"));
        }
        return Ok(OutboundContent::Text { body: text.clone() });
    }
    if let Some(m) = &body.media {
        let kind: MediaKind = serde_json::from_value(serde_json::Value::String(m.kind.clone()))
            .map_err(|_| {
                invalid(
                    "invalid_media_kind",
                    "The media kind is image, audio, video, document or sticker.",
                    "media.kind",
                )
            })?;
        let url = m.url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048 {
            return Err(invalid(
                "invalid_media_url",
                "The media URL is an http(s) URL the platform can fetch, at most 2048 characters.",
                "media.url",
            ));
        }
        if m.caption.as_ref().is_some_and(|c| c.chars().count() > 1024) {
            return Err(invalid(
                "caption_too_long",
                "A caption is at most 1024 characters.",
                "media.caption",
            ));
        }
        if m.filename
            .as_ref()
            .is_some_and(|f| f.is_empty() || f.chars().count() > 240)
        {
            return Err(invalid(
                "invalid_filename",
                "A file name is 1 to 240 characters.",
                "media.filename",
            ));
        }
        return Ok(OutboundContent::Media {
            kind,
            url: url.to_owned(),
            caption: m.caption.clone(),
            filename: m.filename.clone(),
        });
    }
    let Some(t) = &body.template else {
        return Err(ApiError::internal("no content after the check"));
    };
    if t.name.trim().is_empty()
        || t.name.len() > 512
        || t.language.trim().is_empty()
        || t.language.len() > 20
    {
        return Err(invalid(
            "invalid_template",
            "A template has a name and a language code, as in the catalogue.",
            "template",
        ));
    }
    if t.parameters.len() > 100
        || t.parameters
            .iter()
            .any(|p| p.trim().is_empty() || p.chars().count() > 1024)
    {
        return Err(invalid(
            "invalid_template_parameters",
            "Template parameters are 1 to 1024 characters each.",
            "template.parameters",
        ));
    }
    Ok(OutboundContent::Template {
        name: t.name.clone(),
        language: t.language.clone(),
        parameters: t.parameters.clone(),
    })
}

/// Queues an agent's reply (agent). Refused before anything is stored when the reply window,
/// the template catalogue, the contact's opt-in or the channel's state do not allow it.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id"),
        ("Idempotency-Key" = Option<String>, Header,
            description = "Makes the request safe to retry: the same key answers the same message")),
    request_body = SendRequest,
    responses((status = 202, body = QueuedMessage), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn send_message(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SendRequest>,
) -> Result<(StatusCode, ApiJson<QueuedMessage>), ApiError> {
    access.require(Role::Agent)?;
    let id: ConversationId = path_id(&id)?;
    let ws = access.workspace_id;
    let idempotency_key = idempotency_key(&headers)?;
    if let Some(earlier) = earlier_answer(&state, ws, id, idempotency_key.as_deref()).await? {
        return Ok((StatusCode::ACCEPTED, ApiJson(earlier)));
    }
    let message = queue_reply(
        &state,
        ws,
        access.actor.user_id(),
        id,
        &body,
        None,
        idempotency_key.as_deref(),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(QueuedMessage {
            id: message.to_string(),
            status: "queued".to_owned(),
        }),
    ))
}

/// What a retried request with this `Idempotency-Key` was answered, if it was.
async fn earlier_answer(
    state: &AppState,
    ws: switchboard_core::WorkspaceId,
    conversation: ConversationId,
    key: Option<&str>,
) -> Result<Option<QueuedMessage>, ApiError> {
    let Some(key) = key else { return Ok(None) };
    let Some(earlier) = state.store.message_by_idempotency_key(ws, key).await? else {
        return Ok(None);
    };
    // A retried request: the same answer, nothing queued twice.
    if earlier.conversation_id != conversation {
        return Err(ApiError::Conflict {
            code: "idempotency_key_reused",
            message: "This Idempotency-Key was used for a message in another conversation."
                .to_owned(),
        });
    }
    Ok(Some(QueuedMessage {
        id: earlier.id.to_string(),
        status: earlier.status.as_str().to_owned(),
    }))
}

#[derive(serde::Deserialize, Default, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AttachmentQuery {
    /// The file's name as the customer sees it (documents).
    pub filename: Option<String>,
    /// Text sent with the file (images, videos, documents).
    pub caption: Option<String>,
    /// The id of the message in this conversation that this one answers.
    pub reply_to: Option<String>,
}

/// Sends a file as an agent's reply (agent). The request body is the file and
/// `Content-Type` its type; the same checks as any reply apply, plus the channel's size
/// limit for the kind of file. The platform fetches the file from a signed link that
/// expires.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/attachments", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id"), AttachmentQuery,
        ("Idempotency-Key" = Option<String>, Header,
            description = "Makes the request safe to retry: the same key answers the same message")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file's bytes, sent with its own Content-Type (image/png, application/pdf, ...)"),
    responses((status = 202, body = QueuedMessage), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn send_attachment(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> Result<(StatusCode, ApiJson<QueuedMessage>), ApiError> {
    access.require(Role::Agent)?;
    let id: ConversationId = path_id(&id)?;
    let query: AttachmentQuery = parse_query(raw.as_deref())?;
    let ws = access.workspace_id;
    let idempotency_key = idempotency_key(&headers)?;
    if let Some(earlier) = earlier_answer(&state, ws, id, idempotency_key.as_deref()).await? {
        return Ok((StatusCode::ACCEPTED, ApiJson(earlier)));
    }
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let message = queue_attachment(
        &state,
        ws,
        access.actor.user_id(),
        id,
        AttachmentReply {
            content_type,
            filename: query.filename.as_deref(),
            caption: nonempty(&query.caption).map(str::to_owned),
            reply_to: query.reply_to,
            bytes: body,
        },
        idempotency_key.as_deref(),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(QueuedMessage {
            id: message.to_string(),
            status: "queued".to_owned(),
        }),
    ))
}

/// A file an agent sends, as it arrived.
pub(crate) struct AttachmentReply<'a> {
    pub content_type: Option<&'a str>,
    pub filename: Option<&'a str>,
    pub caption: Option<String>,
    pub reply_to: Option<String>,
    pub bytes: axum::body::Bytes,
}

/// Checks a file reply, writes the file, and queues the reply through [`queue_reply`] with
/// the file's media object in the same transaction (the API's and the inbox's one path). The
/// stored content's URL is the members-only `/media/{id}`; the send job gives the platform a
/// signed link instead.
pub(crate) async fn queue_attachment(
    state: &AppState,
    ws: switchboard_core::WorkspaceId,
    author: Option<switchboard_core::UserId>,
    id: ConversationId,
    reply: AttachmentReply<'_>,
    idempotency_key: Option<&str>,
) -> Result<MessageId, ApiError> {
    let conversation = state.store.conversation(ws, id).await?;
    let upload = crate::attachments::Upload::parse(
        conversation.kind,
        reply.content_type,
        reply.filename,
        reply.bytes,
        state.config.media_max_bytes,
    )?;
    let media_id = switchboard_core::MediaObjectId::new();
    let kind = serde_json::to_value(upload.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "document".to_owned());
    let body = SendRequest {
        text: None,
        media: Some(MediaBody {
            kind,
            url: format!("{}/media/{media_id}", state.config.public_url),
            caption: reply.caption,
            filename: upload.filename.clone(),
        }),
        template: None,
        reply_to: reply.reply_to,
        human_agent_tag: false,
    };
    // Written first so the reply's transaction can name it; a refused reply removes it.
    let written = crate::attachments::write(state, ws, media_id, &upload).await?;
    let queued = queue_reply(
        state,
        ws,
        author,
        id,
        &body,
        Some(&written),
        idempotency_key,
    )
    .await;
    if queued.is_err() {
        crate::attachments::discard(state, &written).await;
    }
    queued
}

/// Checks a reply completely and queues it with its send job (the API's and the inbox
/// composer's one path).
pub(crate) async fn queue_reply(
    state: &AppState,
    ws: switchboard_core::WorkspaceId,
    author: Option<switchboard_core::UserId>,
    id: ConversationId,
    body: &SendRequest,
    attachment: Option<&crate::attachments::Written>,
    idempotency_key: Option<&str>,
) -> Result<MessageId, ApiError> {
    let content = parse_content(body)?;
    let conversation = state.store.conversation(ws, id).await?;
    let privacy = state
        .store
        .contact_privacy(ws, conversation.contact_id)
        .await?;
    if privacy.is_restricted() {
        return Err(restricted());
    }
    let kind = conversation.kind;
    if let OutboundContent::Text { body: text } = &content
        && text.chars().count() > text_limit(kind)
    {
        return Err(invalid(
            "text_too_long",
            format!(
                "A {} message is at most {} characters.",
                kind.as_str(),
                text_limit(kind)
            ),
            "text",
        ));
    }
    let tag = if body.human_agent_tag {
        if !matches!(kind, ChannelKind::Messenger | ChannelKind::Instagram) {
            return Err(invalid(
                "tag_not_supported",
                "The human-agent tag is for Messenger and Instagram.",
                "human_agent_tag",
            ));
        }
        Some(MessageTag::HumanAgent)
    } else {
        None
    };
    let reply_to = match nonempty(&body.reply_to) {
        None => None,
        Some(raw) => {
            let bad = || {
                invalid(
                    "invalid_reply_to",
                    "reply_to is the id of a message in this conversation.",
                    "reply_to",
                )
            };
            let mid: MessageId = raw.parse().map_err(|_| bad())?;
            let original = match state.store.message(ws, mid).await {
                Ok(m) if m.conversation_id == id => m,
                Ok(_) | Err(switchboard_store::StoreError::NotFound) => return Err(bad()),
                Err(e) => return Err(e.into()),
            };
            Some(original.external_id.ok_or_else(|| {
                invalid(
                    "reply_to_not_sent",
                    "That message has no platform id yet (not sent), so it cannot be quoted.",
                    "reply_to",
                )
            })?)
        }
    };
    let target = state.store.reply_target(ws, id).await?;
    let connection = state.store.connection(ws, target.connection_id).await?;
    if connection.status != ConnectionStatus::Active {
        return Err(ApiError::Conflict {
            code: "connection_unavailable",
            message: match connection.status {
                ConnectionStatus::NeedsAttention => format!(
                    "This channel needs attention ({}); reconnect it before sending.",
                    connection
                        .status_reason
                        .as_deref()
                        .unwrap_or("the platform refused it")
                ),
                _ => "This conversation's channel is disconnected.".to_owned(),
            },
        });
    }
    let attempt = ReplyAttempt {
        kind,
        last_inbound_at: target.last_inbound_at,
        now: state.clock.now(),
        content: &content,
        tag,
        sent_since_last_inbound: target.sent_since_last_inbound,
    };
    if let WindowDecision::Refused(r) = check_reply(&attempt, &WindowRules::default()) {
        return Err(ValidationError::new(r.code, r.message).into());
    }
    if let OutboundContent::Template {
        name,
        language,
        parameters,
    } = &content
    {
        let template = state
            .store
            .template(ws, target.connection_id, name, language)
            .await?
            .filter(|t| t.is_approved())
            .ok_or_else(|| {
                invalid(
                    "template_not_found",
                    format!(
                        "No approved template {name} ({language}) in this channel's catalogue; \
                         sync the catalogue or pick another."
                    ),
                    "template",
                )
            })?;
        if template.spec.parameter_count != parameters.len() as i64 {
            return Err(invalid(
                "template_parameters",
                format!(
                    "The template {name} takes {} parameters; {} were given.",
                    template.spec.parameter_count,
                    parameters.len()
                ),
                "template.parameters",
            ));
        }
        // A category we do not know asks for the strictest consent.
        let consent = ConsentKind::for_template_category(&template.spec.category)
            .unwrap_or(ConsentKind::WhatsappMarketing);
        if consent == ConsentKind::WhatsappMarketing && privacy.objects_to_marketing() {
            return Err(objected());
        }
        if !state
            .store
            .has_opt_in(ws, conversation.contact_id, target.connection_id, consent)
            .await?
        {
            return Err(ValidationError::new(
                "opt_in_required",
                format!(
                    "The contact has not opted in to {} messages on this channel; record their \
                     consent first.",
                    consent.as_str()
                ),
            )
            .into());
        }
    }
    // The platform's own builder says whether it can carry this content at all.
    let outbound = OutboundMessage {
        to: target.to.clone(),
        content: content.clone(),
        reply_to: reply_to.clone(),
        tag,
    };
    let placeholder = SecretString::from(String::new());
    let probe = SendTarget {
        base_url: "http://platform.invalid",
        account_id: &connection.account_id,
        token: &placeholder,
    };
    if let Err(e) = send::build_request(kind, &probe, &outbound) {
        return Err(ValidationError::new(e.code(), e.to_string()).into());
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let message = tx
        .insert_outbound(
            ws,
            id,
            &NewOutbound {
                author,
                content: &content,
                reply_to_external_id: reply_to.as_deref(),
                idempotency_key,
            },
            now,
        )
        .await?;
    if let Some(file) = attachment {
        tx.insert_stored_media(ws, message, file.id, &file.stored(), now)
            .await?;
    }
    tx.enqueue(send::job(ws, message, tag, now), now).await?;
    tx.commit().await?;
    if kind == ChannelKind::Widget {
        // The visitor's browser may be long-polling for this reply (`routes::widget`).
        state.widget_hub.notify(conversation.contact_id);
    }
    Ok(message)
}
