-- Keys get a name, the permissions they grant, an optional end and rate limit, and the four
-- characters of their secret that, after their id, make the prefix they are recognised by. Keys
-- made before this migration were each workspace's first key, which holds every permission.
ALTER TABLE api_keys
    ADD COLUMN name             text             NOT NULL DEFAULT 'first key',
    ADD COLUMN permissions      text[]           NOT NULL DEFAULT ARRAY[
        'contacts:read', 'contacts:write', 'channels:read', 'channels:write', 'webhooks:read',
        'webhooks:write', 'events:read', 'workspace:read', 'workspace:write', 'api_keys:read',
        'api_keys:write'],
    ADD COLUMN secret_hint      text             NOT NULL DEFAULT '',
    ADD COLUMN expires_at       timestamptz,
    ADD COLUMN last_used_at     timestamptz,
    ADD COLUMN rate_per_second  double precision,
    ADD COLUMN rate_burst       integer,
    ADD CONSTRAINT api_keys_rate_limit_whole CHECK ((rate_per_second IS NULL) = (rate_burst IS NULL));
ALTER TABLE api_keys ALTER COLUMN name DROP DEFAULT, ALTER COLUMN permissions DROP DEFAULT;

-- Listing a workspace's keys, oldest first.
DROP INDEX api_keys_workspace_idx;
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, created_at, id);
