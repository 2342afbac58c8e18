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

-- Timeline entries for team assignment.
ALTER TABLE conversation_activities DROP CONSTRAINT conversation_activities_kind_check;
ALTER TABLE conversation_activities ADD CONSTRAINT conversation_activities_kind_check
    CHECK (kind IN ('note', 'assigned', 'unassigned', 'labelled', 'unlabelled', 'opened',
        'pending', 'snoozed', 'resolved', 'reopened', 'team_assigned', 'team_unassigned'));
