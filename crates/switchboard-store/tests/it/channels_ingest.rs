//! Ingesting webhook messages: contacts, conversations and exactly-once storage.

use crate::channels_fixtures::{fixture, text_from};
use crate::t0;
use switchboard_core::channel::{MediaKind, MediaRef, MessageContent};
use switchboard_store::conversations::ConversationStatus;
use switchboard_store::media::{MediaState, StoredMedia};
use switchboard_store::messages::{Direction, MessagePage, MessageStatus, StoredContent};
use switchboard_store::{Store, backend_tests};
use time::Duration;

backend_tests!(
    ingest_creates_contact_identity_conversation_and_message,
    same_message_ingested_five_times_concurrently_stores_one,
    redelivered_webhook_stores_one_message,
    resolved_conversation_is_reopened_by_a_new_message,
    echo_joins_the_conversation_without_reopening_it,
    media_message_gets_a_pending_media_object,
    deletions_and_edits_change_the_stored_message,
    messages_page_backwards_oldest_first,
    inbox_lists_conversations_by_status_newest_first,
);

async fn ingest_creates_contact_identity_conversation_and_message(store: Store) {
    let f = fixture(&store, "acme").await;
    let msg = text_from("34600111222", "wamid.A", "Hola", t0());
    let done = f.ingest(&store, &msg, Direction::Inbound).await;
    assert!(done.created_contact && !done.duplicate && !done.reopened);
    assert_eq!(done.media, None);

    let contact = store.contact(f.ws, done.contact_id).await.unwrap();
    assert_eq!(contact.display_name.as_deref(), Some("Ana"));
    assert_eq!(contact.last_seen_at, Some(t0()));
    assert_eq!(contact.identities.len(), 1);
    assert_eq!(contact.identities[0].external_id, "34600111222");
    assert_eq!(contact.identities[0].phone.as_deref(), Some("+34600111222"));
    assert_eq!(contact.identities[0].connection_id, f.conn.id);

    let conv = store
        .conversation(f.ws, done.conversation_id)
        .await
        .unwrap();
    assert_eq!(conv.status, ConversationStatus::Open);
    assert_eq!(conv.contact_id, done.contact_id);
    assert_eq!(conv.last_inbound_at, Some(t0()));
    assert_eq!(conv.last_message_at, Some(t0()));

    let message = store.message(f.ws, done.message_id).await.unwrap();
    assert_eq!(message.direction, Direction::Inbound);
    assert_eq!(message.status, MessageStatus::Received);
    assert_eq!(message.external_id.as_deref(), Some("wamid.A"));
    assert_eq!(message.text.as_deref(), Some("Hola"));
    assert_eq!(
        message.content,
        StoredContent::Received(MessageContent::Text {
            body: "Hola".into()
        })
    );

    // A second message from the same person lands in the same conversation.
    let next = text_from(
        "34600111222",
        "wamid.B",
        "¿Hay alguien?",
        t0() + Duration::minutes(1),
    );
    let second = f.ingest(&store, &next, Direction::Inbound).await;
    assert!(!second.created_contact);
    assert_eq!(second.contact_id, done.contact_id);
    assert_eq!(second.conversation_id, done.conversation_id);
    let target = store
        .reply_target(f.ws, done.conversation_id)
        .await
        .unwrap();
    assert_eq!(target.to, "34600111222");
    assert_eq!(target.last_inbound_at, Some(t0() + Duration::minutes(1)));
}

