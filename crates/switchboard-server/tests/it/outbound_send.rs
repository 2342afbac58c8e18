//! An agent's reply through the simulator: the exact platform body, `sent` with the platform's
//! id, and each failure class (agent must act, retry later with Retry-After, broken token).

use crate::outbound_support::Outbound;
use crate::outbound_tests;
use serde_json::{Value, json};
use switchboard_core::Clock;
use switchboard_core::channel::ChannelKind;
use switchboard_store::connections::ConnectionStatus;

outbound_tests!(
    an_agent_reply_reaches_every_platform_with_the_body_it_documents,
    whatsapp_window_error_fails_the_reply_with_a_reason_the_agent_can_act_on,
    a_rate_limited_send_waits_for_retry_after_then_is_sent,
    an_expired_token_fails_the_reply_flags_the_connection_and_stops_sending,
    a_reply_quotes_the_platform_id_of_the_message_it_answers,
    a_send_the_platform_keeps_refusing_fails_visibly_after_the_last_attempt,
    media_replies_reach_the_platform_as_its_media_messages,
    an_unreachable_platform_leaves_the_reply_queued_for_a_retry,
    a_retried_post_with_the_same_idempotency_key_queues_one_message,
    a_message_that_can_never_be_sent_shows_failed_and_its_job_is_dead,
);

fn fixture(path: &str) -> Value {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../switchboard-channels/tests/fixtures")
        .join(path);
    serde_json::from_str(&std::fs::read_to_string(full).unwrap()).unwrap()
}

const WA_PHONE: &str = "102290129340398";

async fn an_agent_reply_reaches_every_platform_with_the_body_it_documents(o: Outbound) {
    // (kind, simulator platform, account, the request fixture, its recipient, its text)
    let cases: Vec<(ChannelKind, &str, &str, Value)> = vec![
        (
            ChannelKind::WhatsApp,
            "whatsapp",
            WA_PHONE,
            fixture("whatsapp/send_text_request.json"),
        ),
        (
            ChannelKind::Messenger,
            "messenger",
            "PAGE1",
            fixture("messenger/send_request.json"),
        ),
        (
            ChannelKind::Instagram,
            "instagram",
            "IGACCOUNT1",
            fixture("instagram/send_request.json"),
        ),
        (
            ChannelKind::Telegram,
            "telegram",
            "7000001",
            fixture("telegram/send_request.json"),
        ),
        (
            ChannelKind::TikTok,
            "tiktok",
            "7301234567890123456",
            fixture("tiktok/send_text_request.json"),
        ),
    ];
    for (kind, platform, account, expected) in cases {
        let (customer, text) = match kind {
            ChannelKind::WhatsApp => (
                expected["to"].as_str().unwrap().to_owned(),
                expected["text"]["body"].clone(),
            ),
            ChannelKind::Messenger | ChannelKind::Instagram => (
                expected["recipient"]["id"].as_str().unwrap().to_owned(),
                expected["message"]["text"].clone(),
            ),
            ChannelKind::Telegram => (expected["chat_id"].to_string(), expected["text"].clone()),
            _ => (
                expected["recipient"].as_str().unwrap().to_owned(),
                expected["text"]["body"].clone(),
            ),
        };
        let t = o.thread(kind, account, &customer).await;
        let (status, queued) = o.reply(t.conversation, json!({ "text": text })).await;
        assert_eq!(status, 202, "{kind:?}: {queued}");
        assert_eq!(queued["status"], "queued");
        let id = queued["id"].as_str().unwrap().to_owned();
        assert_eq!(o.message(t.conversation, &id).await["status"], "queued");

        o.app.drain_jobs().await;

        let sends = o.sends(platform).await;
        assert_eq!(sends.len(), 1, "{kind:?}: {sends:?}");
        assert_eq!(
            sends[0]["body"], expected,
            "{kind:?}: the body the platform documents"
        );
        assert!(
            sends[0]["status"].as_u64().unwrap() < 300,
            "{kind:?}: {}",
            sends[0]
        );
        let shown = o.message(t.conversation, &id).await;
        assert_eq!(shown["status"], "sent", "{kind:?}: {shown}");
        assert_eq!(shown["direction"], "outbound");
        let platform_id = shown["external_id"].as_str().unwrap();
        assert!(!platform_id.is_empty());
        let answer = sends[0]["response"].to_string();
        let bare = platform_id.rsplit(':').next().unwrap();
        assert!(
            answer.contains(bare),
            "{kind:?}: {platform_id} not in {answer}"
        );
    }
    // No token in what the server handed the platform's recorder beyond the headers it drops.
    assert!(o.pending_jobs("send_message").await.is_empty());
}

