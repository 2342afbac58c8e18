//! What the platforms send: webhooks built from a compact description, in each platform's
//! documented shape (the WhatsApp Cloud API's `entry/changes/value`, the Messenger Platform's
//! and Instagram Messaging's `entry/messaging`, the Bot API's `Update`, TikTok's envelope with
//! `content` as a JSON string), signed as the platform signs, posted to the target.
//!
//! Signatures: Meta's `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the app secret);
//! Telegram's `X-Telegram-Bot-Api-Secret-Token` (the `secret_token` given to `setWebhook`);
//! TikTok's `TikTok-Signature: t=<unix>,s=<hex HMAC-SHA256 of "<t>." + body>` keyed with the
//! app's client secret.

use crate::SimError;
use crate::state::{
    self, Media, Platform, State, graph_object_id, instagram_mid, lock, messenger_mid, tiktok_id,
    wamid,
};
use axum::body::Bytes;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::{Duration, Instant};

/// `POST /_sim/inbound`: a customer's message, described compactly.
#[derive(Debug, Clone, Deserialize)]
pub struct InboundSpec {
    pub platform: Platform,
    /// The business side: phone number id, page id, Instagram account id, bot id, TikTok
    /// business id.
    pub account: String,
    /// The customer: wa_id, PSID, IGSID, Telegram user id, TikTok user id.
    pub sender: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub media: Option<MediaSpec>,
    /// The platform id of the message this one replies to.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Telegram: the channel id in `/webhooks/telegram/{id}`, when the bot's webhook was not
    /// set through `setWebhook` here.
    #[serde(default)]
    pub channel: Option<String>,
    /// The message's platform id; fresh when absent (give one to simulate a redelivery).
    #[serde(default)]
    pub message_id: Option<String>,
    /// WhatsApp: the business account id of `entry[].id` (default: the account).
    #[serde(default)]
    pub business_account: Option<String>,
    /// Messenger, Instagram, TikTok: the business sent this message from the platform's own
    /// app (Page inbox, Instagram app, TikTok); `sender` is still the customer, now the
    /// recipient.
    #[serde(default)]
    pub echo: bool,
    /// Instagram: a comment (with `text`) on a media, or a reply to a comment.
    #[serde(default)]
    pub comment: Option<CommentSpec>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CommentSpec {
    pub media_id: String,
    /// The comment this one replies to.
    #[serde(default)]
    pub parent_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MediaSpec {
    /// image, audio, video, document or sticker.
    pub kind: String,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
}

/// `POST /_sim/statuses`: a status webhook for a message the simulator accepted.
#[derive(Debug, Clone, Deserialize)]
pub struct StatusSpec {
    pub message_id: String,
    /// sent, delivered, read or failed.
    pub status: String,
    /// WhatsApp `failed`: the error code (default 131026, undeliverable).
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub error_title: Option<String>,
    /// Emit this much later, in the background.
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

/// A webhook ready to post.
pub struct Webhook {
    pub platform: Platform,
    pub url: String,
    pub body: Bytes,
    pub headers: Vec<(&'static str, String)>,
    pub message_id: String,
}

/// What happened to one webhook.
#[derive(Debug, Clone, Serialize)]
pub struct Emission {
    pub platform: Platform,
    pub url: String,
    pub message_id: String,
    /// The target's HTTP status.
    pub status: u16,
    pub latency_ms: f64,
    pub payload: Value,
}

const TELEGRAM_SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
const TIKTOK_SIGNATURE_HEADER: &str = "tiktok-signature";

/// The bytes served for a simulated media object: a minimal valid file of the kind.
fn media_bytes(mime: &str) -> Bytes {
    // A 1x1 transparent PNG.
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00,
        0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49,
        0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];
    if mime.starts_with("image/") {
        Bytes::from_static(PNG)
    } else if mime == "application/pdf" {
        Bytes::from_static(b"%PDF-1.4\n% switchboard simulator\n%%EOF\n")
    } else {
        Bytes::from(format!("simulated {mime} content\n"))
    }
}

fn default_mime(kind: &str) -> &'static str {
    match kind {
        "image" => "image/png",
        "audio" => "audio/ogg",
        "video" => "video/mp4",
        "sticker" => "image/webp",
        _ => "application/pdf",
    }
}

fn hmac_hex(key: &SecretString, parts: &[&[u8]]) -> Result<String, SimError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes())
        .map_err(|e| SimError::bad(e.to_string()))?;
    for part in parts {
        mac.update(part);
    }
    Ok(hex::encode(mac.finalize().into_bytes()))
}

