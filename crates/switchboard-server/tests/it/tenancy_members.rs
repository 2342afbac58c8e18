use crate::seed::{bearer, browser, member, seed_workspace};
use crate::{TestApp, app_tests};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::Role;

app_tests!(
    admin_lists_members_and_agent_is_forbidden,
    admin_changes_roles_but_cannot_grant_or_touch_owner,
    last_owner_cannot_be_demoted_or_removed,
    removing_a_member_ends_their_access_and_is_audited,
    members_page_changes_roles_and_removes_without_javascript,
);

async fn admin_lists_members_and_agent_is_forbidden(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let agent = member(&app, a.ws, "agent@acme.example", Role::Agent).await;
    let r = browser(&app, Method::GET, "/api/v1/members", &agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");

    let r = bearer(&app, Method::GET, "/api/v1/members", &a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let me = data
        .iter()
        .find(|m| m["email"] == "owner@acme.example")
        .unwrap();
    assert_eq!(me["role"], "owner");
    assert_eq!(me["mfa_enabled"], false);
}

async fn admin_changes_roles_but_cannot_grant_or_touch_owner(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let admin = member(&app, a.ws, "admin@acme.example", Role::Admin).await;
    let agent = member(&app, a.ws, "agent@acme.example", Role::Agent).await;
    let path = format!("/api/v1/members/{}", agent.id);
    let r = browser(&app, Method::PATCH, &path, &admin)
        .json(&json!({"role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = browser(
        &app,
        Method::PATCH,
        &format!("/api/v1/members/{}", a.owner.id),
        &admin,
    )
    .json(&json!({"role": "agent"}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let r = browser(
        &app,
        Method::DELETE,
        &format!("/api/v1/members/{}", a.owner.id),
        &admin,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        app.store.role_in(a.ws, agent.id).await.unwrap(),
        Some(Role::Agent)
    );
    assert_eq!(
        app.store.role_in(a.ws, a.owner.id).await.unwrap(),
        Some(Role::Owner)
    );

    let r = browser(&app, Method::PATCH, &path, &admin)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["role"], "admin");

    // The owner may grant ownership.
    let r = browser(&app, Method::PATCH, &path, &a.owner)
        .json(&json!({"role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.store.role_in(a.ws, agent.id).await.unwrap(),
        Some(Role::Owner)
    );
    let events = app.audit_log(a.ws).await;
    assert_eq!(events[0].action, "member.role_changed");
    assert_eq!(events[0].details["from"], "admin");
    assert_eq!(events[0].details["to"], "owner");
}

async fn last_owner_cannot_be_demoted_or_removed(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let path = format!("/api/v1/members/{}", a.owner.id);
    let r = bearer(&app, Method::PATCH, &path, &a.token)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "last_owner");
    let r = bearer(&app, Method::DELETE, &path, &a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        app.store.role_in(a.ws, a.owner.id).await.unwrap(),
        Some(Role::Owner)
    );
}

async fn removing_a_member_ends_their_access_and_is_audited(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let agent = member(&app, a.ws, "agent@acme.example", Role::Agent).await;
    let r = browser(&app, Method::GET, "/api/v1/workspace", &agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = browser(
        &app,
        Method::DELETE,
        &format!("/api/v1/members/{}", agent.id),
        &a.owner,
    )
    .header("user-agent", "MembersTest/1")
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let r = browser(&app, Method::GET, "/api/v1/workspace", &agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = browser(
        &app,
        Method::DELETE,
        &format!("/api/v1/members/{}", agent.id),
        &a.owner,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let events = app.audit_log(a.ws).await;
    let e = &events[0];
    assert_eq!(e.action, "member.removed");
    assert_eq!(e.actor_user_id, Some(a.owner.id.to_string()));
    assert_eq!(e.actor_email.as_deref(), Some("owner@acme.example"));
    assert_eq!(e.target_label.as_deref(), Some("agent@acme.example"));
    assert_eq!(e.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(e.user_agent.as_deref(), Some("MembersTest/1"));
}

async fn members_page_changes_roles_and_removes_without_javascript(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let agent = member(&app, a.ws, "agent@acme.example", Role::Agent).await;
    let r = browser(&app, Method::GET, "/settings/members", &a.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("agent@acme.example"));
    assert!(html.contains(&format!("/settings/members/{}/role", agent.id)));
    assert!(html.contains("Send invitation"));

    let r = browser(&app, Method::GET, "/settings/members", &agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // A plain form post: CSRF token in the body, no htmx header.
    let r = app
        .api()
        .post(app.at(&format!("/settings/members/{}/role", agent.id)))
        .header("cookie", &a.owner.cookie)
        .form(&[("csrf_token", a.owner.csrf.as_str()), ("role", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.store.role_in(a.ws, agent.id).await.unwrap(),
        Some(Role::Admin)
    );

    // Without the CSRF token nothing happens.
    let r = app
        .api()
        .post(app.at(&format!("/settings/members/{}/remove", agent.id)))
        .header("cookie", &a.owner.cookie)
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(app.store.role_in(a.ws, agent.id).await.unwrap().is_some());

    // Demoting the last owner shows the reason on the page.
    let r = app
        .api()
        .post(app.at(&format!("/settings/members/{}/role", a.owner.id)))
        .header("cookie", &a.owner.cookie)
        .form(&[("csrf_token", a.owner.csrf.as_str()), ("role", "agent")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("at least one owner"));
    // From htmx (which swaps only 2xx answers) the same message comes back as 200.
    let r = app
        .api()
        .post(app.at(&format!("/settings/members/{}/role", a.owner.id)))
        .header("cookie", &a.owner.cookie)
        .header("hx-request", "true")
        .form(&[("csrf_token", a.owner.csrf.as_str()), ("role", "agent")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("at least one owner"));
    assert_eq!(
        app.store.role_in(a.ws, a.owner.id).await.unwrap(),
        Some(Role::Owner)
    );

    let r = app
        .api()
        .post(app.at(&format!("/settings/members/{}/remove", agent.id)))
        .header("cookie", &a.owner.cookie)
        .form(&[("csrf_token", a.owner.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(app.store.role_in(a.ws, agent.id).await.unwrap().is_none());
}
