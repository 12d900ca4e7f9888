-- queue_deliveries queues events (given as parallel arrays, in sequence order) for delivery to
-- every enabled webhook endpoint of the workspace that wants their type: a webhook_deliveries
-- row and a River job (kind webhook_delivery, queue webhooks; see internal/webhooks) each. The
-- statements that write events call it in the same statement, when the workspace has an enabled
-- endpoint, so that a delivery commits or rolls back with its event. It answers how many it
-- queued. River's tables exist from migration 000016 on.
CREATE FUNCTION queue_deliveries(ws uuid, seqs bigint[], event_ids uuid[], types text[]) RETURNS integer
LANGUAGE sql VOLATILE AS $$
    WITH d AS (
        INSERT INTO webhook_deliveries (workspace_id, id, endpoint_id, event_seq, event_id, event_type, next_attempt_at)
        SELECT ws, uuid_v7(), w.id, e.seq, e.id, e.type, now()
        FROM unnest(seqs, event_ids, types) AS e (seq, id, type)
        JOIN webhook_endpoints w ON w.workspace_id = ws
        WHERE w.enabled AND (w.event_types IS NULL OR e.type = ANY (w.event_types))
        ORDER BY e.seq, w.id
        RETURNING webhook_deliveries.workspace_id, webhook_deliveries.id
    ), j AS (
        INSERT INTO river_job (args, kind, max_attempts, queue)
        SELECT jsonb_build_object('workspace_id', d.workspace_id, 'delivery_id', d.id), 'webhook_delivery', 25, 'webhooks'
        FROM d
        RETURNING 1
    )
    SELECT count(*)::integer FROM j
$$;
