-- name: CreateAPIKey :one
INSERT INTO api_keys (id, workspace_id, secret_hash, secret_hint, name, permissions, expires_at, rate_per_second, rate_burst)
VALUES (@id, @workspace_id, @secret_hash, @secret_hint, @name, @permissions, @expires_at, @rate_per_second, @rate_burst)
RETURNING id, name, secret_hint, permissions, rate_per_second, rate_burst, created_at, expires_at, last_used_at, revoked_at;

-- name: GetAPIKey :one
-- What authenticating a request needs: the key's secret hash, workspace, grants and end. A
-- revoked key is not found; an expired one is, and the caller compares expires_at with its clock.
SELECT k.workspace_id, k.secret_hash, k.permissions, k.expires_at, k.last_used_at,
       k.rate_per_second, k.rate_burst, w.default_region
FROM api_keys k
JOIN workspaces w ON w.id = k.workspace_id
WHERE k.id = @id AND k.revoked_at IS NULL;

-- name: ListAPIKeys :many
SELECT id, name, secret_hint, permissions, rate_per_second, rate_burst, created_at, expires_at, last_used_at, revoked_at
FROM api_keys
WHERE workspace_id = @workspace_id
ORDER BY created_at, id;

-- name: APIKeyByID :one
SELECT id, name, secret_hint, permissions, rate_per_second, rate_burst, created_at, expires_at, last_used_at, revoked_at
FROM api_keys
WHERE workspace_id = @workspace_id AND id = @id;

-- name: RevokeAPIKey :one
-- A revoked key keeps its first revocation time.
UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
WHERE workspace_id = @workspace_id AND id = @id
RETURNING id;

-- name: NotifyAPIKeyRevoked :exec
-- Delivered when the revocation commits, to every server process listening (tenant.Authenticator).
SELECT pg_notify('wazapin_api_keys', @key_id::text);

-- name: TouchAPIKey :exec
-- At most once a minute per key, whichever process asks.
UPDATE api_keys SET last_used_at = now()
WHERE workspace_id = @workspace_id AND id = @id
  AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- name: ListenAPIKeyRevocations :exec
-- On a connection of its own, which then waits for NotifyAPIKeyRevoked's notifications.
LISTEN wazapin_api_keys;
