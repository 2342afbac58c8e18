//! Settings > Privacy > Record a request: the intake form for a request received by email or
//! by hand, and each intake request's page (choose the contact among the candidates, send a
//! code, enter the code the requester sent back, or record another verification). Plain
//! forms that work without JavaScript; every action goes through [`super::intake`], the
//! functions the API calls.

use super::api::RequestView;
use super::intake::{self, IntakeForm, SendOutcome};
use super::intake_api::{CandidateView, VerificationView};
use crate::auth::csrf::WebForm;
use crate::auth::{ClientInfo, WebUser, WorkspaceAccess};
use crate::error::ApiError;
use crate::routes::workspaces::{path_id, web_admin};
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use switchboard_core::{ContactId, PrivacyRequestId, ValidationError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/privacy/intake", get(form_page).post(record))
        .route("/settings/privacy/intake/{id}", get(request_page))
        .route("/settings/privacy/intake/{id}/subject", post(choose))
        .route("/settings/privacy/intake/{id}/code", post(send_code))
        .route("/settings/privacy/intake/{id}/verify", post(verify))
        .route("/settings/privacy/intake/{id}/attest", post(attest))
}

#[derive(Template)]
#[template(path = "privacy_intake.html")]
struct FormPage {
    nav: Option<Nav>,
    section: &'static str,
    csrf_token: String,
    form: FormValues,
    error: Option<ValidationError>,
    today: String,
}

/// What was typed, shown again with a refusal.
#[derive(Default, serde::Deserialize)]
struct FormValues {
    #[serde(default)]
    requester_email: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    regime: String,
    #[serde(default)]
    received_on: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    channel_user_id: String,
    #[serde(default)]
    widget_domain: String,
    #[serde(default)]
    chat_time: String,
}

impl FormValues {
    fn to_form(&self) -> IntakeForm {
        let opt = |s: &str| Some(s.to_owned()).filter(|s| !s.trim().is_empty());
        IntakeForm {
            requester_email: self.requester_email.clone(),
            kind: self.kind.clone(),
            regime: opt(&self.regime),
            received_on: opt(&self.received_on),
            phone: opt(&self.phone),
            email: opt(&self.email),
            channel_user_id: opt(&self.channel_user_id),
            widget_domain: opt(&self.widget_domain),
            chat_time: opt(&self.chat_time),
            contact_id: None,
        }
    }

    fn is(&self, field: &str, value: &str) -> bool {
        let v = match field {
            "kind" => &self.kind,
            _ => &self.regime,
        };
        v == value
    }
}

fn error_of(e: ApiError) -> Result<ValidationError, WebError> {
    match e {
        ApiError::Validation(v) => Ok(v),
        ApiError::Conflict { code, message } => Ok(ValidationError::new(code, message)),
        other => Err(other.into()),
    }
}

async fn form_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
) -> Result<Response, WebError> {
    let (nav, _) = web_admin(&state, &auth).await?;
    Ok(render(&FormPage {
        csrf_token: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "privacy",
        form: FormValues::default(),
        error: None,
        today: state.clock.now().date().to_string(),
    })
    .into_response())
}

async fn record(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<FormValues>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    match intake::record(&state, &access, &client, &form.to_form()).await {
        Ok(outcome) => {
            let notice = match &outcome.verification {
                Some(v) => sent_notice(v),
                None if outcome.candidates.is_empty() => "Recorded. No contact matched what the requester gave: find the contact and choose it below.".to_owned(),
                None => "Recorded. Several contacts match: choose the one the request is about.".to_owned(),
            };
            show(&state, nav, &access, outcome.request.id, Some(notice), None).await
        }
        Err(e) => {
            let error = error_of(e)?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&FormPage {
                    csrf_token: nav.csrf_token.clone(),
                    nav: Some(nav),
                    section: "privacy",
                    form,
                    error: Some(error),
                    today: state.clock.now().date().to_string(),
                }),
            )
                .into_response())
        }
    }
}

