//! Contacts over the API: the filtered list (search, channel, connection, label, lifecycle
//! stage, attribute, segment) in keyset pages, creating and editing a contact (name, email,
//! phone, stage, custom attributes), labels on a contact, merging two contacts that are the
//! same person, one contact with its identities, labels, attributes, consent records and
//! conversations, and the opt-in ledger (record and withdraw consent).
//!
//! Invariant: the pages at `/contacts` act only through the functions here (`update`,
//! `set_label`, `merge`, `create`), so a page can do nothing the API would refuse; every
//! change is audited in its own transaction, naming fields, never their values.

use crate::audit;
use crate::auth::{ClientInfo, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::routes::conversations::{idempotency_key, invalid};
use crate::routes::paging::{invalid_cursor, nonempty, parse_limit, parse_query};
use crate::routes::workspaces::{path_id, rfc3339};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use std::collections::BTreeMap;
use switchboard_core::channel::ChannelKind;
use switchboard_core::contact_attributes::{LifecycleStage, parse_phone};
use switchboard_core::inventory::SubjectKind;
use switchboard_core::{
    ConnectionId, ContactId, EmailAddress, LabelId, Role, SegmentId, ValidationError, WorkspaceId,
};
use switchboard_store::consent::{ConsentKind, ConsentRecord, NewOptIn};
use switchboard_store::contact_attributes::AttributeDef;
use switchboard_store::contacts::{Contact, ContactChanges, ContactFilter, MergeReport};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(get_contact, patch_contact))
        .routes(routes!(add_contact_label, remove_contact_label))
        .routes(routes!(merge_contacts))
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
pub struct ContactLabelView {
    pub id: String,
    pub name: String,
    /// `#rrggbb`.
    pub colour: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ContactView {
    pub id: String,
    pub display_name: Option<String>,
    /// The email an agent recorded or an import brought (lowercase).
    pub email: Option<String>,
    /// The phone number an agent recorded (`+` and digits).
    pub phone: Option<String>,
    /// `lead`, `qualified`, `customer` or `churned`.
    pub lifecycle_stage: Option<String>,
    /// How the contact is known on each channel connection.
    pub identities: Vec<IdentityView>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(format = DateTime)]
    pub last_seen_at: Option<String>,
    /// The labels on the contact (one contact only; absent in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<ContactLabelView>>,
    /// Custom attribute values by key, in canonical text form (one contact only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, String>>,
    /// The contact's conversations on every channel, latest first (one contact only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_ids: Option<Vec<String>>,
    /// The opt-in ledger (one contact only; absent in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<Vec<ConsentView>>,
}

