package server

import (
	"context"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
)

// ListContactIdentities lists every identity that leads to the contact.
func (s *Server) ListContactIdentities(ctx context.Context, req api.ListContactIdentitiesRequestObject) (api.ListContactIdentitiesResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	id, err := s.requireContact(ctx, ws.ID, req.ContactID)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ListContactIdentities(ctx, dbq.ListContactIdentitiesParams{WorkspaceID: ws.ID, ContactID: id})
	if err != nil {
		return nil, err
	}
	out := api.ListContactIdentities200JSONResponse{Data: make([]api.Identity, len(rows))}
	for i, r := range rows {
		out.Data[i] = api.Identity{Type: api.IdentityType(r.Type), Value: r.Value, CreatedAt: r.CreatedAt.UTC()}
		if r.Source != "" {
			out.Data[i].Source = ptr(r.Source)
		}
	}
	return out, nil
}
