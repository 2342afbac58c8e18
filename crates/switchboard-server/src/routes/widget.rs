//! The website chat widget: the script operators embed (`GET /widget/{key}.js`), its public
//! JSON API under `/widget/v1/{key}/...` that the visitor's browser calls from the host page,
//! and the demo host page (`GET /widget/demo`).
//!
//! The API, for one widget connection (its key is the connection's `account_id`):
//! - `POST session`: start (no token: a new visitor, `201` with a fresh `sbw_` token that the
//!   browser keeps in the host page's localStorage) or resume (`Authorization: Bearer` token);
//! - `POST messages` `{"id", "text", "email"?}`: the visitor writes; the client-chosen `id`
//!   makes a retried send store one message. `email` is the widget's pre-chat email (see
//!   [`PrechatEmail`]);
//! - `GET messages?after=ID&wait=SECONDS`: the conversation after a cursor; with `wait`, a
//!   long-poll that answers as soon as a reply is stored. Replies fetched are `delivered`;
//! - `POST attachments?id=ID&name=FILE` with the file as the body: the visitor sends a file
//!   (the same retry rule; images, audio, video and documents up to 10 MB). Messages with a
//!   stored file carry an `attachment` with a link that opens for an hour;
//! - `POST read` `{"up_to"}`: the visitor saw the replies up to that message (`read`);
//! - `GET transcript?format=json|text`: "Download this conversation";
//! - `DELETE conversation`: "Delete this conversation" (messages, identity, and the token).
//!
//! Invariants:
//! - every API request passes [`cors`] first: the browser's `Origin` (or, for a same-origin
//!   request without one, this server's own origin) must be exactly one of the widget's
//!   allowed domains, over https (http only for localhost); other origins get a 403
//!   `origin_not_allowed` without CORS headers, preflights included; a disconnected widget
//!   answers 410 `widget_disconnected` to everything;
//! - a visitor is proved only by their token (256 bits, stored as SHA-256) and sees only
//!   their own contact's messages on this widget;
//! - visitor messages are stored through `Tx::ingest_message`, the path every platform's
//!   webhooks take, with the external id `{visitor id}:{client id}`, so one visitor's retry is
//!   one message and no visitor can collide with another's ids;
//! - sends are rate limited per visitor and per IP address through the login-throttle
//!   counters (shared by every process), and session starts per IP address;
//! - the pre-chat email is checked with `EmailAddress::parse` before anything is stored, and
//!   written to the visitor's contact in the transaction that stores their message, only
//!   when the contact has no email yet (an agent's address is kept, and the answer says so).

use crate::auth::{ClientInfo, secret_token};
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::json::ApiJson;
use crate::routes::paging::{invalid_cursor, nonempty, parse_query};
use crate::routes::workspaces::rfc3339;
use crate::state::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json};
use switchboard_core::channel::{
    AccountRef, ChannelKind, ExternalContact, InboundMessage, MediaRef, MessageContent,
};
use switchboard_core::{ContactId, EmailAddress, MessageId, ValidationError};
use switchboard_store::connections::{Connection, ConnectionStatus};
use switchboard_store::media::MediaState;
use switchboard_store::messages::{Direction, Message, MessageStatus};
use switchboard_store::widget::WidgetVisitor;

/// The demo workspace's widget key (`serve --demo` connects it; `/widget/demo` embeds it).
pub const DEMO_WIDGET_KEY: &str = "wgt_demo";

/// The largest file a visitor can send (`attachments` holds the widget to 10 MB; this is the
/// transport's ceiling just above it).
const UPLOAD_LIMIT: usize = 10 * 1024 * 1024 + 1024;

/// A visitor writes a few lines at a time; nothing they send needs more.
const BODY_LIMIT: usize = 16 * 1024;
/// The longest visitor message, as the other channels allow.
const TEXT_LIMIT: usize = 4096;
/// The longest long-poll a browser may ask for (below common proxy idle timeouts).
const MAX_WAIT_SECS: u64 = 30;
/// What one answer carries at most.
const PAGE: i64 = 500;
/// Messages a visitor may send per minute, and all visitors behind one IP address.
const VISITOR_SENDS_PER_MINUTE: i64 = 20;
const IP_SENDS_PER_MINUTE: i64 = 120;
/// New visitors one IP address may start per ten minutes.
const IP_SESSIONS_PER_TEN_MINUTES: i64 = 30;

static WIDGET_JS: &str = include_str!("../../assets/widget.js");

