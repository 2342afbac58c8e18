//! The platforms' webhooks: Meta's subscription handshake, and signed POSTs from WhatsApp,
//! Messenger, Instagram, TikTok and Telegram, stored through [`crate::ingest`].
//!
//! Invariants:
//! - the signature is checked on the raw bytes before anything is parsed; a bad or missing
//!   one is refused (401) and counted, with nothing stored and the body never logged;
//! - an unconfigured secret refuses every request (503 `webhook_not_configured`): nothing is
//!   ever accepted unsigned;
//! - 200 is answered only after the events were committed; a store failure is a 500 so the
//!   platform delivers again (ingest is idempotent).

use crate::error::{ErrorBody, ErrorDetail};
use crate::ingest;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use switchboard_channels::{ChannelError, instagram, messenger, meta, telegram, tiktok, whatsapp};
use switchboard_core::ConnectionId;
use switchboard_core::channel::{AccountRef, ChannelKind, InboundEvent};
use switchboard_store::connections::Route;

/// Meta batches up to 1,000 changes in one request; the rest of the app keeps its 1 MiB.
const WEBHOOK_BODY_LIMIT: usize = 4 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/whatsapp", get(handshake).post(whatsapp_post))
        .route("/webhooks/messenger", get(handshake).post(messenger_post))
        .route("/webhooks/instagram", get(handshake).post(instagram_post))
        .route("/webhooks/tiktok", post(tiktok_post))
        .route("/webhooks/telegram/{channel_id}", post(telegram_post))
        .layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT))
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message: message.to_owned(),
            field: None,
        },
    };
    (status, Json(body)).into_response()
}

fn count(state: &AppState, platform: &str, outcome: &str) {
    state.metrics.count_webhook(platform, outcome);
}

/// A refused signature: counted and logged (never the body), nothing stored.
fn unsigned(state: &AppState, platform: &str, e: &ChannelError) -> Response {
    count(state, platform, e.code());
    tracing::warn!(
        platform,
        reason = e.code(),
        "webhook refused: bad signature"
    );
    refuse(StatusCode::UNAUTHORIZED, e.code(), &e.to_string())
}

fn not_configured(state: &AppState, platform: &str, what: &str) -> Response {
    count(state, platform, "not_configured");
    tracing::warn!(
        platform,
        "webhook refused: {what} is not configured on this server"
    );
    refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        "webhook_not_configured",
        "This server is not set up to receive this platform's webhooks.",
    )
}

#[derive(serde::Deserialize)]
struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Meta's subscription handshake: echo `hub.challenge` when the verify token matches.
async fn handshake(
    State(state): State<AppState>,
    query: Result<Query<Handshake>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(expected) = &state.config.platforms.meta_verify_token else {
        return not_configured(&state, "meta", "the Meta verify token");
    };
    let Ok(Query(q)) = query else {
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The handshake is not valid.",
        );
    };
    match meta::verify_subscription(
        q.mode.as_deref(),
        q.verify_token.as_deref(),
        q.challenge.as_deref(),
        expected,
    ) {
        Some(challenge) => challenge.into_response(),
        None => {
            count(&state, "meta", "handshake_refused");
            refuse(
                StatusCode::FORBIDDEN,
                "forbidden",
                "The verify token does not match.",
            )
        }
    }
}

type Parser = fn(&[u8]) -> Result<Vec<InboundEvent>, ChannelError>;

async fn whatsapp_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    meta_post(&state, "whatsapp", &headers, &body, whatsapp::parse).await
}

async fn messenger_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    meta_post(&state, "messenger", &headers, &body, messenger::parse).await
}

async fn instagram_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    meta_post(&state, "instagram", &headers, &body, instagram::parse).await
}

async fn meta_post(
    state: &AppState,
    platform: &'static str,
    headers: &HeaderMap,
    body: &[u8],
    parse: Parser,
) -> Response {
    let Some(secret) = &state.config.platforms.meta_app_secret else {
        return not_configured(state, platform, "the Meta app secret");
    };
    if let Err(e) = meta::verify(headers, body, secret) {
        return unsigned(state, platform, &e);
    }
    store(state, platform, body, parse(body), None).await
}

