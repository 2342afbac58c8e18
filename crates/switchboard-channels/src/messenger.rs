//! Facebook Messenger, and the Messenger Platform envelope that Instagram Messaging shares.
//!
//! Both platforms deliver `{"object", "entry": [{"id", "time", "messaging": [..]}]}` with the
//! same messaging items (messages, echoes, postbacks, reactions, delivery and read receipts,
//! referrals) and both send through `POST /{account-id}/messages`; that common part lives here
//! once and `instagram.rs` adds what is Instagram's own (comments, comment moderation).
//!
//! Invariants: every messaging item and every change becomes at least one event (unknown ones
//! `Unhandled`); a message with several attachments becomes one message per attachment, the
//! first keeping the platform's `mid` and the others `mid#n`, so a redelivery yields the same
//! ids; events that carry no id of their own (reactions, postbacks without `mid`) get one
//! derived from the sender and the platform's timestamp, stable across redeliveries.

use crate::meta::{self, GRAPH_API_VERSION, GraphError};
use crate::{ChannelError, FailureClass, HttpRequest, SendFailure, SendTarget};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use switchboard_core::Timestamp;
use switchboard_core::channel::{
    AccountRef, ChannelKind, DeliveryStatus, ExternalContact, InboundEvent, InboundMessage,
    MediaKind, MediaRef, MessageContent, MessageTag, OutboundContent, OutboundMessage, Referral,
    StatusUpdate,
};

/// Checks `X-Hub-Signature-256` against the raw body.
pub fn verify(
    headers: &http::HeaderMap,
    body: &[u8],
    app_secret: &SecretString,
) -> Result<(), ChannelError> {
    meta::verify(headers, body, app_secret)
}

/// Parses a Messenger webhook (`object: "page"`) into normalized events.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ChannelError> {
    parse_envelope(
        body,
        ChannelKind::Messenger,
        "page",
        |account, _at, change| Ok(unhandled(account, &change.field)),
    )
}

/// `POST {base}/v21.0/{page-id}/messages` (Messenger Send API).
pub fn build_send(
    target: &SendTarget<'_>,
    msg: &OutboundMessage,
) -> Result<HttpRequest, ChannelError> {
    build_messages_request(target, msg, "Messenger")
}

/// The message id from a Send API answer, or the failure classified.
pub fn read_send_response(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<String, SendFailure> {
    read_graph_send_response(status, headers, body, "Messenger")
}

// ---------------------------------------------------------------------------------------------
// The shared Messenger Platform envelope.

#[derive(Deserialize)]
struct Envelope {
    object: String,
    #[serde(default)]
    entry: Option<Vec<Entry>>,
}

#[derive(Deserialize)]
struct Entry {
    id: Id,
    #[serde(default)]
    time: Option<Time>,
    #[serde(default)]
    messaging: Option<Vec<Messaging>>,
    /// Items for threads another app owns (handover protocol); same shape as `messaging`.
    #[serde(default)]
    standby: Option<Vec<Messaging>>,
    #[serde(default)]
    changes: Option<Vec<Change>>,
}

/// One `changes[]` item: Instagram comments, Page feed changes and the like.
#[derive(Deserialize)]
pub(crate) struct Change {
    pub field: String,
    #[serde(default)]
    pub value: Value,
}

/// A Graph id, which Meta sends as a string but some fields (`app_id`, `sticker_id`) as a
/// number; kept as text either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Unsigned(u64),
            Signed(i64),
        }
        Ok(Id(match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Unsigned(n) => n.to_string(),
            Raw::Signed(n) => n.to_string(),
        }))
    }
}

/// A Meta time, normally a JSON number; the App Dashboard's test notifications send it as a
/// string of digits, which is accepted too.
#[derive(Debug, Clone, Copy)]
struct Time(i64);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Time(n)),
            Raw::Text(s) => s
                .parse()
                .map(Time)
                .map_err(|_| serde::de::Error::custom("a time is not a number")),
        }
    }
}

