//! Intake of privacy requests received by email or by hand: an operator records who asked
//! (their email address), for what, under which law, when it arrived and what they gave to be
//! found by; Switchboard proposes the contacts those identifiers match, sends a verification
//! code to an identity the chosen contact already has, and only once the code comes back
//! does the request proceed through the existing executors (erasure job, export job,
//! restriction). Shared by the API (`/api/v1/privacy/intake`) and Settings > Privacy
//! (`intake_web`).
//!
//! The code is entered by the operator (the requester sends it back by email or tells it on
//! the phone); there is no public code-entry page, so nothing an impostor can guess at from
//! outside.
//!
//! Invariants:
//! - the subject is never guessed: with no match or several, the request waits (clock paused)
//!   for an operator to choose a contact;
//! - candidates are the contacts whose channel identities, own email (case-insensitive) or own
//!   phone match what the requester gave, or whose website chat matches the site and time;
//! - a code goes only to an identity the contact already has — the email address recorded on
//!   the contact (`contacts.email`) when there is one and the operator named no conversation,
//!   else one of its conversations whose channel is active and whose reply window allows a
//!   message now; never to a restricted contact, never to an address only the requester gave
//!   (the requester's address receives a code only when it *is* the contact's known email);
//!   when nothing can carry it the operator is told why and may send later, name another
//!   conversation, or attest another verification with a reason (audited);
//! - the code is stored only as SHA-256, expires after [`CODE_LIFETIME`], and allows
//!   `MAX_ATTEMPTS` tries, each counted in a committed statement before comparing;
//! - the request stays `awaiting_identity` (its clock paused, each pause audited by
//!   `move_request`) from intake until the code is verified; the acknowledgement is queued in
//!   the intake's transaction and the outcome notice in the completing one.

use crate::audit;
use crate::auth::{ClientInfo, WorkspaceAccess};
use crate::error::ApiError;
use crate::state::AppState;
use switchboard_core::channel::{ChannelKind, OutboundContent};
use switchboard_core::inventory::SubjectKind;
use switchboard_core::privacy::{Regime, RequestKind, RequestSource, RequestState};
use switchboard_core::{
    ContactId, ConversationId, EmailAddress, PrivacyRequestId, Role, Timestamp, ValidationError,
    WorkspaceId,
};
use switchboard_store::Tx;
use switchboard_store::privacy_intake::{
    Candidate, MatchQuery, NewVerification, Verification, VerificationMethod,
};
use switchboard_store::privacy_requests::{Move, NewPrivacyRequest, PrivacyRequest};
use time::{Date, Duration, PrimitiveDateTime};

/// How long a code may be used.
pub const CODE_LIFETIME: Duration = Duration::hours(48);
/// Around the approximate time a widget customer gives, how far to look for their chat.
pub const CHAT_TIME_WINDOW: Duration = Duration::hours(2);
/// How far back a received date may be.
const MAX_RECEIVED_AGE_DAYS: i64 = 365;
/// Letters and digits no one confuses (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 8;

/// A request as an operator types it in.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeForm {
    /// Where the requester wrote from: acknowledgement and outcome go there.
    pub requester_email: String,
    /// `erase`, `export`, `restrict`, `lift_restriction`, `object` or `rectify`.
    pub kind: String,
    /// `gdpr` (default) or `ccpa`.
    #[serde(default)]
    pub regime: Option<String>,
    /// The day the request reached the business (YYYY-MM-DD); today when omitted.
    #[serde(default)]
    pub received_on: Option<String>,
    /// A phone number the requester gave (any format; digits are compared).
    #[serde(default)]
    pub phone: Option<String>,
    /// An email address the requester gave as an identifier.
    #[serde(default)]
    pub email: Option<String>,
    /// A platform's id or username for the requester (Telegram, Instagram, Messenger, ...).
    #[serde(default)]
    pub channel_user_id: Option<String>,
    /// Widget customers: the merchant's site where they chatted (a domain).
    #[serde(default)]
    pub widget_domain: Option<String>,
    /// Widget customers: about when they chatted (RFC 3339, or YYYY-MM-DDTHH:MM in UTC).
    #[serde(default)]
    pub chat_time: Option<String>,
    /// The contact, when the operator already chose it from the candidates.
    #[serde(default)]
    pub contact_id: Option<String>,
}

