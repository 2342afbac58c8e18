//! Reply windows: whether the business may send a given message to a contact now, by the
//! platform's rules, decided before any platform is called.
//!
//! - WhatsApp (Cloud API, "customer service windows"): free-form messages within 24 hours of
//!   the customer's last message; after that (or before any message) only approved templates.
//! - Messenger and Instagram (Messenger Platform policy, "standard messaging"): 24 hours; then
//!   a message tagged `HUMAN_AGENT` may still be sent by a person up to 7 days after the
//!   customer's last message.
//! - TikTok (Business Messaging): the business may only answer a conversation the user
//!   started, within 48 hours of the user's last message, and only a limited number of
//!   messages per window. The cap is not a constant we could confirm from TikTok's public
//!   documentation, so it is a parameter ([`WindowRules::tiktok_messages_per_window`]).
//! - Telegram and the web widget: no window (a Telegram bot may message anyone who has
//!   started it).
//!
//! Invariant: pure — the caller supplies the times and the count; nothing here reads a clock.

use crate::Timestamp;
use crate::channel::{ChannelKind, MessageTag, OutboundContent};
use time::Duration;

/// WhatsApp's customer-service window; also Messenger's and Instagram's standard window.
pub const STANDARD_WINDOW: Duration = Duration::hours(24);
/// How long after the customer's last message a `HUMAN_AGENT`-tagged reply is allowed.
pub const HUMAN_AGENT_WINDOW: Duration = Duration::days(7);
/// TikTok's reply window.
pub const TIKTOK_WINDOW: Duration = Duration::hours(48);

/// Rules that are configuration rather than constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowRules {
    /// How many messages the business may send in one TikTok window (counted since the
    /// user's last message).
    pub tiktok_messages_per_window: u32,
}

impl Default for WindowRules {
    fn default() -> Self {
        Self {
            tiktok_messages_per_window: 10,
        }
    }
}

/// What is about to be sent, and to whom.
#[derive(Clone, Copy, Debug)]
pub struct ReplyAttempt<'a> {
    pub kind: ChannelKind,
    /// When the customer last wrote on this connection; `None` if never.
    pub last_inbound_at: Option<Timestamp>,
    pub now: Timestamp,
    pub content: &'a OutboundContent,
    pub tag: Option<MessageTag>,
    /// Messages the business already sent since `last_inbound_at` (for TikTok's cap).
    pub sent_since_last_inbound: u32,
}

/// Why a reply may not be sent now. `code` is stable and machine-readable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `window_closed`, `template_required`, `tag_expired`, `window_cap_reached`,
    /// `template_not_supported`.
    pub code: &'static str,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WindowDecision {
    Allowed,
    Refused(Refusal),
}

impl WindowDecision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, WindowDecision::Allowed)
    }

    fn refuse(code: &'static str, message: impl Into<String>) -> Self {
        WindowDecision::Refused(Refusal {
            code,
            message: message.into(),
        })
    }
}

/// Whether free text may be sent now, and for how much longer (what the inbox shows above
/// the composer). The human-agent extension and TikTok's cap are left to [`check_reply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowState {
    /// The channel has no reply window (Telegram, the widget).
    Unlimited,
    /// Free text is allowed for `remaining` more.
    Open { remaining: Duration },
    /// The window is closed (or the customer never wrote).
    Closed,
}

/// The free-text window of a conversation on `kind` whose customer last wrote at
/// `last_inbound_at`.
pub fn free_text_window(
    kind: ChannelKind,
    last_inbound_at: Option<Timestamp>,
    now: Timestamp,
) -> WindowState {
    let length = match kind {
        ChannelKind::Telegram | ChannelKind::Widget => return WindowState::Unlimited,
        ChannelKind::TikTok => TIKTOK_WINDOW,
        ChannelKind::WhatsApp | ChannelKind::Messenger | ChannelKind::Instagram => STANDARD_WINDOW,
    };
    match last_inbound_at {
        Some(at) if now - at < length => WindowState::Open {
            remaining: length - (now - at),
        },
        _ => WindowState::Closed,
    }
}

