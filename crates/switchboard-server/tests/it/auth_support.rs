//! Helpers for the authentication tests: reading CSRF tokens and secrets out of pages,
//! signing up and in like a browser, resetting a password by its emailed link, and
//! computing TOTP codes from a secret.

use crate::TestApp;
use reqwest::{Client, Response};

pub const OWNER_EMAIL: &str = "owner@example.com";
pub const OWNER_PASSWORD: &str = "tangerine-walrus-42";

/// The value of the first `name="csrf_token"` field in a page.
pub fn csrf_in(html: &str) -> String {
    between(html, "name=\"csrf_token\" value=\"", "\"")
        .unwrap_or_else(|| panic!("no csrf token in {html}"))
}

pub fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(text[from..from + len].to_owned())
}

/// GETs a page and returns the CSRF token of its form.
pub async fn csrf_of(app: &TestApp, client: &Client, path: &str) -> String {
    let r = client.get(app.at(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    csrf_in(&r.text().await.unwrap())
}

/// Posts a form to `path` from `client`, with its cookies.
pub async fn post_form(
    app: &TestApp,
    client: &Client,
    path: &str,
    fields: &[(&str, &str)],
) -> Response {
    client.post(app.at(path)).form(fields).send().await.unwrap()
}

/// Signs up the first owner (workspace "Acme Shoes") in `client`; returns the session token
/// it was given.
pub async fn sign_up(app: &TestApp, client: &Client) -> String {
    let csrf = csrf_of(app, client, "/signup").await;
    let r = post_form(
        app,
        client,
        "/signup",
        &[
            ("csrf_token", csrf.as_str()),
            ("display_name", "Olga Owner"),
            ("email", OWNER_EMAIL),
            ("password", OWNER_PASSWORD),
            ("workspace_name", "Acme Shoes"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["location"], "/");
    session_token_set_by(&r).expect("sign-up sets a session cookie")
}

/// Posts the sign-in form (after loading it for its CSRF token).
pub async fn sign_in(app: &TestApp, client: &Client, email: &str, password: &str) -> Response {
    let csrf = csrf_of(app, client, "/login").await;
    post_form(
        app,
        client,
        "/login",
        &[
            ("csrf_token", csrf.as_str()),
            ("email", email),
            ("password", password),
        ],
    )
    .await
}

/// A signed-in owner: a fresh instance with the first owner signed up in a new browser.
pub async fn owner(app: &TestApp) -> Client {
    let client = app.browser();
    sign_up(app, &client).await;
    client
}

/// The session token a response sets, if any.
pub fn session_token_set_by(r: &Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sb_session="))
        .and_then(|v| between(v, "sb_session=", ";"))
        .filter(|v| !v.is_empty())
}

/// `/api/v1/me` as `client` sees it.
pub async fn me(app: &TestApp, client: &Client) -> serde_json::Value {
    client
        .get(app.at("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Calls `/api/v1/me` with only this session token (no cookie jar).
pub async fn me_status_with_token(app: &TestApp, token: &str) -> u16 {
    app.api()
        .get(app.at("/api/v1/me"))
        .header("cookie", format!("sb_session={token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The TOTP code for `secret_base32` at the app's current time, `offset_steps` away.
pub fn totp_code(app: &TestApp, secret_base32: &str, offset_steps: i64) -> String {
    let secret = totp_rs::Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .unwrap();
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        None,
        "test".into(),
    );
    let now = switchboard_core::Clock::now(&app.clock).unix_timestamp() + offset_steps * 30;
    totp.generate(now as u64)
}

/// Enrols TOTP for the signed-in `client` (recently authenticated) and returns the base32
/// secret and the recovery codes shown.
pub async fn enrol_totp(app: &TestApp, client: &Client) -> (String, Vec<String>) {
    let r = client
        .get(app.at("/settings/security/mfa"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let secret = between(&html, "id=\"totp-secret\">", "<").unwrap();
    let csrf = csrf_in(&html);
    let code = totp_code(app, &secret, 0);
    let r = post_form(
        app,
        client,
        "/settings/security/mfa/confirm",
        &[("csrf_token", csrf.as_str()), ("code", code.as_str())],
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let list = between(&html, "id=\"recovery-codes\">", "</ul>").unwrap();
    let codes: Vec<String> = list
        .split("<code>")
        .skip(1)
        .filter_map(|c| c.split("</code>").next())
        .map(str::to_owned)
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

/// Posts the MFA challenge form.
pub async fn answer_mfa(app: &TestApp, client: &Client, code: &str) -> Response {
    let csrf = csrf_of(app, client, "/login/mfa").await;
    post_form(
        app,
        client,
        "/login/mfa",
        &[("csrf_token", csrf.as_str()), ("code", code)],
    )
    .await
}

/// Requests a reset for `email` and returns the link path from the emailed message.
pub async fn request_reset(app: &TestApp, email: &str) -> String {
    let client = app.browser();
    let csrf = csrf_of(app, &client, "/password/forgot").await;
    let r = post_form(
        app,
        &client,
        "/password/forgot",
        &[("csrf_token", csrf.as_str()), ("email", email)],
    )
    .await;
    assert_eq!(r.status(), 200);
    app.drain_jobs().await;
    let latest = app.outbox.messages().unwrap().pop().unwrap();
    assert_eq!(latest.to, email, "the reset email is the latest one sent");
    let link = app.emailed_link(email, "/password/reset/");
    link.strip_prefix(&app.url).unwrap().to_owned()
}

/// Posts a new password to a reset link `path` (after loading a form for a CSRF token).
pub async fn post_new_password(app: &TestApp, path: &str, password: &str) -> Response {
    let client = app.browser();
    let csrf = csrf_of(app, &client, "/login").await;
    post_form(
        app,
        &client,
        path,
        &[("csrf_token", csrf.as_str()), ("password", password)],
    )
    .await
}
