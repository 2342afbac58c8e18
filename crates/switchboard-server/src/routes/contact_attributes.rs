//! The workspace's custom contact attributes over the API: list and read (agents), define,
//! change and delete (admins). A contact's values are written through `PATCH
//! /api/v1/contacts/{id}` (`routes::contacts`).
//!
//! Invariant: a definition is checked whole before it is stored (key, label, type, a list's
//! options), and its key and type never change, so every stored value still parses.

use crate::audit;
use crate::auth::{ClientInfo, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::conversations::{idempotency_key, invalid};
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use switchboard_core::contact_attributes::{AttributeKind, parse_key, parse_options};
use switchboard_core::{ContactAttributeId, Role};
use switchboard_store::contact_attributes::{AttributeDef, NewAttribute};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_attributes, create_attribute))
        .routes(routes!(get_attribute, update_attribute, delete_attribute))
}

#[derive(serde::Serialize, ToSchema)]
pub struct AttributeView {
    pub id: String,
    /// Names the attribute in the API, in CSV headers (`attr.<key>`) and in filters.
    pub key: String,
    pub label: String,
    /// `text`, `number`, `date`, `boolean` or `list`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A list's options (empty for other types).
    pub options: Vec<String>,
    /// Whether values are personal data about the contact (classified and exported as such).
    pub personal: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&AttributeDef> for AttributeView {
    fn from(d: &AttributeDef) -> Self {
        Self {
            id: d.id.to_string(),
            key: d.key.clone(),
            label: d.label.clone(),
            kind: d.kind.as_str().to_owned(),
            options: d.options.clone(),
            personal: d.personal,
            created_at: rfc3339(d.created_at),
            updated_at: rfc3339(d.updated_at),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct AttributeList {
    /// By label.
    pub data: Vec<AttributeView>,
    /// Always absent: the attributes come in one page.
    pub next_cursor: Option<String>,
}

/// The workspace's contact attributes (agent).
#[utoipa::path(get, path = "/api/v1/contact-attributes", tag = "contacts",
    responses((status = 200, body = AttributeList)),
    security(("bearer" = [])))]
async fn list_attributes(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<AttributeList>, ApiError> {
    access.require(Role::Agent)?;
    let defs = state.store.contact_attributes(access.workspace_id).await?;
    Ok(ApiJson(AttributeList {
        data: defs.iter().map(AttributeView::from).collect(),
        next_cursor: None,
    }))
}

/// One contact attribute (agent).
#[utoipa::path(get, path = "/api/v1/contact-attributes/{id}", tag = "contacts",
    params(("id" = String, Path, description = "The attribute's id")),
    responses((status = 200, body = AttributeView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_attribute(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    Path(id): Path<String>,
) -> Result<ApiJson<AttributeView>, ApiError> {
    access.require(Role::Agent)?;
    let id: ContactAttributeId = path_id(&id)?;
    let def = state
        .store
        .contact_attribute(access.workspace_id, id)
        .await?;
    Ok(ApiJson(AttributeView::from(&def)))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAttributeBody {
    /// 1 to 40 lowercase letters, digits and `_`, starting with a letter.
    pub key: String,
    /// 1 to 100 characters.
    pub label: String,
    /// `text`, `number`, `date`, `boolean` or `list`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For a list: 1 to 100 distinct options.
    pub options: Option<Vec<String>>,
    /// Whether values are personal data (a birthday, an address); false by default.
    pub personal: Option<bool>,
}

fn label(raw: &str) -> Result<String, ApiError> {
    let l = raw.trim();
    if l.is_empty() || l.chars().count() > 100 || l.chars().any(char::is_control) {
        return Err(invalid(
            "invalid_label",
            "A label is 1 to 100 characters.",
            "label",
        ));
    }
    Ok(l.to_owned())
}

fn options(kind: AttributeKind, given: Option<&Vec<String>>) -> Result<Vec<String>, ApiError> {
    match (kind, given) {
        (AttributeKind::List, Some(o)) => Ok(parse_options(o)?),
        (AttributeKind::List, None) => Err(invalid(
            "invalid_options",
            "A list attribute needs its options.",
            "options",
        )),
        (_, Some(o)) if !o.is_empty() => Err(invalid(
            "invalid_options",
            "Only a list attribute has options.",
            "options",
        )),
        _ => Ok(Vec::new()),
    }
}

/// Defines a contact attribute (admin). The key is unique in the workspace
/// (`attribute_exists`); with an `Idempotency-Key`, a retried request answers the first
/// attribute. Audited.
#[utoipa::path(post, path = "/api/v1/contact-attributes", tag = "contacts",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes the request safe to retry: the same key answers the same attribute")),
    request_body = NewAttributeBody,
    responses((status = 201, body = AttributeView), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_attribute(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewAttributeBody>,
) -> Result<(StatusCode, ApiJson<AttributeView>), ApiError> {
    access.require(Role::Admin)?;
    let ws = access.workspace_id;
    let idem = idempotency_key(&headers)?;
    if let Some(k) = &idem
        && let Some(earlier) = state
            .store
            .contact_attribute_by_idempotency_key(ws, k)
            .await?
    {
        return Ok((StatusCode::CREATED, ApiJson(AttributeView::from(&earlier))));
    }
    let key = parse_key(&body.key)?;
    let label = label(&body.label)?;
    let kind = AttributeKind::parse(body.kind.trim()).ok_or_else(|| {
        invalid(
            "invalid_type",
            "The type is text, number, date, boolean or list.",
            "type",
        )
    })?;
    let options = options(kind, body.options.as_ref())?;
    let personal = body.personal.unwrap_or(false);
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let id = tx
        .create_contact_attribute(
            ws,
            &NewAttribute {
                key: &key,
                label: &label,
                kind,
                options: &options,
                personal,
            },
            idem.as_deref(),
            now,
        )
        .await?;
    tx.record_audit(
        &audit::with_details(
            audit::by(&access, &client, "contact_attribute.created").target(
                "contact_attribute",
                id,
                Some(&key),
            ),
            serde_json::json!({ "type": kind.as_str(), "personal": personal }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    let def = state.store.contact_attribute(ws, id).await?;
    Ok((StatusCode::CREATED, ApiJson(AttributeView::from(&def))))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeChangeBody {
    pub label: Option<String>,
    /// A list's options (replacing them); values no longer listed stay until rewritten.
    pub options: Option<Vec<String>>,
    /// Whether values are personal data; changing it moves every value in one transaction.
    pub personal: Option<bool>,
}

/// Changes an attribute's label, options or personal flag (admin). The key and type do not
/// change (delete and define again). Audited.
#[utoipa::path(patch, path = "/api/v1/contact-attributes/{id}", tag = "contacts",
    params(("id" = String, Path, description = "The attribute's id")),
    request_body = AttributeChangeBody,
    responses((status = 200, body = AttributeView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_attribute(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AttributeChangeBody>,
) -> Result<ApiJson<AttributeView>, ApiError> {
    access.require(Role::Admin)?;
    let ws = access.workspace_id;
    let id: ContactAttributeId = path_id(&id)?;
    let mut def = state.store.contact_attribute(ws, id).await?;
    if let Some(l) = &body.label {
        def.label = label(l)?;
    }
    if body.options.is_some() {
        def.options = options(def.kind, body.options.as_ref())?;
    }
    if let Some(p) = body.personal {
        def.personal = p;
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.update_contact_attribute(ws, &def, now).await?;
    tx.record_audit(
        &audit::with_details(
            audit::by(&access, &client, "contact_attribute.updated").target(
                "contact_attribute",
                id,
                Some(&def.key),
            ),
            serde_json::json!({ "personal": def.personal }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    let def = state.store.contact_attribute(ws, id).await?;
    Ok(ApiJson(AttributeView::from(&def)))
}

/// Deletes an attribute and every contact's value of it (admin). Audited.
#[utoipa::path(delete, path = "/api/v1/contact-attributes/{id}", tag = "contacts",
    params(("id" = String, Path, description = "The attribute's id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_attribute(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    access.require(Role::Admin)?;
    let ws = access.workspace_id;
    let id: ContactAttributeId = path_id(&id)?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.delete_contact_attribute(ws, id).await?;
    tx.record_audit(
        &audit::by(&access, &client, "contact_attribute.deleted").target(
            "contact_attribute",
            id,
            None,
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
