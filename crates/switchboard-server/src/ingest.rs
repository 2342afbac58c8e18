//! Storing what one webhook request said: every event of the batch routed to its connection by
//! the platform's account id, then written in one transaction, with a `media_download` job for
//! each new attachment enqueued in that same transaction.
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
    /// Messages and echoes stored for the first time.
    pub stored: usize,
    /// Messages already stored (a redelivery).
    pub duplicates: usize,
    /// Statuses, watermarks, deletions and edits applied (or parked).
    pub updates: usize,
    /// Events for an account no live connection has.
    pub unrouted: usize,
    /// Events Switchboard keeps no record of yet (comments, unhandled notifications).
    pub unhandled: usize,
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
    let mut tx = state.store.begin().await?;
    for (event, route) in routed {
        apply(&mut tx, event, &route, now, &mut report).await?;
    }
    tx.commit().await?;
    Ok(report)
}

async fn apply(
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
        InboundEvent::Comment(_) => {
            // Comments get their own inbox with the automation issue; counted until then.
            report.unhandled += 1;
        }
        InboundEvent::Unhandled { platform_type, .. } => {
            tracing::debug!(%platform_type, "unhandled webhook notification");
            report.unhandled += 1;
        }
    }
    Ok(())
}