/// What sending a verification did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SendOutcome {
    pub sent: bool,
    /// `conversation` or `attested`.
    pub method: Option<String>,
    pub conversation_id: Option<String>,
    /// Which channel carried it (`WhatsApp`, ...).
    pub channel: Option<String>,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// Why no code could be sent, in words an operator can act on.
    pub note: Option<String>,
}

impl SendOutcome {
    fn not_sent(note: impl Into<String>) -> Self {
        Self {
            sent: false,
            method: None,
            conversation_id: None,
            channel: None,
            expires_at: None,
            note: Some(note.into()),
        }
    }
}

/// What recording a request did.
#[derive(Clone, Debug)]
pub struct IntakeOutcome {
    pub request: PrivacyRequest,
    pub candidates: Vec<Candidate>,
    pub verification: Option<SendOutcome>,
}

fn bad(code: &'static str, message: &str, field: &'static str) -> ApiError {
    ValidationError::new(code, message).on(field).into()
}

fn trimmed(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Digits of a phone number (country code included): 6 to 15 of them.
pub fn normalise_phone(raw: &str) -> Result<String, ApiError> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let allowed = raw
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if !allowed || !(6..=15).contains(&digits.len()) {
        return Err(bad(
            "invalid_phone",
            "A phone number is 6 to 15 digits, with its country code.",
            "phone",
        ));
    }
    Ok(digits)
}

/// A site's host as people write it: no scheme, path, port, trailing dot or `www.`.
pub fn normalise_domain(raw: &str) -> String {
    let lower = raw.trim().to_ascii_lowercase();
    let no_scheme = lower.split_once("://").map_or(lower.as_str(), |(_, r)| r);
    let host = no_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .rsplit('@')
        .next()
        .unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    let host = host.trim_end_matches('.');
    host.strip_prefix("www.").unwrap_or(host).to_owned()
}

fn parse_date(raw: &str, field: &'static str) -> Result<Date, ApiError> {
    Date::parse(
        raw.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| bad("invalid_date", "A date is written YYYY-MM-DD.", field))
}

/// An approximate time: RFC 3339, or a browser's `datetime-local` value taken as UTC.
fn parse_chat_time(raw: &str) -> Result<Timestamp, ApiError> {
    let raw = raw.trim();
    if let Ok(t) = Timestamp::parse(raw, &time::format_description::well_known::Rfc3339) {
        return Ok(t);
    }
    PrimitiveDateTime::parse(
        raw,
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    )
    .map(PrimitiveDateTime::assume_utc)
    .map_err(|_| {
        bad(
            "invalid_chat_time",
            "The chat time is a date and time, like 2026-01-05T14:30 (UTC).",
            "chat_time",
        )
    })
}

/// The form, checked: the request to record, the identifiers to match and keep.
struct Checked {
    requester: EmailAddress,
    kind: RequestKind,
    regime: Regime,
    received: Timestamp,
    query: MatchQuery,
    details: serde_json::Value,
    contact: Option<ContactId>,
}

