//! Channel connections: sealed credentials, routing by platform account, disconnecting.

use crate::channels_fixtures::{PHONE_NUMBER_ID, TOKEN, connect, fixture, workspace};
use crate::t0;
use secrecy::ExposeSecret;
use switchboard_core::channel::ChannelKind;
use switchboard_keys::MasterKey;
use switchboard_store::connections::{CHANNEL_DATA_ERASURE_JOB, ConnectionStatus};
use switchboard_store::testing::{columns_containing, sealed_credentials, set_sealed_credentials};
use switchboard_store::{Store, StoreError, backend_tests};
use time::Duration;

backend_tests!(
    credentials_are_sealed_and_open_only_for_their_own_row_and_workspace,
    webhooks_route_to_the_one_live_connection_of_an_account,
    disconnect_clears_credentials_and_enqueues_erasure_in_the_same_transaction,
    a_workspace_key_is_created_once_and_reused,
    connection_status_changes_are_kept_with_their_reason,
);

async fn credentials_are_sealed_and_open_only_for_their_own_row_and_workspace(store: Store) {
    let f = fixture(&store, "acme").await;
    assert!(f.conn.has_credentials);
    // The token is nowhere in the database in clear.
    assert!(columns_containing(&store, TOKEN).await.is_empty());
    let opened = store
        .connection_credentials(f.ws, f.conn.id, &f.master)
        .await
        .unwrap();
    assert!(opened.expose_secret().contains(TOKEN));

    // Another workspace's getter does not reach it, and another master key cannot open it.
    let other = workspace(&store, "other").await;
    assert!(matches!(
        store
            .connection_credentials(other, f.conn.id, &f.master)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .connection_credentials(f.ws, f.conn.id, &MasterKey::generate())
            .await,
        Err(StoreError::Sealing(_))
    ));

    // Sealed bytes copied into another connection's row (same workspace, or another
    // workspace with the same master key) do not open there.
    let second = connect(
        &store,
        f.ws,
        &f.master,
        ChannelKind::Telegram,
        "bot-2",
        "t2",
    )
    .await;
    let foreign = connect(
        &store,
        other,
        &f.master,
        ChannelKind::Telegram,
        "bot-3",
        "t3",
    )
    .await;
    let sealed = sealed_credentials(&store, f.conn.id).await.unwrap();
    for (ws, id) in [(f.ws, second.id), (other, foreign.id)] {
        set_sealed_credentials(&store, id, &sealed).await;
        assert!(matches!(
            store.connection_credentials(ws, id, &f.master).await,
            Err(StoreError::Sealing(_)) | Err(StoreError::NotFound)
        ));
    }
}

async fn webhooks_route_to_the_one_live_connection_of_an_account(store: Store) {
    let f = fixture(&store, "acme").await;
    let route = store
        .route(ChannelKind::WhatsApp, PHONE_NUMBER_ID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(route.workspace_id, f.ws);
    assert_eq!(route.connection_id, f.conn.id);
    assert_eq!(route.status, ConnectionStatus::Active);
    assert_eq!(store.route_by_id(f.conn.id).await.unwrap(), Some(route));
    assert!(
        store
            .route(ChannelKind::Messenger, PHONE_NUMBER_ID)
            .await
            .unwrap()
            .is_none()
    );

    // The same account cannot be connected live twice, in any workspace.
    let other = workspace(&store, "other").await;
    let mut tx = store.begin().await.unwrap();
    let credentials = secrecy::SecretString::from("{}".to_owned());
    let again = tx
        .insert_connection(
            other,
            &switchboard_store::connections::NewConnection {
                kind: ChannelKind::WhatsApp,
                name: "Stolen",
                account_id: PHONE_NUMBER_ID,
                credentials: &credentials,
                webhook_secret_hash: None,
                meta_user_id: None,
                settings: &serde_json::json!({}),
            },
            &f.master,
            t0(),
        )
        .await;
    assert_eq!(again.unwrap_err().code(), "connection_exists");
    drop(tx);

    // Once disconnected it routes nowhere, and the account can be connected again.
    let mut tx = store.begin().await.unwrap();
    tx.disconnect(f.ws, f.conn.id, t0()).await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        store
            .route(ChannelKind::WhatsApp, PHONE_NUMBER_ID)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.route_by_id(f.conn.id).await.unwrap().is_none());
    let again = connect(
        &store,
        other,
        &f.master,
        ChannelKind::WhatsApp,
        PHONE_NUMBER_ID,
        "new",
    )
    .await;
    let route = store
        .route(ChannelKind::WhatsApp, PHONE_NUMBER_ID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((route.workspace_id, route.connection_id), (other, again.id));
}

async fn disconnect_clears_credentials_and_enqueues_erasure_in_the_same_transaction(store: Store) {
    let f = fixture(&store, "acme").await;

    // Rolled back: nothing happened.
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.disconnect(f.ws, f.conn.id, t0())
            .await
            .unwrap()
            .is_some()
    );
    drop(tx);
    let conn = store.connection(f.ws, f.conn.id).await.unwrap();
    assert_eq!(conn.status, ConnectionStatus::Active);
    assert!(conn.has_credentials);
    let lease = Duration::minutes(5);
    assert!(
        store
            .claim_jobs("w", t0(), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Committed: credentials gone at once, job queued.
    let mut tx = store.begin().await.unwrap();
    let job = tx.disconnect(f.ws, f.conn.id, t0()).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    let conn = store.connection(f.ws, f.conn.id).await.unwrap();
    assert_eq!(conn.status, ConnectionStatus::Disconnected);
    assert_eq!(conn.disconnected_at, Some(t0()));
    assert!(!conn.has_credentials);
    assert!(sealed_credentials(&store, f.conn.id).await.is_none());
    assert!(matches!(
        store
            .connection_credentials(f.ws, f.conn.id, &f.master)
            .await,
        Err(StoreError::NotFound)
    ));
    let jobs = store.claim_jobs("w", t0(), lease, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, job);
    assert_eq!(jobs[0].kind, CHANNEL_DATA_ERASURE_JOB);
    assert_eq!(jobs[0].workspace_id, Some(f.ws));
    assert_eq!(
        jobs[0].payload["connection_id"],
        serde_json::json!(f.conn.id.to_string())
    );

    // Nothing more can be queued for sending on it.
    let conv = f
        .ingest(
            &store,
            &crate::channels_fixtures::text_from("346", "wamid.late", "hi", t0()),
            switchboard_store::messages::Direction::Inbound,
        )
        .await
        .conversation_id;
    let mut tx = store.begin().await.unwrap();
    let content = switchboard_core::channel::OutboundContent::Text { body: "x".into() };
    let refused = tx
        .insert_outbound(
            f.ws,
            conv,
            &switchboard_store::messages::NewOutbound {
                author: None,
                content: &content,
                reply_to_external_id: None,
                idempotency_key: None,
            },
            t0(),
        )
        .await;
    assert_eq!(refused.unwrap_err().code(), "connection_disconnected");
    drop(tx);

    // A second disconnect finds nothing live to disconnect.
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.disconnect(f.ws, f.conn.id, t0()).await,
        Err(StoreError::NotFound)
    ));
}

