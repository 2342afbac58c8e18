//! WhatsApp Business Cloud API: webhooks of the `whatsapp_business_account` object (messages,
//! statuses, Business-app echoes), sends through `POST /{phone_number_id}/messages`, the Graph
//! error envelope, media lookup and download, and the template catalogue.
//!
//! Invariant: every message a webhook carries becomes an event — a type or a content shape this
//! module does not know becomes `MessageContent::Unsupported` with WhatsApp's own type name, and a
//! webhook field it does not know becomes `InboundEvent::Unhandled`. Only a body that is not a
//! WhatsApp webhook at all (or a message without an id, sender or time) is `Malformed`.

use crate::{ChannelError, FailureClass, HttpRequest, SendFailure, SendTarget, header, meta};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::time::Duration;
use switchboard_core::Timestamp;
use switchboard_core::channel::{
    AccountRef, ChannelKind, ContactCard, DeliveryStatus, ExternalContact, InboundEvent,
    InboundMessage, MediaKind, MediaRef, MessageContent, OutboundContent, OutboundMessage,
    PlatformError, Referral, StatusUpdate,
};

/// The Graph API version every call names; one place to move it forward.
pub const GRAPH_VERSION: &str = "v21.0";

/// Verifies `X-Hub-Signature-256` against the raw body, as for every Meta platform.
pub fn verify(
    headers: &http::HeaderMap,
    body: &[u8],
    app_secret: &SecretString,
) -> Result<(), ChannelError> {
    meta::verify(headers, body, app_secret)
}

// ---------------------------------------------------------------------------------------------
// Inbound

#[derive(Deserialize)]
struct Envelope {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    field: String,
    #[serde(default)]
    value: Value,
}

/// The `value` of a `messages` or `smb_message_echoes` change.
#[derive(Deserialize)]
struct MessagesValue {
    metadata: Metadata,
    #[serde(default)]
    contacts: Vec<WaContact>,
    #[serde(default)]
    messages: Vec<WaMessage>,
    #[serde(default)]
    message_echoes: Vec<WaMessage>,
    #[serde(default)]
    statuses: Vec<WaStatus>,
    /// Problems WhatsApp reports about the phone number or app rather than one message.
    #[serde(default)]
    errors: Vec<WaError>,
}

#[derive(Deserialize)]
struct Metadata {
    phone_number_id: String,
}

