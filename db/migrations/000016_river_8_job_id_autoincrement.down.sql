-- River's migration 8 (job id autoincrement), down: written by db/rivergen (make generate) from
-- rivermigrate's AllVersions, without River's schema placeholder. Do not edit by hand.

-- No-op. Postgres sequences already prevent automatically generated job IDs
-- from being reused.
SELECT 1;

-- River's record of its applied versions, kept as rivermigrate keeps it.
DELETE FROM river_migration WHERE line = 'main' AND version = 8;
