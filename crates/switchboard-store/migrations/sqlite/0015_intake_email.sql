-- Privacy intake verifies by email too: a code can go to the address the contact already had
-- (contacts.email), recorded as method 'email' with no conversation. SQLite cannot change a
-- CHECK constraint in place, so the table is rebuilt with the same columns (nothing references
-- it); the personal-data inventory is unchanged.
CREATE TABLE privacy_verifications_new (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    request_id TEXT NOT NULL REFERENCES privacy_requests (id) ON DELETE CASCADE,
    -- 'conversation' (a message through the contact's channel), 'email' (to the contact's
    -- known address) or 'attested' (the operator verified another way and said how).
    method TEXT NOT NULL CHECK (method IN ('conversation', 'email', 'attested')),
    conversation_id TEXT,
    code_hash TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    verified_at BIGINT,
    superseded_at BIGINT
);
INSERT INTO privacy_verifications_new (id, workspace_id, request_id, method, conversation_id,
    code_hash, attempts, expires_at, created_by, created_at, verified_at, superseded_at)
SELECT id, workspace_id, request_id, method, conversation_id, code_hash, attempts, expires_at,
    created_by, created_at, verified_at, superseded_at FROM privacy_verifications;
DROP TABLE privacy_verifications;
ALTER TABLE privacy_verifications_new RENAME TO privacy_verifications;
CREATE INDEX privacy_verifications_by_request ON privacy_verifications (request_id, created_at);
