-- name: FindIdentityOwners :many
SELECT DISTINCT i.contact_id
FROM contact_identities i
JOIN (SELECT unnest(@types::text[]) AS type, unnest(@sources::text[]) AS source,
             unnest(@vals::text[]) AS value) AS k
  ON i.type = k.type AND i.source = k.source AND i.value = k.value
WHERE i.workspace_id = @workspace_id
ORDER BY i.contact_id;

-- InsertIdentity does nothing when the identity is taken; the caller then decides again from
-- scratch, because the owner may have been created concurrently.
-- name: InsertIdentity :execrows
INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
VALUES (@workspace_id, @type, @source, @value, @contact_id)
ON CONFLICT DO NOTHING;

-- name: GetIdentityOwner :one
SELECT contact_id FROM contact_identities
WHERE workspace_id = @workspace_id AND type = @type AND source = @source AND value = @value;

-- DeleteContactIdentity removes a contact's identities of one type and source; an empty source
-- matches every source (phone and email identities have none).
-- name: DeleteContactIdentity :exec
DELETE FROM contact_identities
WHERE workspace_id = @workspace_id AND contact_id = @contact_id AND type = @type
  AND (@source::text = '' OR source = @source);

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
-- the identifier in the request, so the caller can tell which ones matched.
-- name: ResolveIdentifiers :many
WITH keys AS (
    SELECT unnest(@ords::int[]) AS ord, unnest(@types::text[]) AS type,
           unnest(@sources::text[]) AS source, unnest(@vals::text[]) AS value
), ids AS (
    SELECT unnest(@id_ords::int[]) AS ord, unnest(@ids::uuid[]) AS id
), matches AS (
    SELECT k.ord, i.contact_id
    FROM keys k
    JOIN contact_identities i
      ON i.workspace_id = @workspace_id AND i.type = k.type AND i.source = k.source AND i.value = k.value
    UNION ALL
    SELECT k.ord, k.id FROM ids k
)
SELECT m.ord::int AS ord, sqlc.embed(c)
FROM matches m
JOIN contacts c ON c.workspace_id = @workspace_id AND c.id = m.contact_id
ORDER BY m.ord;
