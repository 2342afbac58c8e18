use crate::seed::{Seeded, bearer, browser, seed_workspace};
use crate::{TestApp, app_tests};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::Role;

app_tests!(
    api_ids_of_another_workspace_are_not_found_and_untouched,
    settings_forms_with_ids_of_another_workspace_are_not_found,
);

/// Workspace B with a pending invitation; returns the invitation id and B's token id.
async fn b_objects(app: &TestApp, b: &Seeded) -> (String, String) {
    let r = bearer(app, Method::POST, "/api/v1/invitations", &b.token)
        .json(&json!({"email": "pat@globex.example", "role": "agent"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let inv: Value = r.json().await.unwrap();
    let token_id = app.store.api_tokens(b.ws).await.unwrap()[0].id.to_string();
    (inv["id"].as_str().unwrap().to_owned(), token_id)
}

async fn b_is_unchanged(app: &TestApp, b: &Seeded, audit_before: usize) {
    assert_eq!(
        app.store.role_in(b.ws, b.owner.id).await.unwrap(),
        Some(Role::Owner)
    );
    assert_eq!(app.store.open_invitations(b.ws).await.unwrap().len(), 1);
    let r = bearer(app, Method::GET, "/api/v1/workspace", &b.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "B's token still works");
    let after = app.audit_log(b.ws).await.len();
    assert_eq!(after, audit_before, "nothing recorded in B");
}

async fn api_ids_of_another_workspace_are_not_found_and_untouched(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let b = seed_workspace(&app, "globex").await;
    let (inv, token_id) = b_objects(&app, &b).await;
    let audit_before = app.audit_log(b.ws).await.len();
    let b_owner = b.owner.id.to_string();
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::PATCH,
            format!("/api/v1/members/{b_owner}"),
            Some(json!({"role": "agent"})),
        ),
        (Method::DELETE, format!("/api/v1/members/{b_owner}"), None),
        (Method::DELETE, format!("/api/v1/invitations/{inv}"), None),
        (Method::DELETE, format!("/api/v1/tokens/{token_id}"), None),
    ];
    // As A's owner through a session, and through A's owner token.
    for (method, path, body) in &cases {
        for via_token in [false, true] {
            let mut req = if via_token {
                bearer(&app, method.clone(), path, &a.token)
            } else {
                browser(&app, method.clone(), path, &a.owner)
            };
            if let Some(body) = body {
                req = req.json(body);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 404, "{method} {path} (token: {via_token})");
            let err: Value = r.json().await.unwrap();
            assert_eq!(err["error"]["code"], "not_found");
        }
    }
    let r = browser(&app, Method::POST, "/api/v1/session/workspace", &a.owner)
        .json(&json!({"workspace_id": b.ws.to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = browser(&app, Method::GET, "/api/v1/workspace", &a.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["slug"], "acme");

    // Lists never show B's rows.
    for path in [
        "/api/v1/members",
        "/api/v1/invitations",
        "/api/v1/tokens",
        "/api/v1/audit-log",
    ] {
        let text = bearer(&app, Method::GET, path, &a.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains("globex"), "{path}: {text}");
        assert!(!text.contains(&inv) && !text.contains(&token_id), "{path}");
    }
    b_is_unchanged(&app, &b, audit_before).await;
}

async fn settings_forms_with_ids_of_another_workspace_are_not_found(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let b = seed_workspace(&app, "globex").await;
    let (inv, token_id) = b_objects(&app, &b).await;
    let audit_before = app.audit_log(b.ws).await.len();
    let b_owner = b.owner.id;
    for (path, extra) in [
        (
            format!("/settings/members/{b_owner}/role"),
            Some(("role", "agent")),
        ),
        (format!("/settings/members/{b_owner}/remove"), None),
        (format!("/settings/invitations/{inv}/revoke"), None),
        (format!("/settings/tokens/{token_id}/revoke"), None),
    ] {
        let mut form = vec![("csrf_token", a.owner.csrf.as_str())];
        form.extend(extra);
        let r = app
            .api()
            .post(app.at(&path))
            .header("cookie", &a.owner.cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    b_is_unchanged(&app, &b, audit_before).await;
}
