package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/events"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/wire"
)

// takenError says an identity belongs to another contact.
type takenError struct {
	key   identity.Key
	owner uuid.UUID
}

func (e *takenError) Error() string {
	return fmt.Sprintf("%s %s belongs to contact %s", fieldOf(e.key), e.key.Value, ids.Format(ids.Contact, e.owner))
}

// conflict is the error a client gets for it.
func (e *takenError) conflict() error {
	c := apperr.Conflictf([]string{ids.Format(ids.Contact, e.owner)}, "%s", e.Error())
	c.Fields = []apperr.FieldError{{Field: fieldOf(e.key), Message: "belongs to another contact"}}
	return c
}

// fieldOf is the field of a contact that holds an identity of k's type.
func fieldOf(k identity.Key) string {
	switch k.Type {
	case identity.Phone:
		return "phone_number"
	case identity.ExternalID:
		return "external_id"
	}
	return k.Type
}

// attach gives identity k to a contact the transaction has locked: inserted is false when the
// contact held it already, and a *takenError says another contact holds it. Every writer attaches
// identities through here, in identity.Sorted order.
func attach(ctx context.Context, q *txn, wsID, contactID uuid.UUID, k identity.Key) (inserted bool, err error) {
	at, err := q.InsertIdentity(ctx, dbq.InsertIdentityParams{
		WorkspaceID: wsID, Type: k.Type, Source: k.Source, Value: k.Value, ContactID: contactID,
	})
	if err != nil {
		return false, err
	}
	if len(at) == 1 {
		q.emit(identityEvent(events.IdentityAttached, contactID, k, at[0]))
		return true, nil
	}
	owner, err := q.GetIdentityOwner(ctx, dbq.GetIdentityOwnerParams{WorkspaceID: wsID, Type: k.Type, Source: k.Source, Value: k.Value})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, pg.ErrRetry // the owner let go of it in between
	case err != nil:
		return false, err
	case owner != contactID:
		return false, &takenError{key: k, owner: owner}
	}
	return false, nil
}

// Identities lists every identity that leads to a contact.
func (s *Store) Identities(ctx context.Context, wsID, id uuid.UUID) (rows []dbq.ListContactIdentitiesRow, err error) {
	err = s.follow(ctx, wsID, id, func(id uuid.UUID) (err error) {
		rows, err = s.identities(ctx, wsID, id)
		return err
	})
	return rows, err
}

func (s *Store) identities(ctx context.Context, wsID, id uuid.UUID) ([]dbq.ListContactIdentitiesRow, error) {
	if err := s.ContactExists(ctx, wsID, id); err != nil {
		return nil, err
	}
	return s.q.ListContactIdentities(ctx, dbq.ListContactIdentitiesParams{WorkspaceID: wsID, ContactID: id})
}

// identityEvent is the event of identity k attaching to or detaching from a contact.
func identityEvent(typ string, contactID uuid.UUID, k identity.Key, createdAt time.Time) events.Event {
	return events.Identity(typ, contactID, wire.Identity(dbq.ListContactIdentitiesRow{
		Type: k.Type, Source: k.Source, Value: k.Value, CreatedAt: createdAt,
	}))
}
