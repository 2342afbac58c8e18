//! The REST reads scripts rely on (conversations, messages, contacts), tenant isolation on
//! every conversation and contact endpoint, and bad send input refused with nothing stored.

use crate::outbound_support::Outbound;
use crate::outbound_tests;
use crate::seed::{api_token, bearer, seed_workspace};
use reqwest::Method;
use serde_json::json;
use switchboard_core::Role;
use switchboard_core::channel::ChannelKind;
use time::Duration;

outbound_tests!(
    conversations_list_newest_activity_first_with_filters_and_cursors,
    messages_and_contacts_read_as_scripts_expect,
    another_workspace_sees_not_found_on_every_endpoint,
    bad_send_input_is_refused_with_a_code_and_nothing_is_stored,
);

async fn conversations_list_newest_activity_first_with_filters_and_cursors(o: Outbound) {
    let wa = o.thread(ChannelKind::WhatsApp, "PHONE1", "111").await;
    o.app.clock.advance(Duration::minutes(1));
    let tg = o.thread(ChannelKind::Telegram, "7000001", "222").await;
    o.app.clock.advance(Duration::minutes(1));
    let wa2 = o
        .inbound(
            o.seeded.ws,
            wa.connection,
            ChannelKind::WhatsApp,
            "PHONE1",
            "333",
            "Hi",
        )
        .await;

    let (status, list) = o.get("/api/v1/conversations").await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            wa2.conversation.to_string(),
            tg.conversation.to_string(),
            wa.conversation.to_string()
        ]
    );
    assert!(list["next_cursor"].is_null());
    assert_eq!(list["data"][1]["channel"], "telegram");
    assert_eq!(list["data"][1]["status"], "open");

    let (_, page1) = o.get("/api/v1/conversations?limit=2").await;
    assert_eq!(page1["data"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = o
        .get(&format!("/api/v1/conversations?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(page2["data"][0]["id"], wa.conversation.to_string());
    assert_eq!(page2["data"].as_array().unwrap().len(), 1);

    let (_, only_tg) = o.get("/api/v1/conversations?channel=telegram").await;
    assert_eq!(only_tg["data"].as_array().unwrap().len(), 1);
    let (_, by_conn) = o
        .get(&format!(
            "/api/v1/conversations?connection_id={}",
            wa.connection
        ))
        .await;
    assert_eq!(by_conn["data"].as_array().unwrap().len(), 2);
    let (_, resolved) = o.get("/api/v1/conversations?status=resolved").await;
    assert!(resolved["data"].as_array().unwrap().is_empty());

    for bad in [
        "status=closed",
        "limit=0",
        "cursor=nope",
        "channel=fax",
        "colour=red",
    ] {
        let (status, error) = o.get(&format!("/api/v1/conversations?{bad}")).await;
        assert!((400..500).contains(&status), "{bad}: {status}");
        assert!(error["error"]["code"].is_string(), "{bad}: {error}");
    }

    let (status, one) = o
        .get(&format!("/api/v1/conversations/{}", tg.conversation))
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["contact_id"], tg.contact.to_string());
    assert!(one["last_inbound_at"].is_string());
}

async fn messages_and_contacts_read_as_scripts_expect(o: Outbound) {
    let t = o
        .thread(ChannelKind::WhatsApp, "102290129340398", "16505551234")
        .await;
    o.fail_next(json!({"platform": "whatsapp", "code": 131026}))
        .await;
    o.reply(t.conversation, json!({"text": "Hi there"})).await;
    o.app.drain_jobs().await;
    o.reply(t.conversation, json!({"text": "Second try"})).await;
    o.app.drain_jobs().await;

    let (status, list) = o
        .get(&format!(
            "/api/v1/conversations/{}/messages",
            t.conversation
        ))
        .await;
    assert_eq!(status, 200, "{list}");
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["direction"], "inbound");
    assert_eq!(data[0]["status"], "received");
    assert_eq!(data[0]["text"], "Hello?");
    assert_eq!(data[1]["direction"], "outbound");
    assert_eq!(data[1]["status"], "failed");
    assert_eq!(data[1]["error_code"], "131026");
    assert!(data[1]["error_reason"].is_string());
    assert_eq!(data[1]["content"]["type"], "text");
    assert_eq!(data[2]["status"], "sent");
    assert!(data[2]["created_at"].is_string());

    let (_, newest) = o
        .get(&format!(
            "/api/v1/conversations/{}/messages?limit=2",
            t.conversation
        ))
        .await;
    assert_eq!(newest["data"][1]["text"], "Second try");
    let cursor = newest["next_cursor"].as_str().unwrap();
    let (_, older) = o
        .get(&format!(
            "/api/v1/conversations/{}/messages?limit=2&cursor={cursor}",
            t.conversation
        ))
        .await;
    assert_eq!(older["data"].as_array().unwrap().len(), 1);
    assert_eq!(older["data"][0]["direction"], "inbound");

    let other = o.thread(ChannelKind::Telegram, "7000001", "99887766").await;
    let (status, found) = o.get("/api/v1/contacts?q=5055").await;
    assert_eq!(status, 200, "{found}");
    let found = found["data"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], t.contact.to_string());
    assert_eq!(found[0]["identities"][0]["channel"], "whatsapp");
    let (_, by_name) = o.get("/api/v1/contacts?q=customer%2099887766").await;
    assert_eq!(by_name["data"][0]["id"], other.contact.to_string());
    let (_, all) = o.get("/api/v1/contacts").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let (_, none) = o.get("/api/v1/contacts?q=%25").await;
    assert!(none["data"].as_array().unwrap().is_empty(), "% is literal");

    let (status, contact) = o.get(&format!("/api/v1/contacts/{}", t.contact)).await;
    assert_eq!(status, 200);
    assert_eq!(contact["identities"][0]["external_id"], "16505551234");
    assert_eq!(contact["consent"], json!([]));

    let spec = o.app.openapi().await;
    for path in [
        "/api/v1/conversations",
        "/api/v1/conversations/{id}",
        "/api/v1/conversations/{id}/messages",
        "/api/v1/contacts",
        "/api/v1/contacts/{id}",
        "/api/v1/contacts/{id}/consent",
        "/api/v1/channels/{id}/templates",
        "/api/v1/channels/{id}/templates/sync",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} in the OpenAPI");
    }
}

