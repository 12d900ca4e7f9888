-- PutSuppressions suppresses one channel for subjects recorded through one contact: the contact
-- itself ('contact', its id) and its identities that reach the channel. Suppressing again replaces
-- the reason and expiry and clears an earlier lift.
-- name: PutSuppressions :exec
INSERT INTO suppressions (workspace_id, channel, subject_type, subject, contact_id, reason, expires_at)
SELECT @workspace_id, @channel, unnest(@types::text[]), unnest(@vals::text[]), @contact_id, @reason, @expires_at
ON CONFLICT (workspace_id, subject_type, subject, channel) DO UPDATE SET
    contact_id = excluded.contact_id,
    reason = excluded.reason,
    expires_at = excluded.expires_at,
    lifted_at = NULL,
    lift_reason = NULL,
    -- A suppression that had ended (lifted or expired) begins again now.
    created_at = CASE WHEN suppressions.lifted_at IS NOT NULL OR suppressions.expires_at <= now()
                      THEN now() ELSE suppressions.created_at END,
    updated_at = now();

-- LiftSuppression records the lift of one subject's suppression of a channel, unless lifted.
-- name: LiftSuppression :execrows
UPDATE suppressions SET lifted_at = now(), lift_reason = @lift_reason, updated_at = now()
WHERE workspace_id = @workspace_id AND subject_type = @subject_type AND subject = @subject
  AND channel = @channel AND lifted_at IS NULL;

-- ContactSuppressions lists the suppressions the contact or its identities hold, whoever they
-- were recorded through. Each subject probes the primary key (OFFSET 0 keeps the subquery from
-- being flattened into a join that a generic plan would hash over the whole table).
-- name: ContactSuppressions :many
SELECT s.channel, s.subject_type, s.subject, s.reason, s.expires_at, s.lifted_at, s.lift_reason,
       s.created_at, s.updated_at
FROM (SELECT 'contact' AS type, @contact_ref::text AS value
      UNION ALL
      SELECT i.type, i.value FROM contact_identities i
      WHERE i.workspace_id = @workspace_id AND i.contact_id = @contact_id) AS sj
CROSS JOIN LATERAL (
    SELECT * FROM suppressions x
    WHERE x.workspace_id = @workspace_id AND x.subject_type = sj.type AND x.subject = sj.value
    OFFSET 0
) AS s
ORDER BY s.channel, s.subject_type, s.subject;
