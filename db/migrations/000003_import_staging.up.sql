-- Staging for bulk imports. An import COPYs its rows here inside its own transaction, works on
-- them with set-based statements and deletes them before it commits, so no other session ever
-- sees them; UNLOGGED because they never need to survive a crash. Statements join staging only
-- to indexed real tables: staging tables have no statistics inside the transaction that fills
-- them, and a plan joining two of them can go quadratic.
CREATE UNLOGGED TABLE import_keys (
    workspace_id uuid NOT NULL,
    import_id    uuid NOT NULL,
    grp          int  NOT NULL, -- the group of lines (one future contact) the key belongs to
    type         text NOT NULL,
    source       text NOT NULL,
    value        text NOT NULL
);
CREATE INDEX import_keys_import_idx ON import_keys (workspace_id, import_id);

CREATE UNLOGGED TABLE import_updates (
    workspace_id    uuid    NOT NULL,
    import_id       uuid    NOT NULL,
    contact_id      uuid    NOT NULL,
    name            text,
    name_key        text,
    phone_number    text,
    email           text,
    external_source text,
    external_id     text,
    set_fields      jsonb   NOT NULL,
    delete_fields   text[]  NOT NULL
);
CREATE INDEX import_updates_import_idx ON import_updates (workspace_id, import_id);
