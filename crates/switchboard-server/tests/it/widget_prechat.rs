//! The widget's pre-chat email: a per-widget setting (`prechat_email`: off by default,
//! optional or required) set when the widget is made or later (API and Settings > Channels);
//! the email checked by the server, stored on the visitor's contact in the transaction of
//! their message (never replacing an email an agent recorded), shown to agents, in the
//! visitor's download, deleted with the visitor's conversation, and seen by no other widget or
//! workspace. Every test runs on both backends.

use crate::TestApp;
use crate::app_tests;
use crate::seed;
use crate::widget::{ORIGIN, W, code, connect_widget, widget};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

app_tests!(
    the_prechat_email_is_off_by_default,
    a_required_email_refuses_a_first_message_without_a_valid_one,
    the_email_is_stored_on_the_contact_and_shown_to_agents,
    an_email_an_agent_recorded_is_kept,
    the_setting_is_changed_on_the_channels_page,
    deleting_the_conversation_deletes_the_email,
    another_widget_or_workspace_cannot_see_the_email,
);

/// Sets the widget's `prechat_email` through the API; the answer's status and body.
async fn set_prechat(w: &W, value: &str) -> (StatusCode, Value) {
    let r = seed::bearer(
        &w.app,
        Method::PATCH,
        &format!("/api/v1/channels/{}", w.connection),
        &w.ws.token,
    )
    .json(&json!({ "prechat_email": value }))
    .send()
    .await
    .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn send_with_email(
    w: &W,
    token: &str,
    id: &str,
    text: &str,
    email: &str,
) -> (StatusCode, Value) {
    let r = w
        .call(Method::POST, "/messages")
        .bearer_auth(token)
        .json(&json!({"id": id, "text": text, "email": email}))
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

/// The email on the visitor's contact, read through the agents' API.
async fn contact_email(w: &W, visitor_id: &str) -> Option<String> {
    let contact = w.contact(visitor_id).await?;
    let r = seed::bearer(
        &w.app,
        Method::GET,
        &format!("/api/v1/contacts/{contact}"),
        &w.ws.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["email"].as_str().map(str::to_owned)
}

async fn transcript(w: &W, token: &str, format: &str) -> String {
    let r = w
        .call(Method::GET, &format!("/transcript?format={format}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

async fn the_prechat_email_is_off_by_default(app: TestApp) {
    let w = widget(app).await;
    let r = seed::bearer(
        &w.app,
        Method::GET,
        &format!("/api/v1/channels/{}", w.connection),
        &w.ws.token,
    )
    .send()
    .await
    .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["settings"]["prechat_email"], "off");
    // The browser is told, by the session and by the script.
    let r = w.call(Method::POST, "/session").send().await.unwrap();
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["widget"]["prechat_email"], "off");
    let token = s["token"].as_str().unwrap().to_owned();
    let visitor_id = s["visitor_id"].as_str().unwrap().to_owned();
    let script = w
        .app
        .api()
        .get(w.app.at(&format!("/widget/{}.js", w.key)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(script.contains(r#""prechat_email":"off""#), "{script}");
    // A first message needs no email, and an email sent anyway is not kept.
    let (status, v) = send_with_email(&w, &token, "1", "Hi", "ana@shop.example").await;
    assert_eq!(status, 201, "{v}");
    assert!(v.get("email").is_none(), "{v}");
    assert_eq!(contact_email(&w, &visitor_id).await, None);
    assert!(
        switchboard_store::testing::columns_containing(&w.app.store, "ana@shop.example")
            .await
            .is_empty()
    );
    // A widget made with a value the setting does not know is refused.
    let r = seed::bearer(&w.app, Method::POST, "/api/v1/channels", &w.ws.token)
        .json(&json!({"kind": "widget", "domains": ["shop.example"], "prechat_email": "maybe"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(code(&v), "invalid_prechat_email");
    assert_eq!(v["error"]["field"], "prechat_email");
}

async fn a_required_email_refuses_a_first_message_without_a_valid_one(app: TestApp) {
    let w = widget(app).await;
    let (status, v) = set_prechat(&w, "sometimes").await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(code(&v), "invalid_prechat_email");
    let (status, v) = set_prechat(&w, "required").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["settings"]["prechat_email"], "required");
    // The other settings are untouched.
    assert_eq!(v["settings"]["greeting"], "Hello there!");
    assert_eq!(
        v["settings"]["domains"],
        json!(["shop.example", "localhost:3000"])
    );

    let (token, visitor_id) = w.visitor().await;
    let (status, v) = w.send(&token, "1", "Hello?").await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(code(&v), "email_required");
    assert_eq!(v["error"]["field"], "email");
    for bad in [
        "",
        "   ",
        "not-an-email",
        "ana@",
        "ana@shop",
        "a b@shop.example",
    ] {
        let (status, v) = send_with_email(&w, &token, "1", "Hello?", bad).await;
        assert_eq!(status, 422, "{bad}: {v}");
        let expected = if bad.trim().is_empty() {
            "email_required"
        } else {
            "invalid_email"
        };
        assert_eq!(code(&v), expected, "{bad}");
        assert_eq!(v["error"]["field"], "email");
    }
    // A file cannot be the first message either (it carries no email).
    let r = w
        .call(Method::POST, "/attachments?id=f1&name=note.txt")
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(code(&v), "email_required");
    // Nothing was stored by the refusals.
    assert_eq!(w.message_count().await, 0);
    assert!(w.contact(&visitor_id).await.is_none());

    let (status, v) = send_with_email(&w, &token, "1", "Hello?", " Ana@Shop.Example ").await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["email"], "saved");
    assert_eq!(
        contact_email(&w, &visitor_id).await.as_deref(),
        Some("ana@shop.example")
    );
    // Once the visitor has written, later messages need no email.
    let (status, v) = w.send(&token, "2", "Still there?").await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(w.message_count().await, 2);
}

async fn the_email_is_stored_on_the_contact_and_shown_to_agents(app: TestApp) {
    let w = widget(app).await;
    let (status, _) = set_prechat(&w, "optional").await;
    assert_eq!(status, 200);
    // Optional: a visitor may skip it.
    let (bob, bob_id) = w.visitor().await;
    let (status, v) = w.send(&bob, "1", "No email from me").await;
    assert_eq!(status, 201, "{v}");
    assert!(v.get("email").is_none());
    assert_eq!(contact_email(&w, &bob_id).await, None);
    // But what is given is checked.
    let (ana, ana_id) = w.visitor().await;
    let (status, v) = send_with_email(&w, &ana, "1", "Hi", "nope").await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_email")
    );
    let (status, v) = send_with_email(&w, &ana, "1", "Hi", "ana@shop.example").await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["email"], "saved");
    assert_eq!(
        contact_email(&w, &ana_id).await.as_deref(),
        Some("ana@shop.example")
    );
    // A retry of the same message is one message and changes nothing.
    let (status, v) = send_with_email(&w, &ana, "1", "Hi", "other@shop.example").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["duplicate"], true);
    assert_eq!(
        contact_email(&w, &ana_id).await.as_deref(),
        Some("ana@shop.example")
    );

    // The inbox shows it beside the conversation.
    let conversation = w.conversation_of(&ana_id).await;
    let r = seed::browser(
        &w.app,
        Method::GET,
        &format!("/?c={conversation}"),
        &w.ws.owner,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("mailto:ana@shop.example"), "{html}");
    // The contact page too.
    let contact = w.contact(&ana_id).await.unwrap();
    let html = seed::browser(
        &w.app,
        Method::GET,
        &format!("/contacts/{contact}"),
        &w.ws.owner,
    )
    .send()
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(html.contains(r#"value="ana@shop.example""#), "{html}");

    // The visitor's download carries it, in both formats; Bob's has none.
    let json_transcript: Value = serde_json::from_str(&transcript(&w, &ana, "json").await).unwrap();
    assert_eq!(json_transcript["email"], "ana@shop.example");
    let text = transcript(&w, &ana, "text").await;
    assert!(text.contains("Your email: ana@shop.example"), "{text}");
    let bobs: Value = serde_json::from_str(&transcript(&w, &bob, "json").await).unwrap();
    assert_eq!(bobs["email"], Value::Null);
}

async fn an_email_an_agent_recorded_is_kept(app: TestApp) {
    let w = widget(app).await;
    // Ana writes while the widget does not ask; an agent records her address.
    let (ana, ana_id) = w.visitor().await;
    let (status, _) = w.send(&ana, "1", "Hi").await;
    assert_eq!(status, 201);
    let contact = w.contact(&ana_id).await.unwrap();
    let r = seed::bearer(
        &w.app,
        Method::PATCH,
        &format!("/api/v1/contacts/{contact}"),
        &w.ws.token,
    )
    .json(&json!({"email": "ana@work.example"}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    // Now the widget asks; what Ana types does not replace the agent's address, and the
    // answer says so.
    let (status, _) = set_prechat(&w, "optional").await;
    assert_eq!(status, 200);
    let (status, v) = send_with_email(&w, &ana, "2", "Again", "ana@home.example").await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["email"], "kept");
    assert_eq!(
        contact_email(&w, &ana_id).await.as_deref(),
        Some("ana@work.example")
    );
    assert!(
        switchboard_store::testing::columns_containing(&w.app.store, "ana@home.example")
            .await
            .is_empty()
    );
}

async fn the_setting_is_changed_on_the_channels_page(app: TestApp) {
    let w = widget(app).await;
    let page = |w: &W| seed::browser(&w.app, Method::GET, "/settings/channels", &w.ws.owner).send();
    let html = page(&w).await.unwrap().text().await.unwrap();
    let select = format!(
        r#"<select id="prechat-{}" name="prechat_email">"#,
        w.connection
    );
    assert!(html.contains(&select), "{html}");
    assert!(html.contains(r#"<option value="off" selected>"#), "{html}");
    // A plain form post (no JavaScript) changes it.
    let r = w
        .app
        .api()
        .post(
            w.app
                .at(&format!("/settings/channels/{}/widget", w.connection)),
        )
        .header("cookie", &w.ws.owner.cookie)
        .form(&[
            ("csrf_token", w.ws.owner.csrf.as_str()),
            ("prechat_email", "required"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"<option value="required" selected>"#),
        "{html}"
    );
    let s: Value = w
        .call(Method::POST, "/session")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["widget"]["prechat_email"], "required");
    // Without the CSRF token nothing changes.
    let r = w
        .app
        .api()
        .post(
            w.app
                .at(&format!("/settings/channels/{}/widget", w.connection)),
        )
        .header("cookie", &w.ws.owner.cookie)
        .form(&[("prechat_email", "off")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let (status, v) = set_prechat(&w, "required").await;
    assert_eq!(
        (status, &v["settings"]["prechat_email"]),
        (StatusCode::OK, &json!("required"))
    );
}

async fn deleting_the_conversation_deletes_the_email(app: TestApp) {
    let w = widget(app).await;
    set_prechat(&w, "required").await;
    let (ana, ana_id) = w.visitor().await;
    let (status, v) = send_with_email(&w, &ana, "1", "Forget me", "forget.me@shop.example").await;
    assert_eq!(status, 201, "{v}");
    let contact = w.contact(&ana_id).await.unwrap();
    assert!(
        !switchboard_store::testing::columns_containing(&w.app.store, "forget.me@shop.example")
            .await
            .is_empty(),
        "stored before the deletion"
    );
    let r = w
        .call(Method::DELETE, "/conversation")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(matches!(
        w.app.store.contact(w.ws.ws, contact).await,
        Err(switchboard_store::StoreError::NotFound)
    ));
    let rows =
        switchboard_store::testing::columns_containing(&w.app.store, "forget.me@shop.example")
            .await;
    assert!(rows.is_empty(), "{rows:?}");
}

async fn another_widget_or_workspace_cannot_see_the_email(app: TestApp) {
    let w = widget(app).await;
    set_prechat(&w, "required").await;
    let (ana, ana_id) = w.visitor().await;
    let (status, _) = send_with_email(&w, &ana, "1", "Hi", "ana@shop.example").await;
    assert_eq!(status, 201);
    // Another widget of the same workspace: Ana's token is unknown there.
    let (other_key, _) = connect_widget(&w.app, &w.ws, &["shop.example"]).await;
    let r = w
        .call_on(&other_key, Method::GET, "/transcript")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Another visitor of the same widget downloads no email.
    let (bob, _) = w.visitor().await;
    let (status, _) = send_with_email(&w, &bob, "1", "Hi", "bob@shop.example").await;
    assert_eq!(status, 201);
    let text = transcript(&w, &bob, "text").await;
    assert!(!text.contains("ana@shop.example"), "{text}");
    assert!(text.contains("bob@shop.example"), "{text}");
    // Another workspace: neither its widget nor its agents' API know Ana.
    let other = seed::seed_workspace(&w.app, "globex").await;
    let (globex_key, _) = connect_widget(&w.app, &other, &["shop.example"]).await;
    let r = w
        .app
        .api()
        .request(
            Method::GET,
            w.app.at(&format!("/widget/v1/{globex_key}/transcript")),
        )
        .header("origin", ORIGIN)
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = seed::bearer(
        &w.app,
        Method::GET,
        "/api/v1/contacts?q=ana%40shop.example",
        &other.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"], json!([]), "{v}");
    let contact = w.contact(&ana_id).await.unwrap();
    let r = seed::bearer(
        &w.app,
        Method::GET,
        &format!("/api/v1/contacts/{contact}"),
        &other.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    // The workspace's own agents do find her by it.
    let r = seed::bearer(
        &w.app,
        Method::GET,
        "/api/v1/contacts?q=ana%40shop.example",
        &w.ws.token,
    )
    .send()
    .await
    .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1), "{v}");
    // And another workspace cannot change the widget's setting.
    let r = seed::bearer(
        &w.app,
        Method::PATCH,
        &format!("/api/v1/channels/{}", w.connection),
        &other.token,
    )
    .json(&json!({"prechat_email": "off"}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
}
