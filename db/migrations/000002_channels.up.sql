-- Channels are provider connections. Credentials are sealed by the service (AES-256-GCM, bound to
-- the workspace and channel ids) before they reach the database; the plain text never does.
CREATE TABLE channels (
    workspace_id      uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                uuid        NOT NULL,
    name              text        NOT NULL,
    platform          text        NOT NULL CHECK (platform IN ('whatsapp_gateway', 'whatsapp_business_api')),
    credentials       bytea       NOT NULL,
    status            text        NOT NULL DEFAULT 'pending'
                                  CHECK (status IN ('pending', 'connected', 'unauthorized', 'unreachable')),
    status_checked_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
