//! Live updates across servers: two `switchboard serve`-like servers on one PostgreSQL
//! database, each with its own store, pools and `LISTEN` connection. An SSE client on one
//! sees a message the other ingested (the commit's `NOTIFY` wakes it), and after a drop it
//! resumes with its cursor and gets what it missed. On SQLite one process owns the database,
//! so this test is PostgreSQL's only.

use crate::TestApp;
use crate::inbox_api::await_event;
use crate::seed::{bearer, seed_workspace};
use reqwest::Method;
use std::sync::Arc;
use switchboard_core::channel::{
    AccountRef, ChannelKind, ExternalContact, InboundMessage, MessageContent,
};
use switchboard_core::{Clock, ConnectionId, WorkspaceId};
use switchboard_keys::MasterKey;
use switchboard_server::{AppState, ServerConfig, build_router, serve};
use switchboard_store::messages::Direction;
use switchboard_store::{Backend, Store};

/// A second server on `app`'s database: its own store (own pools, own listener).
async fn second_server(app: &TestApp) -> (String, Store) {
    let store = Store::open(&app.db_url).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let config = ServerConfig::new(url.clone());
    let state = AppState::new(
        store.clone(),
        Arc::new(app.clock.clone()),
        config,
        Arc::new(switchboard_mail::FileOutbox::new(
            app.data_dir.path().join("outbox2"),
        )),
        MasterKey::generate(),
    );
    tokio::spawn(serve(listener, build_router(state), std::future::pending()));
    (url, store)
}

async fn ingest(
    store: &Store,
    clock: &switchboard_core::ManualClock,
    ws: WorkspaceId,
    conn: ConnectionId,
    customer: &str,
    text: &str,
) -> switchboard_core::ConversationId {
    let now = clock.now();
    let message = InboundMessage {
        account: AccountRef {
            kind: ChannelKind::WhatsApp,
            account_id: "PN1".into(),
        },
        external_id: format!("wamid.{}", switchboard_core::MessageId::new()),
        contact: ExternalContact {
            external_id: customer.into(),
            display_name: Some(customer.into()),
            username: None,
            phone: None,
        },
        sent_at: now,
        content: MessageContent::Text { body: text.into() },
        reply_to: None,
        referral: None,
    };
    let mut tx = store.begin().await.unwrap();
    let got = tx
        .ingest_message(ws, conn, &message, Direction::Inbound, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    got.conversation_id
}

#[tokio::test]
async fn a_client_on_one_server_sees_what_another_ingested() {
    let Some(app) = TestApp::spawn(Backend::Postgres, "two_servers").await else {
        return;
    };
    let seeded = seed_workspace(&app, "acme").await;
    let conn = crate::outbound_support::connect_plain(&app, seeded.ws, "PN1").await;
    let (other_url, other_store) = second_server(&app).await;

    // The client listens on server A; server B ingests.
    let mut stream = bearer(&app, Method::GET, "/api/v1/events/stream", &seeded.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut buffer = String::new();
    let started = std::time::Instant::now();
    let c1 = ingest(
        &other_store,
        &app.clock,
        seeded.ws,
        conn,
        "15550001",
        "from B",
    )
    .await;
    let first = await_event(&mut stream, &mut buffer, "message.created", c1).await;
    let latency = started.elapsed();
    // Well under the streams' own re-read interval (5 s): NOTIFY woke it.
    assert!(
        latency < std::time::Duration::from_secs(2),
        "took {latency:?}"
    );
    eprintln!("cross-server live update in {latency:?}");
    drop(stream);

    // Missed while away, written by B; the client comes back to B this time.
    let c2 = ingest(
        &other_store,
        &app.clock,
        seeded.ws,
        conn,
        "15550002",
        "while away",
    )
    .await;
    let mut resumed = reqwest::Client::new()
        .get(format!("{other_url}/api/v1/events/stream?after={first}"))
        .bearer_auth(&seeded.token)
        .send()
        .await
        .unwrap();
    let mut buffer = String::new();
    let second = await_event(&mut resumed, &mut buffer, "message.created", c2).await;
    assert!(second > first);
    // And live again, now the other way round: A ingests, the client on B hears it.
    let c3 = ingest(
        &app.store, &app.clock, seeded.ws, conn, "15550003", "from A",
    )
    .await;
    let third = await_event(&mut resumed, &mut buffer, "message.created", c3).await;
    assert!(third > second);
}
