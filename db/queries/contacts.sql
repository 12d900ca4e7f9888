-- CreateContact inserts a contact and its identities in one statement, so a new contact costs
-- one round trip and needs no transaction: when another contact took one of the identities
-- first, the unique violation undoes the whole statement and the caller decides again.
-- name: CreateContact :one
WITH c AS (
    INSERT INTO contacts (workspace_id, id, name, name_key, phone_number, email, external_source, external_id, custom_fields)
    VALUES (@workspace_id, @id, @name, @name_key, @phone_number, @email, @external_source, @external_id, @custom_fields)
    RETURNING *
), i AS (
    INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
    SELECT c.workspace_id, unnest(@types::text[]), unnest(@sources::text[]), unnest(@vals::text[]), c.id FROM c
)
SELECT * FROM c;

-- name: GetContact :one
SELECT * FROM contacts
WHERE workspace_id = @workspace_id AND id = @id;

-- name: GetContactForUpdate :one
SELECT * FROM contacts
WHERE workspace_id = @workspace_id AND id = @id
FOR UPDATE;

-- name: ContactExists :one
SELECT EXISTS (SELECT 1 FROM contacts WHERE workspace_id = @workspace_id AND id = @id);

-- UpdateContact writes the columns decided by the domain rules; custom_fields are merged here so
-- that the merge sees the row as locked, not as read earlier.
-- name: UpdateContact :one
UPDATE contacts SET
    name = @name,
    name_key = @name_key,
    phone_number = @phone_number,
    email = @email,
    external_source = @external_source,
    external_id = @external_id,
    custom_fields = (CASE WHEN @reset_fields::bool THEN '{}'::jsonb ELSE custom_fields END
                     || @set_fields::jsonb) - @delete_fields::text[],
    updated_at = now()
WHERE workspace_id = @workspace_id AND id = @id
RETURNING *;

-- name: DeleteContact :execrows
DELETE FROM contacts
WHERE workspace_id = @workspace_id AND id = @id;

-- ListContacts walks the primary key backwards from the cursor (ids are time-ordered), so every
-- page costs the same however deep it is. A first page passes the largest uuid as its cursor.
-- Text filters arrive case-folded by the service (tag_key, q), matching name_key and the
-- lower-cased email identities.
-- name: ListContacts :many
SELECT c.* FROM contacts c
WHERE c.workspace_id = @workspace_id
  AND c.id < @before_id
  AND (sqlc.narg(updated_since)::timestamptz IS NULL OR c.updated_at >= sqlc.narg(updated_since))
  AND (sqlc.narg(tag_key)::text IS NULL OR EXISTS (
        SELECT 1 FROM contact_tags ct
        JOIN tags t ON t.workspace_id = ct.workspace_id AND t.id = ct.tag_id
        WHERE ct.workspace_id = c.workspace_id AND ct.contact_id = c.id
          AND t.name_key = sqlc.narg(tag_key)))
  AND (sqlc.narg(q)::text IS NULL
       OR starts_with(c.name_key, sqlc.narg(q))
       OR EXISTS (
            SELECT 1 FROM contact_identities i
            WHERE i.workspace_id = c.workspace_id AND i.contact_id = c.id
              AND i.type = 'email' AND starts_with(i.value, sqlc.narg(q)))
       OR (sqlc.narg(phone_prefix)::text IS NOT NULL AND starts_with(c.phone_number, sqlc.narg(phone_prefix))))
ORDER BY c.id DESC
LIMIT @page_size;
