//! Password reset by emailed link, and changing the password from the security settings.

use crate::auth_support::*;
use crate::{TestApp, app_tests};
use time::Duration;

app_tests!(
    reset_link_sets_a_new_password_once_and_ends_sessions,
    reset_link_expires_after_an_hour,
    reset_request_answers_the_same_for_unknown_emails,
    reset_emails_to_one_address_are_limited_per_hour,
    changing_password_needs_the_current_one_and_ends_other_sessions,
);

async fn reset_link_sets_a_new_password_once_and_ends_sessions(app: TestApp) {
    let old_session = owner(&app).await;
    let path = request_reset(&app, OWNER_EMAIL).await;
    let page = app.browser().get(app.at(&path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("New password"));
    let r = post_new_password(&app, &path, "password123").await;
    assert_eq!(r.status(), 422, "common passwords are refused here too");
    let r = post_new_password(&app, &path, "brand-new-secret-77").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?reset=1");
    assert_eq!(
        old_session.get(app.at("/")).send().await.unwrap().status(),
        303
    );
    // Single use.
    let r = post_new_password(&app, &path, "another-new-secret-88").await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        app.browser()
            .get(app.at(&path))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let r = sign_in(&app, &app.browser(), OWNER_EMAIL, "brand-new-secret-77").await;
    assert_eq!(r.status(), 303);
    let r = sign_in(&app, &app.browser(), OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(r.status(), 401);
}

async fn reset_link_expires_after_an_hour(app: TestApp) {
    owner(&app).await;
    let path = request_reset(&app, OWNER_EMAIL).await;
    app.clock.advance(Duration::minutes(61));
    let r = post_new_password(&app, &path, "brand-new-secret-77").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("invalid_reset_link"));
}

async fn reset_request_answers_the_same_for_unknown_emails(app: TestApp) {
    owner(&app).await;
    let ask = |email: &'static str| {
        let client = app.browser();
        let url = app.at("/password/forgot");
        let app = &app;
        async move {
            let csrf = csrf_of(app, &client, "/password/forgot").await;
            let r = client
                .post(url)
                .form(&[("csrf_token", csrf.as_str()), ("email", email)])
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let known = ask(OWNER_EMAIL).await;
    let unknown = ask("nobody@example.com").await;
    assert_eq!(known, unknown);
    app.drain_jobs().await;
    assert_eq!(app.outbox.messages().unwrap().len(), 1);
}

async fn changing_password_needs_the_current_one_and_ends_other_sessions(app: TestApp) {
    let client = owner(&app).await;
    let other = app.browser();
    sign_in(&app, &other, OWNER_EMAIL, OWNER_PASSWORD).await;
    let csrf = csrf_of(&app, &client, "/settings/security").await;
    let r = post_form(
        &app,
        &client,
        "/settings/security/password",
        &[
            ("csrf_token", csrf.as_str()),
            ("current_password", "not-my-password"),
            ("new_password", "brand-new-secret-77"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = post_form(
        &app,
        &client,
        "/settings/security/password",
        &[
            ("csrf_token", csrf.as_str()),
            ("current_password", OWNER_PASSWORD),
            ("new_password", "brand-new-secret-77"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert!(session_token_set_by(&r).is_some());
    assert_eq!(client.get(app.at("/")).send().await.unwrap().status(), 200);
    assert_eq!(other.get(app.at("/")).send().await.unwrap().status(), 303);
}

async fn reset_emails_to_one_address_are_limited_per_hour(app: TestApp) {
    owner(&app).await;
    let client = app.browser();
    let csrf = csrf_of(&app, &client, "/password/forgot").await;
    let mut answers = Vec::new();
    for _ in 0..5 {
        let r = post_form(
            &app,
            &client,
            "/password/forgot",
            &[("csrf_token", csrf.as_str()), ("email", OWNER_EMAIL)],
        )
        .await;
        answers.push((r.status(), r.text().await.unwrap()));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
    app.drain_jobs().await;
    assert_eq!(app.outbox.messages().unwrap().len(), 3);
    app.clock.advance(Duration::minutes(61));
    request_reset(&app, OWNER_EMAIL).await;
    assert_eq!(app.outbox.messages().unwrap().len(), 4);
}
