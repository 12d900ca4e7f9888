-- FindIdentityOwners lists the contacts that hold any of the keys. Each key probes the primary key
-- in a LATERAL subquery that LIMIT keeps from being flattened into a join a generic plan would
-- hash over the whole table (docs/PERFORMANCE.md).
-- name: FindIdentityOwners :many
SELECT DISTINCT i.contact_id
FROM (SELECT unnest(@types::text[]) AS type, unnest(@sources::text[]) AS source,
             unnest(@vals::text[]) AS value) AS k
CROSS JOIN LATERAL (
    SELECT contact_id FROM contact_identities
    WHERE workspace_id = @workspace_id AND type = k.type AND source = k.source AND value = k.value
    LIMIT 1
) AS i
ORDER BY i.contact_id;

-- InsertIdentity does nothing when the identity is taken; the caller then decides again from
-- scratch, because the owner may have been created concurrently.
-- InsertIdentity answers the identity's created_at, or no row when the identity is held already.
-- name: InsertIdentity :many
INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
VALUES (@workspace_id, @type, @source, @value, @contact_id)
ON CONFLICT DO NOTHING
RETURNING created_at;

-- name: GetIdentityOwner :one
SELECT contact_id FROM contact_identities
WHERE workspace_id = @workspace_id AND type = @type AND source = @source AND value = @value;

-- DeleteContactIdentity removes a contact.Removal: the contact's identity of one type, source and
-- value, or with an empty value its identities of that type and source; an empty source matches
-- every source (phone and email identities have none). A non-empty unless is a value of the same
-- type and source that the contact may hold already: then nothing is removed. Deciding it here
-- costs no round trip of its own.
-- name: DeleteContactIdentity :many
DELETE FROM contact_identities i
WHERE i.workspace_id = @workspace_id AND i.contact_id = @contact_id AND i.type = @type
  AND (@source::text = '' OR i.source = @source)
  AND (@value::text = '' OR i.value = @value)
  AND NOT EXISTS (
      SELECT 1 FROM contact_identities h
      WHERE h.workspace_id = @workspace_id AND h.type = @type AND h.source = @source
        AND h.value = @unless::text AND h.contact_id = @contact_id
  )
RETURNING i.type, i.source, i.value, i.created_at;

-- name: ListContactIdentities :many
SELECT type, source, value, created_at FROM contact_identities
WHERE workspace_id = @workspace_id AND contact_id = @contact_id
ORDER BY created_at, type, source, value;

-- name: GetContactByIdentity :one
SELECT c.* FROM contact_identities i
JOIN contacts c ON c.workspace_id = i.workspace_id AND c.id = i.contact_id
WHERE i.workspace_id = @workspace_id AND i.type = @type AND i.source = @source AND i.value = @value;

-- ResolveIdentifiers answers, in one statement, which contact each identifier key leads to. A key
-- is (ord, type, source, value) for identities and (ord, id) for contact ids; ord is the index of
-- the identifier in the request, so the caller can tell which ones matched. Identities and
-- contacts are probed by primary key in LATERAL subqueries, as in FindIdentityOwners.
-- name: ResolveIdentifiers :many
WITH matches AS (
    SELECT k.ord, i.contact_id
    FROM (SELECT unnest(@ords::int[]) AS ord, unnest(@types::text[]) AS type,
                 unnest(@sources::text[]) AS source, unnest(@vals::text[]) AS value) AS k
    CROSS JOIN LATERAL (
        SELECT contact_id FROM contact_identities
        WHERE workspace_id = @workspace_id AND type = k.type AND source = k.source AND value = k.value
        LIMIT 1
    ) AS i
    UNION ALL
    -- A merged contact's id stands for the contact it was merged into.
    SELECT u.ord, coalesce(r.contact_id, u.id)
    FROM (SELECT unnest(@id_ords::int[]) AS ord, unnest(@ids::uuid[]) AS id) AS u
    LEFT JOIN contact_redirects r ON r.workspace_id = @workspace_id AND r.id = u.id
)
SELECT m.ord::int AS ord, c.*
FROM matches m
CROSS JOIN LATERAL (
    SELECT * FROM contacts x WHERE x.workspace_id = @workspace_id AND x.id = m.contact_id LIMIT 1
) AS c
ORDER BY m.ord;
