//! Identifier newtypes. Each kind of id is its own type so a `ContactId` can never be passed
//! where a `WorkspaceId` is expected. Ids are UUIDv7: unique without coordination and
//! roughly time-ordered, which keeps index inserts local.

use std::fmt;
use std::str::FromStr;

macro_rules! uuid_id {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            pub fn from_uuid(id: uuid::Uuid) -> Self {
                Self(id)
            }

            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = crate::ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self).map_err(|_| {
                    crate::ValidationError::new("invalid_id", format!("`{s}` is not a valid id"))
                })
            }
        }
    )*};
}

uuid_id!(
    /// A tenant: one business and everything it owns.
    WorkspaceId,
    /// A person who signs in to Switchboard (an owner, admin or agent).
    UserId,
    /// A signed-in browser session.
    SessionId,
    /// A workspace-scoped API token.
    ApiTokenId,
    /// An emailed invitation to join a workspace.
    InvitationId,
    /// One row of the audit log.
    AuditEventId,
    /// A durable background job.
    JobId,
    /// A password-reset link.
    PasswordResetId,
    /// A workspace's data key (the key id every ciphertext sealed under it carries).
    WorkspaceKeyId,
    /// A business channel connected to a workspace (a WhatsApp number, a page, a bot...).
    ConnectionId,
    /// An end-customer of a workspace.
    ContactId,
    /// How a contact is known on one connection (wa_id, PSID, IGSID, ...).
    ContactIdentityId,
    /// A thread between a contact and the business on one connection.
    ConversationId,
    /// One message of a conversation, in either direction.
    MessageId,
    /// One entry of the opt-in ledger.
    ConsentRecordId,
    /// An approved message template synced from the platform.
    MessageTemplateId,
    /// A stored attachment (image, audio, video, document).
    MediaObjectId,
    /// A website visitor of a chat widget (also their contact identity's external id).
    WidgetVisitorId,
    /// An Instagram comment (or reply) on the business's media.
    CommentId,
    /// A workspace's conversation label.
    LabelId,
    /// A named group of a workspace's members that conversations are assigned to.
    TeamId,
    /// A note or system event in a conversation's timeline.
    ActivityId,
    /// A reply text agents reuse.
    CannedResponseId,
    /// A data subject's request (erase, export, restrict, ...).
    PrivacyRequestId,
    /// A legal hold on a contact, a conversation or a workspace.
    LegalHoldId,
    /// An export of everything about one contact (a zip, downloadable for a limited time).
    ContactExportId,
    /// A custom contact attribute a workspace defined (key, label, type).
    ContactAttributeId,
    /// A saved filter over a workspace's contacts.
    SegmentId,
    /// An outbound webhook endpoint of a workspace, with the events it wants.
    WebhookSubscriptionId,
    /// One event for one webhook subscription (its `webhook-id`, the same on every retry).
    WebhookDeliveryId,
    /// One attempt at a webhook delivery.
    WebhookAttemptId,
    /// A code sent to verify that a privacy request comes from the contact it names.
    VerificationId,
    /// An export of a whole workspace, offered before it is deleted.
    WorkspaceExportId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = WorkspaceId::new();
        let parsed: WorkspaceId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
    }

    #[test]
    fn garbage_is_not_an_id() {
        let err = "not-a-uuid".parse::<UserId>().unwrap_err();
        assert_eq!(err.code, "invalid_id");
    }
}
