//! `/api/v1/me` (who is calling: a person through their session, or an API token) and
//! `/api/v1/session/reauth` (step-up for session-cookie API callers).
//!
//! Invariant: no answer here carries a secret: no password hash, session or API token, or
//! TOTP secret; only ids, names, roles and whether MFA is on.

use crate::auth::{Caller, ClientInfo, SessionAuth, signin};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(reauth))
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    /// `user` for a signed-in person, `token` for an API token.
    pub kind: String,
    pub user: Option<MeUser>,
    pub token: Option<MeToken>,
    /// The workspaces the caller can act in, with the role that applies.
    pub memberships: Vec<MeMembership>,
    /// The workspace requests act on (a session's chosen one, or the token's).
    pub active_workspace_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MeUser {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub mfa_enabled: bool,
}

#[derive(Serialize, ToSchema)]
pub struct MeToken {
    pub id: String,
    pub name: String,
    pub role: String,
    pub workspace_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeMembership {
    pub workspace_id: String,
    pub workspace_name: String,
    pub workspace_slug: String,
    pub role: String,
}

/// Who is calling.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    responses(
        (status = 200, description = "The caller's identity and memberships", body = Me),
        (status = 401, description = "Not signed in / unknown token", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
async fn me(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let me = match caller {
        Caller::Session(auth) => {
            let memberships: Vec<MeMembership> = state
                .store
                .workspaces_of(auth.user.id)
                .await?
                .into_iter()
                .map(|(ws, role)| MeMembership {
                    workspace_id: ws.id.to_string(),
                    workspace_name: ws.name,
                    workspace_slug: ws.slug.to_string(),
                    role: role.as_str().to_owned(),
                })
                .collect();
            let active = auth
                .session
                .active_workspace_id
                .map(|w| w.to_string())
                .or_else(|| match memberships.as_slice() {
                    [only] => Some(only.workspace_id.clone()),
                    _ => None,
                });
            Me {
                kind: "user".into(),
                user: Some(MeUser {
                    id: auth.user.id.to_string(),
                    email: auth.user.email.to_string(),
                    display_name: auth.user.display_name.clone(),
                    mfa_enabled: auth.user.mfa_enabled(),
                }),
                token: None,
                memberships,
                active_workspace_id: active,
            }
        }
        Caller::Token(access) => {
            let workspace = state.store.workspace(access.workspace_id).await?;
            let token = access.token.as_ref().ok_or(ApiError::Unauthenticated)?;
            Me {
                kind: "token".into(),
                user: None,
                token: Some(MeToken {
                    id: token.id.to_string(),
                    name: token.name.clone(),
                    role: access.role.as_str().to_owned(),
                    workspace_id: access.workspace_id.to_string(),
                }),
                memberships: vec![MeMembership {
                    workspace_id: workspace.id.to_string(),
                    workspace_name: workspace.name,
                    workspace_slug: workspace.slug.to_string(),
                    role: access.role.as_str().to_owned(),
                }],
                active_workspace_id: Some(access.workspace_id.to_string()),
            }
        }
    };
    Ok(ApiJson(me).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthRequest {
    /// The account's password.
    pub password: String,
    /// A current TOTP code (or a recovery code); required when MFA is on.
    pub code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReauthResponse {
    /// Sensitive actions are allowed until this time (RFC 3339).
    pub reauthenticated_until: String,
}

/// Step-up re-authentication for a browser session calling the API. The session cookie is
/// replaced with a new one (`Set-Cookie`).
#[utoipa::path(
    post,
    path = "/api/v1/session/reauth",
    tag = "auth",
    request_body = ReauthRequest,
    responses(
        (status = 200, description = "Re-authenticated", body = ReauthResponse),
        (status = 400, description = "Wrong password or code, or a malformed body", body = ErrorBody),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    )
)]
async fn reauth(
    State(state): State<AppState>,
    auth: SessionAuth,
    client: ClientInfo,
    ApiJson(body): ApiJson<ReauthRequest>,
) -> Result<Response, ApiError> {
    let password = SecretString::from(body.password);
    let token = crate::routes::login::reauthenticate(
        &state,
        &auth,
        &client,
        &password,
        body.code.as_deref(),
    )
    .await?;
    let window =
        time::Duration::try_from(state.config.step_up_window).unwrap_or(time::Duration::ZERO);
    let until = (state.clock.now() + window)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut response = ApiJson(ReauthResponse {
        reauthenticated_until: until,
    })
    .into_response();
    signin::set_session_cookie(&state, &mut response, token);
    Ok(response)
}
