DROP TABLE IF EXISTS import_updates;
DROP TABLE IF EXISTS import_keys;
