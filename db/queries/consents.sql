-- PutConsents records consent on one channel for subjects recorded through one contact: the
-- contact itself ('contact', its id), replaced, and its identities that reach the channel, whose
-- consent changes only for one captured as late or later (a backfilled opt-in does not undo an
-- opt-out recorded since).
-- name: PutConsents :exec
INSERT INTO consents (workspace_id, channel, subject_type, subject, contact_id, status, source, captured_at)
SELECT @workspace_id, @channel, unnest(@types::text[]), unnest(@vals::text[]), @contact_id, @status, @source, @captured_at
ON CONFLICT (workspace_id, subject_type, subject, channel) DO UPDATE SET
    contact_id = excluded.contact_id,
    status = excluded.status,
    source = excluded.source,
    captured_at = excluded.captured_at,
    updated_at = now()
WHERE consents.subject_type = 'contact' OR excluded.captured_at >= consents.captured_at;

-- ContactConsents lists the consents the contact or its identities hold, each subject probing the
-- primary key (see ContactSuppressions).
-- name: ContactConsents :many
SELECT s.channel, s.subject_type, s.subject, s.status, s.source, s.captured_at, s.created_at, s.updated_at
FROM (SELECT 'contact' AS type, @contact_ref::text AS value
      UNION ALL
      SELECT i.type, i.value FROM contact_identities i
      WHERE i.workspace_id = @workspace_id AND i.contact_id = @contact_id) AS sj
CROSS JOIN LATERAL (
    SELECT * FROM consents x
    WHERE x.workspace_id = @workspace_id AND x.subject_type = sj.type AND x.subject = sj.value
    OFFSET 0
) AS s
ORDER BY s.channel, s.subject_type, s.subject;

-- ForgetOptIn drops the opt-in kept against one subject of a contact that is being deleted; its
-- opt-outs and suppressions stay, to keep protecting the people behind its identifiers.
-- name: ForgetOptIn :exec
DELETE FROM consents
WHERE workspace_id = @workspace_id AND subject_type = @subject_type AND subject = @subject AND status = 'opted_in';