async fn whatsapp_window_error_fails_the_reply_with_a_reason_the_agent_can_act_on(o: Outbound) {
    let t = o
        .thread(ChannelKind::WhatsApp, WA_PHONE, "16505551234")
        .await;
    o.fail_next(json!({"platform": "whatsapp", "code": 131047}))
        .await;
    let (status, queued) = o
        .reply(t.conversation, json!({"text": "Still there?"}))
        .await;
    assert_eq!(status, 202, "{queued}");
    o.app.drain_jobs().await;
    let shown = o
        .message(t.conversation, queued["id"].as_str().unwrap())
        .await;
    assert_eq!(shown["status"], "failed", "{shown}");
    assert_eq!(shown["error_code"], "131047");
    assert!(
        shown["error_reason"].as_str().unwrap().contains("template"),
        "{shown}"
    );
    assert!(o.pending_jobs("send_message").await.is_empty(), "no retry");
    let connection = o
        .app
        .store
        .connection(o.seeded.ws, t.connection)
        .await
        .unwrap();
    assert_eq!(connection.status, ConnectionStatus::Active);
}

async fn a_rate_limited_send_waits_for_retry_after_then_is_sent(o: Outbound) {
    let t = o
        .thread(ChannelKind::WhatsApp, WA_PHONE, "16505551234")
        .await;
    // Longer than the first backoff (at most 20 s), so only Retry-After explains the wait.
    o.fail_next(json!({"platform": "whatsapp", "code": 130429, "retry_after": 300}))
        .await;
    let (_, queued) = o.reply(t.conversation, json!({"text": "One moment"})).await;
    let id = queued["id"].as_str().unwrap();
    o.app.drain_jobs().await;
    assert_eq!(o.message(t.conversation, id).await["status"], "queued");
    let pending = o.pending_jobs("send_message").await;
    assert_eq!(pending.len(), 1);
    assert!(pending[0].run_at >= o.app.clock.now() + time::Duration::seconds(300));

    o.app.clock.advance(time::Duration::seconds(120));
    o.app.drain_jobs().await;
    assert_eq!(o.message(t.conversation, id).await["status"], "queued");

    o.app.clock.advance(time::Duration::seconds(181));
    o.app.drain_jobs().await;
    let shown = o.message(t.conversation, id).await;
    assert_eq!(shown["status"], "sent", "{shown}");
    assert!(shown["external_id"].as_str().unwrap().starts_with("wamid."));
    assert_eq!(
        o.sends("whatsapp").await.len(),
        2,
        "the refused try and the sent one"
    );
}

async fn an_expired_token_fails_the_reply_flags_the_connection_and_stops_sending(o: Outbound) {
    let t = o
        .thread(ChannelKind::WhatsApp, WA_PHONE, "16505551234")
        .await;
    o.fail_next(json!({"platform": "whatsapp", "code": 190}))
        .await;
    let (_, queued) = o.reply(t.conversation, json!({"text": "Hello"})).await;
    o.app.drain_jobs().await;
    let shown = o
        .message(t.conversation, queued["id"].as_str().unwrap())
        .await;
    assert_eq!(shown["status"], "failed", "{shown}");
    assert_eq!(shown["error_code"], "190");
    assert!(!shown["error_reason"].as_str().unwrap().is_empty());
    let connection = o
        .app
        .store
        .connection(o.seeded.ws, t.connection)
        .await
        .unwrap();
    assert_eq!(connection.status, ConnectionStatus::NeedsAttention);
    assert!(connection.status_reason.is_some());

    let (status, error) = o.reply(t.conversation, json!({"text": "Again"})).await;
    assert_eq!(status, 409, "{error}");
    assert_eq!(error["error"]["code"], "connection_unavailable");
    o.app.drain_jobs().await;
    assert_eq!(
        o.sends("whatsapp").await.len(),
        1,
        "nothing more reached the platform"
    );
}

