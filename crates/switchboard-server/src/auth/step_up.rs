//! Step-up re-authentication: sensitive actions (delete data, export, disconnect a channel,
//! change MFA, create an API token) require that the user proved who they are within the
//! last few minutes (`ServerConfig::step_up_window`, at most 5).
//!
//! `RecentAuth` guards API handlers (403 `reauthentication_required`); `WebRecentAuth`
//! guards pages and forms (a redirect to `/reauth?next=...`, back again afterwards).
//! API tokens pass: a token is itself a deliberate, revocable grant made under step-up.

use crate::auth::{SessionAuth, WebUser, WorkspaceAccess};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

/// Workspace access whose session (if any) re-authenticated within the step-up window.
#[derive(Debug, Clone)]
pub struct RecentAuth(pub WorkspaceAccess);

impl FromRequestParts<AppState> for RecentAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let access = WorkspaceAccess::from_request_parts(parts, state).await?;
        match &access.session {
            Some(auth) if !auth.recently_authenticated(state) => Err(ApiError::ReauthRequired),
            _ => Ok(RecentAuth(access)),
        }
    }
}

/// A signed-in browser that re-authenticated within the step-up window.
#[derive(Debug, Clone)]
pub struct WebRecentAuth(pub SessionAuth);

impl FromRequestParts<AppState> for WebRecentAuth {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let WebUser(auth) = WebUser::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if auth.recently_authenticated(state) {
            return Ok(WebRecentAuth(auth));
        }
        let next = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.path().to_owned())
            .unwrap_or_else(|| parts.uri.path().to_owned());
        Err(Redirect::to(&format!(
            "/reauth?next={}",
            crate::auth::extract::url_encode(&next)
        ))
        .into_response())
    }
}
