-- InsertEvents writes a change's events in the order given; each takes its number from
-- event_seq as it is inserted, so the change must have written its own rows first (it holds its
-- transaction id, and its locks, before it takes a number: see store.feedBound). When the
-- workspace has an enabled webhook endpoint, the events are queued for delivery in the same
-- statement (queue_deliveries, migration 000017).
-- name: InsertEvents :exec
WITH ev AS (
    INSERT INTO events (workspace_id, id, type, object_id, contact_id, data)
    SELECT @workspace_id, e.id, e.type, e.object_id, NULLIF(e.contact_id, '')::uuid, e.data::json
    FROM (SELECT unnest(@ids::uuid[]) AS id, unnest(@types::text[]) AS type, unnest(@object_ids::text[]) AS object_id,
                 unnest(@contact_ids::text[]) AS contact_id, unnest(@data::text[]) AS data) AS e
    RETURNING events.seq, events.id, events.type
)
SELECT queue_deliveries(@workspace_id, array_agg(ev.seq ORDER BY ev.seq), array_agg(ev.id ORDER BY ev.seq), array_agg(ev.type ORDER BY ev.seq))
FROM ev
HAVING EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.workspace_id = @workspace_id AND w.enabled);

-- CopyEvents writes an import's events; COPY numbers them from event_seq in the order sent.
-- name: CopyEvents :copyfrom
INSERT INTO events (workspace_id, id, type, object_id, contact_id, data)
VALUES (@workspace_id, @id, @type, @object_id, @contact_id, @data);

-- WantsEvents says whether a workspace has an enabled webhook endpoint: only then does an import
-- queue the deliveries of the events it COPYed.
-- name: WantsEvents :one
SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE workspace_id = @workspace_id AND enabled) AS wants;

-- QueueTransactionEvents queues the deliveries of the events this transaction wrote with numbers
-- above floor (an import's COPY).
-- name: QueueTransactionEvents :exec
SELECT queue_deliveries(@workspace_id, array_agg(e.seq ORDER BY e.seq), array_agg(e.id ORDER BY e.seq), array_agg(e.type ORDER BY e.seq))
FROM events e
WHERE e.workspace_id = @workspace_id AND e.seq > @floor AND e.xmin = pg_current_xact_id()::xid;

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

-- NewTransactionID assigns the statement a transaction id and answers it: an id greater than
-- every one assigned before (the snapshot's xmax is not: it is one past the newest transaction
-- that ended, and transactions still running may hold ids above it). Run alone, it commits at once.
-- name: NewTransactionID :one
SELECT pg_current_xact_id()::text::bigint AS xid;

-- OldestRunningXid is the oldest transaction id still running (the snapshot's xmin): every id
-- below it has ended.
-- name: OldestRunningXid :one
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin;

-- DeleteExpiredEvents deletes up to max_rows events created before a time, the oldest first as
-- they lie in the table, and records in event_horizons the newest number deleted per workspace.
-- The age is checked again for the reason DeleteExpiredDeliveries gives.
-- name: DeleteExpiredEvents :one
WITH gone AS (
    DELETE FROM events
    WHERE ctid = ANY (ARRAY(SELECT e.ctid FROM events e WHERE e.created_at < @before LIMIT @max_rows))
      AND created_at < @before
    RETURNING events.workspace_id, events.seq
), horizon AS (
    INSERT INTO event_horizons (workspace_id, deleted_through)
    SELECT g.workspace_id, max(g.seq) FROM gone g GROUP BY g.workspace_id
    ON CONFLICT (workspace_id) DO UPDATE
    SET deleted_through = greatest(event_horizons.deleted_through, excluded.deleted_through)
)
SELECT count(*) FROM gone;
