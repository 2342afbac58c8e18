//! The listings behind the REST reads: conversations by activity with filters and a cursor,
//! and contact search over names and identities, on both backends.

use crate::channels_fixtures::{fixture, text_from, workspace};
use crate::t0;
use switchboard_core::channel::ChannelKind;
use switchboard_store::conversations::{ConversationFilter, ConversationStatus};
use switchboard_store::messages::Direction;
use switchboard_store::{Store, backend_tests};
use time::Duration;

backend_tests!(
    conversations_page_by_latest_activity_with_a_stable_cursor,
    contact_search_matches_names_and_identities_and_treats_wildcards_literally,
);

async fn conversations_page_by_latest_activity_with_a_stable_cursor(store: Store) {
    let f = fixture(&store, "acme").await;
    let mut ids = Vec::new();
    for (i, wa) in ["1", "2", "3"].iter().enumerate() {
        let at = t0() + Duration::minutes(i as i64);
        let mut tx = store.begin().await.unwrap();
        let got = tx
            .ingest_message(
                f.ws,
                f.conn.id,
                &text_from(wa, &format!("wamid.{wa}"), "hi", at),
                Direction::Inbound,
                at,
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        ids.push(got.conversation_id);
    }
    let first = store
        .conversation_page(
            f.ws,
            &ConversationFilter {
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|c| c.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    let last = first.last().unwrap();
    let rest = store
        .conversation_page(
            f.ws,
            &ConversationFilter {
                after: Some((last.activity_at(), last.id)),
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|c| c.id).collect::<Vec<_>>(), [ids[0]]);
    for (filter, n) in [
        (
            ConversationFilter {
                kind: Some(ChannelKind::Telegram),
                limit: 10,
                ..Default::default()
            },
            0,
        ),
        (
            ConversationFilter {
                connection: Some(f.conn.id),
                status: Some(ConversationStatus::Open),
                limit: 10,
                ..Default::default()
            },
            3,
        ),
    ] {
        assert_eq!(
            store.conversation_page(f.ws, &filter).await.unwrap().len(),
            n
        );
    }
    let other = workspace(&store, "globex").await;
    assert!(
        store
            .conversation_page(
                other,
                &ConversationFilter {
                    limit: 10,
                    ..Default::default()
                }
            )
            .await
            .unwrap()
            .is_empty()
    );
}

async fn contact_search_matches_names_and_identities_and_treats_wildcards_literally(store: Store) {
    let f = fixture(&store, "acme").await;
    let ana = f
        .ingest(
            &store,
            &text_from("34600111222", "wamid.a", "hola", t0()),
            Direction::Inbound,
        )
        .await
        .contact_id;
    let search = |q: Option<&'static str>| {
        let store = store.clone();
        let ws = f.ws;
        async move { store.search_contacts(ws, q, None, 50).await.unwrap() }
    };
    assert_eq!(search(Some("ANA")).await[0].id, ana, "names, any case");
    assert_eq!(search(Some("600111")).await[0].id, ana, "platform ids");
    assert_eq!(search(None).await.len(), 1);
    assert!(search(Some("%")).await.is_empty());
    assert!(search(Some("_")).await.is_empty());
    assert!(search(Some("bob")).await.is_empty());
    let other = workspace(&store, "globex").await;
    assert!(
        store
            .search_contacts(other, Some("ana"), None, 50)
            .await
            .unwrap()
            .is_empty()
    );
}
