package server

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/wire"
)

// maxMerged bounds the contacts one merge folds into its survivor, and so what one merge locks.
const maxMerged = 10

// MergeContacts merges other contacts into one (see mergeContacts in openapi.yaml).
func (s *Server) MergeContacts(ctx context.Context, req api.MergeContactsRequestObject) (api.MergeContactsResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	n := len(req.Body.ContactIds)
	if n < 1 || n > maxMerged {
		return nil, apperr.InvalidField("contact_ids", fmt.Sprintf("must list 1 to %d contacts", maxMerged))
	}
	others := make([]uuid.UUID, n)
	for i, raw := range req.Body.ContactIds {
		if slices.Contains(req.Body.ContactIds[:i], raw) {
			return nil, apperr.InvalidField(fmt.Sprintf("contact_ids[%d]", i), "is listed twice")
		}
		other, ok := ids.Parse(ids.Contact, raw)
		if !ok {
			// An id that cannot be one of ours names no contact of the workspace.
			return nil, contactNotFound(raw)
		}
		others[i] = other
	}
	dryRun := req.Body.DryRun != nil && *req.Body.DryRun
	out, err := s.store.Merge(ctx, ws.ID, id, others, dryRun)
	if err != nil {
		return nil, err
	}
	m, err := wire.Merge(out.Merge)
	if err != nil {
		return nil, err
	}
	m.DryRun = dryRun
	return api.MergeContacts200JSONResponse{Body: api.MergeResponse{Data: api.MergeResult{Contact: wire.Contact(out.Contact), Merge: m}}}, nil
}

// UndoMerge undoes a merge (see undoMerge in openapi.yaml).
func (s *Server) UndoMerge(ctx context.Context, req api.UndoMergeRequestObject) (api.UndoMergeResponseObject, error) {
	ws, id, err := mergeScope(ctx, req.MergeID)
	if err != nil {
		return nil, err
	}
	out, err := s.store.Undo(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	m, err := wire.Merge(out.Merge)
	if err != nil {
		return nil, err
	}
	return api.UndoMerge200JSONResponse{Body: api.UndoResponse{Data: api.UndoResult{
		Contact: wire.Contact(out.Contact), Restored: wire.Convert(out.Restored, wire.Contact), Merge: m,
	}}}, nil
}

// GetMerge returns a merge.
func (s *Server) GetMerge(ctx context.Context, req api.GetMergeRequestObject) (api.GetMergeResponseObject, error) {
	ws, id, err := mergeScope(ctx, req.MergeID)
	if err != nil {
		return nil, err
	}
	row, err := s.store.MergeByID(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	m, err := wire.Merge(row)
	if err != nil {
		return nil, err
	}
	return api.GetMerge200JSONResponse{Data: m}, nil
}

// ListContactMerges lists a contact's merge history, newest first.
func (s *Server) ListContactMerges(ctx context.Context, req api.ListContactMergesRequestObject) (api.ListContactMergesResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.ContactMerges(ctx, ws.ID, id)
	if err != nil {
		return nil, err
	}
	out := make([]api.Merge, len(rows))
	for i, r := range rows {
		if out[i], err = wire.Merge(r); err != nil {
			return nil, err
		}
	}
	return api.ListContactMerges200JSONResponse{Data: out}, nil
}

// mergeScope returns the caller's workspace id and the merge id of a path, which may not exist.
func mergeScope(ctx context.Context, raw string) (uuid.UUID, uuid.UUID, error) {
	ws, id, err := scope(ctx, raw, ids.Merge, "merge")
	return ws.ID, id, err
}
