//! TOTP enrolment and challenge, recovery codes, and step-up re-authentication.

use crate::auth_support::*;
use crate::{TestApp, app_tests};
use serde_json::Value;
use time::Duration;

app_tests!(
    totp_enrolment_then_sign_in_requires_a_current_code,
    a_totp_code_is_accepted_only_once,
    pending_mfa_session_grants_nothing_else,
    pending_mfa_sign_in_expires_after_ten_minutes,
    recovery_code_signs_in_once,
    step_up_is_required_after_five_minutes,
    api_reauth_refreshes_step_up_and_rotates_the_cookie,
    disabling_mfa_requires_step_up,
);

async fn totp_enrolment_then_sign_in_requires_a_current_code(app: TestApp) {
    let client = owner(&app).await;
    // Signed up just now, so the step-up window is open and enrolment starts directly.
    let (secret, _codes) = enrol_totp(&app, &client).await;
    let me: Value = me(&app, &client).await;
    assert_eq!(me["user"]["mfa_enabled"], true);
    assert!(!me.to_string().contains(&secret));

    app.clock.advance(Duration::minutes(1));
    let browser = app.browser();
    let r = sign_in(&app, &browser, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login/mfa")
    );
    let pending = session_token_set_by(&r).unwrap();
    let r = answer_mfa(&app, &browser, "000000").await;
    assert_eq!(r.status(), 401);
    let r = answer_mfa(&app, &browser, &totp_code(&app, &secret, 0)).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    // Passing the challenge rotates the token: the pending one is worthless now.
    let active = session_token_set_by(&r).unwrap();
    assert_ne!(active, pending);
    assert_eq!(me_status_with_token(&app, &pending).await, 401);
    assert_eq!(browser.get(app.at("/")).send().await.unwrap().status(), 200);
}

