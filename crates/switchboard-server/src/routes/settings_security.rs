//! Settings → Security: change password, two-factor authentication (enrol, confirm, turn
//! off, recovery codes) and the list of active sessions.
//!
//! Invariants: every MFA change and new recovery codes require a step-up within the window;
//! recovery codes are shown once, in the answer that created them, and stored hashed; a
//! password change ends every other session of the account.

use crate::audit;
use crate::auth::forms::{FormErrors, NoFields};
use crate::auth::signin;
use crate::auth::step_up::WebRecentAuth;
use crate::auth::throttle::{self, ThrottleKeys};
use crate::auth::totp::{self, Enrolment};
use crate::auth::{ClientInfo, SessionAuth, WebUser, csrf::WebForm, secret_token};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use switchboard_core::SessionId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/security", get(security_page))
        .route("/settings/security/mfa", get(mfa_setup))
        .route("/settings/security/mfa/confirm", post(mfa_confirm))
        .route("/settings/security/mfa/disable", post(mfa_disable))
        .route(
            "/settings/security/recovery-codes",
            post(regenerate_recovery_codes),
        )
        .route("/settings/security/password", post(change_password))
        .route(
            "/settings/security/sessions/{id}/revoke",
            post(revoke_session),
        )
        .route(
            "/settings/security/sessions/revoke-others",
            post(revoke_other_sessions),
        )
}

struct SessionRow {
    id: SessionId,
    user_agent: String,
    ip: String,
    last_seen: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "settings_security.html")]
struct SecurityPage<'a> {
    nav: Option<Nav>,
    section: &'a str,
    csrf_token: String,
    notice: Option<&'static str>,
    mfa_enabled: bool,
    recovery_left: i64,
    setup: Option<Enrolment>,
    recovery_codes: Option<Vec<String>>,
    sessions: Vec<SessionRow>,
    errors: FormErrors,
}

#[derive(Default)]
struct Extras {
    notice: Option<&'static str>,
    setup: Option<Enrolment>,
    recovery_codes: Option<Vec<String>>,
    errors: FormErrors,
    status: Option<StatusCode>,
}

async fn page(state: &AppState, auth: &SessionAuth, extras: Extras) -> Result<Response, WebError> {
    let nav = Nav::load(state, auth).await?;
    let when = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let sessions = state
        .store
        .sessions_of(auth.user.id)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            id: s.id,
            user_agent: s.user_agent.unwrap_or_else(|| "Unknown device".into()),
            ip: s.ip.unwrap_or_default(),
            last_seen: s.last_seen_at.format(&when).unwrap_or_default(),
            current: s.id == auth.session.id,
        })
        .collect();
    // Re-read: the handler may just have changed MFA.
    let user = state.store.user(auth.user.id).await?;
    let page = SecurityPage {
        csrf_token: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "security",
        notice: extras.notice,
        mfa_enabled: user.mfa_enabled(),
        recovery_left: state.store.unused_recovery_codes(user.id).await?,
        setup: extras.setup,
        recovery_codes: extras.recovery_codes,
        sessions,
        errors: extras.errors,
    };
    Ok((extras.status.unwrap_or(StatusCode::OK), render(&page)).into_response())
}

#[derive(serde::Deserialize)]
struct NoticeQuery {
    done: Option<String>,
}

async fn security_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    let notice = match q.done.as_deref() {
        Some("password") => Some("Password changed. Your other sessions were ended."),
        Some("mfa_off") => Some("Two-factor authentication is off."),
        Some("revoked") => Some("Session ended."),
        Some("revoked_others") => Some("All your other sessions were ended."),
        _ => None,
    };
    page(
        &state,
        &auth,
        Extras {
            notice,
            ..Extras::default()
        },
    )
    .await
}

fn step_up(next: &str) -> Response {
    Redirect::to(&format!(
        "/reauth?next={}",
        crate::auth::extract::url_encode(next)
    ))
    .into_response()
}

/// The enrolment of the user's pending (unconfirmed) secret, creating one if needed.
async fn pending_enrolment(state: &AppState, auth: &SessionAuth) -> Result<Enrolment, ApiError> {
    let user = state.store.user(auth.user.id).await?;
    let secret = match user.totp_secret.as_deref() {
        Some(sealed) if !user.mfa_enabled() => totp::open(state, user.id, sealed)?,
        _ => {
            let secret = totp::new_secret();
            let sealed = totp::seal(state, user.id, &secret)?;
            let mut tx = state.store.begin().await?;
            tx.set_totp(user.id, Some(&sealed), None, state.clock.now())
                .await?;
            tx.commit().await?;
            secret
        }
    };
    totp::enrolment(&secret, user.email.as_str())
}

/// Starts (or resumes) enrolment. A GET so the step-up redirect can come back to it; it
/// only ever creates an unconfirmed secret, which grants nothing until a code confirms it.
async fn mfa_setup(
    State(state): State<AppState>,
    WebRecentAuth(auth): WebRecentAuth,
) -> Result<Response, WebError> {
    if auth.user.mfa_enabled() {
        return Ok(Redirect::to("/settings/security").into_response());
    }
    let setup = pending_enrolment(&state, &auth).await?;
    page(
        &state,
        &auth,
        Extras {
            setup: Some(setup),
            ..Extras::default()
        },
    )
    .await
}

#[derive(serde::Deserialize)]
struct CodeForm {
    code: String,
}

