//! Settings > Privacy: the workspace's privacy requests with overdue and near-due ones marked,
//! its legal holds (admins). Meta callbacks no connection matched belong to no workspace and are
//! the operator's (`switchboard privacy list --unlinked`), never shown on a workspace's page.

use super::api::{HoldView, RequestView};
use crate::auth::WebUser;
use crate::routes::workspaces::web_admin;
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new().route("/settings/privacy", get(privacy_page))
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage {
    nav: Option<Nav>,
    section: &'static str,
    requests: Vec<RequestView>,
    holds: Vec<HoldView>,
    overdue: usize,
    near_due: usize,
}

async fn privacy_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let today = state.clock.now().date();
    let requests: Vec<RequestView> = state
        .store
        .privacy_requests(access.workspace_id, 500)
        .await?
        .iter()
        .map(|r| RequestView::of(r, today))
        .collect();
    let holds = state.store.holds(access.workspace_id).await?;
    Ok(render(&PrivacyPage {
        nav: Some(nav),
        section: "privacy",
        overdue: requests.iter().filter(|r| r.urgency == "overdue").count(),
        near_due: requests.iter().filter(|r| r.urgency == "near_due").count(),
        requests,
        holds: holds.iter().map(HoldView::from).collect(),
    }))
}
