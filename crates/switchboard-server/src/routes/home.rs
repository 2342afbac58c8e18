//! The signed-in landing page and the workspace switcher: a member of a workspace lands in
//! its inbox (`routes::inbox`); someone without one sees how to get in.

use crate::auth::WebUser;
use crate::auth::csrf::WebForm;
use crate::routes::workspaces::switch_to;
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use switchboard_core::WorkspaceId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/session/workspace", post(switch_workspace))
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: Option<Nav>,
    nav_name: String,
    workspace: Option<crate::web::NavWorkspace>,
    role: &'static str,
    member_count: usize,
}

async fn home(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let nav = Nav::load(&state, &auth).await?;
    let workspace = nav.active.clone();
    if workspace
        .as_ref()
        .is_some_and(|w| w.role.at_least(switchboard_core::Role::Agent))
    {
        return crate::routes::inbox::page(&state, auth, nav, raw.as_deref()).await;
    }
    let member_count = match &workspace {
        Some(ws) => state.store.members(ws.id).await?.len(),
        None => 0,
    };
    Ok(render(&HomePage {
        nav_name: nav.display_name.clone(),
        role: workspace.as_ref().map_or("", |w| w.role.as_str()),
        workspace,
        member_count,
        nav: Some(nav),
    }))
}

#[derive(serde::Deserialize)]
struct SwitchForm {
    workspace_id: String,
}

async fn switch_workspace(
    State(state): State<AppState>,
    WebForm { auth, form }: WebForm<SwitchForm>,
) -> Result<Response, WebError> {
    let ws: WorkspaceId = form.workspace_id.parse()?;
    switch_to(&state, &auth, ws).await?;
    Ok(Redirect::to("/").into_response())
}
