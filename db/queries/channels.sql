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

-- SetChannelStatus answers the channel after the change with the status it had before.
-- name: SetChannelStatus :one
UPDATE channels c SET status = @status, status_checked_at = now()
FROM (SELECT o.status FROM channels o WHERE o.workspace_id = @workspace_id AND o.id = @id FOR UPDATE) AS old
WHERE c.workspace_id = @workspace_id AND c.id = @id
RETURNING c.id, c.name, c.platform, c.status, c.status_checked_at, c.created_at, old.status AS previous_status;

-- LockChannel reads a channel for a conditional delete and holds it, with the lock the delete
-- takes (FOR UPDATE), until the delete commits.
-- name: LockChannel :one
SELECT id, name, platform, status, status_checked_at, created_at FROM channels
WHERE workspace_id = @workspace_id AND id = @id
FOR UPDATE;

-- name: DeleteChannel :one
DELETE FROM channels
WHERE workspace_id = @workspace_id AND id = @id
RETURNING id, name, platform, status, status_checked_at, created_at;

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

-- TakeChannelSlots takes for a lookup (holder) up to want of the channel's slots places, for
-- lease_seconds: the places nobody holds, or whose lease ran out. Racing takers never share a
-- place: one that finds a place taken by a transaction committed meanwhile leaves it (the
-- conflict's WHERE sees the committed lease), and gets fewer, or none, and tries again later.
-- name: TakeChannelSlots :many
INSERT INTO channel_slots (workspace_id, channel_id, slot, holder, expires_at)
SELECT @workspace_id, @channel_id, free.slot, @holder, now() + make_interval(secs => @lease_seconds::float8)
FROM generate_series(1, @slots::integer) AS free(slot)
WHERE NOT EXISTS (SELECT 1 FROM channel_slots h
                  WHERE h.workspace_id = @workspace_id AND h.channel_id = @channel_id
                    AND h.slot = free.slot AND h.expires_at > now())
ORDER BY free.slot
LIMIT @want::integer
ON CONFLICT (workspace_id, channel_id, slot) DO UPDATE
SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE channel_slots.expires_at <= now()
RETURNING slot;

-- GiveChannelSlots gives back the places a lookup took. Their rows stay, free, for the next
-- taker to update: updates of columns no index holds stay on their page (HOT), where inserting
-- and deleting the same keys over and over would pile dead entries into the primary key.
-- name: GiveChannelSlots :exec
UPDATE channel_slots SET expires_at = '-infinity'
WHERE workspace_id = @workspace_id AND channel_id = @channel_id AND holder = @holder;
