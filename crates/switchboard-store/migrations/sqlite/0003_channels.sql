-- Channels and conversations: workspace keys, channel connections, contacts and their
-- platform identities, conversations, messages (exactly once per platform id), statuses
-- that arrived before their message, the opt-in ledger, message templates and media.
-- Every table here is classified in switchboard-core's personal-data inventory.

-- A workspace's data key, stored only wrapped under the master key. Destroying it (wrapped_key
-- cleared, destroyed_at set) makes everything sealed under it unreadable.
CREATE TABLE workspace_keys (
    key_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    wrapped_key BLOB,
    created_at BIGINT NOT NULL,
    destroyed_at BIGINT
);
CREATE UNIQUE INDEX workspace_keys_live ON workspace_keys (workspace_id) WHERE destroyed_at IS NULL;

CREATE TABLE channel_connections (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('whatsapp', 'messenger', 'instagram', 'tiktok', 'telegram', 'widget')),
    name TEXT NOT NULL,
    -- The platform's id for the business account, as webhooks name it (routing key).
    account_id TEXT NOT NULL,
    -- Sealed under the workspace key; cleared on disconnect.
    credentials BLOB,
    webhook_secret_hash TEXT,
    meta_user_id TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('active', 'needs_attention', 'disconnected')),
    status_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    disconnected_at BIGINT
);
-- One live connection per platform account: webhooks route by it.
CREATE UNIQUE INDEX channel_connections_live_account ON channel_connections (kind, account_id)
    WHERE status <> 'disconnected';
CREATE INDEX channel_connections_by_workspace ON channel_connections (workspace_id, created_at);
CREATE INDEX channel_connections_by_meta_user ON channel_connections (meta_user_id);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    display_name TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_seen_at BIGINT
);
CREATE INDEX contacts_by_workspace ON contacts (workspace_id, last_seen_at);

CREATE TABLE contact_identities (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES channel_connections (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    external_id TEXT NOT NULL,
    username TEXT,
    phone TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (connection_id, external_id)
);
CREATE INDEX contact_identities_by_contact ON contact_identities (contact_id);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES channel_connections (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('open', 'pending', 'snoozed', 'resolved')),
    assignee_user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    last_message_at BIGINT,
    last_inbound_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    resolved_at BIGINT
);
-- At most one conversation that is not resolved per contact and connection.
CREATE UNIQUE INDEX conversations_one_live ON conversations (connection_id, contact_id)
    WHERE status <> 'resolved';
CREATE INDEX conversations_inbox ON conversations (workspace_id, status, last_message_at);
CREATE INDEX conversations_by_contact ON conversations (contact_id);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES channel_connections (id) ON DELETE CASCADE,
    -- The conversation's contact, repeated so erasure and export find a subject's messages
    -- by one column.
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound', 'echo')),
    -- The platform's id; NULL for an outbound message until the platform accepted it.
    external_id TEXT,
    content TEXT NOT NULL,
    text TEXT,
    referral TEXT,
    status TEXT NOT NULL CHECK (status IN ('received', 'queued', 'sent', 'delivered', 'read', 'failed')),
    status_rank BIGINT NOT NULL,
    error_code TEXT,
    error_reason TEXT,
    author_user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    reply_to_external_id TEXT,
    platform_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    edited_at BIGINT,
    deleted_at BIGINT,
    -- Exactly once: a redelivered or duplicated webhook cannot store a second row.
    UNIQUE (connection_id, external_id)
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
CREATE INDEX messages_by_contact ON messages (contact_id);

-- A status that arrived before its message; applied when the message lands. One row per
-- message: the highest-ranked status seen.
CREATE TABLE pending_statuses (
    connection_id TEXT NOT NULL REFERENCES channel_connections (id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('sent', 'delivered', 'read', 'failed')),
    status_rank BIGINT NOT NULL,
    status_at BIGINT NOT NULL,
    error_code TEXT,
    error_reason TEXT,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, external_id)
);
CREATE INDEX pending_statuses_by_age ON pending_statuses (received_at);

-- The opt-in ledger: consent to business-initiated messages, with where it came from.
CREATE TABLE consent_records (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES channel_connections (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('whatsapp_marketing', 'whatsapp_utility', 'whatsapp_authentication')),
    source TEXT NOT NULL,
    proof TEXT,
    granted_at BIGINT NOT NULL,
    withdrawn_at BIGINT,
    recorded_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX consent_records_live ON consent_records (contact_id, connection_id, kind)
    WHERE withdrawn_at IS NULL;

CREATE TABLE message_templates (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES channel_connections (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    language TEXT NOT NULL,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    parameter_count BIGINT NOT NULL,
    synced_at BIGINT NOT NULL,
    UNIQUE (connection_id, name, language)
);

CREATE TABLE media_objects (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    -- Where to fetch it from (a platform media id or URL, JSON), until it is stored.
    source TEXT,
    storage_key TEXT,
    content_type TEXT,
    size_bytes BIGINT,
    sha256 TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'stored', 'failed')),
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX media_objects_by_message ON media_objects (message_id);
