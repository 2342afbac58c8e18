//! Outbound webhooks (Standard Webhooks): a workspace's subscriptions to events, the
//! deliveries events become, and the log of every attempt.
//!
//! Invariants:
//! - a change that is an event records it with [`Tx::record_webhook`] (conversation and
//!   message events follow from [`Tx::record_event`] on their own); when the transaction
//!   commits, each event becomes a delivery row and a `webhook_delivery` job for every
//!   enabled subscription that wants it, in that same transaction — so an event is sent if
//!   and only if its change committed;
//! - nothing about a person is stored for a delivery: only the event type and the id of what
//!   it is about. The payload is built from the current rows when an attempt is made
//!   ([`Store::webhook_event_data`]), ids and states only, so data erased in between is
//!   never sent;
//! - signing secrets are sealed under the workspace key, bound to their table, column and
//!   row; they leave the store only through [`Store::webhook_signing_secrets`] (for the
//!   delivery job) and in the answer that creates or rotates them;
//! - a delivery keeps its id (the `webhook-id`) on every attempt; an attempt is recorded,
//!   and the next one scheduled (a job with its own dedupe key), in one transaction.

use crate::jobs::NewJob;
use crate::row::{RowExt, found, known, ms, text_enum};
use crate::workspace_keys::sealed_by;
use crate::{Result, Store, StoreError, Tx};
use secrecy::{ExposeSecret, SecretSlice};
use sqlx::any::AnyRow;
use std::collections::BTreeMap;
use switchboard_core::{
    ConversationId, Timestamp, WebhookAttemptId, WebhookDeliveryId, WebhookSubscriptionId,
    WorkspaceId,
};
use switchboard_keys::{MasterKey, SealContext};

/// The job kind that makes one attempt at one delivery.
pub const WEBHOOK_DELIVERY_JOB: &str = "webhook_delivery";

/// The event type of a delivery sent by "send test" (not subscribable).
pub const TEST_EVENT: &str = "webhook.test";

text_enum! {
    /// The events a subscription can ask for.
    pub enum WebhookEventType {
        ConversationCreated = "conversation.created",
        /// Status, assignment or labels changed (a resolve is also `conversation.resolved`).
        ConversationUpdated = "conversation.updated",
        ConversationResolved = "conversation.resolved",
        MessageCreated = "message.created",
        ContactCreated = "contact.created",
        /// A name, username or phone the platform gave, a restriction or an objection.
        ContactUpdated = "contact.updated",
        ContactDeleted = "contact.deleted",
        PrivacyRequestCompleted = "privacy_request.completed",
    }
}

text_enum! {
    /// Where a delivery stands.
    pub enum DeliveryState {
        /// Waiting for its next attempt.
        Pending = "pending",
        /// A 2xx answered.
        Delivered = "delivered",
        /// The retry schedule ran out, or the receiver answered 410 Gone.
        Failed = "failed",
        /// Its subscription was disabled before it could be delivered.
        Cancelled = "cancelled",
    }
}

/// An event waiting for its transaction to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingHook {
    ws: WorkspaceId,
    kind: WebhookEventType,
    subject: String,
    at: Timestamp,
}

/// The webhook events a live-update event implies: a new message; a conversation's status,
/// assignment or labels changing (unread marks are one agent's view, not the conversation's).
pub(crate) fn hooks_for_event(
    kind: &str,
    conversation: Option<ConversationId>,
    payload: &serde_json::Value,
) -> Vec<(WebhookEventType, String)> {
    match (kind, conversation) {
        ("message.created", _) => payload
            .get("message_id")
            .and_then(|v| v.as_str())
            .map(|id| vec![(WebhookEventType::MessageCreated, id.to_owned())])
            .unwrap_or_default(),
        ("conversation.updated", Some(c)) => {
            let changed = ["status", "assignee_user_id", "label_added", "label_removed"]
                .iter()
                .any(|k| payload.get(k).is_some());
            let mut hooks = Vec::new();
            if changed {
                hooks.push((WebhookEventType::ConversationUpdated, c.to_string()));
            }
            if payload.get("status").and_then(|v| v.as_str()) == Some("resolved") {
                hooks.push((WebhookEventType::ConversationResolved, c.to_string()));
            }
            hooks
        }
        _ => Vec::new(),
    }
}

