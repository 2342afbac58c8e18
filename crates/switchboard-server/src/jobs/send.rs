//! `send_message`: sends one queued outbound message to its platform and records the outcome.
//! The payload names the message (workspace and id, and the Messenger tag); the content is
//! read from the store, and the connection's credentials are opened only in memory here.
//!
//! Outcomes, by the failure classes of the channels crate: accepted → `sent` with the
//! platform's id; retry-later or unreachable → the job retries, no sooner than the platform's
//! `Retry-After`, the message stays `queued`; agent-must-act → `failed` with the platform's
//! code and a reason; connection-broken → `failed`, and the connection needs attention.
//!
//! Invariant: a request's URL and headers carry the token, so nothing here logs them.

use super::{JobError, JobHandler};
use crate::state::AppState;
use std::collections::HashMap;
use std::sync::Mutex;
use switchboard_channels::{
    ChannelError, FailureClass, HttpRequest, SendFailure, SendTarget, instagram, messenger,
    telegram, tiktok, whatsapp,
};
use switchboard_core::channel::{ChannelKind, MessageTag, OutboundContent, OutboundMessage};
use switchboard_core::{ConnectionId, MessageId, Timestamp, WorkspaceId};
use switchboard_store::StoreError;
use switchboard_store::connections::ConnectionStatus;
use switchboard_store::consent::ConsentKind;
use switchboard_store::jobs::{Job, NewJob};
use switchboard_store::messages::{MessageStatus, StoredContent};

pub const KIND: &str = "send_message";

/// Sends are retried for about a day (the backoff is capped at an hour) before the job dies.
const MAX_ATTEMPTS: i64 = 30;

/// The job for message `id`; `tag` is how the agent asked it to be sent.
pub fn job(ws: WorkspaceId, id: MessageId, tag: Option<MessageTag>, now: Timestamp) -> NewJob {
    let mut job = NewJob::new(
        KIND,
        serde_json::json!({ "workspace_id": ws, "message_id": id, "tag": tag }),
        now,
    );
    job.workspace_id = Some(ws);
    job.max_attempts = MAX_ATTEMPTS;
    job
}

#[derive(serde::Deserialize)]
struct Payload {
    workspace_id: WorkspaceId,
    message_id: MessageId,
    #[serde(default)]
    tag: Option<MessageTag>,
}

pub struct SendMessage;

#[async_trait::async_trait]
impl JobHandler for SendMessage {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError> {
        let p: Payload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        match send(state, &p).await {
            Ok(()) => Ok(()),
            // Never sendable (no token in the credentials, ...): the message shows it, and the
            // dead job shows the operator why. A message erased meanwhile has nothing to show.
            Err(Stop::Job(JobError::Permanent(e))) => {
                let shown = fail(
                    state,
                    p.workspace_id,
                    p.message_id,
                    "send_failed",
                    "Switchboard could not send this message; an administrator can see why \
                     among the dead jobs.",
                )
                .await;
                if let Err(JobError::Retry { error, .. }) = shown {
                    return Err(JobError::retry(error));
                }
                Err(JobError::Permanent(e))
            }
            Err(Stop::Job(e)) => Err(e),
            // The last attempt: the message must not stay `queued` behind a dead job.
            Err(Stop::Later { code, reason, .. }) if job.attempts >= job.max_attempts => {
                tracing::warn!(job = %job.id, %code, "send gave up after its last attempt");
                fail(
                    state,
                    p.workspace_id,
                    p.message_id,
                    &code,
                    &format!("{GAVE_UP} ({reason})"),
                )
                .await
            }
            Err(Stop::Later {
                code,
                reason,
                after,
            }) => Err(JobError::Retry {
                error: format!("{code}: {reason}"),
                after,
            }),
        }
    }
}