fn sent_notice(v: &SendOutcome) -> String {
    if v.sent && v.method.as_deref() == Some("email") {
        format!(
            "A verification code was emailed to the address recorded on the contact. It expires at {}.",
            v.expires_at.as_deref().unwrap_or("")
        )
    } else if v.sent {
        format!(
            "A verification code was sent to the contact through {}. It expires at {}.",
            v.channel.as_deref().unwrap_or("their channel"),
            v.expires_at.as_deref().unwrap_or("")
        )
    } else {
        format!(
            "No code could be sent: {} Send one later, or record how you verified the requester another way.",
            v.note.as_deref().unwrap_or("no channel can carry it now.")
        )
    }
}

#[derive(Template)]
#[template(path = "privacy_intake_request.html")]
struct RequestPage {
    nav: Option<Nav>,
    section: &'static str,
    csrf_token: String,
    request: RequestView,
    requester_email: Option<String>,
    candidates: Vec<CandidateView>,
    verifications: Vec<VerificationView>,
    awaiting: bool,
    subject_chosen: bool,
    notice: Option<String>,
    error: Option<ValidationError>,
}

async fn show(
    state: &AppState,
    nav: Nav,
    access: &WorkspaceAccess,
    id: PrivacyRequestId,
    notice: Option<String>,
    error: Option<ValidationError>,
) -> Result<Response, WebError> {
    let ws = access.workspace_id;
    let request = state.store.privacy_request(ws, id).await?;
    let candidates = intake::candidates_of(state, ws, &request).await?;
    let (requester_email, _) = state.store.request_intake(ws, id).await?;
    let verifications = state.store.verifications(ws, id).await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = RequestPage {
        csrf_token: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "privacy",
        awaiting: request.state == switchboard_core::privacy::RequestState::AwaitingIdentity,
        subject_chosen: request.subject_id.is_some(),
        request: RequestView::of(&request, state.clock.now().date()),
        requester_email,
        candidates: candidates.iter().map(CandidateView::from).collect(),
        verifications: verifications.iter().map(VerificationView::from).collect(),
        notice,
        error,
    };
    Ok((status, render(&page)).into_response())
}

async fn request_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let id: PrivacyRequestId = path_id(&id)?;
    show(&state, nav, &access, id, None, None).await
}

/// Shows the request again with what the action did (or why it was refused).
async fn after(
    state: &AppState,
    nav: Nav,
    access: &WorkspaceAccess,
    id: PrivacyRequestId,
    done: Result<String, ApiError>,
) -> Result<Response, WebError> {
    match done {
        Ok(notice) => show(state, nav, access, id, Some(notice), None).await,
        Err(e) => {
            let error = error_of(e)?;
            show(state, nav, access, id, None, Some(error)).await
        }
    }
}

#[derive(serde::Deserialize)]
struct ChooseForm {
    #[serde(default)]
    contact_id: String,
}

async fn choose(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<ChooseForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let id: PrivacyRequestId = path_id(&id)?;
    let done = match form.contact_id.trim().parse::<ContactId>() {
        Ok(contact) => intake::choose_subject(&state, &access, &client, id, contact)
            .await
            .map(|v| sent_notice(&v)),
        Err(_) => Err(ValidationError::new("invalid_contact", "Choose a contact.")
            .on("contact_id")
            .into()),
    };
    after(&state, nav, &access, id, done).await
}

#[derive(serde::Deserialize)]
struct Empty {}

async fn send_code(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, form: _ }: WebForm<Empty>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let id: PrivacyRequestId = path_id(&id)?;
    let done = intake::resend(&state, &access, &client, id, None)
        .await
        .map(|v| sent_notice(&v));
    after(&state, nav, &access, id, done).await
}

#[derive(serde::Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn verify(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<CodeForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let id: PrivacyRequestId = path_id(&id)?;
    let done = intake::verify(&state, &access, &client, id, &form.code)
        .await
        .map(|r| format!("Identity verified. The request is now {}.", r.state));
    after(&state, nav, &access, id, done).await
}

#[derive(serde::Deserialize)]
struct AttestForm {
    #[serde(default)]
    how: String,
}

async fn attest(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<AttestForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let id: PrivacyRequestId = path_id(&id)?;
    let done = intake::attest(&state, &access, &client, id, &form.how)
        .await
        .map(|r| format!("Verification recorded. The request is now {}.", r.state));
    after(&state, nav, &access, id, done).await
}
