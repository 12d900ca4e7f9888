-- River's migration 1 (create river migration), down: written by db/rivergen (make generate) from
-- rivermigrate's AllVersions, without River's schema placeholder. Do not edit by hand.

DROP TABLE river_migration;