/// Why a send attempt stopped short of an outcome.
enum Stop {
    Job(JobError),
    /// Worth another attempt (the platform's code, or `unreachable`).
    Later {
        code: String,
        reason: String,
        after: Option<time::Duration>,
    },
}

impl From<JobError> for Stop {
    fn from(e: JobError) -> Self {
        Stop::Job(e)
    }
}

const GAVE_UP: &str = "The platform kept refusing or could not be reached for about a day; \
                       send the message again.";

fn store_error(e: StoreError) -> JobError {
    match e {
        // The message (or its conversation) was erased meanwhile: nothing left to send.
        StoreError::NotFound => JobError::Permanent("the message no longer exists".into()),
        other => JobError::retry(other),
    }
}

async fn send(state: &AppState, p: &Payload) -> Result<(), Stop> {
    let ws = p.workspace_id;
    let message = match state.store.message(ws, p.message_id).await {
        Ok(m) => m,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(store_error(e).into()),
    };
    // Sent or failed already (a retry after the platform answered but before the job was
    // marked done): never send twice.
    if message.status != MessageStatus::Queued || message.external_id.is_some() {
        return Ok(());
    }
    let StoredContent::Sent(content) = message.content else {
        return Err(JobError::Permanent("not an outbound message".into()).into());
    };
    let target = state
        .store
        .reply_target(ws, message.conversation_id)
        .await
        .map_err(store_error)?;
    let connection = state
        .store
        .connection(ws, target.connection_id)
        .await
        .map_err(store_error)?;
    if connection.status != ConnectionStatus::Active {
        return fail(
            state,
            ws,
            p.message_id,
            "connection_unavailable",
            "The channel is disconnected or needs attention; reconnect it, then send again.",
        )
        .await
        .map_err(Stop::Job);
    }
    // Checked at send time too: a restriction or objection recorded after the message was
    // queued still stops it.
    let privacy = state
        .store
        .contact_privacy(ws, message.contact_id)
        .await
        .map_err(store_error)?;
    if privacy.is_restricted() {
        return fail(
            state,
            ws,
            p.message_id,
            "restricted",
            "The contact restricted the processing of their data; nothing is sent to them.",
        )
        .await
        .map_err(Stop::Job);
    }
    if privacy.objects_to_marketing()
        && let OutboundContent::Template { name, language, .. } = &content
    {
        let category = state
            .store
            .template(ws, target.connection_id, name, language)
            .await
            .map_err(store_error)?
            .map(|t| t.spec.category);
        let consent = category
            .as_deref()
            .and_then(ConsentKind::for_template_category)
            .unwrap_or(ConsentKind::WhatsappMarketing);
        if consent == ConsentKind::WhatsappMarketing {
            return fail(
                state,
                ws,
                p.message_id,
                "objected",
                "The contact objected to direct marketing; marketing templates are not sent.",
            )
            .await
            .map_err(Stop::Job);
        }
    }
    let content = with_shared_link(state, ws, p.message_id, content)
        .await
        .map_err(store_error)?;
    let outbound = OutboundMessage {
        to: target.to.clone(),
        content,
        reply_to: message.reply_to_external_id.clone(),
        tag: p.tag,
    };
    if target.kind == ChannelKind::Widget {
        // The widget has no platform: the visitor's browser fetches the reply from us.
        return Ok(record_sent(state, ws, p.message_id, &p.message_id.to_string()).await?);
    }
    let credentials = state
        .store
        .connection_credentials(ws, target.connection_id, &state.master_key)
        .await
        .map_err(store_error)?;
    let token = crate::channel_access::token_in(&credentials).ok_or_else(|| {
        Stop::Job(JobError::Permanent(
            "the connection's credentials hold no access token".into(),
        ))
    })?;
    let base = crate::channel_access::api_base(&state.config.platforms, target.kind);
    let send_target = SendTarget {
        base_url: base,
        account_id: &connection.account_id,
        token: &token,
    };
    let request = match build_request(target.kind, &send_target, &outbound) {
        Ok(r) => r,
        Err(e) => return Ok(fail(state, ws, p.message_id, e.code(), &e.to_string()).await?),
    };
    if let Some(wait) =
        state
            .send_limiter
            .take(target.connection_id, target.kind, state.clock.now())
    {
        return Err(Stop::Later {
            code: "rate_limited".into(),
            reason: "the connection's send rate limit in this process".into(),
            after: Some(wait),
        });
    }
    let response = match state.platform_http.execute(&request).await {
        Ok(r) => r,
        Err(e) => {
            return Err(Stop::Later {
                code: "unreachable".into(),
                reason: e.to_string(),
                after: None,
            });
        }
    };
    match read_response(target.kind, &response) {
        Ok(external_id) => Ok(record_sent(state, ws, p.message_id, &external_id).await?),
        Err(failure) => on_failure(state, ws, p.message_id, target.connection_id, failure).await,
    }
}

