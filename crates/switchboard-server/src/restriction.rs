//! Restriction of processing and objection to direct marketing (GDPR articles 18 and 21),
//! shared by the API and the CLI.
//!
//! Invariants:
//! - a restricted contact gets nothing sent: the reply route refuses with `restricted`, and the
//!   `send_message` job re-checks at send time, so a message queued before the restriction
//!   fails with `restricted` instead of going out;
//! - an objection refuses every marketing template with `objected` (same two places);
//! - lifting a restriction tells the contact first: the notice is queued in the transaction
//!   that lifts it (so it is the first thing sent afterwards) through the conversation whose
//!   reply window allows it; where none does, why not is recorded in the audit entry;
//! - every change is audit-logged in its own transaction.

use crate::error::ApiError;
use switchboard_core::channel::OutboundContent;
use switchboard_core::window::{ReplyAttempt, WindowDecision, WindowRules, check_reply};
use switchboard_core::{ContactId, ConversationId, MessageId, Timestamp, UserId, WorkspaceId};
use switchboard_store::Store;
use switchboard_store::audit::NewAuditEvent;
use switchboard_store::connections::ConnectionStatus;
use switchboard_store::messages::NewOutbound;

/// What lifting a restriction did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LiftOutcome {
    /// False when the contact was not restricted (nothing changed).
    pub lifted: bool,
    /// The notice queued to the contact, when a channel allowed one.
    pub notice_message_id: Option<MessageId>,
    pub notice_conversation_id: Option<ConversationId>,
    /// Why no notice could be sent, when none was.
    pub note: Option<String>,
}

/// Restricts processing of the contact's data; `false` when it already was.
pub async fn restrict(
    store: &Store,
    ws: WorkspaceId,
    contact: ContactId,
    reason: &str,
    event: NewAuditEvent,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let mut tx = store.begin().await?;
    let changed = tx.restrict_contact(ws, contact, reason, now).await?;
    if changed {
        let event = crate::audit::with_details(
            event.target("contact", contact, None),
            serde_json::json!({ "reason": reason }),
        );
        tx.record_audit(&event, now).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// Records the contact's objection to direct marketing; `false` when it was on record.
pub async fn object(
    store: &Store,
    ws: WorkspaceId,
    contact: ContactId,
    event: NewAuditEvent,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let mut tx = store.begin().await?;
    let changed = tx.record_marketing_objection(ws, contact, now).await?;
    if changed {
        tx.record_audit(&event.target("contact", contact, None), now)
            .await?;
    }
    tx.commit().await?;
    Ok(changed)
}

fn notice_text(business: &str) -> String {
    format!(
        "{business}: the restriction you asked for on the processing of your data is being \
         lifted. From now on {business} may process your data and write to you again. If you \
         object, reply to this message."
    )
}

/// Lifts the contact's restriction after queueing a notice to them where a reply window
/// allows one (else records why not); audited with the outcome.
pub async fn lift(
    store: &Store,
    ws: WorkspaceId,
    contact: ContactId,
    author: Option<UserId>,
    event: NewAuditEvent,
    now: Timestamp,
) -> Result<LiftOutcome, ApiError> {
    let privacy = store.contact_privacy(ws, contact).await?;
    if !privacy.is_restricted() {
        return Ok(LiftOutcome {
            lifted: false,
            notice_message_id: None,
            notice_conversation_id: None,
            note: None,
        });
    }
    let business = store.workspace(ws).await?.name;
    let content = OutboundContent::Text {
        body: notice_text(&business),
    };
    let (chosen, note) = reachable_conversation(store, ws, contact, &content, now).await?;
    let mut tx = store.begin().await?;
    let mut notice = None;
    if let Some(conversation) = chosen {
        let message = tx
            .insert_outbound(
                ws,
                conversation,
                &NewOutbound {
                    author,
                    content: &content,
                    reply_to_external_id: None,
                    idempotency_key: None,
                },
                now,
            )
            .await?;
        tx.enqueue(crate::jobs::send::job(ws, message, None, now), now)
            .await?;
        notice = Some(message);
    }
    let lifted = tx.lift_restriction(ws, contact, now).await?;
    if !lifted {
        // Lifted by someone else meanwhile: the notice (if any) is theirs to send.
        return Ok(LiftOutcome {
            lifted: false,
            notice_message_id: None,
            notice_conversation_id: None,
            note: None,
        });
    }
    let event = crate::audit::with_details(
        event.target("contact", contact, None),
        serde_json::json!({
            "notified": notice.is_some(),
            "notice_message_id": notice,
            "notice_conversation_id": chosen,
            "note": note,
        }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(LiftOutcome {
        lifted: true,
        notice_message_id: notice,
        notice_conversation_id: chosen,
        note,
    })
}

/// The contact's conversation (the one they wrote in last first) through which `content` may
/// be sent now: its channel active and its reply window open. When none may, why not, per
/// channel, in words an operator can act on.
pub async fn reachable_conversation(
    store: &Store,
    ws: WorkspaceId,
    contact: ContactId,
    content: &OutboundContent,
    now: Timestamp,
) -> Result<(Option<ConversationId>, Option<String>), ApiError> {
    let mut why_not = Vec::new();
    let mut chosen = None;
    for conversation in store.contact_conversation_ids(ws, contact).await? {
        let target = match store.reply_target(ws, conversation).await {
            Ok(t) => t,
            Err(switchboard_store::StoreError::NotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        let connection = store.connection(ws, target.connection_id).await?;
        if connection.status != ConnectionStatus::Active {
            why_not.push(format!(
                "{}: the channel is {}",
                target.kind.display_name(),
                connection.status.as_str()
            ));
            continue;
        }
        let attempt = ReplyAttempt {
            kind: target.kind,
            last_inbound_at: target.last_inbound_at,
            now,
            content,
            tag: None,
            sent_since_last_inbound: target.sent_since_last_inbound,
        };
        match check_reply(&attempt, &WindowRules::default()) {
            WindowDecision::Refused(r) => {
                why_not.push(format!(
                    "{}: {} ({})",
                    target.kind.display_name(),
                    r.message,
                    r.code
                ));
            }
            _ => {
                chosen = Some(conversation);
                break;
            }
        }
    }
    let note = match (&chosen, why_not.is_empty()) {
        (Some(_), _) => None,
        (None, true) => {
            Some("The contact has no conversation to send a message through.".to_owned())
        }
        (None, false) => Some(format!(
            "No channel allows a message to the contact now: {}.",
            why_not.join("; ")
        )),
    };
    Ok((chosen, note))
}