async fn check(state: &AppState, ws: WorkspaceId, form: &IntakeForm) -> Result<Checked, ApiError> {
    let requester = EmailAddress::parse(form.requester_email.trim())
        .map_err(|e| ApiError::from(e.on("requester_email")))?;
    let kind = RequestKind::parse(form.kind.trim()).ok_or_else(|| {
        bad(
            "invalid_kind",
            "The kind is erase, export, restrict, lift_restriction, object or rectify.",
            "kind",
        )
    })?;
    let regime = match trimmed(&form.regime) {
        None => Regime::Gdpr,
        Some(r) => Regime::parse(r)
            .ok_or_else(|| bad("invalid_regime", "The regime is gdpr or ccpa.", "regime"))?,
    };
    let now = state.clock.now();
    let today = now.date();
    let received = match trimmed(&form.received_on) {
        None => now,
        Some(raw) => {
            let day = parse_date(raw, "received_on")?;
            if day > today {
                return Err(bad(
                    "received_in_future",
                    "The request cannot have arrived after today.",
                    "received_on",
                ));
            }
            if (today - day).whole_days() > MAX_RECEIVED_AGE_DAYS {
                return Err(bad(
                    "received_too_long_ago",
                    "A request received more than a year ago cannot be recorded here.",
                    "received_on",
                ));
            }
            if day == today {
                now
            } else {
                day.midnight().assume_utc()
            }
        }
    };
    let phone = trimmed(&form.phone).map(normalise_phone).transpose()?;
    let email = trimmed(&form.email)
        .map(|e| EmailAddress::parse(e).map_err(|err| ApiError::from(err.on("email"))))
        .transpose()?;
    let channel_user_id =
        trimmed(&form.channel_user_id).map(|s| s.trim_start_matches('@').to_owned());
    if channel_user_id
        .as_deref()
        .is_some_and(|s| s.chars().count() > 200 || s.chars().any(char::is_control))
    {
        return Err(bad(
            "invalid_channel_user_id",
            "A channel user id is at most 200 characters.",
            "channel_user_id",
        ));
    }
    let domain = trimmed(&form.widget_domain).map(normalise_domain);
    if domain
        .as_deref()
        .is_some_and(|d| d.is_empty() || d.len() > 253)
    {
        return Err(bad(
            "invalid_widget_domain",
            "Name the site, like shop.example.",
            "widget_domain",
        ));
    }
    let chat_time = trimmed(&form.chat_time).map(parse_chat_time).transpose()?;
    let widget = match (&domain, chat_time) {
        (Some(domain), Some(at)) => {
            let connections = state
                .store
                .connections(ws)
                .await?
                .into_iter()
                .filter(|c| c.kind == ChannelKind::Widget)
                .filter(|c| widget_domains(&c.settings).iter().any(|d| d == domain))
                .map(|c| c.id)
                .collect();
            Some((connections, at - CHAT_TIME_WINDOW, at + CHAT_TIME_WINDOW))
        }
        (None, None) => None,
        (Some(_), None) => {
            return Err(bad(
                "chat_time_required",
                "For a website chat, give about when it happened as well as the site.",
                "chat_time",
            ));
        }
        (None, Some(_)) => {
            return Err(bad(
                "widget_domain_required",
                "For a website chat, give the site as well as the time.",
                "widget_domain",
            ));
        }
    };
    let contact = trimmed(&form.contact_id)
        .map(|c| {
            c.parse::<ContactId>()
                .map_err(|_| bad("invalid_contact", "The contact_id is an id.", "contact_id"))
        })
        .transpose()?;
    if phone.is_none()
        && email.is_none()
        && channel_user_id.is_none()
        && widget.is_none()
        && contact.is_none()
    {
        return Err(bad(
            "identifier_required",
            "Give at least one identifier the requester named: a phone number, an email address, a channel user id, or the site and time of a website chat.",
            "phone",
        ));
    }
    let details = serde_json::json!({
        "phone": phone,
        "email": email.as_ref().map(|e| e.to_string()),
        "channel_user_id": channel_user_id,
        "widget_domain": domain,
        "chat_time": chat_time.map(crate::routes::workspaces::rfc3339),
    });
    Ok(Checked {
        requester,
        kind,
        regime,
        received,
        query: MatchQuery {
            phone,
            email: email.as_ref().map(|e| e.as_str().to_lowercase()),
            channel_user_id,
            widget,
        },
        details,
        contact,
    })
}

/// A widget connection's allowed domains, normalised like a requester's.
fn widget_domains(settings: &serde_json::Value) -> Vec<String> {
    settings
        .get("domains")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_str)
                .map(normalise_domain)
                .collect()
        })
        .unwrap_or_default()
}

/// The match query the identifiers kept on a request describe (to show candidates again).
pub async fn query_of(
    state: &AppState,
    ws: WorkspaceId,
    details: &serde_json::Value,
) -> Result<MatchQuery, ApiError> {
    let text = |k: &str| details.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let form = IntakeForm {
        requester_email: "kept@example.invalid".into(),
        kind: "erase".into(),
        phone: text("phone"),
        email: text("email"),
        channel_user_id: text("channel_user_id"),
        widget_domain: text("widget_domain"),
        chat_time: text("chat_time"),
        ..IntakeForm::default()
    };
    if form.phone.is_none()
        && form.email.is_none()
        && form.channel_user_id.is_none()
        && form.widget_domain.is_none()
    {
        return Ok(MatchQuery::default());
    }
    Ok(check(state, ws, &form).await?.query)
}