pub fn router(state: AppState) -> Router<AppState> {
    let api = Router::new()
        .route("/widget/v1/{key}/session", post(start_session))
        .route(
            "/widget/v1/{key}/messages",
            get(list_messages).post(send_message),
        )
        .route("/widget/v1/{key}/read", post(mark_read))
        .route("/widget/v1/{key}/transcript", get(transcript))
        .route("/widget/v1/{key}/conversation", delete(erase_conversation))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .route(
            "/widget/v1/{key}/attachments",
            post(send_attachment).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .layer(middleware::from_fn_with_state(state, cors));
    Router::new()
        .route("/widget/demo", get(demo_page))
        .route("/widget/{file}", get(script))
        .merge(api)
}

// ---------------------------------------------------------------------------------------------
// Errors: the shared body, with codes of the widget's own where a 403/410 needs one.

#[derive(Debug)]
pub enum WidgetError {
    Api(ApiError),
    Refused {
        status: StatusCode,
        code: &'static str,
        message: &'static str,
    },
}

impl From<ApiError> for WidgetError {
    fn from(e: ApiError) -> Self {
        WidgetError::Api(e)
    }
}

impl From<switchboard_store::StoreError> for WidgetError {
    fn from(e: switchboard_store::StoreError) -> Self {
        WidgetError::Api(e.into())
    }
}

fn refused(status: StatusCode, code: &'static str, message: &'static str) -> WidgetError {
    WidgetError::Refused {
        status,
        code,
        message,
    }
}

impl IntoResponse for WidgetError {
    fn into_response(self) -> Response {
        match self {
            WidgetError::Api(e) => e.into_response(),
            WidgetError::Refused {
                status,
                code,
                message,
            } => (
                status,
                Json(ErrorBody {
                    error: ErrorDetail {
                        code: code.to_owned(),
                        message: message.to_owned(),
                        field: None,
                    },
                }),
            )
                .into_response(),
        }
    }
}

fn unknown_visitor() -> WidgetError {
    refused(
        StatusCode::UNAUTHORIZED,
        "visitor_unknown",
        "This chat session no longer exists; start a new one.",
    )
}

// ---------------------------------------------------------------------------------------------
// Origin check and CORS

/// The widget a request is for (put in the request's extensions by [`cors`]).
#[derive(Debug, Clone)]
struct Widget {
    connection: Connection,
}

/// `scheme://host[:port]` of a URL (the server's public URL).
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// Whether a page at `origin` may use a widget allowed on `domains`. Exact: a domain entry is
/// a host (`shop.example`), a host and port (`localhost:3000`) or a whole origin
/// (`https://shop.example`), and must equal the origin's; the scheme is https, or http for
/// localhost and loopback addresses only.
pub fn origin_allowed(origin: &str, domains: &[String]) -> bool {
    let origin = origin.to_ascii_lowercase();
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    if authority.is_empty() || authority.contains(['/', '@', '?', '#', ' ']) {
        return false;
    }
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    let loopback = host == "localhost"
        || host.ends_with(".localhost")
        || host == "127.0.0.1"
        || host == "[::1]";
    if !(scheme == "https" || (scheme == "http" && loopback)) {
        return false;
    }
    domains.iter().any(|entry| {
        let entry = entry.trim().trim_end_matches('/').to_ascii_lowercase();
        match entry.split_once("://") {
            Some(_) => entry == origin,
            None => entry == authority,
        }
    })
}

fn domains(connection: &Connection) -> Vec<String> {
    connection
        .settings
        .get("domains")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Checks the caller's origin against the widget's domains, answers preflights, refuses a
/// disconnected widget, and adds the CORS headers to every answer to an allowed origin.
async fn cors(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, WidgetError> {
    let key = request
        .uri()
        .path()
        .strip_prefix("/widget/v1/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned();
    let not_found = || {
        refused(
            StatusCode::NOT_FOUND,
            "widget_not_found",
            "There is no chat widget with this key.",
        )
    };
    if key.is_empty() || key.len() > 100 {
        return Err(not_found());
    }
    let connection = state
        .store
        .connection_by_account(ChannelKind::Widget, &key)
        .await?
        .ok_or_else(not_found)?;
    let headers = request.headers();
    let origin = match headers.get(header::ORIGIN).map(HeaderValue::to_str) {
        Some(Ok(o)) => o.to_owned(),
        Some(Err(_)) => String::new(),
        // Browsers leave Origin off same-origin GETs; they label them instead. Any other
        // caller without an Origin is not a browser on an allowed page.
        None if headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"same-origin") =>
        {
            origin_of(&state.config.public_url).unwrap_or_default()
        }
        None => {
            return Err(refused(
                StatusCode::FORBIDDEN,
                "origin_required",
                "The widget answers browsers on the sites it is allowed on; this request names \
                 no origin.",
            ));
        }
    };
    if !origin_allowed(&origin, &domains(&connection)) {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "This chat widget is not allowed on this site; add the site's domain to the \
             widget's allowed domains.",
        ));
    }
    let mut response = if request.method() == Method::OPTIONS {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        r
    } else if connection.status == ConnectionStatus::Disconnected {
        refused(
            StatusCode::GONE,
            "widget_disconnected",
            "This chat is no longer available.",
        )
        .into_response()
    } else {
        request.extensions_mut().insert(Widget { connection });
        next.run(request).await
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("retry-after, content-disposition"),
    );
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// The pre-chat email

/// Whether the widget asks a new visitor for their email before the chat (the widget's
/// `prechat_email` setting; off when absent, so widgets made before it ask nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrechatEmail {
    Off,
    /// Asked; the visitor may leave it empty.
    Optional,
    /// A new visitor's first message (or file) is refused without a valid email.
    Required,
}

impl PrechatEmail {
    pub fn as_str(self) -> &'static str {
        match self {
            PrechatEmail::Off => "off",
            PrechatEmail::Optional => "optional",
            PrechatEmail::Required => "required",
        }
    }

    /// The setting as an operator gives it (absent or empty: off).
    pub fn parse(value: Option<&str>) -> Result<Self, ValidationError> {
        match value.map(str::trim).unwrap_or_default() {
            "" | "off" => Ok(PrechatEmail::Off),
            "optional" => Ok(PrechatEmail::Optional),
            "required" => Ok(PrechatEmail::Required),
            _ => Err(ValidationError::new(
                "invalid_prechat_email",
                "Asking for the email before the chat is off, optional or required.",
            )
            .on("prechat_email")),
        }
    }

    pub fn of(connection: &Connection) -> Self {
        let value = connection
            .settings
            .get("prechat_email")
            .and_then(serde_json::Value::as_str);
        // A stored value is one `parse` accepted; anything else asks nothing.
        PrechatEmail::parse(value).unwrap_or(PrechatEmail::Off)
    }
}

