use crate::seed::{bearer, browser, member, seed_workspace, step_up};
use crate::{TestApp, app_tests};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::{Clock, Role};
use switchboard_store::testing::columns_containing;

app_tests!(
    created_token_is_shown_once_and_only_its_hash_is_stored,
    token_creation_needs_step_up_admin_and_a_role_within_reach,
    revoked_token_gets_401_and_use_updates_last_used,
    tokens_page_creates_after_step_up_and_shows_the_token_once,
);

async fn created_token_is_shown_once_and_only_its_hash_is_stored(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    step_up(&app, &a.owner).await;
    let r = browser(&app, Method::POST, "/api/v1/tokens", &a.owner)
        .json(&json!({"name": "CI deploy", "role": "agent"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let secret = body["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sbt_"));
    assert_eq!(body["role"], "agent");
    assert_eq!(body["token_prefix"], &secret[..12]);

    // It works, with its own role.
    let r = bearer(&app, Method::GET, "/api/v1/workspace", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["role"], "agent");
    let r = bearer(&app, Method::GET, "/api/v1/members", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Never again: not in the list, not anywhere in the database.
    let r = bearer(&app, Method::GET, "/api/v1/tokens", &a.token)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(!text.contains(&secret));
    assert!(!text.contains("\"token\""));
    let list: Value = serde_json::from_str(&text).unwrap();
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "CI deploy")
    );
    assert_eq!(
        columns_containing(&app.store, &secret).await,
        Vec::<String>::new()
    );
    assert_eq!(
        columns_containing(&app.store, &secret[12..]).await,
        Vec::<String>::new()
    );
}

async fn token_creation_needs_step_up_admin_and_a_role_within_reach(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let admin = member(&app, a.ws, "admin@acme.example", Role::Admin).await;
    let agent = member(&app, a.ws, "agent@acme.example", Role::Agent).await;
    app.clock.advance(time::Duration::minutes(6));
    let body = json!({"name": "x", "role": "agent"});
    let r = browser(&app, Method::POST, "/api/v1/tokens", &admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "reauthentication_required"
    );

    step_up(&app, &agent).await;
    let r = browser(&app, Method::POST, "/api/v1/tokens", &agent)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "forbidden"
    );

    step_up(&app, &admin).await;
    let r = browser(&app, Method::POST, "/api/v1/tokens", &admin)
        .json(&json!({"name": "too strong", "role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let before = app.store.api_tokens(a.ws).await.unwrap().len();
    let r = browser(&app, Method::POST, "/api/v1/tokens", &admin)
        .json(&json!({"name": "admin bot", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(app.store.api_tokens(a.ws).await.unwrap().len(), before + 1);
}

async fn revoked_token_gets_401_and_use_updates_last_used(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    step_up(&app, &a.owner).await;
    let r = browser(&app, Method::POST, "/api/v1/tokens", &a.owner)
        .json(&json!({"name": "script", "role": "admin"}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let secret = body["token"].as_str().unwrap().to_owned();
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(body["last_used_at"].is_null());

    app.clock.advance(time::Duration::minutes(3));
    let used_at = app.clock.now();
    let r = bearer(&app, Method::GET, "/api/v1/workspace", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = app
        .store
        .api_token(a.ws, id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(token.last_used_at, Some(used_at));

    let r = bearer(
        &app,
        Method::DELETE,
        &format!("/api/v1/tokens/{id}"),
        &a.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.json::<Value>().await.unwrap()["revoked_at"].is_null());
    let r = bearer(&app, Method::GET, "/api/v1/workspace", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "unauthenticated"
    );

    let events = app.audit_log(a.ws).await;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["token.revoked", "token.created"]);
    // Done through the seeded owner token: the actor is the token, named.
    assert!(
        events[0]
            .actor_email
            .as_deref()
            .unwrap()
            .contains("seed token")
    );
    assert!(events[0].details["actor_token_id"].is_string());
}

async fn tokens_page_creates_after_step_up_and_shows_the_token_once(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    app.clock.advance(time::Duration::minutes(6));
    let r = browser(&app, Method::GET, "/settings/tokens", &a.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    for needle in [
        "Token name",
        "name=\"name\"",
        "name=\"role\"",
        "Create token",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    assert!(!html.contains("id=\"new-token\""));

    let form = [
        ("csrf_token", a.owner.csrf.as_str()),
        ("name", "Zapier"),
        ("role", "agent"),
    ];
    let r = app
        .api()
        .post(app.at("/settings/tokens"))
        .header("cookie", &a.owner.cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/reauth?next=/settings/tokens");

    step_up(&app, &a.owner).await;
    let r = app
        .api()
        .post(app.at("/settings/tokens"))
        .header("cookie", &a.owner.cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let start = html.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
    let secret = &html[start..start + html[start..].find('<').unwrap()];
    assert!(secret.starts_with("sbt_"));
    let r = bearer(&app, Method::GET, "/api/v1/workspace", secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let html = browser(&app, Method::GET, "/settings/tokens", &a.owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Zapier"));
    assert!(!html.contains(secret));

    let agent = member(&app, a.ws, "agent@acme.example", Role::Agent).await;
    let r = browser(&app, Method::GET, "/settings/tokens", &agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
