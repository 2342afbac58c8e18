//! Background jobs for admins: the queue of their workspace by state, and retrying a job
//! that died. Payloads never leave the server (they may hold personal data): people see a
//! job's kind, state, attempts, last error and times.

use crate::auth::csrf::WebForm;
use crate::auth::{WebUser, WorkspaceAccess};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use switchboard_core::{JobId, Role, WorkspaceId};
use switchboard_store::jobs::{JobState, JobSummary};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most jobs one listing shows.
const LIST_LIMIT: i64 = 200;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(retry_job))
}

pub fn web_router() -> Router<AppState> {
    Router::new()
        .route("/settings/jobs", get(jobs_page))
        .route("/settings/jobs/{id}/retry", post(retry_from_page))
}

/// A job as admins see it: everything but the payload.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: String,
    /// What the job does (`send_email`, ...).
    pub kind: String,
    /// `pending`, `running`, `done` or `dead`.
    pub state: String,
    /// Attempts made so far.
    pub attempts: i64,
    pub max_attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it runs next (pending) or last became due.
    #[serde(with = "time::serde::rfc3339")]
    pub run_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

impl From<JobSummary> for JobView {
    fn from(j: JobSummary) -> Self {
        JobView {
            id: j.id.to_string(),
            kind: j.kind,
            state: j.state.as_str().to_owned(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            last_error: j.last_error,
            run_at: j.run_at,
            created_at: j.created_at,
            updated_at: j.updated_at,
            finished_at: j.finished_at,
        }
    }
}

impl JobView {
    /// `updated_at` for people: `2026-01-05 09:00 UTC`.
    fn updated_for_people(&self) -> String {
        let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
        self.updated_at
            .to_offset(time::UtcOffset::UTC)
            .format(&format)
            .unwrap_or_default()
    }

    fn updated_rfc3339(&self) -> String {
        self.updated_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    }
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct JobList {
    pub data: Vec<JobView>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
}

/// The states a listing may ask for; `done` jobs are history, swept after 14 days.
fn listable_state(raw: Option<&str>) -> Result<JobState, ApiError> {
    match raw.map(JobState::parse) {
        None => Ok(JobState::Dead),
        Some(Some(state)) if state != JobState::Done => Ok(state),
        Some(_) => Err(ApiError::BadRequest {
            code: "invalid_state",
            message: "state must be one of dead, pending, running.".into(),
        }),
    }
}

/// List the workspace's background jobs in one state (dead by default), newest change first.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    params(("state" = Option<String>, Query, description = "`dead` (default), `pending` or `running`")),
    responses(
        (status = 200, description = "Jobs, without their payloads", body = JobList),
        (status = 400, description = "Unknown state or query parameter", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, description = "Admins and owners only", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list_jobs(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<JobList>, ApiError> {
    access.require(Role::Admin)?;
    let query: ListQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    let job_state = listable_state(query.state.as_deref())?;
    let jobs = state
        .store
        .jobs_in(access.workspace_id, job_state, LIST_LIMIT)
        .await?;
    Ok(axum::Json(JobList {
        data: jobs.into_iter().map(JobView::from).collect(),
    }))
}

/// Put a dead job back in the queue, due now, with its attempts reset.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/retry",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job, pending again", body = JobView),
        (status = 403, description = "Admins and owners only", body = crate::error::ErrorBody),
        (status = 404, description = "No such job in this workspace", body = crate::error::ErrorBody),
        (status = 409, description = "The job is not dead", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn retry_job(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<axum::Json<JobView>, ApiError> {
    access.require(Role::Admin)?;
    let job = retry(&state, access.workspace_id, &id).await?;
    Ok(axum::Json(JobView::from(job)))
}

async fn retry(state: &AppState, ws: WorkspaceId, id: &str) -> Result<JobSummary, ApiError> {
    // An id that does not parse names no job, here or anywhere.
    let id: JobId = id.parse().map_err(|_| ApiError::NotFound)?;
    match state.store.retry_dead_job(ws, id, state.clock.now()).await {
        Ok(job) => Ok(job),
        Err(switchboard_store::StoreError::NotFound) => {
            // Tell "not dead" from "not yours": the latter stays a plain 404.
            state.store.job(ws, id).await?;
            Err(ApiError::Conflict {
                code: "job_not_dead",
                message: "Only a dead job can be retried.".into(),
            })
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    nav: Option<Nav>,
    section: &'static str,
    dead: Vec<JobView>,
    pending: i64,
    running: i64,
}

/// The active workspace, if the user administers it.
fn admin_workspace(nav: &Nav) -> Result<WorkspaceId, ApiError> {
    match &nav.active {
        Some(ws) if nav.is_admin() => Ok(ws.id),
        Some(_) => Err(ApiError::Forbidden(
            "Only an admin or owner of this workspace can do that.",
        )),
        None => Err(ApiError::Forbidden("Choose a workspace first.")),
    }
}

async fn jobs_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
) -> Result<Response, WebError> {
    let nav = Nav::load(&state, &auth).await?;
    let ws = admin_workspace(&nav)?;
    let store = &state.store;
    let dead = store.jobs_in(ws, JobState::Dead, LIST_LIMIT).await?;
    let depth = store.queue_depth_in(ws).await?;
    Ok(render(&JobsPage {
        nav: Some(nav),
        section: "jobs",
        dead: dead.into_iter().map(JobView::from).collect(),
        pending: depth.pending,
        running: depth.running,
    }))
}

#[derive(serde::Deserialize)]
struct RetryForm {}

async fn retry_from_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WebForm { auth, form: _ }: WebForm<RetryForm>,
) -> Result<Response, WebError> {
    let nav = Nav::load(&state, &auth).await?;
    let ws = admin_workspace(&nav)?;
    retry(&state, ws, &id).await?;
    Ok(Redirect::to("/settings/jobs").into_response())
}
