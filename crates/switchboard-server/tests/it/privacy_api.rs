//! The privacy engine over HTTP: Meta's data-deletion callback (valid, forged, expired,
//! replayed, malformed, unlinked) and the public status page, erase requests through the API
//! ending `completed` with a receipt, and legal holds that keep data until released.

use crate::channel_tests;
use crate::channels_support::{Env, FB_PAGE, META_SECRET, WA_PHONE};
use crate::seed;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use switchboard_server::privacy::signed_request::sign;
use switchboard_store::connections::ConnectionStatus;
use switchboard_store::testing::columns_containing;

channel_tests!(
    meta_callback_disconnects_erases_and_reports_completed,
    meta_callback_refuses_forged_expired_and_malformed_and_changes_nothing,
    meta_callback_replayed_answers_the_same_code_and_creates_nothing,
    meta_callback_for_an_unknown_user_waits_for_an_admin,
    erase_request_through_the_api_completes_with_a_receipt,
    legal_hold_keeps_a_contact_until_released,
);

const META_USER: &str = "10158000000000001";

fn signed(user_id: &str, issued_at: i64, secret: &str) -> String {
    sign(
        &json!({"algorithm": "HMAC-SHA256", "expires": 0, "issued_at": issued_at, "user_id": user_id}),
        &SecretString::from(secret.to_owned()),
    )
}

fn now_s(env: &Env) -> i64 {
    env.app.state.clock.now().unix_timestamp()
}

