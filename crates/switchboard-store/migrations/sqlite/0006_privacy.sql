-- The privacy engine: privacy requests (subject, kind, source, state machine, deadlines,
-- resumable erasure progress, receipt and residue-scan result) and legal holds.
-- Every table here is classified in switchboard-core's personal-data inventory.

-- No foreign key to workspaces: a request is the proof that a subject's data was erased and
-- outlives what it erased. Meta callbacks and platform-user requests may have no workspace.
CREATE TABLE privacy_requests (
    id TEXT PRIMARY KEY,
    workspace_id TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('erase', 'export', 'restrict', 'lift_restriction', 'object', 'rectify')),
    source TEXT NOT NULL,
    regime TEXT NOT NULL CHECK (regime IN ('gdpr', 'ccpa')),
    subject_kind TEXT NOT NULL CHECK (subject_kind IN ('contact', 'platform_user', 'workspace', 'channel_connection', 'meta_user')),
    -- The subject's id (a contact, user, workspace or connection id); NULL for a Meta user,
    -- who is known only by subject_key_hash.
    subject_id TEXT,
    -- SHA-256 of the subject's external identifier (a Meta app-scoped user id), to find an
    -- open request for the same person without storing the identifier.
    subject_key_hash TEXT,
    -- SHA-256 of the callback that created it (Meta's signed_request): a replay finds it.
    source_ref TEXT UNIQUE,
    -- The public confirmation code (Meta's callback answer, the status page).
    confirmation_code TEXT UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('received', 'awaiting_identity', 'acknowledged', 'in_progress', 'extended', 'completed', 'refused')),
    state_reason TEXT,
    -- An admin must look at it (a Meta user no stored connection names).
    needs_review BIGINT NOT NULL DEFAULT 0,
    received_at BIGINT NOT NULL,
    acknowledge_by BIGINT NOT NULL,
    respond_by BIGINT NOT NULL,
    first_deadline BIGINT NOT NULL,
    extended_at BIGINT,
    paused_since BIGINT,
    paused_days BIGINT NOT NULL DEFAULT 0,
    acknowledged_at BIGINT,
    completed_at BIGINT,
    refused_at BIGINT,
    -- What the erasure covers (JSON: the parts, e.g. a Meta user's connections).
    plan TEXT NOT NULL DEFAULT '{}',
    -- The subject's identifiers captured before erasure, sealed under the platform key,
    -- for the residue scan; cleared when the request completes.
    needles BLOB,
    -- Resumable progress (JSON: finished steps and per-table counts), written in the same
    -- transaction as each erasure batch.
    progress TEXT NOT NULL DEFAULT '{}',
    receipt TEXT,
    residue TEXT,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX privacy_requests_by_workspace ON privacy_requests (workspace_id, created_at);
CREATE INDEX privacy_requests_by_subject_key ON privacy_requests (subject_key_hash);

CREATE TABLE legal_holds (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('contact', 'conversation', 'workspace')),
    scope_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    reference TEXT NOT NULL,
    placed_by TEXT,
    placed_at BIGINT NOT NULL,
    released_by TEXT,
    released_at BIGINT
);
CREATE INDEX legal_holds_by_workspace ON legal_holds (workspace_id, released_at);
