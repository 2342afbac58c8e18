//! Tenant isolation: every getter and change on channel data, given another workspace's id,
//! finds nothing.

use crate::channels_fixtures::{fixture, text_from, workspace};
use crate::t0;
use switchboard_core::channel::{MediaRef, OutboundContent};
use switchboard_store::connections::ConnectionStatus;
use switchboard_store::consent::{ConsentKind, NewOptIn};
use switchboard_store::conversations::ConversationStatus;
use switchboard_store::messages::{Direction, MessagePage, NewOutbound};
use switchboard_store::{Store, StoreError, backend_tests};

backend_tests!(another_workspace_finds_nothing);

fn not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "expected not found, got {result:?}"
    );
}

async fn another_workspace_finds_nothing(store: Store) {
    let f = fixture(&store, "acme").await;
    let done = f
        .ingest(
            &store,
            &text_from("346", "wamid.1", "secret", t0()),
            Direction::Inbound,
        )
        .await;
    let mut tx = store.begin().await.unwrap();
    let media = tx
        .insert_media_object(
            f.ws,
            done.message_id,
            &MediaRef::Url("https://x/y".into()),
            t0(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let intruder = workspace(&store, "intruder").await;

    not_found(store.connection(intruder, f.conn.id).await);
    not_found(
        store
            .connection_credentials(intruder, f.conn.id, &f.master)
            .await,
    );
    assert!(store.connections(intruder).await.unwrap().is_empty());
    not_found(store.contact(intruder, done.contact_id).await);
    assert_eq!(
        store
            .contact_by_identity(intruder, f.conn.id, "346")
            .await
            .unwrap(),
        None
    );
    not_found(store.conversation(intruder, done.conversation_id).await);
    assert!(
        store
            .conversations(intruder, None, 50)
            .await
            .unwrap()
            .is_empty()
    );
    not_found(store.reply_target(intruder, done.conversation_id).await);
    not_found(store.message(intruder, done.message_id).await);
    let page = MessagePage {
        before: None,
        limit: 50,
    };
    assert!(
        store
            .messages(intruder, done.conversation_id, page)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .message_by_external_id(intruder, f.conn.id, "wamid.1")
            .await
            .unwrap(),
        None
    );
    not_found(store.media_object(intruder, media).await);
    assert!(
        store
            .media_of_message(intruder, done.message_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .templates(intruder, f.conn.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .has_opt_in(
                intruder,
                done.contact_id,
                f.conn.id,
                ConsentKind::WhatsappMarketing
            )
            .await
            .unwrap()
    );

    // Changes, too.
    let mut tx = store.begin().await.unwrap();
    not_found(
        tx.set_connection_status(
            intruder,
            f.conn.id,
            ConnectionStatus::NeedsAttention,
            None,
            t0(),
        )
        .await,
    );
    not_found(tx.disconnect(intruder, f.conn.id, t0()).await);
    not_found(
        tx.update_connection(intruder, f.conn.id, "x", &serde_json::json!({}), t0())
            .await,
    );
    not_found(
        tx.set_conversation_status(
            intruder,
            done.conversation_id,
            ConversationStatus::Resolved,
            t0(),
        )
        .await,
    );
    not_found(
        tx.assign_conversation(intruder, done.conversation_id, None, t0())
            .await,
    );
    let content = OutboundContent::Text { body: "x".into() };
    not_found(
        tx.insert_outbound(
            intruder,
            done.conversation_id,
            &NewOutbound {
                author: None,
                content: &content,
                reply_to_external_id: None,
                idempotency_key: None,
            },
            t0(),
        )
        .await,
    );
    not_found(tx.mark_sent(intruder, done.message_id, "x", t0()).await);
    not_found(
        tx.mark_failed(intruder, done.message_id, "1", "x", t0())
            .await,
    );
    not_found(tx.mark_media_failed(intruder, media, "x", t0()).await);
    not_found(
        tx.insert_media_object(intruder, done.message_id, &MediaRef::Url("u".into()), t0())
            .await,
    );
    not_found(tx.replace_templates(intruder, f.conn.id, &[], t0()).await);
    assert_eq!(
        tx.mark_deleted(intruder, f.conn.id, "wamid.1", t0())
            .await
            .unwrap(),
        None
    );
    not_found(
        tx.record_opt_in(
            intruder,
            &NewOptIn {
                contact: done.contact_id,
                connection: f.conn.id,
                kind: ConsentKind::WhatsappMarketing,
                source: "agent",
                proof: None,
                granted_at: t0(),
                recorded_by: None,
            },
            t0(),
        )
        .await,
    );
    tx.commit().await.unwrap();

    // And the owner's data is untouched.
    let message = store.message(f.ws, done.message_id).await.unwrap();
    assert_eq!(message.text.as_deref(), Some("secret"));
    assert_eq!(message.deleted_at, None);
    assert_eq!(
        store.connection(f.ws, f.conn.id).await.unwrap().status,
        ConnectionStatus::Active
    );
}
