package server

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/pg"
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
	var (
		tag dbq.UpsertTagRow
		as  dbq.AssignTagRow
	)
	err = pg.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if tag, err = q.UpsertTag(ctx, dbq.UpsertTagParams{WorkspaceID: ws.ID, ID: ids.New(), Name: name, NameKey: identity.Fold(name)}); err != nil {
			return err
		}
		as, err = q.AssignTag(ctx, dbq.AssignTagParams{WorkspaceID: ws.ID, ContactID: id, TagID: tag.ID})
		if errors.Is(err, pgx.ErrNoRows) {
			return pg.ErrRetry // assigned by a concurrent request this statement could not see yet
		}
		return notFound(err, req.ContactID)
	})
	if err != nil {
		return nil, err
	}
	out := tagOut(dbq.ListContactTagsRow{ID: tag.ID, Name: tag.Name, AssignedAt: as.CreatedAt})
	if as.Inserted {
		return api.AssignContactTag201JSONResponse{Data: out}, nil
	}
	return api.AssignContactTag200JSONResponse{Data: out}, nil
}

// ListContactTags lists the tags assigned to a contact.
func (s *Server) ListContactTags(ctx context.Context, req api.ListContactTagsRequestObject) (api.ListContactTagsResponseObject, error) {
	ws, id, err := s.existingContact(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ListContactTags(ctx, dbq.ListContactTagsParams{WorkspaceID: ws.ID, ContactID: id})
	if err != nil {
		return nil, err
	}
	return api.ListContactTags200JSONResponse{Data: convert(rows, tagOut)}, nil
}

func tagOut(r dbq.ListContactTagsRow) api.Tag {
	return api.Tag{Id: ids.Format(ids.Tag, r.ID), Name: r.Name, AssignedAt: r.AssignedAt.UTC()}
}

// UnassignContactTag removes a tag from a contact; removing one that is not assigned is not an error.
func (s *Server) UnassignContactTag(ctx context.Context, req api.UnassignContactTagRequestObject) (api.UnassignContactTagResponseObject, error) {
	ws, id, err := s.existingContact(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	key := identity.Fold(strings.TrimSpace(req.Tag))
	if err := s.q.UnassignTag(ctx, dbq.UnassignTagParams{WorkspaceID: ws.ID, ContactID: id, NameKey: key}); err != nil {
		return nil, err
	}
	return api.UnassignContactTag204Response{}, nil
}
