//! Delivery statuses and outbound messages: rank order whatever the arrival order, statuses
//! that arrive before their message, failed is final.

use crate::channels_fixtures::{Fixture, PHONE_NUMBER_ID, fixture, text_from};
use crate::t0;
use switchboard_core::channel::{
    AccountRef, ChannelKind, DeliveryStatus, OutboundContent, PlatformError, StatusUpdate,
};
use switchboard_core::{ConversationId, MessageId};
use switchboard_store::messages::{Direction, MessageStatus, NewOutbound, StatusOutcome};
use switchboard_store::{Store, backend_tests};
use time::Duration;

backend_tests!(
    statuses_out_of_order_end_in_the_highest,
    status_before_its_message_is_applied_when_the_message_lands,
    status_before_the_send_is_recorded_is_applied_by_mark_sent,
    failed_is_final,
    send_failure_is_kept_with_code_and_reason,
    watermark_raises_everything_sent_up_to_it,
    echo_of_our_own_send_is_not_a_second_message,
);

fn status(external_id: &str, s: DeliveryStatus) -> StatusUpdate {
    StatusUpdate {
        account: AccountRef {
            kind: ChannelKind::WhatsApp,
            account_id: PHONE_NUMBER_ID.into(),
        },
        external_id: external_id.into(),
        recipient: Some("346".into()),
        status: s,
        at: t0(),
        error: None,
    }
}

