//! Telegram Bot API: the webhook's secret-token header, `Update`s to normalized events, the
//! `send*` calls, and the `{ok, error_code, description}` answer.
//!
//! Invariants: a message's platform id is `"{chat.id}:{message_id}"`, because Telegram numbers
//! messages per chat; the customer is the update's `from` user (in a private chat its id is
//! also the chat id replies go to). Updates do not name the bot, so the account comes from the
//! webhook path (`/webhooks/telegram/{channel_id}`).
//!
//! The bot token travels in the URL path (`/bot<token>/method`, Bot API "Making requests"):
//! never log an [`HttpRequest`]'s `url` whole, only its method name.

use crate::{ChannelError, FailureClass, HttpRequest, SendFailure, SendTarget, header};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::time::Duration;
use switchboard_core::Timestamp;
use switchboard_core::channel::{
    AccountRef, ContactCard, ExternalContact, InboundEvent, InboundMessage, MediaKind, MediaRef,
    MessageContent, OutboundContent, OutboundMessage,
};

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// The update kinds Switchboard asks `setWebhook` for.
const ALLOWED_UPDATES: [&str; 4] = [
    "message",
    "edited_message",
    "callback_query",
    "my_chat_member",
];

/// Checks `X-Telegram-Bot-Api-Secret-Token` against the `secret_token` given to `setWebhook`,
/// in constant time. Both sides are hashed first so the comparison does not reveal the
/// secret's length; an empty configured secret matches nothing.
pub fn verify(
    headers: &http::HeaderMap,
    expected_secret: &SecretString,
) -> Result<(), ChannelError> {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let given = header(headers, SECRET_HEADER).ok_or(ChannelError::MissingSignature(
        "X-Telegram-Bot-Api-Secret-Token",
    ))?;
    let expected = expected_secret.expose_secret().as_bytes();
    let same = Sha256::digest(given.as_bytes()).ct_eq(&Sha256::digest(expected));
    if !expected.is_empty() && bool::from(same) {
        Ok(())
    } else {
        Err(ChannelError::InvalidSignature)
    }
}

/// Turns one webhook `Update` into events. `account` names the connection from the path.
pub fn parse(body: &[u8], account: &AccountRef) -> Result<Vec<InboundEvent>, ChannelError> {
    let update: Value = serde_json::from_slice(body).map_err(ChannelError::malformed)?;
    let Some(fields) = update.as_object() else {
        return Err(ChannelError::malformed("an update is a JSON object"));
    };
    if let Some(message) = fields.get("message") {
        return Ok(vec![InboundEvent::Message(read_message(message, account)?)]);
    }
    if let Some(message) = fields.get("edited_message") {
        return Ok(vec![InboundEvent::Edited(read_message(message, account)?)]);
    }
    if let Some(query) = fields.get("callback_query") {
        return Ok(vec![read_callback_query(query, account)?]);
    }
    if let Some(member) = fields.get("my_chat_member") {
        // No normalized event says "the customer blocked us"; the status word is kept so the
        // server can log it (and a later send gets 403, classified as agent-must-act).
        let status = member
            .pointer("/new_chat_member/status")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let platform_type = match status {
            "kicked" => "my_chat_member:blocked".to_owned(),
            "member" => "my_chat_member:unblocked".to_owned(),
            other => format!("my_chat_member:{other}"),
        };
        return Ok(vec![InboundEvent::Unhandled {
            account: Some(account.clone()),
            platform_type,
        }]);
    }
    let platform_type = fields
        .keys()
        .find(|k| k.as_str() != "update_id")
        .cloned()
        .unwrap_or_else(|| "empty_update".to_owned());
    Ok(vec![InboundEvent::Unhandled {
        account: Some(account.clone()),
        platform_type,
    }])
}

