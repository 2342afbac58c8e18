//! The website chat widget's public API, as a visitor's browser on an operator's site uses
//! it: CORS limited to the widget's domains, visitor sessions, exactly-once sends through the
//! ingest path, live replies by long-poll, delivery and read marks, rate limits, and the
//! visitor's own download and deletion of their conversation. Every test runs on both
//! backends.

use crate::TestApp;
use crate::app_tests;
use crate::seed::{self, Seeded};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use switchboard_core::channel::ChannelKind;
use switchboard_core::{ConnectionId, ContactId, MessageId};
use switchboard_store::messages::MessageStatus;

app_tests!(
    an_allowed_origin_gets_cors_headers_and_its_preflight_answered,
    other_origins_and_callers_without_one_are_refused_with_a_code,
    a_retried_send_stores_one_message,
    a_visitor_message_goes_through_ingest_as_a_widget_contact,
    an_agent_reply_wakes_the_visitors_long_poll_and_is_marked_delivered_then_read,
    a_visitor_cannot_reach_another_visitors_or_workspaces_conversation,
    a_disconnected_widget_refuses_everything,
    bad_input_is_a_4xx_with_a_code_and_stores_nothing,
    sends_are_rate_limited_per_visitor,
    the_download_holds_only_the_visitors_own_conversation,
    deleting_the_conversation_erases_it_and_ends_the_token,
    the_script_is_cacheable_with_an_etag_and_carries_the_settings,
    the_channels_page_shows_the_embed_snippet,
    a_waiting_poll_answers_at_once_when_the_server_stops,
    files_go_both_ways_with_links_only_the_visitor_is_given,
    a_visitor_file_is_checked_before_anything_is_stored,
);

pub(crate) const ORIGIN: &str = "https://shop.example";

pub(crate) struct W {
    pub(crate) app: TestApp,
    pub(crate) ws: Seeded,
    pub(crate) key: String,
    pub(crate) connection: ConnectionId,
}

/// A workspace with a widget allowed on shop.example and localhost:3000.
pub(crate) async fn widget(app: TestApp) -> W {
    let ws = seed::seed_workspace(&app, "acme").await;
    let (key, connection) = connect_widget(&app, &ws, &["shop.example", "localhost:3000"]).await;
    W {
        app,
        ws,
        key,
        connection,
    }
}

