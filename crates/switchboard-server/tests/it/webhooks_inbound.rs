//! Inbound webhooks end to end: the simulator, configured as every platform, posts signed
//! webhooks at the server; contacts, conversations and messages land exactly once.

use crate::channel_tests;
use crate::channels_support::{Env, FB_PAGE, IG_ACCOUNT, TT_BUSINESS, WA_PHONE, WA_TOKEN};
use serde_json::json;
use switchboard_store::media::MediaState;

channel_tests!(
    inbound_on_every_channel_stores_contact_conversation_and_message,
    five_concurrent_deliveries_store_one_message,
    unknown_account_is_acknowledged_and_not_stored,
    media_is_downloaded_with_its_checksum,
    meta_handshake_answers_the_challenge_only_with_the_verify_token,
);

async fn inbound_on_every_channel_stores_contact_conversation_and_message(env: Env) {
    env.connect_all().await;
    for (platform, account, sender) in [
        ("whatsapp", WA_PHONE, "15551234567"),
        ("messenger", FB_PAGE, "6543210987654321"),
        ("instagram", IG_ACCOUNT, "9876543210123456"),
        ("tiktok", TT_BUSINESS, "tt-user-1"),
        ("telegram", "7000000001", "111111111"),
    ] {
        let sent = env
            .inbound(
                json!({"platform": platform, "account": account, "sender": sender,
                "name": "Ada", "text": format!("hello from {platform}")}),
            )
            .await;
        assert_eq!(sent["status"], 200, "{platform}: {sent}");
    }
    let messages = env.messages().await;
    let mut texts: Vec<_> = messages.iter().filter_map(|m| m.text.clone()).collect();
    texts.sort();
    assert_eq!(
        texts,
        [
            "hello from instagram",
            "hello from messenger",
            "hello from telegram",
            "hello from tiktok",
            "hello from whatsapp"
        ]
    );
    let conversations = env
        .app
        .store
        .conversations(env.ws.ws, None, 100)
        .await
        .unwrap();
    assert_eq!(conversations.len(), 5);
    for c in &conversations {
        env.app
            .store
            .contact(env.ws.ws, c.contact_id)
            .await
            .unwrap();
    }
}

async fn five_concurrent_deliveries_store_one_message(env: Env) {
    env.connect_all().await;
    let spec = json!({"platform": "whatsapp", "account": WA_PHONE, "sender": "15551234567",
        "text": "only once", "message_id": "wamid.HBgLMTU1NTEyMzQ1NjcVAgASGBQzQUVCOTk5OTk5OTk5OTk5OTk5OQA="});
    let (a, b, c, d, e) = tokio::join!(
        env.inbound(spec.clone()),
        env.inbound(spec.clone()),
        env.inbound(spec.clone()),
        env.inbound(spec.clone()),
        env.inbound(spec.clone()),
    );
    for sent in [a, b, c, d, e] {
        assert_eq!(sent["status"], 200, "{sent}");
    }
    let messages = env.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text.as_deref(), Some("only once"));
}

async fn unknown_account_is_acknowledged_and_not_stored(env: Env) {
    env.connect_all().await;
    let sent = env
        .inbound(
            json!({"platform": "whatsapp", "account": "999999999999", "sender": "15551234567",
            "text": "to nobody"}),
        )
        .await;
    assert_eq!(sent["status"], 200);
    assert!(env.messages().await.is_empty());
    let metrics = env.app.metrics().await;
    assert!(
        metrics
            .contains("switchboard_webhooks_total{platform=\"whatsapp\",outcome=\"accepted\"} 1")
    );
    assert!(metrics.contains(
        "switchboard_webhooks_total{platform=\"whatsapp\",outcome=\"unrouted_event\"} 1"
    ));
}

channel_tests!(a_disconnected_channel_receives_nothing);

