//! Sign-up, sign-in, sessions, CSRF, throttling and disabled accounts.

use crate::auth_support::*;
use crate::{TestApp, app_tests};
use serde_json::Value;
use switchboard_core::EmailAddress;
use time::Duration;

app_tests!(
    first_owner_can_sign_up_only_once,
    session_cookie_is_httponly_lax_and_not_secure_over_http,
    sign_in_always_issues_a_new_session_token,
    idle_session_ends_after_the_idle_timeout,
    active_session_ends_at_the_absolute_timeout,
    sign_out_ends_the_session_on_the_server,
    forms_without_a_csrf_token_are_refused,
    wrong_password_and_unknown_email_get_identical_answers,
    repeated_failures_lock_the_account_until_the_lock_expires,
    common_password_is_refused_at_sign_up,
    disabled_user_loses_sessions_and_cannot_sign_in,
    next_parameter_never_redirects_off_site,
    api_me_describes_the_session_user_without_secrets,
    api_me_describes_an_api_token,
    profile_display_name_can_be_changed_and_is_validated,
    sessions_page_lists_and_ends_other_sessions,
    malformed_auth_input_gets_a_4xx_with_a_code,
);

async fn first_owner_can_sign_up_only_once(app: TestApp) {
    let client = owner(&app).await;
    let home = client.get(app.at("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("Acme Shoes"));
    let user = app
        .store
        .user_by_email(&EmailAddress::parse(OWNER_EMAIL).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mine = app.store.workspaces_of(user.id).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].0.slug.as_str(), "acme-shoes");
    assert_eq!(mine[0].1, switchboard_core::Role::Owner);

    // A second visitor is sent to sign in, and a replayed form creates nobody.
    let other = app.browser();
    let r = other.get(app.at("/signup")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let csrf = csrf_of(&app, &other, "/login").await;
    let r = post_form(
        &app,
        &other,
        "/signup",
        &[
            ("csrf_token", csrf.as_str()),
            ("display_name", "Mallory"),
            ("email", "mallory@example.com"),
            ("password", "another-fine-secret"),
            ("workspace_name", "Evil"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    assert_eq!(app.store.user_count().await.unwrap(), 1);
}

async fn session_cookie_is_httponly_lax_and_not_secure_over_http(app: TestApp) {
    owner(&app).await;
    let r = sign_in(&app, &app.browser(), OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("sb_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    // 256 bits of randomness, base64: far above ASVS's 128.
    assert!(session_token_set_by(&r).unwrap().len() >= 43);
}

async fn sign_in_always_issues_a_new_session_token(app: TestApp) {
    owner(&app).await;
    let client = app.browser();
    let first = sign_in(&app, &client, OWNER_EMAIL, OWNER_PASSWORD).await;
    let first = session_token_set_by(&first).unwrap();
    let second = sign_in(&app, &client, OWNER_EMAIL, OWNER_PASSWORD).await;
    let second = session_token_set_by(&second).unwrap();
    assert_ne!(first, second);
    // The cookie the browser came with is ended, not reused.
    assert_eq!(me_status_with_token(&app, &first).await, 401);
    assert_eq!(me_status_with_token(&app, &second).await, 200);
}

async fn idle_session_ends_after_the_idle_timeout(app: TestApp) {
    let client = owner(&app).await;
    app.clock.advance(Duration::minutes(119));
    assert_eq!(client.get(app.at("/")).send().await.unwrap().status(), 200);
    app.clock.advance(Duration::minutes(119));
    assert_eq!(client.get(app.at("/")).send().await.unwrap().status(), 200);
    app.clock.advance(Duration::minutes(121));
    let r = client.get(app.at("/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
}

async fn active_session_ends_at_the_absolute_timeout(app: TestApp) {
    let client = owner(&app).await;
    // Busy all day: never idle, yet the session ends 12 hours after sign-in.
    for _ in 0..11 {
        app.clock.advance(Duration::minutes(60));
        assert_eq!(client.get(app.at("/")).send().await.unwrap().status(), 200);
    }
    app.clock.advance(Duration::minutes(61));
    let r = client.get(app.at("/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
}

async fn sign_out_ends_the_session_on_the_server(app: TestApp) {
    owner(&app).await;
    let client = app.browser();
    let r = sign_in(&app, &client, OWNER_EMAIL, OWNER_PASSWORD).await;
    let token = session_token_set_by(&r).unwrap();
    let csrf = csrf_of(&app, &client, "/").await;
    let r = post_form(&app, &client, "/logout", &[("csrf_token", csrf.as_str())]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    // Replaying the old cookie gets nowhere: the session is gone from the database.
    assert_eq!(me_status_with_token(&app, &token).await, 401);
}

async fn forms_without_a_csrf_token_are_refused(app: TestApp) {
    let anon = app.browser();
    // Pre-session forms: with the cookie but without the field, and with a forged field.
    csrf_of(&app, &anon, "/signup").await;
    let r = post_form(
        &app,
        &anon,
        "/signup",
        &[
            ("display_name", "A"),
            ("email", "a@example.com"),
            ("password", "long enough secret"),
            ("workspace_name", "A"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403);
    let client = owner(&app).await;
    for (path, form) in [
        (
            "/login",
            vec![("email", OWNER_EMAIL), ("password", OWNER_PASSWORD)],
        ),
        ("/password/forgot", vec![("email", OWNER_EMAIL)]),
        (
            "/login",
            vec![
                ("csrf_token", "forged"),
                ("email", OWNER_EMAIL),
                ("password", OWNER_PASSWORD),
            ],
        ),
    ] {
        let r = app
            .browser()
            .post(app.at(path))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    // Signed-in forms.
    for path in [
        "/logout",
        "/settings/profile",
        "/settings/security/sessions/revoke-others",
    ] {
        let r = post_form(&app, &client, path, &[("display_name", "X")]).await;
        assert_eq!(r.status(), 403, "{path}");
    }
    assert_eq!(client.get(app.at("/")).send().await.unwrap().status(), 200);
}

async fn wrong_password_and_unknown_email_get_identical_answers(app: TestApp) {
    owner(&app).await;
    let client = app.browser();
    let csrf = csrf_of(&app, &client, "/login").await;
    let attempt = |email: &'static str| {
        let client = client.clone();
        let csrf = csrf.clone();
        let url = app.at("/login");
        async move {
            let r = client
                .post(url)
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("email", email),
                    ("password", "not-the-password-1"),
                ])
                .send()
                .await
                .unwrap();
            let status = r.status();
            let has_cookie = r.headers().contains_key("set-cookie");
            // The typed email is echoed back into the form; take it out to compare.
            let body = r.text().await.unwrap().replace(email, "EMAIL");
            (status, has_cookie, body)
        }
    };
    let wrong = attempt("owner@example.com").await;
    let unknown = attempt("nobody@example.com").await;
    assert_eq!(wrong.0, 401);
    assert_eq!(wrong, unknown);
}

async fn repeated_failures_lock_the_account_until_the_lock_expires(app: TestApp) {
    owner(&app).await;
    let client = app.browser();
    for _ in 0..5 {
        let r = sign_in(&app, &client, OWNER_EMAIL, "wrong-password-1").await;
        assert_eq!(r.status(), 401);
    }
    // Locked: even the right password is refused, with the same answer for unknown emails.
    let r = sign_in(&app, &client, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    app.clock.advance(Duration::seconds(61));
    let r = sign_in(&app, &client, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert!(session_token_set_by(&r).is_some());
    let metrics = app.metrics().await;
    assert!(metrics.contains("outcome=\"throttled\""), "{metrics}");
}

async fn common_password_is_refused_at_sign_up(app: TestApp) {
    let client = app.browser();
    let csrf = csrf_of(&app, &client, "/signup").await;
    let r = post_form(
        &app,
        &client,
        "/signup",
        &[
            ("csrf_token", csrf.as_str()),
            ("display_name", "Olga"),
            ("email", OWNER_EMAIL),
            ("password", "Password123"),
            ("workspace_name", "Acme"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("most commonly used"), "{html}");
    assert!(html.contains("aria-describedby=\"password-hint password-error\""));
    assert_eq!(app.store.user_count().await.unwrap(), 0);
}

async fn disabled_user_loses_sessions_and_cannot_sign_in(app: TestApp) {
    let client = owner(&app).await;
    let user = app
        .store
        .user_by_email(&EmailAddress::parse(OWNER_EMAIL).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut tx = app.store.begin().await.unwrap();
    tx.disable_user(user.id, switchboard_core::Clock::now(&app.clock))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(client.get(app.at("/")).send().await.unwrap().status(), 303);
    assert!(app.store.sessions_of(user.id).await.unwrap().is_empty());
    let r = sign_in(&app, &app.browser(), OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(r.status(), 401);
    assert!(session_token_set_by(&r).is_none());
}

async fn next_parameter_never_redirects_off_site(app: TestApp) {
    owner(&app).await;
    for (next, expected) in [
        ("/settings/profile", "/settings/profile"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
    ] {
        let client = app.browser();
        let csrf = csrf_of(&app, &client, "/login").await;
        let r = post_form(
            &app,
            &client,
            "/login",
            &[
                ("csrf_token", csrf.as_str()),
                ("email", OWNER_EMAIL),
                ("password", OWNER_PASSWORD),
                ("next", next),
            ],
        )
        .await;
        assert_eq!(r.headers()["location"], expected);
    }
}

async fn api_me_describes_the_session_user_without_secrets(app: TestApp) {
    let client = owner(&app).await;
    let r = client.get(app.at("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["kind"], "user");
    assert_eq!(body["user"]["email"], OWNER_EMAIL);
    assert_eq!(body["user"]["mfa_enabled"], false);
    assert_eq!(body["memberships"][0]["role"], "owner");
    assert_eq!(body["memberships"][0]["workspace_slug"], "acme-shoes");
    assert!(!text.contains(OWNER_PASSWORD));
    assert!(!text.contains("argon2"));
    assert!(!text.contains("sbs_"));
    assert!(!text.to_lowercase().contains("secret"));
    // Without a session: 401 with the JSON error body.
    let r = app.api().get(app.at("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    let doc = app.openapi().await;
    assert!(doc["paths"]["/api/v1/me"].is_object(), "{doc}");
    assert!(doc["paths"]["/api/v1/session/reauth"].is_object(), "{doc}");
}

async fn api_me_describes_an_api_token(app: TestApp) {
    owner(&app).await;
    let user = app
        .store
        .user_by_email(&EmailAddress::parse(OWNER_EMAIL).unwrap())
        .await
        .unwrap()
        .unwrap();
    let (ws, _) = app.store.workspaces_of(user.id).await.unwrap().remove(0);
    let secret = "sbt_test-token-for-me-endpoint-0123456789abcdef";
    let hash = hex_sha256(secret);
    let mut tx = app.store.begin().await.unwrap();
    tx.insert_api_token(
        ws.id,
        switchboard_store::tokens::NewApiToken {
            name: "CI bot",
            role: switchboard_core::Role::Agent,
            token_hash: &hash,
            token_prefix: "sbt_test",
            created_by: Some(user.id),
        },
        switchboard_core::Clock::now(&app.clock),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let r = app
        .api()
        .get(app.at("/api/v1/me"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains(secret));
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["kind"], "token");
    assert_eq!(body["token"]["name"], "CI bot");
    assert_eq!(body["token"]["role"], "agent");
    assert_eq!(body["active_workspace_id"], ws.id.to_string());
    assert!(body["user"].is_null());
}

fn hex_sha256(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

async fn profile_display_name_can_be_changed_and_is_validated(app: TestApp) {
    let client = owner(&app).await;
    let csrf = csrf_of(&app, &client, "/settings/profile").await;
    let r = post_form(
        &app,
        &client,
        "/settings/profile",
        &[("csrf_token", csrf.as_str()), ("display_name", "   ")],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("aria-describedby=\"display_name-error\"")
    );
    let r = post_form(
        &app,
        &client,
        "/settings/profile",
        &[("csrf_token", csrf.as_str()), ("display_name", "Olga O.")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let me: Value = me(&app, &client).await;
    assert_eq!(me["user"]["display_name"], "Olga O.");
}

async fn sessions_page_lists_and_ends_other_sessions(app: TestApp) {
    let client = owner(&app).await;
    let laptop = app.browser();
    let r = sign_in(&app, &laptop, OWNER_EMAIL, OWNER_PASSWORD).await;
    let laptop_token = session_token_set_by(&r).unwrap();
    let phone = app.browser();
    sign_in(&app, &phone, OWNER_EMAIL, OWNER_PASSWORD).await;
    let page = client
        .get(app.at("/settings/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("127.0.0.1"));
    assert!(page.contains("This session"));
    let revoke = page
        .split("action=\"/settings/security/sessions/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert!(revoke.ends_with("/revoke"), "{revoke}");
    let csrf = csrf_in(&page);
    let r = post_form(
        &app,
        &client,
        &format!("/settings/security/sessions/{revoke}"),
        &[("csrf_token", csrf.as_str())],
    )
    .await;
    assert_eq!(r.status(), 303);
    let alive = [&laptop, &phone];
    let mut ended = 0;
    for b in alive {
        if b.get(app.at("/")).send().await.unwrap().status() == 303 {
            ended += 1;
        }
    }
    assert_eq!(ended, 1);
    // Someone else's session id is not found, not ended.
    let r = client
        .post(app.at(&format!(
            "/settings/security/sessions/{}/revoke",
            switchboard_core::SessionId::new()
        )))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = post_form(
        &app,
        &client,
        "/settings/security/sessions/revoke-others",
        &[("csrf_token", csrf.as_str())],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(laptop.get(app.at("/")).send().await.unwrap().status(), 303);
    assert_eq!(phone.get(app.at("/")).send().await.unwrap().status(), 303);
    assert_eq!(me_status_with_token(&app, &laptop_token).await, 401);
    assert_eq!(client.get(app.at("/")).send().await.unwrap().status(), 200);
}

async fn malformed_auth_input_gets_a_4xx_with_a_code(app: TestApp) {
    let client = owner(&app).await;
    let anon = app.browser();
    let csrf = csrf_of(&app, &anon, "/login").await;
    // A form missing a field.
    let r = post_form(
        &app,
        &anon,
        "/login",
        &[("csrf_token", csrf.as_str()), ("email", OWNER_EMAIL)],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("invalid_form"));
    // Not an email at all: the ordinary failed sign-in answer.
    let r = post_form(
        &app,
        &anon,
        "/login",
        &[
            ("csrf_token", csrf.as_str()),
            ("email", "\u{0}x"),
            ("password", "y"),
        ],
    )
    .await;
    assert_eq!(r.status(), 401);
    // A reset link that is not one.
    let r = anon
        .get(app.at("/password/reset/%3Cscript%3E"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // JSON: wrong types, missing fields, not JSON.
    for body in [r#"{"password": 5}"#, r#"{}"#, "password=x"] {
        let r = client
            .post(app.at("/api/v1/session/reauth"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let v: Value = r.json().await.unwrap();
        assert!(v["error"]["code"].is_string());
    }
    let r = client
        .post(app.at("/api/v1/session/reauth"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // A session id that is not an id.
    let csrf = csrf_of(&app, &client, "/settings/security").await;
    let r = post_form(
        &app,
        &client,
        "/settings/security/sessions/not-an-id/revoke",
        &[("csrf_token", csrf.as_str())],
    )
    .await;
    assert_eq!(r.status(), 422);
}
