use crate::seed::{bearer, browser, member, seed_workspace};
use crate::{TestApp, app_tests};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::{Clock, Role};
use switchboard_store::audit::NewAuditEvent;
use switchboard_store::jobs::NewJob;

app_tests!(
    audit_log_api_filters_and_pages_for_admins_only,
    audit_sweep_anonymises_after_the_period_and_deletes_after_retention,
    audit_page_shows_entries_and_filters,
);

/// Changes a role back and forth `n` times through the API, one minute apart.
async fn make_history(app: &TestApp, token: &str, user: &str, n: usize) {
    for i in 0..n {
        let role = if i % 2 == 0 { "admin" } else { "agent" };
        let r = bearer(
            app,
            Method::PATCH,
            &format!("/api/v1/members/{user}"),
            token,
        )
        .json(&json!({"role": role}))
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        app.clock.advance(time::Duration::minutes(1));
    }
}

async fn audit_log_api_filters_and_pages_for_admins_only(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let agent = member(&app, a.ws, "agent@acme.example", Role::Agent).await;
    let start = app.clock.now();
    make_history(&app, &a.token, &agent.id.to_string(), 5).await;
    let r = browser(
        &app,
        Method::DELETE,
        &format!("/api/v1/members/{}", agent.id),
        &a.owner,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204);

    let r = browser(&app, Method::GET, "/api/v1/audit-log", &agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "removed members see nothing");

    // Page through `member.role_changed` two at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = "/api/v1/audit-log?action=member.role&limit=2".to_owned();
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = bearer(&app, Method::GET, &url, &a.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        for e in body["data"].as_array().unwrap() {
            assert_eq!(e["action"], "member.role_changed");
            seen.push(e["occurred_at"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first");

    // The owner's session removal carries the user as actor, with the address.
    let url = format!("/api/v1/audit-log?actor={}", a.owner.id);
    let body: Value = bearer(&app, Method::GET, &url, &a.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["action"], "member.removed");
    assert_eq!(data[0]["actor"], "owner@acme.example");
    assert_eq!(data[0]["ip"], "127.0.0.1");

    // A time window: the 2nd and 3rd changes.
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let url = format!(
        "/api/v1/audit-log?since={}&until={}",
        fmt(start + time::Duration::minutes(1)),
        fmt(start + time::Duration::minutes(3))
    );
    let body: Value = bearer(&app, Method::GET, &url.replace('+', "%2B"), &a.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
}

async fn audit_sweep_anonymises_after_the_period_and_deletes_after_retention(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let agent = member(&app, a.ws, "agent@acme.example", Role::Agent).await;
    let old_day = app.clock.now();
    // Two entries naming the same person.
    for _ in 0..2 {
        let r = browser(
            &app,
            Method::PATCH,
            &format!("/api/v1/members/{}", agent.id),
            &a.owner,
        )
        .json(&json!({"role": "agent"}))
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
    }
    // One older, due for deletion 300 days before the others.
    let mut ancient = NewAuditEvent::new("auth.sign_in");
    ancient.workspace_id = Some(a.ws);
    ancient.actor_email = Some("owner@acme.example".into());
    app.store
        .record_audit(&ancient, old_day - time::Duration::days(300))
        .await
        .unwrap();

    let sweep = |app: &TestApp| {
        let now = app.clock.now();
        let store = app.store.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            tx.enqueue(NewJob::new("audit_sweep", json!({}), now), now)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    };
    // Default periods: anonymise after 365 days, delete after 730.
    app.clock.advance(time::Duration::days(364));
    sweep(&app).await;
    assert_eq!(app.drain_jobs().await, 1);
    let events = app.audit_log(a.ws).await;
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .filter(|e| e.action == "member.role_changed")
            .all(|e| e.anonymised_at.is_none())
    );

    app.clock.advance(time::Duration::days(2));
    sweep(&app).await;
    assert_eq!(app.drain_jobs().await, 1);
    let events = app.audit_log(a.ws).await;
    let changed: Vec<_> = events
        .iter()
        .filter(|e| e.action == "member.role_changed")
        .collect();
    assert_eq!(changed.len(), 2);
    for e in &changed {
        assert!(e.anonymised_at.is_some());
        for v in [
            &e.actor_email,
            &e.actor_user_id,
            &e.ip,
            &e.target_label,
            &e.target_id,
        ] {
            let v = v.as_deref().unwrap();
            assert!(v.starts_with("anon_"), "{v}");
            assert!(!v.contains("acme.example"));
        }
    }
    // Not a hash: the same address became two different tokens.
    assert_ne!(changed[0].actor_email, changed[1].actor_email);
    assert_ne!(changed[0].target_label, changed[1].target_label);
    assert_eq!(changed[0].details["to"], "agent", "non-personal facts stay");

    // The older entry passes the 730-day retention at day 430.
    app.clock.advance(time::Duration::days(63));
    sweep(&app).await;
    app.drain_jobs().await;
    assert!(
        app.audit_log(a.ws)
            .await
            .iter()
            .any(|e| e.action == "auth.sign_in")
    );
    app.clock.advance(time::Duration::days(2));
    sweep(&app).await;
    app.drain_jobs().await;
    let events = app.audit_log(a.ws).await;
    assert!(events.iter().all(|e| e.action != "auth.sign_in"));
    assert_eq!(events.len(), 2);
}

async fn audit_page_shows_entries_and_filters(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let agent = member(&app, a.ws, "agent@acme.example", Role::Agent).await;
    make_history(&app, &a.token, &agent.id.to_string(), 2).await;
    let html = browser(&app, Method::GET, "/settings/audit", &a.owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("member.role_changed"));
    assert!(html.contains("agent@acme.example"));
    let r = browser(&app, Method::GET, "/settings/audit?action=token.", &a.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.text().await.unwrap().contains("member.role_changed"));
    let r = browser(
        &app,
        Method::GET,
        "/settings/audit?since=yesterday",
        &a.owner,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let r = browser(&app, Method::GET, "/settings/audit", &agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
