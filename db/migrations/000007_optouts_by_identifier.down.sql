-- Back to one row per contact and channel: the rows recorded for contacts that still exist, lifts
-- dropped (a lifted suppression is no suppression).
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
INSERT INTO contact_suppressions (workspace_id, contact_id, channel, reason, expires_at, created_at, updated_at)
SELECT s.workspace_id, s.contact_id, s.channel, s.reason, s.expires_at, s.created_at, s.updated_at
FROM suppressions s JOIN contacts c ON c.workspace_id = s.workspace_id AND c.id = s.contact_id
WHERE s.subject_type = 'contact' AND s.lifted_at IS NULL;
INSERT INTO contact_consents (workspace_id, contact_id, channel, status, source, captured_at, created_at, updated_at)
SELECT s.workspace_id, s.contact_id, s.channel, s.status, s.source, s.captured_at, s.created_at, s.updated_at
FROM consents s JOIN contacts c ON c.workspace_id = s.workspace_id AND c.id = s.contact_id
WHERE s.subject_type = 'contact';
DROP TABLE suppressions;
DROP TABLE consents;
ALTER TABLE workspaces DROP COLUMN opt_in_channels;
