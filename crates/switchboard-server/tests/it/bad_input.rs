use crate::seed::{Person, browser, member, seed_workspace, step_up};
use crate::{TestApp, app_tests};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::Role;

app_tests!(
    every_json_endpoint_refuses_bad_bodies_with_a_code_and_writes_nothing,
    malformed_path_ids_are_not_found,
    audit_log_query_is_validated,
    invitation_accept_form_refuses_bad_input_and_creates_nothing,
);

async fn invitation_accept_form_refuses_bad_input_and_creates_nothing(app: TestApp) {
    use switchboard_core::{Clock, EmailAddress};
    use switchboard_server::auth::secret_token;
    use switchboard_store::invitations::NewInvitation;
    let a = seed_workspace(&app, "acme").await;
    let token = secret_token::generate("sbl_");
    let email = EmailAddress::parse("new@example.com").unwrap();
    let now = app.clock.now();
    let mut tx = app.store.begin().await.unwrap();
    tx.insert_invitation(
        a.ws,
        NewInvitation {
            email: &email,
            role: Role::Agent,
            token_hash: &secret_token::hash(&token),
            invited_by: None,
            expires_at: now + time::Duration::days(7),
        },
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let url = app.at(&format!("/invitations/{token}"));
    let form = "application/x-www-form-urlencoded";
    for (body, status) in [
        (String::new(), 422),
        ("name=Ann".to_owned(), 422),
        ("password=a+long+enough+password".to_owned(), 422),
        (
            format!("name={}&password=a+long+enough+password", "x".repeat(101)),
            422,
        ),
        (
            "name=Ann&password=a+long+enough+password&password=twice".to_owned(),
            400,
        ),
        (
            format!("name=Ann&password={}", "p".repeat(1024 * 1024 + 10)),
            413,
        ),
    ] {
        let r = app
            .api()
            .post(&url)
            .header("content-type", form)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{}", &body[..body.len().min(80)]);
    }
    assert!(app.store.user_by_email(&email).await.unwrap().is_none());
    assert_eq!(app.store.open_invitations(a.ws).await.unwrap().len(), 1);
}

struct Endpoint {
    method: Method,
    path: String,
    valid: Value,
    wrong_type: Value,
    bad_value: Option<(Value, &'static str)>,
}

async fn send(app: &TestApp, who: &Person, e: &Endpoint, ct: &str, body: Vec<u8>) -> (u16, Value) {
    let r = browser(app, e.method.clone(), &e.path, who)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn every_json_endpoint_refuses_bad_bodies_with_a_code_and_writes_nothing(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let agent = member(&app, a.ws, "agent@acme.example", Role::Agent).await;
    step_up(&app, &a.owner).await;
    let endpoints = vec![
        Endpoint {
            method: Method::PATCH,
            path: "/api/v1/workspace".into(),
            valid: json!({"name": "Renamed"}),
            wrong_type: json!({"name": 42}),
            bad_value: Some((json!({"name": "x".repeat(101)}), "invalid_name")),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/session/workspace".into(),
            valid: json!({"workspace_id": a.ws.to_string()}),
            wrong_type: json!({"workspace_id": [1]}),
            bad_value: None,
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/workspace/deactivate".into(),
            valid: json!({"confirm_slug": "acme"}),
            wrong_type: json!({"confirm_slug": true}),
            bad_value: Some((json!({"confirm_slug": "nope"}), "confirmation_mismatch")),
        },
        Endpoint {
            method: Method::PATCH,
            path: format!("/api/v1/members/{}", agent.id),
            valid: json!({"role": "admin"}),
            wrong_type: json!({"role": {"name": "admin"}}),
            bad_value: Some((json!({"role": "root"}), "invalid_role")),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/invitations".into(),
            valid: json!({"email": "new@example.com", "role": "agent"}),
            wrong_type: json!({"email": 7, "role": "agent"}),
            bad_value: Some((
                json!({"email": "not-an-email", "role": "agent"}),
                "invalid_email",
            )),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/tokens".into(),
            valid: json!({"name": "bot", "role": "agent"}),
            wrong_type: json!({"name": "bot", "role": 3}),
            bad_value: Some((json!({"name": "", "role": "agent"}), "invalid_name")),
        },
    ];
    let json_ct = "application/json";
    for e in &endpoints {
        let what = format!("{} {}", e.method, e.path);
        let (s, b) = send(&app, &a.owner, e, json_ct, b"{\"unterminated".to_vec()).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (400, Some("malformed_json")),
            "{what}"
        );
        let (s, b) = send(
            &app,
            &a.owner,
            e,
            json_ct,
            e.wrong_type.to_string().into_bytes(),
        )
        .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (400, Some("invalid_body")),
            "{what} wrong type"
        );
        let (s, b) = send(&app, &a.owner, e, json_ct, b"{}".to_vec()).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (400, Some("invalid_body")),
            "{what} missing"
        );
        let (s, b) = send(&app, &a.owner, e, json_ct, b"[]".to_vec()).await;
        assert_eq!(s, 400, "{what} array: {b}");
        let mut unknown = e.valid.clone();
        unknown["admin"] = json!(true);
        let (s, b) = send(&app, &a.owner, e, json_ct, unknown.to_string().into_bytes()).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (400, Some("invalid_body")),
            "{what} unknown key"
        );
        let (s, b) = send(
            &app,
            &a.owner,
            e,
            "text/plain",
            e.valid.to_string().into_bytes(),
        )
        .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (415, Some("unsupported_media_type")),
            "{what}"
        );
        let mut big = e.valid.clone();
        big["padding"] = json!("x".repeat(1024 * 1024 + 10));
        let (s, b) = send(&app, &a.owner, e, json_ct, big.to_string().into_bytes()).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (413, Some("payload_too_large")),
            "{what}"
        );
        if let Some((bad, code)) = &e.bad_value {
            let (s, b) = send(&app, &a.owner, e, json_ct, bad.to_string().into_bytes()).await;
            assert_eq!(
                (s, b["error"]["code"].as_str()),
                (422, Some(*code)),
                "{what} bad value"
            );
        }
        // Without signing in at all.
        let r = app
            .api()
            .request(e.method.clone(), app.at(&e.path))
            .json(&e.valid)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{what} anonymous");
    }
    // Nothing was written by any of it.
    let ws = app.store.workspace(a.ws).await.unwrap();
    assert_eq!(ws.name, "acme");
    assert_eq!(ws.status, switchboard_core::WorkspaceStatus::Active);
    assert_eq!(
        app.store.role_in(a.ws, agent.id).await.unwrap(),
        Some(Role::Agent)
    );
    assert!(app.store.open_invitations(a.ws).await.unwrap().is_empty());
    assert_eq!(app.store.api_tokens(a.ws).await.unwrap().len(), 1);
    assert!(app.audit_log(a.ws).await.is_empty());
    assert_eq!(app.drain_jobs().await, 0);
}

