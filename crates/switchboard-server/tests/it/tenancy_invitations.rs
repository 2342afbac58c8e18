use crate::seed::{Seeded, bearer, browser, member, seed_workspace};
use crate::{TestApp, app_tests};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::{Clock, EmailAddress, Role};
use switchboard_store::testing::columns_containing;

app_tests!(
    invitation_email_carries_a_link_that_creates_account_and_membership,
    signed_in_invitee_joins_with_one_click,
    expired_revoked_and_used_links_are_refused,
    admin_cannot_invite_above_their_grant_and_agent_cannot_invite,
    invitation_form_on_members_page_sends_and_revokes,
);

/// Invites `email` through the API and returns the link from the delivered email.
async fn invite(app: &TestApp, a: &Seeded, email: &str, role: &str) -> (String, String) {
    let r = bearer(app, Method::POST, "/api/v1/invitations", &a.token)
        .json(&json!({"email": email, "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "pending");
    app.drain_jobs().await;
    let link = app.emailed_link(email, "/invitations/");
    (link, body["id"].as_str().unwrap().to_owned())
}

/// Posts the accept page's "create your account" form (no session) to an invitation link.
async fn create_account(app: &TestApp, link: &str, name: &str) -> reqwest::Response {
    app.api()
        .post(link)
        .form(&[("name", name), ("password", "a long enough password")])
        .send()
        .await
        .unwrap()
}

fn token_of(link: &str) -> &str {
    link.rsplit('/').next().unwrap()
}

async fn invitation_email_carries_a_link_that_creates_account_and_membership(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let (link, _) = invite(&app, &a, "New.Person@Example.com", "admin").await;
    // Only the hash of the link's token is stored: the queued email carried the link until
    // it was sent, and a finished job's payload is emptied.
    let stored = columns_containing(&app.store, token_of(&link)).await;
    assert_eq!(stored, Vec::<String>::new());

    let r = app.api().get(&link).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Your name") && html.contains("Password"));
    assert!(html.contains("new.person@example.com"));

    // A too-short password is refused with nothing created.
    let r = app
        .api()
        .post(&link)
        .form(&[("name", "New Person"), ("password", "short")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let email = EmailAddress::parse("new.person@example.com").unwrap();
    assert!(app.store.user_by_email(&email).await.unwrap().is_none());
    // A name with a NUL character (which PostgreSQL cannot store) is refused the same way.
    let r = app
        .api()
        .post(&link)
        .form(&[
            ("name", "New\u{0}Person"),
            ("password", "a long enough passphrase"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(app.store.user_by_email(&email).await.unwrap().is_none());

    let browser_client = app.browser();
    let r = browser_client
        .post(&link)
        .form(&[
            ("name", "New Person"),
            ("password", "a long enough password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let user = app.store.user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(user.display_name, "New Person");
    assert_eq!(
        app.store.role_in(a.ws, user.id).await.unwrap(),
        Some(Role::Admin)
    );

    // Signed in by the same request, working in the new workspace.
    let r = browser_client
        .get(app.at("/api/v1/workspace"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["slug"], "acme");
    assert_eq!(body["role"], "admin");

    let events = app.audit_log(a.ws).await;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["invitation.accepted", "invitation.created"]);
}

async fn signed_in_invitee_joins_with_one_click(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let b = seed_workspace(&app, "globex").await;
    let (link, _) = invite(&app, &a, &b.owner.email, "agent").await;

    // Without a session, an existing account is sent to sign in (and back), not offered a
    // second account.
    let r = app.api().get(&link).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("/login?next=/invitations/"));
    assert!(!html.contains("Your name"));
    let r = create_account(&app, &link, "Dup").await;
    assert_eq!(r.status(), 200, "shown the sign-in hint again");
    assert!(app.store.role_in(a.ws, b.owner.id).await.unwrap().is_none());

    // Someone else's session is told to sign out; nothing changes.
    let other = member(&app, a.ws, "other@acme.example", Role::Agent).await;
    let r = browser(&app, Method::GET, token_path(&link), &other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let r = browser(&app, Method::GET, token_path(&link), &b.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Join acme"));
    // The join form needs the session's CSRF token.
    let r = app
        .api()
        .post(&link)
        .header("cookie", &b.owner.cookie)
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .api()
        .post(&link)
        .header("cookie", &b.owner.cookie)
        .form(&[("csrf_token", b.owner.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.store.role_in(a.ws, b.owner.id).await.unwrap(),
        Some(Role::Agent)
    );
}

fn token_path(link: &str) -> &str {
    &link[link.find("/invitations/").unwrap()..]
}

async fn expired_revoked_and_used_links_are_refused(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let (expiring, _) = invite(&app, &a, "late@example.com", "agent").await;
    let (revoked, revoked_id) = invite(&app, &a, "gone@example.com", "agent").await;
    let (used, _) = invite(&app, &a, "used@example.com", "agent").await;

    let r = bearer(
        &app,
        Method::DELETE,
        &format!("/api/v1/invitations/{revoked_id}"),
        &a.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "revoked");
    let r = app.api().get(&revoked).send().await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("invitation_revoked"));
    let r = create_account(&app, &revoked, "Gone").await;
    assert_eq!(r.status(), 409);

    let r = create_account(&app, &used, "Used").await;
    assert_eq!(r.status(), 303);
    let r = create_account(&app, &used, "Again").await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("invitation_used"));

    app.clock
        .advance(time::Duration::days(7) + time::Duration::seconds(1));
    let r = app.api().get(&expiring).send().await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("invitation_expired"));
    let r = create_account(&app, &expiring, "Late").await;
    assert_eq!(r.status(), 409);
    let email = EmailAddress::parse("late@example.com").unwrap();
    assert!(app.store.user_by_email(&email).await.unwrap().is_none());

    let r = app
        .api()
        .get(app.at("/invitations/sbl_nonsense"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // A fresh link to a workspace deactivated since is refused as well.
    let (link, _) = invite(&app, &a, "after@example.com", "agent").await;
    let mut tx = app.store.begin().await.unwrap();
    tx.deactivate_workspace(a.ws, app.clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let r = create_account(&app, &link, "After").await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("workspace_deactivated"));
}

async fn admin_cannot_invite_above_their_grant_and_agent_cannot_invite(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let admin = member(&app, a.ws, "admin@acme.example", Role::Admin).await;
    let agent = member(&app, a.ws, "agent@acme.example", Role::Agent).await;
    let r = browser(&app, Method::POST, "/api/v1/invitations", &admin)
        .json(&json!({"email": "boss@example.com", "role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = browser(&app, Method::POST, "/api/v1/invitations", &agent)
        .json(&json!({"email": "x@example.com", "role": "agent"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = browser(&app, Method::GET, "/api/v1/invitations", &agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = browser(&app, Method::POST, "/api/v1/invitations", &admin)
        .json(&json!({"email": "agent@acme.example", "role": "agent"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "already a member");
    assert!(app.store.open_invitations(a.ws).await.unwrap().is_empty());
    assert_eq!(app.drain_jobs().await, 0, "no email queued");

    let r = browser(&app, Method::POST, "/api/v1/invitations", &admin)
        .json(&json!({"email": "helper@example.com", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = browser(&app, Method::GET, "/api/v1/invitations", &admin)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["email"], "helper@example.com");
}

async fn invitation_form_on_members_page_sends_and_revokes(app: TestApp) {
    let a = seed_workspace(&app, "acme").await;
    let r = app
        .api()
        .post(app.at("/settings/invitations"))
        .header("cookie", &a.owner.cookie)
        .form(&[
            ("csrf_token", a.owner.csrf.as_str()),
            ("email", "not an email"),
            ("role", "agent"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("name@example.com"));
    let r = app
        .api()
        .post(app.at("/settings/invitations"))
        .header("cookie", &a.owner.cookie)
        .form(&[
            ("csrf_token", a.owner.csrf.as_str()),
            ("email", "pat@example.com"),
            ("role", "agent"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Invitation sent to pat@example.com"));
    let inv = app.store.open_invitations(a.ws).await.unwrap().remove(0);
    assert!(html.contains(&format!("/settings/invitations/{}/revoke", inv.id)));
    app.drain_jobs().await;
    assert_eq!(app.outbox.messages().unwrap().len(), 1);

    let r = app
        .api()
        .post(app.at(&format!("/settings/invitations/{}/revoke", inv.id)))
        .header("cookie", &a.owner.cookie)
        .form(&[("csrf_token", a.owner.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(app.store.open_invitations(a.ws).await.unwrap().is_empty());
}