async fn on_failure(
    state: &AppState,
    ws: WorkspaceId,
    id: MessageId,
    connection: ConnectionId,
    failure: SendFailure,
) -> Result<(), Stop> {
    match failure.class {
        FailureClass::RetryLater => Err(Stop::Later {
            code: failure.code,
            reason: failure.reason,
            after: failure
                .retry_after
                .and_then(|d| time::Duration::try_from(d).ok()),
        }),
        FailureClass::AgentMustAct => {
            Ok(fail(state, ws, id, &failure.code, &failure.reason).await?)
        }
        FailureClass::ConnectionBroken => {
            let now = state.clock.now();
            let mut tx = state.store.begin().await.map_err(store_error)?;
            tx.mark_failed(ws, id, &failure.code, &failure.reason, now)
                .await
                .map_err(store_error)?;
            tx.set_connection_status(
                ws,
                connection,
                ConnectionStatus::NeedsAttention,
                Some(&failure.reason),
                now,
            )
            .await
            .map_err(store_error)?;
            tx.commit().await.map_err(store_error)?;
            tracing::warn!(%connection, code = %failure.code, "a send says the connection is broken; it needs attention");
            Ok(())
        }
    }
}

async fn fail(
    state: &AppState,
    ws: WorkspaceId,
    id: MessageId,
    code: &str,
    reason: &str,
) -> Result<(), JobError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await.map_err(store_error)?;
    tx.mark_failed(ws, id, code, reason, now)
        .await
        .map_err(store_error)?;
    tx.commit().await.map_err(store_error)
}

async fn record_sent(
    state: &AppState,
    ws: WorkspaceId,
    id: MessageId,
    external_id: &str,
) -> Result<(), JobError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await.map_err(store_error)?;
    tx.mark_sent(ws, id, external_id, now)
        .await
        .map_err(store_error)?;
    tx.commit().await.map_err(store_error)
}

/// A file an agent uploaded is stored with the message; the platform fetches it from a link
/// minted for this attempt (`attachments`), never from the members-only URL stored in the
/// content.
async fn with_shared_link(
    state: &AppState,
    ws: WorkspaceId,
    message: MessageId,
    content: OutboundContent,
) -> Result<OutboundContent, StoreError> {
    let OutboundContent::Media {
        kind,
        caption,
        filename,
        url,
    } = content
    else {
        return Ok(content);
    };
    let stored = state
        .store
        .media_of_message(ws, message)
        .await?
        .into_iter()
        .find(|m| m.state == switchboard_store::media::MediaState::Stored);
    let url = match stored {
        Some(object) => crate::attachments::shared_link(
            state,
            ws,
            object.id,
            state.clock.now() + crate::attachments::PLATFORM_LINK_LIFETIME,
        ),
        None => url,
    };
    Ok(OutboundContent::Media {
        kind,
        url,
        caption,
        filename,
    })
}

