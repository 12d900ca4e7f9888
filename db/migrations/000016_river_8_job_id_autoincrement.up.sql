-- River's migration 8 (job id autoincrement), up: written by db/rivergen (make generate) from
-- rivermigrate's AllVersions, without River's schema placeholder. Do not edit by hand.

-- No-op. Postgres sequences already prevent automatically generated job IDs
-- from being reused.
SELECT 1;

-- River's record of its applied versions, kept as rivermigrate keeps it.
INSERT INTO river_migration (line, version) VALUES ('main', 8);