/// The email to store with what the visitor sends now: checked when given (and the widget
/// asks for one), required for a visitor who has not written yet when the widget says so.
/// When the widget does not ask, an email sent anyway is not kept.
fn prechat_email(
    widget: &Widget,
    v: &WidgetVisitor,
    given: Option<&str>,
) -> Result<Option<EmailAddress>, WidgetError> {
    let mode = PrechatEmail::of(&widget.connection);
    if mode == PrechatEmail::Off {
        return Ok(None);
    }
    match given.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => Ok(Some(EmailAddress::parse(e).map_err(ApiError::from)?)),
        None if mode == PrechatEmail::Required && v.contact_id.is_none() => Err(invalid(
            "email_required",
            "Enter your email address to start the chat.",
            "email",
        )),
        None => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------
// Visitors

/// The visitor the request's bearer token proves, on this widget only.
async fn visitor(
    state: &AppState,
    widget: &Widget,
    headers: &HeaderMap,
) -> Result<WidgetVisitor, WidgetError> {
    let token = bearer(headers)?.ok_or_else(|| {
        refused(
            StatusCode::UNAUTHORIZED,
            "visitor_token_required",
            "Start a chat session first (POST session) and send its token.",
        )
    })?;
    state
        .store
        .widget_visitor_by_token(
            widget.connection.workspace_id,
            widget.connection.id,
            &secret_token::hash(&token),
        )
        .await?
        .ok_or_else(unknown_visitor)
}

fn bearer(headers: &HeaderMap) -> Result<Option<String>, WidgetError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with("sbw_") && t.len() <= 100)
        .map(|t| Some(t.to_owned()))
        .ok_or_else(unknown_visitor)
}