/// Whether `attempt` may be sent now.
pub fn check_reply(attempt: &ReplyAttempt<'_>, rules: &WindowRules) -> WindowDecision {
    let is_template = matches!(attempt.content, OutboundContent::Template { .. });
    if is_template && attempt.kind != ChannelKind::WhatsApp {
        return WindowDecision::refuse(
            "template_not_supported",
            format!(
                "Message templates are a WhatsApp feature; {} cannot send one.",
                attempt.kind.as_str()
            ),
        );
    }
    // Time since the customer last wrote; `None` when they never did.
    let since = attempt.last_inbound_at.map(|at| attempt.now - at);
    let within = |window: Duration| since.is_some_and(|s| s < window);
    match attempt.kind {
        ChannelKind::Telegram | ChannelKind::Widget => WindowDecision::Allowed,
        ChannelKind::WhatsApp => {
            if is_template || within(STANDARD_WINDOW) {
                WindowDecision::Allowed
            } else {
                WindowDecision::refuse(
                    "template_required",
                    "More than 24 hours have passed since the customer's last message; \
                     WhatsApp only allows an approved template now.",
                )
            }
        }
        ChannelKind::Messenger | ChannelKind::Instagram => {
            if within(STANDARD_WINDOW) {
                WindowDecision::Allowed
            } else if attempt.tag == Some(MessageTag::HumanAgent) {
                if within(HUMAN_AGENT_WINDOW) {
                    WindowDecision::Allowed
                } else {
                    WindowDecision::refuse(
                        "tag_expired",
                        "The human-agent tag only allows replies within 7 days of the \
                         customer's last message.",
                    )
                }
            } else if within(HUMAN_AGENT_WINDOW) {
                WindowDecision::refuse(
                    "window_closed",
                    "More than 24 hours have passed since the customer's last message; \
                     send it as a human agent (allowed up to 7 days).",
                )
            } else {
                WindowDecision::refuse(
                    "window_closed",
                    "More than 7 days have passed since the customer's last message; \
                     wait for them to write again.",
                )
            }
        }
        ChannelKind::TikTok => {
            if !within(TIKTOK_WINDOW) {
                WindowDecision::refuse(
                    "window_closed",
                    "TikTok only allows replies within 48 hours of the customer's last \
                     message; wait for them to write again.",
                )
            } else if attempt.sent_since_last_inbound >= rules.tiktok_messages_per_window {
                WindowDecision::refuse(
                    "window_cap_reached",
                    format!(
                        "TikTok allows {} messages per reply window; wait for the customer \
                         to write again.",
                        rules.tiktok_messages_per_window
                    ),
                )
            } else {
                WindowDecision::Allowed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_millis;

    fn text() -> OutboundContent {
        OutboundContent::Text { body: "hi".into() }
    }

    fn template() -> OutboundContent {
        OutboundContent::Template {
            name: "order_update".into(),
            language: "en".into(),
            parameters: vec![],
        }
    }

    /// The decision for `content` sent `after` the customer's last message.
    fn decide(
        kind: ChannelKind,
        after: Option<Duration>,
        content: &OutboundContent,
        tag: Option<MessageTag>,
        sent: u32,
    ) -> WindowDecision {
        let now = from_millis(1_800_000_000_000);
        check_reply(
            &ReplyAttempt {
                kind,
                last_inbound_at: after.map(|d| now - d),
                now,
                content,
                tag,
                sent_since_last_inbound: sent,
            },
            &WindowRules::default(),
        )
    }

    fn code(d: WindowDecision) -> &'static str {
        match d {
            WindowDecision::Allowed => "allowed",
            WindowDecision::Refused(r) => r.code,
        }
    }

    const JUST_UNDER_A_DAY: Duration = Duration::milliseconds(24 * 3_600_000 - 1);

    #[test]
    fn whatsapp_free_text_only_within_24_hours() {
        use ChannelKind::WhatsApp;
        assert_eq!(
            code(decide(WhatsApp, Some(JUST_UNDER_A_DAY), &text(), None, 0)),
            "allowed"
        );
        assert_eq!(
            code(decide(
                WhatsApp,
                Some(Duration::hours(24)),
                &text(),
                None,
                0
            )),
            "template_required"
        );
        assert_eq!(
            code(decide(WhatsApp, None, &text(), None, 0)),
            "template_required"
        );
    }

    #[test]
    fn whatsapp_templates_are_allowed_any_time() {
        use ChannelKind::WhatsApp;
        assert!(decide(WhatsApp, None, &template(), None, 0).is_allowed());
        assert!(decide(WhatsApp, Some(Duration::days(30)), &template(), None, 0).is_allowed());
    }

    #[test]
    fn messenger_and_instagram_allow_the_human_agent_tag_up_to_7_days() {
        for kind in [ChannelKind::Messenger, ChannelKind::Instagram] {
            let agent = Some(MessageTag::HumanAgent);
            assert_eq!(
                code(decide(kind, Some(JUST_UNDER_A_DAY), &text(), None, 0)),
                "allowed"
            );
            assert_eq!(
                code(decide(kind, Some(Duration::hours(24)), &text(), None, 0)),
                "window_closed"
            );
            assert_eq!(
                code(decide(kind, Some(Duration::hours(24)), &text(), agent, 0)),
                "allowed"
            );
            let under_a_week = Duration::days(7) - Duration::milliseconds(1);
            assert_eq!(
                code(decide(kind, Some(under_a_week), &text(), agent, 0)),
                "allowed"
            );
            assert_eq!(
                code(decide(kind, Some(Duration::days(7)), &text(), agent, 0)),
                "tag_expired"
            );
            assert_eq!(
                code(decide(kind, Some(Duration::days(8)), &text(), None, 0)),
                "window_closed"
            );
            assert_eq!(code(decide(kind, None, &text(), None, 0)), "window_closed");
            assert_eq!(
                code(decide(
                    kind,
                    Some(Duration::minutes(1)),
                    &template(),
                    None,
                    0
                )),
                "template_not_supported"
            );
        }
    }

    #[test]
    fn tiktok_allows_48_hours_and_caps_messages_per_window() {
        use ChannelKind::TikTok;
        let under = Duration::hours(48) - Duration::milliseconds(1);
        assert_eq!(
            code(decide(TikTok, Some(under), &text(), None, 0)),
            "allowed"
        );
        assert_eq!(
            code(decide(TikTok, Some(Duration::hours(48)), &text(), None, 0)),
            "window_closed"
        );
        assert_eq!(
            code(decide(TikTok, None, &text(), None, 0)),
            "window_closed"
        );
        assert_eq!(
            code(decide(TikTok, Some(Duration::hours(1)), &text(), None, 9)),
            "allowed"
        );
        assert_eq!(
            code(decide(TikTok, Some(Duration::hours(1)), &text(), None, 10)),
            "window_cap_reached"
        );
    }

    #[test]
    fn telegram_and_widget_have_no_window() {
        for kind in [ChannelKind::Telegram, ChannelKind::Widget] {
            assert!(decide(kind, None, &text(), None, 0).is_allowed());
            assert!(decide(kind, Some(Duration::days(365)), &text(), None, 99).is_allowed());
        }
    }
}
