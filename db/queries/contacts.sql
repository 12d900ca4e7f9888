-- CreateUnlessHeld creates a contact holding keys (in identity.Compare order) unless a stored
-- contact holds one of them, and answers the holders: a new contact in one statement when its
-- identifiers are new (the first message from a new number), or the owners to decide with. A
-- key taken by another transaction meanwhile fails the statement with a unique violation. The
-- new contact's rows are stamped with @now, the time its events (ev_*, made beforehand with it)
-- carry, and the events are written by the same statement, after the contact: one round trip
-- for the commonest write.
-- name: CreateUnlessHeld :one
WITH k AS (
    SELECT unnest(@types::text[]) AS type, unnest(@sources::text[]) AS source, unnest(@vals::text[]) AS value
), held AS (
    SELECT DISTINCT i.contact_id
    FROM k
    CROSS JOIN LATERAL (
        SELECT ci.contact_id FROM contact_identities ci
        WHERE ci.workspace_id = @workspace_id AND ci.type = k.type AND ci.source = k.source AND ci.value = k.value
        LIMIT 1
    ) AS i
), c AS (
    INSERT INTO contacts (workspace_id, id, name, name_key, phone_number, email, external_source, external_id, custom_fields,
                          created_at, updated_at)
    SELECT @workspace_id, @id, @name, @name_key, @phone_number, @email, @external_source, @external_id, @custom_fields,
           @now, @now
    WHERE NOT EXISTS (SELECT 1 FROM held)
    RETURNING *
), i AS (
    INSERT INTO contact_identities (workspace_id, type, source, value, contact_id, created_at)
    SELECT c.workspace_id, k.type, k.source, k.value, c.id, @now FROM c, k
), ev AS (
    -- Rows of c exist only once the contact is written, so the statement holds its transaction id
    -- before its events take their numbers (see store.feedBound).
    INSERT INTO events (workspace_id, id, type, object_id, contact_id, data)
    SELECT c.workspace_id, e.id, e.type, e.object_id, c.id, e.data::json
    FROM c
    CROSS JOIN (SELECT unnest(@ev_ids::uuid[]) AS id, unnest(@ev_types::text[]) AS type,
                       unnest(@ev_object_ids::text[]) AS object_id, unnest(@ev_data::text[]) AS data) AS e
    RETURNING events.seq, events.id, events.type
), queued AS (
    -- As InsertEvents: deliveries only for a workspace with an enabled endpoint.
    SELECT queue_deliveries(@workspace_id, array_agg(ev.seq ORDER BY ev.seq), array_agg(ev.id ORDER BY ev.seq), array_agg(ev.type ORDER BY ev.seq)) AS n
    FROM ev
    HAVING count(*) > 0 AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.workspace_id = @workspace_id AND w.enabled)
)
SELECT (SELECT coalesce(array_agg(held.contact_id ORDER BY held.contact_id), '{}') FROM held)::uuid[] AS owners,
       c.workspace_id, c.id, c.name, c.name_key, c.phone_number, c.email, c.external_source, c.external_id,
       c.custom_fields, c.created_at, c.updated_at, coalesce((SELECT queued.n FROM queued), 0)::integer AS deliveries
FROM (SELECT 1) AS one
LEFT JOIN c ON true;

-- name: GetContact :one
SELECT * FROM contacts
WHERE workspace_id = @workspace_id AND id = @id;

-- GetContactForUpdate locks a contact for a change of its fields and identities. NO KEY UPDATE:
-- rows that only reference it (notes, tags, new identities) may still be added meanwhile.
-- name: GetContactForUpdate :one
SELECT * FROM contacts
WHERE workspace_id = @workspace_id AND id = @id
FOR NO KEY UPDATE;

-- name: ContactExists :one
SELECT EXISTS (SELECT 1 FROM contacts WHERE workspace_id = @workspace_id AND id = @id);

-- UpdateContact writes the columns decided by the domain rules, custom_fields already merged
-- with the row as locked.
-- name: UpdateContact :one
UPDATE contacts SET
    name = @name,
    name_key = @name_key,
    phone_number = @phone_number,
    email = @email,
    external_source = @external_source,
    external_id = @external_id,
    custom_fields = @custom_fields,
    updated_at = now()