impl From<&Contact> for ContactView {
    fn from(c: &Contact) -> Self {
        Self {
            id: c.id.to_string(),
            display_name: c.display_name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            lifecycle_stage: c.lifecycle_stage.map(|s| s.as_str().to_owned()),
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
            labels: None,
            attributes: None,
            conversation_ids: None,
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

/// The contact list's filters, as query parameters and as a segment's saved definition.
#[derive(serde::Deserialize, serde::Serialize, IntoParams, ToSchema, Default, Clone, Debug)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FilterSpec {
    /// Part of a name, email, phone number, platform id or username (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Known on a channel of this kind (`whatsapp`, `telegram`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Known on this channel connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// Carries this label (its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `lead`, `qualified`, `customer` or `churned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// `key:value`: has this value of the custom attribute `key` (checked by its type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
}

#[derive(serde::Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// Part of a name, email, phone number, platform id or username (case-insensitive).
    pub q: Option<String>,
    /// Known on a channel of this kind (`whatsapp`, `telegram`, ...).
    pub channel: Option<String>,
    /// Known on this channel connection.
    pub connection_id: Option<String>,
    /// Carries this label (its id).
    pub label: Option<String>,
    /// `lead`, `qualified`, `customer` or `churned`.
    pub stage: Option<String>,
    /// `key:value`: has this value of the custom attribute `key`.
    pub attribute: Option<String>,
    /// A segment's id: its saved filter, combined with the others given.
    pub segment: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 200; 50 by default.
    pub limit: Option<String>,
}

impl ContactQuery {
    pub(crate) fn spec(&self) -> FilterSpec {
        FilterSpec {
            q: self.q.clone(),
            channel: self.channel.clone(),
            connection_id: self.connection_id.clone(),
            label: self.label.clone(),
            stage: self.stage.clone(),
            attribute: self.attribute.clone(),
        }
    }
}

/// `spec` checked and resolved against the workspace's attributes. `Ok(None)`: it names an
/// attribute that no longer exists and, `lenient` (a saved segment), matches nothing; not
/// lenient, that is an error.
pub(crate) async fn resolve_filter(
    state: &AppState,
    ws: WorkspaceId,
    spec: &FilterSpec,
    lenient: bool,
) -> Result<Option<ContactFilter>, ApiError> {
    let q = nonempty(&spec.q);
    if q.is_some_and(|q| q.chars().count() > 200) {
        return Err(invalid(
            "invalid_query",
            "A search is at most 200 characters.",
            "q",
        ));
    }
    let channel = nonempty(&spec.channel)
        .map(|c| {
            ChannelKind::parse(c)
                .map_err(|_| invalid("invalid_channel", "Unknown channel.", "channel"))
        })
        .transpose()?;
    let connection = nonempty(&spec.connection_id)
        .map(|c| {
            c.parse::<ConnectionId>().map_err(|_| {
                invalid(
                    "invalid_connection",
                    "The connection_id is an id.",
                    "connection_id",
                )
            })
        })
        .transpose()?;
    let label = nonempty(&spec.label)
        .map(|l| {
            l.parse::<LabelId>()
                .map_err(|_| invalid("invalid_label", "The label is a label's id.", "label"))
        })
        .transpose()?;
    let stage = nonempty(&spec.stage)
        .map(|s| LifecycleStage::parse_field(s).map_err(|e| ApiError::from(e.on("stage"))))
        .transpose()?;
    let attribute = match nonempty(&spec.attribute) {
        None => None,
        Some(raw) => {
            let (key, value) = raw.split_once(':').ok_or_else(|| {
                invalid(
                    "invalid_attribute",
                    "Filter by an attribute as key:value.",
                    "attribute",
                )
            })?;
            match state.store.contact_attribute_by_key(ws, key.trim()).await? {
                Some(def) => {
                    let value = def
                        .kind
                        .parse_value(value, &def.options)
                        .map_err(|e| ApiError::from(e.on("attribute")))?;
                    Some((def.id, value))
                }
                None if lenient => return Ok(None),
                None => {
                    return Err(invalid(
                        "unknown_attribute",
                        format!("No attribute has the key {:?}.", key.trim()),
                        "attribute",
                    ));
                }
            }
        }
    };
    Ok(Some(ContactFilter {
        q: q.map(str::to_owned),
        channel,
        connection,
        label,
        stage,
        attribute,
    }))
}

/// Both filters at once (a segment narrowed by the list's own filters); `None` when one of
/// them can match nothing.
pub(crate) fn combine(a: ContactFilter, b: ContactFilter) -> Option<ContactFilter> {
    fn one<T: PartialEq>(x: Option<T>, y: Option<T>) -> Result<Option<T>, ()> {
        match (x, y) {
            (Some(x), Some(y)) if x != y => Err(()),
            (x, y) => Ok(x.or(y)),
        }
    }
    // Two different searches both have to match: keep them only when equal, else the
    // narrower result is not expressible in one filter, so the list's own search wins.
    Some(ContactFilter {
        q: b.q.or(a.q),
        channel: one(a.channel, b.channel).ok()?,
        connection: one(a.connection, b.connection).ok()?,
        label: one(a.label, b.label).ok()?,
        stage: one(a.stage, b.stage).ok()?,
        attribute: one(a.attribute, b.attribute).ok()?,
    })
}

/// The filter a list request asks for (its own filters and, when named, a segment's).
pub(crate) async fn query_filter(
    state: &AppState,
    ws: WorkspaceId,
    query: &ContactQuery,
) -> Result<Option<ContactFilter>, ApiError> {
    let Some(own) = resolve_filter(state, ws, &query.spec(), false).await? else {
        return Ok(None);
    };
    match nonempty(&query.segment) {
        None => Ok(Some(own)),
        Some(raw) => {
            let id: SegmentId = raw
                .parse()
                .map_err(|_| invalid("invalid_segment", "The segment is an id.", "segment"))?;
            let segment = state.store.segment(ws, id).await?;
            let spec: FilterSpec = serde_json::from_value(segment.filter)
                .map_err(|_| ApiError::internal("a stored segment filter does not parse"))?;
            Ok(resolve_filter(state, ws, &spec, true)
                .await?
                .and_then(|saved| combine(saved, own)))
        }
    }
}

/// A page of contacts for `filter` (`None`: nothing matches) and the cursor after it.
pub(crate) async fn page_of(
    state: &AppState,
    ws: WorkspaceId,
    filter: Option<&ContactFilter>,
    cursor: &Option<String>,
    limit: i64,
) -> Result<(Vec<Contact>, Option<String>), ApiError> {
    let Some(filter) = filter else {
        return Ok((Vec::new(), None));
    };
    let after = nonempty(cursor)
        .map(|c| c.parse::<ContactId>().map_err(|_| invalid_cursor()))
        .transpose()?;
    let contacts = state.store.contact_page(ws, filter, after, limit).await?;
    let next_cursor = (contacts.len() as i64 == limit)
        .then(|| contacts.last())
        .flatten()
        .map(|c| c.id.to_string());
    Ok((contacts, next_cursor))
}

/// The workspace's contacts, newest first, filtered (agent). Filters combine: a contact is
/// listed when it matches all given.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts",
    params(ContactQuery),
    responses((status = 200, body = ContactList), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_contacts(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    RawQuery(raw): RawQuery,
) -> Result<ApiJson<ContactList>, ApiError> {
    access.require(Role::Agent)?;
    let query: ContactQuery = parse_query(raw.as_deref())?;
    let limit = parse_limit(&query.limit)?;
    let filter = query_filter(&state, access.workspace_id, &query).await?;
    let (contacts, next_cursor) = page_of(
        &state,
        access.workspace_id,
        filter.as_ref(),
        &query.cursor,
        limit,
    )
    .await?;
    Ok(ApiJson(ContactList {
        data: contacts.iter().map(ContactView::from).collect(),
        next_cursor,
    }))
}

/// Everything the contact page and `GET /api/v1/contacts/{id}` show.
pub(crate) async fn full_view(
    state: &AppState,
    ws: WorkspaceId,
    id: ContactId,
) -> Result<ContactView, ApiError> {
    let contact = state.store.contact(ws, id).await?;
    let records = state.store.consent_records(ws, id).await?;
    let labels = state.store.contact_labels(ws, id).await?;
    let defs = state.store.contact_attributes(ws).await?;
    let values = state.store.attribute_values(ws, id).await?;
    let conversations = state.store.contact_conversations(ws, id).await?;
    let mut view = ContactView::from(&contact);
    view.labels = Some(
        labels
            .iter()
            .map(|l| ContactLabelView {
                id: l.id.to_string(),
                name: l.name.clone(),
                colour: l.colour.clone(),
            })
            .collect(),
    );
    view.attributes = Some(
        values
            .into_iter()
            .filter_map(|(attr, v)| {
                defs.iter()
                    .find(|d| d.id == attr)
                    .map(|d| (d.key.clone(), v))
            })
            .collect(),
    );
    view.conversation_ids = Some(conversations.iter().map(|c| c.to_string()).collect());
    view.consent = Some(records.iter().map(ConsentView::from).collect());
    Ok(view)
}

/// One contact with its identities per channel, labels, attribute values, conversations and
/// consent records (agent).
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
    Ok(ApiJson(full_view(&state, access.workspace_id, id).await?))
}

/// Missing: left alone; `null`: cleared; a value: set.
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Option::<T>::deserialize(d).map(Some)
}

