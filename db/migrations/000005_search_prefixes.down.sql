DROP INDEX contacts_name_key_idx;
ALTER TABLE contacts ALTER COLUMN name_key TYPE text COLLATE "default";
ALTER TABLE contact_identities ALTER COLUMN value TYPE text COLLATE "default";
