-- Every change writes its events here in the change's own transaction (the outbox), and the feed
-- and the webhook deliveries read them from here.
--
-- seq orders events: it is taken from one sequence (no cache, so values are handed out in time
-- order across sessions) by the event's INSERT, which is the last statement of the change and
-- runs while the change still holds its row locks, so two changes of one object get their
-- numbers in the order they happened. Numbers are shared by all workspaces, so a workspace sees
-- gaps. The feed shows an event only once every transaction that could still commit a smaller
-- number has ended (see store.feedBound), so a consumer resuming after a number misses nothing.
CREATE SEQUENCE event_seq AS bigint;

CREATE TABLE events (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    seq          bigint      NOT NULL DEFAULT nextval('event_seq'),
    id           uuid        NOT NULL,
    type         text        NOT NULL,
    object_id    text        NOT NULL, -- the object's id as the API writes it (cnt_…, ch_…, note_…)
    contact_id   uuid,                 -- the contact the event is about, for the feed's filter
    data         json        NOT NULL, -- {"object": …, "previous_attributes": …}, kept as written (no jsonb parse)
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, seq)
);
ALTER SEQUENCE event_seq OWNED BY events.seq;
CREATE INDEX events_by_contact ON events (workspace_id, contact_id, seq) WHERE contact_id IS NOT NULL;
-- Retention deletes the oldest events in batches; rows arrive in time order, so a BRIN index
-- finds them for a fraction of a B-tree's upkeep.
CREATE INDEX events_by_age ON events USING brin (created_at);

-- Webhook endpoints. Signing secrets are sealed by the service like channel credentials (bound to
-- the workspace and endpoint ids); while a rotation lasts, the previous secret signs as well.
CREATE TABLE webhook_endpoints (
    workspace_id             uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                       uuid        NOT NULL,
    url                      text        NOT NULL,
    description              text,
    event_types              text[],     -- NULL: every type
    enabled                  boolean     NOT NULL DEFAULT true,
    disabled_reason          text,
    secret                   bytea       NOT NULL,
    previous_secret          bytea,
    previous_secret_until    timestamptz,
    failing_since            timestamptz, -- first failure of the current run of failures
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);

-- A time-ordered uuid (version 7), as ids.New makes in Go, for the rows SQL creates: the
-- deliveries an event's INSERT fans out to. Its first 48 bits are the Unix time in milliseconds.
CREATE FUNCTION uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;

-- One delivery per event and endpoint, written with the event; its attempts run as River jobs.
CREATE TABLE webhook_deliveries (
    workspace_id     uuid        NOT NULL,
    id               uuid        NOT NULL,
    endpoint_id      uuid        NOT NULL,
    event_seq        bigint      NOT NULL,
    event_id         uuid        NOT NULL,
    event_type       text        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text,
    last_attempt_at  timestamptz,
    next_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, endpoint_id) REFERENCES webhook_endpoints (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (workspace_id, endpoint_id, id);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries USING brin (created_at);

-- The newest sequence number retention has deleted in each workspace: a feed asked to resume
-- before it answers 410, since the events in between are gone.
CREATE TABLE event_horizons (
    workspace_id    uuid   NOT NULL PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    deleted_through bigint NOT NULL
);
