//! What Meta and data subjects reach without signing in: `POST /meta/data-deletion` and
//! `POST /meta/deauthorize` (Meta's callbacks, each a `signed_request` form field), and
//! `GET /privacy/deletion-status/{code}` (the status page Meta links the person to; HTML, or
//! JSON with `Accept: application/json`).
//!
//! Meta names the person by app-scoped user id, which does not match the page-scoped ids of
//! messaging contacts: the callback acts on the connections that user authorised (stored
//! with their `meta_user_id`) and on nothing guessed; a callback no connection matches is
//! recorded for an instance operator to review (`switchboard privacy list --unlinked`).

use super::signed_request::{self, SignedRequestError};
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::state::AppState;
use askama::Template;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use std::collections::BTreeSet;
use switchboard_core::inventory::SubjectKind;
use switchboard_core::privacy::{Regime, RequestKind, RequestSource, RequestState};
use switchboard_core::{ConnectionId, WorkspaceId};
use switchboard_store::audit::NewAuditEvent;
use switchboard_store::connections::ConnectionStatus;
use switchboard_store::erasure::{Part, Plan};
use switchboard_store::privacy_requests::{Move, NewPrivacyRequest, PrivacyRequest};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/meta/data-deletion", post(data_deletion))
        .route("/meta/deauthorize", post(deauthorize))
        .route("/privacy/deletion-status/{code}", get(status))
}

/// Why a callback was refused: a status, a stable code and a message.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                field: None,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

fn refuse_signed(e: &SignedRequestError) -> Refusal {
    let status = match e {
        SignedRequestError::InvalidSignature => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    Refusal {
        status,
        code: e.code(),
        message: e.to_string(),
    }
}

/// The verified Meta user id of a callback (and the signed request), or why it is refused.
fn verified(state: &AppState, body: &[u8]) -> Result<(String, String), Refusal> {
    let Some(secret): Option<&SecretString> = state.config.platforms.meta_app_secret.as_ref()
    else {
        return Err(Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "not_configured",
            message: "The Meta app secret is not configured.".into(),
        });
    };
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| refuse_signed(&SignedRequestError::Malformed))?;
    let signed = fields
        .iter()
        .find(|(k, _)| k == "signed_request")
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| refuse_signed(&SignedRequestError::Malformed))?;
    let request = signed_request::verify(signed, secret, state.clock.now()).map_err(|e| {
        tracing::warn!(code = e.code(), "Meta callback refused");
        refuse_signed(&e)
    })?;
    Ok((request.user_id, signed.to_owned()))
}

fn meta_actor(action: &str) -> NewAuditEvent {
    let mut e = NewAuditEvent::new(action);
    e.actor_email = Some("Meta data-deletion callback".into());
    e
}

#[derive(serde::Serialize)]
struct DeletionAnswer {
    url: String,
    confirmation_code: String,
}

fn answer(state: &AppState, code: &str) -> Response {
    Json(DeletionAnswer {
        url: format!("{}/privacy/deletion-status/{code}", state.config.public_url),
        confirmation_code: code.to_owned(),
    })
    .into_response()
}

/// Meta's data-deletion callback: the connections the user authorised lose their tokens now,
/// and an erase request for their data starts (well inside Meta's 30 days). A replay answers
/// the same code and creates nothing.
async fn data_deletion(State(state): State<AppState>, body: Bytes) -> Response {
    let (user_id, signed) = match verified(&state, &body) {
        Ok(v) => v,
        Err(refused) => return refused.into_response(),
    };
    match record_deletion(&state, &user_id, &signed).await {
        Ok(code) => answer(&state, &code),
        Err(e) => e.into_response(),
    }
}

async fn record_deletion(
    state: &AppState,
    user_id: &str,
    signed: &str,
) -> Result<String, ApiError> {
    let source_ref = super::sha256_hex(signed);
    let subject_key = super::sha256_hex(&format!("meta_user:{user_id}"));
    let connections = state.store.connections_of_meta_user(user_id).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    if let Some(existing) = tx
        .privacy_request_by_source(&source_ref, &subject_key)
        .await?
    {
        return existing
            .confirmation_code
            .ok_or_else(|| ApiError::internal("a Meta request without a code"));
    }
    let workspaces: BTreeSet<WorkspaceId> = connections.iter().map(|c| c.workspace_id).collect();
    let plan = Plan {
        not_before: None,
        parts: connections
            .iter()
            .map(|c| Part::new(SubjectKind::ChannelConnection, c.id, Some(c.workspace_id)))
            .collect(),
    };
    let code = super::sha256_hex(&uuid::Uuid::new_v4().to_string())
        .get(..24)
        .unwrap_or_default()
        .to_owned();
    let linked = !connections.is_empty();
    let request = tx
        .insert_privacy_request(
            &NewPrivacyRequest {
                workspace_id: (workspaces.len() == 1)
                    .then(|| workspaces.first().copied())
                    .flatten(),
                kind: RequestKind::Erase,
                source: RequestSource::MetaCallback,
                regime: Regime::Gdpr,
                subject_kind: SubjectKind::MetaUser,
                subject_id: None,
                subject_key_hash: Some(subject_key),
                source_ref: Some(source_ref.clone()),
                confirmation_code: Some(code.clone()),
                needs_review: !linked,
                plan: plan.to_json(),
                created_by: None,
            },
            meta_actor("privacy.request"),
            now,
        )
        .await;
    let request = match request {
        Ok(r) => r,
        // The same callback committed by a concurrent delivery: answer its code.
        Err(e) if e.is_unique_violation() => {
            drop(tx);
            let mut tx = state.store.begin().await?;
            return tx
                .privacy_request_by_ref(&source_ref)
                .await?
                .and_then(|r| r.confirmation_code)
                .ok_or(ApiError::internal("a concurrent Meta request vanished"));
        }
        Err(e) => return Err(e.into()),
    };
    for c in connections
        .iter()
        .filter(|c| c.status != ConnectionStatus::Disconnected)
    {
        tx.disconnect_only(c.workspace_id, c.id, now).await?;
        let mut event = meta_actor("channel.disconnected");
        event.workspace_id = Some(c.workspace_id);
        event = event.target("channel", c.id, Some(c.kind.as_str()));
        event.details = serde_json::json!({ "privacy_request": request.id });
        tx.record_audit(&event, now).await?;
    }
    if linked {
        // Meta vouches for who is asking: no identity step; the erasure starts now.
        tx.move_request(
            request.id,
            Move {
                to: RequestState::InProgress,
                reason: None,
                by: meta_actor("privacy.request"),
            },
            now,
        )
        .await?;
        super::enqueue_erasure(&mut tx, request.id, request.workspace_id, now).await?;
    }
    tx.commit().await?;
    Ok(code)
}

