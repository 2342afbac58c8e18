//! Channels in the product's own words: which platforms there are, and the normalized events
//! and outbound messages that every platform's webhooks and send calls are translated to and
//! from (in `switchboard-channels`, one file per platform).
//!
//! Invariants: platform ids are kept as strings, never numbers (a 19-digit TikTok id does not
//! survive an `f64`); nothing a platform sends is dropped silently — what has no better shape
//! becomes `MessageContent::Unsupported` or `InboundEvent::Unhandled`.

use crate::{Timestamp, ValidationError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    WhatsApp,
    Messenger,
    Instagram,
    TikTok,
    Telegram,
    Widget,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 6] = [
        ChannelKind::WhatsApp,
        ChannelKind::Messenger,
        ChannelKind::Instagram,
        ChannelKind::TikTok,
        ChannelKind::Telegram,
        ChannelKind::Widget,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::WhatsApp => "whatsapp",
            ChannelKind::Messenger => "messenger",
            ChannelKind::Instagram => "instagram",
            ChannelKind::TikTok => "tiktok",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Widget => "widget",
        }
    }

    /// The channel's name for people.
    pub fn display_name(self) -> &'static str {
        match self {
            ChannelKind::WhatsApp => "WhatsApp",
            ChannelKind::Messenger => "Messenger",
            ChannelKind::Instagram => "Instagram",
            ChannelKind::TikTok => "TikTok",
            ChannelKind::Telegram => "Telegram",
            ChannelKind::Widget => "Website chat",
        }
    }

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        ChannelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == input)
            .ok_or_else(|| {
                ValidationError::new(
                    "invalid_channel",
                    format!(
                        "`{input}` is not a channel; use whatsapp, messenger, instagram, tiktok, telegram or widget."
                    ),
                )
                .on("kind")
            })
    }
}

/// The platform account an event was addressed to, as named inside the payload: the WhatsApp
/// phone number id, the Facebook page id, the Instagram account id, the TikTok business id,
/// the Telegram connection (from the webhook path) or the widget key. Routing finds the
/// workspace and connection from it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct AccountRef {
    pub kind: ChannelKind,
    pub account_id: String,
}

/// The end-customer as the platform identifies them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExternalContact {
    /// wa_id, PSID, IGSID, TikTok user id, Telegram user id, widget visitor id.
    pub external_id: String,
    pub display_name: Option<String>,
    /// A username or handle where the platform gives one (Instagram, Telegram, TikTok).
    pub username: Option<String>,
    /// A phone number where the platform gives one (WhatsApp's wa_id is one).
    pub phone: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Audio,
    Video,
    Document,
    Sticker,
}

/// How to fetch a media object: WhatsApp gives an id to resolve through the Graph API;
/// the others give a URL.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "value")]
pub enum MediaRef {
    PlatformId(String),
    Url(String),
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContactCard {
    pub name: String,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
}

/// What a message says or carries.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum MessageContent {
    Text {
        body: String,
    },
    Media {
        kind: MediaKind,
        media: MediaRef,
        mime_type: Option<String>,
        caption: Option<String>,
        filename: Option<String>,
        /// The platform's checksum when it sends one (WhatsApp: sha256, base64).
        sha256: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    Contacts {
        cards: Vec<ContactCard>,
    },
    /// A reaction to an earlier message; `emoji: None` removes it.
    Reaction {
        to_external_id: String,
        emoji: Option<String>,
    },
    /// A tap on a button, a list row, a quick reply or a postback.
    Interactive {
        reply_id: String,
        title: String,
    },
    /// An Instagram reply to the business's story.
    StoryReply {
        story_url: Option<String>,
        text: String,
    },
    /// An Instagram story that mentions the business.
    StoryMention {
        media_url: String,
    },
    /// A post shared into the chat (TikTok, Instagram).
    SharedPost {
        url: Option<String>,
        text: Option<String>,
    },
    /// A type Switchboard does not render; kept, with the platform's name for it.
    Unsupported {
        platform_type: String,
    },
}

/// An ad (click-to-message) that led to the conversation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Referral {
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub source_url: Option<String>,
    pub headline: Option<String>,
    pub body: Option<String>,
}

