//! A workspace's public holidays, which the privacy deadline calendar skips like weekends:
//! `/api/v1/privacy/holidays` and Settings > Privacy > Holidays (admins). Adding or removing
//! one recomputes the deadlines of the workspace's open requests in the same transaction,
//! audited.

use crate::audit;
use crate::auth::csrf::WebForm;
use crate::auth::{ClientInfo, WebUser, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::workspaces::web_admin;
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use switchboard_core::{Role, ValidationError};
use switchboard_store::privacy_calendar::Holiday;
use time::Date;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add_holiday, list_holidays))
        .routes(routes!(remove_holiday))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/privacy/holidays", get(page).post(add_from_form))
        .route(
            "/settings/privacy/holidays/{day}/remove",
            post(remove_from_form),
        )
}

#[derive(serde::Serialize, ToSchema)]
pub struct HolidayView {
    #[schema(format = Date)]
    pub day: String,
    pub name: String,
}

impl From<&Holiday> for HolidayView {
    fn from(h: &Holiday) -> Self {
        Self {
            day: h.day.to_string(),
            name: h.name.clone(),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct HolidayList {
    pub data: Vec<HolidayView>,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHoliday {
    /// YYYY-MM-DD.
    pub day: String,
    /// What the day is (1 to 100 characters), e.g. "Easter Monday".
    pub name: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct HolidayChange {
    pub holiday: HolidayView,
    /// How many open requests got new deadlines.
    pub requests_rescheduled: usize,
}

fn parse_day(raw: &str) -> Result<Date, ValidationError> {
    Date::parse(
        raw.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| ValidationError::new("invalid_date", "A date is written YYYY-MM-DD.").on("day"))
}

fn parse_name(raw: &str) -> Result<String, ValidationError> {
    let name = raw.trim();
    let n = name.chars().count();
    if !(1..=100).contains(&n) || name.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "invalid_holiday_name",
            "Name the holiday in 1 to 100 characters.",
        )
        .on("name"));
    }
    Ok(name.to_owned())
}

async fn add(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    body: &NewHoliday,
) -> Result<HolidayChange, ApiError> {
    access.require(Role::Admin)?;
    let day = parse_day(&body.day)?;
    let name = parse_name(&body.name)?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let moved = tx.add_holiday(access.workspace_id, day, &name, now).await?;
    tx.record_audit(
        &audit::with_details(
            audit::by(access, client, "privacy.holiday.added"),
            serde_json::json!({ "day": day.to_string(), "name": name, "requests_rescheduled": moved }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(HolidayChange {
        holiday: HolidayView {
            day: day.to_string(),
            name,
        },
        requests_rescheduled: moved,
    })
}

async fn remove(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    raw_day: &str,
) -> Result<usize, ApiError> {
    access.require(Role::Admin)?;
    let day = parse_day(raw_day)?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let moved = tx.remove_holiday(access.workspace_id, day, now).await?;
    tx.record_audit(
        &audit::with_details(
            audit::by(access, client, "privacy.holiday.removed"),
            serde_json::json!({ "day": day.to_string(), "requests_rescheduled": moved }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(moved)
}

/// Lists a public holiday (admin): the deadline calendar skips it like a weekend, and open
/// requests whose deadlines it moves are rescheduled at once.
#[utoipa::path(post, path = "/api/v1/privacy/holidays", tag = "privacy",
    request_body = NewHoliday,
    responses((status = 201, body = HolidayChange), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_holiday(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    ApiJson(body): ApiJson<NewHoliday>,
) -> Result<(StatusCode, ApiJson<HolidayChange>), ApiError> {
    let change = add(&state, &access, &client, &body).await?;
    Ok((StatusCode::CREATED, ApiJson(change)))
}

/// The workspace's public holidays, earliest first (admin).
#[utoipa::path(get, path = "/api/v1/privacy/holidays", tag = "privacy",
    responses((status = 200, body = HolidayList), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_holidays(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<HolidayList>, ApiError> {
    access.require(Role::Admin)?;
    let holidays = state.store.holidays(access.workspace_id).await?;
    Ok(ApiJson(HolidayList {
        data: holidays.iter().map(HolidayView::from).collect(),
    }))
}

/// Removes a public holiday (admin); open requests are rescheduled.
#[utoipa::path(delete, path = "/api/v1/privacy/holidays/{day}", tag = "privacy",
    params(("day" = String, Path, description = "The day, YYYY-MM-DD")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn remove_holiday(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(day): Path<String>,
) -> Result<StatusCode, ApiError> {
    remove(&state, &access, &client, &day).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Template)]
#[template(path = "privacy_holidays.html")]
struct HolidaysPage {
    nav: Option<Nav>,
    section: &'static str,
    csrf_token: String,
    holidays: Vec<HolidayView>,
    day: String,
    name: String,
    notice: Option<String>,
    error: Option<ValidationError>,
}

async fn render_page(
    state: &AppState,
    nav: Nav,
    access: &WorkspaceAccess,
    typed: (String, String),
    notice: Option<String>,
    error: Option<ValidationError>,
) -> Result<Response, WebError> {
    let holidays = state.store.holidays(access.workspace_id).await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = HolidaysPage {
        csrf_token: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "privacy",
        holidays: holidays.iter().map(HolidayView::from).collect(),
        day: typed.0,
        name: typed.1,
        notice,
        error,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(serde::Deserialize)]
struct Notice {
    done: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    axum::extract::Query(q): axum::extract::Query<Notice>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let notice = q.done.map(|d| match d.as_str() {
        "removed" => "Holiday removed; open requests were rescheduled.".to_owned(),
        _ => "Holiday added; open requests were rescheduled.".to_owned(),
    });
    render_page(&state, nav, &access, Default::default(), notice, None).await
}

#[derive(serde::Deserialize)]
struct HolidayForm {
    #[serde(default)]
    day: String,
    #[serde(default)]
    name: String,
}

async fn add_from_form(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<HolidayForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let body = NewHoliday {
        day: form.day.clone(),
        name: form.name.clone(),
    };
    match add(&state, &access, &client, &body).await {
        Ok(_) => Ok(Redirect::to("/settings/privacy/holidays?done=added").into_response()),
        Err(ApiError::Validation(e)) => {
            render_page(&state, nav, &access, (form.day, form.name), None, Some(e)).await
        }
        Err(ApiError::Conflict { code, message }) => {
            let e = ValidationError::new(code, message).on("day");
            render_page(&state, nav, &access, (form.day, form.name), None, Some(e)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(serde::Deserialize)]
struct Empty {}

async fn remove_from_form(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(day): Path<String>,
    WebForm { auth, form: _ }: WebForm<Empty>,
) -> Result<Response, WebError> {
    let (_, access) = web_admin(&state, &auth).await?;
    remove(&state, &access, &client, &day).await?;
    Ok(Redirect::to("/settings/privacy/holidays?done=removed").into_response())
}
