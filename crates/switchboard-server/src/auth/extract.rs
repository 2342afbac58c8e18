//! Extractors that say who is asking: `SessionAuth` (a signed-in browser), `WebUser` (the
//! same, but redirects to the sign-in page), `WorkspaceAccess` (a session's active
//! workspace or an API token's workspace, with the role that applies), and `Caller` (a
//! session or a token, for the API answers that differ between them).

use crate::auth::{cookies, secret_token};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;
use switchboard_core::{ApiTokenId, Role, UserId, WorkspaceId};
use switchboard_store::sessions::{Session, SessionState};
use switchboard_store::tokens::ApiToken;
use switchboard_store::users::{User, UserStatus};

/// The caller's network address and user agent, for the audit log and throttling.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let forwarded = state
            .config
            .trust_proxy_headers
            .then(|| forwarded_for(&parts.headers))
            .flatten();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect());
        Ok(ClientInfo {
            ip: forwarded.or(peer),
            user_agent,
        })
    }
}

fn forwarded_for(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("x-forwarded-for")?.to_str().ok()?;
    // The last hop was added by our own proxy; earlier entries are client-controlled.
    let last = value.rsplit(',').next()?.trim();
    last.parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// A signed-in, fully authenticated (MFA done) browser session of an active account.
#[derive(Debug, Clone)]
pub struct SessionAuth {
    pub session: Session,
    pub user: User,
}

impl SessionAuth {
    /// Whether the user proved who they are within the step-up window.
    pub fn recently_authenticated(&self, state: &AppState) -> bool {
        let window =
            time::Duration::try_from(state.config.step_up_window).unwrap_or(time::Duration::ZERO);
        self.session
            .reauthenticated_at
            .is_some_and(|at| state.clock.now() - at <= window)
    }
}

/// Loads the session named by the request's cookie, enforcing its timeouts. Expired sessions
/// are deleted on sight.
pub async fn load_session(
    headers: &HeaderMap,
    state: &AppState,
    want: SessionState,
) -> Result<Option<(Session, User)>, ApiError> {
    let Some(token) = cookies::session_token(&state.config, headers) else {
        return Ok(None);
    };
    let Some(session) = state
        .store
        .session_by_token_hash(&secret_token::hash(&token))
        .await?
    else {
        return Ok(None);
    };
    let now = state.clock.now();
    let idle =
        time::Duration::try_from(state.config.session_idle_timeout).unwrap_or(time::Duration::ZERO);
    if now >= session.expires_at || now - session.last_seen_at > idle {
        let mut tx = state.store.begin().await?;
        tx.delete_session(session.id).await?;
        tx.commit().await?;
        return Ok(None);
    }
    if session.state != want {
        return Ok(None);
    }
    let user = state.store.user(session.user_id).await?;
    if user.status != UserStatus::Active {
        return Ok(None);
    }
    // Writing on every request would serialise readers behind the writer; a minute's
    // precision is plenty for an idle timeout measured in hours.
    if now - session.last_seen_at > time::Duration::minutes(1) {
        state.store.touch_session(session.id, now).await?;
    }
    Ok(Some((session, user)))
}

impl FromRequestParts<AppState> for SessionAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match load_session(&parts.headers, state, SessionState::Active).await? {
            Some((session, user)) => Ok(SessionAuth { session, user }),
            None => Err(ApiError::Unauthenticated),
        }
    }
}

/// `SessionAuth` for web pages: without a session, the browser is sent to sign in and comes
/// back afterwards.
#[derive(Debug, Clone)]
pub struct WebUser(pub SessionAuth);

pub enum WebAuthRejection {
    SignIn { next: String },
    Error(ApiError),
}

impl IntoResponse for WebAuthRejection {
    fn into_response(self) -> Response {
        match self {
            WebAuthRejection::SignIn { next } => {
                let next: String = url_encode(&next);
                Redirect::to(&format!("/login?next={next}")).into_response()
            }
            WebAuthRejection::Error(e) => crate::web::error_page(e),
        }
    }
}

pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = WebAuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match load_session(&parts.headers, state, SessionState::Active).await {
            Ok(Some((session, user))) => Ok(WebUser(SessionAuth { session, user })),
            Ok(None) => {
                let next = parts
                    .extensions
                    .get::<OriginalUri>()
                    .map(|u| u.0.path().to_owned())
                    .unwrap_or_else(|| parts.uri.path().to_owned());
                Err(WebAuthRejection::SignIn { next })
            }
            Err(e) => Err(WebAuthRejection::Error(e)),
        }
    }
}

/// Who did something, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User {
        id: UserId,
        email: String,
    },
    Token {
        id: ApiTokenId,
        name: String,
    },
    /// The server itself (sweeps, the CLI).
    System,
}

impl Actor {
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Actor::User { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// Access to one workspace with a role: through a session (its active workspace, the
/// membership re-checked on every request) or an API token (scoped to its workspace).
#[derive(Debug, Clone)]
pub struct WorkspaceAccess {
    pub workspace_id: WorkspaceId,
    pub role: Role,
    pub actor: Actor,
    pub session: Option<SessionAuth>,
    pub token: Option<ApiToken>,
}

impl WorkspaceAccess {
    /// Refuses unless the caller's role is at least `min`.
    pub fn require(&self, min: Role) -> Result<(), ApiError> {
        if self.role.at_least(min) {
            Ok(())
        } else {
            Err(match min {
                Role::Owner => ApiError::Forbidden("Only an owner of this workspace can do that."),
                Role::Admin => {
                    ApiError::Forbidden("Only an admin or owner of this workspace can do that.")
                }
                Role::Agent => ApiError::Forbidden("You are not a member of this workspace."),
            })
        }
    }
}

impl FromRequestParts<AppState> for WorkspaceAccess {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let bearer = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or(ApiError::bad_request(
                    "invalid_authorization",
                    "Send the API token as `Authorization: Bearer <token>`.",
                ))?;
            let token = state
                .store
                .api_token_by_hash(&secret_token::hash(bearer))
                .await?
                .ok_or(ApiError::Unauthenticated)?;
            require_active(state, token.workspace_id).await?;
            state
                .store
                .touch_api_token(token.id, state.clock.now())
                .await?;
            return Ok(WorkspaceAccess {
                workspace_id: token.workspace_id,
                role: token.role,
                actor: Actor::Token {
                    id: token.id,
                    name: token.name.clone(),
                },
                session: None,
                token: Some(token),
            });
        }
        let auth = SessionAuth::from_request_parts(parts, state).await?;
        let workspace_id = match auth.session.active_workspace_id {
            Some(ws) => ws,
            None => {
                // Someone in exactly one workspace needs no switcher.
                let mine = state.store.workspaces_of(auth.user.id).await?;
                match mine.as_slice() {
                    [(ws, _)] => ws.id,
                    [] => {
                        return Err(ApiError::Forbidden(
                            "You are not a member of any workspace.",
                        ));
                    }
                    _ => {
                        return Err(ApiError::bad_request(
                            "no_workspace_selected",
                            "Choose a workspace first (POST /api/v1/session/workspace).",
                        ));
                    }
                }
            }
        };
        let role = state
            .store
            .role_in(workspace_id, auth.user.id)
            .await?
            .ok_or(ApiError::Forbidden(
                "You are not a member of this workspace.",
            ))?;
        require_active(state, workspace_id).await?;
        Ok(WorkspaceAccess {
            workspace_id,
            role,
            actor: Actor::User {
                id: auth.user.id,
                email: auth.user.email.to_string(),
            },
            session: Some(auth),
            token: None,
        })
    }
}

/// A deactivated workspace is closed to everyone, whichever way they authenticate: its data
/// awaits erasure.
async fn require_active(state: &AppState, ws: WorkspaceId) -> Result<(), ApiError> {
    let workspace = state.store.workspace(ws).await?;
    if workspace.status == switchboard_core::WorkspaceStatus::Active {
        Ok(())
    } else {
        Err(ApiError::Forbidden("This workspace is deactivated."))
    }
}

/// A session (when no `Authorization` header is sent) or an API token.
pub enum Caller {
    Session(Box<SessionAuth>),
    Token(Box<WorkspaceAccess>),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            Ok(Caller::Token(Box::new(
                WorkspaceAccess::from_request_parts(parts, state).await?,
            )))
        } else {
            Ok(Caller::Session(Box::new(
                SessionAuth::from_request_parts(parts, state).await?,
            )))
        }
    }
}
