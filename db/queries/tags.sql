-- UpsertTag returns the workspace tag of this name, creating it on first use. The no-op update makes
-- RETURNING answer for an existing tag too, and keeps the first spelling.
-- name: UpsertTag :one
INSERT INTO tags (workspace_id, id, name, name_key)
VALUES (@workspace_id, @id, @name, @name_key)
ON CONFLICT (workspace_id, name_key) DO UPDATE SET name = tags.name
RETURNING id, name;

-- name: AssignTag :one
WITH ins AS (
    INSERT INTO contact_tags (workspace_id, contact_id, tag_id)
    VALUES (@workspace_id, @contact_id, @tag_id)
    ON CONFLICT DO NOTHING
    RETURNING created_at
)
SELECT created_at, true AS inserted FROM ins
UNION ALL
SELECT created_at, false AS inserted FROM contact_tags
WHERE workspace_id = @workspace_id AND contact_id = @contact_id AND tag_id = @tag_id
  AND NOT EXISTS (SELECT 1 FROM ins);

-- name: ListContactTags :many
SELECT t.id, t.name, ct.created_at AS assigned_at
FROM contact_tags ct
JOIN tags t ON t.workspace_id = ct.workspace_id AND t.id = ct.tag_id
WHERE ct.workspace_id = @workspace_id AND ct.contact_id = @contact_id
ORDER BY t.name_key;

-- name: UnassignTag :many
WITH gone AS (
    DELETE FROM contact_tags ct
    WHERE ct.workspace_id = @workspace_id AND ct.contact_id = @contact_id
      AND ct.tag_id = (SELECT t.id FROM tags t WHERE t.workspace_id = @workspace_id AND t.name_key = @name_key)
    RETURNING ct.tag_id, ct.created_at
)
SELECT t.id, t.name, gone.created_at AS assigned_at
FROM gone JOIN tags t ON t.workspace_id = @workspace_id AND t.id = gone.tag_id;
