-- WALInsertPosition is how far the primary has written its WAL, as a byte position: a change
-- committed before this runs lies below it, so a replica that has replayed up to it shows that
-- change (the consistency token of a write's answer; internal/replica).
-- name: WALInsertPosition :one
SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint AS lsn;

-- ReplayPosition is how far a streaming replica has replayed its primary's WAL, as a byte
-- position, or -1 on a server that is not replaying (a primary, or a replica promoted since).
-- name: ReplayPosition :one
SELECT coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, -1)::bigint AS lsn;
