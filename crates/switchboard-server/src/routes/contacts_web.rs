//! The contacts pages: `/contacts` (search, filters by channel, label, lifecycle stage,
//! attribute and segment, keyset pages, saving the filters as a segment, CSV export and
//! import, a new contact) and `/contacts/{id}` (identities per channel, attributes, labels,
//! stage, consent records, conversations on every channel linked to the inbox, merging
//! another contact in, and the contact's privacy actions for those whose role allows them).
//! Plain forms and links: everything works without JavaScript.
//!
//! Invariant: every action calls the function its API endpoint calls (`contacts::update`,
//! `set_label`, `merge`, `create`, `segments::create`, `contacts_csv`, and the privacy
//! handlers themselves), with the same role checks and the same step-up where the API asks
//! for it, so a page can do nothing the API would refuse.

use crate::auth::csrf::WebForm;
use crate::auth::step_up::{RecentAuth, WebRecentAuth};
use crate::auth::{ClientInfo, SessionAuth, WebUser, WorkspaceAccess};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::routes::contacts::{self, ContactInput, ContactQuery, ContactView, FilterSpec};
use crate::routes::paging::nonempty;
use crate::routes::segments::{self, SegmentBody};
use crate::routes::workspaces::path_id;
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::collections::BTreeMap;
use switchboard_core::contact_attributes::{AttributeKind, LifecycleStage};
use switchboard_core::{ContactId, LabelId, Role, SegmentId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contacts", get(list_page).post(create_contact))
        .route("/contacts/export.csv", get(export_csv))
        .route("/contacts/import", get(import_page).post(import_csv))
        .route("/contacts/segments", post(save_segment))
        .route("/contacts/segments/{id}/delete", post(delete_segment))
        .route("/contacts/{id}", get(contact_page).post(edit_contact))
        .route("/contacts/{id}/labels", post(contact_label))
        .route("/contacts/{id}/merge", post(merge_contact))
        .route("/contacts/{id}/privacy/{action}", post(privacy_action))
}

/// The signed-in member's access to the active workspace, as the API would see it.
pub(crate) async fn web_access(
    state: &AppState,
    auth: &SessionAuth,
) -> Result<(Nav, WorkspaceAccess), ApiError> {
    let nav = Nav::load(state, auth).await?;
    let active = nav
        .active
        .clone()
        .ok_or(ApiError::Forbidden("Choose a workspace first."))?;
    let access = WorkspaceAccess {
        workspace_id: active.id,
        role: active.role,
        actor: crate::auth::Actor::User {
            id: auth.user.id,
            email: auth.user.email.to_string(),
        },
        session: Some(auth.clone()),
        token: None,
    };
    access.require(Role::Agent)?;
    Ok((nav, access))
}

struct Choice {
    value: String,
    text: String,
    selected: bool,
}

fn choices(
    items: impl IntoIterator<Item = (String, String)>,
    current: &Option<String>,
) -> Vec<Choice> {
    let current = nonempty(current);
    items
        .into_iter()
        .map(|(value, text)| Choice {
            selected: current == Some(value.as_str()),
            value,
            text,
        })
        .collect()
}

struct Row {
    id: String,
    name: String,
    email: String,
    phone: String,
    channels: String,
    stage: String,
}

#[derive(Template)]
#[template(path = "contacts.html")]
struct ListPage {
    nav: Option<Nav>,
    csrf: String,
    query: ContactQuery,
    q: String,
    attribute: String,
    rows: Vec<Row>,
    next_href: Option<String>,
    channels: Vec<Choice>,
    labels: Vec<Choice>,
    stages: Vec<Choice>,
    segments: Vec<(Choice, i64)>,
    segment_name: Option<String>,
    count: i64,
    filtered: bool,
    is_admin: bool,
    error: Option<String>,
}

fn filters_query(query: &ContactQuery) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (k, v) in [
        ("q", &query.q),
        ("channel", &query.channel),
        ("connection_id", &query.connection_id),
        ("label", &query.label),
        ("stage", &query.stage),
        ("attribute", &query.attribute),
        ("segment", &query.segment),
    ] {
        if let Some(v) = nonempty(v) {
            pairs.push((k, v));
        }
    }
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

async fn list_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let (nav, access) = web_access(&state, &auth).await?;
    let query: ContactQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    render_list(&state, nav, &access, query, None).await
}

