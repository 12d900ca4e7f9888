package server

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/wire"
)

const maxTagLen = 64

// AssignContactTag assigns a tag, creating the workspace tag on first use.
func (s *Server) AssignContactTag(ctx context.Context, req api.AssignContactTagRequestObject) (api.AssignContactTagResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(req.Body.Name)
	switch {
	case name == "":
		return nil, apperr.InvalidField("name", "must not be blank")
	case utf8.RuneCountInString(name) > maxTagLen:
		return nil, apperr.InvalidField("name", "must be at most 64 characters")
	case strings.ContainsAny(name, "/\x00"):
		return nil, apperr.InvalidField("name", "must not contain '/' or NUL")
	}
	as, err := s.store.AssignTag(ctx, ws.ID, id, name)
	if err != nil {
		return nil, err
	}
	out := wire.Tag(as.Tag)
	if as.Inserted {
		return api.AssignContactTag201JSONResponse{Body: api.TagResponse{Data: out}}, nil
	}
	return api.AssignContactTag200JSONResponse{Body: api.TagResponse{Data: out}}, nil
}

// ListContactTags lists the tags assigned to a contact.
func (s *Server) ListContactTags(ctx context.Context, req api.ListContactTagsRequestObject) (api.ListContactTagsResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.Tags(ctx, ws.ID, id)
	if err != nil {
		return nil, err
	}
	return api.ListContactTags200JSONResponse{Data: wire.Convert(rows, wire.Tag)}, nil
}

// UnassignContactTag removes a tag from a contact; removing one that is not assigned is not an error.
func (s *Server) UnassignContactTag(ctx context.Context, req api.UnassignContactTagRequestObject) (api.UnassignContactTagResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	key := identity.Fold(strings.TrimSpace(req.Tag))
	if err := s.store.UnassignTag(ctx, ws.ID, id, key); err != nil {
		return nil, err
	}
	return api.UnassignContactTag204Response{}, nil
}
