//! The server-rendered web shell: page rendering, the navigation every signed-in page shows,
//! error pages, and the assets embedded in the binary.

use crate::auth::SessionAuth;
use crate::auth::csrf;
use crate::error::ApiError;
use crate::state::AppState;
use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use switchboard_core::{Role, WorkspaceId};

/// What the layout needs to draw the header of a signed-in page.
#[derive(Debug, Clone)]
pub struct Nav {
    pub display_name: String,
    pub email: String,
    pub csrf_token: String,
    pub workspaces: Vec<NavWorkspace>,
    pub active: Option<NavWorkspace>,
}

#[derive(Debug, Clone)]
pub struct NavWorkspace {
    pub id: WorkspaceId,
    pub name: String,
    pub role: Role,
}

impl Nav {
    pub async fn load(state: &AppState, auth: &SessionAuth) -> Result<Nav, ApiError> {
        let workspaces: Vec<NavWorkspace> = state
            .store
            .workspaces_of(auth.user.id)
            .await?
            .into_iter()
            .map(|(ws, role)| NavWorkspace {
                id: ws.id,
                name: ws.name,
                role,
            })
            .collect();
        let active = match auth.session.active_workspace_id {
            Some(id) => workspaces.iter().find(|w| w.id == id).cloned(),
            None if workspaces.len() == 1 => workspaces.first().cloned(),
            None => None,
        };
        Ok(Nav {
            display_name: auth.user.display_name.clone(),
            email: auth.user.email.to_string(),
            csrf_token: csrf::token_for_session(state, auth.session.id),
            workspaces,
            active,
        })
    }

    /// Whether the active workspace lets this user administer it.
    pub fn is_admin(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|w| w.role.at_least(Role::Admin))
    }
}

/// Renders a template into an HTML response.
pub fn render<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => error_page(ApiError::internal(format!("template: {e}"))),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    code: String,
    message: String,
}

/// An error as an HTML page, with the same status and code the API would give.
pub fn error_page(error: ApiError) -> Response {
    if let ApiError::Internal(detail) = &error {
        tracing::error!(%detail, "internal error");
    }
    let status = error.status();
    let page = ErrorPage {
        status: status.as_u16(),
        code: error.code().to_owned(),
        message: error.to_string(),
    };
    let body = page
        .render()
        .unwrap_or_else(|_| "Something went wrong.".to_owned());
    (status, Html(body)).into_response()
}

/// An error on a web page, rendered as HTML rather than JSON.
pub struct WebError(pub ApiError);

impl<E: Into<ApiError>> From<E> for WebError {
    fn from(e: E) -> Self {
        WebError(e.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        error_page(self.0)
    }
}

static HTMX: &[u8] = include_bytes!("../assets/htmx-2.0.11.min.js");
static APP_CSS: &[u8] = include_bytes!("../assets/app.css");
static APP_JS: &[u8] = include_bytes!("../assets/app.js");
static INBOX_JS: &[u8] = include_bytes!("../assets/inbox.js");

/// Serves an embedded asset. Names carry their version, so they may be cached for a year.
pub async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, content_type) = match name.as_str() {
        "htmx-2.0.11.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "inbox.js" => (INBOX_JS, "text/javascript; charset=utf-8"),
        _ => return error_page(ApiError::NotFound),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
