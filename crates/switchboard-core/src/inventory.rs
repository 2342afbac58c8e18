//! The personal-data inventory: the one map of where personal data lives.
//!
//! Every table in either database is declared here, each column with its category, together
//! with how a row links to a data subject, what erasure does to it, and which retention rule
//! applies. Erasure, export, retention sweeps and the residue scan iterate this map and never
//! name a table themselves, so adding a table forces one decision in one place.
//!
//! Invariant (held by the store's `inventory_covers_the_live_schema` test on both backends):
//! every table and column of the live schema appears here, and nothing here is missing from
//! the schema.

/// What kind of data a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Names, account identifiers, platform user ids.
    Identity,
    /// Email addresses, phone numbers, postal addresses.
    ContactDetails,
    /// What people wrote to each other.
    MessageContent,
    /// Images, audio, video and documents.
    Media,
    /// Password hashes, MFA secrets, token hashes, channel access tokens.
    Credentials,
    /// Sign-in times, IP addresses, user agents, last-used times.
    Usage,
    /// Invoices and payment records.
    Billing,
    /// Audit trail entries.
    Audit,
    /// AI prompts, answers and their logs.
    AiLog,
    /// Ids, states, timestamps and configuration that say nothing about a person by
    /// themselves.
    NotPersonal,
}

/// The kinds of data subject a row can belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A whole workspace (erased when the workspace is deactivated).
    Workspace,
    /// Someone who signs in to Switchboard.
    PlatformUser,
    /// An end-customer of a workspace, as known through its channels.
    Contact,
    /// A business channel connected to a workspace (its data goes when it is disconnected).
    ChannelConnection,
    /// The Meta (Facebook) user who authorised a connection, by app-scoped id (Meta's
    /// data-deletion and deauthorisation callbacks name them).
    MetaUser,
}

/// How rows of a table are found for a subject: `column` holds the subject's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SubjectLink {
    pub subject: SubjectKind,
    pub column: &'static str,
    /// For a table whose erasure anonymises: the columns that are this subject's, when they
    /// are fewer than the table's list (`None`: the whole list). A privacy request names the
    /// operator who typed it in; erasing that operator clears who they were, never the
    /// requester's address or the identifiers the open request still needs.
    pub clears: Option<&'static [&'static str]>,
}

/// What erasing a subject does to a linked row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum ErasureAction {
    /// The row is deleted.
    Delete,
    /// The row stays (it records something the business must keep) but these columns are
    /// replaced by random tokens or cleared.
    Anonymise { columns: &'static [&'static str] },
    /// Kept on purpose, with the legal reason and for how long.
    Retain {
        reason: &'static str,
        period_days: u32,
    },
    /// Holds no personal data; nothing to do.
    None,
}

/// Which retention rule sweeps the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    /// Lives as long as what it belongs to.
    Lifetime,
    /// Expires on its own (sessions, reset links, throttling counters) and is swept.
    Expiring { after_days: u32 },
    /// The audit log: personal fields anonymised after the configured period (12 months by
    /// default), rows deleted after the retention period.
    AuditLog,
    /// Operational data with no personal content (jobs, migrations).
    Operational,
    /// Deleted by the workspace's retention sweep under each of these rules (conversations,
    /// messages and media): a row goes once its age column is older than the workspace's
    /// period for the rule's class on the row's channel (`switchboard_core::retention`).
    Swept(&'static [SweepRule]),
}

/// How one class of a workspace's retention settings applies to a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SweepRule {
    pub class: RetentionClass,
    /// The column (milliseconds) a row's age counts from; a row where it is NULL never
    /// expires under this rule.
    pub age_column: &'static str,
    /// The column naming the row's channel connection, when per-channel rules apply.
    pub connection_column: Option<&'static str>,
    /// The column naming the row's conversation, so a legal hold on a conversation can
    /// exclude its rows (`None`: the table cannot tell, and a conversation hold in the
    /// workspace suspends this rule there).
    pub conversation_column: Option<&'static str>,
}

