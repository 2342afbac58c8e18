-- Privacy intake: requests received by email or by hand (who asked, what they gave to be
-- found by), the verification codes sent to an identity the contact already has, each
-- workspace's public holidays for the deadline calendar, and the daily digest's once-a-day
-- mark. Every table and column is classified in switchboard-core's personal-data inventory.

-- Where the requester wants answers (acknowledgement, completion) and what they gave to be
-- found by (JSON). Both are cleared when the request reaches a final state; the identifiers
-- go earlier, as soon as the subject is chosen.
ALTER TABLE privacy_requests ADD COLUMN requester_email TEXT;
ALTER TABLE privacy_requests ADD COLUMN intake_details TEXT;

-- A code sent to prove the requester is the contact: only its SHA-256 is kept; it expires
-- and allows a few attempts. A new code supersedes the previous one.
CREATE TABLE privacy_verifications (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    request_id TEXT NOT NULL REFERENCES privacy_requests (id) ON DELETE CASCADE,
    -- 'conversation' (a message through the contact's channel) or 'attested' (the operator
    -- verified another way and said how).
    method TEXT NOT NULL CHECK (method IN ('conversation', 'attested')),
    conversation_id TEXT,
    code_hash TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    verified_at BIGINT,
    superseded_at BIGINT
);
CREATE INDEX privacy_verifications_by_request ON privacy_verifications (request_id, created_at);

-- Public holidays the deadline calendar skips, per workspace (the day as YYYY-MM-DD).
CREATE TABLE privacy_holidays (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, day)
);

-- One row per workspace and day a deadline digest went out: the primary key is what makes it
-- once a day with several processes.
CREATE TABLE privacy_digests (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    requests BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, day)
);