fn meta_path(platform: Platform) -> &'static str {
    match platform {
        Platform::Whatsapp => "/webhooks/whatsapp",
        Platform::Messenger => "/webhooks/messenger",
        Platform::Instagram => "/webhooks/instagram",
        Platform::Tiktok => "/webhooks/tiktok",
        Platform::Telegram => "/webhooks/telegram",
    }
}

/// Signs a Meta or TikTok payload and addresses it to the target; Telegram is addressed by
/// [`telegram_update`], which knows the bot's webhook.
fn seal(
    state: &State,
    platform: Platform,
    payload: &Value,
    message_id: String,
) -> Result<Webhook, SimError> {
    let body = Bytes::from(serde_json::to_vec(payload).map_err(SimError::bad)?);
    let settings = lock(&state.settings);
    let url = format!("{}{}", settings.target, meta_path(platform));
    let headers = match platform {
        Platform::Tiktok => {
            let secret = settings
                .tiktok_client_secret
                .as_ref()
                .ok_or(SimError::SecretMissing("tiktok_client_secret"))?;
            let t = state.unix_now().to_string();
            let s = hmac_hex(secret, &[t.as_bytes(), b".", &body])?;
            vec![(TIKTOK_SIGNATURE_HEADER, format!("t={t},s={s}"))]
        }
        _ => {
            let secret = settings
                .meta_app_secret
                .as_ref()
                .ok_or(SimError::SecretMissing("meta_app_secret"))?;
            vec![(
                switchboard_channels::meta::SIGNATURE_HEADER,
                switchboard_channels::meta::sign(&body, secret),
            )]
        }
    };
    Ok(Webhook {
        platform,
        url,
        body,
        headers,
        message_id,
    })
}

/// Builds the signed webhook for a customer's message.
pub fn build(state: &State, spec: &InboundSpec) -> Result<Webhook, SimError> {
    if spec.text.is_none() && spec.media.is_none() {
        return Err(SimError::bad("an inbound message needs text or media"));
    }
    if let Some(media) = &spec.media
        && !["image", "audio", "video", "document", "sticker"].contains(&media.kind.as_str())
    {
        return Err(SimError::bad(
            "media.kind is one of image, audio, video, document, sticker",
        ));
    }
    if spec.echo
        && !matches!(
            spec.platform,
            Platform::Messenger | Platform::Instagram | Platform::Tiktok
        )
    {
        return Err(SimError::bad(
            "echoes are simulated for messenger, instagram and tiktok",
        ));
    }
    if let Some(comment) = &spec.comment {
        if spec.platform != Platform::Instagram || spec.text.is_none() {
            return Err(SimError::bad("a comment is an instagram message with text"));
        }
        let id = spec.message_id.clone().unwrap_or_else(graph_object_id);
        let payload = instagram_comment(state, spec, comment, &id);
        return seal(state, Platform::Instagram, &payload, id);
    }
    match spec.platform {
        Platform::Whatsapp => {
            let id = spec.message_id.clone().unwrap_or_else(wamid);
            let payload = whatsapp_message(state, spec, &id);
            seal(state, Platform::Whatsapp, &payload, id)
        }
        Platform::Messenger | Platform::Instagram => {
            let id = spec.message_id.clone().unwrap_or_else(|| {
                if spec.platform == Platform::Instagram {
                    instagram_mid()
                } else {
                    messenger_mid()
                }
            });
            let payload = messaging(state, spec, &id);
            seal(state, spec.platform, &payload, id)
        }
        Platform::Tiktok => {
            let id = spec.message_id.clone().unwrap_or_else(tiktok_id);
            let payload = tiktok_message(state, spec, &id)?;
            seal(state, Platform::Tiktok, &payload, id)
        }
        Platform::Telegram => telegram_update(state, spec),
    }
}

