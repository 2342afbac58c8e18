//! Signing in (password, then the MFA challenge when enrolled), signing out, and step-up
//! re-authentication.
//!
//! Invariants: a wrong password and an unknown email get byte-for-byte the same answer, after
//! the same Argon2id work; a session waiting for its MFA code (`pending_mfa`) is accepted by
//! nothing but `/login/mfa`; every proof of identity ends with a fresh session token.

use crate::audit;
use crate::auth::extract::{load_session, url_encode};
use crate::auth::forms::{FormErrors, NoFields, PreSessionCsrf, PublicForm};
use crate::auth::signin::{self, SecondFactor, safe_next};
use crate::auth::throttle::{self, ThrottleKeys};
use crate::auth::{ClientInfo, SessionAuth, WebUser, cookies, csrf::WebForm, secret_token};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use switchboard_core::EmailAddress;
use switchboard_store::sessions::SessionState;
use switchboard_store::users::UserStatus;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/login/mfa", get(mfa_page).post(mfa))
        .route("/logout", post(logout))
        .route("/reauth", get(reauth_page).post(reauth))
}

/// The one answer for every failed password sign-in, whatever the reason.
const SIGN_IN_FAILED: &str = "That email and password do not match an account.";

#[derive(serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    reset: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<Nav>,
    csrf_token: String,
    next: String,
    email: String,
    notice: Option<&'static str>,
    errors: FormErrors,
}

async fn login_page(
    State(state): State<AppState>,
    csrf: PreSessionCsrf,
    Query(q): Query<NextQuery>,
) -> Result<Response, WebError> {
    if state.store.user_count().await? == 0 {
        return Ok(Redirect::to("/signup").into_response());
    }
    let page = LoginPage {
        nav: None,
        csrf_token: csrf.token.clone(),
        next: safe_next(q.next.as_deref()),
        email: String::new(),
        notice: q
            .reset
            .is_some()
            .then_some("Your password was changed. Sign in with the new one."),
        errors: FormErrors::default(),
    };
    Ok(csrf.respond(render(&page)))
}

#[derive(serde::Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    PublicForm { form, csrf }: PublicForm<LoginForm>,
) -> Result<Response, WebError> {
    let next = safe_next(form.next.as_deref());
    let refuse = |status: StatusCode, message: String| {
        let page = LoginPage {
            nav: None,
            csrf_token: csrf.token.clone(),
            next: next.clone(),
            email: form.email.clone(),
            notice: None,
            errors: FormErrors::whole(message),
        };
        (status, render(&page)).into_response()
    };
    let keys = ThrottleKeys::for_account_text(&form.email, client.ip.as_deref());
    if let Err(e) = throttle::check(&state, &keys).await {
        state.metrics.count_sign_in("throttled");
        let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, e.to_string());
        if let ApiError::TooManyRequests { retry_after_secs } = e
            && let Ok(v) = retry_after_secs.to_string().parse()
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        return Ok(response);
    }
    let password = SecretString::from(form.password.clone());
    let found = match EmailAddress::parse(&form.email) {
        Ok(email) => state.store.user_by_email(&email).await?,
        Err(_) => None,
    };
    let password_ok = signin::verify_password(&password, found.as_ref()).await;
    let user = match found {
        Some(user) if password_ok && user.status == UserStatus::Active => user,
        other => {
            throttle::record_failure(&state, &keys).await?;
            state.metrics.count_sign_in("failure");
            let mut event = match &other {
                Some(user) => audit::on_account("auth.sign_in_failed", user, None, &client),
                None => switchboard_store::audit::NewAuditEvent {
                    ip: client.ip.clone(),
                    user_agent: client.user_agent.clone(),
                    ..switchboard_store::audit::NewAuditEvent::new("auth.sign_in_failed")
                },
            };
            let reason = match &other {
                None => "unknown_account",
                Some(u) if u.status != UserStatus::Active => "account_disabled",
                Some(_) => "wrong_password",
            };
            event.details = serde_json::json!({ "reason": reason });
            state.store.record_audit(&event, state.clock.now()).await?;
            return Ok(refuse(StatusCode::UNAUTHORIZED, SIGN_IN_FAILED.to_owned()));
        }
    };
    throttle::record_success(&state, &keys).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    signin::end_presented_session(&state, &mut tx, &headers).await?;
    let session_state = if user.mfa_enabled() {
        SessionState::PendingMfa
    } else {
        SessionState::Active
    };
    let started =
        signin::start_session(&state, &mut tx, &user, session_state, &client, None).await?;
    let target = if user.mfa_enabled() {
        state.metrics.count_sign_in("mfa_required");
        format!("/login/mfa?next={}", url_encode(&next))
    } else {
        state.metrics.count_sign_in("success");
        let event = audit::on_account("auth.sign_in", &user, started.workspace, &client)
            .details(serde_json::json!({ "mfa": false }));
        tx.record_audit(&event, now).await?;
        next
    };
    tx.commit().await?;
    let mut response = Redirect::to(&target).into_response();
    signin::set_session_cookie(&state, &mut response, started.token);
    Ok(response)
}

