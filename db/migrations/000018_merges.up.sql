-- A merge folds contacts into one, the survivor. The merged contacts' rows leave contacts, so
-- lists, search and every identifier lead to the survivor alone; each merge keeps what its undo
-- needs (the merged rows as they were, and what moved) in its record, and every merged id leads
-- to its survivor through contact_redirects.

-- The ids merged into a contact, directly or through a contact merged into it before.
ALTER TABLE contacts ADD COLUMN merged_ids uuid[] NOT NULL DEFAULT '{}';

-- A merged id leads to the contact that now answers for it: always a contact that exists (a merge
-- into a merged contact follows to its survivor, and a merge re-points the redirects of the
-- contacts it folds), so a read follows one step. Deleting that contact deletes its redirects: the
-- merged ids are gone with it.
CREATE TABLE contact_redirects (
    workspace_id uuid NOT NULL,
    id           uuid NOT NULL, -- the merged contact's id
    contact_id   uuid NOT NULL, -- the contact it leads to
    merge_id     uuid NOT NULL, -- the merge that pointed it there
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX contact_redirects_contact_idx ON contact_redirects (workspace_id, contact_id);

CREATE TABLE merges (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    contact_id   uuid        NOT NULL, -- the survivor; no foreign key: the history outlives it
    merged_ids   uuid[]      NOT NULL, -- in the order the request named them
    contact_ids  uuid[]      NOT NULL, -- the survivor and the merged, for a contact's history
    lost         jsonb       NOT NULL, -- the values the merge dropped from view (api.LostValue)
    record       jsonb       NOT NULL, -- what an undo restores (internal/merge.Record)
    created_at   timestamptz NOT NULL DEFAULT now(),
    undone_at    timestamptz,
    not_restored jsonb, -- what the undo could not restore, and why (api.NotRestored)
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX merges_contacts_idx ON merges USING gin (contact_ids);
