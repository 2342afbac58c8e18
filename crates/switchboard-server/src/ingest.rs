//! Storing what one webhook request said: every event of the batch routed to its connection by
//! the platform's account id, then written in one transaction, with a `media_download` job for
//! each new attachment enqueued in that same transaction.
//!
//! On SQLite the write goes through [`crate::group_commit`], which shares one commit among the
//! webhooks that arrived together; on PostgreSQL each request has its own transaction.
//!
//! Invariants: nothing here does network I/O (the request path stays short; downloads are
//! jobs); the caller answers the platform only after [`ingest`] returned, i.e. after the
//! commit; an event for an unknown or disconnected account is counted and dropped, never
//! stored; a store failure is returned so the platform redelivers.

use crate::jobs::media;
use crate::state::AppState;
use std::collections::HashMap;
use switchboard_core::channel::{ChannelKind, InboundEvent};
use switchboard_store::connections::Route;
use switchboard_store::messages::Direction;
use switchboard_store::{StoreError, Tx};

/// What one request's events did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestReport {
    /// Messages, echoes and comments stored for the first time.
    pub stored: usize,
    /// Messages and comments already stored (a redelivery).
    pub duplicates: usize,
    /// Statuses, watermarks, deletions and edits applied (or parked).
    pub updates: usize,
    /// Events for an account no live connection has.
    pub unrouted: usize,
    /// Events Switchboard keeps no record of (notifications it has no use for yet).
    pub unhandled: usize,
    /// Events with an id no platform issues (longer than [`MAX_ID_LEN`]): dropped.
    pub malformed: usize,
}

/// Platform ids are tens of characters; ids are indexed, and PostgreSQL refuses index entries
/// of a few kilobytes, so a longer one is dropped rather than failing the whole batch.
pub const MAX_ID_LEN: usize = 512;

/// Whether any id of the event is longer than any platform issues.
fn has_oversized_id(event: &InboundEvent) -> bool {
    let ids: Vec<&str> = match event {
        InboundEvent::Message(m) | InboundEvent::Echo(m) | InboundEvent::Edited(m) => {
            let mut ids = vec![m.external_id.as_str(), m.contact.external_id.as_str()];
            ids.extend(m.reply_to.as_deref());
            ids
        }
        InboundEvent::Status(s) => vec![s.external_id.as_str()],
        InboundEvent::Watermark { contact_id, .. } => vec![contact_id.as_str()],
        InboundEvent::Deleted { external_id, .. } => vec![external_id.as_str()],
        InboundEvent::Comment(c) => {
            let mut ids = vec![c.external_id.as_str(), c.from.external_id.as_str()];
            ids.extend(c.parent_id.as_deref());
            ids.extend(c.media_id.as_deref());
            ids
        }
        InboundEvent::Unhandled { .. } => Vec::new(),
    };
    let account_too_long = event
        .account()
        .is_some_and(|a| a.account_id.len() > MAX_ID_LEN);
    account_too_long || ids.iter().any(|id| id.len() > MAX_ID_LEN)
}

/// Whether a raw body may carry a NUL character (JSON can only spell it `\u0000`).
pub fn may_carry_nul(body: &[u8]) -> bool {
    body.windows(6).any(|w| w == b"\\u0000")
}

/// The events with every NUL character removed from their texts: PostgreSQL's `text` cannot
/// hold one, and refusing the webhook would make the platform redeliver it for days. Called
/// only when [`may_carry_nul`] says so, as it round-trips the events through JSON.
pub fn without_nul(events: Vec<InboundEvent>) -> Vec<InboundEvent> {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) if s.contains('\0') => s.retain(|c| c != '\0'),
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            serde_json::Value::Object(fields) => fields.values_mut().for_each(strip),
            _ => {}
        }
    }
    events
        .into_iter()
        .map(|event| {
            let Ok(mut value) = serde_json::to_value(&event) else {
                return event;
            };
            strip(&mut value);
            serde_json::from_value(value).unwrap_or(event)
        })
        .collect()
}

