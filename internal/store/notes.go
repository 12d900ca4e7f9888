package store

import (
	"context"

	"github.com/google/uuid"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/events"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/pg"
)

// AddNote adds a note to a contact.
func (s *Store) AddNote(ctx context.Context, wsID, contactID uuid.UUID, body string) (row dbq.Note, err error) {
	err = s.follow(ctx, wsID, contactID, func(contactID uuid.UUID) error {
		return s.write(ctx, s.main, "note.create", wsID, func(q *txn) error {
			row, err = q.InsertNote(ctx, dbq.InsertNoteParams{WorkspaceID: wsID, ID: ids.New(), ContactID: contactID, Body: body})
			if err != nil {
				return missingContact(err, contactID)
			}
			q.emit(events.Note(row))
			return nil
		})
	})
	return row, err
}

// Notes is a page of a contact's notes, newest first: pageSize of them with ids below before.
func (s *Store) Notes(ctx context.Context, wsID, contactID, before uuid.UUID, pageSize int32) (rows []dbq.Note, err error) {
	err = s.follow(ctx, wsID, contactID, func(contactID uuid.UUID) error {
		if err := s.ContactExists(ctx, wsID, contactID); err != nil {
			return err
		}
		rows, err = s.q.ListNotes(ctx, dbq.ListNotesParams{WorkspaceID: wsID, ContactID: contactID, BeforeID: before, PageSize: pageSize})
		return err
	})
	return rows, err
}

// missingContact words the foreign-key violation of a row added to a contact that is not there.
func missingContact(err error, id uuid.UUID) error {
	if pg.IsForeignKeyViolation(err) {
		return contactNotFound(id)
	}
	return err
}