#[derive(Deserialize)]
struct Party {
    #[serde(default)]
    id: Option<Id>,
    /// Sent instead of `id` for people who have not started a thread (chat plugin guests).
    #[serde(default)]
    user_ref: Option<Id>,
}

#[derive(Deserialize)]
struct Messaging {
    #[serde(default)]
    sender: Option<Party>,
    #[serde(default)]
    recipient: Option<Party>,
    #[serde(default)]
    timestamp: Option<Time>,
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    message_edit: Option<MessageEdit>,
    #[serde(default)]
    postback: Option<Postback>,
    #[serde(default)]
    reaction: Option<Reaction>,
    #[serde(default)]
    delivery: Option<Delivery>,
    #[serde(default)]
    read: Option<Read>,
    #[serde(default)]
    referral: Option<ReferralIn>,
    /// Everything else (`optin`, `account_linking`, handover events, ...), named in `Unhandled`.
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct Message {
    mid: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    attachments: Option<Vec<Attachment>>,
    #[serde(default)]
    quick_reply: Option<QuickReply>,
    #[serde(default)]
    reply_to: Option<ReplyTo>,
    #[serde(default)]
    is_echo: Option<bool>,
    /// Instagram: the customer unsent the message.
    #[serde(default)]
    is_deleted: Option<bool>,
    /// Instagram: a message type the API does not deliver.
    #[serde(default)]
    is_unsupported: Option<bool>,
    #[serde(default)]
    referral: Option<ReferralIn>,
}

#[derive(Deserialize)]
struct Attachment {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Option<AttachmentPayload>,
    /// Older fallback and location attachments carry these beside the payload.
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize, Default)]
struct AttachmentPayload {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    sticker_id: Option<Id>,
    #[serde(default)]
    coordinates: Option<Coordinates>,
}

#[derive(Deserialize)]
struct Coordinates {
    lat: f64,
    long: f64,
}

#[derive(Deserialize)]
struct QuickReply {
    payload: String,
}

#[derive(Deserialize)]
struct ReplyTo {
    #[serde(default)]
    mid: Option<String>,
    /// Instagram: a reply to the business's story.
    #[serde(default)]
    story: Option<Story>,
}