const fn sweep(
    class: RetentionClass,
    age_column: &'static str,
    connection_column: Option<&'static str>,
    conversation_column: Option<&'static str>,
) -> SweepRule {
    SweepRule {
        class,
        age_column,
        connection_column,
        conversation_column,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Column {
    pub name: &'static str,
    pub category: Category,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Table {
    pub name: &'static str,
    /// Why the table exists, in one line (renders into the Record of Processing Activities).
    pub purpose: &'static str,
    pub links: &'static [SubjectLink],
    pub erasure: ErasureAction,
    pub retention: Retention,
    pub columns: &'static [Column],
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether any column holds personal data.
    pub fn is_personal(&self) -> bool {
        self.columns
            .iter()
            .any(|c| c.category != Category::NotPersonal)
    }
}

const fn col(name: &'static str, category: Category) -> Column {
    Column { name, category }
}

const fn link(subject: SubjectKind, column: &'static str) -> SubjectLink {
    SubjectLink {
        subject,
        column,
        clears: None,
    }
}

/// A link whose subject owns only `clears` of the table's anonymised columns.
const fn link_clearing(
    subject: SubjectKind,
    column: &'static str,
    clears: &'static [&'static str],
) -> SubjectLink {
    SubjectLink {
        subject,
        column,
        clears: Some(clears),
    }
}

use crate::retention::RetentionClass;
use Category::*;
use SubjectKind::*;

/// Every table of the schema. Add yours here in the same commit that creates it.
pub static TABLES: &[Table] = &[
    Table {
        name: "_sqlx_migrations",
        purpose: "Which schema migrations have been applied.",
        links: &[],
        erasure: ErasureAction::None,
        retention: Retention::Operational,
        columns: &[
            col("version", NotPersonal),
            col("description", NotPersonal),
            col("installed_on", NotPersonal),
            col("success", NotPersonal),
            col("checksum", NotPersonal),
            col("execution_time", NotPersonal),
        ],
    },
    Table {
        name: "workspaces",
        purpose: "The tenants: one business each.",
        links: &[link(Workspace, "id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            // A business name can be a sole trader's own name.
            col("name", Identity),
            col("slug", Identity),
            col("status", NotPersonal),
            col("deactivated_at", NotPersonal),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
        ],
    },
    Table {
        name: "users",
        purpose: "Accounts of the people who sign in: owners, admins and agents.",
        links: &[link(PlatformUser, "id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("email", ContactDetails),
            col("display_name", Identity),
            col("password_hash", Credentials),
            col("totp_secret", Credentials),
            col("totp_enabled_at", NotPersonal),
            col("totp_last_step", NotPersonal),
            col("status", NotPersonal),
            col("disabled_at", NotPersonal),
            col("password_changed_at", NotPersonal),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
        ],
    },
    Table {
        name: "memberships",
        purpose: "Who belongs to which workspace, and with which role.",
        links: &[
            link(Workspace, "workspace_id"),
            link(PlatformUser, "user_id"),
        ],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("workspace_id", NotPersonal),
            col("user_id", NotPersonal),
            col("role", NotPersonal),
            col("created_at", NotPersonal),
        ],
    },
    Table {
        name: "sessions",
        purpose: "Signed-in browser sessions.",
        links: &[link(PlatformUser, "user_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Expiring { after_days: 30 },
        columns: &[
            col("id", NotPersonal),
            col("user_id", NotPersonal),
            col("token_hash", Credentials),
            col("state", NotPersonal),
            col("active_workspace_id", NotPersonal),
            col("created_at", Usage),
            col("last_seen_at", Usage),
            col("expires_at", NotPersonal),
            col("reauthenticated_at", Usage),
            col("ip", Usage),
            col("user_agent", Usage),
        ],
    },
    Table {
        name: "recovery_codes",
        purpose: "One-time MFA recovery codes, hashed.",
        links: &[link(PlatformUser, "user_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("user_id", NotPersonal),
            col("code_hash", Credentials),
            col("used_at", Usage),
            col("created_at", NotPersonal),
        ],
    },
    Table {
        name: "login_throttle",
        purpose: "Counts failed sign-ins per account and per IP address, and reset emails per address, to slow guessing and flooding.",
        links: &[],
        // Keys are an IP address or the SHA-256 of a typed email (sign-in failures, reset
        // requests), never the email itself, or the SHA-256 of a widget visitor's id (their
        // sends); rows expire within hours.
        erasure: ErasureAction::None,
        retention: Retention::Expiring { after_days: 1 },
        columns: &[
            col("throttle_key", Usage),
            col("failures", NotPersonal),
            col("window_started_at", NotPersonal),
            col("locked_until", NotPersonal),
        ],
    },
    Table {
        name: "password_resets",
        purpose: "Single-use password-reset links, hashed.",
        links: &[link(PlatformUser, "user_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Expiring { after_days: 1 },
        columns: &[
            col("id", NotPersonal),
            col("user_id", NotPersonal),
            col("token_hash", Credentials),
            col("created_at", NotPersonal),
            col("expires_at", NotPersonal),
            col("used_at", Usage),
        ],
    },
    Table {
        name: "invitations",
        purpose: "Emailed invitations to join a workspace.",
        links: &[
            link(Workspace, "workspace_id"),
            link(PlatformUser, "invited_by"),
        ],
        erasure: ErasureAction::Delete,
        retention: Retention::Expiring { after_days: 30 },
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("email", ContactDetails),
            col("role", NotPersonal),
            col("token_hash", Credentials),
            col("invited_by", NotPersonal),
            col("created_at", NotPersonal),
            col("expires_at", NotPersonal),
            col("accepted_at", NotPersonal),
            col("revoked_at", NotPersonal),
        ],
    },
    Table {
        name: "api_tokens",
        purpose: "Workspace-scoped API tokens, hashed.",
        links: &[
            link(Workspace, "workspace_id"),
            link(PlatformUser, "created_by"),
        ],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("name", NotPersonal),
            col("role", NotPersonal),
            col("token_hash", Credentials),
            col("token_prefix", NotPersonal),
            col("created_by", NotPersonal),
            col("created_at", NotPersonal),
            col("last_used_at", Usage),
            col("revoked_at", NotPersonal),
        ],
    },
    Table {
        name: "audit_log",
        purpose: "Append-only record of security- and privacy-relevant actions.",
        // Rows naming a user or a contact as their target are anonymised with them too.
        links: &[
            link(Workspace, "workspace_id"),
            link(PlatformUser, "actor_user_id"),
            link(PlatformUser, "target_id"),
            link(Contact, "target_id"),
        ],
        erasure: ErasureAction::Anonymise {
            columns: &[
                "actor_user_id",
                "actor_email",
                "ip",
                "user_agent",
                // Often a user's id (a member changed, removed): it would link the row back.
                "target_id",
                "target_label",
            ],
        },
        retention: Retention::AuditLog,
        columns: &[
            col("id", NotPersonal),
            col("occurred_at", NotPersonal),
            col("workspace_id", NotPersonal),
            col("actor_user_id", Identity),
            col("actor_email", ContactDetails),
            col("action", NotPersonal),
            col("target_type", NotPersonal),
            col("target_id", Identity),
            col("target_label", Identity),
            col("ip", Usage),
            col("user_agent", Usage),
            col("details", Audit),
            col("anonymised_at", NotPersonal),
        ],
    },
    Table {
        name: "jobs",
        purpose: "Durable background jobs (sends, erasure steps, sweeps, emails).",
        links: &[link(Workspace, "workspace_id")],
        // Payloads can name a person (an email to send); a subject's queued jobs are deleted.
        erasure: ErasureAction::Delete,
        retention: Retention::Expiring { after_days: 14 },
        columns: &[
            col("id", NotPersonal),
            col("kind", NotPersonal),
            col("payload", Identity),
            col("workspace_id", NotPersonal),
            col("state", NotPersonal),
            col("attempts", NotPersonal),
            col("max_attempts", NotPersonal),
            col("run_at", NotPersonal),
            col("lease_expires_at", NotPersonal),
            col("locked_by", NotPersonal),
            col("last_error", Identity),
            col("dedupe_key", NotPersonal),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
            col("finished_at", NotPersonal),
        ],
    },
    Table {
        name: "job_schedules",
        purpose: "Recurring schedules that enqueue sweeps and digests.",
        links: &[],
        erasure: ErasureAction::None,
        retention: Retention::Operational,
        columns: &[
            col("name", NotPersonal),
            col("kind", NotPersonal),
            col("interval_seconds", NotPersonal),
            col("next_run_at", NotPersonal),
            col("last_run_at", NotPersonal),
        ],
    },
    Table {
        name: "workspace_keys",
        purpose: "Each workspace's data key, stored only wrapped under the master key; destroying it makes the workspace's sealed data unreadable.",
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("key_id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("wrapped_key", Credentials),
            col("created_at", NotPersonal),
            col("destroyed_at", NotPersonal),
        ],
    },
    Table {
        name: "channel_connections",
        purpose: "The business channels a workspace connected (WhatsApp numbers, pages, Instagram, TikTok and Telegram accounts, website widgets) and their sealed credentials.",
        links: &[
            link(Workspace, "workspace_id"),
            link(ChannelConnection, "id"),
            link(MetaUser, "meta_user_id"),
        ],
        // Disconnecting keeps the row (conversations refer to it) but nothing secret or
        // naming who authorised it.
        erasure: ErasureAction::Anonymise {
            columns: &["credentials", "webhook_secret_hash", "meta_user_id"],
        },
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("kind", NotPersonal),
            // A name like "Maria's phone"; a sole trader's page or number identifies them.
            col("name", Identity),
            col("account_id", Identity),
            col("credentials", Credentials),
            col("webhook_secret_hash", Credentials),
            col("meta_user_id", Identity),
            col("settings", NotPersonal),
            col("status", NotPersonal),
            col("status_reason", NotPersonal),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
            col("disconnected_at", NotPersonal),
        ],
    },
    Table {
        name: "contacts",
        purpose: "The end-customers who write to a workspace.",
        links: &[link(Workspace, "workspace_id"), link(Contact, "id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("display_name", Identity),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
            col("last_seen_at", Usage),
            // Restriction of processing (GDPR art. 18) and objection to direct marketing
            // (art. 21): facts about the person, exported with the rest.
            col("restricted_at", Usage),
            col("restriction_reason", Audit),
            col("marketing_objection_at", Usage),
            // What agents typed or imported about the person (migration 0012).
            col("email", ContactDetails),
            col("phone", ContactDetails),
            // One of a fixed list (lead, customer...): says nothing about a person by itself.
            col("lifecycle_stage", NotPersonal),
            col("idempotency_key", NotPersonal),
        ],
    },
    Table {
        name: "contact_identities",
        purpose: "How each contact is known on each channel (WhatsApp id, page-scoped id, Instagram id, TikTok id, Telegram id, widget visitor).",
        links: &[
            link(Workspace, "workspace_id"),
            link(Contact, "contact_id"),
            link(ChannelConnection, "connection_id"),
        ],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("contact_id", NotPersonal),
            col("connection_id", NotPersonal),
            col("kind", NotPersonal),
            col("external_id", Identity),
            col("username", Identity),
            col("phone", ContactDetails),
            col("created_at", NotPersonal),
        ],
    },
    Table {
        name: "conversations",
        purpose: "Threads between a contact and the business on one channel, with their state and assignee.",
        // The assignee is a platform user's id: their deletion sets it to NULL (foreign key).
        links: &[
            link(Workspace, "workspace_id"),
            link(Contact, "contact_id"),
            link(ChannelConnection, "connection_id"),
        ],
        erasure: ErasureAction::Delete,
        retention: Retention::Swept(&[
            sweep(
                RetentionClass::Conversations,
                "last_message_at",
                Some("connection_id"),
                Some("id"),
            ),
            sweep(
                RetentionClass::ClosedConversations,
                "resolved_at",
                Some("connection_id"),
                Some("id"),
            ),
        ]),
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("contact_id", NotPersonal),
            col("connection_id", NotPersonal),
            col("status", NotPersonal),
            col("assignee_user_id", NotPersonal),
            col("last_message_at", Usage),
            col("last_inbound_at", Usage),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
            col("resolved_at", NotPersonal),
            col("activity_at", Usage),
            col("waiting_since", Usage),
            col("snoozed_until", NotPersonal),
            col("unread_count", NotPersonal),
            // The team it is assigned to (migration 0013).
            col("team_id", NotPersonal),
        ],
    },
    Table {
        name: "messages",
        purpose: "What contacts and the business wrote to each other, with delivery states.",
        links: &[
            link(Workspace, "workspace_id"),
            link(Contact, "contact_id"),
            link(ChannelConnection, "connection_id"),
        ],
        erasure: ErasureAction::Delete,
        retention: Retention::Swept(&[sweep(
            RetentionClass::Messages,
            "created_at",
            Some("connection_id"),
            Some("conversation_id"),
        )]),
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("conversation_id", NotPersonal),
            col("connection_id", NotPersonal),
            col("contact_id", NotPersonal),
            col("direction", NotPersonal),
            col("external_id", NotPersonal),
            col("content", MessageContent),
            col("text", MessageContent),
            // The ad a contact came from: what they clicked on.
            col("referral", Usage),
            col("status", NotPersonal),
            col("status_rank", NotPersonal),
            col("error_code", NotPersonal),
            col("error_reason", NotPersonal),
            col("author_user_id", NotPersonal),
            col("reply_to_external_id", NotPersonal),
            // A key the API client chose to make a reply's POST safe to retry.
            col("idempotency_key", NotPersonal),
            col("platform_at", Usage),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
            col("edited_at", NotPersonal),
            col("deleted_at", NotPersonal),
        ],
    },
    Table {
        name: "pending_statuses",
        purpose: "Delivery statuses that arrived before their message, applied when it lands.",
        links: &[
            link(Workspace, "workspace_id"),
            link(ChannelConnection, "connection_id"),
        ],
        erasure: ErasureAction::Delete,
        // A status whose message never arrives (sent outside Switchboard, no echo) expires.
        retention: Retention::Expiring { after_days: 7 },
        columns: &[
            col("connection_id", NotPersonal),
            col("external_id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("status", NotPersonal),
            col("status_rank", NotPersonal),
            col("status_at", NotPersonal),
            col("error_code", NotPersonal),
            col("error_reason", NotPersonal),
            col("received_at", NotPersonal),
        ],
    },
    Table {
        name: "consent_records",
        purpose: "The opt-in ledger: consent of contacts to business-initiated messages, with its source and proof.",
        links: &[
            link(Workspace, "workspace_id"),
            link(Contact, "contact_id"),
            link(ChannelConnection, "connection_id"),
        ],
        // An erased contact gets no more messages, so the proof has nothing left to justify.
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("contact_id", NotPersonal),
            col("connection_id", NotPersonal),
            col("kind", NotPersonal),
            col("source", NotPersonal),
            col("proof", Audit),
            col("granted_at", Usage),
            col("withdrawn_at", Usage),
            col("recorded_by", NotPersonal),
            col("created_at", NotPersonal),
        ],
    },
    Table {
        name: "message_templates",
        purpose: "WhatsApp message templates approved for a connection, synced from the platform.",
        links: &[
            link(Workspace, "workspace_id"),
            link(ChannelConnection, "connection_id"),
        ],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("connection_id", NotPersonal),
            col("name", NotPersonal),
            col("language", NotPersonal),
            col("category", NotPersonal),
            col("status", NotPersonal),
            col("body", NotPersonal),
            col("parameter_count", NotPersonal),
            col("synced_at", NotPersonal),
        ],
    },
    Table {
        name: "media_objects",
        purpose: "Attachments of messages (images, audio, video, documents) kept in the media store.",
        links: &[link(Workspace, "workspace_id"), link(Contact, "contact_id")],
        // Erasure deletes the stored object named by storage_key as well as the row.
        erasure: ErasureAction::Delete,
        // The sweep removes the stored files of deleted rows (here and those cascaded from
        // swept conversations and messages) from the media store.
        retention: Retention::Swept(&[sweep(RetentionClass::Media, "created_at", None, None)]),
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("message_id", NotPersonal),
            col("contact_id", NotPersonal),
            col("source", Media),
            col("storage_key", Media),
            col("content_type", NotPersonal),
            col("size_bytes", NotPersonal),
            col("sha256", NotPersonal),
            col("state", NotPersonal),
            col("error", NotPersonal),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
        ],
    },
    Table {
        name: "widget_visitors",
        purpose: "Anonymous visitors of a website chat widget, known by a random token their browser keeps (stored only hashed).",
        links: &[
            link(Workspace, "workspace_id"),
            link(Contact, "contact_id"),
            link(ChannelConnection, "connection_id"),
        ],
        // The visitor's own "Delete this conversation" deletes the row too, so the token stops
        // working at once. A visitor who never wrote has no contact and no conversation.
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            // The visitor's id is their contact identity's external id on the widget.
            col("id", Identity),
            col("workspace_id", NotPersonal),
            col("connection_id", NotPersonal),
            col("contact_id", NotPersonal),
            col("token_hash", Credentials),
            col("created_at", NotPersonal),
            col("last_seen_at", Usage),
        ],
    },
    Table {
        name: "comments",
        purpose: "Instagram comments on the business's media and replies to them, threaded.",
        links: &[
            link(Workspace, "workspace_id"),
            link(Contact, "contact_id"),
            link(ChannelConnection, "connection_id"),
        ],
        erasure: ErasureAction::Delete,
        // Swept like messages, per channel (an Instagram period applies to comments too).
        retention: Retention::Swept(&[sweep(
            RetentionClass::Messages,
            "created_at",
            Some("connection_id"),
            None,
        )]),
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("connection_id", NotPersonal),
            col("contact_id", NotPersonal),
            col("external_id", NotPersonal),
            col("media_id", NotPersonal),
            col("parent_external_id", NotPersonal),
            col("text", MessageContent),
            col("commented_at", Usage),
            col("created_at", NotPersonal),
        ],
    },
    Table {
        name: "labels",
        purpose: "The workspace's conversation labels, with their colours.",
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("name", NotPersonal),
            col("colour", NotPersonal),
            col("idempotency_key", NotPersonal),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
        ],
    },
    Table {
        name: "conversation_labels",
        purpose: "Which labels agents put on which conversations.",
        // Goes with its conversation (foreign key), which erasure of the contact deletes.
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        // Goes with its conversation (foreign key), which the retention sweep deletes.
        retention: Retention::Lifetime,
        columns: &[
            col("conversation_id", NotPersonal),
            col("label_id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("created_at", NotPersonal),
        ],
    },
    Table {
        name: "conversation_activities",
        purpose: "A conversation's private notes and system events (assigned, labelled, snoozed, resolved).",
        links: &[link(Workspace, "workspace_id"), link(Contact, "contact_id")],
        erasure: ErasureAction::Delete,
        // Goes with its conversation (foreign key), which the retention sweep deletes.
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("conversation_id", NotPersonal),
            col("contact_id", NotPersonal),
            col("kind", NotPersonal),
            col("author_user_id", NotPersonal),
            // Agents write about the customer in notes.
            col("body", MessageContent),
            col("idempotency_key", NotPersonal),
            col("created_at", NotPersonal),
        ],
    },
    Table {
        name: "teams",
        purpose: "Named groups of a workspace's members that conversations are assigned to.",
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            // Chosen by the business for a group ("Billing", "Spanish"), not for a person.
            col("name", NotPersonal),
            col("idempotency_key", NotPersonal),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
        ],
    },
    Table {
        name: "team_members",
        purpose: "Which of a workspace's members belong to which team.",
        // Goes with the membership (foreign key) when the member leaves the workspace.
        links: &[
            link(Workspace, "workspace_id"),
            link(PlatformUser, "user_id"),
        ],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("team_id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("user_id", NotPersonal),
            col("created_at", NotPersonal),
        ],
    },
    Table {
        name: "canned_responses",
        purpose: "Reply texts a workspace's agents reuse, with {{contact.name}}-style variables.",
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("shortcut", NotPersonal),
            // Written by the business for any customer; variables are filled in when used.
            col("body", NotPersonal),
            col("created_by", NotPersonal),
            col("idempotency_key", NotPersonal),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
        ],
    },
    Table {
        name: "webhook_subscriptions",
        purpose: "Outbound webhook endpoints of a workspace's own systems, the events each wants, and their signing secrets.",
        // Configuration the business typed about its own systems; who created it is in the
        // audit log, not here.
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("url", NotPersonal),
            col("description", NotPersonal),
            col("event_types", NotPersonal),
            col("enabled", NotPersonal),
            col("disabled_reason", NotPersonal),
            col("disabled_at", NotPersonal),
            col("secret", Credentials),
            col("previous_secret", Credentials),
            col("previous_secret_expires_at", NotPersonal),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
        ],
    },
    Table {
        name: "webhook_deliveries",
        purpose: "Each event sent to a webhook subscription and where its delivery stands (the delivery log).",
        // Ids, event types and states only: the payload is built from the live rows when an
        // attempt is made, so nothing about a person is stored here.
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Expiring { after_days: 30 },
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("subscription_id", NotPersonal),
            col("event_type", NotPersonal),
            col("subject_id", NotPersonal),
            col("occurred_at", NotPersonal),
            col("state", NotPersonal),
            col("attempts", NotPersonal),
            col("last_status_code", NotPersonal),
            col("next_attempt_at", NotPersonal),
            col("delivered_at", NotPersonal),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
        ],
    },
    Table {
        name: "webhook_attempts",
        purpose: "Every attempt at a webhook delivery: the receiver's status code, the time it took, a short error.",
        // The error is ours (a timeout, a refused connection, an HTTP status), never the
        // receiver's answer body.
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Expiring { after_days: 30 },
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("delivery_id", NotPersonal),
            col("attempt", NotPersonal),
            col("status_code", NotPersonal),
            col("duration_ms", NotPersonal),
            col("error", NotPersonal),
            col("attempted_at", NotPersonal),
        ],
    },
    Table {
        name: "events",
        purpose: "What changed in a workspace, in commit order, for live updates and catching up after a reconnect.",
        // Ids, kinds and states only: never message text or names.
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Expiring { after_days: 7 },
        columns: &[
            col("workspace_id", NotPersonal),
            col("seq", NotPersonal),
            col("kind", NotPersonal),
            col("conversation_id", NotPersonal),
            col("payload", NotPersonal),
            col("created_at", NotPersonal),
        ],
    },
    Table {
        name: "privacy_requests",
        purpose: "Data-subject requests (erase, export, restrict, object, rectify): their state, deadlines, erasure progress and the receipt that proves what was done.",
        links: &[
            link(Workspace, "workspace_id"),
            link_clearing(PlatformUser, "created_by", &["created_by"]),
        ],
        // The request is the proof that a subject's rights were answered: it stays (no
        // identifiers of the subject in it, only ids and hashes), but who typed it in does not,
        // and the sealed identifiers kept for the residue scan go.
        // The requester's address and the identifiers they gave at intake go too (they are
        // also cleared when the request is answered).
        // (`notify` is not cleared by another subject's erasure: it is the sealed address a
        // pending deletion confirms to, and goes when that request completes or is cancelled.)
        erasure: ErasureAction::Anonymise {
            columns: &["created_by", "needles", "requester_email", "intake_details"],
        },
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("kind", NotPersonal),
            col("source", NotPersonal),
            col("regime", NotPersonal),
            col("subject_kind", NotPersonal),
            col("subject_id", NotPersonal),
            // SHA-256 of an app-scoped Meta id: pseudonymous.
            col("subject_key_hash", Identity),
            col("source_ref", NotPersonal),
            col("confirmation_code", NotPersonal),
            col("state", NotPersonal),
            col("state_reason", Audit),
            col("needs_review", NotPersonal),
            col("received_at", NotPersonal),
            col("acknowledge_by", NotPersonal),
            col("respond_by", NotPersonal),
            col("first_deadline", NotPersonal),
            col("extended_at", NotPersonal),
            col("paused_since", NotPersonal),
            col("paused_days", NotPersonal),
            col("acknowledged_at", NotPersonal),
            col("completed_at", NotPersonal),
            col("refused_at", NotPersonal),
            col("plan", NotPersonal),
            // Sealed under the platform key; cleared on completion.
            col("needles", Identity),
            // Sealed under the platform key: the addresses told when the request completes
            // (self-service account and workspace deletion); cleared on completion.
            col("notify", ContactDetails),
            col("progress", NotPersonal),
            col("receipt", Audit),
            col("residue", Audit),
            col("created_by", Identity),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
            // Where the acknowledgement and completion emails go: kept only while the request
            // is open (cleared when it is completed or refused).
            col("requester_email", ContactDetails),
            // What a requester gave to be found by (phone, email, channel id, widget domain
            // and time): kept only until the operator chose the subject.
            col("intake_details", ContactDetails),
        ],
    },
    Table {
        name: "privacy_verifications",
        purpose: "Codes sent to an identity a contact already has, to verify that a privacy request received by email comes from that contact: stored only as SHA-256, expiring, a few attempts each.",
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("request_id", NotPersonal),
            col("method", NotPersonal),
            col("conversation_id", NotPersonal),
            // SHA-256 of a single-use code.
            col("code_hash", Credentials),
            col("attempts", NotPersonal),
            col("expires_at", NotPersonal),
            col("created_by", NotPersonal),
            col("created_at", NotPersonal),
            col("verified_at", NotPersonal),
            col("superseded_at", NotPersonal),
        ],
    },
    Table {
        name: "privacy_holidays",
        purpose: "Each workspace's public holidays, which the privacy deadline calendar skips like weekends.",
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("workspace_id", NotPersonal),
            col("day", NotPersonal),
            col("name", NotPersonal),
            col("created_at", NotPersonal),
        ],
    },
    Table {
        name: "privacy_digests",
        purpose: "The days each workspace's deadline digest was sent, so it goes once a day whatever the number of processes.",
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Operational,
        columns: &[
            col("workspace_id", NotPersonal),
            col("day", NotPersonal),
            col("requests", NotPersonal),
            col("sent_at", NotPersonal),
        ],
    },
    Table {
        name: "legal_holds",
        purpose: "Legal holds on a contact, a conversation or a workspace: held data survives erasure and retention until released.",
        links: &[
            link(Workspace, "workspace_id"),
            link(PlatformUser, "placed_by"),
            link(PlatformUser, "released_by"),
        ],
        erasure: ErasureAction::Anonymise {
            columns: &["placed_by", "released_by"],
        },
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("scope_kind", NotPersonal),
            col("scope_id", NotPersonal),
            col("reason", Audit),
            col("reference", Audit),
            col("placed_by", Identity),
            col("placed_at", NotPersonal),
            col("released_by", Identity),
            col("released_at", NotPersonal),
        ],
    },
    Table {
        name: "retention_rules",
        purpose: "Each workspace's retention settings: how many days each class of data is kept, per channel.",
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("workspace_id", NotPersonal),
            col("data_class", NotPersonal),
            col("channel", NotPersonal),
            col("days", NotPersonal),
            col("updated_at", NotPersonal),
            col("updated_by", NotPersonal),
        ],
    },
    Table {
        name: "workspace_privacy_settings",
        purpose: "Each workspace's privacy contact address, shown on its public data-deletion page.",
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("workspace_id", NotPersonal),
            // Often a role address, but can be a person's own.
            col("contact_email", ContactDetails),
            col("updated_at", NotPersonal),
            // Days between a workspace's deletion and its erasure (NULL: 14).
            col("deletion_grace_days", NotPersonal),
        ],
    },
    Table {
        name: "contact_exports",
        purpose: "Exports of everything about one contact (access and portability requests): a zip file in the data directory, downloadable for a limited time.",
        links: &[
            link(Workspace, "workspace_id"),
            link(Contact, "contact_id"),
            link(PlatformUser, "requested_by"),
        ],
        // The file goes with the row (the sweep removes files without a row).
        erasure: ErasureAction::Delete,
        retention: Retention::Expiring {
            after_days: crate::retention::EXPORT_LIFETIME_DAYS as u32,
        },
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("contact_id", NotPersonal),
            col("requested_by", NotPersonal),
            col("state", NotPersonal),
            // The file holds the contact's whole record.
            col("file_name", Media),
            col("size_bytes", NotPersonal),
            col("sha256", NotPersonal),
            col("error", NotPersonal),
            col("created_at", NotPersonal),
            col("ready_at", NotPersonal),
            col("expires_at", NotPersonal),
            col("downloaded_at", Usage),
        ],
    },
    Table {
        name: "contact_attributes",
        purpose: "The custom contact attributes a workspace defined: key, label, type, options, and whether values are personal.",
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("key", NotPersonal),
            col("label", NotPersonal),
            col("kind", NotPersonal),
            col("options", NotPersonal),
            col("personal", NotPersonal),
            col("idempotency_key", NotPersonal),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
        ],
    },
    Table {
        name: "contact_attribute_values",
        purpose: "Each contact's values of the workspace's custom attributes.",
        links: &[link(Workspace, "workspace_id"), link(Contact, "contact_id")],
        // Erased and exported with the contact, whichever column holds the value.
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("contact_id", NotPersonal),
            col("attribute_id", NotPersonal),
            col("workspace_id", NotPersonal),
            // A value of an attribute its workspace marked not personal (a plan, a region):
            // says nothing about a person by itself.
            col("value", NotPersonal),
            // A value of an attribute marked personal (a birthday, an address, a company).
            col("personal_value", Identity),
            col("updated_at", NotPersonal),
        ],
    },
    Table {
        name: "contact_labels",
        purpose: "Which of the workspace's labels agents put on which contacts.",
        links: &[link(Workspace, "workspace_id"), link(Contact, "contact_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("contact_id", NotPersonal),
            col("label_id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("created_at", NotPersonal),
        ],
    },
    Table {
        name: "segments",
        purpose: "Saved filters over a workspace's contacts (stage, labels, channel, attributes, a search).",
        // The author's id is cleared with their account (foreign key); the segment stays
        // the workspace's.
        links: &[link(Workspace, "workspace_id")],
        erasure: ErasureAction::Delete,
        retention: Retention::Lifetime,
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("name", NotPersonal),
            // A filter's search text can be a person's name, email or phone number.
            col("filter", Identity),
            col("created_by", NotPersonal),
            col("idempotency_key", NotPersonal),
            col("created_at", NotPersonal),
            col("updated_at", NotPersonal),
        ],
    },
    Table {
        name: "workspace_exports",
        purpose: "Exports of a whole workspace (every table of its data, media included), offered before it is deleted: a zip file in the data directory, downloadable for a limited time.",
        links: &[
            link(Workspace, "workspace_id"),
            link(PlatformUser, "requested_by"),
        ],
        // The file goes with the row (the sweep removes files without a row).
        erasure: ErasureAction::Delete,
        retention: Retention::Expiring {
            after_days: crate::retention::EXPORT_LIFETIME_DAYS as u32,
        },
        columns: &[
            col("id", NotPersonal),
            col("workspace_id", NotPersonal),
            col("requested_by", NotPersonal),
            col("state", NotPersonal),
            // The file holds the workspace's whole record.
            col("file_name", Media),
            col("size_bytes", NotPersonal),
            col("sha256", NotPersonal),
            col("error", NotPersonal),
            col("created_at", NotPersonal),
            col("ready_at", NotPersonal),
            col("expires_at", NotPersonal),
            col("downloaded_at", Usage),
        ],
    },
];

