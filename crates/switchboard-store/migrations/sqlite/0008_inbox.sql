-- The agent inbox: what agents do to conversations (labels, notes, assignment, snoozing,
-- unread marks), canned responses, the live-update event log, and message search.
-- Every table here is classified in switchboard-core's personal-data inventory; the search
-- index is declared there too (SEARCH_INDEXES) with the table it indexes.

-- The listing's sort keys as plain columns, so keyset pages walk an index:
-- activity_at = the last message, or the creation when there is none;
-- waiting_since = when the customer started waiting (their first message after the
-- business last answered), NULL while nobody waits.
ALTER TABLE conversations ADD COLUMN activity_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN waiting_since BIGINT;
ALTER TABLE conversations ADD COLUMN snoozed_until BIGINT;
-- Customer messages nobody in the workspace has read yet (set to at least 1 by "mark unread").
ALTER TABLE conversations ADD COLUMN unread_count BIGINT NOT NULL DEFAULT 0;
UPDATE conversations SET activity_at = COALESCE(last_message_at, created_at);
UPDATE conversations SET waiting_since = last_inbound_at
    WHERE last_inbound_at IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id
        AND m.direction <> 'inbound' AND m.created_at >= conversations.last_inbound_at);
DROP INDEX conversations_inbox;
CREATE INDEX conversations_by_activity ON conversations (workspace_id, activity_at, id);
CREATE INDEX conversations_by_status_activity ON conversations (workspace_id, status, activity_at, id);
CREATE INDEX conversations_by_assignee_activity ON conversations (workspace_id, assignee_user_id, activity_at, id);
CREATE INDEX conversations_by_waiting ON conversations (workspace_id, waiting_since, id)
    WHERE waiting_since IS NOT NULL;
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE status = 'snoozed';

CREATE TABLE labels (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- #rrggbb
    colour TEXT NOT NULL,
    idempotency_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE UNIQUE INDEX labels_by_idempotency_key ON labels (workspace_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE conversation_labels (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    label_id TEXT NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, label_id)
);
CREATE INDEX conversation_labels_by_label ON conversation_labels (label_id, conversation_id);

-- The conversation's timeline beside its messages: private notes and system events
-- (assigned, labelled, snoozed, resolved, reopened...).
CREATE TABLE conversation_activities (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('note', 'assigned', 'unassigned', 'labelled', 'unlabelled',
        'opened', 'pending', 'snoozed', 'resolved', 'reopened')),
    author_user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    -- A note's text; for a system event, what it names (a label, an agent's name).
    body TEXT,
    idempotency_key TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX conversation_activities_by_conversation ON conversation_activities (conversation_id, created_at);
CREATE INDEX conversation_activities_by_contact ON conversation_activities (contact_id);
CREATE UNIQUE INDEX conversation_activities_by_idempotency_key
    ON conversation_activities (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE canned_responses (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- What an agent types after '/' to pick it.
    shortcut TEXT NOT NULL,
    -- May hold {{contact.name}} and {{agent.name}}.
    body TEXT NOT NULL,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    idempotency_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, shortcut)
);
CREATE UNIQUE INDEX canned_responses_by_idempotency_key ON canned_responses (workspace_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- What changed, in commit order per workspace (seq), for live updates: written in the
-- transaction of the change; the payload names ids and states, never message text.
CREATE TABLE events (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    conversation_id TEXT,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, seq)
);
CREATE INDEX events_by_age ON events (created_at);

-- Message search: an FTS5 index over messages.text (external content: the words live only
-- in messages; secure-delete removes a deleted message's terms from the index for real).
CREATE VIRTUAL TABLE message_search USING fts5(
    text, workspace_id UNINDEXED, conversation_id UNINDEXED,
    content = 'messages', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO message_search (message_search, rank) VALUES ('secure-delete', 1);
INSERT INTO message_search (message_search) VALUES ('rebuild');
CREATE TRIGGER message_search_insert AFTER INSERT ON messages WHEN new.text IS NOT NULL BEGIN
    INSERT INTO message_search (rowid, text, workspace_id, conversation_id)
        VALUES (new.rowid, new.text, new.workspace_id, new.conversation_id);
END;
CREATE TRIGGER message_search_delete AFTER DELETE ON messages WHEN old.text IS NOT NULL BEGIN
    INSERT INTO message_search (message_search, rowid, text, workspace_id, conversation_id)
        VALUES ('delete', old.rowid, old.text, old.workspace_id, old.conversation_id);
END;
CREATE TRIGGER message_search_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, text, workspace_id, conversation_id)
        SELECT 'delete', old.rowid, old.text, old.workspace_id, old.conversation_id
        WHERE old.text IS NOT NULL;
    INSERT INTO message_search (rowid, text, workspace_id, conversation_id)
        SELECT new.rowid, new.text, new.workspace_id, new.conversation_id
        WHERE new.text IS NOT NULL;
END;
