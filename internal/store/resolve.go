package store

import (
	"context"

	dbq "github.com/wazapin/wazapin/gen/db"
)

// Resolve answers, in one statement, which contact each identifier key leads to.
func (s *Store) Resolve(ctx context.Context, p dbq.ResolveIdentifiersParams) ([]dbq.ResolveIdentifiersRow, error) {
	return s.q.ResolveIdentifiers(ctx, p)
}