/// An integer or string id as text (Telegram ids fit in 52 bits, but never go through f64).
fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn str_at(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn unix_seconds(v: Option<&Value>) -> Result<Timestamp, ChannelError> {
    let secs = v
        .and_then(Value::as_i64)
        .ok_or_else(|| ChannelError::malformed("a message has a unix `date`"))?;
    Timestamp::from_unix_timestamp(secs).map_err(ChannelError::malformed)
}

/// `"{chat.id}:{message_id}"` of a Message object.
fn message_id(message: &Value) -> Result<String, ChannelError> {
    let chat = id_text(message.pointer("/chat/id"))
        .ok_or_else(|| ChannelError::malformed("a message has `chat.id`"))?;
    let id = id_text(message.get("message_id"))
        .ok_or_else(|| ChannelError::malformed("a message has `message_id`"))?;
    Ok(format!("{chat}:{id}"))
}

/// The customer: the sending user, else (channel posts, anonymous admins) the chat.
fn contact(user: Option<&Value>, chat: Option<&Value>) -> Result<ExternalContact, ChannelError> {
    let who = user
        .filter(|u| u.get("id").is_some())
        .or(chat)
        .ok_or_else(|| ChannelError::malformed("a message has `from` or `chat`"))?;
    let external_id =
        id_text(who.get("id")).ok_or_else(|| ChannelError::malformed("a user has an `id`"))?;
    let name = [str_at(who, "/first_name"), str_at(who, "/last_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let display_name = if name.is_empty() {
        str_at(who, "/title")
    } else {
        Some(name)
    };
    Ok(ExternalContact {
        external_id,
        display_name,
        username: str_at(who, "/username"),
        phone: None,
    })
}

fn media(kind: MediaKind, object: &Value, caption: Option<String>) -> Option<MessageContent> {
    let file_id = str_at(object, "/file_id")?;
    Some(MessageContent::Media {
        kind,
        media: MediaRef::PlatformId(file_id),
        mime_type: str_at(object, "/mime_type"),
        caption,
        filename: str_at(object, "/file_name"),
        sha256: None,
    })
}

/// What a Message carries; the first field found decides (Bot API, "Message").
fn content(message: &Value) -> MessageContent {
    let caption = str_at(message, "/caption");
    if let Some(body) = str_at(message, "/text") {
        // Commands such as /start arrive as text; the text is kept as written.
        return MessageContent::Text { body };
    }
    if let Some(sizes) = message.get("photo").and_then(Value::as_array) {
        // Telegram sends every size it made; keep the largest.
        let largest = sizes.iter().max_by_key(|s| {
            let w = s.get("width").and_then(Value::as_u64).unwrap_or(0);
            let h = s.get("height").and_then(Value::as_u64).unwrap_or(0);
            w.saturating_mul(h)
        });
        if let Some(found) = largest.and_then(|p| media(MediaKind::Image, p, caption.clone())) {
            return found;
        }
    }
    // `animation` comes with a `document` too: look at it first so a GIF plays as video.
    let kinds = [
        ("animation", MediaKind::Video),
        ("video", MediaKind::Video),
        ("video_note", MediaKind::Video),
        ("audio", MediaKind::Audio),
        ("voice", MediaKind::Audio),
        ("document", MediaKind::Document),
        ("sticker", MediaKind::Sticker),
    ];
    for (field, kind) in kinds {
        if let Some(found) = message
            .get(field)
            .and_then(|o| media(kind, o, caption.clone()))
        {
            return found;
        }
    }
    if let Some(venue) = message.get("venue")
        && let Some(MessageContent::Location {
            latitude,
            longitude,
            ..
        }) = venue.get("location").and_then(location)
    {
        return MessageContent::Location {
            latitude,
            longitude,
            name: str_at(venue, "/title"),
            address: str_at(venue, "/address"),
        };
    }
    if let Some(found) = message.get("location").and_then(location) {
        return found;
    }
    if let Some(card) = message.get("contact") {
        let name = [str_at(card, "/first_name"), str_at(card, "/last_name")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        return MessageContent::Contacts {
            cards: vec![ContactCard {
                name,
                phones: str_at(card, "/phone_number").into_iter().collect(),
                emails: Vec::new(),
            }],
        };
    }
    let known = [
        "poll",
        "dice",
        "game",
        "story",
        "invoice",
        "new_chat_members",
        "left_chat_member",
        "pinned_message",
    ];
    let platform_type = known
        .into_iter()
        .find(|k| message.get(*k).is_some())
        .unwrap_or("unknown");
    MessageContent::Unsupported {
        platform_type: platform_type.to_owned(),
    }
}

fn location(v: &Value) -> Option<MessageContent> {
    Some(MessageContent::Location {
        latitude: v.get("latitude")?.as_f64()?,
        longitude: v.get("longitude")?.as_f64()?,
        name: None,
        address: None,
    })
}

fn read_message(message: &Value, account: &AccountRef) -> Result<InboundMessage, ChannelError> {
    let reply_to = message
        .get("reply_to_message")
        .and_then(|r| message_id(r).ok());
    Ok(InboundMessage {
        account: account.clone(),
        external_id: message_id(message)?,
        contact: contact(message.get("from"), message.get("chat"))?,
        sent_at: unix_seconds(message.get("date"))?,
        content: content(message),
        reply_to,
        referral: None,
    })
}

/// A tap on an inline-keyboard button: its `callback_data`, titled with the button's text when
/// the keyboard is still on the message.
fn read_callback_query(query: &Value, account: &AccountRef) -> Result<InboundEvent, ChannelError> {
    let id = str_at(query, "/id").ok_or_else(|| ChannelError::malformed("a callback has `id`"))?;
    let data = str_at(query, "/data").unwrap_or_default();
    let message = query.get("message");
    let title = message
        .and_then(|m| m.pointer("/reply_markup/inline_keyboard"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .find(|b| b.get("callback_data").and_then(Value::as_str) == Some(data.as_str()))
        .and_then(|b| str_at(b, "/text"))
        .unwrap_or_else(|| data.clone());
    // A callback query carries no date of its own; the keyboard message's is the nearest.
    let sent_at = message
        .map(|m| unix_seconds(m.get("date")))
        .transpose()?
        .unwrap_or(Timestamp::UNIX_EPOCH);
    Ok(InboundEvent::Message(InboundMessage {
        account: account.clone(),
        external_id: format!("callback:{id}"),
        contact: contact(query.get("from"), message.and_then(|m| m.get("chat")))?,
        sent_at,
        content: MessageContent::Interactive {
            reply_id: data,
            title,
        },
        reply_to: message.and_then(|m| message_id(m).ok()),
        referral: None,
    }))
}

fn method_url(target: &SendTarget<'_>, method: &str) -> String {
    format!(
        "{}/bot{}/{method}",
        target.base_url.trim_end_matches('/'),
        target.token.expose_secret()
    )
}

fn post(target: &SendTarget<'_>, method: &str, body: Value) -> HttpRequest {
    HttpRequest {
        method: http::Method::POST,
        url: method_url(target, method),
        headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
        body: Some(body),
    }
}

/// A chat id as the Bot API takes it: an integer, or `@channelusername`.
fn chat_id(to: &str) -> Value {
    to.parse::<i64>().map_or_else(|_| json!(to), |n| json!(n))
}

/// `sendMessage` for text, `sendPhoto`/`sendAudio`/`sendVideo`/`sendDocument`/`sendSticker`
/// with a URL Telegram fetches itself. Templates are WhatsApp's: refused.
pub fn build_send(
    target: &SendTarget<'_>,
    msg: &OutboundMessage,
) -> Result<HttpRequest, ChannelError> {
    let mut body = serde_json::Map::new();
    body.insert("chat_id".to_owned(), chat_id(&msg.to));
    let method = match &msg.content {
        OutboundContent::Text { body: text } => {
            body.insert("text".to_owned(), json!(text));
            "sendMessage"
        }
        OutboundContent::Media {
            kind, url, caption, ..
        } => {
            let (method, field) = match kind {
                MediaKind::Image => ("sendPhoto", "photo"),
                MediaKind::Audio => ("sendAudio", "audio"),
                MediaKind::Video => ("sendVideo", "video"),
                MediaKind::Document => ("sendDocument", "document"),
                MediaKind::Sticker => ("sendSticker", "sticker"),
            };
            body.insert(field.to_owned(), json!(url));
            if let Some(caption) = caption {
                body.insert("caption".to_owned(), json!(caption));
            }
            method
        }
        OutboundContent::Template { .. } => {
            return Err(ChannelError::CannotSend(
                "Telegram has no message templates; send text instead".to_owned(),
            ));
        }
    };
    if let Some(reply_to) = &msg.reply_to {
        // Our ids are "{chat}:{message}"; the Bot API wants the message number alone.
        let number = reply_to.rsplit(':').next().unwrap_or(reply_to);
        if let Ok(n) = number.parse::<i64>() {
            body.insert("reply_parameters".to_owned(), json!({ "message_id": n }));
        }
    }
    Ok(post(target, method, Value::Object(body)))
}

/// Registers the webhook, with the secret Telegram echoes back in every update's header.
pub fn set_webhook_request(
    target: &SendTarget<'_>,
    url: &str,
    secret: &SecretString,
) -> HttpRequest {
    post(
        target,
        "setWebhook",
        json!({
            "url": url,
            "secret_token": secret.expose_secret(),
            "allowed_updates": ALLOWED_UPDATES,
        }),
    )
}

/// Removes the webhook when the connection is disconnected.
pub fn delete_webhook_request(target: &SendTarget<'_>) -> HttpRequest {
    post(
        target,
        "deleteWebhook",
        json!({ "drop_pending_updates": true }),
    )
}

/// Stops the spinner on the customer's button after a tap (`answerCallbackQuery`): takes
/// the tap's message id as [`parse`] made it (`callback:<id>`), `None` for any other id.
pub fn answer_callback_request(target: &SendTarget<'_>, external_id: &str) -> Option<HttpRequest> {
    let id = external_id.strip_prefix("callback:")?;
    Some(post(
        target,
        "answerCallbackQuery",
        json!({ "callback_query_id": id }),
    ))
}

/// `getMe`: "test connection" (a bad token answers 401).
pub fn get_me_request(target: &SendTarget<'_>) -> HttpRequest {
    HttpRequest {
        method: http::Method::GET,
        url: method_url(target, "getMe"),
        headers: Vec::new(),
        body: None,
    }
}

/// `getFile`: the first step of a media download; its answer names the `file_path`.
pub fn get_file_request(target: &SendTarget<'_>, file_id: &str) -> HttpRequest {
    post(target, "getFile", json!({ "file_id": file_id }))
}

/// The `file_path` from a `getFile` answer.
pub fn read_file_path(body: &[u8]) -> Result<String, ChannelError> {
    let answer: Value = serde_json::from_slice(body).map_err(ChannelError::malformed)?;
    str_at(&answer, "/result/file_path")
        .filter(|_| answer.get("ok").and_then(Value::as_bool) == Some(true))
        .ok_or_else(|| ChannelError::malformed("getFile answered without `result.file_path`"))
}

/// Where a file is downloaded from (Bot API, "getFile"). Carries the token: never log it.
pub fn file_download_url(base: &str, token: &SecretString, file_path: &str) -> String {
    format!(
        "{}/file/bot{}/{}",
        base.trim_end_matches('/'),
        token.expose_secret(),
        file_path.trim_start_matches('/')
    )
}

/// The sent message's id (`"{chat_id}:{message_id}"`), or why it failed.
pub fn read_send_response(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<String, SendFailure> {
    let answer: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(answer) = &answer
        && answer.get("ok").and_then(Value::as_bool) == Some(true)
        && let Ok(id) = answer
            .get("result")
            .map_or_else(|| Err(ChannelError::malformed("no result")), message_id)
    {
        return Ok(id);
    }
    let code = answer
        .as_ref()
        .and_then(|a| a.get("error_code"))
        .and_then(Value::as_u64)
        .unwrap_or(u64::from(status.as_u16()));
    let description = answer
        .as_ref()
        .and_then(|a| str_at(a, "/description"))
        .unwrap_or_else(|| format!("Telegram answered HTTP {}", status.as_u16()));
    let retry_after = answer
        .as_ref()
        .and_then(|a| a.pointer("/parameters/retry_after"))
        .and_then(Value::as_u64)
        .or_else(|| header(headers, "retry-after").and_then(|v| v.trim().parse().ok()))
        .map(Duration::from_secs);
    let (class, reason) = match code {
        429 => (
            FailureClass::RetryLater,
            "Telegram is rate limiting the bot; the message will be retried.".to_owned(),
        ),
        403 => (
            FailureClass::AgentMustAct,
            "The customer blocked the bot; they must unblock it before messages can reach them."
                .to_owned(),
        ),
        401 | 404 => (
            FailureClass::ConnectionBroken,
            "Telegram rejected the bot token; reconnect the Telegram channel with a valid token."
                .to_owned(),
        ),
        500..=599 => (
            FailureClass::RetryLater,
            "Telegram is unavailable; the message will be retried.".to_owned(),
        ),
        200..=299 => (
            FailureClass::AgentMustAct,
            "Telegram's answer did not name the sent message; check the conversation in Telegram."
                .to_owned(),
        ),
        _ => (
            FailureClass::AgentMustAct,
            format!("Telegram refused the message: {description}"),
        ),
    };
    Err(SendFailure {
        class,
        code: code.to_string(),
        reason,
        retry_after,
    })
}
