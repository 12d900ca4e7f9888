-- Every tenant-owned table leads its keys with workspace_id, so one workspace's rows stay together
-- and the schema can be distributed by workspace_id without rewriting queries.

CREATE TABLE workspaces (
    id             uuid        PRIMARY KEY,
    name           text        NOT NULL,
    default_region text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- API keys are looked up before the workspace is known, by the key id embedded in the key itself;
-- only a SHA-256 of the secret part is stored.
CREATE TABLE api_keys (
    id           uuid        PRIMARY KEY,
    workspace_id uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    secret_hash  bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id);

CREATE TABLE contacts (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    name            text,
    name_key        text, -- the name case-folded by the service, for search whatever the database locale
    phone_number    text,
    email           text,
    external_source text,
    external_id     text,
    custom_fields   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);

-- An identity (type, source, normalized value) belongs to at most one contact per workspace: the
-- primary key is what makes concurrent get-or-create converge on one contact.
CREATE TABLE contact_identities (
    workspace_id uuid        NOT NULL,
    type         text        NOT NULL CHECK (type IN ('phone', 'email', 'external_id', 'wa_id')),
    source       text        NOT NULL DEFAULT '',
    value        text        NOT NULL,
    contact_id   uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, type, source, value),
    FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX contact_identities_contact_idx ON contact_identities (workspace_id, contact_id);

CREATE TABLE notes (
    workspace_id uuid        NOT NULL,
    id           uuid        NOT NULL,
    contact_id   uuid        NOT NULL,
    body         text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX notes_contact_idx ON notes (workspace_id, contact_id, id DESC);

CREATE TABLE tags (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    name         text        NOT NULL,
    name_key     text        NOT NULL, -- case-folded by the service: tags match case-insensitively
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX tags_name_key_idx ON tags (workspace_id, name_key);

CREATE TABLE contact_tags (
    workspace_id uuid        NOT NULL,
    contact_id   uuid        NOT NULL,
    tag_id       uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, contact_id, tag_id),
    FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, tag_id) REFERENCES tags (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX contact_tags_tag_idx ON contact_tags (workspace_id, tag_id, contact_id);

CREATE TABLE contact_consents (
    workspace_id uuid        NOT NULL,
    contact_id   uuid        NOT NULL,
    channel      text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('opted_in', 'opted_out')),
    source       text,
    captured_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, contact_id, channel),
    FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE contact_suppressions (
    workspace_id uuid        NOT NULL,
    contact_id   uuid        NOT NULL,
    channel      text        NOT NULL,
    reason       text        NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'complained', 'blocked', 'invalid', 'manual')),
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, contact_id, channel),
    FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id) ON DELETE CASCADE
);