async fn render_list(
    state: &AppState,
    nav: Nav,
    access: &WorkspaceAccess,
    query: ContactQuery,
    error: Option<String>,
) -> Result<Response, WebError> {
    let ws = access.workspace_id;
    let (filter, error) = match contacts::query_filter(state, ws, &query).await {
        Ok(f) => (f, error),
        Err(ApiError::Internal(d)) => return Err(WebError(ApiError::Internal(d))),
        Err(e) => (None, Some(e.to_string())),
    };
    let (list, next) = contacts::page_of(state, ws, filter.as_ref(), &query.cursor, 50).await?;
    let count = match &filter {
        Some(f) => state.store.count_contacts(ws, f).await?,
        None => 0,
    };
    let filters = filters_query(&query);
    let next_href = next.map(|c| {
        let sep = if filters.is_empty() { "" } else { "&" };
        format!("/contacts?{filters}{sep}cursor={c}")
    });
    let rows = list
        .iter()
        .map(|c| {
            let mut channels: Vec<&str> = c.identities.iter().map(|i| i.kind.as_str()).collect();
            channels.dedup();
            Row {
                id: c.id.to_string(),
                name: c
                    .display_name
                    .clone()
                    .unwrap_or_else(|| "(no name)".to_owned()),
                email: c.email.clone().unwrap_or_default(),
                phone: c
                    .phone
                    .clone()
                    .or_else(|| c.identities.iter().find_map(|i| i.phone.clone()))
                    .unwrap_or_default(),
                channels: channels.join(", "),
                stage: c
                    .lifecycle_stage
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let labels = state.store.labels(ws).await?;
    let mut segment_choices = Vec::new();
    let mut segment_name = None;
    for s in state.store.segments(ws).await? {
        let view = segments::view(state, ws, &s).await?;
        let selected = nonempty(&query.segment) == Some(view.id.as_str());
        if selected {
            segment_name = Some(view.name.clone());
        }
        segment_choices.push((
            Choice {
                value: view.id,
                text: view.name,
                selected,
            },
            view.count,
        ));
    }
    let filtered = !filters.is_empty();
    Ok(render(&ListPage {
        csrf: nav.csrf_token.clone(),
        is_admin: nav.is_admin(),
        nav: Some(nav),
        q: query.q.clone().unwrap_or_default(),
        attribute: query.attribute.clone().unwrap_or_default(),
        channels: choices(
            [
                "whatsapp",
                "messenger",
                "instagram",
                "telegram",
                "tiktok",
                "widget",
            ]
            .iter()
            .map(|k| ((*k).to_owned(), (*k).to_owned())),
            &query.channel,
        ),
        labels: choices(
            labels.iter().map(|l| (l.id.to_string(), l.name.clone())),
            &query.label,
        ),
        stages: choices(
            LifecycleStage::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), s.as_str().to_owned())),
            &query.stage,
        ),
        segments: segment_choices,
        segment_name,
        query,
        rows,
        next_href,
        count,
        filtered,
        error,
    }))
}

