//! The control and inspection surface under `/_sim/`: what was sent, which tokens are valid,
//! scripted failures, status webhooks, inbound messages, Meta's user-data callbacks
//! (`/_sim/meta/callback`), scripts, load and settings.
//!
//! Invariant: no answer here contains a configured secret or token; `GET /_sim/config` says
//! only whether each secret is set.

use crate::SimError;
use crate::inbound::{self, InboundSpec, ScriptStep, StatusSpec};
use crate::load::{self, LoadSpec};
use crate::state::{FailureRule, Grant, Platform, State, lock};
use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

type Shared = Extract<Arc<State>>;

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/_sim/sends", get(list_sends).delete(clear_sends))
        .route("/_sim/tokens", post(add_token).delete(clear_tokens))
        .route(
            "/_sim/failures",
            post(add_failure).get(list_failures).delete(clear_failures),
        )
        .route("/_sim/statuses", post(status))
        .route("/_sim/inbound", post(inbound))
        .route("/_sim/script", post(script))
        .route("/_sim/load", post(load))
        .route("/_sim/config", get(show_config).post(set_config))
        .route("/_sim/meta/callback", post(meta_callback))
        // Messenger and Instagram attachment URLs (Meta's CDN needs no token).
        .route("/cdn/{id}", get(cdn))
}

/// A JSON body, or the simulator's error shape when it is not one.
fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, SimError> {
    body.map(|Json(t)| t)
        .map_err(|e| SimError::bad(e.body_text()))
}

#[derive(Debug, Deserialize)]
struct SendsFilter {
    platform: Option<Platform>,
    account: Option<String>,
}

async fn list_sends(state: Shared, Query(filter): Query<SendsFilter>) -> Json<Value> {
    let sends = lock(&state.sends);
    let data: Vec<_> = sends
        .iter()
        .filter(|s| filter.platform.is_none_or(|p| s.platform == p))
        .filter(|s| filter.account.as_deref().is_none_or(|a| s.account == a))
        .collect();
    Json(json!({ "data": data }))
}

async fn clear_sends(state: Shared) -> StatusCode {
    lock(&state.sends).clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct TokenSpec {
    platform: Platform,
    /// Telegram: the bot id, which is also the token's prefix (default).
    #[serde(default)]
    account: Option<String>,
    token: String,
}

async fn add_token(
    state: Shared,
    spec: Result<Json<TokenSpec>, JsonRejection>,
) -> Result<StatusCode, SimError> {
    let spec = body(spec)?;
    let account = match (spec.account, spec.platform) {
        (Some(a), _) => a,
        (None, Platform::Telegram) => spec
            .token
            .split_once(':')
            .map(|(id, _)| id.to_owned())
            .ok_or_else(|| SimError::bad("a bot token looks like 123456:ABC..."))?,
        (None, _) => return Err(SimError::bad("account is required")),
    };
    if spec.token.is_empty() {
        return Err(SimError::bad("token is empty"));
    }
    lock(&state.tokens).insert(
        spec.token,
        Grant {
            platform: spec.platform,
            account,
        },
    );
    Ok(StatusCode::NO_CONTENT)
}

async fn clear_tokens(state: Shared) -> StatusCode {
    lock(&state.tokens).clear();
    StatusCode::NO_CONTENT
}

async fn add_failure(
    state: Shared,
    rule: Result<Json<FailureRule>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), SimError> {
    let rule = body(rule)?;
    if rule.code.is_none() && rule.latency_ms.is_none() {
        return Err(SimError::bad("a failure has a code, a latency_ms, or both"));
    }
    let shown = json!(rule);
    lock(&state.failures).push(rule);
    Ok((StatusCode::CREATED, Json(shown)))
}

async fn list_failures(state: Shared) -> Json<Value> {
    Json(json!({ "data": *lock(&state.failures) }))
}

async fn clear_failures(state: Shared) -> StatusCode {
    lock(&state.failures).clear();
    StatusCode::NO_CONTENT
}

async fn inbound(
    state: Shared,
    spec: Result<Json<InboundSpec>, JsonRejection>,
) -> Result<Json<Value>, SimError> {
    let spec = body(spec)?;
    let webhook = inbound::build(&state, &spec)?;
    Ok(Json(json!(inbound::emit(&state, webhook).await?)))
}

/// Signs and posts Meta's data-deletion or deauthorize callback at the target; answers with
/// the target's status and body (`url` and `confirmation_code` for a deletion).
async fn meta_callback(
    state: Shared,
    spec: Result<Json<crate::meta_callbacks::CallbackSpec>, JsonRejection>,
) -> Result<Json<Value>, SimError> {
    let spec = body(spec)?;
    Ok(Json(json!(
        crate::meta_callbacks::emit(&state, &spec).await?
    )))
}

async fn status(
    state: Shared,
    spec: Result<Json<StatusSpec>, JsonRejection>,
) -> Result<Response, SimError> {
    let spec = body(spec)?;
    let webhook = inbound::build_status(&state, &spec)?;
    match spec.delay_ms.filter(|ms| *ms > 0) {
        None => Ok(Json(json!(inbound::emit(&state, webhook).await?)).into_response()),
        Some(ms) => {
            let state = state.0.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                if let Err(e) = inbound::emit(&state, webhook).await {
                    tracing::warn!(error = %e, "a delayed status webhook was not delivered");
                }
            });
            Ok((StatusCode::ACCEPTED, Json(json!({ "scheduled_in_ms": ms }))).into_response())
        }
    }
}