/// A subscription as the API and pages show it (never its secrets).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookSubscription {
    pub id: WebhookSubscriptionId,
    pub workspace_id: WorkspaceId,
    pub url: String,
    pub description: String,
    pub event_types: Vec<WebhookEventType>,
    pub enabled: bool,
    /// `admin` or `gone` (the receiver answered 410) while disabled.
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<Timestamp>,
    /// Until when the secret before the last rotation still signs.
    pub previous_secret_expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A subscription to create.
#[derive(Debug)]
pub struct NewSubscription<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a [WebhookEventType],
    /// The secret's raw bytes (the `whsec_` text is their base64).
    pub secret: &'a [u8],
}

/// What to change on a subscription; `None` keeps a field.
#[derive(Debug, Default)]
pub struct SubscriptionChange<'a> {
    pub url: Option<&'a str>,
    pub description: Option<&'a str>,
    pub event_types: Option<&'a [WebhookEventType]>,
    pub enabled: Option<bool>,
}

/// The secrets a delivery is signed with: the current one, and the one before the last
/// rotation while it is still valid.
pub struct SigningSecrets {
    pub current: SecretSlice<u8>,
    pub previous: Option<SecretSlice<u8>>,
}

impl std::fmt::Debug for SigningSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecrets(..)")
    }
}

/// One event for one subscription.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookDelivery {
    pub id: WebhookDeliveryId,
    pub subscription_id: WebhookSubscriptionId,
    pub event_type: String,
    pub subject_id: String,
    pub occurred_at: Timestamp,
    pub state: DeliveryState,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub next_attempt_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl WebhookDelivery {
    /// The `webhook-id` header: the same on every attempt, with no `.` in it.
    pub fn webhook_id(&self) -> String {
        format!("msg_{}", self.id.as_uuid().simple())
    }
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookAttempt {
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub attempted_at: Timestamp,
}

/// What became of an attempt, and what follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// A 2xx.
    Delivered,
    /// Try again at this time.
    RetryAt(Timestamp),
    /// No attempts left.
    Failed,
    /// 410 Gone: the delivery fails and the subscription is disabled.
    Gone,
}

/// An attempt to record.
#[derive(Debug, Clone)]
pub struct AttemptOutcome<'a> {
    pub status_code: Option<u16>,
    pub duration_ms: i64,
    /// Ours, short (a timeout, a refused connection); never the receiver's answer.
    pub error: Option<&'a str>,
    pub result: AttemptResult,
}

fn secret_at<'a>(id: &'a str, column: &'static str) -> SealContext<'a> {
    SealContext {
        table: "webhook_subscriptions",
        column,
        row: id,
    }
}

const SUBSCRIPTION_COLUMNS: &str = "id, workspace_id, url, description, event_types, enabled, \
     disabled_reason, disabled_at, previous_secret_expires_at, created_at, updated_at";