/// Counts one request against each `(key, limit)` in the window; 429 once any is over.
async fn throttle(
    state: &AppState,
    keys: &[(String, i64)],
    window: time::Duration,
) -> Result<(), WidgetError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let mut over = false;
    for (key, limit) in keys {
        over |= tx.count_login_failure(key, now, now - window).await? > *limit;
    }
    tx.commit().await?;
    if over {
        return Err(ApiError::TooManyRequests {
            retry_after_secs: u64::try_from(window.whole_seconds()).unwrap_or(60),
        }
        .into());
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct SessionView {
    /// Only when the session was started now: keep it; it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    visitor_id: String,
    /// The visitor wrote before (there are messages to load).
    has_conversation: bool,
    widget: WidgetSettings,
}

#[derive(serde::Serialize)]
struct WidgetSettings {
    name: String,
    colour: Option<String>,
    greeting: Option<String>,
    /// `off`, `optional` or `required`: whether to ask for an email before the first message.
    prechat_email: &'static str,
}

fn settings_of(connection: &Connection) -> WidgetSettings {
    let text = |k: &str| {
        connection
            .settings
            .get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    WidgetSettings {
        name: connection.name.clone(),
        colour: text("colour"),
        greeting: text("greeting"),
        prechat_email: PrechatEmail::of(connection).as_str(),
    }
}

async fn start_session(
    State(state): State<AppState>,
    Extension(widget): Extension<Widget>,
    client: ClientInfo,
    headers: HeaderMap,
) -> Result<Response, WidgetError> {
    if bearer(&headers)?.is_some() {
        let v = visitor(&state, &widget, &headers).await?;
        return Ok(Json(SessionView {
            token: None,
            visitor_id: v.id.to_string(),
            has_conversation: v.contact_id.is_some(),
            widget: settings_of(&widget.connection),
        })
        .into_response());
    }
    let ip = client.ip.as_deref().unwrap_or("unknown");
    throttle(
        &state,
        &[(format!("widget:start:ip:{ip}"), IP_SESSIONS_PER_TEN_MINUTES)],
        time::Duration::minutes(10),
    )
    .await?;
    let token = secret_token::generate("sbw_");
    let c = &widget.connection;
    let mut tx = state.store.begin().await?;
    let v = tx
        .insert_widget_visitor(
            c.workspace_id,
            c.id,
            &secret_token::hash(&token),
            state.clock.now(),
        )
        .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionView {
            token: Some(token),
            visitor_id: v.id.to_string(),
            has_conversation: false,
            widget: settings_of(c),
        }),
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Messages

#[derive(serde::Serialize)]
struct WidgetMessage {
    id: String,
    /// `visitor` or `business`.
    from: &'static str,
    text: Option<String>,
    /// What the message carries (`type`: `text`, `media`, ...).
    content: serde_json::Value,
    /// For the business's messages: `queued`, `sent`, `delivered` or `read`.
    status: String,
    created_at: String,
    /// A file stored with the message, with a link that opens it for an hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    attachment: Option<WidgetAttachment>,
}

#[derive(serde::Serialize)]
struct WidgetAttachment {
    url: String,
    content_type: String,
    /// The file's name, when it was sent with one.
    name: Option<String>,
}

/// The visitor's view of `messages`, with links to the files stored with them.
async fn views(
    state: &AppState,
    ws: switchboard_core::WorkspaceId,
    messages: &[Message],
) -> Result<Vec<WidgetMessage>, WidgetError> {
    let expires = state.clock.now() + crate::attachments::VISITOR_LINK_LIFETIME;
    // One read per conversation the files are in (a visitor has one or a few), not per file.
    let mut conversations: Vec<switchboard_core::ConversationId> = messages
        .iter()
        .filter(|m| m.content.has_media())
        .map(|m| m.conversation_id)
        .collect();
    conversations.sort();
    conversations.dedup();
    let mut stored = std::collections::HashMap::new();
    for conversation in conversations {
        for o in state.store.media_of_conversation(ws, conversation).await? {
            if o.state == MediaState::Stored {
                stored.entry(o.message_id).or_insert(o);
            }
        }
    }
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        let mut view = WidgetMessage::from(m);
        view.attachment = stored.remove(&m.id).map(|o| WidgetAttachment {
            url: crate::attachments::shared_link(state, ws, o.id, expires),
            content_type: o
                .content_type
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            name: m.content.filename(),
        });
        out.push(view);
    }
    Ok(out)
}

impl From<&Message> for WidgetMessage {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id.to_string(),
            from: if m.direction == Direction::Inbound {
                "visitor"
            } else {
                "business"
            },
            text: m.text.clone(),
            content: serde_json::to_value(&m.content).unwrap_or_default(),
            status: m.status.as_str().to_owned(),
            created_at: rfc3339(m.created_at),
            attachment: None,
        }
    }
}

#[derive(serde::Serialize)]
struct MessageList {
    /// Oldest first; may repeat messages the browser has (drop them by id).
    data: Vec<WidgetMessage>,
    /// Pass as `after` next time.
    cursor: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    /// Chosen by the browser (1 to 64 letters, digits, `-` or `_`), the same on every retry.
    id: String,
    text: String,
    /// The pre-chat email, when the widget asks for one.
    #[serde(default)]
    email: Option<String>,
}

#[derive(serde::Serialize)]
struct Sent {
    message: WidgetMessage,
    /// The message was stored by an earlier attempt.
    duplicate: bool,
    /// When an email came with the message: `saved` on the visitor's contact, or `kept` —
    /// the contact already had an email (one an agent recorded, say), which was not changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'static str>,
}

fn invalid(code: &'static str, message: &'static str, field: &'static str) -> WidgetError {
    ApiError::from(ValidationError::new(code, message).on(field)).into()
}

