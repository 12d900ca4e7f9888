-- River's job table, created by River's migrations (db/migrations/0000NN_river_*, which sqlc does
-- not read). Declared here with the columns our statements write, so that sqlc can compile the
-- statements that queue a delivery in the transaction of its event; River owns the table.
CREATE TABLE river_job (
    id           bigserial   PRIMARY KEY,
    args         jsonb       NOT NULL,
    kind         text        NOT NULL,
    max_attempts smallint    NOT NULL,
    queue        text        NOT NULL DEFAULT 'default',
    scheduled_at timestamptz NOT NULL DEFAULT now()
);
