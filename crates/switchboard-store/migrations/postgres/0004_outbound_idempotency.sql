-- An API client's Idempotency-Key on an agent's reply: the same key in a workspace names the
-- same message, so a retried POST queues one send.
ALTER TABLE messages ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX messages_by_idempotency_key ON messages (workspace_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
