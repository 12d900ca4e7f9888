package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/events"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/reach"
	"github.com/wazapin/wazapin/internal/wire"
)

// Suppress suppresses a channel for a contact and for its identifiers that reach the channel, so
// that the suppression outlives the contact. created says the contact showed no suppression on
// the channel before.
func (s *Store) Suppress(ctx context.Context, wsID, contactID uuid.UUID, channel, reason string, expiresAt *time.Time) (e reach.Entry, created bool, err error) {
	err = s.follow(ctx, wsID, contactID, func(id uuid.UUID) (err error) {
		e, created, err = s.suppress(ctx, wsID, id, channel, reason, expiresAt)
		return err
	})
	return e, created, err
}

func (s *Store) suppress(ctx context.Context, wsID, contactID uuid.UUID, channel, reason string, expiresAt *time.Time) (e reach.Entry, created bool, err error) {
	err = s.write(ctx, s.main, "suppression.put", wsID, func(q *txn) error {
		types, vals, err := subjectsOf(ctx, q.Queries, wsID, contactID, reach.IdentityTypes(channel))
		if err != nil {
			return err
		}
		before, err := suppressionsOf(ctx, q.Queries, wsID, contactID)
		if err != nil {
			return err
		}
		prev, had := entryFor(before, channel)
		if err := q.PutSuppressions(ctx, dbq.PutSuppressionsParams{
			WorkspaceID: wsID, Channel: channel, Types: types, Vals: vals, ContactID: contactID, Reason: reason, ExpiresAt: expiresAt,
		}); err != nil {
			return err
		}
		after, err := suppressionsOf(ctx, q.Queries, wsID, contactID)
		if err != nil {
			return err
		}
		e, _ = entryFor(after, channel)
		created = !had
		var was any
		if had {
			was = wire.Suppression(prev)
		}
		if ev, ok := events.Change(events.SuppressionAdded, ids.Format(ids.Contact, contactID), &contactID, was, wire.Suppression(e)); ok {
			q.emit(ev)
		}
		return nil
	})
	return e, created, err
}

// LiftSuppression records the lift of the suppressions of one channel that a contact and its
// identifiers hold, with an optional reason; lifting a lifted one changes nothing.
func (s *Store) LiftSuppression(ctx context.Context, wsID, contactID uuid.UUID, channel string, why *string) (e reach.Entry, err error) {
	err = s.follow(ctx, wsID, contactID, func(id uuid.UUID) (err error) {
		e, err = s.liftSuppression(ctx, wsID, id, channel, why)
		return err
	})
	return e, err
}

func (s *Store) liftSuppression(ctx context.Context, wsID, contactID uuid.UUID, channel string, why *string) (e reach.Entry, err error) {
	err = s.write(ctx, s.main, "suppression.lift", wsID, func(q *txn) error {
		types, vals, err := subjectsOf(ctx, q.Queries, wsID, contactID, reach.IdentityTypes(channel))
		if err != nil {
			return err
		}
		before, err := suppressionsOf(ctx, q.Queries, wsID, contactID)
		if err != nil {
			return err
		}
		prev, _ := entryFor(before, channel)
		for i := range types {
			if _, err := q.LiftSuppression(ctx, dbq.LiftSuppressionParams{
				WorkspaceID: wsID, SubjectType: types[i], Subject: vals[i], Channel: channel, LiftReason: why,
			}); err != nil {
				return err
			}
		}
		rows, err := suppressionsOf(ctx, q.Queries, wsID, contactID)
		if err != nil {
			return err
		}
		var ok bool
		if e, ok = entryFor(rows, channel); !ok {
			return apperr.NotFoundf("the contact has no suppression on %s", channel)
		}
		if prev.LiftedAt == nil && e.LiftedAt != nil {
			ev, _ := events.Change(events.SuppressionLifted, ids.Format(ids.Contact, contactID), &contactID, wire.Suppression(prev), wire.Suppression(e))
			q.emit(ev)
		}
		return nil
	})
	return e, err
}

// Suppressions lists, per channel, the suppression that speaks for a contact (see reach.Effective).
func (s *Store) Suppressions(ctx context.Context, wsID, contactID uuid.UUID) (rows []reach.Entry, err error) {
	err = s.follow(ctx, wsID, contactID, func(id uuid.UUID) (err error) {
		rows, err = s.suppressions(ctx, wsID, id)
		return err
	})
	return rows, err
}

func (s *Store) suppressions(ctx context.Context, wsID, contactID uuid.UUID) ([]reach.Entry, error) {
	if err := s.ContactExists(ctx, wsID, contactID); err != nil {
		return nil, err
	}
	rows, err := suppressionsOf(ctx, s.q, wsID, contactID)
	return reach.Effective(rows, time.Now()), err
}

func suppressionsOf(ctx context.Context, q *dbq.Queries, wsID, contactID uuid.UUID) ([]reach.Suppression, error) {
	rows, err := q.ContactSuppressions(ctx, dbq.ContactSuppressionsParams{WorkspaceID: wsID, ContactID: contactID, ContactRef: contactID.String()})
	out := make([]reach.Suppression, len(rows))
	for i, r := range rows {
		out[i] = reach.Suppression{
			Channel: r.Channel, Subject: reach.Subject{Type: r.SubjectType, Value: r.Subject}, Reason: r.Reason,
			ExpiresAt: r.ExpiresAt, LiftedAt: r.LiftedAt, LiftReason: r.LiftReason, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		}
	}
	return out, err
}

func entryFor(rows []reach.Suppression, channel string) (reach.Entry, bool) {
	for _, e := range reach.Effective(rows, time.Now()) {
		if e.Channel == channel {
			return e, true
		}
	}
	return reach.Entry{}, false
}

// lockContact locks a contact, so that its identities stay as they are until the transaction
// ends; 404 when there is no such contact.
func lockContact(ctx context.Context, q *dbq.Queries, wsID, contactID uuid.UUID) (dbq.Contact, error) {
	row, err := q.GetContactForUpdate(ctx, dbq.GetContactForUpdateParams{WorkspaceID: wsID, ID: contactID})
	if errors.Is(err, pgx.ErrNoRows) {
		return row, contactNotFound(contactID)
	}
	return row, err
}

// subjectsOf locks a contact and lists what suppressions and consents are kept against for it:
// the contact, and its identities of the types given (reach.IdentityTypes of a channel, or
// reach.SubjectTypes for all).
func subjectsOf(ctx context.Context, q *dbq.Queries, wsID, contactID uuid.UUID, reaching []string) (types, vals []string, err error) {
	if _, err := lockContact(ctx, q, wsID, contactID); err != nil {
		return nil, nil, err
	}
	types, vals = []string{reach.Contact}, []string{contactID.String()}
	if len(reaching) == 0 {
		return types, vals, nil
	}
	ids, err := q.ListContactIdentities(ctx, dbq.ListContactIdentitiesParams{WorkspaceID: wsID, ContactID: contactID})
	for _, i := range ids {
		if slices.Contains(reaching, i.Type) {
			types, vals = append(types, i.Type), append(vals, i.Value)
		}
	}
	return types, vals, err
}