async fn mfa_confirm(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<CodeForm>,
) -> Result<Response, WebError> {
    if !auth.recently_authenticated(&state) {
        return Ok(step_up("/settings/security/mfa"));
    }
    let user = &auth.user;
    let (Some(sealed), false) = (user.totp_secret.as_deref(), user.mfa_enabled()) else {
        return Ok(Redirect::to("/settings/security").into_response());
    };
    let secret = totp::open(&state, user.id, sealed)?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let step = match totp::looks_like_code(&form.code) {
        Some(code) => totp::matching_step(&secret, &code, now)?,
        None => None,
    };
    let claimed = match step {
        Some(step) => tx.claim_totp_step(user.id, step).await?,
        None => false,
    };
    if !claimed {
        drop(tx);
        let mut errors = FormErrors::default();
        errors.add(
            "code",
            "That code is not right. Check the time on your device and enter the current code.",
        );
        let setup = totp::enrolment(&secret, user.email.as_str())?;
        return page(
            &state,
            &auth,
            Extras {
                setup: Some(setup),
                errors,
                status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                ..Extras::default()
            },
        )
        .await;
    }
    tx.set_totp(user.id, Some(sealed), Some(now), now).await?;
    let (codes, hashes) = signin::new_recovery_codes();
    tx.replace_recovery_codes(user.id, &hashes, now).await?;
    let event = audit::by_session(&auth, &client, "auth.mfa_enabled");
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    page(
        &state,
        &auth,
        Extras {
            notice: Some("Two-factor authentication is on."),
            recovery_codes: Some(codes),
            ..Extras::default()
        },
    )
    .await
}

async fn mfa_disable(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm {
        auth,
        form: NoFields {},
    }: WebForm<NoFields>,
) -> Result<Response, WebError> {
    if !auth.recently_authenticated(&state) {
        return Ok(step_up("/settings/security"));
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.set_totp(auth.user.id, None, None, now).await?;
    tx.delete_recovery_codes(auth.user.id).await?;
    let event = audit::by_session(&auth, &client, "auth.mfa_disabled");
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(Redirect::to("/settings/security?done=mfa_off").into_response())
}

async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm {
        auth,
        form: NoFields {},
    }: WebForm<NoFields>,
) -> Result<Response, WebError> {
    if !auth.recently_authenticated(&state) {
        return Ok(step_up("/settings/security"));
    }
    if !auth.user.mfa_enabled() {
        return Ok(Redirect::to("/settings/security").into_response());
    }
    let now = state.clock.now();
    let (codes, hashes) = signin::new_recovery_codes();
    let mut tx = state.store.begin().await?;
    tx.replace_recovery_codes(auth.user.id, &hashes, now)
        .await?;
    let event = audit::by_session(&auth, &client, "auth.recovery_codes_regenerated");
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    page(
        &state,
        &auth,
        Extras {
            notice: Some("New recovery codes made; the old ones no longer work."),
            recovery_codes: Some(codes),
            ..Extras::default()
        },
    )
    .await
}

#[derive(serde::Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<PasswordForm>,
) -> Result<Response, WebError> {
    let keys = ThrottleKeys::new(&auth.user.email, client.ip.as_deref());
    throttle::check(&state, &keys).await?;
    let mut errors = FormErrors::default();
    let current = SecretString::from(form.current_password);
    if !signin::verify_password(&current, Some(&auth.user)).await {
        throttle::record_failure(&state, &keys).await?;
        errors.add("current_password", "That is not your current password.");
    }
    let hash = if errors.is_empty() {
        signin::hash_password(&SecretString::from(form.new_password))
            .await
            .map_err(|e| errors.add_validation(e))
            .ok()
    } else {
        None
    };
    let Some(hash) = hash else {
        return page(
            &state,
            &auth,
            Extras {
                errors,
                status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                ..Extras::default()
            },
        )
        .await;
    };
    let now = state.clock.now();
    let token = secret_token::generate("sbs_");
    let mut tx = state.store.begin().await?;
    tx.set_password_hash(auth.user.id, &hash, now).await?;
    let ended = tx
        .delete_sessions_of(auth.user.id, Some(auth.session.id))
        .await?;
    tx.renew_session(auth.session.id, &secret_token::hash(&token), now, None)
        .await?;
    let event = audit::by_session(&auth, &client, "auth.password_changed")
        .details(serde_json::json!({ "sessions_ended": ended }));
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    let mut response = Redirect::to("/settings/security?done=password").into_response();
    signin::set_session_cookie(&state, &mut response, token);
    Ok(response)
}

async fn revoke_session(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm {
        auth,
        form: NoFields {},
    }: WebForm<NoFields>,
) -> Result<Response, WebError> {
    let id: SessionId = id.parse()?;
    let mut tx = state.store.begin().await?;
    tx.delete_session_of(auth.user.id, id).await?;
    let event = audit::by_session(&auth, &client, "auth.sessions_revoked")
        .details(serde_json::json!({ "count": 1 }));
    tx.record_audit(&event, state.clock.now()).await?;
    tx.commit().await?;
    Ok(Redirect::to("/settings/security?done=revoked").into_response())
}

async fn revoke_other_sessions(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm {
        auth,
        form: NoFields {},
    }: WebForm<NoFields>,
) -> Result<Response, WebError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let ended = tx
        .delete_sessions_of(auth.user.id, Some(auth.session.id))
        .await?;
    let event = audit::by_session(&auth, &client, "auth.sessions_revoked")
        .details(serde_json::json!({ "count": ended, "others": true }));
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(Redirect::to("/settings/security?done=revoked_others").into_response())
}
