-- Privacy engine, part 2: retention settings, the privacy contact address, contact exports,
-- restriction of processing and objection to direct marketing, and the indexes the retention
-- sweep walks in bounded batches. Every table and column is classified in switchboard-core's
-- personal-data inventory.

-- How many days each class of data is kept, per channel ('all' for every channel). No row:
-- kept.
CREATE TABLE retention_rules (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    data_class TEXT NOT NULL CHECK (data_class IN ('messages', 'conversations', 'closed_conversations', 'media')),
    channel TEXT NOT NULL,
    days BIGINT NOT NULL CHECK (days BETWEEN 1 AND 3650),
    updated_at BIGINT NOT NULL,
    updated_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    PRIMARY KEY (workspace_id, data_class, channel)
);

CREATE TABLE workspace_privacy_settings (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    contact_email TEXT,
    updated_at BIGINT NOT NULL
);

-- An export of everything about one contact: built by a job into the data directory,
-- downloadable until expires_at, then deleted by the sweep (row and file).
CREATE TABLE contact_exports (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    requested_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'failed')),
    file_name TEXT,
    size_bytes BIGINT,
    sha256 TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    ready_at BIGINT,
    expires_at BIGINT NOT NULL,
    downloaded_at BIGINT
);
CREATE INDEX contact_exports_by_expiry ON contact_exports (expires_at);
CREATE INDEX contact_exports_by_contact ON contact_exports (workspace_id, contact_id);

ALTER TABLE contacts ADD COLUMN restricted_at BIGINT;
ALTER TABLE contacts ADD COLUMN restriction_reason TEXT;
ALTER TABLE contacts ADD COLUMN marketing_objection_at BIGINT;

-- The sweep walks expired rows per connection (per-channel rules) in (age, id) order, a
-- batch at a time, each batch starting where the last ended.
CREATE INDEX messages_by_connection_age ON messages (connection_id, created_at, id);
CREATE INDEX conversations_by_connection_activity ON conversations (connection_id, last_message_at, id);
CREATE INDEX conversations_by_connection_resolved ON conversations (connection_id, resolved_at, id);
CREATE INDEX media_objects_by_workspace_age ON media_objects (workspace_id, created_at, id);
CREATE INDEX contact_identities_by_connection ON contact_identities (connection_id, id);