/// Records a request received by email or by hand: the request (`manual_intake`, received on
/// the day given), the requester's address and identifiers, its move to `awaiting_identity`
/// (clock paused) and the acknowledgement, in one transaction; then, when exactly one contact
/// matches (or the operator named one), the code to that contact.
pub async fn record(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    form: &IntakeForm,
) -> Result<IntakeOutcome, ApiError> {
    access.require(Role::Admin)?;
    let ws = access.workspace_id;
    let checked = check(state, ws, form).await?;
    let candidates = state.store.intake_candidates(ws, &checked.query).await?;
    let chosen = match checked.contact {
        Some(c) => {
            state.store.contact(ws, c).await?;
            Some(c)
        }
        None if candidates.len() == 1 => candidates.first().map(|c| c.contact_id),
        None => None,
    };
    let now = state.clock.now();
    let by = || audit::by(access, client, "privacy.request");
    let mut tx = state.store.begin().await?;
    let request = tx
        .insert_privacy_request_received(
            &NewPrivacyRequest {
                workspace_id: Some(ws),
                kind: checked.kind,
                source: RequestSource::ManualIntake,
                regime: checked.regime,
                subject_kind: SubjectKind::Contact,
                subject_id: None,
                subject_key_hash: None,
                source_ref: None,
                confirmation_code: Some(
                    super::sha256_hex(&uuid::Uuid::new_v4().to_string())[..24].to_owned(),
                ),
                needs_review: false,
                plan: serde_json::json!({}),
                created_by: access.actor.user_id(),
            },
            checked.received,
            by(),
            now,
        )
        .await?;
    tx.set_request_intake(
        ws,
        request.id,
        checked.requester.as_str(),
        &checked.details,
        now,
    )
    .await?;
    tx.move_request(
        request.id,
        Move {
            to: RequestState::AwaitingIdentity,
            reason: None,
            by: by(),
        },
        now,
    )
    .await?;
    if let Some(contact) = chosen {
        tx.set_request_subject(ws, request.id, contact, now).await?;
    }
    tx.queue_acknowledgement(ws, request.id, now).await?;
    tx.commit().await?;
    let verification = match chosen {
        Some(contact) => Some(send_code(state, access, client, request.id, contact, None).await?),
        None => None,
    };
    let request = state.store.privacy_request(ws, request.id).await?;
    Ok(IntakeOutcome {
        request,
        candidates,
        verification,
    })
}

/// An intake request of the workspace still waiting for the requester's identity.
async fn awaiting(
    state: &AppState,
    ws: WorkspaceId,
    id: PrivacyRequestId,
) -> Result<PrivacyRequest, ApiError> {
    let request = state.store.privacy_request(ws, id).await?;
    if request.source != RequestSource::ManualIntake {
        return Err(ApiError::Conflict {
            code: "not_an_intake_request",
            message: "Only requests recorded through intake are verified this way.".into(),
        });
    }
    if request.state != RequestState::AwaitingIdentity {
        return Err(ApiError::Conflict {
            code: "not_awaiting_identity",
            message: format!(
                "This request is {}: it is not waiting for the requester's identity.",
                request.state
            ),
        });
    }
    Ok(request)
}

fn subject_of(request: &PrivacyRequest) -> Result<ContactId, ApiError> {
    request
        .subject_id
        .as_deref()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ApiError::Conflict {
            code: "subject_not_chosen",
            message: "Choose the contact this request is about first.".into(),
        })
}

/// Sets the contact an operator chose for a request no single contact matched, and sends it
/// the code.
pub async fn choose_subject(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: PrivacyRequestId,
    contact: ContactId,
) -> Result<SendOutcome, ApiError> {
    access.require(Role::Admin)?;
    let ws = access.workspace_id;
    awaiting(state, ws, id).await?;
    state.store.contact(ws, contact).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.set_request_subject(ws, id, contact, now).await?;
    tx.record_audit(
        &audit::by(access, client, "privacy.request.subject_chosen").target(
            "privacy_request",
            id,
            None,
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    send_code(state, access, client, id, contact, None).await
}

fn new_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..CODE_LEN)
        .map(|_| {
            let i = rng.gen_range(0..CODE_ALPHABET.len());
            char::from(CODE_ALPHABET.get(i).copied().unwrap_or(b'A'))
        })
        .collect()
}

/// How a code is shown: two groups of four.
fn shown(code: &str) -> String {
    let (a, b) = code.split_at(CODE_LEN / 2);
    format!("{a}-{b}")
}