async fn apply(store: &Store, f: &Fixture, update: &StatusUpdate) -> StatusOutcome {
    let mut tx = store.begin().await.unwrap();
    let out = tx
        .apply_status(f.ws, f.conn.id, update, t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    out
}

async fn conversation(store: &Store, f: &Fixture) -> ConversationId {
    f.ingest(
        store,
        &text_from("346", "wamid.in", "hi", t0()),
        Direction::Inbound,
    )
    .await
    .conversation_id
}

/// An agent's reply, queued and then accepted by the platform as `external_id`.
async fn sent_reply(
    store: &Store,
    f: &Fixture,
    conv: ConversationId,
    external_id: &str,
) -> MessageId {
    let mut tx = store.begin().await.unwrap();
    let id = queue(&mut tx, f, conv).await;
    tx.mark_sent(f.ws, id, external_id, t0()).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn queue(tx: &mut switchboard_store::Tx, f: &Fixture, conv: ConversationId) -> MessageId {
    tx.insert_outbound(
        f.ws,
        conv,
        &NewOutbound {
            author: None,
            content: &OutboundContent::Text {
                body: "Hello!".into(),
            },
            reply_to_external_id: Some("wamid.in"),
            idempotency_key: None,
        },
        t0(),
    )
    .await
    .unwrap()
}

async fn status_of(store: &Store, f: &Fixture, id: MessageId) -> MessageStatus {
    store.message(f.ws, id).await.unwrap().status
}

async fn statuses_out_of_order_end_in_the_highest(store: Store) {
    let f = fixture(&store, "acme").await;
    let conv = conversation(&store, &f).await;
    let id = sent_reply(&store, &f, conv, "wamid.out").await;
    assert_eq!(status_of(&store, &f, id).await, MessageStatus::Sent);
    assert_eq!(
        apply(&store, &f, &status("wamid.out", DeliveryStatus::Read)).await,
        StatusOutcome::Applied(id)
    );
    assert_eq!(
        apply(&store, &f, &status("wamid.out", DeliveryStatus::Delivered)).await,
        StatusOutcome::Unchanged(id)
    );
    assert_eq!(
        apply(&store, &f, &status("wamid.out", DeliveryStatus::Sent)).await,
        StatusOutcome::Unchanged(id)
    );
    assert_eq!(status_of(&store, &f, id).await, MessageStatus::Read);
}

async fn status_before_its_message_is_applied_when_the_message_lands(store: Store) {
    let f = fixture(&store, "acme").await;
    // Statuses about a message sent from the business's phone arrive before its echo.
    assert_eq!(
        apply(&store, &f, &status("wamid.echo", DeliveryStatus::Read)).await,
        StatusOutcome::Parked
    );
    assert_eq!(
        apply(&store, &f, &status("wamid.echo", DeliveryStatus::Delivered)).await,
        StatusOutcome::Parked
    );
    let echo = f
        .ingest(
            &store,
            &text_from("346", "wamid.echo", "sent from my phone", t0()),
            Direction::Echo,
        )
        .await;
    assert_eq!(
        status_of(&store, &f, echo.message_id).await,
        MessageStatus::Read
    );
}

async fn status_before_the_send_is_recorded_is_applied_by_mark_sent(store: Store) {
    let f = fixture(&store, "acme").await;
    let conv = conversation(&store, &f).await;
    let mut tx = store.begin().await.unwrap();
    let id = queue(&mut tx, &f, conv).await;
    tx.commit().await.unwrap();
    assert_eq!(status_of(&store, &f, id).await, MessageStatus::Queued);
    // The platform's delivery webhook beats the send job's own bookkeeping.
    assert_eq!(
        apply(&store, &f, &status("wamid.fast", DeliveryStatus::Delivered)).await,
        StatusOutcome::Parked
    );
    let mut tx = store.begin().await.unwrap();
    tx.mark_sent(f.ws, id, "wamid.fast", t0()).await.unwrap();
    tx.commit().await.unwrap();
    let message = store.message(f.ws, id).await.unwrap();
    assert_eq!(message.status, MessageStatus::Delivered);
    assert_eq!(message.external_id.as_deref(), Some("wamid.fast"));
}

async fn failed_is_final(store: Store) {
    let f = fixture(&store, "acme").await;
    let conv = conversation(&store, &f).await;
    let id = sent_reply(&store, &f, conv, "wamid.out").await;
    let mut failed = status("wamid.out", DeliveryStatus::Failed);
    failed.error = Some(PlatformError {
        code: "131026".into(),
        title: Some("Message undeliverable".into()),
        detail: None,
    });
    assert_eq!(apply(&store, &f, &failed).await, StatusOutcome::Applied(id));
    for later in [DeliveryStatus::Delivered, DeliveryStatus::Read] {
        assert_eq!(
            apply(&store, &f, &status("wamid.out", later)).await,
            StatusOutcome::Unchanged(id)
        );
    }
    let message = store.message(f.ws, id).await.unwrap();
    assert_eq!(message.status, MessageStatus::Failed);
    assert_eq!(message.error_code.as_deref(), Some("131026"));
    assert_eq!(
        message.error_reason.as_deref(),
        Some("Message undeliverable")
    );
}

async fn send_failure_is_kept_with_code_and_reason(store: Store) {
    let f = fixture(&store, "acme").await;
    let conv = conversation(&store, &f).await;
    let mut tx = store.begin().await.unwrap();
    let id = queue(&mut tx, &f, conv).await;
    tx.mark_failed(
        f.ws,
        id,
        "131047",
        "More than 24 hours have passed since the customer last replied.",
        t0(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let message = store.message(f.ws, id).await.unwrap();
    assert_eq!(message.status, MessageStatus::Failed);
    assert_eq!(message.direction, Direction::Outbound);
    assert_eq!(message.external_id, None);
    assert_eq!(message.reply_to_external_id.as_deref(), Some("wamid.in"));
    assert_eq!(message.text.as_deref(), Some("Hello!"));
    // Failed sends do not count against a per-window cap.
    let target = store.reply_target(f.ws, conv).await.unwrap();
    assert_eq!(target.sent_since_last_inbound, 0);
}

async fn watermark_raises_everything_sent_up_to_it(store: Store) {
    let f = fixture(&store, "acme").await;
    let conv = conversation(&store, &f).await;
    let a = sent_reply(&store, &f, conv, "mid.a").await;
    let b = sent_reply(&store, &f, conv, "mid.b").await;
    let mut tx = store.begin().await.unwrap();
    let queued = queue(&mut tx, &f, conv).await;
    let moved = tx
        .apply_watermark(
            f.ws,
            f.conn.id,
            "346",
            DeliveryStatus::Read,
            t0() + Duration::seconds(1),
            t0(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(moved, 2);
    assert_eq!(status_of(&store, &f, a).await, MessageStatus::Read);
    assert_eq!(status_of(&store, &f, b).await, MessageStatus::Read);
    assert_eq!(status_of(&store, &f, queued).await, MessageStatus::Queued);
    assert_eq!(
        store
            .reply_target(f.ws, conv)
            .await
            .unwrap()
            .sent_since_last_inbound,
        3
    );
}

async fn echo_of_our_own_send_is_not_a_second_message(store: Store) {
    let f = fixture(&store, "acme").await;
    let conv = conversation(&store, &f).await;
    let mut tx = store.begin().await.unwrap();
    let id = queue(&mut tx, &f, conv).await;
    tx.commit().await.unwrap();
    // Messenger echoes a send before the send job has recorded its id...
    let echo = f
        .ingest(
            &store,
            &text_from("346", "mid.ours", "Hello!", t0()),
            Direction::Echo,
        )
        .await;
    assert!(!echo.duplicate);
    assert_eq!(
        apply(&store, &f, &status("mid.ours", DeliveryStatus::Delivered)).await,
        StatusOutcome::Applied(echo.message_id)
    );
    let mut tx = store.begin().await.unwrap();
    tx.mark_sent(f.ws, id, "mid.ours", t0()).await.unwrap();
    tx.commit().await.unwrap();
    // ...and the agent's message is the one that stays.
    let found = store
        .message_by_external_id(f.ws, f.conn.id, "mid.ours")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, id);
    assert_eq!(
        found.status,
        MessageStatus::Delivered,
        "the echo's status carried over"
    );
    assert_eq!(found.direction, Direction::Outbound);
    // A later redelivery of the echo is a duplicate of it.
    let again = f
        .ingest(
            &store,
            &text_from("346", "mid.ours", "Hello!", t0()),
            Direction::Echo,
        )
        .await;
    assert!(again.duplicate);
    assert_eq!(again.message_id, id);
}
