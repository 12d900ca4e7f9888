-- InsertEvents writes a change's events in the order given; each takes its number from
-- event_seq as it is inserted, so the change must have written its own rows first (it holds its
-- transaction id, and its locks, before it takes a number: see store.feedBound). Each event is
-- then queued for delivery to every enabled endpoint of the workspace that wants its type: a
-- webhook_deliveries row and a River job (kind webhook_delivery, queue webhooks), in the same
-- transaction as the event.
-- name: InsertEvents :exec
WITH ev AS (
    INSERT INTO events (workspace_id, id, type, object_id, contact_id, data)
    SELECT @workspace_id, e.id, e.type, e.object_id, NULLIF(e.contact_id, '')::uuid, e.data::json
    FROM (SELECT unnest(@ids::uuid[]) AS id, unnest(@types::text[]) AS type, unnest(@object_ids::text[]) AS object_id,
                 unnest(@contact_ids::text[]) AS contact_id, unnest(@data::text[]) AS data) AS e
    RETURNING events.workspace_id, events.seq, events.id, events.type
), d AS (
    INSERT INTO webhook_deliveries (workspace_id, id, endpoint_id, event_seq, event_id, event_type, next_attempt_at)
    SELECT ev.workspace_id, uuid_v7(), w.id, ev.seq, ev.id, ev.type, now()
    FROM ev JOIN webhook_endpoints w ON w.workspace_id = ev.workspace_id
    WHERE w.enabled AND (w.event_types IS NULL OR ev.type = ANY (w.event_types))
    RETURNING webhook_deliveries.workspace_id, webhook_deliveries.id
)
INSERT INTO river_job (args, kind, max_attempts, queue)
SELECT jsonb_build_object('workspace_id', d.workspace_id, 'delivery_id', d.id), 'webhook_delivery', 25, 'webhooks'
FROM d;

-- CopyEvents writes an import's events; COPY numbers them from event_seq in the order sent.
-- name: CopyEvents :copyfrom
INSERT INTO events (workspace_id, id, type, object_id, contact_id, data)
VALUES (@workspace_id, @id, @type, @object_id, @contact_id, @data);

-- WantsEvents says whether a workspace has an enabled webhook endpoint: an import queues the
-- deliveries of the events it COPYs only then.
-- name: WantsEvents :one
SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE workspace_id = @workspace_id AND enabled) AS wants;

-- DeliverTransactionEvents queues, as InsertEvents does, the deliveries of the events this
-- transaction wrote with numbers above floor (an import's COPY).
-- name: DeliverTransactionEvents :exec
WITH d AS (
    INSERT INTO webhook_deliveries (workspace_id, id, endpoint_id, event_seq, event_id, event_type, next_attempt_at)
    SELECT e.workspace_id, uuid_v7(), w.id, e.seq, e.id, e.type, now()
    FROM events e JOIN webhook_endpoints w ON w.workspace_id = e.workspace_id
    WHERE e.workspace_id = @workspace_id AND e.seq > @floor AND e.xmin = pg_current_xact_id()::xid
      AND w.enabled AND (w.event_types IS NULL OR e.type = ANY (w.event_types))
    RETURNING webhook_deliveries.workspace_id, webhook_deliveries.id
)
INSERT INTO river_job (args, kind, max_attempts, queue)
SELECT jsonb_build_object('workspace_id', d.workspace_id, 'delivery_id', d.id), 'webhook_delivery', 25, 'webhooks'
FROM d;

-- TransactionTime is now() of the transaction: the created_at and updated_at its rows get.
-- name: TransactionTime :one
SELECT now()::timestamptz AS now;

-- ListEvents is a page of a workspace's events after a sequence number, up to the newest one the
-- feed may show (internal/events.Watermark), of the given types or of every type.
-- name: ListEvents :many
SELECT * FROM events
WHERE workspace_id = @workspace_id AND seq > @after AND seq <= @through
  AND (cardinality(@types::text[]) = 0 OR type = ANY(@types::text[]))
ORDER BY seq
LIMIT @max_rows;

-- ListContactEvents is ListEvents for one contact's events.
-- name: ListContactEvents :many
SELECT * FROM events
WHERE workspace_id = @workspace_id AND contact_id = @contact_id AND seq > @after AND seq <= @through
  AND (cardinality(@types::text[]) = 0 OR type = ANY(@types::text[]))
ORDER BY seq
LIMIT @max_rows;

-- EventHorizon is the newest sequence number retention deleted in a workspace, or 0.
-- name: EventHorizon :one
SELECT coalesce((SELECT deleted_through FROM event_horizons WHERE workspace_id = @workspace_id), 0)::bigint AS deleted_through;

-- EventSeqIssued is the newest number event_seq has handed out (0 before the first).
-- name: EventSeqIssued :one
SELECT coalesce(pg_sequence_last_value('event_seq'::regclass), 0)::bigint AS issued;

-- SnapshotBounds are the oldest transaction still running (xmin) and the next transaction id to
-- be assigned (xmax) when the statement starts.
-- name: SnapshotBounds :one
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax;

-- DeleteExpiredEvents deletes up to max_rows events created before a time, the oldest first as
-- they lie in the table, and records in event_horizons the newest number deleted per workspace.
-- name: DeleteExpiredEvents :one
WITH gone AS (
    DELETE FROM events
    WHERE ctid = ANY (ARRAY(SELECT e.ctid FROM events e WHERE e.created_at < @before LIMIT @max_rows))
    RETURNING events.workspace_id, events.seq
), horizon AS (
    INSERT INTO event_horizons (workspace_id, deleted_through)
    SELECT g.workspace_id, max(g.seq) FROM gone g GROUP BY g.workspace_id
    ON CONFLICT (workspace_id) DO UPDATE
    SET deleted_through = greatest(event_horizons.deleted_through, excluded.deleted_through)
)
SELECT count(*) FROM gone;
