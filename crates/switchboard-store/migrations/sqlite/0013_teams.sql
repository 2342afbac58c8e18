-- Teams: named groups of a workspace's members that conversations are assigned to (with or
-- without an agent of the team). Classified in switchboard-core's personal-data inventory.

CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    idempotency_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE UNIQUE INDEX teams_by_idempotency_key ON teams (workspace_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- A team's members are members of its workspace: the membership is the parent row, so a
-- member who leaves the workspace leaves its teams in the same statement.
CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id),
    FOREIGN KEY (workspace_id, user_id) REFERENCES memberships (workspace_id, user_id) ON DELETE CASCADE
);
CREATE INDEX team_members_by_user ON team_members (workspace_id, user_id);

-- The team a conversation is assigned to. Deleting a team unassigns its conversations in the
-- store (with a timeline entry each) before the row goes; SET NULL is the backstop.
ALTER TABLE conversations ADD COLUMN team_id TEXT REFERENCES teams (id) ON DELETE SET NULL;
-- The list filtered by team walks this index from its keyset cursor, like the others.
CREATE INDEX conversations_by_team_activity ON conversations (workspace_id, team_id, activity_at, id);

-- Timeline entries for team assignment: SQLite cannot change a CHECK, so the table is
-- rebuilt with the same columns and indexes (nothing references it).
CREATE TABLE conversation_activities_new (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('note', 'assigned', 'unassigned', 'labelled', 'unlabelled',
        'opened', 'pending', 'snoozed', 'resolved', 'reopened', 'team_assigned', 'team_unassigned')),
    author_user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    -- A note's text; for a system event, what it names (a label, an agent's or a team's name).
    body TEXT,
    idempotency_key TEXT,
    created_at BIGINT NOT NULL
);
INSERT INTO conversation_activities_new (id, workspace_id, conversation_id, contact_id, kind,
    author_user_id, body, idempotency_key, created_at)
    SELECT id, workspace_id, conversation_id, contact_id, kind, author_user_id, body,
        idempotency_key, created_at FROM conversation_activities;
DROP TABLE conversation_activities;
ALTER TABLE conversation_activities_new RENAME TO conversation_activities;
CREATE INDEX conversation_activities_by_conversation ON conversation_activities (conversation_id, created_at);
CREATE INDEX conversation_activities_by_contact ON conversation_activities (contact_id);
CREATE UNIQUE INDEX conversation_activities_by_idempotency_key
    ON conversation_activities (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