/// A full-text index over a table's columns. It is no table of its own (SQLite: an FTS5
/// virtual table with external content, kept by triggers; PostgreSQL: a GIN expression index),
/// so it holds what its table holds and goes when the rows go: erasing the rows erases the
/// index entries in the same statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SearchIndex {
    pub name: &'static str,
    /// The indexed table, classified in [`TABLES`].
    pub table: &'static str,
    pub columns: &'static [&'static str],
    pub links: &'static [SubjectLink],
}

/// Every search index of the schema (the store's tests hold both backends to it).
pub const SEARCH_INDEXES: &[SearchIndex] = &[SearchIndex {
    name: "message_search",
    table: "messages",
    columns: &["text"],
    links: &[
        link(Workspace, "workspace_id"),
        link(Contact, "contact_id"),
        link(ChannelConnection, "connection_id"),
    ],
}];

/// A row that belongs to a subject through another table's row: `column` of `table` (or the
/// key `json_key` inside that JSON column) holds the `id` of a row of `parent`. Erasure takes
/// these rows with their parent's, before the parent, so they are counted and nothing that
/// names an erased row (a queued send, a pending download) outlives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reference {
    pub table: &'static str,
    /// The table's own key column.
    pub id_column: &'static str,
    pub column: &'static str,
    pub json_key: Option<&'static str>,
    pub parent: &'static str,
}