async fn send_message(
    State(state): State<AppState>,
    Extension(widget): Extension<Widget>,
    client: ClientInfo,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<Response, WidgetError> {
    let v = visitor(&state, &widget, &headers).await?;
    check_client_id(&body.id)?;
    let email = prechat_email(&widget, &v, body.email.as_deref())?;
    let text = body.text.trim();
    if text.is_empty() {
        return Err(invalid("empty_text", "The message is empty.", "text"));
    }
    if text.chars().count() > TEXT_LIMIT {
        return Err(invalid(
            "text_too_long",
            "A message is at most 4096 characters.",
            "text",
        ));
    }
    let sending = Sending {
        client_id: &body.id,
        content: MessageContent::Text {
            body: text.to_owned(),
        },
        file: None,
        email: email.as_ref(),
    };
    store_visitor_message(&state, &widget, &v, &client, sending).await
}

fn check_client_id(id: &str) -> Result<(), WidgetError> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(
            "invalid_message_id",
            "The message id is 1 to 64 letters, digits, '-' or '_'.",
            "id",
        ));
    }
    Ok(())
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AttachmentQuery {
    /// Chosen by the browser, as for a text message.
    id: Option<String>,
    /// The file's name.
    name: Option<String>,
}

/// The visitor sends a file: checked as an agent's is (type, bytes, the widget's 10 MB), and
/// stored through the same ingest path as their texts, its media object stored at once.
async fn send_attachment(
    State(state): State<AppState>,
    Extension(widget): Extension<Widget>,
    client: ClientInfo,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    bytes: axum::body::Bytes,
) -> Result<Response, WidgetError> {
    let v = visitor(&state, &widget, &headers).await?;
    let query: AttachmentQuery = parse_query(raw.as_deref())?;
    let id = query.id.unwrap_or_default();
    check_client_id(&id)?;
    // A file carries no email (it would travel in the URL): a visitor the widget must ask
    // writes a message with their email first.
    prechat_email(&widget, &v, None)?;
    let upload = crate::attachments::Upload::parse(
        ChannelKind::Widget,
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        query.name.as_deref(),
        bytes,
        state.config.media_max_bytes,
    )?;
    let content = MessageContent::Media {
        kind: upload.kind,
        // The widget is its own platform: the file's "platform id" is its message's.
        media: MediaRef::PlatformId(format!("{}:{id}", v.id)),
        mime_type: Some(upload.content_type.clone()),
        caption: None,
        filename: upload.filename.clone(),
        sha256: None,
    };
    let sending = Sending {
        client_id: &id,
        content,
        file: Some(&upload),
        email: None,
    };
    store_visitor_message(&state, &widget, &v, &client, sending).await
}

/// What a visitor sends: the browser's id for it, the text or file, and the pre-chat email.
struct Sending<'a> {
    client_id: &'a str,
    content: MessageContent,
    file: Option<&'a crate::attachments::Upload>,
    email: Option<&'a EmailAddress>,
}

