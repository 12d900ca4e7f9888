-- name: InsertNote :one
INSERT INTO notes (workspace_id, id, contact_id, body)
VALUES (@workspace_id, @id, @contact_id, @body)
RETURNING *;

-- name: ListNotes :many
SELECT * FROM notes
WHERE workspace_id = @workspace_id AND contact_id = @contact_id AND id < @before_id
ORDER BY id DESC
LIMIT @page_size;