/// Every indirect link of the schema (a foreign key without a subject link of its own, or an
/// id inside a job's payload).
pub static REFERENCES: &[Reference] = &[
    Reference {
        table: "media_objects",
        id_column: "id",
        column: "message_id",
        json_key: None,
        parent: "messages",
    },
    Reference {
        table: "jobs",
        id_column: "id",
        column: "payload",
        json_key: Some("message_id"),
        parent: "messages",
    },
    Reference {
        table: "jobs",
        id_column: "id",
        column: "payload",
        json_key: Some("media_id"),
        parent: "media_objects",
    },
];

/// A column that names a file in the media store (`<media_dir>/<key>`): erasing the row
/// deletes the file first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoredFile {
    pub table: &'static str,
    pub id_column: &'static str,
    pub key_column: &'static str,
}

pub static STORED_FILES: &[StoredFile] = &[StoredFile {
    table: "media_objects",
    id_column: "id",
    key_column: "storage_key",
}];

/// The tables the retention sweep deletes from under a class, with the rule that applies.
pub fn swept(class: RetentionClass) -> impl Iterator<Item = (&'static Table, &'static SweepRule)> {
    TABLES.iter().flat_map(move |t| {
        let rules: &'static [SweepRule] = match t.retention {
            Retention::Swept(rules) => rules,
            _ => &[],
        };
        rules
            .iter()
            .filter(move |r| r.class == class)
            .map(move |r| (t, r))
    })
}

