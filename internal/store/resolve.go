package store

import (
	"context"

	"github.com/google/uuid"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/resolve"
)

// Resolve answers, in one statement, which contact each identifier of a lookup leads to.
func (s *Store) Resolve(ctx context.Context, wsID uuid.UUID, l resolve.Lookup) ([]dbq.ResolveIdentifiersRow, error) {
	p := dbq.ResolveIdentifiersParams{WorkspaceID: wsID, Ords: l.KeyOrds, IDOrds: l.IDOrds, Ids: l.ContactIDs}
	p.Types, p.Sources, p.Vals = keyColumns(l.Keys)
	return s.q.ResolveIdentifiers(ctx, p)
}