#[derive(Deserialize)]
struct WaContact {
    wa_id: String,
    #[serde(default)]
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct WaMessage {
    /// The customer for a message; the business's number for an echo.
    from: String,
    /// Only on echoes: the customer the business wrote to.
    #[serde(default)]
    to: Option<String>,
    id: String,
    #[serde(deserialize_with = "unix_seconds")]
    timestamp: Timestamp,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    context: Option<Context>,
    #[serde(default)]
    referral: Option<WaReferral>,
    /// The type's own object (`text`, `image`, ...), read once the type is known so that an
    /// odd shape degrades to `Unsupported` instead of failing the whole webhook.
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize)]
struct Context {
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct WaReferral {
    #[serde(default)]
    source_type: Option<String>,
    #[serde(default)]
    source_id: Option<String>,
    #[serde(default)]
    source_url: Option<String>,
    #[serde(default)]
    headline: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct WaStatus {
    id: String,
    status: String,
    #[serde(deserialize_with = "unix_seconds")]
    timestamp: Timestamp,
    #[serde(default)]
    recipient_id: Option<String>,
    #[serde(default)]
    errors: Vec<WaError>,
}

#[derive(Deserialize)]
struct WaError {
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    #[serde(default)]
    details: Option<String>,
}

#[derive(Deserialize)]
struct TextBody {
    body: String,
}

#[derive(Deserialize)]
struct WaMedia {
    id: String,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

#[derive(Deserialize)]
struct WaLocation {
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

#[derive(Deserialize)]
struct WaCard {
    #[serde(default)]
    name: Option<CardName>,
    #[serde(default)]
    phones: Vec<CardPhone>,
    #[serde(default)]
    emails: Vec<CardEmail>,
}

#[derive(Deserialize)]
struct CardName {
    #[serde(default)]
    formatted_name: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
}

#[derive(Deserialize)]
struct CardPhone {
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    wa_id: Option<String>,
}

#[derive(Deserialize)]
struct CardEmail {
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct WaReaction {
    message_id: String,
    #[serde(default)]
    emoji: Option<String>,
}

#[derive(Deserialize)]
struct WaInteractive {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    button_reply: Option<Choice>,
    #[serde(default)]
    list_reply: Option<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    id: String,
    title: String,
}

/// A tap on a template's quick-reply button.
#[derive(Deserialize)]
struct WaButton {
    payload: String,
    text: String,
}

/// WhatsApp documents timestamps as strings of Unix seconds; a bare number is taken too.
fn unix_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    use serde::de::Error;
    let seconds = match Value::deserialize(d)? {
        Value::String(s) => s.trim().parse::<i64>().map_err(D::Error::custom)?,
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| D::Error::custom("timestamp is not whole seconds"))?,
        other => return Err(D::Error::custom(format!("timestamp is {other}"))),
    };
    Timestamp::from_unix_timestamp(seconds).map_err(D::Error::custom)
}

/// Parses a webhook body into events, in the order the payload lists them: for each entry and
/// change, its messages, then its echoes, then its statuses, then errors about the number.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ChannelError> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(shape_error)?;
    if envelope.object != "whatsapp_business_account" {
        return Err(ChannelError::Malformed(format!(
            "object `{}` is not whatsapp_business_account",
            envelope.object
        )));
    }
    let mut events = Vec::new();
    for change in envelope.entry.into_iter().flat_map(|e| e.changes) {
        match change.field.as_str() {
            "messages" | "smb_message_echoes" => {
                let value = MessagesValue::deserialize(change.value).map_err(shape_error)?;
                read_messages_value(value, &mut events);
            }
            _ => events.push(InboundEvent::Unhandled {
                // Other fields (template status, account and quality updates, ...) are
                // addressed to the business account, not to a phone number.
                account: None,
                platform_type: change.field,
            }),
        }
    }
    Ok(events)
}

/// serde quotes the offending string value in its message, and in a webhook that can be a
/// customer's words; the error keeps the shape problem and drops the content, since it is logged.
fn shape_error(e: serde_json::Error) -> ChannelError {
    let mut redacted = String::new();
    for (i, part) in e.to_string().split('"').enumerate() {
        redacted.push_str(if i % 2 == 0 { part } else { "…" });
    }
    ChannelError::Malformed(redacted)
}

fn read_messages_value(value: MessagesValue, events: &mut Vec<InboundEvent>) {
    let account = AccountRef {
        kind: ChannelKind::WhatsApp,
        account_id: value.metadata.phone_number_id,
    };
    let contact = |wa_id: &str| ExternalContact {
        external_id: wa_id.to_owned(),
        display_name: value
            .contacts
            .iter()
            .find(|c| c.wa_id == wa_id)
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.name.clone()),
        username: None,
        phone: Some(wa_id.to_owned()),
    };
    for m in value.messages {
        let contact = contact(&m.from);
        events.push(InboundEvent::Message(inbound_message(&account, contact, m)));
    }
    for m in value.message_echoes {
        // An echo's customer is its recipient; without one it cannot join a conversation.
        let Some(to) = m.to.clone() else {
            events.push(InboundEvent::Unhandled {
                account: Some(account.clone()),
                platform_type: "message_echo_without_recipient".to_owned(),
            });
            continue;
        };
        let contact = contact(&to);
        events.push(InboundEvent::Echo(inbound_message(&account, contact, m)));
    }
    for s in value.statuses {
        let status = match s.status.as_str() {
            "sent" => DeliveryStatus::Sent,
            "delivered" => DeliveryStatus::Delivered,
            "read" => DeliveryStatus::Read,
            "failed" => DeliveryStatus::Failed,
            other => {
                events.push(InboundEvent::Unhandled {
                    account: Some(account.clone()),
                    platform_type: format!("status:{other}"),
                });
                continue;
            }
        };
        events.push(InboundEvent::Status(StatusUpdate {
            account: account.clone(),
            external_id: s.id,
            recipient: s.recipient_id,
            status,
            at: s.timestamp,
            error: s.errors.into_iter().next().map(platform_error),
        }));
    }
    for e in value.errors {
        events.push(InboundEvent::Unhandled {
            account: Some(account.clone()),
            platform_type: format!("error:{}", platform_error(e).code),
        });
    }
}

fn platform_error(e: WaError) -> PlatformError {
    let code = match e.code {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => "unknown".to_owned(),
    };
    PlatformError {
        code,
        title: e.title.or(e.message),
        detail: e.error_data.and_then(|d| d.details),
    }
}

fn inbound_message(account: &AccountRef, contact: ExternalContact, m: WaMessage) -> InboundMessage {
    let content = content(&m.kind, &m.rest);
    InboundMessage {
        account: account.clone(),
        external_id: m.id,
        contact,
        sent_at: m.timestamp,
        content,
        reply_to: m.context.and_then(|c| c.id),
        referral: m.referral.map(|r| Referral {
            source_type: r.source_type,
            source_id: r.source_id,
            source_url: r.source_url,
            headline: r.headline,
            body: r.body,
        }),
    }
}

/// The type's object, read as `T`; `None` when it is absent or not in the documented shape.
fn part<T: serde::de::DeserializeOwned>(
    rest: &serde_json::Map<String, Value>,
    key: &str,
) -> Option<T> {
    rest.get(key).and_then(|v| T::deserialize(v).ok())
}

fn content(kind: &str, rest: &serde_json::Map<String, Value>) -> MessageContent {
    let unsupported = || MessageContent::Unsupported {
        platform_type: kind.to_owned(),
    };
    let media = |media_kind: MediaKind| {
        part::<WaMedia>(rest, kind).map(|m| MessageContent::Media {
            kind: media_kind,
            media: MediaRef::PlatformId(m.id),
            mime_type: m.mime_type,
            caption: m.caption,
            filename: m.filename,
            sha256: m.sha256,
        })
    };
    let content = match kind {
        "text" => part::<TextBody>(rest, kind).map(|t| MessageContent::Text { body: t.body }),
        "image" => media(MediaKind::Image),
        "audio" => media(MediaKind::Audio),
        "video" => media(MediaKind::Video),
        "document" => media(MediaKind::Document),
        "sticker" => media(MediaKind::Sticker),
        "location" => part::<WaLocation>(rest, kind)
            .filter(|l| l.latitude.is_finite() && l.longitude.is_finite())
            .map(|l| MessageContent::Location {
                latitude: l.latitude,
                longitude: l.longitude,
                name: l.name,
                address: l.address,
            }),
        "contacts" => part::<Vec<WaCard>>(rest, kind).map(|cards| MessageContent::Contacts {
            cards: cards.into_iter().map(contact_card).collect(),
        }),
        "reaction" => part::<WaReaction>(rest, kind).map(|r| MessageContent::Reaction {
            to_external_id: r.message_id,
            // WhatsApp removes a reaction by sending it again with an empty emoji.
            emoji: r.emoji.filter(|e| !e.is_empty()),
        }),
        "interactive" => part::<WaInteractive>(rest, kind).map(|i| {
            let choice = match i.kind.as_str() {
                "button_reply" => i.button_reply,
                "list_reply" => i.list_reply,
                _ => None,
            };
            match choice {
                Some(c) => MessageContent::Interactive {
                    reply_id: c.id,
                    title: c.title,
                },
                // Flow replies (`nfm_reply`) and anything newer: kept under WhatsApp's name.
                None => MessageContent::Unsupported {
                    platform_type: format!("interactive:{}", i.kind),
                },
            }
        }),
        "button" => part::<WaButton>(rest, kind).map(|b| MessageContent::Interactive {
            reply_id: b.payload,
            title: b.text,
        }),
        _ => None,
    };
    content.unwrap_or_else(unsupported)
}

fn contact_card(card: WaCard) -> ContactCard {
    let name = card
        .name
        .map(|n| {
            n.formatted_name.unwrap_or_else(|| {
                [n.first_name, n.last_name]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        })
        .unwrap_or_default();
    ContactCard {
        name,
        phones: card
            .phones
            .into_iter()
            .filter_map(|p| p.phone.or(p.wa_id))
            .collect(),
        emails: card.emails.into_iter().filter_map(|e| e.email).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Outbound

fn graph_url(base_url: &str, path: &str) -> String {
    format!("{}/{GRAPH_VERSION}/{path}", base_url.trim_end_matches('/'))
}

fn bearer(token: &SecretString) -> (String, String) {
    (
        "Authorization".to_owned(),
        format!("Bearer {}", token.expose_secret()),
    )
}

fn media_type(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
        MediaKind::Document => "document",
        MediaKind::Sticker => "sticker",
    }
}

/// The Cloud API send: `POST /{phone_number_id}/messages` with the documented JSON body.
pub fn build_send(
    target: &SendTarget<'_>,
    msg: &OutboundMessage,
) -> Result<HttpRequest, ChannelError> {
    if msg.tag.is_some() {
        return Err(ChannelError::CannotSend(
            "WhatsApp has no message tags; outside the 24-hour window send an approved template."
                .to_owned(),
        ));
    }
    // The message type names the object that carries the content: `"type": "image"` goes with
    // `"image": {...}`.
    let (kind, object) = match &msg.content {
        OutboundContent::Text { body } => (
            "text",
            json!({
                // Let WhatsApp render a link preview only when there is a link to preview.
                "preview_url": body.contains("https://") || body.contains("http://"),
                "body": body,
            }),
        ),
        OutboundContent::Media {
            kind,
            url,
            caption,
            filename,
        } => {
            let name = media_type(*kind);
            let mut object = Map::new();
            object.insert("link".to_owned(), json!(url));
            if let Some(caption) = caption {
                if matches!(kind, MediaKind::Audio | MediaKind::Sticker) {
                    return Err(ChannelError::CannotSend(format!(
                        "WhatsApp shows no caption on {name} messages; send the text separately."
                    )));
                }
                object.insert("caption".to_owned(), json!(caption));
            }
            // Only documents carry a file name on WhatsApp; for the others it is ignored.
            if let (MediaKind::Document, Some(filename)) = (kind, filename) {
                object.insert("filename".to_owned(), json!(filename));
            }
            (name, Value::Object(object))
        }
        OutboundContent::Template {
            name,
            language,
            parameters,
        } => {
            let mut template = Map::new();
            template.insert("name".to_owned(), json!(name));
            template.insert("language".to_owned(), json!({ "code": language }));
            if !parameters.is_empty() {
                let parameters: Vec<Value> = parameters
                    .iter()
                    .map(|p| json!({ "type": "text", "text": p }))
                    .collect();
                template.insert(
                    "components".to_owned(),
                    json!([{ "type": "body", "parameters": parameters }]),
                );
            }
            ("template", Value::Object(template))
        }
    };
    let mut body = Map::new();
    body.insert("messaging_product".to_owned(), json!("whatsapp"));
    body.insert("recipient_type".to_owned(), json!("individual"));
    body.insert("to".to_owned(), json!(msg.to));
    body.insert("type".to_owned(), json!(kind));
    body.insert(kind.to_owned(), object);
    if let Some(reply_to) = &msg.reply_to {
        body.insert("context".to_owned(), json!({ "message_id": reply_to }));
    }
    Ok(HttpRequest {
        method: http::Method::POST,
        url: graph_url(target.base_url, &format!("{}/messages", target.account_id)),
        headers: vec![
            bearer(target.token),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ],
        body: Some(Value::Object(body)),
    })
}

#[derive(Deserialize)]
struct SendResponse {
    messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: String,
}

#[derive(Deserialize)]
struct GraphErrorEnvelope {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

/// Reads the answer to a send: the new message's `wamid`, or the failure classified by the
/// table in the fixtures README (codes from Meta's Cloud API error-code reference).
pub fn read_send_response(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<String, SendFailure> {
    let status = status.as_u16();
    let retry_after = header(headers, "retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    if (200..300).contains(&status) {
        return serde_json::from_slice::<SendResponse>(body)
            .ok()
            .and_then(|r| r.messages.into_iter().next())
            .map(|m| m.id)
            .ok_or_else(|| SendFailure {
                // Accepted but unreadable: resending could deliver the message twice.
                class: FailureClass::AgentMustAct,
                code: "unreadable_response".to_owned(),
                reason: "WhatsApp accepted the message but its answer had no message id; check \
                         the conversation before sending again."
                    .to_owned(),
                retry_after: None,
            });
    }
    let error = serde_json::from_slice::<GraphErrorEnvelope>(body)
        .ok()
        .map(|e| e.error);
    let code = error.as_ref().and_then(|e| e.code);
    let platform_says = error
        .as_ref()
        .and_then(|e| {
            e.error_data
                .as_ref()
                .and_then(|d| d.details.clone())
                .or_else(|| e.message.clone())
        })
        .unwrap_or_else(|| format!("HTTP {status}"));
    let (class, reason) = classify(status, code, &platform_says);
    Err(SendFailure {
        class,
        code: code.map_or_else(|| status.to_string(), |c| c.to_string()),
        reason,
        retry_after: if class == FailureClass::RetryLater {
            retry_after
        } else {
            None
        },
    })
}

fn classify(status: u16, code: Option<i64>, platform_says: &str) -> (FailureClass, String) {
    use FailureClass::*;
    let retry = |why: &str| (RetryLater, why.to_owned());
    let agent = |why: &str| (AgentMustAct, why.to_owned());
    let broken = |why: &str| (ConnectionBroken, why.to_owned());
    match code {
        Some(130429) => retry("WhatsApp's throughput limit for this number was reached; retrying."),
        Some(131056) => retry("Too many messages to this customer in a short time; retrying."),
        Some(4 | 80007) => retry("WhatsApp's rate limit for this account was reached; retrying."),
        Some(1 | 2 | 131000 | 131016 | 131057) => {
            retry("WhatsApp is unavailable for the moment; retrying.")
        }
        Some(131047) => agent("The 24-hour window closed; send an approved template."),
        Some(131026) => agent(
            "WhatsApp could not deliver to this number: it may not be on WhatsApp or may need to \
             update the app.",
        ),
        Some(131049) => agent(
            "WhatsApp held this marketing message back to protect the customer's engagement; try \
             later or with another template.",
        ),
        Some(131048) => agent(
            "Too many of this number's messages were reported as spam; pause sending and review \
             the messages.",
        ),
        Some(132000) => agent(
            "The template's parameters do not match its placeholders; fill in every parameter.",
        ),
        Some(132001) => agent(
            "That template does not exist in this language or is not approved; pick another \
             template.",
        ),
        Some(131051) => agent("WhatsApp cannot send this kind of message; send text or media."),
        Some(133010) => agent(
            "This business phone number is not registered on the Cloud API; an administrator \
             must register it.",
        ),
        Some(190) => {
            broken("The WhatsApp access token expired or was revoked; reconnect the channel.")
        }
        Some(10 | 200..=299) => broken(
            "The WhatsApp connection lacks a permission it needs; reconnect it with messaging \
             permission.",
        ),
        Some(100) => broken(
            "WhatsApp rejected the connection's phone number id or a parameter; check the \
             channel settings.",
        ),
        _ if status == 429 || status >= 500 => {
            retry("WhatsApp is busy or unavailable for the moment; retrying.")
        }
        _ if status == 401 => {
            broken("WhatsApp refused the connection's credentials; reconnect the channel.")
        }
        _ => (
            AgentMustAct,
            format!("WhatsApp refused the message: {platform_says}"),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Media

/// What `GET /{media_id}` tells about an inbound media object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MediaInfo {
    /// Short-lived; fetch it with [`download_request`] (it needs the bearer token too).
    pub url: String,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub file_size: Option<u64>,
}

/// Resolves a media id (from an inbound message) to its download URL.
pub fn media_url_request(target: &SendTarget<'_>, media_id: &str) -> HttpRequest {
    HttpRequest {
        method: http::Method::GET,
        url: graph_url(target.base_url, media_id),
        headers: vec![bearer(target.token)],
        body: None,
    }
}

#[derive(Deserialize)]
struct MediaUrlResponse {
    url: String,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    file_size: Option<Value>,
}

pub fn read_media_url(body: &[u8]) -> Result<MediaInfo, ChannelError> {
    let r: MediaUrlResponse = serde_json::from_slice(body).map_err(shape_error)?;
    // Documented as a string of bytes; some answers give a number.
    let file_size = match r.file_size {
        Some(Value::String(s)) => s.parse().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    Ok(MediaInfo {
        url: r.url,
        mime_type: r.mime_type,
        sha256: r.sha256,
        file_size,
    })
}

/// Downloads the bytes at a URL from [`read_media_url`]; WhatsApp wants the bearer token there.
pub fn download_request(target: &SendTarget<'_>, url: &str) -> HttpRequest {
    HttpRequest {
        method: http::Method::GET,
        url: url.to_owned(),
        headers: vec![bearer(target.token)],
        body: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Template catalogue

/// One message template of the business account, as far as sending needs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Template {
    pub id: Option<String>,
    pub name: String,
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`, ...; only approved ones send.
    pub status: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    pub category: Option<String>,
    pub body: Option<String>,
    /// `POSITIONAL` (`{{1}}`) or `NAMED` (`{{first_name}}`); sends here fill positional ones.
    pub parameter_format: Option<String>,
    /// How many distinct `{{...}}` placeholders the body has: the parameters a send must give.
    pub parameter_count: usize,
}

/// One page of the catalogue; `next_after` is the cursor for [`templates_request`]'s next page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TemplatePage {
    pub templates: Vec<Template>,
    pub next_after: Option<String>,
}

/// `GET /{waba_id}/message_templates`, one page (up to 100) after the cursor `after`.
pub fn templates_request(
    target: &SendTarget<'_>,
    waba_id: &str,
    after: Option<&str>,
) -> HttpRequest {
    let mut url = graph_url(
        target.base_url,
        &format!(
            "{waba_id}/message_templates?fields=id,name,language,status,category,components&limit=100"
        ),
    );
    if let Some(after) = after {
        url.push_str("&after=");
        url.push_str(&percent_encode(after));
    }
    HttpRequest {
        method: http::Method::GET,
        url,
        headers: vec![bearer(target.token)],
        body: None,
    }
}

/// Graph cursors are base64 and may hold `=`, `+` or `/`; a crate for three bytes did not pay.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
struct TemplatesResponse {
    #[serde(default)]
    data: Vec<WaTemplate>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct WaTemplate {
    #[serde(default)]
    id: Option<String>,
    name: String,
    language: String,
    status: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    parameter_format: Option<String>,
    #[serde(default)]
    components: Vec<TemplateComponent>,
}

#[derive(Deserialize)]
struct TemplateComponent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    cursors: Option<Cursors>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    #[serde(default)]
    after: Option<String>,
}

pub fn read_templates(body: &[u8]) -> Result<TemplatePage, ChannelError> {
    let r: TemplatesResponse = serde_json::from_slice(body).map_err(shape_error)?;
    let templates = r
        .data
        .into_iter()
        .map(|t| {
            let body = t
                .components
                .into_iter()
                .find(|c| c.kind.eq_ignore_ascii_case("body"))
                .and_then(|c| c.text);
            Template {
                id: t.id,
                name: t.name,
                language: t.language,
                status: t.status,
                category: t.category,
                parameter_format: t.parameter_format,
                parameter_count: body.as_deref().map_or(0, placeholder_count),
                body,
            }
        })
        .collect();
    // Graph gives an `after` cursor on every page; only a `next` link says there is more.
    let next_after = r
        .paging
        .filter(|p| p.next.is_some())
        .and_then(|p| p.cursors)
        .and_then(|c| c.after);
    Ok(TemplatePage {
        templates,
        next_after,
    })
}

/// A change of a template's review status, from a `message_template_status_update` webhook
/// (which `parse` reports as `Unhandled`): the cue to sync that business account's catalogue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TemplateStatusChange {
    /// The WhatsApp Business Account (the entry's id), which the connection stores.
    pub waba_id: String,
    pub name: String,
    pub language: String,
    /// `APPROVED`, `REJECTED`, `PAUSED`, `DISABLED`, ...
    pub event: String,
    pub reason: Option<String>,
}

#[derive(Deserialize)]
struct TemplateStatusEnvelope {
    #[serde(default)]
    entry: Vec<TemplateStatusEntry>,
}

#[derive(Deserialize)]
struct TemplateStatusEntry {
    id: String,
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct TemplateStatusValue {
    event: String,
    message_template_name: String,
    message_template_language: String,
    #[serde(default)]
    reason: Option<String>,
}

/// The template status changes a webhook body carries (none for other webhooks); call it on a
/// body that [`parse`] accepted.
pub fn template_status_changes(body: &[u8]) -> Result<Vec<TemplateStatusChange>, ChannelError> {
    let envelope: TemplateStatusEnvelope = serde_json::from_slice(body).map_err(shape_error)?;
    let mut changes = Vec::new();
    for entry in envelope.entry {
        for change in entry.changes {
            if change.field != "message_template_status_update" {
                continue;
            }
            let v = TemplateStatusValue::deserialize(change.value).map_err(shape_error)?;
            changes.push(TemplateStatusChange {
                waba_id: entry.id.clone(),
                name: v.message_template_name,
                language: v.message_template_language,
                event: v.event,
                reason: v.reason,
            });
        }
    }
    Ok(changes)
}

/// Distinct `{{1}}` or `{{name}}` placeholders in a template body.
fn placeholder_count(text: &str) -> usize {
    let mut names: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = rest.get(start + 2..).unwrap_or_default();
        let Some(end) = after.find("}}") else { break };
        let name = after.get(..end).unwrap_or_default().trim();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
        rest = after.get(end + 2..).unwrap_or_default();
    }
    names.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_counted_once_each() {
        assert_eq!(placeholder_count("Hi {{1}}, order {{2}} ships {{2}}"), 2);
        assert_eq!(placeholder_count("{{ name }} at {{day}}"), 2);
        assert_eq!(placeholder_count("no placeholders {{"), 0);
        assert_eq!(placeholder_count(""), 0);
    }

    #[test]
    fn cursors_are_percent_encoded() {
        assert_eq!(percent_encode("QVFI+a/b="), "QVFI%2Ba%2Fb%3D");
    }
}
