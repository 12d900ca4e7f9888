package server

import (
	"context"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/wire"
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
	return api.ListContactIdentities200JSONResponse{Data: wire.Convert(rows, wire.Identity)}, nil
}