async fn tiktok_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = &state.config.platforms.tiktok_client_secret else {
        return not_configured(&state, "tiktok", "the TikTok client secret");
    };
    if let Err(e) = tiktok::verify(&headers, &body, secret, state.clock.now()) {
        return unsigned(&state, "tiktok", &e);
    }
    store(&state, "tiktok", &body, tiktok::parse(&body), None).await
}

/// Telegram names the connection in the path; its secret token (given to `setWebhook` when
/// the channel was connected) is checked against the hash stored with the connection.
async fn telegram_post(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let route = match channel_id.parse::<ConnectionId>() {
        Ok(id) => match state.store.route_by_id(id).await {
            Ok(route) => route.filter(|r| r.kind == ChannelKind::Telegram),
            Err(e) => return stored_failure(&state, "telegram", &e),
        },
        Err(_) => None,
    };
    // An unknown or disconnected channel has no secret to check against: refused like a bad
    // signature, so the answer does not tell which channel ids exist.
    let checked = match &route {
        Some(Route {
            webhook_secret_hash: Some(hash),
            ..
        }) => check_telegram_secret(&headers, hash),
        _ => Err(ChannelError::InvalidSignature),
    };
    if let Err(e) = checked {
        return unsigned(&state, "telegram", &e);
    }
    let Some(route) = route else {
        return unsigned(&state, "telegram", &ChannelError::InvalidSignature);
    };
    let account = AccountRef {
        kind: ChannelKind::Telegram,
        account_id: route.connection_id.to_string(),
    };
    let events = telegram::parse(&body, &account);
    store(&state, "telegram", &body, events, Some(&route)).await
}

/// Compares the hash of the header's secret with the stored hash, in constant time.
fn check_telegram_secret(headers: &HeaderMap, stored_hash: &str) -> Result<(), ChannelError> {
    use subtle::ConstantTimeEq;
    let given = switchboard_channels::header(headers, "x-telegram-bot-api-secret-token").ok_or(
        ChannelError::MissingSignature("X-Telegram-Bot-Api-Secret-Token"),
    )?;
    let given_hash = crate::auth::secret_token::hash(given);
    if bool::from(given_hash.as_bytes().ct_eq(stored_hash.as_bytes())) {
        Ok(())
    } else {
        Err(ChannelError::InvalidSignature)
    }
}

/// Stores the parsed events, answering 200 only after the commit.
async fn store(
    state: &AppState,
    platform: &'static str,
    body: &[u8],
    parsed: Result<Vec<InboundEvent>, ChannelError>,
    pinned: Option<&Route>,
) -> Response {
    let events = match parsed {
        Ok(events) if ingest::may_carry_nul(body) => ingest::without_nul(events),
        Ok(events) => events,
        Err(e) => {
            count(state, platform, e.code());
            tracing::warn!(
                platform,
                reason = e.code(),
                "webhook refused: unreadable payload"
            );
            return refuse(StatusCode::BAD_REQUEST, e.code(), &e.to_string());
        }
    };
    match ingest::ingest(state, &events, pinned).await {
        Ok(report) => {
            count(state, platform, "accepted");
            if report.unrouted > 0 {
                // Events, not requests: one batch may name several accounts.
                state.metrics.count_webhooks(
                    platform,
                    "unrouted_event",
                    u64::try_from(report.unrouted).unwrap_or(u64::MAX),
                );
                tracing::info!(
                    platform,
                    unrouted = report.unrouted,
                    "webhook events for accounts no live connection has were acknowledged and dropped"
                );
            }
            if report.malformed > 0 {
                tracing::warn!(
                    platform,
                    malformed = report.malformed,
                    "webhook events with ids longer than any platform issues were dropped"
                );
            }
            tracing::debug!(platform, ?report, "webhook stored");
            StatusCode::OK.into_response()
        }
        Err(e) => stored_failure(state, platform, &e),
    }
}

fn stored_failure(state: &AppState, platform: &str, e: &switchboard_store::StoreError) -> Response {
    count(state, platform, "store_failed");
    tracing::error!(platform, error = %e, "webhook not stored; the platform will redeliver");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "The webhook could not be stored; deliver it again.",
    )
}
