package store

import (
	"context"

	"github.com/google/uuid"

	dbq "github.com/wazapin/wazapin/gen/db"
)

// PutSuppression creates or replaces a contact's suppression on one channel.
func (s *Store) PutSuppression(ctx context.Context, p dbq.UpsertSuppressionParams) (row dbq.UpsertSuppressionRow, err error) {
	err = s.write(ctx, s.main, "suppression.put", func(q *dbq.Queries) error {
		row, err = q.UpsertSuppression(ctx, p)
		return missingContact(err, p.ContactID)
	})
	return row, err
}

// Suppressions lists a contact's suppressions.
func (s *Store) Suppressions(ctx context.Context, wsID, contactID uuid.UUID) ([]dbq.ListSuppressionsRow, error) {
	if err := s.ContactExists(ctx, wsID, contactID); err != nil {
		return nil, err
	}
	return s.q.ListSuppressions(ctx, dbq.ListSuppressionsParams{WorkspaceID: wsID, ContactID: contactID})
}
