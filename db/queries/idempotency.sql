-- LockIdempotencyKey takes the transaction-level advisory lock of an idempotency key (a hash of
-- its workspace and key), without waiting: false when another transaction holds it.
-- name: LockIdempotencyKey :one
SELECT pg_try_advisory_xact_lock(@lock_key::bigint) AS locked;

-- GetIdempotentAnswer is the answer stored for a key, unless it has expired.
-- name: GetIdempotentAnswer :one
SELECT fingerprint, status, content_type, location, etag, body, sealed
FROM idempotency_keys
WHERE workspace_id = @workspace_id AND key = @key AND expires_at > now();

-- StoreIdempotentAnswer stores the answer of a key for ttl_seconds, over an expired one that
-- retention has not deleted yet; no row is written when an answer that has not expired is stored
-- already (a repeat that committed first).
-- name: StoreIdempotentAnswer :execrows
INSERT INTO idempotency_keys (workspace_id, key, fingerprint, status, content_type, location, etag, body, sealed, expires_at)
VALUES (@workspace_id, @key, @fingerprint, @status, @content_type, @location, @etag, @body, @sealed,
        now() + make_interval(secs => @ttl_seconds::float8))
ON CONFLICT (workspace_id, key) DO UPDATE
SET fingerprint = excluded.fingerprint, status = excluded.status, content_type = excluded.content_type,
    location = excluded.location, etag = excluded.etag, body = excluded.body, sealed = excluded.sealed,
    created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE idempotency_keys.expires_at <= now();

-- DeleteExpiredIdempotencyKeys deletes up to max_rows answers that expired before a time; the
-- expiry is checked again for the reason DeleteExpiredDeliveries gives.
-- name: DeleteExpiredIdempotencyKeys :execrows
DELETE FROM idempotency_keys
WHERE ctid = ANY (ARRAY(SELECT k.ctid FROM idempotency_keys k WHERE k.expires_at < @before LIMIT @max_rows))
  AND expires_at < @before;
