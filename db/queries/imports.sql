-- name: StageImportKeys :copyfrom
INSERT INTO import_keys (workspace_id, import_id, type, source, value)
VALUES (@workspace_id, @import_id, @type, @source, @value);

-- ImportKeyOwners lists each staged key that a stored contact already holds, once, with that contact.
-- name: ImportKeyOwners :many
SELECT DISTINCT k.type, k.source, k.value, i.contact_id
FROM import_keys k
JOIN contact_identities i
  ON i.workspace_id = k.workspace_id AND i.type = k.type AND i.source = k.source AND i.value = k.value
WHERE k.workspace_id = @workspace_id AND k.import_id = @import_id
ORDER BY k.type, k.source, k.value;

-- LockContacts locks contacts in id order, the one order every writer takes them in.
-- name: LockContacts :many
SELECT * FROM contacts
WHERE workspace_id = @workspace_id AND id = ANY(@ids::uuid[])
ORDER BY id
FOR NO KEY UPDATE;

-- name: CopyContacts :copyfrom
INSERT INTO contacts (workspace_id, id, name, name_key, phone_number, email, external_source, external_id, custom_fields)
VALUES (@workspace_id, @id, @name, @name_key, @phone_number, @email, @external_source, @external_id, @custom_fields);

-- name: StageImportUpdates :copyfrom
INSERT INTO import_updates (workspace_id, import_id, contact_id, name, name_key, phone_number, email,
                            external_source, external_id, custom_fields)
VALUES (@workspace_id, @import_id, @contact_id, @name, @name_key, @phone_number, @email,
        @external_source, @external_id, @custom_fields);

-- ApplyImportUpdates answers the contacts as updated, for their events.
-- name: ApplyImportUpdates :many
UPDATE contacts c SET
    name = u.name,
    name_key = u.name_key,
    phone_number = u.phone_number,
    email = u.email,
    external_source = u.external_source,
    external_id = u.external_id,
    custom_fields = u.custom_fields,
    updated_at = now()
FROM import_updates u
WHERE u.workspace_id = @workspace_id AND u.import_id = @import_id
  AND c.workspace_id = u.workspace_id AND c.id = u.contact_id
RETURNING c.*;

-- RemoveImportIdentities drops the identities that updated contacts no longer hold: an empty
-- value matches every value of the type and source, and an empty source every source, as in
-- DeleteContactIdentity (the plan has settled each removal's unless already).
-- name: RemoveImportIdentities :exec
DELETE FROM contact_identities i
USING (SELECT unnest(@contact_ids::uuid[]) AS contact_id, unnest(@types::text[]) AS type,
              unnest(@sources::text[]) AS source, unnest(@vals::text[]) AS value) AS r
WHERE i.workspace_id = @workspace_id AND i.contact_id = r.contact_id AND i.type = r.type
  AND (r.source = '' OR i.source = r.source) AND (r.value = '' OR i.value = r.value);

-- name: CopyIdentities :copyfrom
INSERT INTO contact_identities (workspace_id, type, source, value, contact_id)
VALUES (@workspace_id, @type, @source, @value, @contact_id);

-- name: ClearImportStaging :exec
WITH k AS (DELETE FROM import_keys WHERE import_keys.workspace_id = @workspace_id AND import_keys.import_id = @import_id)
DELETE FROM import_updates WHERE import_updates.workspace_id = @workspace_id AND import_updates.import_id = @import_id;
