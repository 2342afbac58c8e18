//! What a client calls: sends on every platform, tokens, scripted failures, media, templates.

use crate::harness::{Sim, assert_same_shape, fixture};
use serde_json::{Value, json};

const PHONE: &str = "106540352242922";
const PAGE: &str = "108965235479412";
const IG: &str = "17841405822304914";
const BOT_TOKEN: &str = "7000000001:AAHsimulatedBotTokenForTests";
const BUSINESS: &str = "7301234567890123456";

async fn whatsapp_send(sim: &Sim, token: &str, body: &Value) -> reqwest::Response {
    sim.http
        .post(sim.url(&format!("/v23.0/{PHONE}/messages")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn telegram(sim: &Sim, token: &str, method: &str, body: Value) -> reqwest::Response {
    sim.http
        .post(sim.url(&format!("/bot{token}/{method}")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn tiktok_send(sim: &Sim, token: &str, body: &Value) -> reqwest::Response {
    sim.http
        .post(sim.url("/open_api/v1.3/business/message/send/"))
        .header("Access-Token", token)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn whatsapp_send_with_a_valid_token_is_answered_and_recorded_with_the_exact_body() {
    let sim = Sim::spawn("http://127.0.0.1:9").await;
    sim.token("whatsapp", PHONE, "wa-token").await;
    let body = fixture("whatsapp/send_text_request.json");

    let r = whatsapp_send(&sim, "wa-token", &body).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_same_shape(&answer, &fixture("whatsapp/send_response.json"), "answer");
    assert!(
        answer["messages"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("wamid.")
    );
    assert_eq!(answer["contacts"][0]["wa_id"], "16505551234");

    let sends = sim.sends("?platform=whatsapp").await;
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0]["body"], body);
    assert_eq!(sends[0]["account"], PHONE);
    assert_eq!(sends[0]["recipient"], "16505551234");
    assert_eq!(sends[0]["path"], format!("/v23.0/{PHONE}/messages"));
    assert!(sends[0]["headers"].get("authorization").is_none());
    assert!(!sends[0].to_string().contains("wa-token"));
    assert!(
        sim.sends("?platform=whatsapp&account=other")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn whatsapp_template_sends_are_checked_against_the_catalogue() {
    let sim = Sim::spawn("http://127.0.0.1:9").await;
    sim.token("whatsapp", PHONE, "wa-token").await;
    let r = whatsapp_send(
        &sim,
        "wa-token",
        &fixture("whatsapp/send_template_request.json"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["messages"][0]["message_status"], "accepted");

    let mut unknown = fixture("whatsapp/send_template_request.json");
    unknown["template"]["name"] = json!("no_such_template");
    let r = whatsapp_send(&sim, "wa-token", &unknown).await;
    assert_eq!(r.status(), 404);
    let error: Value = r.json().await.unwrap();
    assert_eq!(error["error"]["code"], 132001);

    let catalogue: Value = sim
        .http
        .get(sim.url("/v23.0/102290129340398/message_templates"))
        .bearer_auth("wa-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = catalogue["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"order_update"));
}

#[tokio::test]
async fn whatsapp_refuses_a_body_missing_what_the_platform_requires() {
    let sim = Sim::spawn("http://127.0.0.1:9").await;
    sim.token("whatsapp", PHONE, "wa-token").await;
    for broken in [
        json!({"to": "1650", "type": "text", "text": {"body": "x"}}),
        json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}),
        json!({"messaging_product": "whatsapp", "to": "1650", "type": "text"}),
        json!({"messaging_product": "whatsapp", "to": "1650", "type": "image", "image": {}}),
        json!({"messaging_product": "whatsapp", "to": "1650", "type": "carrier_pigeon", "carrier_pigeon": {}}),
    ] {
        let r = whatsapp_send(&sim, "wa-token", &broken).await;
        assert_eq!(r.status(), 400, "{broken}");
        let error: Value = r.json().await.unwrap();
        assert_eq!(error["error"]["code"], 100, "{broken}");
        assert_eq!(error["error"]["type"], "OAuthException");
    }
}

#[tokio::test]
async fn messenger_and_instagram_sends_answer_recipient_and_message_ids() {
    let sim = Sim::spawn("http://127.0.0.1:9").await;
    sim.token("messenger", PAGE, "page-token").await;
    sim.token("instagram", IG, "ig-token").await;

    for request in [
        "messenger/send_request.json",
        "messenger/send_human_agent_request.json",
    ] {
        let body = fixture(request);
        let r = sim
            .http
            .post(sim.url(&format!("/v23.0/{PAGE}/messages")))
            .bearer_auth("page-token")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{request}");
        let answer: Value = r.json().await.unwrap();
        assert_same_shape(&answer, &fixture("messenger/send_response.json"), request);
        assert!(answer["message_id"].as_str().unwrap().starts_with("m_"));
        assert_eq!(answer["recipient_id"], "6783412839203921");
    }

    let private_reply = fixture("instagram/private_reply_request.json");
    let r = sim
        .http
        .post(sim.url(&format!("/v23.0/{IG}/messages")))
        .bearer_auth("ig-token")
        .json(&private_reply)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert!(answer["message_id"].as_str().unwrap().starts_with("aWdf"));

    let reply = sim
        .http
        .post(sim.url("/v23.0/17865799348089039/replies"))
        .bearer_auth("ig-token")
        .json(&fixture("instagram/comment_reply_request.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert!(reply.json::<Value>().await.unwrap()["id"].is_string());
    let hide = sim
        .http
        .post(sim.url("/v23.0/17865799348089039"))
        .bearer_auth("ig-token")
        .json(&fixture("instagram/hide_comment_request.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        hide.json::<Value>().await.unwrap(),
        json!({"success": true})
    );

    let sends = sim.sends("?platform=instagram").await;
    assert_eq!(sends.len(), 3);
    assert_eq!(sends[0]["body"], private_reply);
    assert_eq!(sim.sends(&format!("?account={PAGE}")).await.len(), 2);
}

#[tokio::test]
async fn telegram_sends_count_message_ids_per_chat_and_hide_the_token() {
    let sim = Sim::spawn("http://127.0.0.1:9").await;
    sim.control(
        "/_sim/tokens",
        json!({"platform": "telegram", "token": BOT_TOKEN}),
    )
    .await;
    let body = fixture("telegram/send_request.json");
    let first: Value = telegram(&sim, BOT_TOKEN, "sendMessage", body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_same_shape(
        &first,
        &{
            let mut expected = fixture("telegram/send_response.json");
            // The simulator knows the chat by id only.
            expected["result"]["chat"] = json!({"id": 1, "type": "private"});
            expected
        },
        "sendMessage",
    );
    let second: Value = telegram(&sim, BOT_TOKEN, "sendMessage", body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["result"]["message_id"], 1);
    assert_eq!(second["result"]["message_id"], 2);
    assert_eq!(second["result"]["text"], body["text"]);

    let me: Value = telegram(&sim, BOT_TOKEN, "getMe", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["result"]["id"], 7000000001_i64);
    assert_eq!(me["result"]["is_bot"], true);

    let sends = sim.sends("?platform=telegram&account=7000000001").await;
    assert_eq!(sends.len(), 3);
    assert_eq!(sends[0]["body"], body);
    assert_eq!(sends[0]["path"], "/bot7000000001:***/sendMessage");
    assert!(
        !serde_json::to_string(&sends)
            .unwrap()
            .contains("AAHsimulated")
    );
}

#[tokio::test]
async fn tiktok_send_answers_code_zero_with_a_string_message_id() {
    let sim = Sim::spawn("http://127.0.0.1:9").await;
    sim.token("tiktok", BUSINESS, "tt-token").await;
    let body = fixture("tiktok/send_text_request.json");
    let r = tiktok_send(&sim, "tt-token", &body).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_same_shape(&answer, &fixture("tiktok/send_response.json"), "answer");
    assert_eq!(answer["code"], 0);
    assert!(answer["data"]["message"]["message_id"].is_string());
    let sends = sim.sends("?platform=tiktok").await;
    assert_eq!(sends[0]["body"], body);
    assert_eq!(sends[0]["account"], BUSINESS);
    assert!(sends[0]["headers"].get("access-token").is_none());
}

#[tokio::test]
async fn unknown_tokens_get_each_platforms_auth_error() {
    let sim = Sim::spawn("http://127.0.0.1:9").await;
    sim.token("whatsapp", PHONE, "wa-token").await;

    let r = whatsapp_send(&sim, "wrong", &fixture("whatsapp/send_text_request.json")).await;
    assert_eq!(r.status(), 401);
    let error: Value = r.json().await.unwrap();
    assert_eq!(error["error"]["code"], 190);
    assert_eq!(error["error"]["type"], "OAuthException");
    assert!(error["error"]["fbtrace_id"].is_string());

    let r = telegram(
        &sim,
        "123:nope",
        "sendMessage",
        fixture("telegram/send_request.json"),
    )
    .await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
    );

    let r = tiktok_send(&sim, "nope", &fixture("tiktok/send_text_request.json")).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["code"], 40105);
    assert_same_shape(&answer, &fixture("tiktok/send_error.json"), "auth error");

    // Refused calls are recorded too, so a test can see what was attempted.
    assert_eq!(sim.sends("").await.len(), 3);
}

#[tokio::test]
async fn a_scripted_failure_answers_the_platform_error_once_then_sends_succeed() {
    let sim = Sim::spawn("http://127.0.0.1:9").await;
    sim.token("whatsapp", PHONE, "wa-token").await;
    sim.control(
        "/_sim/tokens",
        json!({"platform": "telegram", "token": BOT_TOKEN}),
    )
    .await;
    sim.token("tiktok", BUSINESS, "tt-token").await;
    let wa = fixture("whatsapp/send_text_request.json");

    let r = sim
        .control(
            "/_sim/failures",
            json!({"platform": "whatsapp", "account": PHONE, "code": 131047}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = whatsapp_send(&sim, "wa-token", &wa).await;
    assert_eq!(r.status(), 400);
    let error: Value = r.json().await.unwrap();
    assert_same_shape(
        &error,
        &fixture("whatsapp/send_error_window.json"),
        "131047",
    );
    assert_eq!(error["error"]["code"], 131047);
    assert_eq!(whatsapp_send(&sim, "wa-token", &wa).await.status(), 200);

    // Rate limit with Retry-After, only for one recipient.
    sim.control(
        "/_sim/failures",
        json!({"platform": "whatsapp", "recipient": "16505551234", "code": 130429, "retry_after": 7}),
    )
    .await;
    let r = whatsapp_send(&sim, "wa-token", &wa).await;
    assert_eq!(r.headers()["retry-after"], "7");
    let error: Value = r.json().await.unwrap();
    assert_same_shape(&error, &fixture("whatsapp/send_error_rate.json"), "130429");
    assert_eq!(whatsapp_send(&sim, "wa-token", &wa).await.status(), 200);

    // An expired token, as Graph reports it.
    sim.control(
        "/_sim/failures",
        json!({"platform": "whatsapp", "code": 190}),
    )
    .await;
    let r = whatsapp_send(&sim, "wa-token", &wa).await;
    assert_eq!(r.status(), 401);
    let error: Value = r.json().await.unwrap();
    assert_same_shape(&error, &fixture("whatsapp/send_error_token.json"), "190");

    // Telegram: blocked, then 429 with retry_after.
    sim.control(
        "/_sim/failures",
        json!({"platform": "telegram", "code": 403}),
    )
    .await;
    sim.control(
        "/_sim/failures",
        json!({"platform": "telegram", "code": 429, "retry_after": 5}),
    )
    .await;
    let tg = fixture("telegram/send_request.json");
    let r = telegram(&sim, BOT_TOKEN, "sendMessage", tg.clone()).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        fixture("telegram/error_blocked.json")
    );
    let r = telegram(&sim, BOT_TOKEN, "sendMessage", tg.clone()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        fixture("telegram/error_rate.json")
    );
    assert_eq!(
        telegram(&sim, BOT_TOKEN, "sendMessage", tg).await.status(),
        200
    );

    // TikTok: an error code, twice.
    sim.control(
        "/_sim/failures",
        json!({"platform": "tiktok", "code": 40002, "times": 2}),
    )
    .await;
    let tt = fixture("tiktok/send_text_request.json");
    for _ in 0..2 {
        let answer: Value = tiktok_send(&sim, "tt-token", &tt)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(answer["code"], 40002);
        assert_eq!(
            answer["message"],
            fixture("tiktok/send_error.json")["message"]
        );
    }
    let answer: Value = tiktok_send(&sim, "tt-token", &tt)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["code"], 0);
}

#[tokio::test]
async fn inbound_whatsapp_media_is_served_through_lookup_and_bearer_download() {
    let receiver = crate::harness::Receiver::spawn().await;
    let sim = Sim::spawn(&receiver.url).await;
    sim.token("whatsapp", PHONE, "wa-token").await;
    let emitted: Value = sim
        .control(
            "/_sim/inbound",
            json!({"platform": "whatsapp", "account": PHONE, "sender": "16505551234",
                   "media": {"kind": "image", "caption": "the receipt"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let image = &emitted["payload"]["entry"][0]["changes"][0]["value"]["messages"][0]["image"];
    let media_id = image["id"].as_str().unwrap();

    let lookup: Value = sim
        .http
        .get(sim.url(&format!("/v23.0/{media_id}")))
        .bearer_auth("wa-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_same_shape(
        &lookup,
        &fixture("whatsapp/media_url_response.json"),
        "lookup",
    );
    assert_eq!(lookup["sha256"], image["sha256"]);
    let url = lookup["url"].as_str().unwrap();

    let without_token = sim.http.get(url).send().await.unwrap();
    assert_eq!(without_token.status(), 401);
    let download = sim
        .http
        .get(url)
        .bearer_auth("wa-token")
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "image/png");
    let bytes = download.bytes().await.unwrap();
    assert_eq!(
        bytes.len().to_string(),
        lookup["file_size"].as_str().unwrap()
    );
    assert!(bytes.starts_with(b"\x89PNG"));
}

#[tokio::test]
async fn test_connection_calls_describe_the_account_the_token_acts_for() {
    let sim = Sim::spawn("http://127.0.0.1:9").await;
    sim.token("whatsapp", PHONE, "wa-token").await;
    sim.token("messenger", PAGE, "page-token").await;
    sim.token("tiktok", BUSINESS, "tt-token").await;

    let phone: Value = sim
        .http
        .get(sim.url(&format!("/v23.0/{PHONE}")))
        .bearer_auth("wa-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(phone["id"], PHONE);
    assert!(phone["verified_name"].is_string());
    let page: Value = sim
        .http
        .get(sim.url("/v23.0/me?fields=name"))
        .bearer_auth("page-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["id"], PAGE);

    let business: Value = sim
        .http
        .get(sim.url(&format!(
            "/open_api/v1.3/business/get/?business_id={BUSINESS}"
        )))
        .header("Access-Token", "tt-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(business["code"], 0);
    let refused: Value = sim
        .http
        .get(sim.url(&format!(
            "/open_api/v1.3/business/get/?business_id={BUSINESS}"
        )))
        .header("Access-Token", "revoked")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["code"], 40105);
}

#[tokio::test]
async fn scripted_latency_delays_the_answer_and_the_send_still_succeeds() {
    let sim = Sim::spawn("http://127.0.0.1:9").await;
    sim.token("whatsapp", PHONE, "wa-token").await;
    sim.control(
        "/_sim/failures",
        json!({"platform": "whatsapp", "latency_ms": 150}),
    )
    .await;
    let started = std::time::Instant::now();
    let r = whatsapp_send(
        &sim,
        "wa-token",
        &fixture("whatsapp/send_text_request.json"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
    let rules: Value = sim
        .http
        .get(sim.url("/_sim/failures"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rules["data"], json!([]), "the rule was used up");
}

#[tokio::test]
async fn inbound_to_an_unreachable_target_says_so() {
    // Port 9 (discard) is closed on test machines.
    let sim = Sim::spawn("http://127.0.0.1:9").await;
    let r = sim
        .control(
            "/_sim/inbound",
            json!({"platform": "whatsapp", "account": PHONE, "sender": "1", "text": "hi"}),
        )
        .await;
    assert_eq!(r.status(), 502);
    let error: Value = r.json().await.unwrap();
    assert_eq!(error["error"]["code"], "target_unreachable");
}
