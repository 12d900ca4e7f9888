DROP INDEX api_keys_workspace_idx;
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id);
ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_rate_limit_whole,
    DROP COLUMN name,
    DROP COLUMN permissions,
    DROP COLUMN secret_hint,
    DROP COLUMN expires_at,
    DROP COLUMN last_used_at,
    DROP COLUMN rate_per_second,
    DROP COLUMN rate_burst;