/// The platform request for `msg`; also used by the send API to refuse content a platform
/// cannot carry before anything is stored.
pub(crate) fn build_request(
    kind: ChannelKind,
    target: &SendTarget<'_>,
    msg: &OutboundMessage,
) -> Result<HttpRequest, ChannelError> {
    match kind {
        ChannelKind::WhatsApp => whatsapp::build_send(target, msg),
        ChannelKind::Messenger => messenger::build_send(target, msg),
        ChannelKind::Instagram => instagram::build_send(target, msg),
        ChannelKind::Telegram => telegram::build_send(target, msg),
        ChannelKind::TikTok => tiktok::build_send(target, msg),
        // Nothing to build: the visitor's browser fetches widget replies from us.
        ChannelKind::Widget => Ok(HttpRequest {
            method: http::Method::POST,
            url: String::new(),
            headers: Vec::new(),
            body: None,
        }),
    }
}

fn read_response(
    kind: ChannelKind,
    r: &crate::platform_http::PlatformResponse,
) -> Result<String, SendFailure> {
    let read = match kind {
        ChannelKind::WhatsApp => whatsapp::read_send_response,
        ChannelKind::Messenger => messenger::read_send_response,
        ChannelKind::Instagram => instagram::read_send_response,
        ChannelKind::Telegram => telegram::read_send_response,
        ChannelKind::TikTok => tiktok::read_send_response,
        // The widget has no platform to answer (`send` records its replies directly).
        ChannelKind::Widget => {
            return Err(SendFailure {
                class: FailureClass::AgentMustAct,
                code: "unsupported".into(),
                reason: "The web widget has no platform to send to.".into(),
                retry_after: None,
            });
        }
    };
    read(r.status, &r.headers, &r.body)
}

/// Per-connection send throughput, a token bucket per connection in this process: WhatsApp
/// Cloud API numbers start at 80 messages a second, Messenger and Instagram at a few hundred
/// a second per page; the platforms' own 429s (retried with `Retry-After`) remain the real
/// limit — this only keeps a burst from one connection from provoking them. A second process
/// has its own buckets, so the ceiling is per process, not per cluster.
#[derive(Debug, Default)]
pub struct SendLimiter {
    buckets: Mutex<HashMap<ConnectionId, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Timestamp,
}

impl SendLimiter {
    fn rate(kind: ChannelKind) -> f64 {
        match kind {
            ChannelKind::WhatsApp => 80.0,
            ChannelKind::Telegram => 30.0,
            ChannelKind::TikTok => 10.0,
            ChannelKind::Messenger | ChannelKind::Instagram | ChannelKind::Widget => 200.0,
        }
    }

    /// Takes one send from the connection's bucket; `Some(wait)` when it is empty.
    pub fn take(
        &self,
        connection: ConnectionId,
        kind: ChannelKind,
        now: Timestamp,
    ) -> Option<time::Duration> {
        let rate = Self::rate(kind);
        let Ok(mut buckets) = self.buckets.lock() else {
            return None;
        };
        let bucket = buckets.entry(connection).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        let elapsed = (now - bucket.at).as_seconds_f64().max(0.0);
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            None
        } else {
            Some(time::Duration::seconds_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_lets_a_burst_through_then_asks_to_wait() {
        let limiter = SendLimiter::default();
        let c = ConnectionId::new();
        let t = time::macros::datetime!(2026-01-05 09:00 UTC);
        for _ in 0..30 {
            assert!(limiter.take(c, ChannelKind::Telegram, t).is_none());
        }
        let wait = limiter.take(c, ChannelKind::Telegram, t).unwrap();
        assert!(wait > time::Duration::ZERO && wait <= time::Duration::seconds(1));
        assert!(
            limiter
                .take(c, ChannelKind::Telegram, t + time::Duration::seconds(1))
                .is_none()
        );
        assert!(
            limiter
                .take(ConnectionId::new(), ChannelKind::Telegram, t)
                .is_none()
        );
    }
}