/// WhatsApp's display number for a phone number id: made up, stable.
fn display_number(phone_number_id: &str) -> String {
    let digits: String = phone_number_id
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let tail = digits.get(digits.len().saturating_sub(7)..).unwrap_or("");
    format!("1555{tail:0>7}")
}

fn whatsapp_value(phone_number_id: &str) -> serde_json::Map<String, Value> {
    let mut value = serde_json::Map::new();
    value.insert("messaging_product".into(), json!("whatsapp"));
    value.insert(
        "metadata".into(),
        json!({
            "display_phone_number": display_number(phone_number_id),
            "phone_number_id": phone_number_id,
        }),
    );
    value
}

fn whatsapp_envelope(business_account: &str, value: serde_json::Map<String, Value>) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": business_account,
            "changes": [{ "value": value, "field": "messages" }],
        }],
    })
}

fn whatsapp_message(state: &State, spec: &InboundSpec, id: &str) -> Value {
    let mut message = json!({
        "from": spec.sender,
        "id": id,
        "timestamp": state.unix_now().to_string(),
    });
    match &spec.media {
        Some(media) => {
            let mime = media
                .mime_type
                .clone()
                .unwrap_or_else(|| default_mime(&media.kind).to_owned());
            let media_id = graph_object_id();
            let bytes = media_bytes(&mime);
            let sha = {
                use base64::Engine;
                use sha2::Digest;
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes))
            };
            state.store_media(
                &media_id,
                Media {
                    mime_type: mime.clone(),
                    bytes,
                    file_path: String::new(),
                },
            );
            let mut object = json!({ "mime_type": mime, "sha256": sha, "id": media_id });
            if let Some(caption) = media.caption.as_ref().or(spec.text.as_ref())
                && matches!(media.kind.as_str(), "image" | "video" | "document")
            {
                crate::state::set(&mut object, "caption", json!(caption));
            }
            if media.kind == "document" {
                crate::state::set(
                    &mut object,
                    "filename",
                    json!(media.filename.as_deref().unwrap_or("document.pdf")),
                );
            }
            if media.kind == "audio" {
                crate::state::set(&mut object, "voice", json!(mime.starts_with("audio/ogg")));
            }
            crate::state::set(&mut message, "type", json!(media.kind));
            crate::state::set(&mut message, &media.kind, object);
        }
        None => {
            crate::state::set(&mut message, "type", json!("text"));
            crate::state::set(
                &mut message,
                "text",
                json!({ "body": spec.text.as_deref().unwrap_or_default() }),
            );
        }
    }
    if let Some(reply_to) = &spec.reply_to {
        crate::state::set(
            &mut message,
            "context",
            json!({ "from": display_number(&spec.account), "id": reply_to }),
        );
    }
    let mut value = whatsapp_value(&spec.account);
    value.insert(
        "contacts".into(),
        json!([{
            "profile": { "name": spec.name.as_deref().unwrap_or("Customer") },
            "wa_id": spec.sender,
        }]),
    );
    value.insert("messages".into(), json!([message]));
    whatsapp_envelope(
        spec.business_account.as_deref().unwrap_or(&spec.account),
        value,
    )
}

