//! API tokens: created (admin, step-up, a role no higher than the creator's own), listed
//! without their secret, revoked; through the API and `/settings/tokens`.
//!
//! Invariant: the secret leaves the server exactly once, in the answer that creates it;
//! only its SHA-256 and a short prefix are stored.

use crate::audit;
use crate::auth::csrf::WebForm;
use crate::auth::step_up::{RecentAuth, WebRecentAuth};
use crate::auth::{ClientInfo, WebUser, WorkspaceAccess, secret_token};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::workspaces::{EmptyForm, path_id, rfc3339, web_admin};
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use switchboard_core::{ApiTokenId, Role, ValidationError};
use switchboard_store::tokens::{ApiToken, NewApiToken};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How much of the secret is kept in clear to tell tokens apart: the `sbt_` marker and
/// eight characters (48 bits, far too few to guess the remaining 208).
const PREFIX_LEN: usize = 12;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
}

pub fn web_router() -> Router<AppState> {
    Router::new()
        .route("/settings/tokens", get(tokens_page).post(web_create))
        .route("/settings/tokens/{id}/revoke", post(web_revoke))
}

#[derive(serde::Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    /// `owner`, `admin` or `agent`.
    pub role: String,
    /// The first characters of the token, to recognise it.
    pub token_prefix: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub last_used_at: Option<String>,
    #[schema(format = DateTime)]
    pub revoked_at: Option<String>,
}

impl From<&ApiToken> for TokenView {
    fn from(t: &ApiToken) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            role: t.role.as_str().to_owned(),
            token_prefix: t.token_prefix.clone(),
            created_at: rfc3339(t.created_at),
            last_used_at: t.last_used_at.map(rfc3339),
            revoked_at: t.revoked_at.map(rfc3339),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct TokenList {
    pub data: Vec<TokenView>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct CreatedToken {
    /// The secret: shown this once, never again.
    pub token: String,
    #[serde(flatten)]
    pub meta: TokenView,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// 1 to 100 characters.
    pub name: String,
    /// `owner`, `admin` or `agent`; at most the caller's own role.
    pub role: String,
}

fn parse_name(input: &str) -> Result<String, ValidationError> {
    let name = input.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(
            ValidationError::new("invalid_name", "A token name is 1 to 100 characters.").on("name"),
        );
    }
    Ok(name.to_owned())
}

/// Creates a token (admin; sessions need step-up). The answer holds the secret once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens",
    request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_token(
    State(state): State<AppState>,
    RecentAuth(access): RecentAuth,
    client: ClientInfo,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<(StatusCode, ApiJson<CreatedToken>), ApiError> {
    access.require(Role::Admin)?;
    let name = parse_name(&body.name)?;
    let role = Role::parse(&body.role)?;
    let (token, meta) = create(&state, &access, &client, &name, role).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CreatedToken {
            token,
            meta: TokenView::from(&meta),
        }),
    ))
}

/// The workspace's tokens, newest first, without their secrets (admin).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = TokenList), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_tokens(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<TokenList>, ApiError> {
    access.require(Role::Admin)?;
    let data = token_views(&state, &access).await?;
    Ok(ApiJson(TokenList { data }))
}

/// Revokes a token (admin); it stops working at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "The token's id")),
    responses((status = 200, body = TokenView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn revoke_token(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiJson<TokenView>, ApiError> {
    access.require(Role::Admin)?;
    let id: ApiTokenId = path_id(&id)?;
    let token = revoke(&state, &access, &client, id).await?;
    Ok(ApiJson(TokenView::from(&token)))
}

/// The workspace's tokens, newest first, as the API and the settings page show them.
async fn token_views(
    state: &AppState,
    access: &WorkspaceAccess,
) -> Result<Vec<TokenView>, ApiError> {
    Ok(state
        .store
        .api_tokens(access.workspace_id)
        .await?
        .iter()
        .map(TokenView::from)
        .collect())
}

async fn create(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    name: &str,
    role: Role,
) -> Result<(String, ApiToken), ApiError> {
    if !access.role.at_least(role) {
        return Err(ApiError::Forbidden(
            "A token cannot have a role above your own.",
        ));
    }
    let secret = secret_token::generate("sbt_");
    let prefix: String = secret.chars().take(PREFIX_LEN).collect();
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let token = tx
        .insert_api_token(
            access.workspace_id,
            NewApiToken {
                name,
                role,
                token_hash: &secret_token::hash(&secret),
                token_prefix: &prefix,
                created_by: access.actor.user_id(),
            },
            now,
        )
        .await?;
    let event = audit::with_details(
        audit::by(access, client, "token.created").target("api_token", token.id, Some(name)),
        serde_json::json!({ "role": role.as_str() }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok((secret, token))
}

async fn revoke(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: ApiTokenId,
) -> Result<ApiToken, ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let token = tx.revoke_api_token(access.workspace_id, id, now).await?;
    let event =
        audit::by(access, client, "token.revoked").target("api_token", id, Some(&token.name));
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(token)
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    nav: Option<Nav>,
    section: &'static str,
    csrf: String,
    tokens: Vec<TokenView>,
    roles: Vec<&'static str>,
    new_token: Option<String>,
    error: Option<ValidationError>,
    name: String,
}

async fn render_tokens(
    state: &AppState,
    nav: Nav,
    access: &WorkspaceAccess,
    new_token: Option<String>,
    error: Option<ApiError>,
    name: String,
) -> Result<Response, WebError> {
    let tokens = token_views(state, access).await?;
    let status = error.as_ref().map_or(StatusCode::OK, ApiError::status);
    let error = error.map(|e| match e {
        ApiError::Validation(v) => v,
        other => ValidationError::new(other.code(), other.to_string()),
    });
    let page = TokensPage {
        csrf: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "tokens",
        tokens,
        roles: Role::ALL
            .into_iter()
            .filter(|r| access.role.at_least(*r))
            .map(Role::as_str)
            .collect(),
        new_token,
        error,
        name,
    };
    Ok((status, render(&page)).into_response())
}

async fn tokens_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    render_tokens(&state, nav, &access, None, None, String::new()).await
}

#[derive(serde::Deserialize)]
struct CreateForm {
    name: String,
    role: String,
}

async fn web_create(
    State(state): State<AppState>,
    _recent: WebRecentAuth,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<CreateForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let result = async {
        let name = parse_name(&form.name)?;
        let role = Role::parse(&form.role)?;
        create(&state, &access, &client, &name, role).await
    }
    .await;
    match result {
        // Rendered in the answer to the POST (not after a redirect), so reloading the page
        // cannot show the secret again.
        Ok((secret, _)) => {
            render_tokens(&state, nav, &access, Some(secret), None, String::new()).await
        }
        Err(e) => render_tokens(&state, nav, &access, None, Some(e), form.name).await,
    }
}

async fn web_revoke(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, .. }: WebForm<EmptyForm>,
) -> Result<Response, WebError> {
    let (_, access) = web_admin(&state, &auth).await?;
    let id: ApiTokenId = path_id(&id)?;
    revoke(&state, &access, &client, id).await?;
    Ok(Redirect::to("/settings/tokens").into_response())
}
