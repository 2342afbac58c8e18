//! Outbound webhooks (Standard Webhooks) for a workspace's own systems: subscriptions
//! (admin), their signing secrets, the delivery log, redelivery and test events — through
//! `/api/v1/webhooks` and Settings → Webhooks. Inbound platform webhooks are `webhooks.rs`.
//!
//! Invariants: a secret leaves the server exactly once, in the answer that creates or
//! rotates it (sessions need step-up for both); a URL is checked (`https`, a public address
//! unless private targets are allowed) before it is stored, and again when dialled; every
//! id in a path is looked up in the caller's workspace, and a delivery only under its own
//! subscription, so another workspace's ids are 404.

use crate::audit;
use crate::auth::csrf::WebForm;
use crate::auth::step_up::{RecentAuth, WebRecentAuth};
use crate::auth::{ClientInfo, WebUser, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::jobs::webhook_delivery::{check_url, generate_secret};
use crate::json::ApiJson;
use crate::routes::paging::{invalid_cursor, nonempty, parse_limit, parse_query};
use crate::routes::workspaces::{EmptyForm, path_id, rfc3339, web_admin};
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use switchboard_core::{
    Role, ValidationError, WebhookDeliveryId, WebhookSubscriptionId, WorkspaceId,
};
use switchboard_store::webhooks::{
    NewSubscription, SubscriptionChange, WebhookAttempt, WebhookDelivery, WebhookEventType,
    WebhookSubscription,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How long a rotated-out secret keeps signing beside the new one.
const ROTATION_OVERLAP: time::Duration = time::Duration::hours(24);

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(redeliver))
}

pub fn web_router() -> Router<AppState> {
    Router::new()
        .route("/settings/webhooks", get(webhooks_page).post(web_create))
        .route("/settings/webhooks/{id}", get(webhook_page))
        .route("/settings/webhooks/{id}/enabled", post(web_enabled))
        .route("/settings/webhooks/{id}/rotate", post(web_rotate))
        .route("/settings/webhooks/{id}/test", post(web_test))
        .route("/settings/webhooks/{id}/delete", post(web_delete))
        .route(
            "/settings/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(web_redeliver),
        )
}