/// Messenger and Instagram share `entry[].messaging[]`; Instagram's `entry.time` is in
/// seconds, Messenger's in milliseconds (as in their webhook references).
fn messaging(state: &State, spec: &InboundSpec, mid: &str) -> Value {
    let mut message = json!({ "mid": mid });
    if let Some(text) = &spec.text {
        crate::state::set(&mut message, "text", json!(text));
    }
    if let Some(media) = &spec.media {
        let mime = media
            .mime_type
            .clone()
            .unwrap_or_else(|| default_mime(&media.kind).to_owned());
        let id = graph_object_id();
        state.store_media(
            &id,
            Media {
                mime_type: mime.clone(),
                bytes: media_bytes(&mime),
                file_path: String::new(),
            },
        );
        let kind = match media.kind.as_str() {
            "document" => "file",
            "sticker" => "image",
            other => other,
        };
        crate::state::set(
            &mut message,
            "attachments",
            json!([{
                "type": kind,
                "payload": { "url": format!("{}/cdn/{id}", state.base_url) },
            }]),
        );
    }
    if let Some(reply_to) = &spec.reply_to {
        crate::state::set(&mut message, "reply_to", json!({ "mid": reply_to }));
    }
    let (from, to) = if spec.echo {
        crate::state::set(&mut message, "is_echo", json!(true));
        if spec.platform == Platform::Messenger {
            // The app that sent it: here, Meta's own Page inbox.
            crate::state::set(&mut message, "app_id", json!(PAGE_INBOX_APP_ID));
        }
        (&spec.account, &spec.sender)
    } else {
        (&spec.sender, &spec.account)
    };
    messaging_envelope(
        state,
        spec.platform,
        &spec.account,
        json!({
            "sender": { "id": from },
            "recipient": { "id": to },
            "timestamp": state.unix_millis(),
            "message": message,
        }),
    )
}

/// A made-up id for the app behind Meta's Page inbox, the `app_id` of echoes sent from it.
const PAGE_INBOX_APP_ID: i64 = 263_902_037_430_900;

/// Instagram's `comments` change (Instagram webhooks reference, field `comments`).
fn instagram_comment(state: &State, spec: &InboundSpec, comment: &CommentSpec, id: &str) -> Value {
    let mut value = json!({
        "from": { "id": spec.sender, "username": spec.name.as_deref().unwrap_or("customer") },
        "media": { "id": comment.media_id, "media_product_type": "FEED" },
        "id": id,
        "text": spec.text.as_deref().unwrap_or_default(),
    });
    if let Some(parent) = &comment.parent_id {
        crate::state::set(&mut value, "parent_id", json!(parent));
    }
    json!({
        "object": "instagram",
        "entry": [{
            "id": spec.account,
            "time": state.unix_now(),
            "changes": [{ "field": "comments", "value": value }],
        }],
    })
}

fn messaging_envelope(state: &State, platform: Platform, account: &str, event: Value) -> Value {
    let (object, time) = if platform == Platform::Instagram {
        ("instagram", state.unix_now())
    } else {
        ("page", state.unix_millis())
    };
    json!({
        "object": object,
        "entry": [{ "id": account, "time": time, "messaging": [event] }],
    })
}

