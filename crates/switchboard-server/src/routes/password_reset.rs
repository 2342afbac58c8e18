//! Password reset by emailed link: single use, valid for one hour, only its hash stored.
//!
//! Invariants: asking for a link answers the same whether or not the account exists; the
//! email is queued in the same transaction as the link; using the link ends every session
//! of the account.

use crate::audit;
use crate::auth::forms::{FormErrors, PreSessionCsrf, PublicForm};
use crate::auth::{ClientInfo, secret_token, signin, throttle};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use secrecy::SecretString;
use switchboard_core::EmailAddress;
use switchboard_mail::Email;
use switchboard_store::users::UserStatus;

const LINK_LIFETIME: time::Duration = time::Duration::hours(1);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/password/forgot", get(forgot_page).post(forgot))
        .route("/password/reset/{token}", get(reset_page).post(reset))
}

#[derive(Template)]
#[template(path = "password_forgot.html")]
struct ForgotPage {
    nav: Option<Nav>,
    csrf_token: String,
    sent: bool,
    errors: FormErrors,
}

async fn forgot_page(csrf: PreSessionCsrf) -> Response {
    let page = ForgotPage {
        nav: None,
        csrf_token: csrf.token.clone(),
        sent: false,
        errors: FormErrors::default(),
    };
    csrf.respond(render(&page))
}

#[derive(serde::Deserialize)]
struct ForgotForm {
    email: String,
}

async fn forgot(
    State(state): State<AppState>,
    client: ClientInfo,
    PublicForm { form, csrf }: PublicForm<ForgotForm>,
) -> Result<Response, WebError> {
    let email = match EmailAddress::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            let mut errors = FormErrors::default();
            errors.add("email", e.message);
            let page = ForgotPage {
                nav: None,
                csrf_token: csrf.token.clone(),
                sent: false,
                errors,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
        }
    };
    if let Some(user) = state.store.user_by_email(&email).await?
        && user.status == UserStatus::Active
        && throttle::allow_reset_email(&state, &email).await?
    {
        let now = state.clock.now();
        let token = secret_token::generate("sbl_");
        let link = format!("{}/password/reset/{token}", state.config.public_url);
        let mut tx = state.store.begin().await?;
        tx.insert_password_reset(
            user.id,
            &secret_token::hash(&token),
            now,
            now + LINK_LIFETIME,
        )
        .await?;
        let message = Email {
            to: user.email.to_string(),
            subject: "Reset your Switchboard password".into(),
            text: format!(
                "Hello {},\n\nSomeone (hopefully you) asked to reset the password of your \
                 Switchboard account. Open this link within one hour to choose a new password:\n\n\
                 {link}\n\nThe link works once. If you did not ask for this, ignore this email: \
                 your password stays as it is.\n",
                user.display_name
            ),
        };
        crate::jobs::email::enqueue(&mut tx, &message, now).await?;
        tx.record_audit(
            &audit::on_account("auth.password_reset_requested", &user, None, &client),
            now,
        )
        .await?;
        tx.commit().await?;
    }
    let page = ForgotPage {
        nav: None,
        csrf_token: csrf.token.clone(),
        sent: true,
        errors: FormErrors::default(),
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetPage {
    nav: Option<Nav>,
    csrf_token: String,
    token: String,
    errors: FormErrors,
}

fn invalid_link() -> WebError {
    WebError(ApiError::bad_request(
        "invalid_reset_link",
        "This reset link has expired or was already used. Ask for a new one.",
    ))
}

/// Only the shape `secret_token::generate` makes, so nothing odd is echoed into the page.
fn plausible(token: &str) -> bool {
    token.len() <= 64
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

async fn reset_page(
    State(state): State<AppState>,
    csrf: PreSessionCsrf,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    if !plausible(&token)
        || state
            .store
            .open_password_reset(&secret_token::hash(&token), state.clock.now())
            .await?
            .is_none()
    {
        return Err(invalid_link());
    }
    let page = ResetPage {
        nav: None,
        csrf_token: csrf.token.clone(),
        token,
        errors: FormErrors::default(),
    };
    Ok(csrf.respond(render(&page)))
}

#[derive(serde::Deserialize)]
struct ResetForm {
    password: String,
}

async fn reset(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(token): Path<String>,
    PublicForm { form, csrf }: PublicForm<ResetForm>,
) -> Result<Response, WebError> {
    if !plausible(&token) {
        return Err(invalid_link());
    }
    let hash = match signin::hash_password(&SecretString::from(form.password)).await {
        Ok(hash) => hash,
        Err(e) => {
            let mut errors = FormErrors::default();
            errors.add_validation(e);
            let page = ResetPage {
                nav: None,
                csrf_token: csrf.token.clone(),
                token,
                errors,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
        }
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let Some(user_id) = tx
        .consume_password_reset(&secret_token::hash(&token), now)
        .await?
    else {
        return Err(invalid_link());
    };
    tx.set_password_hash(user_id, &hash, now).await?;
    let ended = tx.delete_sessions_of(user_id, None).await?;
    let user = state.store.user(user_id).await?;
    let event = audit::on_account("auth.password_reset", &user, None, &client)
        .details(serde_json::json!({ "sessions_ended": ended }));
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(Redirect::to("/login?reset=1").into_response())
}