async fn a_workspace_key_is_created_once_and_reused(store: Store) {
    let master = MasterKey::generate();
    let ws = workspace(&store, "acme").await;
    let first = store.workspace_key(ws, &master, t0()).await.unwrap();
    let second = store.workspace_key(ws, &master, t0()).await.unwrap();
    assert_eq!(first.id(), second.id());
    let other = workspace(&store, "other").await;
    let theirs = store.workspace_key(other, &master, t0()).await.unwrap();
    assert_ne!(first.id(), theirs.id());

    // Destroyed keys open nothing any more.
    let f = fixture(&store, "shred").await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.destroy_workspace_keys(f.ws, t0()).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert!(matches!(
        store
            .connection_credentials(f.ws, f.conn.id, &f.master)
            .await,
        Err(StoreError::Sealing(_))
    ));
}

async fn connection_status_changes_are_kept_with_their_reason(store: Store) {
    let f = fixture(&store, "acme").await;
    let mut tx = store.begin().await.unwrap();
    tx.set_connection_status(
        f.ws,
        f.conn.id,
        ConnectionStatus::NeedsAttention,
        Some("The access token expired."),
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(
        tx.set_connection_status(f.ws, f.conn.id, ConnectionStatus::Disconnected, None, t0())
            .await
            .unwrap_err()
            .code(),
        "use_disconnect"
    );
    tx.commit().await.unwrap();
    let conn = store.connection(f.ws, f.conn.id).await.unwrap();
    assert_eq!(conn.status, ConnectionStatus::NeedsAttention);
    assert_eq!(
        conn.status_reason.as_deref(),
        Some("The access token expired.")
    );
    // It still routes: the webhook must be acknowledged, and a new token reactivates it.
    assert!(
        store
            .route(ChannelKind::WhatsApp, PHONE_NUMBER_ID)
            .await
            .unwrap()
            .is_some()
    );
    let mut tx = store.begin().await.unwrap();
    tx.replace_credentials(
        f.ws,
        f.conn.id,
        &secrecy::SecretString::from(r#"{"access_token":"fresh"}"#.to_owned()),
        &f.master,
        t0(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let conn = store.connection(f.ws, f.conn.id).await.unwrap();
    assert_eq!(conn.status, ConnectionStatus::Active);
    assert!(
        store
            .connection_credentials(f.ws, f.conn.id, &f.master)
            .await
            .unwrap()
            .expose_secret()
            .contains("fresh")
    );
    assert_eq!(store.connections(f.ws).await.unwrap().len(), 1);
    assert_eq!(
        store.connections_of_meta_user("meta-user-1").await.unwrap()[0].id,
        f.conn.id
    );
}
