package store

import (
	"context"

	"github.com/google/uuid"

	dbq "github.com/wazapin/wazapin/gen/db"
)

// SchemaVersion is the migration the database was last moved to, and whether it failed half-way.
func (s *Store) SchemaVersion(ctx context.Context) (dbq.SchemaMigration, error) {
	return s.q.SchemaVersion(ctx)
}

// Workspace returns a workspace's settings.
func (s *Store) Workspace(ctx context.Context, id uuid.UUID) (dbq.GetWorkspaceRow, error) {
	return s.q.GetWorkspace(ctx, id)
}

// SetOptInChannels sets the channels on which the workspace may message only people with an
// opt-in on record.
func (s *Store) SetOptInChannels(ctx context.Context, id uuid.UUID, channels []string) (row dbq.GetWorkspaceRow, err error) {
	err = s.write(ctx, s.main, "workspace.update", id, func(q *txn) error {
		r, err := q.SetOptInChannels(ctx, dbq.SetOptInChannelsParams{ID: id, OptInChannels: channels})
		row = dbq.GetWorkspaceRow(r)
		return err
	})
	return row, err
}

// CreateWorkspace stores a new workspace with its first API key.
func (s *Store) CreateWorkspace(ctx context.Context, ws dbq.CreateWorkspaceParams, key dbq.CreateAPIKeyParams) error {
	return s.write(ctx, s.main, "workspace.create", ws.ID, func(q *txn) error {
		if _, err := q.CreateWorkspace(ctx, ws); err != nil {
			return err
		}
		_, err := q.CreateAPIKey(ctx, key)
		return err
	})
}
