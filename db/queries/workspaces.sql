-- name: CreateWorkspace :one
INSERT INTO workspaces (id, name, default_region)
VALUES (@id, @name, @default_region)
RETURNING *;

-- name: CreateAPIKey :exec
INSERT INTO api_keys (id, workspace_id, secret_hash)
VALUES (@id, @workspace_id, @secret_hash);

-- name: GetAPIKey :one
SELECT k.workspace_id, k.secret_hash, w.default_region
FROM api_keys k
JOIN workspaces w ON w.id = k.workspace_id
WHERE k.id = @id AND k.revoked_at IS NULL;

-- name: Ping :one
SELECT 1::int AS ok;

-- name: SchemaVersion :one
-- The migration golang-migrate last applied, and whether it failed half-way.
SELECT version, dirty FROM schema_migrations LIMIT 1;

-- name: GetWorkspace :one
SELECT id, name, default_region, opt_in_channels, created_at FROM workspaces
WHERE id = @id;

-- name: SetOptInChannels :one
UPDATE workspaces SET opt_in_channels = @opt_in_channels
WHERE id = @id
RETURNING id, name, default_region, opt_in_channels, created_at;
