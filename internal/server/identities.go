package server

import (
	"context"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
)

// ListContactIdentities lists every identity that leads to the contact.
func (s *Server) ListContactIdentities(ctx context.Context, req api.ListContactIdentitiesRequestObject) (api.ListContactIdentitiesResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.Identities(ctx, ws.ID, id)
	if err != nil {
		return nil, err
	}
	return api.ListContactIdentities200JSONResponse{Data: convert(rows, identityOut)}, nil
}

func identityOut(r dbq.ListContactIdentitiesRow) api.Identity {
	out := api.Identity{Type: api.IdentityType(r.Type), Value: r.Value, CreatedAt: r.CreatedAt.UTC()}
	if r.Source != "" {
		out.Source = ptr(r.Source)
	}
	return out
}
