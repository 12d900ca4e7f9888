package server

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/wire"
)

// maxNoteLen bounds a note's body, in characters.
const maxNoteLen = 10000

// CreateContactNote adds a note to a contact.
func (s *Server) CreateContactNote(ctx context.Context, req api.CreateContactNoteRequestObject) (api.CreateContactNoteResponseObject, error) {
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	body := req.Body.Body
	switch {
	case strings.TrimSpace(body) == "":
		return nil, apperr.InvalidField("body", "must not be blank")
	case utf8.RuneCountInString(body) > maxNoteLen:
		return nil, apperr.InvalidField("body", "must be at most 10000 characters")
	}
	row, err := s.store.AddNote(ctx, ws.ID, id, body)
	if err != nil {
		return nil, err
	}
	return api.CreateContactNote201JSONResponse{Body: api.NoteResponse{Data: wire.Note(row)}}, nil
}

// ListContactNotes pages through a contact's notes, newest first.
func (s *Server) ListContactNotes(ctx context.Context, req api.ListContactNotesRequestObject) (api.ListContactNotesResponseObject, error) {
	limit, before, err := page(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	ws, id, err := contactScope(ctx, req.ContactID)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.Notes(ctx, ws.ID, id, before, int32(limit+1))
	if err != nil {
		return nil, err
	}
	more := len(rows) > limit
	rows = rows[:min(len(rows), limit)]
	return api.ListContactNotes200JSONResponse{
		Data: wire.Convert(rows, wire.Note),
		Meta: nextPage(more, func() uuid.UUID { return rows[limit-1].ID }),
	}, nil
}
