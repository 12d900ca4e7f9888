package store

import (
	"context"

	"github.com/google/uuid"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/reach"
	"github.com/wazapin/wazapin/internal/resolve"
)

// Reachability reads, in one statement, what decides whether each identifier of a lookup may be
// messaged on a channel: the contact it leads to, the active suppression that lasts longest and
// the latest consent among the identifier, that contact and its identifiers that reach the
// channel, and whether the workspace asks an opt-in there. Rows come in identifier order.
func (s *Store) Reachability(ctx context.Context, wsID uuid.UUID, channel string, l resolve.Lookup) ([]dbq.ReachabilityRow, error) {
	p := dbq.ReachabilityParams{
		WorkspaceID: wsID, Channel: channel, SubjectTypes: reach.IdentityTypes(channel),
		Ords: l.KeyOrds, IDOrds: l.IDOrds, Ids: l.ContactIDs,
	}
	if p.SubjectTypes == nil {
		p.SubjectTypes = []string{}
	}
	p.Types, p.Sources, p.Vals = keyColumns(l.Keys)
	return s.q.Reachability(ctx, p)
}