async fn a_disconnected_channel_receives_nothing(env: Env) {
    let created = env.connect_all().await;
    let whatsapp = created.iter().find(|c| c["kind"] == "whatsapp").unwrap();
    // An API token is itself a step-up grant.
    let r = crate::seed::bearer(
        &env.app,
        reqwest::Method::DELETE,
        &format!("/api/v1/channels/{}", whatsapp["id"].as_str().unwrap()),
        &env.ws.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let sent = env
        .inbound(
            json!({"platform": "whatsapp", "account": WA_PHONE, "sender": "15551234567",
            "text": "anyone there?"}),
        )
        .await;
    assert_eq!(
        sent["status"], 200,
        "acknowledged so Meta stops redelivering"
    );
    assert!(env.messages().await.is_empty());
}

async fn media_is_downloaded_with_its_checksum(env: Env) {
    env.connect_all().await;
    for (platform, account, sender) in [
        ("whatsapp", WA_PHONE, "15551234567"),
        ("messenger", FB_PAGE, "6543210987654321"),
        ("telegram", "7000000001", "111111111"),
    ] {
        let sent = env
            .inbound(
                json!({"platform": platform, "account": account, "sender": sender,
                "media": {"kind": "image", "caption": "look", "mime_type": "image/jpeg"}}),
            )
            .await;
        assert_eq!(sent["status"], 200, "{platform}: {sent}");
    }
    assert!(env.app.drain_jobs().await >= 3);
    let messages = env.messages().await;
    assert_eq!(messages.len(), 3);
    for m in &messages {
        let media = env
            .app
            .store
            .media_of_message(env.ws.ws, m.id)
            .await
            .unwrap();
        assert_eq!(media.len(), 1, "{m:?}");
        let media = &media[0];
        assert_eq!(media.state, MediaState::Stored, "{media:?}");
        let key = media.storage_key.as_deref().unwrap();
        let bytes = std::fs::read(env.app.data_dir.path().join("media").join(key)).unwrap();
        assert_eq!(media.size_bytes, Some(bytes.len() as i64));
        use sha2::Digest;
        assert_eq!(
            media.sha256.as_deref(),
            Some(hex::encode(sha2::Sha256::digest(&bytes)).as_str())
        );
        assert!(
            media.source.is_none(),
            "the source URL is forgotten once stored"
        );
    }
    // The WhatsApp token never reaches the media directory or the database.
    assert!(
        switchboard_store::testing::columns_containing(&env.app.store, WA_TOKEN)
            .await
            .is_empty()
    );
}

async fn meta_handshake_answers_the_challenge_only_with_the_verify_token(env: Env) {
    for path in [
        "/webhooks/whatsapp",
        "/webhooks/messenger",
        "/webhooks/instagram",
    ] {
        let ok = env
            .http
            .get(env.app.at(&format!(
                "{path}?hub.mode=subscribe&hub.verify_token={}&hub.challenge=1158201444",
                crate::channels_support::VERIFY_TOKEN
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.text().await.unwrap(), "1158201444");
        let wrong = env
            .http
            .get(env.app.at(&format!(
                "{path}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 403);
        let none = env.http.get(env.app.at(path)).send().await.unwrap();
        assert_eq!(none.status(), 403);
    }
}

channel_tests!(echoes_are_stored_as_echoes);

async fn echoes_are_stored_as_echoes(env: Env) {
    env.connect_all().await;
    let sent = env
        .inbound(
            json!({"platform": "messenger", "account": FB_PAGE, "sender": "6543210987654321",
            "text": "sent from the page inbox", "echo": true}),
        )
        .await;
    assert_eq!(sent["status"], 200, "{sent}");
    let messages = env.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].direction,
        switchboard_store::messages::Direction::Echo
    );
}

crate::app_tests!(unconfigured_secrets_refuse_every_webhook);

async fn unconfigured_secrets_refuse_every_webhook(app: crate::TestApp) {
    let http = app.api();
    for path in [
        "/webhooks/whatsapp",
        "/webhooks/messenger",
        "/webhooks/instagram",
        "/webhooks/tiktok",
    ] {
        let r = http
            .post(app.at(path))
            .header("x-hub-signature-256", "sha256=00")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "{path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "webhook_not_configured");
    }
    let r = http
        .get(app.at("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=&hub.challenge=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
}

/// An attachment over the configured limit is not kept: its media object is marked failed
/// with the reason, and the message itself stays.
async fn oversized_media_is_marked_failed(env: Env) {
    env.connect_all().await;
    let sent = env
        .inbound(
            json!({"platform": "whatsapp", "account": WA_PHONE, "sender": "15551234567",
            "media": {"kind": "document", "mime_type": "application/pdf", "filename": "big.pdf"}}),
        )
        .await;
    assert_eq!(sent["status"], 200);
    env.app.drain_jobs().await;
    let messages = env.messages().await;
    assert_eq!(messages.len(), 1);
    let media = env
        .app
        .store
        .media_of_message(env.ws.ws, messages[0].id)
        .await
        .unwrap();
    assert_eq!(media[0].state, MediaState::Failed, "{media:?}");
    assert!(media[0].error.as_deref().unwrap().contains("limit"));
}

mod oversized_media_is_marked_failed {
    use crate::channels_support::Env;
    use switchboard_store::Backend;

    async fn run(backend: Backend) {
        let Some(env) = Env::spawn_with(backend, "oversized_media_is_marked_failed", |c| {
            c.media_max_bytes = 16;
        })
        .await
        else {
            return;
        };
        super::oversized_media_is_marked_failed(env).await;
    }

    #[tokio::test]
    async fn sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        run(Backend::Postgres).await;
    }
}

channel_tests!(a_revoked_token_fails_the_download_and_flags_the_connection);

async fn a_revoked_token_fails_the_download_and_flags_the_connection(env: Env) {
    env.connect_all().await;
    let sent = env
        .inbound(
            json!({"platform": "whatsapp", "account": WA_PHONE, "sender": "15551234567",
            "media": {"kind": "image", "mime_type": "image/jpeg"}}),
        )
        .await;
    assert_eq!(sent["status"], 200);
    // The business revoked the token on Meta's side before the download ran.
    let r = env
        .http
        .delete(format!("{}/_sim/tokens", env.sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    env.app.drain_jobs().await;
    let messages = env.messages().await;
    let media = env
        .app
        .store
        .media_of_message(env.ws.ws, messages[0].id)
        .await
        .unwrap();
    assert_eq!(media[0].state, MediaState::Failed, "{media:?}");
    let connection = env
        .app
        .store
        .connection(env.ws.ws, messages[0].connection_id)
        .await
        .unwrap();
    assert_eq!(
        connection.status,
        switchboard_store::connections::ConnectionStatus::NeedsAttention
    );
    assert!(connection.status_reason.unwrap().contains("reconnect"));
    // The settings API shows why.
    let list = crate::seed::bearer(
        &env.app,
        reqwest::Method::GET,
        "/api/v1/channels",
        &env.ws.token,
    )
    .send()
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(list.contains("needs_attention"));
}