#[derive(serde::Deserialize)]
struct NewContactForm {
    display_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

async fn create_contact(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<NewContactForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_access(&state, &auth).await?;
    let input = ContactInput {
        display_name: form.display_name.map(Some),
        email: form.email.map(Some),
        phone: form.phone.map(Some),
        ..ContactInput::default()
    };
    let outcome = async {
        let (changes, attributes) =
            contacts::check_input(&state, access.workspace_id, &input).await?;
        contacts::create(&state, &access, &client, &changes, &attributes, None).await
    }
    .await;
    match outcome {
        Ok((id, _)) => Ok(Redirect::to(&format!("/contacts/{id}")).into_response()),
        Err(ApiError::Internal(d)) => Err(WebError(ApiError::Internal(d))),
        Err(e) => {
            render_list(
                &state,
                nav,
                &access,
                ContactQuery::default(),
                Some(e.to_string()),
            )
            .await
        }
    }
}

#[derive(serde::Deserialize)]
struct SegmentForm {
    name: String,
    q: Option<String>,
    channel: Option<String>,
    label: Option<String>,
    stage: Option<String>,
    attribute: Option<String>,
}

async fn save_segment(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<SegmentForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_access(&state, &auth).await?;
    let body = SegmentBody {
        name: form.name,
        filter: FilterSpec {
            q: form.q.clone(),
            channel: form.channel.clone(),
            connection_id: None,
            label: form.label.clone(),
            stage: form.stage.clone(),
            attribute: form.attribute.clone(),
        },
    };
    match segments::create(&state, &access, &client, &body, None).await {
        Ok(s) => Ok(Redirect::to(&format!("/contacts?segment={}", s.id)).into_response()),
        Err(ApiError::Internal(d)) => Err(WebError(ApiError::Internal(d))),
        Err(e) => {
            let query = ContactQuery {
                q: form.q,
                channel: form.channel,
                label: form.label,
                stage: form.stage,
                attribute: form.attribute,
                ..ContactQuery::default()
            };
            render_list(&state, nav, &access, query, Some(e.to_string())).await
        }
    }
}

#[derive(serde::Deserialize)]
struct EmptyForm {}

async fn delete_segment(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm {
        auth,
        form: EmptyForm {},
    }: WebForm<EmptyForm>,
) -> Result<Response, WebError> {
    let (_, access) = web_access(&state, &auth).await?;
    let id: SegmentId = path_id(&id)?;
    let now = state.clock.now();
    state.store.segment(access.workspace_id, id).await?;
    let mut tx = state.store.begin().await?;
    tx.delete_segment(access.workspace_id, id).await?;
    tx.record_audit(
        &crate::audit::by(&access, &client, "segment.deleted").target("segment", id, None),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/contacts").into_response())
}

async fn export_csv(
    State(state): State<AppState>,
    WebRecentAuth(auth): WebRecentAuth,
    client: ClientInfo,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let (_, access) = web_access(&state, &auth).await?;
    let query: ContactQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    Ok(crate::routes::contacts_csv::export_response(&state, &access, &client, &query).await?)
}

#[derive(Template)]
#[template(path = "contacts_import.html")]
struct ImportPage {
    nav: Option<Nav>,
    csrf: String,
    report: Option<crate::routes::contacts_csv::ImportReport>,
    error: Option<String>,
    attribute_keys: Vec<String>,
}

async fn import_page(
    State(state): State<AppState>,
    WebRecentAuth(auth): WebRecentAuth,
) -> Result<Response, WebError> {
    let (nav, access) = web_access(&state, &auth).await?;
    access.require(Role::Admin)?;
    let keys = state
        .store
        .contact_attributes(access.workspace_id)
        .await?
        .into_iter()
        .map(|d| d.key)
        .collect();
    Ok(render(&ImportPage {
        csrf: nav.csrf_token.clone(),
        nav: Some(nav),
        report: None,
        error: None,
        attribute_keys: keys,
    }))
}

#[derive(serde::Deserialize)]
struct ImportForm {
    csv: String,
}

async fn import_csv(
    State(state): State<AppState>,
    _recent: WebRecentAuth,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<ImportForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_access(&state, &auth).await?;
    let (report, error) =
        match crate::routes::contacts_csv::import(&state, &access, &client, form.csv.as_bytes())
            .await
        {
            Ok(r) => (Some(r), None),
            Err(ApiError::Internal(d)) => return Err(WebError(ApiError::Internal(d))),
            Err(e) => (None, Some(e.to_string())),
        };
    let keys = state
        .store
        .contact_attributes(access.workspace_id)
        .await?
        .into_iter()
        .map(|d| d.key)
        .collect();
    Ok(render(&ImportPage {
        csrf: nav.csrf_token.clone(),
        nav: Some(nav),
        report,
        error,
        attribute_keys: keys,
    }))
}

// ---- one contact -------------------------------------------------------------------------

struct AttributeField {
    key: String,
    label: String,
    kind: &'static str,
    value: String,
    options: Vec<String>,
    personal: bool,
}

struct ConversationLink {
    id: String,
    channel: String,
    status: String,
    when: String,
}

#[derive(Template)]
#[template(path = "contacts_contact.html")]
struct ContactPage {
    nav: Option<Nav>,
    csrf: String,
    contact: ContactView,
    name: String,
    attributes: Vec<AttributeField>,
    other_labels: Vec<Choice>,
    stages: Vec<Choice>,
    conversations: Vec<ConversationLink>,
    restricted: bool,
    restriction_reason: Option<String>,
    objects: bool,
    is_admin: bool,
    notice: Option<String>,
    error: Option<String>,
}

async fn render_contact(
    state: &AppState,
    nav: Nav,
    access: &WorkspaceAccess,
    id: ContactId,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let ws = access.workspace_id;
    let contact = contacts::full_view(state, ws, id).await?;
    let defs = state.store.contact_attributes(ws).await?;
    let values = contact.attributes.clone().unwrap_or_default();
    let attributes = defs
        .iter()
        .map(|d| AttributeField {
            key: d.key.clone(),
            label: d.label.clone(),
            kind: match d.kind {
                AttributeKind::Number => "number",
                AttributeKind::Date => "date",
                AttributeKind::Boolean => "boolean",
                AttributeKind::List => "list",
                AttributeKind::Text => "text",
            },
            value: values.get(&d.key).cloned().unwrap_or_default(),
            options: d.options.clone(),
            personal: d.personal,
        })
        .collect();
    let on: Vec<String> = contact
        .labels
        .iter()
        .flatten()
        .map(|l| l.id.clone())
        .collect();
    let other_labels = state
        .store
        .labels(ws)
        .await?
        .into_iter()
        .filter(|l| !on.contains(&l.id.to_string()))
        .map(|l| Choice {
            value: l.id.to_string(),
            text: l.name,
            selected: false,
        })
        .collect();
    let mut conversations = Vec::new();
    for c in contact.conversation_ids.iter().flatten() {
        let Ok(cid) = c.parse() else { continue };
        let conv = state.store.conversation(ws, cid).await?;
        conversations.push(ConversationLink {
            id: c.clone(),
            channel: conv.kind.as_str().to_owned(),
            status: conv.status.as_str().to_owned(),
            when: crate::routes::workspaces::rfc3339(conv.activity_at),
        });
    }
    let privacy = state.store.contact_privacy(ws, id).await?;
    let stage = contact.lifecycle_stage.clone();
    Ok(render(&ContactPage {
        csrf: nav.csrf_token.clone(),
        is_admin: nav.is_admin(),
        nav: Some(nav),
        name: contact
            .display_name
            .clone()
            .unwrap_or_else(|| "(no name)".to_owned()),
        contact,
        attributes,
        other_labels,
        stages: choices(
            LifecycleStage::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), s.as_str().to_owned())),
            &stage,
        ),
        conversations,
        restricted: privacy.is_restricted(),
        restriction_reason: privacy.restriction_reason.clone(),
        objects: privacy.objects_to_marketing(),
        notice,
        error,
    }))
}