/// A message, received from the customer or (as an echo) sent by the business outside
/// Switchboard.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InboundMessage {
    pub account: AccountRef,
    /// The platform's message id: with the channel kind, the message's identity (a
    /// redelivered webhook carries the same one).
    pub external_id: String,
    /// The customer (for an echo: the recipient of the business's message).
    pub contact: ExternalContact,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: Timestamp,
    pub content: MessageContent,
    /// The platform id of the message this one replies to or quotes.
    pub reply_to: Option<String>,
    pub referral: Option<Referral>,
}

/// Delivery state of an outbound message. Ranked: sent < delivered < read; failed is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    /// Orders statuses so that a late-arriving lower one never overwrites a higher one.
    pub fn rank(self) -> u8 {
        match self {
            DeliveryStatus::Sent => 1,
            DeliveryStatus::Delivered => 2,
            DeliveryStatus::Read => 3,
            DeliveryStatus::Failed => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// An error as the platform reported it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlatformError {
    pub code: String,
    pub title: Option<String>,
    pub detail: Option<String>,
}

/// A status of one outbound message.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusUpdate {
    pub account: AccountRef,
    /// The platform id of the message the status is about.
    pub external_id: String,
    /// The customer the message went to, where the payload says.
    pub recipient: Option<String>,
    pub status: DeliveryStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    pub error: Option<PlatformError>,
}

/// An Instagram comment (or a reply to one) on the business's media.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Comment {
    pub account: AccountRef,
    pub external_id: String,
    pub media_id: Option<String>,
    /// The comment this one replies to.
    pub parent_id: Option<String>,
    pub from: ExternalContact,
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
}

/// Everything a webhook can tell Switchboard, in one shape for every platform.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum InboundEvent {
    Message(InboundMessage),
    /// A message the business sent from its phone, page or app, not through Switchboard.
    Echo(InboundMessage),
    /// A customer edited a message (Telegram); the new content replaces the old.
    Edited(InboundMessage),
    Status(StatusUpdate),
    /// Messenger's "everything up to this time was delivered / read".
    Watermark {
        account: AccountRef,
        contact_id: String,
        status: DeliveryStatus,
        #[serde(with = "time::serde::rfc3339")]
        up_to: Timestamp,
    },
    /// The customer deleted (unsent) a message.
    Deleted {
        account: AccountRef,
        external_id: String,
        contact_id: Option<String>,
        #[serde(with = "time::serde::rfc3339")]
        at: Timestamp,
    },
    Comment(Comment),
    /// A notification Switchboard has no use for yet, kept so it is logged, never lost
    /// silently.
    Unhandled {
        account: Option<AccountRef>,
        platform_type: String,
    },
}

impl InboundEvent {
    /// The account the event is addressed to, for routing.
    pub fn account(&self) -> Option<&AccountRef> {
        match self {
            InboundEvent::Message(m) | InboundEvent::Echo(m) | InboundEvent::Edited(m) => {
                Some(&m.account)
            }
            InboundEvent::Status(s) => Some(&s.account),
            InboundEvent::Watermark { account, .. } | InboundEvent::Deleted { account, .. } => {
                Some(account)
            }
            InboundEvent::Comment(c) => Some(&c.account),
            InboundEvent::Unhandled { account, .. } => account.as_ref(),
        }
    }
}

/// What an agent (or automation) sends.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum OutboundContent {
    Text {
        body: String,
    },
    Media {
        kind: MediaKind,
        /// A URL the platform can fetch.
        url: String,
        caption: Option<String>,
        filename: Option<String>,
    },
    /// A WhatsApp message template with its body parameters, in order.
    Template {
        name: String,
        language: String,
        parameters: Vec<String>,
    },
}

/// Messenger/Instagram message tags that allow a send outside the 24-hour window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageTag {
    /// A human agent answering within 7 days of the customer's last message.
    HumanAgent,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutboundMessage {
    /// The recipient's platform id (wa_id, PSID, IGSID, TikTok conversation, chat id).
    pub to: String,
    pub content: OutboundContent,
    /// The platform id of the message this one replies to.
    pub reply_to: Option<String>,
    pub tag: Option<MessageTag>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_kinds_round_trip() {
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(kind.as_str()).unwrap(), kind);
        }
        assert_eq!(
            ChannelKind::parse("fax").unwrap_err().code,
            "invalid_channel"
        );
    }

    #[test]
    fn statuses_rank_sent_delivered_read_then_failed() {
        use DeliveryStatus::*;
        assert!(Sent.rank() < Delivered.rank());
        assert!(Delivered.rank() < Read.rank());
        assert!(Read.rank() < Failed.rank());
    }
}
