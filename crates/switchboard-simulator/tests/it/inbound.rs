//! What platforms send: signed webhooks at the target, per platform, statuses, scripts, load.

use crate::harness::{
    META_SECRET, Receiver, Sim, TIKTOK_SECRET, assert_same_shape, fixture, hmac_hex,
};
use serde_json::{Value, json};

const PHONE: &str = "106540352242922";
const PAGE: &str = "108965235479412";
const IG: &str = "17841405822304914";

async fn inbound(sim: &Sim, spec: Value) -> Value {
    let r = sim.control("/_sim/inbound", spec).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn assert_meta_signature(received: &crate::harness::Received) {
    let expected = format!("sha256={}", hmac_hex(META_SECRET, &[&received.body]));
    assert_eq!(received.header("x-hub-signature-256"), expected);
}

#[tokio::test]
async fn whatsapp_inbound_is_signed_and_shaped_like_the_cloud_api() {
    let receiver = Receiver::spawn().await;
    let sim = Sim::spawn(&receiver.url).await;
    let emitted = inbound(
        &sim,
        json!({"platform": "whatsapp", "account": PHONE, "business_account": "102290129340398",
               "sender": "16505551234", "name": "Sheena Nelson", "text": "Does it come in another color?"}),
    )
    .await;
    assert_eq!(emitted["status"], 200);
    let got = receiver.last();
    assert_eq!(got.path, "/webhooks/whatsapp");
    assert_meta_signature(&got);
    let payload = got.json();
    assert_eq!(payload, emitted["payload"]);
    assert_same_shape(&payload, &fixture("whatsapp/text.json"), "text");
    let value = &payload["entry"][0]["changes"][0]["value"];
    assert_eq!(value["metadata"]["phone_number_id"], PHONE);
    assert_eq!(
        value["messages"][0]["text"]["body"],
        "Does it come in another color?"
    );
    assert!(
        value["messages"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("wamid.")
    );

    inbound(
        &sim,
        json!({"platform": "whatsapp", "account": PHONE, "sender": "16505551234",
               "name": "Sheena Nelson", "text": "Yes, this one", "reply_to": "wamid.EARLIER"}),
    )
    .await;
    let reply = receiver.last().json();
    assert_same_shape(
        &reply,
        &fixture("whatsapp/reply_with_context.json"),
        "reply",
    );
    assert_eq!(
        reply["entry"][0]["changes"][0]["value"]["messages"][0]["context"]["id"],
        "wamid.EARLIER"
    );

    inbound(
        &sim,
        json!({"platform": "whatsapp", "account": PHONE, "sender": "16505551234",
               "media": {"kind": "image", "caption": "Here is the receipt", "mime_type": "image/jpeg"}}),
    )
    .await;
    assert_same_shape(
        &receiver.last().json(),
        &fixture("whatsapp/image.json"),
        "image",
    );
}

#[tokio::test]
async fn messenger_and_instagram_inbound_are_signed_and_shaped_like_their_webhooks() {
    let receiver = Receiver::spawn().await;
    let sim = Sim::spawn(&receiver.url).await;
    inbound(
        &sim,
        json!({"platform": "messenger", "account": PAGE, "sender": "6783412839203921", "text": "hello, world!"}),
    )
    .await;
    let got = receiver.last();
    assert_eq!(got.path, "/webhooks/messenger");
    assert_meta_signature(&got);
    assert_same_shape(&got.json(), &fixture("messenger/text.json"), "messenger");
    assert!(
        got.json()["entry"][0]["messaging"][0]["message"]["mid"]
            .as_str()
            .unwrap()
            .starts_with("m_")
    );

    inbound(
        &sim,
        json!({"platform": "messenger", "account": PAGE, "sender": "6783412839203921", "media": {"kind": "image"}}),
    )
    .await;
    let image = receiver.last().json();
    assert_same_shape(&image, &fixture("messenger/image.json"), "messenger image");
    let url = image["entry"][0]["messaging"][0]["message"]["attachments"][0]["payload"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sim.http.get(url).send().await.unwrap().status(), 200);

    inbound(
        &sim,
        json!({"platform": "instagram", "account": IG, "sender": "1254459154682919", "text": "Do you ship to Lisbon?"}),
    )
    .await;
    let got = receiver.last();
    assert_eq!(got.path, "/webhooks/instagram");
    assert_meta_signature(&got);
    assert_same_shape(&got.json(), &fixture("instagram/dm_text.json"), "instagram");
    assert_eq!(got.json()["object"], "instagram");
}

#[tokio::test]
async fn telegram_inbound_goes_to_the_webhook_set_with_its_secret_token() {
    let receiver = Receiver::spawn().await;
    let sim = Sim::spawn(&receiver.url).await;
    let token = "7000000001:AAHsimulatedBotTokenForTests";
    sim.control(
        "/_sim/tokens",
        json!({"platform": "telegram", "token": token}),
    )
    .await;
    let set: Value = sim
        .http
        .post(sim.url(&format!("/bot{token}/setWebhook")))
        .json(&json!({"url": format!("{}/webhooks/telegram/chan-1", receiver.url), "secret_token": "tg-secret"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set["result"], true);

    inbound(
        &sim,
        json!({"platform": "telegram", "account": "7000000001", "sender": "111111111",
               "name": "Maria Ivanova", "text": "Where is my order?"}),
    )
    .await;
    let got = receiver.last();
    assert_eq!(got.path, "/webhooks/telegram/chan-1");
    assert_eq!(got.header("x-telegram-bot-api-secret-token"), "tg-secret");
    let update = got.json();
    assert_same_shape(&update, &fixture("telegram/text.json"), "update");
    assert_eq!(update["message"]["chat"]["id"], 111111111);

    // Without setWebhook here, the channel and its secret come from the configuration.
    sim.http
        .post(sim.url(&format!("/bot{token}/deleteWebhook")))
        .send()
        .await
        .unwrap();
    sim.control(
        "/_sim/config",
        json!({"telegram_secret_tokens": {"chan-2": "other-secret"}}),
    )
    .await;
    inbound(
        &sim,
        json!({"platform": "telegram", "account": "7000000001", "sender": "111111111",
               "channel": "chan-2", "media": {"kind": "image", "caption": "the damaged box"}}),
    )
    .await;
    let got = receiver.last();
    assert_eq!(got.path, "/webhooks/telegram/chan-2");
    assert_eq!(
        got.header("x-telegram-bot-api-secret-token"),
        "other-secret"
    );
    let photo = got.json();
    assert!(
        photo["message"]["message_id"].as_i64().unwrap()
            > update["message"]["message_id"].as_i64().unwrap()
    );
    let file_id = photo["message"]["photo"][0]["file_id"].as_str().unwrap();
    let file: Value = sim
        .http
        .post(sim.url(&format!("/bot{token}/getFile")))
        .json(&json!({"file_id": file_id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = file["result"]["file_path"].as_str().unwrap();
    let download = sim
        .http
        .get(sim.url(&format!("/file/bot{token}/{path}")))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
}

#[tokio::test]
async fn tiktok_inbound_is_signed_with_time_and_carries_content_as_a_json_string() {
    let receiver = Receiver::spawn().await;
    let sim = Sim::spawn(&receiver.url).await;
    let refused = sim
        .control(
            "/_sim/inbound",
            json!({"platform": "tiktok", "account": "7301234567890123456", "sender": "7309876543210987654", "text": "hola"}),
        )
        .await;
    assert_eq!(refused.status(), 409);
    sim.control(
        "/_sim/config",
        json!({"tiktok_client_key": "sbxclientkey0001", "tiktok_client_secret": TIKTOK_SECRET}),
    )
    .await;
    inbound(
        &sim,
        json!({"platform": "tiktok", "account": "7301234567890123456", "sender": "7309876543210987654",
               "name": "maria.lopez", "text": "¿Tienen la talla M en azul?"}),
    )
    .await;
    let got = receiver.last();
    assert_eq!(got.path, "/webhooks/tiktok");
    let signature = got.header("tiktok-signature").to_owned();
    let (t, s) = signature.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let s = s.strip_prefix("s=").unwrap();
    assert_eq!(s, hmac_hex(TIKTOK_SECRET, &[t.as_bytes(), b".", &got.body]));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(t.parse::<u64>().unwrap().abs_diff(now) < 60);

    let envelope = got.json();
    let expected = fixture("tiktok/text.json");
    assert_same_shape(&envelope, &expected, "envelope");
    let content: Value = serde_json::from_str(envelope["content"].as_str().unwrap()).unwrap();
    let expected_content: Value =
        serde_json::from_str(expected["content"].as_str().unwrap()).unwrap();
    assert_same_shape(&content, &expected_content, "content");
    assert_eq!(content["from_user"]["id"], "7309876543210987654");
}

#[tokio::test]
async fn status_webhooks_describe_messages_the_simulator_accepted() {
    let receiver = Receiver::spawn().await;
    let sim = Sim::spawn(&receiver.url).await;
    sim.token("whatsapp", PHONE, "wa-token").await;
    sim.token("messenger", PAGE, "page-token").await;
    let sent: Value = sim
        .http
        .post(sim.url(&format!("/v23.0/{PHONE}/messages")))
        .bearer_auth("wa-token")
        .json(&fixture("whatsapp/send_text_request.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wamid = sent["messages"][0]["id"].as_str().unwrap();

    for (status, fixture_name) in [
        ("delivered", "status_delivered"),
        ("read", "status_read"),
        ("failed", "status_failed"),
    ] {
        let r = sim
            .control(
                "/_sim/statuses",
                json!({"message_id": wamid, "status": status, "error_code": 131047}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let got = receiver.last();
        assert_eq!(got.path, "/webhooks/whatsapp");
        assert_meta_signature(&got);
        let payload = got.json();
        assert_same_shape(
            &payload,
            &fixture(&format!("whatsapp/{fixture_name}.json")),
            status,
        );
        let entry = &payload["entry"][0]["changes"][0]["value"]["statuses"][0];
        assert_eq!(entry["id"], wamid);
        assert_eq!(entry["recipient_id"], "16505551234");
    }
    assert_eq!(
        receiver.last().json()["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"][0]["code"],
        131047
    );

    let mid: Value = sim
        .http
        .post(sim.url(&format!("/v23.0/{PAGE}/messages")))
        .bearer_auth("page-token")
        .json(&fixture("messenger/send_request.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mid = mid["message_id"].as_str().unwrap();
    // Delayed: answered at once, delivered later; wait for it with a deadline.
    let before = receiver.all().len();
    let r = sim
        .control(
            "/_sim/statuses",
            json!({"message_id": mid, "status": "delivered", "delay_ms": 20}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let got = receiver.wait_for(before + 1).await.pop().unwrap();
    assert_eq!(got.path, "/webhooks/messenger");
    assert_same_shape(&got.json(), &fixture("messenger/delivery.json"), "delivery");
    assert_eq!(
        got.json()["entry"][0]["messaging"][0]["delivery"]["mids"][0],
        mid
    );

    let unknown = sim
        .control(
            "/_sim/statuses",
            json!({"message_id": "wamid.nope", "status": "read"}),
        )
        .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_script_emits_its_steps_in_order() {
    let receiver = Receiver::spawn().await;
    let sim = Sim::spawn(&receiver.url).await;
    let r: Value = sim
        .control(
            "/_sim/script",
            json!({"steps": [
                {"inbound": {"platform": "whatsapp", "account": PHONE, "sender": "16505551234", "text": "first"}},
                {"after_ms": 5, "inbound": {"platform": "messenger", "account": PAGE, "sender": "678", "text": "second"}},
                {"inbound": {"platform": "whatsapp", "account": PHONE, "sender": "1"}},
            ]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let results = r["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], 200);
    assert_eq!(results[1]["status"], 200);
    assert_eq!(results[2]["error"]["code"], "bad_request");
    let paths: Vec<String> = receiver.all().into_iter().map(|g| g.path).collect();
    assert_eq!(paths, ["/webhooks/whatsapp", "/webhooks/messenger"]);
}

#[tokio::test]
async fn load_mode_sends_the_requested_count_and_reports_acknowledgements() {
    let receiver = Receiver::spawn().await;
    let sim = Sim::spawn(&receiver.url).await;
    let report: Value = sim
        .control(
            "/_sim/load",
            json!({"platform": "whatsapp", "account": PHONE, "rate": 2000, "count": 200, "senders": 10}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["sent"], 200, "{report}");
    assert_eq!(report["acked"], 200, "{report}");
    assert_eq!(report["errors"], 0);
    assert!(
        report["latency_ms"]["p99"].as_f64().unwrap()
            >= report["latency_ms"]["p50"].as_f64().unwrap()
    );
    let got = receiver.all();
    assert_eq!(got.len(), 200);
    let mut ids: Vec<String> = got
        .iter()
        .map(|g| {
            assert_meta_signature(g);
            g.json()["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200, "every load message has its own id");
}

#[tokio::test]
async fn the_configuration_never_shows_its_secrets() {
    let sim = Sim::spawn("http://127.0.0.1:9").await;
    sim.control(
        "/_sim/config",
        json!({"tiktok_client_secret": TIKTOK_SECRET}),
    )
    .await;
    let shown = sim
        .http
        .get(sim.url("/_sim/config"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!shown.contains(META_SECRET));
    assert!(!shown.contains(TIKTOK_SECRET));
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["meta_app_secret_set"], true);
    assert_eq!(shown["tiktok_client_secret_set"], true);
}

#[tokio::test]
async fn echoes_and_instagram_comments_are_shaped_like_their_webhooks() {
    let receiver = Receiver::spawn().await;
    let sim = Sim::spawn(&receiver.url).await;
    sim.control(
        "/_sim/config",
        json!({"tiktok_client_secret": TIKTOK_SECRET}),
    )
    .await;

    inbound(
        &sim,
        json!({"platform": "messenger", "account": PAGE, "sender": "6783412839203921",
               "text": "Sent from the Page inbox", "echo": true}),
    )
    .await;
    let echo = receiver.last().json();
    assert_same_shape(&echo, &fixture("messenger/echo.json"), "messenger echo");
    assert_eq!(echo["entry"][0]["messaging"][0]["sender"]["id"], PAGE);

    inbound(
        &sim,
        json!({"platform": "instagram", "account": IG, "sender": "1254459154682919",
               "text": "Replied from the Instagram app", "echo": true}),
    )
    .await;
    assert_same_shape(
        &receiver.last().json(),
        &fixture("instagram/echo.json"),
        "ig echo",
    );

    for (parent, fixture_name) in [
        (None, "comment"),
        (Some("17865799348089039"), "comment_reply"),
    ] {
        inbound(
            &sim,
            json!({"platform": "instagram", "account": IG, "sender": "1254459154682919",
                   "name": "lisbon.traveller", "text": "How much is this?",
                   "comment": {"media_id": "18038786542016734", "parent_id": parent}}),
        )
        .await;
        let got = receiver.last();
        assert_eq!(got.path, "/webhooks/instagram");
        assert_meta_signature(&got);
        assert_same_shape(
            &got.json(),
            &fixture(&format!("instagram/{fixture_name}.json")),
            fixture_name,
        );
    }

    inbound(
        &sim,
        json!({"platform": "tiktok", "account": "7301234567890123456", "sender": "7309876543210987654",
               "name": "maria.lopez", "text": "Sí, te la apartamos.", "echo": true}),
    )
    .await;
    let envelope = receiver.last().json();
    let expected = fixture("tiktok/echo_sent_elsewhere.json");
    assert_same_shape(&envelope, &expected, "tiktok echo");
    assert_eq!(envelope["event"], "im_send_msg");
    let content: Value = serde_json::from_str(envelope["content"].as_str().unwrap()).unwrap();
    let expected_content: Value =
        serde_json::from_str(expected["content"].as_str().unwrap()).unwrap();
    assert_same_shape(&content, &expected_content, "tiktok echo content");
    assert_eq!(content["from_user"]["id"], "7301234567890123456");
}