WHERE workspace_id = @workspace_id AND id = @id
RETURNING *;

-- name: DeleteContact :one
DELETE FROM contacts
WHERE workspace_id = @workspace_id AND id = @id
RETURNING *;

-- ListContacts walks the primary key backwards from the cursor (ids are time-ordered), so every
-- page costs the same however deep it is. A first page passes the largest uuid as its cursor.
-- The tag filter arrives case-folded by the service, matching tags.name_key. The first tag
-- condition names no column of c, so a tag the workspace does not have answers at once, before
-- any contact is read; the second names the workspace itself, not c's, so that the hash of the
-- tag's contacts holds this workspace's alone (docs/PERFORMANCE.md).
-- name: ListContacts :many
SELECT c.* FROM contacts c
WHERE c.workspace_id = @workspace_id
  AND c.id < @before_id
  AND (sqlc.narg(updated_since)::timestamptz IS NULL OR c.updated_at >= sqlc.narg(updated_since))
  AND (sqlc.narg(tag_key)::text IS NULL OR EXISTS (
        SELECT 1 FROM tags t WHERE t.workspace_id = @workspace_id AND t.name_key = sqlc.narg(tag_key)))
  AND (sqlc.narg(tag_key)::text IS NULL OR EXISTS (
        SELECT 1 FROM contact_tags ct
        JOIN tags t ON t.workspace_id = ct.workspace_id AND t.id = ct.tag_id
        WHERE ct.workspace_id = @workspace_id AND ct.contact_id = c.id
          AND t.name_key = sqlc.narg(tag_key)))
ORDER BY c.id DESC
LIMIT @page_size;

-- SearchContacts is ListContacts with a search text (q, case-folded by the service): contacts
-- whose name key or email starts with it, or whose phone number starts with phone_prefix. Each
-- of the three finds its newest matches below the cursor on its own, by a prefix range of an
-- index (migration 000005) or by walking ids, whichever the planner, seeing the prefix, expects
-- to be cheaper; the page is the newest of those (testing each contact in place hashed every email
-- identity: docs/PERFORMANCE.md). DISTINCT: a contact can hold several emails or phone numbers
-- (imports before migration 000006 gave them), and must take one place of a branch's limit.
-- branch_limit is the page size when no other filter applies and NULL (no limit) otherwise, since
-- the filters then drop candidates after the branches have chosen them.
-- name: SearchContacts :many
SELECT c.* FROM contacts c
WHERE c.workspace_id = @workspace_id
  AND c.id IN (
        (SELECT n.id FROM contacts n
         WHERE n.workspace_id = @workspace_id AND n.id < @before_id AND starts_with(n.name_key, @q)
         ORDER BY n.id DESC LIMIT sqlc.narg(branch_limit))
        UNION ALL
        (SELECT DISTINCT e.contact_id FROM contact_identities e
         WHERE e.workspace_id = @workspace_id AND e.contact_id < @before_id
           AND e.type = 'email' AND e.source = '' AND starts_with(e.value, @q)
         ORDER BY e.contact_id DESC LIMIT sqlc.narg(branch_limit))
        UNION ALL
        (SELECT DISTINCT p.contact_id FROM contact_identities p
         WHERE p.workspace_id = @workspace_id AND p.contact_id < @before_id
           AND p.type = 'phone' AND p.source = '' AND starts_with(p.value, sqlc.narg(phone_prefix))
         ORDER BY p.contact_id DESC LIMIT sqlc.narg(branch_limit)))
  AND (sqlc.narg(updated_since)::timestamptz IS NULL OR c.updated_at >= sqlc.narg(updated_since))
  AND (sqlc.narg(tag_key)::text IS NULL OR EXISTS (
        SELECT 1 FROM tags t WHERE t.workspace_id = @workspace_id AND t.name_key = sqlc.narg(tag_key)))
  AND (sqlc.narg(tag_key)::text IS NULL OR EXISTS (
        SELECT 1 FROM contact_tags ct
        JOIN tags t ON t.workspace_id = ct.workspace_id AND t.id = ct.tag_id
        WHERE ct.workspace_id = @workspace_id AND ct.contact_id = c.id
          AND t.name_key = sqlc.narg(tag_key)))
ORDER BY c.id DESC
LIMIT @page_size;
