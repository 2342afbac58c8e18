-- Website chat widget visitors: an anonymous browser that opened a widget's chat. The visitor
-- proves who they are with a random token kept in the host page's localStorage; only its
-- SHA-256 is stored. The visitor's id is the external id of their contact identity on the
-- widget connection; contact_id is filled in when they first write.
CREATE TABLE widget_visitors (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES channel_connections (id) ON DELETE CASCADE,
    contact_id TEXT REFERENCES contacts (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX widget_visitors_by_connection ON widget_visitors (connection_id);
CREATE INDEX widget_visitors_by_contact ON widget_visitors (contact_id);

-- Instagram comments on the business's media, and replies to them (threaded by the parent's
-- platform id), each stored once. The commenter is a contact, found or created by their
-- Instagram identity like a sender of direct messages.
CREATE TABLE comments (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES channel_connections (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    media_id TEXT,
    parent_external_id TEXT,
    text TEXT NOT NULL,
    commented_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (connection_id, external_id)
);
CREATE INDEX comments_by_connection ON comments (connection_id, parent_external_id, id);
CREATE INDEX comments_by_contact ON comments (contact_id);
