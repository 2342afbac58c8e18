//! `/api/v1/privacy/intake`: record a request received by email or by hand, choose its
//! contact among the candidates, send (or resend) the verification code, enter the code the
//! requester sent back, or record a verification made another way. Admins only; the rules
//! live in [`super::intake`].

use super::api::RequestView;
use super::intake::{self, IntakeForm, SendOutcome};
use crate::auth::{ClientInfo, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use switchboard_core::{ContactId, ConversationId, PrivacyRequestId, Role, ValidationError};
use switchboard_store::privacy_intake::{Candidate, Verification};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(record_intake))
        .routes(routes!(get_intake))
        .routes(routes!(choose_subject))
        .routes(routes!(send_code))
        .routes(routes!(verify_code))
        .routes(routes!(attest_identity))
}

#[derive(serde::Serialize, ToSchema)]
pub struct CandidateView {
    pub contact_id: String,
    pub display_name: Option<String>,
    /// Which identifiers matched: `phone`, `email`, `channel_user_id`, `widget_chat`.
    pub matched_by: Vec<String>,
}

impl From<&Candidate> for CandidateView {
    fn from(c: &Candidate) -> Self {
        Self {
            contact_id: c.contact_id.to_string(),
            display_name: c.display_name.clone(),
            matched_by: c.matched_by.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct VerificationView {
    pub id: String,
    /// `conversation` (a code sent through the contact's channel), `email` (a code sent to
    /// the address recorded on the contact) or `attested`.
    pub method: String,
    pub conversation_id: Option<String>,
    pub attempts: i64,
    #[schema(format = DateTime)]
    pub expires_at: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub verified_at: Option<String>,
    #[schema(format = DateTime)]
    pub superseded_at: Option<String>,
}

impl From<&Verification> for VerificationView {
    fn from(v: &Verification) -> Self {
        Self {
            id: v.id.to_string(),
            method: v.method.as_str().to_owned(),
            conversation_id: v.conversation_id.map(|c| c.to_string()),
            attempts: v.attempts,
            expires_at: rfc3339(v.expires_at),
            created_at: rfc3339(v.created_at),
            verified_at: v.verified_at.map(rfc3339),
            superseded_at: v.superseded_at.map(rfc3339),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct IntakeView {
    pub request: RequestView,
    /// Contacts the identifiers given match (on intake; later only while no subject is
    /// chosen). With none or several, nothing is guessed: choose one with `/subject`.
    pub candidates: Vec<CandidateView>,
    /// What sending the code did (on intake and on `/code`).
    pub verification: Option<SendOutcome>,
    /// Every code sent or verification recorded, newest first.
    pub verifications: Vec<VerificationView>,
}

async fn view(
    state: &AppState,
    access: &WorkspaceAccess,
    id: PrivacyRequestId,
    candidates: Option<Vec<Candidate>>,
    verification: Option<SendOutcome>,
) -> Result<IntakeView, ApiError> {
    let ws = access.workspace_id;
    let request = state.store.privacy_request(ws, id).await?;
    let candidates = match candidates {
        Some(c) => c,
        None => intake::candidates_of(state, ws, &request).await?,
    };
    let verifications = state.store.verifications(ws, id).await?;
    Ok(IntakeView {
        request: RequestView::of(&request, state.clock.now().date()),
        candidates: candidates.iter().map(CandidateView::from).collect(),
        verification,
        verifications: verifications.iter().map(VerificationView::from).collect(),
    })
}

/// Records a privacy request received by email or by hand (admin). The request is
/// `awaiting_identity` at once (its clock paused, audited) and the requester gets an
/// acknowledgement. When exactly one contact matches the identifiers (or `contact_id` names
/// the operator's choice), a verification code goes to that contact through one of its
/// conversations; otherwise the candidates are listed and nothing is guessed.
#[utoipa::path(post, path = "/api/v1/privacy/intake", tag = "privacy",
    request_body = IntakeForm,
    responses((status = 201, body = IntakeView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn record_intake(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    ApiJson(body): ApiJson<IntakeForm>,
) -> Result<(StatusCode, ApiJson<IntakeView>), ApiError> {
    let outcome = intake::record(&state, &access, &client, &body).await?;
    let v = view(
        &state,
        &access,
        outcome.request.id,
        Some(outcome.candidates),
        outcome.verification,
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(v)))
}

/// An intake request with its candidates and verifications (admin).
#[utoipa::path(get, path = "/api/v1/privacy/intake/{id}", tag = "privacy",
    params(("id" = String, Path, description = "The request's id")),
    responses((status = 200, body = IntakeView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_intake(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<IntakeView>, ApiError> {
    access.require(Role::Admin)?;
    let id: PrivacyRequestId = path_id(&id)?;
    Ok(ApiJson(view(&state, &access, id, None, None).await?))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChooseSubject {
    /// The contact the request is about, chosen by the operator.
    pub contact_id: String,
}

/// Chooses the contact a request is about (when none or several matched) and sends it the
/// verification code (admin; audited).
#[utoipa::path(post, path = "/api/v1/privacy/intake/{id}/subject", tag = "privacy",
    params(("id" = String, Path, description = "The request's id")),
    request_body = ChooseSubject,
    responses((status = 200, body = IntakeView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn choose_subject(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChooseSubject>,
) -> Result<ApiJson<IntakeView>, ApiError> {
    let id: PrivacyRequestId = path_id(&id)?;
    let contact: ContactId = body.contact_id.trim().parse().map_err(|_| {
        ApiError::from(
            ValidationError::new("invalid_contact", "The contact_id is an id.").on("contact_id"),
        )
    })?;
    let sent = intake::choose_subject(&state, &access, &client, id, contact).await?;
    Ok(ApiJson(view(&state, &access, id, None, Some(sent)).await?))
}

#[derive(serde::Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SendCode {
    /// Send through this conversation of the contact (default: the first whose window
    /// allows a message now).
    #[serde(default)]
    pub conversation_id: Option<String>,
}

/// Sends a new verification code to the request's contact; the earlier code dies (admin).
/// When no channel can carry it now, `verification.sent` is false with the reason.
#[utoipa::path(post, path = "/api/v1/privacy/intake/{id}/code", tag = "privacy",
    params(("id" = String, Path, description = "The request's id")),
    request_body = SendCode,
    responses((status = 200, body = IntakeView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn send_code(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SendCode>,
) -> Result<ApiJson<IntakeView>, ApiError> {
    let id: PrivacyRequestId = path_id(&id)?;
    let conversation = body
        .conversation_id
        .as_deref()
        .map(|c| {
            c.trim().parse::<ConversationId>().map_err(|_| {
                ApiError::from(
                    ValidationError::new("invalid_conversation", "The conversation_id is an id.")
                        .on("conversation_id"),
                )
            })
        })
        .transpose()?;
    let sent = intake::resend(&state, &access, &client, id, conversation).await?;
    Ok(ApiJson(view(&state, &access, id, None, Some(sent)).await?))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyCode {
    /// The code the requester sent back (case, spaces and dashes do not matter).
    pub code: String,
}

/// Checks the code the requester sent back (admin). Wrong: 422 `wrong_code` (the attempt
/// counts), `code_expired`, `too_many_attempts`. Right: the clock resumes and the request
/// proceeds — erasure and export start, a restriction or objection is recorded and the
/// request completed.
#[utoipa::path(post, path = "/api/v1/privacy/intake/{id}/verify", tag = "privacy",
    params(("id" = String, Path, description = "The request's id")),
    request_body = VerifyCode,
    responses((status = 200, body = IntakeView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn verify_code(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<VerifyCode>,
) -> Result<ApiJson<IntakeView>, ApiError> {
    let id: PrivacyRequestId = path_id(&id)?;
    intake::verify(&state, &access, &client, id, &body.code).await?;
    Ok(ApiJson(view(&state, &access, id, None, None).await?))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttestIdentity {
    /// How the identity was verified instead (3 to 1000 characters), e.g. "called the
    /// number on the contact's WhatsApp identity and they confirmed".
    pub how: String,
}

/// Records that the requester's identity was verified another way, and how (admin;
/// audited with the reason). The request then proceeds as after a code.
#[utoipa::path(post, path = "/api/v1/privacy/intake/{id}/attest", tag = "privacy",
    params(("id" = String, Path, description = "The request's id")),
    request_body = AttestIdentity,
    responses((status = 200, body = IntakeView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn attest_identity(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AttestIdentity>,
) -> Result<ApiJson<IntakeView>, ApiError> {
    let id: PrivacyRequestId = path_id(&id)?;
    intake::attest(&state, &access, &client, id, &body.how).await?;
    Ok(ApiJson(view(&state, &access, id, None, None).await?))
}