async fn contact_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (nav, access) = web_access(&state, &auth).await?;
    let id: ContactId = path_id(&id)?;
    render_contact(&state, nav, &access, id, None, None).await
}

/// The answer to an action on a contact: the page again, with what happened.
async fn after(
    state: &AppState,
    nav: Nav,
    access: &WorkspaceAccess,
    id: ContactId,
    outcome: Result<String, ApiError>,
) -> Result<Response, WebError> {
    match outcome {
        Ok(notice) => render_contact(state, nav, access, id, Some(notice), None).await,
        Err(ApiError::Internal(d)) => Err(WebError(ApiError::Internal(d))),
        Err(e) => render_contact(state, nav, access, id, None, Some(e.to_string())).await,
    }
}

async fn edit_contact(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let (nav, access) = web_access(&state, &auth).await?;
    let id: ContactId = path_id(&id)?;
    let field = |k: &str| {
        form.iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| Some(v.clone()))
    };
    let attributes: BTreeMap<String, serde_json::Value> = form
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("attr.")
                .map(|key| (key.to_owned(), serde_json::Value::String(v.clone())))
        })
        .collect();
    let input = ContactInput {
        display_name: field("display_name"),
        email: field("email"),
        phone: field("phone"),
        lifecycle_stage: field("lifecycle_stage"),
        attributes: (!attributes.is_empty()).then_some(attributes),
    };
    let outcome = contacts::update(&state, &access, &client, id, &input)
        .await
        .map(|()| "Saved.".to_owned());
    after(&state, nav, &access, id, outcome).await
}

#[derive(serde::Deserialize)]
struct LabelForm {
    label_id: String,
    /// `add` or `remove`.
    action: String,
}

async fn contact_label(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<LabelForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_access(&state, &auth).await?;
    let id: ContactId = path_id(&id)?;
    let label: LabelId = path_id(&form.label_id)?;
    let on = form.action != "remove";
    let outcome = contacts::set_label(&state, &access, &client, id, label, on)
        .await
        .map(|_| if on { "Label added." } else { "Label removed." }.to_owned());
    after(&state, nav, &access, id, outcome).await
}