#[derive(Deserialize)]
struct Story {
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct MessageEdit {
    mid: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Postback {
    #[serde(default)]
    mid: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    payload: Option<String>,
    #[serde(default)]
    referral: Option<ReferralIn>,
}

#[derive(Deserialize)]
struct Reaction {
    mid: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    reaction: Option<String>,
    #[serde(default)]
    emoji: Option<String>,
}

#[derive(Deserialize)]
struct Delivery {
    watermark: i64,
}

#[derive(Deserialize)]
struct Read {
    /// Messenger: everything up to this time was read.
    #[serde(default)]
    watermark: Option<i64>,
    /// Instagram (`messaging_seen`): the one message that was read.
    #[serde(default)]
    mid: Option<String>,
}

#[derive(Deserialize)]
struct ReferralIn {
    #[serde(default, rename = "ref")]
    reference: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    ad_id: Option<Id>,
    #[serde(default)]
    referer_uri: Option<String>,
    #[serde(default)]
    ads_context_data: Option<AdsContext>,
}

#[derive(Deserialize)]
struct AdsContext {
    #[serde(default)]
    ad_title: Option<String>,
    #[serde(default)]
    photo_url: Option<String>,
    #[serde(default)]
    video_url: Option<String>,
}

impl ReferralIn {
    fn normalize(self) -> Referral {
        let ads = self.ads_context_data;
        let ad_id = self.ad_id.map(|id| id.0);
        let (source_id, body) = match ad_id {
            Some(ad) => (Some(ad), self.reference),
            None => (self.reference, None),
        };
        Referral {
            source_type: self.source,
            source_id,
            source_url: ads
                .as_ref()
                .and_then(|a| a.photo_url.clone().or_else(|| a.video_url.clone()))
                .or(self.referer_uri),
            headline: ads.and_then(|a| a.ad_title),
            body,
        }
    }
}

/// Parses a Messenger Platform webhook whose `object` must be `object`; `on_change` turns
/// each `changes[]` item into an event (the platform's own part).
pub(crate) fn parse_envelope(
    body: &[u8],
    kind: ChannelKind,
    object: &str,
    on_change: impl Fn(&AccountRef, Option<i64>, Change) -> Result<InboundEvent, ChannelError>,
) -> Result<Vec<InboundEvent>, ChannelError> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(ChannelError::malformed)?;
    if envelope.object != object {
        return Err(ChannelError::Malformed(format!(
            "expected object `{object}`, got `{}`",
            envelope.object
        )));
    }
    let mut out = Vec::new();
    let mut referrals = PendingReferrals::default();
    for entry in envelope.entry.unwrap_or_default() {
        let account = AccountRef {
            kind,
            account_id: entry.id.0,
        };
        let time = entry.time.map(|t| t.0);
        let items = entry
            .messaging
            .unwrap_or_default()
            .into_iter()
            .chain(entry.standby.unwrap_or_default());
        for item in items {
            messaging_events(&account, time, item, &mut out, &mut referrals)?;
        }
        for change in entry.changes.unwrap_or_default() {
            // Instagram's dashboard test notifications (and some deliveries) put a messaging
            // item in a `messages` change instead of `messaging[]`.
            if change.field == "messages" {
                let item: Messaging =
                    serde_json::from_value(change.value).map_err(ChannelError::malformed)?;
                messaging_events(&account, time, item, &mut out, &mut referrals)?;
            } else {
                out.push(on_change(&account, time, change)?);
            }
        }
    }
    Ok(referrals.apply(out))
}

/// A stand-alone `referral` (m.me link, ad) waits for the same person's next message in the
/// same request; if none comes it stays an `Unhandled("referral")`.
#[derive(Default)]
struct PendingReferrals {
    waiting: Vec<(usize, AccountRef, String, Referral)>,
    consumed: Vec<usize>,
}

impl PendingReferrals {
    fn take_for(&mut self, account: &AccountRef, contact: &str) -> Option<Referral> {
        let pos = self
            .waiting
            .iter()
            .position(|(_, a, c, _)| a == account && c == contact)?;
        let (index, _, _, referral) = self.waiting.remove(pos);
        self.consumed.push(index);
        Some(referral)
    }

    fn apply(mut self, events: Vec<InboundEvent>) -> Vec<InboundEvent> {
        self.consumed.sort_unstable();
        events
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.consumed.binary_search(i).is_err())
            .map(|(_, e)| e)
            .collect()
    }
}

pub(crate) fn unhandled(account: &AccountRef, platform_type: &str) -> InboundEvent {
    InboundEvent::Unhandled {
        account: Some(account.clone()),
        platform_type: platform_type.to_owned(),
    }
}

fn party_id(party: Option<Party>, role: &str) -> Result<String, ChannelError> {
    party
        .and_then(|p| p.id.or(p.user_ref))
        .map(|id| id.0)
        .ok_or_else(|| ChannelError::Malformed(format!("a messaging item has no {role} id")))
}

fn contact(id: String) -> ExternalContact {
    ExternalContact {
        external_id: id,
        display_name: None,
        username: None,
        phone: None,
    }
}