/// A contact's fields as a client writes them. Left out: unchanged; `null`: cleared.
#[derive(serde::Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    /// 1 to 200 characters.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// 5 to 20 digits, optionally starting with `+`; spaces, dots, dashes and brackets are
    /// dropped.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// `lead`, `qualified`, `customer` or `churned`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub lifecycle_stage: Option<Option<String>>,
    /// Attribute values by key: a string, number or boolean, checked by the attribute's type;
    /// `null` clears one.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<BTreeMap<String, serde_json::Value>>,
}

/// `input` checked: the contact's own fields, and the attribute values in canonical form.
pub(crate) async fn check_input(
    state: &AppState,
    ws: WorkspaceId,
    input: &ContactInput,
) -> Result<(ContactChanges, Vec<(AttributeDef, Option<String>)>), ApiError> {
    let text = |v: &Option<Option<String>>| -> Option<Option<String>> {
        v.as_ref().map(|v| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
    };
    let display_name = text(&input.display_name);
    if let Some(Some(name)) = &display_name
        && (name.chars().count() > 200 || name.chars().any(char::is_control))
    {
        return Err(invalid(
            "invalid_name",
            "A name is at most 200 characters.",
            "display_name",
        ));
    }
    let email = text(&input.email)
        .map(|e| {
            e.map(|e| {
                EmailAddress::parse(&e)
                    .map(|e| e.to_string().to_lowercase())
                    .map_err(|_| invalid("invalid_email", "That is not an email address.", "email"))
            })
            .transpose()
        })
        .transpose()?;
    let phone = text(&input.phone)
        .map(|p| {
            p.map(|p| parse_phone(&p).map_err(ApiError::from))
                .transpose()
        })
        .transpose()?;
    let lifecycle_stage = text(&input.lifecycle_stage)
        .map(|s| {
            s.map(|s| LifecycleStage::parse_field(&s).map_err(ApiError::from))
                .transpose()
        })
        .transpose()?;
    let mut attributes = Vec::new();
    if let Some(given) = &input.attributes {
        let defs = state.store.contact_attributes(ws).await?;
        for (key, raw) in given {
            let def = defs.iter().find(|d| &d.key == key).ok_or_else(|| {
                invalid(
                    "unknown_attribute",
                    format!("No attribute has the key {key:?}."),
                    "attributes",
                )
            })?;
            let raw = match raw {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) if s.trim().is_empty() => None,
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => {
                    return Err(invalid(
                        "invalid_attribute_value",
                        format!("The value of {key:?} is a string, number or boolean."),
                        "attributes",
                    ));
                }
            };
            let value = raw
                .map(|r| {
                    def.kind.parse_value(&r, &def.options).map_err(|e| {
                        ApiError::from(
                            ValidationError::new(e.code, format!("{key}: {}", e.message))
                                .on("attributes"),
                        )
                    })
                })
                .transpose()?;
            attributes.push((def.clone(), value));
        }
    }
    Ok((
        ContactChanges {
            display_name,
            email,
            phone,
            lifecycle_stage,
        },
        attributes,
    ))
}

