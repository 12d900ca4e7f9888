-- name: UpsertSuppression :one
INSERT INTO contact_suppressions (workspace_id, contact_id, channel, reason, expires_at)
VALUES (@workspace_id, @contact_id, @channel, @reason, @expires_at)
ON CONFLICT (workspace_id, contact_id, channel) DO UPDATE SET
    reason = excluded.reason,
    expires_at = excluded.expires_at,
    updated_at = now()
RETURNING channel, reason, expires_at, (expires_at IS NULL OR expires_at > now())::bool AS active,
          created_at, updated_at, (xmax = 0)::bool AS inserted;

-- name: ListSuppressions :many
SELECT channel, reason, expires_at, (expires_at IS NULL OR expires_at > now())::bool AS active,
       created_at, updated_at
FROM contact_suppressions
WHERE workspace_id = @workspace_id AND contact_id = @contact_id
ORDER BY channel;
