-- Suppressions and consents belong to the identifiers that reach a channel (a phone number, an
-- email address, a WhatsApp id) as well as to the contact they were recorded through, so that an
-- opt-out outlives its contact: deleting the contact keeps them, a contact created again with
-- that number shows them again, and an identifier that moves to another contact takes them along.
-- subject_type 'contact' rows hold what was recorded for the contact itself (the channels no
-- identifier reaches, and the contact's own view once its identifiers change); their subject is
-- the contact id. No foreign key to contacts: the rows are meant to outlive them.
CREATE TABLE suppressions (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    channel      text        NOT NULL,
    subject_type text        NOT NULL CHECK (subject_type IN ('contact', 'phone', 'email', 'wa_id')),
    subject      text        COLLATE "C" NOT NULL, -- compared with contact_identities.value
    contact_id   uuid        NOT NULL, -- the contact it was recorded through
    reason       text        NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'complained', 'blocked', 'invalid', 'manual')),
    expires_at   timestamptz,
    lifted_at    timestamptz, -- a lift is recorded, never erased
    lift_reason  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, subject_type, subject, channel)
);

CREATE TABLE consents (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    channel      text        NOT NULL,
    subject_type text        NOT NULL CHECK (subject_type IN ('contact', 'phone', 'email', 'wa_id')),
    subject      text        COLLATE "C" NOT NULL, -- compared with contact_identities.value
    contact_id   uuid        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('opted_in', 'opted_out')),
    source       text,
    captured_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, subject_type, subject, channel)
);

-- Channels a workspace may message only with an opt-in on record (reachability says no_consent
-- otherwise).
ALTER TABLE workspaces ADD COLUMN opt_in_channels text[] NOT NULL DEFAULT '{}';

-- The rows for identifiers: the identity types that reach each channel are those of internal/reach.
INSERT INTO suppressions (workspace_id, channel, subject_type, subject, contact_id, reason, expires_at, created_at, updated_at)
SELECT s.workspace_id, s.channel, 'contact', s.contact_id::text, s.contact_id, s.reason, s.expires_at, s.created_at, s.updated_at
FROM contact_suppressions s;
INSERT INTO suppressions (workspace_id, channel, subject_type, subject, contact_id, reason, expires_at, created_at, updated_at)
SELECT s.workspace_id, s.channel, i.type, i.value, s.contact_id, s.reason, s.expires_at, s.created_at, s.updated_at
FROM contact_suppressions s
JOIN (VALUES ('whatsapp', 'phone'), ('whatsapp', 'wa_id'), ('sms', 'phone'), ('voice', 'phone'), ('rcs', 'phone'), ('email', 'email')) AS r (channel, type) ON r.channel = s.channel
JOIN contact_identities i ON i.workspace_id = s.workspace_id AND i.contact_id = s.contact_id AND i.type = r.type;

INSERT INTO consents (workspace_id, channel, subject_type, subject, contact_id, status, source, captured_at, created_at, updated_at)
SELECT c.workspace_id, c.channel, 'contact', c.contact_id::text, c.contact_id, c.status, c.source, c.captured_at, c.created_at, c.updated_at
FROM contact_consents c;
INSERT INTO consents (workspace_id, channel, subject_type, subject, contact_id, status, source, captured_at, created_at, updated_at)
SELECT c.workspace_id, c.channel, i.type, i.value, c.contact_id, c.status, c.source, c.captured_at, c.created_at, c.updated_at
FROM contact_consents c
JOIN (VALUES ('whatsapp', 'phone'), ('whatsapp', 'wa_id'), ('sms', 'phone'), ('voice', 'phone'), ('rcs', 'phone'), ('email', 'email')) AS r (channel, type) ON r.channel = c.channel
JOIN contact_identities i ON i.workspace_id = c.workspace_id AND i.contact_id = c.contact_id AND i.type = r.type;

DROP TABLE contact_suppressions;
DROP TABLE contact_consents;