/// Stores what a visitor sent (a text or a file) through the webhook path's ingest, rate
/// limited; a file is written under the media object ingest created and marked stored in
/// the same transaction, so no download job is ever queued for it.
async fn store_visitor_message(
    state: &AppState,
    widget: &Widget,
    v: &WidgetVisitor,
    client: &ClientInfo,
    sending: Sending<'_>,
) -> Result<Response, WidgetError> {
    let Sending {
        client_id,
        content,
        file,
        email,
    } = sending;
    let ip = client.ip.as_deref().unwrap_or("unknown");
    throttle(
        state,
        &[
            // Hashed: the visitor's id must not outlive their erasure in the counters.
            (
                format!(
                    "widget:send:visitor:{}",
                    secret_token::hash(&v.id.to_string())
                ),
                VISITOR_SENDS_PER_MINUTE,
            ),
            (format!("widget:send:ip:{ip}"), IP_SENDS_PER_MINUTE),
        ],
        time::Duration::minutes(1),
    )
    .await?;
    let c = &widget.connection;
    let now = state.clock.now();
    let inbound = InboundMessage {
        account: AccountRef {
            kind: ChannelKind::Widget,
            account_id: c.account_id.clone(),
        },
        external_id: format!("{}:{client_id}", v.id),
        contact: ExternalContact {
            external_id: v.id.to_string(),
            display_name: None,
            username: None,
            phone: None,
        },
        sent_at: now,
        content,
        reply_to: None,
        referral: None,
    };
    // The file is written before the transaction, under an id of its own, and only renamed
    // inside it: on SQLite the transaction holds the one writer, and writing up to 10 MB there
    // would stall every webhook meanwhile. A file a failure below leaves behind has no row,
    // and the retention sweep's orphan pass removes it.
    let mut staged = match file {
        Some(upload) => Some(
            crate::attachments::write(
                state,
                c.workspace_id,
                switchboard_core::MediaObjectId::new(),
                upload,
            )
            .await?,
        ),
        None => None,
    };
    let mut tx = state.store.begin().await?;
    let ingested = tx
        .ingest_message(c.workspace_id, c.id, &inbound, Direction::Inbound, now)
        .await?;
    let mut written = None;
    let mut email_outcome = None;
    if !ingested.duplicate {
        tx.link_widget_visitor(c.workspace_id, v.id, ingested.contact_id, now)
            .await?;
        if let Some(email) = email {
            let saved = tx
                .give_widget_visitor_email(
                    c.workspace_id,
                    ingested.contact_id,
                    email,
                    ingested.created_contact,
                    now,
                )
                .await?;
            email_outcome = Some(if saved { "saved" } else { "kept" });
        }
        if let (Some(file), Some(media)) = (staged.take(), ingested.media) {
            let w = crate::attachments::move_to(state, c.workspace_id, file, media).await?;
            tx.mark_media_stored(c.workspace_id, media, &w.stored(), now)
                .await?;
            written = Some(w);
        }
    }
    let committed = tx.commit().await;
    // A retried send stored nothing new: its copy of the file goes.
    for w in staged
        .iter()
        .chain(written.iter().filter(|_| committed.is_err()))
    {
        crate::attachments::discard(state, w).await;
    }
    committed?;
    state.widget_hub.notify(ingested.contact_id);
    let message = state
        .store
        .message(c.workspace_id, ingested.message_id)
        .await?;
    let status = if ingested.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(Sent {
            message: views(state, c.workspace_id, std::slice::from_ref(&message))
                .await?
                .pop()
                .ok_or_else(|| ApiError::internal("no view of the stored message"))?,
            duplicate: ingested.duplicate,
            email: email_outcome,
        }),
    )
        .into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// The `cursor` of the previous answer.
    after: Option<String>,
    /// Seconds to wait for something new (0 to 30; 0 by default).
    wait: Option<String>,
}

