-- Search (GET /v1/contacts?q=) finds contacts by the prefix of their name key, email or phone
-- number through index ranges. PostgreSQL turns a prefix into a range scan only on an index that
-- compares bytes, so the columns it searches compare bytewise ("C") whatever the database's
-- locale. Equality is unchanged (every collation here is deterministic), and comparing identity
-- keys bytewise is also cheaper than by a locale's rules. Changing a column's collation rebuilds
-- its indexes; it does not rewrite the table.
ALTER TABLE contact_identities ALTER COLUMN value TYPE text COLLATE "C";
ALTER TABLE contacts ALTER COLUMN name_key TYPE text COLLATE "C";
CREATE INDEX contacts_name_key_idx ON contacts (workspace_id, name_key);