/// The tables whose rows belong to `subject` through one of their columns (erasure and
/// export), with that column.
pub fn linked(subject: SubjectKind) -> impl Iterator<Item = (&'static Table, &'static str)> {
    TABLES.iter().filter_map(move |t| {
        t.links
            .iter()
            .find(|l| l.subject == subject)
            .map(|l| (t, l.column))
    })
}

/// The entry for `table`, if it is classified.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_table_is_declared_once() {
        let mut seen = HashSet::new();
        for t in TABLES {
            assert!(seen.insert(t.name), "{} declared twice", t.name);
            let mut cols = HashSet::new();
            for c in t.columns {
                assert!(cols.insert(c.name), "{}.{} declared twice", t.name, c.name);
            }
        }
    }

    #[test]
    fn links_and_anonymised_columns_name_real_columns() {
        for t in TABLES {
            for l in t.links {
                assert!(
                    t.column(l.column).is_some(),
                    "{}: link column {}",
                    t.name,
                    l.column
                );
            }
            if let ErasureAction::Anonymise { columns } = t.erasure {
                for c in columns {
                    assert!(t.column(c).is_some(), "{}: anonymised column {c}", t.name);
                }
            }
        }
    }

    #[test]
    fn references_and_stored_files_name_real_columns() {
        for r in REFERENCES {
            let t = table(r.table).unwrap();
            assert!(t.column(r.column).is_some(), "{}.{}", r.table, r.column);
            assert!(
                t.column(r.id_column).is_some(),
                "{}.{}",
                r.table,
                r.id_column
            );
            // Erasure finds a parent's rows by `id`.
            assert!(
                table(r.parent).unwrap().column("id").is_some(),
                "{}",
                r.parent
            );
        }
        for f in STORED_FILES {
            let t = table(f.table).unwrap();
            assert!(t.column(f.key_column).is_some() && t.column(f.id_column).is_some());
        }
    }

    #[test]
    fn sweep_rules_name_real_columns_and_rows_have_ids() {
        for t in TABLES {
            if let Retention::Swept(rules) = t.retention {
                assert!(
                    t.column("id").is_some(),
                    "{}: swept rows need an id",
                    t.name
                );
                assert!(t.column("workspace_id").is_some(), "{}", t.name);
                for r in rules {
                    for c in [
                        Some(r.age_column),
                        r.connection_column,
                        r.conversation_column,
                    ]
                    .into_iter()
                    .flatten()
                    {
                        assert!(t.column(c).is_some(), "{}: sweep column {c}", t.name);
                    }
                    assert_eq!(
                        r.connection_column.is_some(),
                        r.class.per_channel(),
                        "{}: per-channel rules need the connection column",
                        t.name
                    );
                }
            }
        }
        for class in RetentionClass::ALL {
            assert!(swept(class).next().is_some(), "{class:?} sweeps nothing");
        }
    }

    #[test]
    fn personal_tables_say_what_erasure_does() {
        for t in TABLES
            .iter()
            .filter(|t| t.is_personal() && !t.links.is_empty())
        {
            assert_ne!(
                t.erasure,
                ErasureAction::None,
                "{} holds personal data",
                t.name
            );
        }
    }
}
