//! Channel connections: connect a WhatsApp number, a Facebook page, an Instagram, TikTok or
//! Telegram account or a website widget; list them; "test connection"; disconnect (step-up).
//! Through the API (`/api/v1/channels`) and the settings page (`/settings/channels`).
//!
//! Invariants: credentials go straight into the store, which seals them; no answer, page or
//! log line carries them. A Telegram bot is connected only once `setWebhook` succeeded, with a
//! fresh secret token whose SHA-256 alone is stored.

use crate::audit;
use crate::auth::csrf::WebForm;
use crate::auth::step_up::{RecentAuth, WebRecentAuth};
use crate::auth::{ClientInfo, WebUser, WorkspaceAccess, secret_token};
use crate::channel_access::{self, api_base, credentials_json};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::widget::PrechatEmail;
use crate::routes::workspaces::{EmptyForm, path_id, rfc3339, web_admin};
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use switchboard_channels::{HttpRequest, SendTarget, meta, telegram, tiktok};
use switchboard_core::channel::ChannelKind;
use switchboard_core::{ConnectionId, Role, ValidationError};
use switchboard_store::connections::{Connection, ConnectionStatus, NewConnection};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_channel, list_channels))
        .routes(routes!(get_channel, disconnect_channel, update_channel))
        .routes(routes!(test_channel))
}

pub fn web_router() -> Router<AppState> {
    Router::new()
        .route("/settings/channels", get(channels_page).post(web_connect))
        .route("/settings/channels/{id}/test", post(web_test))
        .route("/settings/channels/{id}/widget", post(web_update_widget))
        .route("/settings/channels/{id}/disconnect", post(web_disconnect))
}

#[derive(serde::Serialize, ToSchema)]
pub struct ChannelView {
    pub id: String,
    /// `whatsapp`, `messenger`, `instagram`, `tiktok`, `telegram` or `widget`.
    pub kind: String,
    pub name: String,
    /// The platform's id for the account (phone number id, page id, bot id, widget key, ...).
    pub account_id: String,
    /// `active`, `needs_attention` or `disconnected`.
    pub status: String,
    /// Why the connection needs attention.
    pub status_reason: Option<String>,
    pub has_credentials: bool,
    pub meta_user_id: Option<String>,
    /// Widget domains, colour, greeting and `prechat_email` (`off`, `optional`,
    /// `required`); the WhatsApp business account id.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub disconnected_at: Option<String>,
}

impl From<&Connection> for ChannelView {
    fn from(c: &Connection) -> Self {
        Self {
            id: c.id.to_string(),
            kind: c.kind.as_str().to_owned(),
            name: c.name.clone(),
            account_id: c.account_id.clone(),
            status: c.status.as_str().to_owned(),
            status_reason: c.status_reason.clone(),
            has_credentials: c.has_credentials,
            meta_user_id: c.meta_user_id.clone(),
            settings: c.settings.clone(),
            created_at: rfc3339(c.created_at),
            disconnected_at: c.disconnected_at.map(rfc3339),
        }
    }
}

impl ChannelView {
    /// A widget's `prechat_email` setting (`off` when absent), for the settings page.
    pub fn prechat_email(&self) -> &'static str {
        let value = self
            .settings
            .get("prechat_email")
            .and_then(serde_json::Value::as_str);
        PrechatEmail::parse(value)
            .unwrap_or(PrechatEmail::Off)
            .as_str()
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct ChannelList {
    pub data: Vec<ChannelView>,
}

/// What to connect; the fields depend on `kind`. Secrets are write-only.
#[derive(serde::Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConnectChannel {
    Whatsapp {
        phone_number_id: String,
        business_account_id: String,
        access_token: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        meta_user_id: Option<String>,
    },
    Messenger {
        page_id: String,
        page_token: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        meta_user_id: Option<String>,
    },
    Instagram {
        account_id: String,
        token: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        meta_user_id: Option<String>,
    },
    Tiktok {
        business_id: String,
        access_token: String,
        #[serde(default)]
        name: Option<String>,
    },
    Telegram {
        bot_token: String,
        #[serde(default)]
        name: Option<String>,
    },
    Widget {
        domains: Vec<String>,
        #[serde(default)]
        colour: Option<String>,
        #[serde(default)]
        greeting: Option<String>,
        /// Ask a new visitor for their email before the chat: `off` (the default),
        /// `optional`, or `required`. The email is stored on the visitor's contact.
        #[serde(default)]
        prechat_email: Option<String>,
        #[serde(default)]
        name: Option<String>,
    },
}

