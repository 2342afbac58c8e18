//! Invitations: admins invite by email (API and the members page); the emailed link
//! `/invitations/{token}` lets the invited person join, creating their account first when
//! they have none.
//!
//! Invariants: the link's token is in the email only (its hash is stored); the invitation,
//! its email job and its audit entry commit together; accepting creates the account, the
//! membership and the session in one transaction, and a link works once.

use crate::audit;
use crate::auth::csrf::{self, WebForm};
use crate::auth::extract::load_session;
use crate::auth::{
    Actor, ClientInfo, SessionAuth, WorkspaceAccess, cookies, password, secret_token,
};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::members::{Outcome, render_members};
use crate::routes::workspaces::{EmptyForm, path_id, rfc3339, web_admin};
use crate::state::AppState;
use crate::web::{WebError, render};
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use secrecy::SecretString;
use switchboard_core::{EmailAddress, InvitationId, Role, ValidationError, WorkspaceStatus};
use switchboard_mail::Email;
use switchboard_store::invitations::{Invitation, InvitationStatus, NewInvitation};
use switchboard_store::sessions::{NewSession, SessionState};
use switchboard_store::users::NewUser;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How long an emailed link stays valid.
pub const VALID_FOR: time::Duration = time::Duration::days(7);

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_invitation, list_invitations))
        .routes(routes!(revoke_invitation))
}

pub fn web_router() -> Router<AppState> {
    Router::new()
        .route("/settings/invitations", post(web_invite))
        .route("/settings/invitations/{id}/revoke", post(web_revoke))
        .route("/invitations/{token}", get(accept_page).post(accept))
}

#[derive(serde::Serialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    /// `owner`, `admin` or `agent`.
    pub role: String,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
}