fn subscription_from(row: &AnyRow) -> Result<WebhookSubscription> {
    let types: Vec<String> = crate::row::json(row, "event_types")?;
    Ok(WebhookSubscription {
        id: row.parsed("id")?,
        workspace_id: row.parsed("workspace_id")?,
        url: row.text("url")?,
        description: row.text("description")?,
        // A type this version no longer knows is skipped rather than failing the listing.
        event_types: types
            .iter()
            .filter_map(|t| WebhookEventType::parse(t))
            .collect(),
        enabled: row.int("enabled")? == 1,
        disabled_reason: row.opt_text("disabled_reason")?,
        disabled_at: row.opt_time("disabled_at")?,
        previous_secret_expires_at: row.opt_time("previous_secret_expires_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

const DELIVERY_COLUMNS: &str = "id, subscription_id, event_type, subject_id, occurred_at, state, \
     attempts, last_status_code, next_attempt_at, delivered_at, created_at";

fn delivery_from(row: &AnyRow) -> Result<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: row.parsed("id")?,
        subscription_id: row.parsed("subscription_id")?,
        event_type: row.text("event_type")?,
        subject_id: row.text("subject_id")?,
        occurred_at: row.time("occurred_at")?,
        state: known(row, "state", DeliveryState::parse)?,
        attempts: row.int("attempts")?,
        last_status_code: row.opt_int("last_status_code")?,
        next_attempt_at: row.opt_time("next_attempt_at")?,
        delivered_at: row.opt_time("delivered_at")?,
        created_at: row.time("created_at")?,
    })
}

fn types_json(types: &[WebhookEventType]) -> String {
    let mut names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    serde_json::Value::from(names).to_string()
}

/// The job that makes the next attempt at `delivery`, at `run_at`. The dedupe key names the
/// attempt, so recording an attempt twice cannot schedule two.
fn delivery_job(
    ws: WorkspaceId,
    delivery: WebhookDeliveryId,
    attempt: i64,
    run_at: Timestamp,
) -> NewJob {
    let mut job = NewJob::new(
        WEBHOOK_DELIVERY_JOB,
        // The attempt's number: a job whose attempt was already made (a manual redelivery
        // got there first) does nothing.
        serde_json::json!({ "delivery_id": delivery.to_string(), "attempt": attempt }),
        run_at,
    );
    job.workspace_id = Some(ws);
    // HTTP failures are rescheduled by the handler on the webhook schedule; the job's own
    // retries only cover trouble on our side (the database).
    job.max_attempts = 3;
    job.dedupe_key = Some(format!("webhook:{delivery}:{attempt}"));
    job
}

impl Tx {
    /// Records that `kind` happened to `subject` (an id), to become deliveries when this
    /// transaction commits.
    pub fn record_webhook(
        &mut self,
        ws: WorkspaceId,
        kind: WebhookEventType,
        subject: impl ToString,
        at: Timestamp,
    ) {
        self.1.hooks.push(PendingHook {
            ws,
            kind,
            subject: subject.to_string(),
            at,
        });
    }

    /// Turns the recorded webhook events into deliveries and jobs, last thing before the
    /// commit. One read of a workspace's enabled subscriptions per commit that has events.
    pub(crate) async fn flush_webhooks(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.1.hooks);
        if pending.is_empty() {
            return Ok(());
        }
        let mut by_ws: BTreeMap<String, Vec<PendingHook>> = BTreeMap::new();
        for hook in pending {
            let list = by_ws.entry(hook.ws.to_string()).or_default();
            // Two changes to one thing in one transaction are one event: the payload is
            // read when it is sent anyway.
            if !list
                .iter()
                .any(|h| h.kind == hook.kind && h.subject == hook.subject)
            {
                list.push(hook);
            }
        }
        for (ws, hooks) in by_ws {
            let rows = sqlx::query(
                "SELECT id, event_types FROM webhook_subscriptions \
                 WHERE workspace_id = $1 AND enabled = 1 ORDER BY id",
            )
            .bind(&ws)
            .fetch_all(self.conn())
            .await?;
            for row in &rows {
                let subscription: WebhookSubscriptionId = row.parsed("id")?;
                let types: Vec<String> = crate::row::json(row, "event_types")?;
                for hook in &hooks {
                    if types.iter().any(|t| t == hook.kind.as_str()) {
                        self.insert_delivery(
                            hook.ws,
                            subscription,
                            hook.kind.as_str(),
                            &hook.subject,
                            hook.at,
                            hook.at,
                        )
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A delivery of `event_type` about `subject` to `subscription`, with its first attempt
    /// queued for now.
    async fn insert_delivery(
        &mut self,
        ws: WorkspaceId,
        subscription: WebhookSubscriptionId,
        event_type: &str,
        subject: &str,
        occurred_at: Timestamp,
        now: Timestamp,
    ) -> Result<WebhookDeliveryId> {
        let id = WebhookDeliveryId::new();
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, workspace_id, subscription_id, event_type, \
             subject_id, occurred_at, state, attempts, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(subscription.to_string())
        .bind(event_type)
        .bind(subject)
        .bind(ms(occurred_at))
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        self.enqueue(delivery_job(ws, id, 1, now), now).await?;
        Ok(id)
    }

    /// Creates a subscription, sealing its secret under the workspace key.
    pub async fn insert_webhook_subscription(
        &mut self,
        ws: WorkspaceId,
        new: &NewSubscription<'_>,
        master: &MasterKey,
        now: Timestamp,
    ) -> Result<WebhookSubscription> {
        let id = WebhookSubscriptionId::new();
        let key = self.workspace_key(ws, master, now).await?;
        let sealed = key
            .sealer()
            .seal(new.secret, secret_at(&id.to_string(), "secret"))?;
        sqlx::query(
            "INSERT INTO webhook_subscriptions (id, workspace_id, url, description, event_types, \
             enabled, secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(new.url)
        .bind(new.description)
        .bind(types_json(new.event_types))
        .bind(sealed)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        self.webhook_subscription(ws, id).await
    }

    /// The subscription, read inside this transaction.
    pub async fn webhook_subscription(
        &mut self,
        ws: WorkspaceId,
        id: WebhookSubscriptionId,
    ) -> Result<WebhookSubscription> {
        let row = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        subscription_from(&row)
    }

    /// Changes what `change` names. Enabling clears why it was disabled; disabling by an
    /// admin cancels the deliveries still pending.
    pub async fn update_webhook_subscription(
        &mut self,
        ws: WorkspaceId,
        id: WebhookSubscriptionId,
        change: &SubscriptionChange<'_>,
        now: Timestamp,
    ) -> Result<WebhookSubscription> {
        let before = self.webhook_subscription(ws, id).await?;
        let enabled = change.enabled.unwrap_or(before.enabled);
        let (reason, at) = match (before.enabled, enabled) {
            (_, true) => (None, None),
            (true, false) => (Some("admin".to_owned()), Some(ms(now))),
            (false, false) => (before.disabled_reason.clone(), before.disabled_at.map(ms)),
        };
        sqlx::query(
            "UPDATE webhook_subscriptions SET url = $3, description = $4, event_types = $5, \
             enabled = $6, disabled_reason = $7, disabled_at = $8, updated_at = $9 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(change.url.unwrap_or(&before.url))
        .bind(change.description.unwrap_or(&before.description))
        .bind(types_json(
            change.event_types.unwrap_or(&before.event_types),
        ))
        .bind(i64::from(enabled))
        .bind(reason)
        .bind(at)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        if before.enabled && !enabled {
            self.cancel_pending_deliveries(ws, id, now).await?;
        }
        self.webhook_subscription(ws, id).await
    }

    async fn cancel_pending_deliveries(
        &mut self,
        ws: WorkspaceId,
        id: WebhookSubscriptionId,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'cancelled', next_attempt_at = NULL, updated_at = $3 \
             WHERE workspace_id = $1 AND subscription_id = $2 AND state = 'pending'",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Deletes the subscription with its delivery log (queued attempts find nothing and end).
    pub async fn delete_webhook_subscription(
        &mut self,
        ws: WorkspaceId,
        id: WebhookSubscriptionId,
    ) -> Result<WebhookSubscription> {
        let before = self.webhook_subscription(ws, id).await?;
        // Children first: SQLite's foreign keys cascade too, but say it rather than rely on it.
        sqlx::query(
            "DELETE FROM webhook_attempts WHERE workspace_id = $1 AND delivery_id IN \
             (SELECT id FROM webhook_deliveries WHERE workspace_id = $1 AND subscription_id = $2)",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .execute(self.conn())
        .await?;
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE workspace_id = $1 AND subscription_id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .execute(self.conn())
        .await?;
        let done =
            sqlx::query("DELETE FROM webhook_subscriptions WHERE workspace_id = $1 AND id = $2")
                .bind(ws.to_string())
                .bind(id.to_string())
                .execute(self.conn())
                .await?;
        found(done)?;
        Ok(before)
    }

    /// Replaces the secret with `new_secret`; the old one keeps signing (beside the new one)
    /// until `keep_until`. A secret rotated out earlier and still valid is dropped.
    pub async fn rotate_webhook_secret(
        &mut self,
        ws: WorkspaceId,
        id: WebhookSubscriptionId,
        new_secret: &[u8],
        master: &MasterKey,
        keep_until: Timestamp,
        now: Timestamp,
    ) -> Result<WebhookSubscription> {
        let sealed: Vec<u8> = sqlx::query(
            "SELECT secret FROM webhook_subscriptions WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?
        .opt_bytes("secret")?
        .ok_or(StoreError::Corrupt(
            "a webhook subscription has no secret".into(),
        ))?;
        let row = id.to_string();
        let old_key = match sealed_by(&sealed) {
            Some(k) => self.workspace_key_by_id(ws, k, master).await?,
            None => return Err(StoreError::Sealing(switchboard_keys::KeyError::Unseal)),
        };
        let old = old_key.sealer().open(&sealed, secret_at(&row, "secret"))?;
        let key = self.workspace_key(ws, master, now).await?;
        let previous = key
            .sealer()
            .seal(&old, secret_at(&row, "previous_secret"))?;
        let current = key.sealer().seal(new_secret, secret_at(&row, "secret"))?;
        sqlx::query(
            "UPDATE webhook_subscriptions SET secret = $3, previous_secret = $4, \
             previous_secret_expires_at = $5, updated_at = $6 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(&row)
        .bind(current)
        .bind(previous)
        .bind(ms(keep_until))
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        self.webhook_subscription(ws, id).await
    }

    /// A "send test" delivery to the subscription, queued now.
    pub async fn enqueue_test_delivery(
        &mut self,
        ws: WorkspaceId,
        id: WebhookSubscriptionId,
        now: Timestamp,
    ) -> Result<WebhookDeliveryId> {
        let subscription = self.webhook_subscription(ws, id).await?;
        if !subscription.enabled {
            return Err(disabled());
        }
        self.insert_delivery(ws, id, TEST_EVENT, &id.to_string(), now, now)
            .await
    }

    /// Sends a delivery again now, with the same `webhook-id` (a manual replay). When it
    /// fails, automatic retries go on only if the schedule has attempts left.
    pub async fn redeliver_webhook(
        &mut self,
        ws: WorkspaceId,
        subscription: WebhookSubscriptionId,
        delivery: WebhookDeliveryId,
        now: Timestamp,
    ) -> Result<WebhookDelivery> {
        if !self.webhook_subscription(ws, subscription).await?.enabled {
            return Err(disabled());
        }
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE workspace_id = $1 AND subscription_id = $2 AND id = $3"
        ))
        .bind(ws.to_string())
        .bind(subscription.to_string())
        .bind(delivery.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        let current = delivery_from(&row)?;
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $3, updated_at = $3 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(delivery.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        let mut job = delivery_job(ws, delivery, current.attempts + 1, now);
        // Beside a retry already queued for the same attempt: whichever runs first makes it.
        job.dedupe_key = Some(format!(
            "webhook:{delivery}:{}:redeliver:{}",
            current.attempts + 1,
            ms(now)
        ));
        self.enqueue(job, now).await?;
        self.webhook_delivery_tx(ws, delivery).await
    }

    async fn webhook_delivery_tx(
        &mut self,
        ws: WorkspaceId,
        id: WebhookDeliveryId,
    ) -> Result<WebhookDelivery> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        delivery_from(&row)
    }

    /// Records attempt number `attempt` at `delivery` and what follows from it: delivered,
    /// the next attempt's job, failed, or (410 Gone) failed with the subscription disabled.
    /// Returns whether this disabled the subscription (the caller audits it).
    pub async fn record_webhook_attempt(
        &mut self,
        ws: WorkspaceId,
        delivery: &WebhookDelivery,
        attempt: i64,
        outcome: &AttemptOutcome<'_>,
        now: Timestamp,
    ) -> Result<bool> {
        let error: Option<String> = outcome.error.map(|e| e.chars().take(300).collect());
        sqlx::query(
            "INSERT INTO webhook_attempts (id, workspace_id, delivery_id, attempt, status_code, \
             duration_ms, error, attempted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(WebhookAttemptId::new().to_string())
        .bind(ws.to_string())
        .bind(delivery.id.to_string())
        .bind(attempt)
        .bind(outcome.status_code.map(i64::from))
        .bind(outcome.duration_ms)
        .bind(error)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        let (state, next, delivered) = match &outcome.result {
            AttemptResult::Delivered => (DeliveryState::Delivered, None, Some(ms(now))),
            AttemptResult::RetryAt(at) => (DeliveryState::Pending, Some(ms(*at)), None),
            AttemptResult::Failed | AttemptResult::Gone => (DeliveryState::Failed, None, None),
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $3, attempts = $4, last_status_code = $5, \
             next_attempt_at = $6, delivered_at = COALESCE($7, delivered_at), updated_at = $8 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(delivery.id.to_string())
        .bind(state.as_str())
        .bind(attempt)
        .bind(outcome.status_code.map(i64::from))
        .bind(next)
        .bind(delivered)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        match &outcome.result {
            AttemptResult::RetryAt(at) => {
                self.enqueue(delivery_job(ws, delivery.id, attempt + 1, *at), now)
                    .await?;
                Ok(false)
            }
            AttemptResult::Gone => {
                let done = sqlx::query(
                    "UPDATE webhook_subscriptions SET enabled = 0, disabled_reason = 'gone', \
                     disabled_at = $3, updated_at = $3 \
                     WHERE workspace_id = $1 AND id = $2 AND enabled = 1",
                )
                .bind(ws.to_string())
                .bind(delivery.subscription_id.to_string())
                .bind(ms(now))
                .execute(self.conn())
                .await?;
                self.cancel_pending_deliveries(ws, delivery.subscription_id, now)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
            AttemptResult::Delivered | AttemptResult::Failed => Ok(false),
        }
    }

    /// Ends a pending delivery whose subscription is disabled (its queued attempt ran).
    pub async fn cancel_webhook_delivery(
        &mut self,
        ws: WorkspaceId,
        id: WebhookDeliveryId,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'cancelled', next_attempt_at = NULL, updated_at = $3 \
             WHERE workspace_id = $1 AND id = $2 AND state = 'pending'",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Deletes the delivery log (deliveries and their attempts) created before `cutoff`, at
    /// most `limit` deliveries; returns how many went.
    pub async fn delete_webhook_log_before(
        &mut self,
        cutoff: Timestamp,
        limit: i64,
    ) -> Result<u64> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM webhook_deliveries WHERE created_at < $1 ORDER BY created_at LIMIT $2",
        )
        .bind(ms(cutoff))
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        for id in &ids {
            sqlx::query("DELETE FROM webhook_attempts WHERE delivery_id = $1")
                .bind(id)
                .execute(self.conn())
                .await?;
            sqlx::query("DELETE FROM webhook_deliveries WHERE id = $1")
                .bind(id)
                .execute(self.conn())
                .await?;
        }
        Ok(ids.len() as u64)
    }
}

fn disabled() -> StoreError {
    StoreError::conflict(
        "webhook_disabled",
        "The webhook is disabled; enable it first.",
    )
}

impl Store {
    /// The workspace's subscriptions, oldest first.
    pub async fn webhook_subscriptions(&self, ws: WorkspaceId) -> Result<Vec<WebhookSubscription>> {
        let rows = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE workspace_id = $1 \
             ORDER BY created_at, id"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(subscription_from).collect()
    }

    pub async fn webhook_subscription(
        &self,
        ws: WorkspaceId,
        id: WebhookSubscriptionId,
    ) -> Result<WebhookSubscription> {
        let row = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        subscription_from(&row)
    }

    /// The secrets to sign with now: the current one, and the previous one until it expires.
    pub async fn webhook_signing_secrets(
        &self,
        ws: WorkspaceId,
        id: WebhookSubscriptionId,
        master: &MasterKey,
        now: Timestamp,
    ) -> Result<SigningSecrets> {
        let row = sqlx::query(
            "SELECT secret, previous_secret, previous_secret_expires_at FROM webhook_subscriptions \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        let at = id.to_string();
        let current = row.opt_bytes("secret")?.ok_or(StoreError::Corrupt(
            "a webhook subscription has no secret".into(),
        ))?;
        let current = self
            .open_secret(ws, &current, secret_at(&at, "secret"), master)
            .await?;
        let still_valid = row
            .opt_time("previous_secret_expires_at")?
            .is_some_and(|until| until > now);
        let previous = match row.opt_bytes("previous_secret")? {
            Some(sealed) if still_valid => Some(
                self.open_secret(ws, &sealed, secret_at(&at, "previous_secret"), master)
                    .await?,
            ),
            _ => None,
        };
        Ok(SigningSecrets { current, previous })
    }

    async fn open_secret(
        &self,
        ws: WorkspaceId,
        sealed: &[u8],
        at: SealContext<'_>,
        master: &MasterKey,
    ) -> Result<SecretSlice<u8>> {
        let key_id =
            sealed_by(sealed).ok_or(StoreError::Sealing(switchboard_keys::KeyError::Unseal))?;
        let key = self.workspace_key_by_id(ws, key_id, master).await?;
        Ok(SecretSlice::from(key.sealer().open(sealed, at)?))
    }

    /// A page of the subscription's deliveries, newest first, after `after`.
    pub async fn webhook_deliveries(
        &self,
        ws: WorkspaceId,
        subscription: WebhookSubscriptionId,
        after: Option<WebhookDeliveryId>,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE workspace_id = $1 AND subscription_id = $2 AND ($3 IS NULL OR id < $3) \
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(ws.to_string())
        .bind(subscription.to_string())
        .bind(after.map(|a| a.to_string()))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(delivery_from).collect()
    }

    pub async fn webhook_delivery(
        &self,
        ws: WorkspaceId,
        id: WebhookDeliveryId,
    ) -> Result<WebhookDelivery> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        delivery_from(&row)
    }

    /// The delivery's attempts, first first.
    pub async fn webhook_attempts(
        &self,
        ws: WorkspaceId,
        delivery: WebhookDeliveryId,
    ) -> Result<Vec<WebhookAttempt>> {
        let rows = sqlx::query(
            "SELECT attempt, status_code, duration_ms, error, attempted_at FROM webhook_attempts \
             WHERE workspace_id = $1 AND delivery_id = $2 ORDER BY attempt, attempted_at",
        )
        .bind(ws.to_string())
        .bind(delivery.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WebhookAttempt {
                    attempt: r.int("attempt")?,
                    status_code: r.opt_int("status_code")?,
                    duration_ms: r.int("duration_ms")?,
                    error: r.opt_text("error")?,
                    attempted_at: r.time("attempted_at")?,
                })
            })
            .collect()
    }

    /// The `data` of an event about `subject`, from the current rows: ids, kinds, states and
    /// times, never text or names. What no longer exists is `{"id", "deleted": true}`.
    pub async fn webhook_event_data(
        &self,
        ws: WorkspaceId,
        event_type: &str,
        subject: &str,
    ) -> Result<serde_json::Value> {
        use serde_json::json;
        let gone = || json!({ "id": subject, "deleted": true });
        let time = |t: Option<i64>| t.map(|ms| rfc3339(switchboard_core::clock::from_millis(ms)));
        let data = match event_type.split('.').next() {
            Some("conversation") => {
                let row = sqlx::query(
                    "SELECT c.id, c.status, c.contact_id, c.connection_id, k.kind, c.assignee_user_id, \
                     c.created_at, c.updated_at, c.resolved_at, c.snoozed_until \
                     FROM conversations c JOIN channel_connections k ON k.id = c.connection_id \
                     WHERE c.workspace_id = $1 AND c.id = $2",
                )
                .bind(ws.to_string())
                .bind(subject)
                .fetch_optional(&self.read)
                .await?;
                match row {
                    None => gone(),
                    Some(r) => {
                        let labels: Vec<String> = sqlx::query_scalar(
                            "SELECT label_id FROM conversation_labels \
                             WHERE workspace_id = $1 AND conversation_id = $2 ORDER BY label_id",
                        )
                        .bind(ws.to_string())
                        .bind(subject)
                        .fetch_all(&self.read)
                        .await?;
                        json!({
                            "id": r.text("id")?,
                            "status": r.text("status")?,
                            "contact_id": r.text("contact_id")?,
                            "connection_id": r.text("connection_id")?,
                            "channel": r.text("kind")?,
                            "assignee_user_id": r.opt_text("assignee_user_id")?,
                            "label_ids": labels,
                            "created_at": time(Some(r.int("created_at")?)),
                            "updated_at": time(Some(r.int("updated_at")?)),
                            "resolved_at": time(r.opt_int("resolved_at")?),
                            "snoozed_until": time(r.opt_int("snoozed_until")?),
                        })
                    }
                }
            }
            Some("message") => {
                let row = sqlx::query(
                    "SELECT id, conversation_id, contact_id, connection_id, direction, status, \
                     author_user_id, created_at FROM messages WHERE workspace_id = $1 AND id = $2",
                )
                .bind(ws.to_string())
                .bind(subject)
                .fetch_optional(&self.read)
                .await?;
                match row {
                    None => gone(),
                    Some(r) => json!({
                        "id": r.text("id")?,
                        "conversation_id": r.text("conversation_id")?,
                        "contact_id": r.text("contact_id")?,
                        "connection_id": r.text("connection_id")?,
                        "direction": r.text("direction")?,
                        "status": r.text("status")?,
                        "author_user_id": r.opt_text("author_user_id")?,
                        "created_at": time(Some(r.int("created_at")?)),
                    }),
                }
            }
            Some("contact") => {
                let row = sqlx::query(
                    "SELECT id, created_at, updated_at, restricted_at, marketing_objection_at \
                     FROM contacts WHERE workspace_id = $1 AND id = $2",
                )
                .bind(ws.to_string())
                .bind(subject)
                .fetch_optional(&self.read)
                .await?;
                match row {
                    None => gone(),
                    Some(r) => {
                        let identities = sqlx::query(
                            "SELECT connection_id, kind FROM contact_identities \
                             WHERE workspace_id = $1 AND contact_id = $2 ORDER BY created_at, id",
                        )
                        .bind(ws.to_string())
                        .bind(subject)
                        .fetch_all(&self.read)
                        .await?
                        .iter()
                        .map(|i| {
                            Ok(json!({
                                "connection_id": i.text("connection_id")?,
                                "channel": i.text("kind")?,
                            }))
                        })
                        .collect::<Result<Vec<_>>>()?;
                        json!({
                            "id": r.text("id")?,
                            "channels": identities,
                            "restricted": r.opt_int("restricted_at")?.is_some(),
                            "marketing_objection": r.opt_int("marketing_objection_at")?.is_some(),
                            "created_at": time(Some(r.int("created_at")?)),
                            "updated_at": time(Some(r.int("updated_at")?)),
                        })
                    }
                }
            }
            Some("privacy_request") => {
                let row = sqlx::query(
                    "SELECT id, kind, state, subject_kind, subject_id, completed_at \
                     FROM privacy_requests WHERE workspace_id = $1 AND id = $2",
                )
                .bind(ws.to_string())
                .bind(subject)
                .fetch_optional(&self.read)
                .await?;
                match row {
                    None => gone(),
                    Some(r) => {
                        let subject_kind = r.text("subject_kind")?;
                        // Only a contact's id: other subjects' ids (a Meta user's) identify
                        // a person outside this workspace's own records.
                        let contact_id = (subject_kind == "contact")
                            .then(|| r.opt_text("subject_id"))
                            .transpose()?
                            .flatten();
                        json!({
                            "id": r.text("id")?,
                            "kind": r.text("kind")?,
                            "state": r.text("state")?,
                            "subject_kind": subject_kind,
                            "contact_id": contact_id,
                            "completed_at": time(r.opt_int("completed_at")?),
                        })
                    }
                }
            }
            Some("webhook") => json!({ "subscription_id": subject }),
            _ => json!({ "id": subject }),
        };
        Ok(data)
    }
}

/// RFC 3339 in UTC, as every answer shows times.
fn rfc3339(at: Timestamp) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Exposes the bytes of a secret for signing (kept here so callers need not import secrecy's
/// trait for one call).
pub fn secret_bytes(secret: &SecretSlice<u8>) -> &[u8] {
    secret.expose_secret()
}
