ALTER TABLE import_updates RENAME COLUMN custom_fields TO set_fields;
ALTER TABLE import_updates ADD COLUMN delete_fields text[] NOT NULL DEFAULT '{}';