async fn a_totp_code_is_accepted_only_once(app: TestApp) {
    let client = owner(&app).await;
    let (secret, _) = enrol_totp(&app, &client).await;
    app.clock.advance(Duration::seconds(60));
    let code = totp_code(&app, &secret, 0);
    let first = app.browser();
    sign_in(&app, &first, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(answer_mfa(&app, &first, &code).await.status(), 303);
    let second = app.browser();
    sign_in(&app, &second, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(answer_mfa(&app, &second, &code).await.status(), 401);
    // A code from the previous step is older than the one used: refused too.
    let previous = totp_code(&app, &secret, -1);
    assert_eq!(answer_mfa(&app, &second, &previous).await.status(), 401);
    app.clock.advance(Duration::seconds(30));
    let next = totp_code(&app, &secret, 0);
    assert_eq!(answer_mfa(&app, &second, &next).await.status(), 303);
}

async fn pending_mfa_session_grants_nothing_else(app: TestApp) {
    let client = owner(&app).await;
    enrol_totp(&app, &client).await;
    let browser = app.browser();
    sign_in(&app, &browser, OWNER_EMAIL, OWNER_PASSWORD).await;
    let r = browser.get(app.at("/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    assert_eq!(
        browser
            .get(app.at("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        browser
            .get(app.at("/settings/security"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
}

async fn recovery_code_signs_in_once(app: TestApp) {
    let client = owner(&app).await;
    let (_, codes) = enrol_totp(&app, &client).await;
    let code = codes[3].clone();
    let browser = app.browser();
    sign_in(&app, &browser, OWNER_EMAIL, OWNER_PASSWORD).await;
    // Case and dashes do not matter.
    let r = answer_mfa(&app, &browser, &code.to_uppercase().replace('-', " ")).await;
    assert_eq!(r.status(), 303);
    let other = app.browser();
    sign_in(&app, &other, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(answer_mfa(&app, &other, &code).await.status(), 401);
    assert_eq!(answer_mfa(&app, &other, &codes[4]).await.status(), 303);
    let page = other
        .get(app.at("/settings/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("8 recovery codes left"), "{page}");
}

async fn step_up_is_required_after_five_minutes(app: TestApp) {
    let client = owner(&app).await;
    app.clock.advance(Duration::minutes(4));
    let r = client
        .get(app.at("/settings/security/mfa"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.clock.advance(Duration::minutes(2));
    let r = client
        .get(app.at("/settings/security/mfa"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "/reauth?next=/settings/security/mfa"
    );
    let csrf = csrf_of(&app, &client, "/reauth?next=/settings/security/mfa").await;
    let r = post_form(
        &app,
        &client,
        "/reauth",
        &[
            ("csrf_token", csrf.as_str()),
            ("password", "wrong-password-9"),
            ("next", "/settings/security/mfa"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = post_form(
        &app,
        &client,
        "/reauth",
        &[
            ("csrf_token", csrf.as_str()),
            ("password", OWNER_PASSWORD),
            ("next", "/settings/security/mfa"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/settings/security/mfa");
    assert!(
        session_token_set_by(&r).is_some(),
        "re-authentication rotates the token"
    );
    let r = client
        .get(app.at("/settings/security/mfa"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("id=\"totp-secret\""));
}

async fn api_reauth_refreshes_step_up_and_rotates_the_cookie(app: TestApp) {
    let client = owner(&app).await;
    app.clock.advance(Duration::minutes(10));
    let r = client
        .post(app.at("/api/v1/session/reauth"))
        .json(&serde_json::json!({ "password": "nope-nope-nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_credentials");
    let r = client
        .post(app.at("/api/v1/session/reauth"))
        .json(&serde_json::json!({ "password": OWNER_PASSWORD, "extra": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client
        .post(app.at("/api/v1/session/reauth"))
        .json(&serde_json::json!({ "password": OWNER_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(session_token_set_by(&r).is_some());
    let text = r.text().await.unwrap();
    assert!(text.contains("reauthenticated_until") && !text.contains(OWNER_PASSWORD));
    let r = client
        .get(app.at("/settings/security/mfa"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn disabling_mfa_requires_step_up(app: TestApp) {
    let client = owner(&app).await;
    let (secret, _) = enrol_totp(&app, &client).await;
    app.clock.advance(Duration::minutes(6));
    let csrf = csrf_of(&app, &client, "/settings/security").await;
    let r = post_form(
        &app,
        &client,
        "/settings/security/mfa/disable",
        &[("csrf_token", csrf.as_str())],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/reauth")
    );
    // With MFA on, step-up needs the code as well as the password.
    let csrf = csrf_of(&app, &client, "/reauth?next=/settings/security").await;
    let r = post_form(
        &app,
        &client,
        "/reauth",
        &[("csrf_token", csrf.as_str()), ("password", OWNER_PASSWORD)],
    )
    .await;
    assert_eq!(r.status(), 400);
    let code = totp_code(&app, &secret, 0);
    let r = post_form(
        &app,
        &client,
        "/reauth",
        &[
            ("csrf_token", csrf.as_str()),
            ("password", OWNER_PASSWORD),
            ("code", code.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let r = post_form(
        &app,
        &client,
        "/settings/security/mfa/disable",
        &[("csrf_token", csrf.as_str())],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/settings/security?done=mfa_off");
    let me: Value = me(&app, &client).await;
    assert_eq!(me["user"]["mfa_enabled"], false);
}

async fn pending_mfa_sign_in_expires_after_ten_minutes(app: TestApp) {
    let client = owner(&app).await;
    let (secret, _) = enrol_totp(&app, &client).await;
    let browser = app.browser();
    sign_in(&app, &browser, OWNER_EMAIL, OWNER_PASSWORD).await;
    app.clock.advance(Duration::minutes(11));
    let r = browser.get(app.at("/login/mfa")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    // Completing the challenge in time gives the session its full lifetime.
    sign_in(&app, &browser, OWNER_EMAIL, OWNER_PASSWORD).await;
    app.clock.advance(Duration::minutes(9));
    let r = answer_mfa(&app, &browser, &totp_code(&app, &secret, 0)).await;
    assert_eq!(r.status(), 303);
    app.clock.advance(Duration::minutes(90));
    assert_eq!(browser.get(app.at("/")).send().await.unwrap().status(), 200);
}
