-- The places of each channel's provider bound (at most that many requests in flight to it),
-- shared by every server process on the database: a lookup takes places before asking the
-- provider and gives them back after, each in a statement of its own, so no connection or
-- transaction is held while the provider answers. A place is held until expires_at, a little
-- past the lookup's provider deadline, so the places of a process that died mid-lookup come
-- free by themselves. A place given back keeps its row, free (expires_at -infinity), for the next
-- taker: a channel has at most as many rows as its bound, and they go with it.
CREATE TABLE channel_slots (
    workspace_id uuid        NOT NULL,
    channel_id   uuid        NOT NULL,
    slot         integer     NOT NULL, -- 1 to the bound
    holder       uuid        NOT NULL, -- the lookup holding it
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, channel_id, slot),
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id) ON DELETE CASCADE
);
