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
-- of the three (n: names, e: emails, p: phones) finds its newest matches below the cursor on its
-- own, and the page is the newest of those (testing each contact in place hashed every email
-- identity: docs/PERFORMANCE.md). A branch costs at most what its matches cost, plus a bound,
-- whatever the planner guesses about where they lie, in up to three steps (each later one runs
-- only when the one before did not settle the answer, a one-time filter):
--   _r  the first 257 matches in the prefix's index range (migration 000005). 256 or fewer: that
--       is every match, and the branch's answer is among them (no match, a few matches);
--   _w  more than 256: walk the newest walk_rows rows below the cursor (the store's
--       SearchWalkRows, 100,000), keeping the matches. When that yields branch_limit contacts
--       they are exactly the newest (a broad prefix spread over the ids, or the newest
--       contacts');
--   _f  otherwise every match by the index range, the newest branch_limit kept (a prefix whose
--       many matches are all old, docs/SCALING.md "Search, worst case").
-- Each step's rows are matches, so the branch keeps the newest branch_limit of them all.
-- Planner's guesses alone walked the ids for a prefix it thought common and read 80% of the
-- workspace when the matches clustered among the oldest. DISTINCT: a contact can hold several
-- emails or phone numbers (imports before migration 000006 gave them), and must take one place
-- of a branch's limit. branch_limit is the page size when no other filter applies and NULL (no
-- limit) otherwise, since the filters then drop candidates after the branches have chosen them:
-- then no walk, every match. The gates use EXISTS … OFFSET rather than count(*): each aggregate
-- node cost about 0.1 ms to set up, most of a search that matches nothing.
-- name: SearchContacts :many
WITH n_r AS MATERIALIZED (
    SELECT b.id FROM contacts b
    WHERE b.workspace_id = @workspace_id AND starts_with(b.name_key, @q) AND b.id < @before_id::uuid
    ORDER BY b.name_key LIMIT 257
), n_w AS MATERIALIZED (
    SELECT w.id FROM (
        SELECT b.id, b.name_key FROM contacts b
        WHERE b.workspace_id = @workspace_id AND b.id < @before_id::uuid
          AND sqlc.narg(branch_limit)::integer IS NOT NULL AND EXISTS (SELECT 1 FROM n_r OFFSET 256)
        ORDER BY b.id DESC LIMIT sqlc.arg(walk_rows)::integer) w
    WHERE starts_with(w.name_key, @q)
    ORDER BY w.id DESC LIMIT sqlc.narg(branch_limit)
), n_f AS MATERIALIZED (
    SELECT f.id FROM (
        SELECT b.id FROM contacts b
        WHERE b.workspace_id = @workspace_id AND starts_with(b.name_key, @q) AND b.id < @before_id::uuid
          AND EXISTS (SELECT 1 FROM n_r OFFSET 256) AND NOT EXISTS (SELECT 1 FROM n_w OFFSET sqlc.narg(branch_limit)::integer - 1)
        OFFSET 0) f
    ORDER BY f.id DESC LIMIT sqlc.narg(branch_limit)
), e_r AS MATERIALIZED (
    SELECT b.contact_id AS id FROM contact_identities b
    WHERE b.workspace_id = @workspace_id AND b.type = 'email' AND b.source = '' AND starts_with(b.value, @q) AND b.contact_id < @before_id::uuid
    ORDER BY b.value LIMIT 257
), e_w AS MATERIALIZED (
    SELECT DISTINCT w.id FROM (
        SELECT b.contact_id AS id, b.type, b.source, b.value FROM contact_identities b
        WHERE b.workspace_id = @workspace_id AND b.contact_id < @before_id::uuid
          AND sqlc.narg(branch_limit)::integer IS NOT NULL AND EXISTS (SELECT 1 FROM e_r OFFSET 256)
        ORDER BY b.contact_id DESC LIMIT sqlc.arg(walk_rows)::integer) w
    WHERE w.type = 'email' AND w.source = '' AND starts_with(w.value, @q)
    ORDER BY w.id DESC LIMIT sqlc.narg(branch_limit)
), e_f AS MATERIALIZED (
    SELECT DISTINCT f.id FROM (
        SELECT b.contact_id AS id FROM contact_identities b
        WHERE b.workspace_id = @workspace_id AND b.type = 'email' AND b.source = '' AND starts_with(b.value, @q) AND b.contact_id < @before_id::uuid
          AND EXISTS (SELECT 1 FROM e_r OFFSET 256) AND NOT EXISTS (SELECT 1 FROM e_w OFFSET sqlc.narg(branch_limit)::integer - 1)
        OFFSET 0) f
    ORDER BY f.id DESC LIMIT sqlc.narg(branch_limit)
), p_r AS MATERIALIZED (
    SELECT b.contact_id AS id FROM contact_identities b
    WHERE b.workspace_id = @workspace_id AND b.type = 'phone' AND b.source = '' AND starts_with(b.value, sqlc.narg(phone_prefix)) AND b.contact_id < @before_id::uuid
    ORDER BY b.value LIMIT 257
), p_w AS MATERIALIZED (
    SELECT DISTINCT w.id FROM (
        SELECT b.contact_id AS id, b.type, b.source, b.value FROM contact_identities b
        WHERE b.workspace_id = @workspace_id AND b.contact_id < @before_id::uuid
          AND sqlc.narg(branch_limit)::integer IS NOT NULL AND EXISTS (SELECT 1 FROM p_r OFFSET 256)
        ORDER BY b.contact_id DESC LIMIT sqlc.arg(walk_rows)::integer) w
    WHERE w.type = 'phone' AND w.source = '' AND starts_with(w.value, sqlc.narg(phone_prefix))
    ORDER BY w.id DESC LIMIT sqlc.narg(branch_limit)
), p_f AS MATERIALIZED (
    SELECT DISTINCT f.id FROM (
        SELECT b.contact_id AS id FROM contact_identities b
        WHERE b.workspace_id = @workspace_id AND b.type = 'phone' AND b.source = '' AND starts_with(b.value, sqlc.narg(phone_prefix)) AND b.contact_id < @before_id::uuid
          AND EXISTS (SELECT 1 FROM p_r OFFSET 256) AND NOT EXISTS (SELECT 1 FROM p_w OFFSET sqlc.narg(branch_limit)::integer - 1)
        OFFSET 0) f
    ORDER BY f.id DESC LIMIT sqlc.narg(branch_limit)
)
SELECT c.* FROM contacts c
WHERE c.workspace_id = @workspace_id
  AND c.id IN (
        (SELECT DISTINCT u.id FROM (
            SELECT id FROM n_r
            UNION ALL SELECT id FROM n_w UNION ALL SELECT id FROM n_f) u
         ORDER BY u.id DESC LIMIT sqlc.narg(branch_limit))
        UNION ALL
        (SELECT DISTINCT u.id FROM (
            SELECT id FROM e_r
            UNION ALL SELECT id FROM e_w UNION ALL SELECT id FROM e_f) u
         ORDER BY u.id DESC LIMIT sqlc.narg(branch_limit))
        UNION ALL
        (SELECT DISTINCT u.id FROM (
            SELECT id FROM p_r
            UNION ALL SELECT id FROM p_w UNION ALL SELECT id FROM p_f) u
         ORDER BY u.id DESC LIMIT sqlc.narg(branch_limit)))
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