/// What may change on a connection once made: a widget's pre-chat email setting.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChannel {
    /// Widgets: ask a new visitor for their email before the chat (`off`, `optional`,
    /// `required`).
    #[serde(default)]
    pub prechat_email: Option<String>,
}

/// What "test connection" found.
#[derive(serde::Serialize, ToSchema)]
pub struct TestResult {
    /// The platform accepted the connection's credentials.
    pub ok: bool,
    /// The platform's HTTP status.
    pub status: u16,
    /// What the platform said, in its words.
    pub message: String,
}

/// A connection ready to store.
struct Prepared {
    kind: ChannelKind,
    name: String,
    account_id: String,
    token: Option<SecretString>,
    meta_user_id: Option<String>,
    settings: serde_json::Value,
}

fn required(value: &str, field: &'static str) -> Result<String, ValidationError> {
    let v = value.trim();
    if v.is_empty() || v.len() > 512 || v.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "invalid_field",
            format!("`{field}` is required (at most 512 characters)."),
        )
        .on(field));
    }
    Ok(v.to_owned())
}

fn optional(value: Option<&str>, field: &'static str) -> Result<Option<String>, ValidationError> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| required(v, field))
        .transpose()
}

/// A connection that holds one access token: the account id and the token read from the
/// named fields, the name defaulting to "<label> <account id>".
fn with_token(
    kind: ChannelKind,
    label: &str,
    (account, account_field): (&str, &'static str),
    (token, token_field): (&str, &'static str),
    name: Option<&str>,
    meta_user_id: Option<&str>,
) -> Result<Prepared, ValidationError> {
    let account_id = required(account, account_field)?;
    Ok(Prepared {
        kind,
        name: optional(name, "name")?.unwrap_or_else(|| format!("{label} {account_id}")),
        account_id,
        token: Some(SecretString::from(required(token, token_field)?)),
        meta_user_id: optional(meta_user_id, "meta_user_id")?,
        settings: serde_json::json!({}),
    })
}

fn prepare(body: ConnectChannel) -> Result<Prepared, ValidationError> {
    Ok(match body {
        ConnectChannel::Whatsapp {
            phone_number_id,
            business_account_id,
            access_token,
            name,
            meta_user_id,
        } => {
            let mut prepared = with_token(
                ChannelKind::WhatsApp,
                "WhatsApp",
                (&phone_number_id, "phone_number_id"),
                (&access_token, "access_token"),
                name.as_deref(),
                meta_user_id.as_deref(),
            )?;
            prepared.settings = serde_json::json!({
                "business_account_id": required(&business_account_id, "business_account_id")?
            });
            prepared
        }
        ConnectChannel::Messenger {
            page_id,
            page_token,
            name,
            meta_user_id,
        } => with_token(
            ChannelKind::Messenger,
            "Messenger",
            (&page_id, "page_id"),
            (&page_token, "page_token"),
            name.as_deref(),
            meta_user_id.as_deref(),
        )?,
        ConnectChannel::Instagram {
            account_id,
            token,
            name,
            meta_user_id,
        } => with_token(
            ChannelKind::Instagram,
            "Instagram",
            (&account_id, "account_id"),
            (&token, "token"),
            name.as_deref(),
            meta_user_id.as_deref(),
        )?,
        ConnectChannel::Tiktok {
            business_id,
            access_token,
            name,
        } => with_token(
            ChannelKind::TikTok,
            "TikTok",
            (&business_id, "business_id"),
            (&access_token, "access_token"),
            name.as_deref(),
            None,
        )?,
        ConnectChannel::Telegram { bot_token, name } => {
            let token = required(&bot_token, "bot_token")?;
            // A bot token is `<bot id>:<secret>`; the bot id names the account.
            let account_id = match token.split_once(':') {
                Some((id, rest))
                    if !id.is_empty()
                        && id.bytes().all(|b| b.is_ascii_digit())
                        && !rest.is_empty() =>
                {
                    id.to_owned()
                }
                _ => {
                    return Err(ValidationError::new(
                        "invalid_bot_token",
                        "A Telegram bot token looks like 123456:ABC-DEF… (from @BotFather).",
                    )
                    .on("bot_token"));
                }
            };
            Prepared {
                kind: ChannelKind::Telegram,
                name: optional(name.as_deref(), "name")?
                    .unwrap_or_else(|| format!("Telegram bot {account_id}")),
                account_id,
                token: Some(SecretString::from(token)),
                meta_user_id: None,
                settings: serde_json::json!({}),
            }
        }
        ConnectChannel::Widget {
            domains,
            colour,
            greeting,
            prechat_email,
            name,
        } => {
            let prechat_email =
                crate::routes::widget::PrechatEmail::parse(prechat_email.as_deref())?;
            let domains = domains
                .iter()
                .map(|d| required(d, "domains").map(|d| d.to_lowercase()))
                .collect::<Result<Vec<_>, _>>()?;
            if domains.is_empty() || domains.len() > 50 {
                return Err(ValidationError::new(
                    "invalid_field",
                    "Give 1 to 50 domains the widget may be embedded on.",
                )
                .on("domains"));
            }
            let colour = optional(colour.as_deref(), "colour")?;
            if let Some(c) = &colour
                && !(c.len() == 7
                    && c.starts_with('#')
                    && c.bytes().skip(1).all(|b| b.is_ascii_hexdigit()))
            {
                return Err(
                    ValidationError::new("invalid_field", "A colour looks like #1a2b3c.")
                        .on("colour"),
                );
            }
            Prepared {
                kind: ChannelKind::Widget,
                name: optional(name.as_deref(), "name")?.unwrap_or_else(|| "Website widget".into()),
                account_id: secret_token::generate("wgt_"),
                token: None,
                meta_user_id: None,
                settings: serde_json::json!({
                    "domains": domains,
                    "colour": colour,
                    "greeting": optional(greeting.as_deref(), "greeting")?,
                    "prechat_email": prechat_email.as_str(),
                }),
            }
        }
    })
}

/// The text of a platform's refusal: Graph's `error.message`, Telegram's `description`,
/// TikTok's `message`.
fn platform_message(body: &[u8]) -> String {
    if let Some(message) = meta::GraphError::read(body).and_then(|e| e.message) {
        return message;
    }
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    value
        .get("description")
        .or_else(|| value.get("message"))
        .and_then(serde_json::Value::as_str)
        .map(|m| m.chars().take(300).collect())
        .unwrap_or_else(|| "The platform gave no reason.".to_owned())
}

/// Runs a platform call; `Ok` carries the status and what the platform said.
async fn call(state: &AppState, request: &HttpRequest) -> Result<(bool, u16, String), ApiError> {
    let answer = state
        .platform_http
        .execute(request)
        .await
        .map_err(|e| ApiError::BadGateway {
            code: "platform_unreachable",
            message: e.to_string(),
        })?;
    let value: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    // Telegram answers `{"ok": false}` and TikTok `{"code": non-zero}` for refusals.
    let ok = answer.status.is_success()
        && value.get("ok").and_then(serde_json::Value::as_bool) != Some(false)
        && value
            .get("code")
            .and_then(serde_json::Value::as_i64)
            .is_none_or(|c| c == 0);
    let message = if ok {
        value
            .get("name")
            .or_else(|| value.pointer("/result/username"))
            .or_else(|| value.pointer("/data/display_name"))
            .or_else(|| value.get("verified_name"))
            .and_then(serde_json::Value::as_str)
            .map(|n| format!("Connected as {n}."))
            .unwrap_or_else(|| "The platform accepted the credentials.".to_owned())
    } else {
        platform_message(&answer.body)
    };
    Ok((ok, answer.status.as_u16(), message))
}

async fn connect(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    body: ConnectChannel,
) -> Result<Connection, ApiError> {
    access.require(Role::Admin)?;
    let prepared = prepare(body)?;
    let id = ConnectionId::new();
    let mut webhook_secret_hash = None;
    if let (ChannelKind::Telegram, Some(token)) = (prepared.kind, &prepared.token) {
        // Registering the webhook of a bot another connection holds would steal its updates.
        if state
            .store
            .route(ChannelKind::Telegram, &prepared.account_id)
            .await?
            .is_some()
        {
            return Err(ApiError::Conflict {
                code: "connection_exists",
                message: "That account is already connected to a workspace.".into(),
            });
        }
        let secret = secret_token::generate("");
        let target = SendTarget {
            base_url: &state.config.platforms.telegram_api_base,
            account_id: &prepared.account_id,
            token,
        };
        let url = format!("{}/webhooks/telegram/{id}", state.config.public_url);
        let (ok, _, message) = call(
            state,
            &telegram::set_webhook_request(&target, &url, &SecretString::from(secret.clone())),
        )
        .await?;
        if !ok {
            return Err(ValidationError::new(
                "platform_refused",
                format!("Telegram refused to register the webhook: {message}"),
            )
            .on("bot_token")
            .into());
        }
        webhook_secret_hash = Some(secret_token::hash(&secret));
    }
    let credentials = prepared
        .token
        .as_ref()
        .map(credentials_json)
        .unwrap_or_else(|| SecretString::from("{}".to_owned()));
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let connection = tx
        .insert_connection_with_id(
            access.workspace_id,
            id,
            &NewConnection {
                kind: prepared.kind,
                name: &prepared.name,
                account_id: &prepared.account_id,
                credentials: &credentials,
                webhook_secret_hash: webhook_secret_hash.as_deref(),
                meta_user_id: prepared.meta_user_id.as_deref(),
                settings: &prepared.settings,
            },
            &state.master_key,
            now,
        )
        .await?;
    let event = audit::with_details(
        audit::by(access, client, "channel.connected").target(
            "channel_connection",
            connection.id,
            Some(&connection.name),
        ),
        serde_json::json!({ "kind": connection.kind.as_str() }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(connection)
}

/// Changes a widget's settings (admin; audited `channel.updated` with the new values, which
/// are settings, not personal data). Only widgets have settings an operator changes later.
async fn update(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: ConnectionId,
    body: UpdateChannel,
) -> Result<Connection, ApiError> {
    access.require(Role::Admin)?;
    let prechat = body
        .prechat_email
        .as_deref()
        .map(|p| PrechatEmail::parse(Some(p)))
        .transpose()?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    // Read in the writing transaction, so two changes cannot undo each other's settings.
    let connection = tx.connection(access.workspace_id, id).await?;
    if connection.kind != ChannelKind::Widget {
        return Err(ValidationError::new(
            "not_a_widget",
            "Only a website widget has settings to change; connect the channel again instead.",
        )
        .into());
    }
    if connection.status == ConnectionStatus::Disconnected {
        return Err(ApiError::Conflict {
            code: "connection_disconnected",
            message: "The channel is disconnected; connect it again.".into(),
        });
    }
    let mut settings = connection.settings.clone();
    let mut changed = serde_json::Map::new();
    if let (Some(p), Some(object)) = (prechat, settings.as_object_mut()) {
        object.insert("prechat_email".into(), p.as_str().into());
        changed.insert("prechat_email".into(), p.as_str().into());
    }
    tx.update_connection(access.workspace_id, id, &connection.name, &settings, now)
        .await?;
    let event = audit::with_details(
        audit::by(access, client, "channel.updated").target(
            "channel_connection",
            id,
            Some(&connection.name),
        ),
        serde_json::Value::Object(changed),
    );
    tx.record_audit(&event, now).await?;
    let connection = tx.connection(access.workspace_id, id).await?;
    tx.commit().await?;
    Ok(connection)
}

async fn test_connection(
    state: &AppState,
    access: &WorkspaceAccess,
    id: ConnectionId,
) -> Result<TestResult, ApiError> {
    access.require(Role::Admin)?;
    let connection = state.store.connection(access.workspace_id, id).await?;
    if connection.kind == ChannelKind::Widget {
        return Ok(TestResult {
            ok: true,
            status: 200,
            message: "The widget is served by Switchboard itself.".into(),
        });
    }
    let token = match channel_access::access_token(state, access.workspace_id, id).await {
        Ok(token) => token,
        Err(switchboard_store::StoreError::NotFound) => {
            return Err(ApiError::Conflict {
                code: "connection_disconnected",
                message: "The channel is disconnected; connect it again.".into(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let base = api_base(&state.config.platforms, connection.kind);
    let target = SendTarget {
        base_url: base,
        account_id: &connection.account_id,
        token: &token,
    };
    let request = match connection.kind {
        ChannelKind::Telegram => telegram::get_me_request(&target),
        ChannelKind::TikTok => tiktok::business_request(&target),
        _ => meta::account_request(&target),
    };
    let (ok, status, message) = call(state, &request).await?;
    Ok(TestResult {
        ok,
        status,
        message,
    })
}

async fn disconnect(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: ConnectionId,
) -> Result<Connection, ApiError> {
    access.require(Role::Admin)?;
    let connection = state.store.connection(access.workspace_id, id).await?;
    unsubscribe_webhooks(state, access.workspace_id, &connection).await;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.disconnect(access.workspace_id, id, now).await?;
    let event = audit::with_details(
        audit::by(access, client, "channel.disconnected").target(
            "channel_connection",
            id,
            Some(&connection.name),
        ),
        serde_json::json!({ "kind": connection.kind.as_str() }),
    );
    tx.record_audit(&event, now).await?;
    let connection = tx.connection(access.workspace_id, id).await?;
    tx.commit().await?;
    Ok(connection)
}

/// Asks the platform to stop sending this connection's webhooks, while its token still
/// exists: Telegram `deleteWebhook`; Meta `DELETE /{object}/subscribed_apps` (the page, the
/// Instagram account, or the WhatsApp business account). Best effort: the token is deleted
/// afterwards whatever the platform says, and webhooks that still arrive for a disconnected
/// connection are acknowledged and dropped.
pub(crate) async fn unsubscribe_webhooks(
    state: &AppState,
    ws: switchboard_core::WorkspaceId,
    connection: &Connection,
) {
    let Ok(token) = channel_access::access_token(state, ws, connection.id).await else {
        return;
    };
    let base = api_base(&state.config.platforms, connection.kind);
    let target = SendTarget {
        base_url: base,
        account_id: &connection.account_id,
        token: &token,
    };
    let request = match connection.kind {
        ChannelKind::Telegram => telegram::delete_webhook_request(&target),
        ChannelKind::Messenger | ChannelKind::Instagram => {
            switchboard_channels::meta::unsubscribe_app_request(&target, &connection.account_id)
        }
        ChannelKind::WhatsApp => match connection
            .settings
            .get("business_account_id")
            .and_then(serde_json::Value::as_str)
        {
            Some(waba) => switchboard_channels::meta::unsubscribe_app_request(&target, waba),
            None => return,
        },
        ChannelKind::TikTok | ChannelKind::Widget => return,
    };
    match state.platform_http.execute(&request).await {
        Ok(answer) if answer.status.is_success() => {}
        Ok(answer) => tracing::warn!(
            kind = connection.kind.as_str(),
            status = answer.status.as_u16(),
            "the platform refused to drop the webhook subscription; disconnecting anyway"
        ),
        Err(e) => tracing::warn!(
            kind = connection.kind.as_str(),
            error = %e,
            "the platform could not be asked to drop the webhook subscription; disconnecting anyway"
        ),
    }
}

/// Connects a channel (admin). Secrets are sealed and never returned.
#[utoipa::path(post, path = "/api/v1/channels", tag = "channels",
    request_body = ConnectChannel,
    responses((status = 201, body = ChannelView), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_channel(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    ApiJson(body): ApiJson<ConnectChannel>,
) -> Result<(StatusCode, ApiJson<ChannelView>), ApiError> {
    let connection = connect(&state, &access, &client, body).await?;
    Ok((StatusCode::CREATED, ApiJson(ChannelView::from(&connection))))
}

/// The workspace's channel connections, disconnected ones included; never their secrets.
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels",
    responses((status = 200, body = ChannelList)),
    security(("bearer" = [])))]
async fn list_channels(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<ChannelList>, ApiError> {
    let data = state
        .store
        .connections(access.workspace_id)
        .await?
        .iter()
        .map(ChannelView::from)
        .collect();
    Ok(ApiJson(ChannelList { data }))
}

/// One channel connection.
#[utoipa::path(get, path = "/api/v1/channels/{id}", tag = "channels",
    params(("id" = String, Path, description = "The connection's id")),
    responses((status = 200, body = ChannelView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_channel(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<ChannelView>, ApiError> {
    let id: ConnectionId = path_id(&id)?;
    let connection = state.store.connection(access.workspace_id, id).await?;
    Ok(ApiJson(ChannelView::from(&connection)))
}

/// Changes a widget's settings (admin): `prechat_email`.
#[utoipa::path(patch, path = "/api/v1/channels/{id}", tag = "channels",
    params(("id" = String, Path, description = "The connection's id")),
    request_body = UpdateChannel,
    responses((status = 200, body = ChannelView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_channel(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateChannel>,
) -> Result<ApiJson<ChannelView>, ApiError> {
    let id: ConnectionId = path_id(&id)?;
    let connection = update(&state, &access, &client, id, body).await?;
    Ok(ApiJson(ChannelView::from(&connection)))
}

/// "Test connection": asks the platform who the credentials belong to, and reports what it
/// said (admin).
#[utoipa::path(post, path = "/api/v1/channels/{id}/test", tag = "channels",
    params(("id" = String, Path, description = "The connection's id")),
    responses((status = 200, body = TestResult), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
async fn test_channel(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<TestResult>, ApiError> {
    let id: ConnectionId = path_id(&id)?;
    Ok(ApiJson(test_connection(&state, &access, id).await?))
}

/// Disconnects a channel (admin; sessions need step-up): its credentials are deleted at once,
/// sending and receiving stop, and the deletion of its data is queued.
#[utoipa::path(delete, path = "/api/v1/channels/{id}", tag = "channels",
    params(("id" = String, Path, description = "The connection's id")),
    responses((status = 200, body = ChannelView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn disconnect_channel(
    State(state): State<AppState>,
    RecentAuth(access): RecentAuth,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiJson<ChannelView>, ApiError> {
    let id: ConnectionId = path_id(&id)?;
    let connection = disconnect(&state, &access, &client, id).await?;
    Ok(ApiJson(ChannelView::from(&connection)))
}

// ---------------------------------------------------------------------------------------------
// Settings page

#[derive(Template)]
#[template(path = "connections.html")]
struct ChannelsPage {
    nav: Option<Nav>,
    section: &'static str,
    csrf: String,
    channels: Vec<ChannelView>,
    notice: Option<String>,
    error: Option<ValidationError>,
    /// Where the widget script is served from, for the embed snippet.
    public_url: String,
}

async fn render_page(
    state: &AppState,
    nav: Nav,
    access: &WorkspaceAccess,
    notice: Option<String>,
    error: Option<ApiError>,
) -> Result<Response, WebError> {
    let channels = state
        .store
        .connections(access.workspace_id)
        .await?
        .iter()
        .map(ChannelView::from)
        .collect();
    let status = error.as_ref().map_or(StatusCode::OK, ApiError::status);
    let error = error.map(|e| match e {
        ApiError::Validation(v) => v,
        other => ValidationError::new(other.code(), other.to_string()),
    });
    let page = ChannelsPage {
        csrf: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "channels",
        channels,
        notice,
        error,
        public_url: state.config.public_url.clone(),
    };
    Ok((status, render(&page)).into_response())
}

async fn channels_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    render_page(&state, nav, &access, None, None).await
}

/// The connect form: one form per kind, all fields optional here and checked by `prepare`.
#[derive(serde::Deserialize)]
struct ConnectForm {
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    business_account_id: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    domains: String,
    #[serde(default)]
    colour: String,
    #[serde(default)]
    greeting: String,
    #[serde(default)]
    prechat_email: String,
}

fn from_form(form: ConnectForm) -> Result<ConnectChannel, ApiError> {
    let name = Some(form.name).filter(|n| !n.trim().is_empty());
    Ok(match form.kind.as_str() {
        "whatsapp" => ConnectChannel::Whatsapp {
            phone_number_id: form.account_id,
            business_account_id: form.business_account_id,
            access_token: form.token,
            name,
            meta_user_id: None,
        },
        "messenger" => ConnectChannel::Messenger {
            page_id: form.account_id,
            page_token: form.token,
            name,
            meta_user_id: None,
        },
        "instagram" => ConnectChannel::Instagram {
            account_id: form.account_id,
            token: form.token,
            name,
            meta_user_id: None,
        },
        "tiktok" => ConnectChannel::Tiktok {
            business_id: form.account_id,
            access_token: form.token,
            name,
        },
        "telegram" => ConnectChannel::Telegram {
            bot_token: form.token,
            name,
        },
        "widget" => ConnectChannel::Widget {
            domains: form
                .domains
                .split([',', ' ', '\n'])
                .filter(|d| !d.trim().is_empty())
                .map(str::to_owned)
                .collect(),
            colour: Some(form.colour),
            greeting: Some(form.greeting),
            prechat_email: Some(form.prechat_email),
            name,
        },
        _ => {
            return Err(
                ValidationError::new("invalid_kind", "Choose a kind of channel.")
                    .on("kind")
                    .into(),
            );
        }
    })
}

async fn web_connect(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<ConnectForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let result = async {
        let body = from_form(form)?;
        connect(&state, &access, &client, body).await
    }
    .await;
    match result {
        Ok(c) => {
            let notice = format!("Connected {}.", c.name);
            render_page(&state, nav, &access, Some(notice), None).await
        }
        Err(e) => render_page(&state, nav, &access, None, Some(e)).await,
    }
}

async fn web_test(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WebForm { auth, .. }: WebForm<EmptyForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let id: ConnectionId = path_id(&id)?;
    match test_connection(&state, &access, id).await {
        Ok(r) => {
            let notice = if r.ok {
                format!("Test passed: {}", r.message)
            } else {
                format!("Test failed (HTTP {}): {}", r.status, r.message)
            };
            render_page(&state, nav, &access, Some(notice), None).await
        }
        Err(e) => render_page(&state, nav, &access, None, Some(e)).await,
    }
}

#[derive(serde::Deserialize)]
struct WidgetForm {
    prechat_email: String,
}

async fn web_update_widget(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<WidgetForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let id: ConnectionId = path_id(&id)?;
    let body = UpdateChannel {
        prechat_email: Some(form.prechat_email),
    };
    match update(&state, &access, &client, id, body).await {
        Ok(c) => {
            let notice = format!("Saved the settings of {}.", c.name);
            render_page(&state, nav, &access, Some(notice), None).await
        }
        Err(e) => render_page(&state, nav, &access, None, Some(e)).await,
    }
}

async fn web_disconnect(
    State(state): State<AppState>,
    _recent: WebRecentAuth,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, .. }: WebForm<EmptyForm>,
) -> Result<Response, WebError> {
    let (_, access) = web_admin(&state, &auth).await?;
    let id: ConnectionId = path_id(&id)?;
    disconnect(&state, &access, &client, id).await?;
    Ok(Redirect::to("/settings/channels").into_response())
}
