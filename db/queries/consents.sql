-- name: UpsertConsent :one
INSERT INTO contact_consents (workspace_id, contact_id, channel, status, source, captured_at)
VALUES (@workspace_id, @contact_id, @channel, @status, @source, @captured_at)
ON CONFLICT (workspace_id, contact_id, channel) DO UPDATE SET
    status = excluded.status,
    source = excluded.source,
    captured_at = excluded.captured_at,
    updated_at = now()
RETURNING channel, status, source, captured_at, created_at, updated_at, (xmax = 0)::bool AS inserted;

-- name: ListConsents :many
SELECT channel, status, source, captured_at, created_at, updated_at FROM contact_consents
WHERE workspace_id = @workspace_id AND contact_id = @contact_id
ORDER BY channel;