impl InvitationView {
    fn new(inv: &Invitation, now: time::OffsetDateTime) -> Self {
        Self {
            id: inv.id.to_string(),
            email: inv.email.to_string(),
            role: inv.role.as_str().to_owned(),
            status: inv.status(now).as_str().to_owned(),
            created_at: rfc3339(inv.created_at),
            expires_at: rfc3339(inv.expires_at),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct InvitationList {
    pub data: Vec<InvitationView>,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    pub email: String,
    /// `owner`, `admin` or `agent`; at most what the caller may grant.
    pub role: String,
}

/// Invites someone by email (admin). The email with the link is queued with the
/// invitation; an older open invitation of the same address is revoked.
#[utoipa::path(post, path = "/api/v1/invitations", tag = "invitations",
    request_body = CreateInvitation,
    responses((status = 201, body = InvitationView), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_invitation(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    ApiJson(body): ApiJson<CreateInvitation>,
) -> Result<(StatusCode, ApiJson<InvitationView>), ApiError> {
    access.require(Role::Admin)?;
    let email = EmailAddress::parse(&body.email)?;
    let role = Role::parse(&body.role)?;
    let invitation = invite(&state, &access, &client, &email, role).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(InvitationView::new(&invitation, state.clock.now())),
    ))
}

/// Invitations not yet accepted or revoked (admin), newest first.
#[utoipa::path(get, path = "/api/v1/invitations", tag = "invitations",
    responses((status = 200, body = InvitationList), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_invitations(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<InvitationList>, ApiError> {
    access.require(Role::Admin)?;
    let now = state.clock.now();
    let data = state
        .store
        .open_invitations(access.workspace_id)
        .await?
        .iter()
        .map(|inv| InvitationView::new(inv, now))
        .collect();
    Ok(ApiJson(InvitationList { data }))
}

/// Revokes an invitation (admin): its link stops working.
#[utoipa::path(delete, path = "/api/v1/invitations/{id}", tag = "invitations",
    params(("id" = String, Path, description = "The invitation's id")),
    responses((status = 200, body = InvitationView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn revoke_invitation(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiJson<InvitationView>, ApiError> {
    access.require(Role::Admin)?;
    let id: InvitationId = path_id(&id)?;
    let invitation = revoke(&state, &access, &client, id).await?;
    Ok(ApiJson(InvitationView::new(&invitation, state.clock.now())))
}

async fn invite(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    email: &EmailAddress,
    role: Role,
) -> Result<Invitation, ApiError> {
    if !access.role.can_grant(role) {
        return Err(ApiError::Forbidden(
            "You cannot invite someone with a role above what you may grant.",
        ));
    }
    let workspace = state.store.workspace(access.workspace_id).await?;
    let token = secret_token::generate("sbl_");
    let now = state.clock.now();
    let expires_at = now + VALID_FOR;
    let mut tx = state.store.begin().await?;
    let invitation = tx
        .insert_invitation(
            access.workspace_id,
            NewInvitation {
                email,
                role,
                token_hash: &secret_token::hash(&token),
                invited_by: access.actor.user_id(),
                expires_at,
            },
            now,
        )
        .await?;
    let inviter = match &access.actor {
        Actor::User { email, .. } => email.clone(),
        _ => "An admin".to_owned(),
    };
    let mail = Email {
        to: email.to_string(),
        subject: format!("You are invited to {} on Switchboard", workspace.name),
        text: format!(
            "{inviter} invited you to join the workspace \"{}\" on Switchboard as {}.\n\n\
             Accept the invitation here:\n{}/invitations/{token}\n\n\
             The link works once and expires on {} (UTC). If you did not expect this \
             invitation, ignore this email.\n",
            workspace.name,
            role.as_str(),
            state.config.public_url,
            rfc3339(expires_at),
        ),
    };
    crate::jobs::email::enqueue(&mut tx, &mail, now).await?;
    let event = audit::with_details(
        audit::by(access, client, "invitation.created").target(
            "invitation",
            invitation.id,
            Some(email.as_str()),
        ),
        serde_json::json!({ "role": role.as_str() }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(invitation)
}

async fn revoke(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: InvitationId,
) -> Result<Invitation, ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let invitation = tx.revoke_invitation(access.workspace_id, id, now).await?;
    let event = audit::by(access, client, "invitation.revoked").target(
        "invitation",
        id,
        Some(invitation.email.as_str()),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(invitation)
}

#[derive(serde::Deserialize)]
struct InviteForm {
    email: String,
    role: String,
}

async fn web_invite(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    WebForm { auth, form }: WebForm<InviteForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let result = async {
        let email = EmailAddress::parse(&form.email)?;
        let role = Role::parse(&form.role)?;
        invite(&state, &access, &client, &email, role).await
    }
    .await;
    match result {
        Ok(inv) => {
            let outcome = Outcome {
                notice: Some(format!("Invitation sent to {}.", inv.email)),
                ..Outcome::none()
            };
            render_members(&state, nav, &access, outcome).await
        }
        Err(e) => {
            let outcome = Outcome {
                invite_email: form.email,
                ..Outcome::error(e, &headers)
            };
            render_members(&state, nav, &access, outcome).await
        }
    }
}

async fn web_revoke(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, .. }: WebForm<EmptyForm>,
) -> Result<Response, WebError> {
    let (_, access) = web_admin(&state, &auth).await?;
    let id: InvitationId = path_id(&id)?;
    revoke(&state, &access, &client, id).await?;
    Ok(Redirect::to("/settings/members").into_response())
}

/// What the accept page shows.
enum AcceptView {
    /// Signed in as the invited address: one button.
    Join,
    /// Signed in as someone else.
    WrongAccount { signed_in_as: String },
    /// Not signed in, and the address has an account: sign in first.
    SignIn,
    /// No account for the address: create one.
    CreateAccount,
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct AcceptPage {
    nav: Option<crate::web::Nav>,
    token: String,
    workspace_name: String,
    email: String,
    role: &'static str,
    csrf: String,
    view: AcceptView,
    name: String,
    error: Option<ValidationError>,
}

/// The invitation a link names, if it can still be used. Unknown links are 404; used,
/// revoked and expired links each get their own clear message.
async fn usable_invitation(state: &AppState, token: &str) -> Result<Invitation, ApiError> {
    let invitation = state
        .store
        .invitation_by_token_hash(&secret_token::hash(token))
        .await?
        .ok_or(ApiError::NotFound)?;
    let (code, message) = match invitation.status(state.clock.now()) {
        InvitationStatus::Pending => {
            let workspace = state.store.workspace(invitation.workspace_id).await?;
            if workspace.status != WorkspaceStatus::Active {
                return Err(ApiError::Conflict {
                    code: "workspace_deactivated",
                    message: "This workspace was deactivated; the invitation no longer applies."
                        .to_owned(),
                });
            }
            return Ok(invitation);
        }
        InvitationStatus::Accepted => (
            "invitation_used",
            "This invitation was already used. Sign in to reach the workspace.",
        ),
        InvitationStatus::Revoked => (
            "invitation_revoked",
            "This invitation was withdrawn. Ask an admin of the workspace for a new one.",
        ),
        InvitationStatus::Expired => (
            "invitation_expired",
            "This invitation has expired. Ask an admin of the workspace for a new one.",
        ),
    };
    Err(ApiError::Conflict {
        code,
        message: message.to_owned(),
    })
}

async fn session_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SessionAuth>, ApiError> {
    Ok(load_session(headers, state, SessionState::Active)
        .await?
        .map(|(session, user)| SessionAuth { session, user }))
}

async fn accept_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let invitation = usable_invitation(&state, &token).await?;
    let session = session_of(&state, &headers).await?;
    let view = view_for(&state, &invitation, session.as_ref()).await?;
    page(
        &state,
        token,
        &invitation,
        session.as_ref(),
        view,
        String::new(),
        None,
    )
    .await
}

async fn view_for(
    state: &AppState,
    invitation: &Invitation,
    session: Option<&SessionAuth>,
) -> Result<AcceptView, ApiError> {
    Ok(match session {
        Some(auth) if auth.user.email == invitation.email => AcceptView::Join,
        Some(auth) => AcceptView::WrongAccount {
            signed_in_as: auth.user.email.to_string(),
        },
        None => match state.store.user_by_email(&invitation.email).await? {
            Some(_) => AcceptView::SignIn,
            None => AcceptView::CreateAccount,
        },
    })
}

async fn page(
    state: &AppState,
    token: String,
    invitation: &Invitation,
    session: Option<&SessionAuth>,
    view: AcceptView,
    name: String,
    error: Option<ValidationError>,
) -> Result<Response, WebError> {
    let workspace = state.store.workspace(invitation.workspace_id).await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if matches!(view, AcceptView::WrongAccount { .. }) {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    let page = AcceptPage {
        nav: None,
        token,
        workspace_name: workspace.name,
        email: invitation.email.to_string(),
        role: invitation.role.as_str(),
        csrf: session
            .map(|s| csrf::token_for_session(state, s.session.id))
            .unwrap_or_default(),
        view,
        name,
        error,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(serde::Deserialize, Default)]
struct AcceptForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

async fn accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    client: ClientInfo,
    jar: CookieJar,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, WebError> {
    let body = body.map_err(|_| ApiError::PayloadTooLarge)?;
    let invitation = usable_invitation(&state, &token).await?;
    let form: AcceptForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::bad_request("invalid_form", e.to_string()))?;
    let session = session_of(&state, &headers).await?;
    match view_for(&state, &invitation, session.as_ref()).await? {
        AcceptView::Join => {
            let Some(auth) = session else {
                return Err(WebError(ApiError::Unauthenticated));
            };
            // A signed-in browser: the usual CSRF check, as for any form of the session.
            if !csrf::verify_session_token(&state, auth.session.id, &form.csrf_token) {
                return Err(WebError(ApiError::Forbidden(
                    "This form has expired or did not come from Switchboard; reload the page and try again.",
                )));
            }
            let now = state.clock.now();
            let mut tx = state.store.begin().await?;
            tx.accept_invitation(invitation.workspace_id, invitation.id, auth.user.id, now)
                .await?;
            let actor = Actor::User {
                id: auth.user.id,
                email: auth.user.email.to_string(),
            };
            tx.record_audit(&accepted_event(&invitation, &actor, &client), now)
                .await?;
            tx.commit().await?;
            state
                .store
                .set_active_workspace(auth.session.id, invitation.workspace_id)
                .await?;
            Ok(Redirect::to("/").into_response())
        }
        AcceptView::CreateAccount => {
            // No session exists yet, so there is no CSRF token to check: the unguessable
            // link itself is what authorises this request.
            let name = match switchboard_core::workspace::parse_name(&form.name, "name") {
                Ok(name) => name,
                Err(error) => {
                    return page(
                        &state,
                        token,
                        &invitation,
                        None,
                        AcceptView::CreateAccount,
                        form.name.trim().to_owned(),
                        Some(error),
                    )
                    .await;
                }
            };
            let password = SecretString::from(form.password);
            let hashed =
                tokio::task::spawn_blocking(move || password::hash_new_password(&password))
                    .await
                    .map_err(ApiError::internal)?;
            let hash = match hashed {
                Ok(hash) => hash,
                Err(error) => {
                    return page(
                        &state,
                        token,
                        &invitation,
                        None,
                        AcceptView::CreateAccount,
                        name,
                        Some(error),
                    )
                    .await;
                }
            };
            let now = state.clock.now();
            let session_token = secret_token::generate("sbs_");
            let absolute = time::Duration::try_from(state.config.session_absolute_timeout)
                .unwrap_or(time::Duration::hours(12));
            let mut tx = state.store.begin().await?;
            let user = tx
                .insert_user(
                    NewUser {
                        email: &invitation.email,
                        display_name: &name,
                        password_hash: &hash,
                    },
                    now,
                )
                .await?;
            tx.accept_invitation(invitation.workspace_id, invitation.id, user, now)
                .await?;
            tx.insert_session(
                NewSession {
                    user_id: user,
                    token_hash: &secret_token::hash(&session_token),
                    state: SessionState::Active,
                    active_workspace_id: Some(invitation.workspace_id),
                    expires_at: now + absolute,
                    ip: client.ip.as_deref(),
                    user_agent: client.user_agent.as_deref(),
                },
                now,
            )
            .await?;
            let actor = Actor::User {
                id: user,
                email: invitation.email.to_string(),
            };
            tx.record_audit(&accepted_event(&invitation, &actor, &client), now)
                .await?;
            tx.commit().await?;
            let jar = jar.add(cookies::session_cookie(&state.config, session_token));
            Ok((jar, Redirect::to("/")).into_response())
        }
        view @ (AcceptView::SignIn | AcceptView::WrongAccount { .. }) => {
            page(
                &state,
                token,
                &invitation,
                session.as_ref(),
                view,
                String::new(),
                None,
            )
            .await
        }
    }
}

fn accepted_event(
    invitation: &Invitation,
    actor: &Actor,
    client: &ClientInfo,
) -> switchboard_store::audit::NewAuditEvent {
    audit::with_details(
        audit::event(
            "invitation.accepted",
            Some(invitation.workspace_id),
            actor,
            client,
        )
        .target("invitation", invitation.id, Some(invitation.email.as_str())),
        serde_json::json!({ "role": invitation.role.as_str() }),
    )
}
