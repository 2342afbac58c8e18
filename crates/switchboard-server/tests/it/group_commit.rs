//! Group commit: webhooks that arrive together share one commit, and one webhook's failure
//! fails only that webhook.

use crate::seed::seed_workspace;
use crate::{TestApp, app_tests};
use secrecy::SecretString;
use switchboard_core::channel::{
    AccountRef, ChannelKind, ExternalContact, InboundEvent, InboundMessage, MessageContent,
};
use switchboard_core::{Clock, ConnectionId};
use switchboard_server::group_commit::GroupCommitter;
use switchboard_store::connections::{ConnectionStatus, NewConnection, Route};

app_tests!(a_failing_webhook_in_a_batch_fails_alone);

fn text(n: usize, phone_id: &str) -> InboundEvent {
    InboundEvent::Message(InboundMessage {
        account: AccountRef {
            kind: ChannelKind::WhatsApp,
            account_id: phone_id.to_owned(),
        },
        external_id: format!("wamid.group.{n}"),
        contact: ExternalContact {
            external_id: format!("1555000{n:04}"),
            display_name: None,
            username: None,
            phone: None,
        },
        sent_at: crate::harness::t0(),
        content: MessageContent::Text {
            body: format!("message {n}"),
        },
        reply_to: None,
        referral: None,
    })
}

async fn a_failing_webhook_in_a_batch_fails_alone(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let mut tx = app.store.begin().await.unwrap();
    let conn = tx
        .insert_connection(
            a.ws,
            &NewConnection {
                kind: ChannelKind::WhatsApp,
                name: "WA",
                account_id: "1001",
                credentials: &SecretString::from(r#"{"access_token":"t"}"#.to_owned()),
                webhook_secret_hash: None,
                meta_user_id: None,
                settings: &serde_json::json!({}),
            },
            &app.state.master_key,
            app.clock.now(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let good = Route {
        workspace_id: a.ws,
        connection_id: conn.id,
        kind: ChannelKind::WhatsApp,
        status: ConnectionStatus::Active,
        webhook_secret_hash: None,
    };
    // A route to a connection that does not exist: its rows break a foreign key.
    let broken = Route {
        connection_id: ConnectionId::new(),
        ..good.clone()
    };

    let committer = GroupCommitter::start(app.store.clone());
    let now = app.clock.now();
    let mut calls = Vec::new();
    for n in 0..20 {
        let route = if n == 7 { broken.clone() } else { good.clone() };
        let committer = committer.clone();
        calls.push(tokio::spawn(async move {
            committer.ingest(vec![(text(n, "1001"), route)], now).await
        }));
    }
    let mut stored = 0;
    for (n, call) in calls.into_iter().enumerate() {
        let outcome = call.await.unwrap();
        if n == 7 {
            assert!(outcome.is_err(), "the broken webhook fails");
        } else {
            stored += outcome.unwrap().stored;
        }
    }
    assert_eq!(stored, 19);
    assert_eq!(app.store.message_count(a.ws, conn.id).await.unwrap(), 19);
    // A redelivery of a stored one is a duplicate, not a second row.
    let again = committer
        .ingest(vec![(text(3, "1001"), good.clone())], now)
        .await
        .unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 1));
}