fn messaging_events(
    account: &AccountRef,
    entry_time: Option<i64>,
    item: Messaging,
    out: &mut Vec<InboundEvent>,
    referrals: &mut PendingReferrals,
) -> Result<(), ChannelError> {
    let at = item
        .timestamp
        .map(|t| t.0)
        .or(entry_time)
        .map(meta::timestamp)
        .ok_or_else(|| ChannelError::malformed("a messaging item has no timestamp"))?;

    if let Some(message) = item.message {
        if message.is_echo == Some(true) {
            // An echo is the business's own message: the customer is its recipient.
            let customer = party_id(item.recipient, "recipient")?;
            for m in messages_of(account, customer, at, message) {
                out.push(InboundEvent::Echo(m));
            }
            return Ok(());
        }
        let customer = party_id(item.sender, "sender")?;
        if message.is_deleted == Some(true) {
            out.push(InboundEvent::Deleted {
                account: account.clone(),
                external_id: message.mid,
                contact_id: Some(customer),
                at,
            });
            return Ok(());
        }
        let waiting = if message.referral.is_none() {
            referrals.take_for(account, &customer)
        } else {
            None
        };
        for (i, mut m) in messages_of(account, customer, at, message)
            .into_iter()
            .enumerate()
        {
            if i == 0 && m.referral.is_none() {
                m.referral = waiting.clone();
            }
            out.push(InboundEvent::Message(m));
        }
        return Ok(());
    }

    if let Some(edit) = item.message_edit {
        let customer = party_id(item.sender, "sender")?;
        out.push(InboundEvent::Edited(InboundMessage {
            account: account.clone(),
            external_id: edit.mid,
            contact: contact(customer),
            sent_at: at,
            content: MessageContent::Text {
                body: edit.text.unwrap_or_default(),
            },
            reply_to: None,
            referral: None,
        }));
        return Ok(());
    }

    if let Some(postback) = item.postback {
        let customer = party_id(item.sender, "sender")?;
        let external_id = postback.mid.unwrap_or_else(|| {
            format!(
                "postback:{customer}:{}",
                switchboard_core::clock::to_millis(at)
            )
        });
        let reply_id = postback.payload.unwrap_or_default();
        out.push(InboundEvent::Message(InboundMessage {
            account: account.clone(),
            external_id,
            contact: contact(customer),
            sent_at: at,
            content: MessageContent::Interactive {
                title: postback.title.unwrap_or_else(|| reply_id.clone()),
                reply_id,
            },
            reply_to: None,
            referral: postback.referral.map(ReferralIn::normalize),
        }));
        return Ok(());
    }

    if let Some(reaction) = item.reaction {
        let customer = party_id(item.sender, "sender")?;
        let emoji = match reaction.action.as_deref() {
            Some("unreact") => None,
            _ => reaction.emoji.or(reaction.reaction),
        };
        out.push(InboundEvent::Message(InboundMessage {
            account: account.clone(),
            external_id: format!(
                "reaction:{}:{customer}:{}",
                reaction.mid,
                switchboard_core::clock::to_millis(at)
            ),
            contact: contact(customer),
            sent_at: at,
            content: MessageContent::Reaction {
                to_external_id: reaction.mid,
                emoji,
            },
            reply_to: None,
            referral: None,
        }));
        return Ok(());
    }

    if let Some(delivery) = item.delivery {
        out.push(InboundEvent::Watermark {
            account: account.clone(),
            contact_id: party_id(item.sender, "sender")?,
            status: DeliveryStatus::Delivered,
            up_to: meta::timestamp(delivery.watermark),
        });
        return Ok(());
    }

    if let Some(read) = item.read {
        let customer = party_id(item.sender, "sender")?;
        match (read.watermark, read.mid) {
            (Some(watermark), _) => out.push(InboundEvent::Watermark {
                account: account.clone(),
                contact_id: customer,
                status: DeliveryStatus::Read,
                up_to: meta::timestamp(watermark),
            }),
            (None, Some(mid)) => out.push(InboundEvent::Status(StatusUpdate {
                account: account.clone(),
                external_id: mid,
                recipient: Some(customer),
                status: DeliveryStatus::Read,
                at,
                error: None,
            })),
            (None, None) => out.push(unhandled(account, "read")),
        }
        return Ok(());
    }

    if let Some(referral) = item.referral {
        let customer = party_id(item.sender, "sender")?;
        referrals
            .waiting
            .push((out.len(), account.clone(), customer, referral.normalize()));
        out.push(unhandled(account, "referral"));
        return Ok(());
    }

    let name = item
        .other
        .keys()
        .next()
        .map_or("empty messaging item", String::as_str);
    out.push(unhandled(account, name));
    Ok(())
}

