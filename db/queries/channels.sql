-- name: InsertChannel :one
INSERT INTO channels (workspace_id, id, name, platform, credentials)
VALUES (@workspace_id, @id, @name, @platform, @credentials)
RETURNING id, name, platform, status, status_checked_at, created_at;

-- name: ListChannels :many
SELECT id, name, platform, status, status_checked_at, created_at FROM channels
WHERE workspace_id = @workspace_id
ORDER BY id;

-- name: GetChannel :one
SELECT id, name, platform, status, status_checked_at, created_at FROM channels
WHERE workspace_id = @workspace_id AND id = @id;

-- GetChannelCredentials is the only query that reads the sealed credentials.
-- name: GetChannelCredentials :one
SELECT platform, credentials FROM channels
WHERE workspace_id = @workspace_id AND id = @id;

-- name: SetChannelStatus :exec
UPDATE channels SET status = @status, status_checked_at = now()
WHERE workspace_id = @workspace_id AND id = @id;

-- name: DeleteChannel :execrows
DELETE FROM channels
WHERE workspace_id = @workspace_id AND id = @id;

-- PhoneOwners maps E.164 numbers to the contacts that own them.
-- name: PhoneOwners :many
SELECT value AS phone, contact_id FROM contact_identities
WHERE workspace_id = @workspace_id AND type = 'phone' AND source = '' AND value = ANY(@phones::text[]);

-- LockPhoneOwners is PhoneOwners for linking: it locks the owners, in id order like every writer,
-- and identities cannot leave a locked contact. The caller reads the owners again under the locks.
-- name: LockPhoneOwners :many
SELECT c.id FROM contacts c
WHERE c.workspace_id = @workspace_id
  AND c.id IN (SELECT contact_id FROM contact_identities
               WHERE workspace_id = @workspace_id AND type = 'phone' AND source = '' AND value = ANY(@phones::text[]))
ORDER BY c.id
FOR NO KEY UPDATE OF c;
