-- An import applies its lines in order instead of grouping them first: staged keys no longer
-- belong to a group.
ALTER TABLE import_keys DROP COLUMN grp;
