//! Retention: how long a workspace keeps each class of data, per channel, and when a row of
//! a swept table has expired.
//!
//! A workspace sets rules (`class`, `channel` or every channel, `days`); the personal-data
//! inventory says which tables each class sweeps and from which column a row's age counts
//! (`inventory::Retention::Swept`). The sweep and its preview both ask [`RetentionRules::cutoff`]
//! for the instant before which a row goes, so what the preview counts is what the sweep
//! deletes.
//!
//! Invariants: a rule keeps data at least one day and at most ten years; at most one rule per
//! class and channel; a channel's own rule wins over the rule for every channel; no rule means
//! the data is kept (retention never deletes what nobody asked it to).

use crate::channel::ChannelKind;
use crate::{Timestamp, ValidationError};

/// The classes of data a workspace sets a retention period for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionClass {
    /// Each message, counted from when it was stored.
    Messages,
    /// Whole conversations (with their messages and media), counted from their last message.
    Conversations,
    /// Resolved conversations (with their messages and media), counted from resolution.
    ClosedConversations,
    /// Cached media files (attachments), counted from when they were stored; the message
    /// stays, without its file.
    Media,
}

impl RetentionClass {
    pub const ALL: [RetentionClass; 4] = [
        RetentionClass::Messages,
        RetentionClass::Conversations,
        RetentionClass::ClosedConversations,
        RetentionClass::Media,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RetentionClass::Messages => "messages",
            RetentionClass::Conversations => "conversations",
            RetentionClass::ClosedConversations => "closed_conversations",
            RetentionClass::Media => "media",
        }
    }

    /// What the class means, for people (settings page, public page).
    pub fn describe(self) -> &'static str {
        match self {
            RetentionClass::Messages => "Messages, counted from when each was received or sent",
            RetentionClass::Conversations => {
                "Conversations with all their messages and media, counted from the last message"
            }
            RetentionClass::ClosedConversations => {
                "Resolved conversations with all their messages and media, counted from resolution"
            }
            RetentionClass::Media => "Cached media (images, audio, video, documents)",
        }
    }

    /// Whether a rule of this class may name one channel (media objects are not tied to a
    /// connection in the schema, so their rule covers every channel).
    pub fn per_channel(self) -> bool {
        !matches!(self, RetentionClass::Media)
    }

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == input)
            .ok_or_else(|| {
                ValidationError::new(
                    "invalid_retention_class",
                    "The class is messages, conversations, closed_conversations or media.",
                )
                .on("class")
            })
    }
}

/// The shortest and longest retention period a rule may set.
pub const MIN_DAYS: u32 = 1;
pub const MAX_DAYS: u32 = 3650;

/// One retention rule: data of `class` on `channel` (`None`: every channel) is kept `days`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RetentionRule {
    pub class: RetentionClass,
    pub channel: Option<ChannelKind>,
    pub days: u32,
}

impl RetentionRule {
    /// Parses a rule from its parts as a client sends them (`channel` `"all"` or absent for
    /// every channel).
    pub fn parse(class: &str, channel: Option<&str>, days: i64) -> Result<Self, ValidationError> {
        let class = RetentionClass::parse(class.trim())?;
        let channel = match channel.map(str::trim) {
            None | Some("") | Some("all") => None,
            Some(c) => Some(ChannelKind::parse(c).map_err(|e| e.on("channel"))?),
        };
        if channel.is_some() && !class.per_channel() {
            return Err(ValidationError::new(
                "retention_not_per_channel",
                format!(
                    "A {} rule covers every channel; leave the channel out.",
                    class.as_str()
                ),
            )
            .on("channel"));
        }
        if days < i64::from(MIN_DAYS) || days > i64::from(MAX_DAYS) {
            return Err(ValidationError::new(
                "invalid_retention_days",
                format!("A retention period is {MIN_DAYS} to {MAX_DAYS} days."),
            )
            .on("days"));
        }
        Ok(Self {
            class,
            channel,
            days: days as u32,
        })
    }

    /// The channel as stored and shown: its name, or `all`.
    pub fn channel_name(&self) -> &'static str {
        self.channel.map_or("all", ChannelKind::as_str)
    }
}

/// A workspace's rules, at most one per class and channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionRules(Vec<RetentionRule>);

