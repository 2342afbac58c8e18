//! TikTok Business Messaging: the `TikTok-Signature` webhook header, the `im_*` webhooks to
//! normalized events, the `business/message/send/` call and its `{code, message}` answer.
//!
//! Invariants: every id stays a string (a 19-digit id does not survive an `f64`, so numbers
//! are copied digit for digit and never read as floats); the envelope's `content` is a JSON
//! string, parsed in a second step. The customer is identified by the TikTok
//! `conversation_id`: replies are addressed to it (`recipient_type: CONVERSATION`), so it is
//! what `OutboundMessage::to` must carry; the handle (`from`) becomes the username.

use crate::{ChannelError, FailureClass, HttpRequest, SendFailure, SendTarget, header};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard_core::Timestamp;
use switchboard_core::channel::{
    AccountRef, ChannelKind, DeliveryStatus, ExternalContact, InboundEvent, InboundMessage,
    MediaKind, MediaRef, MessageContent, OutboundContent, OutboundMessage,
};

pub const SIGNATURE_HEADER: &str = "tiktok-signature";

/// How far a signature's `t` may be from `now` before it counts as a replay.
pub const SIGNATURE_TOLERANCE: time::Duration = time::Duration::minutes(5);

/// The send endpoint, below the configured base URL (TikTok API for Business v1.3).
pub const SEND_PATH: &str = "/open_api/v1.3/business/message/send/";
/// Exchanges a received image's `media_id` for a download URL.
pub const BUSINESS_GET_PATH: &str = "/open_api/v1.3/business/get/";
pub const MEDIA_DOWNLOAD_PATH: &str = "/open_api/v1.3/business/message/media/download/";

fn mac(secret: &SecretString, t: &str, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()).ok()?;
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// Verifies `TikTok-Signature: t=<unix seconds>,s=<hex HMAC-SHA256 of "<t>." + body>`, refusing
/// a `t` more than five minutes from `now` (a captured request cannot be replayed later).
pub fn verify(
    headers: &http::HeaderMap,
    body: &[u8],
    client_secret: &SecretString,
    now: Timestamp,
) -> Result<(), ChannelError> {
    let value = header(headers, SIGNATURE_HEADER)
        .ok_or(ChannelError::MissingSignature("TikTok-Signature"))?;
    let mut t = None;
    let mut s = None;
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v),
            Some(("s", v)) => s = Some(v),
            _ => {}
        }
    }
    let (Some(t), Some(s)) = (t, s) else {
        return Err(ChannelError::InvalidSignature);
    };
    let signed_at = t
        .parse::<i64>()
        .ok()
        .and_then(|secs| Timestamp::from_unix_timestamp(secs).ok())
        .ok_or(ChannelError::InvalidSignature)?;
    if (now - signed_at).abs() > SIGNATURE_TOLERANCE {
        return Err(ChannelError::StaleSignature);
    }
    let expected = hex::decode(s).map_err(|_| ChannelError::InvalidSignature)?;
    mac(client_secret, t, body)
        .ok_or(ChannelError::InvalidSignature)?
        .verify_slice(&expected)
        .map_err(|_| ChannelError::InvalidSignature)
}

/// The header value TikTok would send for `body` at unix second `t`; for the simulator and
/// tests.
pub fn sign(body: &[u8], client_secret: &SecretString, t: i64) -> String {
    let t = t.to_string();
    match mac(client_secret, &t, body) {
        Some(mac) => format!("t={t},s={}", hex::encode(mac.finalize().into_bytes())),
        None => String::new(),
    }
}

