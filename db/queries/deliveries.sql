-- Webhook deliveries: one per event and endpoint, attempted by River jobs (internal/webhooks).

-- DeliveryAttempt reads what an attempt needs: the delivery, its endpoint's URL and state. The
-- secrets that sign it come from WebhookSigningSecrets, the one rule for which keys sign.
-- name: DeliveryAttempt :one
SELECT d.endpoint_id, d.status, d.attempts, d.event_seq, d.event_id, d.event_type, d.created_at,
       w.url, w.enabled
FROM webhook_deliveries d
JOIN webhook_endpoints w ON w.workspace_id = d.workspace_id AND w.id = d.endpoint_id
WHERE d.workspace_id = @workspace_id AND d.id = @id;

-- name: GetEvent :one
SELECT * FROM events WHERE workspace_id = @workspace_id AND seq = @seq;

-- RecordDeliveryAttempt writes the outcome of an attempt.
-- name: RecordDeliveryAttempt :exec
UPDATE webhook_deliveries SET
    attempts = attempts + 1, status = @status, last_status_code = sqlc.narg(status_code), last_error = sqlc.narg(error),
    last_attempt_at = now(), next_attempt_at = sqlc.narg(next_attempt_at), updated_at = now()
WHERE workspace_id = @workspace_id AND id = @id;

-- FinishDelivery ends a delivery without an attempt (its endpoint is disabled, its event gone).
-- name: FinishDelivery :exec
UPDATE webhook_deliveries SET status = 'failed', last_error = @error, next_attempt_at = NULL, updated_at = now()
WHERE workspace_id = @workspace_id AND id = @id;

-- EndpointDelivered ends an endpoint's run of failures.
-- name: EndpointDelivered :exec
UPDATE webhook_endpoints SET failing_since = NULL
WHERE workspace_id = @workspace_id AND id = @id AND failing_since IS NOT NULL;

-- EndpointFailed counts a failure against an endpoint: it starts or continues its run of
-- failures, and disables it when the receiver said it is gone, or when the run has lasted
-- disable_after_seconds. It answers whether the endpoint is still enabled.
-- name: EndpointFailed :one
UPDATE webhook_endpoints w SET
    failing_since = coalesce(w.failing_since, now()),
    enabled = w.enabled AND NOT (@gone::boolean OR coalesce(w.failing_since, now()) <= now() - make_interval(secs => @disable_after_seconds::bigint)),
    disabled_reason = CASE
        WHEN NOT w.enabled THEN w.disabled_reason
        WHEN @gone::boolean THEN 'the endpoint answered 410 Gone'
        WHEN coalesce(w.failing_since, now()) <= now() - make_interval(secs => @disable_after_seconds::bigint)
            THEN 'no delivery succeeded since ' || to_char(w.failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        ELSE w.disabled_reason END,
    updated_at = now()
WHERE w.workspace_id = @workspace_id AND w.id = @id
RETURNING w.enabled;

-- ListWebhookDeliveries is a page of an endpoint's deliveries, newest first.
-- name: ListWebhookDeliveries :many
SELECT * FROM webhook_deliveries
WHERE workspace_id = @workspace_id AND endpoint_id = @endpoint_id AND id < @before_id
ORDER BY id DESC
LIMIT @max_rows;

-- name: GetWebhookDelivery :one
SELECT * FROM webhook_deliveries
WHERE workspace_id = @workspace_id AND endpoint_id = @endpoint_id AND id = @id;

-- RequeueDelivery makes a finished delivery pending again, with the schedule of retries from its
-- start (attempts counts from 0 again), and queues an attempt now; it answers
-- nothing for a delivery still pending, unless its attempt is overdue by more than 10 minutes
-- (its job was given up, after the database failed it again and again).
-- name: RequeueDelivery :one
WITH d AS (
    UPDATE webhook_deliveries u SET status = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
    WHERE u.workspace_id = @workspace_id AND u.endpoint_id = @endpoint_id AND u.id = @id
      AND (u.status <> 'pending' OR u.next_attempt_at < now() - interval '10 minutes')
    RETURNING u.*
), j AS (
    INSERT INTO river_job (args, kind, max_attempts, queue)
    SELECT jsonb_build_object('workspace_id', d.workspace_id, 'delivery_id', d.id), 'webhook_delivery', 25, 'webhooks'
    FROM d
)
SELECT * FROM d;

-- QueueTestDelivery queues a delivery of a webhook.test event (event_seq 0: it is not in the
-- feed) to one endpoint.
-- name: QueueTestDelivery :one
WITH d AS (
    INSERT INTO webhook_deliveries (workspace_id, id, endpoint_id, event_seq, event_id, event_type, next_attempt_at)
    VALUES (@workspace_id, @id, @endpoint_id, 0, @event_id, 'webhook.test', now())
    RETURNING *
), j AS (
    INSERT INTO river_job (args, kind, max_attempts, queue)
    SELECT jsonb_build_object('workspace_id', d.workspace_id, 'delivery_id', d.id), 'webhook_delivery', 25, 'webhooks'
    FROM d
)
SELECT * FROM d;

-- DeleteExpiredDeliveries deletes up to max_rows deliveries created before a time. A ctid names a
-- row of one table: partitioned or distributed by workspace, the same ctid is a row of each
-- partition (shard), so the age is checked again. There a batch may delete more than max_rows,
-- all expired.
-- name: DeleteExpiredDeliveries :execrows
DELETE FROM webhook_deliveries
WHERE ctid = ANY (ARRAY(SELECT d.ctid FROM webhook_deliveries d WHERE d.created_at < @before LIMIT @max_rows))
  AND created_at < @before;