/// One message per content: the first keeps the platform's `mid`, the reply-to and the
/// referral; the rest are `mid#1`, `mid#2`, ...
fn messages_of(
    account: &AccountRef,
    customer: String,
    at: Timestamp,
    message: Message,
) -> Vec<InboundMessage> {
    let reply_to = message.reply_to.as_ref().and_then(|r| r.mid.clone());
    let referral = message.referral.map(ReferralIn::normalize);
    let mid = message.mid;
    let contents = contents_of(
        message.text,
        message.attachments.unwrap_or_default(),
        message.quick_reply,
        message.reply_to.and_then(|r| r.story),
        message.is_unsupported == Some(true),
    );
    contents
        .into_iter()
        .enumerate()
        .map(|(i, content)| InboundMessage {
            account: account.clone(),
            external_id: if i == 0 {
                mid.clone()
            } else {
                format!("{mid}#{i}")
            },
            contact: contact(customer.clone()),
            sent_at: at,
            content,
            reply_to: if i == 0 { reply_to.clone() } else { None },
            referral: if i == 0 { referral.clone() } else { None },
        })
        .collect()
}

fn contents_of(
    text: Option<String>,
    attachments: Vec<Attachment>,
    quick_reply: Option<QuickReply>,
    story: Option<Story>,
    unsupported: bool,
) -> Vec<MessageContent> {
    if unsupported {
        return vec![MessageContent::Unsupported {
            platform_type: "is_unsupported".to_owned(),
        }];
    }
    if let Some(story) = story {
        return vec![MessageContent::StoryReply {
            story_url: story.url,
            text: text.unwrap_or_default(),
        }];
    }
    if let Some(qr) = quick_reply {
        return vec![MessageContent::Interactive {
            title: text.unwrap_or_else(|| qr.payload.clone()),
            reply_id: qr.payload,
        }];
    }
    // During Meta's sticker transition a sticker arrives twice: as `sticker` and as an
    // `image` carrying the same `sticker_id` (Messenger changelog, "Sticker API").
    let has_sticker = attachments.iter().any(|a| a.kind == "sticker");
    let mut contents: Vec<MessageContent> = attachments
        .into_iter()
        .filter(|a| {
            !(has_sticker
                && a.kind == "image"
                && a.payload.as_ref().is_some_and(|p| p.sticker_id.is_some()))
        })
        .map(attachment_content)
        .collect();
    match (text, contents.first_mut()) {
        (None, None) => contents.push(MessageContent::Unsupported {
            platform_type: "empty message".to_owned(),
        }),
        (Some(body), None) => contents.push(MessageContent::Text { body }),
        (Some(body), Some(MessageContent::Media { caption, .. })) if caption.is_none() => {
            *caption = Some(body);
        }
        (Some(body), Some(_)) => contents.insert(0, MessageContent::Text { body }),
        (None, Some(_)) => {}
    }
    contents
}