impl RetentionRules {
    /// Checks that no class and channel is set twice.
    pub fn new(mut rules: Vec<RetentionRule>) -> Result<Self, ValidationError> {
        rules.sort_by_key(|r| (r.class, r.channel.map(ChannelKind::as_str)));
        for pair in rules.windows(2) {
            if let [a, b] = pair
                && a.class == b.class
                && a.channel == b.channel
            {
                return Err(ValidationError::new(
                    "duplicate_retention_rule",
                    format!(
                        "The rule for {} on {} is given twice.",
                        a.class.as_str(),
                        a.channel_name()
                    ),
                )
                .on("rules"));
            }
        }
        Ok(Self(rules))
    }

    pub fn rules(&self) -> &[RetentionRule] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many days `class` on `channel` is kept: the channel's own rule, else the rule for
    /// every channel, else `None` (kept).
    pub fn days(&self, class: RetentionClass, channel: Option<ChannelKind>) -> Option<u32> {
        let own = channel.and_then(|ch| {
            self.0
                .iter()
                .find(|r| r.class == class && r.channel == Some(ch))
        });
        own.or_else(|| {
            self.0
                .iter()
                .find(|r| r.class == class && r.channel.is_none())
        })
        .map(|r| r.days)
    }

    /// Rows of `class` on `channel` whose age column is before the answer have expired at
    /// `now`; `None` when nothing of it expires.
    pub fn cutoff(
        &self,
        class: RetentionClass,
        channel: Option<ChannelKind>,
        now: Timestamp,
    ) -> Option<Timestamp> {
        self.days(class, channel)
            .map(|d| now - time::Duration::days(i64::from(d)))
    }
}

/// What the retention sweep and the channel-disconnect erasure must leave alone: the one
/// place legal holds reach them. Built empty here; the legal-hold feature fills it from the
/// workspace's active holds before each run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionExclusions {
    /// The whole workspace is held: nothing of it is deleted.
    pub workspace: bool,
    /// Rows belonging to these contacts are kept.
    pub contacts: Vec<crate::ContactId>,
    /// Rows of these conversations are kept.
    pub conversations: Vec<crate::ConversationId>,
}

impl RetentionExclusions {
    /// Nothing is held.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        !self.workspace && self.contacts.is_empty() && self.conversations.is_empty()
    }
}

/// How long a contact export stays downloadable before the sweep deletes it.
pub const EXPORT_LIFETIME_DAYS: i64 = 7;

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Timestamp {
        time::macros::datetime!(2026-03-01 12:00 UTC)
    }

    #[test]
    fn a_channel_rule_wins_over_the_rule_for_every_channel() {
        let rules = RetentionRules::new(vec![
            RetentionRule::parse("messages", None, 90).unwrap(),
            RetentionRule::parse("messages", Some("instagram"), 30).unwrap(),
        ])
        .unwrap();
        assert_eq!(
            rules.days(RetentionClass::Messages, Some(ChannelKind::Instagram)),
            Some(30)
        );
        assert_eq!(
            rules.days(RetentionClass::Messages, Some(ChannelKind::WhatsApp)),
            Some(90)
        );
        assert_eq!(rules.days(RetentionClass::Media, None), None);
        assert_eq!(
            rules.cutoff(RetentionClass::Messages, Some(ChannelKind::Instagram), t()),
            Some(t() - time::Duration::days(30))
        );
    }

    #[test]
    fn bad_rules_are_refused_with_a_code() {
        assert_eq!(
            RetentionRule::parse("messages", None, 0).unwrap_err().code,
            "invalid_retention_days"
        );
        assert_eq!(
            RetentionRule::parse("messages", None, 3651)
                .unwrap_err()
                .code,
            "invalid_retention_days"
        );
        assert_eq!(
            RetentionRule::parse("forever", None, 3).unwrap_err().code,
            "invalid_retention_class"
        );
        assert_eq!(
            RetentionRule::parse("media", Some("whatsapp"), 3)
                .unwrap_err()
                .code,
            "retention_not_per_channel"
        );
        let twice = vec![
            RetentionRule::parse("media", None, 3).unwrap(),
            RetentionRule::parse("media", Some("all"), 4).unwrap(),
        ];
        assert_eq!(
            RetentionRules::new(twice).unwrap_err().code,
            "duplicate_retention_rule"
        );
    }
}