/// The names of the fields `input` changes, for the audit log (never their values).
fn changed_fields(
    changes: &ContactChanges,
    attributes: &[(AttributeDef, Option<String>)],
) -> Vec<String> {
    let mut fields: Vec<String> = [
        ("display_name", changes.display_name.is_some()),
        ("email", changes.email.is_some()),
        ("phone", changes.phone.is_some()),
        ("lifecycle_stage", changes.lifecycle_stage.is_some()),
    ]
    .into_iter()
    .filter(|(_, given)| *given)
    .map(|(f, _)| f.to_owned())
    .collect();
    fields.extend(
        attributes
            .iter()
            .map(|(d, _)| format!("attributes.{}", d.key)),
    );
    fields
}

/// Applies checked changes to a contact in one transaction, audited (`contact.updated`).
pub(crate) async fn apply(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: ContactId,
    changes: &ContactChanges,
    attributes: &[(AttributeDef, Option<String>)],
) -> Result<(), ApiError> {
    let ws = access.workspace_id;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.update_contact(ws, id, changes, now).await?;
    for (def, value) in attributes {
        tx.set_attribute_value(ws, id, def, value.as_deref(), now)
            .await?;
    }
    tx.record_audit(
        &audit::with_details(
            audit::by(access, client, "contact.updated").target("contact", id, None),
            serde_json::json!({ "fields": changed_fields(changes, attributes) }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks and applies `input` to the contact (the API's and the page's one path).
pub(crate) async fn update(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: ContactId,
    input: &ContactInput,
) -> Result<(), ApiError> {
    access.require(Role::Agent)?;
    let (changes, attributes) = check_input(state, access.workspace_id, input).await?;
    apply(state, access, client, id, &changes, &attributes).await
}

/// Creates a contact from checked fields (the API's, the page's and the import's one path):
/// `false` when the `Idempotency-Key` was used already and its contact is answered.
pub(crate) async fn create(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    changes: &ContactChanges,
    attributes: &[(AttributeDef, Option<String>)],
    key: Option<&str>,
) -> Result<(ContactId, bool), ApiError> {
    let ws = access.workspace_id;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let (id, created) = tx.create_contact(ws, changes, key, now).await?;
    if created {
        for (def, value) in attributes {
            tx.set_attribute_value(ws, id, def, value.as_deref(), now)
                .await?;
        }
        tx.record_audit(
            &audit::with_details(
                audit::by(access, client, "contact.created").target("contact", id, None),
                serde_json::json!({ "fields": changed_fields(changes, attributes) }),
            ),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok((id, created))
}

/// Creates a contact an agent knows of before they write (agent). With an
/// `Idempotency-Key`, a retried request answers the contact the first one created.
#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes the request safe to retry: the same key answers the same contact")),
    request_body = ContactInput,
    responses((status = 201, body = ContactView), (status = 200, body = ContactView,
        description = "The contact an earlier request with this Idempotency-Key created"),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_contact(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ContactInput>,
) -> Result<(StatusCode, ApiJson<ContactView>), ApiError> {
    access.require(Role::Agent)?;
    let ws = access.workspace_id;
    let key = idempotency_key(&headers)?;
    if let Some(key) = &key
        && let Some(earlier) = state.store.contact_by_idempotency_key(ws, key).await?
    {
        return Ok((
            StatusCode::OK,
            ApiJson(full_view(&state, ws, earlier).await?),
        ));
    }
    let (changes, attributes) = check_input(&state, ws, &body).await?;
    let (id, created) = create(
        &state,
        &access,
        &client,
        &changes,
        &attributes,
        key.as_deref(),
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(full_view(&state, ws, id).await?)))
}

/// Changes a contact's name, email, phone, lifecycle stage and attribute values (agent).
/// Fields left out stay as they are; `null` clears one. Audited with the fields' names.
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id")),
    request_body = ContactInput,
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_contact(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ContactInput>,
) -> Result<ApiJson<ContactView>, ApiError> {
    let id: ContactId = path_id(&id)?;
    update(&state, &access, &client, id, &body).await?;
    Ok(ApiJson(full_view(&state, access.workspace_id, id).await?))
}

/// Puts a label on a contact or takes it off (the API's and the page's one path), audited
/// when something changed.
pub(crate) async fn set_label(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: ContactId,
    label: LabelId,
    on: bool,
) -> Result<bool, ApiError> {
    access.require(Role::Agent)?;
    let ws = access.workspace_id;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let changed = tx.set_contact_label(ws, id, label, on, now).await?;
    if changed {
        let action = if on {
            "contact.labelled"
        } else {
            "contact.unlabelled"
        };
        tx.record_audit(
            &audit::with_details(
                audit::by(access, client, action).target("contact", id, None),
                serde_json::json!({ "label_id": label }),
            ),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(changed)
}

#[derive(serde::Serialize, ToSchema)]
pub struct Changed {
    /// False when the label was already on (or already off) the contact.
    pub changed: bool,
}

/// Puts a label (one of the workspace's labels) on a contact (agent).
#[utoipa::path(put, path = "/api/v1/contacts/{id}/labels/{label_id}", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id"),
        ("label_id" = String, Path, description = "The label's id")),
    responses((status = 200, body = Changed), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_contact_label(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path((id, label)): Path<(String, String)>,
) -> Result<ApiJson<Changed>, ApiError> {
    let changed = set_label(
        &state,
        &access,
        &client,
        path_id(&id)?,
        path_id(&label)?,
        true,
    )
    .await?;
    Ok(ApiJson(Changed { changed }))
}

/// Takes a label off a contact (agent).
#[utoipa::path(delete, path = "/api/v1/contacts/{id}/labels/{label_id}", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id"),
        ("label_id" = String, Path, description = "The label's id")),
    responses((status = 200, body = Changed), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn remove_contact_label(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path((id, label)): Path<(String, String)>,
) -> Result<ApiJson<Changed>, ApiError> {
    let changed = set_label(
        &state,
        &access,
        &client,
        path_id(&id)?,
        path_id(&label)?,
        false,
    )
    .await?;
    Ok(ApiJson(Changed { changed }))
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The contact merged into this one and then deleted.
    pub other_id: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct MergeView {
    /// The kept contact, with everything it now holds.
    pub contact: ContactView,
    /// The contact that was merged in and deleted.
    pub merged_id: String,
    /// Rows moved, by table.
    pub moved: BTreeMap<String, u64>,
}

/// Merges `other` into `kept` (the API's and the page's one path): refused under a legal
/// hold on either, else one transaction, audited.
pub(crate) async fn merge(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    kept: ContactId,
    other: ContactId,
) -> Result<MergeReport, ApiError> {
    access.require(Role::Admin)?;
    let ws = access.workspace_id;
    // Both must be the workspace's before anything else is said about them.
    state.store.contact(ws, kept).await?;
    state.store.contact(ws, other).await?;
    for id in [kept, other] {
        let holds = state
            .store
            .holds_covering(ws, SubjectKind::Contact, &id.to_string())
            .await?;
        if !holds.is_empty() {
            return Err(ApiError::Conflict {
                code: "legal_hold",
                message: "A legal hold covers one of these contacts: its records must stay as they are until the hold is released.".to_owned(),
            });
        }
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let report = tx.merge_contacts(ws, kept, other, now).await?;
    let moved: BTreeMap<&str, u64> = report.moved.iter().map(|(t, n)| (t.as_str(), *n)).collect();
    tx.record_audit(
        &audit::with_details(
            audit::by(access, client, "contact.merged").target("contact", kept, None),
            serde_json::json!({ "merged_id": other, "moved": moved }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

/// Merges another contact (the same person) into this one (admin): identities, conversations,
/// messages, consent records, labels and attribute values move here, the other contact is
/// deleted; this contact's own fields win, the other's fill what is empty. Refused when a
/// legal hold covers either (`legal_hold`), when only one is restricted
/// (`restriction_mismatch`), or when both have an open conversation or live consent on one
/// connection (`merge_conflict`). Audited.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/merge", tag = "contacts",
    params(("id" = String, Path, description = "The contact that is kept")),
    request_body = MergeRequest,
    responses((status = 200, body = MergeView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn merge_contacts(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MergeRequest>,
) -> Result<ApiJson<MergeView>, ApiError> {
    let kept: ContactId = path_id(&id)?;
    let other: ContactId = body.other_id.trim().parse().map_err(|_| {
        invalid(
            "invalid_contact",
            "The other_id is a contact's id.",
            "other_id",
        )
    })?;
    let report = merge(&state, &access, &client, kept, other).await?;
    Ok(ApiJson(MergeView {
        contact: full_view(&state, access.workspace_id, kept).await?,
        merged_id: other.to_string(),
        moved: report.moved.into_iter().collect(),
    }))
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