async fn malformed_path_ids_are_not_found(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    for (method, path) in [
        (Method::PATCH, "/api/v1/members/not-a-uuid"),
        (Method::DELETE, "/api/v1/members/1"),
        (Method::DELETE, "/api/v1/invitations/%00"),
        (Method::DELETE, "/api/v1/tokens/..%2F..%2Fetc"),
    ] {
        let r = crate::seed::bearer(&app, method.clone(), path, &a.token)
            .json(&json!({"role": "agent"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], "not_found");
    }
}

async fn audit_log_query_is_validated(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    for (query, status, code) in [
        ("limit=abc", 422, "invalid_limit"),
        ("limit=0", 422, "invalid_limit"),
        ("limit=100000", 422, "invalid_limit"),
        ("cursor=garbage", 422, "invalid_cursor"),
        ("actor=someone", 422, "invalid_actor"),
        ("since=yesterday", 422, "invalid_time"),
        ("until=2026-13-01T00:00:00Z", 422, "invalid_time"),
        ("bogus=1", 400, "invalid_query"),
    ] {
        let r = crate::seed::bearer(
            &app,
            Method::GET,
            &format!("/api/v1/audit-log?{query}"),
            &a.token,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), status, "{query}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], code, "{query}");
    }
    let r = crate::seed::bearer(
        &app,
        Method::GET,
        "/api/v1/audit-log?action=&limit=",
        &a.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "empty fields are no filter");
}

app_tests!(nul_characters_in_text_are_refused_not_a_500);

/// PostgreSQL's text cannot hold U+0000; a client that sends one gets a 4xx, on both backends.
async fn nul_characters_in_text_are_refused_not_a_500(app: TestApp) {
    let a = crate::seed::seed_workspace(&app, "acme").await;
    let before = app.store.workspace(a.ws).await.unwrap().name;
    let r = crate::seed::bearer(&app, reqwest::Method::PATCH, "/api/v1/workspace", &a.token)
        .header("content-type", "application/json")
        .body(r#"{"name": "Acme\u0000Shoes"}"#)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_body");
    assert_eq!(app.store.workspace(a.ws).await.unwrap().name, before);
}