#[derive(Template)]
#[template(path = "login_mfa.html")]
struct MfaPage {
    nav: Option<Nav>,
    csrf_token: String,
    next: String,
    errors: FormErrors,
}

async fn mfa_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    csrf: PreSessionCsrf,
    Query(q): Query<NextQuery>,
) -> Result<Response, WebError> {
    if load_session(&headers, &state, SessionState::PendingMfa)
        .await?
        .is_none()
    {
        return Ok(Redirect::to("/login").into_response());
    }
    let page = MfaPage {
        nav: None,
        csrf_token: csrf.token.clone(),
        next: safe_next(q.next.as_deref()),
        errors: FormErrors::default(),
    };
    Ok(csrf.respond(render(&page)))
}

#[derive(serde::Deserialize)]
struct MfaForm {
    code: String,
    next: Option<String>,
}

async fn mfa(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    PublicForm { form, csrf }: PublicForm<MfaForm>,
) -> Result<Response, WebError> {
    let next = safe_next(form.next.as_deref());
    let Some((session, user)) = load_session(&headers, &state, SessionState::PendingMfa).await?
    else {
        return Ok(Redirect::to("/login").into_response());
    };
    let refuse = |status: StatusCode, message: String| {
        let page = MfaPage {
            nav: None,
            csrf_token: csrf.token.clone(),
            next: next.clone(),
            errors: FormErrors::whole(message),
        };
        (status, render(&page)).into_response()
    };
    let keys = ThrottleKeys::new(&user.email, client.ip.as_deref());
    if let Err(e) = throttle::check(&state, &keys).await {
        state.metrics.count_sign_in("throttled");
        return Ok(refuse(StatusCode::TOO_MANY_REQUESTS, e.to_string()));
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let Some(factor) = signin::check_second_factor(&state, &mut tx, &user, &form.code).await?
    else {
        drop(tx);
        throttle::record_failure(&state, &keys).await?;
        state.metrics.count_sign_in("failure");
        let event = audit::on_account("auth.sign_in_failed", &user, None, &client)
            .details(serde_json::json!({ "reason": "wrong_mfa_code" }));
        state.store.record_audit(&event, now).await?;
        return Ok(refuse(
            StatusCode::UNAUTHORIZED,
            "That code is not right, or was already used. Try the next code from your app.".into(),
        ));
    };
    let token = secret_token::generate("sbs_");
    let expires_at = now + signin::absolute_lifetime(&state);
    tx.renew_session(
        session.id,
        &secret_token::hash(&token),
        now,
        Some(expires_at),
    )
    .await?;
    let event = audit::on_account("auth.sign_in", &user, session.active_workspace_id, &client)
        .details(serde_json::json!({ "mfa": true }));
    tx.record_audit(&event, now).await?;
    if factor == SecondFactor::RecoveryCode {
        let event = audit::on_account(
            "auth.recovery_code_used",
            &user,
            session.active_workspace_id,
            &client,
        );
        tx.record_audit(&event, now).await?;
    }
    tx.commit().await?;
    throttle::record_success(&state, &keys).await?;
    state.metrics.count_sign_in("success");
    let mut response = Redirect::to(&next).into_response();
    signin::set_session_cookie(&state, &mut response, token);
    Ok(response)
}

async fn logout(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm {
        auth,
        form: NoFields {},
    }: WebForm<NoFields>,
) -> Result<Response, WebError> {
    let mut tx = state.store.begin().await?;
    tx.delete_session(auth.session.id).await?;
    let event = audit::by_session(&auth, &client, "auth.sign_out");
    tx.record_audit(&event, state.clock.now()).await?;
    tx.commit().await?;
    let mut response = Redirect::to("/login").into_response();
    crate::auth::forms::add_cookie(
        &mut response,
        &cookies::cleared_session_cookie(&state.config),
    );
    Ok(response)
}

#[derive(Template)]
#[template(path = "reauth.html")]
struct ReauthPage {
    nav: Option<Nav>,
    csrf_token: String,
    next: String,
    mfa: bool,
    errors: FormErrors,
}

async fn reauth_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    Query(q): Query<NextQuery>,
) -> Result<Response, WebError> {
    let nav = Nav::load(&state, &auth).await?;
    Ok(render(&ReauthPage {
        csrf_token: nav.csrf_token.clone(),
        nav: Some(nav),
        next: safe_next(q.next.as_deref()),
        mfa: auth.user.mfa_enabled(),
        errors: FormErrors::default(),
    }))
}

