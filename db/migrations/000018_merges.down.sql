DROP TABLE merges;
DROP TABLE contact_redirects;
ALTER TABLE contacts DROP COLUMN merged_ids;