pub(crate) async fn connect_widget(
    app: &TestApp,
    ws: &Seeded,
    domains: &[&str],
) -> (String, ConnectionId) {
    let r = seed::bearer(app, Method::POST, "/api/v1/channels", &ws.token)
        .json(
            &json!({"kind": "widget", "domains": domains, "colour": "#112233",
            "greeting": "Hello there!", "name": "Acme chat"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    (
        v["account_id"].as_str().unwrap().to_owned(),
        v["id"].as_str().unwrap().parse().unwrap(),
    )
}

impl W {
    pub(crate) fn call(&self, method: Method, path: &str) -> RequestBuilder {
        self.call_on(&self.key, method, path)
    }

    pub(crate) fn call_on(&self, key: &str, method: Method, path: &str) -> RequestBuilder {
        self.app
            .api()
            .request(method, self.app.at(&format!("/widget/v1/{key}{path}")))
            .header("origin", ORIGIN)
    }

    /// A new visitor: (token, visitor id).
    pub(crate) async fn visitor(&self) -> (String, String) {
        let r = self.call(Method::POST, "/session").send().await.unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        (
            v["token"].as_str().unwrap().to_owned(),
            v["visitor_id"].as_str().unwrap().to_owned(),
        )
    }

    pub(crate) async fn send(&self, token: &str, id: &str, text: &str) -> (StatusCode, Value) {
        let r = self
            .call(Method::POST, "/messages")
            .bearer_auth(token)
            .json(&json!({"id": id, "text": text}))
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn list(&self, token: &str, query: &str) -> (StatusCode, Value) {
        let r = self
            .call(Method::GET, &format!("/messages{query}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// The conversation of the visitor's contact, through the agents' API.
    pub(crate) async fn conversation_of(&self, visitor_id: &str) -> String {
        let contact = self.contact(visitor_id).await.unwrap();
        let r = seed::bearer(
            &self.app,
            Method::GET,
            &format!(
                "/api/v1/conversations?channel=widget&connection_id={}",
                self.connection
            ),
            &self.ws.token,
        )
        .send()
        .await
        .unwrap();
        let v: Value = r.json().await.unwrap();
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["contact_id"] == json!(contact.to_string()))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub(crate) async fn contact(&self, visitor_id: &str) -> Option<ContactId> {
        self.app
            .store
            .contact_by_identity(self.ws.ws, self.connection, visitor_id)
            .await
            .unwrap()
    }

    /// An agent's reply through the API; its message id.
    pub(crate) async fn reply(&self, conversation: &str, text: &str) -> String {
        let r = seed::bearer(
            &self.app,
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            &self.ws.token,
        )
        .json(&json!({"text": text}))
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 202);
        let v: Value = r.json().await.unwrap();
        v["id"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn message_count(&self) -> i64 {
        self.app
            .store
            .message_count(self.ws.ws, self.connection)
            .await
            .unwrap()
    }
}

pub(crate) fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}

fn texts(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

async fn an_allowed_origin_gets_cors_headers_and_its_preflight_answered(app: TestApp) {
    let w = widget(app).await;
    for origin in [ORIGIN, "http://localhost:3000"] {
        let r = w
            .app
            .api()
            .request(
                Method::OPTIONS,
                w.app.at(&format!("/widget/v1/{}/messages", w.key)),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{origin}");
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], origin);
        assert!(
            h["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("POST")
        );
        let allowed = h["access-control-allow-headers"].to_str().unwrap();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"));
        assert_eq!(h["vary"], "Origin");
    }
    let r = w.call(Method::POST, "/session").send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    let v: Value = r.json().await.unwrap();
    assert!(v["token"].as_str().unwrap().starts_with("sbw_"));
    assert_eq!(v["widget"]["greeting"], "Hello there!");
    assert_eq!(v["widget"]["colour"], "#112233");
    // Errors to an allowed origin are readable by the page too.
    let r = w.call(Method::GET, "/messages").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
}

async fn other_origins_and_callers_without_one_are_refused_with_a_code(app: TestApp) {
    let w = widget(app).await;
    let url = w.app.at(&format!("/widget/v1/{}/session", w.key));
    for origin in [
        "https://evil.example",
        "http://shop.example",
        "https://shop.example:8443",
        "https://sub.shop.example",
        "http://localhost:3001",
        "null",
    ] {
        for method in [Method::OPTIONS, Method::POST] {
            let r = w
                .app
                .api()
                .request(method.clone(), &url)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{method} from {origin}");
            assert!(!r.headers().contains_key("access-control-allow-origin"));
            let v: Value = r.json().await.unwrap();
            assert_eq!(code(&v), "origin_not_allowed");
        }
    }
    let r = w.app.api().post(&url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(code(&r.json().await.unwrap()), "origin_required");
    // A cross-site browser request without Origin is no better.
    let r = w
        .app
        .api()
        .post(&url)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = w
        .call_on("wgt_nope", Method::POST, "/session")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(code(&r.json().await.unwrap()), "widget_not_found");
    assert_eq!(
        w.app
            .store
            .widget_visitor_count(w.ws.ws, w.connection)
            .await
            .unwrap(),
        0
    );
}

async fn a_retried_send_stores_one_message(app: TestApp) {
    let w = widget(app).await;
    let (token, _) = w.visitor().await;
    let send = || w.send(&token, "msg-1", "Where is my order?");
    let (a, b, c, d, e) = tokio::join!(send(), send(), send(), send(), send());
    let answers = [a, b, c, d, e];
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let again = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!((created, again), (1, 4), "{answers:?}");
    let ids: std::collections::HashSet<_> = answers
        .iter()
        .map(|(_, v)| v["message"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1);
    assert!(answers.iter().any(|(_, v)| v["duplicate"] == json!(true)));
    assert_eq!(w.message_count().await, 1);
    // A later retry of the same id is still the same message; a new id is a new one.
    let (s, v) = w.send(&token, "msg-1", "Where is my order?").await;
    assert_eq!((s.as_u16(), v["duplicate"].clone()), (200, json!(true)));
    let (s, _) = w.send(&token, "msg-2", "Hello?").await;
    assert_eq!(s, 201);
    assert_eq!(w.message_count().await, 2);
}

async fn a_visitor_message_goes_through_ingest_as_a_widget_contact(app: TestApp) {
    let w = widget(app).await;
    let (token, visitor_id) = w.visitor().await;
    assert!(
        w.contact(&visitor_id).await.is_none(),
        "no contact before writing"
    );
    let (s, v) = w.send(&token, "a1", "  Hi there  ").await;
    assert_eq!(s, 201);
    assert_eq!(v["message"]["text"], "Hi there");
    assert_eq!(v["message"]["from"], "visitor");
    let contact = w.contact(&visitor_id).await.unwrap();
    let c = w.app.store.contact(w.ws.ws, contact).await.unwrap();
    assert_eq!(c.identities.len(), 1);
    assert_eq!(c.identities[0].kind, ChannelKind::Widget);
    assert_eq!(c.identities[0].external_id, visitor_id);
    let conversation = w.conversation_of(&visitor_id).await;
    let r = seed::bearer(
        &w.app,
        Method::GET,
        &format!("/api/v1/conversations/{conversation}/messages"),
        &w.ws.token,
    )
    .send()
    .await
    .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"][0]["direction"], "inbound");
    assert_eq!(v["data"][0]["text"], "Hi there");
    assert_eq!(
        v["data"][0]["external_id"],
        json!(format!("{visitor_id}:a1"))
    );
    // A second message joins the same conversation and contact.
    w.send(&token, "a2", "Anyone?").await;
    assert_eq!(w.conversation_of(&visitor_id).await, conversation);
    let (_, session) = {
        let r = w
            .call(Method::POST, "/session")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(session["visitor_id"], json!(visitor_id));
    assert_eq!(session["has_conversation"], json!(true));
    assert!(
        session.get("token").is_none(),
        "a resumed session shows no token"
    );
}

async fn an_agent_reply_wakes_the_visitors_long_poll_and_is_marked_delivered_then_read(
    app: TestApp,
) {
    let w = std::sync::Arc::new(widget(app).await);
    let (token, visitor_id) = w.visitor().await;
    let (_, sent) = w.send(&token, "q1", "Do you ship to Lisbon?").await;
    let (s, page) = w.list(&token, "").await;
    assert_eq!(s, 200);
    assert_eq!(texts(&page), vec!["Do you ship to Lisbon?"]);
    let cursor = page["cursor"].as_str().unwrap().to_owned();
    assert_eq!(cursor, sent["message"]["id"].as_str().unwrap());

    // The browser waits; nothing is new, so the answer is held until the agent replies.
    let waiting = {
        let w = w.clone();
        let token = token.clone();
        tokio::spawn(async move { w.list(&token, &format!("?after={cursor}&wait=30")).await })
    };
    let conversation = w.conversation_of(&visitor_id).await;
    // Reply only once the poll is parked, so the answer can only come from the wake-up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while w.app.state.widget_hub.waiting() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the poll never waited"
        );
        tokio::task::yield_now().await;
    }
    let started = std::time::Instant::now();
    let reply_id = w.reply(&conversation, "Yes, in 2 days.").await;
    let (s, page) = waiting.await.unwrap();
    assert_eq!(s, 200);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the long-poll answered because of the reply, not its timeout"
    );
    let reply = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == json!(reply_id))
        .expect("the reply is in the answer")
        .clone();
    assert_eq!(reply["from"], "business");
    assert_eq!(reply["text"], "Yes, in 2 days.");
    assert_eq!(reply["status"], "delivered");
    let id: MessageId = reply_id.parse().unwrap();
    let stored = w.app.store.message(w.ws.ws, id).await.unwrap();
    assert_eq!(stored.status, MessageStatus::Delivered);
    // The send job finds nothing to do for a reply the browser already has.
    w.app.drain_jobs().await;
    assert_eq!(
        w.app.store.message(w.ws.ws, id).await.unwrap().status,
        MessageStatus::Delivered
    );

    let r = w
        .call(Method::POST, "/read")
        .bearer_auth(&token)
        .json(&json!({"up_to": reply_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        w.app.store.message(w.ws.ws, id).await.unwrap().status,
        MessageStatus::Read
    );
    // A poll with nothing new and no wait answers at once with no newer message.
    let cursor = page["cursor"].as_str().unwrap();
    assert_eq!(cursor, reply_id);
    let (s, page) = w.list(&token, &format!("?after={cursor}")).await;
    assert_eq!(s, 200);
    assert!(
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["id"].as_str().unwrap() <= cursor)
    );
}

async fn a_visitor_cannot_reach_another_visitors_or_workspaces_conversation(app: TestApp) {
    let w = widget(app).await;
    let (ana, ana_id) = w.visitor().await;
    let (bob, bob_id) = w.visitor().await;
    w.send(&ana, "1", "Ana's secret order 1234").await;
    w.send(&bob, "1", "Bob here").await;
    let conversation = w.conversation_of(&ana_id).await;
    w.reply(&conversation, "Ana, your order ships today").await;
    // Each sees only their own conversation, even with the other's cursor.
    let (_, page) = w.list(&bob, "").await;
    assert_eq!(texts(&page), vec!["Bob here"]);
    let (_, ana_page) = w.list(&ana, "").await;
    assert_eq!(
        texts(&ana_page),
        vec!["Ana's secret order 1234", "Ana, your order ships today"]
    );
    let ana_first = ana_page["data"][0]["id"].as_str().unwrap();
    let (_, page) = w.list(&bob, &format!("?after={ana_first}")).await;
    assert_eq!(texts(&page), vec!["Bob here"]);
    // The same client message id from two visitors is two messages.
    assert_eq!(w.message_count().await, 3);
    assert_ne!(w.contact(&ana_id).await, w.contact(&bob_id).await);

    // Another workspace's widget knows neither token.
    let other = seed::seed_workspace(&w.app, "globex").await;
    let (other_key, _) = connect_widget(&w.app, &other, &["shop.example"]).await;
    for path in ["/messages", "/transcript"] {
        let r = w
            .call_on(&other_key, Method::GET, path)
            .bearer_auth(&ana)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(code(&r.json().await.unwrap()), "visitor_unknown");
    }
    let r = w
        .call_on(&other_key, Method::DELETE, "/conversation")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Nor does a second widget of the same workspace.
    let (second_key, _) = connect_widget(&w.app, &w.ws, &["shop.example"]).await;
    let r = w
        .call_on(&second_key, Method::GET, "/messages")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(w.message_count().await, 3);
}

async fn a_disconnected_widget_refuses_everything(app: TestApp) {
    let w = widget(app).await;
    let (token, _) = w.visitor().await;
    w.send(&token, "1", "Hello").await;
    let r = seed::bearer(
        &w.app,
        Method::DELETE,
        &format!("/api/v1/channels/{}", w.connection),
        &w.ws.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let (s, v) = w.send(&token, "2", "Still there?").await;
    assert_eq!(s, 410);
    assert_eq!(code(&v), "widget_disconnected");
    for (method, path) in [
        (Method::POST, "/session"),
        (Method::GET, "/messages"),
        (Method::GET, "/transcript"),
        (Method::DELETE, "/conversation"),
    ] {
        let r = w
            .call(method.clone(), path)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 410, "{method} {path}");
    }
    let r = w
        .app
        .api()
        .get(w.app.at(&format!("/widget/{}.js", w.key)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert_eq!(w.message_count().await, 1);
}

async fn bad_input_is_a_4xx_with_a_code_and_stores_nothing(app: TestApp) {
    let w = widget(app).await;
    let (token, _) = w.visitor().await;
    let post = |body: Vec<u8>| {
        w.call(Method::POST, "/messages")
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
    };
    let cases: Vec<(RequestBuilder, u16, &str)> = vec![
        (
            w.call(Method::POST, "/messages")
                .json(&json!({"id": "1", "text": "hi"})),
            401,
            "visitor_token_required",
        ),
        (
            w.call(Method::POST, "/messages")
                .bearer_auth("sbw_not-a-real-token")
                .json(&json!({"id": "1", "text": "hi"})),
            401,
            "visitor_unknown",
        ),
        (
            w.call(Method::POST, "/messages")
                .header("authorization", "Basic Zm9vOmJhcg==")
                .json(&json!({"id": "1", "text": "hi"})),
            401,
            "visitor_unknown",
        ),
        (
            post(br#"{"id": "1", "text": "   "}"#.to_vec()),
            422,
            "empty_text",
        ),
        (
            post(serde_json::to_vec(&json!({"id": "1", "text": "x".repeat(4097)})).unwrap()),
            422,
            "text_too_long",
        ),
        (
            post(br#"{"id": "a b", "text": "hi"}"#.to_vec()),
            422,
            "invalid_message_id",
        ),
        (
            post(br#"{"id": "", "text": "hi"}"#.to_vec()),
            422,
            "invalid_message_id",
        ),
        (
            post(serde_json::to_vec(&json!({"id": "x".repeat(65), "text": "hi"})).unwrap()),
            422,
            "invalid_message_id",
        ),
        (
            post(br#"{"id": "1", "text": "hi""#.to_vec()),
            400,
            "malformed_json",
        ),
        (
            post(br#"{"id": "1", "text": 5}"#.to_vec()),
            400,
            "invalid_body",
        ),
        (
            post(br#"{"id": "1", "text": "hi", "admin": true}"#.to_vec()),
            400,
            "invalid_body",
        ),
        (
            post(br#"{"id": "1", "text": "a\u0000b"}"#.to_vec()),
            400,
            "invalid_body",
        ),
        (post(vec![b' '; 64 * 1024]), 413, "payload_too_large"),
        (
            w.call(Method::POST, "/messages")
                .bearer_auth(&token)
                .body(r#"{"id": "1", "text": "hi"}"#),
            415,
            "unsupported_media_type",
        ),
        (
            w.call(Method::GET, "/messages?wait=99").bearer_auth(&token),
            422,
            "invalid_wait",
        ),
        (
            w.call(Method::GET, "/messages?after=nope")
                .bearer_auth(&token),
            422,
            "invalid_cursor",
        ),
        (
            w.call(Method::GET, "/messages?page=2").bearer_auth(&token),
            400,
            "invalid_query",
        ),
        (
            w.call(Method::GET, "/transcript?format=xml")
                .bearer_auth(&token),
            422,
            "invalid_format",
        ),
        (
            w.call(Method::POST, "/read")
                .bearer_auth(&token)
                .json(&json!({"up_to": "nope"})),
            422,
            "invalid_message_id",
        ),
    ];
    for (i, (request, status, expected)) in cases.into_iter().enumerate() {
        let r = request.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "case {i} ({expected})");
        let v: Value = r.json().await.unwrap();
        assert_eq!(code(&v), expected, "case {i}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    assert_eq!(w.message_count().await, 0);
    assert!(
        w.app
            .store
            .search_contacts(w.ws.ws, None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn sends_are_rate_limited_per_visitor(app: TestApp) {
    let w = widget(app).await;
    let (token, _) = w.visitor().await;
    for i in 0..20 {
        let (s, _) = w.send(&token, &format!("m{i}"), "spam?").await;
        assert_eq!(s, 201, "send {i}");
    }
    let r = w
        .call(Method::POST, "/messages")
        .bearer_auth(&token)
        .json(&json!({"id": "m20", "text": "one too many"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(code(&r.json().await.unwrap()), "too_many_requests");
    // Another visitor (same address) is not held back by this one.
    let (other, _) = w.visitor().await;
    assert_eq!(w.send(&other, "x", "hello").await.0, 201);
    assert_eq!(w.message_count().await, 21);
    // A minute later the visitor may write again.
    w.app.clock.advance(time::Duration::seconds(61));
    assert_eq!(w.send(&token, "m21", "sorry").await.0, 201);
}

async fn the_download_holds_only_the_visitors_own_conversation(app: TestApp) {
    let w = widget(app).await;
    let (ana, ana_id) = w.visitor().await;
    let (bob, _) = w.visitor().await;
    w.send(&ana, "1", "Ana asks about order 1234").await;
    w.send(&bob, "1", "Bob's private question").await;
    let conversation = w.conversation_of(&ana_id).await;
    w.reply(&conversation, "Order 1234 ships today").await;

    let r = w
        .call(Method::GET, "/transcript")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let body = r.text().await.unwrap();
    assert!(!body.contains("Bob"), "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["visitor_id"], json!(ana_id));
    assert_eq!(v["widget"], "Acme chat");
    let messages: Vec<(String, String)> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["from"].as_str().unwrap().to_owned(),
                m["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        messages,
        vec![
            ("visitor".to_owned(), "Ana asks about order 1234".to_owned()),
            ("business".to_owned(), "Order 1234 ships today".to_owned()),
        ]
    );
    let r = w
        .call(Method::GET, "/transcript?format=text")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    assert!(text.contains("You: Ana asks about order 1234"), "{text}");
    assert!(text.contains("Acme chat: Order 1234 ships today"), "{text}");
    assert!(!text.contains("Bob"));
    // A visitor who never wrote downloads an empty conversation.
    let (carol, _) = w.visitor().await;
    let v: Value = w
        .call(Method::GET, "/transcript")
        .bearer_auth(&carol)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["messages"], json!([]));
}

async fn deleting_the_conversation_erases_it_and_ends_the_token(app: TestApp) {
    let w = widget(app).await;
    let (ana, ana_id) = w.visitor().await;
    let (bob, bob_id) = w.visitor().await;
    w.send(&ana, "1", "Please forget me").await;
    w.send(&ana, "2", "My address is 1 Main St").await;
    w.send(&bob, "1", "I stay").await;
    let conversation = w.conversation_of(&ana_id).await;
    w.reply(&conversation, "Noted").await;
    let ana_contact = w.contact(&ana_id).await.unwrap();
    assert_eq!(w.message_count().await, 4);

    let r = w
        .call(Method::DELETE, "/conversation")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"messages": 3, "conversations": 1}));

    // Gone from the store: messages, conversation, identity, contact, visitor.
    assert_eq!(w.message_count().await, 1);
    assert!(w.contact(&ana_id).await.is_none());
    assert!(matches!(
        w.app.store.contact(w.ws.ws, ana_contact).await,
        Err(switchboard_store::StoreError::NotFound)
    ));
    let r = seed::bearer(
        &w.app,
        Method::GET,
        &format!("/api/v1/conversations/{conversation}"),
        &w.ws.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    // Nothing of Ana is left anywhere: not her words, not her visitor id.
    for needle in ["1 Main St", "Please forget me", ana_id.as_str()] {
        let rows = switchboard_store::testing::columns_containing(&w.app.store, needle).await;
        assert!(rows.is_empty(), "{needle}: {rows:?}");
    }
    // The token stops working at once.
    for (method, path) in [
        (Method::GET, "/messages"),
        (Method::POST, "/session"),
        (Method::DELETE, "/conversation"),
    ] {
        let r = w
            .call(method.clone(), path)
            .bearer_auth(&ana)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path}");
    }
    assert_eq!(
        w.app
            .store
            .widget_visitor_count(w.ws.ws, w.connection)
            .await
            .unwrap(),
        1
    );
    // The other visitor keeps everything.
    let (_, page) = w.list(&bob, "").await;
    assert_eq!(texts(&page), vec!["I stay"]);
    assert!(w.contact(&bob_id).await.is_some());
}

async fn the_script_is_cacheable_with_an_etag_and_carries_the_settings(app: TestApp) {
    let w = widget(app).await;
    let url = w.app.at(&format!("/widget/{}.js", w.key));
    let r = w.app.api().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        h["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=86400")
    );
    let etag = h["etag"].to_str().unwrap().to_owned();
    let body = r.text().await.unwrap();
    assert!(body.contains("function switchboardWidget"));
    assert!(body.contains(&format!("\"key\":\"{}\"", w.key)));
    assert!(body.contains("#112233") && body.contains("Hello there!"));
    assert!(body.contains(&format!("\"api\":\"{}\"", w.app.url)));
    let r = w
        .app
        .api()
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"], etag.as_str());
    let r = w
        .app
        .api()
        .get(w.app.at("/widget/wgt_unknown.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // No demo widget in this instance.
    let r = w
        .app
        .api()
        .get(w.app.at("/widget/demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

async fn the_channels_page_shows_the_embed_snippet(app: TestApp) {
    let w = widget(app).await;
    let html = seed::browser(&w.app, Method::GET, "/settings/channels", &w.ws.owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let snippet = format!(
        "&lt;script src=&#34;{}/widget/{}.js&#34; async&gt;&lt;/script&gt;",
        w.app.url, w.key
    );
    let alt = format!(
        "&lt;script src=\"{}/widget/{}.js\" async&gt;&lt;/script&gt;",
        w.app.url, w.key
    );
    assert!(html.contains(&snippet) || html.contains(&alt), "{html}");
}

async fn a_waiting_poll_answers_at_once_when_the_server_stops(app: TestApp) {
    let w = std::sync::Arc::new(widget(app).await);
    let (token, _) = w.visitor().await;
    let (_, sent) = w.send(&token, "1", "Hello").await;
    let cursor = sent["message"]["id"].as_str().unwrap().to_owned();
    let waiting = {
        let w = w.clone();
        tokio::spawn(async move { w.list(&token, &format!("?after={cursor}&wait=30")).await })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while w.app.state.widget_hub.waiting() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the poll never waited"
        );
        tokio::task::yield_now().await;
    }
    let started = std::time::Instant::now();
    w.app.state.widget_hub.close();
    let (s, page) = waiting.await.unwrap();
    assert_eq!(s, 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(
        texts(&page),
        vec!["Hello"],
        "nothing newer, only the overlap"
    );
}

/// A visitor's file: (status, answer).
async fn send_file(
    w: &W,
    token: &str,
    id: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let r = w
        .call(
            Method::POST,
            &format!("/attachments?id={id}&name=photo%20of%20order.png"),
        )
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn files_go_both_ways_with_links_only_the_visitor_is_given(app: TestApp) {
    let w = widget(app).await;
    let (token, visitor_id) = w.visitor().await;
    let photo = b"\x89PNG\r\n\x1a\nvisitor photo".to_vec();
    let (s, sent) = send_file(&w, &token, "f1", "image/png", photo.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    let link = sent["message"]["attachment"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sent["message"]["attachment"]["name"], "photo of order.png");
    // A retry with the same id is the same message, and writes no second file.
    let (s, again) = send_file(&w, &token, "f1", "image/png", photo.clone()).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["message"]["id"], sent["message"]["id"]);
    let dir = w
        .app
        .data_dir
        .path()
        .join("media")
        .join(w.ws.ws.to_string());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    // The link opens the visitor's file without any credential, as stored.
    let fetched = reqwest::get(&link).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), photo.as_slice());

    // The agents see it in the conversation as a stored attachment; no download is queued.
    let conversation = w.conversation_of(&visitor_id).await;
    let r = seed::bearer(
        &w.app,
        Method::GET,
        &format!("/api/v1/conversations/{conversation}/messages"),
        &w.ws.token,
    )
    .send()
    .await
    .unwrap();
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["data"][0]["content"]["type"], "media", "{list}");
    let jobs = w
        .app
        .store
        .jobs_in(w.ws.ws, switchboard_store::jobs::JobState::Pending, 100)
        .await
        .unwrap();
    assert!(jobs.iter().all(|j| j.kind != "media_download"), "{jobs:?}");

    // An agent's file reaches the visitor's list with a link of its own.
    let pdf = b"%PDF-1.4 invoice".to_vec();
    let r = seed::bearer(
        &w.app,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/attachments?filename=invoice.pdf"),
        &w.ws.token,
    )
    .header("content-type", "application/pdf")
    .body(pdf.clone())
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let (_, page) = w.list(&token, "").await;
    let reply = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["from"] == "business")
        .unwrap()
        .clone();
    assert_eq!(reply["attachment"]["name"], "invoice.pdf");
    let fetched = reqwest::get(reply["attachment"]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers()["content-disposition"], "attachment");
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), pdf.as_slice());

    // Deleting the conversation takes the files with it: the links open nothing.
    let r = w
        .call(Method::DELETE, "/conversation")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(reqwest::get(&link).await.unwrap().status(), 404);
}

async fn a_visitor_file_is_checked_before_anything_is_stored(app: TestApp) {
    let w = widget(app).await;
    let (token, _) = w.visitor().await;
    let big = {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        b.resize(10 * 1024 * 1024 + 10, 0);
        b
    };
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "text/html",
            b"<script>x</script>".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_media_type",
        ),
        (
            "image/png",
            b"GIF89a".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "file_type_mismatch",
        ),
        (
            "image/png",
            big,
            StatusCode::UNPROCESSABLE_ENTITY,
            "file_too_large",
        ),
    ];
    for (i, (content_type, bytes, status, code)) in cases.into_iter().enumerate() {
        let (s, body) = send_file(&w, &token, &format!("bad{i}"), content_type, bytes).await;
        assert_eq!(s, status, "{content_type}: {body}");
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    // Without a visitor token nothing is accepted.
    let r = w
        .call(Method::POST, "/attachments?id=x1")
        .header("content-type", "image/png")
        .body(b"\x89PNG\r\n\x1a\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let dir = w
        .app
        .data_dir
        .path()
        .join("media")
        .join(w.ws.ws.to_string());
    assert_eq!(std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0), 0);
    let (_, page) = w.list(&token, "").await;
    assert!(page["data"].as_array().unwrap().is_empty(), "{page}");
}