async fn list_messages(
    State(state): State<AppState>,
    Extension(widget): Extension<Widget>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, WidgetError> {
    let v = visitor(&state, &widget, &headers).await?;
    let query: ListQuery = parse_query(raw.as_deref())?;
    let after = nonempty(&query.after)
        .map(|a| a.parse::<MessageId>().map_err(|_| invalid_cursor()))
        .transpose()?;
    let wait = match nonempty(&query.wait) {
        None => 0,
        Some(w) => w
            .parse::<u64>()
            .ok()
            .filter(|w| *w <= MAX_WAIT_SECS)
            .ok_or_else(|| invalid("invalid_wait", "wait is 0 to 30 seconds.", "wait"))?,
    };
    let Some(contact) = v.contact_id else {
        // Nothing was ever written: nothing to wait for either.
        return Ok(Json(MessageList {
            data: vec![],
            cursor: None,
        })
        .into_response());
    };
    let messages = wait_for_messages(&state, &widget, contact, after, wait).await?;
    let c = &widget.connection;
    // What the browser fetched has reached the visitor.
    let unconfirmed = messages
        .iter()
        .filter(|m| {
            m.direction == Direction::Outbound && m.status.rank() < MessageStatus::Delivered.rank()
        })
        .map(|m| m.id)
        .max();
    if let Some(up_to) = unconfirmed {
        let mut tx = state.store.begin().await?;
        tx.mark_widget_replies(
            c.workspace_id,
            c.id,
            contact,
            up_to,
            MessageStatus::Delivered,
            state.clock.now(),
        )
        .await?;
        tx.commit().await?;
    }
    let data = views(&state, c.workspace_id, &messages)
        .await?
        .into_iter()
        .zip(&messages)
        .map(|(mut view, m)| {
            if unconfirmed.is_some_and(|u| m.direction == Direction::Outbound && m.id <= u)
                && m.status.rank() < MessageStatus::Delivered.rank()
            {
                view.status = MessageStatus::Delivered.as_str().to_owned();
            }
            view
        })
        .collect();
    let cursor = messages.iter().map(|m| m.id).max().or(after);
    Ok(Json(MessageList {
        data,
        cursor: cursor.map(|c| c.to_string()),
    })
    .into_response())
}

/// The visitor's messages after `after`; when there is nothing newer, waits up to `wait`
/// seconds for this process to store something for them (see `widget_hub`).
async fn wait_for_messages(
    state: &AppState,
    widget: &Widget,
    contact: ContactId,
    after: Option<MessageId>,
    wait: u64,
) -> Result<Vec<Message>, WidgetError> {
    let c = &widget.connection;
    // Subscribed before reading, so a reply stored in between still wakes us.
    let mut wakes = state.widget_hub.subscribe();
    let mut closing = state.widget_hub.closing();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
    loop {
        let messages = state
            .store
            .widget_messages(c.workspace_id, c.id, contact, after, PAGE)
            .await?;
        let newer = match after {
            None => !messages.is_empty(),
            Some(a) => messages.iter().any(|m| m.id > a),
        };
        if newer || wait == 0 {
            return Ok(messages);
        }
        loop {
            let woken = tokio::select! {
                woken = tokio::time::timeout_at(deadline, wakes.recv()) => woken,
                _ = closing.wait_for(|closed| *closed) => return Ok(messages),
            };
            match woken {
                Err(_) => return Ok(messages),
                Ok(Ok(woken)) if woken != contact => continue,
                // Ours, or we fell behind and may have missed ours: read again.
                Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                    break;
                }
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                    return Ok(messages);
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadBody {
    /// The newest message shown to the visitor.
    up_to: String,
}

async fn mark_read(
    State(state): State<AppState>,
    Extension(widget): Extension<Widget>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ReadBody>,
) -> Result<Response, WidgetError> {
    let v = visitor(&state, &widget, &headers).await?;
    let up_to: MessageId = body.up_to.parse().map_err(|_| {
        invalid(
            "invalid_message_id",
            "up_to is the id of a message of this conversation.",
            "up_to",
        )
    })?;
    let c = &widget.connection;
    if let Some(contact) = v.contact_id {
        let mut tx = state.store.begin().await?;
        tx.mark_widget_replies(
            c.workspace_id,
            c.id,
            contact,
            up_to,
            MessageStatus::Read,
            state.clock.now(),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------
// The visitor's privacy: download and delete

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TranscriptQuery {
    /// `json` (the default) or `text`.
    format: Option<String>,
}

#[derive(serde::Serialize)]
struct Transcript {
    widget: String,
    visitor_id: String,
    /// The email on the visitor's contact (the one given before the chat, or an agent's).
    email: Option<String>,
    exported_at: String,
    messages: Vec<WidgetMessage>,
}

async fn transcript(
    State(state): State<AppState>,
    Extension(widget): Extension<Widget>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, WidgetError> {
    let v = visitor(&state, &widget, &headers).await?;
    let query: TranscriptQuery = parse_query(raw.as_deref())?;
    let text = match nonempty(&query.format) {
        None | Some("json") => false,
        Some("text") => true,
        Some(_) => {
            return Err(invalid(
                "invalid_format",
                "The format is json or text.",
                "format",
            ));
        }
    };
    let c = &widget.connection;
    let mut messages = Vec::new();
    let mut email = None;
    if let Some(contact) = v.contact_id {
        email = match state.store.contact(c.workspace_id, contact).await {
            Ok(found) => found.email,
            Err(switchboard_store::StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let mut after = None;
        loop {
            let page = state
                .store
                .widget_messages(c.workspace_id, c.id, contact, after, PAGE)
                .await?;
            let last = page.iter().map(|m| m.id).max();
            let fresh: Vec<Message> = page
                .into_iter()
                .filter(|m| after.is_none_or(|a| m.id > a))
                .collect();
            if fresh.is_empty() {
                break;
            }
            messages.extend(fresh);
            after = last;
        }
    }
    let now = state.clock.now();
    let transcript = Transcript {
        widget: c.name.clone(),
        visitor_id: v.id.to_string(),
        email,
        exported_at: rfc3339(now),
        messages: views(&state, c.workspace_id, &messages).await?,
    };
    let (body, content_type, extension) = if text {
        let mut out = format!(
            "Your conversation with {}\nExported {}\n",
            transcript.widget, transcript.exported_at
        );
        if let Some(email) = &transcript.email {
            out.push_str(&format!("Your email: {email}\n"));
        }
        out.push('\n');
        for m in &transcript.messages {
            let who = if m.from == "visitor" {
                "You"
            } else {
                transcript.widget.as_str()
            };
            let words = m.text.as_deref().unwrap_or("(attachment)");
            out.push_str(&format!("[{}] {who}: {words}\n", m.created_at));
        }
        (out, "text/plain; charset=utf-8", "txt")
    } else {
        (
            serde_json::to_string_pretty(&transcript).map_err(ApiError::internal)?,
            "application/json",
            "json",
        )
    };
    let disposition = format!("attachment; filename=\"conversation.{extension}\"");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

#[derive(serde::Serialize)]
struct Erased {
    messages: u64,
    conversations: u64,
}

async fn erase_conversation(
    State(state): State<AppState>,
    Extension(widget): Extension<Widget>,
    headers: HeaderMap,
) -> Result<Response, WidgetError> {
    let v = visitor(&state, &widget, &headers).await?;
    let c = &widget.connection;
    let mut tx = state.store.begin().await?;
    let erased = tx
        .erase_widget_visitor(c.workspace_id, v.id, state.clock.now())
        .await?;
    tx.commit().await?;
    // Counts only: nothing about the visitor goes to the log.
    tracing::info!(
        connection = %c.id,
        messages = erased.messages,
        conversations = erased.conversations,
        "a widget visitor deleted their conversation"
    );
    Ok(Json(Erased {
        messages: erased.messages,
        conversations: erased.conversations,
    })
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// The script and the demo page

/// The script for one widget: the static `assets/widget.js`, called with the widget's
/// settings. Its URL carries no version, so it is cached for a day (and revalidated by ETag)
/// rather than for a year: a changed colour reaches sites within a day.
async fn script(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(key) = file.strip_suffix(".js") else {
        return crate::web::error_page(ApiError::NotFound);
    };
    let connection = match state
        .store
        .connection_by_account(ChannelKind::Widget, key)
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return crate::web::error_page(ApiError::NotFound),
        Err(e) => return crate::web::error_page(e.into()),
    };
    if connection.status == ConnectionStatus::Disconnected {
        return refused(
            StatusCode::GONE,
            "widget_disconnected",
            "This chat is no longer available.",
        )
        .into_response();
    }
    let settings = settings_of(&connection);
    let config = serde_json::json!({
        "key": connection.account_id,
        "api": state.config.public_url,
        "name": settings.name,
        "colour": settings.colour,
        "greeting": settings.greeting,
        "prechat_email": settings.prechat_email,
    });
    let body = format!("(function () {{\n{WIDGET_JS}\nswitchboardWidget({config});\n}})();\n");
    let etag = format!(
        "\"{}\"",
        secret_token::hash(&body).get(..32).unwrap_or_default()
    );
    let cache = [
        (header::CACHE_CONTROL, "public, max-age=86400".to_owned()),
        (header::ETAG, etag.clone()),
        (
            header::HeaderName::from_static("cross-origin-resource-policy"),
            "cross-origin".to_owned(),
        ),
    ];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        StatusCode::OK,
        cache,
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        body,
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "widget_demo.html")]
struct DemoPage {
    key: &'static str,
}

/// A pretend shop page with the demo workspace's widget on it (`serve --demo`).
async fn demo_page(State(state): State<AppState>) -> Response {
    match state
        .store
        .connection_by_account(ChannelKind::Widget, DEMO_WIDGET_KEY)
        .await
    {
        Ok(Some(c)) if c.status != ConnectionStatus::Disconnected => {
            crate::web::render(&DemoPage {
                key: DEMO_WIDGET_KEY,
            })
        }
        Ok(_) => crate::web::error_page(ApiError::NotFound),
        Err(e) => crate::web::error_page(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn origins_match_domains_exactly() {
        let domains = d(&[
            "shop.example",
            "localhost:3000",
            "https://www.shop.example/",
        ]);
        assert!(origin_allowed("https://shop.example", &domains));
        assert!(origin_allowed("HTTPS://SHOP.EXAMPLE", &domains));
        assert!(origin_allowed("https://www.shop.example", &domains));
        assert!(origin_allowed("http://localhost:3000", &domains));
        // Another scheme, port or host is another origin.
        assert!(!origin_allowed("http://shop.example", &domains));
        assert!(!origin_allowed("https://shop.example:8443", &domains));
        assert!(!origin_allowed("https://evil.shop.example", &domains));
        assert!(!origin_allowed("https://shop.example.evil", &domains));
        assert!(!origin_allowed("http://localhost:3001", &domains));
        assert!(!origin_allowed("null", &domains));
        assert!(!origin_allowed("", &domains));
        assert!(!origin_allowed("https://user@shop.example", &domains));
    }

    #[test]
    fn plain_http_is_only_for_loopback() {
        assert!(origin_allowed(
            "http://127.0.0.1:8080",
            &d(&["127.0.0.1:8080"])
        ));
        assert!(origin_allowed("http://[::1]:8080", &d(&["[::1]:8080"])));
        assert!(!origin_allowed(
            "http://intranet:8080",
            &d(&["intranet:8080"])
        ));
        assert!(!origin_allowed("http://intranet", &d(&["http://intranet"])));
    }

    #[test]
    fn the_public_url_gives_its_origin() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080/some/path").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            origin_of("https://Chat.Example").as_deref(),
            Some("https://chat.example")
        );
    }
}
