//! The inbox API on both backends: labels, assignment, status and snoozing, notes, canned
//! responses, unread marks, bulk actions, listing filters and keyset pages, search, the event
//! log and its SSE stream (resuming after a drop), idempotency keys, and tenant isolation for
//! every id.

use crate::outbound_support::Outbound;
use crate::outbound_tests;
use crate::seed::{self, bearer, seed_workspace};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashSet;
use switchboard_core::channel::ChannelKind;
use switchboard_core::{Clock, ConversationId};

outbound_tests!(
    labels_are_created_once_per_key_and_name,
    work_on_a_conversation_is_recorded_in_its_timeline_and_events,
    listing_filters_and_keyset_pages,
    every_id_of_another_workspace_is_not_found,
    canned_responses_fill_in_contact_and_agent,
    search_finds_messages_and_contacts_of_the_workspace_only,
    event_stream_delivers_live_and_resumes_after_a_drop,
    bulk_actions_report_each_conversation,
);

async fn call(o: &Outbound, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = o.api(method, path);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn create_label(o: &Outbound, name: &str) -> String {
    let (s, v) = call(
        o,
        Method::POST,
        "/api/v1/labels",
        Some(json!({"name": name, "colour": "#AA0000"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

async fn labels_are_created_once_per_key_and_name(o: Outbound) {
    let first = o
        .api(Method::POST, "/api/v1/labels")
        .header("idempotency-key", "label-1")
        .json(&json!({"name": "VIP", "colour": "#FF8800"}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["colour"], "#ff8800");
    let again: Value = o
        .api(Method::POST, "/api/v1/labels")
        .header("idempotency-key", "label-1")
        .json(&json!({"name": "VIP", "colour": "#FF8800"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["id"], first["id"],
        "a retried create answers the first label"
    );
    let (s, v) = call(
        &o,
        Method::POST,
        "/api/v1/labels",
        Some(json!({"name": "VIP"})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("label_exists"))
    );
    let (s, v) = call(
        &o,
        Method::POST,
        "/api/v1/labels",
        Some(json!({"name": "x", "colour": "red"})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_colour"))
    );
    let (s, v) = call(
        &o,
        Method::POST,
        "/api/v1/labels",
        Some(json!({"name": "  "})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_name"))
    );
    let id = first["id"].as_str().unwrap();
    let (s, v) = call(
        &o,
        Method::PATCH,
        &format!("/api/v1/labels/{id}"),
        Some(json!({"name": "Gold"})),
    )
    .await;
    assert_eq!(
        (s, v["name"].as_str(), v["colour"].as_str()),
        (200, Some("Gold"), Some("#ff8800"))
    );
    let (_, list) = call(&o, Method::GET, "/api/v1/labels", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    // Deleting is for admins: an agent's token is refused.
    let agent = seed::api_token(&o.app, o.seeded.ws, switchboard_core::Role::Agent).await;
    let r = bearer(
        &o.app,
        Method::DELETE,
        &format!("/api/v1/labels/{id}"),
        &agent,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let (s, _) = call(&o, Method::DELETE, &format!("/api/v1/labels/{id}"), None).await;
    assert_eq!(s, 204);
    let (s, _) = call(&o, Method::DELETE, &format!("/api/v1/labels/{id}"), None).await;
    assert_eq!(s, 404);
}

async fn work_on_a_conversation_is_recorded_in_its_timeline_and_events(o: Outbound) {
    let t = o.thread(ChannelKind::WhatsApp, "PN1", "15550001").await;
    let c = t.conversation;
    let owner = o.seeded.owner.id.to_string();
    let (_, before) = call(&o, Method::GET, "/api/v1/events", None).await;
    let start = before["next_cursor"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    assert!(start >= 1, "ingesting the message wrote an event: {before}");

    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{c}/assignee"),
        Some(json!({"assignee_user_id": owner})),
    )
    .await;
    assert_eq!(
        (s, v["assignee_user_id"].as_str()),
        (200, Some(owner.as_str())),
        "{v}"
    );
    let stranger = seed::user(&o.app, "stranger@else.example").await;
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{c}/assignee"),
        Some(json!({"assignee_user_id": stranger.to_string()})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("not_a_member"))
    );

    let label = create_label(&o, "Refund").await;
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{c}/labels/{label}"),
        None,
    )
    .await;
    assert_eq!((s, v["label_ids"].clone()), (200, json!([label])));
    // Twice changes nothing.
    let (s, _) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{c}/labels/{label}"),
        None,
    )
    .await;
    assert_eq!(s, 200);

    let note = |key: &'static str| {
        o.api(Method::POST, &format!("/api/v1/conversations/{c}/notes"))
            .header("idempotency-key", key)
            .json(&json!({"text": "Customer is angry about order 42"}))
            .send()
    };
    let n1: Value = note("note-1").await.unwrap().json().await.unwrap();
    let n2: Value = note("note-1").await.unwrap().json().await.unwrap();
    assert_eq!(n1["id"], n2["id"]);
    assert_eq!(n1["kind"], "note");
    let (s, v) = call(
        &o,
        Method::POST,
        &format!("/api/v1/conversations/{c}/notes"),
        Some(json!({"text": ""})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_note"))
    );

    // Snoozing needs a future time.
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{c}/status"),
        Some(json!({"status": "snoozed"})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_snooze"))
    );
    let later = o.app.clock.now() + time::Duration::hours(2);
    let later = later
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{c}/status"),
        Some(json!({"status": "snoozed", "snoozed_until": later})),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("snoozed")), "{v}");
    // The sweep opens it when its time comes (and not before).
    let mut tx = o.app.store.begin().await.unwrap();
    assert_eq!(tx.wake_snoozed(o.app.clock.now()).await.unwrap(), 0);
    tx.commit().await.unwrap();
    o.app.clock.advance(time::Duration::hours(3));
    let mut tx = o.app.store.begin().await.unwrap();
    assert_eq!(tx.wake_snoozed(o.app.clock.now()).await.unwrap(), 1);
    tx.commit().await.unwrap();
    let (_, v) = call(&o, Method::GET, &format!("/api/v1/conversations/{c}"), None).await;
    assert_eq!(v["status"], "open");

    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{c}/status"),
        Some(json!({"status": "resolved"})),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("resolved")));
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{c}/status"),
        Some(json!({"status": "closed"})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_status"))
    );

    // Unread: the customer's message counts; read clears; unread marks again.
    let (_, v) = call(&o, Method::GET, &format!("/api/v1/conversations/{c}"), None).await;
    assert_eq!(v["unread_count"], 1);
    let (_, v) = call(
        &o,
        Method::POST,
        &format!("/api/v1/conversations/{c}/read"),
        None,
    )
    .await;
    assert_eq!(v["unread_count"], 0);
    let (_, v) = call(
        &o,
        Method::POST,
        &format!("/api/v1/conversations/{c}/unread"),
        None,
    )
    .await;
    assert_eq!(v["unread_count"], 1);

    let (_, timeline) = call(
        &o,
        Method::GET,
        &format!("/api/v1/conversations/{c}/activities"),
        None,
    )
    .await;
    let kinds: Vec<&str> = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "assigned", "labelled", "note", "snoozed", "opened", "resolved"
        ]
    );

    let (_, events) = call(
        &o,
        Method::GET,
        &format!("/api/v1/events?after={start}&limit=200"),
        None,
    )
    .await;
    let list = events["data"].as_array().unwrap();
    let seqs: Vec<i64> = list.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        ((start + 1)..=(start + seqs.len() as i64)).collect::<Vec<_>>(),
        "gapless, in order"
    );
    assert!(
        list.iter()
            .all(|e| e["conversation_id"] == c.to_string() || e["kind"] == "label.changed")
    );
    for e in list {
        assert!(
            !e.to_string().contains("angry"),
            "no message or note text in events: {e}"
        );
    }
    let (s, v) = call(&o, Method::GET, "/api/v1/events?after=-1", None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_cursor"))
    );
}

async fn listing_filters_and_keyset_pages(o: Outbound) {
    let ws = o.seeded.ws;
    let conn = o.connect(ws, ChannelKind::WhatsApp, "PN1").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        o.app.clock.advance(time::Duration::minutes(1));
        let t = o
            .inbound(
                ws,
                conn,
                ChannelKind::WhatsApp,
                "PN1",
                &format!("1555000{i}"),
                "hi",
            )
            .await;
        ids.push(t.conversation);
    }
    let owner = o.seeded.owner.id.to_string();
    for c in &ids[0..3] {
        let (s, _) = call(
            &o,
            Method::PUT,
            &format!("/api/v1/conversations/{c}/assignee"),
            Some(json!({"assignee_user_id": owner})),
        )
        .await;
        assert_eq!(s, 200);
    }
    let label = create_label(&o, "Urgent").await;
    call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{}/labels/{label}", ids[6]),
        None,
    )
    .await;

    let list = |q: String| {
        let o = &o;
        async move {
            let (s, v) = call(o, Method::GET, &format!("/api/v1/conversations?{q}"), None).await;
            assert_eq!(s, 200, "{v}");
            v
        }
    };
    let names = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let assigned = list(format!("assignee={owner}")).await;
    assert_eq!(names(&assigned).len(), 3);
    assert_eq!(names(&list("assignee=unassigned".into()).await).len(), 4);
    assert_eq!(
        names(&list(format!("label={label}")).await),
        [ids[6].to_string()]
    );
    // Newest activity first; waiting: longest waiting first.
    assert_eq!(names(&list("limit=1".into()).await), [ids[6].to_string()]);
    assert_eq!(
        names(&list("sort=waiting&limit=1".into()).await),
        [ids[0].to_string()]
    );
    // Answering ends the wait.
    let (s, _) = o.reply(ids[0], json!({"text": "On it"})).await;
    assert_eq!(s, 202);
    assert_eq!(
        names(&list("sort=waiting&limit=1".into()).await),
        [ids[1].to_string()]
    );
    assert_eq!(names(&list("unread=true".into()).await).len(), 7);
    // Pages of 2 walk every conversation once, under either sort.
    for sort in ["activity", "waiting"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                Some(c) => format!("sort={sort}&limit=2&cursor={c}"),
                None => format!("sort={sort}&limit=2"),
            };
            let page = list(q).await;
            seen.extend(names(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let expected = if sort == "activity" { 7 } else { 6 };
        assert_eq!(seen.len(), expected, "{sort}: {seen:?}");
        assert_eq!(
            seen.iter().collect::<HashSet<_>>().len(),
            expected,
            "no duplicates"
        );
    }
    for bad in [
        "cursor=nonsense",
        "sort=random",
        "assignee=someone",
        "label=x",
        "unread=maybe",
        "limit=0",
    ] {
        let (s, v) = call(
            &o,
            Method::GET,
            &format!("/api/v1/conversations?{bad}"),
            None,
        )
        .await;
        assert_eq!(s, 422, "{bad}: {v}");
    }
    // A token is nobody: `me` needs a session.
    let (s, _) = call(&o, Method::GET, "/api/v1/conversations?assignee=me", None).await;
    assert_eq!(s, 422);
    let r = seed::browser(
        &o.app,
        Method::GET,
        "/api/v1/conversations?assignee=me",
        &o.seeded.owner,
    )
    .send()
    .await
    .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
}

async fn every_id_of_another_workspace_is_not_found(o: Outbound) {
    let t = o.thread(ChannelKind::WhatsApp, "PN1", "15550001").await;
    let c = t.conversation;
    let label = create_label(&o, "Mine").await;
    let (_, canned) = call(
        &o,
        Method::POST,
        "/api/v1/canned-responses",
        Some(json!({"shortcut": "hi", "body": "Hello"})),
    )
    .await;
    let canned = canned["id"].as_str().unwrap().to_owned();
    let (_, note) = call(
        &o,
        Method::POST,
        &format!("/api/v1/conversations/{c}/notes"),
        Some(json!({"text": "secret"})),
    )
    .await;
    assert_eq!(note["kind"], "note");

    let other = seed_workspace(&o.app, "globex").await;
    let their_label = {
        let r = bearer(&o.app, Method::POST, "/api/v1/labels", &other.token)
            .json(&json!({"name": "Theirs"}))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let as_other = |method: Method, path: String, body: Option<Value>| {
        let mut r = bearer(&o.app, method, &path, &other.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    let cases = [
        (Method::GET, format!("/api/v1/conversations/{c}"), None),
        (
            Method::GET,
            format!("/api/v1/conversations/{c}/activities"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/conversations/{c}/assignee"),
            Some(json!({"assignee_user_id": null})),
        ),
        (
            Method::PUT,
            format!("/api/v1/conversations/{c}/status"),
            Some(json!({"status": "resolved"})),
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{c}/notes"),
            Some(json!({"text": "x"})),
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{c}/read"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{c}/unread"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/conversations/{c}/labels/{their_label}"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/conversations/{c}/labels/{label}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/conversations/{c}/labels/{label}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/labels/{label}"),
            Some(json!({"name": "stolen"})),
        ),
        (Method::DELETE, format!("/api/v1/labels/{label}"), None),
        (
            Method::PATCH,
            format!("/api/v1/canned-responses/{canned}"),
            Some(json!({"body": "stolen"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/canned-responses/{canned}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/canned-responses/{canned}/rendered"),
            None,
        ),
    ];
    for (method, path, body) in cases {
        assert_eq!(
            as_other(method.clone(), path.clone(), body).await,
            404,
            "{method} {path}"
        );
    }
    // Their own label on our conversation, with our token: also not found.
    let (s, _) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{c}/labels/{their_label}"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    // Bulk: each foreign id fails on its own.
    let r = bearer(
        &o.app,
        Method::POST,
        "/api/v1/conversations/bulk",
        &other.token,
    )
    .json(&json!({"conversation_ids": [c.to_string()], "action": "resolve"}))
    .send()
    .await
    .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["failed"][0]["code"], "not_found");
    // Their lists, events and search show nothing of ours.
    for path in [
        "/api/v1/conversations",
        "/api/v1/labels",
        "/api/v1/canned-responses",
        "/api/v1/events",
        "/api/v1/search?q=secret",
        "/api/v1/search?q=Hello",
    ] {
        let v: Value = bearer(&o.app, Method::GET, path, &other.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = v["data"].as_array().unwrap();
        assert!(
            data.iter()
                .all(|d| !d.to_string().contains(&c.to_string()) && d["name"] != "Mine"),
            "{path}: {v}"
        );
    }
    // Nothing changed on our side.
    let (_, v) = call(&o, Method::GET, &format!("/api/v1/conversations/{c}"), None).await;
    assert_eq!(v["status"], "open");
    assert_eq!(v["label_ids"], json!([]));
}

async fn canned_responses_fill_in_contact_and_agent(o: Outbound) {
    let t = o.thread(ChannelKind::WhatsApp, "PN1", "15550009").await;
    let key = "canned-1";
    let post = || {
        o.api(Method::POST, "/api/v1/canned-responses")
            .header("idempotency-key", key)
            .json(&json!({"shortcut": "/Thanks", "body": "Hi {{contact.name}}, {{agent.name}} here. {{unknown}}"}))
            .send()
    };
    let a: Value = post().await.unwrap().json().await.unwrap();
    let b: Value = post().await.unwrap().json().await.unwrap();
    assert_eq!(a["id"], b["id"]);
    assert_eq!(a["shortcut"], "thanks");
    let (s, v) = call(
        &o,
        Method::POST,
        "/api/v1/canned-responses",
        Some(json!({"shortcut": "thanks", "body": "again"})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("shortcut_exists"))
    );
    let (s, v) = call(
        &o,
        Method::POST,
        "/api/v1/canned-responses",
        Some(json!({"shortcut": "two words", "body": "x"})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_shortcut"))
    );
    let id = a["id"].as_str().unwrap();
    let path = format!(
        "/api/v1/canned-responses/{id}/rendered?conversation_id={}",
        t.conversation
    );
    let r = seed::browser(&o.app, Method::GET, &path, &o.seeded.owner)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["text"], "Hi Customer 15550009, owner here. {{unknown}}");
    // A token has no name.
    let (_, v) = call(&o, Method::GET, &path, None).await;
    assert_eq!(v["text"], "Hi Customer 15550009,  here. {{unknown}}");
    let (_, list) = call(&o, Method::GET, "/api/v1/canned-responses", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

async fn search_finds_messages_and_contacts_of_the_workspace_only(o: Outbound) {
    let ws = o.seeded.ws;
    let conn = o.connect(ws, ChannelKind::WhatsApp, "PN1").await;
    let a = o
        .inbound(
            ws,
            conn,
            ChannelKind::WhatsApp,
            "PN1",
            "15550001",
            "Where are my blue suede shoes?",
        )
        .await;
    o.inbound(
        ws,
        conn,
        ChannelKind::WhatsApp,
        "PN1",
        "15550002",
        "Refund please",
    )
    .await;
    let other = seed_workspace(&o.app, "globex").await;
    let theirs = o.connect(other.ws, ChannelKind::WhatsApp, "PN2").await;
    o.inbound(
        other.ws,
        theirs,
        ChannelKind::WhatsApp,
        "PN2",
        "15550003",
        "blue suede shoes for sale",
    )
    .await;

    let (s, v) = call(&o, Method::GET, "/api/v1/search?q=Blue%20SUE", None).await;
    assert_eq!(s, 200, "{v}");
    let hits = v["data"].as_array().unwrap();
    let messages: Vec<&Value> = hits.iter().filter(|h| h["type"] == "message").collect();
    assert_eq!(messages.len(), 1, "{v}");
    assert_eq!(messages[0]["conversation_id"], a.conversation.to_string());
    assert!(messages[0]["text"].as_str().unwrap().contains("suede"));
    // Query syntax is just words.
    for q in ["%22", "shoes%22%20OR", "*", "NOT%20shoes", "a%26b%7C!c"] {
        let (s, v) = call(&o, Method::GET, &format!("/api/v1/search?q={q}"), None).await;
        assert_eq!(s, 200, "{q}: {v}");
    }
    // Contacts by name.
    let (_, v) = call(&o, Method::GET, "/api/v1/search?q=15550002", None).await;
    let contact = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["type"] == "contact")
        .cloned()
        .unwrap();
    assert_eq!(contact["contact_name"], "Customer 15550002");
    assert!(contact["conversation_id"].is_string());
    let (s, v) = call(&o, Method::GET, "/api/v1/search", None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_query"))
    );
    // Erasing the message takes it out of the index.
    o.app
        .store
        .execute_admin(&format!("DELETE FROM messages WHERE id = '{}'", a.inbound))
        .await
        .unwrap();
    let (_, v) = call(&o, Method::GET, "/api/v1/search?q=suede", None).await;
    assert!(
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["type"] != "message"),
        "{v}"
    );
}

/// Reads SSE frames from `response` until one names `conversation` with `kind`; returns its id.
pub async fn await_event(
    response: &mut reqwest::Response,
    buffer: &mut String,
    kind: &str,
    conversation: ConversationId,
) -> i64 {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                frame
                    .lines()
                    .find_map(|l| l.strip_prefix(name).map(str::trim).map(str::to_owned))
            };
            if field("event:").as_deref() == Some(kind)
                && field("data:").is_some_and(|d| d.contains(&conversation.to_string()))
            {
                return field("id:").unwrap().parse().unwrap();
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("event in time")
            .unwrap()
            .expect("stream open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn event_stream_delivers_live_and_resumes_after_a_drop(o: Outbound) {
    let ws = o.seeded.ws;
    let conn = o.connect(ws, ChannelKind::WhatsApp, "PN1").await;
    let mut stream = o
        .api(Method::GET, "/api/v1/events/stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut buffer = String::new();
    let t = o
        .inbound(ws, conn, ChannelKind::WhatsApp, "PN1", "15550001", "live?")
        .await;
    let seen = await_event(&mut stream, &mut buffer, "message.created", t.conversation).await;
    drop(stream);
    // While the client is away: two more changes.
    let t2 = o
        .inbound(
            ws,
            conn,
            ChannelKind::WhatsApp,
            "PN1",
            "15550002",
            "missed one",
        )
        .await;
    let (s, _) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{}/status", t.conversation),
        Some(json!({"status": "resolved"})),
    )
    .await;
    assert_eq!(s, 200);
    let mut resumed = o
        .api(Method::GET, "/api/v1/events/stream")
        .header("last-event-id", seen.to_string())
        .send()
        .await
        .unwrap();
    let mut buffer = String::new();
    let a = await_event(
        &mut resumed,
        &mut buffer,
        "message.created",
        t2.conversation,
    )
    .await;
    let b = await_event(
        &mut resumed,
        &mut buffer,
        "conversation.updated",
        t.conversation,
    )
    .await;
    assert!(seen < a && a < b, "{seen} {a} {b}");
    // `?after=` does the same; a bad cursor is refused.
    let (s, v) = call(&o, Method::GET, "/api/v1/events/stream?after=x", None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_cursor"))
    );
}

async fn bulk_actions_report_each_conversation(o: Outbound) {
    let ws = o.seeded.ws;
    let conn = o.connect(ws, ChannelKind::WhatsApp, "PN1").await;
    let a = o
        .inbound(ws, conn, ChannelKind::WhatsApp, "PN1", "15550001", "a")
        .await;
    let b = o
        .inbound(ws, conn, ChannelKind::WhatsApp, "PN1", "15550002", "b")
        .await;
    let unknown = ConversationId::new();
    let (s, v) = call(&o, Method::POST, "/api/v1/conversations/bulk", Some(json!({
        "conversation_ids": [a.conversation.to_string(), b.conversation.to_string(), unknown.to_string()],
        "action": "resolve"}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["done"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["failed"],
        json!([{"id": unknown.to_string(), "code": "not_found"}])
    );
    let owner = o.seeded.owner.id.to_string();
    let (_, v) = call(&o, Method::POST, "/api/v1/conversations/bulk", Some(json!({
        "conversation_ids": [a.conversation.to_string()], "action": "assign", "assignee_user_id": owner}))).await;
    assert_eq!(v["done"].as_array().unwrap().len(), 1);
    let (_, v) = call(
        &o,
        Method::GET,
        &format!("/api/v1/conversations/{}", a.conversation),
        None,
    )
    .await;
    assert_eq!(
        (v["status"].as_str(), v["assignee_user_id"].as_str()),
        (Some("resolved"), Some(owner.as_str()))
    );
    for bad in [
        json!({"conversation_ids": [], "action": "resolve"}),
        json!({"conversation_ids": ["x"], "action": "resolve"}),
        json!({"conversation_ids": [a.conversation.to_string()], "action": "explode"}),
    ] {
        let (s, _) = call(&o, Method::POST, "/api/v1/conversations/bulk", Some(bad)).await;
        assert_eq!(s, 422);
    }
}