async fn callback(env: &Env, path: &str, signed_request: &str) -> (u16, Value) {
    let r = env
        .http
        .post(env.app.at(path))
        .form(&[("signed_request", signed_request)])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn status_json(env: &Env, code: &str) -> Value {
    env.http
        .get(env.app.at(&format!("/privacy/deletion-status/{code}")))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn customer_writes(env: &Env, platform: &str, account: &str, sender: &str, text: &str) {
    let sent = env
        .inbound(
            json!({"platform": platform, "account": account, "sender": sender,
            "name": "Ada Canary", "text": text}),
        )
        .await;
    assert_eq!(sent["status"], 200, "{sent}");
}

async fn connection_status(env: &Env, account: &str) -> (ConnectionStatus, bool) {
    let c = env
        .app
        .store
        .connections(env.ws.ws)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.account_id == account)
        .unwrap();
    (c.status, c.has_credentials)
}

async fn meta_callback_disconnects_erases_and_reports_completed(env: Env) {
    env.connect_all().await;
    customer_writes(
        &env,
        "messenger",
        FB_PAGE,
        "6543210987654321",
        "messenger canary text 77",
    )
    .await;
    customer_writes(
        &env,
        "whatsapp",
        WA_PHONE,
        "15551234567",
        "whatsapp bystander text 88",
    )
    .await;
    let (status, body) = callback(
        &env,
        "/meta/data-deletion",
        &signed(META_USER, now_s(&env), META_SECRET),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let code = body["confirmation_code"].as_str().unwrap().to_owned();
    assert_eq!(
        body["url"],
        env.app.at(&format!("/privacy/deletion-status/{code}"))
    );
    // The token is gone at once, before any job ran.
    assert_eq!(
        connection_status(&env, FB_PAGE).await,
        (ConnectionStatus::Disconnected, false)
    );
    assert_eq!(
        connection_status(&env, WA_PHONE).await.0,
        ConnectionStatus::Active
    );
    assert_eq!(status_json(&env, &code).await["state"], "in_progress");

    env.app.drain_jobs().await;
    let s = status_json(&env, &code).await;
    assert_eq!(s["state"], "completed", "{s}");
    assert!(s["completed_at"].is_string());
    assert!(
        columns_containing(&env.app.store, "messenger canary text 77")
            .await
            .is_empty()
    );
    assert!(
        columns_containing(&env.app.store, META_USER)
            .await
            .is_empty()
    );
    // Another connection's data is untouched.
    assert!(
        !columns_containing(&env.app.store, "whatsapp bystander text 88")
            .await
            .is_empty()
    );
    // The human page.
    let html = env
        .http
        .get(env.app.at(&format!("/privacy/deletion-status/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 200);
    let text = html.text().await.unwrap();
    assert!(text.contains("Completed"), "{text}");
    assert!(text.contains(&code));
    let unknown = env
        .http
        .get(env.app.at("/privacy/deletion-status/nosuchcode"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

async fn meta_callback_refuses_forged_expired_and_malformed_and_changes_nothing(env: Env) {
    env.connect_all().await;
    let now = now_s(&env);
    for (bad, want_status, want_code) in [
        (
            signed(META_USER, now, "not-the-app-secret"),
            401,
            "invalid_signature",
        ),
        (
            signed(META_USER, now - 3 * 86_400, META_SECRET),
            400,
            "expired_signed_request",
        ),
        (
            signed(META_USER, now + 3600, META_SECRET),
            400,
            "expired_signed_request",
        ),
        ("garbage".to_owned(), 400, "malformed_signed_request"),
        ("a.b.c".to_owned(), 400, "malformed_signed_request"),
        (String::new(), 400, "malformed_signed_request"),
    ] {
        let (status, body) = callback(&env, "/meta/data-deletion", &bad).await;
        assert_eq!(status, want_status, "{bad}: {body}");
        assert_eq!(body["error"]["code"], want_code, "{bad}");
        let (status, _) = callback(&env, "/meta/deauthorize", &bad).await;
        assert_eq!(status, want_status);
    }
    // No form field at all.
    let r = env
        .http
        .post(env.app.at("/meta/data-deletion"))
        .body("nothing=here")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        connection_status(&env, FB_PAGE).await,
        (ConnectionStatus::Active, true)
    );
    assert!(
        env.app
            .store
            .privacy_requests(env.ws.ws, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        env.app
            .store
            .unlinked_privacy_requests()
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(env.app.drain_jobs().await, 0);
}

async fn meta_callback_replayed_answers_the_same_code_and_creates_nothing(env: Env) {
    env.connect_all().await;
    let request = signed(META_USER, now_s(&env), META_SECRET);
    let (s1, first) = callback(&env, "/meta/data-deletion", &request).await;
    let (s2, second) = callback(&env, "/meta/data-deletion", &request).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first["confirmation_code"], second["confirmation_code"]);
    // A fresh callback for the same user while the first is open: the same request too.
    env.app.clock.advance(time::Duration::minutes(5));
    let (_, third) = callback(
        &env,
        "/meta/data-deletion",
        &signed(META_USER, now_s(&env), META_SECRET),
    )
    .await;
    assert_eq!(first["confirmation_code"], third["confirmation_code"]);
    assert_eq!(
        env.app
            .store
            .privacy_requests(env.ws.ws, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Deauthorize disconnects (nothing left to disconnect here: answered, no error).
    let (status, body) = callback(&env, "/meta/deauthorize", &request).await;
    assert_eq!(status, 200, "{body}");
}

async fn meta_callback_for_an_unknown_user_waits_for_an_admin(env: Env) {
    env.connect_all().await;
    let (status, body) = callback(
        &env,
        "/meta/data-deletion",
        &signed("999000111", now_s(&env), META_SECRET),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let code = body["confirmation_code"].as_str().unwrap();
    let s = status_json(&env, code).await;
    assert_eq!(s["state"], "received");
    assert_eq!(s["needs_review"], true);
    let unlinked = env.app.store.unlinked_privacy_requests().await.unwrap();
    assert_eq!(unlinked.len(), 1);
    // It belongs to no workspace: a workspace admin's page does not show it.
    let page = seed::browser(&env.app, Method::GET, "/settings/privacy", &env.ws.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains(code), "{html}");
    // Nothing was guessed: every connection is as it was.
    assert_eq!(
        connection_status(&env, FB_PAGE).await,
        (ConnectionStatus::Active, true)
    );
    // The deauthorize callback of a known user disconnects their connection.
    let (status, body) = callback(
        &env,
        "/meta/deauthorize",
        &signed(META_USER, now_s(&env), META_SECRET),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["disconnected"], 1);
    assert_eq!(
        connection_status(&env, FB_PAGE).await,
        (ConnectionStatus::Disconnected, false)
    );
}

async fn contact_of(env: &Env, text: &str) -> String {
    env.messages()
        .await
        .into_iter()
        .find(|m| m.text.as_deref() == Some(text))
        .unwrap()
        .contact_id
        .to_string()
}

async fn erase_request_through_the_api_completes_with_a_receipt(env: Env) {
    env.connect_all().await;
    customer_writes(
        &env,
        "whatsapp",
        WA_PHONE,
        "15559990001",
        "please forget me 4242",
    )
    .await;
    customer_writes(&env, "whatsapp", WA_PHONE, "15559990002", "i stay 5353").await;
    let contact = contact_of(&env, "please forget me 4242").await;
    let api = |m: Method, p: &str| seed::bearer(&env.app, m, p, &env.ws.token);

    let bad = api(Method::POST, "/api/v1/privacy/requests")
        .json(&json!({"kind": "obliterate", "contact_id": contact}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let none = api(Method::POST, "/api/v1/privacy/requests")
        .json(&json!({"kind": "erase", "contact_id": uuid::Uuid::now_v7().to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 404);

    let r = api(Method::POST, "/api/v1/privacy/requests")
        .json(&json!({"kind": "erase", "contact_id": contact}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["state"], "in_progress");
    let id = created["id"].as_str().unwrap();
    env.app.drain_jobs().await;
    let got: Value = api(Method::GET, &format!("/api/v1/privacy/requests/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["state"], "completed", "{got}");
    assert_eq!(got["receipt"]["tables"]["messages"]["deleted"], 1);
    assert_eq!(got["receipt"]["residue_hits"], 0);
    assert_eq!(got["respond_by"], "2026-02-05");
    let list: Value = api(Method::GET, "/api/v1/privacy/requests")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(
        columns_containing(&env.app.store, "please forget me 4242")
            .await
            .is_empty()
    );
    assert!(
        columns_containing(&env.app.store, "15559990001")
            .await
            .is_empty()
    );
    assert!(
        !columns_containing(&env.app.store, "i stay 5353")
            .await
            .is_empty()
    );
    // Settings > Privacy lists it for an admin.
    let page = seed::browser(&env.app, Method::GET, "/settings/privacy", &env.ws.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(id) && html.contains("completed"), "{html}");
    // Completed is final.
    let again = api(
        Method::POST,
        &format!("/api/v1/privacy/requests/{id}/state"),
    )
    .json(&json!({"state": "refused", "reason": "too late"}))
    .send()
    .await
    .unwrap();
    assert_eq!(again.status(), 409);
    // The API is in the OpenAPI document.
    let doc = env.app.openapi().await;
    for path in [
        "/api/v1/privacy/requests",
        "/api/v1/privacy/requests/{id}",
        "/api/v1/privacy/holds",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}

async fn legal_hold_keeps_a_contact_until_released(env: Env) {
    env.connect_all().await;
    customer_writes(
        &env,
        "whatsapp",
        WA_PHONE,
        "15559990003",
        "held message 6161",
    )
    .await;
    let contact = contact_of(&env, "held message 6161").await;
    let api = |m: Method, p: &str| seed::bearer(&env.app, m, p, &env.ws.token);
    let hold: Value = api(Method::POST, "/api/v1/privacy/holds")
        .json(&json!({"scope": "contact", "id": contact, "reason": "Regulator inquiry", "reference": "REF-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hold_id = hold["id"].as_str().unwrap().to_owned();
    let created: Value = api(Method::POST, "/api/v1/privacy/requests")
        .json(&json!({"kind": "erase", "contact_id": contact}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    env.app.drain_jobs().await;
    let got: Value = api(Method::GET, &format!("/api/v1/privacy/requests/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["state"], "in_progress");
    assert!(
        got["receipt"]["kept"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("REF-1"),
        "{got}"
    );
    assert!(
        !columns_containing(&env.app.store, "held message 6161")
            .await
            .is_empty()
    );

    // A session without recent re-authentication may not release it.
    env.app.clock.advance(time::Duration::minutes(10));
    let owner = &env.ws.owner;
    let refused = seed::browser(
        &env.app,
        Method::DELETE,
        &format!("/api/v1/privacy/holds/{hold_id}"),
        owner,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(refused.status(), 403);
    let released = api(Method::DELETE, &format!("/api/v1/privacy/holds/{hold_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(released.status(), 200);
    env.app.drain_jobs().await;
    let got: Value = api(Method::GET, &format!("/api/v1/privacy/requests/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["state"], "completed", "{got}");
    assert!(
        columns_containing(&env.app.store, "held message 6161")
            .await
            .is_empty()
    );
    let actions: Vec<String> = env
        .app
        .audit_log(env.ws.ws)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"privacy.hold.placed".to_owned()));
    assert!(actions.contains(&"privacy.hold.released".to_owned()));
    assert!(actions.contains(&"privacy.request.completed".to_owned()));
}