#[derive(serde::Deserialize)]
struct ReauthForm {
    password: String,
    code: Option<String>,
    next: Option<String>,
}

async fn reauth(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<ReauthForm>,
) -> Result<Response, WebError> {
    let next = safe_next(form.next.as_deref());
    let password = SecretString::from(form.password);
    match reauthenticate(&state, &auth, &client, &password, form.code.as_deref()).await {
        Ok(token) => {
            let mut response = Redirect::to(&next).into_response();
            signin::set_session_cookie(&state, &mut response, token);
            Ok(response)
        }
        Err(e) => {
            let status = e.status();
            let message = match e {
                ApiError::TooManyRequests { .. } => e.to_string(),
                ApiError::BadRequest { .. } => e.to_string(),
                other => return Err(WebError(other)),
            };
            let nav = Nav::load(&state, &auth).await?;
            let page = ReauthPage {
                csrf_token: nav.csrf_token.clone(),
                nav: Some(nav),
                next,
                mfa: auth.user.mfa_enabled(),
                errors: FormErrors::whole(message),
            };
            Ok((status, render(&page)).into_response())
        }
    }
}

/// Step-up: checks the password (and the TOTP code when enrolled), then gives the session a
/// new token and a fresh `reauthenticated_at`. Returns the new token for the cookie.
pub async fn reauthenticate(
    state: &AppState,
    auth: &SessionAuth,
    client: &ClientInfo,
    password: &SecretString,
    code: Option<&str>,
) -> Result<String, ApiError> {
    let keys = ThrottleKeys::new(&auth.user.email, client.ip.as_deref());
    throttle::check(state, &keys).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let mut ok = signin::verify_password(password, Some(&auth.user)).await;
    if ok && auth.user.mfa_enabled() {
        ok = match code {
            Some(code) => signin::check_second_factor(state, &mut tx, &auth.user, code)
                .await?
                .is_some(),
            None => false,
        };
    }
    if !ok {
        drop(tx);
        throttle::record_failure(state, &keys).await?;
        let event = audit::by_session(auth, client, "auth.reauthentication_failed");
        state.store.record_audit(&event, now).await?;
        return Err(ApiError::bad_request(
            "invalid_credentials",
            if auth.user.mfa_enabled() {
                "That password or code is not right."
            } else {
                "That password is not right."
            },
        ));
    }
    let token = secret_token::generate("sbs_");
    tx.renew_session(auth.session.id, &secret_token::hash(&token), now, None)
        .await?;
    let event = audit::by_session(auth, client, "auth.reauthenticated");
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    throttle::record_success(state, &keys).await?;
    Ok(token)
}