/// What a person typed, as the code was generated: upper case, no spaces or dashes.
fn typed(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn code_hash(verification_salt: &str, code: &str) -> String {
    super::sha256_hex(&format!("{verification_salt}:{code}"))
}

fn code_text(business: &str, code: &str) -> String {
    format!(
        "{business}: someone asked us about your personal data by email. If it was you, the \
         verification code is {} — send it back to us as we asked in our email. It expires in \
         48 hours. If it was not you, ignore this message.",
        shown(code)
    )
}

/// The email that carries a code to the contact's known address.
fn code_email(business: &str, to: &str, code: &str) -> switchboard_mail::Email {
    switchboard_mail::Email {
        to: to.to_owned(),
        subject: format!("{business}: your verification code"),
        text: format!(
            "Someone asked {business} about your personal data. If it was you, the \
             verification code is {} — send it back to us as we asked in our email. It expires \
             in 48 hours.\n\nIf it was not you, ignore this message: nothing happens without \
             the code.\n",
            shown(code)
        ),
    }
}

/// The stored form of a code: SHA-256 with a random salt kept beside it, so equal codes never
/// share a hash.
fn salted_hash(code: &str) -> String {
    let salt = uuid::Uuid::new_v4().simple().to_string();
    format!("{salt}${}", code_hash(&salt, code))
}

/// Sends a new code to the request's contact: by email to the address recorded on the
/// contact when it has one and no conversation is named, else through `conversation` (or the
/// first of its conversations that can carry a message now); an earlier code dies. When
/// nothing can carry it, nothing is stored and the outcome says why.
pub async fn send_code(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: PrivacyRequestId,
    contact: ContactId,
    conversation: Option<ConversationId>,
) -> Result<SendOutcome, ApiError> {
    let ws = access.workspace_id;
    let privacy = state.store.contact_privacy(ws, contact).await?;
    if privacy.is_restricted() {
        return Ok(SendOutcome::not_sent(
            "The contact's processing is restricted, so nothing can be sent to them. Verify \
             their identity another way and record how.",
        ));
    }
    let business = state.store.workspace(ws).await?.name;
    let code = new_code();
    let content = OutboundContent::Text {
        body: code_text(&business, &code),
    };
    let now = state.clock.now();
    if conversation.is_none() {
        // An address the contact already had is an identity as good as a channel, and it
        // reaches them whatever a channel's reply window says.
        if let Some(known) = state.store.contact(ws, contact).await?.email {
            return send_by_email(state, access, client, id, &business, &known, &code, now).await;
        }
    }
    let (chosen, note) = match conversation {
        Some(c) => {
            let owned = state.store.contact_conversation_ids(ws, contact).await?;
            if !owned.contains(&c) {
                return Err(bad(
                    "invalid_conversation",
                    "That conversation is not the contact's.",
                    "conversation_id",
                ));
            }
            let (reachable, note) = crate::restriction::reachable_conversation(
                &state.store,
                ws,
                contact,
                &content,
                now,
            )
            .await?;
            // The named conversation, if the window allows it; else say why not.
            if reachable == Some(c) || conversation_allows(state, ws, c, &content, now).await? {
                (Some(c), None)
            } else {
                (
                    None,
                    note.or_else(|| Some("That conversation cannot carry a message now.".into())),
                )
            }
        }
        None => {
            crate::restriction::reachable_conversation(&state.store, ws, contact, &content, now)
                .await?
        }
    };
    let Some(conversation) = chosen else {
        return Ok(SendOutcome::not_sent(note.unwrap_or_else(|| {
            "No channel can carry a message to the contact now.".into()
        })));
    };
    let target = state.store.reply_target(ws, conversation).await?;
    let expires = now + CODE_LIFETIME;
    let hash = salted_hash(&code);
    let mut tx = state.store.begin().await?;
    let message = tx
        .insert_outbound(
            ws,
            conversation,
            &switchboard_store::messages::NewOutbound {
                author: access.actor.user_id(),
                content: &content,
                reply_to_external_id: None,
                idempotency_key: None,
            },
            now,
        )
        .await?;
    tx.enqueue(crate::jobs::send::job(ws, message, None, now), now)
        .await?;
    let v = tx
        .insert_verification(
            ws,
            id,
            &NewVerification {
                method: VerificationMethod::Conversation,
                conversation_id: Some(conversation),
                code_hash: Some(&hash),
                expires_at: expires,
                created_by: access.actor.user_id(),
            },
            now,
        )
        .await?;
    tx.record_audit(
        &audit::with_details(
            audit::by(access, client, "privacy.verification.sent").target(
                "privacy_request",
                id,
                None,
            ),
            serde_json::json!({
                "verification_id": v.id,
                "conversation_id": conversation,
                "channel": target.kind.as_str(),
                "expires_at": crate::routes::workspaces::rfc3339(expires),
            }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(SendOutcome {
        sent: true,
        method: Some(VerificationMethod::Conversation.as_str().into()),
        conversation_id: Some(conversation.to_string()),
        channel: Some(target.kind.display_name().into()),
        expires_at: Some(crate::routes::workspaces::rfc3339(expires)),
        note: None,
    })
}

/// Emails a new code to `to`, the address recorded on the contact: the email is queued in the
/// transaction that records the verification (the address and code live only in the job's
/// payload, emptied once sent). The audit says a code went by email, not where.
#[allow(clippy::too_many_arguments)]
async fn send_by_email(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: PrivacyRequestId,
    business: &str,
    to: &str,
    code: &str,
    now: Timestamp,
) -> Result<SendOutcome, ApiError> {
    let ws = access.workspace_id;
    let expires = now + CODE_LIFETIME;
    let hash = salted_hash(code);
    let mut tx = state.store.begin().await?;
    crate::jobs::email::enqueue_in_workspace(&mut tx, ws, &code_email(business, to, code), now)
        .await?;
    let v = tx
        .insert_verification(
            ws,
            id,
            &NewVerification {
                method: VerificationMethod::Email,
                conversation_id: None,
                code_hash: Some(&hash),
                expires_at: expires,
                created_by: access.actor.user_id(),
            },
            now,
        )
        .await?;
    tx.record_audit(
        &audit::with_details(
            audit::by(access, client, "privacy.verification.sent").target(
                "privacy_request",
                id,
                None,
            ),
            serde_json::json!({
                "verification_id": v.id,
                "method": VerificationMethod::Email.as_str(),
                "expires_at": crate::routes::workspaces::rfc3339(expires),
            }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(SendOutcome {
        sent: true,
        method: Some(VerificationMethod::Email.as_str().into()),
        conversation_id: None,
        channel: Some("email".into()),
        expires_at: Some(crate::routes::workspaces::rfc3339(expires)),
        note: None,
    })
}

async fn conversation_allows(
    state: &AppState,
    ws: WorkspaceId,
    conversation: ConversationId,
    content: &OutboundContent,
    now: Timestamp,
) -> Result<bool, ApiError> {
    use switchboard_core::window::{ReplyAttempt, WindowDecision, WindowRules, check_reply};
    let target = state.store.reply_target(ws, conversation).await?;
    let connection = state.store.connection(ws, target.connection_id).await?;
    if connection.status != switchboard_store::connections::ConnectionStatus::Active {
        return Ok(false);
    }
    let attempt = ReplyAttempt {
        kind: target.kind,
        last_inbound_at: target.last_inbound_at,
        now,
        content,
        tag: None,
        sent_since_last_inbound: target.sent_since_last_inbound,
    };
    Ok(!matches!(
        check_reply(&attempt, &WindowRules::default()),
        WindowDecision::Refused(_)
    ))
}

/// Sends a code again (the contact wrote in, so a window opened; or through another
/// conversation the operator names).
pub async fn resend(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: PrivacyRequestId,
    conversation: Option<ConversationId>,
) -> Result<SendOutcome, ApiError> {
    access.require(Role::Admin)?;
    let request = awaiting(state, access.workspace_id, id).await?;
    let contact = subject_of(&request)?;
    send_code(state, access, client, id, contact, conversation).await
}

/// Why a code was refused.
fn refused(code: &'static str, message: &str) -> ApiError {
    ApiError::Validation(ValidationError::new(code, message).on("code"))
}

/// Checks a code the requester sent back. Every try is counted (committed) before the
/// comparison; a right one ends the pause and lets the request proceed.
pub async fn verify(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: PrivacyRequestId,
    code: &str,
) -> Result<PrivacyRequest, ApiError> {
    access.require(Role::Admin)?;
    let ws = access.workspace_id;
    let request = awaiting(state, ws, id).await?;
    let contact = subject_of(&request)?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let Some(v) = tx.current_verification(ws, id).await? else {
        return Err(ApiError::Conflict {
            code: "no_code_sent",
            message: "No code was sent for this request yet.".into(),
        });
    };
    check_usable(&v, now)?;
    if !tx.count_attempt(ws, v.id).await? {
        return Err(refused(
            "too_many_attempts",
            "Too many wrong codes: send a new one.",
        ));
    }
    let matches = v
        .code_hash
        .as_deref()
        .and_then(|stored| stored.split_once('$'))
        .is_some_and(|(salt, hash)| {
            use subtle::ConstantTimeEq;
            bool::from(
                code_hash(salt, &typed(code))
                    .as_bytes()
                    .ct_eq(hash.as_bytes()),
            )
        });
    if !matches {
        tx.record_audit(
            &audit::with_details(
                audit::by(access, client, "privacy.verification.failed").target(
                    "privacy_request",
                    id,
                    None,
                ),
                serde_json::json!({ "verification_id": v.id, "attempt": v.attempts + 1 }),
            ),
            now,
        )
        .await?;
        // The attempt counts even though the answer is a refusal.
        tx.commit().await?;
        let left = switchboard_store::privacy_intake::MAX_ATTEMPTS - v.attempts - 1;
        return Err(refused(
            "wrong_code",
            &format!("That is not the code we sent; {left} attempts left."),
        ));
    }
    tx.mark_verified(ws, v.id, now).await?;
    let moved = proceed(&mut tx, access, client, &request, contact, now).await?;
    tx.commit().await?;
    after_commit(state, access, client, &moved, contact).await
}

fn check_usable(v: &Verification, now: Timestamp) -> Result<(), ApiError> {
    if v.verified_at.is_some() {
        return Err(ApiError::Conflict {
            code: "already_verified",
            message: "This request's identity is already verified.".into(),
        });
    }
    if v.method == VerificationMethod::Attested {
        return Err(ApiError::Conflict {
            code: "no_code_sent",
            message: "No code was sent for this request.".into(),
        });
    }
    if now >= v.expires_at {
        return Err(refused(
            "code_expired",
            "The code has expired: send a new one.",
        ));
    }
    if v.attempts >= switchboard_store::privacy_intake::MAX_ATTEMPTS {
        return Err(refused(
            "too_many_attempts",
            "Too many wrong codes: send a new one.",
        ));
    }
    Ok(())
}

/// Records that the operator verified the requester's identity another way (a call to the
/// number the contact already has, say), with how; audited with the reason. The request then
/// proceeds as after a code.
pub async fn attest(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    id: PrivacyRequestId,
    how: &str,
) -> Result<PrivacyRequest, ApiError> {
    access.require(Role::Admin)?;
    let ws = access.workspace_id;
    let reason = switchboard_core::privacy::parse_reason(how)?;
    let request = awaiting(state, ws, id).await?;
    let contact = subject_of(&request)?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let v = tx
        .insert_verification(
            ws,
            id,
            &NewVerification {
                method: VerificationMethod::Attested,
                conversation_id: None,
                code_hash: None,
                expires_at: now,
                created_by: access.actor.user_id(),
            },
            now,
        )
        .await?;
    tx.mark_verified(ws, v.id, now).await?;
    tx.record_audit(
        &audit::with_details(
            audit::by(access, client, "privacy.verification.attested").target(
                "privacy_request",
                id,
                None,
            ),
            serde_json::json!({ "verification_id": v.id, "how": reason }),
        ),
        now,
    )
    .await?;
    let moved = proceed(&mut tx, access, client, &request, contact, now).await?;
    tx.commit().await?;
    after_commit(state, access, client, &moved, contact).await
}

/// Identity verified: the pause ends (`acknowledged`), and the request runs through its
/// executor in the same transaction where the executor is a row change or a job.
async fn proceed(
    tx: &mut Tx,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    request: &PrivacyRequest,
    contact: ContactId,
    now: Timestamp,
) -> Result<PrivacyRequest, ApiError> {
    let ws = access.workspace_id;
    let by = || audit::by(access, client, "privacy.request");
    let step = |to| Move {
        to,
        reason: None,
        by: by(),
    };
    let id = request.id;
    let mut moved = tx
        .move_request(id, step(RequestState::Acknowledged), now)
        .await?;
    match request.kind {
        RequestKind::Erase => {
            moved = tx
                .move_request(id, step(RequestState::InProgress), now)
                .await?;
            super::enqueue_erasure(tx, id, Some(ws), now).await?;
        }
        RequestKind::Export => {
            let expires = now + Duration::days(switchboard_core::retention::EXPORT_LIFETIME_DAYS);
            let export = tx
                .insert_contact_export(ws, contact, access.actor.user_id(), expires, now)
                .await?;
            tx.enqueue(crate::export::jobs::job(ws, export, now), now)
                .await?;
            tx.record_audit(
                &audit::with_details(
                    audit::by(access, client, "privacy.export_requested")
                        .target("contact", contact, None),
                    serde_json::json!({ "export_id": export, "request_id": id }),
                ),
                now,
            )
            .await?;
            moved = tx
                .move_request(id, step(RequestState::InProgress), now)
                .await?;
        }
        RequestKind::Restrict => {
            let reason = format!("Requested by the data subject (request {id}).");
            if tx.restrict_contact(ws, contact, &reason, now).await? {
                tx.record_audit(
                    &audit::with_details(
                        audit::by(access, client, "privacy.restricted")
                            .target("contact", contact, None),
                        serde_json::json!({ "reason": reason }),
                    ),
                    now,
                )
                .await?;
            }
            tx.move_request(id, step(RequestState::InProgress), now)
                .await?;
            moved = tx
                .move_request(id, step(RequestState::Completed), now)
                .await?;
        }
        RequestKind::Object => {
            if tx.record_marketing_objection(ws, contact, now).await? {
                tx.record_audit(
                    &audit::by(access, client, "privacy.objected").target("contact", contact, None),
                    now,
                )
                .await?;
            }
            tx.move_request(id, step(RequestState::InProgress), now)
                .await?;
            moved = tx
                .move_request(id, step(RequestState::Completed), now)
                .await?;
        }
        // Lifting tells the contact first (its own transaction, below); rectification is
        // the operator's to do and complete.
        RequestKind::LiftRestriction | RequestKind::Rectify => {}
    }
    Ok(moved)
}

/// What follows a verification outside its transaction: lifting a restriction, which queues
/// its notice to the contact in its own transaction, then completes the request.
async fn after_commit(
    state: &AppState,
    access: &WorkspaceAccess,
    client: &ClientInfo,
    request: &PrivacyRequest,
    contact: ContactId,
) -> Result<PrivacyRequest, ApiError> {
    if request.kind != RequestKind::LiftRestriction {
        return Ok(request.clone());
    }
    let ws = access.workspace_id;
    let now = state.clock.now();
    crate::restriction::lift(
        &state.store,
        ws,
        contact,
        access.actor.user_id(),
        audit::by(access, client, "privacy.restriction_lifted"),
        now,
    )
    .await?;
    let by = || audit::by(access, client, "privacy.request");
    let mut tx = state.store.begin().await?;
    tx.move_request(
        request.id,
        Move {
            to: RequestState::InProgress,
            reason: None,
            by: by(),
        },
        now,
    )
    .await?;
    let done = tx
        .move_request(
            request.id,
            Move {
                to: RequestState::Completed,
                reason: None,
                by: by(),
            },
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(done)
}

/// The request's intake view: candidates again while no subject is chosen, and its
/// verifications.
pub async fn candidates_of(
    state: &AppState,
    ws: WorkspaceId,
    request: &PrivacyRequest,
) -> Result<Vec<Candidate>, ApiError> {
    if request.subject_id.is_some() {
        return Ok(Vec::new());
    }
    let (_, details) = state.store.request_intake(ws, request.id).await?;
    let Some(details) = details else {
        return Ok(Vec::new());
    };
    let query = query_of(state, ws, &details).await?;
    Ok(state.store.intake_candidates(ws, &query).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_compare_by_digits() {
        assert_eq!(
            normalise_phone("+44 (0)20 7946-0958").unwrap(),
            "4402079460958"
        );
        assert!(normalise_phone("12345").is_err());
        assert!(normalise_phone("call me").is_err());
    }

    #[test]
    fn domains_are_compared_as_hosts() {
        assert_eq!(
            normalise_domain("https://www.Shop.example/contact"),
            "shop.example"
        );
        assert_eq!(normalise_domain("shop.example:443"), "shop.example");
        assert_eq!(normalise_domain("shop.example."), "shop.example");
    }

    #[test]
    fn codes_are_typed_loosely_and_hashed_with_a_salt() {
        let code = new_code();
        assert_eq!(code.len(), CODE_LEN);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        assert_eq!(typed(&shown(&code).to_lowercase()), code);
        assert_ne!(code_hash("a", &code), code_hash("b", &code));
    }
}
