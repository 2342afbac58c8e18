//! Reading the audit log (admin and up): `GET /api/v1/audit-log` and `/settings/audit`,
//! filtered by action prefix, actor and time, newest first with an opaque cursor.

use crate::auth::{WebUser, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::paging::nonempty;
use crate::routes::workspaces::{rfc3339, web_admin};
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use switchboard_core::{Role, Timestamp, UserId, ValidationError};
use switchboard_store::audit::{AuditCursor, AuditEvent, AuditFilter};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

pub fn web_router() -> Router<AppState> {
    Router::new().route("/settings/audit", get(audit_page))
}

#[derive(serde::Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    #[schema(format = DateTime)]
    pub occurred_at: String,
    /// The user who acted; a random token once anonymised.
    pub actor_user_id: Option<String>,
    /// How the actor was known (an email, an API token's name); anonymised likewise.
    pub actor: Option<String>,
    /// Dotted: `member.role_changed`, `token.created`, ...
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub target_label: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    #[schema(format = DateTime)]
    pub anonymised_at: Option<String>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id.to_string(),
            occurred_at: rfc3339(e.occurred_at),
            actor_user_id: e.actor_user_id,
            actor: e.actor_email,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            target_label: e.target_label,
            ip: e.ip,
            user_agent: e.user_agent,
            details: e.details,
            anonymised_at: e.anonymised_at.map(rfc3339),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct AuditPageView {
    pub data: Vec<AuditEventView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The query of `GET /api/v1/audit-log` and the filter form; every field optional.
#[derive(serde::Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Actions starting with this (`member.` or `token.created`).
    pub action: Option<String>,
    /// The acting user's id.
    pub actor: Option<String>,
    /// RFC 3339; entries at or after.
    pub since: Option<String>,
    /// RFC 3339; entries before.
    pub until: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 200; 50 by default.
    pub limit: Option<String>,
}

fn parse_time(
    v: &Option<String>,
    field: &'static str,
) -> Result<Option<Timestamp>, ValidationError> {
    nonempty(v)
        .map(|s| {
            Timestamp::parse(s, &time::format_description::well_known::Rfc3339).map_err(|_| {
                ValidationError::new(
                    "invalid_time",
                    "Give a time in RFC 3339, like 2026-01-05T09:00:00Z.",
                )
                .on(field)
            })
        })
        .transpose()
}

impl AuditQuery {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        serde_urlencoded::from_str(raw.unwrap_or_default())
            .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))
    }

    fn filter(&self) -> Result<(AuditFilter, i64), ApiError> {
        let action_prefix = match nonempty(&self.action) {
            Some(a) if a.chars().count() > 100 => {
                return Err(ValidationError::new(
                    "invalid_action",
                    "An action filter is at most 100 characters.",
                )
                .on("action")
                .into());
            }
            other => other.map(str::to_owned),
        };
        let actor_user_id = nonempty(&self.actor)
            .map(|a| {
                a.parse::<UserId>().map_err(|_| {
                    ValidationError::new("invalid_actor", "The actor is a user id.").on("actor")
                })
            })
            .transpose()?;
        let after = nonempty(&self.cursor)
            .map(|c| {
                AuditCursor::decode(c).ok_or_else(|| {
                    ValidationError::new(
                        "invalid_cursor",
                        "Use the next_cursor of a previous page.",
                    )
                    .on("cursor")
                })
            })
            .transpose()?;
        let limit = match nonempty(&self.limit) {
            None => DEFAULT_LIMIT,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ValidationError::new(
                        "invalid_limit",
                        format!("The limit is a number from 1 to {MAX_LIMIT}."),
                    )
                    .on("limit")
                    .into());
                }
            },
        };
        Ok((
            AuditFilter {
                action_prefix,
                actor_user_id,
                since: parse_time(&self.since, "since")?,
                until: parse_time(&self.until, "until")?,
                after,
            },
            limit,
        ))
    }
}

/// The workspace's audit log, newest first (admin).
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "audit",
    params(AuditQuery),
    responses((status = 200, body = AuditPageView), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_audit(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    RawQuery(raw): RawQuery,
) -> Result<ApiJson<AuditPageView>, ApiError> {
    access.require(Role::Admin)?;
    let (filter, limit) = AuditQuery::parse(raw.as_deref())?.filter()?;
    let page = state
        .store
        .audit_events(access.workspace_id, &filter, limit)
        .await?;
    Ok(ApiJson(AuditPageView {
        data: page.events.into_iter().map(AuditEventView::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    section: &'static str,
    query: AuditQuery,
    events: Vec<AuditEventView>,
    next_href: Option<String>,
    error: Option<String>,
}

impl AuditPage {
    fn value<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or_default()
    }
}

async fn audit_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let query = AuditQuery::parse(raw.as_deref())?;
    let (events, next_href, error, status) = match query.filter() {
        Ok((filter, limit)) => {
            let page = state
                .store
                .audit_events(access.workspace_id, &filter, limit)
                .await?;
            let next_href = page.next.map(|c| {
                let mut pairs: Vec<(&str, String)> = Vec::new();
                for (k, v) in [
                    ("action", &query.action),
                    ("actor", &query.actor),
                    ("since", &query.since),
                    ("until", &query.until),
                    ("limit", &query.limit),
                ] {
                    if let Some(v) = nonempty(v) {
                        pairs.push((k, v.to_owned()));
                    }
                }
                pairs.push(("cursor", c.encode()));
                format!(
                    "/settings/audit?{}",
                    serde_urlencoded::to_string(&pairs).unwrap_or_default()
                )
            });
            let events = page.events.into_iter().map(AuditEventView::from).collect();
            (events, next_href, None, axum::http::StatusCode::OK)
        }
        Err(e) => (Vec::new(), None, Some(e.to_string()), e.status()),
    };
    Ok((
        status,
        render(&AuditPage {
            nav: Some(nav),
            section: "audit",
            query,
            events,
            next_href,
            error,
        }),
    )
        .into_response())
}
