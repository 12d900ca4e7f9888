-- Webhook endpoints. The sealed secrets are read only by WebhookSigningSecrets; every other query
-- answers the endpoint's public columns, and whether its previous secret still signs by the
-- database's clock (previous_secret_signs), the one WebhookSigningSecrets goes by.

-- LockWorkspaceEndpoints serializes the creation of a workspace's endpoints, so that two at once
-- cannot both pass the count below the limit. FOR NO KEY UPDATE does not wait for writes that
-- only reference the workspace (their foreign keys take FOR KEY SHARE).
-- name: LockWorkspaceEndpoints :exec
SELECT 1 FROM workspaces WHERE id = @workspace_id FOR NO KEY UPDATE;

-- name: CountWebhookEndpoints :one
SELECT count(*)::int FROM webhook_endpoints WHERE workspace_id = @workspace_id;

-- name: InsertWebhookEndpoint :one
INSERT INTO webhook_endpoints (workspace_id, id, url, description, event_types, enabled, secret)
VALUES (@workspace_id, @id, @url, @description, @event_types, @enabled, @secret)
RETURNING id, url, description, event_types, enabled, disabled_reason,
          previous_secret_until, coalesce(previous_secret_until > now(), false)::boolean AS previous_secret_signs,
          created_at, updated_at;

-- name: ListWebhookEndpoints :many
SELECT id, url, description, event_types, enabled, disabled_reason,
       previous_secret_until, coalesce(previous_secret_until > now(), false)::boolean AS previous_secret_signs,
       created_at, updated_at
FROM webhook_endpoints
WHERE workspace_id = @workspace_id
ORDER BY id;

-- name: GetWebhookEndpoint :one
SELECT id, url, description, event_types, enabled, disabled_reason,
       previous_secret_until, coalesce(previous_secret_until > now(), false)::boolean AS previous_secret_signs,
       created_at, updated_at
FROM webhook_endpoints
WHERE workspace_id = @workspace_id AND id = @id;

-- LockWebhookEndpoint reads an endpoint for a patch and holds it until the patch commits.
-- name: LockWebhookEndpoint :one
SELECT id, url, description, event_types, enabled, disabled_reason,
       previous_secret_until, coalesce(previous_secret_until > now(), false)::boolean AS previous_secret_signs,
       created_at, updated_at
FROM webhook_endpoints
WHERE workspace_id = @workspace_id AND id = @id
FOR NO KEY UPDATE;

-- UpdateWebhookEndpoint writes an endpoint's settings as patched. Enabling a disabled one clears
-- why the service disabled it and the run of failures that would disable it again; other edits
-- of an enabled one leave its run of failures counting.
-- name: UpdateWebhookEndpoint :one
UPDATE webhook_endpoints SET
    url = @url, description = @description, event_types = @event_types, enabled = @enabled,
    disabled_reason = CASE WHEN @enabled::boolean THEN NULL ELSE disabled_reason END,
    failing_since   = CASE WHEN @enabled::boolean AND NOT enabled THEN NULL ELSE failing_since END,
    updated_at = now()
WHERE workspace_id = @workspace_id AND id = @id
RETURNING id, url, description, event_types, enabled, disabled_reason,
          previous_secret_until, coalesce(previous_secret_until > now(), false)::boolean AS previous_secret_signs,
          created_at, updated_at;

-- RotateWebhookSecret makes @secret the signing secret; the one it replaces keeps signing for 24
-- hours. A secret that was still signing as the previous one stops at once.
-- name: RotateWebhookSecret :one
UPDATE webhook_endpoints SET
    previous_secret = secret, previous_secret_until = now() + interval '24 hours',
    secret = @secret, updated_at = now()
WHERE workspace_id = @workspace_id AND id = @id
RETURNING id, url, description, event_types, enabled, disabled_reason,
          previous_secret_until, coalesce(previous_secret_until > now(), false)::boolean AS previous_secret_signs,
          created_at, updated_at;

-- LockWebhookEndpointForDelete is LockWebhookEndpoint for a conditional delete: it takes the
-- lock the delete takes (FOR UPDATE) at once, so the delete never has to strengthen it.
-- name: LockWebhookEndpointForDelete :one
SELECT id, url, description, event_types, enabled, disabled_reason,
       previous_secret_until, coalesce(previous_secret_until > now(), false)::boolean AS previous_secret_signs,
       created_at, updated_at
FROM webhook_endpoints
WHERE workspace_id = @workspace_id AND id = @id
FOR UPDATE;

-- name: DeleteWebhookEndpoint :execrows
DELETE FROM webhook_endpoints
WHERE workspace_id = @workspace_id AND id = @id;

-- WebhookSigningSecrets is the only query that reads the sealed secrets: the current one, and
-- the previous one with whether it still signs.
-- name: WebhookSigningSecrets :one
SELECT secret, previous_secret, coalesce(previous_secret_until > now(), false)::boolean AS previous_secret_signs
FROM webhook_endpoints
WHERE workspace_id = @workspace_id AND id = @id;