#[derive(serde::Serialize)]
struct Deauthorized {
    disconnected: usize,
}

/// Meta's deauthorisation callback: the user removed the app, so the connections they
/// authorised are disconnected (tokens deleted now; their data follows through the usual
/// channel-data erasure).
async fn deauthorize(State(state): State<AppState>, body: Bytes) -> Response {
    let (user_id, _) = match verified(&state, &body) {
        Ok(v) => v,
        Err(refused) => return refused.into_response(),
    };
    let result: Result<usize, ApiError> = async {
        let connections = state.store.connections_of_meta_user(&user_id).await?;
        let now = state.clock.now();
        let mut tx = state.store.begin().await?;
        let mut n = 0;
        let live: Vec<(WorkspaceId, ConnectionId, &str)> = connections
            .iter()
            .filter(|c| c.status != ConnectionStatus::Disconnected)
            .map(|c| (c.workspace_id, c.id, c.kind.as_str()))
            .collect();
        for (ws, id, kind) in live {
            tx.disconnect(ws, id, now).await?;
            let mut event = meta_actor("channel.disconnected");
            event.actor_email = Some("Meta deauthorize callback".into());
            event.workspace_id = Some(ws);
            event = event.target("channel", id, Some(kind));
            tx.record_audit(&event, now).await?;
            n += 1;
        }
        tx.commit().await?;
        Ok(n)
    }
    .await;
    match result {
        Ok(disconnected) => Json(Deauthorized { disconnected }).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(serde::Serialize)]
struct StatusView {
    confirmation_code: String,
    state: String,
    received_at: String,
    respond_by: String,
    completed_at: Option<String>,
    refused_at: Option<String>,
    reason: Option<String>,
    /// What was kept on purpose, and why.
    kept: Vec<String>,
    needs_review: bool,
}

#[derive(Template)]
#[template(path = "privacy_status.html")]
struct StatusPage {
    code: String,
    state_label: String,
    received: String,
    respond_by: String,
    completed: Option<String>,
    reason: Option<String>,
    kept: Vec<String>,
    needs_review: bool,
}

fn kept_of(r: &PrivacyRequest) -> Vec<String> {
    r.receipt
        .as_ref()
        .and_then(|v| v.get("kept"))
        .and_then(|k| k.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|k| {
                    Some(format!(
                        "{}: {}",
                        k.get("table")?.as_str()?,
                        k.get("reason")?.as_str()?
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn label(s: RequestState) -> &'static str {
    match s {
        RequestState::Received => "Received",
        RequestState::AwaitingIdentity => "Waiting for proof of identity",
        RequestState::Acknowledged => "Acknowledged",
        RequestState::InProgress => "In progress",
        RequestState::Extended => "In progress (deadline extended)",
        RequestState::Completed => "Completed: the data was deleted",
        RequestState::Refused => "Refused",
    }
}

/// The public status of a deletion request, by confirmation code.
async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let valid =
        !code.is_empty() && code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric());
    let found = if valid {
        state.store.privacy_request_by_code(&code).await
    } else {
        Err(switchboard_store::StoreError::NotFound)
    };
    let r = match found {
        Ok(r) => r,
        Err(e) => {
            let e = ApiError::from(e);
            return if wants_json {
                e.into_response()
            } else {
                crate::web::error_page(e)
            };
        }
    };
    let date = |t: switchboard_core::Timestamp| t.date().to_string();
    // The reason is shown only for what the requester must be told: a refusal or extension.
    let reason = matches!(r.state, RequestState::Refused | RequestState::Extended)
        .then(|| r.state_reason.clone())
        .flatten();
    if wants_json {
        return Json(StatusView {
            confirmation_code: code,
            state: r.state.as_str().to_owned(),
            received_at: crate::routes::workspaces::rfc3339(r.received_at),
            respond_by: r.deadlines.respond_by.to_string(),
            completed_at: r.completed_at.map(crate::routes::workspaces::rfc3339),
            refused_at: r.refused_at.map(crate::routes::workspaces::rfc3339),
            reason,
            kept: kept_of(&r),
            needs_review: r.needs_review,
        })
        .into_response();
    }
    crate::web::render(&StatusPage {
        code,
        state_label: label(r.state).to_owned(),
        received: date(r.received_at),
        respond_by: r.deadlines.respond_by.to_string(),
        completed: r.completed_at.map(date),
        reason,
        kept: kept_of(&r),
        needs_review: r.needs_review,
    })
}
