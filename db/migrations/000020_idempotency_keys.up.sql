-- What the first request with an Idempotency-Key answered, written in the transaction of the
-- change it describes, and answered again to repeats of that request until it expires. Only
-- answers of requests that changed something are kept (a 2xx or 3xx whose transaction committed).
CREATE TABLE idempotency_keys (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key          text        NOT NULL, -- as the client sent it: 1 to 255 visible ASCII characters
    fingerprint  bytea       NOT NULL, -- SHA-256 of the request's method, path with query, and body
    status       smallint    NOT NULL,
    content_type text        NOT NULL,
    location     text,
    etag         text,
    body         bytea       NOT NULL, -- sealed with the server's encryption key when sealed
    sealed       boolean     NOT NULL, -- the answer holds a secret (a webhook signing secret)
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL, -- past it the answer is ignored, and retention deletes it
    PRIMARY KEY (workspace_id, key)
);
-- Rows arrive in the order they expire (one TTL for all), so a BRIN index finds the expired ones.
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys USING brin (expires_at);