#[derive(Deserialize)]
struct Script {
    steps: Vec<ScriptStep>,
    /// Answer at once and run the script in the background (the demo's conversations).
    #[serde(default)]
    background: bool,
}

async fn script(
    state: Shared,
    spec: Result<Json<Script>, JsonRejection>,
) -> Result<Response, SimError> {
    let spec = body(spec)?;
    let steps = spec.steps.len();
    if spec.background {
        let state = state.0.clone();
        tokio::spawn(async move {
            inbound::run_script(&state, spec.steps).await;
        });
        return Ok((StatusCode::ACCEPTED, Json(json!({ "steps": steps }))).into_response());
    }
    let results = inbound::run_script(&state, spec.steps).await;
    Ok(Json(json!({ "results": results })).into_response())
}

async fn load(
    state: Shared,
    spec: Result<Json<LoadSpec>, JsonRejection>,
) -> Result<Json<Value>, SimError> {
    let spec = body(spec)?;
    Ok(Json(json!(load::run(state.0.clone(), spec).await?)))
}

#[derive(Deserialize)]
struct ConfigChange {
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    meta_app_secret: Option<SecretString>,
    #[serde(default)]
    tiktok_client_key: Option<String>,
    #[serde(default)]
    tiktok_client_secret: Option<SecretString>,
    /// Telegram secret tokens by Switchboard channel id.
    #[serde(default)]
    telegram_secret_tokens: HashMap<String, SecretString>,
    #[serde(default)]
    accept_any_token: Option<bool>,
}

async fn set_config(
    state: Shared,
    change: Result<Json<ConfigChange>, JsonRejection>,
) -> Result<Json<Value>, SimError> {
    let change = body(change)?;
    {
        let mut settings = lock(&state.settings);
        if let Some(target) = change.target {
            if !(target.starts_with("http://") || target.starts_with("https://")) {
                return Err(SimError::bad("target is an http:// or https:// URL"));
            }
            settings.target = target.trim_end_matches('/').to_owned();
        }
        if let Some(secret) = change.meta_app_secret {
            settings.meta_app_secret = Some(secret);
        }
        if let Some(key) = change.tiktok_client_key {
            settings.tiktok_client_key = Some(key);
        }
        if let Some(secret) = change.tiktok_client_secret {
            settings.tiktok_client_secret = Some(secret);
        }
        settings
            .telegram_secret_tokens
            .extend(change.telegram_secret_tokens);
        if let Some(any) = change.accept_any_token {
            settings.accept_any_token = any;
        }
    }
    Ok(show_config(state).await)
}

async fn show_config(state: Shared) -> Json<Value> {
    let settings = lock(&state.settings);
    let mut channels: Vec<&String> = settings.telegram_secret_tokens.keys().collect();
    channels.sort();
    Json(json!({
        "target": settings.target,
        "accept_any_token": settings.accept_any_token,
        "meta_app_secret_set": settings.meta_app_secret.is_some(),
        "tiktok_client_key": settings.tiktok_client_key,
        "tiktok_client_secret_set": settings.tiktok_client_secret.is_some(),
        "telegram_channels_with_secret": channels,
    }))
}

async fn cdn(state: Shared, Path(id): Path<String>) -> Response {
    match lock(&state.media).get(&id).cloned() {
        Some(media) => crate::graph::serve_media(media),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
