-- Reachability answers, in one statement, whether each identifier of a request may be messaged
-- on one channel. An identifier is (ord, type, source, value) for identities and (ord, id) for
-- contact ids; ord is its index in the request. Its subjects are the identifier itself (when its
-- type reaches the channel, or is a contact id, deleted or not), the contact it leads to now,
-- and that contact's identities of the types that reach the channel (subject_types). Each
-- identifier gets its contact (if any; for a wa_id, the contact holding the wa_id before the one
-- holding its digits as a phone number), the active suppression that lasts longest among its
-- subjects, and their latest consent; opt_in_required says whether the workspace asks an opt-in
-- for the channel. Every lookup is by primary key.
-- name: Reachability :many
WITH k AS (
    SELECT unnest(@ords::int[]) AS ord, unnest(@types::text[]) AS type, unnest(@sources::text[]) AS source,
           unnest(@vals::text[]) AS value
), given AS (
    SELECT unnest(@id_ords::int[]) AS ord, unnest(@ids::uuid[]) AS id
), owner AS (
    SELECT DISTINCT ON (m.ord) m.ord, m.contact_id
    FROM (
        SELECT k.ord, CASE k.type WHEN 'wa_id' THEN 0 ELSE 1 END AS pos, i.contact_id
        FROM k
        CROSS JOIN LATERAL (
            SELECT contact_id FROM contact_identities
            WHERE workspace_id = @workspace_id AND type = k.type AND source = k.source AND value = k.value
            LIMIT 1
        ) AS i
        UNION ALL
        SELECT g.ord, 0, c.id
        FROM given g
        CROSS JOIN LATERAL (
            -- A merged contact's id stands for the contact it was merged into.
            SELECT id FROM contacts
            WHERE workspace_id = @workspace_id
              AND id = coalesce((SELECT r.contact_id FROM contact_redirects r WHERE r.workspace_id = @workspace_id AND r.id = g.id), g.id)
            LIMIT 1
        ) AS c
    ) AS m
    ORDER BY m.ord, m.pos
), subject AS (
    SELECT k.ord, k.type, k.value FROM k WHERE k.type = ANY(@subject_types::text[])
    UNION
    SELECT g.ord, 'contact', g.id::text FROM given g
    UNION
    SELECT o.ord, 'contact', o.contact_id::text FROM owner o
    UNION
    SELECT o.ord, i.type, i.value
    FROM owner o
    CROSS JOIN LATERAL (
        SELECT type, value FROM contact_identities
        WHERE workspace_id = @workspace_id AND contact_id = o.contact_id AND type = ANY(@subject_types::text[])
        OFFSET 0
    ) AS i
), suppressed AS (
    SELECT DISTINCT ON (sj.ord) sj.ord, s.subject_type, s.subject, s.contact_id, s.reason, s.expires_at, s.created_at
    FROM subject sj
    CROSS JOIN LATERAL (
        SELECT * FROM suppressions x
        WHERE x.workspace_id = @workspace_id AND x.subject_type = sj.type AND x.subject = sj.value
          AND x.channel = @channel AND x.lifted_at IS NULL AND (x.expires_at IS NULL OR x.expires_at > now())
        LIMIT 1
    ) AS s
    ORDER BY sj.ord, s.expires_at DESC NULLS FIRST, s.created_at
), consented AS (
    SELECT DISTINCT ON (sj.ord) sj.ord, c.status, c.source, c.captured_at
    FROM subject sj
    CROSS JOIN LATERAL (
        SELECT * FROM consents x
        WHERE x.workspace_id = @workspace_id AND x.subject_type = sj.type AND x.subject = sj.value
          AND x.channel = @channel
        LIMIT 1
    ) AS c
    ORDER BY sj.ord, c.captured_at DESC, c.status DESC
)
SELECT n.ord::int AS ord, o.contact_id,
       s.subject_type AS suppressed_type, s.subject AS suppressed_subject, s.contact_id AS suppressed_contact_id,
       s.reason AS suppression_reason, s.expires_at AS suppression_expires_at, s.created_at AS suppressed_at,
       c.status AS consent_status, c.source AS consent_source, c.captured_at AS consent_captured_at,
       (SELECT @channel::text = ANY(w.opt_in_channels) FROM workspaces w WHERE w.id = @workspace_id)::bool AS opt_in_required
FROM (SELECT k.ord FROM k UNION SELECT g.ord FROM given g) AS n
LEFT JOIN owner o ON o.ord = n.ord
LEFT JOIN suppressed s ON s.ord = n.ord
LEFT JOIN consented c ON c.ord = n.ord
ORDER BY n.ord;