#[derive(serde::Deserialize)]
struct MergeForm {
    other_id: String,
}

async fn merge_contact(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(id): Path<String>,
    WebForm { auth, form }: WebForm<MergeForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_access(&state, &auth).await?;
    let id: ContactId = path_id(&id)?;
    let outcome = async {
        let other: ContactId = form.other_id.trim().parse().map_err(|_| {
            crate::routes::conversations::invalid(
                "invalid_contact",
                "Give the other contact's id (from its page's address).",
                "other_id",
            )
        })?;
        contacts::merge(&state, &access, &client, id, other).await?;
        Ok("The other contact was merged into this one.".to_owned())
    }
    .await;
    after(&state, nav, &access, id, outcome).await
}

#[derive(serde::Deserialize)]
struct PrivacyForm {
    reason: Option<String>,
}

/// Erase, export, restrict, lift and object, each through its API handler (called with the
/// access and body the API would get), so its checks and audit are the API's. Erase and
/// export need step-up here, as the export API does.
async fn privacy_action(
    State(state): State<AppState>,
    client: ClientInfo,
    Path((id, action)): Path<(String, String)>,
    WebForm { auth, form }: WebForm<PrivacyForm>,
) -> Result<Response, WebError> {
    let (nav, access) = web_access(&state, &auth).await?;
    let contact: ContactId = path_id(&id)?;
    let needs_step_up = matches!(action.as_str(), "erase" | "export");
    if needs_step_up && !auth.recently_authenticated(&state) {
        return Ok(Redirect::to(&format!(
            "/reauth?next={}",
            crate::auth::extract::url_encode(&format!("/contacts/{contact}"))
        ))
        .into_response());
    }
    let st = || State(state.clone());
    let outcome: Result<String, ApiError> = match action.as_str() {
        "restrict" => crate::routes::privacy_contacts::restrict_contact(
            st(),
            access.clone(),
            client.clone(),
            Path(contact.to_string()),
            ApiJson(crate::routes::privacy_contacts::RestrictRequest {
                reason: form.reason.clone().unwrap_or_default(),
            }),
        )
        .await
        .map(|_| "Processing is restricted: nothing will be sent to this contact.".to_owned()),
        "lift" => crate::routes::privacy_contacts::lift_restriction(
            st(),
            access.clone(),
            client.clone(),
            Path(contact.to_string()),
        )
        .await
        .map(|ApiJson(v)| match v.note {
            Some(note) => format!("Restriction lifted. {note}"),
            None if v.notified => "Restriction lifted; the contact is told.".to_owned(),
            None => "Restriction lifted.".to_owned(),
        }),
        "object" => crate::routes::privacy_contacts::record_objection(
            st(),
            access.clone(),
            client.clone(),
            Path(contact.to_string()),
        )
        .await
        .map(|_| "The objection to marketing is recorded.".to_owned()),
        "export" => crate::routes::privacy_contacts::request_export(
            st(),
            RecentAuth(access.clone()),
            client.clone(),
            ApiJson(crate::routes::privacy_contacts::ExportRequest {
                contact_id: contact.to_string(),
            }),
        )
        .await
        .map(|(_, ApiJson(v))| {
            format!(
                "Export {} started; download it from the API (GET /api/v1/privacy/exports/{}/download) once ready.",
                v.id, v.id
            )
        }),
        "erase" => {
            let done = crate::privacy::api::create_request(
                st(),
                access.clone(),
                client.clone(),
                ApiJson(crate::privacy::api::CreateRequest {
                    kind: "erase".to_owned(),
                    contact_id: Some(contact.to_string()),
                    user_id: None,
                    regime: None,
                }),
            )
            .await;
            return match done {
                Ok(_) => Ok(Redirect::to("/settings/privacy").into_response()),
                Err(ApiError::Internal(d)) => Err(WebError(ApiError::Internal(d))),
                Err(e) => {
                    render_contact(&state, nav, &access, contact, None, Some(e.to_string())).await
                }
            };
        }
        _ => Err(ApiError::NotFound),
    };
    after(&state, nav, &access, contact, outcome).await
}

impl ListPage {
    fn opt<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or_default()
    }

    /// The filters of this page as a query string, for the export link.
    fn filters(&self) -> String {
        filters_query(&self.query)
    }
}

impl ContactPage {
    fn opt<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or_default()
    }
}
