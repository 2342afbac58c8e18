//! The channel connections API: connecting each kind, secrets never shown or stored in clear,
//! "test connection", tenancy, and disconnecting behind step-up.

use crate::channel_tests;
use crate::channels_support::{Env, FB_TOKEN, IG_TOKEN, TG_TOKEN, TT_TOKEN, WA_PHONE, WA_TOKEN};
use crate::seed;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_store::connections::ConnectionStatus;
use switchboard_store::testing::columns_containing;

channel_tests!(
    credentials_never_appear_in_answers_or_in_clear,
    test_connection_reports_what_the_platform_said,
    another_workspaces_channel_is_not_found,
    disconnect_requires_step_up_and_clears_credentials,
    telegram_refusal_stores_nothing,
    bad_bodies_are_refused_with_codes,
);

/// The secret part of each token (a Telegram token's bot id is public).
const SECRETS: [&str; 5] = [
    WA_TOKEN,
    FB_TOKEN,
    IG_TOKEN,
    TT_TOKEN,
    "AAtelegram-secret-token-xyz",
];

async fn get(env: &Env, path: &str, token: &str) -> (u16, String) {
    let r = seed::bearer(&env.app, Method::GET, path, token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn credentials_never_appear_in_answers_or_in_clear(env: Env) {
    let created = env.connect_all().await;
    let widget = env
        .connect(
            json!({"kind": "widget", "domains": ["shop.example"], "colour": "#112233",
            "greeting": "Hi!"}),
        )
        .await;
    assert_eq!(widget["settings"]["domains"], json!(["shop.example"]));
    let mut answers: Vec<String> = created.iter().map(Value::to_string).collect();
    let (status, list) = get(&env, "/api/v1/channels", &env.ws.token).await;
    assert_eq!(status, 200);
    answers.push(list.clone());
    for c in &created {
        let (status, one) = get(
            &env,
            &format!("/api/v1/channels/{}", c["id"].as_str().unwrap()),
            &env.ws.token,
        )
        .await;
        assert_eq!(status, 200);
        answers.push(one);
    }
    for secret in SECRETS {
        for answer in &answers {
            assert!(!answer.contains(secret), "{secret} in {answer}");
        }
        assert!(
            columns_containing(&env.app.store, secret).await.is_empty(),
            "{secret} stored in clear"
        );
    }
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 6);
    let whatsapp = &list["data"][0];
    assert_eq!(whatsapp["kind"], "whatsapp");
    assert_eq!(whatsapp["account_id"], WA_PHONE);
    assert_eq!(whatsapp["status"], "active");
    assert_eq!(whatsapp["has_credentials"], true);
    let messenger = created.iter().find(|c| c["kind"] == "messenger").unwrap();
    assert_eq!(messenger["meta_user_id"], "10158000000000001");
    let audit = env.app.audit_log(env.ws.ws).await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "channel.connected")
            .count(),
        6
    );
    // Connecting the same account again is refused.
    let r = seed::bearer(&env.app, Method::POST, "/api/v1/channels", &env.ws.token)
        .json(&json!({"kind": "whatsapp", "phone_number_id": WA_PHONE,
            "business_account_id": "1", "access_token": "another"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
}

async fn test_connection_reports_what_the_platform_said(env: Env) {
    let created = env.connect_all().await;
    for c in &created {
        let r = seed::bearer(
            &env.app,
            Method::POST,
            &format!("/api/v1/channels/{}/test", c["id"].as_str().unwrap()),
            &env.ws.token,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["ok"], true, "{}: {v}", c["kind"]);
    }
    // The platform revokes the tokens: the test says so in the platform's words.
    let r = env
        .http
        .delete(format!("{}/_sim/tokens", env.sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let whatsapp = created.iter().find(|c| c["kind"] == "whatsapp").unwrap();
    let r = seed::bearer(
        &env.app,
        Method::POST,
        &format!("/api/v1/channels/{}/test", whatsapp["id"].as_str().unwrap()),
        &env.ws.token,
    )
    .send()
    .await
    .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ok"], false, "{v}");
    assert!(v["status"].as_u64().unwrap() >= 400);
    assert!(!v["message"].as_str().unwrap().is_empty());
}

async fn another_workspaces_channel_is_not_found(env: Env) {
    let created = env.connect_all().await;
    let other = seed::seed_workspace(&env.app, "other").await;
    for c in &created {
        let id = c["id"].as_str().unwrap();
        let (status, _) = get(&env, &format!("/api/v1/channels/{id}"), &other.token).await;
        assert_eq!(status, 404);
        for (method, path) in [
            (Method::POST, format!("/api/v1/channels/{id}/test")),
            (Method::DELETE, format!("/api/v1/channels/{id}")),
        ] {
            let r = seed::bearer(&env.app, method, &path, &other.token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404, "{path}");
        }
    }
    let (_, list) = get(&env, "/api/v1/channels", &other.token).await;
    assert_eq!(
        serde_json::from_str::<Value>(&list).unwrap()["data"],
        json!([])
    );
    // An agent of the workspace cannot connect channels.
    let agent = seed::api_token(&env.app, env.ws.ws, switchboard_core::Role::Agent).await;
    let r = seed::bearer(&env.app, Method::POST, "/api/v1/channels", &agent)
        .json(&json!({"kind": "messenger", "page_id": "42", "page_token": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

async fn disconnect_requires_step_up_and_clears_credentials(env: Env) {
    let created = env.connect_all().await;
    let telegram = created.iter().find(|c| c["kind"] == "telegram").unwrap();
    let id = telegram["id"].as_str().unwrap();
    let path = format!("/api/v1/channels/{id}");
    // Signed in a while ago: the step-up window has passed.
    env.app.clock.advance(time::Duration::minutes(10));
    let r = seed::browser(&env.app, Method::DELETE, &path, &env.ws.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "reauthentication_required");

    seed::step_up(&env.app, &env.ws.owner).await;
    let r = seed::browser(&env.app, Method::DELETE, &path, &env.ws.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "disconnected");
    assert_eq!(v["has_credentials"], false);

    let id: switchboard_core::ConnectionId = id.parse().unwrap();
    let stored = env.app.store.connection(env.ws.ws, id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::Disconnected);
    assert!(stored.webhook_secret_hash.is_none());
    assert!(
        env.app
            .store
            .connection_credentials(env.ws.ws, id, &env.app.state.master_key)
            .await
            .is_err()
    );
    let audit = env.app.audit_log(env.ws.ws).await;
    assert!(audit.iter().any(|e| e.action == "channel.disconnected"));
    // Telegram's webhook was removed: the simulator delivers nowhere, and a delivery to the
    // old path is refused.
    let update = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../switchboard-channels/tests/fixtures/telegram/text.json"),
    )
    .unwrap();
    let headers = [("x-telegram-bot-api-secret-token", "anything".to_owned())];
    assert_eq!(
        env.post_webhook(&format!("/webhooks/telegram/{id}"), &headers, &update)
            .await,
        401
    );
    assert!(env.messages().await.is_empty());
    let r = env
        .sim_post(
            "/_sim/inbound",
            json!({"platform": "telegram", "account": "7000000001", "sender": "111111111",
                "text": "after disconnect"}),
        )
        .await;
    assert!(
        r.status().is_client_error(),
        "the bot's webhook was deleted"
    );
    // Disconnecting again: not found (nothing live to disconnect).
    let r = seed::browser(&env.app, Method::DELETE, &path, &env.ws.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

async fn telegram_refusal_stores_nothing(env: Env) {
    // The simulator does not know this token: setWebhook is refused.
    let r = seed::bearer(&env.app, Method::POST, "/api/v1/channels", &env.ws.token)
        .json(&json!({"kind": "telegram", "bot_token": "7000000009:unknown-token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "platform_refused");
    assert!(
        env.app
            .store
            .connections(env.ws.ws)
            .await
            .unwrap()
            .is_empty()
    );
    let _ = TG_TOKEN;
}

async fn bad_bodies_are_refused_with_codes(env: Env) {
    for body in [
        json!({"kind": "whatsapp", "phone_number_id": "1", "business_account_id": "2",
            "access_token": "t", "extra": true}),
        json!({"kind": "fax", "number": "1"}),
        json!({"kind": "whatsapp", "phone_number_id": "", "business_account_id": "2",
            "access_token": "t"}),
        json!({"kind": "telegram", "bot_token": "no-colon"}),
        json!({"kind": "widget", "domains": []}),
    ] {
        let r = seed::bearer(&env.app, Method::POST, "/api/v1/channels", &env.ws.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        assert!((400..500).contains(&status), "{body}: {status}");
        assert!(v["error"]["code"].is_string(), "{v}");
    }
    assert!(
        env.app
            .store
            .connections(env.ws.ws)
            .await
            .unwrap()
            .is_empty()
    );
    let openapi = env.app.openapi().await;
    assert!(openapi["paths"]["/api/v1/channels"]["post"].is_object());
    assert!(openapi["paths"]["/api/v1/channels/{id}/test"]["post"].is_object());
}

channel_tests!(settings_page_connects_tests_and_disconnects_behind_step_up);

async fn settings_page_connects_tests_and_disconnects_behind_step_up(env: Env) {
    let owner = &env.ws.owner;
    let page = env
        .app
        .api()
        .get(env.app.at("/settings/channels"))
        .header("cookie", &owner.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Connect a channel"));
    assert!(html.contains(r#"href="/settings/channels" aria-current="page""#));

    env.grant("messenger", Some("5550001"), "page-token-from-the-form")
        .await;
    let form = [
        ("csrf_token", owner.csrf.as_str()),
        ("kind", "messenger"),
        ("name", "Shop page"),
        ("account_id", "5550001"),
        ("token", "page-token-from-the-form"),
    ];
    let r = env
        .app
        .api()
        .post(env.app.at("/settings/channels"))
        .header("cookie", &owner.cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Connected Shop page."), "{html}");
    assert!(!html.contains("page-token-from-the-form"));
    let connections = env.app.store.connections(env.ws.ws).await.unwrap();
    assert_eq!(connections.len(), 1);
    let id = connections[0].id;

    let r = env
        .app
        .api()
        .post(env.app.at(&format!("/settings/channels/{id}/test")))
        .header("cookie", &owner.cookie)
        .form(&[("csrf_token", owner.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Test passed"));

    // Without a CSRF token: refused.
    let r = env
        .app
        .api()
        .post(env.app.at(&format!("/settings/channels/{id}/disconnect")))
        .header("cookie", &owner.cookie)
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    // Without a recent sign-in: sent to re-authenticate.
    env.app.clock.advance(time::Duration::minutes(10));
    let r = env
        .app
        .api()
        .post(env.app.at(&format!("/settings/channels/{id}/disconnect")))
        .header("cookie", &owner.cookie)
        .form(&[("csrf_token", owner.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/reauth")
    );
    seed::step_up(&env.app, owner).await;
    let r = env
        .app
        .api()
        .post(env.app.at(&format!("/settings/channels/{id}/disconnect")))
        .header("cookie", &owner.cookie)
        .form(&[("csrf_token", owner.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    let stored = env.app.store.connection(env.ws.ws, id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::Disconnected);
}

channel_tests!(disconnecting_a_meta_channel_drops_its_webhook_subscription);

async fn disconnecting_a_meta_channel_drops_its_webhook_subscription(env: Env) {
    let created = env.connect_all().await;
    let page = created.iter().find(|c| c["kind"] == "messenger").unwrap();
    let page_id = page["account_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/channels/{}", page["id"].as_str().unwrap());
    seed::step_up(&env.app, &env.ws.owner).await;
    let r = seed::browser(&env.app, Method::DELETE, &path, &env.ws.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sends: Value = reqwest::Client::new()
        .get(format!("{}/_sim/sends?platform=messenger", env.sim.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let unsubscribed: Vec<&Value> = sends["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["method"] == "DELETE")
        .collect();
    assert_eq!(unsubscribed.len(), 1, "{sends}");
    assert_eq!(
        unsubscribed[0]["path"],
        format!("/v21.0/{page_id}/subscribed_apps")
    );
    assert_eq!(unsubscribed[0]["response"]["success"], true);
}