async fn same_message_ingested_five_times_concurrently_stores_one(store: Store) {
    let f = std::sync::Arc::new(fixture(&store, "acme").await);
    let msg = text_from("34600111222", "wamid.DUP", "once", t0());
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (store, f, msg) = (store.clone(), f.clone(), msg.clone());
            tokio::spawn(async move { f.ingest(&store, &msg, Direction::Inbound).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    assert_eq!(results.iter().filter(|r| !r.duplicate).count(), 1);
    assert!(
        results
            .iter()
            .all(|r| r.message_id == results[0].message_id)
    );
    assert!(
        results
            .iter()
            .all(|r| r.contact_id == results[0].contact_id)
    );
    let messages = store
        .messages(
            f.ws,
            results[0].conversation_id,
            MessagePage {
                before: None,
                limit: 50,
            },
        )
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);

    // Five different first messages from one new person at once: one contact, one
    // conversation.
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let (store, f) = (store.clone(), f.clone());
            let msg = text_from("34999", &format!("wamid.N{i}"), "hi", t0());
            tokio::spawn(async move { f.ingest(&store, &msg, Direction::Inbound).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    assert_eq!(results.iter().filter(|r| r.created_contact).count(), 1);
    assert!(
        results
            .iter()
            .all(|r| r.conversation_id == results[0].conversation_id)
    );
}

async fn redelivered_webhook_stores_one_message(store: Store) {
    let f = fixture(&store, "acme").await;
    let msg = text_from("34600111222", "wamid.A", "Hola", t0());
    let first = f.ingest(&store, &msg, Direction::Inbound).await;
    let again = f.ingest(&store, &msg, Direction::Inbound).await;
    assert!(again.duplicate);
    assert_eq!(again.message_id, first.message_id);
    assert_eq!(again.conversation_id, first.conversation_id);
}

async fn resolved_conversation_is_reopened_by_a_new_message(store: Store) {
    let f = fixture(&store, "acme").await;
    let first = f
        .ingest(
            &store,
            &text_from("346", "wamid.1", "a", t0()),
            Direction::Inbound,
        )
        .await;
    let mut tx = store.begin().await.unwrap();
    tx.set_conversation_status(
        f.ws,
        first.conversation_id,
        ConversationStatus::Resolved,
        t0(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let resolved = store
        .conversation(f.ws, first.conversation_id)
        .await
        .unwrap();
    assert_eq!(resolved.status, ConversationStatus::Resolved);
    assert_eq!(resolved.resolved_at, Some(t0()));

    let later = t0() + Duration::days(2);
    let next = f
        .ingest(
            &store,
            &text_from("346", "wamid.2", "b", later),
            Direction::Inbound,
        )
        .await;
    assert!(next.reopened);
    assert_eq!(next.conversation_id, first.conversation_id);
    let conv = store
        .conversation(f.ws, first.conversation_id)
        .await
        .unwrap();
    assert_eq!(conv.status, ConversationStatus::Open);
    assert_eq!(conv.resolved_at, None);
    assert_eq!(conv.last_inbound_at, Some(later));

    // A snoozed conversation is woken, not duplicated.
    let mut tx = store.begin().await.unwrap();
    tx.set_conversation_status(f.ws, conv.id, ConversationStatus::Snoozed, later)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let woken = f
        .ingest(
            &store,
            &text_from("346", "wamid.3", "c", later),
            Direction::Inbound,
        )
        .await;
    assert!(!woken.reopened);
    assert_eq!(woken.conversation_id, conv.id);
    assert_eq!(
        store.conversation(f.ws, conv.id).await.unwrap().status,
        ConversationStatus::Open
    );
}

async fn echo_joins_the_conversation_without_reopening_it(store: Store) {
    let f = fixture(&store, "acme").await;
    let first = f
        .ingest(
            &store,
            &text_from("346", "wamid.1", "a", t0()),
            Direction::Inbound,
        )
        .await;
    let mut tx = store.begin().await.unwrap();
    tx.set_conversation_status(
        f.ws,
        first.conversation_id,
        ConversationStatus::Resolved,
        t0(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let at = t0() + Duration::hours(1);
    let echo = f
        .ingest(
            &store,
            &text_from("346", "wamid.E", "from my phone", at),
            Direction::Echo,
        )
        .await;
    assert!(!echo.reopened);
    assert_eq!(echo.conversation_id, first.conversation_id);
    let conv = store
        .conversation(f.ws, first.conversation_id)
        .await
        .unwrap();
    assert_eq!(conv.status, ConversationStatus::Resolved);
    assert_eq!(
        conv.last_inbound_at,
        Some(t0()),
        "an echo is not the customer writing"
    );
    let message = store.message(f.ws, echo.message_id).await.unwrap();
    assert_eq!(message.direction, Direction::Echo);
    assert_eq!(message.status, MessageStatus::Sent);
}

async fn media_message_gets_a_pending_media_object(store: Store) {
    let f = fixture(&store, "acme").await;
    let mut msg = text_from("346", "wamid.IMG", "", t0());
    msg.content = MessageContent::Media {
        kind: MediaKind::Image,
        media: MediaRef::PlatformId("media-123".into()),
        mime_type: Some("image/jpeg".into()),
        caption: Some("my receipt".into()),
        filename: None,
        sha256: None,
    };
    let done = f.ingest(&store, &msg, Direction::Inbound).await;
    let media = done.media.unwrap();
    let object = store.media_object(f.ws, media).await.unwrap();
    assert_eq!(object.state, MediaState::Pending);
    assert_eq!(object.message_id, done.message_id);
    assert_eq!(
        object.source,
        Some(MediaRef::PlatformId("media-123".into()))
    );
    assert_eq!(
        store
            .message(f.ws, done.message_id)
            .await
            .unwrap()
            .text
            .as_deref(),
        Some("my receipt")
    );

    let mut tx = store.begin().await.unwrap();
    tx.mark_media_stored(
        f.ws,
        media,
        &StoredMedia {
            storage_key: "ws/abc",
            content_type: "image/jpeg",
            size_bytes: 1234,
            sha256: "00ff",
        },
        t0(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let object = store.media_object(f.ws, media).await.unwrap();
    assert_eq!(object.state, MediaState::Stored);
    assert_eq!(
        object.source, None,
        "the download URL is forgotten once stored"
    );
    assert_eq!(object.storage_key.as_deref(), Some("ws/abc"));
    assert_eq!(
        store
            .media_of_message(f.ws, done.message_id)
            .await
            .unwrap()
            .len(),
        1
    );

    let mut tx = store.begin().await.unwrap();
    tx.mark_media_failed(f.ws, media, "too large", t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.media_object(f.ws, media).await.unwrap().state,
        MediaState::Failed
    );
}

async fn deletions_and_edits_change_the_stored_message(store: Store) {
    let f = fixture(&store, "acme").await;
    let msg = text_from("346", "wamid.1", "typo", t0());
    let done = f.ingest(&store, &msg, Direction::Inbound).await;
    let mut edited = msg.clone();
    edited.content = MessageContent::Text {
        body: "fixed".into(),
    };
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.apply_edit(f.ws, f.conn.id, &edited, t0()).await.unwrap(),
        Some(done.message_id)
    );
    tx.commit().await.unwrap();
    let message = store.message(f.ws, done.message_id).await.unwrap();
    assert_eq!(message.text.as_deref(), Some("fixed"));
    assert_eq!(message.edited_at, Some(t0()));

    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.mark_deleted(f.ws, f.conn.id, "wamid.1", t0())
            .await
            .unwrap(),
        Some(done.message_id)
    );
    assert_eq!(
        tx.mark_deleted(f.ws, f.conn.id, "wamid.unknown", t0())
            .await
            .unwrap(),
        None
    );
    tx.commit().await.unwrap();
    let message = store.message(f.ws, done.message_id).await.unwrap();
    assert_eq!(message.deleted_at, Some(t0()));
    assert_eq!(message.text, None, "a deleted message's words are not kept");
}

async fn messages_page_backwards_oldest_first(store: Store) {
    let f = fixture(&store, "acme").await;
    let mut ids = Vec::new();
    let mut conversation = None;
    for i in 0..5 {
        let at = t0() + Duration::minutes(i);
        let done = f
            .ingest(
                &store,
                &text_from("346", &format!("wamid.{i}"), "m", at),
                Direction::Inbound,
            )
            .await;
        ids.push(done.message_id);
        conversation = Some(done.conversation_id);
    }
    let conversation = conversation.unwrap();
    let newest = store
        .messages(
            f.ws,
            conversation,
            MessagePage {
                before: None,
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        newest.iter().map(|m| m.id).collect::<Vec<_>>(),
        ids[3..].to_vec()
    );
    let older = store
        .messages(
            f.ws,
            conversation,
            MessagePage {
                before: Some(newest[0].id),
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        older.iter().map(|m| m.id).collect::<Vec<_>>(),
        ids[..3].to_vec()
    );
}

async fn inbox_lists_conversations_by_status_newest_first(store: Store) {
    let f = fixture(&store, "acme").await;
    let agent = crate::user(&store, "agent@example.com").await;
    let a = f
        .ingest(
            &store,
            &text_from("1", "w.1", "a", t0()),
            Direction::Inbound,
        )
        .await;
    let b = f
        .ingest(
            &store,
            &text_from("2", "w.2", "b", t0() + Duration::minutes(1)),
            Direction::Inbound,
        )
        .await;
    let mut tx = store.begin().await.unwrap();
    tx.assign_conversation(f.ws, a.conversation_id, Some(agent), t0())
        .await
        .unwrap();
    tx.set_conversation_status(f.ws, b.conversation_id, ConversationStatus::Pending, t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let all = store.conversations(f.ws, None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![b.conversation_id, a.conversation_id]
    );
    let open = store
        .conversations(f.ws, Some(ConversationStatus::Open), 10)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].assignee_user_id, Some(agent));
    assert_eq!(
        open[0].kind,
        switchboard_core::channel::ChannelKind::WhatsApp
    );
}