async fn another_workspace_sees_not_found_on_every_endpoint(o: Outbound) {
    let t = o
        .thread(ChannelKind::WhatsApp, "102290129340398", "16505551234")
        .await;
    let (_, queued) = o.reply(t.conversation, json!({"text": "Ours"})).await;
    let message = queued["id"].as_str().unwrap().to_owned();
    let other = seed_workspace(&o.app, "globex").await;
    let agent = api_token(&o.app, other.ws, Role::Agent).await;
    let theirs = o
        .connect(other.ws, ChannelKind::WhatsApp, "PHONE-GLOBEX")
        .await;
    let their_thread = o
        .inbound(
            other.ws,
            theirs,
            ChannelKind::WhatsApp,
            "PHONE-GLOBEX",
            "1",
            "Hi",
        )
        .await;

    let c = t.conversation;
    let requests = [
        (Method::GET, format!("/api/v1/conversations/{c}"), None),
        (
            Method::GET,
            format!("/api/v1/conversations/{c}/messages"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{c}/messages"),
            Some(json!({"text": "Hijack"})),
        ),
        (
            Method::POST,
            format!(
                "/api/v1/conversations/{}/messages",
                their_thread.conversation
            ),
            Some(json!({"text": "x", "reply_to": message})),
        ),
        (Method::GET, format!("/api/v1/contacts/{}", t.contact), None),
        (
            Method::POST,
            format!("/api/v1/contacts/{}/consent", t.contact),
            Some(json!({"kind": "whatsapp_utility", "source": "agent"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/contacts/{}/consent/whatsapp_utility", t.contact),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/channels/{}/templates", t.connection),
            None,
        ),
    ];
    for (method, path, body) in requests {
        let mut r = bearer(&o.app, method.clone(), &path, &agent);
        if let Some(body) = body {
            r = r.json(&body);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let error: serde_json::Value = r.json().await.unwrap();
        // A reply_to of another workspace is an unknown message: refused like any bad id.
        assert!(
            status == 404 || (status == 422 && error["error"]["code"] == "invalid_reply_to"),
            "{method} {path}: {status} {error}"
        );
    }
    let r = bearer(
        &o.app,
        Method::POST,
        &format!("/api/v1/channels/{}/templates/sync", t.connection),
        &api_token(&o.app, other.ws, Role::Admin).await,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);

    let (_, ours) = o.get("/api/v1/conversations").await;
    assert_eq!(ours["data"].as_array().unwrap().len(), 1);
    let theirs_list: serde_json::Value = bearer(&o.app, Method::GET, "/api/v1/contacts", &agent)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs_list["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        theirs_list["data"][0]["id"],
        their_thread.contact.to_string()
    );
}

async fn bad_send_input_is_refused_with_a_code_and_nothing_is_stored(o: Outbound) {
    let t = o
        .thread(ChannelKind::WhatsApp, "102290129340398", "16505551234")
        .await;
    let tg = o.thread(ChannelKind::Telegram, "7000001", "222").await;
    let cases = [
        (json!({"text": "hi", "colour": "red"}), "invalid_body"),
        (
            json!({"text": "hi", "template": {"name": "order_update", "language": "en_US"}}),
            "invalid_message",
        ),
        (json!({}), "invalid_message"),
        (json!({"text": "   "}), "empty_text"),
        (json!({"text": "x".repeat(4097)}), "text_too_long"),
        (json!({"text": 5}), "invalid_body"),
        (
            json!({"media": {"kind": "hologram", "url": "https://cdn.example/a.png"}}),
            "invalid_media_kind",
        ),
        (
            json!({"media": {"kind": "image", "url": "file:///etc/passwd"}}),
            "invalid_media_url",
        ),
        (
            json!({"text": "hi", "reply_to": "not-an-id"}),
            "invalid_reply_to",
        ),
        (
            json!({"text": "hi", "human_agent_tag": true}),
            "tag_not_supported",
        ),
    ];
    for (body, code) in cases {
        let (status, error) = o.reply(t.conversation, body.clone()).await;
        assert!((400..500).contains(&status), "{body}: {status}");
        assert_eq!(error["error"]["code"], code, "{body}: {error}");
    }
    let (status, error) = o
        .reply(
            tg.conversation,
            json!({"template": {"name": "order_update", "language": "en_US", "parameters": []}}),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (422, Some("template_not_supported"))
    );
    let r = o
        .api(
            Method::POST,
            &format!("/api/v1/conversations/{}/messages", t.conversation),
        )
        .header("content-type", "application/json")
        .body(format!("{{\"text\": \"{}\"}}", "x".repeat(3 * 1024 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let (status, _) = o
        .reply(
            "0190a0b0-0000-7000-8000-000000000000".parse().unwrap(),
            json!({"text": "hi"}),
        )
        .await;
    assert_eq!(status, 404);

    let (_, list) = o
        .get(&format!(
            "/api/v1/conversations/{}/messages",
            t.conversation
        ))
        .await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "only the customer's message"
    );
    assert!(
        o.pending_jobs("send_message").await.is_empty(),
        "no job queued"
    );
}
