-- name: CreateWorkspace :one
INSERT INTO workspaces (id, name, default_region)
VALUES (@id, @name, @default_region)
RETURNING *;

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