fn attachment_content(a: Attachment) -> MessageContent {
    let payload = a.payload.unwrap_or_default();
    let media_kind = match a.kind.as_str() {
        "image" if payload.sticker_id.is_some() => Some(MediaKind::Sticker),
        "image" => Some(MediaKind::Image),
        "audio" => Some(MediaKind::Audio),
        "video" => Some(MediaKind::Video),
        "file" => Some(MediaKind::Document),
        "sticker" => Some(MediaKind::Sticker),
        _ => None,
    };
    let unsupported = |kind: &str| MessageContent::Unsupported {
        platform_type: kind.to_owned(),
    };
    if let Some(kind) = media_kind {
        let media = match (payload.url, payload.sticker_id) {
            (Some(url), _) => MediaRef::Url(url),
            (None, Some(sticker)) => MediaRef::PlatformId(sticker.0),
            (None, None) => return unsupported(&a.kind),
        };
        return MessageContent::Media {
            kind,
            media,
            mime_type: None,
            caption: None,
            filename: None,
            sha256: None,
        };
    }
    match a.kind.as_str() {
        "location" => match payload.coordinates {
            Some(c) => MessageContent::Location {
                latitude: c.lat,
                longitude: c.long,
                name: a.title.or(payload.title),
                address: None,
            },
            None => unsupported("location"),
        },
        "story_mention" => match payload.url {
            Some(media_url) => MessageContent::StoryMention { media_url },
            None => unsupported("story_mention"),
        },
        "fallback" | "share" | "reel" | "ig_reel" | "post" | "ig_post" => {
            let url = payload.url.or(a.url);
            let text = payload.title.or(a.title);
            if url.is_none() && text.is_none() {
                unsupported(&a.kind)
            } else {
                MessageContent::SharedPost { url, text }
            }
        }
        _ => unsupported(&a.kind),
    }
}

// ---------------------------------------------------------------------------------------------
// Sending through `POST /{account-id}/messages`, shared with Instagram.

/// `{base}/v21.0/{id}{edge}`, refusing an id that is not a Graph id so that nothing from a
/// connection's settings can change the request's path or query.
pub(crate) fn graph_url(base: &str, id: &str, edge: &str) -> Result<String, ChannelError> {
    let valid = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(ChannelError::CannotSend(format!(
            "`{id}` is not a Graph API id"
        )));
    }
    Ok(format!(
        "{}/{GRAPH_API_VERSION}/{id}{edge}",
        base.trim_end_matches('/')
    ))
}

/// A JSON POST to the Graph API with the token in `Authorization: Bearer` (as Meta's
/// Messenger attachment-upload examples pass it), so it never sits in a URL that gets logged.
pub(crate) fn graph_post(url: String, token: &SecretString, body: Value) -> HttpRequest {
    HttpRequest {
        method: http::Method::POST,
        url,
        headers: vec![
            (
                "authorization".to_owned(),
                format!("Bearer {}", token.expose_secret()),
            ),
            ("content-type".to_owned(), "application/json".to_owned()),
        ],
        body: Some(body),
    }
}

pub(crate) fn build_messages_request(
    target: &SendTarget<'_>,
    msg: &OutboundMessage,
    platform: &str,
) -> Result<HttpRequest, ChannelError> {
    let message = match &msg.content {
        OutboundContent::Text { body } => json!({ "text": body }),
        OutboundContent::Media {
            kind,
            url,
            caption,
            filename: _,
        } => {
            if caption.as_deref().is_some_and(|c| !c.is_empty()) {
                return Err(ChannelError::CannotSend(format!(
                    "{platform} attachments carry no caption; send the text as its own message"
                )));
            }
            let kind = match kind {
                MediaKind::Image | MediaKind::Sticker => "image",
                MediaKind::Audio => "audio",
                MediaKind::Video => "video",
                MediaKind::Document => "file",
            };
            json!({ "attachment": { "type": kind, "payload": { "url": url, "is_reusable": true } } })
        }
        OutboundContent::Template { .. } => {
            return Err(ChannelError::CannotSend(format!(
                "{platform} has no message templates; send text or media"
            )));
        }
    };
    let mut body = json!({
        "recipient": { "id": msg.to },
        "messaging_type": "RESPONSE",
        "message": message,
    });
    if let (Some(MessageTag::HumanAgent), Some(obj)) = (msg.tag, body.as_object_mut()) {
        obj.insert("messaging_type".to_owned(), json!("MESSAGE_TAG"));
        obj.insert("tag".to_owned(), json!("HUMAN_AGENT"));
    }
    let url = graph_url(target.base_url, target.account_id, "/messages")?;
    Ok(graph_post(url, target.token, body))
}

