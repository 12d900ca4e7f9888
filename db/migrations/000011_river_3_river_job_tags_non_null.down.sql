-- River's migration 3 (river job tags non null), down: written by db/rivergen (make generate) from
-- rivermigrate's AllVersions, without River's schema placeholder. Do not edit by hand.

ALTER TABLE river_job
    ALTER COLUMN tags DROP NOT NULL,
    ALTER COLUMN tags DROP DEFAULT;

-- River's record of its applied versions, kept as rivermigrate keeps it.
DELETE FROM river_migration WHERE version = 3;
