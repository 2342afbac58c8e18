-- Contacts as agents manage them: their own email, phone and lifecycle stage, custom
-- attributes defined per workspace with typed values, labels on contacts (the workspace's
-- one set of labels), and segments (saved filters over contacts).
-- Every table and column here is classified in switchboard-core's personal-data inventory.

ALTER TABLE contacts ADD COLUMN email TEXT;
ALTER TABLE contacts ADD COLUMN phone TEXT;
ALTER TABLE contacts ADD COLUMN lifecycle_stage TEXT
    CHECK (lifecycle_stage IN ('lead', 'qualified', 'customer', 'churned'));
ALTER TABLE contacts ADD COLUMN idempotency_key TEXT;
-- The list's keyset pages walk (workspace_id, id): ids are UUIDv7, so newest first.
CREATE INDEX contacts_by_id ON contacts (workspace_id, id);
CREATE INDEX contacts_by_email ON contacts (workspace_id, email) WHERE email IS NOT NULL;
CREATE INDEX contacts_by_phone ON contacts (workspace_id, phone) WHERE phone IS NOT NULL;
CREATE INDEX contacts_by_stage ON contacts (workspace_id, lifecycle_stage, id);
CREATE UNIQUE INDEX contacts_by_idempotency_key ON contacts (workspace_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE contact_attributes (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('text', 'number', 'date', 'boolean', 'list')),
    -- A list's options, a JSON array of strings; NULL for other kinds.
    options TEXT,
    -- 1 when values say something about the person (birthday, address), 0 otherwise.
    personal INTEGER NOT NULL CHECK (personal IN (0, 1)),
    idempotency_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, key)
);
CREATE UNIQUE INDEX contact_attributes_by_idempotency_key
    ON contact_attributes (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- A contact's value of an attribute, in its canonical text form. A personal attribute's
-- value is in personal_value, any other's in value: the inventory classifies the two columns
-- differently, so what is personal data is known by column.
CREATE TABLE contact_attribute_values (
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    attribute_id TEXT NOT NULL REFERENCES contact_attributes (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    value TEXT,
    personal_value TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (contact_id, attribute_id)
);
CREATE INDEX contact_attribute_values_by_attribute
    ON contact_attribute_values (attribute_id, contact_id);

CREATE TABLE contact_labels (
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    label_id TEXT NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (contact_id, label_id)
);
CREATE INDEX contact_labels_by_label ON contact_labels (label_id, contact_id);

CREATE TABLE segments (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- The filter, a JSON object validated when saved (the contact list's filters).
    filter TEXT NOT NULL,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    idempotency_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE UNIQUE INDEX segments_by_idempotency_key ON segments (workspace_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
