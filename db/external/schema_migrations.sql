-- The table golang-migrate keeps its state in. It creates the table itself before the first
-- migration; this declaration exists only so that sqlc can compile queries that read it.
CREATE TABLE schema_migrations (
    version bigint NOT NULL PRIMARY KEY,
    dirty boolean NOT NULL
);
