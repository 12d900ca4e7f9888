-- name: GetRedirect :one
SELECT contact_id, merge_id FROM contact_redirects
WHERE workspace_id = @workspace_id AND id = @id;

-- LockContactsForMerge locks the contacts of a merge or an undo in id order, the order every
-- writer of several contacts locks them in; FOR UPDATE, since a merge deletes the merged rows.
-- name: LockContactsForMerge :many
SELECT * FROM contacts
WHERE workspace_id = @workspace_id AND id = ANY(@ids::uuid[])
ORDER BY id
FOR UPDATE;

-- name: IdentitiesOfContacts :many
SELECT contact_id, type, source, value, created_at FROM contact_identities
WHERE workspace_id = @workspace_id AND contact_id = ANY(@ids::uuid[])
ORDER BY contact_id, created_at, type, source, value;

-- name: MoveIdentities :exec
UPDATE contact_identities SET contact_id = @to_id
WHERE workspace_id = @workspace_id AND contact_id = ANY(@from_ids::uuid[]);

-- MoveIdentitiesBack moves the identities listed that the survivor still holds back to a restored
-- contact, and answers those it moved.
-- name: MoveIdentitiesBack :many
UPDATE contact_identities i SET contact_id = @to_id
FROM (SELECT unnest(@types::text[]) AS type, unnest(@sources::text[]) AS source, unnest(@vals::text[]) AS value) AS k
WHERE i.workspace_id = @workspace_id AND i.contact_id = @from_id
  AND i.type = k.type AND i.source = k.source AND i.value = k.value
RETURNING i.type, i.source, i.value;

-- name: NotesOfContacts :many
SELECT id, contact_id FROM notes
WHERE workspace_id = @workspace_id AND contact_id = ANY(@ids::uuid[])
ORDER BY contact_id, id;

-- name: MoveNotes :exec
UPDATE notes SET contact_id = @to_id
WHERE workspace_id = @workspace_id AND contact_id = ANY(@from_ids::uuid[]);

-- name: MoveNotesBack :many
UPDATE notes SET contact_id = @to_id
WHERE workspace_id = @workspace_id AND contact_id = @from_id AND id = ANY(@ids::uuid[])
RETURNING id;

-- name: TagsOfContacts :many
SELECT contact_id, tag_id FROM contact_tags
WHERE workspace_id = @workspace_id AND contact_id = ANY(@ids::uuid[])
ORDER BY contact_id, tag_id;

-- AddContactTags assigns the tags listed that still exist, and answers those.
-- name: AddContactTags :many
INSERT INTO contact_tags (workspace_id, contact_id, tag_id)
SELECT @workspace_id, @contact_id, t.id FROM tags t
WHERE t.workspace_id = @workspace_id AND t.id = ANY(@tag_ids::uuid[])
ON CONFLICT DO NOTHING
RETURNING tag_id;

-- name: RemoveContactTags :exec
DELETE FROM contact_tags
WHERE workspace_id = @workspace_id AND contact_id = @contact_id AND tag_id = ANY(@tag_ids::uuid[]);

-- name: ExistingTags :many
SELECT id FROM tags WHERE workspace_id = @workspace_id AND id = ANY(@ids::uuid[]);

-- ContactSubjectConsents lists the consents kept against contacts themselves.
-- name: ContactSubjectConsents :many
SELECT * FROM consents
WHERE workspace_id = @workspace_id AND subject_type = 'contact' AND subject = ANY(@subjects::text[])
ORDER BY subject, channel;

-- name: DeleteContactSubjectConsent :exec
DELETE FROM consents
WHERE workspace_id = @workspace_id AND subject_type = 'contact' AND subject = @subject AND channel = @channel;

-- ContactSubjectSuppressions lists the active suppressions kept against contacts themselves.
-- name: ContactSubjectSuppressions :many
SELECT * FROM suppressions
WHERE workspace_id = @workspace_id AND subject_type = 'contact' AND subject = ANY(@subjects::text[])
  AND lifted_at IS NULL AND (expires_at IS NULL OR expires_at > now())
ORDER BY subject, channel;

-- name: DeleteContacts :exec
DELETE FROM contacts
WHERE workspace_id = @workspace_id AND id = ANY(@ids::uuid[]);

-- RestoreContact puts a merged contact back as it was.
-- name: RestoreContact :one
INSERT INTO contacts (workspace_id, id, name, name_key, phone_number, email, external_source, external_id,
                      custom_fields, merged_ids, created_at, updated_at)
VALUES (@workspace_id, @id, @name, @name_key, @phone_number, @email, @external_source, @external_id,
        @custom_fields, @merged_ids, @created_at, now())
RETURNING *;

-- name: SetMergedContact :one
UPDATE contacts SET
    name = @name,
    name_key = @name_key,
    phone_number = @phone_number,
    email = @email,
    external_source = @external_source,
    external_id = @external_id,
    custom_fields = @custom_fields,
    merged_ids = @merged_ids,
    updated_at = now()
WHERE workspace_id = @workspace_id AND id = @id
RETURNING *;

-- name: RedirectsTo :many
SELECT id, contact_id, merge_id FROM contact_redirects
WHERE workspace_id = @workspace_id AND contact_id = ANY(@ids::uuid[])
ORDER BY id;

-- PointRedirects points the ids listed at a contact, for the merge named.
-- name: PointRedirects :exec
INSERT INTO contact_redirects (workspace_id, id, contact_id, merge_id)
SELECT @workspace_id, unnest(@ids::uuid[]), @contact_id, @merge_id
ON CONFLICT (workspace_id, id) DO UPDATE SET contact_id = excluded.contact_id, merge_id = excluded.merge_id;

-- name: RepointRedirect :exec
UPDATE contact_redirects SET contact_id = @contact_id, merge_id = @merge_id
WHERE workspace_id = @workspace_id AND id = @id AND contact_id = @from_id;

-- name: DeleteRedirects :exec
DELETE FROM contact_redirects
WHERE workspace_id = @workspace_id AND id = ANY(@ids::uuid[]);

-- name: InsertMerge :one
INSERT INTO merges (workspace_id, id, contact_id, merged_ids, contact_ids, lost, record)
VALUES (@workspace_id, @id, @contact_id, @merged_ids, @contact_ids, @lost, @record)
RETURNING *;

-- name: GetMerge :one
SELECT * FROM merges WHERE workspace_id = @workspace_id AND id = @id;

-- name: GetMergeForUpdate :one
SELECT * FROM merges WHERE workspace_id = @workspace_id AND id = @id FOR UPDATE;

-- name: FinishUndo :one
UPDATE merges SET undone_at = now(), not_restored = @not_restored
WHERE workspace_id = @workspace_id AND id = @id
RETURNING *;

-- ContactMerges lists the merges any of the ids took part in, newest first.
-- name: ContactMerges :many
SELECT * FROM merges
WHERE workspace_id = @workspace_id AND contact_ids && @ids::uuid[]
ORDER BY created_at DESC, id DESC
LIMIT 100;

-- StandingMergesInto lists the records of the merges into a contact that are not undone, but one.
-- name: StandingMergesInto :many
SELECT record FROM merges
WHERE workspace_id = @workspace_id AND contact_ids @> ARRAY[@contact_id::uuid] AND contact_id = @contact_id
  AND undone_at IS NULL AND id <> @id;