/// An id as text, digit for digit: strings as they are, numbers from their JSON text.
fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn str_at(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn from_millis(v: Option<&Value>) -> Option<Timestamp> {
    let ms = v?.as_i64()?;
    Timestamp::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// Turns one webhook into events.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ChannelError> {
    let envelope: Value = serde_json::from_slice(body).map_err(ChannelError::malformed)?;
    let event = str_at(&envelope, "/event")
        .ok_or_else(|| ChannelError::malformed("a TikTok webhook names its `event`"))?;
    // The business the webhook is about (the connection's TikTok account).
    let account = id_text(envelope.get("user_openid")).map(|account_id| AccountRef {
        kind: ChannelKind::TikTok,
        account_id,
    });
    let unhandled = |platform_type: String| InboundEvent::Unhandled {
        account: account.clone(),
        platform_type,
    };
    if !matches!(
        event.as_str(),
        "im_receive_msg" | "im_send_msg" | "im_mark_read_msg"
    ) {
        return Ok(vec![unhandled(event)]);
    }
    let account = account
        .clone()
        .ok_or_else(|| ChannelError::malformed("a TikTok message webhook has `user_openid`"))?;
    let content: Value = match envelope.get("content") {
        Some(Value::String(text)) => serde_json::from_str(text).map_err(ChannelError::malformed)?,
        // Tolerate an already-decoded object.
        Some(object @ Value::Object(_)) => object.clone(),
        _ => {
            return Err(ChannelError::malformed(
                "a TikTok webhook has a `content` string",
            ));
        }
    };
    let conversation = str_at(&content, "/conversation_id")
        .ok_or_else(|| ChannelError::malformed("TikTok content has `conversation_id`"))?;
    match event.as_str() {
        "im_mark_read_msg" => {
            let reader = id_text(content.pointer("/from_user/id"));
            if reader.as_deref() == Some(account.account_id.as_str()) {
                // The business read the customer's messages: nothing to record.
                return Ok(vec![unhandled("im_mark_read_msg:business".to_owned())]);
            }
            let up_to = from_millis(content.pointer("/read/last_read_timestamp"))
                .ok_or_else(|| ChannelError::malformed("a read has `last_read_timestamp`"))?;
            Ok(vec![InboundEvent::Watermark {
                account,
                contact_id: conversation,
                status: DeliveryStatus::Read,
                up_to,
            }])
        }
        _ => {
            let echo = event == "im_send_msg";
            // For an echo the customer is the recipient.
            let handle = if echo {
                str_at(&content, "/to")
            } else {
                str_at(&content, "/from")
            };
            let message = InboundMessage {
                account,
                external_id: id_text(content.get("message_id"))
                    .ok_or_else(|| ChannelError::malformed("TikTok content has `message_id`"))?,
                contact: ExternalContact {
                    external_id: conversation,
                    display_name: handle.clone(),
                    username: handle,
                    phone: None,
                },
                sent_at: from_millis(content.get("timestamp"))
                    .or_else(|| {
                        envelope
                            .get("create_time")
                            .and_then(Value::as_i64)
                            .and_then(|s| Timestamp::from_unix_timestamp(s).ok())
                    })
                    .ok_or_else(|| ChannelError::malformed("TikTok content has `timestamp`"))?,
                content: message_content(&content),
                reply_to: id_text(
                    content.pointer("/referenced_message_info/referenced_message_id"),
                ),
                referral: None,
            };
            Ok(vec![if echo {
                InboundEvent::Echo(message)
            } else {
                InboundEvent::Message(message)
            }])
        }
    }
}

fn message_content(content: &Value) -> MessageContent {
    let kind = str_at(content, "/type").unwrap_or_else(|| "unknown".to_owned());
    let found = match kind.as_str() {
        "text" => str_at(content, "/text/body").map(|body| MessageContent::Text { body }),
        "image" => id_text(content.pointer("/image/media_id")).map(|id| MessageContent::Media {
            kind: MediaKind::Image,
            media: MediaRef::PlatformId(id),
            mime_type: None,
            caption: None,
            filename: None,
            sha256: None,
        }),
        "share_post" | "share_video" => {
            let post = content.get(kind.as_str());
            let url = post.and_then(|p| str_at(p, "/embed_url")).or_else(|| {
                post.and_then(|p| id_text(p.get("video_id")))
                    .map(|id| format!("https://www.tiktok.com/embed/v2/{id}"))
            });
            Some(MessageContent::SharedPost { url, text: None })
        }
        _ => None,
    };
    found.unwrap_or(MessageContent::Unsupported {
        platform_type: kind,
    })
}

fn request(target: &SendTarget<'_>, path: &str, body: Value) -> HttpRequest {
    HttpRequest {
        method: http::Method::POST,
        url: format!("{}{path}", target.base_url.trim_end_matches('/')),
        headers: vec![
            (
                "Access-Token".to_owned(),
                target.token.expose_secret().to_owned(),
            ),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ],
        body: Some(body),
    }
}

/// "Test connection": `GET /business/get/` for the business account, with `Access-Token`;
/// `code` 0 means the token works for it.
pub fn business_request(target: &SendTarget<'_>) -> HttpRequest {
    let query = serde_urlencoded_pair("business_id", target.account_id);
    HttpRequest {
        method: http::Method::GET,
        url: format!(
            "{}{BUSINESS_GET_PATH}?{query}",
            target.base_url.trim_end_matches('/')
        ),
        headers: vec![(
            "Access-Token".to_owned(),
            target.token.expose_secret().to_owned(),
        )],
        body: None,
    }
}

/// `name=value` with the value percent-encoded (ids are digits, but never trusted to be).
fn serde_urlencoded_pair(name: &str, value: &str) -> String {
    let mut out = format!("{name}=");
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A text message to a conversation. Images are sent by an uploaded `media_id` (a multipart
/// upload first), not by URL, so media is refused here until the upload step exists.
pub fn build_send(
    target: &SendTarget<'_>,
    msg: &OutboundMessage,
) -> Result<HttpRequest, ChannelError> {
    let text = match &msg.content {
        OutboundContent::Text { body } => body,
        OutboundContent::Media { .. } => {
            return Err(ChannelError::CannotSend(
                "TikTok takes images as uploaded media, not by URL; send a link as text".to_owned(),
            ));
        }
        OutboundContent::Template { .. } => {
            return Err(ChannelError::CannotSend(
                "TikTok has no message templates; reply while the 48-hour window is open"
                    .to_owned(),
            ));
        }
    };
    let mut body = json!({
        "business_id": target.account_id,
        "recipient_type": "CONVERSATION",
        "recipient": msg.to,
        "message_type": "TEXT",
        "text": { "body": text },
    });
    if let (Some(reply_to), Some(fields)) = (&msg.reply_to, body.as_object_mut()) {
        fields.insert(
            "referenced_message_info".to_owned(),
            json!({ "referenced_message_id": reply_to }),
        );
    }
    Ok(request(target, SEND_PATH, body))
}

/// Asks for a download URL of a received image (`MediaRef::PlatformId`).
pub fn media_download_request(
    target: &SendTarget<'_>,
    conversation_id: &str,
    message_id: &str,
    media_id: &str,
) -> HttpRequest {
    request(
        target,
        MEDIA_DOWNLOAD_PATH,
        json!({
            "business_id": target.account_id,
            "conversation_id": conversation_id,
            "message_id": message_id,
            "media_id": media_id,
            "media_type": "IMAGE",
        }),
    )
}

/// The `data.download_url` of a media download answer.
pub fn read_media_download_url(body: &[u8]) -> Result<String, ChannelError> {
    let answer: Value = serde_json::from_slice(body).map_err(ChannelError::malformed)?;
    str_at(&answer, "/data/download_url")
        .filter(|_| answer.get("code").and_then(Value::as_i64) == Some(0))
        .ok_or_else(|| ChannelError::malformed("no `data.download_url` in TikTok's answer"))
}

const WINDOW_CLOSED: &str = "The customer last wrote more than 48 hours ago; \
    TikTok accepts a reply only after they write again.";
const WINDOW_CAP: &str = "TikTok allows no more messages in this conversation for now \
    (its per-window cap); wait for the customer to write again.";
/// How a refusal's `message` names the closed window when its code does not.
const WINDOW_WORDS: [&str; 3] = ["48-hour", "48 hour", "window"];

/// The sent message's id, or why it failed.
///
/// Codes from TikTok API for Business's return codes as the Business Messaging partners list
/// them: 40100 and 42900 rate limits, 5xxxx TikTok-side trouble, 40001, 40102, 40104, 40105
/// permission and token problems, 40064 messaging restrictions (the per-window cap). The
/// window-closed answer has no code of its own that we could find documented, so its
/// `message` is read too.
pub fn read_send_response(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<String, SendFailure> {
    let answer: Option<Value> = serde_json::from_slice(body).ok();
    let code = answer
        .as_ref()
        .and_then(|a| a.get("code"))
        .and_then(Value::as_i64);
    if status.is_success()
        && code == Some(0)
        && let Some(id) = answer
            .as_ref()
            .and_then(|a| id_text(a.pointer("/data/message/message_id")))
    {
        return Ok(id);
    }
    let message = answer
        .as_ref()
        .and_then(|a| str_at(a, "/message"))
        .unwrap_or_else(|| format!("TikTok answered HTTP {}", status.as_u16()));
    let retry_after = header(headers, "retry-after")
        .and_then(|v| v.trim().parse().ok())
        .map(std::time::Duration::from_secs);
    let lowered = message.to_lowercase();
    let (class, reason) = match code {
        _ if status == http::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() => (
            FailureClass::RetryLater,
            "TikTok is busy or rate limiting; the message will be retried.".to_owned(),
        ),
        _ if matches!(status.as_u16(), 401 | 403) => (
            FailureClass::ConnectionBroken,
            "TikTok refused the connection's access token; reconnect the TikTok channel."
                .to_owned(),
        ),
        Some(40100 | 42900) => (
            FailureClass::RetryLater,
            "TikTok is rate limiting this account; the message will be retried.".to_owned(),
        ),
        Some(50000..=59999) => (
            FailureClass::RetryLater,
            "TikTok had a temporary problem; the message will be retried.".to_owned(),
        ),
        Some(40001 | 40102 | 40104 | 40105) => (
            FailureClass::ConnectionBroken,
            format!(
                "TikTok refused the connection's access token or permissions ({message}); reconnect the TikTok channel."
            ),
        ),
        Some(40064) => (FailureClass::AgentMustAct, WINDOW_CAP.to_owned()),
        _ if WINDOW_WORDS.iter().any(|w| lowered.contains(w)) => {
            (FailureClass::AgentMustAct, WINDOW_CLOSED.to_owned())
        }
        Some(0) => (
            FailureClass::AgentMustAct,
            "TikTok's answer did not name the sent message; check the conversation in TikTok."
                .to_owned(),
        ),
        _ => (
            FailureClass::AgentMustAct,
            format!("TikTok refused the message: {message}"),
        ),
    };
    Err(SendFailure {
        class,
        code: code.map_or_else(|| status.as_u16().to_string(), |c| c.to_string()),
        reason,
        retry_after,
    })
}