async fn a_reply_quotes_the_platform_id_of_the_message_it_answers(o: Outbound) {
    let t = o
        .thread(ChannelKind::WhatsApp, WA_PHONE, "16505551234")
        .await;
    let quoted = o
        .app
        .store
        .message(o.seeded.ws, t.inbound)
        .await
        .unwrap()
        .external_id
        .unwrap();
    let (status, queued) = o
        .reply(
            t.conversation,
            json!({"text": "About that:", "reply_to": t.inbound.to_string()}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    o.app.drain_jobs().await;
    let sends = o.sends("whatsapp").await;
    assert_eq!(sends[0]["body"]["context"]["message_id"], quoted);
    let shown = o
        .message(t.conversation, queued["id"].as_str().unwrap())
        .await;
    assert_eq!(shown["reply_to_external_id"], quoted);

    let (status, error) = o
        .reply(
            t.conversation,
            json!({"text": "x", "reply_to": queued["id"]}),
        )
        .await;
    assert_eq!(status, 202, "a sent reply has a platform id too: {error}");
}

async fn a_send_the_platform_keeps_refusing_fails_visibly_after_the_last_attempt(o: Outbound) {
    let t = o.thread(ChannelKind::Telegram, "7000001", "222").await;
    o.fail_next(json!({"platform": "telegram", "code": 429, "retry_after": 1, "times": 100}))
        .await;
    let (_, queued) = o.reply(t.conversation, json!({"text": "Hello"})).await;
    let id = queued["id"].as_str().unwrap();
    let mut attempts = 0;
    while !o.pending_jobs("send_message").await.is_empty() {
        o.app.drain_jobs().await;
        attempts += 1;
        assert!(attempts <= 40, "the job never gave up");
        o.app.clock.advance(time::Duration::hours(2));
    }
    let shown = o.message(t.conversation, id).await;
    assert_eq!(shown["status"], "failed", "{shown}");
    assert_eq!(shown["error_code"], "429");
    assert!(
        shown["error_reason"]
            .as_str()
            .unwrap()
            .contains("send the message again")
    );
}

async fn media_replies_reach_the_platform_as_its_media_messages(o: Outbound) {
    let wa = o
        .thread(ChannelKind::WhatsApp, WA_PHONE, "16505551234")
        .await;
    let tg = o.thread(ChannelKind::Telegram, "7000001", "222").await;
    let media = json!({"media": {"kind": "image", "url": "https://cdn.example/blue.jpg",
        "caption": "In blue"}});
    for c in [wa.conversation, tg.conversation] {
        let (status, body) = o.reply(c, media.clone()).await;
        assert_eq!(status, 202, "{body}");
    }
    o.app.drain_jobs().await;
    let sent = &o.sends("whatsapp").await[0]["body"];
    assert_eq!(sent["type"], "image");
    assert_eq!(sent["image"]["link"], "https://cdn.example/blue.jpg");
    assert_eq!(sent["image"]["caption"], "In blue");
    let sent = &o.sends("telegram").await[0];
    assert!(
        sent["path"].as_str().unwrap().ends_with("/sendPhoto"),
        "{sent}"
    );
    assert_eq!(sent["body"]["photo"], "https://cdn.example/blue.jpg");
    let (_, list) = o
        .get(&format!(
            "/api/v1/conversations/{}/messages",
            tg.conversation
        ))
        .await;
    assert_eq!(list["data"][1]["status"], "sent");
    assert_eq!(list["data"][1]["content"]["type"], "media");
}

async fn an_unreachable_platform_leaves_the_reply_queued_for_a_retry(o: Outbound) {
    let t = o
        .thread(ChannelKind::WhatsApp, WA_PHONE, "16505551234")
        .await;
    let (_, queued) = o.reply(t.conversation, json!({"text": "Hello"})).await;
    let id: switchboard_core::MessageId = queued["id"].as_str().unwrap().parse().unwrap();
    let Outbound {
        app, sim, seeded, ..
    } = o;
    sim.shutdown().await.unwrap();
    app.drain_jobs().await;
    let message = app.store.message(seeded.ws, id).await.unwrap();
    assert_eq!(message.status.as_str(), "queued");
    let pending = app
        .store
        .jobs_in(seeded.ws, switchboard_store::jobs::JobState::Pending, 10)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].attempts, 1);
    assert!(
        pending[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("unreachable")
    );
    assert!(pending[0].run_at > app.clock.now());
}

async fn a_retried_post_with_the_same_idempotency_key_queues_one_message(o: Outbound) {
    let t = o
        .thread(ChannelKind::WhatsApp, WA_PHONE, "16505551234")
        .await;
    let other = o.thread(ChannelKind::Telegram, "7000001", "222").await;
    let post = |c: switchboard_core::ConversationId, key: &str| {
        o.api(
            reqwest::Method::POST,
            &format!("/api/v1/conversations/{c}/messages"),
        )
        .header("Idempotency-Key", key)
        .json(&json!({"text": "Once"}))
        .send()
    };
    let first: Value = post(t.conversation, "retry-1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let again = post(t.conversation, "retry-1").await.unwrap();
    assert_eq!(again.status(), 202);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    o.app.drain_jobs().await;
    let replay: Value = post(t.conversation, "retry-1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(replay["id"], first["id"]);
    assert_eq!(replay["status"], "sent");
    assert_eq!(o.sends("whatsapp").await.len(), 1);

    let r = post(other.conversation, "retry-1").await.unwrap();
    assert_eq!(r.status(), 409);
    let r = post(t.conversation, "with space").await.unwrap();
    assert_eq!(r.status(), 400);
    let r = post(t.conversation, "retry-2").await.unwrap();
    assert_eq!(r.status(), 202);
}

async fn a_message_that_can_never_be_sent_shows_failed_and_its_job_is_dead(o: Outbound) {
    let t = o
        .thread(ChannelKind::WhatsApp, WA_PHONE, "16505551234")
        .await;
    let mut tx = o.app.store.begin().await.unwrap();
    tx.replace_credentials(
        o.seeded.ws,
        t.connection,
        &secrecy::SecretString::from(r#"{"app_secret":"no token here"}"#.to_owned()),
        &o.app.state.master_key,
        o.app.clock.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (_, queued) = o.reply(t.conversation, json!({"text": "Hello"})).await;
    o.app.drain_jobs().await;
    let shown = o
        .message(t.conversation, queued["id"].as_str().unwrap())
        .await;
    assert_eq!(shown["status"], "failed", "{shown}");
    assert_eq!(shown["error_code"], "send_failed");
    let dead = o
        .app
        .store
        .jobs_in(o.seeded.ws, switchboard_store::jobs::JobState::Dead, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("access token")
    );
    assert!(o.sends("whatsapp").await.is_empty());
}