/// A conversation id for a (business, customer) pair: opaque and stable, as TikTok's are.
fn tiktok_conversation(account: &str, sender: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = Sha256::digest(format!("{account}/{sender}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest.get(..16).unwrap_or_default())
}

fn tiktok_message(state: &State, spec: &InboundSpec, id: &str) -> Result<Value, SimError> {
    let customer = (
        spec.name.as_deref().unwrap_or("customer"),
        spec.sender.as_str(),
    );
    let business = ("business", spec.account.as_str());
    // An echo (`im_send_msg`) runs from the business to the customer and has no `is_follower`.
    let (from, to) = if spec.echo {
        (business, customer)
    } else {
        (customer, business)
    };
    let mut content = json!({
        "from": from.0,
        "from_user": { "id": from.1 },
        "to": to.0,
        "to_user": { "id": to.1 },
        "conversation_id": tiktok_conversation(&spec.account, &spec.sender),
        "timestamp": state.unix_millis(),
        "message_id": id,
    });
    if !spec.echo {
        crate::state::set(&mut content, "is_follower", json!(false));
    }
    match &spec.media {
        Some(media) if media.kind == "image" => {
            let media_id = format!("v0904{}", state::random_string(14, state::ALNUM));
            crate::state::set(&mut content, "type", json!("image"));
            crate::state::set(&mut content, "image", json!({ "media_id": media_id }));
        }
        Some(_) => {
            return Err(SimError::bad(
                "TikTok Business Messaging carries text and images only",
            ));
        }
        None => {
            crate::state::set(&mut content, "type", json!("text"));
            crate::state::set(
                &mut content,
                "text",
                json!({ "body": spec.text.as_deref().unwrap_or_default() }),
            );
        }
    }
    if let Some(reply_to) = &spec.reply_to {
        crate::state::set(&mut content, "reference_message_id", json!(reply_to));
    }
    let client_key = lock(&state.settings)
        .tiktok_client_key
        .clone()
        .unwrap_or_else(|| "sim_client_key".to_owned());
    Ok(json!({
        "client_key": client_key,
        "event": if spec.echo { "im_send_msg" } else { "im_receive_msg" },
        "create_time": state.unix_now(),
        "user_openid": spec.account,
        "content": content.to_string(),
    }))
}

/// The next message id in a Telegram chat: one sequence for both directions, as in a private
/// chat.
fn telegram_message_id(state: &State, bot: &str, chat: &str) -> i64 {
    let mut telegram = lock(&state.telegram);
    let next = telegram
        .next_message_id
        .entry((bot.to_owned(), chat.to_owned()))
        .or_insert(1);
    let id = *next;
    *next += 1;
    id
}

fn telegram_update(state: &State, spec: &InboundSpec) -> Result<Webhook, SimError> {
    let user: i64 = spec
        .sender
        .parse()
        .map_err(|_| SimError::bad("a Telegram sender is a numeric user id"))?;
    let (url, secret) = {
        let registered = lock(&state.telegram).webhooks.get(&spec.account).cloned();
        match (registered, &spec.channel) {
            (Some((url, secret)), _) => (url, secret),
            (None, Some(channel)) => {
                let settings = lock(&state.settings);
                (
                    format!("{}/webhooks/telegram/{channel}", settings.target),
                    settings.telegram_secret_tokens.get(channel).cloned(),
                )
            }
            (None, None) => {
                return Err(SimError::bad(
                    "this bot has no webhook: call setWebhook, or give `channel`",
                ));
            }
        }
    };
    let message_id = match &spec.message_id {
        Some(id) => id
            .parse()
            .map_err(|_| SimError::bad("a Telegram message_id is an integer"))?,
        None => telegram_message_id(state, &spec.account, &spec.sender),
    };
    let name = spec.name.as_deref().unwrap_or("Customer");
    let (first, last) = name.split_once(' ').unwrap_or((name, ""));
    let mut person = json!({ "id": user, "first_name": first });
    if !last.is_empty() {
        crate::state::set(&mut person, "last_name", json!(last));
    }
    let username: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    crate::state::set(&mut person, "username", json!(username));
    let mut from = person.clone();
    crate::state::set(&mut from, "is_bot", json!(false));
    crate::state::set(&mut from, "language_code", json!("en"));
    let mut chat = person;
    crate::state::set(&mut chat, "type", json!("private"));
    let date = state.unix_now();
    let mut message = json!({ "message_id": message_id, "from": from, "chat": chat, "date": date });
    match &spec.media {
        Some(media) => {
            let mime = media
                .mime_type
                .clone()
                .unwrap_or_else(|| default_mime(&media.kind).to_owned());
            let bytes = media_bytes(&mime);
            let size = bytes.len();
            let file_id = format!("AgACAgIAAxkBAAI{}", state::random_string(24, state::ALNUM));
            let n = state.next_seq();
            let (field, folder) = match media.kind.as_str() {
                "image" => ("photo", "photos"),
                "audio" => ("voice", "voice"),
                "video" => ("video", "videos"),
                "sticker" => ("sticker", "stickers"),
                _ => ("document", "documents"),
            };
            let extension = mime.rsplit('/').next().unwrap_or("bin");
            state.store_media(
                &file_id,
                Media {
                    mime_type: mime.clone(),
                    bytes,
                    file_path: format!("{folder}/file_{n}.{extension}"),
                },
            );
            let unique = crate::telegram::unique_id(&file_id);
            let media_object = match field {
                "photo" => json!([{
                    "file_id": file_id, "file_unique_id": unique, "file_size": size,
                    "width": 1, "height": 1,
                }]),
                "document" => json!({
                    "file_name": media.filename.as_deref().unwrap_or("document.pdf"),
                    "mime_type": mime, "file_id": file_id, "file_unique_id": unique,
                    "file_size": size,
                }),
                _ => json!({
                    "duration": 1, "mime_type": mime, "file_id": file_id,
                    "file_unique_id": unique, "file_size": size,
                }),
            };
            crate::state::set(&mut message, field, media_object);
            if let Some(caption) = media.caption.as_ref().or(spec.text.as_ref()) {
                crate::state::set(&mut message, "caption", json!(caption));
            }
        }
        None => crate::state::set(
            &mut message,
            "text",
            json!(spec.text.as_deref().unwrap_or_default()),
        ),
    }
    if let Some(reply_to) = &spec.reply_to {
        let reply_id: i64 = reply_to
            .parse()
            .map_err(|_| SimError::bad("a Telegram reply_to is a message id (integer)"))?;
        let chat = message.get("chat").cloned().unwrap_or_default();
        crate::state::set(
            &mut message,
            "reply_to_message",
            json!({
                "message_id": reply_id,
                "chat": chat,
                "date": date,
            }),
        );
    }
    let update_id = 800_000_000 + i64::try_from(state.next_seq()).unwrap_or(0);
    let payload = json!({ "update_id": update_id, "message": message });
    let body = Bytes::from(serde_json::to_vec(&payload).map_err(SimError::bad)?);
    let headers = secret
        .map(|s| vec![(TELEGRAM_SECRET_HEADER, s.expose_secret().to_owned())])
        .unwrap_or_default();
    Ok(Webhook {
        platform: Platform::Telegram,
        url,
        body,
        headers,
        message_id: message_id.to_string(),
    })
}

/// Builds the status webhook for a message the simulator accepted.
pub fn build_status(state: &State, spec: &StatusSpec) -> Result<Webhook, SimError> {
    let sent = lock(&state.messages)
        .get(&spec.message_id)
        .cloned()
        .ok_or_else(|| {
            SimError::NotFound(format!(
                "no message {} was sent through the simulator",
                spec.message_id
            ))
        })?;
    let unsupported = || {
        SimError::bad(format!(
            "{} has no `{}` status webhook",
            sent.platform.name(),
            spec.status
        ))
    };
    let payload = match (sent.platform, spec.status.as_str()) {
        (Platform::Whatsapp, status @ ("sent" | "delivered" | "read" | "failed")) => {
            let mut entry = json!({
                "id": spec.message_id,
                "status": status,
                "timestamp": state.unix_now().to_string(),
                "recipient_id": sent.recipient,
            });
            if status == "failed" {
                let code = spec.error_code.unwrap_or(131026);
                let title = spec
                    .error_title
                    .clone()
                    .unwrap_or_else(|| whatsapp_error_title(code).to_owned());
                crate::state::set(
                    &mut entry,
                    "errors",
                    json!([{
                        "code": code,
                        "title": title,
                        "message": title,
                        "error_data": { "details": title },
                    }]),
                );
            } else {
                crate::state::set(
                    &mut entry,
                    "conversation",
                    json!({
                        "id": state::random_string(32, b"0123456789abcdef"),
                        "origin": { "type": "service" },
                    }),
                );
                crate::state::set(
                    &mut entry,
                    "pricing",
                    json!({
                        "billable": false,
                        "pricing_model": "PMP",
                        "category": "service",
                        "type": "free_customer_service",
                    }),
                );
            }
            let mut value = whatsapp_value(&sent.account);
            value.insert("statuses".into(), json!([entry]));
            whatsapp_envelope(&sent.account, value)
        }
        (Platform::Messenger, "delivered") => messaging_envelope(
            state,
            Platform::Messenger,
            &sent.account,
            json!({
                "sender": { "id": sent.recipient },
                "recipient": { "id": sent.account },
                "timestamp": state.unix_millis(),
                "delivery": { "mids": [spec.message_id], "watermark": state.unix_millis() },
            }),
        ),
        (Platform::Messenger, "read") => messaging_envelope(
            state,
            Platform::Messenger,
            &sent.account,
            json!({
                "sender": { "id": sent.recipient },
                "recipient": { "id": sent.account },
                "timestamp": state.unix_millis(),
                "read": { "watermark": state.unix_millis() },
            }),
        ),
        // Instagram reports reads by message id (Instagram Messaging webhooks, `messaging_seen`).
        (Platform::Instagram, "read") => messaging_envelope(
            state,
            Platform::Instagram,
            &sent.account,
            json!({
                "sender": { "id": sent.recipient },
                "recipient": { "id": sent.account },
                "timestamp": state.unix_millis(),
                "read": { "mid": spec.message_id },
            }),
        ),
        _ => return Err(unsupported()),
    };
    seal(state, sent.platform, &payload, spec.message_id.clone())
}

fn whatsapp_error_title(code: i64) -> &'static str {
    match code {
        131047 => "Re-engagement message",
        131026 => "Message Undeliverable",
        131049 => "This message was not delivered to maintain healthy ecosystem engagement.",
        131051 => "Unsupported message type",
        130472 => "User's number is part of an experiment",
        _ => "Message failed to send",
    }
}

/// Posts a webhook and reports the target's answer.
pub async fn post(state: &State, webhook: &Webhook) -> Result<(u16, f64), SimError> {
    let mut request = state
        .http
        .post(&webhook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(webhook.body.clone());
    for (name, value) in &webhook.headers {
        request = request.header(*name, value);
    }
    let started = Instant::now();
    let response = request
        .send()
        .await
        .map_err(|e| SimError::Target(format!("{}: {e}", webhook.url)))?;
    let status = response.status().as_u16();
    // Read the answer so the connection goes back to the pool.
    let _ = response.bytes().await;
    Ok((status, started.elapsed().as_secs_f64() * 1000.0))
}

pub async fn emit(state: &State, webhook: Webhook) -> Result<Emission, SimError> {
    let (status, latency_ms) = post(state, &webhook).await?;
    Ok(Emission {
        platform: webhook.platform,
        url: webhook.url.clone(),
        message_id: webhook.message_id.clone(),
        status,
        latency_ms,
        payload: serde_json::from_slice(&webhook.body).unwrap_or(Value::Null),
    })
}

/// One step of `POST /_sim/script`.
#[derive(Debug, Clone, Deserialize)]
pub struct ScriptStep {
    /// Wait this long after the previous step.
    #[serde(default)]
    pub after_ms: u64,
    #[serde(default)]
    pub inbound: Option<InboundSpec>,
    #[serde(default)]
    pub status: Option<StatusSpec>,
}

/// Runs a script's steps in order; a step that cannot be built or sent is reported, and the
/// script goes on.
pub async fn run_script(state: &State, steps: Vec<ScriptStep>) -> Vec<Value> {
    let mut results = Vec::with_capacity(steps.len());
    for step in steps {
        if step.after_ms > 0 {
            tokio::time::sleep(Duration::from_millis(step.after_ms)).await;
        }
        let built = match (&step.inbound, &step.status) {
            (Some(inbound), None) => build(state, inbound),
            (None, Some(status)) => build_status(state, status),
            _ => Err(SimError::bad("a step has exactly one of inbound or status")),
        };
        let result = match built {
            Ok(webhook) => emit(state, webhook).await,
            Err(e) => Err(e),
        };
        results.push(match result {
            Ok(emission) => json!(emission),
            Err(e) => json!({ "error": { "code": e.code(), "message": e.to_string() } }),
        });
    }
    results
}