/// Routes and stores `events`. `pinned` is the connection the webhook path named (Telegram's
/// `/webhooks/telegram/{id}`): every event goes to it, whatever account it names.
pub async fn ingest(
    state: &AppState,
    events: &[InboundEvent],
    pinned: Option<&Route>,
) -> Result<IngestReport, StoreError> {
    let mut report = IngestReport::default();
    // Resolve every account before the write transaction opens, on the read pool, so the
    // single writer is held only for the writes.
    let mut routes: HashMap<(ChannelKind, String), Option<Route>> = HashMap::new();
    let mut routed = Vec::with_capacity(events.len());
    for event in events {
        if has_oversized_id(event) {
            report.malformed += 1;
            continue;
        }
        let route = match (pinned, event.account()) {
            (Some(route), _) => Some(route.clone()),
            (None, Some(account)) => {
                let key = (account.kind, account.account_id.clone());
                if let Some(known) = routes.get(&key) {
                    known.clone()
                } else {
                    let found = state.store.route(account.kind, &account.account_id).await?;
                    routes.insert(key, found.clone());
                    found
                }
            }
            (None, None) => None,
        };
        match route {
            Some(route) => routed.push((event, route)),
            None if matches!(event, InboundEvent::Unhandled { .. }) => report.unhandled += 1,
            None => report.unrouted += 1,
        }
    }
    if routed.is_empty() {
        return Ok(report);
    }
    let now = state.clock.now();
    if let Some(committer) = &state.group_commit {
        let owned = routed
            .into_iter()
            .map(|(event, route)| (event.clone(), route))
            .collect();
        let written = committer.ingest(owned, now).await?;
        report.stored += written.stored;
        report.duplicates += written.duplicates;
        report.updates += written.updates;
        report.unhandled += written.unhandled;
        return Ok(report);
    }
    let mut tx = state.store.begin().await?;
    for (event, route) in routed {
        apply(&mut tx, event, &route, now, &mut report).await?;
    }
    tx.commit().await?;
    Ok(report)
}

pub(crate) async fn apply(
    tx: &mut Tx,
    event: &InboundEvent,
    route: &Route,
    now: switchboard_core::Timestamp,
    report: &mut IngestReport,
) -> Result<(), StoreError> {
    let (ws, conn) = (route.workspace_id, route.connection_id);
    match event {
        InboundEvent::Message(message) | InboundEvent::Echo(message) => {
            let direction = if matches!(event, InboundEvent::Echo(_)) {
                Direction::Echo
            } else {
                Direction::Inbound
            };
            let ingested = tx.ingest_message(ws, conn, message, direction, now).await?;
            if ingested.duplicate {
                report.duplicates += 1;
            } else {
                report.stored += 1;
            }
            if let Some(media_id) = ingested.media {
                media::enqueue(tx, ws, conn, media_id, now).await?;
            }
        }
        InboundEvent::Edited(message) => {
            if tx.apply_edit(ws, conn, message, now).await?.is_some() {
                report.updates += 1;
            } else {
                // The original never reached us: keep the edited text as the message.
                let ingested = tx
                    .ingest_message(ws, conn, message, Direction::Inbound, now)
                    .await?;
                report.stored += usize::from(!ingested.duplicate);
                if let Some(media_id) = ingested.media {
                    media::enqueue(tx, ws, conn, media_id, now).await?;
                }
            }
        }
        InboundEvent::Status(update) => {
            tx.apply_status(ws, conn, update, now).await?;
            report.updates += 1;
        }
        InboundEvent::Watermark {
            contact_id,
            status,
            up_to,
            ..
        } => {
            tx.apply_watermark(ws, conn, contact_id, *status, *up_to, now)
                .await?;
            report.updates += 1;
        }
        InboundEvent::Deleted {
            external_id, at, ..
        } => {
            tx.mark_deleted(ws, conn, external_id, *at).await?;
            report.updates += 1;
        }
        InboundEvent::Comment(comment) => {
            if tx.ingest_comment(ws, conn, comment, now).await? {
                report.stored += 1;
            } else {
                report.duplicates += 1;
            }
        }
        InboundEvent::Unhandled { platform_type, .. } => {
            tracing::debug!(%platform_type, "unhandled webhook notification");
            report.unhandled += 1;
        }
    }
    Ok(())
}
