package store

import (
	"context"

	"github.com/google/uuid"

	dbq "github.com/wazapin/wazapin/gen/db"
)

// GetAPIKey returns the live API key with this id and its workspace (pgx.ErrNoRows when there is
// none), for tenant.Authenticator.
func (s *Store) GetAPIKey(ctx context.Context, id uuid.UUID) (dbq.GetAPIKeyRow, error) {
	return s.q.GetAPIKey(ctx, id)
}

// SchemaVersion is the migration the database was last moved to, and whether it failed half-way.
func (s *Store) SchemaVersion(ctx context.Context) (dbq.SchemaMigration, error) {
	return s.q.SchemaVersion(ctx)
}
