-- An import merges each updated contact's custom fields itself, under the row lock (it must, to
-- check the limits), so the staged update carries the merged object instead of a change to apply.
ALTER TABLE import_updates DROP COLUMN delete_fields;
ALTER TABLE import_updates RENAME COLUMN set_fields TO custom_fields;
