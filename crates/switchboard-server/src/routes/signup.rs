//! Sign-up of the first owner: open only while the instance has no account at all. Creates
//! the account, its workspace and the owner membership, and signs in, in one transaction.
//!
//! Invariant: the "no account yet" check runs inside the same write transaction as the
//! insert, and that check serialises concurrent callers on both backends
//! (`Tx::count_users`), so two racing sign-ups cannot both become first owner.

use crate::audit;
use crate::auth::ClientInfo;
use crate::auth::forms::{FormErrors, PreSessionCsrf, PublicForm};
use crate::auth::signin;
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use secrecy::SecretString;
use switchboard_core::{EmailAddress, Role, WorkspaceSlug};
use switchboard_store::StoreError;
use switchboard_store::sessions::SessionState;
use switchboard_store::users::NewUser;

pub fn router() -> Router<AppState> {
    Router::new().route("/signup", get(signup_page).post(signup))
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    nav: Option<Nav>,
    csrf_token: String,
    display_name: String,
    email: String,
    workspace_name: String,
    errors: FormErrors,
}

async fn signup_page(
    State(state): State<AppState>,
    csrf: PreSessionCsrf,
) -> Result<Response, WebError> {
    if state.store.user_count().await? > 0 {
        return Ok(Redirect::to("/login").into_response());
    }
    let page = SignupPage {
        nav: None,
        csrf_token: csrf.token.clone(),
        display_name: String::new(),
        email: String::new(),
        workspace_name: String::new(),
        errors: FormErrors::default(),
    };
    Ok(csrf.respond(render(&page)))
}

#[derive(serde::Deserialize)]
struct SignupForm {
    display_name: String,
    email: String,
    password: String,
    workspace_name: String,
}

async fn signup(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    PublicForm { form, csrf }: PublicForm<SignupForm>,
) -> Result<Response, WebError> {
    let mut errors = FormErrors::default();
    let display_name = switchboard_core::workspace::parse_name(&form.display_name, "display_name")
        .map_err(|e| errors.add_validation(e))
        .ok();
    let email = EmailAddress::parse(&form.email)
        .map_err(|e| errors.add_validation(e.on("email")))
        .ok();
    let workspace_name =
        switchboard_core::workspace::parse_name(&form.workspace_name, "workspace_name")
            .map_err(|e| errors.add_validation(e))
            .ok();
    let slug = workspace_name.as_deref().and_then(|n| {
        WorkspaceSlug::from_name(n)
            .map_err(|e| errors.add("workspace_name", e.message))
            .ok()
    });
    let hash = signin::hash_password(&SecretString::from(form.password.clone()))
        .await
        .map_err(|e| errors.add_validation(e))
        .ok();
    let (Some(display_name), Some(email), Some(workspace_name), Some(slug), Some(hash), true) = (
        display_name,
        email,
        workspace_name,
        slug,
        hash,
        errors.is_empty(),
    ) else {
        let page = SignupPage {
            nav: None,
            csrf_token: csrf.token.clone(),
            display_name: form.display_name,
            email: form.email,
            workspace_name: form.workspace_name,
            errors,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    if tx.count_users().await? > 0 {
        return Ok(Redirect::to("/login").into_response());
    }
    let user_id = tx
        .insert_user(
            NewUser {
                email: &email,
                display_name: &display_name,
                password_hash: &hash,
            },
            now,
        )
        .await?;
    let workspace = match tx.insert_workspace(&workspace_name, &slug, now).await {
        Ok(ws) => ws,
        Err(StoreError::Conflict { .. }) => {
            return Ok(Redirect::to("/login").into_response());
        }
        Err(e) => return Err(e.into()),
    };
    tx.add_member(workspace.id, user_id, Role::Owner, now)
        .await?;
    signin::end_presented_session(&state, &mut tx, &headers).await?;
    let user = switchboard_store::users::User {
        id: user_id,
        email: email.clone(),
        display_name,
        password_hash: SecretString::from(hash),
        totp_secret: None,
        totp_enabled_at: None,
        totp_last_step: None,
        status: switchboard_store::users::UserStatus::Active,
        password_changed_at: now,
        created_at: now,
    };
    let started = signin::start_session(
        &state,
        &mut tx,
        &user,
        SessionState::Active,
        &client,
        Some(workspace.id),
    )
    .await?;
    let event = audit::on_account("workspace.created", &user, Some(workspace.id), &client).target(
        "workspace",
        workspace.id,
        Some(&workspace.name),
    );
    tx.record_audit(&event, now).await?;
    let event = audit::on_account("auth.sign_in", &user, Some(workspace.id), &client)
        .details(serde_json::json!({ "mfa": false, "sign_up": true }));
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    state.metrics.count_sign_in("success");
    let mut response = Redirect::to("/").into_response();
    signin::set_session_cookie(&state, &mut response, started.token);
    Ok(response)
}
