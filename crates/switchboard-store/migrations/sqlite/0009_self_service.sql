-- Self-service deletion (Settings > Privacy): an account's or a whole workspace's erasure,
-- the grace period before a deleted workspace is erased, and whole-workspace exports.
-- Every table and column is classified in switchboard-core's personal-data inventory.

-- Who is told when the request completes (the addresses the account or the workspace's
-- owners had), captured before erasure, sealed under the platform key, and cleared in the
-- transaction that completes the request and queues the email.
ALTER TABLE privacy_requests ADD COLUMN notify BLOB;

-- Days between a workspace's deletion (deactivation, day 0) and its erasure; NULL: the
-- default and maximum, 14.
ALTER TABLE workspace_privacy_settings ADD COLUMN deletion_grace_days BIGINT CHECK (deletion_grace_days BETWEEN 1 AND 14);

-- An export of a whole workspace (every inventory table of the workspace, media included),
-- offered before it is deleted: built by a job into the export directory, downloadable until
-- expires_at, then deleted by the sweep (row and file).
CREATE TABLE workspace_exports (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
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
CREATE INDEX workspace_exports_by_expiry ON workspace_exports (expires_at);
CREATE INDEX workspace_exports_by_workspace ON workspace_exports (workspace_id, created_at);
