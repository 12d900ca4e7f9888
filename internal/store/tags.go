package store

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/events"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/pg"
)

// Assignment is a tag on a contact.
type Assignment struct {
	Tag      dbq.ListContactTagsRow
	Inserted bool // false when the contact had the tag already
}

// AssignTag assigns a tag to a contact, creating the workspace tag on first use.
func (s *Store) AssignTag(ctx context.Context, wsID, contactID uuid.UUID, name string) (out Assignment, err error) {
	err = s.follow(ctx, wsID, contactID, func(id uuid.UUID) (err error) {
		out, err = s.assignTag(ctx, wsID, id, name)
		return err
	})
	return out, err
}

func (s *Store) assignTag(ctx context.Context, wsID, contactID uuid.UUID, name string) (out Assignment, err error) {
	err = s.write(ctx, s.main, "tag.assign", wsID, func(q *txn) error {
		// The contact first, then the tag, as a merge takes them: an assignment and a merge of
		// the same contact wait for each other instead of deadlocking, and one that waited for
		// a merge finds the contact gone and follows it.
		if _, err := lockContact(ctx, q.Queries, wsID, contactID); err != nil {
			return err
		}
		tag, err := q.UpsertTag(ctx, dbq.UpsertTagParams{WorkspaceID: wsID, ID: ids.New(), Name: name, NameKey: identity.Fold(name)})
		if err != nil {
			return err
		}
		as, err := q.AssignTag(ctx, dbq.AssignTagParams{WorkspaceID: wsID, ContactID: contactID, TagID: tag.ID})
		if errors.Is(err, pgx.ErrNoRows) {
			return pg.ErrRetry // assigned by a concurrent request this statement could not see yet
		}
		if err != nil {
			return missingContact(err, contactID)
		}
		out = Assignment{Tag: dbq.ListContactTagsRow{ID: tag.ID, Name: tag.Name, AssignedAt: as.CreatedAt}, Inserted: as.Inserted}
		if out.Inserted {
			q.emit(events.Tag(events.TagAdded, contactID, out.Tag))
		}
		return nil
	})
	return out, err
}

// Tags lists the tags assigned to a contact.
func (s *Store) Tags(ctx context.Context, wsID, contactID uuid.UUID) (rows []dbq.ListContactTagsRow, err error) {
	err = s.follow(ctx, wsID, contactID, func(id uuid.UUID) (err error) {
		rows, err = s.tags(ctx, wsID, id)
		return err
	})
	return rows, err
}

func (s *Store) tags(ctx context.Context, wsID, contactID uuid.UUID) ([]dbq.ListContactTagsRow, error) {
	if err := s.ContactExists(ctx, wsID, contactID); err != nil {
		return nil, err
	}
	return s.q.ListContactTags(ctx, dbq.ListContactTagsParams{WorkspaceID: wsID, ContactID: contactID})
}

// UnassignTag removes a tag (by its case-folded name) from a contact; removing one that is not
// assigned is not an error.
func (s *Store) UnassignTag(ctx context.Context, wsID, contactID uuid.UUID, nameKey string) error {
	return s.follow(ctx, wsID, contactID, func(id uuid.UUID) error { return s.unassignTag(ctx, wsID, id, nameKey) })
}

func (s *Store) unassignTag(ctx context.Context, wsID, contactID uuid.UUID, nameKey string) error {
	return s.write(ctx, s.main, "tag.unassign", wsID, func(q *txn) error {
		// Locked, so that a merge cannot take the contact's tags away between the look-up and
		// the delete (which would then remove nothing and answer as if it had).
		if _, err := lockContact(ctx, q.Queries, wsID, contactID); err != nil {
			return err
		}
		gone, err := q.UnassignTag(ctx, dbq.UnassignTagParams{WorkspaceID: wsID, ContactID: contactID, NameKey: nameKey})
		for _, t := range gone {
			q.emit(events.Tag(events.TagRemoved, contactID, dbq.ListContactTagsRow(t)))
		}
		return err
	})
}
