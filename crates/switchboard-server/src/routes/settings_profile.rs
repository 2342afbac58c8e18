//! Settings → Profile: the signed-in person's display name.

use crate::auth::forms::FormErrors;
use crate::auth::{WebUser, csrf::WebForm};
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new().route("/settings/profile", get(profile_page).post(save_profile))
}

#[derive(Template)]
#[template(path = "settings_profile.html")]
struct ProfilePage<'a> {
    nav: Option<Nav>,
    section: &'a str,
    csrf_token: String,
    display_name: String,
    email: String,
    saved: bool,
    errors: FormErrors,
}

#[derive(serde::Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn profile_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    Query(q): Query<SavedQuery>,
) -> Result<Response, WebError> {
    let nav = Nav::load(&state, &auth).await?;
    Ok(render(&ProfilePage {
        csrf_token: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "profile",
        display_name: auth.user.display_name.clone(),
        email: auth.user.email.to_string(),
        saved: q.saved.is_some(),
        errors: FormErrors::default(),
    }))
}

#[derive(serde::Deserialize)]
struct ProfileForm {
    display_name: String,
}

async fn save_profile(
    State(state): State<AppState>,
    WebForm { auth, form }: WebForm<ProfileForm>,
) -> Result<Response, WebError> {
    match switchboard_core::workspace::parse_name(&form.display_name, "display_name") {
        Ok(name) => {
            let mut tx = state.store.begin().await?;
            tx.set_display_name(auth.user.id, &name, state.clock.now())
                .await?;
            tx.commit().await?;
            Ok(Redirect::to("/settings/profile?saved=1").into_response())
        }
        Err(e) => {
            let nav = Nav::load(&state, &auth).await?;
            let mut errors = FormErrors::default();
            errors.add_validation(e);
            let page = ProfilePage {
                csrf_token: nav.csrf_token.clone(),
                nav: Some(nav),
                section: "profile",
                display_name: form.display_name,
                email: auth.user.email.to_string(),
                saved: false,
                errors,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}
