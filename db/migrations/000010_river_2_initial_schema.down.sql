-- River's migration 2 (initial schema), down: written by db/rivergen (make generate) from
-- rivermigrate's AllVersions, without River's schema placeholder. Do not edit by hand.

DROP TABLE river_job;
DROP FUNCTION river_job_notify;
DROP TYPE river_job_state;

DROP TABLE river_leader;

-- River's record of its applied versions, kept as rivermigrate keeps it.
DELETE FROM river_migration WHERE version = 2;
