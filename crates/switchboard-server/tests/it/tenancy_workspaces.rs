use crate::seed::{bearer, browser, member, seed_workspace, sign_in, step_up};
use crate::{TestApp, app_tests};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::{Role, WorkspaceStatus};

app_tests!(
    session_lists_all_its_workspaces_and_a_token_only_its_own,
    admin_renames_the_workspace_and_agent_cannot,
    session_switches_to_a_workspace_it_belongs_to,
    owner_deactivates_with_step_up_and_tokens_stop_working,
    openapi_documents_every_tenancy_endpoint,
);

async fn openapi_documents_every_tenancy_endpoint(app: TestApp) {
    let doc = app.openapi().await;
    let paths = &doc["paths"];
    for (path, method) in [
        ("/api/v1/workspaces", "get"),
        ("/api/v1/workspace", "get"),
        ("/api/v1/workspace", "patch"),
        ("/api/v1/workspace/deactivate", "post"),
        ("/api/v1/session/workspace", "post"),
        ("/api/v1/members", "get"),
        ("/api/v1/members/{user_id}", "patch"),
        ("/api/v1/members/{user_id}", "delete"),
        ("/api/v1/invitations", "get"),
        ("/api/v1/invitations", "post"),
        ("/api/v1/invitations/{id}", "delete"),
        ("/api/v1/tokens", "get"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens/{id}", "delete"),
        ("/api/v1/audit-log", "get"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    let params: Vec<&str> = paths["/api/v1/audit-log"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        ["action", "actor", "since", "until", "cursor", "limit"]
    );
}

async fn session_lists_all_its_workspaces_and_a_token_only_its_own(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let b = seed_workspace(&app, "globex").await;
    let mut tx = app.store.begin().await.unwrap();
    tx.add_member(b.ws, a.owner.id, Role::Agent, crate::harness::t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let r = browser(&app, Method::GET, "/api/v1/workspaces", &a.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let roles: Vec<(String, String)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["slug"].as_str().unwrap().to_owned(),
                w["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            ("acme".into(), "owner".into()),
            ("globex".into(), "agent".into())
        ]
    );

    let r = bearer(&app, Method::GET, "/api/v1/workspaces", &b.token)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["slug"], "globex");

    let r = bearer(&app, Method::GET, "/api/v1/workspace", &a.token)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["id"], a.ws.to_string());
    assert_eq!(body["status"], "active");

    let r = app
        .api()
        .get(app.at("/api/v1/workspaces"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

async fn admin_renames_the_workspace_and_agent_cannot(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let agent = member(&app, a.ws, "agent@acme.example", Role::Agent).await;
    let r = browser(&app, Method::PATCH, "/api/v1/workspace", &agent)
        .json(&json!({"name": "Hijacked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = bearer(&app, Method::PATCH, "/api/v1/workspace", &a.token)
        .json(&json!({"name": "  Acme Shoes  "}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["name"], "Acme Shoes");
    assert_eq!(body["slug"], "acme");
    let r = bearer(&app, Method::PATCH, "/api/v1/workspace", &a.token)
        .json(&json!({"name": "   "}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_name");
    assert_eq!(app.store.workspace(a.ws).await.unwrap().name, "Acme Shoes");
}

async fn session_switches_to_a_workspace_it_belongs_to(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let b = seed_workspace(&app, "globex").await;
    let mut tx = app.store.begin().await.unwrap();
    tx.add_member(b.ws, a.owner.id, Role::Admin, crate::harness::t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let r = browser(&app, Method::POST, "/api/v1/session/workspace", &a.owner)
        .json(&json!({"workspace_id": b.ws.to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = browser(&app, Method::GET, "/api/v1/workspace", &a.owner)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["slug"], "globex");
    assert_eq!(body["role"], "admin");

    // A session without a chosen workspace and several memberships must choose first.
    let fresh = sign_in(&app, a.owner.id, &a.owner.email, None).await;
    let r = browser(&app, Method::GET, "/api/v1/workspace", &fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_workspace_selected");
}

async fn owner_deactivates_with_step_up_and_tokens_stop_working(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let admin = member(&app, a.ws, "admin@acme.example", Role::Admin).await;
    // The seeded session signed in long enough ago that step-up has lapsed.
    app.clock.advance(time::Duration::minutes(10));
    let body = json!({"confirm_slug": a.slug});
    let r = browser(&app, Method::POST, "/api/v1/workspace/deactivate", &a.owner)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "reauthentication_required");

    step_up(&app, &admin).await;
    let r = browser(&app, Method::POST, "/api/v1/workspace/deactivate", &admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "admins cannot deactivate");

    step_up(&app, &a.owner).await;
    let r = browser(&app, Method::POST, "/api/v1/workspace/deactivate", &a.owner)
        .json(&json!({"confirm_slug": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        app.store.workspace(a.ws).await.unwrap().status,
        WorkspaceStatus::Active
    );

    let r = browser(&app, Method::POST, "/api/v1/workspace/deactivate", &a.owner)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ws = app.store.workspace(a.ws).await.unwrap();
    assert_eq!(ws.status, WorkspaceStatus::Deactivated);
    assert!(ws.deactivated_at.is_some());

    // Deactivating is deleting (`privacy::self_service`): the workspace's tokens are revoked
    // and the sessions working in it end, at once.
    let r = bearer(&app, Method::GET, "/api/v1/workspace", &a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = browser(&app, Method::GET, "/api/v1/workspace", &a.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let events = app.audit_log(a.ws).await;
    assert!(
        events.iter().any(|e| e.action == "workspace.deleted"),
        "{events:?}"
    );
}
