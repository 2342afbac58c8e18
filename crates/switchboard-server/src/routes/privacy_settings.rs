//! Settings → Privacy: a workspace's retention settings (per data class and channel) and its
//! privacy contact address, over the API (`/api/v1/privacy/retention`) and the web page
//! (`/settings/retention`, admins), with a preview of what the next sweep deletes; and the
//! public data-deletion page (`/privacy/{workspace}/data-deletion`), rendered from the same
//! live settings so the published promise cannot drift from what the sweep does.

use crate::audit;
use crate::auth::csrf::WebForm;
use crate::auth::{ClientInfo, WebUser, WorkspaceAccess};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::retention::{self, PreviewLine};
use crate::routes::workspaces::{rfc3339, web_admin};
use crate::state::AppState;
use crate::web::{Nav, WebError, render};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use switchboard_core::channel::ChannelKind;
use switchboard_core::retention::{RetentionClass, RetentionRule, RetentionRules};
use switchboard_core::{EmailAddress, Role, ValidationError, WorkspaceId, WorkspaceSlug};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_retention, put_retention))
        .routes(routes!(get_preview))
}

pub fn web_router() -> Router<AppState> {
    Router::new()
        .route("/settings/retention", get(privacy_page).post(save_privacy))
        .route("/privacy/{workspace}/data-deletion", get(public_page))
}

#[derive(serde::Serialize, serde::Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct RuleView {
    /// `messages`, `conversations`, `closed_conversations` or `media`.
    pub class: String,
    /// A channel kind (`instagram`, `whatsapp`, ...) or `all` (the default when left out).
    #[serde(default)]
    pub channel: Option<String>,
    /// Kept this many days (1 to 3650).
    pub days: i64,
}

