package store

import (
	"context"

	"github.com/google/uuid"

	dbq "github.com/wazapin/wazapin/gen/db"
)

// PutConsent records a contact's consent on one channel; inserted says whether it is new.
func (s *Store) PutConsent(ctx context.Context, p dbq.UpsertConsentParams) (row dbq.UpsertConsentRow, err error) {
	err = s.write(ctx, s.main, "consent.put", func(q *dbq.Queries) error {
		row, err = q.UpsertConsent(ctx, p)
		return missingContact(err, p.ContactID)
	})
	return row, err
}

// Consents lists a contact's consents.
func (s *Store) Consents(ctx context.Context, wsID, contactID uuid.UUID) ([]dbq.ListConsentsRow, error) {
	if err := s.ContactExists(ctx, wsID, contactID); err != nil {
		return nil, err
	}
	return s.q.ListConsents(ctx, dbq.ListConsentsParams{WorkspaceID: wsID, ContactID: contactID})
}
