//! Contacts over the API: search, one contact with its identities and consent records, and
//! the opt-in ledger (record and withdraw consent, both audited).

use crate::audit;
use crate::auth::{ClientInfo, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::paging::{invalid_cursor, nonempty, parse_limit, parse_query};
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use switchboard_core::channel::ChannelKind;
use switchboard_core::{ConnectionId, ContactId, Role, ValidationError};
use switchboard_store::consent::{ConsentKind, ConsentRecord, NewOptIn};
use switchboard_store::contacts::Contact;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts))
        .routes(routes!(get_contact))
        .routes(routes!(record_consent))
        .routes(routes!(withdraw_consent))
}

#[derive(serde::Serialize, ToSchema)]
pub struct IdentityView {
    pub connection_id: String,
    /// The channel kind (`whatsapp`, `telegram`, ...).
    pub channel: String,
    /// The contact's id on the platform (wa_id, PSID, chat id, ...).
    pub external_id: String,
    pub username: Option<String>,
    pub phone: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ConsentView {
    pub id: String,
    pub connection_id: String,
    /// `whatsapp_marketing`, `whatsapp_utility` or `whatsapp_authentication`.
    pub kind: String,
    pub source: String,
    pub proof: Option<String>,
    #[schema(format = DateTime)]
    pub granted_at: String,
    #[schema(format = DateTime)]
    pub withdrawn_at: Option<String>,
    pub recorded_by: Option<String>,
}

impl From<&ConsentRecord> for ConsentView {
    fn from(r: &ConsentRecord) -> Self {
        Self {
            id: r.id.to_string(),
            connection_id: r.connection_id.to_string(),
            kind: r.kind.as_str().to_owned(),
            source: r.source.clone(),
            proof: r.proof.clone(),
            granted_at: rfc3339(r.granted_at),
            withdrawn_at: r.withdrawn_at.map(rfc3339),
            recorded_by: r.recorded_by.map(|u| u.to_string()),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct ContactView {
    pub id: String,
    pub display_name: Option<String>,
    /// How the contact is known on each channel connection.
    pub identities: Vec<IdentityView>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(format = DateTime)]
    pub last_seen_at: Option<String>,
    /// The opt-in ledger (one contact only; absent in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<Vec<ConsentView>>,
}

impl From<&Contact> for ContactView {
    fn from(c: &Contact) -> Self {
        Self {
            id: c.id.to_string(),
            display_name: c.display_name.clone(),
            identities: c
                .identities
                .iter()
                .map(|i| IdentityView {
                    connection_id: i.connection_id.to_string(),
                    channel: i.kind.as_str().to_owned(),
                    external_id: i.external_id.clone(),
                    username: i.username.clone(),
                    phone: i.phone.clone(),
                })
                .collect(),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            last_seen_at: c.last_seen_at.map(rfc3339),
            consent: None,
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct ContactList {
    pub data: Vec<ContactView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(serde::Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// Part of a name, platform id, username or phone number (case-insensitive).
    pub q: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 200; 50 by default.
    pub limit: Option<String>,
}

/// The workspace's contacts, newest first, optionally matching `q` (agent).
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts",
    params(ContactQuery),
    responses((status = 200, body = ContactList), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_contacts(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    RawQuery(raw): RawQuery,
) -> Result<ApiJson<ContactList>, ApiError> {
    access.require(Role::Agent)?;
    let query: ContactQuery = parse_query(raw.as_deref())?;
    let limit = parse_limit(&query.limit)?;
    let q = nonempty(&query.q);
    if q.is_some_and(|q| q.chars().count() > 200) {
        return Err(
            ValidationError::new("invalid_query", "A search is at most 200 characters.")
                .on("q")
                .into(),
        );
    }
    let after = nonempty(&query.cursor)
        .map(|c| c.parse::<ContactId>().map_err(|_| invalid_cursor()))
        .transpose()?;
    let contacts = state
        .store
        .search_contacts(access.workspace_id, q, after, limit)
        .await?;
    let next_cursor = (contacts.len() as i64 == limit)
        .then(|| contacts.last())
        .flatten()
        .map(|c| c.id.to_string());
    Ok(ApiJson(ContactList {
        data: contacts.iter().map(ContactView::from).collect(),
        next_cursor,
    }))
}

/// One contact with its identities per channel and its consent records (agent).
#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id")),
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_contact(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<ContactView>, ApiError> {
    access.require(Role::Agent)?;
    let id: ContactId = path_id(&id)?;
    let contact = state.store.contact(access.workspace_id, id).await?;
    let records = state.store.consent_records(access.workspace_id, id).await?;
    let mut view = ContactView::from(&contact);
    view.consent = Some(records.iter().map(ConsentView::from).collect());
    Ok(ApiJson(view))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConsent {
    /// `whatsapp_marketing`, `whatsapp_utility` or `whatsapp_authentication`.
    pub kind: String,
    /// Where consent was given: `website_form`, `chat_keyword`, `agent`, `import`, ...
    pub source: String,
    /// What shows it: the form's text and URL, a message id, a note.
    pub proof: Option<String>,
    /// The WhatsApp connection it applies to; may be left out when the contact is on one only.
    pub connection_id: Option<String>,
}

fn consent_kind(raw: &str) -> Result<ConsentKind, ApiError> {
    ConsentKind::parse(raw).ok_or_else(|| {
        ValidationError::new(
            "invalid_consent_kind",
            "The kind is whatsapp_marketing, whatsapp_utility or whatsapp_authentication.",
        )
        .on("kind")
        .into()
    })
}

/// The contact's WhatsApp connection: the one named, or the only one it has.
fn whatsapp_connection(contact: &Contact, named: Option<&str>) -> Result<ConnectionId, ApiError> {
    let on_whatsapp: Vec<ConnectionId> = contact
        .identities
        .iter()
        .filter(|i| i.kind == ChannelKind::WhatsApp)
        .map(|i| i.connection_id)
        .collect();
    let bad = |m: &str| -> ApiError {
        ValidationError::new("invalid_connection", m)
            .on("connection_id")
            .into()
    };
    match named {
        Some(raw) => {
            let id: ConnectionId = raw
                .parse()
                .map_err(|_| bad("The connection_id is an id."))?;
            if on_whatsapp.contains(&id) {
                Ok(id)
            } else {
                Err(bad("The contact is not known on that WhatsApp connection."))
            }
        }
        None => match on_whatsapp.as_slice() {
            [only] => Ok(*only),
            [] => Err(bad("The contact is not known on any WhatsApp connection.")),
            _ => Err(bad(
                "The contact is on several WhatsApp connections; name one.",
            )),
        },
    }
}

/// Records a contact's opt-in (agent), audited. Recording consent that already holds
/// answers the existing record.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/consent", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id")),
    request_body = RecordConsent,
    responses((status = 201, body = ConsentView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn record_consent(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RecordConsent>,
) -> Result<(StatusCode, ApiJson<ConsentView>), ApiError> {
    access.require(Role::Agent)?;
    let id: ContactId = path_id(&id)?;
    let ws = access.workspace_id;
    let kind = consent_kind(&body.kind)?;
    let source = body.source.trim();
    if source.is_empty() || source.chars().count() > 100 {
        return Err(
            ValidationError::new("invalid_source", "The source is 1 to 100 characters.")
                .on("source")
                .into(),
        );
    }
    if body
        .proof
        .as_ref()
        .is_some_and(|p| p.chars().count() > 4000)
    {
        return Err(
            ValidationError::new("invalid_proof", "The proof is at most 4000 characters.")
                .on("proof")
                .into(),
        );
    }
    let contact = state.store.contact(ws, id).await?;
    let connection = whatsapp_connection(&contact, nonempty(&body.connection_id))?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let record_id = tx
        .record_opt_in(
            ws,
            &NewOptIn {
                contact: id,
                connection,
                kind,
                source,
                proof: body.proof.as_deref(),
                granted_at: now,
                recorded_by: access.actor.user_id(),
            },
            now,
        )
        .await?;
    let event = audit::with_details(
        audit::by(&access, &client, "consent.recorded").target("contact", id, None),
        serde_json::json!({ "kind": kind.as_str(), "source": source, "connection_id": connection }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    let records = state.store.consent_records(ws, id).await?;
    let record = records
        .iter()
        .find(|r| r.id == record_id)
        .ok_or_else(|| ApiError::internal("the consent record just written is missing"))?;
    Ok((StatusCode::CREATED, ApiJson(ConsentView::from(record))))
}

#[derive(serde::Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WithdrawQuery {
    /// The WhatsApp connection; may be left out when the contact is on one only.
    pub connection_id: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct Withdrawn {
    /// Whether consent of that kind held until now.
    pub withdrawn: bool,
}

/// Records that the contact withdrew consent of `kind` (agent), audited. The record stays
/// in the ledger with its withdrawal time.
#[utoipa::path(delete, path = "/api/v1/contacts/{id}/consent/{kind}", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id"),
        ("kind" = String, Path, description = "The consent kind"), WithdrawQuery),
    responses((status = 200, body = Withdrawn), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn withdraw_consent(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path((id, kind)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<ApiJson<Withdrawn>, ApiError> {
    access.require(Role::Agent)?;
    let id: ContactId = path_id(&id)?;
    let kind = consent_kind(&kind)?;
    let query: WithdrawQuery = parse_query(raw.as_deref())?;
    let ws = access.workspace_id;
    let contact = state.store.contact(ws, id).await?;
    let connection = whatsapp_connection(&contact, nonempty(&query.connection_id))?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let withdrawn = tx.withdraw_opt_in(ws, id, connection, kind, now).await?;
    let event = audit::with_details(
        audit::by(&access, &client, "consent.withdrawn").target("contact", id, None),
        serde_json::json!({ "kind": kind.as_str(), "connection_id": connection, "held": withdrawn }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(ApiJson(Withdrawn { withdrawn }))
}