/// Reads a Graph API answer to a send: `message_id` (or `id`, which comment replies return)
/// on success, else the failure classified for the send job.
pub(crate) fn read_graph_send_response(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    platform: &str,
) -> Result<String, SendFailure> {
    if let Some(error) = GraphError::read(body) {
        return Err(classify(status, headers, &error, platform));
    }
    if !status.is_success() {
        let class = if status == http::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            FailureClass::RetryLater
        } else {
            FailureClass::AgentMustAct
        };
        return Err(SendFailure {
            class,
            code: format!("http_{}", status.as_u16()),
            reason: if class == FailureClass::RetryLater {
                format!(
                    "{platform} answered HTTP {} without an error body; the message will be retried.",
                    status.as_u16()
                )
            } else {
                format!(
                    "{platform} refused the message with HTTP {} and gave no reason.",
                    status.as_u16()
                )
            },
            retry_after: (class == FailureClass::RetryLater)
                .then(|| meta::retry_after(headers))
                .flatten(),
        });
    }
    #[derive(Deserialize)]
    struct Sent {
        #[serde(default)]
        message_id: Option<String>,
        #[serde(default)]
        id: Option<String>,
    }
    serde_json::from_slice::<Sent>(body)
        .ok()
        .and_then(|s| s.message_id.or(s.id))
        .ok_or_else(|| SendFailure {
            class: FailureClass::AgentMustAct,
            code: "no_message_id".to_owned(),
            reason: format!(
                "{platform} accepted the request but named no message; check the conversation on {platform} before sending again."
            ),
            retry_after: None,
        })
}

/// Graph error codes as the Messenger Platform error table and the Graph API error-handling
/// guide describe them.
fn classify(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    e: &GraphError,
    platform: &str,
) -> SendFailure {
    use FailureClass::*;
    let said = e.message.clone().unwrap_or_default();
    let (class, reason) = match (e.code, e.error_subcode) {
        // Outside the 24-hour standard messaging window (Instagram reports 2534022).
        (_, Some(2018278 | 2534022)) => (
            AgentMustAct,
            "The customer last wrote more than 24 hours ago; reply with the human-agent tag within 7 days.".to_owned(),
        ),
        (551, _) | (_, Some(1545041)) => (
            AgentMustAct,
            format!("This person isn't available on {platform} right now (they may have blocked the account or turned off messages); the message was not delivered."),
        ),
        (_, Some(2018001 | 2018108 | 2534014)) => (
            AgentMustAct,
            format!("{platform} cannot find or reach this person any more; the message was not delivered."),
        ),
        (_, Some(2018047)) => (
            AgentMustAct,
            format!("{platform} could not fetch the attachment; check the file and that its URL is public."),
        ),
        (1 | 2 | 4 | 17 | 32 | 341 | 613 | 1200, _) => (
            RetryLater,
            format!("{platform} is busy or limiting the rate of sends; the message will be retried."),
        ),
        _ if e.is_transient == Some(true)
            || status == http::StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error() =>
        {
            (
                RetryLater,
                format!("{platform} had a temporary problem; the message will be retried."),
            )
        }
        (190 | 102, _) => (
            ConnectionBroken,
            format!("The {platform} access token has expired or was revoked; reconnect {platform} in the connection's settings."),
        ),
        (3 | 10 | 200..=299, _) | (100, Some(33)) => (
            ConnectionBroken,
            format!("The {platform} connection lacks a permission or an account it needs ({said}); reconnect it and grant what it asks for."),
        ),
        (368, _) => (
            AgentMustAct,
            format!("{platform} has temporarily blocked sending from this account for a policy reason; review the account's status with Meta."),
        ),
        _ => (
            AgentMustAct,
            format!("{platform} refused the message: {said}"),
        ),
    };
    SendFailure {
        retry_after: (class == RetryLater)
            .then(|| meta::retry_after(headers))
            .flatten(),
        class,
        code: e.code_text(),
        reason,
    }
}