impl From<&RetentionRule> for RuleView {
    fn from(r: &RetentionRule) -> Self {
        Self {
            class: r.class.as_str().to_owned(),
            channel: Some(r.channel_name().to_owned()),
            days: i64::from(r.days),
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct RetentionSettings {
    /// Every rule; a class and channel without one is kept until erased.
    pub rules: Vec<RuleView>,
    /// Where data subjects write about their data (shown on the public page).
    pub privacy_contact_email: Option<String>,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRetention {
    /// The whole new set of rules (replaces the old one).
    pub rules: Vec<RuleView>,
    /// Left out: unchanged; `null` or empty: cleared.
    #[serde(default, deserialize_with = "present")]
    pub privacy_contact_email: Option<Option<String>>,
}

/// Tells "left out" (`None`) from "null" (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    use serde::Deserialize;
    Ok(Some(Option::<String>::deserialize(d)?))
}

fn parse_rules(views: &[RuleView]) -> Result<RetentionRules, ValidationError> {
    if views.len() > 100 {
        return Err(ValidationError::new("too_many_rules", "At most 100 rules.").on("rules"));
    }
    let rules = views
        .iter()
        .map(|v| RetentionRule::parse(&v.class, v.channel.as_deref(), v.days))
        .collect::<Result<Vec<_>, _>>()?;
    RetentionRules::new(rules)
}

fn parse_email(raw: Option<&str>) -> Result<Option<EmailAddress>, ValidationError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(e) => EmailAddress::parse(e)
            .map(Some)
            .map_err(|e| e.on("privacy_contact_email")),
    }
}

async fn settings(state: &AppState, ws: WorkspaceId) -> Result<RetentionSettings, ApiError> {
    let rules = state.store.retention_rules(ws).await?;
    let privacy = state.store.privacy_settings(ws).await?;
    Ok(RetentionSettings {
        rules: rules.rules().iter().map(RuleView::from).collect(),
        privacy_contact_email: privacy.contact_email,
    })
}

/// Stores new rules (and the contact address, when given), audited with old and new rules.
async fn save(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    rules: &RetentionRules,
    email: Option<Option<EmailAddress>>,
) -> Result<(), ApiError> {
    let ws = access.workspace_id;
    let before = state.store.retention_rules(ws).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.replace_retention_rules(ws, rules, access.actor.user_id(), now)
        .await?;
    if let Some(email) = &email {
        tx.set_privacy_contact_email(ws, email.as_ref(), now)
            .await?;
    }
    let event = audit::with_details(
        audit::by(access, client, "privacy.retention_changed"),
        serde_json::json!({
            "before": before.rules().iter().map(RuleView::from).map(|r| serde_json::json!(r)).collect::<Vec<_>>(),
            "after": rules.rules().iter().map(RuleView::from).map(|r| serde_json::json!(r)).collect::<Vec<_>>(),
            "privacy_contact_email_changed": email.is_some(),
        }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The workspace's retention settings (admin).
#[utoipa::path(get, path = "/api/v1/privacy/retention", tag = "privacy",
    responses((status = 200, body = RetentionSettings), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_retention(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<RetentionSettings>, ApiError> {
    access.require(Role::Admin)?;
    Ok(ApiJson(settings(&state, access.workspace_id).await?))
}

/// Replaces the workspace's retention rules (admin), audited. The next sweep applies them.
#[utoipa::path(put, path = "/api/v1/privacy/retention", tag = "privacy",
    request_body = PutRetention,
    responses((status = 200, body = RetentionSettings), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn put_retention(
    State(state): State<AppState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    ApiJson(body): ApiJson<PutRetention>,
) -> Result<ApiJson<RetentionSettings>, ApiError> {
    access.require(Role::Admin)?;
    let rules = parse_rules(&body.rules)?;
    let email = match &body.privacy_contact_email {
        None => None,
        Some(raw) => Some(parse_email(raw.as_deref())?),
    };
    save(&state, &access, &client, &rules, email).await?;
    Ok(ApiJson(settings(&state, access.workspace_id).await?))
}

#[derive(serde::Serialize, ToSchema)]
pub struct PreviewLineView {
    pub class: String,
    /// The table the rows are in.
    pub table: String,
    /// The channel, or `all`.
    pub channel: String,
    pub days: u32,
    /// Rows the next sweep deletes under this rule (rows that go with them, such as a
    /// conversation's messages, are not counted again).
    pub rows: i64,
}

impl From<&PreviewLine> for PreviewLineView {
    fn from(l: &PreviewLine) -> Self {
        Self {
            class: l.class.as_str().to_owned(),
            table: l.table.to_owned(),
            channel: l.channel.unwrap_or("all").to_owned(),
            days: l.days,
            rows: l.rows,
        }
    }
}

#[derive(serde::Serialize, ToSchema)]
pub struct Preview {
    /// The time the counts are for (now).
    #[schema(format = DateTime)]
    pub as_of: String,
    pub data: Vec<PreviewLineView>,
}

/// What the next retention sweep would delete now, by rule (admin).
#[utoipa::path(get, path = "/api/v1/privacy/retention/preview", tag = "privacy",
    responses((status = 200, body = Preview), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_preview(
    State(state): State<AppState>,
    access: WorkspaceAccess,
) -> Result<ApiJson<Preview>, ApiError> {
    access.require(Role::Admin)?;
    let now = state.clock.now();
    let lines = retention::preview(&state.store, access.workspace_id, now).await?;
    Ok(ApiJson(Preview {
        as_of: rfc3339(now),
        data: lines.iter().map(PreviewLineView::from).collect(),
    }))
}

/// One input of the settings form: a class on a channel (or on every channel).
struct RuleInput {
    name: String,
    label: String,
    value: String,
}

struct ClassGroup {
    title: &'static str,
    inputs: Vec<RuleInput>,
}

#[derive(Template)]
#[template(path = "settings_privacy.html")]
struct PrivacyPage {
    nav: Option<Nav>,
    section: &'static str,
    csrf_token: String,
    groups: Vec<ClassGroup>,
    contact_email: String,
    preview: Vec<PreviewLineView>,
    public_url: String,
    saved: bool,
    error: Option<ValidationError>,
}

fn groups(rules: &RetentionRules, values: Option<&[(String, String)]>) -> Vec<ClassGroup> {
    RetentionClass::ALL
        .into_iter()
        .map(|class| {
            let mut channels: Vec<Option<ChannelKind>> = vec![None];
            if class.per_channel() {
                channels.extend(ChannelKind::ALL.into_iter().map(Some));
            }
            let inputs = channels
                .into_iter()
                .map(|channel| {
                    let name = format!(
                        "{}.{}",
                        class.as_str(),
                        channel.map_or("all", ChannelKind::as_str)
                    );
                    let value = match values {
                        Some(v) => v
                            .iter()
                            .find(|(k, _)| *k == name)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default(),
                        None => rules
                            .rules()
                            .iter()
                            .find(|r| r.class == class && r.channel == channel)
                            .map(|r| r.days.to_string())
                            .unwrap_or_default(),
                    };
                    RuleInput {
                        label: match channel {
                            None => "Every channel".to_owned(),
                            Some(c) => c.display_name().to_owned(),
                        },
                        name,
                        value,
                    }
                })
                .collect();
            ClassGroup {
                title: class.describe(),
                inputs,
            }
        })
        .collect()
}

/// A refused form, shown again: what was typed, the contact address, and why.
type Refused<'a> = (&'a [(String, String)], String, ValidationError);

async fn page(
    state: &AppState,
    nav: Nav,
    ws: WorkspaceId,
    saved: bool,
    form: Option<Refused<'_>>,
) -> Result<Response, WebError> {
    let rules = state.store.retention_rules(ws).await?;
    let privacy = state.store.privacy_settings(ws).await?;
    let now = state.clock.now();
    let preview = retention::preview(&state.store, ws, now)
        .await?
        .iter()
        .map(PreviewLineView::from)
        .collect();
    let slug = state.store.workspace(ws).await?.slug;
    let (values, contact_email, error) = match form {
        Some((v, email, e)) => (Some(v), email, Some(e)),
        None => (None, privacy.contact_email.unwrap_or_default(), None),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = PrivacyPage {
        csrf_token: nav.csrf_token.clone(),
        nav: Some(nav),
        section: "retention",
        groups: groups(&rules, values),
        contact_email,
        preview,
        public_url: format!("/privacy/{slug}/data-deletion"),
        saved,
        error,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(serde::Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn privacy_page(
    State(state): State<AppState>,
    WebUser(auth): WebUser,
    axum::extract::Query(q): axum::extract::Query<SavedQuery>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    page(&state, nav, access.workspace_id, q.saved.is_some(), None).await
}

/// The form: `<class>.<channel>` = days (empty: kept), and `privacy_contact_email`.
fn rules_from_form(pairs: &[(String, String)]) -> Result<RetentionRules, ValidationError> {
    let mut rules = Vec::new();
    for (key, value) in pairs {
        let Some((class, channel)) = key.split_once('.') else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let days: i64 = value.parse().map_err(|_| {
            ValidationError::new(
                "invalid_retention_days",
                "A retention period is a whole number of days.",
            )
            .on("days")
        })?;
        rules.push(RetentionRule::parse(class, Some(channel), days)?);
    }
    RetentionRules::new(rules)
}

async fn save_privacy(
    State(state): State<AppState>,
    client: ClientInfo,
    WebForm { auth, form }: WebForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let (nav, access) = web_admin(&state, &auth).await?;
    let email_raw = form
        .iter()
        .find(|(k, _)| k == "privacy_contact_email")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let parsed = rules_from_form(&form).and_then(|rules| {
        let email = parse_email(Some(&email_raw))?;
        Ok((rules, email))
    });
    match parsed {
        Ok((rules, email)) => {
            save(&state, &access, &client, &rules, Some(email)).await?;
            Ok(Redirect::to("/settings/retention?saved=1").into_response())
        }
        Err(e) => {
            page(
                &state,
                nav,
                access.workspace_id,
                false,
                Some((&form, email_raw, e)),
            )
            .await
        }
    }
}

/// One retention period as the public page states it.
struct PublicRule {
    what: &'static str,
    channel: String,
    days: u32,
}

#[derive(Template)]
#[template(path = "privacy_data_deletion.html")]
struct PublicPage {
    workspace_name: String,
    channels: Vec<String>,
    rules: Vec<PublicRule>,
    contact_email: Option<String>,
    export_days: i64,
    request_days: u32,
    meta_callback: bool,
    widget: bool,
}

/// The workspace's public data-deletion instructions, from its live settings.
async fn public_page(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
) -> Result<Response, WebError> {
    let slug = WorkspaceSlug::parse(&workspace).map_err(|_| ApiError::NotFound)?;
    let ws = state.store.workspace_by_slug(&slug).await?;
    if ws.status != switchboard_core::WorkspaceStatus::Active {
        return Err(ApiError::NotFound.into());
    }
    let connections = state.store.connections(ws.id).await?;
    let live: Vec<_> = connections
        .iter()
        .filter(|c| c.status != switchboard_store::connections::ConnectionStatus::Disconnected)
        .collect();
    let mut channels: Vec<String> = live
        .iter()
        .map(|c| c.kind.display_name().to_owned())
        .collect();
    channels.sort();
    channels.dedup();
    let rules = state
        .store
        .retention_rules(ws.id)
        .await?
        .rules()
        .iter()
        .map(|r| PublicRule {
            what: r.class.describe(),
            channel: r
                .channel
                .map_or("every channel".to_owned(), |c| c.display_name().to_owned()),
            days: r.days,
        })
        .collect();
    let privacy = state.store.privacy_settings(ws.id).await?;
    let meta_callback = live.iter().any(|c| {
        matches!(
            c.kind,
            ChannelKind::WhatsApp | ChannelKind::Messenger | ChannelKind::Instagram
        )
    });
    let widget = live.iter().any(|c| c.kind == ChannelKind::Widget);
    Ok(render(&PublicPage {
        workspace_name: ws.name,
        channels,
        rules,
        contact_email: privacy.contact_email,
        export_days: switchboard_core::retention::EXPORT_LIFETIME_DAYS,
        request_days: 30,
        meta_callback,
        widget,
    }))
}
