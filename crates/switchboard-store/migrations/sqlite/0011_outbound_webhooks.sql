-- Outbound webhooks (Standard Webhooks): a workspace's subscriptions, each event that became
-- a delivery to one of them, and every attempt at it. Every table here is classified in
-- switchboard-core's personal-data inventory. Payloads are not stored: they are built from
-- the current rows when an attempt is made, so erased data is never sent.

CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- JSON array of event types (conversation.created, message.created, ...).
    event_types TEXT NOT NULL,
    -- 1 while deliveries are made; 0 once disabled by an admin or by a 410 Gone.
    enabled INTEGER NOT NULL DEFAULT 1,
    -- Why it was disabled (admin, gone); NULL while enabled.
    disabled_reason TEXT,
    disabled_at BIGINT,
    -- whsec_ secrets' raw bytes, sealed under the workspace key (bound to table, column, row).
    secret BLOB NOT NULL,
    -- The secret before the last rotation: still signs until previous_secret_expires_at.
    previous_secret BLOB,
    previous_secret_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_subscriptions_by_workspace ON webhook_subscriptions (workspace_id, created_at, id);

-- One event for one subscription; its id is the webhook-id, stable across retries.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    -- The id of what the event is about (a conversation, message, contact, request).
    subject_id TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts BIGINT NOT NULL DEFAULT 0,
    last_status_code BIGINT,
    next_attempt_at BIGINT,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries (workspace_id, subscription_id, id);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (created_at);

-- Each attempt at a delivery: what the receiver answered, how long it took, a short error.
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    status_code BIGINT,
    duration_ms BIGINT NOT NULL,
    error TEXT,
    attempted_at BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, attempt);