#[derive(serde::Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub description: String,
    /// The events delivered: `conversation.created`, `conversation.updated`,
    /// `conversation.resolved`, `message.created`, `contact.created`, `contact.updated`,
    /// `contact.deleted`, `privacy_request.completed`.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// `admin` (switched off) or `gone` (the receiver answered 410) while disabled.
    pub disabled_reason: Option<String>,
    #[schema(format = DateTime)]
    pub disabled_at: Option<String>,
    /// Until when the secret before the last rotation still signs (a second signature).
    #[schema(format = DateTime)]
    pub previous_secret_expires_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&WebhookSubscription> for WebhookView {
    fn from(s: &WebhookSubscription) -> Self {
        Self {
            id: s.id.to_string(),
            url: s.url.clone(),
            description: s.description.clone(),
            event_types: s
                .event_types
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            enabled: s.enabled,
            disabled_reason: s.disabled_reason.clone(),
            disabled_at: s.disabled_at.map(rfc3339),
            previous_secret_expires_at: s.previous_secret_expires_at.map(rfc3339),
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct WebhookList {
    pub data: Vec<WebhookView>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct WebhookWithSecret {
    /// The signing secret (`whsec_` + base64): shown this once, never again.
    pub secret: String,
    #[serde(flatten)]
    pub webhook: WebhookView,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `https://` and a public host.
    pub url: String,
    /// At least one event type.
    pub event_types: Vec<String>,
    /// Up to 500 characters.
    pub description: Option<String>,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    /// Enabling clears a 410's disabling; disabling cancels pending deliveries.
    pub enabled: Option<bool>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i64,
    /// The receiver's HTTP status; absent when it could not be reached.
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    /// Ours, short: `timed out`, `could not connect`, `HTTP 500`.
    pub error: Option<String>,
    #[schema(format = DateTime)]
    pub attempted_at: String,
}

impl From<&WebhookAttempt> for AttemptView {
    fn from(a: &WebhookAttempt) -> Self {
        Self {
            attempt: a.attempt,
            status_code: a.status_code,
            duration_ms: a.duration_ms,
            error: a.error.clone(),
            attempted_at: rfc3339(a.attempted_at),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    /// The `webhook-id` header, the same on every attempt.
    pub webhook_id: String,
    pub event_type: String,
    /// The id of what the event is about.
    pub subject_id: String,
    /// `pending`, `delivered`, `failed` or `cancelled`.
    pub state: String,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub delivered_at: Option<String>,
    #[schema(format = DateTime)]
    pub occurred_at: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Every attempt (one delivery only; absent in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<AttemptView>>,
}

impl From<&WebhookDelivery> for DeliveryView {
    fn from(d: &WebhookDelivery) -> Self {
        Self {
            id: d.id.to_string(),
            webhook_id: d.webhook_id(),
            event_type: d.event_type.clone(),
            subject_id: d.subject_id.clone(),
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            next_attempt_at: d.next_attempt_at.map(rfc3339),
            delivered_at: d.delivered_at.map(rfc3339),
            occurred_at: rfc3339(d.occurred_at),
            created_at: rfc3339(d.created_at),
            attempt_log: None,
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct DeliveryList {
    pub data: Vec<DeliveryView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(serde::Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 200; 50 by default.
    pub limit: Option<String>,
}

fn parse_event_types(raw: &[String]) -> Result<Vec<WebhookEventType>, ValidationError> {
    let invalid = || {
        let names: Vec<&str> = WebhookEventType::ALL.iter().map(|t| t.as_str()).collect();
        ValidationError::new(
            "invalid_event_types",
            format!("Choose at least one of: {}.", names.join(", ")),
        )
        .on("event_types")
    };
    if raw.is_empty() || raw.len() > 50 {
        return Err(invalid());
    }
    let mut types = Vec::new();
    for name in raw {
        let t = WebhookEventType::parse(name.trim()).ok_or_else(invalid)?;
        if !types.contains(&t) {
            types.push(t);
        }
    }
    Ok(types)
}

fn parse_description(raw: Option<&str>) -> Result<String, ValidationError> {
    let d = raw.unwrap_or_default().trim();
    if d.chars().count() > 500 {
        return Err(ValidationError::new(
            "invalid_description",
            "A description is at most 500 characters.",
        )
        .on("description"));
    }
    Ok(d.to_owned())
}

/// The host of a URL, for audit labels (the path or query may carry a token).
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// What a create needs, checked.
struct Checked {
    url: String,
    description: String,
    types: Vec<WebhookEventType>,
}

fn check_create(
    state: &AppState,
    url: &str,
    types: &[String],
    description: Option<&str>,
) -> Result<Checked, ApiError> {
    Ok(Checked {
        url: check_url(url, state.config.webhooks_allow_private_targets)?,
        types: parse_event_types(types)?,
        description: parse_description(description)?,
    })
}

async fn create(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    new: &Checked,
) -> Result<(String, WebhookSubscription), ApiError> {
    let (text, bytes) = generate_secret();
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let sub = tx
        .insert_webhook_subscription(
            access.workspace_id,
            &NewSubscription {
                url: &new.url,
                description: &new.description,
                event_types: &new.types,
                secret: &bytes,
            },
            &state.master_key,
            now,
        )
        .await?;
    let event = audit::with_details(
        audit::by(access, client, "webhook.created").target(
            "webhook",
            sub.id,
            Some(&host_of(&sub.url)),
        ),
        serde_json::json!({ "event_types": WebhookView::from(&sub).event_types }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok((text, sub))
}

async fn update(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: WebhookSubscriptionId,
    change: &SubscriptionChange<'_>,
) -> Result<WebhookSubscription, ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let sub = tx
        .update_webhook_subscription(access.workspace_id, id, change, now)
        .await?;
    let event = audit::with_details(
        audit::by(access, client, "webhook.updated").target(
            "webhook",
            id,
            Some(&host_of(&sub.url)),
        ),
        serde_json::json!({
            "enabled": sub.enabled,
            "url_changed": change.url.is_some(),
            "event_types": WebhookView::from(&sub).event_types,
        }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(sub)
}

async fn delete(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: WebhookSubscriptionId,
) -> Result<WebhookSubscription, ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let sub = tx
        .delete_webhook_subscription(access.workspace_id, id)
        .await?;
    let event = audit::by(access, client, "webhook.deleted").target(
        "webhook",
        id,
        Some(&host_of(&sub.url)),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(sub)
}

async fn rotate(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: WebhookSubscriptionId,
) -> Result<(String, WebhookSubscription), ApiError> {
    let (text, bytes) = generate_secret();
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let sub = tx
        .rotate_webhook_secret(
            access.workspace_id,
            id,
            &bytes,
            &state.master_key,
            now + ROTATION_OVERLAP,
            now,
        )
        .await?;
    let event = audit::by(access, client, "webhook.secret_rotated").target(
        "webhook",
        id,
        Some(&host_of(&sub.url)),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok((text, sub))
}

async fn test_event(
    state: &AppState,
    access: &WorkspaceAccess,
    id: WebhookSubscriptionId,
) -> Result<WebhookDelivery, ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let delivery = tx
        .enqueue_test_delivery(access.workspace_id, id, now)
        .await?;
    tx.commit().await?;
    Ok(state
        .store
        .webhook_delivery(access.workspace_id, delivery)
        .await?)
}

/// The delivery, if it belongs to this subscription of this workspace.
async fn delivery_of(
    state: &AppState,
    ws: WorkspaceId,
    id: WebhookSubscriptionId,
    delivery: WebhookDeliveryId,
) -> Result<WebhookDelivery, ApiError> {
    let d = state.store.webhook_delivery(ws, delivery).await?;
    if d.subscription_id != id {
        return Err(ApiError::NotFound);
    }
    Ok(d)
}

async fn redeliver_one(
    state: &AppState,
    access: &WorkspaceAccess,
    id: WebhookSubscriptionId,
    delivery: WebhookDeliveryId,
) -> Result<WebhookDelivery, ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let d = tx
        .redeliver_webhook(access.workspace_id, id, delivery, now)
        .await?;
    tx.commit().await?;
    Ok(d)
}

/// Creates a webhook subscription (admin; sessions need step-up). The answer holds its
/// signing secret, once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = CreateWebhook,
    responses((status = 201, body = WebhookWithSecret), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_webhook(
    State(state): State<AppState>,
    RecentAuth(access): RecentAuth,
    client: ClientInfo,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, ApiJson<WebhookWithSecret>), ApiError> {
    access.require(Role::Admin)?;
    let checked = check_create(
        &state,
        &body.url,
        &body.event_types,
        body.description.as_deref(),
    )?;
    let (secret, sub) = create(&state, &access, &client, &checked).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(WebhookWithSecret {
            secret,
            webhook: WebhookView::from(&sub),
        }),
    ))
}

/// The workspace's webhook subscriptions, oldest first, without secrets (admin).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = WebhookList), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_webhooks(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<WebhookList>, ApiError> {
    access.require(Role::Admin)?;
    let subs = state
        .store
        .webhook_subscriptions(access.workspace_id)
        .await?;
    Ok(ApiJson(WebhookList {
        data: subs.iter().map(WebhookView::from).collect(),
    }))
}

/// One webhook subscription, without its secret (admin).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    responses((status = 200, body = WebhookView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_webhook(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<WebhookView>, ApiError> {
    access.require(Role::Admin)?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    let sub = state
        .store
        .webhook_subscription(access.workspace_id, id)
        .await?;
    Ok(ApiJson(WebhookView::from(&sub)))
}

/// Changes a webhook's URL, events, description or whether it is enabled (admin).
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    request_body = UpdateWebhook,
    responses((status = 200, body = WebhookView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_webhook(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> Result<ApiJson<WebhookView>, ApiError> {
    access.require(Role::Admin)?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    let url = body
        .url
        .as_deref()
        .map(|u| check_url(u, state.config.webhooks_allow_private_targets))
        .transpose()?;
    let types = body
        .event_types
        .as_deref()
        .map(parse_event_types)
        .transpose()?;
    let description = body
        .description
        .as_deref()
        .map(|d| parse_description(Some(d)))
        .transpose()?;
    let change = SubscriptionChange {
        url: url.as_deref(),
        description: description.as_deref(),
        event_types: types.as_deref(),
        enabled: body.enabled,
    };
    let sub = update(&state, &access, &client, id, &change).await?;
    Ok(ApiJson(WebhookView::from(&sub)))
}

/// Deletes a webhook with its delivery log (admin).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_webhook(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    access.require(Role::Admin)?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    delete(&state, &access, &client, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotates the signing secret (admin; sessions need step-up). The new secret is in the
/// answer, once; the old one keeps signing beside it for 24 hours.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    responses((status = 200, body = WebhookWithSecret), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn rotate_secret(
    State(state): State<AppState>,
    RecentAuth(access): RecentAuth,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiJson<WebhookWithSecret>, ApiError> {
    access.require(Role::Admin)?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    let (secret, sub) = rotate(&state, &access, &client, id).await?;
    Ok(ApiJson(WebhookWithSecret {
        secret,
        webhook: WebhookView::from(&sub),
    }))
}

/// Sends a `webhook.test` event to the webhook now (admin); the answer is its delivery.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    responses((status = 202, body = DeliveryView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn send_test(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<(StatusCode, ApiJson<DeliveryView>), ApiError> {
    access.require(Role::Admin)?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    let d = test_event(&state, &access, id).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(DeliveryView::from(&d))))
}

/// The webhook's deliveries, newest first (admin). Kept 30 days.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id"), DeliveryQuery),
    responses((status = 200, body = DeliveryList), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_deliveries(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<ApiJson<DeliveryList>, ApiError> {
    access.require(Role::Admin)?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    let query: DeliveryQuery = parse_query(raw.as_deref())?;
    let limit = parse_limit(&query.limit)?;
    let after = nonempty(&query.cursor)
        .map(|c| c.parse::<WebhookDeliveryId>().map_err(|_| invalid_cursor()))
        .transpose()?;
    // 404 for another workspace's subscription, rather than an empty page.
    state
        .store
        .webhook_subscription(access.workspace_id, id)
        .await?;
    let page = state
        .store
        .webhook_deliveries(access.workspace_id, id, after, limit)
        .await?;
    let next_cursor = (page.len() as i64 == limit)
        .then(|| page.last())
        .flatten()
        .map(|d| d.id.to_string());
    Ok(ApiJson(DeliveryList {
        data: page.iter().map(DeliveryView::from).collect(),
        next_cursor,
    }))
}

/// One delivery with every attempt: status code, duration, error (admin).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id"),
        ("delivery_id" = String, Path, description = "The delivery's id")),
    responses((status = 200, body = DeliveryView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_delivery(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<ApiJson<DeliveryView>, ApiError> {
    access.require(Role::Admin)?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    let delivery_id: WebhookDeliveryId = path_id(&delivery_id)?;
    let d = delivery_of(&state, access.workspace_id, id, delivery_id).await?;
    let attempts = state
        .store
        .webhook_attempts(access.workspace_id, d.id)
        .await?;
    let mut view = DeliveryView::from(&d);
    view.attempt_log = Some(attempts.iter().map(AttemptView::from).collect());
    Ok(ApiJson(view))
}

/// Sends a delivery again now, with the same `webhook-id` (admin; the webhook must be
/// enabled).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id"),
        ("delivery_id" = String, Path, description = "The delivery's id")),
    responses((status = 202, body = DeliveryView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn redeliver(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<(StatusCode, ApiJson<DeliveryView>), ApiError> {
    access.require(Role::Admin)?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    let delivery_id: WebhookDeliveryId = path_id(&delivery_id)?;
    let d = redeliver_one(&state, &access, id, delivery_id).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(DeliveryView::from(&d))))
}

// ---- Settings → Webhooks ----

/// An event type as the create form offers it.
struct EventChoice {
    name: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "settings_webhooks.html")]
struct WebhooksPage {
    nav: Option<Nav>,
    section: &'static str,
    csrf: String,
    webhooks: Vec<WebhookView>,
    events: Vec<EventChoice>,
    new_secret: Option<String>,
    error: Option<ValidationError>,
    url: String,
    description: String,
}

struct DeliveryRow {
    view: DeliveryView,
    attempts: Vec<AttemptView>,
}

#[derive(Template)]
#[template(path = "settings_webhook.html")]
struct WebhookPage {
    nav: Option<Nav>,
    section: &'static str,
    csrf: String,
    webhook: WebhookView,
    new_secret: Option<String>,
    notice: Option<&'static str>,
    deliveries: Vec<DeliveryRow>,
    next_cursor: Option<String>,
}

fn as_validation(e: ApiError) -> ValidationError {
    match e {
        ApiError::Validation(v) => v,
        other => ValidationError::new(other.code(), other.to_string()),
    }
}

async fn render_list(
    state: &AppState,
    nav: Nav,
    access: &WorkspaceAccess,
    new_secret: Option<String>,
    failed: Option<(ApiError, String, String, Vec<String>)>,
) -> Result<Response, WebError> {
    let webhooks = state
        .store
        .webhook_subscriptions(access.workspace_id)
        .await?
        .iter()
        .map(WebhookView::from)
        .collect();
    let status = failed.as_ref().map_or(StatusCode::OK, |(e, ..)| e.status());
    let (error, url, description, chosen) = match failed {
        Some((e, url, description, chosen)) => (Some(as_validation(e)), url, description, chosen),
        None => (None, String::new(), String::new(), Vec::new()),
    };
    let page = WebhooksPage {
        csrf: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "webhooks",
        webhooks,
        events: WebhookEventType::ALL
            .iter()
            .map(|t| EventChoice {
                name: t.as_str(),
                checked: chosen.iter().any(|c| c == t.as_str()),
            })
            .collect(),
        new_secret,
        error,
        url,
        description,
    };
    Ok((status, render(&page)).into_response())
}

async fn webhooks_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    render_list(&state, nav, &access, None, None).await
}

/// The create form: `url`, `description`, and one `event_types` field per checked box.
async fn web_create(
    State(state): State<AppState>,
    _recent: WebRecentAuth,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let url = field("url");
    let description = field("description");
    let types: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "event_types")
        .map(|(_, v)| v.clone())
        .collect();
    let result = async {
        let checked = check_create(&state, &url, &types, Some(&description))?;
        create(&state, &access, &client, &checked).await
    }
    .await;
    match result {
        // Shown in the answer to the POST (not after a redirect), so a reload cannot show
        // the secret again.
        Ok((secret, _)) => render_list(&state, nav, &access, Some(secret), None).await,
        Err(e) => {
            render_list(
                &state,
                nav,
                &access,
                None,
                Some((e, url, description, types)),
            )
            .await
        }
    }
}

async fn render_one(
    state: &AppState,
    nav: Nav,
    access: &WorkspaceAccess,
    id: WebhookSubscriptionId,
    new_secret: Option<String>,
    notice: Option<&'static str>,
    cursor: Option<WebhookDeliveryId>,
) -> Result<Response, WebError> {
    const PAGE: i64 = 25;
    let ws = access.workspace_id;
    let sub = state.store.webhook_subscription(ws, id).await?;
    let page = state.store.webhook_deliveries(ws, id, cursor, PAGE).await?;
    let next_cursor = (page.len() as i64 == PAGE)
        .then(|| page.last())
        .flatten()
        .map(|d| d.id.to_string());
    let mut deliveries = Vec::with_capacity(page.len());
    for d in &page {
        let attempts = state.store.webhook_attempts(ws, d.id).await?;
        deliveries.push(DeliveryRow {
            view: DeliveryView::from(d),
            attempts: attempts.iter().map(AttemptView::from).collect(),
        });
    }
    let page = WebhookPage {
        csrf: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "webhooks",
        webhook: WebhookView::from(&sub),
        new_secret,
        notice,
        deliveries,
        next_cursor,
    };
    Ok(render(&page).into_response())
}

#[derive(serde::Deserialize, Default)]
struct PageQuery {
    cursor: Option<String>,
}

async fn webhook_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    let query: PageQuery = parse_query(raw.as_deref())?;
    let cursor = nonempty(&query.cursor)
        .map(|c| c.parse::<WebhookDeliveryId>().map_err(|_| invalid_cursor()))
        .transpose()?;
    render_one(&state, nav, &access, id, None, None, cursor).await
}

#[derive(serde::Deserialize)]
struct EnabledForm {
    /// `1` to enable, `0` to disable.
    enabled: String,
}

async fn web_enabled(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<EnabledForm>,
) -> Result<Response, WebError> {
    let (_, access) = web_admin(&state, &auth).await?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    let change = SubscriptionChange {
        enabled: Some(form.enabled == "1"),
        ..Default::default()
    };
    update(&state, &access, &client, id, &change).await?;
    Ok(Redirect::to(&format!("/settings/webhooks/{id}")).into_response())
}

async fn web_rotate(
    State(state): State<AppState>,
    _recent: WebRecentAuth,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, .. }: WebForm<EmptyForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    let (secret, _) = rotate(&state, &access, &client, id).await?;
    render_one(&state, nav, &access, id, Some(secret), None, None).await
}

async fn web_test(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WebForm { auth, .. }: WebForm<EmptyForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    test_event(&state, &access, id).await?;
    render_one(
        &state,
        nav,
        &access,
        id,
        None,
        Some("A test event is on its way."),
        None,
    )
    .await
}

async fn web_delete(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, .. }: WebForm<EmptyForm>,
) -> Result<Response, WebError> {
    let (_, access) = web_admin(&state, &auth).await?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    delete(&state, &access, &client, id).await?;
    Ok(Redirect::to("/settings/webhooks").into_response())
}

async fn web_redeliver(
    State(state): State<AppState>,
    Path((id, delivery)): Path<(String, String)>,
    WebForm { auth, .. }: WebForm<EmptyForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let id: WebhookSubscriptionId = path_id(&id)?;
    let delivery: WebhookDeliveryId = path_id(&delivery)?;
    redeliver_one(&state, &access, id, delivery).await?;
    render_one(
        &state,
        nav,
        &access,
        id,
        None,
        Some("The delivery will be sent again."),
        None,
    )
    .await
}
